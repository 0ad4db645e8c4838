//! Changing the tree: mkdir, rmdir, unlink, rename, link, symlink, truncate, chmod, chown,
//! utimensat, and the sync family. The overlay root and the tmpfs at /tmp take changes (the
//! overlay copies lower files up first); /proc, /dev and /sys don't. Renames and links
//! between mounts are `EXDEV`.

use std::sync::Arc;

use snare_abi::caps::Cap;
use snare_abi::file::{
    Timespec, AT_EMPTY_PATH, AT_FDCWD, AT_REMOVEDIR, AT_SYMLINK_FOLLOW, AT_SYMLINK_NOFOLLOW,
    UTIME_NOW, UTIME_OMIT,
};
use snare_abi::inotify::{IN_ACCESS, IN_ATTRIB, IN_MODIFY};
use snare_abi::Errno;
use snare_syscalls_table::nr;

use super::arg::{check_flags, fd, u32_};

use super::path::{
    absolute, adopt, change_abs, change_path, mount_of, parent_perm, path_arg, resolve,
    stat_resolved, Node,
};
use super::{inotify, Handler};
use crate::kernel::Task;
use crate::mm::GuestMemory;
use crate::vfs::filesystem::Caller;
use crate::vfs::mount::Mount;
use crate::vfs::perm::{Cred, Perm, MAY_EXEC, MAY_WRITE};
use crate::vfs::{AttrChange, FileDescription};

pub(super) const HANDLERS: &[(u32, Handler)] = &[
    (nr::MKDIR, sys_mkdir),
    (nr::MKDIRAT, sys_mkdirat),
    (nr::RMDIR, sys_rmdir),
    (nr::UNLINK, sys_unlink),
    (nr::UNLINKAT, sys_unlinkat),
    (nr::RENAME, sys_rename),
    (nr::RENAMEAT, sys_renameat),
    (nr::RENAMEAT2, sys_renameat2),
    (nr::SYMLINK, sys_symlink),
    (nr::SYMLINKAT, sys_symlinkat),
    (nr::LINK, sys_link),
    (nr::LINKAT, sys_linkat),
    (nr::TRUNCATE, sys_truncate),
    (nr::FTRUNCATE, sys_ftruncate),
    (nr::CHMOD, sys_chmod),
    (nr::FCHMOD, sys_fchmod),
    (nr::FCHMODAT, sys_fchmodat),
    (nr::UTIMENSAT, sys_utimensat),
    (nr::UTIME, sys_utime),
    (nr::UTIMES, sys_utimes),
    (nr::FUTIMESAT, sys_futimesat),
    (nr::CHOWN, sys_chown),
    (nr::LCHOWN, sys_lchown),
    (nr::FCHOWN, sys_fchown),
    (nr::FCHOWNAT, sys_fchownat),
    (nr::FSYNC, sys_fsync),
    (nr::FDATASYNC, sys_fsync),
    (nr::SYNCFS, sys_fsync),
    (nr::SYNC, sys_sync),
    (nr::FALLOCATE, sys_fallocate),
    (nr::MKNOD, sys_mknod),
    (nr::MKNODAT, sys_mknodat),
    (nr::FADVISE64, sys_fadvise64),
    (nr::READAHEAD, sys_readahead),
    (nr::SYNC_FILE_RANGE, sys_sync_file_range),
];

/// The error changing a path on a mount that takes no changes gives: `ENOENT` if it does
/// not exist, else the mount's refusal (`EROFS` read-only, `EPERM` for /proc and /dev).
fn refused(task: &Task, m: &Mount, path: &[u8]) -> Errno {
    match stat_resolved(task, path, false) {
        Err(e) => e,
        Ok(_) => m.refusal().unwrap_or(Errno::EPERM),
    }
}

/// [`refused`] for a change of a name in its directory (unlink, rmdir, rename, link): on a
/// read-only mount `EROFS` comes before the name is looked up, as on Linux.
fn refused_name(task: &Task, m: &Mount, path: &[u8]) -> Errno {
    match m.refusal() {
        Some(Errno::EROFS) => Errno::EROFS,
        _ => refused(task, m, path),
    }
}

