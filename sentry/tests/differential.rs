//! Differential tests: small C programs (tests/guests/*.c) and real programs, run natively and
//! under `snare do`; stdout and exit status must match.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

#[test]
fn files() {
    let f = fixture();
    c_program("files", &[f.to_str().expect("utf-8")]);
}

#[test]
fn memory() {
    let f = fixture().join("a.txt");
    c_program("memory", &[f.to_str().expect("utf-8")]);
}

/// Mapping changes held back until the guest touches them (`mm/mod.rs`, `State::held`).
#[test]
fn held_mapping_changes() {
    c_program("lazymap", &["/tmp/lazymap.bin"]);
}

/// RLIMIT_FSIZE: short writes at the limit, EFBIG and SIGXFSZ past it (write, pwrite,
/// pwritev, O_APPEND, truncate, ftruncate, fallocate), pipes exempt, the default action kills.
#[test]
fn file_size_limit() {
    c_program("rlimit_fsize", &["/tmp/rlimit_fsize.bin"]);
}

/// RLIMIT_AS: mmap, brk and mremap past the limit are ENOMEM; MAP_FIXED over a mapping
/// counts what it adds.
#[test]
fn address_space_limit() {
    c_program("rlimit_as", &[]);
}

/// memfd_create and file sealing: the name in /proc, shared mappings, every seal's errno.
#[test]
fn memfd() {
    c_program("memfd", &[]);
    c_program("memfd_fork", &[]);
}

/// splice, tee and vmsplice: file -> pipe -> file with and without offsets, pipe to pipe,
/// blocking and non-blocking, and the errors.
#[test]
fn splice() {
    c_program("splice", &["/tmp/splice"]);
}

#[test]
fn writes_in_tmp() {
    c_program("writes", &[]);
}

/// A read past 1 MiB from a full 1 MiB pipe returns (it hung: the Sentry asked again).
#[test]
fn long_read_of_a_full_pipe() {
    c_program("pipe_big", &[]);
}

#[test]
fn misc() {
    c_program("misc", &[]);
}

/// `sethostname`/`setdomainname` (`tests/guests/uts.c`): natively only to the names already
/// set (so the host keeps its own), and their refusals.
#[test]
fn uts_names() {
    c_program("uts", &[]);
}

/// New UTS names, under snare only (natively they would rename the host): uname, `/proc` and
/// a child see them; a name is its bytes up to the first NUL.
#[test]
fn uts_rename() {
    let out = snare(&build("uts", false), &["rename"]);
    assert!(out.status.success(), "{out:?}");
    let want =
        "sethostname guest: 0\nuname guest, proc guest\nsethostname 64: 0\n64 bytes kept: ok\n\
         sethostname with NUL: 0\nuname ab, proc ab\nsetdomainname: 0\n\
         child sees ab example.org\n";
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);
}

#[test]
fn busybox_applets() {
    let Some(bb) = busybox() else {
        panic!("busybox-static is not installed (bash .ci/setup installs it)");
    };
    let f = fixture();
    let a = f.join("a.txt");
    let a = a.to_str().expect("utf-8");
    for args in [
        vec!["echo", "hello", "world"],
        vec!["cat", a],
        vec!["md5sum", a],
        vec!["wc", a],
        vec!["sort", "-r", a],
        vec!["true"],
        vec!["uname", "-sm"],
    ] {
        same(&bb, &args);
    }
}

