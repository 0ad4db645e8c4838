//! A container's root file system is `root.path` itself (`oci/rootfs.rs`): what the guest
//! changes there is on the host afterwards, as under runc (the same bundle under `runc run`
//! on a fresh copy gives the same tree), and what the host writes there while the container
//! runs is what the guest reads. `root.readonly` refuses every change with EROFS; the
//! annotation `dev.snare.root-overlay=memory` keeps the changes in the sandbox's memory;
//! symlinks of the rootfs never lead out of it; nothing outside `root.path` changes.
//!
//! Each test makes its own bundle and a fresh busybox rootfs in it (the static
//! `/bin/busybox`, and `rootfs_sock`, a static C guest for what the shell can't do: bind a
//! unix socket, set a user xattr).

mod common;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::oci::text;
use common::{scratch, SNARE};

/// Makes a busybox root file system at `r`, with every applet linked and the socket guest
/// at `/bin/rootfs_sock`.
fn make_rootfs(r: &Path) -> PathBuf {
    let bb = Path::new("/bin/busybox");
    assert!(
        bb.exists(),
        "busybox-static is not installed (bash .ci/setup installs it)"
    );
    let _ = std::fs::remove_dir_all(r);
    for d in ["bin", "etc", "proc", "sys", "dev", "tmp", "root"] {
        std::fs::create_dir_all(r.join(d)).expect("rootfs dir");
    }
    set_mode(&r.join("tmp"), 0o1777);
    std::fs::copy(bb, r.join("bin/busybox")).expect("copy busybox");
    std::fs::copy(
        common::build("rootfs_sock", true),
        r.join("bin/rootfs_sock"),
    )
    .expect("copy rootfs_sock");
    let list = Command::new(bb)
        .arg("--list")
        .output()
        .expect("busybox --list");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            let _ = std::os::unix::fs::symlink("busybox", r.join("bin").join(applet));
        }
    }
    std::fs::write(r.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").expect("passwd");
    r.to_path_buf()
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// One test's bundle (with its own rootfs at `rootfs/`) and state root.
struct Case {
    dir: PathBuf,
    state: PathBuf,
}

impl Case {
    /// A bundle whose config is `snare spec`'s, running `args` in a fresh busybox root at
    /// `rootfs` (relative, as Docker's); `edit` changes the config further.
    fn new(name: &str, args: &[&str], edit: impl FnOnce(&mut serde_json::Value)) -> Case {
        let dir = scratch().join(format!("rootfs-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("bundle dir");
        let case = Case {
            state: dir.join("state"),
            dir,
        };
        let out = case.snare(&["spec", "--bundle", case.bundle()]);
        assert!(out.status.success(), "spec: {}", text(&out.stderr));
        let mut config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(case.config()).expect("config.json"))
                .expect("spec writes JSON");
        config["root"] = serde_json::json!({ "path": "rootfs", "readonly": false });
        config["process"]["args"] = serde_json::json!(args);
        edit(&mut config);
        std::fs::write(case.config(), config.to_string()).expect("write config.json");
        make_rootfs(&case.rootfs());
        case
    }

    fn config(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    fn bundle(&self) -> &str {
        self.dir.to_str().expect("utf-8")
    }

    /// `RUNTIME --root STATE ARGS…`, stdin empty, output captured.
    fn runtime(&self, runtime: &str, args: &[&str]) -> Output {
        Command::new(runtime)
            .arg("--root")
            .arg(&self.state)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run the runtime")
    }

    fn snare(&self, args: &[&str]) -> Output {
        self.runtime(SNARE, args)
    }

    /// `run` of the bundle under `runtime` (its status and stdout, stderr for messages).
    fn run_with(&self, runtime: &str, id: &str) -> Output {
        self.runtime(runtime, &["run", "--bundle", self.bundle(), id])
    }
}

/// `find DIR -printf FORMAT`, sorted: the tree as the host sees it.
fn tree(dir: &Path, format: &str) -> Vec<String> {
    let out = Command::new("find")
        .arg(dir)
        .arg("-printf")
        .arg(format)
        .output()
        .expect("find");
    assert!(out.status.success(), "find: {}", text(&out.stderr));
    let mut lines: Vec<String> = text(&out.stdout).lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

/// What the differential compares: name, type, mode, owner, size, link target.
const SHAPE: &str = "%P %y %m %U %G %s %l\n";
/// What "unchanged" compares: the shape and the modification time (content changes move it).
const EXACT: &str = "%P %y %m %U %G %s %l %T@ %C@\n";

/// Docker's default capabilities (`oci/caps/defaults.go`).
const DOCKER_CAPS: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Every change the guest makes to its root, as a script for busybox's shell.
const CHANGES: &str = "set -e; cd /; \
    echo one > /tmp/new; echo two >> /tmp/new; echo app:x:1:1::/:/bin/sh >> /etc/passwd; \
    mkdir -p /d1/d2; mkdir /gone; rmdir /gone; \
    echo r > /tmp/r1; mv /tmp/r1 /d1/r2; echo u > /tmp/u; rm /tmp/u; \
    chmod 600 /tmp/new; chmod 2750 /d1/d2; chown 1000:1000 /d1/r2; \
    mkdir /owned; touch /owned/f; chown -R 1000:1000 /owned; \
    ln -s ../tmp/new /d1/rel; ln -s /etc/passwd /abs; chown -h 1000:1000 /abs; \
    ln /tmp/new /d1/hard; \
    echo 123456789 > /tmp/t; truncate -s 3 /tmp/t; truncate -s 100000 /tmp/sparse; \
    mkfifo -m 640 /tmp/fifo; \
    touch -d '2001-02-03 04:05:06' /tmp/old; stat -c %Y /tmp/old; \
    echo kept > /tmp/open; exec 3< /tmp/open; rm /tmp/open; cat <&3; \
    echo a > /tmp/o2; exec 4>> /tmp/o2; mv /tmp/o2 /tmp/o3; echo b >&4; cat /tmp/o3; \
    rootfs_sock /tmp/x.sock /tmp/new /tmp/by1000; \
    ls -ln /d1 | wc -l";

#[test]
fn writes_reach_root_path_as_under_runc() {
    let mut results = Vec::new();
    let runc = ["/usr/sbin/runc", "/usr/bin/runc"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    for runtime in [Some(SNARE), runc].into_iter().flatten() {
        let name = if runtime == SNARE { "snare" } else { "runc" };
        let c = Case::new(
            &format!("changes-{name}"),
            &["sh", "-c", CHANGES],
            |config| {
                // Docker's default set (runc's own spec has no CAP_CHOWN, CAP_FOWNER, …): the
                // changes below need CAP_CHOWN and CAP_FOWNER, under runc and snare alike.
                let caps = serde_json::json!(DOCKER_CAPS);
                for set in ["bounding", "effective", "permitted"] {
                    config["process"]["capabilities"][set] = caps.clone();
                }
            },
        );
        let out = c.run_with(runtime, "changes");
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out.stderr));
        let root = c.rootfs();
        assert_eq!(
            std::fs::read_to_string(root.join("tmp/new")).expect("new"),
            "one\ntwo\n",
            "{name}"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("tmp/o3")).expect("o3"),
            "a\nb\n",
            "{name}"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("etc/passwd")).expect("passwd"),
            "root:x:0:0:root:/root:/bin/sh\napp:x:1:1::/:/bin/sh\n",
            "{name}"
        );
        assert_eq!(
            xattr(&root.join("tmp/new"), "user.snare").as_deref(),
            Some("yes"),
            "{name}"
        );
        results.push((name, text(&out.stdout), tree(&root, SHAPE)));
    }
    let want =
        "981173106\nkept\na\nb\ngot ping, child 0\nxattr 3 yes\nas 1000: 0\ntmpfile linked\n5\n";
    let (_, stdout, snare_tree) = &results[0];
    assert_eq!(stdout, want);
    for line in [
        "tmp/new f 600 0 0 8 ",
        "d1/hard f 600 0 0 8 ",
        "d1/d2 d 2750 0 0 4096 ",
        "d1/r2 f 644 1000 1000 2 ",
        "owned d 755 1000 1000 4096 ",
        "owned/f f 644 1000 1000 0 ",
        "d1/rel l 777 0 0 10 ../tmp/new",
        "abs l 777 1000 1000 11 /etc/passwd",
        "tmp/t f 644 0 0 3 ",
        "tmp/sparse f 644 0 0 100000 ",
        "tmp/fifo p 640 0 0 0 ",
        "tmp/x.sock s 755 0 0 0 ",
        "tmp/by1000 f 644 1000 1000 8 ",
        "tmp/by1000.d d 755 1000 1000 4096 ",
        "tmp/by1000.tmp f 640 0 0 4 ",
    ] {
        assert!(
            snare_tree.iter().any(|l| l == line),
            "{line:?} not in the tree:\n{}",
            snare_tree.join("\n")
        );
    }
    for gone in ["gone", "tmp/u", "tmp/r1", "tmp/open", "tmp/o2"] {
        assert!(
            !snare_tree
                .iter()
                .any(|l| l.starts_with(&format!("{gone} "))),
            "{gone} is still there"
        );
    }
    match results.get(1) {
        Some((_, runc_stdout, runc_tree)) => {
            assert_eq!(runc_stdout, want, "runc");
            assert_eq!(snare_tree, runc_tree, "snare's tree differs from runc's");
        }
        None => eprintln!("runc is not installed: the differential check is skipped"),
    }
}

/// A user xattr of `p` as the host reads it (python3's `os.getxattr`; `None` if absent or
/// python3 is missing, which the caller's assertion then reports).
fn xattr(p: &Path, name: &str) -> Option<String> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import os,sys; sys.stdout.write(os.getxattr(sys.argv[1], sys.argv[2]).decode())",
        ])
        .arg(p)
        .arg(name)
        .output()
        .ok()?;
    out.status.success().then(|| text(&out.stdout))
}

