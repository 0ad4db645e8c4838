//! Differential tests of pipes, eventfd, timerfd, poll/select/epoll (`tests/guests/ipc.c`)
//! and POSIX message queues (`tests/guests/mqueue.c`): run natively and under `snare do`,
//! static and dynamic; stdout and status must match.

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
