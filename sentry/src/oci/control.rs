//! What acts on a container's host cgroup and live limits: its set-up at `create`
//! ([`prepare`]) and removal at `delete` ([`teardown`]), and the commands `pause`, `resume`
//! and `update`.
//!
//! - `pause` freezes the cgroup (`freezer.state` FROZEN on v1, `cgroup.freeze` on v2) as
//!   runc does; a container without a freezer cgroup gets SIGSTOP to every host process of
//!   its sandbox instead, and a `paused` mark in its state directory. Either way `state`
//!   says *paused* while it lasts ([`is_paused`]); `kill -9` and `delete --force` thaw what
//!   they killed (a frozen process can't die), as runc does.
//! - `update` writes `linux.resources` to the host cgroup and rewrites the `limits` file the
//!   Sentry re-reads (`kernel::live_limits`), so the sandbox's own memory and pids limits
//!   follow.

use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use oci_spec::runtime::{ContainerState, LinuxResources};

use super::cgroup::{self, Placement};
use super::host::Host;
use super::state::{status, Id, Record, StateDir};
use super::{error, OciError};
use crate::kernel::live_limits::Limits;

/// The mark of a container paused by signals (no freezer).
const PAUSED_MARK: &str = "paused";
/// The Sentry's limits file.
const LIMITS: &str = "limits";
/// Largest `update --resources` input read.
const MAX_RESOURCES: u64 = 1 << 20;

/// Where the Sentry of the container in `dir` reads its limits.
pub fn limits_path(dir: &StateDir) -> PathBuf {
    dir.dir.join(LIMITS)
}

/// `create`'s part, before the init is forked: writes the limits file and, if the bundle
/// names a cgroup, makes it with the bundle's resources and saves where it is. Returns the
/// placement the init must join. On failure what was made is removed.
pub fn prepare(
    dir: &StateDir,
    config: &cgroup::Config,
    host: &dyn Host,
) -> Result<Option<Placement>, OciError> {
    let limits = Limits {
        memory: cgroup::sandbox_memory(&config.resources),
        pids: cgroup::sandbox_pids(&config.resources),
    };
    std::fs::write(limits_path(dir), limits.encode())
        .map_err(|e| error(format!("{}: {e}", limits_path(dir).display())))?;
    let Some(path) = &config.path else {
        if config.resources != LinuxResources::default() {
            tracing::debug!("linux.resources without linux.cgroupsPath: the sandbox's limits only");
        }
        return Ok(None);
    };
    let placement = Placement::locate(path, host)?;
    placement.check_empty(host)?;
    // Saved first: a failure below leaves it for `delete --force` too.
    placement.save(dir)?;
    let made = placement
        .make(host)
        .and_then(|()| placement.apply(&config.resources, host));
    match made {
        Ok(()) => Ok(Some(placement)),
        Err(e) => {
            let _ = placement.remove(host, Duration::ZERO);
            Err(e)
        }
    }
}

/// `delete`'s part, once the container's processes are killed: thaws a frozen cgroup and
/// removes it, killing whatever is still inside (waiting up to `wait`).
pub fn teardown(dir: &StateDir, host: &dyn Host, wait: Duration) -> Result<(), OciError> {
    let Some(p) = Placement::load(dir) else {
        return Ok(());
    };
    if p.frozen(host) == Some(true) {
        let _ = p.freeze(false, host);
    }
    p.remove(host, wait)
}

/// Whether the container in `dir` is paused: its cgroup frozen, or the mark of a pause by
/// signals.
pub fn is_paused(dir: &StateDir, host: &dyn Host) -> bool {
    match Placement::load(dir).and_then(|p| p.frozen(host)) {
        Some(frozen) => frozen,
        None => dir.dir.join(PAUSED_MARK).exists(),
    }
}

/// Whether the container is paused now: created or running, and frozen (runc's *paused*,
/// a status the OCI state has no word for).
pub fn paused(dir: &StateDir, record: &Record, host: &dyn Host) -> bool {
    matches!(
        status(dir, record, host),
        ContainerState::Running | ContainerState::Created
    ) && is_paused(dir, host)
}

