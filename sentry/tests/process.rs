//! Differential tests for processes, threads and signals (issue 4): C guests run natively and
//! under `snare do`, stdout and exit status compared.

mod common;

use common::*;

#[test]
fn signals() {
    c_program("signals", &[]);
}

/// Who may signal whom: processes of other uids get EPERM from kill, a group kill, tgkill
/// and sigqueue; SIGCONT in the session passes; si_uid is the sender's real uid.
#[test]
fn signal_permissions() {
    c_program("kill_perm", &[]);
}

/// POSIX timers, CPU-time itimers, interrupted and restarted sleeps (`timers.c`).
#[test]
fn timers() {
    c_program("timers", &[]);
}

/// CPU-time clocks by id: the caller's, another thread's, another process's, and the ids
/// Linux refuses, in clock_gettime, clock_getres and clock_nanosleep (`cpu_clocks.c`).
#[test]
fn cpu_clocks() {
    c_program("cpu_clocks", &[]);
}

/// Children's CPU time: getrusage(RUSAGE_CHILDREN), times' cutime, wait4's and waitid's
/// rusage, a grandchild's counted through its parent, WNOWAIT not counting (`cputime.c`).
#[test]
fn children_cpu_time() {
    c_program("cputime", &[]);
}

/// A guest's own seccomp filters (`seccomp.c`): programs checked as Linux checks them, each
/// action (errno, trap with its siginfo and rolled-back return, kill, an unknown action), the
/// chain's precedence, argument conditions, inheritance by fork, threads (TSYNC, a diverged
/// thread named) and exec, strict mode's SIGKILL, PR_GET_SECCOMP and /proc/self/status.
#[test]
fn guest_seccomp_filters() {
    c_program("seccomp", &[]);
}

/// A signal that reaches a child before it first runs is handled (`signal_newborn.c`): the
/// frame's FP state is the one the child will start with (it was EFAULT, and the child
/// died of SIGSEGV, about 1 in 150 forks).
#[test]
fn signal_before_the_first_run() {
    c_program("signal_newborn", &[]);
}

/// `process_vm_readv`/`process_vm_writev` and `pidfd_getfd` between sandbox processes
/// (`process_vm.c`): scattered iovecs, a transfer cut at an unmapped page, the errors and
/// the ptrace-style permission check.
#[test]
fn process_vm_and_pidfd_getfd() {
    c_program("process_vm", &[]);
}

/// A pidfd in poll and epoll: readable once its process exits; an open /proc/PID directory
/// as a pidfd for pidfd_send_signal (`pidfd.c`).
#[test]
fn pidfd_events() {
    c_program("pidfd", &[]);
}

/// Patched syscall sites (`tests/guests/patch.c`): the fast path keeps every register, the
/// red zone and the flags, delivers signals on the way back, restarts, and works in
/// threads, forked children and after exec; and under snare the sites really are patched.
#[test]
fn patched_syscall_sites() {
    c_program("patch", &[]);
    let out = std::process::Command::new(SNARE)
        .env("SNARE_LOG", "debug")
        .args(["do", "--"])
        .arg(build("patch", true))
        .output()
        .expect("run snare");
    assert!(out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    let patched = log.matches("patched a syscall site").count();
    // Skipped where the CPU or kernel has no user FSGSBASE (the platform then never patches).
    let fsgsbase = std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|c| c.contains(" fsgsbase"));
    assert!(!fsgsbase || patched >= 5, "{patched} sites patched:\n{log}");
}

/// glibc's `read` sites (`xor eax, eax; syscall; cmp rax, -4096`, `tests/guests/readsite.c`):
/// patched while threads are blocked in them, race through them, or have signal frames
/// returning into them; restarts, EINTR, fork, forged frames at every byte, exec. Under
/// snare the sites really are patched, and the threads sent inside a patched site go on in
/// its entry: at least the forged frames at its `syscall` (3) and its return address (7)
/// and the two interrupted reads whose handlers waited while it was patched.
#[test]
fn patched_read_sites() {
    c_program("readsite", &[]);
    let out = std::process::Command::new(SNARE)
        .env("SNARE_LOG", "debug")
        .args(["do", "--"])
        .arg(build("readsite", true))
        .output()
        .expect("run snare");
    assert!(out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    let patched = log
        .lines()
        .filter(|l| l.contains("patched a syscall site") && l.contains("kind=\"xor\""))
        .count();
    let resumed = log.matches("resumed inside a patched site").count();
    let fsgsbase = std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|c| c.contains(" fsgsbase"));
    assert!(
        !fsgsbase || patched >= 10,
        "{patched} read sites patched:\n{log}"
    );
    assert!(
        !fsgsbase || resumed >= 12,
        "{resumed} threads resumed:\n{log}"
    );
}

