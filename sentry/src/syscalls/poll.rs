//! Waiting for files: poll, ppoll, select, pselect6 and the epoll family.
//!
//! Readiness is each file's `FileDescription::poll`; waits sleep in `block` on every file's
//! wait queue (`vfs::epoll::wait_sliced`), re-checking every 10 ms when a host stream (which
//! has no queue) is in the set. A signal ends a wait with `ERESTARTNOHAND` (poll, select) or
//! `EINTR` (epoll), as on Linux. Signal masks passed to ppoll/pselect6/epoll_pwait are checked
//! but not yet applied (signal delivery arrives with issue 4).

use std::sync::Arc;
use std::time::{Duration, Instant};

use snare_abi::file::{o, Timespec, Timeval};
use snare_abi::Errno;
use snare_syscalls_table::nr;

use super::arg::{check_flags, fd, i32_, u32_};
use super::ipc::read_timespec;
use super::Handler;
use crate::kernel::wait::WaitQueue;
use crate::kernel::Task;
use crate::mm::GuestMemory;
use crate::vfs::epoll::{wait_sliced, Epoll, EPOLL_CTL_DEL};
use crate::vfs::{poll, FileDescription};

pub(super) const HANDLERS: &[(u32, Handler)] = &[
    (nr::POLL, sys_poll),
    (nr::PPOLL, sys_ppoll),
    (nr::SELECT, sys_select),
    (nr::PSELECT6, sys_pselect6),
    (nr::EPOLL_CREATE, sys_epoll_create),
    (nr::EPOLL_CREATE1, sys_epoll_create1),
    (nr::EPOLL_CTL, sys_epoll_ctl),
    (nr::EPOLL_WAIT, sys_epoll_wait),
    (nr::EPOLL_PWAIT, sys_epoll_pwait),
    (nr::EPOLL_PWAIT2, sys_epoll_pwait2),
];

/// `sizeof(sigset_t)` in the kernel.
const SIGSET_SIZE: u64 = 8;
/// `select` readiness classes (Linux's POLLIN_SET, POLLOUT_SET, POLLEX_SET).
const IN_SET: u32 = poll::IN | poll::RDNORM | poll::RDBAND | poll::HUP | poll::ERR;
const OUT_SET: u32 = poll::OUT | poll::WRNORM | poll::WRBAND | poll::ERR;
const EX_SET: u32 = poll::PRI;

/// The deadline `d` from now (`None`, forever, if it doesn't fit).
fn after(d: Duration) -> Option<Instant> {
    Instant::now().checked_add(d)
}

/// A millisecond timeout argument: negative waits forever.
fn ms_deadline(ms: i32) -> Option<Instant> {
    u64::try_from(ms)
        .ok()
        .and_then(|ms| after(Duration::from_millis(ms)))
}

/// Installs the temporary signal mask of ppoll/pselect6/epoll_pwait (if `mask` isn't 0) for
/// the wait; returns whether one was installed.
fn install_sigmask(task: &Task, mask: u64, size: u64) -> Result<bool, Errno> {
    if mask == 0 {
        return Ok(false);
    }
    if size != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let new: u64 = task.mm.read_val(mask)?;
    let old = task.sigmask();
    task.set_sigmask(new);
    crate::kernel::process::lock(&task.handle.sig).saved_mask = Some(old);
    Ok(true)
}

/// Ends a temporary mask: restored now unless a signal interrupted the wait, in which case
/// the signal's delivery restores it (after its handler, through the frame).
fn end_sigmask(task: &Task, installed: bool, r: &Result<u64, Errno>) {
    let interrupted = matches!(
        r,
        Err(Errno::EINTR | Errno::ERESTARTNOHAND | Errno::ERESTARTSYS)
    );
    if installed && !interrupted {
        let saved = crate::kernel::process::lock(&task.handle.sig)
            .saved_mask
            .take();
        if let Some(m) = saved {
            task.set_sigmask(m);
        }
    }
}

/// Waits until `scan` finds something or `deadline` passes (`Ok(None)`), on the files'
/// queues; slices the wait when a file has none (a host stream).
fn wait_files<T>(
    files: &[Arc<dyn FileDescription>],
    deadline: Option<Instant>,
    scan: impl FnMut() -> Option<T>,
) -> Result<Option<T>, Errno> {
    let queues: Vec<&WaitQueue> = files.iter().filter_map(|f| f.wait_queue()).collect();
    let sliced = queues.len() < files.len();
    wait_sliced(&queues, deadline, sliced, scan)
}

