//! Sockets: socket, socketpair, bind, listen, accept, accept4, connect, getsockname,
//! getpeername, shutdown, getsockopt, setsockopt; the data calls are in `socket_msg.rs`.
//! AF_UNIX sockets are the Sentry's own (`net/unix`); AF_INET and AF_INET6 ones go to
//! `socket_inet.rs` (host sockets, `net/inet`); every other family is EAFNOSUPPORT.

use std::sync::Arc;

use snare_abi::socket::{
    Ucred, AF_INET, AF_INET6, AF_MAX, AF_NETLINK, AF_UNIX, SOCKADDR_STORAGE_SIZE, SOCK_CLOEXEC,
    SOCK_NONBLOCK, SOCK_PACKET, SOCK_TYPE_MASK, SOL_SOCKET, SO_RCVTIMEO_OLD, SO_SNDTIMEO_OLD,
};
use snare_abi::Errno;
use snare_syscalls_table::nr;

use super::arg::{check_flags, fd, i32_, u32_};
use super::Handler;
use super::{socket_inet, socket_msg, socket_netlink};
use crate::kernel::Task;
use crate::mm::GuestMemory;
use crate::net::inet::as_inet;
use crate::net::netlink::as_netlink;
use crate::net::unix::addr::UnixAddr;
use crate::net::unix::{as_socket, SockType, UnixSocket};
use crate::net::Timeout;
use crate::vfs::FileDescription;

pub(super) const HANDLERS: &[(u32, Handler)] = &[
    (nr::SOCKET, sys_socket),
    (nr::SOCKETPAIR, sys_socketpair),
    (nr::SHUTDOWN, sys_shutdown),
    (nr::GETSOCKNAME, sys_getsockname),
    (nr::GETPEERNAME, sys_getpeername),
    (nr::GETSOCKOPT, sys_getsockopt),
    (nr::SETSOCKOPT, sys_setsockopt),
    (nr::SENDTO, socket_msg::sys_sendto),
    (nr::RECVFROM, socket_msg::sys_recvfrom),
    (nr::SENDMSG, socket_msg::sys_sendmsg),
    (nr::RECVMSG, socket_msg::sys_recvmsg),
    (nr::SENDMMSG, socket_msg::sys_sendmmsg),
    (nr::RECVMMSG, socket_msg::sys_recvmmsg),
];

/// `file` as an AF_UNIX socket: ENOTSOCK if it isn't one.
pub(super) fn unix_of(file: &dyn FileDescription) -> Result<Arc<UnixSocket>, Errno> {
    as_socket(file)
        .and_then(UnixSocket::arc)
        .ok_or(Errno::ENOTSOCK)
}

/// The caller's credentials as a message carries them: its pid, real uid and gid.
pub(super) fn creds_of(task: &Task) -> Ucred {
    let st = task.tg().state();
    Ucred {
        pid: task.tgid(),
        uid: st.creds.ruid,
        gid: st.creds.rgid,
    }
}

/// The caller's credentials as `SO_PEERCRED` shows them: its pid, effective uid and gid.
pub(super) fn peercred_of(task: &Task) -> Ucred {
    let st = task.tg().state();
    Ucred {
        pid: task.tgid(),
        uid: st.creds.euid,
        gid: st.creds.egid,
    }
}

/// The one buffer of `send`/`sendto`/`recv`/`recvfrom` (`addr`, `len`), as an iovec of at
/// most [`super::MAX_RW`] bytes.
pub(super) fn one_buffer(addr: u64, len: u64) -> [snare_abi::file::Iovec; 1] {
    [snare_abi::file::Iovec {
        iov_base: addr,
        iov_len: len.min(super::MAX_RW as u64),
    }]
}

/// What `getsockopt` gives for `SO_RCVTIMEO`/`SO_SNDTIMEO`: a `struct timeval` (two
/// longs), cut to the caller's `len`.
pub(super) fn timeval_bytes(t: Timeout, len: usize) -> Vec<u8> {
    let (sec, usec) = t.to_timeval();
    let mut tv = sec.to_ne_bytes().to_vec();
    tv.extend_from_slice(&usec.to_ne_bytes());
    tv.truncate(len);
    tv
}

