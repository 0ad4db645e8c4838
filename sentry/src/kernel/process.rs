//! Processes: thread groups, the sandbox's pid namespace, and the part of a task that other
//! tasks touch (pending signals, the signal mask, its waker).
//!
//! Lock order: [`PidTable`] → [`ThreadGroup::state`] → [`ThreadGroup::actions`] →
//! [`ThreadGroup::shared_pending`] → [`TaskHandle`]'s signal state → a timer's state. Wakers
//! and a handle's scheduling attributes ([`TaskHandle::sched`]) are leaves.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use snare_abi::signal::{valid_signal, SigInfo, SIGKILL, SIGSTOP};
use snare_abi::KernelSigaction;
use snare_platform::systrap::SystrapInterrupter;
use snare_platform::Interrupter;

use super::timers::{PosixTimer, ProcessTimers};
use super::wait::{Sleeper, WaitQueue, Wake, Waker};
use super::ExitStatus;

/// Highest pid handed out before wrapping (Linux's default `pid_max`).
pub const PID_MAX: i32 = 4_194_304;

/// Most live tasks the sandbox holds (RLIMIT_NPROC's value).
pub const MAX_TASKS: usize = 1024;

/// Signals that can be neither caught, blocked nor ignored.
pub const UNBLOCKABLE: u64 = bit(SIGKILL) | bit(SIGSTOP);

/// The mask bit of signal `sig`; 0 for a number that names no signal.
pub const fn bit(sig: i32) -> u64 {
    if valid_signal(sig) {
        1u64 << (sig - 1)
    } else {
        0
    }
}

