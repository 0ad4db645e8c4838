//! `snare features`: what the runtime supports, as JSON (`oci::spec::features`).

use super::runtime::{print_json, Context};
use crate::oci::{spec, OciError};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_ctx: &Context, _a: Args) -> Result<i32, OciError> {
    print_json(&spec::features()?)
}
