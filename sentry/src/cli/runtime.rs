//! The OCI runtime's command line, as runc's: `create`, `start`, `state`, `kill`, `delete`,
//! `run`, `ps`, `spec`, `features`, `exec`, `pause`, `resume`, `update` (one module each,
//! thin over `crate::oci`), and `events`, parsed with
//! clap after the hand parser (`args.rs`) has taken the global flags, which Docker and
//! containerd put first (and runtime arguments from Docker's `runtimeArgs` before them).
//!
//! [`run`] returns the exit status: the command's, 1 for a failure (255 for `exec`'s; reported
//! by `log::report`, as runc exits), 2 for a command line clap can't make sense of.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use super::GlobalArgs;
use super::{
    create, delete, events, exec, features, install, kill, log, pause, ps, resume, run as run_cmd,
    spec, start, state, update,
};
use crate::oci::host::RealHost;
use crate::oci::state::{Id, DEFAULT_ROOT};
use crate::oci::OciError;

/// The subcommands (the word after the global flags and what follows it).
#[derive(Debug, Parser)]
#[command(name = "snare", no_binary_name = true, disable_version_flag = true)]
struct Runtime {
    #[command(subcommand)]
    command: RuntimeCommand,
}

#[derive(Debug, Subcommand)]
enum RuntimeCommand {
    Create(create::Args),
    Start(start::Args),
    State(state::Args),
    Kill(kill::Args),
    Delete(delete::Args),
    Run(run_cmd::Args),
    Ps(ps::Args),
    Spec(spec::Args),
    Features(features::Args),
    /// Add snare to Docker's daemon.json
    Install(install::InstallArgs),
    /// Remove snare from Docker's daemon.json
    Uninstall(install::UninstallArgs),
    Exec(exec::Args),
    Pause(pause::Args),
    Resume(resume::Args),
    Update(update::Args),
    Events(events::Args),
}

/// What every subcommand gets: where state lives and the host it acts on.
#[derive(Debug)]
pub struct Context {
    /// `--root` (default `/run/snare`).
    pub root: PathBuf,
    pub host: RealHost,
    /// `--preserve-fds N`: the caller's fds 3 .. 3 + N, with their host names, for the
    /// container's process (its fds 3 .. 3 + N).
    pub preserved: Vec<(std::sync::Arc<std::os::fd::OwnedFd>, String)>,
}

/// The words that name an OCI runtime subcommand.
pub const COMMANDS: &[&str] = &[
    "create",
    "start",
    "state",
    "kill",
    "delete",
    "run",
    "ps",
    "spec",
    "features",
    "install",
    "uninstall",
    "exec",
    "pause",
    "resume",
    "update",
    "events",
];

/// A container id from the command line.
pub fn id(text: &str) -> Result<Id, OciError> {
    Id::parse(text)
}

/// Parses and runs one subcommand; `words` start with its name.
pub fn run(global: &GlobalArgs, words: Vec<OsString>) -> ExitCode {
    let parsed = match Runtime::try_parse_from(words) {
        Ok(p) => p,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    // create and run hand their stdio to the container's init: nothing else the caller
    // left open may reach it (containerd's shim leaks its ttrpc socket as fd 3), but the
    // `--preserve-fds` it names.
    // (exec refuses a count other than 0 itself, in its own words and status.)
    let keep = match &parsed.command {
        RuntimeCommand::Create(a) => Some(a.preserve_fds),
        RuntimeCommand::Run(a) => Some(a.preserve_fds),
        RuntimeCommand::Exec(_) => Some(0),
        _ => None,
    };
    let mut preserved = Vec::new();
    if let Some(n) = keep {
        match snare_platform::isolate::take_inherited_fds(n) {
            Ok(fds) => {
                preserved = fds
                    .into_iter()
                    .map(|(fd, name)| (std::sync::Arc::new(fd), name))
                    .collect()
            }
            Err(e) => {
                eprintln!("snare: {e}");
                return ExitCode::from(1);
            }
        }
        snare_platform::isolate::close_inherited_fds(n);
    }
    if let Err(e) = log::init(global) {
        eprintln!("snare: {e}");
        return ExitCode::from(1);
    }
    let ctx = Context {
        root: global
            .root
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_ROOT)),
        host: RealHost,
        preserved,
    };
    // runc's exec fails with 255, its other commands with 1.
    let failure = match parsed.command {
        RuntimeCommand::Exec(_) => 255,
        _ => 1,
    };
    let result = match parsed.command {
        RuntimeCommand::Create(a) => create::run(&ctx, a),
        RuntimeCommand::Start(a) => start::run(&ctx, a),
        RuntimeCommand::State(a) => state::run(&ctx, a),
        RuntimeCommand::Kill(a) => kill::run(&ctx, a),
        RuntimeCommand::Delete(a) => delete::run(&ctx, a),
        RuntimeCommand::Run(a) => run_cmd::run(&ctx, a),
        RuntimeCommand::Ps(a) => ps::run(&ctx, a),
        RuntimeCommand::Spec(a) => spec::run(&ctx, a),
        RuntimeCommand::Features(a) => features::run(&ctx, a),
        RuntimeCommand::Install(a) => install::install(&ctx, a),
        RuntimeCommand::Uninstall(a) => install::uninstall(&ctx, a),
        RuntimeCommand::Exec(a) => exec::run(&ctx, a),
        RuntimeCommand::Pause(a) => pause::run(&ctx, a),
        RuntimeCommand::Resume(a) => resume::run(&ctx, a),
        RuntimeCommand::Update(a) => update::run(&ctx, a),
        RuntimeCommand::Events(a) => events::run(&ctx, a),
    };
    match result {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            log::report(global, &e.0);
            ExitCode::from(failure)
        }
    }
}

