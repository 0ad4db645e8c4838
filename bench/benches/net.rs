//! Issue 15's seven loopback workloads, natively and under `snare do`, side by side: one
//! criterion group per workload (`tcp_rr`, `tcp_stream`, `tcp_connect`, `udp_rr`,
//! `unix_stream`, `unix_rr`, `epoll_echo16`), each with a `native` and a `snare` bench.
//!
//! The workloads are the modes of `bench/scripts/net.c` (both ends in one process tree,
//! loopback only), built with `cc` when the bench starts. One iteration is one operation: a
//! sample runs the program once with N = the iteration count, and the time is the one the
//! program measures around its N operations (process and sandbox start-up, the peer's fork
//! and the warm-up are not timed). The program checks every byte that comes back and the
//! bench fails if it exits non-zero. `snare` is the release binary next to this bench's
//! (`cargo build --release -p snare-sentry` first); without it only `native` runs.
//! `bench/scripts/net.sh` runs the same workloads interleaved, round by round, and checks them
//! against the goals; see the crate README.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};

/// `net.c`'s modes, and whether one operation moves a 64 KiB chunk (a stream).
const WORKLOADS: [(&str, bool); 7] = [
    ("tcp_rr", false),
    ("tcp_stream", true),
    ("tcp_connect", false),
    ("udp_rr", false),
    ("unix_stream", true),
    ("unix_rr", false),
    ("epoll_echo16", false),
];
/// Bytes in one stream operation (`CHUNK` in `net.c`).
const CHUNK: u64 = 64 * 1024;

/// Builds `net.c` into this bench's directory; returns the binary.
fn build_net() -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/net.c");
    let exe = std::env::current_exe().expect("bench path");
    let out = exe
        .parent()
        .expect("bench directory")
        .join("snare-bench-net");
    let st = Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .expect("run cc");
    assert!(st.success(), "cc failed for {}", src.display());
    out
}

/// The `snare` built in the same profile: benches live in `<target>/<profile>/deps/`.
fn snare_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?.parent()?.join("snare");
    bin.is_file().then_some(bin)
}

/// Runs `net MODE iters`, under `snare do` if `snare` is given; returns the time of the
/// timed operations as the program reports it (`total_ns=`).
fn run(net: &Path, snare: Option<&Path>, mode: &str, iters: u64) -> Duration {
    let iters = iters.max(1).to_string();
    let mut cmd = match snare {
        Some(s) => {
            let mut c = Command::new(s);
            c.args(["do", "--"]).arg(net);
            c
        }
        None => Command::new(net),
    };
    let out = cmd.args([mode, &iters]).output().expect("run net");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "net {mode} {iters} ({}): {}\n{stdout}{}",
        if snare.is_some() { "snare" } else { "native" },
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let total = stdout
        .split_whitespace()
        .find_map(|f| f.strip_prefix("total_ns="))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("net {mode}: no total_ns in {stdout:?}"));
    Duration::from_nanos(total as u64)
}

fn net(c: &mut Criterion) {
    let net = build_net();
    let snare = snare_binary();
    if snare.is_none() {
        eprintln!(
            "net: no release `snare` next to this bench (cargo build --release -p \
             snare-sentry): native only"
        );
    }
    for (mode, stream) in WORKLOADS {
        let mut g = c.benchmark_group(mode);
        // Each sample is a process (and a sandbox): equal samples, not criterion's ramp.
        g.sampling_mode(SamplingMode::Flat);
        if stream {
            g.throughput(Throughput::Bytes(CHUNK));
        }
        g.bench_function("native", |b| {
            b.iter_custom(|iters| run(&net, None, mode, iters))
        });
        if let Some(s) = &snare {
            g.bench_function("snare", |b| {
                b.iter_custom(|iters| run(&net, Some(s), mode, iters))
            });
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .without_plots();
    targets = net
}
criterion_main!(benches);
