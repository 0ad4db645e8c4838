//! runc's subcommands snare does not have yet (`events`): taken with any arguments and refused with one clear line (on stderr and in the
//! `--log`, where the shim reads it), not the usage text of an unknown command.

use super::runtime::Context;
use crate::oci::{error, OciError};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Whatever runc's form of the command takes
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

/// Refuses `command`.
pub fn run(_ctx: &Context, command: &str, _a: Args) -> Result<i32, OciError> {
    Err(error(format!(
        "{command} is not supported yet by snare (docs/oci.md lists what is)"
    )))
}
