//! A seccomp profile over guest syscalls, applied by the Sentry: an OCI bundle's
//! `linux.seccomp` (Docker's default profile) decides, before a syscall's handler runs,
//! whether the call goes on, fails with an errno, or ends its caller — what the host kernel
//! decides for a runc container (runsc ignores the profile). One filter per sandbox: the
//! runtime sets it before the guest's init runs, every guest process descends from that init
//! (or is exec'd into the sandbox, which runc gives the same profile), and nothing in the
//! sandbox can replace it.
//!
//! The profile is libseccomp's model, as the OCI runtime spec states it: a default action
//! and rules, each naming syscalls, an action and conditions on arguments (all must hold).
//! When several rules of a syscall match, the most restrictive action wins (the kernel's
//! precedence between filters: kill process, kill thread, trap, errno, trace, log, allow).
//!
//! Deviations from Linux: `SCMP_ACT_KILL`/`KILL_THREAD` end the whole process with SIGSYS
//! (Linux ends the calling thread alone, the process only when it was the last one);
//! `SCMP_ACT_TRACE` has no tracer to tell and fails with `ENOSYS`, as Linux does when none is
//! attached; the vDSO's calls (`clock_gettime`, …) never reach a filter (as on Linux).

use snare_abi::Errno;

/// What a filter does with a syscall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Allow,
    /// Allowed, and logged (`SCMP_ACT_LOG`).
    Log,
    Errno(Errno),
    /// SIGSYS with `si_errno` = the data; the call is not made and returns its own number
    /// (Linux rolls the registers back).
    Trap(u16),
    /// No tracer: `ENOSYS`.
    Trace,
    KillThread,
    KillProcess,
    /// A call strict mode does not allow: SIGKILL (a guest's `SECCOMP_SET_MODE_STRICT`).
    Sigkill,
}

impl Action {
    /// Higher wins when several rules match (the kernel's order between filters).
    pub fn precedence(self) -> u8 {
        match self {
            Action::Sigkill => 7,
            Action::KillProcess => 6,
            Action::KillThread => 5,
            Action::Trap(_) => 4,
            Action::Errno(_) => 3,
            Action::Trace => 2,
            Action::Log => 1,
            Action::Allow => 0,
        }
    }
}

/// How an argument is compared (`SCMP_CMP_*`), as unsigned 64-bit values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    /// `arg & value == value_two`.
    MaskedEq,
}

/// One condition: argument `index` (0–5) against `value` (and `value_two`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cond {
    pub index: usize,
    pub op: Op,
    pub value: u64,
    pub value_two: u64,
}

