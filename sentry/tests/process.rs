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

#[test]
fn fork_and_copy_on_write() {
    c_program("fork", &[]);
}

/// Shell scripts: pipelines, command substitution, subshells, background jobs and wait, trap,
/// kill, with dash and with busybox's ash; output compared with a native run.
#[test]
fn shell_scripts() {
    let script = r#"
echo start
echo hello | tr a-z A-Z
x=$(printf 'a\nb\nc\n' | wc -l); echo "lines $x"
(cd /usr && echo "sub $(pwd)"); echo "back $(pwd)"
for i in 1 2 3; do (echo job $i; exit $i) & done; wait
sleep 5 & k=$!; kill $k; wait $k; echo "killed status $?"
trap 'echo trapped USR1' USR1; kill -USR1 $$; echo after trap
false | true; echo "pipe status $?"
seq 1 2000 | sort -rn | head -3
i=0; while [ $i -lt 30 ]; do /bin/true; i=$((i+1)); done; echo "loop $i"
echo end
"#;
    let mut shells = vec![vec!["/bin/sh".to_string()]];
    if let Some(bb) = busybox() {
        shells.push(vec![bb.to_string_lossy().into_owned(), "sh".to_string()]);
    }
    for sh in shells {
        let mut args: Vec<&str> = sh[1..].iter().map(String::as_str).collect();
        args.extend(["-c", script]);
        same(std::path::Path::new(&sh[0]), &args);
    }
}
