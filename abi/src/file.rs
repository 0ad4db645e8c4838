//! File-related structures: `struct stat`, `struct timespec`, `struct iovec`,
//! `struct linux_dirent64` header, `struct utsname`, `struct rlimit`, `struct flock`, and the
//! extended-attribute constants.

use static_assertions::{assert_eq_size, const_assert_eq};

/// `struct stat` on x86-64. Mirrors `<asm/stat.h>`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stat {
    pub st_dev: u64,
    pub st_ino: u64,
    pub st_nlink: u64,
    pub st_mode: u32,
    pub st_uid: u32,
    pub st_gid: u32,
    pub _pad0: u32,
    pub st_rdev: u64,
    pub st_size: i64,
    pub st_blksize: i64,
    pub st_blocks: i64,
    pub st_atime: i64,
    pub st_atime_nsec: i64,
    pub st_mtime: i64,
    pub st_mtime_nsec: i64,
    pub st_ctime: i64,
    pub st_ctime_nsec: i64,
    pub _unused: [i64; 3],
}
assert_eq_size!(Stat, [u8; 144]);
const_assert_eq!(core::mem::offset_of!(Stat, st_mode), 24);
const_assert_eq!(core::mem::offset_of!(Stat, st_size), 48);
const_assert_eq!(core::mem::offset_of!(Stat, st_atime), 72);

/// `struct timespec`. Mirrors `<linux/time_types.h>` (`__kernel_timespec`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timespec {
    pub tv_sec: i64,
    pub tv_nsec: i64,
}
assert_eq_size!(Timespec, [u8; 16]);

/// `struct timeval`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timeval {
    pub tv_sec: i64,
    pub tv_usec: i64,
}
assert_eq_size!(Timeval, [u8; 16]);

/// `struct iovec`. Mirrors `<linux/uio.h>`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Iovec {
    pub iov_base: u64,
    pub iov_len: u64,
}
assert_eq_size!(Iovec, [u8; 16]);

/// Header of `struct linux_dirent64` (`d_name` follows, NUL-terminated, record padded to 8).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dirent64Header {
    pub d_ino: u64,
    pub d_off: i64,
    pub d_reclen: u16,
    pub d_type: u8,
}
/// Offset of `d_name` in `struct linux_dirent64`.
pub const DIRENT64_NAME_OFFSET: usize = 19;

/// `struct new_utsname`: six 65-byte fields. Mirrors `<linux/utsname.h>`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Utsname {
    pub sysname: [u8; 65],
    pub nodename: [u8; 65],
    pub release: [u8; 65],
    pub version: [u8; 65],
    pub machine: [u8; 65],
    pub domainname: [u8; 65],
}
assert_eq_size!(Utsname, [u8; 390]);

impl Default for Utsname {
    fn default() -> Self {
        Utsname {
            sysname: [0; 65],
            nodename: [0; 65],
            release: [0; 65],
            version: [0; 65],
            machine: [0; 65],
            domainname: [0; 65],
        }
    }
}

/// `struct rlimit64`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rlimit {
    pub rlim_cur: u64,
    pub rlim_max: u64,
}
assert_eq_size!(Rlimit, [u8; 16]);

/// `RLIM_INFINITY`.
pub const RLIM_INFINITY: u64 = !0;

/// Resources of `getrlimit(2)` (`<asm-generic/resource.h>`).
pub const RLIMIT_FSIZE: u32 = 1;
pub const RLIMIT_AS: u32 = 9;
pub const RLIMIT_CORE: u32 = 4;
pub const RLIMIT_STACK: u32 = 3;
pub const RLIMIT_NPROC: u32 = 6;
pub const RLIMIT_NOFILE: u32 = 7;
pub const RLIMIT_MEMLOCK: u32 = 8;
pub const RLIMIT_MSGQUEUE: u32 = 12;
pub const RLIMIT_NICE: u32 = 13;
pub const RLIMIT_RTPRIO: u32 = 14;
/// How many resources there are (`RLIM_NLIMITS`).
pub const RLIM_NLIMITS: u32 = 16;
/// Linux's default `fs.nr_open`: the highest RLIMIT_NOFILE may go.
pub const NR_OPEN: u64 = 1 << 20;

