//! `--strace`: decoding guest syscalls for people, in strace's format.
//!
//! The syscall dispatcher hands each call's number, raw arguments and (after the call) raw
//! return value to [`format_entry`] / [`format_exit`], or keeps a [`PendingCall`] across the
//! call. The argument shapes come from the one table in [`snare_syscalls_table`]; pointed-to
//! values are read through [`GuestMemory`]. Decoding never fails: an unreadable pointer prints
//! as its address, an unknown flag bit in hex, an unknown syscall as `syscall_0x1ff(…)`.
//!
//! Output follows strace's defaults: strings and buffers are escaped and cut after
//! [`MAX_STRLEN`] bytes (`"abc"...`), file names are printed whole, argv is printed as an
//! array and envp as `0x7ffd… /* 12 vars */`, `open`'s mode only with `O_CREAT`/`O_TMPFILE`,
//! errors as `-1 ENOENT (No such file or directory)`.

use std::fmt::{self, Write as _};
use std::net::{Ipv4Addr, Ipv6Addr};

use snare_abi::Errno;
use snare_syscalls_table::{Arg, Ret, Syscall};

use crate::mm::GuestMemory;

/// Longest prefix of a string or buffer printed (strace's default `-s 32`).
pub const MAX_STRLEN: usize = 32;
/// Most elements printed of an array (argv, iovecs, pollfds) before `...`.
const MAX_ELEMS: usize = 32;
/// Longest file name read (`PATH_MAX`).
const PATH_MAX: usize = 4096;
/// Most envp entries counted for the `/* N vars */` summary.
const MAX_ENV_COUNT: usize = 4096;
/// Largest socket address read (`sizeof(struct sockaddr_storage)`).
const SOCKADDR_MAX: usize = 128;
/// `AT_FDCWD`, the "current directory" dirfd.
const AT_FDCWD: i32 = -100;

/// Formats the call on entry, strace-style: `openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC)`.
///
/// Out-arguments (decoded only after the call) are omitted here: each prints as `...` so the
/// other arguments keep their positions (`read(3, ..., 832)`).
pub fn format_entry(nr: u64, args: [u64; 6], mem: &dyn GuestMemory) -> String {
    PendingCall::new(nr, args, mem).to_string()
}

/// Formats the whole line after the call returned `ret` (raw: negative = -errno):
/// `read(3, "root:x:0:0:root:/root:/bin/bash\n"..., 832) = 832`,
/// `openat(AT_FDCWD, "/nope", O_RDONLY) = -1 ENOENT (No such file or directory)`.
///
/// The in-arguments are read from memory now, after the call; for a call that replaces the
/// address space (`execve`), decode them at entry with [`PendingCall::new`] instead.
pub fn format_exit(nr: u64, args: [u64; 6], ret: i64, mem: &dyn GuestMemory) -> String {
    PendingCall::new(nr, args, mem).finish(ret, mem)
}

/// A call whose in-arguments were decoded at entry, waiting for its return value.
///
/// `Display` prints the entry form (as [`format_entry`]); [`PendingCall::finish`] the whole
/// line, with out-arguments decoded from the memory as it is after the call.
#[derive(Debug, Clone)]
pub struct PendingCall {
    /// `None` for a number with no table row.
    syscall: Option<&'static Syscall>,
    nr: u64,
    args: [u64; 6],
    slots: Vec<Slot>,
}

/// One printed argument.
#[derive(Debug, Clone)]
enum Slot {
    /// Decoded at entry.
    Done(String),
    /// Decoded after the call: argument `index` with `shape`.
    Out { index: usize, shape: Arg },
}

impl PendingCall {
    /// Decodes the in-arguments of syscall `nr` (at entry, before the handler runs).
    pub fn new(nr: u64, args: [u64; 6], mem: &dyn GuestMemory) -> PendingCall {
        let syscall = snare_syscalls_table::by_nr(nr);
        let slots = match syscall {
            Some(sc) => {
                let d = Decoder {
                    name: sc.name,
                    args,
                    mem,
                };
                plan(sc, &args)
                    .into_iter()
                    .enumerate()
                    .map(|(index, shape)| match shape {
                        Shape::Table(arg) if arg.is_out() => Slot::Out { index, shape: arg },
                        _ => Slot::Done(d.shape(index, shape)),
                    })
                    .collect()
            }
            None => args.iter().map(|&a| Slot::Done(hex(a))).collect(),
        };
        PendingCall {
            syscall,
            nr,
            args,
            slots,
        }
    }

    /// The whole line once the call returned `ret` (raw: `-4095..=-1` is `-errno`).
    /// Out-arguments are decoded only when the call succeeded; after a failure they print as
    /// the address the guest passed.
    pub fn finish(&self, ret: i64, mem: &dyn GuestMemory) -> String {
        let mut line = String::new();
        self.write_call(&mut line, Some((ret, mem)));
        line.push_str(" = ");
        line.push_str(&self.format_ret(ret, mem));
        line
    }

    /// `name(arg, arg, …)`; out-arguments decoded when `exit` is given, else `...`.
    fn write_call(&self, out: &mut String, exit: Option<(i64, &dyn GuestMemory)>) {
        match self.syscall {
            Some(sc) => out.push_str(sc.name),
            None => {
                let _ = write!(out, "syscall_{:#x}", self.nr);
            }
        }
        out.push('(');
        for (i, slot) in self.slots.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            match (slot, exit, self.syscall) {
                (Slot::Done(text), _, _) => out.push_str(text),
                (Slot::Out { index, shape }, Some((ret, mem)), Some(sc)) => {
                    let value = self.args[*index];
                    if Errno::from_ret(ret).is_some() {
                        out.push_str(&ptr(value));
                    } else {
                        let d = Decoder {
                            name: sc.name,
                            args: self.args,
                            mem,
                        };
                        out.push_str(&d.out_arg(*shape, value, ret));
                    }
                }
                (Slot::Out { .. }, _, _) => out.push_str("..."),
            }
        }
        out.push(')');
    }

    /// The return value as strace prints it after ` = `.
    fn format_ret(&self, ret: i64, mem: &dyn GuestMemory) -> String {
        let Some(sc) = self.syscall else {
            return errno_or(ret, || ret.to_string());
        };
        if sc.ret == Ret::Void {
            return "?".to_owned();
        }
        let plain = || match sc.ret {
            Ret::Addr | Ret::Hex => hex(ret as u64),
            Ret::Mode => mode(ret as u32),
            Ret::Signal => signal(ret),
            Ret::Int | Ret::Fd | Ret::Void | Ret::Pid | Ret::Size | Ret::Uid | Ret::Gid => {
                ret.to_string()
            }
        };
        if Errno::from_ret(ret).is_some() {
            return errno_or(ret, plain);
        }
        match sc.name {
            "fcntl" => match self.args[1] as u32 {
                F_GETFD if ret != 0 => format!("{} (flags {})", hex(ret as u64), fd_flags(ret)),
                F_GETFL => format!("{} (flags {})", hex(ret as u64), open_flags(ret as u32)),
                F_GET_SEALS if ret != 0 => format!(
                    "{} (seals {})",
                    hex(ret as u64),
                    flags(ret as u64, SEAL_FLAGS, "0")
                ),
                _ => plain(),
            },
            "poll" | "ppoll" if ret > 0 => {
                let d = Decoder {
                    name: sc.name,
                    args: self.args,
                    mem,
                };
                format!("{} ({})", plain(), d.revents(self.args[0], self.args[1]))
            }
            _ => plain(),
        }
    }
}

impl fmt::Display for PendingCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = String::new();
        self.write_call(&mut line, None);
        f.write_str(&line)
    }
}

/// `-1 ENOENT (No such file or directory)` for an error return, else `plain()`. Kernel-internal
/// restart codes print as strace prints them: `? ERESTARTSYS (…)`.
fn errno_or(ret: i64, plain: impl FnOnce() -> String) -> String {
    let Some(e) = Errno::from_ret(ret) else {
        return plain();
    };
    match e.name() {
        Some(name) if e.is_internal_restart() => format!("? {name} ({})", e.description()),
        Some(name) => format!("-1 {name} ({})", e.description()),
        None => format!("-1 ERRNO_{0} (Unknown error {0})", e.raw()),
    }
}

/// How one argument is printed: a table shape, or a refinement the table cannot express.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Table(Arg),
    /// An address passed by value: `NULL` or hex.
    Addr,
    /// `fcntl(F_SETFD)` flags: `FD_CLOEXEC`.
    FdFlags,
    /// An `envp` array, summarized as `0x7ffd… /* N vars */`.
    Env,
    /// A futex bitset (`val3`): `FUTEX_BITSET_MATCH_ANY` or hex.
    FutexBitset,
}

/// Syscalls whose first argument is an address (printed `NULL` when zero).
const ADDR_FIRST: &[&str] = &[
    "mmap",
    "munmap",
    "mprotect",
    "brk",
    "mremap",
    "msync",
    "mincore",
    "madvise",
    "mlock",
    "munlock",
    "mlock2",
    "remap_file_pages",
    "mbind",
    "pkey_mprotect",
    "mseal",
    "map_shadow_stack",
    "shmdt",
    "set_mempolicy_home_node",
];

/// The shapes to print for `sc` called with `args`: the table's, refined by the arguments
/// themselves where strace does so (`open`'s mode, `fcntl`'s argument, `futex`'s operation).
fn plan(sc: &Syscall, args: &[u64; 6]) -> Vec<Shape> {
    let mut shapes: Vec<Shape> = sc.args.iter().map(|&a| Shape::Table(a)).collect();
    if ADDR_FIRST.contains(&sc.name) && shapes.first() == Some(&Shape::Table(Arg::Hex)) {
        shapes[0] = Shape::Addr;
    }
    // The second string array of a row (execve's envp) is summarized.
    if let Some(second) = shapes
        .iter()
        .enumerate()
        .filter(|(_, s)| **s == Shape::Table(Arg::StrArray))
        .nth(1)
        .map(|(i, _)| i)
    {
        shapes[second] = Shape::Env;
    }
    // `open`, `openat`, `mq_open`: the mode (and what follows) only matters when creating.
    if let Some(i) = shapes
        .iter()
        .position(|s| *s == Shape::Table(Arg::OpenFlags))
    {
        let creating = args[i] as u32 & (O_CREAT | O_TMPFILE_BIT) != 0;
        if !creating && shapes.get(i + 1) == Some(&Shape::Table(Arg::Mode)) {
            shapes.truncate(i + 1);
        }
    }
    match sc.name {
        "fcntl" if shapes.len() == 3 => match args[1] as u32 {
            F_GETFD | F_GETFL | F_GETOWN | F_GETSIG | F_GETLEASE | F_GETPIPE_SZ | F_GET_SEALS => {
                shapes.truncate(2);
            }
            F_DUPFD | F_DUPFD_CLOEXEC | F_SETOWN | F_SETPIPE_SZ | F_SETLEASE => {
                shapes[2] = Shape::Table(Arg::Int);
            }
            F_SETSIG => shapes[2] = Shape::Table(Arg::Signal),
            F_SETFD => shapes[2] = Shape::FdFlags,
            F_SETFL => shapes[2] = Shape::Table(Arg::OpenFlags),
            F_ADD_SEALS => shapes[2] = Shape::Table(Arg::SealFlags),
            F_GETLK | F_SETLK | F_SETLKW | F_OFD_GETLK | F_OFD_SETLK | F_OFD_SETLKW
            | F_GETOWN_EX | F_SETOWN_EX => shapes[2] = Shape::Table(Arg::Ptr),
            _ => {}
        },
        "futex" if shapes.len() == 6 => {
            use Arg::{Ptr, Timespec, UInt};
            let op = Shape::Table(Arg::FutexOp);
            let t = Shape::Table;
            let refined: Option<Vec<Shape>> = match args[1] as u32 & FUTEX_CMD_MASK {
                // WAIT, LOCK_PI, LOCK_PI2: a timeout.
                0 | 6 | 13 => Some(vec![t(Ptr), op, t(UInt), t(Timespec)]),
                // WAKE, FD.
                1 | 2 => Some(vec![t(Ptr), op, t(UInt)]),
                // REQUEUE: val2 is a count.
                3 => Some(vec![t(Ptr), op, t(UInt), t(UInt), t(Ptr)]),
                // CMP_REQUEUE, CMP_REQUEUE_PI.
                4 | 12 => Some(vec![t(Ptr), op, t(UInt), t(UInt), t(Ptr), t(UInt)]),
                // WAKE_OP: val3 encodes the operation.
                5 => Some(vec![t(Ptr), op, t(UInt), t(UInt), t(Ptr), t(Arg::Hex)]),
                // UNLOCK_PI, TRYLOCK_PI.
                7 | 8 => Some(vec![t(Ptr), op]),
                9 => Some(vec![
                    t(Ptr),
                    op,
                    t(UInt),
                    t(Timespec),
                    t(Ptr),
                    Shape::FutexBitset,
                ]),
                10 => Some(vec![
                    t(Ptr),
                    op,
                    t(UInt),
                    t(Ptr),
                    t(Ptr),
                    Shape::FutexBitset,
                ]),
                // WAIT_REQUEUE_PI.
                11 => Some(vec![t(Ptr), op, t(UInt), t(Timespec), t(Ptr)]),
                _ => None,
            };
            match refined {
                Some(refined) => shapes = refined,
                None => shapes[3] = Shape::Table(Arg::Hex),
            }
        }
        _ => {}
    }
    shapes
}

