//! Advisory file locks, one table for the whole sandbox: POSIX record locks
//! (`fcntl(F_SETLK)`), open-file-description locks (`F_OFD_SETLK`) and `flock(2)` locks.
//!
//! Locks are keyed by file identity, `(st_dev, st_ino)` from the description's `stat()`, not by
//! mount or path: two opens of one file by any route meet here, and the table does not care
//! how the VFS found the file. Owners are Linux's:
//! - a POSIX lock belongs to an fd table (Linux's `files_struct`: a process and its threads).
//!   Closing *any* fd of the file drops all the owner's locks on it, so [`super::FdTable`]
//!   reports every fd it lets go of, and everything at exit.
//! - an OFD or flock lock belongs to an open file description and goes with the last
//!   reference to it. The fd table reports a description it dropped last; a description whose
//!   last `Arc` went elsewhere (an epoll set, a syscall in flight on another thread) is noticed
//!   later: records keep a `Weak` of their description, dead ones are purged whenever their
//!   file is looked at, and blocked waiters look again every [`RECHECK`].
//!
//! POSIX and OFD locks share one list of byte ranges per file and conflict with each other, as
//! on Linux; flock locks are a separate whole-file list that never meets them. Blocked requests
//! sleep on the file's wait queue, notified by every release. Blocked POSIX requests are
//! recorded so that a request that would close a cycle of waiting owners fails with EDEADLK.
//!
//! Talks to: `syscalls/read_write.rs` (fcntl, flock) and `vfs/fdtable.rs` (closes).

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use snare_abi::Errno;

use super::FileDescription;
use crate::kernel::wait::{self, WaitQueue};

/// A file's identity: `(st_dev, st_ino)`.
pub(crate) type FileKey = (u64, u64);

/// The exclusive end of a range that runs to the end of the file, however far it grows.
pub(crate) const TO_EOF: u64 = u64::MAX;

/// Lock records one owner may hold (ENOLCK past it): a guest can't grow the table unbounded.
const MAX_RECORDS: usize = 10_000;

/// Lock records in the whole table: descriptions are owners too, and a process may open many.
const MAX_TOTAL: usize = 1_000_000;

/// Links of the wait-for graph followed looking for a cycle (Linux's MAX_DEADLK_ITERATIONS).
const MAX_DEADLK_ITERATIONS: usize = 10;

/// How often a blocked request looks again without being woken: a description that died
/// without being reported releases its locks only when someone looks.
const RECHECK: Duration = Duration::from_millis(500);

/// The sandbox's lock table. A static, not a `Kernel` field: fd tables drop their fds on
/// paths that have no kernel at hand, and a Sentry process runs one sandbox.
pub(crate) fn table() -> &'static LockTable {
    static TABLE: LazyLock<LockTable> = LazyLock::new(LockTable::default);
    &TABLE
}

/// The identity locks on `file` are kept under.
pub(crate) fn key_of(file: &dyn FileDescription) -> Result<FileKey, Errno> {
    let st = file.stat()?;
    Ok((st.st_dev, st.st_ino))
}

/// A description's identity as a lock owner: its address, unique while a `Weak` of it lives
/// (the table keeps one per description with locks).
pub(crate) fn description_id(file: &Arc<dyn FileDescription>) -> usize {
    Arc::as_ptr(file) as *const () as usize
}

/// Who a record belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Owner {
    /// An fd table (POSIX locks).
    Posix(u64),
    /// An open file description (OFD and flock locks), by [`description_id`].
    Description(usize),
}

/// Who asks for a range lock.
pub(crate) enum Holder<'a> {
    /// A process through its fd table; `pid` is what F_GETLK reports.
    Process { table: u64, pid: i32 },
    /// An open file description (OFD locks).
    Description(&'a Arc<dyn FileDescription>),
}

impl Holder<'_> {
    fn owner(&self) -> Owner {
        match self {
            Holder::Process { table, .. } => Owner::Posix(*table),
            Holder::Description(d) => Owner::Description(description_id(d)),
        }
    }
}

