//! Signal syscalls: dispositions, masks, sending, waiting, the alternate stack, alarms.

use std::sync::Arc;
use std::time::{Duration, Instant};

use snare_abi::signal::{
    SigInfo, StackT, SIGCONT, SIGKILL, SIGSTOP, SI_TKILL, SI_USER, SS_DISABLE,
};
use snare_abi::{Errno, KernelSigaction};
use snare_syscalls_table::nr;

use super::arg::{i32_, u32_};
use super::Handler;
use crate::kernel::process::{bit, lock, sig_index, ThreadGroup, UNBLOCKABLE};
use crate::kernel::signal::{send_to_group, send_to_task, user_info, SS_AUTODISARM, SS_ONSTACK};
use crate::kernel::timers::Itimer;
use crate::kernel::{timer_service, timers, wait, Task};
use crate::mm::GuestMemory;

pub(super) const HANDLERS: &[(u32, Handler)] = &[
    (nr::RT_SIGACTION, sys_rt_sigaction),
    (nr::RT_SIGPROCMASK, sys_rt_sigprocmask),
    (nr::RT_SIGRETURN, sys_rt_sigreturn),
    (nr::RT_SIGPENDING, sys_rt_sigpending),
    (nr::RT_SIGSUSPEND, sys_rt_sigsuspend),
    (nr::RT_SIGTIMEDWAIT, sys_rt_sigtimedwait),
    (nr::RT_SIGQUEUEINFO, sys_rt_sigqueueinfo),
    (nr::RT_TGSIGQUEUEINFO, sys_rt_tgsigqueueinfo),
    (nr::SIGALTSTACK, sys_sigaltstack),
    (nr::KILL, sys_kill),
    (nr::TKILL, sys_tkill),
    (nr::TGKILL, sys_tgkill),
    (nr::PAUSE, sys_pause),
    (nr::ALARM, sys_alarm),
    (nr::SETITIMER, sys_setitimer),
    (nr::GETITIMER, sys_getitimer),
    (nr::PIDFD_OPEN, sys_pidfd_open),
    (nr::SIGNALFD, sys_signalfd),
    (nr::SIGNALFD4, sys_signalfd4),
    (nr::PIDFD_SEND_SIGNAL, sys_pidfd_send_signal),
];

/// Smallest alternate stack (MINSIGSTKSZ).
const MINSIGSTKSZ: u64 = 2048;

fn check_sig(sig: i32) -> Result<(), Errno> {
    if snare_abi::signal::valid_signal(sig) {
        Ok(())
    } else {
        Err(Errno::EINVAL)
    }
}

/// Reads a sigset argument of `size` bytes (must be 8).
fn read_set(task: &Task, addr: u64, size: u64) -> Result<u64, Errno> {
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    task.mm.read_val(addr)
}

/// Implements `rt_sigaction(2)`.
fn sys_rt_sigaction(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let sig = i32_(a[0]);
    if a[3] != 8 {
        return Err(Errno::EINVAL);
    }
    check_sig(sig)?;
    let new = if a[1] != 0 {
        if sig == SIGKILL || sig == SIGSTOP {
            return Err(Errno::EINVAL);
        }
        let mut n: KernelSigaction = task.mm.read_val(a[1])?;
        n.sa_mask.0 &= !UNBLOCKABLE;
        Some(n)
    } else {
        None
    };
    let old = {
        let mut acts = lock(&task.tg().actions);
        let slot = sig_index(sig)
            .and_then(|i| acts.get_mut(i))
            .ok_or(Errno::EINVAL)?;
        let old = *slot;
        if let Some(n) = new {
            *slot = n;
        }
        old
    };
    if let Some(n) = new {
        // Setting a signal to be ignored discards what is pending of it.
        if n.sa_handler == crate::kernel::signal::SIG_IGN
            || (n.sa_handler == crate::kernel::signal::SIG_DFL
                && matches!(
                    crate::kernel::signal::default_action(sig),
                    crate::kernel::signal::Default_::Ignore
                ))
        {
            lock(&task.tg().shared_pending).discard(bit(sig));
            for t in task.tg().state().threads.iter() {
                lock(&t.sig).pending.discard(bit(sig));
            }
        }
    }
    if a[2] != 0 {
        task.mm.write(a[2], snare_abi::pod::as_bytes(&old))?;
    }
    Ok(0)
}

