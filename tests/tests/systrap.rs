//! The systrap platform, end to end: hand-assembled guest code in real stub processes.

use std::sync::Arc;
use std::time::Duration;

use snare_abi::signal::{SIGFPE, SIGKILL};
use snare_platform::systrap::Systrap;
use snare_platform::{
    Access, AddressSpace, Context, Error, Event, Interrupter, MapOp, OpError, Platform, Prot,
};
use snare_stub::code::Entry;
use snare_stub::layout::{STUB_BASE, STUB_SLOTS};
use snare_tests::guest::Program;
use snare_tests::harness::{platform, start_regs, Guest, CODE_ADDR, DATA_ADDR};

/// True while a host process or thread with this id exists.
fn alive(path: String) -> bool {
    std::path::Path::new(&path).exists()
}

fn assert_stub_gone(pid: i32) {
    // The pid is reaped by the time drop returns.
    assert!(
        !alive(format!("/proc/{pid}")),
        "stub process {pid} survived"
    );
}

/// Runs a context until an exit syscall, answering every getpid with `pid`. Returns the
/// number of getpid calls.
fn run_getpid(ctx: &mut impl Context, regs: &mut snare_abi::UserRegs, pid: u64) -> u64 {
    let mut n = 0;
    loop {
        match ctx.switch(regs) {
            Event::Syscall if regs.orig_rax == 39 => {
                regs.rax = pid;
                n += 1;
            }
            Event::Syscall if regs.orig_rax == 60 => return n,
            ev => panic!("unexpected event {ev:?} at rip {:#x}", regs.rip),
        }
    }
}

#[test]
fn syscall_number_arguments_and_result() {
    let p = platform();
    let g = Guest::load(&p, Program::Args).expect("load");
    let mut ctx = g.thread().expect("thread");
    let mut regs = start_regs();
    assert_eq!(ctx.switch(&mut regs), Event::Syscall);
    assert_eq!(regs.orig_rax, 0x1234);
    assert_eq!(
        regs.syscall_args(),
        [
            0x1111_1111_1111_1111,
            0x2222_2222_2222_2222,
            0x3333_3333_3333_3333,
            0x4444_4444_4444_4444,
            0x5555_5555_5555_5555,
            0x6666_6666_6666_6666,
        ]
    );
    assert_eq!(
        regs.rax as i64, -38,
        "rax is -ENOSYS until the Sentry answers"
    );
    assert!(regs.rip > CODE_ADDR && regs.rip < CODE_ADDR + 4096);
    regs.rax = 0xabcdef;
    assert_eq!(ctx.switch(&mut regs), Event::Syscall);
    assert_eq!(regs.orig_rax, 60);
    assert_eq!(regs.rdi, 0xabcdef, "the answer landed in rax");
    let pid = g.space.stub_pid();
    drop(ctx);
    drop(g);
    assert_stub_gone(pid);
}

#[test]
fn fs_and_gs_base_round_trip() {
    let p = platform();
    let g = Guest::load(&p, Program::GetpidLoop).expect("load");
    let mut ctx = g.thread().expect("thread");
    let mut regs = start_regs();
    regs.rbx = 2;
    regs.fs_base = 0x1234_5000;
    regs.gs_base = 0x6789_a000;
    assert_eq!(ctx.switch(&mut regs), Event::Syscall);
    assert_eq!((regs.fs_base, regs.gs_base), (0x1234_5000, 0x6789_a000));
    regs.fs_base = 0x7777_0000;
    assert_eq!(ctx.switch(&mut regs), Event::Syscall);
    assert_eq!(regs.fs_base, 0x7777_0000);
}

