//! The interface every filesystem implements, and what the VFS asks of the caller.
//!
//! A filesystem answers for paths *inside it*: absolute, normalized paths from its own root
//! (`b"/"` for the root, `b"/a/b"` below it), already walked by the resolver
//! ([`super::resolve`]): no symlink before the last component, no `.` or `..`. The mount
//! table ([`super::mount`]) decides which filesystem serves which part of the guest's tree,
//! and where inside it (a bind mount serves a subtree).
//!
//! Adding a filesystem is one module implementing [`Filesystem`] (the read side is required;
//! the change operations default to "this filesystem takes no changes") plus one line that
//! mounts it: [`super::sysfs`] is the smallest example, [`super::tmpfs`] a full one.

use std::fmt::Debug;
use std::sync::Arc;

use snare_abi::file::{Stat, S_IFDIR, S_IFLNK, S_IFMT};
use snare_abi::Errno;

use super::perm::{Cred, Perm};
use super::procfs::{ProcessInfo, Redirect, SystemInfo};
use super::FileDescription;

/// What the VFS needs from the task calling it.
pub trait Caller {
    /// The umask new files and directories get.
    fn umask(&self) -> u32;
    /// What /proc shows about the caller; `cpu` adds CPU times (which cost host reads).
    fn process(&self, cpu: bool) -> ProcessInfo;
    /// Sandbox-wide facts for /proc.
    fn system(&self) -> SystemInfo;
    /// Every process's pid, for `/proc`'s listing (the caller's included).
    fn pids(&self) -> Vec<i32> {
        Vec::new()
    }
    /// What /proc shows about another process, if it exists (`cpu` as for [`Self::process`]).
    fn other_process(&self, _pid: i32, _cpu: bool) -> Option<ProcessInfo> {
        None
    }
    /// The text of a /proc file the network side writes (`/proc/net/*`, somaxconn).
    fn net_file(&self, _f: super::procfs::NetFile) -> Vec<u8> {
        Vec::new()
    }
    /// The terminal behind the caller's stdio (what /dev/tty opens), if any.
    fn terminal(&self) -> Option<Arc<dyn FileDescription>>;
    /// The ids permission checks are made for (the effective ones).
    fn cred(&self) -> Cred;
    /// How a terminal the caller opens sends the signals it raises (`None`: it sends none).
    fn job_control(&self) -> Option<Arc<dyn super::pty::JobControl>> {
        None
    }
}

/// What one walked name is, for the resolver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A directory, with its mode and owner (search permission for the next step).
    Dir(Perm),
    /// A symlink and its target.
    Symlink(Vec<u8>),
    Other,
}

impl Entry {
    /// The entry `st` describes; `link` reads a symlink's target.
    pub fn of(st: &Stat, link: impl FnOnce() -> Result<Vec<u8>, Errno>) -> Result<Entry, Errno> {
        Ok(match st.st_mode & S_IFMT {
            S_IFDIR => Entry::Dir(Perm::of(st)),
            S_IFLNK => Entry::Symlink(link()?),
            _ => Entry::Other,
        })
    }
}

/// Where a filesystem can continue a walk from without looking the whole path up again
/// (an inode number and whatever else it needs); opaque to the resolver, which only hands
/// it back for the next step in the same directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub ino: u64,
    pub aux: u64,
}

/// A filesystem. Paths are as the module docs say; `cx` is the calling task.
pub trait Filesystem: Send + Sync + Debug {
    /// The type `/proc/mounts` shows (`tmpfs`, `proc`, …).
    fn fstype(&self) -> &'static str;

    /// The device number of its files (for `/proc/self/mountinfo`).
    fn dev(&self) -> u64;

    /// `None` if the filesystem takes changes; else the error a change gets when the path
    /// exists (`EPERM` for /proc and /dev, `EROFS` for a read-only filesystem).
    fn refusal(&self) -> Option<Errno> {
        None
    }

