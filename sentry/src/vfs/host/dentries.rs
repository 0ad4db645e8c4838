//! The lower layer's dentry cache: what the host answered for each name below the guest's
//! root, as a tree of names (the host root is the read-only lower layer, assumed not to
//! change under the sandbox, as the page cache assumes). A walk hashes one name per step,
//! not the path so far, and a host name is asked once: its `lstat` (or its absence) and,
//! for a symlink, its target are kept on its node.
//!
//! Nodes live in one arena, numbered; a [`DentryRef`] names one with the arena's
//! generation. When the arena reaches [`MAX_NODES`] it is emptied and the generation moves
//! on, so a reference held across that (a walk's cursor) is found stale and the caller
//! walks from the root again.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use snare_abi::file::{Stat, S_IFDIR, S_IFLNK, S_IFMT};
use snare_abi::Errno;

/// Most names kept: about 200 bytes each with its stat, plus the name (at most
/// [`NAME_MAX`]), so at most about 30 MiB of the Sentry's heap however a guest looks.
pub const MAX_NODES: usize = 1 << 16;

/// Longest name a host filesystem takes (longer ones are `ENAMETOOLONG`, not kept).
const NAME_MAX: usize = 255;

/// Generations count in 31 bits (a reference fits in 63).
const GEN_MASK: u32 = u32::MAX >> 1;

/// A node of the cache, valid while its generation is the arena's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DentryRef {
    gen: u32,
    node: u32,
}

impl DentryRef {
    /// As one word of 63 bits (a walk cursor's field).
    pub fn to_bits(self) -> u64 {
        (u64::from(self.gen) << 32) | u64::from(self.node)
    }

    pub fn from_bits(bits: u64) -> DentryRef {
        DentryRef {
            gen: (bits >> 32) as u32,
            node: bits as u32,
        }
    }
}

#[derive(Debug)]
struct Node {
    /// `lstat` of the name, or why there is none (`ENOENT`).
    stat: Result<Stat, Errno>,
    /// A symlink's target, once read.
    link: Option<Vec<u8>>,
    children: HashMap<Box<[u8]>, u32>,
}

#[derive(Debug, Default)]
struct Tree {
    gen: u32,
    /// Node 0 is the root, once asked.
    nodes: Vec<Node>,
}

/// What a walk of a whole path found ([`Dentries::walk`]).
#[derive(Debug)]
pub enum Walked {
    /// The last name's node and `lstat`.
    Found(DentryRef, Stat),
    /// A symlink stands before the last name (the cache walks no links).
    LinkOnWay,
}

/// See the module docs.
#[derive(Debug, Default)]
pub struct Dentries {
    tree: Mutex<Tree>,
    /// Host lookups made (for tests: a name is asked once).
    asked: std::sync::atomic::AtomicU64,
}

fn is_dir(st: &Stat) -> bool {
    st.st_mode & S_IFMT == S_IFDIR
}

