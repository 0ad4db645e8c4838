//! The Sentry's own seccomp allowlist, as data: one [`Rule`] per host syscall the Sentry
//! still makes once it is set up, with the argument checks BPF can make and the reason it is
//! there. [`filter`] compiles the table with `seccompiler`; anything not on it kills the whole
//! process (`SECCOMP_RET_KILL_PROCESS`). `snare seccomp-rules` prints the same table
//! ([`table`]).
//!
//! How the list was found: every host syscall of the Sentry's threads (not the stubs', which
//! are other processes with their own filters) was recorded with ftrace over the whole test
//! suite, the fuzzers and real programs, with the arguments the checks below look at; calls
//! made only during set-up (before [`super::confine`]) are not listed. A host call added to
//! the Sentry later needs its row here, or the sandbox dies the first time it is made: the
//! test suite runs confined, so it finds the common ones.
//!
//! What BPF cannot do: read memory. Paths, `openat2`'s `struct open_how`, `clone3`'s
//! arguments and socket addresses are invisible to it, so path-taking calls are allowed on
//! any path, and *which files* the Sentry reaches is confined by its mount namespace
//! (`snare_platform::isolate`): its root is an empty read-only tmpfs, so a path reaches a
//! host file only below an fd the Sentry holds (the guest's root and volumes, its own
//! `/proc`). A dirfd check (`dirfd != AT_FDCWD`) would buy nothing: an absolute path
//! ignores the dirfd, and both lead to the empty root.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule,
};
use snare_syscalls_table::nr;

/// How one argument is compared. Arguments the kernel reads as `int` are compared on their
/// low 32 bits (`Eq32`, `Clear32`), as the kernel truncates them; the rest on all 64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Test {
    /// `arg == value` on the low 32 bits.
    Eq32(u32),
    /// `arg == value` on all 64 bits.
    Eq64(u64),
    /// `arg & bits == 0` on the low 32 bits: none of `bits` set.
    Clear32(u32),
    /// `arg & mask == value` on the low 32 bits.
    Masked32 { mask: u32, value: u32 },
}

/// One comparison of argument `arg` (0-based), and how the table shows its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    pub arg: u8,
    pub test: Test,
    pub shown: &'static str,
}

const fn eq(arg: u8, value: u32, shown: &'static str) -> Check {
    Check {
        arg,
        test: Test::Eq32(value),
        shown,
    }
}

const fn eq64(arg: u8, value: u64, shown: &'static str) -> Check {
    Check {
        arg,
        test: Test::Eq64(value),
        shown,
    }
}

const fn clear(arg: u8, bits: u32, shown: &'static str) -> Check {
    Check {
        arg,
        test: Test::Clear32(bits),
        shown,
    }
}

/// `arg` is `value` once the bits outside `mask` are ignored.
const fn masked(arg: u8, mask: u32, value: u32, shown: &'static str) -> Check {
    Check {
        arg,
        test: Test::Masked32 { mask, value },
        shown,
    }
}

/// What a matching call gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// It runs.
    Allow,
    /// It fails with this errno without running.
    Errno(i32),
}

/// One row of the allowlist: syscall `nr` is allowed when one of the alternatives in `when`
/// holds (each a list of checks that must all hold; no alternatives: always).
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub nr: u32,
    pub when: &'static [&'static [Check]],
    pub action: Action,
    pub reason: &'static str,
}

const fn allow(nr: u32, reason: &'static str) -> Rule {
    Rule {
        nr,
        when: &[],
        action: Action::Allow,
        reason,
    }
}

const fn allow_if(nr: u32, when: &'static [&'static [Check]], reason: &'static str) -> Rule {
    Rule {
        nr,
        when,
        action: Action::Allow,
        reason,
    }
}

// Host constants the checks compare with (host calls, so the host's `libc` values).
const PROT_EXEC: u32 = libc::PROT_EXEC as u32;
/// The flags glibc's `pthread_create` passes to `clone` (the fallback after `clone3`).
const THREAD_CLONE_FLAGS: u64 = (libc::CLONE_VM
    | libc::CLONE_FS
    | libc::CLONE_FILES
    | libc::CLONE_SIGHAND
    | libc::CLONE_THREAD
    | libc::CLONE_SYSVSEM
    | libc::CLONE_SETTLS
    | libc::CLONE_PARENT_SETTID
    | libc::CLONE_CHILD_CLEARTID) as u64;
