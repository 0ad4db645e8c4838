//! The initial process stack of `execve`: [`build`] lays out argc, argv, envp, the auxiliary
//! vector and the strings they point to exactly as Linux does (`copy_strings` in `fs/exec.c`,
//! then `create_elf_tables` in `fs/binfmt_elf.c`), and returns the bytes for the exec code
//! (`kernel/exec.rs`) to copy into guest memory below the stack top.
//!
//! From `stack_top` down:
//!
//! ```text
//! stack_top - 8 .. stack_top   8 zero bytes (Linux starts at vm_end - sizeof(void *))
//! execfn string                (AT_EXECFN)
//! envp strings                 envp[0] lowest, envp[n-1] just below execfn
//! argv strings                 argv[0] lowest (mm->arg_start)
//!                              down to a multiple of 16 (arch_align_stack, no randomisation)
//! platform string              (AT_PLATFORM), if any
//! 16 random bytes              (AT_RANDOM)
//!                              padding, so that sp is a multiple of 16
//! auxv pairs, ending with AT_NULL
//! envp pointers, NULL
//! argv pointers, NULL
//! argc                         <- sp
//! ```
//!
//! Like Linux since 5.18, an empty argv becomes `[""]` (so `argc >= 1`). Strings must not contain
//! NUL (`EINVAL`: the caller reads them as C strings); one longer than `MAX_ARG_STRLEN`, or all of
//! them (with their pointers) beyond the argument limit, is `E2BIG`.

use snare_abi::Errno;

/// Auxiliary vector entry types (`<uapi/linux/auxvec.h>`, `<asm/auxvec.h>`).
pub mod at {
    pub const AT_NULL: u64 = 0;
    pub const AT_PHDR: u64 = 3;
    pub const AT_PHENT: u64 = 4;
    pub const AT_PHNUM: u64 = 5;
    pub const AT_PAGESZ: u64 = 6;
    pub const AT_BASE: u64 = 7;
    pub const AT_FLAGS: u64 = 8;
    pub const AT_ENTRY: u64 = 9;
    pub const AT_UID: u64 = 11;
    pub const AT_EUID: u64 = 12;
    pub const AT_GID: u64 = 13;
    pub const AT_EGID: u64 = 14;
    pub const AT_PLATFORM: u64 = 15;
    pub const AT_HWCAP: u64 = 16;
    pub const AT_CLKTCK: u64 = 17;
    pub const AT_SECURE: u64 = 23;
    pub const AT_RANDOM: u64 = 25;
    pub const AT_HWCAP2: u64 = 26;
    pub const AT_EXECFN: u64 = 31;
    pub const AT_SYSINFO_EHDR: u64 = 33;
    pub const AT_MINSIGSTKSZ: u64 = 51;
}

/// Longest single argument or environment string, NUL included (`MAX_ARG_STRLEN`).
pub const MAX_ARG_STRLEN: u64 = 32 * 4096;
/// Argument space always allowed, whatever the stack limit (`ARG_MAX`).
const ARG_MAX: u64 = 32 * 4096;
/// Linux's default stack limit (`_STK_LIM`).
const STK_LIM: u64 = 8 << 20;

/// Bytes the strings (execfn, envp, argv) and the argv/envp pointers may take with a stack
/// limit (`RLIMIT_STACK`) of `stack_rlimit`: a quarter of it, at most 3/4 of 8 MiB, at least
/// `ARG_MAX` (`bprm_stack_limits`).
pub const fn arg_limit(stack_rlimit: u64) -> u64 {
    let mut limit = STK_LIM / 4 * 3;
    if stack_rlimit / 4 < limit {
        limit = stack_rlimit / 4;
    }
    if limit < ARG_MAX {
        limit = ARG_MAX;
    }
    limit
}

/// The argument limit with the default 8 MiB stack: 2 MiB.
pub const DEFAULT_ARG_LIMIT: u64 = arg_limit(STK_LIM);

/// Word size on the stack.
const WORD: u64 = 8;

/// The initial stack, ready to copy to `[sp, sp + bytes.len())` (which ends at the stack top).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackImage {
    /// The initial `rsp`: it points at argc and is a multiple of 16.
    pub sp: u64,
    /// The contents of `[sp, stack_top)`.
    pub bytes: Vec<u8>,
    /// argc (at least 1).
    pub argc: u64,
    /// Where the argv strings start and end (`mm->arg_start`, `mm->arg_end`), for
    /// `/proc/self/cmdline`.
    pub argv_start: u64,
    pub argv_end: u64,
    /// Where the envp strings start and end (`mm->env_start`, `mm->env_end`), for
    /// `/proc/self/environ`.
    pub envp_start: u64,
    pub envp_end: u64,
    /// Address of the execfn string (`AT_EXECFN`).
    pub execfn: u64,
    /// Address of the platform string (`AT_PLATFORM`), if one was given.
    pub platform: Option<u64>,
    /// Address of the 16 random bytes (`AT_RANDOM`).
    pub random: u64,
    /// The auxiliary vector as written, `AT_NULL` included (`mm->saved_auxv`, for
    /// `/proc/self/auxv`).
    pub auxv: Vec<(u64, u64)>,
}

