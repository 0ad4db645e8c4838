//! Making and ending processes and threads: clone, clone3, fork, vfork, execve, execveat,
//! wait4, waitid, prctl.

use std::sync::Arc;

use snare_abi::signal::SigInfo;
use snare_abi::Errno;
use snare_syscalls_table::nr;

use super::arg::{fd, i32_, u32_};
use super::Handler;
use crate::kernel::caps::SetIds;
use crate::kernel::process::{lock, JobEvent, TaskHandle, ThreadGroup};
use crate::kernel::signal::{wait_status, CLD_CONTINUED, CLD_EXITED, CLD_KILLED, CLD_STOPPED};
use crate::kernel::{wait, ExitStatus, FsContext, Task};
use crate::mm::GuestMemory;

pub(super) const HANDLERS: &[(u32, Handler)] = &[
    (nr::CLONE, sys_clone),
    (nr::CLONE3, sys_clone3),
    (nr::FORK, sys_fork),
    (nr::VFORK, sys_vfork),
    (nr::EXECVE, sys_execve),
    (nr::EXECVEAT, sys_execveat),
    (nr::WAIT4, sys_wait4),
    (nr::WAITID, sys_waitid),
    (nr::PRCTL, sys_prctl),
];

const CSIGNAL: u64 = 0xff;
const CLONE_VM: u64 = 0x100;
const CLONE_FS: u64 = 0x200;
const CLONE_FILES: u64 = 0x400;
const CLONE_SIGHAND: u64 = 0x800;
const CLONE_PIDFD: u64 = 0x1000;
const CLONE_PTRACE: u64 = 0x2000;
const CLONE_VFORK: u64 = 0x4000;
const CLONE_PARENT: u64 = 0x8000;
const CLONE_THREAD: u64 = 0x10000;
const CLONE_SYSVSEM: u64 = 0x40000;
const CLONE_SETTLS: u64 = 0x80000;
const CLONE_PARENT_SETTID: u64 = 0x100000;
const CLONE_CHILD_CLEARTID: u64 = 0x200000;
const CLONE_DETACHED: u64 = 0x400000;
const CLONE_UNTRACED: u64 = 0x800000;
const CLONE_CHILD_SETTID: u64 = 0x0100_0000;
const CLONE_IO: u64 = 0x8000_0000;
/// A new mount namespace for the child (a copy of the parent's).
const CLONE_NEWNS: u64 = 0x20000;
/// The other namespace flags (UTS, IPC, user, pid, net, cgroup, time): refused.
const CLONE_NEW_ANY: u64 = 0x7e00_0000 | 0x0000_0080;

/// What a clone asks for, decoded from clone or clone3.
struct CloneArgs {
    flags: u64,
    exit_signal: i32,
    stack: u64,
    parent_tid: u64,
    child_tid: u64,
    tls: u64,
    /// Where CLONE_PIDFD stores the new pidfd.
    pidfd: u64,
}