/// The error creating `path` on a mount that takes no changes gives: `EEXIST` if it exists,
/// else `EROFS` on a read-only mount and `other` elsewhere (/proc, /dev).
fn no_create(task: &Task, m: &Mount, path: &[u8], other: Errno) -> Errno {
    match (stat_resolved(task, path, false), m.refusal()) {
        (Ok(_), _) => Errno::EEXIST,
        (Err(_), Some(Errno::EROFS)) => Errno::EROFS,
        (Err(_), _) => other,
    }
}

/// `EACCES` unless `cred` may make `p` in its directory (write and search permission).
/// An existing `p` passes: the change itself then says `EEXIST`, as Linux does first.
fn may_create(task: &Task, cred: &Cred, p: &[u8]) -> Result<(), Errno> {
    if cred.overrides_dac() || stat_resolved(task, p, false).is_ok() {
        return Ok(());
    }
    cred.may(&parent_perm(task, p)?, MAY_WRITE | MAY_EXEC)
}

/// Whether `cred` may remove `p` (or replace it, by rename): it must exist (`ENOENT`), its
/// directory be writable and searchable (`EACCES`), and in a sticky directory be the
/// caller's, or the directory be (`EPERM`).
fn may_delete(task: &Task, cred: &Cred, p: &[u8]) -> Result<(), Errno> {
    let victim = Perm::of(&stat_resolved(task, p, false)?);
    if cred.overrides_dac() && cred.has(Cap::Fowner) {
        return Ok(());
    }
    let dir = parent_perm(task, p)?;
    cred.may(&dir, MAY_WRITE | MAY_EXEC)?;
    if cred.sticky_ok(&dir, &victim) {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

fn mode(a: u64) -> u32 {
    u32_(a) & 0o7777
}

fn do_mkdir(task: &Task, dirfd: i32, addr: u64, mode: u32) -> Result<u64, Errno> {
    let (m, p) = change_path(task, dirfd, addr, Errno::EEXIST)?;
    if m.refusal().is_some() {
        return Err(no_create(task, &m, &p, Errno::EACCES));
    }
    let cred = task.cred();
    may_create(task, &cred, &p)?;
    m.fs.mkdir(task, &m.inner(&p), mode)?;
    adopt(task, &cred, &m, &p);
    inotify::created(task, &p);
    Ok(0)
}

/// `mknod(2)`: FIFOs and regular files; device nodes need privileges the sandbox doesn't
/// grant (EPERM), and so do socket nodes (sockets are bound, not made by mknod, in practice).
fn do_mknod(task: &Task, dirfd: i32, addr: u64, mode: u32) -> Result<u64, Errno> {
    use snare_abi::file::{S_IFIFO, S_IFMT, S_IFREG};
    let perm = mode & 0o7777;
    match mode & S_IFMT {
        0 | S_IFREG => {
            let (m, p) = change_path(task, dirfd, addr, Errno::EEXIST)?;
            if m.refusal().is_some() {
                return Err(no_create(task, &m, &p, Errno::EPERM));
            }
            super::path::mknod_path(task, &p, perm).map(|_| 0)
        }
        S_IFIFO => {
            let (m, p) = change_path(task, dirfd, addr, Errno::EEXIST)?;
            if m.refusal().is_some() {
                return Err(no_create(task, &m, &p, Errno::EPERM));
            }
            let cred = task.cred();
            may_create(task, &cred, &p)?;
            m.fs.mkfifo(task, &m.inner(&p), perm)?;
            adopt(task, &cred, &m, &p);
            inotify::created(task, &p);
            Ok(0)
        }
        0o020000 | 0o040000 | 0o060000 | 0o140000 => Err(Errno::EPERM),
        _ => Err(Errno::EINVAL),
    }
}

/// Implements `mknod(2)`.
fn sys_mknod(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_mknod(task, AT_FDCWD, a[0], u32_(a[1]))
}

/// Implements `mknodat(2)`.
fn sys_mknodat(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_mknod(task, fd(a[0]), a[1], u32_(a[2]))
}

/// Implements `mkdir(2)`.
fn sys_mkdir(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_mkdir(task, AT_FDCWD, a[0], mode(a[1]))
}

/// Implements `mkdirat(2)`.
fn sys_mkdirat(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_mkdir(task, fd(a[0]), a[1], mode(a[2]))
}

fn do_remove(task: &Task, dirfd: i32, addr: u64, dir: bool) -> Result<u64, Errno> {
    let dot = if dir { Errno::EINVAL } else { Errno::EISDIR };
    let (m, p) = change_path(task, dirfd, addr, dot)?;
    if m.is_root(&p) {
        // A mount point (its directory, or a file bind-mounted on one).
        let is_dir = stat_resolved(task, &p, false)?.st_mode & snare_abi::file::S_IFMT
            == snare_abi::file::S_IFDIR;
        return Err(if dir || !is_dir {
            Errno::EBUSY
        } else {
            Errno::EISDIR
        });
    }
    if m.refusal().is_some() {
        return Err(refused_name(task, &m, &p));
    }
    may_delete(task, &task.cred(), &p)?;
    let inner = m.inner(&p);
    let removal = inotify::removing(task, &p);
    if dir {
        m.fs.rmdir(&inner)?;
    } else {
        m.fs.unlink(&inner)?;
    }
    inotify::removed(removal);
    Ok(0)
}

/// Implements `rmdir(2)`.
fn sys_rmdir(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_remove(task, AT_FDCWD, a[0], true)
}

/// Implements `unlink(2)`.
fn sys_unlink(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_remove(task, AT_FDCWD, a[0], false)
}

/// Implements `unlinkat(2)` (with AT_REMOVEDIR: rmdir).
fn sys_unlinkat(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let flags = check_flags(u32_(a[2]), AT_REMOVEDIR)?;
    do_remove(task, fd(a[0]), a[1], flags & AT_REMOVEDIR != 0)
}

fn do_rename(
    task: &Task,
    ofd: i32,
    old: u64,
    nfd: i32,
    new: u64,
    flags: u32,
) -> Result<u64, Errno> {
    use snare_abi::file::{RENAME_EXCHANGE, RENAME_NOREPLACE};
    let flags = check_flags(flags, RENAME_NOREPLACE | RENAME_EXCHANGE)?;
    if flags == RENAME_NOREPLACE | RENAME_EXCHANGE {
        return Err(Errno::EINVAL);
    }
    let (om, o) = change_path(task, ofd, old, Errno::EBUSY)?;
    let (nm, n) = change_path(task, nfd, new, Errno::EBUSY)?;
    // A mount point (the name, in the directory it is mounted on) doesn't move or get
    // replaced.
    if om.is_root(&o) || nm.is_root(&n) {
        stat_resolved(task, &o, false)?;
        return Err(Errno::EBUSY);
    }
    if !Arc::ptr_eq(&om, &nm) {
        // Different mounts (after checking the source exists).
        stat_resolved(task, &o, false)?;
        return Err(Errno::EXDEV);
    }
    if om.refusal().is_some() {
        return Err(refused_name(task, &om, &o));
    }
    let cred = task.cred();
    may_delete(task, &cred, &o)?;
    if stat_resolved(task, &n, false).is_ok() {
        may_delete(task, &cred, &n)?;
    } else {
        may_create(task, &cred, &n)?;
    }
    let mv = inotify::moving(task, &o, &n, flags & RENAME_EXCHANGE != 0);
    om.fs.rename(&om.inner(&o), &om.inner(&n), flags)?;
    inotify::moved(mv);
    Ok(0)
}

/// Implements `rename(2)`.
fn sys_rename(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_rename(task, AT_FDCWD, a[0], AT_FDCWD, a[1], 0)
}

/// Implements `renameat(2)`.
fn sys_renameat(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_rename(task, fd(a[0]), a[1], fd(a[2]), a[3], 0)
}

/// Implements `renameat2(2)` (RENAME_NOREPLACE, RENAME_EXCHANGE).
fn sys_renameat2(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_rename(task, fd(a[0]), a[1], fd(a[2]), a[3], u32_(a[4]))
}

fn do_symlink(task: &Task, target: u64, dirfd: i32, path: u64) -> Result<u64, Errno> {
    let target = path_arg(task, target)?;
    if target.is_empty() {
        return Err(Errno::ENOENT);
    }
    let (m, p) = change_path(task, dirfd, path, Errno::EEXIST)?;
    if m.refusal().is_some() {
        return Err(match m.refusal() {
            Some(Errno::EROFS) => no_create(task, &m, &p, Errno::EROFS),
            _ => Errno::EACCES,
        });
    }
    let cred = task.cred();
    may_create(task, &cred, &p)?;
    m.fs.symlink(&target, &m.inner(&p))?;
    adopt(task, &cred, &m, &p);
    inotify::created(task, &p);
    Ok(0)
}

/// Implements `symlink(2)`.
fn sys_symlink(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_symlink(task, a[0], AT_FDCWD, a[1])
}

/// Implements `symlinkat(2)`.
fn sys_symlinkat(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_symlink(task, a[0], fd(a[1]), a[2])
}

fn do_link(task: &Task, ofd: i32, old: u64, nfd: i32, new: u64, flags: u32) -> Result<u64, Errno> {
    let flags = check_flags(flags, AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)?;
    // The source: a walked path, or an open file (`AT_EMPTY_PATH`, `/proc/self/fd/N`).
    let file = if flags & AT_EMPTY_PATH != 0 && path_arg(task, old)?.is_empty() {
        Some(task.fds.get(ofd)?)
    } else if flags & AT_SYMLINK_FOLLOW != 0 {
        let p = path_arg(task, old)?;
        if p.is_empty() {
            return Err(Errno::ENOENT);
        }
        match resolve(task, &absolute(task, ofd, &p)?, true)? {
            Node::Path(p) => return link_paths(task, (mount_of(task, &p), p), nfd, new),
            Node::Fd(n) => Some(task.fds.get(n)?),
        }
    } else {
        None
    };
    let Some(f) = file else {
        let src = change_path(task, ofd, old, Errno::EPERM)?;
        return link_paths(task, src, nfd, new);
    };
    let path = f.path();
    if !path.ends_with(b"(deleted)") {
        return link_paths(task, change_abs(task, &path)?, nfd, new);
    }
    // A file without a name (O_TMPFILE, or unlinked): its filesystem links the inode.
    let (nm, n) = change_path(task, nfd, new, Errno::EEXIST)?;
    if nm.refusal().is_some() {
        return Err(no_create(task, &nm, &n, Errno::EPERM));
    }
    may_create(task, &task.cred(), &n)?;
    nm.fs.link_file(&*f, &nm.inner(&n))?;
    Ok(0)
}

/// `link` of the walked path `o` on mount `om` at `new`.
fn link_paths(
    task: &Task,
    (ok, o): (Arc<Mount>, Vec<u8>),
    nfd: i32,
    new: u64,
) -> Result<u64, Errno> {
    let (nm, n) = change_path(task, nfd, new, Errno::EEXIST)?;
    if !Arc::ptr_eq(&ok, &nm) {
        stat_resolved(task, &o, false)?;
        return Err(Errno::EXDEV);
    }
    if ok.refusal().is_some() {
        return Err(refused_name(task, &ok, &o));
    }
    may_create(task, &task.cred(), &n)?;
    ok.fs.link(&ok.inner(&o), &ok.inner(&n))?;
    inotify::linked(task, &n);
    Ok(0)
}

/// Implements `link(2)`.
fn sys_link(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_link(task, AT_FDCWD, a[0], AT_FDCWD, a[1], 0)
}

/// Implements `linkat(2)` (AT_SYMLINK_FOLLOW, AT_EMPTY_PATH).
fn sys_linkat(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_link(task, fd(a[0]), a[1], fd(a[2]), a[3], u32_(a[4]))
}

/// The walked path of `dirfd`+`addr` for an attribute change: symlinks followed unless
/// `nofollow`; an empty path (with `empty_ok`) or a NULL `addr` means the fd itself.
fn attr_path(
    task: &Task,
    dirfd: i32,
    addr: u64,
    nofollow: bool,
    empty_ok: bool,
) -> Result<(Arc<Mount>, Vec<u8>), Errno> {
    let p = if addr == 0 {
        Vec::new()
    } else {
        path_arg(task, addr)?
    };
    if p.is_empty() {
        if addr != 0 && !empty_ok {
            return Err(Errno::ENOENT);
        }
        let path = if dirfd == AT_FDCWD {
            task.fs.cwd()
        } else {
            task.fds.get(dirfd)?.path()
        };
        return change_abs(task, &path);
    }
    match resolve(task, &absolute(task, dirfd, &p)?, !nofollow)? {
        Node::Path(p) => {
            // A missing last component: the walk allows it (for creation), we don't.
            stat_resolved(task, &p, false)?;
            Ok((mount_of(task, &p), p))
        }
        Node::Fd(n) => change_abs(task, &task.fds.get(n)?.path()),
    }
}

/// Implements `truncate(2)`.
fn sys_truncate(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let len = i64::try_from(a[1]).map_err(|_| Errno::EINVAL)? as u64;
    let (m, p) = attr_path(task, AT_FDCWD, a[0], false, false)?;
    match m.refusal() {
        Some(Errno::EROFS) => return Err(Errno::EROFS),
        Some(_) => return Err(Errno::EACCES),
        None => {}
    }
    let inner = m.inner(&p);
    let st = m.fs.stat(task, &inner, false)?;
    task.cred().may(&Perm::of(&st), MAY_WRITE)?;
    grow_ok(task, &st, len)?;
    m.fs.truncate(&inner, len)?;
    inotify::changed(task, &p, IN_MODIFY);
    Ok(0)
}

/// Implements `ftruncate(2)`.
fn sys_ftruncate(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let len = i64::try_from(a[1]).map_err(|_| Errno::EINVAL)? as u64;
    let file = task.fds.get(fd(a[0]))?;
    if let Ok(st) = file.stat() {
        grow_ok(task, &st, len)?;
    }
    file.truncate(len)?;
    inotify::modified(&*file);
    Ok(0)
}

/// RLIMIT_FSIZE for a regular file growing to `size` (truncate, fallocate): SIGXFSZ and
/// EFBIG past the limit (see `kernel::rlimits::fsize_check`).
fn grow_ok(task: &Task, st: &snare_abi::file::Stat, size: u64) -> Result<(), Errno> {
    let regular = st.st_mode & snare_abi::file::S_IFMT == snare_abi::file::S_IFREG;
    if regular && size > u64::try_from(st.st_size).unwrap_or(0) {
        crate::kernel::rlimits::fsize_check(task, size, 0)?;
    }
    Ok(())
}

/// The mode and owner of `inner` on `m`, for a permission check of a change of its
/// attributes (`None` for a caller with CAP_CHOWN, CAP_FOWNER and CAP_FSETID: nothing to
/// check).
fn perm_for(task: &Task, cred: &Cred, m: &Mount, inner: &[u8]) -> Result<Option<Perm>, Errno> {
    if [Cap::Chown, Cap::Fowner, Cap::Fsetid]
        .iter()
        .all(|&c| cred.has(c))
    {
        return Ok(None);
    }
    Ok(Some(Perm::of(&m.fs.stat(task, inner, false)?)))
}

/// `chmod` (see [`Cred::chmod_mode`]).
fn do_chmod(task: &Task, m: &Mount, p: &[u8], mut mode: u32) -> Result<u64, Errno> {
    if m.refusal().is_some() {
        return Err(refused(task, m, p));
    }
    let inner = m.inner(p);
    let cred = task.cred();
    if let Some(st) = perm_for(task, &cred, m, &inner)? {
        mode = cred.chmod_mode(&st, mode)?;
    }
    m.fs.chmod(&inner, mode)?;
    inotify::changed(task, p, IN_ATTRIB);
    Ok(0)
}

/// Implements `chmod(2)`.
fn sys_chmod(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let (m, p) = attr_path(task, AT_FDCWD, a[0], false, false)?;
    do_chmod(task, &m, &p, mode(a[1]))
}

/// Implements `fchmod(2)` through the fd's path.
fn sys_fchmod(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let f = task.fds.get(fd(a[0]))?;
    if unnamed(&*f) {
        return fd_attr(task, &*f, AttrChange::Mode(mode(a[1])));
    }
    let path = f.path();
    let (m, p) = change_abs(task, &path)?;
    do_chmod(task, &m, &p, mode(a[1]))
}

/// Implements `fchmodat(2)` (no flags: Linux's `fchmodat` has none).
fn sys_fchmodat(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let (m, p) = attr_path(task, fd(a[0]), a[1], false, false)?;
    do_chmod(task, &m, &p, mode(a[2]))
}

/// `chown` (see [`Cred::may_chown`]).
fn do_chown(task: &Task, m: &Mount, p: &[u8], uid: u64, gid: u64) -> Result<u64, Errno> {
    let (uid, gid) = (uid as u32, gid as u32);
    if m.refusal().is_some() {
        return Err(refused(task, m, p));
    }
    let inner = m.inner(p);
    let cred = task.cred();
    if let Some(st) = perm_for(task, &cred, m, &inner)? {
        cred.may_chown(&st, uid, gid)?;
    }
    m.fs.chown(&inner, uid, gid)?;
    inotify::changed(task, p, IN_ATTRIB);
    Ok(0)
}

/// Implements `chown(2)` (`-1` leaves an id alone; see [`Cred::may_chown`]).
fn sys_chown(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let (m, p) = attr_path(task, AT_FDCWD, a[0], false, false)?;
    do_chown(task, &m, &p, a[1], a[2])
}

/// Implements `lchown(2)` (see `sys_chown`).
fn sys_lchown(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let (m, p) = attr_path(task, AT_FDCWD, a[0], true, false)?;
    do_chown(task, &m, &p, a[1], a[2])
}

/// Implements `fchown(2)` (see `sys_chown`).
fn sys_fchown(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let f = task.fds.get(fd(a[0]))?;
    if unnamed(&*f) {
        return fd_attr(task, &*f, AttrChange::Owner(a[1] as u32, a[2] as u32));
    }
    let path = f.path();
    let (m, p) = change_abs(task, &path)?;
    do_chown(task, &m, &p, a[1], a[2])
}

/// Implements `fchownat(2)` (AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH; see `sys_chown`).
fn sys_fchownat(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let flags = check_flags(u32_(a[4]), AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)?;
    let (m, p) = attr_path(
        task,
        fd(a[0]),
        a[1],
        flags & AT_SYMLINK_NOFOLLOW != 0,
        flags & AT_EMPTY_PATH != 0,
    )?;
    do_chown(task, &m, &p, a[2], a[3])
}

/// Implements `utimensat(2)` (UTIME_NOW, UTIME_OMIT; a NULL path means the fd itself).
fn sys_utimensat(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let flags = check_flags(u32_(a[3]), AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)?;
    // The fd itself (a NULL path, or an empty one with AT_EMPTY_PATH) when it has no path.
    let itself = a[1] == 0 || (flags & AT_EMPTY_PATH != 0 && path_arg(task, a[1])?.is_empty());
    if itself && fd(a[0]) != AT_FDCWD {
        let f = task.fds.get(fd(a[0]))?;
        if unnamed(&*f) {
            let (atime, mtime) = if a[2] == 0 {
                (None, None)
            } else {
                let at: Timespec = task.mm.read_val(a[2])?;
                let mt: Timespec = task.mm.read_val(a[2].wrapping_add(16))?;
                (Some((at.tv_sec, at.tv_nsec)), Some((mt.tv_sec, mt.tv_nsec)))
            };
            return fd_attr(task, &*f, AttrChange::Times(atime, mtime));
        }
    }
    let (m, p) = attr_path(
        task,
        fd(a[0]),
        a[1],
        flags & AT_SYMLINK_NOFOLLOW != 0,
        flags & AT_EMPTY_PATH != 0,
    )?;
    // NULL times: both now. Otherwise each timespec as given; the tmpfs reads UTIME_NOW
    // and UTIME_OMIT out of the nanoseconds.
    let (atime, mtime) = if a[2] == 0 {
        (None, None)
    } else {
        let at: Timespec = task.mm.read_val(a[2])?;
        let mt: Timespec = task.mm.read_val(a[2].wrapping_add(16))?;
        (Some((at.tv_sec, at.tv_nsec)), Some((mt.tv_sec, mt.tv_nsec)))
    };
    do_utimens(task, &m, &p, atime, mtime)
}

/// The common part of the utime family: `None` is now; `UTIME_NOW`/`UTIME_OMIT` ride in
/// the nanoseconds.
fn do_utimens(
    task: &Task,
    m: &Mount,
    p: &[u8],
    atime: Option<(i64, i64)>,
    mtime: Option<(i64, i64)>,
) -> Result<u64, Errno> {
    if m.refusal().is_some() {
        return Err(refused(task, m, p));
    }
    valid_times(atime, mtime)?;
    let inner = m.inner(p);
    let cred = task.cred();
    if let Some(st) = perm_for(task, &cred, m, &inner)? {
        cred.may_set_times(&st, atime, mtime)?;
    }
    m.fs.utimens(&inner, atime, mtime)?;
    let omit = |t: Option<(i64, i64)>| t.is_some_and(|(_, ns)| ns == UTIME_OMIT);
    // Linux's fsnotify_change: both times are an attribute change, one alone an access or a
    // modification.
    match (omit(atime), omit(mtime)) {
        (false, false) => inotify::changed(task, p, IN_ATTRIB),
        (false, true) => inotify::changed(task, p, IN_ACCESS),
        (true, false) => inotify::changed(task, p, IN_MODIFY),
        (true, true) => {}
    }
    Ok(0)
}

/// `EINVAL` for a time whose nanoseconds are neither in 0..10⁹ nor `UTIME_NOW`/`UTIME_OMIT`.
fn valid_times(atime: Option<(i64, i64)>, mtime: Option<(i64, i64)>) -> Result<(), Errno> {
    let ok = |(_, ns): (i64, i64)| {
        ns == UTIME_NOW || ns == UTIME_OMIT || (0..1_000_000_000).contains(&ns)
    };
    if [atime, mtime].into_iter().flatten().all(ok) {
        Ok(())
    } else {
        Err(Errno::EINVAL)
    }
}

/// Implements `utime(2)`: `struct utimbuf` {actime, modtime} in seconds, or NULL for now.
fn sys_utime(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let (m, p) = attr_path(task, AT_FDCWD, a[0], false, false)?;
    let times = if a[1] == 0 {
        (None, None)
    } else {
        let at: i64 = task.mm.read_val(a[1])?;
        let mt: i64 = task.mm.read_val(a[1].wrapping_add(8))?;
        (Some((at, 0)), Some((mt, 0)))
    };
    do_utimens(task, &m, &p, times.0, times.1)
}

/// Two `struct timeval`s at `addr` as (seconds, nanoseconds); NULL for now. `EINVAL` for
/// microseconds outside 0..1,000,000.
fn timevals(task: &Task, addr: u64) -> Result<[Option<(i64, i64)>; 2], Errno> {
    if addr == 0 {
        return Ok([None, None]);
    }
    let mut out = [None, None];
    for (i, t) in out.iter_mut().enumerate() {
        let at = addr.wrapping_add(16 * i as u64);
        let sec: i64 = task.mm.read_val(at)?;
        let usec: i64 = task.mm.read_val(at.wrapping_add(8))?;
        if !(0..1_000_000).contains(&usec) {
            return Err(Errno::EINVAL);
        }
        *t = Some((sec, usec * 1000));
    }
    Ok(out)
}

/// Implements `utimes(2)` (`struct timeval[2]`, or NULL for now).
fn sys_utimes(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let [at, mt] = timevals(task, a[1])?;
    let (m, p) = attr_path(task, AT_FDCWD, a[0], false, false)?;
    do_utimens(task, &m, &p, at, mt)
}

/// Implements `futimesat(2)`: `utimes` relative to a directory fd.
fn sys_futimesat(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let [at, mt] = timevals(task, a[2])?;
    let (m, p) = attr_path(task, fd(a[0]), a[1], false, false)?;
    do_utimens(task, &m, &p, at, mt)
}

/// Implements `fsync(2)`, `fdatasync(2)`, `syncfs(2)`: the guest's files live in memory or
/// are read-only, so there is nothing to write back.
fn sys_fsync(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    task.fds.get(fd(a[0]))?;
    Ok(0)
}

/// Implements `sync(2)`.
fn sys_sync(_task: &mut Task, _a: [u64; 6]) -> Result<u64, Errno> {
    Ok(0)
}

/// Implements `fallocate(2)`: mode 0, KEEP_SIZE, PUNCH_HOLE|KEEP_SIZE, ZERO_RANGE on files
/// that can change (tmpfs, the overlay's copied-up files); ESPIPE on pipes.
fn sys_fallocate(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let (mode, off, len) = (a[1] as u32, a[2] as i64, a[3] as i64);
    if off < 0 || len <= 0 {
        return Err(Errno::EINVAL);
    }
    if off.checked_add(len).is_none() {
        return Err(Errno::EFBIG);
    }
    let file = task.fds.get(fd(a[0]))?;
    let st = file.stat()?;
    match st.st_mode & snare_abi::file::S_IFMT {
        snare_abi::file::S_IFIFO => return Err(Errno::ESPIPE),
        snare_abi::file::S_IFREG | snare_abi::file::S_IFDIR => {}
        _ => return Err(Errno::ENODEV),
    }
    const FALLOC_FL_KEEP_SIZE: u32 = 1;
    if mode & FALLOC_FL_KEEP_SIZE == 0 {
        grow_ok(task, &st, (off + len) as u64)?;
    }
    file.allocate(mode, off as u64, len as u64)?;
    inotify::modified(&*file);
    Ok(0)
}

/// Implements `fadvise64(2)`: advice is validated and accepted (the page cache is the
/// Sentry's).
fn sys_fadvise64(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let file = task.fds.get(fd(a[0]))?;
    if (a[2] as i64) < 0 || a[3] > 5 {
        return Err(Errno::EINVAL);
    }
    if file.stat()?.st_mode & snare_abi::file::S_IFMT == snare_abi::file::S_IFIFO {
        return Err(Errno::ESPIPE);
    }
    Ok(0)
}

/// Implements `readahead(2)`: accepted for regular files.
fn sys_readahead(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let file = task.fds.get(fd(a[0]))?;
    if file.stat()?.st_mode & snare_abi::file::S_IFMT != snare_abi::file::S_IFREG {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

/// Implements `sync_file_range(2)`: nothing to write back; flags validated.
fn sys_sync_file_range(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let file = task.fds.get(fd(a[0]))?;
    if (a[1] as i64) < 0 || (a[2] as i64) < 0 || a[3] & !7 != 0 {
        return Err(Errno::EINVAL);
    }
    if file.stat()?.st_mode & snare_abi::file::S_IFMT == snare_abi::file::S_IFIFO {
        return Err(Errno::ESPIPE);
    }
    Ok(0)
}

/// Whether an open file has no path to change it by (unlinked, a memfd, `O_TMPFILE`).
fn unnamed(f: &dyn FileDescription) -> bool {
    f.path().ends_with(b"(deleted)")
}

/// `fchmod`/`fchown`/`futimens` of a file without a path: the same permission rules as by
/// path, then the change on the open file's inode.
fn fd_attr(task: &Task, f: &dyn FileDescription, change: AttrChange) -> Result<u64, Errno> {
    let st = Perm::of(&f.stat()?);
    let cred = task.cred();
    let change = match change {
        AttrChange::Mode(m) => AttrChange::Mode(cred.chmod_mode(&st, m)?),
        AttrChange::Owner(uid, gid) => {
            cred.may_chown(&st, uid, gid)?;
            change
        }
        AttrChange::Times(at, mt) => {
            valid_times(at, mt)?;
            cred.may_set_times(&st, at, mt)?;
            change
        }
    };
    f.change_attr(change)?;
    Ok(0)
}
