//! The seccomp programs of stub threads, as data: one rule per allowed syscall, each with the
//! reason it is there.
//!
//! Both programs trap (`SECCOMP_RET_TRAP`, hence SIGSYS into the stub's handler) every syscall
//! that is not on their list or whose instruction pointer is outside the stub's code. The
//! control program is installed by the source stub and inherited by every stub thread; the
//! guest program is stacked on top by each guest thread before it runs guest code, and the
//! stricter of the two wins. So guest code can make no host call at all, even by jumping into
//! the stub's own `syscall` instructions.

use snare_abi::seccomp::{bpf, SockFilter, AUDIT_ARCH_X86_64, SECCOMP_RET_ALLOW, SECCOMP_RET_TRAP};
use snare_stub::layout::{CLONE_GUEST_THREAD, CLONE_STUB_PROCESS, STUB_DONE_FD, STUB_SOCK_FD};

/// An allowed syscall: its number, an optional argument that must take one of a few values,
/// and why the stub needs it.
#[derive(Debug)]
pub(crate) struct Rule {
    pub nr: u32,
    pub name: &'static str,
    pub arg: Option<(usize, &'static [u64])>,
    pub reason: &'static str,
}

const FUTEX_WAIT: u64 = 0;
const FUTEX_WAKE: u64 = 1;
const ARCH_SET_GS: u64 = 0x1001;
const ARCH_SET_FS: u64 = 0x1002;
const ARCH_GET_FS: u64 = 0x1003;
const ARCH_GET_GS: u64 = 0x1004;

/// What guest threads' stub code may call.
pub(crate) const GUEST_RULES: &[Rule] = &[
    Rule {
        nr: 15,
        name: "rt_sigreturn",
        arg: None,
        reason: "the handler returns to guest code through the restorer",
    },
    Rule {
        nr: 202,
        name: "futex",
        arg: Some((1, &[FUTEX_WAIT, FUTEX_WAKE])),
        reason: "the handler sleeps on and wakes its slot's state word",
    },
    Rule {
        nr: 60,
        name: "exit",
        arg: None,
        reason: "a stub thread exits when the Sentry retires its guest thread",
    },
    Rule {
        nr: 24,
        name: "sched_yield",
        arg: None,
        reason: "the handler's spin loop lets other runnable threads have the CPU",
    },
    Rule {
        nr: 158,
        name: "arch_prctl",
        arg: Some((0, &[ARCH_SET_GS, ARCH_SET_FS, ARCH_GET_FS, ARCH_GET_GS])),
        reason: "FS/GS base save and restore on CPUs without FSGSBASE",
    },
];

/// What the control thread's code may call (and, stacked under [`GUEST_RULES`], the bootstrap
/// of a new guest thread).
pub(crate) const CTRL_RULES: &[Rule] = &[
    Rule {
        nr: 47,
        name: "recvmsg",
        arg: Some((0, &[STUB_SOCK_FD])),
        reason: "receives host files the Sentry maps read-only into the stub (lowest fds)",
    },
    Rule {
        nr: 3,
        name: "close",
        arg: Some((0, &[0, 1, 2, 3, 4, 5, 6, 7, STUB_DONE_FD])),
        reason: "closes those files (fds 0-7, HOST_FILES_MAX) right after mapping them; the \
                 source closes its copy of a new stub's eventfd",
    },
    Rule {
        nr: 1,
        name: "write",
        arg: Some((0, &[STUB_DONE_FD])),
        reason: "reports each completed request on the stub's own eventfd (trusted, unlike \
                 the guest-writable response page)",
    },
    Rule {
        nr: 290,
        name: "eventfd2",
        arg: None,
        reason: "the source makes each new stub's eventfd before cloning it",
    },
    Rule {
        nr: 292,
        name: "dup3",
        arg: Some((1, &[STUB_DONE_FD])),
        reason: "the source moves that eventfd to STUB_DONE_FD",
    },
    Rule {
        nr: 46,
        name: "sendmsg",
        arg: Some((0, &[STUB_SOCK_FD])),
        reason: "the source passes the Sentry its copy of that eventfd",
    },
    Rule {
        nr: 9,
        name: "mmap",
        arg: None,
        reason: "maps memory-file ranges into the stub at the Sentry's request",
    },
    Rule {
        nr: 11,
        name: "munmap",
        arg: None,
        reason: "unmaps guest ranges; the source drops the Sentry image",
    },
    Rule {
        nr: 10,
        name: "mprotect",
        arg: None,
        reason: "changes guest page protection at the Sentry's request",
    },
    Rule {
        nr: 56,
        name: "clone",
        arg: Some((0, &[CLONE_GUEST_THREAD, CLONE_STUB_PROCESS])),
        reason: "new guest threads; new stub processes (source only)",
    },
    Rule {
        nr: 202,
        name: "futex",
        arg: Some((1, &[FUTEX_WAIT, FUTEX_WAKE])),
        reason: "sleeps on the request page, wakes the Sentry",
    },
    Rule {
        nr: 60,
        name: "exit",
        arg: None,
        reason: "a thread whose bootstrap failed exits",
    },
    Rule {
        nr: 24,
        name: "sched_yield",
        arg: None,
        reason: "spin loops (control loop; inherited by guest threads' handlers) yield the CPU",
    },
    Rule {
        nr: 231,
        name: "exit_group",
        arg: None,
        reason: "a new stub process whose set-up failed exits",
    },
    Rule {
        nr: 157,
        name: "prctl",
        arg: Some((0, &[1 /* PR_SET_PDEATHSIG */])),
        reason: "a new stub process dies with the Sentry",
    },
    Rule {
        nr: 110,
        name: "getppid",
        arg: None,
        reason: "a new stub process checks the Sentry is still its parent",
    },
    Rule {
        nr: 131,
        name: "sigaltstack",
        arg: None,
        reason: "a new guest thread sets its signal stack inside its slot",
    },
    Rule {
        nr: 14,
        name: "rt_sigprocmask",
        arg: Some((0, &[2 /* SIG_SETMASK */])),
        reason: "a new guest thread unblocks signals (the control thread blocks all)",
    },
    Rule {
        nr: 317,
        name: "seccomp",
        arg: Some((0, &[1 /* SECCOMP_SET_MODE_FILTER */])),
        reason: "a new guest thread stacks the guest filter",
    },
    Rule {
        nr: 15,
        name: "rt_sigreturn",
        arg: None,
        reason: "inherited by guest threads: the restorer",
    },
    Rule {
        nr: 324,
        name: "membarrier",
        arg: Some((0, &[8, 16, 32, 64])),
        reason: "a guest's membarrier: the private expedited barrier (and its sync-core \
                 form) over the stub's threads, and their registration",
    },
    Rule {
        nr: 158,
        name: "arch_prctl",
        arg: Some((0, &[ARCH_SET_GS, ARCH_SET_FS, ARCH_GET_FS, ARCH_GET_GS])),
        reason: "inherited by guest threads: FS/GS base without FSGSBASE",
    },
];

// Offsets into struct seccomp_data.
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const OFF_IP_LO: u32 = 8;
const OFF_IP_HI: u32 = 12;
const OFF_ARGS: u32 = 16;

/// A tiny forward-only BPF assembler with labels.
struct Asm {
    insns: Vec<SockFilter>,
    /// (instruction index, label, patch the true branch?)
    fixups: Vec<(usize, usize, bool)>,
    labels: Vec<Option<usize>>,
}

#[derive(Clone, Copy)]
enum To {
    Next,
    Label(usize),
}

impl Asm {
    fn new() -> Asm {
        Asm {
            insns: Vec::new(),
            fixups: Vec::new(),
            labels: Vec::new(),
        }
    }