/// `S_IF*` file type bits of `st_mode`.
pub const S_IFMT: u32 = 0o170000;
pub const S_IFSOCK: u32 = 0o140000;
pub const S_IFLNK: u32 = 0o120000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFBLK: u32 = 0o060000;
pub const S_IFDIR: u32 = 0o040000;
pub const S_IFCHR: u32 = 0o020000;
pub const S_IFIFO: u32 = 0o010000;

/// `AT_FDCWD`.
pub const AT_FDCWD: i32 = -100;
pub const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
pub const AT_REMOVEDIR: u32 = 0x200;
pub const AT_SYMLINK_FOLLOW: u32 = 0x400;
pub const AT_NO_AUTOMOUNT: u32 = 0x800;
pub const AT_EMPTY_PATH: u32 = 0x1000;
pub const AT_EACCESS: u32 = 0x200;

/// `renameat2(2)` flags (`<linux/fs.h>`).
pub const RENAME_NOREPLACE: u32 = 1;
pub const RENAME_EXCHANGE: u32 = 2;
/// `utimensat(2)`'s special nanosecond values (`<linux/stat.h>`).
pub const UTIME_NOW: i64 = (1 << 30) - 1;
pub const UTIME_OMIT: i64 = (1 << 30) - 2;

/// `FIONREAD` (`<asm-generic/ioctls.h>`): bytes ready to read, as an `int`.
pub const FIONREAD: u32 = 0x541b;

/// `open(2)` flags.
pub mod o {
    pub const RDONLY: u32 = 0;
    pub const WRONLY: u32 = 1;
    pub const RDWR: u32 = 2;
    pub const ACCMODE: u32 = 3;
    pub const CREAT: u32 = 0o100;
    pub const EXCL: u32 = 0o200;
    pub const NOCTTY: u32 = 0o400;
    pub const TRUNC: u32 = 0o1000;
    pub const APPEND: u32 = 0o2000;
    pub const NONBLOCK: u32 = 0o4000;
    pub const DSYNC: u32 = 0o10000;
    pub const ASYNC: u32 = 0o20000;
    pub const DIRECT: u32 = 0o40000;
    pub const LARGEFILE: u32 = 0o100000;
    pub const DIRECTORY: u32 = 0o200000;
    pub const NOFOLLOW: u32 = 0o400000;
    pub const NOATIME: u32 = 0o1000000;
    pub const CLOEXEC: u32 = 0o2000000;
    pub const SYNC: u32 = 0o4010000;
    pub const PATH: u32 = 0o10000000;
    pub const TMPFILE: u32 = 0o20200000;
}

/// `struct flock` on x86-64 (the same layout as `struct flock64`). Mirrors
/// `<asm-generic/fcntl.h>`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flock {
    pub l_type: i16,
    pub l_whence: i16,
    pub _pad0: u32,
    pub l_start: i64,
    pub l_len: i64,
    pub l_pid: i32,
    pub _pad1: u32,
}
assert_eq_size!(Flock, [u8; 32]);
const_assert_eq!(core::mem::offset_of!(Flock, l_start), 8);
const_assert_eq!(core::mem::offset_of!(Flock, l_pid), 24);

/// Advisory locks: `fcntl(2)` lock commands and `l_type` values (`<asm-generic/fcntl.h>`),
/// `flock(2)` operations (`<asm-generic/fcntl.h>`, `LOCK_*`).
pub mod lock {
    pub const F_GETLK: i32 = 5;
    pub const F_SETLK: i32 = 6;
    pub const F_SETLKW: i32 = 7;
    pub const F_OFD_GETLK: i32 = 36;
    pub const F_OFD_SETLK: i32 = 37;
    pub const F_OFD_SETLKW: i32 = 38;
    pub const F_RDLCK: i16 = 0;
    pub const F_WRLCK: i16 = 1;
    pub const F_UNLCK: i16 = 2;
    pub const LOCK_SH: u32 = 1;
    pub const LOCK_EX: u32 = 2;
    pub const LOCK_NB: u32 = 4;
    pub const LOCK_UN: u32 = 8;
}

