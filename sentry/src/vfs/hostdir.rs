//! A volume: a host directory bind-mounted into the guest (`--volume HOST:GUEST[:ro]`) whose
//! changes reach the host. Made for the mount table ([`super::mount`]): one [`HostDir`] per
//! `--volume` serves the guest paths under `GUEST`, with the same path-relative API as
//! [`super::tmpfs::Tmpfs`].
//!
//! Confinement: the directory is held as an `O_PATH` fd, and nothing outside it may be read,
//! created or changed, whatever the host does under us (the host may rename, or plant
//! symlinks, while the guest runs). Every host call resolves through that fd with
//! `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`, so `..` and absolute symlinks stop at
//! the volume's root:
//!
//! - what creates, removes or renames a name resolves the *parent* directory that way, then
//!   acts on the last name with the `*at` call relative to that parent fd (`mkdirat`,
//!   `unlinkat`, `renameat2`, `symlinkat`, `linkat`, `mknodat`), which never follows a
//!   symlink there; a last name of `.` or `..` never reaches the host (it would name the
//!   volume's own parent from its root);
//! - what reads or changes an existing file (`open`, `stat`, `readlink`, `chmod`, `chown`,
//!   `utimens`, `truncate`, `statfs`) resolves the *whole* path that way to an `O_PATH` fd
//!   (`O_NOFOLLOW` when the last symlink must not be followed; a followed one is followed
//!   inside the volume too), then acts on that fd: `fchownat(AT_EMPTY_PATH)`, `fstatat`,
//!   `readlinkat(fd, "")`, or the fd's `/proc/self/fd` link for the calls that have no
//!   fd form (`chmod`, `utimensat`, reopening for `truncate`): the kernel follows that link
//!   to exactly the object already found, never looking a name up again.
//!
//! The Sentry's path walk resolves symlinks before the last component itself (a guest
//! absolute symlink means the guest's `/`, not the volume's), so the in-root resolution only
//! matters when the host races the walk.
//!
//! A read-only volume answers every change (and an open for writing, `O_CREAT`, `O_TRUNC`,
//! `O_TMPFILE`) with `EROFS` in Linux's order: creating an existing name is `EEXIST` first
//! and a missing parent `ENOENT`, while `unlink`, `rmdir` and `rename` say `EROFS` as soon
//! as the parent is found (Linux takes write access to the mount before it looks the name
//! up). FIFOs and devices on it may still be opened for writing, as on Linux.
//!
//! Deviations from a Linux bind mount: errors are the host's; the Sentry's own umask also
//! applies on the host, so a new directory, FIFO or created file whose mode it would narrow
//! gets its mode set again with one more call; a `MAP_SHARED` mapping of a volume file is a
//! private copy (its stores don't reach the host file); opening or reading a host FIFO
//! blocks the task's host thread.

use std::ffi::OsStr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::fcntl::{AtFlags, OFlag, OpenHow, RenameFlags, ResolveFlag};
use nix::sys::stat::{Mode, SFlag};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, UnlinkatFlags};
use snare_abi::file::{o, Stat, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};
use snare_abi::Errno;

use super::host::{errno_of, stat_from_host, statfs_of, HostFile};
use super::host_fds::HostFdGuard;
use super::FileDescription;

/// `renameat2(2)` flags.
const RENAME_NOREPLACE: u32 = 1;
const RENAME_EXCHANGE: u32 = 2;

/// `utimensat(2)`'s special nanosecond values.
const UTIME_NOW: i64 = (1 << 30) - 1;
const UTIME_OMIT: i64 = (1 << 30) - 2;

/// Guest open flags passed on to the host (besides `O_PATH`'s own few).
const HOST_OPEN_FLAGS: u32 = o::ACCMODE
    | o::CREAT
    | o::EXCL
    | o::TRUNC
    | o::APPEND
    | o::NONBLOCK
    | o::DSYNC
    | o::SYNC
    | o::DIRECTORY
    | o::NOFOLLOW
    | o::TMPFILE;

