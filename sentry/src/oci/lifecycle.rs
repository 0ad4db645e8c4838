//! The container lifecycle the runc-compatible commands drive: [`create`], [`start`],
//! [`state`], [`kill`], [`delete`], [`ps`] and [`run`] (create, start, wait).
//!
//! Processes: `create` forks the container's init and exits once the init says its sandbox
//! is set up, the program loaded (or that it failed: then `create` fails, and leaves
//! nothing). The init is the sandbox's launcher: it waits for the Sentry it cloned, passes
//! signals on to it, and exits with the guest's status. `kill` signals the init; SIGKILL
//! ends it, and the Sentry and its stubs die with it (parent-death signal, pid namespace).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oci_spec::runtime::ContainerState;

use super::bundle::{Bundle, Launch};
use super::cgroup::Placement;
use super::control;
use super::hooks::{self, Stage};
use super::host::Host;
use super::init::{serve, FifoGate, Report};
use super::state::{init_alive, status, Id, Record, StateDir};
use super::{error, OciError, OCI_VERSION};
use crate::kernel::mounts::UserMount;

/// `create`'s options (`run`'s too).
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// `--bundle` (default: the working directory).
    pub bundle: PathBuf,
    /// `--pid-file`: where the init's pid goes once the container is created.
    pub pid_file: Option<PathBuf>,
    /// `--console-socket`: a terminal's master goes there (`oci::console`).
    pub console_socket: Option<PathBuf>,
    /// `--preserve-fds`: host fds that become the init's 3, 4, … (with their host names).
    pub preserved: Vec<(std::sync::Arc<std::os::fd::OwnedFd>, String)>,
}

/// A container `create` made.
#[derive(Debug)]
pub struct Created {
    /// The init's host pid.
    pub pid: i32,
    pub dir: StateDir,
}

/// How long `delete` waits for a killed container's processes to go.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// Checks the host paths the bundle names: the root must be a directory; a bind mount's
/// source must be a directory or a regular file (a symlink followed, as `mount(2)` follows
/// it). The Sentry checks again what it opens (`kernel::mounts::open_volumes`): this is
/// for a clear message before anything is made.
pub fn check_paths(launch: &Launch, host: &dyn Host) -> Result<(), OciError> {
    if !host.is_dir(&launch.root) {
        return Err(error(format!(
            "root.path {}: no such directory",
            launch.root.display()
        )));
    }
    for m in &launch.mounts {
        if let UserMount::Volume {
            host: src, guest, ..
        } = m
        {
            if host.is_dir(src) || host.is_file(src) {
                continue;
            }
            let dest = String::from_utf8_lossy(guest);
            let why = match src.exists() {
                false => "no such file or directory",
                true => "not a directory or a regular file (snare binds only those)",
            };
            return Err(error(format!(
                "bind mount {} at {dest}: {why}",
                src.display()
            )));
        }
    }
    Ok(())
}

/// `create`: loads and checks the bundle, makes the state directory and the init, and
/// returns once the sandbox waits for `start`. On failure nothing is left: no state, no
/// process.
pub fn create(
    root: &Path,
    id: &Id,
    opts: &CreateOptions,
    host: &dyn Host,
) -> Result<Created, OciError> {
    let bundle = Bundle::load(&opts.bundle)?;
    let console = super::console::connect(
        bundle.launch.terminal.is_some(),
        opts.console_socket.as_deref(),
    )?;
    check_paths(&bundle.launch, host)?;
    let dir = StateDir::make(root, id)?;
    control::prepare(&dir, &bundle.cgroup, host)
        .and_then(|cgroup| spawn(&dir, &bundle, cgroup.as_ref(), opts, console, host))
        .inspect_err(|_| {
            let _ = control::teardown(&dir, host, KILL_WAIT);
            let _ = dir.remove();
        })
}

