//! The snapshots `/proc` is generated from: [`process_info`] reads everything /proc shows about
//! the calling task (the only place that reads `Task` fields for /proc), [`other_process`]
//! the same of another process through what its thread publishes (`TaskView`),
//! [`system_info`] the sandbox-wide facts.

use std::sync::{Arc, OnceLock};

use snare_platform::Prot;

use crate::kernel::process::{TaskHandle, ThreadGroup};
use crate::kernel::FsContext;
use crate::kernel::{Kernel, Task};
use crate::mm::{Backing, GuestMemory, MemoryManager};
use crate::vfs::procfs::{MapLine, ProcessInfo, SystemInfo};
use crate::vfs::FdTable;

/// Longest argv or envp block read for /proc (Linux reads any length; a page-sized cap keeps
/// a hostile guest from making the Sentry allocate much).
const MAX_ARGS: u64 = 1 << 20;

/// The guest bytes in `[start, end)`, or nothing if they can't be read.
fn guest_range(mm: &MemoryManager, (start, end): (u64, u64)) -> Vec<u8> {
    let len = end.saturating_sub(start).min(MAX_ARGS) as usize;
    let mut buf = vec![0u8; len];
    match mm.read(start, &mut buf) {
        Ok(()) => buf,
        Err(_) => Vec::new(),
    }
}

/// What /proc shows about `t`.
pub(crate) fn process_info(t: &Task) -> ProcessInfo {
    let mut info = info_of(&t.k, &t.handle, &t.mm, &t.fds, &t.fs);
    info.state = b'R';
    info
}

/// What /proc shows about the process of thread `h`, whose memory, files and directories
/// are `mm`, `fds` and `fs`.
fn info_of(
    k: &Kernel,
    h: &TaskHandle,
    mm: &MemoryManager,
    fds: &FdTable,
    fs: &FsContext,
) -> ProcessInfo {
    let tg = &h.tg;
    let (heap_start, heap_end) = mm.brk_range();
    let vmas = mm.vmas();
    let mut size = 0u64;
    let maps = vmas
        .iter()
        .map(|v| {
            size += v.end - v.start;
            let (offset, name) = match &v.backing {
                Backing::File { file, offset } => (*offset, file.name().into_bytes()),
                Backing::Anon if v.grows_down => (0, b"[stack]".to_vec()),
                Backing::Anon if v.start >= heap_start && v.end <= heap_end.max(heap_start) => {
                    (0, b"[heap]".to_vec())
                }
                Backing::Anon if v.start == k.aux.sysinfo_ehdr && v.start != 0 => {
                    (0, b"[vdso]".to_vec())
                }
                Backing::Anon => (0, Vec::new()),
            };
            MapLine {
                start: v.start,
                end: v.end,
                read: v.prot.contains(Prot::READ),
                write: v.prot.contains(Prot::WRITE),
                exec: v.prot.contains(Prot::EXEC),
                shared: v.shared,
                offset,
                dev: (0, 0),
                inode: 0,
                name,
            }
        })
        .collect();
    let fd_paths = fds
        .fds()
        .into_iter()
        .filter_map(|n| Some((n, fds.get(n).ok()?.path())))
        .collect();
    let (comm, exe, args, env, tids, creds, pgid, sid, stopped) = {
        let st = tg.state();
        (
            st.comm.clone(),
            st.exe.clone(),
            st.args,
            st.env,
            st.threads.iter().map(|t| t.tid).collect::<Vec<_>>(),
            st.creds.clone(),
            st.pgid,
            st.sid,
            st.stopped,
        )
    };
    // The process's scheduling as /proc/PID shows it: its leader's (the caller's thread
    // when the leader is gone).
    let leader = tg
        .state()
        .threads
        .iter()
        .find(|t| t.tid == tg.tgid)
        .cloned();
    let sched = leader.as_deref().unwrap_or(h).sched().clone();
    let all_cpus = crate::kernel::sched::CpuSet::all();
    let (mut ignored, mut caught) = (0u64, 0u64);
    for (i, a) in crate::kernel::process::lock(&tg.actions).iter().enumerate() {
        match a.sa_handler {
            crate::kernel::signal::SIG_DFL => {}
            crate::kernel::signal::SIG_IGN => ignored |= 1 << i,
            _ => caught |= 1 << i,
        }
    }
    ProcessInfo {
        pid: tg.tgid,
        ppid: tg.ppid(),
        uid: creds.euid,
        gid: creds.egid,
        uids: [creds.ruid, creds.euid, creds.suid, creds.fsuid],
        gids: [creds.rgid, creds.egid, creds.sgid, creds.fsgid],
        caps: creds.caps,
        comm,
        cmdline: guest_range(mm, args),
        environ: guest_range(mm, env),
        exe,
        cwd: fs.cwd(),
        root: fs.root().to_vec(),
        maps,
        fds: fd_paths,
        vm_rss_kb: mm.resident_pages() as u64 * 4,
        vm_size_kb: size / 1024,
        threads: tids.len().max(1) as u32,
        start_ticks: 0,
        utime_ticks: 0,
        stime_ticks: 0,
        cutime_ticks: 0,
        cstime_ticks: 0,
        sig_blocked: h.mask(),
        seccomp_filters: h.seccomp_mode().map_or(0, |m| m.filters()),
        seccomp_mode: h.seccomp_mode().map_or(0, |m| m.number()),
        sig_ignored: ignored,
        sig_caught: caught,
        tids,
        pgid,
        sid,
        state: if stopped { b'T' } else { b'S' },
        nice: sched.nice,
        priority: sched.proc_priority(),
        rt_priority: sched.rt_priority,
        policy: sched.policy,
        cpus: if sched.affinity == all_cpus {
            Vec::new()
        } else {
            sched.affinity.list()
        },
        vm_lck_kb: mm.locked_bytes() / 1024,
        personality: sched.personality,
        group: Arc::downgrade(tg),
    }
}

