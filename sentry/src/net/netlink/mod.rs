//! AF_NETLINK sockets of protocol NETLINK_ROUTE, as Sentry objects.
//!
//! A [`NetlinkSocket`] is an open file description with a port id (bound explicitly or by
//! autobind at the first send: the process's tgid first, as Linux, then numbers from -4096
//! down, unique in the sandbox) and a receive queue of datagrams. A send is handled at once,
//! message by message ([`route`]): answers go into the sender's own queue, and a dump is read
//! from the host a datagram at a time as the guest reads ([`route::Dump`]), the way Linux
//! fills the queue again after each `recvmsg` while it is at most half full. Datagrams are
//! packed as Linux packs a dump's: whole messages up to `NLMSG_GOODSIZE`, or up to the
//! largest `recvmsg` buffer the socket has seen (at most 32 KiB less overhead), so glibc's
//! page-sized buffer never sees `MSG_TRUNC`.
//!
//! Why the host kernel answers: the interfaces, addresses and routes a guest sees are those
//! of the sandbox's network namespace, which the host kernel owns; asking it gives every
//! attribute of Linux's own messages (`ip` prints them) without a second model of them.
//! What the host is asked is the Sentry's own request built from validated fields
//! ([`route`]), never the guest's bytes.
//!
//! Deviations from Linux: other protocols are EPROTONOSUPPORT (`ss` falls back to
//! `/proc/net` when NETLINK_SOCK_DIAG is refused); multicast groups (`nl_groups`,
//! `NETLINK_ADD_MEMBERSHIP`) are accepted and remembered but no notification is ever sent
//! (nothing in the sandbox changes its interfaces); sending to a port other than the
//! kernel's is EPERM (Linux lets `CAP_NET_ADMIN` do it); no control messages on receive
//! (`SO_PASSCRED`'s credentials, `NETLINK_PKTINFO`); a queued datagram costs its length
//! against `SO_RCVBUF` (Linux: its skb's true size). The interface ioctls every socket
//! answers (`SIOCGIF*`) are [`ifreq`]'s, answered from the same host dumps.

pub mod ifreq;
mod msg;
mod route;

use super::{Timeout, Timeouts};
use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use snare_abi::file::{o, Stat};
use snare_abi::netlink::{SockaddrNl, MAX_LINKS, NETLINK_ROUTE};
use snare_abi::socket::{AF_NETLINK, SOCK_DGRAM, SOCK_RAW};
use snare_abi::Errno;

use super::unix::{DEFAULT_BUF, MAX_BUF, MIN_RCVBUF, MIN_SNDBUF};
use crate::kernel::wait::WaitQueue;
use crate::mm::GuestMemory;
use crate::vfs::{poll, FileDescription};

/// `NLMSG_GOODSIZE`: the first datagram of a dump (a page less the skb's overhead).
const GOODSIZE: usize = 4096 - 320;
/// The most a dump datagram grows to with larger `recvmsg` buffers
/// (`SKB_WITH_OVERHEAD(32768)`).
const MAX_DATAGRAM: usize = 32768 - 320;
/// What Linux keeps free of a send buffer (`len > sk_sndbuf - 32`: EMSGSIZE).
const SNDBUF_SLACK: usize = 32;
/// NETLINK_ROUTE's multicast groups.
const NGROUPS: u32 = snare_abi::netlink::RTNLGRP_MAX;

/// The socket's `SOL_NETLINK` flags.
#[derive(Debug, Default, Clone, Copy)]
struct Flags {
    pktinfo: bool,
    broadcast_error: bool,
    no_enobufs: bool,
    cap_ack: bool,
    ext_ack: bool,
    strict_chk: bool,
}

