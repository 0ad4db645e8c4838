//! Host sockets for the Sentry's AF_INET and AF_INET6 sockets, the one host epoll that
//! watches them, and the host NETLINK_ROUTE socket the Sentry asks about the sandbox's
//! interfaces ([`RouteSocket`]). Safe wrappers over the raw calls: addresses and option
//! values go in and out as byte buffers the Sentry read from (or will write to) guest memory,
//! so the host kernel applies Linux's own checks to them (family, length, `AF_UNSPEC`, mapped
//! addresses) and its errno is the answer. Every socket made here is `O_NONBLOCK |
//! O_CLOEXEC`; every send is `MSG_NOSIGNAL | MSG_DONTWAIT` (a SIGPIPE belongs to the guest,
//! never to the Sentry), except the route socket's (no SIGPIPE on netlink). Nothing here
//! panics.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use snare_abi::Errno;

use crate::sys::errno;
use crate::MemoryFile;

/// `sizeof(struct sockaddr_storage)`: room for any address.
const ADDR_ROOM: usize = 128;

/// `-1` from a call becomes its errno.
fn check(ret: libc::c_int) -> Result<libc::c_int, Errno> {
    if ret < 0 {
        Err(errno())
    } else {
        Ok(ret)
    }
}

/// `-1` from a call that returns a size becomes its errno.
fn check_size(ret: libc::ssize_t) -> Result<usize, Errno> {
    usize::try_from(ret).map_err(|_| errno())
}

/// The length of an address buffer as `socklen_t` (it is at most [`ADDR_ROOM`] here, or
/// the caller's bound).
fn socklen(b: &[u8]) -> libc::socklen_t {
    libc::socklen_t::try_from(b.len()).unwrap_or(libc::socklen_t::MAX)
}

