//! `snare exec` end to end: a container (a rootfs of the static busybox) running `sleep`,
//! and second processes started in it as Docker starts them (`exec --process FILE --detach
//! --pid-file F ID`) and as people do (`exec ID CMD ARGS`): output, exit statuses, env, cwd,
//! user, stdin, the sandbox's pid namespace, the waiter's status and signals, a missing
//! binary, a stopped container, `delete --force` under running execs, several at once,
//! hostile inputs (on the command line and on the control socket itself), and the same
//! execs under runc where it is installed.
//!
//! This test process is a child subreaper (as the shim is): a container's init and a
//! detached exec's waiter become its children, so their exit statuses can be waited for.

mod common;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::oci::{alive, make_rootfs, reap, rootfs, subreaper, text};
use common::{scratch, SNARE};
use nix::unistd::Pid;

/// One test's bundle and state root, for snare or runc.
struct Case {
    dir: PathBuf,
    root: PathBuf,
    runtime: &'static str,
}

impl Case {
    /// A bundle running `args` (`snare spec`'s config otherwise), in the shared rootfs for
    /// snare, in one of its own for runc (which makes mount points in it).
    fn new(name: &str, runtime: &'static str, args: &[&str]) -> Case {
        subreaper();
        let dir = scratch().join(format!("exec-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("bundle dir");
        let case = Case {
            root: dir.join("state"),
            dir,
            runtime,
        };
        let out = Command::new(SNARE)
            .args(["spec", "--bundle", case.bundle()])
            .output()
            .expect("spec");
        assert!(out.status.success(), "spec: {}", text(&out.stderr));
        let config_path = case.dir.join("config.json");
        let mut config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&config_path).expect("config.json"))
                .expect("spec writes JSON");
        let root = match runtime == SNARE {
            true => rootfs().to_path_buf(),
            false => make_rootfs(&case.dir.join("rootfs")),
        };
        config["root"] = serde_json::json!({ "path": root, "readonly": false });
        config["process"]["args"] = serde_json::json!(args);
        config["process"]["env"] = serde_json::json!(["PATH=/bin", "HOME=/root", "TERM=xterm"]);
        std::fs::write(config_path, config.to_string()).expect("write config.json");
        case
    }

    fn bundle(&self) -> &str {
        self.dir.to_str().expect("utf-8")
    }

    /// `RUNTIME --root STATE ARGS…` with `stdin` (none: empty), output captured.
    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(self.runtime);
        cmd.arg("--root").arg(&self.root).args(args);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        match stdin {
            None => {
                cmd.stdin(Stdio::null());
                cmd.output().expect("run the runtime")
            }
            Some(input) => {
                cmd.stdin(Stdio::piped());
                let mut child = cmd.spawn().expect("run the runtime");
                let mut pipe = child.stdin.take().expect("stdin");
                pipe.write_all(input.as_bytes()).expect("write stdin");
                drop(pipe);
                child.wait_with_output().expect("wait")
            }
        }
    }

    fn exec(&self, args: &[&str]) -> Output {
        let mut all = vec!["exec"];
        all.extend(args);
        self.run(&all, None)
    }

    /// `create` + `start` with stdio files (as the shim does); the init's pid.
    fn start(&self, id: &str) -> i32 {
        let out = File::create(self.dir.join("stdout")).expect("stdout file");
        let err = File::create(self.dir.join("stderr")).expect("stderr file");
        let pid_file = self.dir.join("init.pid");
        let status = Command::new(self.runtime)
            .arg("--root")
            .arg(&self.root)
            .args(["create", "--bundle", self.bundle(), "--pid-file"])
            .arg(&pid_file)
            .arg(id)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .status()
            .expect("create");
        assert!(
            status.success(),
            "create: {}",
            std::fs::read_to_string(self.dir.join("stderr")).unwrap_or_default()
        );
        let out = self.run(&["start", id], None);
        assert!(out.status.success(), "start: {}", text(&out.stderr));
        std::fs::read_to_string(&pid_file)
            .expect("pid file")
            .parse()
            .expect("a pid")
    }

    fn delete(&self, id: &str) {
        let _ = self.run(&["delete", "--force", id], None);
    }

    /// `ps --format json`'s host pids.
    fn ps(&self, id: &str) -> Vec<i32> {
        let out = self.run(&["ps", "--format", "json", id], None);
        assert!(out.status.success(), "ps: {}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("ps prints a JSON array")
    }

    /// Writes a `--process` file.
    fn process_file(&self, name: &str, process: &serde_json::Value) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, process.to_string()).expect("process file");
        path.to_str().expect("utf-8").to_owned()
    }
}

