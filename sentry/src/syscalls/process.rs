//! Identity, limits and per-thread state: exit, ids, arch_prctl, set_tid_address, rlimits,
//! uname, sethostname and setdomainname, process groups and sessions.

use snare_abi::file::{Rlimit, Utsname};
use std::sync::Arc;

use snare_abi::Errno;
use snare_syscalls_table::nr;

use super::arg::{i32_, u32_};
use super::Handler;
use crate::kernel::process::{lock, ThreadGroup};
use crate::kernel::{ExitStatus, Task};
use crate::mm::GuestMemory;

pub(super) const HANDLERS: &[(u32, Handler)] = &[
    (nr::EXIT, sys_exit),
    (nr::EXIT_GROUP, sys_exit_group),
    (nr::GETPID, sys_getpid),
    (nr::GETPPID, sys_getppid),
    (nr::GETTID, sys_gettid),
    (nr::GETPGRP, sys_getpgrp),
    (nr::GETPGID, sys_getpgid),
    (nr::GETSID, sys_getsid),
    (nr::SETPGID, sys_setpgid),
    (nr::SETSID, sys_setsid),
    (nr::SET_TID_ADDRESS, sys_set_tid_address),
    (nr::ARCH_PRCTL, sys_arch_prctl),
    (nr::PRLIMIT64, sys_prlimit64),
    (nr::GETRLIMIT, sys_getrlimit),
    (nr::SETRLIMIT, sys_setrlimit),
    (nr::UMASK, sys_umask),
    (nr::UNAME, sys_uname),
    (nr::SETHOSTNAME, sys_sethostname),
    (nr::SETDOMAINNAME, sys_setdomainname),
];

/// Implements `exit(2)`: this thread ends; its process ends with its last thread.
fn sys_exit(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    task.exit = Some(ExitStatus::Code(i32_(a[0]) & 0xff));
    Ok(0)
}

/// Implements `exit_group(2)`.
fn sys_exit_group(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let status = ExitStatus::Code(i32_(a[0]) & 0xff);
    crate::kernel::signal::group_exit(task.tg(), status, Some(task.tid));
    let status = task.tg().state().group_exit.unwrap_or(status);
    task.exit = Some(status);
    Ok(0)
}

/// Implements `getpid(2)`: the process id in the sandbox's pid namespace (init is 1).
fn sys_getpid(task: &mut Task, _a: [u64; 6]) -> Result<u64, Errno> {
    Ok(task.tgid() as u64)
}

/// Implements `getppid(2)`: init's parent is outside the namespace (0).
fn sys_getppid(task: &mut Task, _a: [u64; 6]) -> Result<u64, Errno> {
    Ok(task.tg().ppid() as u64)
}

/// Implements `gettid(2)`.
fn sys_gettid(task: &mut Task, _a: [u64; 6]) -> Result<u64, Errno> {
    Ok(task.tid as u64)
}

/// The process `pid` names (0: the caller's).
fn process(task: &Task, pid: i32) -> Result<Arc<ThreadGroup>, Errno> {
    match pid {
        0 => Ok(task.tg().clone()),
        p if p < 0 => Err(Errno::EINVAL),
        p => lock(&task.k.pids).group(p).ok_or(Errno::ESRCH),
    }
}

/// Implements `getpgid(2)`.
fn sys_getpgid(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let g = process(task, i32_(a[0]))?;
    let pgid = g.state().pgid;
    Ok(pgid as u64)
}

/// Implements `getpgrp(2)`.
fn sys_getpgrp(task: &mut Task, _a: [u64; 6]) -> Result<u64, Errno> {
    let pgid = task.tg().state().pgid;
    Ok(pgid as u64)
}

/// Implements `getsid(2)`.
fn sys_getsid(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let g = process(task, i32_(a[0]))?;
    let sid = g.state().sid;
    Ok(sid as u64)
}

