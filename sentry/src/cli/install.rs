//! `snare install` and `snare uninstall`: add or remove the `runtimes` entry of Docker's
//! `daemon.json` for this binary (`oci::install`). dockerd reads it at start or on SIGHUP.

use std::path::PathBuf;

use super::runtime::Context;
use crate::oci::install::{self, Outcome, DEFAULT_CONFIG};
use crate::oci::{error, OciError};

#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// Docker's daemon configuration to change
    #[arg(long, default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// The runtime's name (`docker run --runtime=NAME`)
    #[arg(long, default_value = "snare")]
    pub runtime: String,
    /// The binary dockerd runs (default: this one)
    #[arg(long)]
    pub path: Option<PathBuf>,
    /// Arguments dockerd puts before every command (`runtimeArgs`), after `--`
    #[arg(last = true)]
    pub runtime_args: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct UninstallArgs {
    /// Docker's daemon configuration to change
    #[arg(long, default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// The runtime's name
    #[arg(long, default_value = "snare")]
    pub runtime: String,
}

const RELOAD: &str = "dockerd reads it when it starts or gets SIGHUP (kill -HUP $(pidof dockerd))";

pub fn install(_ctx: &Context, a: InstallArgs) -> Result<i32, OciError> {
    let path = match a.path {
        Some(p) => p,
        None => std::env::current_exe()
            .and_then(|p| p.canonicalize())
            .map_err(|e| error(format!("finding this binary: {e}")))?,
    };
    if !path.is_absolute() {
        return Err(error(format!("--path {}: not absolute", path.display())));
    }
    let path = path
        .to_str()
        .ok_or_else(|| error(format!("--path {}: not UTF-8", path.display())))?;
    let entry = install::entry(path, &a.runtime_args);
    let what = match install::install(&a.config, &a.runtime, entry)? {
        Outcome::Unchanged => "already has",
        Outcome::Replaced => "now has the new",
        _ => "now has",
    };
    println!(
        "{} {what} runtime \"{}\" ({path}); {RELOAD}",
        a.config.display(),
        a.runtime
    );
    Ok(0)
}

pub fn uninstall(_ctx: &Context, a: UninstallArgs) -> Result<i32, OciError> {
    match install::uninstall(&a.config, &a.runtime)? {
        Outcome::Removed => println!(
            "{}: removed runtime \"{}\"; {RELOAD}",
            a.config.display(),
            a.runtime
        ),
        _ => println!(
            "{}: no runtime \"{}\"; nothing changed",
            a.config.display(),
            a.runtime
        ),
    }
    Ok(0)
}
