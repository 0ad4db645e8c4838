//! A terminal of the sandbox's devpts bridged to a host pty: what a container's
//! `process.terminal` is (`--console-socket`: the host master goes to the caller, here the
//! containerd shim, which copies between it and Docker's stdio).
//!
//! The host slave is kept raw (the host's line discipline does nothing: no echo, no
//! `ONLCR`, no signals) and the Sentry's pty does all of a terminal's work for the guest:
//! the bytes the host master writes are the input of the Sentry pty's master (so `^C`
//! becomes SIGINT for the guest's foreground process group through [`super::ldisc`]), and
//! what the guest writes to its slave comes out of that master, cooked (`ONLCR`), into the
//! host slave.
//!
//! One thread per bridge copies both ways, event-driven: it sleeps in the host's `poll` on
//! the host slave and, at the same time, on the Sentry pty master's wait queue
//! (`kernel::wait::block_on_queues_and_host`, the sleep a guest epoll over host and Sentry
//! files uses), so neither side is polled in a loop. A thread rather than the network
//! reactor: the reactor serves sockets whose owners sleep on its notifications, while here
//! the copying itself has to happen somewhere, and a thread that owns both ends needs no
//! locking between them. Each direction holds at most one [`CHUNK`]: a guest that stops
//! reading leaves the Sentry's input queue full, the bridge stops reading the host, and the
//! host pty's own buffer pushes back on the shim; a shim that stops reading leaves the host
//! slave unwritable, the bridge waits (only it), and the guest's writes block on the full
//! output queue, as on Linux.
//!
//! The window size travels by the host's own means: the host slave is the controlling
//! terminal of the Sentry's session ([`prepare`]), so a resize on the host master sends the
//! Sentry SIGWINCH, and the Sentry's signal thread calls [`Bridge::absorb`], which copies
//! the host size into the Sentry pty (raising SIGWINCH in the guest when it changed). A
//! hang-up of the host side (the master closed) ends the bridge, which closes the Sentry
//! pty's master: the guest's terminal hangs up as Linux's does (reads 0, writes `EIO`, its
//! session leader gets SIGHUP and SIGCONT).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use nix::poll::{PollFd, PollFlags, PollTimeout};
use snare_abi::file::{o, Stat};
use snare_abi::signal::{SIGHUP, SIGWINCH};
use snare_abi::tty::Winsize;
use snare_abi::Errno;

use super::{pty_of, Devpts, JobControl, Pty, PtySlave};
use crate::kernel::wait::block_on_queues_and_host;
use crate::vfs::{poll, FileDescription};

/// The most bytes the bridge holds in each direction.
pub const CHUNK: usize = 4096;

/// Readies a host pty slave for [`Bridge::start`], before the Sentry confines itself: raw
/// mode, non-blocking, and, if `controlling`, the controlling terminal of a new session of
/// the Sentry's, so that the host tells the Sentry of its resizes and hang-up by signals.
/// A process has one controlling terminal: a second bridge (`exec -t`) must learn of its
/// resizes another way and call [`Bridge::sync_size`].
pub fn prepare(host: BorrowedFd<'_>, controlling: bool) -> Result<(), String> {
    use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
    let fail = |what: &str, e: &dyn std::fmt::Display| format!("the terminal: {what}: {e}");
    let mut t = tcgetattr(host).map_err(|e| fail("not a terminal", &e))?;
    cfmakeraw(&mut t);
    tcsetattr(host, SetArg::TCSANOW, &t).map_err(|e| fail("raw mode", &e))?;
    let flags =
        nix::fcntl::fcntl(host, nix::fcntl::FcntlArg::F_GETFL).map_err(|e| fail("flags", &e))?;
    let flags = nix::fcntl::OFlag::from_bits_truncate(flags) | nix::fcntl::OFlag::O_NONBLOCK;
    nix::fcntl::fcntl(host, nix::fcntl::FcntlArg::F_SETFL(flags))
        .map_err(|e| fail("non-blocking", &e))?;
    if controlling {
        snare_platform::tty::take_controlling(host)
            .map_err(|e| fail("controlling terminal", &e))?;
    }
    Ok(())
}

