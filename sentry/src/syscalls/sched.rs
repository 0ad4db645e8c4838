//! Priorities and scheduling: getpriority/setpriority (nice), the `sched_*` policy calls,
//! CPU affinity, I/O priorities and personality. Each reads or sets one thread's
//! `kernel::sched::SchedAttrs`, with Linux's argument checks, permission rules and errnos;
//! none changes how the host runs the thread (see `kernel/sched.rs`).

use std::sync::Arc;

use snare_abi::file::{Timespec, RLIMIT_NICE, RLIMIT_RTPRIO};
use snare_abi::sched::*;
use snare_abi::Errno;
use snare_syscalls_table::nr;

use super::arg::{i32_, u32_};
use super::Handler;
use crate::kernel::process::{lock, Creds, TaskHandle};
use crate::kernel::sched::{cpus, fair_policy, rt_policy, valid_policy, CpuSet, Deadline};
use crate::kernel::Task;
use crate::mm::GuestMemory;

pub(super) const HANDLERS: &[(u32, Handler)] = &[
    (nr::GETPRIORITY, sys_getpriority),
    (nr::SETPRIORITY, sys_setpriority),
    (nr::SCHED_SETSCHEDULER, sys_sched_setscheduler),
    (nr::SCHED_GETSCHEDULER, sys_sched_getscheduler),
    (nr::SCHED_SETPARAM, sys_sched_setparam),
    (nr::SCHED_GETPARAM, sys_sched_getparam),
    (nr::SCHED_SETATTR, sys_sched_setattr),
    (nr::SCHED_GETATTR, sys_sched_getattr),
    (nr::SCHED_GET_PRIORITY_MAX, sys_sched_get_priority_max),
    (nr::SCHED_GET_PRIORITY_MIN, sys_sched_get_priority_min),
    (nr::SCHED_RR_GET_INTERVAL, sys_sched_rr_get_interval),
    (nr::SCHED_SETAFFINITY, sys_sched_setaffinity),
    (nr::SCHED_GETAFFINITY, sys_sched_getaffinity),
    (nr::SCHED_YIELD, sys_sched_yield),
    (nr::GETCPU, sys_getcpu),
    (nr::IOPRIO_SET, sys_ioprio_set),
    (nr::IOPRIO_GET, sys_ioprio_get),
    (nr::PERSONALITY, sys_personality),
];

/// Whether the caller may raise priorities and change other users' (CAP_SYS_NICE).
fn cap_sys_nice(task: &Task) -> bool {
    task.tg()
        .state()
        .creds
        .capable(snare_abi::caps::Cap::SysNice)
}

/// The caller's ids.
fn creds(task: &Task) -> Creds {
    task.tg().state().creds.clone()
}

/// The thread `tid` names (0: the caller), ESRCH if none.
fn thread(task: &Task, tid: i32) -> Result<Arc<TaskHandle>, Errno> {
    if tid == 0 {
        return Ok(task.handle.clone());
    }
    lock(&task.k.pids).task(tid).ok_or(Errno::ESRCH)
}

/// Writes `v` to guest memory at `at`.
fn put<T: snare_abi::Pod>(task: &Task, at: u64, v: &T) -> Result<(), Errno> {
    task.mm.write(at, snare_abi::pod::as_bytes(v))
}

/// A thread's soft limit of `resource` (its process's).
fn rlimit(t: &TaskHandle, resource: u32) -> u64 {
    t.tg.state().rlimits.get(resource).map_or(0, |l| l.rlim_cur)
}

/// Whether `t`'s RLIMIT_NICE lets it go to `nice` (Linux's `is_nice_reduction`).
fn nice_allowed(t: &TaskHandle, nice: i32) -> bool {
    (20 - i64::from(nice)) as u64 <= rlimit(t, RLIMIT_NICE)
}

/// Whether the caller (`me`) owns `t` for scheduling changes (Linux's `check_same_owner`).
fn same_owner(me: &Creds, t: &TaskHandle) -> bool {
    let c = t.tg.state().creds.clone();
    me.euid == c.euid || me.euid == c.ruid
}