    /// One step of the walk: what `path` (whose parent the walk has reached) names, not
    /// following a symlink there. `at` is the cursor this filesystem returned for the
    /// parent, if any; a directory may return its own cursor for the next step. The
    /// default asks [`Filesystem::stat`] and [`Filesystem::readlink`].
    fn step(
        &self,
        cx: &dyn Caller,
        path: &[u8],
        _name: &[u8],
        _at: Option<Cursor>,
    ) -> Result<(Entry, Option<Cursor>), Errno> {
        let st = self.stat(cx, path, false)?;
        Ok((Entry::of(&st, || self.readlink(cx, path))?, None))
    }

    /// The cursor of the parent of the directory at `c` (a `..` step), if the filesystem
    /// can tell it.
    fn up(&self, _c: Cursor) -> Option<Cursor> {
        None
    }

    /// Whether the filesystem walks the rest of a path itself ([`Filesystem::walk_rest`])
    /// instead of the resolver walking it name by name (procfs, whose magic links lead out).
    fn walks_rest(&self) -> bool {
        false
    }

    /// Where `rest` (a path inside this filesystem) leads: `None` when it stays inside,
    /// `Some(r)` when a magic link takes it to `r`. Asked only if [`Filesystem::walks_rest`].
    fn walk_rest(
        &self,
        _cx: &dyn Caller,
        _rest: &[u8],
        _follow: bool,
    ) -> Result<Option<Redirect>, Errno> {
        Ok(None)
    }

    /// A description of directory `path` (known to the guest as `guest`) whose path follows
    /// the directory's moves ([`FileDescription::follows_moves`]), if directories here can
    /// move: a current directory there keeps one. `None` where they can't.
    fn moving_dir(
        &self,
        _cx: &dyn Caller,
        _path: &[u8],
        _guest: &[u8],
    ) -> Option<Arc<dyn FileDescription>> {
        None
    }

    /// `stat(2)` (`follow` matters only for links a filesystem resolves itself: procfs).
    fn stat(&self, cx: &dyn Caller, path: &[u8], follow: bool) -> Result<Stat, Errno>;

    /// `readlink(2)`: `EINVAL` for what is not a symlink.
    fn readlink(&self, cx: &dyn Caller, path: &[u8]) -> Result<Vec<u8>, Errno> {
        self.stat(cx, path, false)?;
        Err(Errno::EINVAL)
    }

    /// `open(2)`; `mode` is masked by the caller's umask here. `guest` is the guest path
    /// the description is known by (for /proc/self/fd).
    fn open(
        &self,
        cx: &dyn Caller,
        path: &[u8],
        guest: &[u8],
        flags: u32,
        mode: u32,
    ) -> Result<Arc<dyn FileDescription>, Errno>;

    /// `statfs(2)`: the kernel's `struct statfs`.
    fn statfs(&self, cx: &dyn Caller, path: &[u8]) -> Result<[u8; 120], Errno>;

    /// A cheaper answer for `stat` of a plain path (no `.`, `..` or doubled slashes) than the
    /// walk's, if the filesystem has one; `None` means walk it.
    fn fast_stat(&self, _path: &[u8], _follow: bool) -> Option<Result<Stat, Errno>> {
        None
    }

    /// As [`Filesystem::fast_stat`], for a read-only `open` without `O_CREAT`.
    fn fast_open(
        &self,
        _path: &[u8],
        _flags: u32,
    ) -> Option<Result<Arc<dyn FileDescription>, Errno>> {
        None
    }

    // Extended attributes ([`super::xattr`]; their changes are below). The caller has
    // checked who may do what (Linux's `xattr_permission`); the defaults are a filesystem
    // that keeps none, as procfs: `EOPNOTSUPP` for a name, an empty list.

    /// `getxattr(2)`: the whole value of attribute `name` of `path` (not followed).
    fn getxattr(&self, cx: &dyn Caller, path: &[u8], _name: &[u8]) -> Result<Vec<u8>, Errno> {
        self.stat(cx, path, false)?;
        Err(Errno::EOPNOTSUPP)
    }

