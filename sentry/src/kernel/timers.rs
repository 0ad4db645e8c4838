//! A process's timers: POSIX timers (`timer_create(2)`) and the interval timers of
//! `setitimer(2)` and `alarm(2)` (ITIMER_REAL on the monotonic clock, ITIMER_VIRTUAL and
//! ITIMER_PROF on CPU time), and the CPU clocks they run on.
//!
//! A timer keeps its next expiry on its clock's timeline. Wall-clock timers are fired by the
//! timer service (`timer_service.rs`). CPU-clock timers are checked by a per-process *sampler*
//! thread that reads the process's CPU time every [`CPU_SAMPLE`] while any is armed (a
//! busy-looping guest never enters the Sentry, so it can't be checked on the way in).
//!
//! An expiry sends a `SI_TIMER` signal (or nothing, for SIGEV_NONE). While that signal is
//! still pending, further expiries count as its overruns (`si_overrun`), bumped in the queued
//! siginfo itself ([`super::process::SigQueue::push_timer`]); when it is taken, the count
//! becomes what `timer_getoverrun(2)` reports. This is Linux's observable behaviour.
//!
//! CPU time is the host's accounting of the stub threads that run the guest's threads
//! (`/proc/PID/task/TID/schedstat`); deviation from Linux: threads that exited no longer
//! count towards their process's CPU time.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use snare_abi::signal::{SigInfo, SI_KERNEL};
use snare_abi::Errno;

use super::process::{lock, TaskHandle, ThreadGroup};
use super::signal::{send_timer_signal, send_to_group, user_info};
use super::timer_service::{self, expirations, Expiring, Slot};
use crate::vfs::timerfd::Clock;

/// Most POSIX timers a process may hold (Linux's limit is RLIMIT_SIGPENDING's): EAGAIN past it.
pub const MAX_TIMERS: usize = 1024;

/// How often the sampler reads the CPU time of a process with armed CPU-clock timers.
pub const CPU_SAMPLE: Duration = Duration::from_millis(4);

/// The shortest time between two firings of one wall-clock timer: a tiny interval fires less
/// often, counting the expirations it missed as overruns.
const MIN_GAP: Duration = Duration::from_micros(100);

