//! AF_INET and AF_INET6 sockets, TCP and UDP, backed by host sockets.
//!
//! An [`InetSocket`] is an open file description that owns one host socket the Sentry made
//! in the sandbox's network namespace (`--network none`: a namespace of its own with only
//! `lo`; `host`: the host's). Each operation is forwarded to the host socket, which is
//! always non-blocking: the guest's blocking calls wait on the socket's [`WaitQueue`] until
//! the host says it is ready ([`reactor`]: one host epoll, one thread) and try again, so
//! they sleep like every other blocking call of the Sentry and a signal interrupts them
//! (`ERESTARTSYS`, then `EINTR` or a restart as `SA_RESTART` says). Readiness for the
//! guest's `poll`, `select` and epoll is the host socket's own, asked with a zero-timeout
//! host `poll`.
//!
//! Addresses and option values are the guest's bytes, read once by the syscalls and handed
//! to the host kernel, whose checks are Linux's; the syscalls (`syscalls/socket_inet.rs`)
//! choose which options go through.
//!
//! `SO_RCVTIMEO`/`SO_SNDTIMEO` are set on the host socket too (which, non-blocking, ignores
//! them) and read back from it, so their values are Linux's own; the Sentry's waits use them
//! as deadlines: EAGAIN at the end (a connect: EINPROGRESS), and EINTR rather than a
//! restart when a signal comes, as Linux's `sock_intr_errno`.
//!
//! Deviations from Linux: no ancillary data either way; a blocking stream send moves at most 1 MiB per host call; `SO_LINGER`'s time
//! is capped at 10 s (a lingering close blocks the Sentry thread that drops the socket).

mod reactor;

pub use reactor::HostSet;

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use snare_abi::file::{o, Stat, FIONREAD};
use snare_abi::socket::{
    SIOCOUTQ, SIOCOUTQNSD, SOCK_STREAM, SOL_SOCKET, SO_ERROR, SO_RCVTIMEO_OLD, SO_SNDTIMEO_OLD,
};
use snare_abi::Errno;
use snare_platform::net;

use crate::kernel::wait::{block_on_host, sleeps_on_host, WaitQueue};
use crate::mm::GuestMemory;
use crate::vfs::host_fds::HostFdGuard;
use crate::vfs::{poll, FileDescription};

pub use net::Received;

/// The readiness a guest can ask of a socket.
pub const POLL_ALL: u32 = poll::IN
    | poll::PRI
    | poll::OUT
    | poll::RDNORM
    | poll::RDBAND
    | poll::WRNORM
    | poll::WRBAND
    | poll::RDHUP;

/// The readiness of the host socket `fd` now, in [`poll`] bits (Linux's values on both
/// sides), for those who watch it in the host themselves (a guest epoll's [`HostSet`]).
pub fn readiness(fd: BorrowedFd<'_>) -> u32 {
    net::poll_now(fd, POLL_ALL as i16).map_or(poll::ERR, |r| u32::from(r as u16))
}

/// A TCP or UDP socket of the guest.
#[derive(Debug)]
pub struct InetSocket {
    host: OwnedFd,
    /// `AF_INET` or `AF_INET6`.
    family: u32,
    /// `SOCK_STREAM` or `SOCK_DGRAM`.
    ty: u32,
    /// `O_NONBLOCK`.
    flags: AtomicU32,
    /// The reactor's watch: its queue is notified when the host socket's readiness may
    /// have changed.
    watch: Arc<reactor::Watch>,
    ino: u64,
    uid: u32,
    gid: u32,
    ctime: (i64, i64),
    /// `SO_RCVTIMEO` and `SO_SNDTIMEO` (None: wait forever).
    timeouts: Mutex<Timeouts>,
    _budget: HostFdGuard,
}

/// A socket's `SO_RCVTIMEO` and `SO_SNDTIMEO`.
#[derive(Debug, Default, Clone, Copy)]
struct Timeouts {
    rcv: Option<Duration>,
    snd: Option<Duration>,
}

/// Which of a socket's timeouts a wait takes.
#[derive(Debug, Clone, Copy)]
enum Dir {
    Rcv,
    Snd,
}

