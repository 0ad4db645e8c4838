//! Host files: the guest's root directory on the host, opened confined to it, and files
//! opened through it or through a volume ([`super::hostdir::HostDir`]).

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use snare_abi::file::{o, Stat, S_IFLNK, S_IFMT};
use snare_abi::Errno;

use super::host_fds::HostFdGuard;
use super::tmpfs::{SEEK_DATA, SEEK_HOLE};
use super::{push_dirent, FileDescription, SEEK_CUR, SEEK_END, SEEK_SET};
use crate::mm::{GuestMemory, MappableFile};

mod dentries;
pub use dentries::DentryRef;
use dentries::{Dentries, Walked};

pub(crate) fn errno_of(e: nix::Error) -> Errno {
    Errno::new(e as i32)
}

pub(crate) fn io_errno(e: &std::io::Error) -> Errno {
    Errno::new(e.raw_os_error().unwrap_or(Errno::EIO.raw()))
}

/// The guest's root directory on the host. Every path is resolved by the host kernel with
/// `RESOLVE_IN_ROOT`: `..`, absolute symlinks and magic links can't leave it.
#[derive(Debug)]
pub struct HostRoot {
    dir: OwnedFd,
    host_path: PathBuf,
    /// What the host answered, name by name ([`dentries`]).
    dentries: Dentries,
}

impl HostRoot {
    pub fn open(path: &Path) -> Result<HostRoot, Errno> {
        let dir = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(errno_of)?;
        Ok(HostRoot {
            dir,
            host_path: path.to_path_buf(),
            dentries: Dentries::default(),
        })
    }

    /// [`HostRoot::open`] through a read-only copy of the host's mount tree at `path`
    /// (`snare_platform::mount_tree`): no write can reach the host through this root, even
    /// from a Sentry taken over; its root is a mount root (`..` stays there) and its device
    /// nodes can't be opened. The Sentry in its own namespaces always has the privilege for
    /// it (over its own mount namespace); a failure is an error.
    pub fn open_readonly(path: &Path) -> Result<HostRoot, Errno> {
        // O_DIRECTORY first: open_tree would copy a file's mount as well.
        drop(HostRoot::open(path)?);
        let dir = snare_platform::mount_tree::readonly_tree(path)?;
        use snare_platform::mount_tree::{mask, SHADOWED};
        if let Err(e) = mask(&dir, &SHADOWED) {
            tracing::warn!(error = ?e, "the host's /proc, /sys and /dev under the root stay unmasked");
        }
        Ok(HostRoot {
            dir,
            host_path: path.to_path_buf(),
            dentries: Dentries::default(),
        })
    }

    /// A second handle on the same root.
    pub fn try_clone(&self) -> Result<HostRoot, Errno> {
        Ok(HostRoot {
            dir: self.dir.try_clone().map_err(|e| io_errno(&e))?,
            host_path: self.host_path.clone(),
            dentries: Dentries::default(),
        })
    }

    /// The host directory that is the guest's `/`.
    pub fn host_path(&self) -> &Path {
        &self.host_path
    }

