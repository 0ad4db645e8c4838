//! Thin wrappers over the host calls the platform makes. Each returns `Result` with the
//! host errno; nothing here panics.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::AtomicU32;
use std::time::Duration;

use snare_abi::Errno;

use crate::{Error, Result};

pub(crate) fn errno() -> Errno {
    Errno::new(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

/// Turns a raw `libc::syscall` return into a `Result`.
pub(crate) fn check(call: &'static str, ret: i64) -> Result<i64> {
    if ret < 0 {
        Err(Error::Host {
            call,
            errno: errno(),
        })
    } else {
        Ok(ret)
    }
}

/// `FUTEX_WAIT` on a word shared with another process (no `FUTEX_PRIVATE_FLAG`). Returns
/// `false` on timeout.
pub(crate) fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> bool {
    let ts = timeout.map(|t| libc::timespec {
        tv_sec: t.as_secs() as libc::time_t,
        tv_nsec: t.subsec_nanos() as libc::c_long,
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(core::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `word` is a valid, aligned u32 for the duration of the call; `ts_ptr` is null or
    // points to a live timespec. FUTEX_WAIT only reads both.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            ts_ptr,
        )
    };
    !(ret < 0 && errno() == Errno::ETIMEDOUT)
}

/// `FUTEX_WAKE` of up to `n` waiters on a shared word.
pub(crate) fn futex_wake(word: &AtomicU32, n: u32) {
    // SAFETY: `word` is a valid, aligned u32; FUTEX_WAKE does not access user memory beyond
    // hashing its address.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, n);
    }
}

pub(crate) fn pidfd_open(pid: i32) -> Result<OwnedFd> {
    // SAFETY: pidfd_open takes plain integers.
    let fd = check("pidfd_open", unsafe {
        libc::syscall(libc::SYS_pidfd_open, pid, 0)
    })?;
    // SAFETY: the kernel just returned this fd to us; we are its only owner.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

pub(crate) fn pidfd_kill(pidfd: RawFd) {
    // SAFETY: plain integers and a null siginfo.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd,
            libc::SIGKILL,
            core::ptr::null::<libc::siginfo_t>(),
            0,
        );
    }
}

/// True when the process behind `pidfd` has exited (it may still need reaping).
pub(crate) fn pidfd_exited(pidfd: RawFd) -> bool {
    let mut pfd = libc::pollfd {
        fd: pidfd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `pfd` is one valid pollfd.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    n > 0
}

/// Waits for the process behind `pidfd` to exit and reaps it.
pub(crate) fn pidfd_reap(pidfd: RawFd) {
    loop {
        // SAFETY: an all-zero siginfo_t is valid; waitid writes into it.
        let mut info: libc::siginfo_t = unsafe { core::mem::zeroed() };
        // SAFETY: `info` is a valid out-pointer; P_PIDFD takes the fd as id.
        let ret = unsafe {
            libc::waitid(
                libc::P_PIDFD,
                pidfd as libc::id_t,
                &mut info,
                libc::WEXITED | libc::__WALL,
            )
        };
        if ret == 0 || errno() != Errno::EINTR {
            return;
        }
    }
}

/// `tgkill(2)`.
pub(crate) fn tgkill(pid: i32, tid: i32, sig: i32) -> Result<()> {
    // SAFETY: plain integers.
    check("tgkill", unsafe {
        libc::syscall(libc::SYS_tgkill, pid, tid, sig)
    })
    .map(drop)
}

/// Whether this is the process's main thread (its tid is the pid). Raw calls: a Sentry made
/// by a raw `clone` has glibc's cached ids of its parent.
pub(crate) fn on_main_thread() -> bool {
    // SAFETY: argument-less calls that always succeed.
    unsafe { libc::syscall(libc::SYS_gettid) == libc::syscall(libc::SYS_getpid) }
}

/// Number of CPUs this thread may run on.
pub(crate) fn usable_cpus() -> usize {
    // SAFETY: an all-zero cpu_set_t is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { core::mem::zeroed() };
    // SAFETY: `set` is a valid out-buffer of the size passed.
    let ret = unsafe { libc::sched_getaffinity(0, core::mem::size_of_val(&set), &mut set) };
    if ret != 0 {
        return 1;
    }
    // SAFETY: `set` was filled in by the kernel.
    (unsafe { libc::CPU_COUNT(&set) }).max(1) as usize
}

/// Reads and resets a non-blocking eventfd's counter: `None` while it is zero.
pub(crate) fn eventfd_take(fd: RawFd) -> Option<u64> {
    let mut v = 0u64;
    // SAFETY: reads 8 bytes into `v`, a valid, writable u64.
    let n = unsafe { libc::read(fd, (&raw mut v).cast(), 8) };
    (n == 8).then_some(v)
}

/// What [`wait_either`] saw.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Ready {
    First,
    Second,
    Timeout,
}

/// Waits until `a` or `b` is readable (`a` wins a tie), or `timeout` passes.
pub(crate) fn wait_either(a: RawFd, b: RawFd, timeout: Duration) -> Ready {
    let mut pfds = [
        libc::pollfd {
            fd: a,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: b,
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
    // SAFETY: `pfds` is an array of two valid pollfds.
    let n = unsafe { libc::poll(pfds.as_mut_ptr(), 2, ms) };
    if n <= 0 {
        Ready::Timeout
    } else if pfds[0].revents != 0 {
        Ready::First
    } else {
        Ready::Second
    }
}

/// How many threads the host kernel counts in the process whose `/proc/PID/stat` is open as
/// `stat` (`num_threads`), or `None` if it can't be read (the process is gone).
pub(crate) fn thread_count(stat: &std::fs::File) -> Option<u64> {
    use std::os::unix::fs::FileExt;
    let mut buf = [0u8; 1024];
    let n = stat.read_at(&mut buf, 0).ok()?;
    let stat = &buf[..n];
    // The command name may hold anything, even ')': the fields start after the last one.
    let at = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[at + 1..]).ok()?;
    // Fields 3 (state) onwards; num_threads is field 20.
    rest.split_ascii_whitespace().nth(17)?.parse().ok()
}

/// Whether signal `sig` is pending for thread `tid` of `pid` and not blocked by it (it will
/// be taken as soon as the thread runs), from `/proc/PID/task/TID/status`.
pub(crate) fn signal_waiting(pid: i32, tid: i32, sig: i32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")) else {
        return false;
    };
    let mask = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .unwrap_or(0)
    };
    let bit = 1u64 << (sig - 1);
    mask("SigPnd:") & bit != 0 && mask("SigBlk:") & bit == 0
}
