#![doc = include_str!("../README.md")]
#![no_std]
#![deny(unsafe_code)]

/// How to decode one syscall argument for `--strace`.
///
/// Scalars are printed from the register. Pointer shapes name what the pointer points to; a
/// decoder reads them through guest memory and prints the address alone on `EFAULT` or `NULL`.
/// Shapes the kernel *writes* ([`Arg::is_out`]) are decoded after the call (and only when it
/// succeeded); all others before it. Fields such as `len_arg` are indices (0-based) of the
/// argument that holds the length or count, checked by the tests to be in range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// Signed decimal (`int`, `long`, `off_t`).
    Int,
    /// Unsigned decimal (`size_t`, counts, lengths).
    UInt,
    /// Hexadecimal: addresses passed by value, flag words without a dedicated shape.
    Hex,
    /// A file descriptor; `AT_FDCWD` (-100) is printed by name.
    Fd,
    /// A process or thread id (`pid_t`; negative values name process groups in `kill`).
    Pid,
    /// A user id (`uid_t`); `-1` ("unchanged") printed as such.
    Uid,
    /// A group id (`gid_t`); `-1` ("unchanged") printed as such.
    Gid,
    /// A signal number, printed by name (`SIGTERM`).
    Signal,
    /// A file mode or permission bits, printed in octal (`0644`).
    Mode,
    /// `O_*` open flags (`O_RDONLY|O_CLOEXEC`).
    OpenFlags,
    /// `AT_*` flags of the `*at` syscalls (`AT_SYMLINK_NOFOLLOW|AT_EMPTY_PATH`).
    AtFlags,
    /// `access(2)` mode: `F_OK` or `R_OK|W_OK|X_OK`.
    AccessMode,
    /// `PROT_*` bits of `mmap`/`mprotect`.
    MmapProt,
    /// `MAP_*` flags of `mmap`.
    MmapFlags,
    /// `CLONE_*` flags (`clone`, `unshare`, `setns`); the low byte of `clone`'s flags is the
    /// exit signal.
    CloneFlags,
    /// `futex(2)` operation: `FUTEX_WAIT_PRIVATE`, `FUTEX_WAKE`, … (the operation decides how
    /// the other arguments are read).
    FutexOp,
    /// `lseek(2)` whence: `SEEK_SET`, `SEEK_CUR`, `SEEK_END`, `SEEK_DATA`, `SEEK_HOLE`.
    Whence,
    /// An `ioctl(2)` request number (`TCGETS`, `FIONBIO`, or decoded `_IOC` fields).
    IoctlCmd,
    /// A `fcntl(2)` command (`F_GETFL`, `F_SETFD`, …).
    FcntlCmd,
    /// A clock id (`CLOCK_MONOTONIC`, or a decoded CPU-clock id).
    ClockId,
    /// An `arch_prctl(2)` code (`ARCH_SET_FS`, …).
    ArchPrctlCode,
    /// A `prctl(2)` option (`PR_SET_NAME`, …).
    PrctlOption,
    /// `rt_sigprocmask(2)` how: `SIG_BLOCK`, `SIG_UNBLOCK`, `SIG_SETMASK`.
    SigHow,
    /// An `RLIMIT_*` resource.
    RlimitResource,
    /// A socket address family (`AF_UNIX`, `AF_INET`, …).
    AddressFamily,
    /// A socket type with its flags (`SOCK_STREAM|SOCK_CLOEXEC`).
    SocketType,
    /// `memfd_create(2)` flags (`MFD_CLOEXEC|MFD_ALLOW_SEALING`, a huge page size).
    MemfdFlags,
    /// `splice(2)`, `tee(2)` and `vmsplice(2)` flags (`SPLICE_F_NONBLOCK|SPLICE_F_MORE`).
    SpliceFlags,
    /// File seals, `F_SEAL_*` (`fcntl(F_ADD_SEALS)`'s argument).
    SealFlags,
    /// A NUL-terminated path name, read by the kernel.
    Path,
    /// A NUL-terminated string that is not a path (a name, a key, a file-system type).
    Str,
    /// A NULL-terminated array of string pointers (`execve` argv and envp).
    StrArray,
    /// A buffer the kernel reads; its length is argument `len_arg`.
    InBuf {
        /// Index of the length argument.
        len_arg: u8,
    },
    /// A buffer the kernel writes; argument `len_arg` is its capacity and the return value the
    /// number of bytes written, so it is decoded after the call.
    OutBuf {
        /// Index of the capacity argument.
        len_arg: u8,
    },
    /// An opaque pointer, printed as an address.
    Ptr,
    /// An array of `struct iovec` whose buffers the kernel reads (`writev`); argument
    /// `count_arg` is the number of entries.
    Iovec {
        /// Index of the entry-count argument.
        count_arg: u8,
    },
    /// An array of `struct iovec` whose buffers the kernel writes (`readv`); decoded after the
    /// call, up to the return value in bytes.
    IovecOut {
        /// Index of the entry-count argument.
        count_arg: u8,
    },
    /// An array of `struct pollfd` (`events` read before the call, `revents` written by it);
    /// argument `count_arg` is the number of entries.
    PollFds {
        /// Index of the entry-count argument.
        count_arg: u8,
    },
    /// A `struct timespec` the kernel reads (a timeout or a time to set). In `futex` the
    /// argument is a count for some operations: the decoder must consult the [`Arg::FutexOp`].
    Timespec,
    /// A `struct timespec` the kernel writes (`clock_gettime`, the remainder of `nanosleep`).
    TimespecOut,
    /// A `sigset_t` the kernel reads (8 bytes on x86-64).
    SigSet,
    /// A `sigset_t` the kernel writes (the old mask, the pending set).
    SigSetOut,
    /// A kernel `struct sigaction` the kernel reads (the new action).
    SigAction,
    /// A kernel `struct sigaction` the kernel writes (the old action).
    SigActionOut,
    /// A `struct rlimit` the kernel reads.
    Rlimit,
    /// A `struct rlimit` the kernel writes.
    RlimitOut,
    /// A `struct stat` the kernel writes.
    Stat,
    /// A `struct statx` the kernel writes.
    Statx,
    /// A socket address the kernel reads; argument `len_arg` is its length in bytes.
    Sockaddr {
        /// Index of the length argument (a `socklen_t` value).
        len_arg: u8,
    },
    /// A socket address the kernel writes; argument `len_arg` points to its `socklen_t`
    /// length (value-result).
    SockaddrOut {
        /// Index of the argument pointing to the length.
        len_arg: u8,
    },
    /// A `struct msghdr` the kernel reads (`sendmsg`): name, iovecs, control.
    Msghdr,
    /// A `struct msghdr` the kernel fills (`recvmsg`): shown after the call, its iovecs up
    /// to the bytes received.
    MsghdrOut,
    /// An `int[2]` the kernel fills with two new descriptors (`pipe`, `socketpair`).
    FdPair,
    /// An `int` wait status the kernel writes (`wait4`), decoded as `WIFEXITED(s) && …`.
    WaitStatus,
}