/// A failed test leaves no container running: every one under the root is deleted.
impl Drop for Case {
    fn drop(&mut self) {
        for e in std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
        {
            let id = e.file_name().to_string_lossy().into_owned();
            self.delete(&id);
        }
    }
}

impl Case {
    /// `exec --detach` as the shim runs it: the process's stdio is not a pipe the caller
    /// reads to its end (the process keeps it), but `/dev/null` and a file; the status and
    /// what the exec itself printed.
    fn exec_detached(&self, args: &[&str]) -> (Option<i32>, String) {
        let err_path = self.dir.join("exec.stderr");
        let err = File::create(&err_path).expect("stderr file");
        let status = Command::new(self.runtime)
            .arg("--root")
            .arg(&self.root)
            .arg("exec")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .status()
            .expect("exec");
        (
            status.code(),
            std::fs::read_to_string(err_path).unwrap_or_default(),
        )
    }
}

/// (status, stdout) of an exec.
fn outcome(o: &Output) -> (Option<i32>, String) {
    (o.status.code(), text(&o.stdout))
}

/// Reads `pid_file` as the shim does: decimal, no newline.
fn read_pid(pid_file: &Path) -> i32 {
    let t = std::fs::read_to_string(pid_file).expect("pid file");
    assert!(!t.ends_with('\n'), "no newline in the pid file");
    t.parse().expect("a decimal pid")
}

/// The execs both runtimes get, against a container running `sleep`; their (status,
/// stdout) and, for failures, stderr's words.
fn exec_suite(c: &Case, id: &str) -> Vec<(Option<i32>, String)> {
    let mut seen = Vec::new();
    seen.push(outcome(&c.exec(&[id, "echo", "hi"])));
    seen.push(outcome(&c.exec(&[id, "sh", "-c", "exit 5"])));
    seen.push(outcome(&c.exec(&[
        "-e",
        "FOO=bar",
        "--cwd",
        "/tmp",
        "--user",
        "1000",
        id,
        "sh",
        "-c",
        "id -u; id -g; pwd; echo $FOO $HOME",
    ])));
    let file = c.process_file(
        "p.json",
        &serde_json::json!({
            "user": {"uid": 1000, "gid": 1000, "additionalGids": [10, 20]},
            "args": ["sh", "-c", "id -u; id -g; id -G; pwd; echo $FOO; env | sort; umask"],
            "env": ["PATH=/bin", "FOO=from-file"],
            "cwd": "/tmp",
            "terminal": false
        }),
    );
    seen.push(outcome(&c.exec(&["--process", &file, id])));
    seen.push(outcome(
        &c.run(&["exec", id, "cat"], Some("piped\nlines\n")),
    ));
    // A process of the sandbox's pid namespace, with no parent there.
    seen.push(outcome(&c.exec(&[
        id,
        "sh",
        "-c",
        "exec grep -E '^(PPid|Pid)' /proc/self/status",
    ])));
    // HOME, when the process has none: the user's from /etc/passwd, else `/`.
    for user in ["0", "1000"] {
        let file = c.process_file(
            "home.json",
            &serde_json::json!({
                "user": {"uid": user.parse::<u32>().expect("uid"), "gid": 0},
                "args": ["sh", "-c", "echo $HOME"],
                "env": ["PATH=/bin"],
                "cwd": "/"
            }),
        );
        seen.push(outcome(&c.exec(&["--process", &file, id])));
    }
    for bad in [
        vec![id, "nope"],
        vec![id, "/bin/nope"],
        vec!["--cwd", "rel", id, "true"],
        vec![id],
        vec!["--cwd", "/nonexistent", id, "true"],
    ] {
        let o = c.exec(&bad);
        let err = text(&o.stderr);
        let words = [
            "exec failed: unable to start container process: exec: \\\"nope\\\": executable \
             file not found in $PATH",
            "exec failed: unable to start container process: exec: \\\"/bin/nope\\\": stat \
             /bin/nope: no such file or directory",
            "exec failed: Cwd must be an absolute path",
            "exec failed: process args cannot be empty",
            "exec failed: unable to start container process: chdir to cwd (\\\"/nonexistent\\\") \
             set in config.json failed: no such file or directory",
        ];
        // runc's log line escapes the quotes; snare's stderr line does not.
        let found = words
            .iter()
            .find(|w| err.contains(*w) || err.contains(&w.replace("\\\"", "\"")))
            .map(|w| w.replace("\\\"", "\""));
        seen.push((o.status.code(), found.unwrap_or(err)));
    }
    seen
}

