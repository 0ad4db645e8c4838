//! How snare runs guest code and stops it again.
//!
//! The Sentry sees guest execution through three traits:
//! - [`Platform`]: makes address spaces and owns the [`MemoryFile`] all guest memory lives in;
//! - [`AddressSpace`]: one guest address space — map memory-file ranges at fixed addresses,
//!   unmap, protect, and make new threads ([`Context`]s) in it;
//! - [`Context`]: one guest thread — [`Context::switch`] runs it with the given registers until
//!   the next [`Event`] (a syscall, a fault, a signal, an interrupt or its end).
//!
//! The implementation is [`systrap`]: seccomp `SECCOMP_RET_TRAP` plus a signal handler in each
//! stub process, with the hand-off through shared memory. This crate and `stub` are where snare's
//! `unsafe` lives; everything above is safe Rust.

pub mod fdpass;
pub mod host_proc;
pub mod isolate;
pub mod memfile;
pub mod mount_tree;
pub mod net;
mod sys;
pub mod systrap;
#[cfg(feature = "test-hooks")]
pub mod test_hooks;
pub mod tty;
pub mod xattr;

use core::fmt;

pub use memfile::MemoryFile;
pub use snare_abi::{SigInfo, UserRegs};

/// Result of platform operations.
pub type Result<T> = core::result::Result<T, Error>;

/// Why a platform operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A host call failed.
    Host {
        call: &'static str,
        errno: snare_abi::Errno,
    },
    /// The stub process behind an address space is gone (killed, crashed, or killed by us after
    /// its shared memory was found corrupt).
    StubDied,
    /// The stub's shared memory held something impossible; the stub process has been killed.
    Corrupt(&'static str),
    /// An address range outside the guest's part of the address space, or misaligned.
    BadRange,
    /// No more thread slots in this address space.
    TooManyThreads,
    /// The memory file is full.
    OutOfMemory,
    /// The pages allocated would exceed the sandbox's memory limit
    /// ([`MemoryFile::set_limit`]).
    MemoryLimit,
    /// Start-up could not prepare the platform.
    Setup(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Host { call, errno } => write!(f, "host {call} failed: {errno}"),
            Error::StubDied => f.write_str("stub process died"),
            Error::Corrupt(what) => write!(f, "stub shared memory corrupt: {what}"),
            Error::BadRange => f.write_str("address range outside the guest address space"),
            Error::TooManyThreads => f.write_str("too many threads in one address space"),
            Error::OutOfMemory => f.write_str("memory file exhausted"),
            Error::MemoryLimit => f.write_str("memory limit reached"),
            Error::Setup(msg) => write!(f, "platform setup: {msg}"),
        }
    }
}

impl std::error::Error for Error {}

/// Page protection of a mapping (`PROT_*` bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Prot(u32);

impl Prot {
    pub const NONE: Prot = Prot(0);
    pub const READ: Prot = Prot(1);
    pub const WRITE: Prot = Prot(2);
    pub const EXEC: Prot = Prot(4);
    pub const RW: Prot = Prot(3);
    pub const RX: Prot = Prot(5);
    pub const RWX: Prot = Prot(7);

    /// From raw `PROT_*` bits; `None` when unknown bits are set.
    pub const fn from_bits(bits: u32) -> Option<Prot> {
        if bits & !7 == 0 {
            Some(Prot(bits))
        } else {
            None
        }
    }

    pub const fn bits(self) -> u32 {
        self.0
    }

    pub const fn contains(self, other: Prot) -> bool {
        self.0 & other.0 == other.0
    }
}

impl core::ops::BitOr for Prot {
    type Output = Prot;
    fn bitor(self, rhs: Prot) -> Prot {
        Prot(self.0 | rhs.0)
    }
}

/// The kind of memory access that faulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    Exec,
}

/// Why [`Context::switch`] returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The thread made a system call: `regs.orig_rax` holds its number (`u64::MAX` for a call
    /// through a non-x86-64 ABI such as `int 0x80`), the arguments are in the usual registers,
    /// `regs.rax` is `-ENOSYS` and `regs.rip` points after the instruction. Set `regs.rax` to
    /// the result and switch again.
    Syscall,
    /// A page fault at `addr` that the guest may be allowed to make: map something and switch
    /// again to retry the instruction.
    Fault { addr: u64, access: Access },
    /// Another synchronous signal (SIGSEGV that is no page fault, SIGBUS, SIGFPE, SIGILL,
    /// SIGTRAP) with its siginfo, as the host reported it.
    Signal(SigInfo),
    /// [`Interrupter::interrupt`] was called.
    Interrupted,
    /// The host thread or its stub process is gone; the context can't run again.
    Exited,
}