/// File sealing (`<linux/fcntl.h>`): the `fcntl(2)` commands and the `F_SEAL_*` bits.
pub mod seal {
    pub const F_ADD_SEALS: i32 = 1033;
    pub const F_GET_SEALS: i32 = 1034;
    /// No more seals can be added.
    pub const F_SEAL_SEAL: u32 = 0x0001;
    /// The file can't shrink.
    pub const F_SEAL_SHRINK: u32 = 0x0002;
    /// The file can't grow.
    pub const F_SEAL_GROW: u32 = 0x0004;
    /// The contents can't change.
    pub const F_SEAL_WRITE: u32 = 0x0008;
    /// No new writes or writable shared mappings; existing mappings keep writing.
    pub const F_SEAL_FUTURE_WRITE: u32 = 0x0010;
    /// The execute bits of the mode can't change.
    pub const F_SEAL_EXEC: u32 = 0x0020;
    /// Every seal Linux knows (`F_ALL_SEALS`).
    pub const ALL: u32 = F_SEAL_SEAL
        | F_SEAL_SHRINK
        | F_SEAL_GROW
        | F_SEAL_WRITE
        | F_SEAL_FUTURE_WRITE
        | F_SEAL_EXEC;
}

/// `memfd_create(2)` flags (`<linux/memfd.h>`).
pub mod mfd {
    pub const CLOEXEC: u32 = 0x0001;
    pub const ALLOW_SEALING: u32 = 0x0002;
    pub const HUGETLB: u32 = 0x0004;
    pub const NOEXEC_SEAL: u32 = 0x0008;
    pub const EXEC: u32 = 0x0010;
    /// Every flag (`MFD_ALL_FLAGS`).
    pub const ALL: u32 = CLOEXEC | ALLOW_SEALING | HUGETLB | NOEXEC_SEAL | EXEC;
    /// With `HUGETLB`, bits `HUGE_MASK << HUGE_SHIFT` give log2 of the huge page size.
    pub const HUGE_SHIFT: u32 = 26;
    pub const HUGE_MASK: u32 = 0x3f;
    /// The longest name, in bytes without the NUL (`NAME_MAX` less `"memfd:"`).
    pub const NAME_MAX_LEN: usize = 249;
}

/// `splice(2)`, `tee(2)` and `vmsplice(2)` flags (`<linux/splice.h>`).
pub mod splice {
    pub const SPLICE_F_MOVE: u32 = 0x01;
    pub const SPLICE_F_NONBLOCK: u32 = 0x02;
    pub const SPLICE_F_MORE: u32 = 0x04;
    pub const SPLICE_F_GIFT: u32 = 0x08;
    /// Every flag (`SPLICE_F_ALL`).
    pub const ALL: u32 = SPLICE_F_MOVE | SPLICE_F_NONBLOCK | SPLICE_F_MORE | SPLICE_F_GIFT;
}

crate::impl_pod!(Stat, Timespec, Timeval, Iovec, Utsname, Rlimit, Flock);

/// Extended attributes (`<linux/xattr.h>`, `<uapi/linux/limits.h>`): `setxattr(2)` flags,
/// limits, and the namespace prefixes of attribute names.
pub mod xattr {
    /// Fail with `EEXIST` if the attribute exists.
    pub const XATTR_CREATE: u32 = 1;
    /// Fail with `ENODATA` if the attribute does not exist.
    pub const XATTR_REPLACE: u32 = 2;
    /// Longest name, in bytes (`XATTR_NAME_MAX`).
    pub const XATTR_NAME_MAX: usize = 255;
    /// Largest value (`XATTR_SIZE_MAX`).
    pub const XATTR_SIZE_MAX: usize = 65536;
    /// Largest list of names `listxattr(2)` returns (`XATTR_LIST_MAX`).
    pub const XATTR_LIST_MAX: usize = 65536;
    pub const XATTR_USER_PREFIX: &[u8] = b"user.";
    pub const XATTR_TRUSTED_PREFIX: &[u8] = b"trusted.";
    pub const XATTR_SECURITY_PREFIX: &[u8] = b"security.";
    pub const XATTR_SYSTEM_PREFIX: &[u8] = b"system.";
}
