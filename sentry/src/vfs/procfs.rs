//! procfs: the guest's `/proc`, generated from snapshots the caller passes in.
//!
//! The VFS hands every guest path under `/proc` to [`Procfs`] relative to the mount (`b""` for
//! `/proc` itself, `b"self/maps"`, …), already lexically normalized (no `.`, `..` or repeated
//! slashes), together with a [`ProcessInfo`] of the calling process and a [`SystemInfo`] of the
//! sandbox. Procfs holds no state: file contents and directory listings are generated when the
//! file is opened and the open description ([`ProcFile`]) reads, seeks and preads that snapshot
//! (like a Linux seq_file, `st_size` is 0 and `SEEK_END` is `EINVAL`).
//!
//! The tree: `/proc/{<pid>, self, thread-self, cpuinfo, meminfo, stat, uptime, loadavg,
//! filesystems, mounts, net, version, sys, sysvipc}`; `<pid>` (and `<pid>/task/<pid>`) hold `maps,
//! status, stat, statm, cmdline, environ, comm, exe, cwd, root, fd/, mounts, mountinfo, net/`
//! (and `task/`); a thread's id that is not its process's opens (unlisted, as on Linux) as
//! its process's `<pid>`; an open `<pid>` directory names its process, which
//! `pidfd_send_signal` takes for a pidfd ([`ProcFile::process`]); `net` (`/proc/net` is a link to `self/net`) holds `arp, dev, dev_mcast,
//! if_inet6, igmp, igmp6, ipv6_route, netstat, raw, raw6, route, snmp, snmp6, tcp, tcp6, udp,
//! udp6, unix`, whose text the caller writes ([`NetFile`]);
//! `sys/kernel/{hostname, osrelease, ostype, pid_max}` and the IPC namespace's
//! `sys/kernel/{shmmax, shmall, shmmni, shm_rmid_forced, sem, msgmax, msgmnb, msgmni, …}`,
//! `sysvipc/{shm,sem,msg}` (both written by `kernel/ipc`), `sys/fs/pipe-max-size`,
//! `sys/fs/inotify/{max_queued_events, max_user_instances, max_user_watches}`,
//! `sys/net/core/somaxconn`, `sys/vm/overcommit_memory`. Every process of the sandbox has its
//! `<pid>` ([`Procs`]: the caller's snapshot, and the others' fetched when a path names them);
//! as on Linux, another user's `environ`, `maps`, `fd/` and `exe`/`cwd`/`root` links are
//! `EACCES` unless the caller is root.
//!
//! Symlinks inside `/proc` (`self`, `thread-self`, `mounts`) are followed here. The "magic"
//! links `exe`, `cwd`, `root` and `fd/N` point outside `/proc`: [`Procfs::redirect`] tells the
//! VFS where a path really leads (a guest path, or an fd to reopen); `open` and `stat` of a path
//! that goes through one of them (followed) give `ENOENT`, so the VFS must ask `redirect` first.
//!
//! Deviations from Linux, for the next maintainer:
//! - Capabilities are per process (every thread shows its process's); context-switch,
//!   fault and interrupt counters are 0; the load average is 0. Another process's state is `S` (or `T` stopped, `Z` a
//!   zombie), never `R`: the Sentry doesn't know whether its thread is in guest code. Its
//!   `task/<tid>` directories all show the process. Its `fd/N` opens the path the fd was
//!   opened by; a pipe's or socket's (`pipe:[3]`) is `ENOENT`. A zombie (or a process
//!   mid-exec) shows its ids and name, nothing of its memory or files.
//! - Writes: files are read-only (`EACCES` on open for writing, also for the root-owned
//!   `sys/` tunables Linux lets root write), `O_CREAT` gives `EACCES` (Linux root may reopen an
//!   existing file with `O_CREAT`). `fd/N` links are `lrwx------` whatever the fd's mode.
//! - `/proc/cpuinfo` copies the host's CPU identification (vendor, family, model, model name,
//!   stepping, MHz, cache size, flags, bogomips, address sizes) into `ncpus` generated blocks.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use snare_abi::file::{o, Stat, S_IFDIR, S_IFLNK, S_IFREG};
use snare_abi::Errno;

use super::{inotify, push_dirent, FileDescription, SEEK_CUR, SEEK_SET};

/// `st_dev` of every procfs inode: device 0:4001 (next to tmpfs's 0:4000).
pub const PROC_DEV: u64 = 0x00f0_00a1;
/// `f_type` of `statfs(2)` (`PROC_SUPER_MAGIC`).
pub const PROC_SUPER_MAGIC: i64 = 0x9fa0;
/// Inode number of `/proc` itself (as on Linux).
const ROOT_INO: u64 = 1;
const MAX_SYMLINK_HOPS: u32 = 40;
const DT_DIR: u8 = 4;
const DT_REG: u8 = 8;
const DT_LNK: u8 = 10;
const PAGE_KB: u64 = 4;
/// Clock ticks per second (`USER_HZ`).
const HZ: u64 = 100;

/// What /proc shows about one process (the lead fills it from the task).
#[derive(Clone, Debug, Default)]
pub struct ProcessInfo {
    pub pid: i32,
    pub ppid: i32,
    pub uid: u32,
    pub gid: u32,
    /// Real, effective, saved and filesystem ids (`status`'s `Uid` and `Gid`).
    pub uids: [u32; 4],
    pub gids: [u32; 4],
    /// Capabilities, secure bits, no_new_privs.
    pub caps: crate::kernel::caps::CapSets,
    /// First 15 bytes of the exe's basename.
    pub comm: Vec<u8>,
    /// argv strings, each NUL-terminated, as in /proc/PID/cmdline.
    pub cmdline: Vec<u8>,
    /// Same for envp.
    pub environ: Vec<u8>,
    pub exe: Vec<u8>,
    pub cwd: Vec<u8>,
    /// `/`.
    pub root: Vec<u8>,
    /// In address order.
    pub maps: Vec<MapLine>,
    /// fd number → the path the fd refers to (its [`FileDescription::path`]).
    pub fds: Vec<(i32, Vec<u8>)>,
    pub vm_rss_kb: u64,
    pub vm_size_kb: u64,
    pub threads: u32,
    /// Start time since boot in clock ticks (100 Hz).
    pub start_ticks: u64,
    /// CPU times in clock ticks (100 Hz): the process's, and its waited-for children's.
    pub utime_ticks: u64,
    pub stime_ticks: u64,
    pub cutime_ticks: u64,
    pub cstime_ticks: u64,
    pub sig_blocked: u64,
    /// The thread's own seccomp mode (0: none, 1: strict, 2: filters) and filter count.
    pub seccomp_mode: u32,
    pub seccomp_filters: usize,
    pub sig_ignored: u64,
    pub sig_caught: u64,
    /// Thread ids (`task/`); empty: the pid alone.
    pub tids: Vec<i32>,
    /// Process group and session (0: the pid).
    pub pgid: i32,
    pub sid: i32,
    /// `stat`'s state letter: `R` (the caller), `S`, `T` (stopped), `Z` (a zombie); 0 is `R`.
    pub state: u8,
    /// The thread's scheduling as `stat` shows it: nice, priority (Linux's `task_prio`: 20 +
    /// nice for the fair policies), real-time priority and policy.
    pub nice: i32,
    pub priority: i32,
    pub rt_priority: u32,
    pub policy: u32,
    /// The thread's CPU affinity (`Cpus_allowed`); empty: every CPU of the sandbox.
    pub cpus: Vec<u32>,
    /// Locked memory (`VmLck`, mlock).
    pub vm_lck_kb: u64,
    /// `personality(2)` of the thread.
    pub personality: u32,
    /// The process itself: an open `<pid>` directory names it (`pidfd_send_signal(2)`).
    pub group: std::sync::Weak<crate::kernel::process::ThreadGroup>,
}

/// The processes a `/proc` walk can reach: the caller's snapshot, every pid, and another
/// process's snapshot when a path names it.
pub struct Procs<'a> {
    pub me: &'a ProcessInfo,
    /// Every process's pid (the caller's among them), in any order.
    pub pids: Vec<i32>,
    /// Another process's snapshot, if it exists.
    pub other: Box<dyn Fn(i32) -> Option<ProcessInfo> + 'a>,
}

impl std::fmt::Debug for Procs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Procs")
            .field("me", &self.me.pid)
            .field("pids", &self.pids)
            .finish()
    }
}

impl<'a> Procs<'a> {
    /// Only the caller (nothing else is visible).
    pub fn only(me: &'a ProcessInfo) -> Procs<'a> {
        Procs {
            me,
            pids: vec![me.pid],
            other: Box::new(|_| None),
        }
    }

    fn process(&self, pid: i32) -> Option<Cow<'a, ProcessInfo>> {
        match pid == self.me.pid {
            true => Some(Cow::Borrowed(self.me)),
            false => (self.other)(pid).map(Cow::Owned),
        }
    }

    /// Whether `who`'s private files (`environ`, `maps`, `fd/`, the `exe`/`cwd`/`root`
    /// links) are closed to the caller: another process of another user, the caller
    /// without CAP_SYS_PTRACE (Linux's ptrace access check, simplified to the ids).
    fn private(&self, who: &ProcessInfo) -> bool {
        let ptrace = self.me.caps.has(snare_abi::caps::Cap::SysPtrace);
        who.pid != self.me.pid && !ptrace && self.me.uid != who.uid
    }
}

/// The pid a name under `/proc` is, if it is one (decimal, no sign or leading zero).
fn pid_of_name(name: &[u8]) -> Option<i32> {
    if name.is_empty() || name[0] == b'0' || !name.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(name)
        .ok()?
        .parse()
        .ok()
        .filter(|&p| p > 0)
}

/// One line of `/proc/PID/maps`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MapLine {
    pub start: u64,
    pub end: u64,
    pub read: bool,
    pub write: bool,
    pub exec: bool,
    pub shared: bool,
    pub offset: u64,
    /// (major, minor) of the mapped file's device; (0, 0) for anonymous memory.
    pub dev: (u32, u32),
    pub inode: u64,
    /// A path, `[heap]`, `[stack]`, `[vdso]`, `[vvar]`, or empty.
    pub name: Vec<u8>,
}

/// Sandbox-wide facts.
#[derive(Clone, Debug, Default)]
pub struct SystemInfo {
    pub hostname: Vec<u8>,
    /// `b"6.1.0-snare"`.
    pub osrelease: Vec<u8>,
    pub uptime_secs: f64,
    pub ncpus: u32,
    pub mem_total_kb: u64,
    pub mem_free_kb: u64,
    pub mem_available_kb: u64,
    /// Boot time, seconds since the epoch.
    pub boot_time_secs: u64,
    pub nprocs: u32,
    /// `Seccomp:` of every process's `status`: 2 under the sandbox's profile, else 0.
    pub seccomp: u8,
    /// The sandbox's memory limit and use in bytes (`/sys/fs/cgroup/memory.*`; limit 0:
    /// none).
    pub mem_limit: u64,
    pub mem_used: u64,
    /// The pids limit (0: none) and the live guest tasks (`/sys/fs/cgroup/pids.*`).
    pub pids_limit: u64,
    pub pids_current: u64,
    /// The mount table, in mount order (the root first); empty: a default table.
    pub mounts: Vec<MountLine>,
    /// The System V IPC namespace (`sysvipc/*`, `sys/kernel/{shm*,sem,msg*}`).
    pub ipc: Option<std::sync::Arc<crate::kernel::ipc::IpcNamespace>>,
}

/// Where a path through a magic link (`exe`, `cwd`, `root`, `fd/N`) really leads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Redirect {
    /// An absolute guest path (the link's target plus what followed it in the path).
    Path(Vec<u8>),
    /// The last component is `fd/N`, followed: reopen (or fstat) what fd `N` refers to.
    Fd(i32),
}