#[test]
fn exec_into_a_running_container() {
    let c = Case::new("basics", SNARE, &["sleep", "1000"]);
    let init = c.start("e");
    let seen = exec_suite(&c, "e");
    let pid_line = &seen[5].1;
    let want = [
        (Some(0), "hi\n".to_string()),
        (Some(5), String::new()),
        (Some(0), "1000\n0\n/tmp\nbar /root\n".to_string()),
        (
            Some(0),
            "1000\n1000\n1000 10 20\n/tmp\nfrom-file\nFOO=from-file\nHOME=/\nPATH=/bin\nPWD=/tmp\n\
             SHLVL=1\n0022\n"
                .to_string(),
        ),
        (Some(0), "piped\nlines\n".to_string()),
        (Some(0), pid_line.clone()),
        (Some(0), "/root\n".to_string()),
        (Some(0), "/\n".to_string()),
    ];
    assert_eq!(seen[..8], want[..], "{seen:#?}");
    // Its pid is the sandbox's (small), not a host pid; its parent there is none.
    let pid: i32 = pid_line
        .lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|p| p.trim().parse().ok())
        .expect("a Pid line");
    assert!((2..300).contains(&pid), "{pid_line}");
    assert!(pid_line.contains("PPid:\t0"), "{pid_line}");
    for (i, s) in seen[8..].iter().enumerate() {
        assert_eq!(s.0, Some(255), "failure {i}: {s:?}");
        assert!(s.1.starts_with("exec failed: "), "failure {i}: {s:?}");
    }
    // The container is still the one it was.
    assert!(alive(init));
    c.delete("e");
    assert_eq!(reap(init), 137);
}

