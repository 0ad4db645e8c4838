//! POSIX per-process timers: timer_create, timer_settime, timer_gettime, timer_getoverrun,
//! timer_delete. The timers live in `kernel/timers.rs`.

use std::sync::Arc;

use snare_abi::signal::{
    Sigevent, SIGALRM, SIGEV_NONE, SIGEV_SIGNAL, SIGEV_THREAD, SIGEV_THREAD_ID,
};
use snare_abi::time::{CPUCLOCK_VIRT, CPUCLOCK_WHICH};
use snare_abi::Errno;
use snare_syscalls_table::nr;

use super::arg::{i32_, u32_};
use super::ipc::{read_timespec, write_itimerspec};
use super::time::{
    cpu_clock_owner, CpuClockOwner, CLOCK_MONOTONIC_COARSE, CLOCK_MONOTONIC_RAW,
    CLOCK_PROCESS_CPUTIME_ID, CLOCK_REALTIME_COARSE, CLOCK_THREAD_CPUTIME_ID,
};
use super::Handler;
use crate::kernel::process::lock;
use crate::kernel::timers::{self, Notify, TimerClock};
use crate::kernel::Task;
use crate::mm::GuestMemory;
use crate::vfs::timerfd::Clock;

pub(super) const HANDLERS: &[(u32, Handler)] = &[
    (nr::TIMER_CREATE, sys_timer_create),
    (nr::TIMER_SETTIME, sys_timer_settime),
    (nr::TIMER_GETTIME, sys_timer_gettime),
    (nr::TIMER_GETOVERRUN, sys_timer_getoverrun),
    (nr::TIMER_DELETE, sys_timer_delete),
];

/// `timer_settime` flag: the value is a time on the timer's clock.
const TIMER_ABSTIME: u32 = 1;

/// The clock of a `timer_create` clock id. The alarm clocks are EPERM (no
/// `CAP_WAKE_ALARM`), clocks without timers EOPNOTSUPP, as on Linux; a CPU clock id names
/// what `cpu_clock_owner` finds (another process's too). Deviations: CLOCK_TAI is EINVAL;
/// a thread's CPU clock counts user and system time whichever it names.
fn timer_clock(task: &Task, id: i32) -> Result<TimerClock, Errno> {
    if id < 0 {
        let user_only = id & CPUCLOCK_WHICH == CPUCLOCK_VIRT;
        return Ok(match cpu_clock_owner(task, id, false)? {
            CpuClockOwner::Thread(t) => TimerClock::ThreadCpu(Arc::downgrade(&t)),
            CpuClockOwner::Process(g) if Arc::ptr_eq(&g, task.tg()) => {
                TimerClock::ProcessCpu { user_only }
            }
            CpuClockOwner::Process(g) => TimerClock::OtherProcessCpu {
                of: Arc::downgrade(&g),
                user_only,
            },
        });
    }
    match id {
        CLOCK_PROCESS_CPUTIME_ID => Ok(TimerClock::ProcessCpu { user_only: false }),
        CLOCK_THREAD_CPUTIME_ID => Ok(TimerClock::ThreadCpu(Arc::downgrade(&task.handle))),
        CLOCK_MONOTONIC_RAW | CLOCK_REALTIME_COARSE | CLOCK_MONOTONIC_COARSE => {
            Err(Errno::EOPNOTSUPP)
        }
        _ => Clock::from_id(id).map(TimerClock::Wall),
    }
}

/// Implements `timer_create(2)`: SIGEV_SIGNAL, SIGEV_NONE and SIGEV_THREAD_ID (what glibc's
/// SIGEV_THREAD is built on). A null `sevp` means SIGALRM with the timer id as value.
/// Deviation: a disarmed SIGEV_NONE timer reads zero (Linux 6.18 still counts it down).
fn sys_timer_create(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let ev: Option<Sigevent> = if a[1] != 0 {
        Some(task.mm.read_val(a[1])?)
    } else {
        None
    };
    let clock = timer_clock(task, i32_(a[0]))?;
    let notify = match ev {
        None => None,
        Some(e) => Some(match e.sigev_notify {
            SIGEV_NONE => Notify::None,
            // A raw SIGEV_THREAD is a plain signal to the kernel (glibc builds the thread).
            SIGEV_SIGNAL | SIGEV_THREAD | SIGEV_THREAD_ID => {
                if !(1..=64).contains(&e.sigev_signo) {
                    return Err(Errno::EINVAL);
                }
                let thread = if e.sigev_notify == SIGEV_THREAD_ID {
                    let t = lock(&task.k.pids)
                        .task(e.sigev_tid)
                        .filter(|t| t.tg.tgid == task.tgid())
                        .ok_or(Errno::EINVAL)?;
                    Some(Arc::downgrade(&t))
                } else {
                    None
                };
                Notify::Signal {
                    sig: e.sigev_signo,
                    value: e.sigev_value,
                    thread,
                }
            }
            _ => return Err(Errno::EINVAL),
        }),
    };
    let id = timers::create(task.tg(), clock, |id| {
        notify.unwrap_or(Notify::Signal {
            sig: SIGALRM,
            value: u64::from(id as u32),
            thread: None,
        })
    })?;
    if let Err(e) = task.mm.write(a[2], &id.to_ne_bytes()) {
        let _ = timers::delete(task.tg(), id);
        return Err(e);
    }
    Ok(0)
}

/// Implements `timer_settime(2)`: relative or TIMER_ABSTIME, with an interval; a zero value
/// disarms. Other flag bits are ignored, as Linux does.
fn sys_timer_settime(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let t = timers::get(task.tg(), i32_(a[0]))?;
    let interval = read_timespec(task, a[2])?;
    let value = read_timespec(task, a[2].wrapping_add(16))?;
    let old = t.settime(u32_(a[1]) & TIMER_ABSTIME != 0, interval, value);
    if a[3] != 0 {
        write_itimerspec(task, a[3], old)?;
    }
    Ok(0)
}

/// Implements `timer_gettime(2)`.
fn sys_timer_gettime(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let t = timers::get(task.tg(), i32_(a[0]))?;
    write_itimerspec(task, a[1], t.gettime())?;
    Ok(0)
}

/// Implements `timer_getoverrun(2)`: the overruns of the timer's last signal taken.
fn sys_timer_getoverrun(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let t = timers::get(task.tg(), i32_(a[0]))?;
    Ok(t.overrun() as u64)
}

/// Implements `timer_delete(2)`. A signal of the timer still pending stays pending.
fn sys_timer_delete(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    timers::delete(task.tg(), i32_(a[0]))?;
    Ok(0)
}
