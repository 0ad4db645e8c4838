//! Linux error numbers: [`Errno`], the one error type every syscall path returns.
//!
//! The numbers are those of `<asm-generic/errno-base.h>` and `<asm-generic/errno.h>` (x86-64 uses
//! the generic values), plus the kernel-internal restart codes of `<linux/errno.h>`, which the
//! Sentry uses exactly as Linux does and which must never reach the guest (see
//! [`Errno::is_internal_restart`]). Names and descriptions come from one table, declared once in
//! the `errno_table!` invocation below; the descriptions are glibc's `strerror` texts, so
//! `--strace` output reads like the host's.
//!
//! The dispatcher turns an `Errno` into a syscall return value with [`Errno::to_ret`]; the strace
//! decoder and the tests go the other way with [`Errno::from_ret`].

use core::fmt;

/// A Linux error number (`errno`), always positive: `Errno::ENOENT.raw() == 2`.
///
/// A syscall returns `-errno` in `rax`; see [`Errno::to_ret`] and [`Errno::from_ret`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct Errno(i32);

/// The largest errno a syscall can return: return values in `-MAX_ERRNO..=-1` are errors
/// (`MAX_ERRNO` in `<linux/err.h>`).
pub const MAX_ERRNO: i32 = 4095;

/// Declares the errno table once and generates from it the associated constants,
/// [`Errno::ALL`], [`Errno::name`], [`Errno::description`] and [`Errno::from_name`].
///
/// `errors` rows are `NAME = number, "description";`, each number at most once; `aliases` rows
/// are `ALIAS = NAME;` (a second name for the same number, never returned by `name`).
macro_rules! errno_table {
    (
        errors {
            $( $(#[$attr:meta])* $name:ident = $num:literal, $desc:literal; )*
        }
        aliases {
            $( $(#[$alias_attr:meta])* $alias:ident = $target:ident; )*
        }
    ) => {
        impl Errno {
            $(
                #[doc = concat!("`", stringify!($name), "` (", stringify!($num), "): ", $desc, ".")]
                $(#[$attr])*
                pub const $name: Errno = Errno($num);
            )*
            $(
                $(#[$alias_attr])*
                pub const $alias: Errno = Errno::$target;
            )*

            /// Every errno of the table (aliases excluded), in ascending order.
            pub const ALL: &'static [Errno] = &[$(Errno::$name),*];

            /// The Linux name (`"ENOENT"`); for an alias, the primary name (`EWOULDBLOCK` is
            /// `"EAGAIN"`). `None` for a number Linux does not define.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $num => Some(stringify!($name)), )*
                    _ => None,
                }
            }

            /// A short `strerror(3)`-like description (`"No such file or directory"`), or
            /// `"Unknown error"`.
            pub const fn description(self) -> &'static str {
                match self.0 {
                    $( $num => $desc, )*
                    _ => "Unknown error",
                }
            }

            /// Looks up a Linux name, aliases included: `from_name("EWOULDBLOCK")` is
            /// `Some(Errno::EAGAIN)`. Case-sensitive.
            pub fn from_name(name: &str) -> Option<Errno> {
                match name {
                    $( stringify!($name) => Some(Errno::$name), )*
                    $( stringify!($alias) => Some(Errno::$alias), )*
                    _ => None,
                }
            }
        }
    };
}

errno_table! {
    errors {
        EPERM           =   1, "Operation not permitted";
        ENOENT          =   2, "No such file or directory";
        ESRCH           =   3, "No such process";
        EINTR           =   4, "Interrupted system call";
        EIO             =   5, "Input/output error";
        ENXIO           =   6, "No such device or address";
        E2BIG           =   7, "Argument list too long";
        ENOEXEC         =   8, "Exec format error";
        EBADF           =   9, "Bad file descriptor";
        ECHILD          =  10, "No child processes";
        EAGAIN          =  11, "Resource temporarily unavailable";
        ENOMEM          =  12, "Cannot allocate memory";
        EACCES          =  13, "Permission denied";
        EFAULT          =  14, "Bad address";
        ENOTBLK         =  15, "Block device required";
        EBUSY           =  16, "Device or resource busy";
        EEXIST          =  17, "File exists";
        EXDEV           =  18, "Invalid cross-device link";
        ENODEV          =  19, "No such device";
        ENOTDIR         =  20, "Not a directory";
        EISDIR          =  21, "Is a directory";
        EINVAL          =  22, "Invalid argument";
        ENFILE          =  23, "Too many open files in system";
        EMFILE          =  24, "Too many open files";
        ENOTTY          =  25, "Inappropriate ioctl for device";
        ETXTBSY         =  26, "Text file busy";
        EFBIG           =  27, "File too large";
        ENOSPC          =  28, "No space left on device";
        ESPIPE          =  29, "Illegal seek";
        EROFS           =  30, "Read-only file system";
        EMLINK          =  31, "Too many links";
        EPIPE           =  32, "Broken pipe";
        EDOM            =  33, "Numerical argument out of domain";
        ERANGE          =  34, "Numerical result out of range";
        EDEADLK         =  35, "Resource deadlock avoided";
        ENAMETOOLONG    =  36, "File name too long";
        ENOLCK          =  37, "No locks available";
        ENOSYS          =  38, "Function not implemented";
        ENOTEMPTY       =  39, "Directory not empty";
        ELOOP           =  40, "Too many levels of symbolic links";
        ENOMSG          =  42, "No message of desired type";
        EIDRM           =  43, "Identifier removed";
        ECHRNG          =  44, "Channel number out of range";
        EL2NSYNC        =  45, "Level 2 not synchronized";
        EL3HLT          =  46, "Level 3 halted";
        EL3RST          =  47, "Level 3 reset";
        ELNRNG          =  48, "Link number out of range";
        EUNATCH         =  49, "Protocol driver not attached";
        ENOCSI          =  50, "No CSI structure available";
        EL2HLT          =  51, "Level 2 halted";
        EBADE           =  52, "Invalid exchange";
        EBADR           =  53, "Invalid request descriptor";
        EXFULL          =  54, "Exchange full";
        ENOANO          =  55, "No anode";
        EBADRQC         =  56, "Invalid request code";
        EBADSLT         =  57, "Invalid slot";
        EBFONT          =  59, "Bad font file format";
        ENOSTR          =  60, "Device not a stream";
        ENODATA         =  61, "No data available";
        ETIME           =  62, "Timer expired";
        ENOSR           =  63, "Out of streams resources";
        ENONET          =  64, "Machine is not on the network";
        ENOPKG          =  65, "Package not installed";
        EREMOTE         =  66, "Object is remote";
        ENOLINK         =  67, "Link has been severed";
        EADV            =  68, "Advertise error";
        ESRMNT          =  69, "Srmount error";
        ECOMM           =  70, "Communication error on send";
        EPROTO          =  71, "Protocol error";
        EMULTIHOP       =  72, "Multihop attempted";
        EDOTDOT         =  73, "RFS specific error";
        EBADMSG         =  74, "Bad message";
        EOVERFLOW       =  75, "Value too large for defined data type";
        ENOTUNIQ        =  76, "Name not unique on network";
        EBADFD          =  77, "File descriptor in bad state";
        EREMCHG         =  78, "Remote address changed";
        ELIBACC         =  79, "Can not access a needed shared library";
        ELIBBAD         =  80, "Accessing a corrupted shared library";
        ELIBSCN         =  81, ".lib section in a.out corrupted";
        ELIBMAX         =  82, "Attempting to link in too many shared libraries";
        ELIBEXEC        =  83, "Cannot exec a shared library directly";
        EILSEQ          =  84, "Invalid or incomplete multibyte or wide character";
        ERESTART        =  85, "Interrupted system call should be restarted";
        ESTRPIPE        =  86, "Streams pipe error";
        EUSERS          =  87, "Too many users";
        ENOTSOCK        =  88, "Socket operation on non-socket";
        EDESTADDRREQ    =  89, "Destination address required";
        EMSGSIZE        =  90, "Message too long";
        EPROTOTYPE      =  91, "Protocol wrong type for socket";
        ENOPROTOOPT     =  92, "Protocol not available";
        EPROTONOSUPPORT =  93, "Protocol not supported";
        ESOCKTNOSUPPORT =  94, "Socket type not supported";
        EOPNOTSUPP      =  95, "Operation not supported";
        EPFNOSUPPORT    =  96, "Protocol family not supported";
        EAFNOSUPPORT    =  97, "Address family not supported by protocol";
        EADDRINUSE      =  98, "Address already in use";
        EADDRNOTAVAIL   =  99, "Cannot assign requested address";
        ENETDOWN        = 100, "Network is down";
        ENETUNREACH     = 101, "Network is unreachable";
        ENETRESET       = 102, "Network dropped connection on reset";
        ECONNABORTED    = 103, "Software caused connection abort";
        ECONNRESET      = 104, "Connection reset by peer";
        ENOBUFS         = 105, "No buffer space available";
        EISCONN         = 106, "Transport endpoint is already connected";
        ENOTCONN        = 107, "Transport endpoint is not connected";
        ESHUTDOWN       = 108, "Cannot send after transport endpoint shutdown";
        ETOOMANYREFS    = 109, "Too many references: cannot splice";
        ETIMEDOUT       = 110, "Connection timed out";
        ECONNREFUSED    = 111, "Connection refused";
        EHOSTDOWN       = 112, "Host is down";
        EHOSTUNREACH    = 113, "No route to host";
        EALREADY        = 114, "Operation already in progress";
        EINPROGRESS     = 115, "Operation now in progress";
        ESTALE          = 116, "Stale file handle";
        EUCLEAN         = 117, "Structure needs cleaning";
        ENOTNAM         = 118, "Not a XENIX named type file";
        ENAVAIL         = 119, "No XENIX semaphores available";
        EISNAM          = 120, "Is a named type file";
        EREMOTEIO       = 121, "Remote I/O error";
        EDQUOT          = 122, "Disk quota exceeded";
        ENOMEDIUM       = 123, "No medium found";
        EMEDIUMTYPE     = 124, "Wrong medium type";
        ECANCELED       = 125, "Operation canceled";
        ENOKEY          = 126, "Required key not available";
        EKEYEXPIRED     = 127, "Key has expired";
        EKEYREVOKED     = 128, "Key has been revoked";
        EKEYREJECTED    = 129, "Key was rejected by service";
        EOWNERDEAD      = 130, "Owner died";
        ENOTRECOVERABLE = 131, "State not recoverable";
        ERFKILL         = 132, "Operation not possible due to RF-kill";
        EHWPOISON       = 133, "Memory page has hardware error";
        /// Kernel-internal (`<linux/errno.h>`): restart the syscall if the interrupting signal's
        /// handler has `SA_RESTART` (or there is no handler), else fail with `EINTR`. Never
        /// reaches the guest.
        ERESTARTSYS     = 512, "Interrupted system call (restart if SA_RESTART)";
        /// Kernel-internal (`<linux/errno.h>`): restart the syscall even if a handler ran.
        /// Never reaches the guest.
        ERESTARTNOINTR  = 513, "Interrupted system call (always restart)";
        /// Kernel-internal (`<linux/errno.h>`): restart the syscall only if no handler ran,
        /// else fail with `EINTR`. Never reaches the guest.
        ERESTARTNOHAND  = 514, "Interrupted system call (restart if no handler)";
        /// Kernel-internal (`<linux/errno.h>`): an ioctl command the file does not know; the
        /// ioctl layer turns it into `ENOTTY`. Never reaches the guest.
        ENOIOCTLCMD     = 515, "Unknown ioctl command";
        /// Kernel-internal (`<linux/errno.h>`): restart through `restart_syscall(2)` and the
        /// thread's restart block (e.g. `nanosleep` with the remaining time). Never reaches the
        /// guest.
        ERESTART_RESTARTBLOCK = 516, "Interrupted system call (restart via restart_syscall)";
    }
    aliases {
        /// Alias of [`Errno::EAGAIN`] (11).
        EWOULDBLOCK = EAGAIN;
        /// Alias of [`Errno::EDEADLK`] (35).
        EDEADLOCK = EDEADLK;
        /// Alias of [`Errno::EOPNOTSUPP`] (95), as glibc defines it.
        ENOTSUP = EOPNOTSUPP;
    }
}

impl Errno {
    /// Wraps a raw number. Any value is accepted; unknown ones print as `Errno(N)`.
    pub const fn new(raw: i32) -> Errno {
        Errno(raw)
    }

    /// The raw (positive) number.
    pub const fn raw(self) -> i32 {
        self.0
    }

    /// The syscall return value for this error: `-errno`, as the dispatcher writes it to `rax`.
    pub const fn to_ret(self) -> i64 {
        -(self.0 as i64)
    }

    /// Decodes a raw syscall return value: `Some` for `-4095..=-1` (an error), `None` for a
    /// success value (including addresses with the top bit set below `-4095`).
    pub fn from_ret(ret: i64) -> Option<Errno> {
        if (-i64::from(MAX_ERRNO)..0).contains(&ret) {
            i32::try_from(-ret).ok().map(Errno)
        } else {
            None
        }
    }

    /// Whether this is one of the kernel-internal codes `ERESTARTSYS`..=`ERESTART_RESTARTBLOCK`
    /// (512..=516, `ENOIOCTLCMD` included). The syscall exit path must turn these into a restart
    /// or a guest-visible errno (`EINTR`, `ENOTTY`); they must never reach the guest.
    pub const fn is_internal_restart(self) -> bool {
        self.0 >= Errno::ERESTARTSYS.0 && self.0 <= Errno::ERESTART_RESTARTBLOCK.0
    }
}

impl fmt::Debug for Errno {
    /// `ENOENT`, or `Errno(N)` for a number Linux does not define.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "Errno({})", self.0),
        }
    }
}

impl fmt::Display for Errno {
    /// `ENOENT (No such file or directory)`, or `Errno(N) (Unknown error)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} ({})", self, self.description())
    }
}