/// A locked byte range `[start, end)` of one owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: u64,
    pub end: u64,
    pub write: bool,
}

impl Span {
    fn overlaps(&self, start: u64, end: u64) -> bool {
        self.start < end && start < self.end
    }
}

/// What a range request does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RangeOp {
    Read,
    Write,
    Unlock,
}

/// What a `flock(2)` call does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FlockOp {
    Shared,
    Exclusive,
    Unlock,
}

/// The lock F_GETLK reports: its range and its owner's pid (-1 for an OFD lock).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Conflict {
    pub span: Span,
    pub pid: i32,
}

/// Linux's `flock64_to_posix_lock`: the range `[start, end)` a `struct flock` names, `base`
/// being the offset `l_whence` refers to. A range reaching Linux's largest offset runs to
/// EOF ([`TO_EOF`]), as `l_len == 0` does.
pub(crate) fn range_of(base: u64, l_start: i64, l_len: i64) -> Result<(u64, u64), Errno> {
    const OFFSET_MAX: i64 = i64::MAX;
    let base = i64::try_from(base).map_err(|_| Errno::EOVERFLOW)?;
    if l_start > OFFSET_MAX - base {
        return Err(Errno::EOVERFLOW);
    }
    let start = base + l_start;
    if start < 0 {
        return Err(Errno::EINVAL);
    }
    let (first, last) = if l_len > 0 {
        if l_len - 1 > OFFSET_MAX - start {
            return Err(Errno::EOVERFLOW);
        }
        (start, start + (l_len - 1))
    } else if l_len < 0 {
        if start + l_len < 0 {
            return Err(Errno::EINVAL);
        }
        (start + l_len, start - 1)
    } else {
        (start, OFFSET_MAX)
    };
    let end = if last == OFFSET_MAX {
        TO_EOF
    } else {
        last as u64 + 1
    };
    Ok((first as u64, end))
}

/// One owner's spans on a file (disjoint, sorted, same-type neighbours merged) after `op` on
/// `[start, end)`, as Linux's `posix_lock_inode`: a lock merges with the owner's overlapping
/// or adjacent locks of its type and cuts what it overlaps of the other type; an unlock cuts.
pub(crate) fn apply(mine: &[Span], start: u64, end: u64, op: RangeOp) -> Vec<Span> {
    let write = match op {
        RangeOp::Read => Some(false),
        RangeOp::Write => Some(true),
        RangeOp::Unlock => None,
    };
    let (mut s, mut e) = (start, end);
    let mut out = Vec::with_capacity(mine.len() + 2);
    for m in mine {
        if Some(m.write) == write && m.start <= e && s <= m.end {
            s = s.min(m.start);
            e = e.max(m.end);
        } else if m.overlaps(start, end) {
            if m.start < start {
                out.push(Span { end: start, ..*m });
            }
            if end < m.end {
                out.push(Span { start: end, ..*m });
            }
        } else {
            out.push(*m);
        }
    }
    if let Some(write) = write {
        out.push(Span {
            start: s,
            end: e,
            write,
        });
    }
    out.sort_by_key(|sp| sp.start);
    out
}

/// The part of `spans` (sorted, disjoint) a request on `[start, end)` can change: the spans
/// it overlaps or touches. Finding it by bisection keeps a request on a file where its owner
/// holds many small locks from costing a pass over all of them.
fn window(spans: &[Span], start: u64, end: u64) -> Range<usize> {
    let lo = spans.partition_point(|sp| sp.end < start);
    let hi = spans.partition_point(|sp| sp.start <= end);
    lo..hi.max(lo)
}

/// One owner's range locks on a file: disjoint spans sorted by start, same-type neighbours
/// merged (what [`apply`] keeps true).
#[derive(Debug, Default)]
struct OwnerLocks {
    /// What F_GETLK reports: the locking process (the last one to lock, when processes share
    /// an fd table), -1 for a description.
    pid: i32,
    spans: Vec<Span>,
}

