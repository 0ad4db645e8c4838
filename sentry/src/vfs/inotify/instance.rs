//! An inotify instance: the open file description `inotify_init1` returns, and its queue of
//! event records. Its watches live in the registry ([`super`]).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use snare_abi::file::{o, Stat, FIONREAD};
use snare_abi::inotify::{InotifyEvent, IN_IGNORED, IN_Q_OVERFLOW};
use snare_abi::Errno;

use super::{Identity, MAX_QUEUED_EVENTS};
use crate::kernel::wait::WaitQueue;
use crate::mm::GuestMemory;
use crate::vfs::pipe::{anon_stat, now_ts, wait_ready};
use crate::vfs::{poll, FileDescription};

/// The size of a record's fixed part; names are padded to a multiple of it.
const RECORD: usize = std::mem::size_of::<InotifyEvent>();

/// One queued event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Event {
    pub(super) wd: i32,
    pub(super) mask: u32,
    pub(super) cookie: u32,
    pub(super) name: Option<Box<[u8]>>,
}

impl Event {
    pub(super) fn ignored(wd: i32) -> Event {
        Event {
            wd,
            mask: IN_IGNORED,
            cookie: 0,
            name: None,
        }
    }

    /// The name's length in the record: with its NUL, padded to a multiple of [`RECORD`].
    fn padded_len(&self) -> usize {
        self.name
            .as_ref()
            .map_or(0, |n| (n.len() + 1).div_ceil(RECORD) * RECORD)
    }

    fn size(&self) -> usize {
        RECORD + self.padded_len()
    }

    /// Writes the record into `out` (exactly [`Event::size`] bytes).
    fn write_to(&self, out: &mut [u8]) {
        let head = InotifyEvent {
            wd: self.wd,
            mask: self.mask,
            cookie: self.cookie,
            len: self.padded_len() as u32,
        };
        out[..RECORD].copy_from_slice(snare_abi::pod::as_bytes(&head));
        let rest = &mut out[RECORD..];
        rest.fill(0);
        if let Some(n) = &self.name {
            rest[..n.len()].copy_from_slice(n);
        }
    }

    /// Linux's `event_compare`: the same wd, mask and name (cookies are not compared), and
    /// never an `IN_IGNORED`.
    fn merges_with(&self, new: &Event) -> bool {
        self.mask & IN_IGNORED == 0
            && self.wd == new.wd
            && self.mask == new.mask
            && self.name == new.name
    }
}

/// Bytes queued in every instance together: past [`MAX_QUEUED_BYTES`] an instance's next
/// event is its overflow event. Linux bounds the queues per user and charges them to the
/// memory cgroup; the Sentry's heap has no such charge, so this bounds it (the guest can
/// have 128 instances of 16384 events of up to 272 bytes: 570 MB without it).
static QUEUED_BYTES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
const MAX_QUEUED_BYTES: usize = 16 << 20;

/// An instance's queue.
#[derive(Debug, Default)]
struct Queue {
    events: VecDeque<Event>,
    /// Bytes of all queued records (`FIONREAD`).
    bytes: usize,
    /// The overflow event is queued (there is one at most).
    overflowed: bool,
}

/// An inotify instance: the open file description `inotify_init1` returns.
#[derive(Debug)]
pub struct Inotify {
    /// The registry's name for this instance.
    id: u64,
    /// Itself, for the registry's watches.
    me: Weak<Inotify>,
    state: Mutex<Queue>,
    /// `O_NONBLOCK` (the access mode is always read-only).
    flags: AtomicU32,
    queue: WaitQueue,
    owner: (u32, u32),
    ctime: (i64, i64),
}

