//! memfd_create, and the sealing commands of fcntl (`F_ADD_SEALS`, `F_GET_SEALS`). The files
//! are unlinked files of the kernel's memfd tmpfs (`Kernel::memfd`); their seals are enforced
//! there (`vfs/seals.rs`).

use snare_abi::file::{mfd, o, seal};
use snare_abi::Errno;
use snare_syscalls_table::nr;

use super::arg::{check_flags, u32_};
use super::Handler;
use crate::kernel::Task;
use crate::mm::GuestMemory;

pub(super) const HANDLERS: &[(u32, Handler)] = &[(nr::MEMFD_CREATE, sys_memfd_create)];

/// Implements `memfd_create(2)`: an anonymous tmpfs file, `/memfd:NAME (deleted)` in
/// /proc/self/fd and /proc/self/maps, counted against the sandbox's memory like tmpfs data.
/// Without `MFD_ALLOW_SEALING` it starts sealed with `F_SEAL_SEAL`; `MFD_NOEXEC_SEAL` makes
/// it mode 0666 with `F_SEAL_EXEC` (and sealable), otherwise it is mode 0777 (`MFD_EXEC`, the
/// default of `vm.memfd_noexec = 0`).
///
/// Deviations from Linux: `MFD_HUGETLB` is refused with EINVAL (there is no hugetlbfs; Linux
/// says ENODEV for a huge page size it lacks); at the memory limit writes fail with ENOSPC
/// (Linux's memory cgroup would reclaim or OOM-kill); without `--memory` memfd data is
/// capped like a tmpfs (2 GiB in all, 1 GiB per file).
fn sys_memfd_create(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let flags = u32_(a[1]);
    let known = if flags & mfd::HUGETLB != 0 {
        mfd::ALL | (mfd::HUGE_MASK << mfd::HUGE_SHIFT)
    } else {
        mfd::ALL
    };
    check_flags(flags, known)?;
    if flags & mfd::EXEC != 0 && flags & mfd::NOEXEC_SEAL != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & mfd::HUGETLB != 0 {
        return Err(Errno::EINVAL);
    }
    // A name with no NUL within NAME_MAX_LEN + 1 bytes is too long.
    let name = match task.mm.read_cstr(a[0], mfd::NAME_MAX_LEN + 1) {
        Err(Errno::ENAMETOOLONG) => return Err(Errno::EINVAL),
        r => r?,
    };
    let (mode, seals) = if flags & mfd::NOEXEC_SEAL != 0 {
        (0o666, seal::F_SEAL_EXEC)
    } else if flags & mfd::ALLOW_SEALING != 0 {
        (0o777, 0)
    } else {
        (0o777, seal::F_SEAL_SEAL)
    };
    let shown = [&b"/memfd:"[..], &name, b" (deleted)"].concat();
    // An inode the memory can't hold: Linux's allocation fails with ENOMEM.
    let file = task
        .k
        .memfd
        .create_unlinked(shown, mode, seals)
        .map_err(|e| if e == Errno::ENOSPC { Errno::ENOMEM } else { e })?;
    task.fds
        .install(file, flags & mfd::CLOEXEC != 0, 0, task.nofile())
        .map(|n| n as u64)
}

/// `fcntl(2)`'s `F_ADD_SEALS` and `F_GET_SEALS` on fd `n` (`arg`: the seals to add). In
/// Linux's order: EBADF for an `O_PATH` fd, EPERM for one not open for writing, EINVAL for
/// unknown bits, then the file's answer (EINVAL if it can't be sealed).
pub(super) fn fcntl_seals(task: &Task, n: i32, cmd: i32, arg: u64) -> Result<u64, Errno> {
    let file = task.fds.get(n)?;
    let flags = file.status_flags();
    if flags & o::PATH != 0 {
        return Err(Errno::EBADF);
    }
    if cmd == seal::F_GET_SEALS {
        return file.seals().map(u64::from);
    }
    if flags & o::ACCMODE == o::RDONLY {
        return Err(Errno::EPERM);
    }
    let seals = check_flags(u32_(arg), seal::ALL)?;
    file.add_seals(seals).map(|()| 0)
}
