//! Path resolution: the one walk every path syscall goes through.
//!
//! The walk resolves `.`, `..` and symlinks component by component, asking the mount that
//! serves each prefix ([`MountTable::route`]) what the name is ([`Filesystem::step`]), so an
//! absolute symlink in a tmpfs reaches the overlay root and a host symlink into /proc
//! reaches the guest's procfs. A filesystem that walks the rest itself (procfs, whose magic
//! links `exe`, `cwd`, `fd/N` lead out) is handed the rest of the path. Each step in the
//! same filesystem hands back the cursor the filesystem gave for the parent, so a tmpfs
//! (or a directory of the overlay's upper layer alone) is walked in O(depth), not O(depth²).
//! The host side stays confined by `openat2(RESOLVE_IN_ROOT)` whatever the walk does.
//!
//! [`Filesystem::step`]: super::filesystem::Filesystem::step

use std::collections::VecDeque;
use std::sync::Arc;

use snare_abi::Errno;

use super::filesystem::{Caller, Cursor, Entry};
use super::mount::{Mount, MountTable};
use super::perm::{Cred, Perm, MAY_EXEC};
use super::procfs::Redirect;

/// Longest path accepted (PATH_MAX).
pub const PATH_MAX: usize = 4096;
const NAME_MAX: usize = 255;
/// Symlinks followed in one walk before `ELOOP` (as Linux).
const MAX_HOPS: u32 = 40;

