//! The one host epoll that tells the Sentry when its host sockets become ready.
//!
//! Every [`InetSocket`]'s host fd is added to one host epoll, edge-triggered, with a token of
//! its own. One Sentry thread (`snare-inet`, started with the first socket) waits on it and,
//! for each event, notifies that socket's wait queue: the same queue a blocking call, `poll`,
//! `select` or a guest epoll registers on, which then asks the host socket again. No thread
//! per socket, no polling loop: the thread sleeps in `epoll_wait` until the host kernel says
//! something changed. Edge-triggered is enough because every waiter asks the socket itself
//! after it registered (`kernel::wait::block`), and the host reports each new arrival or
//! freed room as a new edge.

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use snare_abi::Errno;
use snare_platform::net::Epoll;

use super::InetSocket;
use crate::kernel::wait::WaitQueue;
use crate::vfs::host_fds::HostFdGuard;

/// The events each socket is watched for.
const EVENTS: u32 = (libc::EPOLLIN
    | libc::EPOLLOUT
    | libc::EPOLLPRI
    | libc::EPOLLRDHUP
    | libc::EPOLLERR
    | libc::EPOLLHUP
    | libc::EPOLLET) as u32;

/// The epoll and the sockets its tokens stand for: their watches (which don't keep the
/// sockets alive: a guest's close of a socket closes its host socket at once, not when this
/// thread lets go of it), and the sockets for `/proc/net`.
struct Reactor {
    epoll: Epoll,
    sockets: Mutex<HashMap<u64, Entry>>,
    next: AtomicU64,
}

/// A token's watch, and its socket once made.
type Entry = (Arc<Watch>, Weak<InetSocket>);

/// What the reactor knows of one socket.
#[derive(Debug)]
pub(super) struct Watch {
    /// Notified when the host fd's readiness may have changed.
    pub wq: Arc<WaitQueue>,
    /// Whether the epoll reports the socket now (see [`arm`]), and whether its fd is open.
    state: Mutex<WatchState>,
    /// The host fd's number, used only while `state.open` (under its lock).
    fd: RawFd,
    token: u64,
}

#[derive(Debug)]
struct WatchState {
    armed: bool,
    open: bool,
}

static REACTOR: OnceLock<Option<Arc<Reactor>>> = OnceLock::new();

/// The reactor, started on first use (None if the host refused its epoll or thread).
fn reactor() -> Option<&'static Arc<Reactor>> {
    REACTOR
        .get_or_init(|| {
            let r = Arc::new(Reactor {
                epoll: Epoll::new()
                    .inspect_err(|e| tracing::error!(?e, "inet: no host epoll"))
                    .ok()?,
                sockets: Mutex::new(HashMap::new()),
                next: AtomicU64::new(1),
            });
            let run = r.clone();
            std::thread::Builder::new()
                .name("snare-inet".into())
                .spawn(move || run.run())
                .inspect_err(|e| tracing::error!(%e, "inet: no reactor thread"))
                .ok()?;
            Some(r)
        })
        .as_ref()
}

impl Reactor {
    /// The thread's loop: each event wakes its socket's waiters.
    fn run(&self) {
        let mut evs = [(0u64, 0u32); 64];
        loop {
            let n = match self.epoll.wait(&mut evs) {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    tracing::error!(?e, "inet: host epoll_wait failed; reactor stops");
                    return;
                }
            };
            for &(token, _) in &evs[..n] {
                let w = self
                    .sockets
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&token)
                    .map(|(w, _)| w.clone());
                if let Some(w) = w {
                    w.wq.notify();
                    self.idle(&w);
                }
            }
        }
    }
}

impl Reactor {
    /// Stops watching a socket no guest waits on (its own blocked calls sleep in the host's
    /// poll of it): each arrival would otherwise wake this thread for nothing, a thread
    /// switch per message on a loaded machine. [`arm`] starts again; both under the
    /// watch's `armed` lock, so a waiter that registered before this check keeps it armed
    /// and one that registers after arms it again; and only while the socket is open (its
    /// drop clears `open` under the same lock before its fd closes).
    fn idle(&self, w: &Watch) {
        let mut st = w.state.lock().unwrap_or_else(|e| e.into_inner());
        // Edge-triggered still: epoll reports errors and hang-ups whatever the mask, and a
        // level-triggered hang-up would wake this thread until the socket closes.
        let quiet = libc::EPOLLET as u32;
        if st.open && st.armed && w.wq.is_empty() && self.epoll.modify(w.fd, quiet, w.token).is_ok()
        {
            st.armed = false;
        }
    }
}

/// Watches the host socket of `w` again if [`Reactor::idle`] stopped it: called, with the
/// socket open, by everything that waits on `w.wq` after registering there (readiness
/// queries, the fallback blocking wait). Re-arming an edge-triggered watch reports a socket
/// that is ready now.
pub(super) fn arm(w: &Watch) {
    let mut st = w.state.lock().unwrap_or_else(|e| e.into_inner());
    if st.armed || !st.open {
        return;
    }
    let Some(r) = REACTOR.get().and_then(Option::as_ref) else {
        return;
    };
    match r.epoll.modify(w.fd, EVENTS, w.token) {
        Ok(()) => st.armed = true,
        Err(e) => tracing::warn!(?e, "inet: re-arming a socket's watch failed"),
    }
}

