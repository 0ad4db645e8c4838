//! `config.json`'s hooks: host programs the runtime runs at points of the lifecycle, each
//! with the container's OCI state as JSON on its stdin (Docker's network set-up is a
//! prestart hook, `libnetwork-setkey`, which moves the container's interface into the
//! network namespace of the state's pid).
//!
//! - `prestart` and `createRuntime` run in `create`, once the sandbox is set up, with the
//!   status `creating` and the pid of the Sentry, the host process in the sandbox's network
//!   namespace. A failure fails `create`, which then leaves nothing.
//! - `poststart` runs in `start` once the program is released, `poststop` in `delete`
//!   after the sandbox is gone; a failure there is a warning (as the spec says).
//! - `createContainer` and `startContainer` are to run inside the container's namespaces,
//!   which are the Sentry's own: not run (a warning).
//!
//! A hook runs with exactly its `env`, `args[0]` as its name, stdout discarded, stderr kept
//! for the error message, and killed past its `timeout` (seconds).

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::{Hook, Hooks};

use super::{error, OciError};

/// The lifecycle points hooks run at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Prestart,
    CreateRuntime,
    Poststart,
    Poststop,
}

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Stage::Prestart => "prestart",
            Stage::CreateRuntime => "createRuntime",
            Stage::Poststart => "poststart",
            Stage::Poststop => "poststop",
        }
    }

    /// The hooks of this stage in `hooks`.
    pub fn of(self, hooks: &Hooks) -> &[Hook] {
        #[allow(deprecated)] // prestart: deprecated in the spec, and what Docker uses
        let list = match self {
            Stage::Prestart => hooks.prestart(),
            Stage::CreateRuntime => hooks.create_runtime(),
            Stage::Poststart => hooks.poststart(),
            Stage::Poststop => hooks.poststop(),
        };
        list.as_deref().unwrap_or_default()
    }
}

/// Checks every hook of `hooks`: an absolute path, `KEY=VALUE` environment, a positive
/// timeout, no NUL bytes. Warns about the stages snare does not run.
pub fn check(hooks: &Hooks) -> Result<(), OciError> {
    let all = [
        ("prestart", Stage::Prestart.of(hooks)),
        ("createRuntime", Stage::CreateRuntime.of(hooks)),
        ("poststart", Stage::Poststart.of(hooks)),
        ("poststop", Stage::Poststop.of(hooks)),
        (
            "createContainer",
            hooks.create_container().as_deref().unwrap_or_default(),
        ),
        (
            "startContainer",
            hooks.start_container().as_deref().unwrap_or_default(),
        ),
    ];
    for (stage, list) in all {
        for (i, h) in list.iter().enumerate() {
            let field = format!("hooks.{stage}[{i}]");
            let path = h.path().to_str().unwrap_or("");
            if !path.starts_with('/') || path.contains('\0') {
                return Err(error(format!("{field}.path: not an absolute path")));
            }
            for a in h.args().iter().flatten() {
                if a.contains('\0') {
                    return Err(error(format!("{field}.args: contains a NUL byte")));
                }
            }
            for e in h.env().iter().flatten() {
                if e.contains('\0') || e.split_once('=').is_none_or(|(k, _)| k.is_empty()) {
                    return Err(error(format!("{field}.env: \"{e}\" is not KEY=VALUE")));
                }
            }
            if h.timeout().is_some_and(|t| t <= 0) {
                return Err(error(format!("{field}.timeout: must be positive")));
            }
        }
        if matches!(stage, "createContainer" | "startContainer") && !list.is_empty() {
            tracing::warn!(
                "{stage} hooks are not run: the container's namespaces are the Sentry's"
            );
        }
    }
    Ok(())
}

/// Runs the hooks of `stage` in order, each given `state` (JSON) on stdin; the first
/// failure is the error.
pub fn run(stage: Stage, hooks: &Hooks, state: &[u8]) -> Result<(), OciError> {
    for (i, hook) in stage.of(hooks).iter().enumerate() {
        run_one(hook, state).map_err(|why| {
            error(format!(
                "{} hook #{i} ({}): {why}",
                stage.name(),
                hook.path().display()
            ))
        })?;
    }
    Ok(())
}