/// Decodes arguments of one call.
struct Decoder<'a> {
    /// The syscall's name, for the few shapes whose meaning depends on it.
    name: &'static str,
    args: [u64; 6],
    mem: &'a dyn GuestMemory,
}

impl Decoder<'_> {
    /// Argument `index` (raw value `args[index]`) printed as `shape`, as known at entry.
    fn shape(&self, index: usize, shape: Shape) -> String {
        let v = self.args[index];
        match shape {
            Shape::Table(arg) => self.in_arg(arg, v),
            Shape::Addr => ptr(v),
            Shape::FdFlags => fd_flags(v as i64),
            Shape::Env => self.env(v),
            Shape::FutexBitset => match v as u32 {
                u32::MAX => "FUTEX_BITSET_MATCH_ANY".to_owned(),
                b => hex(u64::from(b)),
            },
        }
    }

    /// The length or count held by argument `index`.
    fn len_of(&self, index: u8) -> u64 {
        self.args.get(usize::from(index)).copied().unwrap_or(0)
    }

    /// An argument the kernel reads (or a scalar).
    fn in_arg(&self, arg: Arg, v: u64) -> String {
        match arg {
            Arg::Int => (v as i64).to_string(),
            Arg::UInt => v.to_string(),
            Arg::Hex => hex(v),
            Arg::Fd => fd(v),
            Arg::Pid => (v as i32).to_string(),
            Arg::Uid | Arg::Gid => match v as u32 {
                u32::MAX => "-1".to_owned(),
                id => id.to_string(),
            },
            Arg::Signal => signal(i64::from(v as i32)),
            Arg::Mode => mode(v as u32),
            Arg::OpenFlags => open_flags(v as u32),
            Arg::AtFlags => at_flags(self.name, v as u32),
            Arg::AccessMode => flags(u64::from(v as u32), ACCESS_MODES, "F_OK"),
            Arg::MmapProt => flags(v, PROT_FLAGS, "PROT_NONE"),
            Arg::MmapFlags => mmap_flags(v),
            Arg::CloneFlags => clone_flags(v, self.name == "clone"),
            Arg::FutexOp => futex_op(v as u32),
            Arg::Whence => named(u64::from(v as u32), WHENCE),
            Arg::IoctlCmd => ioctl_cmd(v),
            Arg::FcntlCmd => named(u64::from(v as u32), FCNTL_CMDS),
            Arg::ClockId => clock_id(v as i32),
            Arg::ArchPrctlCode => named(v, ARCH_PRCTL_CODES),
            Arg::PrctlOption => named(u64::from(v as u32), PRCTL_OPTIONS),
            Arg::SigHow => named(u64::from(v as u32), SIG_HOWS),
            Arg::RlimitResource => named(u64::from(v as u32), RLIMIT_RESOURCES),
            Arg::AddressFamily => named(u64::from(v as u32), ADDRESS_FAMILIES),
            Arg::SocketType => socket_type(v as u32),
            Arg::MemfdFlags => memfd_flags(v as u32),
            Arg::SpliceFlags => flags(u64::from(v as u32), SPLICE_FLAGS, "0"),
            Arg::SealFlags => flags(u64::from(v as u32), SEAL_FLAGS, "0"),
            Arg::Path => self.path(v),
            Arg::Str => self.string(v),
            Arg::StrArray => self.argv(v),
            Arg::InBuf { len_arg } => self.buffer(v, self.len_of(len_arg)),
            Arg::Ptr => ptr(v),
            Arg::Iovec { count_arg } => self.iovec(v, self.len_of(count_arg), None),
            Arg::PollFds { count_arg } => self.pollfds(v, self.len_of(count_arg)),
            Arg::Timespec | Arg::TimespecOut => self.timespec(v),
            Arg::SigSet | Arg::SigSetOut => self.sigset(v),
            Arg::SigAction | Arg::SigActionOut => self.sigaction(v),
            Arg::Rlimit | Arg::RlimitOut => self.rlimit(v),
            Arg::Sockaddr { len_arg } => self.sockaddr(v, self.len_of(len_arg)),
            Arg::Msghdr => self.msghdr(v, None),
            // Out-shapes reached here only through `out_arg`.
            Arg::OutBuf { .. }
            | Arg::IovecOut { .. }
            | Arg::Stat
            | Arg::Statx
            | Arg::SockaddrOut { .. }
            | Arg::MsghdrOut
            | Arg::FdPair
            | Arg::WaitStatus => ptr(v),
        }
    }

    /// An argument the kernel wrote, after a successful call that returned `ret`.
    fn out_arg(&self, arg: Arg, v: u64, ret: i64) -> String {
        let ret_len = u64::try_from(ret).unwrap_or(0);
        match arg {
            Arg::OutBuf { len_arg } => {
                let len = ret_len.min(self.len_of(len_arg));
                match self.name {
                    "getcwd" | "readlink" | "readlinkat" => self.path_buffer(v, len),
                    "getdents" | "getdents64" => self.dirents(v, len),
                    _ => self.buffer(v, len),
                }
            }
            Arg::IovecOut { count_arg } => self.iovec(v, self.len_of(count_arg), Some(ret_len)),
            Arg::Stat => self.stat(v),
            Arg::Statx => self.statx(v),
            Arg::SockaddrOut { len_arg } => {
                let len_ptr = self.len_of(len_arg);
                match read_array::<4>(self.mem, len_ptr) {
                    Ok(len) if v != 0 => self.sockaddr(v, u64::from(u32::from_le_bytes(len))),
                    _ => ptr(v),
                }
            }
            Arg::MsghdrOut => self.msghdr(v, Some(ret_len)),
            Arg::FdPair => read_with(self.mem, v, 8, |b| {
                format!("[{}, {}]", le_i32(b, 0), le_i32(b, 4))
            }),
            Arg::WaitStatus if ret > 0 => read_with(self.mem, v, 4, |b| {
                format!("[{}]", wait_status(le_i32(b, 0)))
            }),
            _ => self.in_arg(arg, v),
        }
    }

    /// A file name, printed whole.
    fn path(&self, v: u64) -> String {
        if v == 0 {
            return "NULL".to_owned();
        }
        match read_cstr_prefix(self.mem, v, PATH_MAX) {
            Ok((bytes, truncated)) => quote(&bytes, truncated),
            Err(_) => hex(v),
        }
    }

    /// A NUL-terminated string, cut after [`MAX_STRLEN`] bytes.
    fn string(&self, v: u64) -> String {
        if v == 0 {
            return "NULL".to_owned();
        }
        match read_cstr_prefix(self.mem, v, MAX_STRLEN) {
            Ok((bytes, truncated)) => quote(&bytes, truncated),
            Err(_) => hex(v),
        }
    }

    /// `len` bytes at `v`, cut after [`MAX_STRLEN`].
    fn buffer(&self, v: u64, len: u64) -> String {
        if v == 0 {
            return "NULL".to_owned();
        }
        let shown = len.min(MAX_STRLEN as u64) as usize;
        read_with(self.mem, v, shown, |b| quote(b, len > shown as u64))
    }

    /// A buffer holding a path (`getcwd`, `readlink`): printed whole, without the trailing NUL
    /// `getcwd` counts.
    fn path_buffer(&self, v: u64, len: u64) -> String {
        let len = len.min(PATH_MAX as u64) as usize;
        read_with(self.mem, v, len, |b| {
            let b = b.strip_suffix(&[0]).unwrap_or(b);
            quote(b, false)
        })
    }

    /// `getdents` results: `0x… /* 5 entries */` (both record formats keep `d_reclen` at 16).
    fn dirents(&self, v: u64, len: u64) -> String {
        let len = len.min(1 << 20) as usize;
        read_with(self.mem, v, len, |b| {
            let mut count = 0;
            let mut at = 0usize;
            while at + 18 <= b.len() {
                let reclen = usize::from(le_u16(b, at + 16));
                if reclen == 0 {
                    break;
                }
                count += 1;
                at += reclen;
            }
            format!("{} /* {count} entries */", hex(v))
        })
    }

    /// An argv array: `["ls", "-la"]`.
    fn argv(&self, v: u64) -> String {
        if v == 0 {
            return "NULL".to_owned();
        }
        let mut items = Vec::new();
        for i in 0..=MAX_ELEMS as u64 {
            let Ok(p) = read_u64(self.mem, v.wrapping_add(i * 8)) else {
                if i == 0 {
                    return hex(v);
                }
                items.push("...".to_owned());
                break;
            };
            if p == 0 {
                break;
            }
            if i == MAX_ELEMS as u64 {
                items.push("...".to_owned());
                break;
            }
            items.push(self.string(p));
        }
        format!("[{}]", items.join(", "))
    }

    /// An envp array: `0x7ffd… /* 12 vars */`.
    fn env(&self, v: u64) -> String {
        if v == 0 {
            return "NULL".to_owned();
        }
        let mut count = 0;
        while count < MAX_ENV_COUNT {
            match read_u64(self.mem, v.wrapping_add(count as u64 * 8)) {
                Ok(0) => break,
                Ok(_) => count += 1,
                Err(_) if count == 0 => return hex(v),
                Err(_) => break,
            }
        }
        format!("{} /* {count} vars */", hex(v))
    }

    /// An array of `struct iovec`; with `limit`, the buffers hold only that many bytes in all
    /// (a read's return value).
    fn iovec(&self, v: u64, count: u64, mut limit: Option<u64>) -> String {
        if v == 0 {
            return "NULL".to_owned();
        }
        let shown = count.min(MAX_ELEMS as u64) as usize;
        read_with(self.mem, v, shown * 16, |b| {
            let mut items = Vec::new();
            for i in 0..shown {
                let base = le_u64(b, i * 16);
                let len = le_u64(b, i * 16 + 8);
                let filled = match &mut limit {
                    Some(left) => {
                        let n = len.min(*left);
                        *left -= n;
                        n
                    }
                    None => len,
                };
                items.push(format!(
                    "{{iov_base={}, iov_len={len}}}",
                    self.buffer(base, filled)
                ));
            }
            if count > shown as u64 {
                items.push("...".to_owned());
            }
            format!("[{}]", items.join(", "))
        })
    }

    /// An array of `struct pollfd`, with the events asked for.
    fn pollfds(&self, v: u64, count: u64) -> String {
        self.pollfd_array(v, count, |fd, events, _| {
            Some(format!(
                "{{fd={fd}, events={}}}",
                flags(u64::from(events), POLL_EVENTS, "0")
            ))
        })
    }

    /// The entries of a `struct pollfd` array with events returned: `[{fd=3, revents=POLLIN}]`.
    fn revents(&self, v: u64, count: u64) -> String {
        self.pollfd_array(v, count, |fd, _, revents| {
            (revents != 0).then(|| {
                format!(
                    "{{fd={fd}, revents={}}}",
                    flags(u64::from(revents), POLL_EVENTS, "0")
                )
            })
        })
    }

    fn pollfd_array(
        &self,
        v: u64,
        count: u64,
        item: impl Fn(i32, u16, u16) -> Option<String>,
    ) -> String {
        if v == 0 {
            return "NULL".to_owned();
        }
        let shown = count.min(MAX_ELEMS as u64) as usize;
        read_with(self.mem, v, shown * 8, |b| {
            let mut items: Vec<String> = (0..shown)
                .filter_map(|i| item(le_i32(b, i * 8), le_u16(b, i * 8 + 4), le_u16(b, i * 8 + 6)))
                .collect();
            if count > shown as u64 {
                items.push("...".to_owned());
            }
            format!("[{}]", items.join(", "))
        })
    }

    /// `struct timespec`: `{tv_sec=1, tv_nsec=0}`.
    fn timespec(&self, v: u64) -> String {
        read_with(self.mem, v, 16, |b| {
            format!("{{tv_sec={}, tv_nsec={}}}", le_i64(b, 0), le_i64(b, 8))
        })
    }

    /// A kernel `sigset_t` (8 bytes): `[INT TERM]`, or `~[…]` when most signals are in it.
    fn sigset(&self, v: u64) -> String {
        read_with(self.mem, v, 8, |b| sigset(le_u64(b, 0)))
    }

    /// The kernel's `struct sigaction`: handler, flags, restorer, mask.
    fn sigaction(&self, v: u64) -> String {
        read_with(self.mem, v, 32, |b| {
            let handler = match le_u64(b, 0) {
                0 => "SIG_DFL".to_owned(),
                1 => "SIG_IGN".to_owned(),
                h => hex(h),
            };
            let sa_flags = le_u64(b, 8);
            let mut s = format!(
                "{{sa_handler={handler}, sa_mask={}, sa_flags={}",
                sigset(le_u64(b, 24)),
                flags(sa_flags, SA_FLAGS, "0")
            );
            if sa_flags & SA_RESTORER != 0 {
                let _ = write!(s, ", sa_restorer={}", hex(le_u64(b, 16)));
            }
            s.push('}');
            s
        })
    }

    /// `struct rlimit`: `{rlim_cur=1024, rlim_max=RLIM64_INFINITY}`.
    fn rlimit(&self, v: u64) -> String {
        let limit = |l: u64| match l {
            u64::MAX => "RLIM64_INFINITY".to_owned(),
            l => l.to_string(),
        };
        read_with(self.mem, v, 16, |b| {
            format!(
                "{{rlim_cur={}, rlim_max={}}}",
                limit(le_u64(b, 0)),
                limit(le_u64(b, 8))
            )
        })
    }

    /// `struct stat` (x86-64 layout): the mode and size, as strace prints it by default.
    fn stat(&self, v: u64) -> String {
        read_with(self.mem, v, 144, |b| {
            format!(
                "{{st_mode={}, st_size={}, ...}}",
                mode(le_u32(b, 24)),
                le_i64(b, 48)
            )
        })
    }

    /// `struct statx`: the mode and size.
    fn statx(&self, v: u64) -> String {
        read_with(self.mem, v, 48, |b| {
            format!(
                "{{stx_mode={}, stx_size={}, ...}}",
                mode(u32::from(le_u16(b, 28))),
                le_u64(b, 40)
            )
        })
    }

    /// A socket address of `len` bytes.
    /// A `struct msghdr`: its name, iovecs (up to `limit` bytes when the kernel filled them),
    /// control buffer and flags.
    fn msghdr(&self, v: u64, limit: Option<u64>) -> String {
        if v == 0 {
            return "NULL".to_owned();
        }
        let Ok(b) = read_array::<56>(self.mem, v) else {
            return hex(v);
        };
        let name = le_u64(&b, 0);
        let namelen = le_u32(&b, 8);
        let iovlen = le_u64(&b, 24);
        format!(
            "{{msg_name={}, msg_namelen={namelen}, msg_iov={}, msg_iovlen={iovlen}, \
             msg_control={}, msg_controllen={}, msg_flags={:#x}}}",
            self.sockaddr(name, u64::from(namelen)),
            self.iovec(le_u64(&b, 16), iovlen, limit),
            ptr(le_u64(&b, 32)),
            le_u64(&b, 40),
            le_u32(&b, 48)
        )
    }

    fn sockaddr(&self, v: u64, len: u64) -> String {
        if v == 0 {
            return "NULL".to_owned();
        }
        let len = len.min(SOCKADDR_MAX as u64) as usize;
        if len < 2 {
            return hex(v);
        }
        read_with(self.mem, v, len, sockaddr)
    }
}