/// Watches `fd`, the host socket of a socket being made: returns its watch, whose token
/// [`unwatch`] takes when the socket goes ([`attach`] names the socket).
pub(super) fn watch(fd: BorrowedFd<'_>) -> Result<Arc<Watch>, Errno> {
    watch_into(fd, Arc::new(WaitQueue::new()))
}

/// [`watch`], notifying `wq`.
fn watch_into(fd: BorrowedFd<'_>, wq: Arc<WaitQueue>) -> Result<Arc<Watch>, Errno> {
    let r = reactor().ok_or(Errno::ENOMEM)?;
    let token = r.next.fetch_add(1, Ordering::Relaxed);
    let w = Arc::new(Watch {
        wq,
        state: Mutex::new(WatchState {
            armed: true,
            open: true,
        }),
        fd: fd.as_raw_fd(),
        token,
    });
    r.sockets
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(token, (w.clone(), Weak::new()));
    if let Err(e) = r.epoll.add(fd, EVENTS, token) {
        unwatch(&w);
        return Err(e);
    }
    Ok(w)
}

/// Names the socket of its watch, for [`sockets`].
pub(super) fn attach(s: &Arc<InetSocket>) {
    if let Some(r) = REACTOR.get().and_then(Option::as_ref) {
        if let Some(e) = r
            .sockets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(&s.watch.token)
        {
            e.1 = Arc::downgrade(s);
        }
    }
}

/// Forgets the token of a socket being closed (closing its host fd leaves the epoll).
pub(super) fn unwatch(w: &Watch) {
    w.state.lock().unwrap_or_else(|e| e.into_inner()).open = false;
    if let Some(r) = REACTOR.get().and_then(Option::as_ref) {
        r.sockets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&w.token);
    }
}

/// Every socket the reactor watches (every live inet socket of the sandbox).
pub(super) fn sockets() -> Vec<Arc<InetSocket>> {
    let Some(r) = REACTOR.get().and_then(Option::as_ref) else {
        return Vec::new();
    };
    r.sockets
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .filter_map(|(_, s)| s.upgrade())
        .collect()
}

/// A guest epoll's host sockets, in a host epoll of their own (edge-triggered, each with the
/// token its owner gives it): the epoll's waiters sleep in the host's poll of it, woken by
/// the host kernel when one of the sockets changes, and read which ones did
/// ([`HostSet::changed`]). The reactor watches the set's fd too, as one more host fd, so
/// waiters that can only sleep on a queue (`poll` or `select` of the epoll, an epoll
/// watching it) hear of the changes on the queue given to [`HostSet::new`].
#[derive(Debug)]
pub struct HostSet {
    epoll: Epoll,
    watch: Arc<Watch>,
    _budget: HostFdGuard,
}

impl HostSet {
    /// A new, empty set whose changes the reactor reports on `wq`.
    pub fn new(wq: Arc<WaitQueue>) -> Result<HostSet, Errno> {
        let budget = HostFdGuard::acquire()?;
        let epoll = Epoll::new()?;
        let watch = watch_into(epoll.as_fd(), wq)?;
        Ok(HostSet {
            epoll,
            watch,
            _budget: budget,
        })
    }

    /// The set's host fd: readable while a change is unread.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.epoll.as_fd()
    }

    /// Watches `fd` for `events` (poll bits; `EPOLLET` is added), reported as `token`. A
    /// closed fd leaves the set by itself.
    pub fn add(&self, fd: BorrowedFd<'_>, events: u32, token: u64) -> Result<(), Errno> {
        self.epoll.add(fd, events | libc::EPOLLET as u32, token)
    }

    /// Changes the events `fd` (open, and added) is watched for; re-arms its edge.
    pub fn modify(&self, fd: BorrowedFd<'_>, events: u32, token: u64) -> Result<(), Errno> {
        self.epoll
            .modify(fd.as_raw_fd(), events | libc::EPOLLET as u32, token)
    }

    /// Stops watching `fd` (open, and added).
    pub fn remove(&self, fd: BorrowedFd<'_>) -> Result<(), Errno> {
        self.epoll.delete(fd.as_raw_fd())
    }

    /// Calls `f` with the token of every socket that changed since the last call.
    pub fn changed(&self, mut f: impl FnMut(u64)) {
        let mut evs = [(0u64, 0u32); 64];
        while let Ok(n) = self.epoll.ready_now(&mut evs) {
            for &(token, _) in &evs[..n] {
                f(token);
            }
            if n < evs.len() {
                break;
            }
        }
    }

    /// Asks the reactor to watch the set again (see [`arm`]): called by waiters on its
    /// queue after registering there.
    pub fn arm(&self) {
        arm(&self.watch);
    }
}

impl Drop for HostSet {
    fn drop(&mut self) {
        unwatch(&self.watch);
    }
}
