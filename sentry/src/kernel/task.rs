//! A task: one guest thread, its registers, its process's memory and files, and the Sentry
//! thread that runs it.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use snare_abi::signal::{StackT, SIGILL, SIGKILL, SIGSEGV, SS_DISABLE};
use snare_abi::{Errno, UserRegs};
use snare_platform::systrap::SystrapContext;
use snare_platform::{Context, Event};

use super::process::{lock, TaskHandle, ThreadGroup};
use super::Kernel;
use crate::mm::{GuestMemory, MemoryManager};
use crate::vfs::mount::MountTable;
use crate::vfs::{FdTable, FileDescription};

/// How a guest process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
}

impl ExitStatus {
    /// The status a shell reports: the code, or 128 + the signal.
    pub fn shell_code(self) -> i32 {
        match self {
            ExitStatus::Code(c) => c & 0xff,
            ExitStatus::Signal(s) => 128 + s,
        }
    }
}

/// What `restart_syscall(2)` goes on with after a call ended with ERESTART_RESTARTBLOCK
/// (Linux's `restart_block`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartBlock {
    /// A relative `nanosleep`/`clock_nanosleep` until `deadline` (`None`: for ever), with its
    /// `rem` pointer.
    Sleep {
        deadline: Option<std::time::Instant>,
        rem: u64,
    },
}

/// The current directory: its path, and a description of it that follows its moves when
/// its filesystem has one (see [`FsContext::cwd`]).
#[derive(Debug)]
struct Cwd {
    path: Vec<u8>,
    dir: Option<Arc<dyn FileDescription>>,
}

/// What `CLONE_FS` shares: the current directory, the root (`chroot`) and the umask; and
/// the mount namespace
/// (which `unshare(CLONE_NEWNS)` replaces along with a copy of the rest, as Linux's
/// `CLONE_NEWNS` implies unsharing `CLONE_FS`).
#[derive(Debug)]
pub struct FsContext {
    cwd: Mutex<Cwd>,
    root: Mutex<Arc<[u8]>>,
    umask: AtomicU32,
    pub mounts: Arc<MountTable>,
}

impl FsContext {
    pub fn new(cwd: Vec<u8>, umask: u32, mounts: Arc<MountTable>) -> FsContext {
        FsContext {
            cwd: Mutex::new(Cwd {
                path: cwd,
                dir: None,
            }),
            root: Mutex::new(Arc::from(&b"/"[..])),
            umask: AtomicU32::new(umask),
            mounts,
        }
    }

