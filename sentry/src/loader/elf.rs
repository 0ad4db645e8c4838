//! ELF64 x86-64 executables: [`parse`] reads and validates the ELF header and program headers
//! of a program (or of its interpreter, `ld.so`) through a [`ReadAt`] and describes what
//! `execve` must map as an [`ElfInfo`]; [`load_bias`] says where a position-independent image
//! goes. The exec code (`kernel/exec.rs`) maps the segments and builds the stack itself.
//!
//! The checks follow Linux's `load_elf_binary` (`fs/binfmt_elf.c`) and add a few that Linux
//! leaves to `mmap` (every one returns `ENOEXEC`; a read error of the reader is passed through).
//! Deviations from Linux, all on files Linux refuses too:
//! - program headers or `PT_INTERP` past the end of the file give `ENOEXEC` (Linux: `EIO`, from
//!   its short read);
//! - a `PT_LOAD` with `p_filesz > p_memsz` or reaching past the user address space gives
//!   `ENOEXEC` (Linux: `EINVAL`);
//! - `PT_LOAD`s must be in ascending `p_vaddr` order (the ELF spec's rule; Linux assumes it),
//!   and a segment with file bytes must have `p_vaddr ≡ p_offset (mod page)` and lie inside the
//!   file (Linux would map the wrong bytes or fail in `mmap`);
//! - `e_ident[EI_VERSION]` must be `EV_CURRENT` and the file ELFCLASS64 little-endian (Linux
//!   checks only the magic, `e_type` and `e_machine`).

use snare_abi::Errno;

/// Page size of the ELF image (`ELF_MIN_ALIGN` on x86-64).
const PAGE: u64 = snare_abi::PAGE_SIZE as u64;
/// One past the highest user address with 4-level paging (`TASK_SIZE_MAX`).
const USER_ADDR_END: u64 = 0x7fff_ffff_f000;

/// `sizeof(Elf64_Ehdr)`.
const EHDR_SIZE: usize = 64;
/// `sizeof(Elf64_Phdr)`.
const PHDR_SIZE: usize = 56;
/// Most program headers Linux accepts: the table must fit in one page (`load_elf_phdrs`).
pub const MAX_PHNUM: u16 = (PAGE as usize / PHDR_SIZE) as u16;
/// Longest `PT_INTERP` path, NUL included (`PATH_MAX`).
const MAX_INTERP: u64 = 4096;

const ELFMAG: [u8; 4] = *b"\x7fELF";
const EI_CLASS: usize = 4;
const EI_DATA: usize = 5;
const EI_VERSION: usize = 6;
const ELFCLASS64: u8 = 2;
const ELFDATA2LSB: u8 = 1;
const EV_CURRENT: u8 = 1;
const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;
const EM_X86_64: u16 = 62;

const PT_LOAD: u32 = 1;
const PT_INTERP: u32 = 3;
const PT_PHDR: u32 = 6;
const PT_GNU_STACK: u32 = 0x6474_e551;
const PF_X: u32 = 1;
const PF_W: u32 = 2;
const PF_R: u32 = 4;

/// A file the loader reads: the executable or its interpreter.
pub trait ReadAt {
    /// Reads up to `buf.len()` bytes at `off`; returns how many were read, 0 at or past the end.
    fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<usize, Errno>;
    /// The file's size in bytes.
    fn size(&self) -> u64;
}

impl ReadAt for [u8] {
    fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let src = usize::try_from(off)
            .ok()
            .and_then(|o| self.get(o..))
            .unwrap_or(&[]);
        let n = src.len().min(buf.len());
        for (d, s) in buf.iter_mut().zip(src) {
            *d = *s;
        }
        Ok(n)
    }

    fn size(&self) -> u64 {
        self.len() as u64
    }
}

impl ReadAt for Vec<u8> {
    fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        self.as_slice().read_at(off, buf)
    }

    fn size(&self) -> u64 {
        self.len() as u64
    }
}

/// The ELF file type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfKind {
    /// `ET_EXEC`: loaded at the addresses in the file.
    Exec,
    /// `ET_DYN`: a position-independent executable or `ld.so`, loaded at a bias.
    Dyn,
}

/// One `PT_LOAD` segment, addresses as in the file (not relocated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    pub vaddr: u64,
    pub memsz: u64,
    pub offset: u64,
    pub filesz: u64,
    pub read: bool,
    pub write: bool,
    pub exec: bool,
}

