//! Scheduling, priorities and the small per-task calls: `sched_*` policies and
//! `struct sched_attr` (`<uapi/linux/sched.h>`, `<uapi/linux/sched/types.h>`),
//! `getpriority`'s selectors, I/O priorities (`<uapi/linux/ioprio.h>`), memory locking
//! (`<asm-generic/mman-common.h>`), `membarrier` (`<uapi/linux/membarrier.h>`), `kcmp`
//! (`<uapi/linux/kcmp.h>`), `personality` (`<uapi/linux/personality.h>`) and
//! `struct __kernel_timex` (`<uapi/linux/timex.h>`).

use static_assertions::{assert_eq_size, const_assert_eq};

pub const SCHED_NORMAL: u32 = 0;
pub const SCHED_FIFO: u32 = 1;
pub const SCHED_RR: u32 = 2;
pub const SCHED_BATCH: u32 = 3;
pub const SCHED_IDLE: u32 = 5;
pub const SCHED_DEADLINE: u32 = 6;
/// Or-ed into `sched_setscheduler`'s policy: the child of a fork starts as SCHED_NORMAL.
pub const SCHED_RESET_ON_FORK: u32 = 0x4000_0000;

/// `sched_attr.sched_flags`.
pub const SCHED_FLAG_RESET_ON_FORK: u64 = 0x01;
pub const SCHED_FLAG_RECLAIM: u64 = 0x02;
pub const SCHED_FLAG_DL_OVERRUN: u64 = 0x04;
pub const SCHED_FLAG_KEEP_POLICY: u64 = 0x08;
pub const SCHED_FLAG_KEEP_PARAMS: u64 = 0x10;
pub const SCHED_FLAG_UTIL_CLAMP_MIN: u64 = 0x20;
pub const SCHED_FLAG_UTIL_CLAMP_MAX: u64 = 0x40;
pub const SCHED_FLAG_UTIL_CLAMP: u64 = SCHED_FLAG_UTIL_CLAMP_MIN | SCHED_FLAG_UTIL_CLAMP_MAX;
pub const SCHED_FLAG_ALL: u64 = 0x7f;
/// `sched_attr`'s first published size (no utilization clamps).
pub const SCHED_ATTR_SIZE_VER0: u32 = 48;
/// Highest real-time priority plus one (`MAX_RT_PRIO`).
pub const MAX_RT_PRIO: u32 = 100;
/// The range of nice values.
pub const MIN_NICE: i32 = -20;
pub const MAX_NICE: i32 = 19;
/// Largest utilization clamp (`SCHED_CAPACITY_SCALE`).
pub const SCHED_CAPACITY_SCALE: u32 = 1024;

/// `struct sched_param`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedParam {
    pub sched_priority: i32,
}
assert_eq_size!(SchedParam, [u8; 4]);

/// `struct sched_attr` (SCHED_ATTR_SIZE_VER1).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedAttr {
    pub size: u32,
    pub sched_policy: u32,
    pub sched_flags: u64,
    pub sched_nice: i32,
    pub sched_priority: u32,
    pub sched_runtime: u64,
    pub sched_deadline: u64,
    pub sched_period: u64,
    pub sched_util_min: u32,
    pub sched_util_max: u32,
}
assert_eq_size!(SchedAttr, [u8; 56]);
const_assert_eq!(core::mem::offset_of!(SchedAttr, sched_nice), 16);
const_assert_eq!(core::mem::offset_of!(SchedAttr, sched_runtime), 24);
const_assert_eq!(core::mem::offset_of!(SchedAttr, sched_util_min), 48);

/// `getpriority(2)`'s `which`.
pub const PRIO_PROCESS: u32 = 0;
pub const PRIO_PGRP: u32 = 1;
pub const PRIO_USER: u32 = 2;

/// `ioprio_set(2)`'s `which`.
pub const IOPRIO_WHO_PROCESS: u32 = 1;
pub const IOPRIO_WHO_PGRP: u32 = 2;
pub const IOPRIO_WHO_USER: u32 = 3;
/// I/O priority classes (`ioprio >> IOPRIO_CLASS_SHIFT`, three bits).
pub const IOPRIO_CLASS_NONE: u32 = 0;
pub const IOPRIO_CLASS_RT: u32 = 1;
pub const IOPRIO_CLASS_BE: u32 = 2;
pub const IOPRIO_CLASS_IDLE: u32 = 3;
pub const IOPRIO_CLASS_SHIFT: u32 = 13;
/// The level's bits (the ten bits between level and class are hints).
pub const IOPRIO_LEVEL_MASK: u32 = 0x7;
/// The best-effort level a task without a class of its own counts as (`IOPRIO_BE_NORM`).
pub const IOPRIO_BE_NORM: u32 = 4;

