//! inotify: instances (file descriptions that queue events, [`Inotify`] in `instance.rs`) and
//! the sandbox's watch registry.
//!
//! Watches are kept by file identity, `(st_dev, st_ino)`, in one table for the whole sandbox
//! (as [`super::locks`] keeps locks): a watch added by any path meets changes made by any
//! other. Filesystems know nothing of it: the syscall layer (`syscalls/inotify.rs`) reports
//! each change after it succeeded, through [`notify`] and its helpers, and the fd table
//! reports the last close of a description ([`Closing`]). Every report first asks
//! [`watching`], one atomic load, so nothing is computed while no watch exists.
//!
//! A watch on a directory sees events for its entries with the entry's name; a watch on a
//! file (or directory) sees its own, without a name. Events for a file found through an open
//! description (writes, reads, closes) reach its directory's watch through [`Opened`]
//! records: where the description was opened, noted when it was opened while something was
//! watched.
//!
//! Queues behave as Linux's: an event identical to the last queued one (same wd, mask and
//! name) is dropped; past [`MAX_QUEUED_EVENTS`] one `IN_Q_OVERFLOW` (wd -1) ends the queue;
//! `read` returns whole records and `EINVAL` when the first does not fit. Watch descriptors
//! are allocated cyclically from 1, as Linux's `idr_alloc_cyclic`.
//!
//! Deviations from Linux, for the next maintainer:
//! - Limits are the sandbox's, not per user: [`MAX_USER_WATCHES`] watches (`ENOSPC`) and
//!   [`MAX_USER_INSTANCES`] instances (`EMFILE`).
//! - `IN_DELETE_SELF` is sent when the last link goes, even if the file is still open (Linux
//!   waits for the last close). `IN_UNMOUNT` is never sent; `IN_EXCL_UNLINK` is accepted and
//!   has no effect.
//! - A description opened while nothing was watched, or not by path (pipes, sockets), reports
//!   writes, reads and its close to watches on the file itself only, not to its directory.
//! - A description whose last reference goes outside an fd table (an epoll set, a syscall in
//!   flight on another thread) sends no `IN_CLOSE_*`.

mod dnotify;
mod instance;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, Weak};

use snare_abi::file::{o, Stat, S_IFDIR, S_IFMT};
use snare_abi::inotify::{
    IN_ALL_EVENTS, IN_CLOSE_NOWRITE, IN_CLOSE_WRITE, IN_DELETE_SELF, IN_EXCL_UNLINK, IN_ISDIR,
    IN_MASK_ADD, IN_MASK_CREATE, IN_MOVE_SELF, IN_ONESHOT,
};
use snare_abi::Errno;

use super::FileDescription;
pub(crate) use dnotify::{flush as dnotify_flush, register as dnotify_register};
pub(crate) use dnotify::{set_signal, signal_of, SigioOwner};
use instance::Event;
pub use instance::Inotify;

/// A file's identity: `(st_dev, st_ino)`.
pub(crate) type Identity = (u64, u64);

/// A name in a directory: the directory's identity and the name.
type Place = (Identity, Box<[u8]>);

/// Events one instance queues before the overflow event (Linux's `max_queued_events`).
pub const MAX_QUEUED_EVENTS: usize = 16384;
/// Watches in the sandbox (Linux's `max_user_watches`, at its smallest default).
pub const MAX_USER_WATCHES: usize = 8192;
/// Instances in the sandbox (Linux's `max_user_instances`).
pub const MAX_USER_INSTANCES: usize = 128;

/// Watches in the registry: what [`watching`] reads.
static WATCHES: AtomicUsize = AtomicUsize::new(0);

/// Whether any watch exists: event reports return at once when not (one atomic load).
#[inline]
pub(crate) fn watching() -> bool {
    WATCHES.load(Ordering::Relaxed) != 0
}

/// The identity of the file `st` describes, and `IN_ISDIR` if it is a directory.
pub(crate) fn identity_of(st: &Stat) -> (Identity, u32) {
    let dir = if st.st_mode & S_IFMT == S_IFDIR {
        IN_ISDIR
    } else {
        0
    };
    ((st.st_dev, st.st_ino), dir)
}

/// A fresh cookie tying an `IN_MOVED_FROM` to its `IN_MOVED_TO`.
pub(crate) fn next_cookie() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    loop {
        let c = NEXT.fetch_add(1, Ordering::Relaxed);
        if c != 0 {
            return c;
        }
    }
}