/// Creates a thread or process; returns the child's tid to the parent.
fn do_clone(task: &mut Task, c: CloneArgs) -> Result<u64, Errno> {
    let f = c.flags;
    if f & CLONE_NEW_ANY != 0 {
        return Err(Errno::EPERM);
    }
    if f & CLONE_NEWNS != 0 {
        // A namespace of its own can't share the parent's fs context (Linux: EINVAL), and
        // needs CAP_SYS_ADMIN.
        if f & CLONE_FS != 0 {
            return Err(Errno::EINVAL);
        }
        if !task.capable(snare_abi::caps::Cap::SysAdmin) {
            return Err(Errno::EPERM);
        }
    }
    if f & CLONE_PIDFD != 0 && f & CLONE_THREAD != 0 {
        return Err(Errno::EINVAL);
    }
    if (f & CLONE_THREAD != 0 && f & CLONE_SIGHAND == 0)
        || (f & CLONE_SIGHAND != 0 && f & CLONE_VM == 0)
    {
        return Err(Errno::EINVAL);
    }
    let _ = (CLONE_PTRACE, CLONE_DETACHED, CLONE_UNTRACED, CLONE_IO);
    if !(0..=64).contains(&c.exit_signal) {
        return Err(Errno::EINVAL);
    }
    let k = task.k.clone();
    let thread = f & CLONE_THREAD != 0;
    // A SCHED_DEADLINE task can't fork unless its children reset (Linux's `sched_fork`).
    let sched = task.handle.sched().clone();
    if sched.policy == snare_abi::sched::SCHED_DEADLINE && !sched.reset_on_fork {
        return Err(Errno::EAGAIN);
    }

    // Memory: shared, or a copy-on-write copy in a fresh stub process.
    let t0 = std::time::Instant::now();
    let mut t_space = t0;
    let mm = if f & CLONE_VM != 0 {
        task.mm.clone()
    } else {
        // An emptied stub of an ended process if there is one: no stub process to clone,
        // and its parked thread is taken as is.
        let space = match k.platform.pooled_address_space() {
            Some(s) => s,
            None => k.new_address_space().map_err(|e| {
                tracing::warn!(%e, "fork: no new address space");
                Errno::EAGAIN
            })?,
        };
        t_space = std::time::Instant::now();
        // No other thread (or process sharing the memory) can write while pages are copied.
        let alone = task.tg().state().threads.len() == 1 && Arc::strong_count(&task.mm) == 1;
        let handle = task.handle.clone();
        Arc::new(task.mm.fork(space, alone, &|| handle.is_killed())?)
    };
    let t_mm = std::time::Instant::now();
    let mut ctx = mm.new_context().map_err(|e| {
        tracing::warn!(%e, "clone: no new context");
        Errno::EAGAIN
    })?;
    // The child starts with its parent's FP state, as on Linux (a parked thread holds that of
    // whatever ran on it last, another process's for a pooled stub; a new one the stub's).
    {
        use snare_platform::Context;
        let fp = task.ctx.fp_state().map_err(|_| Errno::ENOMEM)?;
        ctx.set_fp_state(&fp).map_err(|_| Errno::ENOMEM)?;
    }
    tracing::debug!(
        parent = task.tid,
        stub = mm.space().stub_pid(),
        space_us = (t_space - t0).as_micros() as u64,
        mm_us = (t_mm - t_space).as_micros() as u64,
        ctx_us = t_mm.elapsed().as_micros() as u64,
        "clone timeline"
    );
    let fds = if f & CLONE_FILES != 0 {
        task.fds.clone()
    } else {
        Arc::new(task.fds.duplicate())
    };
    let fs = if f & CLONE_FS != 0 {
        task.fs.clone()
    } else if f & CLONE_NEWNS != 0 {
        Arc::new(task.fs.with_new_mounts())
    } else {
        Arc::new(FsContext::duplicate(&task.fs))
    };

    let me = task.tg().clone();
    let (handle, tid) = {
        let mut pids = lock(&k.pids);
        k.refresh_limits(&mut pids);
        let tid = pids.allocate()?;
        let tg = if thread {
            if me.state().group_exit.is_some() {
                return Err(Errno::EINTR);
            }
            me.clone()
        } else {
            let parent = if f & CLONE_PARENT != 0 {
                me.state().parent.clone().unwrap_or_else(|| me.clone())
            } else {
                me.clone()
            };
            let (pgid, sid, exe, args, env, comm, creds, rlimits) = {
                let st = me.state();
                (
                    st.pgid,
                    st.sid,
                    st.exe.clone(),
                    st.args,
                    st.env,
                    st.comm.clone(),
                    st.creds.clone(),
                    st.rlimits,
                )
            };
            let tg = Arc::new(ThreadGroup::new(tid, Some(parent.clone()), pgid, sid));
            {
                let mut st = tg.state();
                st.exe = exe;
                st.args = args;
                st.env = env;
                st.comm = comm;
                st.creds = creds;
                st.rlimits = rlimits;
                st.exit_signal = c.exit_signal;
            }
            *lock(&tg.actions) = *lock(&me.actions);
            parent.state().children.push(tg.clone());
            pids.groups.insert(tid, tg.clone());
            tg
        };
        if f & CLONE_VM == 0 {
            k.watch_stub(mm.space(), &tg);
        }
        let handle = TaskHandle::with_sched(tid, tg.clone(), task.sigmask(), sched.for_child());
        // Seccomp filters are inherited by threads and children alike.
        handle.set_seccomp(task.handle.seccomp_mode());
        tg.state().threads.push(handle.clone());
        pids.tasks.insert(tid, handle.clone());
        (handle, tid)
    };

    let mut regs = task.regs;
    regs.rax = 0;
    if c.stack != 0 {
        regs.rsp = c.stack;
    }
    if f & CLONE_SETTLS != 0 {
        regs.fs_base = c.tls;
    }
    if f & CLONE_PARENT_SETTID != 0 {
        let _ = task.mm.write(c.parent_tid, &tid.to_ne_bytes());
    }
    if f & CLONE_PIDFD != 0 {
        let tg = handle.tg.clone();
        let pidfd = task
            .fds
            .install(
                Arc::new(crate::kernel::pidfd::PidFd::new(tg, 0)),
                true,
                0,
                task.nofile(),
            )
            .unwrap_or(-1);
        let _ = task.mm.write(c.pidfd, &pidfd.to_ne_bytes());
    }
    if f & CLONE_CHILD_SETTID != 0 {
        let _ = mm.write(c.child_tid, &tid.to_ne_bytes());
    }
    let mut child = Task::new(k.clone(), handle, ctx, regs, mm, fds, fs);
    if f & CLONE_CHILD_CLEARTID != 0 {
        child.clear_child_tid = c.child_tid;
    }
    if thread {
        child.altstack = task.altstack;
    }
    if f & CLONE_SYSVSEM != 0 {
        child.sem_undo = task.sem_undo.clone();
    }
    let child_tg = child.tg().clone();
    let spawned =
        crate::kernel::workers::spawn(format!("task-{tid}"), Box::new(move || child.run()));
    if let Err(e) = spawned {
        tracing::warn!(%e, "clone: cannot start a Sentry thread");
        // The Task was moved into the failed closure and dropped: undo the bookkeeping.
        let mut pids = lock(&k.pids);
        pids.tasks.remove(&tid);
        child_tg.state().threads.retain(|t| t.tid != tid);
        if !thread {
            pids.groups.remove(&tid);
            me.state().children.retain(|c| c.tgid != tid);
        }
        return Err(Errno::EAGAIN);
    }
    if f & CLONE_VFORK != 0 && !thread {
        // The parent waits until the child execs or exits.
        loop {
            let r = wait::block(&[&child_tg.exit_events], None, || {
                child_tg.state().vfork_done.then_some(Ok(()))
            });
            if r.is_ok() || task.handle.is_killed() {
                break;
            }
        }
    }
    Ok(tid as u64)
}