/// What /proc shows about process `pid` (not the caller), if it exists: through its
/// leader's published view (another thread's once the leader is gone); a zombie, or a
/// process between its threads' views, shows its ids and name only.
pub(crate) fn other_process(k: &Kernel, pid: i32, cpu: bool) -> Option<ProcessInfo> {
    // A thread's id that is not a process's names its process, as Linux's unlisted
    // `/proc/<tid>` directories do (the view is the process's, as in `task/<tid>`).
    let tg: Arc<ThreadGroup> = {
        let pids = crate::kernel::process::lock(&k.pids);
        pids.group(pid)
            .or_else(|| pids.task(pid).map(|t| t.tg.clone()))?
    };
    let threads: Vec<Arc<TaskHandle>> = tg.state().threads.clone();
    let viewed = threads.iter().find_map(|h| {
        let v = crate::kernel::process::lock(&h.view);
        Some((
            h.clone(),
            v.mm.upgrade()?,
            v.fds.upgrade()?,
            v.fs.upgrade()?,
        ))
    });
    let mut info = match viewed {
        Some((h, mm, fds, fs)) => info_of(k, &h, &mm, &fds, &fs),
        None => {
            let st = tg.state();
            ProcessInfo {
                pid: tg.tgid,
                ppid: tg.ppid(),
                uid: st.creds.euid,
                gid: st.creds.egid,
                uids: [st.creds.ruid, st.creds.euid, st.creds.suid, st.creds.fsuid],
                gids: [st.creds.rgid, st.creds.egid, st.creds.sgid, st.creds.fsgid],
                caps: st.creds.caps,
                comm: st.comm.clone(),
                exe: st.exe.clone(),
                pgid: st.pgid,
                sid: st.sid,
                state: if st.zombie.is_some() { b'Z' } else { b'S' },
                priority: 20,
                group: Arc::downgrade(&tg),
                ..ProcessInfo::default()
            }
        }
    };
    if tg.state().zombie.is_some() {
        info.state = b'Z';
    }
    if cpu {
        let (u, total) = crate::kernel::timers::process_cpu(&tg);
        let u = u.as_micros() as u64;
        let s = (total.as_micros() as u64).saturating_sub(u);
        let (cu, cs) = tg.state().children_cpu;
        info.utime_ticks = u / 10_000;
        info.stime_ticks = s / 10_000;
        info.cutime_ticks = cu / 10_000;
        info.cstime_ticks = cs / 10_000;
    }
    Some(info)
}