    /// The root directory (`chroot`): an absolute, normalized path in the mount namespace.
    /// (Shared, not copied: every path syscall asks.)
    pub fn root(&self) -> Arc<[u8]> {
        self.root.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_root(&self, root: Arc<[u8]>) {
        *self.root.lock().unwrap_or_else(|e| e.into_inner()) = root;
    }

    /// The current directory, an absolute, normalized path in the mount namespace (where
    /// the directory is now, if it moved; ending in ` (deleted)` once it is removed).
    pub fn cwd(&self) -> Vec<u8> {
        let c = self.cwd.lock().unwrap_or_else(|e| e.into_inner());
        match &c.dir {
            Some(d) => d.path(),
            None => c.path.clone(),
        }
    }

    /// Makes `path` the current directory; `dir`, a description of it whose path follows
    /// its moves, if there is one.
    pub fn set_cwd(&self, path: Vec<u8>, dir: Option<Arc<dyn FileDescription>>) {
        *self.cwd.lock().unwrap_or_else(|e| e.into_inner()) = Cwd {
            path,
            dir: dir.filter(|d| d.follows_moves()),
        };
    }

    fn cwd_copy(&self) -> Cwd {
        let c = self.cwd.lock().unwrap_or_else(|e| e.into_inner());
        Cwd {
            path: c.path.clone(),
            dir: c.dir.clone(),
        }
    }

    pub fn umask(&self) -> u32 {
        self.umask.load(Ordering::Relaxed)
    }

    /// Sets the umask, returning the old one.
    pub fn swap_umask(&self, umask: u32) -> u32 {
        self.umask.swap(umask, Ordering::Relaxed)
    }

    /// A copy, as a child without `CLONE_FS` gets.
    pub fn duplicate(&self) -> FsContext {
        let c = FsContext::new(Vec::new(), self.umask(), self.mounts.clone());
        *c.cwd.lock().unwrap_or_else(|e| e.into_inner()) = self.cwd_copy();
        c.set_root(self.root());
        c
    }

    /// A copy in a new mount namespace (a copy of this one's mounts).
    pub fn with_new_mounts(&self) -> FsContext {
        let c = FsContext::new(Vec::new(), self.umask(), Arc::new(self.mounts.copy()));
        *c.cwd.lock().unwrap_or_else(|e| e.into_inner()) = self.cwd_copy();
        c.set_root(self.root());
        c
    }
}

/// One guest thread, owned by the Sentry thread that runs it.
#[derive(Debug)]
pub struct Task {
    pub k: Arc<Kernel>,
    /// Thread id in the sandbox's pid namespace (the first task is 1).
    pub tid: i32,
    /// What other tasks see of this one (pending signals, mask, waker); holds the process.
    pub handle: Arc<TaskHandle>,
    pub ctx: SystrapContext,
    pub regs: UserRegs,
    pub mm: Arc<MemoryManager>,
    /// The fd table (shared with `CLONE_FILES`).
    pub fds: Arc<FdTable>,
    /// Current directory and umask (shared with `CLONE_FS`).
    pub fs: Arc<FsContext>,
    pub clear_child_tid: u64,
    pub robust_list: u64,
    /// The `SEM_UNDO` adjustments of its semaphore operations (shared with
    /// `CLONE_SYSVSEM`), applied when the last task holding them exits.
    pub sem_undo: Arc<super::ipc::sem::SemUndo>,
    /// `sigaltstack(2)`.
    pub altstack: StackT,
    /// Set when this thread exits (`exit(2)`, or its process is going away).
    pub exit: Option<ExitStatus>,
    /// The kernel-internal restart code the last syscall ended with, if any: resolved when
    /// signals are handled before going back to the guest.
    pub restart: Option<Errno>,
    /// What `restart_syscall(2)` resumes; cleared when a signal handler returns.
    pub restart_block: Option<RestartBlock>,
    /// Per-syscall (count, total ns), kept when the log is at debug level.
    pub profile: Option<std::collections::HashMap<u64, (u64, u64)>>,
}

impl Task {
    /// A task for `handle`, running `ctx` in `mm` from `regs`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        k: Arc<Kernel>,
        handle: Arc<TaskHandle>,
        ctx: SystrapContext,
        regs: UserRegs,
        mm: Arc<MemoryManager>,
        fds: Arc<FdTable>,
        fs: Arc<FsContext>,
    ) -> Task {
        handle.set_context(ctx.interrupter(), ctx.reused_thread());
        mm.set_owner(handle.tg.tgid);
        let task = Task {
            k,
            tid: handle.tid,
            handle,
            ctx,
            regs,
            mm,
            fds,
            fs,
            clear_child_tid: 0,
            robust_list: 0,
            sem_undo: Arc::default(),
            altstack: StackT {
                ss_flags: SS_DISABLE,
                ..StackT::default()
            },
            exit: None,
            restart: None,
            restart_block: None,
            profile: None,
        };
        task.publish();
        task
    }

    /// Shows the task's current memory, fd table and file-system context to `/proc/PID`
    /// readers ([`super::process::TaskView`]): after each change of one of them.
    pub fn publish(&self) {
        *super::process::lock(&self.handle.view) = super::process::TaskView {
            mm: Arc::downgrade(&self.mm),
            fds: Arc::downgrade(&self.fds),
            fs: Arc::downgrade(&self.fs),
        };
    }

    /// The task's process.
    pub fn tg(&self) -> &Arc<ThreadGroup> {
        &self.handle.tg
    }

    /// Whether the task's process holds `cap` (Linux's `capable`).
    pub fn capable(&self, cap: snare_abi::caps::Cap) -> bool {
        self.tg().state().creds.capable(cap)
    }

    /// The process's RLIMIT_NOFILE soft limit: its fds are below it.
    pub fn nofile(&self) -> i32 {
        self.tg().state().rlimits.nofile()
    }

    /// The process id.
    pub fn tgid(&self) -> i32 {
        self.handle.tg.tgid
    }

    /// The running executable's guest path (/proc/self/exe).
    pub fn exe(&self) -> Vec<u8> {
        self.tg().state().exe.clone()
    }

    /// Guest address ranges of the argv and envp strings.
    pub fn args_env(&self) -> ((u64, u64), (u64, u64)) {
        let st = self.tg().state();
        (st.args, st.env)
    }

    /// The blocked-signal mask.
    pub fn sigmask(&self) -> u64 {
        self.handle.mask()
    }

