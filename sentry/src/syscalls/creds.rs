//! Credentials: real, effective, saved and filesystem user and group ids, supplementary
//! groups, the capability calls `capget`/`capset` and prctl's capability options
//! ([`prctl_caps`], called from `prctl` in `clone.rs`). Each process has its own (fork
//! copies them, execve transforms them: `kernel::caps`). Changing user ids needs
//! CAP_SETUID, group ids and groups CAP_SETGID; a change of user ids moves the
//! capabilities as Linux's `cap_task_fix_setuid` does. Files keep being owned by the
//! sandbox's user: ids change what the guest is told and what it may set, not host access.

use snare_abi::Errno;
use snare_syscalls_table::nr;

use snare_abi::caps::{
    Cap, CapUserData, CapUserHeader, LINUX_CAPABILITY_VERSION_1, LINUX_CAPABILITY_VERSION_2,
    LINUX_CAPABILITY_VERSION_3,
};

use super::arg::i32_;
use super::Handler;
use crate::kernel::process::{lock, Creds};
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
    (nr::CAPGET, sys_capget),
    (nr::CAPSET, sys_capset),
];

/// Most supplementary groups (NGROUPS_MAX).
const NGROUPS_MAX: usize = 65536;

fn creds(task: &Task) -> Creds {
    task.tg().state().creds.clone()
}

fn set_creds(task: &Task, c: Creds) {
    task.tg().state().commit_creds(c);
}

/// Sets user ids `[r, e, s]` (and the filesystem id to the effective one), moving the
/// capabilities as Linux does.
fn set_uids(task: &Task, mut c: Creds, [r, e, s]: [u32; 3]) {
    c.caps.fix_setuid([c.ruid, c.euid, c.suid], [r, e, s]);
    (c.ruid, c.euid, c.suid, c.fsuid) = (r, e, s, e);
    set_creds(task, c);
}

