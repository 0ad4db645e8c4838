//! A task: one guest thread, its registers, its process's memory and files.

use std::sync::Arc;

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

/// One guest thread.
#[derive(Debug)]
pub struct Task {
    pub k: Arc<Kernel>,
    /// Thread id in the sandbox's pid namespace (the first task is 1).
    pub tid: i32,
    pub ctx: SystrapContext,
    pub regs: UserRegs,
    pub mm: Arc<MemoryManager>,
    pub fds: FdTable,
    /// Current directory, an absolute guest path.
    pub cwd: Vec<u8>,
    pub umask: u32,
    /// Blocked signals (kept for rt_sigprocmask; delivery arrives with issue 4).
    pub sigmask: u64,
    /// Signal dispositions (kept for rt_sigaction; delivery arrives with issue 4).
    pub sigactions: [KernelSigaction; 64],
    pub clear_child_tid: u64,
    /// Path of the running executable, for /proc/self/exe.
    pub exe: Vec<u8>,
    /// Set when the task has exited.
    pub exit: Option<ExitStatus>,
}

impl Task {
    /// Runs the task until its process exits.
    pub fn run(&mut self) -> ExitStatus {
        loop {
            match self.ctx.switch(&mut self.regs) {
                Event::Syscall => {
                    crate::syscalls::dispatch(self);
                    if let Some(status) = self.exit {
                        return status;
                    }
                }
                Event::Fault { addr, access } => {
                    if self.mm.handle_fault(addr, access).is_err() {
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
