//! A thread's scheduling attributes as Linux keeps them per task: nice value, policy and
//! real-time priority (`sched_setscheduler(2)`, `sched_setattr(2)`), CPU affinity, I/O
//! priority and personality. They live in the thread's [`super::process::TaskHandle`] (other
//! threads read and set them by tid), are copied by clone (with `SCHED_RESET_ON_FORK`'s
//! reset) and kept by execve.
//!
//! They are bookkeeping only: the Sentry neither renices, reschedules nor pins the host
//! threads that run guest code, so a guest's priorities and affinity change what it is told,
//! not how the host runs it. The CPUs a mask may name are the sandbox's: those the host lets
//! the Sentry use ([`cpus`]).

use std::sync::LazyLock;

use snare_abi::sched::{
    SCHED_BATCH, SCHED_DEADLINE, SCHED_FIFO, SCHED_IDLE, SCHED_NORMAL, SCHED_RR,
};
use snare_platform::HostCpus;

/// The sandbox's CPUs, read from the host once.
pub fn cpus() -> &'static HostCpus {
    static CPUS: LazyLock<HostCpus> = LazyLock::new(snare_platform::host_cpus);
    &CPUS
}

/// A set of CPUs, 64 a word (the guest's `cpu_set_t` layout).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CpuSet(pub Vec<u64>);

impl CpuSet {
    /// Every CPU of the sandbox.
    pub fn all() -> CpuSet {
        CpuSet(cpus().mask.clone())
    }

    /// The guest's mask from its bytes (little-endian words), only the CPUs of the sandbox
    /// kept.
    pub fn from_guest(bytes: &[u8]) -> CpuSet {
        let all = &cpus().mask;
        let words = all
            .iter()
            .enumerate()
            .map(|(i, &a)| {
                let mut w = [0u8; 8];
                let start = (i * 8).min(bytes.len());
                let end = (i * 8 + 8).min(bytes.len());
                w[..end - start].copy_from_slice(&bytes[start..end]);
                u64::from_le_bytes(w) & a
            })
            .collect();
        CpuSet(words)
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&w| w == 0)
    }

    /// How many CPUs are in the set.
    pub fn count(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }

    /// The lowest CPU in the set (0 if none).
    pub fn first(&self) -> u32 {
        self.0
            .iter()
            .enumerate()
            .find(|(_, &w)| w != 0)
            .map_or(0, |(i, w)| i as u32 * 64 + w.trailing_zeros())
    }

    /// The mask as `len` guest bytes (zeros past the sandbox's CPUs).
    pub fn to_guest(&self, len: usize) -> Vec<u8> {
        let mut out: Vec<u8> = self.0.iter().flat_map(|w| w.to_le_bytes()).collect();
        out.resize(len, 0);
        out
    }

    /// The CPU numbers, for `/proc`.
    pub fn list(&self) -> Vec<u32> {
        (0..self.0.len() as u32 * 64)
            .filter(|&c| self.0[(c / 64) as usize] & (1 << (c % 64)) != 0)
            .collect()
    }
}

/// Whether `policy` is one `sched_setscheduler` accepts.
pub fn valid_policy(policy: u32) -> bool {
    matches!(
        policy,
        SCHED_NORMAL | SCHED_FIFO | SCHED_RR | SCHED_BATCH | SCHED_IDLE | SCHED_DEADLINE
    )
}

/// SCHED_FIFO or SCHED_RR.
pub fn rt_policy(policy: u32) -> bool {
    policy == SCHED_FIFO || policy == SCHED_RR
}

/// The policies whose tasks have a nice value (Linux's `fair_policy`).
pub fn fair_policy(policy: u32) -> bool {
    policy == SCHED_NORMAL || policy == SCHED_BATCH
}

/// SCHED_DEADLINE's parameters, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Deadline {
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
    /// SCHED_FLAG_RECLAIM and SCHED_FLAG_DL_OVERRUN as set.
    pub flags: u64,
}

