//! The file descriptor table of a process.

use std::collections::BTreeMap;
use std::sync::Arc;

use snare_abi::Errno;

use super::FileDescription;

/// Most fds a process may hold (RLIMIT_NOFILE).
pub const NOFILE: i32 = 1024;

/// One slot of the table.
#[derive(Clone, Debug)]
pub struct FdEntry {
    pub file: Arc<dyn FileDescription>,
    pub cloexec: bool,
}

/// Fd number → open file description.
#[derive(Clone, Debug, Default)]
pub struct FdTable {
    fds: BTreeMap<i32, FdEntry>,
}

impl FdTable {
    pub fn get(&self, fd: i32) -> Result<Arc<dyn FileDescription>, Errno> {
        self.fds
            .get(&fd)
            .map(|e| e.file.clone())
            .ok_or(Errno::EBADF)
    }

    pub fn entry(&self, fd: i32) -> Result<&FdEntry, Errno> {
        self.fds.get(&fd).ok_or(Errno::EBADF)
    }

    pub fn entry_mut(&mut self, fd: i32) -> Result<&mut FdEntry, Errno> {
        self.fds.get_mut(&fd).ok_or(Errno::EBADF)
    }

    /// Installs `file` at the lowest free fd ≥ `min`.
    pub fn install(
        &mut self,
        file: Arc<dyn FileDescription>,
        cloexec: bool,
        min: i32,
    ) -> Result<i32, Errno> {
        let mut fd = min.max(0);
        for (&k, _) in self.fds.range(fd..) {
            if k != fd {
                break;
            }
            fd += 1;
        }
        if fd >= NOFILE {
            return Err(Errno::EMFILE);
        }
        self.fds.insert(fd, FdEntry { file, cloexec });
        Ok(fd)
    }

    /// Installs `file` at exactly `fd`, closing what was there.
    pub fn install_at(
        &mut self,
        fd: i32,
        file: Arc<dyn FileDescription>,
        cloexec: bool,
    ) -> Result<(), Errno> {
        if !(0..NOFILE).contains(&fd) {
            return Err(Errno::EBADF);
        }
        self.fds.insert(fd, FdEntry { file, cloexec });
        Ok(())
    }

    pub fn close(&mut self, fd: i32) -> Result<(), Errno> {
        self.fds.remove(&fd).map(drop).ok_or(Errno::EBADF)
    }

    /// Closes `[first, last]`, or marks them close-on-exec.
    pub fn close_range(&mut self, first: i32, last: i32, cloexec_only: bool) {
        let keys: Vec<i32> = self.fds.range(first..=last).map(|(&k, _)| k).collect();
        for k in keys {
            if cloexec_only {
                if let Some(e) = self.fds.get_mut(&k) {
                    e.cloexec = true;
                }
            } else {
                self.fds.remove(&k);
            }
        }
    }

    /// Drops close-on-exec fds (at execve).
    pub fn close_on_exec(&mut self) {
        self.fds.retain(|_, e| !e.cloexec);
    }

    /// Open fds in order.
    pub fn fds(&self) -> Vec<i32> {
        self.fds.keys().copied().collect()
    }
}