/// Prints `value` as JSON on stdout, indented as runc prints its state.
pub fn print_json(value: &impl serde::Serialize) -> Result<i32, OciError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| crate::oci::OciError(format!("output: {e}")))?;
    println!("{text}");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(words: &[&str]) -> Result<RuntimeCommand, String> {
        Runtime::try_parse_from(words.iter().map(OsString::from))
            .map(|r| r.command)
            .map_err(|e| e.to_string())
    }

    /// The forms containerd's runc shim and runc users pass.
    #[test]
    fn runc_flag_forms() {
        let c = parse(&[
            "create",
            "--bundle",
            "/b",
            "--pid-file",
            "/b/init.pid",
            "--no-pivot",
            "--no-new-keyring",
            "abc",
        ]);
        match c {
            Ok(RuntimeCommand::Create(a)) => {
                assert_eq!(a.bundle, PathBuf::from("/b"));
                assert_eq!(a.pid_file, Some(PathBuf::from("/b/init.pid")));
                assert_eq!(a.id, "abc");
            }
            other => panic!("{other:?}"),
        }
        match parse(&["create", "-b", "/b", "x"]) {
            Ok(RuntimeCommand::Create(a)) => assert_eq!(a.bundle, PathBuf::from("/b")),
            other => panic!("{other:?}"),
        }
        match parse(&["kill", "abc", "15"]) {
            Ok(RuntimeCommand::Kill(a)) => {
                assert_eq!((a.id.as_str(), a.signal.as_str()), ("abc", "15"))
            }
            other => panic!("{other:?}"),
        }
        match parse(&["kill", "--all", "abc"]) {
            Ok(RuntimeCommand::Kill(a)) => assert!(a.all && a.signal == "SIGTERM"),
            other => panic!("{other:?}"),
        }
        match parse(&["delete", "--force", "abc"]) {
            Ok(RuntimeCommand::Delete(a)) => assert!(a.force),
            other => panic!("{other:?}"),
        }
        match parse(&["ps", "--format", "json", "abc"]) {
            Ok(RuntimeCommand::Ps(a)) => assert_eq!(a.format, "json"),
            other => panic!("{other:?}"),
        }
        match parse(&["run", "-d", "--bundle=/b", "x"]) {
            Ok(RuntimeCommand::Run(a)) => assert!(a.detach),
            other => panic!("{other:?}"),
        }
        match parse(&["update", "--resources", "-", "abc"]) {
            Ok(RuntimeCommand::Update(a)) => {
                assert_eq!((a.resources.as_deref(), a.id.as_str()), (Some("-"), "abc"))
            }
            other => panic!("{other:?}"),
        }
        match parse(&["update", "-r", "/f.json", "abc"]) {
            Ok(RuntimeCommand::Update(a)) => assert_eq!(a.resources.as_deref(), Some("/f.json")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse(&["pause", "abc"]),
            Ok(RuntimeCommand::Pause(_))
        ));
        assert!(matches!(
            parse(&["resume", "abc"]),
            Ok(RuntimeCommand::Resume(_))
        ));
        assert!(parse(&["update", "--memory", "1g", "abc"]).is_err());
        match parse(&[
            "exec",
            "--process",
            "/tmp/p.json",
            "--detach",
            "--pid-file",
            "/b/e.pid",
            "abc",
        ]) {
            Ok(RuntimeCommand::Exec(a)) => {
                assert!(a.detach && a.command.is_empty());
                assert_eq!(a.process, Some(PathBuf::from("/tmp/p.json")));
                assert_eq!(a.id, "abc");
            }
            other => panic!("{other:?}"),
        }
        match parse(&[
            "exec", "-e", "A=1", "-u", "1000:1", "--cwd", "/t", "abc", "sh", "-c", "x",
        ]) {
            Ok(RuntimeCommand::Exec(a)) => {
                assert_eq!(a.command, ["sh", "-c", "x"]);
                assert_eq!(
                    (a.env, a.user),
                    (vec!["A=1".to_string()], Some("1000:1".into()))
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(&["state"]).is_err());
        assert!(parse(&["start", "a", "b"]).is_err());
        assert!(parse(&["create", "--bogus", "x"]).is_err());
        assert!(parse(&["frobnicate"]).is_err());
    }
}
