//! POSIX message queues (`mq_overview(7)`): one sandbox-wide namespace of named queues
//! (Linux's internal mqueue mount of the IPC namespace), the open description of a queue
//! ([`MqFile`]), and the `mqueue` filesystem ([`Mqueuefs`]) that shows the same queues
//! wherever it is mounted. `syscalls/mqueue.rs` decodes the `mq_*` calls and comes here.
//!
//! A queue keeps its messages by priority, first in first out within one; senders wait on
//! its `writers` queue while it is full, receivers on `readers` while it is empty, and
//! poll and epoll on `events`, notified on every change. Waits are [`block`]s, so a signal
//! ends them with `ERESTARTSYS` (restarted under `SA_RESTART`, as Linux's `wq_sleep`).
//!
//! Limits, as Linux with its default `/proc/sys/fs/mqueue`: a queue asks at most
//! `msg_max` messages of `msgsize_max` bytes (a privileged caller up to the hard limits);
//! the bytes it could hold, plus Linux's per-message and per-priority overhead, count
//! against its creator's `RLIMIT_MSGQUEUE` (`EMFILE` past it); an unprivileged caller
//! makes at most `queues_max` queues (`ENOSPC`). Every guest word is hostile, and a guest
//! root may lift the rlimit, so the Sentry bounds the whole namespace too: at most
//! [`SANDBOX_BYTES`] reserved (`ENOMEM`) and [`SANDBOX_QUEUES`] queues (`ENOSPC`) — the
//! memory queued messages can take is bounded by their reservations.
//!
//! Deviations: a notification is dropped when its process is gone, not when that process
//! closes any fd of the queue (Linux's `mqueue_flush_file`); it is not checked against
//! the owner's exec count. A sender wakes every waiting receiver (Linux wakes the one of
//! highest priority, which takes the message directly).

mod fs;

pub use fs::Mqueuefs;

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Debug;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::Instant;

use snare_abi::file::{o, Stat, S_IFREG};
use snare_abi::mqueue::{
    MqAttr, DFLT_MSGMAX, DFLT_MSGSIZEMAX, DFLT_QUEUESMAX, FILENT_SIZE, HARD_MSGMAX,
    HARD_MSGSIZEMAX, MQUEUE_MAGIC, MQ_PRIO_MAX, MSG_MSG_SIZE, TREE_NODE_SIZE,
};
use snare_abi::signal::{SIGEV_NONE, SIGEV_SIGNAL, SI_MESGQ};
use snare_abi::{Errno, SigInfo};

use super::perm::{Cred, Perm, MAY_READ, MAY_WRITE};
use super::pipe::now_ts;
use super::{poll, FileDescription, SEEK_CUR, SEEK_END, SEEK_SET};
use crate::kernel::wait::{block, WaitQueue};

/// The most bytes all queues of the sandbox may reserve (64 MiB): what a guest can make
/// the Sentry hold in messages, whatever its rlimits say.
pub const SANDBOX_BYTES: u64 = 64 << 20;
/// The most queues the sandbox may hold (a privileged caller is not bound by
/// `queues_max`; each queue costs the Sentry well under a KiB).
pub const SANDBOX_QUEUES: usize = 16384;
/// The longest queue name (`NAME_MAX`).
pub const NAME_MAX: usize = 255;
/// `st_dev` of the queues and of every mqueue mount (0:4004).
pub const MQUEUE_DEV: u64 = 0x00f0_00a4;

/// Who makes a queue: its owner, whose `RLIMIT_MSGQUEUE` it counts against, and whether
/// it holds CAP_SYS_RESOURCE.
#[derive(Clone, Debug)]
pub struct Creator {
    pub cred: Cred,
    /// The real uid the queue's bytes are accounted to.
    pub ruid: u32,
    /// The soft `RLIMIT_MSGQUEUE`, if finite.
    pub rlimit: Option<u64>,
    pub privileged: bool,
    pub umask: u32,
}

/// The process a notification goes to (`syscalls/mqueue.rs` holds a weak reference to its
/// thread group behind this).
pub trait NotifyOwner: Send + Sync + Debug {
    /// Its process id.
    fn tgid(&self) -> i32;
    /// Whether the process still runs.
    fn alive(&self) -> bool;
    /// Queues `info` for the process.
    fn signal(&self, info: SigInfo);
}

