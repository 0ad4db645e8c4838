//! Extended attributes: `getxattr`, `setxattr`, `listxattr`, `removexattr`, each also as
//! `l*` (a last symlink not followed) and `f*` (an open file).
//!
//! Arguments are read first, in Linux's order: the flags (`EINVAL`), the name (`ERANGE` when
//! empty or longer than 255 bytes), the value (`E2BIG` past 64 KiB); then the file is found,
//! a read-only mount refuses changes (`EROFS`), who may do what is decided here (Linux's
//! `xattr_permission`, with CAP_SYS_ADMIN for `trusted.` and `security.`), and the mount's filesystem keeps
//! the attributes ([`crate::vfs::xattr`]: tmpfs, the overlay, volumes).
//!
//! Deviations from Linux, for the next maintainer:
//! - The `f*` calls reach a file by the path it was opened by (as `fchmod` does): a file
//!   renamed or removed since is not found (`ENOENT`), or another file now at that path is
//!   reached instead. A file outside every filesystem (a pipe, a socket, an eventfd) keeps
//!   no attributes.
//! - /proc, /dev and /sys keep none (Linux's devtmpfs and sysfs do); host files show their
//!   `user.` ones only; no POSIX ACLs (`system.posix_acl_*` is `EOPNOTSUPP`);
//!   `security.capability` is kept as given, neither checked nor converted.
//! - `listxattr` hides `trusted.` names from callers other than root here, for every
//!   filesystem (on Linux each filesystem does).

use std::sync::Arc;

use snare_abi::caps::Cap;
use snare_abi::file::xattr::{
    XATTR_CREATE, XATTR_LIST_MAX, XATTR_NAME_MAX, XATTR_REPLACE, XATTR_SIZE_MAX,
};
use snare_abi::file::{o, Stat, AT_FDCWD, S_IFDIR, S_IFMT, S_IFREG};
use snare_abi::Errno;
use snare_syscalls_table::nr;

use super::arg::{check_flags, fd, len, u32_};
use super::path::{absolute, change_abs, mount_of, path_arg, resolve, stat_resolved, Node};
use super::Handler;
use crate::kernel::Task;
use crate::mm::GuestMemory;
use crate::vfs::filesystem::Caller;
use crate::vfs::mount::Mount;
use crate::vfs::perm::{Cred, Perm, MAY_READ, MAY_WRITE, S_ISVTX};
use crate::vfs::xattr::Namespace;

pub(super) const HANDLERS: &[(u32, Handler)] = &[
    (nr::GETXATTR, sys_getxattr),
    (nr::LGETXATTR, sys_lgetxattr),
    (nr::FGETXATTR, sys_fgetxattr),
    (nr::LISTXATTR, sys_listxattr),
    (nr::LLISTXATTR, sys_llistxattr),
    (nr::FLISTXATTR, sys_flistxattr),
    (nr::SETXATTR, sys_setxattr),
    (nr::LSETXATTR, sys_lsetxattr),
    (nr::FSETXATTR, sys_fsetxattr),
    (nr::REMOVEXATTR, sys_removexattr),
    (nr::LREMOVEXATTR, sys_lremovexattr),
    (nr::FREMOVEXATTR, sys_fremovexattr),
];

/// How a call names its file.
#[derive(Clone, Copy, Debug)]
enum By {
    /// A guest path; `follow`: a last symlink is followed.
    Path { addr: u64, follow: bool },
    /// An fd (`EBADF` for an `O_PATH` one, as Linux's `f*xattr`).
    Fd(i32),
}

/// The file a call acts on.
enum Target {
    /// A walked path and the mount serving it.
    Fs(Arc<Mount>, Vec<u8>),
    /// An open file in no filesystem (a pipe, a socket), with its `stat`.
    Anon(Stat),
}

impl Target {
    fn stat(&self, task: &Task) -> Result<Stat, Errno> {
        match self {
            Target::Fs(m, p) => m.fs.stat(task, &m.inner(p), false),
            Target::Anon(st) => Ok(*st),
        }
    }
}

