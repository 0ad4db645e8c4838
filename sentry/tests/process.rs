//! Differential tests for processes, threads and signals (issue 4): C guests run natively and
//! under `snare do`, stdout and exit status compared.

mod common;

use common::*;

#[test]
fn signals() {
    c_program("signals", &[]);
}

#[test]
fn threads() {
    c_program("threads", &[]);
}

#[test]
fn spawn_and_wait() {
    c_program("spawn", &[]);
}

/// A host SIGINT (a terminal's Ctrl-C) reaches the guest's foreground group; init without a
/// handler ends with it, as the user expects, and snare reports 128 + 2.
#[test]
fn host_sigint_reaches_the_guest() {
    let mut child = std::process::Command::new(SNARE)
        .args(["do", "--", "/bin/sleep", "30"])
        .spawn()
        .expect("run snare");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("kill");
    let st = child.wait().expect("wait");
    assert_eq!(st.code(), Some(130), "{st:?}");
}
