//! System V message queues (`msgget(2)`, `msgsnd(2)`, `msgrcv(2)`, `msgctl(2)`).
//!
//! A queue keeps its messages in the order sent. A message fits while the queue's bytes
//! plus its own stay within `msg_qbytes`, and its count plus one too (as Linux, which
//! counts messages against the byte limit so empty ones can't pile up); a sender waits
//! for room, a receiver for a message of the type it asks (`msgtyp` 0: the first; > 0:
//! the first of that type, or with `MSG_EXCEPT` of another; < 0: the first of the lowest
//! type up to `-msgtyp`), both on the queue's one wait queue, woken at every change.
//! `MSG_COPY` (with `IPC_NOWAIT`) copies the `msgtyp`-th message (from 0) and leaves it.
//! A signal ends a wait with `ERESTARTNOHAND` (`EINTR` when a handler runs: never
//! restarted), removal with `EIDRM`.
//!
//! Deviations: every waiter retries at every change, in no fixed order (Linux hands a
//! message straight to a waiting receiver). Beyond `kernel.msg*` (which a root guest can
//! lift with `msg_qbytes`), the Sandbox holds at most [`SANDBOX_BYTES`] of messages in all,
//! each counting [`MSG_OVERHEAD`] more: past that a message doesn't fit (the sender waits,
//! or gets `EAGAIN`).

use std::collections::VecDeque;
use std::sync::Arc;

use snare_abi::ipc::{
    Msginfo, Msqid64Ds, IPC_NOWAIT, MSGMAP, MSGPOOL, MSGSEG, MSGSSZ, MSGTQL, MSG_COPY, MSG_EXCEPT,
    MSG_NOERROR,
};
use snare_abi::Errno;

use super::{
    capable, check_owner, find_key, ipcperms, lock, now, Cap, Ids, IpcCred, IpcNamespace, KernPerm,
    Object,
};
use crate::kernel::wait::{block, WaitQueue};

/// The most bytes the sandbox's queued messages may take, overhead included.
pub const SANDBOX_BYTES: u64 = 64 << 20;
/// What one message costs beyond its text (Linux's `struct msg_msg`).
pub const MSG_OVERHEAD: u64 = 48;

/// A message queue.
#[derive(Debug)]
pub struct Queue {
    perm: KernPerm,
    msgs: VecDeque<(i64, Vec<u8>)>,
    cbytes: u64,
    qbytes: u64,
    stime: i64,
    rtime: i64,
    ctime: i64,
    lspid: i32,
    lrpid: i32,
    queue: Arc<WaitQueue>,
}

impl Object for Queue {
    fn perm(&self) -> &KernPerm {
        &self.perm
    }
    fn perm_mut(&mut self) -> &mut KernPerm {
        &mut self.perm
    }
}

impl Queue {
    fn stat(&self) -> Msqid64Ds {
        Msqid64Ds {
            msg_perm: self.perm.to_abi(),
            msg_stime: self.stime,
            msg_rtime: self.rtime,
            msg_ctime: self.ctime,
            msg_cbytes: self.cbytes,
            msg_qnum: self.msgs.len() as u64,
            msg_qbytes: self.qbytes,
            msg_lspid: self.lspid,
            msg_lrpid: self.lrpid,
            ..Msqid64Ds::default()
        }
    }

    fn cost(&self) -> u64 {
        self.cbytes + self.msgs.len() as u64 * MSG_OVERHEAD
    }
}

/// The queues, and what their messages take.
#[derive(Debug, Default)]
pub struct Table {
    ids: Ids<Queue>,
    /// Bytes of all messages, overhead included (against [`SANDBOX_BYTES`]).
    held: u64,
    /// Bytes of message text, and messages, in all (`MSG_INFO`).
    bytes: u64,
    count: u64,
}

impl Table {
    fn remove(&mut self, id: i32) {
        if let Some(q) = self.ids.remove(id) {
            self.held -= q.cost();
            self.bytes -= q.cbytes;
            self.count -= q.msgs.len() as u64;
            q.queue.notify();
        }
    }
}

/// Which message `msgrcv` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Select {
    /// `msgtyp` 0.
    Any,
    Equal(i64),
    /// `MSG_EXCEPT`.
    NotEqual(i64),
    /// `msgtyp` < 0: the lowest type up to this.
    LessEqual(i64),
    /// `MSG_COPY`: the n-th message.
    Number(i64),
}

impl Select {
    /// The selection `msgtyp` and `msgflg` ask (Linux's `convert_mode`).
    pub fn of(msgtyp: i64, flags: u32) -> Select {
        if flags & MSG_COPY != 0 {
            Select::Number(msgtyp)
        } else if msgtyp == 0 {
            Select::Any
        } else if msgtyp < 0 {
            Select::LessEqual(msgtyp.checked_neg().unwrap_or(i64::MAX))
        } else if flags & MSG_EXCEPT != 0 {
            Select::NotEqual(msgtyp)
        } else {
            Select::Equal(msgtyp)
        }
    }

