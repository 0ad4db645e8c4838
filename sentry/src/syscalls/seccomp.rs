//! A guest's own seccomp: `seccomp(2)`, `prctl(PR_SET_SECCOMP)` (in `clone.rs`, through
//! [`set_mode`]) and the check before each syscall ([`guest_action`]). The programs and
//! their chains are `kernel::seccomp_bpf`'s.
//!
//! Deviations from Linux: no user notification (`SECCOMP_FILTER_FLAG_NEW_LISTENER` is
//! EINVAL and `SECCOMP_RET_USER_NOTIF` fails the call with ENOSYS, as with no listener), no
//! tracer for `SECCOMP_RET_TRACE` (ENOSYS, as Linux without one), `SPEC_ALLOW` changes
//! nothing (the Sentry sets no speculation mitigations per thread), and the kill actions end
//! the whole process (as the sandbox's profile does: `kernel::seccomp`).

use std::sync::Arc;

use snare_abi::seccomp::*;
use snare_abi::Errno;
use snare_syscalls_table::nr;

use super::Handler;
use crate::kernel::seccomp::Action;
use crate::kernel::seccomp_bpf::{Chain, Mode, Program};
use crate::kernel::Task;
use crate::mm::GuestMemory;

pub(super) const HANDLERS: &[(u32, Handler)] = &[(nr::SECCOMP, sys_seccomp)];

