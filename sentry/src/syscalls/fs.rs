//! Paths and files: open, stat, access, readlink, getcwd/chdir, getdents64.

use std::sync::Arc;

use snare_abi::file::{o, Stat, AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW, S_IFDIR, S_IFMT};
use snare_abi::Errno;
use snare_syscalls_table::nr;

use super::arg::{check_flags, fd, len, u32_};
use super::path::{absolute, path_arg};
use super::path::{open_path, readlink_path, resolve, stat_path, stat_resolved, statfs_path, Node};
use super::Handler;
use crate::kernel::Task;
use crate::mm::GuestMemory;
use crate::vfs::filesystem::Caller;
use crate::vfs::resolve::Scope;
use crate::vfs::FileDescription;

pub(super) const HANDLERS: &[(u32, Handler)] = &[
    (nr::OPEN, sys_open),
    (nr::OPENAT, sys_openat),
    (nr::OPENAT2, sys_openat2),
    (nr::CREAT, sys_creat),
    (nr::STAT, sys_stat),
    (nr::LSTAT, sys_lstat),
    (nr::FSTAT, sys_fstat),
    (nr::NEWFSTATAT, sys_newfstatat),
    (nr::STATX, sys_statx),
    (nr::ACCESS, sys_access),
    (nr::FACCESSAT, sys_faccessat),
    (nr::FACCESSAT2, sys_faccessat2),
    (nr::READLINK, sys_readlink),
    (nr::READLINKAT, sys_readlinkat),
    (nr::GETCWD, sys_getcwd),
    (nr::CHDIR, sys_chdir),
    (nr::FCHDIR, sys_fchdir),
    (nr::GETDENTS64, sys_getdents64),
    (nr::GETDENTS, sys_getdents),
    (nr::STATFS, sys_statfs),
    (nr::FSTATFS, sys_fstatfs),
];

/// Implements `statfs(2)`.
fn sys_statfs(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let path = path_arg(task, a[0])?;
    let abs = absolute(task, AT_FDCWD, &path)?;
    let b = statfs_path(task, &abs)?;
    task.mm.write(a[1], &b)?;
    Ok(0)
}

/// Implements `fstatfs(2)`.
fn sys_fstatfs(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let b = task.fds.get(fd(a[0]))?.statfs()?;
    task.mm.write(a[1], &b)?;
    Ok(0)
}

const OPEN_FLAGS: u32 = o::ACCMODE
    | o::CREAT
    | o::EXCL
    | o::NOCTTY
    | o::TRUNC
    | o::APPEND
    | o::NONBLOCK
    | o::DSYNC
    | o::ASYNC
    | o::DIRECT
    | o::LARGEFILE
    | o::DIRECTORY
    | o::NOFOLLOW
    | o::NOATIME
    | o::CLOEXEC
    | o::SYNC
    | o::PATH
    | o::TMPFILE;

fn do_openat(task: &mut Task, dirfd: i32, path: u64, flags: u32, mode: u32) -> Result<u64, Errno> {
    let flags = check_flags(flags, OPEN_FLAGS)?;
    let path = path_arg(task, path)?;
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let abs = absolute(task, dirfd, &path)?;
    // As Linux, EMFILE before the open (which may create the file or take a host fd).
    let limit = task.nofile();
    task.fds.check_room(limit)?;
    let file = open_path(task, &abs, flags, mode)?;
    task.fds
        .install(file, flags & o::CLOEXEC != 0, 0, limit)
        .map(|n| n as u64)
}

/// Implements `open(2)`. The host root is read-only for now: opening it for writing or
/// creating fails with EROFS; /tmp is the guest's tmpfs.
fn sys_open(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_openat(task, AT_FDCWD, a[0], u32_(a[1]), u32_(a[2]))
}

/// Implements `creat(2)`.
fn sys_creat(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let flags = o::CREAT | o::WRONLY | o::TRUNC;
    do_openat(task, AT_FDCWD, a[0], flags, u32_(a[1]))
}

