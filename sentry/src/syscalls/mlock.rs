//! Memory locking: mlock, mlock2, munlock, mlockall, munlockall. The rules (RLIMIT_MEMLOCK,
//! who may lock at all) are Linux's and live here; which VMAs are locked is the memory
//! manager's (`mm/mlock.rs`). Deviation: pages are neither pinned nor populated, as the
//! Sentry's memory file is never swapped.

use snare_abi::file::RLIMIT_MEMLOCK;
use snare_abi::sched::{MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT, MLOCK_ONFAULT};
use snare_abi::Errno;
use snare_syscalls_table::nr;

use super::arg::u32_;
use super::Handler;
use crate::kernel::Task;
use crate::mm::{Locked, PAGE};

pub(super) const HANDLERS: &[(u32, Handler)] = &[
    (nr::MLOCK, sys_mlock),
    (nr::MLOCK2, sys_mlock2),
    (nr::MUNLOCK, sys_munlock),
    (nr::MLOCKALL, sys_mlockall),
    (nr::MUNLOCKALL, sys_munlockall),
];

/// Whether the caller may lock past RLIMIT_MEMLOCK (CAP_IPC_LOCK).
pub(super) fn cap_ipc_lock(task: &Task) -> bool {
    task.tg()
        .state()
        .creds
        .capable(snare_abi::caps::Cap::IpcLock)
}

/// The caller's RLIMIT_MEMLOCK soft limit, in bytes.
fn memlock_limit(task: &Task) -> u64 {
    task.tg()
        .state()
        .rlimits
        .get(RLIMIT_MEMLOCK)
        .map_or(0, |l| l.rlim_cur)
}

/// Linux's `can_do_mlock`: a nonzero RLIMIT_MEMLOCK, or CAP_IPC_LOCK.
pub(super) fn can_do_mlock(task: &Task) -> bool {
    memlock_limit(task) != 0 || cap_ipc_lock(task)
}

/// Whether `more` bytes may be locked on top of what is (Linux's `mlock_future_ok`).
pub(super) fn may_lock_more(task: &Task, more: u64) -> bool {
    cap_ipc_lock(task)
        || (task.mm.locked_bytes() / PAGE).saturating_add(more.div_ceil(PAGE))
            <= memlock_limit(task) / PAGE
}

/// `[addr, addr + len)` widened to whole pages as Linux does (its arithmetic wraps: a
/// length that wraps to nothing locks nothing); EINVAL if the end wraps below the start.
fn page_range(addr: u64, len: u64) -> Result<(u64, u64), Errno> {
    let start = addr & !(PAGE - 1);
    let len = len.wrapping_add(addr - start).wrapping_add(PAGE - 1) & !(PAGE - 1);
    let end = start.wrapping_add(len);
    if end < start {
        return Err(Errno::EINVAL);
    }
    Ok((start, end))
}

/// mlock and mlock2: EPERM without RLIMIT_MEMLOCK or CAP_IPC_LOCK; ENOMEM past the limit
/// (what is locked already in the range not counted twice), at an unmapped page, or over
/// a PROT_NONE mapping (locked all the same, as on Linux).
fn do_mlock(task: &Task, addr: u64, len: u64, lock: Locked) -> Result<u64, Errno> {
    if !can_do_mlock(task) {
        return Err(Errno::EPERM);
    }
    let (start, end) = page_range(addr, len)?;
    if end == start {
        return Ok(0);
    }
    if !cap_ipc_lock(task) {
        let limit = memlock_limit(task) / PAGE;
        let mut pages = ((end - start) / PAGE).saturating_add(task.mm.locked_bytes() / PAGE);
        if pages > limit {
            pages -= task.mm.locked_bytes_in(start, end) / PAGE;
        }
        if pages > limit {
            return Err(Errno::ENOMEM);
        }
    }
    task.mm.set_locked(start, end, lock)?;
    // Linux then populates the range (not for MLOCK_ONFAULT): a PROT_NONE mapping fails
    // that, and the call with ENOMEM, though the lock stays.
    if lock == Locked::Yes && task.mm.any_inaccessible(start, end) {
        return Err(Errno::ENOMEM);
    }
    Ok(0)
}

/// Implements `mlock(2)` (see [`do_mlock`]).
fn sys_mlock(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_mlock(task, a[0], a[1], Locked::Yes)
}

/// Implements `mlock2(2)`: MLOCK_ONFAULT, or no flag.
fn sys_mlock2(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let flags = super::arg::check_flags(u32_(a[2]), MLOCK_ONFAULT)?;
    let lock = if flags & MLOCK_ONFAULT != 0 {
        Locked::OnFault
    } else {
        Locked::Yes
    };
    do_mlock(task, a[0], a[1], lock)
}

/// Implements `munlock(2)`: ENOMEM at an unmapped page.
fn sys_munlock(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let (start, end) = page_range(a[0], a[1])?;
    task.mm.set_locked(start, end, Locked::No).map(|()| 0)
}

/// Implements `mlockall(2)`: MCL_CURRENT locks every mapping (ENOMEM if they are more than
/// RLIMIT_MEMLOCK allows), MCL_FUTURE the mappings to come (an mmap past the limit then
/// fails with EAGAIN), MCL_ONFAULT with either locks pages as they fault in. A call without
/// MCL_FUTURE ends an earlier one's. Deviation: the heap growing by brk is locked under
/// MCL_FUTURE but not counted against the limit.
fn sys_mlockall(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let flags = u32_(a[0]);
    if flags == 0 || flags & !(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0 || flags == MCL_ONFAULT
    {
        return Err(Errno::EINVAL);
    }
    if !can_do_mlock(task) {
        return Err(Errno::EPERM);
    }
    if flags & MCL_CURRENT != 0
        && !cap_ipc_lock(task)
        && task.mm.mapped_bytes() / PAGE > memlock_limit(task) / PAGE
    {
        return Err(Errno::ENOMEM);
    }
    let lock = if flags & MCL_ONFAULT != 0 {
        Locked::OnFault
    } else {
        Locked::Yes
    };
    let current = (flags & MCL_CURRENT != 0).then_some(lock);
    let future = if flags & MCL_FUTURE != 0 {
        lock
    } else {
        Locked::No
    };
    task.mm.set_all_locked(current, future);
    Ok(0)
}

/// Implements `munlockall(2)`.
fn sys_munlockall(task: &mut Task, _a: [u64; 6]) -> Result<u64, Errno> {
    task.mm.set_all_locked(Some(Locked::No), Locked::No);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_widen_to_pages_and_wrap_as_linux() {
        assert_eq!(page_range(0x1001, 1), Ok((0x1000, 0x2000)));
        assert_eq!(page_range(0x1fff, 2), Ok((0x1000, 0x3000)));
        assert_eq!(page_range(0x1000, 0), Ok((0x1000, 0x1000)));
        // A length that wraps to nothing is nothing.
        assert_eq!(page_range(0x1000, u64::MAX), Ok((0x1000, 0x1000)));
        assert_eq!(page_range(u64::MAX - 0xfff, 0x2000), Err(Errno::EINVAL));
    }
}