/// Implements `seccomp(2)`: `SECCOMP_SET_MODE_STRICT`, `SECCOMP_SET_MODE_FILTER` (flags
/// `TSYNC`, `LOG`, `SPEC_ALLOW`, `TSYNC_ESRCH`; `NEW_LISTENER` is EINVAL),
/// `SECCOMP_GET_ACTION_AVAIL`, `SECCOMP_GET_NOTIF_SIZES`.
fn sys_seccomp(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let (op, flags, args) = (a[0], a[1], a[2]);
    match u32::try_from(op).map_err(|_| Errno::EINVAL)? {
        SECCOMP_SET_MODE_STRICT => {
            if flags != 0 || args != 0 {
                return Err(Errno::EINVAL);
            }
            set_mode(task, None, 0)
        }
        SECCOMP_SET_MODE_FILTER => {
            let flags = u32::try_from(flags).map_err(|_| Errno::EINVAL)?;
            set_mode(task, Some(args), flags)
        }
        SECCOMP_GET_ACTION_AVAIL => {
            if flags != 0 {
                return Err(Errno::EINVAL);
            }
            let mut b = [0u8; 4];
            task.mm.read(args, &mut b)?;
            match u32::from_ne_bytes(b) {
                SECCOMP_RET_KILL_PROCESS
                | SECCOMP_RET_KILL_THREAD
                | SECCOMP_RET_TRAP
                | SECCOMP_RET_ERRNO
                | SECCOMP_RET_USER_NOTIF
                | SECCOMP_RET_TRACE
                | SECCOMP_RET_LOG
                | SECCOMP_RET_ALLOW => Ok(0),
                _ => Err(Errno::EOPNOTSUPP),
            }
        }
        SECCOMP_GET_NOTIF_SIZES => {
            if flags != 0 {
                return Err(Errno::EINVAL);
            }
            // struct seccomp_notif_sizes: seccomp_notif, seccomp_notif_resp, seccomp_data.
            let mut b = [0u8; 6];
            b[0..2].copy_from_slice(&80u16.to_ne_bytes());
            b[2..4].copy_from_slice(&24u16.to_ne_bytes());
            b[4..6].copy_from_slice(&64u16.to_ne_bytes());
            task.mm.write(args, &b)?;
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

const KNOWN_FLAGS: u32 = SECCOMP_FILTER_FLAG_TSYNC
    | SECCOMP_FILTER_FLAG_LOG
    | SECCOMP_FILTER_FLAG_SPEC_ALLOW
    | SECCOMP_FILTER_FLAG_NEW_LISTENER
    | SECCOMP_FILTER_FLAG_TSYNC_ESRCH
    | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;

/// Strict mode (`prog` `None`) or a new filter read from the `struct sock_fprog` at `prog`.
pub(super) fn set_mode(task: &mut Task, prog: Option<u64>, flags: u32) -> Result<u64, Errno> {
    let current = task.handle.seccomp_mode();
    let Some(fprog) = prog else {
        // Strict mode from nothing, or again; never over filters.
        return match current {
            None | Some(Mode::Strict) => {
                task.handle.set_seccomp(Some(Mode::Strict));
                Ok(0)
            }
            Some(Mode::Filter(_)) => Err(Errno::EINVAL),
        };
    };
    if flags & !KNOWN_FLAGS != 0 || flags & SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV != 0 {
        // Only meaningful with a listener.
        return Err(Errno::EINVAL);
    }
    if !may_install(task) {
        return Err(Errno::EACCES);
    }
    let f: SockFprog = task.mm.read_val(fprog)?;
    if f.len == 0 || usize::from(f.len) > bpf::MAXINSNS {
        return Err(Errno::EINVAL);
    }
    let mut insns = Vec::with_capacity(usize::from(f.len));
    for i in 0..u64::from(f.len) {
        let at = f.filter.checked_add(i * 8).ok_or(Errno::EFAULT)?;
        insns.push(task.mm.read_val::<SockFilter>(at)?);
    }
    let program = Program::check(insns)?;
    let prev = match current {
        Some(Mode::Strict) => return Err(Errno::EINVAL),
        Some(Mode::Filter(c)) => Some(c),
        None => None,
    };
    let chain = Arc::new(Chain::push(
        prev.clone(),
        program,
        flags & SECCOMP_FILTER_FLAG_LOG != 0,
    )?);
    if flags & SECCOMP_FILTER_FLAG_TSYNC != 0 {
        // Every other thread must be on this thread's chain (or an older part of it).
        let threads = task.tg().state().threads.clone();
        for t in threads.iter().filter(|t| t.tid != task.tid) {
            let theirs = match t.seccomp_mode() {
                None => None,
                Some(Mode::Filter(c)) => Some(c),
                Some(Mode::Strict) => return tsync_failed(t.tid, flags),
            };
            if !prev_contains(prev.as_ref(), theirs.as_ref()) {
                return tsync_failed(t.tid, flags);
            }
        }
        for t in threads.iter().filter(|t| t.tid != task.tid) {
            t.set_seccomp(Some(Mode::Filter(chain.clone())));
        }
    }
    task.handle.set_seccomp(Some(Mode::Filter(chain)));
    Ok(0)
}

/// TSYNC failed on thread `tid`: its id (as Linux returns it), or ESRCH with `TSYNC_ESRCH`.
fn tsync_failed(tid: i32, flags: u32) -> Result<u64, Errno> {
    if flags & SECCOMP_FILTER_FLAG_TSYNC_ESRCH != 0 {
        return Err(Errno::ESRCH);
    }
    Ok(tid as u64)
}

/// Whether `theirs` (another thread's chain) is `mine` or an ancestor of it.
fn prev_contains(mine: Option<&Arc<Chain>>, theirs: Option<&Arc<Chain>>) -> bool {
    match mine {
        Some(m) => m.descends_from(theirs),
        None => theirs.is_none(),
    }
}

/// Linux's rule: a filter needs `no_new_privs` or CAP_SYS_ADMIN (EACCES otherwise).
fn may_install(task: &Task) -> bool {
    let st = task.tg().state();
    st.creds.caps.no_new_privs || st.creds.capable(snare_abi::caps::Cap::SysAdmin)
}

/// What the thread's own seccomp state does with syscall `nr`: `None` when it has none.
pub(super) fn guest_action(task: &Task, nr: u64, args: &[u64; 6]) -> Option<Action> {
    match task.handle.seccomp_mode()? {
        Mode::Strict => {
            let allowed = [nr::READ, nr::WRITE, nr::EXIT, nr::RT_SIGRETURN]
                .iter()
                .any(|&n| u64::from(n) == nr);
            Some(if allowed {
                Action::Allow
            } else {
                Action::Sigkill
            })
        }
        Mode::Filter(chain) => {
            let data = SeccompData {
                nr: nr as i32,
                arch: AUDIT_ARCH_X86_64,
                instruction_pointer: task.regs.rip,
                args: *args,
            };
            let (ret, log) = chain.run(&data);
            let data = (ret & SECCOMP_RET_DATA) as u16;
            let action = match ret & SECCOMP_RET_ACTION_FULL {
                SECCOMP_RET_ALLOW => Action::Allow,
                SECCOMP_RET_LOG => Action::Log,
                SECCOMP_RET_ERRNO => Action::Errno(Errno::new(i32::from(data.min(4095)))),
                SECCOMP_RET_TRAP => Action::Trap(data),
                SECCOMP_RET_TRACE | SECCOMP_RET_USER_NOTIF => Action::Trace,
                SECCOMP_RET_KILL_THREAD => Action::KillThread,
                _ => Action::KillProcess,
            };
            if log && action != Action::Allow {
                let name = snare_syscalls_table::by_nr(nr).map_or("unknown", |s| s.name);
                tracing::info!(tid = task.tid, nr, name, ?action, "guest seccomp: logged");
            }
            Some(action)
        }
    }
}
