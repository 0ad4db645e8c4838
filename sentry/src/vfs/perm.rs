//! File permissions (DAC): who may read, write or search what, as Linux's
//! `generic_permission` decides it, and the rules of sticky and setgid directories.
//!
//! The caller's ids are its filesystem ones (`setfsuid`; they follow the effective ones).
//! Its capabilities override the checks as Linux's do: CAP_DAC_OVERRIDE reads and writes
//! anything and executes a file with any execute bit, CAP_DAC_READ_SEARCH reads files and
//! searches directories, CAP_FOWNER acts as any file's owner, CAP_CHOWN gives files away,
//! CAP_FSETID keeps a set-group-id bit the caller's groups wouldn't allow.

use snare_abi::caps::Cap;
use snare_abi::file::{Stat, S_IFDIR, S_IFMT, UTIME_NOW, UTIME_OMIT};
use snare_abi::Errno;

/// `MAY_*` bits, as the mode's rwx triplets.
pub const MAY_READ: u32 = 4;
pub const MAY_WRITE: u32 = 2;
pub const MAY_EXEC: u32 = 1;

/// Set-group-id and sticky mode bits.
pub const S_ISGID: u32 = 0o2000;
pub const S_ISVTX: u32 = 0o1000;

/// What a permission check needs of a file: its mode and owner.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Perm {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl Perm {
    pub fn of(st: &Stat) -> Perm {
        Perm {
            mode: st.st_mode,
            uid: st.st_uid,
            gid: st.st_gid,
        }
    }

    fn is_dir(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }
}

/// The ids and capabilities a permission check is made for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cred {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    /// The effective capability set.
    pub caps: u64,
}

impl Cred {
    /// Root with every capability: the Sentry's own walks (before any task exists).
    pub fn root() -> Cred {
        Cred {
            caps: snare_abi::caps::CAP_FULL_SET,
            ..Cred::default()
        }
    }

    /// Whether the caller holds `cap`.
    pub fn has(&self, cap: Cap) -> bool {
        self.caps & cap.bit() != 0
    }

    /// CAP_DAC_OVERRIDE: every read and write check passes, and every search (only
    /// executing a file still needs an execute bit).
    pub fn overrides_dac(&self) -> bool {
        self.has(Cap::DacOverride)
    }

    /// Whether every directory is searchable to the caller (CAP_DAC_OVERRIDE or
    /// CAP_DAC_READ_SEARCH): a walk needn't check.
    pub fn searches_all(&self) -> bool {
        self.overrides_dac() || self.has(Cap::DacReadSearch)
    }

