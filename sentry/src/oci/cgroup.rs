//! A container's host cgroup, as runc's cgroupfs manager makes it: `linux.cgroupsPath` in
//! every mounted cgroup v1 hierarchy (and the cgroup2 one of a hybrid host), or in the
//! unified hierarchy of a cgroup2-only host. `create` makes the directories, writes
//! `linux.resources` there ([`Placement::apply`]) and the container's init joins them before
//! it clones the Sentry, so the Sentry and every stub are inside (the shim reads `docker
//! stats` from the init's cgroups); `delete` removes them once nothing is left inside.
//!
//! The sandbox enforces its own memory and pids limits over the guest (the Sentry's OOM
//! killer, its task count): the host cgroup is a backstop over the Sentry's host processes.
//! Its memory limit is the guest's plus [`memory_margin`] for the Sentry itself; its
//! `pids.max` is [`host_pids`] of the guest's limit.
//!
//! `cgroupsPath` is the bundle's word and never leaves the cgroup mounts: it is cleaned as a
//! path (`..` stops at the hierarchy's root), a relative one is under the caller's own cgroup
//! (as runc), and the root cgroup itself is refused. Every host effect goes through
//! [`Host`], so the rules have unit tests against a fake.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxResources, Spec};
use serde::{Deserialize, Serialize};

use super::host::Host;
use super::state::StateDir;
use super::{error, OciError};

/// Longest `cgroupsPath` taken (Linux's `PATH_MAX`).
const MAX_PATH: usize = 4096;
/// Longest component of it (`NAME_MAX`).
const MAX_NAME: usize = 255;

/// What `config.json` asks of the host cgroup.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    /// `linux.cgroupsPath`; `None`: no cgroup is made (snare's choice: runc would make one
    /// named after the container).
    pub path: Option<String>,
    /// `linux.resources`.
    pub resources: LinuxResources,
}

impl Config {
    /// The cgroup part of a checked spec.
    pub fn of(spec: &Spec) -> Result<Config, OciError> {
        let linux = spec.linux().as_ref();
        let path = linux
            .and_then(|l| l.cgroups_path().as_ref())
            .map(|p| p.to_string_lossy().into_owned())
            .filter(|p| !p.is_empty())
            .map(|p| systemd_path(&p).unwrap_or(p));
        if let Some(p) = &path {
            components(p, "")?;
        }
        let resources = linux
            .and_then(|l| l.resources().clone())
            .unwrap_or_default();
        check(&resources)?;
        Ok(Config { path, resources })
    }
}

/// The cgroupfs path of a systemd-style `cgroupsPath`, `SLICE:PREFIX:NAME` (Docker's with
/// the systemd cgroup driver, the default on cgroup2 hosts: `system.slice:docker:ID`): where
/// runc's systemd driver puts the container, `/system.slice/docker-ID.scope`, a slice
/// `a-b.slice` nested as `/a.slice/a-b.slice`, an empty slice `system.slice`. snare makes
/// it as a plain directory (no systemd unit). `None` if `path` is not of that form.
fn systemd_path(path: &str) -> Option<String> {
    let mut parts = path.split(':');
    let (slice, prefix, name) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || path.contains('/') || name.is_empty() {
        return None;
    }
    let slice = match slice {
        "" => "system.slice",
        s if s.ends_with(".slice") => s,
        _ => return None,
    };
    let mut out = String::new();
    if slice != "-.slice" {
        let stem = slice.strip_suffix(".slice")?;
        let mut at = 0;
        for (i, _) in stem.match_indices('-').chain([(stem.len(), "")]) {
            if i == 0 || stem[at..i].is_empty() && i != stem.len() {
                return None;
            }
            out.push('/');
            out.push_str(&stem[..i]);
            out.push_str(".slice");
            at = i + 1;
        }
    }
    out.push('/');
    match (prefix, name.ends_with(".slice")) {
        ("", _) | (_, true) => out.push_str(name),
        (p, false) => out.push_str(&format!("{p}-{name}.scope")),
    }
    Some(out)
}

/// The guest's memory limit as the sandbox takes it (at least `cli::MIN_MEMORY`), if set.
pub fn sandbox_memory(r: &LinuxResources) -> Option<u64> {
    r.memory()
        .as_ref()
        .and_then(|m| m.limit())
        .filter(|&l| l > 0)
        .map(|l| (l as u64).max(crate::cli::MIN_MEMORY))
}

/// The guest's pids limit (tasks, threads included), if set.
pub fn sandbox_pids(r: &LinuxResources) -> Option<u64> {
    r.pids()
        .as_ref()
        .map(|p| p.limit())
        .filter(|&l| l > 0)
        .map(|l| l as u64)
}

/// What the host cgroup's memory limit adds to the guest's: the Sentry's own memory (its
/// code, heap, thread stacks, page tables of the stubs) on top of the guest's pages, which
/// the memory file charges to the cgroup. 64 MiB and an eighth of the guest's limit (the
/// page tables and the Sentry's per-page bookkeeping grow with it). `docs/oci.md` has the
/// measurements.
pub fn memory_margin(guest: u64) -> u64 {
    (64 << 20) + guest / 8
}

/// The host `pids.max` for a guest limit of `guest` tasks: each guest task is a Sentry
/// thread and a stub thread on the host, and the sandbox has a few dozen threads of its
/// own (the launcher, the Sentry's workers, the spare stub). A generous bound: the guest
/// limit is enforced exactly inside the Sentry (EAGAIN at its fork); this only stops a
/// runaway Sentry.
pub fn host_pids(guest: u64) -> u64 {
    guest.saturating_mul(4).saturating_add(128)
}

