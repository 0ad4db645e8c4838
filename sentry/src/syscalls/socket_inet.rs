//! The socket calls of AF_INET and AF_INET6 sockets (`net/inet`), reached from the handlers
//! of `socket.rs`, `socket_conn.rs`, `socket_msg.rs` and `read_write.rs` when the fd is one.
//! Guest memory is read here, once: addresses (at most `sizeof(struct sockaddr_storage)`,
//! EINVAL past it, EFAULT), option values (at most the option's size), `msghdr`, iovecs and
//! control messages. The address and option bytes then go to the host socket, whose checks
//! (family, length, `AF_UNSPEC`, option values) are Linux's own.

use snare_abi::file::Iovec;
use snare_abi::socket::*;
use snare_abi::Errno;

use super::arg::{check_flags, i32_, u32_};
use super::socket::{one_buffer, read_addr, write_addr};
use super::socket_msg::{gather, read_msghdr, scatter, total, CHUNK, OPTMEM_MAX};
use crate::kernel::Task;
use crate::mm::GuestMemory;
use crate::net::inet::InetSocket;
use snare_platform::net;

/// The options that go through to the host, and the most bytes of each it reads (Linux
/// reads no more of an `int` option than an `int`). Any other is ENOPROTOOPT.
const OPTIONS: &[(i32, i32, usize)] = &[
    (SOL_SOCKET, SO_REUSEADDR, 4),
    (SOL_SOCKET, SO_REUSEPORT, 4),
    (SOL_SOCKET, SO_KEEPALIVE, 4),
    (SOL_SOCKET, SO_BROADCAST, 4),
    (SOL_SOCKET, SO_ERROR, 4),
    (SOL_SOCKET, SO_TYPE, 4),
    (SOL_SOCKET, SO_DOMAIN, 4),
    (SOL_SOCKET, SO_PROTOCOL, 4),
    (SOL_SOCKET, SO_RCVBUF, 4),
    (SOL_SOCKET, SO_SNDBUF, 4),
    (SOL_SOCKET, SO_ACCEPTCONN, 4),
    // struct linger { int l_onoff; int l_linger; }
    (SOL_SOCKET, SO_LINGER, 8),
    // struct timeval (x86-64: two longs)
    (SOL_SOCKET, SO_RCVTIMEO_OLD, 16),
    (SOL_SOCKET, SO_SNDTIMEO_OLD, 16),
    (SOL_SOCKET, SO_OOBINLINE, 4),
    (SOL_SOCKET, SO_RCVLOWAT, 4),
    (SOL_SOCKET, SO_SNDLOWAT, 4),
    // 0..=6 without CAP_NET_ADMIN, which the host checks.
    (SOL_SOCKET, SO_PRIORITY, 4),
    (IPPROTO_TCP, TCP_NODELAY, 4),
    (IPPROTO_TCP, TCP_MAXSEG, 4),
    (IPPROTO_TCP, TCP_CORK, 4),
    (IPPROTO_TCP, TCP_KEEPIDLE, 4),
    (IPPROTO_TCP, TCP_KEEPINTVL, 4),
    (IPPROTO_TCP, TCP_KEEPCNT, 4),
    (IPPROTO_TCP, TCP_SYNCNT, 4),
    (IPPROTO_TCP, TCP_LINGER2, 4),
    (IPPROTO_TCP, TCP_DEFER_ACCEPT, 4),
    (IPPROTO_TCP, TCP_WINDOW_CLAMP, 4),
    // struct tcp_info: the host writes as much of its own as asked and says how much.
    (IPPROTO_TCP, TCP_INFO, 512),
    (IPPROTO_TCP, TCP_QUICKACK, 4),
    // An algorithm's name (TCP_CA_NAME_MAX); the host's own algorithms only.
    (IPPROTO_TCP, TCP_CONGESTION, 16),
    (IPPROTO_TCP, TCP_USER_TIMEOUT, 4),
    (IPPROTO_TCP, TCP_FASTOPEN, 4),
    (IPPROTO_TCP, TCP_NOTSENT_LOWAT, 4),
    (IPPROTO_IP, IP_TOS, 4),
    (IPPROTO_IP, IP_TTL, 4),
    // Control messages on receives (and the error queue, MSG_ERRQUEUE).
    (IPPROTO_IP, IP_PKTINFO, 4),
    (IPPROTO_IP, IP_RECVTTL, 4),
    (IPPROTO_IP, IP_RECVTOS, 4),
    (IPPROTO_IP, IP_RECVERR, 4),
    (IPPROTO_IP, IP_RECVORIGDSTADDR, 4),
    (IPPROTO_IPV6, IPV6_RECVPKTINFO, 4),
    (IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 4),
    (IPPROTO_IPV6, IPV6_RECVTCLASS, 4),
    (IPPROTO_IPV6, IPV6_RECVERR, 4),
    (SOL_SOCKET, SO_TIMESTAMP_OLD, 4),
    (SOL_SOCKET, SO_TIMESTAMPNS_OLD, 4),
    (SOL_SOCKET, SO_RXQ_OVFL, 4),
    (IPPROTO_IP, IP_MTU_DISCOVER, 4),
    (IPPROTO_IP, IP_MTU, 4),
    (IPPROTO_IP, IP_FREEBIND, 4),
    (IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 4),
    // struct ip_mreqn (or an in_addr).
    (IPPROTO_IP, IP_MULTICAST_IF, 12),
    (IPPROTO_IP, IP_MULTICAST_TTL, 4),
    (IPPROTO_IP, IP_MULTICAST_LOOP, 4),
    // struct ip_mreqn (or the shorter ip_mreq).
    (IPPROTO_IP, IP_ADD_MEMBERSHIP, 12),
    (IPPROTO_IP, IP_DROP_MEMBERSHIP, 12),
    // struct group_req: an interface index and a sockaddr_storage.
    (IPPROTO_IP, MCAST_JOIN_GROUP, 136),
    (IPPROTO_IP, MCAST_LEAVE_GROUP, 136),
    (IPPROTO_IPV6, IPV6_UNICAST_HOPS, 4),
    (IPPROTO_IPV6, IPV6_MULTICAST_IF, 4),
    (IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 4),
    (IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 4),
    // struct ipv6_mreq
    (IPPROTO_IPV6, IPV6_JOIN_GROUP, 20),
    (IPPROTO_IPV6, IPV6_LEAVE_GROUP, 20),
    (IPPROTO_IPV6, IPV6_MTU_DISCOVER, 4),
    (IPPROTO_IPV6, IPV6_MTU, 4),
    (IPPROTO_IPV6, IPV6_V6ONLY, 4),
    (IPPROTO_IPV6, IPV6_TCLASS, 4),
    (IPPROTO_IPV6, MCAST_JOIN_GROUP, 136),
    (IPPROTO_IPV6, MCAST_LEAVE_GROUP, 136),
    (IPPROTO_UDPLITE, UDPLITE_SEND_CSCOV, 4),
    (IPPROTO_UDPLITE, UDPLITE_RECV_CSCOV, 4),
];

