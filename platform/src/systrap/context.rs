//! A guest thread on the systrap platform: its slot, its signal frame, and the hand-off.
//!
//! While the thread is stopped its handler's signal frame sits on the slot's signal stack, in
//! the memory file. The Sentry reads the registers straight out of that frame and writes the
//! answer back into it; `rt_sigreturn` in the stub then loads it. FP state never moves unless
//! asked for: the kernel saved it in the frame and restores it from there.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use core::mem::{offset_of, size_of};
use snare_abi::regs::{FpxSwBytes, FPX_SW_BYTES_OFFSET, FP_XSTATE_MAGIC1};
use snare_abi::seccomp::{AUDIT_ARCH_X86_64, SYS_SECCOMP};
use snare_abi::signal::{SIGCHLD, SIGSEGV, SIGSYS, X86_PF_INSTR, X86_PF_WRITE, X86_TRAP_PF};
use snare_abi::{Errno, SigInfo, SigSet, Sigcontext, Ucontext, UserRegs};
use snare_stub::layout::{
    ThreadSlot, CMD_EXIT, CMD_RESUME, FAST_UC, SLOT_ALTSTACK, SLOT_SIZE, STATE_DEAD, STATE_GUEST,
    STATE_SENTRY, STUB_SLOTS,
};

use super::{ctrl, AsInner, Call, EXPECT_ID, GUEST_THREAD_FLAGS, INTERRUPT_SIGNAL};
use crate::memfile::MemoryFile;
use crate::sys;
use crate::{Access, Context, Error, Event, FpState, Interrupter, Result};

/// How long the Sentry sleeps before it checks that a silent stub still lives.
const LIVENESS_POLL: Duration = Duration::from_millis(100);
/// How often the Sentry looks again at a thread that must stop for good.
const FATAL_POLL: Duration = Duration::from_millis(10);
/// How long a thread that must stop for good may run on before the Sentry asks the host why.
const FATAL_GRACE: Duration = Duration::from_millis(50);
/// How long it may run on at most (while the host says its interrupt waits for a CPU).
const FATAL_MAX: Duration = Duration::from_secs(2);
/// How long a dropped context waits for its host thread to exit.
const EXIT_TIMEOUT: Duration = Duration::from_secs(2);

/// The thread or its stub process is gone (the context has recorded it).
#[derive(Debug)]
struct Gone;

/// The signal frame of a stopped thread, validated and copied out.
#[derive(Debug)]
struct Frame {
    /// File offset of the frame's ucontext.
    uc_off: u64,
    sc: Sigcontext,
}

/// Tells every parked thread of `as_` to exit (a stub going to the pool: nothing that ran
/// code of its process may run in the next one) and returns their slots (number,
/// memory-file offset), still mapped. Their threads' exits are not awaited here: the caller
/// asks the kernel how many threads are left (a thread's own word for it is guest-writable).
pub(super) fn retire_parked(as_: &AsInner) -> Vec<(u32, u64)> {
    let parked = std::mem::take(&mut *as_.parked.lock().unwrap_or_else(|e| e.into_inner()));
    let mem = as_.mem();
    for p in &parked {
        mem.atomic_u32(field(p.slot_off, offset_of!(ThreadSlot, command)))
            .store(CMD_EXIT, Ordering::Relaxed);
        let state = mem.atomic_u32(field(p.slot_off, offset_of!(ThreadSlot, state)));
        if state
            .compare_exchange(
                STATE_SENTRY,
                STATE_GUEST,
                Ordering::SeqCst,
                Ordering::SeqCst,
            )
            .is_ok()
        {
            sys::futex_wake(state, 1);
        }
    }
    parked.iter().map(|p| (p.idx, p.slot_off)).collect()
}

/// Most stopped threads an address space keeps for reuse.
const MAX_PARKED: usize = 16;

/// A host thread whose context was dropped, kept stopped in its signal handler: the next
/// context of its address space reuses it (no clone, no slot mapping, no exit).
#[derive(Debug)]
pub(crate) struct Parked {
    idx: u32,
    slot_addr: u64,
    pub(super) slot_off: u64,
    tid: i32,
    frame: Frame,
}

