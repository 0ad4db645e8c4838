//! Extended attributes: what the name's prefix means, the bounded table a tmpfs inode keeps,
//! and the host files' own attributes for the overlay's lower layer and volumes.
//!
//! The syscalls (`syscalls/xattr.rs`) read the guest's arguments and check who may do what
//! (Linux's `xattr_permission`, with [`Namespace`]); a filesystem then answers through
//! [`super::filesystem::Filesystem::getxattr`] and its siblings. Filesystems that keep
//! attributes support the `user.`, `trusted.` and `security.` namespaces ([`supported`]);
//! `system.` (POSIX ACLs) and unknown prefixes are `EOPNOTSUPP`.
//!
//! Host files show only their `user.` attributes: `trusted.` and `security.` ones (SELinux
//! labels, file capabilities) are the host's business, and a guest may not set them on a
//! host file either.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::fcntl::OFlag;
use snare_abi::file::{S_IFDIR, S_IFMT, S_IFREG};

use snare_abi::file::xattr::{
    XATTR_CREATE, XATTR_NAME_MAX, XATTR_REPLACE, XATTR_SECURITY_PREFIX, XATTR_SIZE_MAX,
    XATTR_SYSTEM_PREFIX, XATTR_TRUSTED_PREFIX, XATTR_USER_PREFIX,
};
use snare_abi::Errno;

/// Which namespace an attribute name is in (by its prefix).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Namespace {
    /// `user.`: regular files and directories only; read and write permission on the file.
    User,
    /// `trusted.`: CAP_SYS_ADMIN (root) only.
    Trusted,
    /// `security.`: anyone reads, CAP_SYS_ADMIN (root) changes.
    Security,
    /// `system.`: POSIX ACLs, which no filesystem here keeps.
    System,
    /// Any other prefix: no filesystem supports it.
    Other,
}

impl Namespace {
    pub fn of(name: &[u8]) -> Namespace {
        if name.starts_with(XATTR_USER_PREFIX) {
            Namespace::User
        } else if name.starts_with(XATTR_TRUSTED_PREFIX) {
            Namespace::Trusted
        } else if name.starts_with(XATTR_SECURITY_PREFIX) {
            Namespace::Security
        } else if name.starts_with(XATTR_SYSTEM_PREFIX) {
            Namespace::System
        } else {
            Namespace::Other
        }
    }
}

/// The namespace of `name` if a filesystem keeping attributes takes it: `EOPNOTSUPP` for
/// `system.` and unknown prefixes, `EINVAL` for a prefix alone (`user.`), as Linux's
/// `xattr_resolve_name`.
pub fn supported(name: &[u8]) -> Result<Namespace, Errno> {
    let ns = Namespace::of(name);
    let prefix = match ns {
        Namespace::User => XATTR_USER_PREFIX,
        Namespace::Trusted => XATTR_TRUSTED_PREFIX,
        Namespace::Security => XATTR_SECURITY_PREFIX,
        Namespace::System | Namespace::Other => return Err(Errno::EOPNOTSUPP),
    };
    if name.len() == prefix.len() {
        return Err(Errno::EINVAL);
    }
    Ok(ns)
}

/// What one attribute costs its filesystem beyond its name and value (the map's node),
/// roughly: charged with them, so many empty attributes also run into the limits.
pub const ENTRY_COST: u64 = 64;

/// Most bytes (names, values and [`ENTRY_COST`] each) one inode's attributes may take:
/// room for one value of the largest size and more. Past it `ENOSPC`; the filesystem's own
/// size limit counts the same bytes.
pub const MAX_BYTES_PER_INODE: u64 = 2 * XATTR_SIZE_MAX as u64;

fn cost(name: &[u8], value: &[u8]) -> u64 {
    ENTRY_COST + name.len() as u64 + value.len() as u64
}

/// One inode's attributes, in name order, and the bytes they cost.
#[derive(Debug, Default)]
pub struct Xattrs {
    map: BTreeMap<Vec<u8>, Vec<u8>>,
    bytes: u64,
}

