//! Changing the tree: mkdir, rmdir, unlink, rename, link, symlink, truncate, chmod, utimensat,
//! and the sync family. Only the guest's own filesystems take changes (today: the tmpfs at
//! /tmp); the host root is read-only (EROFS) until the overlay lands.

use snare_abi::file::{
    Timespec, AT_EMPTY_PATH, AT_FDCWD, AT_REMOVEDIR, AT_SYMLINK_FOLLOW, AT_SYMLINK_NOFOLLOW,
};
use snare_abi::Errno;
use snare_syscalls_table::nr;

use super::arg::{check_flags, fd, u32_};
use super::fs::{absolute, path_arg, special, Special};
use super::Handler;
use crate::kernel::Task;
use crate::mm::GuestMemory;

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
    (nr::FSYNC, sys_fsync),
    (nr::FDATASYNC, sys_fsync),
    (nr::SYNCFS, sys_fsync),
    (nr::SYNC, sys_sync),
];

/// The tmpfs-relative path of a guest path argument, or the error a read-only or absent tree
/// gives.
fn tmp_path(task: &Task, dirfd: i32, addr: u64) -> Result<Vec<u8>, Errno> {
    let path = path_arg(task, addr)?;
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    tmp_of(task, &absolute(task, dirfd, &path)?)
}

fn tmp_of(task: &Task, abs: &[u8]) -> Result<Vec<u8>, Errno> {
    match special(abs) {
        Special::Tmp(rel) => Ok(rel),
        Special::Absent => Err(Errno::ENOENT),
        _ => {
            let _ = task;
            Err(Errno::EROFS)
        }
    }
}

fn mode(a: u64) -> u32 {
    u32_(a) & 0o7777
}

/// Implements `mkdir(2)`.
fn sys_mkdir(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let rel = tmp_path(task, AT_FDCWD, a[0])?;
    task.k
        .tmp
        .mkdir(&rel, mode(a[1]), task.fs.umask())
        .map(|_| 0)
}

/// Implements `mkdirat(2)`.
fn sys_mkdirat(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let rel = tmp_path(task, fd(a[0]), a[1])?;
    task.k
        .tmp
        .mkdir(&rel, mode(a[2]), task.fs.umask())
        .map(|_| 0)
}

/// Implements `rmdir(2)`.
fn sys_rmdir(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let rel = tmp_path(task, AT_FDCWD, a[0])?;
    task.k.tmp.rmdir(&rel).map(|_| 0)
}

/// Implements `unlink(2)`.
fn sys_unlink(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let rel = tmp_path(task, AT_FDCWD, a[0])?;
    task.k.tmp.unlink(&rel).map(|_| 0)
}

/// Implements `unlinkat(2)` (with AT_REMOVEDIR: rmdir).
fn sys_unlinkat(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let flags = check_flags(u32_(a[2]), AT_REMOVEDIR)?;
    let rel = tmp_path(task, fd(a[0]), a[1])?;
    if flags & AT_REMOVEDIR != 0 {
        task.k.tmp.rmdir(&rel).map(|_| 0)
    } else {
        task.k.tmp.unlink(&rel).map(|_| 0)
    }
}

fn do_rename(
    task: &Task,
    ofd: i32,
    old: u64,
    nfd: i32,
    new: u64,
    flags: u32,
) -> Result<u64, Errno> {
    const RENAME_NOREPLACE: u32 = 1;
    const RENAME_EXCHANGE: u32 = 2;
    let flags = check_flags(flags, RENAME_NOREPLACE | RENAME_EXCHANGE)?;
    if flags == RENAME_NOREPLACE | RENAME_EXCHANGE {
        return Err(Errno::EINVAL);
    }
    let old = tmp_path(task, ofd, old);
    let new = tmp_path(task, nfd, new);
    match (old, new) {
        (Ok(o), Ok(n)) => task.k.tmp.rename(&o, &n, flags).map(|_| 0),
        // One side in the tmpfs, the other elsewhere: different filesystems.
        (Ok(_), Err(Errno::EROFS)) | (Err(Errno::EROFS), Ok(_)) => Err(Errno::EXDEV),
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
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
    let rel = tmp_path(task, dirfd, path)?;
    task.k.tmp.symlink(&target, &rel).map(|_| 0)
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
    check_flags(flags, AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)?;
    let old = tmp_path(task, ofd, old);
    let new = tmp_path(task, nfd, new);
    match (old, new) {
        (Ok(o), Ok(n)) => task.k.tmp.link(&o, &n).map(|_| 0),
        (Ok(_), Err(Errno::EROFS)) | (Err(Errno::EROFS), Ok(_)) => Err(Errno::EXDEV),
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}

/// Implements `link(2)`.
fn sys_link(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_link(task, AT_FDCWD, a[0], AT_FDCWD, a[1], 0)
}

/// Implements `linkat(2)`.
fn sys_linkat(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_link(task, fd(a[0]), a[1], fd(a[2]), a[3], u32_(a[4]))
}

/// Implements `truncate(2)`.
fn sys_truncate(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let len = i64::try_from(a[1]).map_err(|_| Errno::EINVAL)? as u64;
    let rel = tmp_path(task, AT_FDCWD, a[0])?;
    task.k.tmp.truncate(&rel, len).map(|_| 0)
}

/// Implements `ftruncate(2)`.
fn sys_ftruncate(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let len = i64::try_from(a[1]).map_err(|_| Errno::EINVAL)? as u64;
    task.fds.get(fd(a[0]))?.truncate(len).map(|_| 0)
}

/// Implements `chmod(2)`.
fn sys_chmod(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let rel = tmp_path(task, AT_FDCWD, a[0])?;
    task.k.tmp.chmod(&rel, mode(a[1]), true).map(|_| 0)
}

/// Implements `fchmod(2)` through the fd's path.
fn sys_fchmod(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let path = task.fds.get(fd(a[0]))?.path().into_bytes();
    let rel = tmp_of(task, &path)?;
    task.k.tmp.chmod(&rel, mode(a[1]), true).map(|_| 0)
}

/// Implements `fchmodat(2)`.
fn sys_fchmodat(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let rel = tmp_path(task, fd(a[0]), a[1])?;
    task.k.tmp.chmod(&rel, mode(a[2]), true).map(|_| 0)
}

/// Implements `utimensat(2)` (UTIME_NOW, UTIME_OMIT; a NULL path means the fd itself).
fn sys_utimensat(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let flags = check_flags(u32_(a[3]), AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)?;
    let rel = if a[1] == 0 {
        let path = task.fds.get(fd(a[0]))?.path().into_bytes();
        tmp_of(task, &path)?
    } else {
        tmp_path(task, fd(a[0]), a[1])?
    };
    // NULL times: both now. Otherwise each timespec as given; the tmpfs reads UTIME_NOW
    // and UTIME_OMIT out of the nanoseconds.
    let (atime, mtime) = if a[2] == 0 {
        (None, None)
    } else {
        let at: Timespec = task.mm.read_val(a[2])?;
        let mt: Timespec = task.mm.read_val(a[2] + 16)?;
        (Some((at.tv_sec, at.tv_nsec)), Some((mt.tv_sec, mt.tv_nsec)))
    };
    let follow = flags & AT_SYMLINK_NOFOLLOW == 0;
    task.k.tmp.utimens(&rel, atime, mtime, follow).map(|_| 0)
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