impl Dentries {
    fn tree(&self) -> MutexGuard<'_, Tree> {
        self.tree.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many times the host was asked.
    pub fn asked(&self) -> u64 {
        self.asked.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The root's node; `ask` is the host's `lstat` of a path.
    pub fn root(&self, ask: &dyn Fn(&[u8]) -> Result<Stat, Errno>) -> Result<DentryRef, Errno> {
        let gen = {
            let t = self.tree();
            if let Some(n) = t.nodes.first() {
                return n.stat.map(|_| DentryRef {
                    gen: t.gen,
                    node: 0,
                });
            }
            t.gen
        };
        let st = self.ask(ask, b"/");
        let mut t = self.tree();
        if t.gen == gen && t.nodes.is_empty() {
            t.nodes.push(Node {
                stat: st,
                link: None,
                children: HashMap::new(),
            });
        }
        st.map(|_| DentryRef {
            gen: t.gen,
            node: 0,
        })
    }

    fn ask(&self, ask: &dyn Fn(&[u8]) -> Result<Stat, Errno>, path: &[u8]) -> Result<Stat, Errno> {
        self.asked
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ask(path)
    }

    /// The `lstat` of `name` in the directory `dir`, whose child's whole path is `path`;
    /// `None` if `dir` went stale. `ENOENT` (kept too) when the host has no such name,
    /// `ENOTDIR` when `dir` is not a directory.
    pub fn child(
        &self,
        dir: DentryRef,
        name: &[u8],
        path: &[u8],
        ask: &dyn Fn(&[u8]) -> Result<Stat, Errno>,
    ) -> Option<Result<(DentryRef, Stat), Errno>> {
        if name.len() > NAME_MAX {
            return Some(Err(Errno::ENAMETOOLONG));
        }
        {
            let t = self.tree();
            let n = t.live(dir)?;
            match n.stat {
                Ok(ref st) if is_dir(st) => {}
                Ok(_) => return Some(Err(Errno::ENOTDIR)),
                Err(e) => return Some(Err(e)),
            }
            if let Some(&c) = n.children.get(name) {
                let r = DentryRef {
                    gen: t.gen,
                    node: c,
                };
                return Some(t.nodes[c as usize].stat.map(|st| (r, st)));
            }
        }
        let st = self.ask(ask, path);
        let mut t = self.tree();
        t.live(dir)?;
        if t.nodes.len() >= MAX_NODES {
            t.nodes.clear();
            t.gen = (t.gen + 1) & GEN_MASK;
            return Some(st.map(|st| {
                (
                    DentryRef {
                        gen: t.gen,
                        node: u32::MAX,
                    },
                    st,
                )
            }));
        }
        let node = t.nodes.len() as u32;
        t.nodes.push(Node {
            stat: st,
            link: None,
            children: HashMap::new(),
        });
        t.nodes[dir.node as usize]
            .children
            .insert(name.into(), node);
        Some(st.map(|st| (DentryRef { gen: t.gen, node }, st)))
    }

    /// Walks a whole normalized absolute path (`/` or `/a/b`) from the root, no symlink
    /// followed (one before the last name is [`Walked::LinkOnWay`]).
    pub fn walk(
        &self,
        path: &[u8],
        ask: &dyn Fn(&[u8]) -> Result<Stat, Errno>,
    ) -> Result<Walked, Errno> {
        // A reference can go stale mid-walk only when the arena fills: then walk again,
        // once; a second time, ask the host for the path alone.
        for _ in 0..2 {
            let mut at = self.root(ask)?;
            let mut st = self.tree().live(at).and_then(|n| n.stat.ok());
            let mut stale = false;
            let mut i = 0;
            while i < path.len() {
                if path[i] == b'/' {
                    i += 1;
                    continue;
                }
                let start = i;
                while i < path.len() && path[i] != b'/' {
                    i += 1;
                }
                if st.is_some_and(|s| s.st_mode & S_IFMT == S_IFLNK) {
                    return Ok(Walked::LinkOnWay);
                }
                match self.child(at, &path[start..i], &path[..i], ask) {
                    None => {
                        stale = true;
                        break;
                    }
                    Some(r) => {
                        let (r, s) = r?;
                        at = r;
                        st = Some(s);
                    }
                }
            }
            if !stale {
                return match st {
                    Some(st) => Ok(Walked::Found(at, st)),
                    None => Err(Errno::ENOENT),
                };
            }
        }
        let st = self.ask(ask, path)?;
        Ok(Walked::Found(
            DentryRef {
                gen: u32::MAX,
                node: u32::MAX,
            },
            st,
        ))
    }

    /// A symlink's target: kept on its node, else read by `read` (and kept).
    pub fn link(
        &self,
        at: DentryRef,
        read: impl FnOnce() -> Result<Vec<u8>, Errno>,
    ) -> Result<Vec<u8>, Errno> {
        if let Some(t) = self.tree().live(at).and_then(|n| n.link.clone()) {
            return Ok(t);
        }
        let target = read()?;
        if let Some(n) = self.tree().live_mut(at) {
            n.link = Some(target.clone());
        }
        Ok(target)
    }
}

impl Tree {
    fn live(&self, r: DentryRef) -> Option<&Node> {
        (r.gen == self.gen).then(|| self.nodes.get(r.node as usize))?
    }