/// Implements `clone(2)` (x86-64 argument order: flags, stack, parent_tid, child_tid, tls).
fn sys_clone(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_clone(
        task,
        CloneArgs {
            flags: a[0] & !CSIGNAL,
            exit_signal: (a[0] & CSIGNAL) as i32,
            stack: a[1],
            parent_tid: a[2],
            child_tid: a[3],
            tls: a[4],
            // clone(2) stores the pidfd where the parent tid would go.
            pidfd: a[2],
        },
    )
}

/// Implements `clone3(2)`.
fn sys_clone3(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let size = a[1];
    if !(64..=4096).contains(&size) {
        return Err(Errno::EINVAL);
    }
    let mut raw = [0u64; 11];
    let n = (size as usize).min(88);
    let mut bytes = vec![0u8; n];
    task.mm.read(a[0], &mut bytes)?;
    for (i, w) in bytes.chunks_exact(8).enumerate() {
        raw[i] = u64::from_ne_bytes(w.try_into().map_err(|_| Errno::EFAULT)?);
    }
    let [flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup] =
        raw;
    if set_tid != 0 || set_tid_size != 0 || cgroup != 0 || exit_signal > 64 {
        return Err(Errno::EINVAL);
    }
    if flags & CSIGNAL != 0 || (stack == 0) != (stack_size == 0) {
        return Err(Errno::EINVAL);
    }
    do_clone(
        task,
        CloneArgs {
            flags,
            exit_signal: exit_signal as i32,
            stack: if stack != 0 { stack + stack_size } else { 0 },
            parent_tid,
            child_tid,
            tls,
            pidfd,
        },
    )
}

/// Implements `fork(2)`.
fn sys_fork(task: &mut Task, _a: [u64; 6]) -> Result<u64, Errno> {
    sys_clone(
        task,
        [u64::from(snare_abi::signal::SIGCHLD as u32), 0, 0, 0, 0, 0],
    )
}

/// Implements `vfork(2)`.
fn sys_vfork(task: &mut Task, _a: [u64; 6]) -> Result<u64, Errno> {
    let flags = CLONE_VM | CLONE_VFORK | snare_abi::signal::SIGCHLD as u64;
    sys_clone(task, [flags, 0, 0, 0, 0, 0])
}

