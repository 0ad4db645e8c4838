//! Containers' state under `--root` (default [`DEFAULT_ROOT`]): one directory per container
//! id, holding
//! - `state.json`: the OCI state as `create` saw it (ociVersion, id, status, pid, bundle,
//!   annotations) plus runc's extra keys (`rootfs`, `created`, `owner`) and the init's
//!   start time, which tells the init from a later process that got its pid;
//! - `exec.fifo` while the container is *created*: its init waits for a byte there, which
//!   `start` writes before removing it.
//!
//! The status is worked out ([`status`]): *stopped* once the init is gone, else *creating*
//! while `create` has not seen the init ready (what `state.json` says), else *created*
//! while the FIFO is there, else *running*.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{ContainerState, State};
use serde::{Deserialize, Serialize};

use super::host::Host;
use super::{error, OciError};

/// Where container state goes without `--root`.
pub const DEFAULT_ROOT: &str = "/run/snare";

/// Longest container id taken (Docker's are 64 characters).
const MAX_ID: usize = 1024;

/// Largest `state.json` read back (they are a few hundred bytes).
const MAX_STATE: u64 = 1 << 20;

/// A container id as runc takes them: letters, digits, `_ + - .`, not `.` or `..`: never a
/// path that leaves the state directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Id(String);

impl Id {
    pub fn parse(text: &str) -> Result<Id, OciError> {
        let ok = !text.is_empty()
            && text.len() <= MAX_ID
            && text != "."
            && text != ".."
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-' | b'.'));
        match ok {
            true => Ok(Id(text.to_owned())),
            false => Err(error(format!(
                "invalid container id \"{}\": only letters, digits and _+-. are allowed, \
                 and not . or .. alone",
                text.escape_debug()
            ))),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What `state.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// The OCI state; its `status` is the one saved at `create` (see [`status`]).
    #[serde(flatten)]
    pub state: State,
    /// The root file system's host path.
    pub rootfs: PathBuf,
    /// When `create` made the container (RFC 3339).
    pub created: String,
    /// runc's `owner` (empty: root).
    pub owner: String,
    /// The init's start time ([`Host::start_time`]).
    pub init_start_time: u64,
    /// The bundle's hooks, for `start` (poststart) and `delete` (poststop).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<oci_spec::runtime::Hooks>,
}

/// The state as `snare state` prints it: the OCI state and runc's extra keys, not snare's
/// own bookkeeping (the init's start time, the hooks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shown<'a> {
    #[serde(flatten)]
    pub state: &'a State,
    pub rootfs: &'a Path,
    pub created: &'a str,
    pub owner: &'a str,
}

impl Record {
    pub fn shown(&self) -> Shown<'_> {
        Shown {
            state: &self.state,
            rootfs: &self.rootfs,
            created: &self.created,
            owner: &self.owner,
        }
    }
}

/// A container's state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    pub dir: PathBuf,
    pub id: Id,
}

impl StateDir {
    /// The directory of `id` under `root` (which may not exist).
    pub fn of(root: &Path, id: &Id) -> StateDir {
        StateDir {
            dir: root.join(id.as_str()),
            id: id.clone(),
        }
    }

    /// Makes the directory of a new container (and `root`, mode 0700, if need be). An
    /// existing one is an error: the id is taken.
    pub fn make(root: &Path, id: &Id) -> Result<StateDir, OciError> {
        use std::os::unix::fs::DirBuilderExt;
        let shown = root.display();
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .map_err(|e| error(format!("state root {shown}: {e}")))?;
        let me = StateDir::of(root, id);
        match std::fs::DirBuilder::new().mode(0o700).create(&me.dir) {
            Ok(()) => Ok(me),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(error(format!("container with id exists: {id}")))
            }
            Err(e) => Err(error(format!("{}: {e}", me.dir.display()))),
        }
    }

    pub fn exists(&self) -> bool {
        self.dir.is_dir()
    }

    /// Where the init waits for `start`.
    pub fn fifo(&self) -> PathBuf {
        self.dir.join("exec.fifo")
    }

    fn file(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    /// Writes `state.json` whole (a temporary file renamed over it).
    pub fn save(&self, record: &Record) -> Result<(), OciError> {
        let text = serde_json::to_vec(record).map_err(|e| error(format!("state: {e}")))?;
        let tmp = self.dir.join("state.json.tmp");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, self.file()))
            .map_err(|e| error(format!("{}: {e}", self.file().display())))
    }

    /// Reads `state.json`. A container whose directory is missing "does not exist" (the
    /// words containerd looks for).
    pub fn load(&self) -> Result<Record, OciError> {
        use std::io::Read;
        if !self.exists() {
            return Err(error(format!("container {} does not exist", self.id)));
        }
        let shown = self.file().display().to_string();
        let file = std::fs::File::open(self.file()).map_err(|e| error(format!("{shown}: {e}")))?;
        let mut bytes = Vec::new();
        file.take(MAX_STATE)
            .read_to_end(&mut bytes)
            .map_err(|e| error(format!("{shown}: {e}")))?;
        serde_json::from_slice(&bytes).map_err(|e| error(format!("{shown}: {e}")))
    }

    /// Removes the directory and what is in it; a missing one is fine.
    pub fn remove(&self) -> Result<(), OciError> {
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(error(format!("{}: {e}", self.dir.display()))),
        }
    }
}

/// Whether the record's init is still the live process it was.
pub fn init_alive(record: &Record, host: &dyn Host) -> bool {
    record
        .state
        .pid()
        .filter(|&p| p > 0)
        .and_then(|p| host.start_time(p))
        == Some(record.init_start_time)
}

/// The container's status now (see the module docs).
pub fn status(dir: &StateDir, record: &Record, host: &dyn Host) -> ContainerState {
    if !init_alive(record, host) {
        ContainerState::Stopped
    } else if *record.state.status() == ContainerState::Creating {
        ContainerState::Creating
    } else if dir.fifo().exists() {
        ContainerState::Created
    } else {
        ContainerState::Running
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for good in ["a", "abc-1.2_3+x", &"f".repeat(64), "..."] {
            assert!(Id::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "", ".", "..", "../x", "a/b", "/abs", "a b", "a\0b", "é", "a\nb",
        ] {
            assert!(Id::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Id::parse(&"a".repeat(MAX_ID + 1)).is_err());
    }
}