#[test]
fn threads() {
    c_program("threads", &[]);
}

/// Threads mapping and unmapping at once: a munmap must reach the stub before its thread runs
/// guest code again, even while another thread's mmap batch is open (`MemoryManager::batched`).
#[test]
fn threads_mapping_at_once() {
    c_program("mmap_threads", &[]);
}

/// A copy-on-write page written by one thread while another reads it and the child sharing
/// it exits (`tests/guests/cow_unshare.c`): the reader sees only the old or new contents.
/// With the memory file's quarantine on, a page released before the stub mapped its copy
/// reads as the quarantine's canary (the bug this found failed every run of 300 rounds).
#[test]
fn cow_unshare_under_a_reader() {
    let prog = build("cow_unshare", false);
    let native = native(&prog, &["300"]);
    assert!(native.status.success(), "natively: {native:?}");
    let out = std::process::Command::new(SNARE)
        .env("SNARE_DEBUG_QUARANTINE_MB", "32")
        .args(["do", "--"])
        .arg(&prog)
        .arg("300")
        .output()
        .expect("run snare");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&native.stdout),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{out:?}");
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
{ for i in 1 2 3; do (sleep 0.$i; echo job $i; exit $i) & done; wait; } | sort
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

/// Advisory locks between processes (`locks.c`): F_SETLK conflicts, F_GETLK, F_SETLKW waits,
/// splitting and merging, release on close and exit, EDEADLK, OFD locks, flock, and waits
/// interrupted by a signal. The file is under /tmp: the host's natively, the guest's tmpfs
/// under snare.
#[test]
fn file_locks() {
    let path = format!("/tmp/snare-locks-{}.bin", std::process::id());
    let prog = build("locks", true);
    let n = native(&prog, &[&path]);
    assert!(
        n.status.success() && n.stdout.ends_with(b"done\n"),
        "natively: {:?}\n{}",
        n.status,
        String::from_utf8_lossy(&n.stdout)
    );
    c_program("locks", &[&path]);
}

/// Two sqlite3 processes insert into one WAL database at once (each row its own commit); none
/// is lost. sqlite serialises writers with fcntl locks on the database and its -shm file.
#[test]
fn sqlite_writers_share_a_database() {
    if !std::path::Path::new("/usr/bin/sqlite3").exists() {
        panic!("sqlite3 is not installed (bash .ci/setup installs it)");
    }
    let script = r#"
db=/tmp/snare-sqlite-$$.db
rm -f "$db" "$db-wal" "$db-shm"
sqlite3 "$db" 'PRAGMA journal_mode=WAL; CREATE TABLE t(w INTEGER, i INTEGER);' >/dev/null
ins() {
  echo 'PRAGMA busy_timeout=30000;'
  i=0; while [ $i -lt 200 ]; do echo "INSERT INTO t VALUES($1,$i);"; i=$((i+1)); done
}
ins 1 | sqlite3 "$db" >/dev/null 2>"$db.err1" &
ins 2 | sqlite3 "$db" >/dev/null 2>"$db.err2" &
wait
echo "rows $(sqlite3 "$db" 'SELECT count(*) FROM t;')"
echo "per writer $(sqlite3 "$db" 'SELECT group_concat(n) FROM (SELECT count(*) AS n FROM t GROUP BY w ORDER BY w);')"
cat "$db.err1" "$db.err2"
rm -f "$db" "$db-wal" "$db-shm" "$db.err1" "$db.err2"
"#;
    let want = "rows 400\nper writer 200,200\n";
    let n = native(std::path::Path::new("/bin/sh"), &["-c", script]);
    assert_eq!(
        String::from_utf8_lossy(&n.stdout),
        want,
        "the test itself, natively"
    );
    assert_eq!(under_snare("/bin/sh", &["-c", script]), want);
}