/// The timeout in a `setsockopt(SO_RCVTIMEO/SO_SNDTIMEO)` value of `len` bytes at `addr`:
/// EINVAL if shorter than a `struct timeval`, EDOM for microseconds out of range.
pub(super) fn read_timeval(task: &Task, addr: u64, len: u32) -> Result<Timeout, Errno> {
    if (len as usize) < 16 {
        return Err(Errno::EINVAL);
    }
    let tv: [i64; 2] = task.mm.read_val(addr)?;
    Timeout::from_timeval(tv[0], tv[1])
}

/// Reads a guest socket address of `len` bytes (Linux's `move_addr_to_kernel`: EINVAL for a
/// negative length or one past `sizeof(struct sockaddr_storage)`).
pub(super) fn read_addr(task: &Task, addr: u64, len: i32) -> Result<Vec<u8>, Errno> {
    let len = usize::try_from(len).map_err(|_| Errno::EINVAL)?;
    if len > SOCKADDR_STORAGE_SIZE {
        return Err(Errno::EINVAL);
    }
    let mut b = vec![0u8; len];
    task.mm.read(addr, &mut b)?;
    Ok(b)
}

/// Writes `sa` to a guest address buffer whose length is at `len_addr` (Linux's
/// `move_addr_to_user`: as much as fits, then the full length; EINVAL for a negative one).
pub(super) fn write_addr(task: &Task, addr: u64, len_addr: u64, sa: &[u8]) -> Result<(), Errno> {
    let room: i32 = task.mm.read_val(len_addr)?;
    let room = usize::try_from(room).map_err(|_| Errno::EINVAL)?;
    let n = room.min(sa.len());
    if n > 0 {
        task.mm.write(addr, &sa[..n])?;
    }
    task.mm.write(len_addr, &(sa.len() as u32).to_ne_bytes())
}

/// Where a datagram with the address at `addr` (`len` bytes) goes: `None` for a connected
/// stream or seqpacket socket, which ignore it or refuse it (EISCONN / EOPNOTSUPP for a
/// stream, as Linux).
pub(super) fn resolve_peer(
    task: &Task,
    s: &UnixSocket,
    addr: u64,
    len: i32,
) -> Result<Option<Arc<UnixSocket>>, Errno> {
    let raw = read_addr(task, addr, len)?;
    match s.sock_type() {
        SockType::SeqPacket => Ok(None),
        SockType::Stream => Err(if s.peer_name().is_ok() {
            Errno::EISCONN
        } else {
            Errno::EOPNOTSUPP
        }),
        SockType::Dgram => {
            let a = UnixAddr::parse(&raw)?;
            super::socket_conn::find(task, &a, SockType::Dgram).map(Some)
        }
    }
}

/// What kind of socket `socket(2)` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Unix(SockType),
    /// AF_INET or AF_INET6 with its type and protocol.
    Inet(u32, (u32, i32)),
    /// AF_NETLINK (NETLINK_ROUTE) with its type.
    Netlink(u32),
}

/// Decodes `socket(2)`'s family, type and protocol as Linux checks them: flags (EINVAL),
/// the family's range (EAFNOSUPPORT), the type's range (EINVAL), the family
/// (EAFNOSUPPORT), then the family's own checks: AF_UNIX the protocol (EPROTONOSUPPORT),
/// then the type (ESOCKTNOSUPPORT); AF_INET/AF_INET6 as `socket_inet::decode`; AF_NETLINK
/// as `net::netlink::decode`.
fn decode(family: i32, ty: u32, protocol: i32) -> Result<(Kind, bool, bool), Errno> {
    check_flags(ty & !SOCK_TYPE_MASK, SOCK_NONBLOCK | SOCK_CLOEXEC)?;
    if !(0..AF_MAX as i32).contains(&family) {
        return Err(Errno::EAFNOSUPPORT);
    }
    let t = ty & SOCK_TYPE_MASK;
    if t > SOCK_PACKET {
        return Err(Errno::EINVAL);
    }
    let kind = match family as u32 {
        AF_UNIX => {
            if protocol != 0 && protocol != AF_UNIX as i32 {
                return Err(Errno::EPROTONOSUPPORT);
            }
            Kind::Unix(SockType::from_raw(t)?)
        }
        AF_INET | AF_INET6 => Kind::Inet(family as u32, socket_inet::decode(t, protocol)?),
        AF_NETLINK => Kind::Netlink(crate::net::netlink::decode(t, protocol)?),
        _ => return Err(Errno::EAFNOSUPPORT),
    };
    Ok((kind, ty & SOCK_NONBLOCK != 0, ty & SOCK_CLOEXEC != 0))
}

