//! The systrap platform: guest threads are host threads of stub processes, stopped by seccomp
//! `SECCOMP_RET_TRAP` and served through shared memory. No ptrace anywhere.
//!
//! How the pieces meet (see `docs/platform.md` for the why):
//! - At start-up the Sentry prepares the stub region's fixed part ([`image`]) in its own address
//!   space, creates the [`MemoryFile`], and from a long-lived *parent thread* forks the **source
//!   stub**: the child resets its signals, keeps only the memory file's fd, maps its control
//!   pages and jumps into the stub code, which unmaps the rest of the Sentry and installs the
//!   control thread's seccomp filter. The source never runs guest code.
//! - A new address space is a new stub process: the source's control thread `clone`s with
//!   `CLONE_PARENT` (so the Sentry is the parent), and the child maps its own control pages.
//! - A new guest thread is a `clone` of a stub's control thread into a fresh 32 KiB slot; it sets
//!   its signal stack, stacks the guest filter and traps. From then on every trap publishes the
//!   signal frame through the slot and waits; [`context::SystrapContext::switch`] reads and
//!   rewrites that frame in place.
//! - Stubs die with the Sentry: `PR_SET_PDEATHSIG` ties them to the parent thread, which lives
//!   as long as the platform.

mod context;
mod ctrl;
mod filter;
mod image;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use snare_abi::signal::{
    SA_ONSTACK, SA_RESTORER, SA_SIGINFO, SIGBUS, SIGCHLD, SIGFPE, SIGILL, SIGSEGV, SIGSYS, SIGTRAP,
};
use snare_abi::{KernelSigaction, SigSet};
use snare_stub::code::Entry;
use snare_stub::layout::{
    CtrlOp, CLONE_GUEST_THREAD, CLONE_STUB_PROCESS, CTRL_MAX_OPS, MAX_SLOTS, RESP_BYTE, RESP_CMSG,
    RESP_CMSG_LEN, RESP_IOV, RESP_MSG, STUB_BASE, STUB_CTRL_REQ, STUB_CTRL_RESP, STUB_DONE_FD,
    STUB_SOCK_FD,
};

pub use context::{SystrapContext, SystrapInterrupter};
use ctrl::Ctrl;

use crate::memfile::MemoryFile;
use crate::sys;
use crate::{AddressSpace, Error, MapOp, OpError, Platform, Prot, Result};

/// Signals the stub's handler takes: the syscall trap, synchronous faults, and the interrupt.
const TRAPPED_SIGNALS: [i32; 7] = [SIGSYS, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGCHLD];
/// The signal [`SystrapInterrupter`] sends to a stub thread running guest code.
pub(crate) const INTERRUPT_SIGNAL: i32 = SIGCHLD;
/// Lowest guest address (the host's usual `vm.mmap_min_addr`).
pub const MIN_USER_ADDRESS: u64 = 0x10000;

/// Tunables of the systrap platform.
#[derive(Clone, Debug)]
pub struct Config {
    /// Size of the memory file (sparse: costs nothing until used).
    pub memory_size: u64,
    /// How long each side spins for the other before it sleeps in a futex. `None` picks a
    /// default from the number of usable CPUs (no spinning on one CPU).
    pub spin: Option<Duration>,
    /// How many stub processes of dropped address spaces to keep, emptied, for the next
    /// [`Platform::new_address_space`] (0: every dropped one is killed at once). Emptying a
    /// stub costs less than killing one and making another; a kept one lives until the
    /// platform is dropped.
    pub pool: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            memory_size: 64 << 30,
            spin: None,
            pool: 0,
        }
    }
}

/// Spin budgets in iterations of `pause`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Spins {
    pub stub: u32,
    pub sentry: u32,
    pub ctrl: u32,
    /// The Sentry's spin window as time: a wait shorter than this would have been caught by
    /// spinning.
    pub sentry_window: Duration,
}

/// Default spin window with a spare CPU: long enough to cover a typical syscall's service time
/// in the Sentry, short enough that an idle sandbox stops burning CPU at once.
const DEFAULT_SPIN: Duration = Duration::from_micros(40);

/// One step of a spin loop with `left` iterations to go: a `pause`, and every
/// `YIELD_EVERY` steps a `sched_yield`, so that when more threads spin than there are CPUs
/// the one being waited for still gets to run (the stub's loops do the same).
pub(crate) fn spin_pause(left: u32) {
    core::hint::spin_loop();
    if left.is_multiple_of(snare_stub::code::YIELD_EVERY) {
        std::thread::yield_now();
    }
}

/// Iterations of `pause` that take about `window`, measured once.
fn pause_iterations(window: Duration) -> u32 {
    static NS_PER_PAUSE: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    let ns = *NS_PER_PAUSE.get_or_init(|| {
        // Short: this runs at every sandbox start (5 × 256 pauses ≈ 30 µs here; it was 150 µs
        // with 3 × 2000). The best round filters out an interrupt or a preemption.
        const N: u32 = 256;
        let mut best = f64::MAX;
        for _ in 0..5 {
            let t = Instant::now();
            for _ in 0..N {
                core::hint::spin_loop();
            }
            best = best.min(t.elapsed().as_nanos() as f64 / f64::from(N));
        }
        best.max(0.5)
    });
    (window.as_nanos() as f64 / ns).min(f64::from(u32::MAX / 2)) as u32
}

/// State shared by the platform and every address space made from it.
#[derive(Debug)]
struct Shared {
    mem: Arc<MemoryFile>,
    image: &'static image::Image,
    spins: Spins,
    sentry_pid: i32,
    source: Mutex<Ctrl>,
    source_pidfd: OwnedFd,
    /// Whether the source has said it serves requests (checked at its first use, so that the
    /// Sentry's own start-up overlaps the source's).
    source_ready: AtomicBool,
    /// Emptied stub processes for reuse, at most `pool_max`.
    pool: Mutex<Vec<Arc<AsInner>>>,
    pool_max: usize,
    /// Dropping this sender lets the parent thread (if any) exit.
    parent_stop: Mutex<Option<mpsc::Sender<()>>>,
    parent: Mutex<Option<JoinHandle<()>>>,
    /// Host file descriptors for direct mappings go to stubs through this (`None`: no
    /// socket could be made; host files are then copied into the memory file as before).
    fd_pass: Option<FdPass>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        sys::pidfd_kill(self.source_pidfd.as_raw_fd());
        sys::pidfd_reap(self.source_pidfd.as_raw_fd());
        self.mem
            .free(self.source.get_mut().map_or(0, |c| c.off), ctrl::CTRL_PAGES);
        drop(self.parent_stop.get_mut().ok().and_then(Option::take));
        if let Some(h) = self.parent.get_mut().ok().and_then(Option::take) {
            let _ = h.join();
        }
    }
}

/// The systrap platform.
#[derive(Debug, Clone)]
pub struct Systrap {
    shared: Arc<Shared>,
}

/// What the forked child needs, computed before the fork (the child may not allocate).
struct ForkPlan {
    sentry_pid: i32,
    memfd: RawFd,
    /// The stubs' end of the fd-passing socket (-1: none), moved to `STUB_SOCK_FD`.
    sock: RawFd,
    ctrl_off: u64,
    action: KernelSigaction,
    entry: u64,
    /// The forking thread's rseq area and glibc's `__rseq_size` (0: none registered).
    rseq_area: u64,
    rseq_len: u64,
}

extern "C" {
    /// glibc (2.35+): offset of the rseq area from the thread pointer.
    static __rseq_offset: isize;
    /// glibc (2.35+): size of the registered rseq area, 0 if none.
    static __rseq_size: u32;
}

