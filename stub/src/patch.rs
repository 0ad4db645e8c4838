//! Syscall-site patching: the machine code the Sentry writes into guest memory.
//!
//! Two kinds of site, both rewritten to jump to an entry of the process's trap table
//! ([`TRAP_TABLE`](crate::layout::TRAP_TABLE)), which takes the stub's fast syscall path.
//!
//! **mov sites**: the 7 bytes `mov eax, imm32; syscall` (`b8 imm32 0f 05`), how glibc makes
//! most of its syscalls. They become `jmp qword ptr [E]` (`ff 24 25` + E as 32 bits), E
//! being a 64-byte entry in [`MOV_ENTRIES`](crate::layout::MOV_ENTRIES):
//!
//! ```text
//! E+0   .quad E+8                  the jump's target
//! E+8   mov eax, imm32             the site's syscall number
//! E+13  lea rcx, [rip - 20]        rcx = E (the fast path jumps to E+26 or returns to E+28)
//! E+20  jmp qword ptr [rip + 22]   to the fast path (E+48)
//! E+26  syscall                    fallback when the thread's GS base is not its slot,
//!                                  and where a restarted syscall goes
//! E+28  jmp qword ptr [rip + 6]    back to the site (E+40); the fast path returns here
//! E+34  int3 × 6
//! E+40  .quad site + 7             where the guest goes on
//! E+48  .quad fast path address
//! E+56  .quad 0
//! ```
//!
//! **xor sites**: the 10 bytes `xor eax, eax; syscall; cmp rax, -4096`
//! (`31 c0 0f 05 48 3d 00 f0 ff ff`), glibc's `read`. Only 4 bytes come before the
//! `syscall`'s return address, too few for a jump, so the `cmp` after it goes too: the site
//! becomes `mov r11d, T; jmp r11; int3` (`41 bb` T `41 ff e3 cc`; r11 and rcx are the
//! `syscall`'s to clobber), T = B+6 for an entry B in [`XOR_ENTRIES`](crate::layout::XOR_ENTRIES)
//! (256-byte aligned, so T's bytes are `06 nn 07 00`):
//!
//! ```text
//! B+0   int3 × 6
//! B+6   xor eax, eax               T: the site jumps here
//! B+8   lea rcx, [rip - 15]        rcx = B, as for a mov entry
//! B+15  jmp qword ptr [rip + 27]   to the fast path (B+48)
//! B+21  int3 × 5
//! B+26  syscall                    fallback and restart, as for a mov entry
//! B+28  cmp rax, -4096             the site's own `cmp`, so the flags are right for
//! B+34  jmp qword ptr [rip + 0]    the `ja` at site + 10 (B+40)
//! B+40  .quad site + 10
//! B+48  .quad fast path address
//! B+56  .quad 0
//! ```
//!
//! A xor site's return address (site+4) is inside the patched bytes, so a thread may be
//! sent there (or to its old `syscall`, site+2, by a restart) after the patch: any thread
//! that was in the call, or interrupted right before or after it, when the patch was
//! written; a signal frame saved there; code that jumps there. Those two bytes are T's
//! first and third, 0x06 and 0x07, invalid opcodes: the thread faults and the Sentry sends
//! it to the same point in the entry ([`xor_resume`]): B+26 runs the `syscall` with the
//! thread's rax, B+28 the `cmp`; both go on at site + 10, as the native code would.
//!
//! Like the `syscall` instruction, the path leaves the return address in `rcx` and the flags
//! in `r11`; it writes nothing below the guest's stack pointer (no red-zone damage), and
//! returns with `iretq`, so the Sentry may change any register on the way back.

