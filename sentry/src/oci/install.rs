//! `snare install` / `snare uninstall`: the `runtimes` entry of Docker's `daemon.json` that
//! makes `docker run --runtime=snare` reach this binary. The file is hostile input as any
//! other: at most 1 MiB, a JSON object whose `runtimes` (if present) is an object; anything
//! else is refused and the file is left as it was. Every other key is kept (serde_json
//! writes them in sorted order; Docker reads them by name). The new file is written next
//! to the old one and renamed over it, keeping its mode.

use std::io::Write;
use std::path::Path;

use serde_json::{Map, Value};

use super::{error, OciError};

/// Docker's daemon configuration, where `dockerd` reads it by default.
pub const DEFAULT_CONFIG: &str = "/etc/docker/daemon.json";

/// Largest `daemon.json` read.
const MAX_CONFIG: u64 = 1 << 20;

/// What a change did, for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Added,
    Replaced,
    Unchanged,
    Removed,
    Absent,
}

/// The entry for runtime `name`: `path`, with `runtimeArgs` when there are any.
pub fn entry(path: &str, args: &[String]) -> Value {
    let mut e = Map::new();
    e.insert("path".into(), Value::String(path.into()));
    if !args.is_empty() {
        e.insert(
            "runtimeArgs".into(),
            Value::Array(args.iter().cloned().map(Value::String).collect()),
        );
    }
    Value::Object(e)
}

/// Parses a `daemon.json` (empty text is an empty object, as dockerd takes it).
pub fn parse(text: &str) -> Result<Map<String, Value>, String> {
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(text).map_err(|e| e.to_string())? {
        Value::Object(m) => match m.get("runtimes") {
            None | Some(Value::Object(_)) => Ok(m),
            Some(_) => Err("\"runtimes\" is not a JSON object".into()),
        },
        _ => Err("not a JSON object".into()),
    }
}

/// Sets `runtimes[name]` to `value`.
pub fn add(config: &mut Map<String, Value>, name: &str, value: Value) -> Outcome {
    let runtimes = config
        .entry("runtimes")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(runtimes) = runtimes else {
        // `parse` made sure it is one; replace anything else.
        *runtimes = Value::Object(Map::from_iter([(name.to_string(), value)]));
        return Outcome::Added;
    };
    match runtimes.insert(name.to_string(), value.clone()) {
        None => Outcome::Added,
        Some(old) if old == value => Outcome::Unchanged,
        Some(_) => Outcome::Replaced,
    }
}

/// Removes `runtimes[name]`, and `runtimes` itself once empty.
pub fn remove(config: &mut Map<String, Value>, name: &str) -> Outcome {
    let Some(Value::Object(runtimes)) = config.get_mut("runtimes") else {
        return Outcome::Absent;
    };
    let found = runtimes.remove(name).is_some();
    if runtimes.is_empty() {
        config.remove("runtimes");
    }
    match found {
        true => Outcome::Removed,
        false => Outcome::Absent,
    }
}

/// Reads `path` (a missing file is an empty object).
fn read(path: &Path) -> Result<Map<String, Value>, OciError> {
    let shown = path.display();
    let text = match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(error(format!("{shown}: {e}"))),
        Ok(m) if !m.is_file() => return Err(error(format!("{shown}: not a regular file"))),
        Ok(m) if m.len() > MAX_CONFIG => {
            return Err(error(format!("{shown}: larger than {MAX_CONFIG} bytes")))
        }
        Ok(_) => std::fs::read_to_string(path).map_err(|e| error(format!("{shown}: {e}")))?,
    };
    parse(&text).map_err(|e| error(format!("{shown}: {e}; left unchanged")))
}

/// Writes `config` to `path` through a temporary file renamed over it (the old mode kept;
/// 0644 for a new file, its directory made if missing).
fn write(path: &Path, config: &Map<String, Value>) -> Result<(), OciError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let shown = path.display();
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir).map_err(|e| error(format!("{}: {e}", dir.display())))?;
    }
    let mode = std::fs::metadata(path).map_or(0o644, |m| m.permissions().mode() & 0o7777);
    let mut text = serde_json::to_string_pretty(config).map_err(|e| error(e.to_string()))?;
    text.push('\n');
    let tmp = path.with_extension(format!("json.snare-{}", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(text.as_bytes())?;
            f.set_permissions(std::fs::Permissions::from_mode(mode))?;
            f.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(error(format!("{shown}: {e}")));
    }
    Ok(())
}