/// Forks the init and waits for its report (see [`create`]).
fn spawn(
    dir: &StateDir,
    bundle: &Bundle,
    cgroup: Option<&Placement>,
    opts: &CreateOptions,
    console: Option<super::console::ConsoleSocket>,
    host: &dyn Host,
) -> Result<Created, OciError> {
    use nix::sys::stat::Mode;
    let fifo_path = dir.fifo();
    nix::unistd::mkfifo(&fifo_path, Mode::from_bits_truncate(0o600))
        .map_err(|e| error(format!("{}: {e}", fifo_path.display())))?;
    let fifo = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo_path)
        .map_err(|e| error(format!("{}: {e}", fifo_path.display())))?;
    let (ready_r, ready_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| error(format!("pipe: {e}")))?;
    let control = super::channel::listen(&dir.dir).map_err(error)?;
    let mut req = bundle.launch.request();
    req.limits = Some(control::limits_path(dir));
    req.extra_fds = opts.preserved.clone();
    // The master is sent (and closed) before the fork: no process of snare's keeps it.
    let terminal = match console {
        Some(c) => Some(c.send_pty(bundle.launch.terminal.unwrap_or_default())?),
        None => None,
    };
    let pid = match snare_platform::isolate::fork().map_err(error)? {
        snare_platform::isolate::Forked::Child => {
            drop(ready_r);
            // A session of its own: the caller's terminal signals are not the container's.
            let _ = nix::unistd::setsid();
            if terminal.is_some() {
                // With a terminal, create's stdio is the shim's error capture (one pipe it
                // reads to its end), not the container's: the init must not keep it.
                super::stdio_to_null();
            }
            let mut gate = FifoGate {
                ready: Some(ready_w),
                fifo: Some(fifo),
                control: Some(control),
                terminal,
            };
            // Into the container's cgroup before the Sentry is cloned: it and every stub
            // are inside too.
            if let Err(e) = cgroup.map_or(Ok(()), |c| c.join(host, std::process::id() as i32)) {
                gate.fail(&Report {
                    status: 1,
                    message: e.0,
                });
                std::process::exit(1);
            }
            serve(&req, gate)
        }
        snare_platform::isolate::Forked::Parent(pid) => pid,
    };
    drop(ready_w);
    drop(fifo);
    drop(control);
    drop(terminal);
    let mut record = Record {
        state: oci_spec::runtime::StateBuilder::default()
            .version(OCI_VERSION)
            .id(dir.id.as_str())
            .status(ContainerState::Creating)
            .pid(pid)
            .bundle(bundle.dir.clone())
            .annotations(bundle.launch.annotations.clone())
            .build()
            .map_err(|e| error(format!("state: {e}")))?,
        rootfs: bundle.launch.root.clone(),
        created: super::time::now(),
        owner: String::new(),
        init_start_time: host.start_time(pid).unwrap_or(0),
        hooks: Some(bundle.launch.hooks.clone()),
    };
    let failed = |message: String| {
        let _ = host.signal(pid, libc::SIGKILL);
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        error(message)
    };
    if let Err(e) = dir.save(&record) {
        return Err(failed(e.0));
    }
    match Report::read(&mut File::from(ready_r)) {
        Some(r) if r.status == 0 => {}
        Some(r) => return Err(failed(r.message)),
        None => return Err(failed("the sandbox ended during its set-up".into())),
    }
    // The hooks that make the container's world (Docker's network): they get the pid of
    // the Sentry, the host process in the sandbox's network namespace.
    let sentry = host.children(pid).first().copied().unwrap_or(pid);
    let creating = hook_state(&record, ContainerState::Creating, sentry);
    for stage in [Stage::Prestart, Stage::CreateRuntime] {
        hooks::run(stage, &bundle.launch.hooks, &creating).map_err(|e| failed(e.0))?;
    }
    record.state.set_status(ContainerState::Created);
    dir.save(&record).map_err(|e| failed(e.0))?;
    if let Some(path) = &opts.pid_file {
        write_pid_file(path, pid).map_err(|e| failed(e.0))?;
    }
    Ok(Created {
        pid,
        dir: dir.clone(),
    })
}

/// Writes `pid` to `path` as the shim wants it: decimal, no newline, mode 0644, whole (a
/// temporary file renamed over it).
pub(super) fn write_pid_file(path: &Path, pid: i32) -> Result<(), OciError> {
    use std::os::unix::fs::OpenOptionsExt;
    let shown = path.display();
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(&tmp)
        .and_then(|mut f| f.write_all(pid.to_string().as_bytes()))
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| error(format!("--pid-file {shown}: {e}")))
}