/// The guest's TCP and UDP sockets (`net/inet`): always non-blocking and close-on-exec,
/// with the protocol named.
const SOCK_FLAGS: u32 = (libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) as u32;
const TCP_SOCK: u32 = libc::SOCK_STREAM as u32 | SOCK_FLAGS;
const UDP_SOCK: u32 = libc::SOCK_DGRAM as u32 | SOCK_FLAGS;
const AF_INET: u32 = libc::AF_INET as u32;
const AF_INET6: u32 = libc::AF_INET6 as u32;
const TCP: u32 = libc::IPPROTO_TCP as u32;
const UDP: u32 = libc::IPPROTO_UDP as u32;
const UDPLITE: u32 = libc::IPPROTO_UDPLITE as u32;
/// The Sentry's own rtnetlink requests (`net/netlink`): one shape only.
const AF_NETLINK: u32 = libc::AF_NETLINK as u32;
const RAW_SOCK: u32 = libc::SOCK_RAW as u32 | SOCK_FLAGS;
const NETLINK_ROUTE: u32 = libc::NETLINK_ROUTE as u32;
/// The option levels `syscalls/socket_inet.rs` passes on.
const SOCKOPT_LEVELS: &[&[Check]] = &[
    &[eq(1, libc::SOL_SOCKET as u32, "SOL_SOCKET")],
    &[eq(1, libc::IPPROTO_TCP as u32, "IPPROTO_TCP")],
    &[eq(1, libc::IPPROTO_IP as u32, "IPPROTO_IP")],
    &[eq(1, libc::IPPROTO_IPV6 as u32, "IPPROTO_IPV6")],
    &[eq(1, libc::IPPROTO_UDPLITE as u32, "IPPROTO_UDPLITE")],
];
const NET_REASON: &str =
    "the guest's TCP/UDP sockets (net/inet), in the sandbox's network namespace";

/// Futex op bits that don't change what the op is.
const FUTEX_OP_MASK: u32 = !((libc::FUTEX_PRIVATE_FLAG | libc::FUTEX_CLOCK_REALTIME) as u32);

