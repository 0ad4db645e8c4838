//! dnotify: `fcntl(dirfd, F_NOTIFY, DN_*)` registrations, kept in the inotify registry and
//! fed by the same reports (a directory's watch sees what dnotify asks about), and the
//! `F_SETSIG` signal of descriptions.
//!
//! As Linux's `fcntl_dirnotify`: a registration is one per (description, fd table); asking
//! again adds to its events and takes the new fd; a mask with no event bit (`0` or
//! `DN_MULTISHOT` alone) removes it; `ENOTDIR` on anything but a directory; unknown bits are
//! ignored. An event on the directory (of one of its entries, or of the directory itself)
//! sends the registering process `SIGIO` (`SI_KERNEL`), or the description's `F_SETSIG`
//! signal with `si_code` `POLL_MSG`, `si_band` and `si_fd`; without `DN_MULTISHOT` the
//! registration ends with its first signal. Closing the fd through the table that
//! registered ends it (Linux's `dnotify_flush`).
//!
//! Events map as Linux's `convert_arg`: `DN_ACCESS`, `DN_MODIFY`, `DN_ATTRIB` from their
//! inotify twins; `DN_CREATE` from a creation or a rename in; `DN_DELETE` from a removal or a
//! rename out; `DN_RENAME` from a rename out (`FS_RENAME`, sent to the old directory before
//! the move's own events). Deviation: `F_SETOWN` is not kept, so the signal always goes to
//! the process that registered.

use std::fmt::Debug;

use snare_abi::inotify::dn::{
    DN_ACCESS, DN_ATTRIB, DN_CREATE, DN_DELETE, DN_MODIFY, DN_MULTISHOT, DN_RENAME, POLL_MSG,
    POLL_MSG_BAND,
};
use snare_abi::inotify::{IN_ACCESS, IN_ATTRIB, IN_CREATE, IN_DELETE, IN_MOVED_FROM, IN_MOVED_TO};
use snare_abi::signal::{SigInfo, SIGIO, SI_KERNEL};

use super::*;

/// The process a dnotify signal goes to.
pub(crate) trait SigioOwner: Send + Sync + Debug {
    /// Queues `info` for the process.
    fn signal(&self, info: SigInfo);
}

/// One `F_NOTIFY` registration.
#[derive(Debug)]
pub(super) struct DnWatch {
    file: Weak<dyn FileDescription>,
    desc: usize,
    /// The fd table it was made through ([`crate::vfs::FdTable::lock_owner`]).
    table: u64,
    fd: i32,
    /// `DN_*` bits with `DN_MULTISHOT`.
    mask: u32,
    owner: Arc<dyn SigioOwner>,
}

/// The `DN_*` events an inotify event bit stands for, in Linux's order of sending.
fn dn_events(mask: u32) -> &'static [u32] {
    match mask & IN_ALL_EVENTS {
        IN_ACCESS => &[DN_ACCESS],
        snare_abi::inotify::IN_MODIFY => &[DN_MODIFY],
        IN_ATTRIB => &[DN_ATTRIB],
        IN_CREATE | IN_MOVED_TO => &[DN_CREATE],
        IN_DELETE => &[DN_DELETE],
        IN_MOVED_FROM => &[DN_RENAME, DN_DELETE],
        _ => &[],
    }
}

impl Registry {
    /// The signals `mask` (an inotify event on `target`) sends to dnotify registrations;
    /// spends those without `DN_MULTISHOT`, and drops those whose description is gone.
    pub(super) fn collect_dn(
        &mut self,
        target: Identity,
        mask: u32,
        out: &mut Vec<(Arc<dyn SigioOwner>, SigInfo)>,
    ) {
        let Some(list) = self.dn.get_mut(&target) else {
            return;
        };
        let before = list.len();
        for &ev in dn_events(mask) {
            let mut kept = Vec::with_capacity(list.len());
            for w in list.drain(..) {
                let Some(file) = w.file.upgrade() else {
                    continue;
                };
                if w.mask & ev == 0 {
                    kept.push(w);
                    continue;
                }
                let info = match signum(&mut self.signums, &*file) {
                    0 => SigInfo {
                        si_signo: SIGIO,
                        si_code: SI_KERNEL,
                        ..SigInfo::default()
                    },
                    sig => {
                        let mut i = SigInfo {
                            si_signo: sig,
                            si_code: POLL_MSG,
                            ..SigInfo::default()
                        };
                        i.fields[0] = POLL_MSG_BAND as u64;
                        i.fields[1] = u64::from(w.fd as u32);
                        i
                    }
                };
                out.push((w.owner.clone(), info));
                if w.mask & DN_MULTISHOT != 0 {
                    kept.push(w);
                }
            }
            *list = kept;
        }
        let after = list.len();
        if after == 0 {
            self.dn.remove(&target);
        }
        self.dn_total = self.dn_total.saturating_sub(before - after);
        self.set_total(self.total);
    }
}

