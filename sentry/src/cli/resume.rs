//! `snare resume ID`: thaw a paused container (`oci::control::resume`).

use super::runtime::{id, Context};
use crate::oci::{control, OciError};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The container's id
    pub id: String,
}

pub fn run(ctx: &Context, a: Args) -> Result<i32, OciError> {
    control::resume(&ctx.root, &id(&a.id)?, &ctx.host)?;
    Ok(0)
}