    fn how(flags: OFlag, follow: bool) -> OpenHow {
        let mut resolve = ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS;
        if !follow {
            resolve |= ResolveFlag::RESOLVE_NO_SYMLINKS;
        }
        OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC)
            .resolve(resolve)
    }

    /// Opens a guest absolute path read-only (the root is read-only until the overlay
    /// lands). `flags` are the guest's open flags.
    pub fn open_file(&self, path: &[u8], flags: u32) -> Result<HostFile, Errno> {
        self.open_file_how(path, flags, false)
    }

    /// [`HostRoot::open_file`]; with `no_symlinks`, any symlink on the way (or a last one,
    /// unless `O_PATH|O_NOFOLLOW`) is `ELOOP` instead of being followed.
    pub fn open_file_how(
        &self,
        path: &[u8],
        flags: u32,
        no_symlinks: bool,
    ) -> Result<HostFile, Errno> {
        if flags & o::ACCMODE != o::RDONLY || flags & (o::CREAT | o::TRUNC) != 0 {
            // Writes need the overlay; say so honestly.
            return Err(Errno::EROFS);
        }
        let mut of = OFlag::O_RDONLY;
        if flags & o::DIRECTORY != 0 {
            of |= OFlag::O_DIRECTORY;
        }
        if flags & o::PATH != 0 {
            of |= OFlag::O_PATH;
        }
        if flags & o::NOFOLLOW != 0 {
            of |= OFlag::O_NOFOLLOW;
        }
        // The fd stays open as long as the file (or a mapping of it): it takes a place in
        // the sandbox's budget.
        let budget = HostFdGuard::acquire()?;
        let fd = nix::fcntl::openat2(&self.dir, rel(path), Self::how(of, !no_symlinks))
            .map_err(errno_of)?;
        let file = File::from(fd);
        // The file's type is looked up when first needed (an open, read, close of a regular
        // file never needs it: one host call less per open).
        let kind = OnceLock::new();
        if flags & o::DIRECTORY != 0 && flags & o::PATH == 0 {
            let _ = kind.set((true, false));
        }
        Ok(HostFile {
            inner: Arc::new(HostInner {
                file,
                path: path.to_vec(),
                mappable: flags & o::PATH == 0,
                origin: Origin::Root,
                _budget: Some(budget),
            }),
            offset: Mutex::new(0),
            kind,
            dir_entries: Mutex::new(None),
            flags: AtomicU32::new(flags & (o::ACCMODE | o::APPEND | o::NONBLOCK | o::PATH)),
        })
    }

    /// `stat`/`lstat` of a guest absolute path (normalized).
    pub fn stat(&self, path: &[u8], follow: bool) -> Result<Stat, Errno> {
        self.stat_how(path, follow, false)
    }

    /// [`HostRoot::stat`]; with `no_symlinks`, a symlink on the way (or a last one that
    /// `follow` would follow) is `ELOOP`. From the dentry cache; what it doesn't walk (a
    /// symlink to follow) is asked of the host.
    pub fn stat_how(&self, path: &[u8], follow: bool, no_symlinks: bool) -> Result<Stat, Errno> {
        let ask = |p: &[u8]| self.stat_host(p, false, true);
        match self.dentries.walk(path, &ask)? {
            Walked::Found(_, st) if !(follow && st.st_mode & S_IFMT == S_IFLNK) => Ok(st),
            _ if no_symlinks => Err(Errno::ELOOP),
            _ => self.stat_host(path, follow, false),
        }
    }

    /// One step of a walk: the `lstat` of `name` in the directory `dir` (a reference from
    /// an earlier step or [`HostRoot::walk`]), `path` being the name's whole path. `None`
    /// when `dir` went stale (walk the path instead).
    pub fn step(
        &self,
        dir: DentryRef,
        name: &[u8],
        path: &[u8],
    ) -> Option<Result<(DentryRef, Stat), Errno>> {
        let ask = |p: &[u8]| self.stat_host(p, false, true);
        self.dentries.child(dir, name, path, &ask)
    }

    /// The dentry of a normalized absolute path and its `lstat`; `ELOOP` for a symlink
    /// before the last name.
    pub fn walk(&self, path: &[u8]) -> Result<(DentryRef, Stat), Errno> {
        let ask = |p: &[u8]| self.stat_host(p, false, true);
        match self.dentries.walk(path, &ask)? {
            Walked::Found(r, st) => Ok((r, st)),
            Walked::LinkOnWay => Err(Errno::ELOOP),
        }
    }

    /// The target of the symlink at `at` (from [`HostRoot::walk`] or a step), whose path is
    /// `path`.
    pub fn readlink_at(&self, at: DentryRef, path: &[u8]) -> Result<Vec<u8>, Errno> {
        self.dentries.link(at, || self.readlink_host(path))
    }

    /// How many times the dentry cache asked the host.
    pub fn asked(&self) -> u64 {
        self.dentries.asked()
    }

    fn stat_host(&self, path: &[u8], follow: bool, no_symlinks: bool) -> Result<Stat, Errno> {
        let fd = nix::fcntl::openat2(
            &self.dir,
            rel(path),
            Self::how(
                OFlag::O_PATH
                    | if follow {
                        OFlag::empty()
                    } else {
                        OFlag::O_NOFOLLOW
                    },
                !no_symlinks,
            ),
        )
        .map_err(errno_of)?;
        let st = nix::sys::stat::fstatat(&fd, "", nix::fcntl::AtFlags::AT_EMPTY_PATH)
            .map_err(errno_of)?;
        Ok(stat_from_host(&st))
    }

    /// `statfs(2)` of the filesystem holding a guest absolute path, as the kernel's
    /// `struct statfs` (120 bytes).
    pub fn statfs(&self, path: &[u8]) -> Result<[u8; 120], Errno> {
        let fd = nix::fcntl::openat2(&self.dir, rel(path), Self::how(OFlag::O_PATH, true))
            .map_err(errno_of)?;
        statfs_of(&fd, true)
    }

    /// The target of a symlink at a guest absolute path (kept on its dentry).
    pub fn readlink(&self, path: &[u8]) -> Result<Vec<u8>, Errno> {
        match self.walk(path) {
            Ok((r, st)) if st.st_mode & S_IFMT == S_IFLNK => {
                self.dentries.link(r, || self.readlink_host(path))
            }
            Ok(_) => Err(Errno::EINVAL),
            // A link on the way: the host follows it.
            Err(Errno::ELOOP) => self.readlink_host(path),
            Err(e) => Err(e),
        }
    }

    fn readlink_host(&self, path: &[u8]) -> Result<Vec<u8>, Errno> {
        let fd = nix::fcntl::openat2(
            &self.dir,
            rel(path),
            Self::how(OFlag::O_PATH | OFlag::O_NOFOLLOW, true),
        )
        .map_err(errno_of)?;
        // With an empty path, readlinkat says ENOENT for what is not a symlink (the fd itself
        // exists): readlink(2) says EINVAL.
        let target = nix::fcntl::readlinkat(&fd, "").map_err(|e| match errno_of(e) {
            Errno::ENOENT => Errno::EINVAL,
            e => e,
        })?;
        Ok(std::os::unix::ffi::OsStringExt::into_vec(target))
    }
}

