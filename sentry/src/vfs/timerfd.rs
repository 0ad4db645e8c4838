//! timerfd: a timer read as a file (`timerfd_create(2)` and friends).
//!
//! A timer keeps its next expiry on its own clock's timeline (so `TFD_TIMER_ABSTIME` and
//! `timerfd_gettime` are exact) and counts expirations as the clock passes them, whenever
//! anyone looks. So that sleepers in poll/select/epoll learn of an expiry without looking,
//! the Sentry's timer service (`kernel/timer_service.rs`) fires the timer at its earliest
//! expiry, which notifies the timer's wait queue; a blocking `read` also sleeps with the expiry as
//! its deadline.
//!
//! Deviations from Linux: `TFD_TIMER_CANCEL_ON_SET` is accepted but a wall-clock change never
//! cancels the timer; `TFD_IOC_SET_TICKS` is not implemented; the alarm clocks are refused
//! with `EPERM` (as for a caller without `CAP_WAKE_ALARM`).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use snare_abi::file::{o, Stat};
use snare_abi::Errno;

use super::pipe::{anon_stat, now_ts};
use super::{poll, FileDescription};
use crate::kernel::timer_service::{self, add, expirations, Expiring, Slot};
use crate::kernel::wait::{block, WaitQueue};

pub const CLOCK_REALTIME: i32 = 0;
pub const CLOCK_MONOTONIC: i32 = 1;
pub const CLOCK_BOOTTIME: i32 = 7;
pub const CLOCK_REALTIME_ALARM: i32 = 8;
pub const CLOCK_BOOTTIME_ALARM: i32 = 9;
/// `timerfd_settime` flags.
pub const TFD_TIMER_ABSTIME: u32 = 1;
pub const TFD_TIMER_CANCEL_ON_SET: u32 = 2;

/// The clocks a timerfd can run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    Realtime,
    Monotonic,
    Boottime,
}

impl Clock {
    /// The clock of a guest clock id: EINVAL for unknown ones, EPERM for the alarm clocks.
    pub fn from_id(id: i32) -> Result<Clock, Errno> {
        match id {
            CLOCK_REALTIME => Ok(Clock::Realtime),
            CLOCK_MONOTONIC => Ok(Clock::Monotonic),
            CLOCK_BOOTTIME => Ok(Clock::Boottime),
            CLOCK_REALTIME_ALARM | CLOCK_BOOTTIME_ALARM => Err(Errno::EPERM),
            _ => Err(Errno::EINVAL),
        }
    }

    /// The clock's current reading (the same host clock the guest's vDSO reads).
    pub fn now(self) -> Duration {
        use nix::time::ClockId;
        let id = match self {
            Clock::Realtime => ClockId::CLOCK_REALTIME,
            Clock::Monotonic => ClockId::CLOCK_MONOTONIC,
            Clock::Boottime => ClockId::CLOCK_BOOTTIME,
        };
        nix::time::clock_gettime(id).map_or(Duration::ZERO, Duration::from)
    }

    /// When the host's monotonic clock will reach the clock time `at`.
    pub fn instant_of(self, at: Duration) -> Instant {
        let wait = at.saturating_sub(self.now());
        // A far-off expiry: wake up in a day and look again.
        Instant::now() + wait.min(Duration::from_secs(86_400))
    }
}

#[derive(Debug, Default)]
struct State {
    /// The next expiry on the clock's timeline; `None` when disarmed.
    next: Option<Duration>,
    interval: Duration,
    /// Expirations not yet read.
    ticks: u64,
    /// Bumped by every `settime`, so the timer service drops stale entries.
    generation: u64,
}

impl State {
    /// Counts the expirations up to `now` and moves `next` past it.
    fn expire(&mut self, now: Duration) {
        let Some(next) = self.next else {
            return;
        };
        let (count, next) = expirations(next, self.interval, now);
        self.ticks = self.ticks.saturating_add(count);
        self.next = next;
    }
}