/// What `execve` needs to know about an ELF file; addresses as in the file (not relocated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfInfo {
    pub kind: ElfKind,
    /// `e_entry`.
    pub entry: u64,
    /// `e_phoff`.
    pub phoff: u64,
    /// `e_phentsize` (always 56).
    pub phentsize: u16,
    /// `e_phnum` (`1..=MAX_PHNUM`).
    pub phnum: u16,
    /// Address of the program headers once loaded, for `AT_PHDR`: the first `PT_PHDR`'s
    /// `p_vaddr`, else (like Linux) computed from the last `PT_LOAD` whose file bytes contain
    /// `e_phoff`; `None` when neither exists.
    pub phdr_vaddr: Option<u64>,
    /// The `PT_LOAD` segments, in file order (which is ascending `vaddr`); never empty.
    pub segments: Vec<Segment>,
    /// The first `PT_INTERP`'s path, up to its first NUL.
    pub interp: Option<Vec<u8>>,
    /// Whether the stack is executable: the last `PT_GNU_STACK` has `PF_X`. Without
    /// `PT_GNU_STACK` the stack is not executable, as on x86-64 since Linux 5.8
    /// (`elf_read_implies_exec` only applies to ia32 there).
    pub exec_stack: bool,
    /// Lowest `PT_LOAD` address, rounded down to a page.
    pub min_vaddr: u64,
    /// Highest `PT_LOAD` end (`vaddr + memsz`), rounded up to a page.
    pub max_vaddr: u64,
    /// Largest power-of-two `p_align` of the `PT_LOAD`s, at least a page (Linux's
    /// `maximum_alignment`): a PIE's base should be a multiple of it.
    pub max_align: u64,
}

/// A program header, decoded.
#[derive(Clone, Copy, Debug)]
struct Phdr {
    p_type: u32,
    p_flags: u32,
    p_offset: u64,
    p_vaddr: u64,
    p_filesz: u64,
    p_memsz: u64,
    p_align: u64,
}

fn noexec<T>(_: T) -> Errno {
    Errno::ENOEXEC
}

/// `N` bytes at `off` of `b`.
fn field<const N: usize>(b: &[u8], off: usize) -> Result<[u8; N], Errno> {
    let end = off.checked_add(N).ok_or(Errno::ENOEXEC)?;
    let s = b.get(off..end).ok_or(Errno::ENOEXEC)?;
    <[u8; N]>::try_from(s).map_err(noexec)
}

fn le16(b: &[u8], off: usize) -> Result<u16, Errno> {
    field(b, off).map(u16::from_le_bytes)
}

fn le32(b: &[u8], off: usize) -> Result<u32, Errno> {
    field(b, off).map(u32::from_le_bytes)
}

fn le64(b: &[u8], off: usize) -> Result<u64, Errno> {
    field(b, off).map(u64::from_le_bytes)
}

fn page_down(a: u64) -> u64 {
    a & !(PAGE - 1)
}

fn page_up(a: u64) -> Option<u64> {
    a.checked_add(PAGE - 1).map(page_down)
}

/// Fills `buf` from `off`; a short file is `ENOEXEC`, a read error is passed through.
fn read_exact_at(file: &dyn ReadAt, off: u64, buf: &mut [u8]) -> Result<(), Errno> {
    let mut done = 0usize;
    while let Some(rest) = buf.get_mut(done..).filter(|r| !r.is_empty()) {
        let pos = off.checked_add(done as u64).ok_or(Errno::ENOEXEC)?;
        let n = file.read_at(pos, rest)?;
        if n == 0 {
            return Err(Errno::ENOEXEC);
        }
        done = done.saturating_add(n.min(rest.len()));
    }
    Ok(())
}

/// Checks that `[off, off + len)` lies inside `file`.
fn check_in_file(file: &dyn ReadAt, off: u64, len: u64) -> Result<(), Errno> {
    match off.checked_add(len) {
        Some(end) if end <= file.size() => Ok(()),
        _ => Err(Errno::ENOEXEC),
    }
}

impl Phdr {
    fn decode(b: &[u8]) -> Result<Phdr, Errno> {
        Ok(Phdr {
            p_type: le32(b, 0)?,
            p_flags: le32(b, 4)?,
            p_offset: le64(b, 8)?,
            p_vaddr: le64(b, 16)?,
            p_filesz: le64(b, 32)?,
            p_memsz: le64(b, 40)?,
            p_align: le64(b, 48)?,
        })
    }

    /// Validates a `PT_LOAD` against the file and returns it as a [`Segment`].
    fn segment(&self, file: &dyn ReadAt) -> Result<Segment, Errno> {
        if self.p_filesz > self.p_memsz {
            return Err(Errno::ENOEXEC);
        }
        self.p_vaddr
            .checked_add(self.p_memsz)
            .and_then(page_up)
            .ok_or(Errno::ENOEXEC)?;
        // A segment without file bytes is anonymous memory: its offset is never used.
        if self.p_filesz > 0 {
            check_in_file(file, self.p_offset, self.p_filesz)?;
            if self.p_vaddr % PAGE != self.p_offset % PAGE {
                return Err(Errno::ENOEXEC);
            }
        }
        Ok(Segment {
            vaddr: self.p_vaddr,
            memsz: self.p_memsz,
            offset: self.p_offset,
            filesz: self.p_filesz,
            read: self.p_flags & PF_R != 0,
            write: self.p_flags & PF_W != 0,
            exec: self.p_flags & PF_X != 0,
        })
    }
}

