//! `events`: a container's resource use as runc's `events` prints it — one JSON object per
//! line, `{"type":"stats","id":…,"data":{"cpu":…,"memory":…,"pids":…}}`, read from the
//! container's host cgroup (`oci::cgroup`), once with `--stats`, else every interval until
//! the container stops. The figures are the host cgroup's: the guest's pages plus the
//! Sentry's and the stubs' (what `docker stats` shows too, as the shim reads the same files).

use std::path::Path;

use oci_spec::runtime::ContainerState;
use serde_json::{json, Value};

use super::cgroup::Placement;
use super::host::Host;
use super::state::{status, Id, StateDir};
use super::{error, OciError};

/// One number from a cgroup file (`max` is `u64::MAX`, as runc reports "no limit"); 0 when
/// the file is missing or not a number.
fn number(host: &dyn Host, placement: &Placement, controller: &str, file: &str) -> u64 {
    let Some(path) = placement.file_of(controller, file) else {
        return 0;
    };
    let text = host.read_file(&path).unwrap_or_default();
    match text.trim() {
        "max" => u64::MAX,
        t => t.parse().unwrap_or(0),
    }
}

/// A `key value` line of a flat-keyed cgroup file (`cpu.stat`, `memory.stat`).
fn keyed(host: &dyn Host, placement: &Placement, controller: &str, file: &str, key: &str) -> u64 {
    let Some(path) = placement.file_of(controller, file) else {
        return 0;
    };
    host.read_file(&path)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0)
}

/// The stats object of one event (runc's `types.Stats` shape, the parts a cgroup gives).
pub fn stats(placement: &Placement, host: &dyn Host) -> Value {
    let (cpu_total, mem_usage, mem_limit, mem_max, failcnt) = match placement.v2 {
        false => (
            number(host, placement, "cpuacct", "cpuacct.usage"),
            number(host, placement, "memory", "memory.usage_in_bytes"),
            number(host, placement, "memory", "memory.limit_in_bytes"),
            number(host, placement, "memory", "memory.max_usage_in_bytes"),
            number(host, placement, "memory", "memory.failcnt"),
        ),
        true => (
            keyed(host, placement, "cpu", "cpu.stat", "usage_usec").saturating_mul(1000),
            number(host, placement, "memory", "memory.current"),
            number(host, placement, "memory", "memory.max"),
            number(host, placement, "memory", "memory.peak"),
            keyed(host, placement, "memory", "memory.events", "max"),
        ),
    };
    json!({
        "cpu": {"usage": {"total": cpu_total}, "throttling": {}},
        "memory": {"usage": {"limit": mem_limit, "usage": mem_usage, "max": mem_max,
                             "failcnt": failcnt}},
        "pids": {"current": number(host, placement, "pids", "pids.current"),
                 "limit": number(host, placement, "pids", "pids.max")},
        "blkio": {},
        "hugetlb": {},
    })
}

/// One event line.
pub fn event(id: &Id, data: Value) -> String {
    json!({"type": "stats", "id": id.as_str(), "data": data}).to_string()
}

/// `events [--stats] [--interval]`: prints the events of container `id` to `out`.
pub fn run(
    root: &Path,
    id: &Id,
    once: bool,
    interval: std::time::Duration,
    host: &dyn Host,
    out: &mut dyn std::io::Write,
) -> Result<(), OciError> {
    let dir = StateDir::of(root, id);
    let record = dir.load()?;
    if status(&dir, &record, host) == ContainerState::Stopped {
        return Err(error("container not running"));
    }
    let placement = Placement::load(&dir)
        .ok_or_else(|| error("container has no cgroup (its bundle gave no cgroupsPath)"))?;
    loop {
        let line = event(id, stats(&placement, host));
        writeln!(out, "{line}")
            .and_then(|()| out.flush())
            .map_err(|e| error(format!("writing events: {e}")))?;
        if once {
            return Ok(());
        }
        std::thread::sleep(interval);
        if status(&dir, &record, host) == ContainerState::Stopped {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::cgroup::tests::Fake;
    use crate::oci::cgroup::Dir;
    use std::path::PathBuf;

    fn dir(c: &str) -> Dir {
        Dir {
            controllers: vec![c.to_string()],
            mount: PathBuf::from(format!("/sys/fs/cgroup/{c}")),
            path: PathBuf::from(format!("/sys/fs/cgroup/{c}/docker/x")),
        }
    }

    #[test]
    fn v1_stats() {
        let host = Fake::default();
        let put = |p: &str, v: &str| {
            host.files
                .borrow_mut()
                .insert(PathBuf::from(p), v.to_string());
        };
        put(
            "/sys/fs/cgroup/memory/docker/x/memory.usage_in_bytes",
            "1048576\n",
        );
        put(
            "/sys/fs/cgroup/memory/docker/x/memory.limit_in_bytes",
            "104857600\n",
        );
        put("/sys/fs/cgroup/pids/docker/x/pids.current", "9\n");
        put("/sys/fs/cgroup/pids/docker/x/pids.max", "max\n");
        put("/sys/fs/cgroup/cpuacct/docker/x/cpuacct.usage", "123456\n");
        let p = Placement {
            dirs: vec![dir("memory"), dir("pids"), dir("cpuacct")],
            v2: false,
        };
        let s = stats(&p, &host);
        assert_eq!(s["memory"]["usage"]["usage"], 1_048_576);
        assert_eq!(s["memory"]["usage"]["limit"], 104_857_600);
        assert_eq!(s["pids"]["current"], 9);
        assert_eq!(s["pids"]["limit"], u64::MAX);
        assert_eq!(s["cpu"]["usage"]["total"], 123_456);
        assert_eq!(s["memory"]["usage"]["failcnt"], 0, "a missing file is 0");
    }

    #[test]
    fn v2_stats() {
        let host = Fake::default();
        let put = |p: &str, v: &str| {
            host.files
                .borrow_mut()
                .insert(PathBuf::from(p), v.to_string());
        };
        put("/sys/fs/cgroup/c/memory.current", "4096\n");
        put(
            "/sys/fs/cgroup/c/memory.events",
            "low 0\nhigh 0\nmax 3\noom 1\n",
        );
        put("/sys/fs/cgroup/c/cpu.stat", "usage_usec 7\nuser_usec 5\n");
        let p = Placement {
            dirs: vec![Dir {
                controllers: Vec::new(),
                mount: PathBuf::from("/sys/fs/cgroup"),
                path: PathBuf::from("/sys/fs/cgroup/c"),
            }],
            v2: true,
        };
        let s = stats(&p, &host);
        assert_eq!(s["memory"]["usage"]["usage"], 4096);
        assert_eq!(s["memory"]["usage"]["failcnt"], 3);
        assert_eq!(s["cpu"]["usage"]["total"], 7000);
        let id = crate::cli::runtime::id("c1").expect("id");
        let line = event(&id, s);
        assert!(line.starts_with("{\"data\":") || line.contains("\"type\":\"stats\""));
    }
}