/// The threads getpriority/setpriority's `which` and `who` select (empty: ESRCH).
fn prio_targets(task: &Task, which: u32, who: i32) -> Result<Vec<Arc<TaskHandle>>, Errno> {
    match which {
        PRIO_PROCESS => Ok(thread(task, who).into_iter().collect()),
        PRIO_PGRP => {
            let pgrp = if who == 0 {
                task.tg().state().pgid
            } else {
                who
            };
            Ok(live_threads(task)
                .into_iter()
                .filter(|t| t.tg.state().pgid == pgrp)
                .collect())
        }
        PRIO_USER => {
            let uid = if who == 0 {
                creds(task).ruid
            } else {
                who as u32
            };
            Ok(user_threads(task, uid))
        }
        _ => Err(Errno::EINVAL),
    }
}

/// Every live thread of the sandbox.
fn live_threads(task: &Task) -> Vec<Arc<TaskHandle>> {
    lock(&task.k.pids).tasks.values().cloned().collect()
}

/// The live threads whose real uid is `uid` (uid -1 names nobody).
fn user_threads(task: &Task, uid: u32) -> Vec<Arc<TaskHandle>> {
    live_threads(task)
        .into_iter()
        .filter(|t| uid != u32::MAX && t.tg.state().creds.ruid == uid)
        .collect()
}

/// Implements `getpriority(2)`: the highest priority (lowest nice) of the selected threads,
/// as the raw call answers it, 20 - nice (1..=40). PRIO_PROCESS names one thread, as on
/// Linux.
fn sys_getpriority(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let targets = prio_targets(task, u32_(a[0]), i32_(a[1]))?;
    targets
        .iter()
        .map(|t| 20 - t.sched().nice)
        .max()
        .map(|v| v as u64)
        .ok_or(Errno::ESRCH)
}

/// Implements `setpriority(2)`: sets the nice value (clamped to -20..=19) of every selected
/// thread. Another user's threads need CAP_SYS_NICE (EPERM); lowering a nice value past
/// what the target's RLIMIT_NICE allows needs it too (EACCES). As Linux, the last failure is
/// the answer, after the threads that could be changed were.
fn sys_setpriority(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let nice = i32_(a[2]).clamp(MIN_NICE, MAX_NICE);
    let targets = prio_targets(task, u32_(a[0]), i32_(a[1]))?;
    let me = creds(task);
    let cap = cap_sys_nice(task);
    let mut result = Err(Errno::ESRCH);
    for t in targets {
        let c = t.tg.state().creds.clone();
        if c.ruid != me.euid && c.euid != me.euid && !cap {
            result = Err(Errno::EPERM);
            continue;
        }
        let current = t.sched().nice;
        if nice < current && !nice_allowed(&t, nice) && !cap {
            result = Err(Errno::EACCES);
            continue;
        }
        if result == Err(Errno::ESRCH) {
            result = Ok(0);
        }
        t.sched().nice = nice;
    }
    result
}

/// A request to change a thread's scheduling (the common part of sched_setscheduler,
/// sched_setparam and sched_setattr: Linux's `struct sched_attr` on its way in).
struct Request {
    /// `None`: keep the policy (sched_setparam, SCHED_FLAG_KEEP_POLICY).
    policy: Option<u32>,
    flags: u64,
    nice: i32,
    priority: u32,
    deadline: Deadline,
    util: (u32, u32),
}

/// SCHED_DEADLINE's parameter rules (Linux's `__checkparam_dl`, with its default
/// `sched_deadline_period_{min,max}_us` of 100 µs and 2^22 µs).
fn deadline_ok(d: &Deadline) -> bool {
    if d.deadline == 0 || d.runtime < (1 << 10) {
        return false;
    }
    if d.deadline & (1 << 63) != 0 || d.period & (1 << 63) != 0 {
        return false;
    }
    let period = if d.period == 0 { d.deadline } else { d.period };
    if period < d.deadline || d.deadline < d.runtime {
        return false;
    }
    (100_000..=(1u64 << 22) * 1000).contains(&period)
}

