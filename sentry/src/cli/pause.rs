//! `snare pause ID`: freeze the container (`oci::control::pause`).

use super::runtime::{id, Context};
use crate::oci::{control, OciError};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The container's id
    pub id: String,
}

pub fn run(ctx: &Context, a: Args) -> Result<i32, OciError> {
    control::pause(&ctx.root, &id(&a.id)?, &ctx.host)?;
    Ok(0)
}
