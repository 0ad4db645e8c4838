//! Memory: brk, mmap, munmap, mprotect, madvise, mremap, msync, mincore.

use snare_abi::Errno;
use snare_platform::Prot;
use snare_syscalls_table::nr;

use super::arg::{fd, u32_};
use super::Handler;
use crate::kernel::Task;
use crate::mm::{page_up, Backing, GuestMemory, Locked, Mapping, Placement, PAGE};

pub(super) const HANDLERS: &[(u32, Handler)] = &[
    (nr::BRK, sys_brk),
    (nr::MMAP, sys_mmap),
    (nr::MUNMAP, sys_munmap),
    (nr::MPROTECT, sys_mprotect),
    (nr::MADVISE, sys_madvise),
    (nr::MSYNC, sys_msync),
    (nr::MINCORE, sys_mincore),
    (nr::MREMAP, sys_mremap),
];

/// Implements `mremap(2)` (MREMAP_MAYMOVE, MREMAP_FIXED; MREMAP_DONTUNMAP is refused).
fn sys_mremap(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    const MREMAP_MAYMOVE: u32 = 1;
    const MREMAP_FIXED: u32 = 2;
    let flags = super::arg::check_flags(u32_(a[3]), MREMAP_MAYMOVE | MREMAP_FIXED)?;
    if flags & MREMAP_FIXED != 0 && flags & MREMAP_MAYMOVE == 0 {
        return Err(Errno::EINVAL);
    }
    let fixed = (flags & MREMAP_FIXED != 0).then_some(a[4]);
    if let (Some(old), Some(new)) = (page_up(a[1]), page_up(a[2])) {
        if new > old && !as_allows(task, None, new - old) {
            return Err(Errno::ENOMEM);
        }
    }
    task.mm
        .mremap(a[0], a[1], a[2], flags & MREMAP_MAYMOVE != 0, fixed)
}

/// RLIMIT_AS (Linux's `may_expand_vm`): whether the address space may grow by `extra`
/// bytes, the mappings in `replaced` going in the same call (a MAP_FIXED over them).
/// Checked before the call changes anything, and only when the limit is finite (then the
/// VMAs are counted). Two threads mapping at once could both pass: the limit is the guest's
/// own; what bounds the sandbox is `--memory`.
fn as_allows(task: &Task, replaced: Option<(u64, u64)>, extra: u64) -> bool {
    let Some(limit) = crate::kernel::rlimits::soft_limit(task, snare_abi::file::RLIMIT_AS) else {
        return true;
    };
    let vmas = task.mm.vmas();
    let total: u64 = vmas.iter().map(|v| v.end - v.start).sum();
    let gone: u64 = replaced.map_or(0, |(s, e)| {
        vmas.iter()
            .map(|v| v.end.min(e).saturating_sub(v.start.max(s)))
            .sum()
    });
    (total - gone).saturating_add(extra) <= limit
}

const MAP_SHARED: u32 = 0x01;
const MAP_PRIVATE: u32 = 0x02;
const MAP_SHARED_VALIDATE: u32 = 0x03;
const MAP_FIXED: u32 = 0x10;
const MAP_ANONYMOUS: u32 = 0x20;
const MAP_32BIT: u32 = 0x40;
const MAP_GROWSDOWN: u32 = 0x100;
const MAP_DENYWRITE: u32 = 0x800;
const MAP_EXECUTABLE: u32 = 0x1000;
const MAP_LOCKED: u32 = 0x2000;
const MAP_NORESERVE: u32 = 0x4000;
const MAP_POPULATE: u32 = 0x8000;
const MAP_NONBLOCK: u32 = 0x1_0000;
const MAP_STACK: u32 = 0x2_0000;
const MAP_HUGETLB: u32 = 0x4_0000;
const MAP_FIXED_NOREPLACE: u32 = 0x10_0000;
const KNOWN_MAP: u32 = MAP_SHARED
    | MAP_PRIVATE
    | MAP_FIXED
    | MAP_ANONYMOUS
    | MAP_32BIT
    | MAP_GROWSDOWN
    | MAP_DENYWRITE
    | MAP_EXECUTABLE
    | MAP_LOCKED
    | MAP_NORESERVE
    | MAP_POPULATE
    | MAP_NONBLOCK
    | MAP_STACK
    | MAP_HUGETLB
    | MAP_FIXED_NOREPLACE;

fn prot_arg(p: u64) -> Result<Prot, Errno> {
    // PROT_GROWSDOWN/GROWSUP (0x0100_0000/0x0200_0000) are accepted and ignored.
    Prot::from_bits(u32_(p) & !0x0300_0000).ok_or(Errno::EINVAL)
}

/// Implements `brk(2)`.
fn sys_brk(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let (_, end) = task.mm.brk_range();
    if let Some(new_end) = page_up(a[0]) {
        if new_end > end && !as_allows(task, None, new_end - end) {
            // brk's failure is the old break.
            return Ok(task.mm.brk(0));
        }
    }
    Ok(task.mm.brk(a[0]))
}

