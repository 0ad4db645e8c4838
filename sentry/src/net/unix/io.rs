//! Sending and receiving: the blocking loops around the queues.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use snare_abi::socket::{Ucred, MSG_PEEK};
use snare_abi::Errno;

use super::gc::Rights;
use super::queue::{Message, Refunds, Taken, MSG_OVERHEAD};
use super::{refund, Conn, SockType, UnixSocket, MAX_DGRAM_QLEN, RCV_SHUTDOWN, SEND_SHUTDOWN};
use crate::net::wait_timed;

/// What goes with the data of one send: files (`SCM_RIGHTS`, sent with the first bytes) and
/// the credentials the message carries (the sender's own, or what it gave and was allowed).
#[derive(Debug)]
pub struct SendCtl {
    pub rights: Option<Rights>,
    pub creds: Ucred,
}

impl SendCtl {
    /// No files; the sender's credentials.
    pub fn plain(creds: Ucred) -> SendCtl {
        SendCtl {
            rights: None,
            creds,
        }
    }
}

impl UnixSocket {
    /// Sends `data`: a stream takes all of it (unless non-blocking or interrupted, which
    /// return the count sent, or the error if none); a datagram or seqpacket goes whole, to
    /// `to` (a datagram socket's `sendto` address, resolved by the caller) or the peer.
    pub fn send(
        self: &Arc<Self>,
        data: &[u8],
        ctl: &mut SendCtl,
        to: Option<Arc<UnixSocket>>,
        nonblock: bool,
    ) -> Result<usize, Errno> {
        self.send_owned(data.to_vec(), ctl, to, nonblock)
    }

    /// [`UnixSocket::send`] of bytes the caller gives up: they become the message itself
    /// when they go in whole (no copy).
    pub fn send_owned(
        self: &Arc<Self>,
        data: Vec<u8>,
        ctl: &mut SendCtl,
        to: Option<Arc<UnixSocket>>,
        nonblock: bool,
    ) -> Result<usize, Errno> {
        match self.ty {
            SockType::Stream => self.send_stream(data, ctl, nonblock),
            _ => self.send_packet(data, ctl, to, nonblock),
        }
    }