/// What the bridge's thread tells the others.
#[derive(Debug, Default)]
struct Progress {
    /// Bytes taken from the Sentry pty's master not yet written to the host.
    held: usize,
    /// The thread has ended (the host side is gone, or the Sentry pty refused input).
    ended: bool,
}

/// A running bridge (see the module docs).
#[derive(Debug)]
pub struct Bridge {
    pty: Arc<Pty>,
    host: Arc<OwnedFd>,
    progress: Arc<Shared>,
}

/// [`Progress`] and its condition variable.
type Shared = (Mutex<Progress>, Condvar);

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, Progress> {
    s.0.lock().unwrap_or_else(|e| e.into_inner())
}

impl Bridge {
    /// Makes a pty in `devpts` (owned by `uid`; its signals through `jobs`) with the host
    /// slave's window size, and starts copying between its master and `host`, a host pty
    /// slave that [`prepare`] readied. Returns the bridge and the pty's slave, which is
    /// the guest's terminal (its stdio; its session is the caller's to set, [`Pty::job`]).
    pub fn start(
        devpts: &Devpts,
        jobs: Option<Arc<dyn JobControl>>,
        host: OwnedFd,
        uid: u32,
    ) -> Result<(Arc<Bridge>, Arc<PtySlave>), String> {
        let fail = |e: Errno| format!("the terminal: {}", e.description());
        let master = devpts
            .new_master(
                uid,
                o::RDWR | o::NONBLOCK,
                jobs,
                Stat::default(),
                "/dev/ptmx".into(),
            )
            .map_err(fail)?;
        let pty = pty_of(&*master)
            .ok_or_else(|| fail(Errno::EINVAL))?
            .0
            .clone();
        pty.lock().locked = false;
        let slave = pty.open_slave(o::RDWR).map_err(fail)?;
        let host = Arc::new(host);
        let bridge = Arc::new(Bridge {
            pty,
            host: host.clone(),
            progress: Arc::default(),
        });
        bridge.sync_size();
        let progress = bridge.progress.clone();
        std::thread::Builder::new()
            .name("snare-tty".into())
            .spawn(move || {
                let end = pump(&*master, host.as_fd(), &progress);
                tracing::debug!(?end, "the terminal's bridge ends");
                // The master goes first (the guest's terminal hangs up if it was the host
                // that went), then the waiters hear of the end.
                drop(master);
                lock(&progress).ended = true;
                progress.1.notify_all();
            })
            .map_err(|e| format!("the terminal: {e}"))?;
        Ok((bridge, slave))
    }

    /// The Sentry's pty.
    pub fn pty(&self) -> &Arc<Pty> {
        &self.pty
    }

    /// Whether a host signal the Sentry got is the host terminal's news rather than one to
    /// pass on to the guest: the host kernel's (`from_kernel`, not a process's `kill`)
    /// SIGWINCH, a resize (the size is copied into the Sentry's pty, which signals the
    /// guest's foreground group if it changed), and SIGHUP, the hang-up (the bridge sees
    /// the end itself and hangs the guest's terminal up).
    pub fn absorb(&self, sig: i32, from_kernel: bool) -> bool {
        match (sig, from_kernel) {
            (SIGWINCH, true) => {
                self.sync_size();
                true
            }
            (SIGHUP, true) => true,
            _ => false,
        }
    }

    /// Copies the host terminal's window size into the Sentry's pty (which signals the
    /// guest's foreground group if it changed). Whether it changed.
    pub fn sync_size(&self) -> bool {
        snare_platform::tty::winsize(self.host.as_fd()).is_ok_and(|w| {
            self.pty.set_winsize(Winsize {
                ws_row: w[0],
                ws_col: w[1],
                ws_xpixel: w[2],
                ws_ypixel: w[3],
            })
        })
    }

