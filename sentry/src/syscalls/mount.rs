//! Mount namespaces from the guest's side: mount, umount2, unshare. The table itself is
//! `vfs/mount.rs`; new tmpfs instances come from `kernel/mounts.rs`.

use std::sync::Arc;

use snare_abi::caps::Cap;
use snare_abi::file::{S_IFDIR, S_IFMT};
use snare_abi::Errno;
use snare_syscalls_table::nr;

use super::arg::{check_flags, u32_};
use super::path::{absolute, mount_of, path_arg, resolve, stat_resolved, Node};
use super::Handler;
use snare_platform::Platform;

use crate::kernel::mounts::{new_tmpfs, TmpfsOpts};
use crate::kernel::Task;
use crate::mm::GuestMemory;
use crate::vfs::dev::Devfs;
use crate::vfs::filesystem::Filesystem;
use crate::vfs::mount::{ms, Mount};
use crate::vfs::procfs::Procfs;
use crate::vfs::pty::Devpts;
use crate::vfs::sysfs::Sysfs;

pub(super) const HANDLERS: &[(u32, Handler)] = &[
    (nr::MOUNT, sys_mount),
    (nr::UMOUNT2, sys_umount2),
    (nr::UNSHARE, sys_unshare),
    (nr::CHROOT, sys_chroot),
    (nr::PIVOT_ROOT, sys_pivot_root),
];

/// `mount(2)` flags beyond the per-mount ones in [`ms`].
const MS_REMOUNT: u64 = 32;
const MS_BIND: u64 = 4096;
const MS_MOVE: u64 = 8192;
const MS_REC: u64 = 16384;
const MS_SILENT: u64 = 32768;
const MS_UNBINDABLE: u64 = 1 << 17;
const MS_PRIVATE: u64 = 1 << 18;
const MS_SLAVE: u64 = 1 << 19;
const MS_SHARED: u64 = 1 << 20;
const MS_PROPAGATION: u64 = MS_UNBINDABLE | MS_PRIVATE | MS_SLAVE | MS_SHARED;
/// Old callers put this magic in the top 16 bits.
const MS_MGC_MSK: u64 = 0xffff_0000;
const MS_MGC_VAL: u64 = 0xc0ed_0000;
/// Flags Linux accepts and snare ignores (they change nothing the Sentry models).
const MS_IGNORED: u64 =
    MS_SILENT | 16 /* MS_SYNCHRONOUS */ | 64 /* MS_MANDLOCK */ | 128 /* MS_DIRSYNC */
    | (1 << 16) /* MS_POSIXACL */ | (1 << 22) /* MS_I_VERSION */ | (1 << 25) /* MS_LAZYTIME */;

