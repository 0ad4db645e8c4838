//! pidfds: file descriptors that name a process (`pidfd_open`, `CLONE_PIDFD`). Readable
//! (for poll/epoll) once the process has exited.

use std::sync::Arc;

use snare_abi::file::Stat;
use snare_abi::Errno;

use super::process::ThreadGroup;
use super::wait::WaitQueue;
use crate::vfs::{poll, FileDescription};

/// An open pidfd.
#[derive(Debug)]
pub struct PidFd {
    pub tg: Arc<ThreadGroup>,
    flags: u32,
}

impl PidFd {
    pub fn new(tg: Arc<ThreadGroup>, flags: u32) -> PidFd {
        PidFd { tg, flags }
    }
}

impl FileDescription for PidFd {
    fn read(&self, _buf: &mut [u8]) -> Result<usize, Errno> {
        Err(Errno::EINVAL)
    }

    fn write(&self, _data: &[u8]) -> Result<usize, Errno> {
        Err(Errno::EINVAL)
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(Stat {
            st_mode: 0o600,
            st_nlink: 1,
            st_ino: self.tg.tgid as u64,
            st_blksize: 4096,
            ..Stat::default()
        })
    }

    fn status_flags(&self) -> u32 {
        self.flags | snare_abi::file::o::RDWR
    }

    fn path(&self) -> Vec<u8> {
        b"anon_inode:[pidfd]".to_vec()
    }

    fn poll(&self) -> u32 {
        if self.tg.state().zombie.is_some() {
            poll::IN | poll::RDNORM
        } else {
            0
        }
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.tg.exit_events)
    }
}
