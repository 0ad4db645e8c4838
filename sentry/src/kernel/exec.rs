//! execve: turning a path into a fresh address space with the program, its interpreter and
//! its initial stack loaded, and the registers to start it; and the credentials the
//! program runs with (`kernel::caps::exec_creds`: set-id bits, the capability
//! transformation, `AT_SECURE`).

use std::sync::Arc;

use snare_abi::file::{Stat, S_IFMT, S_IFREG};
use snare_abi::regs::{RFLAGS_FIXED, RFLAGS_IF, USER_CS, USER_DS};
use snare_abi::{Errno, UserRegs};
use snare_platform::{Platform, Prot};

use super::caps::{exec_creds, SetIds};
use super::process::Creds;
use super::Kernel;
use crate::loader::elf::{self, ElfInfo, ElfKind, ReadAt, Segment};
use crate::loader::script::parse_shebang;
use crate::loader::stack::{self, at};
use crate::mm::{
    page_down, page_up, Backing, MappableFile, Mapping, MemoryManager, Placement, PAGE, PIE_BASE,
    STACK_TOP,
};
use crate::vfs::FileDescription;

/// Initial size of the main stack mapping (it grows on faults up to STACK_LIMIT).
const STACK_INITIAL: u64 = 128 << 10;
/// Nested `#!` interpreters allowed (Linux allows 4 rounds of binfmt rewriting).
const MAX_SCRIPT_DEPTH: usize = 4;

/// A loaded program, ready to run.
#[derive(Debug)]
pub struct Image {
    pub mm: Arc<MemoryManager>,
    pub regs: UserRegs,
    /// The executable's path (after `#!` rewriting: the interpreter's).
    pub exe: Vec<u8>,
    /// Where the argument and environment strings are on the new stack (for
    /// /proc/self/cmdline and environ, read from guest memory as Linux does).
    pub args: (u64, u64),
    pub env: (u64, u64),
    /// The credentials the program runs with.
    pub creds: Creds,
    /// Whether the exec changed ids or gained capabilities (`AT_SECURE`).
    pub secure: bool,
}

/// The credentials an exec starts from, and which set-id bits of the program it honours:
/// `setid` is told the program's guest path and status (none on a `nosuid` mount, under
/// no_new_privs, for the sandbox's first program).
pub struct ExecCreds<'a> {
    pub old: &'a Creds,
    pub setid: &'a dyn Fn(&[u8], &Stat) -> SetIds,
}

impl std::fmt::Debug for ExecCreds<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecCreds").field("old", self.old).finish()
    }
}

/// The process name an executable gives: its base name, at most 15 bytes (the kernel's
/// TASK_COMM_LEN less its NUL).
pub fn comm_of(exe: &[u8]) -> Vec<u8> {
    let base = exe.rsplit(|&b| b == b'/').next().unwrap_or_default();
    base.iter().take(15).copied().collect()
}

/// Why exec failed, with the errno the guest would see.
#[derive(Debug)]
pub struct ExecError {
    pub errno: Errno,
    pub what: String,
    /// The old image was already gone (exec reused its address space): the process can't
    /// go on and must die, as on Linux past the point of no return.
    pub fatal: bool,
}

impl ExecError {
    fn new(errno: Errno, what: impl Into<String>) -> ExecError {
        ExecError {
            errno,
            what: what.into(),
            fatal: false,
        }
    }
}

impl std::fmt::Display for ExecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.what, self.errno.description())
    }
}

/// A mappable file as the ELF parser's reader.
struct Reader {
    file: Arc<dyn MappableFile>,
    size: u64,
}

impl ReadAt for Reader {
    fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        self.file.read_at(off, buf)
    }

    fn size(&self) -> u64 {
        self.size
    }
}

/// How exec opens files: a guest path to an open file (read-only). The guest's own VFS for
/// execve; the host root for the first program.
pub type Opener<'a> = &'a dyn Fn(&[u8]) -> Result<Arc<dyn FileDescription>, Errno>;

/// Opens an executable: a regular file with an execute bit.
fn open_exec(open: Opener<'_>, path: &[u8]) -> Result<(Reader, Vec<u8>, Stat), ExecError> {
    let shown = String::from_utf8_lossy(path).into_owned();
    let f = open(path).map_err(|e| ExecError::new(e, shown.clone()))?;
    let st = f.stat().map_err(|e| ExecError::new(e, shown.clone()))?;
    if st.st_mode & S_IFMT != S_IFREG || st.st_mode & 0o111 == 0 {
        return Err(ExecError::new(Errno::EACCES, shown));
    }
    let file = f
        .mappable()
        .ok_or_else(|| ExecError::new(Errno::EACCES, shown.clone()))?;
    let mut head = vec![0u8; 256];
    let n = file
        .read_at(0, &mut head)
        .map_err(|e| ExecError::new(e, shown.clone()))?;
    head.truncate(n);
    Ok((
        Reader {
            file,
            size: st.st_size.max(0) as u64,
        },
        head,
        st,
    ))
}

