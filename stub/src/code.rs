//! The stub's machine code: signal handler, restorer, control loop, thread and process entry.
//!
//! Assembled into its own section between `snare_stub_code_start` and `snare_stub_code_end`;
//! the platform copies those bytes to [`STUB_CODE`](crate::layout::STUB_CODE). Jumps inside the
//! blob are PC-relative and data is reached through the fixed addresses of the stub region, so
//! the copy runs wherever the region is.
//!
//! Register conventions:
//! - signal handler: `rbx` = this thread's [`ThreadSlot`](crate::layout::ThreadSlot) (the
//!   stack pointer rounded down to `SLOT_SIZE`), `r12` = [`StubData`](crate::layout::StubData).
//!   A handler may clobber every register: the frame holds the guest's.
//! - control loop: `r12` = request page, `r15` = response page, `r13d` = last `seq` served,
//!   `r14` = number of the syscall in flight, `ebx` = spin budget left. No stack is used: guest threads share the
//!   address space and could corrupt one.

use core::mem::offset_of;

use crate::layout::{
    CtrlRequest, CtrlResponse, StubData, ThreadSlot, BOOTSTRAP_NR, CMD_EXIT, CTRL_MAX_OPS,
    SLOT_ALTSTACK, SLOT_SIZE, STATE_SENTRY, STUB_CTRL_REQ, STUB_CTRL_RESP, STUB_DATA,
};

const SYS_RT_SIGPROCMASK: u64 = 14;
const SYS_RT_SIGRETURN: u64 = 15;
const SYS_MMAP: u64 = 9;
const SYS_MUNMAP: u64 = 11;
const SYS_CLONE: u64 = 56;
const SYS_EXIT: u64 = 60;
const SYS_GETPPID: u64 = 110;
const SYS_SIGALTSTACK: u64 = 131;
const SYS_PRCTL: u64 = 157;
const SYS_ARCH_PRCTL: u64 = 158;
const SYS_FUTEX: u64 = 202;
const SYS_EXIT_GROUP: u64 = 231;
const SYS_SECCOMP: u64 = 317;
const SYS_SCHED_YIELD: u64 = 24;

/// Spinning loops call `sched_yield` once every this many `pause`s (a power of two).
pub const YIELD_EVERY: u32 = 64;

