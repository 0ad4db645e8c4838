//! `snare state ID`: the container's OCI state as JSON on stdout (`paused` while frozen, as
//! runc says it).

use super::runtime::{id, print_json, Context};
use crate::oci::state::StateDir;
use crate::oci::{control, lifecycle, OciError};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The container's id
    pub id: String,
}

pub fn run(ctx: &Context, a: Args) -> Result<i32, OciError> {
    let id = id(&a.id)?;
    let record = lifecycle::state(&ctx.root, &id, &ctx.host)?;
    let mut shown = serde_json::to_value(record.shown())
        .map_err(|e| crate::oci::error(format!("state: {e}")))?;
    if control::paused(&StateDir::of(&ctx.root, &id), &record, &ctx.host) {
        shown["status"] = "paused".into();
    }
    print_json(&shown)
}