fn prot_of(s: &Segment) -> Prot {
    let mut p = Prot::NONE;
    if s.read {
        p = p | Prot::READ;
    }
    if s.write {
        p = p | Prot::WRITE;
    }
    if s.exec {
        p = p | Prot::EXEC;
    }
    p
}

/// Maps one PT_LOAD segment at `bias`: the file part privately, a zeroed tail and bss.
fn map_segment(
    mm: &MemoryManager,
    file: &Arc<dyn MappableFile>,
    s: &Segment,
    bias: u64,
) -> Result<(), Errno> {
    let vaddr = s.vaddr.checked_add(bias).ok_or(Errno::ENOEXEC)?;
    let start = page_down(vaddr);
    let file_end = vaddr.checked_add(s.filesz).ok_or(Errno::ENOEXEC)?;
    let mem_end = vaddr.checked_add(s.memsz).ok_or(Errno::ENOEXEC)?;
    let prot = prot_of(s);
    let mut map_end = start;
    if s.filesz > 0 {
        map_end = page_up(file_end).ok_or(Errno::ENOEXEC)?;
        mm.mmap(Mapping::fixed(
            start,
            map_end - start,
            prot,
            Backing::File {
                file: file.clone(),
                offset: page_down(s.offset),
            },
        ))?;
    }
    if mem_end > file_end {
        if s.filesz > 0 && !file_end.is_multiple_of(PAGE) {
            let zeros = vec![0u8; (map_end - file_end) as usize];
            mm.write_force(file_end, &zeros)?;
        }
        let anon_end = page_up(mem_end).ok_or(Errno::ENOEXEC)?;
        if anon_end > map_end {
            mm.mmap(Mapping::fixed(
                map_end,
                anon_end - map_end,
                prot,
                Backing::Anon,
            ))?;
        }
    }
    Ok(())
}

/// Loads an ELF's segments; returns the bias applied.
fn load_elf(mm: &MemoryManager, r: &Reader, info: &ElfInfo, interp: bool) -> Result<u64, Errno> {
    let bias = match info.kind {
        ElfKind::Exec => 0,
        ElfKind::Dyn if !interp => elf::load_bias(info, PIE_BASE),
        ElfKind::Dyn => {
            // Reserve the whole span where mmap would put it, then map over it.
            let span = info.max_vaddr - info.min_vaddr;
            let mut m = Mapping::fixed(0, span, Prot::NONE, Backing::Anon);
            m.placement = Placement::Hint;
            let base = mm.mmap(m)?;
            base.wrapping_sub(info.min_vaddr)
        }
    };
    for s in &info.segments {
        map_segment(mm, &r.file, s, bias)?;
    }
    Ok(bias)
}

/// Loads `path` (absolute guest path) with `argv` and `envp` into a new address space, or
/// into `reuse` (the caller's own, no longer shared) emptied once the program and its
/// interpreter have been found and parsed: that saves making a stub process and tearing the
/// old one down, but a failure after that point is fatal ([`ExecError::fatal`]).
pub fn exec(
    k: &Arc<Kernel>,
    path: &[u8],
    mut argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
    open: Opener<'_>,
    reuse: Option<&Arc<MemoryManager>>,
    creds: ExecCreds<'_>,
) -> Result<Image, ExecError> {
    let t0 = std::time::Instant::now();
    let mut path = path.to_vec();
    let execfn = path.clone();
    let (mut reader, mut head, mut st) = open_exec(open, &path)?;
    for depth in 0.. {
        let Some(script) = parse_shebang(&head) else {
            break;
        };
        let shown = String::from_utf8_lossy(&path).into_owned();
        let (interp, arg) = script.map_err(|e| ExecError::new(e, shown.clone()))?;
        if depth >= MAX_SCRIPT_DEPTH {
            return Err(ExecError::new(Errno::ELOOP, shown));
        }
        let mut new_argv = vec![interp.clone()];
        new_argv.extend(arg);
        new_argv.push(path.clone());
        new_argv.extend(argv.into_iter().skip(1));
        argv = new_argv;
        path = interp;
        (reader, head, st) = open_exec(open, &path)?;
    }
    // The set-id bits that count are the final program's (a script's own are ignored).
    let (new_creds, secure) = exec_creds(creds.old, (creds.setid)(&path, &st));
    let shown = String::from_utf8_lossy(&path).into_owned();
    let info = elf::parse(&reader).map_err(|e| ExecError::new(e, shown.clone()))?;
    let interp = match &info.interp {
        Some(p) => {
            let (r, _, _) = open_exec(open, p)?;
            let i = elf::parse(&r)
                .map_err(|e| ExecError::new(e, String::from_utf8_lossy(p).into_owned()))?;
            Some((r, i))
        }
        None => None,
    };

    let t1 = std::time::Instant::now();
    let fail = |e: Errno| ExecError {
        fatal: reuse.is_some(),
        ..ExecError::new(e, shown.clone())
    };
    let mm = match reuse {
        Some(mm) => mm.clone(),
        None => {
            let space = match k.platform.pooled_address_space() {
                Some(s) => s,
                None => k.new_address_space().map_err(|e| {
                    ExecError::new(Errno::ENOMEM, format!("new address space: {e}"))
                })?,
            };
            Arc::new(MemoryManager::new(space, k.platform.memory_file().clone()))
        }
    };

    // Emptying a reused address space and every mapping change of the load go to the stub
    // in one batch, before the program runs.
    let loaded = mm.batched(|| {
        if reuse.is_some() {
            mm.reset()?;
        }
        load(
            k,
            &mm,
            &reader,
            &info,
            interp.as_ref(),
            &argv,
            &envp,
            &execfn,
            (&new_creds, secure),
        )
    });
    let (regs, image) = loaded.map_err(fail)?;
    // The program runs next: its image goes now (a new address space's goes with the
    // request that makes its thread).
    if reuse.is_some() {
        mm.sync().map_err(fail)?;
    }
    tracing::debug!(
        open_us = (t1 - t0).as_micros() as u64,
        load_us = t1.elapsed().as_micros() as u64,
        "exec load timeline"
    );
    Ok(Image {
        mm,
        regs,
        exe: path,
        args: (image.argv_start, image.argv_end),
        env: (image.envp_start, image.envp_end),
        creds: new_creds,
        secure,
    })
}