/// Size of one trap-table entry.
pub const ENTRY_SIZE: u64 = 64;
/// Offset of the fallback `syscall` in an entry.
pub const ENTRY_FALLBACK: u64 = 26;
/// Offset of the instruction after the fallback `syscall`: where the fast path returns,
/// so the guest sees its syscall made there (a restart moves back onto the `syscall`).
pub const ENTRY_RESUME: u64 = ENTRY_FALLBACK + 2;
/// Offset of the site's return address in an entry.
pub const ENTRY_RET: u64 = 40;
/// Length of a patchable site.
pub const SITE_LEN: usize = 7;
/// First byte of a patchable site (`mov eax, imm32`).
pub const SITE_MOV: u8 = 0xb8;
/// The first three bytes of a patched site (`jmp qword ptr [disp32]`).
pub const JMP_ABS: [u8; 3] = [0xff, 0x24, 0x25];
/// The invalid opcode a patched site has where its `syscall` was.
pub const BAD_OPCODE: u8 = 0x06;

/// The syscall number of an unpatched site, if `code` (the 7 bytes before a `syscall`'s
/// return address) is one.
pub fn site_number(code: &[u8; SITE_LEN]) -> Option<u32> {
    if code[0] != SITE_MOV || code[5..] != [0x0f, 0x05] {
        return None;
    }
    Some(u32::from_le_bytes([code[1], code[2], code[3], code[4]]))
}

/// The bytes that replace a site, for the entry at `entry` (below 4 GiB).
pub fn site_bytes(entry: u64) -> [u8; SITE_LEN] {
    let e = (entry as u32).to_le_bytes();
    [JMP_ABS[0], JMP_ABS[1], JMP_ABS[2], e[0], e[1], e[2], e[3]]
}

/// The single-byte writes that patch a mov site into [`site_bytes`]`(entry)`, as (offset,
/// byte) in the order they must land, while other threads may be running it: first the
/// invalid opcode where `syscall` starts (a thread past the `mov` faults and is restarted
/// at the site), then the `mov`'s immediate (any mix of old and new bytes is still a `mov`),
/// then the rest, then the jump's first byte.
pub fn site_steps(entry: u64) -> [(usize, u8); SITE_LEN] {
    let p = site_bytes(entry);
    [
        (5, p[5]),
        (1, p[1]),
        (2, p[2]),
        (3, p[3]),
        (4, p[4]),
        (6, p[6]),
        (0, p[0]),
    ]
}

/// The entry a patched site jumps through, if `code` is a patched site.
pub fn patched_entry(code: &[u8; SITE_LEN]) -> Option<u64> {
    if code[..3] != JMP_ABS {
        return None;
    }
    Some(u64::from(u32::from_le_bytes([
        code[3], code[4], code[5], code[6],
    ])))
}

/// The 64 bytes of the entry at `entry` for the syscall `nr` of the site whose next
/// instruction is at `ret`; `fast` is the fast path's address.
pub fn entry_bytes(entry: u64, nr: u32, ret: u64, fast: u64) -> [u8; ENTRY_SIZE as usize] {
    let mut b = [0xccu8; ENTRY_SIZE as usize];
    b[0..8].copy_from_slice(&(entry + 8).to_le_bytes());
    b[8] = SITE_MOV;
    b[9..13].copy_from_slice(&nr.to_le_bytes());
    b[13..20].copy_from_slice(&[0x48, 0x8d, 0x0d, 0xec, 0xff, 0xff, 0xff]);
    b[20..26].copy_from_slice(&[0xff, 0x25, 0x16, 0x00, 0x00, 0x00]);
    b[26..28].copy_from_slice(&[0x0f, 0x05]);
    b[28..34].copy_from_slice(&[0xff, 0x25, 0x06, 0x00, 0x00, 0x00]);
    b[40..48].copy_from_slice(&ret.to_le_bytes());
    b[48..56].copy_from_slice(&fast.to_le_bytes());
    b[56..64].copy_from_slice(&0u64.to_le_bytes());
    b
}

/// Length of a xor site.
pub const XOR_SITE_LEN: usize = 10;
/// Offset of a xor site's return address (the instruction after its `syscall`).
pub const XOR_SITE_RET: u64 = 4;
/// An unpatched xor site: `xor eax, eax; syscall; cmp rax, -4096`.
pub const XOR_SITE: [u8; XOR_SITE_LEN] =
    [0x31, 0xc0, 0x0f, 0x05, 0x48, 0x3d, 0x00, 0xf0, 0xff, 0xff];
