//! The systrap platform next to the machine it runs on, one criterion group per operation:
//!
//! - `getpid`: `native` (a raw host `getpid`), `sigsys_floor` (a seccomp trap answered inside
//!   an in-process SIGSYS handler: the floor of any signal-based design) and `systrap` (a guest
//!   `getpid` answered by the Sentry side through the platform's hand-off);
//! - `page_fault`: `native` (first touch of a fresh anonymous page) and `systrap` (a guest
//!   store to an unmapped page: fault event, one page allocated in the memory file, mapped by
//!   the stub's control thread, store retried). One iteration is one page.
//!
//! Platform, address spaces and contexts are made once, outside the timed part; each sample
//! re-runs its guest program on the same context with fresh start registers (the guest's
//! `exit` is only an event: the thread stays alive). Run with
//! `cargo bench -p snare-bench --bench platform`; see the crate README for results.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use snare_bench::sigsys::{SigsysFloor, FAKE_PID};
use snare_bench::{native, CHUNK_PAGES, PAGE};
use snare_platform::systrap::{Config, Systrap, SystrapContext};
use snare_platform::{Access, AddressSpace, Context, Event, Platform, Prot};
use snare_tests::guest::Program;
use snare_tests::harness::{start_regs, Guest};

const SYS_GETPID: u64 = 39;
const SYS_EXIT: u64 = 60;
/// Where the page-fault guest touches its pages (unmapped between samples).
const TOUCH_BASE: u64 = 0x1000_0000;

/// The platform as the Sentry makes it (default spin window), with a memory file large
/// enough for these benches.
fn platform() -> Systrap {
    Systrap::new(Config {
        memory_size: 1 << 30,
        ..Config::default()
    })
    .expect("systrap platform")
}

/// A guest running `Program::GetpidLoop`, reusable across samples.
struct GetpidGuest {
    guest: Guest,
    ctx: SystrapContext,
}

impl GetpidGuest {
    fn new(p: &Systrap) -> GetpidGuest {
        let guest = Guest::load(p, Program::GetpidLoop).expect("load GetpidLoop");
        let ctx = guest.thread().expect("guest thread");
        GetpidGuest { guest, ctx }
    }

    /// Runs `iters` guest `getpid`s to the guest's `exit`, answering each; returns the time.
    fn run(&mut self, iters: u64) -> Duration {
        if iters == 0 {
            return Duration::ZERO; // the loop counts down: rbx = 0 would run 2^64 times
        }
        let mut regs = start_regs();
        regs.rbx = iters;
        let mut n = 0u64;
        let t = Instant::now();
        loop {
            match self.ctx.switch(&mut regs) {
                Event::Syscall if regs.orig_rax == SYS_GETPID => {
                    regs.rax = FAKE_PID as u64;
                    n += 1;
                }
                Event::Syscall if regs.orig_rax == SYS_EXIT => break,
                ev => panic!(
                    "getpid guest (stub {}): unexpected {ev:?} at rip {:#x}",
                    self.guest.space.stub_pid(),
                    regs.rip
                ),
            }
        }
        let elapsed = t.elapsed();
        assert_eq!(n, iters, "guest getpid count");
        elapsed
    }
}

/// A guest running `Program::TouchPages`, reusable across samples.
struct TouchGuest {
    p: Systrap,
    guest: Guest,
    ctx: SystrapContext,
    /// Memory-file pages given to the current run.
    pages: Vec<u64>,
}

impl TouchGuest {
    fn new(p: &Systrap) -> TouchGuest {
        let guest = Guest::load(p, Program::TouchPages).expect("load TouchPages");
        let ctx = guest.thread().expect("guest thread");
        TouchGuest {
            p: p.clone(),
            guest,
            ctx,
            pages: Vec::with_capacity(CHUNK_PAGES as usize),
        }
    }

    /// Touches `pages` unmapped guest pages, serving each fault with a fresh page; returns the
    /// time of the runs alone (unmapping and freeing between chunks are not timed).
    fn run(&mut self, pages: u64) -> Duration {
        let mut total = Duration::ZERO;
        let mut left = pages;
        while left > 0 {
            let n = left.min(CHUNK_PAGES);
            total += self.run_chunk(n);
            self.release(n);
            left -= n;
        }
        total
    }

    fn run_chunk(&mut self, n: u64) -> Duration {
        let mem = self.p.memory_file();
        let end = TOUCH_BASE + n * PAGE;
        let mut regs = start_regs();
        regs.rbx = n;
        regs.r12 = TOUCH_BASE;
        let t = Instant::now();
        loop {
            match self.ctx.switch(&mut regs) {
                Event::Fault {
                    addr,
                    access: Access::Write,
                } if (TOUCH_BASE..end).contains(&addr) => {
                    let off = mem.allocate(PAGE).expect("memory file page");
                    self.guest
                        .space
                        .map_file(addr & !(PAGE - 1), PAGE, off, Prot::RW)
                        .expect("map page");
                    self.pages.push(off);
                }
                Event::Syscall if regs.orig_rax == SYS_EXIT => break,
                ev => panic!(
                    "touch guest (stub {}): unexpected {ev:?} at rip {:#x}",
                    self.guest.space.stub_pid(),
                    regs.rip
                ),
            }
        }
        let elapsed = t.elapsed();
        assert_eq!(self.pages.len() as u64, n, "one fault per page");
        elapsed
    }

    /// Unmaps the touched region and frees its pages, coalescing runs of adjacent offsets.
    fn release(&mut self, n: u64) {
        self.guest
            .space
            .unmap(TOUCH_BASE, n * PAGE)
            .expect("unmap region");
        let mem = self.p.memory_file();
        self.pages.sort_unstable();
        let mut run: Option<(u64, u64)> = None;
        for &off in &self.pages {
            run = match run {
                Some((start, len)) if start + len == off => Some((start, len + PAGE)),
                Some((start, len)) => {
                    mem.free(start, len);
                    Some((off, PAGE))
                }
                None => Some((off, PAGE)),
            };
        }
        if let Some((start, len)) = run {
            mem.free(start, len);
        }
        self.pages.clear();
    }
}

fn getpid(c: &mut Criterion) {
    let mut g = c.benchmark_group("getpid");
    g.bench_function("native", |b| b.iter(native::getpid));

    let floor = SigsysFloor::new().expect("seccomp filter on the sigsys thread");
    g.bench_function("sigsys_floor", |b| {
        b.iter_custom(|iters| floor.run(iters).expect("sigsys floor"))
    });
    drop(floor);

    let p = platform();
    let mut guest = GetpidGuest::new(&p);
    g.bench_function("systrap", |b| b.iter_custom(|iters| guest.run(iters)));
    g.finish();
}

fn page_fault(c: &mut Criterion) {
    let mut g = c.benchmark_group("page_fault");
    g.bench_function("native", |b| {
        b.iter_custom(|pages| native::touch_fresh_pages(pages).expect("mmap"))
    });

    let p = platform();
    let mut guest = TouchGuest::new(&p);
    g.bench_function("systrap", |b| b.iter_custom(|pages| guest.run(pages)));
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .without_plots();
    targets = getpid, page_fault
}
criterion_main!(benches);
