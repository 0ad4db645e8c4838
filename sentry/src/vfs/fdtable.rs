//! The file descriptor table of a process (shared by threads created with `CLONE_FILES`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

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

/// Fd number → open file description. Methods take `&self`: the table is shared between the
/// threads of a process, and locks itself for each operation.
#[derive(Debug, Default)]
pub struct FdTable {
    fds: Mutex<BTreeMap<i32, FdEntry>>,
}

impl FdTable {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<i32, FdEntry>> {
        self.fds.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of the table, as `fork` (no `CLONE_FILES`) gives the child.
    pub fn duplicate(&self) -> FdTable {
        FdTable {
            fds: Mutex::new(self.lock().clone()),
        }
    }

    pub fn get(&self, fd: i32) -> Result<Arc<dyn FileDescription>, Errno> {
        self.lock()
            .get(&fd)
            .map(|e| e.file.clone())
            .ok_or(Errno::EBADF)
    }

    /// The fd's close-on-exec flag.
    pub fn cloexec(&self, fd: i32) -> Result<bool, Errno> {
        self.lock().get(&fd).map(|e| e.cloexec).ok_or(Errno::EBADF)
    }

    /// Sets the fd's close-on-exec flag.
    pub fn set_cloexec(&self, fd: i32, cloexec: bool) -> Result<(), Errno> {
        self.lock()
            .get_mut(&fd)
            .map(|e| e.cloexec = cloexec)
            .ok_or(Errno::EBADF)
    }

    /// Installs `file` at the lowest free fd ≥ `min`.
    pub fn install(
        &self,
        file: Arc<dyn FileDescription>,
        cloexec: bool,
        min: i32,
    ) -> Result<i32, Errno> {
        let mut fds = self.lock();
        let mut fd = min.max(0);
        for (&k, _) in fds.range(fd..) {
            if k != fd {
                break;
            }
            fd += 1;
        }
        if fd >= NOFILE {
            return Err(Errno::EMFILE);
        }
        fds.insert(fd, FdEntry { file, cloexec });
        Ok(fd)
    }

    /// Installs `file` at exactly `fd`, closing what was there.
    pub fn install_at(
        &self,
        fd: i32,
        file: Arc<dyn FileDescription>,
        cloexec: bool,
    ) -> Result<(), Errno> {
        if !(0..NOFILE).contains(&fd) {
            return Err(Errno::EBADF);
        }
        // The old description is dropped after the lock is released (its drop may block or
        // wake others, e.g. the last writer of a pipe).
        let old = self.lock().insert(fd, FdEntry { file, cloexec });
        drop(old);
        Ok(())
    }

    pub fn close(&self, fd: i32) -> Result<(), Errno> {
        let old = self.lock().remove(&fd);
        old.map(drop).ok_or(Errno::EBADF)
    }

    /// Closes `[first, last]`, or marks them close-on-exec.
    pub fn close_range(&self, first: i32, last: i32, cloexec_only: bool) {
        let mut closed = Vec::new();
        {
            let mut fds = self.lock();
            let keys: Vec<i32> = fds.range(first..=last).map(|(&k, _)| k).collect();
            for k in keys {
                if cloexec_only {
                    if let Some(e) = fds.get_mut(&k) {
                        e.cloexec = true;
                    }
                } else {
                    closed.extend(fds.remove(&k));
                }
            }
        }
        drop(closed);
    }

    /// Drops close-on-exec fds (at execve).
    pub fn close_on_exec(&self) {
        let mut closed = Vec::new();
        self.lock().retain(|_, e| {
            if e.cloexec {
                closed.push(e.file.clone());
            }
            !e.cloexec
        });
        drop(closed);
    }

    /// Closes everything (the last thread of a process exited).
    pub fn clear(&self) {
        let all = std::mem::take(&mut *self.lock());
        drop(all);
    }

    /// Open fds in order.
    pub fn fds(&self) -> Vec<i32> {
        self.lock().keys().copied().collect()
    }
}
