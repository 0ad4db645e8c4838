//! One Sentry thread for the sandbox's housekeeping on host file descriptors: a stub
//! process's death (its pidfd, `kernel::stubwatch`), host signals for the guest (a signalfd,
//! `run.rs`), the OCI control socket's connections (`oci::server`). One `poll` over all of
//! them, woken by a socket when a source is added, where there used to be a thread each:
//! every host task of a container counts in its cgroup (`docker stats`' PIDS).
//!
//! Handlers run on this thread, one at a time: they must not block (a slow one delays the
//! others, e.g. a stub death's kill behind a signal's delivery).

use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, Weak};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

/// What a handler says after it ran: keep watching its descriptor, or drop the source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    Watching,
    Done,
}

/// Something to watch: a descriptor and what to do when it is readable (or hung up).
pub trait Source: Send + Sync {
    fn fd(&self) -> BorrowedFd<'_>;
    fn ready(&self) -> Keep;
}

/// The thread and its sources: see the module documentation.
pub struct HostEvents {
    sources: Mutex<Vec<Arc<dyn Source>>>,
    wake: Mutex<UnixStream>,
}

impl std::fmt::Debug for HostEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostEvents")
            .field("sources", &lock(&self.sources).len())
            .finish()
    }
}

impl HostEvents {
    /// Starts the thread; `None` if it can't (callers then do without: a stub's death is
    /// noticed when its process next runs, host signals are not forwarded).
    pub fn start() -> Option<Arc<HostEvents>> {
        let (tx, mut rx) = UnixStream::pair().ok()?;
        rx.set_nonblocking(true).ok()?;
        let events = Arc::new(HostEvents {
            sources: Mutex::new(Vec::new()),
            wake: Mutex::new(tx),
        });
        let weak = Arc::downgrade(&events);
        std::thread::Builder::new()
            .name("snare-events".into())
            .spawn(move || run(&weak, &mut rx))
            .ok()?;
        Some(events)
    }

    /// Watches `source` from now on, until its handler says [`Keep::Done`].
    pub fn add(&self, source: Arc<dyn Source>) {
        lock(&self.sources).push(source);
        let _ = lock(&self.wake).write(&[1]);
    }
}

fn run(weak: &Weak<HostEvents>, rx: &mut UnixStream) {
    while let Some(events) = weak.upgrade() {
        let sources: Vec<Arc<dyn Source>> = lock(&events.sources).clone();
        drop(events);
        let mut fds = vec![PollFd::new(rx.as_fd(), PollFlags::POLLIN)];
        fds.extend(
            sources
                .iter()
                .map(|s| PollFd::new(s.fd(), PollFlags::POLLIN)),
        );
        if poll(&mut fds, PollTimeout::NONE).is_err() {
            continue;
        }
        let ready: Vec<bool> = fds[1..]
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        let mut buf = [0u8; 64];
        while rx.read(&mut buf).is_ok_and(|n| n > 0) {}
        for (s, _) in sources.iter().zip(ready).filter(|(_, r)| *r) {
            if s.ready() == Keep::Done {
                let Some(events) = weak.upgrade() else { return };
                lock(&events.sources).retain(|x| !Arc::ptr_eq(x, s));
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::OwnedFd;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Pipe {
        rd: OwnedFd,
        seen: AtomicUsize,
        keep: Keep,
    }

    impl Source for Pipe {
        fn fd(&self) -> BorrowedFd<'_> {
            self.rd.as_fd()
        }
        fn ready(&self) -> Keep {
            let mut b = [0u8; 16];
            let _ = nix::unistd::read(&self.rd, &mut b);
            self.seen.fetch_add(1, Ordering::SeqCst);
            self.keep
        }
    }

    fn until(f: impl Fn() -> bool) -> bool {
        let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < end {
            if f() {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        false
    }

    #[test]
    fn handlers_run_and_done_sources_go() {
        let ev = HostEvents::start().expect("thread");
        let (r1, w1) = nix::unistd::pipe().expect("pipe");
        let (r2, w2) = nix::unistd::pipe().expect("pipe");
        let kept = Arc::new(Pipe {
            rd: r1,
            seen: AtomicUsize::new(0),
            keep: Keep::Watching,
        });
        let once = Arc::new(Pipe {
            rd: r2,
            seen: AtomicUsize::new(0),
            keep: Keep::Done,
        });
        ev.add(kept.clone());
        ev.add(once.clone());
        nix::unistd::write(&w1, b"a").expect("write");
        nix::unistd::write(&w2, b"a").expect("write");
        assert!(until(|| kept.seen.load(Ordering::SeqCst) == 1));
        assert!(until(|| once.seen.load(Ordering::SeqCst) == 1));
        assert!(until(|| lock(&ev.sources).len() == 1));
        nix::unistd::write(&w1, b"b").expect("write");
        nix::unistd::write(&w2, b"b").expect("write");
        assert!(until(|| kept.seen.load(Ordering::SeqCst) == 2));
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(once.seen.load(Ordering::SeqCst), 1);
    }
}
