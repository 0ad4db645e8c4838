//! tmpfs: an in-memory filesystem, mounted by the Sentry at `/tmp`.
//!
//! The VFS hands every guest path under the mount to [`Tmpfs`] *relative to the mount*
//! (`b"dir/file"`, `b""` for the root). Paths may hold `.`, `..` and repeated slashes; they are
//! resolved here. `..` at the root stays at the root. Symlinks are followed (at most 40 hops,
//! then `ELOOP`); a relative target is resolved inside tmpfs, an absolute target is resolved
//! inside tmpfs only when it is `/tmp` or starts with `/tmp/` (the mount point); any other
//! absolute target gives `ENOENT` (crossing back out to another mount is not supported yet).
//!
//! Here: the namespace (`State`: directories, inodes, the walk) and the [`Tmpfs`] API;
//! `pages` holds file contents, `file` open files and mappings, `mounted` the [`Filesystem`]
//! impl, `marks` what the overlay records in its upper layer.
//!
//! Everything lives behind one mutex (`State`): the namespace, the inodes and their pages.
//! Open files ([`TmpfsFile`]) and mappings hold a counted reference on their inode, so an
//! unlinked file (or a removed directory) lives on while it is open or mapped.
//!
//! Deviations from Linux, for the next maintainer:
//! - No permission checks: modes, uids and gids are stored and reported only. Files are owned by
//!   the uid/gid given at construction ([`Tmpfs::with_owner`]; [`Tmpfs::new`] uses 0/0); the root
//!   directory is `root:root` mode `1777`, like a host `/tmp`.
//! - Limits, as Linux's `size=` and `nr_inodes=` ([`Tmpfs::set_limits`]; the kernel gives each
//!   tmpfs half of the sandbox's memory limit and one inode per two of its pages, Linux's
//!   defaults): past `size` bytes of allocated pages plus symlink targets, and past `nr_inodes`
//!   inodes, `ENOSPC`; `statfs` reports both. A file is capped at [`MAX_FILE_SIZE`] (Linux's
//!   `MAX_LFS_FILESIZE`: `EFBIG`, or a short write that stops there). File pages live on the Sentry's heap (the
//!   ones a shared mapping touched move to the memory file) and each inode costs the heap
//!   about [`INODE_COST`]: both are charged to the memory file's limit too, so every tmpfs
//!   together can't outgrow the sandbox's memory (a write that finds no room there also fails
//!   with `ENOSPC`, where Linux's memory cgroup would reclaim or OOM-kill).
//! - Files are sparse (4 KiB pages allocated on write); `st_blocks` counts allocated pages as
//!   Linux tmpfs does, so a file with holes reports fewer blocks than `ceil(size / 512)`.
//! - Writes don't clear set-uid/set-gid bits; there are no device nodes or sockets.
//! - Extended attributes ([`super::xattr`]): `user.`, `trusted.` and `security.` ones, each
//!   inode's bounded by [`super::xattr::MAX_BYTES_PER_INODE`] and counted (with a node's
//!   cost each) against `size=` and the memory limit like file pages (Linux's tmpfs counts
//!   `user.` ones against its inode space, and none of the others). No POSIX ACLs
//!   (`system.posix_acl_*` is `EOPNOTSUPP`).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use snare_abi::file::{
    o, Stat, RENAME_EXCHANGE, RENAME_NOREPLACE, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG,
    S_IFSOCK, UTIME_NOW, UTIME_OMIT,
};
use snare_abi::Errno;

use super::filesystem::{rel as fs_rel, Caller, Cursor, Entry, Filesystem};
use super::perm::Perm;
use super::seals::Seals;
use super::xattr::{supported, Xattrs};
use super::{push_dirent, FileDescription, SEEK_CUR, SEEK_END, SEEK_SET};
use snare_platform::MemoryFile;

use crate::mm::{GuestMemory, MappableFile};

mod file;
mod marks;
mod mounted;
mod pages;
#[cfg(test)]
mod tests;

pub use file::TmpfsFile;
pub use marks::MarkedStep;
use pages::Pages;

/// Largest file (Linux's `MAX_LFS_FILESIZE`): writes beyond it fail with `EFBIG`. Files are
/// sparse: only the pages written count against `size=`.
pub const MAX_FILE_SIZE: u64 = i64::MAX as u64;
/// Default `size=`: allocated file pages and symlink targets; beyond it `ENOSPC`.
pub const MAX_TOTAL_SIZE: u64 = 2 << 30;
/// Default `nr_inodes=`.
pub const MAX_INODES: u64 = 1 << 20;
/// What one inode costs the Sentry's heap, roughly (a million empty files measured 841 MB;
/// Linux's tmpfs counts `BOGO_INODE_SIZE`, 1 KiB): charged to the memory limit.
pub const INODE_COST: u64 = 1024;
/// `st_dev` of every tmpfs inode: device 0:4000 (an anonymous device number, unlikely to
/// collide with the host filesystems the guest also sees).
pub const TMPFS_DEV: u64 = 0x00f0_00a0;
/// `f_type` of `statfs(2)` (`TMPFS_MAGIC`).
pub const TMPFS_MAGIC: i64 = 0x0102_1994;
/// `whence` of `lseek(2)` for sparse files.
pub const SEEK_DATA: u32 = 3;
pub const SEEK_HOLE: u32 = 4;

const ROOT_INO: u64 = 1;
const PAGE: usize = 4096;
const PAGE64: u64 = PAGE as u64;
const MAX_SYMLINK_HOPS: u32 = 40;
const NAME_MAX: usize = 255;
const PATH_MAX: usize = 4096;
/// Linux tmpfs directory size accounting (`BOGO_DIRENT_SIZE`).
const BOGO_DIRENT_SIZE: u64 = 20;
/// First getdents cookie of a real entry (0 is `.`, 1 is `..`).
const FIRST_COOKIE: u64 = 2;
const DT_DIR: u8 = 4;
const DT_REG: u8 = 8;
const DT_LNK: u8 = 10;
const DT_FIFO: u8 = 1;
const DT_SOCK: u8 = 12;

/// A timestamp: seconds and nanoseconds since the epoch.
type Ts = (i64, i64);

fn now() -> Ts {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (
        i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        i64::from(d.subsec_nanos()),
    )
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}
/// of a sandbox, so tests can bound it).
/// Directory lookups by name, in every tmpfs (the work a path walk does; logged at the end
static LOOKUPS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many names all tmpfs directories have looked up so far.
pub fn lookups() -> u64 {
    LOOKUPS.load(std::sync::atomic::Ordering::Relaxed)
}

