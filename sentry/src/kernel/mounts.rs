//! The sandbox's mounts: the layout `snare do` starts with, the user's `--tmpfs` and
//! `--volume` mounts on top, and new tmpfs instances (charged to the sandbox's memory).

use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use snare_abi::file::{S_IFDIR, S_IFMT};
use snare_abi::Errno;
use snare_platform::MemoryFile;

use crate::vfs::dev::Devfs;
use crate::vfs::filesystem::Caller;
use crate::vfs::hostdir::HostDir;
use crate::vfs::mount::{ms, Mount, MountTable};
use crate::vfs::overlay::Overlay;
use crate::vfs::procfs::{ProcessInfo, Procfs, SystemInfo};
use crate::vfs::pty::Devpts;
use crate::vfs::resolve::{components, Node, Resolver};
use crate::vfs::sysfs::Sysfs;
use crate::vfs::tmpfs::Tmpfs;
use crate::vfs::{FileDescription, HostRoot};

/// `st_dev` of /dev/shm (0:4005); later tmpfs mounts count up from 0:4016.
const SHM_DEV: u64 = 0x00f0_00a5;
static NEXT_TMPFS_DEV: AtomicU64 = AtomicU64::new(0x00f0_00b0);

/// A mount the user asks `snare do` for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserMount {
    /// `--volume HOST:GUEST[:ro]`: a host directory whose writes reach the host.
    Volume {
        host: PathBuf,
        guest: Vec<u8>,
        read_only: bool,
    },
    /// `--tmpfs PATH[:size=…,nr_inodes=…,mode=…]`.
    Tmpfs { guest: Vec<u8>, opts: TmpfsOpts },
    /// An OCI `maskedPaths` entry: a file there reads as `/dev/null` (bound over it), a
    /// directory as an empty read-only tmpfs; a path that doesn't exist is skipped, as runc.
    Masked { guest: Vec<u8> },
    /// An OCI `readonlyPaths` entry: what is there (and the mounts below it) bound onto
    /// itself read-only; a path that doesn't exist is skipped, as runc.
    ReadOnly { guest: Vec<u8> },
}

/// Where the guest's changes to its root file system go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RootWrites {
    /// To an in-memory upper layer over the host directory ([`Overlay`]): the host directory
    /// never changes, and the changes end with the sandbox (`snare do`'s default, and a
    /// container's with the annotation `dev.snare.root-overlay=memory`).
    #[default]
    Memory,
    /// To the host directory itself, mounted as a volume is ([`HostDir`]): what runc's
    /// containers do, so `docker cp`, `diff` and `commit` see them (a container's default;
    /// `snare do --write-root`).
    Host,
}

/// A volume's host object as [`open_volumes`] holds it.
#[derive(Debug)]
pub enum Held {
    Dir(OwnedFd),
    File(OwnedFd),
}

/// A tmpfs's mount options (`mount -t tmpfs -o …`, `--tmpfs`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TmpfsOpts {
    pub size: Option<u64>,
    pub nr_inodes: Option<u64>,
    pub mode: Option<u32>,
}

impl TmpfsOpts {
    /// Parses `size=64m,nr_inodes=1k,mode=1777` (sizes take k, m, g; `%` of the sandbox's
    /// memory is not supported). Unknown options that Linux's tmpfs knows (`uid=`, `gid=`,
    /// `huge=`, `mpol=`, `noswap`) are accepted and ignored; others are `EINVAL`.
    pub fn parse(s: &str) -> Result<TmpfsOpts, Errno> {
        let mut o = TmpfsOpts::default();
        for opt in s.split(',').filter(|o| !o.is_empty()) {
            let (k, v) = opt.split_once('=').unwrap_or((opt, ""));
            match k {
                "size" => o.size = Some(parse_size(v)?),
                "nr_inodes" => o.nr_inodes = Some(parse_size(v)?),
                "mode" => {
                    o.mode = Some(
                        u32::from_str_radix(v, 8)
                            .ok()
                            .filter(|m| *m <= 0o7777)
                            .ok_or(Errno::EINVAL)?,
                    )
                }
                "uid" | "gid" | "huge" | "mpol" | "noswap" | "inode32" | "inode64" => {}
                // Generic mount flags that come through `-o` as words.
                "rw" | "ro" | "nosuid" | "suid" | "nodev" | "dev" | "noexec" | "exec"
                | "noatime" | "relatime" | "strictatime" | "nodiratime" => {}
                _ => return Err(Errno::EINVAL),
            }
        }
        Ok(o)
    }

