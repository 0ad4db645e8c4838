use super::msg::{attrs, messages, Msg};
use super::route::{handle, Ctx, Outcome};
use super::*;
use snare_abi::netlink::{
    Nlmsghdr, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLM_F_ACK, NLM_F_CAPPED, NLM_F_DUMP,
    NLM_F_MULTI, NLM_F_REQUEST, RTM_GETADDR, RTM_GETLINK, RTM_GETROUTE, RTM_NEWADDR, RTM_NEWLINK,
    RTM_NEWROUTE,
};
use snare_abi::pod::from_bytes;

/// A request message of `ty` with `flags`, sequence number `seq` and `payload`.
fn req(ty: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    msg::message(ty, flags, seq, 0, payload)
}

fn hdr_of(b: &[u8]) -> Nlmsghdr {
    from_bytes(b).expect("a header")
}

fn cx() -> Ctx {
    Ctx {
        port: 77,
        cap_ack: false,
        dumping: false,
        uid: 0,
    }
}

/// The messages `handle` answers the one message in `buf` with (no dump expected).
fn replies(buf: &[u8], cx: Ctx) -> Vec<Vec<u8>> {
    let m = messages(buf).next().expect("one message");
    match handle(&m, cx) {
        Outcome::Reply(v) => v,
        Outcome::Dump(_) => panic!("a dump"),
    }
}

/// The errno of an `NLMSG_ERROR` reply.
fn errno_of(m: &[u8]) -> i32 {
    assert_eq!(hdr_of(m).nlmsg_type, NLMSG_ERROR);
    msg::error_of(&m[16..]).expect("an error payload")
}

#[test]
fn messages_are_split_as_netlink_rcv_skb() {
    let one = req(RTM_GETLINK, NLM_F_REQUEST, 1, &[0; 5]);
    let two = req(RTM_GETADDR, NLM_F_REQUEST, 2, &[0; 8]);
    let both = [one.clone(), two.clone()].concat();
    let got: Vec<Msg<'_>> = messages(&both).collect();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].payload.len(), 5);
    assert_eq!(got[1].hdr.nlmsg_seq, 2);
    // Nothing, or less than a header: no message.
    assert_eq!(messages(&[]).count(), 0);
    assert_eq!(messages(&both[..15]).count(), 0);
    // A length shorter than a header, or past the end, stops the walk.
    let mut short = one.clone();
    short[..4].copy_from_slice(&8u32.to_ne_bytes());
    assert_eq!(messages(&[short, two.clone()].concat()).count(), 0);
    let mut long = one.clone();
    long[..4].copy_from_slice(&1000u32.to_ne_bytes());
    assert_eq!(messages(&long).count(), 0);
    let mut zero = one.clone();
    zero[..4].copy_from_slice(&0u32.to_ne_bytes());
    assert_eq!(messages(&zero).count(), 0);
    // A last message whose aligned length runs past the end is still one.
    let unaligned = &both[..one.len() + 16 + 5];
    let mut cut = unaligned.to_vec();
    cut[one.len()..one.len() + 4].copy_from_slice(&21u32.to_ne_bytes());
    assert_eq!(messages(&cut).count(), 2);
    // u32::MAX as a length is past any buffer.
    let mut huge = one;
    huge[..4].copy_from_slice(&u32::MAX.to_ne_bytes());
    assert_eq!(messages(&huge).count(), 0);
}

#[test]
fn attributes_stop_at_the_first_bad_one() {
    let mut b = Vec::new();
    msg::put_attr(&mut b, 3, b"lo\0");
    msg::put_attr(&mut b, 29 | 0x8000, &1u32.to_ne_bytes());
    let got: Vec<(u16, &[u8])> = attrs(&b).collect();
    assert_eq!(got, vec![(3, &b"lo\0"[..]), (29, &1u32.to_ne_bytes()[..])]);
    let mut bad = b.clone();
    bad[0] = 2; // nla_len < 4
    assert_eq!(attrs(&bad).count(), 0);
    let mut past = b.clone();
    past[0] = 200;
    assert_eq!(attrs(&past).count(), 0);
    assert_eq!(attrs(&b[..3]).count(), 0);
}