impl core::error::Error for Errno {}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::format;
    use std::string::String;
    use std::vec::Vec;

    #[test]
    fn values_match_linux_literals() {
        assert_eq!(Errno::EPERM.raw(), 1);
        assert_eq!(Errno::ENOENT.raw(), 2);
        assert_eq!(Errno::EINTR.raw(), 4);
        assert_eq!(Errno::EBADF.raw(), 9);
        assert_eq!(Errno::EAGAIN.raw(), 11);
        assert_eq!(Errno::EFAULT.raw(), 14);
        assert_eq!(Errno::EINVAL.raw(), 22);
        assert_eq!(Errno::ENOSYS.raw(), 38);
        assert_eq!(Errno::ELOOP.raw(), 40);
        assert_eq!(Errno::EOPNOTSUPP.raw(), 95);
        assert_eq!(Errno::ETIMEDOUT.raw(), 110);
        assert_eq!(Errno::EHWPOISON.raw(), 133);
        assert_eq!(Errno::ERESTARTSYS.raw(), 512);
        assert_eq!(Errno::ERESTART_RESTARTBLOCK.raw(), 516);
    }

    #[test]
    fn aliases_share_the_primary_number_and_name() {
        assert_eq!(Errno::EWOULDBLOCK, Errno::EAGAIN);
        assert_eq!(Errno::EDEADLOCK, Errno::EDEADLK);
        assert_eq!(Errno::ENOTSUP, Errno::EOPNOTSUPP);
        assert_eq!(Errno::EWOULDBLOCK.name(), Some("EAGAIN"));
        assert_eq!(Errno::from_name("EWOULDBLOCK"), Some(Errno::EAGAIN));
        assert_eq!(Errno::from_name("EDEADLOCK"), Some(Errno::EDEADLK));
        assert_eq!(Errno::from_name("ENOTSUP"), Some(Errno::EOPNOTSUPP));
    }

    #[test]
    fn every_entry_round_trips_by_name_and_is_unique() {
        assert_eq!(Errno::ALL.len(), 131 + 5);
        for pair in Errno::ALL.windows(2) {
            assert!(
                pair[0].raw() < pair[1].raw(),
                "{:?} and {:?} out of order",
                pair[0],
                pair[1]
            );
        }
        for &e in Errno::ALL {
            let name = e
                .name()
                .unwrap_or_else(|| panic!("{} has no name", e.raw()));
            assert_eq!(Errno::from_name(name), Some(e), "{name}");
            assert_ne!(e.description(), "Unknown error", "{name}");
            assert_eq!(Errno::from_ret(e.to_ret()), Some(e), "{name}");
        }
    }

    #[test]
    fn unknown_numbers_and_names() {
        assert_eq!(Errno::new(0).name(), None);
        assert_eq!(Errno::new(41).name(), None);
        assert_eq!(Errno::new(58).name(), None);
        assert_eq!(Errno::new(134).name(), None);
        assert_eq!(Errno::new(999).description(), "Unknown error");
        assert_eq!(Errno::from_name("ENOPE"), None);
        assert_eq!(Errno::from_name("enoent"), None);
        assert_eq!(Errno::from_name(""), None);
    }

    #[test]
    fn formatting() {
        assert_eq!(format!("{:?}", Errno::ENOENT), "ENOENT");
        assert_eq!(format!("{:?}", Errno::new(999)), "Errno(999)");
        assert_eq!(
            format!("{}", Errno::ENOENT),
            "ENOENT (No such file or directory)"
        );
        assert_eq!(format!("{}", Errno::new(999)), "Errno(999) (Unknown error)");
        assert_eq!(format!("{:?}", Errno::EWOULDBLOCK), "EAGAIN");
    }

    #[test]
    fn from_ret_boundaries() {
        assert_eq!(Errno::from_ret(0), None);
        assert_eq!(Errno::from_ret(1), None);
        assert_eq!(Errno::from_ret(i64::MAX), None);
        assert_eq!(Errno::from_ret(-1), Some(Errno::EPERM));
        assert_eq!(Errno::from_ret(-2), Some(Errno::ENOENT));
        assert_eq!(Errno::from_ret(-4095), Some(Errno::new(4095)));
        assert_eq!(Errno::from_ret(-4096), None);
        assert_eq!(Errno::from_ret(i64::MIN), None);
        // A high user address returned by mmap is not an error.
        assert_eq!(Errno::from_ret(0xffff_ffff_ffff_e000_u64 as i64), None);
        assert_eq!(Errno::ENOENT.to_ret(), -2);
    }

    #[test]
    fn internal_restart_codes() {
        let internal: Vec<Errno> = Errno::ALL
            .iter()
            .copied()
            .filter(|e| e.is_internal_restart())
            .collect();
        assert_eq!(
            internal,
            [
                Errno::ERESTARTSYS,
                Errno::ERESTARTNOINTR,
                Errno::ERESTARTNOHAND,
                Errno::ENOIOCTLCMD,
                Errno::ERESTART_RESTARTBLOCK,
            ]
        );
        assert!(!Errno::EINTR.is_internal_restart());
        assert!(!Errno::ERESTART.is_internal_restart());
        assert!(!Errno::new(511).is_internal_restart());
        assert!(!Errno::new(517).is_internal_restart());
    }

    /// Every `#define E<NAME> <number>` (and `#define E<ALIAS> E<NAME>`) in the host's uapi
    /// headers matches the table, and every table entry below 512 is in the headers.
    #[test]
    fn matches_host_uapi_headers() {
        let mut seen = Vec::new();
        for path in [
            "/usr/include/asm-generic/errno-base.h",
            "/usr/include/asm-generic/errno.h",
        ] {
            let text: String = std::fs::read_to_string(path)
                .unwrap_or_else(|e| panic!("{path}: {e} (install the Linux uapi headers)"));
            for line in text.lines() {
                let mut words = line.split_whitespace();
                if words.next() != Some("#define") {
                    continue;
                }
                let (Some(name), Some(value)) = (words.next(), words.next()) else {
                    continue;
                };
                if !name.starts_with('E') {
                    continue;
                }
                let expected = match value.parse::<i32>() {
                    Ok(n) => Errno::new(n),
                    Err(_) => Errno::from_name(value)
                        .unwrap_or_else(|| panic!("{name} aliases unknown {value}")),
                };
                assert_eq!(Errno::from_name(name), Some(expected), "{path}: {line}");
                seen.push(expected);
            }
        }
        for &e in Errno::ALL.iter().filter(|e| e.raw() < 512) {
            assert!(seen.contains(&e), "{e:?} is not in the host headers");
        }
    }
}