/// One guest thread on the systrap platform.
#[derive(Debug)]
pub struct SystrapContext {
    as_: Arc<AsInner>,
    idx: u32,
    /// The slot's address in the stub, and its offset in the memory file.
    slot_addr: u64,
    slot_off: u64,
    intr: Arc<IntrInner>,
    frame: Option<Frame>,
    exited: bool,
    /// Current spin budget of the Sentry's wait (adaptive).
    spin: u32,
    /// Whether dropping it may park the thread for reuse (else it exits).
    park: bool,
    /// Made on a parked thread.
    reused: bool,
    /// FP state set before the thread's first frame existed (a new thread): written there.
    first_fp: Option<FpState>,
}

#[derive(Debug)]
struct IntrInner {
    mem: Arc<MemoryFile>,
    state_off: u64,
    pid: i32,
    tid: i32,
    pending: AtomicBool,
    /// Since when the thread must stop for good ([`Interrupter::interrupt_fatal`]); cleared
    /// by its next event.
    fatal: Mutex<Option<Instant>>,
    has_fatal: AtomicBool,
}

impl IntrInner {
    fn new(mem: Arc<MemoryFile>, state_off: u64, pid: i32, tid: i32) -> IntrInner {
        IntrInner {
            mem,
            state_off,
            pid,
            tid,
            pending: AtomicBool::new(false),
            fatal: Mutex::new(None),
            has_fatal: AtomicBool::new(false),
        }
    }

