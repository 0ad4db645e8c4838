//! Differential tests of pipes, eventfd, timerfd, poll/select/epoll (`tests/guests/ipc.c`),
//! POSIX message queues (`tests/guests/mqueue.c`) and AF_UNIX sockets (`unix_*.c`): run
//! natively and under `snare do`, static and dynamic; stdout and status must match.

mod common;

use common::*;

#[test]
fn ipc() {
    c_program("ipc", &[]);
}

#[test]
fn mqueue() {
    c_program("mqueue", &[]);
}

/// AF_UNIX socketpairs (`tests/guests/unix_pair.c`): stream, datagram and seqpacket data,
/// flags, shutdown, readiness, options, signals.
#[test]
fn unix_pair() {
    c_program("unix_pair", &[]);
}

/// SCM_RIGHTS (pipes, memfds, epoll, sockets, files) and SCM_CREDENTIALS, truncation,
/// limits, hostile control messages (`tests/guests/unix_rights.c`).
#[test]
fn unix_rights() {
    c_program("unix_rights", &[]);
}

/// socket, bind (pathname, abstract, autobind), listen, accept4, connect across fork,
/// datagrams by address, and every call's errors (`tests/guests/unix_bind.c`).
#[test]
fn unix_bind() {
    c_program("unix_bind", &[]);
}
