//! A process's resource limits (`getrlimit(2)`, `setrlimit(2)`, `prlimit64(2)`): kept per
//! process in its `TgState`, copied by fork, kept by execve.
//!
//! Every limit is stored as set; the Sentry enforces RLIMIT_NOFILE (fd allocation in
//! `vfs/fdtable.rs`, poll's entry count), RLIMIT_FSIZE (writes, truncates and fallocate of
//! regular files: [`fsize_check`]), RLIMIT_AS (mmap, brk and mremap: `syscalls/mmap.rs`;
//! a stack growing on a fault is not counted) and RLIMIT_MSGQUEUE (the bytes a user's
//! message queues reserve: `vfs/mqueue`). The others report what was set: the
//! sandbox's own bounds (its task limit, the stack size) apply whatever they say.
//!
//! Defaults: RLIMIT_NOFILE soft 1024, hard 2^20 (Docker's and systemd's soft limit; the hard
//! one is Linux's default `fs.nr_open`, the most it can be); RLIMIT_STACK 8 MiB; RLIMIT_NPROC
//! the sandbox's task limit; RLIMIT_MEMLOCK 8 MiB; RLIMIT_MSGQUEUE 800 KiB (Linux's
//! `MQ_BYTES_MAX`); RLIMIT_CORE 0 (the sandbox never dumps core); RLIMIT_NICE and
//! RLIMIT_RTPRIO 0 (Linux's: raising a priority needs privilege, `syscalls/sched.rs`); the
//! rest unlimited.

use snare_abi::file::{
    Rlimit, NR_OPEN, RLIMIT_CORE, RLIMIT_MEMLOCK, RLIMIT_MSGQUEUE, RLIMIT_NICE, RLIMIT_NOFILE,
    RLIMIT_NPROC, RLIMIT_RTPRIO, RLIMIT_STACK, RLIM_INFINITY, RLIM_NLIMITS,
};
use snare_abi::mqueue::MQ_BYTES_MAX;
use snare_abi::Errno;

use super::process::MAX_TASKS;
use super::Task;

/// RLIMIT_FSIZE (Linux's `generic_write_check_limits` and `inode_newsize_ok`): how many of
/// `count` bytes `task` may write to a regular file at `pos`; a write starting at or past
/// the soft limit, or a truncate or fallocate (`count` 0, `pos` the new size) past it,
/// raises SIGXFSZ and fails with EFBIG, and a write crossing it is cut short there.
pub fn fsize_check(task: &Task, pos: u64, count: u64) -> Result<u64, Errno> {
    let Some(limit) = soft_limit(task, snare_abi::file::RLIMIT_FSIZE) else {
        return Ok(count);
    };
    if pos >= limit && (count > 0 || pos > limit) {
        let uid = task.tg().state().creds.ruid;
        let info = super::signal::user_info(
            snare_abi::signal::SIGXFSZ,
            snare_abi::signal::SI_USER,
            task.tgid(),
            uid,
        );
        super::signal::send_to_task(&task.handle, info);
        return Err(Errno::EFBIG);
    }
    Ok(count.min(limit - pos))
}

/// `task`'s soft limit of `resource`, if finite (callers skip their counting when not).
pub fn soft_limit(task: &Task, resource: u32) -> Option<u64> {
    let cur = task.tg().state().rlimits.get(resource).ok()?.rlim_cur;
    (cur != RLIM_INFINITY).then_some(cur)
}

/// RLIMIT_NOFILE's default soft limit.
pub const NOFILE_SOFT: u64 = 1024;

/// The limits of one process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rlimits([Rlimit; RLIM_NLIMITS as usize]);

