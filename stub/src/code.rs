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

use snare_abi::signal::{SigInfo, Sigcontext, Ucontext};

use crate::layout::{
    CtrlRequest, CtrlResponse, StubData, ThreadSlot, BOOTSTRAP_NR, CMD_EXIT, CTRL_MAX_OPS, FAST_FP,
    FAST_SI, FAST_STACK, FAST_UC, SLOT_ALTSTACK, SLOT_SIZE, STATE_SENTRY, STUB_CTRL_REQ,
    STUB_CTRL_RESP, STUB_DATA, STUB_DONE_FD, STUB_END, STUB_SLOTS,
};
use crate::patch;

/// Offset of `uc_mcontext` in a `ucontext`.
const UC_MC: u64 = offset_of!(Ucontext, uc_mcontext) as u64;

const SYS_WRITE: u64 = 1;
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
    // The wait of a thread that handed its slot to the Sentry (`rbx` = the slot), used by
    // the handler and, inline, by the fast path (whose interrupt rule goes by address, so it
    // can't call a shared copy): spin on `state` for `stub_spin` pauses, yielding the CPU now
    // and then so a spinning stub never starves the threads it waits for, then sleep on it.
    // A `stub_spin` the Sentry sets to 0 meanwhile (it is about to block) ends the spin.
    // Falls through once the Sentry has handed the slot back. Clobbers rax, rcx, rdx, rsi,
    // rdi, r10, r11, r14.
    ".macro snare_wait_sentry",
    "mov r14d, dword ptr [rbx + {slot_stub_spin}]",
    "1:",
    "cmp dword ptr [rbx + {slot_state}], {state_sentry}",
    "jne 4f",
    "test r14d, r14d",
    "jz 2f",
    "cmp dword ptr [rbx + {slot_stub_spin}], 0",
    "je 2f",
    "pause",
    "dec r14d",
    "test r14d, {yield_mask}",
    "jnz 1b",
    "mov eax, {sys_sched_yield}",
    "syscall",
    "jmp 1b",
    "2:",
    "mov eax, 1",
    "xchg dword ptr [rbx + {slot_stub_sleeping}], eax",
    "cmp dword ptr [rbx + {slot_state}], {state_sentry}",
    "jne 3f",
    "lea rdi, [rbx + {slot_state}]",
    "xor esi, esi", // FUTEX_WAIT
    "mov edx, {state_sentry}",
    "xor r10d, r10d",
    "mov eax, {sys_futex}",
    "syscall",
    "3:",
    "mov dword ptr [rbx + {slot_stub_sleeping}], 0",
    "xor r14d, r14d",
    "jmp 1b",
    "4:",
    ".endm",
    //
    // ---- Signal handler: SIGSYS, faults, the interrupt signal. ----
    // rdi = signo, rsi = &siginfo, rdx = &ucontext, on this thread's signal stack.
    ".globl snare_stub_handler",
    ".hidden snare_stub_handler",
    "snare_stub_handler:",
    // The interrupt signal inside the fast syscall path. Before the path published its
    // frame, that frame answers the interrupt (the Sentry sees its pending flag): just
    // return. After, the path must report the interrupt before it goes back to the guest:
    // flag it and send the thread to the path's wait, with the registers the path needs.
    "mov rax, qword ptr [rdx + {uc_rip}]",
    "lea rcx, [rip + snare_fast_start]",
    "cmp rax, rcx",
    "jb 1f",
    "lea rcx, [rip + snare_fast_end]",
    "cmp rax, rcx",
    "jae 1f",
    "cmp edi, {sigchld}",
    "jne 1f",
    "lea rcx, [rip + snare_fast_published]",
    "cmp rax, rcx",
    "jb 11f",
    "mov rbx, rsp",
    "and rbx, {slot_mask}",
    "mov dword ptr [rbx + {slot_fast_kick}], 1",
    "lea rcx, [rip + snare_fast_published]",
    "mov qword ptr [rdx + {uc_rip}], rcx",
    "lea rcx, [rbx + {fast_stack}]",
    "mov qword ptr [rdx + {uc_rsp}], rcx",
    "mov qword ptr [rdx + {uc_rbx}], rbx",
    "11:",
    "ret",
    "1:",
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
    // A GS base that is the slot itself is snare's, not the guest's.
    "cmp rcx, rbx",
    "jne 12f",
    "xor ecx, ecx",
    "12:",
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
    "snare_wait_sentry",
    "7:",
    // The Sentry answered (it rewrote the frame). Exit, or restore FS/GS base and return.
    "cmp dword ptr [rbx + {slot_command}], {cmd_exit}",
    "je 9f",
    "cmp dword ptr [r12 + {data_has_fsgsbase}], 0",
    "je 10f",
    "mov rax, qword ptr [rbx + {slot_fs_base}]",
    ".byte 0xf3, 0x48, 0x0f, 0xae, 0xd0", // wrfsbase rax
    "mov rax, qword ptr [rbx + {slot_gs_base}]",
    "test rax, rax",
    "cmovz rax, rbx",
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
    // ---- Fast syscall path: a patched site's trap-table entry jumps here (crate::patch). ----
    // rax = syscall number, rcx = the entry, r11 free, every other register the guest's,
    // GS base = this thread's slot unless the guest set its own. Builds a SIGSYS-like frame
    // in the slot (FAST_*), publishes it like the handler, waits, and returns with iretq.
    // An interrupt signal before `snare_fast_published` is ignored by the handler (the frame
    // answers it); after it, the handler flags `fast_kick` and restarts the thread at
    // `snare_fast_published`, which works because everything after it reads the slot only.
    ".balign 16",
    "snare_fast_start:",
    ".globl snare_stub_fast",
    ".hidden snare_stub_fast",
    "snare_stub_fast:",
    ".byte 0xf3, 0x49, 0x0f, 0xae, 0xcb", // rdgsbase r11
    "test r11d, {slot_low}",
    "jnz 95f",
    "cmp r11, qword ptr [rip + 96f]",
    "jb 95f",
    "cmp r11, qword ptr [rip + 97f]",
    "jae 95f",
    "jmp 94f",
    // GS is not a slot (the guest set its own): the entry's real, trapped syscall.
    "95:",
    "add rcx, {entry_fallback}",
    "jmp rcx",
    "94:",
    "mov qword ptr [r11 + {f_rsp}], rsp",
    "lea rsp, [r11 + {fast_stack}]",
    "pushfq",
    "pop qword ptr [r11 + {f_eflags}]",
    "mov qword ptr [r11 + {f_rax}], rax",
    "mov qword ptr [r11 + {f_rbx}], rbx",
    "mov qword ptr [r11 + {f_rdx}], rdx",
    "mov qword ptr [r11 + {f_rsi}], rsi",
    "mov qword ptr [r11 + {f_rdi}], rdi",
    "mov qword ptr [r11 + {f_rbp}], rbp",
    "mov qword ptr [r11 + {f_r8}], r8",
    "mov qword ptr [r11 + {f_r9}], r9",
    "mov qword ptr [r11 + {f_r10}], r10",
    "mov qword ptr [r11 + {f_r12}], r12",
    "mov qword ptr [r11 + {f_r13}], r13",
    "mov qword ptr [r11 + {f_r14}], r14",
    "mov qword ptr [r11 + {f_r15}], r15",
    "mov rbx, r11",
    // As after a real syscall: rcx = the return address, r11 = the flags. The return
    // address is the entry's, right after its fallback `syscall`: the Sentry restarts a
    // syscall by moving back over it, which then makes it the slow way.
    "lea rdx, [rcx + {entry_resume}]",
    "mov qword ptr [rbx + {f_rip}], rdx",
    "mov qword ptr [rbx + {f_rcx}], rdx",
    "mov qword ptr [rbx + {si_call_addr}], rdx",
    "mov rdx, qword ptr [rbx + {f_eflags}]",
    "mov qword ptr [rbx + {f_r11}], rdx",
    "mov dx, cs",
    "mov word ptr [rbx + {f_cs}], dx",
    "mov dx, ss",
    "mov word ptr [rbx + {f_ss}], dx",
    "lea rdx, [rbx + {fast_fp}]",
    "mov qword ptr [rbx + {f_fpstate}], rdx",
    "mov dword ptr [rbx + {si_signo}], {sigsys}",
    "mov dword ptr [rbx + {si_errno}], 0",
    "mov dword ptr [rbx + {si_code}], {sys_seccomp_code}",
    "mov dword ptr [rbx + {si_syscall}], eax",
    "mov dword ptr [rbx + {si_arch}], {audit_arch}",
    // FP state in the kernel's frame format: its software bytes, a clean XSAVE header
    // (xsave writes only XSTATE_BV), then xsave64 with the kernel's feature mask.
    "mov rsi, qword ptr [rbx + {fp_sw}]",
    "mov qword ptr [rbx + {fp_sw_dst}], rsi",
    "mov rsi, qword ptr [rbx + {fp_sw} + 8]",
    "mov qword ptr [rbx + {fp_sw_dst} + 8], rsi",
    "mov rsi, qword ptr [rbx + {fp_sw} + 16]",
    "mov qword ptr [rbx + {fp_sw_dst} + 16], rsi",
    "mov rsi, qword ptr [rbx + {fp_sw} + 24]",
    "mov qword ptr [rbx + {fp_sw_dst} + 24], rsi",
    "mov rsi, qword ptr [rbx + {fp_sw} + 32]",
    "mov qword ptr [rbx + {fp_sw_dst} + 32], rsi",
    "mov rsi, qword ptr [rbx + {fp_sw} + 40]",
    "mov qword ptr [rbx + {fp_sw_dst} + 40], rsi",
    "xor esi, esi",
    "mov qword ptr [rbx + {xhdr} + 8], rsi",
    "mov qword ptr [rbx + {xhdr} + 16], rsi",
    "mov qword ptr [rbx + {xhdr} + 24], rsi",
    "mov qword ptr [rbx + {xhdr} + 32], rsi",
    "mov qword ptr [rbx + {xhdr} + 40], rsi",
    "mov qword ptr [rbx + {xhdr} + 48], rsi",
    "mov qword ptr [rbx + {xhdr} + 56], rsi",
    "cmp dword ptr [rbx + {fp_sw}], {fp_magic1}",
    "jne 91f",
    "mov eax, dword ptr [rbx + {fp_sw} + 8]",
    "mov edx, dword ptr [rbx + {fp_sw} + 12]",
    ".byte 0x48, 0x0f, 0xae, 0xa3", // xsave64 [rbx + disp32]
    ".long {fast_fp}",
    "jmp 92f",
    "91:",
    ".byte 0x48, 0x0f, 0xae, 0x83", // fxsave64 [rbx + disp32]
    ".long {fast_fp}",
    "92:",
    "mov dword ptr [rbx + {slot_signo}], {sigsys}",
    "lea rdx, [rbx + {fast_si}]",
    "mov qword ptr [rbx + {slot_siginfo}], rdx",
    "lea rdx, [rbx + {fast_uc}]",
    "mov qword ptr [rbx + {slot_ucontext}], rdx",
    ".byte 0xf3, 0x48, 0x0f, 0xae, 0xc0", // rdfsbase rax
    "mov qword ptr [rbx + {slot_fs_base}], rax",
    "mov qword ptr [rbx + {slot_gs_base}], 0",
    "93:",
    "mov eax, {state_sentry}",
    "xchg dword ptr [rbx + {slot_state}], eax",
    "snare_fast_published:",
    "cmp dword ptr [rbx + {slot_sentry_sleeping}], 0",
    "je 80f",
    "lea rdi, [rbx + {slot_state}]",
    "mov esi, 1", // FUTEX_WAKE
    "mov edx, 1",
    "mov eax, {sys_futex}",
    "syscall",
    "80:",
    "snare_wait_sentry",
    "87:",
    "cmp dword ptr [rbx + {slot_command}], {cmd_exit}",
    "je 89f",
    "cmp dword ptr [rbx + {slot_fast_kick}], 0",
    "je 88f",
    // An interrupt came after the frame was published: report it, with the frame as the
    // Sentry left it.
    "mov dword ptr [rbx + {slot_fast_kick}], 0",
    "mov dword ptr [rbx + {slot_signo}], {sigchld}",
    "jmp 93b",
    "88:",
    "mov rax, qword ptr [rbx + {slot_fs_base}]",
    ".byte 0xf3, 0x48, 0x0f, 0xae, 0xd0", // wrfsbase rax
    "mov rax, qword ptr [rbx + {slot_gs_base}]",
    "test rax, rax",
    "cmovz rax, rbx",
    ".byte 0xf3, 0x48, 0x0f, 0xae, 0xd8", // wrgsbase rax
    // The FP state only if the Sentry rewrote it; the flag is cleared after the load, so
    // a restart of this sequence loads it again.
    "cmp dword ptr [rbx + {slot_fp_dirty}], 0",
    "je 90f",
    "cmp dword ptr [rbx + {fp_sw}], {fp_magic1}",
    "jne 98f",
    "mov eax, dword ptr [rbx + {fp_sw} + 8]",
    "mov edx, dword ptr [rbx + {fp_sw} + 12]",
    ".byte 0x48, 0x0f, 0xae, 0xab", // xrstor64 [rbx + disp32]
    ".long {fast_fp}",
    "jmp 99f",
    "98:",
    ".byte 0x48, 0x0f, 0xae, 0x8b", // fxrstor64 [rbx + disp32]
    ".long {fast_fp}",
    "99:",
    "mov dword ptr [rbx + {slot_fp_dirty}], 0",
    "90:",
    // iretq's frame: rip, cs, rflags (the user-changeable ones), rsp, ss.
    "lea rsp, [rbx + {fast_stack}]",
    "mov eax, ss",
    "push rax",
    "push qword ptr [rbx + {f_rsp}]",
    "mov rax, qword ptr [rbx + {f_eflags}]",
    "and eax, {flags_user}",
    "or eax, 0x202",
    "push rax",
    "mov eax, cs",
    "push rax",
    "push qword ptr [rbx + {f_rip}]",
    "push 0x202", // NT clear before iretq
    "popfq",
    "mov rax, qword ptr [rbx + {f_rax}]",
    "mov rcx, qword ptr [rbx + {f_rcx}]",
    "mov rdx, qword ptr [rbx + {f_rdx}]",
    "mov rsi, qword ptr [rbx + {f_rsi}]",
    "mov rdi, qword ptr [rbx + {f_rdi}]",
    "mov rbp, qword ptr [rbx + {f_rbp}]",
    "mov r8, qword ptr [rbx + {f_r8}]",
    "mov r9, qword ptr [rbx + {f_r9}]",
    "mov r10, qword ptr [rbx + {f_r10}]",
    "mov r11, qword ptr [rbx + {f_r11}]",
    "mov r12, qword ptr [rbx + {f_r12}]",
    "mov r13, qword ptr [rbx + {f_r13}]",
    "mov r14, qword ptr [rbx + {f_r14}]",
    "mov r15, qword ptr [rbx + {f_r15}]",
    "mov rbx, qword ptr [rbx + {f_rbx}]",
    "iretq",
    "89:",
    "mov eax, {sys_exit}",
    "xor edi, edi",
    "syscall",
    "ud2",
    ".balign 8",
    "96:",
    ".quad {slots_lo}",
    "97:",
    ".quad {slots_hi}",
    "snare_fast_end:",
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
    "xor eax, eax",
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
    // Completion through the stub's eventfd (trusted; see STUB_DONE_FD): the value for
    // (ops run, last failed) from the read-only data page. In the source the fd is closed
    // and the write fails; the Sentry trusts the source's `done`.
    "mov rdx, rbp",
    "sub rdx, r12",
    "sub rdx, {req_ops}",
    "shr rdx, 6",
    "cmp rax, -4095",
    "jb 28f",
    "add rdx, {done_failed}",
    "28:",
    "mov rsi, {data_ctrl_done}",
    "lea rsi, [rsi + rdx * 8]",
    "mov edi, {done_fd}",
    "mov edx, 8",
    "mov eax, {sys_write}",
    "syscall",
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
    "mov edi, 2", // SIG_SETMASK: all blocked but SIGSYS (see StubData::boot_sigset)
    "lea rsi, [r12 + {data_boot_sigset}]",
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
    slot_fp_dirty = const offset_of!(ThreadSlot, fp_dirty),
    slot_fast_kick = const offset_of!(ThreadSlot, fast_kick),
    fp_sw = const offset_of!(ThreadSlot, fp_sw),
    slot_low = const SLOT_SIZE - 1,
    slots_lo = const STUB_SLOTS,
    slots_hi = const STUB_END,
    fast_stack = const FAST_STACK,
    fast_uc = const FAST_UC,
    fast_si = const FAST_SI,
    fast_fp = const FAST_FP,
    fp_sw_dst = const FAST_FP + 464,
    xhdr = const FAST_FP + 512,
    fp_magic1 = const 0x4650_5853u32,
    uc_rip = const UC_MC + offset_of!(Sigcontext, rip) as u64,
    uc_rsp = const UC_MC + offset_of!(Sigcontext, rsp) as u64,
    uc_rbx = const UC_MC + offset_of!(Sigcontext, rbx) as u64,
    f_rax = const FAST_UC + UC_MC + offset_of!(Sigcontext, rax) as u64,
    f_rbx = const FAST_UC + UC_MC + offset_of!(Sigcontext, rbx) as u64,
    f_rcx = const FAST_UC + UC_MC + offset_of!(Sigcontext, rcx) as u64,
    f_rdx = const FAST_UC + UC_MC + offset_of!(Sigcontext, rdx) as u64,
    f_rsi = const FAST_UC + UC_MC + offset_of!(Sigcontext, rsi) as u64,
    f_rdi = const FAST_UC + UC_MC + offset_of!(Sigcontext, rdi) as u64,
    f_rbp = const FAST_UC + UC_MC + offset_of!(Sigcontext, rbp) as u64,
    f_rsp = const FAST_UC + UC_MC + offset_of!(Sigcontext, rsp) as u64,
    f_r8 = const FAST_UC + UC_MC + offset_of!(Sigcontext, r8) as u64,
    f_r9 = const FAST_UC + UC_MC + offset_of!(Sigcontext, r9) as u64,
    f_r10 = const FAST_UC + UC_MC + offset_of!(Sigcontext, r10) as u64,
    f_r11 = const FAST_UC + UC_MC + offset_of!(Sigcontext, r11) as u64,
    f_r12 = const FAST_UC + UC_MC + offset_of!(Sigcontext, r12) as u64,
    f_r13 = const FAST_UC + UC_MC + offset_of!(Sigcontext, r13) as u64,
    f_r14 = const FAST_UC + UC_MC + offset_of!(Sigcontext, r14) as u64,
    f_r15 = const FAST_UC + UC_MC + offset_of!(Sigcontext, r15) as u64,
    f_rip = const FAST_UC + UC_MC + offset_of!(Sigcontext, rip) as u64,
    f_eflags = const FAST_UC + UC_MC + offset_of!(Sigcontext, eflags) as u64,
    f_cs = const FAST_UC + UC_MC + offset_of!(Sigcontext, cs) as u64,
    f_ss = const FAST_UC + UC_MC + offset_of!(Sigcontext, ss) as u64,
    f_fpstate = const FAST_UC + UC_MC + offset_of!(Sigcontext, fpstate) as u64,
    si_signo = const FAST_SI + offset_of!(SigInfo, si_signo) as u64,
    si_errno = const FAST_SI + offset_of!(SigInfo, si_errno) as u64,
    si_code = const FAST_SI + offset_of!(SigInfo, si_code) as u64,
    si_call_addr = const FAST_SI + 16,
    si_syscall = const FAST_SI + 24,
    si_arch = const FAST_SI + 28,
    sigsys = const 31,
    sigchld = const 17,
    sys_seccomp_code = const 1,
    audit_arch = const 0xc000_003eu32,
    flags_user = const 0x5_0dd5,
    entry_resume = const patch::ENTRY_RESUME,
    entry_fallback = const patch::ENTRY_FALLBACK,
    state_sentry = const STATE_SENTRY,
    cmd_exit = const CMD_EXIT,
    data = const STUB_DATA,
    data_has_fsgsbase = const offset_of!(StubData, has_fsgsbase),
    data_boot_sigset = const offset_of!(StubData, boot_sigset),
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
    done_failed = const CTRL_MAX_OPS + 1,
    done_fd = const STUB_DONE_FD,
    data_ctrl_done = const STUB_DATA + offset_of!(StubData, ctrl_done) as u64,
    sys_write = const SYS_WRITE,
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
    static snare_stub_fast: u8;
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
    /// The fast syscall path, where patched sites' trap-table entries jump.
    Fast,
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
        Entry::Fast => &raw const snare_stub_fast,
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
            Entry::Fast,
        ] {
            assert!(offset(e) < code.len() as u64, "{e:?}");
        }
        // The control loop's syscall instruction really is `syscall` (0f 05).
        let at = offset(Entry::CtrlSyscall) as usize;
        assert_eq!(&code[at..at + 2], &[0x0f, 0x05]);
    }
}
