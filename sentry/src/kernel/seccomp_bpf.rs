//! A guest's own seccomp filters (`seccomp(2)`, `prctl(PR_SET_SECCOMP)`): classic BPF
//! programs over `struct seccomp_data`, checked as Linux checks them when installed and run
//! by the Sentry before each of that thread's syscalls (after the sandbox's own profile,
//! `kernel::seccomp`, which is older than any guest filter).
//!
//! A thread's filters are a chain, newest first, shared with the threads and children that
//! inherited it (clone and fork copy the chain; exec keeps it). Every filter of the chain
//! runs; the result whose action comes first in Linux's precedence wins (kill process, kill
//! thread, trap, errno, user notification, trace, log, allow), the newest filter's among
//! equal actions. An unknown action counts as kill-process, as on Linux.

use std::sync::Arc;

use snare_abi::seccomp::{bpf, SeccompData, SockFilter};
use snare_abi::Errno;

/// Most instructions a thread's filters may have together, each counting 4 more
/// (Linux's `MAX_INSNS_PER_PATH`).
const MAX_INSNS_PER_PATH: usize = 32768;

/// A checked program.
#[derive(Debug, PartialEq, Eq)]
pub struct Program(Vec<SockFilter>);

/// One installed filter and the ones before it.
#[derive(Debug)]
pub struct Chain {
    prog: Program,
    /// `SECCOMP_FILTER_FLAG_LOG`: actions other than allow are logged.
    pub log: bool,
    prev: Option<Arc<Chain>>,
    /// Filters in the chain, this one included (`Seccomp_filters` in /proc/PID/status).
    pub count: usize,
    insns: usize,
}

/// A thread's seccomp state.
#[derive(Clone, Debug)]
pub enum Mode {
    /// `SECCOMP_SET_MODE_STRICT`: read, write, exit and rt_sigreturn only.
    Strict,
    Filter(Arc<Chain>),
}

impl Mode {
    /// The value `PR_GET_SECCOMP` and /proc show.
    pub fn number(&self) -> u32 {
        match self {
            Mode::Strict => snare_abi::seccomp::SECCOMP_MODE_STRICT,
            Mode::Filter(_) => snare_abi::seccomp::SECCOMP_MODE_FILTER,
        }
    }

    pub fn filters(&self) -> usize {
        match self {
            Mode::Strict => 0,
            Mode::Filter(c) => c.count,
        }
    }
}

impl Chain {
    /// `prog` on top of `prev`; ENOMEM past the instructions a path may have.
    pub fn push(prev: Option<Arc<Chain>>, prog: Program, log: bool) -> Result<Chain, Errno> {
        let below = prev.as_ref().map_or(0, |c| c.insns);
        let insns = below + prog.0.len() + 4;
        if insns > MAX_INSNS_PER_PATH {
            return Err(Errno::ENOMEM);
        }
        Ok(Chain {
            count: prev.as_ref().map_or(0, |c| c.count) + 1,
            prog,
            log,
            prev,
            insns,
        })
    }

    /// The winning result of every filter of the chain for `data`, and whether the filter
    /// that gave it asked for logging.
    pub fn run(&self, data: &SeccompData) -> (u32, bool) {
        let mut best: Option<(u32, bool)> = None;
        let mut cur = Some(self);
        while let Some(c) = cur {
            let r = c.prog.run(data);
            if best.is_none_or(|(b, _)| precedence(r) < precedence(b)) {
                best = Some((r, c.log));
            }
            cur = c.prev.as_deref();
        }
        best.unwrap_or((snare_abi::seccomp::SECCOMP_RET_ALLOW, false))
    }

    /// Whether `other` is this chain or one of its ancestors (TSYNC's condition).
    pub fn descends_from(self: &Arc<Chain>, other: Option<&Arc<Chain>>) -> bool {
        let Some(other) = other else { return true };
        let mut cur = Some(self);
        while let Some(c) = cur {
            if Arc::ptr_eq(c, other) {
                return true;
            }
            cur = c.prev.as_ref();
        }
        false
    }
}

/// Linux compares results' actions as signed 32-bit numbers: the smallest wins
/// (`SECCOMP_RET_KILL_PROCESS`, 0x80000000, first).
fn precedence(ret: u32) -> i32 {
    (ret & snare_abi::seccomp::SECCOMP_RET_ACTION_FULL) as i32
}

