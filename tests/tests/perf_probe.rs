//! Manual probes of the hand-off's cost under different spin settings (not timing assertions;
//! run with `cargo test --release -p snare-tests --test perf_probe -- --ignored --nocapture`).

use std::time::{Duration, Instant};

use snare_platform::systrap::{Config, Systrap};
use snare_platform::{Context, Event};
use snare_tests::guest::Program;
use snare_tests::harness::{start_regs, Guest};

fn getpid_ns(spin: Option<Duration>, n: u64) -> f64 {
    let p = Systrap::new(Config {
        memory_size: 1 << 30,
        spin,
        ..Config::default()
    })
    .expect("platform");
    let g = Guest::load(&p, Program::GetpidLoop).expect("load");
    let mut ctx = g.thread().expect("thread");
    let mut best = f64::MAX;
    for _ in 0..5 {
        let mut regs = start_regs();
        regs.rbx = n;
        let t = Instant::now();
        loop {
            match ctx.switch(&mut regs) {
                Event::Syscall if regs.orig_rax == 39 => regs.rax = 1,
                Event::Syscall => break,
                ev => panic!("{ev:?}"),
            }
        }
        best = best.min(t.elapsed().as_nanos() as f64 / n as f64);
    }
    best
}

#[test]
#[ignore]
fn spin_windows() {
    for spin in [
        Some(Duration::ZERO),
        Some(Duration::from_micros(5)),
        Some(Duration::from_micros(20)),
        None,
        Some(Duration::from_micros(200)),
    ] {
        println!("spin {spin:?}: getpid {:.0} ns", getpid_ns(spin, 20_000));
    }
}

#[test]
#[ignore]
fn page_faults() {
    use snare_platform::{AddressSpace, Platform, Prot};
    let p = Systrap::new(Config::default()).expect("platform");
    let g = Guest::load(&p, Program::TouchPages).expect("load");
    let mut ctx = g.thread().expect("thread");
    let n = 2000u64;
    let base = 0x1000_0000u64;
    let mem = p.memory_file();
    for round in 0..3 {
        let mut regs = start_regs();
        regs.rbx = n;
        regs.r12 = base;
        let mut offs = vec![];
        let t = Instant::now();
        let mut in_map = Duration::ZERO;
        loop {
            match ctx.switch(&mut regs) {
                Event::Fault { addr, .. } => {
                    let off = mem.allocate(4096).expect("page");
                    let tm = Instant::now();
                    g.space
                        .map_file(addr & !4095, 4096, off, Prot::RW)
                        .expect("map");
                    in_map += tm.elapsed();
                    offs.push(off);
                }
                Event::Syscall => break,
                ev => panic!("{ev:?}"),
            }
        }
        let per = t.elapsed().as_nanos() as f64 / n as f64;
        g.space.unmap(base, n * 4096).expect("unmap");
        for o in offs {
            mem.free(o, 4096);
        }
        println!(
            "round {round}: fault->map->resume {per:.0} ns (map {:.0} ns)",
            in_map.as_nanos() as f64 / n as f64
        );
    }
    // Native first touch.
    for _ in 0..3 {
        let t = Instant::now();
        let v = vec![0u8; (n * 4096) as usize];
        let mut v = std::hint::black_box(v);
        for i in 0..n as usize {
            v[i * 4096] = 1;
        }
        std::hint::black_box(&v);
        println!(
            "native first touch {:.0} ns",
            t.elapsed().as_nanos() as f64 / n as f64
        );
    }
}

#[test]
#[ignore]
fn ctrl_calls() {
    use snare_platform::{AddressSpace, Platform, Prot};
    let p = Systrap::new(Config::default()).expect("platform");
    let g = Guest::load(&p, Program::TouchPages).expect("load");
    let off = p.memory_file().allocate(4096).expect("page");
    for _ in 0..3 {
        let n = 2000;
        let t = Instant::now();
        for i in 0..n {
            g.space
                .map_file(0x1000_0000 + i * 4096, 4096, off, Prot::RW)
                .expect("map");
        }
        println!(
            "ctrl mmap {:.0} ns",
            t.elapsed().as_nanos() as f64 / n as f64
        );
        g.space.unmap(0x1000_0000, n * 4096).expect("unmap");
    }
}
