//! Sleeping in the Sentry: wait queues, and the one blocking loop every blocking syscall uses.
//!
//! A task's Sentry thread blocks on its own [`Waker`] (a generation counter under a mutex and a
//! condvar). Objects that can become ready (a pipe, a child process, an eventfd) own a
//! [`WaitQueue`]; a blocking call registers the task's waker on the queues it cares about, then
//! checks its condition, then sleeps until some queue is notified, a signal arrives for the task,
//! or the deadline passes. Registering *before* checking and sleeping on a generation number
//! means no wake-up is lost in between.
//!
//! Signal senders wake the target's waker too; [`block`] then returns `ERESTARTSYS` and the
//! dispatcher turns that into `EINTR` or a restart, as Linux does.
//!
//! A task waiting for a host socket ([`block_on_host`]) sleeps in the host's `poll` on that
//! socket and on its waker's eventfd instead: the host kernel wakes it straight away when
//! the socket becomes ready (no hop through another thread), and a wake of the waker
//! (a signal, a kill) writes the eventfd.

use std::cell::RefCell;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Instant;

use snare_abi::Errno;
use snare_platform::net::{self as host_net, WakeFd};

use crate::vfs::host_fds::HostFdGuard;

/// Something a [`WaitQueue`] notifies: a sleeping task, or an epoll instance watching a file.
pub trait Wake: Send + Sync {
    fn wake(&self);
}

/// A task's sleep/wake point.
#[derive(Debug, Default)]
pub struct Waker {
    generation: Mutex<u64>,
    cv: Condvar,
    /// Set while the task sleeps in the host ([`Waker::sleep_on_host`]): a wake then writes
    /// `host` too.
    polling: AtomicBool,
    /// The eventfd of those sleeps, made on the first (None: none could be made, and the
    /// task sleeps on the condvar).
    host: OnceLock<Option<(WakeFd, HostFdGuard)>>,
}

impl Waker {
    pub fn new() -> Arc<Waker> {
        Arc::new(Waker::default())
    }

    /// The current generation: sleep with [`Waker::sleep`] only while it is unchanged.
    pub fn generation(&self) -> u64 {
        *self.generation.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The eventfd of host sleeps, made on first use (None if it can't be).
    fn host_wake(&self) -> Option<&WakeFd> {
        self.host
            .get_or_init(|| {
                let guard = HostFdGuard::acquire().ok()?;
                let fd = WakeFd::new()
                    .inspect_err(|e| tracing::debug!(?e, "no wake-up eventfd"))
                    .ok()?;
                Some((fd, guard))
            })
            .as_ref()
            .map(|(w, _)| w)
    }

    /// Sleeps in the host until `fd` has one of `events`, the generation moves past `seen`,
    /// or `deadline` passes (or earlier: the caller checks again). Without an eventfd, as
    /// [`Waker::sleep`], which a [`WaitQueue`] notified for `fd` must then end.
    fn sleep_on_host(
        &self,
        seen: u64,
        deadline: Option<Instant>,
        fd: BorrowedFd<'_>,
        events: i16,
    ) -> bool {
        let Some(wake) = self.host_wake() else {
            return false;
        };
        wake.drain();
        // Ordered with `wake` through the generation's mutex: either that wake sees
        // `polling` (and writes the eventfd), or this check sees its generation.
        self.polling.store(true, Ordering::SeqCst);
        if self.generation() == seen {
            let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let r = host_net::poll_or_wake(fd, events, wake, timeout);
            if r.is_err() || r.is_ok_and(|r| r & libc::POLLNVAL != 0) {
                // Not a socket to sleep on after all: the condvar, for a short while.
                self.polling.store(false, Ordering::SeqCst);
                let short = Instant::now() + std::time::Duration::from_millis(10);
                self.sleep(seen, Some(deadline.map_or(short, |d| d.min(short))));
                return true;
            }
        }
        self.polling.store(false, Ordering::SeqCst);
        true
    }

    /// Sleeps until the generation moves past `seen` or `deadline` passes.
    pub fn sleep(&self, seen: u64, deadline: Option<Instant>) {
        let mut g = self.generation.lock().unwrap_or_else(|e| e.into_inner());
        while *g == seen {
            match deadline {
                None => g = self.cv.wait(g).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return;
                    }
                    g = self
                        .cv
                        .wait_timeout(g, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
    }
}

impl Wake for Waker {
    fn wake(&self) {
        {
            let mut g = self.generation.lock().unwrap_or_else(|e| e.into_inner());
            *g = g.wrapping_add(1);
            self.cv.notify_all();
        }
        if self.polling.load(Ordering::SeqCst) {
            if let Some(Some((wake, _))) = self.host.get() {
                wake.wake();
            }
        }
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The sleepers waiting on one object.
#[derive(Default)]
pub struct WaitQueue {
    entries: Mutex<Vec<(u64, Arc<dyn Wake>)>>,
}

impl std::fmt::Debug for WaitQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.entries.lock().map_or(0, |e| e.len());
        f.debug_struct("WaitQueue").field("waiters", &n).finish()
    }
}

impl WaitQueue {
    pub fn new() -> WaitQueue {
        WaitQueue::default()
    }

    /// Whether no one waits here now.
    pub fn is_empty(&self) -> bool {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// Adds `w`; it stays until the returned registration is dropped.
    pub fn register(&self, w: Arc<dyn Wake>) -> Registration<'_> {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((id, w));
        Registration { queue: self, id }
    }

    /// Adds `w` until [`WaitQueue::unregister`] is called with the returned id (for owners
    /// that outlive a borrow, like epoll's interest list).
    pub fn register_id(&self, w: Arc<dyn Wake>) -> u64 {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((id, w));
        id
    }

    pub fn unregister(&self, id: u64) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(i, _)| *i != id);
    }

    /// Wakes every registered sleeper (they re-check their conditions).
    pub fn notify(&self) {
        let list: Vec<Arc<dyn Wake>> = {
            let e = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if e.is_empty() {
                return;
            }
            e.iter().map(|(_, w)| w.clone()).collect()
        };
        for w in list {
            w.wake();
        }
    }
}

/// A waker's place on a queue; removes itself when dropped.
#[derive(Debug)]
pub struct Registration<'a> {
    queue: &'a WaitQueue,
    id: u64,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.queue.unregister(self.id);
    }
}

