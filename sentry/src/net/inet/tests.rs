//! Host sockets on the host's loopback (the unit tests run outside any sandbox), ports
//! chosen by the kernel: the reactor wakes a blocked receive, readiness, errors.

use std::sync::Arc;
use std::time::Duration;

use snare_abi::socket::{AF_INET, SOCK_DGRAM, SOCK_STREAM};
use snare_abi::Errno;

use super::InetSocket;
use crate::vfs::{poll, FileDescription};

/// `struct sockaddr_in` for 127.0.0.1 and `port` (host order).
fn lo(port: u16) -> Vec<u8> {
    let mut a = vec![0u8; 16];
    a[..2].copy_from_slice(&(AF_INET as u16).to_ne_bytes());
    a[2..4].copy_from_slice(&port.to_be_bytes());
    a[4..8].copy_from_slice(&[127, 0, 0, 1]);
    a
}

fn port_of(sa: &[u8]) -> u16 {
    u16::from_be_bytes([sa[2], sa[3]])
}

fn tcp(nonblock: bool) -> Arc<InetSocket> {
    InetSocket::new(AF_INET, SOCK_STREAM, 6, nonblock, (0, 0)).expect("tcp socket")
}

/// A connected pair: (client, server end).
fn pair() -> (Arc<InetSocket>, Arc<InetSocket>) {
    let l = tcp(false);
    l.bind(&lo(0)).expect("bind");
    l.listen(4).expect("listen");
    let port = port_of(&l.name(false).expect("name"));
    let c = tcp(false);
    c.connect(&lo(port), false).expect("connect");
    let (s, peer) = l.accept(false, false).expect("accept");
    assert_eq!(peer, c.name(false).expect("client name"));
    (c, s)
}

#[test]
fn a_blocked_receive_is_woken_by_the_reactor() {
    let (c, s) = pair();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        c.send(b"late", Default::default(), 0, false)
    });
    let mut buf = [0u8; 16];
    let r = s.recv(&mut buf, &mut [], 0, false).expect("recv");
    assert_eq!(&buf[..r.len], b"late");
    assert_eq!(sender.join().expect("sender"), Ok(4));
}

#[test]
fn readiness_is_the_host_sockets() {
    let (c, s) = pair();
    assert_eq!(s.poll() & poll::IN, 0);
    assert_ne!(s.poll() & poll::OUT, 0);
    c.write(b"x").expect("write");
    assert_ne!(s.poll() & poll::IN, 0);
    c.shutdown(1).expect("shutdown");
    let mut b = [0u8; 4];
    assert_eq!(s.read(&mut b), Ok(1));
    assert_eq!(s.read(&mut b), Ok(0));
    assert_ne!(s.poll() & poll::RDHUP, 0);
}

#[test]
fn non_blocking_calls_say_eagain() {
    let (c, _s) = pair();
    let mut b = [0u8; 4];
    assert_eq!(
        c.recv(&mut b, &mut [], 0, true).map(|r| r.len),
        Err(Errno::EAGAIN)
    );
    let l = tcp(true);
    l.bind(&lo(0)).expect("bind");
    l.listen(1).expect("listen");
    assert!(matches!(l.accept(true, false), Err(Errno::EAGAIN)));
}

#[test]
fn errors_are_the_hosts() {
    let l = tcp(false);
    l.bind(&lo(0)).expect("bind");
    let port = port_of(&l.name(false).expect("name"));
    drop(l);
    let c = tcp(false);
    assert_eq!(c.connect(&lo(port), false), Err(Errno::ECONNREFUSED));
    assert_eq!(c.bind(&lo(0)[..8]), Err(Errno::EINVAL));
    let u = InetSocket::new(AF_INET, SOCK_DGRAM, 17, false, (0, 0)).expect("udp");
    assert_eq!(u.listen(1), Err(Errno::EOPNOTSUPP));
    assert_eq!(u.name(true), Err(Errno::ENOTCONN));
}