/// The index of signal `sig` in a table of 64 (dispositions): `None` for a number that names
/// no signal.
pub fn sig_index(sig: i32) -> Option<usize> {
    valid_signal(sig).then(|| (sig - 1) as usize)
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Pending signals: a bitmask plus the queued siginfos. Standard signals (< 32) are pending at
/// most once; real-time signals queue. A POSIX timer's signal remembers its timer.
#[derive(Debug, Default)]
pub struct SigQueue {
    pending: u64,
    infos: VecDeque<(SigInfo, Option<Arc<PosixTimer>>)>,
}

impl SigQueue {
    pub fn pending(&self) -> u64 {
        self.pending
    }

    /// Queues `info`; false if a standard signal was already pending (merged) or
    /// `si_signo` names no signal (dropped).
    pub fn push(&mut self, info: SigInfo) -> bool {
        let b = bit(info.si_signo);
        if b == 0 || (info.si_signo < 32 && self.pending & b != 0) {
            return false;
        }
        self.pending |= b;
        self.infos.push_back((info, None));
        true
    }

    /// Queues `info`, the signal of `timer` for `count` expiries; if a signal of `timer` is
    /// still queued, the expiries are added to its overruns instead (false then).
    pub fn push_timer(&mut self, info: SigInfo, timer: &Arc<PosixTimer>, count: u64) -> bool {
        let queued = self
            .infos
            .iter_mut()
            .find(|(_, t)| t.as_ref().is_some_and(|t| Arc::ptr_eq(t, timer)));
        if let Some((i, _)) = queued {
            let more = i32::try_from(count).unwrap_or(i32::MAX);
            i.set_overrun(i.overrun().saturating_add(more));
            return false;
        }
        let b = bit(info.si_signo);
        if b == 0 {
            return false;
        }
        self.pending |= b;
        self.infos.push_back((info, Some(timer.clone())));
        true
    }

    /// Takes the lowest-numbered pending signal in `allowed`.
    pub fn take(&mut self, allowed: u64) -> Option<SigInfo> {
        let avail = self.pending & allowed;
        if avail == 0 {
            return None;
        }
        let sig = avail.trailing_zeros() as i32 + 1;
        let i = self.infos.iter().position(|(s, _)| s.si_signo == sig)?;
        let (info, timer) = self.infos.remove(i)?;
        if !self.infos.iter().any(|(s, _)| s.si_signo == sig) {
            self.pending &= !bit(sig);
        }
        if let Some(t) = timer {
            t.delivered(&info);
        }
        Some(info)
    }

    /// Drops every pending instance of the signals in `set`.
    pub fn discard(&mut self, set: u64) {
        self.pending &= !set;
        self.infos.retain(|(s, _)| set & bit(s.si_signo) == 0);
    }
}

/// A task's signal state that other tasks read or change.
#[derive(Debug, Default)]
pub struct TaskSignals {
    pub pending: SigQueue,
    /// Blocked signals.
    pub mask: u64,
    /// The mask to restore after a temporary one (`rt_sigsuspend`, `ppoll`, `pselect6`).
    pub saved_mask: Option<u64>,
    /// Signals queued by a fault (`force_signal`): fatal even to init.
    pub forced: u64,
}

/// The shared part of a task.
#[derive(Debug)]
pub struct TaskHandle {
    pub tid: i32,
    pub tg: Arc<ThreadGroup>,
    pub waker: Arc<Waker>,
    pub sig: Mutex<TaskSignals>,
    /// Kicks the task out of guest code (replaced when execve gives it a new context).
    pub interrupter: Mutex<Option<SystrapInterrupter>>,
    /// Set when the task must exit (exit_group, a fatal signal, another thread's execve).
    pub killed: AtomicBool,
    /// Set whenever something may need the task's signal handling before it runs guest code
    /// again (a signal sent, the mask changed, a stop or continue): the run loop skips that
    /// work, and its locks, while this is clear.
    pub attention: AtomicBool,
    /// CPU time bookkeeping: (user, system) µs of the current stub thread when the task took
    /// it, and of earlier stub threads (before an exec gave it a new one).
    pub cpu: Mutex<CpuAccount>,
    /// What other tasks' `/proc/PID` reads of this one (its memory, files, directories).
    pub view: Mutex<TaskView>,
    /// The thread's own seccomp mode and filters (`kernel::seccomp_bpf`), if any; another
    /// thread's `SECCOMP_FILTER_FLAG_TSYNC` may set it.
    pub seccomp: Mutex<Option<super::seccomp_bpf::Mode>>,
    /// Whether `seccomp` is set: the syscall path looks here first, without the lock.
    pub seccomp_on: AtomicBool,
    /// Nice value, scheduling policy, affinity, I/O priority, personality (`kernel::sched`).
    pub sched: Mutex<super::sched::SchedAttrs>,
}

/// A task's memory, fd table and file-system context as others see them (`/proc/PID`):
/// weak references, so they never change whether the task's own are shared (its syscalls
/// decide that by `Arc::strong_count`) nor keep them alive once it lets them go. The task
/// republishes them whenever it replaces one (`Task::publish`) and empties the view as it
/// exits.
#[derive(Debug, Default)]
pub struct TaskView {
    pub mm: std::sync::Weak<crate::mm::MemoryManager>,
    pub fds: std::sync::Weak<crate::vfs::FdTable>,
    pub fs: std::sync::Weak<super::task::FsContext>,
}

/// See [`TaskHandle::cpu`].
#[derive(Debug, Default, Clone, Copy)]
pub struct CpuAccount {
    pub base: (u64, u64),
    pub banked: (u64, u64),
}

impl TaskHandle {
    pub fn new(tid: i32, tg: Arc<ThreadGroup>, mask: u64) -> Arc<TaskHandle> {
        Self::with_sched(tid, tg, mask, super::sched::SchedAttrs::default())
    }

    /// [`TaskHandle::new`] with the scheduling attributes `sched` (a clone's).
    pub fn with_sched(
        tid: i32,
        tg: Arc<ThreadGroup>,
        mask: u64,
        sched: super::sched::SchedAttrs,
    ) -> Arc<TaskHandle> {
        Arc::new(TaskHandle {
            tid,
            tg,
            waker: Waker::new(),
            sig: Mutex::new(TaskSignals {
                mask,
                ..TaskSignals::default()
            }),
            interrupter: Mutex::new(None),
            killed: AtomicBool::new(false),
            attention: AtomicBool::new(true),
            cpu: Mutex::new(CpuAccount::default()),
            view: Mutex::new(TaskView::default()),
            seccomp: Mutex::new(None),
            seccomp_on: AtomicBool::new(false),
            sched: Mutex::new(sched),
        })
    }

    /// The thread's seccomp state, if it has one.
    pub fn seccomp_mode(&self) -> Option<super::seccomp_bpf::Mode> {
        if !self.seccomp_on.load(std::sync::atomic::Ordering::Acquire) {
            return None;
        }
        lock(&self.seccomp).clone()
    }

    /// Sets the thread's seccomp state (a new filter, TSYNC, a clone's inheritance).
    pub fn set_seccomp(&self, mode: Option<super::seccomp_bpf::Mode>) {
        let on = mode.is_some();
        *lock(&self.seccomp) = mode;
        self.seccomp_on
            .store(on, std::sync::atomic::Ordering::Release);
    }

    /// Runs the task on the stub thread behind `intr` from now on. Its CPU time so far on an
    /// earlier stub thread is banked; a reused stub thread's past time is not the task's.
    pub fn set_context(&self, intr: SystrapInterrupter, reused_thread: bool) {
        let now = |i: &SystrapInterrupter| {
            let (pid, tid) = i.host_ids();
            super::timers::stub_thread_cpu(pid, tid)
        };
        let watched = self.tg.state().cpu_watched;
        let base = if reused_thread && watched {
            now(&intr)
        } else {
            (0, 0)
        };
        let mut slot = lock(&self.interrupter);
        let mut cpu = lock(&self.cpu);
        if let Some(old) = slot.as_ref().filter(|_| watched) {
            let (u, s) = now(old);
            cpu.banked.0 += u.saturating_sub(cpu.base.0);
            cpu.banked.1 += s.saturating_sub(cpu.base.1);
        }
        cpu.base = base;
        *slot = Some(intr);
    }

    pub fn mask(&self) -> u64 {
        lock(&self.sig).mask
    }

    /// The thread's scheduling attributes.
    pub fn sched(&self) -> MutexGuard<'_, super::sched::SchedAttrs> {
        lock(&self.sched)
    }

    /// Gets the task's attention: wakes it if it sleeps in the Sentry, interrupts it if it
    /// runs guest code.
    #[track_caller]
    pub fn kick(&self) {
        tracing::trace!(tid = self.tid, at = %std::panic::Location::caller(), "kick");
        self.kick_with(Interrupter::interrupt);
    }

    /// Like [`TaskHandle::kick`], for a task that must stop for good (killed, or a signal
    /// whose action ends its process): one whose guest code keeps the interrupt from its host
    /// thread is ended by force by the platform ([`Interrupter::interrupt_fatal`]).
    #[track_caller]
    pub fn kick_fatal(&self) {
        tracing::trace!(tid = self.tid, at = %std::panic::Location::caller(), "fatal kick");
        self.kick_with(Interrupter::interrupt_fatal);
    }

    fn kick_with(&self, interrupt: fn(&SystrapInterrupter)) {
        self.attention.store(true, Ordering::SeqCst);
        // Interrupt before waking: a task woken first could clear the interrupt and run its
        // guest before it is sent, which would then stop the guest for nothing.
        if let Some(i) = lock(&self.interrupter).as_ref() {
            interrupt(i);
        }
        self.waker.wake();
    }

    /// Makes the task exit at its next chance.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.kick_fatal();
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }

    /// Whether an unblocked signal is pending for this task (its own or its process's).
    pub fn has_deliverable(&self) -> bool {
        let mask = self.mask();
        if lock(&self.sig).pending.pending() & !mask != 0 {
            return true;
        }
        lock(&self.tg.shared_pending).pending() & !mask != 0
    }
}

