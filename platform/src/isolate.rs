//! The sandbox's own namespaces and identity (issue 14).
//!
//! `snare do` starts as the *launcher*. [`split`] clones the Sentry into new user, mount,
//! pid, ipc and uts namespaces (the network one follows: [`Isolated::begin_network`]), maps
//! its ids, and returns a [`Side`]: the launcher only waits for the Sentry's exit status
//! ([`report_exit`]) and passes on the signals sent to it ([`Launcher::wait`]); the
//! Sentry ([`Isolated`]) is pid 1 of its pid namespace, so its stubs (its children) die with
//! it. In order, the Sentry then
//! 1. [`Isolated::hold_proc`]: makes its mounts private and holds a procfs of its own pid
//!    namespace, never attached anywhere ([`crate::host_proc`]);
//! 2. opens the guest's root and volumes (the caller: `open_tree` copies, see
//!    [`crate::mount_tree`]), which keep showing the host's files after the pivot;
//! 3. [`Isolated::pivot`]: `pivot_root` into an empty read-only tmpfs, the old root
//!    detached: no host path is reachable by name any more;
//! 4. [`Isolated::drop_identity`]: run as host uid/gid 65534 (root) or stay the invoking user
//!    (rootless), with only [`KEPT_CAPS`] in its own user namespace and an empty bounding set.
//!
//! The user namespace maps every id to itself when the launcher is root (the Sentry reads
//! and writes host files as before, through the capabilities it keeps, which act only on
//! files whose ids are mapped), and only the invoking user to 0 when it isn't (rootless:
//! files of other users are out of reach, as for `runsc --rootless`).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use snare_abi::caps::{
    CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID,
    LINUX_CAPABILITY_VERSION_3,
};
use snare_abi::mount::{
    FSCONFIG_CMD_CREATE, FSMOUNT_CLOEXEC, FSOPEN_CLOEXEC, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC,
    MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY, MOVE_MOUNT_F_EMPTY_PATH,
};

use crate::sys::errno;

/// The host uid and gid the Sentry runs as when snare is started by root: `nobody`.
pub const SANDBOX_ID: u32 = 65534;

/// The capabilities the Sentry keeps, in its own user namespace only: reading and
/// changing the guest's files whatever their owner (the guest's own permission checks are
/// the Sentry's, against the guest's credentials).
pub const KEPT_CAPS: u64 = 1 << CAP_CHOWN
    | 1 << CAP_DAC_OVERRIDE
    | 1 << CAP_DAC_READ_SEARCH
    | 1 << CAP_FOWNER
    | 1 << CAP_FSETID;

/// The namespaces the Sentry is cloned into. Its network namespace comes after, made on a
/// thread of its own while the rest of set-up goes on ([`Isolated::begin_network`]): a new
/// network namespace costs the kernel most of a millisecond.
const NAMESPACES: libc::c_int = libc::CLONE_NEWUSER
    | libc::CLONE_NEWNS
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS;

/// The Sentry's end of the pipe its exit status goes to the launcher by ([`report_exit`]).
static REPORT: std::sync::OnceLock<OwnedFd> = std::sync::OnceLock::new();

/// Which process [`split`] returned in.
#[derive(Debug)]
pub enum Side {
    Launcher(Launcher),
    Sentry(Isolated),
}

/// Moves the calling process, still single-threaded and in the host's namespaces, into the
/// network namespace at `path` (`/run/netns/NAME`, `/proc/PID/ns/net`): the Sentry cloned
/// after inherits it. Needs the privilege over it (root, for the host's namespaces).
pub fn join_network(path: &std::path::Path) -> Result<(), String> {
    let shown = path.display();
    let c = std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()))
        .map_err(|_| format!("--network {shown}: not a path"))?;
    // SAFETY: open reads the NUL-terminated path; the fd, if any, is owned below.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(format!("--network {shown}: {}", errno()));
    }
    // SAFETY: a fresh fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: setns takes a live fd and an integer.
    if unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        let e = errno();
        let why = match e {
            snare_abi::Errno::EINVAL => "not a network namespace".to_string(),
            e => e.to_string(),
        };
        return Err(format!("--network {shown}: {why}"));
    }
    Ok(())
}

