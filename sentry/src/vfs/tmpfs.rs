//! tmpfs: an in-memory filesystem, mounted by the Sentry at `/tmp`.
//!
//! The VFS hands every guest path under the mount to [`Tmpfs`] *relative to the mount*
//! (`b"dir/file"`, `b""` for the root). Paths may hold `.`, `..` and repeated slashes; they are
//! resolved here. `..` at the root stays at the root. Symlinks are followed (at most 40 hops,
//! then `ELOOP`); a relative target is resolved inside tmpfs, an absolute target is resolved
//! inside tmpfs only when it is `/tmp` or starts with `/tmp/` (the mount point); any other
//! absolute target gives `ENOENT` (crossing back out to another mount is not supported yet).
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
//!   inodes, `ENOSPC`; `statfs` reports both. A file is capped at [`MAX_FILE_SIZE`] (1 GiB:
//!   `EFBIG`, or a short write that stops there). File pages live on the Sentry's heap (the
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

mod marks;
pub use marks::MarkedStep;

/// Largest file: writes beyond it fail with `EFBIG`.
pub const MAX_FILE_SIZE: u64 = 1 << 30;
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

/// A regular file's contents: sparse 4 KiB pages; missing pages read as zeros. Pages that a
/// MAP_SHARED mapping has touched live in the memory file instead (`shared`), so every
/// mapping and read/write see the same bytes.
#[derive(Debug, Default)]
struct Pages {
    size: u64,
    map: BTreeMap<u64, Box<[u8; PAGE]>>,
    /// Page index → memory-file offset, for pages mapped shared at least once.
    shared: BTreeMap<u64, u64>,
    mem: Option<Arc<MemoryFile>>,
    /// Its seals (memfd files only).
    seals: Seals,
    /// Live MAP_SHARED mappings that may be written (see [`TmpfsMapping`]).
    writable_maps: u64,
}

impl Drop for Pages {
    fn drop(&mut self) {
        if let Some(mem) = &self.mem {
            let offs: Vec<u64> = std::mem::take(&mut self.shared).into_values().collect();
            crate::mm::release_pages(mem, offs);
        }
    }
}

impl Pages {
    /// Copies page `idx`'s bytes `[from, from + dst.len())` into `dst`.
    fn read_page(&self, idx: u64, from: usize, dst: &mut [u8]) {
        if let (Some(&o), Some(mem)) = (self.shared.get(&idx), &self.mem) {
            mem.read(o + from as u64, dst);
            return;
        }
        match self.map.get(&idx) {
            Some(p) => dst.copy_from_slice(&p[from..from + dst.len()]),
            None => dst.fill(0),
        }
    }

    fn read(&self, off: u64, buf: &mut [u8]) -> usize {
        if off >= self.size {
            return 0;
        }
        let n = buf
            .len()
            .min(usize::try_from(self.size - off).unwrap_or(usize::MAX));
        let mut done = 0;
        while done < n {
            let pos = off + done as u64;
            let in_page = (pos % PAGE64) as usize;
            let len = (PAGE - in_page).min(n - done);
            self.read_page(pos / PAGE64, in_page, &mut buf[done..done + len]);
            done += len;
        }
        n
    }

    fn present(&self, idx: u64) -> bool {
        self.map.contains_key(&idx) || self.shared.contains_key(&idx)
    }

    /// Allocated pages.
    fn pages(&self) -> u64 {
        (self.map.len() + self.shared.len()) as u64
    }

    /// Pages a write of `len > 0` bytes at `off` would allocate.
    fn new_pages(&self, off: u64, len: u64) -> u64 {
        let first = off / PAGE64;
        let last = (off + len - 1) / PAGE64;
        let present = (first..=last).filter(|&i| self.present(i)).count() as u64;
        last - first + 1 - present
    }

    fn write(&mut self, off: u64, data: &[u8]) {
        let mut done = 0;
        while done < data.len() {
            let pos = off + done as u64;
            let in_page = (pos % PAGE64) as usize;
            let len = (PAGE - in_page).min(data.len() - done);
            let idx = pos / PAGE64;
            if let (Some(&o), Some(mem)) = (self.shared.get(&idx), &self.mem) {
                mem.write(o + in_page as u64, &data[done..done + len]);
            } else {
                let page = self.map.entry(idx).or_insert_with(|| Box::new([0; PAGE]));
                page[in_page..in_page + len].copy_from_slice(&data[done..done + len]);
            }
            done += len;
        }
        self.size = self.size.max(off + data.len() as u64);
    }

    /// Sets the size; returns the number of pages freed.
    fn set_len(&mut self, len: u64) -> u64 {
        let mut freed = 0;
        if len < self.size {
            let first_dead = len.div_ceil(PAGE64);
            let dead = self.map.split_off(&first_dead);
            freed = dead.len() as u64;
            let dead_shared = self.shared.split_off(&first_dead);
            freed += dead_shared.len() as u64;
            if let Some(mem) = &self.mem {
                crate::mm::release_pages(mem, dead_shared.into_values());
            }
            let tail = (len % PAGE64) as usize;
            if tail != 0 {
                let idx = len / PAGE64;
                if let (Some(&o), Some(mem)) = (self.shared.get(&idx), &self.mem) {
                    mem.write(o + tail as u64, &vec![0u8; PAGE - tail]);
                } else if let Some(p) = self.map.get_mut(&idx) {
                    p[tail..].fill(0);
                }
            }
        }
        self.size = len;
        freed
    }

    /// The memory-file page holding page `idx`, moving it there (or allocating a zero page)
    /// the first time a shared mapping asks.
    fn shared_page(&mut self, idx: u64, mem: &Arc<MemoryFile>) -> Result<u64, Errno> {
        if let Some(&o) = self.shared.get(&idx) {
            return Ok(o);
        }
        let o = mem.allocate(PAGE64).map_err(|_| Errno::ENOMEM)?;
        if let Some(p) = self.map.remove(&idx) {
            mem.write(o, &p[..]);
        }
        self.shared.insert(idx, o);
        self.mem = Some(mem.clone());
        Ok(o)
    }

    /// `SEEK_DATA` / `SEEK_HOLE` from `off` (which is below the size).
    fn seek_data_hole(&self, off: u64, data: bool) -> u64 {
        let mut idx = off / PAGE64;
        let end_idx = self.size.div_ceil(PAGE64);
        while idx < end_idx && self.present(idx) != data {
            idx += 1;
        }
        (idx * PAGE64).max(off).min(self.size)
    }
}

/// Directory lookups by name, in every tmpfs (the work a path walk does; logged at the end
/// of a sandbox, so tests can bound it).
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
    fn walk_path(&self, w: &Walk, ino: u64) -> String {
        let p = match &w.parent {
            Some((dir, name)) => {
                let mut p = self.dir_path(*dir);
                p.push(b'/');
                p.extend_from_slice(name);
                p
            }
            None => self.dir_path(ino),
        };
        String::from_utf8_lossy(&p).into_owned()
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
            let file = TmpfsFile::new(
                node,
                flags,
                false,
                String::from_utf8_lossy(&name).into_owned(),
            );
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
            Some(s) => String::from_utf8_lossy(s).into_owned(),
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
        name: String,
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

/// An open tmpfs file, directory or (with `O_PATH|O_NOFOLLOW`) symlink.
#[derive(Debug)]
pub struct TmpfsFile {
    node: InodeRef,
    /// The guest path it was opened by.
    path: String,
    /// A directory's path in this tmpfs when opened (empty for other files), and the path
    /// last worked out for it with the count of moves it was worked out at: a directory
    /// renamed (or one of its ancestors) or removed since shows where it is now.
    then: Vec<u8>,
    seen: Mutex<(u64, String)>,
    is_dir: bool,
    /// Made by `O_TMPFILE` without `O_EXCL`: `linkat` may give it a name while it has none.
    linkable: std::sync::atomic::AtomicBool,
    /// `O_ACCMODE`, `O_APPEND`, `O_NONBLOCK`, `O_PATH`.
    flags: Mutex<u32>,
    /// The file offset; for a directory, the getdents cursor (0 `.`, 1 `..`, else a cookie).
    /// Lock order: `offset` before the filesystem state.
    offset: Mutex<u64>,
}

impl TmpfsFile {
    fn new(node: InodeRef, flags: u32, is_dir: bool, path: String) -> Arc<TmpfsFile> {
        Arc::new(Self::make(node, flags, is_dir, path))
    }

    fn make(node: InodeRef, flags: u32, is_dir: bool, path: String) -> TmpfsFile {
        TmpfsFile {
            node,
            seen: Mutex::new((u64::MAX, String::new())),
            then: Vec::new(),
            path,
            is_dir,
            linkable: std::sync::atomic::AtomicBool::new(false),
            flags: Mutex::new(flags & (o::ACCMODE | o::APPEND | o::NONBLOCK | o::PATH)),
            offset: Mutex::new(0),
        }
    }

    fn flags(&self) -> u32 {
        *self.flags.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.node.state)
    }

    fn check_read(&self) -> Result<(), Errno> {
        let f = self.flags();
        if f & o::PATH != 0 || f & o::ACCMODE == o::WRONLY {
            return Err(Errno::EBADF);
        }
        if self.is_dir {
            return Err(Errno::EISDIR);
        }
        Ok(())
    }

    /// Whether writes are allowed, and whether they append.
    fn check_write(&self) -> Result<bool, Errno> {
        let f = self.flags();
        if f & o::PATH != 0 || f & o::ACCMODE == o::RDONLY {
            return Err(Errno::EBADF);
        }
        Ok(f & o::APPEND != 0)
    }

    /// Runs `f` on the file's pages (ENODEV for what has none).
    fn with_pages<T>(
        &self,
        f: impl FnOnce(&mut Pages, u32) -> Result<T, Errno>,
    ) -> Result<T, Errno> {
        let mut st = self.state();
        let n = st.node_mut(self.node.ino)?;
        let mode = n.mode;
        match &mut n.data {
            Data::File(p) if !self.is_dir => f(p, mode),
            _ => Err(Errno::ENODEV),
        }
    }

    /// `ftruncate(2)`: EBADF for `O_PATH`, EINVAL unless open for writing on a regular file,
    /// EFBIG beyond [`MAX_FILE_SIZE`].
    pub fn set_len(&self, len: u64) -> Result<(), Errno> {
        let f = self.flags();
        if f & o::PATH != 0 {
            return Err(Errno::EBADF);
        }
        if self.is_dir || f & o::ACCMODE == o::RDONLY {
            return Err(Errno::EINVAL);
        }
        self.state().set_len(self.node.ino, len)
    }
}