/// What a task's Sentry thread exposes to [`block`]: its waker, and whether a signal should
/// interrupt the wait.
pub trait Sleeper: Send + Sync {
    fn waker(&self) -> Arc<Waker>;
    /// True when an unblocked signal is pending (or the task is being killed).
    fn interrupted(&self) -> bool;
    /// The task is about to sleep for a while: its stub thread may stop spinning.
    fn hint_sleep(&self) {}
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<dyn Sleeper>>> = const { RefCell::new(None) };
    /// The waker of a thread that is not a task (tests, helpers).
    static FALLBACK: Arc<Waker> = Waker::new();
}

/// The calling thread's waker: its task's, or a private one.
pub fn current_waker() -> Arc<Waker> {
    current().map_or_else(|| FALLBACK.with(Arc::clone), |s| s.waker())
}

/// Makes `s` the sleeper of this Sentry thread (done once by the task's run loop).
pub fn set_current(s: Arc<dyn Sleeper>) {
    CURRENT.with(|c| *c.borrow_mut() = Some(s));
}

fn current() -> Option<Arc<dyn Sleeper>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Blocks the calling task until `ready` returns `Some`, on the given queues.
///
/// `ready` is called with the queues registered; it returns `Some(result)` to finish. The wait
/// ends early with `ERESTARTSYS` when a signal interrupts it (the caller may map that to
/// `EINTR` or `ERESTARTNOHAND` as the syscall requires) and with `ETIMEDOUT` at `deadline`.
/// Threads that are not tasks (tests) sleep on a private waker and are never interrupted.
pub fn block<T>(
    queues: &[&WaitQueue],
    deadline: Option<Instant>,
    ready: impl FnMut() -> Option<Result<T, Errno>>,
) -> Result<T, Errno> {
    block_with(queues, None, deadline, ready)
}

/// Whether the calling thread's [`block_on_host`] sleeps in the host (else on the queue).
pub fn sleeps_on_host() -> bool {
    current_waker().host_wake().is_some()
}

