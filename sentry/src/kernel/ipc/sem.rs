//! System V semaphores (`semget(2)`, `semop(2)`, `semtimedop(2)`, `semctl(2)`).
//!
//! A `semop` array is applied atomically, in order, each operation seeing the ones before
//! it (Linux's `perform_atomic_semop`): all of it or nothing. When an operation can't go
//! on (a decrement below zero, a wait for zero on a non-zero value) the caller fails with
//! `EAGAIN` if that operation has `IPC_NOWAIT`, else sleeps on the set's wait queue and
//! tries again at every change; the operation it waits on is what `GETNCNT`/`GETZCNT`
//! count. A removed set wakes its sleepers with `EIDRM`; a signal ends the sleep with
//! `EINTR`, never restarted (as Linux); a timeout with `EAGAIN`.
//!
//! `SEM_UNDO`: each task holds a [`SemUndo`] list (shared by `CLONE_SYSVSEM` clones; a
//! fork starts empty; kept across exec). The adjustments themselves live in the set, one
//! row per list that used it, so `SETVAL`/`SETALL` clear them and `IPC_RMID` drops them;
//! when the last task holding the list lets go (exit, `unshare(CLONE_SYSVSEM)`), each
//! set's row is added to its values, clamped to `0..=SEMVMX`.
//!
//! Deviations: a change wakes every sleeper of the set, which retry in no fixed order
//! (Linux retries its queue in order, so among sleepers that both could go on it is not
//! defined who does); `sem_otime` is per set. Beyond `kernel.sem`, the Sandbox holds at
//! most [`SANDBOX_SEMS`] semaphores (`ENOSPC`) and [`SANDBOX_UNDO`] undo adjustments
//! (`ENOMEM`) in all.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Instant;

use snare_abi::ipc::{
    Sembuf, Semid64Ds, Seminfo, IPC_NOWAIT, SEMAEM, SEMMAP, SEMMNU, SEMUME, SEMUSZ, SEMVMX,
    SEM_UNDO,
};
use snare_abi::Errno;

use super::{
    check_owner, find_key, ipcperms, lock, now, Ids, IpcCred, IpcNamespace, KernPerm, Object,
};
use crate::kernel::wait::{block, WaitQueue};

/// The most semaphores all sets of the sandbox may hold (16 bytes each to the Sentry).
pub const SANDBOX_SEMS: u64 = 1 << 20;
/// The most undo adjustments (one per semaphore of a set, per list that used the set
/// with `SEM_UNDO`) the sandbox may hold.
pub const SANDBOX_UNDO: u64 = 1 << 22;

#[derive(Clone, Copy, Debug, Default)]
struct Sem {
    val: i32,
    pid: i32,
}

/// A semaphore set.
#[derive(Debug)]
pub struct SemSet {
    perm: KernPerm,
    sems: Vec<Sem>,
    otime: i64,
    ctime: i64,
    /// Undo adjustments by list id: one per semaphore.
    undo: HashMap<u64, Vec<i16>>,
    /// The sleepers, by a number of theirs: the semaphore they wait on, and whether for
    /// zero.
    waiting: HashMap<u64, (u16, bool)>,
    queue: Arc<WaitQueue>,
}

impl Object for SemSet {
    fn perm(&self) -> &KernPerm {
        &self.perm
    }
    fn perm_mut(&mut self) -> &mut KernPerm {
        &mut self.perm
    }
}

impl SemSet {
    fn stat(&self) -> Semid64Ds {
        Semid64Ds {
            sem_perm: self.perm.to_abi(),
            sem_otime: self.otime,
            sem_ctime: self.ctime,
            sem_nsems: self.sems.len() as u64,
            ..Semid64Ds::default()
        }
    }

    /// Tries `sops` for process `tgid`: applied (`Ok(None)`), or the index of the first
    /// operation that must wait (`Ok(Some)`); `EAGAIN` if that one has `IPC_NOWAIT`,
    /// `ERANGE` past `SEMVMX` or past what an undo adjustment holds. Nothing changes
    /// unless all of it goes.
    fn try_ops(&mut self, sops: &[Sembuf], undo: u64, tgid: i32) -> Result<Option<usize>, Errno> {
        let mut vals: HashMap<u16, i32> = HashMap::new();
        let mut adj: HashMap<u16, i32> = HashMap::new();
        let row = self.undo.get(&undo);
        for (i, op) in sops.iter().enumerate() {
            let n = op.sem_num;
            let cur = *vals
                .entry(n)
                .or_insert_with(|| self.sems[usize::from(n)].val);
            let blocked = if op.sem_op == 0 {
                cur != 0
            } else {
                cur + i32::from(op.sem_op) < 0
            };
            if blocked {
                if op.sem_flg & IPC_NOWAIT as i16 != 0 {
                    return Err(Errno::EAGAIN);
                }
                return Ok(Some(i));
            }
            let new = cur + i32::from(op.sem_op);
            if new > SEMVMX {
                return Err(Errno::ERANGE);
            }
            vals.insert(n, new);
            if op.sem_flg & SEM_UNDO != 0 {
                let base = row.map_or(0, |r| i32::from(r[usize::from(n)]));
                let a = adj.entry(n).or_insert(base);
                *a -= i32::from(op.sem_op);
                if *a < -SEMAEM - 1 || *a > SEMAEM {
                    return Err(Errno::ERANGE);
                }
            }
        }
        for (n, v) in vals {
            self.sems[usize::from(n)] = Sem { val: v, pid: tgid };
        }
        if !adj.is_empty() {
            if let Some(row) = self.undo.get_mut(&undo) {
                for (n, a) in adj {
                    row[usize::from(n)] = a as i16;
                }
            }
        }
        self.otime = now();
        Ok(None)
    }