/// One change to the mappings of an address space, for [`AddressSpace::apply`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapOp {
    /// [`AddressSpace::map_file`]; `populate`: fill the host page tables now (the pages are
    /// about to be touched), else the guest's first touch of each page takes a host fault.
    Map {
        addr: u64,
        len: u64,
        file_offset: u64,
        prot: Prot,
        populate: bool,
    },
    /// [`AddressSpace::unmap`].
    Unmap { addr: u64, len: u64 },
    /// [`AddressSpace::protect`].
    Protect { addr: u64, len: u64, prot: Prot },
    /// A private, read-only mapping of the host file open on `fd` (in the Sentry) at
    /// `offset`, which the host then serves from its own page cache (systrap:
    /// `SystrapAddressSpace::map_host_file`). Platforms that can't map host files refuse it.
    MapHost {
        addr: u64,
        len: u64,
        prot: Prot,
        fd: i32,
        offset: u64,
    },
}

impl MapOp {
    /// The address range the op changes.
    pub fn range(&self) -> (u64, u64) {
        match *self {
            MapOp::Map { addr, len, .. }
            | MapOp::Unmap { addr, len }
            | MapOp::Protect { addr, len, .. }
            | MapOp::MapHost { addr, len, .. } => (addr, addr.saturating_add(len)),
        }
    }
}

/// Why [`AddressSpace::apply`] stopped: the op at `index` failed (those before it are done,
/// those after it are not).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpError {
    pub index: usize,
    pub error: Error,
}

/// A machine that runs guest code.
pub trait Platform: Send + Sync {
    type AddressSpace: AddressSpace;

    /// A new, empty guest address space.
    fn new_address_space(&self) -> Result<Self::AddressSpace>;
    /// Where all guest memory lives.
    fn memory_file(&self) -> &std::sync::Arc<MemoryFile>;
    /// Lowest address the guest may map.
    fn min_user_address(&self) -> u64;
    /// One past the highest address the guest may map.
    fn max_user_address(&self) -> u64;
}

/// One guest address space.
pub trait AddressSpace: Send + Sync {
    type Context: Context;

    /// Maps `len` bytes of the memory file at `file_offset` to guest address `addr` with
    /// `prot`, shared (writes reach the memory file), replacing whatever was there.
    fn map_file(&self, addr: u64, len: u64, file_offset: u64, prot: Prot) -> Result<()>;
    /// [`AddressSpace::map_file`], running `fill` (which writes the pages' contents through
    /// the memory file) before the guest can see them; platforms may run it while the mapping
    /// is being made. `fill` runs exactly once, also on failure.
    fn map_file_with(
        &self,
        addr: u64,
        len: u64,
        file_offset: u64,
        prot: Prot,
        fill: &mut dyn FnMut(),
    ) -> Result<()> {
        fill();
        self.map_file(addr, len, file_offset, prot)
    }
    /// Runs `ops` in order, stopping at the first that fails; platforms batch them (one
    /// round trip to the stub for many ops).
    fn apply(&self, ops: &[MapOp]) -> core::result::Result<(), OpError> {
        for (index, op) in ops.iter().enumerate() {
            let r = match *op {
                MapOp::Map {
                    addr,
                    len,
                    file_offset,
                    prot,
                    ..
                } => self.map_file(addr, len, file_offset, prot),
                MapOp::Unmap { addr, len } => self.unmap(addr, len),
                MapOp::Protect { addr, len, prot } => self.protect(addr, len, prot),
                MapOp::MapHost { .. } => Err(Error::BadRange),
            };
            r.map_err(|error| OpError { index, error })?;
        }
        Ok(())
    }
    /// Removes mappings in `[addr, addr + len)`.
    fn unmap(&self, addr: u64, len: u64) -> Result<()>;
    /// Changes the protection of mappings in `[addr, addr + len)`.
    fn protect(&self, addr: u64, len: u64, prot: Prot) -> Result<()>;
    /// A new thread in this address space. It runs nothing until its first
    /// [`Context::switch`], which starts it with the registers given there.
    fn new_context(&self) -> Result<Self::Context>;
    /// The address space is going away: once this returns, the host maps none of the
    /// memory-file pages it mapped, so the caller may give them to others. (Dropping it does
    /// the same, but later than a caller that frees pages in its own `Drop` needs.)
    fn release(&self) {}
    /// Ends the host side of the address space at once and waits until it is gone (its
    /// mappings can't be trusted any more: an unmap that failed leaves pages mapped that the
    /// caller is about to free). Every context in it then reports [`Event::Exited`].
    fn kill(&self) {}
}

