//! NETLINK_ROUTE requests: what Linux's `netlink_rcv_skb` and `rtnetlink_rcv_msg` decide
//! for each message of a guest's datagram, and the answers, which come from the host kernel.
//!
//! For a GET request the Sentry builds a request of its own — the type, `NLM_F_REQUEST`
//! (and `NLM_F_DUMP` for a dump), the fixed header of the type (`ifinfomsg`, `ifaddrmsg`,
//! `rtmsg`: plain integers copied from the guest's, zero-padded when it sent less), and only
//! the attributes listed in [`forwarded`], each within its length bound — sends it on a host
//! NETLINK_ROUTE socket of the sandbox's network namespace, and copies the host's answers
//! (host-built, so every attribute `ip` expects is there) into the guest socket's queue with
//! the guest's port id and sequence number. The guest's own bytes never reach the host
//! as a message. A dump is read from the host lazily ([`Dump`]): one guest datagram's worth
//! at a time, so a huge table costs no more Sentry memory than a datagram.
//!
//! Other messages, as Linux answers an unprivileged caller: no `NLM_F_REQUEST`, or a
//! control type: nothing (an acknowledgement if `NLM_F_ACK`); a type past `RTM_MAX`:
//! EOPNOTSUPP; a payload without a family byte: ignored; NEW, DEL and SET types: EPERM (the
//! Sentry has no `CAP_NET_ADMIN` to give: the sandbox's interfaces can't be changed from
//! inside); a second dump while one is being read: EBUSY.
//!
//! Deviations from Linux: a GET dump of a type other than links, addresses and routes
//! (neighbours, rules, netconf, …) is forwarded with the family and a zeroed header only;
//! a non-dump GET of such a type is EOPNOTSUPP; `NETLINK_GET_STRICT_CHK` is accepted but the
//! host is asked without it (dumps are never filtered by the kernel, headers aren't
//! checked); an attribute longer than its bound makes the request EINVAL; no extended-ack
//! attributes.

use std::collections::VecDeque;

use snare_abi::netlink::{
    nlmsg_align, Nlmsghdr, IFADDRMSG_LEN, IFA_ADDRESS, IFA_LOCAL, IFINFOMSG_LEN, IFLA_ALT_IFNAME,
    IFLA_EXT_MASK, IFLA_IFNAME, NLMSG_DONE, NLMSG_ERROR, NLMSG_MIN_TYPE, NLM_F_ACK, NLM_F_DUMP,
    NLM_F_REQUEST, RTA_DPORT, RTA_DST, RTA_IIF, RTA_IP_PROTO, RTA_MARK, RTA_OIF, RTA_SPORT,
    RTA_SRC, RTA_TABLE, RTA_UID, RTGENMSG_LEN, RTMSG_LEN, RTM_BASE, RTM_GETADDR, RTM_GETLINK,
    RTM_GETROUTE, RTM_MAX,
};
use snare_abi::Errno;
use snare_platform::net::RouteSocket;

use super::msg::{self, Msg};
use crate::vfs::host_fds::HostFdGuard;

/// The sequence number of the Sentry's own requests to the host (one request per host
/// socket, so any fixed number does).
const HOST_SEQ: u32 = 1;
/// How long the Sentry waits for the host kernel's next answer (it comes at once; this only
/// bounds a host that doesn't answer).
const HOST_WAIT_MS: i32 = 1000;

/// What one message of a request datagram leads to.
#[derive(Debug)]
pub(super) enum Outcome {
    /// Messages for the guest's queue, in order (possibly none).
    Reply(Vec<Vec<u8>>),
    /// A dump was started (no acknowledgement follows one, as Linux).
    Dump(Dump),
}

/// The socket's settings a request's answer depends on.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ctx {
    /// The guest socket's port id.
    pub port: u32,
    /// `NETLINK_CAP_ACK`.
    pub cap_ack: bool,
    /// A dump is still being read.
    pub dumping: bool,
    /// The sender's real uid: a route lookup is made for it (the host would take the
    /// Sentry's own).
    pub uid: u32,
}

/// The fixed header of a GET type and the attributes passed on, with the most bytes each
/// may hold.
fn forwarded(ty: u16) -> Option<(usize, &'static [(u16, usize)])> {
    match ty {
        RTM_GETLINK => Some((
            IFINFOMSG_LEN,
            &[
                (IFLA_IFNAME, 128),
                (IFLA_ALT_IFNAME, 128),
                (IFLA_EXT_MASK, 4),
            ],
        )),
        RTM_GETADDR => Some((IFADDRMSG_LEN, &[(IFA_ADDRESS, 16), (IFA_LOCAL, 16)])),
        RTM_GETROUTE => Some((
            RTMSG_LEN,
            &[
                (RTA_DST, 16),
                (RTA_SRC, 16),
                (RTA_IIF, 4),
                (RTA_OIF, 4),
                (RTA_TABLE, 4),
                (RTA_MARK, 4),
                (RTA_UID, 4),
                (RTA_IP_PROTO, 1),
                (RTA_SPORT, 2),
                (RTA_DPORT, 2),
            ],
        )),
        _ => None,
    }
}