    /// Clears the undo adjustments of semaphore `n` (every one, with `None`).
    fn clear_undo(&mut self, n: Option<usize>) {
        for row in self.undo.values_mut() {
            match n {
                Some(n) => row[n] = 0,
                None => row.iter_mut().for_each(|a| *a = 0),
            }
        }
    }
}

/// The sets, and what they hold.
#[derive(Debug, Default)]
pub struct Table {
    ids: Ids<SemSet>,
    /// Semaphores of all sets (`used_sems`).
    used: u64,
    /// Undo adjustments of all sets.
    undo_slots: u64,
}

impl Table {
    fn remove(&mut self, id: i32) {
        if let Some(set) = self.ids.remove(id) {
            self.used -= set.sems.len() as u64;
            self.undo_slots -= (set.undo.len() * set.sems.len()) as u64;
            set.queue.notify();
        }
    }
}

/// A task's `SEM_UNDO` list: the sets it has adjustments in, applied when the last task
/// holding it drops it.
#[derive(Debug)]
pub struct SemUndo {
    id: u64,
    ns: OnceLock<Weak<IpcNamespace>>,
    sets: Mutex<Vec<i32>>,
    /// The process that used it last (the pid the semaphores show when it is applied).
    tgid: AtomicI32,
}

impl Default for SemUndo {
    fn default() -> SemUndo {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        SemUndo {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            ns: OnceLock::new(),
            sets: Mutex::new(Vec::new()),
            tgid: AtomicI32::new(0),
        }
    }
}

impl Drop for SemUndo {
    fn drop(&mut self) {
        let Some(ns) = self.ns.get().and_then(Weak::upgrade) else {
            return;
        };
        let sets = std::mem::take(&mut *lock(&self.sets));
        let tgid = self.tgid.load(Ordering::Relaxed);
        let mut guard = lock(&ns.sem);
        let t = &mut *guard;
        for id in sets {
            let Ok(set) = t.ids.get_mut(id) else {
                continue;
            };
            let Some(row) = set.undo.remove(&self.id) else {
                continue;
            };
            t.undo_slots -= row.len() as u64;
            for (s, a) in set.sems.iter_mut().zip(row) {
                if a != 0 {
                    s.val = (s.val + i32::from(a)).clamp(0, SEMVMX);
                    s.pid = tgid;
                }
            }
            set.queue.notify();
        }
    }
}

/// Gives every sleeper a number of its own.
static NEXT_WAITER: AtomicU64 = AtomicU64::new(1);

impl IpcNamespace {
    /// `semget(2)`: the id of `key`'s set (with at least `nsems` semaphores, `EINVAL`), or
    /// of a new set of `nsems` (1 to `semmsl`, checked by the caller) with `flags`' mode.
    pub fn semget(&self, key: i32, nsems: u32, flags: u32, c: &IpcCred) -> Result<i32, Errno> {
        let l = self.limits();
        if nsems > l.semmsl {
            return Err(Errno::EINVAL);
        }
        let mut guard = lock(&self.sem);
        let t = &mut *guard;
        let found = find_key(&t.ids, key, flags, c, |s| {
            if nsems as usize > s.sems.len() {
                Err(Errno::EINVAL)
            } else {
                Ok(())
            }
        })?;
        if let Some(id) = found {
            return Ok(id);
        }
        if nsems == 0 {
            return Err(Errno::EINVAL);
        }
        let n = u64::from(nsems);
        if t.used + n > u64::from(l.semmns) || t.used + n > SANDBOX_SEMS {
            return Err(Errno::ENOSPC);
        }
        let set = SemSet {
            perm: KernPerm::new(key, flags, c),
            sems: vec![Sem::default(); nsems as usize],
            otime: 0,
            ctime: now(),
            undo: HashMap::new(),
            waiting: HashMap::new(),
            queue: Arc::new(WaitQueue::new()),
        };
        let id = t.ids.add(l.semmni, set)?;
        t.used += n;
        Ok(id)
    }

