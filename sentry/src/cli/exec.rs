//! `snare exec [--process FILE] [--detach] [--pid-file F] [--cwd D] [--env K=V]... [--user
//! UID[:GID]] [--tty] ID [CMD ARGS...]`: a second process in a running container
//! (`oci::exec`).

use std::path::PathBuf;

use super::runtime::{id, Context};
use crate::oci::exec::{self, ExecOptions};
use crate::oci::OciError;

/// Flags as runc's `exec` takes them.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A JSON file of the OCI process to run (Docker's form)
    #[arg(short = 'p', long)]
    pub process: Option<PathBuf>,
    /// Return once the process runs; a waiter (its pid in --pid-file) exits with its status
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Write the waiter's pid here
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// A terminal's master goes to this unix socket
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// The working directory in the container
    #[arg(long)]
    pub cwd: Option<String>,
    /// Set an environment variable (KEY=VALUE), over the bundle's
    #[arg(short = 'e', long)]
    pub env: Vec<String>,
    /// UID[:GID] to run as
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Additional gids
    #[arg(short = 'g', long)]
    pub additional_gids: Vec<u32>,
    /// Allocate a terminal (its master goes to --console-socket)
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Accepted for runc's callers (always in effect in the sandbox)
    #[arg(long)]
    pub no_new_privs: bool,
    /// Exec even into a paused container (its process waits until `resume`)
    #[arg(long)]
    pub ignore_paused: bool,
    /// Pass this many fds above 2 to the process (only 0 is supported)
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    /// The container's id
    pub id: String,
    /// The command and its arguments (without --process)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

pub fn run(ctx: &Context, a: Args) -> Result<i32, OciError> {
    let id = id(&a.id)?;
    if a.preserve_fds != 0 {
        return Err(crate::oci::error("--preserve-fds is not supported"));
    }
    let opts = ExecOptions {
        process: a.process,
        detach: a.detach,
        pid_file: a.pid_file,
        console_socket: a.console_socket,
        cwd: a.cwd,
        env: a.env,
        user: a.user,
        additional_gids: a.additional_gids,
        tty: a.tty,
        ignore_paused: a.ignore_paused,
        args: a.command,
    };
    exec::exec(&ctx.root, &id, &opts, &ctx.host)
}