    fn live_mut(&mut self, r: DentryRef) -> Option<&mut Node> {
        (r.gen == self.gen).then(|| self.nodes.get_mut(r.node as usize))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    fn st(mode: u32) -> Stat {
        Stat {
            st_mode: mode,
            ..Stat::default()
        }
    }

    /// A fake host: `/`, `/a`, `/a/b` (a file), `/l` (a link).
    fn host(asked: &RefCell<Vec<Vec<u8>>>) -> impl Fn(&[u8]) -> Result<Stat, Errno> + '_ {
        move |p: &[u8]| {
            asked.borrow_mut().push(p.to_vec());
            match p {
                b"/" | b"/a" => Ok(st(S_IFDIR | 0o755)),
                b"/a/b" => Ok(st(0o100644)),
                b"/l" => Ok(st(S_IFLNK | 0o777)),
                _ => Err(Errno::ENOENT),
            }
        }
    }

    #[test]
    fn each_name_is_asked_once() {
        let asked = RefCell::new(vec![]);
        let h = host(&asked);
        let d = Dentries::default();
        for _ in 0..3 {
            assert!(
                matches!(d.walk(b"/a/b", &h), Ok(Walked::Found(_, s)) if s.st_mode == 0o100644)
            );
            assert_eq!(d.walk(b"/a/x", &h).err(), Some(Errno::ENOENT));
            assert_eq!(d.walk(b"/a/b/c", &h).err(), Some(Errno::ENOTDIR));
            assert!(matches!(d.walk(b"/l/x", &h), Ok(Walked::LinkOnWay)));
        }
        let asked = asked.borrow();
        assert_eq!(asked.len(), 5, "{asked:?}");
        assert_eq!(d.asked(), 5);
        let Ok(Walked::Found(a, _)) = d.walk(b"/a", &h) else {
            panic!("no /a");
        };
        assert!(matches!(d.child(a, b"b", b"/a/b", &h), Some(Ok(_))));
        assert_eq!(d.link(a, || Ok(b"t".to_vec())), Ok(b"t".to_vec()));
        assert_eq!(d.link(a, || Err(Errno::EIO)), Ok(b"t".to_vec()));
    }

    #[test]
    fn a_full_arena_empties_and_old_references_go_stale() {
        let asked = RefCell::new(vec![]);
        let h = host(&asked);
        let d = Dentries::default();
        let Ok(Walked::Found(a, _)) = d.walk(b"/a", &h) else {
            panic!("no /a");
        };
        {
            let mut t = d.tree();
            while t.nodes.len() < MAX_NODES {
                t.nodes.push(Node {
                    stat: Err(Errno::ENOENT),
                    link: None,
                    children: HashMap::new(),
                });
            }
        }
        // The lookup that finds it full still answers; after it, `a` is stale.
        assert!(matches!(d.child(a, b"b", b"/a/b", &h), Some(Ok(_))));
        assert!(d.child(a, b"b", b"/a/b", &h).is_none());
        assert!(matches!(d.walk(b"/a/b", &h), Ok(Walked::Found(..))));
        assert_eq!(DentryRef::from_bits(a.to_bits()), a);
        // A name no host takes is refused, not kept.
        let long = [b'n'; NAME_MAX + 1];
        let before = d.asked();
        let (root, _) = match d.walk(b"/", &h) {
            Ok(Walked::Found(r, s)) => (r, s),
            _ => panic!("no root"),
        };
        assert_eq!(
            d.child(root, &long, b"/nnn", &h).and_then(|r| r.err()),
            Some(Errno::ENAMETOOLONG)
        );
        assert_eq!(d.asked(), before, "the host was asked");
    }
}
