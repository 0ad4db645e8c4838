//! Test-only (feature `test-hooks`, never in a release build): raw host calls the Sentry's
//! seccomp filter must refuse, so that a test can show a confined Sentry dies making one.
//! Each call is made straight through `syscall(2)` with harmless arguments: if the filter
//! let it through, it would fail or do nothing lasting.

/// The forbidden calls a test can ask for, by name.
pub const FORBIDDEN: &[&str] = &["execve", "ptrace", "open-shadow", "socket-packet", "mount"];

/// Makes the host call named `which` (one of [`FORBIDDEN`]) and returns its raw result, or
/// `None` for an unknown name. Under the Sentry's filter it does not return: the kernel kills
/// the process (`SIGSYS`). `own_pid` is this process's id, found before the filter (getpid
/// is not on its list either, and must not be what kills).
pub fn attempt(which: &str, own_pid: i32) -> Option<i64> {
    let ret = match which {
        // SAFETY: a NUL-terminated path and empty argv/envp arrays that outlive the call.
        "execve" => unsafe {
            let argv: [*const libc::c_char; 1] = [core::ptr::null()];
            libc::syscall(
                libc::SYS_execve,
                c"/bin/true".as_ptr(),
                argv.as_ptr(),
                argv.as_ptr(),
            )
        },
        // SAFETY: PTRACE_ATTACH takes no pointers; the target is this process, which the
        // kernel refuses (EPERM), so a call that got through attaches to nothing.
        "ptrace" => unsafe {
            libc::syscall(
                libc::SYS_ptrace,
                libc::PTRACE_ATTACH,
                own_pid,
                0usize,
                0usize,
            )
        },
        // SAFETY: a NUL-terminated path that outlives the call; a read-only open whose fd,
        // if any, is closed below.
        "open-shadow" => unsafe {
            let fd = libc::syscall(libc::SYS_open, c"/etc/shadow".as_ptr(), libc::O_RDONLY);
            if fd >= 0 {
                libc::close(fd as i32);
            }
            fd
        },
        // SAFETY: no pointers; the socket, if any, is closed below.
        "socket-packet" => unsafe {
            let fd = libc::syscall(libc::SYS_socket, libc::AF_PACKET, libc::SOCK_RAW, 0);
            if fd >= 0 {
                libc::close(fd as i32);
            }
            fd
        },
        // SAFETY: NUL-terminated strings that outlive the call; a source that does not
        // exist, so a mount that got through still fails.
        "mount" => unsafe {
            libc::syscall(
                libc::SYS_mount,
                c"/nonexistent-snare-test".as_ptr(),
                c"/nonexistent-snare-test".as_ptr(),
                c"none".as_ptr(),
                libc::MS_BIND,
                core::ptr::null::<u8>(),
            )
        },
        _ => return None,
    };
    Some(ret)
}