/// Applies `r` to thread `t` as Linux's `__sched_setscheduler` does for a user request:
/// EINVAL for a bad policy, flags or priority; EPERM where the caller lacks CAP_SYS_NICE
/// for what it asks (another user's thread, a real-time policy past RLIMIT_RTPRIO, a nice
/// value past RLIMIT_NICE, SCHED_DEADLINE at all, leaving SCHED_IDLE, dropping
/// reset-on-fork).
fn set_scheduler(task: &Task, t: &TaskHandle, r: &Request) -> Result<(), Errno> {
    let cur = t.sched().clone();
    let (policy, reset_on_fork) = match r.policy {
        None => (cur.policy, cur.reset_on_fork),
        Some(p) if valid_policy(p) => (p, r.flags & SCHED_FLAG_RESET_ON_FORK != 0),
        Some(_) => return Err(Errno::EINVAL),
    };
    if r.flags & !SCHED_FLAG_ALL != 0 || r.priority > MAX_RT_PRIO - 1 {
        return Err(Errno::EINVAL);
    }
    if (policy == SCHED_DEADLINE && !deadline_ok(&r.deadline))
        || rt_policy(policy) != (r.priority != 0)
    {
        return Err(Errno::EINVAL);
    }
    let me = creds(task);
    let needs_cap = (fair_policy(policy) && r.nice < cur.nice && !nice_allowed(t, r.nice))
        || (rt_policy(policy) && {
            let rtprio = rlimit(t, RLIMIT_RTPRIO);
            (policy != cur.policy && rtprio == 0)
                || (r.priority > cur.rt_priority && u64::from(r.priority) > rtprio)
        })
        || policy == SCHED_DEADLINE
        || (cur.policy == SCHED_IDLE && policy != SCHED_IDLE && !nice_allowed(t, cur.nice))
        || !same_owner(&me, t)
        || (cur.reset_on_fork && !reset_on_fork);
    if needs_cap && !cap_sys_nice(task) {
        return Err(Errno::EPERM);
    }
    let mut util = cur.util;
    if r.flags & SCHED_FLAG_UTIL_CLAMP != 0 {
        let valid = |v: u32| v == u32::MAX || v <= SCHED_CAPACITY_SCALE;
        if r.flags & SCHED_FLAG_UTIL_CLAMP_MIN != 0 {
            if !valid(r.util.0) {
                return Err(Errno::EINVAL);
            }
            util.0 = if r.util.0 == u32::MAX { 0 } else { r.util.0 };
        }
        if r.flags & SCHED_FLAG_UTIL_CLAMP_MAX != 0 {
            if !valid(r.util.1) {
                return Err(Errno::EINVAL);
            }
            util.1 = if r.util.1 == u32::MAX {
                SCHED_CAPACITY_SCALE
            } else {
                r.util.1
            };
        }
        if util.0 > util.1 {
            return Err(Errno::EINVAL);
        }
    }
    let mut s = t.sched();
    s.reset_on_fork = reset_on_fork;
    s.util = util;
    if r.flags & SCHED_FLAG_KEEP_PARAMS == 0 {
        s.policy = policy;
        if policy == SCHED_DEADLINE {
            s.deadline = Deadline {
                flags: r.flags & (SCHED_FLAG_RECLAIM | SCHED_FLAG_DL_OVERRUN),
                ..r.deadline
            };
        } else {
            s.deadline = Deadline::default();
            if fair_policy(policy) {
                s.nice = r.nice;
            }
        }
        s.rt_priority = r.priority;
    }
    Ok(())
}

/// sched_setscheduler and sched_setparam: `policy` `None` keeps the thread's.
fn do_setscheduler(task: &Task, a: [u64; 6], policy: Option<u32>) -> Result<u64, Errno> {
    let pid = i32_(a[0]);
    let param_at = if policy.is_some() { a[2] } else { a[1] };
    if param_at == 0 || pid < 0 {
        return Err(Errno::EINVAL);
    }
    let param: SchedParam = task.mm.read_val(param_at)?;
    let t = thread(task, pid)?;
    let (policy, flags) = match policy {
        Some(p) if p & SCHED_RESET_ON_FORK != 0 => {
            (Some(p & !SCHED_RESET_ON_FORK), SCHED_FLAG_RESET_ON_FORK)
        }
        p => (p, 0),
    };
    let nice = t.sched().nice;
    let r = Request {
        policy,
        flags,
        nice,
        priority: param.sched_priority as u32,
        deadline: Deadline::default(),
        util: (0, 0),
    };
    set_scheduler(task, &t, &r).map(|()| 0)
}

