//! The OCI runtime end to end: bundles made here (a rootfs of the static busybox), driven
//! through the built `snare` binary as containerd's runc shim drives a runtime: `create`
//! with stdio files and a pid file, `start`, `state`, `kill`, `delete`, `run`, `ps`; and
//! hostile bundles and ids, which must fail with a clear message, no panic and nothing
//! left behind.
//!
//! This test process is a child subreaper (as the shim is): a container's init, orphaned
//! when `create` exits, becomes its child, so its exit status (the container's) can be
//! waited for.

mod common;

use std::fs::File;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::oci::{alive, make_rootfs, reap, rootfs, runc, subreaper, text};
use common::{scratch, SNARE};

/// One test's bundle and state root, under the scratch directory.
struct Case {
    dir: PathBuf,
    root: PathBuf,
}

impl Case {
    /// A bundle whose config is `snare spec`'s, running `args` in the shared busybox root
    /// (writable unless `edit` says otherwise); `edit` changes the config further.
    fn new(name: &str, args: &[&str], edit: impl FnOnce(&mut serde_json::Value)) -> Case {
        subreaper();
        let dir = scratch().join(format!("oci-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("bundle dir");
        let case = Case {
            root: dir.join("state"),
            dir,
        };
        let out = case.snare(&["spec", "--bundle", case.dir.to_str().expect("utf-8")]);
        assert!(out.status.success(), "spec: {}", text(&out.stderr));
        let mut config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(case.config()).expect("config.json"))
                .expect("spec writes JSON");
        config["root"] = serde_json::json!({ "path": rootfs(), "readonly": false });
        config["process"]["args"] = serde_json::json!(args);
        edit(&mut config);
        std::fs::write(case.config(), config.to_string()).expect("write config.json");
        case
    }

    fn config(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    fn bundle(&self) -> &str {
        self.dir.to_str().expect("utf-8")
    }

    /// `snare --root STATE ARGS…`, stdin empty, output captured.
    fn snare(&self, args: &[&str]) -> Output {
        Command::new(SNARE)
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run snare")
    }

    /// `create` as the shim runs it: the container's stdout and stderr are files (read
    /// with [`Case::stdout`]), the pid goes to `init.pid`, errors to `log.json` (JSON). The
    /// exit status and `create`'s own stderr (which is the container's too: an error
    /// message lands there).
    fn create(&self, id: &str) -> (i32, String) {
        let out = File::create(self.dir.join("stdout")).expect("stdout file");
        let err = File::create(self.dir.join("stderr")).expect("stderr file");
        let log = self.dir.join("log.json");
        let pid_file = self.dir.join("init.pid");
        let started = Instant::now();
        let status = Command::new(SNARE)
            .arg("--root")
            .arg(&self.root)
            .arg("--log")
            .arg(&log)
            .args(["--log-format", "json", "create", "--bundle", self.bundle()])
            .arg("--pid-file")
            .arg(&pid_file)
            .arg(id)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .status()
            .expect("run snare create");
        // create returns without waiting for the container, which keeps the files open.
        assert!(started.elapsed() < Duration::from_secs(10), "create hung");
        (status.code().unwrap_or(-1), self.stderr())
    }

    fn stdout(&self) -> String {
        std::fs::read_to_string(self.dir.join("stdout")).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr")).unwrap_or_default()
    }

    fn pid_file(&self) -> i32 {
        let text = std::fs::read_to_string(self.dir.join("init.pid")).expect("pid file");
        assert!(!text.ends_with('\n'), "the pid file has no newline");
        text.parse().expect("a decimal pid")
    }

    /// `state ID`'s JSON.
    fn state(&self, id: &str) -> serde_json::Value {
        let out = self.snare(&["state", id]);
        assert!(out.status.success(), "state {id}: {}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("state prints JSON")
    }

    fn status(&self, id: &str) -> String {
        self.state(id)["status"]
            .as_str()
            .expect("a status")
            .to_owned()
    }

    /// Waits (up to 20 s) for the state to say `want`.
    fn wait_status(&self, id: &str, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.status(id) != want {
            assert!(Instant::now() < deadline, "{id} never became {want}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The container ids with state under the root.
    fn containers(&self) -> Vec<String> {
        std::fs::read_dir(&self.root)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[test]
fn create_start_state_delete() {
    let c = Case::new(
        "lifecycle",
        &["sh", "-c", "echo started; sleep 1; echo done"],
        |_| {},
    );
    let (code, err) = c.create("life");
    assert_eq!(code, 0, "create: {err}");
    let pid = c.pid_file();
    let state = c.state("life");
    assert_eq!(state["status"], "created");
    assert_eq!(state["id"], "life");
    assert_eq!(state["pid"], pid);
    assert_eq!(state["bundle"], c.bundle());
    assert_eq!(state["ociVersion"], "1.0.2");
    assert!(state["created"].as_str().is_some_and(|t| t.ends_with('Z')));
    // snare's own bookkeeping stays in its state file.
    assert!(state.get("initStartTime").is_none() && state.get("hooks").is_none());
    assert!(alive(pid));
    // Created: set up, but the program has not run.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(c.stdout(), "", "the program ran before start");
    let started = Instant::now();
    let out = c.snare(&["start", "life"]);
    assert!(out.status.success(), "start: {}", text(&out.stderr));
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "start waited"
    );
    assert_eq!(c.status("life"), "running");
    // A second start is refused.
    let again = c.snare(&["start", "life"]);
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("running"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(reap(pid), 0);
    c.wait_status("life", "stopped");
    assert_eq!(c.state("life")["pid"], 0);
    assert_eq!(c.stdout(), "started\ndone\n");
    let out = c.snare(&["delete", "life"]);
    assert!(out.status.success(), "delete: {}", text(&out.stderr));
    assert!(c.containers().is_empty());
    let gone = c.snare(&["state", "life"]);
    assert_eq!(gone.status.code(), Some(1));
    assert!(
        text(&gone.stderr).contains("does not exist"),
        "{}",
        text(&gone.stderr)
    );
}

#[test]
fn run_echo_hi() {
    let c = Case::new("run", &["echo", "hi"], |_| {});
    let out = c.snare(&["run", "--bundle", c.bundle(), "hi"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hi\n");
    assert!(c.containers().is_empty(), "run leaves no state");
}

#[test]
fn exit_codes_pass_through() {
    for (script, want) in [("exit 7", 7), ("true", 0), ("exit 255", 255)] {
        let c = Case::new("exit", &["sh", "-c", script], |_| {});
        let out = c.snare(&["run", "--bundle", c.bundle(), "exit"]);
        assert_eq!(
            out.status.code(),
            Some(want),
            "{script}: {}",
            text(&out.stderr)
        );
    }
    // Through the pid file's process too, as the shim sees it.
    let c = Case::new("exit-init", &["sh", "-c", "exit 42"], |_| {});
    let (code, err) = c.create("e");
    assert_eq!(code, 0, "{err}");
    assert!(c.snare(&["start", "e"]).status.success());
    assert_eq!(reap(c.pid_file()), 42);
}

#[test]
fn process_user_env_cwd_hostname_and_readonly_root() {
    let c = Case::new(
        "process",
        &[
            "sh",
            "-c",
            "echo $(id -u):$(id -g) $FOO $(pwd) ${CARGO:-clean} $(hostname); touch /x",
        ],
        |config| {
            config["hostname"] = serde_json::json!("box7");
            config["process"]["user"] = serde_json::json!({"uid": 1000, "gid": 100});
            config["process"]["env"] = serde_json::json!(["PATH=/bin", "FOO=bar"]);
            config["process"]["cwd"] = serde_json::json!("/tmp");
            config["root"]["readonly"] = serde_json::json!(true);
        },
    );
    let out = c.snare(&["run", "--bundle", c.bundle(), "p"]);
    assert_eq!(text(&out.stdout), "1000:100 bar /tmp clean box7\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("Read-only file system"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn kill_in_created_state() {
    let c = Case::new("kill-created", &["sleep", "30"], |_| {});
    for (id, sig, want) in [("t", "15", 143), ("k", "KILL", 137), ("i", "SIGINT", 130)] {
        let (code, err) = c.create(id);
        assert_eq!(code, 0, "{err}");
        let pid = c.pid_file();
        assert_eq!(c.status(id), "created");
        let out = c.snare(&["kill", id, sig]);
        assert!(out.status.success(), "kill {sig}: {}", text(&out.stderr));
        assert_eq!(reap(pid), want, "kill {sig} in the created state");
        assert_eq!(c.status(id), "stopped");
        // Stopped: nothing to signal.
        let out = c.snare(&["kill", id, "9"]);
        assert!(!out.status.success());
        assert!(text(&out.stderr).contains("container not running"));
        assert!(c.snare(&["delete", id]).status.success());
    }
    assert!(c.containers().is_empty());
}

#[test]
fn kill_running_sleep() {
    let c = Case::new("kill-running", &["sleep", "30"], |_| {});
    let (code, err) = c.create("s");
    assert_eq!(code, 0, "{err}");
    let pid = c.pid_file();
    assert!(c.snare(&["start", "s"]).status.success());
    assert_eq!(c.status("s"), "running");
    // As under runc, the init (pid 1 of its namespace) has no handler for TERM: dropped.
    assert!(c.snare(&["kill", "s", "TERM"]).status.success());
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(c.status("s"), "running");
    let started = Instant::now();
    assert!(c.snare(&["kill", "s", "KILL"]).status.success());
    assert_eq!(reap(pid), 137);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(c.snare(&["delete", "s"]).status.success());
}

#[test]
fn delete_force_of_running_leaves_no_process() {
    let c = Case::new("delete-force", &["sh", "-c", "sleep 30 & sleep 30"], |_| {});
    let (code, err) = c.create("d");
    assert_eq!(code, 0, "{err}");
    let pid = c.pid_file();
    assert!(c.snare(&["start", "d"]).status.success());
    assert_eq!(c.status("d"), "running");
    let out = c.snare(&["ps", "--format", "json", "d"]);
    assert!(out.status.success(), "ps: {}", text(&out.stderr));
    let pids: Vec<i32> = serde_json::from_slice(&out.stdout).expect("ps prints a JSON array");
    assert!(
        pids.contains(&pid) && pids.len() >= 2,
        "host pids: {pids:?}"
    );
    // Running: refused without --force.
    let out = c.snare(&["delete", "d"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("not stopped"),
        "{}",
        text(&out.stderr)
    );
    assert!(alive(pid));
    let out = c.snare(&["delete", "--force", "d"]);
    assert!(
        out.status.success(),
        "delete --force: {}",
        text(&out.stderr)
    );
    for p in &pids {
        assert!(!alive(*p), "pid {p} of the container is still there");
    }
    assert_eq!(reap(pid), 137);
    assert!(c.containers().is_empty());
    // Again, and of an id that never was: nothing to do, no error.
    assert!(c.snare(&["delete", "--force", "d"]).status.success());
    assert!(c.snare(&["delete", "--force", "never"]).status.success());
    let out = c.snare(&["delete", "never"]);
    assert!(
        text(&out.stderr).contains("does not exist"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn missing_binary_fails_at_create() {
    for (cmd, words) in [
        ("nonexistent", "executable file not found"),
        ("/bin/nonexistent", "no such file or directory"),
    ] {
        let c = Case::new("missing", &[cmd], |_| {});
        let (code, err) = c.create("m");
        assert_ne!(code, 0);
        assert!(err.contains(cmd) && err.contains(words), "{err}");
        assert!(
            c.containers().is_empty(),
            "state left: {:?}",
            c.containers()
        );
        assert!(!c.dir.join("init.pid").exists());
        // The shim reports the last error line of the JSON log.
        let log = std::fs::read_to_string(c.dir.join("log.json")).expect("log.json");
        let last: serde_json::Value =
            serde_json::from_str(log.lines().last().expect("a line")).expect("log lines are JSON");
        assert_eq!(last["level"], "error");
        assert!(
            last["msg"].as_str().is_some_and(|m| m.contains(words)),
            "{log}"
        );
        assert!(last["time"].as_str().is_some_and(|t| t.ends_with('Z')));
    }
}

/// A config or id that is not acceptable: `create` exits non-zero with `words` in its
/// message, without a panic, and leaves nothing.
fn refused(c: &Case, id: &str, words: &str) {
    let (code, err) = c.create(id);
    assert!(code == 1 || code == 2, "exit {code}: {err}");
    assert!(err.contains(words), "wanted \"{words}\" in: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        c.containers().is_empty(),
        "state left: {:?}",
        c.containers()
    );
}

#[test]
fn hostile_configs() {
    let c = Case::new("hostile", &["true"], |_| {});
    for (config, words) in [
        ("not json at all", "config.json"),
        ("", "EOF"),
        (r#"{"foo": 1}"#, "no \"root\""),
        (r#"{"process": 5, "root": {"path": "/"}}"#, "invalid type"),
        (r#"{"root": {"path": "/"}}"#, "no \"process\""),
        (
            r#"{"root": {"path": "/"}, "process": {"user": {"uid": -1}, "args": ["true"], "cwd": "/"}}"#,
            "invalid value",
        ),
        (
            r#"{"root": {"path": "/"}, "process": {"user": {}, "args": ["true"], "cwd": "tmp"}}"#,
            "process.cwd",
        ),
        (
            r#"{"root": {"path": "/nonexistent-snare-root"}, "process": {"user": {}, "args": ["true"], "cwd": "/"}}"#,
            "root.path",
        ),
        (
            r#"{"root": {"path": ""}, "process": {"user": {}, "args": ["true"], "cwd": "/"}}"#,
            "root.path",
        ),
        (
            r#"{"root": {"path": "/"}, "process": {"user": {}, "args": [], "cwd": "/"}}"#,
            "process.args",
        ),
    ] {
        std::fs::write(c.config(), config).expect("write config");
        refused(&c, "h", words);
    }
    // 100 MB: refused without reading it all.
    let big = File::create(c.config()).expect("config");
    big.set_len(100 << 20).expect("100 MB");
    refused(&c, "h", "larger than");
    // A FIFO (which a blocking open would wait on forever) and a directory.
    std::fs::remove_file(c.config()).expect("rm");
    nix::unistd::mkfifo(&c.config(), nix::sys::stat::Mode::from_bits_truncate(0o600))
        .expect("mkfifo");
    refused(&c, "h", "not a regular file");
    std::fs::remove_file(c.config()).expect("rm");
    std::fs::create_dir(c.config()).expect("mkdir");
    refused(&c, "h", "not a regular file");
    // No config at all.
    std::fs::remove_dir(c.config()).expect("rmdir");
    refused(&c, "h", "config.json");
}

#[test]
fn hostile_ids() {
    let c = Case::new("ids", &["true"], |_| {});
    for id in ["../x", "..", "a/b", "/etc", "x\ny"] {
        refused(&c, id, "invalid container id");
        for cmd in ["state", "start", "delete"] {
            let out = c.snare(&[cmd, id]);
            assert_eq!(out.status.code(), Some(1), "{cmd} {id:?}");
            assert!(text(&out.stderr).contains("invalid container id"));
        }
    }
    assert!(!c.dir.join("x").exists() && !scratch().join("x").exists());
    // An id in use is refused, and the container keeps running.
    let c = Case::new("dup", &["sleep", "30"], |_| {});
    let (code, err) = c.create("dup");
    assert_eq!(code, 0, "{err}");
    let pid = c.pid_file();
    let (code, err) = c.create("dup");
    assert_eq!(code, 1);
    assert!(err.contains("exists"), "{err}");
    assert!(alive(pid) && c.status("dup") == "created");
    assert!(c.snare(&["delete", "--force", "dup"]).status.success());
    assert_eq!(reap(pid), 137);
}

#[test]
fn spec_features_and_usage() {
    let c = Case::new("spec", &["true"], |_| {});
    let out = c.snare(&["spec", "--bundle", c.bundle()]);
    assert!(!out.status.success(), "spec overwrote config.json");
    let out = c.snare(&["features"]);
    assert!(out.status.success());
    let f: serde_json::Value = serde_json::from_slice(&out.stdout).expect("features JSON");
    assert!(f["ociVersionMax"]
        .as_str()
        .is_some_and(|v| v.starts_with("1.")));
    let out = c.snare(&["kill", "x", "SIGNOPE"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("unknown signal"));
    let out = c.snare(&["create", "--bogus", "x"]);
    assert_eq!(out.status.code(), Some(2));
    // runc's commands snare lacks: one clear line, as the shim passes them.
    let out = c.snare(&["events", "--stats", "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("does not exist"),
        "{}",
        text(&out.stderr)
    );
    // Runtime arguments before the global flags, as Docker's runtimeArgs put them.
    let out = Command::new(SNARE)
        .args(["--debug", "--root"])
        .arg(&c.root)
        .args(["--log-format", "json", "state", "none"])
        .output()
        .expect("snare");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("does not exist"));
}

#[test]
fn kill_reaches_the_init_alone() {
    // As under runc, `kill` signals the container's init, not its other processes (`snare
    // do` passes a terminal's signals to the foreground process group instead).
    let child = "trap 'echo child-got-term' TERM; while :; do sleep 0.1; done";
    let init = format!(
        "sh -c \"{child}\" & trap 'sleep 0.5; echo init-got-term; exit 0' TERM; echo ready; \
         while :; do sleep 0.1; done"
    );
    let c = Case::new("kill-init", &["sh", "-c", &init], |_| {});
    let (code, err) = c.create("i");
    assert_eq!(code, 0, "{err}");
    let pid = c.pid_file();
    assert!(c.snare(&["start", "i"]).status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !c.stdout().contains("ready") {
        assert!(Instant::now() < deadline, "the container never got ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(c.snare(&["kill", "i", "15"]).status.success());
    assert_eq!(reap(pid), 0);
    assert_eq!(c.stdout(), "ready\ninit-got-term\n");
    assert!(c.snare(&["delete", "i"]).status.success());
}

#[test]
fn hooks_get_the_state_and_the_sandbox_netns() {
    let c = Case::new("hooks", &["true"], |_| {});
    let out = |name: &str| c.dir.join(name).to_str().expect("utf-8").to_owned();
    let hook = |file: String| serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {file}")]});
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(c.config()).expect("config")).expect("json");
    config["hooks"] = serde_json::json!({
        "prestart": [hook(out("prestart"))],
        "createRuntime": [hook(out("createRuntime"))],
        "poststart": [hook(out("poststart"))],
        "poststop": [hook(out("poststop"))],
    });
    std::fs::write(c.config(), config.to_string()).expect("config");
    let (code, err) = c.create("h");
    assert_eq!(code, 0, "{err}");
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(c.dir.join(name)).expect("hook output"))
            .expect("the state JSON")
    };
    for stage in ["prestart", "createRuntime"] {
        let state = read(stage);
        assert_eq!(state["status"], "creating");
        assert_eq!(state["id"], "h");
        // The pid is a live process in the sandbox's network namespace (Docker's
        // libnetwork-setkey moves the container's interface there).
        let pid = state["pid"].as_i64().expect("pid");
        let netns = |p: &str| std::fs::read_link(format!("/proc/{p}/ns/net")).expect("netns");
        assert_ne!(netns(&pid.to_string()), netns("self"), "{stage}");
    }
    assert!(!c.dir.join("poststart").exists());
    let pid = c.pid_file();
    assert!(c.snare(&["start", "h"]).status.success());
    assert_eq!(read("poststart")["status"], "running");
    assert_eq!(reap(pid), 0);
    assert!(c.snare(&["delete", "h"]).status.success());
    assert_eq!(read("poststop")["status"], "stopped");

    // A failing createRuntime hook fails create, and nothing is left.
    let c = Case::new("hook-fails", &["sleep", "30"], |config| {
        config["hooks"] = serde_json::json!({"createRuntime": [
            {"path": "/bin/sh", "args": ["sh", "-c", "echo no network today >&2; exit 1"]}]});
    });
    refused(&c, "f", "no network today");
}

/// Writes `text` to `path` with `mode`.
fn write_file(path: &Path, text: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).expect("write file");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A bind mount entry as Docker writes it.
fn bind(source: &str, destination: &str, options: &[&str]) -> serde_json::Value {
    serde_json::json!({"destination": destination, "type": "bind", "source": source,
                       "options": options})
}

#[test]
fn file_binds_reach_the_host_file() {
    // Docker's three files (relative sources: the bundle's), `--init`'s read-only
    // /sbin/docker-init, whose directory the image lacks, and a symlink source.
    let script = "cat /etc/hosts /etc/hostname; echo nameserver 10.0.0.1 >> /etc/resolv.conf; \
                  stat -c '%s %F' /etc/resolv.conf; /sbin/docker-init a b; \
                  echo x > /sbin/docker-init || echo refused; cat /etc/linked; ls /sbin";
    let c = Case::new("file-binds", &["sh", "-c", script], |config| {
        let mounts = config["mounts"].as_array_mut().expect("spec has mounts");
        mounts.push(bind("hosts", "/etc/hosts", &["rbind", "rprivate"]));
        mounts.push(bind("hostname", "/etc/hostname", &["rbind", "rprivate"]));
        mounts.push(bind(
            "resolv.conf",
            "/etc/resolv.conf",
            &["rbind", "rprivate"],
        ));
        mounts.push(bind("init", "/sbin/docker-init", &["bind", "ro"]));
        mounts.push(bind("link", "/etc/linked", &["bind"]));
        // The root in memory: the shared rootfs must not get the mount points.
        config["annotations"] = serde_json::json!({"dev.snare.root-overlay": "memory"});
    });
    write_file(&c.dir.join("hosts"), "127.0.0.1 localhost\n", 0o644);
    write_file(&c.dir.join("hostname"), "box7\n", 0o644);
    write_file(&c.dir.join("resolv.conf"), "nameserver 8.8.8.8\n", 0o644);
    write_file(
        &c.dir.join("init"),
        "#!/bin/sh\necho init-ran \"$@\"\n",
        0o755,
    );
    std::os::unix::fs::symlink("hostname", c.dir.join("link")).expect("symlink");
    let out = c.snare(&["run", "--bundle", c.bundle(), "fb"]);
    assert_eq!(
        text(&out.stdout),
        "127.0.0.1 localhost\nbox7\n39 regular file\ninit-ran a b\nrefused\nbox7\ndocker-init\n",
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("Read-only file system"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0));
    // The write reached the host file; the read-only one is unchanged; the mount points
    // were made in the sandbox's view only (the rootfs has no /sbin, no /etc/hosts).
    assert_eq!(
        std::fs::read_to_string(c.dir.join("resolv.conf")).expect("resolv.conf"),
        "nameserver 8.8.8.8\nnameserver 10.0.0.1\n"
    );
    assert!(std::fs::read_to_string(c.dir.join("init"))
        .expect("init")
        .starts_with("#!/bin/sh"));
    assert!(!rootfs().join("sbin").exists(), "/sbin made in the rootfs");
    assert!(
        !rootfs().join("etc/hosts").exists(),
        "/etc/hosts made in the rootfs"
    );
}

#[test]
fn hostile_bind_sources() {
    // The root in memory: the shared rootfs must not get the mount points.
    let c = Case::new("hostile-binds", &["true"], |config| {
        config["annotations"] = serde_json::json!({"dev.snare.root-overlay": "memory"});
    });
    let fifo = c.dir.join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).expect("fifo");
    write_file(&c.dir.join("file"), "data\n", 0o644);
    std::fs::create_dir_all(c.dir.join("dir")).expect("dir");
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(c.config()).expect("config")).expect("JSON");
    for (source, dest, words) in [
        ("fifo", "/etc/x", "not a directory or a regular file"),
        ("/dev/null", "/etc/x", "not a directory or a regular file"),
        ("missing", "/etc/x", "no such file or directory"),
        // A directory where the image has a file, a file where it has a directory.
        ("dir", "/etc/passwd", "Not a directory"),
        ("file", "/etc", "Is a directory"),
        ("file", "/", "Is a directory"),
    ] {
        let mut config = config.clone();
        config["mounts"]
            .as_array_mut()
            .expect("mounts")
            .push(bind(source, dest, &["bind"]));
        std::fs::write(c.config(), config.to_string()).expect("config");
        refused(&c, "hb", words);
        assert!(!c.dir.join("init.pid").exists(), "{source}: a pid file");
    }
    // `..` stays inside the root: this is /etc/dots, in the sandbox's view only.
    let mut config = config.clone();
    config["process"]["args"] = serde_json::json!(["cat", "/etc/dots"]);
    config["mounts"].as_array_mut().expect("mounts").push(bind(
        "file",
        "/tmp/../../../etc/dots",
        &["bind"],
    ));
    std::fs::write(c.config(), config.to_string()).expect("config");
    let out = c.snare(&["run", "--bundle", c.bundle(), "dots"]);
    assert_eq!(text(&out.stdout), "data\n", "{}", text(&out.stderr));
    assert!(!rootfs().join("etc/dots").exists());
    assert!(std::fs::metadata(&fifo)
        .expect("fifo")
        .file_type()
        .is_fifo());
}

#[test]
fn masked_and_read_only_paths() {
    // As runc: a masked file is /dev/null bound over it (empty to read, writes vanish), a
    // masked directory an empty read-only tmpfs; a read-only path is EROFS to write, and
    // paths that aren't there are skipped (Docker's list names /proc files snare lacks).
    std::fs::create_dir_all(rootfs().join("mdir")).expect("mdir");
    write_file(&rootfs().join("mdir/secret"), "secret\n", 0o644);
    let script = "wc -c < /etc/passwd; stat -c %t:%T /etc/passwd; echo x > /etc/passwd && echo \
                  gone; ls -A /mdir | wc -l; touch /mdir/x || echo mdir-ro; touch /tmp/t || \
                  echo tmp-ro; echo h > /proc/sys/kernel/hostname || echo sys-ro; \
                  touch /root/ok && echo root-rw; cd /proc/sys && cat kernel/ostype";
    let c = Case::new("masked", &["sh", "-c", script], |config| {
        let docker_masked = [
            "/proc/asound",
            "/proc/acpi",
            "/proc/kcore",
            "/proc/keys",
            "/proc/latency_stats",
            "/proc/timer_list",
            "/proc/timer_stats",
            "/proc/sched_debug",
            "/proc/scsi",
            "/sys/firmware",
        ];
        let mut masked: Vec<&str> = docker_masked.to_vec();
        masked.extend(["/etc/passwd", "/mdir", "/nonexistent"]);
        config["linux"]["maskedPaths"] = serde_json::json!(masked);
        config["linux"]["readonlyPaths"] = serde_json::json!([
            "/proc/bus",
            "/proc/fs",
            "/proc/irq",
            "/proc/sys",
            "/proc/sysrq-trigger",
            "/tmp"
        ]);
    });
    let out = c.snare(&["run", "--bundle", c.bundle(), "mk"]);
    let err = text(&out.stderr);
    assert_eq!(
        text(&out.stdout),
        "0\n1:3\ngone\n0\nmdir-ro\ntmp-ro\nsys-ro\nroot-rw\nLinux\n",
        "{err}"
    );
    assert_eq!(err.matches("Read-only file system").count(), 3, "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
    // The rootfs's own files are untouched.
    assert_eq!(
        std::fs::read_to_string(rootfs().join("etc/passwd")).expect("passwd"),
        "root:x:0:0:root:/root:/bin/sh\n"
    );
    assert!(!rootfs().join("mdir/x").exists());
}

#[test]
fn rlimits_reach_the_guest() {
    // What runc's container shows for the same bundle: `ulimit` reads the limits set.
    let script = "ulimit -n; ulimit -Hn; ulimit -f; ulimit -v; \
                  head -c 4096 /dev/zero > /tmp/big; wc -c < /tmp/big";
    let c = Case::new("rlimits", &["sh", "-c", script], |config| {
        config["process"]["rlimits"] = serde_json::json!([
            {"type": "RLIMIT_NOFILE", "soft": 321, "hard": 4096},
            {"type": "RLIMIT_FSIZE", "soft": 2048, "hard": 2048},
            {"type": "RLIMIT_AS", "soft": 4294967296u64, "hard": 4294967296u64}
        ]);
        config["process"]["noNewPrivileges"] = serde_json::json!(true);
        config["process"]["oomScoreAdj"] = serde_json::json!(100);
    });
    let out = c.snare(&["run", "--bundle", c.bundle(), "rl"]);
    // ulimit -f counts 512-byte blocks, -v KiB; the write stops at the FSIZE limit (head
    // gets SIGXFSZ).
    assert_eq!(
        text(&out.stdout),
        "321\n4096\n4\n4194304\n2048\n",
        "{}",
        text(&out.stderr)
    );
    // A soft limit above the hard one fails at create, as runc's setrlimit would.
    let c = Case::new("rlimits-bad", &["true"], |config| {
        config["process"]["rlimits"] =
            serde_json::json!([{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 5}]);
    });
    refused(&c, "rb", "soft limit 10 above the hard limit 5");
}

/// The same bundle under runc and under snare: Docker's file binds, a read-only bind whose
/// directory the image lacks, masked and read-only paths and rlimits show the same to the
/// container; runc makes the missing mount points in the rootfs on the host, snare only in
/// the sandbox's view. Skipped (with a message) where runc is not installed.
#[test]
fn file_binds_masks_and_rlimits_as_runc() {
    let Some(runc) = runc() else {
        eprintln!("runc is not installed: the differential check is skipped");
        return;
    };
    let script = "cat /etc/hosts /etc/hostname; echo nameserver 10.0.0.1 >> /etc/resolv.conf; \
                  stat -c '%s %F' /etc/resolv.conf; /sbin/docker-init a b; \
                  echo x > /sbin/docker-init 2>/dev/null || echo refused; wc -c < /etc/passwd; \
                  stat -c %t:%T /etc/passwd; ls -A /mdir | wc -l; \
                  touch /mdir/x 2>/dev/null || echo mdir-ro; touch /tmp/t 2>/dev/null || echo tmp-ro; \
                  (echo h > /proc/sys/kernel/hostname) 2>/dev/null || echo sys-ro; \
                  ulimit -n; ulimit -Hn; ulimit -f; rm /etc/hosts 2>/dev/null || echo busy";
    let mut outputs = Vec::new();
    for runtime in [runc, SNARE] {
        let name = if runtime == SNARE { "snare" } else { "runc" };
        let c = Case::new(
            &format!("as-runc-{name}"),
            &["sh", "-c", script],
            |config| {
                let mounts = config["mounts"].as_array_mut().expect("spec has mounts");
                mounts.push(bind("hosts", "/etc/hosts", &["rbind", "rprivate"]));
                mounts.push(bind("hostname", "/etc/hostname", &["rbind", "rprivate"]));
                mounts.push(bind(
                    "resolv.conf",
                    "/etc/resolv.conf",
                    &["rbind", "rprivate"],
                ));
                mounts.push(bind("init", "/sbin/docker-init", &["bind", "ro"]));
                config["root"]["path"] = serde_json::json!("rootfs");
                config["linux"]["maskedPaths"] =
                    serde_json::json!(["/proc/kcore", "/etc/passwd", "/mdir", "/nonexistent"]);
                config["linux"]["readonlyPaths"] = serde_json::json!(["/proc/sys", "/tmp"]);
                config["process"]["rlimits"] = serde_json::json!([
                    {"type": "RLIMIT_NOFILE", "soft": 321, "hard": 4096},
                    {"type": "RLIMIT_FSIZE", "soft": 2048, "hard": 2048}
                ]);
            },
        );
        let root = make_rootfs(&c.dir.join("rootfs"));
        std::fs::create_dir_all(root.join("mdir")).expect("mdir");
        write_file(&root.join("mdir/secret"), "secret\n", 0o644);
        write_file(&c.dir.join("hosts"), "127.0.0.1 localhost\n", 0o644);
        write_file(&c.dir.join("hostname"), "box7\n", 0o644);
        write_file(&c.dir.join("resolv.conf"), "nameserver 8.8.8.8\n", 0o644);
        write_file(
            &c.dir.join("init"),
            "#!/bin/sh\necho init-ran \"$@\"\n",
            0o755,
        );
        let out = Command::new(runtime)
            .arg("--root")
            .arg(&c.root)
            .args(["run", "--bundle", c.bundle(), "diff"])
            .stdin(Stdio::null())
            .output()
            .expect("run the runtime");
        let resolv = std::fs::read_to_string(c.dir.join("resolv.conf")).expect("resolv.conf");
        assert_eq!(
            resolv, "nameserver 8.8.8.8\nnameserver 10.0.0.1\n",
            "{name}"
        );
        outputs.push((
            name,
            out.status.code(),
            text(&out.stdout),
            root.join("sbin/docker-init").exists(),
        ));
    }
    let want = "127.0.0.1 localhost\nbox7\n39 regular file\ninit-ran a b\nrefused\n0\n1:3\n0\n\
                mdir-ro\ntmp-ro\nsys-ro\n321\n4096\n4\nbusy\n";
    assert_eq!(outputs[0], ("runc", Some(0), want.to_string(), true));
    // The root is written through (`oci/rootfs.rs`): snare made the mount point too.
    assert_eq!(outputs[1], ("snare", Some(0), want.to_string(), true));
}

/// `linux.seccomp` applied to the guest's syscalls as runc has the kernel apply it: an
/// errno for `mkdir`, a condition on `chmod`'s mode (set-uid refused, 0600 allowed), a
/// process killed by SIGSYS for `sync`, and `Seccomp: 2` in `/proc/self/status`; the same
/// bundle under runc and under snare, the same output.
#[test]
fn seccomp_profile_as_runc() {
    let Some(runc) = runc() else {
        eprintln!("runc is not installed: the differential check is skipped");
        return;
    };
    let script = "mkdir /tmp/d 2>&1 || echo mkdir-refused; touch /tmp/f; \
                  chmod 600 /tmp/f && echo chmod-ok; chmod u+s /tmp/f 2>&1 || echo suid-refused; \
                  sync; echo status $?; grep '^Seccomp:' /proc/self/status";
    let suid = serde_json::json!([{"index": 1, "value": 0o4000, "valueTwo": 0o4000,
                                    "op": "SCMP_CMP_MASKED_EQ"}]);
    let suid_at = serde_json::json!([{"index": 2, "value": 0o4000, "valueTwo": 0o4000,
                                       "op": "SCMP_CMP_MASKED_EQ"}]);
    let profile = serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
            {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "args": suid},
            {"names": ["fchmodat"], "action": "SCMP_ACT_ERRNO", "args": suid_at},
            {"names": ["sync"], "action": "SCMP_ACT_KILL_PROCESS"},
            {"names": ["no_such_call"], "action": "SCMP_ACT_KILL"}
        ]
    });
    let mut outputs = Vec::new();
    for runtime in [runc, SNARE] {
        let name = if runtime == SNARE { "snare" } else { "runc" };
        let c = Case::new(
            &format!("seccomp-{name}"),
            &["sh", "-c", script],
            |config| {
                config["root"]["path"] = serde_json::json!("rootfs");
                config["linux"]["seccomp"] = profile.clone();
            },
        );
        make_rootfs(&c.dir.join("rootfs"));
        let out = Command::new(runtime)
            .arg("--root")
            .arg(&c.root)
            .args(["run", "--bundle", c.bundle(), "secc"])
            .stdin(Stdio::null())
            .output()
            .expect("run the runtime");
        outputs.push((out.status.code(), text(&out.stdout), text(&out.stderr)));
    }
    let want = "mkdir: can't create directory '/tmp/d': Permission denied\nmkdir-refused\n\
                chmod-ok\nchmod: /tmp/f: Operation not permitted\nsuid-refused\nstatus 159\n\
                Seccomp:\t2\n";
    assert_eq!(outputs[0].1, want, "runc: {:?}", outputs[0]);
    assert_eq!(outputs[1], outputs[0], "snare differs from runc");
}

/// `run --preserve-fds 2`: the caller's fds 3 and 4 are the container process's 3 and 4,
/// as under runc; a count past the open fds is an error.
#[test]
fn preserve_fds_as_runc() {
    let Some(runc) = runc() else {
        eprintln!("runc is not installed: the differential check is skipped");
        return;
    };
    let mut outputs = Vec::new();
    for runtime in [runc, SNARE] {
        let name = if runtime == SNARE { "snare" } else { "runc" };
        let c = Case::new(
            &format!("preserve-{name}"),
            &["sh", "-c", "cat <&3; echo to-four >&4; echo done"],
            |config| {
                config["root"]["path"] = serde_json::json!("rootfs");
            },
        );
        make_rootfs(&c.dir.join("rootfs"));
        let (input, output) = (c.dir.join("in"), c.dir.join("out"));
        std::fs::write(&input, "from three\n").expect("input");
        let script = format!(
            "exec 3<'{}' 4>'{}'; exec '{runtime}' --root '{}' run --preserve-fds 2 --bundle '{}' pfd-{name}",
            input.display(),
            output.display(),
            c.root.display(),
            c.bundle(),
        );
        let out = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .output()
            .expect("run the runtime");
        let written = std::fs::read_to_string(&output).unwrap_or_default();
        outputs.push((out.status.code(), text(&out.stdout), written));
    }
    assert_eq!(
        outputs[0],
        (
            Some(0),
            "from three\ndone\n".to_string(),
            "to-four\n".to_string()
        ),
        "runc"
    );
    assert_eq!(outputs[1], outputs[0], "snare differs from runc");
    // Fds that are not open.
    let out = Command::new(SNARE)
        .args([
            "run",
            "--preserve-fds",
            "40",
            "--bundle",
            "/nonexistent",
            "pfd-bad",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run snare");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("is not open"),
        "{}",
        text(&out.stderr)
    );
}

/// A hostile profile is refused at `create`, with nothing left behind.
#[test]
fn hostile_seccomp_profiles() {
    let bad = [
        serde_json::json!({"defaultAction": "SCMP_ACT_NOTIFY"}),
        serde_json::json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 100000}),
        serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 9, "value": 0, "op": "SCMP_CMP_EQ"}]}]}),
        serde_json::json!({"defaultAction": "SCMP_ACT_BOGUS"}),
    ];
    for (i, profile) in bad.into_iter().enumerate() {
        let c = Case::new(&format!("seccomp-bad-{i}"), &["true"], |config| {
            config["linux"]["seccomp"] = profile.clone();
        });
        let (code, _) = c.create("x");
        assert_ne!(code, 0, "profile {i} accepted");
        let log = std::fs::read_to_string(c.dir.join("log.json")).unwrap_or_default();
        assert!(log.contains("seccomp"), "profile {i}: {log}");
        assert!(c.containers().is_empty(), "profile {i} left state");
        assert!(!c.dir.join("init.pid").exists());
    }
}

/// `linux.sysctl`'s `net.*` reach the network namespace the bundle names (Docker's case),
/// its `kernel.shmmax` the sandbox's IPC namespace:
/// the guest reads the value, as under runc; the host's own is untouched; a parameter Linux
/// doesn't namespace is refused at `create`.
#[test]
fn sysctls_in_the_joined_network_as_runc() {
    let Some(runc) = runc() else {
        eprintln!("runc is not installed: the differential check is skipped");
        return;
    };
    if !nix::unistd::geteuid().is_root() || !Path::new("/usr/sbin/ip").exists() {
        eprintln!("skipped: needs root and ip(8) to make network namespaces");
        return;
    }
    let host_before = std::fs::read_to_string("/proc/sys/net/core/somaxconn").expect("host");
    let mut outputs = Vec::new();
    for runtime in [runc, SNARE] {
        let name = if runtime == SNARE { "snare" } else { "runc" };
        let ns = format!("snare-sysctl-{name}-{}", std::process::id());
        let made = Command::new("ip").args(["netns", "add", &ns]).status();
        assert!(made.is_ok_and(|s| s.success()), "ip netns add {ns}");
        let c = Case::new(
            &format!("sysctl-{name}"),
            &[
                "cat",
                "/proc/sys/net/core/somaxconn",
                "/proc/sys/kernel/shmmax",
            ],
            |config| {
                config["linux"]["namespaces"] = serde_json::json!([
                    {"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"},
                    {"type": "network", "path": format!("/run/netns/{ns}")}
                ]);
                config["linux"]["sysctl"] = serde_json::json!({
                    "net.core.somaxconn": "555",
                    "net.ipv4.ip_unprivileged_port_start": "0",
                    "kernel.shmmax": "68719476736"
                });
            },
        );
        let out = Command::new(runtime)
            .arg("--root")
            .arg(&c.root)
            .args(["run", "--bundle", c.bundle(), "sysc"])
            .stdin(Stdio::null())
            .output()
            .expect("run the runtime");
        let _ = Command::new("ip").args(["netns", "del", &ns]).status();
        outputs.push((out.status.code(), text(&out.stdout)));
    }
    assert_eq!(
        outputs[0],
        (Some(0), "555\n68719476736\n".to_string()),
        "runc"
    );
    assert_eq!(outputs[1], outputs[0], "snare differs from runc");
    let host_after = std::fs::read_to_string("/proc/sys/net/core/somaxconn").expect("host");
    assert_eq!(host_before, host_after, "the host's somaxconn changed");
    // Not namespaced: refused at create, nothing left.
    let c = Case::new("sysctl-bad", &["true"], |config| {
        config["linux"]["sysctl"] = serde_json::json!({"kernel.pid_max": "100"});
    });
    let (code, _) = c.create("x");
    assert_ne!(code, 0);
    let log = std::fs::read_to_string(c.dir.join("log.json")).unwrap_or_default();
    assert!(
        log.contains("is not in a separate kernel namespace"),
        "{log}"
    );
    assert!(c.containers().is_empty());
}

/// `process.capabilities` and `noNewPrivileges` as runc applies them, the same bundles
/// under runc and under snare, the same output: Docker's default set (mount refused,
/// chown allowed), no capabilities at all (chown refused), no_new_privs reported, a
/// non-root user with an ambient capability, and an unknown name (ignored, as runc).
#[test]
fn capabilities_as_runc() {
    let Some(runc) = runc() else {
        eprintln!("runc is not installed: the differential check is skipped");
        return;
    };
    let docker: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/docker-sample-config.json"),
        )
        .expect("docker-sample-config.json"),
    )
    .expect("JSON");
    let docker_caps = docker["process"]["capabilities"].clone();
    let chown = serde_json::json!(["CAP_CHOWN"]);
    let script = "grep -E '^(Uid|Cap|NoNewPrivs)' /proc/self/status; \
                  mount -t tmpfs x /tmp 2>/dev/null && echo mounted || echo mount-refused; \
                  touch /f 2>/dev/null; chown 1 /f 2>/dev/null && echo chown-ok || echo chown-refused";
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        ("docker", {
            let caps = docker_caps.clone();
            Box::new(move |p| {
                p["capabilities"] = caps.clone();
                p["noNewPrivileges"] = serde_json::json!(false);
            })
        }),
        (
            "none",
            Box::new(|p| {
                p["capabilities"] = serde_json::json!({});
                p["noNewPrivileges"] = serde_json::json!(false);
            }),
        ),
        ("nnp", {
            let caps = docker_caps.clone();
            Box::new(move |p| {
                p["capabilities"] = caps.clone();
                p["noNewPrivileges"] = serde_json::json!(true);
            })
        }),
        ("ambient", {
            let chown = chown.clone();
            Box::new(move |p| {
                p["user"] = serde_json::json!({"uid": 1000, "gid": 1000});
                for set in [
                    "bounding",
                    "effective",
                    "inheritable",
                    "permitted",
                    "ambient",
                ] {
                    p["capabilities"][set] = chown.clone();
                }
            })
        }),
        ("unknown", {
            let caps = docker_caps.clone();
            Box::new(move |p| {
                p["capabilities"] = caps.clone();
                p["capabilities"]["bounding"]
                    .as_array_mut()
                    .expect("a list")
                    .push(serde_json::json!("CAP_NOPE"));
            })
        }),
    ];
    for (case, edit) in &cases {
        let mut outputs = Vec::new();
        for runtime in [runc, SNARE] {
            let name = if runtime == SNARE { "snare" } else { "runc" };
            let c = Case::new(
                &format!("caps-{case}-{name}"),
                &["sh", "-c", script],
                |config| {
                    config["root"]["path"] = serde_json::json!("rootfs");
                    edit(&mut config["process"]);
                },
            );
            let root = make_rootfs(&c.dir.join("rootfs"));
            // The user's file to give away (the ambient case runs as 1000).
            write_file(&root.join("f"), "", 0o644);
            std::os::unix::fs::chown(root.join("f"), Some(1000), Some(1000)).expect("chown");
            let id = format!("caps-{case}-{name}-{}", std::process::id());
            let out = Command::new(runtime)
                .arg("--root")
                .arg(&c.root)
                .args(["run", "--bundle", c.bundle(), &id])
                .stdin(Stdio::null())
                .output()
                .expect("run the runtime");
            outputs.push((out.status.code(), text(&out.stdout)));
        }
        assert_eq!(outputs[0].0, Some(0), "{case}: runc: {}", outputs[0].1);
        assert_eq!(outputs[0], outputs[1], "{case}: runc, then snare");
    }
}
