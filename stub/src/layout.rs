//! The stub region and every structure shared between a stub process and the Sentry.
//!
//! One definition serves both sides: the assembly in [`crate::code`] takes its offsets from
//! these types through `const` operands, and the platform reads and writes the same fields
//! through its mapping of the memory file.
//!
//! ```text
//! STUB_BASE ─┬─ data (RO)      StubData: seccomp programs, unmap list, tunables     16 KiB
//!            ├─ code (RX)      the handlers and loops of crate::code                48 KiB
//!            ├─ ctrl request   CtrlRequest, read-only in the stub                    4 KiB
//!            ├─ ctrl response  CtrlResponse, written by the control thread           4 KiB
//!            ├─ (unmapped)
//! STUB_SLOTS ┴─ slot 0, slot 1, … MAX_SLOTS × SLOT_SIZE: ThreadSlot + signal stack
//! ```
//!
//! Everything from `STUB_BASE` up belongs to snare; the guest gets `[0, STUB_BASE)`.

use snare_abi::seccomp::SockFilter;
use snare_abi::seccomp::SockFprog;
use static_assertions::const_assert;
use static_assertions::const_assert_eq;

/// Lowest address of the stub region; also the end of the guest's address space (112 TiB).
/// Far below the mmap base of a normal process (near 127 TiB), so the Sentry can reserve
/// the fixed part of the region in its own address space at start-up.
pub const STUB_BASE: u64 = 0x7000_0000_0000;
/// The read-only data page(s): a [`StubData`].
pub const STUB_DATA: u64 = STUB_BASE;
pub const STUB_DATA_SIZE: u64 = 0x4000;
/// Where the code of [`crate::code`] is copied; read-only and executable.
pub const STUB_CODE: u64 = STUB_BASE + STUB_DATA_SIZE;
pub const STUB_CODE_MAX: u64 = 0xc000;
/// The control thread's request page ([`CtrlRequest`]), read-only in the stub.
pub const STUB_CTRL_REQ: u64 = STUB_CODE + STUB_CODE_MAX;
/// The control thread's response page ([`CtrlResponse`]), writable in the stub.
pub const STUB_CTRL_RESP: u64 = STUB_CTRL_REQ + 0x1000;
/// End of the part of the region that exists in every stub process from birth (and that the
/// Sentry reserves in its own address space).
pub const STUB_FIXED_END: u64 = STUB_CTRL_RESP + 0x1000;
/// First per-thread slot.
pub const STUB_SLOTS: u64 = STUB_BASE + 0x10_0000;
/// Size and alignment of a per-thread slot. The signal handler finds its slot by rounding its
/// stack pointer down to this alignment.
pub const SLOT_SIZE: u64 = 0x8000;
/// Offset of the signal stack inside a slot; the [`ThreadSlot`] header sits below it.
pub const SLOT_ALTSTACK: u64 = 0x1000;
/// Most guest threads one stub process can hold.
pub const MAX_SLOTS: u64 = 4096;
/// End of the stub region.
pub const STUB_END: u64 = STUB_SLOTS + MAX_SLOTS * SLOT_SIZE;

const_assert!(STUB_BASE.is_multiple_of(1 << 32));
// The seccomp programs check the instruction pointer's high word against STUB_CODE >> 32.
const_assert_eq!(STUB_CODE >> 32, (STUB_CODE + STUB_CODE_MAX - 1) >> 32);
const_assert!(STUB_FIXED_END <= STUB_SLOTS);
const_assert!(STUB_SLOTS.is_multiple_of(SLOT_SIZE));

/// Values of [`ThreadSlot::state`]. The kernel writes `STATE_DEAD` (0) when the stub thread
/// exits, because the slot's `state` word is the thread's `CLONE_CHILD_CLEARTID` address.
pub const STATE_DEAD: u32 = 0;
/// The stub thread owns the slot: it runs guest or stub code.
pub const STATE_GUEST: u32 = 1;
/// The Sentry owns the slot: an event is published and the thread waits in its handler.
pub const STATE_SENTRY: u32 = 2;

/// Values of [`ThreadSlot::command`], read by the handler when the Sentry hands the slot back.
pub const CMD_RESUME: u32 = 0;
/// Exit the stub thread (its guest thread is gone).
pub const CMD_EXIT: u32 = 1;