/// One watch: an instance's interest in a file.
#[derive(Debug)]
struct Watch {
    instance: u64,
    inotify: Weak<Inotify>,
    wd: i32,
    /// The events asked for, with `IN_ONESHOT` and `IN_EXCL_UNLINK`.
    mask: u32,
}

/// An instance's watch descriptors.
#[derive(Debug)]
struct Wds {
    /// Where the next allocation starts looking (Linux's cyclic idr cursor).
    next: i32,
    by_wd: BTreeMap<i32, Identity>,
}

impl Default for Wds {
    fn default() -> Wds {
        Wds {
            next: 1,
            by_wd: BTreeMap::new(),
        }
    }
}

impl Wds {
    /// The first free wd from the cursor on (wrapping to 1), recorded for `target`.
    fn allocate(&mut self, target: Identity) -> Option<i32> {
        let free = |from: i32| {
            let mut wd = from;
            for (&k, _) in self.by_wd.range(from..) {
                if k != wd {
                    break;
                }
                wd = wd.checked_add(1)?;
            }
            Some(wd)
        };
        let wd = free(self.next).or_else(|| free(1))?;
        self.next = wd.checked_add(1).unwrap_or(1);
        self.by_wd.insert(wd, target);
        Some(wd)
    }
}

/// Where a description was opened: its file, and the directory and name it was opened by.
#[derive(Debug)]
struct Opened {
    file: Weak<dyn FileDescription>,
    target: Identity,
    /// `IN_ISDIR` for a directory.
    dir: u32,
    /// The directory's identity and the name in it; `None` for a filesystem's root.
    parent: Option<Place>,
}

/// The sandbox's watches.
#[derive(Debug, Default)]
struct Registry {
    /// Watched file → its watches (one per instance).
    files: HashMap<Identity, Vec<Watch>>,
    /// Live instance → its watch descriptors.
    instances: HashMap<u64, Wds>,
    /// Watches in `files` (mirrored in [`WATCHES`]).
    total: usize,
    /// Descriptions opened while something was watched, by [`description_id`].
    opened: HashMap<usize, Opened>,
    /// When `opened` next drops records of descriptions that died outside an fd table.
    purge_at: usize,
    /// Watched directory → its dnotify registrations ([`dnotify`]).
    dn: HashMap<Identity, Vec<dnotify::DnWatch>>,
    /// Registrations in `dn` (counted in [`WATCHES`] too).
    dn_total: usize,
    /// Descriptions' `F_SETSIG` signals, by [`description_id`].
    signums: HashMap<usize, (Weak<dyn FileDescription>, i32)>,
}

fn registry() -> MutexGuard<'static, Registry> {
    static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(Mutex::default);
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// A description's name in [`Registry::opened`]: its address, unique while the record's
/// `Weak` lives.
fn description_id(file: &dyn FileDescription) -> usize {
    file as *const dyn FileDescription as *const () as usize
}

impl Registry {
    /// Sets the count of inotify watches; [`WATCHES`] counts dnotify registrations too.
    fn set_total(&mut self, total: usize) {
        self.total = total;
        let all = total + self.dn_total;
        WATCHES.store(all, Ordering::Relaxed);
        if all == 0 {
            // Records are kept only while something is watched.
            self.opened.clear();
        }
    }

    /// Removes `instance`'s watch `wd`; its file, if there was one.
    fn remove(&mut self, instance: u64, wd: i32) -> Option<Identity> {
        let target = self.instances.get_mut(&instance)?.by_wd.remove(&wd)?;
        if let Some(list) = self.files.get_mut(&target) {
            list.retain(|w| w.instance != instance);
            if list.is_empty() {
                self.files.remove(&target);
            }
        }
        self.set_total(self.total.saturating_sub(1));
        Some(target)
    }

    /// Drops a closed instance and its watches (no events: nobody reads them).
    fn forget(&mut self, instance: u64) {
        let Some(wds) = self.instances.remove(&instance) else {
            return;
        };
        for target in wds.by_wd.values() {
            if let Some(list) = self.files.get_mut(target) {
                list.retain(|w| w.instance != instance);
                if list.is_empty() {
                    self.files.remove(target);
                }
            }
        }
        self.set_total(self.total.saturating_sub(wds.by_wd.len()));
    }