/// The launcher's hold on the Sentry.
pub struct Launcher {
    pid: libc::pid_t,
    old_mask: libc::sigset_t,
    /// Where the Sentry's [`report_exit`] arrives.
    status: OwnedFd,
}

/// The Sentry, in its new namespaces, before its set-up.
#[derive(Debug)]
pub struct Isolated {
    /// Started by root: the user namespace maps every id, and the Sentry becomes
    /// [`SANDBOX_ID`].
    privileged: bool,
}

fn fail(what: &str) -> String {
    format!("{what}: {}", errno())
}

fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

/// Clones the Sentry into its namespaces (see the module docs). `forwarded` are the signals
/// the launcher passes on; they and `SIGCHLD` are blocked in the launcher from here on.
/// Must be called while the process has one thread.
pub fn split(forwarded: &[libc::c_int]) -> Result<Side, String> {
    if thread_count() != 1 {
        return Err("the launcher must be single-threaded to make namespaces".into());
    }
    // SAFETY: getuid/getgid take no arguments and cannot fail.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let (go_r, go_w) = pipe()?;
    let (status_r, status_w) = pipe()?;
    // Blocked before the clone, so that the Sentry's end can't be missed; the child restores
    // the old mask.
    // SAFETY: sigset_t is plain data; sigemptyset/sigaddset/sigprocmask write only the live
    // sets passed.
    let (mut set, mut old_mask): (libc::sigset_t, libc::sigset_t) =
        unsafe { (std::mem::zeroed(), std::mem::zeroed()) };
    // SAFETY: as above.
    unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        for &s in forwarded {
            libc::sigaddset(&mut set, s);
        }
        libc::sigprocmask(libc::SIG_BLOCK, &set, &mut old_mask);
    }
    // SAFETY: a fork-like clone (no new stack, no shared memory) of a single-threaded
    // process: the child runs on a copy of everything. glibc's own record of the thread id
    // keeps the parent's (glibc's `fork` isn't used: it can't make a pid namespace the child
    // is in); nothing the Sentry runs signals itself through it (`pthread_kill`, `raise`:
    // `abort` still ends the process, by its fallbacks).
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (NAMESPACES | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid < 0 {
        let e = errno();
        // SAFETY: restores the mask saved above.
        unsafe { libc::sigprocmask(libc::SIG_SETMASK, &old_mask, std::ptr::null_mut()) };
        return Err(match e {
            snare_abi::Errno::EPERM | snare_abi::Errno::ENOSPC => format!(
                "cannot make the sandbox's namespaces ({e}): user namespaces may be disabled \
                 on this host (user.max_user_namespaces); --no-confine runs without them"
            ),
            e => format!("cannot make the sandbox's namespaces: {e}"),
        });
    }
    if pid == 0 {
        drop(go_w);
        drop(status_r);
        let _ = REPORT.set(status_w);
        // SAFETY: restores the mask saved before the clone; prctl takes integers only.
        unsafe {
            libc::sigprocmask(libc::SIG_SETMASK, &old_mask, std::ptr::null_mut());
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        }
        // The launcher writes our id maps, then one byte; end of file means it failed (or
        // died before the death signal was set up).
        let mut b = [0u8; 1];
        // SAFETY: read writes at most one byte into the live buffer.
        let n = unsafe { libc::read(go_r.as_raw_fd(), b.as_mut_ptr().cast(), 1) };
        if n != 1 {
            std::process::exit(125);
        }
        return Ok(Side::Sentry(Isolated {
            privileged: uid == 0,
        }));
    }
    drop(go_r);
    drop(status_w);
    let pid = pid as libc::pid_t;
    let launcher = Launcher {
        pid,
        old_mask,
        status: status_r,
    };
    if let Err(e) = write_maps(pid, uid, gid) {
        // SAFETY: kill takes integers; the child is ours and unreaped.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        let _ = launcher.wait();
        return Err(format!("cannot map the sandbox's user ids: {e}"));
    }
    // SAFETY: write reads one byte from the live buffer.
    if unsafe { libc::write(go_w.as_raw_fd(), [1u8].as_ptr().cast(), 1) } != 1 {
        return Err(fail("starting the Sentry"));
    }
    drop_launcher_privileges(uid == 0)?;
    Ok(Side::Launcher(launcher))
}

