//! The guest's root filesystem: the host root as a read-only lower layer under an in-memory
//! tmpfs upper layer, so the guest can write anywhere while the host never changes
//! (`snare do`'s default; an OCI container's root is written through instead, a
//! [`super::hostdir::HostDir`] at `/`, unless its bundle asks for this one).
//!
//! Paths given to [`Overlay`] are absolute, normalized and free of symlinks except possibly
//! the last component, which is never followed here (the resolver, [`super::resolve`],
//! walked them). Lookups try the upper layer, then its marks, then the lower layer.
//!
//! - **Dentries**: both layers keep what they know name by name: the upper layer is a tmpfs
//!   (a tree of inodes), the lower layer's answers are kept in its dentry cache
//!   ([`super::host`]'s `dentries`). A walk ([`Overlay::step`]) holds a cursor on both sides
//!   and costs one lookup per name in each, whatever the depth; a host name is asked once.
//! - **Copy-up**: changing a lower file (open for writing or `O_TRUNC`, chmod, chown,
//!   utimens, truncate, link, rename, setxattr, removexattr) first copies it (data, mode,
//!   times, `user.` extended attributes; symlinks: the target) into the upper layer,
//!   creating its parent directories there as needed. The copy keeps the lower file's
//!   device and inode number in `stat`.
//! - **Whiteouts**: removing or renaming away a name the lower layer has records a whiteout
//!   of it on its upper parent directory (copied up for the purpose, as overlayfs does); a
//!   directory made where a lower one was removed is **opaque** (the lower one's entries
//!   stay hidden). These marks live on the upper directories ([`super::tmpfs`]'s `marks`):
//!   a removed directory takes them with it.
//! - Directories present in both layers are merged in `getdents` (upper first, then lower
//!   names not shadowed or whited out).
//!
//! Deviations from Linux overlayfs, for the next maintainer:
//! - Renaming a directory that has lower-layer contents (a lower or merged one; not an
//!   opaque one) is `EXDEV` (as overlayfs without `redirect_dir`); `mv` falls back to
//!   copying.
//! - A description opened read-only on a lower file keeps reading the lower file after
//!   another opens it for writing (copy-up does not move open descriptions).
//! - Copy-up copies the whole file into the upper tmpfs (its `size=` applies; holes are
//!   written as zeros); the upper layer belongs to the guest's uid, so a copied-up
//!   root-owned file shows the guest as its owner.
//! - Only regular files, directories and symlinks copy up; changing a lower fifo, socket or
//!   device node is `EROFS`.
//! - Extended attributes: a lower file shows its `user.` ones only (the host's `trusted.` and
//!   `security.` ones, such as SELinux labels, are not the guest's; see [`super::xattr`]);
//!   the upper layer keeps any the tmpfs takes.

use std::collections::HashSet;
use std::sync::Arc;

use snare_abi::file::{o, Stat, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};
use snare_abi::Errno;

use super::host::HostRoot;
use super::tmpfs::Tmpfs;
use super::xattr::supported;
use super::FileDescription;

/// `f_type` of an overlay (`OVERLAYFS_SUPER_MAGIC`).
const OVERLAYFS_SUPER_MAGIC: i64 = 0x794c_7630;
/// Inode numbers of files made in the upper layer start above this (clear of host inodes).
const UPPER_INO_BASE: u64 = 1 << 48;
const DT_DIR: u8 = 4;

/// Where a path is found.
#[derive(Debug)]
enum Loc {
    Upper(Stat),
    Lower(Stat),
    None,
}

impl Loc {
    fn stat(&self) -> Option<&Stat> {
        match self {
            Loc::Upper(s) | Loc::Lower(s) => Some(s),
            Loc::None => None,
        }
    }
}

fn is_dir(st: &Stat) -> bool {
    st.st_mode & S_IFMT == S_IFDIR
}

/// The parent of a normalized absolute path (`/` for `/x` and `/`).
fn parent_of(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&b| b == b'/') {
        Some(0) | None => b"/",
        Some(i) => &path[..i],
    }
}

