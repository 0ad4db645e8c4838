//! A volume: a host directory bind-mounted into the guest (`--volume HOST:GUEST[:ro]`) whose
//! changes reach the host. Made for the mount table ([`super::mount`]): one [`HostDir`] per
//! `--volume` serves the guest paths under `GUEST`, with the same path-relative API as
//! [`super::tmpfs::Tmpfs`]. A root written through (an OCI container's, `snare do
//! --write-root`; `kernel::mounts::RootWrites`) is one too, mounted at `/`.
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
//! Extended attributes pass through to the host file (an `O_PATH` fd found as above, then
//! the `*xattr` call on its `/proc/self/fd` link), `user.` ones only: the host's `trusted.`
//! and `security.` attributes are neither shown nor set (see [`super::xattr`]).
//!
//! A unix socket bound here gets a host socket node (`mknodat(S_IFSOCK)`, no privilege
//! needed); the guest's socket is found by the node's identity. Device nodes are not made
//! (`EPERM` above this layer).
//!
//! Deviations from a Linux bind mount: errors are the host's; the Sentry's own umask also
//! applies on the host, so a new directory, FIFO or created file whose mode it would narrow
//! gets its mode set again with one more call; a `MAP_SHARED` mapping of a volume file is a
//! private copy (its stores don't reach the host file); opening or reading a host FIFO
//! blocks the task's host thread.

use std::ffi::{CString, OsStr};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::fcntl::{AtFlags, OFlag, OpenHow, RenameFlags, ResolveFlag};
use nix::sys::stat::{Mode, SFlag};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, UnlinkatFlags};
use snare_abi::file::{
    o, Stat, RENAME_EXCHANGE, RENAME_NOREPLACE, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, UTIME_NOW,
    UTIME_OMIT,
};
use snare_abi::Errno;

use super::filesystem::{rel as fs_rel, Caller, Filesystem};
use super::host::{errno_of, stat_from_host, statfs_of, HostFile};
use super::host_fds::HostFdGuard;
use super::xattr::{host_get, host_list, host_remove, host_set};
use super::FileDescription;

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
    /// The owner what the guest creates is given, when it isn't the Sentry's own host ids:
    /// a confined Sentry started by root runs as `nobody`, and the guest's files are its
    /// (root's), as before the Sentry dropped its ids (`isolate::drop_identity`).
    owner: Option<(u32, u32)>,
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

/// The `self/fd/N` link of one of our fds in the held `/proc`, for the `*at` calls: the
/// kernel follows it to that very object.
pub(super) fn proc_link(fd: &OwnedFd) -> Result<(BorrowedFd<'static>, CString), Errno> {
    snare_platform::host_proc::fd_link(fd.as_raw_fd())
}

fn fstat(fd: &OwnedFd) -> Result<nix::sys::stat::FileStat, Errno> {
    nix::sys::stat::fstatat(fd, "", AtFlags::AT_EMPTY_PATH).map_err(errno_of)
}

pub(super) fn mode_of(perm: u32) -> Mode {
    Mode::from_bits_truncate(perm & 0o7777)
}