    fn send_stream(
        &self,
        data: Vec<u8>,
        ctl: &mut SendCtl,
        nonblock: bool,
    ) -> Result<usize, Errno> {
        let peer = {
            let st = self.lock();
            if !matches!(st.conn, Conn::Connected) {
                return Err(Errno::ENOTCONN);
            }
            if st.shutdown & SEND_SHUTDOWN != 0 {
                return Err(Errno::EPIPE);
            }
            st.peer.clone()
        };
        let len = data.len();
        // The bytes, owned while none has gone yet.
        let mut whole = Some(data);
        let mut copy = Vec::new();
        let mut done = 0;
        while done < len {
            let r = wait_timed(self.timeout(false), nonblock, &[&self.wq], || {
                let bytes = whole.as_deref().unwrap_or(&copy[done..]);
                let n = self.room_for(bytes.len())?;
                let chunk = if n == bytes.len() && done == 0 {
                    whole.take().unwrap_or_default()
                } else {
                    bytes[..n].to_vec()
                };
                Some(self.try_stream(&peer, chunk, ctl))
            });
            if done == 0 && r.as_ref().is_ok_and(|&n| n < len) {
                // Part went: keep the rest to send from.
                copy = whole.take().unwrap_or_default();
            }
            match r {
                Ok(n) => done += n,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(done)
    }

    /// How much of `want` bytes the send buffer has room for now (`None`: none).
    fn room_for(&self, want: usize) -> Option<usize> {
        let sndbuf = self.lock().sndbuf;
        let used = self.wmem.load(Ordering::Relaxed);
        (used < sndbuf).then(|| want.min(sndbuf - used))
    }

    /// Puts `chunk` (which the send buffer has room for) into the peer's queue.
    fn try_stream(
        &self,
        peer: &Weak<UnixSocket>,
        chunk: Vec<u8>,
        ctl: &mut SendCtl,
    ) -> Result<usize, Errno> {
        let name = {
            let st = self.lock();
            if st.shutdown & SEND_SHUTDOWN != 0 {
                return Err(Errno::EPIPE);
            }
            st.name.clone()
        };
        let Some(p) = peer.upgrade() else {
            return Err(Errno::EPIPE);
        };
        let n = chunk.len();
        {
            let mut ps = p.lock();
            if ps.shutdown & RCV_SHUTDOWN != 0 {
                return Err(Errno::EPIPE);
            }
            ps.queue.push(
                Message {
                    data: chunk,
                    off: 0,
                    rights: ctl.rights.take(),
                    creds: ctl.creds,
                    from: name,
                    sender: self.me.clone(),
                    charge: n,
                },
                true,
            );
        }
        self.wmem.fetch_add(n, Ordering::Relaxed);
        p.wq.notify();
        Ok(n)
    }

    fn send_packet(
        &self,
        data: Vec<u8>,
        ctl: &mut SendCtl,
        to: Option<Arc<UnixSocket>>,
        nonblock: bool,
    ) -> Result<usize, Errno> {
        let (target, sndbuf, name) = {
            let mut st = self.lock();
            let target = match to {
                Some(t) if self.ty == SockType::Dgram => t,
                _ => {
                    if !matches!(st.conn, Conn::Connected) {
                        return Err(Errno::ENOTCONN);
                    }
                    match st.peer.upgrade() {
                        Some(p) => p,
                        None if self.ty == SockType::SeqPacket => return Err(Errno::EPIPE),
                        None => {
                            // The default peer is gone: disconnected, ECONNREFUSED once.
                            st.conn = Conn::Unconnected;
                            st.peer = Weak::new();
                            st.peer_name = None;
                            return Err(Errno::ECONNREFUSED);
                        }
                    }
                }
            };
            (target, st.sndbuf, st.name.clone())
        };
        if data.len() + 32 > sndbuf {
            return Err(Errno::EMSGSIZE);
        }
        let len = data.len();
        let charge = len + MSG_OVERHEAD;
        let mut data = Some(data);
        let t = self.timeout(false);
        wait_timed(t, nonblock, &[&self.wq, &target.room], || {
            {
                let mut st = self.lock();
                if let Some(e) = st.err.take() {
                    return Some(Err(e));
                }
                if st.shutdown & SEND_SHUTDOWN != 0 {
                    return Some(Err(Errno::EPIPE));
                }
            }
            if self.wmem.load(Ordering::Relaxed) >= sndbuf {
                return None;
            }
            {
                let mut ts = target.lock();
                let ours = ts.peer.ptr_eq(&self.me);
                if self.ty == SockType::Dgram && !ours && ts.peer.strong_count() > 0 {
                    // Connected to someone else: it takes nothing from us.
                    return Some(Err(Errno::EPERM));
                }
                if ts.shutdown & RCV_SHUTDOWN != 0 {
                    return Some(Err(Errno::EPIPE));
                }
                if !ours && ts.queue.len() > MAX_DGRAM_QLEN {
                    return None;
                }
                ts.queue.push(
                    Message {
                        data: data.take().unwrap_or_default(),
                        off: 0,
                        rights: ctl.rights.take(),
                        creds: ctl.creds,
                        from: name.clone(),
                        sender: self.me.clone(),
                        charge,
                    },
                    false,
                );
            }
            self.wmem.fetch_add(charge, Ordering::Relaxed);
            target.wq.notify();
            Some(Ok(len))
        })
    }

    /// Receives up to `max` bytes (`MSG_PEEK` in `flags`): what a stream has (0 bytes at
    /// end-of-file), or one datagram cut to `max` (its full length in `full_len`).
    /// `MSG_WAITALL` is the caller's loop, which copies each part out before the next.
    pub fn recv(&self, max: usize, flags: u32, nonblock: bool) -> Result<Taken, Errno> {
        let peek = flags & MSG_PEEK != 0;
        if self.ty != SockType::Stream {
            return self.recv_packet(max, peek, nonblock);
        }
        if !matches!(self.lock().conn, Conn::Connected) {
            return Err(Errno::EINVAL);
        }
        wait_timed(self.timeout(true), nonblock, &[&self.wq], || {
            let mut st = self.lock();
            if !st.queue.is_empty() {
                let mut refunds = Refunds::new();
                let barrier = st.passcred;
                let t = st.queue.take_stream(max, peek, barrier, &mut refunds);
                drop(st);
                refund(refunds);
                if !peek {
                    self.room.notify();
                }
                return Some(Ok(t));
            }
            if let Some(e) = st.err.take() {
                return Some(Err(e));
            }
            if st.shutdown & RCV_SHUTDOWN != 0 {
                return Some(Ok(Taken::default()));
            }
            None
        })
    }

    fn recv_packet(&self, max: usize, peek: bool, nonblock: bool) -> Result<Taken, Errno> {
        if self.ty == SockType::SeqPacket && !matches!(self.lock().conn, Conn::Connected) {
            return Err(Errno::ENOTCONN);
        }
        wait_timed(self.timeout(true), nonblock, &[&self.wq], || {
            let mut st = self.lock();
            if let Some(e) = st.err.take() {
                return Some(Err(e));
            }
            if !st.queue.is_empty() {
                let mut refunds = Refunds::new();
                let t = st.queue.take_message(max, peek, &mut refunds);
                drop(st);
                refund(refunds);
                if !peek {
                    self.room.notify();
                }
                return Some(Ok(t));
            }
            if st.shutdown & RCV_SHUTDOWN != 0 {
                // Linux gives a non-blocking datagram socket EAGAIN here, seqpacket EOF.
                if nonblock && self.ty == SockType::Dgram {
                    return Some(Err(Errno::EAGAIN));
                }
                return Some(Ok(Taken::default()));
            }
            None
        })
    }
}