/// Most argv + envp bytes execve takes (Linux's limit with an 8 MiB stack).
const MAX_ARG_BYTES: usize = 2 << 20;
/// Longest single argument (MAX_ARG_STRLEN).
const MAX_ARG_STRLEN: usize = 32 * 4096;

/// Reads a NULL-terminated array of strings (argv or envp).
fn read_strings(task: &Task, addr: u64, total: &mut usize) -> Result<Vec<Vec<u8>>, Errno> {
    let mut out = Vec::new();
    if addr == 0 {
        return Ok(out);
    }
    for i in 0.. {
        let p: u64 = task.mm.read_val(addr.wrapping_add(8 * i))?;
        if p == 0 {
            break;
        }
        let s = task.mm.read_cstr(p, MAX_ARG_STRLEN).map_err(|e| {
            if e == Errno::ENAMETOOLONG {
                Errno::E2BIG
            } else {
                e
            }
        })?;
        *total += s.len() + 1 + 8;
        if *total > MAX_ARG_BYTES {
            return Err(Errno::E2BIG);
        }
        out.push(s);
    }
    Ok(out)
}

/// The common part of execve and execveat.
fn do_execve(task: &mut Task, path: Vec<u8>, argv: u64, envp: u64) -> Result<u64, Errno> {
    let mut total = 0;
    let argv = read_strings(task, argv, &mut total)?;
    let envp = read_strings(task, envp, &mut total)?;
    let open = |p: &[u8]| super::path::open_exec(task, p);
    let t0 = std::time::Instant::now();
    // A single-threaded process that doesn't share its address space (vfork) loads the new
    // image into its own stub process and goes on in its own stub thread.
    let alone = task.tg().state().threads.len() == 1;
    let reuse = (alone && Arc::strong_count(&task.mm) == 1).then(|| task.mm.clone());
    let old = task.tg().state().creds.clone();
    // Set-id bits count unless no_new_privs is set or the program's mount is nosuid.
    let setid = |p: &[u8], st: &snare_abi::file::Stat| {
        let ids = SetIds::of(st);
        match ids == SetIds::default() || old.caps.no_new_privs || super::path::nosuid(task, p) {
            true => SetIds::default(),
            false => ids,
        }
    };
    let creds = crate::kernel::ExecCreds {
        old: &old,
        setid: &setid,
    };
    let image = match crate::kernel::exec(&task.k, &path, argv, envp, &open, reuse.as_ref(), creds)
    {
        Ok(image) => image,
        Err(e) if e.fatal => {
            tracing::info!(%e, "execve failed past the point of no return: killing the process");
            crate::kernel::signal::group_exit(
                task.tg(),
                ExitStatus::Signal(snare_abi::signal::SIGSEGV),
                None,
            );
            task.exit = Some(ExitStatus::Signal(snare_abi::signal::SIGSEGV));
            return Err(e.errno);
        }
        Err(e) => {
            tracing::debug!(%e, "execve failed");
            return Err(e.errno);
        }
    };
    drop(reuse);
    let ctx = if Arc::ptr_eq(&image.mm, &task.mm) {
        // Same stub thread: only its FP state must start afresh.
        use snare_platform::Context;
        let fp = task.ctx.fp_state().map_err(|_| Errno::ENOMEM)?;
        task.ctx
            .set_fp_state(&fp.initial())
            .map_err(|_| Errno::ENOMEM)?;
        None
    } else {
        let mut ctx = image.mm.new_context().map_err(|e| {
            tracing::warn!(%e, "execve: no new context");
            Errno::ENOMEM
        })?;
        if ctx.reused_thread() {
            // A pooled stub's parked thread: it holds another process's FP state.
            use snare_platform::Context;
            let fp = ctx.fp_state().map_err(|_| Errno::ENOMEM)?;
            ctx.set_fp_state(&fp.initial()).map_err(|_| Errno::ENOMEM)?;
        }
        Some(ctx)
    };
    // The point of no return: the other threads go, the new image replaces the old.
    let me = task.tg().clone();
    let others: Vec<Arc<TaskHandle>> = me
        .state()
        .threads
        .iter()
        .filter(|t| t.tid != task.tid)
        .cloned()
        .collect();
    for t in &others {
        t.kill();
    }
    while me.state().threads.len() > 1 {
        // The others leave `threads` as they exit; they were kicked, so this is short.
        std::thread::sleep(std::time::Duration::from_micros(200));
        if task.handle.is_killed() {
            break;
        }
    }
    let t1 = std::time::Instant::now();
    if let Some(ctx) = ctx {
        let reused = ctx.reused_thread();
        task.handle
            .set_context(snare_platform::Context::interrupter(&ctx), reused);
        task.ctx = ctx;
        task.k.watch_stub(image.mm.space(), task.tg());
    }
    task.mm = image.mm;
    task.mm.set_owner(task.tgid());
    task.regs = image.regs;
    tracing::debug!(
        image_us = (t1 - t0).as_micros() as u64,
        old_image_us = t1.elapsed().as_micros() as u64,
        "exec timeline"
    );
    if Arc::strong_count(&task.fds) > 1 && others.is_empty() {
        // Shared with another process (CLONE_FILES without CLONE_THREAD): unshare first.
        task.fds = Arc::new(task.fds.duplicate());
    }
    task.fds.close_on_exec();
    task.publish();
    {
        let mut acts = lock(&me.actions);
        for a in acts.iter_mut() {
            if a.sa_handler != crate::kernel::signal::SIG_IGN {
                *a = snare_abi::KernelSigaction::default();
            }
        }
    }
    task.altstack = snare_abi::signal::StackT {
        ss_flags: snare_abi::signal::SS_DISABLE,
        ..Default::default()
    };
    task.clear_child_tid = 0;
    task.robust_list = 0;
    // A 64-bit image clears READ_IMPLIES_EXEC (Linux's `set_personality_64bit`).
    task.handle.sched().personality &= !snare_abi::sched::READ_IMPLIES_EXEC;
    {
        let mut st = me.state();
        st.comm = crate::kernel::comm_of(&image.exe);
        st.exe = image.exe;
        st.args = image.args;
        st.env = image.env;
        st.did_exec = true;
        st.vfork_done = true;
        if image.secure {
            // Linux forgets the parent-death signal of a privilege-changing exec.
            st.pdeathsig = 0;
        }
        st.commit_creds(image.creds);
        // POSIX timers don't survive execve; interval timers do.
        st.timers.delete_posix();
    }
    me.exit_events.notify();
    Ok(0)
}

