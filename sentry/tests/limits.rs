//! Resource limits: `snare do --memory`, the OOM killer, mmap overcommit, tmpfs size and
//! inode limits, and the cost of deep path walks. The guests are self-checking C programs
//! (`tests/guests/limits_*.c`) that print what they saw and exit non-zero on a failed check.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;

/// Runs `prog args` under `snare do --memory memory`.
fn snare_mem(memory: &str, prog: &Path, args: &[&str]) -> Output {
    Command::new(SNARE)
        .args(["do", "--memory", memory, "--"])
        .arg(prog)
        .args(args)
        .output()
        .expect("run snare")
}

fn show(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn assert_ok(o: &Output) {
    assert!(o.status.success(), "{}", show(o));
}

/// A child touching 1 GiB under a 256 MiB limit is killed (SIGKILL) and its parent goes on.
#[test]
fn oom_kills_the_largest_process() {
    let prog = build("limits_oom", true);
    let o = snare_mem("256M", &prog, &["oom"]);
    assert_ok(&o);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("child: signaled 1 sig 9"), "{}", show(&o));
    assert!(out.contains("parent: touched 16 MiB"), "{}", show(&o));
}

/// A 1 TiB committed mapping fails with ENOMEM; reservations don't count.
#[test]
fn mmap_beyond_the_limit_fails() {
    let prog = build("limits_oom", true);
    let n = native(&prog, &["mmap"]);
    assert!(n.status.success(), "natively: {}", show(&n));
    assert_ok(&snare_mem("1G", &prog, &["mmap"]));
}

/// Bad `--memory` values are usage errors (exit 2).
#[test]
fn bad_memory_flag() {
    for bad in ["lots", "1X", "1K", "-5M", ""] {
        let o = Command::new(SNARE)
            .args(["do", "--memory", bad, "--", "/bin/true"])
            .output()
            .expect("run snare");
        assert_eq!(o.status.code(), Some(2), "--memory {bad:?}: {}", show(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("--memory"),
            "{}",
            show(&o)
        );
    }
}