/// Maps the program (and its interpreter) into `mm` and builds the initial stack: the
/// registers to start with and the stack image.
#[allow(clippy::too_many_arguments)]
fn load(
    k: &Kernel,
    mm: &Arc<MemoryManager>,
    reader: &Reader,
    info: &ElfInfo,
    interp: Option<&(Reader, ElfInfo)>,
    argv: &[Vec<u8>],
    envp: &[Vec<u8>],
    execfn: &[u8],
    (creds, secure): (&Creds, bool),
) -> Result<(UserRegs, stack::StackImage), Errno> {
    let bias = load_elf(mm, reader, info, false)?;
    let brk = page_up(info.max_vaddr.wrapping_add(bias)).ok_or(Errno::ENOEXEC)?;
    mm.set_brk_start(brk);
    let (entry, base) = match &interp {
        Some((r, i)) => {
            let b = load_elf(mm, r, i, true)?;
            (i.entry.wrapping_add(b), b)
        }
        None => (info.entry.wrapping_add(bias), 0),
    };

    mm.map_stack(STACK_TOP, STACK_INITIAL, info.exec_stack)?;
    let mut random = [0u8; 16];
    crate::vfs::dev::host_random(&mut random)?;
    let phdr = info.phdr_vaddr.map_or(0, |p| p.wrapping_add(bias));
    let a = &k.aux;
    let mut auxv = vec![
        (at::AT_PHDR, phdr),
        (at::AT_PHENT, u64::from(info.phentsize)),
        (at::AT_PHNUM, u64::from(info.phnum)),
        (at::AT_PAGESZ, PAGE),
        (at::AT_BASE, base),
        (at::AT_FLAGS, 0),
        (at::AT_ENTRY, info.entry.wrapping_add(bias)),
        (at::AT_UID, u64::from(creds.ruid)),
        (at::AT_EUID, u64::from(creds.euid)),
        (at::AT_GID, u64::from(creds.rgid)),
        (at::AT_EGID, u64::from(creds.egid)),
        (at::AT_SECURE, u64::from(secure)),
        (at::AT_HWCAP, a.hwcap),
        (at::AT_HWCAP2, a.hwcap2),
        (at::AT_CLKTCK, a.clktck),
    ];
    if a.minsigstksz != 0 {
        auxv.push((at::AT_MINSIGSTKSZ, a.minsigstksz));
    }
    if a.sysinfo_ehdr != 0 {
        auxv.push((at::AT_SYSINFO_EHDR, a.sysinfo_ehdr));
    }
    let image = stack::build(STACK_TOP, argv, envp, execfn, b"x86_64", random, &auxv)?;
    mm.write_force(image.sp, &image.bytes)?;

    let regs = UserRegs {
        rip: entry,
        rsp: image.sp,
        cs: USER_CS,
        ss: USER_DS,
        eflags: RFLAGS_FIXED | RFLAGS_IF,
        ..UserRegs::default()
    };
    Ok((regs, image))
}