/// Runs `prog args` under snare only; returns stdout, asserting success.
fn under_snare(prog: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(SNARE)
        .arg("do")
        .arg("--")
        .arg(prog)
        .args(args)
        .output()
        .expect("run snare");
    assert!(
        out.status.success(),
        "{prog} {args:?}: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A fork bomb ends with EAGAIN at the sandbox's task limit (RLIMIT_NPROC), not a hung host.
#[test]
fn fork_bomb_is_held_by_the_task_limit() {
    let prog = build("forkbomb", false);
    let out = under_snare(prog.to_str().expect("utf-8"), &[]);
    assert_eq!(
        out,
        "limit small\nstopped by Resource temporarily unavailable, all reaped=1, many=1\n"
    );
}

/// Compilers, build tools and scripting languages that fork and exec.
#[test]
fn real_programs_that_fork() {
    // gcc runs cc1, as and ld as separate processes; the result runs in the sandbox.
    let out = under_snare(
        "/bin/sh",
        &[
            "-c",
            "printf '#include <stdio.h>\\nint main(void){puts(\"hello from gcc\");return 0;}\\n' > /tmp/h.c \
             && gcc -o /tmp/h /tmp/h.c && /tmp/h",
        ],
    );
    assert_eq!(out, "hello from gcc\n");
    // make -j2 on a three-file project.
    let out = under_snare(
        "/bin/sh",
        &[
            "-c",
            "mkdir -p /tmp/p && cd /tmp/p && echo 'int a(void){return 1;}' > a.c && \
             echo 'int b(void){return 2;}' > b.c && \
             printf '#include <stdio.h>\\nint a(void);int b(void);int main(void){printf(\"sum %%d\\\\n\",a()+b());return 0;}\\n' > m.c && \
             printf 'prog: a.o b.o m.o\\n\\tcc -o $@ $^\\n%%.o: %%.c\\n\\tcc -c -o $@ $<\\n' > Makefile && \
             make -s -j2 && ./prog",
        ],
    );
    assert_eq!(out, "sum 3\n");
    // git init/add/commit in /tmp.
    let out = under_snare(
        "/bin/sh",
        &[
            "-c",
            "cd /tmp && git init -q r && cd r && git config user.email a@b.c && git config user.name n && \
             echo hi > f && git add f && git commit -qm first && echo more >> f && git commit -qam second && \
             git log --format=%s",
        ],
    );
    assert_eq!(out, "second\nfirst\n");
    // perl.
    let out = under_snare(
        "/usr/bin/perl",
        &[
            "-e",
            "my $s = 0; $s += $_ for 1..100; print \"$s\\n\"; print `echo from backticks`;",
        ],
    );
    assert_eq!(out, "5050\nfrom backticks\n");
    // python3: threads and subprocesses.
    let out = under_snare(
        "/usr/bin/python3",
        &[
            "-c",
            "import threading, subprocess\n\
             r = []\n\
             ts = [threading.Thread(target=lambda i=i: r.append(i * i)) for i in range(200)]\n\
             [t.start() for t in ts]; [t.join() for t in ts]\n\
             print(len(r), sum(r))\n\
             print(subprocess.run(['/bin/echo', 'sub'], capture_output=True, text=True).stdout.strip())\n\
             print(subprocess.run('echo piped | tr a-z A-Z', shell=True, capture_output=True, text=True).stdout.strip())",
        ],
    );
    assert_eq!(out, "200 2646700\nsub\nPIPED\n");
    // 200 processes at once.
    let out = under_snare(
        "/bin/sh",
        &[
            "-c",
            "for i in $(seq 200); do /bin/true & done; wait; echo all done",
        ],
    );
    assert_eq!(out, "all done\n");
}

/// POSIX shared memory and semaphores across fork (/dev/shm, MAP_SHARED tmpfs files).
#[test]
fn shared_memory_and_semaphores() {
    c_program("shm", &[]);
}

/// python's multiprocessing: a Pool of 4 worker processes with semaphores in /dev/shm.
#[test]
fn python_multiprocessing_pool() {
    let out = under_snare(
        "/usr/bin/python3",
        &[
            "-c",
            "import multiprocessing as m\n\
             if __name__ == '__main__':\n\
             \x20   with m.Pool(4) as p:\n\
             \x20       print(sum(p.map(abs, range(-50, 50))))",
        ],
    );
    assert_eq!(out, "2500\n");
}

/// FIFOs (between threads and processes), signalfd, fallocate.
#[test]
fn fifos_signalfd_fallocate() {
    let d = scratch().join("fifo-scratch");
    std::fs::create_dir_all(&d).expect("scratch");
    c_program("fifo", &[d.to_str().expect("utf-8")]);
}

/// The edges of the same families (`tests/guests/fifo_edges.c`): FIFO open rules and
/// fstat, mknod types, openat2's RESOLVE_* walks and flag checks, fallocate and the advice
/// calls on odd files. The guest checks itself natively first ("failures 0").
#[test]
fn fifo_openat2_fallocate_edges() {
    let d = scratch().join("fifo-edges-scratch");
    std::fs::create_dir_all(&d).expect("scratch");
    let dir = d.to_str().expect("utf-8");
    let out = native(&build("fifo_edges", true), &[dir]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("failures 0"),
        "natively: {stdout}"
    );
    c_program("fifo_edges", &[dir]);
}

/// /dev: the stdio links lead to the fds, /dev/tty without a terminal is ENXIO, the listing.
#[test]
fn dev_links_and_listing() {
    let out = under_snare(
        "/bin/sh",
        &[
            "-c",
            "echo via-stdout > /dev/stdout; echo hi | cat /dev/stdin; readlink /dev/stderr /dev/fd; \
             (cat /dev/tty </dev/null 2>/dev/null) || echo no-tty; ls /dev | tr '\\n' ' '",
        ],
    );
    assert_eq!(
        out,
        "via-stdout\nhi\n/proc/self/fd/2\n/proc/self/fd\nno-tty\n\
         fd full null ptmx pts random shm stderr stdin stdout tty urandom zero "
    );
}

/// A guest process whose stub process is killed from outside dies of SIGKILL (with a log
/// line); the rest of the sandbox goes on.
#[test]
fn stub_killed_from_outside_kills_only_its_process() {
    let child = std::process::Command::new(SNARE)
        .args([
            "do",
            "--",
            "/bin/sh",
            "-c",
            "sleep 30 & echo started; wait $!; echo \"status $?\"; echo shell goes on",
        ])
        .env("SNARE_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run snare");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // The stub processes are the Sentry's children; the newest is sleep's.
    let me = sentry_of(child.id()).to_string();
    let mut stubs: Vec<(u64, i32)> = Vec::new();
    for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let Some(rest) = stat.rsplit_once(") ").map(|(_, r)| r) else {
            continue;
        };
        let f: Vec<&str> = rest.split(' ').collect();
        if f.get(1) == Some(&me.as_str()) {
            let start: u64 = f.get(19).and_then(|s| s.parse().ok()).unwrap_or(0);
            let pid: i32 = e.file_name().to_string_lossy().parse().unwrap_or(0);
            stubs.push((start, pid));
        }
    }
    stubs.sort();
    let (_, victim) = *stubs.last().expect("a stub process");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(victim),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill the stub");
    let killed = std::time::Instant::now();
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stdout, "started\nstatus 137\nshell goes on\n", "{stderr}");
    assert!(stderr.contains("stub process died"), "{stderr}");
    // sleep waited in the Sentry: its stub's death ended it then, not 30 s later.
    assert!(
        killed.elapsed() < std::time::Duration::from_secs(20),
        "the sleeping process outlived its stub"
    );
}