/// `socket(domain, ty | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol)`.
pub fn socket(domain: i32, ty: i32, protocol: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: no pointers; a new fd is owned by the returned `OwnedFd` alone.
    let fd = check(unsafe {
        libc::socket(
            domain,
            ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            protocol,
        )
    })?;
    // SAFETY: `fd` was just made and nothing else holds it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `bind(fd, addr)` with the address's raw bytes.
pub fn bind(fd: BorrowedFd<'_>, addr: &[u8]) -> Result<(), Errno> {
    // SAFETY: `addr` is a live buffer of the length passed; bind only reads it.
    check(unsafe { libc::bind(fd.as_raw_fd(), addr.as_ptr().cast(), socklen(addr)) }).map(|_| ())
}

/// `connect(fd, addr)` with the address's raw bytes (EINPROGRESS: the fd is non-blocking).
pub fn connect(fd: BorrowedFd<'_>, addr: &[u8]) -> Result<(), Errno> {
    // SAFETY: `addr` is a live buffer of the length passed; connect only reads it.
    check(unsafe { libc::connect(fd.as_raw_fd(), addr.as_ptr().cast(), socklen(addr)) }).map(|_| ())
}

/// `listen(fd, backlog)`.
pub fn listen(fd: BorrowedFd<'_>, backlog: i32) -> Result<(), Errno> {
    // SAFETY: no pointers.
    check(unsafe { libc::listen(fd.as_raw_fd(), backlog) }).map(|_| ())
}

/// `accept4(fd, ..., SOCK_NONBLOCK | SOCK_CLOEXEC)`: the new socket and its peer's address.
pub fn accept(fd: BorrowedFd<'_>) -> Result<(OwnedFd, Vec<u8>), Errno> {
    let mut addr = [0u8; ADDR_ROOM];
    let mut len = socklen(&addr);
    // SAFETY: `addr` has `len` writable bytes and `len` is a live socklen_t; accept4 writes
    // at most that many and the length.
    let n = check(unsafe {
        libc::accept4(
            fd.as_raw_fd(),
            addr.as_mut_ptr().cast(),
            &mut len,
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    })?;
    // SAFETY: `n` was just made and nothing else holds it.
    let new = unsafe { OwnedFd::from_raw_fd(n) };
    Ok((new, addr[..(len as usize).min(ADDR_ROOM)].to_vec()))
}

/// What a send carries besides its bytes: the address (a datagram's `sendto`) and control
/// messages, already checked by the caller (never `SCM_RIGHTS`: the host would take the
/// numbers for the Sentry's own fds).
#[derive(Debug, Default, Clone, Copy)]
pub struct SendExtra<'a> {
    pub to: Option<&'a [u8]>,
    pub control: &'a [u8],
}

/// `sendmsg` of `data` with `extra`, and `flags | MSG_DONTWAIT | MSG_NOSIGNAL`.
pub fn send(
    fd: BorrowedFd<'_>,
    data: &[u8],
    extra: SendExtra<'_>,
    flags: i32,
) -> Result<usize, Errno> {
    let mut iov = [libc::iovec {
        iov_base: data.as_ptr().cast_mut().cast(),
        iov_len: data.len(),
    }];
    // SAFETY: the iovec points at `data`, live for the call and only read.
    unsafe { sendmsg_iov(fd, &mut iov, extra, flags) }
}

/// [`send`] of the bytes of memory-file `mem` at `ranges` (offset, length), in place.
/// Panics if a range is outside the file (the caller's translation produced them).
pub fn send_mem(
    fd: BorrowedFd<'_>,
    mem: &MemoryFile,
    ranges: &[(u64, usize)],
    extra: SendExtra<'_>,
    flags: i32,
) -> Result<usize, Errno> {
    let mut iov = mem_iovecs(mem, ranges);
    // SAFETY: the iovecs point inside the memory file's mapping (bounds checked by `ptr`),
    // which lives as long as `mem`. Other threads may write those bytes meanwhile: the
    // kernel copies whatever it finds, as for a guest's own send.
    unsafe { sendmsg_iov(fd, &mut iov, extra, flags) }
}

/// Iovecs over the memory file's mapping at `ranges`.
fn mem_iovecs(mem: &MemoryFile, ranges: &[(u64, usize)]) -> Vec<libc::iovec> {
    ranges
        .iter()
        .map(|&(off, len)| libc::iovec {
            iov_base: mem.ptr(off, len).cast(),
            iov_len: len,
        })
        .collect()
}

/// `sendmsg` of `iov` with `extra`.
///
/// # Safety
/// Every iovec must point at memory readable for its length during the call.
unsafe fn sendmsg_iov(
    fd: BorrowedFd<'_>,
    iov: &mut [libc::iovec],
    extra: SendExtra<'_>,
    flags: i32,
) -> Result<usize, Errno> {
    // SAFETY: an all-zero msghdr is valid (no name, no control).
    let mut m: libc::msghdr = unsafe { std::mem::zeroed() };
    m.msg_iov = iov.as_mut_ptr();
    m.msg_iovlen = iov.len();
    if let Some(a) = extra.to {
        m.msg_name = a.as_ptr().cast_mut().cast();
        m.msg_namelen = socklen(a);
    }
    if !extra.control.is_empty() {
        m.msg_control = extra.control.as_ptr().cast_mut().cast();
        m.msg_controllen = extra.control.len();
    }
    let flags = flags | libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
    // SAFETY: the iovecs are readable (the caller's promise); the name, the control bytes
    // and the msghdr are live for the call, which only reads them (never through the
    // `*mut` casts).
    check_size(unsafe { libc::sendmsg(fd.as_raw_fd(), &m, flags) })
}

/// What one receive got.
#[derive(Debug)]
pub struct Received {
    /// The call's return (with `MSG_TRUNC`, a datagram's full length).
    pub len: usize,
    /// The sender's address (empty for a connected stream).
    pub from: Vec<u8>,
    /// `msg_flags` (`MSG_TRUNC`, `MSG_CTRUNC`, ...).
    pub flags: i32,
    /// How many bytes of control messages the host wrote (to the caller's buffer).
    pub control_len: usize,
}

/// `recvmsg` into `buf` with `flags | MSG_DONTWAIT`; control messages into `control` (none
/// if empty).
pub fn recv(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    control: &mut [u8],
    flags: i32,
) -> Result<Received, Errno> {
    let mut iov = [libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    }];
    // SAFETY: the iovec points at `buf`, writable for its length and live for the call.
    unsafe { recvmsg_iov(fd, &mut iov, control, flags) }
}

/// [`recv`] into the memory file `mem` at `ranges` (offset, length), in place. Panics if a
/// range is outside the file.
pub fn recv_mem(
    fd: BorrowedFd<'_>,
    mem: &MemoryFile,
    ranges: &[(u64, usize)],
    control: &mut [u8],
    flags: i32,
) -> Result<Received, Errno> {
    let mut iov = mem_iovecs(mem, ranges);
    // SAFETY: the iovecs point inside the memory file's writable mapping (bounds checked by
    // `ptr`), which lives as long as `mem`.
    unsafe { recvmsg_iov(fd, &mut iov, control, flags) }
}