/// Runs [`run`] and logs a failure as a warning (poststart, poststop).
pub fn run_warning(stage: Stage, hooks: &Hooks, state: &[u8]) {
    if let Err(e) = run(stage, hooks, state) {
        tracing::warn!("{e}");
    }
}

fn run_one(hook: &Hook, state: &[u8]) -> Result<(), String> {
    let args = hook.args().clone().unwrap_or_default();
    let mut cmd = Command::new(hook.path());
    if let Some(name) = args.first() {
        cmd.arg0(name);
    }
    cmd.args(args.iter().skip(1))
        .env_clear()
        .envs(
            hook.env()
                .iter()
                .flatten()
                .filter_map(|e| e.split_once('=')),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that doesn't read its stdin may close it: EPIPE is no failure.
        let _ = stdin.write_all(state);
    }
    let deadline = hook
        .timeout()
        .map(|t| Instant::now() + Duration::from_secs(t.max(1) as u64));
    let status = loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) => break status,
            None if deadline.is_some_and(|d| Instant::now() > d) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("timed out after {} s", hook.timeout().unwrap_or(0)));
            }
            None => std::thread::sleep(Duration::from_millis(2)),
        }
    };
    if status.success() {
        return Ok(());
    }
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.by_ref().take(4096).read_to_string(&mut stderr);
    }
    Err(format!("{status}: {}", stderr.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hooks(json: &str) -> Hooks {
        serde_json::from_str(json).expect("hooks parse")
    }

    #[test]
    fn checks() {
        assert!(check(&hooks(r#"{"prestart":[{"path":"/bin/true","timeout":3}]}"#)).is_ok());
        for bad in [
            r#"{"prestart":[{"path":"true"}]}"#,
            r#"{"poststop":[{"path":"/bin/true","timeout":0}]}"#,
            r#"{"createRuntime":[{"path":"/bin/true","env":["NOEQUALS"]}]}"#,
            r#"{"poststart":[{"path":"/bin/true","args":["a\u0000"]}]}"#,
        ] {
            assert!(check(&hooks(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn runs_in_order_with_state_and_env() {
        let dir = std::env::temp_dir().join(format!("snare-hooks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let out = dir.join("out");
        let h = hooks(&format!(
            r#"{{"prestart":[
                {{"path":"/bin/sh","args":["sh","-c","cat > {o}; echo \"$X\" >> {o}"],"env":["X=y"]}},
                {{"path":"/bin/sh","args":["sh","-c","echo second >> {o}"]}}]}}"#,
            o = out.display()
        ));
        run(Stage::Prestart, &h, b"{\"id\":\"c\"}\n").expect("hooks run");
        assert_eq!(
            std::fs::read_to_string(&out).expect("out"),
            "{\"id\":\"c\"}\ny\nsecond\n"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn failures_and_timeouts() {
        let h = hooks(
            r#"{"createRuntime":[{"path":"/bin/sh","args":["sh","-c","echo no >&2; exit 3"]}]}"#,
        );
        let e = run(Stage::CreateRuntime, &h, b"").expect_err("fails");
        assert!(
            e.0.contains("createRuntime hook #0") && e.0.contains("no"),
            "{e}"
        );
        let h = hooks(r#"{"poststart":[{"path":"/bin/sleep","args":["sleep","9"],"timeout":1}]}"#);
        let t = Instant::now();
        let e = run(Stage::Poststart, &h, b"").expect_err("times out");
        assert!(
            e.0.contains("timed out") && t.elapsed() < Duration::from_secs(5),
            "{e}"
        );
        let h = hooks(r#"{"prestart":[{"path":"/nonexistent-hook"}]}"#);
        assert!(run(Stage::Prestart, &h, b"").is_err());
    }
}
