//! The host as the OCI layer touches it outside its own state directory: processes (is
//! the init alive, signal it, list its descendants) and the bundle's paths. Behind
//! [`Host`] so the lifecycle's rules are unit-tested with a recording fake; [`RealHost`]
//! is `/proc` and `kill(2)`.

use std::collections::HashMap;
use std::path::Path;

/// What the OCI layer asks of the host.
pub trait Host {
    /// Whether `path` is a directory (the root file system, bind mounts' sources).
    fn is_dir(&self, path: &Path) -> bool;
    /// Whether `path` is a regular file, a symlink followed (a bind mount's source).
    fn is_file(&self, path: &Path) -> bool;
    /// When live process `pid` started (clock ticks after boot, `/proc/PID/stat`'s 22nd
    /// field), which tells it from a later process given the same pid; `None` if no live
    /// process has it (a zombie has ended: it counts as gone).
    fn start_time(&self, pid: i32) -> Option<u64>;
    /// Sends `sig` to `pid`.
    fn signal(&self, pid: i32, sig: i32) -> Result<(), String>;
    /// The pids of `pid`'s live children.
    fn children(&self, pid: i32) -> Vec<i32>;
    /// The pids of `pid`'s live descendants (children, theirs, …), in no particular order.
    fn descendants(&self, pid: i32) -> Vec<i32>;
    /// Whether `path` exists (a cgroup's control file).
    fn exists(&self, _path: &Path) -> bool {
        false
    }
    /// A small file's text (`/proc/self/mountinfo`, a cgroup's control file).
    fn read_file(&self, path: &Path) -> Result<String, String> {
        Err(format!("{}: not readable here", path.display()))
    }
    /// Writes `text` to an existing file in one write (a cgroup's control file).
    fn write_file(&self, path: &Path, _text: &str) -> Result<(), String> {
        Err(format!("{}: not writable here", path.display()))
    }
    /// Makes directory `path` (its parent exists); an existing one is fine.
    fn make_dir(&self, path: &Path) -> Result<(), String> {
        Err(format!("{}: cannot be made here", path.display()))
    }
    /// Removes empty directory `path` (a cgroup); a missing one is fine.
    fn remove_dir(&self, path: &Path) -> Result<(), String> {
        Err(format!("{}: cannot be removed here", path.display()))
    }
}

/// An `io::Error` as one line: the OS's words without Rust's "(os error N)".
fn io_text(e: std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_string(),
        None => e.to_string(),
    }
}

/// The real host, through `/proc` and `kill(2)`.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealHost;

/// `/proc/PID/stat` split after the command name (which may hold spaces and parentheses):
/// field 3 (state) is the first word.
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &text[text.rfind(')')? + 1..];
    Some(after.split_whitespace().map(str::to_owned).collect())
}

impl Host for RealHost {
    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }

    fn is_file(&self, path: &Path) -> bool {
        path.is_file()
    }

    fn start_time(&self, pid: i32) -> Option<u64> {
        let fields = stat_fields(pid)?;
        // State (field 3) is fields[0]; starttime (field 22) is fields[19].
        match fields.first()?.as_str() {
            "Z" | "X" | "x" => None,
            _ => fields.get(19)?.parse().ok(),
        }
    }

    fn signal(&self, pid: i32, sig: i32) -> Result<(), String> {
        let sig = nix::sys::signal::Signal::try_from(sig).map_err(|e| e.desc().to_string())?;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig).map_err(|e| match e {
            nix::errno::Errno::ESRCH => "no such process".to_string(),
            e => e.desc().to_lowercase(),
        })
    }

    fn children(&self, pid: i32) -> Vec<i32> {
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .map(|t| {
                t.split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn descendants(&self, pid: i32) -> Vec<i32> {
        let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        for entry in dir.flatten() {
            let Some(p) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            let Some(fields) = stat_fields(p) else {
                continue;
            };
            let zombie = fields.first().is_some_and(|s| s == "Z");
            if let (false, Some(ppid)) = (zombie, fields.get(1).and_then(|f| f.parse().ok())) {
                children.entry(ppid).or_default().push(p);
            }
        }
        let mut found = Vec::new();
        let mut next = vec![pid];
        while let Some(p) = next.pop() {
            for &c in children.get(&p).into_iter().flatten() {
                found.push(c);
                next.push(c);
            }
        }
        found
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn read_file(&self, path: &Path) -> Result<String, String> {
        std::fs::read_to_string(path).map_err(io_text)
    }

    fn write_file(&self, path: &Path, text: &str) -> Result<(), String> {
        use std::io::Write;
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(io_text)
    }

    fn make_dir(&self, path: &Path) -> Result<(), String> {
        match std::fs::create_dir(path) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(io_text(e)),
            Err(_) if !path.is_dir() => Err("File exists (not a directory)".into()),
            _ => Ok(()),
        }
    }

    fn remove_dir(&self, path: &Path) -> Result<(), String> {
        match std::fs::remove_dir(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_text(e)),
            _ => Ok(()),
        }
    }
}
