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

/// `SECCOMP_SET_MODE_STRICT`.
pub const SECCOMP_SET_MODE_STRICT: u32 = 0;
/// `SECCOMP_GET_ACTION_AVAIL`.
pub const SECCOMP_GET_ACTION_AVAIL: u32 = 2;
/// `SECCOMP_GET_NOTIF_SIZES`.
pub const SECCOMP_GET_NOTIF_SIZES: u32 = 3;
/// `SECCOMP_FILTER_FLAG_TSYNC`.
pub const SECCOMP_FILTER_FLAG_TSYNC: u32 = 1;
/// `SECCOMP_FILTER_FLAG_LOG`.
pub const SECCOMP_FILTER_FLAG_LOG: u32 = 2;
/// `SECCOMP_FILTER_FLAG_SPEC_ALLOW`.
pub const SECCOMP_FILTER_FLAG_SPEC_ALLOW: u32 = 4;
/// `SECCOMP_FILTER_FLAG_NEW_LISTENER`.
pub const SECCOMP_FILTER_FLAG_NEW_LISTENER: u32 = 8;
/// `SECCOMP_FILTER_FLAG_TSYNC_ESRCH`.
pub const SECCOMP_FILTER_FLAG_TSYNC_ESRCH: u32 = 16;
/// `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV`.
pub const SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: u32 = 32;
/// `SECCOMP_RET_USER_NOTIF`.
pub const SECCOMP_RET_USER_NOTIF: u32 = 0x7fc0_0000;
/// `SECCOMP_RET_TRACE`.
pub const SECCOMP_RET_TRACE: u32 = 0x7ff0_0000;
/// `SECCOMP_RET_LOG`.
pub const SECCOMP_RET_LOG: u32 = 0x7ffc_0000;
/// `SECCOMP_RET_ACTION_FULL`: the action part of a filter's result.
pub const SECCOMP_RET_ACTION_FULL: u32 = 0xffff_0000;
/// `SECCOMP_RET_DATA`: the data part.
pub const SECCOMP_RET_DATA: u32 = 0x0000_ffff;
/// `SECCOMP_MODE_DISABLED`, `SECCOMP_MODE_STRICT`, `SECCOMP_MODE_FILTER` (`PR_GET_SECCOMP`).
pub const SECCOMP_MODE_DISABLED: u32 = 0;
pub const SECCOMP_MODE_STRICT: u32 = 1;
pub const SECCOMP_MODE_FILTER: u32 = 2;

/// Classic BPF opcodes (`<linux/bpf_common.h>`, `<linux/filter.h>`).
pub mod bpf {
    pub const LD: u16 = 0x00;
    pub const LDX: u16 = 0x01;
    pub const ST: u16 = 0x02;
    pub const STX: u16 = 0x03;
    pub const ALU: u16 = 0x04;
    pub const JMP: u16 = 0x05;
    pub const RET: u16 = 0x06;
    pub const MISC: u16 = 0x07;
    pub const W: u16 = 0x00;
    pub const H: u16 = 0x08;
    pub const B: u16 = 0x10;
    pub const IMM: u16 = 0x00;
    pub const ABS: u16 = 0x20;
    pub const IND: u16 = 0x40;
    pub const MEM: u16 = 0x60;
    pub const LEN: u16 = 0x80;
    pub const MSH: u16 = 0xa0;
    pub const ADD: u16 = 0x00;
    pub const SUB: u16 = 0x10;
    pub const MUL: u16 = 0x20;
    pub const DIV: u16 = 0x30;
    pub const OR: u16 = 0x40;
    pub const AND: u16 = 0x50;
    pub const LSH: u16 = 0x60;
    pub const RSH: u16 = 0x70;
    pub const NEG: u16 = 0x80;
    pub const MOD: u16 = 0x90;
    pub const XOR: u16 = 0xa0;
    pub const JA: u16 = 0x00;
    pub const JEQ: u16 = 0x10;
    pub const JGT: u16 = 0x20;
    pub const JGE: u16 = 0x30;
    pub const JSET: u16 = 0x40;
    pub const K: u16 = 0x00;
    pub const X: u16 = 0x08;
    pub const A: u16 = 0x10;
    pub const TAX: u16 = 0x00;
    pub const TXA: u16 = 0x80;
    /// Maximum instructions in one program (`BPF_MAXINSNS`).
    pub const MAXINSNS: usize = 4096;
    /// Scratch memory words (`BPF_MEMWORDS`).
    pub const MEMWORDS: usize = 16;
}
