//! System V IPC (`sysvipc(7)`): the sandbox's one IPC namespace, which every guest process
//! shares as a container's processes share theirs. It holds three tables of objects named
//! by integer ids — shared memory segments ([`shm`]), semaphore sets ([`sem`]) and message
//! queues ([`msg`]) — their limits (the `kernel.shm*`, `kernel.sem`, `kernel.msg*` sysctls,
//! set from an OCI bundle at start), and what `/proc/sysvipc/*` and `/proc/sys/kernel/*`
//! show of them. `syscalls/sysv_{shm,sem,msg}.rs` decode the calls and come here.
//!
//! Common rules, as Linux's `ipc/util.c`:
//! - An id is `seq * IPCMNI + index`: a new object takes the next free index after the last
//!   one given (cyclically, below `max(in_use * 3 / 2, 64)`), and the sequence number moves
//!   on when the indexes wrap, so a removed object's id is not soon reused.
//! - `*get` with `IPC_PRIVATE` always makes an object; with a key it finds the object of
//!   that key (`EEXIST` with `IPC_CREAT|IPC_EXCL`, kind checks, then `EACCES` unless the
//!   mode bits asked are granted), or makes one with `IPC_CREAT` (`ENOENT` without), up to
//!   the kind's id limit (`ENOSPC`).
//! - Access: the owner's or creator's bits for their uid, the group's for their gids, else
//!   the others' ([`ipcperms`]); `IPC_SET` and `IPC_RMID` only by the owner or creator
//!   (`EPERM`); root passes both ([`capable`], the one place to switch to capabilities).
//!
//! Lock order: a VMA's mapping of a segment takes the shm table's lock when it goes (under
//! the memory manager's), so nothing here calls the memory manager with a table locked.
//!
//! Every guest number is validated before anything is allocated, and beyond Linux's own
//! limits the Sentry bounds what a guest (even a root one lifting limits) can make it hold:
//! see each kind's `SANDBOX_*` constants.

pub mod msg;
pub mod sem;
pub mod shm;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use snare_abi::ipc::{
    Ipc64Perm, IPCMNI, IPC_CREAT, IPC_EXCL, IPC_PRIVATE, MSGMAX, MSGMNB, MSGMNI, SEMMNI, SEMMNS,
    SEMMSL, SEMOPM, SHMALL, SHMMAX, SHMMNI,
};
use snare_abi::Errno;

use crate::vfs::tmpfs::Tmpfs;

/// The namespace's tunables (`/proc/sys/kernel/...`), Linux's defaults unless an OCI
/// bundle's sysctls set them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `kernel.shmmax`: bytes of one segment.
    pub shmmax: u64,
    /// `kernel.shmall`: pages of all segments.
    pub shmall: u64,
    /// `kernel.shmmni`: segments.
    pub shmmni: u32,
    /// `kernel.shm_rmid_forced` (shown; not applied: see `shm`).
    pub shm_rmid_forced: bool,
    /// `kernel.sem`: semaphores per set, semaphores in all, operations per `semop`, sets.
    pub semmsl: u32,
    pub semmns: u32,
    pub semopm: u32,
    pub semmni: u32,
    /// `kernel.msgmax`: bytes of a message; `kernel.msgmnb`: a new queue's bytes;
    /// `kernel.msgmni`: queues.
    pub msgmax: u32,
    pub msgmnb: u32,
    pub msgmni: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            shmmax: SHMMAX,
            shmall: SHMALL,
            shmmni: SHMMNI as u32,
            shm_rmid_forced: false,
            semmsl: SEMMSL,
            semmns: SEMMNS,
            semopm: SEMOPM,
            semmni: SEMMNI,
            msgmax: MSGMAX,
            msgmnb: MSGMNB,
            msgmni: MSGMNI,
        }
    }
}

/// A sysctl the namespace doesn't have, or a value it can't take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadSysctl(pub String);

