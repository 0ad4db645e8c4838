//! Read-only views of host directory trees, for the fds the Sentry holds (issue 14): a
//! detached copy of the mount tree at a path (`open_tree(OPEN_TREE_CLONE | AT_RECURSIVE)`),
//! read-only through every mount in it (`mount_setattr(MOUNT_ATTR_RDONLY, AT_RECURSIVE)`).
//! Nothing is attached anywhere, so the host's mounts don't change; the copy shares the
//! host's filesystems (files made on the host later show through) and goes when its last fd
//! closes. A write through it, or through anything opened from it, is `EROFS` in the host
//! kernel, whatever the Sentry's privileges: a Sentry taken over can't change the host
//! root through the fd it reads the guest's root by.
//!
//! Needs `CAP_SYS_ADMIN` (root); the caller falls back to a plain fd without it.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use snare_abi::file::AT_EMPTY_PATH;
use snare_abi::mount::{
    MountAttr, AT_RECURSIVE, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY,
    OPEN_TREE_CLOEXEC, OPEN_TREE_CLONE,
};
use snare_abi::Errno;

use crate::sys::errno as last_errno;

/// A read-only detached copy of the mount tree at `path` (see the module docs), as an
/// `O_PATH`-like fd to its root.
pub fn readonly_tree(path: &Path) -> Result<OwnedFd, Errno> {
    tree(path, true)
}

/// A detached copy of the mount tree at `path`, read-only if `read_only`, and always
/// without device nodes or set-id bits (`MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID`). Its root is
/// a mount root: `..` from it stays there, so an fd to it reaches nothing of the host above
/// `path` (a plain directory fd's `..` would).
pub fn tree(path: &Path, read_only: bool) -> Result<OwnedFd, Errno> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    let flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE;
    // SAFETY: open_tree reads the NUL-terminated path `c`, which outlives the call, and
    // writes no memory.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c.as_ptr(), flags) };
    if fd < 0 {
        return Err(last_errno());
    }
    // SAFETY: a fresh fd from open_tree that nothing else owns.
    let tree = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    set_attrs(tree, read_only)
}

/// As [`tree`], of the object `at` (an `O_PATH` fd, a directory or a file) already refers
/// to: nothing is looked up by name again, so what was checked through `at` is what is
/// copied. A file's copy is a detached bind mount of that one file.
pub fn tree_at(at: &impl AsRawFd, read_only: bool) -> Result<OwnedFd, Errno> {
    let flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH;
    // SAFETY: open_tree reads the empty NUL-terminated literal and writes no memory.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, at.as_raw_fd(), c"".as_ptr(), flags) };
    if fd < 0 {
        return Err(last_errno());
    }
    // SAFETY: a fresh fd from open_tree that nothing else owns.
    let tree = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    set_attrs(tree, read_only)
}

/// `NOSUID | NODEV` (and `RDONLY` if `read_only`) on every mount of a detached copy.
fn set_attrs(tree: OwnedFd, read_only: bool) -> Result<OwnedFd, Errno> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_NOSUID
            | MOUNT_ATTR_NODEV
            | if read_only { MOUNT_ATTR_RDONLY } else { 0 },
        ..MountAttr::default()
    };
    // SAFETY: mount_setattr reads the empty NUL-terminated path and `attr`, whose size is
    // passed, both live across the call; it writes no memory.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            AT_EMPTY_PATH | AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r < 0 {
        return Err(last_errno());
    }
    Ok(tree)
}

/// The directories of a root whose host mounts the guest never sees (the Sentry mounts its
/// own procfs, devices and sysfs there) and [`mask`] hides.
pub const SHADOWED: [&CStr; 3] = [c"proc", c"sys", c"dev"];

/// Hides what the host has at each of `dirs` (names directly under the root of `tree`, a
/// detached copy from [`tree`]) under an empty read-only tmpfs mounted on it: with `--root
/// /`, the host's `/proc`, `/sys` and `/dev` mounts would otherwise be in the copy, and a
/// guest that unmounted its own `/proc` would read the host's processes through it. A name
/// that isn't a directory (missing, or a symlink, which the guest's own resolver follows in
/// the guest's tree) is left alone. Needs a kernel that mounts into detached trees (6.15+):
/// `EINVAL` before.
pub fn mask(tree: &OwnedFd, dirs: &[&CStr]) -> Result<(), Errno> {
    use snare_abi::mount::{
        FSCONFIG_CMD_CREATE, FSMOUNT_CLOEXEC, FSOPEN_CLOEXEC, MOUNT_ATTR_NOEXEC,
        MOVE_MOUNT_F_EMPTY_PATH, MOVE_MOUNT_T_EMPTY_PATH,
    };
    for dir in dirs {
        let how = libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        // SAFETY: openat reads the NUL-terminated name; the fd, if any, is owned below.
        let at = unsafe { libc::openat(tree.as_raw_fd(), dir.as_ptr(), how) };
        if at < 0 {
            continue;
        }
        // SAFETY: a fresh fd that nothing else owns.
        let at = unsafe { OwnedFd::from_raw_fd(at) };
        // SAFETY: fsopen reads the NUL-terminated literal.
        let fs = unsafe { libc::syscall(libc::SYS_fsopen, c"tmpfs".as_ptr(), FSOPEN_CLOEXEC) };
        if fs < 0 {
            return Err(last_errno());
        }
        // SAFETY: a fresh fd that nothing else owns.
        let fs = unsafe { OwnedFd::from_raw_fd(fs as i32) };
        let attrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
        // SAFETY: fsconfig(CREATE) and fsmount take integers; move_mount reads the empty
        // NUL-terminated literals.
        unsafe {
            let raw = fs.as_raw_fd();
            if libc::syscall(
                libc::SYS_fsconfig,
                raw,
                FSCONFIG_CMD_CREATE,
                0usize,
                0usize,
                0,
            ) < 0
            {
                return Err(last_errno());
            }
            let m = libc::syscall(libc::SYS_fsmount, raw, FSMOUNT_CLOEXEC, attrs);
            if m < 0 {
                return Err(last_errno());
            }
            let m = OwnedFd::from_raw_fd(m as i32);
            let r = libc::syscall(
                libc::SYS_move_mount,
                m.as_raw_fd(),
                c"".as_ptr(),
                at.as_raw_fd(),
                c"".as_ptr(),
                MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
            );
            if r < 0 {
                return Err(last_errno());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_reads_but_does_not_write() {
        let dir = std::env::temp_dir().join(format!("snare-rotree-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("f"), b"data").expect("file");
        let tree = match readonly_tree(&dir) {
            Ok(t) => t,
            // Not root (or a kernel without the new mount API): nothing to check here.
            Err(Errno::EPERM | Errno::ENOSYS) => return,
            Err(e) => panic!("open_tree: {e:?}"),
        };
        let open = |flags| {
            // SAFETY: openat reads the NUL-terminated name; its fd, if any, is closed below.
            let fd = unsafe { libc::openat(tree.as_raw_fd(), c"f".as_ptr(), flags) };
            let r = if fd < 0 { Err(last_errno()) } else { Ok(()) };
            if fd >= 0 {
                // SAFETY: the fd just opened, closed once.
                unsafe { libc::close(fd) };
            }
            r
        };
        assert_eq!(open(libc::O_RDONLY), Ok(()));
        assert_eq!(open(libc::O_WRONLY), Err(Errno::EROFS));
        // The host's own view is unchanged.
        std::fs::write(dir.join("f"), b"more").expect("host write");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