/// What the socket's mutex protects.
#[derive(Debug)]
struct State {
    /// The port id; 0 until bound.
    port: u32,
    /// Multicast groups joined (bit N-1 is group N); nothing is ever delivered to them.
    groups: u64,
    queue: VecDeque<Vec<u8>>,
    /// Bytes in `queue`.
    queued: usize,
    /// The dump being read, if any.
    dump: Option<route::Dump>,
    /// A pending error (`ENOBUFS` after an answer was dropped), taken by the next receive.
    err: Option<Errno>,
    sndbuf: usize,
    rcvbuf: usize,
    /// The largest `recvmsg` buffer seen (sizes the next dump datagram).
    max_recvmsg_len: usize,
    passcred: bool,
    flags: Flags,
    /// `SO_RCVTIMEO` and `SO_SNDTIMEO` (sends never wait; kept to be read back).
    /// `SO_RCVTIMEO` and `SO_SNDTIMEO`.
    timeouts: Timeouts,
}

/// A NETLINK_ROUTE socket of the guest.
#[derive(Debug)]
pub struct NetlinkSocket {
    /// `SOCK_RAW` or `SOCK_DGRAM` (the same to netlink).
    ty: u32,
    ino: u64,
    /// `O_NONBLOCK`.
    flags: AtomicU32,
    state: Mutex<State>,
    wq: WaitQueue,
    uid: u32,
    gid: u32,
    ctime: (i64, i64),
}

/// The port ids bound in the sandbox (Linux keeps them per protocol and namespace).
static PORTS: Mutex<Option<HashSet<u32>>> = Mutex::new(None);
/// The next autobind port id after a process's tgid was taken.
static ROVER: AtomicU32 = AtomicU32::new(-4096i32 as u32);

fn ports() -> MutexGuard<'static, Option<HashSet<u32>>> {
    PORTS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Takes port id `port`: EADDRINUSE if another socket has it.
fn take_port(port: u32) -> Result<(), Errno> {
    if ports().get_or_insert_with(HashSet::new).insert(port) {
        Ok(())
    } else {
        Err(Errno::EADDRINUSE)
    }
}

/// Linux's `netlink_autobind`: the tgid if free, else the next free number from -4096 down.
fn autobind_port(tgid: i32) -> Result<u32, Errno> {
    if tgid > 0 && take_port(tgid as u32).is_ok() {
        return Ok(tgid as u32);
    }
    for _ in 0..1 << 20 {
        let p = ROVER.fetch_sub(1, Ordering::Relaxed);
        if (p as i32) > -4096 {
            ROVER.store(-4096i32 as u32, Ordering::Relaxed);
            continue;
        }
        if take_port(p).is_ok() {
            return Ok(p);
        }
    }
    Err(Errno::EADDRINUSE)
}

/// The socket type and protocol of an AF_NETLINK `socket(2)` (flags removed), as Linux's
/// `netlink_create` checks them: ESOCKTNOSUPPORT for types other than raw and datagram,
/// EPROTONOSUPPORT for protocols out of range and for every protocol but NETLINK_ROUTE.
pub fn decode(ty: u32, protocol: i32) -> Result<u32, Errno> {
    if ty != SOCK_RAW && ty != SOCK_DGRAM {
        return Err(Errno::ESOCKTNOSUPPORT);
    }
    if !(0..MAX_LINKS).contains(&protocol) {
        return Err(Errno::EPROTONOSUPPORT);
    }
    if protocol != NETLINK_ROUTE {
        tracing::info!(protocol, "netlink: only NETLINK_ROUTE is served");
        return Err(Errno::EPROTONOSUPPORT);
    }
    Ok(ty)
}

/// `sizeof(struct sockaddr_nl)` as bytes.
pub fn sockaddr(pid: u32, groups: u32) -> Vec<u8> {
    let a = SockaddrNl {
        nl_family: AF_NETLINK as u16,
        nl_pad: 0,
        nl_pid: pid,
        nl_groups: groups,
    };
    snare_abi::pod::as_bytes(&a).to_vec()
}

/// A guest's netlink address: EINVAL if shorter than `struct sockaddr_nl` or of another
/// family.
fn parse_addr(raw: &[u8]) -> Result<SockaddrNl, Errno> {
    let a: SockaddrNl = snare_abi::pod::from_bytes(raw).ok_or(Errno::EINVAL)?;
    if u32::from(a.nl_family) != AF_NETLINK {
        return Err(Errno::EINVAL);
    }
    Ok(a)
}

