//! Sockets. AF_UNIX sockets ([`unix`]) are Sentry objects: a guest's socket never becomes a
//! host socket. AF_INET and AF_INET6 sockets ([`inet`]), TCP and UDP, are host sockets the
//! Sentry owns in the sandbox's network namespace, each operation forwarded. The syscalls
//! (`syscalls/socket*.rs`) decode arguments and guest memory (addresses, `msghdr`, control
//! messages) and call the objects here, which know nothing of guest memory. Other families
//! answer EAFNOSUPPORT.

pub mod inet;
pub mod netlink;
pub mod proc_net;
pub mod unix;

use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_INO: AtomicU64 = AtomicU64::new(0x4000);

/// A new socket's inode number (sockets of every family share one sockfs).
pub(crate) fn next_ino() -> u64 {
    NEXT_INO.fetch_add(1, Ordering::Relaxed)
}
