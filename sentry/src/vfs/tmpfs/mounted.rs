//! The tmpfs as a mounted filesystem ([`Filesystem`]).

use super::*;

/// The tmpfs as a mounted filesystem (paths from its root, see [`crate::vfs::filesystem`]).
impl Filesystem for Tmpfs {
    fn moving_dir(
        &self,
        _cx: &dyn Caller,
        path: &[u8],
        guest: &[u8],
    ) -> Option<Arc<dyn FileDescription>> {
        let flags = o::PATH | o::DIRECTORY;
        Tmpfs::open_as(self, fs_rel(path), flags, 0, 0, Some(guest)).ok()
    }

    fn fstype(&self) -> &'static str {
        "tmpfs"
    }

    fn dev(&self) -> u64 {
        self.lock().dev
    }

    fn step(
        &self,
        _cx: &dyn Caller,
        path: &[u8],
        name: &[u8],
        at: Option<Cursor>,
    ) -> Result<(Entry, Option<Cursor>), Errno> {
        let (ino, entry) = match at {
            Some(c) => self.walk_child(c.ino, name)?,
            None if path == b"/" => self.walk_child(ROOT_INO, b".")?,
            None => self.walk_lookup(fs_rel(path))?,
        };
        Ok(match entry {
            WalkEntry::Dir(p) => (Entry::Dir(p), Some(Cursor { ino, aux: 0 })),
            WalkEntry::Symlink(t) => (Entry::Symlink(t), None),
            WalkEntry::Other => (Entry::Other, None),
        })
    }

    fn up(&self, c: Cursor) -> Option<Cursor> {
        match self.walk_child(c.ino, b"..") {
            Ok((ino, WalkEntry::Dir(_))) => Some(Cursor { ino, aux: 0 }),
            _ => None,
        }
    }

    fn stat(&self, _cx: &dyn Caller, path: &[u8], _follow: bool) -> Result<Stat, Errno> {
        Tmpfs::stat(self, fs_rel(path), false)
    }

    fn readlink(&self, _cx: &dyn Caller, path: &[u8]) -> Result<Vec<u8>, Errno> {
        Tmpfs::readlink(self, fs_rel(path))
    }

    fn open(
        &self,
        cx: &dyn Caller,
        path: &[u8],
        guest: &[u8],
        flags: u32,
        mode: u32,
    ) -> Result<Arc<dyn FileDescription>, Errno> {
        Tmpfs::open_as(self, fs_rel(path), flags, mode, cx.umask(), Some(guest))
    }

    fn statfs(&self, _cx: &dyn Caller, path: &[u8]) -> Result<[u8; 120], Errno> {
        Tmpfs::stat(self, fs_rel(path), false)?;
        Ok(Tmpfs::statfs(self))
    }

    fn mkdir(&self, cx: &dyn Caller, path: &[u8], mode: u32) -> Result<(), Errno> {
        Tmpfs::mkdir(self, fs_rel(path), mode, cx.umask())
    }

    fn mkfifo(&self, cx: &dyn Caller, path: &[u8], mode: u32) -> Result<(), Errno> {
        Tmpfs::mkfifo(self, fs_rel(path), mode, cx.umask())
    }

    fn mksock(&self, cx: &dyn Caller, path: &[u8], mode: u32) -> Result<(), Errno> {
        Tmpfs::mksock(self, fs_rel(path), mode, cx.umask())
    }

    fn rmdir(&self, path: &[u8]) -> Result<(), Errno> {
        Tmpfs::rmdir(self, fs_rel(path))
    }

    fn unlink(&self, path: &[u8]) -> Result<(), Errno> {
        Tmpfs::unlink(self, fs_rel(path))
    }

    fn rename(&self, old: &[u8], new: &[u8], flags: u32) -> Result<(), Errno> {
        Tmpfs::rename(self, fs_rel(old), fs_rel(new), flags)
    }

    fn symlink(&self, target: &[u8], path: &[u8]) -> Result<(), Errno> {
        Tmpfs::symlink(self, target, fs_rel(path))
    }

    fn link(&self, old: &[u8], new: &[u8]) -> Result<(), Errno> {
        Tmpfs::link(self, fs_rel(old), fs_rel(new))
    }

    fn link_file(&self, file: &dyn FileDescription, new: &[u8]) -> Result<(), Errno> {
        Tmpfs::link_open(self, file, fs_rel(new))
    }

    fn truncate(&self, path: &[u8], len: u64) -> Result<(), Errno> {
        Tmpfs::truncate(self, fs_rel(path), len)
    }

    fn chmod(&self, path: &[u8], mode: u32) -> Result<(), Errno> {
        Tmpfs::chmod(self, fs_rel(path), mode, false)
    }

    fn chown(&self, path: &[u8], uid: u32, gid: u32) -> Result<(), Errno> {
        Tmpfs::chown(self, fs_rel(path), uid, gid, false)
    }

    fn utimens(
        &self,
        path: &[u8],
        atime: Option<(i64, i64)>,
        mtime: Option<(i64, i64)>,
    ) -> Result<(), Errno> {
        Tmpfs::utimens(self, fs_rel(path), atime, mtime, false)
    }

    fn getxattr(&self, _cx: &dyn Caller, path: &[u8], name: &[u8]) -> Result<Vec<u8>, Errno> {
        Tmpfs::getxattr(self, fs_rel(path), name, false)
    }

    fn listxattr(&self, _cx: &dyn Caller, path: &[u8]) -> Result<Vec<Vec<u8>>, Errno> {
        Tmpfs::listxattr(self, fs_rel(path), false)
    }

    fn setxattr(&self, path: &[u8], name: &[u8], value: &[u8], flags: u32) -> Result<(), Errno> {
        Tmpfs::setxattr(self, fs_rel(path), name, value, flags, false)
    }

    fn removexattr(&self, path: &[u8], name: &[u8]) -> Result<(), Errno> {
        Tmpfs::removexattr(self, fs_rel(path), name, false)
    }
}
