//! epoll instances (`epoll_create1(2)`, `epoll_ctl(2)`, `epoll_wait(2)`), and the sliced
//! wait that poll, select and epoll share.
//!
//! An instance keeps an interest list keyed by (fd, open file description). It holds each
//! description weakly, so closing the last fd of a file (in every process) drops the
//! interest, as on Linux; closing one of several fds of a description does not. Each
//! interest registers a small [`Wake`] on the file's wait queue: a notification marks the
//! interest *pending* (what edge-triggered interests report on) and notifies the instance's
//! own queue, which `epoll_wait` sleepers — and pollers or outer epolls watching the epoll
//! fd — wait on. Readiness itself is always asked of the file (`FileDescription::poll`)
//! when collecting events, so level-triggered reporting needs no bookkeeping.
//!
//! Files without a wait queue are always ready, except host streams (a terminal, a host
//! pipe), whose readiness only the host knows: waits that include one re-check every
//! [`HOST_SLICE`].
//!
//! Host sockets (TCP, UDP) are watched differently: the instance keeps their host fds in a
//! host epoll of its own ([`HostSet`], made with the first one), and `epoll_wait` sleeps in
//! the host's poll of that set (and of the task's wake-up eventfd), so the host kernel wakes
//! the waiter itself when a socket changes, with no hop through the reactor thread. A change
//! read from the set marks the socket's interests pending, as a notification does; only
//! pending host interests are asked for their readiness (the set is edge-triggered: a
//! level-triggered interest found ready stays pending, as Linux keeps it on its ready list).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use snare_abi::file::{o, Stat, S_IFDIR, S_IFMT, S_IFREG};
use snare_abi::Errno;

use super::pipe::{anon_stat, now_ts};
use super::{poll, FileDescription};
use crate::kernel::wait::{block, block_on_queues_and_host, sleeps_on_host, WaitQueue, Wake};
use crate::net::inet::{self, HostSet};

pub const EPOLL_CTL_ADD: i32 = 1;
pub const EPOLL_CTL_DEL: i32 = 2;
pub const EPOLL_CTL_MOD: i32 = 3;
pub const EPOLLEXCLUSIVE: u32 = 1 << 28;
pub const EPOLLWAKEUP: u32 = 1 << 29;
pub const EPOLLONESHOT: u32 = 1 << 30;
pub const EPOLLET: u32 = 1 << 31;
/// Bits of `events` that are flags rather than events.
const FLAGS: u32 = EPOLLEXCLUSIVE | EPOLLWAKEUP | EPOLLONESHOT | EPOLLET;
/// What `EPOLLEXCLUSIVE` may be combined with.
const EXCLUSIVE_OK: u32 =
    poll::IN | poll::OUT | poll::ERR | poll::HUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE;
/// How deep epolls may nest (Linux's `EPOLL_MAX_NESTS`).
const MAX_NESTS: usize = 4;
/// How often a wait re-checks host files it can't be notified about.
pub const HOST_SLICE: Duration = Duration::from_millis(10);