impl Sleeper for TaskHandle {
    fn waker(&self) -> Arc<Waker> {
        self.waker.clone()
    }

    fn interrupted(&self) -> bool {
        self.is_killed() || self.has_deliverable()
    }

    fn hint_sleep(&self) {
        if let Some(i) = lock(&self.interrupter).as_ref() {
            i.hint_sleep();
        }
    }
}

/// Why a process is stopped or continued, for `wait4(WUNTRACED|WCONTINUED)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobEvent {
    Stopped(i32),
    Continued,
}

/// A process's credentials: user and group ids, capabilities (`kernel::caps`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Creds {
    pub ruid: u32,
    pub euid: u32,
    pub suid: u32,
    /// The filesystem ids (`setfsuid`): what file permission checks use; every other
    /// change of the effective id sets it too.
    pub fsuid: u32,
    pub rgid: u32,
    pub egid: u32,
    pub sgid: u32,
    pub fsgid: u32,
    pub groups: Vec<u32>,
    pub caps: super::caps::CapSets,
}

impl Creds {
    /// Everything set to one user and group, with the capabilities a process of that
    /// user started by root has ([`super::caps::CapSets::for_uid`]).
    pub fn of(uid: u32, gid: u32) -> Creds {
        Creds {
            ruid: uid,
            euid: uid,
            suid: uid,
            fsuid: uid,
            rgid: gid,
            egid: gid,
            sgid: gid,
            fsgid: gid,
            groups: Vec::new(),
            caps: super::caps::CapSets::for_uid(uid),
        }
    }