/// This thread's rseq area as glibc registered it: `(address, size)`.
fn rseq_area() -> (u64, u64) {
    let tp: u64;
    // SAFETY: on x86-64 glibc the word at fs:0 is the thread pointer (the TCB's self pointer).
    unsafe {
        core::arch::asm!("mov {}, qword ptr fs:[0]", out(reg) tp, options(nostack, readonly))
    };
    // SAFETY: plain reads of two glibc-exported constants.
    let (off, size) = unsafe { (__rseq_offset, __rseq_size) };
    (tp.wrapping_add_signed(off as i64), u64::from(size))
}

impl Systrap {
    /// Prepares the stub image (once per process), the memory file and the source stub.
    pub fn new(config: Config) -> Result<Systrap> {
        let image = image::get()?;
        let mem = Arc::new(MemoryFile::new(config.memory_size)?);
        // Experiments: how many MiB of freed pages to keep for reuse (see memfile.rs).
        if let Some(mb) = std::env::var("SNARE_RECYCLE_MB")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
        {
            mem.set_recycle_max(mb << 20);
        }
        let window = config.spin.unwrap_or(if sys::usable_cpus() > 1 {
            DEFAULT_SPIN
        } else {
            Duration::ZERO
        });
        // Overrides for experiments (see docs/platform.md), in microseconds.
        let env_window = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .map(Duration::from_micros)
                .unwrap_or(window)
        };
        let sentry_window = env_window("SNARE_SENTRY_SPIN_US");
        let spins = Spins {
            stub: pause_iterations(env_window("SNARE_STUB_SPIN_US")),
            sentry: pause_iterations(sentry_window),
            ctrl: pause_iterations(env_window("SNARE_CTRL_SPIN_US")),
            sentry_window,
        };
        let source = Ctrl::new(&mem, spins.ctrl, spins.sentry)?;
        let fd_pass = FdPass::new();
        let plan = ForkPlan {
            sentry_pid: std::process::id() as i32,
            memfd: mem.fd(),
            sock: fd_pass.as_ref().map_or(-1, |p| p.stub.as_raw_fd()),
            ctrl_off: source.off,
            action: KernelSigaction {
                sa_handler: image.entry(Entry::Handler),
                sa_flags: SA_SIGINFO | SA_ONSTACK | SA_RESTORER,
                sa_restorer: image.entry(Entry::Restorer),
                sa_mask: SigSet::FULL,
            },
            entry: image.entry(Entry::SourceEntry),
            rseq_area: 0,
            rseq_len: 0,
        };

        // PR_SET_PDEATHSIG fires when the *thread* that forked a stub exits, so that thread
        // must live as long as the platform. The process's main thread does (its end is the
        // process's): a Sentry forks the source from there, one host task fewer in the
        // sandbox. Elsewhere (tests) a parent thread forks it and then only waits.
        let (stop_tx, parent, pidfd) = if sys::on_main_thread() {
            let mut plan = plan;
            (plan.rseq_area, plan.rseq_len) = rseq_area();
            (None, None, fork_source(&plan)?)
        } else {
            let (stop_tx, stop_rx) = mpsc::channel::<()>();
            let (pid_tx, pid_rx) = mpsc::channel::<Result<RawFd>>();
            let parent = std::thread::Builder::new()
                .name("snare-stub-parent".into())
                .spawn(move || {
                    let mut plan = plan;
                    (plan.rseq_area, plan.rseq_len) = rseq_area();
                    let _ = pid_tx.send(fork_source(&plan));
                    let _ = stop_rx.recv();
                })
                .map_err(|e| Error::Setup(format!("spawning the stub parent thread: {e}")))?;
            let pidfd = match pid_rx.recv() {
                Ok(r) => r?,
                Err(_) => return Err(Error::Setup("stub parent thread died".into())),
            };
            (Some(stop_tx), Some(parent), pidfd)
        };
        // SAFETY: fork_source returned a fresh pidfd that nothing else owns.
        let source_pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
        tracing::debug!(
            code_len = image.code_len,
            guest_filter = image.guest_filter_len,
            ctrl_filter = image.ctrl_filter_len,
            spin_iters = spins.stub,
            "systrap platform ready"
        );
        Ok(Systrap {
            shared: Arc::new(Shared {
                mem,
                image,
                spins,
                sentry_pid: std::process::id() as i32,
                source: Mutex::new(source),
                source_pidfd,
                source_ready: AtomicBool::new(false),
                pool: Mutex::new(Vec::new()),
                pool_max: config.pool,
                parent_stop: Mutex::new(stop_tx),
                parent: Mutex::new(parent),
                fd_pass,
            }),
        })
    }

    /// Waits until the source stub serves requests (its set-up is not awaited by
    /// [`Systrap::new`]; the first new address space waits for it): an error means the
    /// platform can't start stubs on this host.
    pub fn ready(&self) -> Result<()> {
        let s = &self.shared;
        if s.source_ready.load(Ordering::Acquire) {
            return Ok(());
        }
        let source = s.source.lock().unwrap_or_else(|e| e.into_inner());
        source.wait_ready(&s.mem, s.source_pidfd.as_raw_fd())?;
        s.source_ready.store(true, Ordering::Release);
        Ok(())
    }

    /// Host pid of the source stub (for tests and debugging).
    pub fn source_pid(&self) -> i32 {
        pidfd_pid(self.shared.source_pidfd.as_raw_fd())
    }

    /// Address of a stub code entry point in every stub process (for tests that attack the
    /// stub).
    pub fn stub_entry(&self, e: Entry) -> u64 {
        self.shared.image.entry(e)
    }

    /// An emptied stub process from the pool (`Config::pool`), if one is there: as good as
    /// [`Platform::new_address_space`]'s, and cheaper (no process to clone; its parked threads
    /// come with it, wiped). For execs that need a new stub and for forks.
    pub fn pooled_address_space(&self) -> Option<SystrapAddressSpace> {
        loop {
            let inner = self
                .shared
                .pool
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop()?;
            if !inner.is_dead() {
                tracing::debug!(pid = inner.pid, "stub from the pool");
                return Some(SystrapAddressSpace {
                    inner,
                    released: AtomicBool::new(false),
                });
            }
        }
    }

    /// Where patched syscall sites' trap-table entries jump (the stub's fast syscall path,
    /// `snare_stub::patch`), or `None` when this machine can't run it (no user FSGSBASE).
    pub fn fast_syscall_entry(&self) -> Option<u64> {
        self.shared
            .image
            .has_fsgsbase
            .then(|| self.shared.image.entry(Entry::Fast))
    }
}

impl Platform for Systrap {
    type AddressSpace = SystrapAddressSpace;

    fn new_address_space(&self) -> Result<SystrapAddressSpace> {
        self.ready()?;
        let s = &self.shared;
        let ctrl = Ctrl::new(&s.mem, s.spins.ctrl, s.spins.sentry)?;
        let made = {
            let mut source = s.source.lock().unwrap_or_else(|e| e.into_inner());
            make_stub(s, &mut source, ctrl.off)
        };
        let (pid, done_fd) = match made {
            Ok(m) => m,
            Err(e) => {
                s.mem.free(ctrl.off, ctrl::CTRL_PAGES);
                return Err(e);
            }
        };
        tracing::debug!(pid, "new stub");
        // The new process is our child (CLONE_PARENT) and unreaped, so its pid is stable.
        let pidfd = sys::pidfd_open(pid)?;
        let inner = AsInner {
            shared: self.shared.clone(),
            pid,
            pidfd,
            done_fd,
            ctrl: Mutex::new(ctrl),
            slots: Mutex::new(SlotAlloc::default()),
            parked: Mutex::new(Vec::new()),
            dead: AtomicBool::new(false),
            reaped: std::sync::Once::new(),
            stat: std::sync::OnceLock::new(),
        };
        // Not waiting for the stub to come up: its first request waits for it (the control
        // loop starts by serving what is already there), and the Sentry gets on meanwhile.
        Ok(SystrapAddressSpace {
            inner: Arc::new(inner),
            released: AtomicBool::new(false),
        })
    }