/// A lock found in the way.
#[derive(Clone, Copy, Debug)]
struct Found {
    owner: Owner,
    pid: i32,
    span: Span,
}

/// The locks on one file.
#[derive(Default)]
struct FileLocks {
    ranges: HashMap<Owner, OwnerLocks>,
    /// flock(2) locks: (description id, exclusive).
    flocks: Vec<(usize, bool)>,
    /// The descriptions holding OFD or flock locks here.
    descs: HashMap<usize, Weak<dyn FileDescription>>,
    queue: Arc<WaitQueue>,
    /// Requests blocked on this file (the entry stays while they sleep on its queue).
    waiters: usize,
}

impl FileLocks {
    /// The lowest lock of another owner that a read (or `write`) lock of `owner` on
    /// `[start, end)` conflicts with.
    fn conflict(&self, owner: Owner, start: u64, end: u64, write: bool) -> Option<Found> {
        self.ranges
            .iter()
            .filter(|(o, _)| **o != owner)
            .filter_map(|(o, l)| {
                let from = l.spans.partition_point(|sp| sp.end <= start);
                l.spans[from..]
                    .iter()
                    .take_while(|sp| sp.start < end)
                    .find(|sp| write || sp.write)
                    .map(|sp| Found {
                        owner: *o,
                        pid: l.pid,
                        span: *sp,
                    })
            })
            .min_by_key(|f| (f.span.start, f.pid))
    }
}

/// A blocked POSIX request, for deadlock detection.
struct Waiting {
    token: u64,
    owner: u64,
    key: FileKey,
    span: Span,
}

#[derive(Default)]
struct State {
    files: HashMap<FileKey, FileLocks>,
    /// The files each owner holds range locks on.
    owner_files: HashMap<Owner, HashSet<FileKey>>,
    /// Range records per owner in all.
    totals: HashMap<Owner, usize>,
    /// Range records in the table.
    total: usize,
    /// The file each description with locks refers to.
    desc_files: HashMap<usize, FileKey>,
    waiting: Vec<Waiting>,
    next_token: u64,
}

/// Queues to notify once the table's mutex is released.
type Wakes = Vec<Arc<WaitQueue>>;

impl State {
    /// Replaces `owner`'s spans in `window` on `key` by `new` (counts kept right).
    fn splice(
        &mut self,
        key: FileKey,
        owner: Owner,
        pid: i32,
        window: Range<usize>,
        new: Vec<Span>,
    ) {
        let Some(f) = self.files.get_mut(&key) else {
            return;
        };
        let l = f.ranges.entry(owner).or_default();
        l.pid = pid;
        let (old, n) = (window.len(), new.len());
        l.spans.splice(window, new);
        let left = l.spans.len();
        if left == 0 {
            f.ranges.remove(&owner);
        }
        self.total = self.total - old + n;
        let total = self.totals.entry(owner).or_default();
        *total = *total - old + n;
        if *total == 0 {
            self.totals.remove(&owner);
        }
        let files = self.owner_files.entry(owner).or_default();
        if left == 0 {
            files.remove(&key);
        } else {
            files.insert(key);
        }
        if files.is_empty() {
            self.owner_files.remove(&owner);
        }
    }

    /// Drops all of `owner`'s range locks on `key`.
    fn remove_ranges(&mut self, key: FileKey, owner: Owner) {
        let n = self
            .files
            .get(&key)
            .and_then(|f| f.ranges.get(&owner))
            .map_or(0, |l| l.spans.len());
        self.splice(key, owner, -1, 0..n, Vec::new());
    }

    /// Drops every lock of description `id` on `key`.
    fn drop_description(&mut self, id: usize, key: FileKey, wakes: &mut Wakes) {
        self.remove_ranges(key, Owner::Description(id));
        if let Some(f) = self.files.get_mut(&key) {
            f.flocks.retain(|(d, _)| *d != id);
            f.descs.remove(&id);
            wakes.push(f.queue.clone());
        }
        self.desc_files.remove(&id);
        self.gc(key);
    }

