//! System call dispatch: one handler per syscall number in a dense table, one file per family.
//!
//! Handlers are named `sys_<linux name>`, take the task and the six raw arguments, decode and
//! validate them at entry, and return `Result<u64, Errno>`; only [`dispatch`] writes `-errno`
//! into rax. A number with no handler returns ENOSYS and is logged once by name.

mod clone;
mod creds;
mod fs;
mod fs_tree;
mod futex;
mod inotify;
mod ipc;
mod kcmp;
mod membarrier;
mod memfd;
mod mlock;
mod mmap;
mod mount;
mod mqueue;
mod path;
mod poll;
mod proc_info;
mod process;
mod process_vm;
mod read_write;
mod refused;
mod sched;
mod seccomp;
mod signal;
mod socket;
mod socket_conn;
mod socket_inet;
mod socket_msg;
mod socket_netlink;
mod splice;
mod sysv_msg;
mod sysv_sem;
mod sysv_shm;
mod time;
mod time_set;
mod timer;
mod xattr;

pub use futex::{exit_robust_list, futex_wake, FutexTable};

use std::sync::LazyLock;

use snare_abi::Errno;
use snare_syscalls_table::{by_nr, nr, TABLE_LEN};

use crate::kernel::Task;

/// A syscall handler.
pub type Handler = fn(&mut Task, [u64; 6]) -> Result<u64, Errno>;

/// The dispatch table, built once from each family's list.
static TABLE: LazyLock<[Option<Handler>; TABLE_LEN]> = LazyLock::new(|| {
    let mut t: [Option<Handler>; TABLE_LEN] = [None; TABLE_LEN];
    for list in [
        clone::HANDLERS,
        creds::HANDLERS,
        fs::HANDLERS,
        fs_tree::HANDLERS,
        futex::HANDLERS,
        inotify::HANDLERS,
        ipc::HANDLERS,
        kcmp::HANDLERS,
        membarrier::HANDLERS,
        memfd::HANDLERS,
        mlock::HANDLERS,
        mmap::HANDLERS,
        mount::HANDLERS,
        mqueue::HANDLERS,
        poll::HANDLERS,
        process::HANDLERS,
        process_vm::HANDLERS,
        read_write::HANDLERS,
        refused::HANDLERS,
        seccomp::HANDLERS,
        sched::HANDLERS,
        signal::HANDLERS,
        socket::HANDLERS,
        socket_conn::HANDLERS,
        splice::HANDLERS,
        sysv_msg::HANDLERS,
        sysv_sem::HANDLERS,
        sysv_shm::HANDLERS,
        time::HANDLERS,
        time_set::HANDLERS,
        timer::HANDLERS,
        xattr::HANDLERS,
    ] {
        for &(n, h) in list {
            t[n as usize] = Some(h);
        }
    }
    t
});

/// Whether the Sentry implements syscall `nr` (for `snare syscalls`).
pub fn implemented(nr: u32) -> bool {
    TABLE.get(nr as usize).is_some_and(Option::is_some)
}

/// Handles the syscall in `task.regs` and writes its result into rax.
pub fn dispatch(task: &mut Task) {
    let nr = task.regs.orig_rax;
    let args = task.regs.syscall_args();
    // Decode the arguments before the call: after an execve they are gone.
    let pending = task
        .k
        .strace
        .then(|| crate::strace::PendingCall::new(nr, args, &*task.mm));
    if let Some(p) = &pending {
        if nr == u64::from(nr::EXIT) || nr == u64::from(nr::EXIT_GROUP) {
            strace_line(format_args!("[{}] {p} = ?", task.tid));
        }
    }
    let handler = usize::try_from(nr)
        .ok()
        .and_then(|i| TABLE.get(i).copied().flatten());
    let started = task.profile.is_some().then(std::time::Instant::now);
    let ret = match seccomp_verdict(task, nr, &args) {
        Some(r) => r,
        None => match handler {
            Some(h) => h(task, args),
            None => {
                if task.k.first_unimplemented(nr) {
                    let name = by_nr(nr).map_or("unknown", |s| s.name);
                    tracing::warn!(nr, name, "unimplemented syscall: returning ENOSYS");
                }
                Err(Errno::ENOSYS)
            }
        },
    };
    let raw = match ret {
        Ok(v) => v,
        Err(e) => {
            if e.is_internal_restart() {
                // Resolved before the guest runs again (restart, or EINTR for a handler).
                task.restart = Some(e);
                (-i64::from(Errno::EINTR.raw())) as u64
            } else {
                if e == Errno::EPIPE && is_write(nr) && !quiet_epipe(task, args[0]) {
                    let info = crate::kernel::signal::user_info(
                        snare_abi::signal::SIGPIPE,
                        snare_abi::signal::SI_USER,
                        task.tgid(),
                        task.tg().state().creds.ruid,
                    );
                    crate::kernel::signal::send_to_task(&task.handle, info);
                }
                (-i64::from(e.raw())) as u64
            }
        }
    };
    task.regs.rax = raw;
    if let (Some(t), Some(p)) = (started, task.profile.as_mut()) {
        let e = p.entry(nr).or_default();
        e.0 += 1;
        e.1 += t.elapsed().as_nanos() as u64;
    }
    if let Some(p) = pending.filter(|_| task.exit.is_none()) {
        strace_line(format_args!(
            "[{}] {}",
            task.tid,
            p.finish(raw as i64, &*task.mm)
        ));
    }
}