/// Implements `socket(2)`: AF_UNIX stream, datagram (and SOCK_RAW, a datagram as on Linux)
/// and seqpacket sockets; AF_INET and AF_INET6 TCP and UDP sockets (host sockets);
/// AF_NETLINK NETLINK_ROUTE sockets; `SOCK_NONBLOCK`, `SOCK_CLOEXEC`.
fn sys_socket(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let (kind, nonblock, cloexec) = decode(i32_(a[0]), u32_(a[1]), i32_(a[2]))?;
    let ty = match kind {
        Kind::Unix(ty) => ty,
        Kind::Inet(family, tp) => {
            return socket_inet::socket(task, family, tp, nonblock, cloexec);
        }
        Kind::Netlink(ty) => return socket_netlink::socket(task, ty, nonblock, cloexec),
    };
    let s = UnixSocket::new(ty, nonblock, task.k.uid, task.k.gid);
    task.fds
        .install(s, cloexec, 0, task.nofile())
        .map(|n| n as u64)
}

/// Implements `socketpair(2)`: two connected AF_UNIX sockets, each with the caller's
/// credentials as `SO_PEERCRED`. AF_INET/AF_INET6/AF_NETLINK: EOPNOTSUPP, as Linux.
fn sys_socketpair(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let (kind, nonblock, cloexec) = decode(i32_(a[0]), u32_(a[1]), i32_(a[2]))?;
    let Kind::Unix(ty) = kind else {
        return Err(Errno::EOPNOTSUPP);
    };
    let (x, y) = UnixSocket::pair(ty, nonblock, peercred_of(task), task.k.uid, task.k.gid);
    let limit = task.nofile();
    let fx = task.fds.install(x, cloexec, 0, limit)?;
    let fy = match task.fds.install(y, cloexec, 0, limit) {
        Ok(n) => n,
        Err(e) => {
            let _ = task.fds.close(fx);
            return Err(e);
        }
    };
    let mut pair = [0u8; 8];
    pair[..4].copy_from_slice(&fx.to_ne_bytes());
    pair[4..].copy_from_slice(&fy.to_ne_bytes());
    if let Err(e) = task.mm.write(a[3], &pair) {
        let _ = task.fds.close(fx);
        let _ = task.fds.close(fy);
        return Err(e);
    }
    Ok(0)
}

/// Implements `shutdown(2)`.
fn sys_shutdown(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let file = task.fds.get(fd(a[0]))?;
    if let Some(s) = as_inet(&*file) {
        return socket_inet::shutdown(s, a);
    }
    if as_netlink(&*file).is_some() {
        return Err(Errno::EOPNOTSUPP);
    }
    let s = unix_of(&*file)?;
    s.shutdown(u32_(a[1])).map(|()| 0)
}

/// Implements `getsockname(2)`: an unbound socket's address is the family alone.
fn sys_getsockname(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let file = task.fds.get(fd(a[0]))?;
    if let Some(s) = as_inet(&*file) {
        return socket_inet::name(task, s, a, false);
    }
    if let Some(s) = as_netlink(&*file) {
        return socket_netlink::name(task, s, a, false);
    }
    let s = unix_of(&*file)?;
    let sa = s
        .name()
        .map_or_else(crate::net::unix::addr::unnamed_sockaddr, |n| {
            n.to_sockaddr()
        });
    write_addr(task, a[1], a[2], &sa).map(|()| 0)
}

/// Implements `getpeername(2)`: ENOTCONN unless connected.
fn sys_getpeername(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let file = task.fds.get(fd(a[0]))?;
    if let Some(s) = as_inet(&*file) {
        return socket_inet::name(task, s, a, true);
    }
    if let Some(s) = as_netlink(&*file) {
        return socket_netlink::name(task, s, a, true);
    }
    let s = unix_of(&*file)?;
    let sa = s
        .peer_name()?
        .map_or_else(crate::net::unix::addr::unnamed_sockaddr, |n| {
            n.to_sockaddr()
        });
    write_addr(task, a[1], a[2], &sa).map(|()| 0)
}