    /// Releases the locks of descriptions on `key` that died unreported.
    fn purge(&mut self, key: FileKey, wakes: &mut Wakes) {
        let dead: Vec<usize> = match self.files.get(&key) {
            Some(f) => f
                .descs
                .iter()
                .filter(|(_, w)| w.strong_count() == 0)
                .map(|(&id, _)| id)
                .collect(),
            None => return,
        };
        for id in dead {
            self.drop_description(id, key, wakes);
        }
    }

    /// Notes that `desc` holds locks on `key`, or forgets it if it holds none.
    fn track_description(&mut self, key: FileKey, desc: &Arc<dyn FileDescription>) {
        let id = description_id(desc);
        let Some(f) = self.files.get_mut(&key) else {
            return;
        };
        let holds = f.flocks.iter().any(|(d, _)| *d == id)
            || f.ranges.contains_key(&Owner::Description(id));
        if holds {
            f.descs.entry(id).or_insert_with(|| Arc::downgrade(desc));
            self.desc_files.insert(id, key);
        } else {
            f.descs.remove(&id);
            self.desc_files.remove(&id);
        }
    }

    /// Forgets a file with no locks and no sleepers.
    fn gc(&mut self, key: FileKey) {
        if self
            .files
            .get(&key)
            .is_some_and(|f| f.ranges.is_empty() && f.flocks.is_empty() && f.waiters == 0)
        {
            self.files.remove(&key);
        }
    }

    /// One attempt at a range request: `Ok(None)` when done, `Ok(Some(owner))` when a lock
    /// of `owner` stands in the way.
    fn try_range(
        &mut self,
        key: FileKey,
        holder: &Holder<'_>,
        start: u64,
        end: u64,
        op: RangeOp,
        wakes: &mut Wakes,
    ) -> Result<Option<Owner>, Errno> {
        self.purge(key, wakes);
        let owner = holder.owner();
        if op == RangeOp::Unlock && !self.files.contains_key(&key) {
            return Ok(None);
        }
        let f = self.files.entry(key).or_default();
        if op != RangeOp::Unlock {
            if let Some(c) = f.conflict(owner, start, end, op == RangeOp::Write) {
                return Ok(Some(c.owner));
            }
        }
        let (pid, mine) = match f.ranges.get(&owner) {
            Some(l) => {
                let w = window(&l.spans, start, end);
                (l.pid, &l.spans[w])
            }
            None => (-1, &[][..]),
        };
        let new = apply(mine, start, end, op);
        if new.len() > mine.len() {
            let grow = new.len() - mine.len();
            let had = self.totals.get(&owner).copied().unwrap_or(0);
            if had + grow > MAX_RECORDS || self.total + grow > MAX_TOTAL {
                self.gc(key);
                return Err(Errno::ENOLCK);
            }
        }
        if new == mine {
            self.gc(key);
            return Ok(None);
        }
        // Anything that shrank or turned from write to read may let a waiter in.
        wakes.push(f.queue.clone());
        let pid = match holder {
            Holder::Process { pid, .. } if op != RangeOp::Unlock => *pid,
            _ => pid,
        };
        let w = match f.ranges.get(&owner) {
            Some(l) => window(&l.spans, start, end),
            None => 0..0,
        };
        self.splice(key, owner, pid, w, new);
        if let Holder::Description(d) = holder {
            self.track_description(key, d);
        }
        self.gc(key);
        Ok(None)
    }

