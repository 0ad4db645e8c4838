//! Guest paths: reading them, the Sentry's path walk across mounts, and the per-mount
//! dispatch of open, stat, readlink and statfs.
//!
//! The walk resolves `.`, `..` and symlinks component by component in the Sentry, asking the
//! mount that serves each prefix ([`Mounts::route`]), so an absolute symlink in /tmp reaches
//! the overlay root and a host symlink into /proc reaches the guest's procfs. Under /proc the
//! rest of the path goes to procfs, whose magic links (`exe`, `cwd`, `fd/N`) redirect.
//! The host side stays confined by `openat2(RESOLVE_IN_ROOT)` whatever the walk does.
//!
//! Fast path: a plain path (no `.`/`..`, no trailing slash) on the root mount that nothing has
//! changed ([`Overlay::untouched`]) goes straight to the host with `RESOLVE_NO_SYMLINKS`; only
//! if the host meets a symlink (`ELOOP`) does the Sentry walk it.
//!
//! [`Overlay::untouched`]: crate::vfs::overlay::Overlay::untouched

use std::collections::VecDeque;
use std::sync::Arc;

use snare_abi::file::{o, Stat, AT_FDCWD, S_IFDIR, S_IFLNK, S_IFMT};
use snare_abi::Errno;

use super::proc_info::{process_info, system_info};
use crate::kernel::Task;
use crate::mm::GuestMemory;
use crate::vfs::dev::{dev_symlink, symlink_stat, DevKind, DEV_ENTRIES};
use crate::vfs::mount::{MountKind, Mounts};
use crate::vfs::procfs::{Procfs, Redirect};
use crate::vfs::tmpfs::{Tmpfs, WalkEntry};
use crate::vfs::{DevFile, EmptyDir, FileDescription};

/// Longest path accepted (PATH_MAX).
const PATH_MAX: usize = 4096;
const NAME_MAX: usize = 255;
/// Symlinks followed in one walk before `ELOOP` (as Linux).
const MAX_HOPS: u32 = 40;

/// Collapses `.`, `..` and repeated slashes of an absolute path, lexically.
pub(crate) fn normalize(path: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for c in path.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    join(&parts)
}