    /// The options as `/proc/mounts` shows them.
    fn shown(&self, bytes: u64, inodes: u64, mode: u32) -> String {
        let mut s = String::new();
        if bytes != u64::MAX {
            s.push_str(&format!("size={}k,", bytes / 1024));
        }
        if inodes != u64::MAX {
            s.push_str(&format!("nr_inodes={inodes},"));
        }
        s.push_str(&format!("mode={mode:o}"));
        s
    }
}

/// `123`, `4k`, `64m`, `1g` → a count.
fn parse_size(v: &str) -> Result<u64, Errno> {
    let (num, mul) = match v.as_bytes().last() {
        Some(b'k' | b'K') => (&v[..v.len() - 1], 1u64 << 10),
        Some(b'm' | b'M') => (&v[..v.len() - 1], 1 << 20),
        Some(b'g' | b'G') => (&v[..v.len() - 1], 1 << 30),
        _ => (v, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mul))
        .ok_or(Errno::EINVAL)
}

/// The layout `snare do` starts with: the overlay root (the host root under an in-memory
/// upper layer; the host's `/tmp` is seen through it like every other directory), or
/// `write_through`, the root directory as a volume ([`RootWrites::Host`]); procfs,
/// devices, sysfs, `/dev/shm` and the devpts `pts` at `/dev/pts`. Tmpfs sizes default as Linux's: half the sandbox's memory,
/// one inode per two of its pages.
pub fn sandbox(
    lower: HostRoot,
    write_through: Option<Arc<HostDir>>,
    uid: u32,
    gid: u32,
    mem: &Arc<MemoryFile>,
    pts: &Arc<Devpts>,
) -> MountTable {
    let root = match write_through {
        Some(dir) => {
            let source = dir.host_path().display().to_string();
            Mount::new(b"/", b"/", dir, &source, 0, "")
        }
        None => {
            let overlay = Overlay::new(lower, uid, gid);
            charge(overlay.upper(), mem, &TmpfsOpts::default());
            Mount::new(b"/", b"/", Arc::new(overlay), "overlay", 0, "")
        }
    };
    let shm = Tmpfs::mounted(uid, gid, b"/dev/shm", SHM_DEV, 0);
    let shm_opts = charge(&shm, mem, &TmpfsOpts::default());
    let t = MountTable::new(root);
    let hidden = ms::NOSUID | ms::NODEV | ms::NOEXEC;
    t.add(Mount::new(
        b"/proc",
        b"/",
        Arc::new(Procfs),
        "proc",
        hidden,
        "",
    ));
    t.add(Mount::new(
        b"/dev",
        b"/",
        Arc::new(Devfs::new(pts.clone())),
        "devtmpfs",
        ms::NOSUID,
        "",
    ));
    let pts_opts = pts.options();
    t.add(Mount::new(
        b"/dev/pts",
        b"/",
        pts.clone(),
        "devpts",
        ms::NOSUID | ms::NOEXEC,
        &pts_opts,
    ));
    let ro = ms::RDONLY | hidden;
    t.add(Mount::new(b"/sys", b"/", Arc::new(Sysfs), "sysfs", ro, ""));
    let shm_flags = ms::NOSUID | ms::NODEV;
    t.add(Mount::new(
        b"/dev/shm",
        b"/",
        shm,
        "tmpfs",
        shm_flags,
        &shm_opts,
    ));
    t
}

/// Sets a tmpfs's limits (`opts`, else the defaults) and charges it to `mem`; returns its
/// options as `/proc/mounts` shows them.
fn charge(fs: &Tmpfs, mem: &Arc<MemoryFile>, opts: &TmpfsOpts) -> String {
    let limit = mem.limit();
    let (def_bytes, def_inodes) = if limit == u64::MAX {
        (u64::MAX, u64::MAX)
    } else {
        (limit / 2, limit / crate::mm::PAGE / 2)
    };
    let bytes = opts.size.unwrap_or(def_bytes).min(def_bytes.max(1));
    let inodes = opts.nr_inodes.unwrap_or(def_inodes).min(def_inodes.max(1));
    if limit != u64::MAX || opts.size.is_some() || opts.nr_inodes.is_some() {
        fs.set_limits(Some(mem.clone()), bytes, inodes);
    }
    let mode = opts.mode.unwrap_or(0o1777);
    opts.shown(bytes, inodes, mode)
}