    /// One attempt at a flock request, as Linux's `flock_lock_inode`: converting drops the
    /// old lock first (so a failed conversion leaves none).
    fn try_flock(
        &mut self,
        key: FileKey,
        desc: &Arc<dyn FileDescription>,
        op: FlockOp,
        wakes: &mut Wakes,
    ) -> Option<usize> {
        self.purge(key, wakes);
        let id = description_id(desc);
        let exclusive = op == FlockOp::Exclusive;
        let f = self.files.entry(key).or_default();
        if let Some(i) = f.flocks.iter().position(|(d, _)| *d == id) {
            if op != FlockOp::Unlock && f.flocks[i].1 == exclusive {
                return None;
            }
            f.flocks.remove(i);
            wakes.push(f.queue.clone());
        }
        let blocker = match op {
            FlockOp::Unlock => None,
            _ => f
                .flocks
                .iter()
                .find(|(_, ex)| exclusive || *ex)
                .map(|(d, _)| *d),
        };
        if blocker.is_none() && op != FlockOp::Unlock {
            f.flocks.push((id, exclusive));
        }
        self.track_description(key, desc);
        self.gc(key);
        blocker
    }

    /// Whether POSIX owner `me`, blocked by `blocker`, would close a cycle: `blocker` waits
    /// for an owner that waits … for `me`.
    fn deadlock(&self, me: u64, mut blocker: Owner) -> bool {
        for _ in 0..MAX_DEADLK_ITERATIONS {
            let Owner::Posix(b) = blocker else {
                return false;
            };
            if b == me {
                return true;
            }
            let Some(w) = self.waiting.iter().find(|w| w.owner == b) else {
                return false;
            };
            let next = self
                .files
                .get(&w.key)
                .and_then(|f| f.conflict(Owner::Posix(b), w.span.start, w.span.end, w.span.write));
            match next {
                Some(r) => blocker = r.owner,
                None => return false,
            }
        }
        false
    }
}

/// The lock table (see the module doc).
#[derive(Default)]
pub(crate) struct LockTable {
    state: Mutex<State>,
}

impl std::fmt::Debug for LockTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.state();
        f.debug_struct("LockTable")
            .field("files", &st.files.len())
            .field("records", &st.total)
            .finish()
    }
}

fn notify(wakes: Wakes) {
    for q in wakes {
        q.notify();
    }
}

impl LockTable {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// F_GETLK: the first lock of another owner that a `write` (or read) lock of `owner` on
    /// `[start, end)` would conflict with.
    pub(crate) fn test(
        &self,
        key: FileKey,
        owner: Owner,
        start: u64,
        end: u64,
        write: bool,
    ) -> Option<Conflict> {
        let mut wakes = Wakes::new();
        let r = {
            let mut st = self.state();
            st.purge(key, &mut wakes);
            st.files
                .get(&key)
                .and_then(|f| f.conflict(owner, start, end, write))
                .map(|r| Conflict {
                    span: r.span,
                    pid: r.pid,
                })
        };
        notify(wakes);
        r
    }

    /// F_SETLK (`wait` false: EAGAIN on a conflict) and F_SETLKW (sleeps until granted;
    /// EDEADLK for a POSIX request that would wait in a cycle; ERESTARTSYS on a signal).
    pub(crate) fn set_range(
        &self,
        key: FileKey,
        holder: &Holder<'_>,
        (start, end): (u64, u64),
        op: RangeOp,
        wait: bool,
    ) -> Result<(), Errno> {
        let posix = match holder {
            Holder::Process { table, .. } => Some(*table),
            Holder::Description(_) => None,
        };
        let span = Span {
            start,
            end,
            write: op == RangeOp::Write,
        };
        let mut token = None;
        let r = self.wait_until(key, wait, |st, wakes| {
            match st.try_range(key, holder, start, end, op, wakes) {
                Ok(None) => Some(Ok(())),
                Err(e) => Some(Err(e)),
                Ok(Some(_)) if !wait => Some(Err(Errno::EAGAIN)),
                // OFD requests wait without deadlock detection, as on Linux.
                Ok(Some(_)) if posix.is_none() => None,
                Ok(Some(blocker)) => {
                    let me = posix?;
                    if st.deadlock(me, blocker) {
                        return Some(Err(Errno::EDEADLK));
                    }
                    if token.is_none() {
                        st.next_token += 1;
                        let t = st.next_token;
                        token = Some(t);
                        st.waiting.push(Waiting {
                            token: t,
                            owner: me,
                            key,
                            span,
                        });
                    }
                    None
                }
            }
        });
        if let Some(t) = token {
            self.state().waiting.retain(|w| w.token != t);
        }
        r
    }

