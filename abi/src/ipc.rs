//! System V IPC's ABI (`include/uapi/linux/{ipc,shm,sem,msg}.h` and x86-64's
//! `asm/{ipcbuf,shmbuf,sembuf,msgbuf}.h`): the `*64_ds` structures `*ctl(2)` reads and
//! writes, `struct sembuf`, the `*_INFO` structures, commands, flags, and the default
//! limits of a new IPC namespace (what `/proc/sys/kernel/{shm*,sem,msg*}` show).

use static_assertions::{assert_eq_size, const_assert_eq};

/// The key that always makes a new object.
pub const IPC_PRIVATE: i32 = 0;
/// `*get` flags.
pub const IPC_CREAT: u32 = 0o1000;
pub const IPC_EXCL: u32 = 0o2000;
/// Don't wait (`semop`, `msgsnd`, `msgrcv`).
pub const IPC_NOWAIT: u32 = 0o4000;

/// `*ctl` commands every kind takes.
pub const IPC_RMID: i32 = 0;
pub const IPC_SET: i32 = 1;
pub const IPC_STAT: i32 = 2;
pub const IPC_INFO: i32 = 3;

/// How many ids one index cycles through before the sequence number moves
/// (`IPCMNI`, without `ipcmni_extend`): an id is `seq * IPCMNI + index`.
pub const IPCMNI: u32 = 32768;

// Shared memory.
/// `shmget` flags.
pub const SHM_HUGETLB: u32 = 0o4000;
pub const SHM_NORESERVE: u32 = 0o10000;
/// `shmat` flags.
pub const SHM_RDONLY: u32 = 0o10000;
pub const SHM_RND: u32 = 0o20000;
pub const SHM_REMAP: u32 = 0o40000;
pub const SHM_EXEC: u32 = 0o100000;
/// `shmctl` commands.
pub const SHM_LOCK: i32 = 11;
pub const SHM_UNLOCK: i32 = 12;
pub const SHM_STAT: i32 = 13;
pub const SHM_INFO: i32 = 14;
pub const SHM_STAT_ANY: i32 = 15;
/// Mode bits of a segment: removed, destroyed at its last detach; locked in memory.
pub const SHM_DEST: u32 = 0o1000;
pub const SHM_LOCKED: u32 = 0o2000;
/// Attach addresses are multiples of this (a page on x86-64).
pub const SHMLBA: u64 = 4096;
/// The smallest segment.
pub const SHMMIN: u64 = 1;
/// Default `kernel.shmmni`: segments.
pub const SHMMNI: u64 = 4096;
/// Default `kernel.shmmax` (bytes of one segment) and `kernel.shmall` (pages of all).
pub const SHMMAX: u64 = u64::MAX - (1 << 24);
pub const SHMALL: u64 = u64::MAX - (1 << 24);

// Semaphores.
/// `semctl` commands.
pub const GETPID: i32 = 11;
pub const GETVAL: i32 = 12;
pub const GETALL: i32 = 13;
pub const GETNCNT: i32 = 14;
pub const GETZCNT: i32 = 15;
pub const SETVAL: i32 = 16;
pub const SETALL: i32 = 17;
pub const SEM_STAT: i32 = 18;
pub const SEM_INFO: i32 = 19;
pub const SEM_STAT_ANY: i32 = 20;
/// `sem_flg`: undo the operation when the process exits.
pub const SEM_UNDO: i16 = 0x1000;
/// Default `kernel.sem`: semaphores per set, in all, operations per call, sets.
pub const SEMMSL: u32 = 32000;
pub const SEMMNS: u32 = SEMMNI * SEMMSL;
pub const SEMOPM: u32 = 500;
pub const SEMMNI: u32 = 32000;
/// A semaphore's largest value, and the largest undo adjustment.
pub const SEMVMX: i32 = 32767;
pub const SEMAEM: i32 = SEMVMX;
/// Fixed fields of `struct seminfo`.
pub const SEMMNU: i32 = SEMMNS as i32;
pub const SEMMAP: i32 = SEMMNS as i32;
pub const SEMUME: i32 = SEMOPM as i32;
pub const SEMUSZ: i32 = 20;

// Message queues.
/// `msgctl` commands.
pub const MSG_STAT: i32 = 11;
pub const MSG_INFO: i32 = 12;
pub const MSG_STAT_ANY: i32 = 13;
/// `msgrcv` flags.
pub const MSG_NOERROR: u32 = 0o10000;
pub const MSG_EXCEPT: u32 = 0o20000;
pub const MSG_COPY: u32 = 0o40000;
/// Default `kernel.msgmni` (queues), `kernel.msgmax` (bytes of a message), `kernel.msgmnb`
/// (bytes of a queue).
pub const MSGMNI: u32 = 32000;
pub const MSGMAX: u32 = 8192;
pub const MSGMNB: u32 = 16384;
/// Fixed fields of `struct msginfo`.
pub const MSGPOOL: i32 = (MSGMNI * MSGMNB / 1024) as i32;
pub const MSGTQL: i32 = MSGMNB as i32;
pub const MSGMAP: i32 = MSGMNB as i32;
pub const MSGSSZ: i32 = 16;
pub const MSGSEG: u16 = 0xffff;