/// How a registered process is told that a message came to an empty queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notify {
    /// `SIGEV_NONE`: registered, told nothing.
    None,
    /// `SIGEV_SIGNAL`: signal `signo` (0 sends none) with `si_value` `value`.
    Signal { signo: i32, value: u64 },
}

#[derive(Debug)]
struct Registration {
    owner: Arc<dyn NotifyOwner>,
    how: Notify,
}

/// What a queue's lock protects.
#[derive(Debug, Default)]
struct State {
    /// Messages by priority, highest first; first in, first out within one.
    msgs: BTreeMap<Reverse<u32>, VecDeque<Vec<u8>>>,
    curmsgs: usize,
    /// Bytes of the queued messages (`QSIZE`).
    qsize: u64,
    perm: Perm,
    /// atime, mtime, ctime.
    times: [(i64, i64); 3],
    notify: Option<Registration>,
    /// Receivers sleeping for a message: a message for them notifies nobody.
    receivers: usize,
}

impl State {
    /// The registration, unless its process is gone.
    fn registration(&mut self) -> Option<&Registration> {
        if self.notify.as_ref().is_some_and(|r| !r.owner.alive()) {
            self.notify = None;
        }
        self.notify.as_ref()
    }

    fn pop(&mut self) -> Option<(Vec<u8>, u32)> {
        let mut entry = self.msgs.first_entry()?;
        let prio = entry.key().0;
        let msg = entry.get_mut().pop_front()?;
        if entry.get().is_empty() {
            entry.remove();
        }
        self.curmsgs -= 1;
        self.qsize -= msg.len() as u64;
        Some((msg, prio))
    }

    fn touch(&mut self) {
        let now = now_ts();
        self.times = [now; 3];
    }
}

/// One message queue.
#[derive(Debug)]
pub struct Queue {
    ino: u64,
    maxmsg: usize,
    msgsize: usize,
    /// Bytes reserved against [`SANDBOX_BYTES`] and its creator's rlimit.
    reserved: u64,
    user: u32,
    state: Mutex<State>,
    readers: WaitQueue,
    writers: WaitQueue,
    events: WaitQueue,
}

impl Drop for Queue {
    fn drop(&mut self) {
        account().release(self.user, self.reserved);
    }
}

/// Who holds what of the sandbox-wide limits. Apart from [`Names`]: a queue's last
/// reference may go while the names are locked.
#[derive(Debug, Default)]
struct Account {
    queues: usize,
    bytes: u64,
    per_user: HashMap<u32, u64>,
}

impl Account {
    fn release(&mut self, user: u32, bytes: u64) {
        self.queues = self.queues.saturating_sub(1);
        self.bytes = self.bytes.saturating_sub(bytes);
        if let Some(b) = self.per_user.get_mut(&user) {
            *b = b.saturating_sub(bytes);
            if *b == 0 {
                self.per_user.remove(&user);
            }
        }
    }
}

fn account() -> MutexGuard<'static, Account> {
    static ACCOUNT: LazyLock<Mutex<Account>> = LazyLock::new(Mutex::default);
    ACCOUNT.lock().unwrap_or_else(|e| e.into_inner())
}

/// The namespace: name (without the guest's leading slash) → queue.
type Names = BTreeMap<Vec<u8>, Arc<Queue>>;

fn names() -> MutexGuard<'static, Names> {
    static NAMES: LazyLock<Mutex<Names>> = LazyLock::new(Mutex::default);
    NAMES.lock().unwrap_or_else(|e| e.into_inner())
}

/// Checks a queue name as the kernel gets it (glibc strips the leading slash): `EACCES`
/// for an empty name, `.`, `..` or one with a `/`; `ENAMETOOLONG` past [`NAME_MAX`].
pub fn check_name(name: &[u8]) -> Result<(), Errno> {
    if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') {
        return Err(Errno::EACCES);
    }
    if name.len() > NAME_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(())
}

