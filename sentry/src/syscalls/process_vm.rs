//! Reaching into another process of the sandbox: `process_vm_readv(2)`,
//! `process_vm_writev(2)` (its memory) and `pidfd_getfd(2)` (one of its files), with
//! Linux's ptrace access check (`kcmp::may_inspect`: the caller's own process, one whose
//! ids all are the caller's real ones, or CAP_SYS_PTRACE).

use std::sync::Arc;

use snare_abi::Errno;
use snare_syscalls_table::nr;

use super::arg::i32_;
use super::kcmp::{may_inspect, parts};
use super::read_write::iovecs;
use super::Handler;
use crate::kernel::process::{lock, TaskHandle};
use crate::kernel::Task;
use crate::mm::GuestMemory;

pub(super) const HANDLERS: &[(u32, Handler)] = &[
    (nr::PROCESS_VM_READV, sys_process_vm_readv),
    (nr::PROCESS_VM_WRITEV, sys_process_vm_writev),
    (nr::PIDFD_GETFD, sys_pidfd_getfd),
];

/// Bytes moved per step: a page, so a fault stops the transfer where Linux's does.
const STEP: u64 = 4096;

/// Implements `process_vm_readv(2)`.
fn sys_process_vm_readv(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    transfer(task, a, false)
}

/// Implements `process_vm_writev(2)`.
fn sys_process_vm_writev(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    transfer(task, a, true)
}

/// Moves bytes between the caller's `local` iovecs and process `pid`'s `remote` ones, in
/// order, until either list ends or a page of either side faults. Returns the bytes moved;
/// EFAULT when a fault stops it before the first byte. Flags must be 0 (EINVAL), the
/// vectors at most IOV_MAX long (EINVAL); ESRCH for no such process (or one that is
/// exiting), EPERM when the caller may not inspect it. Deviation: Linux's man page says a
/// transfer is not split inside one iovec element; its code (and this) stops at the page.
fn transfer(task: &mut Task, a: [u64; 6], write: bool) -> Result<u64, Errno> {
    if a[5] != 0 {
        return Err(Errno::EINVAL);
    }
    let local = iovecs(task, a[1], a[2])?;
    let remote = iovecs(task, a[3], a[4])?;
    // The caller's own vectors must lie in user space (Linux's `access_ok` on import).
    const USER_END: u64 = 0x7fff_ffff_f000;
    if local.iter().any(|l| {
        l.iov_base
            .checked_add(l.iov_len)
            .is_none_or(|e| e > USER_END)
    }) {
        return Err(Errno::EFAULT);
    }
    let target = find(task, i32_(a[0]))?;
    if !may_inspect(task, &target) {
        return Err(Errno::EPERM);
    }
    let (other, _, _) = parts(task, &target)?;
    let (mut li, mut loff) = (0usize, 0u64);
    let mut moved = 0u64;
    let mut buf = vec![0u8; STEP as usize];
    'outer: for r in &remote {
        let mut roff = 0u64;
        while roff < r.iov_len {
            // The local element with room left.
            while li < local.len() && loff >= local[li].iov_len {
                li += 1;
                loff = 0;
            }
            let Some(l) = local.get(li) else {
                break 'outer;
            };
            let raddr = r.iov_base.wrapping_add(roff);
            let laddr = l.iov_base.wrapping_add(loff);
            // To the end of the page on both sides, within both elements.
            let page_left = |addr: u64| STEP - addr % STEP;
            let n = (r.iov_len - roff)
                .min(l.iov_len - loff)
                .min(page_left(raddr))
                .min(page_left(laddr)) as usize;
            let chunk = &mut buf[..n];
            let ok = if write {
                task.mm.read(laddr, chunk).is_ok() && other.write(raddr, chunk).is_ok()
            } else {
                other.read(raddr, chunk).is_ok() && task.mm.write(laddr, chunk).is_ok()
            };
            if !ok {
                break 'outer;
            }
            moved += n as u64;
            roff += n as u64;
            loff += n as u64;
        }
    }
    // Guest lengths: up to 1024 of isize::MAX each, so the sums saturate.
    let total =
        |v: &[snare_abi::file::Iovec]| v.iter().fold(0u64, |s, e| s.saturating_add(e.iov_len));
    if moved == 0 && total(&remote).min(total(&local)) > 0 {
        return Err(Errno::EFAULT);
    }
    Ok(moved)
}

/// The thread `pid` names (any thread id, as Linux's lookup), or ESRCH.
fn find(task: &Task, pid: i32) -> Result<Arc<TaskHandle>, Errno> {
    if pid <= 0 {
        return Err(Errno::ESRCH);
    }
    if pid == task.tid {
        return Ok(task.handle.clone());
    }
    lock(&task.k.pids)
        .tasks
        .get(&pid)
        .cloned()
        .ok_or(Errno::ESRCH)
}

/// Implements `pidfd_getfd(2)`: a copy (close-on-exec) of process `pidfd`'s fd `targetfd`.
/// EINVAL for flags; EBADF when `pidfd` is no pidfd or `targetfd` is not open there; ESRCH
/// once the process is exiting; EPERM when the caller may not inspect it.
fn sys_pidfd_getfd(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    if a[2] != 0 {
        return Err(Errno::EINVAL);
    }
    let f = task.fds.get(i32_(a[0]))?;
    let tg = match (*f).as_any().downcast_ref::<crate::kernel::pidfd::PidFd>() {
        Some(p) => p.tg.clone(),
        None => return Err(Errno::EBADF),
    };
    let target = {
        let st = tg.state();
        if st.zombie.is_some() {
            return Err(Errno::ESRCH);
        }
        st.threads.first().cloned().ok_or(Errno::ESRCH)?
    };
    if !may_inspect(task, &target) {
        return Err(Errno::EPERM);
    }
    let (_, fds, _) = parts(task, &target)?;
    let file = fds.get(i32_(a[1]))?;
    let fd = task.fds.install(file, true, 0, task.nofile())?;
    Ok(fd as u64)
}
