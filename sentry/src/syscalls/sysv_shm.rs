//! System V shared memory: shmget, shmat, shmdt, shmctl. Decodes and checks the guest's
//! words in Linux's order, maps and unmaps through the memory manager, and leaves the
//! segments to the sandbox's IPC namespace (`kernel/ipc/shm.rs`).
//!
//! As Linux, flag bits these calls don't know are ignored (not `EINVAL`).

use snare_abi::file::RLIMIT_MEMLOCK;
use snare_abi::ipc::{
    Shmid64Ds, IPC_INFO, IPC_RMID, IPC_SET, IPC_STAT, SHMLBA, SHM_EXEC, SHM_INFO, SHM_LOCK,
    SHM_RDONLY, SHM_REMAP, SHM_RND, SHM_STAT, SHM_STAT_ANY, SHM_UNLOCK,
};
use snare_abi::pod::as_bytes;
use snare_abi::Errno;
use snare_platform::Prot;
use snare_syscalls_table::nr;

use super::arg::{i32_, u32_};
use super::Handler;
use crate::kernel::ipc::shm::map_len;
use crate::kernel::ipc::IpcCred;
use crate::kernel::Task;
use crate::mm::{Backing, GuestMemory, MappableFile, Mapping, Placement, PAGE};

pub(super) const HANDLERS: &[(u32, Handler)] = &[
    (nr::SHMGET, sys_shmget),
    (nr::SHMAT, sys_shmat),
    (nr::SHMDT, sys_shmdt),
    (nr::SHMCTL, sys_shmctl),
];

/// Implements `shmget(2)`. Limits and deviations: `kernel/ipc/shm.rs`.
fn sys_shmget(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let c = IpcCred::of(task);
    let k = task.k.clone();
    k.ipc
        .shmget(i32_(a[0]), a[1], u32_(a[2]), &c)
        .map(|id| id as u64)
}

/// Implements `shmat(2)`: `EINVAL` for an address not a multiple of `SHMLBA` (unless
/// `SHM_RND` rounds it down), for `SHM_REMAP` without an address, or for a given address
/// where something is mapped (unless `SHM_REMAP` replaces it); `EACCES` by the segment's
/// mode. The segment is mapped shared, readable, writable unless `SHM_RDONLY`, executable
/// with `SHM_EXEC`.
fn sys_shmat(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let id = i32_(a[0]);
    let flags = u32_(a[2]);
    if id < 0 {
        return Err(Errno::EINVAL);
    }
    let mut addr = a[1];
    let remap = flags & SHM_REMAP != 0;
    if addr != 0 {
        if !addr.is_multiple_of(SHMLBA) {
            if flags & SHM_RND == 0 {
                return Err(Errno::EINVAL);
            }
            addr &= !(SHMLBA - 1);
            if addr == 0 && remap {
                return Err(Errno::EINVAL);
            }
        }
    } else if remap {
        return Err(Errno::EINVAL);
    }
    let fixed = a[1] != 0;
    let rdonly = flags & SHM_RDONLY != 0;
    let exec = flags & SHM_EXEC != 0;
    let c = IpcCred::of(task);
    let ns = task.k.ipc.clone();
    let att = ns.shm_attach(id, rdonly, exec, &c)?;
    let len = map_len(att.size);
    if fixed && !remap && addr.checked_add(len).is_none() {
        return Err(Errno::EINVAL);
    }
    let mut prot = Prot::READ;
    if !rdonly {
        prot = prot | Prot::WRITE;
    }
    if exec {
        prot = prot | Prot::EXEC;
    }
    let placement = match (fixed, remap) {
        (false, _) => Placement::Hint,
        (true, true) => Placement::Fixed,
        (true, false) => Placement::FixedNoReplace,
    };
    let file: std::sync::Arc<dyn MappableFile> = att.file.clone();
    let mapped = task.mm.mmap(Mapping {
        addr,
        len,
        prot,
        shared: true,
        placement,
        backing: Backing::File { file, offset: 0 },
    });
    // On failure this was the attach's last reference: a removed segment may go now.
    drop(att);
    let at = mapped.map_err(|e| if e == Errno::EEXIST { Errno::EINVAL } else { e })?;
    ns.shm_attached(id, false, &c);
    Ok(at)
}

