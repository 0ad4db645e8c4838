//! Pseudo-terminals: a master ([`PtyMaster`], opened by `/dev/ptmx`) and a slave
//! ([`PtySlave`], `/dev/pts/N`) sharing one [`Pty`]: its line discipline ([`ldisc`]: the
//! slave's termios, the input the master wrote, the output the slave wrote), window size,
//! lock, and the session and foreground process group of the terminal.
//!
//! [`devpts`] is the filesystem at `/dev/pts` and the table of live ptys. Blocking reads and
//! writes sleep on the wait queue of their end (`block`, as pipes do, so signals interrupt
//! them), which poll and epoll watch too. The line discipline raises signals (`VINTR`, …) and
//! a window size change `SIGWINCH` through [`JobControl`], which the kernel gives at the open
//! of `/dev/ptmx` (the Sentry's process model is not the VFS's business); the job-control
//! ioctls that need the caller's ids (`TIOCSCTTY`, `TIOCNOTTY`, `TIOCGPGRP`, `TIOCSPGRP`,
//! `TIOCGSID`) and `TIOCGPTPEER` (a new fd) are answered by `syscalls/read_write.rs`
//! through [`Pty::job`] and [`Pty::open_slave`].
//!
//! As on Linux: termios and window-size ioctls on the master act on the slave's; closing the
//! master hangs the slave up (reads give 0, writes and ioctls `EIO`, poll everything; the
//! session leader gets SIGHUP and SIGCONT) and removes `/dev/pts/N`; a read of the master
//! once every slave description is closed gives what is left, then `EIO`; `VMIN`/`VTIME` as
//! `n_tty`. Deviations: the controlling terminal is kept per terminal (its session), not per
//! process: opening a slave never makes it one (use `TIOCSCTTY`), and a session leader's exit
//! does not hang its terminal up; packet mode (`TIOCPKT`) can't be turned on; `TCIOFF`/`TCION` send nothing.

pub mod bridge;
mod devpts;
pub mod ldisc;

pub use devpts::{Devpts, DEVPTS_DEV, PTY_MAX};

use std::fmt::Debug;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use snare_abi::file::{o, Stat};
use snare_abi::pod::{as_bytes, as_bytes_mut};
use snare_abi::signal::{SIGCONT, SIGHUP, SIGWINCH};
use snare_abi::tty::*;
use snare_abi::Errno;

use super::pipe::wait_ready;
use super::{poll, FileDescription};
use crate::kernel::wait::{block, WaitQueue};
use crate::mm::GuestMemory;
use ldisc::Ldisc;

/// What a terminal needs from the process model: sending the signals it raises. Holds the
/// kernel weakly (a pty may outlive it in a test).
pub trait JobControl: Send + Sync + Debug {
    /// Sends `sig` (from the kernel) to every live process of group `pgrp`.
    fn signal_pgrp(&self, pgrp: i32, sig: i32);
    /// Sends `sig` (from the kernel) to process `pid`.
    fn signal_process(&self, pid: i32, sig: i32);
}

/// The terminal's session and foreground process group (0: none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Job {
    pub session: Option<i32>,
    pub pgrp: i32,
}

/// What the lock protects.
#[derive(Debug)]
struct State {
    ld: Ldisc,
    winsize: Winsize,
    /// `TIOCSPTLCK`: the slave can't be opened (a new pty is locked until `unlockpt`).
    locked: bool,
    /// Open slave descriptions.
    slaves: usize,
    /// Every slave description opened has been closed (Linux's `TTY_OTHER_CLOSED` on the
    /// master): its reads give `EIO` once empty.
    slave_closed: bool,
    /// The master is gone.
    hung_up: bool,
    job: Job,
}

/// One pseudo-terminal: what its master and slave share.
#[derive(Debug)]
pub struct Pty {
    index: u32,
    devpts: Weak<Devpts>,
    state: Mutex<State>,
    /// Notified when the slave's readiness may change: input, room for output, a hangup.
    slave_q: WaitQueue,
    /// Notified when the master's readiness may change: output, room for input, the slave
    /// closed.
    master_q: WaitQueue,
    jobs: Option<Arc<dyn JobControl>>,
    /// The owner of `/dev/pts/N` (who opened the master) and its group.
    uid: u32,
    gid: u32,
    ctime: (i64, i64),
}