/// The launcher needs nothing of root once the id maps are written: it only waits for the
/// Sentry, reads its report and passes signals on. Started by root, it becomes `nobody`
/// too (no capability left; signalling the Sentry is then a same-uid `kill`), and either
/// way it can gain no privilege (`PR_SET_NO_NEW_PRIVS`).
fn drop_launcher_privileges(root: bool) -> Result<(), String> {
    // SAFETY: setgroups with a null, empty list; setresgid, setresuid and prctl take
    // integers.
    unsafe {
        if root
            && (libc::setgroups(0, std::ptr::null()) != 0
                || libc::setresgid(SANDBOX_ID, SANDBOX_ID, SANDBOX_ID) != 0
                || libc::setresuid(SANDBOX_ID, SANDBOX_ID, SANDBOX_ID) != 0)
        {
            return Err(fail("dropping the launcher's privileges"));
        }
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(fail("PR_SET_NO_NEW_PRIVS"));
        }
    }
    Ok(())
}

fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds into the live array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(fail("pipe"));
    }
    // SAFETY: fresh fds from pipe2, each owned once.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Tells the launcher the sandbox's exit status, the Sentry's last act: the launcher exits
/// with it at once, not after the Sentry's own end (which tears down its namespaces and
/// kills what is left of its stubs: a millisecond or more nobody needs to wait for; the
/// Sentry's fds, stdio included, are closed before that). Nothing without namespaces.
pub fn report_exit(code: i32) {
    if let Some(fd) = REPORT.get() {
        let bytes = code.to_ne_bytes();
        // SAFETY: write reads the live four-byte buffer.
        unsafe { libc::write(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
    }
}

/// The child's `uid_map`/`gid_map`: every id to itself when root; else the invoking user's
/// ids to 0 (with `setgroups` denied, as the kernel requires of an unprivileged writer).
fn write_maps(pid: libc::pid_t, uid: u32, gid: u32) -> std::io::Result<()> {
    let dir = format!("/proc/{pid}");
    if uid == 0 {
        std::fs::write(format!("{dir}/uid_map"), "0 0 4294967295\n")?;
        std::fs::write(format!("{dir}/gid_map"), "0 0 4294967295\n")?;
    } else {
        std::fs::write(format!("{dir}/setgroups"), "deny\n")?;
        std::fs::write(format!("{dir}/uid_map"), format!("0 {uid} 1\n"))?;
        std::fs::write(format!("{dir}/gid_map"), format!("0 {gid} 1\n"))?;
    }
    Ok(())
}

impl std::fmt::Debug for Launcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Launcher").field("pid", &self.pid).finish()
    }
}

impl Launcher {
    /// The Sentry's host pid.
    pub fn pid(&self) -> libc::pid_t {
        self.pid
    }

