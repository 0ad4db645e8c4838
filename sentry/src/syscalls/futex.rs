//! futex(2) and signals sent to oneself, for single-threaded processes. Multi-threaded waits
//! and signal delivery arrive with issue 4; until then the behaviour here is what Linux does
//! when no other thread exists.

use std::time::Duration;

use snare_abi::file::Timespec;
use snare_abi::Errno;
use snare_syscalls_table::nr;

use super::arg::{i32_, u32_};
use super::Handler;
use crate::kernel::{ExitStatus, Task};
use crate::mm::GuestMemory;

pub(super) const HANDLERS: &[(u32, Handler)] = &[
    (nr::FUTEX, sys_futex),
    (nr::KILL, sys_kill),
    (nr::TGKILL, sys_tgkill),
    (nr::TKILL, sys_tkill),
];

const FUTEX_WAIT: u32 = 0;
const FUTEX_WAKE: u32 = 1;
const FUTEX_REQUEUE: u32 = 3;
const FUTEX_CMP_REQUEUE: u32 = 4;
const FUTEX_WAKE_OP: u32 = 5;
const FUTEX_WAIT_BITSET: u32 = 9;
const FUTEX_WAKE_BITSET: u32 = 10;
const FUTEX_PRIVATE_FLAG: u32 = 128;
const FUTEX_CLOCK_REALTIME: u32 = 256;

/// Implements `futex(2)` for a process with one thread: a wake finds no waiters; a wait whose
/// value matches sleeps until its timeout (for ever without one), since nothing could wake it.
fn sys_futex(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let op = u32_(a[1]);
    let cmd = op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    if !a[0].is_multiple_of(4) {
        return Err(Errno::EINVAL);
    }
    match cmd {
        FUTEX_WAIT | FUTEX_WAIT_BITSET => {
            if cmd == FUTEX_WAIT_BITSET && u32_(a[5]) == 0 {
                return Err(Errno::EINVAL);
            }
            let cur: u32 = task.mm.read_val(a[0])?;
            if cur != u32_(a[2]) {
                return Err(Errno::EAGAIN);
            }
            if a[3] == 0 {
                tracing::warn!(
                    tid = task.tid,
                    "futex wait with no other thread: blocks for ever"
                );
                loop {
                    std::thread::park();
                }
            }
            let t: Timespec = task.mm.read_val(a[3])?;
            if t.tv_sec < 0 || !(0..1_000_000_000).contains(&t.tv_nsec) {
                return Err(Errno::EINVAL);
            }
            let d = Duration::new(t.tv_sec as u64, t.tv_nsec as u32);
            // FUTEX_WAIT takes a relative timeout; the BITSET form an absolute one.
            let wait = if cmd == FUTEX_WAIT {
                d
            } else {
                let clock = if op & FUTEX_CLOCK_REALTIME != 0 {
                    nix::time::ClockId::CLOCK_REALTIME
                } else {
                    nix::time::ClockId::CLOCK_MONOTONIC
                };
                let now = nix::time::clock_gettime(clock).map_err(|e| Errno::new(e as i32))?;
                d.saturating_sub(Duration::from(now))
            };
            std::thread::sleep(wait);
            Err(Errno::ETIMEDOUT)
        }
        FUTEX_WAKE | FUTEX_WAKE_BITSET | FUTEX_REQUEUE | FUTEX_CMP_REQUEUE | FUTEX_WAKE_OP => {
            if cmd == FUTEX_CMP_REQUEUE {
                let cur: u32 = task.mm.read_val(a[0])?;
                if cur != u32_(a[5]) {
                    return Err(Errno::EAGAIN);
                }
            }
            Ok(0)
        }
        _ => Err(Errno::ENOSYS),
    }
}

/// Signal `sig` sent to the calling process. Without signal delivery (issue 4) the outcome is
/// the default action's: terminate, or nothing for signals ignored by default or by
/// disposition. A caught signal can't be delivered yet: the process is terminated and it is
/// logged.
fn signal_self(task: &mut Task, sig: i32) -> Result<u64, Errno> {
    if sig == 0 {
        return Ok(0);
    }
    if !(1..=64).contains(&sig) {
        return Err(Errno::EINVAL);
    }
    let handler = task.sigactions[(sig - 1) as usize].sa_handler;
    const SIG_IGN: u64 = 1;
    // SIGCHLD, SIGCONT, SIGURG, SIGWINCH are ignored by default.
    let ignored_by_default = matches!(sig, 17 | 18 | 23 | 28);
    if sig != 9 && (handler == SIG_IGN || (handler == 0 && ignored_by_default)) {
        return Ok(0);
    }
    if handler > SIG_IGN && sig != 9 {
        tracing::warn!(sig, "signal handlers are not delivered yet: terminating");
    }
    if task.sigmask & (1u64 << (sig - 1)) != 0 && sig != 9 && sig != 19 {
        // Blocked: stays pending, which without delivery means nothing happens.
        return Ok(0);
    }
    task.exit = Some(ExitStatus::Signal(sig));
    Ok(0)
}

/// Implements `kill(2)` for the calling process (pid, 0 or -1 mean it: it is alone).
fn sys_kill(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    match i32_(a[0]) {
        p if p == task.tid || p == 0 || p == -1 || p == -task.tid => signal_self(task, i32_(a[1])),
        _ => Err(Errno::ESRCH),
    }
}

/// Implements `tgkill(2)` for the calling thread.
fn sys_tgkill(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    if i32_(a[0]) <= 0 || i32_(a[1]) <= 0 {
        return Err(Errno::EINVAL);
    }
    if i32_(a[0]) != task.tid || i32_(a[1]) != task.tid {
        return Err(Errno::ESRCH);
    }
    signal_self(task, i32_(a[2]))
}

/// Implements `tkill(2)` for the calling thread.
fn sys_tkill(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    if i32_(a[0]) <= 0 {
        return Err(Errno::EINVAL);
    }
    if i32_(a[0]) != task.tid {
        return Err(Errno::ESRCH);
    }
    signal_self(task, i32_(a[1]))
}
