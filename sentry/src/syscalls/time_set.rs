//! Setting and steering the clock: clock_settime, settimeofday, adjtimex, clock_adjtime.
//!
//! The sandbox never sets or steers the host's clock, whoever asks: every change is EPERM,
//! what an unprivileged process gets on Linux (and a container's root, which runs without
//! CAP_SYS_TIME), after Linux's own argument checks (EINVAL, EFAULT) in Linux's order.
//! Reading the clock's state (`adjtimex` with no mode) works.

use std::time::{SystemTime, UNIX_EPOCH};

use snare_abi::file::{Timespec, Timeval};
use snare_abi::sched::{
    Timex, ADJ_ADJTIME, ADJ_OFFSET, ADJ_OFFSET_READONLY, STA_UNSYNC, TIME_ERROR,
};
use snare_abi::time::{CLOCKFD, CPUCLOCK_PERTHREAD, CPUCLOCK_WHICH};
use snare_abi::Errno;
use snare_syscalls_table::nr;

use super::arg::i32_;
use super::time::{CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID};
use super::Handler;
use crate::kernel::Task;
use crate::mm::GuestMemory;

pub(super) const HANDLERS: &[(u32, Handler)] = &[
    (nr::CLOCK_SETTIME, sys_clock_settime),
    (nr::SETTIMEOFDAY, sys_settimeofday),
    (nr::ADJTIMEX, sys_adjtimex),
    (nr::CLOCK_ADJTIME, sys_clock_adjtime),
];

/// Latest time `settimeofday` accepts (Linux's `TIME_SETTOD_SEC_MAX`: the largest ktime
/// less 30 years of uptime).
const SETTOD_SEC_MAX: i64 = i64::MAX / 1_000_000_000 - 30 * 365 * 24 * 3600;

/// A clock id as Linux's `clockid_to_kclock` sorts them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Clock {
    /// CLOCK_REALTIME: settable and steerable.
    Realtime,
    /// A thread's or process's CPU-time clock named by a negative id: never settable.
    Cpu,
    /// A clock behind an fd (a PTP device): the sandbox has none.
    Fd,
    /// Another clock Linux knows (MONOTONIC, BOOTTIME, TAI, ...): neither.
    Other,
}

/// Sorts `id`; EINVAL for one Linux doesn't know (a CPU clock of a missing thread or
/// process, or with a bad type, counts as known: its setter says EINVAL).
fn clock(id: i32) -> Result<Clock, Errno> {
    match id {
        0 => Ok(Clock::Realtime),
        // The caller's own CPU clocks have no setter at all (EINVAL, not EPERM).
        CLOCK_PROCESS_CPUTIME_ID | CLOCK_THREAD_CPUTIME_ID => Ok(Clock::Other),
        1 | 4..=9 | 11 => Ok(Clock::Other),
        i if i < 0 && i & (CPUCLOCK_PERTHREAD | CPUCLOCK_WHICH) == CLOCKFD => Ok(Clock::Fd),
        i if i < 0 => Ok(Clock::Cpu),
        _ => Err(Errno::EINVAL),
    }
}

/// Implements `clock_settime(2)`: EINVAL for a clock that can't be set, EFAULT, EINVAL for
/// a bad time, then EPERM (see the module doc: the sandbox never sets the clock).
fn sys_clock_settime(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let id = i32_(a[0]);
    let kind = clock(id)?;
    if kind == Clock::Other {
        return Err(Errno::EINVAL);
    }
    let ts: Timespec = task.mm.read_val(a[1])?;
    match kind {
        Clock::Realtime => {
            if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
                return Err(Errno::EINVAL);
            }
            if ts.tv_sec > SETTOD_SEC_MAX {
                return Err(Errno::EINVAL);
            }
            Err(Errno::EPERM)
        }
        Clock::Cpu if super::time::cpu_clock_owner(task, id, false).is_ok() => Err(Errno::EPERM),
        _ => Err(Errno::EINVAL),
    }
}

/// Implements `settimeofday(2)`: EFAULT, EINVAL for a bad time, then EPERM (also with
/// neither argument, as Linux's permission check comes first then).
fn sys_settimeofday(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let tv: Option<Timeval> = match a[0] {
        0 => None,
        at => Some(task.mm.read_val(at)?),
    };
    if let Some(tv) = tv {
        if !(0..=1_000_000).contains(&tv.tv_usec) {
            return Err(Errno::EINVAL);
        }
    }
    if a[1] != 0 {
        task.mm.read_val::<[u32; 2]>(a[1])?;
    }
    if let Some(tv) = tv {
        if tv.tv_sec < 0 || tv.tv_usec >= 1_000_000 || tv.tv_sec > SETTOD_SEC_MAX {
            return Err(Errno::EINVAL);
        }
    }
    Err(Errno::EPERM)
}

