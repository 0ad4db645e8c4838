//! Notices a stub process that dies while its guest process waits in the Sentry (in a read,
//! a wait, a futex): the process is killed at once, instead of when it next runs guest code
//! (where the platform reports the death as `Event::Exited`).
//!
//! One thread polls the pidfds of every live stub, plus a socket that wakes it when a stub is
//! added. A stub's death kills the thread group registered with it, if that group still runs
//! in it (not after an exec to another stub, not once it is a zombie: then the death was the
//! Sentry's own doing).

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, Weak};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use snare_platform::systrap::SystrapAddressSpace;

use super::process::ThreadGroup;
use super::ExitStatus;

#[derive(Debug)]
struct Entry {
    pidfd: OwnedFd,
    pid: i32,
    tg: Weak<ThreadGroup>,
}

/// The watcher: see the module documentation.
#[derive(Debug)]
pub struct StubWatch {
    entries: Mutex<Vec<Arc<Entry>>>,
    wake: Mutex<UnixStream>,
}

impl StubWatch {
    /// Starts the watching thread; `None` if it can't (stub deaths are then noticed when the
    /// process next runs).
    pub fn start() -> Option<Arc<StubWatch>> {
        let (tx, mut rx) = UnixStream::pair().ok()?;
        rx.set_nonblocking(true).ok()?;
        let w = Arc::new(StubWatch {
            entries: Mutex::new(Vec::new()),
            wake: Mutex::new(tx),
        });
        let weak = Arc::downgrade(&w);
        std::thread::Builder::new()
            .name("snare-stubwatch".into())
            .spawn(move || {
                while let Some(w) = weak.upgrade() {
                    let entries: Vec<Arc<Entry>> = lock(&w.entries).clone();
                    drop(w);
                    let mut fds = vec![PollFd::new(rx.as_fd(), PollFlags::POLLIN)];
                    fds.extend(
                        entries
                            .iter()
                            .map(|e| PollFd::new(e.pidfd.as_fd(), PollFlags::POLLIN)),
                    );
                    if poll(&mut fds, PollTimeout::NONE).is_err() {
                        continue;
                    }
                    let dead: Vec<bool> = fds[1..]
                        .iter()
                        .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
                        .collect();
                    let mut buf = [0u8; 64];
                    while rx.read(&mut buf).is_ok_and(|n| n > 0) {}
                    let Some(w) = weak.upgrade() else { return };
                    for (e, _) in entries.iter().zip(dead).filter(|(_, d)| *d) {
                        lock(&w.entries).retain(|x| !Arc::ptr_eq(x, e));
                        stub_died(e);
                    }
                }
            })
            .ok()?;
        Some(w)
    }

    /// Watches the stub of `space`, which `tg` now runs in.
    pub fn watch(&self, space: &SystrapAddressSpace, tg: &Arc<ThreadGroup>) {
        tg.state().stub_pid = space.stub_pid();
        let Ok(pidfd) = space.pidfd().try_clone_to_owned() else {
            return;
        };
        lock(&self.entries).push(Arc::new(Entry {
            pidfd,
            pid: space.stub_pid(),
            tg: Arc::downgrade(tg),
        }));
        let _ = lock(&self.wake).write(&[1]);
    }
}

fn stub_died(e: &Entry) {
    let Some(tg) = e.tg.upgrade() else {
        return;
    };
    {
        let st = tg.state();
        if st.stub_pid != e.pid || st.zombie.is_some() || st.group_exit.is_some() {
            return;
        }
    }
    tracing::warn!(
        tgid = tg.tgid,
        stub = e.pid,
        "stub process died while the process waited in the Sentry: killing the process"
    );
    super::signal::group_exit(&tg, ExitStatus::Signal(snare_abi::signal::SIGKILL), None);
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
