//! Guest paths: reading them, and the per-mount dispatch of open, stat, readlink and statfs
//! after the walk ([`crate::vfs::resolve`]).
//!
//! Fast path: a plain path (no `.`/`..`, no doubled or trailing slash) whose filesystem has a
//! cheaper answer ([`Filesystem::fast_stat`]: the overlay, for a path nothing has changed)
//! skips the walk; the filesystem falls back to it if the host meets a symlink.
//!
//! [`Filesystem::fast_stat`]: crate::vfs::filesystem::Filesystem::fast_stat

use std::sync::Arc;

use snare_abi::file::{o, Stat, AT_FDCWD, S_IFDIR, S_IFMT, S_IFREG};
use snare_abi::Errno;

use crate::kernel::Task;
use crate::mm::GuestMemory;
use crate::vfs::filesystem::Caller;
use crate::vfs::mount::Mount;
use crate::vfs::perm::{Cred, Perm, MAY_EXEC, MAY_READ, MAY_WRITE, S_ISGID};
use crate::vfs::resolve::{components, Resolver, PATH_MAX};
use crate::vfs::FileDescription;

pub(crate) use crate::vfs::resolve::{normalize, Node};

/// The guest path argument at `addr`.
pub(super) fn path_arg(task: &Task, addr: u64) -> Result<Vec<u8>, Errno> {
    task.mm.read_cstr(addr, PATH_MAX).map_err(|e| {
        if e == Errno::ENAMETOOLONG {
            Errno::ENAMETOOLONG
        } else {
            Errno::EFAULT
        }
    })
}

/// `path` relative to `dirfd` (or the cwd; or the root, for an absolute one) as a path in
/// the mount namespace.
pub(super) fn absolute(task: &Task, dirfd: i32, path: &[u8]) -> Result<Vec<u8>, Errno> {
    if path.first() == Some(&b'/') {
        let root = task.fs.root();
        if &*root == b"/" {
            return Ok(path.to_vec());
        }
        return Ok([&root[..], path].concat());
    }
    let mut base = if dirfd == AT_FDCWD {
        task.fs.cwd()
    } else {
        let f = task.fds.get(dirfd)?;
        if f.stat()?.st_mode & S_IFMT != S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        f.path()
    };
    if base.last() != Some(&b'/') {
        base.push(b'/');
    }
    base.extend_from_slice(path);
    Ok(base)
}

/// The resolver for `task`: its mount namespace, itself as the caller, and the ids whose
/// search permission the walk checks (`cred`; none for a caller that may search every
/// directory).
pub(super) fn resolver_as(task: &Task, cred: Cred) -> Resolver<'_> {
    Resolver {
        mounts: &task.fs.mounts,
        cx: task,
        cred: (!cred.searches_all()).then_some(cred),
        root: task.fs.root(),
    }
}

/// [`resolver_as`] with the task's own (effective) ids.
pub(super) fn resolver(task: &Task) -> Resolver<'_> {
    resolver_as(task, task.cred())
}

/// Walks `abs` (see [`Resolver::resolve`]).
pub(super) fn resolve(task: &Task, abs: &[u8], follow: bool) -> Result<Node, Errno> {
    resolver(task).resolve(abs, follow)
}

/// Whether the host's own permission checks are the guest's: the fast path asks the host
/// directly, as the Sentry, so it is taken only when the guest has the Sentry's powers
/// over files: both root with CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (which the Sentry
/// keeps), or the Sentry's own ids without either. A guest root that lost them walks.
fn host_checks_suffice(task: &Task, cred: &Cred) -> bool {
    let dac = cred.overrides_dac() && cred.has(snare_abi::caps::Cap::DacReadSearch);
    if task.k.uid == 0 {
        cred.uid == 0 && dac
    } else {
        cred.uid == task.k.uid && cred.gid == task.k.gid && !cred.searches_all()
    }
}

/// The directory part of a walked path (`/` for `/x`).
pub(super) fn parent_of(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&b| b == b'/') {
        Some(0) | None => b"/",
        Some(i) => &path[..i],
    }
}

/// The mode and owner of the directory the walked path `path` lies in.
pub(super) fn parent_perm(task: &Task, path: &[u8]) -> Result<Perm, Errno> {
    let parent = parent_of(path);
    let pm = mount_of(task, parent);
    Ok(Perm::of(&pm.fs.stat(task, &pm.inner(parent), false)?))
}