impl Program {
    /// Checks a program as Linux does before it installs a filter (`bpf_check_classic` and
    /// seccomp's own rules): 1 to 4096 instructions, only the loads seccomp allows (32-bit
    /// words of `seccomp_data` at aligned offsets, its length, immediates, scratch memory
    /// written on every path before it is read), no division by a constant zero, jumps
    /// inside the program, a return at the end. EINVAL otherwise.
    pub fn check(insns: Vec<SockFilter>) -> Result<Program, Errno> {
        let n = insns.len();
        if n == 0 || n > bpf::MAXINSNS {
            return Err(Errno::EINVAL);
        }
        let mut insns = insns;
        for (pc, ins) in insns.iter_mut().enumerate() {
            let class = ins.code & 0x07;
            let ok = match class {
                bpf::LD | bpf::LDX => {
                    let (size, mode) = (ins.code & 0x18, ins.code & 0xe0);
                    match (class, size, mode) {
                        (bpf::LD, bpf::W, bpf::ABS) => {
                            ins.k % 4 == 0 && (ins.k as usize) < std::mem::size_of::<SeccompData>()
                        }
                        // The length of seccomp_data: an immediate, as Linux rewrites it.
                        (_, bpf::W, bpf::LEN) => {
                            ins.code = class | bpf::IMM;
                            ins.k = std::mem::size_of::<SeccompData>() as u32;
                            true
                        }
                        (_, bpf::W, bpf::IMM) => ins.code & 0x18 == 0,
                        (_, bpf::W, bpf::MEM) => (ins.k as usize) < bpf::MEMWORDS,
                        _ => false,
                    }
                }
                bpf::ST | bpf::STX => ins.code & !0x07 == 0 && (ins.k as usize) < bpf::MEMWORDS,
                bpf::ALU => {
                    let (op, src) = (ins.code & 0xf0, ins.code & 0x08);
                    let known = matches!(
                        op,
                        bpf::ADD
                            | bpf::SUB
                            | bpf::MUL
                            | bpf::DIV
                            | bpf::OR
                            | bpf::AND
                            | bpf::LSH
                            | bpf::RSH
                            | bpf::NEG
                            | bpf::MOD
                            | bpf::XOR
                    );
                    let bits = ins.code & !0xf8 == bpf::ALU && (op != bpf::NEG || src == bpf::K);
                    let zero = src == bpf::K && matches!(op, bpf::DIV | bpf::MOD) && ins.k == 0;
                    let shift = src == bpf::K && matches!(op, bpf::LSH | bpf::RSH) && ins.k >= 32;
                    known && bits && !zero && !shift
                }
                bpf::JMP => {
                    let op = ins.code & 0xf0;
                    let rest = n - pc - 1;
                    match op {
                        bpf::JA => ins.code == bpf::JMP | bpf::JA && (ins.k as usize) < rest,
                        bpf::JEQ | bpf::JGT | bpf::JGE | bpf::JSET => {
                            ins.code & !0xf8 == bpf::JMP
                                && (ins.jt as usize) < rest
                                && (ins.jf as usize) < rest
                        }
                        _ => false,
                    }
                }
                bpf::RET => matches!(ins.code & !0x07, bpf::K | bpf::A),
                bpf::MISC => matches!(ins.code & !0x07, bpf::TAX | bpf::TXA),
                _ => false,
            };
            if !ok {
                return Err(Errno::EINVAL);
            }
        }
        if insns[n - 1].code & 0x07 != bpf::RET {
            return Err(Errno::EINVAL);
        }
        if !memory_written_before_read(&insns) {
            return Err(Errno::EINVAL);
        }
        Ok(Program(insns))
    }

