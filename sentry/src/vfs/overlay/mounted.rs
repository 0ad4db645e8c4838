//! The overlay as a mounted filesystem ([`Filesystem`]), with its walk: a cursor on both
//! layers.

use std::sync::Arc;

use snare_abi::file::{o, Stat};
use snare_abi::Errno;

use super::{is_dir, rel, Loc, Overlay};
use crate::vfs::filesystem::{Caller, Cursor, Entry, Filesystem};
use crate::vfs::host::DentryRef;
use crate::vfs::tmpfs::WalkEntry;
use crate::vfs::FileDescription;

/// A walk cursor's `ino` when the directory has no upper side (see [`Overlay::step`]).
const NO_UPPER: u64 = u64::MAX;
/// In a walk cursor's `aux`: a lower directory merges into this one, and the rest of `aux`
/// is its dentry ([`DentryRef::to_bits`]). Without it, `aux` counts how far below the
/// nearest directory with a merging parent the cursor is.
const MERGES: u64 = 1 << 63;

impl Overlay {
    /// The lower layer's `name` in the lower directory of the cursor's `aux` (see
    /// [`MERGES`]), `path` being its whole path.
    fn lower_child(&self, aux: u64, name: &[u8], path: &[u8]) -> Result<(DentryRef, Stat), Errno> {
        match self
            .lower
            .step(DentryRef::from_bits(aux & !MERGES), name, path)
        {
            Some(r) => r,
            None => self.lower.walk(path),
        }
    }

    /// A walk's first step in the overlay: the whole path looked up, and the cursor of a
    /// directory for the next.
    fn first_step(&self, path: &[u8]) -> Result<(Entry, Option<Cursor>), Errno> {
        let loc = self.locate(path)?;
        let st = *loc.stat().ok_or(Errno::ENOENT)?;
        let entry = Entry::of(&st, || Overlay::readlink(self, path))?;
        let merging = |path: &[u8]| match self.lower.walk(path) {
            Ok((r, st)) if is_dir(&st) => Some(MERGES | r.to_bits()),
            _ => None,
        };
        let cursor = match (&entry, loc) {
            (Entry::Dir(_), Loc::Lower(_)) => {
                merging(path).map(|aux| Cursor { ino: NO_UPPER, aux })
            }
            (Entry::Dir(_), Loc::Upper(_)) => match self.upper.walk_lookup(rel(path)) {
                Ok((ino, WalkEntry::Dir(_))) => Some(Cursor {
                    ino,
                    aux: match self.merged(path) {
                        true => merging(path).unwrap_or(0),
                        false => 0,
                    },
                }),
                _ => None,
            },
            _ => None,
        };
        Ok((entry, cursor))
    }
}

/// The overlay as a mounted filesystem: its paths are already absolute from its root.
impl Filesystem for Overlay {
    /// Only a directory of the upper layer can move (one with lower contents is EXDEV):
    /// its upper description; none for the others (no host fd opened for nothing).
    fn moving_dir(
        &self,
        _cx: &dyn Caller,
        path: &[u8],
        _guest: &[u8],
    ) -> Option<Arc<dyn FileDescription>> {
        match self.locate(path) {
            Ok(Loc::Upper(st)) if is_dir(&st) => self
                .upper
                .open(rel(path), o::PATH | o::DIRECTORY, 0, 0)
                .ok(),
            _ => None,
        }
    }