/// Gives a file the caller just made at `path` the owner Linux would: the caller's ids,
/// the directory's group in a set-group-id directory (where a new directory is
/// set-group-id too). Filesystems make files as the sandbox's user; this corrects them.
pub(super) fn adopt(task: &Task, cred: &Cred, m: &Mount, path: &[u8]) {
    let Ok(dir) = parent_perm(task, path) else {
        return;
    };
    let inner = m.inner(path);
    let Ok(st) = m.fs.stat(task, &inner, false) else {
        return;
    };
    let (uid, gid) = cred.new_owner(&dir);
    if (st.st_uid, st.st_gid) != (uid, gid) {
        let _ = m.fs.chown(&inner, uid, gid);
    }
    let is_dir = st.st_mode & S_IFMT == S_IFDIR;
    if is_dir && dir.mode & S_ISGID != 0 && st.st_mode & S_ISGID == 0 {
        let _ = m.fs.chmod(&inner, (st.st_mode & 0o7777) | S_ISGID);
    }
}

/// The mount serving `path` (a walked guest path).
pub(super) fn mount_of(task: &Task, path: &[u8]) -> Arc<Mount> {
    task.fs.mounts.route(path)
}

/// A plain path (no `.`, `..`, repeated or trailing slash): the fast path may answer for it.
fn plain(abs: &[u8]) -> bool {
    abs.first() == Some(&b'/')
        && (abs.len() == 1 || !abs.ends_with(b"/"))
        && !abs.windows(2).any(|w| w == b"//")
        && !abs.split(|&b| b == b'/').any(|c| c == b"." || c == b"..")
}

/// Opens a guest path (`IN_OPEN` for inotify).
pub(super) fn open_path(
    task: &Task,
    abs: &[u8],
    flags: u32,
    mode: u32,
) -> Result<Arc<dyn FileDescription>, Errno> {
    open_as(task, abs, flags, mode, true)
}

/// Makes a regular file at `abs` as `mknod(2)` does: [`open_path`] with `O_CREAT|O_EXCL`,
/// without the open (no `IN_OPEN`).
pub(super) fn mknod_path(task: &Task, abs: &[u8], mode: u32) -> Result<(), Errno> {
    open_as(task, abs, o::CREAT | o::EXCL | o::WRONLY, mode, false).map(drop)
}