/// The part of a timer the timer service reaches (weakly).
#[derive(Debug)]
struct Timer {
    clock: Clock,
    state: Mutex<State>,
    queue: WaitQueue,
    slot: Slot,
}

impl Drop for Timer {
    fn drop(&mut self) {
        timer_service::cancel(&self.slot);
    }
}

impl Timer {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Expiring for Timer {
    fn slot(&self) -> &Slot {
        &self.slot
    }

    fn fire(self: Arc<Timer>, generation: u64) {
        let next = {
            let mut st = self.lock();
            if st.generation != generation {
                return;
            }
            st.expire(self.clock.now());
            st.next
        };
        if let Some(n) = next {
            timer_service::schedule(&self, self.clock.instant_of(n), generation);
        }
        self.queue.notify();
    }
}

/// A timerfd's open file description.
#[derive(Debug)]
pub struct TimerFd {
    timer: Arc<Timer>,
    /// `O_NONBLOCK`.
    flags: AtomicU32,
    owner: (u32, u32),
    ctime: (i64, i64),
}

impl TimerFd {
    /// A disarmed timer on `clock`; `flags` may hold `O_NONBLOCK`.
    pub fn new(clock: Clock, flags: u32, uid: u32, gid: u32) -> TimerFd {
        TimerFd {
            timer: Arc::new(Timer {
                clock,
                state: Mutex::new(State::default()),
                queue: WaitQueue::new(),
                slot: Mutex::new(None),
            }),
            flags: AtomicU32::new(flags & o::NONBLOCK),
            owner: (uid, gid),
            ctime: now_ts(),
        }
    }

    /// `timerfd_gettime`: (interval, time left until the next expiry; zero if disarmed).
    pub fn gettime(&self) -> (Duration, Duration) {
        let now = self.timer.clock.now();
        let mut st = self.timer.lock();
        st.expire(now);
        let left = st.next.map_or(Duration::ZERO, |n| n.saturating_sub(now));
        (st.interval, left)
    }

    /// `timerfd_settime`: arms (a zero `value` disarms), returning the old setting as
    /// [`TimerFd::gettime`] does. Unread expirations are forgotten.
    pub fn settime(&self, flags: u32, interval: Duration, value: Duration) -> (Duration, Duration) {
        let t = &self.timer;
        let now = t.clock.now();
        let (old, next, generation) = {
            let mut st = t.lock();
            st.expire(now);
            let old = (
                st.interval,
                st.next.map_or(Duration::ZERO, |n| n.saturating_sub(now)),
            );
            st.generation += 1;
            st.ticks = 0;
            st.interval = interval;
            st.next = if value.is_zero() {
                None
            } else if flags & TFD_TIMER_ABSTIME != 0 {
                Some(value)
            } else {
                Some(add(now, value))
            };
            (old, st.next, st.generation)
        };
        if let Some(n) = next {
            timer_service::schedule(t, t.clock.instant_of(n), generation);
        }
        t.queue.notify();
        old
    }

    fn nonblock(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & o::NONBLOCK != 0
    }

    /// The expirations so far (resetting them), or `None` with the next expiry, if armed.
    fn take(&self) -> Result<u64, Option<Duration>> {
        let mut st = self.timer.lock();
        st.expire(self.timer.clock.now());
        match st.ticks {
            0 => Err(st.next),
            n => {
                st.ticks = 0;
                Ok(n)
            }
        }
    }
}

impl FileDescription for TimerFd {
    /// Waits for at least one expiration and returns their number (8 bytes).
    fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        let n = loop {
            let next = match self.take() {
                Ok(n) => break n,
                Err(next) => next,
            };
            if self.nonblock() {
                return Err(Errno::EAGAIN);
            }
            let deadline = next.map(|n| self.timer.clock.instant_of(n));
            match block(&[&self.timer.queue], deadline, || self.take().ok().map(Ok)) {
                Ok(n) => break n,
                Err(Errno::ETIMEDOUT) => continue,
                Err(e) => return Err(e),
            }
        };
        buf[..8].copy_from_slice(&n.to_ne_bytes());
        Ok(8)
    }

