//! Sentry threads for tasks, kept for reuse. Each guest thread runs on a Sentry thread of its
//! own; a guest that creates and joins threads (or forks) over and over would otherwise pay
//! for a host thread's creation and exit every time. A finished task's thread waits
//! [`IDLE_FOR`] for the next task, then exits; at most [`IDLE_MAX`] wait at once.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// What a Sentry thread runs: one task, from start to finish.
pub type Job = Box<dyn FnOnce() + Send>;

/// How long a finished thread waits for the next task.
const IDLE_FOR: Duration = Duration::from_secs(2);
/// Most threads waiting at once.
const IDLE_MAX: usize = 64;

struct Idle {
    id: u64,
    inbox: Sender<(String, Job)>,
}

static IDLE: Mutex<Vec<Idle>> = Mutex::new(Vec::new());
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn idle() -> MutexGuard<'static, Vec<Idle>> {
    IDLE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `job` on a waiting Sentry thread, or on a new one named `name`.
pub fn spawn(name: String, job: Job) -> std::io::Result<()> {
    let mut work = (name, job);
    loop {
        let Some(w) = idle().pop() else { break };
        match w.inbox.send(work) {
            Ok(()) => return Ok(()),
            // It stopped waiting just now: try the next one.
            Err(mpsc::SendError(back)) => work = back,
        }
    }
    let (name, job) = work;
    std::thread::Builder::new()
        .name(name)
        .spawn(move || worker(job))
        .map(|_| ())
}

fn worker(first: Job) {
    let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (tx, rx) = mpsc::channel::<(String, Job)>();
    let mut job = first;
    loop {
        job();
        {
            let mut list = idle();
            if list.len() >= IDLE_MAX {
                return;
            }
            list.push(Idle {
                id,
                inbox: tx.clone(),
            });
        }
        let (name, next) = match rx.recv_timeout(IDLE_FOR) {
            Ok(work) => work,
            Err(RecvTimeoutError::Timeout) => {
                // Leave only if still on the list: a spawner that took us off it (under the
                // same lock) is about to send its task, and it must not be lost.
                let mut list = idle();
                if let Some(i) = list.iter().position(|w| w.id == id) {
                    list.swap_remove(i);
                    return;
                }
                drop(list);
                match rx.recv() {
                    Ok(work) => work,
                    Err(_) => return,
                }
            }
            // We hold a sender ourselves, so this doesn't happen.
            Err(RecvTimeoutError::Disconnected) => return,
        };
        if let Ok(n) = std::ffi::CString::new(name) {
            let _ = nix::sys::prctl::set_name(&n);
        }
        job = next;
    }
}