#[test]
fn acks_and_errors_as_netlink_ack() {
    let r = req(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, 9, &[0; 16]);
    let m = messages(&r).next().expect("message");
    let err = msg::ack(&m, Errno::EPERM.raw(), 77, false);
    let h = hdr_of(&err);
    assert_eq!(
        (h.nlmsg_type, h.nlmsg_flags, h.nlmsg_seq, h.nlmsg_pid),
        (2, 0, 9, 77)
    );
    assert_eq!(h.nlmsg_len as usize, 16 + 20 + 16);
    assert_eq!(errno_of(&err), Errno::EPERM.raw());
    assert_eq!(&err[20..36], &r[..16]);
    let capped = msg::ack(&m, Errno::EPERM.raw(), 77, true);
    assert_eq!(hdr_of(&capped).nlmsg_flags, NLM_F_CAPPED);
    assert_eq!(capped.len(), 36);
    let ok = msg::ack(&m, 0, 77, false);
    assert_eq!((hdr_of(&ok).nlmsg_flags, ok.len()), (NLM_F_CAPPED, 36));
    let done = msg::done(9, 77, 0);
    let h = hdr_of(&done);
    assert_eq!(
        (h.nlmsg_type, h.nlmsg_flags, h.nlmsg_len),
        (NLMSG_DONE, NLM_F_MULTI, 20)
    );
}

#[test]
fn what_linux_refuses_or_ignores() {
    // Not a request: only an acknowledgement if asked.
    assert!(replies(&req(RTM_GETLINK, 0, 1, &[0; 16]), cx()).is_empty());
    let r = replies(&req(RTM_GETLINK, NLM_F_ACK, 1, &[0; 16]), cx());
    assert_eq!(r.len(), 1);
    assert_eq!(errno_of(&r[0]), 0);
    // Control types likewise.
    let r = replies(&req(NLMSG_NOOP, NLM_F_REQUEST | NLM_F_ACK, 1, &[]), cx());
    assert_eq!(errno_of(&r[0]), 0);
    // Past RTM_MAX: EOPNOTSUPP (acknowledged or not).
    let r = replies(&req(200, NLM_F_REQUEST, 1, &[0; 4]), cx());
    assert_eq!(errno_of(&r[0]), Errno::EOPNOTSUPP.raw());
    // No family byte: ignored.
    assert!(replies(&req(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 1, &[]), cx()).is_empty());
    // Changes: EPERM, whatever the type or flags.
    for ty in [
        RTM_NEWLINK,
        17,
        19,
        RTM_NEWADDR,
        21,
        RTM_NEWROUTE,
        25,
        27,
        120,
        123,
    ] {
        let r = replies(&req(ty, NLM_F_REQUEST | NLM_F_DUMP, 1, &[0; 16]), cx());
        assert_eq!(errno_of(&r[0]), Errno::EPERM.raw(), "type {ty}");
    }
    // A second dump while one is read: EBUSY.
    let busy = Ctx {
        dumping: true,
        ..cx()
    };
    let r = replies(
        &req(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 1, &[0; 8]),
        busy,
    );
    assert_eq!(errno_of(&r[0]), Errno::EBUSY.raw());
    // A GET of an unlisted type that isn't a dump.
    let r = replies(&req(30, NLM_F_REQUEST, 1, &[0; 12]), cx());
    assert_eq!(errno_of(&r[0]), Errno::EOPNOTSUPP.raw());
}

