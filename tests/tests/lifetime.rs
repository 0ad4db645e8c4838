//! Stub processes never outlive the Sentry, and an idle sandbox burns no CPU.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use snare_platform::{Context, Event};
use snare_tests::guest::Program;
use snare_tests::harness::{platform, start_regs, Guest};

const CHILD_ENV: &str = "SNARE_TEST_SENTRY_CHILD";

/// True while the process exists and is not a zombie.
fn running(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().next());
            !matches!(state, Some("Z") | Some("X"))
        }
        Err(_) => false,
    }
}

/// In the child: a Sentry with two address spaces and a running thread, printing its stubs'
/// pids, then waiting to be killed.
fn sentry_child() {
    let p = platform();
    let a = Guest::load(&p, Program::GetpidLoop).expect("load");
    let b = Guest::load(&p, Program::Spin).expect("load");
    let mut ctx = b.thread().expect("thread");
    println!(
        "{} {} {}",
        p.source_pid(),
        a.space.stub_pid(),
        b.space.stub_pid()
    );
    let mut regs = start_regs();
    // Blocks for ever: the guest spins.
    let _ = ctx.switch(&mut regs);
}

#[test]
fn stubs_die_with_the_sentry() {
    if std::env::var_os(CHILD_ENV).is_some() {
        sentry_child();
        return;
    }
    let exe = std::env::current_exe().expect("exe");
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "stubs_die_with_the_sentry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn sentry child");
    let stdout = child.stdout.take().expect("stdout");
    let mut pids = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        let nums: Vec<i32> = line
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        if nums.len() == 3 {
            pids = nums;
            break;
        }
    }
    assert_eq!(pids.len(), 3, "child printed its stub pids");
    for &pid in &pids {
        assert!(running(pid), "stub {pid} runs while the Sentry lives");
    }
    child.kill().expect("kill sentry");
    child.wait().expect("reap sentry");
    let deadline = Instant::now() + Duration::from_secs(5);
    while pids.iter().any(|&p| running(p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    for &pid in &pids {
        assert!(!running(pid), "stub {pid} outlived the Sentry");
    }
}

/// CPU time (user + system, in clock ticks) of a host thread.
fn cpu_ticks(pid: i32, tid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).expect("stat");
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .expect("fields")
        .split_whitespace()
        .collect();
    // After the command: state is field 3; utime and stime are fields 14 and 15.
    fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
}

/// A guest waiting on a slow Sentry answer must not spin: the stub sleeps after a short spin
/// window. (CPU time, not wall time: the machine may be busy.)
#[test]
fn idle_stub_sleeps() {
    let p = platform();
    let g = Guest::load(&p, Program::GetpidLoop).expect("load");
    let mut ctx = g.thread().expect("thread");
    let mut regs = start_regs();
    regs.rbx = 2;
    assert_eq!(ctx.switch(&mut regs), Event::Syscall);
    let (pid, tid) = (g.space.stub_pid(), ctx.stub_tid());
    let before = cpu_ticks(pid, tid);
    // The Sentry takes 500 ms to answer.
    std::thread::sleep(Duration::from_millis(500));
    let used = cpu_ticks(pid, tid) - before;
    // A spinning stub would use ~50 ticks; a sleeping one ~0.
    assert!(used <= 10, "stub thread used {used} ticks while waiting");
    regs.rax = 1;
    assert_eq!(ctx.switch(&mut regs), Event::Syscall);
}

#[test]
fn a_pooled_stub_comes_back_empty_and_goes_with_the_platform() {
    use snare_platform::systrap::{Config, Systrap};
    use snare_platform::{Access, AddressSpace, Platform};
    use snare_tests::harness::DATA_ADDR;
    let p = Systrap::new(Config {
        pool: 1,
        ..Config::default()
    })
    .expect("platform");
    let g = Guest::load(&p, Program::Store).expect("load");
    let pid = g.space.stub_pid();
    let mut ctx = g.thread().expect("thread");
    let mut regs = start_regs();
    regs.rbx = DATA_ADDR;
    assert_eq!(
        ctx.switch(&mut regs),
        Event::Syscall,
        "stores to its data page"
    );
    let old_tid = ctx.stub_tid();
    drop(ctx);
    drop(g);
    assert!(running(pid), "the stub went to the pool");
    // The next address space is the same stub, with nothing of the old guest in it: no
    // mappings (the old data page faults) and none of its threads (the parked one exited:
    // nothing that ran the old guest's code may run the next one's; a fresh thread waits).
    let space = p.pooled_address_space().expect("a pooled space");
    assert_eq!(space.stub_pid(), pid);
    let mem = p.memory_file();
    let code = mem.allocate(4096).expect("page");
    mem.write(code, snare_tests::guest::program(Program::Store));
    space
        .map_file(
            snare_tests::harness::CODE_ADDR,
            4096,
            code,
            snare_platform::Prot::RX,
        )
        .expect("map code");
    let mut ctx = space.new_context().expect("thread");
    let mut regs = start_regs();
    regs.rbx = DATA_ADDR;
    assert_eq!(
        ctx.switch(&mut regs),
        Event::Fault {
            addr: DATA_ADDR,
            access: Access::Write
        }
    );
    assert_ne!(
        ctx.stub_tid(),
        old_tid,
        "a new thread, not the old process's"
    );
    let old_task = format!("/proc/{pid}/task/{old_tid}");
    assert!(
        !std::path::Path::new(&old_task).exists(),
        "the old thread is gone"
    );
    drop(ctx);
    drop(space);
    drop(p);
    let deadline = Instant::now() + Duration::from_secs(5);
    while running(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!running(pid), "the pooled stub went with the platform");
}

/// A stub killed from several Sentry threads at once is gone (reaped) by the time each
/// `kill` returns: only then may its pages go to other processes. (A second caller used to
/// return while the first was still waiting for the stub to die, and the slots it freed were
/// still mapped in a stub whose threads ran.)
#[test]
fn a_stub_killed_from_several_threads_is_gone_when_each_kill_returns() {
    use snare_platform::AddressSpace;
    let p = platform();
    for _ in 0..5 {
        let g = Guest::load(&p, Program::Spin).expect("load");
        let pid = g.space.stub_pid();
        let mut ctx = g.thread().expect("thread");
        let mut regs = start_regs();
        let runner = std::thread::spawn(move || {
            let _ = ctx.switch(&mut regs);
            ctx
        });
        std::thread::sleep(Duration::from_millis(20));
        let barrier = std::sync::Barrier::new(4);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    barrier.wait();
                    g.space.kill();
                    assert!(
                        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
                        "kill returned with stub {pid} still there"
                    );
                });
            }
        });
        drop(runner.join().expect("runner"));
    }
}