/// A directory: entries in creation order, keyed by a getdents cookie.
#[derive(Debug)]
struct Dir {
    parent: u64,
    entries: BTreeMap<u64, (Vec<u8>, u64)>,
    names: HashMap<Vec<u8>, u64>,
    next_cookie: u64,
    subdirs: u64,
    /// For the overlay whose upper layer this is ([`marks`]): lower-layer names this
    /// directory hides, and whether it hides the whole lower directory of its name.
    whiteouts: HashSet<Vec<u8>>,
    opaque: bool,
}

impl Dir {
    fn new(parent: u64) -> Dir {
        Dir {
            parent,
            entries: BTreeMap::new(),
            names: HashMap::new(),
            next_cookie: FIRST_COOKIE,
            subdirs: 0,
            whiteouts: HashSet::new(),
            opaque: false,
        }
    }

    fn lookup(&self, name: &[u8]) -> Option<u64> {
        LOOKUPS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let cookie = self.names.get(name)?;
        self.entries.get(cookie).map(|e| e.1)
    }
}

#[derive(Debug)]
enum Data {
    File(Pages),
    Dir(Dir),
    Symlink(Vec<u8>),
}

#[derive(Debug)]
struct Inode {
    /// Type and permission bits.
    mode: u32,
    uid: u32,
    gid: u32,
    /// Names that refer to it (a directory: 1 while linked, 0 once removed).
    links: u64,
    /// Open descriptions and mappings holding it.
    refs: u64,
    atime: Ts,
    mtime: Ts,
    ctime: Ts,
    /// The (device, inode) `stat` reports instead of the tmpfs's own, for a file the overlay
    /// copied up from its lower layer (so a file keeps its identity when copied up).
    ident: Option<(u64, u64)>,
    /// Extended attributes.
    xattrs: Xattrs,
    data: Data,
}

impl Inode {
    fn is_dir(&self) -> bool {
        matches!(self.data, Data::Dir(_))
    }

    fn dtype(&self) -> u8 {
        if self.mode & S_IFMT == S_IFIFO {
            return DT_FIFO;
        }
        if self.mode & S_IFMT == S_IFSOCK {
            return DT_SOCK;
        }
        match self.data {
            Data::File(_) => DT_REG,
            Data::Dir(_) => DT_DIR,
            Data::Symlink(_) => DT_LNK,
        }
    }

    /// Linux's relatime rule for reads.
    fn touch_atime(&mut self) {
        let t = now();
        if self.atime <= self.mtime || self.atime <= self.ctime || t.0 - self.atime.0 >= 86400 {
            self.atime = t;
        }
    }

    fn touch_modified(&mut self) {
        let t = now();
        self.mtime = t;
        self.ctime = t;
    }
}

/// Where a path led: the inode (if the last component exists) and the directory entry naming
/// it (`None` when the path ends in `.`, `..` or is the root).
#[derive(Debug)]
struct Walk {
    parent: Option<(u64, Vec<u8>)>,
    ino: Option<u64>,
}

