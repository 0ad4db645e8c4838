//! Syscall-site patching: a site that keeps trapping gets rewritten to jump to the stub's
//! fast syscall path through the process's trap table (`snare_stub::patch` has the code,
//! `docs/platform.md` the design). Per address space: a forked child inherits the patched
//! pages and the table with the rest of its memory; exec starts over.
//!
//! Two kinds of site: `mov eax, nr; syscall` (7 bytes before the return address) and
//! glibc's `read`, `xor eax, eax; syscall; cmp rax, -4096` (4 bytes before it, 6 after).
//! A thread sent to a point inside a patched site (a restart, a signal frame, a call that
//! was blocked while the site was patched) meets an invalid opcode there; the SIGILL comes
//! to [`MemoryManager::patched_site_resume`], which moves the thread to the same point in
//! the site's entry.

use std::collections::HashMap;

use snare_abi::Errno;
use snare_platform::{Access, Prot};
use snare_stub::layout::{
    MOV_ENTRIES, MOV_ENTRIES_SIZE, TRAP_TABLE, TRAP_TABLE_SIZE, XOR_ENTRIES, XOR_ENTRIES_SIZE,
};
use snare_stub::patch::{
    self as code, BAD_OPCODE, ENTRY_RET, ENTRY_SIZE, SITE_LEN, XOR_ENTRY_START, XOR_ENTRY_STRIDE,
    XOR_SITE_LEN, XOR_SITE_RET,
};

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
/// The syscall a xor site makes (`xor eax, eax`).
const SYS_READ: u64 = 0;

/// Patching state of one address space.
#[derive(Debug, Default, Clone)]
pub(super) struct Sites {
    /// Slow traps per site, keyed by the address after its `syscall`.
    hits: HashMap<u64, u8>,
    /// Whether the trap table is mapped.
    mapped: bool,
    /// Entries handed out in each half of the table.
    movs: u64,
    xors: u64,
    /// No more patching here: the table's place is taken.
    off: bool,
}

/// A site found to patch.
#[derive(Debug, PartialEq)]
enum Site {
    /// `mov eax, nr; syscall` at this address.
    Mov(u64),
    /// `xor eax, eax; syscall; cmp rax, -4096` at this address.
    Xor(u64),
}

impl MemoryManager {
    fn sites(&self) -> std::sync::MutexGuard<'_, Sites> {
        self.sites.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Notes a syscall `nr` that trapped the slow way (a signal) with its `syscall` ending at
    /// `ret`; patches the site once it has trapped [`PATCH_AFTER`] times, when it is
    /// `mov eax, nr; syscall` or (for `read`) `xor eax, eax; syscall; cmp rax, -4096`.
    /// `fast` is the stub's fast path. Failures only leave the site unpatched.
    ///
    /// Returns where the calling thread's syscall should return to instead of `ret`, when
    /// the patch covered it (a xor site): the same point in the entry, as
    /// [`MemoryManager::patched_site_resume`] would send it there.
    pub fn note_slow_syscall(&self, ret: u64, nr: u64, fast: u64) -> Option<u64> {
        if NEVER.contains(&nr) {
            return None;
        }
        let mut s = self.sites();
        if s.off {
            return None;
        }
        let n = s.hits.entry(ret).or_insert(0);
        if *n == SETTLED {
            return None;
        }
        *n += 1;
        if *n < PATCH_AFTER {
            return None;
        }
        *n = SETTLED;
        let r = match self.site_at(ret, nr)? {
            Site::Mov(site) => self.patch_mov(&mut s, site, nr as u32, fast).map(|()| None),
            Site::Xor(site) => self
                .patch_xor(&mut s, site, fast)
                .map(|base| code::xor_resume(XOR_SITE_RET).map(|o| base + o)),
        };
        r.unwrap_or_else(|e| {
            tracing::debug!(ret = format_args!("{ret:#x}"), nr, %e, "not patched");
            None
        })
    }