/// Implements `setpgid(2)`: the caller or one of its children, into a group of its session.
fn sys_setpgid(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let (pid, pgid) = (i32_(a[0]), i32_(a[1]));
    if pgid < 0 {
        return Err(Errno::EINVAL);
    }
    let me = task.tg().clone();
    let target = if pid == 0 || pid == me.tgid {
        me.clone()
    } else {
        let child = me
            .state()
            .children
            .iter()
            .find(|c| c.tgid == pid)
            .cloned()
            .ok_or(Errno::ESRCH)?;
        if child.state().did_exec {
            return Err(Errno::EACCES);
        }
        child
    };
    let pgid = if pgid == 0 { target.tgid } else { pgid };
    let my_sid = me.state().sid;
    {
        let ts = target.state();
        if ts.sid != my_sid {
            return Err(Errno::EPERM);
        }
        if ts.sid == target.tgid {
            return Err(Errno::EPERM); // a session leader
        }
    }
    if pgid != target.tgid {
        let exists = lock(&task.k.pids)
            .groups
            .values()
            .any(|g| g.state().pgid == pgid && g.state().sid == my_sid);
        if !exists {
            return Err(Errno::EPERM);
        }
    }
    target.state().pgid = pgid;
    Ok(0)
}

/// Implements `setsid(2)`.
fn sys_setsid(task: &mut Task, _a: [u64; 6]) -> Result<u64, Errno> {
    let me = task.tgid();
    let leader = lock(&task.k.pids)
        .groups
        .values()
        .any(|g| g.state().pgid == me);
    if leader {
        return Err(Errno::EPERM);
    }
    let mut st = task.tg().state();
    st.pgid = me;
    st.sid = me;
    Ok(me as u64)
}

/// Implements `set_tid_address(2)`.
fn sys_set_tid_address(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    task.clear_child_tid = a[0];
    Ok(task.tid as u64)
}

