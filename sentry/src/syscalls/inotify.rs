//! inotify: inotify_init, inotify_init1, inotify_add_watch, inotify_rm_watch (the instances
//! and the watch registry are `vfs/inotify.rs`), and the event reports the other families
//! make after a change succeeded.
//!
//! Each report is one call at its hook point that returns at once while nothing is watched
//! (one atomic load); only then does it stat what the event is about, to find the file's
//! identity and its directory's. Changes that remove or move a name take a look before the
//! change ([`removing`], [`moving`]) and report after it ([`removed`], [`moved`]).

use std::sync::Arc;

use snare_abi::file::{o, AT_FDCWD, S_IFDIR, S_IFMT};
use snare_abi::inotify::{
    ALL_INOTIFY_BITS, IN_ATTRIB, IN_CLOEXEC, IN_CREATE, IN_DELETE, IN_DONT_FOLLOW, IN_MASK_ADD,
    IN_MASK_CREATE, IN_MODIFY, IN_MOVED_FROM, IN_MOVED_TO, IN_MOVE_SELF, IN_NONBLOCK, IN_ONLYDIR,
    IN_OPEN,
};
use snare_abi::Errno;
use snare_syscalls_table::nr;

use super::arg::{check_flags, fd, i32_, u32_};
use super::path::{absolute, mount_of, parent_of, path_arg, stat_path};
use super::Handler;
use crate::kernel::Task;
use crate::vfs::filesystem::Caller;
use crate::vfs::inotify::{self as events, identity_of, watching, Identity, Inotify};
use crate::vfs::perm::{Perm, MAY_READ};
use crate::vfs::FileDescription;

pub(super) const HANDLERS: &[(u32, Handler)] = &[
    (nr::INOTIFY_INIT, sys_inotify_init),
    (nr::INOTIFY_INIT1, sys_inotify_init1),
    (nr::INOTIFY_ADD_WATCH, sys_inotify_add_watch),
    (nr::INOTIFY_RM_WATCH, sys_inotify_rm_watch),
];

/// The process a dnotify signal goes to: the one that registered.
struct DnOwner(std::sync::Weak<crate::kernel::process::ThreadGroup>);

impl std::fmt::Debug for DnOwner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DnOwner")
    }
}

impl events::SigioOwner for DnOwner {
    fn signal(&self, info: snare_abi::signal::SigInfo) {
        if let Some(tg) = self.0.upgrade() {
            crate::kernel::signal::send_to_group(&tg, info);
        }
    }
}

/// `fcntl(2)`'s `F_NOTIFY` (dnotify, `vfs/inotify/dnotify.rs`), `F_SETSIG` and `F_GETSIG` on
/// fd `n`. An `O_PATH` fd is `EBADF`, as Linux's `check_fcntl_cmd`.
pub(super) fn fcntl_notify(task: &mut Task, n: i32, cmd: i32, arg: u64) -> Result<u64, Errno> {
    use snare_abi::inotify::dn::{F_GETSIG, F_NOTIFY, F_SETSIG};
    let file = task.fds.get(n)?;
    if file.status_flags() & o::PATH != 0 {
        return Err(Errno::EBADF);
    }
    match cmd {
        F_NOTIFY => {
            let owner = Arc::new(DnOwner(Arc::downgrade(task.tg())));
            events::dnotify_register(&file, n, task.fds.lock_owner(), u32_(arg), owner)?;
            Ok(0)
        }
        F_SETSIG => {
            events::set_signal(&file, i32_(arg))?;
            Ok(0)
        }
        F_GETSIG => Ok(events::signal_of(&*file) as u64),
        _ => Err(Errno::EINVAL),
    }
}

/// Implements `inotify_init(2)`.
fn sys_inotify_init(task: &mut Task, _a: [u64; 6]) -> Result<u64, Errno> {
    do_inotify_init1(task, 0)
}

/// Implements `inotify_init1(2)`: `IN_NONBLOCK`, `IN_CLOEXEC`. `EMFILE` past the sandbox's
/// instance limit (Linux's is per user).
fn sys_inotify_init1(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let flags = check_flags(u32_(a[0]), IN_NONBLOCK | IN_CLOEXEC)?;
    do_inotify_init1(task, flags)
}

fn do_inotify_init1(task: &Task, flags: u32) -> Result<u64, Errno> {
    let i = Inotify::new(flags, task.k.uid, task.k.gid)?;
    task.fds
        .install(i, flags & IN_CLOEXEC != 0, 0, task.nofile())
        .map(|n| n as u64)
}

/// The instance behind fd `n`: `EBADF` if no file, `EINVAL` if not an inotify instance.
fn instance(task: &Task, n: i32) -> Result<Arc<dyn FileDescription>, Errno> {
    let file = task.fds.get(n)?;
    if (*file).as_any().downcast_ref::<Inotify>().is_none() {
        return Err(Errno::EINVAL);
    }
    Ok(file)
}