    /// Runs the (checked) program over `data`.
    pub fn run(&self, data: &SeccompData) -> u32 {
        let bytes = snare_abi::pod::as_bytes(data);
        let word = |k: u32| -> u32 {
            let off = k as usize;
            bytes
                .get(off..off + 4)
                .map_or(0, |b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
        };
        let (mut a, mut x) = (0u32, 0u32);
        let mut mem = [0u32; bpf::MEMWORDS];
        let mut pc = 0usize;
        // Checked programs only jump forward and end with a return: this ends.
        while let Some(ins) = self.0.get(pc) {
            pc += 1;
            let class = ins.code & 0x07;
            match class {
                bpf::LD | bpf::LDX => {
                    let v = match ins.code & 0xe0 {
                        bpf::ABS => word(ins.k),
                        bpf::MEM => mem[ins.k as usize % bpf::MEMWORDS],
                        _ => ins.k,
                    };
                    if class == bpf::LD {
                        a = v;
                    } else {
                        x = v;
                    }
                }
                bpf::ST => mem[ins.k as usize % bpf::MEMWORDS] = a,
                bpf::STX => mem[ins.k as usize % bpf::MEMWORDS] = x,
                bpf::ALU => {
                    let src = if ins.code & 0x08 == bpf::X { x } else { ins.k };
                    a = match ins.code & 0xf0 {
                        bpf::ADD => a.wrapping_add(src),
                        bpf::SUB => a.wrapping_sub(src),
                        bpf::MUL => a.wrapping_mul(src),
                        // A division by a zero X returns 0 from the program, as Linux does.
                        bpf::DIV => match a.checked_div(src) {
                            Some(v) => v,
                            None => return 0,
                        },
                        bpf::MOD => match a.checked_rem(src) {
                            Some(v) => v,
                            None => return 0,
                        },
                        bpf::OR => a | src,
                        bpf::AND => a & src,
                        bpf::XOR => a ^ src,
                        bpf::LSH => a.checked_shl(src).unwrap_or(0),
                        bpf::RSH => a.checked_shr(src).unwrap_or(0),
                        _ => a.wrapping_neg(),
                    };
                }
                bpf::JMP => {
                    let src = if ins.code & 0x08 == bpf::X { x } else { ins.k };
                    let taken = match ins.code & 0xf0 {
                        bpf::JA => {
                            pc += ins.k as usize;
                            continue;
                        }
                        bpf::JEQ => a == src,
                        bpf::JGT => a > src,
                        bpf::JGE => a >= src,
                        _ => a & src != 0,
                    };
                    pc += usize::from(if taken { ins.jt } else { ins.jf });
                }
                bpf::RET => return if ins.code & 0x18 == bpf::A { a } else { ins.k },
                _ => {
                    if ins.code & 0xf8 == bpf::TAX {
                        x = a;
                    } else {
                        a = x;
                    }
                }
            }
        }
        0
    }
}

/// Linux's `check_load_and_stores`, in its own linear walk: a scratch word read must have
/// been written on the way there (the words known written flow along jumps, met at their
/// targets; after a jump or at an instruction no path reaches, everything counts as written).
fn memory_written_before_read(insns: &[SockFilter]) -> bool {
    let mut masks = vec![u16::MAX; insns.len()];
    let mut valid: u16 = 0;
    for (pc, ins) in insns.iter().enumerate() {
        valid &= masks[pc];
        let class = ins.code & 0x07;
        let bit = 1u16 << (ins.k % 16);
        match class {
            bpf::ST | bpf::STX => valid |= bit,
            bpf::LD | bpf::LDX if ins.code & 0xe0 == bpf::MEM && valid & bit == 0 => {
                return false;
            }
            bpf::JMP => {
                let mut meet = |to: usize| {
                    if let Some(m) = masks.get_mut(to) {
                        *m &= valid;
                    }
                };
                if ins.code & 0xf0 == bpf::JA {
                    meet(pc + 1 + ins.k as usize);
                } else {
                    meet(pc + 1 + usize::from(ins.jt));
                    meet(pc + 1 + usize::from(ins.jf));
                }
                valid = u16::MAX;
            }
            _ => {}
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use snare_abi::seccomp::*;

    fn stmt(code: u16, k: u32) -> SockFilter {
        SockFilter {
            code,
            jt: 0,
            jf: 0,
            k,
        }
    }

    fn jump(code: u16, k: u32, jt: u8, jf: u8) -> SockFilter {
        SockFilter { code, jt, jf, k }
    }

    fn data(nr: i32, a0: u64) -> SeccompData {
        SeccompData {
            nr,
            arch: AUDIT_ARCH_X86_64,
            instruction_pointer: 0x1000,
            args: [a0, 0, 0, 0, 0, 0],
        }
    }

    /// getpid → EPERM, everything else allowed.
    fn deny_getpid() -> Program {
        Program::check(vec![
            stmt(bpf::LD | bpf::W | bpf::ABS, 0),
            jump(bpf::JMP | bpf::JEQ | bpf::K, 39, 0, 1),
            stmt(bpf::RET | bpf::K, SECCOMP_RET_ERRNO | 1),
            stmt(bpf::RET | bpf::K, SECCOMP_RET_ALLOW),
        ])
        .expect("valid")
    }

    #[test]
    fn runs_loads_jumps_and_returns() {
        let p = deny_getpid();
        assert_eq!(p.run(&data(39, 0)), SECCOMP_RET_ERRNO | 1);
        assert_eq!(p.run(&data(0, 0)), SECCOMP_RET_ALLOW);
        // The high half of args[0] (offset 20), scratch memory, ALU and RET A.
        let p = Program::check(vec![
            stmt(bpf::LD | bpf::W | bpf::ABS, 20),
            stmt(bpf::ST, 3),
            stmt(bpf::LDX | bpf::W | bpf::MEM, 3),
            stmt(bpf::MISC | bpf::TXA, 0),
            stmt(bpf::ALU | bpf::ADD | bpf::K, 5),
            stmt(bpf::ALU | bpf::AND | bpf::K, 0xffff),
            stmt(bpf::ALU | bpf::OR | bpf::K, SECCOMP_RET_ERRNO),
            stmt(bpf::RET | bpf::A, 0),
        ])
        .expect("valid");
        assert_eq!(p.run(&data(1, 7 << 32)), SECCOMP_RET_ERRNO | 12);
    }

    #[test]
    fn refuses_what_linux_refuses() {
        let ret = stmt(bpf::RET | bpf::K, SECCOMP_RET_ALLOW);
        let bad = [
            vec![],
            vec![stmt(bpf::LD | bpf::W | bpf::ABS, 0)],
            vec![stmt(bpf::LD | bpf::W | bpf::ABS, 2), ret],
            vec![stmt(bpf::LD | bpf::W | bpf::ABS, 64), ret],
            vec![stmt(bpf::LD | bpf::H | bpf::ABS, 0), ret],
            vec![stmt(bpf::LD | bpf::W | bpf::IND, 0), ret],
            vec![stmt(bpf::ALU | bpf::DIV | bpf::K, 0), ret],
            vec![jump(bpf::JMP | bpf::JEQ | bpf::K, 0, 1, 0), ret],
            vec![stmt(bpf::JMP | bpf::JA, 1), ret],
            vec![stmt(bpf::LD | bpf::W | bpf::MEM, 0), ret],
            vec![stmt(bpf::ST, 16), ret],
            vec![stmt(0xffff, 0), ret],
            vec![ret; bpf::MAXINSNS + 1],
        ];
        for (i, p) in bad.into_iter().enumerate() {
            assert_eq!(Program::check(p), Err(Errno::EINVAL), "case {i}");
        }
        // Memory written on one path only, then read.
        let one_path = vec![
            jump(bpf::JMP | bpf::JEQ | bpf::K, 0, 0, 1),
            stmt(bpf::ST, 0),
            stmt(bpf::LD | bpf::W | bpf::MEM, 0),
            ret,
        ];
        assert_eq!(Program::check(one_path), Err(Errno::EINVAL));
        assert!(Program::check(vec![stmt(bpf::LD | bpf::W | bpf::LEN, 0), ret]).is_ok());
    }

    #[test]
    fn the_chain_gives_the_most_restrictive_result() {
        let allow = Program::check(vec![stmt(bpf::RET | bpf::K, SECCOMP_RET_ALLOW)]).expect("ok");
        let trap = Program::check(vec![stmt(bpf::RET | bpf::K, SECCOMP_RET_TRAP | 9)]).expect("ok");
        let c = Arc::new(Chain::push(None, deny_getpid(), false).expect("push"));
        let c = Arc::new(Chain::push(Some(c), allow, true).expect("push"));
        assert_eq!(c.count, 2);
        assert_eq!(c.run(&data(39, 0)), (SECCOMP_RET_ERRNO | 1, false));
        assert_eq!(c.run(&data(1, 0)), (SECCOMP_RET_ALLOW, true));
        let t = Arc::new(Chain::push(Some(c.clone()), trap, false).expect("push"));
        assert_eq!(t.run(&data(39, 0)).0, SECCOMP_RET_TRAP | 9);
        assert!(t.descends_from(Some(&c)));
        assert!(!c.descends_from(Some(&t)));
        // An unknown action counts as kill-process.
        let odd = Program::check(vec![stmt(bpf::RET | bpf::K, 0x8765_0000)]).expect("ok");
        let o = Chain::push(Some(t), odd, false).expect("push");
        assert_eq!(o.run(&data(1, 0)).0, 0x8765_0000);
        // The instruction budget of a path.
        let mut c = None;
        let big = || Program::check(vec![stmt(bpf::RET | bpf::K, 0); 4096]).expect("ok");
        for _ in 0..7 {
            c = Some(Arc::new(Chain::push(c, big(), false).expect("push")));
        }
        assert_eq!(Chain::push(c, big(), false).err(), Some(Errno::ENOMEM));
    }
}