/// `ps`, `pgrep` and `/proc/PID` see every process of the sandbox, as natively in a pid
/// namespace of their own (`unshare --pid --fork --mount-proc`): procps's `ps` lists the
/// shell (pid 1), its `sleep` and itself.
#[test]
fn ps_sees_every_process() {
    let script = "sleep 5 & until [ \"$(cat /proc/$!/comm 2>/dev/null)\" = sleep ]; do :; done; \
                  ps -o pid,ppid,comm,args -p 1,2; ps -e -o comm=; pgrep -x sleep; tr '\\0' ' ' </proc/2/cmdline; echo; \
                  grep -E '^(Name|Pid|PPid):' /proc/2/status; readlink /proc/2/exe; \
                  ls /proc | grep -E '^(1|2)$'; kill $!";
    let have = |p: &str| std::path::Path::new(p).exists();
    if !have("/usr/bin/ps") || !have("/usr/bin/unshare") || !have("/usr/bin/pgrep") {
        eprintln!("skipped: procps or util-linux missing");
        return;
    }
    let native = std::process::Command::new("/usr/bin/unshare")
        .args(["--pid", "--fork", "--mount-proc", "/bin/sh", "-c", script])
        .output()
        .expect("unshare");
    assert!(
        native.status.success(),
        "natively: {}",
        String::from_utf8_lossy(&native.stderr)
    );
    let ours = snare(std::path::Path::new("/bin/sh"), &["-c", script]);
    assert_eq!(
        String::from_utf8_lossy(&ours.stdout),
        String::from_utf8_lossy(&native.stdout),
        "stderr: {}",
        String::from_utf8_lossy(&ours.stderr)
    );
    assert!(String::from_utf8_lossy(&ours.stdout).contains("sleep 5"));
}