/// `recvmsg` into `iov` and `control`.
///
/// # Safety
/// Every iovec must point at memory writable for its length during the call.
unsafe fn recvmsg_iov(
    fd: BorrowedFd<'_>,
    iov: &mut [libc::iovec],
    control: &mut [u8],
    flags: i32,
) -> Result<Received, Errno> {
    let mut addr = [0u8; ADDR_ROOM];
    // SAFETY: an all-zero msghdr is valid (no control).
    let mut m: libc::msghdr = unsafe { std::mem::zeroed() };
    m.msg_iov = iov.as_mut_ptr();
    m.msg_iovlen = iov.len();
    m.msg_name = addr.as_mut_ptr().cast();
    m.msg_namelen = socklen(&addr);
    if !control.is_empty() {
        m.msg_control = control.as_mut_ptr().cast();
        m.msg_controllen = control.len();
    }
    // SAFETY: the iovecs are writable (the caller's promise); the name points at `addr`,
    // the control at `control` (their lengths); all and the msghdr are live for the call.
    let len =
        check_size(unsafe { libc::recvmsg(fd.as_raw_fd(), &mut m, flags | libc::MSG_DONTWAIT) })?;
    let n = (m.msg_namelen as usize).min(ADDR_ROOM);
    Ok(Received {
        len,
        from: addr[..n].to_vec(),
        flags: m.msg_flags,
        control_len: if control.is_empty() {
            0
        } else {
            m.msg_controllen.min(control.len())
        },
    })
}

/// `shutdown(fd, how)`.
pub fn shutdown(fd: BorrowedFd<'_>, how: i32) -> Result<(), Errno> {
    // SAFETY: no pointers.
    check(unsafe { libc::shutdown(fd.as_raw_fd(), how) }).map(|_| ())
}

/// `getsockname` (`peer` false) or `getpeername` (`peer` true): the address's bytes.
pub fn name(fd: BorrowedFd<'_>, peer: bool) -> Result<Vec<u8>, Errno> {
    let mut addr = [0u8; ADDR_ROOM];
    let mut len = socklen(&addr);
    let p = addr.as_mut_ptr().cast();
    // SAFETY: `addr` has `len` writable bytes, `len` is live; the call writes at most that.
    let r = unsafe {
        if peer {
            libc::getpeername(fd.as_raw_fd(), p, &mut len)
        } else {
            libc::getsockname(fd.as_raw_fd(), p, &mut len)
        }
    };
    check(r)?;
    Ok(addr[..(len as usize).min(ADDR_ROOM)].to_vec())
}

/// `setsockopt(fd, level, opt, val)`.
pub fn setsockopt(fd: BorrowedFd<'_>, level: i32, opt: i32, val: &[u8]) -> Result<(), Errno> {
    // SAFETY: `val` is live for the call, of the length passed; setsockopt only reads it.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            opt,
            val.as_ptr().cast(),
            socklen(val),
        )
    })
    .map(|_| ())
}

/// `getsockopt(fd, level, opt)` into `len` bytes: the bytes the host gave back.
pub fn getsockopt(fd: BorrowedFd<'_>, level: i32, opt: i32, len: usize) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; len];
    let mut l = socklen(&buf);
    // SAFETY: `buf` has `l` writable bytes and `l` is live; the call writes at most that.
    check(unsafe {
        libc::getsockopt(fd.as_raw_fd(), level, opt, buf.as_mut_ptr().cast(), &mut l)
    })?;
    buf.truncate((l as usize).min(len));
    Ok(buf)
}

/// Which queue [`queue_size`] measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueSize {
    /// `FIONREAD`/`SIOCINQ`: bytes waiting to be read.
    In,
    /// `SIOCOUTQ`: bytes sent and not yet acknowledged (TCP) or not yet sent (UDP).
    Out,
    /// `SIOCOUTQNSD`: bytes not yet sent (TCP).
    OutNotSent,
}

/// `SIOCOUTQNSD` (not in the libc crate).
pub const SIOCOUTQNSD: libc::c_ulong = 0x894B;

/// The host socket's queue size `q`, as its ioctl answers.
pub fn queue_size(fd: BorrowedFd<'_>, q: QueueSize) -> Result<i32, Errno> {
    let req = match q {
        QueueSize::In => libc::FIONREAD,
        QueueSize::Out => libc::TIOCOUTQ,
        QueueSize::OutNotSent => SIOCOUTQNSD,
    };
    let mut n: libc::c_int = 0;
    // SAFETY: these three requests write one int to the live `n`.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), req, &mut n) })?;
    Ok(n)
}