/// The upper layer's relative path of an absolute one.
fn rel(path: &[u8]) -> &[u8] {
    let mut p = path;
    while let [b'/', rest @ ..] = p {
        p = rest;
    }
    p
}

/// Whether `path` is `dir` or lies below it.
fn within(path: &[u8], dir: &[u8]) -> bool {
    dir == b"/" || path == dir || (path.starts_with(dir) && path.get(dir.len()) == Some(&b'/'))
}

/// The overlay root. See the module docs.
#[derive(Debug)]
pub struct Overlay {
    lower: HostRoot,
    upper: Arc<Tmpfs>,
}

impl Overlay {
    /// The upper layer (a tmpfs: its limits are set like any tmpfs's).
    pub(crate) fn upper(&self) -> &Arc<Tmpfs> {
        &self.upper
    }

    /// An overlay over `lower`, whose new files belong to `uid`/`gid`.
    pub fn new(lower: HostRoot, uid: u32, gid: u32) -> Overlay {
        let root = lower.stat(b"/", false).unwrap_or_default();
        let upper = Tmpfs::mounted(uid, gid, b"", root.st_dev, UPPER_INO_BASE);
        // The upper root stands for the lower root: same identity, mode and owner.
        let _ = upper.set_ident(b"", root.st_dev, root.st_ino);
        let _ = upper.chmod(b"", root.st_mode & 0o7777, false);
        let _ = upper.chown(b"", root.st_uid, root.st_gid, false);
        let _ = upper.utimens(
            b"",
            Some((root.st_atime, root.st_atime_nsec)),
            Some((root.st_mtime, root.st_mtime_nsec)),
            false,
        );
        Overlay { lower, upper }
    }

    /// The lower layer (for what only the host can do, such as loading an executable).
    pub fn lower(&self) -> &HostRoot {
        &self.lower
    }

    /// Whether the lower layer's `path` is hidden (whited out, below an opaque directory or
    /// an upper non-directory): one upper lookup per name on its way.
    fn hidden(&self, path: &[u8]) -> bool {
        self.upper.hides(rel(path))
    }

    /// True when nothing on `path`'s way has been changed, so the lower layer alone answers
    /// for it (the fast path: no upper lookups beyond this check). The upper layer holds
    /// only what was changed, the directories above it and their marks: the path is
    /// untouched once a name on its way is missing there and not whited out.
    pub fn untouched(&self, path: &[u8]) -> bool {
        self.upper.leaves(rel(path))
    }

