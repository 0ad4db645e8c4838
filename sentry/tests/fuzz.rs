//! Issue 12's fuzzers with fixed seeds and a short budget: `tests/guests/fuzz_syscalls.c`
//! (random syscalls and arguments from many threads and processes) and
//! `tests/guests/fuzz_slots.c` (guest threads scribbling over their stub's shared memory
//! while others make syscalls). `bench/fuzz` runs them for long.
//!
//! Each run is checked from outside: exit status 0, no panic on stderr, no hang (the run is
//! killed and the test fails after its budget + 60 s), no stub process left once `snare`
//! is gone (its children are sampled every 50 ms while it runs), and the Sentry's fd count
//! and memory-file use when the guest is quiet at the end against the same after its first
//! round (the guest prints `QUIET n` and idles 300 ms). The memory file runs with its
//! quarantine on (`SNARE_DEBUG_QUARANTINE_MB`): a page written after it was freed (a stub
//! or a Sentry copy still reaching it), freed twice or handed out twice is logged, and fails
//! the run.
//!
//! Every hazard class is on; the guests' header comments list the classes, which
//! `bench/fuzz --exclude` turns off to narrow a finding down.
mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{build, SNARE};

/// What the syscall fuzzer excludes in CI: nothing (the classes it used to leave out —
/// garbage `rt_sigreturn` frames, huge timers, fd and memory exhaustion, bad signal numbers —
/// were issue 12's bugs, fixed).
const EXCLUDE_SYSCALLS: &str = "none";
/// What the slot fuzzer excludes in CI: nothing. Forged events and jumps into stub code used
/// to be left out: with them a checking process rarely saw a wrong page. The causes were a
/// kill that returned before the stub was reaped (a second caller's), a munmap held back
/// while another thread's mmap batch was open, and Sentry copies through a page offset
/// looked up under a lock already dropped (session 8, docs/STATUS.md); and (session 12) a
/// copy-on-write page released before the stub mapped its copy, which a checker's other
/// thread could still be running (its trap table) when the child sharing it exited.
const EXCLUDE_SLOTS: &str = "none";

/// The Sentry's fds and memory-file blocks (512-byte units) at one quiet point. Pidfds are
/// counted apart: the platform keeps and drops them lazily (10 to 28 over a 20 s run, no
/// trend), while other fds stay constant.
#[derive(Debug, Clone, Copy)]
struct Sample {
    fds: usize,
    pidfds: usize,
    memfd_blocks: u64,
}

fn sample(pid: u32) -> Option<Sample> {
    let (mut fds, mut pidfds, mut memfd_blocks) = (0, 0, 0);
    for e in std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.flatten() {
        let target = std::fs::read_link(e.path()).unwrap_or_default();
        let target = target.to_string_lossy();
        if target == "anon_inode:[pidfd]" {
            pidfds += 1;
        } else {
            fds += 1;
        }
        if target.starts_with("/memfd:") {
            if let Ok(m) = std::fs::metadata(e.path()) {
                memfd_blocks += m.blocks();
            }
        }
    }
    Some(Sample {
        fds,
        pidfds,
        memfd_blocks,
    })
}

/// `(pid, start time)` of every process whose parent is `parent`: the stub processes.
fn children_of(parent: u32) -> Vec<(u32, u64)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Some((ppid, start, _)) = stat_of(pid) {
            if ppid == parent {
                out.push((pid, start));
            }
        }
    }
    out
}

/// `(ppid, starttime, state)` from `/proc/PID/stat`.
fn stat_of(pid: u32) -> Option<(u32, u64, char)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which is in parentheses and may hold anything.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let state = f.first()?.chars().next()?;
    Some((f.get(1)?.parse().ok()?, f.get(19)?.parse().ok()?, state))
}

