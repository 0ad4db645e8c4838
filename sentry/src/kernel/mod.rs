//! The kernel proper: the sandbox-wide [`Kernel`] and the [`Task`]s (guest threads) it runs.
//!
//! A task is driven by its own Sentry thread: `Task::run` switches into guest code through the
//! platform, and each event that comes back (a syscall, a fault, a signal) is handled here
//! before switching again.

pub mod caps;
mod exec;
pub mod host_events;
pub mod ipc;
pub mod live_limits;
pub mod mounts;
mod oom;
pub mod pidfd;
pub mod process;
pub mod rlimits;
pub mod sched;
pub mod seccomp;
pub mod seccomp_bpf;
pub mod signal;
pub mod signalfd;
mod stubwatch;
mod task;
pub mod timer_service;
pub mod timers;
pub mod wait;
pub mod workers;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use snare_platform::systrap::{Systrap, SystrapAddressSpace};
use snare_platform::Platform;

use crate::vfs::mount::MountTable;
use crate::vfs::tmpfs::Tmpfs;
use crate::vfs::HostRoot;

pub use exec::{comm_of, exec, ExecCreds, ExecError, Image};
pub use task::{ExitStatus, FsContext, RestartBlock, Task};

/// Host facts the guest sees in its auxiliary vector, read once from `/proc/self/auxv`.
#[derive(Clone, Copy, Debug, Default)]
pub struct HostAux {
    pub hwcap: u64,
    pub hwcap2: u64,
    pub clktck: u64,
    pub minsigstksz: u64,
    /// The host vDSO; every stub keeps it mapped at this address.
    pub sysinfo_ehdr: u64,
}

impl HostAux {
    fn read() -> HostAux {
        let mut a = HostAux {
            clktck: 100,
            ..HostAux::default()
        };
        let Ok(mut file) = snare_platform::host_proc::open("self/auxv") else {
            return a;
        };
        let mut bytes = Vec::new();
        let Ok(_) = std::io::Read::read_to_end(&mut file, &mut bytes) else {
            return a;
        };
        for pair in bytes.chunks_exact(16) {
            let (k, v) = pair.split_at(8);
            let k = u64::from_ne_bytes(k.try_into().unwrap_or_default());
            let v = u64::from_ne_bytes(v.try_into().unwrap_or_default());
            match k {
                16 => a.hwcap = v,
                26 => a.hwcap2 = v,
                17 => a.clktck = v,
                51 => a.minsigstksz = v,
                33 => a.sysinfo_ehdr = v,
                _ => {}
            }
        }
        a
    }
}

/// `st_dev` of memfd files (0:4006), whose tmpfs is mounted nowhere.
pub const MEMFD_DEV: u64 = 0x00f0_00a6;

/// The names `uname(2)` reports of the sandbox (Linux's `new_utsname` fields a UTS namespace
/// holds): set by `sethostname(2)` and `setdomainname(2)`, at most 64 bytes each.
#[derive(Debug, Clone)]
pub struct UtsNames {
    pub hostname: Vec<u8>,
    /// The NIS domain name, `(none)` until set.
    pub domainname: Vec<u8>,
}