/// The readiness of `fd` now (`poll` with a zero timeout): the `revents` of `events`.
pub fn poll_now(fd: BorrowedFd<'_>, events: i16) -> Result<i16, Errno> {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    };
    // SAFETY: one live pollfd; poll writes only its `revents`.
    check(unsafe { libc::poll(&mut p, 1, 0) })?;
    Ok(p.revents)
}

/// A host epoll instance.
#[derive(Debug)]
pub struct Epoll(OwnedFd);

impl std::os::fd::AsFd for Epoll {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl Epoll {
    /// `epoll_create1(EPOLL_CLOEXEC)`.
    pub fn new() -> Result<Epoll, Errno> {
        // SAFETY: no pointers; the new fd is owned by the returned value alone.
        let fd = check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: `fd` was just made and nothing else holds it.
        Ok(Epoll(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Watches `fd` for `events`, reported with `token` (closing `fd` stops it).
    pub fn add(&self, fd: BorrowedFd<'_>, events: u32, token: u64) -> Result<(), Errno> {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: `ev` is live for the call; epoll_ctl only reads it.
        check(unsafe {
            libc::epoll_ctl(
                self.0.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                fd.as_raw_fd(),
                &mut ev,
            )
        })
        .map(|_| ())
    }

    /// Changes the events `fd` is watched for (errors and hang-ups are reported whatever
    /// the mask: level-triggered unless `EPOLLET` is in it; with
    /// `EPOLLET`, a change re-arms the edge: a socket ready now is reported).
    /// `fd` is a number: the caller makes sure it is still the fd it added (a number closed
    /// and reused by another fd in this epoll would have that one's watch changed).
    pub fn modify(&self, fd: std::os::fd::RawFd, events: u32, token: u64) -> Result<(), Errno> {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: `ev` is live for the call; epoll_ctl only reads it (and any fd number is
        // memory-safe to name).
        check(unsafe { libc::epoll_ctl(self.0.as_raw_fd(), libc::EPOLL_CTL_MOD, fd, &mut ev) })
            .map(|_| ())
    }

    /// Stops watching `fd` (the caller makes sure the number is still the fd it added, as
    /// for [`Epoll::modify`]).
    pub fn delete(&self, fd: std::os::fd::RawFd) -> Result<(), Errno> {
        let mut ev = libc::epoll_event { events: 0, u64: 0 };
        // SAFETY: `ev` is live for the call (ignored by EPOLL_CTL_DEL); any fd number is
        // memory-safe to name.
        check(unsafe { libc::epoll_ctl(self.0.as_raw_fd(), libc::EPOLL_CTL_DEL, fd, &mut ev) })
            .map(|_| ())
    }

    /// Waits (forever, or until a signal: EINTR) for events; fills `out` with `(token,
    /// events)` pairs and returns how many.
    pub fn wait(&self, out: &mut [(u64, u32)]) -> Result<usize, Errno> {
        self.wait_for(out, -1)
    }

    /// The events ready now, without waiting (as [`Epoll::wait`]).
    pub fn ready_now(&self, out: &mut [(u64, u32)]) -> Result<usize, Errno> {
        self.wait_for(out, 0)
    }

    fn wait_for(&self, out: &mut [(u64, u32)], timeout_ms: libc::c_int) -> Result<usize, Errno> {
        const MAX: usize = 64;
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; MAX];
        let room = out.len().min(MAX) as libc::c_int;
        // SAFETY: `evs` has room for `room` events, the most the call writes.
        let n = check(unsafe {
            libc::epoll_wait(self.0.as_raw_fd(), evs.as_mut_ptr(), room, timeout_ms)
        })?;
        let n = n as usize;
        for (o, e) in out.iter_mut().zip(&evs[..n]) {
            *o = (e.u64, e.events);
        }
        Ok(n)
    }
}

/// An eventfd that wakes a Sentry thread sleeping in [`poll_or_wake`] (a task blocked on a
/// host socket: a signal for it, or a kill, must end the sleep).
#[derive(Debug)]
pub struct WakeFd(OwnedFd);

impl WakeFd {
    /// `eventfd2(0, EFD_CLOEXEC | EFD_NONBLOCK)`.
    pub fn new() -> Result<WakeFd, Errno> {
        // SAFETY: no pointers; the new fd is owned by the returned value alone.
        let fd = check(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
        // SAFETY: `fd` was just made and nothing else holds it.
        Ok(WakeFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Makes the next (or current) [`poll_or_wake`] on this fd return.
    pub fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes the 8 bytes of the live `one`; an eventfd write only reads them.
        // A full counter (EAGAIN) already wakes any poller.
        let _ = unsafe { libc::write(self.0.as_raw_fd(), (&raw const one).cast(), 8) };
    }

    /// Takes any pending wake-up.
    pub fn drain(&self) {
        let mut v: u64 = 0;
        // SAFETY: reads at most 8 bytes into the live `v`; non-blocking.
        let _ = unsafe { libc::read(self.0.as_raw_fd(), (&raw mut v).cast(), 8) };
    }
}

/// Sleeps in the host until `fd` has one of `events` (or an error or hang-up), `wake` is
/// woken, or `timeout` passes (`None`: no limit); EINTR is not an error (the caller checks
/// its conditions again either way). Returns `fd`'s `revents`.
pub fn poll_or_wake(
    fd: BorrowedFd<'_>,
    events: i16,
    wake: &WakeFd,
    timeout: Option<std::time::Duration>,
) -> Result<i16, Errno> {
    let mut p = [
        libc::pollfd {
            fd: fd.as_raw_fd(),
            events,
            revents: 0,
        },
        libc::pollfd {
            fd: wake.0.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    // Rounded up: a wait must not end before its deadline and spin.
    let ms = timeout.map_or(-1, |t| {
        t.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int
    });
    // SAFETY: two live pollfds; poll writes only their `revents`.
    match check(unsafe { libc::poll(p.as_mut_ptr(), 2, ms) }) {
        Ok(_) | Err(Errno::EINTR) => Ok(p[0].revents),
        Err(e) => Err(e),
    }
}

/// A host NETLINK_ROUTE socket of the Sentry's network namespace (the sandbox's), for the
/// Sentry's own rtnetlink requests (`sentry/src/net/netlink`): the Sentry sends requests it
/// built itself and reads the host kernel's answers. Non-blocking and close-on-exec; bound
/// by the host kernel at the first send.
#[derive(Debug)]
pub struct RouteSocket(OwnedFd);

impl RouteSocket {
    /// `socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE)`.
    pub fn open() -> Result<RouteSocket, Errno> {
        socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE).map(RouteSocket)
    }

    /// Sends one request datagram to the kernel (`sendto` without an address: port 0).
    pub fn send(&self, msg: &[u8]) -> Result<(), Errno> {
        // SAFETY: `msg` is live for the call, of the length passed; send only reads it.
        let n = check_size(unsafe {
            libc::send(
                self.0.as_raw_fd(),
                msg.as_ptr().cast(),
                msg.len(),
                libc::MSG_DONTWAIT,
            )
        })?;
        if n == msg.len() {
            Ok(())
        } else {
            Err(Errno::EIO)
        }
    }

    /// Receives the next datagram whole, waiting at most `wait_ms` for one (EAGAIN then):
    /// its length is peeked first (`MSG_PEEK | MSG_TRUNC`), so nothing is ever cut.
    pub fn recv(&self, wait_ms: i32) -> Result<Vec<u8>, Errno> {
        let fd = self.0.as_raw_fd();
        let peek = libc::MSG_PEEK | libc::MSG_TRUNC | libc::MSG_DONTWAIT;
        // SAFETY: a zero-length buffer: with MSG_TRUNC the call only reports the length.
        let mut len = check_size(unsafe { libc::recv(fd, std::ptr::null_mut(), 0, peek) });
        if len == Err(Errno::EAGAIN) {
            let mut p = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one live pollfd; poll writes only its `revents`. An interrupted poll
            // just looks again below.
            match check(unsafe { libc::poll(&mut p, 1, wait_ms) }) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(e),
            }
            // SAFETY: as above.
            len = check_size(unsafe { libc::recv(fd, std::ptr::null_mut(), 0, peek) });
        }
        let mut buf = vec![0u8; len?];
        // SAFETY: `buf` has `buf.len()` writable bytes; recv writes at most that many.
        let n = check_size(unsafe {
            libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT)
        })?;
        buf.truncate(n);
        Ok(buf)
    }
}

/// The inode number of the host socket `fd` (what the host's `/proc/net` files show).
pub fn inode(fd: BorrowedFd<'_>) -> Result<u64, Errno> {
    // SAFETY: an all-zero `stat` is a valid value to be overwritten.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is live and writable; fstat writes one `struct stat`.
    check(unsafe { libc::fstat(fd.as_raw_fd(), &mut st) })?;
    Ok(st.st_ino)
}