/// Waits (up to 20 s) until `file` holds `want`.
fn wait_for(file: &Path, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(file)
        .unwrap_or_default()
        .contains(want)
    {
        assert!(Instant::now() < deadline, "never saw {want:?} in {file:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn host_writes_are_seen_by_the_running_guest() {
    // The guest reads, then waits for the host's go, then reads again: the file rewritten
    // (another size), a file and a directory added, one removed, a program replaced.
    let script = "cat /etc/msg; ls /etc; /bin/tool; \
                  while [ ! -e /tmp/go ]; do usleep 20000; done; \
                  cat /etc/msg; ls /etc; cat /new/f; /bin/tool; \
                  echo from-guest > /tmp/back";
    let c = Case::new("host-writes", &["sh", "-c", script], |_| {});
    let root = c.rootfs();
    std::fs::write(root.join("etc/msg"), "one\n").expect("msg");
    std::fs::write(root.join("etc/old"), "").expect("old");
    std::fs::write(root.join("bin/tool"), "#!/bin/sh\necho tool-v1\n").expect("tool");
    set_mode(&root.join("bin/tool"), 0o755);
    let stdout = c.dir.join("stdout");
    let child = Command::new(SNARE)
        .arg("--root")
        .arg(&c.state)
        .args(["run", "--bundle", c.bundle(), "hw"])
        .stdin(Stdio::null())
        .stdout(File::create(&stdout).expect("stdout"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("snare run");
    wait_for(&stdout, "tool-v1");
    // As `docker cp` writes: a new file renamed over the old, and a write in place.
    std::fs::write(root.join("etc/msg.tmp"), "two, longer\n").expect("msg.tmp");
    std::fs::rename(root.join("etc/msg.tmp"), root.join("etc/msg")).expect("rename");
    std::fs::remove_file(root.join("etc/old")).expect("rm old");
    std::fs::write(root.join("etc/added"), "").expect("added");
    std::fs::create_dir(root.join("new")).expect("new");
    std::fs::write(root.join("new/f"), "in new\n").expect("new/f");
    File::options()
        .write(true)
        .open(root.join("bin/tool"))
        .and_then(|mut f| f.write_all(b"#!/bin/sh\necho tool-v2\n"))
        .expect("rewrite tool");
    std::fs::write(root.join("tmp/go"), "").expect("go");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(&stdout).expect("stdout"),
        "one\nmsg\nold\npasswd\ntool-v1\ntwo, longer\nadded\nmsg\npasswd\nin new\ntool-v2\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("tmp/back")).expect("back"),
        "from-guest\n"
    );
}

/// Changes a guest tries on its root: each must fail with EROFS (one `erofs` line each).
const TRIES: &str = "for c in 'touch /tmp/a' 'mkdir /d' 'rm /etc/passwd' 'rmdir /root' \
    'chmod 777 /etc/passwd' 'chown 1:1 /etc/passwd' 'ln -s x /l' 'ln /etc/passwd /h' \
    'mkfifo /f' 'mv /etc/passwd /p' 'truncate -s 0 /etc/passwd' 'touch /etc/passwd' \
    'rootfs_sock /tmp/s /etc/passwd'; do \
    if out=$(sh -c \"$c\" 2>&1); then echo \"changed: $c\"; else case \"$out\" in \
    *'Read-only file system'*) echo erofs;; *) echo \"other: $c: $out\";; esac; fi; done";

#[test]
fn read_only_root_refuses_and_changes_nothing() {
    let c = Case::new("read-only", &["sh", "-c", TRIES], |config| {
        config["root"]["readonly"] = serde_json::json!(true);
    });
    let before = tree(&c.rootfs(), EXACT);
    let out = c.run_with(SNARE, "ro");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "erofs\n".repeat(13));
    assert_eq!(
        tree(&c.rootfs(), EXACT),
        before,
        "the read-only root changed"
    );
}

#[test]
fn memory_overlay_leaves_the_rootfs_untouched() {
    let script = "echo x > /tmp/a; mkdir /d; rm /etc/passwd; chmod 700 /bin; \
                  rootfs_sock /tmp/s /tmp/a; cat /tmp/a; ls /etc | wc -l";
    let c = Case::new("memory", &["sh", "-c", script], |config| {
        config["annotations"] = serde_json::json!({"dev.snare.root-overlay": "memory"});
    });
    let before = tree(&c.rootfs(), EXACT);
    let out = c.run_with(SNARE, "mem");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "got ping, child 0\nxattr 3 yes\nx\n0\n");
    assert_eq!(tree(&c.rootfs(), EXACT), before, "the rootfs changed");
}

#[test]
fn hostile_annotation_is_refused() {
    for bad in ["tmpfs", "", "memory\n"] {
        let c = Case::new("bad-annotation", &["true"], |config| {
            config["annotations"] = serde_json::json!({"dev.snare.root-overlay": bad});
        });
        let out = c.run_with(SNARE, "bad");
        assert_eq!(out.status.code(), Some(1), "{bad:?}");
        let err = text(&out.stderr);
        assert!(
            err.contains("dev.snare.root-overlay") && err.lines().count() == 1,
            "{bad:?}: {err}"
        );
    }
}

#[test]
fn hostile_symlinks_in_the_rootfs_stay_inside() {
    // The rootfs plants links out: absolute ones and `..` chains. Every write through them
    // lands inside the rootfs (or fails); the bundle's other files, the host's /etc and a
    // canary next to the rootfs never change. A bind destination through a link is made
    // inside too.
    let script = "echo pwned > /hostetc/snare-pwned; echo pwned > /up/canary/f 2>/dev/null; \
                  echo pwned > /up/etc/snare-up; mkdir -p /up/canary/d; ln /up/canary/f /h 2>/dev/null; \
                  echo pwned > /dotdot/etc/snare-dotdot; ls /mnt-via-link; true";
    let c = Case::new("hostile-links", &["sh", "-c", script], |config| {
        let mounts = config["mounts"].as_array_mut().expect("spec has mounts");
        mounts.push(serde_json::json!({
            "destination": "/up/canary/mnt-dest", "type": "tmpfs", "source": "tmpfs"
        }));
        mounts.push(serde_json::json!({
            "destination": "/mnt-via-link/x", "type": "tmpfs", "source": "tmpfs"
        }));
    });
    let root = c.rootfs();
    std::os::unix::fs::symlink("/etc", root.join("hostetc")).expect("hostetc");
    std::os::unix::fs::symlink("../../../../../..", root.join("up")).expect("up");
    std::os::unix::fs::symlink("/..", root.join("dotdot")).expect("dotdot");
    std::os::unix::fs::symlink("/up/canary", root.join("mnt-via-link")).expect("link");
    let canary = c.dir.join("canary");
    std::fs::create_dir_all(&canary).expect("canary");
    std::fs::write(canary.join("f"), "canary\n").expect("canary/f");
    let outside = || {
        let mut t = tree(&c.dir, EXACT);
        // Not the bundle directory itself: `state/` comes and goes in it.
        t.retain(|l| !l.starts_with(' ') && !l.starts_with("rootfs") && !l.starts_with("state"));
        t
    };
    let before = outside();
    let out = c.run_with(SNARE, "links");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        !Path::new("/etc/snare-pwned").exists(),
        "wrote the host's /etc"
    );
    assert!(
        !Path::new("/etc/snare-up").exists(),
        "wrote the host's /etc"
    );
    assert!(
        !Path::new("/etc/snare-dotdot").exists(),
        "wrote the host's /etc"
    );
    assert!(root.join("etc/snare-dotdot").exists(), "written inside");
    assert_eq!(outside(), before, "something outside root.path changed");
    assert_eq!(
        std::fs::read_to_string(root.join("etc/snare-pwned")).expect("inside"),
        "pwned\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("etc/snare-up")).expect("inside"),
        "pwned\n"
    );
    assert!(root.join("canary/d").is_dir(), "made inside the rootfs");
    assert!(
        root.join("canary/mnt-dest").is_dir(),
        "made inside the rootfs"
    );
}

