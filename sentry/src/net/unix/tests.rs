use super::*;
use snare_abi::socket::MSG_PEEK;

const ME: Ucred = Ucred {
    pid: 1,
    uid: 0,
    gid: 0,
};

fn ctl() -> SendCtl {
    SendCtl::plain(ME)
}

#[test]
fn stream_round_trip_and_eof() {
    let (a, b) = UnixSocket::pair(SockType::Stream, false, ME, 0, 0);
    assert_eq!(a.send(b"hello", &mut ctl(), None, false), Ok(5));
    assert_eq!(a.send(b" world", &mut ctl(), None, false), Ok(6));
    assert_eq!(b.poll() & poll::IN, poll::IN);
    let t = b.recv(3, MSG_PEEK, false).expect("peek");
    assert_eq!(t.data, b"hel");
    let t = b.recv(100, 0, false).expect("recv");
    assert_eq!(t.data, b"hello world");
    drop(a);
    assert_eq!(
        b.poll() & (poll::HUP | poll::RDHUP),
        poll::HUP | poll::RDHUP
    );
    assert_eq!(b.recv(10, 0, false).expect("eof").data.len(), 0);
    assert_eq!(b.send(b"x", &mut ctl(), None, false), Err(Errno::EPIPE));
}

#[test]
fn datagrams_keep_boundaries_and_truncate() {
    let (a, b) = UnixSocket::pair(SockType::Dgram, true, ME, 0, 0);
    a.send(b"abcdef", &mut ctl(), None, false).expect("send");
    a.send(b"", &mut ctl(), None, false).expect("send empty");
    a.send(b"xy", &mut ctl(), None, false).expect("send");
    let t = b.recv(4, 0, true).expect("recv");
    assert_eq!((t.data.as_slice(), t.full_len), (&b"abcd"[..], 6));
    assert_eq!(b.recv(4, 0, true).expect("empty").full_len, 0);
    assert_eq!(b.recv(4, 0, true).expect("recv").data, b"xy");
    assert_eq!(b.recv(4, 0, true).err(), Some(Errno::EAGAIN));
    assert_eq!(
        a.send(&vec![0u8; DEFAULT_BUF], &mut ctl(), None, false),
        Err(Errno::EMSGSIZE)
    );
}

#[test]
fn a_full_buffer_blocks_writes_until_read() {
    let (a, b) = UnixSocket::pair(SockType::Stream, true, ME, 0, 0);
    let chunk = vec![1u8; 50_000];
    let mut total = 0;
    loop {
        match a.send(&chunk, &mut ctl(), None, true) {
            Ok(n) => total += n,
            Err(e) => {
                assert_eq!(e, Errno::EAGAIN);
                break;
            }
        }
    }
    assert_eq!(total, DEFAULT_BUF);
    assert_eq!(a.poll() & poll::OUT, 0);
    let t = b.recv(usize::MAX, 0, true).expect("drain");
    assert_eq!(t.data.len(), DEFAULT_BUF);
    assert_eq!(a.poll() & poll::OUT, poll::OUT);
    assert_eq!(a.wmem.load(Ordering::Relaxed), 0);
}

#[test]
fn blocked_reader_in_another_thread_is_woken() {
    let (a, b) = UnixSocket::pair(SockType::SeqPacket, false, ME, 0, 0);
    let t = std::thread::spawn(move || {
        let m = b.recv(16, 0, false).expect("recv");
        let eof = b.recv(16, 0, false).expect("eof");
        (m.data, eof.data.len())
    });
    std::thread::sleep(std::time::Duration::from_millis(20));
    a.send(b"ping", &mut ctl(), None, false).expect("send");
    drop(a);
    assert_eq!(t.join().expect("join"), (b"ping".to_vec(), 0));
}

#[test]
fn shutdown_and_unread_data_reset() {
    let (a, b) = UnixSocket::pair(SockType::Stream, false, ME, 0, 0);
    a.shutdown(snare_abi::socket::SHUT_WR).expect("shutdown");
    assert_eq!(b.recv(4, 0, false).expect("eof").data.len(), 0);
    assert_eq!(a.send(b"x", &mut ctl(), None, false), Err(Errno::EPIPE));
    b.send(b"unread", &mut ctl(), None, false).expect("send");
    drop(a);
    // a closed with data unread: b's next receive is ECONNRESET, then end-of-file.
    assert_eq!(b.recv(4, 0, false).err(), Some(Errno::ECONNRESET));
    assert_eq!(b.recv(4, 0, false).expect("eof").data.len(), 0);
}

#[test]
fn a_socket_sent_over_itself_is_collected() {
    let (a, b) = UnixSocket::pair(SockType::Stream, false, ME, 0, 0);
    let weak_b = Arc::downgrade(&b);
    let weak_a = Arc::downgrade(&a);
    // b travels into its own queue, a into b's too.
    let mut c = SendCtl {
        rights: Some(gc::Rights::new(vec![b.clone(), a.clone()])),
        creds: ME,
    };
    a.send(b"x", &mut c, None, false).expect("send");
    drop(c);
    drop(a);
    drop(b);
    assert!(weak_b.upgrade().is_some(), "the cycle keeps b");
    gc::collect();
    assert!(weak_b.upgrade().is_none());
    assert!(weak_a.upgrade().is_none());
}

#[test]
fn options() {
    let (a, _b) = UnixSocket::pair(SockType::Dgram, false, ME, 0, 0);
    a.setsockopt(SO_SNDBUF, 65536).expect("set");
    assert_eq!(
        a.getsockopt(SO_SNDBUF).expect("get"),
        131_072i32.to_ne_bytes()
    );
    a.setsockopt(SO_SNDBUF, 1).expect("set");
    assert_eq!(a.getsockopt(SO_SNDBUF).expect("get"), 4608i32.to_ne_bytes());
    a.setsockopt(SO_SNDBUF, -1).expect("set");
    assert_eq!(
        a.getsockopt(SO_SNDBUF).expect("get"),
        ((MAX_BUF * 2) as i32).to_ne_bytes()
    );
    assert_eq!(a.getsockopt(SO_TYPE).expect("type"), 2i32.to_ne_bytes());
    assert_eq!(a.getsockopt(12345), Err(Errno::ENOPROTOOPT));
}

#[test]
fn listen_connect_accept_and_a_closed_listener() {
    let l = UnixSocket::new(SockType::Stream, false, 0, 0);
    assert_eq!(l.listen(1, ME), Err(Errno::EINVAL), "unbound");
    l.set_name(UnixAddr::Abstract(b"t-listen".to_vec()), None);
    l.listen(0, ME).expect("listen");
    let c1 = UnixSocket::new(SockType::Stream, true, 0, 0);
    c1.connect(&l, ME, true).expect("first fits");
    let c2 = UnixSocket::new(SockType::Stream, true, 0, 0);
    assert_eq!(c2.connect(&l, ME, true), Err(Errno::EAGAIN));
    assert_eq!(l.poll() & poll::IN, poll::IN);
    c1.send(b"hi", &mut ctl(), None, true)
        .expect("send before accept");
    let s = l.accept(true).expect("accept");
    assert_eq!(s.recv(8, 0, true).expect("recv").data, b"hi");
    assert_eq!(l.accept(true).err(), Some(Errno::EAGAIN));
    // A connection nobody accepted is reset when the listener goes.
    c2.connect(&l, ME, true).expect("room again");
    drop(l);
    assert_eq!(c2.recv(8, 0, true).err(), Some(Errno::ECONNRESET));
    assert_eq!(c2.recv(8, 0, true).expect("eof").data.len(), 0);
}