/// Header of a per-thread slot, at the slot's base; the signal stack follows at
/// [`SLOT_ALTSTACK`]. Lives in the memory file, mapped shared into the stub and into the
/// Sentry. Guest code can write it: the Sentry reads each field once and validates it.
#[repr(C, align(64))]
#[derive(Debug)]
pub struct ThreadSlot {
    /// `STATE_*`: who owns the slot. Also the futex both sides sleep on, and the thread's
    /// clear-child-tid word.
    pub state: u32,
    /// Set by the handler before it sleeps in `futex(state, WAIT, STATE_SENTRY)`.
    pub stub_sleeping: u32,
    /// Set by the Sentry before it sleeps in `futex(state, WAIT, STATE_GUEST)`.
    pub sentry_sleeping: u32,
    /// `CMD_*`, written by the Sentry before it hands the slot back.
    pub command: u32,
    /// Spin budget of the handler's wait (iterations of `pause`), set by the Sentry; set to 0
    /// while the Sentry blocks for the thread (a wait the handler should sleep through).
    pub stub_spin: u32,
    pub _pad0: [u32; 11],
    /// Written by the handler: the signal number.
    pub signo: u32,
    pub _pad1: u32,
    /// Written by the handler: the stub address of the frame's `siginfo_t`.
    pub siginfo: u64,
    /// Written by the handler: the stub address of the frame's `ucontext`.
    pub ucontext: u64,
    /// The guest's FS base: saved by the handler, restored from here on resume.
    pub fs_base: u64,
    /// The guest's GS base: saved by the handler, restored from here on resume. Zero while
    /// the guest has none: the thread's real GS base is then its slot, which is how the fast
    /// syscall path finds it.
    pub gs_base: u64,
    /// Set by the Sentry when it rewrites the FP state of a fast frame: the fast path's exit
    /// loads it (`xrstor`) only then.
    pub fp_dirty: u32,
    /// Set by the handler when the interrupt signal lands in the fast path after its frame
    /// was published: the fast path reports an interrupt before it returns to the guest.
    pub fast_kick: u32,
    pub _pad2: [u64; 2],
    /// The kernel's `_fpx_sw_bytes` of this machine (magic, sizes, feature mask), copied by
    /// the Sentry from the thread's first signal frame. The fast path copies them into its
    /// frame, so the Sentry reads both kinds of frame alike; no magic means `fxsave` only.
    pub fp_sw: [u64; 6],
    pub _pad3: [u64; 2],
}
const_assert_eq!(core::mem::size_of::<ThreadSlot>(), 192);
const_assert!(core::mem::size_of::<ThreadSlot>() as u64 <= SLOT_ALTSTACK);
// `state` and the words the handler polls share the first cache line; the event words are
// on the second, written once per trap.
const_assert_eq!(core::mem::offset_of!(ThreadSlot, signo), 64);

/// The frame the fast syscall path builds in its slot, laid out like the kernel's SIGSYS
/// frame so the Sentry reads and rewrites it the same way: a `ucontext`, a `siginfo` and an
/// XSAVE image (up to [`FAST_FP_MAX`] bytes). The path's own stack grows down from
/// [`FAST_STACK`]; a signal that interrupts it gets its kernel frame below that.
pub const FAST_UC: u64 = 0x4000;
pub const FAST_SI: u64 = 0x4180;
pub const FAST_FP: u64 = 0x5000;
pub const FAST_FP_MAX: u64 = SLOT_SIZE - FAST_FP;
pub const FAST_STACK: u64 = 0x3f00;
const_assert!(FAST_STACK >= SLOT_ALTSTACK + 0x2800);
const_assert!(FAST_UC + core::mem::size_of::<snare_abi::signal::Ucontext>() as u64 <= FAST_SI);
const_assert!(FAST_SI + core::mem::size_of::<snare_abi::signal::SigInfo>() as u64 <= FAST_FP);
const_assert!(FAST_FP.is_multiple_of(64));