/// The `MSG_*` flags passed on to the host (`MSG_DONTWAIT` decides how the Sentry waits;
/// the host always gets it, and `MSG_NOSIGNAL`).
const SEND_FLAGS: u32 = MSG_OOB | MSG_DONTROUTE | MSG_EOR | MSG_MORE;
const RECV_FLAGS: u32 = MSG_OOB | MSG_PEEK | MSG_TRUNC | MSG_ERRQUEUE;

/// One past the largest protocol number (`IPPROTO_MAX`).
const IPPROTO_MAX: i32 = 263;

/// `SOL_SOCKET` control messages Linux acts on for TCP and UDP sends (`SO_PRIORITY`,
/// `SO_MARK`, `SO_TIMESTAMPING_OLD`, `SCM_TXTIME`): not carried here.
const SOL_SOCKET_CMSGS: &[i32] = &[12, 36, 37, 61];

/// The largest datagram: an IPv4 or IPv6 length field's limit (EMSGSIZE past it, before
/// the Sentry copies it).
const MAX_DATAGRAM: usize = 65_535;

/// The type and protocol of an AF_INET/AF_INET6 `socket(2)` (flags removed), as Linux's
/// `inet_create` checks them: a protocol past `IPPROTO_MAX` is EINVAL; TCP for streams, UDP
/// (protocol 0 picks it) or UDP-Lite for datagrams, EPROTONOSUPPORT for other protocols
/// (MPTCP and ping sockets are not offered),
/// EPERM for raw sockets (the Sentry has no `CAP_NET_RAW` to give), ESOCKTNOSUPPORT for
/// types the family lacks.
pub(super) fn decode(ty: u32, protocol: i32) -> Result<(u32, i32), Errno> {
    if !(0..IPPROTO_MAX).contains(&protocol) {
        return Err(Errno::EINVAL);
    }
    match ty {
        SOCK_STREAM if protocol == 0 || protocol == IPPROTO_TCP => Ok((ty, IPPROTO_TCP)),
        SOCK_DGRAM if protocol == 0 || protocol == IPPROTO_UDP => Ok((ty, IPPROTO_UDP)),
        SOCK_DGRAM if protocol == IPPROTO_UDPLITE => Ok((ty, IPPROTO_UDPLITE)),
        SOCK_STREAM | SOCK_DGRAM => Err(Errno::EPROTONOSUPPORT),
        SOCK_RAW => Err(Errno::EPERM),
        _ => Err(Errno::ESOCKTNOSUPPORT),
    }
}