    /// `flock(2)` on `desc` (whose file is `key`): EWOULDBLOCK on a conflict unless `wait`.
    pub(crate) fn flock(
        &self,
        key: FileKey,
        desc: &Arc<dyn FileDescription>,
        op: FlockOp,
        wait: bool,
    ) -> Result<(), Errno> {
        self.wait_until(key, wait, |st, wakes| {
            match st.try_flock(key, desc, op, wakes) {
                None => Some(Ok(())),
                Some(_) if !wait => Some(Err(Errno::EWOULDBLOCK)),
                Some(_) => None,
            }
        })
    }

    /// Runs `attempt` until it returns `Some`, sleeping on `key`'s queue in between when
    /// `wait` (a signal ends the sleep with ERESTARTSYS).
    fn wait_until<T>(
        &self,
        key: FileKey,
        wait: bool,
        mut attempt: impl FnMut(&mut State, &mut Wakes) -> Option<Result<T, Errno>>,
    ) -> Result<T, Errno> {
        let mut wakes = Wakes::new();
        let first = attempt(&mut self.state(), &mut wakes);
        notify(std::mem::take(&mut wakes));
        if let Some(r) = first {
            return r;
        }
        if !wait {
            return Err(Errno::EAGAIN);
        }
        let queue = {
            let mut st = self.state();
            let f = st.files.entry(key).or_default();
            f.waiters += 1;
            f.queue.clone()
        };
        let r = loop {
            let r = wait::block(&[&queue], Some(Instant::now() + RECHECK), || {
                let mut wakes = Wakes::new();
                let r = attempt(&mut self.state(), &mut wakes);
                notify(wakes);
                r
            });
            if r.as_ref().err() != Some(&Errno::ETIMEDOUT) {
                break r;
            }
        };
        let mut st = self.state();
        if let Some(f) = st.files.get_mut(&key) {
            f.waiters -= 1;
        }
        st.gc(key);
        r
    }

    /// Whether fd table `table` holds POSIX locks (closes skip the rest when not).
    pub(crate) fn has_posix(&self, table: u64) -> bool {
        self.state().owner_files.contains_key(&Owner::Posix(table))
    }

    /// Fd table `table` closed an fd of file `key`: its POSIX locks there go.
    pub(crate) fn release_posix(&self, table: u64, key: FileKey) {
        let mut wakes = Wakes::new();
        {
            let mut st = self.state();
            let owner = Owner::Posix(table);
            if st.owner_files.get(&owner).is_some_and(|c| c.contains(&key)) {
                st.remove_ranges(key, owner);
                if let Some(f) = st.files.get(&key) {
                    wakes.push(f.queue.clone());
                }
                st.gc(key);
            }
        }
        notify(wakes);
    }

    /// Fd table `table` is gone or closed everything: all its POSIX locks go.
    pub(crate) fn release_posix_all(&self, table: u64) {
        let keys: Vec<FileKey> = match self.state().owner_files.get(&Owner::Posix(table)) {
            Some(c) => c.iter().copied().collect(),
            None => return,
        };
        for key in keys {
            self.release_posix(table, key);
        }
    }

    /// The last reference to description `id` went: its OFD and flock locks go.
    pub(crate) fn description_gone(&self, id: usize) {
        let mut wakes = Wakes::new();
        {
            let mut st = self.state();
            if let Some(&key) = st.desc_files.get(&id) {
                st.drop_description(id, key, &mut wakes);
            }
        }
        notify(wakes);
    }