/// A new tmpfs for a mount at `point` (`--tmpfs`, `mount -t tmpfs`), and its options as
/// `/proc/mounts` shows them.
pub fn new_tmpfs(
    point: &[u8],
    uid: u32,
    gid: u32,
    mem: &Arc<MemoryFile>,
    opts: &TmpfsOpts,
) -> (Arc<Tmpfs>, String) {
    let dev = NEXT_TMPFS_DEV.fetch_add(1, Ordering::Relaxed);
    let fs = Tmpfs::mounted(uid, gid, point, dev, 0);
    if let Some(mode) = opts.mode {
        let _ = fs.chmod(b"", mode, false);
    }
    let shown = charge(&fs, mem, opts);
    (fs, shown)
}

/// The caller for set-up work done before any guest task exists.
pub(crate) struct Boot;

impl Caller for Boot {
    fn umask(&self) -> u32 {
        0o022
    }
    fn process(&self, _cpu: bool) -> ProcessInfo {
        ProcessInfo::default()
    }
    fn system(&self) -> SystemInfo {
        SystemInfo::default()
    }
    fn terminal(&self) -> Option<Arc<dyn FileDescription>> {
        None
    }
    fn cred(&self) -> crate::vfs::perm::Cred {
        crate::vfs::perm::Cred::root()
    }
}

/// Where a guest path leads before any task exists (symlinks followed): its mount and the
/// walked path.
fn boot_walk(t: &MountTable, path: &[u8]) -> Result<(Arc<Mount>, Vec<u8>), Errno> {
    let r = Resolver {
        mounts: t,
        cx: &Boot,
        cred: None,
        root: Arc::from(&b"/"[..]),
    };
    match r.resolve(path, true)? {
        Node::Path(p) => Ok((t.route(&p), p)),
        Node::Fd(_) => Err(Errno::ENOENT),
    }
}

/// `stat` of a guest path for `snare do` itself (finding the command on `$PATH`).
pub fn boot_stat(t: &MountTable, path: &[u8]) -> Result<snare_abi::file::Stat, Errno> {
    let (m, p) = boot_walk(t, path)?;
    m.fs.stat(&Boot, &m.inner(&p), true)
}

/// Opens a guest path read-only for `snare do` itself (the first program and its
/// interpreter): through the mounts, so a command in a `--volume` is found.
pub fn boot_open(t: &MountTable, path: &[u8]) -> Result<Arc<dyn FileDescription>, Errno> {
    let (m, p) = boot_walk(t, path)?;
    m.fs.open(&Boot, &m.inner(&p), &p, snare_abi::file::o::RDONLY, 0)
}

/// Resolves `guest` (absolute) to a mount point, making the directories missing on the way
/// (0755, root's): in the overlay's upper layer, or in the host directory when the root is
/// written through ([`RootWrites::Host`]), as runc makes them there.
fn mount_point(t: &MountTable, guest: &[u8]) -> Result<Vec<u8>, Errno> {
    let r = Resolver {
        mounts: t,
        cx: &Boot,
        cred: None,
        root: Arc::from(&b"/"[..]),
    };
    let mut at = Vec::new();
    let names: Vec<&[u8]> = components(guest).collect();
    for (i, c) in names.iter().enumerate() {
        at.push(b'/');
        at.extend_from_slice(c);
        let Node::Path(p) = r.resolve(&at, true)? else {
            return Err(Errno::EINVAL);
        };
        let m = t.route(&p);
        let inner = m.inner(&p);
        match m.fs.stat(&Boot, &inner, false) {
            Ok(st) if st.st_mode & S_IFMT == S_IFDIR => {}
            Ok(_) => return Err(Errno::ENOTDIR),
            Err(Errno::ENOENT) => match m.fs.mkdir(&Boot, &inner, 0o755) {
                Ok(()) => {}
                // The last name, where the filesystem can't make it (the Sentry's /dev, a
                // read-only root): the mount covers the path all the same, unlisted in
                // its parent (runc makes it in the container's /dev tmpfs).
                Err(Errno::EPERM | Errno::EACCES | Errno::EROFS) if i + 1 == names.len() => {}
                Err(e) => return Err(e),
            },
            Err(e) => return Err(e),
        }
        at = p;
    }
    Ok(if at.is_empty() { b"/".to_vec() } else { at })
}

