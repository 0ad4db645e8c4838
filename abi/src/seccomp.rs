//! seccomp and classic BPF: `struct seccomp_data`, `struct sock_filter`, `struct sock_fprog`.

use static_assertions::{assert_eq_size, const_assert_eq};

/// What a seccomp filter sees. Mirrors `struct seccomp_data` from `<linux/seccomp.h>`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SeccompData {
    pub nr: i32,
    pub arch: u32,
    pub instruction_pointer: u64,
    pub args: [u64; 6],
}
assert_eq_size!(SeccompData, [u8; 64]);
const_assert_eq!(core::mem::offset_of!(SeccompData, arch), 4);
const_assert_eq!(core::mem::offset_of!(SeccompData, instruction_pointer), 8);
const_assert_eq!(core::mem::offset_of!(SeccompData, args), 16);

/// One classic BPF instruction. Mirrors `struct sock_filter` from `<linux/filter.h>`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SockFilter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}
assert_eq_size!(SockFilter, [u8; 8]);

/// A BPF program. Mirrors `struct sock_fprog` from `<linux/filter.h>`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SockFprog {
    pub len: u16,
    pub _pad: [u16; 3],
    /// Address of the first [`SockFilter`].
    pub filter: u64,
}
assert_eq_size!(SockFprog, [u8; 16]);

crate::impl_pod!(SeccompData, SockFilter, SockFprog);

/// `AUDIT_ARCH_X86_64`.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// `AUDIT_ARCH_I386`.
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// `__X32_SYSCALL_BIT`: x32 syscalls carry this bit in their number.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// `SECCOMP_SET_MODE_FILTER`.
pub const SECCOMP_SET_MODE_FILTER: u32 = 1;
/// `SECCOMP_RET_KILL_PROCESS`.
pub const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
/// `SECCOMP_RET_KILL_THREAD`.
pub const SECCOMP_RET_KILL_THREAD: u32 = 0;
/// `SECCOMP_RET_TRAP`: deliver SIGSYS.
pub const SECCOMP_RET_TRAP: u32 = 0x0003_0000;
/// `SECCOMP_RET_ERRNO`.
pub const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
/// `SECCOMP_RET_ALLOW`.
pub const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
/// `SYS_SECCOMP`: `si_code` of a SIGSYS raised by `SECCOMP_RET_TRAP`.
pub const SYS_SECCOMP: i32 = 1;

/// Classic BPF opcodes (`<linux/bpf_common.h>`).
pub mod bpf {
    pub const LD: u16 = 0x00;
    pub const JMP: u16 = 0x05;
    pub const RET: u16 = 0x06;
    pub const W: u16 = 0x00;
    pub const ABS: u16 = 0x20;
    pub const JA: u16 = 0x00;
    pub const JEQ: u16 = 0x10;
    pub const JGT: u16 = 0x20;
    pub const JGE: u16 = 0x30;
    pub const JSET: u16 = 0x40;
    pub const K: u16 = 0x00;
    pub const ALU: u16 = 0x04;
    pub const AND: u16 = 0x50;
    /// Maximum instructions in one program (`BPF_MAXINSNS`).
    pub const MAXINSNS: usize = 4096;
}
