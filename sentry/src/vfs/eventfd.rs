//! eventfd: a 64-bit counter read and written 8 bytes at a time (`eventfd2(2)`).
//!
//! A read takes the whole counter (or 1 in semaphore mode) and waits while it is zero; a
//! write adds to it and waits while the sum would pass `u64::MAX - 1`. Every change notifies
//! the queue that readers, writers, poll and epoll watch.
//!
//! Deviation from Linux: one queue serves both directions, so a read also wakes an
//! edge-triggered epoll interest in `EPOLLIN` (Linux filters that wake-up by event; a
//! spurious edge only costs the program an `EAGAIN`).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use snare_abi::file::{o, Stat};
use snare_abi::Errno;

use super::pipe::{anon_stat, now_ts, wait_ready};
use super::{poll, FileDescription};
use crate::kernel::wait::WaitQueue;

/// `EFD_SEMAPHORE`: reads take 1 at a time.
pub const EFD_SEMAPHORE: u32 = 1;
/// The largest value the counter holds.
const MAX: u64 = u64::MAX - 1;

/// An eventfd's open file description.
#[derive(Debug)]
pub struct EventFd {
    count: Mutex<u64>,
    semaphore: bool,
    /// `O_NONBLOCK` (the access mode is always read-write).
    flags: AtomicU32,
    queue: WaitQueue,
    owner: (u32, u32),
    ctime: (i64, i64),
}

impl EventFd {
    /// A counter starting at `init`; `flags` are `eventfd2`'s (`EFD_*`, checked by the caller).
    pub fn new(init: u32, flags: u32, uid: u32, gid: u32) -> EventFd {
        EventFd {
            count: Mutex::new(u64::from(init)),
            semaphore: flags & EFD_SEMAPHORE != 0,
            flags: AtomicU32::new(flags & o::NONBLOCK),
            queue: WaitQueue::new(),
            owner: (uid, gid),
            ctime: now_ts(),
        }
    }

    fn nonblock(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & o::NONBLOCK != 0
    }

    fn value(&self) -> std::sync::MutexGuard<'_, u64> {
        self.count.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl FileDescription for EventFd {
    fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        let v = wait_ready(self.nonblock(), &self.queue, || {
            let mut c = self.value();
            if *c == 0 {
                return None;
            }
            let v = if self.semaphore { 1 } else { *c };
            *c -= v;
            Some(Ok(v))
        })?;
        self.queue.notify();
        buf[..8].copy_from_slice(&v.to_ne_bytes());
        Ok(8)
    }

    fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        let Some(bytes) = data.get(..8) else {
            return Err(Errno::EINVAL);
        };
        let mut raw = [0u8; 8];
        raw.copy_from_slice(bytes);
        let add = u64::from_ne_bytes(raw);
        if add == u64::MAX {
            return Err(Errno::EINVAL);
        }
        wait_ready(self.nonblock(), &self.queue, || {
            let mut c = self.value();
            if MAX - *c < add {
                return None;
            }
            *c += add;
            Some(Ok(()))
        })?;
        self.queue.notify();
        Ok(8)
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(anon_stat(self.owner.0, self.owner.1, self.ctime))
    }

    fn status_flags(&self) -> u32 {
        o::RDWR | self.flags.load(Ordering::Relaxed)
    }

    fn set_status_flags(&self, flags: u32) {
        self.flags.store(flags & o::NONBLOCK, Ordering::Relaxed);
    }

    fn path(&self) -> Vec<u8> {
        b"anon_inode:[eventfd]".to_vec()
    }

    fn poll(&self) -> u32 {
        let c = *self.value();
        let mut ev = 0;
        if c > 0 {
            ev |= poll::IN | poll::RDNORM;
        }
        if c < MAX {
            ev |= poll::OUT | poll::WRNORM;
        }
        ev
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.queue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rd(e: &EventFd) -> Result<u64, Errno> {
        let mut b = [0u8; 8];
        e.read(&mut b)?;
        Ok(u64::from_ne_bytes(b))
    }

    #[test]
    fn counter_and_semaphore() {
        let e = EventFd::new(3, o::NONBLOCK, 0, 0);
        e.write(&5u64.to_ne_bytes()).expect("write");
        assert_eq!(rd(&e), Ok(8));
        assert_eq!(rd(&e), Err(Errno::EAGAIN));
        let s = EventFd::new(2, EFD_SEMAPHORE | o::NONBLOCK, 0, 0);
        assert_eq!((rd(&s), rd(&s), rd(&s)), (Ok(1), Ok(1), Err(Errno::EAGAIN)));
    }

    #[test]
    fn overflow() {
        let e = EventFd::new(0, o::NONBLOCK, 0, 0);
        assert_eq!(e.write(&u64::MAX.to_ne_bytes()), Err(Errno::EINVAL));
        assert_eq!(e.write(&[0u8; 4]), Err(Errno::EINVAL));
        e.write(&(u64::MAX - 1).to_ne_bytes()).expect("ok");
        assert_eq!(e.poll() & poll::OUT, 0);
        assert_eq!(e.write(&1u64.to_ne_bytes()), Err(Errno::EAGAIN));
        assert_eq!(e.read(&mut [0u8; 4]), Err(Errno::EINVAL));
    }

    #[test]
    fn blocked_reader_wakes() {
        let e = std::sync::Arc::new(EventFd::new(0, 0, 0, 0));
        let e2 = e.clone();
        let t = std::thread::spawn(move || rd(&e2));
        std::thread::sleep(std::time::Duration::from_millis(20));
        e.write(&9u64.to_ne_bytes()).expect("write");
        assert_eq!(t.join().expect("join"), Ok(9));
    }
}