/// Every host syscall the set-up Sentry makes, in number order.
pub const RULES: &[Rule] = &[
    allow(
        nr::READ,
        "host files, stdin, the stubs' completion eventfds",
    ),
    allow(
        nr::WRITE,
        "stdout and stderr, volume files, the stub watcher's wake-up socket",
    ),
    allow(nr::CLOSE, "closing fds the Sentry holds"),
    allow(
        nr::POLL,
        "waiting on stubs' eventfds and pidfds, on host stdio, and on the control socket's \
         listener (oci/server)",
    ),
    allow(nr::LSEEK, "offsets of held host files"),
    allow_if(
        nr::MMAP,
        &[&[clear(2, PROT_EXEC, "PROT_EXEC")]],
        "heap, thread stacks; never executable once set up",
    ),
    allow_if(
        nr::MPROTECT,
        &[&[clear(2, PROT_EXEC, "PROT_EXEC")]],
        "glibc's malloc grows its arenas, thread stack guards; never executable",
    ),
    allow(nr::MUNMAP, "freeing heap and thread stacks"),
    allow(nr::BRK, "glibc's main malloc arena"),
    allow(
        nr::RT_SIGPROCMASK,
        "glibc blocks signals around thread creation",
    ),
    allow_if(
        nr::IOCTL,
        &[
            &[eq(1, libc::TCGETS as u32, "TCGETS")],
            &[eq(1, libc::TCSETS as u32, "TCSETS")],
            &[eq(1, libc::TCSETSW as u32, "TCSETSW")],
            &[eq(1, libc::TCSETSF as u32, "TCSETSF")],
            &[eq(1, libc::TCFLSH as u32, "TCFLSH")],
            &[eq(1, libc::TIOCGWINSZ as u32, "TIOCGWINSZ")],
            &[eq(1, libc::TIOCSWINSZ as u32, "TIOCSWINSZ")],
            &[eq(1, libc::FIONREAD as u32, "FIONREAD")],
            &[eq(1, libc::TIOCOUTQ as u32, "SIOCOUTQ")],
            &[eq(1, snare_abi::socket::SIOCOUTQNSD, "SIOCOUTQNSD")],
        ],
        "the guest's termios and window-size ioctls on host stdio (not TIOCSTI); the queue \
         sizes of its TCP/UDP sockets (FIONREAD, SIOCOUTQ, SIOCOUTQNSD)",
    ),
    allow(
        nr::PREAD64,
        "host files into the page cache and guest buffers",
    ),
    allow(nr::PWRITE64, "volume files; filling memory-file pages"),
    allow(nr::SCHED_YIELD, "spin loops waiting for stubs"),
    allow(
        nr::MREMAP,
        "glibc's realloc of large blocks (keeps the protection)",
    ),
    allow_if(
        nr::MADVISE,
        &[
            &[eq(2, libc::MADV_DONTNEED as u32, "MADV_DONTNEED")],
            &[eq(2, libc::MADV_FREE as u32, "MADV_FREE")],
        ],
        "glibc gives back freed heap and exited threads' stacks",
    ),
    allow_if(
        nr::SOCKET,
        &[
            &[
                eq(0, AF_INET, "AF_INET"),
                eq(1, TCP_SOCK, "SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC"),
                eq(2, TCP, "IPPROTO_TCP"),
            ],
            &[
                eq(0, AF_INET, "AF_INET"),
                eq(1, UDP_SOCK, "SOCK_DGRAM|SOCK_NONBLOCK|SOCK_CLOEXEC"),
                eq(2, UDP, "IPPROTO_UDP"),
            ],
            &[
                eq(0, AF_INET, "AF_INET"),
                eq(1, UDP_SOCK, "SOCK_DGRAM|SOCK_NONBLOCK|SOCK_CLOEXEC"),
                eq(2, UDPLITE, "IPPROTO_UDPLITE"),
            ],
            &[
                eq(0, AF_INET6, "AF_INET6"),
                eq(1, TCP_SOCK, "SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC"),
                eq(2, TCP, "IPPROTO_TCP"),
            ],
            &[
                eq(0, AF_INET6, "AF_INET6"),
                eq(1, UDP_SOCK, "SOCK_DGRAM|SOCK_NONBLOCK|SOCK_CLOEXEC"),
                eq(2, UDP, "IPPROTO_UDP"),
            ],
            &[
                eq(0, AF_INET6, "AF_INET6"),
                eq(1, UDP_SOCK, "SOCK_DGRAM|SOCK_NONBLOCK|SOCK_CLOEXEC"),
                eq(2, UDPLITE, "IPPROTO_UDPLITE"),
            ],
            &[
                eq(0, AF_NETLINK, "AF_NETLINK"),
                eq(1, RAW_SOCK, "SOCK_RAW|SOCK_NONBLOCK|SOCK_CLOEXEC"),
                eq(2, NETLINK_ROUTE, "NETLINK_ROUTE"),
            ],
        ],
        "the host socket behind a guest's TCP, UDP or UDP-Lite socket (net/inet); a NETLINK_ROUTE \
         socket for the Sentry's own GET requests about the sandbox's interfaces, \
         addresses and routes (net/netlink: sent with send, read with recv); no other \
         family, type or protocol (the network namespace, not this rule, bounds where \
         they reach)",
    ),
    allow(nr::CONNECT, NET_REASON),
    allow_if(
        nr::SENDTO,
        &[&[eq64(4, 0, "NULL")]],
        "send on the stub watcher's socket pair and the Sentry's NETLINK_ROUTE requests \
         (net/netlink); no address, so never a new peer",
    ),
    allow(
        nr::RECVFROM,
        "the stub watcher drains its wake-up socket; the host's NETLINK_ROUTE answers \
         (net/netlink)",
    ),
    allow(
        nr::SENDMSG,
        "host fds to stubs (SCM_RIGHTS) on the platform's socket pair; the guest's TCP/UDP \
         sends (net/inet); answers on the control socket (oci/server)",
    ),
    allow(
        nr::RECVMSG,
        "each new stub's completion eventfd, from the source stub; the guest's TCP/UDP \
         receives (net/inet); requests and an exec's stdio fds on the control socket \
         (oci/server)",
    ),
    allow(
        nr::SHUTDOWN,
        "the guest's TCP/UDP sockets (net/inet); ending a control connection once its exec'd \
         process has ended (oci/server)",
    ),
    allow(nr::BIND, NET_REASON),
    allow(nr::LISTEN, NET_REASON),
    allow(nr::GETSOCKNAME, NET_REASON),
    allow(nr::GETPEERNAME, NET_REASON),
    allow_if(
        nr::SETSOCKOPT,
        SOCKOPT_LEVELS,
        "the guest's listed socket options (syscalls/socket_inet.rs OPTIONS); SO_RCVTIMEO \
         of a new control connection (oci/server)",
    ),
    allow_if(
        nr::GETSOCKOPT,
        SOCKOPT_LEVELS,
        "the guest's listed socket options, and SO_ERROR after a connect",
    ),
    allow_if(
        nr::CLONE,
        &[&[eq64(
            0,
            THREAD_CLONE_FLAGS,
            "glibc's thread flags (CLONE_VM|CLONE_THREAD|…)",
        )]],
        "new Sentry threads (glibc's fallback after clone3); never a process",
    ),
    allow(nr::EXIT, "a Sentry thread ends"),
    allow_if(
        nr::FCNTL,
        &[
            &[eq(1, libc::F_GETFD as u32, "F_GETFD")],
            &[eq(1, libc::F_SETFD as u32, "F_SETFD")],
            &[eq(1, libc::F_GETFL as u32, "F_GETFL")],
            &[eq(1, libc::F_SETFL as u32, "F_SETFL")],
            &[eq(1, libc::F_DUPFD_CLOEXEC as u32, "F_DUPFD_CLOEXEC")],
        ],
        "fd flags (the guest's O_NONBLOCK on host stdio; a control connection made \
         blocking, oci/server) and duplicates of held fds",
    ),
    allow(nr::FTRUNCATE, "truncating volume files"),
    allow(
        nr::RT_SIGTIMEDWAIT,
        "the thread that forwards host signals to the guest",
    ),
    allow(
        nr::SIGALTSTACK,
        "Rust's stack-overflow guard on each new thread",
    ),
    allow(nr::FSTATFS, "statfs of the root and volumes"),
    allow_if(
        nr::PRCTL,
        &[&[eq(0, libc::PR_SET_NAME as u32, "PR_SET_NAME")]],
        "naming a reused task thread after its guest task",
    ),
    allow(nr::GETTID, "thread set-up (glibc, Rust's std)"),
    allow(
        nr::FSETXATTR,
        "user.* xattrs of volume files (reopened through their held /proc's fd links)",
    ),
    allow(
        nr::FGETXATTR,
        "user.* xattrs of host files (reopened through their held /proc's fd links)",
    ),
    allow(
        nr::FLISTXATTR,
        "user.* xattrs of host files (reopened through their held /proc's fd links)",
    ),
    allow(
        nr::FREMOVEXATTR,
        "user.* xattrs of volume files (reopened through their held /proc's fd links)",
    ),
    allow_if(
        nr::FUTEX,
        &[
            &[masked(
                1,
                FUTEX_OP_MASK,
                libc::FUTEX_WAIT as u32,
                "FUTEX_WAIT[_PRIVATE]",
            )],
            &[masked(
                1,
                FUTEX_OP_MASK,
                libc::FUTEX_WAKE as u32,
                "FUTEX_WAKE[_PRIVATE]",
            )],
            &[masked(
                1,
                FUTEX_OP_MASK,
                libc::FUTEX_WAIT_BITSET as u32,
                "FUTEX_WAIT_BITSET[_PRIVATE]",
            )],
            &[masked(
                1,
                FUTEX_OP_MASK,
                libc::FUTEX_WAKE_BITSET as u32,
                "FUTEX_WAKE_BITSET[_PRIVATE]",
            )],
        ],
        "locks, condition variables, the hand-off with stubs; no requeue or PI op",
    ),
    allow(
        nr::SCHED_GETAFFINITY,
        "glibc's malloc counts CPUs for its arenas",
    ),
    allow(
        nr::GETDENTS64,
        "listing host directories (the root, volumes)",
    ),
    allow(
        nr::RESTART_SYSCALL,
        "a sleep or wait stopped by the host (SIGSTOP, the cgroup freezer of `snare pause`) \
         goes on",
    ),
    allow(
        nr::CLOCK_NANOSLEEP,
        "sleeps: timers, the CPU-clock sampler, kill deadlines",
    ),
    allow(nr::EXIT_GROUP, "the sandbox ends"),
    allow(
        nr::EPOLL_WAIT,
        "the inet reactor thread waits for its sockets' readiness; a guest epoll's host set \
         is read without waiting",
    ),
    allow_if(
        nr::EPOLL_CTL,
        &[
            &[eq(1, libc::EPOLL_CTL_ADD as u32, "EPOLL_CTL_ADD")],
            &[eq(1, libc::EPOLL_CTL_MOD as u32, "EPOLL_CTL_MOD")],
            &[eq(1, libc::EPOLL_CTL_DEL as u32, "EPOLL_CTL_DEL")],
        ],
        "the inet reactor watches each new host socket (a close removes it), and stops and \
         starts watching it as guest waiters come and go; a guest epoll's host set follows \
         its interest list",
    ),
    allow_if(
        nr::TGKILL,
        &[&[eq(2, libc::SIGCHLD as u32, "SIGCHLD")]],
        "interrupting a stub thread that runs guest code (the platform's interrupt)",
    ),
    allow_if(
        nr::WAITID,
        &[&[eq(0, libc::P_PIDFD, "P_PIDFD")]],
        "reaping a killed stub through its pidfd",
    ),
    allow(
        nr::OPENAT,
        "files of the held /proc (the Sentry's, its stubs', fd links of held fds)",
    ),
    allow(
        nr::MKDIRAT,
        "mkdir in a volume, under its held directory fd",
    ),
    allow(
        nr::MKNODAT,
        "mkfifo and socket nodes in a volume or the write-through root, under its held directory fd",
    ),
    allow(
        nr::FCHOWNAT,
        "chown in a volume, under its held directory fd",
    ),
    allow(
        nr::NEWFSTATAT,
        "fstat of held fds (host sockets' inodes for /proc/net); lstat under held \
         directory fds",
    ),
    allow(
        nr::UNLINKAT,
        "unlink and rmdir in a volume, under its held directory fd",
    ),
    allow(
        nr::RENAMEAT,
        "rename in a volume (glibc's renameat2 without flags)",
    ),
    allow(nr::LINKAT, "link in a volume, under its held directory fd"),
    allow(
        nr::SYMLINKAT,
        "symlink in a volume, under its held directory fd",
    ),
    allow(
        nr::READLINKAT,
        "symlinks of the root and volumes, under held directory fds",
    ),
    allow(
        nr::FCHMODAT,
        "chmod of volume files (through the held /proc's fd links)",
    ),
    allow(nr::SET_ROBUST_LIST, "glibc's set-up of each new thread"),
    allow(nr::UTIMENSAT, "file times of volume files"),
    allow(
        nr::FALLOCATE,
        "punching freed memory-file pages; fallocate on volume files",
    ),
    allow_if(
        nr::ACCEPT4,
        &[&[eq(3, SOCK_FLAGS, "SOCK_NONBLOCK|SOCK_CLOEXEC")]],
        "a connection to a guest's TCP listener, non-blocking like every host socket; a \
         connection to the container's control socket (oci/server: snare exec)",
    ),
    allow_if(
        nr::EVENTFD2,
        &[&[eq(
            1,
            (libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) as u32,
            "EFD_CLOEXEC|EFD_NONBLOCK",
        )]],
        "a task's wake-up fd, made when it first blocks on a guest TCP/UDP socket",
    ),
    allow_if(
        nr::EPOLL_CREATE1,
        &[&[eq(0, libc::EPOLL_CLOEXEC as u32, "EPOLL_CLOEXEC")]],
        "the inet reactor's one epoll, made with the first guest TCP/UDP socket; a guest \
         epoll's host set, made with its first TCP/UDP interest",
    ),
    allow(
        nr::RENAMEAT2,
        "rename with RENAME_NOREPLACE or RENAME_EXCHANGE in a volume",
    ),
    allow(
        nr::GETRANDOM,
        "hash-map seeds of new threads; the guest's getrandom",
    ),
    allow(nr::STATX, "stat of host files (Rust's File::metadata)"),
    allow(nr::RSEQ, "glibc registers each new thread's rseq area"),
    allow_if(
        nr::PIDFD_SEND_SIGNAL,
        &[&[eq(1, libc::SIGKILL as u32, "SIGKILL")]],
        "killing a stub process through its pidfd",
    ),
    allow(nr::PIDFD_OPEN, "a pidfd for each new stub process"),
    Rule {
        nr: nr::CLONE3,
        when: &[],
        action: Action::Errno(libc::ENOSYS),
        reason: "its flags are in memory BPF can't read: glibc's pthread_create gets \
                 ENOSYS and falls back to clone, whose flags are checked",
    },
    allow(
        nr::OPENAT2,
        "the VFS opens host files beneath the root and volume fds it holds",
    ),
];

