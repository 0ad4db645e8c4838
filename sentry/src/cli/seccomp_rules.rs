//! `snare seccomp-rules`: prints the Sentry's host syscall allowlist, generated from the
//! same rule data the filter is compiled from (`sandbox::seccomp::RULES`).

use std::process::ExitCode;

/// Prints the table on stdout.
pub fn run() -> ExitCode {
    print!("{}", crate::sandbox::seccomp::table());
    ExitCode::SUCCESS
}
