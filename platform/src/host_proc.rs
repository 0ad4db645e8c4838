//! The Sentry's one way to the host's `/proc` (issue 14): a held directory fd, every file
//! under it opened relative to that fd, never by an absolute path.
//!
//! Confined, the Sentry's root is an empty read-only tmpfs and this fd is a procfs of the
//! sandbox's own pid namespace, opened before the pivot ([`hold`]): it shows the Sentry and
//! its stubs and nothing of the host's processes (a held *host* `/proc` would lead back to the
//! host's root through `/proc/1/root`). Unconfined (`--no-confine`, tests), the first use opens
//! the host's `/proc`.
//!
//! What goes through it: the Sentry's own `self/…` files (`fd/N` links for the `*at` calls
//! that want a path, `fdinfo`, `status`, `maps`, `auxv`), the stubs' `PID/stat` and
//! `PID/task/TID/…`, and `meminfo`/`cpuinfo`/`sys/fs/nr_open`.

use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;

use snare_abi::Errno;

static PROC: OnceLock<Option<OwnedFd>> = OnceLock::new();

/// Makes `dir` (a procfs root) the `/proc` every later call uses. Once only: a second call,
/// or a call after the first use, returns `false` and changes nothing.
pub fn hold(dir: OwnedFd) -> bool {
    let mut fresh = Some(dir);
    PROC.get_or_init(|| fresh.take());
    fresh.is_none()
}

/// The held `/proc`, or the host's opened now if none was held (unconfined).
pub fn dir() -> Result<BorrowedFd<'static>, Errno> {
    PROC.get_or_init(|| {
        let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC;
        // SAFETY: open reads the NUL-terminated literal and writes no memory.
        let fd = unsafe { libc::open(c"/proc".as_ptr(), flags) };
        // SAFETY: a fresh fd that nothing else owns.
        (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
    })
    .as_ref()
    .map(|fd| fd.as_fd())
    .ok_or(Errno::ENOENT)
}

fn c_path(rel: &str) -> Result<CString, Errno> {
    // Relative only: an absolute path would ignore the held fd.
    if rel.starts_with('/') {
        return Err(Errno::EINVAL);
    }
    CString::new(rel).map_err(|_| Errno::EINVAL)
}

/// Opens `rel` (e.g. `"meminfo"`, `"self/fdinfo/7"`) under the held `/proc`, read-only.
pub fn open(rel: &str) -> Result<File, Errno> {
    let c = c_path(rel)?;
    let flags = libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOCTTY;
    // SAFETY: openat reads the NUL-terminated `c`, which outlives the call, and writes no
    // memory.
    let fd = unsafe { libc::openat(dir()?.as_raw_fd(), c.as_ptr(), flags) };
    if fd < 0 {
        return Err(crate::sys::errno());
    }
    // SAFETY: a fresh fd that nothing else owns.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// Writes `data` to `rel` under the held `/proc` (a sysctl), in one write.
pub fn write(rel: &str, data: &[u8]) -> Result<(), Errno> {
    let c = c_path(rel)?;
    let flags = libc::O_WRONLY | libc::O_CLOEXEC | libc::O_NOCTTY;
    // SAFETY: openat reads the NUL-terminated `c`, which outlives the call, and writes no
    // memory.
    let fd = unsafe { libc::openat(dir()?.as_raw_fd(), c.as_ptr(), flags) };
    if fd < 0 {
        return Err(crate::sys::errno());
    }
    // SAFETY: a fresh fd that nothing else owns.
    let mut f = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    f.write_all(data)
        .map_err(|e| Errno::new(e.raw_os_error().unwrap_or(libc::EIO)))
}

/// Reads all of `rel` under the held `/proc` as text (lossy).
pub fn read_to_string(rel: &str) -> Result<String, Errno> {
    let mut bytes = Vec::new();
    open(rel)?
        .read_to_end(&mut bytes)
        .map_err(|e| Errno::new(e.raw_os_error().unwrap_or(libc::EIO)))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The `self/fd/N` link of the Sentry's fd `fd`, as a directory fd and a name for the `*at`
/// calls that take a path (`fchmodat`, `utimensat`, `truncate`, the path xattr calls): the
/// kernel follows the link to that very object.
pub fn fd_link(fd: RawFd) -> Result<(BorrowedFd<'static>, CString), Errno> {
    Ok((dir()?, c_path(&format!("self/fd/{fd}"))?))
}

/// A procfs mount of the caller's pid namespace, not attached anywhere
/// (`fsopen("proc")`, `fsconfig(CREATE)`, `fsmount`), as an fd to its root. The kernel
/// refuses it (`EPERM`) unless a procfs is fully visible in the caller's mount namespace.
pub fn mount_own() -> Result<OwnedFd, Errno> {
    use snare_abi::mount::{
        FSCONFIG_CMD_CREATE, FSMOUNT_CLOEXEC, FSOPEN_CLOEXEC, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC,
        MOUNT_ATTR_NOSUID,
    };
    // SAFETY: fsopen reads the NUL-terminated literal and writes no memory.
    let fs = unsafe { libc::syscall(libc::SYS_fsopen, c"proc".as_ptr(), FSOPEN_CLOEXEC) };
    if fs < 0 {
        return Err(crate::sys::errno());
    }
    // SAFETY: a fresh fd from fsopen that nothing else owns.
    let fs = unsafe { OwnedFd::from_raw_fd(fs as i32) };
    let raw = fs.as_raw_fd();
    // SAFETY: FSCONFIG_CMD_CREATE takes no key or value pointers; no memory is read or written.
    let r = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            raw,
            FSCONFIG_CMD_CREATE,
            0usize,
            0usize,
            0,
        )
    };
    if r < 0 {
        return Err(crate::sys::errno());
    }
    let attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
    // SAFETY: fsmount takes only integers; no memory is read or written.
    let m = unsafe { libc::syscall(libc::SYS_fsmount, raw, FSMOUNT_CLOEXEC, attrs) };
    if m < 0 {
        return Err(crate::sys::errno());
    }
    // SAFETY: a fresh fd from fsmount that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(m as i32) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_open_under_the_held_dir_only() {
        assert!(read_to_string("self/status")
            .expect("status")
            .contains("Pid:"));
        assert_eq!(open("/etc/passwd").err(), Some(Errno::EINVAL));
        let (d, name) = fd_link(0).expect("link");
        assert!(name.to_str().expect("utf8").starts_with("self/fd/"));
        let _ = d;
    }
}