    fn memory_file(&self) -> &Arc<MemoryFile> {
        &self.shared.mem
    }

    fn min_user_address(&self) -> u64 {
        MIN_USER_ADDRESS
    }

    fn max_user_address(&self) -> u64 {
        STUB_BASE
    }
}

/// Asks the source for a new stub process with its control pages at `ctrl_off`, and for the
/// stub's completion eventfd: the source makes it, puts it at `STUB_DONE_FD` (the clone
/// inherits it), sends the Sentry a copy and closes its own. The source's answers are
/// trusted (it never runs guest code). Returns the new stub's pid and the eventfd.
fn make_stub(s: &Shared, source: &mut Ctrl, ctrl_off: u64) -> Result<(i32, OwnedFd)> {
    let pass = s
        .fd_pass
        .as_ref()
        .ok_or_else(|| Error::Setup("no fd-passing socket".into()))?;
    // The message the source sends, in its response page: one byte and SCM_RIGHTS with
    // STUB_DONE_FD (cmsg_len = CMSG_LEN(4), level SOL_SOCKET, type SCM_RIGHTS).
    let resp = source.off + 4096;
    s.mem
        .write_pod(resp + RESP_IOV, &[STUB_CTRL_RESP + RESP_BYTE, 1u64]);
    let msg: [u64; 7] = [
        0,
        0,
        STUB_CTRL_RESP + RESP_IOV,
        1,
        STUB_CTRL_RESP + RESP_CMSG,
        24, // CMSG_SPACE(4)
        0,
    ];
    s.mem.write_pod(resp + RESP_MSG, &msg);
    let cmsg: [u32; 6] = [20, 0, 1, 1, STUB_DONE_FD as u32, 0];
    s.mem.write_pod(resp + RESP_CMSG, &cmsg);
    let clone_args = [
        CLONE_STUB_PROCESS,
        0,
        0,
        s.mem.fd() as u64,
        s.sentry_pid as u64,
        ctrl_off,
    ];
    let ops = [
        ctrl::op(290, [0, libc::EFD_NONBLOCK as u64, 0, 0, 0, 0]), // eventfd2 → fd 0
        ctrl::op(292, [0, STUB_DONE_FD, 0, 0, 0, 0]),              // dup3(0, STUB_DONE_FD)
        ctrl::op(3, [0; 6]),                                       // close(0)
        ctrl::op(56, clone_args),
        ctrl::op(
            46,
            [
                STUB_SOCK_FD,
                STUB_CTRL_RESP + RESP_MSG,
                libc::MSG_DONTWAIT as u64,
                0,
                0,
                0,
            ],
        ),
        ctrl::op(3, [STUB_DONE_FD, 0, 0, 0, 0, 0]), // close(STUB_DONE_FD)
    ];
    let expect = [0, STUB_DONE_FD as i64, 0, i64::MIN, 1, 0];
    let names = [
        "eventfd2 (stub)",
        "dup3 (stub eventfd)",
        "close (stub eventfd)",
        "clone (stub process)",
        "sendmsg (stub eventfd)",
        "close (stub eventfd)",
    ];
    let pidfd = s.source_pidfd.as_raw_fd();
    let mut rets = [0i64; 6];
    let ran = source.call_batch(&s.mem, pidfd, None, &ops, &mut rets, &mut || {})?;
    let bad = (0..ops.len()).find(|&i| {
        i >= ran
            || if expect[i] == i64::MIN {
                rets[i] <= 0
            } else {
                rets[i] != expect[i]
            }
    });
    if let Some(i) = bad {
        // Leave the source as it was (its fds 0 and STUB_DONE_FD closed), and reap a child
        // that got made.
        let _ = source.call_batch(
            &s.mem,
            pidfd,
            None,
            &[ctrl::op(3, [0; 6])],
            &mut [0],
            &mut || {},
        );
        let close_done = [ctrl::op(3, [STUB_DONE_FD, 0, 0, 0, 0, 0])];
        let _ = source.call_batch(&s.mem, pidfd, None, &close_done, &mut [0], &mut || {});
        if i > 3 && rets[3] > 0 {
            if let Ok(fd) = sys::pidfd_open(rets[3] as i32) {
                sys::pidfd_kill(fd.as_raw_fd());
                sys::pidfd_reap(fd.as_raw_fd());
            }
        }
        let r = if i < ran { rets[i] } else { 0 };
        return Err(Error::Host {
            call: names[i],
            errno: snare_abi::Errno::new((-r).clamp(0, 4095) as i32),
        });
    }
    let done_fd = pass.recv()?;
    Ok((rets[3] as i32, done_fd))
}

/// The pid behind a pidfd, from `/proc/self/fdinfo`.
fn pidfd_pid(fd: RawFd) -> i32 {
    crate::host_proc::read_to_string(&format!("self/fdinfo/{fd}"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Pid:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(-1)
}

/// Forks the source stub; runs on the parent thread. Returns the child's pidfd.
fn fork_source(plan: &ForkPlan) -> Result<RawFd> {
    let mut pidfd: libc::c_int = -1;
    // SAFETY: a fork-like clone (no CLONE_VM, no new stack): the child gets a copy of this
    // thread's stack and runs `source_child`, which makes raw syscalls only and never returns.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (libc::CLONE_PIDFD | libc::SIGCHLD) as u64,
            0u64,
            &mut pidfd as *mut libc::c_int,
            0u64,
            0u64,
        )
    };
    if ret == 0 {
        // SAFETY: we are the freshly forked child; see source_child.
        unsafe { source_child(plan) }
    }
    sys::check("clone (source stub)", ret)?;
    Ok(pidfd)
}

