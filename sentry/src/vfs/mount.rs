//! The guest's mount table: which filesystem serves which part of the tree.
//!
//! `/` is the [`Overlay`] (host root under an in-memory upper layer), `/tmp` its own tmpfs,
//! `/dev` the Sentry's devices, `/proc` procfs, `/sys` an empty read-only directory. A path
//! (absolute, lexically normalized) belongs to the mount with the longest matching mount
//! point. The table also produces `/proc/mounts`.

use std::sync::Arc;

use super::host::HostRoot;
use super::overlay::Overlay;
use super::procfs::{MountLine, PROC_DEV};
use super::tmpfs::{Tmpfs, TMPFS_DEV};

/// `st_dev` of /dev and /sys (0:4002, 0:4003).
pub const DEV_DEV: u64 = 0x00f0_00a2;
pub const SYS_DEV: u64 = 0x00f0_00a3;

/// What serves a mount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MountKind {
    Root,
    Tmp,
    /// `/dev/shm`: a second tmpfs (POSIX shared memory and semaphores).
    Shm,
    Dev,
    Proc,
    Sys,
}

#[derive(Debug)]
struct Mount {
    point: &'static [u8],
    kind: MountKind,
    source: &'static str,
    fstype: &'static str,
    opts: &'static str,
}

/// Mounted filesystems, in mount order (the root first).
const TABLE: [Mount; 6] = [
    Mount {
        point: b"/",
        kind: MountKind::Root,
        source: "overlay",
        fstype: "overlay",
        opts: "rw",
    },
    Mount {
        point: b"/proc",
        kind: MountKind::Proc,
        source: "proc",
        fstype: "proc",
        opts: "rw,nosuid,nodev,noexec",
    },
    Mount {
        point: b"/dev",
        kind: MountKind::Dev,
        source: "devtmpfs",
        fstype: "devtmpfs",
        opts: "rw,nosuid",
    },
    Mount {
        point: b"/sys",
        kind: MountKind::Sys,
        source: "sysfs",
        fstype: "sysfs",
        opts: "ro,nosuid,nodev,noexec",
    },
    Mount {
        point: b"/tmp",
        kind: MountKind::Tmp,
        source: "tmpfs",
        fstype: "tmpfs",
        opts: "rw,nosuid,nodev",
    },
    Mount {
        point: b"/dev/shm",
        kind: MountKind::Shm,
        source: "tmpfs",
        fstype: "tmpfs",
        opts: "rw,nosuid,nodev",
    },
];

/// `st_dev` of /dev/shm (0:4005).
pub const SHM_DEV: u64 = 0x00f0_00a5;

/// The sandbox's filesystems and where they are mounted.
#[derive(Debug)]
pub struct Mounts {
    pub root: Overlay,
    pub tmp: Arc<Tmpfs>,
    pub shm: Arc<Tmpfs>,
}

impl Mounts {
    pub fn new(lower: HostRoot, tmp: Arc<Tmpfs>, uid: u32, gid: u32) -> Mounts {
        Mounts {
            root: Overlay::new(lower, uid, gid),
            tmp,
            shm: Tmpfs::mounted(uid, gid, b"/dev/shm", SHM_DEV, 0),
        }
    }

    /// The tmpfs behind a tmpfs mount kind (/tmp or /dev/shm).
    pub fn tmpfs(&self, kind: MountKind) -> &Arc<Tmpfs> {
        if kind == MountKind::Shm {
            &self.shm
        } else {
            &self.tmp
        }
    }

    /// The mount serving `path` (absolute, normalized) and the path relative to its mount
    /// point (no leading slash; empty for the mount point itself).
    pub fn route(path: &[u8]) -> (MountKind, &[u8]) {
        let mut best = (MountKind::Root, path.strip_prefix(b"/").unwrap_or(path));
        let mut best_len = 1;
        for m in &TABLE[1..] {
            let p = m.point;
            if path.starts_with(p) && p.len() > best_len {
                match path.get(p.len()) {
                    None => best = (m.kind, &path[p.len()..]),
                    Some(b'/') => best = (m.kind, &path[p.len() + 1..]),
                    Some(_) => continue,
                }
                best_len = p.len();
            }
        }
        best
    }

    /// `/proc/mounts` lines.
    pub fn lines(&self) -> Vec<MountLine> {
        let root_dev = self.root.stat(b"/").map(|s| s.st_dev).unwrap_or(0);
        TABLE
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let dev = match m.kind {
                    MountKind::Root => root_dev,
                    MountKind::Tmp => TMPFS_DEV,
                    MountKind::Shm => SHM_DEV,
                    MountKind::Proc => PROC_DEV,
                    MountKind::Dev => DEV_DEV,
                    MountKind::Sys => SYS_DEV,
                };
                let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
                let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
                MountLine {
                    id: 21 + i as u32,
                    dev: format!("{major}:{minor}"),
                    source: m.source.into(),
                    point: String::from_utf8_lossy(m.point).into_owned(),
                    fstype: m.fstype.into(),
                    opts: m.opts.into(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::{MountKind, Mounts};

    #[test]
    fn longest_prefix_wins() {
        assert_eq!(Mounts::route(b"/"), (MountKind::Root, &b""[..]));
        assert_eq!(
            Mounts::route(b"/etc/passwd"),
            (MountKind::Root, &b"etc/passwd"[..])
        );
        assert_eq!(Mounts::route(b"/tmp"), (MountKind::Tmp, &b""[..]));
        assert_eq!(Mounts::route(b"/tmp/a/b"), (MountKind::Tmp, &b"a/b"[..]));
        assert_eq!(Mounts::route(b"/tmpx"), (MountKind::Root, &b"tmpx"[..]));
        assert_eq!(
            Mounts::route(b"/proc/self"),
            (MountKind::Proc, &b"self"[..])
        );
        assert_eq!(Mounts::route(b"/dev/null"), (MountKind::Dev, &b"null"[..]));
        assert_eq!(Mounts::route(b"/sys"), (MountKind::Sys, &b""[..]));
    }
}