impl InetSocket {
    /// A new socket of `family`, `ty` (`SOCK_STREAM`/`SOCK_DGRAM`) and `protocol` (already
    /// checked by the caller); `nonblock` is `SOCK_NONBLOCK`.
    pub fn new(
        family: u32,
        ty: u32,
        protocol: i32,
        nonblock: bool,
        owner: (u32, u32),
    ) -> Result<Arc<InetSocket>, Errno> {
        let budget = HostFdGuard::acquire()?;
        let host = net::socket(family as i32, ty as i32, protocol)?;
        InetSocket::wrap(host, family, ty, nonblock, owner, budget)
    }

    fn wrap(
        host: OwnedFd,
        family: u32,
        ty: u32,
        nonblock: bool,
        owner: (u32, u32),
        budget: HostFdGuard,
    ) -> Result<Arc<InetSocket>, Errno> {
        let watch = reactor::watch(host.as_fd())?;
        let s = Arc::new(InetSocket {
            host,
            family,
            ty,
            flags: AtomicU32::new(if nonblock { o::NONBLOCK } else { 0 }),
            watch,
            ino: super::next_ino(),
            uid: owner.0,
            gid: owner.1,
            ctime: crate::vfs::pipe::now_ts(),
            timeouts: Mutex::new(Timeouts::default()),
            _budget: budget,
        });
        reactor::attach(&s);
        Ok(s)
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.host.as_fd()
    }

    pub fn family(&self) -> u32 {
        self.family
    }

    pub fn is_stream(&self) -> bool {
        self.ty == SOCK_STREAM
    }

    pub fn nonblocking(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & o::NONBLOCK != 0
    }

    /// The timeout of a wait in direction `dir`, if one is set.
    fn timeout(&self, dir: Dir) -> Option<Duration> {
        let t = *self.timeouts.lock().unwrap_or_else(|e| e.into_inner());
        match dir {
            Dir::Rcv => t.rcv,
            Dir::Snd => t.snd,
        }
    }

    /// Waits on the socket's queue until `ready` says, a signal (ERESTARTSYS; EINTR when a
    /// timeout is set, as Linux), or the `dir` timeout (ETIMEDOUT).
    fn wait<T>(
        &self,
        dir: Dir,
        ready: impl FnMut() -> Option<Result<T, Errno>>,
    ) -> Result<T, Errno> {
        let timeout = self.timeout(dir);
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        // What the host socket must show for the call to get further (errors and hang-ups
        // always end a host poll).
        let events = match dir {
            Dir::Rcv => libc::POLLIN | libc::POLLPRI | libc::POLLRDHUP,
            Dir::Snd => libc::POLLOUT,
        };
        // Waiting on the queue needs the reactor's word: armed from inside `ready`, which
        // runs after the waker registered (an arrival before the arm is found by `ready`).
        let queue = !sleeps_on_host();
        let mut ready = ready;
        let ready = move || {
            if queue {
                reactor::arm(&self.watch);
            }
            ready()
        };
        match block_on_host(&self.watch.wq, self.fd(), events, deadline, ready) {
            Err(Errno::ERESTARTSYS) if timeout.is_some() => Err(Errno::EINTR),
            r => r,
        }
    }

    /// Runs `op` until it is not EAGAIN: once if `nonblock`, else waiting for the host socket
    /// word between tries (ERESTARTSYS on a signal; EAGAIN when the `dir` timeout ends).
    fn retry<T>(
        &self,
        nonblock: bool,
        dir: Dir,
        mut op: impl FnMut() -> Result<T, Errno>,
    ) -> Result<T, Errno> {
        match op() {
            Err(Errno::EAGAIN) if !nonblock => {}
            r => return r,
        }
        let r = self.wait(dir, || match op() {
            Err(Errno::EAGAIN) => None,
            r => Some(r),
        });
        match r {
            Err(Errno::ETIMEDOUT) => Err(Errno::EAGAIN),
            r => r,
        }
    }

    /// `bind(2)` with the guest's address bytes.
    pub fn bind(&self, addr: &[u8]) -> Result<(), Errno> {
        net::bind(self.fd(), addr)
    }

    /// `listen(2)`.
    pub fn listen(&self, backlog: i32) -> Result<(), Errno> {
        net::listen(self.fd(), backlog)
    }

