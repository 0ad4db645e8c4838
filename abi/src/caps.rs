//! Capabilities (`include/uapi/linux/capability.h`, `securebits.h`, `prctl.h`): the
//! capability numbers and names, `capget`/`capset`'s header and data, the secure bits.

use static_assertions::const_assert_eq;

/// `_LINUX_CAPABILITY_VERSION_1`: one 32-bit word per set (capabilities 0..=31).
pub const LINUX_CAPABILITY_VERSION_1: u32 = 0x1998_0330;
/// `_LINUX_CAPABILITY_VERSION_2`: two words per set (deprecated by Linux for version 3).
pub const LINUX_CAPABILITY_VERSION_2: u32 = 0x2007_1026;
/// `_LINUX_CAPABILITY_VERSION_3`: `capset` takes two 32-bit words per set.
pub const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
/// Past the last capability any kernel defines (dropping an unknown one is `EINVAL`).
pub const CAP_MAX: u64 = 63;

/// A capability (`CAP_*`), numbered as Linux numbers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u32)]
pub enum Cap {
    Chown = 0,
    DacOverride = 1,
    DacReadSearch = 2,
    Fowner = 3,
    Fsetid = 4,
    Kill = 5,
    Setgid = 6,
    Setuid = 7,
    Setpcap = 8,
    LinuxImmutable = 9,
    NetBindService = 10,
    NetBroadcast = 11,
    NetAdmin = 12,
    NetRaw = 13,
    IpcLock = 14,
    IpcOwner = 15,
    SysModule = 16,
    SysRawio = 17,
    SysChroot = 18,
    SysPtrace = 19,
    SysPacct = 20,
    SysAdmin = 21,
    SysBoot = 22,
    SysNice = 23,
    SysResource = 24,
    SysTime = 25,
    SysTtyConfig = 26,
    Mknod = 27,
    Lease = 28,
    AuditWrite = 29,
    AuditControl = 30,
    Setfcap = 31,
    MacOverride = 32,
    MacAdmin = 33,
    Syslog = 34,
    WakeAlarm = 35,
    BlockSuspend = 36,
    AuditRead = 37,
    Perfmon = 38,
    Bpf = 39,
    CheckpointRestore = 40,
}

/// `CAP_LAST_CAP`: the highest capability this kernel knows (6.x: `CAP_CHECKPOINT_RESTORE`).
pub const CAP_LAST_CAP: u32 = Cap::CheckpointRestore as u32;
/// Every capability this kernel knows, as a set (`CAP_VALID_MASK`).
pub const CAP_FULL_SET: u64 = (1 << (CAP_LAST_CAP + 1)) - 1;

/// Linux's names, in number order.
const NAMES: [&str; CAP_LAST_CAP as usize + 1] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Every capability, in number order.
const ALL: [Cap; CAP_LAST_CAP as usize + 1] = {
    use Cap::*;
    [
        Chown,
        DacOverride,
        DacReadSearch,
        Fowner,
        Fsetid,
        Kill,
        Setgid,
        Setuid,
        Setpcap,
        LinuxImmutable,
        NetBindService,
        NetBroadcast,
        NetAdmin,
        NetRaw,
        IpcLock,
        IpcOwner,
        SysModule,
        SysRawio,
        SysChroot,
        SysPtrace,
        SysPacct,
        SysAdmin,
        SysBoot,
        SysNice,
        SysResource,
        SysTime,
        SysTtyConfig,
        Mknod,
        Lease,
        AuditWrite,
        AuditControl,
        Setfcap,
        MacOverride,
        MacAdmin,
        Syslog,
        WakeAlarm,
        BlockSuspend,
        AuditRead,
        Perfmon,
        Bpf,
        CheckpointRestore,
    ]
};

impl Cap {
    /// The capability numbered `n`, if this kernel knows one (`cap_valid`).
    pub fn from_number(n: u64) -> Option<Cap> {
        ALL.get(usize::try_from(n).ok()?).copied()
    }

    /// The capability Linux names `name` (`CAP_CHOWN`), if any.
    pub fn from_name(name: &str) -> Option<Cap> {
        NAMES.iter().position(|&n| n == name).map(|i| ALL[i])
    }

    /// Linux's name: `CAP_CHOWN`.
    pub fn name(self) -> &'static str {
        NAMES[self as usize]
    }

    /// This capability's bit in a set.
    pub const fn bit(self) -> u64 {
        1 << self as u32
    }
}

