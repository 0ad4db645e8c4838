//! The file descriptor table of a process (shared by threads created with `CLONE_FILES`).
//!
//! The table is also the owner of the process's POSIX record locks (as Linux's
//! `files_struct`), so every path that lets go of fds reports them to [`super::locks`]; a
//! description's last reference going here is its close for [`super::inotify`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use snare_abi::Errno;

use super::{inotify, locks, FileDescription};

/// One slot of the table.
#[derive(Clone, Debug)]
pub struct FdEntry {
    pub file: Arc<dyn FileDescription>,
    pub cloexec: bool,
}

/// Fd number → open file description. Methods take `&self`: the table is shared between the
/// threads of a process, and locks itself for each operation.
#[derive(Debug)]
pub struct FdTable {
    fds: Mutex<BTreeMap<i32, FdEntry>>,
    /// Owner id of the POSIX locks taken through this table: unique for the Sentry's life,
    /// so a new table never inherits a dead one's locks.
    lock_owner: u64,
}

fn next_lock_owner() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Default for FdTable {
    fn default() -> FdTable {
        FdTable {
            fds: Mutex::default(),
            lock_owner: next_lock_owner(),
        }
    }
}

impl Drop for FdTable {
    fn drop(&mut self) {
        self.clear();
    }
}

impl FdTable {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<i32, FdEntry>> {
        self.fds.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of the table, as `fork` (no `CLONE_FILES`) gives the child: the same
    /// descriptions, but not the locks (a new owner).
    pub fn duplicate(&self) -> FdTable {
        FdTable {
            fds: Mutex::new(self.lock().clone()),
            lock_owner: next_lock_owner(),
        }
    }

    /// The owner id of POSIX locks taken through this table.
    pub(crate) fn lock_owner(&self) -> u64 {
        self.lock_owner
    }

    /// Drops descriptions that left the table (called without the table's mutex: a drop may
    /// block or wake others, e.g. the last writer of a pipe). Closing an fd releases this
    /// table's POSIX locks on its file and ends this table's dnotify registration on it;
    /// dropping a description's last reference releases its OFD and flock locks.
    fn let_go(&self, files: Vec<Arc<dyn FileDescription>>) {
        if inotify::watching() {
            for f in &files {
                inotify::dnotify_flush(self.lock_owner, &**f);
            }
        }
        let table = locks::table();
        if table.has_posix(self.lock_owner) {
            for f in &files {
                if let Ok(key) = locks::key_of(&**f) {
                    table.release_posix(self.lock_owner, key);
                }
            }
        }
        Self::drop_descriptions(files);
    }

    fn drop_descriptions(files: Vec<Arc<dyn FileDescription>>) {
        Self::drop_each(files);
        // A socket in flight that only other sockets in flight reach may just have lost its
        // last fd (one atomic load when nothing is in flight).
        crate::net::unix::gc::collect_if_needed();
    }

    fn drop_each(files: Vec<Arc<dyn FileDescription>>) {
        for f in files {
            let id = locks::description_id(&f);
            let closing = inotify::Closing::of(&f);
            // The weak reference keeps the address from being reused until we are done.
            let weak = Arc::downgrade(&f);
            drop(f);
            if weak.strong_count() == 0 {
                locks::table().description_gone(id);
                if let Some(c) = closing {
                    c.report();
                }
            }
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

    /// The lowest free fd ≥ `min` in `fds`, if it is below `limit`.
    fn lowest_free(fds: &BTreeMap<i32, FdEntry>, min: i32, limit: i32) -> Option<i32> {
        let mut fd = min.max(0);
        for (&k, _) in fds.range(fd..) {
            if k != fd || fd >= limit {
                break;
            }
            fd = fd.checked_add(1)?;
        }
        (fd < limit).then_some(fd)
    }

    /// Installs `file` at the lowest free fd ≥ `min`; EMFILE unless that is below `limit`
    /// (the process's RLIMIT_NOFILE), as Linux.
    pub fn install(
        &self,
        file: Arc<dyn FileDescription>,
        cloexec: bool,
        min: i32,
        limit: i32,
    ) -> Result<i32, Errno> {
        let mut fds = self.lock();
        let fd = Self::lowest_free(&fds, min, limit).ok_or(Errno::EMFILE)?;
        fds.insert(fd, FdEntry { file, cloexec });
        Ok(fd)
    }

    /// EMFILE if no fd below `limit` is free (checked before opening something only to
    /// find no room for it).
    pub fn check_room(&self, limit: i32) -> Result<(), Errno> {
        Self::lowest_free(&self.lock(), 0, limit)
            .map(drop)
            .ok_or(Errno::EMFILE)
    }

    /// Installs `file` at exactly `fd`, closing what was there; EBADF unless `fd` is below
    /// `limit` (the process's RLIMIT_NOFILE), as `dup2(2)`.
    pub fn install_at(
        &self,
        fd: i32,
        file: Arc<dyn FileDescription>,
        cloexec: bool,
        limit: i32,
    ) -> Result<(), Errno> {
        if !(0..limit).contains(&fd) {
            return Err(Errno::EBADF);
        }
        let old = self.lock().insert(fd, FdEntry { file, cloexec });
        self.let_go(old.map(|e| e.file).into_iter().collect());
        Ok(())
    }

    pub fn close(&self, fd: i32) -> Result<(), Errno> {
        let old = self.lock().remove(&fd).ok_or(Errno::EBADF)?;
        self.let_go(vec![old.file]);
        Ok(())
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
                    closed.extend(fds.remove(&k).map(|e| e.file));
                }
            }
        }
        self.let_go(closed);
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
        self.let_go(closed);
    }

    /// Closes everything (the last thread of a process exited): all its POSIX locks go.
    pub fn clear(&self) {
        let all = std::mem::take(&mut *self.lock());
        if inotify::watching() {
            for e in all.values() {
                inotify::dnotify_flush(self.lock_owner, &*e.file);
            }
        }
        locks::table().release_posix_all(self.lock_owner);
        Self::drop_descriptions(all.into_values().map(|e| e.file).collect());
    }

    /// One past the highest open fd (0 with none).
    pub fn end(&self) -> i32 {
        self.lock()
            .last_key_value()
            .map_or(0, |(&k, _)| k.saturating_add(1))
    }

    /// Open fds in order.
    pub fn fds(&self) -> Vec<i32> {
        self.lock().keys().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> Arc<dyn FileDescription> {
        crate::vfs::pipe::Pipe::new_pair(0, 0, 0).0
    }

    #[test]
    fn the_limit_bounds_fd_numbers() {
        let t = FdTable::default();
        assert_eq!(t.install(file(), false, 0, 2), Ok(0));
        assert_eq!(t.install(file(), false, 0, 2), Ok(1));
        assert_eq!(t.install(file(), false, 0, 2), Err(Errno::EMFILE));
        assert_eq!(t.check_room(2), Err(Errno::EMFILE));
        assert_eq!(t.check_room(3), Ok(()));
        assert_eq!(t.install(file(), false, 5, 6), Ok(5));
        assert_eq!(t.install(file(), false, 5, 6), Err(Errno::EMFILE));
        assert_eq!(t.install_at(6, file(), false, 6), Err(Errno::EBADF));
        assert_eq!(t.install_at(-1, file(), false, 6), Err(Errno::EBADF));
        assert_eq!(t.install_at(4, file(), false, 6), Ok(()));
        assert_eq!(t.end(), 6);
        assert_eq!(
            t.install(file(), false, i32::MAX, i32::MAX),
            Err(Errno::EMFILE)
        );
    }
}