/// Reads the `PT_INTERP` path: 2 to `PATH_MAX` bytes inside the file, ending in NUL.
fn read_interp(file: &dyn ReadAt, ph: &Phdr) -> Result<Vec<u8>, Errno> {
    if !(2..=MAX_INTERP).contains(&ph.p_filesz) {
        return Err(Errno::ENOEXEC);
    }
    check_in_file(file, ph.p_offset, ph.p_filesz)?;
    let len = usize::try_from(ph.p_filesz).map_err(noexec)?;
    let mut path = vec![0u8; len];
    read_exact_at(file, ph.p_offset, &mut path)?;
    if path.last() != Some(&0) {
        return Err(Errno::ENOEXEC);
    }
    let nul = path.iter().position(|&c| c == 0).unwrap_or(len);
    path.truncate(nul);
    Ok(path)
}

/// Parses and validates an ELF64 x86-64 executable or shared object (see the module doc for
/// the checks). Never panics, whatever the file holds.
pub fn parse(file: &dyn ReadAt) -> Result<ElfInfo, Errno> {
    let mut eh = [0u8; EHDR_SIZE];
    read_exact_at(file, 0, &mut eh)?;
    if field::<4>(&eh, 0)? != ELFMAG
        || eh.get(EI_CLASS) != Some(&ELFCLASS64)
        || eh.get(EI_DATA) != Some(&ELFDATA2LSB)
        || eh.get(EI_VERSION) != Some(&EV_CURRENT)
    {
        return Err(Errno::ENOEXEC);
    }
    let kind = match le16(&eh, 16)? {
        ET_EXEC => ElfKind::Exec,
        ET_DYN => ElfKind::Dyn,
        _ => return Err(Errno::ENOEXEC),
    };
    if le16(&eh, 18)? != EM_X86_64 {
        return Err(Errno::ENOEXEC);
    }
    let entry = le64(&eh, 24)?;
    let phoff = le64(&eh, 32)?;
    let phentsize = le16(&eh, 54)?;
    let phnum = le16(&eh, 56)?;
    if usize::from(phentsize) != PHDR_SIZE || phnum == 0 || phnum > MAX_PHNUM {
        return Err(Errno::ENOEXEC);
    }

    let table_len = usize::from(phnum) * PHDR_SIZE;
    check_in_file(file, phoff, table_len as u64)?;
    let mut table = vec![0u8; table_len];
    read_exact_at(file, phoff, &mut table)?;

    let mut segments: Vec<Segment> = Vec::new();
    let mut interp_ph = None;
    let mut pt_phdr = None;
    let mut phdr_in_load = None;
    let mut exec_stack = false;
    let mut max_end = 0u64;
    let mut max_align = PAGE;
    for raw in table.chunks_exact(PHDR_SIZE) {
        let ph = Phdr::decode(raw)?;
        match ph.p_type {
            PT_LOAD => {
                let seg = ph.segment(file)?;
                if segments.last().is_some_and(|prev| prev.vaddr > seg.vaddr) {
                    return Err(Errno::ENOEXEC);
                }
                let contains_phoff = seg.offset <= phoff
                    && seg
                        .offset
                        .checked_add(seg.filesz)
                        .is_some_and(|e| phoff < e);
                if contains_phoff {
                    phdr_in_load = seg.vaddr.checked_add(phoff - seg.offset);
                }
                // Cannot overflow: checked in `segment`.
                max_end = max_end.max(seg.vaddr.saturating_add(seg.memsz));
                if ph.p_align.is_power_of_two() {
                    max_align = max_align.max(ph.p_align);
                }
                segments.push(seg);
            }
            PT_INTERP if interp_ph.is_none() => interp_ph = Some(ph),
            PT_PHDR if pt_phdr.is_none() => pt_phdr = Some(ph.p_vaddr),
            PT_GNU_STACK => exec_stack = ph.p_flags & PF_X != 0,
            _ => {}
        }
    }
    let first = segments.first().ok_or(Errno::ENOEXEC)?;
    let min_vaddr = page_down(first.vaddr);
    let max_vaddr = page_up(max_end).ok_or(Errno::ENOEXEC)?;
    let limit = match kind {
        ElfKind::Exec => max_vaddr,
        ElfKind::Dyn => max_vaddr - min_vaddr,
    };
    if limit > USER_ADDR_END {
        return Err(Errno::ENOEXEC);
    }
    let interp = match &interp_ph {
        Some(ph) => Some(read_interp(file, ph)?),
        None => None,
    };
    Ok(ElfInfo {
        kind,
        entry,
        phoff,
        phentsize,
        phnum,
        phdr_vaddr: pt_phdr.or(phdr_in_load),
        segments,
        interp,
        exec_stack,
        min_vaddr,
        max_vaddr,
        max_align,
    })
}