/// What one receive took.
#[derive(Debug)]
pub struct Received {
    /// The bytes for the guest (at most what it asked for).
    pub data: Vec<u8>,
    /// The datagram's whole length.
    pub full_len: usize,
}

impl NetlinkSocket {
    /// A new unbound socket of `ty` owned by `uid`/`gid`.
    pub fn new(ty: u32, nonblock: bool, uid: u32, gid: u32) -> Arc<NetlinkSocket> {
        Arc::new(NetlinkSocket {
            ty,
            ino: super::next_ino(),
            flags: AtomicU32::new(if nonblock { o::NONBLOCK } else { 0 }),
            state: Mutex::new(State {
                port: 0,
                groups: 0,
                queue: VecDeque::new(),
                queued: 0,
                dump: None,
                err: None,
                sndbuf: DEFAULT_BUF,
                rcvbuf: DEFAULT_BUF,
                max_recvmsg_len: 0,
                passcred: false,
                flags: Flags::default(),
                timeouts: Timeouts::default(),
            }),
            wq: WaitQueue::new(),
            uid,
            gid,
            ctime: crate::vfs::pipe::now_ts(),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn nonblocking(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & o::NONBLOCK != 0
    }

    pub fn sock_type(&self) -> u32 {
        self.ty
    }

    /// `bind(2)`: a port id (0: autobind with `tgid`) and the groups to join (accepted, never
    /// delivered). EINVAL for a bad address or a different port id than the bound one,
    /// EADDRINUSE for a taken one.
    pub fn bind(&self, raw: &[u8], tgid: i32) -> Result<(), Errno> {
        let a = parse_addr(raw)?;
        let mut st = self.state();
        if st.port != 0 && a.nl_pid != st.port {
            return Err(Errno::EINVAL);
        }
        if st.port == 0 {
            st.port = if a.nl_pid != 0 {
                take_port(a.nl_pid)?;
                a.nl_pid
            } else {
                autobind_port(tgid)?
            };
        }
        st.groups = u64::from(a.nl_groups);
        Ok(())
    }

    /// `connect(2)`: only the kernel (port 0, no groups) is a peer an unprivileged socket may
    /// have (EPERM otherwise; Linux lets `CAP_NET_ADMIN` pick any); `AF_UNSPEC` disconnects.
    /// Binds the socket if it isn't.
    pub fn connect(&self, raw: &[u8], tgid: i32) -> Result<(), Errno> {
        if raw.len() >= 2 && u16::from_ne_bytes([raw[0], raw[1]]) == 0 {
            return Ok(());
        }
        if raw.len() < std::mem::size_of::<SockaddrNl>() {
            return Err(Errno::EINVAL);
        }
        let a = parse_addr(raw)?;
        if a.nl_pid != 0 || a.nl_groups != 0 {
            return Err(Errno::EPERM);
        }
        self.ensure_bound(tgid).map(|_| ())
    }

    /// The port id, binding the socket first if it isn't.
    fn ensure_bound(&self, tgid: i32) -> Result<u32, Errno> {
        let mut st = self.state();
        if st.port == 0 {
            st.port = autobind_port(tgid)?;
        }
        Ok(st.port)
    }

    /// `getsockname(2)`: the port id (0 before a bind) and the first 32 groups.
    pub fn name(&self) -> Vec<u8> {
        let st = self.state();
        sockaddr(st.port, st.groups as u32)
    }

    /// The send-side checks of `sendmsg(2)` before the data is copied, as Linux's
    /// `netlink_sendmsg`: ENODATA for nothing, EINVAL for a bad address, EPERM for any
    /// destination but the kernel, autobind, EMSGSIZE past the send buffer.
    pub fn check_send(&self, len: usize, to: Option<&[u8]>, tgid: i32) -> Result<(), Errno> {
        if len == 0 {
            return Err(Errno::ENODATA);
        }
        if let Some(raw) = to {
            let a = parse_addr(raw)?;
            if a.nl_pid != 0 || a.nl_groups != 0 {
                return Err(Errno::EPERM);
            }
        }
        self.ensure_bound(tgid)?;
        if len > self.state().sndbuf.saturating_sub(SNDBUF_SLACK) {
            return Err(Errno::EMSGSIZE);
        }
        Ok(())
    }

    /// Handles the requests of one datagram (after [`NetlinkSocket::check_send`]) from a
    /// sender of real uid `uid`: the answers are queued for this socket. Returns the
    /// datagram's length.
    pub fn send(&self, data: &[u8], uid: u32) -> usize {
        let mut st = self.state();
        for req in msg::messages(data) {
            let cx = route::Ctx {
                port: st.port,
                cap_ack: st.flags.cap_ack,
                dumping: st.dump.is_some(),
                uid,
            };
            match route::handle(&req, cx) {
                route::Outcome::Reply(msgs) => {
                    for m in msgs {
                        st.push(m);
                    }
                }
                route::Outcome::Dump(d) => {
                    st.dump = Some(d);
                    // Linux builds a dump's first datagram in the sending call, unless the
                    // queue is full.
                    if st.queued < st.rcvbuf {
                        st.pump();
                    }
                }
            }
        }
        drop(st);
        self.wq.notify();
        data.len()
    }

    /// One receive of at most `len` bytes (`peek`: the datagram stays). EAGAIN when nothing
    /// is queued and `nonblock`; otherwise waits (ERESTARTSYS on a signal) until
    /// `SO_RCVTIMEO` ends (EAGAIN; a signal then is EINTR, as Linux's `sock_intr_errno`).
    pub fn recv(&self, len: usize, peek: bool, nonblock: bool) -> Result<Received, Errno> {
        let take = || {
            let mut st = self.state();
            if let Some(e) = st.err.take() {
                return Some(Err(e));
            }
            if st.queue.is_empty() && st.dump.is_some() {
                st.pump();
            }
            let dg = if peek {
                st.queue.front().cloned()
            } else {
                st.queue.pop_front()
            }?;
            if !peek {
                st.queued -= dg.len();
            }
            st.max_recvmsg_len = st.max_recvmsg_len.max(len).min(MAX_DATAGRAM);
            // Linux goes on with a dump after each receive while the queue is at most half
            // full.
            if st.dump.is_some() && st.queued <= st.rcvbuf / 2 {
                st.pump();
            }
            let full_len = dg.len();
            let mut data = dg;
            data.truncate(len);
            Some(Ok(Received { data, full_len }))
        };
        let timeo = self.state().timeouts.get(true);
        super::wait_timed(timeo, nonblock, &[&self.wq], take)
    }

    /// `SO_RCVTIMEO` (`rcv`) or `SO_SNDTIMEO`.
    pub fn timeout(&self, rcv: bool) -> Timeout {
        self.state().timeouts.get(rcv)
    }

    /// Sets `SO_RCVTIMEO` (`rcv`) or `SO_SNDTIMEO`.
    pub fn set_timeout(&self, rcv: bool, t: Timeout) {
        self.state().timeouts.set(rcv, t);
    }

    /// `getsockopt(2)` at `SOL_SOCKET`: the option's value (an `int`).
    pub fn getsockopt_socket(&self, opt: i32) -> Result<i32, Errno> {
        use snare_abi::socket::{
            SO_ACCEPTCONN, SO_DOMAIN, SO_ERROR, SO_PASSCRED, SO_PROTOCOL, SO_RCVBUF, SO_SNDBUF,
            SO_TYPE,
        };
        let mut st = self.state();
        Ok(match opt {
            SO_TYPE => self.ty as i32,
            SO_DOMAIN => AF_NETLINK as i32,
            SO_PROTOCOL => NETLINK_ROUTE,
            SO_RCVBUF => st.rcvbuf as i32,
            SO_SNDBUF => st.sndbuf as i32,
            SO_ERROR => st.err.take().map_or(0, Errno::raw),
            SO_PASSCRED => i32::from(st.passcred),
            SO_ACCEPTCONN => 0,
            _ => {
                tracing::warn!(opt, "netlink: getsockopt SOL_SOCKET option: ENOPROTOOPT");
                return Err(Errno::ENOPROTOOPT);
            }
        })
    }

    /// `setsockopt(2)` at `SOL_SOCKET` with an `int` value: the buffer sizes (doubled and
    /// bounded as Linux), `SO_PASSCRED`; the `*FORCE` sizes need `CAP_NET_ADMIN` (EPERM);
    /// options that change nothing netlink does are accepted.
    pub fn setsockopt_socket(&self, opt: i32, v: i32) -> Result<(), Errno> {
        use snare_abi::socket::{
            SO_KEEPALIVE, SO_PASSCRED, SO_PRIORITY, SO_RCVBUF, SO_RCVBUFFORCE, SO_REUSEADDR,
            SO_SNDBUF, SO_SNDBUFFORCE,
        };
        let size = |v: i32, min: usize| (v.max(0) as usize).min(MAX_BUF).saturating_mul(2).max(min);
        let mut st = self.state();
        match opt {
            SO_SNDBUF => st.sndbuf = size(v, MIN_SNDBUF),
            SO_RCVBUF => st.rcvbuf = size(v, MIN_RCVBUF),
            SO_SNDBUFFORCE | SO_RCVBUFFORCE => return Err(Errno::EPERM),
            SO_PASSCRED => st.passcred = v != 0,
            SO_REUSEADDR | SO_KEEPALIVE | SO_PRIORITY => {}
            _ => {
                tracing::warn!(opt, "netlink: setsockopt SOL_SOCKET option: ENOPROTOOPT");
                return Err(Errno::ENOPROTOOPT);
            }
        }
        drop(st);
        self.wq.notify();
        Ok(())
    }

    /// `setsockopt(2)` at `SOL_NETLINK`, as Linux's `netlink_setsockopt` (`v` is 0 when the
    /// value is shorter than an `int`): the flag options, group membership (EINVAL for a
    /// group out of range; joined, never delivered), `NETLINK_LISTEN_ALL_NSID` (needs
    /// `CAP_NET_BROADCAST`: EPERM), ENOPROTOOPT for others.
    pub fn setsockopt_netlink(&self, opt: i32, v: u32) -> Result<(), Errno> {
        use snare_abi::netlink::{
            NETLINK_ADD_MEMBERSHIP, NETLINK_BROADCAST_ERROR, NETLINK_CAP_ACK,
            NETLINK_DROP_MEMBERSHIP, NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK,
            NETLINK_LISTEN_ALL_NSID, NETLINK_NO_ENOBUFS, NETLINK_PKTINFO,
        };
        let mut st = self.state();
        let on = v != 0;
        let f = &mut st.flags;
        match opt {
            NETLINK_PKTINFO => f.pktinfo = on,
            NETLINK_BROADCAST_ERROR => f.broadcast_error = on,
            NETLINK_NO_ENOBUFS => f.no_enobufs = on,
            NETLINK_CAP_ACK => f.cap_ack = on,
            NETLINK_EXT_ACK => f.ext_ack = on,
            NETLINK_GET_STRICT_CHK => f.strict_chk = on,
            NETLINK_LISTEN_ALL_NSID => return Err(Errno::EPERM),
            NETLINK_ADD_MEMBERSHIP | NETLINK_DROP_MEMBERSHIP => {
                if v == 0 || v > NGROUPS {
                    return Err(Errno::EINVAL);
                }
                let bit = 1u64 << (v - 1);
                if opt == NETLINK_ADD_MEMBERSHIP {
                    st.groups |= bit;
                } else {
                    st.groups &= !bit;
                }
            }
            _ => {
                tracing::warn!(opt, "netlink: setsockopt SOL_NETLINK option: ENOPROTOOPT");
                return Err(Errno::ENOPROTOOPT);
            }
        }
        Ok(())
    }

    /// `getsockopt(2)` at `SOL_NETLINK` with room for `len` bytes: the value's bytes (as
    /// many as Linux writes). EINVAL for less than an `int` (for
    /// `NETLINK_LIST_MEMBERSHIPS`: the group words that fit, and the length they need).
    pub fn getsockopt_netlink(&self, opt: i32, len: usize) -> Result<(Vec<u8>, usize), Errno> {
        use snare_abi::netlink::{
            NETLINK_BROADCAST_ERROR, NETLINK_CAP_ACK, NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK,
            NETLINK_LISTEN_ALL_NSID, NETLINK_LIST_MEMBERSHIPS, NETLINK_NO_ENOBUFS, NETLINK_PKTINFO,
        };
        let st = self.state();
        let f = st.flags;
        let flag = match opt {
            NETLINK_PKTINFO => f.pktinfo,
            NETLINK_BROADCAST_ERROR => f.broadcast_error,
            NETLINK_NO_ENOBUFS => f.no_enobufs,
            NETLINK_LISTEN_ALL_NSID => false,
            NETLINK_CAP_ACK => f.cap_ack,
            NETLINK_EXT_ACK => f.ext_ack,
            NETLINK_GET_STRICT_CHK => f.strict_chk,
            NETLINK_LIST_MEMBERSHIPS => {
                let need = (NGROUPS as usize).div_ceil(32) * 4;
                let words = st.groups.to_ne_bytes();
                let n = (len / 4 * 4).min(need);
                return Ok((words[..n].to_vec(), need));
            }
            _ => return Err(Errno::ENOPROTOOPT),
        };
        if len < 4 {
            return Err(Errno::EINVAL);
        }
        Ok((i32::from(flag).to_ne_bytes().to_vec(), 4))
    }
}

impl State {
    /// Queues an answer, or drops it and remembers ENOBUFS when the receive buffer is full
    /// (as Linux's `netlink_overrun`, unless `NETLINK_NO_ENOBUFS`).
    fn push(&mut self, m: Vec<u8>) {
        if self.queued >= self.rcvbuf {
            tracing::debug!("netlink: receive queue full, answer dropped");
            if !self.flags.no_enobufs {
                self.err = Some(Errno::ENOBUFS);
            }
            return;
        }
        self.queued += m.len();
        self.queue.push_back(m);
    }

    /// Queues the dump's next datagram (sized as Linux sizes it); forgets a finished dump.
    fn pump(&mut self) {
        let limit = GOODSIZE.max(self.max_recvmsg_len);
        let next = self.dump.as_mut().and_then(|d| d.next_datagram(limit));
        if let Some(dg) = next {
            self.queued += dg.len();
            self.queue.push_back(dg);
        }
        if self.dump.as_ref().is_none_or(route::Dump::finished) {
            self.dump = None;
        }
    }
}

impl Drop for NetlinkSocket {
    fn drop(&mut self) {
        let port = self.state().port;
        if port != 0 {
            if let Some(p) = ports().as_mut() {
                p.remove(&port);
            }
        }
    }
}

impl FileDescription for NetlinkSocket {
    fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        let r = self.recv(buf.len(), false, self.nonblocking())?;
        buf[..r.data.len()].copy_from_slice(&r.data);
        Ok(r.data.len())
    }

    /// Writes come through `syscalls/socket_netlink.rs`, which knows the caller; this is
    /// for other paths (splice): a send from the socket's owner.
    fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        self.check_send(data.len(), None, 0)?;
        Ok(self.send(data, self.uid))
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(super::socket_stat(self.ino, self.uid, self.gid, self.ctime))
    }

    /// The interface ioctls ([`ifreq`]); nothing else.
    fn ioctl(&self, cmd: u32, arg: u64, mem: &dyn GuestMemory) -> Result<u64, Errno> {
        if ifreq::is_interface_ioctl(cmd) {
            return ifreq::ioctl(cmd, arg, mem, false);
        }
        tracing::debug!(cmd, "netlink: ioctl: ENOTTY");
        Err(Errno::ENOTTY)
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

    /// Readable with a datagram queued, a dump still to read, or an error; always writable.
    fn poll(&self) -> u32 {
        let st = self.state();
        let mut r = poll::OUT | poll::WRNORM;
        if !st.queue.is_empty() || st.dump.is_some() {
            r |= poll::IN | poll::RDNORM;
        }
        if st.err.is_some() {
            r |= poll::ERR;
        }
        r
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.wq)
    }
}

/// `file` as a netlink socket, if it is one.
pub fn as_netlink(file: &dyn FileDescription) -> Option<&NetlinkSocket> {
    file.as_any().downcast_ref::<NetlinkSocket>()
}

#[cfg(test)]
mod tests;