// ---------------------------------------------------------------------------------------------
// Guest memory helpers.

/// Reads `len` bytes at `addr` and formats them with `f`; `NULL` for a null pointer, the
/// address alone if the memory is unreadable.
fn read_with(
    mem: &dyn GuestMemory,
    addr: u64,
    len: usize,
    f: impl FnOnce(&[u8]) -> String,
) -> String {
    if addr == 0 {
        return "NULL".to_owned();
    }
    let mut buf = vec![0u8; len];
    match mem.read(addr, &mut buf) {
        Ok(()) => f(&buf),
        Err(_) => hex(addr),
    }
}

fn read_array<const N: usize>(mem: &dyn GuestMemory, addr: u64) -> Result<[u8; N], Errno> {
    if addr == 0 {
        return Err(Errno::EFAULT);
    }
    let mut buf = [0u8; N];
    mem.read(addr, &mut buf)?;
    Ok(buf)
}

fn read_u64(mem: &dyn GuestMemory, addr: u64) -> Result<u64, Errno> {
    read_array::<8>(mem, addr).map(u64::from_le_bytes)
}

/// Reads a NUL-terminated string at `addr`, at most `max` bytes of it; `true` if it is longer.
/// Reads page by page, so a string ending just before an unmapped page is fine.
fn read_cstr_prefix(
    mem: &dyn GuestMemory,
    addr: u64,
    max: usize,
) -> Result<(Vec<u8>, bool), Errno> {
    let mut out = Vec::new();
    let mut at = addr;
    // One byte more than shown tells whether the string goes on.
    while out.len() <= max {
        let page_left = 4096 - (at % 4096) as usize;
        let n = page_left.min(max + 1 - out.len());
        let mut chunk = vec![0u8; n];
        if mem.read(at, &mut chunk).is_err() {
            // The chunk's end may be unreadable while the string ends before it.
            chunk.clear();
            for k in 0..n as u64 {
                let mut byte = [0u8];
                mem.read(at.checked_add(k).ok_or(Errno::EFAULT)?, &mut byte)?;
                chunk.push(byte[0]);
                if byte[0] == 0 {
                    break;
                }
            }
        }
        if let Some(end) = chunk.iter().position(|&b| b == 0) {
            out.extend_from_slice(&chunk[..end]);
            return Ok((out, false));
        }
        out.extend_from_slice(&chunk);
        at = at.checked_add(n as u64).ok_or(Errno::EFAULT)?;
    }
    out.truncate(max);
    Ok((out, true))
}

fn le_array<const N: usize>(b: &[u8], off: usize) -> [u8; N] {
    let mut a = [0u8; N];
    if let Some(s) = b.get(off..off + N) {
        a.copy_from_slice(s);
    }
    a
}

fn le_u16(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes(le_array(b, off))
}

fn le_u32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(le_array(b, off))
}

fn le_i32(b: &[u8], off: usize) -> i32 {
    i32::from_le_bytes(le_array(b, off))
}

fn le_u64(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(le_array(b, off))
}

fn le_i64(b: &[u8], off: usize) -> i64 {
    i64::from_le_bytes(le_array(b, off))
}

// ---------------------------------------------------------------------------------------------
// Scalar formatting.

/// `0` or `0x1f`.
fn hex(v: u64) -> String {
    if v == 0 {
        "0".to_owned()
    } else {
        format!("{v:#x}")
    }
}

/// `NULL` or `0x7ffd…`.
fn ptr(v: u64) -> String {
    if v == 0 {
        "NULL".to_owned()
    } else {
        format!("{v:#x}")
    }
}

/// A file descriptor: decimal, `AT_FDCWD` by name.
fn fd(v: u64) -> String {
    match v as i32 {
        AT_FDCWD => "AT_FDCWD".to_owned(),
        fd => fd.to_string(),
    }
}

/// Quotes bytes as strace does: C escapes, other non-printable bytes in octal, `...` after
/// the closing quote when `truncated`.
fn quote(bytes: &[u8], truncated: bool) -> String {
    let mut s = String::with_capacity(bytes.len() + 5);
    s.push('"');
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\r' => s.push_str("\\r"),
            0x0b => s.push_str("\\v"),
            0x0c => s.push_str("\\f"),
            0x20..=0x7e => s.push(char::from(b)),
            _ => {
                // Three digits when an octal digit follows, so the escape stays unambiguous.
                if bytes.get(i + 1).is_some_and(|c| (b'0'..=b'7').contains(c)) {
                    let _ = write!(s, "\\{b:03o}");
                } else {
                    let _ = write!(s, "\\{b:o}");
                }
            }
        }
    }
    s.push('"');
    if truncated {
        s.push_str("...");
    }
    s
}

const S_IFMT: u32 = 0o170_000;
const FILE_TYPES: &[(u64, &str)] = &[
    (0o140_000, "S_IFSOCK"),
    (0o120_000, "S_IFLNK"),
    (0o100_000, "S_IFREG"),
    (0o060_000, "S_IFBLK"),
    (0o040_000, "S_IFDIR"),
    (0o020_000, "S_IFCHR"),
    (0o010_000, "S_IFIFO"),
];

/// A mode in octal (`0644`, `000`), with its file type by name (`S_IFREG|0644`).
fn mode(m: u32) -> String {
    let kind = lookup(u64::from(m & S_IFMT), FILE_TYPES);
    let perm = if kind.is_some() { m & !S_IFMT } else { m };
    let octal = format!("{:0>3}", format!("0{perm:o}"));
    match kind {
        Some(kind) => format!("{kind}|{octal}"),
        None => octal,
    }
}

