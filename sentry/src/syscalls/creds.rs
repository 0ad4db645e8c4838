//! Credentials: real, effective and saved user and group ids, supplementary groups. Each
//! process has its own (fork copies, execve keeps them); "privileged" means effective uid 0
//! inside the sandbox. Files keep being owned by the sandbox's user: ids change what the
//! guest is told and what it may set, not host access.

use snare_abi::Errno;
use snare_syscalls_table::nr;

use super::arg::i32_;
use super::Handler;
use crate::kernel::process::Creds;
use crate::kernel::Task;
use crate::mm::GuestMemory;

pub(super) const HANDLERS: &[(u32, Handler)] = &[
    (nr::GETUID, sys_getuid),
    (nr::GETEUID, sys_geteuid),
    (nr::GETGID, sys_getgid),
    (nr::GETEGID, sys_getegid),
    (nr::GETRESUID, sys_getresuid),
    (nr::GETRESGID, sys_getresgid),
    (nr::GETGROUPS, sys_getgroups),
    (nr::SETUID, sys_setuid),
    (nr::SETGID, sys_setgid),
    (nr::SETREUID, sys_setreuid),
    (nr::SETREGID, sys_setregid),
    (nr::SETRESUID, sys_setresuid),
    (nr::SETRESGID, sys_setresgid),
    (nr::SETGROUPS, sys_setgroups),
    (nr::SETFSUID, sys_setfsuid),
    (nr::SETFSGID, sys_setfsgid),
];

/// Most supplementary groups (NGROUPS_MAX).
const NGROUPS_MAX: usize = 65536;

fn creds(task: &Task) -> Creds {
    task.tg().state().creds.clone()
}

fn set_creds(task: &Task, c: Creds) {
    task.tg().state().creds = c;
}

/// An id argument: -1 (as u32) means "unchanged".
fn id(a: u64) -> Option<u32> {
    let v = a as u32;
    (v != u32::MAX).then_some(v)
}

fn sys_getuid(task: &mut Task, _a: [u64; 6]) -> Result<u64, Errno> {
    Ok(u64::from(creds(task).ruid))
}

fn sys_geteuid(task: &mut Task, _a: [u64; 6]) -> Result<u64, Errno> {
    Ok(u64::from(creds(task).euid))
}

fn sys_getgid(task: &mut Task, _a: [u64; 6]) -> Result<u64, Errno> {
    Ok(u64::from(creds(task).rgid))
}

fn sys_getegid(task: &mut Task, _a: [u64; 6]) -> Result<u64, Errno> {
    Ok(u64::from(creds(task).egid))
}

fn write_three(task: &Task, a: &[u64; 6], v: [u32; 3]) -> Result<u64, Errno> {
    for (&p, v) in a[..3].iter().zip(v) {
        task.mm.write(p, &v.to_ne_bytes())?;
    }
    Ok(0)
}

/// Implements `getresuid(2)`.
fn sys_getresuid(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let c = creds(task);
    write_three(task, &a, [c.ruid, c.euid, c.suid])
}

/// Implements `getresgid(2)`.
fn sys_getresgid(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let c = creds(task);
    write_three(task, &a, [c.rgid, c.egid, c.sgid])
}

/// Implements `getgroups(2)`.
fn sys_getgroups(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let n = i32_(a[0]);
    if n < 0 {
        return Err(Errno::EINVAL);
    }
    let groups = creds(task).groups;
    if n == 0 {
        return Ok(groups.len() as u64);
    }
    if (n as usize) < groups.len() {
        return Err(Errno::EINVAL);
    }
    let bytes: Vec<u8> = groups.iter().flat_map(|g| g.to_ne_bytes()).collect();
    task.mm.write(a[1], &bytes)?;
    Ok(groups.len() as u64)
}

/// Implements `setgroups(2)` (privileged only).
fn sys_setgroups(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let n = usize::try_from(i32_(a[0])).map_err(|_| Errno::EINVAL)?;
    if n > NGROUPS_MAX {
        return Err(Errno::EINVAL);
    }
    let mut c = creds(task);
    if c.euid != 0 {
        return Err(Errno::EPERM);
    }
    let mut bytes = vec![0u8; n * 4];
    task.mm.read(a[1], &mut bytes)?;
    c.groups = bytes
        .chunks_exact(4)
        .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    set_creds(task, c);
    Ok(0)
}

/// setresuid/setresgid for one kind of id: `cur` is (real, effective, saved).
fn set_res(cur: [u32; 3], new: [Option<u32>; 3], privileged: bool) -> Result<[u32; 3], Errno> {
    let mut out = cur;
    for (slot, v) in out.iter_mut().zip(new) {
        if let Some(v) = v {
            if !privileged && !cur.contains(&v) {
                return Err(Errno::EPERM);
            }
            *slot = v;
        }
    }
    Ok(out)
}