/// Waits until `ready` answers or `deadline` passes (`Ok(None)`), on the given queues;
/// with `sliced`, wakes every [`HOST_SLICE`] to look again. Errors are `block`'s
/// (`ERESTARTSYS` when a signal interrupts).
pub(crate) fn wait_sliced<T>(
    queues: &[&WaitQueue],
    deadline: Option<Instant>,
    sliced: bool,
    mut ready: impl FnMut() -> Option<T>,
) -> Result<Option<T>, Errno> {
    loop {
        let d = if sliced {
            let slice = Instant::now() + HOST_SLICE;
            Some(deadline.map_or(slice, |d| d.min(slice)))
        } else {
            deadline
        };
        match block(queues, d, || ready().map(Ok)) {
            Ok(v) => return Ok(Some(v)),
            Err(Errno::ETIMEDOUT) => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(None);
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// Notes that a watched file changed, and passes the news on to the instance's waiters.
struct InterestWake {
    pending: AtomicBool,
    epoll: Weak<Shared>,
}

impl Wake for InterestWake {
    fn wake(&self) {
        self.pending.store(true, Ordering::SeqCst);
        if let Some(s) = self.epoll.upgrade() {
            s.notify();
        }
    }
}

/// One watched (fd, file).
struct Interest {
    file: Weak<dyn FileDescription>,
    events: u32,
    data: u64,
    wake: Arc<InterestWake>,
    /// The registration on the file's wait queue (none for files without one).
    reg: Option<u64>,
    /// A one-shot interest that has fired (until `EPOLL_CTL_MOD` re-arms it).
    disabled: bool,
    /// Watched in the instance's [`HostSet`] (a host socket), not on a wait queue.
    host: bool,
}

impl Interest {
    /// The events this interest reports now; consumes the pending mark of an edge-triggered
    /// one when `consume`.
    ///
    /// A host interest (the host set marks those that changed) is asked only when pending,
    /// level-triggered or not. The mark is taken before asking, so a change marked
    /// meanwhile is kept; a level-triggered host interest found ready keeps its mark, as
    /// Linux keeps it on its ready list.
    fn ready(&self, file: &dyn FileDescription, consume: bool) -> u32 {
        if self.disabled {
            return 0;
        }
        let edge = self.events & EPOLLET != 0;
        if self.host || edge {
            let pending = if consume {
                self.wake.pending.swap(false, Ordering::SeqCst)
            } else {
                self.wake.pending.load(Ordering::SeqCst)
            };
            if !pending {
                return 0;
            }
        }
        let now = if self.host {
            file.host_readiness().map_or(poll::ERR, inet::readiness)
        } else {
            file.poll()
        };
        let ev = now & ((self.events & !FLAGS) | poll::ERR | poll::HUP);
        if self.host && consume && ev != 0 && !edge {
            self.wake.pending.store(true, Ordering::SeqCst);
        }
        ev
    }

    fn unregister(&self) {
        if let (Some(id), Some(f)) = (self.reg, self.file.upgrade()) {
            if let Some(q) = f.wait_queue() {
                q.unregister(id);
            }
        }
    }
}

/// (fd, address of the open file description).
type Key = (i32, usize);

fn identity(f: &Arc<dyn FileDescription>) -> usize {
    Arc::as_ptr(f) as *const () as usize
}

#[derive(Default)]
struct List {
    map: BTreeMap<Key, Interest>,
    /// Where the last collection stopped, so a small `maxevents` still serves everyone.
    last: Option<Key>,
    /// The host set's tokens: the description each stands for, and its interests.
    tokens: HashMap<u64, HostEntry>,
    /// The token of each description in the host set (by [`identity`]).
    by_file: HashMap<usize, u64>,
    next_token: u64,
}

/// One host socket in the host set: several guest fds of one description share it.
struct HostEntry {
    file: Weak<dyn FileDescription>,
    keys: Vec<Key>,
}

impl List {
    /// Marks pending the interests of every socket the host set says changed.
    fn take_host_changes(&self, set: &HostSet) {
        set.changed(|token| {
            for k in self.tokens.get(&token).map_or(&[][..], |e| &e.keys) {
                if let Some(i) = self.map.get(k) {
                    i.wake.pending.store(true, Ordering::SeqCst);
                }
            }
        });
    }

    /// The events the host set watches `token`'s socket for: what its interests ask.
    fn host_events(&self, token: u64) -> u32 {
        let keys = self.tokens.get(&token).map_or(&[][..], |e| &e.keys);
        keys.iter()
            .filter_map(|k| self.map.get(k))
            .fold(0, |m, i| m | (i.events & HOST_EVENTS))
    }

    /// Forgets interest `key` of a host socket; the host set stops watching the socket when
    /// it was the last (the socket still open: a closed one has left it already).
    fn drop_host_key(&mut self, key: Key, set: Option<&HostSet>) {
        let Some(&token) = self.by_file.get(&key.1) else {
            return;
        };
        let Some(e) = self.tokens.get_mut(&token) else {
            return;
        };
        e.keys.retain(|k| *k != key);
        let file = e.file.upgrade();
        let empty = e.keys.is_empty();
        if empty {
            self.tokens.remove(&token);
            self.by_file.remove(&key.1);
        }
        let (Some(file), Some(set)) = (file, set) else {
            return;
        };
        let Some(fd) = file.host_readiness() else {
            return;
        };
        let r = if empty {
            set.remove(fd)
        } else {
            set.modify(fd, self.host_events(token), token)
        };
        if let Err(e) = r {
            tracing::debug!(?e, "epoll: host set change failed");
        }
    }
}

/// The events a host interest's socket is watched for in the host set (errors and
/// hang-ups always are): every readiness a guest can ask of a socket.
const HOST_EVENTS: u32 = inet::POLL_ALL;

struct Shared {
    list: Mutex<List>,
    /// Notified when an interest may have become ready: for waiters that sleep on a queue
    /// (a `poll` of this epoll, an epoll watching it, a wait without a wake-up eventfd).
    /// The reactor notifies it for the host set.
    queue: Arc<WaitQueue>,
    /// The same, for `epoll_wait`s sleeping in the host's poll of the host set (the
    /// reactor doesn't watch the set for them).
    sleepers: WaitQueue,
    /// The host set, made with the first host socket (None: the host refused one, and host
    /// sockets are watched on their wait queues).
    host: OnceLock<Option<HostSet>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, List> {
        self.list.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn notify(&self) {
        self.queue.notify();
        self.sleepers.notify();
    }

    fn host_set(&self) -> Option<&HostSet> {
        self.host.get().and_then(Option::as_ref)
    }

    /// The host set, made now if it isn't yet.
    fn make_host_set(&self) -> Option<&HostSet> {
        self.host
            .get_or_init(|| {
                HostSet::new(self.queue.clone())
                    .inspect_err(|e| tracing::debug!(?e, "epoll: no host set"))
                    .ok()
            })
            .as_ref()
    }

    /// Drops the interests whose files are gone (and their host set entries).
    fn drop_dead(&self, list: &mut List) {
        let dead: Vec<(Key, bool)> = list
            .map
            .iter()
            .filter(|(_, i)| i.file.strong_count() == 0)
            .map(|(k, i)| (*k, i.host))
            .collect();
        for (key, host) in dead {
            list.map.remove(&key);
            if host {
                list.drop_host_key(key, self.host_set());
            }
        }
    }

    /// The live files it watches.
    fn files(&self) -> Vec<Arc<dyn FileDescription>> {
        self.lock()
            .map
            .values()
            .filter_map(|i| i.file.upgrade())
            .collect()
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let list = std::mem::take(&mut *self.lock());
        for i in list.map.values() {
            i.unregister();
        }
    }
}

/// An epoll instance: an open file description.
pub struct Epoll {
    shared: Arc<Shared>,
    owner: (u32, u32),
    ctime: (i64, i64),
}

impl std::fmt::Debug for Epoll {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.shared.lock().map.len();
        f.debug_struct("Epoll").field("interests", &n).finish()
    }
}

impl Epoll {
    pub fn new(uid: u32, gid: u32) -> Epoll {
        Epoll {
            shared: Arc::new(Shared {
                list: Mutex::new(List::default()),
                queue: Arc::new(WaitQueue::new()),
                sleepers: WaitQueue::new(),
                host: OnceLock::new(),
            }),
            owner: (uid, gid),
            ctime: now_ts(),
        }
    }

    /// The epoll instance `f` is, if it is one.
    pub fn of(f: &dyn FileDescription) -> Option<&Epoll> {
        f.as_any().downcast_ref::<Epoll>()
    }

    /// `ELOOP` if watching `inner` would close a cycle or nest epolls too deep.
    fn check_nesting(&self, inner: &Epoll) -> Result<(), Errno> {
        fn walk(from: &Arc<Shared>, me: &Arc<Shared>, depth: usize) -> Result<(), Errno> {
            if Arc::ptr_eq(from, me) || depth > MAX_NESTS {
                return Err(Errno::ELOOP);
            }
            for f in from.files() {
                if let Some(e) = Epoll::of(&*f) {
                    walk(&e.shared, me, depth + 1)?;
                }
            }
            Ok(())
        }
        walk(&inner.shared, &self.shared, 1)
    }

    /// `epoll_ctl(2)` on (fd, file); `events`/`data` are the guest's `struct epoll_event`
    /// (ignored for `EPOLL_CTL_DEL`).
    pub fn ctl(
        &self,
        op: i32,
        fd: i32,
        file: &Arc<dyn FileDescription>,
        events: u32,
        data: u64,
    ) -> Result<(), Errno> {
        if !matches!(op, EPOLL_CTL_ADD | EPOLL_CTL_DEL | EPOLL_CTL_MOD) {
            return Err(Errno::EINVAL);
        }
        let inner = Epoll::of(&**file);
        if inner.is_some_and(|e| Arc::ptr_eq(&e.shared, &self.shared)) {
            return Err(Errno::EINVAL);
        }
        if file.wait_queue().is_none() {
            // Files whose readiness never changes can't be watched (Linux: no poll method).
            let kind = file.stat().map_or(S_IFREG, |s| s.st_mode & S_IFMT);
            if kind == S_IFREG || kind == S_IFDIR {
                return Err(Errno::EPERM);
            }
        }
        if events & EPOLLEXCLUSIVE != 0 {
            if op == EPOLL_CTL_MOD || (op == EPOLL_CTL_ADD && inner.is_some()) {
                return Err(Errno::EINVAL);
            }
            if op == EPOLL_CTL_ADD && events & !EXCLUSIVE_OK != 0 {
                return Err(Errno::EINVAL);
            }
        }
        if op == EPOLL_CTL_ADD {
            if let Some(e) = inner {
                self.check_nesting(e)?;
            }
        }
        let key = (fd, identity(file));
        let mut list = self.shared.lock();
        // Entries whose files are gone (their addresses maybe reused) count as absent.
        self.shared.drop_dead(&mut list);
        match op {
            EPOLL_CTL_ADD => {
                if list.map.contains_key(&key) {
                    return Err(Errno::EEXIST);
                }
                let wake = Arc::new(InterestWake {
                    pending: AtomicBool::new(true),
                    epoll: Arc::downgrade(&self.shared),
                });
                let host = self.add_host(&mut list, key, file, events);
                let reg = if host {
                    None
                } else {
                    file.wait_queue()
                        .map(|q| q.register_id(wake.clone() as Arc<dyn Wake>))
                };
                list.map.insert(
                    key,
                    Interest {
                        file: Arc::downgrade(file),
                        events,
                        data,
                        wake,
                        reg,
                        disabled: false,
                        host,
                    },
                );
            }
            EPOLL_CTL_MOD => {
                let i = list.map.get_mut(&key).ok_or(Errno::ENOENT)?;
                if i.events & EPOLLEXCLUSIVE != 0 {
                    return Err(Errno::EINVAL);
                }
                i.events = events;
                i.data = data;
                i.disabled = false;
                i.wake.pending.store(true, Ordering::SeqCst);
                if i.host {
                    self.modify_host(&list, key, file);
                }
            }
            _ => {
                let i = list.map.remove(&key).ok_or(Errno::ENOENT)?;
                if i.host {
                    list.drop_host_key(key, self.shared.host_set());
                }
                drop(list);
                i.unregister();
                return Ok(());
            }
        }
        drop(list);
        // Sleepers re-check: the new interest may be ready already.
        self.shared.notify();
        Ok(())
    }

    /// Puts the host socket of a new interest `key` into the host set (its first interest
    /// adds it, later ones on the same description widen its events). False if `file` isn't
    /// a host socket or the host set can't take it: the interest then goes on the file's
    /// wait queue.
    fn add_host(
        &self,
        list: &mut List,
        key: Key,
        file: &Arc<dyn FileDescription>,
        events: u32,
    ) -> bool {
        let Some(fd) = file.host_readiness() else {
            return false;
        };
        let Some(set) = self.shared.make_host_set() else {
            return false;
        };
        if let Some(&token) = list.by_file.get(&key.1) {
            let Some(e) = list.tokens.get_mut(&token) else {
                return false;
            };
            e.keys.push(key);
            let ev = list.host_events(token) | (events & HOST_EVENTS);
            if let Err(e) = set.modify(fd, ev, token) {
                tracing::debug!(?e, "epoll: host set change failed");
            }
            return true;
        }
        list.next_token += 1;
        let token = list.next_token;
        if let Err(e) = set.add(fd, events & HOST_EVENTS, token) {
            tracing::debug!(?e, "epoll: host set refused a socket; its queue instead");
            return false;
        }
        list.by_file.insert(key.1, token);
        list.tokens.insert(
            token,
            HostEntry {
                file: Arc::downgrade(file),
                keys: vec![key],
            },
        );
        true
    }

    /// After `EPOLL_CTL_MOD` of host interest `key`: the set watches what its interests
    /// now ask (which re-arms the socket's edge: ready now is reported).
    fn modify_host(&self, list: &List, key: Key, file: &Arc<dyn FileDescription>) {
        let (Some(set), Some(fd)) = (self.shared.host_set(), file.host_readiness()) else {
            return;
        };
        let Some(&token) = list.by_file.get(&key.1) else {
            return;
        };
        if let Err(e) = set.modify(fd, list.host_events(token), token) {
            tracing::debug!(?e, "epoll: host set change failed");
        }
    }

    /// Up to `max` ready (events, data) pairs, in fd order starting after where the last
    /// collection stopped.
    fn collect(&self, max: usize) -> Vec<(u32, u64)> {
        let mut list = self.shared.lock();
        self.shared.drop_dead(&mut list);
        if let Some(set) = self.shared.host_set() {
            list.take_host_changes(set);
        }
        let mut keys: Vec<Key> = list.map.keys().copied().collect();
        if let Some(last) = list.last {
            let split = keys.partition_point(|k| *k <= last);
            keys.rotate_left(split);
        }
        let mut out = Vec::new();
        for key in keys {
            if out.len() >= max {
                break;
            }
            let Some(i) = list.map.get_mut(&key) else {
                continue;
            };
            let Some(file) = i.file.upgrade() else {
                continue;
            };
            let ev = i.ready(&*file, true);
            if ev == 0 {
                continue;
            }
            out.push((ev, i.data));
            if i.events & EPOLLONESHOT != 0 {
                i.disabled = true;
            }
            list.last = Some(key);
        }
        out
    }

    /// Whether any watched file is a host stream (no wait queue), which needs sliced waits.
    fn has_host_files(&self) -> bool {
        self.shared.files().iter().any(|f| f.wait_queue().is_none())
    }

    /// `epoll_wait(2)`: up to `max` events; waits until one is ready or `deadline` passes
    /// (`None` = forever; a deadline already past only checks). `ERESTARTSYS` if a signal
    /// interrupts.
    pub fn wait(&self, max: usize, deadline: Option<Instant>) -> Result<Vec<(u32, u64)>, Errno> {
        let first = self.collect(max);
        if !first.is_empty() || deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(first);
        }
        let sliced = self.has_host_files();
        let ready = || {
            let v = self.collect(max);
            (!v.is_empty()).then_some(v)
        };
        match self.shared.host_set() {
            // Asleep in the host's poll of the host set, and on `sleepers` for the rest.
            Some(set) if !sliced && sleeps_on_host() => {
                let r = block_on_queues_and_host(
                    &[&self.shared.sleepers],
                    set.fd(),
                    libc::POLLIN,
                    deadline,
                    || ready().map(Ok),
                );
                match r {
                    Err(Errno::ETIMEDOUT) => Ok(Vec::new()),
                    r => r,
                }
            }
            set => {
                let got = wait_sliced(&[&self.shared.queue], deadline, sliced, || {
                    // On the queue: the host set's changes come through the reactor.
                    if let Some(s) = set {
                        s.arm();
                    }
                    ready()
                })?;
                Ok(got.unwrap_or_default())
            }
        }
    }
}

impl FileDescription for Epoll {
    fn read(&self, _buf: &mut [u8]) -> Result<usize, Errno> {
        Err(Errno::EINVAL)
    }

    fn write(&self, _data: &[u8]) -> Result<usize, Errno> {
        Err(Errno::EINVAL)
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(anon_stat(self.owner.0, self.owner.1, self.ctime))
    }

    fn status_flags(&self) -> u32 {
        o::RDWR
    }

    fn path(&self) -> Vec<u8> {
        b"anon_inode:[eventpoll]".to_vec()
    }

    /// Readable when some interest would be reported (without consuming edge-triggered
    /// marks).
    fn poll(&self) -> u32 {
        let list = self.shared.lock();
        if let Some(set) = self.shared.host_set() {
            // Asked by a waiter on the queue: it needs the reactor's word of the set.
            set.arm();
            list.take_host_changes(set);
        }
        let any = list
            .map
            .values()
            .any(|i| i.file.upgrade().is_some_and(|f| i.ready(&*f, false) != 0));
        if any {
            poll::IN | poll::RDNORM
        } else {
            0
        }
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&*self.shared.queue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::eventfd::EventFd;
    use crate::vfs::pipe::Pipe;

    fn as_file<T: FileDescription + 'static>(f: Arc<T>) -> Arc<dyn FileDescription> {
        f
    }

    #[test]
    fn level_edge_oneshot() {
        let (r, w) = Pipe::new_pair(0, 0, 0);
        let (r, w) = (as_file(r), as_file(w));
        let now = Some(Instant::now());
        let lt = Epoll::new(0, 0);
        let et = Epoll::new(0, 0);
        let os = Epoll::new(0, 0);
        lt.ctl(EPOLL_CTL_ADD, 3, &r, poll::IN, 7).expect("ctl");
        et.ctl(EPOLL_CTL_ADD, 3, &r, poll::IN | EPOLLET, 8)
            .expect("ctl");
        os.ctl(EPOLL_CTL_ADD, 3, &r, poll::IN | EPOLLONESHOT, 9)
            .expect("ctl");
        assert!(lt.wait(8, now).expect("wait").is_empty());
        assert!(et.wait(8, now).expect("wait").is_empty());
        w.write(b"x").expect("write");
        for _ in 0..2 {
            assert_eq!(lt.wait(8, now).expect("wait"), vec![(poll::IN, 7)]);
        }
        assert_eq!(et.wait(8, now).expect("wait"), vec![(poll::IN, 8)]);
        assert!(et.wait(8, now).expect("wait").is_empty());
        assert_eq!(os.wait(8, now).expect("wait"), vec![(poll::IN, 9)]);
        assert!(os.wait(8, now).expect("wait").is_empty());
        w.write(b"y").expect("write");
        assert_eq!(et.wait(8, now).expect("wait"), vec![(poll::IN, 8)]);
        assert!(os.wait(8, now).expect("wait").is_empty());
        os.ctl(EPOLL_CTL_MOD, 3, &r, poll::IN | EPOLLONESHOT, 10)
            .expect("ctl");
        assert_eq!(os.wait(8, now).expect("wait"), vec![(poll::IN, 10)]);
        // The last writer gone: HUP is always reported.
        drop(w);
        assert_eq!(
            lt.wait(8, now).expect("wait"),
            vec![(poll::IN | poll::HUP, 7)]
        );
    }

    #[test]
    fn ctl_errors_and_close() {
        let ep = Arc::new(Epoll::new(0, 0));
        let epf = as_file(ep.clone());
        let e = as_file(Arc::new(EventFd::new(0, 0, 0, 0)));
        assert_eq!(
            ep.ctl(EPOLL_CTL_ADD, 4, &epf, poll::IN, 0),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            ep.ctl(EPOLL_CTL_MOD, 5, &e, poll::IN, 0),
            Err(Errno::ENOENT)
        );
        ep.ctl(EPOLL_CTL_ADD, 5, &e, poll::IN, 0).expect("ctl");
        assert_eq!(
            ep.ctl(EPOLL_CTL_ADD, 5, &e, poll::IN, 0),
            Err(Errno::EEXIST)
        );
        assert_eq!(ep.ctl(9, 5, &e, poll::IN, 0), Err(Errno::EINVAL));
        // A cycle through a second instance.
        let ep2 = Arc::new(Epoll::new(0, 0));
        let ep2f = as_file(ep2.clone());
        ep.ctl(EPOLL_CTL_ADD, 6, &ep2f, poll::IN, 0).expect("ctl");
        assert_eq!(
            ep2.ctl(EPOLL_CTL_ADD, 3, &epf, poll::IN, 0),
            Err(Errno::ELOOP)
        );
        // Closing the file drops the interest (and its registration).
        drop(e);
        assert!(ep.wait(8, Some(Instant::now())).expect("ok").is_empty());
        assert_eq!(ep.shared.lock().map.len(), 1);
    }

    #[test]
    fn nested_and_woken_from_another_thread() {
        let outer = Epoll::new(0, 0);
        let inner = Arc::new(Epoll::new(0, 0));
        let e = Arc::new(EventFd::new(0, 0, 0, 0));
        inner
            .ctl(EPOLL_CTL_ADD, 3, &as_file(e.clone()), poll::IN, 1)
            .expect("ok");
        outer
            .ctl(EPOLL_CTL_ADD, 4, &as_file(inner.clone()), poll::IN, 2)
            .expect("ok");
        let e2 = e.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            e2.write(&1u64.to_ne_bytes()).expect("write");
        });
        assert_eq!(outer.wait(8, None).expect("wait"), vec![(poll::IN, 2)]);
        t.join().expect("join");
        let d = Some(Instant::now() + Duration::from_millis(5));
        assert_eq!(inner.wait(8, d).expect("wait"), vec![(poll::IN, 1)]);
    }

    #[test]
    fn host_pipe_is_rechecked_in_slices() {
        let (r, w) = nix::unistd::pipe().expect("host pipe");
        let r = super::super::HostFile::from_host_fd(r, "pipe", o::RDONLY);
        assert_eq!(r.wait_queue().map(|_| ()), None);
        assert_eq!(r.poll() & poll::IN, 0);
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            nix::unistd::write(&w, b"x").expect("write");
            w
        });
        let got = wait_sliced(&[], None, true, || (r.poll() & poll::IN != 0).then_some(()));
        assert_eq!(got, Ok(Some(())));
        drop(t.join());
    }

    #[test]
    fn times_out() {
        let ep = Epoll::new(0, 0);
        let start = Instant::now();
        let d = Some(start + Duration::from_millis(15));
        assert!(ep.wait(1, d).expect("wait").is_empty());
        assert!(start.elapsed() >= Duration::from_millis(15));
    }
}
