//! AF_UNIX sockets, as Sentry objects.
//!
//! A [`UnixSocket`] is an open file description (one per `socket`/`socketpair` end or
//! accepted connection) holding its own receive queue ([`queue`]). A connected socket knows
//! its peer weakly: what one end sends goes straight into the other's queue and is charged to
//! the sender (`wmem`, bounded by its `SO_SNDBUF`) until read, so a writer blocks while its
//! bytes sit unread, as on Linux. A socket's last reference going is its close: the peer sees
//! end-of-file (and `ECONNRESET` if data was left unread), queued messages are dropped with the
//! files they carry. Files in flight that only reach each other are collected by [`gc`].
//! Names ([`addr`], [`names`]): pathnames are socket nodes in the VFS that hold the bound
//! socket weakly; abstract names live in one sandbox-wide table. Connections ([`conn`]):
//! `listen` keeps a backlog of server ends that `connect` makes and `accept` takes.
//!
//! One [`WaitQueue`] per socket tells of every change of its readiness (data in, room
//! made for its writes, the peer gone, a connection to accept), as Linux's single socket
//! wait queue; a second one (`room`) tells datagram senders that its queue shrank.
//!
//! Deviations from Linux: a datagram costs its sender its length plus a fixed 512 bytes
//! (Linux: the skb's true size); a stream write is cut to the room left in the sender's
//! buffer instead of skb-sized pieces; data that can't be copied to the guest after it was
//! taken from the queue (EFAULT) is lost.

pub mod addr;
mod conn;
pub mod gc;
mod io;
pub mod names;
mod queue;

use super::{Timeout, Timeouts};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use snare_abi::file::{o, Stat, FIONREAD};
use snare_abi::socket::{
    Ucred, SIOCOUTQ, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_STREAM, SO_ACCEPTCONN, SO_DOMAIN, SO_ERROR,
    SO_KEEPALIVE, SO_PASSCRED, SO_PEERCRED, SO_PROTOCOL, SO_RCVBUF, SO_RCVLOWAT, SO_REUSEADDR,
    SO_SNDBUF, SO_SNDLOWAT, SO_TYPE,
};
use snare_abi::Errno;

use crate::kernel::wait::WaitQueue;
use crate::mm::GuestMemory;
use crate::vfs::{poll, FileDescription};
use addr::UnixAddr;
use queue::{Message, Queue, Refunds};

pub use io::SendCtl;
pub use queue::Taken;

/// `net.core.wmem_default` and `rmem_default`: a new socket's buffer sizes.
pub const DEFAULT_BUF: usize = 212_992;
/// `net.core.wmem_max` and `rmem_max`: the most `SO_SNDBUF`/`SO_RCVBUF` grant (doubled).
pub const MAX_BUF: usize = 212_992;
/// `SOCK_MIN_SNDBUF` and `SOCK_MIN_RCVBUF`.
pub(crate) const MIN_SNDBUF: usize = 4608;
pub(crate) const MIN_RCVBUF: usize = 2304;
/// `net.unix.max_dgram_qlen`: datagrams queued for a socket from senders it isn't
/// connected to.
const MAX_DGRAM_QLEN: usize = 10;
/// `st_dev` of sockets: device 0:4003 (next to pipes' 0:4001).
pub const SOCKFS_DEV: u64 = 0x00f0_00a3;

/// `sk_shutdown` bits.
const RCV_SHUTDOWN: u8 = 1;
const SEND_SHUTDOWN: u8 = 2;
const SHUTDOWN_MASK: u8 = 3;

/// Every AF_UNIX socket of the sandbox by inode number (what `/proc/net/unix` lists).
static LIVE: Mutex<BTreeMap<u64, Weak<UnixSocket>>> = Mutex::new(BTreeMap::new());

fn live() -> MutexGuard<'static, BTreeMap<u64, Weak<UnixSocket>>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// What `/proc/net/unix` shows of one socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcEntry {
    pub ino: u64,
    /// `SOCK_STREAM`, `SOCK_DGRAM` or `SOCK_SEQPACKET`.
    pub ty: i32,
    pub listening: bool,
    /// `SS_UNCONNECTED` (1), `SS_CONNECTING` (2: a connection not yet accepted),
    /// `SS_CONNECTED` (3).
    pub state: u8,
    pub name: Option<UnixAddr>,
}

