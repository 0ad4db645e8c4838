//! `linux.seccomp` of a bundle → the sandbox's profile over guest syscalls
//! (`kernel::seccomp`), applied by the Sentry to every guest process as runc has the host
//! kernel apply it to the container's.
//!
//! Checked as hostile input: a condition on an argument past the sixth, an errno past 4095,
//! or more rules than the cap is refused at `create`; `SCMP_ACT_NOTIFY` (a listener outside
//! the sandbox deciding) is refused, as is a `listenerPath`. Names the syscall table doesn't
//! know (newer calls, other architectures' calls) are skipped, as libseccomp skips names it
//! can't resolve; the architectures list is not looked at (every guest call is x86-64), and
//! filter flags (`SECCOMP_FILTER_FLAG_*`) change nothing here.

use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator};
use snare_abi::Errno;

use super::{error, OciError};
use crate::kernel::seccomp::{Action, Cond, Filter, Op};

/// Most syscall entries one profile may name (Docker's has about 350).
const MAX_NAMES: usize = 4096;

/// The profile, or why it is refused.
pub fn filter(s: &LinuxSeccomp) -> Result<Filter, OciError> {
    if s.listener_path().is_some() {
        return Err(error(
            "linux.seccomp.listenerPath: seccomp notification is not supported",
        ));
    }
    let default = action(
        s.default_action(),
        s.default_errno_ret(),
        "linux.seccomp.defaultAction",
    )?;
    let mut f = Filter::new(default);
    let mut names = 0usize;
    for (i, rule) in s
        .syscalls()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let field = format!("linux.seccomp.syscalls[{i}]");
        let act = action(rule.action(), rule.errno_ret(), &field)?;
        let conds = rule
            .args()
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|a| {
                if a.index() > 5 {
                    return Err(error(format!(
                        "{field}: argument index {} (at most 5)",
                        a.index()
                    )));
                }
                Ok(Cond {
                    index: a.index(),
                    op: op(a.op()),
                    value: a.value(),
                    value_two: a.value_two().unwrap_or(0),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        for name in rule.names() {
            names += 1;
            if names > MAX_NAMES {
                return Err(error(format!(
                    "linux.seccomp: more than {MAX_NAMES} syscall names"
                )));
            }
            let Some(sc) = snare_syscalls_table::by_name(name) else {
                tracing::debug!(name, "seccomp profile: unknown syscall name, skipped");
                continue;
            };
            f.add(sc.nr, act, conds.clone())
                .map_err(|m| error(format!("{field}: {m}")))?;
        }
    }
    Ok(f)
}

fn op(o: LinuxSeccompOperator) -> Op {
    match o {
        LinuxSeccompOperator::ScmpCmpNe => Op::Ne,
        LinuxSeccompOperator::ScmpCmpLt => Op::Lt,
        LinuxSeccompOperator::ScmpCmpLe => Op::Le,
        LinuxSeccompOperator::ScmpCmpEq => Op::Eq,
        LinuxSeccompOperator::ScmpCmpGe => Op::Ge,
        LinuxSeccompOperator::ScmpCmpGt => Op::Gt,
        LinuxSeccompOperator::ScmpCmpMaskedEq => Op::MaskedEq,
    }
}

/// An action; `errno` is `errnoRet` (EPERM when absent, as runc).
fn action(a: LinuxSeccompAction, errno: Option<u32>, field: &str) -> Result<Action, OciError> {
    let data = match errno {
        None => None,
        Some(e) if (1..=4095).contains(&e) => Some(e as u16),
        Some(e) => return Err(error(format!("{field}: errnoRet {e} (1 to 4095)"))),
    };
    Ok(match a {
        LinuxSeccompAction::ScmpActAllow => Action::Allow,
        LinuxSeccompAction::ScmpActLog => Action::Log,
        LinuxSeccompAction::ScmpActErrno => Action::Errno(Errno::new(i32::from(data.unwrap_or(1)))),
        LinuxSeccompAction::ScmpActTrap => Action::Trap(data.unwrap_or(0)),
        LinuxSeccompAction::ScmpActTrace => Action::Trace,
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            Action::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => Action::KillProcess,
        LinuxSeccompAction::ScmpActNotify => {
            return Err(error(format!(
                "{field}: SCMP_ACT_NOTIFY: seccomp notification is not supported"
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Filter, OciError> {
        let s: LinuxSeccomp = serde_json::from_str(json).expect("seccomp JSON");
        filter(&s)
    }

    #[test]
    fn docker_default_profile() {
        let text = include_str!("../../tests/data/docker-sample-config.json");
        let spec: oci_spec::runtime::Spec = serde_json::from_str(text).expect("sample");
        let s = spec
            .linux()
            .as_ref()
            .and_then(|l| l.seccomp().as_ref())
            .expect("a profile");
        let f = filter(s).expect("Docker's profile");
        let eperm = Action::Errno(Errno::EPERM);
        let call = |name: &str, a0: u64| {
            let nr = snare_syscalls_table::by_name(name).expect(name).nr;
            f.decide(u64::from(nr), &[a0, 0, 0, 0, 0, 0])
        };
        assert_eq!(call("read", 0), Action::Allow);
        assert_eq!(call("clone", 0x11), Action::Allow);
        assert_eq!(call("clone", 0x1000_0000), eperm, "CLONE_NEWUSER");
        assert_eq!(call("clone3", 0), Action::Errno(Errno::ENOSYS));
        assert_eq!(call("personality", 8), Action::Allow);
        assert_eq!(call("personality", 0x0040_0000), eperm);
        assert_eq!(call("mount", 0), eperm);
        assert_eq!(call("unshare", 0), eperm);
        assert_eq!(call("keyctl", 0), eperm);
    }

    #[test]
    fn refusals() {
        let bad_index = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],
            "action":"SCMP_ACT_ERRNO","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#;
        assert!(parse(bad_index).is_err());
        let bad_errno = r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":70000}"#;
        assert!(parse(bad_errno).is_err());
        let notify = r#"{"defaultAction":"SCMP_ACT_NOTIFY"}"#;
        assert!(parse(notify).is_err());
        let listener = r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/x"}"#;
        assert!(parse(listener).is_err());
        let unknown = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["nosuch",
            "read"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}"#;
        let f = parse(unknown).expect("unknown names are skipped");
        assert_eq!(f.decide(0, &[0; 6]), Action::Errno(Errno::EACCES));
    }
}