/// Sets group ids `[r, e, s]` (and the filesystem id to the effective one).
fn set_gids(task: &Task, mut c: Creds, [r, e, s]: [u32; 3]) {
    (c.rgid, c.egid, c.sgid, c.fsgid) = (r, e, s, e);
    set_creds(task, c);
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

/// Implements `setgroups(2)` (CAP_SETGID).
fn sys_setgroups(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let n = usize::try_from(i32_(a[0])).map_err(|_| Errno::EINVAL)?;
    if n > NGROUPS_MAX {
        return Err(Errno::EINVAL);
    }
    let mut c = creds(task);
    if !c.capable(Cap::Setgid) {
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
    let c = creds(task);
    let ids = set_res(
        [c.ruid, c.euid, c.suid],
        [id(a[0]), id(a[1]), id(a[2])],
        c.capable(Cap::Setuid),
    )?;
    set_uids(task, c, ids);
    Ok(0)
}

/// Implements `setresgid(2)`.
fn sys_setresgid(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let c = creds(task);
    let ids = set_res(
        [c.rgid, c.egid, c.sgid],
        [id(a[0]), id(a[1]), id(a[2])],
        c.capable(Cap::Setgid),
    )?;
    set_gids(task, c, ids);
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
    let c = creds(task);
    let ids = set_one([c.ruid, c.euid, c.suid], v, c.capable(Cap::Setuid))?;
    set_uids(task, c, ids);
    Ok(0)
}

/// Implements `setgid(2)`.
fn sys_setgid(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let v = id(a[0]).ok_or(Errno::EINVAL)?;
    let c = creds(task);
    let ids = set_one([c.rgid, c.egid, c.sgid], v, c.capable(Cap::Setgid))?;
    set_gids(task, c, ids);
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
    let c = creds(task);
    let ids = set_re(
        [c.ruid, c.euid, c.suid],
        id(a[0]),
        id(a[1]),
        c.capable(Cap::Setuid),
    )?;
    set_uids(task, c, ids);
    Ok(0)
}

/// Implements `setregid(2)`.
fn sys_setregid(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let c = creds(task);
    let ids = set_re(
        [c.rgid, c.egid, c.sgid],
        id(a[0]),
        id(a[1]),
        c.capable(Cap::Setgid),
    )?;
    set_gids(task, c, ids);
    Ok(0)
}

/// Implements `setfsuid(2)`: the filesystem uid becomes `a[0]` if it is one of the real,
/// effective, saved or filesystem uids, or the caller holds CAP_SETUID; leaving 0 drops
/// the filesystem capabilities from the effective set, coming back to 0 raises the
/// permitted ones. Returns the previous filesystem uid, whether it changed or not.
fn sys_setfsuid(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let mut c = creds(task);
    let (old, v) = (c.fsuid, a[0] as u32);
    let ok = [c.ruid, c.euid, c.suid, c.fsuid].contains(&v) || c.capable(Cap::Setuid);
    if ok && v != u32::MAX && v != old {
        c.caps.fix_setfsuid(old, v);
        c.fsuid = v;
        set_creds(task, c);
    }
    Ok(u64::from(old))
}

/// Implements `setfsgid(2)` (the same rules, with CAP_SETGID and no capability change).
fn sys_setfsgid(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let mut c = creds(task);
    let (old, v) = (c.fsgid, a[0] as u32);
    let ok = [c.rgid, c.egid, c.sgid, c.fsgid].contains(&v) || c.capable(Cap::Setgid);
    if ok && v != u32::MAX && v != old {
        c.fsgid = v;
        set_creds(task, c);
    }
    Ok(u64::from(old))
}

/// The version `capget`/`capset` are told to use, and how many 32-bit words per set it
/// passes; a bad version is answered with Linux's preferred one written back, and
/// `EINVAL`.
fn cap_version(task: &Task, header: u64) -> Result<usize, Errno> {
    let h: CapUserHeader = task.mm.read_val(header)?;
    match h.version {
        LINUX_CAPABILITY_VERSION_1 => Ok(1),
        LINUX_CAPABILITY_VERSION_2 | LINUX_CAPABILITY_VERSION_3 => Ok(2),
        _ => {
            task.mm
                .write(header, &LINUX_CAPABILITY_VERSION_3.to_ne_bytes())?;
            Err(Errno::EINVAL)
        }
    }
}

/// Implements `capget(2)`: the effective, permitted and inheritable sets of the caller
/// (`pid` 0 or its own) or of thread `pid` (its process's: capabilities are per process
/// here). A NULL data pointer asks only whether the version is known (0, with the
/// preferred one written back when it isn't).
fn sys_capget(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let words = match cap_version(task, a[0]) {
        Ok(_) | Err(Errno::EINVAL) if a[1] == 0 => return Ok(0),
        r => r?,
    };
    let pid: i32 = task.mm.read_val(a[0].wrapping_add(4))?;
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    let caps = if pid == 0 || pid == task.tid {
        creds(task).caps
    } else {
        let target = lock(&task.k.pids).tasks.get(&pid).cloned();
        let caps = target.ok_or(Errno::ESRCH)?.tg.state().creds.caps;
        caps
    };
    let word = |set: u64, i: usize| (set >> (32 * i)) as u32;
    let data: Vec<u8> = (0..words)
        .flat_map(|i| {
            let d = CapUserData {
                effective: word(caps.effective, i),
                permitted: word(caps.permitted, i),
                inheritable: word(caps.inheritable, i),
            };
            snare_abi::pod::as_bytes(&d).to_vec()
        })
        .collect();
    task.mm.write(a[1], &data)?;
    Ok(0)
}

/// Implements `capset(2)` for the caller only (`pid` 0 or its own tid; any other is
/// `EPERM`), with Linux's rules ([`CapSets::capset`]). Version 1 passes capabilities
/// 0..=31 only: the others are cleared.
///
/// [`CapSets::capset`]: crate::kernel::caps::CapSets::capset
fn sys_capset(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let words = cap_version(task, a[0])?;
    let pid: i32 = task.mm.read_val(a[0].wrapping_add(4))?;
    if pid != 0 && pid != task.tid {
        return Err(Errno::EPERM);
    }
    let (mut e, mut p, mut i) = (0u64, 0u64, 0u64);
    for w in 0..words {
        let d: CapUserData = task.mm.read_val(a[1].wrapping_add(12 * w as u64))?;
        e |= u64::from(d.effective) << (32 * w);
        p |= u64::from(d.permitted) << (32 * w);
        i |= u64::from(d.inheritable) << (32 * w);
    }
    let mut st = task.tg().state();
    st.creds.caps = st.creds.caps.capset(e, p, i)?;
    Ok(0)
}

/// The `prctl` options about capabilities and privileges (`None`: another option):
/// the bounding set (`PR_CAPBSET_*`), the ambient set, keepcaps, the secure bits and
/// no_new_privs, all per process. The guest's no_new_privs is its own: the Sentry's host
/// threads run with theirs set whatever the guest asks.
pub(super) fn prctl_caps(task: &Task, option: u32, a: [u64; 6]) -> Option<Result<u64, Errno>> {
    use snare_abi::caps::{pr, Cap, SECBIT_KEEP_CAPS};
    let tg = task.tg();
    let mut st = tg.state();
    let c = &mut st.creds.caps;
    Some(match option {
        pr::CAPBSET_READ => match Cap::from_number(a[1]) {
            Some(cap) => Ok(u64::from(c.bounding & cap.bit() != 0)),
            None => Err(Errno::EINVAL),
        },
        pr::CAPBSET_DROP => c.bounding_drop(a[1]).map(|()| 0),
        pr::CAP_AMBIENT => c.ambient_op(a[1], a[2], a[3], a[4]),
        pr::GET_KEEPCAPS => Ok(u64::from(c.securebits & SECBIT_KEEP_CAPS != 0)),
        pr::SET_KEEPCAPS => c.set_keepcaps(a[1]).map(|()| 0),
        pr::GET_SECUREBITS => Ok(u64::from(c.securebits)),
        pr::SET_SECUREBITS => c.set_securebits(a[1]).map(|()| 0),
        pr::SET_NO_NEW_PRIVS => {
            if a[1] != 1 || a[2] | a[3] | a[4] != 0 {
                return Some(Err(Errno::EINVAL));
            }
            c.no_new_privs = true;
            Ok(0)
        }
        pr::GET_NO_NEW_PRIVS => {
            if a[1] | a[2] | a[3] | a[4] != 0 {
                return Some(Err(Errno::EINVAL));
            }
            Ok(u64::from(c.no_new_privs))
        }
        _ => return None,
    })
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