/// Implements `execve(2)`.
fn sys_execve(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let path = super::path::path_arg(task, a[0])?;
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let abs = super::path::absolute(task, snare_abi::file::AT_FDCWD, &path)?;
    do_execve(task, abs, a[1], a[2])
}

/// Implements `execveat(2)` (AT_EMPTY_PATH runs the file behind the fd).
fn sys_execveat(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    const AT_EMPTY_PATH: u32 = 0x1000;
    const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
    let flags = u32_(a[4]);
    if flags & !(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = super::path::path_arg(task, a[1])?;
    let abs = if path.is_empty() {
        if flags & AT_EMPTY_PATH == 0 {
            return Err(Errno::ENOENT);
        }
        task.fds.get(fd(a[0]))?.path()
    } else {
        super::path::absolute(task, fd(a[0]), &path)?
    };
    do_execve(task, abs, a[2], a[3])
}

const WNOHANG: u32 = 1;
const WUNTRACED: u32 = 2;
const WEXITED: u32 = 4;
const WCONTINUED: u32 = 8;
const WNOWAIT: u32 = 0x0100_0000;
const WNOTHREAD: u32 = 0x2000_0000;
const WALL: u32 = 0x4000_0000;
const WCLONE: u32 = 0x8000_0000;

/// Which children a wait addresses.
#[derive(Clone, Copy)]
enum Which {
    Any,
    Pid(i32),
    Pgid(i32),
}

/// What a wait found.
struct Found {
    pid: i32,
    /// CLD_* code and the status value (exit code or signal).
    code: i32,
    value: i32,
    /// The wait4 status word.
    status: i32,
    /// The child's CPU time with its waited-for children's, (user, system) µs, as far as
    /// it was banked (see `Kernel::children_cpu_wanted`).
    cpu: (u64, u64),
}

/// Waits for a child matching `which` to change state as `options` asks; `None` with
/// WNOHANG when none has yet.
fn do_wait(task: &Task, which: Which, options: u32) -> Result<Option<Found>, Errno> {
    let me = task.tg().clone();
    let k = task.k.clone();
    let matches = |c: &ThreadGroup| -> bool {
        let ok = match which {
            Which::Any => true,
            Which::Pid(p) => c.tgid == p,
            Which::Pgid(g) => c.state().pgid == g,
        };
        if !ok {
            return false;
        }
        // __WCLONE selects children whose exit signal isn't SIGCHLD; __WALL takes both.
        let clone_child = c.state().exit_signal != snare_abi::signal::SIGCHLD;
        options & WALL != 0 || (options & WCLONE != 0) == clone_child
    };
    let _ = WNOTHREAD;
    let check = || -> Option<Result<Option<Found>, Errno>> {
        let children: Vec<Arc<ThreadGroup>> = me.state().children.clone();
        let mut any = false;
        for c in children.iter().filter(|c| matches(c)) {
            any = true;
            let mut cs = c.state();
            let cpu = (
                cs.exited_cpu.0 + cs.children_cpu.0,
                cs.exited_cpu.1 + cs.children_cpu.1,
            );
            if let Some(z) = cs.zombie.filter(|_| options & WEXITED != 0) {
                drop(cs);
                if options & WNOWAIT == 0 {
                    let mut ms = me.state();
                    ms.children.retain(|x| x.tgid != c.tgid);
                    ms.children_cpu.0 += cpu.0;
                    ms.children_cpu.1 += cpu.1;
                    drop(ms);
                    lock(&k.pids).groups.remove(&c.tgid);
                }
                let (code, value) = match z {
                    ExitStatus::Code(v) => (CLD_EXITED, v),
                    ExitStatus::Signal(s) => (CLD_KILLED, s),
                };
                return Some(Ok(Some(Found {
                    pid: c.tgid,
                    code,
                    value,
                    status: wait_status(z),
                    cpu,
                })));
            }
            match cs.job_event {
                Some(JobEvent::Stopped(sig)) if options & WUNTRACED != 0 => {
                    if options & WNOWAIT == 0 {
                        cs.job_event = None;
                    }
                    return Some(Ok(Some(Found {
                        pid: c.tgid,
                        code: CLD_STOPPED,
                        value: sig,
                        status: (sig << 8) | 0x7f,
                        cpu,
                    })));
                }
                Some(JobEvent::Continued) if options & WCONTINUED != 0 => {
                    if options & WNOWAIT == 0 {
                        cs.job_event = None;
                    }
                    return Some(Ok(Some(Found {
                        pid: c.tgid,
                        code: CLD_CONTINUED,
                        value: snare_abi::signal::SIGCONT,
                        status: 0xffff,
                        cpu,
                    })));
                }
                _ => {}
            }
        }
        if !any {
            return Some(Err(Errno::ECHILD));
        }
        if options & WNOHANG != 0 {
            return Some(Ok(None));
        }
        None
    };
    wait::block(&[&me.child_events], None, check)
}

/// Implements `wait4(2)`.
fn sys_wait4(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let pid = i32_(a[0]);
    let options = u32_(a[2]);
    if options & !(WNOHANG | WUNTRACED | WCONTINUED | WNOTHREAD | WALL | WCLONE) != 0 {
        return Err(Errno::EINVAL);
    }
    // As Linux: -INT_MIN names no process group (and negating it overflowed here).
    if pid == i32::MIN {
        return Err(Errno::ESRCH);
    }
    let which = match pid {
        -1 => Which::Any,
        0 => Which::Pgid(task.tg().state().pgid),
        p if p < -1 => Which::Pgid(-p),
        p => Which::Pid(p),
    };
    if a[3] != 0 {
        // Children that exit from now on bank their time for this.
        super::time::want_children_cpu(task);
    }
    let found = do_wait(task, which, options | WEXITED)?;
    let Some(f) = found else {
        return Ok(0);
    };
    if a[1] != 0 {
        task.mm.write(a[1], &f.status.to_ne_bytes())?;
    }
    if a[3] != 0 {
        task.mm
            .write(a[3], &super::time::rusage_bytes(f.cpu.0, f.cpu.1, 0))?;
    }
    Ok(f.pid as u64)
}

/// Implements `waitid(2)` (P_ALL, P_PID, P_PGID, P_PIDFD).
fn sys_waitid(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let (idtype, id, options) = (u32_(a[0]), i32_(a[1]), u32_(a[3]));
    if options & !(WNOHANG | WUNTRACED | WEXITED | WCONTINUED | WNOWAIT | WNOTHREAD | WALL | WCLONE)
        != 0
        || options & (WUNTRACED | WEXITED | WCONTINUED) == 0
    {
        return Err(Errno::EINVAL);
    }
    let which = match idtype {
        0 => Which::Any,
        1 if id > 0 => Which::Pid(id),
        2 if id >= 0 => Which::Pgid(if id == 0 { task.tg().state().pgid } else { id }),
        3 => Which::Pid(super::signal::pidfd_process(task, id)?.tgid),
        _ => return Err(Errno::EINVAL),
    };
    if a[4] != 0 {
        super::time::want_children_cpu(task);
    }
    let found = do_wait(task, which, options)?;
    if a[4] != 0 {
        let (u, s) = found.as_ref().map_or((0, 0), |f| f.cpu);
        task.mm.write(a[4], &super::time::rusage_bytes(u, s, 0))?;
    }
    if a[2] != 0 {
        let mut info = SigInfo::default();
        if let Some(f) = &found {
            info.si_signo = snare_abi::signal::SIGCHLD;
            info.si_code = f.code;
            info.fields[0] = u64::from(f.pid as u32) | (u64::from(task.k.uid) << 32);
            info.fields[1] = u64::from(f.value as u32);
        }
        task.mm.write(a[2], snare_abi::pod::as_bytes(&info))?;
    }
    Ok(0)
}

const PR_SET_PDEATHSIG: u32 = 1;
const PR_GET_PDEATHSIG: u32 = 2;
const PR_GET_DUMPABLE: u32 = 3;
const PR_SET_DUMPABLE: u32 = 4;
const PR_SET_NAME: u32 = 15;
const PR_GET_NAME: u32 = 16;
const PR_SET_SECCOMP: u32 = 22;
const PR_GET_SECCOMP: u32 = 21;
const PR_SET_CHILD_SUBREAPER: u32 = 36;
const PR_GET_CHILD_SUBREAPER: u32 = 37;
const PR_SET_VMA: u32 = 0x5356_4d41;

/// Implements `prctl(2)` for the options programs commonly use; the capability and
/// privilege options are `kernel::caps`'s rules over the process's credentials.
fn sys_prctl(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let _ = (CLD_KILLED, CLD_EXITED);
    let option = u32_(a[0]);
    if let Some(r) = super::creds::prctl_caps(task, option, a) {
        return r;
    }
    match option {
        PR_SET_PDEATHSIG => {
            let sig = i32_(a[1]);
            if !(0..=64).contains(&sig) {
                return Err(Errno::EINVAL);
            }
            task.tg().state().pdeathsig = sig;
            Ok(0)
        }
        PR_GET_PDEATHSIG => {
            let sig = task.tg().state().pdeathsig;
            task.mm.write(a[1], &sig.to_ne_bytes())?;
            Ok(0)
        }
        PR_GET_DUMPABLE => Ok(1),
        PR_SET_DUMPABLE => {
            if a[1] > 1 {
                return Err(Errno::EINVAL);
            }
            Ok(0)
        }
        PR_SET_NAME => {
            let name = task.mm.read_cstr(a[1], 16).or_else(|e| {
                if e == Errno::ENAMETOOLONG {
                    let mut b = [0u8; 15];
                    task.mm.read(a[1], &mut b)?;
                    Ok(b.to_vec())
                } else {
                    Err(e)
                }
            })?;
            task.tg().state().comm = name.into_iter().take(15).collect();
            Ok(0)
        }
        PR_GET_NAME => {
            let mut name = task.tg().state().comm.clone();
            name.resize(16, 0);
            task.mm.write(a[1], &name)?;
            Ok(0)
        }
        // The thread's own mode; 2 (SECCOMP_MODE_FILTER) under the sandbox's profile too.
        PR_GET_SECCOMP => Ok(match task.handle.seccomp_mode() {
            Some(m) => u64::from(m.number()),
            None if task.k.seccomp.get().is_some() => 2,
            None => 0,
        }),
        PR_SET_SECCOMP => match u32::try_from(a[1]).unwrap_or(u32::MAX) {
            1 => super::seccomp::set_mode(task, None, 0),
            2 => super::seccomp::set_mode(task, Some(a[2]), 0),
            _ => Err(Errno::EINVAL),
        },
        PR_SET_CHILD_SUBREAPER => {
            task.tg().state().subreaper = a[1] != 0;
            Ok(0)
        }
        PR_GET_CHILD_SUBREAPER => {
            let v = i32::from(task.tg().state().subreaper);
            task.mm.write(a[1], &v.to_ne_bytes())?;
            Ok(0)
        }
        PR_SET_VMA => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}