/// Implements `mmap(2)`. Deviations: MAP_SHARED file mappings are private copies (no page
/// cache yet), so writes through them don't reach the file; MAP_POPULATE and MAP_LOCKED
/// (which locks the mapping, `syscalls/mlock.rs`) populate lazily. As Linux's heuristic overcommit does, one mapping that would
/// commit memory (private writable, or shared anonymous; not MAP_NORESERVE) larger than the
/// sandbox's memory limit fails with ENOMEM. RLIMIT_AS is enforced ([`as_allows`]).
fn sys_mmap(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let (addr, length) = (a[0], a[1]);
    let prot = prot_arg(a[2])?;
    let flags = u32_(a[3]);
    let kind = flags & MAP_SHARED_VALIDATE;
    if kind == 0 || (kind == MAP_SHARED_VALIDATE && flags & !KNOWN_MAP != 0) {
        return Err(Errno::EINVAL);
    }
    if length == 0 || !a[5].is_multiple_of(PAGE) {
        return Err(Errno::EINVAL);
    }
    let shared = kind != MAP_PRIVATE;
    let commits = if shared {
        flags & MAP_ANONYMOUS != 0
    } else {
        prot.contains(Prot::WRITE)
    };
    if commits && flags & MAP_NORESERVE == 0 && task.mm.overcommits(length) {
        return Err(Errno::ENOMEM);
    }
    let backing = if flags & MAP_ANONYMOUS != 0 {
        Backing::Anon
    } else {
        let file = task.fds.get(fd(a[4]))?;
        let acc = file.status_flags() & 3;
        if acc == 1 {
            return Err(Errno::EACCES);
        }
        if shared && prot.contains(Prot::WRITE) && acc != 2 {
            return Err(Errno::EACCES);
        }
        let mappable = if shared {
            file.mappable_shared(prot.contains(Prot::WRITE))?
        } else {
            file.mappable().ok_or(Errno::ENODEV)?
        };
        Backing::File {
            file: mappable,
            offset: a[5],
        }
    };
    let placement = if flags & MAP_FIXED != 0 {
        Placement::Fixed
    } else if flags & MAP_FIXED_NOREPLACE != 0 {
        Placement::FixedNoReplace
    } else {
        Placement::Hint
    };
    let len = page_up(length).ok_or(Errno::ENOMEM)?;
    let replaced = (placement == Placement::Fixed).then(|| (addr, addr.saturating_add(len)));
    if !as_allows(task, replaced, len) {
        return Err(Errno::ENOMEM);
    }
    // MAP_LOCKED, or mlockall(MCL_FUTURE): the mapping comes locked, within RLIMIT_MEMLOCK
    // (Linux's `mlock_future_ok`: EAGAIN past it).
    let locked = flags & MAP_LOCKED != 0;
    if locked && !super::mlock::can_do_mlock(task) {
        return Err(Errno::EPERM);
    }
    if (locked || task.mm.future_lock() != Locked::No) && !super::mlock::may_lock_more(task, len) {
        return Err(Errno::EAGAIN);
    }
    let hint = if flags & MAP_32BIT != 0 && placement == Placement::Hint {
        0x4000_0000
    } else {
        addr
    };
    let at = task.mm.mmap(Mapping {
        addr: hint,
        len: length,
        prot,
        shared,
        placement,
        backing,
    })?;
    if locked && task.mm.future_lock() == Locked::No {
        task.mm.set_locked(at, at + len, Locked::Yes)?;
    }
    Ok(at)
}

/// Implements `munmap(2)`.
fn sys_munmap(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    task.mm.munmap(a[0], a[1]).map(|_| 0)
}

/// Implements `mprotect(2)`.
fn sys_mprotect(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let prot = prot_arg(a[2])?;
    task.mm.mprotect(a[0], a[1], prot).map(|_| 0)
}

/// Implements `madvise(2)`: MADV_DONTNEED/MADV_FREE drop private pages (they read back as
/// zeros or file contents); the rest are hints and accepted.
fn sys_madvise(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    const MADV_DONTNEED: u32 = 4;
    const MADV_FREE: u32 = 8;
    if !a[0].is_multiple_of(PAGE) {
        return Err(Errno::EINVAL);
    }
    match u32_(a[2]) {
        MADV_DONTNEED | MADV_FREE => task.mm.discard(a[0], a[1]).map(|_| 0),
        0..=25 | 100..=103 => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

/// Implements `msync(2)`: private copies have nothing to write back.
fn sys_msync(_task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    if !a[0].is_multiple_of(PAGE) || u32_(a[2]) & !7 != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

/// Implements `mincore(2)`: reports populated pages as resident.
fn sys_mincore(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    if !a[0].is_multiple_of(PAGE) {
        return Err(Errno::EINVAL);
    }
    let end = page_up(a[1])
        .and_then(|l| a[0].checked_add(l))
        .ok_or(Errno::ENOMEM)?;
    let v = task.mm.residency(a[0], end)?;
    task.mm.write(a[2], &v)?;
    Ok(0)
}
