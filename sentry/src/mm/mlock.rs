//! Memory locking (`mlock(2)`, `mlockall(2)`): which VMAs are locked, the mappings to come
//! (`MCL_FUTURE`), and how much is locked (RLIMIT_MEMLOCK's count, `/proc/PID/status`'s
//! `VmLck`).
//!
//! Locking is bookkeeping only: guest memory is the Sentry's memory file, which is never
//! swapped, so a locked page needs no pinning, and pages are not populated at lock time
//! (a locked range faults in as any other). Locks go with fork and exec, as on Linux.

use snare_abi::Errno;

use super::{split_at, Locked, MemoryManager, PAGE};

impl MemoryManager {
    /// Bytes of the locked VMAs (Linux's `locked_vm`).
    pub fn locked_bytes(&self) -> u64 {
        self.lock()
            .vmas
            .values()
            .filter(|v| v.locked != Locked::No)
            .map(|v| v.end - v.start)
            .sum()
    }

    /// Bytes of `[start, end)` that are locked already.
    pub fn locked_bytes_in(&self, start: u64, end: u64) -> u64 {
        self.lock()
            .vmas
            .values()
            .filter(|v| v.locked != Locked::No)
            .map(|v| v.end.min(end).saturating_sub(v.start.max(start)))
            .sum()
    }

    /// Bytes mapped (Linux's `total_vm`).
    pub fn mapped_bytes(&self) -> u64 {
        self.lock().vmas.values().map(|v| v.end - v.start).sum()
    }

    /// Whether a mapping in `[start, end)` can't be accessed at all (PROT_NONE): Linux
    /// locks it but can't populate it, and mlock answers ENOMEM.
    pub fn any_inaccessible(&self, start: u64, end: u64) -> bool {
        self.lock()
            .vmas
            .values()
            .any(|v| v.start < end && v.end > start && v.prot == snare_platform::Prot::NONE)
    }

    /// How new mappings are locked (`MCL_FUTURE`).
    pub fn future_lock(&self) -> Locked {
        self.lock().def_lock
    }

    /// Sets `lock` on the mappings of `[start, end)` (page-aligned), in address order as
    /// Linux's `apply_vma_lock_flags`: ENOMEM at the first unmapped page, the mappings
    /// before it changed already. A VMA whose state doesn't change is not split.
    pub fn set_locked(&self, start: u64, end: u64, lock: Locked) -> Result<(), Errno> {
        debug_assert!(start.is_multiple_of(PAGE) && end.is_multiple_of(PAGE));
        if end <= start {
            return Ok(());
        }
        let mut st = self.lock();
        let mut at = start;
        while at < end {
            let Some((_, v)) = st.vmas.range(..=at).next_back() else {
                return Err(Errno::ENOMEM);
            };
            if v.end <= at {
                return Err(Errno::ENOMEM);
            }
            let stop = v.end.min(end);
            if v.locked != lock {
                split_at(&mut st, at);
                split_at(&mut st, stop);
                if let Some(v) = st.vmas.get_mut(&at) {
                    v.locked = lock;
                }
            }
            at = stop;
        }
        Ok(())
    }

    /// `mlockall` and `munlockall`: every mapping gets `current` (if given), and mappings to
    /// come `future`.
    pub fn set_all_locked(&self, current: Option<Locked>, future: Locked) {
        let mut st = self.lock();
        st.def_lock = future;
        if let Some(lock) = current {
            for v in st.vmas.values_mut() {
                v.locked = lock;
            }
        }
    }
}
