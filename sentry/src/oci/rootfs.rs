//! Where a container's changes to its root file system go (`root.path`).
//!
//! By default they go to `root.path` itself, as under runc: the directory is mounted as a
//! volume is (`vfs/hostdir.rs`), so Docker's `docker cp` (both ways), `docker diff` and
//! `docker commit`, which read and write the overlay2 `merged` directory that is
//! `root.path`, see what the container did. The annotation [`ROOT_OVERLAY`] `=memory` keeps
//! them in the sandbox's memory instead (an in-memory upper layer over `root.path`, as
//! `snare do --root`): the directory is never written, and the changes end with the
//! container. An annotation rather than a runtime flag: it is per container
//! (`docker run --annotation`, a pod's annotations) and travels in the bundle, which
//! `create` already reads; a global flag would need a runtime entry of its own in Docker's
//! configuration.

use std::collections::HashMap;

use super::{error, OciError};
use crate::kernel::mounts::RootWrites;

/// The annotation that chooses where the root's changes go: `memory` or `host` (the
/// default).
pub const ROOT_OVERLAY: &str = "dev.snare.root-overlay";

/// Where the root's changes go, by the bundle's annotations: [`RootWrites::Host`] unless
/// [`ROOT_OVERLAY`] says `memory`; any other value is refused.
pub fn root_writes(annotations: &HashMap<String, String>) -> Result<RootWrites, OciError> {
    match annotations.get(ROOT_OVERLAY).map(String::as_str) {
        None | Some("host") => Ok(RootWrites::Host),
        Some("memory") => Ok(RootWrites::Memory),
        Some(other) => Err(error(format!(
            "annotations: {ROOT_OVERLAY}: \"{}\" is not memory or host",
            other.escape_debug()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(pairs: &[(&str, &str)]) -> Result<RootWrites, OciError> {
        let map = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        root_writes(&map)
    }

    #[test]
    fn host_by_default_memory_on_request() {
        assert_eq!(of(&[]), Ok(RootWrites::Host));
        assert_eq!(of(&[("other", "memory")]), Ok(RootWrites::Host));
        assert_eq!(of(&[(ROOT_OVERLAY, "host")]), Ok(RootWrites::Host));
        assert_eq!(of(&[(ROOT_OVERLAY, "memory")]), Ok(RootWrites::Memory));
    }

    #[test]
    fn other_values_are_refused() {
        for bad in ["", "Memory", "memory ", "tmpfs", "\n\u{0}x"] {
            let e = of(&[(ROOT_OVERLAY, bad)]).expect_err(bad);
            assert!(
                e.0.starts_with("annotations: dev.snare.root-overlay: "),
                "{e}"
            );
            assert!(!e.0.contains('\n'), "one line: {e}");
        }
    }
}