/// Distance between xor entries: each starts on a 256-byte boundary, so the low byte of the
/// address a site jumps to is [`XOR_ENTRY_START`].
pub const XOR_ENTRY_STRIDE: u64 = 0x100;
/// Offset in a xor entry of the code a patched site jumps to; an invalid opcode, like
/// [`BAD_OPCODE`].
pub const XOR_ENTRY_START: u64 = 0x06;
/// The first bytes of a patched xor site (`mov r11d, imm32`).
pub const MOV_R11D: [u8; 2] = [0x41, 0xbb];
/// What follows the address in a patched xor site: `jmp r11; int3`.
pub const JMP_R11: [u8; 4] = [0x41, 0xff, 0xe3, 0xcc];

/// Whether `code` (10 bytes from the `xor`) is an unpatched xor site.
pub fn is_xor_site(code: &[u8; XOR_SITE_LEN]) -> bool {
    *code == XOR_SITE
}

/// Whether `b` is a legacy prefix (operand or address size, lock, rep, segment): a site whose
/// first byte follows one may not start an instruction there, so it is left alone.
pub fn is_legacy_prefix(b: u8) -> bool {
    matches!(
        b,
        0x66 | 0x67 | 0xf0 | 0xf2 | 0xf3 | 0x26 | 0x2e | 0x36 | 0x3e | 0x64 | 0x65
    )
}

/// The bytes that replace a xor site, jumping to `target` (an entry plus
/// [`XOR_ENTRY_START`], below 4 GiB).
pub fn xor_site_bytes(target: u64) -> [u8; XOR_SITE_LEN] {
    let t = (target as u32).to_le_bytes();
    let mut b = [0u8; XOR_SITE_LEN];
    b[..2].copy_from_slice(&MOV_R11D);
    b[2..6].copy_from_slice(&t);
    b[6..].copy_from_slice(&JMP_R11);
    b
}

/// Where a patched xor site jumps, if `code` is one whose resume points (its bytes 2 and 4)
/// are the invalid opcodes [`BAD_OPCODE`] and 0x07.
pub fn xor_patched_target(code: &[u8; XOR_SITE_LEN]) -> Option<u64> {
    if code[..2] != MOV_R11D || code[6..] != JMP_R11 || code[2] != BAD_OPCODE || code[4] != 0x07 {
        return None;
    }
    Some(u64::from(u32::from_le_bytes([
        code[2], code[3], code[4], code[5],
    ])))
}

/// The single-byte writes that patch a xor site into [`xor_site_bytes`]`(target)`, as
/// (offset, byte) in the order they must land, while other threads may be running it. A
/// thread that starts at the site, at its `syscall` (+2) or at its return address (+4)
/// either runs the old code whole or meets an invalid opcode at +0, +2 or +4 before any
/// new byte; the last write turns the first byte from that invalid opcode into the new
/// instruction: +2 first (a thread past the `xor` faults), then +4 (one sent back from
/// the call faults), then +0 (a gate: a thread at the site faults), then the rest, then +0.
pub fn xor_patch_steps(target: u64) -> [(usize, u8); XOR_SITE_LEN + 1] {
    let new = xor_site_bytes(target);
    let mut steps = [(0usize, 0u8); XOR_SITE_LEN + 1];
    steps[0] = (2, new[2]);
    steps[1] = (4, new[4]);
    steps[2] = (0, BAD_OPCODE);
    for (i, at) in [1usize, 3, 5, 6, 7, 8, 9].into_iter().enumerate() {
        steps[3 + i] = (at, new[at]);
    }
    steps[XOR_SITE_LEN] = (0, new[0]);
    steps
}

