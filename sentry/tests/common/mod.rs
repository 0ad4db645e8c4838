//! The differential-test harness shared by the test binaries: build C guests, run a program
//! natively and under `snare do`, compare.
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub mod oci;

pub const SNARE: &str = env!("CARGO_BIN_EXE_snare");

/// The Sentry of a `snare do` whose process is `launcher`: confined, the launcher's one
/// child (the Sentry in its own namespaces, once cloned); with `--no-confine` (or before the
/// clone), the launcher itself.
pub fn sentry_of(launcher: u32) -> u32 {
    std::fs::read_to_string(format!("/proc/{launcher}/task/{launcher}/children"))
        .ok()
        .and_then(|k| k.split_whitespace().next()?.parse().ok())
        .unwrap_or(launcher)
}

pub fn guests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/guests")
}

/// A scratch directory for this test binary's build products and fixtures.
pub fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // On the host's disk, not in a tmpfs the tests may mount over /tmp.
        // Earlier runs' directories go once their process is gone.
        if let Ok(entries) = std::fs::read_dir("/var/tmp") {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(pid) = name.strip_prefix("snare-diff-") {
                    if !Path::new("/proc").join(pid).exists() {
                        let _ = std::fs::remove_dir_all(e.path());
                    }
                }
            }
        }
        let d = Path::new("/var/tmp").join(format!("snare-diff-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("scratch dir");
        d
    })
}

/// Builds `name.c` (static or dynamic) once; returns the binary's path.
pub fn build(name: &str, static_: bool) -> PathBuf {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let out = scratch().join(format!("{name}{}", if static_ { "-static" } else { "" }));
    if out.exists() {
        return out;
    }
    let mut cmd = Command::new("gcc");
    cmd.arg("-O1")
        .arg("-o")
        .arg(&out)
        .arg(guests_dir().join(format!("{name}.c")));
    if static_ {
        cmd.arg("-static");
    }
    let st = cmd.status().expect("run gcc");
    assert!(st.success(), "gcc failed for {name}");
    out
}

/// The fixture directory `files.c` reads (made once; tests run in parallel).
pub fn fixture() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = scratch().join("fixture");
        std::fs::create_dir_all(d.join("sub")).expect("fixture");
        std::fs::write(d.join("a.txt"), "hello\nworld\n").expect("a.txt");
        std::fs::write(d.join("b.bin"), [0u8, 1, 2, 255]).expect("b.bin");
        std::os::unix::fs::symlink("a.txt", d.join("link")).expect("link");
        d
    })
    .clone()
}

pub fn native(prog: &Path, args: &[&str]) -> Output {
    Command::new(prog)
        .args(args)
        .output()
        .expect("run natively")
}

pub fn snare(prog: &Path, args: &[&str]) -> Output {
    Command::new(SNARE)
        .arg("do")
        .arg("--")
        .arg(prog)
        .args(args)
        .output()
        .expect("run snare")
}

/// Runs `prog` natively and under snare; status and stdout must match. Natively it must
/// succeed when run without arguments (real programs given arguments may be asked to fail:
/// `busybox false`, `ls` of a missing file).
pub fn same(prog: &Path, args: &[&str]) {
    same_with(prog, args, args.is_empty());
}

/// [`same`], with native success required when `must_succeed`.
pub fn same_with(prog: &Path, args: &[&str], must_succeed: bool) {
    let n = native(prog, args);
    let s = snare(prog, args);
    let show = |o: &Output| {
        format!(
            "status {:?}\n--- stdout\n{}--- stderr\n{}",
            o.status.code(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    assert!(
        n.status.success() || !must_succeed,
        "natively failed:\n{}",
        show(&n)
    );
    assert_eq!(
        (n.status.code(), &n.stdout),
        (s.status.code(), &s.stdout),
        "{} {args:?}\nnative: {}\nsnare: {}",
        prog.display(),
        show(&n),
        show(&s)
    );
}

/// A C guest from `tests/guests`, static and dynamic: it must succeed natively (a test
/// that can't pass on Linux checks nothing).
pub fn c_program(name: &str, args: &[&str]) {
    for static_ in [true, false] {
        same_with(&build(name, static_), args, true);
    }
}

/// busybox-static, which `.ci/setup` installs.
pub fn busybox() -> Option<PathBuf> {
    ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}
