//! System V message queues: msgget, msgsnd, msgrcv, msgctl. Decodes and checks the
//! guest's words in Linux's order (a message's size before its text is read), then calls
//! the sandbox's IPC namespace (`kernel/ipc/msg.rs`).
//!
//! As Linux, flag bits these calls don't know are ignored (not `EINVAL`).

use snare_abi::ipc::{
    Msqid64Ds, IPC_INFO, IPC_NOWAIT, IPC_RMID, IPC_SET, IPC_STAT, MSG_COPY, MSG_EXCEPT, MSG_INFO,
    MSG_STAT, MSG_STAT_ANY,
};
use snare_abi::pod::as_bytes;
use snare_abi::Errno;
use snare_syscalls_table::nr;

use super::arg::{i32_, u32_};
use super::Handler;
use crate::kernel::ipc::msg::Select;
use crate::kernel::ipc::IpcCred;
use crate::kernel::Task;
use crate::mm::GuestMemory;

pub(super) const HANDLERS: &[(u32, Handler)] = &[
    (nr::MSGGET, sys_msgget),
    (nr::MSGSND, sys_msgsnd),
    (nr::MSGRCV, sys_msgrcv),
    (nr::MSGCTL, sys_msgctl),
];

/// `struct msgbuf`'s text follows its `long mtype`.
const MTEXT: u64 = 8;

/// Implements `msgget(2)`.
fn sys_msgget(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let c = IpcCred::of(task);
    task.k
        .ipc
        .msgget(i32_(a[0]), u32_(a[1]), &c)
        .map(|id| id as u64)
}

/// Implements `msgsnd(2)`: the type read first (`EFAULT`), then `EINVAL` for a size over
/// `msgmax` (or negative), a negative id, a type below 1; then the text (`EFAULT`). Waits
/// for room unless `IPC_NOWAIT` (`EAGAIN`); a signal ends the wait (`EINTR`, never
/// restarted after a handler), removal with `EIDRM`.
fn sys_msgsnd(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let id = i32_(a[0]);
    let msgp = a[1];
    let flags = u32_(a[3]);
    let mtype: i64 = task.mm.read_val(msgp)?;
    let ns = task.k.ipc.clone();
    let size = a[2];
    if size > u64::from(ns.limits().msgmax) || (size as i64) < 0 || id < 0 {
        return Err(Errno::EINVAL);
    }
    if mtype < 1 {
        return Err(Errno::EINVAL);
    }
    let mut text = vec![0u8; size as usize];
    task.mm
        .read(msgp.checked_add(MTEXT).ok_or(Errno::EFAULT)?, &mut text)?;
    let c = IpcCred::of(task);
    ns.msgsnd(id, mtype, text, flags & IPC_NOWAIT != 0, &c)
        .map(|()| 0)
}

/// Implements `msgrcv(2)`: `EINVAL` for a negative id or size, for `MSG_COPY` without
/// `IPC_NOWAIT` or with `MSG_EXCEPT`; `E2BIG` for a longer message without `MSG_NOERROR`;
/// `ENOMSG` with `IPC_NOWAIT`; waits as `msgsnd`. Returns the bytes of text stored.
fn sys_msgrcv(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let id = i32_(a[0]);
    let msgp = a[1];
    let size = a[2] as i64;
    let msgtyp = a[3] as i64;
    let flags = u32_(a[4]);
    if id < 0 || size < 0 {
        return Err(Errno::EINVAL);
    }
    let ns = task.k.ipc.clone();
    let mut bufsz = usize::try_from(size).unwrap_or(usize::MAX);
    if flags & MSG_COPY != 0 {
        if flags & MSG_EXCEPT != 0 || flags & IPC_NOWAIT == 0 {
            return Err(Errno::EINVAL);
        }
        bufsz = bufsz.min(ns.limits().msgmax as usize);
    }
    let c = IpcCred::of(task);
    let (mtype, text) = ns.msgrcv(id, bufsz, Select::of(msgtyp, flags), flags, &c)?;
    task.mm.write(msgp, &mtype.to_ne_bytes())?;
    task.mm
        .write(msgp.checked_add(MTEXT).ok_or(Errno::EFAULT)?, &text)?;
    Ok(text.len() as u64)
}

/// Implements `msgctl(2)`: `IPC_STAT`, `MSG_STAT`, `MSG_STAT_ANY`, `IPC_SET`, `IPC_RMID`,
/// `IPC_INFO`, `MSG_INFO`. `EINVAL` for a negative id or command, an unknown command
/// (`IPC_64` included).
fn sys_msgctl(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let id = i32_(a[0]);
    let cmd = i32_(a[1]);
    let buf = a[2];
    if id < 0 || cmd < 0 {
        return Err(Errno::EINVAL);
    }
    let c = IpcCred::of(task);
    let ns = task.k.ipc.clone();
    match cmd {
        IPC_INFO | MSG_INFO => {
            let (info, max) = ns.msg_info(cmd == MSG_INFO);
            task.mm.write(buf, as_bytes(&info))?;
            Ok(max as u64)
        }
        IPC_STAT | MSG_STAT | MSG_STAT_ANY => {
            let (ds, r) = ns.msg_stat(id, cmd != IPC_STAT, cmd == MSG_STAT_ANY, &c)?;
            task.mm.write(buf, as_bytes(&ds))?;
            Ok(r as u64)
        }
        IPC_SET => {
            let ds: Msqid64Ds = task.mm.read_val(buf)?;
            ns.msg_set(id, &ds, &c).map(|()| 0)
        }
        IPC_RMID => ns.msg_rmid(id, &c).map(|()| 0),
        _ => Err(Errno::EINVAL),
    }
}
