//! ELF loading and the initial stack.
//!
//! Pure functions for `execve` (`kernel/exec.rs`), which does the mapping and copying itself:
//! [`elf`] parses and validates an ELF64 x86-64 executable, [`stack`] lays out the initial
//! stack (argv, envp, auxv) as Linux does, [`script`] parses a `#!` line.

pub mod elf;
pub mod script;
pub mod stack;