#[test]
fn host_swapping_links_in_while_the_guest_writes_stays_inside() {
    // The host (a hostile image tool, or `docker cp` of a link) swaps a directory the guest
    // writes into for a link to its own `/etc`, and back, again and again: every write lands
    // in the rootfs (its `/etc`, or the directory), never in the host's `/etc`.
    let name = format!("snare-swap-{}", std::process::id());
    let script = format!(
        "mkdir -p /d; i=0; while [ $i -lt 300 ]; do echo $i > /d/{name} 2>/dev/null; \
         echo $i >> /d/{name}.log 2>/dev/null; i=$((i+1)); done; echo done"
    );
    let c = Case::new("swap", &["sh", "-c", &script], |_| {});
    let root = c.rootfs();
    std::fs::create_dir_all(root.join("d")).expect("d");
    let stdout = c.dir.join("stdout");
    let child = Command::new(SNARE)
        .arg("--root")
        .arg(&c.state)
        .args(["run", "--bundle", c.bundle(), "swap"])
        .stdin(Stdio::null())
        .stdout(File::create(&stdout).expect("stdout"))
        .stderr(Stdio::null())
        .spawn()
        .expect("snare run");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut swaps = 0;
    while !std::fs::read_to_string(&stdout)
        .unwrap_or_default()
        .contains("done")
    {
        assert!(Instant::now() < deadline, "the guest never finished");
        let _ = std::fs::rename(root.join("d"), root.join("d.real"));
        let _ = std::os::unix::fs::symlink("/etc", root.join("d"));
        std::thread::sleep(Duration::from_millis(1));
        let _ = std::fs::remove_file(root.join("d"));
        let _ = std::fs::rename(root.join("d.real"), root.join("d"));
        swaps += 1;
    }
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0));
    assert!(swaps > 0);
    for f in [name.clone(), format!("{name}.log")] {
        assert!(
            !Path::new("/etc").join(&f).exists(),
            "{f} written in the host's /etc"
        );
    }
    let lines = |p: PathBuf| std::fs::read_to_string(p).map_or(0, |t| t.lines().count());
    eprintln!(
        "{swaps} swaps; appends through the link: {}, into the directory: {}",
        lines(root.join("etc").join(format!("{name}.log"))),
        lines(root.join("d").join(format!("{name}.log")))
    );
    let inside = [root.join("etc").join(&name), root.join("d").join(&name)];
    assert!(inside.iter().any(|p| p.exists()), "no write landed at all");
}

