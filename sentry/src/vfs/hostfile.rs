//! A host file bind-mounted into the guest (`--volume HOSTFILE:GUEST[:ro]`, an OCI bind
//! mount of a file: Docker's `/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf`, `--init`'s
//! `/sbin/docker-init`): a filesystem of one file, its root, whose reads and writes reach
//! the host file. Mounted by the mount table ([`super::mount`]) on a guest path that is a
//! file, as Linux mounts a file on a file.
//!
//! Confinement: the file is held as an `O_PATH` fd (in the confined sandbox, a detached
//! bind mount of that one file, `NODEV | NOSUID`, read-only for `:ro`), and every call acts
//! on that fd or on a reopening of it through its `/proc/self/fd` link in the held `/proc`
//! (the kernel follows the link to exactly the object held, never looking a name up again):
//! nothing else of the host is reachable through it, whatever the host does to the path
//! later (a rename or a replaced file leaves the guest with the file that was bound, as a
//! Linux bind mount does).
//!
//! There is nothing below the root: a path under it is `ENOTDIR`; creating, removing or
//! renaming it is the mount point's business (`EBUSY`, `EEXIST`), not this filesystem's.
//! A read-only one answers an open for writing (or with `O_TRUNC`), `truncate`, `chmod`,
//! `chown`, `utimensat` and the xattr changes with `EROFS`.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid};
use snare_abi::file::{o, Stat, UTIME_NOW, UTIME_OMIT};
use snare_abi::Errno;

use super::filesystem::{Caller, Filesystem};
use super::host::{errno_of, stat_from_host, statfs_of, HostFile};
use super::host_fds::HostFdGuard;
use super::hostdir::{chmod_fd, proc_link};
use super::xattr::{host_get, host_list, host_remove, host_set};
use super::FileDescription;

/// Guest open flags passed on to the host when the file is reopened.
const REOPEN_FLAGS: u32 = o::ACCMODE | o::TRUNC | o::APPEND | o::NONBLOCK | o::DSYNC | o::SYNC;

/// A host file mounted into the guest. See the module docs.
#[derive(Debug)]
pub struct BoundFile {
    /// The file, `O_PATH`.
    file: OwnedFd,
    host_path: PathBuf,
    read_only: bool,
}

impl BoundFile {
    /// The file held by `file` (from [`super::hostdir::HostDir::hold`]), found at `host`.
    pub fn with_fd(file: OwnedFd, host: &Path, read_only: bool) -> Arc<BoundFile> {
        Arc::new(BoundFile {
            file,
            host_path: host.to_path_buf(),
            read_only,
        })
    }

    /// The host file behind the mount.
    pub fn host_path(&self) -> &Path {
        &self.host_path
    }

    fn host_stat(&self) -> Result<nix::sys::stat::FileStat, Errno> {
        nix::sys::stat::fstat(&self.file).map_err(errno_of)
    }