#[test]
fn store_to_unmapped_page_faults_then_resumes_after_map() {
    let p = platform();
    let g = Guest::load(&p, Program::Store).expect("load");
    let mut ctx = g.thread().expect("thread");
    let mut regs = start_regs();
    let target = 0x2000_0008;
    regs.rbx = target;
    let ev = ctx.switch(&mut regs);
    assert_eq!(
        ev,
        Event::Fault {
            addr: target,
            access: Access::Write
        }
    );
    assert_eq!(regs.rip, CODE_ADDR, "the faulting instruction is retried");
    // Map the page read-only: the write faults again, now on a present page.
    let mem = p.memory_file();
    let off = mem.allocate(4096).expect("page");
    g.space
        .map_file(0x2000_0000, 4096, off, Prot::READ)
        .expect("map");
    let ev = ctx.switch(&mut regs);
    assert!(matches!(ev, Event::Fault { addr, access: Access::Write } if addr == target));
    g.space
        .protect(0x2000_0000, 4096, Prot::RW)
        .expect("protect");
    assert_eq!(ctx.switch(&mut regs), Event::Syscall);
    assert_eq!((regs.orig_rax, regs.rdi), (60, 0x77));
    let mut b = [0u8; 8];
    mem.read(off + 8, &mut b);
    assert_eq!(
        u64::from_ne_bytes(b),
        0x77,
        "the store reached the memory file"
    );
    // Unmapped again, the read faults as a read.
    g.space.unmap(0x2000_0000, 4096).expect("unmap");
    let mut regs = start_regs();
    regs.rbx = target;
    regs.rip = CODE_ADDR + 8; // the load `mov rax, [rbx]`
    let ev = ctx.switch(&mut regs);
    assert!(matches!(ev, Event::Fault { addr, access: Access::Read } if addr == target));
    // Jumping to an unmapped address is an exec fault.
    regs.rip = 0x3000_0000;
    let ev = ctx.switch(&mut regs);
    assert!(matches!(
        ev,
        Event::Fault {
            addr: 0x3000_0000,
            access: Access::Exec
        }
    ));
}

/// A host file mapped straight into the stub (`map_host_file`): the guest reads the file's
/// bytes, a write faults (such a mapping is never writable), the stub keeps no fd of it, and
/// a writable request is refused.
#[test]
fn host_file_is_mapped_read_only_without_a_copy() {
    use std::os::fd::AsRawFd;
    let p = platform();
    let g = Guest::load(&p, Program::Store).expect("load");
    let mut ctx = g.thread().expect("thread");
    let path = std::env::temp_dir().join(format!("snare-hostmap-{}", std::process::id()));
    let mut data = vec![0u8; 8192];
    data[4096 + 8..4096 + 16].copy_from_slice(&0x1234_5678_9abc_def0u64.to_ne_bytes());
    std::fs::write(&path, &data).expect("write the file");
    let f = std::fs::File::open(&path).expect("open");
    std::fs::remove_file(&path).expect("remove");
    let fds_before = std::fs::read_dir(format!("/proc/{}/fd", g.space.stub_pid()))
        .map(|d| d.count())
        .ok();
    g.space
        .map_host_file(f.as_raw_fd(), &[(0x2000_0000, 4096, Prot::READ, 4096)])
        .expect("map");
    // `mov eax, [rbx]` (the load), then exit(rax): the file's second page, 8 bytes in.
    let mut regs = start_regs();
    regs.rbx = 0x2000_0008;
    regs.rip = CODE_ADDR + 8;
    assert_eq!(ctx.switch(&mut regs), Event::Syscall);
    assert_eq!((regs.orig_rax, regs.rdi as u32), (60, 0x9abc_def0));
    // The store faults: the guest can't change what the Sentry would not see.
    let mut regs = start_regs();
    regs.rbx = 0x2000_0008;
    assert!(matches!(
        ctx.switch(&mut regs),
        Event::Fault {
            access: Access::Write,
            ..
        }
    ));
    if let Some(before) = fds_before {
        let after = std::fs::read_dir(format!("/proc/{}/fd", g.space.stub_pid()))
            .expect("fd dir")
            .count();
        assert_eq!(after, before, "the stub kept the file's fd");
    }
    assert!(g
        .space
        .map_host_file(f.as_raw_fd(), &[(0x2100_0000, 4096, Prot::RW, 0)])
        .is_err());
}

/// Runs `TouchPages` over `n` pages from `base`: true if it ran through without a fault.
fn touches_without_fault(ctx: &mut impl Context, base: u64, n: u64) -> bool {
    let mut regs = start_regs();
    regs.rbx = n;
    regs.r12 = base;
    match ctx.switch(&mut regs) {
        Event::Syscall => true,
        Event::Fault { .. } => false,
        ev => panic!("unexpected {ev:?}"),
    }
}