    /// Whether the process holds `cap` (in its effective set): Linux's `capable`.
    pub fn capable(&self, cap: snare_abi::caps::Cap) -> bool {
        self.caps.has(cap)
    }
}

/// A process's mutable state.
#[derive(Debug)]
pub struct TgState {
    /// None for the sandbox's init.
    pub parent: Option<Arc<ThreadGroup>>,
    pub children: Vec<Arc<ThreadGroup>>,
    /// Live threads.
    pub threads: Vec<Arc<TaskHandle>>,
    pub pgid: i32,
    pub sid: i32,
    /// Set by exit_group or a fatal signal: every thread exits with this status.
    pub group_exit: Option<ExitStatus>,
    /// Set when the last thread exited: the process is a zombie until reaped.
    pub zombie: Option<ExitStatus>,
    /// Stopped by a job-control signal until SIGCONT.
    pub stopped: bool,
    /// An unreported stop or continue (wait4 with WUNTRACED / WCONTINUED).
    pub job_event: Option<JobEvent>,
    /// Signal sent to the parent at exit (SIGCHLD for fork; clone's low byte).
    pub exit_signal: i32,
    /// The executable's guest path (/proc/PID/exe).
    pub exe: Vec<u8>,
    /// Guest address ranges of argv and envp strings.
    pub args: (u64, u64),
    pub env: (u64, u64),
    /// `comm` (PR_SET_NAME, /proc/PID/comm): at most 15 bytes.
    pub comm: Vec<u8>,
    /// Whether it has called execve since fork (for setpgid's EACCES).
    pub did_exec: bool,
    /// User and group ids.
    pub creds: Creds,
    /// PR_SET_CHILD_SUBREAPER.
    pub subreaper: bool,
    /// PR_SET_PDEATHSIG.
    pub pdeathsig: i32,
    /// CPU time (user, system) µs of the process's threads that have exited.
    pub exited_cpu: (u64, u64),
    /// CPU time, (user, system) µs, of the children this process waited for, theirs
    /// included (`getrusage(RUSAGE_CHILDREN)`, `times`' cutime/cstime).
    pub children_cpu: (u64, u64),
    /// Set once the process has asked for its CPU time (times, getrusage, CPU clocks and
    /// timers): from then on threads record where their stub thread's time starts and bank
    /// it when they leave. Reading a stub thread's time costs two /proc reads, which thread
    /// creation shouldn't pay for processes that never look.
    pub cpu_watched: bool,
    /// Host pid of the stub process the group runs in (see `kernel::stubwatch`).
    pub stub_pid: i32,
    /// Released by execve or exit when a vfork parent waits on this process.
    pub vfork_done: bool,
    /// POSIX timers and the interval timers (setitimer, alarm).
    pub timers: ProcessTimers,
    /// Resource limits (fork copies them, execve keeps them).
    pub rlimits: super::rlimits::Rlimits,
}

impl TgState {
    /// Installs new credentials as Linux's `commit_creds` does: a change of the effective
    /// or filesystem ids, or permitted capabilities gained, clear the parent-death signal.
    pub fn commit_creds(&mut self, new: Creds) {
        let old = &self.creds;
        let gained = new.caps.permitted & !old.caps.permitted != 0;
        let moved = (old.euid, old.egid, old.fsuid, old.fsgid)
            != (new.euid, new.egid, new.fsuid, new.fsgid);
        if moved || gained {
            self.pdeathsig = 0;
        }
        self.creds = new;
    }
}

