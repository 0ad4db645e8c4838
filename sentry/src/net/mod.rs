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
use std::time::Instant;

use snare_abi::Errno;

use crate::kernel::wait::{block, WaitQueue};

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

/// A socket timeout as Linux keeps it: none (wait forever), zero (a negative time was set:
/// never wait), or a time.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Timeout {
    #[default]
    Forever,
    Zero,
    After(std::time::Duration),
}

impl Timeout {
    /// The timeout a `struct timeval` (`sec`, `usec`) sets, as Linux's `sock_set_timeout`:
    /// EDOM for microseconds out of range, zero for a negative time, none for 0.
    pub fn from_timeval(sec: i64, usec: i64) -> Result<Timeout, Errno> {
        if !(0..1_000_000).contains(&usec) {
            return Err(Errno::EDOM);
        }
        Ok(match (sec, usec) {
            (s, _) if s < 0 => Timeout::Zero,
            (0, 0) => Timeout::Forever,
            (s, u) => Timeout::After(
                std::time::Duration::from_secs(s as u64)
                    + std::time::Duration::from_micros(u as u64),
            ),
        })
    }

    /// The `struct timeval` `getsockopt` shows (`{0, 0}` for none and for zero).
    pub fn to_timeval(self) -> (i64, i64) {
        match self {
            Timeout::After(d) => (
                i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                i64::from(d.subsec_micros()),
            ),
            _ => (0, 0),
        }
    }
}

/// A socket's `SO_RCVTIMEO` and `SO_SNDTIMEO`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    rcv: Timeout,
    snd: Timeout,
}

impl Timeouts {
    /// `SO_RCVTIMEO` (`rcv`) or `SO_SNDTIMEO`.
    pub fn get(&self, rcv: bool) -> Timeout {
        if rcv {
            self.rcv
        } else {
            self.snd
        }
    }

    /// Sets `SO_RCVTIMEO` (`rcv`) or `SO_SNDTIMEO`.
    pub fn set(&mut self, rcv: bool, t: Timeout) {
        if rcv {
            self.rcv = t;
        } else {
            self.snd = t;
        }
    }
}

/// Waits on `queues` until `ready` answers, as a socket call with timeout `t` does: EAGAIN
/// at once when `nonblock` or `t` is zero, EAGAIN when `t` passes, EINTR (never a restart)
/// for a signal when a time is set, as Linux's `sock_intr_errno`.
pub(crate) fn wait_timed<T>(
    t: Timeout,
    nonblock: bool,
    queues: &[&WaitQueue],
    mut ready: impl FnMut() -> Option<Result<T, Errno>>,
) -> Result<T, Errno> {
    if let Some(r) = ready() {
        return r;
    }
    let deadline = match t {
        _ if nonblock => return Err(Errno::EAGAIN),
        Timeout::Zero => return Err(Errno::EAGAIN),
        Timeout::Forever => None,
        Timeout::After(d) => Some(Instant::now().checked_add(d)),
    };
    match block(queues, deadline.flatten(), ready) {
        Err(Errno::ETIMEDOUT) => Err(Errno::EAGAIN),
        Err(Errno::ERESTARTSYS) if deadline.is_some() => Err(Errno::EINTR),
        r => r,
    }
}
