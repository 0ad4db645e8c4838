//! The snare command line.
//!
//! [`parse`] turns the process arguments into [`GlobalArgs`] and a [`Command`]; `main` runs the
//! command and turns a [`UsageError`] into a message, [`USAGE`] and exit status 2. Parsing is
//! pure (no I/O) so every rule has a unit test. The OCI runtime's subcommands (`create`,
//! `start`, …) are parsed by [`runtime`] with clap, one module each, over `crate::oci`.

mod args;
pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod features;
pub mod install;
pub mod kill;
pub mod log;
pub mod pause;
pub mod ps;
pub mod resume;
pub mod run;
pub mod runtime;
pub mod seccomp_rules;
pub mod spec;
pub mod start;
pub mod state;
pub mod update;

pub use args::{
    parse, Command, DoArgs, GlobalArgs, LogFormat, Network, UsageError, MIN_MEMORY, USAGE,
};