/// `struct ipc64_perm` (`asm-generic/ipcbuf.h`; `mode` is 32 bits on x86-64, so no
/// `__pad1`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ipc64Perm {
    pub key: i32,
    pub uid: u32,
    pub gid: u32,
    pub cuid: u32,
    pub cgid: u32,
    pub mode: u32,
    pub seq: u16,
    pub __pad2: u16,
    pub __pad3: u32,
    pub __unused1: u64,
    pub __unused2: u64,
}
assert_eq_size!(Ipc64Perm, [u8; 48]);
const_assert_eq!(core::mem::offset_of!(Ipc64Perm, mode), 20);
const_assert_eq!(core::mem::offset_of!(Ipc64Perm, seq), 24);

/// `struct shmid64_ds` (x86-64 `asm/shmbuf.h`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shmid64Ds {
    pub shm_perm: Ipc64Perm,
    pub shm_segsz: u64,
    pub shm_atime: i64,
    pub shm_dtime: i64,
    pub shm_ctime: i64,
    pub shm_cpid: i32,
    pub shm_lpid: i32,
    pub shm_nattch: u64,
    pub __unused4: u64,
    pub __unused5: u64,
}
assert_eq_size!(Shmid64Ds, [u8; 112]);
const_assert_eq!(core::mem::offset_of!(Shmid64Ds, shm_cpid), 80);
const_assert_eq!(core::mem::offset_of!(Shmid64Ds, shm_nattch), 88);

/// `struct shminfo64` (`IPC_INFO`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shminfo64 {
    pub shmmax: u64,
    pub shmmin: u64,
    pub shmmni: u64,
    pub shmseg: u64,
    pub shmall: u64,
    pub __unused1: u64,
    pub __unused2: u64,
    pub __unused3: u64,
    pub __unused4: u64,
}
assert_eq_size!(Shminfo64, [u8; 72]);

/// `struct shm_info` (`SHM_INFO`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShmInfo {
    pub used_ids: i32,
    pub __pad: u32,
    pub shm_tot: u64,
    pub shm_rss: u64,
    pub shm_swp: u64,
    pub swap_attempts: u64,
    pub swap_successes: u64,
}
assert_eq_size!(ShmInfo, [u8; 48]);
const_assert_eq!(core::mem::offset_of!(ShmInfo, shm_tot), 8);

/// `struct semid64_ds` (x86-64 `asm/sembuf.h`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Semid64Ds {
    pub sem_perm: Ipc64Perm,
    pub sem_otime: i64,
    pub __unused1: u64,
    pub sem_ctime: i64,
    pub __unused2: u64,
    pub sem_nsems: u64,
    pub __unused3: u64,
    pub __unused4: u64,
}
assert_eq_size!(Semid64Ds, [u8; 104]);
const_assert_eq!(core::mem::offset_of!(Semid64Ds, sem_nsems), 80);

/// `struct sembuf`: one operation of `semop(2)`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sembuf {
    pub sem_num: u16,
    pub sem_op: i16,
    pub sem_flg: i16,
}
assert_eq_size!(Sembuf, [u8; 6]);

/// `struct seminfo` (`IPC_INFO`, `SEM_INFO`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Seminfo {
    pub semmap: i32,
    pub semmni: i32,
    pub semmns: i32,
    pub semmnu: i32,
    pub semmsl: i32,
    pub semopm: i32,
    pub semume: i32,
    pub semusz: i32,
    pub semvmx: i32,
    pub semaem: i32,
}
assert_eq_size!(Seminfo, [u8; 40]);

/// `struct msqid64_ds` (x86-64 `asm-generic/msgbuf.h`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Msqid64Ds {
    pub msg_perm: Ipc64Perm,
    pub msg_stime: i64,
    pub msg_rtime: i64,
    pub msg_ctime: i64,
    pub msg_cbytes: u64,
    pub msg_qnum: u64,
    pub msg_qbytes: u64,
    pub msg_lspid: i32,
    pub msg_lrpid: i32,
    pub __unused4: u64,
    pub __unused5: u64,
}
assert_eq_size!(Msqid64Ds, [u8; 120]);
const_assert_eq!(core::mem::offset_of!(Msqid64Ds, msg_qbytes), 88);
const_assert_eq!(core::mem::offset_of!(Msqid64Ds, msg_lspid), 96);

/// `struct msginfo` (`IPC_INFO`, `MSG_INFO`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Msginfo {
    pub msgpool: i32,
    pub msgmap: i32,
    pub msgmax: i32,
    pub msgmnb: i32,
    pub msgmni: i32,
    pub msgssz: i32,
    pub msgtql: i32,
    pub msgseg: u16,
    pub __pad: u16,
}
assert_eq_size!(Msginfo, [u8; 32]);
const_assert_eq!(core::mem::offset_of!(Msginfo, msgseg), 28);

crate::impl_pod!(
    Ipc64Perm, Shmid64Ds, Shminfo64, ShmInfo, Semid64Ds, Sembuf, Seminfo, Msqid64Ds, Msginfo
);