/// `start`: lets a created container's program run, and returns at once.
pub fn start(root: &Path, id: &Id, host: &dyn Host) -> Result<(), OciError> {
    use nix::fcntl::OFlag;
    let dir = StateDir::of(root, id);
    let record = dir.load()?;
    if control::paused(&dir, &record, host) {
        return Err(error("cannot start a container in the paused state"));
    }
    match status(&dir, &record, host) {
        ContainerState::Created => {}
        ContainerState::Stopped => return Err(error("cannot start a container that has stopped")),
        ContainerState::Creating => {
            return Err(error(
                "cannot start a container that is still being created",
            ))
        }
        _ => return Err(error("cannot start an already running container")),
    }
    let fd = nix::fcntl::open(
        &dir.fifo(),
        OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| match e {
        nix::errno::Errno::ENXIO => error(format!(
            "container {id} is not waiting to start: its sandbox is gone"
        )),
        e => error(format!("{}: {e}", dir.fifo().display())),
    })?;
    File::from(fd)
        .write_all(b"0")
        .map_err(|e| error(format!("starting container {id}: {e}")))?;
    let _ = std::fs::remove_file(dir.fifo());
    if let Some(h) = &record.hooks {
        let pid = record.state.pid().unwrap_or(0);
        hooks::run_warning(
            Stage::Poststart,
            h,
            &hook_state(&record, ContainerState::Running, pid),
        );
    }
    Ok(())
}

/// The OCI state a hook reads on its stdin.
fn hook_state(record: &Record, status: ContainerState, pid: i32) -> Vec<u8> {
    let mut state = record.state.clone();
    state.set_status(status);
    state.set_pid(Some(pid));
    serde_json::to_vec(&state).unwrap_or_default()
}

/// `state`: the OCI state now; a stopped container's pid reads 0, as runc's.
pub fn state(root: &Path, id: &Id, host: &dyn Host) -> Result<Record, OciError> {
    let dir = StateDir::of(root, id);
    let mut record = dir.load()?;
    let now = status(&dir, &record, host);
    record.state.set_status(now);
    if now == ContainerState::Stopped {
        record.state.set_pid(Some(0));
    }
    Ok(record)
}

/// `kill`: sends `sig` to the container's init (created or running), which passes it on
/// to the guest's init; SIGKILL ends the whole sandbox. `--all` does the same: every
/// guest process is inside the one sandbox the init stands for.
pub fn kill(root: &Path, id: &Id, sig: i32, host: &dyn Host) -> Result<(), OciError> {
    let dir = StateDir::of(root, id);
    let record = dir.load()?;
    let pid = record.state.pid().unwrap_or(0);
    match status(&dir, &record, host) {
        ContainerState::Stopped => Err(error("container not running")),
        _ => {
            host.signal(pid, sig).map_err(error)?;
            if sig == libc::SIGKILL {
                control::thaw_killed(&dir, pid, host);
            }
            Ok(())
        }
    }
}

/// `delete`: removes a stopped or created container (killing a created one's init); a
/// running one only with `force`, which kills it first. With `force` a missing container,
/// or one whose state can't be read (half-created), is no error. Returns once the init and
/// every process under it are gone.
pub fn delete(root: &Path, id: &Id, force: bool, host: &dyn Host) -> Result<(), OciError> {
    let dir = StateDir::of(root, id);
    if !dir.exists() {
        return match force {
            true => Ok(()),
            false => Err(error(format!("container {id} does not exist"))),
        };
    }
    let record = match dir.load() {
        Ok(r) => r,
        Err(e) if force => {
            tracing::warn!("deleting {id} without its state: {e}");
            warn_teardown(&dir, host);
            return dir.remove();
        }
        Err(e) => return Err(error(format!("{e} (delete --force removes the container)"))),
    };
    let paused = control::paused(&dir, &record, host);
    match status(&dir, &record, host) {
        ContainerState::Running if !force => {
            return Err(error(format!(
                "cannot delete container {id} that is not stopped: {}",
                if paused { "paused" } else { "running" }
            )))
        }
        ContainerState::Created if paused && !force => {
            return Err(error(format!(
                "cannot delete container {id} that is not stopped: paused"
            )))
        }
        ContainerState::Stopped => {}
        _ => {
            if paused {
                let pid = record.state.pid().unwrap_or(0);
                let _ = host.signal(pid, libc::SIGKILL);
                control::thaw_killed(&dir, pid, host);
            }
            kill_all(&record, host)
        }
    }
    super::exec::end_waiters(&dir, host);
    warn_teardown(&dir, host);
    dir.remove()?;
    if let Some(h) = &record.hooks {
        let pid = record.state.pid().unwrap_or(0);
        hooks::run_warning(
            Stage::Poststop,
            h,
            &hook_state(&record, ContainerState::Stopped, pid),
        );
    }
    Ok(())
}

