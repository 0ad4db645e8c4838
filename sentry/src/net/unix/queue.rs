//! A socket's receive queue: messages with their data, the files they carry (`SCM_RIGHTS`),
//! the sender's credentials and address, and what each costs its sender.
//!
//! A stream socket's queue is read as bytes across messages (a read stops after a message
//! that carries files, and never joins messages of different senders' credentials when the
//! reader asked for them); a datagram or seqpacket socket's queue is read a message at a time.
//! Taking data out gives back the sender's charge ([`super::UnixSocket`]'s `wmem`): the
//! caller notifies the senders returned, after letting go of the queue's lock.

use std::collections::VecDeque;
use std::sync::{Arc, Weak};

use snare_abi::socket::Ucred;

use super::addr::UnixAddr;
use super::gc::Rights;
use super::UnixSocket;

/// Stream writes up to this long join the message before them.
const JOIN_MAX: usize = 4096;

/// What one datagram costs its sender besides its bytes (Linux charges an skb's truesize).
pub(super) const MSG_OVERHEAD: usize = 512;

/// One message (for a stream socket: one or more writes, joined while nothing tells them
/// apart).
#[derive(Debug)]
pub(super) struct Message {
    pub data: Vec<u8>,
    /// Bytes of `data` already read (stream).
    pub off: usize,
    pub rights: Option<Rights>,
    pub creds: Ucred,
    pub from: Option<UnixAddr>,
    pub sender: Weak<UnixSocket>,
    /// What is still charged to the sender for this message.
    pub charge: usize,
}

impl Message {
    fn unread(&self) -> &[u8] {
        &self.data[self.off..]
    }
}

/// What a read took: the bytes, the message's full length (datagrams), the files and
/// credentials that came with it, and who sent it.
#[derive(Debug, Default)]
pub struct Taken {
    pub data: Vec<u8>,
    /// The length of the message read (datagrams and seqpackets; larger than `data` when the
    /// message was cut).
    pub full_len: usize,
    pub rights: Option<Rights>,
    pub creds: Option<Ucred>,
    pub from: Option<UnixAddr>,
}

/// The queue; the socket's mutex protects it.
#[derive(Debug, Default)]
pub(super) struct Queue {
    msgs: VecDeque<Message>,
    /// Unread bytes in all messages.
    bytes: usize,
}

/// Senders whose charge went down (to be notified).
pub(super) type Refunds = Vec<(Weak<UnixSocket>, usize)>;

impl Queue {
    pub fn is_empty(&self) -> bool {
        self.msgs.is_empty()
    }

    pub fn len(&self) -> usize {
        self.msgs.len()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The length of the first message (FIONREAD of a datagram socket).
    pub fn first_len(&self) -> usize {
        self.msgs.front().map_or(0, |m| m.unread().len())
    }

    /// Appends a message. A stream write without files joins the last message when that one
    /// has none either and the same sender and credentials.
    pub fn push(&mut self, m: Message, stream: bool) {
        self.bytes += m.data.len();
        // Small writes join (1-byte writes would cost a message each); large ones stay
        // whole, so their bytes are never copied again.
        if stream && m.rights.is_none() && m.data.len() <= JOIN_MAX {
            if let Some(last) = self.msgs.back_mut() {
                if last.rights.is_none()
                    && last.creds == m.creds
                    && last.sender.ptr_eq(&m.sender)
                    && last.off == 0
                {
                    last.data.extend_from_slice(&m.data);
                    last.charge += m.charge;
                    return;
                }
            }
        }
        self.msgs.push_back(m);
    }

    /// Takes (or with `peek` copies) up to `max` bytes as a stream. Stops after a message
    /// with files, and before one whose credentials differ when `creds_barrier`.
    pub fn take_stream(
        &mut self,
        max: usize,
        peek: bool,
        creds_barrier: bool,
        refunds: &mut Refunds,
    ) -> Taken {
        let mut t = Taken::default();
        let mut i = 0;
        while t.data.len() < max {
            let Some(m) = self.msgs.get_mut(i) else { break };
            if let Some(c) = t.creds {
                if creds_barrier && c != m.creds {
                    break;
                }
            } else {
                t.creds = Some(m.creds);
                t.from.clone_from(&m.from);
            }
            let n = (max - t.data.len()).min(m.unread().len());
            if !peek && t.data.is_empty() && m.off == 0 && n == m.data.len() {
                // A whole message: its bytes move instead of being copied.
                t.data = std::mem::take(&mut m.data);
            } else {
                t.data.extend_from_slice(&m.unread()[..n]);
                if !peek {
                    m.off += n;
                }
            }
            let carried = m.rights.is_some();
            if peek {
                if let Some(r) = &m.rights {
                    t.rights = Some(r.clone_refs());
                }
                i += 1;
            } else {
                self.bytes -= n;
                let refund = n.min(m.charge);
                m.charge -= refund;
                refunds.push((m.sender.clone(), refund));
                t.rights = m.rights.take().or(t.rights.take());
                if m.unread().is_empty() {
                    if let Some(m) = self.msgs.pop_front() {
                        if m.charge > 0 {
                            refunds.push((m.sender.clone(), m.charge));
                        }
                    }
                } else {
                    // The reader wants no more (max reached).
                    break;
                }
            }
            if carried {
                break;
            }
        }
        t.full_len = t.data.len();
        t
    }

    /// Takes (or with `peek` copies) the first message, cut to `max` bytes.
    pub fn take_message(&mut self, max: usize, peek: bool, refunds: &mut Refunds) -> Taken {
        let Some(m) = self.msgs.front() else {
            return Taken::default();
        };
        let n = max.min(m.data.len());
        let mut t = Taken {
            data: Vec::new(),
            full_len: m.data.len(),
            rights: None,
            creds: Some(m.creds),
            from: m.from.clone(),
        };
        if peek {
            t.data = m.data[..n].to_vec();
            t.rights = m.rights.as_ref().map(Rights::clone_refs);
        } else if let Some(mut m) = self.msgs.pop_front() {
            self.bytes -= m.data.len();
            m.data.truncate(n);
            t.data = std::mem::take(&mut m.data);
            t.rights = m.rights.take();
            refunds.push((m.sender.clone(), m.charge));
        }
        t
    }

    /// Empties the queue (the socket closed, or its files are garbage): the messages go
    /// back for the caller to drop after letting go of the lock.
    pub fn drain(&mut self, refunds: &mut Refunds) -> Vec<Message> {
        self.bytes = 0;
        let out: Vec<Message> = self.msgs.drain(..).collect();
        for m in &out {
            refunds.push((m.sender.clone(), m.charge));
        }
        out
    }

    /// The sockets among the files in flight in this queue (for the garbage collector).
    pub fn inflight_sockets(&self) -> Vec<Arc<UnixSocket>> {
        self.msgs
            .iter()
            .filter_map(|m| m.rights.as_ref())
            .flat_map(Rights::sockets)
            .collect()
    }
}