/// The guest's `/proc`; stateless.
#[derive(Debug)]
pub struct Procfs;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DirId {
    Root,
    /// `<pid>`.
    Pid,
    /// `<pid>/task`.
    Task,
    /// `<pid>/task/<pid>`: like `<pid>` without `task`.
    Tid,
    Fd,
    Sys,
    SysKernel,
    SysFs,
    SysFsInotify,
    SysVm,
    /// `<pid>/net`.
    Net,
    SysNet,
    SysNetCore,
    /// `sysvipc`.
    SysvIpc,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FileId {
    Maps,
    Status,
    PidStat,
    Statm,
    /// `<pid>/personality`: `%08x`.
    Personality,
    Cmdline,
    Environ,
    Comm,
    Mounts,
    Mountinfo,
    /// `<pid>/cgroup`: `0::/`, the sandbox as a cgroup2 namespace's root (its limits are
    /// in sysfs's `fs/cgroup`).
    Cgroup,
    Cpuinfo,
    Meminfo,
    Stat,
    Uptime,
    Loadavg,
    Filesystems,
    Version,
    Hostname,
    Osrelease,
    Ostype,
    PidMax,
    PipeMaxSize,
    InotifyMaxQueuedEvents,
    InotifyMaxUserInstances,
    InotifyMaxUserWatches,
    OvercommitMemory,
    /// A file of `<pid>/net` or `sys/net`: its text comes from the network side.
    Net(NetFile),
    /// `sysvipc/{shm,sem,msg}`: the IPC namespace's objects.
    Sysvipc(&'static str),
    /// A `sys/kernel` file of the IPC namespace (`shmmax`, `sem`, …).
    IpcSysctl(&'static str),
}

/// The files whose text the network side writes (`net::proc_net`): `<pid>/net/*` (the
/// sandbox's network namespace and the Sentry's sockets) and `sys/net/core/somaxconn`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetFile {
    /// A host file of the namespace shown as it is (`dev`, `route`, `snmp`, …).
    Host(&'static str),
    /// A host table of sockets (`tcp`, `udp6`, `raw`, …), rewritten for the guest.
    Sockets(&'static str),
    Unix,
    Somaxconn,
}

/// `<pid>/net`'s files, in listing order.
const NET_FILES: &[(&str, NetFile)] = &[
    ("arp", NetFile::Host("arp")),
    ("dev", NetFile::Host("dev")),
    ("dev_mcast", NetFile::Host("dev_mcast")),
    ("if_inet6", NetFile::Host("if_inet6")),
    ("igmp", NetFile::Host("igmp")),
    ("igmp6", NetFile::Host("igmp6")),
    ("ipv6_route", NetFile::Host("ipv6_route")),
    ("netstat", NetFile::Host("netstat")),
    ("raw", NetFile::Sockets("raw")),
    ("raw6", NetFile::Sockets("raw6")),
    ("route", NetFile::Host("route")),
    ("snmp", NetFile::Host("snmp")),
    ("snmp6", NetFile::Host("snmp6")),
    ("tcp", NetFile::Sockets("tcp")),
    ("tcp6", NetFile::Sockets("tcp6")),
    ("udp", NetFile::Sockets("udp")),
    ("udp6", NetFile::Sockets("udp6")),
    ("unix", NetFile::Unix),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LinkId {
    SelfLink,
    /// `/proc/net`, which is `self/net`.
    Net,
    ThreadSelf,
    Mounts,
    Exe,
    Cwd,
    Root,
    Fd(i32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entry {
    Dir(DirId),
    File(FileId),
    Link(LinkId),
}

impl Entry {
    fn dtype(self) -> u8 {
        match self {
            Entry::Dir(_) => DT_DIR,
            Entry::File(_) => DT_REG,
            Entry::Link(_) => DT_LNK,
        }
    }
}

/// A resolved node: its canonical path (relative to /proc), what it is, and the process
/// whose `<pid>` it is in (the caller's outside every `<pid>`).
#[derive(Debug)]
struct Found<'a> {
    path: Vec<u8>,
    entry: Entry,
    who: Cow<'a, ProcessInfo>,
}

enum Walked<'a> {
    Here(Box<Found<'a>>),
    Away(Redirect),
}

fn pid_name(me: &ProcessInfo) -> Vec<u8> {
    me.pid.to_string().into_bytes()
}

/// The entries of a directory of process `me` (without `.` and `..`), in listing order.
fn entries(dir: DirId, me: &ProcessInfo, p: &Procs) -> Vec<(Vec<u8>, Entry)> {
    let n = |s: &str| s.as_bytes().to_vec();
    match dir {
        DirId::Root => {
            let mut pids = p.pids.clone();
            pids.push(p.me.pid);
            pids.sort_unstable();
            pids.dedup();
            let mut v: Vec<(Vec<u8>, Entry)> = pids
                .iter()
                .map(|pid| (pid.to_string().into_bytes(), Entry::Dir(DirId::Pid)))
                .collect();
            v.extend(root_files());
            v
        }
        DirId::Pid | DirId::Tid => {
            let mut v = vec![
                (n("fd"), Entry::Dir(DirId::Fd)),
                (n("status"), Entry::File(FileId::Status)),
                (n("stat"), Entry::File(FileId::PidStat)),
                (n("statm"), Entry::File(FileId::Statm)),
                (n("personality"), Entry::File(FileId::Personality)),
                (n("maps"), Entry::File(FileId::Maps)),
                (n("cmdline"), Entry::File(FileId::Cmdline)),
                (n("environ"), Entry::File(FileId::Environ)),
                (n("comm"), Entry::File(FileId::Comm)),
                (n("exe"), Entry::Link(LinkId::Exe)),
                (n("cwd"), Entry::Link(LinkId::Cwd)),
                (n("root"), Entry::Link(LinkId::Root)),
                (n("mounts"), Entry::File(FileId::Mounts)),
                (n("mountinfo"), Entry::File(FileId::Mountinfo)),
                (n("cgroup"), Entry::File(FileId::Cgroup)),
                (n("net"), Entry::Dir(DirId::Net)),
            ];
            if dir == DirId::Pid {
                v.insert(0, (n("task"), Entry::Dir(DirId::Task)));
            }
            v
        }
        DirId::Task => match me.tids.is_empty() {
            true => vec![(pid_name(me), Entry::Dir(DirId::Tid))],
            false => me
                .tids
                .iter()
                .map(|t| (t.to_string().into_bytes(), Entry::Dir(DirId::Tid)))
                .collect(),
        },
        DirId::Fd => me
            .fds
            .iter()
            .map(|(fd, _)| (fd.to_string().into_bytes(), Entry::Link(LinkId::Fd(*fd))))
            .collect(),
        DirId::Sys => vec![
            (n("fs"), Entry::Dir(DirId::SysFs)),
            (n("kernel"), Entry::Dir(DirId::SysKernel)),
            (n("net"), Entry::Dir(DirId::SysNet)),
            (n("vm"), Entry::Dir(DirId::SysVm)),
        ],
        DirId::Net => NET_FILES
            .iter()
            .map(|&(name, f)| (n(name), Entry::File(FileId::Net(f))))
            .collect(),
        DirId::SysNet => vec![(n("core"), Entry::Dir(DirId::SysNetCore))],
        DirId::SysNetCore => vec![(n("somaxconn"), Entry::File(FileId::Net(NetFile::Somaxconn)))],
        DirId::SysKernel => {
            let mut v = vec![
                (n("hostname"), Entry::File(FileId::Hostname)),
                (n("osrelease"), Entry::File(FileId::Osrelease)),
                (n("ostype"), Entry::File(FileId::Ostype)),
                (n("pid_max"), Entry::File(FileId::PidMax)),
            ];
            v.extend(
                crate::kernel::ipc::SYSCTL_FILES
                    .iter()
                    .map(|&f| (n(f), Entry::File(FileId::IpcSysctl(f)))),
            );
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        }
        DirId::SysvIpc => ["msg", "sem", "shm"]
            .iter()
            .map(|&f| (n(f), Entry::File(FileId::Sysvipc(f))))
            .collect(),
        DirId::SysFs => vec![
            (n("inotify"), Entry::Dir(DirId::SysFsInotify)),
            (n("pipe-max-size"), Entry::File(FileId::PipeMaxSize)),
        ],
        DirId::SysFsInotify => vec![
            (
                n("max_queued_events"),
                Entry::File(FileId::InotifyMaxQueuedEvents),
            ),
            (
                n("max_user_instances"),
                Entry::File(FileId::InotifyMaxUserInstances),
            ),
            (
                n("max_user_watches"),
                Entry::File(FileId::InotifyMaxUserWatches),
            ),
        ],
        DirId::SysVm => vec![(
            n("overcommit_memory"),
            Entry::File(FileId::OvercommitMemory),
        )],
    }
}

/// The root directory's entries other than the pids.
fn root_files() -> Vec<(Vec<u8>, Entry)> {
    let n = |s: &str| s.as_bytes().to_vec();
    vec![
        (n("self"), Entry::Link(LinkId::SelfLink)),
        (n("thread-self"), Entry::Link(LinkId::ThreadSelf)),
        (n("cpuinfo"), Entry::File(FileId::Cpuinfo)),
        (n("meminfo"), Entry::File(FileId::Meminfo)),
        (n("stat"), Entry::File(FileId::Stat)),
        (n("uptime"), Entry::File(FileId::Uptime)),
        (n("loadavg"), Entry::File(FileId::Loadavg)),
        (n("filesystems"), Entry::File(FileId::Filesystems)),
        (n("mounts"), Entry::Link(LinkId::Mounts)),
        (n("net"), Entry::Link(LinkId::Net)),
        (n("version"), Entry::File(FileId::Version)),
        (n("sys"), Entry::Dir(DirId::Sys)),
        (n("sysvipc"), Entry::Dir(DirId::SysvIpc)),
    ]
}

/// Whether `link` leads into its process's private state (closed by [`Procs::private`]).
fn private_link(link: LinkId) -> bool {
    matches!(
        link,
        LinkId::Exe | LinkId::Cwd | LinkId::Root | LinkId::Fd(_)
    )
}

/// A link's target, and whether it is inside /proc (relative to the /proc root: every inner
/// link lives in the root directory). `self` and `thread-self` are the caller's (`p.me`);
/// the others `me`'s, the process whose directory holds them.
fn link_target(link: LinkId, me: &ProcessInfo, p: &Procs) -> Result<(Vec<u8>, bool), Errno> {
    Ok(match link {
        LinkId::SelfLink => (pid_name(p.me), true),
        LinkId::ThreadSelf => (format!("{0}/task/{0}", p.me.pid).into_bytes(), true),
        LinkId::Mounts => (b"self/mounts".to_vec(), true),
        LinkId::Net => (b"self/net".to_vec(), true),
        LinkId::Exe => (me.exe.clone(), false),
        LinkId::Cwd => (me.cwd.clone(), false),
        LinkId::Root => (me.root.clone(), false),
        LinkId::Fd(fd) => (
            me.fds
                .iter()
                .find(|(n, _)| *n == fd)
                .map(|(_, p)| p.clone())
                .ok_or(Errno::ENOENT)?,
            false,
        ),
    })
}

fn components(path: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> {
    path.split(|&b| b == b'/').filter(|c| !c.is_empty())
}

/// Resolves `rel`, following inner symlinks (and the last component's only if `follow_last`).
fn walk<'a>(rel: &[u8], follow_last: bool, p: &Procs<'a>) -> Result<Walked<'a>, Errno> {
    let trailing_slash = rel.last() == Some(&b'/');
    let follow_last = follow_last || trailing_slash;
    let mut todo: VecDeque<Vec<u8>> = components(rel).map(<[u8]>::to_vec).collect();
    let mut cur = Entry::Dir(DirId::Root);
    let mut path: Vec<u8> = Vec::new();
    let mut hops = 0;
    let mut who: Cow<'a, ProcessInfo> = Cow::Borrowed(p.me);
    while let Some(name) = todo.pop_front() {
        let Entry::Dir(dir) = cur else {
            return Err(Errno::ENOTDIR);
        };
        let pid = (dir == DirId::Root).then(|| pid_of_name(&name)).flatten();
        let child = match pid {
            Some(pid) => {
                who = p.process(pid).ok_or(Errno::ENOENT)?;
                Entry::Dir(DirId::Pid)
            }
            None => entries(dir, &who, p)
                .into_iter()
                .find(|(n, _)| *n == name)
                .map(|(_, e)| e)
                .ok_or(Errno::ENOENT)?,
        };
        if child == Entry::Dir(DirId::Fd) && !todo.is_empty() && p.private(&who) {
            return Err(Errno::EACCES);
        }
        if let Entry::Link(link) = child {
            if !todo.is_empty() || follow_last {
                if private_link(link) && p.private(&who) {
                    return Err(Errno::EACCES);
                }
                let (target, inside) = link_target(link, &who, p)?;
                if !inside {
                    if let (LinkId::Fd(fd), true) = (link, todo.is_empty()) {
                        if who.pid == p.me.pid {
                            return Ok(Walked::Away(Redirect::Fd(fd)));
                        }
                        // Another process's fd is reopened by its path; a pipe's or
                        // socket's ("pipe:[3]") can't be from here (Linux's can).
                        if target.first() != Some(&b'/') {
                            return Err(Errno::ENOENT);
                        }
                    }
                    if target.first() != Some(&b'/') {
                        // "pipe:[3]" and the like: not a directory.
                        return Err(Errno::ENOTDIR);
                    }
                    let mut out = target;
                    for c in todo {
                        if out.last() != Some(&b'/') {
                            out.push(b'/');
                        }
                        out.extend_from_slice(&c);
                    }
                    if trailing_slash && out.last() != Some(&b'/') {
                        out.push(b'/');
                    }
                    return Ok(Walked::Away(Redirect::Path(out)));
                }
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return Err(Errno::ELOOP);
                }
                for c in components(&target).rev() {
                    todo.push_front(c.to_vec());
                }
                cur = Entry::Dir(DirId::Root);
                path.clear();
                continue;
            }
        }
        if !path.is_empty() {
            path.push(b'/');
        }
        path.extend_from_slice(&name);
        cur = child;
    }
    if trailing_slash && !matches!(cur, Entry::Dir(_)) {
        return Err(Errno::ENOTDIR);
    }
    if path.is_empty() {
        // `/proc` itself: nobody's.
        who = Cow::Borrowed(p.me);
    }
    Ok(Walked::Here(Box::new(Found {
        path,
        entry: cur,
        who,
    })))
}

fn walk_here<'a>(rel: &[u8], follow_last: bool, p: &Procs<'a>) -> Result<Found<'a>, Errno> {
    match walk(rel, follow_last, p)? {
        Walked::Here(f) => Ok(*f),
        // The VFS should have asked `redirect` first.
        Walked::Away(_) => Err(Errno::ENOENT),
    }
}

/// A stable inode number per canonical path (FNV-1a), never 0 or [`ROOT_INO`].
fn ino_of(path: &[u8]) -> u64 {
    if path.is_empty() {
        return ROOT_INO;
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in path {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h.max(2)
}

fn parent_of(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => &path[..i],
        None => b"",
    }
}

fn stat_of(f: &Found, p: &Procs, sys: &SystemInfo) -> Stat {
    let me: &ProcessInfo = &f.who;
    let pid = pid_name(me);
    let in_pid = f.path == pid || f.path.starts_with(&[pid.as_slice(), b"/"].concat());
    let (uid, gid) = if in_pid { (me.uid, me.gid) } else { (0, 0) };
    let (mode, nlink) = match f.entry {
        Entry::Dir(d) => {
            let subdirs = entries(d, me, p)
                .iter()
                .filter(|(_, e)| matches!(e, Entry::Dir(_)))
                .count() as u64;
            (S_IFDIR | 0o555, 2 + subdirs)
        }
        Entry::File(FileId::Environ | FileId::Personality) => (S_IFREG | 0o400, 1),
        Entry::File(_) => (S_IFREG | 0o444, 1),
        Entry::Link(LinkId::Fd(_)) => (S_IFLNK | 0o700, 1),
        Entry::Link(_) => (S_IFLNK | 0o777, 1),
    };
    let t = if in_pid {
        sys.boot_time_secs + me.start_ticks / HZ
    } else {
        sys.boot_time_secs
    };
    let t = i64::try_from(t).unwrap_or(i64::MAX);
    Stat {
        st_dev: PROC_DEV,
        st_ino: ino_of(&f.path),
        st_nlink: nlink,
        st_mode: mode,
        st_uid: uid,
        st_gid: gid,
        st_blksize: 1024,
        st_atime: t,
        st_mtime: t,
        st_ctime: t,
        ..Stat::default()
    }
}

impl Procfs {
    /// Opens `rel` (relative to /proc). Contents are generated now; the description reads
    /// that snapshot. `EACCES` for writing a file or for `O_CREAT`, `EISDIR` for writing a
    /// directory, `ENOTDIR` for `O_DIRECTORY` on a file, `ELOOP` for `O_NOFOLLOW` on a symlink
    /// (unless `O_PATH`).
    pub fn open(
        rel: &[u8],
        flags: u32,
        p: &Procs,
        sys: &SystemInfo,
        net: &dyn Fn(NetFile) -> Vec<u8>,
    ) -> Result<Arc<dyn FileDescription>, Errno> {
        let follow = flags & o::NOFOLLOW == 0;
        let found = match walk_here(rel, follow, p) {
            Err(Errno::ENOENT) if flags & o::CREAT != 0 => return Err(Errno::EACCES),
            r => r?,
        };
        let is_dir = matches!(found.entry, Entry::Dir(_));
        if flags & o::CREAT != 0 {
            return Err(if flags & o::EXCL != 0 {
                Errno::EEXIST
            } else if is_dir {
                Errno::EISDIR
            } else {
                Errno::EACCES
            });
        }
        if flags & o::DIRECTORY != 0 && !is_dir {
            return Err(Errno::ENOTDIR);
        }
        let closed = matches!(
            found.entry,
            Entry::File(FileId::Environ | FileId::Maps) | Entry::Dir(DirId::Fd)
        );
        if closed && flags & o::PATH == 0 && p.private(&found.who) {
            return Err(Errno::EACCES);
        }
        let stat = stat_of(&found, p, sys);
        let path = format!("/proc/{}", String::from_utf8_lossy(&found.path))
            .trim_end_matches('/')
            .to_string();
        let kept = flags & (o::ACCMODE | o::NONBLOCK | o::PATH);
        let body = if flags & o::PATH != 0 {
            Body::Path
        } else {
            if matches!(found.entry, Entry::Link(_)) {
                return Err(Errno::ELOOP);
            }
            if flags & o::ACCMODE != o::RDONLY {
                return Err(if is_dir { Errno::EISDIR } else { Errno::EACCES });
            }
            match found.entry {
                Entry::Dir(DirId::Fd) if found.who.pid == p.me.pid => {
                    Body::Dir(own_fd_listing(&found.path, &found.who, p))
                }
                Entry::Dir(d) => Body::Dir(listing(&found.path, d, &found.who, p)),
                Entry::File(FileId::Net(f)) => Body::File(net(f)),
                Entry::File(f) => Body::File(contents(f, &found.who, sys)),
                Entry::Link(_) => Body::Path,
            }
        };
        // Linux takes an open (not O_PATH) `<pid>` directory for a pidfd.
        let process = (found.entry == Entry::Dir(DirId::Pid) && !matches!(body, Body::Path))
            .then(|| found.who.group.clone());
        Ok(Arc::new(ProcFile {
            path,
            stat,
            flags: kept,
            body,
            pos: Mutex::new(0),
            process,
        }))
    }

    /// `stat(2)` (`follow`) or `lstat(2)` of `rel`.
    pub fn stat(rel: &[u8], follow: bool, p: &Procs, sys: &SystemInfo) -> Result<Stat, Errno> {
        Ok(stat_of(&walk_here(rel, follow, p)?, p, sys))
    }

    /// `readlink(2)`: `EINVAL` if `rel` is not a symlink.
    pub fn readlink(rel: &[u8], p: &Procs) -> Result<Vec<u8>, Errno> {
        let found = walk_here(rel, false, p)?;
        match found.entry {
            Entry::Link(l) if private_link(l) && p.private(&found.who) => Err(Errno::EACCES),
            Entry::Link(l) => Ok(link_target(l, &found.who, p)?.0),
            _ => Err(Errno::EINVAL),
        }
    }

    /// Where `rel` leads when it goes through a magic link (`exe`, `cwd`, `root`, `fd/N`) that
    /// points out of /proc; `None` when it stays inside (then use [`Procfs::open`] and
    /// friends). `follow` says whether a link in the last component is followed.
    pub fn redirect(rel: &[u8], follow: bool, p: &Procs) -> Result<Option<Redirect>, Errno> {
        Ok(match walk(rel, follow, p)? {
            Walked::Here(_) => None,
            Walked::Away(r) => Some(r),
        })
    }

    /// `statfs(2)` of /proc: the kernel's `struct statfs`.
    pub fn statfs() -> [u8; 120] {
        statfs_bytes()
    }
}

impl super::filesystem::Filesystem for Procfs {
    fn fstype(&self) -> &'static str {
        "proc"
    }

    fn dev(&self) -> u64 {
        PROC_DEV
    }

    fn refusal(&self) -> Option<Errno> {
        Some(Errno::EPERM)
    }

    fn walks_rest(&self) -> bool {
        true
    }

    fn walk_rest(
        &self,
        cx: &dyn super::filesystem::Caller,
        rest: &[u8],
        follow: bool,
    ) -> Result<Option<Redirect>, Errno> {
        let me = cx.process(false);
        let p = procs(cx, &me, false);
        Procfs::redirect(super::filesystem::rel(rest), follow, &p)
    }

    fn stat(
        &self,
        cx: &dyn super::filesystem::Caller,
        path: &[u8],
        follow: bool,
    ) -> Result<Stat, Errno> {
        let rel = super::filesystem::rel(path);
        let me = cx.process(false);
        let p = procs(cx, &me, false);
        Procfs::stat(rel, follow, &p, &cx.system())
    }

    fn readlink(&self, cx: &dyn super::filesystem::Caller, path: &[u8]) -> Result<Vec<u8>, Errno> {
        let me = cx.process(false);
        let p = procs(cx, &me, false);
        Procfs::readlink(super::filesystem::rel(path), &p)
    }

    fn open(
        &self,
        cx: &dyn super::filesystem::Caller,
        path: &[u8],
        _guest: &[u8],
        flags: u32,
        _mode: u32,
    ) -> Result<Arc<dyn FileDescription>, Errno> {
        let rel = super::filesystem::rel(path);
        // `stat` files show CPU times, which cost host reads: only they get them.
        let cpu = rel.ends_with(b"stat");
        let me = cx.process(cpu);
        let p = procs(cx, &me, cpu);
        Procfs::open(rel, flags, &p, &cx.system(), &|f| cx.net_file(f))
    }

    fn statfs(&self, cx: &dyn super::filesystem::Caller, path: &[u8]) -> Result<[u8; 120], Errno> {
        self.stat(cx, path, true)?;
        Ok(statfs_bytes())
    }
}

/// The processes `cx` can see, `me` its own snapshot (`cpu`: others' with CPU times).
fn procs<'a>(cx: &'a dyn super::filesystem::Caller, me: &'a ProcessInfo, cpu: bool) -> Procs<'a> {
    Procs {
        me,
        pids: cx.pids(),
        other: Box::new(move |pid| cx.other_process(pid, cpu)),
    }
}

fn statfs_bytes() -> [u8; 120] {
    let mut b = [0u8; 120];
    let mut put = |off: usize, v: i64| b[off..off + 8].copy_from_slice(&v.to_ne_bytes());
    put(0, PROC_SUPER_MAGIC); // f_type
    put(8, 4096); // f_bsize
    put(64, 255); // f_namelen
    put(72, 4096); // f_frsize
    b
}

/// The caller's own `fd` directory: Linux lists it when read, so the listing has the fd
/// the directory itself is open on — the lowest free number, which this open takes.
fn own_fd_listing(path: &[u8], me: &ProcessInfo, p: &Procs) -> Vec<(Vec<u8>, u64, u8)> {
    let mut v = listing(path, DirId::Fd, me, p);
    let used: std::collections::BTreeSet<i32> = me.fds.iter().map(|(fd, _)| *fd).collect();
    let Some(own) = (0..i32::MAX).find(|n| !used.contains(n)) else {
        return v;
    };
    let name = own.to_string().into_bytes();
    let mut full = path.to_vec();
    full.push(b'/');
    full.extend_from_slice(&name);
    // After `.`, `..` and the smaller numbers (the entries are in fd order).
    let at = 2 + me.fds.iter().filter(|(fd, _)| *fd < own).count();
    v.insert(at.min(v.len()), (name, ino_of(&full), DT_LNK));
    v
}

/// A directory listing with `.` and `..`: (name, ino, d_type).
fn listing(path: &[u8], dir: DirId, me: &ProcessInfo, p: &Procs) -> Vec<(Vec<u8>, u64, u8)> {
    let mut v = vec![
        (b".".to_vec(), ino_of(path), DT_DIR),
        (b"..".to_vec(), ino_of(parent_of(path)), DT_DIR),
    ];
    for (name, e) in entries(dir, me, p) {
        let mut p = path.to_vec();
        if !p.is_empty() {
            p.push(b'/');
        }
        p.extend_from_slice(&name);
        v.push((name, ino_of(&p), e.dtype()));
    }
    v
}

/// The text of a generated file.
fn contents(f: FileId, me: &ProcessInfo, sys: &SystemInfo) -> Vec<u8> {
    let line = |b: &[u8]| [b, b"\n"].concat();
    match f {
        FileId::Maps => maps(me),
        FileId::Status => status(me, sys).into_bytes(),
        FileId::PidStat => pid_stat(me).into_bytes(),
        FileId::Statm => statm(me).into_bytes(),
        FileId::Personality => format!("{:08x}\n", me.personality).into_bytes(),
        FileId::Cmdline => me.cmdline.clone(),
        FileId::Environ => me.environ.clone(),
        FileId::Comm => line(&me.comm),
        FileId::Mounts => mounts_of(sys)
            .iter()
            .map(|m| {
                let (point, src) = (escape(&m.point), escape(&m.source));
                format!("{src} {point} {} {} 0 0\n", m.fstype, m.super_opts)
            })
            .collect::<String>()
            .into_bytes(),
        FileId::Mountinfo => mountinfo(sys).into_bytes(),
        FileId::Cgroup => b"0::/\n".to_vec(),
        FileId::Cpuinfo => cpuinfo(sys).into_bytes(),
        FileId::Meminfo => meminfo(me, sys).into_bytes(),
        FileId::Stat => stat_file(me, sys).into_bytes(),
        FileId::Uptime => format!(
            "{:.2} {:.2}\n",
            sys.uptime_secs,
            sys.uptime_secs * f64::from(sys.ncpus.max(1))
        )
        .into_bytes(),
        FileId::Loadavg => {
            format!("0.00 0.00 0.00 1/{} {}\n", sys.nprocs.max(1), me.pid).into_bytes()
        }
        FileId::Filesystems => {
            b"nodev\tsnare\nnodev\ttmpfs\nnodev\tproc\nnodev\tdevtmpfs\n".to_vec()
        }
        FileId::Version => format!(
            "Linux version {} (snare@snare) (rustc) #1 SMP snare\n",
            String::from_utf8_lossy(&sys.osrelease)
        )
        .into_bytes(),
        FileId::Hostname => line(&sys.hostname),
        FileId::Osrelease => line(&sys.osrelease),
        FileId::Ostype => b"Linux\n".to_vec(),
        FileId::PidMax => b"4194304\n".to_vec(),
        FileId::PipeMaxSize => b"1048576\n".to_vec(),
        FileId::InotifyMaxQueuedEvents => format!("{}\n", inotify::MAX_QUEUED_EVENTS).into_bytes(),
        FileId::InotifyMaxUserInstances => {
            format!("{}\n", inotify::MAX_USER_INSTANCES).into_bytes()
        }
        FileId::InotifyMaxUserWatches => format!("{}\n", inotify::MAX_USER_WATCHES).into_bytes(),
        FileId::OvercommitMemory => b"0\n".to_vec(),
        // Opened with the network side's text (`Procfs::open`).
        FileId::Net(_) => Vec::new(),
        FileId::Sysvipc(f) => sys
            .ipc
            .as_ref()
            .and_then(|ns| ns.proc_file(f))
            .unwrap_or_default()
            .into_bytes(),
        FileId::IpcSysctl(f) => sys
            .ipc
            .as_ref()
            .and_then(|ns| ns.sysctl(f))
            .unwrap_or_default()
            .into_bytes(),
    }
}

/// One mount as /proc/PID/mounts and mountinfo show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountLine {
    pub id: u32,
    /// The id of the mount it lies on.
    pub parent: u32,
    /// `MAJ:MIN`.
    pub dev: String,
    /// The directory of its filesystem it shows (`/` unless bind-mounted).
    pub root: String,
    pub source: String,
    pub point: String,
    pub fstype: String,
    /// Per-mount options (`rw,nosuid`).
    pub opts: String,
    /// Per-filesystem options (`rw,size=…`).
    pub super_opts: String,
}

/// The mounts to show: the sandbox's (`sys.mounts`), or a default table when none is given.
fn mounts_of(sys: &SystemInfo) -> Vec<MountLine> {
    if !sys.mounts.is_empty() {
        return sys.mounts.clone();
    }
    let m = |id, dev: &str, source: &str, point: &str, fstype: &str, opts: &str| MountLine {
        id,
        parent: 21,
        dev: dev.into(),
        root: "/".into(),
        source: source.into(),
        point: point.into(),
        fstype: fstype.into(),
        opts: opts.into(),
        super_opts: opts.into(),
    };
    vec![
        m(21, "0:3999", "none", "/", "snare", "ro"),
        m(22, "0:4001", "proc", "/proc", "proc", "rw"),
        m(23, "0:4002", "devtmpfs", "/dev", "devtmpfs", "rw"),
        m(24, "0:4000", "tmpfs", "/tmp", "tmpfs", "rw"),
    ]
}

/// `ID PARENT MAJ:MIN ROOT POINT OPTS - FSTYPE SOURCE SUPEROPTS`; the root's parent (1) is
/// not listed, as in a container.
fn mountinfo(sys: &SystemInfo) -> String {
    mounts_of(sys)
        .iter()
        .map(|m| {
            let parent = if m.parent == m.id || m.point == "/" {
                1
            } else {
                m.parent
            };
            format!(
                "{} {} {} {} {} {} - {} {} {}\n",
                m.id,
                parent,
                m.dev,
                escape(&m.root),
                escape(&m.point),
                m.opts,
                m.fstype,
                m.source,
                m.super_opts
            )
        })
        .collect()
}

/// A path as /proc/mounts shows it: space, tab, newline and backslash as octal escapes.
fn escape(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for c in p.chars() {
        match c {
            ' ' | '\t' | '\n' | '\\' => out.push_str(&format!("\\{:03o}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// `/proc/PID/maps`: the name starts at column 73, as `show_map_vma` pads it.
fn maps(me: &ProcessInfo) -> Vec<u8> {
    let mut out = Vec::new();
    for m in &me.maps {
        let flag = |on: bool, c: char| if on { c } else { '-' };
        let head = format!(
            "{:08x}-{:08x} {}{}{}{} {:08x} {:02x}:{:02x} {} ",
            m.start,
            m.end,
            flag(m.read, 'r'),
            flag(m.write, 'w'),
            flag(m.exec, 'x'),
            if m.shared { 's' } else { 'p' },
            m.offset,
            m.dev.0,
            m.dev.1,
            m.inode
        );
        out.extend_from_slice(head.as_bytes());
        if !m.name.is_empty() {
            let pad = 72usize.saturating_sub(head.len());
            out.resize(out.len() + pad + 1, b' ');
            out.extend_from_slice(&m.name);
        }
        out.push(b'\n');
    }
    out
}

/// Name escaping of `/proc/PID/status` (`\n` and `\\` escaped).
fn escaped(name: &[u8]) -> String {
    let mut s = String::new();
    for c in String::from_utf8_lossy(name).chars() {
        match c {
            '\n' => s.push_str("\\n"),
            '\\' => s.push_str("\\\\"),
            c => s.push(c),
        }
    }
    s
}

/// A CPU mask as `%*pb` prints it: 32-bit hex groups, comma separated, high group first.
fn cpu_mask(ncpus: u32) -> String {
    let n = ncpus.max(1);
    let groups = n.div_ceil(32);
    let mut parts = Vec::new();
    for g in (0..groups).rev() {
        let bits = (n - g * 32).min(32);
        let word: u64 = (1u64 << bits) - 1;
        if g == groups - 1 {
            let width = bits.div_ceil(4) as usize;
            parts.push(format!("{word:0width$x}"));
        } else {
            parts.push(format!("{word:08x}"));
        }
    }
    parts.join(",")
}

fn cpu_list(ncpus: u32) -> String {
    match ncpus.max(1) {
        1 => "0".to_string(),
        n => format!("0-{}", n - 1),
    }
}

/// `Cpus_allowed` of the CPUs in `cpus` (ascending), a bitmap of `nbits` (at least enough
/// for them) in comma-separated 32-bit hex groups, the first cut to its significant digits.
fn cpu_mask_of(cpus: &[u32], nbits: u32) -> String {
    let nbits = nbits.max(cpus.last().map_or(1, |&c| c + 1));
    let groups = nbits.div_ceil(32);
    let mut parts = Vec::new();
    for g in (0..groups).rev() {
        let word: u32 = cpus
            .iter()
            .filter(|&&c| c / 32 == g)
            .fold(0, |w, &c| w | 1 << (c % 32));
        if g == groups - 1 {
            let width = (nbits - g * 32).div_ceil(4) as usize;
            parts.push(format!("{word:0width$x}"));
        } else {
            parts.push(format!("{word:08x}"));
        }
    }
    parts.join(",")
}

/// `Cpus_allowed_list` of the CPUs in `cpus` (ascending): ranges, `0-1,4`.
fn cpu_list_of(cpus: &[u32]) -> String {
    let mut ranges: Vec<(u32, u32)> = Vec::new();
    for &c in cpus {
        match ranges.last_mut() {
            Some(r) if r.1 + 1 == c => r.1 = c,
            _ => ranges.push((c, c)),
        }
    }
    let parts: Vec<String> = ranges
        .iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect();
    parts.join(",")
}

fn status(me: &ProcessInfo, sys: &SystemInfo) -> String {
    let kb = |v: u64| format!("{v:>8} kB");
    let fd_size = me
        .fds
        .iter()
        .map(|(fd, _)| *fd + 1)
        .max()
        .unwrap_or(0)
        .max(64);
    let fd_size = u32::try_from(fd_size).unwrap_or(64).next_power_of_two();
    let mut s = String::new();
    let mut put = |k: &str, v: String| {
        let _ = writeln!(s, "{k}:\t{v}");
    };
    put("Name", escaped(&me.comm));
    put("Umask", "0022".into());
    put("State", state_name(me.state).into());
    put("Tgid", me.pid.to_string());
    put("Ngid", "0".into());
    put("Pid", me.pid.to_string());
    put("PPid", me.ppid.to_string());
    put("TracerPid", "0".into());
    let ids = |v: [u32; 4]| format!("{}\t{}\t{}\t{}", v[0], v[1], v[2], v[3]);
    put("Uid", ids(me.uids));
    put("Gid", ids(me.gids));
    put("FDSize", fd_size.to_string());
    put("Groups", String::new());
    put("NStgid", me.pid.to_string());
    put("NSpid", me.pid.to_string());
    put("NSpgid", pgid_of(me).to_string());
    put("NSsid", sid_of(me).to_string());
    put("VmPeak", kb(me.vm_size_kb));
    put("VmSize", kb(me.vm_size_kb));
    put("VmLck", kb(me.vm_lck_kb));
    put("VmPin", kb(0));
    put("VmHWM", kb(me.vm_rss_kb));
    put("VmRSS", kb(me.vm_rss_kb));
    put("VmSwap", kb(0));
    put("Threads", me.threads.max(1).to_string());
    put("SigQ", "0/63907".into());
    put("SigPnd", format!("{:016x}", 0));
    put("ShdPnd", format!("{:016x}", 0));
    put("SigBlk", format!("{:016x}", me.sig_blocked));
    put("SigIgn", format!("{:016x}", me.sig_ignored));
    put("SigCgt", format!("{:016x}", me.sig_caught));
    let c = &me.caps;
    put("CapInh", format!("{:016x}", c.inheritable));
    put("CapPrm", format!("{:016x}", c.permitted));
    put("CapEff", format!("{:016x}", c.effective));
    put("CapBnd", format!("{:016x}", c.bounding));
    put("CapAmb", format!("{:016x}", c.ambient));
    put("NoNewPrivs", u8::from(c.no_new_privs).to_string());
    put(
        "Seccomp",
        sys.seccomp.max(me.seccomp_mode as u8).to_string(),
    );
    put(
        "Seccomp_filters",
        (me.seccomp_filters + usize::from(sys.seccomp == 2)).to_string(),
    );
    if me.cpus.is_empty() {
        put("Cpus_allowed", cpu_mask(sys.ncpus));
        put("Cpus_allowed_list", cpu_list(sys.ncpus));
    } else {
        put("Cpus_allowed", cpu_mask_of(&me.cpus, sys.ncpus));
        put("Cpus_allowed_list", cpu_list_of(&me.cpus));
    }
    put("Mems_allowed", "1".into());
    put("Mems_allowed_list", "0".into());
    put("voluntary_ctxt_switches", "0".into());
    put("nonvoluntary_ctxt_switches", "0".into());
    s
}

/// `status`'s `State:` for a state letter.
fn state_name(state: u8) -> &'static str {
    match state {
        b'S' => "S (sleeping)",
        b'T' => "T (stopped)",
        b'Z' => "Z (zombie)",
        _ => "R (running)",
    }
}

fn pgid_of(me: &ProcessInfo) -> i32 {
    if me.pgid > 0 {
        me.pgid
    } else {
        me.pid
    }
}

fn sid_of(me: &ProcessInfo) -> i32 {
    if me.sid > 0 {
        me.sid
    } else {
        me.pid
    }
}

/// The first mapping whose name is `name` and whose `exec` bit is `exec` (or any, if `None`).
fn find_map<'a>(me: &'a ProcessInfo, name: &[u8], exec: Option<bool>) -> Option<&'a MapLine> {
    me.maps
        .iter()
        .find(|m| m.name == name && exec.is_none_or(|x| m.exec == x))
}

fn pid_stat(me: &ProcessInfo) -> String {
    let code = find_map(me, &me.exe, Some(true));
    let (start_code, end_code) = code.map_or((0, 0), |m| (m.start, m.end));
    let start_data = me
        .maps
        .iter()
        .find(|m| m.name == me.exe && m.write)
        .map_or(0, |m| m.start);
    let end_data = me
        .maps
        .iter()
        .rfind(|m| m.name == me.exe && m.write)
        .map_or(0, |m| m.end);
    let start_brk = find_map(me, b"[heap]", None).map_or(end_data, |m| m.start);
    let start_stack = find_map(me, b"[stack]", None).map_or(0, |m| m.end.saturating_sub(8));
    let comm = String::from_utf8_lossy(&me.comm);
    let f: [String; 50] = [
        char::from(if me.state == 0 { b'R' } else { me.state }).to_string(),
        me.ppid.to_string(),
        pgid_of(me).to_string(), // pgrp
        sid_of(me).to_string(),  // session
        "0".into(),              // tty_nr
        "-1".into(),             // tpgid
        "4194304".into(),        // flags (PF_RANDOMIZE)
        "0".into(),              // minflt
        "0".into(),              // cminflt
        "0".into(),              // majflt
        "0".into(),              // cmajflt
        me.utime_ticks.to_string(),
        me.stime_ticks.to_string(),
        me.cutime_ticks.to_string(),
        me.cstime_ticks.to_string(),
        me.priority.to_string(),
        me.nice.to_string(),
        me.threads.max(1).to_string(),
        "0".into(), // itrealvalue
        me.start_ticks.to_string(),
        (me.vm_size_kb * 1024).to_string(),
        (me.vm_rss_kb / PAGE_KB).to_string(),
        u64::MAX.to_string(), // rsslim
        start_code.to_string(),
        end_code.to_string(),
        start_stack.to_string(),
        "0".into(), // kstkesp
        "0".into(), // kstkeip
        "0".into(), // signal (pending)
        me.sig_blocked.to_string(),
        me.sig_ignored.to_string(),
        me.sig_caught.to_string(),
        "0".into(),  // wchan
        "0".into(),  // nswap
        "0".into(),  // cnswap
        "17".into(), // exit_signal (SIGCHLD)
        "0".into(),  // processor
        me.rt_priority.to_string(),
        me.policy.to_string(),
        "0".into(), // delayacct_blkio_ticks
        "0".into(), // guest_time
        "0".into(), // cguest_time
        start_data.to_string(),
        end_data.to_string(),
        start_brk.to_string(),
        "0".into(), // arg_start
        "0".into(), // arg_end
        "0".into(), // env_start
        "0".into(), // env_end
        "0".into(), // exit_code
    ];
    format!("{} ({}) {}\n", me.pid, comm, f.join(" "))
}

fn statm(me: &ProcessInfo) -> String {
    let pages = |m: &MapLine| (m.end - m.start) / (PAGE_KB * 1024);
    let text: u64 = me
        .maps
        .iter()
        .filter(|m| m.exec && m.name == me.exe)
        .map(pages)
        .sum();
    let data: u64 = me
        .maps
        .iter()
        .filter(|m| m.write && !m.shared)
        .map(pages)
        .sum();
    format!(
        "{} {} 0 {} 0 {} 0\n",
        me.vm_size_kb / PAGE_KB,
        me.vm_rss_kb / PAGE_KB,
        text,
        data
    )
}

/// The host's CPU identification fields we pass on, with defaults if the host has none.
const CPU_FIELDS: [(&str, &str); 11] = [
    ("vendor_id", "GenuineIntel"),
    ("cpu family", "6"),
    ("model", "85"),
    ("model name", "Intel(R) Xeon(R) CPU"),
    ("stepping", "7"),
    ("cpu MHz", "2000.000"),
    ("cache size", "1024 KB"),
    ("flags", "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx lm constant_tsc rep_good nopl pni ssse3 cx16 sse4_1 sse4_2 popcnt"),
    ("bogomips", "4000.00"),
    ("clflush size", "64"),
    ("address sizes", "48 bits physical, 48 bits virtual"),
];

/// The value of `key` in the host's first /proc/cpuinfo block.
fn host_cpu_field(host: &str, key: &str) -> Option<String> {
    host.lines().take_while(|l| !l.is_empty()).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim_end() == key).then(|| v.trim().to_string())
    })
}