impl Limits {
    /// Sets `kernel.<name>` (`shmmax`, `sem`, …) from its text, checked as Linux's
    /// handlers check a write: numbers in range, id limits at most `IPCMNI`, `sem` as four
    /// numbers.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), BadSysctl> {
        let bad = || BadSysctl(format!("kernel.{name}={value}"));
        let num = |v: &str| v.trim().parse::<u64>().map_err(|_| bad());
        let int = |v: &str| {
            num(v).and_then(|n| {
                u32::try_from(n)
                    .ok()
                    .filter(|n| *n <= i32::MAX as u32)
                    .ok_or_else(bad)
            })
        };
        let mni = |v: &str| int(v).and_then(|n| if n <= IPCMNI { Ok(n) } else { Err(bad()) });
        match name {
            "shmmax" => self.shmmax = num(value)?,
            "shmall" => self.shmall = num(value)?,
            "shmmni" => self.shmmni = mni(value)?,
            "shm_rmid_forced" => {
                self.shm_rmid_forced = match int(value)? {
                    0 => false,
                    1 => true,
                    _ => return Err(bad()),
                }
            }
            "msgmax" => self.msgmax = int(value)?,
            "msgmnb" => self.msgmnb = int(value)?,
            "msgmni" => self.msgmni = mni(value)?,
            "sem" => {
                let v: Vec<&str> = value.split_whitespace().collect();
                let [msl, mns, opm, mni_] = v[..] else {
                    return Err(bad());
                };
                let (msl, mns, opm, mni_) = (int(msl)?, int(mns)?, int(opm)?, mni(mni_)?);
                self.semmsl = msl;
                self.semmns = mns;
                self.semopm = opm;
                self.semmni = mni_;
            }
            _ => return Err(bad()),
        }
        Ok(())
    }
}

/// Which privilege a check stands for: today all of them are "euid 0".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cap {
    /// `CAP_IPC_OWNER`: bypass the mode bits.
    IpcOwner,
    /// `CAP_SYS_ADMIN`: `IPC_SET`/`IPC_RMID` of another's object.
    SysAdmin,
    /// `CAP_IPC_LOCK`: `SHM_LOCK`/`SHM_UNLOCK` of another's segment.
    IpcLock,
    /// `CAP_SYS_RESOURCE`: `msg_qbytes` above `kernel.msgmnb`.
    SysResource,
}

/// Whether `c` holds `cap` in its effective set: the one privilege test of System V IPC.
pub fn capable(c: &IpcCred, cap: Cap) -> bool {
    use snare_abi::caps::Cap as C;
    let cap = match cap {
        Cap::IpcOwner => C::IpcOwner,
        Cap::SysAdmin => C::SysAdmin,
        Cap::IpcLock => C::IpcLock,
        Cap::SysResource => C::SysResource,
    };
    c.caps & cap.bit() != 0
}

/// Who calls: the effective ids, the supplementary groups, and the process.
#[derive(Clone, Debug, Default)]
pub struct IpcCred {
    pub euid: u32,
    pub egid: u32,
    pub groups: Vec<u32>,
    pub tgid: i32,
    /// The effective capability set.
    pub caps: u64,
}

impl IpcCred {
    /// The calling task's.
    pub fn of(task: &crate::kernel::Task) -> IpcCred {
        let st = task.tg().state();
        IpcCred {
            euid: st.creds.euid,
            egid: st.creds.egid,
            groups: st.creds.groups.clone(),
            tgid: task.tgid(),
            caps: st.creds.caps.effective,
        }
    }

    fn in_group(&self, gid: u32) -> bool {
        self.egid == gid || self.groups.contains(&gid)
    }
}

/// What every object has (Linux's `struct kern_ipc_perm`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernPerm {
    pub id: i32,
    /// `IPC_PRIVATE` once removed.
    pub key: i32,
    pub uid: u32,
    pub gid: u32,
    pub cuid: u32,
    pub cgid: u32,
    /// The low nine bits, plus `SHM_DEST`/`SHM_LOCKED` for segments.
    pub mode: u32,
    pub seq: u32,
}

impl KernPerm {
    fn new(key: i32, mode: u32, c: &IpcCred) -> KernPerm {
        KernPerm {
            id: 0,
            key,
            uid: c.euid,
            gid: c.egid,
            cuid: c.euid,
            cgid: c.egid,
            mode: mode & 0o777,
            seq: 0,
        }
    }

    /// As `*ctl(IPC_STAT)` shows it.
    pub fn to_abi(&self) -> Ipc64Perm {
        Ipc64Perm {
            key: self.key,
            uid: self.uid,
            gid: self.gid,
            cuid: self.cuid,
            cgid: self.cgid,
            mode: self.mode,
            seq: self.seq as u16,
            ..Ipc64Perm::default()
        }
    }

    /// `IPC_SET`'s owner and mode bits: `EINVAL` for an id of -1.
    fn set(&mut self, p: &Ipc64Perm) -> Result<(), Errno> {
        if p.uid == u32::MAX || p.gid == u32::MAX {
            return Err(Errno::EINVAL);
        }
        self.uid = p.uid;
        self.gid = p.gid;
        self.mode = (self.mode & !0o777) | (p.mode & 0o777);
        Ok(())
    }
}