/// After a SIGKILL to a paused container's init: lets its processes run, so they die.
pub fn thaw_killed(dir: &StateDir, pid: i32, host: &dyn Host) {
    if !is_paused(dir, host) {
        return;
    }
    tracing::debug!("thawing the killed container");
    let _ = set_paused(dir, pid, false, host);
}

/// Freezes or thaws: the freezer if the container has one, else SIGSTOP or SIGCONT to the
/// init and every process under it.
fn set_paused(dir: &StateDir, pid: i32, paused: bool, host: &dyn Host) -> Result<(), OciError> {
    if let Some(p) = Placement::load(dir).filter(|p| p.frozen(host).is_some()) {
        return p.freeze(paused, host);
    }
    let sig = match paused {
        true => libc::SIGSTOP,
        false => libc::SIGCONT,
    };
    let mut pids = vec![pid];
    pids.extend(host.descendants(pid));
    for p in pids {
        let _ = host.signal(p, sig);
    }
    let mark = dir.dir.join(PAUSED_MARK);
    match paused {
        true => std::fs::write(&mark, b""),
        false => std::fs::remove_file(&mark).or_else(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Ok(()),
            _ => Err(e),
        }),
    }
    .map_err(|e| error(format!("{}: {e}", mark.display())))
}

/// `pause`: freezes a created or running container (runc's words otherwise).
pub fn pause(root: &Path, id: &Id, host: &dyn Host) -> Result<(), OciError> {
    let dir = StateDir::of(root, id);
    let record = dir.load()?;
    let live = matches!(
        status(&dir, &record, host),
        ContainerState::Running | ContainerState::Created
    );
    if !live || is_paused(&dir, host) {
        return Err(error("container not running"));
    }
    set_paused(&dir, record.state.pid().unwrap_or(0), true, host)
}

/// `resume`: thaws a paused container.
pub fn resume(root: &Path, id: &Id, host: &dyn Host) -> Result<(), OciError> {
    let dir = StateDir::of(root, id);
    let record = dir.load()?;
    if !paused(&dir, &record, host) {
        return Err(error("container not paused"));
    }
    set_paused(&dir, record.state.pid().unwrap_or(0), false, host)
}

/// Reads `update --resources`' JSON (`-`: stdin): LinuxResources, at most 1 MiB, checked.
pub fn read_resources(from: &str) -> Result<LinuxResources, OciError> {
    let mut bytes = Vec::new();
    let read = match from {
        "-" => std::io::stdin()
            .lock()
            .take(MAX_RESOURCES + 1)
            .read_to_end(&mut bytes),
        path => std::fs::File::open(path)
            .and_then(|f| f.take(MAX_RESOURCES + 1).read_to_end(&mut bytes)),
    };
    read.map_err(|e| error(format!("--resources {from}: {e}")))?;
    if bytes.len() as u64 > MAX_RESOURCES {
        return Err(error(format!("--resources {from}: larger than 1 MiB")));
    }
    let r: LinuxResources =
        serde_json::from_slice(&bytes).map_err(|e| error(format!("--resources {from}: {e}")))?;
    cgroup::check(&r)?;
    Ok(r)
}

