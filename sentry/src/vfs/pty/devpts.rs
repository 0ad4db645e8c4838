//! `/dev/pts`: the table of live ptys and the filesystem that shows them. Its root lists
//! `ptmx` (another way to open a master) and one character device `N` (136:N) per pty whose
//! master is open; opening one opens that pty's slave.
//!
//! The sandbox has one instance: `mount -t devpts` mounts it again (Linux's `newinstance`
//! would make a new one; sharing it is what a single-instance devpts did), and `/dev/ptmx`
//! opens its masters. Its options are the sandbox's (`gid=5,mode=620,ptmxmode=666`); those a
//! mount gives are checked and not applied.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use snare_abi::file::{o, Stat, S_IFCHR, S_IFDIR};
use snare_abi::tty::{makedev, PTMX_MINOR, TTYAUX_MAJOR};
use snare_abi::Errno;

use super::ldisc::{default_termios, Ldisc};
use super::{Job, JobControl, Pty, PtyMaster, State};
use crate::kernel::wait::WaitQueue;
use crate::vfs::filesystem::{Caller, Filesystem};
use crate::vfs::listing::{Entries, Listing};
use crate::vfs::pipe::now_ts;
use crate::vfs::FileDescription;

/// `st_dev` of /dev/pts (0:4004).
pub const DEVPTS_DEV: u64 = 0x00f0_00a4;
/// `f_type` of a devpts.
const DEVPTS_MAGIC: i64 = 0x1cd1;
/// The most ptys at once (Linux's `/proc/sys/kernel/pty/max` is 4096): `ENOSPC` past it.
pub const PTY_MAX: u32 = 256;
/// The `tty` group, which owns the slaves.
const TTY_GID: u32 = 5;
const SLAVE_MODE: u32 = 0o620;
const PTMX_MODE: u32 = 0o666;

/// The devpts instance.
#[derive(Debug)]
pub struct Devpts {
    me: Weak<Devpts>,
    /// By index; a pty leaves when both its ends are closed.
    ptys: Mutex<BTreeMap<u32, Weak<Pty>>>,
    ctime: (i64, i64),
}

