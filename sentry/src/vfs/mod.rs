//! Files as the guest sees them: open file descriptions, the fd table, and the guest's
//! filesystems.
//!
//! Every filesystem implements [`filesystem::Filesystem`] (adding one is a module and one
//! line that mounts it; [`sysfs`] is the smallest). A [`mount::MountTable`] is a mount
//! namespace: the [`overlay`] root (the host root, confined with `openat2(RESOLVE_IN_ROOT)`,
//! under an in-memory upper layer), [`procfs`] at `/proc`, devices ([`dev`]) at `/dev`,
//! [`sysfs`], a [`tmpfs`] at `/dev/shm`, pseudo-terminals ([`pty`]: `/dev/ptmx` and the devpts
//! at `/dev/pts`), and whatever `--tmpfs`, `--volume` ([`hostdir`]) and
//! `mount(2)` add. Paths are walked by [`resolve`], so symlinks resolve across mounts.
//! Advisory file locks ([`locks`]) are kept by file identity, apart from the mounts;
//! extended attributes ([`xattr`]) by the filesystems that support them. memfd files are
//! unlinked files of a tmpfs of their own (`Kernel::memfd`), sealable ([`seals`]).

pub mod dev;
pub mod epoll;
pub mod eventfd;
mod fdtable;
pub mod filesystem;
mod host;
pub mod host_fds;
pub mod hostdir;
pub mod hostfile;
pub mod inotify;
pub mod listing;
pub(crate) mod locks;
pub mod mount;
pub mod mqueue;
pub mod overlay;
pub mod perm;
pub mod pipe;
pub mod procfs;
pub mod pty;
pub mod resolve;
pub mod seals;
pub mod sysfs;
pub mod timerfd;
pub mod tmpfs;
pub mod xattr;

use std::fmt::Debug;
use std::sync::Arc;

use snare_abi::file::Stat;
use snare_abi::Errno;

pub use dev::DevFile;
pub use fdtable::{FdEntry, FdTable};
pub use host::{HostFile, HostRoot};

use crate::kernel::wait::WaitQueue;
use crate::mm::{GuestMemory, MappableFile};

/// `whence` of `lseek(2)`.
pub const SEEK_SET: u32 = 0;
pub const SEEK_CUR: u32 = 1;
pub const SEEK_END: u32 = 2;

/// Downcasting for code that needs the concrete type behind a description (a pidfd's
/// process, an epoll instance).
pub trait AsAny {
    fn as_any(&self) -> &dyn std::any::Any;
}

impl<T: std::any::Any> AsAny for T {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// An open file description (what an fd points to). Methods take `&self`: descriptions are
/// shared between fds (`dup`) and threads, and keep their own offset.
pub trait FileDescription: Send + Sync + Debug + AsAny {
    /// Reads at the current offset and advances it.
    fn read(&self, buf: &mut [u8]) -> Result<usize, Errno>;
    /// Writes at the current offset (or the end, with O_APPEND) and advances it.
    fn write(&self, data: &[u8]) -> Result<usize, Errno>;
    /// Reads at `off` without moving the offset. ESPIPE for streams.
    fn pread(&self, _buf: &mut [u8], _off: u64) -> Result<usize, Errno> {
        Err(Errno::ESPIPE)
    }
    /// Writes at `off` without moving the offset. ESPIPE for streams.
    fn pwrite(&self, _data: &[u8], _off: u64) -> Result<usize, Errno> {
        Err(Errno::ESPIPE)
    }
    /// Moves the offset. ESPIPE for streams.
    fn seek(&self, _off: i64, _whence: u32) -> Result<u64, Errno> {
        Err(Errno::ESPIPE)
    }
    /// `fstat(2)`.
    fn stat(&self) -> Result<Stat, Errno>;
    /// Appends `linux_dirent64` records to `out` (at most `max` bytes); 0 at the end.
    fn getdents(&self, _out: &mut Vec<u8>, _max: usize) -> Result<(), Errno> {
        Err(Errno::ENOTDIR)
    }
    /// `ioctl(2)`; `mem` reaches the guest's argument.
    fn ioctl(&self, _cmd: u32, _arg: u64, _mem: &dyn GuestMemory) -> Result<u64, Errno> {
        Err(Errno::ENOTTY)
    }
    /// `ftruncate(2)`: sets the file's size. EINVAL for what can't be truncated.
    fn truncate(&self, _len: u64) -> Result<(), Errno> {
        Err(Errno::EINVAL)
    }
    /// `fallocate(2)` (`mode` is FALLOC_FL_*). Files that can't change: EBADF when not
    /// open for writing, else EOPNOTSUPP.
    fn allocate(&self, _mode: u32, _off: u64, _len: u64) -> Result<(), Errno> {
        if self.status_flags() & snare_abi::file::o::ACCMODE == snare_abi::file::o::RDONLY {
            Err(Errno::EBADF)
        } else {
            Err(Errno::EOPNOTSUPP)
        }
    }
    /// `fstatfs(2)`: the kernel's `struct statfs`.
    fn statfs(&self) -> Result<[u8; 120], Errno> {
        Err(Errno::ENOSYS)
    }
    /// Whether this is a terminal (job-control ioctls are answered by the Sentry).
    fn is_terminal(&self) -> bool {
        false
    }
    /// The file as a mapping source for `mmap(2)`; `None` if it can't be mapped (ENODEV).
    fn mappable(&self) -> Option<Arc<dyn MappableFile>> {
        None
    }
    /// The file as the source of a `MAP_SHARED` mapping, writable now if `write`. Sealed files
    /// refuse a writable one (EPERM) and hand out read-only ones that `mprotect` can't make
    /// writable.
    fn mappable_shared(&self, _write: bool) -> Result<Arc<dyn MappableFile>, Errno> {
        self.mappable().ok_or(Errno::ENODEV)
    }
    /// `F_GET_SEALS`: the file's seals ([`seals`]); EINVAL for files that can't be sealed.
    fn seals(&self) -> Result<u32, Errno> {
        Err(Errno::EINVAL)
    }
    /// `F_ADD_SEALS` of known `F_SEAL_*` bits by a description open for writing.
    fn add_seals(&self, _seals: u32) -> Result<(), Errno> {
        Err(Errno::EINVAL)
    }
    /// Status flags (`O_APPEND`, `O_NONBLOCK`, access mode) for `F_GETFL`.
    fn status_flags(&self) -> u32;
    /// Sets the changeable status flags (`F_SETFL`).
    fn set_status_flags(&self, _flags: u32) {}
    /// The guest path it was opened by (for /proc and readlink of fds).
    fn path(&self) -> Vec<u8>;