/// The sizes a new queue asks for, checked as Linux's `mqueue_get_inode`; returns the
/// bytes it reserves.
fn check_attr(attr: &MqAttr, privileged: bool) -> Result<u64, Errno> {
    let (max, size) = (attr.mq_maxmsg, attr.mq_msgsize);
    if max <= 0 || size <= 0 {
        return Err(Errno::EINVAL);
    }
    let (max_limit, size_limit) = if privileged {
        (HARD_MSGMAX, HARD_MSGSIZEMAX)
    } else {
        (DFLT_MSGMAX, DFLT_MSGSIZEMAX)
    };
    if max > max_limit || size > size_limit {
        return Err(Errno::EINVAL);
    }
    // Both are bounded above, so none of this overflows.
    let (max, size) = (max as u64, size as u64);
    let tree = max * MSG_MSG_SIZE + max.min(u64::from(MQ_PRIO_MAX)) * TREE_NODE_SIZE;
    Ok(max * size + tree)
}

/// The default sizes of a queue made without `mq_attr` (or by `open(2)` on the
/// filesystem).
pub fn default_attr() -> MqAttr {
    MqAttr {
        mq_maxmsg: DFLT_MSGMAX,
        mq_msgsize: DFLT_MSGSIZEMAX,
        ..MqAttr::default()
    }
}

/// Makes a queue (checked as Linux: sizes, rlimit, `queues_max`, then the Sandbox's own
/// bounds), not yet named.
fn create(c: &Creator, mode: u32, attr: &MqAttr) -> Result<Arc<Queue>, Errno> {
    let bytes = check_attr(attr, c.privileged)?;
    {
        let mut acc = account();
        if acc.queues >= DFLT_QUEUESMAX && !c.privileged || acc.queues >= SANDBOX_QUEUES {
            return Err(Errno::ENOSPC);
        }
        let mine = acc.per_user.get(&c.ruid).copied().unwrap_or(0);
        let total = mine.saturating_add(bytes);
        if c.rlimit.is_some_and(|l| total > l) {
            return Err(Errno::EMFILE);
        }
        if acc.bytes.saturating_add(bytes) > SANDBOX_BYTES {
            return Err(Errno::ENOMEM);
        }
        acc.queues += 1;
        acc.bytes += bytes;
        acc.per_user.insert(c.ruid, total);
    }
    static NEXT_INO: AtomicU64 = AtomicU64::new(2);
    let now = now_ts();
    Ok(Arc::new(Queue {
        ino: NEXT_INO.fetch_add(1, Ordering::Relaxed),
        maxmsg: attr.mq_maxmsg as usize,
        msgsize: attr.mq_msgsize as usize,
        reserved: bytes,
        user: c.ruid,
        state: Mutex::new(State {
            perm: Perm {
                mode: S_IFREG | (mode & 0o7777 & !c.umask),
                uid: c.cred.uid,
                gid: c.cred.gid,
            },
            times: [now; 3],
            ..State::default()
        }),
        readers: WaitQueue::new(),
        writers: WaitQueue::new(),
        events: WaitQueue::new(),
    }))
}

/// `mq_open(2)` of the checked `name`: finds or (with `O_CREAT`) makes the queue and opens
/// it with `flags`'s access mode and `O_NONBLOCK`. `attr` sizes a new queue (`None`: the
/// defaults); an existing one ignores it.
pub fn open(
    name: &[u8],
    flags: u32,
    mode: u32,
    attr: Option<&MqAttr>,
    c: &Creator,
) -> Result<Arc<MqFile>, Errno> {
    let mut names = names();
    let queue = match names.get(name) {
        Some(q) => {
            if flags & (o::CREAT | o::EXCL) == o::CREAT | o::EXCL {
                return Err(Errno::EEXIST);
            }
            let mask = match flags & o::ACCMODE {
                o::RDONLY => MAY_READ,
                o::WRONLY => MAY_WRITE,
                o::RDWR => MAY_READ | MAY_WRITE,
                _ => return Err(Errno::EINVAL),
            };
            c.cred.may(&q.perm(), mask)?;
            q.clone()
        }
        None if flags & o::CREAT == 0 => return Err(Errno::ENOENT),
        None => {
            let q = create(c, mode, attr.unwrap_or(&default_attr()))?;
            names.insert(name.to_vec(), q.clone());
            q
        }
    };
    drop(names);
    Ok(Arc::new(MqFile::new(queue, name, flags)))
}