/// `socket(2)` of an AF_INET/AF_INET6 socket already decoded.
pub(super) fn socket(
    task: &Task,
    family: u32,
    (ty, protocol): (u32, i32),
    nonblock: bool,
    cloexec: bool,
) -> Result<u64, Errno> {
    task.fds.check_room(task.nofile())?;
    let s = InetSocket::new(family, ty, protocol, nonblock, (task.k.uid, task.k.gid))?;
    task.fds
        .install(s, cloexec, 0, task.nofile())
        .map(|n| n as u64)
}

/// `bind(2)`.
pub(super) fn bind(task: &Task, s: &InetSocket, a: [u64; 6]) -> Result<u64, Errno> {
    let raw = read_addr(task, a[1], i32_(a[2]))?;
    s.bind(&raw).map(|()| 0)
}

/// `listen(2)` (the host clamps the backlog to its `somaxconn`).
pub(super) fn listen(s: &InetSocket, a: [u64; 6]) -> Result<u64, Errno> {
    s.listen(i32_(a[1])).map(|()| 0)
}

/// `connect(2)`: blocking until the handshake ends, or EINPROGRESS when non-blocking.
pub(super) fn connect(task: &Task, s: &InetSocket, a: [u64; 6]) -> Result<u64, Errno> {
    let raw = read_addr(task, a[1], i32_(a[2]))?;
    s.connect(&raw, s.nonblocking()).map(|()| 0)
}

/// `accept(2)` and `accept4(2)` (`flags`: `SOCK_NONBLOCK`, `SOCK_CLOEXEC`; EINVAL for
/// others). A peer address that can't be written drops the connection, as Linux.
pub(super) fn accept(task: &Task, s: &InetSocket, a: [u64; 6], flags: u32) -> Result<u64, Errno> {
    let flags = check_flags(flags, SOCK_NONBLOCK | SOCK_CLOEXEC)?;
    task.fds.check_room(task.nofile())?;
    let (new, peer) = s.accept(s.nonblocking(), flags & SOCK_NONBLOCK != 0)?;
    let n = task
        .fds
        .install(new, flags & SOCK_CLOEXEC != 0, 0, task.nofile())?;
    if a[1] != 0 {
        if let Err(e) = write_addr(task, a[1], a[2], &peer) {
            let _ = task.fds.close(n);
            return Err(e);
        }
    }
    Ok(n as u64)
}

/// `shutdown(2)`.
pub(super) fn shutdown(s: &InetSocket, a: [u64; 6]) -> Result<u64, Errno> {
    s.shutdown(i32_(a[1])).map(|()| 0)
}

/// `getsockname(2)` (`peer` false) and `getpeername(2)` (`peer` true).
pub(super) fn name(task: &Task, s: &InetSocket, a: [u64; 6], peer: bool) -> Result<u64, Errno> {
    let sa = s.name(peer)?;
    write_addr(task, a[1], a[2], &sa).map(|()| 0)
}

/// The most bytes of option `opt` at `level` the host reads, if it goes through.
fn option_size(level: i32, opt: i32) -> Result<usize, Errno> {
    OPTIONS
        .iter()
        .find(|&&(l, o, _)| l == level && o == opt)
        .map(|&(_, _, n)| n)
        .ok_or(Errno::ENOPROTOOPT)
}