impl Pty {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Its number (`/dev/pts/N`).
    pub fn index(&self) -> u32 {
        self.index
    }

    /// Whether `TOSTOP` is set (background writes stop their writer's group).
    pub fn tostop(&self) -> bool {
        self.lock().ld.tostop()
    }

    /// Whether the master is gone.
    pub fn hung_up(&self) -> bool {
        self.lock().hung_up
    }

    /// Reads and changes the terminal's session and foreground process group.
    pub fn job<R>(&self, f: impl FnOnce(&mut Job) -> R) -> R {
        f(&mut self.lock().job)
    }

    /// Whether some live terminal is the controlling terminal of session `sid`.
    pub fn session_has_terminal(&self, sid: i32) -> bool {
        self.devpts
            .upgrade()
            .is_some_and(|d| d.session_has_terminal(sid))
    }

    /// Sets the window size (`TIOCSWINSZ`); a change sends SIGWINCH to the foreground
    /// process group. Whether it changed.
    pub fn set_winsize(&self, ws: Winsize) -> bool {
        let (changed, pgrp) = {
            let mut st = self.lock();
            let changed = st.winsize != ws;
            st.winsize = ws;
            (changed, st.job.pgrp)
        };
        if changed {
            self.signal_fg(pgrp, SIGWINCH);
        }
        changed
    }

    /// Opens the slave (`/dev/pts/N`, `TIOCGPTPEER`): `EIO` when locked or hung up.
    pub fn open_slave(self: &Arc<Pty>, flags: u32) -> Result<Arc<PtySlave>, Errno> {
        {
            let mut st = self.lock();
            if st.locked || st.hung_up {
                return Err(Errno::EIO);
            }
            st.slaves += 1;
            st.slave_closed = false;
        }
        self.master_q.notify();
        Ok(Arc::new(PtySlave {
            pty: self.clone(),
            flags: AtomicU32::new(flags & (o::ACCMODE | o::NONBLOCK)),
        }))
    }

    /// The stat of `/dev/pts/N`.
    fn slave_stat(&self) -> Stat {
        let t = self.ctime;
        Stat {
            st_dev: DEVPTS_DEV,
            st_ino: u64::from(self.index) + 3,
            st_nlink: 1,
            st_mode: snare_abi::file::S_IFCHR | 0o620,
            st_uid: self.uid,
            st_gid: self.gid,
            st_rdev: makedev(UNIX98_PTY_SLAVE_MAJOR, self.index),
            st_blksize: 1024,
            st_atime: t.0,
            st_atime_nsec: t.1,
            st_mtime: t.0,
            st_mtime_nsec: t.1,
            st_ctime: t.0,
            st_ctime_nsec: t.1,
            ..Stat::default()
        }
    }

    /// Sends `sig` to the foreground process group, if there is one.
    fn signal_fg(&self, pgrp: i32, sig: i32) {
        if let (Some(j), true) = (&self.jobs, pgrp > 0) {
            j.signal_pgrp(pgrp, sig);
        }
    }