/// The queue named `name`.
fn lookup(name: &[u8]) -> Result<Arc<Queue>, Errno> {
    names().get(name).cloned().ok_or(Errno::ENOENT)
}

/// Removes `name` from the namespace (open descriptions keep the queue). With `cred`,
/// only the queue's owner (or root) may, as in the sticky root directory: else `EPERM`.
pub fn unlink(name: &[u8], cred: Option<&Cred>) -> Result<(), Errno> {
    let mut names = names();
    let q = names.get(name).ok_or(Errno::ENOENT)?;
    if cred.is_some_and(|c| !c.owns(&q.perm())) {
        return Err(Errno::EPERM);
    }
    let gone = names.remove(name);
    drop(names);
    drop(gone);
    Ok(())
}

/// The names of every queue, in order.
fn list() -> Vec<(Vec<u8>, u64)> {
    names().iter().map(|(n, q)| (n.clone(), q.ino)).collect()
}

/// Waits on `q` until `ready` answers: `EAGAIN` at once when `nonblock`, `ETIMEDOUT` at
/// `deadline`.
fn wait<T>(
    nonblock: bool,
    q: &WaitQueue,
    deadline: Option<Instant>,
    mut ready: impl FnMut() -> Option<Result<T, Errno>>,
) -> Result<T, Errno> {
    if let Some(r) = ready() {
        return r;
    }
    if nonblock {
        return Err(Errno::EAGAIN);
    }
    block(&[q], deadline, ready)
}

impl Queue {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn perm(&self) -> Perm {
        self.state().perm
    }

    /// The message size limit (`mq_msgsize`).
    pub fn msgsize(&self) -> usize {
        self.msgsize
    }

    /// `mq_attr` of the queue (`mq_flags` 0: that is the description's).
    pub fn attr(&self) -> MqAttr {
        MqAttr {
            mq_flags: 0,
            mq_maxmsg: self.maxmsg as i64,
            mq_msgsize: self.msgsize as i64,
            mq_curmsgs: self.state().curmsgs as i64,
            __reserved: [0; 4],
        }
    }

    /// Queues `msg` (at most [`Queue::msgsize`] bytes, checked by the caller) at `prio`,
    /// waiting for room unless `nonblock`, until `deadline`. A message to an empty queue
    /// nobody waits on goes to the registered process, from `sender` (its pid and uid).
    fn send(
        &self,
        msg: Vec<u8>,
        prio: u32,
        nonblock: bool,
        deadline: Option<Instant>,
        sender: (i32, u32),
    ) -> Result<(), Errno> {
        let mut msg = Some(msg);
        let told = wait(nonblock, &self.writers, deadline, || {
            let mut st = self.state();
            if st.curmsgs >= self.maxmsg {
                return None;
            }
            let m = msg.take()?;
            st.qsize += m.len() as u64;
            st.msgs.entry(Reverse(prio)).or_default().push_back(m);
            st.curmsgs += 1;
            st.touch();
            let tell = st.curmsgs == 1 && st.receivers == 0 && st.registration().is_some();
            Some(Ok(if tell { st.notify.take() } else { None }))
        })?;
        self.readers.notify();
        self.events.notify();
        if let Some(Registration {
            owner,
            how: Notify::Signal { signo, value },
        }) = told
        {
            if signo != 0 {
                let mut info = SigInfo {
                    si_signo: signo,
                    si_code: SI_MESGQ,
                    ..SigInfo::default()
                };
                info.fields[0] = u64::from(sender.0 as u32) | (u64::from(sender.1) << 32);
                info.fields[1] = value;
                owner.signal(info);
            }
        }
        Ok(())
    }