    /// Waits for the Sentry's end: `Ok(exit status)` as the Sentry reported it
    /// ([`report_exit`]) or, without a report, `Err(signal)` that killed it. Signals sent
    /// to the launcher by a process (`kill`) are passed on; the terminal's (Ctrl-C, a
    /// resize) reach the Sentry directly, which is in the launcher's process group.
    pub fn wait(&self) -> Result<i32, i32> {
        // SAFETY: sigset_t is plain data that sigprocmask fills in.
        let mut blocked: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: reads the current mask (the one `split` set) into the live set; signalfd
        // reads it and returns a new fd or -1.
        let sfd = unsafe {
            libc::sigprocmask(libc::SIG_BLOCK, std::ptr::null(), &mut blocked);
            libc::signalfd(-1, &blocked, libc::SFD_CLOEXEC)
        };
        if sfd < 0 {
            return Ok(125);
        }
        // SAFETY: a fresh fd that nothing else owns.
        let sfd = unsafe { OwnedFd::from_raw_fd(sfd) };
        let mut report_open = true;
        loop {
            if let Some(end) = self.reaped() {
                return end;
            }
            let mut fds = [
                libc::pollfd {
                    fd: sfd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: if report_open {
                        self.status.as_raw_fd()
                    } else {
                        -1
                    },
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            // SAFETY: poll reads and writes the live array of two pollfds.
            if unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) } < 0 {
                continue;
            }
            if fds[1].revents != 0 {
                let mut code = [0u8; 4];
                // SAFETY: read writes at most four bytes into the live buffer.
                let n = unsafe { libc::read(self.status.as_raw_fd(), code.as_mut_ptr().cast(), 4) };
                if n == 4 {
                    return Ok(i32::from_ne_bytes(code));
                }
                // Closed without a report: the Sentry died; its status says how.
                report_open = false;
            }
            if fds[0].revents != 0 {
                // SAFETY: signalfd_siginfo is plain data; read writes at most its size.
                let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
                let size = std::mem::size_of::<libc::signalfd_siginfo>();
                // SAFETY: as above.
                let n = unsafe {
                    libc::read(
                        sfd.as_raw_fd(),
                        (&mut info as *mut libc::signalfd_siginfo).cast(),
                        size,
                    )
                };
                let sig = info.ssi_signo as i32;
                // From a process (si_code <= 0: kill, sigqueue, tgkill), not the terminal.
                if n == size as isize && sig != libc::SIGCHLD && info.ssi_code <= 0 {
                    // SAFETY: kill takes integers; the Sentry is our unreaped child.
                    unsafe { libc::kill(self.pid, sig) };
                }
            }
        }
    }

    /// The Sentry's end if it has ended (reaped now), as [`Launcher::wait`] returns it.
    fn reaped(&self) -> Option<Result<i32, i32>> {
        let mut status = 0;
        // SAFETY: waitpid writes the live int.
        let r = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
        if r == self.pid {
            if libc::WIFSIGNALED(status) {
                return Some(Err(libc::WTERMSIG(status)));
            }
            return Some(Ok(libc::WEXITSTATUS(status)));
        }
        (r < 0 && errno() != snare_abi::Errno::EINTR).then_some(Ok(125))
    }
}

impl Drop for Launcher {
    fn drop(&mut self) {
        // SAFETY: restores the mask `split` saved.
        unsafe { libc::sigprocmask(libc::SIG_SETMASK, &self.old_mask, std::ptr::null_mut()) };
    }
}

/// Brings the calling thread's network namespace's `lo` up (`SIOCSIFFLAGS` through a
/// throwaway datagram socket), as `ip link set lo up` does.
fn loopback_up() -> Result<(), String> {
    // SAFETY: socket takes integers.
    let s = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if s < 0 {
        return Err(fail("a socket to set up the loopback"));
    }
    // SAFETY: a fresh fd that nothing else owns.
    let s = unsafe { OwnedFd::from_raw_fd(s) };
    // SAFETY: ifreq is plain data (a name and a union); all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, &c) in req.ifr_name.iter_mut().zip(b"lo") {
        *d = c as libc::c_char;
    }
    // SAFETY: the ioctls read and write the live ifreq, whose name is NUL-terminated.
    unsafe {
        if libc::ioctl(s.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) != 0 {
            return Err(fail("reading the loopback's flags"));
        }
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        if libc::ioctl(s.as_raw_fd(), libc::SIOCSIFFLAGS, &req) != 0 {
            return Err(fail("bringing the loopback up"));
        }
    }
    Ok(())
}

/// The host's old root being detached ([`Isolated::pivot`]).
#[derive(Debug)]
pub struct Detaching(std::thread::JoinHandle<Result<(), String>>);