fn open_as(
    task: &Task,
    abs: &[u8],
    flags: u32,
    mode: u32,
    notify: bool,
) -> Result<Arc<dyn FileDescription>, Errno> {
    let creat = flags & o::CREAT != 0;
    let cred = task.cred();
    if !creat
        && flags & (o::ACCMODE | o::TRUNC) == o::RDONLY
        && plain(abs)
        && host_checks_suffice(task, &cred)
    {
        let m = mount_of(task, abs);
        if let Some(r) = m.fs.fast_open(&m.inner(abs), flags) {
            return r.inspect(|f| {
                if notify {
                    super::inotify::opened(task, abs, f, flags);
                }
            });
        }
    }
    let follow = flags & o::NOFOLLOW == 0 && !(creat && flags & o::EXCL != 0);
    let path = match resolver_as(task, cred.clone()).resolve(abs, follow)? {
        Node::Fd(n) => return reopen_fd(task, n, flags),
        Node::Path(p) => p,
    };
    if creat && abs.len() > 1 && abs.ends_with(b"/") {
        return Err(Errno::EISDIR);
    }
    let m = mount_of(task, &path);
    let inner = m.inner(&path);
    if let Some(e) = m.refusal() {
        // A read-only mount: nothing to create or write (what exists opens for reading).
        let writes = flags & o::ACCMODE != o::RDONLY || flags & o::TRUNC != 0;
        if e == Errno::EROFS && (writes || creat) && flags & o::PATH == 0 {
            return Err(match m.fs.stat(task, &inner, follow) {
                Ok(_) if creat && flags & o::EXCL != 0 => Errno::EEXIST,
                Ok(st) if st.st_mode & S_IFMT == S_IFDIR && writes => Errno::EISDIR,
                Err(Errno::ENOENT) if !creat => Errno::ENOENT,
                _ => Errno::EROFS,
            });
        }
    }
    // What is there already: for permission checks, a creation's owner, O_TRUNC's event (a
    // root's plain open doesn't ask).
    let existing = (creat || flags & o::TRUNC != 0 || !cred.overrides_dac())
        .then(|| m.fs.stat(task, &inner, follow));
    if let (false, Some(existing)) = (cred.overrides_dac(), &existing) {
        match existing {
            // O_EXCL: the open says EEXIST.
            Ok(_) if creat && flags & o::EXCL != 0 => {}
            Ok(st) if flags & o::PATH == 0 => {
                let mut mask = match flags & o::ACCMODE {
                    o::RDONLY => MAY_READ,
                    o::WRONLY => MAY_WRITE,
                    _ => MAY_READ | MAY_WRITE,
                };
                if flags & o::TRUNC != 0 {
                    mask |= MAY_WRITE;
                }
                cred.may(&Perm::of(st), mask)?;
            }
            Err(Errno::ENOENT) if creat => {
                cred.may(&parent_perm(task, &path)?, MAY_WRITE | MAY_EXEC)?;
            }
            _ => {}
        }
    }
    let file = m.fs.open(task, &inner, &path, flags, mode & 0o7777)?;
    let made = existing.as_ref().is_some_and(|e| e.is_err());
    if creat && made && flags & o::TMPFILE != o::TMPFILE {
        adopt(task, &cred, &m, &path);
        super::inotify::created(task, &path);
    }
    if notify {
        super::inotify::opened(task, &path, &file, flags);
    }
    let regular = |e: Result<Stat, Errno>| e.is_ok_and(|st| st.st_mode & S_IFMT == S_IFREG);
    if flags & o::TRUNC != 0 && existing.is_some_and(regular) {
        super::inotify::modified(&*file);
    }
    Ok(file)
}

/// Whether the guest path `abs` lies on a `nosuid` mount (its set-id bits don't count).
pub(super) fn nosuid(task: &Task, abs: &[u8]) -> bool {
    let walked = match resolve(task, abs, true) {
        Ok(Node::Path(p)) => p,
        _ => abs.to_vec(),
    };
    mount_of(task, &walked).flags & crate::vfs::mount::ms::NOSUID != 0
}

/// Opens a guest path to run it (execve, and its interpreters): execute permission instead
/// of read (`EACCES`), and none on a `noexec` mount.
pub(super) fn open_exec(task: &Task, abs: &[u8]) -> Result<Arc<dyn FileDescription>, Errno> {
    let cred = task.cred();
    if plain(abs) && host_checks_suffice(task, &cred) {
        let m = mount_of(task, abs);
        if m.flags & crate::vfs::mount::ms::NOEXEC == 0 {
            if let Some(r) = m.fs.fast_open(&m.inner(abs), o::RDONLY) {
                return r;
            }
        }
    }
    let path = match resolver_as(task, cred.clone()).resolve(abs, true)? {
        Node::Fd(n) => return reopen_fd(task, n, o::RDONLY),
        Node::Path(p) => p,
    };
    let m = mount_of(task, &path);
    let inner = m.inner(&path);
    if m.flags & crate::vfs::mount::ms::NOEXEC != 0 {
        m.fs.stat(task, &inner, true)?;
        return Err(Errno::EACCES);
    }
    if !cred.overrides_dac() {
        cred.may(&Perm::of(&m.fs.stat(task, &inner, true)?), MAY_EXEC)?;
    }
    m.fs.open(task, &inner, &path, o::RDONLY, 0)
}

/// `open` of `/proc/self/fd/N`: a new description of the file fd `N` refers to, opened again
/// by its path; files without one (anonymous, deleted) share fd `N`'s description.
fn reopen_fd(task: &Task, n: i32, flags: u32) -> Result<Arc<dyn FileDescription>, Errno> {
    thread_local! {
        static DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    }
    let f = task.fds.get(n)?;
    let path = f.path();
    // Devices and stdio (named /dev/std*, which lead back here) share the description.
    let pseudo = path.starts_with(b"/dev/") || path.starts_with(b"/proc/");
    if path.first() == Some(&b'/') && !path.ends_with(b"(deleted)") && !pseudo {
        let depth = DEPTH.with(|d| {
            d.set(d.get() + 1);
            d.get()
        });
        let r = if depth > 8 {
            Err(Errno::ELOOP)
        } else {
            open_path(task, &path, flags & !(o::CREAT | o::EXCL), 0)
        };
        DEPTH.with(|d| d.set(d.get() - 1));
        if let Ok(new) = r {
            return Ok(new);
        }
    }
    Ok(f)
}