/// The host request the Sentry sends for the guest's GET `req`: its own header, the
/// type's fixed header copied (zero-padded), the listed attributes. EINVAL for an attribute
/// past its bound. A route lookup without `RTA_UID` or `RTA_IIF` gets the sender's `uid`
/// (Linux takes the caller's).
pub(super) fn host_request(req: &Msg<'_>, dump: bool, uid: u32) -> Result<Vec<u8>, Errno> {
    let ty = req.hdr.nlmsg_type;
    let (hlen, allowed) = forwarded(ty).unwrap_or((16, &[]));
    let mut payload = vec![0u8; hlen];
    if forwarded(ty).is_some() {
        let n = req.payload.len().min(hlen);
        payload[..n].copy_from_slice(&req.payload[..n]);
    } else {
        payload[0] = req.payload.first().copied().unwrap_or(0);
    }
    let mut given = Vec::new();
    if req.payload.len() >= hlen {
        let at = nlmsg_align(hlen).min(req.payload.len());
        for (t, data) in msg::attrs(&req.payload[at..]) {
            if let Some(&(_, max)) = allowed.iter().find(|(a, _)| *a == t) {
                if data.len() > max {
                    return Err(Errno::EINVAL);
                }
                msg::put_attr(&mut payload, t, data);
                given.push(t);
            }
        }
    }
    if ty == RTM_GETROUTE && !dump && !given.contains(&RTA_UID) && !given.contains(&RTA_IIF) {
        msg::put_attr(&mut payload, RTA_UID, &uid.to_ne_bytes());
    }
    let flags = NLM_F_REQUEST | if dump { NLM_F_DUMP } else { 0 };
    Ok(msg::message(ty, flags, HOST_SEQ, 0, &payload))
}

/// A host socket with `request` sent on it.
fn ask_host(request: &[u8]) -> Result<(RouteSocket, HostFdGuard), Errno> {
    let budget = HostFdGuard::acquire()?;
    let host = RouteSocket::open().inspect_err(|e| {
        tracing::warn!(?e, "netlink: no host NETLINK_ROUTE socket");
    })?;
    host.send(request)?;
    Ok((host, budget))
}

/// Decides what message `req` of a guest's datagram gets, as Linux.
pub(super) fn handle(req: &Msg<'_>, cx: Ctx) -> Outcome {
    let h = req.hdr;
    let ack = |errno: i32| msg::ack(req, errno, cx.port, cx.cap_ack);
    let acked = |r: Result<Vec<Vec<u8>>, Errno>| match r {
        Ok(mut v) => {
            if h.nlmsg_flags & NLM_F_ACK != 0 {
                v.push(ack(0));
            }
            Outcome::Reply(v)
        }
        Err(e) => Outcome::Reply(vec![ack(e.raw())]),
    };
    // netlink_rcv_skb: only requests, and no control messages, reach rtnetlink.
    if h.nlmsg_flags & NLM_F_REQUEST == 0 || h.nlmsg_type < NLMSG_MIN_TYPE {
        return acked(Ok(Vec::new()));
    }
    let ty = h.nlmsg_type;
    if ty > RTM_MAX {
        return acked(Err(Errno::EOPNOTSUPP));
    }
    if req.payload.len() < RTGENMSG_LEN {
        return acked(Ok(Vec::new()));
    }
    if (ty - RTM_BASE) & 3 != 2 {
        tracing::debug!(ty, "netlink: a change request: EPERM");
        return acked(Err(Errno::EPERM));
    }
    if h.nlmsg_flags & NLM_F_DUMP != 0 {
        if cx.dumping {
            return acked(Err(Errno::EBUSY));
        }
        if forwarded(ty).is_none() {
            tracing::debug!(ty, "netlink: dump of an unlisted type, header zeroed");
        }
        return match host_request(req, true, cx.uid).and_then(|r| ask_host(&r)) {
            Ok((host, budget)) => Outcome::Dump(Dump {
                host,
                _budget: budget,
                req: (h, req.payload.to_vec()),
                port: cx.port,
                cap_ack: cx.cap_ack,
                ready: VecDeque::new(),
                over: false,
            }),
            Err(e) => acked(Err(e)),
        };
    }
    if forwarded(ty).is_none() {
        tracing::warn!(
            ty,
            "netlink: GET without NLM_F_DUMP of this type: EOPNOTSUPP"
        );
        return acked(Err(Errno::EOPNOTSUPP));
    }
    acked(single(req, cx))
}

/// A non-dump GET: the host's answer (its messages, or its error).
fn single(req: &Msg<'_>, cx: Ctx) -> Result<Vec<Vec<u8>>, Errno> {
    let port = cx.port;
    let (host, _budget) = ask_host(&host_request(req, false, cx.uid)?)?;
    let data = host.recv(HOST_WAIT_MS)?;
    let mut out = Vec::new();
    for m in msg::messages(&data).filter(|m| m.hdr.nlmsg_seq == HOST_SEQ) {
        if m.hdr.nlmsg_type == NLMSG_ERROR {
            match msg::error_of(m.payload) {
                Some(0) | None => {}
                Some(e) => return Err(Errno::new(e)),
            }
        } else {
            out.push(msg::readdressed(&m, req.hdr.nlmsg_seq, port));
        }
    }
    Ok(out)
}