impl Detaching {
    /// Waits for the old root to be gone and makes `/` the current directory. Before
    /// [`Isolated::drop_identity`] (the detach needs `CAP_SYS_ADMIN`).
    pub fn finish(self) -> Result<(), String> {
        self.0
            .join()
            .map_err(|_| "detaching the host's root: the thread failed".to_string())??;
        // SAFETY: chdir reads the NUL-terminated literal.
        if unsafe { libc::chdir(c"/".as_ptr()) } != 0 {
            return Err(fail("chdir(/)"));
        }
        Ok(())
    }
}

/// The network namespace being made ([`Isolated::begin_network`]).
#[derive(Debug)]
pub struct Network(std::thread::JoinHandle<Result<OwnedFd, String>>);

impl Network {
    /// Moves the Sentry's main thread (and so every thread and process it makes after) into
    /// the new network namespace. Before [`Isolated::drop_identity`] (it needs
    /// `CAP_SYS_ADMIN`) and before the platform starts (the stubs are made after).
    pub fn join(self) -> Result<(), String> {
        let fd = self.0.join().map_err(|_| {
            "making the sandbox's network namespace: the thread failed".to_string()
        })??;
        // SAFETY: setns takes a live fd and an integer.
        if unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(fail("entering the sandbox's network namespace"));
        }
        Ok(())
    }
}

impl Isolated {
    /// Whether snare was started by root (else rootless).
    pub fn privileged(&self) -> bool {
        self.privileged
    }