impl FileDescription for TmpfsFile {
    fn change_attr(&self, change: super::AttrChange) -> Result<(), Errno> {
        lock(&self.node.state).change(self.node.ino, change)
    }

    fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        self.check_read()?;
        let mut off = self.offset.lock().unwrap_or_else(|e| e.into_inner());
        let n = self.state().read_file(self.node.ino, *off, buf)?;
        *off += n as u64;
        Ok(n)
    }

    fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        let append = self.check_write()?;
        let mut off = self.offset.lock().unwrap_or_else(|e| e.into_inner());
        let (n, end) = self.state().write_file(self.node.ino, *off, append, data)?;
        *off = end;
        Ok(n)
    }

    fn pread(&self, buf: &mut [u8], off: u64) -> Result<usize, Errno> {
        self.check_read()?;
        self.state().read_file(self.node.ino, off, buf)
    }

    /// With `O_APPEND` the data goes at the end, whatever `off` says (as Linux does).
    fn pwrite(&self, data: &[u8], off: u64) -> Result<usize, Errno> {
        let append = self.check_write()?;
        Ok(self.state().write_file(self.node.ino, off, append, data)?.0)
    }

    fn seek(&self, off: i64, whence: u32) -> Result<u64, Errno> {
        if self.flags() & o::PATH != 0 {
            return Err(Errno::EBADF);
        }
        let mut cur = self.offset.lock().unwrap_or_else(|e| e.into_inner());
        let st = self.state();
        let size = match &st.node(self.node.ino)?.data {
            Data::File(p) => Some(p),
            _ => None,
        };
        let new = match (whence, size) {
            (SEEK_SET, _) => Some(off),
            (SEEK_CUR, _) => i64::try_from(*cur).ok().and_then(|c| c.checked_add(off)),
            (SEEK_END, Some(p)) => (p.size as i64).checked_add(off),
            (SEEK_DATA | SEEK_HOLE, Some(p)) => {
                let start = u64::try_from(off).map_err(|_| Errno::ENXIO)?;
                if start >= p.size {
                    return Err(Errno::ENXIO);
                }
                Some(p.seek_data_hole(start, whence == SEEK_DATA) as i64)
            }
            _ => None,
        };
        let new = new
            .and_then(|n| u64::try_from(n).ok())
            .ok_or(Errno::EINVAL)?;
        *cur = new;
        Ok(new)
    }

    fn stat(&self) -> Result<Stat, Errno> {
        self.state().stat_of(self.node.ino)
    }

    fn getdents(&self, out: &mut Vec<u8>, max: usize) -> Result<(), Errno> {
        if self.flags() & o::PATH != 0 {
            return Err(Errno::EBADF);
        }
        if !self.is_dir {
            return Err(Errno::ENOTDIR);
        }
        let mut pos = self.offset.lock().unwrap_or_else(|e| e.into_inner());
        let mut st = self.state();
        let ino = self.node.ino;
        let n = st.node(ino)?;
        if n.links == 0 {
            // Linux: getdents of a removed directory is ENOENT.
            return Err(Errno::ENOENT);
        }
        let Data::Dir(d) = &n.data else {
            return Err(Errno::ENOTDIR);
        };
        let start = out.len();
        let mut left = false;
        if *pos == 0 {
            if push_dirent(out, max, st.ident(ino).1, 1, DT_DIR, b".") {
                *pos = 1;
            } else {
                left = true;
            }
        }
        if *pos == 1 && !left {
            if push_dirent(
                out,
                max,
                st.ident(d.parent).1,
                FIRST_COOKIE as i64,
                DT_DIR,
                b"..",
            ) {
                *pos = FIRST_COOKIE;
            } else {
                left = true;
            }
        }
        if !left {
            for (&cookie, (name, child)) in d.entries.range(*pos..) {
                let dtype = st.inodes.get(child).map(Inode::dtype).unwrap_or(0);
                let shown = st.ident(*child).1;
                if !push_dirent(out, max, shown, cookie as i64 + 1, dtype, name) {
                    left = true;
                    break;
                }
                *pos = cookie + 1;
            }
        }
        if left && out.len() == start {
            // Not even one record fits.
            return Err(Errno::EINVAL);
        }
        st.node_mut(ino)?.touch_atime();
        Ok(())
    }

    fn truncate(&self, len: u64) -> Result<(), Errno> {
        self.set_len(len)
    }

    fn allocate(&self, mode: u32, off: u64, len: u64) -> Result<(), Errno> {
        const KEEP_SIZE: u32 = 0x01;
        const PUNCH_HOLE: u32 = 0x02;
        const ZERO_RANGE: u32 = 0x10;
        self.check_write()?;
        if self.is_dir {
            return Err(Errno::EISDIR);
        }
        let end = off.checked_add(len).ok_or(Errno::EFBIG)?;
        let size = self.state().stat_of(self.node.ino)?.st_size as u64;
        let seals = self.with_pages(|p, _| Ok(p.seals))?;
        match mode {
            0 | KEEP_SIZE => {
                seals.allocate(false, end, size)?;
                if mode == 0 && end > size {
                    self.set_len(end)?;
                }
                Ok(())
            }
            m if m == PUNCH_HOLE | KEEP_SIZE || m & !KEEP_SIZE == ZERO_RANGE => {
                let grows = if m == ZERO_RANGE { end } else { 0 };
                seals.allocate(true, grows, size)?;
                // Zeros over the existing bytes of the range (a hole reads as zeros too).
                let upto = end.min(size);
                let mut at = off;
                while at < upto {
                    let n = (upto - at).min(1 << 16);
                    let zeros = vec![0u8; n as usize];
                    self.state().write_file(self.node.ino, at, false, &zeros)?;
                    at += n;
                }
                if m == ZERO_RANGE && end > size {
                    self.set_len(end)?;
                }
                Ok(())
            }
            _ => Err(Errno::EOPNOTSUPP),
        }
    }

    /// `FIONREAD`: bytes between the offset and the end of a regular file.
    fn ioctl(&self, cmd: u32, arg: u64, mem: &dyn GuestMemory) -> Result<u64, Errno> {
        const FIONREAD: u32 = 0x541b;
        if cmd != FIONREAD || self.is_dir || self.flags() & o::PATH != 0 {
            return Err(Errno::ENOTTY);
        }
        let off = *self.offset.lock().unwrap_or_else(|e| e.into_inner());
        let size = self.state().stat_of(self.node.ino)?.st_size as u64;
        let avail = i32::try_from(size.saturating_sub(off)).unwrap_or(i32::MAX);
        mem.write(arg, &avail.to_ne_bytes())?;
        Ok(0)
    }

    fn statfs(&self) -> Result<[u8; 120], Errno> {
        Ok(statfs_bytes(&self.state()))
    }

    fn mappable(&self) -> Option<Arc<dyn MappableFile>> {
        if self.is_dir || self.flags() & o::PATH != 0 {
            return None;
        }
        let node = self.node.try_clone().ok()?;
        Some(Arc::new(TmpfsMapping {
            node,
            name: self.path.clone(),
            writable: self.flags() & o::ACCMODE == o::RDWR,
            counted: false,
        }))
    }

    /// Counts the mapping among the file's writable shared mappings while it lives, unless
    /// seals keep it read-only (see [`Seals::shared_mapping`]).
    fn mappable_shared(&self, write: bool) -> Result<Arc<dyn MappableFile>, Errno> {
        if self.is_dir || self.flags() & o::PATH != 0 {
            return Err(Errno::ENODEV);
        }
        let node = self.node.try_clone()?;
        let rdwr = self.flags() & o::ACCMODE == o::RDWR;
        let writable = self.with_pages(|p, _| {
            let may = rdwr && p.seals.shared_mapping(write)?;
            p.writable_maps += u64::from(may);
            Ok(may)
        })?;
        Ok(Arc::new(TmpfsMapping {
            node,
            name: self.path.clone(),
            writable,
            counted: writable,
        }))
    }

    fn seals(&self) -> Result<u32, Errno> {
        if self.is_dir {
            return Err(Errno::EINVAL);
        }
        self.with_pages(|p, _| p.seals.get())
    }

    fn add_seals(&self, seals: u32) -> Result<(), Errno> {
        if self.is_dir {
            return Err(Errno::EINVAL);
        }
        self.with_pages(|p, mode| p.seals.add(seals, mode, p.writable_maps))
    }

    fn status_flags(&self) -> u32 {
        self.flags()
    }

    fn set_status_flags(&self, flags: u32) {
        const CHANGEABLE: u32 = o::APPEND | o::NONBLOCK;
        let mut f = self.flags.lock().unwrap_or_else(|e| e.into_inner());
        if *f & o::PATH == 0 {
            *f = (*f & !CHANGEABLE) | (flags & CHANGEABLE);
        }
    }

    fn follows_moves(&self) -> bool {
        !self.then.is_empty()
    }

    /// A directory's path follows its moves (the guest path it was opened by, with the
    /// part in this tmpfs replaced by where the directory is now), and ends in ` (deleted)`
    /// once it is removed, as Linux's d_path; other files keep the path they were opened by.
    fn path(&self) -> String {
        if !self.is_dir || self.then.is_empty() {
            return self.path.clone();
        }
        let st = self.state();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.0 == st.moves {
            return seen.1.clone();
        }
        let removed = st.node(self.node.ino).map_or(true, |n| n.links == 0);
        let now = match removed {
            true => None,
            false => moved(
                self.path.as_bytes(),
                &self.then,
                &st.dir_path(self.node.ino),
            ),
        };
        let path = match now {
            Some(p) => String::from_utf8_lossy(&p).into_owned(),
            None if removed => format!("{} (deleted)", seen.1.trim_end_matches(" (deleted)")),
            None => seen.1.clone(),
        };
        *seen = (st.moves, path.clone());
        path
    }
}

