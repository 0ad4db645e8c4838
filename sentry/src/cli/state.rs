//! `snare state ID`: the container's OCI state as JSON on stdout.

use super::runtime::{id, print_json, Context};
use crate::oci::{lifecycle, OciError};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The container's id
    pub id: String,
}

pub fn run(ctx: &Context, a: Args) -> Result<i32, OciError> {
    print_json(&lifecycle::state(&ctx.root, &id(&a.id)?, &ctx.host)?.shown())
}