/// Implements `sched_setscheduler(2)`: SCHED_OTHER/BATCH/IDLE (priority 0), SCHED_FIFO/RR
/// (1..=99), SCHED_RESET_ON_FORK or-ed in. SCHED_DEADLINE needs `sched_setattr`'s
/// parameters (EINVAL here). Deviation: bookkeeping only, the host runs the thread as
/// before.
fn sys_sched_setscheduler(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let policy = i32_(a[1]);
    if policy < 0 {
        return Err(Errno::EINVAL);
    }
    do_setscheduler(task, a, Some(policy as u32))
}

/// Implements `sched_setparam(2)`: the priority under the thread's current policy.
fn sys_sched_setparam(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_setscheduler(task, a, None)
}

/// The thread a `sched_get*` call names: EINVAL for a negative id, ESRCH for a missing one.
fn sched_target(task: &Task, pid: i32) -> Result<Arc<TaskHandle>, Errno> {
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    thread(task, pid)
}

/// Implements `sched_getscheduler(2)`: the policy, with SCHED_RESET_ON_FORK if set.
fn sys_sched_getscheduler(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let t = sched_target(task, i32_(a[0]))?;
    let s = t.sched();
    let reset = if s.reset_on_fork {
        SCHED_RESET_ON_FORK
    } else {
        0
    };
    Ok(u64::from(s.policy | reset))
}

/// Implements `sched_getparam(2)`: the real-time priority (0 under other policies).
fn sys_sched_getparam(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let pid = i32_(a[0]);
    if a[1] == 0 || pid < 0 {
        return Err(Errno::EINVAL);
    }
    let t = thread(task, pid)?;
    let priority = {
        let s = t.sched();
        if rt_policy(s.policy) {
            s.rt_priority as i32
        } else {
            0
        }
    };
    put(
        task,
        a[1],
        &SchedParam {
            sched_priority: priority,
        },
    )?;
    Ok(0)
}

/// Most bytes of a `struct sched_attr` the kernel looks at (`PAGE_SIZE`).
const SCHED_ATTR_MAX: u32 = 4096;

/// Implements `sched_setattr(2)`: `struct sched_attr` of any size from
/// SCHED_ATTR_SIZE_VER0 to a page (0 meaning VER0), bytes past the known ones zero (else
/// E2BIG, the known size written back); the utilization clamps need VER1. SCHED_DEADLINE's
/// parameters are checked as Linux does, but as an unprivileged caller can't choose it and
/// the Sentry does no admission control, a privileged one always gets it. Deviation: no
/// effect on the host's scheduling.
fn sys_sched_setattr(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let (pid, at, flags) = (i32_(a[0]), a[1], u32_(a[2]));
    if at == 0 || pid < 0 || flags != 0 {
        return Err(Errno::EINVAL);
    }
    let known = std::mem::size_of::<SchedAttr>() as u32;
    let too_big = |task: &Task| -> Errno {
        match put(task, at, &known) {
            Ok(()) => Errno::E2BIG,
            Err(e) => e,
        }
    };
    let size = match task.mm.read_val::<u32>(at)? {
        0 => SCHED_ATTR_SIZE_VER0,
        s => s,
    };
    if !(SCHED_ATTR_SIZE_VER0..=SCHED_ATTR_MAX).contains(&size) {
        return Err(too_big(task));
    }
    let mut bytes = vec![0u8; size as usize];
    task.mm.read(at, &mut bytes)?;
    if bytes.iter().skip(known as usize).any(|&b| b != 0) {
        return Err(too_big(task));
    }
    bytes.resize(known as usize, 0);
    let attr: SchedAttr = snare_abi::pod::from_bytes(&bytes).ok_or(Errno::EFAULT)?;
    if attr.sched_flags & SCHED_FLAG_UTIL_CLAMP != 0 && size < known {
        return Err(Errno::EINVAL);
    }
    if (attr.sched_policy as i32) < 0 {
        return Err(Errno::EINVAL);
    }
    let t = thread(task, pid)?;
    let mut r = Request {
        policy: (attr.sched_flags & SCHED_FLAG_KEEP_POLICY == 0).then_some(attr.sched_policy),
        flags: attr.sched_flags,
        nice: attr.sched_nice.clamp(MIN_NICE, MAX_NICE),
        priority: attr.sched_priority,
        deadline: Deadline {
            runtime: attr.sched_runtime,
            deadline: attr.sched_deadline,
            period: attr.sched_period,
            flags: 0,
        },
        util: (attr.sched_util_min, attr.sched_util_max),
    };
    if attr.sched_flags & SCHED_FLAG_KEEP_PARAMS != 0 {
        let s = t.sched();
        r.nice = s.nice;
        r.priority = s.rt_priority;
        r.deadline = s.deadline;
    }
    set_scheduler(task, &t, &r).map(|()| 0)
}

