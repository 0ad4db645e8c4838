//! A task: one guest thread, its registers, its process's memory and files.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use snare_abi::signal::{SIGKILL, SIGSEGV};
use snare_abi::{KernelSigaction, UserRegs};
use snare_platform::systrap::SystrapContext;
use snare_platform::{Context, Event};

use super::Kernel;
use crate::mm::MemoryManager;
use crate::vfs::FdTable;

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

/// What `CLONE_FS` shares: the current directory and the umask.
#[derive(Debug)]
pub struct FsContext {
    cwd: Mutex<Vec<u8>>,
    umask: AtomicU32,
}

impl FsContext {
    pub fn new(cwd: Vec<u8>, umask: u32) -> FsContext {
        FsContext {
            cwd: Mutex::new(cwd),
            umask: AtomicU32::new(umask),
        }
    }

    /// The current directory, an absolute, normalized guest path.
    pub fn cwd(&self) -> Vec<u8> {
        self.cwd.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_cwd(&self, cwd: Vec<u8>) {
        *self.cwd.lock().unwrap_or_else(|e| e.into_inner()) = cwd;
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
        FsContext::new(self.cwd(), self.umask())
    }
}

/// One guest thread.
#[derive(Debug)]
pub struct Task {
    pub k: Arc<Kernel>,
    /// Thread id in the sandbox's pid namespace (the first task is 1).
    pub tid: i32,
    pub ctx: SystrapContext,
    pub regs: UserRegs,
    pub mm: Arc<MemoryManager>,
    /// The fd table (shared with `CLONE_FILES`).
    pub fds: Arc<FdTable>,
    /// Current directory and umask (shared with `CLONE_FS`).
    pub fs: Arc<FsContext>,
    /// Blocked signals (kept for rt_sigprocmask; delivery arrives with issue 4).
    pub sigmask: u64,
    /// Signal dispositions (kept for rt_sigaction; delivery arrives with issue 4).
    pub sigactions: [KernelSigaction; 64],
    pub clear_child_tid: u64,
    /// Path of the running executable, for /proc/self/exe.
    pub exe: Vec<u8>,
    /// Guest address ranges of the argument and environment strings.
    pub args: (u64, u64),
    pub env: (u64, u64),
    /// Set when the task has exited.
    pub exit: Option<ExitStatus>,
    /// Per-syscall (count, total ns), kept when the log is at debug level.
    pub profile: Option<std::collections::HashMap<u64, (u64, u64)>>,
}

impl Task {
    /// Runs the task until its process exits.
    pub fn run(&mut self) -> ExitStatus {
        let started = std::time::Instant::now();
        let (mut syscalls, mut faults) = (0u64, 0u64);
        if tracing::enabled!(tracing::Level::DEBUG) {
            self.profile = Some(Default::default());
        }
        let status = self.run_loop(&mut syscalls, &mut faults);
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
            ?status,
            "task exited"
        );
        status
    }

    fn run_loop(&mut self, syscalls: &mut u64, faults: &mut u64) -> ExitStatus {
        loop {
            match self.ctx.switch(&mut self.regs) {
                Event::Syscall => {
                    *syscalls += 1;
                    crate::syscalls::dispatch(self);
                    if let Some(status) = self.exit {
                        return status;
                    }
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
                    if r.is_err() {
                        tracing::info!(
                            tid = self.tid,
                            addr = format_args!("{addr:#x}"),
                            ?access,
                            rip = format_args!("{:#x}", self.regs.rip),
                            "segmentation fault"
                        );
                        return ExitStatus::Signal(SIGSEGV);
                    }
                }
                Event::Signal(info) => {
                    tracing::info!(
                        tid = self.tid,
                        signo = info.si_signo,
                        code = info.si_code,
                        rip = format_args!("{:#x}", self.regs.rip),
                        "fatal signal"
                    );
                    return ExitStatus::Signal(info.si_signo);
                }
                Event::Interrupted => {}
                Event::Exited => {
                    tracing::warn!(tid = self.tid, "stub process died");
                    return ExitStatus::Signal(SIGKILL);
                }
            }
        }
    }
}
