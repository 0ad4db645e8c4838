#![doc = include_str!("../README.md")]
#![deny(unsafe_code)]

pub mod cli;
pub mod kernel;
pub mod loader;
pub mod mm;
pub mod net;
pub mod oci;
pub mod run;
pub mod sandbox;
pub mod strace;
pub mod syscalls;
pub mod vfs;
