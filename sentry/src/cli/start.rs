//! `snare start ID`: let a created container's program run (`oci::lifecycle::start`).

use super::runtime::{id, Context};
use crate::oci::{lifecycle, OciError};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The container's id
    pub id: String,
}

pub fn run(ctx: &Context, a: Args) -> Result<i32, OciError> {
    lifecycle::start(&ctx.root, &id(&a.id)?, &ctx.host)?;
    Ok(0)
}