/// One guest thread.
pub trait Context: Send {
    type Interrupter: Interrupter;

    /// Runs the thread with `regs` until the next event, and returns the registers of that
    /// moment in `regs`. FP/SSE/AVX state is kept by the platform and carries over unchanged;
    /// see [`Context::fp_state`].
    fn switch(&mut self, regs: &mut UserRegs) -> Event;
    /// The thread's FP/SSE/AVX state as of the last event, in XSAVE (or FXSAVE) layout.
    fn fp_state(&self) -> Result<FpState>;
    /// Replaces the thread's FP state; takes effect at the next switch. `fp` must come from
    /// [`Context::fp_state`] on this machine (same layout and size).
    fn set_fp_state(&mut self, fp: &FpState) -> Result<()>;
    /// A handle other threads can use to interrupt this one.
    fn interrupter(&self) -> Self::Interrupter;
    /// Forgets interrupts that came while the thread was stopped: the caller is about to look
    /// for whatever they were about (an interrupt after this call still ends the next switch).
    /// Without it, an interrupt sent while the task was blocked in a syscall ends the next
    /// switch at once for nothing.
    fn clear_interrupt(&self) {}
}

/// Interrupts a running [`Context`] from another thread: its current or next `switch` returns
/// [`Event::Interrupted`].
pub trait Interrupter: Clone + Send + Sync + 'static {
    fn interrupt(&self);
    /// Like [`Interrupter::interrupt`], for a thread that must stop for good (it is being
    /// killed): if it doesn't stop soon, whatever its guest code did to its host thread, the
    /// platform ends it by force and its `switch` returns [`Event::Exited`].
    fn interrupt_fatal(&self) {
        self.interrupt();
    }
}

/// FP/SSE/AVX register state in the host's XSAVE (or FXSAVE) layout.
#[derive(Clone, PartialEq, Eq)]
pub struct FpState {
    bytes: Vec<u8>,
}

impl fmt::Debug for FpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FpState")
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl FpState {
    pub(crate) fn from_bytes(bytes: Vec<u8>) -> FpState {
        FpState { bytes }
    }

    /// FP state the guest supplied (a signal frame's, at `rt_sigreturn`), made safe to load:
    /// same size as `current` (the thread's own state, which gives the layout), MXCSR
    /// reserved bits cleared, and the XSAVE header limited to features `current` has, so the
    /// host's restore can't fault.
    pub fn from_guest(current: &FpState, guest: &[u8]) -> FpState {
        let mut bytes = current.bytes.clone();
        let n = bytes.len().min(guest.len());
        bytes[..n].copy_from_slice(&guest[..n]);
        let mxcsr_mask = match u32::from_ne_bytes(bytes[28..32].try_into().unwrap_or_default()) {
            0 => 0xffbf,
            m => m,
        };
        let mxcsr = u32::from_ne_bytes(bytes[24..28].try_into().unwrap_or_default()) & mxcsr_mask;
        bytes[24..28].copy_from_slice(&mxcsr.to_ne_bytes());
        // The software-reserved bytes (the frame's format description) stay the host's.
        bytes[464..512].copy_from_slice(&current.bytes[464..512]);
        if bytes.len() >= 576 {
            let cur_bv = u64::from_ne_bytes(current.bytes[512..520].try_into().unwrap_or_default());
            let sw_features =
                u64::from_ne_bytes(current.bytes[472..480].try_into().unwrap_or_default());
            let bv = u64::from_ne_bytes(bytes[512..520].try_into().unwrap_or_default());
            let allowed = if sw_features != 0 {
                sw_features
            } else {
                cur_bv
            };
            bytes[512..520].copy_from_slice(&(bv & allowed).to_ne_bytes());
            // xcomp_bv and the rest of the header as the host wrote them.
            bytes[520..576].copy_from_slice(&current.bytes[520..576]);
        }
        FpState { bytes }
    }

    /// The state a new program starts with (after exec), in this state's layout: x87 and
    /// SSE registers zero, FCW 0x37f, MXCSR 0x1f80, no extended state in use.
    pub fn initial(&self) -> FpState {
        let mut bytes = vec![0u8; self.bytes.len()];
        bytes[0..2].copy_from_slice(&0x037fu16.to_ne_bytes());
        bytes[24..28].copy_from_slice(&0x1f80u32.to_ne_bytes());
        // MXCSR_MASK and the software-reserved bytes (the frame's format) stay the host's.
        bytes[28..32].copy_from_slice(&self.bytes[28..32]);
        bytes[464..512].copy_from_slice(&self.bytes[464..512]);
        if bytes.len() >= 576 {
            // XSTATE_BV: x87 and SSE as given above, every other component in its init state.
            bytes[520..576].copy_from_slice(&self.bytes[520..576]);
            bytes[512..520].copy_from_slice(&3u64.to_ne_bytes());
        }
        FpState { bytes }
    }

    /// The raw XSAVE image.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// XMM register `n` (0..16).
    pub fn xmm(&self, n: usize) -> [u8; 16] {
        let at = snare_abi::regs::FXSAVE_XMM_OFFSET + 16 * n;
        let mut out = [0u8; 16];
        out.copy_from_slice(&self.bytes[at..at + 16]);
        out
    }

    /// Sets XMM register `n` (0..16).
    pub fn set_xmm(&mut self, n: usize, value: [u8; 16]) {
        let at = snare_abi::regs::FXSAVE_XMM_OFFSET + 16 * n;
        self.bytes[at..at + 16].copy_from_slice(&value);
    }

    /// The upper 128 bits of YMM register `n` (0..16), if the image holds AVX state.
    pub fn ymm_hi(&self, n: usize) -> Option<[u8; 16]> {
        let at = snare_abi::regs::XSAVE_YMM_HI_OFFSET + 16 * n;
        let src = self.bytes.get(at..at + 16)?;
        let mut out = [0u8; 16];
        out.copy_from_slice(src);
        Some(out)
    }
}

