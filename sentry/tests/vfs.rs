//! The guest's filesystem: /proc, the overlay root (writes never reach the host), mounts and
//! the Sentry's own path walk. C guests run natively and under `snare do` and must agree; the
//! host-side checks look at the host after a run.

mod common;

use common::*;

#[test]
fn proc_self() {
    let f = fixture().join("a.txt");
    c_program("proc", &[f.to_str().expect("utf-8")]);
}

use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh directory for `overlay.c`, named `name` in the scratch directory.
fn overlay_fixture(name: &str) -> PathBuf {
    let d = scratch().join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("sub")).expect("fixture");
    std::fs::create_dir_all(d.join("deep/a/b")).expect("fixture");
    std::fs::create_dir_all(d.join("other")).expect("fixture");
    for (f, body) in [
        ("keep.txt", "keep\n"),
        ("a.txt", "a\n"),
        ("gone.txt", "g\n"),
        ("trunc.txt", "0123456789"),
        ("sub/inner.txt", "i"),
        ("deep/a/x.txt", "x"),
        ("deep/a/b/c.txt", "c"),
        ("deep/z", "z"),
        ("other/y.txt", "y"),
    ] {
        std::fs::write(d.join(f), body).expect("fixture file");
    }
    std::os::unix::fs::symlink("keep.txt", d.join("link")).expect("link");
    d
}

/// Names, sizes, modes, contents and link targets of everything below `dir`.
fn snapshot(dir: &Path) -> Vec<String> {
    let mut out = vec![];
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).expect("lstat");
            let body = if m.is_dir() {
                todo.push(p.clone());
                String::new()
            } else if m.file_type().is_symlink() {
                std::fs::read_link(&p)
                    .expect("readlink")
                    .display()
                    .to_string()
            } else {
                String::from_utf8_lossy(&std::fs::read(&p).expect("read")).into_owned()
            };
            use std::os::unix::fs::MetadataExt;
            out.push(format!(
                "{} {:o} {} {} {body}",
                p.display(),
                m.mode(),
                m.len(),
                m.mtime()
            ));
        }
    }
    out.sort();
    out
}

/// `overlay.c` changes files that exist on the host: under snare the host keeps them as they
/// were, and the guest sees the same results as a native run.
#[test]
fn overlay_changes_stay_in_the_sandbox() {
    for static_ in [true, false] {
        let prog = build("overlay", static_);
        let d = overlay_fixture(&format!("overlay-{static_}"));
        let arg = d.to_str().expect("utf-8");
        let before = snapshot(&d);
        let s = snare(&prog, &[arg]);
        assert_eq!(snapshot(&d), before, "the host changed under snare");
        let n = native(&prog, &[arg]);
        assert_ne!(snapshot(&d), before, "the native run changes the fixture");
        assert!(n.status.success(), "{}", String::from_utf8_lossy(&n.stdout));
        assert_eq!(
            String::from_utf8_lossy(&n.stdout),
            String::from_utf8_lossy(&s.stdout)
        );
        assert_eq!(n.status.code(), s.status.code());
    }
}

fn snare_sh(script: &str) -> std::process::Output {
    Command::new(SNARE)
        .args(["do", "--", "/bin/sh", "-c", script])
        .output()
        .expect("run snare")
}

/// A shell appends to one host file and removes another (builtins only: no fork yet); it
/// sees its changes, the host doesn't.
#[test]
fn shell_writes_do_not_reach_the_host() {
    let d = scratch().join("sh-host");
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    let (file, other) = (d.join("file"), d.join("other"));
    std::fs::write(&file, "one\n").expect("file");
    std::fs::write(&other, "keep me\n").expect("other");
    let out = snare_sh(&format!(
        "echo x >> {f}; : > {o}.new; while read l; do echo \"$l\"; done < {f}; \
         [ -e {o} ] && echo present",
        f = file.display(),
        o = other.display()
    ));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "one\nx\npresent\n");
    assert_eq!(std::fs::read_to_string(&file).expect("file"), "one\n");
    assert!(!d.join("other.new").exists());
    // unlink through busybox rm, then the host still has the file.
    let bb = busybox().expect("busybox-static");
    let st = Command::new(SNARE)
        .args(["do", "--"])
        .arg(&bb)
        .args(["rm", other.to_str().expect("utf-8")])
        .status()
        .expect("run snare");
    assert!(st.success());
    assert_eq!(std::fs::read_to_string(&other).expect("other"), "keep me\n");
}