    /// The patchable site whose `syscall` of `nr` returns to `ret`, if there is one
    /// ([`find_site`] over guest memory the guest may read).
    fn site_at(&self, ret: u64, nr: u64) -> Option<Site> {
        find_site(
            ret,
            nr,
            &|a: u64, b: &mut [u8]| self.read(a, b).is_ok(),
            &|s, e| self.private_code(s, e),
        )
    }

    /// Whether `[start, end)` is mapped executable and private throughout. Executable: the
    /// bytes after a xor site's `syscall` have not run yet (natively they might fault).
    /// Private: a patch of a shared mapping would reach every process that maps it, each
    /// with its own trap table (or none).
    fn private_code(&self, start: u64, end: u64) -> bool {
        let st = self.lock();
        let mut at = start;
        while at < end {
            match st.vmas.range(..=at).next_back() {
                Some((_, v)) if v.end > at && v.prot.contains(Prot::EXEC) && !v.shared => {
                    at = v.end;
                }
                _ => return false,
            }
        }
        true
    }

    /// Maps the trap table, on the first patch.
    fn map_table(&self, s: &mut Sites) -> Result<(), Errno> {
        if s.mapped {
            return Ok(());
        }
        if overlaps(&self.lock(), TRAP_TABLE, TRAP_TABLE + TRAP_TABLE_SIZE) {
            s.off = true;
            return Err(Errno::EEXIST);
        }
        self.mmap(Mapping::fixed(
            TRAP_TABLE,
            TRAP_TABLE_SIZE,
            Prot::RX,
            Backing::Anon,
        ))?;
        s.mapped = true;
        Ok(())
    }

    fn patch_mov(&self, s: &mut Sites, site: u64, nr: u32, fast: u64) -> Result<(), Errno> {
        self.map_table(s)?;
        if (s.movs + 1) * ENTRY_SIZE > MOV_ENTRIES_SIZE {
            return Err(Errno::ENOSPC);
        }
        let entry = MOV_ENTRIES + s.movs * ENTRY_SIZE;
        s.movs += 1;
        self.write_force(
            entry,
            &code::entry_bytes(entry, nr, site + SITE_LEN as u64, fast),
        )?;
        self.write_code(site, &code::site_steps(entry))?;
        tracing::debug!(
            site = format_args!("{site:#x}"),
            nr,
            entry = format_args!("{entry:#x}"),
            kind = "mov",
            "patched a syscall site"
        );
        Ok(())
    }

    /// Patches the xor site at `site`; returns its entry.
    fn patch_xor(&self, s: &mut Sites, site: u64, fast: u64) -> Result<u64, Errno> {
        self.map_table(s)?;
        if (s.xors + 1) * XOR_ENTRY_STRIDE > XOR_ENTRIES_SIZE {
            return Err(Errno::ENOSPC);
        }
        let base = XOR_ENTRIES + s.xors * XOR_ENTRY_STRIDE;
        s.xors += 1;
        self.write_force(
            base,
            &code::xor_entry_bytes(base, site + XOR_SITE_LEN as u64, fast),
        )?;
        self.write_code(site, &code::xor_patch_steps(base + XOR_ENTRY_START))?;
        tracing::debug!(
            site = format_args!("{site:#x}"),
            nr = SYS_READ,
            entry = format_args!("{base:#x}"),
            kind = "xor",
            "patched a syscall site"
        );
        Ok(base)
    }

    /// Writes `steps` ((offset from `site`, byte), in order, one byte at a time) into code
    /// other threads may be running. Every page is made the process's own first, so nothing
    /// is written unless all of it can be; and the whole sequence runs under one hold of the
    /// address-space lock, so no fork, unmap or remap sees or splits part of it. (Under the
    /// `sites` lock too: a fault inside the site waits for the whole patch.)
    fn write_code(&self, site: u64, steps: &[(usize, u8)]) -> Result<(), Errno> {
        let mut st = self.lock();
        let mut offs = Vec::with_capacity(steps.len());
        for &(at, _) in steps {
            let addr = site.checked_add(at as u64).ok_or(Errno::EFAULT)?;
            offs.push(self.translate(&mut st, addr, Access::Write, true)?);
        }
        // Volatile single-byte stores, in order (x86 keeps stores in order).
        for (&(_, b), off) in steps.iter().zip(offs) {
            self.file.write_pod(off, &b);
        }
        Ok(())
    }