/// Collapses `.`, `..` and repeated slashes of an absolute path, lexically.
pub fn normalize(path: &[u8]) -> Vec<u8> {
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
    let mut out = Vec::new();
    for p in parts {
        out.push(b'/');
        out.extend_from_slice(p);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

/// The non-empty components of a path.
pub fn components(path: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> {
    path.split(|&b| b == b'/').filter(|c| !c.is_empty())
}

/// Whether `path` is `dir` or lies below it (both absolute, normalized).
pub fn within(path: &[u8], dir: &[u8]) -> bool {
    dir == b"/" || (path.starts_with(dir) && matches!(path.get(dir.len()), None | Some(b'/')))
}

/// What a walk reached.
#[derive(Debug, PartialEq, Eq)]
pub enum Node {
    /// An absolute, normalized guest path with no symlink before its last component (and
    /// none there either when the walk followed it).
    Path(Vec<u8>),
    /// `/proc/self/fd/N`, followed: what fd `N` refers to.
    Fd(i32),
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

/// A filesystem's cursor for the first `depth` components of the walk, on `mount`.
struct Held {
    mount: Arc<Mount>,
    depth: usize,
    cursor: Cursor,
}

/// Resolves paths in one mount namespace for one caller.
pub struct Resolver<'a> {
    pub mounts: &'a MountTable,
    pub cx: &'a dyn Caller,
    /// Whose search permission each directory on the way needs; `None` (root: it may
    /// search any directory) checks nothing.
    pub cred: Option<Cred>,
    /// The caller's root directory (`chroot`; `/` normally): `..` stops there and absolute
    /// symlinks start there. A path in the mount namespace.
    pub root: Arc<[u8]>,
}

impl std::fmt::Debug for Resolver<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("mounts", self.mounts)
            .finish_non_exhaustive()
    }
}

impl Resolver<'_> {
    /// Walks `abs` (absolute): `..` and symlinks resolved across mounts; the last
    /// component's symlink only when `follow` (or a trailing slash). A missing last
    /// component is fine (for creation); a trailing slash on an existing non-directory is
    /// `ENOTDIR`.
    pub fn resolve(&self, abs: &[u8], follow: bool) -> Result<Node, Errno> {
        // From the namespace's `/`: `abs` is a path in the namespace, not from the root.
        let rel = match abs.strip_prefix(b"/") {
            Some(b"") => &b"."[..],
            Some(r) => r,
            None => abs,
        };
        self.resolve_at(b"/", rel, follow, Scope::default())
    }

    /// What `cur` (just extended by one component) names, using and updating the held
    /// cursor.
    fn step(
        &self,
        cur: &WalkPath,
        mount: Arc<Mount>,
        held: &mut Option<Held>,
    ) -> Result<Entry, Errno> {
        let path = cur.path();
        let name = cur.parts.last().map_or(&b""[..], |n| &n[..]);
        let at = match held.take() {
            Some(h)
                if Arc::ptr_eq(&h.mount, &mount)
                    && h.depth + 1 == cur.len()
                    && !mount.is_root(path) =>
            {
                Some(h.cursor)
            }
            _ => None,
        };
        let inner = mount.inner(path);
        let (entry, cursor) = mount.fs.step(self.cx, &inner, name, at)?;
        *held = cursor.map(|cursor| Held {
            mount,
            depth: cur.len(),
            cursor,
        });
        Ok(entry)
    }

    /// `EACCES` unless the caller may search `cur`, a directory whose mode and owner are
    /// `known` (else looked up, and remembered there).
    fn search(&self, cur: &WalkPath, known: &mut Option<Perm>) -> Result<(), Errno> {
        let Some(cred) = &self.cred else {
            return Ok(());
        };
        let p = match *known {
            Some(p) => p,
            None => {
                let m = self.mounts.route(cur.path());
                Perm::of(&m.fs.stat(self.cx, &m.inner(cur.path()), false)?)
            }
        };
        *known = Some(p);
        cred.may(&p, MAY_EXEC)
    }

    /// `..` for the held cursor: its directory's parent, if the walk stays in the same
    /// mount and the filesystem can tell.
    fn up(&self, cur: &WalkPath, held: &mut Option<Held>) {
        let Some(h) = held.take() else {
            return;
        };
        if h.depth != cur.len() + 1 {
            return;
        }
        if !Arc::ptr_eq(&self.mounts.route(cur.path()), &h.mount) {
            return;
        }
        if let Some(cursor) = h.mount.fs.up(h.cursor) {
            *held = Some(Held {
                mount: h.mount,
                depth: cur.len(),
                cursor,
            });
        }
    }

    /// Walks `path` from `start` (an absolute, normalized guest path: the directory a
    /// relative path is relative to) within `scope` (openat2's `RESOLVE_*`).
    pub fn resolve_at(
        &self,
        start: &[u8],
        path: &[u8],
        follow: bool,
        scope: Scope,
    ) -> Result<Node, Errno> {
        if path.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let slash = path.len() > 1 && path.ends_with(b"/");
        let start_parts: Vec<Vec<u8>> = components(start).map(<[u8]>::to_vec).collect();
        // Where `..` stops and absolute symlinks start: `start` for RESOLVE_IN_ROOT.
        let root: Vec<Vec<u8>> = if scope.in_root {
            start_parts.clone()
        } else {
            components(&self.root).map(<[u8]>::to_vec).collect()
        };
        let root_path = WalkPath::new(root.clone()).path().to_vec();
        // RESOLVE_BENEATH: a `..` above `start` is EXDEV.
        let floor = if scope.beneath { start_parts.len() } else { 0 };
        let mut cur = if path.first() == Some(&b'/') {
            if scope.beneath {
                return Err(Errno::EXDEV);
            }
            WalkPath::new(root.clone())
        } else {
            WalkPath::new(start_parts)
        };
        let mut todo: VecDeque<Vec<u8>> = components(path).map(<[u8]>::to_vec).collect();
        let mut held: Option<Held> = None;
        // The mode and owner of `cur`, when known (search permission for the next name).
        let mut here: Option<Perm> = None;
        // RESOLVE_NO_XDEV: the mount the walk is on.
        let mut on = scope.no_xdev.then(|| self.mounts.route(cur.path()));
        let mut hops = 0;
        while let Some(c) = todo.pop_front() {
            match &c[..] {
                b"." => continue,
                b".." => {
                    if scope.beneath && cur.len() <= floor {
                        return Err(Errno::EXDEV);
                    }
                    if cur.path() != root_path && cur.len() > 0 {
                        cur.pop();
                        self.up(&cur, &mut held);
                        here = None;
                        self.same_mount(&cur, &mut on)?;
                    }
                    continue;
                }
                n if n.len() > NAME_MAX => return Err(Errno::ENAMETOOLONG),
                _ => {}
            }
            let last = todo.is_empty();
            self.search(&cur, &mut here)?;
            cur.push(c);
            let parent = here.take();
            self.same_mount(&cur, &mut on)?;
            let mount = self.mounts.route(cur.path());
            if mount.fs.walks_rest() {
                // With a `..` still to come, it is walked here like a directory.
                if todo.iter().any(|t| t == b"..") {
                    continue;
                }
                let mut rest = mount.inner(cur.path()).into_owned();
                for t in &todo {
                    rest.push(b'/');
                    rest.extend_from_slice(t);
                }
                let rest = normalize(&rest);
                let redirect = mount.fs.walk_rest(self.cx, &rest, follow || slash)?;
                if redirect.is_some() {
                    // A magic link: a jump no scope allows.
                    if scope.no_magiclinks || scope.no_symlinks {
                        return Err(Errno::ELOOP);
                    }
                    if scope.beneath || scope.in_root || scope.no_xdev {
                        return Err(Errno::EXDEV);
                    }
                }
                match redirect {
                    None => {
                        let p = if rest == b"/" {
                            mount.point.clone()
                        } else if mount.point == b"/" {
                            rest
                        } else {
                            [&mount.point[..], &rest[..]].concat()
                        };
                        return Ok(Node::Path(p));
                    }
                    Some(Redirect::Fd(n)) => return Ok(Node::Fd(n)),
                    Some(Redirect::Path(target)) => {
                        hops += 1;
                        if hops > MAX_HOPS {
                            return Err(Errno::ELOOP);
                        }
                        todo = components(&target).map(<[u8]>::to_vec).collect();
                        cur.truncate(0);
                        held = None;
                        continue;
                    }
                }
            }
            if last && !follow && !slash {
                break;
            }
            match self.step(&cur, mount, &mut held) {
                Err(Errno::ENOENT) if last => break,
                Err(e) => return Err(e),
                Ok(Entry::Dir(p)) => here = Some(p),
                Ok(Entry::Other) if last && !slash => {}
                Ok(Entry::Other) => return Err(Errno::ENOTDIR),
                Ok(Entry::Symlink(target)) => {
                    if scope.no_symlinks {
                        return Err(Errno::ELOOP);
                    }
                    hops += 1;
                    if hops > MAX_HOPS {
                        return Err(Errno::ELOOP);
                    }
                    if target.is_empty() {
                        return Err(Errno::ENOENT);
                    }
                    cur.pop();
                    here = parent;
                    if target.starts_with(b"/") {
                        if scope.beneath {
                            return Err(Errno::EXDEV);
                        }
                        cur = WalkPath::new(root.clone());
                        held = None;
                        here = None;
                        // A jump to the root stays on the walk's mount, or is EXDEV.
                        self.same_mount(&cur, &mut on)?;
                    }
                    for t in components(&target).rev() {
                        todo.push_front(t.to_vec());
                    }
                }
            }
        }
        Ok(Node::Path(cur.path().to_vec()))
    }

    /// RESOLVE_NO_XDEV: `EXDEV` if `cur` is on another mount than the walk was (`on`).
    fn same_mount(&self, cur: &WalkPath, on: &mut Option<Arc<Mount>>) -> Result<(), Errno> {
        if let Some(m) = on {
            if !Arc::ptr_eq(m, &self.mounts.route(cur.path())) {
                return Err(Errno::EXDEV);
            }
        }
        Ok(())
    }
}