/// `update`: applies `r` to a live container: its host cgroup, and the sandbox's own memory
/// and pids limits (the limits file; an unset or 0 field keeps its value, -1 lifts it).
pub fn update(root: &Path, id: &Id, r: &LinuxResources, host: &dyn Host) -> Result<(), OciError> {
    let dir = StateDir::of(root, id);
    let record = dir.load()?;
    if status(&dir, &record, host) == ContainerState::Stopped {
        return Err(error("container not running"));
    }
    cgroup::check(r)?;
    if let Some(p) = Placement::load(&dir) {
        p.apply(r, host)?;
    }
    let path = limits_path(&dir);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| error(format!("{}: {e}", path.display())))?;
    let mut buf = [0u8; crate::kernel::live_limits::RECORD_LEN];
    let n = file.read_at(&mut buf, 0).unwrap_or(0);
    let mut limits = Limits::decode(&buf[..n]).unwrap_or_default();
    match r.memory().as_ref().and_then(|m| m.limit()) {
        // No limit: as a sandbox without one, the host's memory.
        Some(-1) => limits.memory = Some(crate::run::default_memory()),
        Some(l) if l > 0 => limits.memory = cgroup::sandbox_memory(r),
        _ => {}
    }
    match r.pids().as_ref().map(|p| p.limit()) {
        Some(-1) => limits.pids = None,
        Some(l) if l > 0 => limits.pids = Some(l as u64),
        _ => {}
    }
    file.write_all_at(limits.encode().as_bytes(), 0)
        .map_err(|e| error(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::cgroup::tests::hybrid;

    fn state_dir() -> StateDir {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "snare-cgroup-unit-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        StateDir::make(&root, &Id::parse("c").expect("id")).expect("dir")
    }

    #[test]
    fn prepare_makes_applies_and_teardown_removes() {
        let host = hybrid();
        let dir = state_dir();
        let config = cgroup::Config {
            path: Some("/snaretest/p".into()),
            resources: serde_json::from_str(r#"{"memory":{"limit":33554432},"pids":{"limit":20}}"#)
                .expect("json"),
        };
        let p = prepare(&dir, &config, &host)
            .expect("prepare")
            .expect("a cgroup");
        assert_eq!(Placement::load(&dir), Some(p.clone()));
        let limits = std::fs::read(limits_path(&dir)).expect("limits");
        assert_eq!(
            Limits::decode(&limits),
            Some(Limits {
                memory: Some(32 << 20),
                pids: Some(20)
            })
        );
        assert!(!is_paused(&dir, &host));
        p.freeze(true, &host).expect("freeze");
        assert!(is_paused(&dir, &host));
        teardown(&dir, &host, Duration::ZERO).expect("teardown");
        for d in &p.dirs {
            assert!(!host.is_dir(&d.path), "{d:?}");
        }
        let _ = std::fs::remove_dir_all(dir.dir.parent().expect("root"));
    }

    #[test]
    fn no_cgroups_path_no_cgroup() {
        let host = hybrid();
        let dir = state_dir();
        let config = cgroup::Config {
            path: None,
            resources: serde_json::from_str(r#"{"pids":{"limit":5}}"#).expect("json"),
        };
        assert_eq!(prepare(&dir, &config, &host).expect("prepare"), None);
        assert!(host.writes.borrow().is_empty());
        assert_eq!(
            Limits::decode(&std::fs::read(limits_path(&dir)).expect("limits")).map(|l| l.pids),
            Some(Some(5))
        );
        let _ = std::fs::remove_dir_all(dir.dir.parent().expect("root"));
    }

    #[test]
    fn a_cgroup_in_use_is_left_alone() {
        let host = hybrid();
        let dir = state_dir();
        let theirs = Placement::locate("/theirs", &host).expect("locate");
        theirs.make(&host).expect("make");
        theirs.join(&host, 99).expect("join");
        let config = cgroup::Config {
            path: Some("/theirs".into()),
            resources: serde_json::from_str(r#"{"memory":{"limit":16777216}}"#).expect("json"),
        };
        let writes = host.writes.borrow().len();
        let e = prepare(&dir, &config, &host).expect_err("in use");
        assert!(e.0.contains("not empty"), "{e}");
        // Nothing written there, nothing removed, nothing saved for delete to undo.
        assert_eq!(host.writes.borrow().len(), writes);
        assert!(host.is_dir(Path::new("/sys/fs/cgroup/memory/theirs")));
        assert_eq!(Placement::load(&dir), None);
        let _ = std::fs::remove_dir_all(dir.dir.parent().expect("root"));
    }

    #[test]
    fn a_failed_make_leaves_nothing() {
        let host = hybrid();
        let dir = state_dir();
        // The pids hierarchy refuses the new directory (a file is in the way).
        host.files
            .borrow_mut()
            .insert("/sys/fs/cgroup/pids/snaretest".into(), String::new());
        let config = cgroup::Config {
            path: Some("/snaretest/f".into()),
            resources: LinuxResources::default(),
        };
        assert!(prepare(&dir, &config, &host).is_err());
        assert!(!host.is_dir(Path::new("/sys/fs/cgroup/memory/snaretest/f")));
        let _ = std::fs::remove_dir_all(dir.dir.parent().expect("root"));
    }
}