/// The most a whole dump the Sentry reads for itself may hold (ENOBUFS past it).
const MAX_OWN_DUMP: usize = 16 << 20;

/// The Sentry's own dump of `ty` for `family` (for the interface ioctls): every message
/// the host sent before its `NLMSG_DONE`, as its type and payload; the host's error, if it
/// refused.
pub(super) fn host_dump(ty: u16, family: u8) -> Result<Vec<(u16, Vec<u8>)>, Errno> {
    let hlen = forwarded(ty).map_or(16, |(h, _)| h);
    let mut payload = vec![0u8; hlen];
    payload[0] = family;
    let request = msg::message(ty, NLM_F_REQUEST | NLM_F_DUMP, HOST_SEQ, 0, &payload);
    let (host, _budget) = ask_host(&request)?;
    let mut out = Vec::new();
    let mut total = 0usize;
    loop {
        let data = host.recv(HOST_WAIT_MS)?;
        for m in msg::messages(&data).filter(|m| m.hdr.nlmsg_seq == HOST_SEQ) {
            match m.hdr.nlmsg_type {
                NLMSG_DONE => return Ok(out),
                NLMSG_ERROR => {
                    return Err(match msg::error_of(m.payload) {
                        Some(e) if e != 0 => Errno::new(e),
                        _ => Errno::EIO,
                    })
                }
                _ => {
                    total += m.payload.len();
                    if total > MAX_OWN_DUMP {
                        return Err(Errno::ENOBUFS);
                    }
                    out.push((m.hdr.nlmsg_type, m.payload.to_vec()));
                }
            }
        }
    }
}

/// A dump being read: the host socket it comes from and the messages read from it not yet
/// packed into guest datagrams.
#[derive(Debug)]
pub(super) struct Dump {
    host: RouteSocket,
    _budget: HostFdGuard,
    /// The guest's request (for the error the host may answer it with), the guest
    /// socket's port id and `NETLINK_CAP_ACK`.
    req: (Nlmsghdr, Vec<u8>),
    port: u32,
    cap_ack: bool,
    /// Messages ready for the guest, readdressed.
    ready: VecDeque<Vec<u8>>,
    /// The host's `NLMSG_DONE` (or error) has been read: `ready` is all there is.
    over: bool,
}

impl Dump {
    /// Reads the host's next datagram into `ready`. A failure ends the dump with an
    /// `NLMSG_DONE` carrying the error, as Linux reports a dump that failed; the host's
    /// refusal of the request becomes the guest's error about its own request.
    fn fill(&mut self) {
        let seq = self.req.0.nlmsg_seq;
        let data = match self.host.recv(HOST_WAIT_MS) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(?e, "netlink: the host's dump stopped");
                self.ready.push_back(msg::done(seq, self.port, -e.raw()));
                self.over = true;
                return;
            }
        };
        for m in msg::messages(&data).filter(|m| m.hdr.nlmsg_seq == HOST_SEQ) {
            if m.hdr.nlmsg_type == NLMSG_ERROR {
                let req = Msg {
                    hdr: self.req.0,
                    payload: &self.req.1,
                };
                let errno = msg::error_of(m.payload).unwrap_or(Errno::EIO.raw());
                self.ready
                    .push_back(msg::ack(&req, errno, self.port, self.cap_ack));
                self.over = true;
                return;
            }
            self.ready.push_back(msg::readdressed(&m, seq, self.port));
            if m.hdr.nlmsg_type == NLMSG_DONE {
                self.over = true;
                return;
            }
        }
    }

    /// The next guest datagram: as many whole messages as fit in `limit` bytes (at least
    /// one), the final `NLMSG_DONE` in a datagram of its own, as Linux's rtnetlink dumps
    /// send it. None once everything was given.
    pub(super) fn next_datagram(&mut self, limit: usize) -> Option<Vec<u8>> {
        let mut out: Vec<u8> = Vec::new();
        loop {
            if self.ready.is_empty() && !self.over {
                self.fill();
            }
            let Some(next) = self.ready.front() else {
                break;
            };
            let last = is_end(next);
            if !out.is_empty() && (last || out.len() + next.len() > limit) {
                break;
            }
            let Some(m) = self.ready.pop_front() else {
                break;
            };
            out.extend_from_slice(&m);
            if last {
                break;
            }
        }
        (!out.is_empty()).then_some(out)
    }

    /// Everything was given.
    pub(super) fn finished(&self) -> bool {
        self.over && self.ready.is_empty()
    }
}

/// Whether `m` (a whole message) ends a dump.
fn is_end(m: &[u8]) -> bool {
    msg::messages(m)
        .next()
        .is_some_and(|m| m.hdr.nlmsg_type == NLMSG_DONE || m.hdr.nlmsg_type == NLMSG_ERROR)
}
