//! `snare ps --format json ID`: the host pids of the container's processes, for `docker
//! top` (`oci::lifecycle::ps`).

use super::runtime::{id, Context};
use crate::oci::{error, lifecycle, OciError};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format: json (a JSON array of host pids) or table
    #[arg(short = 'f', long, default_value = "table")]
    pub format: String,
    /// The container's id
    pub id: String,
    /// `ps` arguments runc passes on to ps(1) in table format (not supported)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

pub fn run(ctx: &Context, a: Args) -> Result<i32, OciError> {
    let pids = lifecycle::ps(&ctx.root, &id(&a.id)?, &ctx.host)?;
    match (a.format.as_str(), a.ps_args.is_empty()) {
        ("json", true) => super::runtime::print_json(&pids),
        ("table", true) => {
            println!("PID");
            for p in pids {
                println!("{p}");
            }
            Ok(0)
        }
        (_, false) => Err(error("ps: arguments for ps(1) are not supported")),
        (f, _) => Err(error(format!("ps: unknown format \"{f}\" (json or table)"))),
    }
}