fn find(task: &Task, by: By) -> Result<Target, Errno> {
    let (addr, follow) = match by {
        By::Fd(n) => return of_fd(task, n, true),
        By::Path { addr, follow } => (addr, follow),
    };
    let p = path_arg(task, addr)?;
    if p.is_empty() {
        return Err(Errno::ENOENT);
    }
    match resolve(task, &absolute(task, AT_FDCWD, &p)?, follow)? {
        Node::Path(p) => {
            // A missing last component: the walk allows it (for creation), we don't.
            stat_resolved(task, &p, false)?;
            Ok(Target::Fs(mount_of(task, &p), p))
        }
        // A /proc/self/fd link: the file behind it (O_PATH or not).
        Node::Fd(n) => of_fd(task, n, false),
    }
}

/// The file open as fd `n`, found again by its path; `direct` for the `f*` calls, which
/// refuse `O_PATH` fds.
fn of_fd(task: &Task, n: i32, direct: bool) -> Result<Target, Errno> {
    let f = task.fds.get(n)?;
    if direct && f.status_flags() & o::PATH != 0 {
        return Err(Errno::EBADF);
    }
    let path = f.path();
    if path.first() != Some(&b'/') {
        return Ok(Target::Anon(f.stat()?));
    }
    let (m, p) = change_abs(task, &path)?;
    Ok(Target::Fs(m, p))
}

/// The attribute name at `addr`: `ERANGE` when empty or longer than `XATTR_NAME_MAX`.
fn name_arg(task: &Task, addr: u64) -> Result<Vec<u8>, Errno> {
    let name = task
        .mm
        .read_cstr(addr, XATTR_NAME_MAX + 1)
        .map_err(|e| match e {
            Errno::ENAMETOOLONG => Errno::ERANGE,
            _ => Errno::EFAULT,
        })?;
    if name.is_empty() {
        return Err(Errno::ERANGE);
    }
    Ok(name)
}

/// Linux's `xattr_permission`, with the capability checks of its security hooks: whether
/// the caller may read (`!write`) or change attribute `name` of the file `st`.
fn permission(cred: &Cred, st: &Stat, name: &[u8], write: bool) -> Result<(), Errno> {
    let p = Perm::of(st);
    // What a caller who may not read an attribute of a namespace is told: it is not there.
    let denied = if write { Errno::EPERM } else { Errno::ENODATA };
    match Namespace::of(name) {
        // The filesystem decides (it keeps no ACLs: EOPNOTSUPP).
        Namespace::System => return Ok(()),
        // Anyone reads; changing needs CAP_SYS_ADMIN (commoncap's inode_setxattr).
        Namespace::Security if write && !cred.has(Cap::SysAdmin) => return Err(Errno::EPERM),
        Namespace::Security => return Ok(()),
        Namespace::Trusted if cred.has(Cap::SysAdmin) => return Ok(()),
        Namespace::Trusted => return Err(denied),
        Namespace::User => {
            let kind = st.st_mode & S_IFMT;
            if kind != S_IFREG && kind != S_IFDIR {
                return Err(denied);
            }
            // A sticky directory's attributes: its owner's (or root's) to change.
            if write && kind == S_IFDIR && p.mode & S_ISVTX != 0 && !cred.owns(&p) {
                return Err(Errno::EPERM);
            }
        }
        Namespace::Other => {}
    }
    cred.may(&p, if write { MAY_WRITE } else { MAY_READ })
}

/// Writes `data` to the guest buffer (`addr`, `size` bytes) as the get and list calls do:
/// size 0 asks for the length; a buffer too small is `ERANGE` (`E2BIG` if it holds `max`
/// bytes, the most Linux ever returns).
fn reply(task: &Task, addr: u64, size: u64, data: &[u8], max: usize) -> Result<u64, Errno> {
    let size = len(size)?;
    if size == 0 {
        return Ok(data.len() as u64);
    }
    if data.len() > size.min(max) {
        return Err(if size >= max {
            Errno::E2BIG
        } else {
            Errno::ERANGE
        });
    }
    if !data.is_empty() {
        task.mm.write(addr, data)?;
    }
    Ok(data.len() as u64)
}

