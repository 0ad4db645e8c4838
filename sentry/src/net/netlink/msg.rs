//! Netlink messages as bytes: splitting a datagram into messages and a payload into
//! attributes with every length checked (the guest's requests are hostile bytes, the host's
//! answers are not trusted to be well formed either), and building the messages the Sentry
//! answers with (errors and acknowledgements, `NLMSG_DONE`, copies of the host's messages
//! with the guest's port id and sequence number). Nothing here panics on any input.

use snare_abi::netlink::{
    nlmsg_align, Nlattr, Nlmsgerr, Nlmsghdr, NLA_TYPE_MASK, NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN,
    NLM_F_CAPPED, NLM_F_MULTI,
};
use snare_abi::pod::{as_bytes, from_bytes};

/// One message of a datagram: its header and payload (`nlmsg_len` minus the header).
#[derive(Debug, Clone, Copy)]
pub(super) struct Msg<'a> {
    pub hdr: Nlmsghdr,
    pub payload: &'a [u8],
}

/// The messages of `buf`, as Linux's `netlink_rcv_skb` walks a request: while a header's
/// worth is left, a message whose `nlmsg_len` is shorter than its header or longer than what
/// is left ends the walk (silently: the rest is ignored); the next message starts at the
/// aligned length (or the end).
pub(super) fn messages(buf: &[u8]) -> impl Iterator<Item = Msg<'_>> {
    let mut rest = buf;
    std::iter::from_fn(move || {
        if rest.len() < NLMSG_HDRLEN {
            return None;
        }
        let hdr: Nlmsghdr = from_bytes(rest)?;
        let len = hdr.nlmsg_len as usize;
        if len < NLMSG_HDRLEN || len > rest.len() {
            rest = &[];
            return None;
        }
        let payload = &rest[NLMSG_HDRLEN..len];
        rest = &rest[nlmsg_align(len).min(rest.len())..];
        Some(Msg { hdr, payload })
    })
}

/// The attributes of `buf` (a payload after its fixed header) as `nla_for_each_attr`: the
/// type (flag bits removed) and the payload of each, until one doesn't fit.
pub(super) fn attrs(buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let hdr = std::mem::size_of::<Nlattr>();
    let mut rest = buf;
    std::iter::from_fn(move || {
        let a: Nlattr = from_bytes(rest)?;
        let len = usize::from(a.nla_len);
        if len < hdr || len > rest.len() {
            rest = &[];
            return None;
        }
        let payload = &rest[hdr..len];
        rest = &rest[nlmsg_align(len).min(rest.len())..];
        Some((a.nla_type & NLA_TYPE_MASK, payload))
    })
}

/// Appends an attribute of `ty` with `payload` to `out` (padded to 4).
pub(super) fn put_attr(out: &mut Vec<u8>, ty: u16, payload: &[u8]) {
    let len = std::mem::size_of::<Nlattr>() + payload.len();
    let a = Nlattr {
        nla_len: u16::try_from(len).unwrap_or(u16::MAX),
        nla_type: ty,
    };
    out.extend_from_slice(as_bytes(&a));
    out.extend_from_slice(payload);
    out.resize(nlmsg_align(out.len()), 0);
}

/// A whole message: header (`nlmsg_len` filled in) and payload, padded to 4.
pub(super) fn message(ty: u16, flags: u16, seq: u32, pid: u32, payload: &[u8]) -> Vec<u8> {
    let hdr = Nlmsghdr {
        nlmsg_len: (NLMSG_HDRLEN + payload.len()) as u32,
        nlmsg_type: ty,
        nlmsg_flags: flags,
        nlmsg_seq: seq,
        nlmsg_pid: pid,
    };
    let mut out = Vec::with_capacity(nlmsg_align(NLMSG_HDRLEN + payload.len()));
    out.extend_from_slice(as_bytes(&hdr));
    out.extend_from_slice(payload);
    out.resize(nlmsg_align(out.len()), 0);
    out
}

/// Linux's `netlink_ack`: `NLMSG_ERROR` answering `req` with `errno` (0: an
/// acknowledgement) for the socket with port id `port`. An error carries the request's
/// payload too unless `cap_ack` (`NETLINK_CAP_ACK`); otherwise the message is
/// `NLM_F_CAPPED`. No extended-ack attributes are added.
pub(super) fn ack(req: &Msg<'_>, errno: i32, port: u32, cap_ack: bool) -> Vec<u8> {
    let full = errno != 0 && !cap_ack;
    let e = Nlmsgerr {
        error: -errno,
        msg: req.hdr,
    };
    let mut payload = as_bytes(&e).to_vec();
    if full {
        payload.extend_from_slice(req.payload);
    }
    let flags = if full { 0 } else { NLM_F_CAPPED };
    message(NLMSG_ERROR, flags, req.hdr.nlmsg_seq, port, &payload)
}

/// The `NLMSG_DONE` that ends a dump, with its `int` result (0, or a negative errno).
pub(super) fn done(seq: u32, port: u32, result: i32) -> Vec<u8> {
    message(NLMSG_DONE, NLM_F_MULTI, seq, port, &result.to_ne_bytes())
}

/// A copy of one message from the host, its sequence number and port id replaced by the
/// guest's (everything else is the host kernel's own bytes).
pub(super) fn readdressed(m: &Msg<'_>, seq: u32, port: u32) -> Vec<u8> {
    let hdr = Nlmsghdr {
        nlmsg_seq: seq,
        nlmsg_pid: port,
        ..m.hdr
    };
    let mut out = Vec::with_capacity(nlmsg_align(NLMSG_HDRLEN + m.payload.len()));
    out.extend_from_slice(as_bytes(&hdr));
    out.extend_from_slice(m.payload);
    out.resize(nlmsg_align(out.len()), 0);
    out
}

/// The errno of an `NLMSG_ERROR` payload (positive; 0 for an acknowledgement), if it holds
/// one.
pub(super) fn error_of(payload: &[u8]) -> Option<i32> {
    let e: Nlmsgerr = from_bytes(payload)?;
    Some(e.error.checked_neg().unwrap_or(0))
}