/// Sandbox-wide state.
#[derive(Debug)]
pub struct Kernel {
    pub platform: Systrap,
    pub root: HostRoot,
    /// The sandbox's first mount namespace (`mounts::sandbox`; init's, and every task's
    /// until one unshares it).
    pub mounts: Arc<MountTable>,
    /// The sandbox's pseudo-terminals (`/dev/ptmx`, mounted at `/dev/pts`).
    pub devpts: Arc<crate::vfs::pty::Devpts>,
    /// The tmpfs of memfd files (`memfd_create(2)`), mounted nowhere: its files are in no
    /// directory (Linux's internal shm mount).
    pub memfd: Arc<Tmpfs>,
    /// The System V IPC namespace every guest process shares.
    pub ipc: Arc<ipc::IpcNamespace>,
    pub strace: bool,
    pub boot: Instant,
    pub aux: HostAux,
    /// The sandbox's host and domain names (its one UTS namespace).
    pub uts: Mutex<UtsNames>,
    /// Guest uid/gid (the invoking user's, as `snare do` keeps them).
    pub uid: u32,
    pub gid: u32,
    /// The pid namespace: live tasks and unreaped processes.
    pub pids: Mutex<process::PidTable>,
    /// The foreground process group of the terminal behind stdio (TIOCSPGRP); host
    /// terminal signals (Ctrl-C) go to it.
    pub fg_pgrp: std::sync::atomic::AtomicI32,
    /// The sandbox's init (pid 1): orphans are reparented to it.
    pub init: OnceLock<Arc<process::ThreadGroup>>,
    /// Futex waiters.
    pub futexes: crate::syscalls::FutexTable,
    /// A ready stub process for the next fork or exec, made in the background.
    spare: Arc<(Mutex<Option<SystrapAddressSpace>>, std::sync::Condvar)>,
    /// Unimplemented syscalls already reported, so each is logged once.
    warned: Mutex<HashSet<u64>>,
    /// The housekeeping thread's sources: stub deaths (which kill the process that waits in
    /// the Sentry), host signals, the control socket (`None`: no thread could start).
    pub events: Option<Arc<host_events::HostEvents>>,
    /// The stub's fast syscall path when syscall sites get patched (`mm/patch.rs`): the
    /// machine supports it and `SNARE_PATCH` is not `0`.
    pub fast_syscalls: Option<u64>,
    /// Some process asked for its children's CPU time (`getrusage(RUSAGE_CHILDREN)`,
    /// `times`, a wait's rusage): from then on every process banks its own at exit, which
    /// costs a host read per exit (`timers::thread_cpu`), so it starts only when wanted.
    pub children_cpu_wanted: std::sync::atomic::AtomicBool,
    /// The sandbox's seccomp profile over guest syscalls (an OCI bundle's `linux.seccomp`),
    /// set before the guest's init runs.
    pub seccomp: OnceLock<seccomp::Filter>,
    /// A container's memory and pids limits as `snare update` leaves them.
    pub limits: live_limits::LiveLimits,
}

impl Kernel {
    /// `ids`: the uid and gid the guest's first process runs as; `hostname`: the sandbox's
    /// (`uname`, `/proc/sys/kernel/hostname`), `snare` if none.
    pub fn new(
        platform: Systrap,
        root: HostRoot,
        write_through: Option<Arc<crate::vfs::hostdir::HostDir>>,
        strace: bool,
        ids: (u32, u32),
        hostname: Option<&str>,
    ) -> Arc<Kernel> {
        let (uid, gid) = ids;
        // The overlay's own handle on the root directory (a dup: only fd exhaustion at
        // start-up could fail it).
        let lower = root.try_clone().expect("duplicate the root directory fd");
        if std::env::var("SNARE_DIRECT").is_ok_and(|v| v == "0") {
            crate::mm::DIRECT_MAPPINGS.store(false, std::sync::atomic::Ordering::Relaxed);
        }
        if std::env::var("SNARE_LAZY").is_ok_and(|v| v == "0") {
            crate::mm::LAZY_MAPPINGS.store(false, std::sync::atomic::Ordering::Relaxed);
        }
        let fast_syscalls = platform
            .fast_syscall_entry()
            .filter(|_| std::env::var("SNARE_PATCH").map_or(true, |v| v != "0"));
        let devpts = crate::vfs::pty::Devpts::new();
        let mem = platform.memory_file();
        let mounts = Arc::new(mounts::sandbox(
            lower,
            write_through,
            uid,
            gid,
            mem,
            &devpts,
        ));
        let memfd = Tmpfs::mounted(uid, gid, b"", MEMFD_DEV, 0);
        let ipc = ipc::IpcNamespace::new(ipc::Limits::default(), memfd.clone());
        let k = Arc::new(Kernel {
            fast_syscalls,
            children_cpu_wanted: std::sync::atomic::AtomicBool::new(false),
            seccomp: OnceLock::new(),
            platform,
            root,
            mounts,
            devpts,
            memfd,
            ipc,
            strace,
            boot: Instant::now(),
            aux: HostAux::read(),
            uts: Mutex::new(UtsNames {
                hostname: hostname.unwrap_or("snare").as_bytes().to_vec(),
                domainname: b"(none)".to_vec(),
            }),
            uid,
            gid,
            pids: Mutex::new(process::PidTable::default()),
            fg_pgrp: std::sync::atomic::AtomicI32::new(1),
            init: OnceLock::new(),
            futexes: Default::default(),
            spare: Arc::new((Mutex::new(None), std::sync::Condvar::new())),
            warned: Mutex::new(HashSet::new()),
            events: host_events::HostEvents::start(),
            limits: Default::default(),
        });
        let mem = k.platform.memory_file();
        let killer: std::sync::Weak<dyn crate::mm::OomKiller> = Arc::downgrade(&k) as _;
        crate::mm::set_oom_killer(mem, killer);
        let limit = mem.limit();
        if limit != u64::MAX {
            // memfd files have no size= of their own on Linux: only the memory bounds them.
            k.memfd
                .set_limits(Some(mem.clone()), limit, limit / crate::mm::PAGE);
        }
        k
    }

