//! Extended attributes of host files, which nix has no wrapper for: `getxattr`,
//! `listxattr`, `setxattr` and `removexattr` of a host path, with the host's errno.
//!
//! The path calls follow a symlink at the end of `path` (tests use them); the Sentry uses
//! the `f*` ones on a file it reopened from the `O_PATH` fd it resolved confined (the
//! `f*xattr` calls refuse `O_PATH` fds), so the kernel acts on exactly that object.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use snare_abi::file::xattr::{XATTR_LIST_MAX, XATTR_SIZE_MAX};
use snare_abi::Errno;

fn errno() -> Errno {
    crate::sys::errno()
}

fn c_path(path: &Path) -> Result<CString, Errno> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)
}

/// What a value or list usually fits in: asked for first, the largest size only after
/// `ERANGE` (most files have few attributes, and small ones).
const FIRST_TRY: usize = 1024;

/// Calls `call(buf)` (a get or list into `buf`, returning its length or -1) with a buffer
/// of [`FIRST_TRY`] bytes, then of `max` if that was too small.
fn sized(max: usize, mut call: impl FnMut(&mut [u8]) -> isize) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; FIRST_TRY];
    loop {
        let n = call(&mut buf);
        if n >= 0 {
            buf.truncate(n as usize);
            return Ok(buf);
        }
        let e = errno();
        if e != Errno::ERANGE || buf.len() >= max {
            return Err(e);
        }
        buf.resize(max, 0);
    }
}

/// The value of attribute `name` of the file at `path` (at most [`XATTR_SIZE_MAX`] bytes,
/// Linux's limit).
pub fn get(path: &Path, name: &CStr) -> Result<Vec<u8>, Errno> {
    let p = c_path(path)?;
    sized(XATTR_SIZE_MAX, |buf| {
        // SAFETY: `p` and `name` are NUL-terminated strings that outlive the call; `buf` is
        // a live, writable buffer of `buf.len()` bytes, of which the kernel writes at most
        // that.
        unsafe {
            libc::getxattr(
                p.as_ptr(),
                name.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        }
    })
}

/// The names of the attributes of the file at `path`, each with its NUL terminator, as
/// `listxattr(2)` returns them (at most [`XATTR_LIST_MAX`] bytes).
pub fn list(path: &Path) -> Result<Vec<u8>, Errno> {
    let p = c_path(path)?;
    sized(XATTR_LIST_MAX, |buf| {
        // SAFETY: `p` is a NUL-terminated string that outlives the call; `buf` is a live,
        // writable buffer of `buf.len()` bytes, of which the kernel writes at most that.
        unsafe { libc::listxattr(p.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) }
    })
}

/// Sets attribute `name` of the file at `path` to `value`; `flags` are `XATTR_CREATE` and
/// `XATTR_REPLACE`.
pub fn set(path: &Path, name: &CStr, value: &[u8], flags: u32) -> Result<(), Errno> {
    let p = c_path(path)?;
    // SAFETY: `p` and `name` are NUL-terminated strings and `value` a live buffer of
    // `value.len()` bytes, all outliving the call; the kernel only reads them.
    let r = unsafe {
        libc::setxattr(
            p.as_ptr(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            flags as i32,
        )
    };
    if r < 0 {
        return Err(errno());
    }
    Ok(())
}

/// Removes attribute `name` of the file at `path`.
pub fn remove(path: &Path, name: &CStr) -> Result<(), Errno> {
    let p = c_path(path)?;
    // SAFETY: `p` and `name` are NUL-terminated strings that outlive the call; the kernel
    // only reads them.
    let r = unsafe { libc::removexattr(p.as_ptr(), name.as_ptr()) };
    if r < 0 {
        return Err(errno());
    }
    Ok(())
}

/// [`get`] of an open file.
pub fn fget(fd: BorrowedFd<'_>, name: &CStr) -> Result<Vec<u8>, Errno> {
    sized(XATTR_SIZE_MAX, |buf| {
        // SAFETY: `name` is a NUL-terminated string that outlives the call; `buf` is a live,
        // writable buffer of `buf.len()` bytes, of which the kernel writes at most that.
        unsafe {
            libc::fgetxattr(
                fd.as_raw_fd(),
                name.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        }
    })
}

/// [`list`] of an open file.
pub fn flist(fd: BorrowedFd<'_>) -> Result<Vec<u8>, Errno> {
    sized(XATTR_LIST_MAX, |buf| {
        // SAFETY: `buf` is a live, writable buffer of `buf.len()` bytes, of which the kernel
        // writes at most that.
        unsafe { libc::flistxattr(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) }
    })
}

/// [`set`] of an open file.
pub fn fset(fd: BorrowedFd<'_>, name: &CStr, value: &[u8], flags: u32) -> Result<(), Errno> {
    // SAFETY: `name` is a NUL-terminated string and `value` a live buffer of `value.len()`
    // bytes, both outliving the call; the kernel only reads them.
    let r = unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            flags as i32,
        )
    };
    if r < 0 {
        return Err(errno());
    }
    Ok(())
}

/// [`remove`] of an open file.
pub fn fremove(fd: BorrowedFd<'_>, name: &CStr) -> Result<(), Errno> {
    // SAFETY: `name` is a NUL-terminated string that outlives the call; the kernel only
    // reads it.
    let r = unsafe { libc::fremovexattr(fd.as_raw_fd(), name.as_ptr()) };
    if r < 0 {
        return Err(errno());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_on_a_host_file() {
        let dir = std::env::temp_dir().join(format!("snare-xattr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let f = dir.join("f");
        std::fs::write(&f, b"x").expect("file");
        let name = c"user.snare";
        match set(&f, name, b"v1", 0) {
            // A host /tmp without user xattrs (an old tmpfs): nothing to check here.
            Err(Errno::EOPNOTSUPP) => {}
            r => {
                assert_eq!(r, Ok(()));
                assert_eq!(set(&f, name, b"v2", 1), Err(Errno::EEXIST));
                assert_eq!(get(&f, name), Ok(b"v1".to_vec()));
                // Past the first buffer's size: asked again with the largest.
                let big = vec![7u8; 3000];
                match set(&f, c"user.big", &big, 0) {
                    Ok(()) => assert_eq!(get(&f, c"user.big"), Ok(big)),
                    Err(e) => assert_eq!(e, Errno::ENOSPC, "a host fs with small blocks"),
                }
                assert!(list(&f)
                    .expect("list")
                    .windows(11)
                    .any(|w| w == b"user.snare\0"));
                assert_eq!(remove(&f, name), Ok(()));
                assert_eq!(get(&f, name), Err(Errno::ENODATA));
            }
        }
        assert_eq!(get(&dir.join("missing"), name), Err(Errno::ENOENT));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