/// A description's `F_SETSIG` signal (0 if never set or it is gone).
fn signum(
    signums: &mut HashMap<usize, (Weak<dyn FileDescription>, i32)>,
    f: &dyn FileDescription,
) -> i32 {
    let id = description_id(f);
    match signums.get(&id) {
        Some((w, s)) if w.strong_count() > 0 => *s,
        Some(_) => {
            signums.remove(&id);
            0
        }
        None => 0,
    }
}

/// Implements `F_NOTIFY` on `file`, fd `fd` of fd table `table`, for `owner` (see the
/// module doc).
pub(crate) fn register(
    file: &Arc<dyn FileDescription>,
    fd: i32,
    table: u64,
    mask: u32,
    owner: Arc<dyn SigioOwner>,
) -> Result<(), Errno> {
    if mask & !DN_MULTISHOT == 0 {
        flush(table, &**file);
        return Ok(());
    }
    let (target, dir) = identity_of(&file.stat()?);
    if dir == 0 {
        return Err(Errno::ENOTDIR);
    }
    let desc = description_id(&**file);
    let mut r = registry();
    let mine =
        r.dn.get_mut(&target)
            .and_then(|l| l.iter_mut().find(|w| w.desc == desc && w.table == table));
    if let Some(w) = mine {
        w.fd = fd;
        w.mask |= mask;
        return Ok(());
    }
    if r.total + r.dn_total >= MAX_USER_WATCHES {
        return Err(Errno::ENOSPC);
    }
    r.dn.entry(target).or_default().push(DnWatch {
        file: Arc::downgrade(file),
        desc,
        table,
        fd,
        mask,
        owner,
    });
    r.dn_total += 1;
    let total = r.total;
    r.set_total(total);
    Ok(())
}

/// `file`'s fd was closed through fd table `table`: that table's registration on it ends.
pub(crate) fn flush(table: u64, file: &dyn FileDescription) {
    if !watching() {
        return;
    }
    let desc = description_id(file);
    let mut r = registry();
    let mut gone = 0;
    r.dn.retain(|_, list| {
        let before = list.len();
        list.retain(|w| !(w.desc == desc && w.table == table));
        gone += before - list.len();
        !list.is_empty()
    });
    if gone > 0 {
        r.dn_total = r.dn_total.saturating_sub(gone);
        let total = r.total;
        r.set_total(total);
    }
}

/// `F_SETSIG`: the signal `file`'s owner gets (0: `SIGIO`); `EINVAL` past the last signal.
pub(crate) fn set_signal(file: &Arc<dyn FileDescription>, sig: i32) -> Result<(), Errno> {
    if !(0..=snare_abi::signal::SIGRTMAX).contains(&sig) {
        return Err(Errno::EINVAL);
    }
    let mut r = registry();
    r.signums.retain(|_, (w, _)| w.strong_count() > 0);
    let id = description_id(&**file);
    if sig == 0 {
        r.signums.remove(&id);
    } else {
        r.signums.insert(id, (Arc::downgrade(file), sig));
    }
    Ok(())
}

/// `F_GETSIG`.
pub(crate) fn signal_of(file: &dyn FileDescription) -> i32 {
    signum(&mut registry().signums, file)
}

/// Sends collected signals, outside the registry's lock.
pub(super) fn send(out: Vec<(Arc<dyn SigioOwner>, SigInfo)>) {
    for (owner, info) in out {
        owner.signal(info);
    }
}
