//! Linux x86-64 ABI types for snare.
//!
//! Every struct here mirrors a uapi header byte for byte: `#[repr(C)]`, Linux field names,
//! explicit padding, and compile-time size/offset checks right below the definition. The crate
//! is `no_std` and has no dependencies beyond `static_assertions`, so the no_std stub, the
//! platform and the Sentry all share one definition of each type.
#![no_std]

pub mod caps;
pub mod errno;
pub mod file;
pub mod inotify;
pub mod ipc;
pub mod mount;
pub mod mqueue;
pub mod netlink;
pub mod pod;
pub mod regs;
pub mod sched;
pub mod seccomp;
pub mod signal;
pub mod socket;
pub mod time;
pub mod tty;

pub use errno::Errno;
pub use pod::Pod;
pub use regs::{FxsaveArea, UserRegs, XsaveHeader};
pub use signal::{KernelSigaction, SigInfo, SigSet, Sigcontext, StackT, Ucontext};

/// Size of a page on x86-64.
pub const PAGE_SIZE: usize = 4096;
