//! The overlay's merged directories: a listing of both layers, read at open.

use std::sync::Mutex;

use snare_abi::file::{o, Stat};
use snare_abi::Errno;

use super::{parent_of, Overlay, DT_DIR};
use crate::vfs::{push_dirent, FileDescription, SEEK_CUR, SEEK_SET};

/// A directory of the overlay whose listing merges both layers (or hides whiteouts).
#[derive(Debug)]
pub(super) struct MergedDir {
    path: Vec<u8>,
    stat: Stat,
    flags: u32,
    parent_ino: u64,
    /// Read at open: (name, inode, type).
    entries: Vec<(Vec<u8>, u64, u8)>,
    statfs: [u8; 120],
    pos: Mutex<u64>,
}

impl MergedDir {
    pub(super) fn new(
        ov: &Overlay,
        path: &[u8],
        stat: Stat,
        flags: u32,
    ) -> Result<MergedDir, Errno> {
        if flags & o::ACCMODE != o::RDONLY {
            return Err(Errno::EISDIR);
        }
        let parent_ino = ov
            .stat(parent_of(path))
            .map(|s| s.st_ino)
            .unwrap_or(stat.st_ino);
        Ok(MergedDir {
            path: path.to_vec(),
            stat,
            flags: flags & (o::ACCMODE | o::NONBLOCK),
            parent_ino,
            entries: ov.list(path)?,
            statfs: ov.statfs(path)?,
            pos: Mutex::new(0),
        })
    }
}

impl FileDescription for MergedDir {
    fn read(&self, _buf: &mut [u8]) -> Result<usize, Errno> {
        Err(Errno::EISDIR)
    }

    fn write(&self, _data: &[u8]) -> Result<usize, Errno> {
        Err(Errno::EBADF)
    }

    fn pread(&self, _buf: &mut [u8], _off: u64) -> Result<usize, Errno> {
        Err(Errno::EISDIR)
    }

    fn seek(&self, off: i64, whence: u32) -> Result<u64, Errno> {
        let mut pos = self.pos.lock().unwrap_or_else(|e| e.into_inner());
        let base = match whence {
            SEEK_SET => 0,
            SEEK_CUR => *pos as i64,
            _ => return Err(Errno::EINVAL),
        };
        let new = base
            .checked_add(off)
            .filter(|&n| n >= 0)
            .ok_or(Errno::EINVAL)?;
        *pos = new as u64;
        Ok(*pos)
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(self.stat)
    }

    /// Offsets: 0 is `.`, 1 is `..`, `2 + i` is entry `i`.
    fn getdents(&self, out: &mut Vec<u8>, max: usize) -> Result<(), Errno> {
        let mut pos = self.pos.lock().unwrap_or_else(|e| e.into_inner());
        let start = out.len();
        loop {
            let (name, ino, dtype): (&[u8], u64, u8) = match *pos {
                0 => (b".", self.stat.st_ino, DT_DIR),
                1 => (b"..", self.parent_ino, DT_DIR),
                n => match self.entries.get(n as usize - 2) {
                    Some((name, ino, t)) => (name, *ino, *t),
                    None => break,
                },
            };
            if !push_dirent(out, max, ino, *pos as i64 + 1, dtype, name) {
                if out.len() == start {
                    return Err(Errno::EINVAL);
                }
                break;
            }
            *pos += 1;
        }
        Ok(())
    }

    fn statfs(&self) -> Result<[u8; 120], Errno> {
        Ok(self.statfs)
    }

    fn status_flags(&self) -> u32 {
        self.flags
    }

    fn path(&self) -> Vec<u8> {
        self.path.clone()
    }
}