/// `EACCES` unless `c` is granted the rwx bits `flag` asks (any of its three triplets), by
/// `p`'s mode: the owner's or creator's triplet, the group's, or the others'.
pub fn ipcperms(c: &IpcCred, p: &KernPerm, flag: u32) -> Result<(), Errno> {
    let requested = ((flag >> 6) | (flag >> 3) | flag) & 7;
    let granted = if c.euid == p.uid || c.euid == p.cuid {
        p.mode >> 6
    } else if c.in_group(p.gid) || c.in_group(p.cgid) {
        p.mode >> 3
    } else {
        p.mode
    };
    if requested & !granted & 7 != 0 && !capable(c, Cap::IpcOwner) {
        return Err(Errno::EACCES);
    }
    Ok(())
}

/// `EPERM` unless `c` owns or created `p` (or holds CAP_SYS_ADMIN): for `IPC_SET` and
/// `IPC_RMID`.
pub fn check_owner(c: &IpcCred, p: &KernPerm) -> Result<(), Errno> {
    if c.euid == p.uid || c.euid == p.cuid || capable(c, Cap::SysAdmin) {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

/// Something kept in an [`Ids`] table.
pub trait Object {
    fn perm(&self) -> &KernPerm;
    fn perm_mut(&mut self) -> &mut KernPerm;
}

/// The smallest range new indexes cycle through (`ipc_min_cycle`).
const MIN_CYCLE: u32 = 64;

/// One kind's objects by index, and their keys (Linux's `struct ipc_ids`).
#[derive(Debug)]
pub struct Ids<T> {
    entries: BTreeMap<u32, T>,
    keys: HashMap<i32, u32>,
    seq: u32,
    last: Option<u32>,
}

impl<T> Default for Ids<T> {
    fn default() -> Ids<T> {
        Ids {
            entries: BTreeMap::new(),
            keys: HashMap::new(),
            seq: 0,
            last: None,
        }
    }
}

fn index_of(id: i32) -> u32 {
    id as u32 % IPCMNI
}

impl<T: Object> Ids<T> {
    pub fn in_use(&self) -> usize {
        self.entries.len()
    }

    /// The highest index in use (`ipc_get_maxidx`), 0 when none: what `*_INFO` return.
    pub fn max_index(&self) -> i32 {
        self.entries.keys().next_back().map_or(0, |&i| i as i32)
    }

    /// Adds `obj` with the next free index, if there are fewer than `limit` objects
    /// (`ENOSPC`); sets its id and sequence number, and files its key.
    pub fn add(&mut self, limit: u32, mut obj: T) -> Result<i32, Errno> {
        let in_use = self.entries.len() as u32;
        if in_use >= limit.min(IPCMNI) {
            return Err(Errno::ENOSPC);
        }
        let max = (in_use * 3 / 2).clamp(MIN_CYCLE, IPCMNI);
        let start = self.last.map_or(0, |l| l + 1);
        let free = |i: &u32| !self.entries.contains_key(i);
        let idx = (start..max)
            .find(free)
            .or_else(|| (0..start.min(max)).find(free))
            .ok_or(Errno::ENOSPC)?;
        if self.last.is_some_and(|l| idx <= l) {
            self.seq = (self.seq + 1) % (i32::MAX as u32 / IPCMNI);
        }
        self.last = Some(idx);
        let id = (self.seq * IPCMNI + idx) as i32;
        let p = obj.perm_mut();
        p.id = id;
        p.seq = self.seq;
        if p.key != IPC_PRIVATE {
            self.keys.insert(p.key, idx);
        }
        self.entries.insert(idx, obj);
        Ok(id)
    }

    /// The object of `id`: `EINVAL` if there is none, or its sequence number differs.
    pub fn get(&self, id: i32) -> Result<&T, Errno> {
        if id < 0 {
            return Err(Errno::EINVAL);
        }
        self.entries
            .get(&index_of(id))
            .filter(|o| o.perm().id == id)
            .ok_or(Errno::EINVAL)
    }

    pub fn get_mut(&mut self, id: i32) -> Result<&mut T, Errno> {
        if id < 0 {
            return Err(Errno::EINVAL);
        }
        self.entries
            .get_mut(&index_of(id))
            .filter(|o| o.perm().id == id)
            .ok_or(Errno::EINVAL)
    }

    /// The object at index `idx` (`*_STAT`, which take an index): `EINVAL` if none.
    pub fn at_index(&self, idx: i32) -> Result<&T, Errno> {
        if idx < 0 {
            return Err(Errno::EINVAL);
        }
        self.entries.get(&index_of(idx)).ok_or(Errno::EINVAL)
    }

    /// The object of `key`, if any.
    pub fn by_key(&self, key: i32) -> Option<&T> {
        self.entries.get(self.keys.get(&key)?)
    }

    /// Takes `id` out of the table.
    pub fn remove(&mut self, id: i32) -> Option<T> {
        let idx = index_of(id);
        if self.entries.get(&idx)?.perm().id != id {
            return None;
        }
        let obj = self.entries.remove(&idx)?;
        self.keys.remove(&obj.perm().key);
        Some(obj)
    }

    /// Makes `id`'s key private (a segment removed while attached), so `*get` no longer
    /// finds it.
    pub fn forget_key(&mut self, id: i32) {
        if let Ok(o) = self.get_mut(id) {
            let key = std::mem::replace(&mut o.perm_mut().key, IPC_PRIVATE);
            self.keys.remove(&key);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.entries.values()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.entries.values_mut()
    }
}

/// How `*get` goes on after looking `key` up in `ids`: `Some(id)` of an existing object
/// the caller may use, or `None` to make a new one (checked as `ipcget`). `more` checks an
/// existing object against the call (a segment's size, a set's semaphores).
pub fn find_key<T: Object>(
    ids: &Ids<T>,
    key: i32,
    flags: u32,
    c: &IpcCred,
    more: impl FnOnce(&T) -> Result<(), Errno>,
) -> Result<Option<i32>, Errno> {
    if key == IPC_PRIVATE {
        return Ok(None);
    }
    match ids.by_key(key) {
        None if flags & IPC_CREAT == 0 => Err(Errno::ENOENT),
        None => Ok(None),
        Some(_) if flags & (IPC_CREAT | IPC_EXCL) == IPC_CREAT | IPC_EXCL => Err(Errno::EEXIST),
        Some(o) => {
            more(o)?;
            ipcperms(c, o.perm(), flags)?;
            Ok(Some(o.perm().id))
        }
    }
}

/// The current time in seconds, as the `*_time` fields keep it.
pub fn now() -> i64 {
    crate::vfs::pipe::now_ts().0
}

/// The sandbox's IPC namespace.
#[derive(Debug)]
pub struct IpcNamespace {
    limits: Mutex<Limits>,
    pub(crate) shm: Mutex<shm::Table>,
    pub(crate) sem: Mutex<sem::Table>,
    pub(crate) msg: Mutex<msg::Table>,
    /// The tmpfs segments' files are made in (the memfd one: counted against the sandbox's
    /// memory).
    files: Arc<Tmpfs>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl IpcNamespace {
    pub fn new(limits: Limits, files: Arc<Tmpfs>) -> Arc<IpcNamespace> {
        Arc::new(IpcNamespace {
            limits: Mutex::new(limits),
            shm: Mutex::default(),
            sem: Mutex::default(),
            msg: Mutex::default(),
            files,
        })
    }

    pub fn limits(&self) -> Limits {
        *lock(&self.limits)
    }

    /// Replaces the limits (at start, from the bundle's sysctls).
    pub fn set_limits(&self, l: Limits) {
        *lock(&self.limits) = l;
    }

    /// The text of `/proc/sys/kernel/<name>`, if the namespace has that file.
    pub fn sysctl(&self, name: &str) -> Option<String> {
        let l = self.limits();
        Some(match name {
            "shmmax" => format!("{}\n", l.shmmax),
            "shmall" => format!("{}\n", l.shmall),
            "shmmni" => format!("{}\n", l.shmmni),
            "shm_rmid_forced" => format!("{}\n", u8::from(l.shm_rmid_forced)),
            "sem" => format!("{}\t{}\t{}\t{}\n", l.semmsl, l.semmns, l.semopm, l.semmni),
            "msgmax" => format!("{}\n", l.msgmax),
            "msgmnb" => format!("{}\n", l.msgmnb),
            "msgmni" => format!("{}\n", l.msgmni),
            "shm_next_id" | "sem_next_id" | "msg_next_id" => "-1\n".to_string(),
            "auto_msgmni" => "0\n".to_string(),
            _ => return None,
        })
    }

    /// The text of `/proc/sysvipc/<name>` (`shm`, `sem`, `msg`), as Linux formats it.
    pub fn proc_file(&self, name: &str) -> Option<String> {
        match name {
            "shm" => Some(shm::proc_text(&lock(&self.shm))),
            "sem" => Some(sem::proc_text(&lock(&self.sem))),
            "msg" => Some(msg::proc_text(&lock(&self.msg))),
            _ => None,
        }
    }
}

/// The `/proc/sys/kernel` files of the namespace, in listing order.
pub const SYSCTL_FILES: &[&str] = &[
    "auto_msgmni",
    "msg_next_id",
    "msgmax",
    "msgmnb",
    "msgmni",
    "sem",
    "sem_next_id",
    "shm_next_id",
    "shm_rmid_forced",
    "shmall",
    "shmmax",
    "shmmni",
];

#[cfg(test)]
mod tests;
