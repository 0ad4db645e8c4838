//! The Sentry's own confinement (issue 14): its seccomp allowlist is on by default, kills the
//! whole sandbox when the Sentry itself makes a call off the list, and leaves guests' calls
//! alone (they are the Sentry's to answer, never the host's). The forbidden calls are made
//! through the test build's hook (`SNARE_TEST_FORBIDDEN`, feature `test-hooks`): a Sentry
//! thread started before the filter makes the call just after it is installed.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn show(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `snare do /bin/true` whose Sentry makes host call `call` once confined: the kernel must
/// kill it with SIGSYS (`SECCOMP_RET_KILL_PROCESS`); the launcher says so and exits with
/// 128 + SIGSYS.
fn killed_by(call: &str) {
    let o = Command::new(SNARE)
        .args(["do", "--", "/bin/true"])
        .env("SNARE_TEST_FORBIDDEN", call)
        .output()
        .expect("run snare");
    assert_eq!(
        o.status.code(),
        Some(128 + libc::SIGSYS),
        "{call}: the Sentry must die of SIGSYS\n{}",
        show(&o)
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("killed by signal 31"),
        "{}",
        show(&o)
    );
    // Without the filter the same hook runs and the sandbox goes on (so the death above was
    // the filter's): the call fails or, for execve, replaces snare with /bin/true.
    let o = Command::new(SNARE)
        .args(["do", "--no-confine", "--", "/bin/true"])
        .env("SNARE_TEST_FORBIDDEN", call)
        .output()
        .expect("run snare");
    assert_eq!(o.status.code(), Some(0), "{call} unconfined\n{}", show(&o));
}

#[test]
fn execve_kills_the_sentry() {
    killed_by("execve");
}

#[test]
fn ptrace_kills_the_sentry() {
    killed_by("ptrace");
}

#[test]
fn open_by_path_kills_the_sentry() {
    killed_by("open-shadow");
}

/// A socket of a family no network mode needs (AF_PACKET: raw frames of every interface)
/// kills the Sentry. AF_INET and AF_INET6 are on its list, for the guest's TCP, UDP and UDP-Lite
/// sockets even under `--network none` (loopback in the sandbox's own namespace): there the
/// network namespace, not seccomp, keeps them away from the host's network.
#[test]
fn packet_socket_kills_the_sentry() {
    killed_by("socket-packet");
}

#[test]
fn mount_kills_the_sentry() {
    killed_by("mount");
}

/// The Sentry of a `snare do` started as `child`: confined, the launcher's one child (in its
/// own namespaces); unconfined, `child` itself. `None` until it is there.
fn sentry_of(child: &std::process::Child, confined: bool) -> Option<u32> {
    if !confined {
        return Some(child.id());
    }
    let kids = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", child.id())).ok()?;
    kids.split_whitespace().next()?.parse().ok()
}

/// Waits (5 s at most) for [`sentry_of`].
fn wait_sentry(child: &std::process::Child, confined: bool) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(p) = sentry_of(child, confined) {
            return p;
        }
        assert!(Instant::now() < deadline, "no Sentry");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Starts `cmd` (`snare do … -- /bin/sleep N`, or a wrapper that execs one) and waits (5 s at
/// most) until its Sentry is confined (set-up ends with the seccomp filter): the launcher,
/// the Sentry's pid, and its `/proc/PID/status` then.
fn start_confined(mut cmd: Command) -> (std::process::Child, u32, String) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run snare");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Some(sentry) = sentry_of(&child, true) {
            last = std::fs::read_to_string(format!("/proc/{sentry}/status")).unwrap_or_default();
            if status_field(&last, "Seccomp").as_deref() == Some("2") {
                return (child, sentry, last);
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("never confined:\n{last}");
}

/// `snare do ARGS -- /bin/sleep 5`.
fn sleeper(args: &[&str]) -> Command {
    let mut c = Command::new(SNARE);
    c.arg("do").args(args).args(["--", "/bin/sleep", "5"]);
    c
}

/// The `Key:\tvalue` fields of `/proc/PID/status`.
fn status_field(status: &str, key: &str) -> Option<String> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map(|v| v.trim().to_owned())
}