/// A process: a group of threads sharing a pid, signal dispositions and a parent.
#[derive(Debug)]
pub struct ThreadGroup {
    pub tgid: i32,
    pub state: Mutex<TgState>,
    /// Signal dispositions (shared by the threads).
    pub actions: Mutex<[KernelSigaction; 64]>,
    /// Signals sent to the process as a whole.
    pub shared_pending: Mutex<SigQueue>,
    /// Notified when a child changes state (wait4 sleeps here) and when a vfork child
    /// releases this process.
    pub child_events: WaitQueue,
    /// Notified when this process exits or execs (vfork parents sleep here).
    pub exit_events: WaitQueue,
    /// Notified whenever a signal is queued for the process or one of its threads
    /// (signalfd readers and pollers).
    pub signal_events: WaitQueue,
}

impl ThreadGroup {
    pub fn new(tgid: i32, parent: Option<Arc<ThreadGroup>>, pgid: i32, sid: i32) -> ThreadGroup {
        ThreadGroup {
            tgid,
            state: Mutex::new(TgState {
                parent,
                children: Vec::new(),
                threads: Vec::new(),
                pgid,
                sid,
                group_exit: None,
                zombie: None,
                stopped: false,
                job_event: None,
                exit_signal: snare_abi::signal::SIGCHLD,
                exe: Vec::new(),
                args: (0, 0),
                env: (0, 0),
                comm: Vec::new(),
                did_exec: false,
                creds: Creds::default(),
                subreaper: false,
                pdeathsig: 0,
                exited_cpu: (0, 0),
                children_cpu: (0, 0),
                cpu_watched: false,
                stub_pid: 0,
                vfork_done: false,
                timers: ProcessTimers::default(),
                rlimits: super::rlimits::Rlimits::default(),
            }),
            actions: Mutex::new([KernelSigaction::default(); 64]),
            shared_pending: Mutex::new(SigQueue::default()),
            child_events: WaitQueue::new(),
            exit_events: WaitQueue::new(),
            signal_events: WaitQueue::new(),
        }
    }

    pub fn state(&self) -> MutexGuard<'_, TgState> {
        lock(&self.state)
    }

    /// The disposition of `sig` (the default one for a number that names no signal).
    pub fn action(&self, sig: i32) -> KernelSigaction {
        sig_index(sig)
            .and_then(|i| lock(&self.actions).get(i).copied())
            .unwrap_or_default()
    }

    pub fn ppid(&self) -> i32 {
        self.state().parent.as_ref().map_or(0, |p| p.tgid)
    }
}

/// The sandbox's pid namespace.
#[derive(Debug, Default)]
pub struct PidTable {
    last: i32,
    /// Live tasks by tid.
    pub tasks: BTreeMap<i32, Arc<TaskHandle>>,
    /// Processes by tgid, live or zombie (until reaped).
    pub groups: BTreeMap<i32, Arc<ThreadGroup>>,
    /// A container's pids limit (`live_limits`): most live tasks, threads included.
    pub limit: Option<usize>,
}

impl PidTable {
    /// A free pid (not a live tid nor an unreaped tgid); EAGAIN when the table is full, or
    /// at the pids limit.
    pub fn allocate(&mut self) -> Result<i32, snare_abi::Errno> {
        if self.tasks.len() >= MAX_TASKS || self.at_limit() {
            return Err(snare_abi::Errno::EAGAIN);
        }
        for _ in 0..PID_MAX {
            self.last = if self.last >= PID_MAX - 1 {
                300
            } else {
                self.last + 1
            };
            let p = self.last;
            if !self.tasks.contains_key(&p) && !self.groups.contains_key(&p) {
                return Ok(p);
            }
        }
        Err(snare_abi::Errno::EAGAIN)
    }

    /// Whether the tasks counted against the pids limit reach it: as Linux's pids
    /// controller counts them, the live tasks and the processes whose leader is gone but
    /// not yet reaped (a zombie holds its pid until its parent waits).
    fn at_limit(&self) -> bool {
        let Some(limit) = self.limit else {
            return false;
        };
        if self.tasks.len() + self.groups.len() < limit {
            return false;
        }
        let zombies = self
            .groups
            .keys()
            .filter(|g| !self.tasks.contains_key(g))
            .count();
        self.tasks.len() + zombies >= limit
    }

    pub fn task(&self, tid: i32) -> Option<Arc<TaskHandle>> {
        self.tasks.get(&tid).cloned()
    }