    /// Records that `tg` now runs in the stub of `space`, whose death kills it.
    pub fn watch_stub(&self, space: &SystrapAddressSpace, tg: &Arc<process::ThreadGroup>) {
        stubwatch::watch(self.events.as_deref(), space, tg);
    }

    /// A new, empty address space (one stub process) for fork or exec: the spare one made in
    /// the background if it is ready, else a fresh one. Taking the spare asks for the next.
    pub fn new_address_space(self: &Arc<Kernel>) -> snare_platform::Result<SystrapAddressSpace> {
        let (slot, cv) = &*self.spare;
        let taken = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        cv.notify_one();
        match taken {
            Some(s) if !s.is_dead() => Ok(s),
            _ => self.platform.new_address_space(),
        }
    }

    /// Starts the thread that keeps one spare address space ready, when there are CPUs to
    /// spare (≥ 4; `SNARE_SPARE=1`/`0` forces it on or off): on two CPUs making the stub in
    /// the background competes with the guest and measured slower (shell loop of 200
    /// `/bin/true`: 630–705 ms with, 511–549 ms without). The thread holds only a weak
    /// reference: it ends with the kernel.
    pub fn start_spares(self: &Arc<Kernel>) {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let wanted = match std::env::var("SNARE_SPARE").as_deref() {
            Ok("1") => true,
            Ok("0") => false,
            _ => cpus >= 4,
        };
        if !wanted {
            return;
        }
        let spare = self.spare.clone();
        let platform = self.platform.clone();
        let weak = Arc::downgrade(self);
        let spawned = std::thread::Builder::new()
            .name("snare-spares".into())
            .spawn(move || {
                let (slot, cv) = &*spare;
                loop {
                    if weak.strong_count() == 0 {
                        return;
                    }
                    let empty = slot.lock().unwrap_or_else(|e| e.into_inner()).is_none();
                    if empty {
                        match platform.new_address_space() {
                            Ok(s) => *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(s),
                            Err(e) => {
                                tracing::warn!(%e, "cannot make a spare address space");
                                return;
                            }
                        }
                    }
                    let g = slot.lock().unwrap_or_else(|e| e.into_inner());
                    let _ = cv
                        .wait_timeout_while(g, std::time::Duration::from_secs(1), |s| s.is_some());
                }
            });
        if spawned.is_err() {
            tracing::warn!("cannot start the spare address space thread");
        }
    }

    /// True the first time `nr` is reported unimplemented.
    pub fn first_unimplemented(&self, nr: u64) -> bool {
        self.warned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(nr)
    }
}