/// Implements `getsockopt(2)` at `SOL_SOCKET` (other levels: EOPNOTSUPP, as AF_UNIX has
/// none): as much of the value as `*optlen` allows, then its length.
fn sys_getsockopt(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let file = task.fds.get(fd(a[0]))?;
    if let Some(s) = as_inet(&*file) {
        return socket_inet::getsockopt(task, s, a);
    }
    if let Some(s) = as_netlink(&*file) {
        return socket_netlink::getsockopt(task, s, a);
    }
    let s = unix_of(&*file)?;
    let (level, opt) = (i32_(a[1]), i32_(a[2]));
    let len: i32 = task.mm.read_val(a[4])?;
    if len < 0 {
        return Err(Errno::EINVAL);
    }
    if level != SOL_SOCKET {
        return Err(Errno::EOPNOTSUPP);
    }
    let v = if opt == SO_RCVTIMEO_OLD || opt == SO_SNDTIMEO_OLD {
        timeval_bytes(s.timeout(opt == SO_RCVTIMEO_OLD), 16)
    } else {
        s.getsockopt(opt)?
    };
    let n = (len as usize).min(v.len());
    task.mm.write(a[3], &v[..n])?;
    task.mm.write(a[4], &(n as u32).to_ne_bytes())?;
    Ok(0)
}

/// Implements `setsockopt(2)` at `SOL_SOCKET`: SO_SNDBUF, SO_RCVBUF (doubled, bounded as
/// Linux), SO_PASSCRED, SO_REUSEADDR, SO_KEEPALIVE, SO_RCVTIMEO, SO_SNDTIMEO. EINVAL for a value shorter than an
/// `int`, ENOPROTOOPT for other options, EOPNOTSUPP at other levels.
fn sys_setsockopt(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let file = task.fds.get(fd(a[0]))?;
    if let Some(s) = as_inet(&*file) {
        return socket_inet::setsockopt(task, s, a);
    }
    if let Some(s) = as_netlink(&*file) {
        return socket_netlink::setsockopt(task, s, a);
    }
    let s = unix_of(&*file)?;
    let (level, opt) = (i32_(a[1]), i32_(a[2]));
    if level != SOL_SOCKET {
        return Err(Errno::EOPNOTSUPP);
    }
    if opt == SO_RCVTIMEO_OLD || opt == SO_SNDTIMEO_OLD {
        let t = read_timeval(task, a[3], u32_(a[4]))?;
        s.set_timeout(opt == SO_RCVTIMEO_OLD, t);
        return Ok(0);
    }
    if (a[4] as u32 as i32) < 4 {
        return Err(Errno::EINVAL);
    }
    let v: i32 = task.mm.read_val(a[3])?;
    s.setsockopt(opt, v).map(|()| 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_like_linux() {
        use snare_abi::socket::{SOCK_DGRAM, SOCK_RAW, SOCK_STREAM};
        assert_eq!(
            decode(1, SOCK_STREAM | SOCK_CLOEXEC, 0),
            Ok((Kind::Unix(SockType::Stream), false, true))
        );
        assert_eq!(
            decode(1, SOCK_RAW, 0).map(|t| t.0),
            Ok(Kind::Unix(SockType::Dgram))
        );
        assert_eq!(decode(1, SOCK_DGRAM | 0x100, 0), Err(Errno::EINVAL));
        assert_eq!(
            decode(2, SOCK_STREAM | SOCK_NONBLOCK, 0),
            Ok((Kind::Inet(2, (SOCK_STREAM, 6)), true, false))
        );
        assert_eq!(decode(10, SOCK_RAW, 0), Err(Errno::EPERM));
        assert_eq!(decode(17, SOCK_STREAM, 0), Err(Errno::EAFNOSUPPORT));
        assert_eq!(
            decode(16, SOCK_RAW | SOCK_CLOEXEC, 0),
            Ok((Kind::Netlink(SOCK_RAW), false, true))
        );
        assert_eq!(decode(16, SOCK_DGRAM, 9), Err(Errno::EPROTONOSUPPORT));
        assert_eq!(decode(16, SOCK_STREAM, 0), Err(Errno::ESOCKTNOSUPPORT));
        assert_eq!(decode(16, SOCK_RAW, 32), Err(Errno::EPROTONOSUPPORT));
        assert_eq!(decode(99, SOCK_STREAM, 0), Err(Errno::EAFNOSUPPORT));
        assert_eq!(decode(1, 12, 0), Err(Errno::EINVAL));
        assert_eq!(decode(1, 0, 0), Err(Errno::ESOCKTNOSUPPORT));
        assert_eq!(decode(1, SOCK_STREAM, 6), Err(Errno::EPROTONOSUPPORT));
        assert_eq!(
            decode(1, SOCK_STREAM, 1).map(|t| t.0),
            Ok(Kind::Unix(SockType::Stream))
        );
    }
}