/// Writes the time left until `deadline` as a timespec (ppoll, pselect6) or timeval
/// (select). Failures are ignored, as Linux does once the wait is over.
fn write_left(task: &Task, addr: u64, deadline: Option<Instant>, timeval: bool) {
    let (Some(d), true) = (deadline, addr != 0) else {
        return;
    };
    let left = d.saturating_duration_since(Instant::now());
    let secs = left.as_secs() as i64;
    let _ = if timeval {
        let t = Timeval {
            tv_sec: secs,
            tv_usec: i64::from(left.subsec_micros()),
        };
        task.mm.write(addr, snare_abi::pod::as_bytes(&t))
    } else {
        let t = Timespec {
            tv_sec: secs,
            tv_nsec: i64::from(left.subsec_nanos()),
        };
        task.mm.write(addr, snare_abi::pod::as_bytes(&t))
    };
}

/// poll and ppoll: the pollfd array at `addr`, waiting until `deadline`.
fn do_poll(task: &Task, addr: u64, nfds: u64, deadline: Option<Instant>) -> Result<u64, Errno> {
    // Linux: EINVAL past RLIMIT_NOFILE.
    let n = usize::try_from(nfds)
        .ok()
        .filter(|&n| n <= usize::try_from(task.nofile()).unwrap_or(0))
        .ok_or(Errno::EINVAL)?;
    let mut raw = vec![0u8; n * 8];
    task.mm.read(addr, &mut raw)?;
    // (file, fd, events asked) per entry; a negative fd is skipped, an unknown one is NVAL.
    type Entry = (Option<Arc<dyn FileDescription>>, i32, u32);
    let entries: Vec<Entry> = raw
        .chunks_exact(8)
        .map(|c| {
            let fd = i32::from_ne_bytes([c[0], c[1], c[2], c[3]]);
            let events = u32::from(u16::from_ne_bytes([c[4], c[5]]));
            let file = (fd >= 0).then(|| task.fds.get(fd).ok()).flatten();
            (file, fd, events)
        })
        .collect();
    let files: Vec<Arc<dyn FileDescription>> = entries.iter().filter_map(|e| e.0.clone()).collect();
    let scan = || {
        let revents: Vec<u32> = entries
            .iter()
            .map(|(file, fd, events)| match file {
                _ if *fd < 0 => 0,
                None => poll::NVAL,
                Some(f) => f.poll() & (events | poll::ERR | poll::HUP),
            })
            .collect();
        revents.iter().any(|&r| r != 0).then_some(revents)
    };
    let revents = wait_files(&files, deadline, scan)
        .map_err(restart_nohand)?
        .unwrap_or_else(|| vec![0; n]);
    for (i, r) in revents.iter().enumerate() {
        raw[8 * i + 6..8 * i + 8].copy_from_slice(&(*r as u16).to_ne_bytes());
    }
    task.mm.write(addr, &raw)?;
    Ok(revents.iter().filter(|&&r| r != 0).count() as u64)
}

/// A signal ended a poll or select: restart it unless a handler runs.
fn restart_nohand(e: Errno) -> Errno {
    if e == Errno::ERESTARTSYS {
        Errno::ERESTARTNOHAND
    } else {
        e
    }
}

/// Implements `poll(2)`.
fn sys_poll(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_poll(task, a[0], a[1], ms_deadline(i32_(a[2])))
}

/// Implements `ppoll(2)`; the time left is written back to the timeout, as Linux does.
fn sys_ppoll(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    if a[3] != 0 && a[4] != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let deadline = if a[2] == 0 {
        None
    } else {
        after(read_timespec(task, a[2])?)
    };
    let installed = install_sigmask(task, a[3], a[4])?;
    let r = do_poll(task, a[0], a[1], deadline);
    end_sigmask(task, installed, &r);
    write_left(task, a[2], deadline, false);
    r
}