    /// Reads the slave: a line in canonical mode, else as `VMIN`/`VTIME` say.
    fn slave_read(&self, buf: &mut [u8], nonblock: bool) -> Result<usize, Errno> {
        if buf.is_empty() {
            return Ok(0);
        }
        let start = Instant::now();
        let mut got = 0usize;
        loop {
            let deadline = {
                let mut st = self.lock();
                if st.hung_up {
                    return Ok(got);
                }
                let n = if st.ld.canonical() {
                    if let Some(n) = st.ld.read_input(buf) {
                        drop(st);
                        self.master_q.notify();
                        return Ok(n);
                    }
                    None
                } else {
                    let n = st.ld.read_input(&mut buf[got..]).unwrap_or(0);
                    got += n;
                    let (vmin, vtime) = st.ld.min_time();
                    let tenths = Duration::from_millis(100) * u32::from(vtime);
                    let deadline = if vmin == 0 {
                        if got > 0 || vtime == 0 {
                            return Ok(got);
                        }
                        Some(start + tenths)
                    } else {
                        if got >= usize::from(vmin).min(buf.len()) {
                            return Ok(got);
                        }
                        (vtime > 0 && got > 0).then(|| Instant::now() + tenths)
                    };
                    Some((n, deadline))
                };
                match n {
                    Some((n, d)) => {
                        if n > 0 {
                            self.master_q.notify();
                        }
                        d
                    }
                    None => None,
                }
            };
            if nonblock {
                return if got > 0 { Ok(got) } else { Err(Errno::EAGAIN) };
            }
            let r = block(&[&self.slave_q], deadline, || {
                let st = self.lock();
                (st.hung_up || st.ld.readable()).then_some(Ok(()))
            });
            match r {
                Ok(()) => {}
                Err(Errno::ETIMEDOUT) => return Ok(got),
                Err(_) if got > 0 => return Ok(got),
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads the master: what the slave wrote and the echoes; `EIO` once the slave is closed
    /// and nothing is left.
    fn master_read(&self, buf: &mut [u8], nonblock: bool) -> Result<usize, Errno> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = wait_ready(nonblock, &self.master_q, || {
            let mut st = self.lock();
            if !st.ld.output.is_empty() {
                let n = buf.len().min(st.ld.output.len());
                for (o, b) in buf.iter_mut().zip(st.ld.output.drain(..n)) {
                    *o = b;
                }
                Some(Ok(n))
            } else if st.slave_closed {
                Some(Err(Errno::EIO))
            } else {
                None
            }
        })?;
        self.slave_q.notify();
        Ok(n)
    }

    /// Writes the slave's output (through `OPOST`) for the master to read.
    fn slave_write(&self, data: &[u8], nonblock: bool) -> Result<usize, Errno> {
        let mut done = 0usize;
        while done < data.len() {
            let r = wait_ready(nonblock, &self.slave_q, || {
                let mut st = self.lock();
                if st.hung_up {
                    return Some(Err(Errno::EIO));
                }
                if !st.ld.output_room() {
                    return None;
                }
                Some(Ok(st.ld.write_output(&data[done..])))
            });
            match r {
                Ok(n) => {
                    done += n;
                    self.master_q.notify();
                }
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            }
        }
        if data.is_empty() && self.lock().hung_up {
            return Err(Errno::EIO);
        }
        Ok(done)
    }

    /// Writes the slave's input: each byte through the line discipline, which may echo it
    /// and raise signals for the foreground process group.
    fn master_write(&self, data: &[u8], nonblock: bool) -> Result<usize, Errno> {
        let mut done = 0usize;
        while done < data.len() {
            let mut sigs = Vec::new();
            let mut pgrp = 0;
            let r = wait_ready(nonblock, &self.master_q, || {
                let mut st = self.lock();
                if !st.ld.input_room() {
                    return None;
                }
                let mut n = 0;
                for &c in &data[done..] {
                    if !st.ld.input_room() {
                        break;
                    }
                    sigs.extend(st.ld.receive(c));
                    n += 1;
                }
                pgrp = st.job.pgrp;
                Some(Ok(n))
            });
            match r {
                Ok(n) => {
                    done += n;
                    self.slave_q.notify();
                    self.master_q.notify();
                    for s in sigs {
                        self.signal_fg(pgrp, s);
                    }
                }
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(done)
    }

    fn poll(&self, master: bool) -> u32 {
        let st = self.lock();
        let mut ev = 0;
        if master {
            if !st.ld.output.is_empty() {
                ev |= poll::IN | poll::RDNORM;
            }
            if st.ld.input_room() {
                ev |= poll::OUT | poll::WRNORM;
            }
            if st.slave_closed {
                ev |= poll::HUP;
            }
        } else if st.hung_up {
            ev = poll::IN | poll::OUT | poll::ERR | poll::HUP | poll::RDNORM | poll::WRNORM;
        } else {
            if st.ld.readable() {
                ev |= poll::IN | poll::RDNORM;
            }
            if st.ld.output_room() {
                ev |= poll::OUT | poll::WRNORM;
            }
        }
        ev
    }

    /// The ioctls either end answers alone (termios, window size, queues, the lock).
    fn ioctl(&self, master: bool, cmd: u32, arg: u64, mem: &dyn GuestMemory) -> Result<u64, Errno> {
        if !master && self.hung_up() {
            return Err(if cmd == TIOCSPGRP {
                Errno::ENOTTY
            } else {
                Errno::EIO
            });
        }
        let put_i32 = |v: i32| mem.write(arg, &v.to_ne_bytes()).map(|()| 0);
        let get_i32 = || {
            let mut b = [0u8; 4];
            mem.read(arg, &mut b).map(|()| i32::from_ne_bytes(b))
        };
        match cmd {
            TCGETS => {
                let t = self.lock().ld.termios.short();
                mem.write(arg, as_bytes(&t))?;
                Ok(0)
            }
            TCGETS2 => {
                let t = self.lock().ld.termios;
                mem.write(arg, as_bytes(&t))?;
                Ok(0)
            }
            TCSETS | TCSETSW | TCSETSF | TCSETS2 | TCSETSW2 | TCSETSF2 => {
                let mut t = self.lock().ld.termios;
                if matches!(cmd, TCSETS | TCSETSW | TCSETSF) {
                    let mut s = Termios::default();
                    mem.read(arg, as_bytes_mut(&mut s))?;
                    (t.c_iflag, t.c_oflag, t.c_cflag, t.c_lflag) =
                        (s.c_iflag, s.c_oflag, s.c_cflag, s.c_lflag);
                    t.c_cc = s.c_cc;
                } else {
                    mem.read(arg, as_bytes_mut(&mut t))?;
                }
                {
                    let mut st = self.lock();
                    if matches!(cmd, TCSETSF | TCSETSF2) {
                        st.ld.flush_input();
                    }
                    st.ld.set_termios(t);
                }
                self.slave_q.notify();
                self.master_q.notify();
                Ok(0)
            }
            TIOCGWINSZ => {
                let ws = self.lock().winsize;
                mem.write(arg, as_bytes(&ws))?;
                Ok(0)
            }
            TIOCSWINSZ => {
                let mut ws = Winsize::default();
                mem.read(arg, as_bytes_mut(&mut ws))?;
                self.set_winsize(ws);
                Ok(0)
            }
            FIONREAD => {
                let st = self.lock();
                let n = if master {
                    st.ld.output.len()
                } else {
                    st.ld.readable_bytes()
                };
                drop(st);
                put_i32(n as i32)
            }
            TIOCOUTQ => put_i32(0),
            TCFLSH => {
                // The master's input is the slave's output, and the other way round.
                let (input, output) = match arg {
                    TCIFLUSH => (true, false),
                    TCOFLUSH => (false, true),
                    TCIOFLUSH => (true, true),
                    _ => return Err(Errno::EINVAL),
                };
                let (slave_in, slave_out) = if master {
                    (output, input)
                } else {
                    (input, output)
                };
                {
                    let mut st = self.lock();
                    if slave_in {
                        st.ld.flush_input();
                    }
                    if slave_out {
                        st.ld.output.clear();
                    }
                }
                self.slave_q.notify();
                self.master_q.notify();
                Ok(0)
            }
            TCXONC => {
                match arg {
                    TCOOFF => self.lock().ld.stopped = true,
                    TCOON => self.lock().ld.stopped = false,
                    TCIOFF | TCION => {}
                    _ => return Err(Errno::EINVAL),
                }
                self.slave_q.notify();
                Ok(0)
            }
            TCSBRK | TCSBRKP | TIOCEXCL | TIOCNXCL => Ok(0),
            TIOCGETD => put_i32(N_TTY),
            TIOCSETD => match get_i32()? {
                N_TTY => Ok(0),
                _ => Err(Errno::EINVAL),
            },
            TIOCGPTN if master => put_i32(self.index as i32),
            TIOCSPTLCK if master => {
                let v = get_i32()?;
                self.lock().locked = v != 0;
                Ok(0)
            }
            TIOCGPTLCK if master => put_i32(i32::from(self.lock().locked)),
            TIOCPKT if master => match get_i32()? {
                0 => Ok(0),
                _ => Err(Errno::EINVAL),
            },
            _ => Err(Errno::ENOTTY),
        }
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        if let Some(d) = self.devpts.upgrade() {
            d.release(self.index);
        }
    }
}

/// The master end: an open file description of `/dev/ptmx`.
#[derive(Debug)]
pub struct PtyMaster {
    pty: Arc<Pty>,
    flags: AtomicU32,
    /// What fstat shows: the ptmx node it was opened by.
    node: Stat,
    path: String,
}

impl PtyMaster {
    pub fn pty(&self) -> &Arc<Pty> {
        &self.pty
    }

    fn nonblock(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & o::NONBLOCK != 0
    }
}

impl Drop for PtyMaster {
    /// Hangs the slave up; its session leader gets SIGHUP and SIGCONT.
    fn drop(&mut self) {
        let job = {
            let mut st = self.pty.lock();
            st.hung_up = true;
            st.ld.flush_input();
            st.ld.output.clear();
            std::mem::take(&mut st.job)
        };
        self.pty.slave_q.notify();
        self.pty.master_q.notify();
        if let (Some(j), Some(sid)) = (&self.pty.jobs, job.session) {
            j.signal_process(sid, SIGHUP);
            j.signal_process(sid, SIGCONT);
        }
    }
}

impl FileDescription for PtyMaster {
    fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        if self.status_flags() & o::ACCMODE == o::WRONLY {
            return Err(Errno::EBADF);
        }
        self.pty.master_read(buf, self.nonblock())
    }

    fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        if self.status_flags() & o::ACCMODE == o::RDONLY {
            return Err(Errno::EBADF);
        }
        self.pty.master_write(data, self.nonblock())
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(self.node)
    }

    fn ioctl(&self, cmd: u32, arg: u64, mem: &dyn GuestMemory) -> Result<u64, Errno> {
        self.pty.ioctl(true, cmd, arg, mem)
    }

    fn is_terminal(&self) -> bool {
        true
    }

    fn status_flags(&self) -> u32 {
        self.flags.load(Ordering::Relaxed)
    }

    fn set_status_flags(&self, flags: u32) {
        let keep = self.flags.load(Ordering::Relaxed) & o::ACCMODE;
        self.flags
            .store(keep | (flags & o::NONBLOCK), Ordering::Relaxed);
    }

    fn path(&self) -> Vec<u8> {
        self.path.clone().into_bytes()
    }

    fn poll(&self) -> u32 {
        self.pty.poll(true)
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.pty.master_q)
    }
}

/// The slave end: an open file description of `/dev/pts/N`.
#[derive(Debug)]
pub struct PtySlave {
    pty: Arc<Pty>,
    flags: AtomicU32,
}

impl PtySlave {
    pub fn pty(&self) -> &Arc<Pty> {
        &self.pty
    }