/// Raw syscall for the forked child (no errno, no allocation).
///
/// # Safety
/// The caller passes arguments valid for syscall `nr`.
unsafe fn raw6(nr: i64, a: [u64; 6]) -> i64 {
    let ret: i64;
    // SAFETY: the caller guarantees the arguments; `syscall` clobbers rcx and r11 only.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") nr => ret,
            in("rdi") a[0], in("rsi") a[1], in("rdx") a[2],
            in("r10") a[3], in("r8") a[4], in("r9") a[5],
            lateout("rcx") _, lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

use snare_abi::caps::{CAP_MAX, LINUX_CAPABILITY_VERSION_3};

/// The forked child's set-up before it becomes the source stub: tie its life to the Sentry,
/// leave the terminal's session, block every signal, point the trapped signals at the stub
/// handler, close every fd but the memory file, drop every capability, map its control
/// pages, and jump into the stub.
///
/// # Safety
/// Only in the child of `fork_source`: single-threaded, on a copy of the parent's stack, with
/// no locks held; everything here is a raw syscall on pre-computed data.
unsafe fn source_child(p: &ForkPlan) -> ! {
    // SAFETY: raw syscalls whose pointer arguments point at live locals or at `p`; the final
    // jump enters the stub code prepared by `image`, which never returns.
    unsafe {
        let exit = |code: u64| -> ! {
            raw6(libc::SYS_exit_group, [code, 0, 0, 0, 0, 0]);
            core::hint::unreachable_unchecked()
        };
        raw6(
            libc::SYS_prctl,
            [libc::PR_SET_PDEATHSIG as u64, 9, 0, 0, 0, 0],
        );
        if raw6(libc::SYS_getppid, [0; 6]) != i64::from(p.sentry_pid) {
            exit(1);
        }
        raw6(libc::SYS_setsid, [0; 6]);
        // glibc registered an rseq area in this thread's TLS, which is about to be unmapped;
        // the kernel would then kill us at the next preemption. Unregister it.
        if p.rseq_len != 0 {
            let unreg = 1; // RSEQ_FLAG_UNREGISTER
            let sig = 0x5305_3053; // RSEQ_SIG on x86
            if raw6(libc::SYS_rseq, [p.rseq_area, 32, unreg, sig, 0, 0]) != 0 {
                raw6(libc::SYS_rseq, [p.rseq_area, p.rseq_len, unreg, sig, 0, 0]);
            }
        }
        let full = SigSet::FULL;
        raw6(
            libc::SYS_rt_sigprocmask,
            [
                libc::SIG_SETMASK as u64,
                &full as *const SigSet as u64,
                0,
                8,
                0,
                0,
            ],
        );
        let dfl = KernelSigaction::default();
        for sig in 1..=64u64 {
            if sig != 9 && sig != 19 {
                raw6(
                    libc::SYS_rt_sigaction,
                    [sig, &dfl as *const KernelSigaction as u64, 0, 8, 0, 0],
                );
            }
        }
        for sig in TRAPPED_SIGNALS {
            let r = raw6(
                libc::SYS_rt_sigaction,
                [
                    sig as u64,
                    &p.action as *const KernelSigaction as u64,
                    0,
                    8,
                    0,
                    0,
                ],
            );
            if r != 0 {
                exit(2);
            }
        }
        let fd = p.memfd as u64;
        // The fd-passing socket goes to its fixed number; every other fd but the memory
        // file is closed. Without it (a low fd limit) the stub just never receives files.
        let mut keep = [fd, u64::MAX];
        if p.sock >= 0 && fd != STUB_SOCK_FD {
            let r = raw6(libc::SYS_dup3, [p.sock as u64, STUB_SOCK_FD, 0, 0, 0, 0]);
            if r == STUB_SOCK_FD as i64 {
                keep[1] = STUB_SOCK_FD;
            }
        }
        keep.sort_unstable();
        let mut from = 0u64;
        for k in keep {
            if k == u64::MAX {
                break;
            }
            if k > from {
                raw6(libc::SYS_close_range, [from, k - 1, 0, 0, 0, 0]);
            }
            from = k + 1;
        }
        raw6(libc::SYS_close_range, [from, u32::MAX as u64, 0, 0, 0, 0]);
        raw6(
            libc::SYS_prctl,
            [libc::PR_SET_NO_NEW_PRIVS as u64, 1, 0, 0, 0, 0],
        );
        // Stubs run guest code: they keep no capability (none in the bounding set, so
        // none can come back), and are not dumpable (no same-uid ptrace, no core). Every
        // stub is a clone of this one and inherits both. Failing any of it, no stub.
        // (Dropping needs CAP_SETPCAP, which a confined Sentry no longer has: its bounding
        // set is empty already, so only what is still there is dropped.)
        for cap in 0..=CAP_MAX {
            let there = raw6(
                libc::SYS_prctl,
                [libc::PR_CAPBSET_READ as u64, cap, 0, 0, 0, 0],
            );
            if there != 1 {
                continue;
            }
            let r = raw6(
                libc::SYS_prctl,
                [libc::PR_CAPBSET_DROP as u64, cap, 0, 0, 0, 0],
            );
            if r != 0 {
                exit(5);
            }
        }
        let header = [LINUX_CAPABILITY_VERSION_3, 0u32];
        let none = [0u32; 6];
        let r = raw6(
            libc::SYS_capset,
            [header.as_ptr() as u64, none.as_ptr() as u64, 0, 0, 0, 0],
        );
        if r != 0 {
            exit(6);
        }
        raw6(
            libc::SYS_prctl,
            [libc::PR_SET_DUMPABLE as u64, 0, 0, 0, 0, 0],
        );
        let shared_fixed = (libc::MAP_SHARED | libc::MAP_FIXED) as u64;
        let r = raw6(
            libc::SYS_mmap,
            [
                STUB_CTRL_REQ,
                4096,
                libc::PROT_READ as u64,
                shared_fixed,
                fd,
                p.ctrl_off,
            ],
        );
        if r != STUB_CTRL_REQ as i64 {
            exit(3);
        }
        let rw = (libc::PROT_READ | libc::PROT_WRITE) as u64;
        let r = raw6(
            libc::SYS_mmap,
            [
                STUB_CTRL_RESP,
                4096,
                rw,
                shared_fixed,
                fd,
                p.ctrl_off + 4096,
            ],
        );
        if r != STUB_CTRL_RESP as i64 {
            exit(4);
        }
        core::arch::asm!("jmp {e}", e = in(reg) p.entry, options(noreturn));
    }
}

/// One direct mapping of a host file: (address, length, protection, file offset).
pub type HostMap = (u64, u64, Prot, u64);

/// One call for the control thread: the call, the result it must return, and what it is
/// (for errors).
pub(crate) type Call = (CtrlOp, i64, &'static str);

/// What [`AsInner::call_batch`] accepts from a call that returns an id (a thread id).
pub(crate) const EXPECT_ID: i64 = i64::MIN;

/// How long a stub going to the pool may take to show only its control thread.
const RETIRE_TIMEOUT: Duration = Duration::from_millis(100);

/// Most host files one control request takes (they use fds 0 to this minus 1 in the stub).
pub const HOST_FILES_MAX: usize = 8;
static_assertions::const_assert!((HOST_FILES_MAX as i32) < crate::memfile::MIN_FD);

/// The socket pair that carries host fds to stubs: the Sentry sends on `sentry`; every stub
/// process has the other end (inherited from the source) at `STUB_SOCK_FD`, and the Sentry
/// keeps `stub` too, to drain a message a stub failed to take. One transfer at a time.
#[derive(Debug)]
struct FdPass {
    lock: Mutex<()>,
    sentry: OwnedFd,
    stub: OwnedFd,
}

impl FdPass {
    fn new() -> Option<FdPass> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: socketpair writes two fds into `fds`.
        let r = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        };
        if r != 0 {
            return None;
        }
        // SAFETY: both fds are fresh and owned by nothing else.
        let (sentry, stub) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Some(FdPass {
            lock: Mutex::new(()),
            sentry,
            stub,
        })
    }

    /// Sends `fd` as one datagram of one byte with SCM_RIGHTS.
    fn send(&self, fd: RawFd) -> Result<()> {
        let mut byte = [0u8; 1];
        let mut iov = libc::iovec {
            iov_base: byte.as_mut_ptr().cast(),
            iov_len: 1,
        };
        // u64 words keep the cmsg buffer aligned.
        let mut cbuf = [0u64; 4];
        // SAFETY: CMSG_SPACE is a pure computation.
        let space = unsafe { libc::CMSG_SPACE(size_of::<libc::c_int>() as u32) } as usize;
        // SAFETY: an all-zero msghdr is valid; the fields are set below.
        let mut msg: libc::msghdr = unsafe { core::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = space;
        // SAFETY: msg_control points at `cbuf` (32 bytes >= space), so CMSG_FIRSTHDR is
        // non-null and its data has room for one int.
        let r = unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(size_of::<libc::c_int>() as u32) as usize;
            core::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<libc::c_int>(), fd);
            libc::sendmsg(self.sentry.as_raw_fd(), &msg, libc::MSG_DONTWAIT)
        };
        sys::check("sendmsg (fd to stub)", r as i64).map(|_| ())
    }

    /// Receives one fd a stub sent (`SCM_RIGHTS`) on the Sentry's end; only the source
    /// sends (a new stub's eventfd), while the caller holds `lock`.
    fn recv(&self) -> Result<OwnedFd> {
        match recv_fd(self.sentry.as_raw_fd()) {
            Ok(Some(fd)) => Ok(fd),
            Ok(None) => Err(Error::Setup("no fd in the source's message".into())),
            Err(e) => Err(Error::Host {
                call: "recvmsg (stub eventfd)",
                errno: e,
            }),
        }
    }

    /// Takes back whatever no stub received, closing the fds.
    fn drain(&self) {
        while let Ok(fd) = recv_fd(self.stub.as_raw_fd()) {
            drop(fd);
        }
    }
}