    /// `connect(2)`: a blocking one waits for the handshake and returns its outcome; a
    /// non-blocking one returns EINPROGRESS (the outcome is `SO_ERROR` later). A blocking
    /// connect interrupted and restarted finds the host's EALREADY and waits again.
    pub fn connect(&self, addr: &[u8], nonblock: bool) -> Result<(), Errno> {
        match net::connect(self.fd(), addr) {
            Err(Errno::EINPROGRESS | Errno::EALREADY) if !nonblock => {}
            r => return r,
        }
        let out = (poll::OUT | poll::ERR | poll::HUP) as i16;
        let r = self.wait(Dir::Snd, || {
            match net::poll_now(self.fd(), poll::OUT as i16) {
                Err(e) => Some(Err(e)),
                Ok(r) if r & out == 0 => None,
                Ok(_) => Some(match self.so_error() {
                    Ok(0) => Ok(()),
                    Ok(e) => Err(Errno::new(e)),
                    Err(e) => Err(e),
                }),
            }
        });
        match r {
            Err(Errno::ETIMEDOUT) => Err(Errno::EINPROGRESS),
            r => r,
        }
    }

    /// Takes the host socket's pending error (`SO_ERROR`).
    fn so_error(&self) -> Result<i32, Errno> {
        let v = net::getsockopt(self.fd(), SOL_SOCKET, SO_ERROR, 4)?;
        Ok(v.try_into().map_or(0, i32::from_ne_bytes))
    }

    /// `accept(2)`: the new connection (non-blocking if `new_nonblock`) and its peer's
    /// address bytes.
    pub fn accept(
        &self,
        nonblock: bool,
        new_nonblock: bool,
    ) -> Result<(Arc<InetSocket>, Vec<u8>), Errno> {
        let budget = HostFdGuard::acquire()?;
        let (fd, peer) = self.retry(nonblock, Dir::Rcv, || net::accept(self.fd()))?;
        let owner = (self.uid, self.gid);
        let s = InetSocket::wrap(fd, self.family, self.ty, new_nonblock, owner, budget)?;
        Ok((s, peer))
    }

    /// One send of `data` (to `to`, a datagram's address bytes). A blocking stream send goes
    /// on until all of it is sent, an error, or a signal (then the count sent, if any).
    pub fn send(
        &self,
        data: &[u8],
        extra: net::SendExtra<'_>,
        flags: i32,
        nonblock: bool,
    ) -> Result<usize, Errno> {
        self.send_with(data.len(), nonblock, |fd, done| {
            net::send(fd, &data[done..], extra, flags)
        })
    }