core::arch::global_asm!(
    ".pushsection .text.snare_stub,\"ax\",@progbits",
    ".balign 64",
    ".globl snare_stub_code_start",
    ".hidden snare_stub_code_start",
    "snare_stub_code_start:",
    //
    // ---- Signal handler: SIGSYS, faults, the interrupt signal. ----
    // rdi = signo, rsi = &siginfo, rdx = &ucontext, on this thread's signal stack.
    ".globl snare_stub_handler",
    ".hidden snare_stub_handler",
    "snare_stub_handler:",
    "mov rbx, rsp",
    "and rbx, {slot_mask}",
    "mov dword ptr [rbx + {slot_signo}], edi",
    "mov qword ptr [rbx + {slot_siginfo}], rsi",
    "mov qword ptr [rbx + {slot_ucontext}], rdx",
    "mov r12, {data}",
    "cmp dword ptr [r12 + {data_has_fsgsbase}], 0",
    "je 2f",
    ".byte 0xf3, 0x48, 0x0f, 0xae, 0xc0", // rdfsbase rax
    ".byte 0xf3, 0x48, 0x0f, 0xae, 0xc9", // rdgsbase rcx
    "mov qword ptr [rbx + {slot_fs_base}], rax",
    "mov qword ptr [rbx + {slot_gs_base}], rcx",
    "jmp 3f",
    "2:",
    "mov edi, 0x1003", // ARCH_GET_FS
    "lea rsi, [rbx + {slot_fs_base}]",
    "mov eax, {sys_arch_prctl}",
    "syscall",
    "mov edi, 0x1004", // ARCH_GET_GS
    "lea rsi, [rbx + {slot_gs_base}]",
    "mov eax, {sys_arch_prctl}",
    "syscall",
    "3:",
    // Publish the event; xchg is a full barrier, so sentry_sleeping is read after it.
    "mov eax, {state_sentry}",
    "xchg dword ptr [rbx + {slot_state}], eax",
    "cmp dword ptr [rbx + {slot_sentry_sleeping}], 0",
    "je 4f",
    "lea rdi, [rbx + {slot_state}]",
    "mov esi, 1", // FUTEX_WAKE
    "mov edx, 1",
    "mov eax, {sys_futex}",
    "syscall",
    "4:",
    // Wait for the Sentry: spin (yielding the CPU now and then, so a spinning stub never
    // starves the threads it waits for), then sleep.
    "mov r14d, dword ptr [rbx + {slot_stub_spin}]",
    "5:",
    "cmp dword ptr [rbx + {slot_state}], {state_sentry}",
    "jne 7f",
    "test r14d, r14d",
    "jz 6f",
    "pause",
    "dec r14d",
    "test r14d, {yield_mask}",
    "jnz 5b",
    "mov eax, {sys_sched_yield}",
    "syscall",
    "jmp 5b",
    "6:",
    "mov eax, 1",
    "xchg dword ptr [rbx + {slot_stub_sleeping}], eax",
    "cmp dword ptr [rbx + {slot_state}], {state_sentry}",
    "jne 8f",
    "lea rdi, [rbx + {slot_state}]",
    "xor esi, esi", // FUTEX_WAIT
    "mov edx, {state_sentry}",
    "xor r10d, r10d",
    "mov eax, {sys_futex}",
    "syscall",
    "8:",
    "mov dword ptr [rbx + {slot_stub_sleeping}], 0",
    "xor r14d, r14d",
    "jmp 5b",
    "7:",
    // The Sentry answered (it rewrote the frame). Exit, or restore FS/GS base and return.
    "cmp dword ptr [rbx + {slot_command}], {cmd_exit}",
    "je 9f",
    "cmp dword ptr [r12 + {data_has_fsgsbase}], 0",
    "je 10f",
    "mov rax, qword ptr [rbx + {slot_fs_base}]",
    ".byte 0xf3, 0x48, 0x0f, 0xae, 0xd0", // wrfsbase rax
    "mov rax, qword ptr [rbx + {slot_gs_base}]",
    ".byte 0xf3, 0x48, 0x0f, 0xae, 0xd8", // wrgsbase rax
    "ret",
    "10:",
    "mov edi, 0x1002", // ARCH_SET_FS
    "mov rsi, qword ptr [rbx + {slot_fs_base}]",
    "mov eax, {sys_arch_prctl}",
    "syscall",
    "mov edi, 0x1001", // ARCH_SET_GS
    "mov rsi, qword ptr [rbx + {slot_gs_base}]",
    "mov eax, {sys_arch_prctl}",
    "syscall",
    "ret",
    "9:",
    "mov eax, {sys_exit}",
    "xor edi, edi",
    "syscall",
    "ud2",
    //
    // ---- Restorer: the handler returns here; rt_sigreturn loads the (rewritten) frame. ----
    ".globl snare_stub_restorer",
    ".hidden snare_stub_restorer",
    "snare_stub_restorer:",
    "mov eax, {sys_rt_sigreturn}",
    "syscall",
    "ud2",
    //
    // ---- Control loop: serve CtrlRequest, a batch of host syscalls per seq. ----
    ".globl snare_stub_ctrl_loop",
    ".hidden snare_stub_ctrl_loop",
    "snare_stub_ctrl_loop:",
    "20:",
    "mov r12, {req}",
    "mov r15, {resp}",
    "mov ebx, dword ptr [r12 + {req_spin}]",
    "21:",
    "mov eax, dword ptr [r12 + {req_seq}]",
    "cmp eax, r13d",
    "jne 24f",
    "test ebx, ebx",
    "jz 22f",
    "pause",
    "dec ebx",
    "test ebx, {yield_mask}",
    "jnz 21b",
    "mov eax, {sys_sched_yield}",
    "syscall",
    "jmp 21b",
    "22:",
    "mov eax, 1",
    "xchg dword ptr [r15 + {resp_ctrl_sleeping}], eax",
    "cmp dword ptr [r12 + {req_seq}], r13d",
    "jne 23f",
    "lea rdi, [r12 + {req_seq}]",
    "xor esi, esi", // FUTEX_WAIT
    "mov edx, r13d",
    "xor r10d, r10d",
    "mov eax, {sys_futex}",
    "syscall",
    "23:",
    "mov dword ptr [r15 + {resp_ctrl_sleeping}], 0",
    "xor ebx, ebx",
    "jmp 21b",
    "24:",
    "mov r13d, eax",
    // Run `count` ops (clamped to CTRL_MAX_OPS) in order; stop after the first that fails.
    "mov ebx, dword ptr [r12 + {req_count}]",
    "mov eax, {max_ops}",
    "cmp ebx, eax",
    "cmova ebx, eax",
    "lea rbp, [r12 + {req_ops}]",
    "26:",
    "test ebx, ebx",
    "jz 27f",
    "mov r14, qword ptr [rbp]",
    "mov rdi, qword ptr [rbp + 8]",
    "mov rsi, qword ptr [rbp + 16]",
    "mov rdx, qword ptr [rbp + 24]",
    "mov r10, qword ptr [rbp + 32]",
    "mov r8, qword ptr [rbp + 40]",
    "mov r9, qword ptr [rbp + 48]",
    "mov rax, r14",
    ".globl snare_stub_ctrl_syscall",
    ".hidden snare_stub_ctrl_syscall",
    "snare_stub_ctrl_syscall:",
    "syscall",
    "cmp r14, {sys_clone}",
    "jne 25f",
    "test rax, rax",
    "jnz 25f",
    // The child of a clone: a new guest thread, or a new stub process.
    "bt rdi, 16", // CLONE_THREAD
    "jc 30f",
    "jmp 40f",
    "25:",
    // rets[i] where i = (rbp - ops) / 64, at byte offset i * 8.
    "mov rdx, rbp",
    "sub rdx, r12",
    "sub rdx, {req_ops}",
    "shr rdx, 3",
    "mov qword ptr [r15 + rdx + {resp_rets}], rax",
    "add rbp, 64",
    "dec ebx",
    "cmp rax, -4095",
    "jb 26b",
    "27:",
    "mov dword ptr [r15 + {resp_done}], r13d",
    "mfence",
    "cmp dword ptr [r15 + {resp_sentry_sleeping}], 0",
    "je 20b",
    "lea rdi, [r15 + {resp_done}]",
    "mov esi, 1", // FUTEX_WAKE
    "mov edx, 1",
    "mov eax, {sys_futex}",
    "syscall",
    "jmp 20b",
    //
    // ---- A new guest thread: rsp = the top of its slot. ----
    "30:",
    "lea rbx, [rsp - {slot_size}]",
    "push {altstack_size}",
    "push 0",
    "lea rax, [rbx + {slot_altstack}]",
    "push rax",
    "mov rdi, rsp",
    "xor esi, esi",
    "mov eax, {sys_sigaltstack}",
    "syscall",
    "test rax, rax",
    "jnz 39f",
    "mov r12, {data}",
    "mov edi, 2", // SIG_SETMASK
    "lea rsi, [r12 + {data_empty_sigset}]",
    "xor edx, edx",
    "mov r10d, 8",
    "mov eax, {sys_rt_sigprocmask}",
    "syscall",
    "test rax, rax",
    "jnz 39f",
    "mov edi, 1", // SECCOMP_SET_MODE_FILTER
    "xor esi, esi",
    "lea rdx, [r12 + {data_guest_fprog}]",
    "mov eax, {sys_seccomp}",
    "syscall",
    "test rax, rax",
    "jnz 39f",
    // Hand the thread to the Sentry: this traps, and the Sentry's answer sends the thread to
    // guest code.
    "31:",
    "mov eax, {bootstrap_nr}",
    "syscall",
    "jmp 31b",
    "39:",
    "mov eax, {sys_exit}",
    "mov edi, 1",
    "syscall",
    "ud2",
    //
    // ---- A new stub process (child of the source's control thread). ----
    // r8 = the Sentry's pid, r9 = file offset of the new control pages, r10 = memory file fd.
    "40:",
    "mov rbx, r8",
    "mov rbp, r9",
    "mov r14, r10",
    "mov edi, 1", // PR_SET_PDEATHSIG
    "mov esi, 9", // SIGKILL
    "mov eax, {sys_prctl}",
    "syscall",
    "mov eax, {sys_getppid}",
    "syscall",
    "cmp rax, rbx",
    "jne 49f",
    "mov rdi, {req}",
    "mov esi, 4096",
    "mov edx, 1",     // PROT_READ
    "mov r10d, 0x11", // MAP_SHARED | MAP_FIXED
    "mov r8, r14",
    "mov r9, rbp",
    "mov eax, {sys_mmap}",
    "syscall",
    "cmp rax, rdi",
    "jne 49f",
    "mov rdi, {resp}",
    "mov esi, 4096",
    "mov edx, 3", // PROT_READ | PROT_WRITE
    "mov r10d, 0x11",
    "mov r8, r14",
    "lea r9, [rbp + 4096]",
    "mov eax, {sys_mmap}",
    "syscall",
    "cmp rax, rdi",
    "jne 49f",
    "jmp 50f",
    "49:",
    "mov eax, {sys_exit_group}",
    "mov edi, 1",
    "syscall",
    "ud2",
    //
    // ---- The source stub, entered from the Sentry's forked child. ----
    // Drops every mapping but the stub region and the vDSO, installs the control filter.
    ".globl snare_stub_source_entry",
    ".hidden snare_stub_source_entry",
    "snare_stub_source_entry:",
    "mov r12, {data}",
    "lea rbx, [r12 + {data_unmap}]",
    "mov ebp, dword ptr [r12 + {data_n_unmap}]",
    "41:",
    "test ebp, ebp",
    "jz 42f",
    "mov rdi, qword ptr [rbx]",
    "mov rsi, qword ptr [rbx + 8]",
    "mov eax, {sys_munmap}",
    "syscall",
    "add rbx, 16",
    "dec ebp",
    "jmp 41b",
    "42:",
    "mov edi, 1", // SECCOMP_SET_MODE_FILTER
    "xor esi, esi",
    "lea rdx, [r12 + {data_ctrl_fprog}]",
    "mov eax, {sys_seccomp}",
    "syscall",
    "test rax, rax",
    "jnz 49b",
    // Both kinds of process: announce readiness and serve requests.
    "50:",
    "mov r15, {resp}",
    "mov dword ptr [r15 + {resp_ready}], 1",
    "lea rdi, [r15 + {resp_ready}]",
    "mov esi, 1",
    "mov edx, 1",
    "mov eax, {sys_futex}",
    "syscall",
    "xor r13d, r13d",
    "jmp 20b",
    ".balign 64",
    ".globl snare_stub_code_end",
    ".hidden snare_stub_code_end",
    "snare_stub_code_end:",
    ".popsection",
    slot_mask = const !(SLOT_SIZE - 1) as i64,
    slot_size = const SLOT_SIZE,
    slot_altstack = const SLOT_ALTSTACK,
    altstack_size = const SLOT_SIZE - SLOT_ALTSTACK,
    slot_state = const offset_of!(ThreadSlot, state),
    slot_stub_sleeping = const offset_of!(ThreadSlot, stub_sleeping),
    slot_sentry_sleeping = const offset_of!(ThreadSlot, sentry_sleeping),
    slot_command = const offset_of!(ThreadSlot, command),
    slot_stub_spin = const offset_of!(ThreadSlot, stub_spin),
    slot_signo = const offset_of!(ThreadSlot, signo),
    slot_siginfo = const offset_of!(ThreadSlot, siginfo),
    slot_ucontext = const offset_of!(ThreadSlot, ucontext),
    slot_fs_base = const offset_of!(ThreadSlot, fs_base),
    slot_gs_base = const offset_of!(ThreadSlot, gs_base),
    state_sentry = const STATE_SENTRY,
    cmd_exit = const CMD_EXIT,
    data = const STUB_DATA,
    data_has_fsgsbase = const offset_of!(StubData, has_fsgsbase),
    data_empty_sigset = const offset_of!(StubData, empty_sigset),
    data_guest_fprog = const offset_of!(StubData, guest_fprog),
    data_ctrl_fprog = const offset_of!(StubData, ctrl_fprog),
    data_unmap = const offset_of!(StubData, unmap),
    data_n_unmap = const offset_of!(StubData, n_unmap),
    req = const STUB_CTRL_REQ,
    resp = const STUB_CTRL_RESP,
    req_seq = const offset_of!(CtrlRequest, seq),
    req_spin = const offset_of!(CtrlRequest, spin),
    req_count = const offset_of!(CtrlRequest, count),
    req_ops = const offset_of!(CtrlRequest, ops),
    max_ops = const CTRL_MAX_OPS,
    resp_done = const offset_of!(CtrlResponse, done),
    resp_ready = const offset_of!(CtrlResponse, ready),
    resp_rets = const offset_of!(CtrlResponse, rets),
    resp_ctrl_sleeping = const offset_of!(CtrlResponse, ctrl_sleeping),
    resp_sentry_sleeping = const offset_of!(CtrlResponse, sentry_sleeping),
    bootstrap_nr = const BOOTSTRAP_NR,
    sys_rt_sigprocmask = const SYS_RT_SIGPROCMASK,
    sys_rt_sigreturn = const SYS_RT_SIGRETURN,
    sys_mmap = const SYS_MMAP,
    sys_munmap = const SYS_MUNMAP,
    sys_clone = const SYS_CLONE,
    sys_exit = const SYS_EXIT,
    sys_getppid = const SYS_GETPPID,
    sys_sigaltstack = const SYS_SIGALTSTACK,
    sys_prctl = const SYS_PRCTL,
    sys_arch_prctl = const SYS_ARCH_PRCTL,
    sys_futex = const SYS_FUTEX,
    sys_exit_group = const SYS_EXIT_GROUP,
    sys_sched_yield = const SYS_SCHED_YIELD,
    yield_mask = const YIELD_EVERY - 1,
    sys_seccomp = const SYS_SECCOMP,
);