/// Receives one datagram on `sock` without waiting: the fd it carried (`SCM_RIGHTS`), if any,
/// or the errno (EAGAIN: none waiting).
fn recv_fd(sock: RawFd) -> core::result::Result<Option<OwnedFd>, snare_abi::Errno> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // u64 words keep the cmsg buffer aligned.
    let mut cbuf = [0u64; 4];
    // SAFETY: an all-zero msghdr is valid; the fields are set below.
    let mut msg: libc::msghdr = unsafe { core::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = size_of_val(&cbuf);
    // SAFETY: the buffers above outlive the call; recvmsg fills at most msg_controllen bytes
    // of `cbuf`.
    let r = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC) };
    if r < 0 {
        return Err(sys::errno());
    }
    // SAFETY: CMSG_FIRSTHDR/CMSG_DATA walk the buffer recvmsg just filled.
    let fd = unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        if c.is_null() || (*c).cmsg_level != libc::SOL_SOCKET || (*c).cmsg_type != libc::SCM_RIGHTS
        {
            return Ok(None);
        }
        core::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::c_int>())
    };
    // SAFETY: the kernel just installed this fd for us; nothing else owns it.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }))
}

#[derive(Debug, Default)]
struct SlotAlloc {
    next: u32,
    /// Slot numbers with nothing mapped.
    free: Vec<u32>,
    /// Slots still mapped in the stub whose threads are gone (a retired stub's): (number,
    /// memory-file offset). A new thread takes one before anything else, wiped.
    idle: Vec<(u32, u64)>,
}

/// One stub process.
#[derive(Debug)]
pub(crate) struct AsInner {
    shared: Arc<Shared>,
    pid: i32,
    pidfd: OwnedFd,
    /// The Sentry's copy of the stub's completion eventfd (`STUB_DONE_FD` in the stub).
    done_fd: OwnedFd,
    ctrl: Mutex<Ctrl>,
    slots: Mutex<SlotAlloc>,
    /// Threads of exited contexts kept stopped in their handlers, for the next context.
    pub(crate) parked: Mutex<Vec<context::Parked>>,
    dead: AtomicBool,
    /// Killed and reaped: the host maps nothing of it any more. A `Once`, so that a second
    /// caller of [`AsInner::kill`] waits for the first one's reap to finish rather than
    /// going on (and freeing the stub's pages) while the stub's threads still run.
    reaped: std::sync::Once,
    /// Its `/proc/PID/stat`, opened at its first retirement (read at each one after).
    stat: std::sync::OnceLock<Option<std::fs::File>>,
}

impl AsInner {
    fn mem(&self) -> &MemoryFile {
        &self.shared.mem
    }

    /// Kills the stub process (corrupt shared memory, or release) and waits until it is gone:
    /// once this returns (or `dead` reads true) no thread of it can touch a page any more,
    /// so the memory-file pages it mapped may go to other processes. (Between SIGKILL and the
    /// end of the process, a thread on another CPU can still run guest code for a moment.)
    fn kill(&self) {
        sys::pidfd_kill(self.pidfd.as_raw_fd());
        self.reap();
        self.dead.store(true, Ordering::SeqCst);
    }

    /// Waits for the killed stub to be gone (its mappings with it) and reaps it.
    fn reap(&self) {
        self.reaped
            .call_once(|| sys::pidfd_reap(self.pidfd.as_raw_fd()));
    }

    /// A control request failed as a whole: the stub is gone, or its answer was impossible
    /// (then it is killed: guest code tampered with it).
    fn failed(&self, e: Error) -> Error {
        tracing::debug!(pid = self.pid, %e, "control request failed");
        if matches!(e, Error::Corrupt(_)) {
            tracing::warn!(pid = self.pid, %e, "killing stub process");
            self.kill();
        } else {
            self.dead.store(true, Ordering::Relaxed);
        }
        e
    }

    fn is_dead(&self) -> bool {
        if self.dead.load(Ordering::Relaxed) {
            return true;
        }
        if sys::pidfd_exited(self.pidfd.as_raw_fd()) {
            self.dead.store(true, Ordering::Relaxed);
            return true;
        }
        false
    }

    /// Runs a host syscall in the stub and returns its non-negative result.
    fn call(&self, what: &'static str, nr: u64, args: [u64; 6]) -> Result<i64> {
        self.call_with(what, nr, args, &mut || {})
    }

    /// Like [`AsInner::call`], running `meanwhile` while the stub works on the call.
    fn call_with(
        &self,
        what: &'static str,
        nr: u64,
        args: [u64; 6],
        meanwhile: &mut dyn FnMut(),
    ) -> Result<i64> {
        if self.dead.load(Ordering::Relaxed) {
            meanwhile();
            return Err(Error::StubDied);
        }
        let mut ctrl = self.ctrl.lock().unwrap_or_else(|e| e.into_inner());
        let mut ret = [0i64; 1];
        let pidfd = self.pidfd.as_raw_fd();
        let ran = ctrl.call_batch(
            self.mem(),
            pidfd,
            Some(self.done_fd.as_raw_fd()),
            &[ctrl::op(nr, args)],
            &mut ret,
            meanwhile,
        );
        match ran.map(|_| ret[0]) {
            Ok(r) if r < 0 => Err(Error::Host {
                call: what,
                errno: snare_abi::Errno::new(-r as i32),
            }),
            Ok(r) => Ok(r),
            Err(e) => Err(self.failed(e)),
        }
    }

    /// Like [`AsInner::call`] for calls that must return 0 (or `expect`); any other answer is
    /// a forged response and kills the stub.
    fn call_expect(&self, what: &'static str, nr: u64, args: [u64; 6], expect: i64) -> Result<()> {
        self.call_expect_with(what, nr, args, expect, &mut || {})
    }

    fn call_expect_with(
        &self,
        what: &'static str,
        nr: u64,
        args: [u64; 6],
        expect: i64,
        meanwhile: &mut dyn FnMut(),
    ) -> Result<()> {
        match self.call_with(what, nr, args, meanwhile)? {
            r if r == expect => Ok(()),
            _ => {
                self.kill();
                Err(Error::Corrupt("control thread answered nonsense"))
            }
        }
    }

