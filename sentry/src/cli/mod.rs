//! The snare command line.
//!
//! [`parse`] turns the process arguments into [`GlobalArgs`] and a [`Command`]; `main` runs the
//! command and turns a [`UsageError`] into a message, [`USAGE`] and exit status 2. Parsing is
//! pure (no I/O) so every rule has a unit test.

mod args;
pub mod seccomp_rules;

pub use args::{parse, Command, DoArgs, GlobalArgs, LogFormat, Network, UsageError, USAGE};