impl Xattrs {
    /// The bytes the attributes cost (what the filesystem charged for them).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn get(&self, name: &[u8]) -> Result<Vec<u8>, Errno> {
        self.map.get(name).cloned().ok_or(Errno::ENODATA)
    }

    pub fn names(&self) -> Vec<Vec<u8>> {
        self.map.keys().cloned().collect()
    }

    /// Sets `name` to `value` (`flags`: `XATTR_CREATE` → `EEXIST` if it exists,
    /// `XATTR_REPLACE` → `ENODATA` if not). Before anything changes, `room(n)` is asked for
    /// the `n` bytes the table grows by (it may refuse: `ENOSPC`); returns the bytes it
    /// shrank by, for the caller to release.
    pub fn set(
        &mut self,
        name: &[u8],
        value: &[u8],
        flags: u32,
        room: impl FnOnce(u64) -> Result<(), Errno>,
    ) -> Result<u64, Errno> {
        if name.is_empty() || name.len() > XATTR_NAME_MAX {
            return Err(Errno::ERANGE);
        }
        if value.len() > XATTR_SIZE_MAX {
            return Err(Errno::E2BIG);
        }
        let old = match self.map.get(name) {
            Some(_) if flags & XATTR_CREATE != 0 => return Err(Errno::EEXIST),
            Some(v) => cost(name, v),
            None if flags & XATTR_REPLACE != 0 => return Err(Errno::ENODATA),
            None => 0,
        };
        let new = cost(name, value);
        let total = self.bytes - old + new;
        if total > MAX_BYTES_PER_INODE {
            return Err(Errno::ENOSPC);
        }
        if new > old {
            room(new - old)?;
        }
        self.map.insert(name.to_vec(), value.to_vec());
        self.bytes = total;
        Ok(old.saturating_sub(new))
    }

    /// Removes `name` (`ENODATA` if absent); returns the bytes freed.
    pub fn remove(&mut self, name: &[u8]) -> Result<u64, Errno> {
        let v = self.map.remove(name).ok_or(Errno::ENODATA)?;
        let freed = cost(name, &v);
        self.bytes -= freed;
        Ok(freed)
    }
}

/// What the `f*xattr` calls can act on for the object an `O_PATH` fd found: the object
/// itself reopened read-only through its `self/fd` link in the held `/proc` (the kernel
/// follows the link to exactly that object), or `None` for anything but a regular file or a
/// directory, which Linux gives no `user.` attributes (a get is `ENODATA`, a change `EPERM`,
/// a list empty) and which reopening could block on (a FIFO) or refuse (a device).
fn reopen(fd: &OwnedFd) -> Result<Option<OwnedFd>, Errno> {
    let st = nix::sys::stat::fstat(fd).map_err(|e| Errno::new(e as i32))?;
    let fmt = st.st_mode & S_IFMT;
    if fmt != S_IFREG && fmt != S_IFDIR {
        return Ok(None);
    }
    let (proc, link) = snare_platform::host_proc::fd_link(fd.as_raw_fd())?;
    nix::fcntl::openat(
        proc,
        link.as_c_str(),
        OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOCTTY | OFlag::O_NONBLOCK,
        nix::sys::stat::Mode::empty(),
    )
    .map(Some)
    .map_err(|e| Errno::new(e as i32))
}

fn c_name(name: &[u8]) -> Result<CString, Errno> {
    CString::new(name).map_err(|_| Errno::EINVAL)
}

/// The `user.` attribute `name` of the host file `fd` finds (an `O_PATH` fd found
/// confined); other namespaces show nothing (`ENODATA`), without a host call (`ls -l` asks
/// every file for its SELinux label and ACL).
pub(crate) fn host_get(
    name: &[u8],
    fd: impl FnOnce() -> Result<OwnedFd, Errno>,
) -> Result<Vec<u8>, Errno> {
    if supported(name)? != Namespace::User {
        return Err(Errno::ENODATA);
    }
    match reopen(&fd()?)? {
        Some(f) => snare_platform::xattr::fget(f.as_fd(), &c_name(name)?),
        None => Err(Errno::ENODATA),
    }
}

/// The names of the `user.` attributes of the host file behind `fd`; a host filesystem
/// without attributes has none.
pub(crate) fn host_list(fd: &OwnedFd) -> Result<Vec<Vec<u8>>, Errno> {
    let Some(f) = reopen(fd)? else {
        return Ok(Vec::new());
    };
    let raw = match snare_platform::xattr::flist(f.as_fd()) {
        Err(Errno::EOPNOTSUPP) => return Ok(Vec::new()),
        r => r?,
    };
    Ok(raw
        .split(|&b| b == 0)
        .filter(|n| Namespace::of(n) == Namespace::User)
        .map(<[u8]>::to_vec)
        .collect())
}

/// Sets `user.` attribute `name` of the host file behind `fd`; other namespaces are not
/// the guest's to set on a host file (`EOPNOTSUPP`).
pub(crate) fn host_set(fd: &OwnedFd, name: &[u8], value: &[u8], flags: u32) -> Result<(), Errno> {
    if supported(name)? != Namespace::User {
        return Err(Errno::EOPNOTSUPP);
    }
    let f = reopen(fd)?.ok_or(Errno::EPERM)?;
    snare_platform::xattr::fset(f.as_fd(), &c_name(name)?, value, flags)
}