impl HostRoot {
    /// An `O_PATH` fd for a guest absolute path, a last symlink not followed.
    fn lookup(&self, path: &[u8]) -> Result<OwnedFd, Errno> {
        nix::fcntl::openat2(
            &self.dir,
            rel(path),
            Self::how(OFlag::O_PATH | OFlag::O_NOFOLLOW, true),
        )
        .map_err(errno_of)
    }

    /// The `user.` attribute `name` of a guest absolute path (not followed; other
    /// namespaces show nothing, see [`super::xattr`]).
    pub fn getxattr(&self, path: &[u8], name: &[u8]) -> Result<Vec<u8>, Errno> {
        super::xattr::host_get(name, || self.lookup(path))
    }

    /// The names of the `user.` attributes of a guest absolute path (not followed).
    pub fn listxattr(&self, path: &[u8]) -> Result<Vec<Vec<u8>>, Errno> {
        super::xattr::host_list(&self.lookup(path)?)
    }

    /// A directory's entries without `.` and `..`: (name, inode, `d_type`).
    pub fn list(&self, path: &[u8]) -> Result<Vec<(Vec<u8>, u64, u8)>, Errno> {
        let f = self.open_file(path, o::RDONLY | o::DIRECTORY)?;
        Ok(f.load_dir()?
            .into_iter()
            .filter(|(_, _, n)| n != b"." && n != b"..")
            .map(|(ino, t, n)| (n, ino, t))
            .collect())
    }
}

/// A guest absolute path as a path relative to the root fd ("." for "/").
fn rel(path: &[u8]) -> &Path {
    let trimmed = {
        let mut p = path;
        while let [b'/', rest @ ..] = p {
            p = rest;
        }
        p
    };
    if trimmed.is_empty() {
        Path::new(".")
    } else {
        Path::new(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(trimmed))
    }
}

/// The kernel's `struct statfs` for the filesystem of a host fd; `read_only` sets
/// `ST_RDONLY` in `f_flags` (the root, a read-only volume).
pub(crate) fn statfs_of(fd: &impl AsFd, read_only: bool) -> Result<[u8; 120], Errno> {
    let s = nix::sys::statfs::fstatfs(fd).map_err(errno_of)?;
    let mut b = [0u8; 120];
    let words: [i64; 7] = [
        s.filesystem_type().0 as i64,
        s.block_size() as i64,
        s.blocks() as i64,
        s.blocks_free() as i64,
        s.blocks_available() as i64,
        s.files() as i64,
        s.files_free() as i64,
    ];
    for (i, w) in words.iter().enumerate() {
        b[8 * i..8 * i + 8].copy_from_slice(&w.to_ne_bytes());
    }
    // f_fsid stays zero (as for unprivileged callers); then f_namelen, f_frsize, f_flags.
    b[64..72].copy_from_slice(&(s.maximum_name_length() as i64).to_ne_bytes());
    b[72..80].copy_from_slice(&(s.block_size() as i64).to_ne_bytes());
    // ST_RDONLY: the root (and a read-only volume) is read-only to the guest.
    b[80..88].copy_from_slice(&i64::from(read_only).to_ne_bytes());
    Ok(b)
}