/// Symlinks are resolved by the Sentry: an absolute link in a tmpfs at /tmp reaches the
/// overlay root, and a host link into /proc reaches the guest's procfs.
#[test]
fn symlinks_cross_mounts() {
    let out = Command::new(SNARE)
        .args(["do", "--tmpfs", "/tmp", "--", "/usr/bin/python3", "-c"])
        .arg(
            "import os\n\
             os.symlink('/etc/hostname', '/tmp/h')\n\
             os.symlink('/tmp', '/tmp/t')\n\
             print(open('/tmp/h').read() == open('/etc/hostname').read())\n\
             open('/etc/new-in-overlay', 'w').write('hi')\n\
             os.symlink('/etc/new-in-overlay', '/tmp/n')\n\
             print(open('/tmp/n').read(), os.path.realpath('/tmp/t/h'))\n\
             print(os.listdir('/tmp/t'))",
        )
        .output()
        .expect("run snare");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "True\nhi /etc/hostname\n['h', 't', 'n']\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!Path::new("/etc/new-in-overlay").exists());

    let d = scratch().join("proclink");
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    std::os::unix::fs::symlink("/proc/self/comm", d.join("comm")).expect("symlink");
    std::os::unix::fs::symlink("/proc/self", d.join("me")).expect("symlink");
    let bb = busybox().expect("busybox-static");
    // Natively the host's procfs answers, under snare the guest's: the same text.
    same(&bb, &["cat", d.join("comm").to_str().expect("utf-8")]);
    same(
        &bb,
        &["head", "-1", d.join("me/status").to_str().expect("utf-8")],
    );
}

#[test]
fn busybox_walks_the_tree() {
    let bb = busybox().expect("busybox-static");
    same(&bb, &["find", "/etc", "-name", "*.conf"]);
    same(&bb, &["ls", "-la", "/usr/include/linux/"]);
    let f = fixture();
    let fs = f.to_str().expect("utf-8");
    same(&bb, &["tar", "cf", "-", "-C", fs, "."]);
    // Extract into the overlay root and list it in one process.
    let tar = scratch().join("fixture.tar");
    let st = Command::new(&bb)
        .args(["tar", "cf"])
        .arg(&tar)
        .args(["-C", fs, "."])
        .status()
        .expect("tar");
    assert!(st.success());
    let out = Command::new(SNARE)
        .args(["do", "--"])
        .arg(&bb)
        .args(["tar", "xvf"])
        .arg(&tar)
        .args(["-C", "/usr"])
        .output()
        .expect("snare tar");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("a.txt"));
    assert!(!Path::new("/usr/a.txt").exists());
    let out = snare(&bb, &["ls", "-la", "/"]);
    assert!(out.status.success());
}

/// `/proc/mounts` and `mountinfo` list the guest's mount table, `--tmpfs` mounts with their
/// options.
#[test]
fn proc_mounts() {
    let bb = busybox().expect("busybox-static");
    let out = Command::new(SNARE)
        .args(["do", "--tmpfs", "/mnt/t:size=1m,mode=700", "--"])
        .arg(&bb)
        .args(["cat", "/proc/mounts", "/proc/self/mountinfo"])
        .output()
        .expect("run snare");
    let text = String::from_utf8_lossy(&out.stdout);
    for point in [
        "overlay / overlay rw 0 0",
        " /proc proc ",
        " /dev/shm tmpfs ",
        " /dev ",
        " /sys sysfs ro,",
        "tmpfs /mnt/t tmpfs rw,nosuid,nodev,size=1024k,",
        ",mode=700 0 0",
        " / /mnt/t rw,nosuid,nodev - tmpfs tmpfs ",
    ] {
        assert!(text.contains(point), "{point} missing from {text}");
    }
    assert!(!text.contains(" /tmp "), "{text}");
}

/// mount(2), umount2(2), unshare(CLONE_NEWNS), chroot and pivot_root in a private mount
/// namespace (natively too: needs root, as CI runs).
#[test]
fn mount_tree() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: mount_tree needs root (natively)");
        return;
    }
    let d = scratch().to_str().expect("utf-8").to_string();
    c_program("mounts", &[&d]);
}