/// Fills `buf` with random bytes from the host's generator (`getrandom(2)`, the urandom
/// pool: no file to open, so nothing to reach by path once the Sentry is confined).
pub fn host_random(buf: &mut [u8]) -> std::result::Result<(), snare_abi::Errno> {
    let mut done = 0;
    while done < buf.len() {
        let rest = &mut buf[done..];
        // SAFETY: getrandom writes at most `rest.len()` bytes into `rest`, which is live and
        // exclusively borrowed for the call.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let e = sys::errno();
            if e == snare_abi::Errno::EINTR {
                continue;
            }
            return Err(e);
        }
        done += n as usize;
    }
    Ok(())
}

/// The CPUs the host lets this process run on, as `sched_getaffinity(2)` reports them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostCpus {
    /// The affinity mask, 64 CPUs a word.
    pub mask: Vec<u64>,
    /// The bytes the host's `sched_getaffinity` writes (its `cpumask_size()`).
    pub mask_bytes: usize,
    /// The smallest buffer, in bytes, it accepts (a multiple of 8 that holds `nr_cpu_ids`
    /// bits): a shorter one is EINVAL.
    pub min_bytes: usize,
}

/// Asks the host which CPUs this process may use ([`HostCpus`]); CPU 0 alone if it won't say.
pub fn host_cpus() -> HostCpus {
    /// Larger than any kernel's `cpumask_size()` (NR_CPUS is at most 8192).
    const MAX_BYTES: usize = 1024;
    let affinity = |buf: &mut [u64]| -> i64 {
        // SAFETY: the kernel writes at most `len` bytes (the buffer's size) into `buf`, which
        // is live and exclusively borrowed for the call.
        unsafe {
            libc::syscall(
                libc::SYS_sched_getaffinity,
                0,
                buf.len() * 8,
                buf.as_mut_ptr(),
            )
        }
    };
    let mut buf = vec![0u64; MAX_BYTES / 8];
    let n = affinity(&mut buf);
    if n <= 0 {
        return HostCpus {
            mask: vec![1],
            mask_bytes: 8,
            min_bytes: 8,
        };
    }
    let mask_bytes = n as usize;
    buf.truncate(mask_bytes.div_ceil(8));
    let min_bytes = (1..=MAX_BYTES / 8)
        .map(|w| w * 8)
        .find(|&len| affinity(&mut vec![0u64; len / 8]) > 0)
        .unwrap_or(8);
    HostCpus {
        mask: buf,
        mask_bytes,
        min_bytes,
    }
}