/// `getsockopt(2)` of a listed option (ENOPROTOOPT otherwise): as much of the value as
/// `*optlen` allows, then its length.
pub(super) fn getsockopt(task: &Task, s: &InetSocket, a: [u64; 6]) -> Result<u64, Errno> {
    let len: i32 = task.mm.read_val(a[4])?;
    let len = usize::try_from(len).map_err(|_| Errno::EINVAL)?;
    let size = option_size(i32_(a[1]), i32_(a[2]))?;
    let v = s.getsockopt(i32_(a[1]), i32_(a[2]), len.min(size))?;
    task.mm.write(a[3], &v)?;
    task.mm.write(a[4], &(v.len() as u32).to_ne_bytes())?;
    Ok(0)
}

/// `setsockopt(2)` of a listed option (ENOPROTOOPT otherwise; EINVAL for a negative
/// length): the value's bytes, at most the option's size, go to the host. `SO_LINGER`'s
/// time is capped at [`MAX_LINGER`] seconds.
pub(super) fn setsockopt(task: &Task, s: &InetSocket, a: [u64; 6]) -> Result<u64, Errno> {
    let len = usize::try_from(i32_(a[4])).map_err(|_| Errno::EINVAL)?;
    let (level, opt) = (i32_(a[1]), i32_(a[2]));
    let size = option_size(level, opt)?;
    let mut v = vec![0u8; len.min(size)];
    task.mm.read(a[3], &mut v)?;
    if (level, opt) == (SOL_SOCKET, SO_LINGER) {
        cap_linger(&mut v);
    }
    s.setsockopt(level, opt, &v).map(|()| 0)
}

/// The longest `SO_LINGER` time passed to the host, in seconds. A lingering close waits in
/// the host's `close`, which the Sentry's thread makes and nothing interrupts (not the
/// host fd's O_NONBLOCK, not a kill of the guest); Linux takes a negative time for
/// forever.
const MAX_LINGER: u32 = 10;

/// Caps `struct linger`'s `l_linger` (bytes 4..8; a shorter value is the host's EINVAL).
fn cap_linger(v: &mut [u8]) {
    if let Some(t) = v.get_mut(4..8) {
        let secs = u32::from_ne_bytes([t[0], t[1], t[2], t[3]]);
        t.copy_from_slice(&secs.min(MAX_LINGER).to_ne_bytes());
    }
}

/// Raises SIGPIPE for an EPIPE of a stream send without `MSG_NOSIGNAL`.
fn sigpipe(task: &Task) {
    let info = crate::kernel::signal::user_info(
        snare_abi::signal::SIGPIPE,
        snare_abi::signal::SI_USER,
        task.tgid(),
        task.tg().state().creds.ruid,
    );
    crate::kernel::signal::send_to_task(&task.handle, info);
}

/// One send of the data in `vecs` (to `to`'s address bytes). A stream moves a chunk at a
/// time and stops at a short one; a datagram goes whole (EMSGSIZE past the largest).
fn send_iov(
    task: &Task,
    s: &InetSocket,
    vecs: &[Iovec],
    extra: net::SendExtra<'_>,
    flags: u32,
) -> Result<u64, Errno> {
    let nonblock = flags & MSG_DONTWAIT != 0 || s.nonblocking();
    let hf = (flags & SEND_FLAGS) as i32;
    let len = total(vecs);
    let r = if s.is_stream() {
        let mut done = 0;
        loop {
            let want = (len - done).min(CHUNK);
            // Straight from guest memory (no copy through the Sentry).
            let r = s.send_with(want, nonblock, |fd, sent| {
                let at = done + sent;
                task.mm
                    .with_host_ranges(vecs, at, want - sent, false, |mem, ranges| {
                        net::send_mem(fd, mem, ranges, extra, hf)
                    })
                    .and_then(|r| r)
            });
            match r {
                Ok(n) => done += n,
                Err(e) if done == 0 => break Err(e),
                Err(_) => break Ok(done),
            }
            if done >= len || done % CHUNK != 0 || task.handle.is_killed() {
                break Ok(done);
            }
        }
    } else {
        if len > MAX_DATAGRAM {
            return Err(Errno::EMSGSIZE);
        }
        let data = gather(task, vecs, 0, len)?;
        s.send(&data, extra, hf, nonblock)
    };
    if r == Err(Errno::EPIPE) && flags & MSG_NOSIGNAL == 0 && s.is_stream() {
        sigpipe(task);
    }
    r.map(|n| n as u64)
}