#[test]
fn exec_as_runc() {
    let Some(runc) = ["/usr/sbin/runc", "/usr/bin/runc"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    else {
        eprintln!("runc is not installed: the differential check is skipped");
        return;
    };
    let mut results = Vec::new();
    for (name, runtime) in [("runc", runc), ("snare", SNARE)] {
        let c = Case::new(&format!("as-runc-{name}"), runtime, &["sleep", "1000"]);
        let init = c.start("x");
        let mut seen = exec_suite(&c, "x");
        // The pids differ (runc's count the host's set-up); that there is one, not.
        let pid_line = &mut seen[5].1;
        assert!(pid_line.starts_with("Pid:\t"), "{name}: {pid_line}");
        *pid_line = pid_line
            .lines()
            .filter(|l| !l.starts_with("Pid:"))
            .collect::<Vec<_>>()
            .join("\n");
        results.push(seen);
        c.delete("x");
        reap(init);
    }
    assert_eq!(results[0], results[1], "runc first, then snare");
}

#[test]
fn detached_exec_waiter_status_and_signals() {
    let c = Case::new("detach", SNARE, &["sleep", "1000"]);
    let init = c.start("d");
    let pid_file = c.dir.join("exec.pid");
    let pf = pid_file.to_str().expect("utf-8");
    // The waiter's status is the process's.
    let o = c.exec_detached(&[
        "--detach",
        "--pid-file",
        pf,
        "d",
        "sh",
        "-c",
        "sleep 0.2; exit 7",
    ]);
    assert_eq!(o.0, Some(0), "{}", o.1);
    let waiter = read_pid(&pid_file);
    assert_eq!(reap(waiter), 7);
    // A signal to the waiter reaches the process (a trap in the exec'd shell).
    let file = c.process_file(
        "trap.json",
        &serde_json::json!({
            "user": {"uid": 0, "gid": 0},
            "args": ["sh", "-c",
                "trap 'echo trapped > /tmp/trap-d; exit 3' TERM; echo ready > /tmp/ready-d; \
                 while :; do sleep 0.05; done"],
            "env": ["PATH=/bin"],
            "cwd": "/"
        }),
    );
    let _ = std::fs::remove_file(rootfs().join("tmp/ready-d"));
    let o = c.exec_detached(&["--process", &file, "--detach", "--pid-file", pf, "d"]);
    assert_eq!(o.0, Some(0), "{}", o.1);
    let waiter = read_pid(&pid_file);
    assert!(alive(waiter));
    assert!(c.ps("d").contains(&waiter), "ps lists the waiter");
    let deadline = Instant::now() + Duration::from_secs(20);
    // The sandbox's /tmp is its own (an overlay's upper layer): ask it.
    while !text(&c.exec(&["d", "cat", "/tmp/ready-d"]).stdout).contains("ready") {
        assert!(Instant::now() < deadline, "the trap was never set");
        std::thread::sleep(Duration::from_millis(20));
    }
    nix::sys::signal::kill(Pid::from_raw(waiter), nix::sys::signal::Signal::SIGTERM).expect("kill");
    assert_eq!(reap(waiter), 3);
    let o = c.exec(&["d", "cat", "/tmp/trap-d"]);
    assert_eq!(text(&o.stdout), "trapped\n");
    // SIGKILL to the waiter (not passed on): the process goes too.
    let o = c.exec_detached(&["--detach", "--pid-file", pf, "d", "sleep", "1000"]);
    assert_eq!(o.0, Some(0), "{}", o.1);
    let waiter = read_pid(&pid_file);
    let before = c.ps("d");
    nix::sys::signal::kill(Pid::from_raw(waiter), nix::sys::signal::Signal::SIGKILL).expect("kill");
    assert_eq!(reap(waiter), 137);
    let deadline = Instant::now() + Duration::from_secs(20);
    while c.ps("d").len() >= before.len() {
        assert!(Instant::now() < deadline, "the exec'd sleep stayed");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(alive(init));
    c.delete("d");
    assert_eq!(reap(init), 137);
}

/// What a subreaper shim sees of detached execs: the pid file's process's status for an
/// `exit 7`, for a shell whose TERM trap exits 3 (TERM sent to that pid), and for a `sleep`
/// sent KILL.
fn detached_statuses(c: &Case, id: &str) -> Vec<i32> {
    let pid_file = c.dir.join("dexec.pid");
    let pf = pid_file.to_str().expect("utf-8");
    let mut seen = Vec::new();
    let o = c.exec_detached(&["--detach", "--pid-file", pf, id, "sh", "-c", "exit 7"]);
    assert_eq!(o.0, Some(0), "{}", o.1);
    seen.push(reap(read_pid(&pid_file)));
    let script = "trap 'exit 3' TERM; echo > /tmp/armed; while :; do sleep 0.05; done";
    let o = c.exec_detached(&["--detach", "--pid-file", pf, id, "sh", "-c", script]);
    assert_eq!(o.0, Some(0), "{}", o.1);
    let pid = read_pid(&pid_file);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !c.exec(&[id, "test", "-e", "/tmp/armed"]).status.success() {
        assert!(Instant::now() < deadline, "the trap was never set");
        std::thread::sleep(Duration::from_millis(20));
    }
    nix::sys::signal::kill(Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM).expect("kill");
    seen.push(reap(pid));
    let o = c.exec_detached(&["--detach", "--pid-file", pf, id, "sleep", "1000"]);
    assert_eq!(o.0, Some(0), "{}", o.1);
    let pid = read_pid(&pid_file);
    nix::sys::signal::kill(Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).expect("kill");
    seen.push(reap(pid));
    seen
}

#[test]
fn detached_exec_as_runc() {
    let Some(runc) = ["/usr/sbin/runc", "/usr/bin/runc"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    else {
        eprintln!("runc is not installed: the differential check is skipped");
        return;
    };
    for (name, runtime) in [("runc", runc), ("snare", SNARE)] {
        let c = Case::new(
            &format!("detach-as-runc-{name}"),
            runtime,
            &["sleep", "1000"],
        );
        let init = c.start("y");
        assert_eq!(detached_statuses(&c, "y"), [7, 3, 137], "{name}");
        c.delete("y");
        reap(init);
    }
}

#[test]
fn missing_binary_leaves_nothing() {
    let c = Case::new("missing", SNARE, &["sleep", "1000"]);
    let init = c.start("m");
    let before = c.ps("m");
    let pid_file = c.dir.join("m.pid");
    for detach in [false, true] {
        let mut args = vec![];
        if detach {
            args.extend(["--detach", "--pid-file", pid_file.to_str().expect("utf-8")]);
        }
        args.extend(["m", "nope"]);
        let o = c.exec_detached(&args);
        assert_eq!(o.0, Some(255));
        assert_eq!(
            o.1,
            "snare: exec failed: unable to start container process: exec: \"nope\": \
             executable file not found in $PATH\n"
        );
        assert!(!pid_file.exists(), "no pid file for a failed exec");
    }
    let o = c.exec(&["m", "/etc/passwd"]);
    assert_eq!(o.status.code(), Some(255));
    assert!(
        text(&o.stderr).ends_with("permission denied\n"),
        "{}",
        text(&o.stderr)
    );
    let left: Vec<String> = std::fs::read_dir(c.root.join("m"))
        .expect("state dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("waiter."))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(c.ps("m").len(), before.len(), "no process left");
    c.delete("m");
    assert_eq!(reap(init), 137);
}

#[test]
fn exec_into_a_stopped_container() {
    let c = Case::new("stopped", SNARE, &["true"]);
    let init = c.start("s");
    assert_eq!(reap(init), 0);
    let o = c.exec(&["s", "echo", "x"]);
    assert_eq!(o.status.code(), Some(255));
    assert!(
        text(&o.stderr).contains("exec failed: cannot exec in a stopped container"),
        "{}",
        text(&o.stderr)
    );
    c.delete("s");
    let o = c.exec(&["s", "echo", "x"]);
    assert!(text(&o.stderr).contains("container s does not exist"));
}

/// A created container (its init loaded, waiting for `start`) takes execs, as runc's does.
#[test]
fn exec_into_a_created_container() {
    let c = Case::new("created", SNARE, &["sh", "-c", "echo init-ran"]);
    let err = File::create(c.dir.join("stderr")).expect("stderr file");
    let out = File::create(c.dir.join("stdout")).expect("stdout file");
    let pid_file = c.dir.join("init.pid");
    let status = Command::new(SNARE)
        .arg("--root")
        .arg(&c.root)
        .args(["create", "--bundle", c.bundle(), "--pid-file"])
        .arg(&pid_file)
        .arg("c")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .status()
        .expect("create");
    assert!(status.success());
    let init = read_pid(&pid_file);
    let o = c.exec(&["c", "echo", "before-start"]);
    assert_eq!(outcome(&o), (Some(0), "before-start\n".to_string()));
    let o = c.run(&["start", "c"], None);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(reap(init), 0);
    let out = std::fs::read_to_string(c.dir.join("stdout")).expect("stdout");
    assert_eq!(out, "init-ran\n");
}

#[test]
fn delete_force_while_execs_run() {
    let c = Case::new("delete", SNARE, &["sleep", "1000"]);
    let init = c.start("k");
    let pid_file = c.dir.join("k.pid");
    let o = c.exec_detached(&[
        "--detach",
        "--pid-file",
        pid_file.to_str().expect("utf-8"),
        "k",
        "sleep",
        "1000",
    ]);
    assert_eq!(o.0, Some(0), "{}", o.1);
    let waiter = read_pid(&pid_file);
    let attached = Command::new(SNARE)
        .arg("--root")
        .arg(&c.root)
        .args(["exec", "k", "sh", "-c", "sleep 1000"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("exec");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !c.ps("k").contains(&(attached.id() as i32)) {
        assert!(Instant::now() < deadline, "the attached exec never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pids = c.ps("k");
    assert!(pids.contains(&waiter), "{pids:?}");
    let o = c.run(&["delete", "--force", "k"], None);
    assert!(o.status.success(), "{}", text(&o.stderr));
    for p in &pids {
        assert!(!alive(*p), "pid {p} is still there");
    }
    assert_eq!(reap(waiter), 137);
    let out = attached.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(137), "{}", text(&out.stderr));
    assert_eq!(reap(init), 137);
}

#[test]
fn several_execs_at_once() {
    let c = Case::new("several", SNARE, &["sleep", "1000"]);
    let init = c.start("n");
    let outs: Vec<Output> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let c = &c;
                s.spawn(move || {
                    let n = i.to_string();
                    c.exec(&["n", "sh", "-c", "sleep 0.1; echo $0 $$; exit $0", &n])
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let mut pids = Vec::new();
    for (i, o) in outs.iter().enumerate() {
        assert_eq!(o.status.code(), Some(i as i32), "{}", text(&o.stderr));
        let line = text(&o.stdout);
        let mut w = line.split_whitespace();
        assert_eq!(w.next(), Some(i.to_string().as_str()));
        pids.push(w.next().expect("a pid").to_owned());
    }
    pids.sort();
    pids.dedup();
    assert_eq!(pids.len(), 8, "each exec is a process of its own");
    c.delete("n");
    assert_eq!(reap(init), 137);
}

#[test]
fn hostile_exec_inputs() {
    let c = Case::new("hostile", SNARE, &["sleep", "1000"]);
    let init = c.start("h");
    let garbage = c.dir.join("garbage.json");
    std::fs::write(&garbage, "{not json").expect("write");
    let huge = c.dir.join("huge.json");
    std::fs::write(&huge, vec![b' '; 5 << 20]).expect("write");
    let fifo = c.dir.join("fifo.json");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("fifo");
    let wrong = c.process_file(
        "wrong.json",
        &serde_json::json!({"args": "sh", "cwd": "/", "user": {"uid": 0, "gid": 0}}),
    );
    let empty = c.process_file(
        "empty.json",
        &serde_json::json!({"args": [], "cwd": "/", "user": {"uid": 0, "gid": 0}}),
    );
    let nul = c.process_file(
        "nul.json",
        &serde_json::json!({"args": ["echo", "a\u{0}b"], "cwd": "/", "user": {"uid": 0, "gid": 0}}),
    );
    let tty = c.process_file(
        "tty.json",
        &serde_json::json!({"args": ["sh"], "cwd": "/", "terminal": true, "user": {"uid": 0, "gid": 0}}),
    );
    let p = |p: &Path| p.to_str().expect("utf-8").to_owned();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--process".into(), p(&garbage), "h".into()],
            "key must be a string",
        ),
        (
            vec!["--process".into(), p(&huge), "h".into()],
            "larger than",
        ),
        (
            vec!["--process".into(), p(&fifo), "h".into()],
            "not a regular file",
        ),
        (
            vec!["--process".into(), "/nonexistent".into(), "h".into()],
            "No such file",
        ),
        (vec!["--process".into(), wrong, "h".into()], "invalid type"),
        (
            vec!["--process".into(), empty, "h".into()],
            "args must not be empty",
        ),
        (vec!["--process".into(), nul, "h".into()], "NUL"),
        // A terminal without a console socket, and a socket without a terminal: runc's words.
        (
            vec!["--process".into(), tty, "h".into()],
            "cannot allocate tty if runc will detach without setting console socket",
        ),
        (vec!["h".into()], "process args cannot be empty"),
        (
            vec!["--cwd".into(), "tmp".into(), "h".into(), "true".into()],
            "absolute",
        ),
        (
            vec!["-t".into(), "h".into(), "sh".into()],
            "cannot allocate tty if runc will detach without setting console socket",
        ),
        (
            vec![
                "--console-socket".into(),
                "/x".into(),
                "h".into(),
                "sh".into(),
            ],
            "cannot use console socket if runc will not detach or allocate tty",
        ),
        (
            vec![
                "-t".into(),
                "--console-socket".into(),
                "/nonexistent/sock".into(),
                "h".into(),
                "sh".into(),
            ],
            "dial unix /nonexistent/sock: connect: no such file or directory",
        ),
        (
            vec![
                "--preserve-fds".into(),
                "1".into(),
                "h".into(),
                "true".into(),
            ],
            "not supported",
        ),
        (
            vec!["--user".into(), "bob".into(), "h".into(), "true".into()],
            "--user bob",
        ),
        (
            vec!["-e".into(), "NOEQUALS".into(), "h".into(), "true".into()],
            "KEY=VALUE",
        ),
        (vec!["../x".into(), "true".into()], "container id"),
        (
            vec!["absent".into(), "true".into()],
            "container absent does not exist",
        ),
    ];
    for (args, words) in cases {
        let mut all = vec!["exec"];
        all.extend(args.iter().map(String::as_str));
        let o = c.run(&all, None);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(255), "{args:?}: {err}");
        assert!(err.contains(words), "{args:?}: want {words:?}, got {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
    }
    // The control socket itself, spoken to badly: the Sentry answers or hangs up, and lives.
    let sock = c.root.join("h").join("ctl.sock");
    let talk = |bytes: &[u8]| {
        let mut s = std::os::unix::net::UnixStream::connect(&sock).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let _ = s.write_all(bytes);
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut answer = Vec::new();
        let _ = std::io::Read::read_to_end(&mut s, &mut answer);
        text(&answer)
    };
    let frame = |json: &str| {
        let mut f = (json.len() as u32).to_le_bytes().to_vec();
        f.extend_from_slice(json.as_bytes());
        f
    };
    assert!(talk(b"garbage!").contains("failed"));
    assert!(talk(&u32::MAX.to_le_bytes()).contains("more than"));
    assert!(talk(&frame(r#"{"version":9,"body":{"signal":9}}"#)).contains("version 9"));
    assert!(talk(&frame(r#"{"version":1,"body":{"signal":9}}"#)).contains("exec first"));
    // An exec with no fds attached.
    let exec = r#"{"version":1,"body":{"exec":{"args":["true"],"env":[],"cwd":"/","uid":0,
        "gid":0,"groups":[],"umask":18,"rlimits":[],"stdio":"fds"}}}"#;
    assert!(talk(&frame(exec)).contains("0 fds came"));
    assert!(talk(b"").is_empty());
    // Half a header and then silence: the Sentry gives up after its 10 s.
    let mut s = std::os::unix::net::UnixStream::connect(&sock).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    s.write_all(&[9, 0]).expect("write");
    let started = Instant::now();
    let mut answer = Vec::new();
    let _ = std::io::Read::read_to_end(&mut s, &mut answer);
    assert!(text(&answer).contains("failed"), "{}", text(&answer));
    assert!(started.elapsed() < Duration::from_secs(30));
    let o = c.exec(&["h", "echo", "still", "here"]);
    assert_eq!(outcome(&o), (Some(0), "still here\n".to_string()));
    assert!(alive(init));
    c.delete("h");
    assert_eq!(reap(init), 137);
}
