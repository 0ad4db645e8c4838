use std::path::PathBuf;

use snare_platform::xattr;

use super::*;
use crate::vfs::filesystem::{Entry, Filesystem};

/// A host directory as the lower layer, removed when dropped.
struct Lower(PathBuf);

impl Drop for Lower {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn xattrs_read_from_the_lower_file_and_copy_up_with_it() {
    let dir = std::env::temp_dir().join(format!("snare-overlay-xattr-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("d")).expect("dir");
    let lower = Lower(dir);
    let f = lower.0.join("d/f");
    std::fs::write(&f, b"data").expect("file");
    if xattr::set(&f, c"user.low", b"1", 0) == Err(Errno::EOPNOTSUPP) {
        return; // A host /tmp without user attributes: nothing to check here.
    }
    let ov = Overlay::new(HostRoot::open(&lower.0).expect("root"), 0, 0);
    assert_eq!(ov.getxattr(b"/d/f", b"user.low"), Ok(b"1".to_vec()));
    assert_eq!(ov.getxattr(b"/d/f", b"user.no"), Err(Errno::ENODATA));
    assert_eq!(ov.getxattr(b"/d/f", b"foo.no"), Err(Errno::EOPNOTSUPP));
    assert_eq!(ov.listxattr(b"/d/f"), Ok(vec![b"user.low".to_vec()]));
    // Removing what the lower file lacks copies nothing up.
    assert_eq!(ov.removexattr(b"/d/f", b"user.no"), Err(Errno::ENODATA));
    assert!(ov.untouched(b"/d/f"));
    // A change copies the file up with its attributes; the host keeps its own.
    let create = snare_abi::file::xattr::XATTR_CREATE;
    assert_eq!(
        ov.setxattr(b"/d/f", b"user.low", b"2", create),
        Err(Errno::EEXIST)
    );
    ov.setxattr(b"/d/f", b"user.up", b"2", create).expect("set");
    assert!(!ov.untouched(b"/d/f"));
    let mut names = ov.listxattr(b"/d/f").expect("list");
    names.sort();
    assert_eq!(names, vec![b"user.low".to_vec(), b"user.up".to_vec()]);
    ov.removexattr(b"/d/f", b"user.low").expect("remove");
    assert_eq!(ov.listxattr(b"/d/f"), Ok(vec![b"user.up".to_vec()]));
    assert_eq!(xattr::get(&f, c"user.low"), Ok(b"1".to_vec()));
    assert_eq!(xattr::get(&f, c"user.up"), Err(Errno::ENODATA));
    assert_eq!(std::fs::read(&f).expect("read"), b"data");
}

/// Walks `path` one name at a time, as the resolver does, returning the last entry.
fn walk(ov: &Overlay, path: &[u8]) -> Result<Entry, Errno> {
    let (mut at, mut cur, mut last) = (None, Vec::new(), Entry::Other);
    for name in path.split(|&b| b == b'/').filter(|n| !n.is_empty()) {
        cur.push(b'/');
        cur.extend_from_slice(name);
        let (e, c) = Filesystem::step(ov, &crate::kernel::mounts::Boot, &cur, name, at)?;
        (at, last) = (c, e);
    }
    Ok(last)
}

#[test]
fn walks_ask_each_host_name_once_and_see_the_guests_removals() {
    let dir = std::env::temp_dir().join(format!("snare-overlay-walk-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("a/b/c")).expect("dir");
    let lower = Lower(dir);
    for f in ["a/b/c/f", "a/x", "a/b/y"] {
        std::fs::write(lower.0.join(f), b"data").expect("file");
    }
    let ov = Overlay::new(HostRoot::open(&lower.0).expect("root"), 0, 0);
    assert_eq!(walk(&ov, b"/a/b/c/f"), Ok(Entry::Other));
    assert_eq!(walk(&ov, b"/a/b/nope"), Err(Errno::ENOENT));
    let asked = ov.lower().asked();
    for _ in 0..3 {
        assert_eq!(walk(&ov, b"/a/b/c/f"), Ok(Entry::Other));
        assert_eq!(walk(&ov, b"/a/b/nope"), Err(Errno::ENOENT));
        assert!(ov.stat(b"/a/b/c").is_ok_and(|s| is_dir(&s)));
    }
    assert_eq!(ov.lower().asked(), asked, "a host name was asked twice");
    // A removal whites the name out in its (now copied-up) directory: the walk through
    // the merged directories no longer finds it, and finds the rest.
    ov.unlink(b"/a/b/c/f").expect("unlink");
    assert_eq!(walk(&ov, b"/a/b/c/f"), Err(Errno::ENOENT));
    assert_eq!(walk(&ov, b"/a/b/y"), Ok(Entry::Other));
    assert!(ov.untouched(b"/a/x") && !ov.untouched(b"/a/b/c/f"));
    assert_eq!(ov.list(b"/a/b/c").expect("list"), vec![]);
    // The emptied directory goes; made again, it is opaque (empty) and moves away.
    ov.rmdir(b"/a/b/c").expect("rmdir");
    assert_eq!(walk(&ov, b"/a/b/c"), Err(Errno::ENOENT));
    ov.mkdir(b"/a/b/c", 0o755, 0).expect("mkdir");
    assert_eq!(ov.list(b"/a/b/c").expect("list"), vec![]);
    ov.rename(b"/a/b/c", b"/a/c2", 0).expect("rename");
    assert_eq!(walk(&ov, b"/a/b/c"), Err(Errno::ENOENT));
    assert!(matches!(walk(&ov, b"/a/c2"), Ok(Entry::Dir(_))));
    assert!(lower.0.join("a/b/c/f").exists(), "the host changed");
}