/// A host directory mounted into the guest. See the module docs for the confinement rule.
#[derive(Debug)]
pub struct HostDir {
    /// The volume's root, `O_PATH`: every host path is resolved inside it.
    dir: OwnedFd,
    host_path: PathBuf,
    /// The guest path it is mounted at (`b"/data"`), for the paths of its open files.
    guest_prefix: Vec<u8>,
    read_only: bool,
    /// The Sentry's own umask (the host applies it to what we create).
    host_umask: u32,
}

/// A path relative to the volume split for a `*at` call: its parent directory (relative,
/// `""` for the root) and its last name, without the trailing slashes that `slash` records.
#[derive(Debug)]
struct Last<'a> {
    parent: &'a [u8],
    name: &'a [u8],
    slash: bool,
}

impl Last<'_> {
    /// `.` or `..`: a name the host must never be asked to change.
    fn is_dot(&self) -> bool {
        self.name == b"." || self.name == b".."
    }

    /// The last name for the `*at` call: with its trailing slash, which those calls honour
    /// without following a symlink there.
    fn at_name(&self) -> PathBuf {
        let mut n = self.name.to_vec();
        if self.slash {
            n.push(b'/');
        }
        PathBuf::from(std::ffi::OsString::from_vec(n))
    }

    /// The last name alone (no slash): one plain component, looked up without following.
    fn bare(&self) -> &Path {
        Path::new(OsStr::from_bytes(self.name))
    }
}

/// Splits `rel`; `None` for the volume's root itself.
fn split(rel: &[u8]) -> Option<Last<'_>> {
    let rel = trim_leading(rel);
    let end = rel.iter().rposition(|&b| b != b'/')? + 1;
    let slash = end < rel.len();
    let body = &rel[..end];
    let (parent, name) = match body.iter().rposition(|&b| b == b'/') {
        Some(i) => (&body[..i], &body[i + 1..]),
        None => (&b""[..], body),
    };
    Some(Last {
        parent,
        name,
        slash,
    })
}

fn trim_leading(rel: &[u8]) -> &[u8] {
    let start = rel.iter().position(|&b| b != b'/').unwrap_or(rel.len());
    &rel[start..]
}

/// `rel` as a path for `openat2` on the root fd (`.` for the root).
fn host_rel(rel: &[u8]) -> &Path {
    let rel = trim_leading(rel);
    if rel.is_empty() {
        Path::new(".")
    } else {
        Path::new(OsStr::from_bytes(rel))
    }
}

/// The `/proc/self/fd` link of one of our fds: the kernel follows it to that very object.
fn proc_link(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

fn fstat(fd: &OwnedFd) -> Result<nix::sys::stat::FileStat, Errno> {
    nix::sys::stat::fstatat(fd, "", AtFlags::AT_EMPTY_PATH).map_err(errno_of)
}

fn mode_of(perm: u32) -> Mode {
    Mode::from_bits_truncate(perm & 0o7777)
}

/// The Sentry's umask, read without changing it (`umask(2)` would, for every thread).
/// Unknown: every bit, so created modes are always set again.
fn read_host_umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o777)
}