/// The amount to add to the file's addresses: 0 for `ET_EXEC`; for `ET_DYN`, the bias that puts
/// the image's first page at `preferred_base` rounded down to a page, so the image fills
/// `[base, base + max_vaddr - min_vaddr)`. The caller picks the base (aligned to
/// [`ElfInfo::max_align`] to honour large `p_align`, as Linux does); arithmetic wraps like
/// Linux's `unsigned long`.
pub fn load_bias(info: &ElfInfo, preferred_base: u64) -> u64 {
    match info.kind {
        ElfKind::Exec => 0,
        ElfKind::Dyn => page_down(preferred_base).wrapping_sub(info.min_vaddr),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// A program header for [`synth`].
    #[derive(Clone, Copy)]
    struct Ph {
        ty: u32,
        flags: u32,
        offset: u64,
        vaddr: u64,
        filesz: u64,
        memsz: u64,
        align: u64,
    }

    fn load(flags: u32, offset: u64, vaddr: u64, filesz: u64, memsz: u64) -> Ph {
        Ph {
            ty: PT_LOAD,
            flags,
            offset,
            vaddr,
            filesz,
            memsz,
            align: 0x1000,
        }
    }

    fn other(ty: u32, flags: u32, offset: u64, filesz: u64) -> Ph {
        Ph {
            ty,
            flags,
            offset,
            vaddr: offset,
            filesz,
            memsz: filesz,
            align: 1,
        }
    }

    /// An ELF header with the program headers right after it, padded to `file_len` bytes.
    fn synth(e_type: u16, entry: u64, phs: &[Ph], file_len: usize) -> Vec<u8> {
        let mut f = vec![0u8; file_len.max(EHDR_SIZE + phs.len() * PHDR_SIZE)];
        f[..4].copy_from_slice(&ELFMAG);
        f[EI_CLASS] = ELFCLASS64;
        f[EI_DATA] = ELFDATA2LSB;
        f[EI_VERSION] = EV_CURRENT;
        f[16..18].copy_from_slice(&e_type.to_le_bytes());
        f[18..20].copy_from_slice(&EM_X86_64.to_le_bytes());
        f[20..24].copy_from_slice(&1u32.to_le_bytes());
        f[24..32].copy_from_slice(&entry.to_le_bytes());
        f[32..40].copy_from_slice(&(EHDR_SIZE as u64).to_le_bytes());
        f[52..54].copy_from_slice(&(EHDR_SIZE as u16).to_le_bytes());
        f[54..56].copy_from_slice(&(PHDR_SIZE as u16).to_le_bytes());
        f[56..58].copy_from_slice(&(phs.len() as u16).to_le_bytes());
        for (i, p) in phs.iter().enumerate() {
            let o = EHDR_SIZE + i * PHDR_SIZE;
            f[o..o + 4].copy_from_slice(&p.ty.to_le_bytes());
            f[o + 4..o + 8].copy_from_slice(&p.flags.to_le_bytes());
            f[o + 8..o + 16].copy_from_slice(&p.offset.to_le_bytes());
            f[o + 16..o + 24].copy_from_slice(&p.vaddr.to_le_bytes());
            f[o + 24..o + 32].copy_from_slice(&p.vaddr.to_le_bytes());
            f[o + 32..o + 40].copy_from_slice(&p.filesz.to_le_bytes());
            f[o + 40..o + 48].copy_from_slice(&p.memsz.to_le_bytes());
            f[o + 48..o + 56].copy_from_slice(&p.align.to_le_bytes());
        }
        f
    }

    /// A named way to corrupt a valid file.
    type Corrupt = (&'static str, fn(&mut Vec<u8>));

    const INTERP: &[u8] = b"/lib/ld.so\0";
    const INTERP_OFF: u64 = 0x200;

    /// A small valid PIE: PT_PHDR, PT_INTERP, text, data+bss, PT_GNU_STACK (RW).
    fn good_pie_phs() -> Vec<Ph> {
        vec![
            other(PT_PHDR, PF_R, 64, 5 * PHDR_SIZE as u64),
            other(PT_INTERP, PF_R, INTERP_OFF, INTERP.len() as u64),
            load(PF_R | PF_X, 0, 0, 0x1800, 0x1800),
            load(PF_R | PF_W, 0x1800, 0x2800, 0x100, 0x3000),
            other(PT_GNU_STACK, PF_R | PF_W, 0, 0),
        ]
    }

    fn good_pie() -> Vec<u8> {
        let mut f = synth(ET_DYN, 0x1000, &good_pie_phs(), 0x1900);
        let o = INTERP_OFF as usize;
        f[o..o + INTERP.len()].copy_from_slice(INTERP);
        f
    }

    fn set_u16(f: &mut [u8], off: usize, v: u16) {
        f[off..off + 2].copy_from_slice(&v.to_le_bytes());
    }

    fn set_u64(f: &mut [u8], off: usize, v: u64) {
        f[off..off + 8].copy_from_slice(&v.to_le_bytes());
    }

    /// Offset of field `field_off` of program header `i` in a [`synth`] file.
    fn ph_field(i: usize, field_off: usize) -> usize {
        EHDR_SIZE + i * PHDR_SIZE + field_off
    }

    #[test]
    fn synthetic_pie() {
        let info = parse(&good_pie()).expect("valid PIE");
        assert_eq!(info.kind, ElfKind::Dyn);
        assert_eq!(info.entry, 0x1000);
        assert_eq!(info.phoff, 64);
        assert_eq!(info.phentsize, 56);
        assert_eq!(info.phnum, 5);
        assert_eq!(info.phdr_vaddr, Some(64));
        assert_eq!(info.interp.as_deref(), Some(&b"/lib/ld.so"[..]));
        assert!(!info.exec_stack);
        assert_eq!(info.min_vaddr, 0);
        assert_eq!(info.max_vaddr, 0x6000);
        assert_eq!(info.max_align, 0x1000);
        assert_eq!(
            info.segments,
            vec![
                Segment {
                    vaddr: 0,
                    memsz: 0x1800,
                    offset: 0,
                    filesz: 0x1800,
                    read: true,
                    write: false,
                    exec: true
                },
                Segment {
                    vaddr: 0x2800,
                    memsz: 0x3000,
                    offset: 0x1800,
                    filesz: 0x100,
                    read: true,
                    write: true,
                    exec: false
                },
            ]
        );
        assert_eq!(load_bias(&info, 0x5555_5555_4000), 0x5555_5555_4000);
        assert_eq!(load_bias(&info, 0x5555_5555_4123), 0x5555_5555_4000);
    }

    #[test]
    fn synthetic_static_exec() {
        // No PT_PHDR: AT_PHDR comes from the PT_LOAD holding e_phoff; no PT_GNU_STACK.
        let phs = [
            load(PF_R | PF_X, 0, 0x40_0000, 0x1000, 0x1000),
            load(PF_R | PF_W, 0x1000, 0x40_1000, 0x10, 0x2000),
        ];
        let info = parse(&synth(ET_EXEC, 0x40_0100, &phs, 0x1010)).expect("valid exec");
        assert_eq!(info.kind, ElfKind::Exec);
        assert_eq!(info.phdr_vaddr, Some(0x40_0040));
        assert_eq!(info.interp, None);
        assert!(
            !info.exec_stack,
            "no PT_GNU_STACK: not executable on x86-64"
        );
        assert_eq!((info.min_vaddr, info.max_vaddr), (0x40_0000, 0x40_3000));
        assert_eq!(load_bias(&info, 0x5555_5555_4000), 0);
    }

    #[test]
    fn dyn_bias_subtracts_min_vaddr() {
        let phs = [load(PF_R | PF_X, 0x1000, 0x1234_5000, 0x100, 0x100)];
        let mut phs = phs.to_vec();
        phs[0].align = 0x20_0000;
        let info = parse(&synth(ET_DYN, 0x1234_5000, &phs, 0x1100)).expect("valid");
        assert_eq!(info.min_vaddr, 0x1234_5000);
        assert_eq!(info.max_align, 0x20_0000);
        let bias = load_bias(&info, 0x7f00_0000_0000);
        assert_eq!(bias.wrapping_add(info.min_vaddr), 0x7f00_0000_0000);
        assert_eq!(bias % PAGE, 0);
    }

    #[test]
    fn gnu_stack_exec_and_no_phdr() {
        let phs = [
            load(PF_R | PF_X, 0x1000, 0x1000, 0x10, 0x10),
            other(PT_GNU_STACK, PF_R | PF_W | PF_X, 0, 0),
        ];
        let info = parse(&synth(ET_DYN, 0x1000, &phs, 0x1010)).expect("valid");
        assert!(info.exec_stack);
        // e_phoff (64) is not inside any PT_LOAD's file bytes.
        assert_eq!(info.phdr_vaddr, None);
    }

    #[test]
    fn bss_only_segment_needs_no_file_bytes() {
        let phs = [
            load(PF_R | PF_X, 0, 0x40_0000, 0x100, 0x100),
            load(PF_R | PF_W, 0xdead_beef_0123, 0x40_1000, 0, 0x5000),
        ];
        let info = parse(&synth(ET_EXEC, 0x40_0080, &phs, 0x100)).expect("bss-only PT_LOAD");
        assert_eq!(info.max_vaddr, 0x40_6000);
    }

    #[test]
    fn rejects_bad_headers() {
        let cases: [Corrupt; 12] = [
            ("bad magic", |f| f[1] = b'X'),
            ("ELFCLASS32", |f| f[EI_CLASS] = 1),
            ("big-endian", |f| f[EI_DATA] = 2),
            ("EI_VERSION 0", |f| f[EI_VERSION] = 0),
            ("ET_REL", |f| set_u16(f, 16, 1)),
            ("ET_CORE", |f| set_u16(f, 16, 4)),
            ("EM_386", |f| set_u16(f, 18, 3)),
            ("EM_AARCH64", |f| set_u16(f, 18, 183)),
            ("phentsize 32", |f| set_u16(f, 54, 32)),
            ("phnum 0", |f| set_u16(f, 56, 0)),
            ("phnum too big", |f| set_u16(f, 56, MAX_PHNUM + 1)),
            ("phoff past EOF", |f| set_u64(f, 32, 0x1_0000)),
        ];
        for (what, corrupt) in cases {
            let mut f = good_pie();
            corrupt(&mut f);
            assert_eq!(parse(&f), Err(Errno::ENOEXEC), "{what}");
        }
        let mut f = good_pie();
        set_u64(&mut f, 32, u64::MAX - 10);
        assert_eq!(parse(&f), Err(Errno::ENOEXEC), "phoff + size overflows");
    }

    #[test]
    fn phnum_limit_is_one_page_of_headers() {
        let mut phs = vec![load(PF_R, 0, 0, 0x100, 0x100)];
        phs.resize(usize::from(MAX_PHNUM), other(0x6474_e552, PF_R, 0, 0));
        let info = parse(&synth(ET_DYN, 0, &phs, 0x1000)).expect("73 headers");
        assert_eq!(info.phnum, MAX_PHNUM);
        phs.push(other(0, 0, 0, 0));
        assert_eq!(parse(&synth(ET_DYN, 0, &phs, 0x1000)), Err(Errno::ENOEXEC));
    }

    #[test]
    fn rejects_bad_segments() {
        // Program header 2 is the text PT_LOAD, 3 the data PT_LOAD of `good_pie`.
        let cases: [Corrupt; 9] = [
            ("filesz > memsz", |f| set_u64(f, ph_field(3, 32), 0x3001)),
            ("offset beyond EOF", |f| {
                set_u64(f, ph_field(3, 8), 0x10_0800);
                set_u64(f, ph_field(3, 16), 0x10_0800);
            }),
            ("offset + filesz beyond EOF", |f| {
                set_u64(f, ph_field(3, 32), 0x900);
            }),
            ("offset + filesz overflows", |f| {
                set_u64(f, ph_field(3, 8), u64::MAX - 0xff);
                set_u64(f, ph_field(3, 16), 0x2f00);
            }),
            ("vaddr and offset not congruent", |f| {
                set_u64(f, ph_field(3, 16), 0x2900)
            }),
            ("vaddr + memsz overflows", |f| {
                set_u64(f, ph_field(3, 16), u64::MAX - 0x7ff);
            }),
            ("segments out of order", |f| {
                set_u64(f, ph_field(2, 16), 0x10_0000)
            }),
            ("span beyond user space", |f| {
                set_u64(f, ph_field(3, 16), USER_ADDR_END + 0x800)
            }),
            ("no PT_LOAD", |f| {
                f[ph_field(2, 0)] = 0;
                f[ph_field(3, 0)] = 0;
            }),
        ];
        for (what, corrupt) in cases {
            let mut f = good_pie();
            corrupt(&mut f);
            assert_eq!(parse(&f), Err(Errno::ENOEXEC), "{what}");
        }
    }

    #[test]
    fn exec_beyond_user_space_rejected() {
        let phs = [load(PF_R, 0, USER_ADDR_END - 0x1000, 0x100, 0x2000)];
        assert_eq!(parse(&synth(ET_EXEC, 0, &phs, 0x100)), Err(Errno::ENOEXEC));
    }

    #[test]
    fn rejects_bad_interp() {
        let cases: [Corrupt; 6] = [
            ("no NUL", |f| {
                f[INTERP_OFF as usize + INTERP.len() - 1] = b'x'
            }),
            ("length 1", |f| set_u64(f, ph_field(1, 32), 1)),
            ("length 0", |f| set_u64(f, ph_field(1, 32), 0)),
            ("longer than PATH_MAX", |f| {
                set_u64(f, ph_field(1, 32), 4097)
            }),
            ("past EOF", |f| set_u64(f, ph_field(1, 8), 0x1ff8)),
            ("offset overflows", |f| {
                set_u64(f, ph_field(1, 8), u64::MAX - 4)
            }),
        ];
        for (what, corrupt) in cases {
            let mut f = good_pie();
            corrupt(&mut f);
            assert_eq!(parse(&f), Err(Errno::ENOEXEC), "{what}");
        }
        // The path stops at its first NUL, as `open_exec` would read it.
        let mut f = good_pie();
        f[INTERP_OFF as usize + 4] = 0;
        assert_eq!(
            parse(&f).expect("valid").interp.as_deref(),
            Some(&b"/lib"[..])
        );
    }

    #[test]
    fn truncated_files_are_errors() {
        let f = good_pie();
        for len in 0..f.len() {
            let r = parse(&f[..len].to_vec());
            assert!(r.is_err(), "truncated at {len}: {r:?}");
        }
        assert!(parse(&f).is_ok());
    }

    /// A reader returning one byte per call, or failing.
    struct Trickle(Vec<u8>, bool);

    impl ReadAt for Trickle {
        fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<usize, Errno> {
            if self.1 {
                return Err(Errno::EIO);
            }
            let n = self.0.read_at(off, buf.get_mut(..1).unwrap_or(&mut []))?;
            Ok(n)
        }

        fn size(&self) -> u64 {
            self.0.len() as u64
        }
    }

    #[test]
    fn short_reads_and_read_errors() {
        let f = good_pie();
        assert_eq!(parse(&Trickle(f.clone(), false)), parse(&f));
        assert_eq!(parse(&Trickle(f, true)), Err(Errno::EIO));
    }

    /// xorshift64: a tiny deterministic PRNG for the fuzz tests.
    fn xorshift(s: &mut u64) -> u64 {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        *s
    }

    /// Flips random bytes of the first `head` bytes of `f` and parses, `rounds` times.
    fn fuzz(mut f: Vec<u8>, head: usize, rounds: usize, seed: u64) -> usize {
        let orig = f.clone();
        let head = head.min(f.len());
        let mut s = seed;
        let mut ok = 0;
        for _ in 0..rounds {
            let flips = 1 + xorshift(&mut s) % 4;
            let mut touched = Vec::new();
            for _ in 0..flips {
                let at = (xorshift(&mut s) % head as u64) as usize;
                f[at] ^= (xorshift(&mut s) % 255 + 1) as u8;
                touched.push(at);
            }
            if parse(&f).is_ok() {
                ok += 1;
            }
            for at in touched {
                f[at] = orig[at];
            }
        }
        ok
    }

    #[test]
    fn fuzz_synthetic() {
        fuzz(good_pie(), 0x220, 5000, 0x9e37_79b9_7f4a_7c15);
    }

    const HOST_BINARIES: &[&str] = &[
        "/bin/ls",
        "/lib64/ld-linux-x86-64.so.2",
        "/bin/busybox",
        "/usr/bin/busybox",
        "/bin/true",
    ];

    fn read_host(path: &str) -> Option<Vec<u8>> {
        match std::fs::read(path) {
            Ok(b) => Some(b),
            Err(e) => {
                eprintln!("skipping {path}: {e}");
                None
            }
        }
    }

    #[test]
    fn fuzz_bin_ls_header() {
        let Some(f) = read_host("/bin/ls") else {
            return;
        };
        let info = parse(&f).expect("/bin/ls parses");
        // The ELF header, the program headers and PT_INTERP.
        let head = 0x400.max(info.phoff as usize + usize::from(info.phnum) * PHDR_SIZE);
        fuzz(f, head, 2000, 0x2545_f491_4f6c_dd1d);
    }

    /// Checks that hold for any well-formed executable.
    fn self_consistent(path: &str, info: &ElfInfo) {
        assert_eq!(info.phentsize, 56, "{path}");
        assert!(!info.segments.is_empty(), "{path}");
        let entry_seg = info
            .segments
            .iter()
            .find(|s| s.vaddr <= info.entry && info.entry < s.vaddr + s.memsz);
        assert!(
            entry_seg.is_some_and(|s| s.exec),
            "{path}: entry {:#x} not in an executable segment",
            info.entry
        );
        let phdr = info.phdr_vaddr.expect("program headers are loaded");
        let table_len = u64::from(info.phnum) * PHDR_SIZE as u64;
        assert!(
            info.segments
                .iter()
                .any(|s| s.vaddr <= phdr && phdr + table_len <= s.vaddr + s.filesz),
            "{path}: phdr {phdr:#x} not in a segment"
        );
        // The loaded program headers are the file's: vaddr - offset is the segment's delta.
        let holder = info
            .segments
            .iter()
            .find(|s| s.offset <= info.phoff && info.phoff < s.offset + s.filesz)
            .expect("e_phoff inside a PT_LOAD");
        assert_eq!(phdr, info.phoff - holder.offset + holder.vaddr, "{path}");
        assert_eq!(info.min_vaddr, page_down(info.segments[0].vaddr), "{path}");
        for s in &info.segments {
            assert!(s.vaddr + s.memsz <= info.max_vaddr, "{path}");
            assert!(s.read, "{path}");
        }
        assert_eq!(info.max_vaddr % PAGE, 0);
    }

    /// `readelf -lhW` of `path`, if readelf is installed.
    fn readelf(path: &str) -> Option<String> {
        let out = Command::new("readelf").args(["-lhW", path]).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn hex(s: &str) -> u64 {
        u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex")
    }

    /// Compares with readelf's view: entry, phnum, each PT_LOAD, the interpreter, GNU_STACK.
    fn matches_readelf(path: &str, info: &ElfInfo) {
        let Some(text) = readelf(path) else {
            eprintln!("readelf unavailable: not cross-checking {path}");
            return;
        };
        let mut loads = Vec::new();
        let mut stack_x = None;
        for line in text.lines() {
            let w: Vec<&str> = line.split_whitespace().collect();
            match w.as_slice() {
                ["Entry", "point", "address:", e] => assert_eq!(hex(e), info.entry, "{path}"),
                ["Number", "of", "program", "headers:", n] => {
                    assert_eq!(n.parse::<u16>().ok(), Some(info.phnum), "{path}")
                }
                ["LOAD", off, va, _pa, fsz, msz, flags @ .., _align] => {
                    let f = flags.concat();
                    loads.push(Segment {
                        vaddr: hex(va),
                        memsz: hex(msz),
                        offset: hex(off),
                        filesz: hex(fsz),
                        read: f.contains('R'),
                        write: f.contains('W'),
                        exec: f.contains('E'),
                    });
                }
                ["GNU_STACK", _, _, _, _, _, flags @ .., _align] => {
                    stack_x = Some(flags.concat().contains('E'));
                }
                [.., "[Requesting", "program", "interpreter:", p] => {
                    let p = p.trim_end_matches(']');
                    assert_eq!(info.interp.as_deref(), Some(p.as_bytes()), "{path}");
                }
                _ => {}
            }
        }
        assert!(!loads.is_empty(), "{path}: no LOAD in readelf's output");
        assert_eq!(loads, info.segments, "{path}");
        assert_eq!(stack_x.unwrap_or(false), info.exec_stack, "{path}");
        if !text.contains("program interpreter") {
            assert_eq!(info.interp, None, "{path}");
        }
    }

    #[test]
    fn host_binaries() {
        for &path in HOST_BINARIES {
            let Some(f) = read_host(path) else {
                continue;
            };
            let info = parse(&f).unwrap_or_else(|e| panic!("{path}: {e:?}"));
            self_consistent(path, &info);
            matches_readelf(path, &info);
        }
    }

    #[test]
    fn bin_ls_is_pie_with_interp() {
        let Some(f) = read_host("/bin/ls") else {
            return;
        };
        let info = parse(&f).expect("/bin/ls");
        assert_eq!(info.kind, ElfKind::Dyn);
        assert_eq!(
            info.interp.as_deref(),
            Some(&b"/lib64/ld-linux-x86-64.so.2"[..])
        );
        let bias = load_bias(&info, 0x5555_5555_4000);
        assert_eq!(bias % PAGE, 0);
        assert_eq!(bias + info.min_vaddr, 0x5555_5555_4000);
    }

    #[test]
    fn ld_so_is_dyn_without_interp() {
        let Some(f) = read_host("/lib64/ld-linux-x86-64.so.2") else {
            return;
        };
        let info = parse(&f).expect("ld.so");
        assert_eq!(info.kind, ElfKind::Dyn);
        assert_eq!(info.interp, None);
        assert!(!info.exec_stack);
    }

    #[test]
    fn static_binary_if_present() {
        let static_exec = ["/bin/busybox", "/usr/bin/busybox"]
            .iter()
            .filter_map(|p| std::fs::read(p).ok().map(|f| (*p, f)))
            .find_map(|(p, f)| {
                let info = parse(&f).ok()?;
                (info.kind == ElfKind::Exec && info.interp.is_none()).then_some((p, info))
            });
        let Some((path, info)) = static_exec else {
            eprintln!("no static ET_EXEC binary found: skipping");
            return;
        };
        self_consistent(path, &info);
        assert_eq!(load_bias(&info, 0x5555_5555_4000), 0);
    }
}
