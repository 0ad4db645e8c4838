//! Capabilities of a guest process: Linux's five sets, the secure bits and `no_new_privs`
//! ([`CapSets`], kept in [`Creds`]), and the rules that change them: `capset`, the `prctl`
//! options, a change of user ids and `execve` (capabilities(7)). Pure functions over the
//! credentials: the syscalls in `syscalls/creds.rs`, `syscalls/clone.rs` (prctl, execve)
//! and the OCI layer call them; every privilege check asks [`Creds::capable`].
//!
//! Deviations from Linux: capabilities are per process, not per thread (the Sentry's
//! credentials are per process); files carry no capabilities (`security.capability` is
//! not read at exec); there is one user namespace.

use snare_abi::caps::{
    pr, Cap, CAP_FS_SET, CAP_FULL_SET, SECBIT_KEEP_CAPS, SECBIT_KEEP_CAPS_LOCKED, SECBIT_NOROOT,
    SECBIT_NO_CAP_AMBIENT_RAISE, SECBIT_NO_SETUID_FIXUP, SECURE_ALL_BITS, SECURE_ALL_LOCKS,
};
use snare_abi::Errno;

use super::process::Creds;

/// A process's capability state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CapSets {
    pub permitted: u64,
    pub effective: u64,
    pub inheritable: u64,
    pub bounding: u64,
    pub ambient: u64,
    /// `SECBIT_*` (keepcaps is `SECBIT_KEEP_CAPS`, as in Linux).
    pub securebits: u32,
    /// `PR_SET_NO_NEW_PRIVS`: fork keeps it, exec keeps it, nothing clears it.
    pub no_new_privs: bool,
}

impl Default for CapSets {
    /// A process without privilege: nothing but a full bounding set.
    fn default() -> CapSets {
        CapSets {
            permitted: 0,
            effective: 0,
            inheritable: 0,
            bounding: CAP_FULL_SET,
            ambient: 0,
            securebits: 0,
            no_new_privs: false,
        }
    }
}

impl CapSets {
    /// What a process of effective uid `euid` started by root holds: everything for root,
    /// nothing (but the bounding set) for others.
    pub fn for_uid(euid: u32) -> CapSets {
        let all = if euid == 0 { CAP_FULL_SET } else { 0 };
        CapSets {
            permitted: all,
            effective: all,
            ..CapSets::default()
        }
    }

    /// Every set empty, the bounding one too (an OCI process without `capabilities`).
    pub fn none() -> CapSets {
        CapSets {
            bounding: 0,
            ..CapSets::default()
        }
    }

    /// Whether `cap` is in the effective set.
    pub fn has(&self, cap: Cap) -> bool {
        self.effective & cap.bit() != 0
    }

    fn secure(&self, bit: u32) -> bool {
        self.securebits & bit != 0
    }

    /// `capset(2)`'s rules: the new sets, or `EPERM`. New permitted ⊆ old permitted, new
    /// effective ⊆ new permitted, new inheritable ⊆ old inheritable ∪ bounding and (without
    /// CAP_SETPCAP) ⊆ old inheritable ∪ old permitted; ambient loses what leaves P or I.
    pub fn capset(
        &self,
        effective: u64,
        permitted: u64,
        inheritable: u64,
    ) -> Result<CapSets, Errno> {
        let (e, p, i) = (
            effective & CAP_FULL_SET,
            permitted & CAP_FULL_SET,
            inheritable & CAP_FULL_SET,
        );
        let subset = |a: u64, b: u64| a & !b == 0;
        if !self.has(Cap::Setpcap) && !subset(i, self.inheritable | self.permitted) {
            return Err(Errno::EPERM);
        }
        if !subset(i, self.inheritable | self.bounding) || !subset(p, self.permitted) {
            return Err(Errno::EPERM);
        }
        if !subset(e, p) {
            return Err(Errno::EPERM);
        }
        Ok(CapSets {
            effective: e,
            permitted: p,
            inheritable: i,
            ambient: self.ambient & p & i,
            ..*self
        })
    }