impl Arg {
    /// The index of the argument this one takes its length or count from, if any.
    pub const fn ref_arg(self) -> Option<u8> {
        match self {
            Arg::InBuf { len_arg }
            | Arg::OutBuf { len_arg }
            | Arg::Sockaddr { len_arg }
            | Arg::SockaddrOut { len_arg } => Some(len_arg),
            Arg::Iovec { count_arg } | Arg::IovecOut { count_arg } | Arg::PollFds { count_arg } => {
                Some(count_arg)
            }
            _ => None,
        }
    }

    /// Whether the kernel writes through this argument, so `--strace` decodes it after the
    /// call rather than before.
    pub const fn is_out(self) -> bool {
        matches!(
            self,
            Arg::OutBuf { .. }
                | Arg::IovecOut { .. }
                | Arg::TimespecOut
                | Arg::SigSetOut
                | Arg::SigActionOut
                | Arg::RlimitOut
                | Arg::Stat
                | Arg::Statx
                | Arg::SockaddrOut { .. }
                | Arg::MsghdrOut
                | Arg::FdPair
                | Arg::WaitStatus
        )
    }
}

/// How to print a syscall's successful return value (errors, `-4095..=-1`, are always printed
/// as an errno name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ret {
    /// Signed decimal (`0` for most syscalls).
    Int,
    /// A new file descriptor.
    Fd,
    /// An address, in hexadecimal (`mmap`, `brk`).
    Addr,
    /// Never returns to the caller (`exit`, `exit_group`); strace prints `= ?`.
    Void,
    /// A process or thread id (`getpid`, `clone`, `wait4`).
    Pid,
    /// A byte count (`read`, `write`, `getxattr`).
    Size,
    /// A user id (`getuid`).
    Uid,
    /// A group id (`getgid`).
    Gid,
    /// A file mode in octal (`umask` returns the previous mask).
    Mode,
    /// Hexadecimal (`personality` returns the previous persona).
    Hex,
    /// A signal number, printed by name (`rt_sigtimedwait`).
    Signal,
}

