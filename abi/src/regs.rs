//! Register state: `struct user_regs_struct` and the FXSAVE/XSAVE memory layouts.

use static_assertions::{assert_eq_size, const_assert_eq};

/// General registers in ptrace order. Mirrors `struct user_regs_struct` from
/// `<sys/user.h>` (x86-64). The platform hands these to the Sentry on every event.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserRegs {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub rbp: u64,
    pub rbx: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rax: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub orig_rax: u64,
    pub rip: u64,
    pub cs: u64,
    pub eflags: u64,
    pub rsp: u64,
    pub ss: u64,
    pub fs_base: u64,
    pub gs_base: u64,
    pub ds: u64,
    pub es: u64,
    pub fs: u64,
    pub gs: u64,
}
assert_eq_size!(UserRegs, [u8; 216]);
const_assert_eq!(core::mem::offset_of!(UserRegs, orig_rax), 120);
const_assert_eq!(core::mem::offset_of!(UserRegs, rip), 128);
const_assert_eq!(core::mem::offset_of!(UserRegs, fs_base), 168);
const_assert_eq!(core::mem::offset_of!(UserRegs, gs), 208);

impl UserRegs {
    /// The six syscall arguments in ABI order (rdi, rsi, rdx, r10, r8, r9).
    pub fn syscall_args(&self) -> [u64; 6] {
        [self.rdi, self.rsi, self.rdx, self.r10, self.r8, self.r9]
    }
}

/// User code segment selector for 64-bit code (`__USER_CS`).
pub const USER_CS: u64 = 0x33;
/// User data/stack segment selector (`__USER_DS`).
pub const USER_DS: u64 = 0x2b;
/// RFLAGS bit 1 is reserved and always set.
pub const RFLAGS_FIXED: u64 = 0x2;
/// RFLAGS interrupt-enable flag: always set in user mode.
pub const RFLAGS_IF: u64 = 0x200;

/// The legacy 512-byte FXSAVE area. Mirrors `struct _fpstate_64` from `<asm/sigcontext.h>`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FxsaveArea {
    pub cwd: u16,
    pub swd: u16,
    pub twd: u16,
    pub fop: u16,
    pub rip: u64,
    pub rdp: u64,
    pub mxcsr: u32,
    pub mxcsr_mask: u32,
    /// 8 x87/MMX registers, 16 bytes each.
    pub st_space: [u32; 32],
    /// 16 XMM registers, 16 bytes each.
    pub xmm_space: [u32; 64],
    pub reserved2: [u32; 12],
    /// `sw_reserved` in signal frames: an [`FpxSwBytes`] when the frame carries XSAVE state.
    pub sw_reserved: [u32; 12],
}
assert_eq_size!(FxsaveArea, [u8; 512]);
const_assert_eq!(core::mem::offset_of!(FxsaveArea, mxcsr), 24);
const_assert_eq!(core::mem::offset_of!(FxsaveArea, xmm_space), 160);
const_assert_eq!(core::mem::offset_of!(FxsaveArea, sw_reserved), 464);

/// Software-reserved bytes at offset 464 of a signal frame's FXSAVE area. Mirrors
/// `struct _fpx_sw_bytes` from `<asm/sigcontext.h>`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct FpxSwBytes {
    /// [`FP_XSTATE_MAGIC1`] when the frame holds XSAVE state.
    pub magic1: u32,
    /// Total size of the FP area including the trailing [`FP_XSTATE_MAGIC2`].
    pub extended_size: u32,
    /// Feature bits present in the layout.
    pub xfeatures: u64,
    /// Size of the XSAVE image proper.
    pub xstate_size: u32,
    pub padding: [u32; 7],
}
assert_eq_size!(FpxSwBytes, [u8; 48]);

/// `FP_XSTATE_MAGIC1` from `<asm/sigcontext.h>`.
pub const FP_XSTATE_MAGIC1: u32 = 0x4650_5853;
/// `FP_XSTATE_MAGIC2` from `<asm/sigcontext.h>`: stored right after the XSAVE image.
pub const FP_XSTATE_MAGIC2: u32 = 0x4650_5845;
/// Offset of [`FpxSwBytes`] inside the FXSAVE area.
pub const FPX_SW_BYTES_OFFSET: usize = 464;
/// Offset of the XMM registers inside the FXSAVE area.
pub const FXSAVE_XMM_OFFSET: usize = 160;
/// Offset of the YMM upper halves (XSAVE component 2) in the standard XSAVE format.
pub const XSAVE_YMM_HI_OFFSET: usize = 576;

/// The XSAVE header that follows the legacy area. Mirrors `struct _header`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct XsaveHeader {
    pub xfeatures: u64,
    pub xcomp_bv: u64,
    pub reserved: [u64; 6],
}
assert_eq_size!(XsaveHeader, [u8; 64]);

crate::impl_pod!(UserRegs, FxsaveArea, FpxSwBytes, XsaveHeader);