    /// `PR_CAPBSET_DROP`: `EPERM` without CAP_SETPCAP, `EINVAL` for an unknown capability.
    pub fn bounding_drop(&mut self, cap: u64) -> Result<(), Errno> {
        if !self.has(Cap::Setpcap) {
            return Err(Errno::EPERM);
        }
        let cap = Cap::from_number(cap).ok_or(Errno::EINVAL)?;
        self.bounding &= !cap.bit();
        Ok(())
    }

    /// `PR_CAP_AMBIENT` with `op` and its arguments: the value it returns.
    pub fn ambient_op(&mut self, op: u64, cap: u64, a4: u64, a5: u64) -> Result<u64, Errno> {
        if op == pr::CAP_AMBIENT_CLEAR_ALL {
            if cap | a4 | a5 != 0 {
                return Err(Errno::EINVAL);
            }
            self.ambient = 0;
            return Ok(0);
        }
        let cap = match Cap::from_number(cap) {
            Some(c) if a4 | a5 == 0 => c,
            _ => return Err(Errno::EINVAL),
        };
        match op {
            pr::CAP_AMBIENT_IS_SET => Ok(u64::from(self.ambient & cap.bit() != 0)),
            pr::CAP_AMBIENT_RAISE => {
                let allowed = self.permitted & self.inheritable & cap.bit() != 0;
                if !allowed || self.secure(SECBIT_NO_CAP_AMBIENT_RAISE) {
                    return Err(Errno::EPERM);
                }
                self.ambient |= cap.bit();
                Ok(0)
            }
            pr::CAP_AMBIENT_LOWER => {
                self.ambient &= !cap.bit();
                Ok(0)
            }
            _ => Err(Errno::EINVAL),
        }
    }

    /// `PR_SET_SECUREBITS`: `EPERM` when a locked bit would change, a lock would be
    /// released, an unknown bit is set, or the caller lacks CAP_SETPCAP.
    pub fn set_securebits(&mut self, bits: u64) -> Result<(), Errno> {
        let old = u64::from(self.securebits);
        let locks = old & u64::from(SECURE_ALL_LOCKS);
        let known = u64::from(SECURE_ALL_BITS | SECURE_ALL_LOCKS);
        if (locks >> 1) & (old ^ bits) != 0
            || locks & !bits != 0
            || bits & !known != 0
            || !self.has(Cap::Setpcap)
        {
            return Err(Errno::EPERM);
        }
        self.securebits = bits as u32;
        Ok(())
    }

    /// `PR_SET_KEEPCAPS`: 0 or 1 (`EINVAL`); `EPERM` once the flag is locked.
    pub fn set_keepcaps(&mut self, on: u64) -> Result<(), Errno> {
        if on > 1 {
            return Err(Errno::EINVAL);
        }
        if self.secure(SECBIT_KEEP_CAPS_LOCKED) {
            return Err(Errno::EPERM);
        }
        if on == 1 {
            self.securebits |= SECBIT_KEEP_CAPS;
        } else {
            self.securebits &= !SECBIT_KEEP_CAPS;
        }
        Ok(())
    }

    /// Linux's `cap_emulate_setxuid`: after a setuid-family call moved the user ids from
    /// `old` to `new` (real, effective, saved). Leaving root altogether clears the permitted
    /// and effective sets (unless keepcaps) and the ambient one; an effective uid leaving 0
    /// clears the effective set, one becoming 0 gets the permitted set back.
    pub fn fix_setuid(&mut self, old: [u32; 3], new: [u32; 3]) {
        if self.secure(SECBIT_NO_SETUID_FIXUP) {
            return;
        }
        if old.contains(&0) && !new.contains(&0) {
            if !self.secure(SECBIT_KEEP_CAPS) {
                self.permitted = 0;
                self.effective = 0;
            }
            self.ambient = 0;
        }
        if old[1] == 0 && new[1] != 0 {
            self.effective = 0;
        }
        if old[1] != 0 && new[1] == 0 {
            self.effective = self.permitted;
        }
    }

