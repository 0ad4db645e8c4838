//! Hostile guests (issue 12): every word a guest writes is hostile. Nonsense must kill that
//! guest process with Linux's answer, never the Sentry (a Sentry panic exits 125), and every
//! quantity a guest controls is bounded with Linux's errno. The guests in
//! `tests/guests/hostile_*.c` run natively where the comparison means something, and under
//! `snare do`.

mod common;

use std::process::{Command, Output};

use common::*;

fn show(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs `prog` under snare with `env` set.
fn snare_env(prog: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(SNARE)
        .arg("do")
        .arg("--")
        .arg(prog)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run snare")
}

/// Native and snare runs must both succeed with the same output.
fn same_ok(n: &Output, s: &Output) {
    assert!(n.status.success(), "natively failed:\n{}", show(n));
    assert_eq!(
        (n.status.code(), &n.stdout),
        (s.status.code(), &s.stdout),
        "\nnative: {}\nsnare: {}",
        show(n),
        show(s)
    );
}

/// setitimer/alarm with LONG_MAX seconds, huge intervals, 20,000 re-armings, bad tv_usec
/// (EINVAL); timer_settime, timerfd_settime and the sleeps and waits with LONG_MAX; then a
/// normal 10 ms timer still fires. (Before: the Sentry panicked, exit 125.)
#[test]
fn hostile_timer_values() {
    same(&build("hostile_itimer", true), &[]);
}

/// `snare` exits with the guest's status, also after the hostile timer values.
#[test]
fn exits_with_the_guests_status() {
    let prog = build("hostile_itimer", true);
    let out = snare(&prog, &["7"]);
    assert_eq!(out.status.code(), Some(7), "{}", show(&out));
}

/// RLIMIT_NOFILE per process and the sandbox's budget of host fds: the open loop ends with
/// EMFILE or ENFILE, fork and pipe still work, and the per-process limit behaves as Linux's
/// (EMFILE at fd 256, dup2 EBADF, F_DUPFD EINVAL, poll EINVAL, inherited, kept by exec).
/// Under snare the budget is cut to 400 host fds so that the loop hits ENFILE quickly
/// (natively it ends with EMFILE at the host's limit). (Before: the guest could open host
/// files until the Sentry's own calls failed, and the limit could not be changed.)
#[test]
fn hostile_fd_use() {
    let prog = build("hostile_fds", true);
    let n = native(&prog, &[]);
    let s = snare_env(&prog, &[], &[("SNARE_MAX_HOST_FDS", "400")]);
    same_ok(&n, &s);
}

/// bash's `ulimit -n` sets and reads back the per-process limit.
#[test]
fn bash_ulimit() {
    if !std::path::Path::new("/bin/bash").exists() {
        return;
    }
    let out = snare(
        std::path::Path::new("/bin/bash"),
        &[
            "-c",
            "ulimit -n 256; ulimit -n; ulimit -Sn 128; ulimit -Sn; ulimit -Hn",
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "256\n128\n256\n",
        "{}",
        show(&out)
    );
}

/// A guest forges its stub's event with signal numbers that name no signal (0, 1000, -5,
/// 65, INT_MAX): each such process dies with SIGKILL, its parent sees it, and the sandbox
/// goes on and exits 0. Under snare only (natively there is no stub). (Before: the Sentry
/// panicked indexing its signal table, exit 125.)
#[test]
fn forged_signal_numbers() {
    let prog = build("hostile_signo", true);
    let out = snare(&prog, &[]);
    assert!(out.status.success(), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.matches("killed by SIGKILL").count(), 5, "{stdout}");
}

/// A process in the middle of one huge operation (a 2 GiB write of untouched memory to
/// /dev/null or a tmpfs file; a fork with 2 GiB of shared memory, which the Sentry populates)
/// dies at once when SIGKILLed, as natively (`hostile_bigio.c`; 3–6 s before the copy loops
/// and fork's populate looked for a kill).
#[test]
fn huge_write_stops_at_sigkill() {
    c_program("hostile_bigio", &[]);
}

/// Garbage splice, tee, vmsplice and memfd arguments (wild offset, iovec and name
/// pointers, huge and zero lengths, unknown flag and seal bits) get Linux's errnos, and the
/// pipe keeps what Linux keeps (`hostile_splice.c`).
#[test]
fn hostile_splice_args() {
    c_program("hostile_splice", &[]);
}

/// Garbage lock arguments get Linux's errnos (natively the same), and one process's lock
/// records are capped (ENOLCK; Linux bounds them only by memory): the table still works after.
#[test]
fn hostile_lock_use() {
    let prog = build("hostile_locks", true);
    // In this run's scratch directory: another run's native locks on a shared path would
    // make this one's conflict.
    let path = scratch().join("hostile_locks.bin");
    let file = [path.to_str().expect("utf-8")];
    let n = native(&prog, &file);
    let s = snare(&prog, &file);
    let without_cap = |o: &Output| -> String {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| !l.starts_with("capped at") && !l.starts_with("all 12000"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(n.status.success(), "natively failed:\n{}", show(&n));
    assert!(s.status.success(), "{}", show(&s));
    assert_eq!(
        without_cap(&n),
        without_cap(&s),
        "\nnative: {}\nsnare: {}",
        show(&n),
        show(&s)
    );
    let out = String::from_utf8_lossy(&s.stdout);
    assert!(out.contains("capped at 10000: ENOLCK"), "{}", show(&s));
}

/// TCP sends and receives go between the host socket and guest memory in place: other
/// threads unmapping, remapping and re-protecting the buffers meanwhile get EFAULT or a
/// count, the stream arrives whole, and a child's receive into a buffer it shares
/// copy-on-write never reaches its parent's copy (`hostile_sockbuf.c`).
#[test]
fn socket_buffers_changed_under_a_send() {
    c_program("hostile_sockbuf", &[]);
}