    /// Runs `ops` in the stub, [`CTRL_MAX_OPS`] per round trip, in order; each must return
    /// its `expect` value ([`EXPECT_ID`]: a positive id). Stops at the first that fails: its
    /// index and error. Returns every result.
    fn call_batch(&self, ops: &[Call]) -> core::result::Result<Vec<i64>, OpError> {
        let fail = |index: usize, error: Error| Err(OpError { index, error });
        if self.dead.load(Ordering::Relaxed) {
            return fail(0, Error::StubDied);
        }
        let mut ctrl = self.ctrl.lock().unwrap_or_else(|e| e.into_inner());
        let pidfd = self.pidfd.as_raw_fd();
        let mut all = Vec::with_capacity(ops.len());
        for (c, chunk) in ops.chunks(CTRL_MAX_OPS).enumerate() {
            let base = c * CTRL_MAX_OPS;
            let batch: Vec<CtrlOp> = chunk.iter().map(|o| o.0).collect();
            let mut rets = [0i64; CTRL_MAX_OPS];
            tracing::trace!(ops = batch.len(), "control request");
            let done_fd = Some(self.done_fd.as_raw_fd());
            let ran =
                match ctrl.call_batch(self.mem(), pidfd, done_fd, &batch, &mut rets, &mut || {}) {
                    Ok(n) => n,
                    Err(e) => return fail(base, self.failed(e)),
                };
            tracing::trace!(ran, "control request done");
            for (j, &(_, expect, what)) in chunk.iter().enumerate() {
                let r = rets[j];
                let id = expect == EXPECT_ID && r > 0 && r <= i64::from(i32::MAX);
                if j < ran && (r == expect || id) {
                    all.push(r);
                    continue;
                }
                if j < ran && (-4095..0).contains(&r) {
                    let errno = snare_abi::Errno::new(-r as i32);
                    return fail(base + j, Error::Host { call: what, errno });
                }
                self.kill();
                return fail(base + j, Error::Corrupt("control thread answered nonsense"));
            }
        }
        Ok(all)
    }

    fn check_range(&self, addr: u64, len: u64) -> Result<()> {
        let page = snare_abi::PAGE_SIZE as u64;
        if len == 0 || !addr.is_multiple_of(page) || !len.is_multiple_of(page) {
            return Err(Error::BadRange);
        }
        match addr.checked_add(len) {
            Some(end) if addr >= MIN_USER_ADDRESS && end <= STUB_BASE => Ok(()),
            _ => Err(Error::BadRange),
        }
    }

    /// Empties a stub whose process ended so that the next process may use it: its parked
    /// threads are told to exit, every guest mapping is unmapped, and then the kernel must say
    /// the control thread is the only thread left. The thread count is the proof that no code
    /// of the ended process can run in the next one: a guest thread can't make threads (its
    /// filter traps clone), so one that only pretended to exit is still counted. The parked
    /// threads' slots stay mapped, idle, for the next process's threads (wiped before use).
    /// Returns whether the stub is fit for the pool; if not, it is killed.
    fn retire(&self) -> bool {
        let t0 = Instant::now();
        let slots = context::retire_parked(self);
        let emptied = self.call_batch(&[(
            ctrl::op(
                11,
                [MIN_USER_ADDRESS, STUB_BASE - MIN_USER_ADDRESS, 0, 0, 0, 0],
            ),
            0,
            "munmap (empty)",
        )]);
        let t1 = Instant::now();
        let alone = emptied.is_ok() && self.only_control_thread();
        tracing::debug!(
            empty_us = (t1 - t0).as_micros() as u64,
            count_us = t1.elapsed().as_micros() as u64,
            alone,
            "retire timeline"
        );
        let mut alloc = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        alloc.idle.extend(slots);
        drop(alloc);
        if !alone {
            tracing::debug!(pid = self.pid, "stub not pooled");
            self.kill();
            return false;
        }
        !self.is_dead()
    }

    /// Gives a retired stub a fresh parked thread (see [`SystrapContext::park_fresh`]).
    fn add_fresh_thread(self: &Arc<Self>) -> bool {
        match SystrapContext::park_fresh(self) {
            Ok(()) => true,
            Err(e) => {
                tracing::debug!(pid = self.pid, %e, "no fresh thread for a pooled stub");
                false
            }
        }
    }

    /// Whether the host kernel counts exactly one thread in the stub (its control thread),
    /// waiting a little for threads that were just told to exit: yielding for the first
    /// millisecond, then in short sleeps, for [`RETIRE_TIMEOUT`] at most.
    fn only_control_thread(&self) -> bool {
        let stat = self
            .stat
            .get_or_init(|| crate::host_proc::open(&format!("{}/stat", self.pid)).ok());
        let Some(stat) = stat else {
            return false;
        };
        let start = Instant::now();
        loop {
            match sys::thread_count(stat) {
                Some(1) => return true,
                Some(_) if start.elapsed() < RETIRE_TIMEOUT => {
                    if start.elapsed() < Duration::from_millis(1) {
                        std::thread::yield_now();
                    } else {
                        std::thread::sleep(Duration::from_micros(100));
                    }
                }
                _ => return false,
            }
        }
    }

    fn take_idle_slot(&self) -> Option<(u32, u64)> {
        self.slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .idle
            .pop()
    }

    fn put_idle_slot(&self, idx: u32, off: u64) {
        self.slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .idle
            .push((idx, off));
    }

    fn alloc_slot(&self) -> Result<u32> {
        let mut s = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = s.free.pop() {
            return Ok(i);
        }
        if u64::from(s.next) >= MAX_SLOTS {
            return Err(Error::TooManyThreads);
        }
        s.next += 1;
        Ok(s.next - 1)
    }

    fn free_slot(&self, idx: u32) {
        self.slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .free
            .push(idx);
    }
}

impl Drop for AsInner {
    fn drop(&mut self) {
        self.kill();
        let parked = std::mem::take(self.parked.get_mut().unwrap_or_else(|e| e.into_inner()));
        for p in parked {
            self.shared
                .mem
                .free(p.slot_off, snare_stub::layout::SLOT_SIZE);
        }
        let idle =
            std::mem::take(&mut self.slots.get_mut().unwrap_or_else(|e| e.into_inner()).idle);
        for (_, off) in idle {
            self.shared.mem.free(off, snare_stub::layout::SLOT_SIZE);
        }
        let off = self.ctrl.get_mut().map_or(0, |c| c.off);
        self.shared.mem.free(off, ctrl::CTRL_PAGES);
    }
}

/// Packs `ops` into control requests: each takes at most `CTRL_MAX_OPS` calls (a host file
/// ([`MapOp::MapHost`]) adds a receive and a close; the last request keeps room for `extra`
/// more) and at most [`HOST_FILES_MAX`] files. Returns each request's ops and files.
fn requests(ops: &[MapOp], extra: usize) -> Vec<(core::ops::Range<usize>, Vec<RawFd>)> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < ops.len() {
        let mut files: Vec<RawFd> = Vec::new();
        let mut end = start;
        while end < ops.len() {
            let new_file = match ops[end] {
                MapOp::MapHost { fd, .. } if !files.contains(&fd) => Some(fd),
                _ => None,
            };
            let nfiles = files.len() + usize::from(new_file.is_some());
            let calls = end - start + 1 + 2 * nfiles;
            if end > start && (calls > CTRL_MAX_OPS || nfiles > HOST_FILES_MAX) {
                break;
            }
            files.extend(new_file);
            end += 1;
        }
        out.push((start..end, files));
        start = end;
    }
    // The extra calls go with the last request if they fit, else alone.
    let fits = out
        .last()
        .is_some_and(|(r, f)| r.len() + 2 * f.len() + extra <= CTRL_MAX_OPS);
    if extra > 0 && !fits {
        out.push((ops.len()..ops.len(), Vec::new()));
    }
    out
}