impl Inotify {
    /// A new instance; `flags` may hold `O_NONBLOCK` (the caller checked the rest).
    /// `EMFILE` past [`super::MAX_USER_INSTANCES`].
    pub fn new(flags: u32, uid: u32, gid: u32) -> Result<Arc<Inotify>, Errno> {
        let id = super::register()?;
        Ok(Arc::new_cyclic(|me| Inotify {
            id,
            me: me.clone(),
            state: Mutex::new(Queue::default()),
            flags: AtomicU32::new(flags & o::NONBLOCK),
            queue: WaitQueue::new(),
            owner: (uid, gid),
            ctime: now_ts(),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn nonblock(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & o::NONBLOCK != 0
    }

    /// Queues `ev` (Linux's `fsnotify_insert_event` with inotify's merge).
    pub(super) fn push(&self, mut ev: Event) {
        {
            let mut q = self.lock();
            let sandbox_full = QUEUED_BYTES.load(Ordering::Relaxed) + ev.size() > MAX_QUEUED_BYTES;
            if q.events.len() >= MAX_QUEUED_EVENTS || sandbox_full {
                if q.overflowed {
                    return;
                }
                q.overflowed = true;
                ev = Event {
                    wd: -1,
                    mask: IN_Q_OVERFLOW,
                    cookie: 0,
                    name: None,
                };
            } else if q.events.back().is_some_and(|last| last.merges_with(&ev)) {
                return;
            }
            q.bytes += ev.size();
            QUEUED_BYTES.fetch_add(ev.size(), Ordering::Relaxed);
            q.events.push_back(ev);
        }
        self.queue.notify();
    }

    /// `inotify_add_watch(2)` on the file `target`: a new watch, or the instance's watch on it
    /// changed (`IN_MASK_ADD` adds to its mask, else the mask is replaced; `IN_MASK_CREATE`
    /// refuses with `EEXIST`). Returns the wd. `ENOSPC` past
    /// [`super::MAX_USER_WATCHES`].
    pub fn add_watch(&self, target: Identity, mask: u32) -> Result<i32, Errno> {
        super::watch(self.id, &self.me, target, mask)
    }

    /// `inotify_rm_watch(2)`: removes watch `wd` and queues its `IN_IGNORED`; `EINVAL` if
    /// there is none.
    pub fn rm_watch(&self, wd: i32) -> Result<(), Errno> {
        super::unwatch(self.id, wd).ok_or(Errno::EINVAL)?;
        self.push(Event::ignored(wd));
        Ok(())
    }
}

impl Drop for Inotify {
    fn drop(&mut self) {
        let bytes = self.lock().bytes;
        QUEUED_BYTES.fetch_sub(bytes, Ordering::Relaxed);
        super::forget(self.id);
    }
}

impl FileDescription for Inotify {
    /// As many whole records as fit; `EINVAL` if the first does not; waits while the queue
    /// is empty (interruptible), `EAGAIN` when non-blocking.
    fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        wait_ready(self.nonblock(), &self.queue, || {
            let mut q = self.lock();
            let first = q.events.front()?;
            if first.size() > buf.len() {
                return Some(Err(Errno::EINVAL));
            }
            let mut done = 0;
            while let Some(ev) = q.events.front() {
                let size = ev.size();
                if done + size > buf.len() {
                    break;
                }
                ev.write_to(&mut buf[done..done + size]);
                done += size;
                if ev.mask & IN_Q_OVERFLOW != 0 {
                    q.overflowed = false;
                }
                q.bytes -= size;
                QUEUED_BYTES.fetch_sub(size, Ordering::Relaxed);
                q.events.pop_front();
            }
            Some(Ok(done))
        })
    }

    fn write(&self, _data: &[u8]) -> Result<usize, Errno> {
        Err(Errno::EBADF)
    }

    /// Linux's `noop_llseek`: nothing moves, 0 is returned.
    fn seek(&self, _off: i64, _whence: u32) -> Result<u64, Errno> {
        Ok(0)
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(anon_stat(self.owner.0, self.owner.1, self.ctime))
    }

    /// `FIONREAD`: the bytes of all queued records.
    fn ioctl(&self, cmd: u32, arg: u64, mem: &dyn GuestMemory) -> Result<u64, Errno> {
        match cmd {
            FIONREAD => {
                let n = i32::try_from(self.lock().bytes).unwrap_or(i32::MAX);
                mem.write(arg, &n.to_ne_bytes())?;
                Ok(0)
            }
            _ => Err(Errno::ENOTTY),
        }
    }

    fn status_flags(&self) -> u32 {
        o::RDONLY | self.flags.load(Ordering::Relaxed)
    }

    fn set_status_flags(&self, flags: u32) {
        self.flags.store(flags & o::NONBLOCK, Ordering::Relaxed);
    }

    fn path(&self) -> Vec<u8> {
        b"anon_inode:inotify".to_vec()
    }

    fn poll(&self) -> u32 {
        if self.lock().events.is_empty() {
            0
        } else {
            poll::IN | poll::RDNORM
        }
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.queue)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::vfs::inotify::notify;
    use snare_abi::inotify::{IN_CREATE, IN_DELETE, IN_MODIFY};

    /// Tests share the registry: each uses its own device number.
    pub(in crate::vfs::inotify) fn ident(dev: u64, ino: u64) -> Identity {
        (0xfeed_0000 + dev, ino)
    }

    pub(in crate::vfs::inotify) fn events(i: &Inotify) -> Vec<(i32, u32, u32, Option<Vec<u8>>)> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        while let Ok(n) = i.read(&mut buf) {
            let mut p = 0;
            while p < n {
                let mut h = InotifyEvent::default();
                snare_abi::pod::as_bytes_mut(&mut h).copy_from_slice(&buf[p..p + RECORD]);
                let name = &buf[p + RECORD..p + RECORD + h.len as usize];
                let name = (h.len > 0).then(|| {
                    name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())].to_vec()
                });
                out.push((h.wd, h.mask, h.cookie, name));
                p += RECORD + h.len as usize;
            }
        }
        out
    }

    #[test]
    fn records_merge_and_pad() {
        let i = Inotify::new(o::NONBLOCK, 0, 0).expect("instance");
        let d = ident(1, 1);
        let wd = i.add_watch(d, IN_CREATE | IN_MODIFY).expect("watch");
        notify(d, Some(b"a"), IN_MODIFY, 0);
        notify(d, Some(b"a"), IN_MODIFY, 0);
        notify(d, Some(b"0123456789abcdef"), IN_CREATE, 0);
        notify(d, Some(b"a"), IN_DELETE, 0);
        assert_eq!(i.lock().bytes, 32 + 48);
        let mut small = [0u8; 31];
        assert_eq!(i.read(&mut small), Err(Errno::EINVAL));
        assert_eq!(
            events(&i),
            vec![
                (wd, IN_MODIFY, 0, Some(b"a".to_vec())),
                (wd, IN_CREATE, 0, Some(b"0123456789abcdef".to_vec())),
            ]
        );
        assert_eq!(i.read(&mut small), Err(Errno::EAGAIN));
    }
}