    #[cfg(test)]
    fn records(&self) -> usize {
        self.state().total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp(start: u64, end: u64, write: bool) -> Span {
        Span { start, end, write }
    }

    #[test]
    fn ranges_follow_linux() {
        assert_eq!(range_of(0, 10, 5), Ok((10, 15)));
        assert_eq!(range_of(0, 10, 0), Ok((10, TO_EOF)));
        assert_eq!(range_of(100, -10, 5), Ok((90, 95)));
        assert_eq!(range_of(0, 10, -4), Ok((6, 10)));
        assert_eq!(range_of(0, 10, -10), Ok((0, 10)));
        assert_eq!(range_of(0, 10, -11), Err(Errno::EINVAL));
        assert_eq!(range_of(5, -6, 1), Err(Errno::EINVAL));
        assert_eq!(range_of(1, i64::MAX, 1), Err(Errno::EOVERFLOW));
        assert_eq!(range_of(0, i64::MAX, 2), Err(Errno::EOVERFLOW));
        // Reaching the largest offset is the same as running to EOF.
        assert_eq!(range_of(0, i64::MAX, 1), Ok((i64::MAX as u64, TO_EOF)));
        assert_eq!(range_of(0, 0, i64::MAX), Ok((0, i64::MAX as u64)));
        assert_eq!(range_of(u64::MAX, 0, 0), Err(Errno::EOVERFLOW));
        assert_eq!(range_of(0, i64::MIN, 1), Err(Errno::EINVAL));
    }

    #[test]
    fn unlocking_the_middle_splits() {
        let v = apply(&[], 0, 100, RangeOp::Write);
        assert_eq!(v, [sp(0, 100, true)]);
        let v = apply(&v, 40, 60, RangeOp::Unlock);
        assert_eq!(v, [sp(0, 40, true), sp(60, 100, true)]);
        let v = apply(&v, 0, TO_EOF, RangeOp::Unlock);
        assert!(v.is_empty());
    }

    #[test]
    fn same_type_merges_with_overlapping_and_adjacent() {
        let v = apply(&[], 0, 10, RangeOp::Read);
        let v = apply(&v, 20, 30, RangeOp::Read);
        assert_eq!(v.len(), 2);
        let v = apply(&v, 10, 20, RangeOp::Read);
        assert_eq!(v, [sp(0, 30, false)]);
        let v = apply(&v, 25, TO_EOF, RangeOp::Read);
        assert_eq!(v, [sp(0, TO_EOF, false)]);
    }

    #[test]
    fn other_type_converts_the_overlap() {
        let v = apply(&[], 0, 100, RangeOp::Read);
        let v = apply(&v, 40, 60, RangeOp::Write);
        assert_eq!(v, [sp(0, 40, false), sp(40, 60, true), sp(60, 100, false)]);
        // Back to read: the three merge into one again.
        let v = apply(&v, 40, 60, RangeOp::Read);
        assert_eq!(v, [sp(0, 100, false)]);
        // A write over the start and past the end replaces it.
        let v = apply(&v, 0, 200, RangeOp::Write);
        assert_eq!(v, [sp(0, 200, true)]);
    }

    #[test]
    fn unlock_of_nothing_is_nothing() {
        let v = apply(&[sp(10, 20, true)], 30, 40, RangeOp::Unlock);
        assert_eq!(v, [sp(10, 20, true)]);
        let v = apply(&v, 20, 30, RangeOp::Unlock);
        assert_eq!(v, [sp(10, 20, true)]);
    }

    fn proc_(table: u64) -> Holder<'static> {
        Holder::Process {
            table,
            pid: table as i32,
        }
    }

    const K: FileKey = (1, 2);

