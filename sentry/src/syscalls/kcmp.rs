//! `kcmp(2)`: whether two threads share a kernel resource (an open file description, the
//! address space, the fd table, the file-system context, the signal handlers).

use std::sync::Arc;

use snare_abi::sched::*;
use snare_abi::Errno;
use snare_syscalls_table::nr;

use super::arg::i32_;
use super::Handler;
use crate::kernel::process::{lock, TaskHandle};
use crate::kernel::{FsContext, Task};
use crate::mm::MemoryManager;
use crate::vfs::FdTable;

pub(super) const HANDLERS: &[(u32, Handler)] = &[(nr::KCMP, sys_kcmp)];

/// Whether the caller may inspect other users' threads (CAP_SYS_PTRACE).
fn cap_sys_ptrace(task: &Task) -> bool {
    task.tg()
        .state()
        .creds
        .capable(snare_abi::caps::Cap::SysPtrace)
}

/// Linux's `ptrace_may_access(PTRACE_MODE_READ_REALCREDS)`: a thread of the caller's own
/// process; else one whose real, effective and saved uids and gids all are the caller's
/// real ones; else CAP_SYS_PTRACE.
pub(super) fn may_inspect(task: &Task, t: &TaskHandle) -> bool {
    if Arc::ptr_eq(&t.tg, task.tg()) {
        return true;
    }
    let me = task.tg().state().creds.clone();
    let c = t.tg.state().creds.clone();
    let same = [c.ruid, c.euid, c.suid].iter().all(|&u| u == me.ruid)
        && [c.rgid, c.egid, c.sgid].iter().all(|&g| g == me.rgid);
    same || cap_sys_ptrace(task)
}

/// A thread's address space, fd table and file-system context: the caller's own, another's
/// as it publishes them (ESRCH once it is exiting).
pub(super) type Parts = (Arc<MemoryManager>, Arc<FdTable>, Arc<FsContext>);

pub(super) fn parts(task: &Task, t: &TaskHandle) -> Result<Parts, Errno> {
    if t.tid == task.tid {
        return Ok((task.mm.clone(), task.fds.clone(), task.fs.clone()));
    }
    let v = lock(&t.view);
    match (v.mm.upgrade(), v.fds.upgrade(), v.fs.upgrade()) {
        (Some(mm), Some(fds), Some(fs)) => Ok((mm, fds, fs)),
        _ => Err(Errno::ESRCH),
    }
}

/// kcmp's answer for two objects: 0 the same, else 1 or 2 by their order.
fn order<T: ?Sized>(a: *const T, b: *const T) -> u64 {
    order_keys(a as *const () as usize, b as *const () as usize)
}

/// [`order`] of two addresses.
fn order_keys(a: usize, b: usize) -> u64 {
    match a.cmp(&b) {
        std::cmp::Ordering::Equal => 0,
        std::cmp::Ordering::Less => 1,
        std::cmp::Ordering::Greater => 2,
    }
}

/// Implements `kcmp(2)`: KCMP_FILE (the same open file description; EBADF if an fd is not
/// open), KCMP_VM, KCMP_FILES, KCMP_FS, KCMP_SIGHAND, KCMP_IO and KCMP_SYSVSEM. Both
/// threads must exist (ESRCH: a tid, 0 names none) and be inspectable by the caller
/// (EPERM). Deviations: only equality (0) means anything, as on Linux; unequal objects
/// answer 1 or 2 by the order of their addresses in the Sentry, where Linux orders
/// scrambled kernel pointers (both orders are stable while the objects live). The signal
/// handlers are per process. A thread has an I/O context of its own once it has set an
/// I/O priority, and none before (so two such threads compare equal, as on Linux before
/// the block layer makes one); System V semaphore undo lists compare as the processes do
/// (a forked child's differs, as natively; threads share theirs). KCMP_EPOLL_TFD is
/// EOPNOTSUPP.
fn sys_kcmp(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let (pid1, pid2, kind) = (i32_(a[0]), i32_(a[1]), i32_(a[2]));
    let find = |pid: i32| -> Result<Arc<TaskHandle>, Errno> {
        if pid <= 0 {
            return Err(Errno::ESRCH);
        }
        lock(&task.k.pids).task(pid).ok_or(Errno::ESRCH)
    };
    let (t1, t2) = (find(pid1)?, find(pid2)?);
    if !may_inspect(task, &t1) || !may_inspect(task, &t2) {
        return Err(Errno::EPERM);
    }
    let kind = u32::try_from(kind).map_err(|_| Errno::EINVAL)?;
    match kind {
        KCMP_FILE | KCMP_VM | KCMP_FILES | KCMP_FS => {
            let (mm1, fds1, fs1) = parts(task, &t1)?;
            let (mm2, fds2, fs2) = parts(task, &t2)?;
            Ok(match kind {
                KCMP_FILE => {
                    // The index is an unsigned int to Linux: the high bits go.
                    let fd = |idx: u64| i32::try_from(idx as u32).map_err(|_| Errno::EBADF);
                    let f1 = fds1.get(fd(a[3])?).map_err(|_| Errno::EBADF)?;
                    let f2 = fds2.get(fd(a[4])?).map_err(|_| Errno::EBADF)?;
                    order(Arc::as_ptr(&f1), Arc::as_ptr(&f2))
                }
                KCMP_VM => order(Arc::as_ptr(&mm1), Arc::as_ptr(&mm2)),
                KCMP_FILES => order(Arc::as_ptr(&fds1), Arc::as_ptr(&fds2)),
                _ => order(Arc::as_ptr(&fs1), Arc::as_ptr(&fs2)),
            })
        }
        KCMP_SIGHAND => Ok(order(Arc::as_ptr(&t1.tg), Arc::as_ptr(&t2.tg))),
        KCMP_IO => {
            let io = |t: &Arc<TaskHandle>| {
                if t.sched().ioprio != 0 {
                    Arc::as_ptr(t) as usize
                } else {
                    0
                }
            };
            Ok(order_keys(io(&t1), io(&t2)))
        }
        KCMP_SYSVSEM => Ok(order(Arc::as_ptr(&t1.tg), Arc::as_ptr(&t2.tg))),
        KCMP_EPOLL_TFD => Err(Errno::EOPNOTSUPP),
        _ => Err(Errno::EINVAL),
    }
}