/// The name of `v` in `table`.
fn lookup(v: u64, table: &[(u64, &'static str)]) -> Option<&'static str> {
    table
        .iter()
        .find(|&&(value, _)| value == v)
        .map(|&(_, name)| name)
}

/// The name of `v` in `table`, or `v` in hex.
fn named(v: u64, table: &[(u64, &'static str)]) -> String {
    lookup(v, table).map_or_else(|| hex(v), str::to_owned)
}

/// Appends the names of the bits of `rest` found in `table` (in table order; a multi-bit entry
/// matches only when all its bits are set), then the leftover bits in hex.
fn push_flags(parts: &mut Vec<String>, mut rest: u64, table: &[(u64, &str)]) {
    for &(bits, name) in table {
        if bits != 0 && rest & bits == bits {
            parts.push(name.to_owned());
            rest &= !bits;
        }
    }
    if rest != 0 {
        parts.push(format!("{rest:#x}"));
    }
}

/// A flag set: `A|B|0x80`, or `zero` when no bit is set.
fn flags(v: u64, table: &[(u64, &str)], zero: &str) -> String {
    let mut parts = Vec::new();
    push_flags(&mut parts, v, table);
    if parts.is_empty() {
        zero.to_owned()
    } else {
        parts.join("|")
    }
}

const O_CREAT: u32 = 0o100;
/// `__O_TMPFILE`: `O_TMPFILE` is this bit with `O_DIRECTORY`.
const O_TMPFILE_BIT: u32 = 0o20_000_000;
const OPEN_FLAGS: &[(u64, &str)] = &[
    (0o100, "O_CREAT"),
    (0o200, "O_EXCL"),
    (0o400, "O_NOCTTY"),
    (0o1000, "O_TRUNC"),
    (0o2000, "O_APPEND"),
    (0o4000, "O_NONBLOCK"),
    // O_SYNC is __O_SYNC|O_DSYNC.
    (0o4_010_000, "O_SYNC"),
    (0o10_000, "O_DSYNC"),
    (0o20_000, "O_ASYNC"),
    (0o40_000, "O_DIRECT"),
    (0o100_000, "O_LARGEFILE"),
    // O_TMPFILE is __O_TMPFILE|O_DIRECTORY.
    (0o20_200_000, "O_TMPFILE"),
    (0o200_000, "O_DIRECTORY"),
    (0o400_000, "O_NOFOLLOW"),
    (0o1_000_000, "O_NOATIME"),
    (0o2_000_000, "O_CLOEXEC"),
    (0o10_000_000, "O_PATH"),
];

/// `O_*` flags: the access mode, always, then the other bits.
fn open_flags(v: u32) -> String {
    let access = match v & 3 {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        2 => "O_RDWR",
        _ => "O_ACCMODE",
    };
    let mut parts = vec![access.to_owned()];
    push_flags(&mut parts, u64::from(v & !3), OPEN_FLAGS);
    parts.join("|")
}

/// `memfd_create` flags; a huge page size as strace prints it (`21<<MFD_HUGE_SHIFT`).
fn memfd_flags(v: u32) -> String {
    use snare_abi::file::mfd;
    let size = v >> mfd::HUGE_SHIFT & mfd::HUGE_MASK;
    let rest = v & !(mfd::HUGE_MASK << mfd::HUGE_SHIFT);
    let mut s = flags(u64::from(rest), MEMFD_FLAGS, "0");
    if size != 0 {
        s = if rest == 0 {
            format!("{size}<<MFD_HUGE_SHIFT")
        } else {
            format!("{s}|{size}<<MFD_HUGE_SHIFT")
        };
    }
    s
}

const MEMFD_FLAGS: &[(u64, &str)] = {
    use snare_abi::file::mfd::*;
    &[
        (CLOEXEC as u64, "MFD_CLOEXEC"),
        (ALLOW_SEALING as u64, "MFD_ALLOW_SEALING"),
        (HUGETLB as u64, "MFD_HUGETLB"),
        (NOEXEC_SEAL as u64, "MFD_NOEXEC_SEAL"),
        (EXEC as u64, "MFD_EXEC"),
    ]
};

const SPLICE_FLAGS: &[(u64, &str)] = {
    use snare_abi::file::splice::*;
    &[
        (SPLICE_F_MOVE as u64, "SPLICE_F_MOVE"),
        (SPLICE_F_NONBLOCK as u64, "SPLICE_F_NONBLOCK"),
        (SPLICE_F_MORE as u64, "SPLICE_F_MORE"),
        (SPLICE_F_GIFT as u64, "SPLICE_F_GIFT"),
    ]
};

const SEAL_FLAGS: &[(u64, &str)] = {
    use snare_abi::file::seal::*;
    &[
        (F_SEAL_SEAL as u64, "F_SEAL_SEAL"),
        (F_SEAL_SHRINK as u64, "F_SEAL_SHRINK"),
        (F_SEAL_GROW as u64, "F_SEAL_GROW"),
        (F_SEAL_WRITE as u64, "F_SEAL_WRITE"),
        (F_SEAL_FUTURE_WRITE as u64, "F_SEAL_FUTURE_WRITE"),
        (F_SEAL_EXEC as u64, "F_SEAL_EXEC"),
    ]
};

/// `fcntl` descriptor flags.
fn fd_flags(v: i64) -> String {
    flags(v as u64, &[(1, "FD_CLOEXEC")], "0")
}

/// `AT_*` flags; 0x200 is `AT_EACCESS` for `faccessat2` and `AT_REMOVEDIR` elsewhere.
fn at_flags(name: &str, v: u32) -> String {
    let x200 = if name == "faccessat2" {
        "AT_EACCESS"
    } else {
        "AT_REMOVEDIR"
    };
    let table = [
        (0x100, "AT_SYMLINK_NOFOLLOW"),
        (0x200, x200),
        (0x400, "AT_SYMLINK_FOLLOW"),
        (0x800, "AT_NO_AUTOMOUNT"),
        (0x1000, "AT_EMPTY_PATH"),
        (0x2000, "AT_STATX_FORCE_SYNC"),
        (0x4000, "AT_STATX_DONT_SYNC"),
        (0x8000, "AT_RECURSIVE"),
    ];
    flags(u64::from(v), &table, "0")
}

const ACCESS_MODES: &[(u64, &str)] = &[(4, "R_OK"), (2, "W_OK"), (1, "X_OK")];

const PROT_FLAGS: &[(u64, &str)] = &[
    (0x1, "PROT_READ"),
    (0x2, "PROT_WRITE"),
    (0x4, "PROT_EXEC"),
    (0x8, "PROT_SEM"),
    (0x0100_0000, "PROT_GROWSDOWN"),
    (0x0200_0000, "PROT_GROWSUP"),
];

const MAP_TYPES: &[(u64, &str)] = &[
    (1, "MAP_SHARED"),
    (2, "MAP_PRIVATE"),
    (3, "MAP_SHARED_VALIDATE"),
    (8, "MAP_DROPPABLE"),
];
const MAP_HUGETLB: u64 = 0x40000;
const MAP_HUGE_SHIFT: u32 = 26;
const MAP_FLAGS: &[(u64, &str)] = &[
    (0x10, "MAP_FIXED"),
    (0x20, "MAP_ANONYMOUS"),
    (0x40, "MAP_32BIT"),
    (0x100, "MAP_GROWSDOWN"),
    (0x800, "MAP_DENYWRITE"),
    (0x1000, "MAP_EXECUTABLE"),
    (0x2000, "MAP_LOCKED"),
    (0x4000, "MAP_NORESERVE"),
    (0x8000, "MAP_POPULATE"),
    (0x10000, "MAP_NONBLOCK"),
    (0x20000, "MAP_STACK"),
    (0x40000, "MAP_HUGETLB"),
    (0x80000, "MAP_SYNC"),
    (0x0010_0000, "MAP_FIXED_NOREPLACE"),
    (0x0400_0000, "MAP_UNINITIALIZED"),
];

/// `MAP_*` flags: the mapping type first, then the flags; a huge page size as
/// `21<<MAP_HUGE_SHIFT`.
fn mmap_flags(v: u64) -> String {
    let mut parts = Vec::new();
    let mut rest = v & !0xf;
    match lookup(v & 0xf, MAP_TYPES) {
        Some(kind) => parts.push(kind.to_owned()),
        None => rest |= v & 0xf,
    }
    let huge = (rest >> MAP_HUGE_SHIFT) & 0x3f;
    if rest & MAP_HUGETLB != 0 && huge != 0 {
        rest &= !(0x3f << MAP_HUGE_SHIFT);
        push_flags(&mut parts, rest, MAP_FLAGS);
        parts.push(format!("{huge}<<MAP_HUGE_SHIFT"));
    } else {
        push_flags(&mut parts, rest, MAP_FLAGS);
    }
    if parts.is_empty() {
        "0".to_owned()
    } else {
        parts.join("|")
    }
}

const CLONE_FLAGS: &[(u64, &str)] = &[
    (0x80, "CLONE_NEWTIME"),
    (0x100, "CLONE_VM"),
    (0x200, "CLONE_FS"),
    (0x400, "CLONE_FILES"),
    (0x800, "CLONE_SIGHAND"),
    (0x1000, "CLONE_PIDFD"),
    (0x2000, "CLONE_PTRACE"),
    (0x4000, "CLONE_VFORK"),
    (0x8000, "CLONE_PARENT"),
    (0x10000, "CLONE_THREAD"),
    (0x20000, "CLONE_NEWNS"),
    (0x40000, "CLONE_SYSVSEM"),
    (0x80000, "CLONE_SETTLS"),
    (0x0010_0000, "CLONE_PARENT_SETTID"),
    (0x0020_0000, "CLONE_CHILD_CLEARTID"),
    (0x0040_0000, "CLONE_DETACHED"),
    (0x0080_0000, "CLONE_UNTRACED"),
    (0x0100_0000, "CLONE_CHILD_SETTID"),
    (0x0200_0000, "CLONE_NEWCGROUP"),
    (0x0400_0000, "CLONE_NEWUTS"),
    (0x0800_0000, "CLONE_NEWIPC"),
    (0x1000_0000, "CLONE_NEWUSER"),
    (0x2000_0000, "CLONE_NEWPID"),
    (0x4000_0000, "CLONE_NEWNET"),
    (0x8000_0000, "CLONE_IO"),
];

/// `CLONE_*` flags; for `clone` itself the low byte is the exit signal (`…|SIGCHLD`).
fn clone_flags(v: u64, exit_signal_in_low_byte: bool) -> String {
    let mut parts = Vec::new();
    if exit_signal_in_low_byte {
        push_flags(&mut parts, v & !0xff, CLONE_FLAGS);
        if v & 0xff != 0 {
            parts.push(signal((v & 0xff) as i64));
        }
    } else {
        push_flags(&mut parts, v, CLONE_FLAGS);
    }
    if parts.is_empty() {
        "0".to_owned()
    } else {
        parts.join("|")
    }
}

const FUTEX_PRIVATE_FLAG: u32 = 128;
const FUTEX_CLOCK_REALTIME: u32 = 256;
const FUTEX_CMD_MASK: u32 = !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
const FUTEX_CMDS: &[(u64, &str)] = &[
    (0, "FUTEX_WAIT"),
    (1, "FUTEX_WAKE"),
    (2, "FUTEX_FD"),
    (3, "FUTEX_REQUEUE"),
    (4, "FUTEX_CMP_REQUEUE"),
    (5, "FUTEX_WAKE_OP"),
    (6, "FUTEX_LOCK_PI"),
    (7, "FUTEX_UNLOCK_PI"),
    (8, "FUTEX_TRYLOCK_PI"),
    (9, "FUTEX_WAIT_BITSET"),
    (10, "FUTEX_WAKE_BITSET"),
    (11, "FUTEX_WAIT_REQUEUE_PI"),
    (12, "FUTEX_CMP_REQUEUE_PI"),
    (13, "FUTEX_LOCK_PI2"),
];

/// `FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME`.
fn futex_op(op: u32) -> String {
    let Some(cmd) = lookup(u64::from(op & FUTEX_CMD_MASK), FUTEX_CMDS) else {
        return hex(u64::from(op));
    };
    let mut s = cmd.to_owned();
    if op & FUTEX_PRIVATE_FLAG != 0 {
        s.push_str("_PRIVATE");
    }
    if op & FUTEX_CLOCK_REALTIME != 0 {
        s.push_str("|FUTEX_CLOCK_REALTIME");
    }
    s
}

const WHENCE: &[(u64, &str)] = &[
    (0, "SEEK_SET"),
    (1, "SEEK_CUR"),
    (2, "SEEK_END"),
    (3, "SEEK_DATA"),
    (4, "SEEK_HOLE"),
];

const IOCTL_CMDS: &[(u64, &str)] = &[
    (0x5401, "TCGETS"),
    (0x5402, "TCSETS"),
    (0x5403, "TCSETSW"),
    (0x5404, "TCSETSF"),
    (0x5405, "TCGETA"),
    (0x5406, "TCSETA"),
    (0x5407, "TCSETAW"),
    (0x5408, "TCSETAF"),
    (0x5409, "TCSBRK"),
    (0x540a, "TCXONC"),
    (0x540b, "TCFLSH"),
    (0x540c, "TIOCEXCL"),
    (0x540d, "TIOCNXCL"),
    (0x540e, "TIOCSCTTY"),
    (0x540f, "TIOCGPGRP"),
    (0x5410, "TIOCSPGRP"),
    (0x5411, "TIOCOUTQ"),
    (0x5412, "TIOCSTI"),
    (0x5413, "TIOCGWINSZ"),
    (0x5414, "TIOCSWINSZ"),
    (0x5415, "TIOCMGET"),
    (0x5416, "TIOCMBIS"),
    (0x5417, "TIOCMBIC"),
    (0x5418, "TIOCMSET"),
    (0x541b, "FIONREAD"),
    (0x541c, "TIOCLINUX"),
    (0x541d, "TIOCCONS"),
    (0x5420, "TIOCPKT"),
    (0x5421, "FIONBIO"),
    (0x5422, "TIOCNOTTY"),
    (0x5423, "TIOCSETD"),
    (0x5424, "TIOCGETD"),
    (0x5425, "TCSBRKP"),
    (0x5429, "TIOCGSID"),
    (0x802c_542a, "TCGETS2"),
    (0x402c_542b, "TCSETS2"),
    (0x8004_5430, "TIOCGPTN"),
    (0x4004_5431, "TIOCSPTLCK"),
    (0x5441, "TIOCGPTPEER"),
    (0x5450, "FIONCLEX"),
    (0x5451, "FIOCLEX"),
    (0x5452, "FIOASYNC"),
    (0x5460, "FIOQSIZE"),
    (0x4004_9409, "FICLONE"),
    (0x8008_6601, "FS_IOC_GETFLAGS"),
    (0x4008_6602, "FS_IOC_SETFLAGS"),
];

/// An ioctl request: by name, else its `_IOC` fields.
fn ioctl_cmd(v: u64) -> String {
    let v = v as u32;
    if let Some(name) = lookup(u64::from(v), IOCTL_CMDS) {
        return name.to_owned();
    }
    let (dir, size, kind, nr) = (v >> 30, (v >> 16) & 0x3fff, (v >> 8) & 0xff, v & 0xff);
    if kind == 0 {
        return hex(u64::from(v));
    }
    let dir = [
        "_IOC_NONE",
        "_IOC_WRITE",
        "_IOC_READ",
        "_IOC_READ|_IOC_WRITE",
    ][dir as usize];
    format!("_IOC({dir}, {kind:#x}, {nr:#x}, {})", hex(u64::from(size)))
}

const F_DUPFD: u32 = 0;
const F_GETFD: u32 = 1;
const F_SETFD: u32 = 2;
const F_GETFL: u32 = 3;
const F_SETFL: u32 = 4;
const F_GETLK: u32 = 5;
const F_SETLK: u32 = 6;
const F_SETLKW: u32 = 7;
const F_SETOWN: u32 = 8;
const F_GETOWN: u32 = 9;
const F_SETSIG: u32 = 10;
const F_GETSIG: u32 = 11;
const F_SETOWN_EX: u32 = 15;
const F_GETOWN_EX: u32 = 16;
const F_OFD_GETLK: u32 = 36;
const F_OFD_SETLK: u32 = 37;
const F_OFD_SETLKW: u32 = 38;
const F_SETLEASE: u32 = 1024;
const F_GETLEASE: u32 = 1025;
const F_DUPFD_CLOEXEC: u32 = 1030;
const F_SETPIPE_SZ: u32 = 1031;
const F_GETPIPE_SZ: u32 = 1032;
const F_ADD_SEALS: u32 = snare_abi::file::seal::F_ADD_SEALS as u32;
const F_GET_SEALS: u32 = snare_abi::file::seal::F_GET_SEALS as u32;
const FCNTL_CMDS: &[(u64, &str)] = &[
    (0, "F_DUPFD"),
    (1, "F_GETFD"),
    (2, "F_SETFD"),
    (3, "F_GETFL"),
    (4, "F_SETFL"),
    (5, "F_GETLK"),
    (6, "F_SETLK"),
    (7, "F_SETLKW"),
    (8, "F_SETOWN"),
    (9, "F_GETOWN"),
    (10, "F_SETSIG"),
    (11, "F_GETSIG"),
    (15, "F_SETOWN_EX"),
    (16, "F_GETOWN_EX"),
    (17, "F_GETOWNER_UIDS"),
    (36, "F_OFD_GETLK"),
    (37, "F_OFD_SETLK"),
    (38, "F_OFD_SETLKW"),
    (1024, "F_SETLEASE"),
    (1025, "F_GETLEASE"),
    (1026, "F_NOTIFY"),
    (1027, "F_DUPFD_QUERY"),
    (1028, "F_CREATED_QUERY"),
    (1030, "F_DUPFD_CLOEXEC"),
    (1031, "F_SETPIPE_SZ"),
    (1032, "F_GETPIPE_SZ"),
    (1033, "F_ADD_SEALS"),
    (1034, "F_GET_SEALS"),
    (1035, "F_GET_RW_HINT"),
    (1036, "F_SET_RW_HINT"),
    (1037, "F_GET_FILE_RW_HINT"),
    (1038, "F_SET_FILE_RW_HINT"),
];

const CLOCK_IDS: &[(u64, &str)] = &[
    (0, "CLOCK_REALTIME"),
    (1, "CLOCK_MONOTONIC"),
    (2, "CLOCK_PROCESS_CPUTIME_ID"),
    (3, "CLOCK_THREAD_CPUTIME_ID"),
    (4, "CLOCK_MONOTONIC_RAW"),
    (5, "CLOCK_REALTIME_COARSE"),
    (6, "CLOCK_MONOTONIC_COARSE"),
    (7, "CLOCK_BOOTTIME"),
    (8, "CLOCK_REALTIME_ALARM"),
    (9, "CLOCK_BOOTTIME_ALARM"),
    (10, "CLOCK_SGI_CYCLE"),
    (11, "CLOCK_TAI"),
];

/// A clock id: by name, or a decoded CPU clock (`MAKE_PROCESS_CPUCLOCK(42, CPUCLOCK_SCHED)`)
/// or fd clock (`FD_TO_CLOCKID(3)`).
fn clock_id(v: i32) -> String {
    if v >= 0 {
        return lookup(v as u64, CLOCK_IDS).map_or_else(|| v.to_string(), str::to_owned);
    }
    // Negative ids: `(~pid << 3) | which`, <linux/posix-timers.h>.
    use snare_abi::time::*;
    let id = cpuclock_pid(v);
    if v & (CPUCLOCK_PERTHREAD | CPUCLOCK_WHICH) == CLOCKFD {
        return format!("FD_TO_CLOCKID({id})");
    }
    let which = match v & CPUCLOCK_WHICH {
        CPUCLOCK_PROF => "CPUCLOCK_PROF",
        CPUCLOCK_VIRT => "CPUCLOCK_VIRT",
        CPUCLOCK_SCHED => "CPUCLOCK_SCHED",
        _ => return v.to_string(),
    };
    let scope = if v & CPUCLOCK_PERTHREAD != 0 {
        "THREAD"
    } else {
        "PROCESS"
    };
    format!("MAKE_{scope}_CPUCLOCK({id}, {which})")
}

const ARCH_PRCTL_CODES: &[(u64, &str)] = &[
    (0x1001, "ARCH_SET_GS"),
    (0x1002, "ARCH_SET_FS"),
    (0x1003, "ARCH_GET_FS"),
    (0x1004, "ARCH_GET_GS"),
    (0x1011, "ARCH_GET_CPUID"),
    (0x1012, "ARCH_SET_CPUID"),
    (0x1021, "ARCH_GET_XCOMP_SUPP"),
    (0x1022, "ARCH_GET_XCOMP_PERM"),
    (0x1023, "ARCH_REQ_XCOMP_PERM"),
    (0x1024, "ARCH_GET_XCOMP_GUEST_PERM"),
    (0x1025, "ARCH_REQ_XCOMP_GUEST_PERM"),
    (0x1031, "ARCH_XCOMP_TILECFG"),
    (0x1032, "ARCH_XCOMP_TILEDATA"),
    (0x2001, "ARCH_MAP_VDSO_X32"),
    (0x2002, "ARCH_MAP_VDSO_32"),
    (0x2003, "ARCH_MAP_VDSO_64"),
    (0x4001, "ARCH_GET_UNTAG_MASK"),
    (0x4002, "ARCH_ENABLE_TAGGED_ADDR"),
    (0x4003, "ARCH_GET_MAX_TAG_BITS"),
    (0x4004, "ARCH_FORCE_TAGGED_SVA"),
    (0x5001, "ARCH_SHSTK_ENABLE"),
    (0x5002, "ARCH_SHSTK_DISABLE"),
    (0x5003, "ARCH_SHSTK_LOCK"),
    (0x5004, "ARCH_SHSTK_UNLOCK"),
    (0x5005, "ARCH_SHSTK_STATUS"),
];

const PRCTL_OPTIONS: &[(u64, &str)] = &[
    (1, "PR_SET_PDEATHSIG"),
    (2, "PR_GET_PDEATHSIG"),
    (3, "PR_GET_DUMPABLE"),
    (4, "PR_SET_DUMPABLE"),
    (5, "PR_GET_UNALIGN"),
    (6, "PR_SET_UNALIGN"),
    (7, "PR_GET_KEEPCAPS"),
    (8, "PR_SET_KEEPCAPS"),
    (9, "PR_GET_FPEMU"),
    (10, "PR_SET_FPEMU"),
    (11, "PR_GET_FPEXC"),
    (12, "PR_SET_FPEXC"),
    (13, "PR_GET_TIMING"),
    (14, "PR_SET_TIMING"),
    (15, "PR_SET_NAME"),
    (16, "PR_GET_NAME"),
    (19, "PR_GET_ENDIAN"),
    (20, "PR_SET_ENDIAN"),
    (21, "PR_GET_SECCOMP"),
    (22, "PR_SET_SECCOMP"),
    (23, "PR_CAPBSET_READ"),
    (24, "PR_CAPBSET_DROP"),
    (25, "PR_GET_TSC"),
    (26, "PR_SET_TSC"),
    (27, "PR_GET_SECUREBITS"),
    (28, "PR_SET_SECUREBITS"),
    (29, "PR_SET_TIMERSLACK"),
    (30, "PR_GET_TIMERSLACK"),
    (31, "PR_TASK_PERF_EVENTS_DISABLE"),
    (32, "PR_TASK_PERF_EVENTS_ENABLE"),
    (33, "PR_MCE_KILL"),
    (34, "PR_MCE_KILL_GET"),
    (35, "PR_SET_MM"),
    (36, "PR_SET_CHILD_SUBREAPER"),
    (37, "PR_GET_CHILD_SUBREAPER"),
    (38, "PR_SET_NO_NEW_PRIVS"),
    (39, "PR_GET_NO_NEW_PRIVS"),
    (40, "PR_GET_TID_ADDRESS"),
    (41, "PR_SET_THP_DISABLE"),
    (42, "PR_GET_THP_DISABLE"),
    (43, "PR_MPX_ENABLE_MANAGEMENT"),
    (44, "PR_MPX_DISABLE_MANAGEMENT"),
    (45, "PR_SET_FP_MODE"),
    (46, "PR_GET_FP_MODE"),
    (47, "PR_CAP_AMBIENT"),
    (50, "PR_SVE_SET_VL"),
    (51, "PR_SVE_GET_VL"),
    (52, "PR_GET_SPECULATION_CTRL"),
    (53, "PR_SET_SPECULATION_CTRL"),
    (54, "PR_PAC_RESET_KEYS"),
    (55, "PR_SET_TAGGED_ADDR_CTRL"),
    (56, "PR_GET_TAGGED_ADDR_CTRL"),
    (57, "PR_SET_IO_FLUSHER"),
    (58, "PR_GET_IO_FLUSHER"),
    (59, "PR_SET_SYSCALL_USER_DISPATCH"),
    (60, "PR_PAC_SET_ENABLED_KEYS"),
    (61, "PR_PAC_GET_ENABLED_KEYS"),
    (62, "PR_SCHED_CORE"),
    (63, "PR_SME_SET_VL"),
    (64, "PR_SME_GET_VL"),
    (65, "PR_SET_MDWE"),
    (66, "PR_GET_MDWE"),
    (67, "PR_SET_MEMORY_MERGE"),
    (68, "PR_GET_MEMORY_MERGE"),
    (69, "PR_RISCV_V_SET_CONTROL"),
    (70, "PR_RISCV_V_GET_CONTROL"),
    (71, "PR_RISCV_SET_ICACHE_FLUSH_CTX"),
    (72, "PR_PPC_GET_DEXCR"),
    (73, "PR_PPC_SET_DEXCR"),
    (74, "PR_GET_SHADOW_STACK_STATUS"),
    (75, "PR_SET_SHADOW_STACK_STATUS"),
    (76, "PR_LOCK_SHADOW_STACK_STATUS"),
    (77, "PR_TIMER_CREATE_RESTORE_IDS"),
    (78, "PR_FUTEX_HASH"),
    (0x5356_4d41, "PR_SET_VMA"),
    (0x5961_6d61, "PR_SET_PTRACER"),
];

const SIG_HOWS: &[(u64, &str)] = &[(0, "SIG_BLOCK"), (1, "SIG_UNBLOCK"), (2, "SIG_SETMASK")];

const RLIMIT_RESOURCES: &[(u64, &str)] = &[
    (0, "RLIMIT_CPU"),
    (1, "RLIMIT_FSIZE"),
    (2, "RLIMIT_DATA"),
    (3, "RLIMIT_STACK"),
    (4, "RLIMIT_CORE"),
    (5, "RLIMIT_RSS"),
    (6, "RLIMIT_NPROC"),
    (7, "RLIMIT_NOFILE"),
    (8, "RLIMIT_MEMLOCK"),
    (9, "RLIMIT_AS"),
    (10, "RLIMIT_LOCKS"),
    (11, "RLIMIT_SIGPENDING"),
    (12, "RLIMIT_MSGQUEUE"),
    (13, "RLIMIT_NICE"),
    (14, "RLIMIT_RTPRIO"),
    (15, "RLIMIT_RTTIME"),
];

const AF_UNIX: u64 = snare_abi::socket::AF_UNIX as u64;
const AF_INET: u64 = snare_abi::socket::AF_INET as u64;
const AF_INET6: u64 = snare_abi::socket::AF_INET6 as u64;
const ADDRESS_FAMILIES: &[(u64, &str)] = &[
    (0, "AF_UNSPEC"),
    (1, "AF_UNIX"),
    (2, "AF_INET"),
    (3, "AF_AX25"),
    (4, "AF_IPX"),
    (5, "AF_APPLETALK"),
    (6, "AF_NETROM"),
    (7, "AF_BRIDGE"),
    (8, "AF_ATMPVC"),
    (9, "AF_X25"),
    (10, "AF_INET6"),
    (11, "AF_ROSE"),
    (12, "AF_DECnet"),
    (13, "AF_NETBEUI"),
    (14, "AF_SECURITY"),
    (15, "AF_KEY"),
    (16, "AF_NETLINK"),
    (17, "AF_PACKET"),
    (18, "AF_ASH"),
    (19, "AF_ECONET"),
    (20, "AF_ATMSVC"),
    (21, "AF_RDS"),
    (22, "AF_SNA"),
    (23, "AF_IRDA"),
    (24, "AF_PPPOX"),
    (25, "AF_WANPIPE"),
    (26, "AF_LLC"),
    (27, "AF_IB"),
    (28, "AF_MPLS"),
    (29, "AF_CAN"),
    (30, "AF_TIPC"),
    (31, "AF_BLUETOOTH"),
    (32, "AF_IUCV"),
    (33, "AF_RXRPC"),
    (34, "AF_ISDN"),
    (35, "AF_PHONET"),
    (36, "AF_IEEE802154"),
    (37, "AF_CAIF"),
    (38, "AF_ALG"),
    (39, "AF_NFC"),
    (40, "AF_VSOCK"),
    (41, "AF_KCM"),
    (42, "AF_QIPCRTR"),
    (43, "AF_SMC"),
    (44, "AF_XDP"),
    (45, "AF_MCTP"),
];

const SOCKET_TYPES: &[(u64, &str)] = &[
    (1, "SOCK_STREAM"),
    (2, "SOCK_DGRAM"),
    (3, "SOCK_RAW"),
    (4, "SOCK_RDM"),
    (5, "SOCK_SEQPACKET"),
    (6, "SOCK_DCCP"),
    (10, "SOCK_PACKET"),
];

/// `SOCK_STREAM|SOCK_CLOEXEC`.
fn socket_type(v: u32) -> String {
    let mut parts = vec![named(u64::from(v & 0xf), SOCKET_TYPES)];
    push_flags(
        &mut parts,
        u64::from(v & !0xf),
        &[(0o4000, "SOCK_NONBLOCK"), (0o2_000_000, "SOCK_CLOEXEC")],
    );
    parts.join("|")
}

/// A socket address: `{sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("1.2.3.4")}`.
fn sockaddr(b: &[u8]) -> String {
    let family = u64::from(le_u16(b, 0));
    let name = named(family, ADDRESS_FAMILIES);
    match family {
        AF_UNIX if b.len() > 2 => {
            let path = &b[2..];
            if path[0] == 0 {
                format!(
                    "{{sa_family={name}, sun_path=@{}}}",
                    quote(&path[1..], false)
                )
            } else {
                let end = path.iter().position(|&c| c == 0).unwrap_or(path.len());
                format!(
                    "{{sa_family={name}, sun_path={}}}",
                    quote(&path[..end], false)
                )
            }
        }
        AF_INET if b.len() >= 8 => {
            let port = u16::from_be_bytes(le_array(b, 2));
            let addr = Ipv4Addr::from(le_array::<4>(b, 4));
            format!("{{sa_family={name}, sin_port=htons({port}), sin_addr=inet_addr(\"{addr}\")}}")
        }
        AF_INET6 if b.len() >= 24 => {
            let port = u16::from_be_bytes(le_array(b, 2));
            let flow = u32::from_be_bytes(le_array(b, 4));
            let addr = Ipv6Addr::from(le_array::<16>(b, 8));
            let mut s = format!(
                "{{sa_family={name}, sin6_port=htons({port}), sin6_flowinfo=htonl({flow}), \
                 inet_pton({name}, \"{addr}\", &sin6_addr)"
            );
            if b.len() >= 28 {
                let _ = write!(s, ", sin6_scope_id={}", le_u32(b, 24));
            }
            s.push('}');
            s
        }
        _ => format!("{{sa_family={name}, ...}}"),
    }
}

const POLL_EVENTS: &[(u64, &str)] = &[
    (0x1, "POLLIN"),
    (0x2, "POLLPRI"),
    (0x4, "POLLOUT"),
    (0x8, "POLLERR"),
    (0x10, "POLLHUP"),
    (0x20, "POLLNVAL"),
    (0x40, "POLLRDNORM"),
    (0x80, "POLLRDBAND"),
    (0x100, "POLLWRNORM"),
    (0x200, "POLLWRBAND"),
    (0x400, "POLLMSG"),
    (0x1000, "POLLREMOVE"),
    (0x2000, "POLLRDHUP"),
];

const SA_RESTORER: u64 = 0x0400_0000;
const SA_FLAGS: &[(u64, &str)] = &[
    (0x1, "SA_NOCLDSTOP"),
    (0x2, "SA_NOCLDWAIT"),
    (0x4, "SA_SIGINFO"),
    (0x400, "SA_UNSUPPORTED"),
    (0x800, "SA_EXPOSE_TAGBITS"),
    (SA_RESTORER, "SA_RESTORER"),
    (0x0800_0000, "SA_ONSTACK"),
    (0x1000_0000, "SA_RESTART"),
    (0x4000_0000, "SA_NODEFER"),
    (0x8000_0000, "SA_RESETHAND"),
];

const SIGNALS: [&str; 31] = [
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
];

/// A signal by name: `SIGTERM`, `SIGRTMIN`, `SIGRT_3`; other numbers in decimal.
fn signal(sig: i64) -> String {
    match sig {
        1..=31 => SIGNALS[sig as usize - 1].to_owned(),
        32 => "SIGRTMIN".to_owned(),
        33..=64 => format!("SIGRT_{}", sig - 32),
        _ => sig.to_string(),
    }
}

/// A 64-signal set: `[INT TERM]`; when more than half the signals are in it, the complement:
/// `~[KILL STOP]`.
fn sigset(set: u64) -> String {
    let (prefix, bits) = if set.count_ones() > 32 {
        ("~", !set)
    } else {
        ("", set)
    };
    let names: Vec<String> = (0..64u32)
        .filter(|&bit| bits & (1u64 << bit) != 0)
        .map(|bit| {
            let name = signal(i64::from(bit) + 1);
            name.strip_prefix("SIG").unwrap_or(&name).to_owned()
        })
        .collect();
    format!("{prefix}[{}]", names.join(" "))
}

/// A `wait4` status: `WIFEXITED(s) && WEXITSTATUS(s) == 0`.
fn wait_status(s: i32) -> String {
    if s & 0x7f == 0 {
        format!("{{WIFEXITED(s) && WEXITSTATUS(s) == {}}}", (s >> 8) & 0xff)
    } else if s & 0xff == 0x7f {
        format!(
            "{{WIFSTOPPED(s) && WSTOPSIG(s) == {}}}",
            signal(i64::from((s >> 8) & 0xff))
        )
    } else if s == 0xffff {
        "{WIFCONTINUED(s)}".to_owned()
    } else {
        let core = if s & 0x80 != 0 {
            " && WCOREDUMP(s)"
        } else {
            ""
        };
        format!(
            "{{WIFSIGNALED(s) && WTERMSIG(s) == {}{core}}}",
            signal(i64::from(s & 0x7f))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::FlatMemory;
    use snare_syscalls_table::nr;

    /// Guest memory at 0x10000..0x12000 for the tests.
    const BASE: u64 = 0x10000;

    fn memory() -> FlatMemory {
        FlatMemory {
            base: BASE,
            bytes: std::cell::RefCell::new(vec![0; 0x2000]),
        }
    }

    /// Writes `data` at `addr` and returns `addr`.
    fn put(mem: &FlatMemory, addr: u64, data: &[u8]) -> u64 {
        mem.write(addr, data)
            .expect("test address inside FlatMemory");
        addr
    }

    fn put_u64s(mem: &FlatMemory, addr: u64, values: &[u64]) -> u64 {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        put(mem, addr, &bytes)
    }

    fn args(a: &[u64]) -> [u64; 6] {
        let mut out = [0; 6];
        out[..a.len()].copy_from_slice(a);
        out
    }

    fn n(nr: u32) -> u64 {
        u64::from(nr)
    }

    const AT: u64 = (-100i64) as u64;
    const O_CLOEXEC: u64 = 0o2_000_000;

    #[test]
    fn openat_entry_and_exit() {
        let mem = memory();
        let path = put(&mem, BASE, b"/etc/passwd\0");
        let a = args(&[AT, path, O_CLOEXEC, 0]);
        assert_eq!(
            format_entry(n(nr::OPENAT), a, &mem),
            r#"openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC)"#
        );
        assert_eq!(
            format_exit(n(nr::OPENAT), a, 3, &mem),
            r#"openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC) = 3"#
        );
    }

    #[test]
    fn errors_print_name_and_description() {
        let mem = memory();
        let path = put(&mem, BASE, b"/nope\0");
        let a = args(&[AT, path, 0, 0]);
        assert_eq!(
            format_exit(n(nr::OPENAT), a, Errno::ENOENT.to_ret(), &mem),
            r#"openat(AT_FDCWD, "/nope", O_RDONLY) = -1 ENOENT (No such file or directory)"#
        );
        // A number with no name, and an internal restart code.
        assert_eq!(
            format_exit(n(nr::CLOSE), args(&[3]), -4000, &mem),
            "close(3) = -1 ERRNO_4000 (Unknown error 4000)"
        );
        assert!(
            format_exit(n(nr::CLOSE), args(&[3]), Errno::ERESTARTSYS.to_ret(), &mem)
                .starts_with("close(3) = ? ERESTARTSYS (")
        );
    }

    #[test]
    fn open_mode_only_when_creating() {
        let mem = memory();
        let path = put(&mem, BASE, b"f\0");
        let creat = 0o1 | 0o100 | 0o1000;
        assert_eq!(
            format_entry(n(nr::OPENAT), args(&[5, path, creat, 0o644]), &mem),
            r#"openat(5, "f", O_WRONLY|O_CREAT|O_TRUNC, 0644)"#
        );
        assert_eq!(
            format_entry(n(nr::OPEN), args(&[path, 0o20_200_002, 0o600]), &mem),
            r#"open("f", O_RDWR|O_TMPFILE, 0600)"#
        );
        assert_eq!(
            format_entry(n(nr::OPEN), args(&[path, 0o4_010_000, 0o600]), &mem),
            r#"open("f", O_RDONLY|O_SYNC)"#
        );
    }

    #[test]
    fn memfd_splice_and_seal_flags() {
        let mem = memory();
        let name = put(&mem, BASE, b"m\0");
        assert_eq!(
            format_entry(n(nr::MEMFD_CREATE), args(&[name, 0x3]), &mem),
            r#"memfd_create("m", MFD_CLOEXEC|MFD_ALLOW_SEALING)"#
        );
        assert_eq!(
            format_entry(n(nr::MEMFD_CREATE), args(&[name, 0x4 | 21 << 26]), &mem),
            r#"memfd_create("m", MFD_HUGETLB|21<<MFD_HUGE_SHIFT)"#
        );
        assert_eq!(
            format_entry(n(nr::TEE), args(&[3, 4, 10, 0x6]), &mem),
            "tee(3, 4, 10, SPLICE_F_NONBLOCK|SPLICE_F_MORE)"
        );
        assert_eq!(
            format_entry(n(nr::FCNTL), args(&[3, 1033, 0xc]), &mem),
            "fcntl(3, F_ADD_SEALS, F_SEAL_GROW|F_SEAL_WRITE)"
        );
        assert_eq!(
            format_exit(n(nr::FCNTL), args(&[3, 1034]), 0x9, &mem),
            "fcntl(3, F_GET_SEALS) = 0x9 (seals F_SEAL_SEAL|F_SEAL_WRITE)"
        );
    }

    #[test]
    fn flags_with_unknown_bits() {
        let mem = memory();
        let path = put(&mem, BASE, b"x\0");
        assert_eq!(
            format_entry(n(nr::OPENAT), args(&[AT, path, 0x8000_0000, 0]), &mem),
            r#"openat(AT_FDCWD, "x", O_RDONLY|0x80000000)"#
        );
        assert_eq!(
            format_entry(n(nr::MPROTECT), args(&[0x1000, 4096, 0x5 | 0x40]), &mem),
            "mprotect(0x1000, 4096, PROT_READ|PROT_EXEC|0x40)"
        );
        assert_eq!(
            format_entry(n(nr::MPROTECT), args(&[0x1000, 4096, 0]), &mem),
            "mprotect(0x1000, 4096, PROT_NONE)"
        );
        assert_eq!(
            format_entry(n(nr::ACCESS), args(&[path, 0]), &mem),
            r#"access("x", F_OK)"#
        );
        assert_eq!(
            format_entry(n(nr::ACCESS), args(&[path, 6]), &mem),
            r#"access("x", R_OK|W_OK)"#
        );
        assert_eq!(
            format_entry(n(nr::UNLINKAT), args(&[AT, path, 0x200]), &mem),
            r#"unlinkat(AT_FDCWD, "x", AT_REMOVEDIR)"#
        );
        assert_eq!(
            format_entry(n(nr::FACCESSAT2), args(&[AT, path, 1, 0x1200]), &mem),
            r#"faccessat2(AT_FDCWD, "x", X_OK, AT_EACCESS|AT_EMPTY_PATH)"#
        );
    }

    #[test]
    fn mmap_line() {
        let mem = memory();
        let a = args(&[0, 8192, 3, 0x22, u64::MAX, 0]);
        assert_eq!(
            format_exit(n(nr::MMAP), a, 0x7f12_3456_7000, &mem),
            "mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f1234567000"
        );
        let a = args(&[0x7f00_0000_0000, 4096, 1, 0x2 | 0x10 | 0x800, 3, 0x1d000]);
        assert_eq!(
            format_entry(n(nr::MMAP), a, &mem),
            "mmap(0x7f0000000000, 4096, PROT_READ, MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE, 3, 0x1d000)"
        );
        let a = args(&[
            0,
            4096,
            3,
            0x1 | 0x0010_0000 | 0x20000 | 0x4000 | 0x8000 | 0x100,
            3,
            0,
        ]);
        assert_eq!(
            format_entry(n(nr::MMAP), a, &mem),
            "mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_GROWSDOWN|MAP_NORESERVE|\
             MAP_POPULATE|MAP_STACK|MAP_FIXED_NOREPLACE, 3, 0)"
        );
        let a = args(&[0, 1 << 21, 3, 0x22 | MAP_HUGETLB | (21 << 26), u64::MAX, 0]);
        assert_eq!(
            format_entry(n(nr::MMAP), a, &mem),
            "mmap(NULL, 2097152, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|\
             21<<MAP_HUGE_SHIFT, -1, 0)"
        );
        // mmap failing: the address shape does not hide the error.
        assert_eq!(
            format_exit(n(nr::MMAP), args(&[0, 1, 3, 0x22, u64::MAX, 0]), -12, &mem),
            "mmap(NULL, 1, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = -1 ENOMEM \
             (Cannot allocate memory)"
        );
        assert_eq!(
            format_exit(n(nr::BRK), args(&[0]), 0x5555_5555_9000, &mem),
            "brk(NULL) = 0x555555559000"
        );
    }

    #[test]
    fn strings_are_escaped() {
        let mem = memory();
        let buf = put(&mem, BASE, b"a\"b\\c\n\t\r\x0b\x0c\x00\x01\x7f\xff9\x1b[");
        assert_eq!(
            format_entry(n(nr::WRITE), args(&[1, buf, 17]), &mem),
            r#"write(1, "a\"b\\c\n\t\r\v\f\0\1\177\3779\33[", 17)"#
        );
        // An octal digit after an escape forces three digits.
        let buf = put(&mem, BASE, b"\x001\x07");
        assert_eq!(
            format_entry(n(nr::WRITE), args(&[1, buf, 3]), &mem),
            r#"write(1, "\0001\7", 3)"#
        );
    }

    #[test]
    fn long_buffers_and_strings_are_truncated() {
        let mem = memory();
        let text = b"0123456789abcdefghijklmnopqrstuvwxyz";
        let buf = put(&mem, BASE, text);
        assert_eq!(
            format_entry(n(nr::WRITE), args(&[1, buf, 36]), &mem),
            r#"write(1, "0123456789abcdefghijklmnopqrstuv"..., 36)"#
        );
        assert_eq!(
            format_entry(n(nr::WRITE), args(&[1, buf, 32]), &mem),
            r#"write(1, "0123456789abcdefghijklmnopqrstuv", 32)"#
        );
        // A `Str` argument is cut too; a path is not.
        let name = put(
            &mem,
            BASE + 0x100,
            b"0123456789abcdefghijklmnopqrstuvwxyz\0",
        );
        assert_eq!(
            format_entry(n(nr::MEMFD_CREATE), args(&[name, 1]), &mem),
            r#"memfd_create("0123456789abcdefghijklmnopqrstuv"..., MFD_CLOEXEC)"#
        );
        assert_eq!(
            format_entry(n(nr::CHDIR), args(&[name]), &mem),
            r#"chdir("0123456789abcdefghijklmnopqrstuvwxyz")"#
        );
        // Exactly 32 bytes: no `...`.
        let name = put(&mem, BASE + 0x200, b"0123456789abcdefghijklmnopqrstuv\0");
        assert_eq!(
            format_entry(n(nr::MEMFD_CREATE), args(&[name, 0]), &mem),
            r#"memfd_create("0123456789abcdefghijklmnopqrstuv", 0)"#
        );
    }

    #[test]
    fn bad_pointers_print_the_address() {
        let mem = memory();
        assert_eq!(
            format_entry(n(nr::OPENAT), args(&[AT, 0xdead_0000, 0, 0]), &mem),
            "openat(AT_FDCWD, 0xdead0000, O_RDONLY)"
        );
        assert_eq!(
            format_entry(n(nr::WRITE), args(&[1, 0xdead_0000, 4]), &mem),
            "write(1, 0xdead0000, 4)"
        );
        assert_eq!(
            format_entry(n(nr::WRITE), args(&[1, 0, 4]), &mem),
            "write(1, NULL, 4)"
        );
        // A string running off the end of readable memory.
        let end = BASE + 0x2000;
        put(&mem, end - 3, b"abc");
        assert_eq!(
            format_entry(n(nr::CHDIR), args(&[end - 3]), &mem),
            format!("chdir({:#x})", end - 3)
        );
        // ... but one ending just before it is fine.
        put(&mem, end - 3, b"ab\0");
        assert_eq!(
            format_entry(n(nr::CHDIR), args(&[end - 3]), &mem),
            r#"chdir("ab")"#
        );
        assert_eq!(
            format_exit(n(nr::CLOCK_GETTIME), args(&[1, 0xdead_0000]), 0, &mem),
            "clock_gettime(CLOCK_MONOTONIC, 0xdead0000) = 0"
        );
    }

    #[test]
    fn out_buffers_are_decoded_on_exit_with_the_return_value() {
        let mem = memory();
        let buf = put(
            &mem,
            BASE,
            b"root:x:0:0:root:/root:/bin/bash\nmore that was not read",
        );
        let a = args(&[3, buf, 832]);
        assert_eq!(format_entry(n(nr::READ), a, &mem), "read(3, ..., 832)");
        assert_eq!(
            format_exit(n(nr::READ), a, 832, &mem),
            r#"read(3, "root:x:0:0:root:/root:/bin/bash\n"..., 832) = 832"#
        );
        assert_eq!(
            format_exit(n(nr::READ), a, 4, &mem),
            r#"read(3, "root", 832) = 4"#
        );
        assert_eq!(
            format_exit(n(nr::READ), a, 0, &mem),
            r#"read(3, "", 832) = 0"#
        );
        // Failed: the buffer prints as its address.
        assert_eq!(
            format_exit(n(nr::READ), a, Errno::EAGAIN.to_ret(), &mem),
            format!("read(3, {buf:#x}, 832) = -1 EAGAIN (Resource temporarily unavailable)")
        );
        // getcwd counts the NUL; readlink's result is a path, printed whole.
        let cwd = put(&mem, BASE + 0x100, b"/home/user\0");
        assert_eq!(
            format_exit(n(nr::GETCWD), args(&[cwd, 4096]), 11, &mem),
            r#"getcwd("/home/user", 4096) = 11"#
        );
        let path = put(&mem, BASE + 0x200, b"/proc/self/exe\0");
        let target = put(
            &mem,
            BASE + 0x300,
            b"/usr/lib/a/very/long/path/to/the/binary/itself",
        );
        assert_eq!(
            format_exit(n(nr::READLINK), args(&[path, target, 4096]), 46, &mem),
            r#"readlink("/proc/self/exe", "/usr/lib/a/very/long/path/to/the/binary/itself", 4096) = 46"#
        );
    }

    #[test]
    fn unknown_numbers() {
        let mem = memory();
        let a = [1, 2, 0, 0xff, 0xdead_beef, u64::MAX];
        let line = "syscall_0x1ff(0x1, 0x2, 0, 0xff, 0xdeadbeef, 0xffffffffffffffff)";
        assert_eq!(format_entry(0x1ff, a, &mem), line);
        assert_eq!(
            format_exit(0x1ff, a, Errno::ENOSYS.to_ret(), &mem),
            format!("{line} = -1 ENOSYS (Function not implemented)")
        );
        assert!(format_entry(400, a, &mem).starts_with("syscall_0x190("));
        assert!(format_entry(u64::MAX, a, &mem).starts_with("syscall_0xffffffffffffffff("));
    }

    #[test]
    fn fds_and_at_fdcwd() {
        let mem = memory();
        let path = put(&mem, BASE, b"a\0");
        assert_eq!(
            format_entry(n(nr::NEWFSTATAT), args(&[AT, path, 0, 0x100]), &mem),
            r#"newfstatat(AT_FDCWD, "a", ..., AT_SYMLINK_NOFOLLOW)"#
        );
        assert_eq!(
            format_exit(n(nr::DUP2), args(&[0xffff_ffff, 1]), 1, &mem),
            "dup2(-1, 1) = 1"
        );
        assert_eq!(
            format_exit(n(nr::CLOSE), args(&[7]), 0, &mem),
            "close(7) = 0"
        );
    }

    #[test]
    fn structs_are_decoded() {
        let mem = memory();
        let ts = put_u64s(&mem, BASE, &[1, 500]);
        assert_eq!(
            format_entry(n(nr::NANOSLEEP), args(&[ts, 0]), &mem),
            "nanosleep({tv_sec=1, tv_nsec=500}, ...)"
        );
        assert_eq!(
            format_exit(n(nr::NANOSLEEP), args(&[ts, 0]), 0, &mem),
            "nanosleep({tv_sec=1, tv_nsec=500}, NULL) = 0"
        );
        assert_eq!(
            format_exit(n(nr::CLOCK_GETTIME), args(&[7, ts]), 0, &mem),
            "clock_gettime(CLOCK_BOOTTIME, {tv_sec=1, tv_nsec=500}) = 0"
        );
        // rlimit with infinity.
        let rl = put_u64s(&mem, BASE + 0x40, &[1024, u64::MAX]);
        assert_eq!(
            format_exit(n(nr::PRLIMIT64), args(&[0, 7, 0, rl]), 0, &mem),
            "prlimit64(0, RLIMIT_NOFILE, NULL, {rlim_cur=1024, rlim_max=RLIM64_INFINITY}) = 0"
        );
        // struct stat: mode at 24, size at 48.
        let st = BASE + 0x100;
        put(&mem, st + 24, &0o100_644u32.to_le_bytes());
        put(&mem, st + 48, &3040u64.to_le_bytes());
        assert_eq!(
            format_exit(n(nr::FSTAT), args(&[3, st]), 0, &mem),
            "fstat(3, {st_mode=S_IFREG|0644, st_size=3040, ...}) = 0"
        );
        // pipe2.
        let fds = put(&mem, BASE + 0x200, &[3, 0, 0, 0, 4, 0, 0, 0]);
        assert_eq!(
            format_exit(n(nr::PIPE2), args(&[fds, O_CLOEXEC]), 0, &mem),
            "pipe2([3, 4], O_RDONLY|O_CLOEXEC) = 0"
        );
        // wait4 status.
        let status = put(&mem, BASE + 0x300, &(3i32 << 8).to_le_bytes());
        assert_eq!(
            format_exit(n(nr::WAIT4), args(&[u64::MAX, status, 0, 0]), 42, &mem),
            "wait4(-1, [{WIFEXITED(s) && WEXITSTATUS(s) == 3}], 0, NULL) = 42"
        );
        put(&mem, status, &(9i32 | 0x80).to_le_bytes());
        assert_eq!(
            format_exit(n(nr::WAIT4), args(&[5, status, 0, 0]), 5, &mem),
            "wait4(5, [{WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL && WCOREDUMP(s)}], 0, NULL) = 5"
        );
    }

    #[test]
    fn signals_and_sigactions() {
        let mem = memory();
        assert_eq!(
            format_exit(n(nr::KILL), args(&[42, 15]), 0, &mem),
            "kill(42, SIGTERM) = 0"
        );
        assert_eq!(
            format_entry(n(nr::KILL), args(&[42, 0]), &mem),
            "kill(42, 0)"
        );
        assert_eq!(
            format_entry(n(nr::TGKILL), args(&[1, 2, 34]), &mem),
            "tgkill(1, 2, SIGRT_2)"
        );
        // rt_sigprocmask(SIG_BLOCK, [INT TERM], old, 8).
        let set = put_u64s(&mem, BASE, &[(1 << 1) | (1 << 14)]);
        let old = put_u64s(&mem, BASE + 0x10, &[!((1u64 << 8) | (1 << 18))]);
        let a = args(&[0, set, old, 8]);
        assert_eq!(
            format_entry(n(nr::RT_SIGPROCMASK), a, &mem),
            "rt_sigprocmask(SIG_BLOCK, [INT TERM], ..., 8)"
        );
        assert_eq!(
            format_exit(n(nr::RT_SIGPROCMASK), a, 0, &mem),
            "rt_sigprocmask(SIG_BLOCK, [INT TERM], ~[KILL STOP], 8) = 0"
        );
        // rt_sigaction(SIGINT, {handler, SA_RESTORER|SA_RESTART, restorer, []}, NULL, 8).
        let act = put_u64s(
            &mem,
            BASE + 0x40,
            &[0x5555_0000, SA_RESTORER | 0x1000_0000, 0x7f00_0000, 0],
        );
        assert_eq!(
            format_exit(n(nr::RT_SIGACTION), args(&[2, act, 0, 8]), 0, &mem),
            "rt_sigaction(SIGINT, {sa_handler=0x55550000, sa_mask=[], \
             sa_flags=SA_RESTORER|SA_RESTART, sa_restorer=0x7f000000}, NULL, 8) = 0"
        );
        let act = put_u64s(&mem, BASE + 0x40, &[1, 0, 0, 0]);
        assert_eq!(
            format_entry(n(nr::RT_SIGACTION), args(&[13, act, 0, 8]), &mem),
            "rt_sigaction(SIGPIPE, {sa_handler=SIG_IGN, sa_mask=[], sa_flags=0}, ..., 8)"
        );
    }

    #[test]
    fn execve_argv_and_envp() {
        let mem = memory();
        let path = put(&mem, BASE, b"/bin/ls\0");
        let ls = put(&mem, BASE + 0x10, b"ls\0");
        let la = put(&mem, BASE + 0x20, b"-la\0");
        let argv = put_u64s(&mem, BASE + 0x100, &[ls, la, 0]);
        let envp = put_u64s(&mem, BASE + 0x200, &[ls, la, ls, 0]);
        let call = PendingCall::new(n(nr::EXECVE), args(&[path, argv, envp]), &mem);
        let entry = format!(r#"execve("/bin/ls", ["ls", "-la"], {envp:#x} /* 3 vars */)"#);
        assert_eq!(call.to_string(), entry);
        // The new image replaced the memory: the entry's decoding is kept.
        let wiped = memory();
        assert_eq!(call.finish(0, &wiped), format!("{entry} = 0"));
    }

    #[test]
    fn msghdrs() {
        let mem = memory();
        let a = put(&mem, BASE, b"ping");
        let iov = put_u64s(&mem, BASE + 0x100, &[a, 4]);
        // msg_name NULL, namelen 0, iov, iovlen 1, control NULL, controllen 0, flags 0.
        let m = put_u64s(&mem, BASE + 0x200, &[0, 0, iov, 1, 0, 0, 0]);
        assert_eq!(
            format_exit(n(nr::SENDMSG), args(&[3, m, 0x4000]), 4, &mem),
            "sendmsg(3, {msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base=\"ping\", \
             iov_len=4}], msg_iovlen=1, msg_control=NULL, msg_controllen=0, msg_flags=0x0}, \
             0x4000) = 4"
        );
        assert_eq!(
            format_exit(n(nr::RECVMSG), args(&[3, m, 0]), 2, &mem),
            "recvmsg(3, {msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base=\"pi\", \
             iov_len=4}], msg_iovlen=1, msg_control=NULL, msg_controllen=0, msg_flags=0x0}, \
             0) = 2"
        );
    }

    #[test]
    fn iovecs() {
        let mem = memory();
        let a = put(&mem, BASE, b"hello ");
        let b = put(&mem, BASE + 0x10, b"world\n");
        let iov = put_u64s(&mem, BASE + 0x100, &[a, 6, b, 6]);
        assert_eq!(
            format_exit(n(nr::WRITEV), args(&[1, iov, 2]), 12, &mem),
            r#"writev(1, [{iov_base="hello ", iov_len=6}, {iov_base="world\n", iov_len=6}], 2) = 12"#
        );
        // readv: only the bytes read are shown.
        assert_eq!(
            format_exit(n(nr::READV), args(&[0, iov, 2]), 8, &mem),
            r#"readv(0, [{iov_base="hello ", iov_len=6}, {iov_base="wo", iov_len=6}], 2) = 8"#
        );
    }

    #[test]
    fn sockets() {
        let mem = memory();
        assert_eq!(
            format_exit(n(nr::SOCKET), args(&[2, 1 | 0o2_000_000, 0]), 3, &mem),
            "socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, 0) = 3"
        );
        let mut sin = vec![2, 0, 0, 80, 127, 0, 0, 1];
        sin.extend_from_slice(&[0; 8]);
        let addr = put(&mem, BASE, &sin);
        assert_eq!(
            format_entry(n(nr::CONNECT), args(&[3, addr, 16]), &mem),
            r#"connect(3, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("127.0.0.1")}, 16)"#
        );
        let mut sun = vec![1, 0];
        sun.extend_from_slice(b"/run/x.sock\0");
        let addr = put(&mem, BASE + 0x100, &sun);
        assert_eq!(
            format_entry(n(nr::BIND), args(&[3, addr, 14]), &mem),
            r#"bind(3, {sa_family=AF_UNIX, sun_path="/run/x.sock"}, 14)"#
        );
        // accept: the address length is value-result.
        let len = put(&mem, BASE + 0x200, &16u32.to_le_bytes());
        let peer = put(&mem, BASE + 0x300, &sin);
        assert_eq!(
            format_exit(n(nr::ACCEPT), args(&[3, peer, len]), 4, &mem),
            format!(
                r#"accept(3, {{sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("127.0.0.1")}}, {len:#x}) = 4"#
            )
        );
    }

    #[test]
    fn futex_fcntl_arch_prctl_clone() {
        let mem = memory();
        assert_eq!(
            format_exit(n(nr::FUTEX), args(&[0x7f00, 129, 1, 0, 0, 0]), 0, &mem),
            "futex(0x7f00, FUTEX_WAKE_PRIVATE, 1) = 0"
        );
        assert_eq!(
            format_entry(n(nr::FUTEX), args(&[0x7f00, 128, 2, 0, 0, 0]), &mem),
            "futex(0x7f00, FUTEX_WAIT_PRIVATE, 2, NULL)"
        );
        assert_eq!(
            format_entry(
                n(nr::FUTEX),
                args(&[0x7f00, 9 | 128 | 256, 0, 0, 0, 0xffff_ffff]),
                &mem
            ),
            "futex(0x7f00, FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME, 0, NULL, NULL, \
             FUTEX_BITSET_MATCH_ANY)"
        );
        assert_eq!(
            format_exit(n(nr::FCNTL), args(&[3, 3]), 0x8002, &mem),
            "fcntl(3, F_GETFL) = 0x8002 (flags O_RDWR|O_LARGEFILE)"
        );
        assert_eq!(
            format_exit(n(nr::FCNTL), args(&[3, 2, 1]), 0, &mem),
            "fcntl(3, F_SETFD, FD_CLOEXEC) = 0"
        );
        assert_eq!(
            format_exit(n(nr::FCNTL), args(&[3, 1030, 10]), 10, &mem),
            "fcntl(3, F_DUPFD_CLOEXEC, 10) = 10"
        );
        assert_eq!(
            format_exit(n(nr::ARCH_PRCTL), args(&[0x1002, 0x7f00_1234]), 0, &mem),
            "arch_prctl(ARCH_SET_FS, 0x7f001234) = 0"
        );
        assert_eq!(
            format_entry(
                n(nr::CLONE),
                args(&[0x0100_0000 | 0x0020_0000 | 17, 0, 0, 0x7f00, 0]),
                &mem
            ),
            "clone(CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, 0, NULL, 0x7f00, 0)"
        );
        assert_eq!(
            format_entry(n(nr::UNSHARE), args(&[0x0002_0000 | 0x80]), &mem),
            "unshare(CLONE_NEWTIME|CLONE_NEWNS)"
        );
        assert_eq!(
            format_entry(n(nr::LSEEK), args(&[3, (-5i64) as u64, 2]), &mem),
            "lseek(3, -5, SEEK_END)"
        );
        assert_eq!(
            format_entry(n(nr::IOCTL), args(&[1, 0x5413, 0x7ffd]), &mem),
            "ioctl(1, TIOCGWINSZ, 0x7ffd)"
        );
        assert_eq!(
            format_entry(n(nr::IOCTL), args(&[1, 0xc010_7801, 0]), &mem),
            "ioctl(1, _IOC(_IOC_READ|_IOC_WRITE, 0x78, 0x1, 0x10), 0)"
        );
        assert_eq!(
            format_entry(n(nr::PRCTL), args(&[15, 0x1000, 0, 0, 0]), &mem),
            "prctl(PR_SET_NAME, 0x1000, 0, 0, 0)"
        );
    }

    #[test]
    fn return_shapes() {
        let mem = memory();
        assert_eq!(
            format_exit(n(nr::UMASK), args(&[0o77]), 0o22, &mem),
            "umask(077) = 022"
        );
        assert_eq!(
            format_exit(n(nr::EXIT_GROUP), args(&[1]), 0, &mem),
            "exit_group(1) = ?"
        );
        assert_eq!(
            format_exit(n(nr::GETPID), args(&[]), 1, &mem),
            "getpid() = 1"
        );
        assert_eq!(
            format_exit(n(nr::SETUID), args(&[u64::from(u32::MAX)]), 0, &mem),
            "setuid(-1) = 0"
        );
        assert_eq!(
            format_exit(n(nr::PERSONALITY), args(&[0xffff_ffff]), 0, &mem),
            "personality(0xffffffff) = 0"
        );
    }

    #[test]
    fn clock_ids() {
        assert_eq!(clock_id(1), "CLOCK_MONOTONIC");
        assert_eq!(clock_id(99), "99");
        // MAKE_PROCESS_CPUCLOCK(42, CPUCLOCK_SCHED) = (~42 << 3) | 2.
        assert_eq!(
            clock_id((!42 << 3) | 2),
            "MAKE_PROCESS_CPUCLOCK(42, CPUCLOCK_SCHED)"
        );
        assert_eq!(
            clock_id((!7 << 3) | 4 | 1),
            "MAKE_THREAD_CPUCLOCK(7, CPUCLOCK_VIRT)"
        );
        assert_eq!(clock_id((!3 << 3) | 3), "FD_TO_CLOCKID(3)");
    }

    #[test]
    fn modes() {
        assert_eq!(mode(0o644), "0644");
        assert_eq!(mode(0), "000");
        assert_eq!(mode(0o7), "007");
        assert_eq!(mode(0o4755), "04755");
        assert_eq!(mode(0o020_600), "S_IFCHR|0600");
    }

    #[test]
    fn poll_revents_follow_the_return_value() {
        let mem = memory();
        // pollfd {fd=3, events=POLLIN, revents=POLLIN}, {fd=4, events=POLLOUT, revents=0}.
        let mut fds = Vec::new();
        fds.extend_from_slice(&3i32.to_le_bytes());
        fds.extend_from_slice(&[1, 0, 1, 0]);
        fds.extend_from_slice(&4i32.to_le_bytes());
        fds.extend_from_slice(&[4, 0, 0, 0]);
        let p = put(&mem, BASE, &fds);
        assert_eq!(
            format_exit(n(nr::POLL), args(&[p, 2, 1000]), 1, &mem),
            "poll([{fd=3, events=POLLIN}, {fd=4, events=POLLOUT}], 2, 1000) = 1 \
             ([{fd=3, revents=POLLIN}])"
        );
    }
}
