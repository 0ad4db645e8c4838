//! `exec`: a second process in a running (or created) container, as runc's `exec`.
//!
//! The process is the OCI `process` of `--process FILE` (what Docker passes), or, without
//! one, the bundle's `process` with the command line's args, `--cwd`, `--env` (appended),
//! `--user` and `--additional-gids` over it (as runc builds it). It is checked here, sent
//! to the Sentry over the container's control socket (`oci::channel`) with this process's
//! stdio, and started there (`oci::server`) as a new guest process.
//!
//! This process is then the exec'd process's face on the host, its **waiter**: it passes the
//! signals it gets on to the guest process, and exits with that process's status (`n`, or
//! 128 + the signal); 137 if the sandbox ends first (as a killed runc exec). Killing the
//! waiter (SIGKILL can't be passed on) kills the guest process. With `--detach`, the waiter
//! is a forked child whose pid goes to `--pid-file` (the shim reaps it for `docker exec`'s
//! exit code); each waiter's pid is listed in the state directory (`waiter.PID`), for
//! `delete` (which ends what is left of them) and `ps`.

use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{ContainerState, Process};

use super::channel::{self, ExecRequest, Request, Response, Stdio};
use super::host::Host;
use super::state::{status, Id, StateDir};
use super::{error, OciError};

/// `exec`'s options (runc's flags).
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// `--process`: a JSON file of the OCI `process`.
    pub process: Option<PathBuf>,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    /// `--console-socket`: where a terminal's master goes.
    pub console_socket: Option<PathBuf>,
    pub cwd: Option<String>,
    /// `--env KEY=VALUE`, appended to the bundle's.
    pub env: Vec<String>,
    /// `--user UID[:GID]`.
    pub user: Option<String>,
    pub additional_gids: Vec<u32>,
    pub tty: bool,
    /// `--ignore-paused`: exec into a paused container (the process waits, frozen, until
    /// `resume`).
    pub ignore_paused: bool,
    /// The command and its arguments (without `--process`).
    pub args: Vec<String>,
}

/// Largest `--process` file.
const MAX_PROCESS: u64 = super::bundle::MAX_CONFIG;

/// Reads a `--process` file: a regular file (opened without blocking) of at most
/// [`MAX_PROCESS`] bytes of the OCI `process` object.
fn read_process(path: &Path) -> Result<Process, OciError> {
    use std::os::unix::fs::OpenOptionsExt;
    let shown = path.display();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| error(format!("--process {shown}: {e}")))?;
    let meta = file
        .metadata()
        .map_err(|e| error(format!("--process {shown}: {e}")))?;
    if !meta.is_file() {
        return Err(error(format!("--process {shown}: not a regular file")));
    }
    let mut bytes = Vec::new();
    file.take(MAX_PROCESS + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| error(format!("--process {shown}: {e}")))?;
    if bytes.len() as u64 > MAX_PROCESS {
        return Err(error(format!(
            "--process {shown}: larger than {} MiB",
            MAX_PROCESS >> 20
        )));
    }
    super::bundle::parse_without_unknown_caps(&bytes, None)
        .map_err(|e| error(format!("--process {shown}: {e}")))
}