    /// Waits (until `deadline` at most) for what the guest wrote to reach the host: called
    /// once the guest is gone, before the Sentry exits (the host pty keeps what it was
    /// given for the shim to read).
    pub fn drain(&self, deadline: Instant) {
        let cv = &self.progress.1;
        let mut p = lock(&self.progress);
        while !p.ended && (p.held > 0 || !self.pty.lock().ld.output.is_empty()) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                tracing::debug!(held = p.held, "terminal output not drained");
                return;
            }
            p = cv
                .wait_timeout(p, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// The host fd's poll events now (0 on an error).
fn host_events(host: BorrowedFd<'_>, events: PollFlags) -> PollFlags {
    let mut fds = [PollFd::new(host, events)];
    match nix::poll::poll(&mut fds, PollTimeout::ZERO) {
        Ok(_) => fds[0].revents().unwrap_or(PollFlags::empty()),
        Err(_) => PollFlags::empty(),
    }
}

/// One direction's bytes in flight.
#[derive(Default)]
struct Held {
    buf: Vec<u8>,
    at: usize,
}

impl Held {
    fn is_empty(&self) -> bool {
        self.at >= self.buf.len()
    }

    fn pending(&self) -> &[u8] {
        &self.buf[self.at..]
    }

    fn consume(&mut self, n: usize) {
        self.at += n;
        if self.is_empty() {
            self.buf.clear();
            self.at = 0;
        }
    }

    /// Fills the (empty) buffer with one read.
    fn fill(
        &mut self,
        read: impl FnOnce(&mut [u8]) -> Result<usize, Errno>,
    ) -> Result<usize, Errno> {
        self.buf.resize(CHUNK, 0);
        self.at = 0;
        let r = read(&mut self.buf);
        self.buf.truncate(*r.as_ref().unwrap_or(&0));
        r
    }
}

/// How a side of the bridge ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// The host master is closed (or the host terminal failed).
    Host,
    /// The Sentry's pty refused input.
    Guest,
}

/// The bridge's loop: copies until the host side is gone (a guest without its terminal open
/// is no end: it may open it again), keeping `progress.held` up to date.
fn pump(master: &dyn FileDescription, host: BorrowedFd<'_>, progress: &Shared) -> End {
    let mut input = Held::default();
    let mut output = Held::default();
    loop {
        let mut moved = false;
        // Host → guest.
        if input.is_empty() {
            match input.fill(|b| nix::unistd::read(host, b).map_err(|e| Errno::new(e as i32))) {
                Ok(0) => return End::Host,
                Ok(_) => moved = true,
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                Err(_) => return End::Host,
            }
        }
        if !input.is_empty() {
            match master.write(input.pending()) {
                Ok(n) => {
                    input.consume(n);
                    moved |= n > 0;
                }
                Err(Errno::EAGAIN) => {}
                Err(_) => return End::Guest,
            }
        }
        // Guest → host.
        if output.is_empty() {
            // Taken from the pty and counted as held in one step, under the lock
            // [`Bridge::drain`] looks at both under: the bytes are always in one of them.
            let mut p = lock(progress);
            let r = output.fill(|b| master.read(b));
            p.held = output.pending().len();
            drop(p);
            // EIO: every guest description of the slave is closed. The master stays, as
            // a pty does on Linux while its master is open: the guest may open
            // `/dev/pts/N` again.
            if let Ok(n) = r {
                moved |= n > 0;
            }
        }
        if !output.is_empty() {
            match nix::unistd::write(host, output.pending()).map_err(|e| Errno::new(e as i32)) {
                Ok(n) => {
                    output.consume(n);
                    moved |= n > 0;
                }
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                Err(_) => return End::Host,
            }
        }
        if moved {
            lock(progress).held = output.pending().len();
            progress.1.notify_all();
        }
        if moved {
            continue;
        }
        // Nothing moved: sleep until a side can take or give what is waiting.
        let mut want = PollFlags::empty();
        if input.is_empty() {
            want |= PollFlags::POLLIN;
        }
        if !output.is_empty() {
            want |= PollFlags::POLLOUT;
        }
        let mut master_want = 0;
        if !input.is_empty() {
            master_want |= poll::OUT;
        }
        if output.is_empty() {
            master_want |= poll::IN;
        }
        let Some(queue) = master.wait_queue() else {
            return End::Guest;
        };
        let _ = block_on_queues_and_host(&[queue], host, want.bits(), None, || {
            let host_now = host_events(host, want);
            let master_now = master.poll();
            (!host_now.is_empty() || master_now & master_want != 0).then_some(Ok(()))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A host pty pair: (master, slave), the slave readied as the Sentry has it (without
    /// the controlling terminal: the test's session keeps its own).
    fn host_pair() -> (OwnedFd, OwnedFd) {
        use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
        let p = nix::pty::openpty(None, None).expect("openpty");
        let mut t = tcgetattr(&p.slave).expect("tcgetattr");
        cfmakeraw(&mut t);
        tcsetattr(&p.slave, SetArg::TCSANOW, &t).expect("raw");
        let fl = nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NONBLOCK;
        nix::fcntl::fcntl(&p.slave, nix::fcntl::FcntlArg::F_SETFL(fl)).expect("nonblock");
        (p.master, p.slave)
    }

    fn read_until(fd: &OwnedFd, want: &[u8]) -> Vec<u8> {
        let mut got = Vec::new();
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        while !got.windows(want.len()).any(|w| w == want) && Instant::now() < deadline {
            let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
            let _ = nix::poll::poll(&mut fds, PollTimeout::from(100u16));
            let mut b = [0u8; 256];
            if let Ok(n) = nix::unistd::read(fd, &mut b) {
                got.extend_from_slice(&b[..n]);
            }
        }
        got
    }

    #[test]
    fn copies_both_ways_cooked_by_the_sentry_pty() {
        let devpts = Devpts::new();
        let (master, slave) = host_pair();
        let (bridge, guest) = Bridge::start(&devpts, None, slave, 0).expect("bridge");
        assert_eq!(bridge.pty().index(), 0);
        // The guest's output gets ONLCR from the Sentry's pty, not from the (raw) host's.
        assert_eq!(guest.write(b"hi\n"), Ok(3));
        assert_eq!(read_until(&master, b"hi\r\n"), b"hi\r\n");
        // The host's input is echoed by the Sentry's pty and read as a line.
        nix::unistd::write(&master, b"ab\r").expect("write");
        assert_eq!(read_until(&master, b"ab\r\n"), b"ab\r\n");
        let mut b = [0u8; 8];
        assert_eq!(guest.read(&mut b), Ok(3));
        assert_eq!(&b[..3], b"ab\n");
    }

    #[test]
    fn window_size_and_hang_up() {
        let devpts = Devpts::new();
        let (master, slave) = host_pair();
        let ws = [24u16, 80, 0, 0];
        snare_platform::tty::set_winsize(master.as_fd(), ws).expect("resize");
        let (bridge, guest) = Bridge::start(&devpts, None, slave, 0).expect("bridge");
        assert_eq!(bridge.pty().lock().winsize.ws_col, 80);
        snare_platform::tty::set_winsize(master.as_fd(), [50, 132, 0, 0]).expect("resize");
        assert!(bridge.sync_size(), "a change");
        assert!(!bridge.sync_size(), "no change");
        assert_eq!(bridge.pty().lock().winsize.ws_row, 50);
        assert!(bridge.absorb(SIGHUP, true), "the host terminal's");
        assert!(!bridge.absorb(SIGHUP, false), "kill's");
        assert!(!bridge.absorb(SIGWINCH, false), "kill's");
        drop(master);
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        while !bridge.pty().hung_up() && Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(bridge.pty().hung_up(), "the guest's terminal hangs up");
        let mut b = [0u8; 4];
        assert_eq!(guest.read(&mut b), Ok(0));
        assert_eq!(guest.write(b"x"), Err(Errno::EIO));
    }

    #[test]
    fn a_guest_that_does_not_read_bounds_what_is_held() {
        let devpts = Devpts::new();
        let (master, slave) = host_pair();
        let (bridge, _guest) = Bridge::start(&devpts, None, slave, 0).expect("bridge");
        let fl = nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NONBLOCK;
        nix::fcntl::fcntl(&master, nix::fcntl::FcntlArg::F_SETFL(fl)).expect("nonblock");
        // Raw input with no echo: nothing comes back, and the writes stop once the
        // Sentry pty's queue, the bridge's chunk and the host pty's buffer are full.
        bridge
            .pty()
            .lock()
            .ld
            .set_termios(snare_abi::tty::Termios2::default());
        let chunk = [b'x'; 4096];
        let mut total = 0usize;
        let mut stalls = 0;
        while stalls < 20 && total < 64 << 20 {
            match nix::unistd::write(&master, &chunk) {
                Ok(n) => total += n,
                Err(_) => {
                    stalls += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
            }
        }
        assert!(
            total < 4 << 20,
            "the host's writes stop ({total} bytes taken)"
        );
    }
}