/// Implements `rt_sigprocmask(2)`.
fn sys_rt_sigprocmask(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    if a[3] != 8 {
        return Err(Errno::EINVAL);
    }
    let old = task.sigmask();
    if a[1] != 0 {
        let set: u64 = task.mm.read_val(a[1])?;
        let new = match i32_(a[0]) {
            0 => old | set,
            1 => old & !set,
            2 => set,
            _ => return Err(Errno::EINVAL),
        };
        task.set_sigmask(new);
    }
    if a[2] != 0 {
        task.mm.write(a[2], &old.to_ne_bytes())?;
    }
    Ok(0)
}

/// Implements `rt_sigreturn(2)`.
fn sys_rt_sigreturn(task: &mut Task, _a: [u64; 6]) -> Result<u64, Errno> {
    match task.sigreturn() {
        Ok(rax) => Ok(rax),
        Err(_) => {
            // A corrupt frame: Linux kills the thread with SIGSEGV.
            task.force_signal(crate::kernel::signal::fault_info(
                snare_abi::signal::SIGSEGV,
                snare_abi::signal::SI_KERNEL,
                0,
            ));
            Ok(task.regs.rax)
        }
    }
}

/// Implements `rt_sigpending(2)`: pending signals that are blocked.
fn sys_rt_sigpending(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    if a[1] != 8 {
        return Err(Errno::EINVAL);
    }
    let own = lock(&task.handle.sig).pending.pending();
    let shared = lock(&task.tg().shared_pending).pending();
    let set = (own | shared) & task.sigmask();
    task.mm.write(a[0], &set.to_ne_bytes())?;
    Ok(0)
}

/// Implements `rt_sigsuspend(2)`: waits with a temporary mask until a signal is handled.
fn sys_rt_sigsuspend(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let set = read_set(task, a[0], a[1])?;
    let old = task.sigmask();
    task.set_sigmask(set);
    lock(&task.handle.sig).saved_mask = Some(old);
    let _: Result<(), Errno> = wait::block(&[], None, || None);
    Err(Errno::ERESTARTNOHAND)
}

/// Implements `pause(2)`.
fn sys_pause(_task: &mut Task, _a: [u64; 6]) -> Result<u64, Errno> {
    let _: Result<(), Errno> = wait::block(&[], None, || None);
    Err(Errno::ERESTARTNOHAND)
}

/// Implements `rt_sigtimedwait(2)`: takes a pending signal of `set` (blocked ones too).
fn sys_rt_sigtimedwait(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let set = read_set(task, a[0], a[3])? & !UNBLOCKABLE;
    let deadline = if a[2] != 0 {
        let ts: snare_abi::file::Timespec = task.mm.read_val(a[2])?;
        if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
            return Err(Errno::EINVAL);
        }
        Instant::now().checked_add(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
    } else {
        None
    };
    let handle = task.handle.clone();
    let take = || {
        lock(&handle.sig)
            .pending
            .take(set)
            .or_else(|| lock(&handle.tg.shared_pending).take(set))
    };
    let info = match wait::block(&[], deadline, || take().map(Ok)) {
        Ok(i) => i,
        Err(Errno::ETIMEDOUT) => return Err(Errno::EAGAIN),
        Err(Errno::ERESTARTSYS) => return Err(Errno::EINTR),
        Err(e) => return Err(e),
    };
    if a[1] != 0 {
        task.mm.write(a[1], snare_abi::pod::as_bytes(&info))?;
    }
    Ok(info.si_signo as u64)
}

/// The processes `kill(pid)` addresses.
fn kill_targets(task: &Task, pid: i32) -> Vec<Arc<ThreadGroup>> {
    let pids = lock(&task.k.pids);
    let live = pids
        .groups
        .values()
        .filter(|g| g.state().zombie.is_none())
        .cloned();
    match pid {
        p if p > 0 => pids.group(p).into_iter().collect(),
        0 => {
            let pgid = task.tg().state().pgid;
            live.filter(|g| g.state().pgid == pgid).collect()
        }
        -1 => live
            .filter(|g| g.tgid != 1 && g.tgid != task.tgid())
            .collect(),
        p => live.filter(|g| g.state().pgid == -p).collect(),
    }
}

/// The real uid of `task`'s process: the `si_uid` of what it sends.
fn sender_uid(task: &Task) -> u32 {
    task.tg().state().creds.ruid
}

