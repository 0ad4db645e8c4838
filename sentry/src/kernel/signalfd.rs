//! signalfd: reading pending signals as `struct signalfd_siginfo` records.

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use snare_abi::file::{o, Stat};
use snare_abi::signal::{SigInfo, SIGBUS, SIGCHLD, SIGFPE, SIGILL, SIGSEGV, SIGTRAP};
use snare_abi::Errno;

use super::process::{lock, TaskHandle, ThreadGroup, UNBLOCKABLE};
use super::wait::{self, WaitQueue};
use crate::vfs::{poll, FileDescription};

/// Size of `struct signalfd_siginfo`.
pub const SIGINFO_SIZE: usize = 128;

thread_local! {
    static CURRENT_TASK: RefCell<Option<Arc<TaskHandle>>> = const { RefCell::new(None) };
}

/// Records the task run by this Sentry thread (for files that act on "the reader").
pub fn set_current_task(t: Arc<TaskHandle>) {
    CURRENT_TASK.with(|c| *c.borrow_mut() = Some(t));
}

fn current_task() -> Option<Arc<TaskHandle>> {
    CURRENT_TASK.with(|c| c.borrow().clone())
}

/// An open signalfd.
#[derive(Debug)]
pub struct SignalFd {
    /// The creating process: its queue wakes pollers.
    tg: Arc<ThreadGroup>,
    mask: Mutex<u64>,
    flags: Mutex<u32>,
}

impl SignalFd {
    pub fn new(tg: Arc<ThreadGroup>, mask: u64, flags: u32) -> SignalFd {
        SignalFd {
            tg,
            mask: Mutex::new(mask & !UNBLOCKABLE),
            flags: Mutex::new(flags & o::NONBLOCK),
        }
    }

    pub fn set_mask(&self, mask: u64) {
        *lock(&self.mask) = mask & !UNBLOCKABLE;
    }

    fn take(&self, t: &TaskHandle) -> Option<SigInfo> {
        let mask = *lock(&self.mask);
        lock(&t.sig)
            .pending
            .take(mask)
            .or_else(|| lock(&t.tg.shared_pending).take(mask))
    }
}

/// `struct signalfd_siginfo` of `i`.
fn record(i: &SigInfo) -> [u8; SIGINFO_SIZE] {
    let mut r = [0u8; SIGINFO_SIZE];
    let mut put = |at: usize, b: &[u8]| r[at..at + b.len()].copy_from_slice(b);
    put(0, &(i.si_signo as u32).to_ne_bytes());
    put(4, &i.si_errno.to_ne_bytes());
    put(8, &i.si_code.to_ne_bytes());
    if matches!(i.si_signo, SIGSEGV | SIGBUS | SIGILL | SIGFPE | SIGTRAP) && i.si_code > 0 {
        put(72, &i.fields[0].to_ne_bytes()); // ssi_addr
    } else {
        put(12, &(i.fields[0] as u32).to_ne_bytes()); // ssi_pid
        put(16, &((i.fields[0] >> 32) as u32).to_ne_bytes()); // ssi_uid
        if i.si_signo == SIGCHLD {
            put(40, &(i.fields[1] as u32).to_ne_bytes()); // ssi_status
        } else {
            put(44, &(i.fields[1] as u32).to_ne_bytes()); // ssi_int
            put(48, &i.fields[1].to_ne_bytes()); // ssi_ptr
        }
    }
    r
}

impl FileDescription for SignalFd {
    fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        if buf.len() < SIGINFO_SIZE {
            return Err(Errno::EINVAL);
        }
        let t = current_task().ok_or(Errno::EINVAL)?;
        let mut n = 0;
        while n + SIGINFO_SIZE <= buf.len() {
            let info = if n == 0 {
                match self.take(&t) {
                    Some(i) => i,
                    None if *lock(&self.flags) & o::NONBLOCK != 0 => return Err(Errno::EAGAIN),
                    None => wait::block(&[&t.tg.signal_events], None, || self.take(&t).map(Ok))?,
                }
            } else {
                match self.take(&t) {
                    Some(i) => i,
                    None => break,
                }
            };
            buf[n..n + SIGINFO_SIZE].copy_from_slice(&record(&info));
            n += SIGINFO_SIZE;
        }
        Ok(n)
    }

    fn write(&self, _data: &[u8]) -> Result<usize, Errno> {
        Err(Errno::EINVAL)
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(Stat {
            st_mode: 0o600,
            st_nlink: 1,
            st_blksize: 4096,
            ..Stat::default()
        })
    }

    fn status_flags(&self) -> u32 {
        *lock(&self.flags) | o::RDWR
    }

    fn set_status_flags(&self, flags: u32) {
        *lock(&self.flags) = flags & o::NONBLOCK;
    }

    fn path(&self) -> Vec<u8> {
        b"anon_inode:[signalfd]".to_vec()
    }

    fn poll(&self) -> u32 {
        let mask = *lock(&self.mask);
        let mut pending = lock(&self.tg.shared_pending).pending();
        if let Some(t) = current_task() {
            pending |= lock(&t.sig).pending.pending();
        }
        if pending & mask != 0 {
            poll::IN | poll::RDNORM
        } else {
            0
        }
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.tg.signal_events)
    }
}
