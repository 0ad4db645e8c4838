//! Mount namespaces: which filesystem serves which part of the guest's tree.
//!
//! A [`MountTable`] is one mount namespace: mounts in mount order, each a [`Filesystem`]
//! (and the subtree of it the mount shows: `/` normally, a subdirectory for a bind mount)
//! on a mount point, an absolute guest path the resolver reached with every symlink
//! followed. A path belongs to the mount with the longest matching mount point; of mounts
//! on the same point the latest wins (it hides the ones below, as on Linux). Tasks share a
//! table until `unshare(CLONE_NEWNS)` copies it. The table also produces `/proc/mounts` and
//! `mountinfo`.
//!
//! `snare do` starts with [`MountTable::sandbox`]: the overlay root (the host root under an
//! in-memory upper layer, the host's `/tmp` included; or the root directory written
//! through, as a volume), procfs, devices, sysfs, `/dev/shm`,
//! then the user's `--tmpfs` and `--volume` mounts.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, RwLock};

use snare_abi::Errno;

use super::filesystem::Filesystem;
use super::procfs::MountLine;

/// Mount flags kept per mount (`MS_*`, as `mount(2)` takes them).
pub mod ms {
    pub const RDONLY: u64 = 1;
    pub const NOSUID: u64 = 2;
    pub const NODEV: u64 = 4;
    pub const NOEXEC: u64 = 8;
    pub const NOATIME: u64 = 1024;
    pub const NODIRATIME: u64 = 2048;
    pub const RELATIME: u64 = 1 << 21;
    pub const STRICTATIME: u64 = 1 << 24;
    /// The flags a mount keeps (and a remount may change).
    pub const KEPT: u64 =
        RDONLY | NOSUID | NODEV | NOEXEC | NOATIME | NODIRATIME | RELATIME | STRICTATIME;
}

/// One mount.
#[derive(Debug)]
pub struct Mount {
    /// Its id in `mountinfo`.
    pub id: u32,
    /// The id of the mount its point lies on (its own id for the root).
    pub parent: u32,
    /// Where it is mounted: an absolute, normalized guest path.
    pub point: Vec<u8>,
    /// The directory of `fs` it shows (`/`, or a subdirectory for a bind mount).
    pub root: Vec<u8>,
    pub fs: Arc<dyn Filesystem>,
    /// `mount(2)`'s source (`tmpfs`, a host path, …).
    pub source: String,
    /// [`ms`] flags.
    pub flags: u64,
    /// The filesystem's own options as `/proc/mounts` shows them (`size=…`), maybe empty.
    pub data: String,
}

static NEXT_ID: AtomicU32 = AtomicU32::new(21);

impl Mount {
    /// A new mount with a fresh id (its parent is set when it is added to a table).
    pub fn new(
        point: &[u8],
        root: &[u8],
        fs: Arc<dyn Filesystem>,
        source: &str,
        flags: u64,
        data: &str,
    ) -> Mount {
        Mount {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            parent: 0,
            point: point.to_vec(),
            root: root.to_vec(),
            fs,
            source: source.to_string(),
            flags: flags & ms::KEPT,
            data: data.to_string(),
        }
    }

    /// The path inside the filesystem of `path`, a guest path on this mount.
    pub fn inner<'a>(&self, path: &'a [u8]) -> Cow<'a, [u8]> {
        let rest = if self.point == b"/" {
            path
        } else {
            path.get(self.point.len()..).unwrap_or_default()
        };
        match (self.root == b"/", rest.is_empty()) {
            (true, true) => Cow::Borrowed(b"/"),
            (true, false) => Cow::Borrowed(rest),
            (false, _) => Cow::Owned([&self.root[..], rest].concat()),
        }
    }

    /// Whether `path` is this mount's root.
    pub fn is_root(&self, path: &[u8]) -> bool {
        path == &self.point[..]
    }

    /// `None` if the mount takes changes; else the error a change of an existing path gets
    /// (`EROFS` on a read-only mount).
    pub fn refusal(&self) -> Option<Errno> {
        if self.flags & ms::RDONLY != 0 {
            return Some(Errno::EROFS);
        }
        self.fs.refusal()
    }

    /// What `/proc/mounts` shows in its options column.
    fn opts(&self) -> String {
        let mut o = String::from(if self.flags & ms::RDONLY != 0 {
            "ro"
        } else {
            "rw"
        });
        for (bit, name) in [
            (ms::NOSUID, "nosuid"),
            (ms::NODEV, "nodev"),
            (ms::NOEXEC, "noexec"),
            (ms::NOATIME, "noatime"),
            (ms::NODIRATIME, "nodiratime"),
            (ms::RELATIME, "relatime"),
        ] {
            if self.flags & bit != 0 {
                o.push(',');
                o.push_str(name);
            }
        }
        o
    }

    /// A copy with a new id at `point`, showing `root` of the same filesystem (a bind mount
    /// or a namespace copy).
    fn bind(&self, point: &[u8], root: &[u8], flags: u64) -> Mount {
        Mount::new(
            point,
            root,
            self.fs.clone(),
            &self.source,
            flags,
            &self.data,
        )
    }
}