/// The stubs among `seen` still alive (not zombies) after `grace`.
fn survivors(seen: &HashSet<(u32, u64)>, grace: Duration) -> Vec<u32> {
    let until = Instant::now() + grace;
    loop {
        let alive: Vec<u32> = seen
            .iter()
            .filter(|&&(pid, start)| {
                matches!(stat_of(pid), Some((_, s, state)) if s == start && state != 'Z')
            })
            .map(|&(pid, _)| pid)
            .collect();
        if alive.is_empty() || Instant::now() >= until {
            return alive;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Run {
    child: Child,
    stdout: Arc<Mutex<String>>,
    samples: Arc<Mutex<Vec<Sample>>>,
    stderr: std::thread::JoinHandle<String>,
    stubs: HashSet<(u32, u64)>,
}

fn start(guest: &Path, args: &[&str]) -> Run {
    let mut child = Command::new(SNARE)
        .env("SNARE_DEBUG_QUARANTINE_MB", "32")
        .arg("do")
        .arg("--")
        .arg(guest)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run snare");
    let pid = child.id();
    let stdout = Arc::new(Mutex::new(String::new()));
    let samples = Arc::new(Mutex::new(Vec::new()));
    let out = child.stdout.take().expect("stdout");
    {
        let (stdout, samples) = (stdout.clone(), samples.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if line.starts_with("QUIET ") {
                    if let Some(s) = sample(common::sentry_of(pid)) {
                        samples.lock().unwrap_or_else(|e| e.into_inner()).push(s);
                    }
                }
                let mut o = stdout.lock().unwrap_or_else(|e| e.into_inner());
                o.push_str(&line);
                o.push('\n');
            }
        });
    }
    let mut err = child.stderr.take().expect("stderr");
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    Run {
        child,
        stdout,
        samples,
        stderr,
        stubs: HashSet::new(),
    }
}

impl Run {
    /// Waits for `snare` until `deadline`, sampling its children; kills it at the deadline.
    /// Returns its exit code (None: killed as a hang, or by a signal).
    fn wait(&mut self, deadline: Instant) -> (Option<i32>, bool) {
        loop {
            self.stubs
                .extend(children_of(common::sentry_of(self.child.id())));
            if let Some(st) = self.child.try_wait().expect("wait snare") {
                return (st.code(), false);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return (None, true);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn output(self) -> (String, String) {
        let err = self.stderr.join().unwrap_or_default();
        // The stdout reader ends with the pipe; give it a moment after the exit.
        std::thread::sleep(Duration::from_millis(50));
        let out = self
            .stdout
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        (out, err)
    }
}

/// Runs one fuzzer under `snare do` and checks everything observable from outside.
fn fuzz(name: &str, seed: u64, budget_ms: u64) {
    let guest = build(name, true);
    let exclude = if name == "fuzz_slots" {
        EXCLUDE_SLOTS
    } else {
        EXCLUDE_SYSCALLS
    };
    let (seed, budget) = (seed.to_string(), budget_ms.to_string());
    let began = Instant::now();
    let mut run = start(&guest, &[&seed, &budget, exclude]);
    let deadline = began + Duration::from_millis(budget_ms) + Duration::from_secs(60);
    let (code, hung) = run.wait(deadline);
    let stubs = std::mem::take(&mut run.stubs);
    let samples = run
        .samples
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let (out, err) = run.output();
    let tail: String = out.lines().rev().take(5).collect::<Vec<_>>().join("\n");
    let what = format!(
        "{name} {seed} {budget} {exclude} (reproduce: snare do -- {} {seed} {budget} {exclude})\n\
         --- stdout (last lines, newest first)\n{tail}\n--- stderr\n{err}",
        guest.display()
    );
    assert!(
        !hung,
        "hang: snare killed after {:?}\n{what}",
        began.elapsed()
    );
    assert!(!err.contains("panicked"), "Sentry panic\n{what}");
    assert!(
        !err.contains("quarantine:"),
        "memory-file page misused\n{what}"
    );
    assert_eq!(code, Some(0), "exit status\n{what}");
    assert!(out.contains(": ok rounds="), "no end line\n{what}");
    assert!(!stubs.is_empty(), "no stub process seen\n{what}");
    // The guest's own view at the end: no process but its init.
    let last_quiet = out.lines().rfind(|l| l.starts_with("QUIET "));
    assert!(
        last_quiet.is_some_and(|l| l.contains(" procs=0")),
        "guest processes left: {last_quiet:?}\n{what}"
    );
    let left = survivors(&stubs, Duration::from_secs(3));
    assert!(left.is_empty(), "stub processes left: {left:?}\n{what}");
    // After the first round and at the end the guest is quiet: nothing but its init runs.
    // Slack: caches (spare stubs, recycled memory-file runs up to 32 MiB, and the page
    // cache of host files the fuzzed calls read, kept until the memory limit) may grow;
    // session 14 saw 69 MiB once in four runs of the session's starting commit on a fresh
    // machine (two 32 MiB steps), so the bound is 128 MiB: a leak grows past it per round.
    if let [first, .., last] = samples[..] {
        eprintln!("{name} {seed}: after round 0 {first:?}, at the end {last:?}");
        assert!(
            last.fds <= first.fds + 8 && last.pidfds <= first.pidfds + 64,
            "the Sentry's fds grew: {first:?} to {last:?}\n{what}"
        );
        let mib = |b: u64| (b * 512) >> 20;
        assert!(
            mib(last.memfd_blocks) <= mib(first.memfd_blocks) + 128,
            "the memory file grew from {} to {} MiB\n{what}",
            mib(first.memfd_blocks),
            mib(last.memfd_blocks)
        );
    }
}

#[test]
fn syscall_fuzzer_fixed_seeds() {
    for seed in [1, 2, 3] {
        fuzz("fuzz_syscalls", seed, 1500);
    }
}

#[test]
fn slot_fuzzer_fixed_seeds() {
    for seed in [1, 2, 3] {
        fuzz("fuzz_slots", seed, 1500);
    }
}

/// SIGKILL of `snare` in the middle of a fuzzing run leaves no stub process behind.
#[test]
fn sigkill_of_snare_mid_fuzz_leaves_no_stub() {
    let guest = build("fuzz_syscalls", true);
    let mut run = start(&guest, &["4", "60000", EXCLUDE_SYSCALLS]);
    let (code, _) = run.wait(Instant::now() + Duration::from_millis(1500));
    assert_eq!(code, None, "snare ended early");
    let stubs = std::mem::take(&mut run.stubs);
    let _ = run.output();
    assert!(!stubs.is_empty(), "no stub process seen");
    let left = survivors(&stubs, Duration::from_secs(3));
    assert!(left.is_empty(), "stub processes left: {left:?}");
}

/// What the fuzzers found, as plain differential cases (`tests/guests/fuzz_findings.c`).
#[test]
fn fuzz_findings_match_linux() {
    common::c_program("fuzz_findings", &[]);
}