    /// Whether [`FileDescription::path`] follows the file's moves (a tmpfs directory's
    /// does): such a description can stand for a current directory.
    fn follows_moves(&self) -> bool {
        false
    }
    /// Which `poll` events ([`poll`] bits) hold now, for poll, select and epoll. Regular files
    /// are always readable and writable.
    fn poll(&self) -> u32 {
        poll::IN | poll::OUT | poll::RDNORM | poll::WRNORM
    }
    /// The queue notified whenever [`FileDescription::poll`]'s answer may have changed;
    /// `None` for files whose readiness never changes.
    fn wait_queue(&self) -> Option<&WaitQueue> {
        None
    }
    /// The host fd whose readiness is this file's (a host socket's), which a waiter may
    /// watch in the host itself rather than through [`FileDescription::wait_queue`]; `None`
    /// for files the Sentry answers for.
    fn host_readiness(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        None
    }
    /// `F_GETPIPE_SZ`: a pipe's capacity in bytes; `EBADF` for other files.
    fn pipe_size(&self) -> Result<u64, Errno> {
        Err(Errno::EBADF)
    }
    /// `fchmod`/`fchown`/`futimens` of a file that has no path to go by (unlinked, a
    /// memfd, an `O_TMPFILE` file): the change made on the open file's inode. `ENOENT` for
    /// files that can't.
    fn change_attr(&self, _change: AttrChange) -> Result<(), Errno> {
        Err(Errno::ENOENT)
    }
    /// `F_SETPIPE_SZ`: sets a pipe's capacity, returning the size granted.
    fn set_pipe_size(&self, _size: u64) -> Result<u64, Errno> {
        Err(Errno::EBADF)
    }
}

/// An attribute change through an open file ([`FileDescription::change_attr`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttrChange {
    /// Permission bits (`0o7777`).
    Mode(u32),
    /// Owner and group (`u32::MAX` leaves one alone).
    Owner(u32, u32),
    /// Access and modification times (`None`: now; `UTIME_NOW`/`UTIME_OMIT` in the
    /// nanoseconds).
    Times(Option<(i64, i64)>, Option<(i64, i64)>),
}

/// `poll(2)` event bits.
pub mod poll {
    pub const IN: u32 = 0x001;
    pub const PRI: u32 = 0x002;
    pub const OUT: u32 = 0x004;
    pub const ERR: u32 = 0x008;
    pub const HUP: u32 = 0x010;
    pub const NVAL: u32 = 0x020;
    pub const RDNORM: u32 = 0x040;
    pub const RDBAND: u32 = 0x080;
    pub const WRNORM: u32 = 0x100;
    pub const WRBAND: u32 = 0x200;
    pub const RDHUP: u32 = 0x2000;
}

/// A `struct statfs` for a filesystem without real capacity: type `magic`, 4 KiB blocks,
/// `blocks` of them with `free` free, names up to 255 bytes.
pub fn statfs_bytes(magic: i64, blocks: u64, free: u64) -> [u8; 120] {
    let mut b = [0u8; 120];
    let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    for (off, v) in [
        (0, magic),
        (8, 4096),
        (16, clamp(blocks)),
        (24, clamp(free)),
        (32, clamp(free)),
        (64, 255),
        (72, 4096),
    ] {
        b[off..off + 8].copy_from_slice(&i64::to_ne_bytes(v));
    }
    b
}

/// Appends one `linux_dirent64` record; false if it does not fit in `max` bytes.
pub fn push_dirent(
    out: &mut Vec<u8>,
    max: usize,
    ino: u64,
    off: i64,
    dtype: u8,
    name: &[u8],
) -> bool {
    let reclen = (snare_abi::file::DIRENT64_NAME_OFFSET + name.len() + 1).div_ceil(8) * 8;
    if out.len() + reclen > max {
        return false;
    }
    out.extend_from_slice(&ino.to_ne_bytes());
    out.extend_from_slice(&off.to_ne_bytes());
    out.extend_from_slice(&(reclen as u16).to_ne_bytes());
    out.push(dtype);
    out.extend_from_slice(name);
    out.resize(
        out.len() + reclen - (snare_abi::file::DIRENT64_NAME_OFFSET + name.len()),
        0,
    );
    true
}