    fn write(&self, _data: &[u8]) -> Result<usize, Errno> {
        Err(Errno::EINVAL)
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(anon_stat(self.owner.0, self.owner.1, self.ctime))
    }

    fn status_flags(&self) -> u32 {
        o::RDWR | self.flags.load(Ordering::Relaxed)
    }

    fn set_status_flags(&self, flags: u32) {
        self.flags.store(flags & o::NONBLOCK, Ordering::Relaxed);
    }

    fn path(&self) -> Vec<u8> {
        b"anon_inode:[timerfd]".to_vec()
    }

    fn poll(&self) -> u32 {
        let mut st = self.timer.lock();
        st.expire(self.timer.clock.now());
        if st.ticks > 0 {
            poll::IN | poll::RDNORM
        } else {
            0
        }
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.timer.queue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rd(t: &TimerFd) -> Result<u64, Errno> {
        let mut b = [0u8; 8];
        t.read(&mut b)?;
        Ok(u64::from_ne_bytes(b))
    }

    #[test]
    fn one_shot_blocking_read() {
        let t = TimerFd::new(Clock::Monotonic, 0, 0, 0);
        t.settime(0, Duration::ZERO, Duration::from_millis(20));
        let start = Instant::now();
        assert_eq!(rd(&t), Ok(1));
        assert!(start.elapsed() >= Duration::from_millis(19));
        assert_eq!(t.gettime(), (Duration::ZERO, Duration::ZERO));
    }

    #[test]
    fn interval_counts_overruns() {
        let t = TimerFd::new(Clock::Boottime, o::NONBLOCK, 0, 0);
        assert_eq!(rd(&t), Err(Errno::EAGAIN));
        t.settime(0, Duration::from_millis(5), Duration::from_millis(5));
        std::thread::sleep(Duration::from_millis(28));
        let n = rd(&t).expect("rd");
        assert!(n >= 5, "{n}");
        let (iv, left) = t.gettime();
        assert_eq!(iv, Duration::from_millis(5));
        assert!(left <= Duration::from_millis(5));
    }

    #[test]
    fn absolute_in_the_past_fires_at_once() {
        let t = TimerFd::new(Clock::Realtime, o::NONBLOCK, 0, 0);
        let now = Clock::Realtime.now();
        t.settime(
            TFD_TIMER_ABSTIME,
            Duration::ZERO,
            now - Duration::from_secs(1),
        );
        assert_eq!(t.poll() & poll::IN, poll::IN);
        assert_eq!(rd(&t), Ok(1));
    }

    #[test]
    fn rearming_keeps_one_service_entry() {
        let t = TimerFd::new(Clock::Monotonic, 0, 0, 0);
        let count = |t: &TimerFd| timer_service::entries_of(Arc::as_ptr(&t.timer) as *const ());
        for _ in 0..100 {
            t.settime(0, Duration::ZERO, Duration::from_secs(3600));
        }
        assert_eq!(count(&t), 1);
        let key = (*t.timer.slot.lock().expect("slot")).expect("scheduled");
        drop(t);
        assert!(!timer_service::has_entry(key));
    }

    #[test]
    fn service_wakes_a_waiter_on_the_queue() {
        let t = TimerFd::new(Clock::Monotonic, 0, 0, 0);
        t.settime(0, Duration::ZERO, Duration::from_millis(15));
        // Wait on the queue alone (as poll does), with no deadline of our own.
        let r = block(&[t.wait_queue().expect("wait_queue")], None, || {
            (t.poll() & poll::IN != 0).then_some(Ok(()))
        });
        assert_eq!(r, Ok(()));
    }
}