/// Implements `shmdt(2)`: unmaps the attach that starts at `addr` (every part of it
/// still mapped, up to the segment's size); `EINVAL` if none starts there.
fn sys_shmdt(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let addr = a[0];
    if !addr.is_multiple_of(PAGE) {
        return Err(Errno::EINVAL);
    }
    let ns = task.k.ipc.clone();
    let (id, ranges) = {
        let vmas = task.mm.vmas();
        let (id, size, file) = vmas
            .iter()
            .find_map(|v| match &v.backing {
                Backing::File { file, offset: 0 } if v.start == addr => {
                    let (id, size) = ns.shm_of(file)?;
                    Some((id, size, std::sync::Arc::as_ptr(file) as *const ()))
                }
                _ => None,
            })
            .ok_or(Errno::EINVAL)?;
        let end = addr.saturating_add(map_len(size));
        let ranges: Vec<(u64, u64)> = vmas
            .iter()
            .filter(|v| v.start >= addr && v.end <= end)
            .filter(|v| match &v.backing {
                Backing::File { file: f, offset } => {
                    std::sync::Arc::as_ptr(f) as *const () == file
                        && v.start.checked_sub(*offset) == Some(addr)
                }
                Backing::Anon => false,
            })
            .map(|v| (v.start, v.end))
            .collect();
        (id, ranges)
    };
    for (start, end) in ranges {
        task.mm.munmap(start, end - start)?;
    }
    ns.shm_attached(id, true, &IpcCred::of(task));
    Ok(0)
}

/// Implements `shmctl(2)`: `IPC_STAT`, `SHM_STAT`, `SHM_STAT_ANY`, `IPC_SET`, `IPC_RMID`,
/// `IPC_INFO`, `SHM_INFO`, `SHM_LOCK`, `SHM_UNLOCK` (a flag; `EPERM` for another's
/// segment, or with a zero `RLIMIT_MEMLOCK`). `EINVAL` for a negative id or command, an
/// unknown command (`IPC_64` included: x86-64 has only the 64-bit structures).
fn sys_shmctl(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let id = i32_(a[0]);
    let cmd = i32_(a[1]);
    let buf = a[2];
    if id < 0 || cmd < 0 {
        return Err(Errno::EINVAL);
    }
    let c = IpcCred::of(task);
    let ns = task.k.ipc.clone();
    match cmd {
        IPC_INFO => {
            let (info, max) = ns.shm_ipc_info();
            task.mm.write(buf, as_bytes(&info))?;
            Ok(max as u64)
        }
        SHM_INFO => {
            let (info, max) = ns.shm_info();
            task.mm.write(buf, as_bytes(&info))?;
            Ok(max as u64)
        }
        IPC_STAT | SHM_STAT | SHM_STAT_ANY => {
            let (ds, r) = ns.shm_stat(id, cmd != IPC_STAT, cmd == SHM_STAT_ANY, &c)?;
            task.mm.write(buf, as_bytes(&ds))?;
            Ok(r as u64)
        }
        IPC_SET => {
            let ds: Shmid64Ds = task.mm.read_val(buf)?;
            ns.shm_set(id, &ds, &c).map(|()| 0)
        }
        IPC_RMID => ns.shm_rmid(id, &c).map(|()| 0),
        SHM_LOCK | SHM_UNLOCK => {
            let memlock = crate::kernel::rlimits::soft_limit(task, RLIMIT_MEMLOCK) != Some(0);
            ns.shm_lock(id, cmd == SHM_LOCK, memlock, &c).map(|()| 0)
        }
        _ => Err(Errno::EINVAL),
    }
}