/// Implements `sched_getattr(2)`: the thread's `struct sched_attr`, cut to the caller's
/// `size` (at least SCHED_ATTR_SIZE_VER0, at most a page), its `size` field saying how much
/// was written.
fn sys_sched_getattr(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let (pid, at, usize_, flags) = (i32_(a[0]), a[1], u32_(a[2]), u32_(a[3]));
    if at == 0
        || pid < 0
        || !(SCHED_ATTR_SIZE_VER0..=SCHED_ATTR_MAX).contains(&usize_)
        || flags != 0
    {
        return Err(Errno::EINVAL);
    }
    let t = thread(task, pid)?;
    let s = t.sched().clone();
    let known = std::mem::size_of::<SchedAttr>() as u32;
    let mut attr = SchedAttr {
        size: usize_.min(known),
        sched_policy: s.policy,
        sched_flags: if s.reset_on_fork {
            SCHED_FLAG_RESET_ON_FORK
        } else {
            0
        },
        sched_util_min: s.util.0,
        sched_util_max: s.util.1,
        ..SchedAttr::default()
    };
    if s.policy == SCHED_DEADLINE {
        attr.sched_priority = s.rt_priority;
        attr.sched_runtime = s.deadline.runtime;
        attr.sched_deadline = s.deadline.deadline;
        attr.sched_period = s.deadline.period;
        attr.sched_flags |= s.deadline.flags;
    } else if rt_policy(s.policy) {
        attr.sched_priority = s.rt_priority;
    } else {
        attr.sched_nice = s.nice;
    }
    let bytes = snare_abi::pod::as_bytes(&attr);
    task.mm.write(at, &bytes[..attr.size as usize])?;
    Ok(0)
}