    /// The events `mask` makes for the watches on `target`, for [`deliver`]; spends
    /// `IN_ONESHOT` watches (their `IN_IGNORED` follows their event).
    fn collect(
        &mut self,
        target: Identity,
        name: Option<&[u8]>,
        mask: u32,
        cookie: u32,
        out: &mut Vec<(Arc<Inotify>, Event)>,
    ) {
        let Some(list) = self.files.get(&target) else {
            return;
        };
        let mut spent = Vec::new();
        for w in list {
            if w.mask & mask & IN_ALL_EVENTS == 0 {
                continue;
            }
            let Some(inotify) = w.inotify.upgrade() else {
                continue;
            };
            let ev = Event {
                wd: w.wd,
                mask,
                cookie,
                name: name.map(Box::from),
            };
            if w.mask & IN_ONESHOT != 0 {
                spent.push((w.instance, w.wd));
                out.push((inotify.clone(), ev));
                out.push((inotify, Event::ignored(w.wd)));
            } else {
                out.push((inotify, ev));
            }
        }
        for (instance, wd) in spent {
            self.remove(instance, wd);
        }
    }
}

/// A new instance's name in the registry; `EMFILE` past [`MAX_USER_INSTANCES`].
fn register() -> Result<u64, Errno> {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let mut r = registry();
    if r.instances.len() >= MAX_USER_INSTANCES {
        return Err(Errno::EMFILE);
    }
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    r.instances.insert(id, Wds::default());
    Ok(id)
}

/// Instance `id`'s watch on `target` (see [`Inotify::add_watch`]); `me` is the instance.
fn watch(id: u64, me: &Weak<Inotify>, target: Identity, mask: u32) -> Result<i32, Errno> {
    const KEPT: u32 = IN_ALL_EVENTS | IN_ONESHOT | IN_EXCL_UNLINK;
    let mut guard = registry();
    let r = &mut *guard;
    let mine = r
        .files
        .get_mut(&target)
        .and_then(|l| l.iter_mut().find(|w| w.instance == id));
    if let Some(w) = mine {
        if mask & IN_MASK_CREATE != 0 {
            return Err(Errno::EEXIST);
        }
        if mask & IN_MASK_ADD != 0 {
            w.mask |= mask & KEPT;
        } else {
            w.mask = mask & KEPT;
        }
        return Ok(w.wd);
    }
    if r.total >= MAX_USER_WATCHES {
        return Err(Errno::ENOSPC);
    }
    let wds = r.instances.get_mut(&id).ok_or(Errno::EINVAL)?;
    let wd = wds.allocate(target).ok_or(Errno::ENOSPC)?;
    r.files.entry(target).or_default().push(Watch {
        instance: id,
        inotify: me.clone(),
        wd,
        mask: mask & KEPT,
    });
    r.set_total(r.total + 1);
    Ok(wd)
}

/// Removes instance `id`'s watch `wd`; the file it watched, if there was one.
fn unwatch(id: u64, wd: i32) -> Option<Identity> {
    registry().remove(id, wd)
}

/// Drops a closed instance and its watches.
fn forget(id: u64) {
    registry().forget(id);
}

/// Queues collected events, outside the registry's lock (dropping the last reference to an
/// instance takes the lock).
fn deliver(events: Vec<(Arc<Inotify>, Event)>) {
    for (inotify, ev) in events {
        inotify.push(ev);
    }
}

/// Reports `mask` (one event bit, with `IN_ISDIR` for a directory) to the watches on
/// `target`: a directory with the `name` of its entry the event is about, or the file itself
/// with no name. `IN_ISDIR` is dropped from `IN_DELETE_SELF` and `IN_MOVE_SELF`, as Linux.
pub(crate) fn notify(target: Identity, name: Option<&[u8]>, mut mask: u32, cookie: u32) {
    if !watching() {
        return;
    }
    if mask & (IN_DELETE_SELF | IN_MOVE_SELF) != 0 {
        mask &= !IN_ISDIR;
    }
    let mut out = Vec::new();
    let mut signals = Vec::new();
    {
        let mut r = registry();
        r.collect(target, name, mask, cookie, &mut out);
        r.collect_dn(target, mask, &mut signals);
    }
    deliver(out);
    dnotify::send(signals);
}

/// [`notify`] for the file itself.
pub(crate) fn notify_self(target: Identity, mask: u32) {
    notify(target, None, mask, 0);
}

