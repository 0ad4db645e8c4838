//! Time and randomness: clock_gettime and friends (CPU-time clocks by id included:
//! `cpu_clock_owner`), nanosleep, getrandom, sysinfo, times.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use snare_abi::file::{Timespec, Timeval};
use snare_abi::time::{
    cpuclock_pid, CLOCKFD, CPUCLOCK_PERTHREAD, CPUCLOCK_SCHED, CPUCLOCK_VIRT, CPUCLOCK_WHICH,
};
use snare_abi::Errno;
use snare_syscalls_table::nr;

use super::arg::{i32_, len, u32_};
use super::Handler;
use crate::kernel::process::{lock, TaskHandle, ThreadGroup};
use crate::kernel::{RestartBlock, Task};
use crate::mm::GuestMemory;

pub(super) const HANDLERS: &[(u32, Handler)] = &[
    (nr::CLOCK_GETTIME, sys_clock_gettime),
    (nr::CLOCK_GETRES, sys_clock_getres),
    (nr::GETTIMEOFDAY, sys_gettimeofday),
    (nr::TIME, sys_time),
    (nr::NANOSLEEP, sys_nanosleep),
    (nr::CLOCK_NANOSLEEP, sys_clock_nanosleep),
    (nr::RESTART_SYSCALL, sys_restart_syscall),
    (nr::GETRANDOM, sys_getrandom),
    (nr::SYSINFO, sys_sysinfo),
    (nr::TIMES, sys_times),
    (nr::GETRUSAGE, sys_getrusage),
];

/// CPU time the guest thread has used, (user, system), in microseconds: its stub threads'
/// own accounting.
fn guest_cpu_us(task: &Task) -> (u64, u64) {
    crate::kernel::timers::thread_cpu(&task.handle)
}

/// CPU time the guest process has used, its exited threads included, (user, system) µs.
pub(super) fn process_cpu_us(task: &Task) -> (u64, u64) {
    let (u, total) = crate::kernel::timers::process_cpu(task.tg());
    let u = u.as_micros() as u64;
    (u, (total.as_micros() as u64).saturating_sub(u))
}

/// CPU time, (user, system) µs, of the children the process waited for; from now on every
/// process banks its time at exit for this (see `Kernel::children_cpu_wanted`).
pub(super) fn children_cpu_us(task: &Task) -> (u64, u64) {
    want_children_cpu(task);
    task.tg().state().children_cpu
}

/// From now on every process banks its CPU time at exit, for its parent's children's time.
pub(super) fn want_children_cpu(task: &Task) {
    task.k
        .children_cpu_wanted
        .store(true, std::sync::atomic::Ordering::Relaxed);
}

/// A `struct rusage` with these CPU times (µs) and maximum resident set (KiB); the other
/// fields are zero.
pub(super) fn rusage_bytes(user_us: u64, sys_us: u64, maxrss_kb: i64) -> [u8; 144] {
    let mut b = [0u8; 144];
    let tv = |us: u64| -> [u8; 16] {
        let mut t = [0u8; 16];
        t[0..8].copy_from_slice(&((us / 1_000_000) as i64).to_ne_bytes());
        t[8..16].copy_from_slice(&((us % 1_000_000) as i64).to_ne_bytes());
        t
    };
    b[0..16].copy_from_slice(&tv(user_us));
    b[16..32].copy_from_slice(&tv(sys_us));
    b[32..40].copy_from_slice(&maxrss_kb.to_ne_bytes());
    b
}

/// Implements `times(2)`: the process's CPU time and its waited-for children's, in ticks.
fn sys_times(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let (u, s) = process_cpu_us(task);
    let (cu, cs) = children_cpu_us(task);
    if a[0] != 0 {
        let mut b = [0u8; 32];
        for (i, us) in [u, s, cu, cs].into_iter().enumerate() {
            b[i * 8..i * 8 + 8].copy_from_slice(&(us / 10_000).to_ne_bytes());
        }
        task.mm.write(a[0], &b)?;
    }
    Ok((task.k.boot.elapsed().as_millis() / 10) as u64)
}

