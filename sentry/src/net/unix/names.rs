//! The sandbox's abstract socket names (Linux keeps them per network namespace; the sandbox
//! has one), and autobind's names.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use snare_abi::Errno;

use super::UnixSocket;

/// Abstract name → (the socket's inode number, the socket).
type Table = HashMap<Vec<u8>, (u64, Weak<UnixSocket>)>;

static ABSTRACT: Mutex<Option<Table>> = Mutex::new(None);

fn table() -> MutexGuard<'static, Option<Table>> {
    ABSTRACT.lock().unwrap_or_else(|e| e.into_inner())
}

/// Binds abstract `name` to `s`: EADDRINUSE if a live socket has it.
pub fn bind_abstract(name: &[u8], s: &Arc<UnixSocket>) -> Result<(), Errno> {
    let mut g = table();
    let t = g.get_or_insert_with(HashMap::new);
    if let Some((_, w)) = t.get(name) {
        if w.strong_count() > 0 {
            return Err(Errno::EADDRINUSE);
        }
    }
    t.insert(name.to_vec(), (s.ino, Arc::downgrade(s)));
    Ok(())
}

/// Binds the first free autobind name (`\0` and five hex digits) to `s`.
pub fn autobind(s: &Arc<UnixSocket>) -> Result<Vec<u8>, Errno> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    for _ in 0..=0xfffff {
        let n = NEXT.fetch_add(1, Ordering::Relaxed) & 0xfffff;
        let name = format!("{n:05x}").into_bytes();
        if bind_abstract(&name, s).is_ok() {
            return Ok(name);
        }
    }
    Err(Errno::ENOSPC)
}

/// The socket bound to abstract `name`.
pub fn lookup_abstract(name: &[u8]) -> Option<Arc<UnixSocket>> {
    table().as_ref()?.get(name)?.1.upgrade()
}

/// Forgets `name` if it still names the socket with inode `ino` (a closing socket).
pub fn unbind_abstract(name: &[u8], ino: u64) {
    let mut g = table();
    if let Some(t) = g.as_mut() {
        if t.get(name).is_some_and(|(i, _)| *i == ino) {
            t.remove(name);
        }
    }
}

/// A socket node's identity: `(st_dev, st_ino)`.
pub type NodeId = (u64, u64);

/// Socket nodes in the VFS → the socket bound there. Filesystems know nothing of sockets: a
/// node is found by its identity, as advisory locks are (`vfs/locks.rs`).
static PATHS: Mutex<Option<HashMap<NodeId, Weak<UnixSocket>>>> = Mutex::new(None);

fn paths() -> MutexGuard<'static, Option<HashMap<NodeId, Weak<UnixSocket>>>> {
    PATHS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Records that `s` is bound at the socket node `node` (just made).
pub fn bind_path(node: NodeId, s: &Arc<UnixSocket>) {
    paths()
        .get_or_insert_with(HashMap::new)
        .insert(node, Arc::downgrade(s));
}

/// The socket bound at node `node`.
pub fn lookup_path(node: NodeId) -> Option<Arc<UnixSocket>> {
    paths().as_ref()?.get(&node)?.upgrade()
}

/// Forgets node `node` if it still holds socket `ino` (a closing socket).
pub fn unbind_path(node: NodeId, ino: u64) {
    let mut g = paths();
    if let Some(t) = g.as_mut() {
        let dead_or_ours = t
            .get(&node)
            .is_some_and(|w| w.upgrade().is_none_or(|s| s.ino == ino));
        if dead_or_ours {
            t.remove(&node);
        }
    }
}