/// [`block`] for a condition only the host socket `fd` changes: the task sleeps in the host
/// until `fd` has one of `events` (errors and hang-ups always count), a signal, or
/// `deadline`. `queue` (the socket's, which the reactor notifies) is used instead only
/// when the task can't have a wake-up eventfd.
pub fn block_on_host<T>(
    queue: &WaitQueue,
    fd: BorrowedFd<'_>,
    events: i16,
    deadline: Option<Instant>,
    ready: impl FnMut() -> Option<Result<T, Errno>>,
) -> Result<T, Errno> {
    if sleeps_on_host() {
        block_with(&[], Some((fd, events)), deadline, ready)
    } else {
        block_with(&[queue], None, deadline, ready)
    }
}

/// [`block`] on `queues` that also ends when the host fd `fd` has one of `events`, the task
/// sleeping in the host's poll of it (a guest epoll over host sockets and Sentry files).
/// Only for tasks that [`sleeps_on_host`]: for others it is [`block`] on `queues` alone.
pub fn block_on_queues_and_host<T>(
    queues: &[&WaitQueue],
    fd: BorrowedFd<'_>,
    events: i16,
    deadline: Option<Instant>,
    ready: impl FnMut() -> Option<Result<T, Errno>>,
) -> Result<T, Errno> {
    block_with(queues, Some((fd, events)), deadline, ready)
}

fn block_with<T>(
    queues: &[&WaitQueue],
    host: Option<(BorrowedFd<'_>, i16)>,
    deadline: Option<Instant>,
    mut ready: impl FnMut() -> Option<Result<T, Errno>>,
) -> Result<T, Errno> {
    let sleeper = current();
    let waker = current_waker();
    let _regs: Vec<Registration<'_>> = queues
        .iter()
        .map(|q| q.register(waker.clone() as Arc<dyn Wake>))
        .collect();
    let mut slept: Option<Instant> = None;
    let r = loop {
        let seen = waker.generation();
        if let Some(r) = ready() {
            break r;
        }
        if sleeper.as_ref().is_some_and(|s| s.interrupted()) {
            break Err(Errno::ERESTARTSYS);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break Err(Errno::ETIMEDOUT);
        }
        if slept.is_none() {
            slept = Some(Instant::now());
            // The last sleep on this thread outlasted the stub's spin: this one likely will
            // too, so the stub thread sleeps at once and leaves the CPU to whoever will
            // wake this task (a joined thread, a waited-for child).
            if LONG_SLEEP.get() {
                if let Some(s) = &sleeper {
                    s.hint_sleep();
                }
            }
        }
        match host {
            Some((fd, events)) if waker.sleep_on_host(seen, deadline, fd, events) => {}
            _ => waker.sleep(seen, deadline),
        }
    };
    if let Some(t) = slept {
        LONG_SLEEP.set(t.elapsed() > LONG);
    }
    r
}

/// A sleep longer than the stub's spin window (40 µs, `platform/src/systrap`).
const LONG: std::time::Duration = std::time::Duration::from_micros(50);

thread_local! {
    /// Whether this thread's last sleep in [`block`] was [`LONG`].
    static LONG_SLEEP: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the calling task has a signal that should interrupt what it is doing (for loops
/// that block in the host, like a read from a host pipe, and poll in slices).
pub fn interrupted() -> bool {
    current().is_some_and(|s| s.interrupted())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::process::lock;
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    #[test]
    fn wakes_on_notify() {
        let q = Arc::new(WaitQueue::new());
        let flag = Arc::new(AtomicBool::new(false));
        let (q2, f2) = (q.clone(), flag.clone());
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            f2.store(true, Ordering::SeqCst);
            q2.notify();
        });
        let r: Result<u32, Errno> =
            block(&[&q], None, || flag.load(Ordering::SeqCst).then_some(Ok(7)));
        assert_eq!(r, Ok(7));
        t.join().expect("notifier");
        assert_eq!(lock(&q.entries).len(), 0, "registration removed");
    }

    #[test]
    fn times_out() {
        let q = WaitQueue::new();
        let d = Instant::now() + Duration::from_millis(10);
        let r: Result<(), Errno> = block(&[&q], Some(d), || None);
        assert_eq!(r, Err(Errno::ETIMEDOUT));
    }
}
