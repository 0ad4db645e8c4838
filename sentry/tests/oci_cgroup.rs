//! Cgroups, resource limits, pause/resume and update, end to end: bundles with
//! `linux.cgroupsPath` `/snaretest/<id>` driven through the built `snare` binary, the host's
//! cgroup files read back, and the guest-visible behaviour compared with runc's for the same
//! bundle where that is practical (memory past the limit → 137; a pids limit).
//!
//! Skipped, with a message, where the host has no cgroup v1 hierarchies mounted or this is
//! not root. Helpers copied from `oci.rs` (rootfs, `Case`, `reap`, …). This test process is a
//! child subreaper, as the shim is.

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::oci::{alive, reap, rootfs, runc, subreaper, text};
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

/// The v1 hierarchies these tests look at (a hybrid host's layout, as Docker's).
const HIERARCHIES: &[&str] = &["memory", "pids", "cpu", "freezer"];

/// Whether the host has the cgroup v1 hierarchies and we may write them; else a message.
fn cgroups_usable() -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let v1 = HIERARCHIES
        .iter()
        .all(|h| info.contains(&format!("/sys/fs/cgroup/{h} ")));
    let root = nix::unistd::geteuid().is_root();
    if !(v1 && root) {
        eprintln!("no cgroup v1 hierarchies at /sys/fs/cgroup (or not root): skipped");
    }
    v1 && root
}

/// The cgroup name of test container `name`: this test process's own (another run of these
/// tests may be going on, and a cgroup with processes is refused).
fn unique(name: &str) -> String {
    format!("{name}-{}", std::process::id())
}

/// The container's cgroup directory in hierarchy `h`: `/snaretest/NAME-PID`.
fn cg(h: &str, name: &str) -> PathBuf {
    Path::new("/sys/fs/cgroup")
        .join(h)
        .join("snaretest")
        .join(unique(name))
}