/// (is a directory, is a stream) of an open host file.
fn kind_of(file: &File) -> (bool, bool) {
    file.metadata()
        .map(|m| (m.is_dir(), !m.file_type().is_file() && !m.is_dir()))
        .unwrap_or((false, true))
}

/// Converts a host `struct stat`.
pub(crate) fn stat_from_host(st: &nix::sys::stat::FileStat) -> Stat {
    Stat {
        st_dev: st.st_dev,
        st_ino: st.st_ino,
        st_nlink: st.st_nlink,
        st_mode: st.st_mode,
        st_uid: st.st_uid,
        st_gid: st.st_gid,
        _pad0: 0,
        st_rdev: st.st_rdev,
        st_size: st.st_size,
        st_blksize: st.st_blksize,
        st_blocks: st.st_blocks,
        st_atime: st.st_atime,
        st_atime_nsec: st.st_atime_nsec,
        st_mtime: st.st_mtime,
        st_mtime_nsec: st.st_mtime_nsec,
        st_ctime: st.st_ctime,
        st_ctime_nsec: st.st_ctime_nsec,
        _unused: [0; 3],
    }
}

/// One directory entry: inode, `d_type`, name.
type DirEntry = (u64, u8, Vec<u8>);

/// Where a host file was opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    /// The root's read-only lower layer, or stdio.
    Root,
    /// A volume: writes reach the host, and the host may change the file at any time.
    Volume { read_only: bool },
}

#[derive(Debug)]
struct HostInner {
    file: File,
    path: Vec<u8>,
    /// Opened for reading (not O_PATH, not write-only, not stdio): stubs may map it directly.
    mappable: bool,
    origin: Origin,
    /// The fd's place in the sandbox's host-fd budget (`None` for stdio, which the Sentry
    /// holds anyway).
    _budget: Option<HostFdGuard>,
}

impl MappableFile for HostInner {
    fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        self.file.read_at(buf, off).map_err(|e| io_errno(&e))
    }

    fn name(&self) -> String {
        String::from_utf8_lossy(&self.path).into_owned()
    }

    fn host_fd(&self) -> Option<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        self.mappable.then(|| self.file.as_raw_fd())
    }

    /// Host files of the root are the read-only lower layer: their pages can be cached, keyed
    /// by what would change if the host changed the file. Volume files are never cached:
    /// they change (the guest writes them, and so may the host) within one mtime tick.
    fn cache_key(&self) -> Option<[u64; 4]> {
        use std::os::unix::fs::MetadataExt;
        if self.origin != Origin::Root {
            return None;
        }
        let m = self.file.metadata().ok()?;
        if !m.is_file() {
            return None;
        }
        let mtime = (m.mtime() as u64)
            .wrapping_mul(1_000_000_000)
            .wrapping_add(m.mtime_nsec() as u64);
        Some([m.dev(), m.ino(), mtime, m.size()])
    }

    /// Reads host file pages and writes them into the memory file with `pwrite` (the memory
    /// file is on another file system, so `copy_file_range` can't be used; writing through
    /// the file is cheaper than a copy through the mapping, which faults once per page).
    fn fill(
        &self,
        off: u64,
        mem: &snare_platform::MemoryFile,
        mem_off: u64,
        len: usize,
    ) -> Result<usize, Errno> {
        default_fill(self, off, mem, mem_off, len)
    }
}

/// Fills memory-file pages from a host file: read into a per-thread buffer, written through
/// the memory file. Stops at the end of the file (the rest stays zero).
fn default_fill(
    f: &HostInner,
    off: u64,
    mem: &snare_platform::MemoryFile,
    mem_off: u64,
    len: usize,
) -> Result<usize, Errno> {
    const CHUNK: usize = 256 << 10;
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUF.with_borrow_mut(|buf| {
        if buf.len() < CHUNK.min(len) {
            buf.resize(CHUNK.min(len), 0);
        }
        let mut done = 0usize;
        while done < len {
            let want = (len - done).min(CHUNK);
            let mut got = 0usize;
            while got < want {
                match f
                    .file
                    .read_at(&mut buf[got..want], off + (done + got) as u64)
                {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(e) => return Err(io_errno(&e)),
                }
            }
            mem.write_fresh(mem_off + done as u64, &buf[..got]);
            done += got;
            if got < want {
                break;
            }
        }
        Ok(done)
    })
}