/// Everything [`build_with_limit`] lays out.
#[derive(Clone, Copy, Debug)]
pub struct StackArgs<'a> {
    /// One past the highest stack byte.
    pub stack_top: u64,
    pub argv: &'a [Vec<u8>],
    pub envp: &'a [Vec<u8>],
    /// The path given to `execve` (`AT_EXECFN`).
    pub execfn: &'a [u8],
    /// `AT_PLATFORM`'s string (`b"x86_64"`); empty for none (then no `AT_PLATFORM`).
    pub platform: &'a [u8],
    /// `AT_RANDOM`'s bytes.
    pub random: [u8; 16],
    /// The caller's auxv entries, in order; [`build`] appends `AT_RANDOM`, `AT_EXECFN`,
    /// `AT_PLATFORM` and `AT_NULL`, which must not be among them (`EINVAL`).
    pub auxv: &'a [(u64, u64)],
}

/// Builds the initial stack below `stack_top` with the default argument limit
/// ([`DEFAULT_ARG_LIMIT`]); see [`StackArgs`] for the arguments and the module doc for the layout.
pub fn build(
    stack_top: u64,
    argv: &[Vec<u8>],
    envp: &[Vec<u8>],
    execfn: &[u8],
    platform: &[u8],
    random: [u8; 16],
    auxv: &[(u64, u64)],
) -> Result<StackImage, Errno> {
    let args = StackArgs {
        stack_top,
        argv,
        envp,
        execfn,
        platform,
        random,
        auxv,
    };
    build_with_limit(&args, DEFAULT_ARG_LIMIT)
}

/// The stack bytes being filled: `[sp, sp + bytes.len())`.
struct Image {
    sp: u64,
    bytes: Vec<u8>,
}

impl Image {
    fn put(&mut self, addr: u64, data: &[u8]) -> Result<(), Errno> {
        let start = addr
            .checked_sub(self.sp)
            .and_then(|o| usize::try_from(o).ok())
            .ok_or(Errno::EFAULT)?;
        let end = start.checked_add(data.len()).ok_or(Errno::EFAULT)?;
        self.bytes
            .get_mut(start..end)
            .ok_or(Errno::EFAULT)?
            .copy_from_slice(data);
        Ok(())
    }

    fn put_words(&mut self, addr: u64, words: &[u64]) -> Result<(), Errno> {
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        self.put(addr, &bytes)
    }
}

/// `a - b`, or `EFAULT` when the stack would go below address 0.
fn below(a: u64, b: u64) -> Result<u64, Errno> {
    a.checked_sub(b).ok_or(Errno::EFAULT)
}

/// Length of `s` with its NUL.
fn c_len(s: &[u8]) -> u64 {
    s.len() as u64 + 1
}

/// Places `strings` just below `top`, the last one highest; returns their addresses (in order)
/// and the lowest one (`top` when there are none).
fn place_strings(top: u64, strings: &[Vec<u8>]) -> Result<(Vec<u64>, u64), Errno> {
    let mut p = top;
    let mut addrs = Vec::with_capacity(strings.len());
    for s in strings.iter().rev() {
        p = below(p, c_len(s))?;
        addrs.push(p);
    }
    addrs.reverse();
    Ok((addrs, p))
}