/// Where a process's syscall trap table lives (guest memory, read+exec, mapped by the Sentry
/// on the first patch), in two halves, one per kind of site (see [`crate::patch`]). The
/// entry addresses are chosen so that the bytes a patched site has where a thread may
/// resume inside it are invalid opcodes in 64-bit mode (0x06, 0x07): such a thread faults
/// (SIGILL) and the Sentry moves it to the equivalent place in the entry.
pub const TRAP_TABLE: u64 = 0x6_0000;
pub const TRAP_TABLE_SIZE: u64 = 0x2_0000;
/// Entries of `mov eax, imm32; syscall` sites, 64 bytes each. A patched site
/// `jmp qword ptr [entry]` (`ff 24 25` + a 32-bit address) has the entry address's third
/// byte, 0x06, where its `syscall` started.
pub const MOV_ENTRIES: u64 = TRAP_TABLE;
pub const MOV_ENTRIES_SIZE: u64 = 0x1_0000;
/// Entries of `xor eax, eax; syscall; cmp rax, -4096` sites, one per 256 bytes, each jumped
/// to at +6: a patched site `mov r11d, imm32; jmp r11` has the address's first byte (0x06)
/// where its `syscall` started and its third (0x07) where that `syscall` returned to.
pub const XOR_ENTRIES: u64 = 0x7_0000;
pub const XOR_ENTRIES_SIZE: u64 = 0x1_0000;
const_assert_eq!(MOV_ENTRIES >> 16, 6);
const_assert_eq!((MOV_ENTRIES + MOV_ENTRIES_SIZE - 1) >> 16, 6);
const_assert_eq!(XOR_ENTRIES >> 16, 7);
const_assert_eq!((XOR_ENTRIES + XOR_ENTRIES_SIZE - 1) >> 16, 7);
const_assert_eq!(MOV_ENTRIES + MOV_ENTRIES_SIZE, XOR_ENTRIES);
const_assert_eq!(XOR_ENTRIES + XOR_ENTRIES_SIZE, TRAP_TABLE + TRAP_TABLE_SIZE);

/// Most host syscalls in one control request.
pub const CTRL_MAX_OPS: usize = 32;

/// One host syscall of a control request.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct CtrlOp {
    /// Syscall number.
    pub nr: u64,
    /// Arguments in ABI order (rdi, rsi, rdx, r10, r8, r9).
    pub args: [u64; 6],
    pub _pad: u64,
}
const_assert_eq!(core::mem::size_of::<CtrlOp>(), 64);

/// A request to the control thread of a stub process: up to [`CTRL_MAX_OPS`] host syscalls,
/// run in order until one fails. Read-only in the stub; only the Sentry writes it.
#[repr(C, align(64))]
#[derive(Debug)]
pub struct CtrlRequest {
    /// Bumped by the Sentry for each request; the control thread sleeps on it.
    pub seq: u32,
    /// Spin budget of the control thread's wait (iterations of `pause`).
    pub spin: u32,
    /// How many entries of `ops` to run (at most [`CTRL_MAX_OPS`]).
    pub count: u32,
    pub _pad0: [u32; 13],
    pub ops: [CtrlOp; CTRL_MAX_OPS],
}
const_assert_eq!(core::mem::offset_of!(CtrlRequest, ops), 64);
const_assert!(core::mem::size_of::<CtrlRequest>() <= 4096);

/// The control thread's answers. Writable in the stub, hence untrusted.
#[repr(C, align(64))]
#[derive(Debug)]
pub struct CtrlResponse {
    /// The `seq` of the last request completed; the Sentry sleeps on it.
    pub done: u32,
    /// Set to 1 by the control thread once it serves this page.
    pub ready: u32,
    /// Set by the control thread before it sleeps on `CtrlRequest::seq`.
    pub ctrl_sleeping: u32,
    /// Set by the Sentry before it sleeps on `done`.
    pub sentry_sleeping: u32,
    pub _pad0: [u32; 12],
    /// Raw return value of each op of the last request, up to and including the first that
    /// failed (`-4095..=-1`); later entries are stale.
    pub rets: [i64; CTRL_MAX_OPS],
}
const_assert_eq!(core::mem::offset_of!(CtrlResponse, rets), 64);
const_assert!(core::mem::size_of::<CtrlResponse>() <= 4096);

/// Where a stub process keeps its end of the socket the Sentry passes host file descriptors
/// through (`SCM_RIGHTS`), for direct read-only mappings of host files. The received
/// descriptor is always 0 (the lowest free one) and is closed in the same control request.
pub const STUB_SOCK_FD: u64 = 1000;
/// Offsets in the response page of the `recvmsg` buffers the Sentry sets up there: the
/// `msghdr`, its one `iovec`, the byte it points at, and the control (cmsg) buffer.
pub const RESP_MSG: u64 = 0x800;
pub const RESP_IOV: u64 = 0x840;
pub const RESP_BYTE: u64 = 0x850;
pub const RESP_CMSG: u64 = 0x860;
pub const RESP_CMSG_LEN: u64 = 32;
const_assert!(core::mem::size_of::<CtrlResponse>() as u64 <= RESP_MSG);
const_assert!(RESP_CMSG + RESP_CMSG_LEN <= 4096);

/// Where a stub process (not the source) keeps its own eventfd, written by the control thread
/// after each request with a value of [`StubData::ctrl_done`]: how many ops ran and whether
/// the last failed. Guest threads can't write to it (their filter traps `write`), so unlike
/// [`CtrlResponse::done`] the Sentry can trust it. The source makes it for each new stub
/// (inherited through the clone) and passes the Sentry its own copy over `STUB_SOCK_FD`.
pub const STUB_DONE_FD: u64 = 1001;
/// Entries of [`StubData::ctrl_done`]: (0..=CTRL_MAX_OPS ops ran) × (last one failed or not).
pub const CTRL_DONE_VALUES: usize = 2 * (CTRL_MAX_OPS + 1);

