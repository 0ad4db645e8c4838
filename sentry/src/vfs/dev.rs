//! Device files the Sentry implements itself: /dev/null, zero, full, random, urandom, tty,
//! ptmx (a new pseudo-terminal of the sandbox's devpts, [`super::pty`]), and the
//! /dev/std{in,out,err} and /dev/fd links into /proc/self/fd.

use snare_abi::file::{Stat, S_IFCHR};
use snare_abi::Errno;

use std::sync::Arc;

use snare_abi::file::o;

use super::filesystem::{Caller, Filesystem};
use super::listing::{Entries, Listing};
use super::pty::Devpts;
use super::FileDescription;

/// `st_dev` of /dev (0:4002).
pub const DEV_DEV: u64 = 0x00f0_00a2;
/// `f_type` of a devtmpfs (a tmpfs).
const TMPFS_MAGIC: i64 = 0x0102_1994;

/// The device filesystem at /dev: the devices and links above, listed in its root (with
/// `shm` and `pts`, which are mounts of their own).
#[derive(Debug)]
pub struct Devfs {
    /// Where `/dev/ptmx` makes its ptys.
    pts: Arc<Devpts>,
}

impl Devfs {
    pub fn new(pts: Arc<Devpts>) -> Devfs {
        Devfs { pts }
    }
}

impl Filesystem for Devfs {
    fn fstype(&self) -> &'static str {
        "devtmpfs"
    }

    fn dev(&self) -> u64 {
        DEV_DEV
    }

    /// Keeps no extended attributes, but takes the names a devtmpfs does: `ENODATA`.
    fn getxattr(&self, cx: &dyn Caller, path: &[u8], name: &[u8]) -> Result<Vec<u8>, Errno> {
        self.stat(cx, path, false)?;
        super::xattr::supported(name)?;
        Err(Errno::ENODATA)
    }

    fn refusal(&self) -> Option<Errno> {
        Some(Errno::EPERM)
    }

    fn stat(&self, _cx: &dyn Caller, path: &[u8], _follow: bool) -> Result<Stat, Errno> {
        if path == b"/" {
            return Ok(dir_stat(0o755));
        }
        match (DevFile::lookup(path), dev_symlink(path)) {
            (Some(kind), _) => DevFile::new(kind, 0).stat(),
            (None, Some(target)) => Ok(symlink_stat(target)),
            (None, None) => Err(Errno::ENOENT),
        }
    }

    fn readlink(&self, cx: &dyn Caller, path: &[u8]) -> Result<Vec<u8>, Errno> {
        match dev_symlink(path) {
            Some(t) => Ok(t.to_vec()),
            None => {
                self.stat(cx, path, false)?;
                Err(Errno::EINVAL)
            }
        }
    }

    fn open(
        &self,
        cx: &dyn Caller,
        path: &[u8],
        guest: &[u8],
        flags: u32,
        _mode: u32,
    ) -> Result<Arc<dyn FileDescription>, Errno> {
        let creat = flags & o::CREAT != 0;
        if path == b"/" {
            if flags & o::ACCMODE != o::RDONLY || creat {
                return Err(Errno::EISDIR);
            }
            return Ok(Arc::new(listed_dir(guest.to_vec(), 0o755, DEV_ENTRIES)));
        }
        match DevFile::lookup(path) {
            Some(_) if creat && flags & o::EXCL != 0 => Err(Errno::EEXIST),
            Some(_) if flags & o::DIRECTORY != 0 => Err(Errno::ENOTDIR),
            Some(DevKind::Tty) => cx.terminal().ok_or(Errno::ENXIO),
            Some(DevKind::Ptmx) => self.pts.new_master(
                cx.cred().uid,
                flags,
                cx.job_control(),
                DevFile::new(DevKind::Ptmx, 0).stat()?,
                "/dev/ptmx".into(),
            ),
            Some(kind) => Ok(Arc::new(DevFile::new(kind, flags & o::ACCMODE))),
            None if creat => Err(Errno::EACCES),
            None => Err(Errno::ENOENT),
        }
    }

    fn statfs(&self, cx: &dyn Caller, path: &[u8]) -> Result<[u8; 120], Errno> {
        self.stat(cx, path, true)?;
        Ok(super::statfs_bytes(TMPFS_MAGIC, 0, 0))
    }
}

/// Which device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DevKind {
    Null,
    Zero,
    Full,
    Random,
    Urandom,
    /// The controlling terminal: opening it gives the terminal behind stdio.
    Tty,
    /// Opening it makes a pseudo-terminal and gives its master.
    Ptmx,
}

/// The symbolic links in /dev: path inside it → target.
fn dev_symlink(path: &[u8]) -> Option<&'static [u8]> {
    Some(match path {
        b"/stdin" => b"/proc/self/fd/0",
        b"/stdout" => b"/proc/self/fd/1",
        b"/stderr" => b"/proc/self/fd/2",
        b"/fd" => b"/proc/self/fd",
        _ => return None,
    })
}

