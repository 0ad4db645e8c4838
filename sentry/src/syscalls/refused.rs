//! Calls a container's process is refused: host administration the sandbox never does
//! (modules, swap, reboot, kexec, raw I/O ports, process accounting, quotas, the kernel
//! log, the kernel keyring, BPF, perf events, file handles, fanotify, userfaultfd, other
//! namespaces). Each answers EPERM, as Linux answers a process without the capability (and
//! Docker's default profile answers a container), never ENOSYS: a program then reports "not
//! permitted", as it would in a container, instead of "not implemented".
//!
//! Deviation: the answer is the same for the sandbox's root with every capability (the
//! guest's capabilities are the sandbox's, not the host's: it has no module, swap or
//! reboot of its own).

use snare_abi::Errno;
use snare_syscalls_table::nr;

use super::Handler;
use crate::kernel::Task;

/// The calls, each with what a Linux process would need for it.
pub(super) const REFUSED: &[(u32, &str)] = &[
    (nr::SYSLOG, "CAP_SYSLOG: the host's kernel log"),
    (nr::VHANGUP, "CAP_SYS_TTY_CONFIG"),
    (nr::ACCT, "CAP_SYS_PACCT: host process accounting"),
    (nr::SWAPON, "CAP_SYS_ADMIN: host swap"),
    (nr::SWAPOFF, "CAP_SYS_ADMIN: host swap"),
    (nr::REBOOT, "CAP_SYS_BOOT"),
    (nr::IOPL, "CAP_SYS_RAWIO: host I/O ports"),
    (nr::IOPERM, "CAP_SYS_RAWIO: host I/O ports"),
    (nr::INIT_MODULE, "CAP_SYS_MODULE: host kernel modules"),
    (nr::FINIT_MODULE, "CAP_SYS_MODULE: host kernel modules"),
    (nr::DELETE_MODULE, "CAP_SYS_MODULE: host kernel modules"),
    (nr::QUOTACTL, "CAP_SYS_ADMIN: disk quotas"),
    (nr::QUOTACTL_FD, "CAP_SYS_ADMIN: disk quotas"),
    (nr::LOOKUP_DCOOKIE, "CAP_SYS_ADMIN"),
    (nr::KEXEC_LOAD, "CAP_SYS_BOOT"),
    (nr::KEXEC_FILE_LOAD, "CAP_SYS_BOOT"),
    (
        nr::PERF_EVENT_OPEN,
        "host performance counters (Docker's profile)",
    ),
    (nr::BPF, "CAP_BPF: host BPF programs"),
    (
        nr::OPEN_BY_HANDLE_AT,
        "CAP_DAC_READ_SEARCH: host file handles",
    ),
    (nr::ADD_KEY, "the host's kernel keyring (Docker's profile)"),
    (
        nr::REQUEST_KEY,
        "the host's kernel keyring (Docker's profile)",
    ),
    (nr::KEYCTL, "the host's kernel keyring (Docker's profile)"),
    (nr::FANOTIFY_INIT, "CAP_SYS_ADMIN"),
    (
        nr::USERFAULTFD,
        "vm.unprivileged_userfaultfd (Docker's profile)",
    ),
    (nr::SETNS, "CAP_SYS_ADMIN: no other namespaces to join"),
];

pub(super) const HANDLERS: &[(u32, Handler)] = &[
    (nr::SYSLOG, sys_refused),
    (nr::VHANGUP, sys_refused),
    (nr::ACCT, sys_refused),
    (nr::SWAPON, sys_refused),
    (nr::SWAPOFF, sys_refused),
    (nr::REBOOT, sys_refused),
    (nr::IOPL, sys_refused),
    (nr::IOPERM, sys_refused),
    (nr::INIT_MODULE, sys_refused),
    (nr::FINIT_MODULE, sys_refused),
    (nr::DELETE_MODULE, sys_refused),
    (nr::QUOTACTL, sys_refused),
    (nr::QUOTACTL_FD, sys_refused),
    (nr::LOOKUP_DCOOKIE, sys_refused),
    (nr::KEXEC_LOAD, sys_refused),
    (nr::KEXEC_FILE_LOAD, sys_refused),
    (nr::PERF_EVENT_OPEN, sys_refused),
    (nr::BPF, sys_refused),
    (nr::OPEN_BY_HANDLE_AT, sys_refused),
    (nr::ADD_KEY, sys_refused),
    (nr::REQUEST_KEY, sys_refused),
    (nr::KEYCTL, sys_refused),
    (nr::FANOTIFY_INIT, sys_refused),
    (nr::USERFAULTFD, sys_refused),
    (nr::SETNS, sys_refused),
];

/// Why syscall `nr` is refused, if it is.
pub fn reason(nr: u32) -> Option<&'static str> {
    REFUSED.iter().find(|(n, _)| *n == nr).map(|(_, r)| *r)
}

/// Implements every call of [`REFUSED`]: EPERM.
fn sys_refused(task: &mut Task, _a: [u64; 6]) -> Result<u64, Errno> {
    let nr = task.regs.orig_rax;
    tracing::debug!(
        nr,
        name = snare_syscalls_table::by_nr(nr).map_or("?", |s| s.name),
        "refused as in a container: EPERM"
    );
    Err(Errno::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refused_call_has_its_handler_and_a_reason() {
        assert_eq!(REFUSED.len(), HANDLERS.len());
        for ((a, why), (b, _)) in REFUSED.iter().zip(HANDLERS) {
            assert_eq!(a, b);
            assert!(!why.is_empty());
        }
    }
}