/// Implements `sched_get_priority_max(2)`.
fn sys_sched_get_priority_max(_task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    match i32_(a[0]) {
        p if p >= 0 && rt_policy(p as u32) => Ok(u64::from(MAX_RT_PRIO - 1)),
        p if p >= 0 && valid_policy(p as u32) => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

/// Implements `sched_get_priority_min(2)`.
fn sys_sched_get_priority_min(_task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    match i32_(a[0]) {
        p if p >= 0 && rt_policy(p as u32) => Ok(1),
        p if p >= 0 && valid_policy(p as u32) => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

/// Implements `sched_rr_get_interval(2)`: SCHED_RR's time slice, Linux's default 100 ms;
/// 0 for every other policy. Deviation: Linux answers the fair policies with their current
/// slice in whole jiffies (0 on most kernels, whose EEVDF slice of 3 ms is under a jiffy at
/// HZ ≤ 250).
fn sys_sched_rr_get_interval(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let t = sched_target(task, i32_(a[0]))?;
    let rr = t.sched().policy == SCHED_RR;
    let ts = Timespec {
        tv_sec: 0,
        tv_nsec: if rr { 100_000_000 } else { 0 },
    };
    put(task, a[1], &ts)?;
    Ok(0)
}

/// Implements `sched_setaffinity(2)`: the thread's mask becomes the given one (its first
/// `len` bytes, the rest clear) less the CPUs the sandbox doesn't have; EINVAL if that
/// leaves none. Another user's thread needs CAP_SYS_NICE. Deviation: the host thread is
/// not pinned.
fn sys_sched_setaffinity(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let (pid, len) = (i32_(a[0]), u32_(a[1]) as usize);
    let mut bytes = vec![0u8; len.min(cpus().mask_bytes)];
    task.mm.read(a[2], &mut bytes)?;
    let t = thread(task, pid)?;
    if !same_owner(&creds(task), &t) && !cap_sys_nice(task) {
        return Err(Errno::EPERM);
    }
    let mask = CpuSet::from_guest(&bytes);
    if mask.is_empty() {
        return Err(Errno::EINVAL);
    }
    t.sched().affinity = mask;
    Ok(0)
}

/// Implements `sched_getaffinity(2)`: the thread's mask. As Linux, `len` must be a multiple
/// of 8 holding a bit for every possible CPU of the host (else EINVAL); the answer is the
/// bytes written, the host's mask size or `len` if smaller.
fn sys_sched_getaffinity(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let (pid, len) = (i32_(a[0]), u32_(a[1]) as usize);
    if len % 8 != 0 || len < cpus().min_bytes {
        return Err(Errno::EINVAL);
    }
    let t = thread(task, pid)?;
    let n = len.min(cpus().mask_bytes);
    let bytes = t.sched().affinity.to_guest(n);
    task.mm.write(a[2], &bytes)?;
    Ok(n as u64)
}

/// Implements `sched_yield(2)`.
fn sys_sched_yield(_task: &mut Task, _a: [u64; 6]) -> Result<u64, Errno> {
    std::thread::yield_now();
    Ok(0)
}

/// Implements `getcpu(2)`: the lowest CPU of the thread's affinity mask, node 0 (the host
/// CPU the thread runs on is not the guest's business and changes anyway).
fn sys_getcpu(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let cpu = task.handle.sched().affinity.first();
    if a[0] != 0 {
        put(task, a[0], &cpu)?;
    }
    if a[1] != 0 {
        put(task, a[1], &0u32)?;
    }
    Ok(0)
}

/// The threads an `ioprio_*` call's `which` and `who` select; `who` 0 names the caller's
/// thread, process group or (for `ioprio_get` only, as on Linux) user: `ioprio_set`'s user
/// 0 is root.
fn ioprio_targets(
    task: &Task,
    which: u32,
    who: i32,
    set: bool,
) -> Result<Vec<Arc<TaskHandle>>, Errno> {
    match which {
        IOPRIO_WHO_PROCESS => Ok(thread(task, who).into_iter().collect()),
        IOPRIO_WHO_PGRP => prio_targets(task, PRIO_PGRP, who),
        IOPRIO_WHO_USER => Ok(match who {
            0 if set => user_threads(task, 0),
            0 => user_threads(task, creds(task).ruid),
            w => user_threads(task, w as u32),
        }),
        _ => Err(Errno::EINVAL),
    }
}

/// Implements `ioprio_set(2)`: classes NONE (level 0 only), RT (needs CAP_SYS_NICE), BE and
/// IDLE; the level is the low three bits, the hint bits between are kept as given; what
/// lies past the 16 bits Linux keeps is dropped. Another user's threads need CAP_SYS_NICE.
/// Deviation: the Sentry's host I/O is not reprioritized.
fn sys_ioprio_set(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let (which, who, ioprio) = (u32_(a[0]), i32_(a[1]), i32_(a[2]));
    let class = ((ioprio >> IOPRIO_CLASS_SHIFT) & 7) as u32;
    let level = ioprio as u32 & IOPRIO_LEVEL_MASK;
    let cap = cap_sys_nice(task);
    match class {
        IOPRIO_CLASS_RT if !cap => return Err(Errno::EPERM),
        IOPRIO_CLASS_NONE if level != 0 => return Err(Errno::EINVAL),
        IOPRIO_CLASS_NONE | IOPRIO_CLASS_RT | IOPRIO_CLASS_BE | IOPRIO_CLASS_IDLE => {}
        _ => return Err(Errno::EINVAL),
    }
    let targets = ioprio_targets(task, which, who, true)?;
    let me = creds(task);
    let mut result = Err(Errno::ESRCH);
    for t in targets {
        let ruid = t.tg.state().creds.ruid;
        if ruid != me.euid && ruid != me.ruid && !cap {
            return Err(Errno::EPERM);
        }
        t.sched().ioprio = ioprio as u16;
        result = Ok(0);
    }
    result
}

/// Linux's `ioprio_best`: of two I/O priorities the better one, a task without a class
/// counting as best-effort at the normal level.
fn ioprio_best(a: u16, b: u16) -> u16 {
    let norm = |p: u16| {
        let class = u32::from(p) >> IOPRIO_CLASS_SHIFT & 7;
        if (IOPRIO_CLASS_RT..=IOPRIO_CLASS_IDLE).contains(&class) {
            p
        } else {
            ((IOPRIO_CLASS_BE << IOPRIO_CLASS_SHIFT) | IOPRIO_BE_NORM) as u16
        }
    };
    norm(a).min(norm(b))
}

/// Implements `ioprio_get(2)`: a thread's I/O priority as set (class NONE, 0, until set);
/// for a process group or user the best of its threads'.
fn sys_ioprio_get(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let targets = ioprio_targets(task, u32_(a[0]), i32_(a[1]), false)?;
    let mut it = targets.iter().map(|t| t.sched().ioprio);
    let first = it.next().ok_or(Errno::ESRCH)?;
    Ok(u64::from(it.fold(first, ioprio_best)))
}

/// Implements `personality(2)`: 0xffffffff reads, anything else is stored (Linux accepts
/// every value); the old one is the answer. A thread's own, copied by clone, kept by execve
/// (less READ_IMPLIES_EXEC, which a 64-bit exec clears). PER_LINUX32 makes `uname` say
/// i686. Deviations: ADDR_NO_RANDOMIZE is always in effect (the Sentry's loader and mmap
/// place nothing at random); READ_IMPLIES_EXEC, UNAME26 and the other flags are only kept.
fn sys_personality(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let new = u32_(a[0]);
    let mut s = task.handle.sched();
    let old = s.personality;
    if new != PERSONALITY_QUERY {
        s.personality = new;
    }
    Ok(u64::from(old))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_parameters_follow_linux() {
        let d = |runtime, deadline, period| Deadline {
            runtime,
            deadline,
            period,
            flags: 0,
        };
        assert!(deadline_ok(&d(10_000_000, 30_000_000, 30_000_000)));
        assert!(deadline_ok(&d(10_000_000, 30_000_000, 0)));
        assert!(!deadline_ok(&d(10_000_000, 0, 30_000_000)), "no deadline");
        assert!(!deadline_ok(&d(1000, 30_000_000, 0)), "runtime < 1024 ns");
        assert!(
            !deadline_ok(&d(40_000_000, 30_000_000, 0)),
            "runtime > deadline"
        );
        assert!(!deadline_ok(&d(10_000_000, 30_000_000, 20_000_000)));
        assert!(!deadline_ok(&d(2000, 50_000, 50_000)), "period < 100 µs");
        assert!(!deadline_ok(&d(10_000_000, 30_000_000, 5_000_000_000)));
        assert!(!deadline_ok(&d(10_000_000, 1 << 63, 0)));
    }

    #[test]
    fn best_io_priority_counts_no_class_as_best_effort_4() {
        let be = |l: u16| (2 << 13) | l;
        assert_eq!(ioprio_best(0, 0), be(4));
        assert_eq!(ioprio_best(be(7), 0), be(4));
        assert_eq!(ioprio_best(be(2), be(6)), be(2));
        assert_eq!(ioprio_best((1 << 13) | 3, be(0)), (1 << 13) | 3, "RT wins");
        assert_eq!(ioprio_best(3 << 13, be(7)), be(7), "IDLE loses");
    }
}