    /// When the thread was told to stop for good, if it was and hasn't stopped since.
    fn fatal_since(&self) -> Option<Instant> {
        if !self.has_fatal.load(Ordering::SeqCst) {
            return None;
        }
        *self.fatal.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Called at every event: a plain load first keeps the common case free of a locked
    /// read-modify-write.
    fn clear_fatal(&self) {
        if self.has_fatal.load(Ordering::Relaxed) && self.has_fatal.swap(false, Ordering::SeqCst) {
            *self.fatal.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }
}

/// Interrupts a [`SystrapContext`] from any thread.
#[derive(Debug, Clone)]
pub struct SystrapInterrupter {
    inner: Arc<IntrInner>,
}

impl SystrapInterrupter {
    /// Tells the stub thread, waiting in its handler for the Sentry, to stop spinning and
    /// sleep: the Sentry is about to block for it (a long wait), and the CPU is better left
    /// to other threads. The next resume undoes it.
    pub fn hint_sleep(&self) {
        let i = &self.inner;
        let spin = i.state_off - offset_of!(ThreadSlot, state) as u64
            + offset_of!(ThreadSlot, stub_spin) as u64;
        i.mem.atomic_u32(spin).store(0, Ordering::Relaxed);
    }

    /// Host (pid, tid) of the stub thread it interrupts: where the guest thread's CPU time
    /// is accounted.
    pub fn host_ids(&self) -> (i32, i32) {
        (self.inner.pid, self.inner.tid)
    }
}

impl Interrupter for SystrapInterrupter {
    fn interrupt(&self) {
        let i = &self.inner;
        i.pending.store(true, Ordering::SeqCst);
        // Only a thread in guest code needs the signal; one stopped in its handler sees
        // `pending` at its next switch.
        if i.mem.atomic_u32(i.state_off).load(Ordering::SeqCst) == STATE_GUEST {
            let _ = sys::tgkill(i.pid, i.tid, INTERRUPT_SIGNAL);
        }
    }

    /// Guest code can keep the interrupt signal from its host thread (blocked in a frame it
    /// `rt_sigreturn`s through, or a signal stack moved away from its slot): the Sentry's
    /// wait for the thread then falls back to killing the stub (`SystrapContext::wait`).
    fn interrupt_fatal(&self) {
        let i = &self.inner;
        {
            let mut f = i.fatal.lock().unwrap_or_else(|e| e.into_inner());
            f.get_or_insert_with(Instant::now);
            i.has_fatal.store(true, Ordering::SeqCst);
        }
        self.interrupt();
        // A Sentry thread asleep in `wait` takes up the shorter deadline.
        sys::futex_wake(i.mem.atomic_u32(i.state_off), i32::MAX as u32);
    }
}

fn field(slot_off: u64, off: usize) -> u64 {
    slot_off + off as u64
}

impl SystrapContext {
    /// A context on a parked thread.
    fn new_from_parked(as_: Arc<AsInner>, p: Parked) -> SystrapContext {
        let intr = Arc::new(IntrInner::new(
            as_.shared.mem.clone(),
            field(p.slot_off, offset_of!(ThreadSlot, state)),
            as_.pid,
            p.tid,
        ));
        SystrapContext {
            idx: p.idx,
            slot_addr: p.slot_addr,
            slot_off: p.slot_off,
            intr,
            frame: Some(p.frame),
            exited: false,
            spin: as_.shared.spins.sentry,
            park: true,
            reused: true,
            first_fp: None,
            as_,
        }
    }

    pub(super) fn new(as_: Arc<AsInner>) -> Result<SystrapContext> {
        let reuse = as_.parked.lock().unwrap_or_else(|e| e.into_inner()).pop();
        if let Some(p) = reuse {
            return Ok(SystrapContext::new_from_parked(as_, p));
        }
        let inner = as_.clone();
        SystrapContext::new_thread(as_, &mut |calls| {
            inner.call_batch(calls).map_err(|e| e.error)
        })
    }

    /// Makes a new thread in `as_` and parks it as soon as it has handed itself over (its
    /// bootstrap trap): a thread that never ran guest code, for the next process a pooled
    /// stub serves (no clone on that process's way).
    pub(super) fn park_fresh(as_: &Arc<AsInner>) -> Result<()> {
        let inner = as_.clone();
        let mut ctx = SystrapContext::new_thread(as_.clone(), &mut |calls| {
            inner.call_batch(calls).map_err(|e| e.error)
        })?;
        ctx.wait().map_err(|_| Error::StubDied)?;
        let mut scratch = UserRegs::default();
        if ctx.take_event(&mut scratch) == Event::Exited {
            return Err(Error::StubDied);
        }
        ctx.keep_fp_template();
        drop(ctx); // parks it
        Ok(())
    }

    /// A context on a parked thread, if the address space has one.
    pub(super) fn from_parked(as_: &Arc<AsInner>) -> Option<SystrapContext> {
        let p = as_.parked.lock().unwrap_or_else(|e| e.into_inner()).pop()?;
        Some(SystrapContext::new_from_parked(as_.clone(), p))
    }

    /// A context on a new stub thread: `run` makes the control thread run the calls that
    /// map its slot and clone it (it may run other calls first, in the same request) and
    /// returns their results.
    pub(super) fn new_thread(
        as_: Arc<AsInner>,
        run: &mut dyn FnMut(&[Call]) -> Result<Vec<i64>>,
    ) -> Result<SystrapContext> {
        let mem = as_.mem();
        // A slot left mapped by a retired thread (wiped: the last process wrote it), or a
        // new one.
        let idle = as_.take_idle_slot();
        let (idx, slot_off) = match idle {
            Some((idx, off)) => {
                let zeros = [0u8; 4096];
                for page in 0..SLOT_SIZE / 4096 {
                    mem.write(off + page * 4096, &zeros);
                }
                (idx, off)
            }
            None => {
                let idx = as_.alloc_slot()?;
                match mem.allocate(SLOT_SIZE) {
                    Ok(o) => (idx, o),
                    Err(e) => {
                        as_.free_slot(idx);
                        return Err(e);
                    }
                }
            }
        };
        let slot_addr = STUB_SLOTS + u64::from(idx) * SLOT_SIZE;
        let spins = as_.shared.spins;
        mem.atomic_u32(field(slot_off, offset_of!(ThreadSlot, state)))
            .store(STATE_GUEST, Ordering::Relaxed);
        mem.atomic_u32(field(slot_off, offset_of!(ThreadSlot, stub_spin)))
            .store(spins.stub, Ordering::Relaxed);
        // The slot may be mapped in the stub when a later call of the request failed: its
        // pages go to others only once the stub has unmapped it, or is gone.
        let cleanup = |e: Error| {
            if idle.is_some() && !as_.is_dead() {
                as_.put_idle_slot(idx, slot_off);
                return e;
            }
            if !as_.is_dead()
                && as_
                    .call_expect("munmap (slot)", 11, [slot_addr, SLOT_SIZE, 0, 0, 0, 0], 0)
                    .is_err()
            {
                as_.kill();
            }
            as_.mem().free(slot_off, SLOT_SIZE);
            as_.free_slot(idx);
            e
        };
        let rw = (libc::PROT_READ | libc::PROT_WRITE) as u64;
        let flags = (libc::MAP_SHARED | libc::MAP_FIXED) as u64;
        let ctid = slot_addr + offset_of!(ThreadSlot, state) as u64;
        let calls = [
            (
                ctrl::op(
                    9,
                    [slot_addr, SLOT_SIZE, rw, flags, mem.fd() as u64, slot_off],
                ),
                slot_addr as i64,
                "mmap (slot)",
            ),
            (
                ctrl::op(
                    56,
                    [GUEST_THREAD_FLAGS, slot_addr + SLOT_SIZE, 0, ctid, 0, 0],
                ),
                EXPECT_ID,
                "clone (guest thread)",
            ),
        ];
        // An idle slot is mapped already.
        let calls = if idle.is_some() {
            &calls[1..]
        } else {
            &calls[..]
        };
        let rets = run(calls).map_err(cleanup)?;
        let tid = match rets.last() {
            Some(&t) if t > 0 && t <= i64::from(i32::MAX) => t as i32,
            _ => {
                as_.kill();
                return Err(cleanup(Error::Corrupt("clone answered nonsense")));
            }
        };
        let intr = Arc::new(IntrInner::new(
            as_.shared.mem.clone(),
            field(slot_off, offset_of!(ThreadSlot, state)),
            as_.pid,
            tid,
        ));
        Ok(SystrapContext {
            idx,
            slot_addr,
            slot_off,
            intr,
            frame: None,
            exited: false,
            spin: spins.sentry,
            park: true,
            reused: false,
            first_fp: None,
            as_,
        })
    }

    /// Host thread id of the stub thread (for tests and debugging).
    pub fn stub_tid(&self) -> i32 {
        self.intr.tid
    }

    /// Whether the stub thread ran an earlier context before (a parked one, reused): its
    /// host CPU time did not start at zero with this context.
    pub fn reused_thread(&self) -> bool {
        self.reused
    }

    fn mem(&self) -> &MemoryFile {
        self.as_.mem()
    }

    fn word(&self, off: usize) -> &AtomicU32 {
        self.mem().atomic_u32(field(self.slot_off, off))
    }

    /// The memory-file offset of a stub address inside this slot's signal stack holding
    /// `len` bytes, or `None` if it points anywhere else.
    fn frame_offset(&self, addr: u64, len: u64, align: u64) -> Option<u64> {
        let lo = self.slot_addr + SLOT_ALTSTACK;
        let hi = self.slot_addr + SLOT_SIZE;
        let end = addr.checked_add(len)?;
        if addr < lo || end > hi || !addr.is_multiple_of(align) {
            return None;
        }
        Some(self.slot_off + (addr - self.slot_addr))
    }

    /// The thread's shared memory is impossible: kill its stub process.
    fn corrupt(&mut self, what: &'static str) -> Event {
        tracing::warn!(
            pid = self.as_.pid,
            what,
            "killing stub process: corrupt shared memory"
        );
        self.as_.kill();
        self.exited = true;
        self.frame = None;
        Event::Exited
    }

    fn exited(&mut self) -> Event {
        self.exited = true;
        self.frame = None;
        Event::Exited
    }

    /// Waits until the stub thread hands the slot over (an event) or dies.
    fn wait(&mut self) -> core::result::Result<(), Gone> {
        let mem = self.as_.shared.mem.clone();
        let state = mem.atomic_u32(field(self.slot_off, offset_of!(ThreadSlot, state)));
        let mut s = state.load(Ordering::Acquire);
        let mut n = self.spin;
        while s == STATE_GUEST && n > 0 {
            super::spin_pause(n);
            n -= 1;
            s = state.load(Ordering::Acquire);
        }
        if s == STATE_GUEST {
            let sleeping = mem.atomic_u32(field(
                self.slot_off,
                offset_of!(ThreadSlot, sentry_sleeping),
            ));
            let started = Instant::now();
            loop {
                sleeping.store(1, Ordering::SeqCst);
                s = state.load(Ordering::SeqCst);
                if s != STATE_GUEST {
                    break;
                }
                let fatal = self.intr.fatal_since();
                let poll = if fatal.is_some() {
                    FATAL_POLL
                } else {
                    LIVENESS_POLL
                };
                let woke = sys::futex_wait(state, STATE_GUEST, Some(poll));
                s = state.load(Ordering::SeqCst);
                if s != STATE_GUEST {
                    break;
                }
                if fatal.is_some_and(|since| self.refuses_to_stop(since)) {
                    sleeping.store(0, Ordering::Relaxed);
                    tracing::warn!(
                        pid = self.as_.pid,
                        tid = self.intr.tid,
                        "guest thread does not stop: killing its stub process"
                    );
                    self.as_.kill();
                    self.exited();
                    return Err(Gone);
                }
                if !woke && self.as_.is_dead() {
                    tracing::debug!(pid = self.as_.pid, tid = self.intr.tid, "stub gone");
                    sleeping.store(0, Ordering::Relaxed);
                    self.exited();
                    return Err(Gone);
                }
            }
            sleeping.store(0, Ordering::Relaxed);
            // Adapt: if the answer came within the spin window, spinning would have caught it.
            let spins = self.as_.shared.spins;
            self.spin = if started.elapsed() < spins.sentry_window {
                spins.sentry
            } else {
                self.spin / 2
            };
        } else {
            self.spin = self.as_.shared.spins.sentry;
        }
        // Any event shows the thread answers: a kill in progress takes it from here.
        self.intr.clear_fatal();
        match s {
            STATE_SENTRY => Ok(()),
            STATE_DEAD => {
                tracing::debug!(pid = self.as_.pid, tid = self.intr.tid, "stub thread gone");
                self.exited();
                Err(Gone)
            }
            _ => {
                self.corrupt("slot state");
                Err(Gone)
            }
        }
    }

    /// Whether a thread told to stop for good ([`Interrupter::interrupt_fatal`]) at `since`
    /// and still running guest code has had its chance: [`FATAL_GRACE`] has passed and the
    /// interrupt signal is not simply waiting for a CPU (pending and unblocked), or
    /// [`FATAL_MAX`] has passed whatever the reason.
    fn refuses_to_stop(&self, since: Instant) -> bool {
        let waited = since.elapsed();
        if waited < FATAL_GRACE {
            return false;
        }
        waited >= FATAL_MAX || !sys::signal_waiting(self.intr.pid, self.intr.tid, INTERRUPT_SIGNAL)
    }

    /// Reads the frame the handler published; fills `regs` and returns the event.
    fn take_event(&mut self, regs: &mut UserRegs) -> Event {
        let mem = self.as_.shared.mem.clone();
        let signo = mem.read_pod::<u32>(field(self.slot_off, offset_of!(ThreadSlot, signo)));
        let uc_addr = mem.read_pod::<u64>(field(self.slot_off, offset_of!(ThreadSlot, ucontext)));
        let si_addr = mem.read_pod::<u64>(field(self.slot_off, offset_of!(ThreadSlot, siginfo)));
        let Some(uc_off) = self.frame_offset(uc_addr, size_of::<Ucontext>() as u64, 8) else {
            return self.corrupt("ucontext pointer");
        };
        let Some(si_off) = self.frame_offset(si_addr, size_of::<SigInfo>() as u64, 8) else {
            return self.corrupt("siginfo pointer");
        };
        let uc: Ucontext = mem.read_pod(uc_off);
        let info: SigInfo = mem.read_pod(si_off);
        let sc = uc.uc_mcontext;
        *regs = UserRegs {
            r15: sc.r15,
            r14: sc.r14,
            r13: sc.r13,
            r12: sc.r12,
            rbp: sc.rbp,
            rbx: sc.rbx,
            r11: sc.r11,
            r10: sc.r10,
            r9: sc.r9,
            r8: sc.r8,
            rax: sc.rax,
            rcx: sc.rcx,
            rdx: sc.rdx,
            rsi: sc.rsi,
            rdi: sc.rdi,
            orig_rax: u64::MAX,
            rip: sc.rip,
            cs: u64::from(sc.cs),
            eflags: sc.eflags,
            rsp: sc.rsp,
            ss: u64::from(sc.ss),
            fs_base: mem.read_pod(field(self.slot_off, offset_of!(ThreadSlot, fs_base))),
            gs_base: mem.read_pod(field(self.slot_off, offset_of!(ThreadSlot, gs_base))),
            ds: 0,
            es: 0,
            fs: 0,
            gs: 0,
        };
        self.frame = Some(Frame { uc_off, sc });
        match signo as i32 {
            SIGSYS if info.si_code == SYS_SECCOMP => {
                regs.orig_rax = if info.arch() == AUDIT_ARCH_X86_64 {
                    // Linux dispatches on the low 32 bits of rax.
                    u64::from(sc.rax as u32)
                } else {
                    u64::MAX
                };
                regs.rax = (-i64::from(Errno::ENOSYS.raw())) as u64;
                Event::Syscall
            }
            SIGSEGV if sc.trapno == X86_TRAP_PF => {
                let access = if sc.err & X86_PF_WRITE != 0 {
                    Access::Write
                } else if sc.err & X86_PF_INSTR != 0 {
                    Access::Exec
                } else {
                    Access::Read
                };
                Event::Fault {
                    addr: info.addr(),
                    access,
                }
            }
            SIGCHLD => {
                self.intr.pending.store(false, Ordering::SeqCst);
                Event::Interrupted
            }
            sig if super::TRAPPED_SIGNALS.contains(&sig) => {
                // The number the Sentry acts on is the one checked here.
                let mut info = info;
                info.si_signo = sig;
                Event::Signal(info)
            }
            // Only the handler's own signals can be published: anything else was forged.
            _ => self.corrupt("signal number"),
        }
    }

    /// Writes `regs` into the stopped thread's frame and hands the slot back.
    fn resume(&mut self, regs: &UserRegs, command: u32) -> core::result::Result<(), Gone> {
        let Some(frame) = self.frame.take() else {
            self.corrupt("resume without a frame");
            return Err(Gone);
        };
        let mem = self.as_.shared.mem.clone();
        let mut sc = frame.sc;
        sc.r8 = regs.r8;
        sc.r9 = regs.r9;
        sc.r10 = regs.r10;
        sc.r11 = regs.r11;
        sc.r12 = regs.r12;
        sc.r13 = regs.r13;
        sc.r14 = regs.r14;
        sc.r15 = regs.r15;
        sc.rdi = regs.rdi;
        sc.rsi = regs.rsi;
        sc.rbp = regs.rbp;
        sc.rbx = regs.rbx;
        sc.rdx = regs.rdx;
        sc.rax = regs.rax;
        sc.rcx = regs.rcx;
        sc.rsp = regs.rsp;
        sc.rip = regs.rip;
        // The kernel keeps only the user-changeable flags from a frame.
        sc.eflags = regs.eflags;
        mem.write_pod(frame.uc_off + offset_of!(Ucontext, uc_mcontext) as u64, &sc);
        mem.write_pod(
            frame.uc_off + offset_of!(Ucontext, uc_sigmask) as u64,
            &SigSet::EMPTY,
        );
        // A non-canonical base would fault in the stub's wrfsbase and kill the process; the
        // Sentry's arch_prctl rejects those, so only a guest racing its own frame gets here.
        mem.write_pod(
            field(self.slot_off, offset_of!(ThreadSlot, fs_base)),
            &canonical(regs.fs_base),
        );
        mem.write_pod(
            field(self.slot_off, offset_of!(ThreadSlot, gs_base)),
            &canonical(regs.gs_base),
        );
        self.word(offset_of!(ThreadSlot, command))
            .store(command, Ordering::Relaxed);
        // Undo a sleep hint (`SystrapInterrupter::hint_sleep`) for the next wait.
        self.word(offset_of!(ThreadSlot, stub_spin))
            .store(self.as_.shared.spins.stub, Ordering::Relaxed);
        let state = mem.atomic_u32(field(self.slot_off, offset_of!(ThreadSlot, state)));
        match state.compare_exchange(
            STATE_SENTRY,
            STATE_GUEST,
            Ordering::SeqCst,
            Ordering::SeqCst,
        ) {
            Ok(_) => {}
            Err(STATE_DEAD) => {
                self.exited();
                return Err(Gone);
            }
            Err(_) => {
                self.corrupt("slot state on resume");
                return Err(Gone);
            }
        }
        if self
            .word(offset_of!(ThreadSlot, stub_sleeping))
            .load(Ordering::SeqCst)
            != 0
        {
            sys::futex_wake(state, 1);
        }
        Ok(())
    }

    /// Copies the kernel's FP software bytes from the thread's first (kernel-made) frame into
    /// its slot, for the fast syscall path's frames; zeros (fxsave only) if it has none.
    fn keep_fp_template(&self) {
        let sw = match self.fp_location() {
            Ok((off, len)) if len > 512 => self
                .mem()
                .read_pod::<[u64; 6]>(off + FPX_SW_BYTES_OFFSET as u64),
            _ => [0; 6],
        };
        self.mem()
            .write_pod(field(self.slot_off, offset_of!(ThreadSlot, fp_sw)), &sw);
    }

    /// Whether the event being handled came through the fast syscall path (a patched site)
    /// rather than a signal.
    pub fn fast_frame(&self) -> bool {
        self.frame
            .as_ref()
            .is_some_and(|f| f.uc_off == self.slot_off + FAST_UC)
    }

    /// Offset and length of the frame's FP state.
    fn fp_location(&self) -> Result<(u64, usize)> {
        let frame = self.frame.as_ref().ok_or(Error::StubDied)?;
        let addr = frame.sc.fpstate;
        let Some(off) = self.frame_offset(addr, 512, 64) else {
            return Err(Error::Corrupt("fpstate pointer"));
        };
        let sw: FpxSwBytes = self.mem().read_pod(off + FPX_SW_BYTES_OFFSET as u64);
        let len = if sw.magic1 == FP_XSTATE_MAGIC1 {
            sw.xstate_size as u64
        } else {
            512
        };
        if len < 512 || self.frame_offset(addr, len, 64).is_none() {
            return Err(Error::Corrupt("fpstate size"));
        }
        Ok((off, len as usize))
    }
}

fn canonical(addr: u64) -> u64 {
    if addr < (1 << 47) {
        addr
    } else {
        0
    }
}

impl Context for SystrapContext {
    type Interrupter = SystrapInterrupter;

    fn switch(&mut self, regs: &mut UserRegs) -> Event {
        if self.exited {
            return Event::Exited;
        }
        if self.intr.pending.swap(false, Ordering::SeqCst) {
            return Event::Interrupted;
        }
        if self.frame.is_none() {
            // First switch: take the thread's bootstrap trap (or an early interrupt); its
            // registers are the stub's, and `regs` replaces them.
            if self.wait().is_err() {
                return Event::Exited;
            }
            let mut scratch = UserRegs::default();
            if let Event::Exited = self.take_event(&mut scratch) {
                return Event::Exited;
            }
            self.keep_fp_template();
            if let Some(fp) = self.first_fp.take() {
                if self.set_fp_state(&fp).is_err() {
                    return Event::Exited;
                }
            }
        }
        if self.resume(regs, CMD_RESUME).is_err() {
            return Event::Exited;
        }
        // An interrupt that came after the check above saw the thread still stopped and sent
        // no signal: send it now. (Both sides write, then read the other's word, SeqCst: one of
        // them sees the other. A second signal only makes a spurious Interrupted event.)
        if self.intr.pending.load(Ordering::SeqCst) {
            let _ = sys::tgkill(self.intr.pid, self.intr.tid, INTERRUPT_SIGNAL);
        }
        if self.wait().is_err() {
            return Event::Exited;
        }
        self.take_event(regs)
    }

    fn fp_state(&self) -> Result<FpState> {
        if self.frame.is_none() {
            // A new thread that has not run yet: the state its first frame will get (a
            // signal can come for it before it runs: its handler's frame saves this).
            if let Some(fp) = &self.first_fp {
                return Ok(fp.clone());
            }
        }
        let (off, len) = self.fp_location()?;
        let mut bytes = vec![0u8; len];
        self.mem().read(off, &mut bytes);
        Ok(FpState::from_bytes(bytes))
    }

    fn set_fp_state(&mut self, fp: &FpState) -> Result<()> {
        if self.frame.is_none() {
            // A new thread: its first frame gets it.
            self.first_fp = Some(fp.clone());
            return Ok(());
        }
        let (off, len) = self.fp_location()?;
        let bytes = fp.as_bytes();
        if bytes.len() != len {
            return Err(Error::BadRange);
        }
        // Keep the frame's software-reserved words: the kernel checks them on rt_sigreturn.
        let sw = FPX_SW_BYTES_OFFSET;
        let sw_end = sw + size_of::<FpxSwBytes>();
        self.mem().write(off, &bytes[..sw]);
        self.mem().write(off + sw_end as u64, &bytes[sw_end..]);
        // A fast frame's state is loaded on the way back only when marked.
        self.word(offset_of!(ThreadSlot, fp_dirty))
            .store(1, Ordering::Release);
        Ok(())
    }

    fn interrupter(&self) -> SystrapInterrupter {
        SystrapInterrupter {
            inner: self.intr.clone(),
        }
    }

    fn clear_interrupt(&self) {
        self.intr.pending.store(false, Ordering::SeqCst);
    }
}

impl Drop for SystrapContext {
    fn drop(&mut self) {
        let state_off = field(self.slot_off, offset_of!(ThreadSlot, state));
        let mem = self.as_.shared.mem.clone();
        let state = mem.atomic_u32(state_off);
        let mut gone = self.as_.is_dead();
        if !gone && !self.exited {
            // The thread is stopped in its handler (or about to trap from its bootstrap):
            // tell it to exit, then wait for the kernel to clear its tid word.
            if self.frame.is_none() {
                let mut scratch = UserRegs::default();
                if self.wait().is_err() || self.take_event(&mut scratch) == Event::Exited {
                    gone = true;
                }
            }
            let alive = !gone && !self.as_.is_dead();
            if !alive {
                self.frame = None;
            }
            if let Some(frame) = self.frame.take_if(|_| self.park) {
                let mut parked = self.as_.parked.lock().unwrap_or_else(|e| e.into_inner());
                if parked.len() < MAX_PARKED {
                    parked.push(Parked {
                        idx: self.idx,
                        slot_addr: self.slot_addr,
                        slot_off: self.slot_off,
                        tid: self.intr.tid,
                        frame,
                    });
                    return;
                }
                drop(parked);
                self.frame = Some(frame);
            }
            if self.frame.is_some() {
                let _ = self.resume(&UserRegs::default(), CMD_EXIT);
            }
        }
        let deadline = Instant::now() + EXIT_TIMEOUT;
        while !gone {
            let s = state.load(Ordering::SeqCst);
            if s == STATE_DEAD || self.as_.is_dead() {
                gone = true;
            } else if Instant::now() > deadline {
                break;
            } else {
                sys::futex_wait(state, s, Some(Duration::from_millis(10)));
            }
        }
        if !gone {
            tracing::warn!(
                pid = self.as_.pid,
                "stub thread did not exit; killing its process"
            );
            self.as_.kill();
            return; // the slot stays allocated; the whole stub is going away
        }
        // Freed only once the stub no longer maps it (unmapped, or the stub is gone).
        if !self.as_.is_dead()
            && self
                .as_
                .call_expect(
                    "munmap (slot)",
                    11,
                    [self.slot_addr, SLOT_SIZE, 0, 0, 0, 0],
                    0,
                )
                .is_err()
        {
            self.as_.kill();
        }
        mem.free(self.slot_off, SLOT_SIZE);
        self.as_.free_slot(self.idx);
    }
}