fn cpuinfo(sys: &SystemInfo) -> String {
    let host = snare_platform::host_proc::read_to_string("cpuinfo").unwrap_or_default();
    let field = |key: &str, default: &str| {
        host_cpu_field(&host, key).unwrap_or_else(|| default.to_string())
    };
    let vals: Vec<String> = CPU_FIELDS.iter().map(|(k, d)| field(k, d)).collect();
    let get = |key: &str| {
        CPU_FIELDS
            .iter()
            .position(|(k, _)| *k == key)
            .map(|i| vals[i].as_str())
            .unwrap_or("")
    };
    let n = sys.ncpus.max(1);
    let mut s = String::new();
    // Keys are padded with tabs to two tab stops, as x86 `show_cpuinfo` does.
    let put = |s: &mut String, k: &str, v: &str| {
        let tabs = if k.len() < 8 { "\t\t" } else { "\t" };
        let _ = writeln!(s, "{k}{tabs}: {v}");
    };
    for i in 0..n {
        let i = i.to_string();
        let nstr = n.to_string();
        put(&mut s, "processor", &i);
        put(&mut s, "vendor_id", get("vendor_id"));
        put(&mut s, "cpu family", get("cpu family"));
        put(&mut s, "model", get("model"));
        put(&mut s, "model name", get("model name"));
        put(&mut s, "stepping", get("stepping"));
        put(&mut s, "cpu MHz", get("cpu MHz"));
        put(&mut s, "cache size", get("cache size"));
        put(&mut s, "physical id", "0");
        put(&mut s, "siblings", &nstr);
        put(&mut s, "core id", &i);
        put(&mut s, "cpu cores", &nstr);
        put(&mut s, "apicid", &i);
        put(&mut s, "initial apicid", &i);
        put(&mut s, "fpu", "yes");
        put(&mut s, "fpu_exception", "yes");
        put(&mut s, "cpuid level", "13");
        put(&mut s, "wp", "yes");
        put(&mut s, "flags", get("flags"));
        put(&mut s, "bogomips", get("bogomips"));
        put(&mut s, "clflush size", get("clflush size"));
        put(&mut s, "cache_alignment", get("clflush size"));
        put(&mut s, "address sizes", get("address sizes"));
        put(&mut s, "power management", "");
        s.push('\n');
    }
    // "power management:" has no space after the colon on Linux.
    s.replace("power management\t: \n", "power management:\n")
}