/// Builds the initial stack, allowing `limit` bytes of strings and argv/envp pointers (see
/// [`arg_limit`]).
pub fn build_with_limit(args: &StackArgs<'_>, limit: u64) -> Result<StackImage, Errno> {
    let empty_argv = [Vec::new()];
    let argv = if args.argv.is_empty() {
        &empty_argv[..]
    } else {
        args.argv
    };
    let envp = args.envp;
    let strings = || {
        argv.iter()
            .chain(envp)
            .map(Vec::as_slice)
            .chain([args.execfn])
    };
    if strings().chain([args.platform]).any(|s| s.contains(&0)) {
        return Err(Errno::EINVAL);
    }
    let reserved = [at::AT_NULL, at::AT_RANDOM, at::AT_EXECFN, at::AT_PLATFORM];
    if args.auxv.iter().any(|(k, _)| reserved.contains(k)) {
        return Err(Errno::EINVAL);
    }
    if strings().any(|s| c_len(s) > MAX_ARG_STRLEN) {
        return Err(Errno::E2BIG);
    }
    let argc = argv.len() as u64;
    let envc = envp.len() as u64;
    let ptr_size = argc
        .checked_add(envc)
        .and_then(|n| n.checked_mul(WORD))
        .ok_or(Errno::E2BIG)?;
    let room = limit.checked_sub(ptr_size).filter(|&r| r > 0);
    let total = strings().try_fold(0u64, |t, s| t.checked_add(c_len(s)));
    match (room, total) {
        (Some(room), Some(total)) if total <= room => {}
        _ => return Err(Errno::E2BIG),
    }

    // The strings, as copy_strings leaves them.
    let execfn = below(below(args.stack_top, WORD)?, c_len(args.execfn))?;
    let (env_addrs, envp_start) = place_strings(execfn, envp)?;
    let (arg_addrs, argv_start) = place_strings(envp_start, argv)?;

    // create_elf_tables.
    let mut p = argv_start & !15;
    let platform = if args.platform.is_empty() {
        None
    } else {
        p = below(p, c_len(args.platform))?;
        Some(p)
    };
    let random = below(p, 16)?;
    p = random;
    let mut auxv = args.auxv.to_vec();
    auxv.push((at::AT_RANDOM, random));
    auxv.push((at::AT_EXECFN, execfn));
    if let Some(addr) = platform {
        auxv.push((at::AT_PLATFORM, addr));
    }
    auxv.push((at::AT_NULL, 0));
    let words: Vec<u64> = [argc]
        .into_iter()
        .chain(arg_addrs)
        .chain([0])
        .chain(env_addrs)
        .chain([0])
        .chain(auxv.iter().flat_map(|&(k, v)| [k, v]))
        .collect();
    let sp = below(p, words.len() as u64 * WORD)? & !15;

    let size = usize::try_from(below(args.stack_top, sp)?).map_err(|_| Errno::E2BIG)?;
    let mut img = Image {
        sp,
        bytes: vec![0; size],
    };
    img.put_words(sp, &words)?;
    img.put(random, &args.random)?;
    if let Some(addr) = platform {
        img.put(addr, args.platform)?;
    }
    // The strings are contiguous, each followed by its NUL (already zero).
    let mut at_addr = argv_start;
    for s in argv
        .iter()
        .chain(envp)
        .map(Vec::as_slice)
        .chain([args.execfn])
    {
        img.put(at_addr, s)?;
        at_addr += c_len(s);
    }
    Ok(StackImage {
        sp,
        bytes: img.bytes,
        argc,
        argv_start,
        argv_end: envp_start,
        envp_start,
        envp_end: execfn,
        execfn,
        platform,
        random,
        auxv,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOP: u64 = 0x7fff_ffff_e000;
    const RANDOM: [u8; 16] = *b"0123456789abcdef";

    /// Reads the stack image back like a C runtime would.
    struct Decoded {
        argc: u64,
        argv: Vec<Vec<u8>>,
        envp: Vec<Vec<u8>>,
        auxv: Vec<(u64, u64)>,
        /// Address just past the AT_NULL entry.
        auxv_end: u64,
    }

    fn word(img: &StackImage, addr: u64) -> u64 {
        let o = (addr - img.sp) as usize;
        u64::from_le_bytes(img.bytes[o..o + 8].try_into().expect("8 bytes"))
    }

    fn cstr(img: &StackImage, addr: u64) -> Vec<u8> {
        let o = (addr - img.sp) as usize;
        let len = img.bytes[o..].iter().position(|&c| c == 0).expect("NUL");
        img.bytes[o..o + len].to_vec()
    }

    fn decode(img: &StackImage) -> Decoded {
        let mut p = img.sp;
        let argc = word(img, p);
        p += 8;
        let mut argv = Vec::new();
        loop {
            let a = word(img, p);
            p += 8;
            if a == 0 {
                break;
            }
            argv.push(cstr(img, a));
        }
        let mut envp = Vec::new();
        loop {
            let a = word(img, p);
            p += 8;
            if a == 0 {
                break;
            }
            envp.push(cstr(img, a));
        }
        let mut auxv = Vec::new();
        loop {
            let (k, v) = (word(img, p), word(img, p + 8));
            p += 16;
            auxv.push((k, v));
            if k == at::AT_NULL {
                break;
            }
        }
        Decoded {
            argc,
            argv,
            envp,
            auxv,
            auxv_end: p,
        }
    }

    fn strs(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    fn aux(d: &Decoded, key: u64) -> Option<u64> {
        d.auxv.iter().find(|e| e.0 == key).map(|e| e.1)
    }

    #[test]
    fn layout_round_trips() {
        let argv = strs(&["/bin/echo", "hello", "", "wörld"]);
        let envp = strs(&["PATH=/usr/bin:/bin", "HOME=/root"]);
        let caller_aux = [
            (at::AT_PAGESZ, 4096),
            (at::AT_ENTRY, 0x1234),
            (at::AT_UID, 0),
        ];
        let img = build(
            TOP,
            &argv,
            &envp,
            b"/bin/echo",
            b"x86_64",
            RANDOM,
            &caller_aux,
        )
        .expect("build");
        assert_eq!(img.sp % 16, 0);
        assert_eq!(img.sp + img.bytes.len() as u64, TOP);
        let d = decode(&img);
        assert_eq!(d.argc, 4);
        assert_eq!(img.argc, 4);
        assert_eq!(d.argv, argv);
        assert_eq!(d.envp, envp);
        // The caller's entries in order, then AT_RANDOM, AT_EXECFN, AT_PLATFORM, AT_NULL.
        let keys: Vec<u64> = d.auxv.iter().map(|e| e.0).collect();
        assert_eq!(
            keys,
            [
                at::AT_PAGESZ,
                at::AT_ENTRY,
                at::AT_UID,
                at::AT_RANDOM,
                at::AT_EXECFN,
                at::AT_PLATFORM,
                at::AT_NULL
            ]
        );
        assert_eq!(d.auxv[..3], caller_aux);
        assert_eq!(d.auxv.last(), Some(&(at::AT_NULL, 0)));
        assert_eq!(d.auxv, img.auxv);

        let random = aux(&d, at::AT_RANDOM).expect("AT_RANDOM");
        assert_eq!(random, img.random);
        let o = (random - img.sp) as usize;
        assert_eq!(img.bytes[o..o + 16], RANDOM);
        let execfn = aux(&d, at::AT_EXECFN).expect("AT_EXECFN");
        assert_eq!(cstr(&img, execfn), b"/bin/echo");
        let platform = aux(&d, at::AT_PLATFORM).expect("AT_PLATFORM");
        assert_eq!(cstr(&img, platform), b"x86_64");
        assert_eq!(Some(platform), img.platform);

        // Linux's order from the top: 8 zero bytes, execfn, envp strings, argv strings, then
        // (16-aligned) platform, random bytes, and the vectors below with a gap < 16 bytes.
        assert_eq!(word(&img, TOP - 8), 0);
        assert_eq!(execfn + b"/bin/echo\0".len() as u64, TOP - 8);
        let strings_len: u64 = argv.iter().chain(&envp).map(|s| s.len() as u64 + 1).sum();
        assert_eq!(img.argv_start, execfn - strings_len);
        assert_eq!(platform, (img.argv_start & !15) - 7);
        assert_eq!(random, platform - 16);
        assert!(d.auxv_end <= random && random - d.auxv_end < 16);
        assert_eq!(img.envp_end, execfn);

        // The strings are contiguous, as /proc/self/cmdline and environ read them.
        let o = |a: u64| (a - img.sp) as usize;
        assert_eq!(
            &img.bytes[o(img.argv_start)..o(img.argv_end)],
            b"/bin/echo\0hello\0\0w\xc3\xb6rld\0"
        );
        assert_eq!(
            &img.bytes[o(img.envp_start)..o(img.envp_end)],
            b"PATH=/usr/bin:/bin\0HOME=/root\0"
        );
        let argv0 = word(&img, img.sp + 8);
        assert_eq!(argv0, img.argv_start);
        let envp0 = word(&img, img.sp + 8 * (1 + 4 + 1));
        assert_eq!(envp0, img.envp_start);
    }

    #[test]
    fn alignment_for_many_shapes() {
        let mut s = 0x1234_5678_9abc_def1u64;
        for n in 0..200u64 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let argc = (s % 5) as usize + 1;
            let envc = ((s >> 8) % 4) as usize;
            let argv: Vec<Vec<u8>> = (0..argc)
                .map(|i| vec![b'a' + i as u8; ((s >> (i * 3)) % 23) as usize])
                .collect();
            let envp: Vec<Vec<u8>> = (0..envc)
                .map(|i| vec![b'E'; ((s >> (i * 5 + 1)) % 17) as usize])
                .collect();
            let execfn = vec![b'/'; (n % 13) as usize + 1];
            let auxv: Vec<(u64, u64)> = (0..(n % 4)).map(|i| (100 + i, i)).collect();
            let top = TOP - (n % 3) * 8;
            let img = build(top, &argv, &envp, &execfn, b"x86_64", RANDOM, &auxv).expect("build");
            assert_eq!(img.sp % 16, 0, "round {n}");
            let d = decode(&img);
            assert_eq!(d.argv, argv);
            assert_eq!(d.envp, envp);
            assert_eq!(d.auxv.len(), auxv.len() + 4);
            assert!(d.auxv_end <= img.random && img.random - d.auxv_end < 16);
        }
    }

    #[test]
    fn empty_argv_becomes_one_empty_string() {
        let img = build(TOP, &[], &[], b"/x", b"x86_64", RANDOM, &[]).expect("build");
        let d = decode(&img);
        assert_eq!(d.argc, 1);
        assert_eq!(d.argv, vec![Vec::<u8>::new()]);
        assert!(d.envp.is_empty());
        assert_eq!(img.envp_start, img.envp_end);
    }

    #[test]
    fn no_platform_means_no_at_platform() {
        let img = build(TOP, &strs(&["a"]), &[], b"/a", b"", RANDOM, &[]).expect("build");
        let d = decode(&img);
        assert_eq!(aux(&d, at::AT_PLATFORM), None);
        assert_eq!(img.platform, None);
        assert_eq!(img.random, (img.argv_start & !15) - 16);
    }

    #[test]
    fn argument_limits() {
        let big = vec![b'x'; (MAX_ARG_STRLEN - 1) as usize];
        assert!(build(
            TOP,
            std::slice::from_ref(&big),
            &[],
            b"/a",
            b"x86_64",
            RANDOM,
            &[]
        )
        .is_ok());
        let too_big = vec![b'x'; MAX_ARG_STRLEN as usize];
        assert_eq!(
            build(
                TOP,
                std::slice::from_ref(&too_big),
                &[],
                b"/a",
                b"x86_64",
                RANDOM,
                &[]
            ),
            Err(Errno::E2BIG)
        );
        assert_eq!(
            build(
                TOP,
                &strs(&["a"]),
                &[too_big],
                b"/a",
                b"x86_64",
                RANDOM,
                &[]
            ),
            Err(Errno::E2BIG)
        );
        // 16 strings of 128 KiB are 2 MiB: over the limit once the pointers are counted.
        let many = vec![big; 16];
        assert_eq!(
            build(TOP, &many, &[], b"/a", b"x86_64", RANDOM, &[]),
            Err(Errno::E2BIG)
        );
        let img = build(TOP, &many[..15], &[], b"/a", b"x86_64", RANDOM, &[]).expect("1.9 MiB");
        assert_eq!(decode(&img).argv.len(), 15);
        assert_eq!(DEFAULT_ARG_LIMIT, 2 << 20);
        assert_eq!(arg_limit(0), ARG_MAX);
        assert_eq!(arg_limit(u64::MAX), 6 << 20);
        // Exactly at the limit: strings (argv[0] and an empty execfn) + pointers == limit.
        let args = StackArgs {
            stack_top: TOP,
            argv: &[vec![b'y'; 100 - 8 - 1 - 1]],
            envp: &[],
            execfn: b"",
            platform: b"x86_64",
            random: RANDOM,
            auxv: &[],
        };
        assert!(build_with_limit(&args, 100).is_ok());
        assert_eq!(build_with_limit(&args, 99), Err(Errno::E2BIG));
        assert_eq!(build_with_limit(&args, 8), Err(Errno::E2BIG));
    }

    #[test]
    fn bad_inputs() {
        assert_eq!(
            build(TOP, &strs(&["a\0b"]), &[], b"/a", b"x86_64", RANDOM, &[]),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            build(
                TOP,
                &strs(&["a"]),
                &[],
                b"/a",
                b"x86_64",
                RANDOM,
                &[(at::AT_RANDOM, 1)]
            ),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            build(
                TOP,
                &strs(&["a"]),
                &[],
                b"/a",
                b"x86_64",
                RANDOM,
                &[(at::AT_NULL, 0)]
            ),
            Err(Errno::EINVAL)
        );
        // A stack top too low to hold it all.
        assert_eq!(
            build(64, &strs(&["a"]), &[], b"/a", b"x86_64", RANDOM, &[]),
            Err(Errno::EFAULT)
        );
        assert_eq!(
            build(0, &strs(&["a"]), &[], b"/a", b"x86_64", RANDOM, &[]),
            Err(Errno::EFAULT)
        );
    }
}
