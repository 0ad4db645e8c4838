//! The timer service: one Sentry thread that sleeps until the earliest armed wall-clock
//! timer (a timerfd, a POSIX timer) and fires it then.
//!
//! A timer implements [`Expiring`]: it owns a *slot* holding the key of its one entry in the
//! service's queue (so re-arming often never piles up stale entries), and a `fire` the service
//! calls with the generation it was scheduled for (a timer re-armed since ignores the call).
//! The service holds timers weakly: dropping a timer cancels it ([`cancel`] in its `Drop`).

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

/// The key of a timer's entry in the service's queue: when, and a sequence number.
pub type Slot = Mutex<Option<(Instant, u64)>>;

/// A timer the service can fire.
pub trait Expiring: Send + Sync {
    /// Where the timer keeps the key of its queue entry (changed only under the queue's lock).
    fn slot(&self) -> &Slot;
    /// Called at an expiry scheduled for `generation`.
    fn fire(self: Arc<Self>, generation: u64);
}

/// How many expirations happened by `now` of a timer due at `next` with `interval`, and
/// when it is due next (`None`: a one-shot timer that is done). `(0, Some(next))` if not due.
pub fn expirations(next: Duration, interval: Duration, now: Duration) -> (u64, Option<Duration>) {
    if now < next {
        return (0, Some(next));
    }
    if interval.is_zero() {
        return (1, None);
    }
    let iv = interval.as_nanos();
    let over = (now - next).as_nanos() / iv;
    let count = u64::try_from(over + 1).unwrap_or(u64::MAX);
    let step = u64::try_from(iv * (over + 1)).unwrap_or(u64::MAX);
    (count, Some(add(next, Duration::from_nanos(step))))
}

/// The longest time Linux holds (`KTIME_MAX`: a signed 64-bit count of nanoseconds, about 292
/// years). Guest times are clamped to it, as Linux's `timespec64_to_ktime` does: a timer set
/// further off simply never fires, and reads back as at most this.
pub const KTIME_MAX: Duration = Duration::from_nanos(i64::MAX as u64);

/// A guest duration as Linux holds it: at most [`KTIME_MAX`].
pub fn ktime(d: Duration) -> Duration {
    d.min(KTIME_MAX)
}

/// Adds `d` to `t`, saturating.
pub fn add(t: Duration, d: Duration) -> Duration {
    t.checked_add(d).unwrap_or(Duration::MAX)
}

/// Entries: (instant, sequence number) → (the timer, the generation it was armed for).
#[derive(Default)]
struct Queue {
    entries: BTreeMap<(Instant, u64), (Weak<dyn Expiring>, u64)>,
    seq: u64,
}

#[derive(Default)]
struct Service {
    queue: Mutex<Queue>,
    cv: Condvar,
}

impl Service {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn lock_slot(slot: &Slot) -> MutexGuard<'_, Option<(Instant, u64)>> {
    slot.lock().unwrap_or_else(|e| e.into_inner())
}

/// The service, started at the first armed timer (`None` if its thread could not be started:
/// then timers only expire when someone looks).
fn service() -> Option<&'static Service> {
    static S: OnceLock<Option<&'static Service>> = OnceLock::new();
    *S.get_or_init(|| {
        let s: &'static Service = Box::leak(Box::default());
        std::thread::Builder::new()
            .name("snare-timers".into())
            .spawn(move || run(s))
            .ok()
            .map(|_| s)
    })
}

fn run(s: &'static Service) {
    let mut g = s.lock();
    loop {
        let now = Instant::now();
        match g.entries.first_key_value().map(|(k, _)| *k) {
            None => g = s.cv.wait(g).unwrap_or_else(|e| e.into_inner()),
            Some((at, _)) if at > now => {
                g =
                    s.cv.wait_timeout(g, at - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
            }
            Some(key) => {
                let Some((timer, generation)) = g.entries.remove(&key) else {
                    continue;
                };
                if let Some(t) = timer.upgrade() {
                    let mut slot = lock_slot(t.slot());
                    if *slot == Some(key) {
                        *slot = None;
                    }
                    drop(slot);
                    drop(g);
                    t.fire(generation);
                    g = s.lock();
                }
            }
        }
    }
}

/// Asks the service to fire `t` at `at` for `generation`, replacing its earlier entry.
pub fn schedule<T: Expiring + 'static>(t: &Arc<T>, at: Instant, generation: u64) {
    let Some(s) = service() else {
        return;
    };
    let mut g = s.lock();
    g.seq += 1;
    let key = (at, g.seq);
    let mut slot = lock_slot(t.slot());
    if let Some(old) = slot.replace(key) {
        g.entries.remove(&old);
    }
    let weak: Weak<dyn Expiring> = Arc::downgrade(t) as Weak<dyn Expiring>;
    g.entries.insert(key, (weak, generation));
    s.cv.notify_one();
}

/// Removes the entry of the timer owning `slot`, if it has one.
pub fn cancel(slot: &Slot) {
    // A timer with a slot was scheduled, so the service exists.
    if lock_slot(slot).is_none() {
        return;
    }
    if let Some(s) = service() {
        let mut g = s.lock();
        if let Some(key) = lock_slot(slot).take() {
            g.entries.remove(&key);
        }
    }
}

/// How many entries the service holds for the timer at `ptr` (for tests).
#[cfg(test)]
pub fn entries_of(ptr: *const ()) -> usize {
    service().map_or(0, |s| {
        s.lock()
            .entries
            .values()
            .filter(|(w, _)| std::ptr::eq(w.as_ptr() as *const (), ptr))
            .count()
    })
}

/// Whether the service holds an entry with `key` (for tests).
#[cfg(test)]
pub fn has_entry(key: (Instant, u64)) -> bool {
    service().is_some_and(|s| s.lock().entries.contains_key(&key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_expirations() {
        let ms = Duration::from_millis;
        assert_eq!(expirations(ms(10), ms(0), ms(5)), (0, Some(ms(10))));
        assert_eq!(expirations(ms(10), ms(0), ms(10)), (1, None));
        assert_eq!(expirations(ms(10), ms(5), ms(22)), (3, Some(ms(25))));
        // Huge values saturate instead of overflowing.
        let max = Duration::MAX;
        let (count, next) = expirations(ms(10), max, ms(22));
        assert!(count == 1 && next > Some(ms(22)));
        assert_eq!(expirations(max, ms(1), ms(22)), (0, Some(max)));
        assert_eq!(add(max, ms(1)), max);
        assert_eq!(ktime(max), KTIME_MAX);
    }
}