/// Refuses values runc (or the kernel under it) refuses: negative limits other than -1
/// (none), a CPU period outside the kernel's 1 ms–1 s, a weight outside 10–1000, shares
/// above the kernel's maximum.
pub fn check(r: &LinuxResources) -> Result<(), OciError> {
    let bad = |field: &str, v: i64| Err(error(format!("{field}: invalid value {v}")));
    if let Some(m) = r.memory() {
        for (field, v) in [
            ("memory.limit", m.limit()),
            ("memory.reservation", m.reservation()),
            ("memory.swap", m.swap()),
            ("memory.kernel", m.kernel()),
            ("memory.kernelTCP", m.kernel_tcp()),
        ] {
            if let Some(v) = v.filter(|&v| v < -1) {
                return bad(field, v);
            }
        }
        if let (Some(l), Some(s)) = (m.limit(), m.swap()) {
            if l > 0 && s > 0 && s < l {
                return Err(error(format!(
                    "memory.swap {s} is less than memory.limit {l}: memory+swap must be at least the memory limit"
                )));
            }
        }
        if let Some(s) = m.swappiness().filter(|&s| s > 100) {
            return bad("memory.swappiness", s as i64);
        }
    }
    if let Some(p) = r.pids() {
        if p.limit() < -1 {
            return bad("pids.limit", p.limit());
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(s) = c.shares().filter(|&s| s > 262_144) {
            return bad("cpu.shares", s as i64);
        }
        if let Some(p) = c
            .period()
            .filter(|&p| p != 0 && !(1_000..=1_000_000).contains(&p))
        {
            return bad("cpu.period", p as i64);
        }
        if let Some(q) = c
            .quota()
            .filter(|&q| q < -1 || (0..1_000).contains(&q) && q != 0)
        {
            return bad("cpu.quota", q);
        }
        for (field, v) in [("cpu.cpus", c.cpus()), ("cpu.mems", c.mems())] {
            if let Some(v) = v.as_deref().filter(|v| !cpu_list(v)) {
                return Err(error(format!(
                    "{field}: invalid list \"{}\"",
                    v.escape_debug()
                )));
            }
        }
    }
    if let Some(w) = r
        .block_io()
        .as_ref()
        .and_then(|b| b.weight())
        .filter(|&w| w != 0 && !(10..=1000).contains(&w))
    {
        return bad("blockIO.weight", w as i64);
    }
    Ok(())
}

/// A cpuset list as the kernel takes it: `0-3,5`, at most 1024 characters.
fn cpu_list(text: &str) -> bool {
    text.len() <= 1024
        && text.split(',').all(|part| {
            let mut ends = part.splitn(2, '-');
            ends.all(|n| !n.is_empty() && n.len() <= 5 && n.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// `cgroupsPath` cleaned into components under `own` (the caller's cgroup in that hierarchy,
/// used by a relative path): `.` and empty parts dropped, `..` one up but never above the
/// hierarchy's root. An error: NUL, too long, or the root cgroup itself.
fn components(path: &str, own: &str) -> Result<Vec<String>, OciError> {
    let shown = || {
        path.chars()
            .take(80)
            .collect::<String>()
            .escape_debug()
            .to_string()
    };
    if path.contains('\0') || path.len() > MAX_PATH {
        return Err(error(format!(
            "cgroupsPath \"{}\": not a cgroup path",
            shown()
        )));
    }
    let mut out: Vec<String> = Vec::new();
    let base = match path.starts_with('/') {
        true => "",
        false => own,
    };
    for part in base.split('/').chain(path.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            p if p.len() > MAX_NAME => {
                return Err(error(format!(
                    "cgroupsPath \"{}\": a component is longer than {MAX_NAME} bytes",
                    shown()
                )))
            }
            p => out.push(p.to_owned()),
        }
    }
    if out.is_empty() {
        return Err(error(format!(
            "cgroupsPath \"{}\": that is the root cgroup",
            shown()
        )));
    }
    Ok(out)
}

/// A cgroup hierarchy mounted on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mount {
    /// Its v1 controllers (`memory`, `cpu`, `name=systemd`, …); empty for cgroup2.
    controllers: Vec<String>,
    point: PathBuf,
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let code = b.get(i + 1..i + 4).and_then(|d| {
            std::str::from_utf8(d)
                .ok()
                .and_then(|d| u8::from_str_radix(d, 8).ok())
        });
        match (b[i], code) {
            (b'\\', Some(c)) => {
                out.push(c);
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The cgroup hierarchies in `/proc/self/mountinfo`'s text, each once (the first mount of
/// a set of controllers).
fn mounts(mountinfo: &str) -> Vec<Mount> {
    let mut out: Vec<Mount> = Vec::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let point = left.split(' ').nth(4);
        let mut right = right.split(' ');
        let (fstype, super_opts) = (right.next(), right.nth(1));
        let (Some(point), Some(fstype)) = (point, fstype) else {
            continue;
        };
        let controllers: Vec<String> = match fstype {
            "cgroup2" => Vec::new(),
            "cgroup" => super_opts
                .unwrap_or("")
                .split(',')
                .filter(|o| {
                    !matches!(*o, "rw" | "ro" | "noprefix" | "clone_children" | "xattr")
                        && !o.starts_with("release_agent=")
                })
                .map(str::to_owned)
                .collect(),
            _ => continue,
        };
        if out.iter().any(|m| m.controllers == controllers) {
            continue;
        }
        out.push(Mount {
            controllers,
            point: PathBuf::from(unescape(point)),
        });
    }
    out
}

/// The caller's cgroup in the hierarchy of `controllers` (empty: cgroup2), from
/// `/proc/self/cgroup`'s text; `/` if not listed.
fn own_cgroup(proc_cgroup: &str, controllers: &[String]) -> String {
    for line in proc_cgroup.lines() {
        let mut f = line.splitn(3, ':');
        let (_, list, path) = (f.next(), f.next().unwrap_or(""), f.next().unwrap_or("/"));
        let listed: Vec<&str> = list.split(',').filter(|s| !s.is_empty()).collect();
        let same = listed.len() == controllers.len()
            && controllers.iter().all(|c| listed.contains(&c.as_str()));
        if same {
            return path.to_owned();
        }
    }
    "/".to_owned()
}

/// One directory of the container's cgroup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dir {
    /// The hierarchy's v1 controllers; empty for cgroup2.
    pub controllers: Vec<String>,
    /// The hierarchy's mount point.
    pub mount: PathBuf,
    /// The cgroup's directory under it.
    pub path: PathBuf,
}

impl Dir {
    pub(crate) fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

/// Where a container's cgroup is: `cgroup.json` in its state directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    pub dirs: Vec<Dir>,
    /// The host is cgroup2 only (`dirs` is the one unified directory).
    pub v2: bool,
}

/// The cgroup2 controllers whose files snare writes: a cgroup2-only host's parents hand them
/// down to the container's cgroup (`cgroup.subtree_control`).
const V2_CONTROLLERS: &[&str] = &["cpu", "cpuset", "io", "memory", "pids"];

impl Placement {
    /// Where `path` goes on this host (nothing made yet): one directory per hierarchy. No
    /// cgroup mount at all is an error (runc's too).
    pub fn locate(path: &str, host: &dyn Host) -> Result<Placement, OciError> {
        let info = host
            .read_file(Path::new("/proc/self/mountinfo"))
            .map_err(|e| error(format!("/proc/self/mountinfo: {e}")))?;
        let own = host
            .read_file(Path::new("/proc/self/cgroup"))
            .unwrap_or_default();
        let all = mounts(&info);
        let v2 = all.iter().all(|m| m.controllers.is_empty());
        if all.is_empty() {
            return Err(error(
                "cgroupsPath: no cgroup file system is mounted on the host",
            ));
        }
        let mut dirs = Vec::new();
        for m in all {
            let parts = components(path, &own_cgroup(&own, &m.controllers))?;
            dirs.push(Dir {
                path: m.point.join(parts.join("/")),
                controllers: m.controllers,
                mount: m.point,
            });
        }
        Ok(Placement { dirs, v2 })
    }

    /// Makes the directories (an existing one is joined, as runc joins it). A v1 `cpuset`
    /// directory gets its parent's CPUs and memory nodes (a new one has none, and nothing
    /// could join it); on cgroup2 the parents hand down the controllers snare writes.
    pub fn make(&self, host: &dyn Host) -> Result<(), OciError> {
        for d in &self.dirs {
            let rel = d.path.strip_prefix(&d.mount).unwrap_or(Path::new(""));
            let mut at = d.mount.clone();
            for part in rel.components() {
                if self.v2 {
                    enable_controllers(&at, host);
                }
                let parent = at.clone();
                at.push(part);
                host.make_dir(&at)
                    .map_err(|e| error(format!("cgroup {}: {e}", at.display())))?;
                if d.has("cpuset") {
                    for f in ["cpuset.cpus", "cpuset.mems"] {
                        let mine = host.read_file(&at.join(f)).unwrap_or_default();
                        if mine.trim().is_empty() {
                            let theirs = host.read_file(&parent.join(f)).unwrap_or_default();
                            write(host, &at.join(f), theirs.trim())?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Refuses a cgroup that exists with processes in it: another container's, or a
    /// cgroup of the host's (a bundle could name any). Joining it would put its limits on
    /// them, and `delete` kills whatever is left in the container's cgroup.
    pub fn check_empty(&self, host: &dyn Host) -> Result<(), OciError> {
        for d in &self.dirs {
            let n = host
                .read_file(&d.file("cgroup.procs"))
                .map(|t| t.lines().filter(|l| !l.trim().is_empty()).count())
                .unwrap_or(0);
            if n > 0 {
                return Err(error(format!(
                    "cgroup {} is not empty: it has {n} processes (another container's cgroup?)",
                    d.path.display()
                )));
            }
        }
        Ok(())
    }

    /// Puts process `pid` in every directory.
    pub fn join(&self, host: &dyn Host, pid: i32) -> Result<(), OciError> {
        for d in &self.dirs {
            write(host, &d.file("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// The pids in the container's cgroup (its first directory: every one holds the same).
    pub fn pids(&self, host: &dyn Host) -> Vec<i32> {
        self.dirs
            .first()
            .and_then(|d| host.read_file(&d.file("cgroup.procs")).ok())
            .map(|t| t.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    /// Removes the directories, SIGKILLing whatever is still inside and waiting (up to
    /// `wait`) for it to go: a cgroup with processes can't be removed.
    pub fn remove(&self, host: &dyn Host, wait: std::time::Duration) -> Result<(), OciError> {
        let deadline = std::time::Instant::now() + wait;
        loop {
            let left = self.pids(host);
            for &p in &left {
                let _ = host.signal(p, libc::SIGKILL);
            }
            let mut failed = None;
            for d in &self.dirs {
                if let Err(e) = host.remove_dir(&d.path) {
                    failed = Some(format!("cgroup {}: {e}", d.path.display()));
                }
            }
            match failed {
                None => return Ok(()),
                Some(e) if std::time::Instant::now() >= deadline => return Err(error(e)),
                Some(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
            }
        }
    }

    /// Writes `r` to the host cgroup as runc does (a field unset or 0 is left alone); what
    /// this kernel lacks, or what means nothing for the sandbox's host processes
    /// (`devices`: the sandbox has its own), is skipped with a debug line.
    pub fn apply(&self, r: &LinuxResources, host: &dyn Host) -> Result<(), OciError> {
        for d in &self.dirs {
            let files = match self.v2 {
                true => v2_files(r),
                false => {
                    let current = host
                        .read_file(&d.file("memory.limit_in_bytes"))
                        .ok()
                        .and_then(|t| t.trim().parse().ok());
                    v1_files(d, r, current)
                }
            };
            for (name, value) in files {
                let path = d.file(&name);
                if !host.exists(&path) {
                    tracing::debug!(
                        "cgroup: {} not on this host; {name} skipped",
                        d.path.display()
                    );
                    continue;
                }
                write(host, &path, &value).map_err(|e| match name.starts_with("memory.") {
                    true => error(format!("unable to set memory limit to {value}: {e}")),
                    false => e,
                })?;
            }
        }
        for (what, set) in [
            (
                "devices",
                !r.devices().as_deref().unwrap_or_default().is_empty(),
            ),
            ("hugepageLimits", r.hugepage_limits().is_some()),
            ("network", r.network().is_some()),
            ("rdma", r.rdma().is_some()),
            ("unified", r.unified().is_some()),
        ] {
            if set {
                tracing::debug!("linux.resources.{what}: not applied (the sandbox's own)");
            }
        }
        Ok(())
    }

    /// Freezes (`true`) or thaws the cgroup and waits (up to 5 s) until the kernel says it
    /// is done. A freeze that does not complete is undone (as runc does), so the container
    /// is not left half frozen.
    pub fn freeze(&self, frozen: bool, host: &dyn Host) -> Result<(), OciError> {
        self.freeze_within(frozen, host, std::time::Duration::from_secs(5))
    }

    fn freeze_within(
        &self,
        frozen: bool,
        host: &dyn Host,
        wait: std::time::Duration,
    ) -> Result<(), OciError> {
        let d = self.freezer().ok_or_else(|| error("no freezer cgroup"))?;
        let (file, value) = match (self.v2, frozen) {
            (true, f) => ("cgroup.freeze", if f { "1" } else { "0" }),
            (false, true) => ("freezer.state", "FROZEN"),
            (false, false) => ("freezer.state", "THAWED"),
        };
        let deadline = std::time::Instant::now() + wait;
        loop {
            write(host, &d.file(file), value)?;
            if self.frozen(host) == Some(frozen) {
                return Ok(());
            }
            if std::time::Instant::now() >= deadline {
                if frozen {
                    let thaw = match self.v2 {
                        true => ("cgroup.freeze", "0"),
                        false => ("freezer.state", "THAWED"),
                    };
                    let _ = write(host, &d.file(thaw.0), thaw.1);
                }
                return Err(error(format!(
                    "cgroup {}: still not {}",
                    d.path.display(),
                    if frozen { "frozen" } else { "thawed" }
                )));
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// Whether the freezer says frozen; `None` without a freezer.
    pub fn frozen(&self, host: &dyn Host) -> Option<bool> {
        let d = self.freezer()?;
        match self.v2 {
            true => host
                .read_file(&d.file("cgroup.events"))
                .ok()
                .map(|t| t.lines().any(|l| l.trim() == "frozen 1")),
            false => host
                .read_file(&d.file("freezer.state"))
                .ok()
                .map(|t| t.trim() == "FROZEN"),
        }
    }

    /// File `name` of `controller`'s directory (on cgroup2, of the one directory).
    pub fn file_of(&self, controller: &str, name: &str) -> Option<PathBuf> {
        let d = match self.v2 {
            true => self.dirs.first(),
            false => self.dirs.iter().find(|d| d.has(controller)),
        }?;
        Some(d.file(name))
    }

    fn freezer(&self) -> Option<&Dir> {
        match self.v2 {
            true => self.dirs.first(),
            false => self.dirs.iter().find(|d| d.has("freezer")),
        }
    }

    /// The placement saved in `dir` (`None`: the container has no cgroup).
    pub fn load(dir: &StateDir) -> Option<Placement> {
        let text = std::fs::read(dir.dir.join("cgroup.json")).ok()?;
        serde_json::from_slice(&text).ok()
    }

    pub fn save(&self, dir: &StateDir) -> Result<(), OciError> {
        let path = dir.dir.join("cgroup.json");
        let text = serde_json::to_vec(self).map_err(|e| error(format!("cgroup: {e}")))?;
        std::fs::write(&path, text).map_err(|e| error(format!("{}: {e}", path.display())))
    }
}

fn write(host: &dyn Host, path: &Path, value: &str) -> Result<(), OciError> {
    host.write_file(path, value)
        .map_err(|e| error(format!("{}: writing {value}: {e}", path.display())))
}

/// Hands the controllers snare writes down from cgroup2 directory `dir` to its children.
fn enable_controllers(dir: &Path, host: &dyn Host) {
    let have = host
        .read_file(&dir.join("cgroup.controllers"))
        .unwrap_or_default();
    for c in have
        .split_whitespace()
        .filter(|c| V2_CONTROLLERS.contains(c))
    {
        if let Err(e) = host.write_file(&dir.join("cgroup.subtree_control"), &format!("+{c}")) {
            tracing::debug!("cgroup {}: +{c}: {e}", dir.display());
        }
    }
}

/// A limit as the files take it: -1 is none.
fn limit_text(v: i64, v2: bool) -> String {
    match (v, v2) {
        (-1, true) => "max".to_owned(),
        (v, _) => v.to_string(),
    }
}

/// The v1 files for `r` in the directory of `d`'s controllers, in the order they are
/// written; `current` is the memory limit there now.
fn v1_files(d: &Dir, r: &LinuxResources, current: Option<u64>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut add = |name: &str, value: String| out.push((name.to_owned(), value));
    if let Some(m) = r.memory().as_ref().filter(|_| d.has("memory")) {
        let limit = m.limit().filter(|&l| l != 0);
        let swap = m.swap().filter(|&s| s != 0);
        let host_limit = |v: i64| match v {
            -1 => -1,
            v => {
                let v = (v as u64).max(crate::cli::MIN_MEMORY);
                v.saturating_add(memory_margin(v)).min(i64::MAX as u64) as i64
            }
        };
        // memory+swap must stay at least the limit at every step: when it grows past the
        // limit there now, it goes first (runc's order).
        let memsw = swap.map(|s| ("memory.memsw.limit_in_bytes", host_limit(s).to_string()));
        let mem = limit.map(|l| ("memory.limit_in_bytes", host_limit(l).to_string()));
        let swap_first = swap.is_some_and(|s| {
            s == -1 || current.is_none_or(|c| i64::try_from(c).is_ok_and(|c| c < host_limit(s)))
        });
        let order = match swap_first {
            true => [memsw, mem],
            false => [mem, memsw],
        };
        for (name, value) in order.into_iter().flatten() {
            add(name, value);
        }
        if let Some(v) = m.reservation().filter(|&v| v != 0) {
            add("memory.soft_limit_in_bytes", v.to_string());
        }
        if let Some(v) = m.swappiness() {
            add("memory.swappiness", v.to_string());
        }
        if m.kernel().is_some_and(|k| k != 0) || m.kernel_tcp().is_some_and(|k| k != 0) {
            tracing::debug!("memory.kernel, kernelTCP: not applied (gone from newer kernels)");
        }
    }
    if let Some(p) = r.pids().as_ref().filter(|_| d.has("pids")) {
        match p.limit() {
            0 => {}
            -1 => add("pids.max", "max".into()),
            l => add("pids.max", host_pids(l as u64).to_string()),
        }
    }
    if let Some(c) = r.cpu().as_ref() {
        if d.has("cpu") {
            if let Some(v) = c.shares().filter(|&v| v != 0) {
                add("cpu.shares", v.to_string());
            }
            if let Some(v) = c.period().filter(|&v| v != 0) {
                add("cpu.cfs_period_us", v.to_string());
            }
            if let Some(v) = c.quota().filter(|&v| v != 0) {
                add("cpu.cfs_quota_us", v.to_string());
            }
            if c.realtime_runtime().is_some() || c.realtime_period().is_some() {
                tracing::debug!("cpu.realtime*: not applied");
            }
        }
        if d.has("cpuset") {
            if let Some(v) = c.cpus().as_deref().filter(|v| !v.is_empty()) {
                add("cpuset.cpus", v.to_owned());
            }
            if let Some(v) = c.mems().as_deref().filter(|v| !v.is_empty()) {
                add("cpuset.mems", v.to_owned());
            }
        }
    }
    if let Some(w) = r
        .block_io()
        .as_ref()
        .and_then(|b| b.weight())
        .filter(|&w| w != 0 && d.has("blkio"))
    {
        add("blkio.weight", w.to_string());
    }
    out
}

/// The cgroup2 files for `r` (runc's conversions of the v1 values).
fn v2_files(r: &LinuxResources) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut add = |name: &str, value: String| out.push((name.to_owned(), value));
    if let Some(m) = r.memory() {
        let limit = m.limit().filter(|&l| l != 0);
        if let Some(l) = limit {
            let v = match l {
                -1 => -1,
                l => {
                    let l = (l as u64).max(crate::cli::MIN_MEMORY);
                    l.saturating_add(memory_margin(l)).min(i64::MAX as u64) as i64
                }
            };
            add("memory.max", limit_text(v, true));
        }
        // v1's memory+swap is v2's swap alone.
        match (limit, m.swap().filter(|&s| s != 0)) {
            (_, Some(-1)) => add("memory.swap.max", "max".into()),
            (Some(l), Some(s)) if l > 0 => add("memory.swap.max", (s - l).max(0).to_string()),
            _ => {}
        }
        if let Some(v) = m.reservation().filter(|&v| v != 0) {
            add("memory.low", limit_text(v, true));
        }
    }
    if let Some(p) = r.pids() {
        match p.limit() {
            0 => {}
            -1 => add("pids.max", "max".into()),
            l => add("pids.max", host_pids(l as u64).to_string()),
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(s) = c.shares().filter(|&v| v != 0) {
            add(
                "cpu.weight",
                (1 + (s.saturating_sub(2) * 9999) / 262_142).to_string(),
            );
        }
        let quota = c.quota().filter(|&v| v != 0);
        let period = c.period().filter(|&v| v != 0);
        if quota.is_some() || period.is_some() {
            let q = match quota {
                Some(q) if q > 0 => q.to_string(),
                _ => "max".into(),
            };
            add("cpu.max", format!("{q} {}", period.unwrap_or(100_000)));
        }
        if let Some(v) = c.cpus().as_deref().filter(|v| !v.is_empty()) {
            add("cpuset.cpus", v.to_owned());
        }
        if let Some(v) = c.mems().as_deref().filter(|v| !v.is_empty()) {
            add("cpuset.mems", v.to_owned());
        }
    }
    if let Some(w) = r
        .block_io()
        .as_ref()
        .and_then(|b| b.weight())
        .filter(|&w| w != 0)
    {
        add(
            "io.weight",
            (1 + (u64::from(w) - 10) * 9999 / 990).to_string(),
        );
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::{BTreeMap, BTreeSet};

    /// A host of cgroup files: what exists, what was written, in order.
    #[derive(Default)]
    pub(crate) struct Fake {
        pub files: RefCell<BTreeMap<PathBuf, String>>,
        pub dirs: RefCell<BTreeSet<PathBuf>>,
        pub writes: RefCell<Vec<(PathBuf, String)>>,
        /// Freezing never completes.
        pub stuck: std::cell::Cell<bool>,
    }

    impl Host for Fake {
        fn is_dir(&self, path: &Path) -> bool {
            self.dirs.borrow().contains(path)
        }
        fn is_file(&self, path: &Path) -> bool {
            self.files.borrow().contains_key(path)
        }
        fn start_time(&self, _pid: i32) -> Option<u64> {
            None
        }
        fn signal(&self, _pid: i32, _sig: i32) -> Result<(), String> {
            Ok(())
        }
        fn children(&self, _pid: i32) -> Vec<i32> {
            Vec::new()
        }
        fn descendants(&self, _pid: i32) -> Vec<i32> {
            Vec::new()
        }
        fn exists(&self, path: &Path) -> bool {
            self.is_dir(path) || self.is_file(path)
        }
        fn read_file(&self, path: &Path) -> Result<String, String> {
            self.files
                .borrow()
                .get(path)
                .cloned()
                .ok_or_else(|| "No such file or directory".into())
        }
        fn write_file(&self, path: &Path, text: &str) -> Result<(), String> {
            let parent = path.parent().map(Path::to_path_buf).unwrap_or_default();
            if !self.dirs.borrow().contains(&parent) {
                return Err("No such file or directory".into());
            }
            self.writes
                .borrow_mut()
                .push((path.to_owned(), text.to_owned()));
            let mut files = self.files.borrow_mut();
            let value = match path.file_name().and_then(|n| n.to_str()) {
                // A cgroup stuck freezing (a task the kernel can't stop) stays FREEZING.
                Some("freezer.state") if self.stuck.get() && text == "FROZEN" => {
                    "FREEZING".to_owned()
                }
                Some("cgroup.freeze") => {
                    files.insert(
                        path.with_file_name("cgroup.events"),
                        format!("frozen {text}\n"),
                    );
                    text.to_owned()
                }
                _ => text.to_owned(),
            };
            files.insert(path.to_owned(), value);
            Ok(())
        }
        fn make_dir(&self, path: &Path) -> Result<(), String> {
            let parent = path.parent().map(Path::to_path_buf).unwrap_or_default();
            if !self.dirs.borrow().contains(&parent) {
                return Err("No such file or directory".into());
            }
            if self.files.borrow().contains_key(path) {
                return Err("File exists".into());
            }
            self.dirs.borrow_mut().insert(path.to_owned());
            // The kernel's files of a new cgroup: empty cpusets, the v1 knobs.
            let mut files = self.files.borrow_mut();
            for f in ["cgroup.procs", "cpuset.cpus", "cpuset.mems"] {
                files.insert(path.join(f), String::new());
            }
            for f in [
                "memory.limit_in_bytes",
                "memory.memsw.limit_in_bytes",
                "memory.soft_limit_in_bytes",
                "pids.max",
                "cpu.shares",
                "cpu.cfs_period_us",
                "cpu.cfs_quota_us",
                "freezer.state",
                "memory.max",
                "memory.swap.max",
                "cpu.max",
                "cpu.weight",
            ] {
                files.insert(path.join(f), "0".into());
            }
            Ok(())
        }
        fn remove_dir(&self, path: &Path) -> Result<(), String> {
            self.dirs.borrow_mut().remove(path);
            Ok(())
        }
    }

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
90 31 0:37 / /mnt/again rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    /// A host with the hybrid layout above (the root cgroups' cpusets `0-1` and `0`).
    pub(crate) fn hybrid() -> Fake {
        let f = Fake::default();
        f.files
            .borrow_mut()
            .insert("/proc/self/mountinfo".into(), HYBRID.into());
        f.files.borrow_mut().insert(
            "/proc/self/cgroup".into(),
            "4:memory:/outer\n3:cpuset:/\n0::/\n".into(),
        );
        for m in mounts(HYBRID) {
            f.dirs.borrow_mut().insert(m.point.clone());
        }
        f.files
            .borrow_mut()
            .insert("/sys/fs/cgroup/cpuset/cpuset.cpus".into(), "0-1\n".into());
        f.files
            .borrow_mut()
            .insert("/sys/fs/cgroup/cpuset/cpuset.mems".into(), "0\n".into());
        f
    }

    fn resources(json: &str) -> LinuxResources {
        serde_json::from_str(json).expect("resources")
    }

    #[test]
    fn systemd_style_paths() {
        for (path, want) in [
            (
                "system.slice:docker:abc",
                Some("/system.slice/docker-abc.scope"),
            ),
            (":docker:abc", Some("/system.slice/docker-abc.scope")),
            ("a-b.slice:cri:x", Some("/a.slice/a-b.slice/cri-x.scope")),
            ("-.slice:p:n", Some("/p-n.scope")),
            ("user.slice::u.slice", Some("/user.slice/u.slice")),
            ("/docker/abc", None),
            ("docker", None),
            ("a:b:c", None),
            ("x.slice:p:", None),
            ("x.slice:p:n:extra", None),
            ("x.slice:p:../../n", None),
            ("-x.slice:p:n", None),
            ("a--b.slice:p:n", None),
        ] {
            assert_eq!(systemd_path(path).as_deref(), want, "{path}");
        }
    }

    #[test]
    fn mountinfo_hierarchies() {
        let m = mounts(HYBRID);
        assert_eq!(m.len(), 7, "{m:?}");
        assert_eq!(m[0].controllers, ["cpu"]);
        assert_eq!(m[5].controllers, ["name=systemd"]);
        assert_eq!(m[6].controllers, Vec::<String>::new());
        assert_eq!(m[6].point, Path::new("/sys/fs/cgroup/unified"));
        assert_eq!(unescape("/a\\040b"), "/a b");
        assert_eq!(
            own_cgroup("4:memory:/outer\n0::/u\n", &["memory".into()]),
            "/outer"
        );
        assert_eq!(own_cgroup("0::/u\n", &[]), "/u");
    }

    #[test]
    fn hostile_paths_stay_inside() {
        for (path, own, want) in [
            ("/docker/abc", "/x", "docker/abc"),
            ("/../../etc", "/x", "etc"),
            ("/a/./b//c/..", "/", "a/b"),
            ("rel/c", "/outer", "outer/rel/c"),
            ("../../../../up", "/outer", "up"),
        ] {
            assert_eq!(components(path, own).expect(path).join("/"), want, "{path}");
        }
        for bad in ["/", "/..", "", "..", "/a/..", "a\0b"] {
            assert!(components(bad, "/").is_err(), "{bad:?}");
        }
        assert!(components(&format!("/{}", "a".repeat(256)), "/").is_err());
        assert!(components(&"/a".repeat(3000), "/").is_err());
        assert!(components(&format!("/{}", "a".repeat(255)), "/").is_ok());
        // Every directory of a hostile path is under its mount.
        let host = hybrid();
        let p = Placement::locate("../../../../../../etc/x", &host).expect("locate");
        for d in &p.dirs {
            assert!(d.path.starts_with(&d.mount), "{d:?}");
            assert!(!d.path.to_string_lossy().contains(".."), "{d:?}");
        }
        assert_eq!(p.dirs[2].path, Path::new("/sys/fs/cgroup/memory/etc/x"));
    }

    #[test]
    fn make_join_apply_remove_v1() {
        let host = hybrid();
        let p = Placement::locate("/snaretest/c1", &host).expect("locate");
        assert!(!p.v2);
        assert_eq!(p.dirs.len(), 7);
        p.make(&host).expect("make");
        // The new cpuset has its parent's CPUs and nodes.
        assert_eq!(
            host.read_file(Path::new("/sys/fs/cgroup/cpuset/snaretest/c1/cpuset.cpus")),
            Ok("0-1".into())
        );
        p.join(&host, 42).expect("join");
        for d in &p.dirs {
            assert_eq!(host.read_file(&d.file("cgroup.procs")), Ok("42".into()));
        }
        let r = resources(
            r#"{"memory":{"limit":33554432,"swap":67108864,"reservation":0,"kernel":0},
                "cpu":{"shares":512,"quota":50000,"period":100000,"cpus":"0"},
                "pids":{"limit":20},"blockIO":{"weight":0},
                "devices":[{"allow":false,"access":"rwm"}]}"#,
        );
        check(&r).expect("check");
        p.apply(&r, &host).expect("apply");
        let mem = 32u64 << 20;
        let want = |f: &str| host.read_file(Path::new(f)).expect(f);
        assert_eq!(
            want("/sys/fs/cgroup/memory/snaretest/c1/memory.limit_in_bytes"),
            (mem + memory_margin(mem)).to_string()
        );
        // memory+swap grows first: it is at least the limit at every step.
        let writes = host.writes.borrow();
        let at = |f: &str| writes.iter().position(|(p, _)| p.ends_with(f));
        assert!(at("memory.memsw.limit_in_bytes") < at("memory.limit_in_bytes"));
        drop(writes);
        assert_eq!(
            want("/sys/fs/cgroup/pids/snaretest/c1/pids.max"),
            host_pids(20).to_string()
        );
        assert_eq!(
            want("/sys/fs/cgroup/cpu/snaretest/c1/cpu.cfs_quota_us"),
            "50000"
        );
        assert_eq!(want("/sys/fs/cgroup/cpu/snaretest/c1/cpu.shares"), "512");
        assert_eq!(want("/sys/fs/cgroup/cpuset/snaretest/c1/cpuset.cpus"), "0");
        // pause and resume through the freezer.
        assert_eq!(p.frozen(&host), Some(false));
        p.freeze(true, &host).expect("freeze");
        assert_eq!(p.frozen(&host), Some(true));
        p.freeze(false, &host).expect("thaw");
        assert_eq!(
            want("/sys/fs/cgroup/freezer/snaretest/c1/freezer.state"),
            "THAWED"
        );
        p.remove(&host, std::time::Duration::ZERO).expect("remove");
        for d in &p.dirs {
            assert!(!host.is_dir(&d.path));
        }
        // The parent made on the way stays (as runc leaves /docker).
        assert!(host.is_dir(Path::new("/sys/fs/cgroup/memory/snaretest")));
    }

    #[test]
    fn a_freeze_that_does_not_complete_is_undone() {
        let host = hybrid();
        let p = Placement::locate("/snaretest/stuck", &host).expect("locate");
        p.make(&host).expect("make");
        host.stuck.set(true);
        let e = p
            .freeze_within(true, &host, std::time::Duration::ZERO)
            .expect_err("stuck");
        assert!(e.0.contains("still not frozen"), "{e}");
        assert_eq!(
            host.read_file(Path::new(
                "/sys/fs/cgroup/freezer/snaretest/stuck/freezer.state"
            )),
            Ok("THAWED".into())
        );
        assert_eq!(p.frozen(&host), Some(false));
    }

    #[test]
    fn unified_only_host() {
        let host = Fake::default();
        host.files.borrow_mut().insert(
            "/proc/self/mountinfo".into(),
            "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n".into(),
        );
        host.files.borrow_mut().insert(
            "/sys/fs/cgroup/cgroup.controllers".into(),
            "cpu io memory pids hugetlb".into(),
        );
        host.dirs.borrow_mut().insert("/sys/fs/cgroup".into());
        let p = Placement::locate("/snaretest/u", &host).expect("locate");
        assert!(p.v2);
        assert_eq!(p.dirs.len(), 1);
        p.make(&host).expect("make");
        let subtree: Vec<String> = host
            .writes
            .borrow()
            .iter()
            .filter(|(f, _)| f == Path::new("/sys/fs/cgroup/cgroup.subtree_control"))
            .map(|(_, v)| v.clone())
            .collect();
        assert_eq!(subtree, ["+cpu", "+io", "+memory", "+pids"]);
        let r = resources(
            r#"{"memory":{"limit":33554432,"swap":67108864},"cpu":{"shares":1024,"quota":50000,"period":100000},"pids":{"limit":-1}}"#,
        );
        p.apply(&r, &host).expect("apply");
        let want = |f: &str| host.read_file(&Path::new("/sys/fs/cgroup/snaretest/u").join(f));
        let mem = 32u64 << 20;
        assert_eq!(
            want("memory.max"),
            Ok((mem + memory_margin(mem)).to_string())
        );
        assert_eq!(want("memory.swap.max"), Ok((32 << 20).to_string()));
        assert_eq!(want("cpu.max"), Ok("50000 100000".into()));
        assert_eq!(want("cpu.weight"), Ok("39".into()));
        assert_eq!(want("pids.max"), Ok("max".into()));
        p.freeze(true, &host).expect("freeze");
        assert_eq!(want("cgroup.freeze"), Ok("1".into()));
        assert_eq!(p.frozen(&host), Some(true));
    }

    #[test]
    fn hostile_resources() {
        for bad in [
            r#"{"memory":{"limit":-2}}"#,
            r#"{"memory":{"limit":67108864,"swap":1048576}}"#,
            r#"{"memory":{"swappiness":101}}"#,
            r#"{"pids":{"limit":-5}}"#,
            r#"{"cpu":{"shares":9999999}}"#,
            r#"{"cpu":{"period":10}}"#,
            r#"{"cpu":{"quota":-7}}"#,
            r#"{"cpu":{"cpus":"0-1; rm -rf /"}}"#,
            r#"{"cpu":{"mems":"../../x"}}"#,
            r#"{"blockIO":{"weight":5000}}"#,
        ] {
            assert!(check(&resources(bad)).is_err(), "{bad}");
        }
        for good in [
            r#"{}"#,
            r#"{"memory":{"limit":-1,"swap":-1}}"#,
            r#"{"memory":{"limit":268435456,"reservation":0,"swap":536870912,"kernel":0},"cpu":{"shares":0,"quota":100000,"period":100000},"pids":{"limit":100},"blockIO":{"weight":0}}"#,
            r#"{"cpu":{"cpus":"0-3,5","mems":"0"}}"#,
        ] {
            check(&resources(good)).expect(good);
        }
        // A value the kernel refuses is runc's error for memory.
        let host = hybrid();
        let p = Placement::locate("/snaretest/c2", &host).expect("locate");
        p.make(&host).expect("make");
        host.dirs
            .borrow_mut()
            .remove(Path::new("/sys/fs/cgroup/memory/snaretest/c2"));
        host.files.borrow_mut().insert(
            "/sys/fs/cgroup/memory/snaretest/c2/memory.limit_in_bytes".into(),
            "0".into(),
        );
        let e = p
            .apply(&resources(r#"{"memory":{"limit":33554432}}"#), &host)
            .expect_err("write fails");
        assert!(e.0.starts_with("unable to set memory limit to"), "{e}");
    }

    #[test]
    fn a_cgroup_with_processes_is_refused() {
        let host = hybrid();
        let p = Placement::locate("/busy", &host).expect("locate");
        p.check_empty(&host).expect("not there yet: fine");
        p.make(&host).expect("make");
        p.check_empty(&host).expect("there and empty: fine");
        p.join(&host, 7).expect("join");
        let e = p.check_empty(&host).expect_err("has a process");
        assert!(e.0.contains("is not empty: it has 1 processes"), "{e}");
    }

    #[test]
    fn no_mounts_is_an_error() {
        let host = Fake::default();
        host.files.borrow_mut().insert(
            "/proc/self/mountinfo".into(),
            "1 0 0:1 / / rw - ext4 /dev/sda rw\n".into(),
        );
        assert!(Placement::locate("/x", &host).is_err());
    }
}