/// The process runc's `exec` runs: `--process`'s, or the bundle's with the flags over it.
pub fn process_of(opts: &ExecOptions, bundle: &Path) -> Result<Process, OciError> {
    if let Some(path) = &opts.process {
        return read_process(path);
    }
    if opts.args.is_empty() {
        return Err(error("process args cannot be empty"));
    }
    let spec = super::bundle::read_config(&bundle.join("config.json"))?;
    let mut p = spec
        .process()
        .clone()
        .ok_or_else(|| error("config.json: no \"process\""))?;
    p.set_args(Some(opts.args.clone()));
    if let Some(cwd) = &opts.cwd {
        p.set_cwd(PathBuf::from(cwd));
    }
    let mut env = p.env().clone().unwrap_or_default();
    env.extend(opts.env.iter().cloned());
    p.set_env(Some(env));
    p.set_terminal(Some(opts.tty));
    let mut user = p.user().clone();
    if let Some(u) = &opts.user {
        let (uid, gid) = match u.split_once(':') {
            Some((uid, gid)) => (uid, Some(gid)),
            None => (u.as_str(), None),
        };
        let num = |s: &str| {
            s.parse::<u32>()
                .map_err(|_| error(format!("--user {u}: not UID[:GID] (numbers)")))
        };
        user.set_uid(num(uid)?);
        if let Some(gid) = gid {
            user.set_gid(num(gid)?);
        }
    }
    if !opts.additional_gids.is_empty() {
        let mut groups = user.additional_gids().clone().unwrap_or_default();
        groups.extend(&opts.additional_gids);
        user.set_additional_gids(Some(groups));
    }
    p.set_user(user);
    Ok(p)
}

/// Checks `p` and makes the request the Sentry gets (runc's words where it has them).
pub fn request_of(p: &Process) -> Result<ExecRequest, OciError> {
    let args = p.args().clone().unwrap_or_default();
    if args.is_empty() {
        return Err(error("args must not be empty"));
    }
    let cwd = p
        .cwd()
        .to_str()
        .ok_or_else(|| error("cwd: not UTF-8"))?
        .to_owned();
    if cwd.is_empty() {
        return Err(error("Cwd property must not be empty"));
    }
    if !cwd.starts_with('/') {
        return Err(error("Cwd must be an absolute path"));
    }
    // Later entries win, as in the environment runc builds.
    let mut env: Vec<String> = Vec::new();
    for e in p.env().iter().flatten() {
        let key = e.split_once('=').map_or(e.as_str(), |(k, _)| k);
        env.retain(|old| old.split_once('=').map_or(old.as_str(), |(k, _)| k) != key);
        env.push(e.clone());
    }
    let user = p.user();
    let umask = user.umask().unwrap_or(0o022);
    let rlimits = super::bundle::rlimits(p.rlimits().as_deref().unwrap_or_default())?;
    let req = ExecRequest {
        args,
        env,
        cwd,
        uid: user.uid(),
        gid: user.gid(),
        groups: user.additional_gids().clone().unwrap_or_default(),
        umask,
        rlimits,
        caps: super::bundle::caps_of(p),
        stdio: Stdio::Fds,
    };
    req.check().map_err(error)?;
    Ok(req)
}

/// `exec`: starts the process; returns its exit status (without `detach`), or 0 once it
/// runs and its waiter is forked (with `detach`). A failure is worded as runc's ("exec
/// failed: …", which Docker parses) and `snare exec` exits 255 for it, as runc.
pub fn exec(root: &Path, id: &Id, opts: &ExecOptions, host: &dyn Host) -> Result<i32, OciError> {
    run_exec(root, id, opts, host).map_err(|e| error(format!("exec failed: {e}")))
}