    fn nonblock(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & o::NONBLOCK != 0
    }
}

impl Drop for PtySlave {
    fn drop(&mut self) {
        {
            let mut st = self.pty.lock();
            st.slaves = st.slaves.saturating_sub(1);
            if st.slaves == 0 {
                st.slave_closed = true;
            }
        }
        self.pty.master_q.notify();
    }
}

impl FileDescription for PtySlave {
    fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        if self.status_flags() & o::ACCMODE == o::WRONLY {
            return Err(Errno::EBADF);
        }
        self.pty.slave_read(buf, self.nonblock())
    }

    fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        if self.status_flags() & o::ACCMODE == o::RDONLY {
            return Err(Errno::EBADF);
        }
        self.pty.slave_write(data, self.nonblock())
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(self.pty.slave_stat())
    }

    fn ioctl(&self, cmd: u32, arg: u64, mem: &dyn GuestMemory) -> Result<u64, Errno> {
        self.pty.ioctl(false, cmd, arg, mem)
    }

    fn is_terminal(&self) -> bool {
        true
    }

    fn status_flags(&self) -> u32 {
        self.flags.load(Ordering::Relaxed)
    }

    fn set_status_flags(&self, flags: u32) {
        let keep = self.flags.load(Ordering::Relaxed) & o::ACCMODE;
        self.flags
            .store(keep | (flags & o::NONBLOCK), Ordering::Relaxed);
    }

    fn path(&self) -> Vec<u8> {
        format!("/dev/pts/{}", self.pty.index).into_bytes()
    }

    fn poll(&self) -> u32 {
        self.pty.poll(false)
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.pty.slave_q)
    }
}

