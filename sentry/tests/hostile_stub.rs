//! Hostile guests that attack the stub they run in (issue 12, `tests/guests/hostile_stub.c`):
//! a forged exit that keeps running, a scribbled control response page, a thread that blocks
//! every signal through the stub's own restorer. Each attacker must end in bounded time, the
//! sandbox must go on serving other processes, and `snare` must exit with the guest's status.
//! Natively the guest finds no stub region and says so (the harness still requires success).

mod common;

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Waits for `child` at most `limit`; kills it and fails on a hang.
fn wait_limited(mut child: Child, limit: Duration, what: &str) -> (Option<i32>, String, String) {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait snare") {
            let mut out = String::new();
            let mut err = String::new();
            child.stdout.take().map(|mut o| o.read_to_string(&mut out));
            child.stderr.take().map(|mut e| e.read_to_string(&mut err));
            use std::os::unix::process::ExitStatusExt;
            let code = status.code().or(status.signal().map(|s| 128 + s));
            return (code, out, err);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: snare still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn attack(mode: &str) {
    let prog = build("hostile_stub", true);
    let native = native(&prog, &[mode]);
    assert!(native.status.success(), "natively: {native:?}");
    assert_eq!(String::from_utf8_lossy(&native.stdout), "no stub\n");
    let child = Command::new(SNARE)
        .args(["do", "--"])
        .arg(&prog)
        .arg(mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run snare");
    let (code, out, err) = wait_limited(child, Duration::from_secs(90), mode);
    assert_eq!(code, Some(0), "{mode}: stdout:\n{out}\nstderr:\n{err}");
    assert!(out.ends_with("sandbox fine\n"), "{mode}: {out}\n{err}");
    assert!(!err.contains("panicked"), "{mode}: {err}");
}

/// A thread forges an `exit` event in its slot and keeps running; its process then exits.
/// The stub must not be reused: later children run their own code (they used to run the
/// attacker's thread instead, and hang).
#[test]
fn forged_exit_does_not_take_over_the_next_process() {
    attack("takeover");
}

/// The same forged exit with a bogus FP state pointer, the thread then really exiting: its
/// stub may be pooled, but nothing of the forged frame reaches the next process (every later
/// fork used to fail with ENOMEM).
#[test]
fn forged_exit_does_not_poison_the_pool() {
    attack("poison");
}

/// Scribbling `done`, the results and the sleep flags of the response page neither hangs the
/// Sentry nor lets the process go on with a wrong view of its memory: it goes on, or is
/// killed, and everything else carries on.
#[test]
fn scribbled_response_page() {
    attack("done");
}

/// A thread that blocks every signal (a frame of its own through the stub's restorer) can't
/// keep its process alive: exit_group ends it, and so does SIGKILL from the parent.
#[test]
fn thread_blocking_every_signal_still_dies() {
    attack("sigmask");
    attack("sigmask-kill");
}

/// The same thread in the sandbox's init: Ctrl-C (SIGINT to snare) still ends the sandbox,
/// with 128 + SIGINT.
#[test]
fn init_blocking_every_signal_still_ends_on_ctrl_c() {
    let prog = build("hostile_stub", true);
    let mut child = Command::new(SNARE)
        .args(["do", "--"])
        .arg(&prog)
        .arg("sigmask-init")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run snare");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut line = [0u8; 8];
    stdout
        .read_exact(&mut line)
        .expect("the guest says it blocked");
    assert_eq!(&line, b"blocked\n");
    let start = Instant::now();
    let pid = child.id() as i32;
    let r = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(r.success());
    let (code, _, err) = wait_limited(child, Duration::from_secs(20), "sigmask-init");
    assert_eq!(code, Some(130), "{err}");
    eprintln!("ended {:?} after SIGINT", start.elapsed());
}
