//! Logging for the OCI runtime's commands: the tracing log goes to `--log FILE` (else
//! stderr), as text or, with `--log-format json`, as runc's JSON lines
//! (`{"level":"error","msg":"…","time":"…"}`: containerd's shim reports the last error
//! line's `msg` when `create` or `start` fails). A command's error goes to stderr and, as
//! such a line, to the log file ([`report`]).

use std::fmt;
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::{GlobalArgs, LogFormat};

/// Sets up the log: `--log` (appended), else stderr; debug level with `--debug`, else
/// warnings and errors in the file, errors only on stderr (which a created container
/// shares: it is the container's) (`SNARE_LOG` overrides either).
pub fn init(global: &GlobalArgs) -> Result<(), String> {
    let level = match std::env::var("SNARE_LOG").as_deref() {
        Ok("trace") => Level::TRACE,
        Ok("debug") => Level::DEBUG,
        Ok("info") => Level::INFO,
        Ok("warn") => Level::WARN,
        Ok("error") => Level::ERROR,
        _ if global.debug => Level::DEBUG,
        _ if global.log.is_some() => Level::WARN,
        _ => Level::ERROR,
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(false);
    let Some(path) = &global.log else {
        builder.with_writer(std::io::stderr).init();
        return Ok(());
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("--log {}: {e}", path.display()))?;
    let builder = builder.with_writer(Mutex::new(file));
    match global.log_format {
        LogFormat::Json => builder.event_format(JsonLine).init(),
        LogFormat::Text => builder.init(),
    }
    Ok(())
}

/// A command's failure: `snare: MESSAGE` on stderr and, with `--log`, an error line there.
pub fn report(global: &GlobalArgs, message: &str) {
    eprintln!("snare: {message}");
    if global.log.is_some() {
        tracing::error!("{message}");
    }
}

/// One JSON object per event: `level` (runc's words: error, warning, info, debug, trace),
/// `msg` (the message and any other fields as ` key=value`), `time` (RFC 3339).
struct JsonLine;

impl<S, N> FormatEvent<S, N> for JsonLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut msg = Message::default();
        event.record(&mut msg);
        let line = json_line(*event.metadata().level(), &msg.0, &crate::oci::time::now());
        writeln!(writer, "{line}")
    }
}

/// The JSON line of one event.
fn json_line(level: Level, msg: &str, time: &str) -> String {
    let level = match level {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    };
    serde_json::json!({ "level": level, "msg": msg, "time": time }).to_string()
}

/// An event's fields as one line of text.
#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        use std::fmt::Write;
        match field.name() {
            "message" if self.0.is_empty() => {
                let _ = write!(self.0, "{value:?}");
            }
            "message" => self.0 = format!("{value:?}{}", self.0),
            name => {
                let _ = write!(self.0, " {name}={value:?}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runc_shaped_lines() {
        let line = json_line(Level::ERROR, "container \"x\" does not exist", "T");
        assert_eq!(
            line,
            r#"{"level":"error","msg":"container \"x\" does not exist","time":"T"}"#
        );
        let v: serde_json::Value =
            serde_json::from_str(&json_line(Level::WARN, "a\nb", "T")).expect("one JSON value");
        assert_eq!(v["level"], "warning");
        assert_eq!(v["msg"], "a\nb");
    }
}