/// Whether `task` may send `sig` to process `g` (Linux's `check_kill_permission`): a
/// sender with CAP_KILL may signal anyone; otherwise the sender's real or effective uid must be the
/// target's real or saved uid, except that SIGCONT reaches any process of the sender's
/// session. Signal 0 (an existence check) asks the same question.
fn may_signal(task: &Task, g: &ThreadGroup, sig: i32) -> bool {
    if g.tgid == task.tgid() {
        return true;
    }
    let (ruid, euid, sid, kill) = {
        let st = task.tg().state();
        let kill = st.creds.capable(snare_abi::caps::Cap::Kill);
        (st.creds.ruid, st.creds.euid, st.sid, kill)
    };
    if kill {
        return true;
    }
    let st = g.state();
    (sig == SIGCONT && st.sid == sid)
        || [ruid, euid]
            .iter()
            .any(|&u| u == st.creds.ruid || u == st.creds.suid)
}

/// Implements `kill(2)`. A group or broadcast kill signals those it may; a group with none
/// of them is EPERM, while kill(-1) is 0 whenever it found a process (as on Linux).
fn sys_kill(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let (pid, sig) = (i32_(a[0]), i32_(a[1]));
    if sig != 0 {
        check_sig(sig)?;
    }
    if pid == i32::MIN {
        return Err(Errno::ESRCH);
    }
    let targets = kill_targets(task, pid);
    if targets.is_empty() {
        return Err(Errno::ESRCH);
    }
    let uid = sender_uid(task);
    let mut sent = false;
    for g in targets.iter().filter(|g| may_signal(task, g, sig)) {
        sent = true;
        if sig != 0 {
            send_to_group(g, user_info(sig, SI_USER, task.tgid(), uid));
        }
    }
    if sent || pid == -1 {
        Ok(0)
    } else {
        Err(Errno::EPERM)
    }
}

fn thread_signal(task: &Task, tgid: Option<i32>, tid: i32, info: SigInfo) -> Result<u64, Errno> {
    if tid <= 0 || tgid.is_some_and(|g| g <= 0) {
        return Err(Errno::EINVAL);
    }
    if info.si_signo != 0 {
        check_sig(info.si_signo)?;
    }
    let t = lock(&task.k.pids).task(tid).ok_or(Errno::ESRCH)?;
    if tgid.is_some_and(|g| g != t.tg.tgid) {
        return Err(Errno::ESRCH);
    }
    if !may_signal(task, &t.tg, info.si_signo) {
        return Err(Errno::EPERM);
    }
    if info.si_signo != 0 {
        send_to_task(&t, info);
    }
    Ok(0)
}

/// Implements `tgkill(2)`.
fn sys_tgkill(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let info = user_info(i32_(a[2]), SI_TKILL, task.tgid(), sender_uid(task));
    thread_signal(task, Some(i32_(a[0])), i32_(a[1]), info)
}

/// Implements `tkill(2)`.
fn sys_tkill(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let info = user_info(i32_(a[1]), SI_TKILL, task.tgid(), sender_uid(task));
    thread_signal(task, None, i32_(a[0]), info)
}

/// Reads a caller-supplied siginfo for the queueinfo calls: only the caller's own process may
/// be sent kernel-looking codes.
fn queued_info(task: &Task, addr: u64, sig: i32, target: i32) -> Result<SigInfo, Errno> {
    let mut info: SigInfo = task.mm.read_val(addr)?;
    if (info.si_code >= 0 || info.si_code == SI_TKILL) && target != task.tgid() {
        return Err(Errno::EPERM);
    }
    info.si_signo = sig;
    Ok(info)
}

/// Implements `rt_sigqueueinfo(2)`.
fn sys_rt_sigqueueinfo(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let (pid, sig) = (i32_(a[0]), i32_(a[1]));
    if sig != 0 {
        check_sig(sig)?;
    }
    let info = queued_info(task, a[2], sig, pid)?;
    let g = lock(&task.k.pids).group(pid).ok_or(Errno::ESRCH)?;
    if !may_signal(task, &g, sig) {
        return Err(Errno::EPERM);
    }
    if sig != 0 {
        send_to_group(&g, info);
    }
    Ok(0)
}

/// Implements `rt_tgsigqueueinfo(2)`.
fn sys_rt_tgsigqueueinfo(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let (tgid, tid, sig) = (i32_(a[0]), i32_(a[1]), i32_(a[2]));
    if sig != 0 {
        check_sig(sig)?;
    }
    let info = queued_info(task, a[3], sig, tgid)?;
    thread_signal(task, Some(tgid), tid, info)
}