/// A host file or directory opened by the guest (or passed in as stdio).
#[derive(Debug)]
pub struct HostFile {
    inner: Arc<HostInner>,
    offset: Mutex<u64>,
    /// (is a directory, is a stream: not a regular file or directory), looked up once when
    /// first needed (a file's type never changes).
    kind: OnceLock<(bool, bool)>,
    /// A directory's entries, read once at the first getdents (and, on a volume, again
    /// after a rewind): (ino, type, name).
    dir_entries: Mutex<Option<Vec<DirEntry>>>,
    /// Status flags (access mode, O_APPEND, O_NONBLOCK, O_PATH); `F_SETFL` changes them
    /// but for stdio's and the root's streams.
    flags: AtomicU32,
}

impl HostFile {
    /// Wraps a host fd the Sentry owns (stdio). Streams (ttys, pipes) have no offset.
    pub fn from_host_fd(fd: OwnedFd, path: &str, flags: u32) -> HostFile {
        let file = File::from(fd);
        let kind = OnceLock::from(kind_of(&file));
        HostFile {
            inner: Arc::new(HostInner {
                file,
                path: path.as_bytes().to_vec(),
                mappable: false,
                origin: Origin::Root,
                _budget: None,
            }),
            offset: Mutex::new(0),
            kind,
            dir_entries: Mutex::new(None),
            flags: AtomicU32::new(flags),
        }
    }

    /// Wraps a host fd opened in a volume ([`super::hostdir::HostDir`]) by the guest with
    /// `flags`, shown as guest path `path`. Unlike the root's files it may be written
    /// (`write`, `pwrite`, `ftruncate`, `fallocate` reach the host fd; the host fd's own
    /// access mode decides), its `O_APPEND` and `O_NONBLOCK` follow `F_SETFL`, a rewound
    /// directory is listed afresh, and its pages are never cached.
    pub(crate) fn for_volume(
        fd: OwnedFd,
        path: Vec<u8>,
        flags: u32,
        read_only: bool,
        budget: HostFdGuard,
    ) -> HostFile {
        let file = File::from(fd);
        let path_only = flags & o::PATH != 0;
        let kind = OnceLock::new();
        if flags & o::DIRECTORY != 0 && flags & o::TMPFILE != o::TMPFILE && !path_only {
            let _ = kind.set((true, false));
        }
        // An O_PATH fd has no access mode: reads and writes are EBADF.
        let acc = if path_only {
            o::RDONLY
        } else {
            flags & o::ACCMODE
        };
        HostFile {
            inner: Arc::new(HostInner {
                file,
                path,
                mappable: !path_only && acc != o::WRONLY,
                origin: Origin::Volume { read_only },
                _budget: Some(budget),
            }),
            offset: Mutex::new(0),
            kind,
            dir_entries: Mutex::new(None),
            flags: AtomicU32::new(acc | (flags & (o::APPEND | o::NONBLOCK | o::PATH))),
        }
    }

    fn flags(&self) -> u32 {
        self.flags.load(Ordering::Relaxed)
    }

    /// The host fd of a volume's file (for `linkat` of an `O_TMPFILE` one); `None` for the
    /// root's read-only files and stdio.
    pub(crate) fn volume_fd(&self) -> Option<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        self.is_volume().then(|| self.inner.file.as_raw_fd())
    }

    fn is_volume(&self) -> bool {
        matches!(self.inner.origin, Origin::Volume { .. })
    }

    /// `write(2)` of a volume's regular file at the description's offset (with O_APPEND,
    /// at the host's end of file, atomically, and the offset then follows it).
    fn write_volume(&self, data: &[u8]) -> Result<usize, Errno> {
        let file = &self.inner.file;
        let mut off = self.offset.lock().unwrap_or_else(|e| e.into_inner());
        if self.flags() & o::APPEND != 0 {
            // The host fd was opened (or set) O_APPEND too.
            let n = std::io::Write::write(&mut &*file, data).map_err(|e| io_errno(&e))?;
            *off = std::io::Seek::stream_position(&mut &*file).map_err(|e| io_errno(&e))?;
            return Ok(n);
        }
        let n = file.write_at(data, *off).map_err(|e| io_errno(&e))?;
        *off += n as u64;
        Ok(n)
    }

    fn kind(&self) -> (bool, bool) {
        *self.kind.get_or_init(|| kind_of(&self.inner.file))
    }

    fn is_dir(&self) -> bool {
        self.kind().0
    }

    /// Ttys, pipes, sockets: no offset, no pread.
    fn is_stream(&self) -> bool {
        self.kind().1
    }

    fn load_dir(&self) -> Result<Vec<DirEntry>, Errno> {
        let mut out = vec![];
        let fd = self
            .inner
            .file
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| io_errno(&e))?;
        let mut dir = nix::dir::Dir::from_fd(fd).map_err(errno_of)?;
        for ent in dir.iter() {
            let ent = ent.map_err(errno_of)?;
            let dtype = match ent.file_type() {
                Some(nix::dir::Type::Fifo) => 1,
                Some(nix::dir::Type::CharacterDevice) => 2,
                Some(nix::dir::Type::Directory) => 4,
                Some(nix::dir::Type::BlockDevice) => 6,
                Some(nix::dir::Type::File) => 8,
                Some(nix::dir::Type::Symlink) => 10,
                Some(nix::dir::Type::Socket) => 12,
                None => 0,
            };
            out.push((ent.ino(), dtype, ent.file_name().to_bytes().to_vec()));
        }
        Ok(out)
    }
}

