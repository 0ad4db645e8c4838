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

/// Four OOM kills in a row, each of the child that grew, never the parent; then the parent
/// gets all of /tmp at once (the last victim's pages, still being freed when it was reaped,
/// are waited for, not refused with ENOSPC).
#[test]
fn oom_kills_in_a_row() {
    let o = snare_mem("256M", &build("limits_oom_many", true), &[]);
    assert_ok(&o);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "four children killed; /tmp took 128 MiB\n"
    );
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

/// A tmpfs at /tmp (`--tmpfs /tmp`) and /dev/shm under `--memory 64M`: size 32M and 8192
/// inodes, ENOSPC past either, and statfs agreeing; and `--tmpfs` with its own `size=` and
/// `nr_inodes=`.
#[test]
fn tmpfs_size_and_inodes() {
    let prog = build("limits_tmpfs", true);
    let cases: [(&str, &[&str], &str); 3] = [
        (
            "/tmp",
            &["--tmpfs", "/tmp"],
            "blocks 8192 bfree 8192 files 8192 ",
        ),
        ("/dev/shm", &[], "blocks 8192 bfree 8192 files 8192 "),
        (
            "/data",
            &["--tmpfs", "/data:size=1m,nr_inodes=100"],
            "blocks 256 bfree 256 files 100 ",
        ),
    ];
    for (dir, flags, want) in cases {
        let o = Command::new(SNARE)
            .args(["do", "--memory", "64M"])
            .args(flags)
            .arg("--")
            .arg(&prog)
            .arg(dir)
            .output()
            .expect("run snare");
        assert_ok(&o);
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            out.contains(&format!("{dir}: bsize 4096 {want}")),
            "{}",
            show(&o)
        );
    }
}

/// memfd data counts against `--memory` like tmpfs data: ENOSPC before the limit, and the
/// memory comes back when the memfd is closed.
#[test]
fn memfd_counts_against_the_memory_limit() {
    let o = snare_mem("64M", &build("limits_memfd", true), &[]);
    assert_ok(&o);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "first memfd: ENOSPC, more than 16 MiB 1, less than 64 MiB 1\n\
         second memfd after the first is closed: 16 MiB\n",
        "{}",
        show(&o)
    );
}

/// A walk to depth 600, 1000 times, and back up through `..`: correct, and linear in its
/// work (the Sentry logs how many names tmpfs looked up; a walk that starts over from the
/// root at every component would look up depth²/2 names per stat). In /tmp (a tmpfs mount,
/// `--tmpfs`) and in /var/tmp (the overlay root: what the guest makes there lives in its
/// upper layer).
#[test]
fn deep_paths_walk_in_linear_work() {
    let prog = build("limits_deep", true);
    let (depth, reps) = (600u64, 1000u64);
    for dir in ["/tmp", "/var/tmp"] {
        let o = Command::new(SNARE)
            .env("SNARE_LOG", "info")
            .args(["do", "--tmpfs", "/tmp", "--"])
            .arg(&prog)
            .args([depth.to_string(), reps.to_string(), dir.to_string()])
            .output()
            .expect("run snare");
        assert_ok(&o);
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("depth 600: 1000 stats ok"),
            "{dir}: {}",
            show(&o)
        );
        let err = String::from_utf8_lossy(&o.stderr);
        let lookups: u64 = err
            .split("tmpfs_lookups=")
            .nth(1)
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no tmpfs_lookups in the log: {}", show(&o)));
        // Each stat walks the path a few times (the walk, then the stat; in the overlay
        // also the fast path's check and the merge check): allow 8 lookups per component,
        // plus the set-up (a walk starting over at each component would need 300).
        let bound = 8 * depth * reps + 100 * depth;
        assert!(
            lookups < bound,
            "{dir}: {lookups} tmpfs lookups for {reps} stats at depth {depth} (bound {bound})"
        );
    }
}