/// A guest address space: one stub process. Dropping it (and every context in it) kills and
/// reaps the process.
#[derive(Debug)]
pub struct SystrapAddressSpace {
    inner: Arc<AsInner>,
    /// [`AddressSpace::release`] ran (this handle gave the stub up).
    released: AtomicBool,
}

impl Drop for Systrap {
    fn drop(&mut self) {
        // The pooled stubs hold the shared state: let them go (killed and reaped).
        let pooled =
            std::mem::take(&mut *self.shared.pool.lock().unwrap_or_else(|e| e.into_inner()));
        drop(pooled);
    }
}

impl Drop for SystrapAddressSpace {
    fn drop(&mut self) {
        self.release();
    }
}

impl SystrapAddressSpace {
    /// See [`AddressSpace::release`]: the last handle of a stub with no contexts left goes to
    /// the pool when there is room and [`AsInner::retire`] proves it empty; any other stub is
    /// killed and reaped here, so none of its pages stays mapped (a guest thread still
    /// running in it would otherwise reach pages already given to another process).
    fn release_stub(&self) {
        if self.released.swap(true, Ordering::SeqCst) {
            return;
        }
        let inner = &self.inner;
        let shared = &inner.shared;
        let room = || shared.pool.lock().unwrap_or_else(|e| e.into_inner()).len() < shared.pool_max;
        if Arc::strong_count(inner) == 1
            && !inner.is_dead()
            && room()
            && inner.retire()
            && inner.add_fresh_thread()
        {
            let mut pool = shared.pool.lock().unwrap_or_else(|e| e.into_inner());
            if pool.len() < shared.pool_max {
                tracing::debug!(pid = inner.pid, "stub pooled");
                pool.push(inner.clone());
                return;
            }
        }
        inner.kill();
    }
}

impl SystrapAddressSpace {
    /// Makes every thread of the stub process that is running on a host CPU pass a full
    /// memory barrier (with `sync_core`, also a core-serializing instruction) before this
    /// returns; threads not running pass one when the host schedules them in. This is the
    /// host's `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED[_SYNC_CORE])`, run by the control
    /// thread in the stub's own address space (the command targets the caller's), after the
    /// registration the host requires (which returns at once once done).
    pub fn membarrier(&self, sync_core: bool) -> Result<()> {
        // MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED[_SYNC_CORE] and the command itself.
        let (register, barrier): (u64, u64) = if sync_core { (64, 32) } else { (16, 8) };
        let nr = libc::SYS_membarrier as u64;
        let ops: [Call; 2] = [
            (
                ctrl::op(nr, [register, 0, 0, 0, 0, 0]),
                0,
                "membarrier register",
            ),
            (ctrl::op(nr, [barrier, 0, 0, 0, 0, 0]), 0, "membarrier"),
        ];
        self.inner.call_batch(&ops).map(|_| ()).map_err(|e| e.error)
    }

    /// Maps the host file `fd` (open for reading) privately at each `(addr, len, prot, file
    /// offset)` of `maps`, none writable, in one control request: the fd goes to the stub
    /// over the fd-passing socket, the control thread maps it and closes it again. The host
    /// then serves those pages from its own page cache, on first touch, with nothing copied;
    /// the guest can't write them (a write faults to the Sentry, which copies), so the
    /// Sentry's view of the memory stays right. The stub holds the fd only during the request.
    /// [`MapOp::MapHost`] does the same inside any batch of [`AddressSpace::apply`].
    pub fn map_host_file(&self, fd: RawFd, maps: &[HostMap]) -> Result<()> {
        let ops: Vec<MapOp> = maps
            .iter()
            .map(|&(addr, len, prot, offset)| MapOp::MapHost {
                addr,
                len,
                prot,
                fd,
                offset,
            })
            .collect();
        self.apply(&ops).map_err(|e| e.error)
    }

    /// A new context whose control request first runs `ops` (an exec's image, a forked
    /// child's premapping): one round trip for both. A parked thread is taken as it is, with
    /// `ops` not run (`false`); otherwise they run first (`true`). On failure nothing is
    /// created: the error says which op failed (`ops.len()`: the thread itself).
    pub fn new_context_after(
        &self,
        ops: &[MapOp],
    ) -> core::result::Result<(SystrapContext, bool), OpError> {
        let inner = &self.inner;
        if let Some(ctx) = SystrapContext::from_parked(inner) {
            return Ok((ctx, false));
        }
        // What doesn't fit the thread's request goes before it.
        let (range, files) = requests(ops, 2).pop().unwrap_or((0..0, Vec::new()));
        let start = range.start;
        if start > 0 {
            self.apply(&ops[..start])?;
        }
        let mut failed = None;
        let ctx = SystrapContext::new_thread(inner.clone(), &mut |calls| {
            self.apply_request(&ops[range.clone()], &files, calls)
                .map_err(|e| {
                    let error = e.error.clone();
                    failed = Some(OpError {
                        index: start + e.index,
                        error: e.error,
                    });
                    error
                })
        });
        match ctx {
            Ok(ctx) => Ok((ctx, true)),
            Err(error) => Err(failed.unwrap_or(OpError {
                index: ops.len(),
                error,
            })),
        }
    }

    /// The control-thread call of one op (`file`: the stub's fd of a host file's op).
    fn op_call(&self, op: &MapOp, file: u64) -> Result<Call> {
        Ok(match *op {
            MapOp::Map {
                addr,
                len,
                file_offset,
                prot,
                populate,
            } => {
                let (flags, fd) = self.map_args(addr, len, file_offset, populate)?;
                let args = [addr, len, u64::from(prot.bits()), flags, fd, file_offset];
                (ctrl::op(9, args), addr as i64, "mmap (stub)")
            }
            MapOp::Unmap { addr, len } => {
                self.inner.check_range(addr, len)?;
                (ctrl::op(11, [addr, len, 0, 0, 0, 0]), 0, "munmap (stub)")
            }
            MapOp::Protect { addr, len, prot } => {
                self.inner.check_range(addr, len)?;
                let args = [addr, len, u64::from(prot.bits()), 0, 0, 0];
                (ctrl::op(10, args), 0, "mprotect (stub)")
            }
            MapOp::MapHost {
                addr,
                len,
                prot,
                offset,
                ..
            } => {
                self.inner.check_range(addr, len)?;
                if prot.contains(Prot::WRITE) || !offset.is_multiple_of(snare_abi::PAGE_SIZE as u64)
                {
                    return Err(Error::BadRange);
                }
                let flags = (libc::MAP_PRIVATE | libc::MAP_FIXED) as u64;
                let args = [addr, len, u64::from(prot.bits()), flags, file, offset];
                (ctrl::op(9, args), addr as i64, "mmap (host file)")
            }
        })
    }