    /// Starts making the sandbox's network namespace, a new one with only its loopback
    /// interface, up (servers and clients inside reach each other on 127.0.0.1 and ::1,
    /// nothing else; every port may be bound): a thread of ours unshares it, and [`Network::join`] moves the
    /// Sentry into it. Meanwhile set-up goes on (the kernel's work for a new network
    /// namespace is most of a millisecond). Needs the held `/proc` ([`Isolated::hold_proc`]).
    pub fn begin_network(&self) -> Network {
        Network(std::thread::spawn(|| {
            // SAFETY: unshare takes an integer; it changes only this thread's namespace.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                return Err(fail("making the sandbox's network namespace"));
            }
            loopback_up()?;
            // The guest is root inside: let it bind ports below 1024 in its own namespace,
            // as Docker does for a container's (`net.ipv4.ip_unprivileged_port_start`; the
            // Sentry keeps no CAP_NET_BIND_SERVICE). Not fatal: ports 1024 and up still work.
            if let Err(e) = crate::host_proc::write("sys/net/ipv4/ip_unprivileged_port_start", b"0")
            {
                tracing::warn!(?e, "ports below 1024 stay privileged in the sandbox");
            }
            crate::host_proc::open("thread-self/ns/net")
                .map(OwnedFd::from)
                .map_err(|e| format!("holding the sandbox's network namespace: {e}"))
        }))
    }

    /// Makes every mount private (nothing the Sentry mounts reaches the host's namespace,
    /// nothing the host mounts later reaches ours) and holds a procfs of the sandbox's pid
    /// namespace as [`crate::host_proc`]'s `/proc`.
    pub fn hold_proc(&self) -> Result<(), String> {
        // SAFETY: mount reads the NUL-terminated literals; the others are null.
        let r = unsafe {
            libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            )
        };
        if r != 0 {
            return Err(fail("making the sandbox's mounts private"));
        }
        let proc = crate::host_proc::mount_own()
            .map_err(|e| format!("mounting the sandbox's /proc: {e}"))?;
        if !crate::host_proc::hold(proc) {
            return Err("the Sentry's /proc was already in use".into());
        }
        Ok(())
    }

    /// `pivot_root` into a new empty read-only tmpfs. The old root, stacked on it by the
    /// pivot, is detached on a thread of its own (the kernel waits for an RCU grace period
    /// there): [`Detaching::finish`] waits for it and makes the current directory `/` (that
    /// tmpfs); until then `/` still shows the host's root. Fds opened before keep what they
    /// showed.
    pub fn pivot(&self) -> Result<Detaching, String> {
        // SAFETY: fsopen reads the NUL-terminated literal.
        let fs = unsafe { libc::syscall(libc::SYS_fsopen, c"tmpfs".as_ptr(), FSOPEN_CLOEXEC) };
        if fs < 0 {
            return Err(fail("fsopen(tmpfs)"));
        }
        // SAFETY: a fresh fd that nothing else owns.
        let fs = unsafe { OwnedFd::from_raw_fd(fs as i32) };
        // SAFETY: FSCONFIG_CMD_CREATE takes no pointers.
        let r = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fs.as_raw_fd(),
                FSCONFIG_CMD_CREATE,
                0usize,
                0usize,
                0,
            )
        };
        if r < 0 {
            return Err(fail("creating the empty root"));
        }
        let attrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
        // SAFETY: fsmount takes integers only.
        let m = unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), FSMOUNT_CLOEXEC, attrs) };
        if m < 0 {
            return Err(fail("fsmount(tmpfs)"));
        }
        // SAFETY: a fresh fd that nothing else owns.
        let root = unsafe { OwnedFd::from_raw_fd(m as i32) };
        // Attached on top of the old root (pivot_root wants an attached mount point), then
        // made the root with the old one stacked on it and detached.
        // SAFETY: move_mount reads the NUL-terminated literals.
        let r = unsafe {
            libc::syscall(
                libc::SYS_move_mount,
                root.as_raw_fd(),
                c"".as_ptr(),
                libc::AT_FDCWD,
                c"/".as_ptr(),
                MOVE_MOUNT_F_EMPTY_PATH,
            )
        };
        if r < 0 {
            return Err(fail("attaching the empty root"));
        }
        // SAFETY: fchdir, pivot_root, umount2 and chdir take a live fd or NUL-terminated
        // literals.
        unsafe {
            if libc::fchdir(root.as_raw_fd()) != 0 {
                return Err(fail("entering the empty root"));
            }
            if libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) != 0 {
                return Err(fail("pivot_root"));
            }
        }
        Ok(Detaching(std::thread::spawn(|| {
            // SAFETY: umount2 reads the NUL-terminated literal. "." is the shared current
            // directory: the new root, with the old one stacked on it.
            if unsafe { libc::umount2(c".".as_ptr(), libc::MNT_DETACH) } != 0 {
                return Err(fail("detaching the host's root"));
            }
            Ok(())
        })))
    }

    /// Becomes [`SANDBOX_ID`] (when started by root), keeping only [`KEPT_CAPS`] (effective
    /// and permitted, in the Sentry's user namespace), with empty bounding, inheritable and
    /// ambient sets.
    pub fn drop_identity(&self) -> Result<(), String> {
        // SAFETY: prctl, setgroups, setresgid and setresuid take integers or a null list.
        unsafe {
            if libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0 {
                return Err(fail("PR_SET_KEEPCAPS"));
            }
            if self.privileged {
                if libc::setgroups(0, std::ptr::null()) != 0 {
                    return Err(fail("setgroups"));
                }
                if libc::setresgid(SANDBOX_ID, SANDBOX_ID, SANDBOX_ID) != 0 {
                    return Err(fail("setresgid"));
                }
            }
            // Every capability up to the first the kernel doesn't know (EINVAL).
            for cap in 0..64 {
                if libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 {
                    if errno() == snare_abi::Errno::EINVAL {
                        break;
                    }
                    return Err(fail("PR_CAPBSET_DROP"));
                }
            }
            if libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL,
                0,
                0,
                0,
            ) != 0
            {
                return Err(fail("clearing ambient capabilities"));
            }
            if self.privileged && libc::setresuid(SANDBOX_ID, SANDBOX_ID, SANDBOX_ID) != 0 {
                return Err(fail("setresuid"));
            }
        }
        let header = [LINUX_CAPABILITY_VERSION_3, 0u32];
        let low = KEPT_CAPS as u32;
        // Per 32-bit word: effective, permitted, inheritable.
        let data = [low, low, 0u32, 0, 0, 0];
        // SAFETY: capset reads the live header and data arrays (version 3: two words).
        let r = unsafe { libc::syscall(libc::SYS_capset, header.as_ptr(), data.as_ptr()) };
        if r != 0 {
            return Err(fail("capset"));
        }
        // SAFETY: prctl takes integers.
        unsafe {
            libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0);
            // A change of ids clears the parent-death signal: set it again, then make sure
            // the launcher didn't die before (its end of the status pipe would be closed).
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        }
        if let Some(fd) = REPORT.get() {
            let mut p = libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLOUT,
                revents: 0,
            };
            // SAFETY: poll reads and writes the one live pollfd.
            let n = unsafe { libc::poll(&mut p, 1, 0) };
            if n > 0 && p.revents & libc::POLLERR != 0 {
                return Err("the launcher is gone".into());
            }
        }
        Ok(())
    }
}