/// A tmpfs file as a mapping source: reads its current contents (a private mapping copies
/// pages at fault time). Keeps the inode alive after the fd is closed.
#[derive(Debug)]
struct TmpfsMapping {
    node: InodeRef,
    name: String,
    /// Mapped from a description open for reading and writing (and, shared, not sealed
    /// against writing).
    writable: bool,
    /// Counted in the file's `writable_maps` until dropped.
    counted: bool,
}

impl Drop for TmpfsMapping {
    fn drop(&mut self) {
        if !self.counted {
            return;
        }
        let mut st = lock(&self.node.state);
        if let Ok(Inode {
            data: Data::File(p),
            ..
        }) = st.node_mut(self.node.ino)
        {
            p.writable_maps = p.writable_maps.saturating_sub(1);
        }
    }
}

impl MappableFile for TmpfsMapping {
    fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let st = lock(&self.node.state);
        match &st.node(self.node.ino)?.data {
            Data::File(p) => Ok(p.read(off, buf)),
            _ => Err(Errno::ENODEV),
        }
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    fn shared_writable(&self) -> bool {
        self.writable
    }

    fn shared_page(&self, index: u64, mem: &Arc<MemoryFile>) -> Option<Result<u64, Errno>> {
        let mut st = lock(&self.node.state);
        let room = st.used.saturating_add(PAGE64) <= st.max_bytes;
        let r = match st.node_mut(self.node.ino) {
            Ok(n) => match &mut n.data {
                // A hole gets a page (counted in `size`); a heap page moves to the memory
                // file (no longer the heap's).
                Data::File(p) => {
                    match (p.shared.contains_key(&index), p.map.contains_key(&index)) {
                        (true, _) => p.shared_page(index, mem).map(|o| (o, 0, 0)),
                        (false, true) => p.shared_page(index, mem).map(|o| (o, 0, PAGE64)),
                        (false, false) if room => p.shared_page(index, mem).map(|o| (o, PAGE64, 0)),
                        (false, false) => Err(Errno::ENOSPC),
                    }
                }
                _ => Err(Errno::ENODEV),
            },
            Err(e) => Err(e),
        };
        Some(r.map(|(o, grown, moved)| {
            st.used += grown;
            st.discharge(moved);
            // The mapping's owner, counted before the lock goes (a truncate would free a
            // page only the file owns).
            crate::mm::add_owner(mem, o);
            o
        }))
    }
}

/// The tmpfs as a mounted filesystem (paths from its root, see [`super::filesystem`]).
impl Filesystem for Tmpfs {
    fn follows_moves(&self) -> bool {
        true
    }