/// What one receive gave: the call's return, `msg_flags`, the sender's address bytes, the
/// control messages.
struct Got {
    ret: u64,
    flags: u32,
    from: Vec<u8>,
    control: Vec<u8>,
}

/// The `msg_flags` a receive passes back from the host.
const RECV_MSG_FLAGS: u32 = MSG_TRUNC | MSG_CTRUNC | MSG_ERRQUEUE;

/// The most control-message bytes one receive takes from the host: more than every
/// message the options here can ask for (a timestamp, packet info, TTL, TOS, an extended
/// error with its address), so only a smaller guest buffer truncates them, as on Linux.
const CONTROL_ROOM: usize = 1024;

/// One receive into `vecs`. A stream reads at most a chunk per call (`MSG_WAITALL`: until
/// the buffer is full, end-of-file, an error or a signal).
/// `control_room` bytes are offered for control messages. `MSG_ERRQUEUE` never waits (an
/// empty error queue is EAGAIN, as Linux).
fn recv_iov(
    task: &Task,
    s: &InetSocket,
    vecs: &[Iovec],
    flags: u32,
    control_room: usize,
) -> Result<Got, Errno> {
    let nonblock = flags & (MSG_DONTWAIT | MSG_ERRQUEUE) != 0 || s.nonblocking();
    let hf = (flags & RECV_FLAGS) as i32;
    let mut control = vec![0u8; control_room.min(CONTROL_ROOM)];
    if s.is_stream() {
        return recv_stream(task, s, vecs, flags, nonblock, control);
    }
    let max = total(vecs).min(MAX_DATAGRAM);
    let mut buf = vec![0u8; max];
    let r = s.recv(&mut buf, &mut control, hf, nonblock)?;
    scatter(task, vecs, 0, &buf[..r.len.min(max)])?;
    control.truncate(r.control_len);
    Ok(Got {
        ret: r.len as u64,
        flags: (r.flags as u32) & RECV_MSG_FLAGS,
        from: r.from,
        control,
    })
}

/// [`recv_iov`] of a stream: straight into guest memory (no copy through the Sentry), at
/// most a chunk.
fn recv_stream(
    task: &Task,
    s: &InetSocket,
    vecs: &[Iovec],
    flags: u32,
    nonblock: bool,
    mut control: Vec<u8>,
) -> Result<Got, Errno> {
    let hf = (flags & RECV_FLAGS) as i32;
    let max = total(vecs).min(CHUNK);
    let recv_at = |at: usize, control: &mut [u8]| {
        s.recv_with(nonblock, |fd| {
            task.mm
                .with_host_ranges(vecs, at, max - at, true, |mem, ranges| {
                    net::recv_mem(fd, mem, ranges, control, hf)
                })
                .and_then(|r| r)
        })
    };
    let first = recv_at(0, &mut control)?;
    control.truncate(first.control_len);
    let mut done = first.len.min(max);
    let waitall = flags & MSG_WAITALL != 0 && flags & MSG_PEEK == 0;
    while waitall && done > 0 && done < max && !task.handle.is_killed() {
        match recv_at(done, &mut []) {
            Ok(r) if r.len > 0 => done += r.len.min(max - done),
            _ => break,
        }
    }
    let ret = if waitall { done } else { first.len };
    Ok(Got {
        ret: ret as u64,
        flags: (first.flags as u32) & RECV_MSG_FLAGS,
        from: first.from,
        control,
    })
}

/// `write(2)`, `writev(2)` of an inet socket: one send without flags (the dispatcher
/// raises SIGPIPE for EPIPE).
pub(super) fn write(task: &Task, s: &InetSocket, vecs: &[Iovec]) -> Result<u64, Errno> {
    send_iov(task, s, vecs, net::SendExtra::default(), MSG_NOSIGNAL)
}

/// `readv(2)` of an inet socket: one receive without flags.
pub(super) fn read(task: &Task, s: &InetSocket, vecs: &[Iovec]) -> Result<u64, Errno> {
    recv_iov(task, s, vecs, 0, 0).map(|g| g.ret)
}

