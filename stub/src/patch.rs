//! Syscall-site patching: the machine code the Sentry writes into guest memory.
//!
//! A site is the 7-byte sequence `mov eax, imm32; syscall` (`b8 imm32 0f 05`), which is how
//! glibc makes most of its syscalls. The Sentry replaces it with `jmp qword ptr [E]`
//! (`ff 24 25` + E as 32 bits), where E is the site's entry in the process's trap table
//! ([`TRAP_TABLE`](crate::layout::TRAP_TABLE)). The entry is 64 bytes:
//!
//! ```text
//! E+0   .quad E+8                  the jump's target
//! E+8   mov eax, imm32             the site's syscall number
//! E+13  lea rcx, [rip - 20]        rcx = E (the fast path reads E+40 and jumps to E+26)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{TRAP_TABLE, TRAP_TABLE_SIZE};

    #[test]
    fn sites_round_trip() {
        let site = [0xb8, 0x27, 0, 0, 0, 0x0f, 0x05];
        assert_eq!(site_number(&site), Some(0x27));
        assert_eq!(site_number(&[0x48, 0xc7, 0xc0, 0x0f, 0, 0x0f, 0x05]), None);
        for e in [TRAP_TABLE, TRAP_TABLE + TRAP_TABLE_SIZE - ENTRY_SIZE] {
            let p = site_bytes(e);
            assert_eq!(patched_entry(&p), Some(e));
            // A thread that jumps to the old `syscall` meets an invalid opcode.
            assert_eq!(p[5], BAD_OPCODE);
            assert_eq!(site_number(&p), None);
        }
    }

    #[test]
    fn entry_jumps_land_where_documented() {
        let e = TRAP_TABLE + 0x40;
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
}