/// One x86-64 syscall: its number, Linux name and shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Syscall {
    /// The x86-64 syscall number (`rax` at entry).
    pub nr: u32,
    /// The Linux name, without `sys_` (`"read"`, `"newfstatat"`, `"_sysctl"`).
    pub name: &'static str,
    /// One shape per argument, in register order (`rdi`, `rsi`, `rdx`, `r10`, `r8`, `r9`); at
    /// most six.
    pub args: &'static [Arg],
    /// The shape of a successful return value.
    pub ret: Ret,
}

/// The highest syscall number in the table (`file_setattr`, Linux 6.18).
pub const MAX_NR: u32 = 469;

/// Length of [`SYSCALLS`]: every number `0..=MAX_NR`.
pub const TABLE_LEN: usize = MAX_NR as usize + 1;

/// The lower-case ASCII copy of `s` as an `N`-byte array (`N == s.len()`), for deriving a row's
/// name from its upper-case identifier at compile time.
const fn ascii_lowercase<const N: usize>(s: &str) -> [u8; N] {
    let bytes = s.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = bytes[i].to_ascii_lowercase();
        i += 1;
    }
    out
}

/// `lower_name!(RT_SIGACTION)` is the `&'static str` `"rt_sigaction"`, computed at compile time.
macro_rules! lower_name {
    ($name:ident) => {{
        const UPPER: &str = stringify!($name);
        const BYTES: [u8; UPPER.len()] = $crate::ascii_lowercase(UPPER);
        const NAME: &str = match core::str::from_utf8(&BYTES) {
            Ok(name) => name,
            Err(_) => panic!("syscall names are ASCII"),
        };
        NAME
    }};
}

/// Generates, from the one list of rows in `table.rs`, the constants of [`nr`] and the rows
/// of [`SYSCALLS`]. A number declared twice is a compile error (the `assert!` below), and so is
/// a name declared twice (two `nr` constants of that name).
macro_rules! syscall_table {
    (
        $(
            $nr:literal $name:ident (
                $( $arg:ident $({ $($field:ident : $value:literal),* $(,)? })? ),* $(,)?
            ) -> $ret:ident;
        )*
    ) => {
        /// The syscall numbers as constants, named after the Linux syscall in upper case
        /// (`nr::READ == 0`, `nr::RT_SIGACTION == 13`).
        pub mod nr {
            $(
                #[doc = concat!("x86-64 syscall number ", stringify!($nr), ".")]
                pub const $name: u32 = $nr;
            )*
        }

        /// The table, built at compile time from the rows.
        pub(crate) const TABLE: [Option<$crate::Syscall>; $crate::TABLE_LEN] = {
            let mut table: [Option<$crate::Syscall>; $crate::TABLE_LEN] = [None; $crate::TABLE_LEN];
            $(
                assert!(
                    table[$nr].is_none(),
                    concat!("syscall number ", stringify!($nr), " declared twice")
                );
                table[$nr] = Some($crate::Syscall {
                    nr: nr::$name,
                    name: lower_name!($name),
                    args: &[$( $crate::Arg::$arg $({ $($field: $value),* })? ),*],
                    ret: $crate::Ret::$ret,
                });
            )*
            table
        };
    };
}

mod table;

pub use table::nr;

/// Every x86-64 syscall, indexed by number: `SYSCALLS[n]` is `None` for a number Linux does not
/// assign (337–423). The Sentry's dispatch array has the same length, [`TABLE_LEN`].
pub static SYSCALLS: [Option<Syscall>; TABLE_LEN] = table::TABLE;

/// The number of syscalls in the table (rows, not numbers).
pub const COUNT: usize = {
    let mut count = 0;
    let mut i = 0;
    while i < TABLE_LEN {
        if table::TABLE[i].is_some() {
            count += 1;
        }
        i += 1;
    }
    count
};