/// The completion value for a request of which `ran` ops ran, the last one failing if
/// `failed`. Never 0 (an eventfd read of 0 can't happen) and distinct for every pair.
pub const fn ctrl_done_value(ran: usize, failed: bool) -> u64 {
    1 + ran as u64 + if failed { 0x100 } else { 0 }
}

/// The inverse of [`ctrl_done_value`]: `None` for a value no single completion writes.
pub fn ctrl_done_decode(v: u64) -> Option<(usize, bool)> {
    let x = v.checked_sub(1)?;
    let ran = (x & 0xff) as usize;
    if x >> 9 != 0 || ran > CTRL_MAX_OPS {
        return None;
    }
    Some((ran, x & 0x100 != 0))
}

/// Most BPF instructions in one of the stub's seccomp programs.
pub const MAX_FILTER_LEN: usize = 200;
/// Most address ranges the source stub unmaps at birth.
pub const MAX_UNMAP: usize = 8;

/// The read-only data page of the stub region, written by the Sentry once at start-up.
#[repr(C)]
#[derive(Debug)]
pub struct StubData {
    /// Filter of guest threads (points into `guest_filter`).
    pub guest_fprog: SockFprog,
    /// Filter of the control thread, inherited by guest threads (points into `ctrl_filter`).
    pub ctrl_fprog: SockFprog,
    /// Every signal but SIGSYS: a new guest thread's mask until the Sentry's first answer
    /// (whose frame unblocks the rest), so that no signal can reach its handler while the
    /// thread still runs without the guest filter (a frame rewritten there by guest code
    /// would resume it with only the control filter).
    pub boot_sigset: u64,
    /// 1 when `rdfsbase`/`wrfsbase` may be used, else the stub uses `arch_prctl`.
    pub has_fsgsbase: u32,
    /// Number of valid entries in `unmap`.
    pub n_unmap: u32,
    /// `(address, length)` ranges the source stub unmaps: everything but the stub region and
    /// the vDSO.
    pub unmap: [[u64; 2]; MAX_UNMAP],
    /// `ctrl_done[failed * (CTRL_MAX_OPS + 1) + ran]` = `ctrl_done_value(ran, failed)`: what
    /// the control thread writes to [`STUB_DONE_FD`] after a request (it can only name a
    /// value, and the page is read-only, so the value can't be forged by guest threads).
    pub ctrl_done: [u64; CTRL_DONE_VALUES],
    pub guest_filter: [SockFilter; MAX_FILTER_LEN],
    pub ctrl_filter: [SockFilter; MAX_FILTER_LEN],
}
const_assert!(core::mem::size_of::<StubData>() as u64 <= STUB_DATA_SIZE);

/// Clone flags of a new guest thread (requested from a control thread).
pub const CLONE_GUEST_THREAD: u64 = 0x100 // CLONE_VM
    | 0x200 // CLONE_FS
    | 0x400 // CLONE_FILES
    | 0x800 // CLONE_SIGHAND
    | 0x1_0000 // CLONE_THREAD
    | 0x4_0000 // CLONE_SYSVSEM
    | 0x20_0000; // CLONE_CHILD_CLEARTID
/// Clone flags of a new stub process (requested from the source stub): a sibling of the
/// source, child of the Sentry.
pub const CLONE_STUB_PROCESS: u64 = 0x8000 /* CLONE_PARENT */ | 17 /* SIGCHLD */;
/// The syscall number a new thread traps with to hand itself to the Sentry. No such syscall
/// exists, so if it ever reached the host it would fail with ENOSYS.
pub const BOOTSTRAP_NR: u64 = 0xfff0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctrl_done_values_round_trip() {
        for ran in 0..=CTRL_MAX_OPS {
            for failed in [false, true] {
                let v = ctrl_done_value(ran, failed);
                assert_eq!(ctrl_done_decode(v), Some((ran, failed)));
            }
        }
        // Nothing else decodes: 0, two completions added up, out-of-range counts.
        assert_eq!(ctrl_done_decode(0), None);
        assert_eq!(ctrl_done_decode(ctrl_done_value(3, true) * 2), None);
        assert_eq!(
            ctrl_done_decode(ctrl_done_value(CTRL_MAX_OPS, false) + 1),
            None
        );
        assert_eq!(ctrl_done_decode(u64::MAX), None);
    }
}
