//! `snare do`: boot a sandbox, run one command in it with stdio passed through, and report its
//! exit status. The OCI runtime's containers (`crate::oci`) are the same sandbox, stopped at a
//! [`Gate`] between set-up and the guest's start.

use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

use snare_abi::file::{o, S_IFMT, S_IFREG};
use snare_abi::Errno;
use snare_platform::isolate::Side;
use snare_platform::systrap::{Config, Systrap};
use snare_platform::Platform;

use crate::kernel::process::{TaskHandle, ThreadGroup};
use crate::kernel::{exec, FsContext, Kernel, Task};
use crate::vfs::{FdTable, HostFile, HostRoot};

/// What `snare do` runs.
#[derive(Debug, Clone)]
pub struct DoRequest {
    pub root: std::path::PathBuf,
    pub strace: bool,
    /// Install the Sentry's seccomp filter (`sandbox::confine`); off only with
    /// `--no-confine`.
    pub confine: bool,
    /// `--network`: `None` gives the confined Sentry a new network namespace with only its
    /// loopback; `Host` leaves it in the host's; `Join` puts it in the one at a path.
    pub network: crate::cli::Network,
    pub cwd: Option<Vec<u8>>,
    /// Start from snare's own environment (`snare do`), or from nothing (a container's
    /// `process.env` is the whole of it).
    pub inherit_env: bool,
    pub env: Vec<(String, String)>,
    /// The guest init's user and groups; `None`: the Sentry's own ids (`snare do`).
    pub user: Option<crate::kernel::process::Creds>,
    /// The guest init's umask.
    pub umask: u32,
    /// The root file system is mounted read-only (writes fail with `EROFS`).
    pub read_only_root: bool,
    /// Where changes to the root go: the sandbox's memory, or the root directory itself.
    pub root_writes: crate::kernel::mounts::RootWrites,
    /// The sandbox's hostname (`snare` if none).
    pub hostname: Option<String>,
    /// Signals sent to snare go to the guest's init alone, as a container runtime's `kill`
    /// sends them; otherwise (`snare do`) to the foreground process group, as a terminal's.
    pub signals_to_init: bool,
    /// The sandbox's memory limit in bytes (`--memory`; [`default_memory`]).
    pub memory: u64,
    /// `--volume` and `--tmpfs`, in order.
    pub mounts: Vec<crate::kernel::mounts::UserMount>,
    /// The guest init's resource limits other than the defaults (`kernel::rlimits`):
    /// (resource, soft, hard), a container's `process.rlimits`.
    pub rlimits: Vec<(u32, u64, u64)>,
    /// The largest single mapping allowed (Linux's overcommit heuristic: the machine's RAM);
    /// `None`: the memory limit (`snare do --memory` is the machine). A container's is the
    /// host's, its limit being a cgroup's (`mm::set_commit_limit`).
    pub commit_limit: Option<u64>,
    /// `net.*` sysctls to write once the network namespace at `network`'s path is joined
    /// (a container's `linux.sysctl`, checked by `oci::sysctl`).
    pub sysctls: Vec<(String, String)>,
    /// The limits of the sandbox's System V IPC namespace (a container's `kernel.shm*`,
    /// `kernel.sem`, `kernel.msg*` sysctls; else Linux's defaults).
    pub ipc: crate::kernel::ipc::Limits,
    /// The seccomp profile over guest syscalls (a container's `linux.seccomp`).
    pub seccomp: Option<crate::kernel::seccomp::Filter>,
    /// A container's limits file (`kernel::live_limits`): its memory and pids limits, which
    /// `snare update` changes while it runs.
    pub limits: Option<std::path::PathBuf>,
    pub argv: Vec<Vec<u8>>,
    /// Host fds for the guest's fds 3, 4, … (`--preserve-fds`), with their host names.
    pub extra_fds: Vec<(Arc<std::os::fd::OwnedFd>, String)>,
}

/// Most `--memory` defaults to.
const DEFAULT_MEMORY_MAX: u64 = 64 << 30;

/// The default memory limit: the host's `MemTotal` (more could never be backed: the host's
/// OOM killer would end the whole sandbox, Sentry included), at most 64 GiB; 64 GiB if
/// `/proc/meminfo` can't be read.
pub fn default_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            kib.checked_mul(1024)
        })
        .map_or(DEFAULT_MEMORY_MAX, |b| b.min(DEFAULT_MEMORY_MAX))
}

