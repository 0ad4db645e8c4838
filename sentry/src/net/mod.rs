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

/// What `fstat` says of a socket of any family: sockfs's device, `S_IFSOCK|0777`, its owner
/// and its creation time for every time.
pub(crate) fn socket_stat(
    ino: u64,
    uid: u32,
    gid: u32,
    ctime: (i64, i64),
) -> snare_abi::file::Stat {
    snare_abi::file::Stat {
        st_dev: unix::SOCKFS_DEV,
        st_ino: ino,
        st_nlink: 1,
        st_mode: snare_abi::file::S_IFSOCK | 0o777,
        st_uid: uid,
        st_gid: gid,
        st_blksize: 4096,
        st_atime: ctime.0,
        st_atime_nsec: ctime.1,
        st_mtime: ctime.0,
        st_mtime_nsec: ctime.1,
        st_ctime: ctime.0,
        st_ctime_nsec: ctime.1,
        ..Default::default()
    }
}