/// Implements `getrusage(2)`: CPU times of the process (RUSAGE_SELF, exited threads
/// included), the thread (RUSAGE_THREAD) or the children it waited for (RUSAGE_CHILDREN,
/// theirs included); other fields zero except maxrss.
fn sys_getrusage(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let who = i32_(a[0]);
    let (u, s) = match who {
        0 => process_cpu_us(task),
        1 => guest_cpu_us(task),
        -1 => children_cpu_us(task),
        _ => return Err(Errno::EINVAL),
    };
    let maxrss_kb = if who == -1 {
        0
    } else {
        task.mm.resident_pages() as i64 * 4
    };
    task.mm.write(a[1], &rusage_bytes(u, s, maxrss_kb))?;
    Ok(0)
}

/// Implements `sysinfo(2)`: uptime of the sandbox, the host's memory figures, one process.
fn sys_sysinfo(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    // struct sysinfo: uptime, loads[3], totalram, freeram, sharedram, bufferram, totalswap,
    // freeswap (longs), procs (u16), pad, totalhigh, freehigh, mem_unit (u32): 112 bytes.
    let mut b = [0u8; 112];
    let (total, free) = host_memory();
    let longs: [u64; 10] = [
        task.k.boot.elapsed().as_secs(),
        0,
        0,
        0,
        total,
        free,
        0,
        0,
        0,
        0,
    ];
    for (i, v) in longs.iter().enumerate() {
        b[8 * i..8 * i + 8].copy_from_slice(&v.to_ne_bytes());
    }
    b[80..82].copy_from_slice(&1u16.to_ne_bytes());
    b[104..108].copy_from_slice(&1u32.to_ne_bytes());
    task.mm.write(a[0], &b)?;
    Ok(0)
}

/// Total and available memory of the host in bytes, from /proc/meminfo.
fn host_memory() -> (u64, u64) {
    let info = snare_platform::host_proc::read_to_string("meminfo").unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("MemTotal:"), field("MemAvailable:"))
}

const CLOCK_REALTIME: i32 = 0;
const CLOCK_MONOTONIC: i32 = 1;
pub(super) const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
pub(super) const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
pub(super) const CLOCK_MONOTONIC_RAW: i32 = 4;
pub(super) const CLOCK_REALTIME_COARSE: i32 = 5;
pub(super) const CLOCK_MONOTONIC_COARSE: i32 = 6;
const CLOCK_BOOTTIME: i32 = 7;

fn now(task: &Task, clock: i32) -> Result<Duration, Errno> {
    match clock {
        CLOCK_REALTIME | CLOCK_REALTIME_COARSE => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| Errno::EINVAL),
        CLOCK_MONOTONIC | CLOCK_MONOTONIC_RAW | CLOCK_MONOTONIC_COARSE | CLOCK_BOOTTIME => {
            nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
                .map(Duration::from)
                .map_err(|e| Errno::new(e as i32))
        }
        // All threads' CPU time, exited ones included (see `kernel/timers.rs`).
        CLOCK_PROCESS_CPUTIME_ID => Ok(crate::kernel::timers::process_cpu(task.tg()).1),
        CLOCK_THREAD_CPUTIME_ID => {
            let (u, s) = guest_cpu_us(task);
            Ok(Duration::from_micros(u + s))
        }
        id if id < 0 => {
            let (u, s) = match cpu_clock_owner(task, id, true)? {
                CpuClockOwner::Thread(t) => crate::kernel::timers::thread_cpu(&t),
                CpuClockOwner::Process(g) => {
                    let (u, total) = crate::kernel::timers::process_cpu(&g);
                    let u = u.as_micros() as u64;
                    (u, (total.as_micros() as u64).saturating_sub(u))
                }
            };
            // VIRT counts user time; PROF and SCHED all of it (SCHED is the scheduler's
            // runtime, which the stubs' accounting is).
            let us = if id & CPUCLOCK_WHICH == CPUCLOCK_VIRT {
                u
            } else {
                u + s
            };
            Ok(Duration::from_micros(us))
        }
        _ => Err(Errno::EINVAL),
    }
}