/// The host's /tmp is seen (read-only, under the overlay) inside `snare do`: a file made
/// there on the host reads back; what the guest writes there stays in the sandbox.
#[test]
fn host_tmp_is_visible() {
    let d = std::env::temp_dir().join(format!("snare-hosttmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir under /tmp");
    std::fs::write(d.join("input.txt"), "made on the host\n").expect("file");
    let bb = busybox().expect("busybox-static");
    let ds = d.to_str().expect("utf-8");
    let out = Command::new(SNARE)
        .args(["do", "--"])
        .arg(&bb)
        .args([
            "sh",
            "-c",
            &format!("cat {ds}/input.txt && echo guest > {ds}/out.txt && cat {ds}/out.txt"),
        ])
        .output()
        .expect("run snare");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "made on the host\nguest\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!d.join("out.txt").exists());
    let _ = std::fs::remove_dir_all(&d);
}

/// A volume at a path the Sentry's `/dev` lacks (Docker's `-v /dev/log:/dev/log`, a
/// directory or a file): mounted over the path, which `/dev` can't make (runc makes it in
/// the container's `/dev` tmpfs); the path is not listed in `/dev`.
#[test]
fn volumes_under_dev() {
    let d = scratch().join("devvolume");
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("dir")).expect("dir");
    std::fs::write(d.join("dir/f"), "in a dir\n").expect("file");
    std::fs::write(d.join("file"), "a file\n").expect("file");
    let bb = busybox().expect("busybox-static");
    let out = Command::new(SNARE)
        .args(["do", "--volume"])
        .arg(format!("{}:/dev/snare-dir", d.join("dir").display()))
        .arg("--volume")
        .arg(format!("{}:/dev/snare-file:ro", d.join("file").display()))
        .arg("--")
        .arg(&bb)
        .args(["sh", "-c", "cat /dev/snare-dir/f /dev/snare-file"])
        .output()
        .expect("run snare");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "in a dir\na file\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success());
}

/// `--volume HOST:GUEST` writes reach the host, and only there; `:ro` refuses them; a host
/// symlink out of the volume leads back into the guest's own tree, not the host's.
#[test]
fn volumes_write_through() {
    let d = scratch().join("volume");
    let _ = std::fs::remove_dir_all(&d);
    let (vol, ro, outside) = (d.join("vol"), d.join("ro"), d.join("outside"));
    for dir in [&vol, &ro, &outside] {
        std::fs::create_dir_all(dir).expect("dir");
    }
    std::fs::write(vol.join("old.txt"), "old\n").expect("file");
    std::fs::write(ro.join("keep.txt"), "keep\n").expect("file");
    std::os::unix::fs::symlink("../outside", vol.join("escape")).expect("symlink");
    let before = snapshot(&d);
    let bb = busybox().expect("busybox-static");
    let script = "cat /work/old.txt; echo new > /work/new.txt; mkdir /work/sub; \
         echo deep > /work/sub/f; mv /work/old.txt /work/sub/moved; \
         echo x > /data/keep.txt || echo ro-refused; rm /data/keep.txt || echo ro-kept; \
         echo e > /work/escape/planted; ls /work; cat /proc/mounts | grep -c ' /work '; \
         echo scratch > /etc/snare-volume-test";
    let out = Command::new(SNARE)
        .args(["do", "--volume"])
        .arg(format!("{}:/work", vol.display()))
        .arg("--volume")
        .arg(format!("{}:/data:ro", ro.display()))
        .arg("--")
        .arg(&bb)
        .args(["sh", "-c", script])
        .output()
        .expect("run snare");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "old\nro-refused\nro-kept\nescape\nnew.txt\nsub\n1\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(vol.join("new.txt")).ok(),
        Some("new\n".into())
    );
    assert_eq!(
        std::fs::read_to_string(vol.join("sub/f")).ok(),
        Some("deep\n".into())
    );
    assert_eq!(
        std::fs::read_to_string(vol.join("sub/moved")).ok(),
        Some("old\n".into())
    );
    assert!(!vol.join("old.txt").exists());
    // Nothing else on the host changed: the read-only volume, the directory the escaping
    // link points to (the guest wrote its file in the sandbox's own tree), /etc.
    // (`vol` itself is the guest's to change: its mtime moves with its entries.)
    let after = snapshot(&d);
    let vol_line = format!("{} ", vol.display());
    let others = |s: &[String]| {
        s.iter()
            .filter(|l| !l.contains("/vol/") && !l.starts_with(&vol_line))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        others(&before),
        others(&after),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!Path::new("/etc/snare-volume-test").exists());

    // A command that lives in a volume runs, found by path and from `--cwd` there.
    let script = vol.join("run.sh");
    std::fs::write(&script, "#!/bin/sh\necho ran in $(pwd)\n").expect("script");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let o = Command::new(SNARE)
        .args(["do", "--cwd", "/work", "--volume"])
        .arg(format!("{}:/work", vol.display()))
        .args(["--", "./run.sh"])
        .output()
        .expect("run snare");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "ran in /work\n",
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // Bad volumes: a clear error and exit 125, nothing run.
    for bad in [
        format!("{}:/x", d.join("missing").display()),
        "rel:/x".into(),
    ] {
        let o = Command::new(SNARE)
            .args(["do", "--volume", &bad, "--", "/bin/true"])
            .output()
            .expect("run snare");
        assert!(!o.status.success());
        assert!(String::from_utf8_lossy(&o.stderr).contains("--volume"));
    }
    let _ = std::fs::remove_dir_all(&d);
}