#[test]
fn snare_do_write_root() {
    let r = make_rootfs(&scratch().join("do-write-root"));
    let out = Command::new(SNARE)
        .arg("do")
        .arg("--root")
        .arg(&r)
        .args(["--write-root", "/bin/sh", "-c"])
        .arg("echo hi > /tmp/a; rootfs_sock /tmp/s /tmp/a; chown 1000:1000 /tmp/a")
        .stdin(Stdio::null())
        .output()
        .expect("snare do");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let t = tree(&r.join("tmp"), SHAPE);
    assert!(t.contains(&"a f 644 1000 1000 3 ".to_string()), "{t:?}");
    assert!(t.contains(&"s s 755 0 0 0 ".to_string()), "{t:?}");
    // Without the flag the root is not written; with it, the host's own root is refused.
    let _ = std::fs::remove_file(r.join("tmp/b"));
    let out = Command::new(SNARE)
        .arg("do")
        .arg("--root")
        .arg(&r)
        .args(["/bin/sh", "-c", "echo hi > /tmp/b && cat /tmp/b"])
        .stdin(Stdio::null())
        .output()
        .expect("snare do");
    assert_eq!(text(&out.stdout), "hi\n");
    assert!(!r.join("tmp/b").exists());
    let out = Command::new(SNARE)
        .args(["do", "--write-root", "/bin/true"])
        .stdin(Stdio::null())
        .output()
        .expect("snare do");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--write-root needs --root DIR"),
        "{}",
        text(&out.stderr)
    );
}