    /// `Ok` for the root (the file), `ENOTDIR` for a path below it.
    fn root(path: &[u8]) -> Result<(), Errno> {
        match path {
            b"/" | b"" => Ok(()),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn writable(&self) -> Result<(), Errno> {
        match self.read_only {
            true => Err(Errno::EROFS),
            false => Ok(()),
        }
    }

    /// The held file opened again with `flags` (host `O_*` bits), through its fd link.
    fn reopen(&self, flags: OFlag) -> Result<OwnedFd, Errno> {
        let (proc, link) = proc_link(&self.file)?;
        let flags = flags | OFlag::O_CLOEXEC | OFlag::O_NOCTTY;
        nix::fcntl::openat(proc, link.as_c_str(), flags, Mode::empty()).map_err(errno_of)
    }
}

impl Filesystem for BoundFile {
    fn fstype(&self) -> &'static str {
        "bind"
    }

    fn dev(&self) -> u64 {
        self.host_stat().map_or(0, |s| stat_from_host(&s).st_dev)
    }

    fn stat(&self, _cx: &dyn Caller, path: &[u8], _follow: bool) -> Result<Stat, Errno> {
        BoundFile::root(path)?;
        Ok(stat_from_host(&self.host_stat()?))
    }

    /// `open(2)` of the file: `O_CREAT` finds it there (`EEXIST` with `O_EXCL`),
    /// `O_DIRECTORY` and `O_TMPFILE` are `ENOTDIR`; the rest as a volume's files.
    fn open(
        &self,
        _cx: &dyn Caller,
        path: &[u8],
        guest: &[u8],
        flags: u32,
        _mode: u32,
    ) -> Result<Arc<dyn FileDescription>, Errno> {
        BoundFile::root(path)?;
        if flags & o::CREAT != 0 && flags & o::EXCL != 0 && flags & o::PATH == 0 {
            return Err(Errno::EEXIST);
        }
        if flags & (o::DIRECTORY | o::TMPFILE) != 0 {
            return Err(Errno::ENOTDIR);
        }
        let path_only = flags & o::PATH != 0;
        if !path_only && flags & (o::ACCMODE | o::TRUNC) != o::RDONLY {
            self.writable()?;
        }
        let budget = HostFdGuard::acquire()?;
        let fd = if path_only {
            self.reopen(OFlag::O_PATH)?
        } else {
            self.reopen(OFlag::from_bits_truncate((flags & REOPEN_FLAGS) as i32))?
        };
        let name = guest.to_vec();
        let file = HostFile::for_volume(fd, name, flags, self.read_only, budget);
        Ok(Arc::new(file))
    }

    fn statfs(&self, _cx: &dyn Caller, path: &[u8]) -> Result<[u8; 120], Errno> {
        BoundFile::root(path)?;
        statfs_of(&self.file, self.read_only)
    }

    fn truncate(&self, path: &[u8], len: u64) -> Result<(), Errno> {
        BoundFile::root(path)?;
        let len = i64::try_from(len).map_err(|_| Errno::EINVAL)?;
        self.writable()?;
        let file = self.reopen(OFlag::O_WRONLY | OFlag::O_NONBLOCK)?;
        nix::unistd::ftruncate(&file, len).map_err(errno_of)
    }

    fn chmod(&self, path: &[u8], mode: u32) -> Result<(), Errno> {
        BoundFile::root(path)?;
        self.writable()?;
        chmod_fd(&self.file, mode)
    }

    fn chown(&self, path: &[u8], uid: u32, gid: u32) -> Result<(), Errno> {
        BoundFile::root(path)?;
        self.writable()?;
        let uid = (uid != u32::MAX).then(|| Uid::from_raw(uid));
        let gid = (gid != u32::MAX).then(|| Gid::from_raw(gid));
        let flags = nix::fcntl::AtFlags::AT_EMPTY_PATH;
        nix::unistd::fchownat(&self.file, "", uid, gid, flags).map_err(errno_of)
    }

    fn utimens(
        &self,
        path: &[u8],
        atime: Option<(i64, i64)>,
        mtime: Option<(i64, i64)>,
    ) -> Result<(), Errno> {
        BoundFile::root(path)?;
        for (_, ns) in [atime, mtime].into_iter().flatten() {
            if ns != UTIME_NOW && ns != UTIME_OMIT && !(0..1_000_000_000).contains(&ns) {
                return Err(Errno::EINVAL);
            }
        }
        self.writable()?;
        let ts = |t: Option<(i64, i64)>| {
            let (s, ns) = t.unwrap_or((0, UTIME_NOW));
            TimeSpec::new(s, ns)
        };
        let (proc, link) = proc_link(&self.file)?;
        nix::sys::stat::utimensat(
            proc,
            link.as_c_str(),
            &ts(atime),
            &ts(mtime),
            nix::sys::stat::UtimensatFlags::FollowSymlink,
        )
        .map_err(errno_of)
    }

    fn getxattr(&self, _cx: &dyn Caller, path: &[u8], name: &[u8]) -> Result<Vec<u8>, Errno> {
        BoundFile::root(path)?;
        host_get(name, || self.file.try_clone().map_err(|_| Errno::EMFILE))
    }

    fn listxattr(&self, _cx: &dyn Caller, path: &[u8]) -> Result<Vec<Vec<u8>>, Errno> {
        BoundFile::root(path)?;
        host_list(&self.file)
    }

    fn setxattr(&self, path: &[u8], name: &[u8], value: &[u8], flags: u32) -> Result<(), Errno> {
        BoundFile::root(path)?;
        self.writable()?;
        host_set(&self.file, name, value, flags)
    }

    fn removexattr(&self, path: &[u8], name: &[u8]) -> Result<(), Errno> {
        BoundFile::root(path)?;
        self.writable()?;
        host_remove(&self.file, name)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use nix::fcntl::OFlag;
    use nix::sys::stat::Mode;
    use snare_abi::file::{o, S_IFMT, S_IFREG};
    use snare_abi::Errno;

    use super::BoundFile;
    use crate::kernel::mounts::Boot;
    use crate::vfs::filesystem::Filesystem;
    use crate::vfs::SEEK_SET;

    /// A host file under the temp dir with `text`, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(tag: &str, text: &[u8]) -> Scratch {
            let p = std::env::temp_dir().join(format!("snare-bound-{tag}-{}", std::process::id()));
            std::fs::write(&p, text).expect("scratch file");
            Scratch(p)
        }

        fn bound(&self, read_only: bool) -> std::sync::Arc<BoundFile> {
            let fd = nix::fcntl::open(&self.0, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
                .expect("O_PATH open");
            BoundFile::with_fd(fd, &self.0, read_only)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn reads_and_writes_reach_the_host_file() {
        let s = Scratch::new("rw", b"127.0.0.1 localhost\n");
        let fs = s.bound(false);
        let st = fs.stat(&Boot, b"/", false).expect("stat");
        assert_eq!(st.st_mode & S_IFMT, S_IFREG);
        assert_eq!(st.st_size, 20);
        let f = fs
            .open(&Boot, b"/", b"/etc/hosts", o::RDWR, 0)
            .expect("open");
        let mut buf = [0u8; 9];
        assert_eq!(f.read(&mut buf), Ok(9));
        assert_eq!(&buf, b"127.0.0.1");
        f.seek(0, SEEK_SET).expect("seek");
        assert_eq!(f.write(b"10"), Ok(2));
        assert_eq!(std::fs::read(&s.0).expect("host"), b"107.0.0.1 localhost\n");
        fs.truncate(b"/", 3).expect("truncate");
        assert_eq!(std::fs::read(&s.0).expect("host"), b"107");
        // Nothing below a file; no new file where one is.
        assert_eq!(fs.stat(&Boot, b"/x", false).err(), Some(Errno::ENOTDIR));
        let excl = o::CREAT | o::EXCL | o::WRONLY;
        assert_eq!(
            fs.open(&Boot, b"/", b"/x", excl, 0o644).err(),
            Some(Errno::EEXIST)
        );
        let dir = o::DIRECTORY;
        assert_eq!(
            fs.open(&Boot, b"/", b"/x", dir, 0).err(),
            Some(Errno::ENOTDIR)
        );
    }

    #[test]
    fn read_only_refuses_changes() {
        let s = Scratch::new("ro", b"data");
        let fs = s.bound(true);
        assert!(fs.open(&Boot, b"/", b"/f", o::RDONLY, 0).is_ok());
        for flags in [o::WRONLY, o::RDWR, o::RDONLY | o::TRUNC] {
            assert_eq!(
                fs.open(&Boot, b"/", b"/f", flags, 0).err(),
                Some(Errno::EROFS)
            );
        }
        assert_eq!(fs.truncate(b"/", 0), Err(Errno::EROFS));
        assert_eq!(fs.chmod(b"/", 0o600), Err(Errno::EROFS));
        assert_eq!(fs.chown(b"/", 0, 0), Err(Errno::EROFS));
        assert_eq!(fs.utimens(b"/", None, None), Err(Errno::EROFS));
        assert_eq!(std::fs::read(&s.0).expect("host"), b"data");
    }
}