fn cg_read(h: &str, name: &str, file: &str) -> String {
    std::fs::read_to_string(cg(h, name).join(file))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// `config.json` edits: `cgroupsPath` `/snaretest/NAME-PID` and `resources`.
fn limits(name: &str, resources: serde_json::Value) -> impl FnOnce(&mut serde_json::Value) {
    let name = unique(name);
    move |config| {
        config["linux"]["cgroupsPath"] = serde_json::json!(format!("/snaretest/{name}"));
        config["linux"]["resources"] = resources;
    }
}

/// The host pids of the init and everything under it.
fn tree(pid: i32) -> Vec<i32> {
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        for t in std::fs::read_dir(format!("/proc/{p}/task"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let kids = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
            out.extend(
                kids.split_whitespace()
                    .filter_map(|k| k.parse::<i32>().ok()),
            );
        }
        i += 1;
    }
    out
}

/// Runs `c`'s bundle with `runtime` (`run`, a fresh id): the exit status and stdout.
fn run_with(runtime: &str, c: &Case, id: &str) -> (Option<i32>, String) {
    let out = Command::new(runtime)
        .arg("--root")
        .arg(&c.root)
        .args(["run", "--bundle", c.bundle(), id])
        .stdin(Stdio::null())
        .output()
        .expect("run the runtime");
    (out.status.code(), text(&out.stdout))
}

#[test]
fn cgroup_joined_limits_written_and_removed() {
    if !cgroups_usable() {
        return;
    }
    let name = "cg-join";
    let c = Case::new(
        name,
        &["sh", "-c", "echo up; sleep 30"],
        limits(
            name,
            serde_json::json!({"memory": {"limit": 33554432}, "pids": {"limit": 20},
                "cpu": {"shares": 512, "quota": 50000, "period": 100000},
                "blockIO": {"weight": 300},
                "devices": [{"allow": false, "access": "rwm"}]}),
        ),
    );
    let (code, err) = c.create(name);
    assert_eq!(code, 0, "create: {err}");
    let pid = c.pid_file();
    assert!(c.snare(&["start", name]).status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.stdout() != "up\n" {
        assert!(Instant::now() < deadline, "the container never printed");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Every host process of the sandbox (the init, the Sentry, the stubs) is inside, in
    // every hierarchy, the unified one of the hybrid layout too.
    let host = tree(pid);
    assert!(host.len() >= 3, "the init, the Sentry and a stub: {host:?}");
    for h in HIERARCHIES.iter().chain(&["unified", "systemd"]) {
        if !Path::new("/sys/fs/cgroup").join(h).exists() {
            continue;
        }
        let procs: Vec<i32> = cg_read(h, name, "cgroup.procs")
            .lines()
            .filter_map(|l| l.parse().ok())
            .collect();
        for p in &host {
            assert!(procs.contains(p), "{h}: pid {p} not in {procs:?}");
        }
    }
    // The memory limit is the guest's plus the Sentry's margin (64 MiB + 1/8); pids.max a
    // bound of 4 host tasks per guest task + 128; CPU as runc writes it.
    assert_eq!(
        cg_read("memory", name, "memory.limit_in_bytes"),
        ((32u64 << 20) + (64 << 20) + (4 << 20)).to_string()
    );
    assert_eq!(cg_read("pids", name, "pids.max"), "208");
    assert_eq!(cg_read("cpu", name, "cpu.shares"), "512");
    assert_eq!(cg_read("cpu", name, "cpu.cfs_quota_us"), "50000");
    // What `docker stats` would show for an idle sh: the host tasks and memory.
    eprintln!(
        "idle `sh -c 'sleep 30'`: pids.current {} (host tasks: {host:?}), memory.usage_in_bytes {}",
        cg_read("pids", name, "pids.current"),
        cg_read("memory", name, "memory.usage_in_bytes"),
    );
    // `events --stats`: one JSON line of the cgroup's figures, as runc prints it.
    let out = c.snare(&["events", "--stats", name]);
    assert!(out.status.success(), "events: {}", text(&out.stderr));
    let line = text(&out.stdout);
    assert_eq!(line.lines().count(), 1, "{line}");
    let ev: serde_json::Value = serde_json::from_str(&line).expect("an event is JSON");
    assert_eq!(ev["type"], "stats");
    assert_eq!(ev["id"], name);
    assert!(
        ev["data"]["memory"]["usage"]["usage"].as_u64() > Some(0),
        "{ev}"
    );
    assert_eq!(
        ev["data"]["memory"]["usage"]["limit"].as_u64(),
        Some((32u64 << 20) + (64 << 20) + (4 << 20))
    );
    assert!(ev["data"]["pids"]["current"].as_u64() >= Some(3), "{ev}");
    assert!(
        ev["data"]["cpu"]["usage"]["total"].as_u64() > Some(0),
        "{ev}"
    );
    let out = c.snare(&["delete", "--force", name]);
    assert!(out.status.success(), "delete: {}", text(&out.stderr));
    assert_eq!(reap(pid), 137);
    for h in HIERARCHIES {
        assert!(!cg(h, name).exists(), "{h}: the cgroup is still there");
    }
    assert!(c.containers().is_empty());
    // Stopped: nothing to report.
    let out = c.snare(&["events", "--stats", name]);
    assert!(!out.status.success());
}

#[test]
fn memory_past_the_limit_exits_137_as_runc() {
    if !cgroups_usable() {
        return;
    }
    let script = r#"x=$(head -c 100m /dev/zero | tr "\0" x); echo survived ${#x}"#;
    let mut results = Vec::new();
    for (runtime, name) in [(SNARE, "cg-oom")]
        .into_iter()
        .chain(runc().map(|r| (r, "cg-oom-runc")))
    {
        let c = Case::new(
            name,
            &["sh", "-c", script],
            limits(
                name,
                serde_json::json!({"memory": {"limit": 33554432, "swap": 67108864}}),
            ),
        );
        let (code, out) = run_with(runtime, &c, name);
        results.push((code, out));
        assert!(!cg("memory", name).exists(), "{name}: cgroup left");
    }
    for r in &results {
        assert_eq!(r, &(Some(137), String::new()), "{results:?}");
    }
}

#[test]
fn pids_limit_counts_guest_tasks_as_runc() {
    if !cgroups_usable() {
        return;
    }
    // A subshell starts 30 sleeps until a fork fails (it then dies: `can't fork`); wc counts
    // those started. Then, all gone, 10 at once work.
    let script = "n=$( (for i in $(seq 30); do sleep 2 & echo s; done) 2>/dev/null | wc -l); \
                  echo started=$n; for i in $(seq 10); do sleep 0.1 & done; wait; echo ten-ok";
    let mut results = Vec::new();
    for (runtime, name) in [(SNARE, "cg-pids")]
        .into_iter()
        .chain(runc().map(|r| (r, "cg-pids-runc")))
    {
        let c = Case::new(
            name,
            &["sh", "-c", script],
            limits(name, serde_json::json!({"pids": {"limit": 20}})),
        );
        results.push(run_with(runtime, &c, name));
    }
    for (code, out) in &results {
        assert_eq!(*code, Some(0), "{results:?}");
        let started: i32 = out
            .lines()
            .find_map(|l| l.strip_prefix("started="))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{out}"));
        // 20 tasks: the shell, the command substitution's, the pipeline's subshell, wc and
        // 16 sleeps (runc: 15 or 16, as a zombie of `seq` is reaped or not yet).
        assert!((15..=16).contains(&started), "{results:?}");
        assert!(out.ends_with("ten-ok\n"), "{results:?}");
    }
}

/// Waits until `c`'s stdout has more lines than `n`.
fn wait_lines(c: &Case, n: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = c.stdout().lines().count();
        if now > n {
            return now;
        }
        assert!(Instant::now() < deadline, "no new output past {n} lines");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// pause, state, resume, then what a paused container refuses and what still works, with
/// a cgroup (the freezer) or without one (SIGSTOP to its host processes).
fn pause_resume(name: &str, with_cgroup: bool) {
    let counter = "i=0; while true; do echo $i; i=$((i+1)); sleep 0.05; done";
    let edit = limits(name, serde_json::json!({}));
    let c = Case::new(name, &["sh", "-c", counter], |config| {
        if with_cgroup {
            edit(config);
        }
    });
    let (code, err) = c.create(name);
    assert_eq!(code, 0, "create: {err}");
    let pid = c.pid_file();
    // A created container can be paused too; start is then refused in runc's words.
    assert!(c.snare(&["pause", name]).status.success());
    assert_eq!(c.status(name), "paused");
    let out = c.snare(&["start", name]);
    assert_eq!(
        text(&out.stderr).trim(),
        "snare: cannot start a container in the paused state"
    );
    assert!(c.snare(&["resume", name]).status.success());
    assert_eq!(c.status(name), "created");
    assert!(c.snare(&["start", name]).status.success());
    let n = wait_lines(&c, 3);
    let out = c.snare(&["pause", name]);
    assert!(out.status.success(), "pause: {}", text(&out.stderr));
    assert_eq!(c.status(name), "paused");
    if with_cgroup {
        assert_eq!(cg_read("freezer", name, "freezer.state"), "FROZEN");
    }
    // Frozen: nothing more is printed.
    let at_pause = c.stdout().lines().count();
    std::thread::sleep(Duration::from_millis(600));
    assert!(
        c.stdout().lines().count() <= at_pause + 1,
        "it went on printing while paused"
    );
    let again = c.snare(&["pause", name]);
    assert_eq!(text(&again.stderr).trim(), "snare: container not running");
    // exec is refused in runc's words (unless --ignore-paused).
    let exec = c.snare(&["exec", name, "true"]);
    assert!(!exec.status.success());
    assert_eq!(
        text(&exec.stderr).trim(),
        "snare: exec failed: cannot exec in a paused container (use --ignore-paused to override)"
    );
    let del = c.snare(&["delete", name]);
    assert_eq!(
        text(&del.stderr).trim(),
        format!("snare: cannot delete container {name} that is not stopped: paused")
    );
    let out = c.snare(&["resume", name]);
    assert!(out.status.success(), "resume: {}", text(&out.stderr));
    assert_eq!(c.status(name), "running");
    wait_lines(&c, c.stdout().lines().count().max(n) + 3);
    let not = c.snare(&["resume", name]);
    assert_eq!(text(&not.stderr).trim(), "snare: container not paused");
    // kill -9 of a paused container ends it (it is thawed to die).
    assert!(c.snare(&["pause", name]).status.success());
    let host = tree(pid);
    let out = c.snare(&["kill", name, "9"]);
    assert!(out.status.success(), "kill: {}", text(&out.stderr));
    assert_eq!(reap(pid), 137);
    assert!(c.snare(&["delete", name]).status.success());
    std::thread::sleep(Duration::from_millis(100));
    for p in host {
        assert!(!alive(p), "pid {p} is still there");
    }
    assert!(!cg("freezer", name).exists());
    assert!(c.containers().is_empty());
    // delete --force of a paused one leaves nothing either.
    let (code, err) = c.create(name);
    assert_eq!(code, 0, "create: {err}");
    let pid = c.pid_file();
    assert!(c.snare(&["start", name]).status.success());
    wait_lines(&c, 1);
    assert!(c.snare(&["pause", name]).status.success());
    let host = tree(pid);
    let out = c.snare(&["delete", "--force", name]);
    assert!(
        out.status.success(),
        "delete --force: {}",
        text(&out.stderr)
    );
    assert_eq!(reap(pid), 137);
    std::thread::sleep(Duration::from_millis(100));
    for p in host {
        assert!(!alive(p), "pid {p} is still there");
    }
    for h in HIERARCHIES {
        assert!(!cg(h, name).exists(), "{h}: the cgroup is still there");
    }
    assert!(c.containers().is_empty());
}

#[test]
fn pause_and_resume_with_the_freezer() {
    if cgroups_usable() {
        pause_resume("cg-pause", true);
    }
}

#[test]
fn pause_and_resume_by_signals_without_a_cgroup() {
    subreaper();
    pause_resume("cg-pause-sig", false);
}

/// `update --resources -` with `json` on stdin.
fn update(c: &Case, id: &str, json: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(SNARE)
        .arg("--root")
        .arg(&c.root)
        .args(["update", "--resources", "-", id])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run snare update");
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(json.as_bytes());
    }
    child.wait_with_output().expect("update")
}

/// Waits (up to `secs`) for `want` in `c`'s stdout.
fn wait_for(c: &Case, want: &str, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !c.stdout().contains(want) {
        assert!(
            Instant::now() < deadline,
            "no {want:?} in the output: {}",
            c.stdout()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn update_raises_the_sandbox_limits() {
    if !cgroups_usable() {
        return;
    }
    let name = "cg-update";
    // Rounds of 8 sleeps until all 8 start (a limit of 6 tasks leaves room for 2), then
    // rounds of a 40 MiB string in a child shell until it fits (32 MiB: the child is
    // killed).
    let script = "while true; do n=$( (for i in 1 2 3 4 5 6 7 8; do sleep 1 & echo s; done) \
                  2>/dev/null | wc -l); echo round=$n; [ $n = 8 ] && break; sleep 0.3; done; \
                  while true; do if sh -c 'x=$(head -c 40m /dev/zero | tr \"\\0\" x); echo ${#x}'; \
                  then echo mem-ok; break; fi; echo mem-fail; sleep 0.3; done";
    let c = Case::new(
        name,
        &["sh", "-c", script],
        limits(
            name,
            serde_json::json!({"pids": {"limit": 6}, "memory": {"limit": 33554432}}),
        ),
    );
    let (code, err) = c.create(name);
    assert_eq!(code, 0, "create: {err}");
    let pid = c.pid_file();
    assert!(c.snare(&["start", name]).status.success());
    wait_for(&c, "round=2\nround=2\n", 20);
    let out = update(&c, name, r#"{"pids":{"limit":50}}"#);
    assert!(out.status.success(), "update: {}", text(&out.stderr));
    assert_eq!(cg_read("pids", name, "pids.max"), "328");
    wait_for(&c, "round=8\n", 20);
    wait_for(&c, "mem-fail\n", 30);
    assert!(!c.stdout().contains("mem-ok"));
    // Docker's own input (`docker update --memory 128m --pids-limit 100 --cpus 1`).
    let docker = r#"{"memory":{"limit":134217728,"reservation":0,"swap":268435456,"kernel":0},"cpu":{"shares":0,"quota":100000,"period":100000},"pids":{"limit":100},"blockIO":{"weight":0}}"#;
    let out = update(&c, name, docker);
    assert!(out.status.success(), "update: {}", text(&out.stderr));
    let mem = 128u64 << 20;
    assert_eq!(
        cg_read("memory", name, "memory.limit_in_bytes"),
        (mem + (64 << 20) + mem / 8).to_string()
    );
    assert_eq!(cg_read("cpu", name, "cpu.cfs_quota_us"), "100000");
    wait_for(&c, "41943040\nmem-ok\n", 30);
    assert_eq!(reap(pid), 0);
    // Stopped: runc's words.
    let out = update(&c, name, r#"{"pids":{"limit":10}}"#);
    assert_eq!(text(&out.stderr).trim(), "snare: container not running");
    assert!(c.snare(&["delete", name]).status.success());
    assert!(!cg("memory", name).exists());
}

#[test]
fn hostile_update_input() {
    let c = Case::new("cg-hostile-update", &["sleep", "30"], |_| {});
    let (code, err) = c.create("hu");
    assert_eq!(code, 0, "create: {err}");
    let pid = c.pid_file();
    for (json, why) in [
        ("{bad", "key must be a string"),
        ("", "EOF"),
        ("[1,2]", "invalid type"),
        (
            r#"{"memory":{"limit":-5}}"#,
            "memory.limit: invalid value -5",
        ),
        (r#"{"pids":{"limit":-3}}"#, "pids.limit: invalid value -3"),
        (r#"{"cpu":{"period":10}}"#, "cpu.period: invalid value 10"),
        (r#"{"cpu":{"cpus":"0;reboot"}}"#, "cpu.cpus: invalid list"),
        (
            r#"{"memory":{"limit":99999999999999999999999}}"#,
            "expected i64",
        ),
    ] {
        let out = update(&c, "hu", json);
        assert_eq!(out.status.code(), Some(1), "{json}");
        let err = text(&out.stderr);
        assert!(
            err.contains(why) && err.lines().count() == 1,
            "{json}: {err}"
        );
    }
    let big = format!("{{\"x\":\"{}\"}}", "a".repeat(2 << 20));
    let out = update(&c, "hu", &big);
    assert!(text(&out.stderr).contains("larger than 1 MiB"));
    let out = c.snare(&["update", "hu"]);
    assert!(text(&out.stderr).contains("--resources"));
    let out = update(&c, "nope", r#"{}"#);
    assert!(text(&out.stderr).contains("does not exist"));
    assert!(c.snare(&["delete", "--force", "hu"]).status.success());
    assert_eq!(reap(pid), 137);
}

#[test]
fn hostile_cgroups_paths() {
    if !cgroups_usable() {
        return;
    }
    // `..` stops at the hierarchy's root: the cgroup is /snaretest/cg-dots-PID.
    let c = Case::new("cg-dots", &["true"], |config| {
        config["linux"]["cgroupsPath"] =
            serde_json::json!(format!("/../../../snaretest/./{}", unique("cg-dots")));
    });
    let (code, err) = c.create("dots");
    assert_eq!(code, 0, "create: {err}");
    let pid = c.pid_file();
    assert!(cg("memory", "cg-dots").exists());
    assert!(cg_read("memory", "cg-dots", "cgroup.procs").contains(&pid.to_string()));
    assert!(c.snare(&["delete", "--force", "dots"]).status.success());
    assert_eq!(reap(pid), 137);
    assert!(!cg("memory", "cg-dots").exists());
    // A systemd-style path: where runc's systemd driver puts the scope.
    let c = Case::new("cg-systemd", &["true"], |config| {
        config["linux"]["cgroupsPath"] =
            serde_json::json!(format!("snaretest.slice:cg:{}", unique("sd")));
    });
    let (code, err) = c.create("sd");
    assert_eq!(code, 0, "create: {err}");
    let pid = c.pid_file();
    let scope = Path::new("/sys/fs/cgroup/memory/snaretest.slice")
        .join(format!("cg-{}.scope", unique("sd")));
    assert!(std::fs::read_to_string(scope.join("cgroup.procs"))
        .unwrap_or_default()
        .contains(&pid.to_string()));
    assert!(c.snare(&["delete", "--force", "sd"]).status.success());
    assert_eq!(reap(pid), 137);
    assert!(!scope.exists());
    for h in std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        let _ = std::fs::remove_dir(h.path().join("snaretest.slice"));
    }
    // Refused at create, nothing left: the root cgroup, a NUL, a name over 255 bytes, a
    // path over 4096, a path through a control file.
    let long_name = format!("/snaretest/{}", "n".repeat(300));
    let long_path = "/snaretest/a".repeat(400);
    for (path, why) in [
        ("/", "root cgroup"),
        ("/a/../..", "root cgroup"),
        ("/snaretest/a\u{0}b", "not a cgroup path"),
        (long_name.as_str(), "longer than 255"),
        (long_path.as_str(), "not a cgroup path"),
        ("/cgroup.procs/x", "cgroup"),
    ] {
        let c = Case::new("cg-bad", &["true"], |config| {
            config["linux"]["cgroupsPath"] = serde_json::json!(path);
        });
        let (code, err) = c.create("bad");
        assert_eq!(code, 1, "{path:?}");
        assert!(err.contains(why), "{path:?}: {err}");
        assert!(c.containers().is_empty(), "{path:?}: state left");
        assert!(!c.dir.join("init.pid").exists());
    }
    // Another container's cgroup (it has processes): refused, and that one is untouched.
    let a = Case::new(
        "cg-busy",
        &["sleep", "30"],
        limits("cg-busy", serde_json::json!({})),
    );
    let (code, err) = a.create("busy-a");
    assert_eq!(code, 0, "create: {err}");
    let pid = a.pid_file();
    let limit = cg_read("memory", "cg-busy", "memory.limit_in_bytes");
    let b = Case::new(
        "cg-busy-b",
        &["true"],
        limits(
            "cg-busy",
            serde_json::json!({"memory": {"limit": 16777216}}),
        ),
    );
    let (code, err) = b.create("busy-b");
    assert_eq!(code, 1);
    assert!(err.contains("is not empty"), "{err}");
    assert!(b.containers().is_empty());
    assert!(alive(pid));
    assert_eq!(cg_read("memory", "cg-busy", "memory.limit_in_bytes"), limit);
    assert!(a.snare(&["delete", "--force", "busy-a"]).status.success());
    assert_eq!(reap(pid), 137);
    assert!(!cg("memory", "cg-busy").exists());
    // Resources the kernel or runc refuse, at create.
    for (resources, why) in [
        (
            serde_json::json!({"memory": {"limit": -7}}),
            "invalid value",
        ),
        (
            serde_json::json!({"cpu": {"shares": 999999999}}),
            "cpu.shares",
        ),
        (serde_json::json!({"pids": {"limit": -9}}), "pids.limit"),
    ] {
        let c = Case::new("cg-bad-res", &["true"], limits("cg-bad-res", resources));
        let (code, err) = c.create("badres");
        assert_eq!(code, 1);
        assert!(err.contains(why), "{err}");
        assert!(c.containers().is_empty());
        assert!(!cg("memory", "cg-bad-res").exists());
    }
}

#[test]
fn delete_force_of_a_half_made_container_removes_its_cgroup() {
    if !cgroups_usable() {
        return;
    }
    let name = "cg-half";
    let c = Case::new(name, &["sleep", "30"], limits(name, serde_json::json!({})));
    let (code, err) = c.create(name);
    assert_eq!(code, 0, "create: {err}");
    let pid = c.pid_file();
    let host = tree(pid);
    // As if create had died before saving the state: only the cgroup's record is left.
    std::fs::remove_file(c.root.join(name).join("state.json")).expect("rm state.json");
    let out = c.snare(&["delete", name]);
    assert!(!out.status.success());
    let out = c.snare(&["delete", "--force", name]);
    assert!(
        out.status.success(),
        "delete --force: {}",
        text(&out.stderr)
    );
    // What was in the cgroup is killed, the cgroup and the state are gone.
    assert_eq!(reap(pid), 137);
    std::thread::sleep(Duration::from_millis(100));
    for p in host {
        assert!(!alive(p), "pid {p} is still there");
    }
    for h in HIERARCHIES {
        assert!(!cg(h, name).exists(), "{h}: the cgroup is still there");
    }
    assert!(c.containers().is_empty());
}

#[test]
fn update_lowers_and_lifts_the_pids_limit() {
    if !cgroups_usable() {
        return;
    }
    let name = "cg-lower";
    let script = "while true; do n=$( (for i in 1 2 3 4 5 6 7 8; do sleep 1 & echo s; done) \
                  2>/dev/null | wc -l); echo round=$n; sleep 0.2; done";
    let c = Case::new(
        name,
        &["sh", "-c", script],
        limits(name, serde_json::json!({})),
    );
    let (code, err) = c.create(name);
    assert_eq!(code, 0, "create: {err}");
    let pid = c.pid_file();
    assert!(c.snare(&["start", name]).status.success());
    wait_for(&c, "round=8\n", 20);
    // Lowered: seen at the next fork.
    let out = update(&c, name, r#"{"pids":{"limit":6}}"#);
    assert!(out.status.success(), "update: {}", text(&out.stderr));
    wait_for(&c, "round=2\n", 20);
    // Lifted (-1): no limit again, in the sandbox and on the host.
    let out = update(&c, name, r#"{"pids":{"limit":-1}}"#);
    assert!(out.status.success(), "update: {}", text(&out.stderr));
    assert_eq!(cg_read("pids", name, "pids.max"), "max");
    let seen = c.stdout().len();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !c.stdout()[seen..].contains("round=8\n") {
        assert!(
            Instant::now() < deadline,
            "the limit stayed: {}",
            c.stdout()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(c.snare(&["delete", "--force", name]).status.success());
    assert_eq!(reap(pid), 137);
    assert!(!cg("pids", name).exists());
}