    pub fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.groups.contains(&gid)
    }

    /// `EACCES` unless the caller may do `mask` ([`MAY_READ`] | …) to `p`.
    pub fn may(&self, p: &Perm, mask: u32) -> Result<(), Errno> {
        let bits = if self.uid == p.uid {
            p.mode >> 6
        } else if self.in_group(p.gid) {
            p.mode >> 3
        } else {
            p.mode
        } & 7;
        if bits & mask == mask {
            return Ok(());
        }
        let read_search = self.has(Cap::DacReadSearch);
        let allowed = if p.is_dir() {
            self.overrides_dac() || (read_search && mask & MAY_WRITE == 0)
        } else {
            (read_search && mask == MAY_READ)
                || (self.overrides_dac() && (mask & MAY_EXEC == 0 || p.mode & 0o111 != 0))
        };
        if allowed {
            Ok(())
        } else {
            Err(Errno::EACCES)
        }
    }

    /// Whether the caller owns `p` (or holds CAP_FOWNER).
    pub fn owns(&self, p: &Perm) -> bool {
        self.uid == p.uid || self.has(Cap::Fowner)
    }

    /// Whether the caller may remove or replace `victim` in directory `dir`: anyone with
    /// write permission there, unless `dir` is sticky, where only the owner of `victim` or
    /// of `dir` (or CAP_FOWNER) may.
    pub fn sticky_ok(&self, dir: &Perm, victim: &Perm) -> bool {
        dir.mode & S_ISVTX == 0 || self.owns(victim) || self.uid == dir.uid
    }

    /// The mode `chmod` may set on `p`: only its owner (or CAP_FOWNER) may (`EPERM`); a
    /// caller outside the file's group, without CAP_FSETID, can't set its set-group-id bit
    /// (it is dropped, as Linux does).
    pub fn chmod_mode(&self, p: &Perm, mode: u32) -> Result<u32, Errno> {
        if !self.owns(p) {
            return Err(Errno::EPERM);
        }
        Ok(if self.in_group(p.gid) || self.has(Cap::Fsetid) {
            mode
        } else {
            mode & !S_ISGID
        })
    }

    /// `EPERM` unless the caller may give `p` to `uid`/`gid` (`u32::MAX`: unchanged):
    /// CAP_CHOWN anything, its owner only to one of its own groups (Linux's
    /// `chown_ok`/`chgrp_ok`).
    pub fn may_chown(&self, p: &Perm, uid: u32, gid: u32) -> Result<(), Errno> {
        let uid_ok = uid == u32::MAX || (self.uid == p.uid && uid == p.uid);
        let gid_ok = gid == u32::MAX || (self.uid == p.uid && (gid == p.gid || self.in_group(gid)));
        if self.has(Cap::Chown) || (uid_ok && gid_ok) {
            Ok(())
        } else {
            Err(Errno::EPERM)
        }
    }

    /// Whether the caller may set `p`'s times (`None` or `UTIME_NOW`: now; `UTIME_OMIT`:
    /// unchanged): to now, its owner or a writer (`EACCES`); to given times, its owner
    /// (`EPERM`); CAP_FOWNER always.
    pub fn may_set_times(
        &self,
        p: &Perm,
        atime: Option<(i64, i64)>,
        mtime: Option<(i64, i64)>,
    ) -> Result<(), Errno> {
        let omit = |t: Option<(i64, i64)>| t.is_some_and(|(_, ns)| ns == UTIME_OMIT);
        let now_or_omit =
            |t: Option<(i64, i64)>| t.is_none_or(|(_, ns)| ns == UTIME_NOW || ns == UTIME_OMIT);
        if self.owns(p) || (omit(atime) && omit(mtime)) {
            Ok(())
        } else if now_or_omit(atime) && now_or_omit(mtime) {
            self.may(p, MAY_WRITE)
        } else {
            Err(Errno::EPERM)
        }
    }

    /// The owner a new file in `dir` gets: the caller's ids, but the directory's group when
    /// it is set-group-id.
    pub fn new_owner(&self, dir: &Perm) -> (u32, u32) {
        let gid = if dir.mode & S_ISGID != 0 {
            dir.gid
        } else {
            self.gid
        };
        (self.uid, gid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(mode: u32, uid: u32, gid: u32) -> Perm {
        Perm { mode, uid, gid }
    }

    fn user() -> Cred {
        Cred {
            uid: 1000,
            gid: 100,
            groups: vec![50],
            caps: 0,
        }
    }

    #[test]
    fn owner_group_other() {
        let u = user();
        assert_eq!(u.may(&p(0o100600, 1000, 0), MAY_READ | MAY_WRITE), Ok(()));
        assert_eq!(u.may(&p(0o100060, 1000, 100), MAY_READ), Err(Errno::EACCES));
        assert_eq!(u.may(&p(0o100060, 0, 50), MAY_READ), Ok(()));
        assert_eq!(u.may(&p(0o100604, 0, 0), MAY_READ), Ok(()));
        assert_eq!(u.may(&p(0o100604, 0, 0), MAY_WRITE), Err(Errno::EACCES));
        assert_eq!(u.may(&p(0o040711, 0, 0), MAY_EXEC), Ok(()));
        assert_eq!(u.may(&p(0o040700, 0, 0), MAY_EXEC), Err(Errno::EACCES));
    }

    #[test]
    fn root_overrides_but_needs_an_exec_bit() {
        let r = Cred::root();
        assert_eq!(r.may(&p(0o100000, 5, 5), MAY_READ | MAY_WRITE), Ok(()));
        assert_eq!(r.may(&p(0o100600, 5, 5), MAY_EXEC), Err(Errno::EACCES));
        assert_eq!(r.may(&p(0o100001, 5, 5), MAY_EXEC), Ok(()));
        assert_eq!(r.may(&p(0o040000, 5, 5), MAY_EXEC), Ok(()));
    }

    #[test]
    fn attribute_changes() {
        let u = user();
        let mine = p(0o102755, 1000, 5);
        assert_eq!(u.chmod_mode(&mine, 0o2755), Ok(0o755));
        assert_eq!(u.chmod_mode(&p(0o100644, 1000, 50), 0o2755), Ok(0o2755));
        assert_eq!(u.chmod_mode(&p(0o100644, 0, 0), 0o600), Err(Errno::EPERM));
        assert_eq!(u.may_chown(&mine, u32::MAX, 50), Ok(()));
        assert_eq!(u.may_chown(&mine, u32::MAX, 7), Err(Errno::EPERM));
        assert_eq!(u.may_chown(&mine, 0, u32::MAX), Err(Errno::EPERM));
        assert_eq!(
            u.may_chown(&p(0o100644, 0, 0), u32::MAX, 100),
            Err(Errno::EPERM)
        );
        let theirs = p(0o100666, 0, 0);
        assert_eq!(u.may_set_times(&theirs, None, None), Ok(()));
        let given = Some((1, 0));
        assert_eq!(u.may_set_times(&theirs, given, None), Err(Errno::EPERM));
        let omit = Some((0, UTIME_OMIT));
        assert_eq!(u.may_set_times(&p(0o100600, 0, 0), omit, omit), Ok(()));
        assert_eq!(
            u.may_set_times(&p(0o100644, 0, 0), None, omit),
            Err(Errno::EACCES)
        );
        assert_eq!(u.may_set_times(&mine, given, given), Ok(()));
    }

    #[test]
    fn sticky_and_setgid_directories() {
        let u = user();
        let tmp = p(0o041777, 0, 0);
        assert!(!u.sticky_ok(&tmp, &p(0o100644, 7, 7)));
        assert!(u.sticky_ok(&tmp, &p(0o100644, 1000, 7)));
        assert!(u.sticky_ok(&p(0o040777, 0, 0), &p(0o100644, 7, 7)));
        assert!(u.sticky_ok(&p(0o041777, 1000, 0), &p(0o100644, 7, 7)));
        assert_eq!(u.new_owner(&p(0o042775, 0, 50)), (1000, 50));
        assert_eq!(u.new_owner(&p(0o040775, 0, 50)), (1000, 100));
    }

    #[test]
    fn each_capability_overrides_its_own_check() {
        let with = |caps: &[Cap]| Cred {
            uid: 5,
            caps: caps.iter().fold(0, |m, c| m | c.bit()),
            ..Cred::default()
        };
        let secret = p(0o100600, 1, 1);
        let dir = p(0o040700, 1, 1);
        // Root without capabilities is an ordinary user.
        let powerless = Cred::default();
        assert_eq!(powerless.may(&secret, MAY_READ), Err(Errno::EACCES));
        assert_eq!(powerless.may_chown(&secret, 0, u32::MAX), Err(Errno::EPERM));
        let rs = with(&[Cap::DacReadSearch]);
        assert_eq!(rs.may(&secret, MAY_READ), Ok(()));
        assert_eq!(rs.may(&secret, MAY_WRITE), Err(Errno::EACCES));
        assert_eq!(rs.may(&dir, MAY_READ | MAY_EXEC), Ok(()));
        assert_eq!(rs.may(&dir, MAY_WRITE | MAY_EXEC), Err(Errno::EACCES));
        assert!(rs.searches_all() && !rs.overrides_dac());
        let ovr = with(&[Cap::DacOverride]);
        assert_eq!(ovr.may(&secret, MAY_READ | MAY_WRITE), Ok(()));
        assert_eq!(ovr.may(&dir, MAY_WRITE | MAY_EXEC), Ok(()));
        assert_eq!(ovr.may(&secret, MAY_EXEC), Err(Errno::EACCES));
        assert!(!ovr.owns(&secret));
        let fowner = with(&[Cap::Fowner]);
        assert!(fowner.owns(&secret));
        assert_eq!(fowner.chmod_mode(&secret, 0o2755), Ok(0o755));
        assert_eq!(
            with(&[Cap::Fowner, Cap::Fsetid]).chmod_mode(&secret, 0o2755),
            Ok(0o2755)
        );
        assert!(fowner.sticky_ok(&p(0o041777, 0, 0), &secret));
        assert_eq!(with(&[Cap::Chown]).may_chown(&secret, 7, 7), Ok(()));
    }
}
