//! POSIX message queues' ABI: `struct mq_attr` and the limits of `<linux/mqueue.h>` and
//! `ipc/mqueue.c` (the defaults of `/proc/sys/fs/mqueue`).

use static_assertions::{assert_eq_size, const_assert_eq};

/// Priorities are `0..MQ_PRIO_MAX`.
pub const MQ_PRIO_MAX: u32 = 32768;
/// `fs.mqueue.msg_default` and `msg_max`: a queue's messages, by default and at most for
/// a caller without CAP_SYS_RESOURCE.
pub const DFLT_MSGMAX: i64 = 10;
/// `fs.mqueue.msgsize_default` and `msgsize_max`: a message's bytes, likewise.
pub const DFLT_MSGSIZEMAX: i64 = 8192;
/// `fs.mqueue.queues_max`: queues a caller without CAP_SYS_RESOURCE may make.
pub const DFLT_QUEUESMAX: usize = 256;
/// What even a privileged caller may ask of one queue.
pub const HARD_MSGMAX: i64 = 65536;
pub const HARD_MSGSIZEMAX: i64 = 16 << 20;
/// The default `RLIMIT_MSGQUEUE` (`MQ_BYTES_MAX`): bytes a user's queues may reserve.
pub const MQ_BYTES_MAX: u64 = 819_200;
/// What one queued message and one priority node count for in that reservation
/// (`sizeof(struct msg_msg)` and `sizeof(struct posix_msg_tree_node)` on x86-64).
pub const MSG_MSG_SIZE: u64 = 48;
pub const TREE_NODE_SIZE: u64 = 48;
/// The cookie a `SIGEV_THREAD` notification carries (`NOTIFY_COOKIE_LEN`).
pub const NOTIFY_COOKIE_LEN: usize = 32;
/// `i_size` of a queue's file: the most its status line can be (`FILENT_SIZE`).
pub const FILENT_SIZE: i64 = 80;
/// `f_type` of the mqueue filesystem (`MQUEUE_MAGIC`).
pub const MQUEUE_MAGIC: i64 = 0x1980_0202;

/// `struct mq_attr` (`<linux/mqueue.h>`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MqAttr {
    pub mq_flags: i64,
    pub mq_maxmsg: i64,
    pub mq_msgsize: i64,
    pub mq_curmsgs: i64,
    pub __reserved: [i64; 4],
}
assert_eq_size!(MqAttr, [u8; 64]);
const_assert_eq!(core::mem::offset_of!(MqAttr, mq_curmsgs), 24);

crate::impl_pod!(MqAttr);