    fn fstype(&self) -> &'static str {
        "overlay"
    }

    fn dev(&self) -> u64 {
        Overlay::stat(self, b"/").map_or(0, |s| s.st_dev)
    }

    /// One name at a time from the directory the cursor stands for: one lookup in its upper
    /// directory (with that directory's marks) and, where a lower directory merges into it,
    /// one in the lower layer's cache. The first step (or one after a `..` the cursor can't
    /// follow) looks the whole path up. A walk costs O(depth) in both layers.
    fn step(
        &self,
        _cx: &dyn Caller,
        path: &[u8],
        name: &[u8],
        at: Option<Cursor>,
    ) -> Result<(Entry, Option<Cursor>), Errno> {
        let Some(c) = at else {
            return self.first_step(path);
        };
        let lower_here = c.aux & MERGES != 0;
        if !lower_here {
            // Below a directory of the upper layer alone: nothing to merge or hide.
            let (ino, entry) = self.upper.walk_child(c.ino, name)?;
            return Ok(match entry {
                WalkEntry::Dir(p) => (
                    Entry::Dir(p),
                    Some(Cursor {
                        ino,
                        aux: c.aux + 1,
                    }),
                ),
                WalkEntry::Symlink(t) => (Entry::Symlink(t), None),
                WalkEntry::Other => (Entry::Other, None),
            });
        }
        let upper = match c.ino {
            NO_UPPER => None,
            ino => Some(self.upper.walk_marked(ino, name)?),
        };
        let lower = match upper.as_ref().is_some_and(|u| u.hides) {
            true => None,
            false => match self.lower_child(c.aux, name, path) {
                Ok(found) => Some(found),
                Err(Errno::ENOENT) => None,
                Err(e) => return Err(e),
            },
        };
        Ok(match upper.and_then(|u| u.child) {
            Some((ino, WalkEntry::Dir(p), opaque)) => {
                let aux = match lower {
                    Some((r, st)) if !opaque && is_dir(&st) => MERGES | r.to_bits(),
                    _ => 0,
                };
                (Entry::Dir(p), Some(Cursor { ino, aux }))
            }
            Some((_, WalkEntry::Symlink(t), _)) => (Entry::Symlink(t), None),
            Some((_, WalkEntry::Other, _)) => (Entry::Other, None),
            None => {
                let (r, st) = lower.ok_or(Errno::ENOENT)?;
                let entry = Entry::of(&st, || self.lower.readlink_at(r, path))?;
                let cursor = matches!(entry, Entry::Dir(_)).then_some(Cursor {
                    ino: NO_UPPER,
                    aux: MERGES | r.to_bits(),
                });
                (entry, cursor)
            }
        })
    }

    /// `..` stays on the cursor while it is below the directory of the upper layer alone
    /// it began at (whose parent's lower side the cursor doesn't know).
    fn up(&self, c: Cursor) -> Option<Cursor> {
        if c.aux & MERGES != 0 || c.aux == 0 {
            return None;
        }
        match self.upper.walk_child(c.ino, b"..") {
            Ok((ino, WalkEntry::Dir(_))) => Some(Cursor {
                ino,
                aux: c.aux - 1,
            }),
            _ => None,
        }
    }

    fn stat(&self, _cx: &dyn Caller, path: &[u8], _follow: bool) -> Result<Stat, Errno> {
        Overlay::stat(self, path)
    }

    fn readlink(&self, _cx: &dyn Caller, path: &[u8]) -> Result<Vec<u8>, Errno> {
        Overlay::readlink(self, path)
    }

    fn open(
        &self,
        cx: &dyn Caller,
        path: &[u8],
        _guest: &[u8],
        flags: u32,
        mode: u32,
    ) -> Result<Arc<dyn FileDescription>, Errno> {
        Overlay::open(self, path, flags, mode, cx.umask())
    }

    fn statfs(&self, _cx: &dyn Caller, path: &[u8]) -> Result<[u8; 120], Errno> {
        Overlay::statfs(self, path)
    }

    fn fast_stat(&self, path: &[u8], follow: bool) -> Option<Result<Stat, Errno>> {
        if !self.untouched(path) {
            return None;
        }
        match self.lower.stat_how(path, follow, true) {
            Err(Errno::ELOOP) => None,
            r => Some(r),
        }
    }

    fn fast_open(
        &self,
        path: &[u8],
        flags: u32,
    ) -> Option<Result<Arc<dyn FileDescription>, Errno>> {
        if !self.untouched(path) {
            return None;
        }
        match self.lower.open_file_how(path, flags, true) {
            Err(Errno::ELOOP) => None,
            r => Some(r.map(|f| Arc::new(f) as Arc<dyn FileDescription>)),
        }
    }

    fn mkdir(&self, cx: &dyn Caller, path: &[u8], mode: u32) -> Result<(), Errno> {
        Overlay::mkdir(self, path, mode, cx.umask())
    }

    fn mkfifo(&self, cx: &dyn Caller, path: &[u8], mode: u32) -> Result<(), Errno> {
        Overlay::mkfifo(self, path, mode, cx.umask())
    }

    fn mksock(&self, cx: &dyn Caller, path: &[u8], mode: u32) -> Result<(), Errno> {
        Overlay::mksock(self, path, mode, cx.umask())
    }

    fn rmdir(&self, path: &[u8]) -> Result<(), Errno> {
        Overlay::rmdir(self, path)
    }

    fn unlink(&self, path: &[u8]) -> Result<(), Errno> {
        Overlay::unlink(self, path)
    }

    fn rename(&self, old: &[u8], new: &[u8], flags: u32) -> Result<(), Errno> {
        Overlay::rename(self, old, new, flags)
    }

    fn symlink(&self, target: &[u8], path: &[u8]) -> Result<(), Errno> {
        Overlay::symlink(self, target, path)
    }

    fn link(&self, old: &[u8], new: &[u8]) -> Result<(), Errno> {
        Overlay::link(self, old, new)
    }

    fn link_file(&self, file: &dyn FileDescription, new: &[u8]) -> Result<(), Errno> {
        Overlay::link_open(self, file, new)
    }

    fn truncate(&self, path: &[u8], len: u64) -> Result<(), Errno> {
        Overlay::truncate(self, path, len)
    }

    fn chmod(&self, path: &[u8], mode: u32) -> Result<(), Errno> {
        Overlay::chmod(self, path, mode)
    }

    fn chown(&self, path: &[u8], uid: u32, gid: u32) -> Result<(), Errno> {
        Overlay::chown(self, path, uid, gid)
    }

    fn utimens(
        &self,
        path: &[u8],
        atime: Option<(i64, i64)>,
        mtime: Option<(i64, i64)>,
    ) -> Result<(), Errno> {
        Overlay::utimens(self, path, atime, mtime)
    }

    fn getxattr(&self, _cx: &dyn Caller, path: &[u8], name: &[u8]) -> Result<Vec<u8>, Errno> {
        Overlay::getxattr(self, path, name)
    }

    fn listxattr(&self, _cx: &dyn Caller, path: &[u8]) -> Result<Vec<Vec<u8>>, Errno> {
        Overlay::listxattr(self, path)
    }

    fn setxattr(&self, path: &[u8], name: &[u8], value: &[u8], flags: u32) -> Result<(), Errno> {
        Overlay::setxattr(self, path, name, value, flags)
    }

    fn removexattr(&self, path: &[u8], name: &[u8]) -> Result<(), Errno> {
        Overlay::removexattr(self, path, name)
    }
}