    fn find(self, msgs: &VecDeque<(i64, Vec<u8>)>) -> Option<usize> {
        match self {
            Select::Any => (!msgs.is_empty()).then_some(0),
            Select::Equal(t) => msgs.iter().position(|m| m.0 == t),
            Select::NotEqual(t) => msgs.iter().position(|m| m.0 != t),
            Select::LessEqual(t) => msgs
                .iter()
                .enumerate()
                .filter(|(_, m)| m.0 <= t)
                .min_by_key(|(i, m)| (m.0, *i))
                .map(|(i, _)| i),
            Select::Number(n) => usize::try_from(n).ok().filter(|&n| n < msgs.len()),
        }
    }
}

fn wait_error(e: Errno) -> Errno {
    match e {
        Errno::ERESTARTSYS => Errno::ERESTARTNOHAND,
        e => e,
    }
}

impl IpcNamespace {
    /// `msgget(2)`.
    pub fn msgget(&self, key: i32, flags: u32, c: &IpcCred) -> Result<i32, Errno> {
        let l = self.limits();
        let mut t = lock(&self.msg);
        if let Some(id) = find_key(&t.ids, key, flags, c, |_| Ok(()))? {
            return Ok(id);
        }
        let q = Queue {
            perm: KernPerm::new(key, flags, c),
            msgs: VecDeque::new(),
            cbytes: 0,
            qbytes: u64::from(l.msgmnb),
            stime: 0,
            rtime: 0,
            ctime: now(),
            lspid: 0,
            lrpid: 0,
            queue: Arc::new(WaitQueue::new()),
        };
        t.ids.add(l.msgmni, q)
    }

    /// `msgsnd(2)` of a message of type `mtype` (≥ 1) and text `text` (at most `msgmax`
    /// bytes: both checked by the caller) to queue `id`: `EINVAL` for no such queue,
    /// `EACCES` unless `c` may write it, `EAGAIN` when full and `nowait`.
    pub fn msgsnd(
        &self,
        id: i32,
        mtype: i64,
        text: Vec<u8>,
        nowait: bool,
        c: &IpcCred,
    ) -> Result<(), Errno> {
        let len = text.len() as u64;
        let mut text = Some(text);
        let mut attempt = |first: bool| -> Option<Result<(), Errno>> {
            let mut guard = lock(&self.msg);
            let t = &mut *guard;
            let q = match t.ids.get_mut(id) {
                Ok(q) => q,
                Err(e) => return Some(Err(if first { e } else { Errno::EIDRM })),
            };
            if let Err(e) = ipcperms(c, &q.perm, 0o222) {
                return Some(Err(e));
            }
            let fits = q.cbytes + len <= q.qbytes
                && (q.msgs.len() as u64) < q.qbytes
                && t.held + len + MSG_OVERHEAD <= SANDBOX_BYTES;
            if !fits {
                return nowait.then_some(Err(Errno::EAGAIN));
            }
            q.msgs.push_back((mtype, text.take()?));
            q.cbytes += len;
            q.lspid = c.tgid;
            q.stime = now();
            q.queue.notify();
            t.held += len + MSG_OVERHEAD;
            t.bytes += len;
            t.count += 1;
            Some(Ok(()))
        };
        if let Some(r) = attempt(true) {
            return r;
        }
        let queue = lock(&self.msg).ids.get(id).map(|q| q.queue.clone());
        let Ok(queue) = queue else {
            return Err(Errno::EIDRM);
        };
        block(&[&queue], None, || attempt(false)).map_err(wait_error)
    }

