//! POSIX message queues: mq_open, mq_unlink, mq_timedsend, mq_timedreceive, mq_notify,
//! mq_getsetattr. Decodes and checks the guest's words in Linux's order, then calls the
//! sandbox-wide namespace in `vfs/mqueue`.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use snare_abi::file::{o, Timespec, RLIMIT_MSGQUEUE};
use snare_abi::mqueue::{MqAttr, MQ_PRIO_MAX, NOTIFY_COOKIE_LEN};
use snare_abi::signal::{Sigevent, SIGEV_NONE, SIGEV_SIGNAL, SIGEV_THREAD, SIGRTMAX};
use snare_abi::{Errno, SigInfo};
use snare_syscalls_table::nr;

use super::arg::{fd, u32_};
use super::Handler;
use crate::kernel::process::ThreadGroup;
use crate::kernel::rlimits::soft_limit;
use crate::kernel::Task;
use crate::mm::GuestMemory;
use crate::vfs::filesystem::Caller;
use crate::vfs::mqueue::{self, Creator, MqFile, Notify, NotifyOwner};
use crate::vfs::resolve::PATH_MAX;

pub(super) const HANDLERS: &[(u32, Handler)] = &[
    (nr::MQ_OPEN, sys_mq_open),
    (nr::MQ_UNLINK, sys_mq_unlink),
    (nr::MQ_TIMEDSEND, sys_mq_timedsend),
    (nr::MQ_TIMEDRECEIVE, sys_mq_timedreceive),
    (nr::MQ_NOTIFY, sys_mq_notify),
    (nr::MQ_GETSETATTR, sys_mq_getsetattr),
];

/// A queue name argument, as Linux's `getname` then `lookup_one_len` take it: `EFAULT`,
/// `ENAMETOOLONG` past `PATH_MAX`, `ENOENT` when empty, then [`mqueue::check_name`].
fn name_arg(task: &Task, addr: u64) -> Result<Vec<u8>, Errno> {
    let name = task.mm.read_cstr(addr, PATH_MAX).map_err(|e| {
        if e == Errno::ENAMETOOLONG {
            e
        } else {
            Errno::EFAULT
        }
    })?;
    if name.is_empty() {
        return Err(Errno::ENOENT);
    }
    mqueue::check_name(&name)?;
    Ok(name)
}

/// The open queue behind `fd`: `EBADF` for other files.
fn mq_file(task: &Task, n: i32) -> Result<Arc<dyn crate::vfs::FileDescription>, Errno> {
    let f = task.fds.get(n)?;
    if (*f).as_any().downcast_ref::<MqFile>().is_none() {
        return Err(Errno::EBADF);
    }
    Ok(f)
}

fn as_mq(f: &Arc<dyn crate::vfs::FileDescription>) -> Result<&MqFile, Errno> {
    (**f).as_any().downcast_ref::<MqFile>().ok_or(Errno::EBADF)
}

/// An absolute `CLOCK_REALTIME` timeout (`NULL`: none) as a deadline: `EFAULT`, `EINVAL`
/// unless normalized and non-negative; one already past is now.
fn deadline(task: &Task, addr: u64) -> Result<Option<Instant>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    let t: Timespec = task.mm.read_val(addr)?;
    if t.tv_sec < 0 || !(0..1_000_000_000).contains(&t.tv_nsec) {
        return Err(Errno::EINVAL);
    }
    let at = Duration::new(t.tv_sec as u64, t.tv_nsec as u32);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    // Too far off to represent: no deadline at all.
    Ok(Instant::now().checked_add(at.saturating_sub(now)))
}

/// Implements `mq_open(2)` (the name without glibc's leading slash). Every queue fd is
/// close-on-exec, as Linux's; flags other than the access mode, `O_CREAT`, `O_EXCL` and
/// `O_NONBLOCK` are ignored, as Linux does. Limits and their errors: `vfs/mqueue`.
fn sys_mq_open(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let attr: Option<MqAttr> = match a[3] {
        0 => None,
        addr => Some(task.mm.read_val(addr)?),
    };
    let name = name_arg(task, a[0])?;
    let flags = u32_(a[1]);
    task.fds.check_room(task.nofile())?;
    let creds = task.tg().state().creds.clone();
    let c = Creator {
        cred: task.cred(),
        ruid: creds.ruid,
        rlimit: soft_limit(task, RLIMIT_MSGQUEUE),
        privileged: creds.capable(snare_abi::caps::Cap::SysResource),
        umask: task.fs.umask(),
    };
    let file = mqueue::open(&name, flags, u32_(a[2]), attr.as_ref(), &c)?;
    task.fds
        .install(file, true, 0, task.nofile())
        .map(|n| n as u64)
}

/// Implements `mq_unlink(2)`: only the queue's owner (or root) may (`EPERM`, which glibc
/// turns into `EACCES`).
fn sys_mq_unlink(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let name = name_arg(task, a[0])?;
    mqueue::unlink(&name, Some(&task.cred()))?;
    Ok(0)
}