impl Devpts {
    pub fn new() -> Arc<Devpts> {
        Arc::new_cyclic(|me| Devpts {
            me: me.clone(),
            ptys: Mutex::new(BTreeMap::new()),
            ctime: now_ts(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<u32, Weak<Pty>>> {
        self.ptys.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The options `/proc/mounts` shows.
    pub fn options(&self) -> String {
        format!("gid={TTY_GID},mode={SLAVE_MODE:o},ptmxmode={PTMX_MODE:03o}")
    }

    /// Checks the options of `mount -t devpts` (`EINVAL` for ones devpts doesn't know).
    pub fn check_options(data: &str) -> Result<(), Errno> {
        for opt in data.split(',').filter(|o| !o.is_empty()) {
            let (k, v) = opt.split_once('=').unwrap_or((opt, ""));
            let num = |radix| u32::from_str_radix(v, radix).map(drop);
            match k {
                "uid" | "gid" | "max" => num(10).map_err(|_| Errno::EINVAL)?,
                "mode" | "ptmxmode" => num(8).map_err(|_| Errno::EINVAL)?,
                "newinstance" | "rw" | "ro" | "nosuid" | "suid" | "nodev" | "dev" | "noexec"
                | "exec" | "noatime" | "relatime" | "strictatime" => {}
                _ => return Err(Errno::EINVAL),
            }
        }
        Ok(())
    }

    /// A new pty, locked, owned by `uid`: its master. `ENOSPC` when [`PTY_MAX`] are open.
    pub fn new_master(
        &self,
        uid: u32,
        flags: u32,
        jobs: Option<Arc<dyn JobControl>>,
        node: Stat,
        path: String,
    ) -> Result<Arc<dyn FileDescription>, Errno> {
        let mut ptys = self.lock();
        let index = (0..PTY_MAX)
            .find(|i| ptys.get(i).is_none_or(|w| w.strong_count() == 0))
            .ok_or(Errno::ENOSPC)?;
        let pty = Arc::new(Pty {
            index,
            devpts: self.me.clone(),
            state: Mutex::new(State {
                ld: Ldisc::new(default_termios()),
                winsize: Default::default(),
                locked: true,
                slaves: 0,
                slave_closed: false,
                hung_up: false,
                job: Job::default(),
            }),
            slave_q: WaitQueue::new(),
            master_q: WaitQueue::new(),
            jobs,
            uid,
            gid: TTY_GID,
            ctime: now_ts(),
        });
        ptys.insert(index, Arc::downgrade(&pty));
        drop(ptys);
        Ok(Arc::new(PtyMaster {
            pty,
            flags: std::sync::atomic::AtomicU32::new(flags & (o::ACCMODE | o::NONBLOCK)),
            node,
            path,
        }))
    }

    /// Forgets pty `index` (both its ends are gone).
    pub(super) fn release(&self, index: u32) {
        let mut ptys = self.lock();
        if ptys.get(&index).is_some_and(|w| w.strong_count() == 0) {
            ptys.remove(&index);
        }
    }

    /// The ptys whose master is open.
    fn live(&self) -> Vec<Arc<Pty>> {
        let all: Vec<Arc<Pty>> = self.lock().values().filter_map(Weak::upgrade).collect();
        // (Dropped outside the table's lock: a last reference releases its index.)
        all.into_iter().filter(|p| !p.hung_up()).collect()
    }

    /// The pty `/N` names, if its master is open.
    fn lookup(&self, path: &[u8]) -> Option<Arc<Pty>> {
        let name = path.strip_prefix(b"/")?;
        let canonical = !name.is_empty()
            && name.len() <= 10
            && name.iter().all(u8::is_ascii_digit)
            && (name[0] != b'0' || name.len() == 1);
        if !canonical {
            return None;
        }
        let index: u32 = std::str::from_utf8(name).ok()?.parse().ok()?;
        let pty = self.lock().get(&index).and_then(Weak::upgrade)?;
        (!pty.hung_up()).then_some(pty)
    }

    /// Whether a live pty is session `sid`'s controlling terminal.
    pub(super) fn session_has_terminal(&self, sid: i32) -> bool {
        self.live()
            .iter()
            .any(|p| p.job(|j| j.session == Some(sid)))
    }

    /// Session `sid`'s leader has exited: its terminal is no one's now, and its foreground
    /// process group gets SIGHUP (Linux's `disassociate_ctty(1)` for a pty).
    pub fn session_ended(&self, sid: i32) {
        for p in self.live() {
            let fg = p.job(|j| (j.session == Some(sid)).then(|| std::mem::take(j).pgrp));
            if let Some(pgrp) = fg {
                p.signal_fg(pgrp, snare_abi::signal::SIGHUP);
            }
        }
    }

    /// The stat of `/ptmx`.
    fn ptmx_stat(&self) -> Stat {
        Stat {
            st_dev: DEVPTS_DEV,
            st_ino: 2,
            st_nlink: 1,
            st_mode: S_IFCHR | PTMX_MODE,
            st_rdev: makedev(TTYAUX_MAJOR, PTMX_MINOR),
            st_blksize: 4096,
            st_atime: self.ctime.0,
            st_mtime: self.ctime.0,
            st_ctime: self.ctime.0,
            ..Stat::default()
        }
    }
}

impl Filesystem for Devpts {
    fn fstype(&self) -> &'static str {
        "devpts"
    }

    fn dev(&self) -> u64 {
        DEVPTS_DEV
    }

    fn refusal(&self) -> Option<Errno> {
        Some(Errno::EPERM)
    }

    fn stat(&self, _cx: &dyn Caller, path: &[u8], _follow: bool) -> Result<Stat, Errno> {
        match path {
            b"/" => Ok(Stat {
                st_dev: DEVPTS_DEV,
                st_ino: 1,
                st_nlink: 2,
                st_mode: S_IFDIR | 0o755,
                st_blksize: 4096,
                st_atime: self.ctime.0,
                st_mtime: self.ctime.0,
                st_ctime: self.ctime.0,
                ..Stat::default()
            }),
            b"/ptmx" => Ok(self.ptmx_stat()),
            _ => self
                .lookup(path)
                .map(|p| p.slave_stat())
                .ok_or(Errno::ENOENT),
        }
    }

    fn open(
        &self,
        cx: &dyn Caller,
        path: &[u8],
        guest: &[u8],
        flags: u32,
        _mode: u32,
    ) -> Result<Arc<dyn FileDescription>, Errno> {
        let creat = flags & o::CREAT != 0;
        if path == b"/" {
            if flags & o::ACCMODE != o::RDONLY || creat {
                return Err(Errno::EISDIR);
            }
            let st = self.stat(cx, path, false)?;
            let mut entries = vec![(b"ptmx".to_vec(), 2u8, 2u64)];
            entries.extend(
                self.live()
                    .iter()
                    .map(|p| (p.index.to_string().into_bytes(), 2, u64::from(p.index) + 3)),
            );
            let dir = Listing::new(guest.to_vec(), st, 1, Entries::Fixed(entries));
            return Ok(Arc::new(dir));
        }
        if creat && flags & o::EXCL != 0 && self.stat(cx, path, false).is_ok() {
            return Err(Errno::EEXIST);
        }
        if flags & o::DIRECTORY != 0 && self.stat(cx, path, false).is_ok() {
            return Err(Errno::ENOTDIR);
        }
        if path == b"/ptmx" {
            let path = String::from_utf8_lossy(guest).into_owned();
            return self.new_master(
                cx.cred().uid,
                flags,
                cx.job_control(),
                self.ptmx_stat(),
                path,
            );
        }
        match self.lookup(path) {
            Some(pty) => Ok(pty.open_slave(flags)?),
            None if creat => Err(Errno::EACCES),
            None => Err(Errno::ENOENT),
        }
    }

    fn statfs(&self, cx: &dyn Caller, path: &[u8]) -> Result<[u8; 120], Errno> {
        self.stat(cx, path, true)?;
        Ok(crate::vfs::statfs_bytes(DEVPTS_MAGIC, 0, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_are_bounded_and_reused() {
        let d = Devpts::new();
        let mut held = Vec::new();
        for _ in 0..PTY_MAX {
            let m = d.new_master(0, o::RDWR, None, Stat::default(), String::new());
            held.push(m.expect("master"));
        }
        let over = d.new_master(0, o::RDWR, None, Stat::default(), String::new());
        assert_eq!(over.map(drop), Err(Errno::ENOSPC));
        held.swap_remove(7);
        let again = d.new_master(0, o::RDWR, None, Stat::default(), String::new());
        let again = again.expect("reused");
        let (pty, _) = super::super::pty_of(&*again).expect("pty");
        assert_eq!(pty.index(), 7);
        assert_eq!(d.live().len(), PTY_MAX as usize);
        assert!(d.lookup(b"/7").is_some());
        assert!(d.lookup(b"/07").is_none());
        assert!(d.lookup(b"/999").is_none());
        drop(held);
        drop(again);
        assert!(d.lock().is_empty());
    }

    #[test]
    fn options() {
        assert_eq!(
            Devpts::check_options("newinstance,ptmxmode=0666,mode=620,gid=5"),
            Ok(())
        );
        assert_eq!(Devpts::check_options("mode=9"), Err(Errno::EINVAL));
        assert_eq!(Devpts::check_options("bogus"), Err(Errno::EINVAL));
    }
}
