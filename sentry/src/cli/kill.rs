//! `snare kill [--all] ID [SIGNAL]`: signal the container's init, which passes the signal
//! on to the guest (`oci::lifecycle::kill`). SIGNAL: decimal or a name, with or without
//! `SIG` (default SIGTERM).

use super::runtime::{id, Context};
use crate::oci::{lifecycle, signal, OciError};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Signal every process of the container (the same as without: they are all in the
    /// one sandbox the init stands for)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// The container's id
    pub id: String,
    /// The signal: a number or a name (TERM, SIGTERM)
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

pub fn run(ctx: &Context, a: Args) -> Result<i32, OciError> {
    let id = id(&a.id)?;
    let sig = signal::parse(&a.signal)?;
    lifecycle::kill(&ctx.root, &id, sig, &ctx.host)?;
    Ok(0)
}