fn meminfo(me: &ProcessInfo, sys: &SystemInfo) -> String {
    let used = sys.mem_total_kb.saturating_sub(sys.mem_free_kb);
    let rows: [(&str, u64); 29] = [
        ("MemTotal", sys.mem_total_kb),
        ("MemFree", sys.mem_free_kb),
        ("MemAvailable", sys.mem_available_kb),
        ("Buffers", 0),
        ("Cached", 0),
        ("SwapCached", 0),
        ("Active", used),
        ("Inactive", 0),
        ("Active(anon)", used),
        ("Inactive(anon)", 0),
        ("Active(file)", 0),
        ("Inactive(file)", 0),
        ("Unevictable", 0),
        ("Mlocked", 0),
        ("SwapTotal", 0),
        ("SwapFree", 0),
        ("Dirty", 0),
        ("Writeback", 0),
        ("AnonPages", used),
        ("Mapped", me.vm_rss_kb),
        ("Shmem", 0),
        ("Slab", 0),
        ("SReclaimable", 0),
        ("SUnreclaim", 0),
        ("KernelStack", 0),
        ("PageTables", 0),
        ("CommitLimit", sys.mem_total_kb / 2),
        ("Committed_AS", used),
        ("VmallocTotal", 34_359_738_367),
    ];
    let mut s = String::new();
    for (k, v) in rows {
        let _ = writeln!(s, "{:<16}{v:>8} kB", format!("{k}:"));
    }
    for k in [
        "VmallocUsed",
        "VmallocChunk",
        "AnonHugePages",
        "ShmemHugePages",
    ] {
        let _ = writeln!(s, "{:<16}{:>8} kB", format!("{k}:"), 0);
    }
    for k in [
        "HugePages_Total",
        "HugePages_Free",
        "HugePages_Rsvd",
        "HugePages_Surp",
    ] {
        let _ = writeln!(s, "{:<16}{:>8}", format!("{k}:"), 0);
    }
    let _ = writeln!(s, "{:<16}{:>8} kB", "Hugepagesize:", 2048);
    s
}