/// The Sentry's umask, read without changing it (`umask(2)` would, for every thread).
/// Unknown: every bit, so created modes are always set again.
fn read_host_umask() -> u32 {
    snare_platform::host_proc::read_to_string("self/status")
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
        let dir = HostDir::hold_host(host, read_only, false)?;
        let me = (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        );
        Ok(HostDir::with_dir(dir, host, guest_prefix, read_only, me))
    }

    /// The fd a volume of host directory `host` is held by: see [`HostDir::hold`].
    pub fn hold_host(host: &Path, read_only: bool, isolated: bool) -> Result<OwnedFd, Errno> {
        let dir = nix::fcntl::open(
            host,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(errno_of)?;
        HostDir::hold(dir, host, read_only, isolated)
    }

    /// An `O_PATH` fd of a volume's source `host` (a symlink followed, as `mount(2)` follows
    /// a bind's source) and its file type (`S_IFDIR`, `S_IFREG`, …).
    pub fn open_source(host: &Path) -> Result<(OwnedFd, u32), Errno> {
        let at = nix::fcntl::open(host, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(errno_of)?;
        let kind = fstat(&at)?.st_mode & S_IFMT;
        Ok((at, kind))
    }

    /// The fd a volume (a directory, or a single file: [`super::hostfile::BoundFile`]) is
    /// held by, from `at`, an `O_PATH` fd of the host object at `host`. `isolated` (the
    /// Sentry in its own namespaces, about to lose the host's paths): a detached copy of
    /// the host's mounts there (`mount_tree::tree_at`: `..` stays inside, no devices,
    /// read-only if `read_only`), or an error. Otherwise `at` itself, or the read-only copy
    /// for `read_only` where the privilege for it is there (else the Sentry's checks alone).
    pub fn hold(
        at: OwnedFd,
        host: &Path,
        read_only: bool,
        isolated: bool,
    ) -> Result<OwnedFd, Errno> {
        if isolated {
            return snare_platform::mount_tree::tree_at(&at, read_only);
        }
        if read_only {
            match snare_platform::mount_tree::tree_at(&at, true) {
                Ok(tree) => return Ok(tree),
                Err(e) => tracing::info!(error = ?e, "volume {} held writable", host.display()),
            }
        }
        Ok(at)
    }

    /// A volume held by `dir` (from [`HostDir::hold_host`]); what the guest creates in it
    /// is owned by `owner` (uid, gid).
    pub fn with_dir(
        dir: OwnedFd,
        host: &Path,
        guest_prefix: &[u8],
        read_only: bool,
        owner: (u32, u32),
    ) -> Arc<HostDir> {
        let me = (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        );
        Arc::new(HostDir {
            owner: (owner != me).then_some(owner),
            dir,
            host_path: host.to_path_buf(),
            guest_prefix: guest_prefix.to_vec(),
            read_only,
            host_umask: read_host_umask(),
        })
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

    /// The fast path's lookup (`stat`, a read-only `open`): `rel` resolved by the host in one
    /// call, inside the volume, with **no** symlink anywhere on it: a symlink is `ELOOP`
    /// (`None`: the resolver walks the path name by name instead, as the overlay's fast path
    /// does). An `O_PATH | O_NOFOLLOW` open of a last symlink gives the link itself.
    fn plain_open(&self, rel: &[u8], flags: OFlag) -> Option<Result<OwnedFd, Errno>> {
        let how = Self::how(flags).resolve(
            ResolveFlag::RESOLVE_IN_ROOT
                | ResolveFlag::RESOLVE_NO_MAGICLINKS
                | ResolveFlag::RESOLVE_NO_SYMLINKS,
        );
        match nix::fcntl::openat2(&self.dir, host_rel(rel), how) {
            Err(nix::Error::ELOOP) => None,
            r => Some(r.map_err(errno_of)),
        }
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
        if perm & self.host_umask == 0 && self.owner.is_none() {
            return Ok(());
        }
        let fd = nix::fcntl::openat2(
            parent,
            last.bare(),
            Self::how(OFlag::O_PATH | OFlag::O_NOFOLLOW),
        )
        .map_err(errno_of)?;
        self.fix_new(&fd, perm)
    }

    /// What the host made of a file the guest just created, set right: its owner (see
    /// `owner`; first, since a change of owner can clear set-id bits) and its mode (the
    /// host's umask took bits the guest's mode keeps).
    fn fix_new(&self, fd: &OwnedFd, perm: u32) -> Result<(), Errno> {
        if let Some((uid, gid)) = self.owner {
            let (uid, gid) = (Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)));
            nix::unistd::fchownat(fd, "", uid, gid, AtFlags::AT_EMPTY_PATH).map_err(errno_of)?;
        }
        if perm & self.host_umask != 0 {
            chmod_fd(fd, perm)?;
        }
        Ok(())
    }

    /// The guest path of `rel`.
    fn guest_path(&self, rel: &[u8]) -> Vec<u8> {
        let mut p = self.guest_prefix.clone();
        let rel = trim_leading(rel);
        if !rel.is_empty() {
            if !p.ends_with(b"/") {
                p.push(b'/');
            }
            p.extend_from_slice(rel);
        }
        p
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
            let mut p = self.guest_path(path);
            p.extend_from_slice(format!("/#{ino} (deleted)").as_bytes());
            p
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
        if perm & self.host_umask == 0 && self.owner.is_none() {
            return nix::fcntl::openat2(&self.dir, rel, how(of)).map_err(errno_of);
        }
        if tmpfile {
            let fd = nix::fcntl::openat2(&self.dir, rel, how(of)).map_err(errno_of)?;
            self.fix_new(&fd, perm)?;
            return Ok(fd);
        }
        // Created by this call only if exclusive: then (and only then) its mode and owner
        // are ours to set again.
        match nix::fcntl::openat2(&self.dir, rel, how(of | OFlag::O_EXCL)) {
            Ok(fd) => {
                self.fix_new(&fd, perm)?;
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
        self.mknod(path, SFlag::S_IFIFO, mode, umask)
    }

    /// The node of an AF_UNIX socket bound at `path` (`bind(2)`), with `mode & !umask`: a
    /// host socket node (`mknod` makes one without privilege), as a socket bound there
    /// natively leaves, so the host sees it (`docker diff`, `ls`). The guest's socket is
    /// found by the node's identity (`net::unix::names`); a host process connecting to the
    /// node gets `ECONNREFUSED` (nothing listens on it on the host).
    pub fn mksock(&self, path: &[u8], mode: u32, umask: u32) -> Result<(), Errno> {
        self.mknod(path, SFlag::S_IFSOCK, mode, umask)
    }

    /// A FIFO or socket node.
    fn mknod(&self, path: &[u8], kind: SFlag, mode: u32, umask: u32) -> Result<(), Errno> {
        let last = split(path).ok_or(Errno::EEXIST)?;
        if last.is_dot() {
            return Err(Errno::EEXIST);
        }
        let parent = self.parent(&last)?;
        if self.read_only {
            return Err(Self::refuse_create(&parent, &last, false));
        }
        let perm = mode & !umask & 0o7777;
        nix::sys::stat::mknodat(&parent, &last.at_name(), kind, mode_of(perm), 0)
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
            .map_err(errno_of)?;
        if let Some((uid, gid)) = self.owner {
            let (uid, gid) = (Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)));
            let flags = AtFlags::AT_SYMLINK_NOFOLLOW;
            nix::unistd::fchownat(&parent, last.bare(), uid, gid, flags).map_err(errno_of)?;
        }
        Ok(())
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

    /// `linkat(2)` of an open file that has no name (`O_TMPFILE`) at `new`: the host links
    /// the very file held (its `/proc/self/fd` link, followed), or says why not: `EXDEV` for
    /// a file of another volume or filesystem, `ENOENT` for one opened `O_EXCL`.
    pub fn link_open(&self, file: &dyn FileDescription, new: &[u8]) -> Result<(), Errno> {
        let fd = file
            .as_any()
            .downcast_ref::<HostFile>()
            .and_then(HostFile::volume_fd)
            .ok_or(Errno::EXDEV)?;
        let last = split(new).ok_or(Errno::EEXIST)?;
        if last.is_dot() {
            return Err(Errno::EEXIST);
        }
        let parent = self.parent(&last)?;
        if self.read_only {
            return Err(Self::refuse_create(&parent, &last, false));
        }
        let (proc, link) = snare_platform::host_proc::fd_link(fd)?;
        nix::unistd::linkat(
            proc,
            link.as_c_str(),
            &parent,
            &last.at_name(),
            AtFlags::AT_SYMLINK_FOLLOW,
        )
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
        let (proc, link) = proc_link(&fd)?;
        let file = nix::fcntl::openat(
            proc,
            link.as_c_str(),
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
            let (proc, link) = proc_link(&fd)?;
            return nix::sys::stat::utimensat(
                proc,
                link.as_c_str(),
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

    /// `getxattr(2)` of `path` (not followed): the host file's `user.` attribute `name`.
    pub fn getxattr(&self, path: &[u8], name: &[u8]) -> Result<Vec<u8>, Errno> {
        host_get(name, || self.lookup(path, false))
    }

    /// `listxattr(2)` of `path` (not followed): the host file's `user.` attribute names.
    pub fn listxattr(&self, path: &[u8]) -> Result<Vec<Vec<u8>>, Errno> {
        host_list(&self.lookup(path, false)?)
    }

    /// `setxattr(2)` of `path` (not followed), on the host (`user.` attributes only).
    pub fn setxattr(
        &self,
        path: &[u8],
        name: &[u8],
        value: &[u8],
        flags: u32,
    ) -> Result<(), Errno> {
        let fd = self.lookup(path, false)?;
        if self.read_only {
            return Err(Errno::EROFS);
        }
        host_set(&fd, name, value, flags)
    }

    /// `removexattr(2)` of `path` (not followed), on the host (`user.` attributes only).
    pub fn removexattr(&self, path: &[u8], name: &[u8]) -> Result<(), Errno> {
        let fd = self.lookup(path, false)?;
        if self.read_only {
            return Err(Errno::EROFS);
        }
        host_remove(&fd, name)
    }

    /// `statfs(2)` of the filesystem holding `path`, as the kernel's `struct statfs`
    /// (`ST_RDONLY` on a read-only volume).
    pub fn statfs(&self, path: &[u8]) -> Result<[u8; 120], Errno> {
        statfs_of(&self.lookup(path, true)?, self.read_only)
    }
}

/// `chmod` of the object an `O_PATH` fd refers to (through its `/proc/self/fd` link: the
/// kernel has no `fchmod` for `O_PATH` fds before `fchmodat2`).
pub(super) fn chmod_fd(fd: &OwnedFd, mode: u32) -> Result<(), Errno> {
    let (proc, link) = proc_link(fd)?;
    nix::sys::stat::fchmodat(
        proc,
        link.as_c_str(),
        mode_of(mode),
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )
    .map_err(errno_of)
}

/// The volume as a mounted filesystem (paths from its root, see [`super::filesystem`]).
impl Filesystem for HostDir {
    fn fstype(&self) -> &'static str {
        "bind"
    }

    fn dev(&self) -> u64 {
        HostDir::stat(self, b"", false).map_or(0, |s| s.st_dev)
    }

    fn stat(&self, _cx: &dyn Caller, path: &[u8], _follow: bool) -> Result<Stat, Errno> {
        HostDir::stat(self, fs_rel(path), false)
    }

    fn readlink(&self, _cx: &dyn Caller, path: &[u8]) -> Result<Vec<u8>, Errno> {
        HostDir::readlink(self, fs_rel(path))
    }

    fn open(
        &self,
        cx: &dyn Caller,
        path: &[u8],
        _guest: &[u8],
        flags: u32,
        mode: u32,
    ) -> Result<Arc<dyn FileDescription>, Errno> {
        HostDir::open(self, fs_rel(path), flags, mode, cx.umask())
    }

    fn statfs(&self, _cx: &dyn Caller, path: &[u8]) -> Result<[u8; 120], Errno> {
        HostDir::statfs(self, fs_rel(path))
    }

    fn mkdir(&self, cx: &dyn Caller, path: &[u8], mode: u32) -> Result<(), Errno> {
        HostDir::mkdir(self, fs_rel(path), mode, cx.umask())
    }

    fn mkfifo(&self, cx: &dyn Caller, path: &[u8], mode: u32) -> Result<(), Errno> {
        HostDir::mkfifo(self, fs_rel(path), mode, cx.umask())
    }

    fn mksock(&self, cx: &dyn Caller, path: &[u8], mode: u32) -> Result<(), Errno> {
        HostDir::mksock(self, fs_rel(path), mode, cx.umask())
    }

    /// One host call for a path without symlinks (see [`HostDir::plain_open`]): a root
    /// written through is walked this way as the overlay's untouched lower layer is.
    fn fast_stat(&self, path: &[u8], follow: bool) -> Option<Result<Stat, Errno>> {
        let fd = match self.plain_open(fs_rel(path), OFlag::O_PATH | OFlag::O_NOFOLLOW)? {
            Ok(fd) => fd,
            Err(e) => return Some(Err(e)),
        };
        let st = match fstat(&fd) {
            Ok(st) => stat_from_host(&st),
            Err(e) => return Some(Err(e)),
        };
        if follow && st.st_mode & S_IFMT == S_IFLNK {
            return None;
        }
        Some(Ok(st))
    }

    /// A read-only open (no `O_CREAT`, no `O_TRUNC`: the caller's rule) of a path without
    /// symlinks, in one host call; `O_PATH` and `O_TMPFILE` take the walk.
    fn fast_open(
        &self,
        path: &[u8],
        flags: u32,
    ) -> Option<Result<Arc<dyn FileDescription>, Errno>> {
        let tmpfile = flags & o::TMPFILE == o::TMPFILE;
        if tmpfile || flags & (o::PATH | o::CREAT | o::TRUNC | o::ACCMODE) != 0 {
            return None;
        }
        let rel = fs_rel(path);
        let budget = match HostFdGuard::acquire() {
            Ok(b) => b,
            Err(e) => return Some(Err(e)),
        };
        let host = OFlag::from_bits_truncate((flags & HOST_OPEN_FLAGS) as i32);
        let fd = match self.plain_open(rel, host)? {
            Ok(fd) => fd,
            Err(e) => return Some(Err(e)),
        };
        let name = self.guest_path(rel);
        let file = HostFile::for_volume(fd, name, flags, self.read_only, budget);
        Some(Ok(Arc::new(file)))
    }

    fn rmdir(&self, path: &[u8]) -> Result<(), Errno> {
        HostDir::rmdir(self, fs_rel(path))
    }

    fn unlink(&self, path: &[u8]) -> Result<(), Errno> {
        HostDir::unlink(self, fs_rel(path))
    }

    fn rename(&self, old: &[u8], new: &[u8], flags: u32) -> Result<(), Errno> {
        HostDir::rename(self, fs_rel(old), fs_rel(new), flags)
    }

    fn symlink(&self, target: &[u8], path: &[u8]) -> Result<(), Errno> {
        HostDir::symlink(self, target, fs_rel(path))
    }

    fn link(&self, old: &[u8], new: &[u8]) -> Result<(), Errno> {
        HostDir::link(self, fs_rel(old), fs_rel(new))
    }

    fn link_file(&self, file: &dyn FileDescription, new: &[u8]) -> Result<(), Errno> {
        HostDir::link_open(self, file, fs_rel(new))
    }

    fn truncate(&self, path: &[u8], len: u64) -> Result<(), Errno> {
        HostDir::truncate(self, fs_rel(path), len)
    }

    fn chmod(&self, path: &[u8], mode: u32) -> Result<(), Errno> {
        HostDir::chmod(self, fs_rel(path), mode, false)
    }

    fn chown(&self, path: &[u8], uid: u32, gid: u32) -> Result<(), Errno> {
        HostDir::chown(self, fs_rel(path), uid, gid, false)
    }

    fn utimens(
        &self,
        path: &[u8],
        atime: Option<(i64, i64)>,
        mtime: Option<(i64, i64)>,
    ) -> Result<(), Errno> {
        HostDir::utimens(self, fs_rel(path), atime, mtime, false)
    }

    fn getxattr(&self, _cx: &dyn Caller, path: &[u8], name: &[u8]) -> Result<Vec<u8>, Errno> {
        HostDir::getxattr(self, fs_rel(path), name)
    }

    fn listxattr(&self, _cx: &dyn Caller, path: &[u8]) -> Result<Vec<Vec<u8>>, Errno> {
        HostDir::listxattr(self, fs_rel(path))
    }

    fn setxattr(&self, path: &[u8], name: &[u8], value: &[u8], flags: u32) -> Result<(), Errno> {
        HostDir::setxattr(self, fs_rel(path), name, value, flags)
    }

    fn removexattr(&self, path: &[u8], name: &[u8]) -> Result<(), Errno> {
        HostDir::removexattr(self, fs_rel(path), name)
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    use snare_abi::file::{o, S_IFDIR, S_IFLNK, S_IFMT};
    use snare_abi::Errno;

    use super::HostDir;
    use crate::vfs::{FileDescription, SEEK_SET};

    /// `base/vol` (the volume) next to `base/outside` (holding `secret`), under the host's
    /// temp dir; removed when dropped.
    struct Scratch {
        base: PathBuf,
    }

    impl Scratch {
        fn new(tag: &str) -> Scratch {
            static N: AtomicU32 = AtomicU32::new(0);
            let base = std::env::temp_dir().join(format!(
                "snare-hostdir-{}-{tag}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = fs::remove_dir_all(&base);
            fs::create_dir_all(base.join("vol")).expect("create dir all");
            fs::create_dir_all(base.join("outside")).expect("create dir all");
            fs::write(base.join("outside/secret"), b"keep out").expect("write");
            fs::set_permissions(
                base.join("outside/secret"),
                fs::Permissions::from_mode(0o640),
            )
            .expect("set permissions");
            Scratch { base }
        }

        fn vol(&self) -> PathBuf {
            self.base.join("vol")
        }

        fn outside(&self) -> PathBuf {
            self.base.join("outside")
        }

        fn mount(&self, read_only: bool) -> Arc<HostDir> {
            HostDir::mounted(&self.vol(), b"/data", read_only).expect("mounted")
        }

        /// What `outside` holds: (name, mode, size, mtime, contents) of each entry.
        fn outside_snapshot(&self) -> Vec<(String, u32, u64, i64, Vec<u8>)> {
            let mut v: Vec<_> = fs::read_dir(self.outside())
                .expect("read dir")
                .map(|e| {
                    let e = e.expect("dir entry");
                    let m = fs::symlink_metadata(e.path()).expect("symlink metadata");
                    let data = if m.is_file() {
                        fs::read(e.path()).expect("read")
                    } else {
                        vec![]
                    };
                    let name = e.file_name().to_string_lossy().into_owned();
                    (name, m.mode(), m.len(), m.mtime(), data)
                })
                .collect();
            v.sort();
            v
        }

        /// The names directly in `base` (the volume's host parent).
        fn base_names(&self) -> Vec<String> {
            let mut v: Vec<_> = fs::read_dir(&self.base)
                .expect("read dir")
                .map(|e| {
                    e.expect("dir entry")
                        .file_name()
                        .to_string_lossy()
                        .into_owned()
                })
                .collect();
            v.sort();
            v
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.base);
        }
    }

    fn names(f: &dyn FileDescription) -> Vec<Vec<u8>> {
        let mut buf = Vec::new();
        f.getdents(&mut buf, 1 << 16).expect("getdents");
        let mut out = Vec::new();
        let mut i = 0;
        while i < buf.len() {
            let reclen = u16::from_ne_bytes([buf[i + 16], buf[i + 17]]) as usize;
            let name = &buf[i + 19..i + reclen];
            let end = name
                .iter()
                .position(|&b| b == 0)
                .expect("NUL-terminated name");
            out.push(name[..end].to_vec());
            i += reclen;
        }
        out.sort();
        out
    }

    fn mode(p: &Path) -> u32 {
        fs::symlink_metadata(p).expect("symlink metadata").mode() & 0o7777
    }

    #[test]
    fn mounting_needs_a_directory() {
        let s = Scratch::new("mount");
        let file = s.outside().join("secret");
        assert_eq!(
            HostDir::mounted(&file, b"/data", false).expect_err("mounted must fail"),
            Errno::ENOTDIR
        );
        let missing = s.base.join("missing");
        assert_eq!(
            HostDir::mounted(&missing, b"/data", false).expect_err("mounted must fail"),
            Errno::ENOENT
        );
        let v = s.mount(true);
        assert!(v.read_only());
        assert_eq!(v.host_path(), s.vol());
    }

    #[test]
    fn changes_land_on_the_host() {
        let s = Scratch::new("writes");
        let v = s.mount(false);
        let vol = s.vol();

        let f = v
            .open(b"f", o::CREAT | o::RDWR | o::EXCL, 0o644, 0o022)
            .expect("open");
        assert_eq!(f.path(), b"/data/f");
        assert_eq!(f.write(b"hello").expect("write"), 5);
        assert_eq!(f.pwrite(b"J", 0).expect("pwrite"), 1);
        assert_eq!(f.write(b"!").expect("write"), 1);
        assert_eq!(fs::read(vol.join("f")).expect("read"), b"Jello!");
        f.seek(0, SEEK_SET).expect("seek");
        let mut buf = [0u8; 16];
        assert_eq!(f.read(&mut buf).expect("read"), 6);
        assert_eq!(&buf[..6], b"Jello!");
        assert_eq!(f.stat().expect("stat").st_size, 6);
        f.truncate(5).expect("truncate");
        assert_eq!(fs::read(vol.join("f")).expect("read"), b"Jello");
        f.allocate(0, 0, 4096).expect("allocate");
        assert_eq!(fs::metadata(vol.join("f")).expect("metadata").len(), 4096);
        drop(f);

        // A read-only description can't write.
        let r = v.open(b"f", o::RDONLY, 0, 0).expect("open");
        assert_eq!(r.write(b"x").expect_err("write must fail"), Errno::EBADF);
        assert_eq!(
            r.pwrite(b"x", 0).expect_err("pwrite must fail"),
            Errno::EBADF
        );

        v.truncate(b"f", 2).expect("truncate");
        assert_eq!(fs::read(vol.join("f")).expect("read"), b"Je");
        v.chmod(b"f", 0o600, true).expect("chmod");
        assert_eq!(mode(&vol.join("f")), 0o600);
        v.utimens(b"f", Some((1_000_000, 5)), Some((2_000_000, 7)), true)
            .expect("utimens");
        let st = v.stat(b"f", true).expect("stat");
        assert_eq!(
            (st.st_atime, st.st_mtime, st.st_mtime_nsec),
            (1_000_000, 2_000_000, 7)
        );
        let me = nix::unistd::getuid().as_raw();
        v.chown(b"f", me, u32::MAX, true).expect("chown");

        v.mkdir(b"d", 0o755, 0o022).expect("mkdir");
        assert!(vol.join("d").is_dir());
        assert_eq!(
            v.mkdir(b"d", 0o755, 0).expect_err("mkdir must fail"),
            Errno::EEXIST
        );
        v.rename(b"f", b"d/g", 0).expect("rename");
        assert!(!vol.join("f").exists());
        assert_eq!(fs::read(vol.join("d/g")).expect("read"), b"Je");
        v.link(b"d/g", b"h").expect("link");
        assert_eq!(fs::metadata(vol.join("h")).expect("metadata").nlink(), 2);
        v.symlink(b"d/g", b"s").expect("symlink");
        assert_eq!(
            fs::read_link(vol.join("s")).expect("read link"),
            Path::new("d/g")
        );
        assert_eq!(v.readlink(b"s").expect("readlink"), b"d/g");
        assert_eq!(
            v.readlink(b"h").expect_err("readlink must fail"),
            Errno::EINVAL
        );
        assert_eq!(v.stat(b"s", false).expect("stat").st_mode & S_IFMT, S_IFLNK);
        assert_eq!(v.stat(b"s", true).expect("stat").st_size, 2);
        assert_eq!(
            v.chmod(b"s", 0o777, false).expect_err("chmod must fail"),
            Errno::EOPNOTSUPP
        );
        v.utimens(b"s", None, Some((3_000_000, 0)), false)
            .expect("utimens");
        let lst = fs::symlink_metadata(vol.join("s")).expect("symlink metadata");
        assert_eq!(lst.mtime(), 3_000_000);
        v.mkfifo(b"p", 0o600, 0).expect("mkfifo");
        assert!(std::os::unix::fs::FileTypeExt::is_fifo(
            &fs::metadata(vol.join("p")).expect("metadata").file_type()
        ));

        assert_eq!(
            v.rmdir(b"d").expect_err("rmdir must fail"),
            Errno::ENOTEMPTY
        );
        v.unlink(b"h").expect("unlink");
        v.unlink(b"d/g").expect("unlink");
        v.unlink(b"s").expect("unlink");
        v.unlink(b"p").expect("unlink");
        assert_eq!(v.unlink(b"d").expect_err("unlink must fail"), Errno::EISDIR);
        v.rmdir(b"d").expect("rmdir");
        assert_eq!(fs::read_dir(&vol).expect("read dir").count(), 0);
        assert_eq!(
            v.unlink(b"gone").expect_err("unlink must fail"),
            Errno::ENOENT
        );

        let sf = v.statfs(b"").expect("statfs");
        assert_eq!(
            i64::from_ne_bytes(sf[80..88].try_into().expect("f_flags")) & 1,
            0
        );
    }

    #[test]
    fn modes_are_the_guests_not_the_sentrys_umask() {
        let s = Scratch::new("umask");
        let v = s.mount(false);
        v.mkdir(b"d", 0o777, 0).expect("mkdir");
        assert_eq!(mode(&s.vol().join("d")), 0o777);
        v.mkdir(b"e", 0o777, 0o027).expect("mkdir");
        assert_eq!(mode(&s.vol().join("e")), 0o750);
        v.open(b"f", o::CREAT | o::WRONLY, 0o666, 0).expect("open");
        assert_eq!(mode(&s.vol().join("f")), 0o666);
        // An existing file keeps its mode.
        fs::set_permissions(s.vol().join("f"), fs::Permissions::from_mode(0o600))
            .expect("set permissions");
        v.open(b"f", o::CREAT | o::WRONLY, 0o666, 0).expect("open");
        assert_eq!(mode(&s.vol().join("f")), 0o600);
        v.mkfifo(b"p", 0o666, 0).expect("mkfifo");
        assert_eq!(mode(&s.vol().join("p")), 0o666);
    }

    #[test]
    fn append_writes_follow_the_end() {
        let s = Scratch::new("append");
        let v = s.mount(false);
        fs::write(s.vol().join("log"), b"one\n").expect("write");
        let f = v.open(b"log", o::WRONLY | o::APPEND, 0, 0).expect("open");
        // The host appends behind our back; our append still goes to the end.
        fs::OpenOptions::new()
            .append(true)
            .open(s.vol().join("log"))
            .and_then(|mut h| std::io::Write::write_all(&mut h, b"two\n"))
            .expect("host append");
        f.write(b"three\n").expect("write");
        assert_eq!(
            fs::read(s.vol().join("log")).expect("read"),
            b"one\ntwo\nthree\n"
        );
        assert_eq!(f.seek(0, crate::vfs::SEEK_CUR).expect("seek"), 14);
        // F_SETFL can take O_APPEND away: then writes go at the offset.
        f.set_status_flags(0);
        assert_eq!(f.status_flags() & o::APPEND, 0);
        f.seek(0, SEEK_SET).expect("seek");
        f.write(b"ONE").expect("write");
        assert_eq!(
            fs::read(s.vol().join("log")).expect("read"),
            b"ONE\ntwo\nthree\n"
        );
    }

    #[test]
    fn directories_list_and_rewind() {
        let s = Scratch::new("dirs");
        let v = s.mount(false);
        fs::write(s.vol().join("a"), b"").expect("write");
        let d = v.open(b"", o::RDONLY | o::DIRECTORY, 0, 0).expect("open");
        assert_eq!(d.path(), b"/data");
        assert_eq!(d.stat().expect("stat").st_mode & S_IFMT, S_IFDIR);
        assert_eq!(names(&*d), [&b"."[..], b"..", b"a"]);
        v.open(b"b", o::CREAT | o::WRONLY, 0o644, 0).expect("open");
        d.seek(0, SEEK_SET).expect("seek");
        assert_eq!(names(&*d), [&b"."[..], b"..", b"a", b"b"]);
        assert_eq!(d.write(b"x").expect_err("write must fail"), Errno::EBADF);
        assert_eq!(
            v.open(b"", o::WRONLY, 0, 0).expect_err("open must fail"),
            Errno::EISDIR
        );
        let t = v.open(b"", o::TMPFILE | o::RDWR, 0o600, 0).expect("open");
        assert!(t.path().starts_with(b"/data/#") && t.path().ends_with(b" (deleted)"));
        t.write(b"anon").expect("write");
    }

    #[test]
    fn rename_flags() {
        let s = Scratch::new("rename");
        let v = s.mount(false);
        fs::write(s.vol().join("a"), b"A").expect("write");
        fs::write(s.vol().join("b"), b"B").expect("write");
        assert_eq!(
            v.rename(b"a", b"b", 1).expect_err("rename must fail"),
            Errno::EEXIST
        );
        assert_eq!(
            v.rename(b"a", b"b", 3).expect_err("rename must fail"),
            Errno::EINVAL
        );
        assert_eq!(
            v.rename(b"a", b"b", 4).expect_err("rename must fail"),
            Errno::EINVAL
        );
        v.rename(b"a", b"b", 2).expect("rename");
        assert_eq!(fs::read(s.vol().join("a")).expect("read"), b"B");
        assert_eq!(fs::read(s.vol().join("b")).expect("read"), b"A");
        assert_eq!(
            v.rename(b"", b"c", 0).expect_err("rename must fail"),
            Errno::EBUSY
        );
        assert_eq!(
            v.rename(b"a", b"..", 0).expect_err("rename must fail"),
            Errno::EBUSY
        );
    }

    #[test]
    fn dotdot_stays_inside() {
        let s = Scratch::new("dotdot");
        let v = s.mount(false);
        let before = (s.outside_snapshot(), s.base_names(), mode(&s.base));

        // `..` stops at the volume's root: these land inside.
        v.mkdir(b"../../x", 0o755, 0).expect("mkdir");
        assert!(s.vol().join("x").is_dir());
        v.open(b"../y", o::CREAT | o::WRONLY, 0o644, 0)
            .expect("open");
        assert!(s.vol().join("y").is_file());
        v.symlink(b"/etc/passwd", b"x/../../z").expect("symlink");
        assert!(fs::symlink_metadata(s.vol().join("z")).is_ok());

        // The outside can't be named.
        for p in [
            &b"../outside/secret"[..],
            b"../../outside/secret",
            b"/../outside/secret",
        ] {
            assert_eq!(
                v.open(p, o::RDONLY, 0, 0).expect_err("open must fail"),
                Errno::ENOENT
            );
            assert_eq!(v.stat(p, true).expect_err("stat must fail"), Errno::ENOENT);
            assert_eq!(v.unlink(p).expect_err("unlink must fail"), Errno::ENOENT);
            assert_eq!(
                v.chmod(p, 0o777, true).expect_err("chmod must fail"),
                Errno::ENOENT
            );
            assert_eq!(
                v.truncate(p, 0).expect_err("truncate must fail"),
                Errno::ENOENT
            );
            assert_eq!(
                v.rename(p, b"stolen", 0).expect_err("rename must fail"),
                Errno::ENOENT
            );
            assert_eq!(
                v.link(p, b"stolen").expect_err("link must fail"),
                Errno::ENOENT
            );
        }
        // A last name of `.` or `..` never reaches the host (from the root it would name
        // the volume's parent).
        assert_eq!(
            v.mkdir(b"..", 0o755, 0).expect_err("mkdir must fail"),
            Errno::EEXIST
        );
        assert_eq!(
            v.mkfifo(b"..", 0o644, 0).expect_err("mkfifo must fail"),
            Errno::EEXIST
        );
        assert_eq!(
            v.symlink(b"t", b"..").expect_err("symlink must fail"),
            Errno::EEXIST
        );
        assert_eq!(
            v.unlink(b"..").expect_err("unlink must fail"),
            Errno::EISDIR
        );
        assert_eq!(
            v.rmdir(b"..").expect_err("rmdir must fail"),
            Errno::ENOTEMPTY
        );
        assert_eq!(v.rmdir(b".").expect_err("rmdir must fail"), Errno::EINVAL);
        assert_eq!(v.rmdir(b"").expect_err("rmdir must fail"), Errno::EBUSY);
        assert_eq!(
            v.rename(b"..", b"w", 0).expect_err("rename must fail"),
            Errno::EBUSY
        );
        assert_eq!(
            v.link(b"..", b"w").expect_err("link must fail"),
            Errno::EPERM
        );
        assert_eq!(
            v.link(b"y", b"..").expect_err("link must fail"),
            Errno::EEXIST
        );
        v.chmod(b"..", 0o700, true).expect("chmod");
        assert_eq!(mode(&s.vol()), 0o700);

        let after = (s.outside_snapshot(), s.base_names(), mode(&s.base));
        assert_eq!(after, before);
    }

    #[test]
    fn host_symlinks_stay_inside() {
        let s = Scratch::new("symlinks");
        let v = s.mount(false);
        let vol = s.vol();
        let secret = s.outside().join("secret");
        std::os::unix::fs::symlink("/", vol.join("escape")).expect("symlink");
        std::os::unix::fs::symlink("../..", vol.join("up")).expect("symlink");
        std::os::unix::fs::symlink(s.outside(), vol.join("abs")).expect("symlink");
        std::os::unix::fs::symlink("../outside", vol.join("rel")).expect("symlink");
        std::os::unix::fs::symlink(&secret, vol.join("lnk")).expect("symlink");
        std::os::unix::fs::symlink("../outside/secret", vol.join("rlnk")).expect("symlink");
        let before = (s.outside_snapshot(), s.base_names());

        // Through `escape -> /` and `up -> ../..`: the volume's own root.
        let probe = format!("snare-hostdir-probe-{}", std::process::id());
        let through = format!("escape/{probe}");
        v.open(through.as_bytes(), o::CREAT | o::WRONLY, 0o644, 0)
            .expect("open");
        assert!(vol.join(&probe).is_file());
        assert!(!Path::new("/").join(&probe).exists());
        v.rename(through.as_bytes(), b"created", 0).expect("rename");
        assert!(vol.join("created").is_file());
        v.mkdir(b"up/made", 0o755, 0).expect("mkdir");
        assert!(vol.join("made").is_dir());
        let d = v
            .open(b"escape", o::RDONLY | o::DIRECTORY, 0, 0)
            .expect("open");
        assert!(names(&*d).contains(&b"lnk".to_vec()));

        // Planted parents pointing outside: nothing there is reachable.
        for dir in [&b"abs"[..], b"rel"] {
            let p = |n: &str| [dir, b"/", n.as_bytes()].concat();
            let e = Errno::ENOENT;
            assert_eq!(
                v.open(&p("secret"), o::RDONLY, 0, 0)
                    .expect_err("open must fail"),
                e
            );
            let creat = o::CREAT | o::WRONLY;
            assert_eq!(
                v.open(&p("new"), creat, 0o644, 0)
                    .expect_err("open must fail"),
                e
            );
            assert_eq!(v.stat(&p("secret"), false).expect_err("stat must fail"), e);
            assert_eq!(v.readlink(&p("secret")).expect_err("readlink must fail"), e);
            assert_eq!(
                v.mkdir(&p("evil"), 0o755, 0).expect_err("mkdir must fail"),
                e
            );
            assert_eq!(
                v.mkfifo(&p("fifo"), 0o644, 0)
                    .expect_err("mkfifo must fail"),
                e
            );
            assert_eq!(
                v.symlink(b"x", &p("sym")).expect_err("symlink must fail"),
                e
            );
            assert_eq!(v.unlink(&p("secret")).expect_err("unlink must fail"), e);
            assert_eq!(v.rmdir(&p("sub")).expect_err("rmdir must fail"), e);
            assert_eq!(
                v.rename(&p("secret"), b"stolen", 0)
                    .expect_err("rename must fail"),
                e
            );
            assert_eq!(
                v.rename(b"created", &p("planted"), 0)
                    .expect_err("rename must fail"),
                e
            );
            assert_eq!(
                v.link(&p("secret"), b"stolen").expect_err("link must fail"),
                e
            );
            assert_eq!(
                v.link(b"created", &p("planted"))
                    .expect_err("link must fail"),
                e
            );
            assert_eq!(
                v.chmod(&p("secret"), 0o777, true)
                    .expect_err("chmod must fail"),
                e
            );
            assert_eq!(
                v.chown(&p("secret"), 0, 0, true)
                    .expect_err("chown must fail"),
                e
            );
            assert_eq!(
                v.truncate(&p("secret"), 0).expect_err("truncate must fail"),
                e
            );
            assert_eq!(
                v.utimens(&p("secret"), None, None, true)
                    .expect_err("utimens must fail"),
                e
            );
            assert_eq!(v.statfs(&p("secret")).expect_err("statfs must fail"), e);
        }

        // Last-component links to the outside file, followed: resolved inside (missing).
        for l in [&b"lnk"[..], b"rlnk", b"lnk/", b"rlnk/"] {
            let e = Errno::ENOENT;
            // O_CREAT with a trailing slash is EISDIR before anything is looked up.
            let creat_e = if l.ends_with(b"/") { Errno::EISDIR } else { e };
            assert_eq!(v.open(l, o::RDWR, 0, 0).expect_err("open must fail"), e);
            assert_eq!(
                v.open(l, o::WRONLY | o::CREAT, 0o644, 0)
                    .expect_err("open must fail"),
                creat_e
            );
            assert_eq!(
                v.open(l, o::RDONLY | o::TRUNC, 0, 0)
                    .expect_err("open must fail"),
                e
            );
            assert_eq!(v.chmod(l, 0o777, true).expect_err("chmod must fail"), e);
            assert_eq!(v.chown(l, 0, 0, true).expect_err("chown must fail"), e);
            assert_eq!(
                v.utimens(l, None, None, true)
                    .expect_err("utimens must fail"),
                e
            );
            assert_eq!(v.truncate(l, 0).expect_err("truncate must fail"), e);
            assert_eq!(v.stat(l, true).expect_err("stat must fail"), e);
        }
        // Not followed: the link itself, which is inside.
        assert_eq!(
            v.stat(b"lnk", false).expect("stat").st_mode & S_IFMT,
            S_IFLNK
        );
        assert_eq!(
            v.readlink(b"lnk").expect("readlink"),
            secret.as_os_str().as_encoded_bytes()
        );
        v.utimens(b"lnk", None, None, false).expect("utimens");
        v.chown(b"lnk", u32::MAX, u32::MAX, false).expect("chown");
        v.link(b"lnk", b"hard").expect("link");
        assert!(fs::symlink_metadata(vol.join("hard"))
            .expect("symlink metadata")
            .is_symlink());
        v.rename(b"lnk", b"moved", 0).expect("rename");
        v.unlink(b"moved").expect("unlink");
        v.unlink(b"hard").expect("unlink");
        // A trailing slash on a link to a directory outside changes nothing there.
        assert_eq!(
            v.rmdir(b"abs/").expect_err("rmdir must fail"),
            Errno::ENOTDIR
        );
        assert_eq!(
            v.unlink(b"abs/").expect_err("unlink must fail"),
            Errno::ENOTDIR
        );
        assert_eq!(
            v.mkdir(b"abs/", 0o755, 0).expect_err("mkdir must fail"),
            Errno::EEXIST
        );

        assert_eq!((s.outside_snapshot(), s.base_names()), before);
        assert_eq!(fs::read(&secret).expect("read"), b"keep out");
        assert_eq!(mode(&secret), 0o640);
    }

    #[test]
    fn xattrs_reach_the_host_user_ones_only() {
        use snare_platform::xattr;
        let s = Scratch::new("xattr");
        let vol = s.vol();
        fs::write(vol.join("f"), b"data").expect("write");
        std::os::unix::fs::symlink("../outside/secret", vol.join("s")).expect("symlink");
        let v = s.mount(false);
        match v.setxattr(b"f", b"user.k", b"v", 0) {
            // A host /tmp without user attributes (an old tmpfs): nothing to check here.
            Err(Errno::EOPNOTSUPP) => return,
            r => r.expect("setxattr"),
        }
        assert_eq!(xattr::get(&vol.join("f"), c"user.k"), Ok(b"v".to_vec()));
        assert_eq!(v.setxattr(b"f", b"user.k", b"w", 1), Err(Errno::EEXIST));
        assert_eq!(v.getxattr(b"f", b"user.k"), Ok(b"v".to_vec()));
        assert_eq!(v.listxattr(b"f"), Ok(vec![b"user.k".to_vec()]));
        // The host's other namespaces are neither set nor shown.
        assert_eq!(
            v.setxattr(b"f", b"trusted.t", b"v", 0),
            Err(Errno::EOPNOTSUPP)
        );
        assert_eq!(v.getxattr(b"f", b"trusted.t"), Err(Errno::ENODATA));
        assert_eq!(v.getxattr(b"f", b"foo.t"), Err(Errno::EOPNOTSUPP));
        if xattr::set(&vol.join("f"), c"trusted.host", b"h", 0).is_ok() {
            assert_eq!(v.listxattr(b"f"), Ok(vec![b"user.k".to_vec()]));
        }
        // The symlink itself, never what it points to outside the volume.
        assert_eq!(v.listxattr(b"s"), Ok(vec![]));
        assert_eq!(v.getxattr(b"s", b"user.k"), Err(Errno::ENODATA));
        assert_eq!(v.removexattr(b"f", b"user.k"), Ok(()));
        assert_eq!(v.removexattr(b"f", b"user.k"), Err(Errno::ENODATA));
        assert_eq!(v.getxattr(b"missing", b"user.k"), Err(Errno::ENOENT));
        assert_eq!(xattr::list(&s.outside().join("secret")), Ok(vec![]));
        // A read-only volume: EROFS (after the lookup).
        let ro = s.mount(true);
        assert_eq!(ro.setxattr(b"f", b"user.k", b"v", 0), Err(Errno::EROFS));
        assert_eq!(ro.removexattr(b"f", b"user.k"), Err(Errno::EROFS));
        assert_eq!(ro.setxattr(b"nope", b"user.k", b"v", 0), Err(Errno::ENOENT));
    }

    #[test]
    fn fast_path_takes_plain_paths_only() {
        let s = Scratch::new("fast");
        let v = s.mount(false);
        let vol = s.vol();
        fs::create_dir_all(vol.join("d/e")).expect("dirs");
        fs::write(vol.join("d/e/f"), b"data").expect("f");
        std::os::unix::fs::symlink("e", vol.join("d/l")).expect("l");
        std::os::unix::fs::symlink("../..", vol.join("d/up")).expect("up");
        let fs: &dyn crate::vfs::filesystem::Filesystem = &*v;
        let st = fs.fast_stat(b"/d/e/f", true).expect("plain").expect("stat");
        assert_eq!(st.st_size, 4);
        assert_eq!(
            fs.fast_stat(b"/d/e/nope", true).expect("plain"),
            Err(Errno::ENOENT)
        );
        // A symlink on the way, or a last one to follow: the walk's.
        assert!(fs.fast_stat(b"/d/l/f", true).is_none());
        assert!(fs.fast_stat(b"/d/up/outside", false).is_none());
        assert!(fs.fast_stat(b"/d/l", true).is_none());
        let link = fs.fast_stat(b"/d/l", false).expect("plain").expect("lstat");
        assert_eq!(link.st_mode & S_IFMT, S_IFLNK);
        let f = fs
            .fast_open(b"/d/e/f", o::RDONLY)
            .expect("plain")
            .expect("open");
        let mut buf = [0u8; 8];
        assert_eq!(f.read(&mut buf).expect("read"), 4);
        assert_eq!(f.path(), b"/data/d/e/f");
        let d = fs
            .fast_open(b"/d/e", o::RDONLY | o::DIRECTORY)
            .expect("plain");
        assert!(names(&*d.expect("open dir")).contains(&b"f".to_vec()));
        assert!(fs.fast_open(b"/d/l/f", o::RDONLY).is_none());
        for flags in [
            o::WRONLY,
            o::RDWR,
            o::RDONLY | o::TRUNC,
            o::CREAT,
            o::PATH,
            o::TMPFILE,
        ] {
            assert!(fs.fast_open(b"/d/e/f", flags).is_none(), "{flags:#o}");
        }
    }

    #[test]
    fn tmpfiles_link_in() {
        let s = Scratch::new("tmpfile");
        let v = s.mount(false);
        let f = v
            .open(b"", o::TMPFILE | o::RDWR, 0o640, 0o022)
            .expect("O_TMPFILE");
        assert_eq!(f.write(b"tmp").expect("write"), 3);
        v.link_open(&*f, b"linked").expect("link");
        assert_eq!(fs::read(s.vol().join("linked")).expect("read"), b"tmp");
        assert_eq!(mode(&s.vol().join("linked")), 0o640);
        assert_eq!(
            v.link_open(&*f, b"linked").expect_err("taken"),
            Errno::EEXIST
        );
        assert_eq!(
            v.link_open(&*f, b"no/x").expect_err("parent"),
            Errno::ENOENT
        );
        // Not a volume's file: another filesystem's.
        use nix::{fcntl::OFlag, sys::stat::Mode};
        let other = super::super::HostFile::from_host_fd(
            nix::fcntl::open("/", OFlag::O_PATH, Mode::empty()).expect("open /"),
            "/",
            o::PATH,
        );
        assert_eq!(
            v.link_open(&other, b"x").expect_err("foreign"),
            Errno::EXDEV
        );
        let ro = s.mount(true);
        assert_eq!(ro.link_open(&*f, b"y").expect_err("ro"), Errno::EROFS);
        assert_eq!(
            s.base_names(),
            ["outside", "vol"],
            "nothing made outside the volume"
        );
    }

    #[test]
    fn socket_nodes_land_on_the_host() {
        use std::os::unix::fs::FileTypeExt;
        let s = Scratch::new("sock");
        let v = s.mount(false);
        v.mkdir(b"d", 0o755, 0o022).expect("mkdir");
        v.mksock(b"d/s", 0o777, 0o022).expect("mksock");
        let m = fs::symlink_metadata(s.vol().join("d/s")).expect("socket node");
        assert!(m.file_type().is_socket());
        assert_eq!(m.mode() & 0o7777, 0o755);
        assert_eq!(v.stat(b"d/s", false).expect("stat").st_ino, m.ino());
        // A name taken, `.`, `..` and a missing parent, as mkfifo's.
        assert_eq!(
            v.mksock(b"d/s", 0o777, 0).expect_err("taken"),
            Errno::EEXIST
        );
        assert_eq!(v.mksock(b"d/..", 0o777, 0).expect_err(".."), Errno::EEXIST);
        assert_eq!(
            v.mksock(b"no/s", 0o777, 0).expect_err("no parent"),
            Errno::ENOENT
        );
        let ro = s.mount(true);
        assert_eq!(ro.mksock(b"d/t", 0o777, 0).expect_err("ro"), Errno::EROFS);
        assert!(!s.vol().join("d/t").exists());
        assert_eq!(
            s.base_names(),
            ["outside", "vol"],
            "nothing made outside the volume"
        );
    }

    #[test]
    fn read_only_volume_refuses_changes() {
        let s = Scratch::new("ro");
        let vol = s.vol();
        fs::write(vol.join("f"), b"data").expect("write");
        fs::create_dir(vol.join("d")).expect("create dir");
        std::os::unix::fs::symlink("f", vol.join("s")).expect("symlink");
        nix::unistd::mkfifo(
            &vol.join("p"),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .expect("mkfifo");
        let snapshot = |p: &Path| {
            let mut v: Vec<_> = fs::read_dir(p)
                .expect("read dir")
                .map(|e| {
                    let e = e.expect("dir entry");
                    let m = fs::symlink_metadata(e.path()).expect("symlink metadata");
                    (e.file_name(), m.mode(), m.len(), m.mtime(), m.nlink())
                })
                .collect();
            v.sort();
            v
        };
        let before = snapshot(&vol);
        let v = s.mount(true);
        let (rofs, exist, noent) = (Errno::EROFS, Errno::EEXIST, Errno::ENOENT);

        // Reading works.
        let f = v.open(b"f", o::RDONLY, 0, 0).expect("open");
        let mut buf = [0u8; 8];
        assert_eq!(f.read(&mut buf).expect("read"), 4);
        assert_eq!(f.write(b"x").expect_err("write must fail"), Errno::EBADF);
        assert_eq!(
            f.truncate(0).expect_err("truncate must fail"),
            Errno::EINVAL
        );
        let sf = v.statfs(b"f").expect("statfs");
        assert_eq!(
            i64::from_ne_bytes(sf[80..88].try_into().expect("f_flags")) & 1,
            1
        );
        assert_eq!(f.statfs().expect("statfs")[80], 1);
        v.open(b"f", o::RDONLY | o::CREAT, 0o644, 0).expect("open");
        assert_eq!(v.stat(b"s", true).expect("stat").st_size, 4);
        assert_eq!(v.readlink(b"s").expect("readlink"), b"f");

        // Opens that would write.
        assert_eq!(
            v.open(b"f", o::WRONLY, 0, 0).expect_err("open must fail"),
            rofs
        );
        assert_eq!(
            v.open(b"f", o::RDWR, 0, 0).expect_err("open must fail"),
            rofs
        );
        assert_eq!(
            v.open(b"s", o::RDWR, 0, 0).expect_err("open must fail"),
            rofs
        );
        assert_eq!(
            v.open(b"f", o::RDONLY | o::TRUNC, 0, 0)
                .expect_err("open must fail"),
            rofs
        );
        assert_eq!(
            v.open(b"new", o::CREAT | o::WRONLY, 0o644, 0)
                .expect_err("open must fail"),
            rofs
        );
        assert_eq!(
            v.open(b"new", o::CREAT, 0o644, 0)
                .expect_err("open must fail"),
            rofs
        );
        assert_eq!(
            v.open(b"no/new", o::CREAT, 0o644, 0)
                .expect_err("open must fail"),
            noent
        );
        assert_eq!(
            v.open(b"new", o::RDONLY, 0, 0).expect_err("open must fail"),
            noent
        );
        let excl = o::CREAT | o::EXCL | o::WRONLY;
        assert_eq!(
            v.open(b"f", excl, 0o644, 0).expect_err("open must fail"),
            exist
        );
        assert_eq!(
            v.open(b"d", o::CREAT, 0o644, 0)
                .expect_err("open must fail"),
            Errno::EISDIR
        );
        assert_eq!(
            v.open(b"d", o::WRONLY, 0, 0).expect_err("open must fail"),
            Errno::EISDIR
        );
        assert_eq!(
            v.open(b"d", o::TMPFILE | o::RDWR, 0o600, 0)
                .expect_err("open must fail"),
            rofs
        );
        assert_eq!(
            v.open(b"no", o::TMPFILE | o::RDWR, 0o600, 0)
                .expect_err("open must fail"),
            noent
        );
        // A FIFO may still be written (as on a read-only Linux mount).
        let r = v.open(b"p", o::RDONLY | o::NONBLOCK, 0, 0).expect("open");
        let w = v.open(b"p", o::WRONLY | o::NONBLOCK, 0, 0).expect("open");
        assert_eq!(w.write(b"hi").expect("write"), 2);
        assert_eq!(r.read(&mut buf).expect("read"), 2);

        // Creating: an existing name is EEXIST first, a missing parent ENOENT.
        assert_eq!(v.mkdir(b"d", 0o755, 0).expect_err("mkdir must fail"), exist);
        assert_eq!(v.mkdir(b"f", 0o755, 0).expect_err("mkdir must fail"), exist);
        assert_eq!(v.mkdir(b"n", 0o755, 0).expect_err("mkdir must fail"), rofs);
        assert_eq!(
            v.mkdir(b"n/m", 0o755, 0).expect_err("mkdir must fail"),
            noent
        );
        assert_eq!(
            v.mkfifo(b"f", 0o644, 0).expect_err("mkfifo must fail"),
            exist
        );
        assert_eq!(
            v.mkfifo(b"n", 0o644, 0).expect_err("mkfifo must fail"),
            rofs
        );
        assert_eq!(v.symlink(b"x", b"s").expect_err("symlink must fail"), exist);
        assert_eq!(v.symlink(b"x", b"n").expect_err("symlink must fail"), rofs);
        assert_eq!(v.link(b"f", b"s").expect_err("link must fail"), exist);
        assert_eq!(v.link(b"f", b"n").expect_err("link must fail"), rofs);
        assert_eq!(v.link(b"n", b"m").expect_err("link must fail"), noent);

        // Removing and renaming: EROFS once the parent is found (as Linux, which takes
        // write access to the mount before looking the name up).
        assert_eq!(v.unlink(b"f").expect_err("unlink must fail"), rofs);
        assert_eq!(v.unlink(b"n").expect_err("unlink must fail"), rofs);
        assert_eq!(v.unlink(b"n/m").expect_err("unlink must fail"), noent);
        assert_eq!(v.rmdir(b"d").expect_err("rmdir must fail"), rofs);
        assert_eq!(v.rmdir(b"n/m").expect_err("rmdir must fail"), noent);
        assert_eq!(v.rename(b"f", b"g", 0).expect_err("rename must fail"), rofs);
        assert_eq!(
            v.rename(b"f", b"n/g", 0).expect_err("rename must fail"),
            noent
        );

        // Changing an existing file: ENOENT for a missing one first.
        assert_eq!(v.truncate(b"f", 0).expect_err("truncate must fail"), rofs);
        assert_eq!(v.truncate(b"n", 0).expect_err("truncate must fail"), noent);
        assert_eq!(
            v.truncate(b"d", 0).expect_err("truncate must fail"),
            Errno::EISDIR
        );
        assert_eq!(
            v.chmod(b"f", 0o777, true).expect_err("chmod must fail"),
            rofs
        );
        assert_eq!(
            v.chmod(b"n", 0o777, true).expect_err("chmod must fail"),
            noent
        );
        assert_eq!(
            v.chown(b"f", 0, 0, true).expect_err("chown must fail"),
            rofs
        );
        assert_eq!(
            v.chown(b"n", 0, 0, true).expect_err("chown must fail"),
            noent
        );
        assert_eq!(
            v.utimens(b"f", None, None, true)
                .expect_err("utimens must fail"),
            rofs
        );
        assert_eq!(
            v.utimens(b"n", None, None, true)
                .expect_err("utimens must fail"),
            noent
        );

        assert_eq!(snapshot(&vol), before);
    }
}
