//! `snare delete [--force] ID`: remove a container, killing it first if `--force` (or if
//! it is only created) (`oci::lifecycle::delete`).

use super::runtime::{id, Context};
use crate::oci::{lifecycle, OciError};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Kill a running container first; a missing one is no error
    #[arg(short = 'f', long)]
    pub force: bool,
    /// The container's id
    pub id: String,
}

pub fn run(ctx: &Context, a: Args) -> Result<i32, OciError> {
    lifecycle::delete(&ctx.root, &id(&a.id)?, a.force, &ctx.host)?;
    Ok(0)
}
