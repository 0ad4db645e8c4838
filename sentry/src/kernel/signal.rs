//! Signals: sending, default actions, delivery onto the guest stack, `rt_sigreturn`, and the
//! end of a process (zombie, SIGCHLD, reparenting).

use std::sync::Arc;

use snare_abi::regs::UserRegs;
use snare_abi::signal::{
    SigInfo, Sigcontext, StackT, Ucontext, SA_NOCLDWAIT, SA_NODEFER, SA_ONSTACK, SA_RESETHAND,
    SA_RESTART, SA_SIGINFO, SIGCHLD, SIGCONT, SIGKILL, SIGSEGV, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU,
    SIGURG, SIGWINCH, SI_KERNEL, SS_DISABLE, UC_FP_XSTATE, UC_SIGCONTEXT_SS, UC_STRICT_RESTORE_SS,
};
use snare_abi::{Errno, KernelSigaction};
use snare_platform::Context;

use super::process::{bit, lock, sig_index, SigQueue, TaskHandle, ThreadGroup};
use super::timers::PosixTimer;
use super::{ExitStatus, Kernel, Task};
use crate::mm::GuestMemory;

pub const SIG_DFL: u64 = 0;
pub const SIG_IGN: u64 = 1;

/// `si_code` values for SIGCHLD.
pub const CLD_EXITED: i32 = 1;
pub const CLD_KILLED: i32 = 2;
pub const CLD_DUMPED: i32 = 3;
pub const CLD_STOPPED: i32 = 5;
pub const CLD_CONTINUED: i32 = 6;

/// `SS_ONSTACK` for `sigaltstack(2)`.
pub const SS_ONSTACK: i32 = 1;
/// `SS_AUTODISARM`.
pub const SS_AUTODISARM: i32 = 1 << 31;

const FP_XSTATE_MAGIC1: u32 = 0x4650_5853;
const FP_XSTATE_MAGIC2: u32 = 0x4650_5845;
const FPX_SW_BYTES_OFFSET: usize = 464;
const USER_CS: u64 = 0x33;
const USER_DS: u64 = 0x2b;
/// Flags a signal handler's `rt_sigreturn` may change (AC OF DF TF SF ZF AF PF CF RF).
const FIX_EFLAGS: u64 = 0x0005_0dd5;
/// Size of the `rt_sigframe` before the FP state: return address, ucontext, siginfo.
const FRAME_SIZE: u64 = 8 + 304 + 128;

/// What a signal does by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Default_ {
    Terminate,
    /// Terminate with a core dump (the sandbox never writes one; RLIMIT_CORE reads 0).
    Core,
    Ignore,
    Stop,
    Continue,
}

pub fn default_action(sig: i32) -> Default_ {
    match sig {
        SIGCHLD | SIGURG | SIGWINCH => Default_::Ignore,
        SIGCONT => Default_::Continue,
        SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU => Default_::Stop,
        3 | 4 | 5 | 6 | 7 | 8 | 11 | 24 | 25 | 31 => Default_::Core,
        _ => Default_::Terminate,
    }
}

/// Whether `act` makes `sig` ignored.
fn ignored(sig: i32, act: &KernelSigaction) -> bool {
    if sig == SIGKILL || sig == SIGSTOP {
        return false;
    }
    act.sa_handler == SIG_IGN
        || (act.sa_handler == SIG_DFL
            && matches!(default_action(sig), Default_::Ignore | Default_::Continue))
}

/// The siginfo of a synchronous fault.
pub fn fault_info(sig: i32, code: i32, addr: u64) -> SigInfo {
    let mut i = SigInfo {
        si_signo: sig,
        si_code: code,
        ..SigInfo::default()
    };
    i.fields[0] = addr;
    i
}

/// The siginfo of a signal sent by `kill` and friends from `pid`/`uid`.
pub fn user_info(sig: i32, code: i32, pid: i32, uid: u32) -> SigInfo {
    let mut i = SigInfo {
        si_signo: sig,
        si_code: code,
        ..SigInfo::default()
    };
    i.fields[0] = u64::from(pid as u32) | (u64::from(uid) << 32);
    i
}