    /// Sets the blocked-signal mask (SIGKILL and SIGSTOP stay unblocked).
    pub fn set_sigmask(&self, mask: u64) {
        lock(&self.handle.sig).mask = mask & !super::process::UNBLOCKABLE;
        // Unblocking may make a pending signal deliverable.
        self.handle
            .attention
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Runs the task until it exits, then takes it out of its process (the process ends with
    /// its last thread).
    pub fn run(mut self) {
        super::wait::set_current(self.handle.clone());
        super::signalfd::set_current_task(self.handle.clone());
        let started = std::time::Instant::now();
        let (mut syscalls, mut faults) = (0u64, 0u64);
        if tracing::enabled!(tracing::Level::DEBUG) {
            self.profile = Some(Default::default());
        }
        self.run_loop(&mut syscalls, &mut faults);
        if let Some(p) = &self.profile {
            let mut rows: Vec<_> = p.iter().collect();
            rows.sort_by_key(|(_, (_, ns))| std::cmp::Reverse(*ns));
            for (nr, (count, ns)) in rows.into_iter().take(12) {
                let name = match nr {
                    &u64::MAX => "(page faults)",
                    nr => snare_syscalls_table::by_nr(*nr).map_or("?", |s| s.name),
                };
                tracing::debug!(name, count, total_us = ns / 1000, "syscall time");
            }
        }
        tracing::info!(
            tid = self.tid,
            syscalls,
            faults,
            resident_pages = self.mm.resident_pages(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            status = ?self.exit,
            "task exited"
        );
        self.finish();
    }

    /// Whether the task must stop running guest code now; sets `exit` if so.
    fn must_exit(&mut self) -> bool {
        if self.exit.is_some() {
            return true;
        }
        if self.handle.is_killed() {
            let status = self
                .tg()
                .state()
                .group_exit
                .unwrap_or(ExitStatus::Signal(SIGKILL));
            self.exit = Some(status);
            return true;
        }
        false
    }

    fn run_loop(&mut self, syscalls: &mut u64, faults: &mut u64) {
        loop {
            if self.must_exit() {
                return;
            }
            // Interrupts so far were about what `attention` says (a kick sets it first).
            snare_platform::Context::clear_interrupt(&self.ctx);
            let attention = self
                .handle
                .attention
                .swap(false, std::sync::atomic::Ordering::SeqCst);
            if attention || self.restart.is_some() {
                if self.tg().state().stopped {
                    self.park_while_stopped();
                    self.handle
                        .attention
                        .store(true, std::sync::atomic::Ordering::SeqCst);
                    continue;
                }
                self.handle_signals();
            }
            if self.must_exit() {
                return;
            }
            tracing::trace!(tid = self.tid, "guest runs");
            let event = self.ctx.switch(&mut self.regs);
            tracing::trace!(
                tid = self.tid,
                ?event,
                nr = self.regs.orig_rax,
                "guest stopped"
            );
            match event {
                Event::Syscall => {
                    *syscalls += 1;
                    if let Some(fast) = self.k.fast_syscalls {
                        if !self.ctx.fast_frame() {
                            // A patch over its own return address moves the thread too.
                            let ret = self.regs.rip;
                            if let Some(to) =
                                self.mm.note_slow_syscall(ret, self.regs.orig_rax, fast)
                            {
                                self.regs.rip = to;
                            }
                        }
                    }
                    crate::syscalls::dispatch(self);
                }
                Event::Fault { addr, access } => {
                    *faults += 1;
                    let t = std::time::Instant::now();
                    let r = self.mm.handle_fault(addr, access);
                    if let Some(p) = self.profile.as_mut() {
                        let e = p.entry(u64::MAX).or_default();
                        e.0 += 1;
                        e.1 += t.elapsed().as_nanos() as u64;
                    }
                    if r == Err(Errno::ENOMEM) {
                        // No memory even after the OOM killer ran: this process was its
                        // victim (killed already), or nothing could be freed (it dies now,
                        // as Linux's page-fault OOM path ends with a kill).
                        if !self.handle.is_killed() {
                            tracing::warn!(
                                "out of memory: killed process {} (faulting)",
                                self.tgid()
                            );
                            super::signal::group_exit(self.tg(), ExitStatus::Signal(SIGKILL), None);
                        }
                    } else if let Err(e) = r {
                        tracing::info!(
                            tid = self.tid,
                            addr = format_args!("{addr:#x}"),
                            ?access,
                            rip = format_args!("{:#x}", self.regs.rip),
                            rsp = format_args!("{:#x}", self.regs.rsp),
                            "segmentation fault"
                        );
                        let code = if e == Errno::EACCES {
                            snare_abi::signal::SEGV_ACCERR
                        } else {
                            snare_abi::signal::SEGV_MAPERR
                        };
                        self.force_signal(super::signal::fault_info(SIGSEGV, code, addr));
                    }
                }
                Event::Signal(info) if info.si_signo == SIGILL && self.at_patched_site() => {}
                Event::Signal(info) => {
                    tracing::info!(
                        tid = self.tid,
                        signo = info.si_signo,
                        code = info.si_code,
                        rip = format_args!("{:#x}", self.regs.rip),
                        "synchronous signal"
                    );
                    self.force_signal(info);
                }
                Event::Interrupted => {}
                Event::Exited => {
                    tracing::warn!(tid = self.tid, "stub process died: killing the process");
                    super::signal::group_exit(self.tg(), ExitStatus::Signal(SIGKILL), None);
                    self.exit = Some(ExitStatus::Signal(SIGKILL));
                }
            }
        }
    }

    /// A thread that faulted on an invalid opcode a patched syscall site put where the
    /// thread may be sent inside it (its old `syscall`, or for a xor site that call's return
    /// address): goes on at the equivalent place the Sentry names, as the native code would
    /// (`MemoryManager::patched_site_resume`).
    fn at_patched_site(&mut self) -> bool {
        match self.mm.patched_site_resume(self.regs.rip) {
            Some(to) => {
                tracing::debug!(
                    tid = self.tid,
                    rip = format_args!("{:#x}", self.regs.rip),
                    to = format_args!("{to:#x}"),
                    "resumed inside a patched site"
                );
                self.regs.rip = to;
                true
            }
            None => false,
        }
    }

    /// Takes the exited task out of its process and the pid table; the last thread out ends
    /// the process.
    fn finish(mut self) {
        let own = self.exit.unwrap_or(ExitStatus::Code(0));
        crate::syscalls::exit_robust_list(&self);
        // The last task holding the undo list applies it (`exit_sem`), before the parent
        // can hear of the exit.
        drop(std::mem::take(&mut self.sem_undo));
        let tg = self.tg().clone();
        // The process keeps the CPU time of a thread that leaves before it does. Counted
        // before the CHILD_CLEARTID wake, so a joiner that asks at once finds it; and frozen
        // in the handle, so a reader still holding the thread gets the same figure.
        let skip = {
            let st = tg.state();
            let last = st.threads.len() <= 1;
            // The last thread's time goes to the parent's children's time, when wanted.
            let for_parent = last
                && self
                    .k
                    .children_cpu_wanted
                    .load(std::sync::atomic::Ordering::Relaxed);
            (last || !st.cpu_watched) && !for_parent
        };
        let spent = if skip {
            (0, 0)
        } else {
            let spent = super::timers::thread_cpu(&self.handle);
            let mut intr = lock(&self.handle.interrupter);
            *lock(&self.handle.cpu) = super::process::CpuAccount {
                base: (0, 0),
                banked: spent,
            };
            *intr = None;
            spent
        };
        if self.clear_child_tid != 0
            && Arc::strong_count(&self.mm) > 1
            && self
                .mm
                .write(self.clear_child_tid, &0u32.to_ne_bytes())
                .is_ok()
        {
            crate::syscalls::futex_wake(&self.k, &self.mm, self.clear_child_tid, 1);
        }
        let last = {
            let mut st = tg.state();
            st.threads.retain(|t| t.tid != self.tid);
            st.exited_cpu.0 += spent.0;
            st.exited_cpu.1 += spent.1;
            st.threads.is_empty()
        };
        lock(&self.k.pids).tasks.remove(&self.tid);
        *lock(&self.handle.interrupter) = None;
        *lock(&self.handle.view) = super::process::TaskView::default();
        if last {
            let status = tg.state().group_exit.unwrap_or(own);
            // Close the files now (a pipe's reader must see EOF before the parent hears of
            // the exit), unless another process shares the table.
            if Arc::strong_count(&self.fds) == 1 {
                self.fds.clear();
            }
            if Arc::strong_count(&self.mm) == 1 {
                self.mm.drop_mappings();
            }
            self.fds = Arc::new(FdTable::default());
            super::signal::process_exit(&self.k, &tg, status);
        }
    }
}