extern "C" {
    static snare_stub_code_start: u8;
    static snare_stub_code_end: u8;
    static snare_stub_handler: u8;
    static snare_stub_restorer: u8;
    static snare_stub_ctrl_loop: u8;
    static snare_stub_ctrl_syscall: u8;
    static snare_stub_source_entry: u8;
}

/// Entry points of the stub code, as offsets from its first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    /// The signal handler of every trapped signal (`sa_handler`).
    Handler,
    /// The signal restorer (`sa_restorer`): `rt_sigreturn`.
    Restorer,
    /// The control loop (expects `r13d` = last served `seq`).
    CtrlLoop,
    /// The `syscall` instruction of the control loop (used by tests that attack it).
    CtrlSyscall,
    /// Where the Sentry's forked child jumps to become the source stub.
    SourceEntry,
}

fn start() -> usize {
    (&raw const snare_stub_code_start) as usize
}

/// The stub code, to be copied to `STUB_CODE`.
pub fn bytes() -> &'static [u8] {
    let end = (&raw const snare_stub_code_end) as usize;
    // SAFETY: both symbols delimit one contiguous, immutable section of this binary (the
    // global_asm block above); end follows start in the same section.
    unsafe { core::slice::from_raw_parts(start() as *const u8, end - start()) }
}

/// Offset of `entry` from the start of [`bytes`].
pub fn offset(entry: Entry) -> u64 {
    let sym = match entry {
        Entry::Handler => &raw const snare_stub_handler,
        Entry::Restorer => &raw const snare_stub_restorer,
        Entry::CtrlLoop => &raw const snare_stub_ctrl_loop,
        Entry::CtrlSyscall => &raw const snare_stub_ctrl_syscall,
        Entry::SourceEntry => &raw const snare_stub_source_entry,
    };
    (sym as usize - start()) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::STUB_CODE_MAX;

    #[test]
    fn code_fits_its_region() {
        let code = bytes();
        assert!(!code.is_empty());
        assert!(code.len() as u64 <= STUB_CODE_MAX);
        for e in [
            Entry::Handler,
            Entry::Restorer,
            Entry::CtrlLoop,
            Entry::CtrlSyscall,
            Entry::SourceEntry,
        ] {
            assert!(offset(e) < code.len() as u64, "{e:?}");
        }
        // The control loop's syscall instruction really is `syscall` (0f 05).
        let at = offset(Entry::CtrlSyscall) as usize;
        assert_eq!(&code[at..at + 2], &[0x0f, 0x05]);
    }
}