/// CPU time of one stub thread, (user, system) in microseconds: the scheduler's total
/// (`schedstat`, nanoseconds) split by the tick-sampled system share in `stat`. Zeros if the
/// thread is gone.
pub fn stub_thread_cpu(pid: i32, tid: i32) -> (u64, u64) {
    let base = format!("{pid}/task/{tid}");
    let total_ns = snare_platform::host_proc::read_to_string(&format!("{base}/schedstat"))
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(0);
    let stat =
        snare_platform::host_proc::read_to_string(&format!("{base}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let total_us = total_ns / 1000;
    let sys_us = (ticks(12) * 10_000).min(total_us);
    (total_us - sys_us, sys_us)
}

/// CPU time of the guest thread `t`, (user, system) in microseconds: its stub thread's since
/// the task took it, plus what it banked on earlier ones.
pub fn thread_cpu(t: &TaskHandle) -> (u64, u64) {
    t.tg.state().cpu_watched = true;
    // One snapshot of both (an exiting thread freezes its figure under the same locks).
    let (ids, cpu) = {
        let intr = lock(&t.interrupter);
        let cpu = *lock(&t.cpu);
        (intr.as_ref().map(|i| i.host_ids()), cpu)
    };
    let (u, s) = ids.map_or(cpu.base, |(pid, tid)| stub_thread_cpu(pid, tid));
    (
        cpu.banked.0 + u.saturating_sub(cpu.base.0),
        cpu.banked.1 + s.saturating_sub(cpu.base.1),
    )
}

/// CPU time of process `tg`, its live threads and those that exited: (user, user + system).
pub fn process_cpu(tg: &ThreadGroup) -> (Duration, Duration) {
    let (threads, exited) = {
        let mut st = tg.state();
        st.cpu_watched = true;
        (st.threads.clone(), st.exited_cpu)
    };
    let (u, s) = threads.iter().fold(exited, |(u, s), t| {
        let (tu, ts) = thread_cpu(t);
        (u + tu, s + ts)
    });
    (Duration::from_micros(u), Duration::from_micros(u + s))
}

/// The clock a timer runs on.
#[derive(Debug)]
pub enum TimerClock {
    Wall(Clock),
    /// The process's CPU time; `user_only` for ITIMER_VIRTUAL.
    ProcessCpu {
        user_only: bool,
    },
    /// One thread's CPU time (CLOCK_THREAD_CPUTIME_ID): stops when the thread is gone.
    ThreadCpu(Weak<TaskHandle>),
    /// Another process's CPU time (its clock by id), `user_only` for its VIRT clock: stops
    /// when that process is gone.
    OtherProcessCpu {
        of: Weak<ThreadGroup>,
        user_only: bool,
    },
}

/// What an expiry does.
#[derive(Debug)]
pub enum Notify {
    /// SIGEV_NONE: nothing (the timer is only read).
    None,
    /// SIGEV_SIGNAL / SIGEV_THREAD_ID: a `SI_TIMER` signal carrying `value`, to the process or
    /// to one of its threads.
    Signal {
        sig: i32,
        value: u64,
        thread: Option<Weak<TaskHandle>>,
    },
    /// ITIMER_VIRTUAL / ITIMER_PROF: a plain kernel signal to the process.
    Itimer(i32),
}

#[derive(Debug, Default)]
struct State {
    /// The next expiry on the clock's timeline; `None` when disarmed.
    next: Option<Duration>,
    interval: Duration,
    /// Bumped by every setting, so the timer service drops stale entries.
    generation: u64,
    /// The overrun count of the last signal taken (`timer_getoverrun`).
    overrun_last: i32,
}

/// One timer.
#[derive(Debug)]
pub struct PosixTimer {
    /// The id the process knows it by (`si_timerid`).
    pub id: i32,
    clock: TimerClock,
    notify: Notify,
    tg: Weak<ThreadGroup>,
    state: Mutex<State>,
    slot: Slot,
}

impl Drop for PosixTimer {
    fn drop(&mut self) {
        timer_service::cancel(&self.slot);
    }
}

impl PosixTimer {
    pub fn new(id: i32, clock: TimerClock, notify: Notify, tg: &Arc<ThreadGroup>) -> PosixTimer {
        PosixTimer {
            id,
            clock,
            notify,
            tg: Arc::downgrade(tg),
            state: Mutex::new(State::default()),
            slot: Mutex::new(None),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// The clock's reading; `None` when it has stopped for good (its thread or process is gone).
    fn now(&self) -> Option<Duration> {
        match &self.clock {
            TimerClock::Wall(c) => Some(c.now()),
            TimerClock::ProcessCpu { user_only } => {
                let (user, total) = process_cpu(&*self.tg.upgrade()?);
                Some(if *user_only { user } else { total })
            }
            TimerClock::ThreadCpu(t) => {
                let (u, s) = thread_cpu(&*t.upgrade()?);
                Some(Duration::from_micros(u + s))
            }
            TimerClock::OtherProcessCpu { of, user_only } => {
                let (user, total) = process_cpu(&*of.upgrade()?);
                Some(if *user_only { user } else { total })
            }
        }
    }

    fn is_cpu(&self) -> bool {
        !matches!(self.clock, TimerClock::Wall(_))
    }

    fn armed(&self) -> bool {
        self.lock().next.is_some()
    }

    /// Arms the timer to expire `value` from now (or at `value` on its clock, if `absolute`),
    /// then every `interval`; a zero `value` disarms it. Returns the old setting as
    /// [`PosixTimer::gettime`] does.
    pub fn settime(
        self: &Arc<Self>,
        absolute: bool,
        interval: Duration,
        value: Duration,
    ) -> (Duration, Duration) {
        let old = self.gettime();
        let now = self.now().unwrap_or_default();
        let (next, generation) = {
            let mut st = self.lock();
            st.generation += 1;
            st.interval = interval;
            st.next = if value.is_zero() {
                None
            } else if absolute {
                Some(value)
            } else {
                Some(timer_service::add(now, value))
            };
            (st.next, st.generation)
        };
        match (next, &self.clock) {
            (None, _) => timer_service::cancel(&self.slot),
            (Some(n), TimerClock::Wall(c)) => {
                if !matches!(self.notify, Notify::None) {
                    timer_service::schedule(self, c.instant_of(n), generation);
                }
            }
            (Some(_), _) => {
                if let Some(tg) = self.tg.upgrade() {
                    start_sampler(&tg);
                }
            }
        }
        old
    }

    /// (interval, time left until the next expiry; zero if disarmed). Expiries due by now
    /// happen first (a late timer service, or a SIGEV_NONE timer nobody fires).
    pub fn gettime(self: &Arc<Self>) -> (Duration, Duration) {
        self.expire(None);
        let now = self.now().unwrap_or_default();
        let st = self.lock();
        let left = st.next.map_or(Duration::ZERO, |n| {
            n.saturating_sub(now).max(Duration::from_nanos(1))
        });
        (st.interval, left)
    }

    /// The overrun count of the last signal taken.
    pub fn overrun(&self) -> i32 {
        self.lock().overrun_last
    }

    /// Disarms the timer for good (deleted, or its process is going away).
    pub fn disarm(&self) {
        {
            let mut st = self.lock();
            st.generation += 1;
            st.next = None;
        }
        timer_service::cancel(&self.slot);
    }

    /// Its signal was taken: `timer_getoverrun` reports its overruns from now on.
    pub fn delivered(&self, info: &SigInfo) {
        self.lock().overrun_last = info.overrun();
    }

    /// Acts on the expiries due by now (only if still at `generation`, when given), and asks
    /// the timer service for the next one.
    fn expire(self: &Arc<Self>, generation: Option<u64>) {
        let fired = generation.is_some();
        let Some(now) = self.now() else {
            return;
        };
        let (count, next, generation) = {
            let mut st = self.lock();
            if generation.is_some_and(|g| g != st.generation) {
                return;
            }
            let Some(due) = st.next else {
                return;
            };
            let (count, next) = expirations(due, st.interval, now);
            st.next = next;
            (count, next, st.generation)
        };
        if count == 0 {
            // Fired early: the service wakes a far-off timer daily to look again.
            if fired {
                self.reschedule(next, generation);
            }
            return;
        }
        self.notify(count);
        self.reschedule(next, generation);
    }

    /// Asks the timer service for the expiry at `next` (a wall-clock timer that signals).
    fn reschedule(self: &Arc<Self>, next: Option<Duration>, generation: u64) {
        if let (Some(n), TimerClock::Wall(c)) = (next, &self.clock) {
            if !matches!(self.notify, Notify::None) {
                let at = c.instant_of(n).max(Instant::now() + MIN_GAP);
                timer_service::schedule(self, at, generation);
            }
        }
    }

    /// Reports `count` expiries.
    fn notify(self: &Arc<Self>, count: u64) {
        let Some(tg) = self.tg.upgrade() else {
            return;
        };
        match &self.notify {
            Notify::None => {}
            Notify::Signal { sig, value, thread } => {
                let overrun = i32::try_from(count - 1).unwrap_or(i32::MAX);
                let info = SigInfo::timer(*sig, self.id, overrun, *value);
                match thread {
                    None => send_timer_signal(&tg, None, info, self, count),
                    // A thread that is gone gets nothing, as on Linux.
                    Some(t) => {
                        if let Some(t) = t.upgrade() {
                            send_timer_signal(&tg, Some(&t), info, self, count);
                        }
                    }
                }
            }
            Notify::Itimer(sig) => send_to_group(&tg, user_info(*sig, SI_KERNEL, 0, 0)),
        }
    }
}

impl Expiring for PosixTimer {
    fn slot(&self) -> &Slot {
        &self.slot
    }

    fn fire(self: Arc<Self>, generation: u64) {
        self.expire(Some(generation));
    }
}

/// A process's timers (in its `TgState`).
#[derive(Debug, Default)]
pub struct ProcessTimers {
    /// POSIX timers by id.
    posix: BTreeMap<i32, Arc<PosixTimer>>,
    next_id: i32,
    /// The interval timers of `setitimer(2)` (and `alarm(2)`), by `which`, once set:
    /// ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF.
    itimers: [Option<Arc<PosixTimer>>; 3],
    /// Whether a sampler thread watches the CPU-clock timers.
    sampler: bool,
}

impl ProcessTimers {
    /// Disarms and forgets the POSIX timers (execve, exit).
    pub fn delete_posix(&mut self) {
        for t in std::mem::take(&mut self.posix).into_values() {
            t.disarm();
        }
    }

    /// Disarms and forgets every timer (exit).
    pub fn clear(&mut self) {
        self.delete_posix();
        for t in self.itimers.iter_mut().filter_map(Option::take) {
            t.disarm();
        }
    }

    fn armed_cpu_timers(&self) -> Vec<Arc<PosixTimer>> {
        self.posix
            .values()
            .chain(self.itimers.iter().flatten())
            .filter(|t| t.is_cpu() && t.armed())
            .cloned()
            .collect()
    }
}

/// Creates a POSIX timer in `tg`; `notify` gets its id. EAGAIN at [`MAX_TIMERS`].
pub fn create(
    tg: &Arc<ThreadGroup>,
    clock: TimerClock,
    notify: impl FnOnce(i32) -> Notify,
) -> Result<i32, Errno> {
    let mut st = tg.state();
    let timers = &mut st.timers;
    if timers.posix.len() >= MAX_TIMERS {
        return Err(Errno::EAGAIN);
    }
    let mut id = timers.next_id;
    while timers.posix.contains_key(&id) {
        id = id.checked_add(1).unwrap_or(0);
    }
    timers.next_id = id.checked_add(1).unwrap_or(0);
    let t = PosixTimer::new(id, clock, notify(id), tg);
    timers.posix.insert(id, Arc::new(t));
    Ok(id)
}

/// The POSIX timer `id` of `tg`: EINVAL if there is none.
pub fn get(tg: &ThreadGroup, id: i32) -> Result<Arc<PosixTimer>, Errno> {
    tg.state()
        .timers
        .posix
        .get(&id)
        .cloned()
        .ok_or(Errno::EINVAL)
}

/// Deletes the POSIX timer `id` of `tg` (a signal of it still pending stays pending).
pub fn delete(tg: &ThreadGroup, id: i32) -> Result<(), Errno> {
    let t = tg.state().timers.posix.remove(&id).ok_or(Errno::EINVAL)?;
    t.disarm();
    Ok(())
}

/// `setitimer(2)`'s timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Itimer {
    /// ITIMER_REAL (and `alarm(2)`): SIGALRM on the monotonic clock.
    Real = 0,
    /// ITIMER_VIRTUAL: SIGVTALRM on the process's user CPU time.
    Virtual = 1,
    /// ITIMER_PROF: SIGPROF on the process's CPU time.
    Prof = 2,
}

/// The interval timer `which` of `tg`, made on first use. As on Linux, it is kept across
/// execve and not inherited by fork.
pub fn itimer(tg: &Arc<ThreadGroup>, which: Itimer) -> Arc<PosixTimer> {
    use snare_abi::signal::{SIGALRM, SIGPROF, SIGVTALRM};
    let mut st = tg.state();
    st.timers.itimers[which as usize]
        .get_or_insert_with(|| {
            let (clock, sig) = match which {
                Itimer::Real => (TimerClock::Wall(Clock::Monotonic), SIGALRM),
                Itimer::Virtual => (TimerClock::ProcessCpu { user_only: true }, SIGVTALRM),
                Itimer::Prof => (TimerClock::ProcessCpu { user_only: false }, SIGPROF),
            };
            Arc::new(PosixTimer::new(-1, clock, Notify::Itimer(sig), tg))
        })
        .clone()
}

/// Starts the CPU-time sampler of `tg` unless it runs already.
fn start_sampler(tg: &Arc<ThreadGroup>) {
    {
        let mut st = tg.state();
        if st.timers.sampler || st.zombie.is_some() {
            return;
        }
        st.timers.sampler = true;
    }
    let weak = Arc::downgrade(tg);
    let spawned = std::thread::Builder::new()
        .name("snare-cputimers".into())
        .spawn(move || run_sampler(weak));
    if spawned.is_err() {
        tracing::warn!("cannot start a CPU-timer thread: CPU-time timers won't fire");
        tg.state().timers.sampler = false;
    }
}

/// Checks the armed CPU-clock timers of a process every [`CPU_SAMPLE`] until none is left.
fn run_sampler(tg: Weak<ThreadGroup>) {
    loop {
        std::thread::sleep(CPU_SAMPLE);
        let Some(tg) = tg.upgrade() else {
            return;
        };
        let armed = {
            let mut st = tg.state();
            let armed = if st.zombie.is_some() {
                Vec::new()
            } else {
                st.timers.armed_cpu_timers()
            };
            if armed.is_empty() {
                st.timers.sampler = false;
                return;
            }
            armed
        };
        for t in armed {
            t.expire(None);
        }
    }
}