/// The capabilities a change of filesystem uid from 0 clears from the effective set
/// (`CAP_FS_SET`, capabilities(7) "Effect of user ID changes").
pub const CAP_FS_SET: u64 = Cap::Chown.bit()
    | Cap::DacOverride.bit()
    | Cap::DacReadSearch.bit()
    | Cap::Fowner.bit()
    | Cap::Fsetid.bit()
    | Cap::LinuxImmutable.bit()
    | Cap::MacOverride.bit()
    | Cap::Mknod.bit();

pub const CAP_CHOWN: u32 = Cap::Chown as u32;
pub const CAP_DAC_OVERRIDE: u32 = Cap::DacOverride as u32;
pub const CAP_DAC_READ_SEARCH: u32 = Cap::DacReadSearch as u32;
pub const CAP_FOWNER: u32 = Cap::Fowner as u32;
pub const CAP_FSETID: u32 = Cap::Fsetid as u32;

/// `struct __user_cap_header_struct`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct CapUserHeader {
    pub version: u32,
    pub pid: i32,
}
const_assert_eq!(core::mem::size_of::<CapUserHeader>(), 8);

/// `struct __user_cap_data_struct`: one 32-bit word of each set (versions 2 and 3 pass two:
/// capabilities 0..=31, then 32..=63).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct CapUserData {
    pub effective: u32,
    pub permitted: u32,
    pub inheritable: u32,
}
const_assert_eq!(core::mem::size_of::<CapUserData>(), 12);

crate::impl_pod!(CapUserHeader, CapUserData);

/// Secure bits (`securebits.h`): each flag's lock is the bit above it.
pub const SECBIT_NOROOT: u32 = 1 << 0;
pub const SECBIT_NO_SETUID_FIXUP: u32 = 1 << 2;
pub const SECBIT_KEEP_CAPS: u32 = 1 << 4;
pub const SECBIT_KEEP_CAPS_LOCKED: u32 = 1 << 5;
pub const SECBIT_NO_CAP_AMBIENT_RAISE: u32 = 1 << 6;
/// Linux 6.14's execution-control bits (`SECBIT_EXEC_RESTRICT_FILE`,
/// `SECBIT_EXEC_DENY_INTERACTIVE`): advice to script interpreters, kept as set.
pub const SECBIT_EXEC_RESTRICT_FILE: u32 = 1 << 8;
pub const SECBIT_EXEC_DENY_INTERACTIVE: u32 = 1 << 10;
/// `SECURE_ALL_BITS`: every flag.
pub const SECURE_ALL_BITS: u32 = SECBIT_NOROOT
    | SECBIT_NO_SETUID_FIXUP
    | SECBIT_KEEP_CAPS
    | SECBIT_NO_CAP_AMBIENT_RAISE
    | SECBIT_EXEC_RESTRICT_FILE
    | SECBIT_EXEC_DENY_INTERACTIVE;
/// `SECURE_ALL_LOCKS`: every flag's lock.
pub const SECURE_ALL_LOCKS: u32 = SECURE_ALL_BITS << 1;

/// `prctl` options about capabilities and privileges.
pub mod pr {
    pub const GET_KEEPCAPS: u32 = 7;
    pub const SET_KEEPCAPS: u32 = 8;
    pub const CAPBSET_READ: u32 = 23;
    pub const CAPBSET_DROP: u32 = 24;
    pub const GET_SECUREBITS: u32 = 27;
    pub const SET_SECUREBITS: u32 = 28;
    pub const SET_NO_NEW_PRIVS: u32 = 38;
    pub const GET_NO_NEW_PRIVS: u32 = 39;
    pub const CAP_AMBIENT: u32 = 47;
    pub const CAP_AMBIENT_IS_SET: u64 = 1;
    pub const CAP_AMBIENT_RAISE: u64 = 2;
    pub const CAP_AMBIENT_LOWER: u64 = 3;
    pub const CAP_AMBIENT_CLEAR_ALL: u64 = 4;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_agree() {
        for (i, c) in ALL.iter().enumerate() {
            assert_eq!(*c as usize, i);
            assert_eq!(Cap::from_name(c.name()), Some(*c));
            assert_eq!(Cap::from_number(i as u64), Some(*c));
        }
        assert_eq!(Cap::from_number(41), None);
        assert_eq!(Cap::from_name("CAP_NOPE"), None);
        assert_eq!(CAP_FULL_SET, 0x1ff_ffff_ffff);
    }
}