    /// `msgrcv(2)` from queue `id` of the message `sel` picks into a buffer of `bufsz`
    /// bytes: its type and text (cut to `bufsz` with `MSG_NOERROR`, else `E2BIG`);
    /// `ENOMSG` with `IPC_NOWAIT` when there is none. `MSG_COPY` leaves it queued.
    pub fn msgrcv(
        &self,
        id: i32,
        bufsz: usize,
        sel: Select,
        flags: u32,
        c: &IpcCred,
    ) -> Result<(i64, Vec<u8>), Errno> {
        let attempt = |first: bool| -> Option<Result<(i64, Vec<u8>), Errno>> {
            let mut guard = lock(&self.msg);
            let t = &mut *guard;
            let q = match t.ids.get_mut(id) {
                Ok(q) => q,
                Err(e) => return Some(Err(if first { e } else { Errno::EIDRM })),
            };
            if let Err(e) = ipcperms(c, &q.perm, 0o444) {
                return Some(Err(e));
            }
            let Some(i) = sel.find(&q.msgs) else {
                return (flags & IPC_NOWAIT != 0).then_some(Err(Errno::ENOMSG));
            };
            let size = q.msgs[i].1.len();
            if bufsz < size && flags & MSG_NOERROR == 0 {
                return Some(Err(Errno::E2BIG));
            }
            if flags & MSG_COPY != 0 {
                // The copy's buffer is `bufsz` (at most `msgmax`) even with MSG_NOERROR.
                if size > bufsz {
                    return Some(Err(Errno::EINVAL));
                }
                let (ty, text) = &q.msgs[i];
                return Some(Ok((*ty, text.clone())));
            }
            let (ty, mut text) = q.msgs.remove(i)?;
            let len = text.len() as u64;
            q.cbytes -= len;
            q.lrpid = c.tgid;
            q.rtime = now();
            q.queue.notify();
            t.held -= len + MSG_OVERHEAD;
            t.bytes -= len;
            t.count -= 1;
            text.truncate(bufsz);
            Some(Ok((ty, text)))
        };
        if let Some(r) = attempt(true) {
            return r;
        }
        let queue = lock(&self.msg).ids.get(id).map(|q| q.queue.clone());
        let Ok(queue) = queue else {
            return Err(Errno::EIDRM);
        };
        block(&[&queue], None, || attempt(false)).map_err(wait_error)
    }

    /// `msgctl(IPC_STAT | MSG_STAT | MSG_STAT_ANY)`, as [`IpcNamespace::shm_stat`].
    pub fn msg_stat(
        &self,
        id: i32,
        by_index: bool,
        any: bool,
        c: &IpcCred,
    ) -> Result<(Msqid64Ds, i32), Errno> {
        let t = lock(&self.msg);
        let q = if by_index {
            t.ids.at_index(id)?
        } else {
            t.ids.get(id)?
        };
        if !any {
            ipcperms(c, &q.perm, 0o444)?;
        }
        Ok((q.stat(), if by_index { q.perm.id } else { 0 }))
    }

    /// `msgctl(IPC_SET)`: owner, mode and `msg_qbytes` (above `kernel.msgmnb` only with
    /// CAP_SYS_RESOURCE: `EPERM`); senders waiting for room try again.
    pub fn msg_set(&self, id: i32, ds: &Msqid64Ds, c: &IpcCred) -> Result<(), Errno> {
        let l = self.limits();
        let mut t = lock(&self.msg);
        let q = t.ids.get_mut(id)?;
        check_owner(c, &q.perm)?;
        if ds.msg_qbytes > u64::from(l.msgmnb) && !capable(c, Cap::SysResource) {
            return Err(Errno::EPERM);
        }
        q.perm.set(&ds.msg_perm)?;
        q.qbytes = ds.msg_qbytes;
        q.ctime = now();
        q.queue.notify();
        Ok(())
    }

    /// `msgctl(IPC_RMID)`: waiters wake with `EIDRM`.
    pub fn msg_rmid(&self, id: i32, c: &IpcCred) -> Result<(), Errno> {
        let mut t = lock(&self.msg);
        check_owner(c, t.ids.get(id)?.perm())?;
        t.remove(id);
        Ok(())
    }

    /// `msgctl(IPC_INFO | MSG_INFO)`, and the highest index in use.
    pub fn msg_info(&self, in_use: bool) -> (Msginfo, i32) {
        let l = self.limits();
        let t = lock(&self.msg);
        let clamp = |n: u64| n.min(i32::MAX as u64) as i32;
        let mut info = Msginfo {
            msgpool: MSGPOOL,
            msgmap: MSGMAP,
            msgmax: l.msgmax as i32,
            msgmnb: l.msgmnb as i32,
            msgmni: l.msgmni as i32,
            msgssz: MSGSSZ,
            msgtql: MSGTQL,
            msgseg: MSGSEG,
            __pad: 0,
        };
        if in_use {
            info.msgpool = t.ids.in_use() as i32;
            info.msgmap = clamp(t.count);
            info.msgtql = clamp(t.bytes);
        }
        (info, t.ids.max_index())
    }
}

/// `/proc/sysvipc/msg`.
pub(super) fn proc_text(t: &Table) -> String {
    let mut s = String::from(
        "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime      ctime\n",
    );
    for q in t.ids.iter() {
        let p = &q.perm;
        s.push_str(&format!(
            "{:10} {:10}  {:4o}  {:10} {:10} {:5} {:5} {:5} {:5} {:5} {:5} {:10} {:10} {:10}\n",
            p.key,
            p.id,
            p.mode,
            q.cbytes,
            q.msgs.len(),
            q.lspid,
            q.lrpid,
            p.uid,
            p.gid,
            p.cuid,
            p.cgid,
            q.stime,
            q.rtime,
            q.ctime
        ));
    }
    s
}
