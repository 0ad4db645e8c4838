//! Guest programs for platform tests, hand-written in assembly. Each is position-independent
//! code between two labels; [`program`] returns its bytes, to be copied into guest memory.
//!
//! Conventions: the harness maps the code at `CODE_ADDR`, a stack below `STACK_TOP`, and a
//! read-write data page at `DATA_ADDR` (passed in `r15`). Programs end with `exit` (60).

core::arch::global_asm!(
    ".pushsection .text.snare_guest,\"ax\",@progbits",
    // getpid `rbx` times, then exit(0).
    ".globl snare_guest_getpid_loop",
    "snare_guest_getpid_loop:",
    "1: mov eax, 39",
    "syscall",
    "dec rbx",
    "jnz 1b",
    "mov eax, 60",
    "xor edi, edi",
    "syscall",
    "ud2",
    ".globl snare_guest_getpid_loop_end",
    "snare_guest_getpid_loop_end:",
    // One syscall with six recognisable arguments, then another with the first result in rdi.
    ".globl snare_guest_args",
    "snare_guest_args:",
    "mov eax, 0x1234",
    "mov rdi, 0x1111111111111111",
    "mov rsi, 0x2222222222222222",
    "mov rdx, 0x3333333333333333",
    "mov r10, 0x4444444444444444",
    "mov r8, 0x5555555555555555",
    "mov r9, 0x6666666666666666",
    "syscall",
    "mov rdi, rax",
    "mov eax, 60",
    "syscall",
    "ud2",
    ".globl snare_guest_args_end",
    "snare_guest_args_end:",
    // Store to the address in rbx, then exit(0).
    ".globl snare_guest_store",
    "snare_guest_store:",
    "mov qword ptr [rbx], 0x77",
    "mov rax, qword ptr [rbx]",
    "mov rdi, rax",
    "mov eax, 60",
    "syscall",
    "ud2",
    ".globl snare_guest_store_end",
    "snare_guest_store_end:",
    // Touch rbx pages from r12 on, one store each, then exit(0).
    ".globl snare_guest_touch_pages",
    "snare_guest_touch_pages:",
    "1: mov qword ptr [r12], rbx",
    "add r12, 4096",
    "dec rbx",
    "jnz 1b",
    "mov eax, 60",
    "xor edi, edi",
    "syscall",
    "ud2",
    ".globl snare_guest_touch_pages_end",
    "snare_guest_touch_pages_end:",
    // Load xmm0-15 and ymm0 (upper half) with patterns, syscall, store them to [r15], exit.
    ".globl snare_guest_vector",
    "snare_guest_vector:",
    "mov rax, 0x0101010101010101",
    "movq xmm0, rax",
    "pinsrq xmm0, rax, 1",
    "mov rcx, 1",
    "2:",
    "paddb xmm0, xmm0",
    "dec rcx",
    "jnz 2b",
    "movdqa xmm1, xmm0",
    "paddb xmm1, xmm1",
    "movdqa xmm15, xmm1",
    "paddb xmm15, xmm15",
    "vinserti128 ymm2, ymm1, xmm15, 1",
    "mov eax, 39",
    "syscall",
    "movdqu xmmword ptr [r15], xmm0",
    "movdqu xmmword ptr [r15 + 16], xmm1",
    "movdqu xmmword ptr [r15 + 32], xmm15",
    "vmovdqu ymmword ptr [r15 + 48], ymm2",
    "movdqu xmmword ptr [r15 + 80], xmm7",
    "mov eax, 60",
    "xor edi, edi",
    "syscall",
    "ud2",
    ".globl snare_guest_vector_end",
    "snare_guest_vector_end:",
    // Jump to the address in rbx with rax = r12 and arguments from r13/r14: a guest that
    // tries to borrow the stub's own syscall instruction.
    ".globl snare_guest_borrow_syscall",
    "snare_guest_borrow_syscall:",
    "mov rax, r12",
    "mov rdi, r13",
    "mov rsi, r14",
    "mov rdx, 3",
    "mov r10, 0x22",
    "mov r8, -1",
    "xor r9d, r9d",
    "jmp rbx",
    ".globl snare_guest_borrow_syscall_end",
    "snare_guest_borrow_syscall_end:",
    // Store 0x77 to the dword at rbx, then spin forever.
    ".globl snare_guest_store_spin",
    "snare_guest_store_spin:",
    "mov dword ptr [rbx], 0x77",
    "1: pause",
    "jmp 1b",
    ".globl snare_guest_store_spin_end",
    "snare_guest_store_spin_end:",
    // Spin forever (for interrupts).
    ".globl snare_guest_spin",
    "snare_guest_spin:",
    "1: pause",
    "jmp 1b",
    ".globl snare_guest_spin_end",
    "snare_guest_spin_end:",
    // Divide by zero.
    ".globl snare_guest_div0",
    "snare_guest_div0:",
    "xor ecx, ecx",
    "mov eax, 1",
    "xor edx, edx",
    "div ecx",
    "ud2",
    ".globl snare_guest_div0_end",
    "snare_guest_div0_end:",
    ".popsection",
);

macro_rules! programs {
    ($($name:ident => $start:ident, $end:ident;)*) => {
        /// The guest programs.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[allow(non_camel_case_types)]
        pub enum Program { $($name),* }

        extern "C" { $(static $start: u8; static $end: u8;)* }

        /// The bytes of a guest program.
        pub fn program(p: Program) -> &'static [u8] {
            let (s, e) = match p {
                $(Program::$name => ((&raw const $start) as usize, (&raw const $end) as usize),)*
            };
            // SAFETY: the two labels delimit one program inside the immutable section
            // assembled above.
            unsafe { core::slice::from_raw_parts(s as *const u8, e - s) }
        }
    };
}

programs! {
    GetpidLoop => snare_guest_getpid_loop, snare_guest_getpid_loop_end;
    Args => snare_guest_args, snare_guest_args_end;
    Store => snare_guest_store, snare_guest_store_end;
    TouchPages => snare_guest_touch_pages, snare_guest_touch_pages_end;
    Vector => snare_guest_vector, snare_guest_vector_end;
    BorrowSyscall => snare_guest_borrow_syscall, snare_guest_borrow_syscall_end;
    StoreSpin => snare_guest_store_spin, snare_guest_store_spin_end;
    Spin => snare_guest_spin, snare_guest_spin_end;
    Div0 => snare_guest_div0, snare_guest_div0_end;
}
