//! The sandbox's budget of host fds for guest files.
//!
//! Every guest open of a host file holds a host fd in the Sentry, in the Sentry's own fd
//! table, which its own work needs too (stub pidfds and sockets, the memory file, timer and
//! wait machinery). So guest files may hold at most [`capacity`] host fds at once: the
//! Sentry's RLIMIT_NOFILE less a reserve ([`RESERVE_MIN`] or an eighth, the larger). Past it
//! a host open fails with ENFILE ("too many open files in system"), and the Sentry's own
//! calls still find fds. A [`HostFdGuard`] travels with each held host fd and gives its
//! place back when dropped (close, or the last mapping of the file gone). Host fds opened
//! only for a moment (a stat, a readlink) take no place.
//!
//! At start-up ([`raise_nofile`]) the Sentry raises its RLIMIT_NOFILE soft limit to the hard
//! one, and when it may (root) the hard limit to `fs.nr_open` (at most 2^20).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use nix::sys::resource::{getrlimit, setrlimit, Resource};
use snare_abi::file::NR_OPEN;
use snare_abi::Errno;

/// The least the Sentry keeps for itself out of its RLIMIT_NOFILE.
pub const RESERVE_MIN: u64 = 256;

/// Host fds guest files hold now.
static HELD: AtomicUsize = AtomicUsize::new(0);
/// The most they may hold (set once: by [`set_capacity`], else from the current limit).
static CAPACITY: OnceLock<usize> = OnceLock::new();

/// The budget for a Sentry whose RLIMIT_NOFILE is `limit`.
pub fn budget_for(limit: u64) -> usize {
    let reserve = RESERVE_MIN.max(limit / 8);
    usize::try_from(limit.saturating_sub(reserve)).unwrap_or(usize::MAX)
}

/// Raises the Sentry's RLIMIT_NOFILE as far as it may (see the module doc); returns the
/// soft limit it ends with.
pub fn raise_nofile() -> u64 {
    let Ok((soft, mut hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 1024;
    };
    let nr_open = // (Read by path: this runs in the launcher, before the namespaces.)
    std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(NR_OPEN)
        .min(NR_OPEN);
    if hard < nr_open && setrlimit(Resource::RLIMIT_NOFILE, nr_open, nr_open).is_ok() {
        hard = nr_open;
    }
    if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        return hard;
    }
    soft
}

/// Sets the budget (once, at start-up, before any guest file is open); later calls are
/// ignored.
pub fn set_capacity(n: usize) {
    let _ = CAPACITY.set(n);
}

/// The most host fds guest files may hold.
pub fn capacity() -> usize {
    *CAPACITY.get_or_init(|| {
        getrlimit(Resource::RLIMIT_NOFILE).map_or(budget_for(1024), |(soft, _)| budget_for(soft))
    })
}

/// One host fd's place in the budget, given back when dropped.
#[derive(Debug)]
pub struct HostFdGuard(());

impl HostFdGuard {
    /// Takes a place: ENFILE when the budget is spent.
    pub fn acquire() -> Result<HostFdGuard, Errno> {
        let cap = capacity();
        HELD.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < cap).then_some(n + 1)
        })
        .map(|_| HostFdGuard(()))
        .map_err(|_| {
            tracing::warn!(cap, "host fd budget spent: ENFILE");
            Errno::ENFILE
        })
    }
}

impl Drop for HostFdGuard {
    fn drop(&mut self) {
        HELD.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Host fds guest files hold now.
pub fn held() -> usize {
    HELD.load(Ordering::Acquire)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserve_is_256_or_an_eighth() {
        assert_eq!(budget_for(1024), 768);
        assert_eq!(budget_for(100), 0);
        assert_eq!(budget_for(1 << 20), (1 << 20) - (1 << 17));
    }

    #[test]
    fn guards_give_their_place_back() {
        let g = HostFdGuard::acquire().expect("room");
        assert!(held() >= 1);
        drop(g);
    }
}