/// `--volume HOSTFILE:GUEST[:ro]`: one host file at GUEST (made in the sandbox's view if
/// the guest's tree lacks it); writes reach the host file, `:ro` is EROFS, and nothing of
/// the host's tree around it changes; a FIFO source is refused.
#[test]
fn file_volumes() {
    let d = scratch().join("file-volume");
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    let (rw, ro) = (d.join("rw.txt"), d.join("ro.txt"));
    std::fs::write(&rw, "one\n").expect("file");
    std::fs::write(&ro, "keep\n").expect("file");
    let before = snapshot(&d);
    let bb = busybox().expect("busybox-static");
    let script = "cat /etc/rw.txt; echo two >> /etc/rw.txt; stat -c %s /etc/rw.txt; \
                  cat /new/dir/ro.txt; echo x > /new/dir/ro.txt || echo ro-refused; \
                  ls /new/dir; rm /etc/rw.txt || echo busy";
    let out = Command::new(SNARE)
        .args(["do", "--volume"])
        .arg(format!("{}:/etc/rw.txt", rw.display()))
        .arg("--volume")
        .arg(format!("{}:/new/dir/ro.txt:ro", ro.display()))
        .arg("--")
        .arg(&bb)
        .args(["sh", "-c", script])
        .output()
        .expect("run snare");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "one\n8\nkeep\nro-refused\nro.txt\nbusy\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&rw).ok(), Some("one\ntwo\n".into()));
    let after = snapshot(&d);
    let rw_line = format!("{} ", rw.display());
    let others = |s: &[String]| {
        s.iter()
            .filter(|l| !l.starts_with(&rw_line))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(others(&before), others(&after));
    assert!(!Path::new("/new/dir").exists());
    let fifo = d.join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).expect("fifo");
    let o = Command::new(SNARE)
        .args(["do", "--volume"])
        .arg(format!("{}:/x", fifo.display()))
        .args(["--", "/bin/true"])
        .output()
        .expect("run snare");
    assert_eq!(o.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a directory or a regular file"));
    let _ = std::fs::remove_dir_all(&d);
}

/// Permissions (DAC) for a process that gave up root: mode bits, search permission,
/// sticky and setgid directories, chmod/chown/utimensat rules, access vs AT_EACCESS,
/// execute-only binaries (natively this needs root, as CI runs).
#[test]
fn permissions() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: permissions needs root (natively)");
        return;
    }
    let d = scratch().to_str().expect("utf-8").to_string();
    c_program("perms", &[&d]);
}

/// The path-resolution table: every path shape (symlinks relative, absolute, chained,
/// looping, dangling; `.` and `..`; a mount crossed both ways; a /proc magic link) under
/// every way of opening it and every RESOLVE_* flag, as Linux answers (needs root natively:
/// it mounts in a private namespace).
#[test]
fn resolution_table() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: resolution_table needs root (natively)");
        return;
    }
    let d = scratch().to_str().expect("utf-8").to_string();
    c_program("resolve", &[&d]);
}

/// utime, utimes, futimesat and the old getdents, as Linux answers.
#[test]
fn old_calls() {
    let d = scratch().to_str().expect("utf-8").to_string();
    c_program("oldcalls", &[&d]);
}