    /// `semop(2)` of the checked array `sops` (1 to `semopm` operations) on set `id`, until
    /// `deadline`: `EINVAL` for no such set, `EFBIG` for a semaphore past its end, `EACCES`
    /// unless `c` may write (or, for only waits for zero, read) it; then as the module
    /// says.
    pub fn semop(
        self: &Arc<Self>,
        id: i32,
        sops: &[Sembuf],
        deadline: Option<Instant>,
        undo: &SemUndo,
        c: &IpcCred,
    ) -> Result<(), Errno> {
        let max = sops.iter().map(|s| s.sem_num).max().unwrap_or(0);
        let alter = sops.iter().any(|s| s.sem_op != 0);
        let undos = sops.iter().any(|s| s.sem_flg & SEM_UNDO != 0);
        let queue = {
            let mut guard = lock(&self.sem);
            let t = &mut *guard;
            let set = t.ids.get_mut(id)?;
            if usize::from(max) >= set.sems.len() {
                return Err(Errno::EFBIG);
            }
            ipcperms(c, &set.perm, if alter { 0o222 } else { 0o444 })?;
            if undos && !set.undo.contains_key(&undo.id) {
                let n = set.sems.len() as u64;
                if t.undo_slots + n > SANDBOX_UNDO {
                    return Err(Errno::ENOMEM);
                }
                set.undo.insert(undo.id, vec![0; n as usize]);
                t.undo_slots += n;
                let _ = undo.ns.set(Arc::downgrade(self));
                lock(&undo.sets).push(id);
            }
            if undos {
                undo.tgid.store(c.tgid, Ordering::Relaxed);
            }
            match set.try_ops(sops, undo.id, c.tgid)? {
                None => {
                    if alter {
                        set.queue.notify();
                    }
                    return Ok(());
                }
                Some(_) => set.queue.clone(),
            }
        };
        let me = NEXT_WAITER.fetch_add(1, Ordering::Relaxed);
        let r = block(&[&queue], deadline, || {
            let mut t = lock(&self.sem);
            let Ok(set) = t.ids.get_mut(id) else {
                return Some(Err(Errno::EIDRM));
            };
            match set.try_ops(sops, undo.id, c.tgid) {
                Ok(None) => {
                    if alter {
                        set.queue.notify();
                    }
                    Some(Ok(()))
                }
                Ok(Some(i)) => {
                    let op = sops[i];
                    set.waiting.insert(me, (op.sem_num, op.sem_op == 0));
                    None
                }
                Err(e) => Some(Err(e)),
            }
        });
        if let Ok(set) = lock(&self.sem).ids.get_mut(id) {
            set.waiting.remove(&me);
        }
        r.map_err(|e| match e {
            Errno::ERESTARTSYS => Errno::EINTR,
            Errno::ETIMEDOUT => Errno::EAGAIN,
            e => e,
        })
    }

    /// Runs `f` on set `id` after checking `c` may read it (`write`: write it).
    fn with_set<T>(
        &self,
        id: i32,
        write: bool,
        c: &IpcCred,
        f: impl FnOnce(&mut SemSet) -> Result<T, Errno>,
    ) -> Result<T, Errno> {
        let mut t = lock(&self.sem);
        let set = t.ids.get_mut(id)?;
        ipcperms(c, &set.perm, if write { 0o222 } else { 0o444 })?;
        f(set)
    }

    /// The number of semaphores of set `id`, checking `c` may read it (`write`: write).
    pub fn sem_nsems(&self, id: i32, write: bool, c: &IpcCred) -> Result<usize, Errno> {
        self.with_set(id, write, c, |s| Ok(s.sems.len()))
    }

    /// `semctl(GETVAL | GETPID | GETNCNT | GETZCNT)` of semaphore `num`.
    pub fn sem_get(&self, id: i32, num: i32, cmd: i32, c: &IpcCred) -> Result<i32, Errno> {
        use snare_abi::ipc::{GETNCNT, GETPID, GETVAL, GETZCNT};
        self.with_set(id, false, c, |s| {
            let n = usize::try_from(num)
                .ok()
                .filter(|&n| n < s.sems.len())
                .ok_or(Errno::EINVAL)?;
            let count = |zero: bool| {
                s.waiting
                    .values()
                    .filter(|&&(w, z)| usize::from(w) == n && z == zero)
                    .count() as i32
            };
            Ok(match cmd {
                GETVAL => s.sems[n].val,
                GETPID => s.sems[n].pid,
                GETNCNT => count(false),
                GETZCNT => count(true),
                _ => return Err(Errno::EINVAL),
            })
        })
    }

    /// `semctl(GETALL)`.
    pub fn sem_getall(&self, id: i32, c: &IpcCred) -> Result<Vec<u16>, Errno> {
        self.with_set(id, false, c, |s| {
            Ok(s.sems.iter().map(|x| x.val as u16).collect())
        })
    }

