//! `membarrier(2)`: memory barriers across the guest's threads.
//!
//! Guest threads are host threads of stub processes, one stub per guest address space. A
//! guest thread that is in the Sentry (this caller included: a syscall is a round trip
//! through shared memory and futexes, full barriers both ways) passes a barrier before it
//! runs guest code again. One running guest code on another CPU must be interrupted: the
//! Sentry has the stub's control thread call the host's own
//! `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)` in the stub's address space, which sends
//! an IPI to every CPU running one of its threads and returns once they all passed a full
//! barrier: exactly the guarantee Linux gives the guest (`SystrapAddressSpace::membarrier`).

use std::sync::Arc;

use snare_abi::sched::*;
use snare_abi::Errno;
use snare_syscalls_table::nr;

use super::arg::u32_;
use super::Handler;
use crate::kernel::process::lock;
use crate::kernel::Task;
use crate::mm::MemoryManager;

pub(super) const HANDLERS: &[(u32, Handler)] = &[(nr::MEMBARRIER, sys_membarrier)];

/// What `MEMBARRIER_CMD_QUERY` answers: every command but the RSEQ ones (rseq is not
/// implemented).
const SUPPORTED: u32 = MEMBARRIER_CMD_GLOBAL
    | MEMBARRIER_CMD_GLOBAL_EXPEDITED
    | MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED
    | MEMBARRIER_CMD_PRIVATE_EXPEDITED
    | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED
    | MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE
    | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE
    | MEMBARRIER_CMD_GET_REGISTRATIONS;

/// Runs the host barrier over the threads of `mm`'s stub.
fn barrier(mm: &MemoryManager, sync_core: bool) -> Result<(), Errno> {
    mm.space().membarrier(sync_core).map_err(|e| {
        tracing::warn!(%e, "membarrier: the host barrier failed");
        Errno::EINVAL
    })
}

/// Every live address space of the sandbox, once each.
fn all_address_spaces(task: &Task) -> Vec<Arc<MemoryManager>> {
    let threads: Vec<_> = lock(&task.k.pids).tasks.values().cloned().collect();
    let mut out: Vec<Arc<MemoryManager>> = Vec::new();
    for t in threads {
        let Some(mm) = lock(&t.view).mm.upgrade() else {
            continue;
        };
        if !out.iter().any(|m| Arc::ptr_eq(m, &mm)) {
            out.push(mm);
        }
    }
    out
}

/// Implements `membarrier(2)`. GLOBAL and GLOBAL_EXPEDITED pass a barrier in every guest
/// thread of the sandbox (the sandbox being the guest's whole system; the expedited form
/// does not limit itself to registered processes, which is stronger than Linux and as
/// correct); PRIVATE_EXPEDITED (and its SYNC_CORE form) in the caller's process, once
/// registered (else EPERM). Registrations are per address space: fork keeps them, execve
/// drops them. The RSEQ commands are EINVAL, as on a kernel without rseq. A registration
/// the host refuses is EINVAL (the guest then does without, as on an old kernel).
fn sys_membarrier(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let (cmd, flags) = (u32_(a[0]), u32_(a[1]));
    let flags_ok = if cmd == MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ {
        flags == 0 || flags == MEMBARRIER_CMD_FLAG_CPU
    } else {
        flags == 0
    };
    if !flags_ok {
        return Err(Errno::EINVAL);
    }
    let registered = |task: &Task, cmd: u32| task.mm.membarrier_registrations() & cmd != 0;
    match cmd {
        MEMBARRIER_CMD_QUERY => Ok(u64::from(SUPPORTED)),
        MEMBARRIER_CMD_GLOBAL | MEMBARRIER_CMD_GLOBAL_EXPEDITED => {
            for mm in all_address_spaces(task) {
                // A process that exits meanwhile has no thread left to order.
                if !mm.space().is_dead() {
                    barrier(&mm, false)?;
                }
            }
            Ok(0)
        }
        MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED => {
            task.mm.register_membarrier(cmd);
            Ok(0)
        }
        MEMBARRIER_CMD_PRIVATE_EXPEDITED => {
            if !registered(task, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) {
                return Err(Errno::EPERM);
            }
            barrier(&task.mm, false).map(|()| 0)
        }
        MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE => {
            if !registered(task, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE) {
                return Err(Errno::EPERM);
            }
            barrier(&task.mm, true).map(|()| 0)
        }
        MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED
        | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE => {
            // Registers the stub with the host (and passes a first barrier).
            barrier(
                &task.mm,
                cmd == MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE,
            )?;
            task.mm.register_membarrier(cmd);
            Ok(0)
        }
        MEMBARRIER_CMD_GET_REGISTRATIONS => Ok(u64::from(task.mm.membarrier_registrations())),
        _ => Err(Errno::EINVAL),
    }
}