    /// `listxattr(2)`: the names of the attributes of `path` (not followed).
    fn listxattr(&self, cx: &dyn Caller, path: &[u8]) -> Result<Vec<Vec<u8>>, Errno> {
        self.stat(cx, path, false)?;
        Ok(Vec::new())
    }

    // Changes. Reached only when `refusal` is `None`.

    fn mkdir(&self, _cx: &dyn Caller, _path: &[u8], _mode: u32) -> Result<(), Errno> {
        Err(Errno::EPERM)
    }
    fn mkfifo(&self, _cx: &dyn Caller, _path: &[u8], _mode: u32) -> Result<(), Errno> {
        Err(Errno::EPERM)
    }
    /// A socket node for `bind(2)` of an AF_UNIX socket (the socket itself is found by the
    /// node's identity, `net::unix::names`).
    fn mksock(&self, _cx: &dyn Caller, _path: &[u8], _mode: u32) -> Result<(), Errno> {
        Err(Errno::EPERM)
    }
    fn rmdir(&self, _path: &[u8]) -> Result<(), Errno> {
        Err(Errno::EPERM)
    }
    fn unlink(&self, _path: &[u8]) -> Result<(), Errno> {
        Err(Errno::EPERM)
    }
    /// `renameat2(2)` within this filesystem (`flags`: RENAME_NOREPLACE, RENAME_EXCHANGE).
    fn rename(&self, _old: &[u8], _new: &[u8], _flags: u32) -> Result<(), Errno> {
        Err(Errno::EPERM)
    }
    fn symlink(&self, _target: &[u8], _path: &[u8]) -> Result<(), Errno> {
        Err(Errno::EPERM)
    }
    fn link(&self, _old: &[u8], _new: &[u8]) -> Result<(), Errno> {
        Err(Errno::EPERM)
    }
    /// `linkat(2)` of an open file that has no path to link by (`O_TMPFILE`): `EXDEV` if it
    /// is not this filesystem's.
    fn link_file(&self, _file: &dyn FileDescription, _new: &[u8]) -> Result<(), Errno> {
        Err(Errno::EXDEV)
    }
    fn truncate(&self, _path: &[u8], _len: u64) -> Result<(), Errno> {
        Err(Errno::EPERM)
    }
    fn chmod(&self, _path: &[u8], _mode: u32) -> Result<(), Errno> {
        Err(Errno::EPERM)
    }
    /// `chown(2)`; `u32::MAX` leaves an id alone.
    fn chown(&self, _path: &[u8], _uid: u32, _gid: u32) -> Result<(), Errno> {
        Err(Errno::EPERM)
    }
    /// `utimensat(2)`: `None` is now; `UTIME_NOW`/`UTIME_OMIT` ride in the nanoseconds.
    fn utimens(
        &self,
        _path: &[u8],
        _atime: Option<(i64, i64)>,
        _mtime: Option<(i64, i64)>,
    ) -> Result<(), Errno> {
        Err(Errno::EPERM)
    }
    /// `setxattr(2)` of `path` (not followed): `flags` are `XATTR_CREATE` (`EEXIST` if
    /// present) and `XATTR_REPLACE` (`ENODATA` if absent). A filesystem that takes changes
    /// but keeps no attributes says `EOPNOTSUPP`.
    fn setxattr(
        &self,
        _path: &[u8],
        _name: &[u8],
        _value: &[u8],
        _flags: u32,
    ) -> Result<(), Errno> {
        Err(Errno::EOPNOTSUPP)
    }
    /// `removexattr(2)`: `ENODATA` if absent (see [`Filesystem::setxattr`]).
    fn removexattr(&self, _path: &[u8], _name: &[u8]) -> Result<(), Errno> {
        Err(Errno::EOPNOTSUPP)
    }
}

/// `path` (a filesystem path, "/" or "/a/b") without its leading slash, as the tmpfs and
/// host layers take it.
pub fn rel(path: &[u8]) -> &[u8] {
    path.strip_prefix(b"/").unwrap_or(path)
}