    fn fstype(&self) -> &'static str {
        "tmpfs"
    }

    fn dev(&self) -> u64 {
        self.lock().dev
    }

    fn step(
        &self,
        _cx: &dyn Caller,
        path: &[u8],
        name: &[u8],
        at: Option<Cursor>,
    ) -> Result<(Entry, Option<Cursor>), Errno> {
        let (ino, entry) = match at {
            Some(c) => self.walk_child(c.ino, name)?,
            None if path == b"/" => self.walk_child(ROOT_INO, b".")?,
            None => self.walk_lookup(fs_rel(path))?,
        };
        Ok(match entry {
            WalkEntry::Dir(p) => (Entry::Dir(p), Some(Cursor { ino, aux: 0 })),
            WalkEntry::Symlink(t) => (Entry::Symlink(t), None),
            WalkEntry::Other => (Entry::Other, None),
        })
    }

    fn up(&self, c: Cursor) -> Option<Cursor> {
        match self.walk_child(c.ino, b"..") {
            Ok((ino, WalkEntry::Dir(_))) => Some(Cursor { ino, aux: 0 }),
            _ => None,
        }
    }

    fn stat(&self, _cx: &dyn Caller, path: &[u8], _follow: bool) -> Result<Stat, Errno> {
        Tmpfs::stat(self, fs_rel(path), false)
    }

    fn readlink(&self, _cx: &dyn Caller, path: &[u8]) -> Result<Vec<u8>, Errno> {
        Tmpfs::readlink(self, fs_rel(path))
    }

    fn open(
        &self,
        cx: &dyn Caller,
        path: &[u8],
        guest: &[u8],
        flags: u32,
        mode: u32,
    ) -> Result<Arc<dyn FileDescription>, Errno> {
        Tmpfs::open_as(self, fs_rel(path), flags, mode, cx.umask(), Some(guest))
    }

    fn statfs(&self, _cx: &dyn Caller, path: &[u8]) -> Result<[u8; 120], Errno> {
        Tmpfs::stat(self, fs_rel(path), false)?;
        Ok(Tmpfs::statfs(self))
    }

    fn mkdir(&self, cx: &dyn Caller, path: &[u8], mode: u32) -> Result<(), Errno> {
        Tmpfs::mkdir(self, fs_rel(path), mode, cx.umask())
    }

    fn mkfifo(&self, cx: &dyn Caller, path: &[u8], mode: u32) -> Result<(), Errno> {
        Tmpfs::mkfifo(self, fs_rel(path), mode, cx.umask())
    }

    fn mksock(&self, cx: &dyn Caller, path: &[u8], mode: u32) -> Result<(), Errno> {
        Tmpfs::mksock(self, fs_rel(path), mode, cx.umask())
    }

    fn rmdir(&self, path: &[u8]) -> Result<(), Errno> {
        Tmpfs::rmdir(self, fs_rel(path))
    }

    fn unlink(&self, path: &[u8]) -> Result<(), Errno> {
        Tmpfs::unlink(self, fs_rel(path))
    }

    fn rename(&self, old: &[u8], new: &[u8], flags: u32) -> Result<(), Errno> {
        Tmpfs::rename(self, fs_rel(old), fs_rel(new), flags)
    }

    fn symlink(&self, target: &[u8], path: &[u8]) -> Result<(), Errno> {
        Tmpfs::symlink(self, target, fs_rel(path))
    }

    fn link(&self, old: &[u8], new: &[u8]) -> Result<(), Errno> {
        Tmpfs::link(self, fs_rel(old), fs_rel(new))
    }

    fn link_file(&self, file: &dyn FileDescription, new: &[u8]) -> Result<(), Errno> {
        Tmpfs::link_open(self, file, fs_rel(new))
    }

    fn truncate(&self, path: &[u8], len: u64) -> Result<(), Errno> {
        Tmpfs::truncate(self, fs_rel(path), len)
    }

    fn chmod(&self, path: &[u8], mode: u32) -> Result<(), Errno> {
        Tmpfs::chmod(self, fs_rel(path), mode, false)
    }

    fn chown(&self, path: &[u8], uid: u32, gid: u32) -> Result<(), Errno> {
        Tmpfs::chown(self, fs_rel(path), uid, gid, false)
    }

    fn utimens(
        &self,
        path: &[u8],
        atime: Option<(i64, i64)>,
        mtime: Option<(i64, i64)>,
    ) -> Result<(), Errno> {
        Tmpfs::utimens(self, fs_rel(path), atime, mtime, false)
    }

    fn getxattr(&self, _cx: &dyn Caller, path: &[u8], name: &[u8]) -> Result<Vec<u8>, Errno> {
        Tmpfs::getxattr(self, fs_rel(path), name, false)
    }

    fn listxattr(&self, _cx: &dyn Caller, path: &[u8]) -> Result<Vec<Vec<u8>>, Errno> {
        Tmpfs::listxattr(self, fs_rel(path), false)
    }

    fn setxattr(&self, path: &[u8], name: &[u8], value: &[u8], flags: u32) -> Result<(), Errno> {
        Tmpfs::setxattr(self, fs_rel(path), name, value, flags, false)
    }

    fn removexattr(&self, path: &[u8], name: &[u8]) -> Result<(), Errno> {
        Tmpfs::removexattr(self, fs_rel(path), name, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RW: u32 = o::RDWR;
    const CREAT: u32 = o::CREAT | o::RDWR;

    fn open(fs: &Tmpfs, path: &str, flags: u32) -> Result<Arc<TmpfsFile>, Errno> {
        fs.open_file(path.as_bytes(), flags, 0o666, 0o022)
    }

    fn must(fs: &Tmpfs, path: &str, flags: u32) -> Arc<TmpfsFile> {
        open(fs, path, flags).expect("open")
    }

    fn create(fs: &Tmpfs, path: &str, data: &[u8]) {
        let f = must(fs, path, CREAT | o::TRUNC);
        assert_eq!(f.write(data).expect("write"), data.len());
    }

    fn contents(fs: &Tmpfs, path: &str) -> Vec<u8> {
        let f = must(fs, path, o::RDONLY);
        let mut out = vec![];
        let mut buf = [0u8; 1000];
        loop {
            let n = f.read(&mut buf).expect("read");
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    fn stat(fs: &Tmpfs, path: &str) -> Stat {
        fs.stat(path.as_bytes(), true).expect("stat")
    }

    fn lstat(fs: &Tmpfs, path: &str) -> Stat {
        fs.stat(path.as_bytes(), false).expect("lstat")
    }

    fn err<T: std::fmt::Debug>(r: Result<T, Errno>) -> Errno {
        r.expect_err("expected an error")
    }

    /// One decoded `linux_dirent64`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Ent {
        ino: u64,
        off: i64,
        dtype: u8,
        name: String,
    }

    fn decode(buf: &[u8]) -> Vec<Ent> {
        let mut out = vec![];
        let mut at = 0;
        while at < buf.len() {
            let r = &buf[at..];
            let word = |i: usize| {
                let mut b = [0u8; 8];
                b.copy_from_slice(&r[i..i + 8]);
                b
            };
            let ino = u64::from_ne_bytes(word(0));
            let off = i64::from_ne_bytes(word(8));
            let reclen = usize::from(u16::from_ne_bytes([r[16], r[17]]));
            let dtype = r[18];
            let name_bytes = &r[19..reclen];
            let end = name_bytes
                .iter()
                .position(|&b| b == 0)
                .expect("NUL-terminated name");
            assert_eq!(reclen % 8, 0, "records are 8-aligned");
            out.push(Ent {
                ino,
                off,
                dtype,
                name: String::from_utf8_lossy(&name_bytes[..end]).into_owned(),
            });
            at += reclen;
        }
        out
    }

    /// Calls getdents with `max`-byte buffers until it returns nothing.
    fn list_with(f: &TmpfsFile, max: usize) -> Vec<Ent> {
        let mut all = vec![];
        loop {
            let mut buf = vec![];
            f.getdents(&mut buf, max).expect("getdents");
            if buf.is_empty() {
                return all;
            }
            all.extend(decode(&buf));
        }
    }

    fn names(fs: &Tmpfs, dir: &str) -> Vec<String> {
        let f = must(fs, dir, o::RDONLY | o::DIRECTORY);
        list_with(&f, 4096).into_iter().map(|e| e.name).collect()
    }

    /// `nr_inodes` and `size` give ENOSPC; freed ones come back; heap pages and inodes are
    /// charged to the memory file.
    #[test]
    fn size_and_inode_limits() {
        let mem = Arc::new(MemoryFile::new(1 << 24).expect("memory file"));
        let fs = Tmpfs::new();
        fs.set_limits(Some(mem.clone()), 2 * PAGE64, 3);
        let f = open(&fs, "a", CREAT).expect("a");
        fs.mkdir(b"d", 0o755, 0).expect("d");
        assert_eq!(err(open(&fs, "b", CREAT)), Errno::ENOSPC, "root, a, d");
        assert_eq!(err(fs.mkdir(b"e", 0o755, 0)), Errno::ENOSPC);
        assert_eq!(err(fs.symlink(b"a", b"l")), Errno::ENOSPC);
        assert_eq!(mem.used(), 2 * INODE_COST, "the root was there before");
        assert_eq!(f.write(&[1; 2 * PAGE]), Ok(2 * PAGE));
        assert_eq!(mem.used(), 2 * INODE_COST + 2 * PAGE64);
        assert_eq!(f.write(&[1]), Err(Errno::ENOSPC));
        let words =
            |b: [u8; 120], i: usize| i64::from_ne_bytes(b[8 * i..8 * i + 8].try_into().expect("8"));
        let sf = fs.statfs();
        assert_eq!(
            (words(sf, 2), words(sf, 3), words(sf, 5), words(sf, 6)),
            (2, 0, 3, 0)
        );
        fs.rmdir(b"d").expect("rmdir");
        f.truncate(PAGE64).expect("truncate");
        assert_eq!(mem.used(), INODE_COST + PAGE64);
        open(&fs, "b", CREAT).expect("an inode is free again");
        assert_eq!(f.write(&[1]), Ok(1), "a page is free again");
    }

    #[test]
    fn xattrs_follow_the_inode_and_count_against_the_limits() {
        use crate::vfs::xattr::{ENTRY_COST, MAX_BYTES_PER_INODE};
        use snare_abi::file::xattr::{XATTR_CREATE, XATTR_REPLACE};
        let mem = Arc::new(MemoryFile::new(1 << 24).expect("memory file"));
        let fs = Tmpfs::new();
        fs.set_limits(Some(mem.clone()), 64 * PAGE64, 100);
        create(&fs, "a", b"A");
        fs.setxattr(b"a", b"user.k", b"v", XATTR_CREATE, false)
            .expect("set");
        assert_eq!(
            err(fs.setxattr(b"a", b"user.k", b"w", XATTR_CREATE, false)),
            Errno::EEXIST
        );
        assert_eq!(
            err(fs.setxattr(b"a", b"user.n", b"w", XATTR_REPLACE, false)),
            Errno::ENODATA
        );
        assert_eq!(err(fs.getxattr(b"a", b"user.n", false)), Errno::ENODATA);
        assert_eq!(err(fs.getxattr(b"a", b"foo.n", false)), Errno::EOPNOTSUPP);
        assert_eq!(
            err(fs.setxattr(b"a", b"system.posix_acl_access", b"", 0, false)),
            Errno::EOPNOTSUPP
        );
        assert_eq!(
            err(fs.setxattr(b"a", b"user.", b"", 0, false)),
            Errno::EINVAL
        );
        fs.setxattr(b"a", b"trusted.t", b"", 0, false)
            .expect("trusted");
        // Renames and hard links keep them: they belong to the inode.
        fs.rename(b"a", b"b", 0).expect("rename");
        fs.link(b"b", b"c").expect("link");
        assert_eq!(fs.getxattr(b"c", b"user.k", false), Ok(b"v".to_vec()));
        assert_eq!(
            fs.listxattr(b"b", false),
            Ok(vec![b"trusted.t".to_vec(), b"user.k".to_vec()])
        );
        // A symlink's own attributes, or its target's.
        fs.symlink(b"b", b"l").expect("symlink");
        assert_eq!(fs.listxattr(b"l", false), Ok(vec![]));
        assert_eq!(fs.getxattr(b"l", b"user.k", true), Ok(b"v".to_vec()));
        fs.removexattr(b"c", b"user.k", false).expect("remove");
        assert_eq!(err(fs.removexattr(b"c", b"user.k", false)), Errno::ENODATA);
        assert_eq!(
            err(fs.getxattr(b"missing", b"user.k", false)),
            Errno::ENOENT
        );

        // Counted against size= and the memory limit, and given back when the file goes.
        let used = fs.lock().used;
        let mem_used = mem.used();
        let big = vec![1u8; 65_536];
        fs.setxattr(b"b", b"user.big", &big, 0, false).expect("big");
        let cost = ENTRY_COST + 8 + 65_536;
        assert_eq!(fs.lock().used, used + cost);
        assert_eq!(mem.used(), mem_used + cost);
        // Past the per-inode bound: ENOSPC, and nothing changes.
        let r = fs.setxattr(b"b", b"user.big2", &big, 0, false);
        assert_eq!(err(r), Errno::ENOSPC);
        assert!(fs
            .lock()
            .inodes
            .values()
            .all(|n| n.xattrs.bytes() <= MAX_BYTES_PER_INODE));
        assert_eq!(fs.lock().used, used + cost);
        // Past size=: 64 pages hold a few such inodes at most.
        let mut made = 0;
        let e = loop {
            let name = format!("f{made}");
            create(&fs, &name, b"");
            match fs.setxattr(name.as_bytes(), b"user.big", &big, 0, false) {
                Ok(()) => made += 1,
                Err(e) => break e,
            }
        };
        assert_eq!(e, Errno::ENOSPC);
        assert!(made < 5, "{made}");
        for i in 0..=made {
            fs.unlink(format!("f{i}").as_bytes()).expect("unlink");
        }
        fs.unlink(b"b").expect("unlink b");
        fs.unlink(b"c").expect("unlink c");
        assert_eq!(
            fs.lock().used,
            b"b".len() as u64,
            "the symlink's target is left"
        );
        assert_eq!(
            mem.used(),
            INODE_COST,
            "the symlink (the root came before the limit)"
        );
    }

    #[test]
    fn create_write_read_back() {
        let fs = Tmpfs::with_owner(1000, 100);
        let f = must(&fs, "a.txt", CREAT);
        assert_eq!(f.write(b"hello world").expect("write"), 11);
        assert_eq!(f.seek(0, SEEK_SET).expect("seek"), 0);
        let mut buf = [0u8; 5];
        assert_eq!(f.read(&mut buf).expect("read"), 5);
        assert_eq!(&buf, b"hello");
        assert_eq!(f.seek(0, SEEK_CUR).expect("seek"), 5);
        assert_eq!(f.seek(-5, SEEK_END).expect("seek"), 6);
        assert_eq!(err(f.seek(-100, SEEK_END)), Errno::EINVAL);
        assert_eq!(f.path(), "/tmp/a.txt");
        let s = f.stat().expect("fstat");
        assert_eq!(s.st_mode, S_IFREG | 0o644);
        assert_eq!((s.st_uid, s.st_gid), (1000, 100));
        assert_eq!(s.st_size, 11);
        assert_eq!(s.st_nlink, 1);
        assert_eq!(s.st_blocks, 8);
        assert_eq!(s.st_blksize, 4096);
        assert_eq!(s.st_dev, TMPFS_DEV);
        assert_eq!(contents(&fs, "a.txt"), b"hello world");
        // Another file gets another inode.
        create(&fs, "b.txt", b"");
        assert_ne!(stat(&fs, "b.txt").st_ino, s.st_ino);
        // Access modes.
        let r = must(&fs, "a.txt", o::RDONLY);
        assert_eq!(err(r.write(b"x")), Errno::EBADF);
        assert_eq!(err(r.pwrite(b"x", 0)), Errno::EBADF);
        let w = must(&fs, "a.txt", o::WRONLY);
        assert_eq!(err(w.read(&mut buf)), Errno::EBADF);
        assert_eq!(err(w.pread(&mut buf, 0)), Errno::EBADF);
        assert_eq!(w.status_flags() & o::ACCMODE, o::WRONLY);
        // pread/pwrite leave the offset alone.
        assert_eq!(w.pwrite(b"HELLO", 0).expect("pwrite"), 5);
        assert_eq!(w.seek(0, SEEK_CUR).expect("seek"), 0);
        assert_eq!(r.pread(&mut buf, 0).expect("pread"), 5);
        assert_eq!(&buf, b"HELLO");
        assert_eq!(r.pread(&mut buf, 100).expect("pread past end"), 0);
        // Missing files.
        assert_eq!(err(open(&fs, "nope", RW)), Errno::ENOENT);
        assert_eq!(err(open(&fs, "nope/x", CREAT)), Errno::ENOENT);
        assert_eq!(err(fs.stat(b"nope", true)), Errno::ENOENT);
    }

    #[test]
    fn umask_and_root() {
        let fs = Tmpfs::new();
        let root = stat(&fs, "");
        assert_eq!(root.st_mode, S_IFDIR | 0o1777);
        assert_eq!(root.st_ino, ROOT_INO);
        assert_eq!(root.st_nlink, 2);
        fs.open(b"f", CREAT, 0o777, 0o027).expect("create");
        assert_eq!(stat(&fs, "f").st_mode, S_IFREG | 0o750);
        fs.mkdir(b"d", 0o777, 0o022).expect("mkdir");
        assert_eq!(stat(&fs, "d").st_mode, S_IFDIR | 0o755);
        assert_eq!(must(&fs, "", o::RDONLY).path(), "/tmp");
        assert_eq!(must(&fs, "d/", o::RDONLY).path(), "/tmp/d");
    }

    #[test]
    fn o_excl() {
        let fs = Tmpfs::new();
        must(&fs, "x", CREAT | o::EXCL);
        assert_eq!(err(open(&fs, "x", CREAT | o::EXCL)), Errno::EEXIST);
        // O_CREAT without O_EXCL opens the existing file.
        must(&fs, "x", CREAT);
        // O_EXCL doesn't follow a final symlink, even a dangling one.
        fs.symlink(b"missing", b"dangling").expect("symlink");
        assert_eq!(err(open(&fs, "dangling", CREAT | o::EXCL)), Errno::EEXIST);
        fs.mkdir(b"d", 0o755, 0).expect("mkdir");
        assert_eq!(err(open(&fs, "d", CREAT | o::EXCL)), Errno::EEXIST);
        assert_eq!(err(open(&fs, "d", o::CREAT | o::RDONLY)), Errno::EISDIR);
    }

    #[test]
    fn o_trunc() {
        let fs = Tmpfs::new();
        create(&fs, "t", b"some data");
        let f = must(&fs, "t", o::WRONLY | o::TRUNC);
        assert_eq!(f.stat().expect("fstat").st_size, 0);
        assert_eq!(contents(&fs, "t"), b"");
        f.write(b"ab").expect("write");
        assert_eq!(contents(&fs, "t"), b"ab");
        fs.mkdir(b"d", 0o755, 0).expect("mkdir");
        assert_eq!(err(open(&fs, "d", o::RDONLY | o::TRUNC)), Errno::EISDIR);
    }

    #[test]
    fn append() {
        let fs = Tmpfs::new();
        create(&fs, "log", b"1");
        let a = must(&fs, "log", o::WRONLY | o::APPEND);
        let b = must(&fs, "log", o::WRONLY | o::APPEND);
        a.write(b"2").expect("write");
        b.write(b"3").expect("write");
        a.write(b"4").expect("write");
        assert_eq!(a.seek(0, SEEK_CUR).expect("seek"), 4);
        // pwrite on an O_APPEND description appends, as on Linux.
        a.pwrite(b"5", 0).expect("pwrite");
        assert_eq!(contents(&fs, "log"), b"12345");
        assert_eq!(a.status_flags() & o::APPEND, o::APPEND);
        // F_SETFL can drop O_APPEND (but not change the access mode).
        a.set_status_flags(o::RDWR);
        assert_eq!(a.status_flags(), o::WRONLY);
        a.seek(0, SEEK_SET).expect("seek");
        a.write(b"X").expect("write");
        assert_eq!(contents(&fs, "log"), b"X2345");
        a.set_status_flags(o::APPEND | o::NONBLOCK);
        assert_eq!(a.status_flags(), o::WRONLY | o::APPEND | o::NONBLOCK);
    }

    #[test]
    fn sparse_write_and_holes() {
        let fs = Tmpfs::new();
        let f = must(&fs, "s", CREAT);
        f.pwrite(b"tail", 10000).expect("pwrite");
        let s = f.stat().expect("fstat");
        assert_eq!(s.st_size, 10004);
        // Only the page holding the data is allocated (Linux tmpfs counts pages too).
        assert_eq!(s.st_blocks, 8);
        let data = contents(&fs, "s");
        assert_eq!(data.len(), 10004);
        assert!(data[..10000].iter().all(|&b| b == 0));
        assert_eq!(&data[10000..], b"tail");
        assert_eq!(f.seek(0, SEEK_DATA).expect("SEEK_DATA"), 8192);
        assert_eq!(f.seek(0, SEEK_HOLE).expect("SEEK_HOLE"), 0);
        assert_eq!(f.seek(9000, SEEK_HOLE).expect("SEEK_HOLE"), 10004);
        assert_eq!(err(f.seek(20000, SEEK_DATA)), Errno::ENXIO);
        // Writing after seeking past the end zero-fills the gap.
        f.seek(10010, SEEK_SET).expect("seek");
        f.write(b"!").expect("write");
        let data = contents(&fs, "s");
        assert_eq!(&data[10000..], b"tail\0\0\0\0\0\0!");
        // Shrinking then growing reads zeros where data was.
        f.set_len(10002).expect("ftruncate");
        f.set_len(10008).expect("ftruncate");
        assert_eq!(&contents(&fs, "s")[10000..], b"ta\0\0\0\0\0\0");
        fs.truncate(b"s", 0).expect("truncate");
        assert_eq!(stat(&fs, "s").st_blocks, 0);
    }

    #[test]
    fn getdents_lists_in_creation_order() {
        let fs = Tmpfs::new();
        fs.mkdir(b"d", 0o755, 0).expect("mkdir");
        create(&fs, "d/b", b"");
        create(&fs, "d/a", b"");
        fs.mkdir(b"d/sub", 0o755, 0).expect("mkdir");
        fs.symlink(b"a", b"d/ln").expect("symlink");
        let d = must(&fs, "d", o::RDONLY | o::DIRECTORY);
        let ents = list_with(&d, 4096);
        let got: Vec<(&str, u8)> = ents.iter().map(|e| (&e.name[..], e.dtype)).collect();
        assert_eq!(
            got,
            [
                (".", DT_DIR),
                ("..", DT_DIR),
                ("b", DT_REG),
                ("a", DT_REG),
                ("sub", DT_DIR),
                ("ln", DT_LNK)
            ]
        );
        assert_eq!(ents[0].ino, stat(&fs, "d").st_ino);
        assert_eq!(ents[1].ino, ROOT_INO);
        assert_eq!(ents[3].ino, stat(&fs, "d/a").st_ino);
        // d_off of each record is a cursor: seeking to it resumes after the record.
        d.seek(ents[2].off, SEEK_SET).expect("seek");
        let rest: Vec<String> = list_with(&d, 4096).into_iter().map(|e| e.name).collect();
        assert_eq!(rest, ["a", "sub", "ln"]);
        // Rewind and read one record at a time.
        d.seek(0, SEEK_SET).expect("rewind");
        assert_eq!(list_with(&d, 24), ents);
        // A buffer too small for one record.
        d.seek(0, SEEK_SET).expect("rewind");
        let mut buf = vec![];
        assert_eq!(err(d.getdents(&mut buf, 10)), Errno::EINVAL);
        // Not a directory.
        let f = must(&fs, "d/a", o::RDONLY);
        assert_eq!(err(f.getdents(&mut buf, 4096)), Errno::ENOTDIR);
        let mut rbuf = [0u8; 4];
        assert_eq!(err(d.read(&mut rbuf)), Errno::EISDIR);
        assert_eq!(err(d.write(b"x")), Errno::EBADF);
    }

    #[test]
    fn getdents_survives_removal_while_iterating() {
        let fs = Tmpfs::new();
        fs.mkdir(b"d", 0o755, 0).expect("mkdir");
        for n in ["e1", "e2", "e3", "e4", "e5"] {
            create(&fs, &format!("d/{n}"), b"");
        }
        let d = must(&fs, "d", o::RDONLY);
        // ".", "..", "e1" are 24 bytes each.
        let mut buf = vec![];
        d.getdents(&mut buf, 72).expect("getdents");
        let first: Vec<String> = decode(&buf).into_iter().map(|e| e.name).collect();
        assert_eq!(first, [".", "..", "e1"]);
        // Remove the one already seen, the next one and one further on; add one.
        for n in ["d/e1", "d/e2", "d/e4"] {
            fs.unlink(n.as_bytes()).expect("unlink");
        }
        create(&fs, "d/e6", b"");
        let rest: Vec<String> = list_with(&d, 4096).into_iter().map(|e| e.name).collect();
        assert_eq!(rest, ["e3", "e5", "e6"]);
        // An rmdir'ed directory that is still open: ENOENT, as Linux.
        fs.mkdir(b"gone", 0o755, 0).expect("mkdir");
        let g = must(&fs, "gone", o::RDONLY);
        fs.rmdir(b"gone").expect("rmdir");
        assert_eq!(err(g.getdents(&mut buf, 4096)), Errno::ENOENT);
        assert_eq!(g.stat().expect("fstat").st_nlink, 0);
    }

    #[test]
    fn mkdir_rmdir_unlink_errors() {
        let fs = Tmpfs::new();
        fs.mkdir(b"d", 0o755, 0).expect("mkdir");
        assert_eq!(err(fs.mkdir(b"d", 0o755, 0)), Errno::EEXIST);
        assert_eq!(err(fs.mkdir(b"", 0o755, 0)), Errno::EEXIST);
        assert_eq!(err(fs.mkdir(b"d/..", 0o755, 0)), Errno::EEXIST);
        assert_eq!(err(fs.mkdir(b"no/sub", 0o755, 0)), Errno::ENOENT);
        create(&fs, "f", b"");
        assert_eq!(err(fs.mkdir(b"f", 0o755, 0)), Errno::EEXIST);
        assert_eq!(err(fs.mkdir(b"f/sub", 0o755, 0)), Errno::ENOTDIR);
        fs.mkdir(b"d/e/", 0o755, 0)
            .expect("mkdir with trailing slash");
        create(&fs, "d/e/g", b"");
        assert_eq!(err(fs.rmdir(b"d")), Errno::ENOTEMPTY);
        assert_eq!(err(fs.rmdir(b"f")), Errno::ENOTDIR);
        assert_eq!(err(fs.rmdir(b"")), Errno::EBUSY);
        assert_eq!(err(fs.rmdir(b"d/e/..")), Errno::ENOTEMPTY);
        assert_eq!(err(fs.rmdir(b"d/e/.")), Errno::EINVAL);
        assert_eq!(err(fs.rmdir(b"nope")), Errno::ENOENT);
        assert_eq!(err(fs.unlink(b"d")), Errno::EISDIR);
        assert_eq!(err(fs.unlink(b"")), Errno::EISDIR);
        assert_eq!(err(fs.unlink(b"nope")), Errno::ENOENT);
        assert_eq!(err(fs.unlink(b"f/")), Errno::ENOTDIR);
        assert_eq!(err(fs.unlink(b"f/x")), Errno::ENOTDIR);
        fs.unlink(b"d/e/g").expect("unlink");
        fs.rmdir(b"d/e/").expect("rmdir");
        fs.rmdir(b"d").expect("rmdir");
        assert_eq!(names(&fs, ""), [".", "..", "f"]);
        // Opening directories.
        fs.mkdir(b"d", 0o755, 0).expect("mkdir");
        assert_eq!(err(open(&fs, "d", o::WRONLY)), Errno::EISDIR);
        assert_eq!(err(open(&fs, "d", o::RDWR)), Errno::EISDIR);
        assert_eq!(
            err(open(&fs, "f", o::RDONLY | o::DIRECTORY)),
            Errno::ENOTDIR
        );
        assert_eq!(err(open(&fs, "f/", o::RDONLY)), Errno::ENOTDIR);
        assert_eq!(err(open(&fs, "new/", CREAT)), Errno::EISDIR);
        assert_eq!(err(fs.stat(b"f/", true)), Errno::ENOTDIR);
        let long = "x".repeat(256);
        assert_eq!(err(open(&fs, &long, CREAT)), Errno::ENAMETOOLONG);
    }

    #[test]
    fn directory_nlink() {
        let fs = Tmpfs::new();
        assert_eq!(stat(&fs, "").st_nlink, 2);
        fs.mkdir(b"a", 0o755, 0).expect("mkdir");
        assert_eq!(stat(&fs, "").st_nlink, 3);
        assert_eq!(stat(&fs, "a").st_nlink, 2);
        fs.mkdir(b"a/b", 0o755, 0).expect("mkdir");
        create(&fs, "a/file", b"");
        assert_eq!(stat(&fs, "a").st_nlink, 3);
        fs.rename(b"a/b", b"b", 0).expect("rename");
        assert_eq!(stat(&fs, "a").st_nlink, 2);
        assert_eq!(stat(&fs, "").st_nlink, 4);
        fs.rmdir(b"b").expect("rmdir");
        assert_eq!(stat(&fs, "").st_nlink, 3);
    }

    #[test]
    fn rename_cases() {
        let fs = Tmpfs::new();
        create(&fs, "a", b"A");
        create(&fs, "b", b"B");
        let ino_a = stat(&fs, "a").st_ino;
        // Over an existing file: the target is replaced.
        fs.rename(b"a", b"b", 0).expect("rename");
        assert_eq!(err(fs.stat(b"a", true)), Errno::ENOENT);
        assert_eq!(contents(&fs, "b"), b"A");
        assert_eq!(stat(&fs, "b").st_ino, ino_a);
        // To the same file (or another hard link of it): nothing happens.
        fs.rename(b"b", b"b", 0).expect("self");
        fs.link(b"b", b"b2").expect("link");
        fs.rename(b"b", b"b2", 0).expect("to own hard link");
        assert_eq!(stat(&fs, "b").st_nlink, 2);
        fs.unlink(b"b2").expect("unlink");
        // NOREPLACE.
        create(&fs, "c", b"C");
        assert_eq!(err(fs.rename(b"b", b"c", RENAME_NOREPLACE)), Errno::EEXIST);
        fs.rename(b"c", b"c2", RENAME_NOREPLACE)
            .expect("noreplace to free name");
        assert_eq!(err(fs.rename(b"c", b"c3", 0)), Errno::ENOENT);
        // EXCHANGE.
        fs.rename(b"b", b"c2", RENAME_EXCHANGE).expect("exchange");
        assert_eq!(contents(&fs, "b"), b"C");
        assert_eq!(contents(&fs, "c2"), b"A");
        assert_eq!(err(fs.rename(b"b", b"zz", RENAME_EXCHANGE)), Errno::ENOENT);
        assert_eq!(
            err(fs.rename(b"b", b"c2", RENAME_EXCHANGE | RENAME_NOREPLACE)),
            Errno::EINVAL
        );
        assert_eq!(err(fs.rename(b"b", b"c2", 8)), Errno::EINVAL);
        // Directories.
        fs.mkdir(b"d1", 0o755, 0).expect("mkdir");
        fs.mkdir(b"d2", 0o755, 0).expect("mkdir");
        fs.mkdir(b"full", 0o755, 0).expect("mkdir");
        create(&fs, "full/x", b"");
        create(&fs, "d1/inside", b"in");
        assert_eq!(err(fs.rename(b"d1", b"full", 0)), Errno::ENOTEMPTY);
        assert_eq!(err(fs.rename(b"d1", b"b", 0)), Errno::ENOTDIR);
        assert_eq!(err(fs.rename(b"b", b"d2", 0)), Errno::EISDIR);
        assert_eq!(err(fs.rename(b"b/", b"zz", 0)), Errno::ENOTDIR);
        fs.mkdir(b"d1/sub", 0o755, 0).expect("mkdir");
        assert_eq!(err(fs.rename(b"d1", b"d1/sub/d1", 0)), Errno::EINVAL);
        assert_eq!(err(fs.rename(b"d1", b"d1/sub", 0)), Errno::EINVAL);
        assert_eq!(err(fs.rename(b"", b"x", 0)), Errno::EBUSY);
        assert_eq!(err(fs.rename(b"b", b"", 0)), Errno::EBUSY);
        // Dir over an empty dir.
        let d2_ino = stat(&fs, "d2").st_ino;
        fs.rename(b"d1", b"d2", 0).expect("dir over empty dir");
        assert_ne!(stat(&fs, "d2").st_ino, d2_ino);
        assert_eq!(contents(&fs, "d2/inside"), b"in");
        // A moved directory's ".." follows it.
        fs.rename(b"d2", b"full/moved", 0).expect("move dir");
        let m = must(&fs, "full/moved", o::RDONLY);
        assert_eq!(m.path(), "/tmp/full/moved");
        let ents = list_with(&m, 4096);
        assert_eq!(ents[1].ino, stat(&fs, "full").st_ino);
        assert_eq!(contents(&fs, "full/moved/sub/../inside"), b"in");
        assert_eq!(stat(&fs, "full").st_nlink, 3);
    }

    #[test]
    fn symlinks() {
        let fs = Tmpfs::new();
        fs.mkdir(b"dir", 0o755, 0).expect("mkdir");
        create(&fs, "dir/file", b"target");
        fs.symlink(b"dir/file", b"rel").expect("symlink");
        assert_eq!(contents(&fs, "rel"), b"target");
        let l = lstat(&fs, "rel");
        assert_eq!(l.st_mode, S_IFLNK | 0o777);
        assert_eq!(l.st_size, 8);
        assert_eq!(stat(&fs, "rel").st_ino, stat(&fs, "dir/file").st_ino);
        assert_eq!(fs.readlink(b"rel").expect("readlink"), b"dir/file");
        assert_eq!(err(fs.readlink(b"dir/file")), Errno::EINVAL);
        assert_eq!(err(fs.readlink(b"nope")), Errno::ENOENT);
        // A chain, and a link relative to its own directory.
        fs.symlink(b"rel", b"chain").expect("symlink");
        fs.symlink(b"file", b"dir/sibling").expect("symlink");
        fs.symlink(b"../rel", b"dir/up").expect("symlink");
        assert_eq!(contents(&fs, "chain"), b"target");
        assert_eq!(contents(&fs, "dir/sibling"), b"target");
        assert_eq!(contents(&fs, "dir/up"), b"target");
        // Through a link to a directory.
        fs.symlink(b"dir", b"dl").expect("symlink");
        assert_eq!(contents(&fs, "dl/file"), b"target");
        assert_eq!(must(&fs, "dl/file", o::RDONLY).path(), "/tmp/dir/file");
        assert_eq!(lstat(&fs, "dl/").st_mode & S_IFMT, S_IFDIR);
        // Absolute targets: inside the mount they resolve, elsewhere ENOENT.
        fs.symlink(b"/tmp/dir/file", b"abs").expect("symlink");
        fs.symlink(b"/tmp", b"absroot").expect("symlink");
        fs.symlink(b"/etc/passwd", b"out").expect("symlink");
        fs.symlink(b"/tmpx/file", b"out2").expect("symlink");
        assert_eq!(contents(&fs, "abs"), b"target");
        assert_eq!(contents(&fs, "absroot/dir/file"), b"target");
        assert_eq!(err(fs.stat(b"out", true)), Errno::ENOENT);
        assert_eq!(err(fs.stat(b"out2", true)), Errno::ENOENT);
        // Loops.
        fs.symlink(b"loop2", b"loop1").expect("symlink");
        fs.symlink(b"loop1", b"loop2").expect("symlink");
        assert_eq!(err(open(&fs, "loop1", RW)), Errno::ELOOP);
        assert_eq!(err(fs.stat(b"loop1/x", false)), Errno::ELOOP);
        fs.symlink(b"self", b"self").expect("symlink");
        assert_eq!(err(fs.stat(b"self", true)), Errno::ELOOP);
        assert_eq!(lstat(&fs, "self").st_mode & S_IFMT, S_IFLNK);
        // 40 hops are fine, 41 are not.
        fs.symlink(b"dir/file", b"h0").expect("symlink");
        for i in 1..=41 {
            let t = format!("h{}", i - 1);
            fs.symlink(t.as_bytes(), format!("h{i}").as_bytes())
                .expect("symlink");
        }
        assert_eq!(contents(&fs, "h39"), b"target");
        assert_eq!(err(fs.stat(b"h40", true)), Errno::ELOOP);
        // O_NOFOLLOW, O_PATH|O_NOFOLLOW.
        assert_eq!(err(open(&fs, "rel", RW | o::NOFOLLOW)), Errno::ELOOP);
        let p = must(&fs, "rel", o::PATH | o::NOFOLLOW);
        assert_eq!(p.stat().expect("fstat").st_mode & S_IFMT, S_IFLNK);
        let mut buf = [0u8; 4];
        assert_eq!(err(p.read(&mut buf)), Errno::EBADF);
        // O_CREAT through a dangling link creates its target.
        fs.symlink(b"dir/made", b"dangling").expect("symlink");
        create(&fs, "dangling", b"new");
        assert_eq!(contents(&fs, "dir/made"), b"new");
        // Errors.
        assert_eq!(err(fs.symlink(b"x", b"rel")), Errno::EEXIST);
        assert_eq!(err(fs.symlink(b"", b"empty")), Errno::ENOENT);
        assert_eq!(err(fs.chmod(b"rel", 0o600, false)), Errno::EOPNOTSUPP);
        fs.chmod(b"rel", 0o600, true).expect("chmod through link");
        assert_eq!(stat(&fs, "dir/file").st_mode, S_IFREG | 0o600);
        // unlink removes the link, not the target.
        fs.unlink(b"rel").expect("unlink");
        assert_eq!(contents(&fs, "dir/file"), b"target");
    }

    #[test]
    fn hard_links_and_nlink() {
        let fs = Tmpfs::new();
        create(&fs, "a", b"one");
        fs.link(b"a", b"b").expect("link");
        assert_eq!(stat(&fs, "a").st_nlink, 2);
        assert_eq!(stat(&fs, "a").st_ino, stat(&fs, "b").st_ino);
        let f = must(&fs, "b", o::WRONLY | o::APPEND);
        f.write(b"two").expect("write");
        assert_eq!(contents(&fs, "a"), b"onetwo");
        fs.unlink(b"a").expect("unlink");
        assert_eq!(stat(&fs, "b").st_nlink, 1);
        assert_eq!(contents(&fs, "b"), b"onetwo");
        fs.mkdir(b"d", 0o755, 0).expect("mkdir");
        assert_eq!(err(fs.link(b"d", b"d2")), Errno::EPERM);
        create(&fs, "c", b"");
        assert_eq!(err(fs.link(b"b", b"c")), Errno::EEXIST);
        assert_eq!(err(fs.link(b"nope", b"x")), Errno::ENOENT);
        assert_eq!(err(fs.link(b"b", b"nope/x")), Errno::ENOENT);
        // A symlink is linked itself.
        fs.symlink(b"b", b"s").expect("symlink");
        fs.link(b"s", b"s2").expect("link symlink");
        assert_eq!(lstat(&fs, "s2").st_mode & S_IFMT, S_IFLNK);
        assert_eq!(lstat(&fs, "s").st_nlink, 2);
    }

    #[test]
    fn unlink_while_open_and_mapped() {
        let fs = Tmpfs::new();
        let free0 = fs.statfs();
        let f = must(&fs, "gone", CREAT);
        f.write(b"still here").expect("write");
        let map = f.mappable().expect("mappable");
        assert_eq!(map.name(), "/tmp/gone");
        fs.unlink(b"gone").expect("unlink");
        assert_eq!(err(open(&fs, "gone", RW)), Errno::ENOENT);
        assert_eq!(names(&fs, ""), [".", ".."]);
        assert_eq!(f.stat().expect("fstat").st_nlink, 0);
        f.write(b"!").expect("write after unlink");
        let mut buf = [0u8; 32];
        assert_eq!(f.pread(&mut buf, 0).expect("pread"), 11);
        assert_eq!(&buf[..11], b"still here!");
        assert_ne!(fs.statfs(), free0);
        drop(f);
        // The mapping keeps the inode alive after the fd is gone.
        assert_eq!(map.read_at(6, &mut buf).expect("read_at"), 5);
        assert_eq!(&buf[..5], b"here!");
        drop(map);
        // Everything is freed now: the statfs counters are back where they started.
        assert_eq!(fs.statfs(), free0);
    }

    #[test]
    fn unlinked_sealable_files() {
        use snare_abi::file::seal::{F_SEAL_GROW, F_SEAL_SEAL, F_SEAL_WRITE};
        let fs = Tmpfs::new();
        let free0 = fs.statfs();
        let f = fs
            .create_unlinked("/memfd:x (deleted)".into(), 0o777, 0)
            .expect("create");
        assert_eq!(f.path(), "/memfd:x (deleted)");
        assert_eq!(names(&fs, ""), [".", ".."]);
        let st = f.stat().expect("fstat");
        assert_eq!((st.st_mode, st.st_nlink), (S_IFREG | 0o777, 0));
        f.write(b"0123456789").expect("write");
        // A shared mapping that may be written, even one mapped read-only, forbids
        // F_SEAL_WRITE while it lives; a private one doesn't count.
        let shared = f.mappable_shared(false).expect("mappable_shared");
        let private = f.mappable().expect("mappable");
        assert_eq!(f.add_seals(F_SEAL_WRITE), Err(Errno::EBUSY));
        drop(shared);
        f.add_seals(F_SEAL_WRITE | F_SEAL_GROW).expect("add");
        assert_eq!(f.seals(), Ok(F_SEAL_WRITE | F_SEAL_GROW));
        assert_eq!(f.write(b"x"), Err(Errno::EPERM));
        assert_eq!(f.truncate(100), Err(Errno::EPERM));
        f.truncate(5).expect("shrink");
        assert_eq!(f.allocate(0, 0, 10), Err(Errno::EPERM));
        assert_eq!(f.mappable_shared(true).map(|_| ()), Err(Errno::EPERM));
        let ro = f.mappable_shared(false).expect("read-only");
        assert!(!ro.shared_writable());
        assert!(private.shared_writable());
        drop((ro, private, f));
        assert_eq!(fs.statfs(), free0);
        // Other tmpfs files can't be sealed.
        let g = must(&fs, "plain", CREAT);
        assert_eq!(g.seals(), Err(Errno::EINVAL));
        assert_eq!(g.add_seals(F_SEAL_SEAL), Err(Errno::EINVAL));
    }

    #[test]
    fn mapping_reads_current_contents() {
        let fs = Tmpfs::new();
        let f = must(&fs, "m", CREAT);
        f.write(b"abc").expect("write");
        let map = f.mappable().expect("mappable");
        f.pwrite(b"XYZW", 1).expect("pwrite");
        let mut buf = [0u8; 8];
        assert_eq!(map.read_at(0, &mut buf).expect("read_at"), 5);
        assert_eq!(&buf[..5], b"aXYZW");
        assert_eq!(map.read_at(5, &mut buf).expect("read_at at EOF"), 0);
        fs.mkdir(b"d", 0o755, 0).expect("mkdir");
        assert!(must(&fs, "d", o::RDONLY).mappable().is_none());
    }

    #[test]
    fn dotdot_and_slashes() {
        let fs = Tmpfs::new();
        fs.mkdir(b"a", 0o755, 0).expect("mkdir");
        fs.mkdir(b"a/b", 0o755, 0).expect("mkdir");
        create(&fs, "a/b/f", b"deep");
        create(&fs, "top", b"top");
        assert_eq!(contents(&fs, "a//b///f"), b"deep");
        assert_eq!(contents(&fs, "./a/./b/./f"), b"deep");
        assert_eq!(contents(&fs, "a/b/../b/f"), b"deep");
        assert_eq!(contents(&fs, "a/b/../../top"), b"top");
        // ".." at the root stays at the root.
        assert_eq!(contents(&fs, "../../top"), b"top");
        assert_eq!(contents(&fs, "a/../../../top"), b"top");
        assert_eq!(stat(&fs, "a/b/../../..").st_ino, ROOT_INO);
        assert_eq!(must(&fs, "a/b/..", o::RDONLY).path(), "/tmp/a");
        assert_eq!(must(&fs, "a/../a/b/f", o::RDONLY).path(), "/tmp/a/b/f");
        // ".." after a file is ENOTDIR.
        assert_eq!(err(fs.stat(b"top/..", true)), Errno::ENOTDIR);
        create(&fs, "a/../made", b"m");
        assert_eq!(contents(&fs, "made"), b"m");
        // A symlink with ".." in its target, resolved from the link's directory.
        fs.symlink(b"../../top", b"a/b/totop").expect("symlink");
        assert_eq!(contents(&fs, "a/b/totop"), b"top");
    }

    #[test]
    fn times_move_forward() {
        let fs = Tmpfs::new();
        let t0 = stat(&fs, "");
        std::thread::sleep(std::time::Duration::from_millis(20));
        let f = must(&fs, "t", CREAT);
        let root = stat(&fs, "");
        assert!((root.st_mtime, root.st_mtime_nsec) > (t0.st_mtime, t0.st_mtime_nsec));
        let s1 = f.stat().expect("fstat");
        assert_eq!(
            (s1.st_mtime, s1.st_mtime_nsec),
            (s1.st_ctime, s1.st_ctime_nsec)
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
        f.write(b"data").expect("write");
        let s2 = f.stat().expect("fstat");
        assert!((s2.st_mtime, s2.st_mtime_nsec) > (s1.st_mtime, s1.st_mtime_nsec));
        assert!((s2.st_ctime, s2.st_ctime_nsec) > (s1.st_ctime, s1.st_ctime_nsec));
        // relatime: the first read after a write updates atime.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let mut buf = [0u8; 4];
        f.pread(&mut buf, 0).expect("pread");
        let s3 = f.stat().expect("fstat");
        assert!((s3.st_atime, s3.st_atime_nsec) > (s2.st_mtime, s2.st_mtime_nsec));
        assert_eq!(s3.st_mtime, s2.st_mtime);
        // rename and chmod change ctime only.
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs.rename(b"t", b"t2", 0).expect("rename");
        let s4 = stat(&fs, "t2");
        assert!((s4.st_ctime, s4.st_ctime_nsec) > (s3.st_ctime, s3.st_ctime_nsec));
        assert_eq!(
            (s4.st_mtime, s4.st_mtime_nsec),
            (s2.st_mtime, s2.st_mtime_nsec)
        );
        // utimens.
        fs.utimens(b"t2", Some((100, 5)), Some((200, 6)), true)
            .expect("utimens");
        let s5 = stat(&fs, "t2");
        assert_eq!((s5.st_atime, s5.st_atime_nsec), (100, 5));
        assert_eq!((s5.st_mtime, s5.st_mtime_nsec), (200, 6));
        fs.utimens(b"t2", Some((0, UTIME_OMIT)), None, true)
            .expect("utimens");
        let s6 = stat(&fs, "t2");
        assert_eq!((s6.st_atime, s6.st_atime_nsec), (100, 5));
        assert!(s6.st_mtime > 200);
        assert_eq!(
            err(fs.utimens(b"t2", Some((0, 1_000_000_000)), None, true)),
            Errno::EINVAL
        );
        // O_TRUNC and truncate(2) set mtime.
        fs.truncate(b"t2", 1).expect("truncate");
        assert!(stat(&fs, "t2").st_mtime > 200);
    }

    #[test]
    fn size_limits_and_ftruncate() {
        let fs = Tmpfs::new();
        let f = must(&fs, "big", CREAT);
        assert_eq!(err(f.pwrite(b"x", MAX_FILE_SIZE)), Errno::EFBIG);
        // A write that crosses the limit is cut short there.
        assert_eq!(f.pwrite(b"xyz", MAX_FILE_SIZE - 1).expect("pwrite"), 1);
        assert_eq!(f.stat().expect("fstat").st_size as u64, MAX_FILE_SIZE);
        assert_eq!(err(f.set_len(MAX_FILE_SIZE + 1)), Errno::EFBIG);
        assert_eq!(err(fs.truncate(b"big", MAX_FILE_SIZE + 1)), Errno::EFBIG);
        f.set_len(3).expect("ftruncate");
        assert_eq!(f.stat().expect("fstat").st_size, 3);
        let r = must(&fs, "big", o::RDONLY);
        assert_eq!(err(r.set_len(0)), Errno::EINVAL);
        // The same through the trait (what ftruncate(2) calls).
        let w: Arc<dyn FileDescription> = must(&fs, "big", o::WRONLY);
        w.truncate(2).expect("ftruncate");
        assert_eq!(stat(&fs, "big").st_size, 2);
        let p = must(&fs, "big", o::PATH);
        assert_eq!(err(p.set_len(0)), Errno::EBADF);
        fs.mkdir(b"d", 0o755, 0).expect("mkdir");
        assert_eq!(err(fs.truncate(b"d", 0)), Errno::EISDIR);
    }

    #[test]
    fn o_tmpfile() {
        let fs = Tmpfs::new();
        fs.mkdir(b"d", 0o755, 0).expect("mkdir");
        let f = must(&fs, "d", o::TMPFILE | o::RDWR);
        assert_eq!(f.stat().expect("fstat").st_nlink, 0);
        f.write(b"anon").expect("write");
        let mut buf = [0u8; 4];
        assert_eq!(f.pread(&mut buf, 0).expect("pread"), 4);
        assert_eq!(names(&fs, "d"), [".", ".."]);
        assert_eq!(err(open(&fs, "d", o::TMPFILE | o::RDONLY)), Errno::EINVAL);
        create(&fs, "file", b"");
        assert_eq!(err(open(&fs, "file", o::TMPFILE | o::RDWR)), Errno::ENOTDIR);
    }

    #[test]
    fn statfs_reports_tmpfs() {
        let fs = Tmpfs::new();
        let b = fs.statfs();
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[8 * i..8 * i + 8]);
            i64::from_ne_bytes(w)
        };
        assert_eq!(word(0), TMPFS_MAGIC);
        assert_eq!(word(1), 4096);
        assert_eq!(word(2), word(3));
        create(&fs, "f", &[1u8; 5000]);
        let after = must(&fs, "f", o::RDONLY).statfs().expect("fstatfs");
        let mut w = [0u8; 8];
        w.copy_from_slice(&after[24..32]);
        assert_eq!(i64::from_ne_bytes(w), word(3) - 2);
    }

    #[test]
    fn fionread() {
        let fs = Tmpfs::new();
        create(&fs, "f", b"0123456789");
        let f = must(&fs, "f", o::RDONLY);
        f.seek(3, SEEK_SET).expect("seek");
        let mem = crate::mm::FlatMemory {
            base: 0x1000,
            bytes: std::cell::RefCell::new(vec![0; 8]),
        };
        assert_eq!(f.ioctl(0x541b, 0x1000, &mem).expect("FIONREAD"), 0);
        assert_eq!(mem.bytes.borrow()[..4], 7i32.to_ne_bytes());
        assert_eq!(err(f.ioctl(0x5401, 0x1000, &mem)), Errno::ENOTTY);
    }

    #[test]
    fn tmpfs_is_send_sync() {
        fn check<T: Send + Sync + std::fmt::Debug>() {}
        check::<Tmpfs>();
        check::<TmpfsFile>();
    }
}
