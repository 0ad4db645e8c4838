//! The socket calls of AF_NETLINK sockets (`net/netlink`), reached from the handlers of
//! `socket.rs`, `socket_conn.rs`, `socket_msg.rs` and `read_write.rs` when the fd is one.
//! Guest memory is read and written here: addresses (EINVAL past `sizeof(struct
//! sockaddr_storage)`), option values, `msghdr` and iovecs; a request datagram is copied in
//! whole (after the send buffer's bound is checked) and handed to the socket.
//!
//! Deviations from Linux: control messages of a send are ignored (Linux checks them and
//! takes `SCM_CREDENTIALS`), a receive gives none.

use snare_abi::file::Iovec;
use snare_abi::netlink::SOL_NETLINK;
use snare_abi::socket::{
    MSG_DONTWAIT, MSG_OOB, MSG_PEEK, MSG_TRUNC, SOCKADDR_STORAGE_SIZE, SOL_SOCKET, SO_RCVTIMEO_OLD,
    SO_SNDTIMEO_OLD,
};
use snare_abi::Errno;

use super::arg::{i32_, u32_};
use super::socket::{one_buffer, read_addr, read_timeval, timeval_bytes, write_addr};
use super::socket_msg::{gather, read_msghdr, scatter, total};
use crate::kernel::Task;
use crate::mm::GuestMemory;
use crate::net::netlink::{sockaddr, NetlinkSocket};

/// `socket(2)` of a netlink socket of `ty` (already checked by `net::netlink::decode`).
pub(super) fn socket(task: &Task, ty: u32, nonblock: bool, cloexec: bool) -> Result<u64, Errno> {
    let s = NetlinkSocket::new(ty, nonblock, task.k.uid, task.k.gid);
    task.fds
        .install(s, cloexec, 0, task.nofile())
        .map(|n| n as u64)
}

/// `bind(2)`.
pub(super) fn bind(task: &Task, s: &NetlinkSocket, a: [u64; 6]) -> Result<u64, Errno> {
    let raw = read_addr(task, a[1], i32_(a[2]))?;
    s.bind(&raw, task.tgid()).map(|()| 0)
}

/// `connect(2)`.
pub(super) fn connect(task: &Task, s: &NetlinkSocket, a: [u64; 6]) -> Result<u64, Errno> {
    let raw = read_addr(task, a[1], i32_(a[2]))?;
    s.connect(&raw, task.tgid()).map(|()| 0)
}

/// `getsockname(2)` (`peer` false) and `getpeername(2)` (`peer` true: the kernel, port 0,
/// the only peer a socket here can have).
pub(super) fn name(task: &Task, s: &NetlinkSocket, a: [u64; 6], peer: bool) -> Result<u64, Errno> {
    let sa = if peer { sockaddr(0, 0) } else { s.name() };
    write_addr(task, a[1], a[2], &sa).map(|()| 0)
}

/// `getsockopt(2)` at `SOL_SOCKET` and `SOL_NETLINK` (EINVAL for a negative length;
/// ENOPROTOOPT at other levels).
pub(super) fn getsockopt(task: &Task, s: &NetlinkSocket, a: [u64; 6]) -> Result<u64, Errno> {
    let (level, opt) = (i32_(a[1]), i32_(a[2]));
    let len: i32 = task.mm.read_val(a[4])?;
    let len = usize::try_from(len).map_err(|_| Errno::EINVAL)?;
    let (v, reported) = match level {
        SOL_SOCKET if opt == SO_RCVTIMEO_OLD || opt == SO_SNDTIMEO_OLD => {
            let tv = timeval_bytes(s.timeout(opt == SO_RCVTIMEO_OLD), len);
            let n = tv.len();
            (tv, n)
        }
        SOL_SOCKET => {
            let v = s.getsockopt_socket(opt)?.to_ne_bytes();
            let n = len.min(v.len());
            (v[..n].to_vec(), n)
        }
        SOL_NETLINK => s.getsockopt_netlink(opt, len)?,
        _ => return Err(Errno::ENOPROTOOPT),
    };
    task.mm.write(a[3], &v)?;
    task.mm.write(a[4], &(reported as u32).to_ne_bytes())?;
    Ok(0)
}

/// `setsockopt(2)` at `SOL_SOCKET` (EINVAL for less than an `int`, or than a `struct
/// timeval` for `SO_RCVTIMEO`/`SO_SNDTIMEO`) and `SOL_NETLINK` (a value shorter than an
/// `int` counts as 0, as Linux); ENOPROTOOPT at other levels.
pub(super) fn setsockopt(task: &Task, s: &NetlinkSocket, a: [u64; 6]) -> Result<u64, Errno> {
    let (level, opt, len) = (i32_(a[1]), i32_(a[2]), u32_(a[4]));
    match level {
        SOL_SOCKET if opt == SO_RCVTIMEO_OLD || opt == SO_SNDTIMEO_OLD => {
            let t = read_timeval(task, a[3], len)?;
            s.set_timeout(opt == SO_RCVTIMEO_OLD, t);
            Ok(0)
        }
        SOL_SOCKET => {
            if len < 4 {
                return Err(Errno::EINVAL);
            }
            let v: i32 = task.mm.read_val(a[3])?;
            s.setsockopt_socket(opt, v).map(|()| 0)
        }
        SOL_NETLINK => {
            let v: u32 = if len >= 4 { task.mm.read_val(a[3])? } else { 0 };
            s.setsockopt_netlink(opt, v).map(|()| 0)
        }
        _ => Err(Errno::ENOPROTOOPT),
    }
}

