//! futex(2): waiters keyed by address, woken across threads and processes; the robust-list
//! walk and the CHILD_CLEARTID wake at thread exit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use snare_abi::file::Timespec;
use snare_abi::Errno;
use snare_syscalls_table::nr;

use super::arg::u32_;
use super::Handler;
use crate::kernel::process::lock;
use crate::kernel::wait::{self, Wake, Waker};
use crate::kernel::{Kernel, Task};
use crate::mm::{GuestMemory, MemoryManager};

pub(super) const HANDLERS: &[(u32, Handler)] = &[
    (nr::FUTEX, sys_futex),
    (nr::SET_ROBUST_LIST, sys_set_robust_list),
    (nr::GET_ROBUST_LIST, sys_get_robust_list),
];

const FUTEX_WAIT: u32 = 0;
const FUTEX_WAKE: u32 = 1;
const FUTEX_REQUEUE: u32 = 3;
const FUTEX_CMP_REQUEUE: u32 = 4;
const FUTEX_WAKE_OP: u32 = 5;
const FUTEX_WAIT_BITSET: u32 = 9;
const FUTEX_WAKE_BITSET: u32 = 10;
const FUTEX_PRIVATE_FLAG: u32 = 128;
const FUTEX_CLOCK_REALTIME: u32 = 256;
const FUTEX_BITSET_MATCH_ANY: u32 = !0;

const FUTEX_WAITERS: u32 = 0x8000_0000;
const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
const FUTEX_TID_MASK: u32 = 0x3fff_ffff;
/// Most robust-list entries walked at exit (Linux's ROBUST_LIST_LIMIT).
const ROBUST_LIST_LIMIT: usize = 2048;

/// What identifies a futex word: the address space and the address; in a MAP_SHARED
/// mapping, the memory-file offset (space 0), so processes sharing the memory meet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FutexKey {
    space: u64,
    addr: u64,
}

fn key(mm: &Arc<MemoryManager>, addr: u64) -> FutexKey {
    match mm.shared_offset(addr) {
        Some(off) => FutexKey {
            space: 0,
            addr: off,
        },
        None => FutexKey {
            space: Arc::as_ptr(mm) as u64,
            addr,
        },
    }
}

#[derive(Debug)]
struct Waiter {
    bitset: u32,
    woken: AtomicBool,
    waker: Arc<Waker>,
}

/// The sandbox's futex waiters.
#[derive(Debug, Default)]
pub struct FutexTable {
    queues: Mutex<HashMap<FutexKey, Vec<Arc<Waiter>>>>,
}

impl FutexTable {
    /// Wakes up to `n` waiters on `k` whose bitset meets `bitset`.
    fn wake(&self, k: FutexKey, n: u32, bitset: u32) -> u32 {
        let mut q = lock(&self.queues);
        let mut woken = 0;
        if let Some(list) = q.get_mut(&k) {
            list.retain(|w| {
                if woken < n && w.bitset & bitset != 0 {
                    woken += 1;
                    w.woken.store(true, Ordering::SeqCst);
                    w.waker.wake();
                    false
                } else {
                    true
                }
            });
            if list.is_empty() {
                q.remove(&k);
            }
        }
        woken
    }

    fn remove(&self, w: &Arc<Waiter>) {
        let mut q = lock(&self.queues);
        q.retain(|_, list| {
            list.retain(|x| !Arc::ptr_eq(x, w));
            !list.is_empty()
        });
    }
}

/// Wakes `n` waiters on `addr` in `mm` (CLONE_CHILD_CLEARTID at thread exit).
pub fn futex_wake(k: &Kernel, mm: &Arc<MemoryManager>, addr: u64, n: u32) {
    k.futexes.wake(key(mm, addr), n, FUTEX_BITSET_MATCH_ANY);
}