/// `/proc/stat`: all CPU time idle since boot.
fn stat_file(me: &ProcessInfo, sys: &SystemInfo) -> String {
    let n = sys.ncpus.max(1);
    let idle = (sys.uptime_secs.max(0.0) * HZ as f64) as u64;
    let mut s = format!("cpu  0 0 0 {} 0 0 0 0 0 0\n", idle * u64::from(n));
    for i in 0..n {
        let _ = writeln!(s, "cpu{i} 0 0 0 {idle} 0 0 0 0 0 0");
    }
    let _ = write!(
        s,
        "intr 0\nctxt 0\nbtime {}\nprocesses {}\nprocs_running 1\nprocs_blocked 0\n\
         softirq 0 0 0 0 0 0 0 0 0 0 0\n",
        sys.boot_time_secs,
        sys.nprocs.max(1).max(u32::try_from(me.pid).unwrap_or(1))
    );
    s
}

/// What an open procfs file holds.
#[derive(Debug)]
enum Body {
    File(Vec<u8>),
    /// (name, ino, d_type), `.` and `..` first.
    Dir(Vec<(Vec<u8>, u64, u8)>),
    /// Opened with `O_PATH`: no I/O.
    Path,
}

/// An open procfs file or directory: a snapshot taken at open.
#[derive(Debug)]
pub struct ProcFile {
    path: String,
    stat: Stat,
    flags: u32,
    body: Body,
    /// File offset, or index of the next directory entry.
    pos: Mutex<u64>,
    /// The process of an open `<pid>` directory.
    process: Option<std::sync::Weak<crate::kernel::process::ThreadGroup>>,
}

