//! `snare events [--stats] [--interval D] ID`: the container's resource use as JSON lines
//! (`oci::events`), once with `--stats`, else every interval until it stops.

use super::runtime::{id, Context};
use crate::oci::{error, events, OciError};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print one event and exit
    #[arg(long)]
    pub stats: bool,
    /// How often to print (runc's form: 5s, 500ms, 1m)
    #[arg(long, default_value = "5s")]
    pub interval: String,
    /// The container's id
    pub id: String,
}

/// A duration as runc takes it (Go's form, the common units): `5s`, `500ms`, `1m`, `1h`.
fn duration(text: &str) -> Result<std::time::Duration, OciError> {
    let bad = || {
        error(format!(
            "--interval {text:?}: a duration such as 5s, 500ms or 1m"
        ))
    };
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (n, unit) = text.split_at(split);
    let n: u64 = n.parse().map_err(|_| bad())?;
    let ms = match unit {
        "ms" => n,
        "s" => n.saturating_mul(1000),
        "m" => n.saturating_mul(60_000),
        "h" => n.saturating_mul(3_600_000),
        _ => return Err(bad()),
    };
    match ms {
        0 => Err(bad()),
        ms => Ok(std::time::Duration::from_millis(ms)),
    }
}

pub fn run(ctx: &Context, a: Args) -> Result<i32, OciError> {
    let interval = duration(&a.interval)?;
    let mut out = std::io::stdout().lock();
    events::run(
        &ctx.root,
        &id(&a.id)?,
        a.stats,
        interval,
        &ctx.host,
        &mut out,
    )?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ms = |t: &str| duration(t).map(|d| d.as_millis()).ok();
        assert_eq!(ms("5s"), Some(5000));
        assert_eq!(ms("500ms"), Some(500));
        assert_eq!(ms("1m"), Some(60_000));
        for bad in ["", "5", "s", "0s", "-1s", "5x", "1.5s"] {
            assert_eq!(ms(bad), None, "{bad}");
        }
    }
}