    /// Takes the oldest message of the highest priority, waiting for one unless
    /// `nonblock`, until `deadline`.
    fn receive(&self, nonblock: bool, deadline: Option<Instant>) -> Result<(Vec<u8>, u32), Errno> {
        let got = {
            let mut st = self.state();
            let got = st.pop();
            if got.is_none() {
                if nonblock {
                    return Err(Errno::EAGAIN);
                }
                st.receivers += 1;
            }
            got
        };
        let r = match got {
            Some(m) => Ok(m),
            None => {
                let r = block(&[&self.readers], deadline, || self.state().pop().map(Ok));
                let mut st = self.state();
                st.receivers = st.receivers.saturating_sub(1);
                r
            }
        };
        if r.is_ok() {
            self.state().touch();
            self.writers.notify();
            self.events.notify();
        }
        r
    }

    /// `mq_notify(2)`: registers `owner` (`EBUSY` if a live process is registered), or with
    /// `None` removes `owner`'s registration (and nothing else's).
    fn notify(&self, owner: Arc<dyn NotifyOwner>, how: Option<Notify>) -> Result<(), Errno> {
        let mut st = self.state();
        let mine = st.registration().map(|r| r.owner.tgid() == owner.tgid());
        match how {
            None => {
                if mine == Some(true) {
                    st.notify = None;
                }
            }
            Some(_) if mine.is_some() => return Err(Errno::EBUSY),
            Some(how) => st.notify = Some(Registration { owner, how }),
        }
        st.touch();
        Ok(())
    }

    /// The status line a read of the queue's file shows.
    fn status(&self) -> Vec<u8> {
        let mut st = self.state();
        let qsize = st.qsize;
        let (notify, signo, pid) = match st.registration() {
            None => (0, 0, 0),
            Some(r) => match r.how {
                Notify::None => (SIGEV_NONE, 0, r.owner.tgid()),
                Notify::Signal { signo, .. } => (SIGEV_SIGNAL, signo, r.owner.tgid()),
            },
        };
        format!("QSIZE:{qsize:<10} NOTIFY:{notify:<5} SIGNO:{signo:<5} NOTIFY_PID:{pid:<6}\n")
            .into_bytes()
    }

    fn stat(&self) -> Stat {
        let st = self.state();
        let [a, m, c] = st.times;
        Stat {
            st_dev: MQUEUE_DEV,
            st_ino: self.ino,
            st_nlink: 1,
            st_mode: st.perm.mode,
            st_uid: st.perm.uid,
            st_gid: st.perm.gid,
            st_size: FILENT_SIZE,
            st_blksize: 4096,
            st_atime: a.0,
            st_atime_nsec: a.1,
            st_mtime: m.0,
            st_mtime_nsec: m.1,
            st_ctime: c.0,
            st_ctime_nsec: c.1,
            ..Stat::default()
        }
    }
}

/// An open queue (what `mq_open` returns, and `open(2)` of a queue's file).
#[derive(Debug)]
pub struct MqFile {
    queue: Arc<Queue>,
    name: Vec<u8>,
    /// The access mode and `O_NONBLOCK`.
    flags: AtomicU32,
    /// The offset into the status line.
    pos: Mutex<u64>,
}

impl MqFile {
    fn new(queue: Arc<Queue>, name: &[u8], flags: u32) -> MqFile {
        MqFile {
            queue,
            name: name.to_vec(),
            flags: AtomicU32::new(flags & (o::ACCMODE | o::NONBLOCK)),
            pos: Mutex::new(0),
        }
    }

    pub fn queue(&self) -> &Queue {
        &self.queue
    }

    fn nonblock(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & o::NONBLOCK != 0
    }

    fn readable(&self) -> bool {
        matches!(
            self.flags.load(Ordering::Relaxed) & o::ACCMODE,
            o::RDONLY | o::RDWR
        )
    }

    fn writable(&self) -> bool {
        matches!(
            self.flags.load(Ordering::Relaxed) & o::ACCMODE,
            o::WRONLY | o::RDWR
        )
    }

    /// `mq_timedsend(2)` after its arguments are checked: `EBADF` unless open for writing,
    /// `EMSGSIZE` for a message longer than the queue takes.
    pub fn send(
        &self,
        msg: Vec<u8>,
        prio: u32,
        deadline: Option<Instant>,
        sender: (i32, u32),
    ) -> Result<(), Errno> {
        self.queue
            .send(msg, prio, self.nonblock(), deadline, sender)
    }