/// What `ls /dev` shows: (name, d_type).
const DEV_ENTRIES: &[(&[u8], u8)] = &[
    (b"null", 2),
    (b"zero", 2),
    (b"full", 2),
    (b"random", 2),
    (b"urandom", 2),
    (b"tty", 2),
    (b"ptmx", 2),
    (b"stdin", 10),
    (b"stdout", 10),
    (b"stderr", 10),
    (b"fd", 10),
    (b"shm", 4),
    (b"pts", 4),
];

/// `lstat` of a /dev symlink.
fn symlink_stat(target: &[u8]) -> Stat {
    Stat {
        st_mode: snare_abi::file::S_IFLNK | 0o777,
        st_nlink: 1,
        st_size: target.len() as i64,
        st_blksize: 4096,
        ..Stat::default()
    }
}

/// An open device file.
#[derive(Debug)]
pub struct DevFile {
    kind: DevKind,
    flags: u32,
}

impl DevFile {
    /// The device at a path inside /dev (`b"/null"`), if it is one of ours.
    fn lookup(path: &[u8]) -> Option<DevKind> {
        Some(match path {
            b"/null" => DevKind::Null,
            b"/zero" => DevKind::Zero,
            b"/full" => DevKind::Full,
            b"/random" => DevKind::Random,
            b"/urandom" => DevKind::Urandom,
            b"/tty" => DevKind::Tty,
            b"/ptmx" => DevKind::Ptmx,
            _ => return None,
        })
    }

    pub fn new(kind: DevKind, flags: u32) -> DevFile {
        DevFile { kind, flags }
    }

    /// Character device numbers as on Linux (1:3 null, 1:5 zero, 1:7 full, 1:8 random, 1:9
    /// urandom, 5:0 tty, 5:2 ptmx).
    fn rdev(&self) -> u64 {
        let minor = match self.kind {
            DevKind::Null => 3,
            DevKind::Zero => 5,
            DevKind::Full => 7,
            DevKind::Random => 8,
            DevKind::Urandom => 9,
            DevKind::Tty => return 5 << 8,
            DevKind::Ptmx => return (5 << 8) | 2,
        };
        (1 << 8) | minor
    }
}

/// Fills `buf` with random bytes from the host (`getrandom(2)`).
pub(crate) fn host_random(buf: &mut [u8]) -> Result<(), Errno> {
    snare_platform::host_random(buf)
}

impl FileDescription for DevFile {
    fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        match self.kind {
            DevKind::Null => Ok(0),
            DevKind::Zero | DevKind::Full => {
                buf.fill(0);
                Ok(buf.len())
            }
            DevKind::Random | DevKind::Urandom => {
                host_random(buf)?;
                Ok(buf.len())
            }
            DevKind::Tty | DevKind::Ptmx => Err(Errno::ENXIO),
        }
    }

    fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        match self.kind {
            DevKind::Full => Err(Errno::ENOSPC),
            DevKind::Tty | DevKind::Ptmx => Err(Errno::ENXIO),
            _ => Ok(data.len()),
        }
    }

    fn pread(&self, buf: &mut [u8], _off: u64) -> Result<usize, Errno> {
        self.read(buf)
    }

    fn pwrite(&self, data: &[u8], _off: u64) -> Result<usize, Errno> {
        self.write(data)
    }

    fn seek(&self, _off: i64, _whence: u32) -> Result<u64, Errno> {
        Ok(0)
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(Stat {
            st_mode: S_IFCHR | 0o666,
            st_nlink: 1,
            st_rdev: self.rdev(),
            st_blksize: 4096,
            ..Stat::default()
        })
    }

    fn status_flags(&self) -> u32 {
        self.flags
    }

    fn path(&self) -> Vec<u8> {
        match self.kind {
            DevKind::Null => "/dev/null",
            DevKind::Zero => "/dev/zero",
            DevKind::Full => "/dev/full",
            DevKind::Random => "/dev/random",
            DevKind::Urandom => "/dev/urandom",
            DevKind::Tty => "/dev/tty",
            DevKind::Ptmx => "/dev/ptmx",
        }
        .into()
    }
}

/// The stat of a directory the Sentry lists itself (/dev's root, /sys): inode 1, `mode`.
pub(crate) fn dir_stat(mode: u32) -> Stat {
    Stat {
        st_mode: snare_abi::file::S_IFDIR | mode,
        st_nlink: 2,
        st_ino: 1,
        st_blksize: 4096,
        ..Stat::default()
    }
}

/// An open directory the Sentry lists itself with `entries` after `.` and `..` (inode
/// numbers counting up from 1 in listing order).
pub(crate) fn listed_dir(path: Vec<u8>, mode: u32, entries: &[(&[u8], u8)]) -> Listing {
    let names = entries
        .iter()
        .zip(3u64..)
        .map(|(&(n, t), ino)| (n.to_vec(), t, ino))
        .collect();
    Listing::new(path, dir_stat(mode), 2, Entries::Fixed(names))
}