/// `adjtimex` on `t`: only reads pass (no mode, or the single-shot offset's read-only
/// form); a single-shot mode without its offset bit is EINVAL, any other change EPERM.
/// The answer is that of a clock no NTP daemon steers (Linux's state after boot):
/// unsynchronized (TIME_ERROR, STA_UNSYNC), no offset or frequency correction, the
/// current time. Deviation: the host's own NTP state is not shown.
fn do_adjtimex(t: &mut Timex) -> Result<u64, Errno> {
    if t.modes & ADJ_ADJTIME != 0 {
        if t.modes & ADJ_OFFSET == 0 {
            return Err(Errno::EINVAL);
        }
        if t.modes & ADJ_OFFSET_READONLY == 0 {
            return Err(Errno::EPERM);
        }
    } else if t.modes != 0 {
        return Err(Errno::EPERM);
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    // NTP_PHASE_LIMIT: the error bound of a clock nobody synchronized, in µs.
    const UNSYNCED_ERROR: i64 = 16_000_000;
    *t = Timex {
        modes: t.modes,
        offset: 0,
        freq: 0,
        maxerror: UNSYNCED_ERROR,
        esterror: UNSYNCED_ERROR,
        status: STA_UNSYNC,
        constant: 2,
        precision: 1,
        // MAXFREQ (500 ppm) in the kernel's 16.16 fixed point.
        tolerance: 500 << 16,
        time_sec: now.as_secs() as i64,
        time_usec: i64::from(now.subsec_micros()),
        // One clock tick in µs (USER_HZ 100).
        tick: 10_000,
        ..Timex::default()
    };
    Ok(TIME_ERROR)
}

/// `adjtimex` on the guest's `struct timex` at `at`: read, adjusted, written back.
fn adjtimex_at(task: &Task, at: u64) -> Result<u64, Errno> {
    let mut t: Timex = task.mm.read_val(at)?;
    let r = do_adjtimex(&mut t)?;
    task.mm.write(at, snare_abi::pod::as_bytes(&t))?;
    Ok(r)
}

/// Implements `adjtimex(2)` (see [`do_adjtimex`]).
fn sys_adjtimex(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    adjtimex_at(task, a[0])
}

/// Implements `clock_adjtime(2)`: CLOCK_REALTIME as `adjtimex`; EOPNOTSUPP for the other
/// clocks Linux knows but can't steer, EINVAL for the rest (an fd clock: the sandbox has
/// no PTP device).
fn sys_clock_adjtime(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    match clock(i32_(a[0]))? {
        Clock::Realtime => adjtimex_at(task, a[1]),
        Clock::Fd => {
            task.mm.read_val::<Timex>(a[1])?;
            Err(Errno::EINVAL)
        }
        Clock::Cpu | Clock::Other => Err(Errno::EOPNOTSUPP),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjtimex_reads_and_refuses_changes() {
        let mut t = Timex::default();
        assert_eq!(do_adjtimex(&mut t), Ok(TIME_ERROR));
        assert_eq!(
            (t.status, t.tick, t.maxerror),
            (STA_UNSYNC, 10_000, 16_000_000)
        );
        assert!(t.time_sec > 1_600_000_000);
        let mut ss_read = Timex {
            modes: 0xa001,
            ..Timex::default()
        };
        assert_eq!(do_adjtimex(&mut ss_read), Ok(TIME_ERROR));
        assert_eq!(ss_read.modes, 0xa001);
        for (modes, e) in [
            (0x8001, Errno::EPERM),
            (0x8000, Errno::EINVAL),
            (0xa000, Errno::EINVAL),
            (0x0001, Errno::EPERM),
            (0x4000, Errno::EPERM),
        ] {
            let mut t = Timex {
                modes,
                ..Timex::default()
            };
            assert_eq!(do_adjtimex(&mut t), Err(e), "{modes:#x}");
        }
    }

    #[test]
    fn clocks_sort_as_linux() {
        assert_eq!(clock(0), Ok(Clock::Realtime));
        assert_eq!(clock(1), Ok(Clock::Other));
        assert_eq!(clock(2), Ok(Clock::Other));
        assert_eq!(clock(10), Err(Errno::EINVAL));
        assert_eq!(clock(12), Err(Errno::EINVAL));
        assert_eq!(clock((!5 << 3) | 3), Ok(Clock::Fd), "fd 5");
        assert_eq!(clock(-3), Ok(Clock::Cpu));
        assert_eq!(clock(-2), Ok(Clock::Cpu));
    }
}