/// O_TMPFILE files named with linkat (AT_EMPTY_PATH, /proc/self/fd), in the overlay and in
/// a tmpfs.
#[test]
fn tmpfile_and_linkat() {
    let d = scratch().to_str().expect("utf-8").to_string();
    c_program("tmpfile", &[&d]);
    c_program("tmpfile", &["/dev/shm"]);
}

/// Directories renamed or removed while open or current (`moved_dirs.c`): in the overlay's
/// upper layer and in a tmpfs.
#[test]
fn moved_directories() {
    let d = scratch().to_str().expect("utf-8").to_string();
    c_program("moved_dirs", &[&d]);
    c_program("moved_dirs", &["/dev/shm"]);
}

/// Extended attributes (`xattr.c`), as Linux answers: on files the guest makes (the
/// overlay's upper layer), on a file and a directory that were on the host before the run
/// (read from the lower layer, copied up on change; the host's stay as they were), and
/// through a `--volume` (the host's files themselves, `user.*` only).
#[test]
fn xattrs() {
    for static_ in [true, false] {
        let prog = build("xattr", static_);
        let d = scratch().join(format!("xattr-{static_}"));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("dir");
        let arg = d.to_str().expect("utf-8");
        let prep = native(&prog, &["prep", arg]);
        assert!(prep.status.success(), "{prep:?}");
        let show = || String::from_utf8_lossy(&native(&prog, &["show", arg]).stdout).into_owned();
        let before = show();
        assert!(before.contains("[user.pre]"), "{before}");
        same_with(&prog, &[arg], true);
        assert_eq!(show(), before, "the host's attributes changed");

        let n = native(&prog, &[arg, "volume"]);
        let s = Command::new(SNARE)
            .args(["do", "--volume"])
            .arg(format!("{arg}:/vol"))
            .arg("--")
            .arg(&prog)
            .args(["/vol", "volume"])
            .output()
            .expect("run snare");
        assert!(n.status.success(), "{}", String::from_utf8_lossy(&n.stdout));
        assert_eq!(
            String::from_utf8_lossy(&n.stdout),
            String::from_utf8_lossy(&s.stdout),
            "{}",
            String::from_utf8_lossy(&s.stderr)
        );
        assert_eq!(n.status.code(), s.status.code());
        assert_eq!(show(), before);
        let _ = std::fs::remove_dir_all(&d);
    }
}

/// A guest filling a tmpfs with the largest extended attributes runs into the tmpfs's size
/// (`ENOSPC`), not the Sentry's memory, and gets the room back when the files go.
#[test]
fn xattrs_fill_the_tmpfs_not_the_sentry() {
    let prog = build("xattr", true);
    let o = Command::new(SNARE)
        .args(["do", "--tmpfs", "/data:size=1m,nr_inodes=100", "--"])
        .arg(&prog)
        .args(["fill", "/data"])
        .output()
        .expect("run snare");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains("fill: No space left on device, ")
            && out.contains(" files, within size 1, bfree dropped 1\nfill: freed 1\n"),
        "{out}"
    );
}

/// inotify: a watched directory's events (create, write, close, chmod, rename, link, unlink,
/// mkdir, rmdir) and a watched file's, the watch flags, reading (whole records, short
/// buffers, blocking, EINTR), FIONREAD, poll/epoll, coalescing, queue overflow, and hostile
/// arguments up to a watch storm past the limit.
#[test]
fn inotify() {
    let d = scratch().to_str().expect("utf-8").to_string();
    c_program("inotify", &[&d]);
}

/// dnotify (`fcntl(F_NOTIFY)`): SIGIO and `F_SETSIG` signals with their details, one-shot and
/// multishot registrations, masks adding up, removal by a 0 mask and by close, a child's
/// events signalling the parent that registered, and the errors.
#[test]
fn dnotify() {
    let d = scratch().to_str().expect("utf-8").to_string();
    c_program("dnotify", &[&d]);
}