    fn label(&mut self) -> usize {
        self.labels.push(None);
        self.labels.len() - 1
    }

    fn bind(&mut self, l: usize) {
        self.labels[l] = Some(self.insns.len());
    }

    fn ld(&mut self, off: u32) {
        self.insns.push(SockFilter {
            code: bpf::LD | bpf::W | bpf::ABS,
            jt: 0,
            jf: 0,
            k: off,
        });
    }

    fn jump(&mut self, op: u16, k: u32, jt: To, jf: To) {
        let at = self.insns.len();
        self.insns.push(SockFilter {
            code: bpf::JMP | op | bpf::K,
            jt: 0,
            jf: 0,
            k,
        });
        if let To::Label(l) = jt {
            self.fixups.push((at, l, true));
        }
        if let To::Label(l) = jf {
            self.fixups.push((at, l, false));
        }
    }

    fn ret(&mut self, action: u32) {
        self.insns.push(SockFilter {
            code: bpf::RET | bpf::K,
            jt: 0,
            jf: 0,
            k: action,
        });
    }

    fn finish(mut self) -> Vec<SockFilter> {
        for &(at, l, is_true) in &self.fixups {
            let target = self.labels[l].expect("unbound BPF label");
            let off = target - at - 1;
            let off = u8::try_from(off).expect("BPF jump too long");
            if is_true {
                self.insns[at].jt = off;
            } else {
                self.insns[at].jf = off;
            }
        }
        self.insns
    }
}

/// Builds a program that allows `rules` from code in `[ip_start, ip_end)` and traps the rest.
pub(crate) fn build(rules: &[Rule], ip_start: u64, ip_end: u64) -> Vec<SockFilter> {
    assert_eq!(
        ip_start >> 32,
        (ip_end - 1) >> 32,
        "stub code crosses 4 GiB"
    );
    let mut a = Asm::new();
    let trap = a.label();
    let allow = a.label();
    a.ld(OFF_ARCH);
    a.jump(bpf::JEQ, AUDIT_ARCH_X86_64, To::Next, To::Label(trap));
    a.ld(OFF_IP_HI);
    a.jump(bpf::JEQ, (ip_start >> 32) as u32, To::Next, To::Label(trap));
    a.ld(OFF_IP_LO);
    a.jump(bpf::JGE, ip_start as u32, To::Next, To::Label(trap));
    a.jump(bpf::JGE, ip_end as u32, To::Label(trap), To::Next);
    a.ld(OFF_NR);
    let rule_labels: Vec<usize> = rules.iter().map(|_| a.label()).collect();
    for (rule, &l) in rules.iter().zip(&rule_labels) {
        a.jump(bpf::JEQ, rule.nr, To::Label(l), To::Next);
    }
    a.ret(SECCOMP_RET_TRAP);
    for (rule, &l) in rules.iter().zip(&rule_labels) {
        a.bind(l);
        match rule.arg {
            None => a.ret(SECCOMP_RET_ALLOW),
            Some((idx, values)) => {
                let lo = OFF_ARGS + 8 * idx as u32;
                for &v in values {
                    let next = a.label();
                    a.ld(lo);
                    a.jump(bpf::JEQ, v as u32, To::Next, To::Label(next));
                    a.ld(lo + 4);
                    a.jump(
                        bpf::JEQ,
                        (v >> 32) as u32,
                        To::Label(allow),
                        To::Label(trap),
                    );
                    a.bind(next);
                }
                a.ret(SECCOMP_RET_TRAP);
            }
        }
    }
    a.bind(allow);
    a.ret(SECCOMP_RET_ALLOW);
    a.bind(trap);
    a.ret(SECCOMP_RET_TRAP);
    a.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use snare_abi::seccomp::SeccompData;

    /// A classic-BPF interpreter for the subset `build` emits, to check programs without
    /// loading them.
    fn run(prog: &[SockFilter], d: &SeccompData) -> u32 {
        let mut bytes = [0u8; 64];
        bytes[0..4].copy_from_slice(&d.nr.to_ne_bytes());
        bytes[4..8].copy_from_slice(&d.arch.to_ne_bytes());
        bytes[8..16].copy_from_slice(&d.instruction_pointer.to_ne_bytes());
        for (i, a) in d.args.iter().enumerate() {
            bytes[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_ne_bytes());
        }
        let mut acc = 0u32;
        let mut pc = 0usize;
        loop {
            let ins = prog[pc];
            pc += 1;
            match ins.code {
                c if c == bpf::LD | bpf::W | bpf::ABS => {
                    let k = ins.k as usize;
                    acc = u32::from_ne_bytes(bytes[k..k + 4].try_into().expect("4 bytes"));
                }
                c if c == bpf::RET | bpf::K => return ins.k,
                c => {
                    let taken = match c & 0xf0 {
                        x if x == bpf::JEQ => acc == ins.k,
                        x if x == bpf::JGE => acc >= ins.k,
                        _ => panic!("unexpected opcode {c:#x}"),
                    };
                    pc += if taken { ins.jt } else { ins.jf } as usize;
                }
            }
        }
    }

    const START: u64 = 0x7000_0000_4000;
    const END: u64 = 0x7000_0000_5000;

    fn data(nr: i32, ip: u64, args: [u64; 6]) -> SeccompData {
        SeccompData {
            nr,
            arch: AUDIT_ARCH_X86_64,
            instruction_pointer: ip,
            args,
        }
    }

    #[test]
    fn guest_program() {
        let p = build(GUEST_RULES, START, END);
        let inside = START + 0x10;
        assert_eq!(run(&p, &data(15, inside, [0; 6])), SECCOMP_RET_ALLOW);
        assert_eq!(
            run(&p, &data(202, inside, [0, 1, 1, 0, 0, 0])),
            SECCOMP_RET_ALLOW
        );
        // FUTEX_REQUEUE and friends trap.
        assert_eq!(
            run(&p, &data(202, inside, [0, 3, 0, 0, 0, 0])),
            SECCOMP_RET_TRAP
        );
        // The same call from guest code traps.
        assert_eq!(run(&p, &data(15, 0x40_0000, [0; 6])), SECCOMP_RET_TRAP);
        assert_eq!(run(&p, &data(15, END, [0; 6])), SECCOMP_RET_TRAP);
        assert_eq!(run(&p, &data(15, START - 1, [0; 6])), SECCOMP_RET_TRAP);
        assert_eq!(
            run(&p, &data(15, inside + (1 << 32), [0; 6])),
            SECCOMP_RET_TRAP
        );
        // Host-dangerous calls trap even from stub code.
        for nr in [9, 10, 11, 56, 59, 62, 101, 231, 317] {
            assert_eq!(
                run(&p, &data(nr, inside, [0; 6])),
                SECCOMP_RET_TRAP,
                "nr {nr}"
            );
        }
        // So do the control thread's fd calls, whatever their arguments: a guest thread can't
        // forge a completion on the stub's eventfd or touch the fd-passing socket.
        let done = [STUB_DONE_FD, 0, 8, 0, 0, 0];
        for (nr, args) in [
            (1, done),
            (46, [STUB_SOCK_FD, 0, 0, 0, 0, 0]),
            (290, [0; 6]),
        ] {
            assert_eq!(
                run(&p, &data(nr, inside, args)),
                SECCOMP_RET_TRAP,
                "nr {nr}"
            );
        }
        assert_eq!(
            run(&p, &data(292, inside, [0, STUB_DONE_FD, 0, 0, 0, 0])),
            SECCOMP_RET_TRAP
        );
        // A foreign ABI traps.
        let mut d = data(15, inside, [0; 6]);
        d.arch = snare_abi::seccomp::AUDIT_ARCH_I386;
        assert_eq!(run(&p, &d), SECCOMP_RET_TRAP);
    }

    #[test]
    fn ctrl_program() {
        let p = build(CTRL_RULES, START, END);
        let inside = START + 0x20;
        assert_eq!(run(&p, &data(9, inside, [0; 6])), SECCOMP_RET_ALLOW);
        let thread = [CLONE_GUEST_THREAD, 0, 0, 0, 0, 0];
        assert_eq!(run(&p, &data(56, inside, thread)), SECCOMP_RET_ALLOW);
        // clone with other flags (say, a plain fork) traps; so does a high word.
        assert_eq!(
            run(&p, &data(56, inside, [17, 0, 0, 0, 0, 0])),
            SECCOMP_RET_TRAP
        );
        let high = [CLONE_GUEST_THREAD | (1 << 32), 0, 0, 0, 0, 0];
        assert_eq!(run(&p, &data(56, inside, high)), SECCOMP_RET_TRAP);
        for nr in [0, 1, 2, 57, 59, 62, 101, 257, 322] {
            assert_eq!(
                run(&p, &data(nr, inside, [0; 6])),
                SECCOMP_RET_TRAP,
                "nr {nr}"
            );
        }
        assert_eq!(run(&p, &data(9, 0x1000, [0; 6])), SECCOMP_RET_TRAP);
        // write only to the stub's eventfd.
        let done = [STUB_DONE_FD, 0, 8, 0, 0, 0];
        assert_eq!(run(&p, &data(1, inside, done)), SECCOMP_RET_ALLOW);
        assert_eq!(
            run(&p, &data(1, inside, [1, 0, 8, 0, 0, 0])),
            SECCOMP_RET_TRAP
        );
        let other = [0, STUB_DONE_FD + 1, 0, 0, 0, 0];
        assert_eq!(run(&p, &data(292, inside, other)), SECCOMP_RET_TRAP);
    }

    #[test]
    fn rules_have_reasons_and_unique_numbers() {
        for rules in [GUEST_RULES, CTRL_RULES] {
            let mut seen = std::collections::HashSet::new();
            for r in rules {
                assert!(!r.reason.is_empty() && !r.name.is_empty());
                assert!(seen.insert(r.nr), "duplicate rule for {}", r.name);
            }
        }
    }
}