/// `stat` (`follow`) or `lstat` of a guest path.
pub(super) fn stat_path(task: &Task, abs: &[u8], follow: bool) -> Result<Stat, Errno> {
    stat_path_as(task, abs, follow, task.cred())
}

/// [`stat_path`] with the walk's search permission checked for `cred`.
pub(super) fn stat_path_as(
    task: &Task,
    abs: &[u8],
    follow: bool,
    cred: Cred,
) -> Result<Stat, Errno> {
    if plain(abs) && host_checks_suffice(task, &cred) {
        let m = mount_of(task, abs);
        if let Some(r) = m.fs.fast_stat(&m.inner(abs), follow) {
            return r;
        }
    }
    match resolver_as(task, cred).resolve(abs, follow)? {
        Node::Fd(n) => task.fds.get(n)?.stat(),
        Node::Path(p) => stat_resolved(task, &p, follow),
    }
}

/// `stat` of a walked path (only procfs still has links to follow).
pub(super) fn stat_resolved(task: &Task, path: &[u8], follow: bool) -> Result<Stat, Errno> {
    let m = mount_of(task, path);
    m.fs.stat(task, &m.inner(path), follow)
}

/// `readlink` of a guest path.
pub(super) fn readlink_path(task: &Task, abs: &[u8]) -> Result<Vec<u8>, Errno> {
    let path = match resolve(task, abs, false)? {
        Node::Fd(_) => return Err(Errno::EINVAL),
        Node::Path(p) => p,
    };
    let m = mount_of(task, &path);
    m.fs.readlink(task, &m.inner(&path))
}

/// `statfs` of a guest path: the kernel's `struct statfs`, with the mount's flags.
pub(super) fn statfs_path(task: &Task, abs: &[u8]) -> Result<[u8; 120], Errno> {
    let path = match resolve(task, abs, true)? {
        Node::Fd(n) => return task.fds.get(n)?.statfs(),
        Node::Path(p) => p,
    };
    let m = mount_of(task, &path);
    let mut b = m.fs.statfs(task, &m.inner(&path))?;
    // f_flags: ST_VALID and the mount's flags (ST_RDONLY, ST_NOSUID, ... are MS_* bits).
    const ST_VALID: u64 = 0x20;
    let keep = crate::vfs::mount::ms::KEPT & !crate::vfs::mount::ms::STRICTATIME;
    b[80..88].copy_from_slice(&(ST_VALID | (m.flags & keep)).to_ne_bytes());
    Ok(b)
}

/// The walked path (last component not followed) of a path argument that names something to
/// change, and its mount. `dot` is the error for a last component of `.` or `..`.
pub(super) fn change_path(
    task: &Task,
    dirfd: i32,
    addr: u64,
    dot: Errno,
) -> Result<(Arc<Mount>, Vec<u8>), Errno> {
    let path = path_arg(task, addr)?;
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    if matches!(components(&path).next_back(), Some(b"." | b"..")) {
        return Err(dot);
    }
    change_abs(task, &absolute(task, dirfd, &path)?)
}

/// [`change_path`] of an absolute path.
pub(super) fn change_abs(task: &Task, abs: &[u8]) -> Result<(Arc<Mount>, Vec<u8>), Errno> {
    match resolve(task, abs, false)? {
        Node::Path(p) => Ok((mount_of(task, &p), p)),
        Node::Fd(_) => Err(Errno::EPERM),
    }
}

#[cfg(test)]
mod tests {
    use super::plain;

    #[test]
    fn plain_paths() {
        assert!(plain(b"/"));
        assert!(plain(b"/usr/lib"));
        assert!(!plain(b"/usr/"));
        assert!(!plain(b"/usr//lib"));
        assert!(!plain(b"/usr/./lib"));
        assert!(!plain(b"/usr/../lib"));
        assert!(!plain(b"usr"));
    }
}