/// What the sandbox's seccomp profile (`kernel::seccomp`) and the thread's own filters
/// (`seccomp::guest_action`) do with this call, the most restrictive of the two: `None` to
/// run it, else its result (the handler never runs).
fn seccomp_verdict(task: &mut Task, nr: u64, args: &[u64; 6]) -> Option<Result<u64, Errno>> {
    use crate::kernel::seccomp::Action;
    let sandbox = task.k.seccomp.get().map(|f| f.decide(nr, args));
    let guest = seccomp::guest_action(task, nr, args);
    let action = match (sandbox, guest) {
        (None, None) => return None,
        (Some(a), None) | (None, Some(a)) => a,
        (Some(s), Some(g)) => match g.precedence() > s.precedence() {
            true => g,
            false => s,
        },
    };
    match action {
        Action::Allow => None,
        Action::Log => {
            let name = by_nr(nr).map_or("unknown", |s| s.name);
            tracing::info!(tid = task.tid, nr, name, "seccomp: logged");
            None
        }
        Action::Errno(e) => Some(Err(e)),
        Action::Trace => Some(Err(Errno::ENOSYS)),
        Action::Trap(data) => {
            use snare_abi::seccomp::{AUDIT_ARCH_X86_64, SYS_SECCOMP};
            let mut info = snare_abi::SigInfo {
                si_signo: snare_abi::signal::SIGSYS,
                si_errno: i32::from(data),
                si_code: SYS_SECCOMP,
                ..snare_abi::SigInfo::default()
            };
            info.fields[0] = task.regs.rip;
            info.fields[1] = u64::from(nr as u32) | (u64::from(AUDIT_ARCH_X86_64) << 32);
            task.force_signal(info);
            // Rolled back, as Linux does: rax keeps the syscall's number.
            Some(Ok(nr))
        }
        Action::KillThread | Action::KillProcess | Action::Sigkill => {
            let sig = match action {
                Action::Sigkill => snare_abi::signal::SIGKILL,
                _ => snare_abi::signal::SIGSYS,
            };
            let status = crate::kernel::ExitStatus::Signal(sig);
            crate::kernel::signal::group_exit(task.tg(), status, None);
            task.exit = Some(status);
            Some(Err(Errno::ENOSYS))
        }
    }
}

/// Prints one `--strace` line; a closed stderr is not an error of the guest's.
fn strace_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Calls that raise SIGPIPE when they fail with EPIPE (sendto and sendmsg raise it
/// themselves: `MSG_NOSIGNAL` and the socket type decide).
fn is_write(nr: u64) -> bool {
    [
        nr::WRITE,
        nr::WRITEV,
        nr::PWRITE64,
        nr::PWRITEV,
        nr::PWRITEV2,
        nr::SENDFILE,
        nr::SPLICE,
        nr::TEE,
        nr::VMSPLICE,
        nr::COPY_FILE_RANGE,
    ]
    .iter()
    .any(|&n| u64::from(n) == nr)
}

/// Whether an EPIPE of a write to fd `a0` raises no SIGPIPE: a datagram or seqpacket
/// socket's (Linux raises it for stream sockets only).
fn quiet_epipe(task: &Task, a0: u64) -> bool {
    task.fds.get(arg::fd(a0)).is_ok_and(|f| {
        crate::net::unix::as_socket(&*f)
            .is_some_and(|s| s.sock_type() != crate::net::unix::SockType::Stream)
    })
}

/// Argument decoding helpers: raw u64 → typed values, in one place.
pub(crate) mod arg {
    use snare_abi::Errno;

    /// An fd argument (the kernel takes the low 32 bits as `int`).
    pub fn fd(a: u64) -> i32 {
        a as u32 as i32
    }

    /// A 32-bit flags or mode argument.
    pub fn u32_(a: u64) -> u32 {
        a as u32
    }

    /// A signed 32-bit argument.
    pub fn i32_(a: u64) -> i32 {
        a as u32 as i32
    }

    /// A length that must fit the address space.
    pub fn len(a: u64) -> Result<usize, Errno> {
        usize::try_from(a).map_err(|_| Errno::EINVAL)
    }

    /// Rejects flags outside `known`.
    pub fn check_flags(flags: u32, known: u32) -> Result<u32, Errno> {
        if flags & !known != 0 {
            Err(Errno::EINVAL)
        } else {
            Ok(flags)
        }
    }
}

/// The most bytes one read/write call moves (Linux's MAX_RW_COUNT).
pub(crate) const MAX_RW: usize = 0x7fff_f000;

/// The support table `snare syscalls` prints: every x86-64 syscall, implemented, refused
/// as in a container (EPERM, with what Linux would need), or ENOSYS.
pub fn support_table() -> String {
    let mut out = String::new();
    let (mut n, mut refused_n, mut total) = (0, 0, 0);
    for s in snare_syscalls_table::all() {
        total += 1;
        let state = if let Some(why) = refused::reason(s.nr) {
            refused_n += 1;
            format!("EPERM ({why})")
        } else if implemented(s.nr) {
            n += 1;
            "implemented".to_string()
        } else {
            "ENOSYS".to_string()
        };
        out.push_str(&format!("{:>4}  {:<24} {state}\n", s.nr, s.name));
    }
    out.push_str(&format!(
        "{n} of {total} syscalls implemented, {refused_n} refused as in a container (EPERM), {} ENOSYS\n",
        total - n - refused_n
    ));
    out
}