/// The sandbox's AF_UNIX sockets, by inode number.
pub fn proc_entries() -> Vec<ProcEntry> {
    let socks: Vec<Arc<UnixSocket>> = live().values().filter_map(Weak::upgrade).collect();
    socks
        .iter()
        .map(|s| {
            let st = s.lock();
            let state = match (&st.conn, st.embryo) {
                (Conn::Connected, true) => 2,
                (Conn::Connected, false) => 3,
                _ => 1,
            };
            ProcEntry {
                ino: s.ino,
                ty: s.ty.raw(),
                listening: matches!(st.conn, Conn::Listening { .. }),
                state,
                name: st.name.clone(),
            }
        })
        .collect()
}

/// The socket types AF_UNIX has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockType {
    Stream,
    Dgram,
    SeqPacket,
}

impl SockType {
    /// The type of `socket(2)`'s argument (flags removed, range checked); `SOCK_RAW` is a
    /// datagram socket, as on Linux; ESOCKTNOSUPPORT for the types AF_UNIX lacks.
    pub fn from_raw(t: u32) -> Result<SockType, Errno> {
        match t {
            SOCK_STREAM => Ok(SockType::Stream),
            SOCK_DGRAM | snare_abi::socket::SOCK_RAW => Ok(SockType::Dgram),
            SOCK_SEQPACKET => Ok(SockType::SeqPacket),
            _ => Err(Errno::ESOCKTNOSUPPORT),
        }
    }

    fn raw(self) -> i32 {
        match self {
            SockType::Stream => SOCK_STREAM as i32,
            SockType::Dgram => SOCK_DGRAM as i32,
            SockType::SeqPacket => SOCK_SEQPACKET as i32,
        }
    }

    /// Stream and seqpacket sockets have connections.
    fn connection_based(self) -> bool {
        self != SockType::Dgram
    }
}

/// Where a socket is in its life.
#[derive(Debug, Default)]
enum Conn {
    #[default]
    Unconnected,
    /// `listen` was called: connections made to it wait here for `accept`.
    Listening {
        backlog: std::collections::VecDeque<Arc<UnixSocket>>,
        max: usize,
    },
    /// Connected (stream, seqpacket; a datagram socket with a default peer).
    Connected,
}

/// What the socket's mutex protects.
#[derive(Debug)]
struct State {
    queue: Queue,
    conn: Conn,
    peer: Weak<UnixSocket>,
    /// `sk_shutdown`: `RCV_SHUTDOWN`, `SEND_SHUTDOWN`.
    shutdown: u8,
    /// `SO_ERROR`, taken when read.
    err: Option<Errno>,
    sndbuf: usize,
    rcvbuf: usize,
    passcred: bool,
    reuseaddr: bool,
    keepalive: bool,
    /// `SO_RCVTIMEO` and `SO_SNDTIMEO`.
    /// `SO_RCVTIMEO` and `SO_SNDTIMEO`.
    timeouts: Timeouts,
    name: Option<UnixAddr>,
    peer_name: Option<UnixAddr>,
    /// `SO_PEERCRED`: the peer's credentials when the connection was made.
    peercred: Option<Ucred>,
    /// The socket node a pathname bind made.
    node: Option<names::NodeId>,
    /// A server end still in a listener's backlog (its close resets the client).
    embryo: bool,
}

/// An AF_UNIX socket: an open file description.
#[derive(Debug)]
pub struct UnixSocket {
    ty: SockType,
    ino: u64,
    /// `O_NONBLOCK`.
    flags: AtomicU32,
    state: Mutex<State>,
    /// Notified when the socket's readiness may change.
    wq: WaitQueue,
    /// Notified when its queue shrinks (for datagram senders waiting on it).
    room: WaitQueue,
    /// Bytes (and per-message costs) of this socket's messages still queued somewhere.
    wmem: AtomicUsize,
    uid: u32,
    gid: u32,
    ctime: (i64, i64),
    me: Weak<UnixSocket>,
}