/// Where a directory opened as guest path `shown` (at `then` in its tmpfs) is now that it
/// is at `now`: the components `shown` and `then` end with in common are the part inside
/// the mount, and the rest of `then` must still lead to it. `None` if it doesn't (the
/// directory left the mounted subtree).
fn moved(shown: &[u8], then: &[u8], now: &[u8]) -> Option<Vec<u8>> {
    let (s, t, n): (Vec<_>, Vec<_>, Vec<_>) = (
        components(shown).collect(),
        components(then).collect(),
        components(now).collect(),
    );
    let common = s
        .iter()
        .rev()
        .zip(t.iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let (outside, above) = (&s[..s.len() - common], &t[..t.len() - common]);
    let inside = n.strip_prefix(above)?;
    let mut out = Vec::new();
    for c in outside.iter().chain(inside) {
        out.push(b'/');
        out.extend_from_slice(c);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    Some(out)
}

/// The non-empty components of a path.
fn components(path: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> {
    path.split(|&b| b == b'/').filter(|c| !c.is_empty())
}

fn has_trailing_slash(path: &[u8]) -> bool {
    path.ends_with(b"/")
}

/// What a step of the Sentry's walk found ([`Tmpfs::walk_child`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalkEntry {
    /// A directory, with its mode and owner (for search permission on the next step).
    Dir(Perm),
    /// A symlink, with its target.
    Symlink(Vec<u8>),
    Other,
}

/// The whole filesystem, behind [`Tmpfs`]'s mutex.
#[derive(Debug)]
struct State {
    inodes: HashMap<u64, Inode>,
    next_ino: u64,
    /// Bytes of allocated pages, symlink targets and extended attributes.
    used: u64,
    /// `size=`: most `used` may reach.
    max_bytes: u64,
    /// `nr_inodes=`: most inodes.
    max_inodes: u64,
    /// The memory file whose limit heap pages and inodes are charged to (see the module doc).
    mem: Option<Arc<MemoryFile>>,
    uid: u32,
    gid: u32,
    /// Where it is mounted (`/tmp`; empty for the root): prefixes the paths of open files,
    /// and absolute symlink targets under it resolve inside.
    mount: Vec<u8>,
    /// `st_dev` of its files.
    dev: u64,
    /// Added to inode numbers in `stat` and `getdents` (to keep clear of another layer's).
    ino_base: u64,
    /// The pipe behind each FIFO inode, made at its first open.
    fifos: HashMap<u64, Arc<super::pipe::Pipe>>,
    /// Counts directory renames and removals: an open directory's path is worked out
    /// again only when it moved on ([`TmpfsFile::path`]).
    moves: u64,
}

impl State {
    /// The inode number `stat` and `getdents` show for `ino`, and the device.
    fn ident(&self, ino: u64) -> (u64, u64) {
        match self.inodes.get(&ino).and_then(|n| n.ident) {
            Some(id) => id,
            None => (self.dev, self.ino_base + ino),
        }
    }

    fn node(&self, ino: u64) -> Result<&Inode, Errno> {
        self.inodes.get(&ino).ok_or(Errno::ENOENT)
    }

    fn node_mut(&mut self, ino: u64) -> Result<&mut Inode, Errno> {
        self.inodes.get_mut(&ino).ok_or(Errno::ENOENT)
    }

    fn dir(&self, ino: u64) -> Result<&Dir, Errno> {
        match &self.node(ino)?.data {
            Data::Dir(d) => Ok(d),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn dir_mut(&mut self, ino: u64) -> Result<&mut Dir, Errno> {
        match &mut self.node_mut(ino)?.data {
            Data::Dir(d) => Ok(d),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn is_dir(&self, ino: u64) -> bool {
        self.node(ino).map(Inode::is_dir).unwrap_or(false)
    }

    /// Resolves `path`; the last component's symlink is followed if `follow_last`. A missing
    /// last component is not an error (`ino: None`, `parent` says where it would go). A path
    /// with a trailing slash must name a directory.
    fn walk(&self, path: &[u8], follow_last: bool) -> Result<Walk, Errno> {
        if path.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let mut comps: VecDeque<Vec<u8>> = components(path).map(<[u8]>::to_vec).collect();
        let mut cur = ROOT_INO;
        let mut last: Option<(u64, Vec<u8>)> = None;
        let mut hops = 0;
        while let Some(c) = comps.pop_front() {
            let dir = self.dir(cur)?;
            match &c[..] {
                b"." => last = None,
                b".." => {
                    cur = dir.parent;
                    last = None;
                }
                name => {
                    if name.len() > NAME_MAX {
                        return Err(Errno::ENAMETOOLONG);
                    }
                    let is_last = comps.is_empty();
                    let Some(child) = dir.lookup(name) else {
                        if is_last {
                            return Ok(Walk {
                                parent: Some((cur, c)),
                                ino: None,
                            });
                        }
                        return Err(Errno::ENOENT);
                    };
                    if let Data::Symlink(target) = &self.node(child)?.data {
                        if !is_last || follow_last {
                            hops += 1;
                            if hops > MAX_SYMLINK_HOPS {
                                return Err(Errno::ELOOP);
                            }
                            let rest = if target.starts_with(b"/") {
                                let rest = target
                                    .strip_prefix(&self.mount[..])
                                    .filter(|r| r.is_empty() || r.starts_with(b"/"))
                                    .ok_or(Errno::ENOENT)?;
                                cur = ROOT_INO;
                                last = None;
                                rest
                            } else {
                                &target[..]
                            };
                            for comp in components(rest).rev() {
                                comps.push_front(comp.to_vec());
                            }
                            continue;
                        }
                    }
                    last = Some((cur, c));
                    cur = child;
                }
            }
        }
        if has_trailing_slash(path) && !self.is_dir(cur) {
            return Err(Errno::ENOTDIR);
        }
        Ok(Walk {
            parent: last,
            ino: Some(cur),
        })
    }

    /// See [`Tmpfs::walk_child`].
    fn walk_child(&mut self, dir: u64, name: &[u8]) -> Result<(u64, WalkEntry), Errno> {
        let ino = match name {
            b"." => dir,
            b".." => self.dir(dir)?.parent,
            name => self.dir(dir)?.lookup(name).ok_or(Errno::ENOENT)?,
        };
        let n = self.node_mut(ino)?;
        let entry = match &n.data {
            Data::Dir(_) => WalkEntry::Dir(Perm {
                mode: n.mode,
                uid: n.uid,
                gid: n.gid,
            }),
            Data::Symlink(t) => {
                let t = t.clone();
                n.touch_atime();
                WalkEntry::Symlink(t)
            }
            Data::File(_) => WalkEntry::Other,
        };
        Ok((ino, entry))
    }

    /// Resolves an existing path.
    fn lookup(&self, path: &[u8], follow: bool) -> Result<u64, Errno> {
        self.walk(path, follow || has_trailing_slash(path))?
            .ino
            .ok_or(Errno::ENOENT)
    }

    /// Counts `bytes` of the Sentry's heap against the memory limit; `ENOSPC` past it.
    fn charge(&self, bytes: u64) -> Result<(), Errno> {
        match &self.mem {
            Some(m) if bytes > 0 => m.charge_or_wait(bytes).map_err(|_| Errno::ENOSPC),
            _ => Ok(()),
        }
    }

    fn discharge(&self, bytes: u64) {
        if let Some(m) = &self.mem {
            m.discharge(bytes);
        }
    }

    /// A new inode, within `nr_inodes` and the memory limit (else `ENOSPC`).
    fn alloc(&mut self, mode: u32, links: u64, data: Data) -> Result<u64, Errno> {
        if self.inodes.len() as u64 >= self.max_inodes {
            return Err(Errno::ENOSPC);
        }
        self.charge(INODE_COST)?;
        Ok(self.insert_inode(mode, links, data))
    }

    fn insert_inode(&mut self, mode: u32, links: u64, data: Data) -> u64 {
        let ino = self.next_ino;
        self.next_ino += 1;
        let t = now();
        self.inodes.insert(
            ino,
            Inode {
                mode,
                uid: self.uid,
                gid: self.gid,
                links,
                refs: 0,
                atime: t,
                mtime: t,
                ctime: t,
                ident: None,
                xattrs: Xattrs::default(),
                data,
            },
        );
        ino
    }

    /// Links `child` into `dir` as `name` (which must be free).
    /// Changes inode `ino`'s mode, owner or times (the change time too). A symlink's mode
    /// can't change (`EOPNOTSUPP`); a new owner clears set-uid and set-gid on non-directories,
    /// as Linux does for unprivileged callers.
    fn change(&mut self, ino: u64, change: super::AttrChange) -> Result<(), Errno> {
        let n = self.node_mut(ino)?;
        let t = now();
        match change {
            super::AttrChange::Mode(mode) => {
                if matches!(n.data, Data::Symlink(_)) {
                    return Err(Errno::EOPNOTSUPP);
                }
                n.mode = (n.mode & S_IFMT) | (mode & 0o7777);
            }
            super::AttrChange::Owner(uid, gid) => {
                if uid != u32::MAX {
                    n.uid = uid;
                }
                if gid != u32::MAX {
                    n.gid = gid;
                }
                if !n.is_dir() && (uid != u32::MAX || gid != u32::MAX) {
                    n.mode &= !0o6000;
                }
            }
            super::AttrChange::Times(atime, mtime) => {
                for v in [atime, mtime].into_iter().flatten() {
                    if v.1 != UTIME_NOW && v.1 != UTIME_OMIT && !(0..1_000_000_000).contains(&v.1) {
                        return Err(Errno::EINVAL);
                    }
                }
                let pick = |v: Option<(i64, i64)>, old: Ts| match v {
                    None => t,
                    Some((_, UTIME_NOW)) => t,
                    Some((_, UTIME_OMIT)) => old,
                    Some(v) => v,
                };
                n.atime = pick(atime, n.atime);
                n.mtime = pick(mtime, n.mtime);
            }
        }
        n.ctime = t;
        Ok(())
    }

    fn add_entry(&mut self, dir: u64, name: Vec<u8>, child: u64) -> Result<(), Errno> {
        let is_dir = match &mut self.node_mut(child)?.data {
            Data::Dir(d) => {
                d.parent = dir;
                true
            }
            _ => false,
        };
        let d = self.node_mut(dir)?;
        d.touch_modified();
        let Data::Dir(dd) = &mut d.data else {
            return Err(Errno::ENOTDIR);
        };
        let cookie = dd.next_cookie;
        dd.next_cookie += 1;
        dd.entries.insert(cookie, (name.clone(), child));
        dd.names.insert(name, cookie);
        if is_dir {
            dd.subdirs += 1;
        }
        Ok(())
    }

    /// Unlinks `name` from `dir` (the inode's own link count is the caller's business).
    fn remove_entry(&mut self, dir: u64, name: &[u8]) -> Result<u64, Errno> {
        let dd = self.dir_mut(dir)?;
        let cookie = dd.names.remove(name).ok_or(Errno::ENOENT)?;
        let (_, child) = dd.entries.remove(&cookie).ok_or(Errno::ENOENT)?;
        let is_dir = self.is_dir(child);
        let d = self.node_mut(dir)?;
        d.touch_modified();
        if let Data::Dir(dd) = &mut d.data {
            if is_dir {
                dd.subdirs -= 1;
            }
        }
        Ok(child)
    }

    /// Drops one name of `ino` (a directory's only one) and frees it if nothing holds it.
    fn drop_link(&mut self, ino: u64) -> Result<(), Errno> {
        let n = self.node_mut(ino)?;
        n.links = if n.is_dir() {
            0
        } else {
            n.links.saturating_sub(1)
        };
        n.ctime = now();
        self.maybe_free(ino);
        Ok(())
    }

    fn maybe_free(&mut self, ino: u64) {
        let Some(n) = self.inodes.get(&ino) else {
            return;
        };
        if ino == ROOT_INO || n.links != 0 || n.refs != 0 {
            return;
        }
        let (bytes, heap) = match &n.data {
            Data::File(p) => (p.pages() * PAGE64, p.map.len() as u64 * PAGE64),
            Data::Symlink(t) => (t.len() as u64, 0),
            Data::Dir(_) => (0, 0),
        };
        let xattrs = n.xattrs.bytes();
        self.used = self.used.saturating_sub(bytes + xattrs);
        self.inodes.remove(&ino);
        self.discharge(heap + xattrs + INODE_COST);
    }

    fn stat_of(&self, ino: u64) -> Result<Stat, Errno> {
        let n = self.node(ino)?;
        let (nlink, size, blocks) = match &n.data {
            Data::File(p) => (n.links, p.size, p.pages() * (PAGE64 / 512)),
            Data::Dir(d) => (
                if n.links == 0 { 0 } else { 2 + d.subdirs },
                2 * BOGO_DIRENT_SIZE + BOGO_DIRENT_SIZE * d.entries.len() as u64,
                0,
            ),
            Data::Symlink(t) => (n.links, t.len() as u64, 0),
        };
        let (dev, shown) = self.ident(ino);
        Ok(Stat {
            st_dev: dev,
            st_ino: shown,
            st_nlink: nlink,
            st_mode: n.mode,
            st_uid: n.uid,
            st_gid: n.gid,
            st_size: size as i64,
            st_blksize: PAGE as i64,
            st_blocks: blocks as i64,
            st_atime: n.atime.0,
            st_atime_nsec: n.atime.1,
            st_mtime: n.mtime.0,
            st_mtime_nsec: n.mtime.1,
            st_ctime: n.ctime.0,
            st_ctime_nsec: n.ctime.1,
            ..Stat::default()
        })
    }

    fn read_file(&mut self, ino: u64, off: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let n = self.node_mut(ino)?;
        let Data::File(p) = &n.data else {
            return Err(Errno::EISDIR);
        };
        let got = p.read(off, buf);
        n.touch_atime();
        Ok(got)
    }

    /// Writes at `off` (or at the end if `append`); returns the bytes written and the offset
    /// after them.
    fn write_file(
        &mut self,
        ino: u64,
        off: u64,
        append: bool,
        data: &[u8],
    ) -> Result<(usize, u64), Errno> {
        let (used, max_bytes) = (self.used, self.max_bytes);
        let mem = self.mem.clone();
        let n = self.node_mut(ino)?;
        let Data::File(p) = &mut n.data else {
            return Err(Errno::EISDIR);
        };
        let off = if append { p.size } else { off };
        if data.is_empty() {
            return Ok((0, off));
        }
        if off >= MAX_FILE_SIZE {
            return Err(Errno::EFBIG);
        }
        let len = data
            .len()
            .min(usize::try_from(MAX_FILE_SIZE - off).unwrap_or(usize::MAX));
        let len = p.seals.writable(off, len as u64, p.size)? as usize;
        let data = &data[..len];
        let new = p.new_pages(off, len as u64) * PAGE64;
        if used.saturating_add(new) > max_bytes {
            return Err(Errno::ENOSPC);
        }
        // New pages are heap pages (a page already in the memory file is present).
        if let Some(m) = mem.filter(|_| new > 0) {
            m.charge_or_wait(new).map_err(|_| Errno::ENOSPC)?;
        }
        p.write(off, data);
        n.touch_modified();
        self.used += new;
        Ok((len, off + len as u64))
    }

    fn set_len(&mut self, ino: u64, len: u64) -> Result<(), Errno> {
        if len > MAX_FILE_SIZE {
            return Err(Errno::EFBIG);
        }
        let n = self.node_mut(ino)?;
        if n.mode & S_IFMT != S_IFREG {
            // FIFOs (and sockets) have no length to set.
            if !matches!(n.data, Data::Dir(_)) {
                return Err(Errno::EINVAL);
            }
        }
        let (freed, heap) = match &mut n.data {
            Data::File(p) => {
                p.seals.resize(p.size, len)?;
                let before = p.map.len() as u64;
                let freed = p.set_len(len);
                (freed, before.saturating_sub(p.map.len() as u64))
            }
            Data::Dir(_) => return Err(Errno::EISDIR),
            Data::Symlink(_) => return Err(Errno::EINVAL),
        };
        n.touch_modified();
        self.used = self.used.saturating_sub(freed * PAGE64);
        self.discharge(heap * PAGE64);
        Ok(())
    }

    /// The guest path of directory `ino` ("/tmp/a/b").
    fn dir_path(&self, mut ino: u64) -> Vec<u8> {
        let mut names: Vec<&[u8]> = vec![];
        while ino != ROOT_INO {
            let Ok(d) = self.dir(ino) else { break };
            let Ok(parent) = self.dir(d.parent) else {
                break;
            };
            match parent.entries.values().find(|e| e.1 == ino) {
                Some((name, _)) => names.push(name),
                None => break,
            }
            ino = d.parent;
        }
        let mut out = self.mount.clone();
        for name in names.iter().rev() {
            out.push(b'/');
            out.extend_from_slice(name);
        }
        if out.is_empty() {
            out.push(b'/');
        }
        out
    }

    /// The guest path of what `w` found.
    fn walk_path(&self, w: &Walk, ino: u64) -> Vec<u8> {
        match &w.parent {
            Some((dir, name)) => {
                let mut p = self.dir_path(*dir);
                p.push(b'/');
                p.extend_from_slice(name);
                p
            }
            None => self.dir_path(ino),
        }
    }

    /// Whether `ino` is `ancestor` or lies below it.
    fn is_within(&self, mut ino: u64, ancestor: u64) -> bool {
        loop {
            if ino == ancestor {
                return true;
            }
            if ino == ROOT_INO {
                return false;
            }
            match self.dir(ino) {
                Ok(d) => ino = d.parent,
                Err(_) => return false,
            }
        }
    }
}

/// A counted reference on an inode: keeps it (and its data) alive while open or mapped.
#[derive(Debug)]
struct InodeRef {
    state: Arc<Mutex<State>>,
    ino: u64,
}

impl InodeRef {
    /// Takes a reference while the caller holds the lock (`st` is `state`'s contents).
    fn new_locked(state: &Arc<Mutex<State>>, st: &mut State, ino: u64) -> Result<Self, Errno> {
        st.node_mut(ino)?.refs += 1;
        Ok(InodeRef {
            state: Arc::clone(state),
            ino,
        })
    }

    fn try_clone(&self) -> Result<Self, Errno> {
        let mut st = lock(&self.state);
        InodeRef::new_locked(&self.state, &mut st, self.ino)
    }
}

impl Drop for InodeRef {
    fn drop(&mut self) {
        let mut st = lock(&self.state);
        if let Some(n) = st.inodes.get_mut(&self.ino) {
            n.refs = n.refs.saturating_sub(1);
        }
        st.maybe_free(self.ino);
    }
}

/// An in-memory filesystem. See the module docs for the path rules and limits.
#[derive(Debug)]
pub struct Tmpfs {
    state: Arc<Mutex<State>>,
}

impl Tmpfs {
    /// An empty tmpfs whose new files belong to uid 0, gid 0.
    pub fn new() -> Arc<Tmpfs> {
        Tmpfs::with_owner(0, 0)
    }

    /// An empty tmpfs whose new files belong to `uid`/`gid` (the guest's credentials). The root
    /// directory is `root:root`, mode `1777`.
    pub fn with_owner(uid: u32, gid: u32) -> Arc<Tmpfs> {
        Tmpfs::mounted(uid, gid, b"/tmp", TMPFS_DEV, 0)
    }

    /// An empty tmpfs mounted at `mount` (`b"/tmp"`, or `b""` for the root), whose files show
    /// device `dev` and inode numbers from `ino_base + 1`.
    pub fn mounted(uid: u32, gid: u32, mount: &[u8], dev: u64, ino_base: u64) -> Arc<Tmpfs> {
        let mut st = State {
            inodes: HashMap::new(),
            next_ino: ROOT_INO,
            used: 0,
            max_bytes: MAX_TOTAL_SIZE,
            max_inodes: MAX_INODES,
            mem: None,
            uid: 0,
            gid: 0,
            mount: mount.to_vec(),
            dev,
            ino_base,
            fifos: HashMap::new(),
            moves: 0,
        };
        let root = st.insert_inode(S_IFDIR | 0o1777, 1, Data::Dir(Dir::new(ROOT_INO)));
        debug_assert_eq!(root, ROOT_INO);
        st.uid = uid;
        st.gid = gid;
        Arc::new(Tmpfs {
            state: Arc::new(Mutex::new(st)),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Sets `size=` (bytes) and `nr_inodes=`, and the memory file whose limit its heap pages
    /// and inodes are charged to (from now on).
    pub fn set_limits(&self, mem: Option<Arc<MemoryFile>>, bytes: u64, inodes: u64) {
        let mut st = self.lock();
        st.max_bytes = bytes;
        st.max_inodes = inodes;
        st.mem = mem;
    }

    /// `open(2)` of a path relative to the mount. Honours `O_CREAT` (with `mode & !umask`),
    /// `O_EXCL`, `O_TRUNC`, `O_APPEND`, `O_DIRECTORY`, `O_NOFOLLOW`, `O_PATH` and `O_TMPFILE`;
    /// the access mode is enforced by read and write (`EBADF`).
    pub fn open(
        &self,
        path: &[u8],
        flags: u32,
        mode: u32,
        umask: u32,
    ) -> Result<Arc<dyn FileDescription>, Errno> {
        self.open_as(path, flags, mode, umask, None)
    }

    /// [`Tmpfs::open`], the description known by the guest path `shown` (the path it was
    /// opened by, through whichever mount) instead of this tmpfs's own mount point.
    pub fn open_as(
        &self,
        path: &[u8],
        flags: u32,
        mode: u32,
        umask: u32,
        shown: Option<&[u8]>,
    ) -> Result<Arc<dyn FileDescription>, Errno> {
        if flags & o::PATH == 0 {
            let fifo = {
                let mut st = self.lock();
                match st.lookup(path, flags & o::NOFOLLOW == 0) {
                    // A socket node can't be opened (connect(2) reaches its socket).
                    Ok(ino) if st.node(ino)?.mode & S_IFMT == S_IFSOCK => {
                        return Err(Errno::ENXIO);
                    }
                    Ok(ino) if st.node(ino)?.mode & S_IFMT == S_IFIFO => {
                        if flags & (o::CREAT | o::EXCL) == o::CREAT | o::EXCL {
                            return Err(Errno::EEXIST);
                        }
                        if flags & o::DIRECTORY != 0 {
                            return Err(Errno::ENOTDIR);
                        }
                        let (uid, gid) = (st.uid, st.gid);
                        let (dev, shown) = st.ident(ino);
                        let node = (dev, shown, st.node(ino)?.mode);
                        Some(
                            st.fifos
                                .entry(ino)
                                .or_insert_with(|| super::pipe::Pipe::for_node(uid, gid, node))
                                .clone(),
                        )
                    }
                    _ => None,
                }
            };
            if let Some(p) = fifo {
                return super::pipe::open_fifo(&p, flags);
            }
        }
        Ok(self.open_named(path, flags, mode, umask, shown)?)
    }

    /// `mknod(2)` of a FIFO (`mkfifo`) with `mode & !umask`.
    pub fn mkfifo(&self, path: &[u8], mode: u32, umask: u32) -> Result<(), Errno> {
        self.mknode(path, S_IFIFO, mode, umask)
    }

    /// A socket node (`bind(2)` of an AF_UNIX socket to a path) with `mode & !umask`.
    pub fn mksock(&self, path: &[u8], mode: u32, umask: u32) -> Result<(), Errno> {
        self.mknode(path, S_IFSOCK, mode, umask)
    }

    /// A FIFO or socket node of type `kind`.
    fn mknode(&self, path: &[u8], kind: u32, mode: u32, umask: u32) -> Result<(), Errno> {
        let mut st = self.lock();
        let w = st.walk(path, false)?;
        if w.ino.is_some() {
            return Err(Errno::EEXIST);
        }
        let Some((dir, name)) = w.parent else {
            return Err(Errno::EEXIST);
        };
        let perm = mode & !umask & 0o7777;
        let ino = st.alloc(kind | perm, 1, Data::File(Pages::default()))?;
        st.add_entry(dir, name, ino)
    }

    /// [`Tmpfs::open`], returning the concrete type (for [`TmpfsFile::set_len`]).
    pub fn open_file(
        &self,
        path: &[u8],
        flags: u32,
        mode: u32,
        umask: u32,
    ) -> Result<Arc<TmpfsFile>, Errno> {
        self.open_named(path, flags, mode, umask, None)
    }

    fn open_named(
        &self,
        path: &[u8],
        flags: u32,
        mode: u32,
        umask: u32,
        shown: Option<&[u8]>,
    ) -> Result<Arc<TmpfsFile>, Errno> {
        let mut st = self.lock();
        let acc = flags & o::ACCMODE;
        let path_only = flags & o::PATH != 0;
        let perm = mode & !umask & 0o7777;

        if !path_only && flags & o::TMPFILE == o::TMPFILE {
            if acc == o::RDONLY {
                return Err(Errno::EINVAL);
            }
            let dir = st.lookup(path, true)?;
            st.dir(dir)?;
            let ino = st.alloc(S_IFREG | perm, 0, Data::File(Pages::default()))?;
            let mut name = shown.map_or_else(|| st.dir_path(dir), <[u8]>::to_vec);
            name.extend_from_slice(format!("/#{ino} (deleted)").as_bytes());
            let node = InodeRef::new_locked(&self.state, &mut st, ino)?;
            let file = TmpfsFile::new(node, flags, false, name);
            file.linkable
                .store(flags & o::EXCL == 0, std::sync::atomic::Ordering::Relaxed);
            return Ok(file);
        }

        let creat = flags & o::CREAT != 0 && !path_only;
        let follow = flags & o::NOFOLLOW == 0 && !(creat && flags & o::EXCL != 0);
        let w = st.walk(path, follow || has_trailing_slash(path))?;
        let ino = match w.ino {
            Some(ino) => {
                if creat && flags & o::EXCL != 0 {
                    return Err(Errno::EEXIST);
                }
                ino
            }
            None => {
                if !creat {
                    return Err(Errno::ENOENT);
                }
                if has_trailing_slash(path) {
                    return Err(Errno::EISDIR);
                }
                let Some((dir, name)) = &w.parent else {
                    return Err(Errno::ENOENT);
                };
                let ino = st.alloc(S_IFREG | perm, 1, Data::File(Pages::default()))?;
                st.add_entry(*dir, name.clone(), ino)?;
                ino
            }
        };
        let node = st.node(ino)?;
        let is_dir = node.is_dir();
        match node.data {
            Data::Symlink(_) if !(path_only && flags & o::NOFOLLOW != 0) => {
                return Err(if flags & o::DIRECTORY != 0 {
                    Errno::ENOTDIR
                } else {
                    Errno::ELOOP
                })
            }
            Data::Dir(_)
                if creat || (!path_only && (acc != o::RDONLY || flags & o::TRUNC != 0)) =>
            {
                return Err(Errno::EISDIR)
            }
            Data::Dir(_) => {}
            _ if flags & o::DIRECTORY != 0 => return Err(Errno::ENOTDIR),
            Data::File(_) if !path_only && flags & o::TRUNC != 0 => st.set_len(ino, 0)?,
            _ => {}
        }
        let name = match shown {
            Some(s) => s.to_vec(),
            None => st.walk_path(&w, ino),
        };
        let then = is_dir.then(|| (st.dir_path(ino), st.moves));
        let node = InodeRef::new_locked(&self.state, &mut st, ino)?;
        let mut file = TmpfsFile::make(node, flags, is_dir, name);
        if let Some((then, moves)) = then {
            file.seen = Mutex::new((moves, file.path.clone()));
            file.then = then;
        }
        Ok(Arc::new(file))
    }

    /// A new regular file in no directory, open for reading and writing, shown as `name`
    /// (`memfd_create(2)`): mode `mode`, sealable with `seals` to start with. It lives as long
    /// as a description or mapping holds it.
    pub fn create_unlinked(
        &self,
        name: Vec<u8>,
        mode: u32,
        seals: u32,
    ) -> Result<Arc<TmpfsFile>, Errno> {
        let mut st = self.lock();
        let mut pages = Pages::default();
        pages.seals = Seals::sealable(seals);
        let ino = st.alloc(S_IFREG | (mode & 0o7777), 0, Data::File(pages))?;
        let node = InodeRef::new_locked(&self.state, &mut st, ino)?;
        Ok(TmpfsFile::new(node, o::RDWR, false, name))
    }

    /// For the Sentry's path walk, one step at a time: what `name` is in directory `dir` (an
    /// inode number from [`Tmpfs::walk_lookup`] or an earlier step; [`Tmpfs::ROOT`] for the
    /// root), without following a symlink there (its target is returned, and its atime set as
    /// by `readlink`). Each step costs one lookup however deep `dir` is.
    pub fn walk_child(&self, dir: u64, name: &[u8]) -> Result<(u64, WalkEntry), Errno> {
        self.lock().walk_child(dir, name)
    }

    /// [`Tmpfs::walk_child`] for a whole path relative to the mount (symlinks before the last
    /// component are followed, inside this tmpfs).
    pub fn walk_lookup(&self, path: &[u8]) -> Result<(u64, WalkEntry), Errno> {
        let ino = self.lock().lookup(path, false)?;
        self.walk_child(ino, b".")
    }

    /// The root directory's inode number, for [`Tmpfs::walk_child`].
    pub const ROOT: u64 = ROOT_INO;

    /// `stat(2)` (`follow`) or `lstat(2)`.
    pub fn stat(&self, path: &[u8], follow: bool) -> Result<Stat, Errno> {
        let st = self.lock();
        let ino = st.lookup(path, follow)?;
        st.stat_of(ino)
    }

    /// `mkdir(2)` with `mode & !umask`.
    pub fn mkdir(&self, path: &[u8], mode: u32, umask: u32) -> Result<(), Errno> {
        let mut st = self.lock();
        let w = st.walk(path, false)?;
        if w.ino.is_some() {
            return Err(Errno::EEXIST);
        }
        let Some((dir, name)) = w.parent else {
            return Err(Errno::EEXIST);
        };
        let ino = st.alloc(
            S_IFDIR | (mode & !umask & 0o7777),
            1,
            Data::Dir(Dir::new(dir)),
        )?;
        st.add_entry(dir, name, ino)
    }

    /// `rmdir(2)`.
    pub fn rmdir(&self, path: &[u8]) -> Result<(), Errno> {
        let mut st = self.lock();
        let w = st.walk(path, false)?;
        let ino = w.ino.ok_or(Errno::ENOENT)?;
        if ino == ROOT_INO {
            return Err(Errno::EBUSY);
        }
        let Some((dir, name)) = w.parent else {
            // "dir/." (Linux: EINVAL) or "dir/.." (ENOTEMPTY: it holds us).
            return Err(match components(path).last() {
                Some(b"..") => Errno::ENOTEMPTY,
                _ => Errno::EINVAL,
            });
        };
        if !st.dir(ino)?.entries.is_empty() {
            return Err(Errno::ENOTEMPTY);
        }
        st.remove_entry(dir, &name)?;
        st.moves += 1;
        st.drop_link(ino)
    }

    /// `unlink(2)`.
    pub fn unlink(&self, path: &[u8]) -> Result<(), Errno> {
        let mut st = self.lock();
        let w = st.walk(path, false)?;
        let ino = w.ino.ok_or(Errno::ENOENT)?;
        let Some((dir, name)) = w.parent else {
            return Err(Errno::EISDIR);
        };
        if st.is_dir(ino) {
            return Err(Errno::EISDIR);
        }
        st.remove_entry(dir, &name)?;
        st.drop_link(ino)
    }

    /// `renameat2(2)` with `RENAME_NOREPLACE` and `RENAME_EXCHANGE`.
    pub fn rename(&self, old: &[u8], new: &[u8], flags: u32) -> Result<(), Errno> {
        if flags & !(RENAME_NOREPLACE | RENAME_EXCHANGE) != 0
            || flags == RENAME_NOREPLACE | RENAME_EXCHANGE
        {
            return Err(Errno::EINVAL);
        }
        let mut st = self.lock();
        let wo = st.walk(old, false)?;
        let src = wo.ino.ok_or(Errno::ENOENT)?;
        let (odir, oname) = wo.parent.ok_or(Errno::EBUSY)?;
        let wn = st.walk(new, false)?;
        let (ndir, nname) = wn.parent.ok_or(Errno::EBUSY)?;
        let src_is_dir = st.is_dir(src);
        if !src_is_dir && (has_trailing_slash(old) || has_trailing_slash(new)) {
            return Err(Errno::ENOTDIR);
        }
        // Open directories below either name may have moved (counted even if this fails).
        st.moves += 1;
        if flags & RENAME_EXCHANGE != 0 {
            let dst = wn.ino.ok_or(Errno::ENOENT)?;
            if dst == src {
                return Ok(());
            }
            let dst_is_dir = st.is_dir(dst);
            if (src_is_dir && st.is_within(ndir, src)) || (dst_is_dir && st.is_within(odir, dst)) {
                return Err(Errno::EINVAL);
            }
            st.remove_entry(odir, &oname)?;
            st.remove_entry(ndir, &nname)?;
            st.add_entry(odir, oname, dst)?;
            st.add_entry(ndir, nname, src)?;
            let t = now();
            st.node_mut(src)?.ctime = t;
            st.node_mut(dst)?.ctime = t;
            return Ok(());
        }
        if let Some(dst) = wn.ino {
            if flags & RENAME_NOREPLACE != 0 {
                return Err(Errno::EEXIST);
            }
            if dst == src {
                return Ok(());
            }
            match (src_is_dir, st.is_dir(dst)) {
                (true, false) => return Err(Errno::ENOTDIR),
                (false, true) => return Err(Errno::EISDIR),
                _ => {}
            }
            if src_is_dir && st.is_within(ndir, src) {
                return Err(Errno::EINVAL);
            }
            if st.is_dir(dst) && !st.dir(dst)?.entries.is_empty() {
                return Err(Errno::ENOTEMPTY);
            }
            st.remove_entry(ndir, &nname)?;
            st.drop_link(dst)?;
        } else if src_is_dir && st.is_within(ndir, src) {
            return Err(Errno::EINVAL);
        }
        st.remove_entry(odir, &oname)?;
        st.add_entry(ndir, nname, src)?;
        st.node_mut(src)?.ctime = now();
        Ok(())
    }

    /// `symlink(2)`: `path` becomes a link to `target`.
    pub fn symlink(&self, target: &[u8], path: &[u8]) -> Result<(), Errno> {
        if target.is_empty() {
            return Err(Errno::ENOENT);
        }
        if target.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let mut st = self.lock();
        let w = st.walk(path, false)?;
        if w.ino.is_some() {
            return Err(Errno::EEXIST);
        }
        let Some((dir, name)) = w.parent else {
            return Err(Errno::EEXIST);
        };
        if st.used.saturating_add(target.len() as u64) > st.max_bytes {
            return Err(Errno::ENOSPC);
        }
        let ino = st.alloc(S_IFLNK | 0o777, 1, Data::Symlink(target.to_vec()))?;
        st.used += target.len() as u64;
        st.add_entry(dir, name, ino)
    }

    /// `link(2)`: a new name for the file at `old` (a symlink itself is linked, not followed).
    pub fn link(&self, old: &[u8], new: &[u8]) -> Result<(), Errno> {
        let mut st = self.lock();
        let src = st.lookup(old, false)?;
        if st.is_dir(src) {
            return Err(Errno::EPERM);
        }
        let w = st.walk(new, false)?;
        if w.ino.is_some() {
            return Err(Errno::EEXIST);
        }
        let Some((dir, name)) = w.parent else {
            return Err(Errno::EEXIST);
        };
        if has_trailing_slash(new) {
            return Err(Errno::ENOENT);
        }
        let n = st.node_mut(src)?;
        if n.links == 0 {
            // Linux refuses to relink an unlinked file (except O_TMPFILE ones, via linkat).
            return Err(Errno::ENOENT);
        }
        n.links += 1;
        n.ctime = now();
        st.add_entry(dir, name, src)
    }

    /// `linkat(2)` of an open file (`AT_EMPTY_PATH`, or `/proc/self/fd/N` followed): a new
    /// name at `new` for `file`'s inode, which must be of this tmpfs (`EXDEV`) and have a
    /// name still, or come from `O_TMPFILE` without `O_EXCL` (`ENOENT`).
    pub fn link_open(&self, file: &dyn FileDescription, new: &[u8]) -> Result<(), Errno> {
        let f = file
            .as_any()
            .downcast_ref::<TmpfsFile>()
            .ok_or(Errno::EXDEV)?;
        if !Arc::ptr_eq(&f.node.state, &self.state) {
            return Err(Errno::EXDEV);
        }
        let mut st = self.lock();
        let src = f.node.ino;
        if st.is_dir(src) {
            return Err(Errno::EPERM);
        }
        let w = st.walk(new, false)?;
        if w.ino.is_some() {
            return Err(Errno::EEXIST);
        }
        let Some((dir, name)) = w.parent else {
            return Err(Errno::EEXIST);
        };
        let linkable = f.linkable.swap(false, std::sync::atomic::Ordering::Relaxed);
        let n = st.node_mut(src)?;
        if n.links == 0 && !linkable {
            return Err(Errno::ENOENT);
        }
        n.links += 1;
        n.ctime = now();
        st.add_entry(dir, name, src)
    }

    /// `readlink(2)`.
    pub fn readlink(&self, path: &[u8]) -> Result<Vec<u8>, Errno> {
        let mut st = self.lock();
        let ino = st.lookup(path, false)?;
        let n = st.node_mut(ino)?;
        let Data::Symlink(t) = &n.data else {
            return Err(Errno::EINVAL);
        };
        let t = t.clone();
        n.touch_atime();
        Ok(t)
    }

    /// `truncate(2)`.
    pub fn truncate(&self, path: &[u8], len: u64) -> Result<(), Errno> {
        let mut st = self.lock();
        let ino = st.lookup(path, true)?;
        st.set_len(ino, len)
    }

    /// `chmod(2)`, or `fchmodat(AT_SYMLINK_NOFOLLOW)` when `!follow` (`EOPNOTSUPP` on a
    /// symlink, as Linux).
    pub fn chmod(&self, path: &[u8], mode: u32, follow: bool) -> Result<(), Errno> {
        let mut st = self.lock();
        let ino = st.lookup(path, follow)?;
        st.change(ino, super::AttrChange::Mode(mode))
    }

    /// `utimensat(2)`: `None` (or a `UTIME_NOW` nanosecond field) sets the current time,
    /// `UTIME_OMIT` leaves the time alone. The change time is always set to now.
    pub fn utimens(
        &self,
        path: &[u8],
        atime: Option<(i64, i64)>,
        mtime: Option<(i64, i64)>,
        follow: bool,
    ) -> Result<(), Errno> {
        let mut st = self.lock();
        let ino = st.lookup(path, follow)?;
        st.change(ino, super::AttrChange::Times(atime, mtime))
    }

    /// Sets the owner (`chown(2)`; `u32::MAX` leaves a field alone), or `lchown(2)` when
    /// `!follow`. Clears set-uid and set-gid on files other than directories, as Linux does
    /// for unprivileged callers.
    pub fn chown(&self, path: &[u8], uid: u32, gid: u32, follow: bool) -> Result<(), Errno> {
        let mut st = self.lock();
        let ino = st.lookup(path, follow)?;
        st.change(ino, super::AttrChange::Owner(uid, gid))
    }

    /// Makes `stat` of `path` (not followed) report device `dev` and inode `ino`.
    pub fn set_ident(&self, path: &[u8], dev: u64, ino: u64) -> Result<(), Errno> {
        let mut st = self.lock();
        let i = st.lookup(path, false)?;
        st.node_mut(i)?.ident = Some((dev, ino));
        Ok(())
    }

    /// `getxattr(2)` of `path` (`follow`: the last symlink followed): the whole value.
    pub fn getxattr(&self, path: &[u8], name: &[u8], follow: bool) -> Result<Vec<u8>, Errno> {
        let st = self.lock();
        let ino = st.lookup(path, follow)?;
        supported(name)?;
        st.node(ino)?.xattrs.get(name)
    }

    /// `listxattr(2)` of `path`: the attribute names, in name order.
    pub fn listxattr(&self, path: &[u8], follow: bool) -> Result<Vec<Vec<u8>>, Errno> {
        let st = self.lock();
        let ino = st.lookup(path, follow)?;
        Ok(st.node(ino)?.xattrs.names())
    }

    /// `setxattr(2)` of `path` (`flags`: `XATTR_CREATE`, `XATTR_REPLACE`). What the
    /// attributes grow by counts against `size=` and the memory limit (`ENOSPC`).
    pub fn setxattr(
        &self,
        path: &[u8],
        name: &[u8],
        value: &[u8],
        flags: u32,
        follow: bool,
    ) -> Result<(), Errno> {
        let mut st = self.lock();
        let ino = st.lookup(path, follow)?;
        supported(name)?;
        let (used, max, mem) = (st.used, st.max_bytes, st.mem.clone());
        let mut grew = 0;
        let n = st.node_mut(ino)?;
        let freed = n.xattrs.set(name, value, flags, |more| {
            if used.saturating_add(more) > max {
                return Err(Errno::ENOSPC);
            }
            if let Some(m) = &mem {
                m.charge_or_wait(more).map_err(|_| Errno::ENOSPC)?;
            }
            grew = more;
            Ok(())
        })?;
        n.ctime = now();
        st.used = (st.used + grew).saturating_sub(freed);
        st.discharge(freed);
        Ok(())
    }

    /// `removexattr(2)` of `path`.
    pub fn removexattr(&self, path: &[u8], name: &[u8], follow: bool) -> Result<(), Errno> {
        let mut st = self.lock();
        let ino = st.lookup(path, follow)?;
        supported(name)?;
        let n = st.node_mut(ino)?;
        let freed = n.xattrs.remove(name)?;
        n.ctime = now();
        st.used = st.used.saturating_sub(freed);
        st.discharge(freed);
        Ok(())
    }

    /// A directory's entries (without `.` and `..`), in listing order: (name, inode number
    /// as `stat` shows it, `d_type`).
    pub fn list(&self, path: &[u8]) -> Result<Vec<(Vec<u8>, u64, u8)>, Errno> {
        let st = self.lock();
        let ino = st.lookup(path, true)?;
        let d = st.dir(ino)?;
        Ok(d.entries
            .values()
            .map(|(name, child)| {
                let dtype = st.inodes.get(child).map(Inode::dtype).unwrap_or(0);
                (name.clone(), st.ident(*child).1, dtype)
            })
            .collect())
    }

    /// `statfs(2)` of the filesystem, as the kernel's `struct statfs`.
    pub fn statfs(&self) -> [u8; 120] {
        statfs_bytes(&self.lock())
    }
}

fn statfs_bytes(st: &State) -> [u8; 120] {
    let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let blocks = clamp(st.max_bytes / PAGE64);
    let free = clamp(st.max_bytes.saturating_sub(st.used) / PAGE64);
    let files = clamp(st.max_inodes);
    let words: [i64; 7] = [
        TMPFS_MAGIC,
        PAGE as i64,
        blocks,
        free,
        free,
        files,
        files.saturating_sub(st.inodes.len() as i64).max(0),
    ];
    let mut b = [0u8; 120];
    for (i, w) in words.iter().enumerate() {
        b[8 * i..8 * i + 8].copy_from_slice(&w.to_ne_bytes());
    }
    // f_fsid stays zero; then f_namelen, f_frsize, f_flags (none).
    b[64..72].copy_from_slice(&(NAME_MAX as i64).to_ne_bytes());
    b[72..80].copy_from_slice(&(PAGE as i64).to_ne_bytes());
    b
}