#[test]
fn batched_map_ops_run_in_order_and_stop_at_the_first_failure() {
    let p = platform();
    let g = Guest::load(&p, Program::TouchPages).expect("load");
    let mut ctx = g.thread().expect("thread");
    let mem = p.memory_file();
    let base = 0x1000_0000u64;
    let n = 40u64; // more than one control request holds
    let offs: Vec<u64> = (0..n).map(|_| mem.allocate(4096).expect("page")).collect();
    let ops: Vec<MapOp> = (0..n)
        .map(|i| MapOp::Map {
            addr: base + i * 4096,
            len: 4096,
            file_offset: offs[i as usize],
            prot: Prot::RW,
            populate: i % 2 == 1,
        })
        .collect();
    g.space.apply(&ops).expect("apply");
    assert!(touches_without_fault(&mut ctx, base, n));
    for (i, &o) in offs.iter().enumerate() {
        let mut b = [0u8; 8];
        mem.read(o, &mut b);
        assert_eq!(u64::from_ne_bytes(b), n - i as u64, "page {i}");
    }
    // A host failure in the middle: the ops before it ran, the ones after did not.
    let r = g.space.apply(&[
        MapOp::Protect {
            addr: base,
            len: 4096,
            prot: Prot::READ,
        },
        MapOp::Protect {
            addr: 0x6000_0000,
            len: 4096,
            prot: Prot::READ,
        },
        MapOp::Unmap {
            addr: base + 4096,
            len: 4096,
        },
    ]);
    let e = r.expect_err("mprotect of nothing fails");
    assert_eq!(e.index, 1);
    assert!(matches!(e.error, Error::Host { .. }), "{e:?}");
    assert!(
        !touches_without_fault(&mut ctx, base, 1),
        "page 0 is read-only"
    );
    assert!(
        touches_without_fault(&mut ctx, base + 4096, 1),
        "page 1 stays"
    );
    // A bad range is refused before anything after it runs.
    let r = g.space.apply(&[
        MapOp::Unmap {
            addr: base + 2 * 4096,
            len: 4096,
        },
        MapOp::Map {
            addr: STUB_BASE,
            len: 4096,
            file_offset: offs[0],
            prot: Prot::RW,
            populate: false,
        },
        MapOp::Unmap {
            addr: base + 3 * 4096,
            len: 4096,
        },
    ]);
    assert_eq!(
        r,
        Err(OpError {
            index: 1,
            error: Error::BadRange
        })
    );
    assert!(!touches_without_fault(&mut ctx, base + 2 * 4096, 1));
    assert!(touches_without_fault(&mut ctx, base + 3 * 4096, 1));
}

#[test]
fn division_by_zero_is_a_signal_event() {
    let p = platform();
    let g = Guest::load(&p, Program::Div0).expect("load");
    let mut ctx = g.thread().expect("thread");
    let mut regs = start_regs();
    match ctx.switch(&mut regs) {
        Event::Signal(info) => {
            assert_eq!(info.si_signo, SIGFPE);
            assert_eq!(info.si_code, 1, "FPE_INTDIV");
            assert_eq!(info.addr(), regs.rip);
        }
        ev => panic!("unexpected {ev:?}"),
    }
}

#[test]
fn sse_and_avx_registers_survive_and_can_be_changed() {
    if !std::arch::is_x86_feature_detected!("avx2") {
        eprintln!("skipping: no AVX2");
        return;
    }
    let p = platform();
    let g = Guest::load(&p, Program::Vector).expect("load");
    let mut ctx = g.thread().expect("thread");
    let mut regs = start_regs();
    assert_eq!(ctx.switch(&mut regs), Event::Syscall);
    assert_eq!(regs.orig_rax, 39);
    let mut fp = ctx.fp_state().expect("fp state");
    assert_eq!(fp.xmm(0), [0x02; 16]);
    assert_eq!(fp.xmm(1), [0x04; 16]);
    assert_eq!(fp.xmm(15), [0x08; 16]);
    assert_eq!(fp.ymm_hi(2), Some([0x08; 16]));
    fp.set_xmm(7, [0x5a; 16]);
    ctx.set_fp_state(&fp).expect("set fp");
    assert_eq!(ctx.switch(&mut regs), Event::Syscall);
    assert_eq!(regs.orig_rax, 60);
    let mut out = [0u8; 96];
    p.memory_file().read(g.data_off, &mut out);
    assert_eq!(out[0..16], [0x02; 16], "xmm0 survived the trap");
    assert_eq!(out[16..32], [0x04; 16], "xmm1 survived the trap");
    assert_eq!(out[32..48], [0x08; 16], "xmm15 survived the trap");
    assert_eq!(out[48..64], [0x04; 16], "ymm2 low half");
    assert_eq!(out[64..80], [0x08; 16], "ymm2 high half survived the trap");
    assert_eq!(
        out[80..96],
        [0x5a; 16],
        "the Sentry's change to xmm7 reached the guest"
    );
}