/// An event about a file that both its directory's watch (with `name`) and its own watch
/// see, in that order (Linux's `fsnotify_parent`, then the inode).
pub(crate) fn notify_child(parent: Option<(Identity, &[u8])>, target: Identity, mask: u32) {
    if let Some((dir, name)) = parent {
        notify(dir, Some(name), mask, 0);
    }
    notify_self(target, mask);
}

/// The file `target` lost its last link: `IN_DELETE_SELF` to the watches asking for it, then
/// every watch on it goes with an `IN_IGNORED`.
pub(crate) fn deleted(target: Identity) {
    if !watching() {
        return;
    }
    let mut out = Vec::new();
    {
        let mut r = registry();
        r.collect(target, None, IN_DELETE_SELF, 0, &mut out);
        let gone = r.files.remove(&target).unwrap_or_default();
        for w in &gone {
            if let Some(wds) = r.instances.get_mut(&w.instance) {
                wds.by_wd.remove(&w.wd);
            }
            if let Some(i) = w.inotify.upgrade() {
                out.push((i, Event::ignored(w.wd)));
            }
        }
        let total = r.total.saturating_sub(gone.len());
        r.set_total(total);
    }
    deliver(out);
}

/// Notes where `file` was opened (while something is watched), so events found through it
/// reach its directory's watch with its name.
pub(crate) fn record_open(
    file: &Arc<dyn FileDescription>,
    target: Identity,
    dir: u32,
    parent: Option<(Identity, &[u8])>,
) {
    let mut r = registry();
    if r.total + r.dn_total == 0 {
        return;
    }
    if r.opened.len() >= r.purge_at {
        r.opened.retain(|_, o| o.file.strong_count() > 0);
        r.purge_at = (r.opened.len() * 2).max(1024);
    }
    r.opened.insert(
        description_id(&**file),
        Opened {
            file: Arc::downgrade(file),
            target,
            dir,
            parent: parent.map(|(d, n)| (d, Box::from(n))),
        },
    );
}

/// A rename moved the entry `from` to `to` (and, for an exchange, `to` to `from`):
/// descriptions opened by the old name now report under the new one.
pub(crate) fn renamed(from: (Identity, &[u8]), to: (Identity, &[u8]), exchange: bool) {
    if !watching() {
        return;
    }
    let at = |p: &Place, (d, n): (Identity, &[u8])| p.0 == d && *p.1 == *n;
    for o in registry().opened.values_mut() {
        if let Some(p) = &mut o.parent {
            if at(p, from) {
                *p = (to.0, Box::from(to.1));
            } else if exchange && at(p, to) {
                *p = (from.0, Box::from(from.1));
            }
        }
    }
}

/// The file an open description refers to, `IN_ISDIR`, and its directory and name if known.
fn locate(file: &dyn FileDescription) -> Option<(Identity, u32, Option<Place>)> {
    if let Some(o) = registry().opened.get(&description_id(file)) {
        return Some((o.target, o.dir, o.parent.clone()));
    }
    let (target, dir) = identity_of(&file.stat().ok()?);
    Some((target, dir, None))
}

/// `mask` (`IN_MODIFY`, `IN_ACCESS`) happened through `file`: its own watch and its
/// directory's see it.
pub(crate) fn file_event(file: &dyn FileDescription, mask: u32) {
    if !watching() || file.status_flags() & o::PATH != 0 {
        return;
    }
    if let Some((target, dir, parent)) = locate(file) {
        notify_child(
            parent.as_ref().map(|(d, n)| (*d, &n[..])),
            target,
            mask | dir,
        );
    }
}

/// A description's close, seen by the fd table: made before its reference goes (the file
/// must still answer `stat`), reported with [`Closing::report`] if it was the last.
#[derive(Debug)]
pub(crate) struct Closing {
    id: usize,
    target: Identity,
    mask: u32,
}

impl Closing {
    /// `None` unless something is watched and `file`'s reference is its last.
    pub(crate) fn of(file: &Arc<dyn FileDescription>) -> Option<Closing> {
        if !watching() || Arc::strong_count(file) > 1 {
            return None;
        }
        let flags = file.status_flags();
        if flags & o::PATH != 0 {
            return None;
        }
        let (target, dir, _) = locate(&**file)?;
        let close = if flags & o::ACCMODE == o::RDONLY {
            IN_CLOSE_NOWRITE
        } else {
            IN_CLOSE_WRITE
        };
        Some(Closing {
            id: description_id(&**file),
            target,
            mask: close | dir,
        })
    }