    pub fn group(&self, tgid: i32) -> Option<Arc<ThreadGroup>> {
        self.groups.get(&tgid).cloned()
    }
}

impl Wake for TaskHandle {
    fn wake(&self) {
        self.waker.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(sig: i32, code: i32) -> SigInfo {
        SigInfo {
            si_signo: sig,
            si_code: code,
            ..SigInfo::default()
        }
    }

    #[test]
    fn standard_signals_merge_rt_signals_queue() {
        let mut q = SigQueue::default();
        assert!(q.push(info(10, 0)));
        assert!(!q.push(info(10, 1)));
        assert!(q.push(info(40, 0)));
        assert!(q.push(info(40, 1)));
        assert_eq!(q.take(!0).map(|i| i.si_signo), Some(10));
        assert_eq!(q.take(!0).map(|i| i.si_code), Some(0));
        assert_eq!(q.take(!bit(40)), None);
        assert_eq!(q.take(!0).map(|i| i.si_code), Some(1));
        assert_eq!(q.pending(), 0);
    }

    #[test]
    fn numbers_that_name_no_signal_index_nothing() {
        for sig in [0, -5, 65, 1000, i32::MIN, i32::MAX] {
            assert_eq!(bit(sig), 0, "{sig}");
            assert_eq!(sig_index(sig), None, "{sig}");
            let mut q = SigQueue::default();
            assert!(!q.push(info(sig, 0)), "{sig} is dropped");
            assert_eq!(q.pending(), 0);
            let tg = ThreadGroup::new(5, None, 5, 5);
            assert_eq!(tg.action(sig).sa_handler, 0);
        }
        assert_eq!((bit(1), bit(64)), (1, 1 << 63));
        assert_eq!((sig_index(1), sig_index(64)), (Some(0), Some(63)));
    }

    #[test]
    fn a_pending_timer_signal_counts_overruns() {
        use crate::kernel::timers::{Notify, PosixTimer, TimerClock};
        let tg = Arc::new(ThreadGroup::new(5, None, 5, 5));
        let clock = TimerClock::Wall(crate::vfs::timerfd::Clock::Monotonic);
        let t = Arc::new(PosixTimer::new(3, clock, Notify::None, &tg));
        let mut q = SigQueue::default();
        assert!(q.push_timer(SigInfo::timer(34, 3, 0, 9), &t, 1));
        assert!(!q.push_timer(SigInfo::timer(34, 3, 0, 9), &t, 2));
        assert!(q.push(info(34, 0)), "other senders still queue");
        let got = q.take(!0).expect("the timer's signal");
        assert_eq!((got.si_code, got.overrun(), got.fields[1]), (-2, 2, 9));
        assert_eq!(t.overrun(), 2);
        assert_eq!(q.take(!0).map(|i| i.si_code), Some(0));
    }

    #[test]
    fn the_pids_limit_counts_tasks_and_zombies() {
        let mut p = PidTable {
            limit: Some(3),
            ..PidTable::default()
        };
        // Two live tasks (a process and its thread) and one zombie process.
        let tg = Arc::new(ThreadGroup::new(10, None, 10, 10));
        p.groups.insert(10, tg.clone());
        p.tasks.insert(10, TaskHandle::new(10, tg.clone(), 0));
        p.tasks.insert(11, TaskHandle::new(11, tg.clone(), 0));
        assert!(p.allocate().is_ok());
        p.groups
            .insert(20, Arc::new(ThreadGroup::new(20, None, 20, 20)));
        assert_eq!(p.allocate(), Err(snare_abi::Errno::EAGAIN));
        // Reaped: room again; a raised limit, too.
        p.groups.remove(&20);
        assert!(p.allocate().is_ok());
        p.tasks.insert(12, TaskHandle::new(12, tg, 0));
        assert_eq!(p.allocate(), Err(snare_abi::Errno::EAGAIN));
        p.limit = Some(4);
        assert!(p.allocate().is_ok());
    }

    #[test]
    fn pids_skip_used_ones() {
        let mut p = PidTable::default();
        let a = p.allocate().expect("a pid");
        let tg = Arc::new(ThreadGroup::new(a, None, a, a));
        p.groups.insert(a, tg);
        let b = p.allocate().expect("a pid");
        assert_ne!(a, b);
    }
}