#[test]
fn two_address_spaces_with_four_threads_each() {
    let p = platform();
    let spaces: Vec<Arc<Guest>> = (0..2)
        .map(|_| Arc::new(Guest::load(&p, Program::GetpidLoop).expect("load")))
        .collect();
    let mut handles = Vec::new();
    for (si, g) in spaces.iter().enumerate() {
        for t in 0..4u64 {
            let g = g.clone();
            handles.push(std::thread::spawn(move || {
                let mut ctx = g.thread().expect("thread");
                let mut regs = start_regs();
                regs.rbx = 500;
                let pid = 100 * si as u64 + t;
                let n = run_getpid(&mut ctx, &mut regs, pid);
                assert_eq!(n, 500);
                // Second run on the same thread.
                let mut regs = start_regs();
                regs.rbx = 10;
                assert_eq!(run_getpid(&mut ctx, &mut regs, pid), 10);
                ctx.stub_tid()
            }));
        }
    }
    let tids: Vec<i32> = handles
        .into_iter()
        .map(|h| h.join().expect("thread ran"))
        .collect();
    assert_eq!(tids.len(), 8);
    let pids: Vec<i32> = spaces.iter().map(|g| g.space.stub_pid()).collect();
    // Dropped contexts' stub threads are parked for reuse (a bounded number); the processes
    // still live.
    for (i, &pid) in pids.iter().enumerate() {
        let _ = &tids[4 * i..4 * i + 4];
        let threads = std::fs::read_dir(format!("/proc/{pid}/task"))
            .map(|d| d.count())
            .unwrap_or(0);
        assert!(threads <= 2 + 16, "{threads} stub threads");
        assert!(alive(format!("/proc/{pid}")));
    }
    let source = p.source_pid();
    drop(spaces);
    drop(p);
    for pid in pids {
        assert_stub_gone(pid);
    }
    assert_stub_gone(source);
}

/// Guest code that jumps into the stub's own `syscall` instruction (the control thread's) with
/// dangerous numbers gets a syscall event, not a host call.
#[test]
fn borrowed_stub_syscall_instruction_is_trapped() {
    let p = platform();
    let g = Guest::load(&p, Program::BorrowSyscall).expect("load");
    let target = p.stub_entry(Entry::CtrlSyscall);
    assert!(target >= STUB_BASE);
    let mut ctx = g.thread().expect("thread");
    for (nr, name) in [
        (9u64, "mmap"),
        (59, "execve"),
        (62, "kill"),
        (101, "ptrace"),
        (56, "clone"),
        (11, "munmap"),
        (231, "exit_group"),
    ] {
        let mut regs = start_regs();
        regs.rbx = target;
        regs.r12 = nr;
        regs.r13 = if nr == 62 {
            g.space.stub_pid() as u64
        } else {
            0x3000_0000
        };
        regs.r14 = if nr == 62 { SIGKILL as u64 } else { 4096 };
        let ev = ctx.switch(&mut regs);
        assert_eq!(ev, Event::Syscall, "{name}");
        assert_eq!(regs.orig_rax, nr, "{name}");
        assert_eq!(
            regs.rip,
            target + 2,
            "{name} trapped at the stub's instruction"
        );
    }
    // Nothing was mapped at the requested address, and the stub is alive.
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", g.space.stub_pid())).expect("maps");
    assert!(
        !maps.contains("30000000-"),
        "mmap reached the host:\n{maps}"
    );
    assert!(!g.space.is_dead());
    // The guest can also no longer reach the host through the restorer or the handler.
    let mut regs = start_regs();
    regs.rbx = p.stub_entry(Entry::CtrlLoop);
    regs.r12 = 9;
    let ev = ctx.switch(&mut regs);
    // The control loop reads the request page, which the guest cannot write: whatever it
    // ends up doing, it traps (or faults), and the stub is never made to map.
    assert!(
        matches!(ev, Event::Syscall | Event::Fault { .. } | Event::Signal(_)),
        "{ev:?}"
    );
}

#[test]
fn interrupt_stops_a_spinning_guest() {
    let p = platform();
    let g = Guest::load(&p, Program::Spin).expect("load");
    let mut ctx = g.thread().expect("thread");
    let intr = ctx.interrupter();
    // Before the first switch: returns at once.
    intr.interrupt();
    let mut regs = start_regs();
    assert_eq!(ctx.switch(&mut regs), Event::Interrupted);
    for _ in 0..3 {
        let i = intr.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            i.interrupt();
        });
        assert_eq!(ctx.switch(&mut regs), Event::Interrupted);
        assert!(
            regs.rip >= CODE_ADDR && regs.rip < CODE_ADDR + 4,
            "rip {:#x}",
            regs.rip
        );
        t.join().expect("interrupter");
    }
}

