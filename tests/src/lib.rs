//! Shared pieces of snare's integration tests and benches: guest programs written in assembly
//! and a harness that loads them into a fresh systrap address space.

pub mod guest;
pub mod harness;
