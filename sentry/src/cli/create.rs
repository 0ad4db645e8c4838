//! `snare create [--bundle DIR] [--pid-file F] [--console-socket S] ID`: set a container
//! up and leave it waiting for `start` (`oci::lifecycle::create`).

use std::path::PathBuf;

use super::runtime::{id, Context};
use crate::oci::lifecycle::{self, CreateOptions};
use crate::oci::OciError;

/// Flags as runc's `create` takes them.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The bundle directory (config.json and, usually, rootfs)
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// Write the container init's pid here
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// With process.terminal: the pty master goes to this unix socket
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Accepted for runc's callers (snare never pivots the host's root for a container)
    #[arg(long)]
    pub no_pivot: bool,
    /// Accepted for runc's callers (the sandbox has no host keyring)
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass the caller's fds 3 .. 3 + N to the container's process as its own
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    /// The container's id
    pub id: String,
}

pub fn run(ctx: &Context, a: Args) -> Result<i32, OciError> {
    let id = id(&a.id)?;
    let opts = CreateOptions {
        bundle: a.bundle,
        pid_file: a.pid_file,
        console_socket: a.console_socket,
        preserved: ctx.preserved.clone(),
    };
    lifecycle::create(&ctx.root, &id, &opts, &ctx.host)?;
    Ok(0)
}