/// Implements `sigaltstack(2)`.
fn sys_sigaltstack(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let sp = task.regs.rsp;
    let on = task.altstack.ss_flags & SS_DISABLE == 0
        && sp.wrapping_sub(task.altstack.ss_sp) < task.altstack.ss_size;
    let mut old = task.altstack;
    if on {
        old.ss_flags = SS_ONSTACK;
    }
    if a[0] != 0 {
        let new: StackT = task.mm.read_val(a[0])?;
        if on {
            return Err(Errno::EPERM);
        }
        let mode = new.ss_flags & !SS_AUTODISARM;
        match mode {
            SS_DISABLE => {
                task.altstack = StackT {
                    ss_flags: SS_DISABLE,
                    ..StackT::default()
                }
            }
            0 | SS_ONSTACK => {
                if new.ss_size < MINSIGSTKSZ {
                    return Err(Errno::ENOMEM);
                }
                task.altstack = StackT {
                    ss_flags: new.ss_flags & SS_AUTODISARM,
                    ..new
                };
            }
            _ => return Err(Errno::EINVAL),
        }
    }
    if a[1] != 0 {
        task.mm.write(a[1], snare_abi::pod::as_bytes(&old))?;
    }
    Ok(0)
}

/// Implements `alarm(2)`: ITIMER_REAL for `secs` seconds, without an interval (0 cancels).
/// Returns the seconds that were left of the previous setting, rounded to the nearest (at
/// least 1 while armed), as Linux does.
fn sys_alarm(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let secs = u32_(a[0]);
    let t = timers::itimer(task.tg(), Itimer::Real);
    let (_, left) = t.settime(false, Duration::ZERO, Duration::from_secs(u64::from(secs)));
    let left = round_up_us(left);
    let mut secs = left.as_secs();
    if (secs == 0 && !left.is_zero()) || left.subsec_micros() >= 500_000 {
        secs = secs.saturating_add(1);
    }
    Ok(secs)
}

fn timeval_of(d: Duration) -> [i64; 2] {
    let d = timer_service::ktime(d);
    [d.as_secs() as i64, i64::from(d.subsec_micros())]
}

/// Reads a guest `struct itimerval` as (value, interval): EINVAL for a negative `tv_sec` or a
/// `tv_usec` outside 0..1,000,000, as Linux; times past [`timer_service::KTIME_MAX`] are
/// clamped to it.
fn read_itimerval(task: &Task, addr: u64) -> Result<(Duration, Duration), Errno> {
    let v: [i64; 4] = task.mm.read_val(addr)?;
    let dur = |s: i64, us: i64| {
        let (Ok(s), Ok(us)) = (u64::try_from(s), u32::try_from(us)) else {
            return Err(Errno::EINVAL);
        };
        if us >= 1_000_000 {
            return Err(Errno::EINVAL);
        }
        Ok(timer_service::ktime(Duration::new(s, us * 1000)))
    };
    Ok((dur(v[2], v[3])?, dur(v[0], v[1])?))
}

/// Writes a guest `struct itimerval` from (value, interval).
fn write_itimerval(
    task: &Task,
    addr: u64,
    (value, interval): (Duration, Duration),
) -> Result<(), Errno> {
    let [a, b] = timeval_of(interval);
    let [c, d] = timeval_of(value);
    task.mm.write(addr, snare_abi::pod::as_bytes(&[a, b, c, d]))
}

/// The interval timer a `which` argument names.
fn which_itimer(which: i32) -> Result<Itimer, Errno> {
    match which {
        0 => Ok(Itimer::Real),
        1 => Ok(Itimer::Virtual),
        2 => Ok(Itimer::Prof),
        _ => Err(Errno::EINVAL),
    }
}

/// Implements `setitimer(2)`: ITIMER_REAL on the monotonic clock (fired by the timer
/// service); ITIMER_VIRTUAL and ITIMER_PROF on the process's CPU time (checked every few
/// milliseconds, see `kernel/timers.rs`). A zero value disarms; a time past Linux's
/// `KTIME_MAX` is clamped to it (so it never fires). The old value is rounded up to whole
/// microseconds (an armed timer never reads zero).
fn sys_setitimer(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let which = which_itimer(i32_(a[0]))?;
    let new = if a[1] != 0 {
        Some(read_itimerval(task, a[1])?)
    } else {
        None
    };
    let t = timers::itimer(task.tg(), which);
    let (value, interval) = new.unwrap_or_default();
    let (old_interval, left) = t.settime(false, interval, value);
    if a[2] != 0 {
        write_itimerval(task, a[2], (round_up_us(left), old_interval))?;
    }
    Ok(0)
}

