//! The Sentry's own confinement (issue 14): its seccomp allowlist is on by default, kills the
//! whole sandbox when the Sentry itself makes a call off the list, and leaves guests' calls
//! alone (they are the Sentry's to answer, never the host's). The forbidden calls are made
//! through the test build's hook (`SNARE_TEST_FORBIDDEN`, feature `test-hooks`): a Sentry
//! thread started before the filter makes the call just after it is installed.

mod common;

use std::os::unix::process::ExitStatusExt;
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
/// kill it with SIGSYS (`SECCOMP_RET_KILL_PROCESS`).
fn killed_by(call: &str) {
    let o = Command::new(SNARE)
        .args(["do", "--", "/bin/true"])
        .env("SNARE_TEST_FORBIDDEN", call)
        .output()
        .expect("run snare");
    assert_eq!(
        o.status.signal(),
        Some(libc::SIGSYS),
        "{call}: the Sentry must die of SIGSYS\n{}",
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

#[test]
fn inet_socket_kills_the_sentry() {
    killed_by("socket-inet");
}

#[test]
fn mount_kills_the_sentry() {
    killed_by("mount");
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
        let path = format!("/proc/{}/status", child.id());
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
        rows.len() > 30 && rows.len() < 70,
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
    for name in ["execve", "ptrace", "socket", "mount", "open"] {
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
        let fds = format!("/proc/{}/fd", child.id());
        let deadline = Instant::now() + Duration::from_secs(5);
        // (the root, the volume) as paths through the Sentry's fds, once both are open:
        // the fd under which `f` is found by its whole path, and the one where it is `f`.
        // (A read-only copy's fd reads as "/" whatever it copies.)
        let rel = f.strip_prefix("/").expect("absolute");
        let held = loop {
            let links: Vec<_> = std::fs::read_dir(&fds)
                .map(|r| r.flatten().map(|e| e.path()).collect())
                .unwrap_or_default();
            let under = |p: &dyn Fn(&Path) -> std::path::PathBuf| {
                links
                    .iter()
                    .map(|l| p(l))
                    .find(|q| std::fs::read_to_string(q).is_ok_and(|c| c == "host\n"))
            };
            if let (Some(root), Some(vol)) = (under(&|l| l.join(rel)), under(&|l| l.join("f"))) {
                break (root, vol);
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
        let root_write = write(&held.0);
        let vol_write = write(&held.1);
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(root_write.is_ok(), writable, "{flags:?}: {root_write:?}");
        if !writable {
            assert_eq!(root_write, Err(Some(libc::EROFS)));
        }
        assert_eq!(vol_write, Err(Some(libc::EROFS)), "{flags:?}");
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
    let deadline = Instant::now() + Duration::from_secs(5);
    // The Sentry's children are its stubs (the source and the guest's).
    let stubs = loop {
        let tasks = format!("/proc/{}/task", child.id());
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