/// `mlock2(2)`'s flag and `mlockall(2)`'s.
pub const MLOCK_ONFAULT: u32 = 0x01;
pub const MCL_CURRENT: u32 = 1;
pub const MCL_FUTURE: u32 = 2;
pub const MCL_ONFAULT: u32 = 4;

/// `membarrier(2)` commands (each a bit, as `MEMBARRIER_CMD_QUERY` reports them).
pub const MEMBARRIER_CMD_QUERY: u32 = 0;
pub const MEMBARRIER_CMD_GLOBAL: u32 = 1 << 0;
pub const MEMBARRIER_CMD_GLOBAL_EXPEDITED: u32 = 1 << 1;
pub const MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED: u32 = 1 << 2;
pub const MEMBARRIER_CMD_PRIVATE_EXPEDITED: u32 = 1 << 3;
pub const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: u32 = 1 << 4;
pub const MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE: u32 = 1 << 5;
pub const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE: u32 = 1 << 6;
pub const MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ: u32 = 1 << 7;
pub const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ: u32 = 1 << 8;
pub const MEMBARRIER_CMD_GET_REGISTRATIONS: u32 = 1 << 9;
/// `membarrier(2)`'s flag: the RSEQ command targets one CPU.
pub const MEMBARRIER_CMD_FLAG_CPU: u32 = 1;

/// `kcmp(2)`'s types.
pub const KCMP_FILE: u32 = 0;
pub const KCMP_VM: u32 = 1;
pub const KCMP_FILES: u32 = 2;
pub const KCMP_FS: u32 = 3;
pub const KCMP_SIGHAND: u32 = 4;
pub const KCMP_IO: u32 = 5;
pub const KCMP_SYSVSEM: u32 = 6;
pub const KCMP_EPOLL_TFD: u32 = 7;

/// `personality(2)`: the query value, and the bits the Sentry looks at.
pub const PERSONALITY_QUERY: u32 = 0xffff_ffff;
pub const PER_LINUX32: u32 = 0x0008;
/// The personality proper (the low byte); the rest are flags.
pub const PER_MASK: u32 = 0x00ff;
pub const ADDR_NO_RANDOMIZE: u32 = 0x0004_0000;
pub const READ_IMPLIES_EXEC: u32 = 0x0040_0000;

/// `struct __kernel_timex` (`adjtimex(2)`, `clock_adjtime(2)`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timex {
    pub modes: u32,
    pub _pad0: u32,
    pub offset: i64,
    pub freq: i64,
    pub maxerror: i64,
    pub esterror: i64,
    pub status: i32,
    pub _pad1: u32,
    pub constant: i64,
    pub precision: i64,
    pub tolerance: i64,
    pub time_sec: i64,
    pub time_usec: i64,
    pub tick: i64,
    pub ppsfreq: i64,
    pub jitter: i64,
    pub shift: i32,
    pub _pad2: u32,
    pub stabil: i64,
    pub jitcnt: i64,
    pub calcnt: i64,
    pub errcnt: i64,
    pub stbcnt: i64,
    pub tai: i32,
    pub _pad3: [u32; 11],
}
assert_eq_size!(Timex, [u8; 208]);
const_assert_eq!(core::mem::offset_of!(Timex, status), 40);
const_assert_eq!(core::mem::offset_of!(Timex, time_sec), 72);
const_assert_eq!(core::mem::offset_of!(Timex, tick), 88);
const_assert_eq!(core::mem::offset_of!(Timex, shift), 112);
const_assert_eq!(core::mem::offset_of!(Timex, tai), 160);

/// `adjtimex(2)` modes: a single-shot offset adjustment (`ADJ_OFFSET_SINGLESHOT` sets
/// both bits), and its read-only form's extra bit (`ADJ_OFFSET_SS_READ`).
pub const ADJ_ADJTIME: u32 = 0x8000;
pub const ADJ_OFFSET: u32 = 0x0001;
pub const ADJ_OFFSET_READONLY: u32 = 0x2000;
pub const ADJ_TICK: u32 = 0x4000;
/// `timex.status`: the clock is not synchronized.
pub const STA_UNSYNC: i32 = 0x0040;
/// `adjtimex`'s answer when the clock is not synchronized.
pub const TIME_ERROR: u64 = 5;

crate::impl_pod!(SchedParam, SchedAttr, Timex);