#[test]
fn real_programs() {
    let f = fixture();
    let fs = f.to_str().expect("utf-8");
    same(Path::new("/bin/ls"), &["-la", fs]);
    same(Path::new("/bin/ls"), &["-l", "/usr/include/linux/"]);
    same(Path::new("/bin/cat"), &["/etc/passwd"]);
    same(
        Path::new("/bin/sh"),
        &["-c", "echo $((6 * 7)); cd /usr && pwd"],
    );
    same(
        Path::new("/usr/bin/python3"),
        &[
            "-c",
            "import json,hashlib;print(sum(range(10**6)), json.dumps([1]))",
        ],
    );
    // sqlite3 and tar on files in /tmp (inside snare: the guest's tmpfs).
    let script = r#"
import os, sqlite3, tarfile, tempfile
d = tempfile.mkdtemp()
c = sqlite3.connect(os.path.join(d, "t.db"))
c.execute("create table t(x)")
c.executemany("insert into t values(?)", [(i,) for i in range(1000)])
c.commit()
print(c.execute("select sum(x), count(*) from t").fetchone())
c.close()
with open(os.path.join(d, "f"), "w") as f:
    f.write("data" * 1000)
with tarfile.open(os.path.join(d, "a.tar"), "w") as t:
    t.add(os.path.join(d, "f"), arcname="f")
with tarfile.open(os.path.join(d, "a.tar")) as t:
    t.extractall(os.path.join(d, "out"))
print(open(os.path.join(d, "out", "f")).read() == "data" * 1000, sorted(os.listdir(d)))
for root, dirs, files in os.walk(d, topdown=False):
    for n in files: os.unlink(os.path.join(root, n))
    for n in dirs: os.rmdir(os.path.join(root, n))
os.rmdir(d)
"#;
    same(Path::new("/usr/bin/python3"), &["-c", script]);
    if let Some(bb) = busybox() {
        same(&bb, &["ls", "-la", fs]);
        same(&bb, &["find", "/usr/include/linux", "-name", "*.h"]);
        same(&bb, &["stat", "-c", "%n %s %F", &format!("{fs}/a.txt")]);
    }
}

#[test]
fn strace_decodes_calls() {
    let out = Command::new(SNARE)
        .args([
            "do",
            "--strace",
            "--",
            "/bin/busybox",
            "cat",
            "/nonexistent",
        ])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(r#"open("/nonexistent", O_RDONLY) = -1 ENOENT (No such file or directory)"#)
            || err.contains(r#"openat(AT_FDCWD, "/nonexistent", O_RDONLY) = -1 ENOENT"#),
        "{err}"
    );
    assert!(err.contains("exit_group(1) = ?"), "{err}");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn syscalls_table_lists_support() {
    let out = Command::new(SNARE).arg("syscalls").output().expect("run");
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        s.contains("   0  read                     implemented"),
        "{s}"
    );
    assert!(s
        .lines()
        .any(|l| l.contains("io_uring_setup") && l.ends_with("ENOSYS")));
    assert!(out.status.success());
}

#[test]
fn bad_input() {
    let missing = Command::new(SNARE)
        .args(["do", "--", "definitely-not-a-command"])
        .output()
        .expect("run");
    assert_eq!(missing.status.code(), Some(127));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("not found"));
    let notexec = Command::new(SNARE)
        .args(["do", "--", fixture().join("a.txt").to_str().expect("utf-8")])
        .output()
        .expect("run");
    assert_eq!(notexec.status.code(), Some(126));
    let corrupt = scratch().join("corrupt");
    let mut bytes = std::fs::read("/bin/true").expect("/bin/true");
    bytes.truncate(100);
    std::fs::write(&corrupt, bytes).expect("write");
    std::fs::set_permissions(
        &corrupt,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    let c = Command::new(SNARE)
        .args(["do", "--", corrupt.to_str().expect("utf-8")])
        .output()
        .expect("run");
    assert_eq!(
        c.status.code(),
        Some(126),
        "{}",
        String::from_utf8_lossy(&c.stderr)
    );
    let flag = Command::new(SNARE)
        .args(["do", "--bogus"])
        .output()
        .expect("run");
    assert_eq!(flag.status.code(), Some(2));
    let exit = Command::new(SNARE)
        .args(["do", "--", "/bin/sh", "-c", "exit 7"])
        .output()
        .expect("run");
    assert_eq!(exit.status.code(), Some(7));
}