/// Implements `mq_timedsend(2)`: `EINVAL` for a priority of `MQ_PRIO_MAX` or more, `EBADF`
/// unless open for writing, `EMSGSIZE`, `EAGAIN` with `O_NONBLOCK`, `ETIMEDOUT`; a signal
/// interrupts the wait (restarted under `SA_RESTART`, as Linux).
fn sys_mq_timedsend(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let when = deadline(task, a[4])?;
    let prio = u32_(a[3]);
    if a[3] >= u64::from(MQ_PRIO_MAX) {
        return Err(Errno::EINVAL);
    }
    let f = mq_file(task, fd(a[0]))?;
    let q = as_mq(&f)?;
    // Any length past the queue's message size (at most 16 MiB) is EMSGSIZE.
    let n = usize::try_from(a[2]).unwrap_or(usize::MAX);
    q.check_send(n)?;
    let mut msg = vec![0u8; n];
    task.mm.read(a[1], &mut msg)?;
    let sender = (task.tgid(), task.tg().state().creds.ruid);
    q.send(msg, prio, when, sender)?;
    Ok(0)
}

/// Implements `mq_timedreceive(2)`: `EBADF` unless open for reading, `EMSGSIZE` for a
/// buffer shorter than the queue's message size, `EAGAIN`, `ETIMEDOUT`, interrupted as
/// `mq_timedsend`. A message taken but not copied out (`EFAULT`) is lost, as on Linux.
fn sys_mq_timedreceive(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let when = deadline(task, a[4])?;
    let f = mq_file(task, fd(a[0]))?;
    let q = as_mq(&f)?;
    let n = usize::try_from(a[2]).unwrap_or(usize::MAX);
    let (msg, prio) = q.receive(n, when)?;
    if a[3] != 0 {
        task.mm.write(a[3], &prio.to_ne_bytes())?;
    }
    task.mm.write(a[1], &msg)?;
    Ok(msg.len() as u64)
}

/// The process a notification goes to.
struct Owner {
    tgid: i32,
    tg: Weak<ThreadGroup>,
}

impl std::fmt::Debug for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Owner").field("tgid", &self.tgid).finish()
    }
}

impl NotifyOwner for Owner {
    fn tgid(&self) -> i32 {
        self.tgid
    }

    fn alive(&self) -> bool {
        self.tg.upgrade().is_some_and(|tg| {
            let st = tg.state();
            st.zombie.is_none() && st.group_exit.is_none()
        })
    }

    fn signal(&self, info: SigInfo) {
        if let Some(tg) = self.tg.upgrade() {
            crate::kernel::signal::send_to_group(&tg, info);
        }
    }
}

/// Implements `mq_notify(2)`: `SIGEV_SIGNAL` (signal 0 registers but sends nothing, as
/// Linux), `SIGEV_NONE`, `NULL` to unregister; `EBUSY` while another registration holds
/// (even the caller's own). `SIGEV_THREAD` needs a netlink socket in `sigev_signo`, and
/// the Sentry has no sockets: after the cookie is read (`EFAULT`) and the fd looked up
/// (`EBADF`), it is `ENOTSOCK` (glibc, whose `SIGEV_THREAD` opens that socket first, says
/// `ENOSYS`).
fn sys_mq_notify(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let how = match a[1] {
        0 => None,
        addr => {
            let ev: Sigevent = task.mm.read_val(addr)?;
            Some(match ev.sigev_notify {
                SIGEV_NONE => Notify::None,
                SIGEV_SIGNAL if (0..=SIGRTMAX).contains(&ev.sigev_signo) => Notify::Signal {
                    signo: ev.sigev_signo,
                    value: ev.sigev_value,
                },
                SIGEV_THREAD => {
                    let mut cookie = [0u8; NOTIFY_COOKIE_LEN];
                    task.mm.read(ev.sigev_value, &mut cookie)?;
                    task.fds.get(ev.sigev_signo)?;
                    return Err(Errno::ENOTSOCK);
                }
                _ => return Err(Errno::EINVAL),
            })
        }
    };
    let f = mq_file(task, fd(a[0]))?;
    let owner = Arc::new(Owner {
        tgid: task.tgid(),
        tg: Arc::downgrade(task.tg()),
    });
    as_mq(&f)?.notify(owner, how)?;
    Ok(0)
}

/// Implements `mq_getsetattr(2)`: `mq_flags` of the new attributes may hold only
/// `O_NONBLOCK` (`EINVAL`); the other fields are ignored, as Linux.
fn sys_mq_getsetattr(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let new = match a[1] {
        0 => None,
        addr => Some(task.mm.read_val::<MqAttr>(addr)?.mq_flags),
    };
    if new.is_some_and(|f| f & !i64::from(o::NONBLOCK) != 0) {
        return Err(Errno::EINVAL);
    }
    let f = mq_file(task, fd(a[0]))?;
    let old = as_mq(&f)?.getsetattr(new);
    if a[2] != 0 {
        task.mm.write(a[2], snare_abi::pod::as_bytes(&old))?;
    }
    Ok(0)
}