/// `sendto(2)`. An address given with length 0 is still an address to Linux, which a UDP
/// send refuses (EINVAL); the host's `sendmsg` would take it for none, so it is refused
/// here.
pub(super) fn sendto(task: &Task, s: &InetSocket, a: [u64; 6]) -> Result<u64, Errno> {
    if a[4] != 0 && a[5] as u32 == 0 && !s.is_stream() {
        return Err(Errno::EINVAL);
    }
    let to = if a[4] != 0 {
        Some(read_addr(task, a[4], u32_(a[5]) as i32)?)
    } else {
        None
    };
    let vecs = one_buffer(a[1], a[2]);
    let extra = net::SendExtra {
        to: to.as_deref(),
        control: &[],
    };
    send_iov(task, s, &vecs, extra, u32_(a[3]))
}

/// `recvfrom(2)`: the sender's address if asked (length 0 for a connected stream).
pub(super) fn recvfrom(task: &Task, s: &InetSocket, a: [u64; 6]) -> Result<u64, Errno> {
    let vecs = one_buffer(a[1], a[2]);
    let got = recv_iov(task, s, &vecs, u32_(a[3]), 0)?;
    if a[4] != 0 {
        write_addr(task, a[4], a[5], &got.from)?;
    }
    Ok(got.ret)
}

/// Checks a send's control messages as Linux's `sock_cmsg_send` and `ip_cmsg_send` do, and
/// returns the ones the host gets: each header must fit (EINVAL); `SCM_RIGHTS` and
/// `SCM_CREDENTIALS` are ignored (never passed on: the host would read the numbers as the
/// Sentry's own fds), other `SOL_SOCKET` types are EINVAL; other levels are ignored on
/// TCP. A UDP socket's [`UDP_CMSGS`] go to the host as they are (its checks of their sizes
/// and values are Linux's); its other `IPPROTO_IP` and `IPPROTO_IPV6` ones and
/// `SOL_SOCKET_CMSGS` are not carried (EOPNOTSUPP, logged; Linux acts on them).
fn send_control(task: &Task, s: &InetSocket, ctl: u64, len: u64) -> Result<Vec<u8>, Errno> {
    if len > i32::MAX as u64 {
        return Err(Errno::ENOBUFS);
    }
    if len == 0 {
        return Ok(Vec::new());
    }
    if len > OPTMEM_MAX {
        return Err(Errno::ENOBUFS);
    }
    let mut buf = vec![0u8; len as usize];
    task.mm.read(ctl, &mut buf)?;
    let hdr = std::mem::size_of::<Cmsghdr>();
    let mut out = Vec::new();
    let mut off = 0usize;
    while off + hdr <= buf.len() {
        let c: Cmsghdr = snare_abi::pod::from_bytes(&buf[off..off + hdr]).ok_or(Errno::EINVAL)?;
        if c.cmsg_len < hdr as u64 || c.cmsg_len > (buf.len() - off) as u64 {
            return Err(Errno::EINVAL);
        }
        let ignored = [SCM_RIGHTS, SCM_CREDENTIALS].contains(&c.cmsg_type);
        if c.cmsg_level == SOL_SOCKET && !ignored && !SOL_SOCKET_CMSGS.contains(&c.cmsg_type) {
            return Err(Errno::EINVAL);
        }
        let next = (off + snare_abi::socket::cmsg_align(c.cmsg_len as usize)).min(buf.len());
        let ip_level = c.cmsg_level == IPPROTO_IP || c.cmsg_level == IPPROTO_IPV6;
        if !s.is_stream() && UDP_CMSGS.contains(&(c.cmsg_level, c.cmsg_type)) {
            out.extend_from_slice(&buf[off..next]);
            // Each message starts aligned in the copy as in the original.
            out.resize(snare_abi::socket::cmsg_align(out.len()), 0);
        } else if (c.cmsg_level == SOL_SOCKET && !ignored) || (!s.is_stream() && ip_level) {
            tracing::warn!(
                level = c.cmsg_level,
                ty = c.cmsg_type,
                "inet: control message on a send not carried: EOPNOTSUPP"
            );
            return Err(Errno::EOPNOTSUPP);
        }
        off = next;
    }
    Ok(out)
}

/// The control messages a UDP send passes to the host: the source address and interface,
/// the TOS or traffic class, the TTL or hop limit of one datagram.
const UDP_CMSGS: &[(i32, i32)] = &[
    (IPPROTO_IP, IP_PKTINFO),
    (IPPROTO_IP, IP_TOS),
    (IPPROTO_IP, IP_TTL),
    (IPPROTO_IPV6, IPV6_PKTINFO),
    (IPPROTO_IPV6, IPV6_HOPLIMIT),
    (IPPROTO_IPV6, IPV6_TCLASS),
];