    /// `setfsuid`'s fix-up: a filesystem uid leaving 0 drops the filesystem capabilities
    /// from the effective set; one becoming 0 raises those of them that are permitted.
    pub fn fix_setfsuid(&mut self, old: u32, new: u32) {
        if self.secure(SECBIT_NO_SETUID_FIXUP) {
            return;
        }
        if old == 0 && new != 0 {
            self.effective &= !CAP_FS_SET;
        }
        if old != 0 && new == 0 {
            self.effective |= self.permitted & CAP_FS_SET;
        }
    }
}

/// What an executable's set-id bits ask of `execve` (none on a `nosuid` mount or under
/// `no_new_privs`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetIds {
    /// Set-user-id: the file's owner.
    pub uid: Option<u32>,
    /// Set-group-id (with group execute): the file's group.
    pub gid: Option<u32>,
}

impl SetIds {
    /// The set-id bits of a file of status `st` (Linux's `bprm_fill_uid`: set-group-id
    /// counts only with the group execute bit).
    pub fn of(st: &snare_abi::file::Stat) -> SetIds {
        const S_ISUID: u32 = 0o4000;
        const S_ISGID: u32 = 0o2000;
        SetIds {
            uid: (st.st_mode & S_ISUID != 0).then_some(st.st_uid),
            gid: (st.st_mode & (S_ISGID | 0o010) == S_ISGID | 0o010).then_some(st.st_gid),
        }
    }
}