/// select and pselect6: the three fd sets of `nfds` bits, waiting until `deadline`.
fn do_select(
    task: &Task,
    nfds: i32,
    sets: [u64; 3],
    deadline: Option<Instant>,
) -> Result<u64, Errno> {
    // Linux looks no further than its fd table, which holds the open fds and at least
    // RLIMIT_NOFILE's worth before it grows (the limit may have been lowered since).
    let table = task.fds.end().max(task.nofile()).max(1024);
    let n = usize::try_from(nfds)
        .map_err(|_| Errno::EINVAL)?
        .min(usize::try_from(table).unwrap_or(0));
    let words = n.div_ceil(64);
    let mut ins = [vec![0u64; words], vec![0u64; words], vec![0u64; words]];
    for (set, &addr) in ins.iter_mut().zip(&sets) {
        if addr != 0 && words > 0 {
            let mut b = vec![0u8; words * 8];
            task.mm.read(addr, &mut b)?;
            for (w, c) in set.iter_mut().zip(b.chunks_exact(8)) {
                let mut x = [0u8; 8];
                x.copy_from_slice(c);
                *w = u64::from_ne_bytes(x);
            }
        }
    }
    let bit = |set: &[u64], i: usize| set[i / 64] >> (i % 64) & 1 != 0;
    // (fd, file, [read, write, except] asked); any fd asked about must be open.
    let mut entries = Vec::new();
    for i in 0..n {
        let asked = [bit(&ins[0], i), bit(&ins[1], i), bit(&ins[2], i)];
        if asked.iter().any(|&b| b) {
            entries.push((i, task.fds.get(i as i32)?, asked));
        }
    }
    let files: Vec<Arc<dyn FileDescription>> = entries.iter().map(|e| e.1.clone()).collect();
    let scan = || {
        let mut out = [vec![0u64; words], vec![0u64; words], vec![0u64; words]];
        let mut count = 0u64;
        for (i, file, asked) in &entries {
            let ev = file.poll();
            for (k, class) in [IN_SET, OUT_SET, EX_SET].into_iter().enumerate() {
                if asked[k] && ev & class != 0 {
                    out[k][i / 64] |= 1 << (i % 64);
                    count += 1;
                }
            }
        }
        (count > 0).then_some((count, out))
    };
    let (count, out) = wait_files(&files, deadline, scan)
        .map_err(restart_nohand)?
        .unwrap_or_else(|| (0, [vec![0; words], vec![0; words], vec![0; words]]));
    for (set, &addr) in out.iter().zip(&sets) {
        if addr != 0 && words > 0 {
            let b: Vec<u8> = set.iter().flat_map(|w| w.to_ne_bytes()).collect();
            task.mm.write(addr, &b)?;
        }
    }
    Ok(count)
}

/// Implements `select(2)`; the time left is written back to the timeout, as Linux does.
fn sys_select(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let deadline = if a[4] == 0 {
        None
    } else {
        let tv: Timeval = task.mm.read_val(a[4])?;
        if tv.tv_sec < 0 || tv.tv_usec < 0 {
            return Err(Errno::EINVAL);
        }
        // Linux normalizes excess microseconds rather than refusing them.
        let us = (tv.tv_usec as u64).saturating_add((tv.tv_sec as u64).saturating_mul(1_000_000));
        after(Duration::from_micros(us))
    };
    let r = do_select(task, i32_(a[0]), [a[1], a[2], a[3]], deadline);
    write_left(task, a[4], deadline, true);
    r
}

/// Implements `pselect6(2)`: the sixth argument points at {sigset pointer, its size}.
fn sys_pselect6(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let (mut mask, mut size) = (0, 0);
    if a[5] != 0 {
        let mut b = [0u8; 16];
        task.mm.read(a[5], &mut b)?;
        let word = |i: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[8 * i..8 * i + 8]);
            u64::from_ne_bytes(x)
        };
        (mask, size) = (word(0), word(1));
        if mask != 0 && size != SIGSET_SIZE {
            return Err(Errno::EINVAL);
        }
    }
    let deadline = if a[4] == 0 {
        None
    } else {
        after(read_timespec(task, a[4])?)
    };
    let installed = install_sigmask(task, mask, size)?;
    let r = do_select(task, i32_(a[0]), [a[1], a[2], a[3]], deadline);
    end_sigmask(task, installed, &r);
    write_left(task, a[4], deadline, false);
    r
}

/// Installs a new epoll instance.
fn do_epoll_create(task: &Task, flags: u32) -> Result<u64, Errno> {
    let ep = Arc::new(Epoll::new(task.k.uid, task.k.gid));
    task.fds
        .install(ep, flags & o::CLOEXEC != 0, 0, task.nofile())
        .map(|n| n as u64)
}

