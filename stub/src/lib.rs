//! The code that lives in every snare stub process, and the layout of the memory it shares
//! with the Sentry.
//!
//! A stub process is the host process behind one guest address space. Its threads run guest
//! code; every system call they make is stopped by seccomp (`SECCOMP_RET_TRAP`) and lands in
//! [`code`]'s signal handler, which publishes the signal frame to the Sentry through a per-thread
//! [`layout::ThreadSlot`] and waits for the answer. One control thread per stub process never
//! runs guest code: it performs the host calls the Sentry asks for (mmap, munmap, mprotect,
//! clone) from a request page the guest cannot write.
//!
//! The code is hand-written assembly: it must run with no stack of its own (control thread),
//! never call outside itself, and be copied byte for byte into the stub region. No libc, raw
//! syscalls only.
#![no_std]

pub mod code;
pub mod layout;
pub mod patch;