/// The pty behind an open file, and whether it is the master end.
pub fn pty_of(file: &dyn FileDescription) -> Option<(&Arc<Pty>, bool)> {
    let any = file.as_any();
    if let Some(m) = any.downcast_ref::<PtyMaster>() {
        return Some((m.pty(), true));
    }
    any.downcast_ref::<PtySlave>().map(|s| (s.pty(), false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::FlatMemory;

    fn pair() -> (Arc<Devpts>, Arc<dyn FileDescription>, Arc<PtySlave>) {
        let d = Devpts::new();
        let m = d.new_master(0, o::RDWR, None, Stat::default(), "/dev/ptmx".into());
        let m = m.expect("master");
        let (pty, _) = pty_of(&*m).expect("pty");
        let pty = pty.clone();
        assert_eq!(pty.open_slave(o::RDWR).map(drop), Err(Errno::EIO));
        pty.lock().locked = false;
        let s = pty.open_slave(o::RDWR).expect("slave");
        (d, m, s)
    }

    #[test]
    fn canonical_round_trip() {
        let (_d, m, s) = pair();
        assert_eq!(m.write(b"hello\n"), Ok(6));
        let mut b = [0u8; 32];
        assert_eq!(s.read(&mut b), Ok(6));
        assert_eq!(&b[..6], b"hello\n");
        assert_eq!(m.read(&mut b), Ok(7));
        assert_eq!(&b[..7], b"hello\r\n");
        assert_eq!(s.write(b"a\n"), Ok(2));
        assert_eq!(m.read(&mut b), Ok(3));
        assert_eq!(&b[..3], b"a\r\n");
    }

    #[test]
    fn closes() {
        let (_d, m, s) = pair();
        s.write(b"bye").expect("write");
        drop(s);
        let mut b = [0u8; 8];
        assert_eq!(m.read(&mut b), Ok(3));
        assert_eq!(m.read(&mut b), Err(Errno::EIO));
        assert_ne!(m.poll() & poll::HUP, 0);
        let (_d, m, s) = pair();
        drop(m);
        assert_eq!(s.read(&mut b), Ok(0));
        assert_eq!(s.write(b"x"), Err(Errno::EIO));
        let mem = FlatMemory {
            base: 0x1000,
            bytes: vec![0u8; 64].into(),
        };
        assert_eq!(s.ioctl(TCGETS, 0x1000, &mem), Err(Errno::EIO));
    }

    #[test]
    fn nonblocking_full() {
        let (_d, m, s) = pair();
        m.set_status_flags(o::NONBLOCK);
        s.set_status_flags(o::NONBLOCK);
        let mem = FlatMemory {
            base: 0x1000,
            bytes: vec![0u8; 64].into(),
        };
        m.ioctl(TCGETS, 0x1000, &mem).expect("tcgets");
        // cfmakeraw: clear the flag words.
        mem.bytes.borrow_mut()[..16].fill(0);
        m.ioctl(TCSETS, 0x1000, &mem).expect("tcsets");
        let chunk = [b'x'; 4096];
        let mut total = 0;
        let err = loop {
            match m.write(&chunk) {
                Ok(n) => total += n,
                Err(e) => break e,
            }
        };
        assert_eq!((err, total), (Errno::EAGAIN, ldisc::QUEUE));
        let big = vec![b'y'; 200_000];
        let mut total = 0;
        let err = loop {
            match s.write(&big) {
                Ok(n) => total += n,
                Err(e) => break e,
            }
        };
        assert_eq!(err, Errno::EAGAIN);
        assert!(total <= ldisc::QUEUE);
        let mut b = [0u8; 4];
        assert_eq!(m.ioctl(TIOCGPTN, 8, &mem), Err(Errno::EFAULT));
        assert_eq!(s.ioctl(TIOCGPTN, 0x1000, &mem), Err(Errno::ENOTTY));
        assert_eq!(s.read(&mut b), Ok(4));
    }
}