    #[test]
    fn owners_conflict_and_release() {
        let t = LockTable::default();
        t.set_range(K, &proc_(1), (0, 10), RangeOp::Write, false)
            .expect("first lock");
        assert_eq!(
            t.set_range(K, &proc_(2), (5, 6), RangeOp::Read, false),
            Err(Errno::EAGAIN)
        );
        // An owner never conflicts with itself.
        assert_eq!(t.test(K, Owner::Posix(1), 0, TO_EOF, true), None);
        assert_eq!(
            t.test(K, Owner::Posix(2), 0, TO_EOF, false),
            Some(Conflict {
                span: sp(0, 10, true),
                pid: 1
            })
        );
        t.set_range(K, &proc_(2), (10, 20), RangeOp::Read, false)
            .expect("no overlap");
        t.set_range(K, &proc_(3), (10, 20), RangeOp::Read, false)
            .expect("readers share");
        assert!(t.has_posix(1));
        t.release_posix(1, K);
        assert!(!t.has_posix(1));
        t.set_range(K, &proc_(2), (0, 10), RangeOp::Write, false)
            .expect("released");
        t.release_posix_all(2);
        t.release_posix_all(3);
        assert_eq!(t.records(), 0);
        assert!(t.state().files.is_empty());
    }

    #[test]
    fn records_are_capped() {
        let t = LockTable::default();
        for i in 0..MAX_RECORDS as u64 {
            t.set_range(K, &proc_(1), (2 * i, 2 * i + 1), RangeOp::Write, false)
                .expect("under the cap");
        }
        let past = 2 * MAX_RECORDS as u64;
        assert_eq!(
            t.set_range(K, &proc_(1), (past, past + 1), RangeOp::Write, false),
            Err(Errno::ENOLCK)
        );
        // Merging never needs a new record.
        t.set_range(K, &proc_(1), (0, TO_EOF), RangeOp::Write, false)
            .expect("merge");
        assert_eq!(t.records(), 1);
        t.release_posix_all(1);
    }

    #[test]
    fn cycles_are_deadlocks() {
        let t = LockTable::default();
        t.set_range(K, &proc_(1), (0, 1), RangeOp::Write, false)
            .expect("a");
        t.set_range(K, &proc_(2), (1, 2), RangeOp::Write, false)
            .expect("b");
        // Owner 1 waits for owner 2, on another thread.
        let t = Arc::new(t);
        let t2 = t.clone();
        let waiter =
            std::thread::spawn(move || t2.set_range(K, &proc_(1), (1, 2), RangeOp::Write, true));
        while t.state().waiting.is_empty() {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(
            t.set_range(K, &proc_(2), (0, 1), RangeOp::Write, true),
            Err(Errno::EDEADLK)
        );
        t.release_posix_all(2);
        assert_eq!(waiter.join().expect("waiter"), Ok(()));
        t.release_posix_all(1);
        assert!(t.state().files.is_empty());
    }

    fn desc() -> Arc<dyn FileDescription> {
        crate::vfs::pipe::Pipe::new_pair(0, 0, 0).0
    }

    #[test]
    fn flock_and_ofd_belong_to_descriptions() {
        let t = LockTable::default();
        let (a, b) = (desc(), desc());
        t.flock(K, &a, FlockOp::Shared, false).expect("sh");
        t.flock(K, &b, FlockOp::Shared, false).expect("sh too");
        assert_eq!(
            t.flock(K, &b, FlockOp::Exclusive, false),
            Err(Errno::EWOULDBLOCK)
        );
        // The failed conversion dropped b's shared lock, as on Linux.
        t.flock(K, &a, FlockOp::Exclusive, false).expect("a alone");
        // flock and range locks never meet.
        t.set_range(K, &proc_(9), (0, TO_EOF), RangeOp::Write, false)
            .expect("posix");
        t.release_posix_all(9);
        t.set_range(K, &Holder::Description(&b), (0, 5), RangeOp::Write, false)
            .expect("ofd");
        assert_eq!(
            t.test(K, Owner::Posix(7), 0, 1, false).map(|c| c.pid),
            Some(-1)
        );
        // A description dropped without a report is purged when the file is next used.
        let id = description_id(&b);
        drop(b);
        assert_eq!(t.test(K, Owner::Posix(7), 0, 1, false), None);
        t.description_gone(id);
        let c = desc();
        assert_eq!(t.flock(K, &c, FlockOp::Shared, false), Err(Errno::EAGAIN));
        t.description_gone(description_id(&a));
        assert!(t.state().files.is_empty());
        assert!(t.state().desc_files.is_empty());
    }
}