/// Makes every thread of `tg` exit with `status` (the first status set wins), except
/// `except`.
pub fn group_exit(tg: &ThreadGroup, status: ExitStatus, except: Option<i32>) {
    let threads = {
        let mut st = tg.state();
        if st.group_exit.is_none() {
            st.group_exit = Some(status);
        }
        st.threads.clone()
    };
    for t in threads {
        if Some(t.tid) != except {
            t.kill();
        }
    }
}

/// Sends `info` to the process `tg`.
pub fn send_to_group(tg: &Arc<ThreadGroup>, info: SigInfo) {
    send(tg, None, info, None);
}

/// The signals a terminal raises (`vfs::pty`): sent by the kernel (`SI_KERNEL`) to a
/// process group or a process of the sandbox.
#[derive(Debug)]
pub struct TtySignals(std::sync::Weak<Kernel>);

impl TtySignals {
    pub fn new(k: &Arc<Kernel>) -> TtySignals {
        TtySignals(Arc::downgrade(k))
    }
}

impl crate::vfs::pty::JobControl for TtySignals {
    fn signal_pgrp(&self, pgrp: i32, sig: i32) {
        let Some(k) = self.0.upgrade() else {
            return;
        };
        let targets: Vec<Arc<ThreadGroup>> = lock(&k.pids)
            .groups
            .values()
            .filter(|g| {
                let st = g.state();
                st.pgid == pgrp && st.zombie.is_none()
            })
            .cloned()
            .collect();
        for g in targets {
            send_to_group(&g, user_info(sig, SI_KERNEL, 0, 0));
        }
    }

    fn signal_process(&self, pid: i32, sig: i32) {
        let Some(k) = self.0.upgrade() else {
            return;
        };
        let target = lock(&k.pids).groups.get(&pid).cloned();
        if let Some(g) = target.filter(|g| g.state().zombie.is_none()) {
            send_to_group(&g, user_info(sig, SI_KERNEL, 0, 0));
        }
    }
}

/// Sends `info` to one thread.
pub fn send_to_task(t: &TaskHandle, info: SigInfo) {
    send(&t.tg, Some(t), info, None);
}

/// Sends the signal of POSIX timer `timer` for `count` expiries to `tg` or, with `thread`,
/// to one of its threads. While the timer's last signal is still pending, the expiries are
/// added to its overrun count instead of queueing it again (Linux's `send_sigqueue`).
pub fn send_timer_signal(
    tg: &Arc<ThreadGroup>,
    thread: Option<&TaskHandle>,
    info: SigInfo,
    timer: &Arc<PosixTimer>,
    count: u64,
) {
    send(tg, thread, info, Some((timer, count)));
}

