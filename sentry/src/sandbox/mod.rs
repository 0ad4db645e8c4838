//! Confining the Sentry itself, once it has set up (issue 14): no core dumps, not dumpable,
//! no new privileges, and a seccomp allowlist of the host calls it still needs
//! ([`seccomp`]) on every one of its threads.
//!
//! `run::run` calls [`confine`] after the platform is up (the source stub already forked, so
//! no stub inherits this filter: stubs are clones of the source, never of the Sentry) and
//! after the root, the volumes and the Sentry's own host files are open, and before the first
//! guest byte (its ELF image) is read. The layers before it (namespaces, the empty root, the
//! Sentry as `nobody`) are `snare_platform::isolate`'s.

pub mod seccomp;
#[cfg(feature = "test-hooks")]
pub mod test_hooks;

/// Sets what makes the Sentry useless to a process that takes it over: `PR_SET_DUMPABLE` 0
/// (no ptrace attach by same-uid processes, `/proc/PID` files owned by root), the
/// [`LIMITS`], `PR_SET_NO_NEW_PRIVS`; then installs [`seccomp::filter`] on every thread
/// (`SECCOMP_FILTER_FLAG_TSYNC`), threads made later inheriting it. Any failure is the
/// sandbox's: the caller refuses to run the guest unconfined.
pub fn confine() -> Result<(), String> {
    confine_with(compile())
}

/// [`seccomp::filter`], compiled (on a thread of its own while set-up goes on: it takes a
/// few hundred microseconds).
pub fn compile() -> Result<seccompiler::BpfProgram, String> {
    seccomp::filter().map_err(|e| format!("building the seccomp filter: {e}"))
}

/// The Sentry's own resource limits that confinement sets, with why; `None` raises the
/// soft limit to the hard one. `RLIMIT_NOFILE` is raised before the namespaces
/// (`run::host_fd_budget`: raising a hard limit needs the host's privilege); the others
/// (`NPROC`, `AS`, `DATA`, `STACK`, `CPU`, …) stay as inherited from the user who started
/// snare, so a host's own limits still bound the whole sandbox (`NPROC` counts the stubs:
/// every guest process is one, as host uid `nobody` when started by root).
pub const LIMITS: &[(nix::sys::resource::Resource, Option<u64>, &str)] = {
    use nix::sys::resource::Resource::*;
    &[
        (
            RLIMIT_CORE,
            Some(0),
            "no core dump of the Sentry's memory (the guests' data)",
        ),
        (
            RLIMIT_MEMLOCK,
            Some(0),
            "the Sentry locks no memory (a guest's mlock is modelled)",
        ),
        (
            RLIMIT_MSGQUEUE,
            Some(0),
            "no host POSIX message queues (the guests' are the Sentry's own)",
        ),
        (
            RLIMIT_FSIZE,
            None,
            "the memory file grows to twice --memory: a low inherited soft limit would end \
             the sandbox with SIGXFSZ",
        ),
    ]
};

fn set_limits() -> Result<(), String> {
    use nix::sys::resource::{getrlimit, setrlimit};
    for &(res, value, _) in LIMITS {
        let (soft, hard) = match value {
            Some(v) => (v, v),
            None => {
                let (_, hard) = getrlimit(res).map_err(|e| format!("{res:?}: {e}"))?;
                (hard, hard)
            }
        };
        setrlimit(res, soft, hard).map_err(|e| format!("{res:?}: {e}"))?;
    }
    Ok(())
}

/// [`confine`] with a filter [`compile`]d before.
pub fn confine_with(program: Result<seccompiler::BpfProgram, String>) -> Result<(), String> {
    let program = program?;
    nix::sys::prctl::set_dumpable(false).map_err(|e| format!("PR_SET_DUMPABLE: {e}"))?;
    set_limits()?;
    nix::sys::prctl::set_no_new_privs().map_err(|e| format!("PR_SET_NO_NEW_PRIVS: {e}"))?;
    seccompiler::apply_filter_all_threads(&program)
        .map_err(|e| format!("installing the seccomp filter: {e}"))?;
    tracing::debug!(
        rules = seccomp::RULES.len(),
        instructions = program.len(),
        "Sentry confined"
    );
    Ok(())
}