/// The name of syscall `nr` (from the syscall table).
fn name(nr: u32) -> &'static str {
    snare_syscalls_table::by_nr(u64::from(nr)).map_or("?", |s| s.name)
}

fn condition(c: &Check) -> Result<SeccompCondition, seccompiler::BackendError> {
    let (len, op, value) = match c.test {
        Test::Eq32(v) => (SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, u64::from(v)),
        Test::Eq64(v) => (SeccompCmpArgLen::Qword, SeccompCmpOp::Eq, v),
        Test::Clear32(bits) => (
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::MaskedEq(u64::from(bits)),
            0,
        ),
        Test::Masked32 { mask, value } => (
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::MaskedEq(u64::from(mask)),
            u64::from(value),
        ),
    };
    SeccompCondition::new(c.arg, len, op, value)
}

/// The action of a call that matches no rule.
fn default_action() -> SeccompAction {
    #[cfg(feature = "test-hooks")]
    if super::test_hooks::log_only() {
        return SeccompAction::Log;
    }
    SeccompAction::KillProcess
}

/// The BPF program of [`RULES`]: `Errno` rows first (a short prefix, after the arch check),
/// then `seccompiler`'s program of the `Allow` rows, whose default kills the process.
pub fn filter() -> Result<BpfProgram, seccompiler::BackendError> {
    let mut allowed: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for r in RULES.iter().filter(|r| r.action == Action::Allow) {
        let mut chain = Vec::new();
        for alt in r.when {
            let conds = alt.iter().map(condition).collect::<Result<Vec<_>, _>>()?;
            chain.push(SeccompRule::new(conds)?);
        }
        allowed.insert(i64::from(r.nr), chain);
    }
    let kill = default_action();
    let main: BpfProgram = SeccompFilter::new(
        allowed,
        kill.clone(),
        SeccompAction::Allow,
        seccompiler::TargetArch::x86_64,
    )?
    .try_into()?;
    let mut prog = errno_prefix(u32::from(kill));
    prog.extend(main);
    Ok(prog)
}