fn do_getxattr(task: &Task, by: By, name: u64, value: u64, size: u64) -> Result<u64, Errno> {
    let name = name_arg(task, name)?;
    let target = find(task, by)?;
    permission(&task.cred(), &target.stat(task)?, &name, false)?;
    let v = match target {
        Target::Fs(m, p) => m.fs.getxattr(task, &m.inner(&p), &name)?,
        Target::Anon(_) => return Err(Errno::EOPNOTSUPP),
    };
    reply(task, value, size, &v, XATTR_SIZE_MAX)
}

/// Implements `getxattr(2)`.
fn sys_getxattr(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let by = By::Path {
        addr: a[0],
        follow: true,
    };
    do_getxattr(task, by, a[1], a[2], a[3])
}

/// Implements `lgetxattr(2)`.
fn sys_lgetxattr(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let by = By::Path {
        addr: a[0],
        follow: false,
    };
    do_getxattr(task, by, a[1], a[2], a[3])
}

/// Implements `fgetxattr(2)`.
fn sys_fgetxattr(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_getxattr(task, By::Fd(fd(a[0])), a[1], a[2], a[3])
}

fn do_listxattr(task: &Task, by: By, list: u64, size: u64) -> Result<u64, Errno> {
    let names = match find(task, by)? {
        Target::Fs(m, p) => m.fs.listxattr(task, &m.inner(&p))?,
        Target::Anon(_) => Vec::new(),
    };
    let root = task.cred().has(Cap::SysAdmin);
    let mut out = Vec::new();
    for n in names {
        if root || Namespace::of(&n) != Namespace::Trusted {
            out.extend_from_slice(&n);
            out.push(0);
        }
    }
    reply(task, list, size, &out, XATTR_LIST_MAX)
}

/// Implements `listxattr(2)`: the names, each NUL-terminated.
fn sys_listxattr(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let by = By::Path {
        addr: a[0],
        follow: true,
    };
    do_listxattr(task, by, a[1], a[2])
}

/// Implements `llistxattr(2)`.
fn sys_llistxattr(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let by = By::Path {
        addr: a[0],
        follow: false,
    };
    do_listxattr(task, by, a[1], a[2])
}

/// Implements `flistxattr(2)`.
fn sys_flistxattr(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_listxattr(task, By::Fd(fd(a[0])), a[1], a[2])
}

/// What `setxattr` and `removexattr` share once their arguments are read: the file, the
/// read-only check, the permission check; then `change` on the filesystem that keeps the
/// attribute.
fn do_change(
    task: &Task,
    by: By,
    name: &[u8],
    change: impl FnOnce(&Mount, &[u8]) -> Result<(), Errno>,
) -> Result<u64, Errno> {
    let target = find(task, by)?;
    if let Target::Fs(m, _) = &target {
        if m.refusal() == Some(Errno::EROFS) {
            return Err(Errno::EROFS);
        }
    }
    permission(&task.cred(), &target.stat(task)?, name, true)?;
    match target {
        // /proc and /dev take no changes, and keep no attributes.
        Target::Fs(m, _) if m.refusal().is_some() => Err(Errno::EOPNOTSUPP),
        Target::Fs(m, p) => change(&m, &m.inner(&p)).map(|()| 0),
        Target::Anon(_) => Err(Errno::EOPNOTSUPP),
    }
}

fn do_setxattr(
    task: &Task,
    by: By,
    name: u64,
    value: u64,
    size: u64,
    flags: u64,
) -> Result<u64, Errno> {
    let flags = check_flags(u32_(flags), XATTR_CREATE | XATTR_REPLACE)?;
    let name = name_arg(task, name)?;
    let size = len(size)?;
    if size > XATTR_SIZE_MAX {
        return Err(Errno::E2BIG);
    }
    let mut v = vec![0u8; size];
    if size > 0 {
        task.mm.read(value, &mut v)?;
    }
    do_change(task, by, &name, |m, inner| {
        m.fs.setxattr(inner, &name, &v, flags)
    })
}