/// Whose CPU time a CPU clock id counts.
pub(super) enum CpuClockOwner {
    Thread(Arc<TaskHandle>),
    Process(Arc<ThreadGroup>),
}

/// The thread or process a negative clock id names (Linux's `pid_for_clock`): pid 0 is the
/// caller (its thread or its process); a thread clock must name a thread of the caller's
/// process, a process clock a process (by its tgid, or, when the clock is read, by the
/// caller's own tid). EINVAL for anything else, and for `which` 3 (an fd clock's).
pub(super) fn cpu_clock_owner(task: &Task, id: i32, gettime: bool) -> Result<CpuClockOwner, Errno> {
    if id >= 0 || id & CPUCLOCK_WHICH == CLOCKFD {
        return Err(Errno::EINVAL);
    }
    let pid = cpuclock_pid(id);
    let thread = id & CPUCLOCK_PERTHREAD != 0;
    if pid == 0 {
        return Ok(if thread {
            CpuClockOwner::Thread(task.handle.clone())
        } else {
            CpuClockOwner::Process(task.tg().clone())
        });
    }
    let pids = lock(&task.k.pids);
    if thread {
        return pids
            .task(pid)
            .filter(|t| Arc::ptr_eq(&t.tg, task.tg()))
            .map(CpuClockOwner::Thread)
            .ok_or(Errno::EINVAL);
    }
    if gettime && pid == task.tid {
        return Ok(CpuClockOwner::Process(task.tg().clone()));
    }
    pids.group(pid)
        .map(CpuClockOwner::Process)
        .ok_or(Errno::EINVAL)
}

pub(super) fn timespec(d: Duration) -> Timespec {
    Timespec {
        tv_sec: d.as_secs() as i64,
        tv_nsec: i64::from(d.subsec_nanos()),
    }
}

/// Implements `clock_gettime(2)` (the guest's vDSO answers most calls without trapping; CPU
/// clocks come here). Deviation: a SCHED CPU clock reads the stub thread's user + system
/// time, not a scheduler runtime.
fn sys_clock_gettime(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let t = timespec(now(task, i32_(a[0]))?);
    task.mm.write(a[1], snare_abi::pod::as_bytes(&t))?;
    Ok(0)
}

/// Implements `clock_getres(2)`.
fn sys_clock_getres(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let clock = i32_(a[0]);
    if clock < 0 {
        // Linux checks a CPU clock's owner here as for setting it: no tid for a process.
        cpu_clock_owner(task, clock, false)?;
    } else {
        now(task, clock)?;
    }
    // A scheduler tick (Linux's 1 s / HZ; HZ is 250 on the usual distribution kernels) for
    // the coarse clocks and the tick-counted CPU clocks (PROF, VIRT).
    let tick = clock == CLOCK_REALTIME_COARSE
        || clock == CLOCK_MONOTONIC_COARSE
        || (clock < 0 && clock & CPUCLOCK_WHICH != CPUCLOCK_SCHED);
    let res = if tick {
        Duration::from_millis(4)
    } else {
        Duration::from_nanos(1)
    };
    if a[1] != 0 {
        task.mm
            .write(a[1], snare_abi::pod::as_bytes(&timespec(res)))?;
    }
    Ok(0)
}

/// Implements `gettimeofday(2)` (no timezone: it is always zeros).
fn sys_gettimeofday(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let d = now(task, CLOCK_REALTIME)?;
    if a[0] != 0 {
        let tv = Timeval {
            tv_sec: d.as_secs() as i64,
            tv_usec: i64::from(d.subsec_micros()),
        };
        task.mm.write(a[0], snare_abi::pod::as_bytes(&tv))?;
    }
    if a[1] != 0 {
        task.mm.write(a[1], &[0u8; 8])?;
    }
    Ok(0)
}

/// Implements `time(2)`.
fn sys_time(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let secs = now(task, CLOCK_REALTIME)?.as_secs();
    if a[0] != 0 {
        task.mm.write(a[0], &secs.to_ne_bytes())?;
    }
    Ok(secs)
}