impl Cond {
    fn holds(&self, args: &[u64; 6]) -> bool {
        let Some(&a) = args.get(self.index) else {
            return false;
        };
        match self.op {
            Op::Ne => a != self.value,
            Op::Lt => a < self.value,
            Op::Le => a <= self.value,
            Op::Eq => a == self.value,
            Op::Ge => a >= self.value,
            Op::Gt => a > self.value,
            Op::MaskedEq => a & self.value == self.value_two,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Rule {
    action: Action,
    conds: Vec<Cond>,
}

/// A sandbox's profile: per syscall number, its rules; the rest get the default action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    default: Action,
    rules: Vec<Vec<Rule>>,
}

/// Most rules one syscall may have (Docker's profile has at most a handful).
const MAX_RULES_PER_SYSCALL: usize = 256;

impl Filter {
    pub fn new(default: Action) -> Filter {
        Filter {
            default,
            rules: vec![Vec::new(); snare_syscalls_table::TABLE_LEN],
        }
    }

    /// Adds a rule for syscall `nr`. A condition on an argument past the sixth, a number
    /// past the table or too many rules for one syscall are errors (the profile is refused).
    pub fn add(&mut self, nr: u32, action: Action, conds: Vec<Cond>) -> Result<(), String> {
        if let Some(c) = conds.iter().find(|c| c.index > 5) {
            return Err(format!("argument index {} (at most 5)", c.index));
        }
        let rules = self
            .rules
            .get_mut(nr as usize)
            .ok_or_else(|| format!("syscall number {nr}"))?;
        if rules.len() >= MAX_RULES_PER_SYSCALL {
            return Err(format!(
                "more than {MAX_RULES_PER_SYSCALL} rules for one syscall"
            ));
        }
        rules.push(Rule { action, conds });
        Ok(())
    }

    /// What happens to syscall `nr` with `args`.
    pub fn decide(&self, nr: u64, args: &[u64; 6]) -> Action {
        let rules = match usize::try_from(nr).ok().and_then(|i| self.rules.get(i)) {
            Some(r) if !r.is_empty() => r,
            _ => return self.default,
        };
        rules
            .iter()
            .filter(|r| r.conds.iter().all(|c| c.holds(args)))
            .map(|r| r.action)
            .max_by_key(|a| a.precedence())
            .unwrap_or(self.default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPERM: Action = Action::Errno(Errno::EPERM);

    fn args(a0: u64) -> [u64; 6] {
        [a0, 0, 0, 0, 0, 0]
    }

    #[test]
    fn default_rules_and_conditions() {
        let mut f = Filter::new(EPERM);
        f.add(39, Action::Allow, vec![]).expect("getpid");
        // personality(0) and personality(8) only.
        for v in [0, 8] {
            let c = Cond {
                index: 0,
                op: Op::Eq,
                value: v,
                value_two: 0,
            };
            f.add(135, Action::Allow, vec![c]).expect("personality");
        }
        // clone without namespace flags.
        let ns = Cond {
            index: 0,
            op: Op::MaskedEq,
            value: 0x7E02_0000,
            value_two: 0,
        };
        f.add(56, Action::Allow, vec![ns]).expect("clone");
        assert_eq!(f.decide(39, &args(0)), Action::Allow);
        assert_eq!(f.decide(135, &args(8)), Action::Allow);
        assert_eq!(f.decide(135, &args(9)), EPERM);
        assert_eq!(f.decide(56, &args(0x0001_1200)), Action::Allow);
        assert_eq!(f.decide(56, &args(0x1000_0000)), EPERM, "CLONE_NEWUSER");
        assert_eq!(f.decide(1, &args(0)), EPERM, "unlisted");
        assert_eq!(f.decide(u64::MAX, &args(0)), EPERM, "past the table");
    }

    #[test]
    fn most_restrictive_match_wins() {
        let mut f = Filter::new(Action::Allow);
        let big = Cond {
            index: 2,
            op: Op::Gt,
            value: 100,
            value_two: 0,
        };
        f.add(0, Action::Log, vec![]).expect("read");
        f.add(0, Action::Errno(Errno::EACCES), vec![big])
            .expect("read");
        f.add(
            0,
            Action::KillProcess,
            vec![Cond {
                index: 0,
                op: Op::Eq,
                value: 99,
                value_two: 0,
            }],
        )
        .expect("read");
        assert_eq!(f.decide(0, &[0, 0, 10, 0, 0, 0]), Action::Log);
        assert_eq!(
            f.decide(0, &[0, 0, 101, 0, 0, 0]),
            Action::Errno(Errno::EACCES)
        );
        assert_eq!(f.decide(0, &[99, 0, 101, 0, 0, 0]), Action::KillProcess);
        for (op, a, want) in [
            (Op::Ne, 5, true),
            (Op::Ne, 7, false),
            (Op::Lt, 6, true),
            (Op::Le, 7, true),
            (Op::Ge, 7, true),
            (Op::Gt, 7, false),
        ] {
            let c = Cond {
                index: 1,
                op,
                value: 7,
                value_two: 0,
            };
            assert_eq!(c.holds(&[0, a, 0, 0, 0, 0]), want, "{op:?} {a}");
        }
    }

    #[test]
    fn refuses_bad_rules() {
        let mut f = Filter::new(Action::Allow);
        let c = Cond {
            index: 6,
            op: Op::Eq,
            value: 0,
            value_two: 0,
        };
        assert!(f.add(0, Action::Allow, vec![c]).is_err());
        assert!(f.add(100_000, Action::Allow, vec![]).is_err());
        for _ in 0..MAX_RULES_PER_SYSCALL {
            f.add(0, Action::Allow, vec![]).expect("within the cap");
        }
        assert!(f.add(0, Action::Allow, vec![]).is_err());
    }
}