/// `Errno` rules as BPF: check the arch (anything but x86-64 gets `otherwise`), load the
/// number, and for each such rule `if nr == N return ERRNO(e)`.
fn errno_prefix(otherwise: u32) -> BpfProgram {
    use snare_abi::seccomp::{bpf, AUDIT_ARCH_X86_64, SECCOMP_RET_ERRNO};
    let stmt = |code: u16, k: u32| seccompiler::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    };
    let jeq = |k: u32, jt: u8, jf: u8| seccompiler::sock_filter {
        code: bpf::JMP | bpf::JEQ | bpf::K,
        jt,
        jf,
        k,
    };
    let mut p = vec![
        stmt(bpf::LD | bpf::W | bpf::ABS, 4), // seccomp_data.arch
        jeq(AUDIT_ARCH_X86_64, 1, 0),
        stmt(bpf::RET | bpf::K, otherwise),
        stmt(bpf::LD | bpf::W | bpf::ABS, 0), // seccomp_data.nr
    ];
    for r in RULES {
        if let Action::Errno(e) = r.action {
            p.push(jeq(r.nr, 0, 1));
            p.push(stmt(
                bpf::RET | bpf::K,
                SECCOMP_RET_ERRNO | (e as u32 & 0xffff),
            ));
        }
    }
    p
}