/// Seen from outside while a guest sleeps, the Sentry is filtered (mode 2), has no new
/// privileges and is not dumpable; with `--no-confine` none of it.
#[test]
fn proc_status_shows_the_confinement() {
    for (flags, seccomp, nnp) in [(&[][..], "2", "1"), (&["--no-confine"][..], "0", "0")] {
        let mut child = Command::new(SNARE)
            .arg("do")
            .args(flags)
            .args(["--", "/bin/sleep", "5"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run snare");
        let path = format!("/proc/{}/status", wait_sentry(&child, seccomp == "2"));
        // The filter goes on before the guest's image is read; give start-up a moment.
        let deadline = Instant::now() + Duration::from_secs(5);
        let status = loop {
            let s = std::fs::read_to_string(&path).expect("read status");
            let on = status_field(&s, "Seccomp").as_deref() == Some("2");
            if on == (seccomp == "2") && s.contains("Threads:") {
                // A started sandbox has its task thread.
                let threads: u32 = status_field(&s, "Threads")
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(0);
                if threads > 2 || Instant::now() > deadline {
                    break s;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{flags:?}: status never right:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(
            status_field(&status, "Seccomp").as_deref(),
            Some(seccomp),
            "{flags:?}\n{status}"
        );
        assert_eq!(
            status_field(&status, "NoNewPrivs").as_deref(),
            Some(nnp),
            "{flags:?}\n{status}"
        );
        if seccomp == "2" {
            // One filter, on every thread (TSYNC).
            assert_eq!(
                status_field(&status, "Seccomp_filters").as_deref(),
                Some("1")
            );
        }
    }
}

/// Guests make the calls the Sentry may not: each reaches the Sentry as a trap and gets its
/// answer, and the sandbox lives on (stubs don't inherit the Sentry's filter, and the
/// stricter of stacked filters would otherwise win).
#[test]
fn guests_still_get_answers_for_forbidden_calls() {
    c_program("host_calls", &[]);
}

/// Host administration a container is refused (modules, swap, reboot, kexec, the keyring,
/// BPF, …) answers EPERM, as a container's process gets it, not ENOSYS (`refused.c`; under
/// snare only: natively, as root, some of these calls would act on the host).
#[test]
fn refused_calls_answer_eperm() {
    let guest = build("refused", true);
    let o = Command::new(SNARE)
        .args(["do", "--"])
        .arg(&guest)
        .output()
        .expect("run snare");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "24 refused calls answered EPERM, 0 did not\n",
        "{}",
        show(&o)
    );
    assert!(o.status.success());
}

#[test]
fn seccomp_rules_prints_the_table() {
    let o = Command::new(SNARE)
        .arg("seccomp-rules")
        .output()
        .expect("run snare");
    assert!(o.status.success(), "{}", show(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    let rows: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(
        rows.len() > 30 && rows.len() < 80,
        "{} rules\n{text}",
        rows.len()
    );
    for name in ["futex", "mmap", "openat2", "clone3"] {
        assert!(
            rows.iter()
                .any(|r| r.split_whitespace().nth(1) == Some(name)),
            "{name} missing\n{text}"
        );
    }
    // socket is listed with its arguments: AF_INET/AF_INET6 TCP, UDP and UDP-Lite only.
    let socket = rows
        .iter()
        .find(|r| r.split_whitespace().nth(1) == Some("socket"))
        .expect("socket listed");
    assert!(
        socket.contains("AF_INET6") && !socket.contains("AF_PACKET"),
        "{socket}"
    );
    for name in ["execve", "ptrace", "socketpair", "mount", "open"] {
        assert!(
            !rows
                .iter()
                .any(|r| r.split_whitespace().nth(1) == Some(name)),
            "{name} listed\n{text}"
        );
    }
}

#[test]
fn no_confine_warns() {
    let o = Command::new(SNARE)
        .args(["do", "--no-confine", "--", "/bin/true"])
        .output()
        .expect("run snare");
    assert!(o.status.success(), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--no-confine"),
        "{}",
        show(&o)
    );
}

/// The fds through which the Sentry reads the host root lead to a read-only copy of the
/// host's mounts: opened from outside through `/proc/PID/fd/N`, a file under the root can't
/// be written (`EROFS`); with `--no-confine` the root is the plain one. A `:ro` volume is
/// read-only the same way, confined or not.
#[test]
fn the_host_root_is_held_read_only() {
    let d = scratch().join("ro-root");
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    let f = d.join("f");
    std::fs::write(&f, "host\n").expect("file");
    let vol = format!("{}:/vol:ro", d.display());
    for (flags, writable) in [(&[][..], false), (&["--no-confine"][..], true)] {
        let mut child = Command::new(SNARE)
            .arg("do")
            .args(flags)
            .args(["--volume", &vol, "--", "/bin/sleep", "5"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run snare");
        let fds = format!("/proc/{}/fd", wait_sentry(&child, !writable));
        let deadline = Instant::now() + Duration::from_secs(5);
        // Every path to `f` through the Sentry's fds, once the root and the volume are open:
        // under a root fd by its whole path, under the volume's as `f`. (A read-only copy's
        // fd reads as "/" whatever it copies, and a volume's copy may hold the whole tree:
        // so every candidate is tried, not the first.)
        let rel = f.strip_prefix("/").expect("absolute");
        let (roots, vols) = loop {
            let links: Vec<_> = std::fs::read_dir(&fds)
                .map(|r| r.flatten().map(|e| e.path()).collect())
                .unwrap_or_default();
            let under = |p: &dyn Fn(&Path) -> std::path::PathBuf| -> Vec<std::path::PathBuf> {
                links
                    .iter()
                    .map(|l| p(l))
                    .filter(|q| std::fs::read_to_string(q).is_ok_and(|c| c == "host\n"))
                    .collect()
            };
            let (roots, vols) = (under(&|l| l.join(rel)), under(&|l| l.join("f")));
            if !roots.is_empty() && !vols.is_empty() {
                break (roots, vols);
            }
            assert!(Instant::now() < deadline, "{flags:?}: no root or volume fd");
            std::thread::sleep(Duration::from_millis(20));
        };
        let write = |p: &Path| {
            std::fs::OpenOptions::new()
                .append(true)
                .open(p)
                .map(|_| ())
                .map_err(|e| e.raw_os_error())
        };
        let root_writes: Vec<_> = roots.iter().map(|p| write(p)).collect();
        let vol_writes: Vec<_> = vols.iter().map(|p| write(p)).collect();
        let _ = child.kill();
        let _ = child.wait();
        if writable {
            // Unconfined, the plain root is among them.
            assert!(
                root_writes.iter().any(Result::is_ok),
                "{flags:?}: {root_writes:?}"
            );
        } else {
            // Confined, no way to the host's file is writable.
            assert!(
                root_writes.iter().all(|w| *w == Err(Some(libc::EROFS))),
                "{flags:?}: {root_writes:?}"
            );
        }
        assert!(
            vol_writes.iter().all(|w| *w == Err(Some(libc::EROFS))),
            "{flags:?}: {vol_writes:?}"
        );
    }
    assert_eq!(std::fs::read_to_string(&f).expect("file"), "host\n");
}

/// The stub processes, where guest code runs, hold no capability at all (none in the
/// bounding set either) and can't gain privileges, confined or not.
#[test]
fn stubs_keep_no_capabilities() {
    let mut child = Command::new(SNARE)
        .args(["do", "--", "/bin/sleep", "5"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run snare");
    let sentry = wait_sentry(&child, true);
    let deadline = Instant::now() + Duration::from_secs(5);
    // The Sentry's children are its stubs (the source and the guest's).
    let stubs = loop {
        let tasks = format!("/proc/{sentry}/task");
        let kids: Vec<String> = std::fs::read_dir(&tasks)
            .map(|r| r.flatten().collect::<Vec<_>>())
            .unwrap_or_default()
            .iter()
            .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
            .flat_map(|c| c.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .collect();
        if kids.len() >= 2 {
            break kids;
        }
        assert!(Instant::now() < deadline, "no stubs: {kids:?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let statuses: Vec<String> = stubs
        .iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/status")).ok())
        .collect();
    let _ = child.kill();
    let _ = child.wait();
    assert!(statuses.len() >= 2, "{stubs:?}");
    for s in &statuses {
        for key in ["CapPrm", "CapEff", "CapBnd", "CapAmb", "CapInh"] {
            assert_eq!(
                status_field(s, key).as_deref(),
                Some("0000000000000000"),
                "{key}\n{s}"
            );
        }
        assert_eq!(status_field(s, "NoNewPrivs").as_deref(), Some("1"), "{s}");
    }
}

/// Seen from outside, the confined Sentry (item 6 of issue 14): pid 1 of its own pid
/// namespace, in user, mount, ipc, uts and network namespaces other than ours, running as
/// `nobody` (65534) with only the file capabilities it documents (`isolate::KEPT_CAPS`, in
/// its own user namespace) and an empty bounding set; its root is an empty directory; the
/// `/proc` it holds is its own pid namespace's (pid 1 there is the Sentry, not the host's
/// init).
#[test]
fn the_sentry_is_isolated() {
    let (mut child, sentry, status) = start_confined(sleeper(&[]));
    let dir = format!("/proc/{sentry}");
    let launcher = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .expect("the launcher's status");
    let namespaces: Vec<(String, bool)> = ["user", "mnt", "pid", "ipc", "uts", "net"]
        .iter()
        .map(|ns| {
            let theirs = std::fs::read_link(format!("{dir}/ns/{ns}")).ok();
            let ours = std::fs::read_link(format!("/proc/self/ns/{ns}")).ok();
            (ns.to_string(), theirs.is_some() && theirs != ours)
        })
        .collect();
    let root: Vec<_> = std::fs::read_dir(format!("{dir}/root/"))
        .expect("read the Sentry's root")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    let fds: Vec<_> = std::fs::read_dir(format!("{dir}/fd"))
        .expect("fds")
        .flatten()
        .map(|e| e.path())
        .collect();
    let procs: Vec<String> = fds
        .iter()
        .filter_map(|fd| std::fs::read_to_string(fd.join("1/status")).ok())
        .collect();
    let limits = std::fs::read_to_string(format!("{dir}/limits")).unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    for (ns, differs) in &namespaces {
        assert!(differs, "{ns} namespace shared with the caller");
    }
    assert!(root.is_empty(), "the Sentry's root shows {root:?}");
    assert_eq!(
        status_field(&status, "NSpid").and_then(|v| v.split_whitespace().last().map(String::from)),
        Some("1".into()),
        "{status}"
    );
    let ids = |key| {
        status_field(&status, key)
            .map(|v| v.split_whitespace().map(String::from).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    assert_eq!(ids("Uid"), vec!["65534"; 4], "{status}");
    assert_eq!(ids("Gid"), vec!["65534"; 4], "{status}");
    let want = format!("{:016x}", snare_platform::isolate::KEPT_CAPS);
    assert_eq!(status_field(&status, "CapEff"), Some(want.clone()));
    assert_eq!(status_field(&status, "CapPrm"), Some(want));
    for key in ["CapBnd", "CapAmb", "CapInh"] {
        assert_eq!(
            status_field(&status, key).as_deref(),
            Some("0000000000000000"),
            "{key}\n{status}"
        );
    }
    // The launcher, which only waits, keeps nothing of root either.
    assert_eq!(
        status_field(&launcher, "Uid").as_deref(),
        Some("65534\t65534\t65534\t65534")
    );
    assert_eq!(
        status_field(&launcher, "CapEff").as_deref(),
        Some("0000000000000000")
    );
    assert_eq!(status_field(&launcher, "NoNewPrivs").as_deref(), Some("1"));
    // The limits confinement sets (`sandbox::LIMITS`).
    for name in [
        "Max core file size",
        "Max locked memory",
        "Max msgqueue size",
    ] {
        let line = limits
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_default();
        let values: Vec<&str> = line[name.len()..].split_whitespace().take(2).collect();
        assert_eq!(values, ["0", "0"], "{name}\n{limits}");
    }
    assert!(!procs.is_empty(), "no held /proc among {fds:?}");
    // `--network host`: the host's network namespace (the others stay new).
    let (mut child, sentry, _) = start_confined(sleeper(&["--network", "host"]));
    let ns = |n: &str| std::fs::read_link(format!("/proc/{sentry}/ns/{n}")).ok();
    let (net, mnt) = (ns("net"), ns("mnt"));
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(net, std::fs::read_link("/proc/self/ns/net").ok());
    assert_ne!(mnt, std::fs::read_link("/proc/self/ns/mnt").ok());
    for p in &procs {
        assert_eq!(status_field(p, "Name").as_deref(), Some("snare"), "{p}");
    }
}

/// `cmd` as the unprivileged user `nobody` (65534), through `setpriv`.
fn as_nobody(program: &str) -> Command {
    let mut c = Command::new("setpriv");
    c.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--",
        program,
    ]);
    c
}

/// Rootless (issue 14 item 4): `snare do` started by an ordinary user, with no privilege at
/// all, runs real programs as they run natively for that user: shell, python3 (sqlite3 in
/// its /tmp), gcc compiling into a volume the user owns and the program it built. The
/// Sentry is the user's own host uid, root only in its user namespace.
#[test]
fn rootless_runs_real_programs() {
    if !Path::new("/usr/bin/setpriv").exists() {
        eprintln!("no setpriv: skipped");
        return;
    }
    let d = scratch().join("rootless");
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    std::fs::write(
        d.join("hello.c"),
        "#include <stdio.h>\nint main(void){long s=0;for(int i=0;i<1000;i++)s+=i;printf(\"%ld\\n\",s);return 0;}\n",
    )
    .expect("source");
    std::os::unix::fs::chown(&d, Some(65534), Some(65534)).expect("chown");
    std::os::unix::fs::chown(d.join("hello.c"), Some(65534), Some(65534)).expect("chown");
    let dir = d.to_str().expect("utf-8");
    let vol = format!("{dir}:/work");
    let sqlite = "import sqlite3,tempfile,os\nd=tempfile.mkdtemp()\nc=sqlite3.connect(os.path.join(d,'t.db'))\nc.execute('create table t(x)')\nc.executemany('insert into t values(?)',[(i,) for i in range(500)])\nprint(c.execute('select sum(x) from t').fetchone())";
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["/bin/sh", "-c", "echo $((6 * 7)); cd /usr && pwd"], ""),
        (
            vec![
                "/usr/bin/python3",
                "-c",
                "import hashlib;print(hashlib.sha256(b'x'*99999).hexdigest())",
            ],
            "",
        ),
        (vec!["/usr/bin/python3", "-c", sqlite], ""),
        (
            vec![
                "/bin/sh",
                "-c",
                "gcc -O1 -o hello hello.c && ./hello && rm hello",
            ],
            "/work",
        ),
    ];
    for (argv, cwd) in &cases {
        let native = as_nobody(argv[0])
            .args(&argv[1..])
            .current_dir(if cwd.is_empty() { "/" } else { dir })
            .output()
            .expect("run natively");
        assert!(native.status.success(), "natively: {}", show(&native));
        let mut c = as_nobody(SNARE);
        c.args(["do", "--volume", &vol]);
        if !cwd.is_empty() {
            c.args(["--cwd", cwd]);
        }
        let under = c.arg("--").args(argv).output().expect("run snare");
        assert_eq!(
            (native.status.code(), &native.stdout),
            (under.status.code(), &under.stdout),
            "{argv:?}\nnative: {}\nsnare: {}",
            show(&native),
            show(&under)
        );
    }
    // Seen from outside: the user's own uid, the documented capabilities in its namespace.
    // (setpriv execs snare in place: the child is the launcher.)
    let mut cmd = as_nobody(SNARE);
    cmd.args(["do", "--", "/bin/sleep", "5"]);
    let (mut child, _, status) = start_confined(cmd);
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        status_field(&status, "Uid").is_some_and(|u| u.split_whitespace().all(|v| v == "65534")),
        "{status}"
    );
    let want = format!("{:016x}", snare_platform::isolate::KEPT_CAPS);
    assert_eq!(status_field(&status, "CapEff"), Some(want), "{status}");
    let _ = std::fs::remove_dir_all(&d);
}

/// The Sentry dies with its launcher (`PR_SET_PDEATHSIG`, set again after its change of
/// ids, which clears it), and its stubs with it (it is their pid namespace's init): a
/// SIGKILL of `snare do` leaves nothing running.
#[test]
fn the_sentry_dies_with_its_launcher() {
    // Once set up (the filter on): the ids have changed by then.
    let mut cmd = Command::new(SNARE);
    cmd.args(["do", "--", "/bin/sleep", "30"]);
    let (mut child, sentry, _) = start_confined(cmd);
    let _ = child.kill();
    let _ = child.wait();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let state = std::fs::read_to_string(format!("/proc/{sentry}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit(')')
                    .next()?
                    .split_whitespace()
                    .next()
                    .map(String::from)
            });
        if state.as_deref().is_none_or(|s| s == "Z" || s == "X") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the Sentry outlived its launcher: {state:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The root's copy of the host's mounts hides the host's `/proc`, `/sys` and `/dev` under
/// empty read-only tmpfs mounts (`mount_tree::mask`): a guest that unmounts its own `/proc`
/// (or `/sys`) finds an empty directory, as in a container, not the host's processes.
#[test]
fn unmounting_proc_shows_nothing_of_the_host() {
    let bb = busybox().expect("busybox-static");
    let o = Command::new(SNARE)
        .args(["do", "--"])
        .arg(&bb)
        .args([
            "sh",
            "-c",
            "umount -l /sys && ls -A /sys | wc -l && umount -l /proc && ls -A /proc | wc -l",
        ])
        .output()
        .expect("run snare");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "0\n0\n", "{}", show(&o));
}

/// `--network PATH` puts the Sentry in the network namespace at PATH (one the test makes
/// with `ip netns add`, as Docker hands the OCI runtime one); a path that is no network
/// namespace is a clear error and status 125, nothing run.
#[test]
fn network_joins_a_namespace_by_path() {
    let name = format!("snare-test-{}", std::process::id());
    let made = Command::new("ip").args(["netns", "add", &name]).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("no `ip netns add`: skipped");
        return;
    }
    let path = format!("/run/netns/{name}");
    let ino = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&path).expect("netns"));
    let (mut child, sentry, _) = start_confined(sleeper(&["--network", &path]));
    let net = std::fs::read_link(format!("/proc/{sentry}/ns/net")).ok();
    let _ = child.kill();
    let _ = child.wait();
    let _ = Command::new("ip").args(["netns", "del", &name]).status();
    assert_eq!(net, Some(format!("net:[{ino}]").into()));
    for bad in ["/etc/passwd", "/nonexistent"] {
        let o = Command::new(SNARE)
            .args(["do", "--network", bad, "--", "/bin/echo", "ran"])
            .output()
            .expect("run snare");
        assert_eq!(o.status.code(), Some(125), "{}", show(&o));
        assert!(o.stdout.is_empty(), "{}", show(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(bad),
            "{}",
            show(&o)
        );
    }
}
