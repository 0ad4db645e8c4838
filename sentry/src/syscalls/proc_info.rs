//! The snapshots `/proc` is generated from: [`process_info`] reads everything /proc shows about
//! the calling task (the only place that reads `Task` fields for /proc), [`system_info`] the
//! sandbox-wide facts.

use std::sync::OnceLock;

use snare_platform::Prot;

use crate::kernel::Task;
use crate::mm::{Backing, GuestMemory};
use crate::vfs::procfs::{MapLine, ProcessInfo, SystemInfo};

/// Longest argv or envp block read for /proc (Linux reads any length; a page-sized cap keeps
/// a hostile guest from making the Sentry allocate much).
const MAX_ARGS: u64 = 1 << 20;

/// The guest bytes in `[start, end)`, or nothing if they can't be read.
fn guest_range(task: &Task, (start, end): (u64, u64)) -> Vec<u8> {
    let len = end.saturating_sub(start).min(MAX_ARGS) as usize;
    let mut buf = vec![0u8; len];
    match task.mm.read(start, &mut buf) {
        Ok(()) => buf,
        Err(_) => Vec::new(),
    }
}

/// What /proc shows about `t`.
pub(crate) fn process_info(t: &Task) -> ProcessInfo {
    let (heap_start, heap_end) = t.mm.brk_range();
    let vmas = t.mm.vmas();
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
                Backing::Anon if v.start == t.k.aux.sysinfo_ehdr && v.start != 0 => {
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
    let fds = t
        .fds
        .fds()
        .into_iter()
        .filter_map(|n| Some((n, t.fds.get(n).ok()?.path().into_bytes())))
        .collect();
    let (comm, exe, args, env, nthreads, creds) = {
        let st = t.tg().state();
        (
            st.comm.clone(),
            st.exe.clone(),
            st.args,
            st.env,
            st.threads.len().max(1) as u32,
            st.creds.clone(),
        )
    };
    let (mut ignored, mut caught) = (0u64, 0u64);
    for (i, a) in crate::kernel::process::lock(&t.tg().actions)
        .iter()
        .enumerate()
    {
        match a.sa_handler {
            crate::kernel::signal::SIG_DFL => {}
            crate::kernel::signal::SIG_IGN => ignored |= 1 << i,
            _ => caught |= 1 << i,
        }
    }
    ProcessInfo {
        pid: t.tgid(),
        ppid: t.tg().ppid(),
        uid: creds.euid,
        gid: creds.egid,
        comm,
        cmdline: guest_range(t, args),
        environ: guest_range(t, env),
        exe,
        cwd: t.fs.cwd(),
        root: t.fs.root().to_vec(),
        maps,
        fds,
        vm_rss_kb: t.mm.resident_pages() as u64 * 4,
        vm_size_kb: size / 1024,
        threads: nthreads,
        start_ticks: 0,
        utime_ticks: 0,
        stime_ticks: 0,
        cutime_ticks: 0,
        cstime_ticks: 0,
        sig_blocked: t.sigmask(),
        sig_ignored: ignored,
        sig_caught: caught,
    }
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
    SystemInfo {
        hostname: t.k.hostname.clone().into_bytes(),
        osrelease: b"6.1.0-snare".to_vec(),
        uptime_secs: up.as_secs_f64(),
        ncpus: std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1),
        mem_total_kb: total,
        mem_free_kb: free,
        mem_available_kb: avail,
        boot_time_secs: boot,
        nprocs: crate::kernel::process::lock(&t.k.pids).groups.len() as u32,
        mounts: t.fs.mounts.lines(),
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

    fn net_file(&self, f: crate::vfs::procfs::NetFile) -> Vec<u8> {
        crate::net::proc_net::contents(f)
    }

    fn cred(&self) -> crate::vfs::perm::Cred {
        let tg = self.tg().state();
        crate::vfs::perm::Cred {
            uid: tg.creds.euid,
            gid: tg.creds.egid,
            groups: tg.creds.groups.clone(),
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