/// Implements `openat(2)` (see `sys_open`).
fn sys_openat(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_openat(task, fd(a[0]), a[1], u32_(a[2]), u32_(a[3]))
}

const RESOLVE_NO_XDEV: u64 = 0x01;
const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const RESOLVE_BENEATH: u64 = 0x08;
const RESOLVE_IN_ROOT: u64 = 0x10;
const RESOLVE_CACHED: u64 = 0x20;

/// Implements `openat2(2)`: `struct open_how` {flags, mode, resolve}, stricter checks than
/// openat, and the RESOLVE_* restrictions checked on the Sentry's walk.
fn sys_openat2(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let size = a[3];
    if size < 24 {
        return Err(Errno::EINVAL);
    }
    if size > 4096 {
        return Err(Errno::E2BIG);
    }
    let mut how = vec![0u8; size as usize];
    task.mm.read(a[2], &mut how)?;
    if how[24..].iter().any(|&b| b != 0) {
        return Err(Errno::E2BIG);
    }
    let word = |i: usize| u64::from_ne_bytes(how[8 * i..8 * i + 8].try_into().unwrap_or_default());
    let (flags, mode, resolve) = (word(0), word(1), word(2));
    let flags = u32::try_from(flags).map_err(|_| Errno::EINVAL)?;
    check_flags(flags, OPEN_FLAGS)?;
    let creates = flags & o::CREAT != 0 || flags & o::TMPFILE == o::TMPFILE;
    if mode & !0o7777 != 0 || (!creates && mode != 0) {
        return Err(Errno::EINVAL);
    }
    let known = RESOLVE_NO_XDEV
        | RESOLVE_NO_MAGICLINKS
        | RESOLVE_NO_SYMLINKS
        | RESOLVE_BENEATH
        | RESOLVE_IN_ROOT
        | RESOLVE_CACHED;
    if resolve & !known != 0
        || resolve & (RESOLVE_BENEATH | RESOLVE_IN_ROOT) == RESOLVE_BENEATH | RESOLVE_IN_ROOT
    {
        return Err(Errno::EINVAL);
    }
    if resolve & RESOLVE_CACHED != 0 {
        return Err(Errno::EAGAIN);
    }
    // openat2 refuses what openat ignores: O_PATH takes only these.
    if flags & o::PATH != 0 && flags & !(o::PATH | o::DIRECTORY | o::NOFOLLOW | o::CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let dirfd = fd(a[0]);
    let path = path_arg(task, a[1])?;
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let base = super::path::normalize(&absolute(task, dirfd, b".")?);
    let scope = Scope {
        beneath: resolve & RESOLVE_BENEATH != 0,
        in_root: resolve & RESOLVE_IN_ROOT != 0,
        no_xdev: resolve & RESOLVE_NO_XDEV != 0,
        no_symlinks: resolve & RESOLVE_NO_SYMLINKS != 0,
        no_magiclinks: resolve & RESOLVE_NO_MAGICLINKS != 0,
    };
    let follow = flags & o::NOFOLLOW == 0;
    // The walk with the restrictions; then the open of where it ended (a walked path, or
    // the path as given when it ended at a magic link no restriction forbade).
    let abs = if scope == Scope::default() {
        absolute(task, dirfd, &path)?
    } else {
        match super::path::resolver(task).resolve_at(&base, &path, follow, scope)? {
            Node::Path(mut p) => {
                if path.ends_with(b"/") && p != b"/" {
                    p.push(b'/');
                }
                p
            }
            Node::Fd(_) => absolute(task, dirfd, &path)?,
        }
    };
    let limit = task.nofile();
    task.fds.check_room(limit)?;
    let file = open_path(task, &abs, flags, mode as u32)?;
    task.fds
        .install(file, flags & o::CLOEXEC != 0, 0, limit)
        .map(|n| n as u64)
}

fn write_stat(task: &Task, addr: u64, st: &Stat) -> Result<u64, Errno> {
    task.mm.write(addr, snare_abi::pod::as_bytes(st))?;
    Ok(0)
}

/// Implements `stat(2)`.
fn sys_stat(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let path = path_arg(task, a[0])?;
    let st = stat_path(task, &absolute(task, AT_FDCWD, &path)?, true)?;
    write_stat(task, a[1], &st)
}

/// Implements `lstat(2)`.
fn sys_lstat(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let path = path_arg(task, a[0])?;
    let st = stat_path(task, &absolute(task, AT_FDCWD, &path)?, false)?;
    write_stat(task, a[1], &st)
}

/// Implements `fstat(2)`.
fn sys_fstat(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let st = task.fds.get(fd(a[0]))?.stat()?;
    write_stat(task, a[1], &st)
}

/// `stat` of `dirfd`+`path` with AT_* flags.
fn stat_at(task: &Task, dirfd: i32, path_addr: u64, flags: u32) -> Result<Stat, Errno> {
    let path = path_arg(task, path_addr)?;
    if path.is_empty() {
        if flags & AT_EMPTY_PATH == 0 {
            return Err(Errno::ENOENT);
        }
        if dirfd == AT_FDCWD {
            let cwd = task.fs.cwd();
            return stat_path(task, &cwd, true);
        }
        return task.fds.get(dirfd)?.stat();
    }
    let abs = absolute(task, dirfd, &path)?;
    stat_path(task, &abs, flags & AT_SYMLINK_NOFOLLOW == 0)
}

/// Implements `newfstatat(2)`.
fn sys_newfstatat(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let flags = check_flags(u32_(a[3]), AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | 0x800)?;
    let st = stat_at(task, fd(a[0]), a[1], flags)?;
    write_stat(task, a[2], &st)
}

/// Implements `statx(2)` from the same attributes as `stat` (no birth time).
fn sys_statx(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    const AT_STATX_SYNC_TYPE: u32 = 0x6000;
    let flags = check_flags(
        u32_(a[2]),
        AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | 0x800 | AT_STATX_SYNC_TYPE,
    )?;
    let st = stat_at(task, fd(a[0]), a[1], flags)?;
    let mut b = [0u8; 256];
    let put = |b: &mut [u8; 256], off: usize, v: &[u8]| b[off..off + v.len()].copy_from_slice(v);
    const STATX_BASIC_STATS: u32 = 0x7ff;
    put(&mut b, 0, &STATX_BASIC_STATS.to_ne_bytes());
    put(&mut b, 4, &(st.st_blksize as u32).to_ne_bytes());
    put(&mut b, 16, &(st.st_nlink as u32).to_ne_bytes());
    put(&mut b, 20, &st.st_uid.to_ne_bytes());
    put(&mut b, 24, &st.st_gid.to_ne_bytes());
    put(&mut b, 28, &(st.st_mode as u16).to_ne_bytes());
    put(&mut b, 32, &st.st_ino.to_ne_bytes());
    put(&mut b, 40, &(st.st_size as u64).to_ne_bytes());
    put(&mut b, 48, &(st.st_blocks as u64).to_ne_bytes());
    for (off, sec, nsec) in [
        (64, st.st_atime, st.st_atime_nsec),
        (96, st.st_ctime, st.st_ctime_nsec),
        (112, st.st_mtime, st.st_mtime_nsec),
    ] {
        put(&mut b, off, &sec.to_ne_bytes());
        put(&mut b, off + 8, &(nsec as u32).to_ne_bytes());
    }
    let maj = |d: u64| ((d >> 8) & 0xfff) | ((d >> 32) & !0xfff);
    let min = |d: u64| (d & 0xff) | ((d >> 12) & !0xff);
    let (rmaj, rmin) = (maj(st.st_rdev), min(st.st_rdev));
    put(&mut b, 128, &(rmaj as u32).to_ne_bytes());
    put(&mut b, 132, &(rmin as u32).to_ne_bytes());
    put(&mut b, 136, &(maj(st.st_dev) as u32).to_ne_bytes());
    put(&mut b, 140, &(min(st.st_dev) as u32).to_ne_bytes());
    task.mm.write(a[4], &b)?;
    Ok(0)
}

/// `access`/`faccessat`/`faccessat2`: the walk and the check are made for the real ids
/// (the effective ones with `AT_EACCESS`), as Linux does, and the capabilities a real root
/// would have.
fn do_access(task: &Task, dirfd: i32, path: u64, mode: u32, flags: u32) -> Result<u64, Errno> {
    use snare_abi::file::AT_EACCESS;
    check_flags(mode, 7)?;
    let flags = check_flags(flags, AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)?;
    let cred = if flags & AT_EACCESS != 0 {
        task.cred()
    } else {
        // Linux's access_override_creds: the real ids, with the permitted capabilities
        // for a real root and none for others (unless SECBIT_NO_SETUID_FIXUP).
        let c = task.tg().state().creds.clone();
        let fixup = c.caps.securebits & snare_abi::caps::SECBIT_NO_SETUID_FIXUP == 0;
        let caps = match (fixup, c.ruid) {
            (false, _) => c.caps.effective,
            (true, 0) => c.caps.permitted,
            (true, _) => 0,
        };
        crate::vfs::perm::Cred {
            uid: c.ruid,
            gid: c.rgid,
            groups: c.groups,
            caps,
        }
    };
    let p = path_arg(task, path)?;
    let follow = flags & AT_SYMLINK_NOFOLLOW == 0;
    let st = if p.is_empty() {
        stat_at(task, dirfd, path, flags)?
    } else {
        let abs = absolute(task, dirfd, &p)?;
        super::path::stat_path_as(task, &abs, follow, cred.clone())?
    };
    // Read-only mounts and /proc don't take writes (the guest's own files and devices do).
    if mode & 2 != 0 && st.st_mode & S_IFMT != snare_abi::file::S_IFCHR && !p.is_empty() {
        let abs = absolute(task, dirfd, &p)?;
        if let Node::Path(p) = super::path::resolver_as(task, cred.clone()).resolve(&abs, follow)? {
            match super::path::mount_of(task, &p).refusal() {
                Some(Errno::EROFS) => return Err(Errno::EROFS),
                Some(_) => return Err(Errno::EACCES),
                None => {}
            }
        }
    }
    cred.may(&crate::vfs::perm::Perm::of(&st), mode)?;
    Ok(0)
}

/// Implements `access(2)`.
fn sys_access(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_access(task, AT_FDCWD, a[0], u32_(a[1]), 0)
}

/// Implements `faccessat(2)`.
fn sys_faccessat(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_access(task, fd(a[0]), a[1], u32_(a[2]), 0)
}

/// Implements `faccessat2(2)`.
fn sys_faccessat2(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_access(task, fd(a[0]), a[1], u32_(a[2]), u32_(a[3]))
}

fn do_readlink(task: &Task, dirfd: i32, path: u64, buf: u64, size: u64) -> Result<u64, Errno> {
    let size = len(size)?;
    if size == 0 || size > i32::MAX as usize {
        return Err(Errno::EINVAL);
    }
    let path = path_arg(task, path)?;
    let abs = absolute(task, dirfd, &path)?;
    do_readlink_abs(task, &abs, buf, size)
}

/// `readlink` of an absolute guest path into `buf` (at most `size` bytes).
fn do_readlink_abs(task: &Task, abs: &[u8], buf: u64, size: usize) -> Result<u64, Errno> {
    let target = readlink_path(task, abs)?;
    let n = target.len().min(size);
    task.mm.write(buf, &target[..n])?;
    Ok(n as u64)
}

/// Implements `readlink(2)`.
fn sys_readlink(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_readlink(task, AT_FDCWD, a[0], a[1], a[2])
}

/// Implements `readlinkat(2)`.
fn sys_readlinkat(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_readlink(task, fd(a[0]), a[1], a[2], a[3])
}

/// Implements `getcwd(2)`: returns the length including the NUL.
fn sys_getcwd(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let cwd = task.fs.cwd();
    if cwd.ends_with(b" (deleted)") {
        return Err(Errno::ENOENT);
    }
    let mut cwd = shown_path(task, cwd);
    cwd.push(0);
    if (len(a[1])?) < cwd.len() {
        return Err(Errno::ERANGE);
    }
    task.mm.write(a[0], &cwd)?;
    Ok(cwd.len() as u64)
}

/// A path in the mount namespace as the task sees it under its root (`chroot`): the root
/// stripped, or `(unreachable)` before a path outside it (as Linux's getcwd).
pub(super) fn shown_path(task: &Task, path: Vec<u8>) -> Vec<u8> {
    let root = task.fs.root();
    if &*root == b"/" {
        return path;
    }
    match path.strip_prefix(&root[..]) {
        Some(b"") => b"/".to_vec(),
        Some(rest) if rest.starts_with(b"/") => rest.to_vec(),
        _ => [&b"(unreachable)"[..], &path].concat(),
    }
}

/// Makes `abs` the current directory; `dir` is a description of it, if the caller has
/// one (`fchdir`).
fn set_cwd(
    task: &mut Task,
    abs: Vec<u8>,
    dir: Option<Arc<dyn FileDescription>>,
) -> Result<u64, Errno> {
    let path = match resolve(task, &abs, true)? {
        Node::Path(p) => p,
        Node::Fd(n) => task.fds.get(n)?.path(),
    };
    let st = stat_resolved(task, &path, true)?;
    if st.st_mode & S_IFMT != S_IFDIR {
        return Err(Errno::ENOTDIR);
    }
    task.cred()
        .may(&crate::vfs::perm::Perm::of(&st), crate::vfs::perm::MAY_EXEC)?;
    // A description whose path follows the directory's moves keeps the current directory
    // where the directory goes (a tmpfs one: others can't be renamed in the sandbox).
    let dir = dir.or_else(|| {
        let m = task.fs.mounts.route(&path);
        m.fs.moving_dir(task, &m.inner(&path), &path)
    });
    task.fs.set_cwd(path, dir);
    Ok(0)
}

/// Implements `chdir(2)`.
fn sys_chdir(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let path = path_arg(task, a[0])?;
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let abs = absolute(task, AT_FDCWD, &path)?;
    set_cwd(task, abs, None)
}

/// Implements `fchdir(2)`.
fn sys_fchdir(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let f = task.fds.get(fd(a[0]))?;
    set_cwd(task, f.path(), Some(f))
}

/// Implements `getdents64(2)`.
fn sys_getdents64(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_getdents(task, a, false)
}

/// Implements `getdents(2)`: the old `struct linux_dirent` (`d_type` in the record's last
/// byte, after the name). Its records are as long as `linux_dirent64`'s, so the same listing
/// is rewritten in place.
fn sys_getdents(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_getdents(task, a, true)
}

fn do_getdents(task: &Task, a: [u64; 6], old: bool) -> Result<u64, Errno> {
    let file = task.fds.get(fd(a[0]))?;
    let max = len(a[2])?.min(1 << 20);
    let mut out = Vec::new();
    file.getdents(&mut out, max)?;
    if old {
        let name_at = snare_abi::file::DIRENT64_NAME_OFFSET;
        let mut at = 0;
        while at + name_at <= out.len() {
            let reclen = u16::from_ne_bytes([out[at + 16], out[at + 17]]) as usize;
            if reclen < name_at + 1 || at + reclen > out.len() {
                break;
            }
            let rec = &mut out[at..at + reclen];
            let dtype = rec[18];
            let name_len = rec[name_at..].iter().position(|&b| b == 0).unwrap_or(0);
            rec.copy_within(name_at..name_at + name_len, 18);
            rec[18 + name_len..].fill(0);
            rec[reclen - 1] = dtype;
            at += reclen;
        }
    }
    task.mm.write(a[1], &out)?;
    Ok(out.len() as u64)
}