/// Removes the container's cgroup; a failure is a warning, as runc's (the container is
/// gone either way).
fn warn_teardown(dir: &StateDir, host: &dyn Host) {
    if let Err(e) = control::teardown(dir, host, KILL_WAIT) {
        tracing::warn!("unable to remove the container's cgroup: {e}");
    }
}

/// SIGKILLs the init and waits (up to [`KILL_WAIT`]) until it and its descendants are
/// gone; a descendant still there after the init is killed directly.
fn kill_all(record: &Record, host: &dyn Host) {
    let Some(pid) = record.state.pid().filter(|&p| p > 0) else {
        return;
    };
    let mut left = host.descendants(pid);
    let _ = host.signal(pid, libc::SIGKILL);
    let deadline = Instant::now() + KILL_WAIT;
    let mut init_gone = false;
    while Instant::now() < deadline {
        init_gone = init_gone || !init_alive(record, host);
        left.retain(|&p| host.start_time(p).is_some());
        if init_gone && left.is_empty() {
            return;
        }
        if init_gone {
            for &p in &left {
                let _ = host.signal(p, libc::SIGKILL);
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    tracing::warn!(pid, left = ?left, "processes of the container still there");
}

/// `ps`: the host pids of the container's processes (the init, the Sentry, its stubs, the
/// waiters of `exec`s), for `docker top`, which looks them up in the host's `ps`.
pub fn ps(root: &Path, id: &Id, host: &dyn Host) -> Result<Vec<i32>, OciError> {
    let dir = StateDir::of(root, id);
    let record = dir.load()?;
    if status(&dir, &record, host) == ContainerState::Stopped {
        return Err(error("container not running"));
    }
    let pid = record.state.pid().unwrap_or(0);
    let mut pids = vec![pid];
    pids.extend(host.descendants(pid));
    pids.extend(super::exec::waiters(&dir, host));
    Ok(pids)
}

/// `run`: `create`, `start` and, unless `detach`, wait for the container's end (passing the
/// signals this process gets on to its init), delete it and return its exit status.
pub fn run(
    root: &Path,
    id: &Id,
    opts: &CreateOptions,
    detach: bool,
    host: &dyn Host,
) -> Result<i32, OciError> {
    if !detach && opts.console_socket.is_some() {
        return Err(error(
            "cannot use console socket if runc will not detach or allocate tty",
        ));
    }
    // In the foreground with a terminal, snare is its own console socket's reader and
    // copies between the terminal and its stdio, as runc.
    let own = match !detach && Bundle::load(&opts.bundle)?.launch.terminal.is_some() {
        true => Some(super::console::OwnSocket::new()?),
        false => None,
    };
    let opts = CreateOptions {
        console_socket: own
            .as_ref()
            .map(|s| s.path())
            .or(opts.console_socket.clone()),
        ..opts.clone()
    };
    let created = create(root, id, &opts, host)?;
    let proxy = match own.map(|s| s.accept()).transpose() {
        Ok(master) => master.map(super::console::Proxy::start),
        Err(e) => {
            let _ = delete(root, id, true, host);
            return Err(e);
        }
    };
    if let Err(e) = start(root, id, host) {
        let _ = delete(root, id, true, host);
        return Err(e);
    }
    if detach {
        return Ok(0);
    }
    let code = wait_forwarding(created.pid, host, proxy.as_ref());
    if let Some(p) = proxy {
        p.finish();
    }
    warn_teardown(&created.dir, host);
    created.dir.remove()?;
    Ok(code)
}

/// Waits for child `pid`, passing on the signals a caller of `snare run` sends it (with a
/// terminal of its own, a resize goes to that instead); its exit status, or 128 + the
/// signal that killed it.
fn wait_forwarding(pid: i32, host: &dyn Host, terminal: Option<&super::console::Proxy>) -> i32 {
    use nix::sys::signal::{SigSet, Signal};
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGCHLD,
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGWINCH,
    ] {
        set.add(s);
    }
    let _ = set.thread_block();
    let child = nix::unistd::Pid::from_raw(pid);
    loop {
        match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            Ok(_) => {}
            Err(_) => return 125,
        }
        match set.wait() {
            Ok(Signal::SIGCHLD) | Err(_) => {}
            Ok(Signal::SIGWINCH) if terminal.is_some() => terminal.iter().for_each(|t| t.resize()),
            Ok(sig) => {
                let _ = host.signal(pid, sig as i32);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;

    /// A host of made-up processes that records the signals sent.
    #[derive(Default)]
    struct Fake {
        /// pid → (start time, parent).
        procs: RefCell<HashMap<i32, (u64, i32)>>,
        sent: RefCell<Vec<(i32, i32)>>,
        dirs: Vec<PathBuf>,
        files: Vec<PathBuf>,
    }

    impl Host for Fake {
        fn is_dir(&self, path: &Path) -> bool {
            self.dirs.iter().any(|d| d == path)
        }
        fn is_file(&self, path: &Path) -> bool {
            self.files.iter().any(|d| d == path)
        }
        fn start_time(&self, pid: i32) -> Option<u64> {
            self.procs.borrow().get(&pid).map(|p| p.0)
        }
        fn signal(&self, pid: i32, sig: i32) -> Result<(), String> {
            self.sent.borrow_mut().push((pid, sig));
            if sig == libc::SIGKILL {
                self.procs.borrow_mut().remove(&pid);
            }
            match self.procs.borrow().contains_key(&pid) || sig == libc::SIGKILL {
                true => Ok(()),
                false => Err("no such process".into()),
            }
        }
        fn children(&self, pid: i32) -> Vec<i32> {
            let procs = self.procs.borrow();
            procs
                .iter()
                .filter(|(_, &(_, parent))| parent == pid)
                .map(|(&c, _)| c)
                .collect()
        }
        fn descendants(&self, pid: i32) -> Vec<i32> {
            let procs = self.procs.borrow();
            let mut out = Vec::new();
            let mut next = vec![pid];
            while let Some(p) = next.pop() {
                for (&c, &(_, parent)) in procs.iter() {
                    if parent == p {
                        out.push(c);
                        next.push(c);
                    }
                }
            }
            out
        }
    }

    /// A state root with container `c` whose init is pid 100 (started at tick 7).
    fn setup(created: bool) -> (PathBuf, Id, Fake) {
        let root = std::env::temp_dir().join(format!(
            "snare-oci-unit-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        let id = Id::parse("c").expect("id");
        let dir = StateDir::make(&root, &id).expect("state dir");
        let record = Record {
            state: oci_spec::runtime::StateBuilder::default()
                .version(OCI_VERSION)
                .id("c")
                .status(ContainerState::Created)
                .pid(100)
                .bundle(PathBuf::from("/b"))
                .build()
                .expect("state"),
            rootfs: PathBuf::from("/b/rootfs"),
            created: String::new(),
            owner: String::new(),
            init_start_time: 7,
            hooks: None,
        };
        dir.save(&record).expect("save");
        if created {
            std::fs::write(dir.fifo(), b"").expect("fifo stand-in");
        }
        let fake = Fake::default();
        fake.procs.borrow_mut().insert(100, (7, 1));
        fake.procs.borrow_mut().insert(101, (8, 100));
        fake.procs.borrow_mut().insert(102, (9, 101));
        (root, id, fake)
    }

    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    fn status_of(root: &Path, id: &Id, host: &Fake) -> ContainerState {
        *state(root, id, host).expect("state").state.status()
    }

    #[test]
    fn status_follows_the_init_and_the_fifo() {
        let (root, id, host) = setup(true);
        assert_eq!(status_of(&root, &id, &host), ContainerState::Created);
        std::fs::remove_file(StateDir::of(&root, &id).fifo()).expect("rm");
        assert_eq!(status_of(&root, &id, &host), ContainerState::Running);
        // Saved as creating (create has not seen the init ready): creating, not startable.
        let dir = StateDir::of(&root, &id);
        let mut r = dir.load().expect("load");
        r.state.set_status(ContainerState::Creating);
        dir.save(&r).expect("save");
        assert_eq!(status_of(&root, &id, &host), ContainerState::Creating);
        assert!(start(&root, &id, &host).is_err());
        kill(&root, &id, 9, &host).expect("kill while creating");
        // Pid 100 is now another process: the init is gone.
        host.procs.borrow_mut().insert(100, (50, 1));
        let r = state(&root, &id, &host).expect("state");
        assert_eq!(*r.state.status(), ContainerState::Stopped);
        assert_eq!(*r.state.pid(), Some(0));
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn kill_in_created_and_running_not_stopped() {
        let (root, id, host) = setup(true);
        kill(&root, &id, 15, &host).expect("kill created");
        std::fs::remove_file(StateDir::of(&root, &id).fifo()).expect("rm");
        kill(&root, &id, 10, &host).expect("kill running");
        assert_eq!(*host.sent.borrow(), [(100, 15), (100, 10)]);
        host.procs.borrow_mut().clear();
        assert_eq!(
            kill(&root, &id, 9, &host).map_err(|e| e.0),
            Err("container not running".to_string())
        );
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn delete_rules() {
        // Running: refused without --force, untouched.
        let (root, id, host) = setup(false);
        let e = delete(&root, &id, false, &host).expect_err("running");
        assert!(e.0.contains("not stopped"), "{e}");
        assert!(host.sent.borrow().is_empty());
        // --force kills the init and whatever is left under it, and removes the state.
        delete(&root, &id, true, &host).expect("force");
        assert!(host.sent.borrow().contains(&(100, libc::SIGKILL)));
        assert!(host.procs.borrow().get(&101).is_none());
        assert!(!StateDir::of(&root, &id).exists());
        // Gone: an error without --force, nothing with it.
        let e = delete(&root, &id, false, &host).expect_err("missing");
        assert!(e.0.contains("does not exist"), "{e}");
        delete(&root, &id, true, &host).expect("missing, forced");
        let _ = std::fs::remove_dir_all(&root);
        // Created: deleted without --force (its init is killed).
        let (root, id, host) = setup(true);
        delete(&root, &id, false, &host).expect("created");
        assert_eq!(host.sent.borrow()[0], (100, libc::SIGKILL));
        // Half-created (no state.json): only --force removes it.
        let dir = StateDir::make(&root, &id).expect("dir");
        assert!(delete(&root, &id, false, &host).is_err());
        delete(&root, &id, true, &host).expect("half-created, forced");
        assert!(!dir.exists());
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn ps_lists_host_pids() {
        let (root, id, host) = setup(false);
        let mut pids = ps(&root, &id, &host).expect("ps");
        pids.sort();
        assert_eq!(pids, [100, 101, 102]);
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn bind_sources_checked() {
        let mut l = Launch {
            root: PathBuf::from("/r"),
            read_only_root: false,
            root_writes: Default::default(),
            args: vec!["sh".into()],
            env: vec![],
            cwd: "/".into(),
            uid: 0,
            gid: 0,
            groups: vec![],
            umask: 0o022,
            caps: Default::default(),
            network: crate::cli::Network::None,
            hostname: None,
            mounts: vec![
                UserMount::Volume {
                    host: PathBuf::from("/d"),
                    guest: b"/d".to_vec(),
                    read_only: false,
                },
                // A regular file: bound as a file.
                UserMount::Volume {
                    host: PathBuf::from("/h"),
                    guest: b"/etc/hosts".to_vec(),
                    read_only: false,
                },
            ],
            sysctls: vec![],
            ipc: Default::default(),
            seccomp: None,
            memory: None,
            terminal: None,
            rlimits: vec![],
            annotations: HashMap::new(),
            hooks: Default::default(),
        };
        let host = Fake {
            dirs: vec![PathBuf::from("/r"), PathBuf::from("/d")],
            files: vec![PathBuf::from("/h")],
            ..Fake::default()
        };
        check_paths(&l, &host).expect("checks");
        // Neither (a device here: it exists), then missing.
        for (src, why) in [
            ("/dev/null", "not a directory or a regular file"),
            ("/nonexistent-snare-test", "no such file"),
        ] {
            l.mounts.push(UserMount::Volume {
                host: PathBuf::from(src),
                guest: b"/x".to_vec(),
                read_only: false,
            });
            let e = check_paths(&l, &host).expect_err(src).0;
            assert!(e.contains(why), "{e}");
            l.mounts.pop();
        }
        l.root = PathBuf::from("/nope");
        assert!(check_paths(&l, &host)
            .expect_err("root")
            .0
            .contains("root.path"));
    }
}