fn as_inotify(file: &Arc<dyn FileDescription>) -> Result<&Inotify, Errno> {
    (**file)
        .as_any()
        .downcast_ref::<Inotify>()
        .ok_or(Errno::EINVAL)
}

/// Implements `inotify_add_watch(2)`: `IN_ONLYDIR`, `IN_DONT_FOLLOW`, `IN_MASK_ADD`,
/// `IN_MASK_CREATE`, `IN_ONESHOT`; `IN_EXCL_UNLINK` is accepted and has no effect. The caller
/// needs read permission on the file. Checks in Linux's order: the mask, the fd, the flags,
/// the instance, then the path.
fn sys_inotify_add_watch(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let mask = u32_(a[2]);
    if mask == 0 || mask & !ALL_INOTIFY_BITS != 0 {
        return Err(Errno::EINVAL);
    }
    let file = task.fds.get(fd(a[0]))?;
    if mask & IN_MASK_ADD != 0 && mask & IN_MASK_CREATE != 0 {
        return Err(Errno::EINVAL);
    }
    let inotify = as_inotify(&file)?;
    let path = path_arg(task, a[1])?;
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let st = stat_path(
        task,
        &absolute(task, AT_FDCWD, &path)?,
        mask & IN_DONT_FOLLOW == 0,
    )?;
    if mask & IN_ONLYDIR != 0 && st.st_mode & S_IFMT != S_IFDIR {
        return Err(Errno::ENOTDIR);
    }
    task.cred().may(&Perm::of(&st), MAY_READ)?;
    let wd = inotify.add_watch((st.st_dev, st.st_ino), mask)?;
    Ok(wd as u64)
}

/// Implements `inotify_rm_watch(2)`: the watch goes with an `IN_IGNORED` event.
fn sys_inotify_rm_watch(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let file = instance(task, fd(a[0]))?;
    as_inotify(&file)?.rm_watch(i32_(a[1]))?;
    Ok(0)
}

// ---- Event reports, for the other families ----

/// The identity of walked path `p` (not following a last symlink) and `IN_ISDIR`.
fn identity(task: &Task, p: &[u8]) -> Option<(Identity, u32)> {
    let m = mount_of(task, p);
    let st = m.fs.stat(task, &m.inner(p), false).ok()?;
    Some(identity_of(&st))
}

/// The directory walked path `p` is an entry of, and its name there; `None` for a
/// filesystem's root (Linux's `IS_ROOT`: a mount's root has no parent to tell).
fn parent<'p>(task: &Task, p: &'p [u8]) -> Option<(Identity, &'p [u8])> {
    if mount_of(task, p).is_root(p) || p == b"/" {
        return None;
    }
    let dir = parent_of(p);
    let name = &p[p.len().min(dir.len() + usize::from(dir != b"/"))..];
    let (id, _) = identity(task, dir)?;
    Some((id, name))
}

/// `p` was made (`open(O_CREAT)`, mkdir, mknod, symlink): `IN_CREATE` in its directory.
pub(super) fn created(task: &Task, p: &[u8]) {
    if !watching() {
        return;
    }
    if let (Some((dir, name)), Some((_, isdir))) = (parent(task, p), identity(task, p)) {
        events::notify(dir, Some(name), IN_CREATE | isdir, 0);
    }
}

/// `p` changed (`IN_ATTRIB`, `IN_MODIFY`): its directory's watch and its own see it.
pub(super) fn changed(task: &Task, p: &[u8], mask: u32) {
    if !watching() {
        return;
    }
    if let Some((target, isdir)) = identity(task, p) {
        events::notify_child(parent(task, p), target, mask | isdir);
    }
}

/// `new` was linked to an existing file: its link count changed (`IN_ATTRIB`), and the name
/// appeared (`IN_CREATE`).
pub(super) fn linked(task: &Task, new: &[u8]) {
    if !watching() {
        return;
    }
    if let Some((target, _)) = identity(task, new) {
        events::notify_self(target, IN_ATTRIB);
    }
    created(task, new);
}

/// What an unlink or rmdir removes, looked at before it goes.
pub(super) struct Removal {
    target: Identity,
    isdir: u32,
    last_link: bool,
    parent: Option<(Identity, Vec<u8>)>,
}

/// Looks at `p` before it is removed (`None` while nothing is watched).
pub(super) fn removing(task: &Task, p: &[u8]) -> Option<Removal> {
    if !watching() {
        return None;
    }
    let m = mount_of(task, p);
    let st = m.fs.stat(task, &m.inner(p), false).ok()?;
    let (target, isdir) = identity_of(&st);
    Some(Removal {
        target,
        isdir,
        last_link: isdir != 0 || st.st_nlink <= 1,
        parent: parent(task, p).map(|(d, n)| (d, n.to_vec())),
    })
}