impl HostDir {
    /// Opens host directory `host` as a volume mounted at guest path `guest_prefix`
    /// (absolute, e.g. `b"/data"`); `read_only` for `:ro`. `ENOTDIR` if `host` is not a
    /// directory, else the host's error.
    pub fn mounted(
        host: &Path,
        guest_prefix: &[u8],
        read_only: bool,
    ) -> Result<Arc<HostDir>, Errno> {
        let dir = nix::fcntl::open(
            host,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(errno_of)?;
        Ok(Arc::new(HostDir {
            dir,
            host_path: host.to_path_buf(),
            guest_prefix: guest_prefix.to_vec(),
            read_only,
            host_umask: read_host_umask(),
        }))
    }

    /// The host directory behind the volume.
    pub fn host_path(&self) -> &Path {
        &self.host_path
    }

    /// Whether the volume was mounted `:ro`.
    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// The resolution every lookup uses: inside the volume, no magic links.
    fn how(flags: OFlag) -> OpenHow {
        // openat2 refuses O_PATH with anything but O_DIRECTORY, O_NOFOLLOW, O_CLOEXEC.
        let noctty = if flags.contains(OFlag::O_PATH) {
            OFlag::empty()
        } else {
            OFlag::O_NOCTTY
        };
        OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC | noctty)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS)
    }

    /// An `O_PATH` fd for the whole of `rel`; the last symlink followed only when `follow`
    /// (inside the volume).
    fn lookup(&self, rel: &[u8], follow: bool) -> Result<OwnedFd, Errno> {
        let nofollow = if follow {
            OFlag::empty()
        } else {
            OFlag::O_NOFOLLOW
        };
        nix::fcntl::openat2(
            &self.dir,
            host_rel(rel),
            Self::how(OFlag::O_PATH | nofollow),
        )
        .map_err(errno_of)
    }

    /// The parent directory of a split path, as an `O_PATH` fd.
    fn parent(&self, last: &Last<'_>) -> Result<OwnedFd, Errno> {
        nix::fcntl::openat2(
            &self.dir,
            host_rel(last.parent),
            Self::how(OFlag::O_PATH | OFlag::O_DIRECTORY),
        )
        .map_err(errno_of)
    }

    /// Whether `name` (one plain component) exists in `parent`, not following a symlink.
    fn exists_in(parent: &OwnedFd, last: &Last<'_>) -> Result<bool, Errno> {
        match nix::sys::stat::fstatat(parent, last.bare(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(_) => Ok(true),
            Err(nix::Error::ENOENT) => Ok(false),
            Err(e) => Err(errno_of(e)),
        }
    }

    /// For a name to create on a read-only volume: `EEXIST` if it exists, `ENOENT` for a
    /// missing name with a trailing slash (`dir_ok`: mkdir allows one), else `EROFS`.
    fn refuse_create(parent: &OwnedFd, last: &Last<'_>, dir_ok: bool) -> Errno {
        match Self::exists_in(parent, last) {
            Ok(true) => Errno::EEXIST,
            Ok(false) if last.slash && !dir_ok => Errno::ENOENT,
            Ok(false) => Errno::EROFS,
            Err(e) => e,
        }
    }

    /// Sets the mode of what was just created as `name` in `parent` when the Sentry's umask
    /// narrowed `perm`.
    fn fix_mode(&self, parent: &OwnedFd, last: &Last<'_>, perm: u32) -> Result<(), Errno> {
        if perm & self.host_umask == 0 {
            return Ok(());
        }
        let fd = nix::fcntl::openat2(
            parent,
            last.bare(),
            Self::how(OFlag::O_PATH | OFlag::O_NOFOLLOW),
        )
        .map_err(errno_of)?;
        chmod_fd(&fd, perm)
    }

    /// The guest path of `rel`.
    fn guest_path(&self, rel: &[u8]) -> String {
        let mut p = self.guest_prefix.clone();
        let rel = trim_leading(rel);
        if !rel.is_empty() {
            if !p.ends_with(b"/") {
                p.push(b'/');
            }
            p.extend_from_slice(rel);
        }
        String::from_utf8_lossy(&p).into_owned()
    }

    /// `open(2)` of a path relative to the volume. Honours `O_CREAT` (with `mode & !umask`),
    /// `O_EXCL`, `O_TRUNC`, `O_APPEND`, `O_DIRECTORY`, `O_NOFOLLOW`, `O_PATH`, `O_TMPFILE`
    /// and `O_NONBLOCK` on the host; the result is a [`HostFile`] whose writes reach the
    /// host.
    pub fn open(
        &self,
        path: &[u8],
        flags: u32,
        mode: u32,
        umask: u32,
    ) -> Result<Arc<dyn FileDescription>, Errno> {
        let perm = mode & !umask & 0o7777;
        let path_only = flags & o::PATH != 0;
        let tmpfile = !path_only && flags & o::TMPFILE == o::TMPFILE;
        let mut flags = flags;
        if self.read_only && !path_only {
            flags = self.read_only_open(path, flags)?;
        }
        let budget = HostFdGuard::acquire()?;
        let fd = self.open_host(path, flags, perm)?;
        if self.read_only && !path_only && flags & o::ACCMODE != o::RDONLY {
            // The host may have put a regular file where the check above saw a FIFO.
            let t = fstat(&fd)?.st_mode & S_IFMT;
            if t == S_IFREG || t == S_IFDIR {
                return Err(Errno::EROFS);
            }
        }
        let name = if tmpfile {
            let ino = fstat(&fd)?.st_ino;
            format!("{}/#{ino} (deleted)", self.guest_path(path))
        } else {
            self.guest_path(path)
        };
        let file = HostFile::for_volume(fd, name, flags, self.read_only, budget);
        Ok(Arc::new(file))
    }

    /// Checks an open on a read-only volume in Linux's order and returns the flags left
    /// for the host (no `O_CREAT`, `O_EXCL`, `O_TRUNC`: nothing may be created or cut).
    fn read_only_open(&self, path: &[u8], flags: u32) -> Result<u32, Errno> {
        if flags & o::TMPFILE == o::TMPFILE {
            let dir = self.lookup(path, true)?;
            if fstat(&dir)?.st_mode & S_IFMT != S_IFDIR {
                return Err(Errno::ENOTDIR);
            }
            return Err(Errno::EROFS);
        }
        if flags & o::CREAT != 0 {
            let follow = flags & (o::NOFOLLOW | o::EXCL) == 0;
            match self.lookup(path, follow) {
                Err(Errno::ENOENT) => {
                    if let Some(last) = split(path) {
                        self.parent(&last)?;
                    }
                    return Err(Errno::EROFS);
                }
                Err(e) => return Err(e),
                Ok(_) if flags & o::EXCL != 0 => return Err(Errno::EEXIST),
                Ok(fd) if fstat(&fd)?.st_mode & S_IFMT == S_IFDIR => return Err(Errno::EISDIR),
                Ok(_) => {}
            }
        }
        if flags & (o::ACCMODE | o::TRUNC) != o::RDONLY {
            // Regular files and directories can't be written here; FIFOs and devices can.
            let st = fstat(&self.lookup(path, flags & o::NOFOLLOW == 0)?)?;
            match st.st_mode & S_IFMT {
                S_IFREG => return Err(Errno::EROFS),
                S_IFDIR => return Err(Errno::EISDIR),
                _ => {}
            }
        }
        Ok(flags & !(o::CREAT | o::EXCL | o::TRUNC))
    }

    /// The host `openat2` of an open; a file it creates gets `perm` even where the Sentry's
    /// umask would narrow it.
    fn open_host(&self, path: &[u8], flags: u32, perm: u32) -> Result<OwnedFd, Errno> {
        let rel = host_rel(path);
        if flags & o::PATH != 0 {
            let of = OFlag::O_PATH
                | OFlag::from_bits_truncate((flags & (o::DIRECTORY | o::NOFOLLOW)) as i32);
            return nix::fcntl::openat2(&self.dir, rel, Self::how(of)).map_err(errno_of);
        }
        let of = OFlag::from_bits_truncate((flags & HOST_OPEN_FLAGS) as i32);
        let tmpfile = flags & o::TMPFILE == o::TMPFILE;
        if flags & o::CREAT == 0 && !tmpfile {
            return nix::fcntl::openat2(&self.dir, rel, Self::how(of)).map_err(errno_of);
        }
        let how = |of: OFlag| Self::how(of).mode(mode_of(perm));
        if perm & self.host_umask == 0 {
            return nix::fcntl::openat2(&self.dir, rel, how(of)).map_err(errno_of);
        }
        if tmpfile {
            let fd = nix::fcntl::openat2(&self.dir, rel, how(of)).map_err(errno_of)?;
            nix::sys::stat::fchmod(&fd, mode_of(perm)).map_err(errno_of)?;
            return Ok(fd);
        }
        // Created by this call only if exclusive: then (and only then) its mode is ours to
        // set again.
        match nix::fcntl::openat2(&self.dir, rel, how(of | OFlag::O_EXCL)) {
            Ok(fd) => {
                nix::sys::stat::fchmod(&fd, mode_of(perm)).map_err(errno_of)?;
                Ok(fd)
            }
            Err(nix::Error::EEXIST) if flags & o::EXCL == 0 => {
                nix::fcntl::openat2(&self.dir, rel, how(of)).map_err(errno_of)
            }
            Err(e) => Err(errno_of(e)),
        }
    }

    /// `mknod(2)` of a FIFO (`mkfifo`) with `mode & !umask`.
    pub fn mkfifo(&self, path: &[u8], mode: u32, umask: u32) -> Result<(), Errno> {
        let last = split(path).ok_or(Errno::EEXIST)?;
        if last.is_dot() {
            return Err(Errno::EEXIST);
        }
        let parent = self.parent(&last)?;
        if self.read_only {
            return Err(Self::refuse_create(&parent, &last, false));
        }
        let perm = mode & !umask & 0o7777;
        nix::sys::stat::mknodat(&parent, &last.at_name(), SFlag::S_IFIFO, mode_of(perm), 0)
            .map_err(errno_of)?;
        self.fix_mode(&parent, &last, perm)
    }

    /// `stat(2)` (`follow`) or `lstat(2)`.
    pub fn stat(&self, path: &[u8], follow: bool) -> Result<Stat, Errno> {
        Ok(stat_from_host(&fstat(&self.lookup(path, follow)?)?))
    }

    /// `mkdir(2)` with `mode & !umask`.
    pub fn mkdir(&self, path: &[u8], mode: u32, umask: u32) -> Result<(), Errno> {
        let last = split(path).ok_or(Errno::EEXIST)?;
        if last.is_dot() {
            return Err(Errno::EEXIST);
        }
        let parent = self.parent(&last)?;
        if self.read_only {
            return Err(Self::refuse_create(&parent, &last, true));
        }
        let perm = mode & !umask & 0o7777;
        nix::sys::stat::mkdirat(&parent, &last.at_name(), mode_of(perm)).map_err(errno_of)?;
        self.fix_mode(&parent, &last, perm)
    }

    /// `rmdir(2)`.
    pub fn rmdir(&self, path: &[u8]) -> Result<(), Errno> {
        let last = split(path).ok_or(Errno::EBUSY)?;
        match last.name {
            b"." => return Err(Errno::EINVAL),
            b".." => return Err(Errno::ENOTEMPTY),
            _ => {}
        }
        let parent = self.parent(&last)?;
        if self.read_only {
            return Err(Errno::EROFS);
        }
        nix::unistd::unlinkat(&parent, &last.at_name(), UnlinkatFlags::RemoveDir).map_err(errno_of)
    }

    /// `unlink(2)`.
    pub fn unlink(&self, path: &[u8]) -> Result<(), Errno> {
        let last = split(path).ok_or(Errno::EISDIR)?;
        if last.is_dot() {
            return Err(Errno::EISDIR);
        }
        let parent = self.parent(&last)?;
        if self.read_only {
            return Err(Errno::EROFS);
        }
        nix::unistd::unlinkat(&parent, &last.at_name(), UnlinkatFlags::NoRemoveDir)
            .map_err(errno_of)
    }

    /// `renameat2(2)` with `RENAME_NOREPLACE` and `RENAME_EXCHANGE`.
    pub fn rename(&self, old: &[u8], new: &[u8], flags: u32) -> Result<(), Errno> {
        if flags & !(RENAME_NOREPLACE | RENAME_EXCHANGE) != 0
            || flags == RENAME_NOREPLACE | RENAME_EXCHANGE
        {
            return Err(Errno::EINVAL);
        }
        let (Some(o), Some(n)) = (split(old), split(new)) else {
            return Err(Errno::EBUSY);
        };
        if o.is_dot() || n.is_dot() {
            return Err(Errno::EBUSY);
        }
        let (op, np) = (self.parent(&o)?, self.parent(&n)?);
        if self.read_only {
            return Err(Errno::EROFS);
        }
        let rf = RenameFlags::from_bits_truncate(flags);
        nix::fcntl::renameat2(&op, &o.at_name(), &np, &n.at_name(), rf).map_err(errno_of)
    }

    /// `symlink(2)`: `path` becomes a link to `target` (kept as given: the guest's path
    /// walk reads it, the host never follows it for us).
    pub fn symlink(&self, target: &[u8], path: &[u8]) -> Result<(), Errno> {
        if target.is_empty() {
            return Err(Errno::ENOENT);
        }
        let last = split(path).ok_or(Errno::EEXIST)?;
        if last.is_dot() {
            return Err(Errno::EEXIST);
        }
        let parent = self.parent(&last)?;
        if self.read_only {
            return Err(Self::refuse_create(&parent, &last, false));
        }
        nix::unistd::symlinkat(OsStr::from_bytes(target), &parent, &last.at_name())
            .map_err(errno_of)
    }

    /// `link(2)`: a new name for the file at `old` (a symlink itself is linked, not followed).
    pub fn link(&self, old: &[u8], new: &[u8]) -> Result<(), Errno> {
        let src = split(old);
        // Old names that can only be directories (the root, `.`, `..`, a trailing slash):
        // looked up for their error, then EPERM after the new name's checks.
        let src = match src {
            Some(s) if !s.is_dot() && !s.slash => Some(s),
            _ => {
                self.lookup(old, true)?;
                None
            }
        };
        let src_parent = match &src {
            Some(s) => {
                let p = self.parent(s)?;
                if !Self::exists_in(&p, s)? {
                    return Err(Errno::ENOENT);
                }
                Some(p)
            }
            None => None,
        };
        let last = split(new).ok_or(Errno::EEXIST)?;
        if last.is_dot() {
            return Err(Errno::EEXIST);
        }
        let parent = self.parent(&last)?;
        let (Some(s), Some(sp)) = (src, src_parent) else {
            return Err(match Self::exists_in(&parent, &last)? {
                true => Errno::EEXIST,
                false => Errno::EPERM,
            });
        };
        if self.read_only {
            return Err(Self::refuse_create(&parent, &last, false));
        }
        nix::unistd::linkat(&sp, s.bare(), &parent, &last.at_name(), AtFlags::empty())
            .map_err(errno_of)
    }

    /// `readlink(2)`.
    pub fn readlink(&self, path: &[u8]) -> Result<Vec<u8>, Errno> {
        let fd = self.lookup(path, false)?;
        // With an empty path, readlinkat says ENOENT for what is not a symlink (the fd
        // itself exists): readlink(2) says EINVAL.
        let target = nix::fcntl::readlinkat(&fd, "").map_err(|e| match errno_of(e) {
            Errno::ENOENT => Errno::EINVAL,
            e => e,
        })?;
        Ok(target.into_vec())
    }

    /// `truncate(2)`.
    pub fn truncate(&self, path: &[u8], len: u64) -> Result<(), Errno> {
        let len = i64::try_from(len).map_err(|_| Errno::EINVAL)?;
        let fd = self.lookup(path, true)?;
        match fstat(&fd)?.st_mode & S_IFMT {
            S_IFDIR => return Err(Errno::EISDIR),
            S_IFREG => {}
            _ => return Err(Errno::EINVAL),
        }
        if self.read_only {
            return Err(Errno::EROFS);
        }
        // Reopened through its own fd: the object found, checked for write permission as
        // truncate(2) checks it.
        let file = nix::fcntl::open(
            &proc_link(&fd),
            OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOCTTY | OFlag::O_NONBLOCK,
            Mode::empty(),
        )
        .map_err(errno_of)?;
        nix::unistd::ftruncate(&file, len).map_err(errno_of)
    }

    /// `chmod(2)`, or `fchmodat(AT_SYMLINK_NOFOLLOW)` when `!follow` (`EOPNOTSUPP` on a
    /// symlink, as Linux).
    pub fn chmod(&self, path: &[u8], mode: u32, follow: bool) -> Result<(), Errno> {
        let fd = self.lookup(path, follow)?;
        if self.read_only {
            return Err(Errno::EROFS);
        }
        if fstat(&fd)?.st_mode & S_IFMT == S_IFLNK {
            return Err(Errno::EOPNOTSUPP);
        }
        chmod_fd(&fd, mode)
    }

    /// `utimensat(2)`: `None` (or a `UTIME_NOW` nanosecond field) sets the current time,
    /// `UTIME_OMIT` leaves the time alone.
    pub fn utimens(
        &self,
        path: &[u8],
        atime: Option<(i64, i64)>,
        mtime: Option<(i64, i64)>,
        follow: bool,
    ) -> Result<(), Errno> {
        for (_, ns) in [atime, mtime].into_iter().flatten() {
            if ns != UTIME_NOW && ns != UTIME_OMIT && !(0..1_000_000_000).contains(&ns) {
                return Err(Errno::EINVAL);
            }
        }
        let ts = |t: Option<(i64, i64)>| {
            let (s, ns) = t.unwrap_or((0, UTIME_NOW));
            TimeSpec::new(s, ns)
        };
        let (at, mt) = (ts(atime), ts(mtime));
        let fd = self.lookup(path, follow)?;
        if self.read_only {
            return Err(Errno::EROFS);
        }
        if fstat(&fd)?.st_mode & S_IFMT != S_IFLNK {
            return nix::sys::stat::utimensat(
                nix::fcntl::AT_FDCWD,
                &proc_link(&fd),
                &at,
                &mt,
                nix::sys::stat::UtimensatFlags::FollowSymlink,
            )
            .map_err(errno_of);
        }
        // The symlink itself (not followed): there is no magic link for it, so by its name
        // in its confined parent, without following.
        let last = split(path).ok_or(Errno::ENOENT)?;
        let parent = self.parent(&last)?;
        nix::sys::stat::utimensat(
            &parent,
            last.bare(),
            &at,
            &mt,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .map_err(errno_of)
    }

    /// Sets the owner (`chown(2)`; `u32::MAX` leaves a field alone), or `lchown(2)` when
    /// `!follow`. The host decides what it allows (and clears set-uid bits as it does).
    pub fn chown(&self, path: &[u8], uid: u32, gid: u32, follow: bool) -> Result<(), Errno> {
        let fd = self.lookup(path, follow)?;
        if self.read_only {
            return Err(Errno::EROFS);
        }
        let uid = (uid != u32::MAX).then(|| Uid::from_raw(uid));
        let gid = (gid != u32::MAX).then(|| Gid::from_raw(gid));
        nix::unistd::fchownat(&fd, "", uid, gid, AtFlags::AT_EMPTY_PATH).map_err(errno_of)
    }

    /// `statfs(2)` of the filesystem holding `path`, as the kernel's `struct statfs`
    /// (`ST_RDONLY` on a read-only volume).
    pub fn statfs(&self, path: &[u8]) -> Result<[u8; 120], Errno> {
        statfs_of(&self.lookup(path, true)?, self.read_only)
    }
}

/// `chmod` of the object an `O_PATH` fd refers to (through its `/proc/self/fd` link: the
/// kernel has no `fchmod` for `O_PATH` fds before `fchmodat2`).
fn chmod_fd(fd: &OwnedFd, mode: u32) -> Result<(), Errno> {
    nix::sys::stat::fchmodat(
        nix::fcntl::AT_FDCWD,
        &proc_link(fd),
        mode_of(mode),
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )
    .map_err(errno_of)
}