/// Whether `path` is `point` or lies below it.
fn under(path: &[u8], point: &[u8]) -> bool {
    point == b"/" || (path.starts_with(point) && matches!(path.get(point.len()), None | Some(b'/')))
}

/// One mount namespace. See the module docs.
#[derive(Debug)]
pub struct MountTable {
    mounts: RwLock<Vec<Arc<Mount>>>,
}

impl MountTable {
    /// A table holding `root` alone (mounted at `/`).
    pub fn new(mut root: Mount) -> MountTable {
        root.point = b"/".to_vec();
        root.parent = root.id;
        MountTable {
            mounts: RwLock::new(vec![Arc::new(root)]),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<Mount>>> {
        self.mounts.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Arc<Mount>>> {
        self.mounts.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The mount serving `path` (absolute, normalized).
    pub fn route(&self, path: &[u8]) -> Arc<Mount> {
        let mounts = self.read();
        let mut best = &mounts[0];
        for m in mounts.iter().skip(1) {
            if m.point.len() >= best.point.len() && under(path, &m.point) {
                best = m;
            }
        }
        best.clone()
    }

    /// The mount whose root is exactly `point` (the topmost), if any.
    pub fn at(&self, point: &[u8]) -> Option<Arc<Mount>> {
        self.read().iter().rev().find(|m| m.point == point).cloned()
    }

    /// Mounts `m` on `m.point` (resolved by the caller, and a directory or file there).
    pub fn add(&self, mut m: Mount) -> Arc<Mount> {
        let mut mounts = self.write();
        m.parent = mounts
            .iter()
            .rev()
            .filter(|p| under(&m.point, &p.point))
            .max_by_key(|p| p.point.len())
            .map_or(m.id, |p| p.id);
        let m = Arc::new(m);
        mounts.push(m.clone());
        m
    }

    /// Bind-mounts what `source` (a mount and the path inside it) shows at `point`; with
    /// `recursive`, the mounts below `src_path` come along.
    pub fn bind(&self, src: &Mount, src_path: &[u8], point: &[u8], recursive: bool) {
        let root = src.inner(src_path).into_owned();
        let below: Vec<Arc<Mount>> = if recursive {
            self.read()
                .iter()
                .filter(|m| m.point != src_path && under(&m.point, src_path))
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        self.add(src.bind(point, &root, src.flags & !ms::RDONLY));
        for m in below {
            let tail = if src_path == b"/" {
                &m.point[..]
            } else {
                &m.point[src_path.len().min(m.point.len())..]
            };
            let p = if point == b"/" {
                tail.to_vec()
            } else {
                [point, tail].concat()
            };
            self.add(m.bind(&p, &m.root, m.flags));
        }
    }

    /// Changes the flags of the topmost mount at `point` (a remount). `EINVAL` if `point` is
    /// no mount's root.
    pub fn set_flags(&self, point: &[u8], flags: u64, data: Option<&str>) -> Result<(), Errno> {
        let mut mounts = self.write();
        let i = mounts
            .iter()
            .rposition(|m| m.point == point)
            .ok_or(Errno::EINVAL)?;
        let old = &mounts[i];
        let mut m = old.bind(&old.point, &old.root, flags);
        m.id = old.id;
        m.parent = old.parent;
        if let Some(d) = data {
            m.data = d.to_string();
        }
        mounts[i] = Arc::new(m);
        Ok(())
    }

    /// Unmounts the topmost mount at `point`: `EINVAL` if none is there (or it is the
    /// root), `EBUSY` if others are mounted below it and `detach` is not set (with it they
    /// go too).
    pub fn remove(&self, point: &[u8], detach: bool) -> Result<(), Errno> {
        let mut mounts = self.write();
        let i = mounts
            .iter()
            .rposition(|m| m.point == point)
            .ok_or(Errno::EINVAL)?;
        if i == 0 {
            return Err(Errno::EINVAL);
        }
        let id = mounts[i].id;
        let children = |ms: &[Arc<Mount>]| ms.iter().any(|m| m.parent == id && m.id != id);
        if children(&mounts) && !detach {
            return Err(Errno::EBUSY);
        }
        mounts.remove(i);
        // Mounts that lay on it (by point), transitively.
        let mut gone = vec![id];
        while let Some(g) = gone.pop() {
            while let Some(j) = mounts.iter().position(|m| m.parent == g && m.id != g) {
                gone.push(mounts[j].id);
                mounts.remove(j);
            }
        }
        Ok(())
    }

    /// `MS_MOVE`: the topmost mount at `from`, and the mounts below it, move to `to` (a
    /// walked directory). `EINVAL` if `from` is no mount point or is the root; `ELOOP` if
    /// `to` lies below `from`.
    pub fn move_mount(&self, from: &[u8], to: &[u8]) -> Result<(), Errno> {
        use super::resolve::within;
        let mut mounts = self.write();
        let i = mounts
            .iter()
            .rposition(|m| m.point == from)
            .ok_or(Errno::EINVAL)?;
        if i == 0 {
            return Err(Errno::EINVAL);
        }
        if within(to, from) {
            return Err(Errno::ELOOP);
        }
        let moved_id = mounts[i].id;
        let new_parent = mounts
            .iter()
            .enumerate()
            .filter(|(j, p)| *j != i && within(to, &p.point) && !within(&p.point, from))
            .max_by_key(|(_, p)| p.point.len())
            .map_or(mounts[0].id, |(_, p)| p.id);
        // The moved mount and everything mounted on or below it (by parent link).
        let mut below = vec![moved_id];
        let mut k = 0;
        while k < below.len() {
            let id = below[k];
            below.extend(
                mounts
                    .iter()
                    .filter(|m| m.parent == id && m.id != id)
                    .map(|m| m.id),
            );
            k += 1;
        }
        for m in mounts.iter_mut() {
            if !below.contains(&m.id) {
                continue;
            }
            let tail = &m.point[from.len().min(m.point.len())..];
            let point = if to == b"/" && !tail.is_empty() {
                tail.to_vec()
            } else {
                [to, tail].concat()
            };
            let mut c = m.bind(&point, &m.root, m.flags);
            c.id = m.id;
            c.parent = if m.id == moved_id {
                new_parent
            } else {
                m.parent
            };
            *m = Arc::new(c);
        }
        Ok(())
    }

    /// `pivot_root(2)`: the topmost mount at `new_root` becomes the root, and what was
    /// outside it moves under `put_old` (a directory at or below `new_root`). Both are
    /// walked paths; the caller checked that they are directories. `EINVAL` if `new_root` is
    /// no mount point, is the root already, or `put_old` is not under it.
    pub fn pivot(&self, new_root: &[u8], put_old: &[u8]) -> Result<(), Errno> {
        use super::resolve::within;
        let mut mounts = self.write();
        let top = mounts
            .iter()
            .rposition(|m| m.point == new_root)
            .ok_or(Errno::EINVAL)?;
        if new_root == b"/" {
            return Err(Errno::EBUSY);
        }
        if !within(put_old, new_root) {
            return Err(Errno::EINVAL);
        }
        // Where the old root's `/` goes, seen from the new root.
        let old_at = &put_old[new_root.len()..];
        let moved = |p: &[u8]| -> Vec<u8> {
            if within(p, new_root) {
                match &p[new_root.len()..] {
                    b"" => b"/".to_vec(),
                    rest => rest.to_vec(),
                }
            } else if old_at.is_empty() {
                p.to_vec()
            } else if p == b"/" {
                old_at.to_vec()
            } else {
                [old_at, p].concat()
            }
        };
        let new_root_id = mounts[top].id;
        let mut out: Vec<Arc<Mount>> = Vec::with_capacity(mounts.len());
        for (i, m) in mounts.iter().enumerate() {
            let mut c = m.bind(&moved(&m.point), &m.root, m.flags);
            c.id = m.id;
            c.parent = if i == top {
                m.id
            } else if i == 0 {
                new_root_id
            } else {
                m.parent
            };
            out.push(Arc::new(c));
        }
        // The new root first (the table's root), the rest in mount order.
        let root = out.remove(top);
        out.insert(0, root);
        *mounts = out;
        Ok(())
    }

    /// A copy for a new mount namespace: the same filesystems at the same points, with new
    /// ids (`unshare(CLONE_NEWNS)`).
    pub fn copy(&self) -> MountTable {
        let mounts = self.read();
        let mut ids = std::collections::HashMap::new();
        let mut out: Vec<Arc<Mount>> = Vec::with_capacity(mounts.len());
        for m in mounts.iter() {
            let mut c = m.bind(&m.point, &m.root, m.flags);
            ids.insert(m.id, c.id);
            c.parent = *ids.get(&m.parent).unwrap_or(&c.id);
            out.push(Arc::new(c));
        }
        MountTable {
            mounts: RwLock::new(out),
        }
    }

    /// Every mount, in mount order.
    pub fn all(&self) -> Vec<Arc<Mount>> {
        self.read().clone()
    }

    /// `/proc/mounts` and `mountinfo` lines.
    pub fn lines(&self) -> Vec<MountLine> {
        self.read()
            .iter()
            .map(|m| {
                let dev = m.fs.dev();
                let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
                let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
                let opts = m.opts();
                let super_opts = if m.data.is_empty() {
                    opts.clone()
                } else {
                    format!("{opts},{}", m.data)
                };
                MountLine {
                    id: m.id,
                    parent: m.parent,
                    dev: format!("{major}:{minor}"),
                    root: String::from_utf8_lossy(&m.root).into_owned(),
                    source: m.source.clone(),
                    point: String::from_utf8_lossy(&m.point).into_owned(),
                    fstype: m.fs.fstype().into(),
                    opts,
                    super_opts,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{ms, Mount, MountTable};
    use crate::vfs::sysfs::Sysfs;

    fn table() -> MountTable {
        let t = MountTable::new(Mount::new(b"/", b"/", Arc::new(Sysfs), "root", 0, ""));
        t.add(Mount::new(b"/proc", b"/", Arc::new(Sysfs), "proc", 0, ""));
        t.add(Mount::new(b"/tmp", b"/", Arc::new(Sysfs), "tmp", 0, ""));
        t
    }

    #[test]
    fn longest_prefix_wins() {
        let t = table();
        let src = |p: &[u8]| t.route(p).source.clone();
        assert_eq!(src(b"/"), "root");
        assert_eq!(src(b"/etc/passwd"), "root");
        assert_eq!(src(b"/tmp"), "tmp");
        assert_eq!(src(b"/tmp/a/b"), "tmp");
        assert_eq!(src(b"/tmpx"), "root");
        assert_eq!(src(b"/proc/self"), "proc");
        assert_eq!(&t.route(b"/tmp/a/b").inner(b"/tmp/a/b")[..], b"/a/b");
        assert_eq!(&t.route(b"/tmp").inner(b"/tmp")[..], b"/");
        assert_eq!(&t.route(b"/x").inner(b"/x")[..], b"/x");
    }

    #[test]
    fn later_mounts_hide_earlier_and_unmount_uncovers() {
        let t = table();
        t.add(Mount::new(b"/tmp", b"/", Arc::new(Sysfs), "tmp2", 0, ""));
        assert_eq!(t.route(b"/tmp/a").source, "tmp2");
        t.remove(b"/tmp", false).expect("umount");
        assert_eq!(t.route(b"/tmp/a").source, "tmp");
        assert_eq!(t.remove(b"/nope", false), Err(snare_abi::Errno::EINVAL));
        assert_eq!(t.remove(b"/", false), Err(snare_abi::Errno::EINVAL));
    }

    #[test]
    fn busy_unless_detached() {
        let t = table();
        t.add(Mount::new(b"/tmp/in", b"/", Arc::new(Sysfs), "in", 0, ""));
        assert_eq!(t.remove(b"/tmp", false), Err(snare_abi::Errno::EBUSY));
        t.remove(b"/tmp", true).expect("lazy umount");
        assert_eq!(t.route(b"/tmp/in/x").source, "root");
    }

    #[test]
    fn bind_shows_a_subtree_and_recursive_takes_submounts() {
        let t = table();
        let root = t.route(b"/usr");
        t.bind(&root, b"/usr", b"/mnt", false);
        let m = t.route(b"/mnt/lib");
        assert_eq!(&m.inner(b"/mnt/lib")[..], b"/usr/lib");
        assert_eq!(&m.inner(b"/mnt")[..], b"/usr");
        let top = t.route(b"/");
        t.bind(&top, b"/", b"/r", true);
        assert_eq!(t.route(b"/r/tmp/x").source, "tmp");
        assert_eq!(&t.route(b"/r/tmp/x").inner(b"/r/tmp/x")[..], b"/x");
    }

    #[test]
    fn move_takes_the_submounts_along() {
        let t = table();
        t.add(Mount::new(b"/tmp/in", b"/", Arc::new(Sysfs), "in", 0, ""));
        assert_eq!(t.move_mount(b"/nope", b"/x"), Err(snare_abi::Errno::EINVAL));
        assert_eq!(
            t.move_mount(b"/tmp", b"/tmp/in/x"),
            Err(snare_abi::Errno::ELOOP)
        );
        t.move_mount(b"/tmp", b"/mnt").expect("move");
        assert_eq!(t.route(b"/tmp/a").source, "root");
        assert_eq!(t.route(b"/mnt/a").source, "tmp");
        assert_eq!(t.route(b"/mnt/in/a").source, "in");
        assert_eq!(&t.route(b"/mnt/in/a").inner(b"/mnt/in/a")[..], b"/a");
    }

    #[test]
    fn pivot_moves_the_old_root_under_put_old() {
        let t = table();
        t.add(Mount::new(b"/new", b"/", Arc::new(Sysfs), "new", 0, ""));
        t.add(Mount::new(
            b"/new/proc",
            b"/",
            Arc::new(Sysfs),
            "newproc",
            0,
            "",
        ));
        assert_eq!(
            t.pivot(b"/tmp/x", b"/tmp/x/old"),
            Err(snare_abi::Errno::EINVAL)
        );
        assert_eq!(
            t.pivot(b"/new", b"/elsewhere"),
            Err(snare_abi::Errno::EINVAL)
        );
        t.pivot(b"/new", b"/new/old").expect("pivot");
        assert_eq!(t.route(b"/x").source, "new");
        assert_eq!(t.route(b"/proc/1").source, "newproc");
        assert_eq!(t.route(b"/old/etc").source, "root");
        assert_eq!(t.route(b"/old/tmp/a").source, "tmp");
        assert_eq!(&t.route(b"/old/tmp/a").inner(b"/old/tmp/a")[..], b"/a");
        t.remove(b"/old", true).expect("detach the old root");
        assert_eq!(t.route(b"/old/etc").source, "new");
    }

    #[test]
    fn remount_read_only_and_copies_are_independent() {
        let t = table();
        t.set_flags(b"/tmp", ms::RDONLY, None).expect("remount");
        assert_eq!(t.route(b"/tmp/a").refusal(), Some(snare_abi::Errno::EROFS));
        let c = t.copy();
        c.remove(b"/tmp", false).expect("umount in the copy");
        assert_eq!(t.route(b"/tmp/a").source, "tmp");
        assert_eq!(c.route(b"/tmp/a").source, "root");
        let lines = t.lines();
        assert!(lines.iter().any(|l| l.point == "/tmp" && l.opts == "ro"));
    }
}
