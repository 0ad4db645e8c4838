//! `/sys`: a small read-only tree of what language runtimes read to size themselves:
//! `devices/system/cpu/{online,possible,present}` (the CPUs the sandbox sees) and
//! `fs/cgroup/` as a cgroup2 directory of the sandbox's own limits (`cgroup.controllers`,
//! `memory.max`/`current`, `pids.max`/`current`, `cpu.max`), which `/proc/PID/cgroup`'s
//! `0::/` points at (libuv, Go, Python's tools read them so). Every change is refused
//! (EROFS). Mounting it is one line in [`super::mount::MountTable::sandbox`].
//!
//! Deviations: `fs/cgroup` is a directory of this sysfs, not a cgroup2 mount of its own
//! (`/proc/self/mountinfo` lists none; the JVM, which looks for one, sees no container); the
//! figures are the Sentry's (`memory.current` counts the memory file's pages: the page
//! cache included); `cpu.max` is always `max 100000` (a container's CPU quota is its host
//! cgroup's business).

use std::sync::Arc;

use snare_abi::file::{o, Stat};
use snare_abi::Errno;

use super::dev::{dir_stat, listed_dir};
use super::filesystem::{Caller, Filesystem};
use super::procfs::{ProcFile, SystemInfo};
use super::FileDescription;

const DT_DIR: u8 = 4;
const DT_REG: u8 = 8;

/// What a path of the tree is.
enum Node {
    Dir(&'static [(&'static [u8], u8)]),
    File(fn(&SystemInfo) -> String),
}

/// The CPUs the sandbox sees, as a list (`0-1`).
fn cpus(sys: &SystemInfo) -> String {
    match sys.ncpus {
        0 | 1 => "0\n".into(),
        n => format!("0-{}\n", n - 1),
    }
}

fn limit(v: u64) -> String {
    match v {
        0 => "max\n".into(),
        v => format!("{v}\n"),
    }
}

/// The tree (paths as the mount table hands them: absolute within /sys).
fn node(path: &[u8]) -> Option<Node> {
    const CGROUP: &[(&[u8], u8)] = &[
        (b"cgroup.controllers", DT_REG),
        (b"cpu.max", DT_REG),
        (b"memory.current", DT_REG),
        (b"memory.max", DT_REG),
        (b"pids.current", DT_REG),
        (b"pids.max", DT_REG),
    ];
    const CPU: &[(&[u8], u8)] = &[
        (b"online", DT_REG),
        (b"possible", DT_REG),
        (b"present", DT_REG),
    ];
    let path = match path.strip_suffix(b"/") {
        Some(p) if !p.is_empty() => p,
        _ => path,
    };
    Some(match path {
        b"/" => Node::Dir(&[(b"devices", DT_DIR), (b"fs", DT_DIR)]),
        b"/devices" => Node::Dir(&[(b"system", DT_DIR)]),
        b"/devices/system" => Node::Dir(&[(b"cpu", DT_DIR)]),
        b"/devices/system/cpu" => Node::Dir(CPU),
        b"/devices/system/cpu/online"
        | b"/devices/system/cpu/possible"
        | b"/devices/system/cpu/present" => Node::File(cpus),
        b"/fs" => Node::Dir(&[(b"cgroup", DT_DIR)]),
        b"/fs/cgroup" => Node::Dir(CGROUP),
        b"/fs/cgroup/cgroup.controllers" => Node::File(|_| "cpu memory pids\n".into()),
        b"/fs/cgroup/cpu.max" => Node::File(|_| "max 100000\n".into()),
        b"/fs/cgroup/memory.current" => Node::File(|s| format!("{}\n", s.mem_used)),
        b"/fs/cgroup/memory.max" => Node::File(|s| limit(s.mem_limit)),
        b"/fs/cgroup/pids.current" => Node::File(|s| format!("{}\n", s.pids_current)),
        b"/fs/cgroup/pids.max" => Node::File(|s| limit(s.pids_limit)),
        _ => return None,
    })
}

fn file_stat() -> Stat {
    Stat {
        st_mode: snare_abi::file::S_IFREG | 0o444,
        st_nlink: 1,
        st_ino: 2,
        st_blksize: 4096,
        st_size: 4096,
        ..Stat::default()
    }
}

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
        match node(path).ok_or(Errno::ENOENT)? {
            Node::Dir(_) => Ok(dir_stat(0o555)),
            Node::File(_) => Ok(file_stat()),
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
        let Some(n) = node(path) else {
            return Err(if creat { Errno::EROFS } else { Errno::ENOENT });
        };
        match n {
            Node::Dir(entries) => {
                if flags & o::ACCMODE != o::RDONLY || creat {
                    return Err(Errno::EISDIR);
                }
                Ok(Arc::new(listed_dir(guest.to_vec(), 0o555, entries)))
            }
            Node::File(text) => {
                if flags & o::DIRECTORY != 0 {
                    return Err(Errno::ENOTDIR);
                }
                if flags & o::ACCMODE != o::RDONLY || creat {
                    return Err(Errno::EACCES);
                }
                let path = String::from_utf8_lossy(guest).into_owned();
                let body = text(&cx.system()).into_bytes();
                Ok(Arc::new(ProcFile::text(path, file_stat(), body)))
            }
        }
    }

    fn statfs(&self, cx: &dyn Caller, path: &[u8]) -> Result<[u8; 120], Errno> {
        self.stat(cx, path, true)?;
        Ok(super::statfs_bytes(SYSFS_MAGIC, 0, 0))
    }
}