/// One thread's scheduling attributes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchedAttrs {
    /// -20..=19.
    pub nice: i32,
    pub policy: u32,
    /// 1..=99 under SCHED_FIFO and SCHED_RR, else 0.
    pub rt_priority: u32,
    /// SCHED_RESET_ON_FORK: a child starts with the default policy.
    pub reset_on_fork: bool,
    pub deadline: Deadline,
    /// Utilization clamps (`sched_util_min`, `sched_util_max`).
    pub util: (u32, u32),
    pub affinity: CpuSet,
    /// `ioprio_set(2)`'s value (class, hint and level bits), as Linux keeps it (16 bits).
    pub ioprio: u16,
    /// `personality(2)`.
    pub personality: u32,
}

impl Default for SchedAttrs {
    fn default() -> SchedAttrs {
        SchedAttrs {
            nice: 0,
            policy: SCHED_NORMAL,
            rt_priority: 0,
            reset_on_fork: false,
            deadline: Deadline::default(),
            util: (0, snare_abi::sched::SCHED_CAPACITY_SCALE),
            affinity: CpuSet::all(),
            ioprio: 0,
            personality: 0,
        }
    }
}

impl SchedAttrs {
    /// What a clone of this thread starts with (Linux's `sched_fork`): everything, except
    /// that SCHED_RESET_ON_FORK puts a real-time or deadline child back to SCHED_NORMAL
    /// at nice 0 (any other child keeps its policy, with a negative nice back to 0), and
    /// clears itself in the child.
    pub fn for_child(&self) -> SchedAttrs {
        let mut c = self.clone();
        if c.reset_on_fork {
            if rt_policy(c.policy) || c.policy == SCHED_DEADLINE {
                c.policy = SCHED_NORMAL;
                c.nice = 0;
                c.rt_priority = 0;
                c.deadline = Deadline::default();
            } else if c.nice < 0 {
                c.nice = 0;
            }
            c.reset_on_fork = false;
        }
        c
    }

    /// `/proc/PID/stat`'s priority: 20 + nice for the fair and idle policies, -1 - the
    /// real-time priority for SCHED_FIFO/RR, -101 for SCHED_DEADLINE (Linux's `task_prio`).
    pub fn proc_priority(&self) -> i32 {
        match self.policy {
            SCHED_DEADLINE => -101,
            p if rt_policy(p) => -1 - self.rt_priority as i32,
            _ => 20 + self.nice,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_on_fork_resets_as_linux() {
        let rt = SchedAttrs {
            policy: SCHED_FIFO,
            rt_priority: 10,
            nice: -5,
            reset_on_fork: true,
            ..SchedAttrs::default()
        };
        let c = rt.for_child();
        assert_eq!(
            (c.policy, c.rt_priority, c.nice, c.reset_on_fork),
            (0, 0, 0, false)
        );
        let batch = SchedAttrs {
            policy: SCHED_BATCH,
            nice: -3,
            reset_on_fork: true,
            ..SchedAttrs::default()
        };
        let c = batch.for_child();
        assert_eq!((c.policy, c.nice), (SCHED_BATCH, 0));
        let niced = SchedAttrs {
            nice: 7,
            ..SchedAttrs::default()
        };
        assert_eq!(niced.for_child(), niced, "no flag: a plain copy");
        assert_eq!(niced.proc_priority(), 27);
        assert_eq!(rt.proc_priority(), -11);
    }

    #[test]
    fn masks_keep_only_the_sandbox_cpus() {
        let all = CpuSet::all();
        assert!(!all.is_empty());
        let m = CpuSet::from_guest(&[0xff; 200]);
        assert_eq!(m, all);
        assert!(CpuSet::from_guest(&[]).is_empty());
        let g = all.to_guest(16);
        assert_eq!(g.len(), 16);
        assert_eq!(CpuSet::from_guest(&g), all);
        assert_eq!(all.list().len() as u32, all.count());
        assert_eq!(all.first(), all.list()[0]);
    }
}