// Compile-time checks of the table's shape: the last number is present, and every row sits at
// its own index.
const _: () = {
    assert!(table::TABLE[MAX_NR as usize].is_some());
    let mut i = 0;
    while i < TABLE_LEN {
        if let Some(row) = table::TABLE[i] {
            assert!(row.nr as usize == i);
            assert!(row.args.len() <= 6);
        }
        i += 1;
    }
};

/// The syscall with number `nr`, or `None` for an unassigned or out-of-range number (the
/// dispatcher answers those with `ENOSYS`).
pub fn by_nr(nr: u64) -> Option<&'static Syscall> {
    SYSCALLS.get(usize::try_from(nr).ok()?)?.as_ref()
}

/// The syscall with Linux name `name` (`"openat"`), or `None`. A linear scan: meant for the CLI
/// and tests, not for the syscall path.
pub fn by_name(name: &str) -> Option<&'static Syscall> {
    all().find(|syscall| syscall.name == name)
}

/// Every syscall in the table, in number order.
pub fn all() -> impl Iterator<Item = &'static Syscall> {
    SYSCALLS.iter().flatten()
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::collections::HashSet;
    use std::string::String;

    const UNISTD_64: &str = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h";

    /// Every `#define __NR_<name> <n>` of the host header matches the table both ways.
    #[test]
    fn matches_host_unistd_64() {
        let text: String = std::fs::read_to_string(UNISTD_64)
            .unwrap_or_else(|e| panic!("{UNISTD_64}: {e} (install the Linux uapi headers)"));
        let mut checked = 0;
        for line in text.lines() {
            let mut words = line.split_whitespace();
            if words.next() != Some("#define") {
                continue;
            }
            let (Some(macro_name), Some(value)) = (words.next(), words.next()) else {
                continue;
            };
            let Some(name) = macro_name.strip_prefix("__NR_") else {
                continue;
            };
            let nr: u32 = value.parse().unwrap_or_else(|e| panic!("{line}: {e}"));
            let row = by_name(name).unwrap_or_else(|| panic!("{name} ({nr}) missing"));
            assert_eq!(row.nr, nr, "{name}");
            assert_eq!(by_nr(u64::from(nr)).map(|s| s.name), Some(name), "{nr}");
            checked += 1;
        }
        // The header of the build host may be older than the table, never newer.
        assert!(checked >= 362, "only {checked} syscalls in {UNISTD_64}");
        assert!(checked <= COUNT);
    }

    #[test]
    fn numbers_cover_linux_6_18() {
        assert_eq!(COUNT, 337 + 46);
        assert_eq!(all().count(), COUNT);
        for nr in (0..=336).chain(424..=469) {
            assert!(by_nr(nr).is_some(), "{nr} missing");
        }
        for nr in (337..=423).chain([470, 512, 547, u64::from(u32::MAX) + 1, u64::MAX]) {
            assert!(by_nr(nr).is_none(), "{nr} should be unassigned");
        }
        let mut previous = None;
        for syscall in all() {
            assert!(
                previous < Some(syscall.nr),
                "all() out of order at {}",
                syscall.name
            );
            previous = Some(syscall.nr);
        }
    }

    #[test]
    fn names_are_unique_and_lower_case() {
        let mut seen = HashSet::new();
        for syscall in all() {
            assert!(seen.insert(syscall.name), "{} twice", syscall.name);
            assert!(
                syscall
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{}",
                syscall.name
            );
            assert_eq!(by_name(syscall.name).map(|s| s.nr), Some(syscall.nr));
        }
        assert_eq!(by_name("READ"), None);
        assert_eq!(by_name("sys_read"), None);
        assert_eq!(by_name(""), None);
    }

    /// Every length or count index points at an argument that exists and can hold one.
    #[test]
    fn argument_references_are_in_range() {
        for syscall in all() {
            assert!(syscall.args.len() <= 6, "{}", syscall.name);
            for (i, arg) in syscall.args.iter().enumerate() {
                let Some(target) = arg.ref_arg() else {
                    continue;
                };
                let target = usize::from(target);
                assert!(
                    target < syscall.args.len(),
                    "{} arg {i}: {arg:?}",
                    syscall.name
                );
                assert_ne!(target, i, "{} arg {i} refers to itself", syscall.name);
                let expected: &[Arg] = match arg {
                    // A value-result length is passed by pointer.
                    Arg::SockaddrOut { .. } => &[Arg::Ptr],
                    _ => &[Arg::UInt, Arg::Int],
                };
                assert!(
                    expected.contains(&syscall.args[target]),
                    "{} arg {i}: {arg:?} refers to {:?}",
                    syscall.name,
                    syscall.args[target]
                );
            }
        }
    }

    #[test]
    fn nr_constants_come_from_the_rows() {
        assert_eq!(nr::READ, 0);
        assert_eq!(nr::RT_SIGACTION, 13);
        assert_eq!(nr::_SYSCTL, 156);
        assert_eq!(nr::EXIT_GROUP, 231);
        assert_eq!(nr::OPENAT, 257);
        assert_eq!(nr::RSEQ, 334);
        assert_eq!(nr::URETPROBE, 335);
        assert_eq!(nr::UPROBE, 336);
        assert_eq!(nr::PIDFD_SEND_SIGNAL, 424);
        assert_eq!(nr::CACHESTAT, 451);
        assert_eq!(nr::MSEAL, 462);
        assert_eq!(nr::FILE_SETATTR, MAX_NR);
        assert_eq!(
            by_nr(u64::from(nr::SET_MEMPOLICY_HOME_NODE)).map(|s| s.name),
            Some("set_mempolicy_home_node")
        );
    }

    #[test]
    fn spot_check_shapes() {
        let shape = |name: &str| by_name(name).map(|s| (s.args, s.ret));
        assert_eq!(
            shape("read"),
            Some((
                &[Arg::Fd, Arg::OutBuf { len_arg: 2 }, Arg::UInt][..],
                Ret::Size
            ))
        );
        assert_eq!(
            shape("write"),
            Some((
                &[Arg::Fd, Arg::InBuf { len_arg: 2 }, Arg::UInt][..],
                Ret::Size
            ))
        );
        assert_eq!(
            shape("openat"),
            Some((
                &[Arg::Fd, Arg::Path, Arg::OpenFlags, Arg::Mode][..],
                Ret::Fd
            ))
        );
        assert_eq!(
            shape("mmap"),
            Some((
                &[
                    Arg::Hex,
                    Arg::UInt,
                    Arg::MmapProt,
                    Arg::MmapFlags,
                    Arg::Fd,
                    Arg::Hex
                ][..],
                Ret::Addr
            ))
        );
        assert_eq!(shape("getpid"), Some((&[][..], Ret::Pid)));
        assert_eq!(shape("exit"), Some((&[Arg::Int][..], Ret::Void)));
        assert_eq!(shape("exit_group"), Some((&[Arg::Int][..], Ret::Void)));
        assert_eq!(
            shape("execve"),
            Some((&[Arg::Path, Arg::StrArray, Arg::StrArray][..], Ret::Int))
        );
        assert_eq!(
            shape("rt_sigaction"),
            Some((
                &[Arg::Signal, Arg::SigAction, Arg::SigActionOut, Arg::UInt][..],
                Ret::Int
            ))
        );
        assert_eq!(
            shape("writev"),
            Some((
                &[Arg::Fd, Arg::Iovec { count_arg: 2 }, Arg::UInt][..],
                Ret::Size
            ))
        );
        assert_eq!(
            shape("clone"),
            Some((
                &[Arg::CloneFlags, Arg::Hex, Arg::Ptr, Arg::Ptr, Arg::Hex][..],
                Ret::Pid
            ))
        );
        assert_eq!(by_name("futex").map(|s| s.args.len()), Some(6));
        assert_eq!(by_name("futex_wait").map(|s| s.args.len()), Some(6));
        assert_eq!(by_name("setxattrat").map(|s| s.args.len()), Some(6));
        assert_eq!(by_name("file_getattr").map(|s| s.args.len()), Some(5));
        assert_eq!(
            by_name("arch_prctl").map(|s| s.args[0]),
            Some(Arg::ArchPrctlCode)
        );
        assert_eq!(by_name("uretprobe").map(|s| s.args.len()), Some(0));
    }

    #[test]
    fn out_shapes() {
        assert!(Arg::OutBuf { len_arg: 1 }.is_out());
        assert!(Arg::Stat.is_out());
        assert!(Arg::TimespecOut.is_out());
        assert!(!Arg::InBuf { len_arg: 1 }.is_out());
        assert!(!Arg::Timespec.is_out());
        assert!(!Arg::Path.is_out());
        assert_eq!(Arg::Iovec { count_arg: 2 }.ref_arg(), Some(2));
        assert_eq!(Arg::Fd.ref_arg(), None);
    }
}