/// Implements `setresuid(2)`.
fn sys_setresuid(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let mut c = creds(task);
    let [r, e, s] = set_res(
        [c.ruid, c.euid, c.suid],
        [id(a[0]), id(a[1]), id(a[2])],
        c.euid == 0,
    )?;
    (c.ruid, c.euid, c.suid) = (r, e, s);
    set_creds(task, c);
    Ok(0)
}

/// Implements `setresgid(2)`.
fn sys_setresgid(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let mut c = creds(task);
    let [r, e, s] = set_res(
        [c.rgid, c.egid, c.sgid],
        [id(a[0]), id(a[1]), id(a[2])],
        c.euid == 0,
    )?;
    (c.rgid, c.egid, c.sgid) = (r, e, s);
    set_creds(task, c);
    Ok(0)
}

/// setuid/setgid: privileged sets all three; otherwise only the effective id, to the real
/// or saved one.
fn set_one(cur: [u32; 3], v: u32, privileged: bool) -> Result<[u32; 3], Errno> {
    if privileged {
        Ok([v, v, v])
    } else if v == cur[0] || v == cur[2] {
        Ok([cur[0], v, cur[2]])
    } else {
        Err(Errno::EPERM)
    }
}

/// Implements `setuid(2)`.
fn sys_setuid(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let v = id(a[0]).ok_or(Errno::EINVAL)?;
    let mut c = creds(task);
    let [r, e, s] = set_one([c.ruid, c.euid, c.suid], v, c.euid == 0)?;
    (c.ruid, c.euid, c.suid) = (r, e, s);
    set_creds(task, c);
    Ok(0)
}

/// Implements `setgid(2)`.
fn sys_setgid(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let v = id(a[0]).ok_or(Errno::EINVAL)?;
    let mut c = creds(task);
    let [r, e, s] = set_one([c.rgid, c.egid, c.sgid], v, c.euid == 0)?;
    (c.rgid, c.egid, c.sgid) = (r, e, s);
    set_creds(task, c);
    Ok(0)
}

/// setreuid/setregid: the real id may become the effective one, the effective any of the
/// three; the saved id follows the effective when the real one is set or the effective
/// moves away from the real.
fn set_re(
    cur: [u32; 3],
    r: Option<u32>,
    e: Option<u32>,
    privileged: bool,
) -> Result<[u32; 3], Errno> {
    let [cr, ce, cs] = cur;
    let bad_r = r.is_some_and(|r| r != cr && r != ce);
    let bad_e = e.is_some_and(|e| e != cr && e != ce && e != cs);
    if !privileged && (bad_r || bad_e) {
        return Err(Errno::EPERM);
    }
    let nr = r.unwrap_or(cr);
    let ne = e.unwrap_or(ce);
    let ns = if r.is_some() || e.is_some_and(|e| e != cr) {
        ne
    } else {
        cs
    };
    Ok([nr, ne, ns])
}

/// Implements `setreuid(2)`.
fn sys_setreuid(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let mut c = creds(task);
    let [r, e, s] = set_re([c.ruid, c.euid, c.suid], id(a[0]), id(a[1]), c.euid == 0)?;
    (c.ruid, c.euid, c.suid) = (r, e, s);
    set_creds(task, c);
    Ok(0)
}

/// Implements `setregid(2)`.
fn sys_setregid(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let mut c = creds(task);
    let [r, e, s] = set_re([c.rgid, c.egid, c.sgid], id(a[0]), id(a[1]), c.euid == 0)?;
    (c.rgid, c.egid, c.sgid) = (r, e, s);
    set_creds(task, c);
    Ok(0)
}

/// Implements `setfsuid(2)`: the filesystem id follows the effective one; returns it.
fn sys_setfsuid(task: &mut Task, _a: [u64; 6]) -> Result<u64, Errno> {
    Ok(u64::from(creds(task).euid))
}

/// Implements `setfsgid(2)`.
fn sys_setfsgid(task: &mut Task, _a: [u64; 6]) -> Result<u64, Errno> {
    Ok(u64::from(creds(task).egid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unprivileged_may_only_shuffle_its_own_ids() {
        assert_eq!(
            set_res([5, 6, 7], [None, Some(5), None], false),
            Ok([5, 5, 7])
        );
        assert_eq!(
            set_res([5, 6, 7], [Some(0), None, None], false),
            Err(Errno::EPERM)
        );
        assert_eq!(
            set_res([0, 0, 0], [Some(9), Some(9), None], true),
            Ok([9, 9, 0])
        );
        assert_eq!(set_one([5, 6, 7], 7, false), Ok([5, 7, 7]));
        assert_eq!(set_one([5, 6, 7], 8, false), Err(Errno::EPERM));
        assert_eq!(set_re([5, 6, 7], None, Some(7), false), Ok([5, 7, 7]));
    }
}