    /// Sends `IN_CLOSE_WRITE` or `IN_CLOSE_NOWRITE` (the description is gone).
    pub(crate) fn report(self) {
        let opened = registry().opened.remove(&self.id);
        let parent = opened.and_then(|o| o.parent);
        notify_child(
            parent.as_ref().map(|(d, n)| (*d, &n[..])),
            self.target,
            self.mask,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::instance::tests::{events, ident};
    use super::*;
    use snare_abi::inotify::{IN_CREATE, IN_DELETE, IN_IGNORED, IN_MODIFY, IN_Q_OVERFLOW};

    #[test]
    fn watch_flags_and_wds() {
        let i = Inotify::new(o::NONBLOCK, 0, 0).expect("instance");
        let (a, b) = (ident(2, 1), ident(2, 2));
        let wa = i.add_watch(a, IN_CREATE).expect("a");
        assert_eq!(i.add_watch(a, IN_DELETE | IN_MASK_ADD), Ok(wa));
        assert_eq!(
            i.add_watch(a, IN_CREATE | IN_MASK_CREATE),
            Err(Errno::EEXIST)
        );
        notify(a, Some(b"x"), IN_DELETE, 0);
        i.rm_watch(wa).expect("rm");
        assert_eq!(i.rm_watch(wa), Err(Errno::EINVAL));
        // Cyclic: a removed wd is not given out again at once.
        let wb = i.add_watch(b, IN_CREATE | IN_ONESHOT).expect("b");
        assert_eq!(wb, wa + 1);
        notify(b, Some(b"y"), IN_CREATE, 0);
        notify(b, Some(b"z"), IN_CREATE, 0);
        assert_eq!(
            events(&i),
            vec![
                (wa, IN_DELETE, 0, Some(b"x".to_vec())),
                (wa, IN_IGNORED, 0, None),
                (wb, IN_CREATE, 0, Some(b"y".to_vec())),
                (wb, IN_IGNORED, 0, None),
            ]
        );
    }

    #[test]
    fn overflow_and_deletion() {
        let i = Inotify::new(o::NONBLOCK, 0, 0).expect("instance");
        let f = ident(3, 1);
        let wd = i.add_watch(f, IN_MODIFY | IN_DELETE_SELF).expect("watch");
        for n in 0..MAX_QUEUED_EVENTS + 10 {
            notify(f, Some(if n % 2 == 0 { b"a" } else { b"b" }), IN_MODIFY, 0);
        }
        let all = events(&i);
        assert_eq!(all.len(), MAX_QUEUED_EVENTS + 1);
        assert_eq!(all.last(), Some(&(-1, IN_Q_OVERFLOW, 0, None)));
        deleted(f);
        assert_eq!(
            events(&i),
            vec![(wd, IN_DELETE_SELF, 0, None), (wd, IN_IGNORED, 0, None)]
        );
        assert_eq!(i.rm_watch(wd), Err(Errno::EINVAL));
    }

    #[test]
    fn closing_an_instance_forgets_its_watches() {
        let i = Inotify::new(o::NONBLOCK, 0, 0).expect("instance");
        let f = ident(4, 1);
        i.add_watch(f, IN_MODIFY).expect("watch");
        assert!(registry().files.contains_key(&f));
        drop(i);
        assert!(!registry().files.contains_key(&f));
    }

    #[test]
    fn descriptions_report_where_they_were_opened() {
        let i = Inotify::new(o::NONBLOCK, 0, 0).expect("instance");
        let dir = ident(5, 1);
        let wd = i.add_watch(dir, IN_MODIFY | IN_CLOSE_WRITE).expect("watch");
        let (_, w) = crate::vfs::pipe::Pipe::new_pair(0, 0, 0);
        let w: Arc<dyn FileDescription> = w;
        let (target, isdir) = identity_of(&w.stat().expect("stat"));
        record_open(&w, target, isdir, Some((dir, b"p")));
        file_event(&*w, IN_MODIFY);
        renamed((dir, b"p"), (dir, b"q"), false);
        let closing = Closing::of(&w).expect("last reference");
        drop(w);
        closing.report();
        assert_eq!(
            events(&i),
            vec![
                (wd, IN_MODIFY, 0, Some(b"p".to_vec())),
                (wd, IN_CLOSE_WRITE, 0, Some(b"q".to_vec())),
            ]
        );
    }
}
