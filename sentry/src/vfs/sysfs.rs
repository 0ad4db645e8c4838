//! `/sys`: an empty, read-only directory (programs look for it; nothing in it is emulated
//! yet). It is also the smallest [`Filesystem`]: the read side, and a refusal of every
//! change. Mounting it is one line in [`super::mount::MountTable::sandbox`].

use std::sync::Arc;

use snare_abi::file::{o, Stat};
use snare_abi::Errno;

use super::dev::{dir_stat, listed_dir};
use super::filesystem::{Caller, Filesystem};
use super::FileDescription;

/// `st_dev` of /sys (0:4003).
pub const SYS_DEV: u64 = 0x00f0_00a3;
/// `f_type` of a sysfs.
const SYSFS_MAGIC: i64 = 0x6265_6572;

/// The sysfs: its root directory alone.
#[derive(Debug)]
pub struct Sysfs;

impl Filesystem for Sysfs {
    fn fstype(&self) -> &'static str {
        "sysfs"
    }

    fn dev(&self) -> u64 {
        SYS_DEV
    }

    /// Keeps no extended attributes, but takes the names a sysfs does: `ENODATA`.
    fn getxattr(&self, cx: &dyn Caller, path: &[u8], name: &[u8]) -> Result<Vec<u8>, Errno> {
        self.stat(cx, path, false)?;
        super::xattr::supported(name)?;
        Err(Errno::ENODATA)
    }

    fn refusal(&self) -> Option<Errno> {
        Some(Errno::EROFS)
    }

    fn stat(&self, _cx: &dyn Caller, path: &[u8], _follow: bool) -> Result<Stat, Errno> {
        if path != b"/" {
            return Err(Errno::ENOENT);
        }
        Ok(dir_stat(0o555))
    }

    fn open(
        &self,
        _cx: &dyn Caller,
        path: &[u8],
        guest: &[u8],
        flags: u32,
        _mode: u32,
    ) -> Result<Arc<dyn FileDescription>, Errno> {
        let creat = flags & o::CREAT != 0;
        if path != b"/" {
            return Err(if creat { Errno::EROFS } else { Errno::ENOENT });
        }
        if flags & o::ACCMODE != o::RDONLY || creat {
            return Err(Errno::EISDIR);
        }
        Ok(Arc::new(listed_dir(guest.to_vec(), 0o555, &[])))
    }

    fn statfs(&self, cx: &dyn Caller, path: &[u8]) -> Result<[u8; 120], Errno> {
        self.stat(cx, path, true)?;
        Ok(super::statfs_bytes(SYSFS_MAGIC, 0, 0))
    }
}