/// A failure before the guest ran, with the exit status the shell convention gives it.
#[derive(Debug)]
pub struct DoError {
    pub status: i32,
    pub message: String,
}

pub(crate) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Finds `cmd` the way a shell does: as given if it has a slash, else on `$PATH` (`stat`
/// answers for the guest's tree).
pub(crate) fn lookup(
    stat: impl Fn(&[u8]) -> Result<snare_abi::file::Stat, Errno>,
    cmd: &[u8],
    path_var: &str,
    cwd: &[u8],
) -> Option<Vec<u8>> {
    if cmd.contains(&b'/') {
        if cmd.first() == Some(&b'/') {
            return Some(cmd.to_vec());
        }
        let mut p = cwd.to_vec();
        if p.last() != Some(&b'/') {
            p.push(b'/');
        }
        p.extend_from_slice(cmd);
        return Some(p);
    }
    for dir in path_var.split(':').filter(|d| d.starts_with('/')) {
        let mut p = dir.as_bytes().to_vec();
        p.push(b'/');
        p.extend_from_slice(cmd);
        if let Ok(st) = stat(&p) {
            if st.st_mode & S_IFMT == S_IFREG {
                return Some(p);
            }
        }
    }
    None
}

/// Host stdio, passed to the guest as fds 0, 1, 2 (a terminal stays a terminal).
fn stdio() -> FdTable {
    let host = [
        std::io::stdin().as_fd().try_clone_to_owned(),
        std::io::stdout().as_fd().try_clone_to_owned(),
        std::io::stderr().as_fd().try_clone_to_owned(),
    ];
    stdio_of(host.map(Result::ok))
}

/// A guest's fds 0, 1, 2 over these host fds (`snare exec`'s, sent to the Sentry).
pub(crate) fn stdio_of(host: [Option<std::os::fd::OwnedFd>; 3]) -> FdTable {
    let fds = FdTable::default();
    let names = ["/dev/stdin", "/dev/stdout", "/dev/stderr"];
    for ((n, name), fd) in names.iter().enumerate().zip(host) {
        let Some(fd) = fd else { continue };
        let _ = fds.install_at(n as i32, host_file(fd, name), false, i32::MAX);
    }
    fds
}

/// A host fd handed to the guest (stdio, `--preserve-fds`), with the host's access flags.
fn host_file(fd: std::os::fd::OwnedFd, name: &str) -> Arc<HostFile> {
    let flags = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_GETFL)
        .map(|f| f as u32 & (o::ACCMODE | o::APPEND | o::NONBLOCK))
        .unwrap_or(o::RDWR);
    Arc::new(HostFile::from_host_fd(fd, name, flags))
}

/// The guest's terminal as its fds 0, 1 and 2.
pub(crate) fn terminal_stdio(slave: Arc<crate::vfs::pty::PtySlave>) -> FdTable {
    let fds = FdTable::default();
    for n in 0..3 {
        let _ = fds.install_at(n, slave.clone(), false, i32::MAX);
    }
    fds
}

/// How long the Sentry waits at the end for its terminal's output to reach the host pty
/// (a caller that reads nothing must not keep it).
pub(crate) const TERMINAL_DRAIN: std::time::Duration = std::time::Duration::from_secs(2);

/// Raises the Sentry's own RLIMIT_NOFILE and sets how many host fds guest files may hold
/// (`vfs/host_fds.rs`): what the limit leaves after the Sentry's reserve, or fewer with
/// `SNARE_MAX_HOST_FDS` (for tests of the bound).
fn host_fd_budget() {
    use crate::vfs::host_fds;
    let limit = host_fds::raise_nofile();
    let mut budget = host_fds::budget_for(limit);
    if let Some(n) = std::env::var("SNARE_MAX_HOST_FDS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        budget = budget.min(n);
    }
    tracing::debug!(limit, budget, "host fds");
    host_fds::set_capacity(budget);
}

