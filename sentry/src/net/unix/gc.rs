//! Files in flight (`SCM_RIGHTS`) and the collector of unreachable ones.
//!
//! A message carrying files holds a reference to each ([`Rights`]). A socket can be in
//! flight in its own queue, or two sockets in each other's, with no fd left anywhere: the
//! references keep each other alive. As Linux's `net/unix/garbage.c`, every socket in
//! flight is counted here; after an fd table lets go of descriptions while sockets are in
//! flight, [`collect`] looks for sockets whose every reference is a message in flight and
//! that no socket outside that set can reach, and empties their queues, which drops the
//! cycle.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use super::UnixSocket;
use crate::vfs::FileDescription;

/// Sockets in flight: address → (the socket, how many messages carry it).
type Registry = HashMap<usize, (Weak<UnixSocket>, usize)>;

static INFLIGHT: Mutex<Option<Registry>> = Mutex::new(None);
/// How many sockets are in flight (read without the lock, on every close).
static COUNT: AtomicUsize = AtomicUsize::new(0);

fn registry() -> MutexGuard<'static, Option<Registry>> {
    INFLIGHT.lock().unwrap_or_else(|e| e.into_inner())
}

fn key(s: &Arc<UnixSocket>) -> usize {
    Arc::as_ptr(s) as usize
}

/// The files one message carries.
#[derive(Debug)]
pub struct Rights(Vec<Arc<dyn FileDescription>>);

impl Rights {
    /// Files going into a message: the sockets among them count as in flight.
    pub fn new(files: Vec<Arc<dyn FileDescription>>) -> Rights {
        let r = Rights(files);
        let socks = r.sockets();
        if !socks.is_empty() {
            let mut g = registry();
            let reg = g.get_or_insert_with(HashMap::new);
            for s in socks {
                let e = reg
                    .entry(key(&s))
                    .or_insert_with(|| (Arc::downgrade(&s), 0));
                e.1 += 1;
                COUNT.fetch_add(1, Ordering::Relaxed);
            }
        }
        r
    }

    /// Copies of the references, for a peek (not in flight themselves).
    pub fn clone_refs(&self) -> Rights {
        Rights::new(self.0.clone())
    }

    /// The files, taken out of flight (received).
    pub fn into_files(mut self) -> Vec<Arc<dyn FileDescription>> {
        self.leave_flight();
        std::mem::take(&mut self.0)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The unix sockets among the files.
    pub fn sockets(&self) -> Vec<Arc<UnixSocket>> {
        self.0.iter().filter_map(as_socket_arc).collect()
    }

    fn leave_flight(&self) {
        let socks = self.sockets();
        if socks.is_empty() {
            return;
        }
        let mut g = registry();
        let Some(reg) = g.as_mut() else { return };
        for s in socks {
            let k = key(&s);
            if let Some(e) = reg.get_mut(&k) {
                e.1 -= 1;
                COUNT.fetch_sub(1, Ordering::Relaxed);
                if e.1 == 0 {
                    reg.remove(&k);
                }
            }
        }
    }
}

impl Drop for Rights {
    fn drop(&mut self) {
        self.leave_flight();
    }
}

/// `f` as a unix socket, if it is one.
pub fn as_socket_arc(f: &Arc<dyn FileDescription>) -> Option<Arc<UnixSocket>> {
    (**f)
        .as_any()
        .downcast_ref::<UnixSocket>()
        .and_then(UnixSocket::arc)
}

/// Runs the collector if any socket is in flight (called after descriptions are let go).
pub fn collect_if_needed() {
    if COUNT.load(Ordering::Relaxed) > 0 {
        collect();
    }
}

/// Finds sockets that only messages in flight reach, and no live socket reaches through
/// its queue, and empties their queues.
pub fn collect() {
    // Candidates: sockets alive, all of whose references are messages in flight.
    let inflight: Vec<(Arc<UnixSocket>, usize)> = {
        let g = registry();
        let Some(reg) = g.as_ref() else { return };
        reg.values()
            .filter_map(|(w, n)| w.upgrade().map(|s| (s, *n)))
            .collect()
    };
    // Filtered with the registry let go: dropping an upgrade may be a socket's last
    // reference, and its close takes the registry's lock.
    let candidates: Vec<(Arc<UnixSocket>, usize)> = inflight
        .into_iter()
        // One reference is ours (the upgrade).
        .filter(|(s, n)| Arc::strong_count(s) - 1 == *n)
        .collect();
    if candidates.is_empty() {
        return;
    }
    let index: HashMap<usize, usize> = candidates
        .iter()
        .enumerate()
        .map(|(i, (s, _))| (key(s), i))
        .collect();
    let edges: Vec<Vec<usize>> = candidates
        .iter()
        .map(|(s, _)| {
            s.inflight_sockets()
                .iter()
                .filter_map(|t| index.get(&key(t)).copied())
                .collect()
        })
        .collect();
    let mut internal = vec![0usize; candidates.len()];
    for e in &edges {
        for &j in e {
            internal[j] += 1;
        }
    }
    // Reachable: carried by some message outside the candidates, and what those carry.
    let mut reach: Vec<bool> = candidates
        .iter()
        .zip(&internal)
        .map(|((_, n), &i)| *n > i)
        .collect();
    let mut stack: Vec<usize> = (0..candidates.len()).filter(|&i| reach[i]).collect();
    while let Some(i) = stack.pop() {
        for &j in &edges[i] {
            if !reach[j] {
                reach[j] = true;
                stack.push(j);
            }
        }
    }
    // Hold the garbage's messages until every queue is emptied, then let them go.
    let mut dropped = Vec::new();
    for ((s, _), r) in candidates.iter().zip(&reach) {
        if !r {
            dropped.push(s.purge());
        }
    }
    drop(candidates);
    drop(dropped);
}