/// The 64 bytes of the xor entry at `base` for the site whose `ja` is at `ret` (site + 10);
/// `fast` is the fast path's address.
pub fn xor_entry_bytes(base: u64, ret: u64, fast: u64) -> [u8; ENTRY_SIZE as usize] {
    let mut b = [0xccu8; ENTRY_SIZE as usize];
    b[6..8].copy_from_slice(&[0x31, 0xc0]);
    b[8..15].copy_from_slice(&[0x48, 0x8d, 0x0d, 0xf1, 0xff, 0xff, 0xff]);
    b[15..21].copy_from_slice(&[0xff, 0x25, 0x1b, 0x00, 0x00, 0x00]);
    b[26..28].copy_from_slice(&[0x0f, 0x05]);
    b[28..34].copy_from_slice(&XOR_SITE[4..]);
    b[34..40].copy_from_slice(&[0xff, 0x25, 0x00, 0x00, 0x00, 0x00]);
    b[40..48].copy_from_slice(&ret.to_le_bytes());
    b[48..56].copy_from_slice(&fast.to_le_bytes());
    b[56..64].copy_from_slice(&0u64.to_le_bytes());
    debug_assert!(base.is_multiple_of(XOR_ENTRY_STRIDE));
    b
}

/// Where in its entry a thread goes on that stopped `off` bytes into a patched xor site,
/// doing what the native code does from there: the whole site (+0, only while it was being
/// patched), the `syscall` with the thread's rax (+2: a restart, or a thread that ran the
/// `xor` as the patch landed), the `cmp` (+4: the call returned).
pub fn xor_resume(off: u64) -> Option<u64> {
    match off {
        0 => Some(XOR_ENTRY_START),
        2 => Some(ENTRY_FALLBACK),
        XOR_SITE_RET => Some(ENTRY_RESUME),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{MOV_ENTRIES, MOV_ENTRIES_SIZE, XOR_ENTRIES, XOR_ENTRIES_SIZE};

    #[test]
    fn sites_round_trip() {
        let site = [0xb8, 0x27, 0, 0, 0, 0x0f, 0x05];
        assert_eq!(site_number(&site), Some(0x27));
        assert_eq!(site_number(&[0x48, 0xc7, 0xc0, 0x0f, 0, 0x0f, 0x05]), None);
        for e in [MOV_ENTRIES, MOV_ENTRIES + MOV_ENTRIES_SIZE - ENTRY_SIZE] {
            let p = site_bytes(e);
            assert_eq!(patched_entry(&p), Some(e));
            // A thread that jumps to the old `syscall` meets an invalid opcode.
            assert_eq!(p[5], BAD_OPCODE);
            assert_eq!(site_number(&p), None);
        }
    }

    #[test]
    fn entry_jumps_land_where_documented() {
        let e = MOV_ENTRIES + 0x40;
        let b = entry_bytes(e, 3, 0x5555_0000_1007, 0x7000_0000_4100);
        let rel = |at: usize| {
            i64::from(i32::from_le_bytes(
                b[at..at + 4].try_into().expect("4 bytes"),
            ))
        };
        // lea rcx, [rip - 20] ends at E+20.
        assert_eq!(20 + rel(16), 0);
        // jmp [rip + 22] ends at E+26 and reads E+48; jmp [rip + 6] ends at E+34, reads E+40.
        assert_eq!(26 + rel(22), 48);
        assert_eq!(34 + rel(30), ENTRY_RET as i64);
        assert_eq!(&b[ENTRY_FALLBACK as usize..][..2], &[0x0f, 0x05]);
        assert_eq!(
            u64::from_le_bytes(b[0..8].try_into().expect("8 bytes")),
            e + 8
        );
    }

    #[test]
    fn mov_steps_write_the_patch() {
        let e = MOV_ENTRIES + 0x1c0;
        let mut code = [0xb8, 0x27, 0, 0, 0, 0x0f, 0x05];
        let steps = site_steps(e);
        // The invalid opcode goes first and the jump's first byte last.
        assert_eq!(steps[0], (5, BAD_OPCODE));
        assert_eq!(steps[SITE_LEN - 1].0, 0);
        for (at, b) in steps {
            code[at] = b;
        }
        assert_eq!(code, site_bytes(e));
    }

    #[test]
    fn xor_sites_match_exactly() {
        assert!(is_xor_site(&XOR_SITE));
        let near_misses: [[u8; XOR_SITE_LEN]; 6] = [
            // cmp rax, -4095
            [0x31, 0xc0, 0x0f, 0x05, 0x48, 0x3d, 0x01, 0xf0, 0xff, 0xff],
            // xor eax, eax in its other encoding
            [0x33, 0xc0, 0x0f, 0x05, 0x48, 0x3d, 0x00, 0xf0, 0xff, 0xff],
            // xor ecx, ecx
            [0x31, 0xc9, 0x0f, 0x05, 0x48, 0x3d, 0x00, 0xf0, 0xff, 0xff],
            // test rax, rax after the call
            [0x31, 0xc0, 0x0f, 0x05, 0x48, 0x85, 0xc0, 0x78, 0x10, 0x90],
            // sysenter
            [0x31, 0xc0, 0x0f, 0x34, 0x48, 0x3d, 0x00, 0xf0, 0xff, 0xff],
            // cmp eax, imm32 (no REX.W)
            [0x31, 0xc0, 0x0f, 0x05, 0x90, 0x3d, 0x00, 0xf0, 0xff, 0xff],
        ];
        for code in near_misses {
            assert!(!is_xor_site(&code), "{code:02x?}");
        }
        assert!(is_legacy_prefix(0x66) && is_legacy_prefix(0xf3) && is_legacy_prefix(0x64));
        // glibc's `read` sites follow a `je` offset, a disp8 and padding.
        assert!(!is_legacy_prefix(0x17) && !is_legacy_prefix(0x08) && !is_legacy_prefix(0));
        // A REX prefix before the `xor` is overridden by the patch's own.
        assert!(!is_legacy_prefix(0x48));
    }

    #[test]
    fn xor_sites_round_trip() {
        for base in [
            XOR_ENTRIES,
            XOR_ENTRIES + XOR_ENTRIES_SIZE - XOR_ENTRY_STRIDE,
        ] {
            let t = base + XOR_ENTRY_START;
            let p = xor_site_bytes(t);
            assert_eq!(xor_patched_target(&p), Some(t));
            // Where the old `syscall` and its return address were: invalid opcodes.
            assert_eq!(p[2], BAD_OPCODE);
            assert_eq!(p[XOR_SITE_RET as usize], 0x07);
            assert!(!is_xor_site(&p));
            // A site changed anywhere is not a patched site.
            for i in 0..XOR_SITE_LEN {
                let mut q = p;
                q[i] ^= 0x80;
                if i != 3 && i != 5 {
                    assert_eq!(xor_patched_target(&q), None, "byte {i}");
                }
            }
        }
        assert_eq!(xor_patched_target(&XOR_SITE), None);
    }

    /// What a thread does starting `at` bytes into a xor site, for the instructions that can
    /// be there at any moment of the patch; None for anything else (a torn instruction).
    #[derive(Debug, PartialEq)]
    enum Run {
        /// Ran the old code to the end of the site.
        Old,
        /// Jumped through the patch to this address.
        New(u64),
        /// Met an invalid opcode at this offset.
        Fault(usize),
    }

    fn run(code: &[u8; XOR_SITE_LEN], mut at: usize) -> Option<Run> {
        loop {
            if at == XOR_SITE_LEN {
                return Some(Run::Old);
            }
            if matches!(code[at], 0x06 | 0x07) {
                return Some(Run::Fault(at));
            }
            let len = match at {
                0 | 2 => 2,
                4 => 6,
                _ => return None,
            };
            if code[at..at + len] == XOR_SITE[at..at + len] {
                at += len;
                continue;
            }
            if at == 0 && code[..2] == MOV_R11D && code[6..9] == JMP_R11[..3] {
                let t = u32::from_le_bytes([code[2], code[3], code[4], code[5]]);
                return Some(Run::New(u64::from(t)));
            }
            return None;
        }
    }

    #[test]
    fn every_step_of_a_xor_patch_is_safe() {
        let t = XOR_ENTRIES + 5 * XOR_ENTRY_STRIDE + XOR_ENTRY_START;
        let mut code = XOR_SITE;
        let steps = xor_patch_steps(t);
        for k in 0..=steps.len() {
            if k > 0 {
                let (at, b) = steps[k - 1];
                code[at] = b;
            }
            // Where a thread can legitimately be: the site, its `syscall`, its return address.
            for start in [0, 2, 4] {
                let r = run(&code, start);
                match r {
                    Some(Run::Old) => assert!(k < 3, "old code ran after step {k}"),
                    Some(Run::New(to)) => assert_eq!((k, to), (steps.len(), t)),
                    // Each fault is where the Sentry looks for one.
                    Some(Run::Fault(f)) => assert!(xor_resume(f as u64).is_some()),
                    None => panic!("torn instruction from +{start} after step {k}: {code:02x?}"),
                }
            }
        }
        assert_eq!(code, xor_site_bytes(t));
        assert_eq!(run(&code, 0), Some(Run::New(t)));
        assert_eq!(run(&code, 2), Some(Run::Fault(2)));
        assert_eq!(run(&code, 4), Some(Run::Fault(4)));
    }

    #[test]
    fn xor_entry_jumps_land_where_documented() {
        let base = XOR_ENTRIES + 3 * XOR_ENTRY_STRIDE;
        let site = 0x7f00_1234_5678;
        let b = xor_entry_bytes(base, site + XOR_SITE_LEN as u64, 0x7000_0000_4100);
        let rel = |at: usize| {
            i64::from(i32::from_le_bytes(
                b[at..at + 4].try_into().expect("4 bytes"),
            ))
        };
        assert_eq!(&b[XOR_ENTRY_START as usize..][..2], &XOR_SITE[..2]);
        // lea rcx, [rip - 15] ends at B+15: rcx = B, as the fast path expects.
        assert_eq!(15 + rel(11), 0);
        // jmp [rip + 27] ends at B+21 and reads B+48; jmp [rip + 0] ends at B+40.
        assert_eq!(21 + rel(17), 48);
        assert_eq!(40 + rel(36), ENTRY_RET as i64);
        assert_eq!(&b[ENTRY_FALLBACK as usize..][..2], &[0x0f, 0x05]);
        assert_eq!(&b[ENTRY_RESUME as usize..][..6], &XOR_SITE[4..]);
        let at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"));
        assert_eq!(at(ENTRY_RET as usize), site + 10);
        assert_eq!(at(48), 0x7000_0000_4100);
        assert_eq!(xor_resume(0), Some(XOR_ENTRY_START));
        assert_eq!(xor_resume(2), Some(ENTRY_FALLBACK));
        assert_eq!(xor_resume(4), Some(ENTRY_RESUME));
        assert_eq!(xor_resume(1), None);
        assert_eq!(xor_resume(6), None);
    }

    /// The fallback `syscall` of an entry traps the slow way like any other; its own bytes
    /// must never look like a site to patch.
    #[test]
    fn entries_are_not_sites() {
        let xor = xor_entry_bytes(XOR_ENTRIES, 0x1000, 0x2000);
        let mov = entry_bytes(MOV_ENTRIES, 0, 0x1000, 0x2000);
        for b in [xor, mov] {
            let ret = ENTRY_RESUME as usize;
            let before: [u8; SITE_LEN] = b[ret - SITE_LEN..ret].try_into().expect("7 bytes");
            assert_eq!(site_number(&before), None);
            let x: [u8; XOR_SITE_LEN] = b[ret - 4..ret + 6].try_into().expect("10 bytes");
            assert!(!is_xor_site(&x));
        }
    }
}