    /// Checks a send of `len` bytes before its message is read from the guest.
    pub fn check_send(&self, len: usize) -> Result<(), Errno> {
        if !self.writable() {
            return Err(Errno::EBADF);
        }
        if len > self.queue.msgsize {
            return Err(Errno::EMSGSIZE);
        }
        Ok(())
    }

    /// `mq_timedreceive(2)` into a buffer of `len` bytes: `EBADF` unless open for reading,
    /// `EMSGSIZE` for a buffer shorter than the queue's message size.
    pub fn receive(&self, len: usize, deadline: Option<Instant>) -> Result<(Vec<u8>, u32), Errno> {
        if !self.readable() {
            return Err(Errno::EBADF);
        }
        if len < self.queue.msgsize {
            return Err(Errno::EMSGSIZE);
        }
        self.queue.receive(self.nonblock(), deadline)
    }

    /// `mq_notify(2)` ([`Queue::notify`]).
    pub fn notify(&self, owner: Arc<dyn NotifyOwner>, how: Option<Notify>) -> Result<(), Errno> {
        self.queue.notify(owner, how)
    }

    /// `mq_getsetattr(2)`: the attributes before, after setting `O_NONBLOCK` from `new`
    /// (its other bits were checked by the caller).
    pub fn getsetattr(&self, new: Option<i64>) -> MqAttr {
        let mut old = self.queue.attr();
        old.mq_flags = i64::from(self.flags.load(Ordering::Relaxed) & o::NONBLOCK);
        if let Some(f) = new {
            let nb = if f & i64::from(o::NONBLOCK) != 0 {
                o::NONBLOCK
            } else {
                0
            };
            let _ = self
                .flags
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                    Some(v & !o::NONBLOCK | nb)
                });
            self.queue.state().touch();
        }
        old
    }
}

impl FileDescription for MqFile {
    fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        if !self.readable() {
            return Err(Errno::EBADF);
        }
        let text = self.queue.status();
        let mut pos = self.pos.lock().unwrap_or_else(|e| e.into_inner());
        let start = usize::try_from(*pos).unwrap_or(usize::MAX).min(text.len());
        let n = buf.len().min(text.len() - start);
        buf[..n].copy_from_slice(&text[start..start + n]);
        *pos += n as u64;
        if n > 0 {
            let mut st = self.queue.state();
            let now = now_ts();
            st.times[0] = now;
            st.times[2] = now;
        }
        Ok(n)
    }

    fn write(&self, _data: &[u8]) -> Result<usize, Errno> {
        Err(if self.writable() {
            Errno::EINVAL
        } else {
            Errno::EBADF
        })
    }

    fn seek(&self, off: i64, whence: u32) -> Result<u64, Errno> {
        let mut pos = self.pos.lock().unwrap_or_else(|e| e.into_inner());
        let base = match whence {
            SEEK_SET => 0,
            SEEK_CUR => *pos as i64,
            SEEK_END => FILENT_SIZE,
            _ => return Err(Errno::EINVAL),
        };
        let new = base
            .checked_add(off)
            .filter(|n| *n >= 0)
            .ok_or(Errno::EINVAL)?;
        *pos = new as u64;
        Ok(new as u64)
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(self.queue.stat())
    }

    fn statfs(&self) -> Result<[u8; 120], Errno> {
        Ok(super::statfs_bytes(MQUEUE_MAGIC, 0, 0))
    }

    fn status_flags(&self) -> u32 {
        self.flags.load(Ordering::Relaxed)
    }

    fn set_status_flags(&self, flags: u32) {
        let _ = self
            .flags
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v & !o::NONBLOCK | flags & o::NONBLOCK)
            });
    }

    fn path(&self) -> Vec<u8> {
        [&b"/"[..], &self.name].concat()
    }

    fn poll(&self) -> u32 {
        let n = self.queue.state().curmsgs;
        let mut ev = 0;
        if n > 0 {
            ev |= poll::IN | poll::RDNORM;
        }
        if n < self.queue.maxmsg {
            ev |= poll::OUT | poll::WRNORM;
        }
        ev
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.queue.events)
    }
}

#[cfg(test)]
mod tests;
