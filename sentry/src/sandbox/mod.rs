//! Confining the Sentry itself, once it has set up (issue 14): no core dumps, not dumpable,
//! no new privileges, and a seccomp allowlist of the host calls it still needs
//! ([`seccomp`]) on every one of its threads.
//!
//! `run::run` calls [`confine`] after the platform is up (the source stub already forked, so
//! no stub inherits this filter: stubs are clones of the source, never of the Sentry) and
//! after the root, the volumes and the Sentry's own host files are open, and before the first
//! guest byte (its ELF image) is read. Namespaces, an empty root and an unprivileged uid are
//! the rest of issue 14 and not done here.

pub mod seccomp;
#[cfg(feature = "test-hooks")]
pub mod test_hooks;

/// Sets what makes the Sentry useless to a process that takes it over: `PR_SET_DUMPABLE` 0
/// (no ptrace attach by same-uid processes, `/proc/PID` files owned by root), `RLIMIT_CORE`
/// 0, `PR_SET_NO_NEW_PRIVS`; then installs [`seccomp::filter`] on every thread
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

/// [`confine`] with a filter [`compile`]d before.
pub fn confine_with(program: Result<seccompiler::BpfProgram, String>) -> Result<(), String> {
    let program = program?;
    nix::sys::prctl::set_dumpable(false).map_err(|e| format!("PR_SET_DUMPABLE: {e}"))?;
    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0)
        .map_err(|e| format!("RLIMIT_CORE: {e}"))?;
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