/// Implements `setxattr(2)` (`XATTR_CREATE`, `XATTR_REPLACE`).
fn sys_setxattr(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let by = By::Path {
        addr: a[0],
        follow: true,
    };
    do_setxattr(task, by, a[1], a[2], a[3], a[4])
}

/// Implements `lsetxattr(2)`.
fn sys_lsetxattr(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let by = By::Path {
        addr: a[0],
        follow: false,
    };
    do_setxattr(task, by, a[1], a[2], a[3], a[4])
}

/// Implements `fsetxattr(2)`.
fn sys_fsetxattr(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_setxattr(task, By::Fd(fd(a[0])), a[1], a[2], a[3], a[4])
}

fn do_removexattr(task: &Task, by: By, name: u64) -> Result<u64, Errno> {
    let name = name_arg(task, name)?;
    do_change(task, by, &name, |m, inner| m.fs.removexattr(inner, &name))
}

/// Implements `removexattr(2)`.
fn sys_removexattr(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let by = By::Path {
        addr: a[0],
        follow: true,
    };
    do_removexattr(task, by, a[1])
}

/// Implements `lremovexattr(2)`.
fn sys_lremovexattr(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let by = By::Path {
        addr: a[0],
        follow: false,
    };
    do_removexattr(task, by, a[1])
}

/// Implements `fremovexattr(2)`.
fn sys_fremovexattr(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_removexattr(task, By::Fd(fd(a[0])), a[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(mode: u32, uid: u32) -> Stat {
        Stat {
            st_mode: mode,
            st_uid: uid,
            st_gid: uid,
            ..Stat::default()
        }
    }

    fn user() -> Cred {
        Cred {
            uid: 1000,
            gid: 1000,
            groups: vec![],
            caps: 0,
        }
    }

    #[test]
    fn xattr_permission_as_linux() {
        let (root, u) = (Cred::root(), user());
        let file = st(S_IFREG | 0o644, 0);
        let mine = st(S_IFREG | 0o600, 1000);
        let link = st(snare_abi::file::S_IFLNK | 0o777, 1000);
        let sticky = st(S_IFDIR | 0o1777, 0);
        // user.*: read and write permission on regular files and directories only.
        assert_eq!(permission(&u, &file, b"user.a", false), Ok(()));
        assert_eq!(permission(&u, &file, b"user.a", true), Err(Errno::EACCES));
        assert_eq!(permission(&u, &mine, b"user.a", true), Ok(()));
        assert_eq!(permission(&u, &link, b"user.a", false), Err(Errno::ENODATA));
        assert_eq!(permission(&root, &link, b"user.a", true), Err(Errno::EPERM));
        assert_eq!(permission(&u, &sticky, b"user.a", true), Err(Errno::EPERM));
        assert_eq!(permission(&root, &sticky, b"user.a", true), Ok(()));
        // trusted.*: root only; others are told there is nothing.
        assert_eq!(
            permission(&u, &mine, b"trusted.a", false),
            Err(Errno::ENODATA)
        );
        assert_eq!(permission(&u, &mine, b"trusted.a", true), Err(Errno::EPERM));
        assert_eq!(permission(&root, &link, b"trusted.a", true), Ok(()));
        // security.*: anyone reads, root changes; system.*: the filesystem decides.
        assert_eq!(permission(&u, &file, b"security.a", false), Ok(()));
        assert_eq!(
            permission(&u, &mine, b"security.a", true),
            Err(Errno::EPERM)
        );
        assert_eq!(permission(&u, &file, b"system.a", true), Ok(()));
        // Other names: the file's permission, then the filesystem (EOPNOTSUPP).
        assert_eq!(permission(&u, &file, b"foo.a", true), Err(Errno::EACCES));
    }
}