/// Implements `arch_prctl(2)`: ARCH_SET_FS/GET_FS/SET_GS/GET_GS; CPUID faulting is refused.
fn sys_arch_prctl(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    const ARCH_SET_GS: u32 = 0x1001;
    const ARCH_SET_FS: u32 = 0x1002;
    const ARCH_GET_FS: u32 = 0x1003;
    const ARCH_GET_GS: u32 = 0x1004;
    let canonical = |v: u64| v < (1 << 47);
    match u32_(a[0]) {
        ARCH_SET_FS => {
            if !canonical(a[1]) {
                return Err(Errno::EPERM);
            }
            task.regs.fs_base = a[1];
            Ok(0)
        }
        ARCH_SET_GS => {
            if !canonical(a[1]) {
                return Err(Errno::EPERM);
            }
            task.regs.gs_base = a[1];
            Ok(0)
        }
        ARCH_GET_FS => {
            task.mm.write(a[1], &task.regs.fs_base.to_ne_bytes())?;
            Ok(0)
        }
        ARCH_GET_GS => {
            task.mm.write(a[1], &task.regs.gs_base.to_ne_bytes())?;
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// Implements `prlimit64(2)`: reads and sets the limits of the caller's process (pid 0) or
/// of another one. As Linux: another process's limits need the same real, effective and
/// saved ids (or CAP_SYS_RESOURCE), and raising a hard limit needs CAP_SYS_RESOURCE. See `kernel/rlimits.rs` for what is enforced.
fn sys_prlimit64(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let (pid, resource) = (i32_(a[0]), u32_(a[1]));
    let me = task.tg().state().creds.clone();
    let resource_cap = me.capable(snare_abi::caps::Cap::SysResource);
    let tg = if pid == 0 || pid == task.tgid() {
        task.tg().clone()
    } else {
        let g = lock(&task.k.pids).group(pid).ok_or(Errno::ESRCH)?;
        let c = g.state().creds.clone();
        let same = [c.ruid, c.euid, c.suid].iter().all(|&u| u == me.ruid)
            && [c.rgid, c.egid, c.sgid].iter().all(|&g| g == me.rgid);
        if !same && !resource_cap {
            return Err(Errno::EPERM);
        }
        g
    };
    let new: Option<Rlimit> = if a[2] != 0 {
        Some(task.mm.read_val(a[2])?)
    } else {
        None
    };
    let old = {
        let mut st = tg.state();
        match new {
            Some(n) => st.rlimits.set(resource, n, resource_cap)?,
            None => st.rlimits.get(resource)?,
        }
    };
    if a[3] != 0 {
        task.mm.write(a[3], snare_abi::pod::as_bytes(&old))?;
    }
    Ok(0)
}

/// Implements `getrlimit(2)`.
fn sys_getrlimit(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let l = task.tg().state().rlimits.get(u32_(a[0]))?;
    task.mm.write(a[1], snare_abi::pod::as_bytes(&l))?;
    Ok(0)
}

/// Implements `setrlimit(2)` (see `sys_prlimit64`).
fn sys_setrlimit(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    if a[1] == 0 {
        return Err(Errno::EFAULT);
    }
    sys_prlimit64(task, [0, a[0], a[1], 0, 0, 0])
}

/// Implements `umask(2)`.
fn sys_umask(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let old = task.fs.swap_umask(u32_(a[0]) & 0o777);
    Ok(u64::from(old))
}

/// Implements `uname(2)`: Linux 6.1-compatible, hostname from the sandbox.
fn sys_uname(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let mut u = Utsname::default();
    let set =
        |f: &mut [u8; 65], v: &[u8]| f[..v.len().min(64)].copy_from_slice(&v[..v.len().min(64)]);
    set(&mut u.sysname, b"Linux");
    let uts = lock(&task.k.uts).clone();
    set(&mut u.nodename, &uts.hostname);
    set(&mut u.release, b"6.1.0-snare");
    set(&mut u.version, b"#1 SMP snare");
    // A PER_LINUX32 process is told it runs on a 32-bit machine, as Linux's
    // `override_architecture` does.
    let pers = task.handle.sched().personality;
    let linux32 = pers & snare_abi::sched::PER_MASK == snare_abi::sched::PER_LINUX32;
    set(
        &mut u.machine,
        if linux32 {
            &b"i686"[..]
        } else {
            &b"x86_64"[..]
        },
    );
    set(&mut u.domainname, &uts.domainname);
    task.mm.write(a[0], snare_abi::pod::as_bytes(&u))?;
    Ok(0)
}

/// The longest host or domain name (`__NEW_UTS_LEN`).
const UTS_LEN: u64 = 64;

/// The name `sethostname(2)` or `setdomainname(2)` gives: EPERM without CAP_SYS_ADMIN, then
/// EINVAL for a length past 64 (the `int` negative too), then EFAULT, as Linux checks them.
/// The bytes are taken as they are (NULs included; `uname` shows up to the first).
fn uts_name(task: &Task, addr: u64, len: u64) -> Result<Vec<u8>, Errno> {
    if !task.capable(snare_abi::caps::Cap::SysAdmin) {
        return Err(Errno::EPERM);
    }
    let len = i32_(len);
    if !(0..=UTS_LEN as i32).contains(&len) {
        return Err(Errno::EINVAL);
    }
    let mut name = vec![0u8; len as usize];
    task.mm.read(addr, &mut name)?;
    Ok(name)
}

/// Implements `sethostname(2)`: the sandbox's one UTS namespace changes for every process.
fn sys_sethostname(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let name = uts_name(task, a[0], a[1])?;
    lock(&task.k.uts).hostname = name;
    Ok(0)
}

/// Implements `setdomainname(2)` (see `sys_sethostname`).
fn sys_setdomainname(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let name = uts_name(task, a[0], a[1])?;
    lock(&task.k.uts).domainname = name;
    Ok(0)
}
