//! The OCI runtime (issue 16): what `snare create|start|state|kill|delete|run|ps|exec|pause|
//! resume|update` do, under
//! a thin command line (`crate::cli`). Docker and containerd's runc shim drive snare through
//! it as they drive runc.
//!
//! - [`bundle`] reads a bundle's `config.json` (oci-spec's types), refuses what snare can't
//!   do, and maps the rest to a sandbox launch ([`bundle::Launch`], a `run::DoRequest`).
//! - [`state`] keeps one directory per container under `--root`: `state.json` (the OCI
//!   state and the init's identity) and `exec.fifo` while the container is *created*.
//! - [`lifecycle`] is the commands: `create` forks the container's init (a host process
//!   that is the sandbox's launcher), which sets the sandbox up, loads the program, says so
//!   through a pipe and waits at the FIFO ([`init`]); `start` writes the FIFO; `kill`
//!   signals the init, which forwards to the guest; `delete` kills and removes.
//! - [`seccomp`] turns `linux.seccomp` into the Sentry's profile over guest syscalls.
//! - [`rootfs`] says where the root's changes go (`root.path`, or the sandbox's memory).
//! - [`exec`] is `exec`: a second process in the sandbox, asked of the Sentry over the
//!   container's control socket ([`channel`]: the protocol; [`server`]: the Sentry's side),
//!   with a host waiter that stands for the process (its status, its signals).
//! - [`sysctl`] checks `linux.sysctl` as runc does and applies the network ones.
//! - [`events`] is `events`: the cgroup's figures as runc prints them.
//! - [`hooks`] runs `config.json`'s hooks (Docker's network set-up is one).
//! - [`install`] adds snare to Docker's `daemon.json` and takes it out.
//! - [`cgroup`] is the container's host cgroup (`cgroupsPath`, `resources`, the freezer);
//!   [`control`] makes and removes it and is `pause`, `resume` and `update`.
//! - [`host`] is every host effect outside the state directory (processes, the bundle's
//!   paths), behind a trait so the lifecycle's rules get unit tests with a fake.
//!
//! `docs/oci.md` tells the design as built and what is not done yet.

pub mod bundle;
pub mod cgroup;
pub mod channel;
pub mod console;
pub mod control;
pub mod events;
pub mod exec;
pub mod hooks;
pub mod host;
pub mod init;
pub mod install;
pub mod lifecycle;
pub mod rootfs;
pub mod seccomp;
pub mod server;
pub mod signal;
pub mod spec;
pub mod state;
pub mod sysctl;
pub mod time;

use std::fmt;

/// Why an OCI command failed: a message for stderr and the `--log` file, worded (where
/// the shim reads it) as runc words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciError(pub String);

impl fmt::Display for OciError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OciError {}

/// An [`OciError`] with this message.
pub(crate) fn error(message: impl Into<String>) -> OciError {
    OciError(message.into())
}

/// Points this process's stdio at `/dev/null` (a host process that must not keep what it
/// was started with: the shim reads those pipes to their end).
pub(crate) fn stdio_to_null() {
    if let Ok(null) = std::fs::File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        let _ = nix::unistd::dup2_stdin(&null);
        let _ = nix::unistd::dup2_stdout(&null);
        let _ = nix::unistd::dup2_stderr(&null);
    }
}

/// The OCI runtime spec version snare follows (the one Docker 20.10 writes).
pub const OCI_VERSION: &str = "1.0.2";