    /// `semctl(SETVAL)`: `ERANGE` outside `0..=SEMVMX` (before anything else, as Linux),
    /// `EINVAL` for a bad `num`; clears the semaphore's undo adjustments.
    pub fn sem_setval(&self, id: i32, num: i32, val: i32, c: &IpcCred) -> Result<(), Errno> {
        if !(0..=SEMVMX).contains(&val) {
            return Err(Errno::ERANGE);
        }
        let mut t = lock(&self.sem);
        let s = t.ids.get_mut(id)?;
        let n = usize::try_from(num)
            .ok()
            .filter(|&n| n < s.sems.len())
            .ok_or(Errno::EINVAL)?;
        ipcperms(c, &s.perm, 0o222)?;
        s.clear_undo(Some(n));
        s.sems[n] = Sem { val, pid: c.tgid };
        s.ctime = now();
        s.queue.notify();
        Ok(())
    }

    /// `semctl(SETALL)` with `vals` (one per semaphore, read by the caller after
    /// [`Self::sem_nsems`]): `ERANGE` past `SEMVMX`; clears every undo adjustment.
    pub fn sem_setall(&self, id: i32, vals: &[u16], c: &IpcCred) -> Result<(), Errno> {
        self.with_set(id, true, c, |s| {
            if vals.len() != s.sems.len() {
                // Removed and made again between the two calls: not the set read for.
                return Err(Errno::EIDRM);
            }
            if vals.iter().any(|&v| i32::from(v) > SEMVMX) {
                return Err(Errno::ERANGE);
            }
            for (sem, &v) in s.sems.iter_mut().zip(vals) {
                *sem = Sem {
                    val: i32::from(v),
                    pid: c.tgid,
                };
            }
            s.clear_undo(None);
            s.ctime = now();
            s.queue.notify();
            Ok(())
        })
    }

    /// `semctl(IPC_STAT | SEM_STAT | SEM_STAT_ANY)`, as [`IpcNamespace::shm_stat`].
    pub fn sem_stat(
        &self,
        id: i32,
        by_index: bool,
        any: bool,
        c: &IpcCred,
    ) -> Result<(Semid64Ds, i32), Errno> {
        let t = lock(&self.sem);
        let s = if by_index {
            t.ids.at_index(id)?
        } else {
            t.ids.get(id)?
        };
        if !any {
            ipcperms(c, &s.perm, 0o444)?;
        }
        Ok((s.stat(), if by_index { s.perm.id } else { 0 }))
    }

    /// `semctl(IPC_SET)`.
    pub fn sem_set(&self, id: i32, ds: &Semid64Ds, c: &IpcCred) -> Result<(), Errno> {
        let mut t = lock(&self.sem);
        let s = t.ids.get_mut(id)?;
        check_owner(c, &s.perm)?;
        s.perm.set(&ds.sem_perm)?;
        s.ctime = now();
        Ok(())
    }

    /// `semctl(IPC_RMID)`: sleepers wake with `EIDRM`.
    pub fn sem_rmid(&self, id: i32, c: &IpcCred) -> Result<(), Errno> {
        let mut t = lock(&self.sem);
        check_owner(c, t.ids.get(id)?.perm())?;
        t.remove(id);
        Ok(())
    }

    /// `semctl(IPC_INFO | SEM_INFO)`: the limits (`SEM_INFO`: with the sets and
    /// semaphores in use), and the highest index in use.
    pub fn sem_info(&self, in_use: bool) -> (Seminfo, i32) {
        let l = self.limits();
        let t = lock(&self.sem);
        let mut info = Seminfo {
            semmap: SEMMAP,
            semmni: l.semmni as i32,
            semmns: l.semmns as i32,
            semmnu: SEMMNU,
            semmsl: l.semmsl as i32,
            semopm: l.semopm as i32,
            semume: SEMUME,
            semusz: SEMUSZ,
            semvmx: SEMVMX,
            semaem: SEMAEM,
        };
        if in_use {
            info.semusz = t.ids.in_use() as i32;
            info.semaem = t.used as i32;
        }
        (info, t.ids.max_index())
    }
}

/// `/proc/sysvipc/sem`.
pub(super) fn proc_text(t: &Table) -> String {
    let mut s = String::from(
        "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n",
    );
    for set in t.ids.iter() {
        let p = &set.perm;
        s.push_str(&format!(
            "{:10} {:10}  {:4o} {:10} {:5} {:5} {:5} {:5} {:10} {:10}\n",
            p.key,
            p.id,
            p.mode,
            set.sems.len(),
            p.uid,
            p.gid,
            p.cuid,
            p.cgid,
            set.otime,
            set.ctime
        ));
    }
    s
}
