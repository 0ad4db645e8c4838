//! The snare Sentry: a user-space kernel that implements Linux system calls for guest programs
//! running on a [`snare_platform::Platform`], and the `snare` command line.
//!
//! Safe Rust only: guest memory is reached through [`mm::GuestMemory`], host state through the
//! platform.
#![deny(unsafe_code)]

pub mod cli;
pub mod kernel;
pub mod loader;
pub mod mm;
pub mod run;
pub mod strace;
pub mod syscalls;
pub mod vfs;