/// Removes `user.` attribute `name` of the host file behind `fd` (see [`host_set`]).
pub(crate) fn host_remove(fd: &OwnedFd, name: &[u8]) -> Result<(), Errno> {
    if supported(name)? != Namespace::User {
        return Err(Errno::EOPNOTSUPP);
    }
    let f = reopen(fd)?.ok_or(Errno::EPERM)?;
    snare_platform::xattr::fremove(f.as_fd(), &c_name(name)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(_: u64) -> Result<(), Errno> {
        Ok(())
    }

    #[test]
    fn namespaces() {
        assert_eq!(supported(b"user.a"), Ok(Namespace::User));
        assert_eq!(supported(b"trusted.a"), Ok(Namespace::Trusted));
        assert_eq!(supported(b"security.selinux"), Ok(Namespace::Security));
        assert_eq!(supported(b"user."), Err(Errno::EINVAL));
        assert_eq!(
            supported(b"system.posix_acl_access"),
            Err(Errno::EOPNOTSUPP)
        );
        assert_eq!(supported(b"foo.bar"), Err(Errno::EOPNOTSUPP));
        assert_eq!(supported(b"user"), Err(Errno::EOPNOTSUPP));
        assert_eq!(Namespace::of(b"system.x"), Namespace::System);
    }

    #[test]
    fn create_replace_remove() {
        let mut x = Xattrs::default();
        assert_eq!(
            x.set(b"user.a", b"1", XATTR_REPLACE, room),
            Err(Errno::ENODATA)
        );
        assert_eq!(x.set(b"user.a", b"1", XATTR_CREATE, room), Ok(0));
        assert_eq!(
            x.set(b"user.a", b"2", XATTR_CREATE, room),
            Err(Errno::EEXIST)
        );
        // Both flags: CREATE is asked first of a present name, REPLACE of an absent one.
        let both = XATTR_CREATE | XATTR_REPLACE;
        assert_eq!(x.set(b"user.a", b"2", both, room), Err(Errno::EEXIST));
        assert_eq!(x.set(b"user.b", b"2", both, room), Err(Errno::ENODATA));
        assert_eq!(x.set(b"user.a", b"22", XATTR_REPLACE, room), Ok(0));
        assert_eq!(x.get(b"user.a"), Ok(b"22".to_vec()));
        assert_eq!(x.set(b"user.e", b"", 0, room), Ok(0));
        assert_eq!(x.names(), vec![b"user.a".to_vec(), b"user.e".to_vec()]);
        assert_eq!(x.get(b"user.none"), Err(Errno::ENODATA));
        assert_eq!(x.remove(b"user.a"), Ok(ENTRY_COST + 6 + 2));
        assert_eq!(x.remove(b"user.a"), Err(Errno::ENODATA));
        assert_eq!(x.bytes(), ENTRY_COST + 6);
    }

    #[test]
    fn limits_and_accounting() {
        let mut x = Xattrs::default();
        assert_eq!(x.set(b"", b"v", 0, room), Err(Errno::ERANGE));
        assert_eq!(x.set(&[b'u'; 256], b"v", 0, room), Err(Errno::ERANGE));
        let big = vec![7u8; XATTR_SIZE_MAX + 1];
        assert_eq!(x.set(b"user.big", &big, 0, room), Err(Errno::E2BIG));
        // The largest value fits, and what the table grows by is asked for first.
        let mut asked = 0;
        let max = vec![1u8; XATTR_SIZE_MAX];
        let r = x.set(b"user.max", &max, 0, |n| {
            asked = n;
            Ok(())
        });
        assert_eq!(r, Ok(0));
        assert_eq!(asked, x.bytes());
        // A refusal changes nothing.
        let r = x.set(b"user.more", b"v", 0, |_| Err(Errno::ENOSPC));
        assert_eq!(r, Err(Errno::ENOSPC));
        assert_eq!(x.get(b"user.more"), Err(Errno::ENODATA));
        // Shrinking a value hands bytes back; nothing is asked.
        let r = x.set(b"user.max", b"s", 0, |_| panic!("asked to grow"));
        assert_eq!(r, Ok(XATTR_SIZE_MAX as u64 - 1));
        // Many small attributes stop at the per-inode bound.
        let mut n = 0;
        let err = loop {
            match x.set(format!("user.{n:06}").as_bytes(), &[0; 100], 0, room) {
                Ok(_) => n += 1,
                Err(e) => break e,
            }
        };
        assert_eq!(err, Errno::ENOSPC);
        assert!(x.bytes() <= MAX_BYTES_PER_INODE);
        assert!(n > 100);
    }
}