/// How a rule's conditions read in the table: `always`, or alternatives joined by ` or `,
/// each a list of `aN == NAME` / `aN & NAME == 0` joined by ` and `.
pub fn conditions(r: &Rule) -> String {
    if r.when.is_empty() {
        return match r.action {
            Action::Allow => "always".into(),
            Action::Errno(_) => "always".into(),
        };
    }
    r.when
        .iter()
        .map(|alt| {
            alt.iter()
                .map(|c| match c.test {
                    Test::Eq32(_) | Test::Eq64(_) | Test::Masked32 { .. } => {
                        format!("a{} == {}", c.arg, c.shown)
                    }
                    Test::Clear32(_) => format!("a{} & {} == 0", c.arg, c.shown),
                })
                .collect::<Vec<_>>()
                .join(" and ")
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

/// The allowlist as text, one rule a line: number, name, action and conditions, reason
/// (what `snare seccomp-rules` prints).
pub fn table() -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# The Sentry's host syscall allowlist: {} rules; any other call kills the sandbox.",
        RULES.len()
    );
    let _ = writeln!(out, "# nr  syscall              allowed when  —  why");
    for r in RULES {
        let action = match r.action {
            Action::Allow => String::new(),
            Action::Errno(e) => format!(" → {}", snare_abi::Errno::new(e)),
        };
        let _ = writeln!(
            out,
            "{:>4}  {:<20} {}{}  —  {}",
            r.nr,
            name(r.nr),
            conditions(r),
            action,
            r.reason
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use snare_abi::seccomp::{
        bpf, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO,
        SECCOMP_RET_KILL_PROCESS,
    };

    /// A classic-BPF interpreter for what `seccompiler` and [`errno_prefix`] emit, to check
    /// the program without loading it.
    fn run(prog: &BpfProgram, arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&nr.to_ne_bytes());
        data[4..8].copy_from_slice(&arch.to_ne_bytes());
        for (i, a) in args.iter().enumerate() {
            data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_ne_bytes());
        }
        let (mut acc, mut pc) = (0u32, 0usize);
        loop {
            let ins = &prog[pc];
            pc += 1;
            match ins.code {
                c if c == bpf::LD | bpf::W | bpf::ABS => {
                    let k = ins.k as usize;
                    acc = u32::from_ne_bytes(data[k..k + 4].try_into().expect("4 bytes"));
                }
                c if c == bpf::ALU | bpf::AND | bpf::K => acc &= ins.k,
                c if c == bpf::RET | bpf::K => return ins.k,
                c if c == bpf::JMP | bpf::JA => pc += ins.k as usize,
                c => {
                    let taken = match c & 0xf0 {
                        x if x == bpf::JEQ => acc == ins.k,
                        x if x == bpf::JGT => acc > ins.k,
                        x if x == bpf::JGE => acc >= ins.k,
                        x if x == bpf::JSET => acc & ins.k != 0,
                        _ => panic!("unexpected opcode {c:#x}"),
                    };
                    pc += usize::from(if taken { ins.jt } else { ins.jf });
                }
            }
        }
    }

    fn call(nr: u32, args: [u64; 6]) -> u32 {
        let prog = filter().expect("the filter compiles");
        run(&prog, AUDIT_ARCH_X86_64, nr, args)
    }

    const KILL: u32 = SECCOMP_RET_KILL_PROCESS;
    const ALLOW: u32 = SECCOMP_RET_ALLOW;

    #[test]
    fn compiles_within_bpf_limits() {
        let prog = filter().expect("the filter compiles");
        assert!(prog.len() < bpf::MAXINSNS, "{} instructions", prog.len());
    }

    #[test]
    fn every_rule_has_a_known_syscall_a_reason_and_no_twin() {
        let mut seen = std::collections::HashSet::new();
        for r in RULES {
            assert!(name(r.nr) != "?", "rule for unknown syscall {}", r.nr);
            assert!(r.reason.len() > 10, "{}: give a reason", name(r.nr));
            assert!(seen.insert(r.nr), "{} has two rules", name(r.nr));
            for alt in r.when {
                assert!(!alt.is_empty(), "{}: an empty alternative", name(r.nr));
                for c in *alt {
                    assert!(c.arg < 6 && !c.shown.is_empty());
                }
            }
        }
        // In number order, as the table prints them.
        assert!(RULES.windows(2).all(|w| w[0].nr < w[1].nr));
        // About gVisor's count with host networking (≈70 without it).
        assert!(RULES.len() < 80, "{} rules", RULES.len());
    }

    #[test]
    fn listed_calls_pass_and_others_kill() {
        for r in RULES
            .iter()
            .filter(|r| r.when.is_empty() && r.action == Action::Allow)
        {
            assert_eq!(call(r.nr, [0; 6]), ALLOW, "{}", name(r.nr));
        }
        // What a Sentry taken over would want first: none of it is on the list.
        for n in [
            nr::OPEN,
            nr::SOCKET,
            nr::FORK,
            nr::VFORK,
            nr::EXECVE,
            nr::EXECVEAT,
            nr::PTRACE,
            nr::PROCESS_VM_WRITEV,
            nr::KILL,
            nr::MOUNT,
            nr::UMOUNT2,
            nr::PIVOT_ROOT,
            nr::CHROOT,
            nr::UNSHARE,
            nr::SETNS,
            nr::SETUID,
            nr::BPF,
            nr::PERF_EVENT_OPEN,
            nr::INIT_MODULE,
            nr::KEXEC_LOAD,
            nr::IO_URING_SETUP,
            nr::USERFAULTFD,
            nr::SOCKETPAIR,
            nr::MEMFD_CREATE,
            nr::SECCOMP,
        ] {
            assert_eq!(call(n, [0; 6]), KILL, "{}", name(n));
        }
        // A foreign ABI is killed, whatever the number.
        let prog = filter().expect("the filter compiles");
        assert_eq!(run(&prog, AUDIT_ARCH_I386, nr::READ, [0; 6]), KILL);
        assert_eq!(run(&prog, AUDIT_ARCH_I386, nr::CLONE3, [0; 6]), KILL);
        // x32 numbers are not x86-64 ones.
        assert_eq!(call(nr::READ | 0x4000_0000, [0; 6]), KILL);
    }

    #[test]
    fn argument_checks() {
        let rw = u64::from((libc::PROT_READ | libc::PROT_WRITE) as u32);
        let x = u64::from(PROT_EXEC);
        assert_eq!(call(nr::MMAP, [0, 4096, rw, 0x22, 0, 0]), ALLOW);
        assert_eq!(call(nr::MMAP, [0, 4096, rw | x, 0x22, 0, 0]), KILL);
        assert_eq!(call(nr::MPROTECT, [0, 4096, rw, 0, 0, 0]), ALLOW);
        assert_eq!(call(nr::MPROTECT, [0, 4096, x, 0, 0, 0]), KILL);
        // Threads, not processes.
        assert_eq!(call(nr::CLONE, [THREAD_CLONE_FLAGS, 0, 0, 0, 0, 0]), ALLOW);
        let fork = libc::SIGCHLD as u64;
        assert_eq!(call(nr::CLONE, [fork, 0, 0, 0, 0, 0]), KILL);
        let high = THREAD_CLONE_FLAGS | 1 << 32;
        assert_eq!(call(nr::CLONE, [high, 0, 0, 0, 0, 0]), KILL);
        // clone3 fails soft, so glibc falls back to clone.
        let enosys = SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
        assert_eq!(call(nr::CLONE3, [0; 6]), enosys);
        // Terminal ioctls, not TIOCSTI (typing into the host's terminal).
        let tcgets = libc::TCGETS;
        assert_eq!(call(nr::IOCTL, [0, tcgets, 0, 0, 0, 0]), ALLOW);
        let tiocsti = libc::TIOCSTI;
        assert_eq!(call(nr::IOCTL, [0, tiocsti, 0, 0, 0, 0]), KILL);
        // Signals: the interrupt to a thread, SIGKILL to a stub's pidfd, nothing else.
        let chld = libc::SIGCHLD as u64;
        assert_eq!(call(nr::TGKILL, [1, 2, chld, 0, 0, 0]), ALLOW);
        assert_eq!(call(nr::TGKILL, [1, 2, 9, 0, 0, 0]), KILL);
        assert_eq!(call(nr::PIDFD_SEND_SIGNAL, [3, 9, 0, 0, 0, 0]), ALLOW);
        assert_eq!(call(nr::PIDFD_SEND_SIGNAL, [3, 15, 0, 0, 0, 0]), KILL);
        // Sockets: TCP and UDP, AF_INET and AF_INET6, non-blocking; nothing else.
        let (inet, inet6) = (u64::from(AF_INET), u64::from(AF_INET6));
        let (tcp, udp) = (u64::from(TCP_SOCK), u64::from(UDP_SOCK));
        assert_eq!(call(nr::SOCKET, [inet, tcp, 6, 0, 0, 0]), ALLOW);
        assert_eq!(call(nr::SOCKET, [inet6, udp, 17, 0, 0, 0]), ALLOW);
        assert_eq!(call(nr::SOCKET, [inet, udp, 6, 0, 0, 0]), KILL);
        let packet = libc::AF_PACKET as u64;
        assert_eq!(call(nr::SOCKET, [packet, udp, 17, 0, 0, 0]), KILL);
        let unix = libc::AF_UNIX as u64;
        assert_eq!(call(nr::SOCKET, [unix, tcp, 0, 0, 0, 0]), KILL);
        let raw = (libc::SOCK_RAW as u32 | SOCK_FLAGS) as u64;
        assert_eq!(call(nr::SOCKET, [inet, raw, 6, 0, 0, 0]), KILL);
        let blocking = libc::SOCK_STREAM as u64;
        assert_eq!(call(nr::SOCKET, [inet, blocking, 6, 0, 0, 0]), KILL);
        // Netlink: NETLINK_ROUTE only, raw, non-blocking.
        let (netlink, nlraw) = (u64::from(AF_NETLINK), u64::from(RAW_SOCK));
        assert_eq!(call(nr::SOCKET, [netlink, nlraw, 0, 0, 0, 0]), ALLOW);
        let sock_diag = libc::NETLINK_SOCK_DIAG as u64;
        assert_eq!(call(nr::SOCKET, [netlink, nlraw, sock_diag, 0, 0, 0]), KILL);
        let audit = libc::NETLINK_AUDIT as u64;
        assert_eq!(call(nr::SOCKET, [netlink, nlraw, audit, 0, 0, 0]), KILL);
        assert_eq!(call(nr::SOCKET, [netlink, 3, 0, 0, 0, 0]), KILL);
        assert_eq!(call(nr::ACCEPT4, [3, 0, 0, 0, 0, 0]), KILL);
        let sol_packet = libc::SOL_PACKET as u64;
        assert_eq!(call(nr::SETSOCKOPT, [3, sol_packet, 1, 0, 4, 0]), KILL);
        let fionread = libc::FIONREAD;
        assert_eq!(call(nr::IOCTL, [3, fionread, 0, 0, 0, 0]), ALLOW);
        // prctl: thread names only.
        let name = libc::PR_SET_NAME as u64;
        assert_eq!(call(nr::PRCTL, [name, 0, 0, 0, 0, 0]), ALLOW);
        let caps = libc::PR_CAPBSET_DROP as u64;
        assert_eq!(call(nr::PRCTL, [caps, 0, 0, 0, 0, 0]), KILL);
        // futex: the private and shared forms of wait and wake, not requeue or PI.
        let wake_private = (libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG) as u64;
        assert_eq!(call(nr::FUTEX, [0, wake_private, 1, 0, 0, 0]), ALLOW);
        let requeue = libc::FUTEX_CMP_REQUEUE as u64;
        assert_eq!(call(nr::FUTEX, [0, requeue, 1, 0, 0, 0]), KILL);
        let lock_pi = libc::FUTEX_LOCK_PI as u64;
        assert_eq!(call(nr::FUTEX, [0, lock_pi, 1, 0, 0, 0]), KILL);
    }

    #[test]
    fn table_lists_every_rule() {
        let t = table();
        assert_eq!(
            t.lines().filter(|l| !l.starts_with('#')).count(),
            RULES.len()
        );
        assert!(t.contains("mmap") && t.contains("a2 & PROT_EXEC == 0"));
        assert!(t.contains("clone3") && t.contains("ENOSYS"));
    }
}