/// `snare install`: adds (or updates) runtime `name` in the file at `config`.
pub fn install(config: &Path, name: &str, value: Value) -> Result<Outcome, OciError> {
    check_name(name)?;
    let mut c = read(config)?;
    let outcome = add(&mut c, name, value);
    if outcome != Outcome::Unchanged {
        write(config, &c)?;
    }
    Ok(outcome)
}

/// `snare uninstall`: removes runtime `name` from the file at `config` (a missing file or
/// entry changes nothing).
pub fn uninstall(config: &Path, name: &str) -> Result<Outcome, OciError> {
    check_name(name)?;
    if !config.exists() {
        return Ok(Outcome::Absent);
    }
    let mut c = read(config)?;
    let outcome = remove(&mut c, name);
    if outcome == Outcome::Removed {
        write(config, &c)?;
    }
    Ok(outcome)
}

/// A runtime name as `docker run --runtime=NAME` takes it (Docker refuses others).
fn check_name(name: &str) -> Result<(), OciError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    match ok {
        true => Ok(()),
        false => Err(error(format!(
            "runtime name {name:?}: use letters, digits, '_', '.', '-'"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_keeping_the_rest() {
        let mut c = parse(r#"{"debug": true, "runtimes": {"runsc": {"path": "/usr/bin/runsc"}}}"#)
            .expect("test");
        assert_eq!(add(&mut c, "snare", entry("/x/snare", &[])), Outcome::Added);
        assert_eq!(c["debug"], Value::Bool(true));
        assert_eq!(c["runtimes"]["runsc"]["path"], "/usr/bin/runsc");
        assert_eq!(
            c["runtimes"]["snare"],
            serde_json::json!({"path": "/x/snare"})
        );
        assert_eq!(
            add(&mut c, "snare", entry("/x/snare", &[])),
            Outcome::Unchanged
        );
        let args = vec!["--network".to_string(), "host".to_string()];
        assert_eq!(
            add(&mut c, "snare", entry("/x/snare", &args)),
            Outcome::Replaced
        );
        assert_eq!(
            c["runtimes"]["snare"]["runtimeArgs"],
            serde_json::json!(["--network", "host"])
        );
        assert_eq!(remove(&mut c, "snare"), Outcome::Removed);
        assert_eq!(remove(&mut c, "snare"), Outcome::Absent);
        assert!(c.contains_key("runtimes"));
        assert_eq!(remove(&mut c, "runsc"), Outcome::Removed);
        assert!(!c.contains_key("runtimes"), "an empty runtimes goes");
        assert_eq!(c["debug"], Value::Bool(true));
    }

    #[test]
    fn refuses_what_is_not_a_config() {
        assert!(parse("").expect("test").is_empty());
        assert!(parse("  \n").expect("test").is_empty());
        for bad in [
            "[]",
            "1",
            "\"x\"",
            "{",
            r#"{"runtimes": []}"#,
            r#"{"runtimes": 1}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names() {
        assert!(check_name("snare").is_ok());
        assert!(check_name("snare-debug_1.2").is_ok());
        for bad in ["", "a b", "a/b", "x\n", &"x".repeat(200)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn files() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("snare-install-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("docker/daemon.json");
        let e = entry("/x/snare", &[]);
        assert_eq!(
            install(&path, "snare", e.clone()).expect("test"),
            Outcome::Added
        );
        assert_eq!(
            std::fs::metadata(&path).expect("test").permissions().mode() & 0o777,
            0o644
        );
        assert_eq!(
            install(&path, "snare", e.clone()).expect("test"),
            Outcome::Unchanged
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("test");
        assert_eq!(uninstall(&path, "snare").expect("test"), Outcome::Removed);
        assert_eq!(std::fs::read_to_string(&path).expect("test"), "{}\n");
        assert_eq!(
            std::fs::metadata(&path).expect("test").permissions().mode() & 0o777,
            0o600,
            "the mode is kept"
        );
        std::fs::write(&path, "not json").expect("test");
        assert!(install(&path, "snare", e.clone()).is_err());
        assert_eq!(std::fs::read_to_string(&path).expect("test"), "not json");
        assert_eq!(
            uninstall(&dir.join("missing.json"), "snare").expect("test"),
            Outcome::Absent
        );
        assert!(install(&dir, "snare", e).is_err(), "a directory");
        let left: Vec<_> = std::fs::read_dir(dir.join("docker"))
            .expect("test")
            .collect();
        assert_eq!(left.len(), 1, "no temporary file left");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