/// [`process_info`] with the CPU times filled in (`/proc/PID/stat`): they cost host reads
/// (the stub threads' accounting), so only the files that show them ask. Reading them does
/// not start the banking of exited children's time (`ps` reads every process's).
pub(crate) fn process_info_cpu(t: &Task) -> ProcessInfo {
    let mut info = process_info(t);
    let (u, s) = super::time::process_cpu_us(t);
    let (cu, cs) = t.tg().state().children_cpu;
    info.utime_ticks = u / 10_000;
    info.stime_ticks = s / 10_000;
    info.cutime_ticks = cu / 10_000;
    info.cstime_ticks = cs / 10_000;
    info
}

/// The host's (total, free, available) memory in KiB, from its /proc/meminfo.
fn host_memory_kb() -> (u64, u64, u64) {
    let info = snare_platform::host_proc::read_to_string("meminfo").unwrap_or_default();
    let field = |key: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (
        field("MemTotal:"),
        field("MemFree:"),
        field("MemAvailable:"),
    )
}

/// Sandbox-wide facts for /proc.
pub(crate) fn system_info(t: &Task) -> SystemInfo {
    static BOOT: OnceLock<u64> = OnceLock::new();
    let up = t.k.boot.elapsed();
    let boot = *BOOT.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs().saturating_sub(up.as_secs()))
            .unwrap_or(0)
    });
    let (total, free, avail) = host_memory_kb();
    let (nprocs, pids_limit, pids_current) = {
        let pids = crate::kernel::process::lock(&t.k.pids);
        (
            pids.groups.len() as u32,
            pids.limit.map_or(0, |l| l as u64),
            pids.tasks.len() as u64,
        )
    };
    SystemInfo {
        // Up to its first NUL, as Linux prints the name.
        hostname: crate::kernel::process::lock(&t.k.uts)
            .hostname
            .split(|&b| b == 0)
            .next()
            .unwrap_or_default()
            .to_vec(),
        osrelease: b"6.1.0-snare".to_vec(),
        uptime_secs: up.as_secs_f64(),
        ncpus: std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1),
        mem_total_kb: total,
        mem_free_kb: free,
        mem_available_kb: avail,
        boot_time_secs: boot,
        nprocs,
        seccomp: if t.k.seccomp.get().is_some() { 2 } else { 0 },
        mem_limit: match snare_platform::Platform::memory_file(&t.k.platform).limit() {
            u64::MAX => 0,
            l => l,
        },
        mem_used: snare_platform::Platform::memory_file(&t.k.platform).used(),
        pids_limit,
        pids_current,
        mounts: t.fs.mounts.lines(),
        ipc: Some(t.k.ipc.clone()),
    }
}

/// The VFS's view of a calling task.
impl crate::vfs::filesystem::Caller for Task {
    fn umask(&self) -> u32 {
        self.fs.umask()
    }

    fn process(&self, cpu: bool) -> ProcessInfo {
        if cpu {
            process_info_cpu(self)
        } else {
            process_info(self)
        }
    }

    fn system(&self) -> SystemInfo {
        system_info(self)
    }

    fn pids(&self) -> Vec<i32> {
        crate::kernel::process::lock(&self.k.pids)
            .groups
            .keys()
            .copied()
            .collect()
    }

    fn other_process(&self, pid: i32, cpu: bool) -> Option<ProcessInfo> {
        other_process(&self.k, pid, cpu)
    }

    fn net_file(&self, f: crate::vfs::procfs::NetFile) -> Vec<u8> {
        crate::net::proc_net::contents(f)
    }

    fn cred(&self) -> crate::vfs::perm::Cred {
        let tg = self.tg().state();
        crate::vfs::perm::Cred {
            uid: tg.creds.fsuid,
            gid: tg.creds.fsgid,
            groups: tg.creds.groups.clone(),
            caps: tg.creds.caps.effective,
        }
    }

    fn job_control(&self) -> Option<std::sync::Arc<dyn crate::vfs::pty::JobControl>> {
        Some(std::sync::Arc::new(crate::kernel::signal::TtySignals::new(
            &self.k,
        )))
    }

    fn terminal(&self) -> Option<std::sync::Arc<dyn crate::vfs::FileDescription>> {
        (0..3)
            .filter_map(|n| self.fds.get(n).ok())
            .find(|f| f.is_terminal())
    }
}
