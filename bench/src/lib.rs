//! Host-side baselines for snare's benches: what the machine does without snare.
//!
//! - [`native`]: plain system calls and first-touch page faults in this process;
//! - [`sigsys`]: the floor of any signal-based syscall trap — a seccomp `SECCOMP_RET_TRAP`
//!   filter on one thread of this process and a SIGSYS handler that answers in place.
//!
//! The benches in `benches/` put these next to the same work done by a guest on the systrap
//! platform; the crate README says what each one measures and lists the numbers measured.

/// Bytes in a page.
pub const PAGE: u64 = snare_abi::PAGE_SIZE as u64;

/// Pages mapped at once by page-fault benches: a large sample is run as several chunks so that
/// memory use stays bounded (16 MiB) whatever iteration count criterion asks for.
pub const CHUNK_PAGES: u64 = 4096;

/// The machine itself, no snare.
pub mod native {
    use std::io;
    use std::time::{Duration, Instant};

    use super::{CHUNK_PAGES, PAGE};

    /// One raw `getpid(2)`.
    #[inline]
    pub fn getpid() -> i64 {
        // SAFETY: getpid takes no arguments and touches no memory.
        unsafe { libc::syscall(libc::SYS_getpid) }
    }

    /// Touches `pages` fresh anonymous pages, one byte store each, and returns the time spent
    /// in the stores alone (each store is one first-touch page fault). The pages are mapped
    /// `MAP_PRIVATE | MAP_ANONYMOUS` in chunks of [`CHUNK_PAGES`], with transparent huge
    /// pages turned off for them so that each page faults on its own (as guest pages in the
    /// memory file do); mapping and unmapping are not timed.
    pub fn touch_fresh_pages(pages: u64) -> io::Result<Duration> {
        let mut total = Duration::ZERO;
        let mut left = pages;
        while left > 0 {
            let n = left.min(CHUNK_PAGES);
            let len = (n * PAGE) as usize;
            // SAFETY: a new private anonymous mapping at an address the kernel picks; it
            // overlaps nothing of ours.
            let p = unsafe {
                libc::mmap(
                    core::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: advice on the mapping made just above; failure only leaves THP on.
            unsafe { libc::madvise(p, len, libc::MADV_NOHUGEPAGE) };
            let base = p.cast::<u8>();
            let t = Instant::now();
            for i in 0..n as usize {
                // SAFETY: `i * PAGE < len`: inside the read-write mapping made above.
                unsafe { base.add(i * PAGE as usize).write_volatile(1) };
            }
            total += t.elapsed();
            // SAFETY: unmaps exactly the mapping made above; nothing refers to it any more.
            unsafe { libc::munmap(p, len) };
            left -= n;
        }
        Ok(total)
    }
}

/// The floor of a signal-based syscall trap, measured in this process.
///
/// A dedicated thread installs a seccomp filter that answers `getpid` with
/// `SECCOMP_RET_TRAP` (and allows everything else); a process-wide SIGSYS handler writes
/// [`FAKE_PID`] into the interrupted context's `rax` and returns. Each trapped `getpid` thus
/// costs the kernel's filter run, signal delivery with its frame (FP state included) and
/// `rt_sigreturn` — the part of systrap's round trip that no hand-off protocol can remove.
/// Seccomp filters are per thread and can't be removed, so the thread lives as long as the
/// [`SigsysFloor`] and serves every sample.
pub mod sigsys {
    use std::io;
    use std::sync::mpsc;
    use std::sync::Once;
    use std::thread::JoinHandle;
    use std::time::{Duration, Instant};

    use snare_abi::seccomp::{
        bpf, SockFilter, SockFprog, AUDIT_ARCH_X86_64, SECCOMP_RET_ALLOW, SECCOMP_RET_TRAP,
        SECCOMP_SET_MODE_FILTER,
    };

    /// What the SIGSYS handler answers to a trapped `getpid`.
    pub const FAKE_PID: i64 = 0x5a5a;

    /// Answers a trapped syscall with [`FAKE_PID`]: runs on the trapping thread, in the signal
    /// frame the kernel built for it.
    extern "C" fn on_sigsys(_sig: libc::c_int, _info: *mut libc::siginfo_t, uc: *mut libc::c_void) {
        // SAFETY: installed with SA_SIGINFO, so the kernel passes a valid ucontext of the
        // interrupted thread as the third argument; `rt_sigreturn` reloads rax from it.
        unsafe {
            (*uc.cast::<libc::ucontext_t>()).uc_mcontext.gregs[libc::REG_RAX as usize] = FAKE_PID;
        }
    }

    /// Installs [`on_sigsys`] for SIGSYS, once per process.
    fn install_handler() -> io::Result<()> {
        static ONCE: Once = Once::new();
        let mut result = Ok(());
        ONCE.call_once(|| {
            // SAFETY: an all-zero sigaction is a valid value (empty mask, no flags).
            let mut sa: libc::sigaction = unsafe { core::mem::zeroed() };
            sa.sa_sigaction = on_sigsys as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO;
            // SAFETY: `sa` is initialised; the handler is async-signal-safe (one store into
            // the frame) and stays valid for the life of the process.
            if unsafe { libc::sigaction(libc::SIGSYS, &sa, core::ptr::null_mut()) } != 0 {
                result = Err(io::Error::last_os_error());
            }
        });
        result
    }

    /// `getpid` → `SECCOMP_RET_TRAP`, anything else (or another ABI) → allow.
    fn filter() -> [SockFilter; 6] {
        let stmt = |code, k| SockFilter {
            code,
            jt: 0,
            jf: 0,
            k,
        };
        let jeq = |k, jt, jf| SockFilter {
            code: bpf::JMP | bpf::JEQ | bpf::K,
            jt,
            jf,
            k,
        };
        [
            stmt(bpf::LD | bpf::W | bpf::ABS, 4), // seccomp_data.arch
            jeq(AUDIT_ARCH_X86_64, 0, 3),
            stmt(bpf::LD | bpf::W | bpf::ABS, 0), // seccomp_data.nr
            jeq(libc::SYS_getpid as u32, 0, 1),
            stmt(bpf::RET | bpf::K, SECCOMP_RET_TRAP),
            stmt(bpf::RET | bpf::K, SECCOMP_RET_ALLOW),
        ]
    }

    /// Installs [`filter`] on the calling thread (for good: filters can't be removed).
    fn install_filter() -> io::Result<()> {
        let prog = filter();
        let fprog = SockFprog {
            len: prog.len() as u16,
            _pad: [0; 3],
            filter: prog.as_ptr() as u64,
        };
        // SAFETY: PR_SET_NO_NEW_PRIVS takes integers only.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fprog` points at `prog`, a valid program that outlives the call (the kernel
        // copies it); flags 0 filter this thread only.
        let r = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                SECCOMP_SET_MODE_FILTER,
                0,
                &fprog as *const SockFprog,
            )
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// `getpid` `iters` times on a filtered thread: the elapsed time, or an error if any call
    /// did not come back with [`FAKE_PID`] (the handler did not run).
    fn trapped_getpids(iters: u64) -> Result<Duration, String> {
        let mut wrong = 0u64;
        let t = Instant::now();
        for _ in 0..iters {
            wrong += u64::from(super::native::getpid() != FAKE_PID);
        }
        let elapsed = t.elapsed();
        if wrong != 0 {
            return Err(format!("{wrong} of {iters} getpid calls were not trapped"));
        }
        Ok(elapsed)
    }

    /// A thread with the trapping filter installed, serving timing requests.
    #[derive(Debug)]
    pub struct SigsysFloor {
        req: Option<mpsc::Sender<u64>>,
        resp: mpsc::Receiver<Result<Duration, String>>,
        worker: Option<JoinHandle<()>>,
    }

    impl SigsysFloor {
        /// Installs the SIGSYS handler (process-wide) and starts the filtered thread.
        pub fn new() -> io::Result<SigsysFloor> {
            install_handler()?;
            let (req_tx, req_rx) = mpsc::channel::<u64>();
            let (resp_tx, resp_rx) = mpsc::channel::<Result<Duration, String>>();
            let (ready_tx, ready_rx) = mpsc::channel::<io::Result<()>>();
            let worker = std::thread::Builder::new()
                .name("sigsys-floor".into())
                .spawn(move || {
                    let installed = install_filter();
                    let ok = installed.is_ok();
                    let _ = ready_tx.send(installed);
                    if !ok {
                        return;
                    }
                    for iters in req_rx {
                        if resp_tx.send(trapped_getpids(iters)).is_err() {
                            break;
                        }
                    }
                })?;
            let ready = ready_rx
                .recv()
                .unwrap_or_else(|_| Err(io::Error::other("sigsys thread died")));
            if let Err(e) = ready {
                let _ = worker.join();
                return Err(e);
            }
            Ok(SigsysFloor {
                req: Some(req_tx),
                resp: resp_rx,
                worker: Some(worker),
            })
        }

        /// Runs `iters` trapped `getpid`s on the filtered thread; returns the time they took
        /// there (the channel round trip is not included).
        pub fn run(&self, iters: u64) -> Result<Duration, String> {
            let req = self.req.as_ref().ok_or("sigsys thread stopped")?;
            req.send(iters).map_err(|_| "sigsys thread died")?;
            self.resp.recv().map_err(|_| "sigsys thread died")?
        }
    }

    impl Drop for SigsysFloor {
        fn drop(&mut self) {
            drop(self.req.take());
            if let Some(w) = self.worker.take() {
                let _ = w.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigsys_floor_traps_only_its_own_thread() {
        let floor = sigsys::SigsysFloor::new().expect("seccomp filter");
        floor.run(100).expect("every getpid trapped");
        // This thread has no filter.
        assert_eq!(native::getpid(), i64::from(std::process::id() as i32));
        drop(floor);
    }

    #[test]
    fn touch_fresh_pages_spans_chunks() {
        native::touch_fresh_pages(CHUNK_PAGES + 3).expect("mmap");
    }
}