/// Queues `info` for the process `tg` (or for `thread` of it), waking a thread that can take
/// it.
fn send(
    tg: &Arc<ThreadGroup>,
    thread: Option<&TaskHandle>,
    info: SigInfo,
    timer: Option<(&Arc<PosixTimer>, u64)>,
) {
    let sig = info.si_signo;
    let threads = {
        let st = tg.state();
        if st.zombie.is_some() || st.group_exit.is_some() {
            return;
        }
        st.threads.clone()
    };
    // The thread whose mask decides whether an ignored signal is dropped.
    let Some(first) = thread.or(threads.first().map(|t| &**t)) else {
        return;
    };
    if sig == SIGCONT {
        // Continues the process even when the signal itself is ignored.
        continue_group(tg);
    }
    let act = tg.action(sig);
    let blocked = first.mask() & bit(sig) != 0;
    if ignored(sig, &act) && !blocked {
        return;
    }
    // The sandbox's init only gets signals it has a handler for, as a pid namespace's init
    // (a blocked one is queued: the handler may be set by the time it is unblocked).
    if tg.tgid == 1 && act.sa_handler == SIG_DFL && !blocked {
        return;
    }
    if sig == SIGKILL {
        group_exit(tg, ExitStatus::Signal(SIGKILL), None);
        return;
    }
    if default_action(sig) == Default_::Stop {
        // A stop signal cancels a pending SIGCONT (and the reverse, in `continue_group`).
        lock(&tg.shared_pending).discard(bit(SIGCONT));
    }
    let push = |q: &mut SigQueue| match timer {
        Some((t, count)) => q.push_timer(info, t, count),
        None => q.push(info),
    };
    // A signal that will end the process must get there even if the guest keeps interrupts
    // from its host thread: the platform then ends that thread by force.
    let fatal = act.sa_handler == SIG_DFL
        && matches!(default_action(sig), Default_::Terminate | Default_::Core);
    let kick = |t: &TaskHandle| {
        if fatal && t.mask() & bit(sig) == 0 {
            t.kick_fatal();
        } else {
            t.kick();
        }
    };
    match thread {
        Some(t) => {
            push(&mut lock(&t.sig).pending);
            tg.signal_events.notify();
            kick(t);
        }
        None => {
            push(&mut lock(&tg.shared_pending));
            tg.signal_events.notify();
            let target = threads
                .iter()
                .find(|t| t.mask() & bit(sig) == 0)
                .map_or(first, |t| &**t);
            kick(target);
        }
    }
}

/// SIGCONT: a stopped process runs again, its pending stop signals are dropped, and its
/// parent hears of it (`WCONTINUED`, SIGCHLD with CLD_CONTINUED).
fn continue_group(tg: &Arc<ThreadGroup>) {
    let stop_sigs = bit(SIGSTOP) | bit(SIGTSTP) | bit(SIGTTIN) | bit(SIGTTOU);
    lock(&tg.shared_pending).discard(stop_sigs);
    let (threads, parent) = {
        let mut st = tg.state();
        for t in &st.threads {
            lock(&t.sig).pending.discard(stop_sigs);
        }
        if !st.stopped {
            return;
        }
        st.stopped = false;
        st.job_event = Some(super::process::JobEvent::Continued);
        (st.threads.clone(), st.parent.clone())
    };
    for t in threads {
        t.kick();
    }
    if let Some(p) = parent {
        notify_parent_job(&p, tg.tgid, CLD_CONTINUED, SIGCONT);
    }
}

/// Tells `parent` that child `pid` stopped or continued: SIGCHLD (unless SA_NOCLDSTOP) and a
/// wake-up for its waits.
fn notify_parent_job(parent: &Arc<ThreadGroup>, pid: i32, code: i32, sig: i32) {
    let act = parent.action(SIGCHLD);
    if act.sa_flags & snare_abi::signal::SA_NOCLDSTOP == 0
        && act.sa_handler != SIG_IGN
        && act.sa_handler != SIG_DFL
    {
        let mut info = user_info(SIGCHLD, code, pid, 0);
        info.fields[1] = u64::from(sig as u32);
        lock(&parent.shared_pending).push(info);
        if let Some(t) = parent.state().threads.first() {
            t.kick();
        }
    }
    parent.child_events.notify();
}