/// Files as CPython's suite meets them (`file_compat.c`): names that are not UTF-8 reached
/// through directory fds, `F_SETFL` on a root file, statfs of the root, sparse files past
/// 4 GiB mapped at large offsets; in the overlay and in a tmpfs.
#[test]
fn file_compat() {
    let d = scratch().to_str().expect("utf-8").to_string();
    c_program("file_compat", &[&d]);
    c_program("file_compat", &["/dev/shm"]);
    // Through a volume: the host's own files (whose MAP_SHARED mappings are private copies
    // under snare, a known gap).
    let prog = build("file_compat", true);
    let vol = scratch().join("file-compat-volume");
    std::fs::create_dir_all(&vol).expect("dir");
    let want = native(&prog, &[vol.to_str().expect("utf-8"), "private-maps"]);
    assert!(want.status.success(), "{want:?}");
    let got = Command::new(SNARE)
        .arg("do")
        .arg("--volume")
        .arg(format!("{}:/vol", vol.display()))
        .arg("--")
        .arg(&prog)
        .args(["/vol", "private-maps"])
        .output()
        .expect("run snare");
    assert_eq!(
        String::from_utf8_lossy(&got.stdout),
        String::from_utf8_lossy(&want.stdout),
        "{}",
        String::from_utf8_lossy(&got.stderr)
    );
}

/// Pseudo-terminals: /dev/ptmx and /dev/pts, the line discipline (canonical lines, editing,
/// echo, CR/NL translation, EOF, raw mode, VMIN/VTIME), window size, job control (^C is
/// SIGINT and a resize SIGWINCH for the slave's session), hangups, hostile ioctl arguments,
/// full ptys and a pty storm past the limit.
#[test]
fn pty() {
    c_program("pty", &[]);
}

/// Job control on a controlling pseudo-terminal (`tty_jobs.c`): a background group's read
/// stops it with SIGTTIN, its tcsetattr (and, with TOSTOP, its write) with SIGTTOU, and the
/// call stops it again once continued; SIGTTIN ignored or blocked gives EIO, SIGTTOU ignored
/// lets the call through, a SIGTTIN handler gets EINTR.
#[test]
fn tty_job_control() {
    c_program("tty_jobs", &[]);
}

/// Python's `pty.openpty()` and `pty.fork()` (login_tty: setsid, TIOCSCTTY), as natively.
#[test]
fn pty_python() {
    let python = Path::new("/usr/bin/python3");
    same(
        python,
        &[
            "-c",
            "import os,pty; m,s=pty.openpty(); os.write(m,b'x\\n'); print(os.read(s,10)); \
             print(os.read(m,10)); os.write(s,b'y\\n'); \
             print(os.read(m,10), os.isatty(s), os.isatty(m))",
        ],
    );
    let fork = r#"
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    print("child", os.isatty(0), os.getsid(0) == os.getpid(), os.tcgetpgrp(0) == os.getpid())
    sys.stdout.flush()
    os._exit(3)
out = b""
while True:
    try:
        d = os.read(fd, 100)
    except OSError:
        break
    if not d:
        break
    out += d
print(out, os.waitpid(pid, 0)[1] >> 8)
"#;
    same(python, &["-c", fork]);
}

/// What language runtimes read to size themselves: `/sys/devices/system/cpu/online` as the
/// host's (differential), `/proc/self/cgroup` a cgroup2 root, `/sys/fs/cgroup/memory.max`
/// the sandbox's `--memory`, `pids.max` unlimited, `pids.current` the guest's tasks, and
/// all of it read-only.
#[test]
fn sysfs_cpus_and_the_sandbox_cgroup() {
    let bb = busybox().expect("busybox-static");
    let host_cpus = std::fs::read_to_string("/sys/devices/system/cpu/online").expect("host");
    let out = Command::new(SNARE)
        .args(["do", "--memory", "64m", "--"])
        .arg(&bb)
        .args([
            "sh",
            "-c",
            "cat /sys/devices/system/cpu/online /proc/self/cgroup /sys/fs/cgroup/memory.max \
             /sys/fs/cgroup/pids.max /sys/fs/cgroup/cgroup.controllers; \
             sleep 5 & cat /sys/fs/cgroup/pids.current; kill $!; \
             echo 1 > /sys/fs/cgroup/memory.max || echo refused; ls /sys/fs/cgroup | wc -l",
        ])
        .output()
        .expect("run snare");
    let text = String::from_utf8_lossy(&out.stdout);
    let want = format!("{host_cpus}0::/\n67108864\nmax\ncpu memory pids\n3\nrefused\n6\n");
    assert_eq!(
        text,
        want,
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