    fn locate(&self, path: &[u8]) -> Result<Loc, Errno> {
        match self.upper.stat(rel(path), false) {
            Ok(st) if is_dir(&st) && self.merged(path) => {
                // A merged directory: the lower one's size and link count, the upper one's
                // attributes (the guest may have changed them).
                let lower = self.lower.stat(path, false)?;
                return Ok(Loc::Upper(Stat {
                    st_nlink: lower.st_nlink,
                    st_size: lower.st_size,
                    st_blocks: lower.st_blocks,
                    st_blksize: lower.st_blksize,
                    ..st
                }));
            }
            Ok(st) => return Ok(Loc::Upper(st)),
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
        // The host first: a path it doesn't have needs no look at the whiteouts (whose
        // check costs the path's depth times its length).
        match self.lower.stat(path, false) {
            Err(Errno::ENOENT) => Ok(Loc::None),
            _ if self.hidden(path) => Ok(Loc::None),
            Ok(st) => Ok(Loc::Lower(st)),
            Err(e) => Err(e),
        }
    }

    /// The lower layer's `path` if the guest can see it (not hidden).
    fn lower_visible(&self, path: &[u8]) -> Option<Stat> {
        let st = self.lower.stat(path, false).ok()?;
        (!self.hidden(path)).then_some(st)
    }

    /// Whether `path` (an upper directory) merges a lower directory.
    fn merged(&self, path: &[u8]) -> bool {
        // The lower layer first: most upper directories have no lower one (one cached
        // lookup says so), and the opaque check walks the upper path.
        self.lower_visible(path).is_some_and(|s| is_dir(&s)) && !self.upper.is_opaque(rel(path))
    }

    /// `stat(2)` of `path` (the last component not followed).
    pub fn stat(&self, path: &[u8]) -> Result<Stat, Errno> {
        self.locate(path)?.stat().copied().ok_or(Errno::ENOENT)
    }

    /// `readlink(2)`.
    pub fn readlink(&self, path: &[u8]) -> Result<Vec<u8>, Errno> {
        match self.locate(path)? {
            Loc::Upper(_) => self.upper.readlink(rel(path)),
            Loc::Lower(_) => self.lower.readlink(path),
            Loc::None => Err(Errno::ENOENT),
        }
    }

    /// `statfs(2)`: an overlay (`OVERLAYFS_SUPER_MAGIC`, the lower layer's name length,
    /// writable) in the upper layer's block size whose contents are both layers' and whose
    /// room is the upper layer's: blocks and files are what the lower layer uses plus the
    /// upper layer's size, and what is free of them is what the upper layer has free (what
    /// the guest can still write).
    pub fn statfs(&self, path: &[u8]) -> Result<[u8; 120], Errno> {
        self.stat(path)?;
        let low = self.lower.statfs(b"/")?;
        let up = self.upper.statfs();
        let word = |b: &[u8; 120], off: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[off..off + 8]);
            u64::from_ne_bytes(w)
        };
        let low_frsize = match word(&low, 72) {
            0 => word(&low, 8),
            n => n,
        };
        let up_frsize = word(&up, 72).max(1);
        let low_used_bytes = word(&low, 16)
            .saturating_sub(word(&low, 24))
            .saturating_mul(low_frsize);
        let low_used_files = word(&low, 40).saturating_sub(word(&low, 48));
        let blocks = word(&up, 16).saturating_add(low_used_bytes.div_ceil(up_frsize));
        let files = word(&up, 40).saturating_add(low_used_files);
        let mut b = up;
        let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        b[0..8].copy_from_slice(&OVERLAYFS_SUPER_MAGIC.to_ne_bytes());
        b[16..24].copy_from_slice(&clamp(blocks).to_ne_bytes());
        b[40..48].copy_from_slice(&clamp(files).to_ne_bytes());
        b[64..72].copy_from_slice(&low[64..72]);
        b[80..88].copy_from_slice(&0i64.to_ne_bytes());
        Ok(b)
    }

    /// Makes sure directory `path` exists in the upper layer (copying it and its parents up).
    fn upper_dir(&self, path: &[u8]) -> Result<(), Errno> {
        match self.locate(path)? {
            Loc::Upper(st) if is_dir(&st) => Ok(()),
            Loc::Lower(st) if is_dir(&st) => {
                self.upper_dir(parent_of(path))?;
                self.copy_up_node(path, &st)
            }
            Loc::None => Err(Errno::ENOENT),
            _ => Err(Errno::ENOTDIR),
        }
    }

    /// Copies the lower `path` (with stat `st`) into the upper layer; its parent is there.
    fn copy_up_node(&self, path: &[u8], st: &Stat) -> Result<(), Errno> {
        let r = rel(path);
        let perm = st.st_mode & 0o7777;
        match st.st_mode & S_IFMT {
            S_IFDIR => self.upper.mkdir(r, perm, 0)?,
            S_IFLNK => {
                let target = self.lower.readlink(path)?;
                self.upper.symlink(&target, r)?;
            }
            S_IFREG => {
                let src = self.lower.open_file(path, o::RDONLY)?;
                let dst = self
                    .upper
                    .open(r, o::WRONLY | o::CREAT | o::EXCL, perm, 0)?;
                let mut buf = vec![0u8; 1 << 16];
                let mut off = 0u64;
                loop {
                    let n = src.pread(&mut buf, off)?;
                    if n == 0 {
                        break;
                    }
                    let mut done = 0;
                    while done < n {
                        done += dst.pwrite(&buf[done..n], off + done as u64)?;
                    }
                    off += n as u64;
                }
            }
            _ => return Err(Errno::EROFS),
        }
        if st.st_mode & S_IFMT != S_IFLNK {
            self.upper.chmod(r, perm, false)?;
            self.copy_up_xattrs(path)?;
        }
        let _ = self.upper.utimens(
            r,
            Some((st.st_atime, st.st_atime_nsec)),
            Some((st.st_mtime, st.st_mtime_nsec)),
            false,
        );
        self.upper.set_ident(r, st.st_dev, st.st_ino)
    }

    /// Copies the attributes of the lower `path` the guest sees (its `user.` ones) to its new
    /// copy in the upper layer. A host file whose attributes can't be read has none.
    fn copy_up_xattrs(&self, path: &[u8]) -> Result<(), Errno> {
        for name in self.lower.listxattr(path).unwrap_or_default() {
            if let Ok(value) = self.lower.getxattr(path, &name) {
                self.upper.setxattr(rel(path), &name, &value, 0, false)?;
            }
        }
        Ok(())
    }

    /// Makes `path` exist in the upper layer, copying it up from the lower one if needed.
    fn copy_up(&self, path: &[u8]) -> Result<(), Errno> {
        match self.locate(path)? {
            Loc::Upper(_) => Ok(()),
            Loc::Lower(st) => {
                self.upper_dir(parent_of(path))?;
                self.copy_up_node(path, &st)
            }
            Loc::None => Err(Errno::ENOENT),
        }
    }

    /// After making `path` in the upper layer: it no longer shows a whiteout; a directory made
    /// where a lower name was removed hides the lower one.
    fn created(&self, path: &[u8], dir: bool) {
        if self.upper.set_whiteout(rel(path), false) == Ok(true) && dir {
            let _ = self.upper.set_opaque(rel(path), true);
        }
    }

    /// Before removing `path` from the guest's view: whether a lower one will need hiding
    /// (its parent is then made in the upper layer, to hold the whiteout).
    fn will_remove(&self, path: &[u8]) -> Result<bool, Errno> {
        let lower = self.lower_visible(path).is_some();
        if lower {
            self.upper_dir(parent_of(path))?;
        }
        Ok(lower)
    }

    /// After removing `path` from the guest's view: hide the lower one if there is one
    /// (`lower`, from [`Overlay::will_remove`]). What was recorded below it went with the
    /// upper directory.
    fn removed(&self, path: &[u8], lower: bool) -> Result<(), Errno> {
        if lower {
            self.upper.set_whiteout(rel(path), true)?;
        }
        Ok(())
    }

    /// Makes a new entry's parent exist in the upper layer; `EEXIST` if `path` exists.
    fn prepare_new(&self, path: &[u8]) -> Result<(), Errno> {
        if path == b"/" || self.locate(path)?.stat().is_some() {
            return Err(Errno::EEXIST);
        }
        self.upper_dir(parent_of(path))
    }

    /// `open(2)` of `path`. `O_CREAT`, `O_EXCL`, `O_TRUNC`, `O_TMPFILE` and writes work; a
    /// lower file opened for writing (or truncation) is copied up first.
    pub fn open(
        &self,
        path: &[u8],
        flags: u32,
        mode: u32,
        umask: u32,
    ) -> Result<Arc<dyn FileDescription>, Errno> {
        let path_only = flags & o::PATH != 0;
        if !path_only && flags & o::TMPFILE == o::TMPFILE {
            self.upper_dir(path)?;
            return self.upper.open(rel(path), flags, mode, umask);
        }
        let writes = !path_only && (flags & o::ACCMODE != o::RDONLY || flags & o::TRUNC != 0);
        let creat = flags & o::CREAT != 0 && !path_only;
        match self.locate(path)? {
            Loc::None if creat => {
                if path.ends_with(b"/") {
                    return Err(Errno::EISDIR);
                }
                self.upper_dir(parent_of(path))?;
                let f = self.upper.open(rel(path), flags, mode, umask)?;
                self.created(path, false);
                Ok(f)
            }
            Loc::None => Err(Errno::ENOENT),
            Loc::Lower(_) | Loc::Upper(_) if creat && flags & o::EXCL != 0 => Err(Errno::EEXIST),
            Loc::Lower(st) if writes && !is_dir(&st) => {
                if st.st_mode & S_IFMT == S_IFLNK {
                    return Err(if flags & o::DIRECTORY != 0 {
                        Errno::ENOTDIR
                    } else {
                        Errno::ELOOP
                    });
                }
                self.copy_up(path)?;
                self.upper.open(rel(path), flags, mode, umask)
            }
            Loc::Lower(st) => {
                if is_dir(&st) && (writes || creat) {
                    return Err(Errno::EISDIR);
                }
                Ok(Arc::new(self.lower.open_file(path, flags & !o::CREAT)?))
            }
            Loc::Upper(st) => {
                if is_dir(&st) && !path_only && !writes && !creat && self.merged(path) {
                    return Ok(Arc::new(MergedDir::new(self, path, st, flags)?));
                }
                self.upper.open(rel(path), flags, mode, umask)
            }
        }
    }

    /// The merged listing of directory `path`: (name, inode, `d_type`).
    fn list(&self, path: &[u8]) -> Result<Vec<(Vec<u8>, u64, u8)>, Errno> {
        let (mut out, merge) = match self.locate(path)? {
            Loc::Upper(_) => (self.upper.list(rel(path))?, self.merged(path)),
            Loc::Lower(_) => (Vec::new(), true),
            Loc::None => return Err(Errno::ENOENT),
        };
        if merge {
            let names: HashSet<Vec<u8>> = out.iter().map(|e| e.0.clone()).collect();
            let whiteouts = self.upper.whiteouts(rel(path)).unwrap_or_default();
            for e in self.lower.list(path)? {
                if !names.contains(&e.0) && !whiteouts.contains(&e.0) {
                    out.push(e);
                }
            }
        }
        Ok(out)
    }

    /// `mkdir(2)`.
    pub fn mkdir(&self, path: &[u8], mode: u32, umask: u32) -> Result<(), Errno> {
        self.prepare_new(path)?;
        self.upper.mkdir(rel(path), mode, umask)?;
        self.created(path, true);
        Ok(())
    }

    /// `symlink(2)`.
    pub fn symlink(&self, target: &[u8], path: &[u8]) -> Result<(), Errno> {
        self.prepare_new(path)?;
        self.upper.symlink(target, rel(path))?;
        self.created(path, false);
        Ok(())
    }

    /// `mknod(2)` of a FIFO: made in the upper layer.
    pub fn mkfifo(&self, path: &[u8], mode: u32, umask: u32) -> Result<(), Errno> {
        self.prepare_new(path)?;
        self.upper.mkfifo(rel(path), mode, umask)?;
        self.created(path, false);
        Ok(())
    }

    /// A socket node (`bind(2)`): made in the upper layer.
    pub fn mksock(&self, path: &[u8], mode: u32, umask: u32) -> Result<(), Errno> {
        self.prepare_new(path)?;
        self.upper.mksock(rel(path), mode, umask)?;
        self.created(path, false);
        Ok(())
    }

    /// `link(2)`: a lower file is copied up first.
    pub fn link(&self, old: &[u8], new: &[u8]) -> Result<(), Errno> {
        match self.locate(old)? {
            Loc::None => return Err(Errno::ENOENT),
            Loc::Upper(st) | Loc::Lower(st) if is_dir(&st) => return Err(Errno::EPERM),
            _ => {}
        }
        self.prepare_new(new)?;
        self.copy_up(old)?;
        self.upper.link(rel(old), rel(new))?;
        self.created(new, false);
        Ok(())
    }

    /// `linkat(2)` of an open file without a path (an `O_TMPFILE` one lives in the upper
    /// layer): see [`Tmpfs::link_open`].
    pub fn link_open(&self, file: &dyn FileDescription, new: &[u8]) -> Result<(), Errno> {
        self.prepare_new(new)?;
        self.upper.link_open(file, rel(new))?;
        self.created(new, false);
        Ok(())
    }

    /// `unlink(2)`.
    pub fn unlink(&self, path: &[u8]) -> Result<(), Errno> {
        let loc = self.locate(path)?;
        match &loc {
            Loc::None => return Err(Errno::ENOENT),
            Loc::Upper(st) | Loc::Lower(st) if is_dir(st) => return Err(Errno::EISDIR),
            _ => {}
        }
        let lower = self.will_remove(path)?;
        if let Loc::Upper(_) = loc {
            self.upper.unlink(rel(path))?;
        }
        self.removed(path, lower)
    }

    /// `rmdir(2)`: the merged directory must be empty.
    pub fn rmdir(&self, path: &[u8]) -> Result<(), Errno> {
        if path == b"/" {
            return Err(Errno::EBUSY);
        }
        let loc = self.locate(path)?;
        match loc.stat() {
            None => return Err(Errno::ENOENT),
            Some(st) if !is_dir(st) => return Err(Errno::ENOTDIR),
            _ => {}
        }
        if !self.list(path)?.is_empty() {
            return Err(Errno::ENOTEMPTY);
        }
        let lower = self.will_remove(path)?;
        if let Loc::Upper(_) = loc {
            self.upper.rmdir(rel(path))?;
        }
        self.removed(path, lower)
    }

    /// `renameat2(2)` with `RENAME_NOREPLACE`/`RENAME_EXCHANGE` in `flags`.
    pub fn rename(&self, old: &[u8], new: &[u8], flags: u32) -> Result<(), Errno> {
        use snare_abi::file::{RENAME_EXCHANGE, RENAME_NOREPLACE};
        let lo = self.locate(old)?;
        let Some(ost) = lo.stat().copied() else {
            return Err(Errno::ENOENT);
        };
        let ln = self.locate(new)?;
        if old == new {
            return Ok(());
        }
        if old == b"/" || new == b"/" {
            return Err(Errno::EBUSY);
        }
        if within(new, old) {
            return Err(Errno::EINVAL);
        }
        let exchange = flags & RENAME_EXCHANGE != 0;
        match ln.stat() {
            Some(_) if flags & RENAME_NOREPLACE != 0 => return Err(Errno::EEXIST),
            None if exchange => return Err(Errno::ENOENT),
            Some(nst) if !exchange => {
                if is_dir(&ost) && !is_dir(nst) {
                    return Err(Errno::ENOTDIR);
                }
                if !is_dir(&ost) && is_dir(nst) {
                    return Err(Errno::EISDIR);
                }
                if is_dir(nst) && !self.list(new)?.is_empty() {
                    return Err(Errno::ENOTEMPTY);
                }
            }
            _ => {}
        }
        // A directory with lower contents can't move (no redirects): the caller copies.
        // (An opaque directory has none: it moves, leaving a whiteout.)
        let lower_dir = |p: &[u8], st: &Stat| {
            is_dir(st) && self.lower_visible(p).is_some() && !self.upper.is_opaque(rel(p))
        };
        if lower_dir(old, &ost) || (exchange && ln.stat().is_some_and(|s| lower_dir(new, s))) {
            return Err(Errno::EXDEV);
        }
        self.copy_up(old)?;
        if exchange {
            self.copy_up(new)?;
        }
        self.upper_dir(parent_of(new))?;
        let old_lower = !exchange && self.will_remove(old)?;
        if let Loc::Upper(nst) = &ln {
            if is_dir(nst) && !exchange {
                // An empty merged directory: only whiteouts are left below it.
                self.upper.rmdir(rel(new))?;
            }
        }
        self.upper.rename(rel(old), rel(new), flags)?;
        if !exchange {
            // What `new` names now hides the lower `new`: a directory wholly (it was the
            // upper layer's alone, so it had nothing to merge).
            self.upper.set_whiteout(rel(new), false)?;
            if is_dir(&ost) {
                let new_lower = self.lower_visible(new).is_some();
                self.upper.set_opaque(rel(new), new_lower)?;
            }
            self.removed(old, old_lower)?;
        }
        Ok(())
    }

    /// `truncate(2)`.
    pub fn truncate(&self, path: &[u8], len: u64) -> Result<(), Errno> {
        if self.stat(path).is_ok_and(|s| is_dir(&s)) {
            return Err(Errno::EISDIR);
        }
        self.copy_up(path)?;
        self.upper.truncate(rel(path), len)
    }

    /// `chmod(2)` (the last component not followed: `EOPNOTSUPP` on a symlink).
    pub fn chmod(&self, path: &[u8], mode: u32) -> Result<(), Errno> {
        if self.stat(path)?.st_mode & S_IFMT == S_IFLNK {
            return Err(Errno::EOPNOTSUPP);
        }
        self.copy_up(path)?;
        self.upper.chmod(rel(path), mode, false)
    }

    /// `lchown(2)` semantics (`u32::MAX` leaves a field alone).
    pub fn chown(&self, path: &[u8], uid: u32, gid: u32) -> Result<(), Errno> {
        self.copy_up(path)?;
        self.upper.chown(rel(path), uid, gid, false)
    }

    /// `utimensat(2)` with `AT_SYMLINK_NOFOLLOW` semantics (see [`Tmpfs::utimens`]).
    pub fn utimens(
        &self,
        path: &[u8],
        atime: Option<(i64, i64)>,
        mtime: Option<(i64, i64)>,
    ) -> Result<(), Errno> {
        self.copy_up(path)?;
        self.upper.utimens(rel(path), atime, mtime, false)
    }

    /// `getxattr(2)` of `path` (not followed): the upper layer's attribute once the file is
    /// there, else the lower file's.
    pub fn getxattr(&self, path: &[u8], name: &[u8]) -> Result<Vec<u8>, Errno> {
        match self.locate(path)? {
            Loc::Upper(_) => self.upper.getxattr(rel(path), name, false),
            Loc::Lower(_) => match self.lower.getxattr(path, name) {
                // A host filesystem without attributes: this file has none.
                Err(Errno::EOPNOTSUPP) => supported(name).and(Err(Errno::ENODATA)),
                r => r,
            },
            Loc::None => Err(Errno::ENOENT),
        }
    }

    /// `listxattr(2)` of `path` (not followed).
    pub fn listxattr(&self, path: &[u8]) -> Result<Vec<Vec<u8>>, Errno> {
        match self.locate(path)? {
            Loc::Upper(_) => self.upper.listxattr(rel(path), false),
            Loc::Lower(_) => self.lower.listxattr(path),
            Loc::None => Err(Errno::ENOENT),
        }
    }

    /// `setxattr(2)` of `path` (not followed): a lower file is copied up first (with its
    /// attributes, so `XATTR_CREATE` and `XATTR_REPLACE` see them).
    pub fn setxattr(
        &self,
        path: &[u8],
        name: &[u8],
        value: &[u8],
        flags: u32,
    ) -> Result<(), Errno> {
        supported(name)?;
        self.copy_up(path)?;
        self.upper.setxattr(rel(path), name, value, flags, false)
    }

    /// `removexattr(2)` of `path` (not followed): a lower file is copied up first, unless it
    /// hasn't the attribute (`ENODATA`, as overlayfs).
    pub fn removexattr(&self, path: &[u8], name: &[u8]) -> Result<(), Errno> {
        supported(name)?;
        if let Loc::Lower(_) = self.locate(path)? {
            self.getxattr(path, name)?;
        }
        self.copy_up(path)?;
        self.upper.removexattr(rel(path), name, false)
    }
}

mod merged_dir;
mod mounted;
#[cfg(test)]
mod tests;

use merged_dir::MergedDir;