/// What openat2's `RESOLVE_*` flags ask of a walk (all off: an ordinary one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    /// `RESOLVE_BENEATH`: nothing above the start (`..` past it, absolute paths and
    /// symlinks, magic links: `EXDEV`).
    pub beneath: bool,
    /// `RESOLVE_IN_ROOT`: the start is the root (`..` stops there, absolute symlinks start
    /// there; magic links: `EXDEV`).
    pub in_root: bool,
    /// `RESOLVE_NO_XDEV`: no mount crossed, either way (`EXDEV`).
    pub no_xdev: bool,
    /// `RESOLVE_NO_SYMLINKS`: no symlink followed (`ELOOP`).
    pub no_symlinks: bool,
    /// `RESOLVE_NO_MAGICLINKS`: no /proc magic link followed (`ELOOP`).
    pub no_magiclinks: bool,
}

#[cfg(test)]
mod tests {
    use super::{normalize, within};

    #[test]
    fn normalize_paths() {
        assert_eq!(normalize(b"/"), b"/");
        assert_eq!(normalize(b"//a/./b/../c/"), b"/a/c");
        assert_eq!(normalize(b"/../.."), b"/");
        assert_eq!(normalize(b"/proc/./self/exe"), b"/proc/self/exe");
    }

    #[test]
    fn within_dirs() {
        assert!(within(b"/a/b", b"/a"));
        assert!(within(b"/a", b"/a"));
        assert!(!within(b"/ab", b"/a"));
        assert!(within(b"/x", b"/"));
    }
}
