//! `snare spec [--bundle DIR]`: write a starting `config.json` there, as `runc spec` does
//! (`sh` in `./rootfs`); an existing one is not overwritten.

use std::path::PathBuf;

use super::runtime::Context;
use crate::oci::{error, spec, OciError};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write config.json
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
}

pub fn run(_ctx: &Context, a: Args) -> Result<i32, OciError> {
    use std::io::Write;
    let path = a.bundle.join("config.json");
    let text = spec::default_spec_json()?;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| error(format!("{}: {e}", path.display())))?;
    Ok(0)
}
