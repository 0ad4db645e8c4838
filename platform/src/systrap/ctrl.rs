//! The Sentry's side of a control channel: one host syscall at a time, run by a stub's control
//! thread from a request page the guest cannot write.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use core::mem::offset_of;
use snare_stub::layout::{ctrl_done_decode, CtrlOp, CtrlRequest, CtrlResponse, CTRL_MAX_OPS};

use crate::memfile::MemoryFile;
use crate::sys;
use crate::{Error, Result};

/// Size of a control channel in the memory file: the request page, then the response page.
pub(crate) const CTRL_PAGES: u64 = 8192;
const RESP: u64 = 4096;

/// How long to wait for a stub process to come up.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to sleep between checks that the stub still lives.
const POLL: Duration = Duration::from_millis(20);
/// How long a stub's control thread may take over one request before the stub is taken for
/// broken (its calls are a few mmaps; nothing the guest does can block them for long).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A control channel in the memory file at `off`.
#[derive(Debug)]
pub(crate) struct Ctrl {
    pub off: u64,
    seq: u32,
    spin: u32,
}

impl Ctrl {
    /// Allocates and initialises a channel; `spin` is the control thread's spin budget.
    pub fn new(mem: &MemoryFile, spin: u32, sentry_spin: u32) -> Result<Ctrl> {
        let off = mem.allocate(CTRL_PAGES)?;
        mem.atomic_u32(off + offset_of!(CtrlRequest, spin) as u64)
            .store(spin, Ordering::Relaxed);
        Ok(Ctrl {
            off,
            seq: 0,
            spin: sentry_spin,
        })
    }

    fn req(&self, field: usize) -> u64 {
        self.off + field as u64
    }