/// `EPERM` unless the caller holds `cap` (mounting needs CAP_SYS_ADMIN, chroot
/// CAP_SYS_CHROOT).
fn require(task: &Task, cap: Cap) -> Result<(), Errno> {
    if task.capable(cap) {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

/// The walked mount point at `addr` (symlinks followed unless `nofollow`); it must exist.
fn target(task: &Task, addr: u64, nofollow: bool) -> Result<Vec<u8>, Errno> {
    let p = path_arg(task, addr)?;
    if p.is_empty() {
        return Err(Errno::ENOENT);
    }
    let abs = absolute(task, snare_abi::file::AT_FDCWD, &p)?;
    let path = match resolve(task, &abs, !nofollow)? {
        Node::Path(p) => p,
        Node::Fd(n) => task.fds.get(n)?.path(),
    };
    stat_resolved(task, &path, false)?;
    Ok(path)
}

/// A short string argument (a filesystem type or options), or `None` for NULL.
fn string_arg(task: &Task, addr: u64, max: usize) -> Result<Option<String>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    let b = task.mm.read_cstr(addr, max).map_err(|e| {
        if e == Errno::ENAMETOOLONG {
            Errno::EINVAL
        } else {
            Errno::EFAULT
        }
    })?;
    Ok(Some(String::from_utf8_lossy(&b).into_owned()))
}

/// Implements `mount(2)`: new tmpfs, proc, sysfs, devtmpfs, devpts and mqueue mounts, bind
/// mounts (`MS_BIND`, `MS_REC`), remounts (`MS_REMOUNT`, with `MS_BIND` for the per-mount flags
/// alone), and propagation changes (`MS_SHARED`, `MS_PRIVATE`, `MS_SLAVE`,
/// `MS_UNBINDABLE`: accepted; mount namespaces here never propagate), `MS_MOVE`.
/// Deviation: other filesystem types (overlay, …) are `ENODEV`.
fn sys_mount(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let mut flags = a[3];
    if flags & MS_MGC_MSK == MS_MGC_VAL {
        flags &= !MS_MGC_MSK;
    }
    let known = ms::KEPT | MS_REMOUNT | MS_BIND | MS_MOVE | MS_REC | MS_PROPAGATION | MS_IGNORED;
    if flags & !known != 0 {
        return Err(Errno::EINVAL);
    }
    require(task, Cap::SysAdmin)?;
    let point = target(task, a[1], false)?;
    let table = task.fs.mounts.clone();
    if flags & MS_PROPAGATION != 0 {
        // Exactly one propagation type, and nothing but MS_REC and MS_SILENT with it.
        let kinds = (flags & MS_PROPAGATION).count_ones();
        if kinds != 1 || flags & !(MS_PROPAGATION | MS_REC | MS_SILENT) != 0 {
            return Err(Errno::EINVAL);
        }
        return table.at(&point).map(|_| 0).ok_or(Errno::EINVAL);
    }
    if flags & MS_REMOUNT != 0 {
        let data = string_arg(task, a[4], 4096)?;
        let m = table.at(&point).ok_or(Errno::EINVAL)?;
        if flags & MS_BIND == 0 && m.fs.fstype() == "tmpfs" {
            // The options are checked; the limits stay as mounted.
            TmpfsOpts::parse(data.as_deref().unwrap_or(""))?;
        }
        table.set_flags(&point, flags & ms::KEPT, None)?;
        return Ok(0);
    }
    if flags & MS_MOVE != 0 {
        let from = target(task, a[0], false)?;
        if stat_resolved(task, &point, false)?.st_mode & S_IFMT != S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        table.move_mount(&from, &point)?;
        return Ok(0);
    }
    if flags & MS_BIND != 0 {
        let src = target(task, a[0], false)?;
        let src_mount = mount_of(task, &src);
        let is_dir =
            |p: &[u8]| stat_resolved(task, p, false).map(|s| s.st_mode & S_IFMT == S_IFDIR);
        if is_dir(&src)? != is_dir(&point)? {
            return Err(if is_dir(&src)? {
                Errno::ENOTDIR
            } else {
                Errno::EISDIR
            });
        }
        table.bind(&src_mount, &src, &point, flags & MS_REC != 0);
        return Ok(0);
    }
    if stat_resolved(task, &point, false)?.st_mode & S_IFMT != S_IFDIR {
        return Err(Errno::ENOTDIR);
    }
    let fstype = string_arg(task, a[2], 256)?.ok_or(Errno::EFAULT)?;
    let source = string_arg(task, a[0], 4096)?.unwrap_or_else(|| "none".into());
    let data = string_arg(task, a[4], 4096)?.unwrap_or_default();
    let creds = task.tg().state().creds.clone();
    let (fs, shown): (Arc<dyn Filesystem>, String) = match fstype.as_str() {
        "tmpfs" => {
            let opts = TmpfsOpts::parse(&data)?;
            let mem = task.k.platform.memory_file();
            let (fs, shown) = new_tmpfs(&point, creds.euid, creds.egid, mem, &opts);
            (fs, shown)
        }
        "proc" => (Arc::new(Procfs), String::new()),
        "sysfs" => (Arc::new(Sysfs), String::new()),
        "devtmpfs" => (Arc::new(Devfs::new(task.k.devpts.clone())), String::new()),
        "devpts" => {
            Devpts::check_options(&data)?;
            (task.k.devpts.clone(), task.k.devpts.options())
        }
        "mqueue" => (Arc::new(crate::vfs::mqueue::Mqueuefs), String::new()),
        other => {
            tracing::warn!(fstype = other, "mount: filesystem type not supported");
            return Err(Errno::ENODEV);
        }
    };
    table.add(Mount::new(
        &point,
        b"/",
        fs,
        &source,
        flags & ms::KEPT,
        &shown,
    ));
    Ok(0)
}

/// Implements `umount2(2)` (`MNT_FORCE`, `MNT_DETACH`, `UMOUNT_NOFOLLOW`; `MNT_EXPIRE` is
/// `EAGAIN` the first time, as for a mount in use). Deviation: a mount whose files are
/// open is unmounted anyway (as `MNT_DETACH` would: the open files keep working); one with
/// mounts below it is `EBUSY` unless `MNT_DETACH`.
fn sys_umount2(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    const MNT_FORCE: u32 = 1;
    const MNT_DETACH: u32 = 2;
    const MNT_EXPIRE: u32 = 4;
    const UMOUNT_NOFOLLOW: u32 = 8;
    let flags = check_flags(
        u32_(a[1]),
        MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW,
    )?;
    if flags & MNT_EXPIRE != 0 && flags & (MNT_FORCE | MNT_DETACH) != 0 {
        return Err(Errno::EINVAL);
    }
    require(task, Cap::SysAdmin)?;
    let point = target(task, a[0], flags & UMOUNT_NOFOLLOW != 0)?;
    if flags & MNT_EXPIRE != 0 {
        return match task.fs.mounts.at(&point) {
            Some(_) => Err(Errno::EAGAIN),
            None => Err(Errno::EINVAL),
        };
    }
    task.fs.mounts.remove(&point, flags & MNT_DETACH != 0)?;
    Ok(0)
}

/// Implements `unshare(2)` for `CLONE_NEWNS` (a copy of the mount namespace; needs
/// CAP_SYS_ADMIN), `CLONE_FS`, `CLONE_FILES`, `CLONE_SYSVSEM` (a new, empty `SEM_UNDO`
/// list: the old one is applied if no other task holds it), and
/// `CLONE_THREAD`/`CLONE_SIGHAND`/`CLONE_VM` in a single-threaded process. Deviation: the
/// other namespaces (UTS, IPC, PID, net, user, cgroup, time) are `EINVAL`, logged.
fn sys_unshare(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    const CLONE_VM: u64 = 0x100;
    const CLONE_FS: u64 = 0x200;
    const CLONE_FILES: u64 = 0x400;
    const CLONE_SIGHAND: u64 = 0x800;
    const CLONE_THREAD: u64 = 0x10000;
    const CLONE_NEWNS: u64 = 0x20000;
    const CLONE_SYSVSEM: u64 = 0x40000;
    const NAMESPACES: u64 =
        0x80 | 0x0200_0000 | 0x0400_0000 | 0x0800_0000 | 0x1000_0000 | 0x2000_0000 | 0x4000_0000;
    let flags = a[0];
    let known = CLONE_VM
        | CLONE_FS
        | CLONE_FILES
        | CLONE_SIGHAND
        | CLONE_THREAD
        | CLONE_NEWNS
        | CLONE_SYSVSEM
        | NAMESPACES;
    if flags & !known != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & NAMESPACES != 0 {
        tracing::warn!(
            flags = flags & NAMESPACES,
            "unshare: namespace not supported"
        );
        return Err(Errno::EINVAL);
    }
    if flags & (CLONE_VM | CLONE_SIGHAND | CLONE_THREAD) != 0 && task.tg().state().threads.len() > 1
    {
        return Err(Errno::EINVAL);
    }
    if flags & CLONE_NEWNS != 0 {
        require(task, Cap::SysAdmin)?;
        task.fs = Arc::new(task.fs.with_new_mounts());
    } else if flags & CLONE_FS != 0 && Arc::strong_count(&task.fs) > 1 {
        task.fs = Arc::new(task.fs.duplicate());
    }
    if flags & CLONE_FILES != 0 && Arc::strong_count(&task.fds) > 1 {
        task.fds = Arc::new(task.fds.duplicate());
    }
    if flags & CLONE_SYSVSEM != 0 {
        drop(std::mem::take(&mut task.sem_undo));
    }
    task.publish();
    Ok(0)
}

/// A walked directory for chroot and pivot_root: `ENOTDIR` otherwise, and searchable.
fn directory(task: &Task, addr: u64) -> Result<Vec<u8>, Errno> {
    let p = target(task, addr, false)?;
    let st = stat_resolved(task, &p, false)?;
    if st.st_mode & S_IFMT != S_IFDIR {
        return Err(Errno::ENOTDIR);
    }
    Ok(p)
}

/// Implements `chroot(2)` (CAP_SYS_CHROOT). The current directory stays where it is, as
/// on Linux (outside the new root, getcwd shows `(unreachable)`).
fn sys_chroot(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let p = directory(task, a[0])?;
    require(task, Cap::SysChroot)?;
    task.fs.set_root(p.into());
    Ok(0)
}

/// Implements `pivot_root(2)`: the mount at `new_root` becomes the namespace's root and the
/// old root moves to `put_old`; the caller's root and current directory follow their
/// directories. Deviation: other processes' current directories keep their paths (Linux
/// moves only those that were at the old root, which are at the new one here too).
fn sys_pivot_root(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    require(task, Cap::SysAdmin)?;
    let new_root = directory(task, a[0])?;
    let put_old = directory(task, a[1])?;
    if &*task.fs.root() != b"/" {
        return Err(Errno::EINVAL);
    }
    task.fs.mounts.pivot(&new_root, &put_old)?;
    // The caller's current directory, in the new layout: below the new root it loses
    // that prefix; elsewhere (but at the old root, which Linux moves to the new one) it is
    // under `put_old` now.
    let cwd = task.fs.cwd();
    let old_at = &put_old[new_root.len()..];
    let moved = match cwd.strip_prefix(&new_root[..]) {
        Some(b"") => b"/".to_vec(),
        Some(rest) if rest.starts_with(b"/") => rest.to_vec(),
        _ if cwd == b"/" => cwd,
        _ => [old_at, &cwd[..]].concat(),
    };
    task.fs.set_cwd(moved, None);
    Ok(0)
}
