//! Connections: `bind`'s name, `listen`, `connect` (a stream or seqpacket connection into a
//! listener's backlog; a datagram socket's default peer), `accept`.

use std::collections::VecDeque;
use std::sync::{Arc, Weak};

use snare_abi::socket::Ucred;
use snare_abi::Errno;

use super::addr::UnixAddr;
use super::names::NodeId;
use super::{Conn, UnixSocket};
use crate::net::wait_timed;

/// `net.core.somaxconn`: the longest backlog `listen` grants.
pub const SOMAXCONN: usize = 4096;

impl UnixSocket {
    /// Whether the socket has a name (EINVAL for a second `bind`).
    pub fn is_bound(&self) -> bool {
        self.lock().name.is_some()
    }

    /// Gives the socket its name (and, for a pathname, its node's identity).
    pub fn set_name(&self, name: UnixAddr, node: Option<NodeId>) {
        let mut st = self.lock();
        st.name = Some(name);
        st.node = node;
    }

    /// `listen(2)`: stream and seqpacket sockets only (EOPNOTSUPP), bound (EINVAL), not
    /// connected (EINVAL). A listener's `SO_PEERCRED` for its clients is `creds`.
    pub fn listen(&self, backlog: i32, creds: Ucred) -> Result<(), Errno> {
        if !self.ty.connection_based() {
            return Err(Errno::EOPNOTSUPP);
        }
        let max = (backlog as u32 as usize).min(SOMAXCONN);
        let mut st = self.lock();
        if st.name.is_none() {
            return Err(Errno::EINVAL);
        }
        match &mut st.conn {
            Conn::Unconnected => {
                st.conn = Conn::Listening {
                    backlog: VecDeque::new(),
                    max,
                };
                st.peercred = Some(creds);
            }
            Conn::Listening { max: m, .. } => *m = max,
            Conn::Connected => return Err(Errno::EINVAL),
        }
        drop(st);
        // A longer backlog may let waiting clients in.
        self.room.notify();
        Ok(())
    }

    /// `connect(2)` of a stream or seqpacket socket to `listener`: a new server end goes into
    /// its backlog (waiting while the backlog is full, EAGAIN if non-blocking) and this
    /// socket is connected to it at once. `creds` become the server end's `SO_PEERCRED`.
    pub fn connect(
        self: &Arc<Self>,
        listener: &Arc<UnixSocket>,
        creds: Ucred,
        nonblock: bool,
    ) -> Result<(), Errno> {
        if self.ty != listener.ty {
            return Err(Errno::EPROTOTYPE);
        }
        let me = self.clone();
        let t = self.timeout(false);
        wait_timed(t, nonblock, &[&self.wq, &listener.room], || {
            {
                let ls = listener.lock();
                match &ls.conn {
                    Conn::Listening { backlog, max } => {
                        if ls.shutdown & super::RCV_SHUTDOWN != 0 {
                            return Some(Err(Errno::ECONNREFUSED));
                        }
                        if backlog.len() > *max {
                            return None;
                        }
                    }
                    _ => return Some(Err(Errno::ECONNREFUSED)),
                }
            }
            Some(me.join(listener, creds))
        })
    }

    /// Makes the server end and connects the two (the backlog had room a moment ago: a
    /// backlog may run over by the clients that raced for its last place).
    fn join(self: &Arc<Self>, listener: &Arc<UnixSocket>, creds: Ucred) -> Result<(), Errno> {
        let (lname, lcred) = {
            let ls = listener.lock();
            (ls.name.clone(), ls.peercred)
        };
        let server = UnixSocket::new(self.ty, false, listener.uid, listener.gid);
        {
            let mut st = self.lock();
            match st.conn {
                Conn::Unconnected => {}
                Conn::Connected => return Err(Errno::EISCONN),
                Conn::Listening { .. } => return Err(Errno::EINVAL),
            }
            let mut ss = server.lock();
            ss.conn = Conn::Connected;
            ss.peer = Arc::downgrade(self);
            ss.peercred = Some(creds);
            ss.name.clone_from(&lname);
            ss.peer_name.clone_from(&st.name);
            ss.embryo = true;
            st.conn = Conn::Connected;
            st.peer = Arc::downgrade(&server);
            st.peer_name = lname;
            st.peercred = lcred;
        }
        {
            let mut ls = listener.lock();
            match &mut ls.conn {
                Conn::Listening { backlog, .. } => backlog.push_back(server),
                _ => {
                    // The listener closed meanwhile: undo.
                    drop(ls);
                    let mut st = self.lock();
                    st.conn = Conn::Unconnected;
                    st.peer = Weak::new();
                    st.peer_name = None;
                    st.peercred = None;
                    return Err(Errno::ECONNREFUSED);
                }
            }
        }
        listener.wq.notify();
        self.wq.notify();
        Ok(())
    }

    /// `connect(2)` of a datagram socket: `target` becomes its default peer (EPERM if the
    /// target is connected to another socket); `None` (AF_UNSPEC) disconnects.
    pub fn connect_dgram(&self, target: Option<&Arc<UnixSocket>>) -> Result<(), Errno> {
        let Some(t) = target else {
            let mut st = self.lock();
            st.conn = Conn::Unconnected;
            st.peer = Weak::new();
            st.peer_name = None;
            return Ok(());
        };
        let tname = {
            let ts = t.lock();
            if ts.peer.strong_count() > 0 && !ts.peer.ptr_eq(&self.me) {
                return Err(Errno::EPERM);
            }
            ts.name.clone()
        };
        let mut st = self.lock();
        st.conn = Conn::Connected;
        st.peer = Arc::downgrade(t);
        st.peer_name = tname;
        drop(st);
        self.wq.notify();
        Ok(())
    }

    /// `accept(2)`: the first connection in the backlog (EINVAL unless listening,
    /// EOPNOTSUPP for a datagram socket).
    pub fn accept(&self, nonblock: bool) -> Result<Arc<UnixSocket>, Errno> {
        if !self.ty.connection_based() {
            return Err(Errno::EOPNOTSUPP);
        }
        let s = wait_timed(self.timeout(true), nonblock, &[&self.wq], || {
            let mut st = self.lock();
            match &mut st.conn {
                Conn::Listening { backlog, .. } => backlog.pop_front().map(Ok),
                _ => Some(Err(Errno::EINVAL)),
            }
        })?;
        s.lock().embryo = false;
        self.room.notify();
        Ok(s)
    }
}
