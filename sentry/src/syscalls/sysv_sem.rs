//! System V semaphores: semget, semop, semtimedop, semctl. Decodes and checks the guest's
//! words in Linux's order (every count before anything is allocated for it), then calls
//! the sandbox's IPC namespace (`kernel/ipc/sem.rs`).
//!
//! As Linux, flag bits these calls don't know are ignored (not `EINVAL`).

use std::time::{Duration, Instant};

use snare_abi::file::Timespec;
use snare_abi::ipc::{
    Sembuf, Semid64Ds, GETALL, GETNCNT, GETPID, GETVAL, GETZCNT, IPC_INFO, IPC_RMID, IPC_SET,
    IPC_STAT, SEM_INFO, SEM_STAT, SEM_STAT_ANY, SETALL, SETVAL,
};
use snare_abi::pod::as_bytes;
use snare_abi::Errno;
use snare_syscalls_table::nr;

use super::arg::{i32_, u32_};
use super::Handler;
use crate::kernel::ipc::IpcCred;
use crate::kernel::Task;
use crate::mm::GuestMemory;

pub(super) const HANDLERS: &[(u32, Handler)] = &[
    (nr::SEMGET, sys_semget),
    (nr::SEMOP, sys_semop),
    (nr::SEMTIMEDOP, sys_semtimedop),
    (nr::SEMCTL, sys_semctl),
];

/// Implements `semget(2)`: `EINVAL` for a negative `nsems` or one over `semmsl`, for 0
/// when making a set, or more than an existing set has. Limits: `kernel/ipc/sem.rs`.
fn sys_semget(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let nsems = u32::try_from(i32_(a[1])).map_err(|_| Errno::EINVAL)?;
    let c = IpcCred::of(task);
    task.k
        .ipc
        .semget(i32_(a[0]), nsems, u32_(a[2]), &c)
        .map(|id| id as u64)
}

/// Implements `semop(2)`: [`do_semtimedop`] without a timeout.
fn sys_semop(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_semtimedop(task, a[0], a[1], a[2], None)
}

/// Implements `semtimedop(2)`: the relative timeout read first (`EFAULT`), checked after
/// the operations (`EINVAL`); at its end the call fails with `EAGAIN`.
fn sys_semtimedop(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let timeout = match a[3] {
        0 => None,
        addr => Some(task.mm.read_val::<Timespec>(addr)?),
    };
    do_semtimedop(task, a[0], a[1], a[2], timeout)
}

/// `semtimedop`'s checks in Linux's order: `EINVAL` for no operations or a negative id,
/// `E2BIG` past `semopm` (before the array is read), `EFAULT`, `EINVAL` for a bad
/// timeout; then the namespace's (`EFBIG`, `EACCES`, `EAGAIN`, `ERANGE`, `EIDRM`,
/// `EINTR` — never restarted).
fn do_semtimedop(
    task: &mut Task,
    id: u64,
    addr: u64,
    nsops: u64,
    timeout: Option<Timespec>,
) -> Result<u64, Errno> {
    let id = i32_(id);
    let nsops = u32_(nsops);
    if nsops < 1 || id < 0 {
        return Err(Errno::EINVAL);
    }
    let ns = task.k.ipc.clone();
    if nsops > ns.limits().semopm {
        return Err(Errno::E2BIG);
    }
    let size = std::mem::size_of::<Sembuf>();
    let mut raw = vec![0u8; nsops as usize * size];
    task.mm.read(addr, &mut raw)?;
    let sops: Vec<Sembuf> = raw
        .chunks_exact(size)
        .map(|b| Sembuf {
            sem_num: u16::from_ne_bytes([b[0], b[1]]),
            sem_op: i16::from_ne_bytes([b[2], b[3]]),
            sem_flg: i16::from_ne_bytes([b[4], b[5]]),
        })
        .collect();
    let deadline = match timeout {
        None => None,
        Some(t) => {
            if t.tv_sec < 0 || !(0..1_000_000_000).contains(&t.tv_nsec) {
                return Err(Errno::EINVAL);
            }
            // Too far off to represent: no deadline at all.
            Instant::now().checked_add(Duration::new(t.tv_sec as u64, t.tv_nsec as u32))
        }
    };
    let c = IpcCred::of(task);
    let undo = task.sem_undo.clone();
    ns.semop(id, &sops, deadline, &undo, &c).map(|()| 0)
}

/// Implements `semctl(2)`: `GETVAL`, `SETVAL`, `GETALL`, `SETALL`, `GETPID`, `GETNCNT`,
/// `GETZCNT`, `IPC_STAT`, `SEM_STAT`, `SEM_STAT_ANY`, `IPC_SET`, `IPC_RMID`, `IPC_INFO`,
/// `SEM_INFO`. The fourth argument is `union semun` passed by value: `SETVAL`'s value in
/// its low 32 bits, else a pointer. `EINVAL` for a negative id, an unknown command
/// (`IPC_64` included).
fn sys_semctl(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let id = i32_(a[0]);
    let num = i32_(a[1]);
    let cmd = i32_(a[2]);
    let arg = a[3];
    if id < 0 {
        return Err(Errno::EINVAL);
    }
    let c = IpcCred::of(task);
    let ns = task.k.ipc.clone();
    match cmd {
        IPC_INFO | SEM_INFO => {
            let (info, max) = ns.sem_info(cmd == SEM_INFO);
            task.mm.write(arg, as_bytes(&info))?;
            Ok(max as u64)
        }
        IPC_STAT | SEM_STAT | SEM_STAT_ANY => {
            let (ds, r) = ns.sem_stat(id, cmd != IPC_STAT, cmd == SEM_STAT_ANY, &c)?;
            task.mm.write(arg, as_bytes(&ds))?;
            Ok(r as u64)
        }
        GETALL => {
            let vals = ns.sem_getall(id, &c)?;
            let bytes: Vec<u8> = vals.iter().flat_map(|v| v.to_ne_bytes()).collect();
            task.mm.write(arg, &bytes)?;
            Ok(0)
        }
        SETALL => {
            let n = ns.sem_nsems(id, true, &c)?;
            let mut bytes = vec![0u8; n * 2];
            task.mm.read(arg, &mut bytes)?;
            let vals: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|b| u16::from_ne_bytes([b[0], b[1]]))
                .collect();
            ns.sem_setall(id, &vals, &c).map(|()| 0)
        }
        GETVAL | GETPID | GETNCNT | GETZCNT => ns.sem_get(id, num, cmd, &c).map(|v| v as u64),
        SETVAL => ns.sem_setval(id, num, i32_(arg), &c).map(|()| 0),
        IPC_RMID => ns.sem_rmid(id, &c).map(|()| 0),
        IPC_SET => {
            let ds: Semid64Ds = task.mm.read_val(arg)?;
            ns.sem_set(id, &ds, &c).map(|()| 0)
        }
        _ => Err(Errno::EINVAL),
    }
}