/// Walks the exiting thread's robust list: futexes it still holds get OWNER_DIED and a
/// waiter woken.
pub fn exit_robust_list(task: &Task) {
    let head = task.robust_list;
    if head == 0 {
        return;
    }
    let Ok(first) = task.mm.read_val::<u64>(head) else {
        return;
    };
    let Ok(offset) = task.mm.read_val::<i64>(head + 8) else {
        return;
    };
    let pending = task.mm.read_val::<u64>(head + 16).unwrap_or(0);
    let mut entry = first;
    let mut seen = 0;
    let handle = |e: u64| {
        let addr = e.wrapping_add(offset as u64);
        let Ok(word) = task.mm.read_val::<u32>(addr) else {
            return;
        };
        if word & FUTEX_TID_MASK == task.tid as u32 {
            let new = (word & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
            if task.mm.write(addr, &new.to_ne_bytes()).is_ok() && word & FUTEX_WAITERS != 0 {
                futex_wake(&task.k, &task.mm, addr, 1);
            }
        }
    };
    while entry != head && entry != 0 && seen < ROBUST_LIST_LIMIT {
        let next = task.mm.read_val::<u64>(entry).unwrap_or(0);
        if entry != pending {
            handle(entry & !1);
        }
        entry = next;
        seen += 1;
    }
    if pending != 0 {
        handle(pending & !1);
    }
}

fn deadline(task: &Task, ts_addr: u64, op: u32, absolute: bool) -> Result<Option<Instant>, Errno> {
    if ts_addr == 0 {
        return Ok(None);
    }
    let t: Timespec = task.mm.read_val(ts_addr)?;
    if t.tv_sec < 0 || !(0..1_000_000_000).contains(&t.tv_nsec) {
        return Err(Errno::EINVAL);
    }
    let d = Duration::new(t.tv_sec as u64, t.tv_nsec as u32);
    let rel = if absolute {
        let clock = if op & FUTEX_CLOCK_REALTIME != 0 {
            nix::time::ClockId::CLOCK_REALTIME
        } else {
            nix::time::ClockId::CLOCK_MONOTONIC
        };
        let now = nix::time::clock_gettime(clock).map_err(|e| Errno::new(e as i32))?;
        d.saturating_sub(Duration::from(now))
    } else {
        d
    };
    Ok(Instant::now().checked_add(rel))
}

fn futex_wait(
    task: &Task,
    addr: u64,
    val: u32,
    bitset: u32,
    when: Option<Instant>,
) -> Result<u64, Errno> {
    let k = key(&task.mm, addr);
    let w = Arc::new(Waiter {
        bitset,
        woken: AtomicBool::new(false),
        waker: wait::current_waker(),
    });
    {
        let mut q = lock(&task.k.futexes.queues);
        let cur: u32 = task.mm.read_val(addr)?;
        if cur != val {
            return Err(Errno::EAGAIN);
        }
        q.entry(k).or_default().push(w.clone());
    }
    let r = wait::block(&[], when, || {
        w.woken.load(Ordering::SeqCst).then_some(Ok(0))
    });
    if r.is_err() {
        task.k.futexes.remove(&w);
        if w.woken.load(Ordering::SeqCst) {
            return Ok(0);
        }
    }
    r
}

fn requeue(task: &Task, from: u64, to: u64, n_wake: u32, n_move: u32) -> u64 {
    let (k1, k2) = (key(&task.mm, from), key(&task.mm, to));
    let mut woken = task.k.futexes.wake(k1, n_wake, FUTEX_BITSET_MATCH_ANY);
    let mut q = lock(&task.k.futexes.queues);
    let mut moved = Vec::new();
    if let Some(list) = q.get_mut(&k1) {
        let n = (n_move as usize).min(list.len());
        moved.extend(list.drain(..n));
        if list.is_empty() {
            q.remove(&k1);
        }
    }
    woken += moved.len() as u32;
    if !moved.is_empty() {
        q.entry(k2).or_default().extend(moved);
    }
    u64::from(woken)
}

/// Applies FUTEX_WAKE_OP's operation to the word at `addr`; returns whether its comparison
/// holds for the old value.
fn wake_op_apply(task: &Task, addr: u64, encoded: u32) -> Result<bool, Errno> {
    let op = (encoded >> 28) & 7;
    let cmp = (encoded >> 24) & 15;
    let mut oparg = (encoded >> 12) & 0xfff;
    let cmparg = encoded & 0xfff;
    if encoded & (8 << 28) != 0 {
        if oparg > 31 {
            return Err(Errno::EINVAL);
        }
        oparg = 1 << oparg;
    }
    let _g = lock(&task.k.futexes.queues);
    let old: u32 = task.mm.read_val(addr)?;
    let new = match op {
        0 => oparg,
        1 => old.wrapping_add(oparg),
        2 => old | oparg,
        3 => old & !oparg,
        4 => old ^ oparg,
        _ => return Err(Errno::ENOSYS),
    };
    task.mm.write(addr, &new.to_ne_bytes())?;
    let (o, c) = (old as i32, cmparg as i32);
    Ok(match cmp {
        0 => o == c,
        1 => o != c,
        2 => o < c,
        3 => o <= c,
        4 => o > c,
        5 => o >= c,
        _ => return Err(Errno::ENOSYS),
    })
}

/// Implements `futex(2)`.
fn sys_futex(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let op = u32_(a[1]);
    let cmd = op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    if !a[0].is_multiple_of(4) {
        return Err(Errno::EINVAL);
    }
    if op & FUTEX_CLOCK_REALTIME != 0 && !matches!(cmd, FUTEX_WAIT | FUTEX_WAIT_BITSET) {
        return Err(Errno::ENOSYS);
    }
    let val = u32_(a[2]);
    match cmd {
        FUTEX_WAIT => {
            let when = deadline(task, a[3], op, false)?;
            futex_wait(task, a[0], val, FUTEX_BITSET_MATCH_ANY, when)
        }
        FUTEX_WAIT_BITSET => {
            let bitset = u32_(a[5]);
            if bitset == 0 {
                return Err(Errno::EINVAL);
            }
            let when = deadline(task, a[3], op, true)?;
            futex_wait(task, a[0], val, bitset, when)
        }
        FUTEX_WAKE => Ok(u64::from(task.k.futexes.wake(
            key(&task.mm, a[0]),
            val,
            FUTEX_BITSET_MATCH_ANY,
        ))),
        FUTEX_WAKE_BITSET => {
            let bitset = u32_(a[5]);
            if bitset == 0 {
                return Err(Errno::EINVAL);
            }
            Ok(u64::from(task.k.futexes.wake(
                key(&task.mm, a[0]),
                val,
                bitset,
            )))
        }
        FUTEX_REQUEUE | FUTEX_CMP_REQUEUE => {
            if !a[4].is_multiple_of(4) {
                return Err(Errno::EINVAL);
            }
            if cmd == FUTEX_CMP_REQUEUE {
                let cur: u32 = task.mm.read_val(a[0])?;
                if cur != u32_(a[5]) {
                    return Err(Errno::EAGAIN);
                }
            }
            let n_move = a[3] as u32;
            if (n_move as i32) < 0 || (val as i32) < 0 {
                return Err(Errno::EINVAL);
            }
            Ok(requeue(task, a[0], a[4], val, n_move))
        }
        FUTEX_WAKE_OP => {
            let n2 = a[3] as u32;
            let hit = wake_op_apply(task, a[4], u32_(a[5]))?;
            let mut n = task
                .k
                .futexes
                .wake(key(&task.mm, a[0]), val, FUTEX_BITSET_MATCH_ANY);
            if hit {
                n += task
                    .k
                    .futexes
                    .wake(key(&task.mm, a[4]), n2, FUTEX_BITSET_MATCH_ANY);
            }
            Ok(u64::from(n))
        }
        _ => Err(Errno::ENOSYS),
    }
}

/// Implements `set_robust_list(2)`.
fn sys_set_robust_list(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    if a[1] != 24 {
        return Err(Errno::EINVAL);
    }
    task.robust_list = a[0];
    Ok(0)
}

/// Implements `get_robust_list(2)` for the calling thread (pid 0 or its own tid).
fn sys_get_robust_list(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let pid = a[0] as u32 as i32;
    if pid != 0 && pid != task.tid {
        return Err(Errno::EPERM);
    }
    task.mm.write(a[1], &task.robust_list.to_ne_bytes())?;
    task.mm.write(a[2], &24u64.to_ne_bytes())?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wake_respects_count_and_bitset() {
        let t = FutexTable::default();
        let k = FutexKey { space: 1, addr: 8 };
        let mk = |bits| {
            Arc::new(Waiter {
                bitset: bits,
                woken: AtomicBool::new(false),
                waker: Waker::new(),
            })
        };
        let (a, b, c) = (mk(1), mk(2), mk(!0));
        lock(&t.queues).insert(k, vec![a.clone(), b.clone(), c.clone()]);
        assert_eq!(t.wake(k, 10, 2), 2);
        assert!(!a.woken.load(Ordering::SeqCst));
        assert!(b.woken.load(Ordering::SeqCst) && c.woken.load(Ordering::SeqCst));
        assert_eq!(t.wake(k, 0, !0), 0);
        assert_eq!(t.wake(k, 1, !0), 1);
        assert!(lock(&t.queues).is_empty());
    }
}