impl Default for Rlimits {
    fn default() -> Rlimits {
        let mut l = [Rlimit {
            rlim_cur: RLIM_INFINITY,
            rlim_max: RLIM_INFINITY,
        }; RLIM_NLIMITS as usize];
        let mut set = |r: u32, cur: u64, max: u64| {
            l[r as usize] = Rlimit {
                rlim_cur: cur,
                rlim_max: max,
            }
        };
        set(RLIMIT_STACK, crate::mm::STACK_LIMIT, RLIM_INFINITY);
        set(RLIMIT_NOFILE, NOFILE_SOFT, NR_OPEN);
        set(RLIMIT_NPROC, MAX_TASKS as u64, MAX_TASKS as u64);
        set(RLIMIT_MEMLOCK, 8 << 20, 8 << 20);
        set(RLIMIT_CORE, 0, RLIM_INFINITY);
        set(RLIMIT_MSGQUEUE, MQ_BYTES_MAX, MQ_BYTES_MAX);
        set(RLIMIT_NICE, 0, 0);
        set(RLIMIT_RTPRIO, 0, 0);
        Rlimits(l)
    }
}

impl Rlimits {
    /// The limits of `resource`: EINVAL for an unknown one.
    pub fn get(&self, resource: u32) -> Result<Rlimit, Errno> {
        self.0.get(resource as usize).copied().ok_or(Errno::EINVAL)
    }

    /// Sets `resource`'s limits, as Linux's `do_prlimit`: EINVAL if the soft limit exceeds
    /// the hard one (or the resource is unknown); raising the hard limit needs
    /// CAP_SYS_RESOURCE (`privileged`), else EPERM; RLIMIT_NOFILE can't go past
    /// [`NR_OPEN`] (EPERM). Returns the old limits.
    pub fn set(&mut self, resource: u32, new: Rlimit, privileged: bool) -> Result<Rlimit, Errno> {
        let old = self.get(resource)?;
        if new.rlim_cur > new.rlim_max {
            return Err(Errno::EINVAL);
        }
        if resource == RLIMIT_NOFILE && new.rlim_max > NR_OPEN {
            return Err(Errno::EPERM);
        }
        if new.rlim_max > old.rlim_max && !privileged {
            return Err(Errno::EPERM);
        }
        self.0[resource as usize] = new;
        Ok(old)
    }

    /// The RLIMIT_NOFILE soft limit as an fd bound (fds must be below it).
    pub fn nofile(&self) -> i32 {
        i32::try_from(self.0[RLIMIT_NOFILE as usize].rlim_cur).unwrap_or(i32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim(cur: u64, max: u64) -> Rlimit {
        Rlimit {
            rlim_cur: cur,
            rlim_max: max,
        }
    }

    #[test]
    fn nofile_follows_linux_rules() {
        let mut l = Rlimits::default();
        assert_eq!(l.nofile(), 1024);
        // The soft limit moves freely below the hard one.
        assert_eq!(
            l.set(RLIMIT_NOFILE, lim(256, NR_OPEN), false),
            Ok(lim(1024, NR_OPEN))
        );
        assert_eq!(l.nofile(), 256);
        assert_eq!(
            l.set(RLIMIT_NOFILE, lim(NR_OPEN, NR_OPEN), false)
                .map(|_| ()),
            Ok(())
        );
        assert_eq!(l.set(RLIMIT_NOFILE, lim(10, 5), true), Err(Errno::EINVAL));
        assert_eq!(
            l.set(RLIMIT_NOFILE, lim(5, NR_OPEN + 1), true),
            Err(Errno::EPERM)
        );
        // Lowering the hard limit is for everyone, raising it back for the privileged.
        assert!(l.set(RLIMIT_NOFILE, lim(100, 200), false).is_ok());
        assert_eq!(
            l.set(RLIMIT_NOFILE, lim(100, 300), false),
            Err(Errno::EPERM)
        );
        assert!(l.set(RLIMIT_NOFILE, lim(100, 300), true).is_ok());
        assert_eq!(l.get(RLIMIT_NOFILE), Ok(lim(100, 300)));
        assert_eq!(l.get(16), Err(Errno::EINVAL));
        assert_eq!(l.set(99, lim(1, 1), true), Err(Errno::EINVAL));
        // A soft limit past i32 is no bound at all.
        assert!(l
            .set(RLIMIT_CORE, lim(RLIM_INFINITY, RLIM_INFINITY), false)
            .is_ok());
    }
}
