//! The `snare` command: parse arguments, run the subcommand, turn errors into a message and an
//! exit code. Never panics on bad input.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::process::ExitCode;

use snare_sentry::cli::{self, Command, DoArgs};
use snare_sentry::run::{run, DoRequest};

/// Sends the Sentry's log to `--debug-log FILE` (debug level), or to stderr (errors only;
/// `SNARE_LOG=warn|info|debug|trace` raises it).
fn init_logging(debug_log: Option<&std::path::Path>) -> Result<(), String> {
    use tracing::Level;
    let level = |s: &str| match s {
        "trace" => Level::TRACE,
        "debug" => Level::DEBUG,
        "info" => Level::INFO,
        "warn" => Level::WARN,
        _ => Level::ERROR,
    };
    let env_level = std::env::var("SNARE_LOG").ok().map(|s| level(&s));
    match debug_log {
        Some(path) => {
            let file = std::fs::File::create(path)
                .map_err(|e| format!("--debug-log {}: {e}", path.display()))?;
            tracing_subscriber::fmt()
                .with_writer(std::sync::Mutex::new(file))
                .with_ansi(false)
                .with_max_level(env_level.unwrap_or(Level::DEBUG))
                .init();
        }
        None => {
            tracing_subscriber::fmt()
                .with_writer(std::io::stderr)
                .with_max_level(env_level.unwrap_or(Level::ERROR))
                .init();
        }
    }
    Ok(())
}

fn do_command(d: DoArgs) -> ExitCode {
    if let Err(e) = init_logging(d.debug_log.as_deref()) {
        eprintln!("snare: {e}");
        return ExitCode::from(2);
    }
    if d.no_confine {
        eprintln!(
            "snare: warning: --no-confine: the Sentry runs without its namespaces, empty \
             root, uid drop and seccomp filter; a guest that broke into it would reach the \
             host (debugging only)"
        );
    }
    let req = DoRequest {
        extra_fds: Vec::new(),
        root: d.root,
        strace: d.strace,
        confine: !d.no_confine,
        network: d.network,
        cwd: d.cwd.map(|c| c.as_os_str().as_bytes().to_vec()),
        inherit_env: true,
        env: d.env,
        user: None,
        umask: 0o022,
        read_only_root: false,
        root_writes: d.root_writes,
        signals_to_init: false,
        // The host's name, as `runsc do` gives its sandbox: the guest sees the host's root and
        // its `/etc/hosts`, which name the host (a program resolving its own name finds it).
        hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim_end_matches('\n').to_string())
            .filter(|h| !h.is_empty()),
        memory: d.memory.unwrap_or_else(snare_sentry::run::default_memory),
        mounts: d.mounts,
        rlimits: Vec::new(),
        seccomp: None,
        sysctls: Vec::new(),
        ipc: Default::default(),
        commit_limit: None,
        limits: None,
        argv: d.argv.iter().map(|a| a.as_bytes().to_vec()).collect(),
    };
    let code = match run(&req) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("snare: {}", e.message);
            e.status
        }
    }
    .clamp(0, 255);
    // The Sentry's last act: the launcher can exit now (see `report_exit`).
    snare_platform::isolate::report_exit(code);
    ExitCode::from(code as u8)
}

/// A Sentry bug must end the sandbox, not leave it hanging with one task thread gone: report
/// and exit (the stubs die with us).
fn fatal_on_panic() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            b"snare: internal error (a Sentry bug); the sandbox is stopped\n",
        );
        std::process::exit(125);
    }));
}

fn main() -> ExitCode {
    fatal_on_panic();
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match cli::parse(args) {
        Err(e) => {
            eprintln!("snare: {e}\n\n{}", cli::USAGE);
            ExitCode::from(2)
        }
        Ok((global, cmd)) => match cmd {
            Command::Help => {
                print!("{}", cli::USAGE);
                ExitCode::SUCCESS
            }
            Command::Version => {
                println!("snare version {}", env!("CARGO_PKG_VERSION"));
                ExitCode::SUCCESS
            }
            Command::Syscalls => {
                print!("{}", snare_sentry::syscalls::support_table());
                ExitCode::SUCCESS
            }
            Command::SeccompRules => cli::seccomp_rules::run(),
            Command::Do(d) => do_command(d),
            Command::Runtime(words) => cli::runtime::run(&global, words),
        },
    }
}