/// Ends process `tg` (its last thread has exited): its children go to init, it becomes a
/// zombie for its parent (or is reaped at once when the parent ignores SIGCHLD), and the
/// parent hears of it. When init ends, everything else is killed: the sandbox is over.
pub fn process_exit(k: &Kernel, tg: &Arc<ThreadGroup>, status: ExitStatus) {
    let init = k.init.get().cloned();
    let (parent, children, exit_signal, leader) = {
        let mut st = tg.state();
        st.zombie = Some(status);
        st.vfork_done = true;
        st.timers.clear();
        (
            st.parent.clone(),
            std::mem::take(&mut st.children),
            st.exit_signal,
            st.sid == tg.tgid,
        )
    };
    tg.exit_events.notify();
    if leader {
        k.devpts.session_ended(tg.tgid);
    }
    if tg.tgid == 1 {
        let all: Vec<Arc<TaskHandle>> = lock(&k.pids).tasks.values().cloned().collect();
        for t in all {
            group_exit(&t.tg, ExitStatus::Signal(SIGKILL), None);
        }
        return;
    }
    if let Some(init) = &init {
        let mut zombies = false;
        for c in children {
            let pdeath = {
                let mut cs = c.state();
                cs.parent = Some(init.clone());
                zombies |= cs.zombie.is_some();
                cs.pdeathsig
            };
            if pdeath != 0 {
                send_to_group(&c, user_info(pdeath, SI_KERNEL, 0, 0));
            }
            init.state().children.push(c);
        }
        if zombies {
            init.child_events.notify();
        }
    }
    let Some(parent) = parent else {
        return;
    };
    let act = parent.action(SIGCHLD);
    let autoreap =
        exit_signal == SIGCHLD && (act.sa_handler == SIG_IGN || act.sa_flags & SA_NOCLDWAIT != 0);
    if autoreap {
        parent.state().children.retain(|c| c.tgid != tg.tgid);
        lock(&k.pids).groups.remove(&tg.tgid);
    } else if exit_signal > 0 && exit_signal <= 64 {
        let (code, value) = match status {
            ExitStatus::Code(c) => (CLD_EXITED, c),
            ExitStatus::Signal(s) => (CLD_KILLED, s),
        };
        let ruid = tg.state().creds.ruid;
        let mut info = user_info(exit_signal, code, tg.tgid, ruid);
        info.fields[1] = u64::from(value as u32);
        send_to_group(&parent, info);
    }
    parent.child_events.notify();
}

/// Sets `sig`'s disposition of `tg` back to the default, clearing `flags` (nothing for a
/// number that names no signal).
fn reset_action(tg: &ThreadGroup, sig: i32, flags: u64) {
    let mut acts = lock(&tg.actions);
    if let Some(a) = sig_index(sig).and_then(|i| acts.get_mut(i)) {
        a.sa_handler = SIG_DFL;
        a.sa_flags &= !flags;
    }
}

/// The `wait4` status word of an exit.
pub fn wait_status(s: ExitStatus) -> i32 {
    match s {
        ExitStatus::Code(c) => (c & 0xff) << 8,
        ExitStatus::Signal(sig) => sig & 0x7f,
    }
}