    /// [`InetSocket::send`] of `len` bytes that `op(host fd, done)` sends (without waiting)
    /// from byte `done` on: straight from guest memory, for one.
    pub fn send_with(
        &self,
        len: usize,
        nonblock: bool,
        mut op: impl FnMut(BorrowedFd<'_>, usize) -> Result<usize, Errno>,
    ) -> Result<usize, Errno> {
        let mut done = 0;
        loop {
            let r = self.retry(nonblock, Dir::Snd, || op(self.fd(), done));
            match r {
                Ok(n) => done += n,
                Err(e) if done == 0 => return Err(e),
                Err(_) => return Ok(done),
            }
            if nonblock || !self.is_stream() || done >= len {
                return Ok(done);
            }
        }
    }

    /// One receive into `buf`, control messages into `control`.
    pub fn recv(
        &self,
        buf: &mut [u8],
        control: &mut [u8],
        flags: i32,
        nonblock: bool,
    ) -> Result<Received, Errno> {
        self.recv_with(nonblock, |fd| net::recv(fd, buf, control, flags))
    }

    /// One receive made by `op(host fd)` (without waiting): straight into guest memory,
    /// for one.
    pub fn recv_with(
        &self,
        nonblock: bool,
        mut op: impl FnMut(BorrowedFd<'_>) -> Result<Received, Errno>,
    ) -> Result<Received, Errno> {
        self.retry(nonblock, Dir::Rcv, || op(self.fd()))
    }

    /// `shutdown(2)`.
    pub fn shutdown(&self, how: i32) -> Result<(), Errno> {
        net::shutdown(self.fd(), how)
    }

    /// `getsockname` (`peer` false) or `getpeername` (`peer` true): the address bytes.
    pub fn name(&self, peer: bool) -> Result<Vec<u8>, Errno> {
        net::name(self.fd(), peer)
    }

    /// `getsockopt(2)` of an option the caller allowed, into at most `len` bytes.
    pub fn getsockopt(&self, level: i32, opt: i32, len: usize) -> Result<Vec<u8>, Errno> {
        net::getsockopt(self.fd(), level, opt, len)
    }

    /// `setsockopt(2)` of an option the caller allowed. A larger buffer may let a blocked
    /// writer go on, so waiters look again.
    pub fn setsockopt(&self, level: i32, opt: i32, val: &[u8]) -> Result<(), Errno> {
        net::setsockopt(self.fd(), level, opt, val)?;
        if level == SOL_SOCKET && (opt == SO_RCVTIMEO_OLD || opt == SO_SNDTIMEO_OLD) {
            let t = self.host_timeout(opt)?;
            let mut ts = self.timeouts.lock().unwrap_or_else(|e| e.into_inner());
            if opt == SO_RCVTIMEO_OLD {
                ts.rcv = t;
            } else {
                ts.snd = t;
            }
        }
        self.watch.wq.notify();
        Ok(())
    }

    /// The host socket's `SO_RCVTIMEO`/`SO_SNDTIMEO` (a `struct timeval`; zero: none), as
    /// the host kernel stored it.
    fn host_timeout(&self, opt: i32) -> Result<Option<Duration>, Errno> {
        let v = net::getsockopt(self.fd(), SOL_SOCKET, opt, 16)?;
        let word = |at: usize| {
            v.get(at..at + 8)
                .and_then(|b| b.try_into().ok())
                .map_or(0, i64::from_ne_bytes)
        };
        let (sec, usec) = (word(0), word(8));
        let d = Duration::from_secs(u64::try_from(sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(usec).unwrap_or(0));
        Ok((!d.is_zero()).then_some(d))
    }
}

impl Drop for InetSocket {
    fn drop(&mut self) {
        reactor::unwatch(&self.watch);
    }
}

impl FileDescription for InetSocket {
    fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        let r = self.recv(buf, &mut [], 0, self.nonblocking())?;
        Ok(r.len.min(buf.len()))
    }

    fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        self.send(data, net::SendExtra::default(), 0, self.nonblocking())
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(super::socket_stat(self.ino, self.uid, self.gid, self.ctime))
    }

    /// `FIONREAD` (`SIOCINQ`), from the host socket; the interface ioctls
    /// (`net::netlink::ifreq`, the address ones for AF_INET only).
    fn ioctl(&self, cmd: u32, arg: u64, mem: &dyn GuestMemory) -> Result<u64, Errno> {
        if super::netlink::ifreq::is_interface_ioctl(cmd) {
            let inet = self.family == snare_abi::socket::AF_INET;
            return super::netlink::ifreq::ioctl(cmd, arg, mem, inet);
        }
        let q = match cmd {
            FIONREAD => net::QueueSize::In,
            SIOCOUTQ => net::QueueSize::Out,
            SIOCOUTQNSD => net::QueueSize::OutNotSent,
            _ => return Err(Errno::ENOTTY),
        };
        let n = net::queue_size(self.fd(), q)?;
        mem.write(arg, &n.to_ne_bytes())?;
        Ok(0)
    }

    fn status_flags(&self) -> u32 {
        o::RDWR | self.flags.load(Ordering::Relaxed)
    }

    fn set_status_flags(&self, flags: u32) {
        self.flags.store(flags & o::NONBLOCK, Ordering::Relaxed);
    }

    fn path(&self) -> Vec<u8> {
        format!("socket:[{}]", self.ino).into_bytes()
    }

    /// The host socket's readiness now (the bits have Linux's values on both sides).
    fn poll(&self) -> u32 {
        // Asked by a waiter that has just registered on `wq`: it needs the reactor's word.
        reactor::arm(&self.watch);
        readiness(self.fd())
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.watch.wq)
    }

    fn host_readiness(&self) -> Option<BorrowedFd<'_>> {
        Some(self.fd())
    }
}

/// The guest's view of the host sockets the Sentry owns, for `/proc/net/{tcp,udp}*`: host
/// inode number → (the guest's inode number, the owner's uid). One host `fstat` per socket.
pub fn host_inodes() -> std::collections::HashMap<u64, (u64, u32)> {
    reactor::sockets()
        .iter()
        .filter_map(|s| Some((net::inode(s.fd()).ok()?, (s.ino, s.uid))))
        .collect()
}

/// `file` as an inet socket, if it is one.
pub fn as_inet(file: &dyn FileDescription) -> Option<&InetSocket> {
    file.as_any().downcast_ref::<InetSocket>()
}

#[cfg(test)]
mod tests;
