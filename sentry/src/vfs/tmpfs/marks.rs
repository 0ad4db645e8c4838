//! What the overlay ([`crate::vfs::overlay`]) records about its lower layer in the tmpfs
//! that is its upper layer, kept on the directories concerned (as overlayfs keeps its
//! whiteouts and opaque markers in the upper directory): a **whiteout** is a lower-layer name
//! a directory hides (the guest removed it), an **opaque** directory hides the whole lower
//! directory of its name (the guest made it where a removed one was). Keyed by directory
//! entry, not by path: a check costs one lookup per name on the way, and a removed or moved
//! directory takes its marks with it.
//!
//! Paths here are relative to the tmpfs root and normalized (no `.`, `..` or symlinks on
//! the way), as the overlay gives them. Another tmpfs never sets a mark.

use std::collections::HashSet;

use snare_abi::Errno;

use super::{components, Tmpfs, WalkEntry, ROOT_INO};

/// What one step of the overlay's walk found in the upper layer ([`Tmpfs::walk_marked`]).
#[derive(Debug)]
pub struct MarkedStep {
    /// The child, if the upper layer has it: its inode, what it is, and (a directory)
    /// whether it is opaque.
    pub child: Option<(u64, WalkEntry, bool)>,
    /// Whether the directory hides the lower layer's child of that name.
    pub hides: bool,
}

impl Tmpfs {
    /// Whether the lower layer's `path` is hidden: a directory on its way is opaque or
    /// whites out the next name, or a non-directory of this layer stands on its way.
    pub fn hides(&self, path: &[u8]) -> bool {
        let st = self.lock();
        let mut dir = ROOT_INO;
        for c in components(path) {
            let Ok(d) = st.dir(dir) else {
                return true;
            };
            if d.opaque || d.whiteouts.contains(c) {
                return true;
            }
            match d.lookup(c) {
                Some(child) => dir = child,
                None => return false,
            }
        }
        false
    }

    /// Whether this layer leaves the lower layer's `path` alone: a name on its way is
    /// missing here and nothing before it hides it (so the lower layer alone answers).
    pub fn leaves(&self, path: &[u8]) -> bool {
        let st = self.lock();
        let mut dir = ROOT_INO;
        for c in components(path) {
            let Ok(d) = st.dir(dir) else {
                return false;
            };
            if d.opaque || d.whiteouts.contains(c) {
                return false;
            }
            match d.lookup(c) {
                Some(child) => dir = child,
                None => return true,
            }
        }
        false
    }

    /// One step of the overlay's walk from directory inode `dir` (as
    /// [`Tmpfs::walk_child`], symlink targets included).
    pub fn walk_marked(&self, dir: u64, name: &[u8]) -> Result<MarkedStep, Errno> {
        let mut st = self.lock();
        let d = st.dir(dir)?;
        let hides = d.opaque || d.whiteouts.contains(name);
        let child = match st.walk_child(dir, name) {
            Ok((ino, entry)) => {
                let opaque = st.dir(ino).is_ok_and(|d| d.opaque);
                Some((ino, entry, opaque))
            }
            Err(Errno::ENOENT) => None,
            Err(e) => return Err(e),
        };
        Ok(MarkedStep { child, hides })
    }

    /// Whether directory `path` is opaque.
    pub fn is_opaque(&self, path: &[u8]) -> bool {
        let st = self.lock();
        st.lookup(path, false)
            .and_then(|ino| st.dir(ino).map(|d| d.opaque))
            .unwrap_or(false)
    }

    /// Makes directory `path` opaque (or not).
    pub fn set_opaque(&self, path: &[u8], on: bool) -> Result<(), Errno> {
        let mut st = self.lock();
        let ino = st.lookup(path, false)?;
        st.dir_mut(ino)?.opaque = on;
        Ok(())
    }

    /// Records (or drops) a whiteout of `path`'s last name in its parent directory, which
    /// must exist here; says whether one was there before. A directory's changed entries
    /// change its times, as the removal they stand for would.
    pub fn set_whiteout(&self, path: &[u8], on: bool) -> Result<bool, Errno> {
        let name = components(path).next_back().ok_or(Errno::EBUSY)?;
        let parent = &path[..path.len() - name.len()];
        let mut st = self.lock();
        let dir = st.lookup(parent, false)?;
        let d = st.dir_mut(dir)?;
        let had = if on {
            !d.whiteouts.insert(name.to_vec())
        } else {
            d.whiteouts.remove(name)
        };
        if on {
            st.node_mut(dir)?.touch_modified();
        }
        Ok(had)
    }

    /// The lower-layer names directory `path` whites out.
    pub fn whiteouts(&self, path: &[u8]) -> Result<HashSet<Vec<u8>>, Errno> {
        let st = self.lock();
        let ino = st.lookup(path, false)?;
        Ok(st.dir(ino)?.whiteouts.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whiteouts_and_opaque_directories_hide_the_lower_layer() {
        let t = Tmpfs::new();
        t.mkdir(b"a", 0o755, 0).expect("tmpfs");
        assert!(!t.hides(b"a/x") && !t.hides(b"b/c"));
        assert!(!t.leaves(b"a") && t.leaves(b"a/x") && t.leaves(b"b/c"));
        assert!(!t.set_whiteout(b"a/x", true).expect("tmpfs"));
        assert!(t.set_whiteout(b"a/x", true).expect("tmpfs"));
        assert!(t.hides(b"a/x") && t.hides(b"a/x/y") && !t.hides(b"a/z"));
        assert!(!t.leaves(b"a/x") && t.leaves(b"a/z"));
        assert_eq!(t.whiteouts(b"a").expect("tmpfs").len(), 1);
        let step = t.walk_marked(super::ROOT_INO, b"a").expect("tmpfs");
        let (ino, _, opaque) = step.child.expect("tmpfs");
        assert!(!step.hides && !opaque);
        assert!(t.walk_marked(ino, b"x").expect("tmpfs").hides);
        t.set_opaque(b"a", true).expect("tmpfs");
        assert!(t.is_opaque(b"a") && t.hides(b"a/z"));
        assert!(
            t.walk_marked(super::ROOT_INO, b"a")
                .expect("tmpfs")
                .child
                .expect("tmpfs")
                .2
        );
        // A file of this layer on the way hides what the lower layer has below its name.
        t.open(
            b"f",
            snare_abi::file::o::CREAT | snare_abi::file::o::WRONLY,
            0o644,
            0,
        )
        .expect("tmpfs");
        assert!(t.hides(b"f/g") && !t.hides(b"f"));
        // Removing the directory takes its marks with it.
        assert!(t.set_whiteout(b"a/x", false).expect("tmpfs"));
        t.rmdir(b"a").expect("tmpfs");
        assert!(!t.hides(b"a/x") && !t.is_opaque(b"a"));
        assert_eq!(t.set_whiteout(b"a/x", true), Err(Errno::ENOENT));
    }
}