/// Which process [`fork`] returned in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forked {
    /// The caller, with the child's pid.
    Parent(libc::pid_t),
    /// The new process, a copy of the caller.
    Child,
}

/// Forks the calling process, which must have one thread (the OCI runtime's `create` makes
/// the container's init this way: a process that outlives `create` and, once `create` has
/// exited, is reparented to the runtime's caller, containerd's subreaper shim).
pub fn fork() -> Result<Forked, String> {
    if thread_count() != 1 {
        return Err("fork: the process must be single-threaded".into());
    }
    // SAFETY: the process has one thread (checked above), so the child's copy of it holds
    // no lock another thread was holding; both sides go on with their own copy of memory.
    match unsafe { libc::fork() } {
        -1 => Err(fail("fork")),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid)),
    }
}

/// Takes fds 3 .. 3 + `n` the process was started with (`--preserve-fds`), close-on-exec,
/// each with the host's name for it (`/proc/self/fd`'s link). Call it before any fd above 2
/// is owned by an object, then [`close_inherited_fds`] with `n`. An fd not open is an error.
pub fn take_inherited_fds(n: u32) -> Result<Vec<(OwnedFd, String)>, String> {
    let mut taken = Vec::new();
    for fd in 3..3u32.saturating_add(n.min(1 << 16)) {
        let fd = fd as i32;
        // SAFETY: F_GETFD on an integer fd: no memory is passed.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            return Err(format!("--preserve-fds: fd {fd} is not open"));
        }
        // SAFETY: fd is open (checked above) and owned by nothing in this process (the
        // caller's promise): the OwnedFd becomes its only owner.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: F_SETFD with an integer flag.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        let name = std::fs::read_link(format!("/proc/self/fd/{fd}"))
            .map_or_else(|_| format!("fd:{fd}"), |p| p.display().to_string());
        taken.push((owned, name));
    }
    Ok(taken)
}

/// Closes every fd above 2 + `keep` the process was started with. For the OCI runtime's
/// `create`, `run` and `exec`, before they open anything: the container's init would
/// otherwise hold what its caller leaked to it (containerd's shim passes its own ttrpc
/// listening socket as fd 3) for the container's whole life; `keep` are those
/// `--preserve-fds` asks to pass on. Call it before any fd above 2 is owned by an object.
pub fn close_inherited_fds(keep: u32) {
    let first = 3u32.saturating_add(keep);
    // SAFETY: close_range takes integers; no fd above 2 + keep is owned by anything yet (the
    // caller's promise), so nothing is closed under an owner's feet.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, 0u32) };
    if r == 0 {
        return;
    }
    // Kernels before 5.9: close them one by one, as /proc lists them (the listing's own fd
    // is among them; closing it early only ends the listing).
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    for fd in fds.into_iter().filter(|&fd| fd >= first as i32) {
        // SAFETY: as above; EBADF for the listing's own, already closed fd is harmless.
        unsafe { libc::close(fd) };
    }
}