    fn resp_word<'m>(&self, mem: &'m MemoryFile, field: usize) -> &'m AtomicU32 {
        mem.atomic_u32(self.off + RESP + field as u64)
    }

    /// Waits until the control thread announces it serves this channel.
    pub fn wait_ready(&self, mem: &MemoryFile, pidfd: RawFd) -> Result<()> {
        let ready = self.resp_word(mem, offset_of!(CtrlResponse, ready));
        let start = Instant::now();
        while ready.load(Ordering::Acquire) == 0 {
            if sys::pidfd_exited(pidfd) {
                return Err(Error::StubDied);
            }
            if start.elapsed() > READY_TIMEOUT {
                return Err(Error::Setup("stub process did not come up".into()));
            }
            sys::futex_wait(ready, 0, Some(POLL));
        }
        Ok(())
    }

    /// Runs `ops` (at most [`CTRL_MAX_OPS`]) in the stub in order, stopping after the first
    /// that fails, and returns how many ran; `rets` gets their raw results. `meanwhile` runs
    /// in this thread while the control thread works.
    ///
    /// `done_fd` is the stub's completion eventfd (`None` only for the source): how many ops
    /// ran and whether the last failed come from it, never from the guest-writable response
    /// page, and a result there that disagrees (an errno for an op that succeeded, or the
    /// reverse) is [`Error::Corrupt`]. The values themselves are still guest-writable:
    /// callers check them against what each call can return.
    pub fn call_batch(
        &mut self,
        mem: &MemoryFile,
        pidfd: RawFd,
        done_fd: Option<RawFd>,
        ops: &[CtrlOp],
        rets: &mut [i64],
        meanwhile: &mut dyn FnMut(),
    ) -> Result<usize> {
        assert!(ops.len() <= CTRL_MAX_OPS && rets.len() >= ops.len());
        for (i, o) in ops.iter().enumerate() {
            let at = offset_of!(CtrlRequest, ops) + i * core::mem::size_of::<CtrlOp>();
            let a = o.args;
            mem.write_pod(self.req(at), &[o.nr, a[0], a[1], a[2], a[3], a[4], a[5], 0]);
        }
        mem.write_pod(
            self.req(offset_of!(CtrlRequest, count)),
            &(ops.len() as u32),
        );
        self.seq = self.seq.wrapping_add(1);
        let seq_word = mem.atomic_u32(self.req(offset_of!(CtrlRequest, seq)));
        seq_word.store(self.seq, Ordering::SeqCst);
        if self
            .resp_word(mem, offset_of!(CtrlResponse, ctrl_sleeping))
            .load(Ordering::SeqCst)
            != 0
        {
            sys::futex_wake(seq_word, 1);
        }
        meanwhile();

        let Some(done_fd) = done_fd else {
            return self.wait_source(mem, pidfd, ops.len(), rets);
        };
        // `done` is only a hint here (the guest can write it): spin on it, then take the
        // completion from the eventfd, sleeping in poll when it isn't there yet.
        let done = self.resp_word(mem, offset_of!(CtrlResponse, done));
        let mut spins = self.spin;
        while spins > 0 && done.load(Ordering::Acquire) != self.seq {
            super::spin_pause(spins);
            spins -= 1;
        }
        let started = Instant::now();
        let value = loop {
            if let Some(v) = sys::eventfd_take(done_fd) {
                break v;
            }
            match sys::wait_either(done_fd, pidfd, POLL) {
                sys::Ready::First => {}
                sys::Ready::Second => return Err(Error::StubDied),
                sys::Ready::Timeout if started.elapsed() > CALL_TIMEOUT => {
                    return Err(Error::Corrupt("control thread stopped answering"));
                }
                // A wake-up may have been lost (the guest can clear `ctrl_sleeping`).
                sys::Ready::Timeout => {
                    tracing::debug!(seq = self.seq, "control request: no answer yet");
                    sys::futex_wake(seq_word, 1);
                }
            }
        };
        let (ran, failed) = ctrl_done_decode(value)
            .filter(|&(ran, failed)| {
                ran <= ops.len() && (failed || ran == ops.len()) && (ran > 0 || !failed)
            })
            .ok_or(Error::Corrupt("control request completion"))?;
        for (i, r) in rets.iter_mut().enumerate().take(ran) {
            *r = mem.read_pod::<i64>(self.ret_off(i));
            let is_errno = (-4095..0).contains(r);
            if is_errno != (failed && i + 1 == ran) {
                return Err(Error::Corrupt("control request result"));
            }
        }
        Ok(ran)
    }

    fn ret_off(&self, i: usize) -> u64 {
        self.off + RESP + (offset_of!(CtrlResponse, rets) + 8 * i) as u64
    }

    /// The source's completion: `done` and the results, trusted (it never runs guest code).
    fn wait_source(
        &mut self,
        mem: &MemoryFile,
        pidfd: RawFd,
        n: usize,
        rets: &mut [i64],
    ) -> Result<usize> {
        let seq_word = mem.atomic_u32(self.req(offset_of!(CtrlRequest, seq)));
        let done = self.resp_word(mem, offset_of!(CtrlResponse, done));
        let sleeping = self.resp_word(mem, offset_of!(CtrlResponse, sentry_sleeping));
        let mut spins = self.spin;
        loop {
            let d = done.load(Ordering::Acquire);
            if d == self.seq {
                break;
            }
            if spins > 0 {
                super::spin_pause(spins);
                spins -= 1;
                continue;
            }
            sleeping.store(1, Ordering::SeqCst);
            let d = done.load(Ordering::SeqCst);
            if d != self.seq && !sys::futex_wait(done, d, Some(POLL)) {
                if sys::pidfd_exited(pidfd) {
                    sleeping.store(0, Ordering::Relaxed);
                    return Err(Error::StubDied);
                }
                sys::futex_wake(seq_word, 1);
            }
            sleeping.store(0, Ordering::Relaxed);
        }
        let mut ran = 0;
        for (i, r) in rets.iter_mut().enumerate().take(n) {
            *r = mem.read_pod::<i64>(self.ret_off(i));
            ran += 1;
            if (-4095..0).contains(r) {
                break;
            }
        }
        Ok(ran)
    }
}

/// A control op for syscall `nr` with `args`.
pub(crate) fn op(nr: u64, args: [u64; 6]) -> CtrlOp {
    CtrlOp { nr, args, _pad: 0 }
}
