//! Files for talking between tasks and with time: pipe, pipe2, eventfd, eventfd2,
//! timerfd_create, timerfd_settime, timerfd_gettime. The objects live in `vfs/`.

use std::sync::Arc;
use std::time::Duration;

use snare_abi::file::{o, Timespec};
use snare_abi::Errno;
use snare_syscalls_table::nr;

use super::arg::{check_flags, fd, i32_, u32_};
use super::Handler;
use crate::kernel::Task;
use crate::mm::GuestMemory;
use crate::vfs::eventfd::{EventFd, EFD_SEMAPHORE};
use crate::vfs::pipe::Pipe;
use crate::vfs::timerfd::{Clock, TimerFd, TFD_TIMER_ABSTIME, TFD_TIMER_CANCEL_ON_SET};
use crate::vfs::FileDescription;

pub(super) const HANDLERS: &[(u32, Handler)] = &[
    (nr::PIPE, sys_pipe),
    (nr::PIPE2, sys_pipe2),
    (nr::EVENTFD, sys_eventfd),
    (nr::EVENTFD2, sys_eventfd2),
    (nr::TIMERFD_CREATE, sys_timerfd_create),
    (nr::TIMERFD_SETTIME, sys_timerfd_settime),
    (nr::TIMERFD_GETTIME, sys_timerfd_gettime),
];

/// Installs a new file at the lowest free fd.
fn install(task: &Task, file: Arc<dyn FileDescription>, flags: u32) -> Result<u64, Errno> {
    task.fds
        .install(file, flags & o::CLOEXEC != 0, 0, task.nofile())
        .map(|n| n as u64)
}

/// Implements `pipe(2)`.
fn sys_pipe(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_pipe2(task, a[0], 0)
}

/// Implements `pipe2(2)`: `O_CLOEXEC`, `O_NONBLOCK`, `O_DIRECT` (packet mode).
/// `O_NOTIFICATION_PIPE` is refused (EINVAL), as on kernels without watch queues.
fn sys_pipe2(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let flags = check_flags(u32_(a[1]), o::CLOEXEC | o::NONBLOCK | o::DIRECT)?;
    do_pipe2(task, a[0], flags)
}

fn do_pipe2(task: &Task, addr: u64, flags: u32) -> Result<u64, Errno> {
    let (r, w) = Pipe::new_pair(flags, task.k.uid, task.k.gid);
    let limit = task.nofile();
    let rfd = task.fds.install(r, flags & o::CLOEXEC != 0, 0, limit)?;
    let wfd = match task.fds.install(w, flags & o::CLOEXEC != 0, 0, limit) {
        Ok(n) => n,
        Err(e) => {
            let _ = task.fds.close(rfd);
            return Err(e);
        }
    };
    let mut pair = [0u8; 8];
    pair[..4].copy_from_slice(&rfd.to_ne_bytes());
    pair[4..].copy_from_slice(&wfd.to_ne_bytes());
    if let Err(e) = task.mm.write(addr, &pair) {
        let _ = task.fds.close(rfd);
        let _ = task.fds.close(wfd);
        return Err(e);
    }
    Ok(0)
}

/// Implements `eventfd(2)` (no flags).
fn sys_eventfd(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_eventfd2(task, u32_(a[0]), 0)
}

/// Implements `eventfd2(2)`: `EFD_SEMAPHORE`, `EFD_NONBLOCK`, `EFD_CLOEXEC`.
fn sys_eventfd2(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let flags = check_flags(u32_(a[1]), EFD_SEMAPHORE | o::NONBLOCK | o::CLOEXEC)?;
    do_eventfd2(task, u32_(a[0]), flags)
}

fn do_eventfd2(task: &Task, init: u32, flags: u32) -> Result<u64, Errno> {
    let e = EventFd::new(init, flags, task.k.uid, task.k.gid);
    install(task, Arc::new(e), flags)
}

/// Implements `timerfd_create(2)`: CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME;
/// `TFD_NONBLOCK`, `TFD_CLOEXEC`.
fn sys_timerfd_create(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let flags = check_flags(u32_(a[1]), o::NONBLOCK | o::CLOEXEC)?;
    let clock = Clock::from_id(i32_(a[0]))?;
    let t = TimerFd::new(clock, flags, task.k.uid, task.k.gid);
    install(task, Arc::new(t), flags)
}

/// A guest `struct timespec` as a duration: EINVAL unless normalized and non-negative;
/// clamped to Linux's `KTIME_MAX` (a timer set further off never fires).
pub(super) fn read_timespec(task: &Task, addr: u64) -> Result<Duration, Errno> {
    let t: Timespec = task.mm.read_val(addr)?;
    if t.tv_sec < 0 || !(0..1_000_000_000).contains(&t.tv_nsec) {
        return Err(Errno::EINVAL);
    }
    Ok(crate::kernel::timer_service::ktime(Duration::new(
        t.tv_sec as u64,
        t.tv_nsec as u32,
    )))
}

/// Writes a guest `struct itimerspec` (interval, value).
pub(super) fn write_itimerspec(
    task: &Task,
    addr: u64,
    (iv, val): (Duration, Duration),
) -> Result<(), Errno> {
    let mut b = [0u8; 32];
    for (i, d) in [iv, val].into_iter().enumerate() {
        b[16 * i..16 * i + 8].copy_from_slice(&(d.as_secs() as i64).to_ne_bytes());
        b[16 * i + 8..16 * i + 16].copy_from_slice(&i64::from(d.subsec_nanos()).to_ne_bytes());
    }
    task.mm.write(addr, &b)
}

/// Runs `f` on the timerfd behind fd `n`: EBADF if no file, EINVAL if not a timerfd.
fn with_timerfd<T>(task: &Task, n: i32, f: impl FnOnce(&TimerFd) -> T) -> Result<T, Errno> {
    let file = task.fds.get(n)?;
    let t = (*file)
        .as_any()
        .downcast_ref::<TimerFd>()
        .ok_or(Errno::EINVAL)?;
    Ok(f(t))
}

/// Implements `timerfd_settime(2)`: relative or `TFD_TIMER_ABSTIME`, with an interval.
/// `TFD_TIMER_CANCEL_ON_SET` is accepted with `TFD_TIMER_ABSTIME` but never cancels.
fn sys_timerfd_settime(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let flags = check_flags(u32_(a[1]), TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET)?;
    let interval = read_timespec(task, a[2])?;
    let value = read_timespec(task, a[2].wrapping_add(16))?;
    let old = with_timerfd(task, fd(a[0]), |t| t.settime(flags, interval, value))?;
    if a[3] != 0 {
        write_itimerspec(task, a[3], old)?;
    }
    Ok(0)
}

/// Implements `timerfd_gettime(2)`.
fn sys_timerfd_gettime(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let now = with_timerfd(task, fd(a[0]), TimerFd::gettime)?;
    write_itimerspec(task, a[1], now)?;
    Ok(0)
}