/// [`exec`], its errors without runc's "exec failed: ".
fn run_exec(root: &Path, id: &Id, opts: &ExecOptions, host: &dyn Host) -> Result<i32, OciError> {
    let dir = StateDir::of(root, id);
    let record = dir.load()?;
    if status(&dir, &record, host) == ContainerState::Stopped {
        return Err(error("cannot exec in a stopped container"));
    }
    if !opts.ignore_paused && super::control::paused(&dir, &record, host) {
        return Err(error(
            "cannot exec in a paused container (use --ignore-paused to override)",
        ));
    }
    let process = process_of(opts, record.state.bundle())?;
    let mut req = request_of(&process)?;
    let terminal = process.terminal() == Some(true);
    // A terminal: its master to --console-socket (runc's rules and words), its slave to
    // the Sentry, which bridges it to a terminal of its own devpts.
    let console = super::console::connect(terminal, opts.console_socket.as_deref())?;
    let slave = match console {
        Some(c) => {
            let size = super::console::Size::of(process.console_size().as_ref())?;
            let slave = c.send_pty(size)?;
            let flags = nix::fcntl::fcntl(&slave, nix::fcntl::FcntlArg::F_GETFL)
                .map_err(|e| error(format!("the terminal: {e}")))?;
            let flags =
                nix::fcntl::OFlag::from_bits_truncate(flags) | nix::fcntl::OFlag::O_NONBLOCK;
            nix::fcntl::fcntl(&slave, nix::fcntl::FcntlArg::F_SETFL(flags))
                .map_err(|e| error(format!("the terminal: {e}")))?;
            req.stdio = super::channel::Stdio::Terminal;
            Some(slave)
        }
        None => None,
    };
    let conn = channel::connect(&dir.dir).map_err(error)?;
    let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    let stdio = match &slave {
        Some(s) => vec![s.as_fd()],
        None => vec![stdin.as_fd(), stdout.as_fd(), stderr.as_fd()],
    };
    channel::send(conn.as_fd(), &Request::Exec(req), &stdio).map_err(error)?;
    match channel::recv_on::<Response>(&conn).map_err(error)? {
        Some((Response::Started(pid), _)) => tracing::debug!(pid, "exec: started"),
        Some((Response::Failed { message, .. }, _)) => return Err(error(message)),
        Some((other, _)) => return Err(error(format!("exec: unexpected answer {other:?}"))),
        None => return Err(error("cannot exec in a stopped container")),
    }
    if !opts.detach {
        let me = std::process::id() as i32;
        let entry = register(&dir, me, host);
        if let Some(path) = &opts.pid_file {
            super::lifecycle::write_pid_file(path, me)?;
        }
        let code = wait(conn.as_fd(), false);
        unregister(entry);
        return Ok(code);
    }
    match snare_platform::isolate::fork().map_err(error)? {
        snare_platform::isolate::Forked::Child => {
            // The process holds the stdio now: the waiter keeps none of it open.
            super::stdio_to_null();
            // With a terminal the waiter leads a session whose controlling terminal is the
            // pty's slave: the host kernel tells it of the shim's resizes (SIGWINCH), which
            // it passes on as `Resize`.
            let resizes = slave.as_ref().is_some_and(|s| {
                snare_platform::tty::take_controlling(s.as_fd())
                    .inspect_err(|e| tracing::debug!("exec: no resizes: {e}"))
                    .is_ok()
            });
            let me = std::process::id() as i32;
            let code = wait(conn.as_fd(), resizes);
            unregister(Some(dir.dir.join(format!("waiter.{me}"))));
            std::process::exit(code.clamp(0, 255))
        }
        snare_platform::isolate::Forked::Parent(pid) => {
            drop(conn);
            drop(slave);
            register(&dir, pid, host);
            if let Some(path) = &opts.pid_file {
                super::lifecycle::write_pid_file(path, pid)?;
            }
            Ok(0)
        }
    }
}

/// Lists waiter `pid` (with its start time) in the state directory.
fn register(dir: &StateDir, pid: i32, host: &dyn Host) -> Option<PathBuf> {
    let path = dir.dir.join(format!("waiter.{pid}"));
    let start = host.start_time(pid)?;
    std::fs::write(&path, start.to_string()).ok()?;
    Some(path)
}

fn unregister(entry: Option<PathBuf>) {
    if let Some(p) = entry {
        let _ = std::fs::remove_file(p);
    }
}

/// The live waiters listed in `dir` (their start times match).
pub fn waiters(dir: &StateDir, host: &dyn Host) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir(&dir.dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("waiter."))
            .and_then(|p| p.parse::<i32>().ok())
            .filter(|&p| p > 0)
        else {
            continue;
        };
        let listed = std::fs::read_to_string(e.path())
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok());
        if listed.is_some() && host.start_time(pid) == listed {
            out.push(pid);
        }
    }
    out.sort_unstable();
    out
}