impl Task {
    /// Queues a synchronous signal (a fault) for this thread. As in Linux, it can't be blocked
    /// or ignored: if it is, the disposition goes back to the default and the thread dies.
    ///
    /// `info` may come from memory the guest can write (the stub's signal frame): a signal
    /// number that names no signal kills the process with SIGKILL, as the platform does for
    /// other corrupt shared memory.
    pub fn force_signal(&mut self, info: SigInfo) {
        let sig = info.si_signo;
        let Some(i) = sig_index(sig) else {
            tracing::warn!(
                tid = self.tid,
                signo = sig,
                "invalid signal number from the platform: killing the process"
            );
            group_exit(self.tg(), ExitStatus::Signal(SIGKILL), None);
            self.exit = Some(ExitStatus::Signal(SIGKILL));
            return;
        };
        {
            let mut acts = lock(&self.tg().actions);
            let blocked = self.sigmask() & bit(sig) != 0;
            if let Some(a) = acts.get_mut(i) {
                if blocked || a.sa_handler == SIG_IGN {
                    a.sa_handler = SIG_DFL;
                }
            }
            if blocked {
                lock(&self.handle.sig).mask &= !bit(sig);
            }
        }
        let mut info = info;
        if info.si_code == 0 {
            info.si_code = SI_KERNEL;
        }
        let mut s = lock(&self.handle.sig);
        s.forced |= bit(sig);
        s.pending.push(info);
        self.handle
            .attention
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    fn dequeue(&self) -> Option<SigInfo> {
        let mask = self.sigmask();
        // Synchronous signals first, as Linux does, then the lowest number.
        if let Some(i) = lock(&self.handle.sig).pending.take(!mask) {
            return Some(i);
        }
        lock(&self.tg().shared_pending).take(!mask)
    }

    /// Before going back to the guest: acts on pending unblocked signals, and resolves the
    /// last syscall's restart code (restart it, or fail it with EINTR when a handler runs).
    pub fn handle_signals(&mut self) {
        let restart = self.restart.take();
        while let Some(info) = self.dequeue() {
            let sig = info.si_signo;
            let act = self.tg().action(sig);
            match act.sa_handler {
                SIG_IGN => continue,
                SIG_DFL => match default_action(sig) {
                    Default_::Ignore | Default_::Continue => continue,
                    Default_::Stop => {
                        self.group_stop(sig);
                        continue;
                    }
                    Default_::Terminate | Default_::Core => {
                        let forced = {
                            let mut s = lock(&self.handle.sig);
                            let f = s.forced & bit(sig) != 0;
                            s.forced &= !bit(sig);
                            f
                        };
                        if self.tgid() == 1 && !forced {
                            // Init ignores what it has no handler for (it was queued while
                            // blocked); only a fault kills it.
                            continue;
                        }
                        tracing::info!(tid = self.tid, sig, "killed by signal");
                        group_exit(self.tg(), ExitStatus::Signal(sig), Some(self.tid));
                        self.exit = Some(ExitStatus::Signal(sig));
                        return;
                    }
                },
                _ => {
                    if let Some(e) = restart {
                        let restart_it = match e {
                            Errno::ERESTARTNOINTR => true,
                            Errno::ERESTARTSYS => act.sa_flags & SA_RESTART != 0,
                            _ => false,
                        };
                        if restart_it {
                            self.restart_syscall(e);
                        } else {
                            self.regs.rax = (-i64::from(Errno::EINTR.raw())) as u64;
                        }
                    }
                    // Another pending signal is looked at on the next way back to the guest.
                    self.handle
                        .attention
                        .store(true, std::sync::atomic::Ordering::SeqCst);
                    if let Err(e) = self.setup_frame(&info, &act) {
                        tracing::info!(tid = self.tid, sig, ?e, "can't build the signal frame");
                        reset_action(self.tg(), SIGSEGV, 0);
                        group_exit(self.tg(), ExitStatus::Signal(SIGSEGV), Some(self.tid));
                        self.exit = Some(ExitStatus::Signal(SIGSEGV));
                    }
                    return;
                }
            }
        }
        if let Some(e) = restart {
            self.restart_syscall(e);
        }
        if let Some(m) = lock(&self.handle.sig).saved_mask.take() {
            self.set_sigmask(m);
        }
    }

    /// Stops the process (a stop signal's default action): every thread parks until SIGCONT
    /// or SIGKILL; the parent hears of the stop.
    fn group_stop(&mut self, sig: i32) {
        let parent = {
            let mut st = self.tg().state();
            if st.group_exit.is_some() {
                return;
            }
            st.stopped = true;
            st.job_event = Some(super::process::JobEvent::Stopped(sig));
            for t in &st.threads {
                if t.tid != self.tid {
                    t.kick();
                }
            }
            st.parent.clone()
        };
        tracing::debug!(tid = self.tid, sig, "process stopped");
        if let Some(p) = parent {
            notify_parent_job(&p, self.tgid(), CLD_STOPPED, sig);
        }
        self.park_while_stopped();
    }

    /// Waits while the process is stopped (or until the task is killed).
    pub fn park_while_stopped(&self) {
        loop {
            let seen = self.handle.waker.generation();
            if !self.tg().state().stopped || self.handle.is_killed() {
                return;
            }
            self.handle.waker.sleep(seen, None);
        }
    }

    /// Points the thread back at the syscall instruction, to run the call again (or, for
    /// ERESTART_RESTARTBLOCK, `restart_syscall(2)`, which goes on from the restart block).
    fn restart_syscall(&mut self, e: Errno) {
        self.regs.rax = if e == Errno::ERESTART_RESTARTBLOCK {
            u64::from(snare_syscalls_table::nr::RESTART_SYSCALL)
        } else {
            self.regs.orig_rax
        };
        self.regs.rip = self.regs.rip.wrapping_sub(2);
    }

    fn on_altstack(&self, sp: u64) -> bool {
        self.altstack.ss_flags & SS_DISABLE == 0
            && sp.wrapping_sub(self.altstack.ss_sp) < self.altstack.ss_size
    }

    /// `uc_stack` as the frame reports it.
    fn altstack_report(&self, sp: u64) -> StackT {
        let mut s = self.altstack;
        if s.ss_flags & SS_DISABLE == 0 && self.on_altstack(sp) {
            s.ss_flags = SS_ONSTACK;
        }
        s
    }

    /// Builds an `rt_sigframe` for `info` on the guest stack and points the thread at the
    /// handler.
    fn setup_frame(&mut self, info: &SigInfo, act: &KernelSigaction) -> Result<(), Errno> {
        let sig = info.si_signo;
        let old_mask = {
            let mut s = lock(&self.handle.sig);
            s.saved_mask.take().unwrap_or(s.mask)
        };
        let fp = self.ctx.fp_state().map_err(|_| Errno::EFAULT)?;
        let fp = fp.as_bytes();
        let mut sp = self.regs.rsp;
        let uc_stack = self.altstack_report(sp);
        if act.sa_flags & SA_ONSTACK != 0
            && self.altstack.ss_flags & SS_DISABLE == 0
            && !self.on_altstack(sp)
        {
            sp = self.altstack.ss_sp.wrapping_add(self.altstack.ss_size);
            if self.altstack.ss_flags & SS_AUTODISARM != 0 {
                self.altstack = StackT {
                    ss_flags: SS_DISABLE,
                    ..StackT::default()
                };
            }
        } else {
            sp = sp.wrapping_sub(128); // the red zone
        }
        let xsave = fp.len() > 512
            && fp
                .get(FPX_SW_BYTES_OFFSET..FPX_SW_BYTES_OFFSET + 4)
                .is_some_and(|m| m == FP_XSTATE_MAGIC1.to_ne_bytes());
        let fp_len = fp.len() as u64 + if xsave { 4 } else { 0 };
        let fpstate = sp.wrapping_sub(fp_len) & !63;
        let frame = (fpstate.wrapping_sub(FRAME_SIZE) & !15).wrapping_sub(8);
        let r = &self.regs;
        let sc = Sigcontext {
            r8: r.r8,
            r9: r.r9,
            r10: r.r10,
            r11: r.r11,
            r12: r.r12,
            r13: r.r13,
            r14: r.r14,
            r15: r.r15,
            rdi: r.rdi,
            rsi: r.rsi,
            rbp: r.rbp,
            rbx: r.rbx,
            rdx: r.rdx,
            rax: r.rax,
            rcx: r.rcx,
            rsp: r.rsp,
            rip: r.rip,
            eflags: r.eflags,
            cs: USER_CS as u16,
            ss: USER_DS as u16,
            err: 0,
            trapno: if sig == SIGSEGV { 14 } else { 0 },
            oldmask: old_mask,
            cr2: if sig == SIGSEGV { info.addr() } else { 0 },
            fpstate,
            ..Sigcontext::default()
        };
        let uc = Ucontext {
            uc_flags: UC_SIGCONTEXT_SS
                | UC_STRICT_RESTORE_SS
                | if xsave { UC_FP_XSTATE } else { 0 },
            uc_link: 0,
            uc_stack,
            uc_mcontext: sc,
            uc_sigmask: snare_abi::signal::SigSet(old_mask),
        };
        let mut bytes = Vec::with_capacity(FRAME_SIZE as usize);
        bytes.extend_from_slice(&act.sa_restorer.to_ne_bytes());
        bytes.extend_from_slice(snare_abi::pod::as_bytes(&uc));
        bytes.extend_from_slice(snare_abi::pod::as_bytes(info));
        self.mm.write(frame, &bytes)?;
        self.mm.write(fpstate, fp)?;
        if xsave {
            self.mm.write(
                fpstate.wrapping_add(fp.len() as u64),
                &FP_XSTATE_MAGIC2.to_ne_bytes(),
            )?;
        }
        // The handler runs with its mask added (and the signal itself unless SA_NODEFER).
        let mut mask = old_mask | act.sa_mask.0;
        if act.sa_flags & SA_NODEFER == 0 {
            mask |= bit(sig);
        }
        self.set_sigmask(mask);
        if act.sa_flags & SA_RESETHAND != 0 {
            reset_action(self.tg(), sig, SA_SIGINFO);
        }
        let regs = &mut self.regs;
        regs.rip = act.sa_handler;
        regs.rsp = frame;
        regs.rdi = sig as u64;
        // (The frame was written, so these don't wrap.)
        regs.rsi = frame.wrapping_add(8 + 304);
        regs.rdx = frame.wrapping_add(8);
        regs.rax = 0;
        regs.eflags &= !(0x100 | 0x400 | 0x40000); // TF, DF, AC
        regs.cs = USER_CS;
        regs.ss = USER_DS;
        regs.orig_rax = u64::MAX;
        Ok(())
    }

    /// `rt_sigreturn(2)`: restores what [`Task::setup_frame`] saved (the handler may have
    /// changed it). Returns the restored rax.
    pub fn sigreturn(&mut self) -> Result<u64, Errno> {
        let uc_addr = self.regs.rsp; // the handler's `ret` popped the return address
        let uc: Ucontext = self.mm.read_val(uc_addr)?;
        let sc = uc.uc_mcontext;
        let old: UserRegs = self.regs;
        let r = &mut self.regs;
        r.r8 = sc.r8;
        r.r9 = sc.r9;
        r.r10 = sc.r10;
        r.r11 = sc.r11;
        r.r12 = sc.r12;
        r.r13 = sc.r13;
        r.r14 = sc.r14;
        r.r15 = sc.r15;
        r.rdi = sc.rdi;
        r.rsi = sc.rsi;
        r.rbp = sc.rbp;
        r.rbx = sc.rbx;
        r.rdx = sc.rdx;
        r.rax = sc.rax;
        r.rcx = sc.rcx;
        r.rsp = sc.rsp;
        r.rip = sc.rip;
        r.eflags = (old.eflags & !FIX_EFLAGS) | (sc.eflags & FIX_EFLAGS);
        r.cs = USER_CS;
        r.ss = USER_DS;
        r.orig_rax = u64::MAX;
        // What a handler interrupted is not restarted after it (Linux's
        // `do_no_restart_syscall`).
        self.restart_block = None;
        self.set_sigmask(uc.uc_sigmask.0);
        // Restore the alternate stack as the frame describes it (when it's a valid one).
        let s = uc.uc_stack;
        if s.ss_flags & SS_DISABLE != 0 {
            if !self.on_altstack(self.regs.rsp) {
                self.altstack = StackT {
                    ss_flags: SS_DISABLE,
                    ..StackT::default()
                };
            }
        } else if s.ss_size != 0 {
            self.altstack = StackT {
                ss_flags: s.ss_flags & SS_AUTODISARM,
                ..s
            };
        }
        if sc.fpstate != 0 {
            if let Ok(mut fp) = self.ctx.fp_state() {
                let mut bytes = vec![0u8; fp.as_bytes().len()];
                self.mm.read(sc.fpstate, &mut bytes)?;
                fp = snare_platform::FpState::from_guest(&fp, &bytes);
                let _ = self.ctx.set_fp_state(&fp);
            }
        }
        Ok(self.regs.rax)
    }
}
