//! Syscall-site patching: a site that keeps trapping gets rewritten to jump to the stub's
//! fast syscall path through the process's trap table (`snare_stub::patch` has the code,
//! `docs/platform.md` the design). Per address space: a forked child inherits the patched
//! pages and the table with the rest of its memory; exec starts over.

use std::collections::HashMap;

use snare_abi::Errno;
use snare_platform::Prot;
use snare_stub::layout::{TRAP_TABLE, TRAP_TABLE_SIZE};
use snare_stub::patch::{self as code, BAD_OPCODE, ENTRY_SIZE, SITE_LEN};

use super::{overlaps, Backing, GuestMemory, Mapping, MemoryManager};

/// Slow traps of a site before it is patched: most sites of a short-lived process run a few
/// times, and a patch costs a private copy of the code page (and the table, for the first):
/// with 3, a fork+exec loop of `/bin/true` measured 12% slower than without patching.
const PATCH_AFTER: u8 = 16;
/// Marks a site that is patched, or can't be.
const SETTLED: u8 = u8::MAX;
/// Never patched: calls that replace the whole register state or the address space, where
/// the signal path is the simpler one to reason about and speed doesn't matter.
const NEVER: [u64; 7] = [
    15,  // rt_sigreturn
    56,  // clone
    57,  // fork
    58,  // vfork
    59,  // execve
    322, // execveat
    435, // clone3
];

/// Patching state of one address space.
#[derive(Debug, Default, Clone)]
pub(super) struct Sites {
    /// Slow traps per site, keyed by the address after its `syscall`.
    hits: HashMap<u64, u8>,
    /// Trap-table entries handed out; 0: the table is not mapped yet.
    used: u64,
    /// No more patching here: the table's place is taken, or the table is full.
    off: bool,
}

impl MemoryManager {
    fn sites(&self) -> std::sync::MutexGuard<'_, Sites> {
        self.sites.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Notes a syscall `nr` that trapped the slow way (a signal) with its `syscall` ending at
    /// `ret`; patches the site once it has trapped [`PATCH_AFTER`] times, when it is
    /// `mov eax, nr; syscall`. `fast` is the stub's fast path. Failures only leave the
    /// site unpatched.
    pub fn note_slow_syscall(&self, ret: u64, nr: u64, fast: u64) {
        if NEVER.contains(&nr) {
            return;
        }
        let mut s = self.sites();
        if s.off {
            return;
        }
        let n = s.hits.entry(ret).or_insert(0);
        if *n == SETTLED {
            return;
        }
        *n += 1;
        if *n < PATCH_AFTER {
            return;
        }
        *n = SETTLED;
        let Some(site) = ret.checked_sub(SITE_LEN as u64) else {
            return;
        };
        let mut bytes = [0u8; SITE_LEN];
        if self.read(site, &mut bytes).is_err()
            || code::site_number(&bytes).map(u64::from) != Some(nr)
        {
            return;
        }
        if let Err(e) = self.patch(&mut s, site, nr as u32, fast) {
            tracing::debug!(site = format_args!("{site:#x}"), nr, %e, "not patched");
        }
    }

    fn patch(&self, s: &mut Sites, site: u64, nr: u32, fast: u64) -> Result<(), Errno> {
        if s.used == 0 {
            let free = !overlaps(&self.lock(), TRAP_TABLE, TRAP_TABLE + TRAP_TABLE_SIZE);
            if !free {
                s.off = true;
                return Err(Errno::EEXIST);
            }
            self.mmap(Mapping::fixed(
                TRAP_TABLE,
                TRAP_TABLE_SIZE,
                Prot::RX,
                Backing::Anon,
            ))?;
        }
        if (s.used + 1) * ENTRY_SIZE > TRAP_TABLE_SIZE {
            s.off = true;
            return Err(Errno::ENOSPC);
        }
        let entry = TRAP_TABLE + s.used * ENTRY_SIZE;
        s.used += 1;
        self.write_force(
            entry,
            &code::entry_bytes(entry, nr, site + SITE_LEN as u64, fast),
        )?;
        // Other threads may be running the site: first the invalid opcode where `syscall`
        // starts (a thread past the `mov` faults and is restarted at the site), then the
        // jump's address, then its first byte.
        let p = code::site_bytes(entry);
        self.write_force(site + 5, &[BAD_OPCODE])?;
        self.write_force(site + 1, &p[1..5])?;
        self.write_force(site + 6, &p[6..])?;
        self.write_force(site, &p[..1])?;
        tracing::debug!(
            site = format_args!("{site:#x}"),
            nr,
            entry = format_args!("{entry:#x}"),
            "patched a syscall site"
        );
        Ok(())
    }

    /// The patched site a thread faulted in, if the invalid opcode at `rip` is one's (the
    /// byte where its `syscall` was): the thread should go on at that site.
    pub fn patched_site_at(&self, rip: u64) -> Option<u64> {
        let site = rip.checked_sub(5)?;
        // Under the lock the patcher holds: a site being patched is read whole.
        let sites = self.sites();
        let mut bytes = [0u8; SITE_LEN];
        self.read(site, &mut bytes).ok()?;
        let entry = code::patched_entry(&bytes)?;
        let in_table = (TRAP_TABLE..TRAP_TABLE + TRAP_TABLE_SIZE).contains(&entry);
        (in_table && bytes[5] == BAD_OPCODE && sites.used > 0).then_some(site)
    }
}