impl UnixSocket {
    /// A new unconnected socket of `ty` owned by `uid`/`gid`; `nonblock` is `SOCK_NONBLOCK`.
    pub fn new(ty: SockType, nonblock: bool, uid: u32, gid: u32) -> Arc<UnixSocket> {
        let s = Arc::new_cyclic(|me| UnixSocket {
            ty,
            ino: super::next_ino(),
            flags: AtomicU32::new(if nonblock { o::NONBLOCK } else { 0 }),
            state: Mutex::new(State {
                queue: Queue::default(),
                conn: Conn::Unconnected,
                peer: Weak::new(),
                shutdown: 0,
                err: None,
                sndbuf: DEFAULT_BUF,
                rcvbuf: DEFAULT_BUF,
                passcred: false,
                reuseaddr: false,
                keepalive: false,
                timeouts: Timeouts::default(),
                name: None,
                peer_name: None,
                peercred: None,
                node: None,
                embryo: false,
            }),
            wq: WaitQueue::new(),
            room: WaitQueue::new(),
            wmem: AtomicUsize::new(0),
            uid,
            gid,
            ctime: crate::vfs::pipe::now_ts(),
            me: me.clone(),
        });
        live().insert(s.ino, Arc::downgrade(&s));
        s
    }

    /// `socketpair(2)`: two sockets connected to each other, each with `creds` as its
    /// `SO_PEERCRED`.
    pub fn pair(
        ty: SockType,
        nonblock: bool,
        creds: Ucred,
        uid: u32,
        gid: u32,
    ) -> (Arc<UnixSocket>, Arc<UnixSocket>) {
        let a = UnixSocket::new(ty, nonblock, uid, gid);
        let b = UnixSocket::new(ty, nonblock, uid, gid);
        for (x, y) in [(&a, &b), (&b, &a)] {
            let mut st = x.lock();
            st.conn = Conn::Connected;
            st.peer = Arc::downgrade(y);
            st.peercred = Some(creds);
        }
        (a, b)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// This socket as an `Arc` (from a reference a downcast gave).
    pub fn arc(&self) -> Option<Arc<UnixSocket>> {
        self.me.upgrade()
    }

    pub fn sock_type(&self) -> SockType {
        self.ty
    }

    pub fn nonblocking(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & o::NONBLOCK != 0
    }

    /// Whether received messages carry the sender's credentials (`SO_PASSCRED`).
    pub fn passcred(&self) -> bool {
        self.lock().passcred
    }

    /// Whether the connected peer asked for credentials (`SO_PASSCRED`): messages to it
    /// carry the sender's.
    pub fn peer_passcred(&self) -> bool {
        let peer = self.lock().peer.upgrade();
        peer.is_some_and(|p| p.passcred())
    }

    /// The sockets in flight in this socket's queue (for [`gc`]).
    fn inflight_sockets(&self) -> Vec<Arc<UnixSocket>> {
        self.lock().queue.inflight_sockets()
    }

    /// Empties the queue (its files are garbage); the messages go back to be dropped after
    /// every lock is let go.
    fn purge(&self) -> Vec<Message> {
        let mut refunds = Refunds::new();
        let msgs = self.lock().queue.drain(&mut refunds);
        refund(refunds);
        self.room.notify();
        msgs
    }

    /// `shutdown(2)`: `how` is SHUT_RD (0), SHUT_WR (1) or SHUT_RDWR (2). A connected stream
    /// or seqpacket peer gets the mirror image (our SHUT_WR is its end-of-file).
    pub fn shutdown(&self, how: u32) -> Result<(), Errno> {
        if how > 2 {
            return Err(Errno::EINVAL);
        }
        let mode = ((how + 1) & 3) as u8;
        let peer = {
            let mut st = self.lock();
            st.shutdown |= mode;
            st.peer.upgrade()
        };
        self.wq.notify();
        if let Some(p) = peer.filter(|_| self.ty.connection_based()) {
            let mut pm = 0;
            if mode & RCV_SHUTDOWN != 0 {
                pm |= SEND_SHUTDOWN;
            }
            if mode & SEND_SHUTDOWN != 0 {
                pm |= RCV_SHUTDOWN;
            }
            p.lock().shutdown |= pm;
            p.wq.notify();
        }
        Ok(())
    }

    /// `getsockname`: the bound address, if any.
    pub fn name(&self) -> Option<UnixAddr> {
        self.lock().name.clone()
    }

    /// `getpeername`: ENOTCONN unless connected; the peer's address, if it has one.
    pub fn peer_name(&self) -> Result<Option<UnixAddr>, Errno> {
        let st = self.lock();
        match st.conn {
            Conn::Connected => Ok(st.peer_name.clone()),
            _ => Err(Errno::ENOTCONN),
        }
    }

    /// `getsockopt(SOL_SOCKET, opt)`: the option's bytes (ENOPROTOOPT for unknown ones).
    pub fn getsockopt(&self, opt: i32) -> Result<Vec<u8>, Errno> {
        let int = |v: i32| Ok(v.to_ne_bytes().to_vec());
        let mut st = self.lock();
        match opt {
            SO_TYPE => int(self.ty.raw()),
            SO_DOMAIN => int(snare_abi::socket::AF_UNIX as i32),
            SO_PROTOCOL => int(0),
            SO_ERROR => int(st.err.take().map_or(0, |e| e.raw())),
            SO_SNDBUF => int(st.sndbuf as i32),
            SO_RCVBUF => int(st.rcvbuf as i32),
            SO_PASSCRED => int(i32::from(st.passcred)),
            SO_REUSEADDR => int(i32::from(st.reuseaddr)),
            SO_KEEPALIVE => int(i32::from(st.keepalive)),
            SO_RCVLOWAT | SO_SNDLOWAT => int(1),
            SO_ACCEPTCONN => int(i32::from(matches!(st.conn, Conn::Listening { .. }))),
            SO_PEERCRED => {
                let c = st.peercred.unwrap_or(Ucred {
                    pid: 0,
                    uid: u32::MAX,
                    gid: u32::MAX,
                });
                Ok(snare_abi::pod::as_bytes(&c).to_vec())
            }
            _ => Err(Errno::ENOPROTOOPT),
        }
    }

    /// `SO_RCVTIMEO` (`rcv`) or `SO_SNDTIMEO`: how long its blocking calls wait.
    pub fn timeout(&self, rcv: bool) -> Timeout {
        self.lock().timeouts.get(rcv)
    }

    /// Sets `SO_RCVTIMEO` (`rcv`) or `SO_SNDTIMEO`.
    pub fn set_timeout(&self, rcv: bool, t: Timeout) {
        self.lock().timeouts.set(rcv, t);
    }

    /// `setsockopt(SOL_SOCKET, opt, val)` of an `int` option (the caller read it).
    pub fn setsockopt(&self, opt: i32, val: i32) -> Result<(), Errno> {
        let mut st = self.lock();
        match opt {
            SO_SNDBUF => {
                let v = (val as u32 as usize).min(MAX_BUF);
                st.sndbuf = (v * 2).max(MIN_SNDBUF);
            }
            SO_RCVBUF => {
                let v = (val as u32 as usize).min(MAX_BUF);
                st.rcvbuf = (v * 2).max(MIN_RCVBUF);
            }
            SO_PASSCRED => st.passcred = val != 0,
            SO_REUSEADDR => st.reuseaddr = val != 0,
            SO_KEEPALIVE => st.keepalive = val != 0,
            _ => return Err(Errno::ENOPROTOOPT),
        }
        drop(st);
        // A larger buffer may let a blocked writer go on.
        self.wq.notify();
        Ok(())
    }

    /// Whether `wmem` leaves the socket writable (Linux's `unix_writable`: a quarter of the
    /// buffer or less in use).
    fn writable(&self, st: &State) -> bool {
        !matches!(st.conn, Conn::Listening { .. })
            && self.wmem.load(Ordering::Relaxed) * 4 <= st.sndbuf
    }
}

/// Gives senders back what their messages cost, and wakes those whose writability may
/// have changed (a sender that was writable already has no one waiting for room: waking it
/// would only wake its own blocked reader for nothing).
fn refund(refunds: Refunds) {
    for (w, n) in refunds {
        if let Some(s) = w.upgrade() {
            let old = s.wmem.fetch_sub(n, Ordering::Relaxed);
            if old * 4 > s.lock().sndbuf {
                s.wq.notify();
            }
        }
    }
}

impl Drop for UnixSocket {
    fn drop(&mut self) {
        live().remove(&self.ino);
        let st = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        let mut refunds = Refunds::new();
        let unread = !st.queue.is_empty() || st.embryo;
        let msgs = st.queue.drain(&mut refunds);
        let conn = std::mem::take(&mut st.conn);
        let peer = st.peer.upgrade();
        let name = st.name.take();
        if let Some(p) = peer {
            if self.ty.connection_based() {
                let mut ps = p.lock();
                ps.shutdown = SHUTDOWN_MASK;
                if unread {
                    ps.err = Some(Errno::ECONNRESET);
                }
            }
            p.wq.notify();
            p.room.notify();
        }
        refund(refunds);
        if let Some(UnixAddr::Abstract(n)) = name {
            names::unbind_abstract(&n, self.ino);
        }
        if let Some(node) = st.node.take() {
            names::unbind_path(node, self.ino);
        }
        // Queued files and connections nobody accepted go last, with no lock held.
        drop(msgs);
        drop(conn);
    }
}

impl FileDescription for UnixSocket {
    fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        let t = self.recv(buf.len(), 0, self.nonblocking())?;
        buf[..t.data.len()].copy_from_slice(&t.data);
        Ok(t.data.len())
    }

    fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        let me = self.arc().ok_or(Errno::EBADF)?;
        let creds = Ucred {
            pid: 0,
            uid: self.uid,
            gid: self.gid,
        };
        me.send(data, &mut SendCtl::plain(creds), None, self.nonblocking())
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(super::socket_stat(self.ino, self.uid, self.gid, self.ctime))
    }

    /// `FIONREAD` (`SIOCINQ`): unread bytes (a datagram socket: the first message's);
    /// `SIOCOUTQ`: what this socket's messages still cost.
    fn ioctl(&self, cmd: u32, arg: u64, mem: &dyn GuestMemory) -> Result<u64, Errno> {
        let n = match cmd {
            FIONREAD => {
                let st = self.lock();
                if matches!(st.conn, Conn::Listening { .. }) {
                    return Err(Errno::EINVAL);
                }
                if self.ty == SockType::Dgram {
                    st.queue.first_len()
                } else {
                    st.queue.bytes()
                }
            }
            SIOCOUTQ => self.wmem.load(Ordering::Relaxed),
            _ if super::netlink::ifreq::is_interface_ioctl(cmd) => {
                return super::netlink::ifreq::ioctl(cmd, arg, mem, false);
            }
            _ => return Err(Errno::ENOTTY),
        };
        mem.write(arg, &(n.min(i32::MAX as usize) as i32).to_ne_bytes())?;
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

    /// Linux's `unix_poll` (stream) and `unix_dgram_poll` (datagram, seqpacket).
    fn poll(&self) -> u32 {
        let st = self.lock();
        let mut ev = 0;
        if st.err.is_some() {
            ev |= poll::ERR;
        }
        if st.shutdown == SHUTDOWN_MASK {
            ev |= poll::HUP;
        }
        if st.shutdown & RCV_SHUTDOWN != 0 {
            ev |= poll::RDHUP | poll::IN | poll::RDNORM;
        }
        let readable = match &st.conn {
            Conn::Listening { backlog, .. } => !backlog.is_empty(),
            _ => !st.queue.is_empty(),
        };
        if readable {
            ev |= poll::IN | poll::RDNORM;
        }
        if self.ty.connection_based() && matches!(st.conn, Conn::Unconnected) {
            ev |= poll::HUP;
        }
        let mut writable = self.writable(&st);
        let peer = st.peer.upgrade();
        drop(st);
        if writable && self.ty == SockType::Dgram {
            // A datagram peer's full queue (when it isn't connected back) blocks writes. Its
            // lock is taken after ours is let go (two sockets may poll each other).
            if let Some(p) = peer {
                let ps = p.lock();
                if !ps.peer.ptr_eq(&self.me) && ps.queue.len() > MAX_DGRAM_QLEN {
                    writable = false;
                }
            }
        }
        if writable {
            ev |= poll::OUT | poll::WRNORM | poll::WRBAND;
        }
        ev
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.wq)
    }
}

/// `file` as a unix socket, if it is one.
pub fn as_socket(file: &dyn FileDescription) -> Option<&UnixSocket> {
    file.as_any().downcast_ref::<UnixSocket>()
}

#[cfg(test)]
mod tests;