/// One `sendmsg` of the `msghdr` at `addr`.
pub(super) fn sendmsg(task: &Task, s: &InetSocket, addr: u64, flags: u32) -> Result<u64, Errno> {
    let (m, vecs) = read_msghdr(task, addr)?;
    let control = send_control(task, s, m.msg_control, m.msg_controllen)?;
    let to = if m.msg_name != 0 && m.msg_namelen != 0 {
        let len = (m.msg_namelen as usize).min(snare_abi::socket::SOCKADDR_STORAGE_SIZE);
        Some(read_addr(task, m.msg_name, len as i32)?)
    } else {
        None
    };
    let extra = net::SendExtra {
        to: to.as_deref(),
        control: &control,
    };
    send_iov(task, s, &vecs, extra, flags)
}

/// One `recvmsg` into the `msghdr` at `addr`, with the control messages the host gave
/// (as many as `msg_controllen` has room for; `MSG_CTRUNC` if not all).
pub(super) fn recvmsg(task: &Task, s: &InetSocket, addr: u64, flags: u32) -> Result<u64, Errno> {
    let (m, vecs) = read_msghdr(task, addr)?;
    let room = if m.msg_control == 0 {
        0
    } else {
        usize::try_from(m.msg_controllen).unwrap_or(usize::MAX)
    };
    let got = recv_iov(task, s, &vecs, flags, room)?;
    if !got.control.is_empty() {
        task.mm.write(m.msg_control, &got.control)?;
    }
    let control_len = got.control.len() as u64;
    task.mm
        .write(addr.wrapping_add(40), &control_len.to_ne_bytes())?;
    task.mm
        .write(addr.wrapping_add(48), &got.flags.to_ne_bytes())?;
    if m.msg_name != 0 {
        write_addr(task, m.msg_name, addr.wrapping_add(8), &got.from)?;
    }
    Ok(got.ret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_like_linux() {
        assert_eq!(decode(SOCK_STREAM, 0), Ok((SOCK_STREAM, IPPROTO_TCP)));
        assert_eq!(decode(SOCK_STREAM, 6), Ok((SOCK_STREAM, IPPROTO_TCP)));
        assert_eq!(decode(SOCK_DGRAM, 17), Ok((SOCK_DGRAM, IPPROTO_UDP)));
        assert_eq!(decode(SOCK_STREAM, 17), Err(Errno::EPROTONOSUPPORT));
        assert_eq!(decode(SOCK_DGRAM, 6), Err(Errno::EPROTONOSUPPORT));
        assert_eq!(decode(SOCK_DGRAM, 136), Ok((SOCK_DGRAM, IPPROTO_UDPLITE)));
        assert_eq!(decode(SOCK_STREAM, 136), Err(Errno::EPROTONOSUPPORT));
        assert_eq!(decode(SOCK_RAW, 1), Err(Errno::EPERM));
        assert_eq!(decode(0, 0), Err(Errno::ESOCKTNOSUPPORT));
        assert_eq!(decode(5, 0), Err(Errno::ESOCKTNOSUPPORT));
        assert_eq!(decode(SOCK_STREAM, 263), Err(Errno::EINVAL));
        assert_eq!(decode(SOCK_RAW, -1), Err(Errno::EINVAL));
    }

    #[test]
    fn linger_is_capped() {
        let mut v = [1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff];
        cap_linger(&mut v);
        assert_eq!(v[4..], MAX_LINGER.to_ne_bytes());
        let mut short = [1, 0, 0, 0];
        cap_linger(&mut short);
        assert_eq!(short, [1, 0, 0, 0]);
        let mut five = [1, 0, 0, 0, 5, 0, 0, 0];
        cap_linger(&mut five);
        assert_eq!(five[4], 5);
    }

    #[test]
    fn options_have_sizes() {
        assert_eq!(option_size(SOL_SOCKET, SO_LINGER), Ok(8));
        assert_eq!(option_size(IPPROTO_TCP, TCP_NODELAY), Ok(4));
        assert_eq!(option_size(SOL_SOCKET, SO_RCVTIMEO_OLD), Ok(16));
        assert_eq!(option_size(SOL_SOCKET, 9999), Err(Errno::ENOPROTOOPT));
        assert_eq!(option_size(99, 1), Err(Errno::ENOPROTOOPT));
    }
}