#[test]
fn host_requests_carry_only_listed_attributes() {
    let mut p = vec![0u8; 16];
    p[0] = 2;
    p[4..8].copy_from_slice(&1i32.to_ne_bytes());
    msg::put_attr(&mut p, 3, b"lo\0");
    msg::put_attr(&mut p, 29, &1u32.to_ne_bytes());
    msg::put_attr(&mut p, 999, b"junk");
    let r = req(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK | 0x40, 5, &p);
    let m = messages(&r).next().expect("message");
    let out = route::host_request(&m, false, 0).expect("valid");
    let h = hdr_of(&out);
    assert_eq!(h.nlmsg_flags, NLM_F_REQUEST);
    assert_eq!(h.nlmsg_type, RTM_GETLINK);
    assert_eq!(&out[16..32], &p[..16]);
    let kept: Vec<u16> = attrs(&out[32..]).map(|(t, _)| t).collect();
    assert_eq!(kept, vec![3, 29]);
    // A dump's flags; a short header is padded with zeros.
    let r = req(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 5, &[10]);
    let m = messages(&r).next().expect("message");
    let out = route::host_request(&m, true, 0).expect("valid");
    assert_eq!(hdr_of(&out).nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
    assert_eq!(&out[16..], &[10, 0, 0, 0, 0, 0, 0, 0]);
    // An attribute past its bound: EINVAL.
    let mut p = vec![0u8; 16];
    msg::put_attr(&mut p, 3, &[b'x'; 200]);
    let r = req(RTM_GETLINK, NLM_F_REQUEST, 5, &p);
    let m = messages(&r).next().expect("message");
    assert_eq!(route::host_request(&m, false, 0), Err(Errno::EINVAL));
    // A route lookup is made for the sender's uid unless it names one.
    let r = req(RTM_GETROUTE, NLM_F_REQUEST, 5, &[2; 12]);
    let m = messages(&r).next().expect("message");
    let out = route::host_request(&m, false, 1000).expect("valid");
    let uid: Vec<(u16, Vec<u8>)> = attrs(&out[28..]).map(|(t, d)| (t, d.to_vec())).collect();
    assert_eq!(uid, vec![(25, 1000u32.to_ne_bytes().to_vec())]);
}

/// Every datagram queued for `s`, read with `len`-byte buffers.
fn drain(s: &NetlinkSocket, len: usize) -> Vec<(Vec<u8>, usize)> {
    let mut out = Vec::new();
    while let Ok(r) = s.recv(len, false, true) {
        out.push((r.data, r.full_len));
    }
    out
}

#[test]
fn dumps_come_from_the_host_readdressed() {
    let s = NetlinkSocket::new(SOCK_RAW, true, 0, 0);
    s.bind(&sockaddr(0, 0), 4242).expect("bind");
    let name: SockaddrNl = from_bytes(&s.name()).expect("sockaddr_nl");
    assert_ne!(name.nl_pid, 0);
    let r = req(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 31, &[0; 16]);
    s.check_send(r.len(), None, 4242).expect("send checks");
    assert_eq!(s.send(&r, 0), r.len());
    assert_ne!(s.poll() & poll::IN, 0);
    // Peeking leaves the datagram.
    let peek = s.recv(0, true, true).expect("peek");
    assert!(peek.data.is_empty() && peek.full_len > 0);
    let got = drain(&s, 65536);
    assert!(got.len() >= 2, "{} datagrams", got.len());
    assert_eq!(got[0].1, peek.full_len);
    let mut links = 0;
    for (i, (d, full)) in got.iter().enumerate() {
        assert_eq!(d.len(), *full);
        let msgs: Vec<Msg<'_>> = messages(d).collect();
        assert!(!msgs.is_empty());
        if msgs.len() > 1 {
            assert!(d.len() <= GOODSIZE.max(65536usize.min(MAX_DATAGRAM)));
        }
        for m in &msgs {
            assert_eq!((m.hdr.nlmsg_seq, m.hdr.nlmsg_pid), (31, name.nl_pid));
        }
        if i + 1 == got.len() {
            assert_eq!(msgs.len(), 1);
            assert_eq!(msgs[0].hdr.nlmsg_type, NLMSG_DONE);
            assert_eq!(msgs[0].payload, &0i32.to_ne_bytes());
        } else {
            links += msgs
                .iter()
                .filter(|m| m.hdr.nlmsg_type == RTM_NEWLINK)
                .count();
        }
    }
    assert!(links >= 1, "lo at least");
    assert_eq!(s.poll() & poll::IN, 0);
    assert_eq!(s.recv(100, false, true).err(), Some(Errno::EAGAIN));
}

#[test]
fn small_buffers_see_truncation() {
    let s = NetlinkSocket::new(SOCK_DGRAM, true, 0, 0);
    let r = req(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 1, &[0; 8]);
    s.check_send(r.len(), None, 4243).expect("send checks");
    s.send(&r, 0);
    let first = s.recv(10, false, true).expect("a datagram");
    assert_eq!(first.data.len(), 10);
    assert!(first.full_len > 10);
    // The rest of the dump is still there, and ends.
    let rest = drain(&s, 10);
    assert!(!rest.is_empty());
    assert!(rest.iter().all(|(d, _)| d.len() <= 10));
}

#[test]
fn sends_are_checked_first() {
    let s = NetlinkSocket::new(SOCK_RAW, true, 0, 0);
    assert_eq!(s.check_send(0, None, 1), Err(Errno::ENODATA));
    assert_eq!(
        s.check_send(20, Some(&sockaddr(5, 0)), 1),
        Err(Errno::EPERM)
    );
    assert_eq!(
        s.check_send(20, Some(&sockaddr(0, 1)), 1),
        Err(Errno::EPERM)
    );
    assert_eq!(s.check_send(20, Some(&[16, 0, 0]), 1), Err(Errno::EINVAL));
    let mut unix = sockaddr(0, 0);
    unix[0] = 1;
    assert_eq!(s.check_send(20, Some(&unix), 1), Err(Errno::EINVAL));
    assert_eq!(s.check_send(DEFAULT_BUF, None, 1), Err(Errno::EMSGSIZE));
    assert_eq!(s.check_send(100, Some(&sockaddr(0, 0)), 1), Ok(()));
    // Binding again to another port: EINVAL; the same: fine.
    let name: SockaddrNl = from_bytes(&s.name()).expect("sockaddr_nl");
    assert_eq!(s.bind(&sockaddr(name.nl_pid + 1, 0), 1), Err(Errno::EINVAL));
    assert_eq!(s.bind(&sockaddr(name.nl_pid, 0), 1), Ok(()));
    // A taken port id.
    let t = NetlinkSocket::new(SOCK_RAW, true, 0, 0);
    assert_eq!(t.bind(&sockaddr(name.nl_pid, 0), 1), Err(Errno::EADDRINUSE));
    drop(s);
    assert_eq!(t.bind(&sockaddr(name.nl_pid, 0), 1), Ok(()));
}

#[test]
fn options() {
    use snare_abi::netlink::{
        NETLINK_ADD_MEMBERSHIP, NETLINK_CAP_ACK, NETLINK_EXT_ACK, NETLINK_LIST_MEMBERSHIPS,
    };
    use snare_abi::socket::{SO_RCVBUF, SO_TYPE};
    let s = NetlinkSocket::new(SOCK_RAW, true, 0, 0);
    assert_eq!(s.getsockopt_socket(SO_TYPE), Ok(SOCK_RAW as i32));
    s.setsockopt_socket(SO_RCVBUF, 1 << 20).expect("rcvbuf");
    assert_eq!(s.getsockopt_socket(SO_RCVBUF), Ok(2 * MAX_BUF as i32));
    s.setsockopt_socket(SO_RCVBUF, 1).expect("rcvbuf");
    assert_eq!(s.getsockopt_socket(SO_RCVBUF), Ok(MIN_RCVBUF as i32));
    s.setsockopt_netlink(NETLINK_EXT_ACK, 1).expect("ext ack");
    assert_eq!(
        s.getsockopt_netlink(NETLINK_EXT_ACK, 4),
        Ok((1i32.to_ne_bytes().to_vec(), 4))
    );
    assert_eq!(s.getsockopt_netlink(NETLINK_CAP_ACK, 3), Err(Errno::EINVAL));
    assert_eq!(
        s.setsockopt_netlink(NETLINK_ADD_MEMBERSHIP, 0),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        s.setsockopt_netlink(NETLINK_ADD_MEMBERSHIP, NGROUPS + 1),
        Err(Errno::EINVAL)
    );
    s.setsockopt_netlink(NETLINK_ADD_MEMBERSHIP, 1)
        .expect("join");
    let (v, need) = s
        .getsockopt_netlink(NETLINK_LIST_MEMBERSHIPS, 64)
        .expect("groups");
    assert_eq!((v[0], need), (1, 8));
    assert_eq!(s.setsockopt_netlink(99, 1), Err(Errno::ENOPROTOOPT));
}

#[test]
fn hostile_datagrams_never_panic() {
    // A small generator of request-shaped garbage: real headers with random lengths,
    // types, flags and payloads, and plain noise.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let s = NetlinkSocket::new(SOCK_RAW, true, 0, 0);
    for _ in 0..400 {
        let mut buf = Vec::new();
        for _ in 0..(next() % 4) {
            let plen = (next() % 48) as usize;
            let ty = match next() % 4 {
                0 => RTM_GETLINK,
                1 => RTM_GETROUTE,
                2 => (next() % 140) as u16,
                _ => RTM_GETADDR,
            };
            // Mostly not dumps: each dump asks the host.
            let flags = (next() as u16) & !(if next() % 8 == 0 { 0 } else { NLM_F_DUMP });
            let payload: Vec<u8> = (0..plen).map(|_| next() as u8).collect();
            let mut m = req(ty, flags | NLM_F_REQUEST, next() as u32, &payload);
            if next() % 3 == 0 {
                let len = (next() % 80) as u32;
                m[..4].copy_from_slice(&len.to_ne_bytes());
            }
            buf.extend_from_slice(&m);
        }
        if next() % 5 == 0 {
            buf = (0..next() % 64).map(|_| next() as u8).collect();
        }
        if buf.is_empty() || s.check_send(buf.len(), None, 1).is_err() {
            continue;
        }
        s.send(&buf, 0);
        drain(&s, (next() % 5000) as usize);
    }
}

#[test]
fn timeouts_as_sock_set_timeout() {
    use std::time::Duration;
    assert_eq!(Timeout::from_timeval(0, 0), Ok(Timeout::Forever));
    assert_eq!(Timeout::from_timeval(-5, 0), Ok(Timeout::Zero));
    assert_eq!(Timeout::from_timeval(0, 1_000_000), Err(Errno::EDOM));
    assert_eq!(Timeout::from_timeval(0, -1), Err(Errno::EDOM));
    let t = Timeout::from_timeval(i64::MAX, 999_999).expect("valid");
    assert_eq!(t.to_timeval(), (i64::MAX, 999_999));
    assert_eq!(
        Timeout::from_timeval(1, 500),
        Ok(Timeout::After(Duration::from_micros(1_000_500)))
    );
    let s = NetlinkSocket::new(SOCK_RAW, false, 0, 0);
    s.set_timeout(true, Timeout::Zero);
    assert_eq!(s.recv(10, false, false).err(), Some(Errno::EAGAIN));
    s.set_timeout(true, Timeout::After(Duration::from_millis(20)));
    assert_eq!(s.recv(10, false, false).err(), Some(Errno::EAGAIN));
    assert_eq!(s.timeout(false), Timeout::Forever);
}