/// A guest's membarrier: the control thread runs the host's private expedited barrier
/// (and its sync-core form) in the stub, while one of its threads spins in guest code.
#[test]
fn membarrier_runs_in_the_stub_while_a_guest_spins() {
    let p = platform();
    let g = Guest::load(&p, Program::Spin).expect("load");
    let mut ctx = g.thread().expect("thread");
    let intr = ctx.interrupter();
    let spinner = std::thread::spawn(move || {
        let mut regs = start_regs();
        ctx.switch(&mut regs)
    });
    std::thread::sleep(Duration::from_millis(20));
    for sync_core in [false, true, false] {
        g.space.membarrier(sync_core).expect("membarrier");
    }
    intr.interrupt();
    assert_eq!(spinner.join().expect("spinner"), Event::Interrupted);
}

#[test]
fn stub_killed_from_outside_ends_its_contexts_only() {
    let p = platform();
    let victim = Guest::load(&p, Program::Spin).expect("load");
    let other = Guest::load(&p, Program::GetpidLoop).expect("load");
    let mut ctx = victim.thread().expect("thread");
    let pid = victim.space.stub_pid();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        // SAFETY: kill(2) with plain integers.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    });
    let mut regs = start_regs();
    assert_eq!(ctx.switch(&mut regs), Event::Exited);
    assert_eq!(ctx.switch(&mut regs), Event::Exited);
    t.join().expect("killer");
    for _ in 0..100 {
        if victim.space.is_dead() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(victim.space.is_dead());
    assert!(victim.space.new_context().is_err());
    // The rest of the sandbox goes on.
    let mut c2 = other.thread().expect("thread");
    let mut regs = start_regs();
    regs.rbx = 3;
    assert_eq!(run_getpid(&mut c2, &mut regs, 1), 3);
}

#[test]
fn guest_corrupting_its_slot_is_killed_not_the_sentry() {
    let p = platform();
    let g = Guest::load(&p, Program::StoreSpin).expect("load");
    let ok = Guest::load(&p, Program::GetpidLoop).expect("load");
    let mut ctx = g.thread().expect("thread");
    let mut regs = start_regs();
    // Thread 0's slot: overwrite its state word with garbage, then never trap again.
    regs.rbx = STUB_SLOTS;
    assert_eq!(ctx.switch(&mut regs), Event::Exited);
    assert!(
        g.space.is_dead() || {
            std::thread::sleep(Duration::from_millis(50));
            g.space.is_dead()
        }
    );
    let mut c2 = ok.thread().expect("thread");
    let mut regs = start_regs();
    regs.rbx = 3;
    assert_eq!(run_getpid(&mut c2, &mut regs, 1), 3);
}

#[test]
fn guest_cannot_map_over_the_stub_region() {
    let p: Systrap = platform();
    let g = Guest::load(&p, Program::GetpidLoop).expect("load");
    let off = p.memory_file().allocate(4096).expect("page");
    assert!(g.space.map_file(STUB_BASE, 4096, off, Prot::RW).is_err());
    assert!(g
        .space
        .map_file(STUB_BASE - 4096, 8192, off, Prot::RW)
        .is_err());
    assert!(g.space.map_file(0, 4096, off, Prot::RW).is_err());
    assert!(g.space.unmap(STUB_BASE, 4096).is_err());
    assert!(g
        .space
        .map_file(DATA_ADDR + 1, 4096, off, Prot::RW)
        .is_err());
    assert!(g
        .space
        .map_file(DATA_ADDR, 4096, p.memory_file().size(), Prot::RW)
        .is_err());
}

#[test]
fn dropping_an_unstarted_context_cleans_up() {
    let p = platform();
    let g = Guest::load(&p, Program::GetpidLoop).expect("load");
    let pid = g.space.stub_pid();
    let mut first = None;
    for _ in 0..20 {
        let ctx = g.thread().expect("thread");
        let tid = ctx.stub_tid();
        // A dropped context's stub thread is parked and taken by the next context.
        assert_eq!(*first.get_or_insert(tid), tid, "stub thread reused");
        drop(ctx);
        let threads = std::fs::read_dir(format!("/proc/{pid}/task"))
            .map(|d| d.count())
            .unwrap_or(0);
        assert!(threads <= 3, "{threads} stub threads");
    }
    // Slots were recycled: a run still works.
    let mut ctx = g.thread().expect("thread");
    let mut regs = start_regs();
    regs.rbx = 2;
    assert_eq!(run_getpid(&mut ctx, &mut regs, 7), 2);
}
