//! Notices a stub process that dies while its guest process waits in the Sentry (in a read,
//! a wait, a futex): the process is killed at once, instead of when it next runs guest code
//! (where the platform reports the death as `Event::Exited`).
//!
//! Each live stub's pidfd is a source of the Sentry's host event thread
//! (`kernel::host_events`). A stub's death kills the thread group registered with it, if that
//! group still runs in it (not after an exec to another stub, not once it is a zombie: then
//! the death was the Sentry's own doing).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, Weak};

use snare_platform::systrap::SystrapAddressSpace;

use super::host_events::{HostEvents, Keep, Source};
use super::process::ThreadGroup;
use super::ExitStatus;

#[derive(Debug)]
struct Entry {
    pidfd: OwnedFd,
    pid: i32,
    tg: Weak<ThreadGroup>,
}

impl Source for Entry {
    fn fd(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
    }

    fn ready(&self) -> Keep {
        stub_died(self);
        Keep::Done
    }
}

/// Records that `tg` now runs in the stub of `space`; with `events`, its death kills `tg`.
pub fn watch(events: Option<&HostEvents>, space: &SystrapAddressSpace, tg: &Arc<ThreadGroup>) {
    tg.state().stub_pid = space.stub_pid();
    let Some(events) = events else { return };
    let Ok(pidfd) = space.pidfd().try_clone_to_owned() else {
        return;
    };
    events.add(Arc::new(Entry {
        pidfd,
        pid: space.stub_pid(),
        tg: Arc::downgrade(tg),
    }));
}

fn stub_died(e: &Entry) {
    let Some(tg) = e.tg.upgrade() else {
        return;
    };
    {
        let st = tg.state();
        if st.stub_pid != e.pid || st.zombie.is_some() || st.group_exit.is_some() {
            return;
        }
    }
    tracing::warn!(
        tgid = tg.tgid,
        stub = e.pid,
        "stub process died while the process waited in the Sentry: killing the process"
    );
    super::signal::group_exit(&tg, ExitStatus::Signal(snare_abi::signal::SIGKILL), None);
}