impl ProcFile {
    /// A read-only regular file of `text` (another pseudo file system's: sysfs).
    pub(crate) fn text(path: String, stat: Stat, text: Vec<u8>) -> ProcFile {
        ProcFile {
            path,
            stat,
            flags: o::RDONLY,
            body: Body::File(text),
            pos: Mutex::new(0),
            process: None,
        }
    }

    /// The process this is the open `/proc/<pid>` directory of, if it is one (it may be
    /// gone since).
    pub(crate) fn process(&self) -> Option<&std::sync::Weak<crate::kernel::process::ThreadGroup>> {
        self.process.as_ref()
    }

    fn read_at(&self, buf: &mut [u8], off: u64) -> Result<usize, Errno> {
        match &self.body {
            Body::File(data) => {
                let start = usize::try_from(off).unwrap_or(usize::MAX).min(data.len());
                let n = buf.len().min(data.len() - start);
                buf[..n].copy_from_slice(&data[start..start + n]);
                Ok(n)
            }
            Body::Dir(_) => Err(Errno::EISDIR),
            Body::Path => Err(Errno::EBADF),
        }
    }
}

impl FileDescription for ProcFile {
    fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        let mut pos = self.pos.lock().unwrap_or_else(|e| e.into_inner());
        let n = self.read_at(buf, *pos)?;
        *pos += n as u64;
        Ok(n)
    }

    fn write(&self, _data: &[u8]) -> Result<usize, Errno> {
        Err(Errno::EBADF)
    }

    fn pread(&self, buf: &mut [u8], off: u64) -> Result<usize, Errno> {
        self.read_at(buf, off)
    }

    fn pwrite(&self, _data: &[u8], _off: u64) -> Result<usize, Errno> {
        Err(Errno::EBADF)
    }

    /// `SEEK_SET` and `SEEK_CUR` only, as `seq_lseek`.
    fn seek(&self, off: i64, whence: u32) -> Result<u64, Errno> {
        if matches!(self.body, Body::Path) {
            return Err(Errno::EBADF);
        }
        let mut pos = self.pos.lock().unwrap_or_else(|e| e.into_inner());
        let new = match whence {
            SEEK_SET => Some(off),
            SEEK_CUR => i64::try_from(*pos).ok().and_then(|c| c.checked_add(off)),
            _ => None,
        };
        let new = new
            .and_then(|n| u64::try_from(n).ok())
            .ok_or(Errno::EINVAL)?;
        *pos = new;
        Ok(new)
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(self.stat)
    }

    fn getdents(&self, out: &mut Vec<u8>, max: usize) -> Result<(), Errno> {
        let ents = match &self.body {
            Body::Dir(e) => e,
            Body::File(_) => return Err(Errno::ENOTDIR),
            Body::Path => return Err(Errno::EBADF),
        };
        let mut pos = self.pos.lock().unwrap_or_else(|e| e.into_inner());
        let start = out.len();
        let first = usize::try_from(*pos).unwrap_or(usize::MAX);
        for (i, (name, ino, dtype)) in ents.iter().enumerate().skip(first) {
            if !push_dirent(out, max, *ino, i as i64 + 1, *dtype, name) {
                if out.len() == start {
                    // Not even one record fits.
                    return Err(Errno::EINVAL);
                }
                break;
            }
            *pos = i as u64 + 1;
        }
        Ok(())
    }

    fn statfs(&self) -> Result<[u8; 120], Errno> {
        Ok(statfs_bytes())
    }

    fn status_flags(&self) -> u32 {
        self.flags
    }

    fn path(&self) -> Vec<u8> {
        self.path.clone().into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::SEEK_END;

    fn me() -> ProcessInfo {
        ProcessInfo {
            pid: 42,
            ppid: 1,
            uid: 1000,
            gid: 1001,
            uids: [1000; 4],
            gids: [1001; 4],
            caps: crate::kernel::caps::CapSets {
                ambient: 1 << 10,
                ..crate::kernel::caps::CapSets::default()
            },
            comm: b"hello".to_vec(),
            cmdline: b"/bin/hello\0-v\0".to_vec(),
            environ: b"PATH=/bin\0HOME=/\0".to_vec(),
            exe: b"/bin/hello".to_vec(),
            cwd: b"/home/u".to_vec(),
            root: b"/".to_vec(),
            maps: vec![
                MapLine {
                    start: 0x40_0000,
                    end: 0x40_2000,
                    read: true,
                    exec: true,
                    dev: (0xfe, 0),
                    inode: 1234,
                    name: b"/bin/hello".to_vec(),
                    ..MapLine::default()
                },
                MapLine {
                    start: 0x40_2000,
                    end: 0x40_3000,
                    read: true,
                    write: true,
                    offset: 0x2000,
                    dev: (0xfe, 0),
                    inode: 1234,
                    name: b"/bin/hello".to_vec(),
                    ..MapLine::default()
                },
                MapLine {
                    start: 0x50_0000,
                    end: 0x52_1000,
                    read: true,
                    write: true,
                    name: b"[heap]".to_vec(),
                    ..MapLine::default()
                },
                MapLine {
                    start: 0x7f00_0000_0000,
                    end: 0x7f00_0000_1000,
                    read: true,
                    write: true,
                    ..MapLine::default()
                },
                MapLine {
                    start: 0x7ffd_0000_0000,
                    end: 0x7ffd_0002_1000,
                    read: true,
                    write: true,
                    name: b"[stack]".to_vec(),
                    ..MapLine::default()
                },
            ],
            fds: vec![
                (0, b"/dev/null".to_vec()),
                (1, b"pipe:[7]".to_vec()),
                (3, b"/tmp/x".to_vec()),
            ],
            vm_rss_kb: 1740,
            vm_size_kb: 3060,
            threads: 1,
            start_ticks: 500,
            utime_ticks: 3,
            stime_ticks: 4,
            cutime_ticks: 5,
            cstime_ticks: 6,
            sig_blocked: 1 << 13,
            sig_ignored: 0,
            sig_caught: 1 << 1,
            ..ProcessInfo::default()
        }
    }

    /// Two other processes: 7 of root, 9 (threads 9 and 10) of the caller's user.
    fn others(pid: i32) -> Option<ProcessInfo> {
        let base = ProcessInfo {
            ppid: 1,
            comm: b"other".to_vec(),
            cmdline: b"other\0".to_vec(),
            environ: b"SECRET=1\0".to_vec(),
            exe: b"/bin/other".to_vec(),
            cwd: b"/".to_vec(),
            root: b"/".to_vec(),
            fds: vec![(0, b"/dev/null".to_vec())],
            state: b'S',
            ..ProcessInfo::default()
        };
        match pid {
            7 => Some(ProcessInfo {
                pid: 7,
                uid: 0,
                ..base
            }),
            9 => Some(ProcessInfo {
                pid: 9,
                uid: 1000,
                tids: vec![9, 10],
                pgid: 7,
                sid: 7,
                ..base
            }),
            _ => None,
        }
    }

    #[test]
    fn other_processes() {
        let me = me();
        let p = Procs {
            me: &me,
            pids: vec![9, 42, 7],
            other: Box::new(others),
        };
        let open = |rel: &str| Procfs::open(rel.as_bytes(), o::RDONLY, &p, &sys(), &|_| Vec::new());
        let read = |rel: &str| {
            let f = open(rel).expect(rel);
            let mut out = vec![0u8; 4096];
            let n = f.read(&mut out).expect(rel);
            String::from_utf8_lossy(&out[..n]).into_owned()
        };
        let names = |rel: &str| {
            let f = Procfs::open(
                rel.as_bytes(),
                o::RDONLY | o::DIRECTORY,
                &p,
                &sys(),
                &|_| Vec::new(),
            )
            .expect(rel);
            let mut out = Vec::new();
            f.getdents(&mut out, 4096).expect(rel);
            let mut v = Vec::new();
            let mut i = 0;
            while i < out.len() {
                let reclen = u16::from_ne_bytes([out[i + 16], out[i + 17]]) as usize;
                let name = &out[i + 19..i + reclen];
                let end = name.iter().position(|&b| b == 0).expect("nul");
                v.push(String::from_utf8_lossy(&name[..end]).into_owned());
                i += reclen;
            }
            v
        };
        let root = names("");
        assert_eq!(&root[2..5], ["7", "9", "42"], "{root:?}");
        assert!(read("7/status").contains("State:\tS (sleeping)\n"));
        assert!(read("7/stat").starts_with("7 (other) S 1 7 7 "));
        assert!(read("9/stat").starts_with("9 (other) S 1 7 7 "));
        assert_eq!(read("7/cmdline"), "other\0");
        // Another user's private files: closed; the same user's: open.
        for rel in ["7/environ", "7/maps", "7/fd", "7/fd/0"] {
            assert_eq!(open(rel).err(), Some(Errno::EACCES), "{rel}");
        }
        assert_eq!(Procfs::readlink(b"7/exe", &p).err(), Some(Errno::EACCES));
        assert_eq!(Procfs::readlink(b"7/cwd", &p).err(), Some(Errno::EACCES));
        assert_eq!(read("9/environ"), "SECRET=1\0");
        assert_eq!(
            Procfs::readlink(b"9/exe", &p).expect("9/exe"),
            b"/bin/other"
        );
        assert_eq!(names("9/task")[2..], ["9", "10"]);
        assert_eq!(names("9/fd")[2..], ["0"]);
        // Another process's fd leads to its path, never to the caller's fd of that number.
        assert_eq!(
            Procfs::redirect(b"9/fd/0", true, &p).expect("9/fd/0"),
            Some(Redirect::Path(b"/dev/null".to_vec()))
        );
        // Missing and non-canonical pids.
        for rel in ["8/status", "007/status", "+7/status", "0/status"] {
            assert_eq!(open(rel).err(), Some(Errno::ENOENT), "{rel}");
        }
        // `self` stays the caller, also after another pid was walked.
        assert_eq!(Procfs::readlink(b"self", &p).expect("self"), b"42");
        assert!(read("self/status").contains("Pid:\t42\n"));
        // CAP_SYS_PTRACE sees everything.
        let root_me = ProcessInfo {
            uid: 0,
            caps: crate::kernel::caps::CapSets::for_uid(0),
            ..me.clone()
        };
        let p = Procs {
            me: &root_me,
            pids: vec![7],
            other: Box::new(others),
        };
        let f = Procfs::open(b"7/environ", o::RDONLY, &p, &sys(), &|_| Vec::new());
        assert!(f.is_ok());
        assert_eq!(
            Procfs::readlink(b"7/exe", &p).expect("7/exe"),
            b"/bin/other"
        );
    }

    fn sys() -> SystemInfo {
        SystemInfo {
            hostname: b"box".to_vec(),
            osrelease: b"6.1.0-snare".to_vec(),
            uptime_secs: 12.345,
            ncpus: 2,
            mem_total_kb: 1 << 20,
            mem_free_kb: 1 << 19,
            mem_available_kb: 1 << 19,
            boot_time_secs: 1_700_000_000,
            nprocs: 1,
            mounts: Vec::new(),
            seccomp: 0,
            ..SystemInfo::default()
        }
    }

    fn open(rel: &str, flags: u32) -> Result<Arc<dyn FileDescription>, Errno> {
        Procfs::open(rel.as_bytes(), flags, &Procs::only(&me()), &sys(), &|f| {
            format!("{f:?}\n").into_bytes()
        })
    }

    fn read_all(rel: &str) -> String {
        let f = open(rel, o::RDONLY).expect("procfs");
        let mut out = Vec::new();
        let mut buf = [0u8; 7]; // small, to exercise offsets
        loop {
            let n = f.read(&mut buf).expect("procfs");
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        String::from_utf8(out).expect("procfs")
    }

    fn list(rel: &str) -> Vec<(String, u8, u64)> {
        let f = open(rel, o::RDONLY | o::DIRECTORY).expect("procfs");
        let mut names = Vec::new();
        loop {
            let mut out = Vec::new();
            f.getdents(&mut out, 64).expect("procfs");
            if out.is_empty() {
                break;
            }
            let mut p = 0;
            while p < out.len() {
                let ino = u64::from_ne_bytes(out[p..p + 8].try_into().expect("procfs"));
                let reclen =
                    u16::from_ne_bytes(out[p + 16..p + 18].try_into().expect("procfs")) as usize;
                let dtype = out[p + 18];
                let name = &out[p + 19..p + reclen];
                let end = name.iter().position(|&b| b == 0).expect("procfs");
                names.push((
                    String::from_utf8_lossy(&name[..end]).into_owned(),
                    dtype,
                    ino,
                ));
                p += reclen;
            }
        }
        names
    }

    fn names(rel: &str) -> Vec<String> {
        list(rel).into_iter().map(|e| e.0).collect()
    }

    /// `^[0-9a-f]+-[0-9a-f]+ [r-][w-][x-][ps] [0-9a-f]{8} [0-9a-f]{2}:[0-9a-f]{2} \d+\s*.*$`
    fn maps_line_ok(l: &str) -> bool {
        let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
        let mut it = l.splitn(6, ' ');
        let (Some(range), Some(perm), Some(off), Some(dev), Some(ino)) =
            (it.next(), it.next(), it.next(), it.next(), it.next())
        else {
            return false;
        };
        let Some((a, b)) = range.split_once('-') else {
            return false;
        };
        let p = perm.as_bytes();
        let dev_ok =
            dev.len() == 5 && dev.as_bytes()[2] == b':' && hex(&dev[..2]) && hex(&dev[3..]);
        hex(a)
            && hex(b)
            && p.len() == 4
            && matches!(p[0], b'r' | b'-')
            && matches!(p[1], b'w' | b'-')
            && matches!(p[2], b'x' | b'-')
            && matches!(p[3], b'p' | b's')
            && off.len() == 8
            && hex(off)
            && dev_ok
            && !ino.is_empty()
            && ino.bytes().all(|b| b.is_ascii_digit())
    }

    #[test]
    fn root_listing() {
        let n = names("");
        assert_eq!(&n[..3], [".", "..", "42"]);
        for want in [
            "self",
            "thread-self",
            "cpuinfo",
            "meminfo",
            "stat",
            "uptime",
            "loadavg",
            "filesystems",
            "mounts",
            "net",
            "version",
            "sys",
        ] {
            assert!(n.iter().any(|x| x == want), "{want} missing");
        }
        let l = list("");
        assert_eq!(l[0].2, ROOT_INO);
        assert!(l.iter().any(|e| e.0 == "self" && e.1 == DT_LNK));
        assert!(l.iter().any(|e| e.0 == "42" && e.1 == DT_DIR));
        assert!(l.iter().any(|e| e.0 == "cpuinfo" && e.1 == DT_REG));
        // The listed inode matches stat's.
        let ino = l.iter().find(|e| e.0 == "meminfo").expect("procfs").2;
        assert_eq!(
            Procfs::stat(b"meminfo", true, &Procs::only(&me()), &sys())
                .expect("procfs")
                .st_ino,
            ino
        );
    }

    #[test]
    fn pid_dirs() {
        let n = names("self");
        for want in [
            "task",
            "fd",
            "status",
            "stat",
            "statm",
            "maps",
            "cmdline",
            "environ",
            "comm",
            "exe",
            "cwd",
            "root",
            "mounts",
            "mountinfo",
        ] {
            assert!(n.iter().any(|x| x == want), "{want} missing");
        }
        assert_eq!(names("42/task"), [".", "..", "42"]);
        let t = names("self/task/42");
        assert!(t.iter().any(|x| x == "status"));
        assert!(!t.iter().any(|x| x == "task"));
        // 0, 1 and 3 are open: the listing's own fd is 2, the lowest free.
        assert_eq!(names("self/fd"), [".", "..", "0", "1", "2", "3"]);
        assert!(list("self/fd")[2..].iter().all(|e| e.1 == DT_LNK));
        assert_eq!(
            names("sys/kernel")[2..],
            [
                "auto_msgmni",
                "hostname",
                "msg_next_id",
                "msgmax",
                "msgmnb",
                "msgmni",
                "osrelease",
                "ostype",
                "pid_max",
                "sem",
                "sem_next_id",
                "shm_next_id",
                "shm_rmid_forced",
                "shmall",
                "shmmax",
                "shmmni"
            ]
        );
        assert_eq!(names("sysvipc")[2..], ["msg", "sem", "shm"]);
        // Without a namespace (no sandbox) the files are empty.
        assert_eq!(read_all("sysvipc/shm"), "");
        // Through thread-self.
        assert!(read_all("thread-self/status").contains("Pid:\t42\n"));
    }

    #[test]
    fn status_format() {
        let s = read_all("self/status");
        for want in [
            "Name:\thello\n",
            "State:\tR (running)\n",
            "Tgid:\t42\n",
            "Pid:\t42\n",
            "PPid:\t1\n",
            "Uid:\t1000\t1000\t1000\t1000\n",
            "Gid:\t1001\t1001\t1001\t1001\n",
            "FDSize:\t64\n",
            "VmSize:\t    3060 kB\n",
            "VmRSS:\t    1740 kB\n",
            "Threads:\t1\n",
            "SigBlk:\t0000000000002000\n",
            "SigIgn:\t0000000000000000\n",
            "SigCgt:\t0000000000000002\n",
            "Cpus_allowed:\t3\n",
            "Cpus_allowed_list:\t0-1\n",
            "CapPrm:\t0000000000000000\n",
            "CapBnd:\t000001ffffffffff\n",
            "CapAmb:\t0000000000000400\n",
            "NoNewPrivs:\t0\n",
        ] {
            assert!(s.contains(want), "{want:?} not in {s}");
        }
        assert!(s.starts_with("Name:"));
        assert_eq!(cpu_mask(1), "1");
        assert_eq!(cpu_mask(36), "f,ffffffff");
        assert_eq!(cpu_mask(64), "ffffffff,ffffffff");
    }

    #[test]
    fn stat_and_statm() {
        let s = read_all("42/stat");
        assert!(s.starts_with("42 (hello) R 1 42 42 0 -1 "), "{s}");
        assert!(s.ends_with(" 0\n"));
        let close = s.rfind(')').expect("procfs");
        let fields: Vec<&str> = s[close + 2..].split_whitespace().collect();
        assert_eq!(fields.len() + 2, 52);
        assert_eq!(fields[22 - 3], "500"); // starttime is field 22
        assert_eq!(fields[14 - 3], "3"); // utime
        assert_eq!(fields[26 - 3], 0x40_0000.to_string()); // startcode
        let m = read_all("self/statm");
        assert_eq!(m.split_whitespace().count(), 7);
        assert!(m.starts_with("765 435 0 2 0 "), "{m}");
    }

    #[test]
    fn maps_format() {
        let m = read_all("self/maps");
        let lines: Vec<&str> = m.lines().collect();
        assert_eq!(lines.len(), 5);
        for l in &lines {
            assert!(maps_line_ok(l), "bad maps line {l:?}");
        }
        assert_eq!(
            lines[0],
            format!(
                "00400000-00402000 r-xp 00000000 fe:00 1234{}/bin/hello",
                " ".repeat(31)
            )
        );
        assert_eq!(lines[0].find('/'), Some(73));
        assert!(lines[2].ends_with(" [heap]"));
        assert_eq!(lines[3], "7f0000000000-7f0000001000 rw-p 00000000 00:00 0 ");
        assert!(lines[4].ends_with("[stack]"));
    }

    #[test]
    fn simple_files() {
        assert_eq!(read_all("self/cmdline"), "/bin/hello\0-v\0");
        assert_eq!(read_all("self/environ"), "PATH=/bin\0HOME=/\0");
        assert_eq!(read_all("self/comm"), "hello\n");
        assert_eq!(read_all("uptime"), "12.35 24.69\n");
        assert_eq!(read_all("loadavg"), "0.00 0.00 0.00 1/1 42\n");
        assert!(read_all("filesystems").contains("nodev\ttmpfs\n"));
        assert!(read_all("version").starts_with("Linux version 6.1.0-snare "));
        assert_eq!(read_all("sys/kernel/hostname"), "box\n");
        assert_eq!(read_all("sys/kernel/osrelease"), "6.1.0-snare\n");
        assert_eq!(read_all("sys/kernel/ostype"), "Linux\n");
        assert_eq!(read_all("sys/kernel/pid_max"), "4194304\n");
        assert_eq!(read_all("sys/fs/pipe-max-size"), "1048576\n");
        assert_eq!(read_all("sys/fs/inotify/max_user_watches"), "8192\n");
        assert_eq!(read_all("sys/fs/inotify/max_queued_events"), "16384\n");
        assert_eq!(read_all("sys/fs/inotify/max_user_instances"), "128\n");
        assert_eq!(read_all("sys/vm/overcommit_memory"), "0\n");
        let mounts = read_all("mounts");
        assert_eq!(mounts, read_all("self/mounts"));
        assert!(mounts.starts_with("none / snare ro 0 0\n"));
        assert!(mounts.contains("tmpfs /tmp tmpfs rw 0 0\n"));
        assert!(mounts.contains("proc /proc proc rw 0 0\n"));
        assert!(mounts.contains("devtmpfs /dev devtmpfs rw 0 0\n"));
        let mi = read_all("self/mountinfo");
        assert_eq!(mi.lines().count(), 4);
        for l in mi.lines() {
            let f: Vec<&str> = l.split(' ').collect();
            assert_eq!(f.len(), 10, "{l}");
            assert_eq!(f[6], "-");
            assert!(mounts.contains(&format!("{} {} {} {} 0 0", f[8], f[4], f[7], f[9])));
        }
        assert!(mi.contains("/tmp rw - tmpfs tmpfs rw"));
    }

    #[test]
    fn system_files() {
        let c = read_all("cpuinfo");
        assert_eq!(c.matches("processor\t: ").count(), 2);
        assert!(c.contains("processor\t: 1\n"));
        assert!(c.contains("\nmodel name\t: "));
        assert!(c.contains("\nflags\t\t: "));
        assert!(c.contains("\nsiblings\t: 2\n"));
        assert!(c.contains("power management:\n\n"));
        let m = read_all("meminfo");
        assert!(m.starts_with("MemTotal:        1048576 kB\nMemFree:          524288 kB\n"));
        assert!(m.contains("\nMemAvailable:     524288 kB\n"));
        assert!(m.contains("\nSwapTotal:             0 kB\n"));
        assert!(m.contains("\nHugePages_Total:       0\n"));
        let s = read_all("stat");
        assert!(
            s.starts_with("cpu  0 0 0 2468 0 0 0 0 0 0\ncpu0 0 0 0 1234 "),
            "{s}"
        );
        assert!(s.contains("\nbtime 1700000000\n"));
        assert!(s.contains("\nprocs_running 1\n"));
        assert!(s.contains("\nprocesses "));
    }

    #[test]
    fn net_files() {
        // /proc/net is self/net; both list the same files, whose text the caller writes.
        assert_eq!(
            Procfs::readlink(b"net", &Procs::only(&me())).expect("link"),
            b"self/net"
        );
        let want: Vec<&str> = NET_FILES.iter().map(|(n, _)| *n).collect();
        for want in [
            "dev", "if_inet6", "route", "tcp", "tcp6", "udp", "udp6", "unix",
        ] {
            assert!(NET_FILES.iter().any(|(n, _)| *n == want), "{want}");
        }
        for dir in ["net", "self/net", "42/net", "42/task/42/net"] {
            assert_eq!(names(dir)[2..], want, "{dir}");
        }
        assert_eq!(read_all("net/tcp6"), "Sockets(\"tcp6\")\n");
        assert_eq!(read_all("net/dev"), "Host(\"dev\")\n");
        assert_eq!(read_all("self/net/unix"), "Unix\n");
        assert_eq!(read_all("sys/net/core/somaxconn"), "Somaxconn\n");
        assert_eq!(
            Procfs::stat(b"net/dev", true, &Procs::only(&me()), &sys())
                .expect("stat")
                .st_mode,
            S_IFREG | 0o444
        );
        assert_eq!(open("net/dev", o::WRONLY).err(), Some(Errno::EACCES));
    }

    #[test]
    fn readlinks() {
        let rl = |p: &str| Procfs::readlink(p.as_bytes(), &Procs::only(&me()));
        assert_eq!(rl("self").expect("procfs"), b"42");
        assert_eq!(rl("thread-self").expect("procfs"), b"42/task/42");
        assert_eq!(rl("mounts").expect("procfs"), b"self/mounts");
        assert_eq!(rl("self/exe").expect("procfs"), b"/bin/hello");
        assert_eq!(rl("42/cwd").expect("procfs"), b"/home/u");
        assert_eq!(rl("self/root").expect("procfs"), b"/");
        assert_eq!(rl("self/fd/1").expect("procfs"), b"pipe:[7]");
        assert_eq!(rl("self/task/42/fd/3").expect("procfs"), b"/tmp/x");
        assert_eq!(rl("self/fd/2"), Err(Errno::ENOENT));
        assert_eq!(rl("self/status"), Err(Errno::EINVAL));
        assert_eq!(rl("cpuinfo"), Err(Errno::EINVAL));
    }

    #[test]
    fn redirects() {
        let rd = |p: &str, f: bool| Procfs::redirect(p.as_bytes(), f, &Procs::only(&me()));
        assert_eq!(rd("self/status", true), Ok(None));
        assert_eq!(rd("self/exe", false), Ok(None));
        assert_eq!(
            rd("self/exe", true),
            Ok(Some(Redirect::Path(b"/bin/hello".to_vec())))
        );
        assert_eq!(
            rd("self/cwd/a/b", false),
            Ok(Some(Redirect::Path(b"/home/u/a/b".to_vec())))
        );
        assert_eq!(
            rd("self/root/etc", false),
            Ok(Some(Redirect::Path(b"/etc".to_vec())))
        );
        assert_eq!(rd("self/fd/1", true), Ok(Some(Redirect::Fd(1))));
        assert_eq!(rd("self/fd/1/x", true), Err(Errno::ENOTDIR));
        assert_eq!(
            rd("self/fd/3/x", true),
            Ok(Some(Redirect::Path(b"/tmp/x/x".to_vec())))
        );
        // Without redirect handling, followed magic links are not found.
        assert_eq!(
            Procfs::stat(b"self/exe", true, &Procs::only(&me()), &sys()),
            Err(Errno::ENOENT)
        );
    }

    #[test]
    fn stats() {
        let st = |p: &str, f: bool| {
            Procfs::stat(p.as_bytes(), f, &Procs::only(&me()), &sys()).expect("procfs")
        };
        let root = st("", true);
        assert_eq!(root.st_mode, S_IFDIR | 0o555);
        assert_eq!(root.st_ino, ROOT_INO);
        assert_eq!(root.st_dev, PROC_DEV);
        assert_eq!((root.st_uid, root.st_gid), (0, 0));
        let selfl = st("self", false);
        assert_eq!(selfl.st_mode, S_IFLNK | 0o777);
        assert_eq!(selfl.st_uid, 0);
        let piddir = st("self", true);
        assert_eq!(piddir.st_mode, S_IFDIR | 0o555);
        assert_eq!((piddir.st_uid, piddir.st_gid), (1000, 1001));
        assert_eq!(piddir.st_ino, st("42", true).st_ino);
        let status = st("self/status", true);
        assert_eq!(status.st_mode, S_IFREG | 0o444);
        assert_eq!(status.st_size, 0);
        assert_eq!(status.st_uid, 1000);
        assert_eq!(status.st_ino, st("42/status", false).st_ino);
        assert_ne!(status.st_ino, st("42/stat", false).st_ino);
        assert_eq!(st("self/environ", true).st_mode, S_IFREG | 0o400);
        assert_eq!(st("self/exe", false).st_mode & S_IFLNK, S_IFLNK);
        assert_eq!(st("meminfo", true).st_uid, 0);
        assert_eq!(st("sys/kernel", true).st_mode, S_IFDIR | 0o555);
        // fstat of an open file agrees.
        let f = open("self/status", o::RDONLY).expect("procfs");
        assert_eq!(f.stat().expect("procfs"), status);
        assert_eq!(f.path(), b"/proc/42/status");
    }

    #[test]
    fn errors() {
        let st = |p: &str| Procfs::stat(p.as_bytes(), true, &Procs::only(&me()), &sys()).err();
        assert_eq!(st("43"), Some(Errno::ENOENT));
        assert_eq!(st("43/status"), Some(Errno::ENOENT));
        assert_eq!(st("nope"), Some(Errno::ENOENT));
        assert_eq!(st("self/nope"), Some(Errno::ENOENT));
        assert_eq!(st("self/fd/9"), Some(Errno::ENOENT));
        assert_eq!(st("cpuinfo/x"), Some(Errno::ENOTDIR));
        assert_eq!(st("self/status/x"), Some(Errno::ENOTDIR));
        assert_eq!(st("cpuinfo/"), Some(Errno::ENOTDIR));
        assert!(st("self/").is_none());
        assert_eq!(open("43", o::RDONLY).err(), Some(Errno::ENOENT));
        assert_eq!(open("self/status", o::WRONLY).err(), Some(Errno::EACCES));
        assert_eq!(open("self/status", o::RDWR).err(), Some(Errno::EACCES));
        assert_eq!(
            open("sys/kernel/hostname", o::WRONLY).err(),
            Some(Errno::EACCES)
        );
        assert_eq!(
            open("newfile", o::CREAT | o::WRONLY).err(),
            Some(Errno::EACCES)
        );
        assert_eq!(open("self/status", o::CREAT).err(), Some(Errno::EACCES));
        assert_eq!(open("self", o::WRONLY).err(), Some(Errno::EISDIR));
        assert_eq!(open("meminfo", o::DIRECTORY).err(), Some(Errno::ENOTDIR));
        assert_eq!(open("self", o::NOFOLLOW).err(), Some(Errno::ELOOP));
        let p = open("self", o::NOFOLLOW | o::PATH).expect("procfs");
        assert_eq!(p.stat().expect("procfs").st_mode, S_IFLNK | 0o777);
        assert_eq!(p.read(&mut [0; 4]), Err(Errno::EBADF));
        let d = open("self", o::RDONLY).expect("procfs");
        assert_eq!(d.read(&mut [0; 4]), Err(Errno::EISDIR));
        let f = open("uptime", o::RDONLY).expect("procfs");
        assert_eq!(f.write(b"x"), Err(Errno::EBADF));
        assert_eq!(f.getdents(&mut Vec::new(), 4096), Err(Errno::ENOTDIR));
        // A record that doesn't fit at all.
        assert_eq!(d.getdents(&mut Vec::new(), 8), Err(Errno::EINVAL));
    }

    #[test]
    fn seek_and_pread_on_snapshot() {
        let f = open("self/status", o::RDONLY).expect("procfs");
        let whole = read_all("self/status");
        let mut b = [0u8; 9];
        assert_eq!(f.pread(&mut b, 0).expect("procfs"), 9);
        assert_eq!(&b, b"Name:\thel");
        assert_eq!(f.seek(6, SEEK_SET), Ok(6));
        assert_eq!(f.read(&mut b[..5]).expect("procfs"), 5);
        assert_eq!(&b[..5], b"hello");
        assert_eq!(f.seek(-5, SEEK_CUR), Ok(6));
        assert_eq!(f.seek(0, SEEK_END), Err(Errno::EINVAL));
        assert_eq!(f.seek(-100, SEEK_SET), Err(Errno::EINVAL));
        // pread doesn't move the offset.
        assert_eq!(f.pread(&mut b, 1).expect("procfs"), 9);
        assert_eq!(f.read(&mut b[..1]).expect("procfs"), 1);
        assert_eq!(b[0], b'h');
        // Past the end: 0.
        let end = whole.len() as u64;
        assert_eq!(f.pread(&mut b, end).expect("procfs"), 0);
        assert_eq!(f.pread(&mut b, end + 100).expect("procfs"), 0);
        assert_eq!(f.pread(&mut b, end - 2).expect("procfs"), 2);
        // Directories: rewind re-lists.
        let d = open("self/fd", o::RDONLY).expect("procfs");
        let mut out = Vec::new();
        d.getdents(&mut out, 4096).expect("procfs");
        let first = out.clone();
        out.clear();
        d.getdents(&mut out, 4096).expect("procfs");
        assert!(out.is_empty());
        assert_eq!(d.seek(0, SEEK_SET), Ok(0));
        d.getdents(&mut out, 4096).expect("procfs");
        assert_eq!(out, first);
    }
}