/// Resolves `guest` (absolute) to a mount point for a file, as runc makes one: the
/// directories missing on the way made as [`mount_point`] makes them, and a missing last
/// name made an empty file, 0755 as runc's (where [`mount_point`] makes directories).
/// `EISDIR` where a directory is (Linux's mount of a file on a directory is `ENOTDIR`; this
/// names the side that is a directory).
fn file_point(t: &MountTable, guest: &[u8]) -> Result<Vec<u8>, Errno> {
    let guest = crate::vfs::resolve::normalize(guest);
    let cut = guest.iter().rposition(|&b| b == b'/').unwrap_or(0);
    if cut + 1 >= guest.len() {
        return Err(Errno::EISDIR);
    }
    let dir = mount_point(t, &guest[..cut.max(1)])?;
    let mut at = dir;
    if !at.ends_with(b"/") {
        at.push(b'/');
    }
    at.extend_from_slice(&guest[cut + 1..]);
    let (m, p) = boot_walk(t, &at)?;
    let inner = m.inner(&p);
    match m.fs.stat(&Boot, &inner, false) {
        Ok(st) if st.st_mode & S_IFMT == S_IFDIR => Err(Errno::EISDIR),
        Ok(_) => Ok(p),
        Err(Errno::ENOENT) => {
            let flags = snare_abi::file::o::CREAT | snare_abi::file::o::WRONLY;
            match m.fs.open(&Boot, &inner, &p, flags, 0o755) {
                // As a directory's mount point above: covered, unlisted.
                Ok(_) | Err(Errno::EPERM | Errno::EACCES | Errno::EROFS) => Ok(p),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

/// Opens the host directories and files of the user's `--volume`s, in order, while their
/// paths still lead somewhere (before the Sentry's pivot into its empty root): see
/// `HostDir::hold`. A symlink is followed, as `mount(2)` follows a bind's source; what it
/// leads to must be a directory or a regular file (devices, FIFOs and sockets are
/// refused). The error names the volume.
pub fn open_volumes(mounts: &[UserMount], isolated: bool) -> Result<Vec<Held>, String> {
    use snare_abi::file::S_IFREG;
    let mut held = Vec::new();
    for m in mounts {
        if let UserMount::Volume {
            host,
            guest,
            read_only,
        } = m
        {
            let name = format!("{}:{}", host.display(), String::from_utf8_lossy(guest));
            let fail = |e: Errno| format!("--volume {name}: {}", e.description());
            let (at, kind) = crate::vfs::hostdir::HostDir::open_source(host).map_err(fail)?;
            let hold = |at| crate::vfs::hostdir::HostDir::hold(at, host, *read_only, isolated);
            held.push(match kind {
                S_IFDIR => Held::Dir(hold(at).map_err(fail)?),
                S_IFREG => Held::File(hold(at).map_err(fail)?),
                _ => {
                    return Err(format!(
                        "--volume {name}: not a directory or a regular file"
                    ))
                }
            });
        }
    }
    Ok(held)
}

/// The fd the root directory `root` is held by when the guest's changes go to it
/// ([`RootWrites::Host`]; `None` for [`RootWrites::Memory`]): as a volume's
/// ([`HostDir::hold_host`]), a read-only copy of the host's mounts there for `read_only`.
pub fn hold_write_through(
    root: &std::path::Path,
    writes: RootWrites,
    read_only: bool,
    isolated: bool,
) -> Result<Option<OwnedFd>, String> {
    if writes == RootWrites::Memory {
        return Ok(None);
    }
    HostDir::hold_host(root, read_only, isolated)
        .map(Some)
        .map_err(|e| format!("root {}: {}", root.display(), e.description()))
}

/// Adds the user's mounts, in order, to the sandbox's first namespace; `held` are the
/// volumes' fds from [`open_volumes`]. The error names the mount that failed.
pub fn add_user_mounts(
    t: &MountTable,
    mounts: &[UserMount],
    held: Vec<Held>,
    uid: u32,
    gid: u32,
    mem: &Arc<MemoryFile>,
) -> Result<(), String> {
    let mut held = held.into_iter();
    for m in mounts {
        match m {
            UserMount::Tmpfs { guest, opts } => {
                let name = String::from_utf8_lossy(guest);
                let point = mount_point(t, guest)
                    .map_err(|e| format!("--tmpfs {name}: {}", e.description()))?;
                let (fs, shown) = new_tmpfs(&point, uid, gid, mem, opts);
                let flags = ms::NOSUID | ms::NODEV;
                t.add(Mount::new(&point, b"/", fs, "tmpfs", flags, &shown));
            }
            UserMount::Volume {
                host,
                guest,
                read_only,
            } => {
                let name = format!("{}:{}", host.display(), String::from_utf8_lossy(guest));
                let fail = |e: Errno| format!("--volume {name}: {}", e.description());
                let flags = if *read_only { ms::RDONLY } else { 0 };
                let source = host.display().to_string();
                match held.next() {
                    Some(Held::Dir(dir)) => {
                        let point = mount_point(t, guest).map_err(fail)?;
                        let owner = (uid, gid);
                        let fs = crate::vfs::hostdir::HostDir::with_dir(
                            dir, host, &point, *read_only, owner,
                        );
                        t.add(Mount::new(&point, b"/", fs, &source, flags, ""));
                    }
                    Some(Held::File(file)) => {
                        let point = file_point(t, guest).map_err(fail)?;
                        let fs = crate::vfs::hostfile::BoundFile::with_fd(file, host, *read_only);
                        t.add(Mount::new(&point, b"/", fs, &source, flags, ""));
                    }
                    None => return Err(format!("--volume {name}: not opened")),
                }
            }
            UserMount::Masked { guest } => mask(t, guest, uid, gid, mem),
            UserMount::ReadOnly { guest } => read_only_path(t, guest),
        }
    }
    Ok(())
}

/// Where `guest` leads, if something is there: its walked path and its mount.
fn existing(t: &MountTable, guest: &[u8]) -> Option<(Arc<Mount>, Vec<u8>, u32)> {
    let (m, p) = boot_walk(t, guest).ok()?;
    let st = m.fs.stat(&Boot, &m.inner(&p), false).ok()?;
    Some((m, p, st.st_mode & S_IFMT))
}

/// A `maskedPaths` entry (see [`UserMount::Masked`]), as runc masks: `/dev/null` bound over
/// a file, an empty read-only tmpfs over a directory.
fn mask(t: &MountTable, guest: &[u8], uid: u32, gid: u32, mem: &Arc<MemoryFile>) {
    let shown = String::from_utf8_lossy(guest);
    let Some((_, p, kind)) = existing(t, guest) else {
        tracing::debug!("masked path {shown}: not there, skipped");
        return;
    };
    if kind == S_IFDIR {
        let (fs, opts) = new_tmpfs(&p, uid, gid, mem, &TmpfsOpts::default());
        let flags = ms::RDONLY | ms::NOSUID | ms::NODEV | ms::NOEXEC;
        t.add(Mount::new(&p, b"/", fs, "tmpfs", flags, &opts));
        return;
    }
    match boot_walk(t, b"/dev/null") {
        Ok((null, np)) => t.bind(&null, &np, &p, false),
        Err(e) => tracing::warn!("masked path {shown}: no /dev/null to bind ({e:?})"),
    }
}

/// A `readonlyPaths` entry (see [`UserMount::ReadOnly`]): bound recursively onto itself,
/// the top mount made read-only, as runc does.
fn read_only_path(t: &MountTable, guest: &[u8]) {
    let Some((m, p, _)) = existing(t, guest) else {
        tracing::debug!(
            "read-only path {}: not there, skipped",
            String::from_utf8_lossy(guest)
        );
        return;
    };
    t.bind(&m, &p, &p, true);
    if let Some(top) = t.at(&p) {
        let _ = t.set_flags(&p, top.flags | ms::RDONLY, None);
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_size, TmpfsOpts};
    use snare_abi::Errno;

    #[test]
    fn tmpfs_options() {
        assert_eq!(parse_size("64m"), Ok(64 << 20));
        assert_eq!(parse_size("1k"), Ok(1024));
        assert_eq!(parse_size("x"), Err(Errno::EINVAL));
        assert_eq!(parse_size("99999999999g"), Err(Errno::EINVAL));
        let o = TmpfsOpts::parse("size=1m,nr_inodes=10,mode=700,uid=0").expect("parse");
        assert_eq!(o.size, Some(1 << 20));
        assert_eq!(o.nr_inodes, Some(10));
        assert_eq!(o.mode, Some(0o700));
        assert_eq!(TmpfsOpts::parse("mode=99999"), Err(Errno::EINVAL));
        assert_eq!(TmpfsOpts::parse("bogus"), Err(Errno::EINVAL));
    }
}