    /// Runs `ops` (they fit one control request: see [`AddressSpace::apply`]) with the host
    /// files `files` (Sentry fds, in the order of their first op) passed to the stub first,
    /// then the calls `extra`, whose results it returns. A failed extra call is reported at
    /// index `ops.len()`.
    fn apply_request(
        &self,
        ops: &[MapOp],
        files: &[RawFd],
        extra: &[Call],
    ) -> core::result::Result<Vec<i64>, OpError> {
        let inner = &self.inner;
        let n = files.len();
        tracing::trace!(?ops, "apply");
        let mut calls = Vec::with_capacity(ops.len() + 2 * n);
        let recv = ctrl::op(
            47,
            [
                STUB_SOCK_FD,
                STUB_CTRL_RESP + RESP_MSG,
                (libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC) as u64,
                0,
                0,
                0,
            ],
        );
        for _ in files {
            calls.push((recv, 1, "recvmsg (stub)"));
        }
        let mut bad = None;
        for (index, op) in ops.iter().enumerate() {
            let file = match op {
                MapOp::MapHost { fd, .. } => files.iter().position(|f| f == fd).unwrap_or(0),
                _ => 0,
            };
            match self.op_call(op, file as u64) {
                Ok(c) => calls.push(c),
                Err(error) => {
                    bad = Some(OpError { index, error });
                    break;
                }
            }
        }
        if let Some(b) = &bad {
            // Run the valid ones before it; the extra calls don't run.
            calls.truncate(n + b.index);
        } else {
            calls.extend_from_slice(extra);
        }
        let with_extra = calls.len() - n;
        for i in 0..n {
            calls.push((
                ctrl::op(3, [i as u64, 0, 0, 0, 0, 0]),
                0,
                "close (host file)",
            ));
        }
        // A call's index in `calls` as the index of its op (the receives count as the
        // first op's, the extra calls and the closes as one past the last).
        let op_index = |j: usize| j.saturating_sub(n).min(ops.len());
        let extra_rets = |rets: Vec<i64>| -> Vec<i64> {
            rets.get(n + ops.len()..n + with_extra)
                .unwrap_or_default()
                .to_vec()
        };
        if n == 0 {
            let rets = inner.call_batch(&calls)?;
            return bad.map_or(Ok(extra_rets(rets)), Err);
        }
        let setup = |error| OpError { index: 0, error };
        let pass = inner
            .shared
            .fd_pass
            .as_ref()
            .ok_or_else(|| setup(Error::Setup("no fd-passing socket".into())))?;
        let _one_at_a_time = pass.lock.lock().unwrap_or_else(|e| e.into_inner());
        // The receive buffers live in the stub's response page (writable there: a guest that
        // scribbles on them only spoils its own mappings; fd numbers don't come from there).
        let resp = inner.ctrl.lock().unwrap_or_else(|e| e.into_inner()).off + 4096;
        let mem = inner.mem();
        let iov = [STUB_CTRL_RESP + RESP_BYTE, 1u64];
        mem.write_pod(resp + RESP_IOV, &iov);
        // msghdr: name, namelen, iov, iovlen, control, controllen, flags.
        let msg: [u64; 7] = [
            0,
            0,
            STUB_CTRL_RESP + RESP_IOV,
            1,
            STUB_CTRL_RESP + RESP_CMSG,
            RESP_CMSG_LEN,
            0,
        ];
        mem.write_pod(resp + RESP_MSG, &msg);
        for &fd in files {
            if let Err(e) = pass.send(fd) {
                pass.drain();
                return Err(setup(e));
            }
        }
        match inner.call_batch(&calls) {
            Ok(rets) => bad.map_or(Ok(extra_rets(rets)), Err),
            Err(OpError { index, error }) => {
                pass.drain();
                if index >= n + with_extra {
                    // A close failed: the next request's files would land on other fds.
                    inner.kill();
                    return Err(OpError {
                        index: ops.len(),
                        error: Error::Corrupt("closing a host file failed"),
                    });
                }
                if index > 0 && !matches!(error, Error::StubDied | Error::Corrupt(_)) {
                    for i in 0..n {
                        let _ = inner.call("close (host file)", 3, [i as u64, 0, 0, 0, 0, 0]);
                    }
                }
                Err(OpError {
                    index: op_index(index),
                    error,
                })
            }
        }
    }

    /// Host pid of the stub process (for tests and debugging).
    pub fn stub_pid(&self) -> i32 {
        self.inner.pid
    }

    /// A pidfd of the stub process: readable once it has exited.
    pub fn pidfd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.inner.pidfd.as_fd()
    }

    /// True once the stub process is gone.
    pub fn is_dead(&self) -> bool {
        self.inner.is_dead()
    }
}

impl SystrapAddressSpace {
    /// Checks a mapping of the memory file and gives the stub mmap's flags and fd.
    /// MAP_POPULATE (`populate`) when the pages are about to be touched (what faulted and its
    /// neighbours): one populate is far cheaper than a host fault per page.
    fn map_args(
        &self,
        addr: u64,
        len: u64,
        file_offset: u64,
        populate: bool,
    ) -> Result<(u64, u64)> {
        self.inner.check_range(addr, len)?;
        let mem = self.inner.mem();
        if !file_offset.is_multiple_of(snare_abi::PAGE_SIZE as u64)
            || file_offset.checked_add(len).is_none_or(|e| e > mem.size())
        {
            return Err(Error::BadRange);
        }
        let mut flags = libc::MAP_SHARED | libc::MAP_FIXED;
        if populate {
            flags |= libc::MAP_POPULATE;
        }
        Ok((flags as u64, mem.fd() as u64))
    }
}

impl AddressSpace for SystrapAddressSpace {
    type Context = SystrapContext;

    fn map_file(&self, addr: u64, len: u64, file_offset: u64, prot: Prot) -> Result<()> {
        self.map_file_with(addr, len, file_offset, prot, &mut || {})
    }

    /// The control thread maps (and populates) while the Sentry fills the pages: the two
    /// overlap, and the control thread is still awake when the answer is needed.
    fn map_file_with(
        &self,
        addr: u64,
        len: u64,
        file_offset: u64,
        prot: Prot,
        fill: &mut dyn FnMut(),
    ) -> Result<()> {
        let (flags, fd) = match self.map_args(addr, len, file_offset, true) {
            Ok(a) => a,
            Err(e) => {
                fill();
                return Err(e);
            }
        };
        let threads = {
            let slots = self.inner.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots.next as usize - slots.free.len() - slots.idle.len()
        };
        let args = [addr, len, u64::from(prot.bits()), flags, fd, file_offset];
        if threads > 1 {
            // Other threads of this address space may be running: they would see the pages
            // as soon as the stub's mmap lands, so fill them first (no overlap).
            fill();
            return self.inner.call_expect("mmap (stub)", 9, args, addr as i64);
        }
        self.inner
            .call_expect_with("mmap (stub)", 9, args, addr as i64, fill)
    }

    fn apply(&self, ops: &[MapOp]) -> core::result::Result<(), OpError> {
        for (range, files) in requests(ops, 0) {
            let start = range.start;
            self.apply_request(&ops[range], &files, &[])
                .map_err(|e| OpError {
                    index: (start + e.index).min(ops.len() - 1),
                    error: e.error,
                })?;
        }
        Ok(())
    }

    fn unmap(&self, addr: u64, len: u64) -> Result<()> {
        self.inner.check_range(addr, len)?;
        self.inner
            .call_expect("munmap (stub)", 11, [addr, len, 0, 0, 0, 0], 0)
    }

    fn protect(&self, addr: u64, len: u64, prot: Prot) -> Result<()> {
        self.inner.check_range(addr, len)?;
        let args = [addr, len, u64::from(prot.bits()), 0, 0, 0];
        self.inner.call_expect("mprotect (stub)", 10, args, 0)
    }

    fn new_context(&self) -> Result<SystrapContext> {
        SystrapContext::new(self.inner.clone())
    }

    fn release(&self) {
        self.release_stub();
    }

    fn kill(&self) {
        tracing::warn!(
            pid = self.inner.pid,
            "killing stub process: its mappings are unknown"
        );
        self.inner.kill();
    }
}

/// Clone flags of a guest thread, for the context module.
pub(crate) const GUEST_THREAD_FLAGS: u64 = CLONE_GUEST_THREAD;