/// After the sandbox is gone, gives its waiters a moment to see it (they exit with 137)
/// and SIGKILLs what is left: `delete` leaves none behind.
pub fn end_waiters(dir: &StateDir, host: &dyn Host) {
    let mut left = waiters(dir, host);
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(500);
    while !left.is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
        left = waiters(dir, host);
    }
    for pid in left {
        tracing::debug!(pid, "an exec's waiter still there: killed");
        let _ = host.signal(pid, libc::SIGKILL);
    }
}

/// Signals a waiter passes on to its process (every catchable one but those about this
/// process itself: SIGCHLD, SIGPIPE, SIGWINCH, SIGURG).
fn forwarded() -> nix::sys::signal::SigSet {
    use nix::sys::signal::Signal::*;
    let mut set = nix::sys::signal::SigSet::empty();
    for s in [
        SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGTERM, SIGALRM, SIGCONT, SIGTSTP, SIGTTIN,
        SIGTTOU, SIGVTALRM, SIGPROF, SIGXCPU, SIGXFSZ, SIGIO, SIGPWR, SIGSYS, SIGTRAP, SIGABRT,
    ] {
        set.add(s);
    }
    set
}

/// The waiter's loop: passes the signals it gets on (with `resizes`, a SIGWINCH is its
/// terminal's resize: `Resize`), and returns the process's status once the Sentry reports
/// it (137 if the connection ends first: the sandbox is gone).
fn wait(conn: BorrowedFd<'_>, resizes: bool) -> i32 {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use nix::sys::signalfd::{SfdFlags, SignalFd};
    let mut set = forwarded();
    if resizes {
        set.add(nix::sys::signal::Signal::SIGWINCH);
    }
    let _ = set.thread_block();
    let sfd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK).ok();
    loop {
        let mut fds = vec![PollFd::new(conn, PollFlags::POLLIN)];
        if let Some(s) = &sfd {
            fds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return 137,
        }
        let sig_ready = fds
            .get(1)
            .and_then(|f| f.revents())
            .is_some_and(|r| r.contains(PollFlags::POLLIN));
        let conn_ready = fds[0].revents().is_some_and(|r| !r.is_empty());
        if sig_ready {
            while let Some(Ok(Some(info))) = sfd.as_ref().map(|s| s.read_signal()) {
                let sig = info.ssi_signo as i32;
                tracing::debug!(sig, "exec: passing a signal on");
                let req = match sig {
                    libc::SIGWINCH => Request::Resize,
                    // The terminal's hang-up reaches the process through its terminal.
                    libc::SIGHUP if resizes => continue,
                    _ => Request::Signal(sig),
                };
                let _ = channel::send(conn, &req, &[]);
            }
        }
        if conn_ready {
            match channel::recv::<Response>(conn) {
                Ok(Some((Response::Exited(code), _))) => return code,
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return 137,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A process from `json`, user 0:0 unless it names one.
    fn process(json: &str) -> Process {
        let mut v: serde_json::Value = serde_json::from_str(json).expect("JSON");
        if v.get("user").is_none() {
            v["user"] = serde_json::json!({"uid": 0, "gid": 0});
        }
        serde_json::from_value(v).expect("a process")
    }

    #[test]
    fn docker_process_files_map_to_requests() {
        let p = process(
            r#"{"user":{"uid":1000,"gid":1000,"additionalGids":[10]},"args":["sh","-c","id"],
                "env":["PATH=/bin","A=1","A=2"],"cwd":"/tmp","terminal":false,
                "rlimits":[{"type":"RLIMIT_NOFILE","hard":100,"soft":50}]}"#,
        );
        let r = request_of(&p).expect("maps");
        assert_eq!(r.args, ["sh", "-c", "id"]);
        assert_eq!(r.env, ["PATH=/bin", "A=2"]);
        assert_eq!((r.uid, r.gid, r.groups.clone()), (1000, 1000, vec![10]));
        assert_eq!((r.cwd.as_str(), r.umask), ("/tmp", 0o022));
        assert_eq!(r.rlimits, [(7, 50, 100)]);
    }

    /// The process file containerd's shim writes for `docker exec` (Docker 20.10's fields).
    #[test]
    fn dockers_own_process_file_is_read() {
        let p = process(
            r#"{"user":{"uid":0,"gid":0},"args":["ls","-l"],"env":["PATH=/usr/bin:/bin",
                "HOSTNAME=abc"],"cwd":"/","terminal":false,"capabilities":{
                "bounding":["CAP_CHOWN","CAP_KILL"],"effective":["CAP_CHOWN","CAP_KILL"],
                "permitted":["CAP_CHOWN","CAP_KILL"]},"apparmorProfile":"docker-default",
                "noNewPrivileges":true,"oomScoreAdj":0}"#,
        );
        let r = request_of(&p).expect("maps");
        assert_eq!((r.args.len(), r.env.len(), r.uid), (2, 2, 0));
        assert_eq!(r.stdio, Stdio::Fds);
    }

    #[test]
    fn bad_processes_are_refused_in_runc_words() {
        let bad = |json: &str| request_of(&process(json)).expect_err("refused").0;
        assert_eq!(bad(r#"{"cwd":"/","args":[]}"#), "args must not be empty");
        assert_eq!(bad(r#"{"cwd":"/"}"#), "args must not be empty");
        assert_eq!(
            bad(r#"{"cwd":"tmp","args":["x"]}"#),
            "Cwd must be an absolute path"
        );
        assert_eq!(
            bad(r#"{"cwd":"","args":["x"]}"#),
            "Cwd property must not be empty"
        );
        // A terminal is the console socket's business (`run_exec`), not the request's.
        assert!(request_of(&process(r#"{"cwd":"/","args":["x"],"terminal":true}"#)).is_ok());
        assert!(bad(r#"{"cwd":"/","args":["x"],"env":["NOPE"]}"#).contains("KEY=VALUE"));
        assert!(
            bad(r#"{"cwd":"/","args":["x"],"user":{"uid":4294967295,"gid":0}}"#)
                .contains("invalid id")
        );
    }

    #[test]
    fn flags_go_over_the_bundles_process() {
        let dir = std::env::temp_dir().join(format!("snare-exec-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(
            dir.join("config.json"),
            r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
                "process":{"user":{"uid":0,"gid":0},"args":["sleep","1"],
                "env":["PATH=/bin","HOME=/root"],"cwd":"/"}}"#,
        )
        .expect("config");
        let opts = ExecOptions {
            args: vec!["id".into()],
            env: vec!["HOME=/x".into(), "B=1".into()],
            user: Some("1000:7".into()),
            cwd: Some("/tmp".into()),
            additional_gids: vec![3],
            ..ExecOptions::default()
        };
        let r = request_of(&process_of(&opts, &dir).expect("process")).expect("request");
        assert_eq!(r.args, ["id"]);
        assert_eq!(r.env, ["PATH=/bin", "HOME=/x", "B=1"]);
        assert_eq!((r.uid, r.gid, r.groups.clone()), (1000, 7, vec![3]));
        assert_eq!(r.cwd, "/tmp");
        let only_uid = ExecOptions {
            args: vec!["id".into()],
            user: Some("5".into()),
            ..ExecOptions::default()
        };
        let r = request_of(&process_of(&only_uid, &dir).expect("process")).expect("request");
        assert_eq!((r.uid, r.gid), (5, 0));
        let bad_user = ExecOptions {
            args: vec!["id".into()],
            user: Some("bob".into()),
            ..ExecOptions::default()
        };
        assert!(process_of(&bad_user, &dir).is_err());
        let none = ExecOptions::default();
        assert_eq!(
            process_of(&none, &dir).expect_err("no args").0,
            "process args cannot be empty"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
