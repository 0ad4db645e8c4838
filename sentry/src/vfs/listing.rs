//! An open directory the Sentry lists itself (/dev, /sys, /dev/pts, the mqueue root): `.`,
//! `..` and a list of names, each with its `d_type` and inode number. Reading is `EISDIR`,
//! writing `EBADF`; `lseek` takes `SEEK_SET` positions (an entry index), as `seekdir` needs.

use std::sync::Mutex;

use snare_abi::file::Stat;
use snare_abi::Errno;

use super::FileDescription;

/// `d_type` of a directory.
const DT_DIR: u8 = 4;

/// One listed name: (name, `d_type`, inode number).
pub type Entry = (Vec<u8>, u8, u64);

/// Where a listing's names come from.
#[derive(Debug)]
pub enum Entries {
    /// Taken when the directory was opened.
    Fixed(Vec<Entry>),
    /// Asked again at each `getdents` (the names may come and go meanwhile).
    Live(fn() -> Vec<Entry>),
}

/// An open listed directory. See the module docs.
#[derive(Debug)]
pub struct Listing {
    path: Vec<u8>,
    stat: fn(&Listing) -> Stat,
    fixed_stat: Stat,
    statfs: Option<[u8; 120]>,
    flags: u32,
    /// Inode numbers of `.` and `..`.
    dots: (u64, u64),
    entries: Entries,
    /// Records already returned.
    pos: Mutex<usize>,
}

impl Listing {
    /// The directory opened as `path`, whose `fstat` is `stat`, listing `entries` after
    /// `.` (inode `stat.st_ino`) and `..` (inode `parent_ino`).
    pub fn new(path: Vec<u8>, stat: Stat, parent_ino: u64, entries: Entries) -> Listing {
        Listing {
            path,
            stat: |l| l.fixed_stat,
            fixed_stat: stat,
            statfs: None,
            flags: 0,
            dots: (stat.st_ino, parent_ino),
            entries,
            pos: Mutex::new(0),
        }
    }

    /// `fstat` asks `stat` each time (times that move).
    pub fn with_live_stat(mut self, stat: fn(&Listing) -> Stat) -> Listing {
        self.stat = stat;
        self
    }

    /// `fstatfs` answers `statfs`.
    pub fn with_statfs(mut self, statfs: [u8; 120]) -> Listing {
        self.statfs = Some(statfs);
        self
    }

    /// `F_GETFL` answers `flags`.
    pub fn with_flags(mut self, flags: u32) -> Listing {
        self.flags = flags;
        self
    }
}

impl FileDescription for Listing {
    fn read(&self, _buf: &mut [u8]) -> Result<usize, Errno> {
        Err(Errno::EISDIR)
    }

    fn write(&self, _data: &[u8]) -> Result<usize, Errno> {
        Err(Errno::EBADF)
    }

    fn seek(&self, off: i64, whence: u32) -> Result<u64, Errno> {
        if whence != super::SEEK_SET || off < 0 {
            return Err(Errno::EINVAL);
        }
        *self.pos.lock().unwrap_or_else(|e| e.into_inner()) =
            usize::try_from(off).map_err(|_| Errno::EINVAL)?;
        Ok(off as u64)
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok((self.stat)(self))
    }

    fn statfs(&self) -> Result<[u8; 120], Errno> {
        self.statfs.ok_or(Errno::ENOSYS)
    }

    fn getdents(&self, out: &mut Vec<u8>, max: usize) -> Result<(), Errno> {
        let mut pos = self.pos.lock().unwrap_or_else(|e| e.into_inner());
        let live;
        let names: &[Entry] = match &self.entries {
            Entries::Fixed(v) => v,
            Entries::Live(f) => {
                live = f();
                &live
            }
        };
        let dots = [
            (&b"."[..], DT_DIR, self.dots.0),
            (&b".."[..], DT_DIR, self.dots.1),
        ];
        let all = dots
            .into_iter()
            .chain(names.iter().map(|(n, t, i)| (&n[..], *t, *i)));
        for (i, (name, dtype, ino)) in all.enumerate().skip(*pos) {
            if !super::push_dirent(out, max, ino, i as i64 + 1, dtype, name) {
                if out.is_empty() {
                    // Not even one record fits.
                    return Err(Errno::EINVAL);
                }
                break;
            }
            *pos += 1;
        }
        Ok(())
    }

    fn status_flags(&self) -> u32 {
        self.flags
    }

    fn path(&self) -> Vec<u8> {
        self.path.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::{Entries, Listing};
    use crate::vfs::FileDescription;
    use snare_abi::file::Stat;
    use snare_abi::Errno;

    #[test]
    fn lists_dots_then_names_and_rewinds() {
        let st = Stat {
            st_ino: 7,
            ..Stat::default()
        };
        let names = vec![(b"a".to_vec(), 8, 9)];
        let l = Listing::new(b"/d".to_vec(), st, 1, Entries::Fixed(names));
        let mut out = Vec::new();
        assert_eq!(l.getdents(&mut out, 4), Err(Errno::EINVAL));
        l.getdents(&mut out, 4096).expect("getdents");
        assert_eq!(out.len(), 3 * 24);
        assert_eq!(u64::from_ne_bytes(out[..8].try_into().expect("8")), 7);
        out.clear();
        l.getdents(&mut out, 4096).expect("at the end");
        assert!(out.is_empty());
        l.seek(2, crate::vfs::SEEK_SET).expect("seek");
        l.getdents(&mut out, 4096).expect("getdents");
        assert_eq!(out.len(), 24);
        assert_eq!(l.read(&mut [0; 4]), Err(Errno::EISDIR));
    }
}