/// Linux's `cap_bprm_creds_from_file` without file capabilities: the credentials after
/// an `execve` of a file whose set-id bits are `ids`, and whether the exec is "secure"
/// (`AT_SECURE`: the ids or capabilities changed). Root (real or effective uid 0, unless
/// `SECBIT_NOROOT`) gets P' = bounding ∪ I, and E' = P' when its effective uid is 0;
/// others get P' = E' = ambient. A set-id exec clears the ambient set; under
/// `no_new_privs` it gains nothing (the ids fall back to the real ones, P' ⊆ P).
pub fn exec_creds(old: &Creds, ids: SetIds) -> (Creds, bool) {
    let mut new = old.clone();
    if let Some(uid) = ids.uid {
        new.euid = uid;
    }
    if let Some(gid) = ids.gid {
        new.egid = gid;
    }
    let oc = &old.caps;
    let mut c = new.caps;
    c.permitted = 0;
    let mut effective = false;
    if !oc.secure(SECBIT_NOROOT) {
        if new.euid == 0 || new.ruid == 0 {
            c.permitted = oc.bounding | oc.inheritable;
        }
        effective = new.euid == 0;
    }
    let is_setid = new.euid != old.ruid || new.egid != old.rgid;
    let gained = c.permitted & !oc.permitted != 0;
    if (is_setid || gained) && oc.no_new_privs {
        // Linux's "unsafe" exec (here only no_new_privs): no more than it had.
        new.euid = new.ruid;
        new.egid = new.rgid;
        c.permitted &= oc.permitted;
    }
    (new.suid, new.fsuid) = (new.euid, new.euid);
    (new.sgid, new.fsgid) = (new.egid, new.egid);
    if is_setid {
        c.ambient = 0;
    }
    c.permitted |= c.ambient;
    c.effective = if effective { c.permitted } else { c.ambient };
    c.securebits &= !SECBIT_KEEP_CAPS;
    let secure = is_setid || (new.ruid != 0 && (effective || c.ambient & !c.permitted != 0));
    new.caps = c;
    (new, secure)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETPCAP: u64 = Cap::Setpcap.bit();
    const CHOWN: u64 = Cap::Chown.bit();
    const KILL: u64 = Cap::Kill.bit();

    fn root() -> Creds {
        Creds::of(0, 0)
    }

    #[test]
    fn initial_sets() {
        assert_eq!(root().caps.effective, CAP_FULL_SET);
        let u = Creds::of(1000, 1000);
        assert_eq!((u.caps.permitted, u.caps.bounding), (0, CAP_FULL_SET));
        assert!(root().capable(Cap::SysAdmin) && !u.capable(Cap::SysAdmin));
    }

    #[test]
    fn capset_rules() {
        let r = root().caps;
        let dropped = r.capset(CHOWN, CHOWN | KILL, 0).expect("drop");
        assert_eq!(
            (dropped.effective, dropped.permitted),
            (CHOWN, CHOWN | KILL)
        );
        // Nothing comes back into P; E stays within P.
        assert_eq!(dropped.capset(CHOWN, CHOWN | SETPCAP, 0), Err(Errno::EPERM));
        assert_eq!(dropped.capset(KILL | SETPCAP, KILL, 0), Err(Errno::EPERM));
        // I: within old I ∪ P without CAP_SETPCAP, within I ∪ bounding always.
        assert_eq!(
            dropped.capset(0, CHOWN, KILL).map(|c| c.inheritable),
            Ok(KILL)
        );
        assert_eq!(dropped.capset(0, CHOWN, SETPCAP), Err(Errno::EPERM));
        let mut narrow = r;
        narrow.bounding = CHOWN;
        assert_eq!(narrow.capset(0, 0, KILL), Err(Errno::EPERM));
        let with_setpcap = CapSets {
            effective: SETPCAP,
            permitted: SETPCAP,
            ..CapSets::default()
        };
        assert_eq!(
            with_setpcap.capset(0, 0, KILL).map(|c| c.inheritable),
            Ok(KILL)
        );
        // Bits past CAP_LAST_CAP are ignored; ambient follows P ∩ I.
        let mut a = r.capset(CAP_FULL_SET, CAP_FULL_SET, CHOWN).expect("I");
        a.ambient_op(pr::CAP_AMBIENT_RAISE, 0, 0, 0).expect("raise");
        assert_eq!(
            a.capset(u64::MAX, u64::MAX, CHOWN).map(|c| c.ambient),
            Ok(CHOWN)
        );
        assert_eq!(a.capset(0, KILL, CHOWN).map(|c| c.ambient), Ok(0));
    }

    #[test]
    fn prctl_rules() {
        let mut c = CapSets::for_uid(0);
        assert_eq!(c.bounding_drop(41), Err(Errno::EINVAL));
        c.bounding_drop(Cap::SysAdmin as u64).expect("drop");
        assert_eq!(c.bounding & Cap::SysAdmin.bit(), 0);
        let mut u = CapSets::default();
        assert_eq!(u.bounding_drop(0), Err(Errno::EPERM));
        assert_eq!(
            u.ambient_op(pr::CAP_AMBIENT_RAISE, 0, 0, 0),
            Err(Errno::EPERM)
        );
        assert_eq!(
            u.ambient_op(pr::CAP_AMBIENT_IS_SET, 99, 0, 0),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            u.ambient_op(pr::CAP_AMBIENT_CLEAR_ALL, 1, 0, 0),
            Err(Errno::EINVAL)
        );
        assert_eq!(u.ambient_op(9, 0, 0, 0), Err(Errno::EINVAL));
        assert_eq!(
            u.set_securebits(u64::from(SECBIT_NOROOT)),
            Err(Errno::EPERM)
        );
        c.set_securebits(u64::from(SECBIT_KEEP_CAPS | SECBIT_KEEP_CAPS_LOCKED))
            .expect("lock keepcaps");
        assert_eq!(c.set_keepcaps(0), Err(Errno::EPERM));
        assert_eq!(
            c.set_securebits(u64::from(SECBIT_KEEP_CAPS)),
            Err(Errno::EPERM)
        );
        assert_eq!(c.set_securebits(1 << 12), Err(Errno::EPERM));
        assert_eq!(u.set_keepcaps(2), Err(Errno::EINVAL));
    }

    #[test]
    fn uid_changes() {
        let mut c = CapSets::for_uid(0);
        c.ambient = CHOWN;
        let mut gone = c;
        gone.fix_setuid([0, 0, 0], [1000, 1000, 1000]);
        assert_eq!((gone.permitted, gone.effective, gone.ambient), (0, 0, 0));
        let mut kept = c;
        kept.securebits = SECBIT_KEEP_CAPS;
        kept.fix_setuid([0, 0, 0], [1000, 1000, 1000]);
        assert_eq!((kept.permitted, kept.effective), (CAP_FULL_SET, 0));
        // Only the effective uid away from 0 and back: E cleared, then refilled from P.
        let mut swap = c;
        swap.fix_setuid([0, 0, 0], [0, 1000, 0]);
        assert_eq!((swap.permitted, swap.effective), (CAP_FULL_SET, 0));
        swap.fix_setuid([0, 1000, 0], [0, 0, 0]);
        assert_eq!(swap.effective, CAP_FULL_SET);
        let mut fixed = c;
        fixed.securebits = SECBIT_NO_SETUID_FIXUP;
        fixed.fix_setuid([0, 0, 0], [1, 1, 1]);
        assert_eq!(fixed.effective, CAP_FULL_SET);
        let mut fs = c;
        fs.fix_setfsuid(0, 1000);
        assert_eq!(fs.effective, CAP_FULL_SET & !CAP_FS_SET);
        fs.fix_setfsuid(1000, 0);
        assert_eq!(fs.effective, CAP_FULL_SET);
    }

    #[test]
    fn exec_transformation() {
        // Root: P' = bounding ∪ I, E' = P'.
        let mut r = root();
        r.caps.bounding = CHOWN | KILL;
        r.caps.permitted = CHOWN;
        r.caps.securebits = SECBIT_KEEP_CAPS;
        let (n, secure) = exec_creds(&r, SetIds::default());
        assert_eq!(
            (n.caps.permitted, n.caps.effective),
            (CHOWN | KILL, CHOWN | KILL)
        );
        assert_eq!((n.caps.securebits, secure), (0, false));
        // Non-root: P' = E' = ambient.
        let mut u = Creds::of(1000, 1000);
        u.caps.permitted = CHOWN | KILL;
        u.caps.inheritable = CHOWN;
        u.caps.ambient = CHOWN;
        let (n, secure) = exec_creds(&u, SetIds::default());
        assert_eq!((n.caps.permitted, n.caps.effective), (CHOWN, CHOWN));
        assert!(!secure);
        // Set-user-id root: root's sets, AT_SECURE, ambient gone; saved uid follows.
        let (n, secure) = exec_creds(
            &u,
            SetIds {
                uid: Some(0),
                gid: None,
            },
        );
        assert_eq!((n.ruid, n.euid, n.suid), (1000, 0, 0));
        assert_eq!((n.caps.effective, n.caps.ambient), (CAP_FULL_SET, 0));
        assert!(secure);
        // ... but not under no_new_privs: the real ids, no more than it had.
        u.caps.no_new_privs = true;
        let (n, secure) = exec_creds(
            &u,
            SetIds {
                uid: Some(0),
                gid: Some(5),
            },
        );
        assert_eq!(
            (n.euid, n.egid, n.caps.permitted),
            (1000, 1000, CHOWN | KILL)
        );
        assert!(secure && n.caps.no_new_privs);
        // SECBIT_NOROOT: root is just a user.
        let mut nr = root();
        nr.caps.securebits = SECBIT_NOROOT;
        let (n, _) = exec_creds(&nr, SetIds::default());
        assert_eq!(n.caps.permitted, 0);
    }
}