fn join(parts: &[impl AsRef<[u8]>]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        out.push(b'/');
        out.extend_from_slice(p.as_ref());
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

fn components(path: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> {
    path.split(|&b| b == b'/').filter(|c| !c.is_empty())
}

/// The guest path argument at `addr`.
pub(super) fn path_arg(task: &Task, addr: u64) -> Result<Vec<u8>, Errno> {
    task.mm.read_cstr(addr, PATH_MAX).map_err(|e| {
        if e == Errno::ENAMETOOLONG {
            Errno::ENAMETOOLONG
        } else {
            Errno::EFAULT
        }
    })
}

/// `path` relative to `dirfd` (or the cwd) as an absolute guest path.
pub(super) fn absolute(task: &Task, dirfd: i32, path: &[u8]) -> Result<Vec<u8>, Errno> {
    if path.first() == Some(&b'/') {
        return Ok(path.to_vec());
    }
    let mut base = if dirfd == AT_FDCWD {
        task.fs.cwd()
    } else {
        let f = task.fds.get(dirfd)?;
        if f.stat()?.st_mode & S_IFMT != S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        f.path().into_bytes()
    };
    if base.last() != Some(&b'/') {
        base.push(b'/');
    }
    base.extend_from_slice(path);
    Ok(base)
}

/// What a walk reached.
pub(super) enum Node {
    /// An absolute, normalized guest path with no symlink before its last component (and
    /// none there either when the walk followed it).
    Path(Vec<u8>),
    /// `/proc/self/fd/N`, followed: what fd `N` refers to.
    Fd(i32),
}

/// What a path (whose prefix is resolved) names, for the walk.
enum Kind {
    Dir,
    Symlink(Vec<u8>),
    Other,
}

fn kind_of(task: &Task, path: &[u8]) -> Result<Kind, Errno> {
    let mode_kind = |st: Stat| {
        if st.st_mode & S_IFMT == S_IFDIR {
            Kind::Dir
        } else {
            Kind::Other
        }
    };
    let m = &task.k.mounts;
    match Mounts::route(path) {
        (MountKind::Root, _) => {
            let st = m.root.stat(path)?;
            if st.st_mode & S_IFMT == S_IFLNK {
                return Ok(Kind::Symlink(m.root.readlink(path)?));
            }
            Ok(mode_kind(st))
        }
        (k @ (MountKind::Tmp | MountKind::Shm), rel) => {
            let st = m.tmpfs(k).stat(rel, false)?;
            if st.st_mode & S_IFMT == S_IFLNK {
                return Ok(Kind::Symlink(m.tmpfs(k).readlink(rel)?));
            }
            Ok(mode_kind(st))
        }
        (MountKind::Dev | MountKind::Sys, b"") => Ok(Kind::Dir),
        (MountKind::Dev, _) if DevFile::lookup(path).is_some() => Ok(Kind::Other),
        (MountKind::Dev, _) if dev_symlink(path).is_some() => Ok(Kind::Symlink(
            dev_symlink(path).unwrap_or_default().to_vec(),
        )),
        (MountKind::Dev | MountKind::Sys, _) => Err(Errno::ENOENT),
        // The walk hands /proc to procfs before asking.
        (MountKind::Proc, _) => Ok(Kind::Dir),
    }
}

/// Walks `abs` (absolute) in the Sentry: `..` and symlinks resolved across mounts; the last
/// component's symlink only when `follow` (or a trailing slash). A missing last component is
/// fine (for creation); a trailing slash on an existing non-directory is `ENOTDIR`.
pub(super) fn resolve(task: &Task, abs: &[u8], follow: bool) -> Result<Node, Errno> {
    resolve_in(task, abs, follow, b"/")
}

/// The walk's current path: its components and, kept alongside, their joined bytes (so a
/// step costs the component's length, not the path's).
struct WalkPath {
    parts: Vec<Vec<u8>>,
    bytes: Vec<u8>,
}

impl WalkPath {
    fn new(parts: Vec<Vec<u8>>) -> WalkPath {
        let mut w = WalkPath {
            parts: Vec::new(),
            bytes: Vec::new(),
        };
        for p in parts {
            w.push(p);
        }
        w
    }

    fn push(&mut self, c: Vec<u8>) {
        self.bytes.push(b'/');
        self.bytes.extend_from_slice(&c);
        self.parts.push(c);
    }

    fn pop(&mut self) {
        if let Some(c) = self.parts.pop() {
            self.bytes
                .truncate(self.bytes.len().saturating_sub(c.len() + 1));
        }
    }

    fn truncate(&mut self, n: usize) {
        while self.parts.len() > n {
            self.pop();
        }
    }

    fn len(&self) -> usize {
        self.parts.len()
    }

    /// The absolute path ("/" for none).
    fn path(&self) -> &[u8] {
        if self.bytes.is_empty() {
            b"/"
        } else {
            &self.bytes
        }
    }
}

/// Where the walk is inside a tmpfs: the first `depth` components of the walk's path are
/// inode `ino` of the tmpfs of mount `kind` (for the root mount: of the overlay's upper
/// layer, in a directory no lower one merges into, which began at depth `top`). The next
/// step then looks one name up in that directory instead of walking the whole path again: a
/// walk costs O(depth), not O(depth²).
#[derive(Clone, Copy)]
struct TmpfsCursor {
    kind: MountKind,
    ino: u64,
    depth: usize,
    top: usize,
}

/// What `cur` (just extended by one component) names, using and updating the tmpfs cursor.
fn step_kind(task: &Task, cur: &WalkPath, cursor: &mut Option<TmpfsCursor>) -> Result<Kind, Errno> {
    let path = cur.path();
    let (kind, rel) = Mounts::route(path);
    if kind == MountKind::Root {
        return root_step_kind(task, cur, cursor);
    }
    if !matches!(kind, MountKind::Tmp | MountKind::Shm) {
        *cursor = None;
        return kind_of(task, path);
    }
    let fs = task.k.mounts.tmpfs(kind);
    let here = match *cursor {
        // The parent is where the cursor is, in the same tmpfs, and the name is its child.
        Some(c) if c.kind == kind && c.depth + 1 == cur.len() && !rel.is_empty() => {
            let name = cur.parts.last().map_or(&b""[..], |n| &n[..]);
            fs.walk_child(c.ino, name)
        }
        _ if rel.is_empty() => fs.walk_child(Tmpfs::ROOT, b"."),
        _ => fs.walk_lookup(rel),
    };
    let (ino, entry) = match here {
        Ok(h) => h,
        Err(e) => {
            *cursor = None;
            return Err(e);
        }
    };
    Ok(match entry {
        WalkEntry::Dir => {
            *cursor = Some(TmpfsCursor {
                kind,
                ino,
                depth: cur.len(),
                top: 0,
            });
            Kind::Dir
        }
        WalkEntry::Symlink(t) => {
            *cursor = None;
            Kind::Symlink(t)
        }
        WalkEntry::Other => {
            *cursor = None;
            Kind::Other
        }
    })
}

/// [`step_kind`] in the root mount: inside a directory of the overlay's upper layer alone
/// one name is looked up there; elsewhere the overlay answers for the whole path, and a
/// directory of the upper layer alone starts a cursor (what a guest makes, however deep,
/// is walked in O(depth); only the host's own directories, whose depth the guest doesn't
/// choose, cost a whole-path lookup each).
fn root_step_kind(
    task: &Task,
    cur: &WalkPath,
    cursor: &mut Option<TmpfsCursor>,
) -> Result<Kind, Errno> {
    let root = &task.k.mounts.root;
    if let Some(c) = cursor.take() {
        if c.kind == MountKind::Root && c.depth + 1 == cur.len() {
            let name = cur.parts.last().map_or(&b""[..], |n| &n[..]);
            let (ino, entry) = root.upper().walk_child(c.ino, name)?;
            return Ok(match entry {
                WalkEntry::Dir => {
                    *cursor = Some(TmpfsCursor {
                        ino,
                        depth: cur.len(),
                        ..c
                    });
                    Kind::Dir
                }
                WalkEntry::Symlink(t) => Kind::Symlink(t),
                WalkEntry::Other => Kind::Other,
            });
        }
    }
    let kind = kind_of(task, cur.path())?;
    if matches!(kind, Kind::Dir) {
        *cursor = root.upper_only_dir(cur.path()).map(|ino| TmpfsCursor {
            kind: MountKind::Root,
            ino,
            depth: cur.len(),
            top: cur.len(),
        });
    }
    Ok(kind)
}

/// `..` for the tmpfs cursor: its directory's parent, if the walk stays inside the tmpfs
/// (for the root mount: inside the upper-layer-only directory the cursor began at).
fn cursor_up(task: &Task, cur: &WalkPath, cursor: &mut Option<TmpfsCursor>) {
    let Some(c) = *cursor else {
        return;
    };
    *cursor = None;
    if c.depth != cur.len() + 1 {
        return;
    }
    if Mounts::route(cur.path()).0 != c.kind || cur.len() < c.top {
        return;
    }
    let fs = if c.kind == MountKind::Root {
        task.k.mounts.root.upper()
    } else {
        task.k.mounts.tmpfs(c.kind)
    };
    if let Ok((ino, WalkEntry::Dir)) = fs.walk_child(c.ino, b"..") {
        *cursor = Some(TmpfsCursor {
            ino,
            depth: cur.len(),
            ..c
        });
    }
}

/// [`resolve`] with `root` (absolute, normalized, a prefix of `abs`) as the root: `..` stops
/// there and absolute symlinks start from it (openat2's `RESOLVE_IN_ROOT`).
pub(super) fn resolve_in(
    task: &Task,
    abs: &[u8],
    follow: bool,
    root: &[u8],
) -> Result<Node, Errno> {
    if abs.len() >= PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    let slash = abs.len() > 1 && abs.ends_with(b"/");
    let base: Vec<Vec<u8>> = components(root).map(<[u8]>::to_vec).collect();
    let base_len = base.len();
    let mut todo: VecDeque<Vec<u8>> = components(abs).skip(base_len).map(<[u8]>::to_vec).collect();
    let mut cur = WalkPath::new(base);
    let mut cursor: Option<TmpfsCursor> = None;
    let mut hops = 0;
    while let Some(c) = todo.pop_front() {
        match &c[..] {
            b"." => continue,
            b".." => {
                if cur.len() > base_len {
                    cur.pop();
                    cursor_up(task, &cur, &mut cursor);
                }
                continue;
            }
            n if n.len() > NAME_MAX => return Err(Errno::ENAMETOOLONG),
            _ => {}
        }
        let last = todo.is_empty();
        cur.push(c);
        if let (MountKind::Proc, rel) = Mounts::route(cur.path()) {
            // With a `..` still to come, /proc is walked here like a directory.
            if todo.iter().any(|t| t == b"..") {
                continue;
            }
            // procfs walks the rest itself; its magic links lead back out.
            let mut rest = rel.to_vec();
            for t in &todo {
                rest.push(b'/');
                rest.extend_from_slice(t);
            }
            let rest = normalize(&rest);
            let rest = &rest[1..];
            let me = process_info(task);
            match Procfs::redirect(rest, follow || slash, &me)? {
                None => {
                    let mut p = b"/proc/".to_vec();
                    p.extend_from_slice(rest);
                    return Ok(Node::Path(normalize(&p)));
                }
                Some(Redirect::Fd(n)) => return Ok(Node::Fd(n)),
                Some(Redirect::Path(target)) => {
                    hops += 1;
                    if hops > MAX_HOPS {
                        return Err(Errno::ELOOP);
                    }
                    todo = components(&target).map(<[u8]>::to_vec).collect();
                    cur.truncate(0);
                    cursor = None;
                    continue;
                }
            }
        }
        if last && !follow && !slash {
            break;
        }
        match step_kind(task, &cur, &mut cursor) {
            Err(Errno::ENOENT) if last => break,
            Err(e) => return Err(e),
            Ok(Kind::Dir) => {}
            Ok(Kind::Other) if last && !slash => {}
            Ok(Kind::Other) => return Err(Errno::ENOTDIR),
            Ok(Kind::Symlink(target)) => {
                hops += 1;
                if hops > MAX_HOPS {
                    return Err(Errno::ELOOP);
                }
                if target.is_empty() {
                    return Err(Errno::ENOENT);
                }
                cur.pop();
                if target.starts_with(b"/") {
                    cur.truncate(base_len);
                    cursor = None;
                }
                for t in components(&target).rev() {
                    todo.push_front(t.to_vec());
                }
            }
        }
    }
    Ok(Node::Path(cur.path().to_vec()))
}

/// A plain path (no `.`, `..`, repeated or trailing slash) on the untouched part of the root
/// mount: the fast path may answer for it.
fn fast_path_ok(task: &Task, abs: &[u8]) -> bool {
    abs.first() == Some(&b'/')
        && (abs.len() == 1 || !abs.ends_with(b"/"))
        && !abs.windows(2).any(|w| w == b"//")
        && !abs.split(|&b| b == b'/').any(|c| c == b"." || c == b"..")
        && Mounts::route(abs).0 == MountKind::Root
        && task.k.mounts.root.untouched(abs)
}

/// Opens a guest path.
pub(super) fn open_path(
    task: &Task,
    abs: &[u8],
    flags: u32,
    mode: u32,
) -> Result<Arc<dyn FileDescription>, Errno> {
    let m = &task.k.mounts;
    let creat = flags & o::CREAT != 0;
    if !creat && flags & (o::ACCMODE | o::TRUNC) == o::RDONLY && fast_path_ok(task, abs) {
        match m.root.lower().open_file_how(abs, flags, true) {
            Err(Errno::ELOOP) => {}
            r => return Ok(Arc::new(r?)),
        }
    }
    let follow = flags & o::NOFOLLOW == 0 && !(creat && flags & o::EXCL != 0);
    let path = match resolve(task, abs, follow)? {
        Node::Fd(n) => return reopen_fd(task, n, flags),
        Node::Path(p) => p,
    };
    if creat && abs.len() > 1 && abs.ends_with(b"/") {
        return Err(Errno::EISDIR);
    }
    let mode = mode & 0o7777;
    match Mounts::route(&path) {
        (MountKind::Root, _) => m.root.open(&path, flags, mode, task.fs.umask()),
        (k @ (MountKind::Tmp | MountKind::Shm), rel) => {
            m.tmpfs(k).open(rel, flags, mode, task.fs.umask())
        }
        (MountKind::Proc, rel) => {
            // `stat` files show CPU times, which cost host reads: only they get them.
            let me = if rel.ends_with(b"stat") {
                super::proc_info::process_info_cpu(task)
            } else {
                process_info(task)
            };
            Procfs::open(rel, flags, &me, &system_info(task))
        }
        (MountKind::Dev | MountKind::Sys, b"") => {
            if flags & o::ACCMODE != o::RDONLY || creat {
                return Err(Errno::EISDIR);
            }
            let entries = if path == b"/dev" { DEV_ENTRIES } else { &[] };
            Ok(Arc::new(EmptyDir::with_entries(path, entries)))
        }
        (MountKind::Dev, _) => match DevFile::lookup(&path) {
            Some(_) if creat && flags & o::EXCL != 0 => Err(Errno::EEXIST),
            Some(_) if flags & o::DIRECTORY != 0 => Err(Errno::ENOTDIR),
            Some(DevKind::Tty) => (0..3)
                .filter_map(|n| task.fds.get(n).ok())
                .find(|f| f.is_terminal())
                .ok_or(Errno::ENXIO),
            Some(kind) => Ok(Arc::new(DevFile::new(kind, flags & o::ACCMODE))),
            None if creat => Err(Errno::EACCES),
            None => Err(Errno::ENOENT),
        },
        (MountKind::Sys, _) if creat => Err(Errno::EROFS),
        (MountKind::Sys, _) => Err(Errno::ENOENT),
    }
}

/// `open` of `/proc/self/fd/N`: a new description of the file fd `N` refers to, opened again
/// by its path; files without one (anonymous, deleted) share fd `N`'s description.
fn reopen_fd(task: &Task, n: i32, flags: u32) -> Result<Arc<dyn FileDescription>, Errno> {
    thread_local! {
        static DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    }
    let f = task.fds.get(n)?;
    let path = f.path().into_bytes();
    // Devices and stdio (named /dev/std*, which lead back here) share the description.
    let pseudo = path.starts_with(b"/dev/") || path.starts_with(b"/proc/");
    if path.first() == Some(&b'/') && !path.ends_with(b"(deleted)") && !pseudo {
        let depth = DEPTH.with(|d| {
            d.set(d.get() + 1);
            d.get()
        });
        let r = if depth > 8 {
            Err(Errno::ELOOP)
        } else {
            open_path(task, &path, flags & !(o::CREAT | o::EXCL), 0)
        };
        DEPTH.with(|d| d.set(d.get() - 1));
        if let Ok(new) = r {
            return Ok(new);
        }
    }
    Ok(f)
}

/// `stat` (`follow`) or `lstat` of a guest path.
pub(super) fn stat_path(task: &Task, abs: &[u8], follow: bool) -> Result<Stat, Errno> {
    let m = &task.k.mounts;
    if fast_path_ok(task, abs) {
        match m.root.lower().stat_how(abs, follow, true) {
            Err(Errno::ELOOP) => {}
            r => return r,
        }
    }
    match resolve(task, abs, follow)? {
        Node::Fd(n) => task.fds.get(n)?.stat(),
        Node::Path(p) => stat_resolved(task, &p, follow),
    }
}

/// `stat` of a walked path (only procfs still has links to follow).
pub(super) fn stat_resolved(task: &Task, path: &[u8], follow: bool) -> Result<Stat, Errno> {
    let m = &task.k.mounts;
    match Mounts::route(path) {
        (MountKind::Root, _) => m.root.stat(path),
        (k @ (MountKind::Tmp | MountKind::Shm), rel) => m.tmpfs(k).stat(rel, false),
        (MountKind::Proc, rel) => {
            Procfs::stat(rel, follow, &process_info(task), &system_info(task))
        }
        (MountKind::Dev | MountKind::Sys, b"") => EmptyDir::new(path.to_vec()).stat(),
        (MountKind::Dev, _) => match (DevFile::lookup(path), dev_symlink(path)) {
            (Some(kind), _) => DevFile::new(kind, 0).stat(),
            (None, Some(target)) => Ok(symlink_stat(target)),
            (None, None) => Err(Errno::ENOENT),
        },
        (MountKind::Sys, _) => Err(Errno::ENOENT),
    }
}

/// `readlink` of a guest path.
pub(super) fn readlink_path(task: &Task, abs: &[u8]) -> Result<Vec<u8>, Errno> {
    let m = &task.k.mounts;
    let path = match resolve(task, abs, false)? {
        Node::Fd(_) => return Err(Errno::EINVAL),
        Node::Path(p) => p,
    };
    match Mounts::route(&path) {
        (MountKind::Root, _) => m.root.readlink(&path),
        (k @ (MountKind::Tmp | MountKind::Shm), rel) => m.tmpfs(k).readlink(rel),
        (MountKind::Proc, rel) => Procfs::readlink(rel, &process_info(task)),
        (MountKind::Dev, _) if dev_symlink(&path).is_some() => {
            Ok(dev_symlink(&path).unwrap_or_default().to_vec())
        }
        _ => {
            stat_resolved(task, &path, false)?;
            Err(Errno::EINVAL)
        }
    }
}

/// `statfs` of a guest path: the kernel's `struct statfs`.
pub(super) fn statfs_path(task: &Task, abs: &[u8]) -> Result<[u8; 120], Errno> {
    let m = &task.k.mounts;
    let path = match resolve(task, abs, true)? {
        Node::Fd(n) => return task.fds.get(n)?.statfs(),
        Node::Path(p) => p,
    };
    stat_resolved(task, &path, true)?;
    match Mounts::route(&path) {
        (MountKind::Root, _) => m.root.statfs(&path),
        (k @ (MountKind::Tmp | MountKind::Shm), _) => Ok(m.tmpfs(k).statfs()),
        (MountKind::Proc, _) => Ok(Procfs::statfs()),
        _ => m.root.statfs(b"/"),
    }
}

/// The walked path (last component not followed) of a path argument that names something to
/// change, and its mount. `dot` is the error for a last component of `.` or `..`.
pub(super) fn change_path(
    task: &Task,
    dirfd: i32,
    addr: u64,
    dot: Errno,
) -> Result<(MountKind, Vec<u8>), Errno> {
    let path = path_arg(task, addr)?;
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    if matches!(components(&path).next_back(), Some(b"." | b"..")) {
        return Err(dot);
    }
    change_abs(task, &absolute(task, dirfd, &path)?)
}

/// [`change_path`] of an absolute path.
pub(super) fn change_abs(task: &Task, abs: &[u8]) -> Result<(MountKind, Vec<u8>), Errno> {
    match resolve(task, abs, false)? {
        Node::Path(p) => Ok((Mounts::route(&p).0, p)),
        Node::Fd(_) => Err(Errno::EPERM),
    }
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn normalize_paths() {
        assert_eq!(normalize(b"/"), b"/");
        assert_eq!(normalize(b"//a/./b/../c/"), b"/a/c");
        assert_eq!(normalize(b"/../.."), b"/");
        assert_eq!(normalize(b"/proc/./self/exe"), b"/proc/self/exe");
    }
}
