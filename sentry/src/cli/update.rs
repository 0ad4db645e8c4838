//! `snare update --resources FILE|- ID`: new resource limits for a live container, as
//! LinuxResources JSON (what Docker's `docker update` sends on stdin;
//! `oci::control::update`).

use super::runtime::{id, Context};
use crate::oci::{control, error, OciError};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A file of LinuxResources JSON, or - for stdin
    #[arg(short = 'r', long)]
    pub resources: Option<String>,
    /// The container's id
    pub id: String,
}

pub fn run(ctx: &Context, a: Args) -> Result<i32, OciError> {
    let id = id(&a.id)?;
    let from = a.resources.ok_or_else(|| {
        error("update: --resources FILE|- is needed (snare takes no other flags)")
    })?;
    let resources = control::read_resources(&from)?;
    control::update(&ctx.root, &id, &resources, &ctx.host)?;
    Ok(0)
}