/// Rounds `d` up to whole microseconds (an armed timer never reads zero).
fn round_up_us(d: Duration) -> Duration {
    let us = d.as_nanos().div_ceil(1000);
    Duration::from_micros(u64::try_from(us).unwrap_or(u64::MAX))
}

/// Implements `getitimer(2)`: the time left (rounded up to whole microseconds) and the
/// interval.
fn sys_getitimer(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let which = which_itimer(i32_(a[0]))?;
    let (interval, left) = timers::itimer(task.tg(), which).gettime();
    write_itimerval(task, a[1], (round_up_us(left), interval))?;
    Ok(0)
}

const PIDFD_NONBLOCK: u32 = 0o4000;

/// Implements `pidfd_open(2)`.
fn sys_pidfd_open(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let (pid, flags) = (i32_(a[0]), u32_(a[1]));
    if pid <= 0 || flags & !PIDFD_NONBLOCK != 0 {
        return Err(Errno::EINVAL);
    }
    let g = lock(&task.k.pids).group(pid).ok_or(Errno::ESRCH)?;
    let f = crate::kernel::pidfd::PidFd::new(g, flags);
    Ok(task.fds.install(Arc::new(f), true, 0, task.nofile())? as u64)
}

/// The process a pidfd names.
pub(super) fn pidfd_process(task: &Task, fd: i32) -> Result<Arc<ThreadGroup>, Errno> {
    let f = task.fds.get(fd)?;
    (*f).as_any()
        .downcast_ref::<crate::kernel::pidfd::PidFd>()
        .map(|p| p.tg.clone())
        .ok_or(Errno::EBADF)
}

/// The process `pidfd_send_signal` signals through `fd`: a pidfd's, or that of an open
/// `/proc/<pid>` directory (ESRCH once that process is reaped: its pid then names no one,
/// or another).
fn signal_target(task: &Task, fd: i32) -> Result<Arc<ThreadGroup>, Errno> {
    let f = task.fds.get(fd)?;
    let any = (*f).as_any();
    if let Some(p) = any.downcast_ref::<crate::kernel::pidfd::PidFd>() {
        return Ok(p.tg.clone());
    }
    let process = any
        .downcast_ref::<crate::vfs::procfs::ProcFile>()
        .and_then(|p| p.process())
        .ok_or(Errno::EBADF)?;
    process.upgrade().ok_or(Errno::ESRCH)
}

/// Implements `pidfd_send_signal(2)`: through a pidfd or an open `/proc/<pid>` directory.
fn sys_pidfd_send_signal(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let sig = i32_(a[1]);
    if a[3] != 0 {
        return Err(Errno::EINVAL);
    }
    let g = signal_target(task, i32_(a[0]))?;
    if g.state().zombie.is_some() {
        return Err(Errno::ESRCH);
    }
    if sig != 0 {
        check_sig(sig)?;
    }
    if !may_signal(task, &g, sig) {
        return Err(Errno::EPERM);
    }
    if sig == 0 {
        return Ok(0);
    }
    let info = if a[2] != 0 {
        queued_info(task, a[2], sig, g.tgid)?
    } else {
        user_info(sig, SI_USER, task.tgid(), sender_uid(task))
    };
    send_to_group(&g, info);
    Ok(0)
}

const SFD_NONBLOCK: u32 = 0o4000;
const SFD_CLOEXEC: u32 = 0o2000000;

/// Implements `signalfd4(2)`: a new signalfd (fd -1) or a new mask for an existing one.
fn sys_signalfd4(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    use crate::kernel::signalfd::SignalFd;
    let flags = u32_(a[3]);
    if flags & !(SFD_NONBLOCK | SFD_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let mask = read_set(task, a[1], a[2])?;
    let n = i32_(a[0]);
    if n != -1 {
        let f = task.fds.get(n)?;
        let s = (*f)
            .as_any()
            .downcast_ref::<SignalFd>()
            .ok_or(Errno::EINVAL)?;
        s.set_mask(mask);
        return Ok(n as u64);
    }
    let f = SignalFd::new(task.tg().clone(), mask, flags & SFD_NONBLOCK);
    let limit = task.nofile();
    Ok(task
        .fds
        .install(Arc::new(f), flags & SFD_CLOEXEC != 0, 0, limit)? as u64)
}

/// Implements `signalfd(2)`.
fn sys_signalfd(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    sys_signalfd4(task, [a[0], a[1], a[2], 0, 0, 0])
}
