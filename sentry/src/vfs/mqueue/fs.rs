//! The `mqueue` filesystem (`mount -t mqueue none /dev/mqueue`): a sticky, world-writable
//! root directory listing the sandbox's queues as files. Every mount shows the same
//! namespace ([`super`]). A queue's file stats and reads as the queue (its status line),
//! opens as the queue (so `mq_*` calls work on it), and unlinking it is `mq_unlink`;
//! `open(2)` with `O_CREAT` makes a queue of the default sizes. No directories.

use std::sync::Arc;

use snare_abi::file::{o, Stat, S_IFDIR};
use snare_abi::mqueue::{MQUEUE_MAGIC, MQ_BYTES_MAX};
use snare_abi::Errno;

use super::{check_name, default_attr, list, lookup, Creator, MqFile, MQUEUE_DEV};
use crate::vfs::filesystem::{rel, Caller, Filesystem};
use crate::vfs::listing::{Entries, Listing};
use crate::vfs::FileDescription;

/// The root directory's mode: `S_ISVTX | 0777`.
const ROOT_MODE: u32 = 0o1777;

/// The mqueue filesystem.
#[derive(Debug)]
pub struct Mqueuefs;

/// The queue name `path` (`/name`) stands for.
fn name_of(path: &[u8]) -> Result<&[u8], Errno> {
    let name = rel(path);
    if name.contains(&b'/') {
        return Err(Errno::ENOENT);
    }
    Ok(name)
}

fn root_stat() -> Stat {
    let now = crate::vfs::pipe::now_ts();
    Stat {
        st_dev: MQUEUE_DEV,
        st_ino: 1,
        st_nlink: 2,
        st_mode: S_IFDIR | ROOT_MODE,
        st_blksize: 4096,
        st_atime: now.0,
        st_atime_nsec: now.1,
        st_mtime: now.0,
        st_mtime_nsec: now.1,
        st_ctime: now.0,
        st_ctime_nsec: now.1,
        ..Stat::default()
    }
}

impl Filesystem for Mqueuefs {
    fn fstype(&self) -> &'static str {
        "mqueue"
    }

    fn dev(&self) -> u64 {
        MQUEUE_DEV
    }

    fn stat(&self, _cx: &dyn Caller, path: &[u8], _follow: bool) -> Result<Stat, Errno> {
        if path == b"/" {
            return Ok(root_stat());
        }
        Ok(lookup(name_of(path)?)?.stat())
    }

    fn open(
        &self,
        cx: &dyn Caller,
        path: &[u8],
        guest: &[u8],
        flags: u32,
        mode: u32,
    ) -> Result<Arc<dyn FileDescription>, Errno> {
        if path == b"/" {
            if flags & o::ACCMODE != o::RDONLY || flags & o::CREAT != 0 {
                return Err(Errno::EISDIR);
            }
            let dir = Listing::new(guest.to_vec(), root_stat(), 1, Entries::Live(listed))
                .with_live_stat(|_| root_stat())
                .with_statfs(crate::vfs::statfs_bytes(MQUEUE_MAGIC, 0, 0))
                .with_flags(o::RDONLY | o::DIRECTORY);
            return Ok(Arc::new(dir));
        }
        let name = name_of(path)?;
        check_name(name)?;
        if flags & o::DIRECTORY != 0 && flags & o::CREAT == 0 {
            lookup(name)?;
            return Err(Errno::ENOTDIR);
        }
        let cred = cx.cred();
        let c = Creator {
            ruid: cred.uid,
            privileged: cred.has(snare_abi::caps::Cap::SysResource),
            cred,
            // The caller's rlimits are not in reach here: Linux's default.
            rlimit: Some(MQ_BYTES_MAX),
            umask: cx.umask(),
        };
        let f: Arc<MqFile> = super::open(name, flags, mode, Some(&default_attr()), &c)?;
        Ok(f)
    }

    fn statfs(&self, cx: &dyn Caller, path: &[u8]) -> Result<[u8; 120], Errno> {
        self.stat(cx, path, true)?;
        Ok(crate::vfs::statfs_bytes(MQUEUE_MAGIC, 0, 0))
    }

    /// No directories: `EEXIST` for a name taken, else `EPERM`.
    fn mkdir(&self, cx: &dyn Caller, path: &[u8], _mode: u32) -> Result<(), Errno> {
        Err(match self.stat(cx, path, false) {
            Ok(_) => Errno::EEXIST,
            Err(_) => Errno::EPERM,
        })
    }

    fn rmdir(&self, path: &[u8]) -> Result<(), Errno> {
        Err(if path == b"/" {
            Errno::EBUSY
        } else {
            Errno::ENOTDIR
        })
    }

    fn unlink(&self, path: &[u8]) -> Result<(), Errno> {
        if path == b"/" {
            return Err(Errno::EISDIR);
        }
        super::unlink(name_of(path)?, None)
    }

    fn chmod(&self, path: &[u8], mode: u32) -> Result<(), Errno> {
        let q = lookup(name_of(path)?)?;
        let mut st = q.state();
        st.perm.mode = (st.perm.mode & !0o7777) | (mode & 0o7777);
        st.touch();
        Ok(())
    }

    fn chown(&self, path: &[u8], uid: u32, gid: u32) -> Result<(), Errno> {
        let q = lookup(name_of(path)?)?;
        let mut st = q.state();
        if uid != u32::MAX {
            st.perm.uid = uid;
        }
        if gid != u32::MAX {
            st.perm.gid = gid;
        }
        st.touch();
        Ok(())
    }
}

/// The queues as the root directory lists them (regular files).
fn listed() -> Vec<crate::vfs::listing::Entry> {
    const DT_REG: u8 = 8;
    list()
        .into_iter()
        .map(|(n, ino)| (n, DT_REG, ino))
        .collect()
}