    /// Where a thread goes on that faulted (SIGILL) on an invalid opcode at `rip` that a
    /// patched site put there, if one did:
    /// - a mov site's old `syscall` (site+5; a thread that ran the old `mov` as the patch
    ///   landed, or a restart): the site, whose jump makes the same syscall;
    /// - a xor site's first byte (site+0, only while it was being patched), its old
    ///   `syscall` (site+2) or that call's return address (site+4): the same point in the
    ///   site's entry ([`code::xor_resume`]), which does what the native code does from
    ///   there and goes on at site+10.
    ///
    /// A patched xor site is recognised by its bytes and by its entry, which must be one
    /// handed out here and name this site. Whatever a guest writes, the answer is a place
    /// in its own memory, so a forged one only sends the guest where it could jump itself.
    pub fn patched_site_resume(&self, rip: u64) -> Option<u64> {
        // Under the lock the patcher holds: a site being patched is read whole.
        let sites = self.sites();
        if !sites.mapped {
            return None;
        }
        resume_point(rip, &sites, &|a: u64, b: &mut [u8]| self.read(a, b).is_ok())
    }
}

/// Reads guest bytes at an address into the buffer; false if any of them can't be read.
type ReadCode<'a> = &'a dyn Fn(u64, &mut [u8]) -> bool;

/// The patchable site whose `syscall` of `nr` returns to `ret`: `mov eax, nr; syscall` in
/// the 7 bytes before `ret`; or, for `read`, `xor eax, eax; syscall; cmp rax, -4096` from
/// 4 bytes before to 6 after, not right after a legacy prefix (then the `xor` may not start
/// an instruction: `66 31 c0`). All of a site must be `patchable` (private code) and
/// readable: a site reaching into an unmapped page after the call is not one.
fn find_site(
    ret: u64,
    nr: u64,
    read: ReadCode<'_>,
    patchable: &dyn Fn(u64, u64) -> bool,
) -> Option<Site> {
    let site = ret.checked_sub(SITE_LEN as u64)?;
    let mut bytes = [0u8; SITE_LEN];
    if read(site, &mut bytes) && code::site_number(&bytes).map(u64::from) == Some(nr) {
        return patchable(site, ret).then_some(Site::Mov(site));
    }
    if nr != SYS_READ {
        return None;
    }
    let site = ret.checked_sub(XOR_SITE_RET)?;
    let end = site.checked_add(XOR_SITE_LEN as u64)?;
    let mut bytes = [0u8; XOR_SITE_LEN];
    if !read(site, &mut bytes) || !code::is_xor_site(&bytes) || !patchable(site, end) {
        return None;
    }
    let mut before = [0u8; 1];
    let prefixed = site
        .checked_sub(1)
        .is_some_and(|b| read(b, &mut before) && code::is_legacy_prefix(before[0]));
    (!prefixed).then_some(Site::Xor(site))
}

