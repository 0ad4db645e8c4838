//! The OOM killer: when an allocation for a guest would take the memory file past the
//! sandbox's limit (and the page cache has nothing left to give back), the process holding
//! the most memory-file pages is killed with SIGKILL, as Linux's OOM killer does.
//!
//! The memory manager calls in through [`crate::mm::OomKiller`] and waits for the victim's
//! pages to come back. A victim that is already dying is waited for, not killed again, and
//! the sandbox's init may be the victim too (like a container's init under its memory
//! cgroup): the sandbox then ends.

use std::sync::Arc;

use snare_abi::signal::SIGKILL;
use snare_platform::Platform;

use super::process::ThreadGroup;
use super::{ExitStatus, Kernel};
use crate::mm::{OomKiller, Usage};

impl OomKiller for Kernel {
    fn kill_for(&self, faulting: &Usage) -> bool {
        // `snare update` may have raised the limit: then no one need die.
        if self.memory_limit_grew() {
            return true;
        }
        let usages = crate::mm::usages(self.platform.memory_file());
        // Footprint per process: the pages of the address spaces it owns.
        let mut by_owner: Vec<(i32, usize)> = Vec::new();
        for u in usages.iter().filter(|u| u.owner() != 0) {
            match by_owner.iter_mut().find(|(o, _)| *o == u.owner()) {
                Some((_, n)) => *n += u.pages(),
                None => by_owner.push((u.owner(), u.pages())),
            }
        }
        // The largest; a process already dying (or dead, its pages not yet back) is waited
        // for rather than another killed.
        let Some(&(owner, pages)) = by_owner.iter().max_by_key(|&&(_, n)| n) else {
            return false;
        };
        let is_faulting = owner == faulting.owner();
        let victim: Option<Arc<ThreadGroup>> = {
            let pids = self.pids.lock().unwrap_or_else(|e| e.into_inner());
            pids.groups.get(&owner).cloned()
        };
        if let Some(victim) = victim {
            let alive = {
                let st = victim.state();
                st.zombie.is_none() && st.group_exit.is_none()
            };
            if alive {
                tracing::warn!(pid = owner, pages, "out of memory: killed process {owner}");
                super::signal::group_exit(&victim, ExitStatus::Signal(SIGKILL), None);
            }
        }
        !is_faulting
    }
}