/// Where a container's sandbox stops between its set-up and its guest's start (`snare
/// create`, then `snare start`; see `crate::oci`).
pub trait Gate {
    /// Called in the launcher, which only waits for the Sentry: let go of what the gate
    /// holds, so that the Sentry alone answers through it.
    fn leave(&mut self);
    /// Set-up is done and the guest's program is loaded: say so to whoever waits for it.
    fn ready(&mut self) -> Result<(), String>;
    /// Blocks until the word to start the guest comes. An error ends the sandbox.
    fn wait(&mut self) -> Result<(), String>;
    /// The listening control socket the Sentry serves from now on (`oci::channel`), if any.
    fn control(&mut self) -> Option<std::os::fd::OwnedFd> {
        None
    }
    /// The host pty slave the guest's terminal is bridged to (`vfs::pty::bridge`), taken
    /// once, by the Sentry; `None`: the guest's stdio is the Sentry's own.
    fn terminal(&mut self) -> Option<std::os::fd::OwnedFd> {
        None
    }
}

/// Runs the request; returns the guest's exit status as a shell reports it.
pub fn run(req: &DoRequest) -> Result<i32, DoError> {
    run_gated(req, None)
}

/// [`run`], stopping at `gate` (if any) once everything is set up and the guest's program
/// is loaded, before it runs. A signal that would end the guest's init (TERM, INT, …)
/// ends the sandbox while it waits there, with the status the guest would have had.
pub fn run_gated(req: &DoRequest, mut gate: Option<&mut dyn Gate>) -> Result<i32, DoError> {
    let err = |status, message: String| DoError { status, message };
    // Raising the hard fd limit needs the host's privilege: before the namespaces.
    host_fd_budget();
    let forwarded = forwarded_signals();
    if let crate::cli::Network::Join(path) = &req.network {
        snare_platform::isolate::join_network(path).map_err(|m| err(125, m))?;
        crate::oci::sysctl::apply(&req.sysctls).map_err(|m| err(125, m))?;
    }
    // Confined, the Sentry is a child in its own namespaces; this process waits for it.
    let isolated = match req.confine {
        true => {
            let sigs: Vec<i32> = forwarded.iter().map(|s| s as i32).collect();
            match snare_platform::isolate::split(&sigs).map_err(|m| err(125, m))? {
                Side::Launcher(launcher) => {
                    if let Some(gate) = gate.as_mut() {
                        gate.leave();
                    }
                    return Ok(launcher_wait(&launcher));
                }
                Side::Sentry(iso) => {
                    iso.hold_proc().map_err(|m| err(125, confine_error(&m)))?;
                    // Two slow parts of set-up on threads of their own while it goes on: the
                    // network namespace (the kernel's work) and the seccomp filter's BPF.
                    let network =
                        (req.network == crate::cli::Network::None).then(|| iso.begin_network());
                    let filter = std::thread::spawn(crate::sandbox::compile);
                    Some((iso, network, filter))
                }
            }
        }
        false => None,
    };
    // A terminal (`process.terminal`): the host slave is made raw, non-blocking and the
    // controlling terminal of a session of the Sentry's own while those host calls are
    // still allowed (before confinement); the bridge starts once the guest is loaded.
    let host_tty = gate.as_mut().and_then(|g| g.terminal());
    if let Some(fd) = &host_tty {
        crate::vfs::pty::bridge::prepare(fd.as_fd(), true).map_err(|m| err(125, m))?;
    }
    // Confined, the Sentry reads the root through a read-only copy of the host's mounts.
    let open_root = match req.confine {
        true => HostRoot::open_readonly,
        false => HostRoot::open,
    };
    let root = open_root(&req.root).map_err(|e| {
        err(
            125,
            format!("root {}: {}", req.root.display(), e.description()),
        )
    })?;
    let mut env: Vec<(String, String)> = match req.inherit_env {
        true => std::env::vars().collect(),
        false => Vec::new(),
    };
    for (k, v) in &req.env {
        env.retain(|(ek, _)| ek != k);
        env.push((k.clone(), v.clone()));
    }
    let path_var = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map_or(DEFAULT_PATH.to_string(), |(_, v)| v.clone());
    let cwd = match &req.cwd {
        Some(c) => c.clone(),
        None => std::env::current_dir()
            .ok()
            .filter(|d| {
                req.root == Path::new("/") && root.stat(d.as_os_str().as_bytes(), true).is_ok()
            })
            .map_or(b"/".to_vec(), |d| d.as_os_str().as_bytes().to_vec()),
    };
    let cmd = req.argv.first().cloned().unwrap_or_default();
    let shown = String::from_utf8_lossy(&cmd).into_owned();
    let volumes = crate::kernel::mounts::open_volumes(&req.mounts, isolated.is_some())
        .map_err(|m| err(125, m))?;
    let write_through = crate::kernel::mounts::hold_write_through(
        &req.root,
        req.root_writes,
        req.read_only_root,
        isolated.is_some(),
    )
    .map_err(|m| err(125, m))?;
    let limits = match &req.limits {
        Some(p) => {
            Some(std::fs::File::open(p).map_err(|e| err(125, format!("{}: {e}", p.display())))?)
        }
        None => None,
    };
    // The guest runs as the user snare was started by, seen from the Sentry's user
    // namespace: root, or (rootless) the invoking user mapped to root; without the
    // namespaces, that user's own ids.
    let guest_ids = (
        nix::unistd::getuid().as_raw(),
        nix::unistd::getgid().as_raw(),
    );
    // Everything of the host the Sentry needs is open: no host path from here on.
    let mut filter = None;
    if let Some((iso, network, compiling)) = isolated {
        let detaching = iso.pivot().map_err(|m| err(125, confine_error(&m)))?;
        let joined = network.map_or(Ok(()), |n| n.join());
        detaching
            .finish()
            .and(joined)
            .map_err(|m| err(125, confine_error(&m)))?;
        iso.drop_identity()
            .map_err(|m| err(125, confine_error(&m)))?;
        filter = Some(compiling);
    }

    // Terminal and job-control signals for snare are for the guest: block them in every
    // Sentry thread (threads inherit the mask) and forward them from one thread.
    let _ = forwarded.thread_block();
    // They are read from a signalfd by the Sentry's host event thread, made here while the
    // call is still allowed (before the Sentry's own filter).
    let signals = nix::sys::signalfd::SignalFd::with_flags(
        &forwarded,
        nix::sys::signalfd::SfdFlags::SFD_NONBLOCK | nix::sys::signalfd::SfdFlags::SFD_CLOEXEC,
    );
    let t0 = std::time::Instant::now();
    // Up to `SNARE_STUB_POOL` (default 2) emptied stub processes of ended guest processes are
    // kept for the next exec that needs a new one (a vfork child's: a shell's). Forks don't
    // take them: refilling the pool after each would cost a fork-and-exec loop more than it
    // saves (session 3 measured +15% when forks took them). Shell loop 470 -> 425 ms.
    let pool = std::env::var("SNARE_STUB_POOL")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(2)
        .min(16);
    // The file is address space (sparse); the limit is what bounds its pages. Twice the
    // limit leaves room for fragmentation and the page cache's reservations.
    let config = Config {
        pool,
        memory_size: Config::default()
            .memory_size
            .max(req.memory.saturating_mul(2)),
        ..Config::default()
    };
    let platform =
        Systrap::new(config).map_err(|e| err(125, format!("cannot start the sandbox: {e}")))?;
    platform.memory_file().set_limit(req.memory);
    if let Some(bound) = req.commit_limit {
        crate::mm::set_commit_limit(bound);
    }
    let t_platform = t0.elapsed();
    let write_through = write_through.map(|dir| {
        crate::vfs::hostdir::HostDir::with_dir(dir, &req.root, b"/", req.read_only_root, guest_ids)
    });
    let k = Kernel::new(
        platform,
        root,
        write_through,
        req.strace,
        guest_ids,
        req.hostname.as_deref(),
    );
    if let Some(file) = limits {
        k.limits.attach(file);
        let mut pids = k.pids.lock().unwrap_or_else(|e| e.into_inner());
        k.refresh_limits(&mut pids);
    }
    crate::kernel::mounts::add_user_mounts(
        &k.mounts,
        &req.mounts,
        volumes,
        k.uid,
        k.gid,
        k.platform.memory_file(),
    )
    .map_err(|m| err(125, m))?;
    if let Some(f) = &req.seccomp {
        let _ = k.seccomp.set(f.clone());
    }
    k.ipc.set_limits(req.ipc);
    if req.read_only_root {
        k.mounts
            .set_flags(b"/", crate::vfs::mount::ms::RDONLY, None)
            .map_err(|e| err(125, format!("read-only root: {}", e.description())))?;
    }
    // Set-up is done: the source stub is forked (stubs are its clones, so none inherits the
    // Sentry's filter), the root and the volumes are open. From here on the Sentry makes
    // only the host calls on its list; the guest's first bytes (its ELF image) are read
    // after this.
    #[cfg(feature = "test-hooks")]
    let hook = crate::sandbox::test_hooks::arm();
    let t_confine = std::time::Instant::now();
    if req.confine {
        let program = match filter.take().map(|t| t.join()) {
            Some(Ok(p)) => p,
            Some(Err(_)) => Err("building the seccomp filter: the thread failed".into()),
            None => crate::sandbox::compile(),
        };
        crate::sandbox::confine_with(program).map_err(|m| err(125, confine_error(&m)))?;
    }
    let confine_us = t_confine.elapsed().as_micros() as u64;
    #[cfg(feature = "test-hooks")]
    if let Some(hook) = hook {
        hook.fire();
    }
    // The command, found in the guest's tree (volumes included).
    let boot_stat = |p: &[u8]| crate::kernel::mounts::boot_stat(&k.mounts, p);
    let path = lookup(boot_stat, &cmd, &path_var, &cwd)
        .ok_or_else(|| err(127, format!("{shown}: not found")))?;
    let envp: Vec<Vec<u8>> = env
        .iter()
        .map(|(k, v)| format!("{k}={v}").into_bytes())
        .collect();
    let open = |p: &[u8]| crate::kernel::mounts::boot_open(&k.mounts, p);
    // The first program runs as `user` after an exec's capability transformation (its
    // own set-id bits are not honoured).
    let user = req
        .user
        .clone()
        .unwrap_or_else(|| crate::kernel::process::Creds::of(k.uid, k.gid));
    let no_setid = |_: &[u8], _: &snare_abi::file::Stat| crate::kernel::caps::SetIds::default();
    let creds = crate::kernel::ExecCreds {
        old: &user,
        setid: &no_setid,
    };
    let image = exec(&k, &path, req.argv.clone(), envp, &open, None, creds).map_err(|e| {
        // The platform's first stub comes up while the Sentry starts: a failure there is the
        // sandbox's, not the program's.
        if let Err(pe) = k.platform.ready() {
            return err(125, format!("cannot start the sandbox: {pe}"));
        }
        match e.errno {
            Errno::ENOENT => err(127, format!("{shown}: not found")),
            _ => err(126, format!("{shown}: {e}")),
        }
    })?;
    let t_exec = t0.elapsed();
    let ctx = image
        .mm
        .new_context()
        .map_err(|e| err(125, format!("cannot start the guest: {e}")))?;
    // Init: pid 1, its own process group and session.
    let tg = Arc::new(ThreadGroup::new(1, None, 1, 1));
    k.watch_stub(image.mm.space(), &tg);
    {
        let mut st = tg.state();
        st.comm = crate::kernel::comm_of(&image.exe);
        st.exe = image.exe;
        st.args = image.args;
        st.env = image.env;
        st.did_exec = true;
        st.creds = image.creds;
        for &(resource, soft, hard) in &req.rlimits {
            let lim = snare_abi::file::Rlimit {
                rlim_cur: soft,
                rlim_max: hard,
            };
            st.rlimits.set(resource, lim, true).map_err(|e| {
                err(
                    125,
                    format!("rlimit {resource} {soft}/{hard}: {}", e.description()),
                )
            })?;
        }
    }
    let handle = TaskHandle::new(1, tg.clone(), 0);
    tg.state().threads.push(handle.clone());
    {
        let mut pids = k.pids.lock().unwrap_or_else(|e| e.into_inner());
        pids.tasks.insert(1, handle.clone());
        pids.groups.insert(1, tg.clone());
    }
    let _ = k.init.set(tg.clone());
    k.start_spares();
    let guest_uid = tg.state().creds.euid;
    let terminal = host_tty
        .map(|fd| {
            let jobs = crate::kernel::signal::TtySignals::new(&k);
            crate::vfs::pty::bridge::Bridge::start(&k.devpts, Some(Arc::new(jobs)), fd, guest_uid)
        })
        .transpose()
        .map_err(|m| err(125, m))?;
    let stdio = match &terminal {
        Some((bridge, slave)) => {
            // The init leads session 1 with the terminal as its controlling one.
            bridge.pty().job(|j| {
                j.session = Some(1);
                j.pgrp = 1;
            });
            terminal_stdio(slave.clone())
        }
        None => stdio(),
    };
    // `--preserve-fds`: the caller's fds 3, 4, … as the guest's.
    for (i, (fd, name)) in req.extra_fds.iter().enumerate() {
        let fd = fd
            .try_clone()
            .map_err(|e| err(125, format!("--preserve-fds: {e}")))?;
        let _ = stdio.install_at(3 + i as i32, host_file(fd, name), false, i32::MAX);
    }
    let bridge = terminal.map(|(b, _)| b);
    // Until the gate opens, a signal is for the sandbox as a whole (`before_start`).
    let started = Arc::new(std::sync::atomic::AtomicBool::new(gate.is_none()));
    match (&k.events, signals) {
        (Some(events), Ok(fd)) => events.add(Arc::new(Forwarder {
            fd,
            k: Arc::downgrade(&k),
            started: started.clone(),
            init_only: req.signals_to_init,
            bridge: bridge.clone(),
        })),
        _ => tracing::warn!("cannot start the signal forwarder"),
    }
    let task = Task::new(
        k.clone(),
        handle,
        ctx,
        image.regs,
        image.mm,
        Arc::new(stdio),
        Arc::new(FsContext::new(cwd, req.umask, k.mounts.clone())),
    );
    if let Some(gate) = gate {
        if let Some(listener) = gate.control() {
            crate::oci::server::serve(&k, listener);
        }
        gate.ready().map_err(|m| err(125, m))?;
        gate.wait().map_err(|m| err(125, m))?;
        // A resize before the start is the guest's from its first instruction (the host's
        // SIGWINCH for it may still be on its way: it then changes nothing).
        if let Some(b) = &bridge {
            b.sync_size();
        }
        started.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    let t_thread = t0.elapsed();
    // Init runs on a Sentry thread of its own like every task; the sandbox ends when init's
    // process does (and takes every other process with it, as a pid namespace does).
    let runner = std::thread::Builder::new()
        .name("task-1".into())
        .spawn(move || task.run())
        .map_err(|e| err(125, format!("cannot start the guest: {e}")))?;
    let status = loop {
        let done = tg.state().zombie;
        if let Some(s) = done {
            break s;
        }
        let _ = crate::kernel::wait::block(&[&tg.exit_events], None, || tg.state().zombie.map(Ok));
    };
    // Init's thread is still tidying up after itself (freeing its pages, emptying its stub
    // for a pool that will never be used): not worth waiting for, the process exit ends it.
    // Only when the Sentry's log is kept does it finish, for the log's last lines.
    if tracing::enabled!(tracing::Level::DEBUG) {
        let _ = runner.join();
    }
    wait_for_tasks(&k);
    if let Some(b) = &bridge {
        b.drain(std::time::Instant::now() + TERMINAL_DRAIN);
    }
    let _ = k.platform.memory_file().debug_check_quarantine();
    tracing::info!(
        platform_us = t_platform.as_micros() as u64,
        confine_us,
        exec_us = (t_exec - t_platform).as_micros() as u64,
        thread_us = (t_thread - t_exec).as_micros() as u64,
        run_us = (t0.elapsed() - t_thread).as_micros() as u64,
        tmpfs_lookups = crate::vfs::tmpfs::lookups(),
        "sandbox timeline"
    );
    Ok(status.shell_code())
}

/// The launcher's wait for its Sentry: the Sentry's exit status, or, if a signal killed
/// the Sentry itself (not the guest: the guest's end is an exit status), a message and 128 +
/// the signal.
fn launcher_wait(l: &snare_platform::isolate::Launcher) -> i32 {
    match l.wait() {
        Ok(code) => code,
        Err(sig) => {
            let why = match sig {
                libc::SIGSYS => " (a host call off its seccomp allowlist)",
                libc::SIGKILL => " (killed, or out of memory)",
                _ => "",
            };
            eprintln!("snare: the Sentry was killed by signal {sig}{why}; the sandbox is gone");
            128 + sig
        }
    }
}

fn confine_error(m: &str) -> String {
    format!("cannot confine the Sentry: {m} (--no-confine runs without confinement)")
}

/// After init's end, gives the other tasks (already told to exit) a moment to go, so their
/// stub processes are gone before the Sentry exits.
fn wait_for_tasks(k: &Kernel) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let live = k.pids.lock().unwrap_or_else(|e| e.into_inner()).tasks.len();
        if live == 0 || std::time::Instant::now() > deadline {
            if live != 0 {
                tracing::warn!(live, "tasks still running at sandbox exit");
            }
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// Host signals for the guest, a source of the Sentry's host event thread: each goes to the
/// guest (`forward_signal`), to the terminal bridge (a host terminal's resize or hang-up), or,
/// before the guest starts, decides the sandbox's fate (`before_start`).
struct Forwarder {
    fd: nix::sys::signalfd::SignalFd,
    k: std::sync::Weak<Kernel>,
    started: Arc<std::sync::atomic::AtomicBool>,
    init_only: bool,
    bridge: Option<Arc<crate::vfs::pty::bridge::Bridge>>,
}

impl crate::kernel::host_events::Source for Forwarder {
    fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }

    fn ready(&self) -> crate::kernel::host_events::Keep {
        use crate::kernel::host_events::Keep;
        loop {
            let info = match self.fd.read_signal() {
                Ok(Some(info)) => info,
                Ok(None) => return Keep::Watching,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return Keep::Done,
            };
            let Some(k) = self.k.upgrade() else {
                return Keep::Done;
            };
            let (sig, kernel) = (info.ssi_signo as i32, info.ssi_code > 0);
            if self.bridge.as_ref().is_some_and(|b| b.absorb(sig, kernel)) {
                continue;
            }
            if self.started.load(std::sync::atomic::Ordering::SeqCst) {
                forward_signal(&k, sig, self.init_only);
            } else {
                before_start(sig);
            }
        }
    }
}

/// Signals the host sends snare (a terminal's Ctrl-C and Ctrl-\\, `kill`, a resize) that go to
/// the guest instead.
fn forwarded_signals() -> nix::sys::signal::SigSet {
    use nix::sys::signal::Signal::*;
    let mut set = nix::sys::signal::SigSet::empty();
    for s in [SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGWINCH, SIGUSR1, SIGUSR2] {
        set.add(s);
    }
    set
}

/// A host signal that comes while the sandbox waits at its gate, the guest loaded but not
/// yet running: one whose default action ends a process ends the sandbox with the status
/// the guest's init would have had (128 + the signal); the others are dropped, as the init
/// (which has no handlers yet) would ignore them.
fn before_start(sig: i32) {
    use crate::kernel::signal::{default_action, Default_};
    tracing::debug!(sig, "a signal before the guest's start");
    if matches!(default_action(sig), Default_::Terminate | Default_::Core) {
        snare_platform::isolate::report_exit(128 + sig);
        std::process::exit(128 + sig);
    }
}

/// Delivers a host signal to the guest's foreground process group (or, `init_only`, to its
/// init alone). It comes from outside the sandbox: init gets it even without a handler when
/// it would terminate (unlike a signal from inside, which init's protection drops), so
/// Ctrl-C stops `snare do -- sleep 100`.
fn forward_signal(k: &Kernel, sig: i32, init_only: bool) {
    use crate::kernel::signal::{default_action, group_exit, send_to_group, user_info, Default_};
    let pg = k.fg_pgrp.load(std::sync::atomic::Ordering::SeqCst);
    let targets: Vec<Arc<ThreadGroup>> = k
        .pids
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .groups
        .values()
        .filter(|g| {
            let st = g.state();
            (if init_only {
                g.tgid == 1
            } else {
                st.pgid == pg
            }) && st.zombie.is_none()
        })
        .cloned()
        .collect();
    tracing::debug!(sig, pg, n = targets.len(), "forwarding a host signal");
    for g in targets {
        // `snare do`: the init is the user's command, which a terminal's Ctrl-C ends. A
        // container's init is a pid namespace's init: sent from outside, a signal it has no
        // handler for is dropped (Linux's rule; runc's `kill TERM` of a `sleep` does
        // nothing), which `send_to_group` applies to pid 1.
        let dfl = g.action(sig).sa_handler == crate::kernel::signal::SIG_DFL;
        if !init_only
            && g.tgid == 1
            && dfl
            && matches!(default_action(sig), Default_::Terminate | Default_::Core)
        {
            group_exit(&g, crate::kernel::ExitStatus::Signal(sig), None);
        } else {
            send_to_group(&g, user_info(sig, snare_abi::signal::SI_USER, 0, 0));
        }
    }
}