/// Where a thread that faulted at `rip` goes on, if a patched site put the invalid opcode
/// there ([`MemoryManager::patched_site_resume`]); `sites` says which entries were handed
/// out.
fn resume_point(rip: u64, sites: &Sites, read: ReadCode<'_>) -> Option<u64> {
    if let Some(site) = rip.checked_sub(5) {
        let mut bytes = [0u8; SITE_LEN];
        if read(site, &mut bytes) && bytes[5] == BAD_OPCODE {
            let handed_out = MOV_ENTRIES..MOV_ENTRIES + sites.movs * ENTRY_SIZE;
            if code::patched_entry(&bytes).is_some_and(|e| handed_out.contains(&e)) {
                return Some(site);
            }
        }
    }
    let handed_out = XOR_ENTRIES..XOR_ENTRIES + sites.xors * XOR_ENTRY_STRIDE;
    for off in [0, 2, XOR_SITE_RET] {
        let Some(site) = rip.checked_sub(off) else {
            continue;
        };
        let mut bytes = [0u8; XOR_SITE_LEN];
        if !read(site, &mut bytes) {
            continue;
        }
        let Some(base) = code::xor_patched_target(&bytes).map(|t| t - XOR_ENTRY_START) else {
            continue;
        };
        if !handed_out.contains(&base) {
            continue;
        }
        let mut ret = [0u8; 8];
        if read(base + ENTRY_RET, &mut ret) && u64::from_le_bytes(ret) == site + XOR_SITE_LEN as u64
        {
            return code::xor_resume(off).map(|o| base + o);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use snare_stub::patch::{
        entry_bytes, site_bytes, xor_entry_bytes, xor_patch_steps, xor_site_bytes, ENTRY_FALLBACK,
        ENTRY_RESUME, XOR_SITE,
    };

    /// Guest memory for the tests: mapped runs of bytes; a read of anything else fails.
    struct Mem(Vec<(u64, Vec<u8>)>);

    impl Mem {
        fn read(&self, addr: u64, buf: &mut [u8]) -> bool {
            for (i, b) in buf.iter_mut().enumerate() {
                let a = addr + i as u64;
                match self
                    .0
                    .iter()
                    .find(|(s, v)| (*s..s + v.len() as u64).contains(&a))
                {
                    Some((s, v)) => *b = v[(a - s) as usize],
                    None => return false,
                }
            }
            true
        }

        fn find(&self, ret: u64, nr: u64) -> Option<Site> {
            find_site(ret, nr, &|a, b| self.read(a, b), &|_, _| true)
        }
    }

    const CODE: u64 = 0x7f00_0000_1000;

    /// `code` at CODE + 0x10, after `before`, in a page of int3s.
    fn page_with(before: u8, code: &[u8]) -> Mem {
        let mut page = vec![0xcc; 0x1000];
        page[0xf] = before;
        page[0x10..0x10 + code.len()].copy_from_slice(code);
        Mem(vec![(CODE, page)])
    }

    #[test]
    fn finds_mov_sites() {
        let m = page_with(0x90, &[0xb8, 0x27, 0, 0, 0, 0x0f, 0x05]);
        assert_eq!(m.find(CODE + 0x17, 0x27), Some(Site::Mov(CODE + 0x10)));
        assert_eq!(m.find(CODE + 0x17, 0x28), None);
        // read through `mov eax, 0` is a mov site.
        let m = page_with(0x90, &[0xb8, 0, 0, 0, 0, 0x0f, 0x05]);
        assert_eq!(m.find(CODE + 0x17, 0), Some(Site::Mov(CODE + 0x10)));
    }

    #[test]
    fn finds_xor_sites_exactly() {
        let ret = CODE + 0x14;
        // glibc's `read`: after a `je` (its offset 0x17), a disp8, padding.
        for before in [0x17, 0x08, 0x00, 0xc3, 0x48] {
            assert_eq!(
                page_with(before, &XOR_SITE).find(ret, 0),
                Some(Site::Xor(CODE + 0x10))
            );
        }
        // Only for read, and only after the right bytes.
        assert_eq!(page_with(0x17, &XOR_SITE).find(ret, 1), None);
        let mut cmp_4095 = XOR_SITE;
        cmp_4095[6] = 0x01;
        let mut test_rax = XOR_SITE;
        test_rax[4..7].copy_from_slice(&[0x48, 0x85, 0xc0]);
        let mut xor_ecx = XOR_SITE;
        xor_ecx[1] = 0xc9;
        for near in [cmp_4095, test_rax, xor_ecx] {
            assert_eq!(page_with(0x17, &near).find(ret, 0), None, "{near:02x?}");
        }
        // After a legacy prefix the `xor` may be `xor ax, ax`.
        for prefix in [0x66, 0xf3, 0x2e, 0x64] {
            assert_eq!(page_with(prefix, &XOR_SITE).find(ret, 0), None);
        }
    }

    #[test]
    fn xor_sites_must_be_readable_and_executable() {
        // The site at the very end of its page: the `cmp` continues on the next page.
        let site = CODE + 0x1000 - 7;
        let mut page = vec![0xcc; 0x1000];
        page[0x1000 - 7..].copy_from_slice(&XOR_SITE[..7]);
        let unmapped_after = Mem(vec![(CODE, page.clone())]);
        assert_eq!(unmapped_after.find(site + 4, 0), None);
        let mapped_after = Mem(vec![(CODE, page), (CODE + 0x1000, XOR_SITE[7..].to_vec())]);
        assert_eq!(mapped_after.find(site + 4, 0), Some(Site::Xor(site)));
        let not_exec = find_site(site + 4, 0, &|a, b| mapped_after.read(a, b), &|_, e| {
            e <= CODE + 0x1000
        });
        assert!(not_exec.is_none());
        // At the start of a page with nothing before it: no prefix to fear.
        let at_start = Mem(vec![(CODE, XOR_SITE.to_vec())]);
        assert_eq!(at_start.find(CODE + 4, 0), Some(Site::Xor(CODE)));
    }

    fn sites(movs: u64, xors: u64) -> Sites {
        Sites {
            mapped: true,
            movs,
            xors,
            ..Sites::default()
        }
    }

    #[test]
    fn patched_xor_sites_resume_in_their_entry() {
        let site = CODE + 0x10;
        let base = XOR_ENTRIES + XOR_ENTRY_STRIDE;
        let entry = xor_entry_bytes(base, site + XOR_SITE_LEN as u64, 0x7000_0000_4100);
        let m = Mem(vec![
            (site, xor_site_bytes(base + XOR_ENTRY_START).to_vec()),
            (base, entry.to_vec()),
        ]);
        let resume = |rip, s: &Sites| resume_point(rip, s, &|a, b| m.read(a, b));
        let s = sites(0, 2);
        assert_eq!(resume(site, &s), Some(base + XOR_ENTRY_START));
        assert_eq!(resume(site + 2, &s), Some(base + ENTRY_FALLBACK));
        assert_eq!(resume(site + 4, &s), Some(base + ENTRY_RESUME));
        // Anywhere else in the site is garbage the guest gets as it is.
        for off in [1, 3, 5, 6, 7, 8, 9, 10] {
            assert_eq!(resume(site + off, &s), None, "+{off}");
        }
        // An entry not handed out (a guest's own bytes) is not followed.
        assert_eq!(resume(site + 4, &sites(0, 1)), None);
        assert_eq!(resume(site + 4, &sites(5, 0)), None);
        // Nor an entry of another site.
        let other = Mem(vec![
            (site, xor_site_bytes(base + XOR_ENTRY_START).to_vec()),
            (base, xor_entry_bytes(base, site + 0x100, 0).to_vec()),
        ]);
        assert_eq!(resume_point(site + 4, &s, &|a, b| other.read(a, b)), None);
        // Half a patch is not a patched site (the Sentry reads sites under the patcher's lock).
        let mut half = XOR_SITE;
        for (at, b) in &xor_patch_steps(base + XOR_ENTRY_START)[..3] {
            half[*at] = *b;
        }
        let half = Mem(vec![(site, half.to_vec()), (base, entry.to_vec())]);
        for off in [0, 2, 4] {
            assert_eq!(resume_point(site + off, &s, &|a, b| half.read(a, b)), None);
        }
    }

    #[test]
    fn patched_mov_sites_restart_at_the_site() {
        let site = CODE + 0x10;
        let e = MOV_ENTRIES + 3 * ENTRY_SIZE;
        let m = Mem(vec![
            (site, site_bytes(e).to_vec()),
            (e, entry_bytes(e, 39, site + 7, 0).to_vec()),
        ]);
        let resume = |rip, s: &Sites| resume_point(rip, s, &|a, b| m.read(a, b));
        assert_eq!(resume(site + 5, &sites(4, 0)), Some(site));
        assert_eq!(resume(site + 5, &sites(3, 0)), None);
        assert_eq!(resume(site + 4, &sites(4, 0)), None);
        assert_eq!(resume(site, &sites(4, 0)), None);
    }
}