/// Reports a removal: a file's link count changed (`IN_ATTRIB`); with its last link the file
/// goes (`IN_DELETE_SELF`, its watches `IN_IGNORED`); its directory sees `IN_DELETE`.
pub(super) fn removed(r: Option<Removal>) {
    let Some(r) = r else {
        return;
    };
    if r.isdir == 0 {
        events::notify_self(r.target, IN_ATTRIB);
    }
    if r.last_link {
        events::deleted(r.target);
    }
    if let Some((dir, name)) = &r.parent {
        events::notify(*dir, Some(name), IN_DELETE | r.isdir, 0);
    }
}

/// An entry about to move: its file and where it is.
struct Entry {
    target: Identity,
    isdir: u32,
    last_link: bool,
    place: Option<(Identity, Vec<u8>)>,
}

fn entry(task: &Task, p: &[u8]) -> Option<Entry> {
    let m = mount_of(task, p);
    let st = m.fs.stat(task, &m.inner(p), false).ok()?;
    let (target, isdir) = identity_of(&st);
    Some(Entry {
        target,
        isdir,
        last_link: isdir != 0 || st.st_nlink <= 1,
        place: parent(task, p).map(|(d, n)| (d, n.to_vec())),
    })
}

/// What a rename moves, looked at before it happens.
pub(super) struct Move {
    source: Entry,
    /// What `new` named before (replaced, or exchanged).
    target: Option<Entry>,
    /// Where the source goes: `new`'s directory and name.
    to: Option<(Identity, Vec<u8>)>,
    exchange: bool,
}

/// Looks at `old` and `new` before `old` is renamed to `new` (`None` while nothing is
/// watched).
pub(super) fn moving(task: &Task, old: &[u8], new: &[u8], exchange: bool) -> Option<Move> {
    if !watching() {
        return None;
    }
    Some(Move {
        source: entry(task, old)?,
        target: entry(task, new),
        to: parent(task, new).map(|(d, n)| (d, n.to_vec())),
        exchange,
    })
}

/// One direction of a rename (Linux's `fsnotify_move`): `IN_MOVED_FROM` and `IN_MOVED_TO`
/// with one cookie, `IN_ATTRIB` on a replaced file, `IN_MOVE_SELF` on the moved one.
fn report_move(
    from: &Option<(Identity, Vec<u8>)>,
    to: &Option<(Identity, Vec<u8>)>,
    moved: &Entry,
    replaced: Option<&Entry>,
) {
    let cookie = events::next_cookie();
    if let Some((dir, name)) = from {
        events::notify(*dir, Some(name), IN_MOVED_FROM | moved.isdir, cookie);
    }
    if let Some((dir, name)) = to {
        events::notify(*dir, Some(name), IN_MOVED_TO | moved.isdir, cookie);
    }
    if let Some(r) = replaced {
        events::notify_self(r.target, IN_ATTRIB | r.isdir);
    }
    events::notify_self(moved.target, IN_MOVE_SELF);
}

/// Reports a rename (a no-op rename of a file onto itself reports nothing, as Linux).
pub(super) fn moved(m: Option<Move>) {
    let Some(m) = m else {
        return;
    };
    if m.target
        .as_ref()
        .is_some_and(|t| t.target == m.source.target)
    {
        return;
    }
    if let (Some((fd, fname)), Some((td, tname))) = (&m.source.place, &m.to) {
        events::renamed((*fd, fname), (*td, tname), m.exchange);
    }
    if m.exchange {
        let Some(t) = &m.target else {
            return;
        };
        report_move(&m.source.place, &m.to, &m.source, None);
        report_move(&t.place, &m.source.place, t, None);
        return;
    }
    report_move(&m.source.place, &m.to, &m.source, m.target.as_ref());
    if let Some(t) = m.target.as_ref().filter(|t| t.last_link) {
        events::deleted(t.target);
    }
}

/// `file` was opened by the walked path `path` (with `flags`): `IN_OPEN` to it and its
/// directory, and a note of where it was opened, for its later events.
pub(super) fn opened(task: &Task, path: &[u8], file: &Arc<dyn FileDescription>, flags: u32) {
    if !watching() || flags & o::PATH != 0 {
        return;
    }
    let Ok(st) = file.stat() else {
        return;
    };
    let (target, isdir) = identity_of(&st);
    let place = if flags & o::TMPFILE == o::TMPFILE {
        None
    } else {
        parent(task, path)
    };
    events::record_open(file, target, isdir, place);
    events::notify_child(place, target, IN_OPEN | isdir);
}

/// `n` bytes were moved through `file` (`mask` is `IN_MODIFY` or `IN_ACCESS`); nothing to
/// report for none.
pub(super) fn transferred(file: &dyn FileDescription, mask: u32, n: u64) {
    if n > 0 && watching() {
        events::file_event(file, mask);
    }
}

/// `file` changed in place (`ftruncate`, `fallocate`): `IN_MODIFY`.
pub(super) fn modified(file: &dyn FileDescription) {
    if watching() {
        events::file_event(file, IN_MODIFY);
    }
}