/// Implements `epoll_create(2)`: the size hint must be positive and is otherwise ignored.
fn sys_epoll_create(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    if i32_(a[0]) <= 0 {
        return Err(Errno::EINVAL);
    }
    do_epoll_create(task, 0)
}

/// Implements `epoll_create1(2)` (`EPOLL_CLOEXEC`).
fn sys_epoll_create1(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let flags = check_flags(u32_(a[0]), o::CLOEXEC)?;
    do_epoll_create(task, flags)
}

/// The epoll instance behind fd `n`: EBADF if no file, EINVAL if not an epoll.
fn epoll_file(task: &Task, n: i32) -> Result<Arc<dyn FileDescription>, Errno> {
    let f = task.fds.get(n)?;
    if Epoll::of(&*f).is_none() {
        return Err(Errno::EINVAL);
    }
    Ok(f)
}

/// Implements `epoll_ctl(2)`: ADD, MOD, DEL; level-triggered by default, `EPOLLET`,
/// `EPOLLONESHOT`, `EPOLLEXCLUSIVE` (accepted; every waiter is woken), `EPOLLWAKEUP`
/// (ignored). Regular files and directories are refused with `EPERM`, as on Linux.
fn sys_epoll_ctl(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let (epfd, op, tfd) = (fd(a[0]), i32_(a[1]), fd(a[2]));
    let ep = task.fds.get(epfd)?;
    let target = task.fds.get(tfd)?;
    let ep = Epoll::of(&*ep).ok_or(Errno::EINVAL)?;
    let (events, data) = if op == EPOLL_CTL_DEL {
        (0, 0)
    } else {
        // struct epoll_event is packed: u32 events, u64 data.
        let mut b = [0u8; 12];
        task.mm.read(a[3], &mut b)?;
        let mut d = [0u8; 8];
        d.copy_from_slice(&b[4..]);
        (
            u32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
            u64::from_ne_bytes(d),
        )
    };
    ep.ctl(op, tfd, &target, events, data)?;
    Ok(0)
}

/// epoll_wait and its variants: up to `max` events into the array at `addr`.
fn do_epoll_wait(
    task: &Task,
    epfd: i32,
    addr: u64,
    max: i32,
    deadline: Option<Instant>,
) -> Result<u64, Errno> {
    const EP_MAX_EVENTS: i32 = i32::MAX / 12;
    if !(1..=EP_MAX_EVENTS).contains(&max) {
        return Err(Errno::EINVAL);
    }
    let f = epoll_file(task, epfd)?;
    let ep = Epoll::of(&*f).ok_or(Errno::EINVAL)?;
    let got = ep.wait(max as usize, deadline).map_err(|e| {
        if e == Errno::ERESTARTSYS {
            Errno::EINTR
        } else {
            e
        }
    })?;
    let mut out = Vec::with_capacity(got.len() * 12);
    for (ev, data) in &got {
        out.extend_from_slice(&ev.to_ne_bytes());
        out.extend_from_slice(&data.to_ne_bytes());
    }
    task.mm.write(addr, &out)?;
    Ok(got.len() as u64)
}

/// Implements `epoll_wait(2)`.
fn sys_epoll_wait(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_epoll_wait(task, fd(a[0]), a[1], i32_(a[2]), ms_deadline(i32_(a[3])))
}

/// Implements `epoll_pwait(2)`.
fn sys_epoll_pwait(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let installed = install_sigmask(task, a[4], a[5])?;
    let r = do_epoll_wait(task, fd(a[0]), a[1], i32_(a[2]), ms_deadline(i32_(a[3])));
    end_sigmask(task, installed, &r);
    r
}

/// Implements `epoll_pwait2(2)`: the timeout is a timespec (NULL waits forever).
fn sys_epoll_pwait2(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    if a[4] != 0 && a[5] != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let deadline = if a[3] == 0 {
        None
    } else {
        after(read_timespec(task, a[3])?)
    };
    let installed = install_sigmask(task, a[4], a[5])?;
    let r = do_epoll_wait(task, fd(a[0]), a[1], i32_(a[2]), deadline);
    end_sigmask(task, installed, &r);
    r
}
