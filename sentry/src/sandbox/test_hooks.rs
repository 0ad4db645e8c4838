//! Test-only (feature `test-hooks`, which only the test build turns on): knobs that show
//! the filter works.
//!
//! - `SNARE_TEST_FORBIDDEN=CALL` (one of `snare_platform::test_hooks::FORBIDDEN`): a Sentry
//!   thread started *before* the filter makes that host call right after it is installed,
//!   so the test also shows `TSYNC` reached threads that already ran. The process must die
//!   of `SIGSYS`; if it lives, the hook says so on stderr and the sandbox goes on.
//! - `SNARE_TEST_SECCOMP_LOG=1`: calls off the list are logged by the kernel
//!   (`SECCOMP_RET_LOG`, see `dmesg`) instead of killing: for finding what a change needs.

use std::sync::mpsc;

/// Whether calls off the list are only logged.
pub fn log_only() -> bool {
    std::env::var_os("SNARE_TEST_SECCOMP_LOG").is_some_and(|v| v == "1")
}

/// A thread waiting to make a forbidden call.
#[derive(Debug)]
pub struct Armed {
    go: mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

/// Starts the thread if `SNARE_TEST_FORBIDDEN` names a call.
pub fn arm() -> Option<Armed> {
    let which = std::env::var("SNARE_TEST_FORBIDDEN").ok()?;
    let pid = std::process::id() as i32;
    let (go, wait) = mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("snare-test-hook".into())
        .spawn(move || {
            if wait.recv().is_err() {
                return;
            }
            match snare_platform::test_hooks::attempt(&which, pid) {
                Some(ret) => eprintln!("snare: test hook: {which} returned {ret}, not killed"),
                None => eprintln!("snare: test hook: unknown call {which}"),
            }
        })
        .ok()?;
    Some(Armed { go, thread })
}

impl Armed {
    /// Makes the call (the filter is on) and waits for the thread.
    pub fn fire(self) {
        if self.go.send(()).is_ok() {
            let _ = self.thread.join();
        }
    }
}