/// One send of the request datagram in `vecs` (to `to`, if given). `MSG_OOB` is
/// EOPNOTSUPP; other flags change nothing (the answers are queued at once).
fn send_iov(
    task: &Task,
    s: &NetlinkSocket,
    vecs: &[Iovec],
    to: Option<&[u8]>,
    flags: u32,
) -> Result<u64, Errno> {
    if flags & MSG_OOB != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let len = total(vecs);
    s.check_send(len, to, task.tgid())?;
    let data = gather(task, vecs, 0, len)?;
    let uid = task.tg().state().creds.ruid;
    Ok(s.send(&data, uid) as u64)
}

/// What one receive gives the guest: the return value and `msg_flags`.
struct Got {
    ret: u64,
    flags: u32,
}

/// One receive into `vecs`: `MSG_PEEK`, `MSG_DONTWAIT`, and `MSG_TRUNC` (the datagram's
/// whole length is returned); a datagram cut short sets `MSG_TRUNC` in `msg_flags`.
/// `MSG_OOB` is EOPNOTSUPP.
fn recv_iov(task: &Task, s: &NetlinkSocket, vecs: &[Iovec], flags: u32) -> Result<Got, Errno> {
    if flags & MSG_OOB != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let nonblock = flags & MSG_DONTWAIT != 0 || s.nonblocking();
    let r = s.recv(total(vecs), flags & MSG_PEEK != 0, nonblock)?;
    scatter(task, vecs, 0, &r.data)?;
    let cut = r.full_len > r.data.len();
    Ok(Got {
        ret: if flags & MSG_TRUNC != 0 {
            r.full_len
        } else {
            r.data.len()
        } as u64,
        flags: if cut { MSG_TRUNC } else { 0 },
    })
}

/// `write(2)`, `writev(2)` of a netlink socket: one send without flags.
pub(super) fn write(task: &Task, s: &NetlinkSocket, vecs: &[Iovec]) -> Result<u64, Errno> {
    send_iov(task, s, vecs, None, 0)
}

/// `read(2)`, `readv(2)` of a netlink socket: one receive without flags; nothing is taken
/// for an empty buffer (Linux's `sock_read_iter` returns 0 first).
pub(super) fn read(task: &Task, s: &NetlinkSocket, vecs: &[Iovec]) -> Result<u64, Errno> {
    if total(vecs) == 0 {
        return Ok(0);
    }
    recv_iov(task, s, vecs, 0).map(|g| g.ret)
}

/// `sendto(2)`: an address given (even of length 0, which is EINVAL) must be the kernel's.
pub(super) fn sendto(task: &Task, s: &NetlinkSocket, a: [u64; 6]) -> Result<u64, Errno> {
    let to = if a[4] != 0 {
        Some(read_addr(task, a[4], u32_(a[5]) as i32)?)
    } else {
        None
    };
    let vecs = one_buffer(a[1], a[2]);
    send_iov(task, s, &vecs, to.as_deref(), u32_(a[3]))
}

/// `recvfrom(2)`: the sender is always the kernel (port 0).
pub(super) fn recvfrom(task: &Task, s: &NetlinkSocket, a: [u64; 6]) -> Result<u64, Errno> {
    let vecs = one_buffer(a[1], a[2]);
    let got = recv_iov(task, s, &vecs, u32_(a[3]))?;
    if a[4] != 0 {
        write_addr(task, a[4], a[5], &sockaddr(0, 0))?;
    }
    Ok(got.ret)
}

/// One `sendmsg` of the `msghdr` at `addr`.
pub(super) fn sendmsg(task: &Task, s: &NetlinkSocket, addr: u64, flags: u32) -> Result<u64, Errno> {
    let (m, vecs) = read_msghdr(task, addr)?;
    let to = if m.msg_namelen != 0 {
        let len = (m.msg_namelen as usize).min(SOCKADDR_STORAGE_SIZE);
        Some(read_addr(task, m.msg_name, len as i32)?)
    } else {
        None
    };
    send_iov(task, s, &vecs, to.as_deref(), flags)
}

/// One `recvmsg` into the `msghdr` at `addr`: the kernel's address, no control messages.
pub(super) fn recvmsg(task: &Task, s: &NetlinkSocket, addr: u64, flags: u32) -> Result<u64, Errno> {
    let (m, vecs) = read_msghdr(task, addr)?;
    let got = recv_iov(task, s, &vecs, flags)?;
    task.mm.write(addr.wrapping_add(40), &0u64.to_ne_bytes())?;
    task.mm
        .write(addr.wrapping_add(48), &got.flags.to_ne_bytes())?;
    if m.msg_name != 0 {
        write_addr(task, m.msg_name, addr.wrapping_add(8), &sockaddr(0, 0))?;
    }
    Ok(got.ret)
}