/// A guest `struct timespec` as a duration: EINVAL for a negative one or nanoseconds out
/// of range, EFAULT for a bad address.
pub(super) fn read_timespec(task: &Task, addr: u64) -> Result<Duration, Errno> {
    let t: Timespec = task.mm.read_val(addr)?;
    if t.tv_sec < 0 || !(0..1_000_000_000).contains(&t.tv_nsec) {
        return Err(Errno::EINVAL);
    }
    Ok(Duration::new(t.tv_sec as u64, t.tv_nsec as u32))
}

/// Sleeps until `deadline` (`None`: for ever). A signal ends the sleep early. A relative
/// sleep (`rem` is its `rem` argument, or 0) then writes what is left to `rem` and returns
/// ERESTART_RESTARTBLOCK: EINTR when a handler runs, else `restart_syscall(2)` sleeps on
/// until the same deadline (the task's restart block). An absolute one returns
/// ERESTARTNOHAND: it starts over with the same arguments unless a handler runs.
fn sleep_until(
    task: &mut Task,
    deadline: Option<Instant>,
    relative: bool,
    rem: u64,
) -> Result<u64, Errno> {
    match crate::kernel::wait::block::<()>(&[], deadline, || None) {
        Err(Errno::ETIMEDOUT) => Ok(0),
        Err(Errno::ERESTARTSYS) if relative => {
            if let (Some(d), true) = (deadline, rem != 0) {
                let left = d.saturating_duration_since(Instant::now());
                task.mm
                    .write(rem, snare_abi::pod::as_bytes(&timespec(left)))?;
            }
            task.restart_block = Some(RestartBlock::Sleep { deadline, rem });
            Err(Errno::ERESTART_RESTARTBLOCK)
        }
        Err(Errno::ERESTARTSYS) => Err(Errno::ERESTARTNOHAND),
        other => other.map(|_| 0),
    }
}

/// Implements `nanosleep(2)`.
fn sys_nanosleep(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let d = read_timespec(task, a[0])?;
    sleep_until(task, Instant::now().checked_add(d), true, a[1])
}

/// Implements `clock_nanosleep(2)`, relative or TIMER_ABSTIME. Deviation: a CPU clock is
/// slept on as if it were the wall clock.
fn sys_clock_nanosleep(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    const TIMER_ABSTIME: u32 = 1;
    let clock = i32_(a[0]);
    // The caller's own thread CPU clock can't be slept on (it would never advance).
    let own_thread_clock = clock < 0
        && clock & CPUCLOCK_PERTHREAD != 0
        && [0, task.tid].contains(&cpuclock_pid(clock));
    if clock == CLOCK_THREAD_CPUTIME_ID || own_thread_clock {
        return Err(Errno::EINVAL);
    }
    let flags = super::arg::check_flags(u32_(a[1]), TIMER_ABSTIME)?;
    let d = read_timespec(task, a[2])?;
    if flags & TIMER_ABSTIME != 0 {
        let wait = d.saturating_sub(now(task, clock)?);
        sleep_until(task, Instant::now().checked_add(wait), false, 0)
    } else {
        now(task, clock)?;
        sleep_until(task, Instant::now().checked_add(d), true, a[3])
    }
}

/// Implements `restart_syscall(2)`: goes on with the call a stop or an ignored signal
/// interrupted, as its restart block says (only sleeps have one); EINTR with none, as after
/// a handler ran.
fn sys_restart_syscall(task: &mut Task, _a: [u64; 6]) -> Result<u64, Errno> {
    match task.restart_block.take() {
        Some(RestartBlock::Sleep { deadline, rem }) => sleep_until(task, deadline, true, rem),
        None => Err(Errno::EINTR),
    }
}

/// Implements `getrandom(2)` from the host's generator.
fn sys_getrandom(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    super::arg::check_flags(u32_(a[2]), 7)?;
    let n = len(a[1])?.min(super::MAX_RW).min(1 << 20);
    let mut buf = vec![0u8; n];
    crate::vfs::dev::host_random(&mut buf)?;
    task.mm.write(a[0], &buf)?;
    Ok(n as u64)
}
