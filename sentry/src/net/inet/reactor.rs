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
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use snare_abi::Errno;
use snare_platform::net::Epoll;

use super::InetSocket;

/// The events each socket is watched for.
const EVENTS: u32 = (libc::EPOLLIN
    | libc::EPOLLOUT
    | libc::EPOLLPRI
    | libc::EPOLLRDHUP
    | libc::EPOLLERR
    | libc::EPOLLHUP
    | libc::EPOLLET) as u32;

/// The epoll and the sockets its tokens stand for.
struct Reactor {
    epoll: Epoll,
    sockets: Mutex<HashMap<u64, Weak<InetSocket>>>,
    next: AtomicU64,
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
                let s = self
                    .sockets
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&token)
                    .and_then(Weak::upgrade);
                if let Some(s) = s {
                    s.wq.notify();
                    self.idle(&s, token);
                }
            }
        }
    }
}

impl Reactor {
    /// Stops watching a socket no guest waits on (its own blocked calls sleep in the host's
    /// poll of it): each arrival would otherwise wake this thread for nothing, a thread
    /// switch per message on a loaded machine. [`arm`] starts again; both under the
    /// socket's `armed` lock, so a waiter that registered before this check keeps it armed
    /// and one that registers after arms it again.
    fn idle(&self, s: &InetSocket, token: u64) {
        let mut armed = s.armed.lock().unwrap_or_else(|e| e.into_inner());
        if *armed && s.wq.is_empty() && self.epoll.modify(s.fd(), 0, token).is_ok() {
            *armed = false;
        }
    }
}

/// Watches `s`'s host socket again if [`Reactor::idle`] stopped it: called by everything
/// that waits on `s.wq` after registering there (readiness queries, the fallback blocking
/// wait). Re-arming an edge-triggered watch reports a socket that is ready now.
pub(super) fn arm(s: &InetSocket) {
    let mut armed = s.armed.lock().unwrap_or_else(|e| e.into_inner());
    if *armed {
        return;
    }
    let Some(r) = REACTOR.get().and_then(Option::as_ref) else {
        return;
    };
    match r
        .epoll
        .modify(s.fd(), EVENTS, s.token.load(Ordering::Relaxed))
    {
        Ok(()) => *armed = true,
        Err(e) => tracing::warn!(?e, "inet: re-arming a socket's watch failed"),
    }
}

/// Watches `fd`, the host socket of `s`: returns its token (for [`unwatch`]).
pub(super) fn watch(fd: BorrowedFd<'_>, s: &Arc<InetSocket>) -> Result<u64, Errno> {
    let r = reactor().ok_or(Errno::ENOMEM)?;
    let token = r.next.fetch_add(1, Ordering::Relaxed);
    r.sockets
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(token, Arc::downgrade(s));
    if let Err(e) = r.epoll.add(fd, EVENTS, token) {
        unwatch(token);
        return Err(e);
    }
    Ok(token)
}

/// Forgets the token of a socket being closed (closing its host fd leaves the epoll).
pub(super) fn unwatch(token: u64) {
    if let Some(r) = REACTOR.get().and_then(Option::as_ref) {
        r.sockets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&token);
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
        .filter_map(Weak::upgrade)
        .collect()
}