impl FileDescription for HostFile {
    fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        let known = self.kind.get().copied();
        if known.is_some_and(|(dir, _)| dir) {
            return Err(Errno::EISDIR);
        }
        if !known.is_some_and(|(_, stream)| stream) {
            // A regular file, or not looked up yet: read at the offset; the host says
            // EISDIR or ESPIPE if it is something else.
            let mut off = self.offset.lock().unwrap_or_else(|e| e.into_inner());
            match self.inner.file.read_at(buf, *off) {
                Ok(n) => {
                    *off += n as u64;
                    return Ok(n);
                }
                Err(e) if known.is_none() && io_errno(&e) == Errno::ESPIPE => {}
                Err(e) => return Err(io_errno(&e)),
            }
            if !self.is_stream() {
                return Err(Errno::ESPIPE);
            }
        }
        std::io::Read::read(&mut &self.inner.file, buf).map_err(|e| io_errno(&e))
    }

    fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        if self.flags() & o::ACCMODE == o::RDONLY {
            return Err(Errno::EBADF);
        }
        if self.is_volume() && !self.is_stream() {
            return self.write_volume(data);
        }
        std::io::Write::write(&mut &self.inner.file, data).map_err(|e| io_errno(&e))
    }

    /// Only volume files; the root's keep the default (`ESPIPE`).
    fn pwrite(&self, data: &[u8], off: u64) -> Result<usize, Errno> {
        if !self.is_volume() {
            return Err(Errno::ESPIPE);
        }
        if self.flags() & o::ACCMODE == o::RDONLY {
            return Err(Errno::EBADF);
        }
        if self.is_stream() {
            return Err(Errno::ESPIPE);
        }
        self.inner
            .file
            .write_at(data, off)
            .map_err(|e| io_errno(&e))
    }

    fn pread(&self, buf: &mut [u8], off: u64) -> Result<usize, Errno> {
        if self.is_dir() {
            return Err(Errno::EISDIR);
        }
        if self.is_stream() {
            return Err(Errno::ESPIPE);
        }
        self.inner.file.read_at(buf, off).map_err(|e| io_errno(&e))
    }

    fn seek(&self, off: i64, whence: u32) -> Result<u64, Errno> {
        if self.is_stream() {
            return Err(Errno::ESPIPE);
        }
        let mut cur = self.offset.lock().unwrap_or_else(|e| e.into_inner());
        let base = match whence {
            SEEK_SET => 0,
            SEEK_CUR => *cur as i64,
            SEEK_END => {
                if self.is_dir() {
                    return Err(Errno::EINVAL);
                }
                self.inner.file.metadata().map_err(|e| io_errno(&e))?.size() as i64
            }
            // The host knows where its file's data and holes are (ENXIO past the last data,
            // EINVAL for a directory, as its filesystem says).
            SEEK_DATA | SEEK_HOLE => {
                let how = if whence == SEEK_DATA {
                    nix::unistd::Whence::SeekData
                } else {
                    nix::unistd::Whence::SeekHole
                };
                let at = nix::unistd::lseek(&self.inner.file, off, how).map_err(errno_of)?;
                *cur = at as u64;
                return Ok(*cur);
            }
            _ => return Err(Errno::EINVAL),
        };
        let new = base
            .checked_add(off)
            .filter(|&n| n >= 0)
            .ok_or(Errno::EINVAL)?;
        if new == 0 && self.is_volume() && self.is_dir() {
            // rewinddir: a volume directory may have changed since it was listed.
            *self.dir_entries.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
        *cur = new as u64;
        Ok(*cur)
    }

    fn stat(&self) -> Result<Stat, Errno> {
        let st = nix::sys::stat::fstat(&self.inner.file).map_err(errno_of)?;
        Ok(stat_from_host(&st))
    }

    fn getdents(&self, out: &mut Vec<u8>, max: usize) -> Result<(), Errno> {
        if !self.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let mut ents = self.dir_entries.lock().unwrap_or_else(|e| e.into_inner());
        if ents.is_none() {
            *ents = Some(self.load_dir()?);
        }
        let list = ents.as_ref().map(Vec::as_slice).unwrap_or(&[]);
        let mut off = self.offset.lock().unwrap_or_else(|e| e.into_inner());
        while let Some((ino, dtype, name)) = list.get(*off as usize) {
            if !push_dirent(out, max, *ino, *off as i64 + 1, *dtype, name) {
                if out.is_empty() {
                    return Err(Errno::EINVAL);
                }
                break;
            }
            *off += 1;
        }
        Ok(())
    }

    fn ioctl(&self, cmd: u32, arg: u64, mem: &dyn GuestMemory) -> Result<u64, Errno> {
        use snare_abi::tty::{
            FIONREAD, TCFLSH, TCGETS, TCSETS, TCSETSF, TCSETSW, TIOCGWINSZ, TIOCSWINSZ,
        };
        let file = &self.inner.file;
        match cmd {
            TCGETS => {
                let t = nix::sys::termios::tcgetattr(file).map_err(errno_of)?;
                let raw: libc::termios = t.into();
                // The kernel's struct termios: four flag words, c_line, 19 control chars.
                let mut out = Vec::with_capacity(36);
                for w in [raw.c_iflag, raw.c_oflag, raw.c_cflag, raw.c_lflag] {
                    out.extend_from_slice(&w.to_ne_bytes());
                }
                out.push(raw.c_line);
                out.extend_from_slice(&raw.c_cc[..19]);
                mem.write(arg, &out)?;
                Ok(0)
            }
            TCSETS | TCSETSW | TCSETSF => {
                let cur = nix::sys::termios::tcgetattr(file).map_err(errno_of)?;
                let mut raw: libc::termios = cur.into();
                let mut b = [0u8; 36];
                mem.read(arg, &mut b)?;
                let word = |i: usize| u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
                raw.c_iflag = word(0);
                raw.c_oflag = word(4);
                raw.c_cflag = word(8);
                raw.c_lflag = word(12);
                raw.c_line = b[16];
                raw.c_cc[..19].copy_from_slice(&b[17..36]);
                let when = match cmd {
                    TCSETS => nix::sys::termios::SetArg::TCSANOW,
                    TCSETSW => nix::sys::termios::SetArg::TCSADRAIN,
                    _ => nix::sys::termios::SetArg::TCSAFLUSH,
                };
                let t = nix::sys::termios::Termios::from(raw);
                nix::sys::termios::tcsetattr(file, when, &t).map_err(errno_of)?;
                Ok(0)
            }
            TCFLSH => {
                use nix::sys::termios::FlushArg;
                let q = match arg {
                    0 => FlushArg::TCIFLUSH,
                    1 => FlushArg::TCOFLUSH,
                    2 => FlushArg::TCIOFLUSH,
                    _ => return Err(Errno::EINVAL),
                };
                nix::sys::termios::tcflush(file, q).map_err(errno_of)?;
                Ok(0)
            }
            TIOCGWINSZ => {
                let ws = snare_platform::tty::winsize(file.as_fd()).map_err(|e| io_errno(&e))?;
                let bytes: Vec<u8> = ws.iter().flat_map(|w| w.to_ne_bytes()).collect();
                mem.write(arg, &bytes)?;
                Ok(0)
            }
            TIOCSWINSZ => {
                let mut b = [0u8; 8];
                mem.read(arg, &mut b)?;
                let ws = [0, 2, 4, 6].map(|i| u16::from_ne_bytes([b[i], b[i + 1]]));
                snare_platform::tty::set_winsize(file.as_fd(), ws).map_err(|e| io_errno(&e))?;
                Ok(0)
            }
            FIONREAD if !self.is_stream() && !self.is_dir() => {
                let size = file.metadata().map_err(|e| io_errno(&e))?.size();
                let off = *self.offset.lock().unwrap_or_else(|e| e.into_inner());
                mem.write(arg, &(size.saturating_sub(off) as i32).to_ne_bytes())?;
                Ok(0)
            }
            _ => Err(Errno::ENOTTY),
        }
    }

    fn is_terminal(&self) -> bool {
        self.is_stream() && nix::unistd::isatty(&self.inner.file).unwrap_or(false)
    }

    /// Only volume files; the root's keep the default (`EINVAL`).
    fn truncate(&self, len: u64) -> Result<(), Errno> {
        if !self.is_volume() {
            return Err(Errno::EINVAL);
        }
        let len = i64::try_from(len).map_err(|_| Errno::EINVAL)?;
        nix::unistd::ftruncate(&self.inner.file, len).map_err(errno_of)
    }

    /// Only volume files; the root's keep the default.
    fn allocate(&self, mode: u32, off: u64, len: u64) -> Result<(), Errno> {
        if !self.is_volume() {
            return if self.flags() & o::ACCMODE == o::RDONLY {
                Err(Errno::EBADF)
            } else {
                Err(Errno::EOPNOTSUPP)
            };
        }
        let off = i64::try_from(off).map_err(|_| Errno::EFBIG)?;
        let len = i64::try_from(len).map_err(|_| Errno::EFBIG)?;
        let mode = nix::fcntl::FallocateFlags::from_bits_retain(mode as i32);
        nix::fcntl::fallocate(&self.inner.file, mode, off, len).map_err(errno_of)
    }

    fn statfs(&self) -> Result<[u8; 120], Errno> {
        let read_only = match self.inner.origin {
            Origin::Root => true,
            Origin::Volume { read_only } => read_only,
        };
        statfs_of(&self.inner.file, read_only)
    }

    fn mappable(&self) -> Option<Arc<dyn MappableFile>> {
        if self.is_dir() || self.is_stream() {
            None
        } else {
            Some(self.inner.clone())
        }
    }

    fn status_flags(&self) -> u32 {
        self.flags()
    }

    /// A volume file's host fd follows (for O_APPEND writes and O_NONBLOCK streams); the
    /// root's regular files and directories, read-only, keep the flags for `F_GETFL` alone
    /// (they never block and are never written). Deviation: stdio and the root's streams
    /// keep the flags they were opened with (their host fds may be shared with the host's
    /// processes).
    fn set_status_flags(&self, flags: u32) {
        const CHANGEABLE: u32 = o::APPEND | o::NONBLOCK;
        let cur = self.flags();
        let new = (cur & !CHANGEABLE) | (flags & CHANGEABLE);
        if !self.is_volume() {
            if cur & o::ACCMODE == o::RDONLY && !self.is_stream() {
                self.flags.store(new, Ordering::Relaxed);
            }
            return;
        }
        let host = OFlag::from_bits_truncate((new & CHANGEABLE) as i32);
        let set = nix::fcntl::fcntl(&self.inner.file, nix::fcntl::FcntlArg::F_SETFL(host));
        if set.is_ok() {
            self.flags.store(new, Ordering::Relaxed);
        }
    }

    fn path(&self) -> Vec<u8> {
        self.inner.path.clone()
    }

    /// Regular files and directories are always ready; for streams (a terminal, a host
    /// pipe) the host is asked. They have no wait queue: waiters re-check them in slices.
    fn poll(&self) -> u32 {
        if self.is_stream() {
            host_poll(&self.inner.file)
        } else {
            super::poll::IN | super::poll::OUT | super::poll::RDNORM | super::poll::WRNORM
        }
    }
}

/// The `poll` events that hold now for a host fd (asked with a zero timeout; `ERR` if the
/// host refuses).
fn host_poll(fd: &impl AsFd) -> u32 {
    use nix::poll::{PollFd, PollFlags, PollTimeout};
    let want = PollFlags::POLLIN | PollFlags::POLLPRI | PollFlags::POLLOUT;
    let mut fds = [PollFd::new(fd.as_fd(), want)];
    match nix::poll::poll(&mut fds, PollTimeout::ZERO) {
        Ok(_) => fds[0].revents().map_or(0, |r| u32::from(r.bits() as u16)),
        Err(_) => super::poll::ERR,
    }
}
