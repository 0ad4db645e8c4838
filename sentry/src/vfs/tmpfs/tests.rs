use super::*;

const RW: u32 = o::RDWR;
const CREAT: u32 = o::CREAT | o::RDWR;

fn open(fs: &Tmpfs, path: &str, flags: u32) -> Result<Arc<TmpfsFile>, Errno> {
    fs.open_file(path.as_bytes(), flags, 0o666, 0o022)
}

fn must(fs: &Tmpfs, path: &str, flags: u32) -> Arc<TmpfsFile> {
    open(fs, path, flags).expect("open")
}

fn create(fs: &Tmpfs, path: &str, data: &[u8]) {
    let f = must(fs, path, CREAT | o::TRUNC);
    assert_eq!(f.write(data).expect("write"), data.len());
}

fn contents(fs: &Tmpfs, path: &str) -> Vec<u8> {
    let f = must(fs, path, o::RDONLY);
    let mut out = vec![];
    let mut buf = [0u8; 1000];
    loop {
        let n = f.read(&mut buf).expect("read");
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

fn stat(fs: &Tmpfs, path: &str) -> Stat {
    fs.stat(path.as_bytes(), true).expect("stat")
}

fn lstat(fs: &Tmpfs, path: &str) -> Stat {
    fs.stat(path.as_bytes(), false).expect("lstat")
}

fn err<T: std::fmt::Debug>(r: Result<T, Errno>) -> Errno {
    r.expect_err("expected an error")
}

/// One decoded `linux_dirent64`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ent {
    ino: u64,
    off: i64,
    dtype: u8,
    name: String,
}

fn decode(buf: &[u8]) -> Vec<Ent> {
    let mut out = vec![];
    let mut at = 0;
    while at < buf.len() {
        let r = &buf[at..];
        let word = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&r[i..i + 8]);
            b
        };
        let ino = u64::from_ne_bytes(word(0));
        let off = i64::from_ne_bytes(word(8));
        let reclen = usize::from(u16::from_ne_bytes([r[16], r[17]]));
        let dtype = r[18];
        let name_bytes = &r[19..reclen];
        let end = name_bytes
            .iter()
            .position(|&b| b == 0)
            .expect("NUL-terminated name");
        assert_eq!(reclen % 8, 0, "records are 8-aligned");
        out.push(Ent {
            ino,
            off,
            dtype,
            name: String::from_utf8_lossy(&name_bytes[..end]).into_owned(),
        });
        at += reclen;
    }
    out
}

/// Calls getdents with `max`-byte buffers until it returns nothing.
fn list_with(f: &TmpfsFile, max: usize) -> Vec<Ent> {
    let mut all = vec![];
    loop {
        let mut buf = vec![];
        f.getdents(&mut buf, max).expect("getdents");
        if buf.is_empty() {
            return all;
        }
        all.extend(decode(&buf));
    }
}

fn names(fs: &Tmpfs, dir: &str) -> Vec<String> {
    let f = must(fs, dir, o::RDONLY | o::DIRECTORY);
    list_with(&f, 4096).into_iter().map(|e| e.name).collect()
}

/// `nr_inodes` and `size` give ENOSPC; freed ones come back; heap pages and inodes are
/// charged to the memory file.
#[test]
fn size_and_inode_limits() {
    let mem = Arc::new(MemoryFile::new(1 << 24).expect("memory file"));
    let fs = Tmpfs::new();
    fs.set_limits(Some(mem.clone()), 2 * PAGE64, 3);
    let f = open(&fs, "a", CREAT).expect("a");
    fs.mkdir(b"d", 0o755, 0).expect("d");
    assert_eq!(err(open(&fs, "b", CREAT)), Errno::ENOSPC, "root, a, d");
    assert_eq!(err(fs.mkdir(b"e", 0o755, 0)), Errno::ENOSPC);
    assert_eq!(err(fs.symlink(b"a", b"l")), Errno::ENOSPC);
    assert_eq!(mem.used(), 2 * INODE_COST, "the root was there before");
    assert_eq!(f.write(&[1; 2 * PAGE]), Ok(2 * PAGE));
    assert_eq!(mem.used(), 2 * INODE_COST + 2 * PAGE64);
    assert_eq!(f.write(&[1]), Err(Errno::ENOSPC));
    let words =
        |b: [u8; 120], i: usize| i64::from_ne_bytes(b[8 * i..8 * i + 8].try_into().expect("8"));
    let sf = fs.statfs();
    assert_eq!(
        (words(sf, 2), words(sf, 3), words(sf, 5), words(sf, 6)),
        (2, 0, 3, 0)
    );
    fs.rmdir(b"d").expect("rmdir");
    f.truncate(PAGE64).expect("truncate");
    assert_eq!(mem.used(), INODE_COST + PAGE64);
    open(&fs, "b", CREAT).expect("an inode is free again");
    assert_eq!(f.write(&[1]), Ok(1), "a page is free again");
}

#[test]
fn xattrs_follow_the_inode_and_count_against_the_limits() {
    use crate::vfs::xattr::{ENTRY_COST, MAX_BYTES_PER_INODE};
    use snare_abi::file::xattr::{XATTR_CREATE, XATTR_REPLACE};
    let mem = Arc::new(MemoryFile::new(1 << 24).expect("memory file"));
    let fs = Tmpfs::new();
    fs.set_limits(Some(mem.clone()), 64 * PAGE64, 100);
    create(&fs, "a", b"A");
    fs.setxattr(b"a", b"user.k", b"v", XATTR_CREATE, false)
        .expect("set");
    assert_eq!(
        err(fs.setxattr(b"a", b"user.k", b"w", XATTR_CREATE, false)),
        Errno::EEXIST
    );
    assert_eq!(
        err(fs.setxattr(b"a", b"user.n", b"w", XATTR_REPLACE, false)),
        Errno::ENODATA
    );
    assert_eq!(err(fs.getxattr(b"a", b"user.n", false)), Errno::ENODATA);
    assert_eq!(err(fs.getxattr(b"a", b"foo.n", false)), Errno::EOPNOTSUPP);
    assert_eq!(
        err(fs.setxattr(b"a", b"system.posix_acl_access", b"", 0, false)),
        Errno::EOPNOTSUPP
    );
    assert_eq!(
        err(fs.setxattr(b"a", b"user.", b"", 0, false)),
        Errno::EINVAL
    );
    fs.setxattr(b"a", b"trusted.t", b"", 0, false)
        .expect("trusted");
    // Renames and hard links keep them: they belong to the inode.
    fs.rename(b"a", b"b", 0).expect("rename");
    fs.link(b"b", b"c").expect("link");
    assert_eq!(fs.getxattr(b"c", b"user.k", false), Ok(b"v".to_vec()));
    assert_eq!(
        fs.listxattr(b"b", false),
        Ok(vec![b"trusted.t".to_vec(), b"user.k".to_vec()])
    );
    // A symlink's own attributes, or its target's.
    fs.symlink(b"b", b"l").expect("symlink");
    assert_eq!(fs.listxattr(b"l", false), Ok(vec![]));
    assert_eq!(fs.getxattr(b"l", b"user.k", true), Ok(b"v".to_vec()));
    fs.removexattr(b"c", b"user.k", false).expect("remove");
    assert_eq!(err(fs.removexattr(b"c", b"user.k", false)), Errno::ENODATA);
    assert_eq!(
        err(fs.getxattr(b"missing", b"user.k", false)),
        Errno::ENOENT
    );

    // Counted against size= and the memory limit, and given back when the file goes.
    let used = fs.lock().used;
    let mem_used = mem.used();
    let big = vec![1u8; 65_536];
    fs.setxattr(b"b", b"user.big", &big, 0, false).expect("big");
    let cost = ENTRY_COST + 8 + 65_536;
    assert_eq!(fs.lock().used, used + cost);
    assert_eq!(mem.used(), mem_used + cost);
    // Past the per-inode bound: ENOSPC, and nothing changes.
    let r = fs.setxattr(b"b", b"user.big2", &big, 0, false);
    assert_eq!(err(r), Errno::ENOSPC);
    assert!(fs
        .lock()
        .inodes
        .values()
        .all(|n| n.xattrs.bytes() <= MAX_BYTES_PER_INODE));
    assert_eq!(fs.lock().used, used + cost);
    // Past size=: 64 pages hold a few such inodes at most.
    let mut made = 0;
    let e = loop {
        let name = format!("f{made}");
        create(&fs, &name, b"");
        match fs.setxattr(name.as_bytes(), b"user.big", &big, 0, false) {
            Ok(()) => made += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(e, Errno::ENOSPC);
    assert!(made < 5, "{made}");
    for i in 0..=made {
        fs.unlink(format!("f{i}").as_bytes()).expect("unlink");
    }
    fs.unlink(b"b").expect("unlink b");
    fs.unlink(b"c").expect("unlink c");
    assert_eq!(
        fs.lock().used,
        b"b".len() as u64,
        "the symlink's target is left"
    );
    assert_eq!(
        mem.used(),
        INODE_COST,
        "the symlink (the root came before the limit)"
    );
}

#[test]
fn create_write_read_back() {
    let fs = Tmpfs::with_owner(1000, 100);
    let f = must(&fs, "a.txt", CREAT);
    assert_eq!(f.write(b"hello world").expect("write"), 11);
    assert_eq!(f.seek(0, SEEK_SET).expect("seek"), 0);
    let mut buf = [0u8; 5];
    assert_eq!(f.read(&mut buf).expect("read"), 5);
    assert_eq!(&buf, b"hello");
    assert_eq!(f.seek(0, SEEK_CUR).expect("seek"), 5);
    assert_eq!(f.seek(-5, SEEK_END).expect("seek"), 6);
    assert_eq!(err(f.seek(-100, SEEK_END)), Errno::EINVAL);
    assert_eq!(f.path(), b"/tmp/a.txt");
    let s = f.stat().expect("fstat");
    assert_eq!(s.st_mode, S_IFREG | 0o644);
    assert_eq!((s.st_uid, s.st_gid), (1000, 100));
    assert_eq!(s.st_size, 11);
    assert_eq!(s.st_nlink, 1);
    assert_eq!(s.st_blocks, 8);
    assert_eq!(s.st_blksize, 4096);
    assert_eq!(s.st_dev, TMPFS_DEV);
    assert_eq!(contents(&fs, "a.txt"), b"hello world");
    // Another file gets another inode.
    create(&fs, "b.txt", b"");
    assert_ne!(stat(&fs, "b.txt").st_ino, s.st_ino);
    // Access modes.
    let r = must(&fs, "a.txt", o::RDONLY);
    assert_eq!(err(r.write(b"x")), Errno::EBADF);
    assert_eq!(err(r.pwrite(b"x", 0)), Errno::EBADF);
    let w = must(&fs, "a.txt", o::WRONLY);
    assert_eq!(err(w.read(&mut buf)), Errno::EBADF);
    assert_eq!(err(w.pread(&mut buf, 0)), Errno::EBADF);
    assert_eq!(w.status_flags() & o::ACCMODE, o::WRONLY);
    // pread/pwrite leave the offset alone.
    assert_eq!(w.pwrite(b"HELLO", 0).expect("pwrite"), 5);
    assert_eq!(w.seek(0, SEEK_CUR).expect("seek"), 0);
    assert_eq!(r.pread(&mut buf, 0).expect("pread"), 5);
    assert_eq!(&buf, b"HELLO");
    assert_eq!(r.pread(&mut buf, 100).expect("pread past end"), 0);
    // Missing files.
    assert_eq!(err(open(&fs, "nope", RW)), Errno::ENOENT);
    assert_eq!(err(open(&fs, "nope/x", CREAT)), Errno::ENOENT);
    assert_eq!(err(fs.stat(b"nope", true)), Errno::ENOENT);
}

#[test]
fn umask_and_root() {
    let fs = Tmpfs::new();
    let root = stat(&fs, "");
    assert_eq!(root.st_mode, S_IFDIR | 0o1777);
    assert_eq!(root.st_ino, ROOT_INO);
    assert_eq!(root.st_nlink, 2);
    fs.open(b"f", CREAT, 0o777, 0o027).expect("create");
    assert_eq!(stat(&fs, "f").st_mode, S_IFREG | 0o750);
    fs.mkdir(b"d", 0o777, 0o022).expect("mkdir");
    assert_eq!(stat(&fs, "d").st_mode, S_IFDIR | 0o755);
    assert_eq!(must(&fs, "", o::RDONLY).path(), b"/tmp");
    assert_eq!(must(&fs, "d/", o::RDONLY).path(), b"/tmp/d");
}

#[test]
fn o_excl() {
    let fs = Tmpfs::new();
    must(&fs, "x", CREAT | o::EXCL);
    assert_eq!(err(open(&fs, "x", CREAT | o::EXCL)), Errno::EEXIST);
    // O_CREAT without O_EXCL opens the existing file.
    must(&fs, "x", CREAT);
    // O_EXCL doesn't follow a final symlink, even a dangling one.
    fs.symlink(b"missing", b"dangling").expect("symlink");
    assert_eq!(err(open(&fs, "dangling", CREAT | o::EXCL)), Errno::EEXIST);
    fs.mkdir(b"d", 0o755, 0).expect("mkdir");
    assert_eq!(err(open(&fs, "d", CREAT | o::EXCL)), Errno::EEXIST);
    assert_eq!(err(open(&fs, "d", o::CREAT | o::RDONLY)), Errno::EISDIR);
}

#[test]
fn o_trunc() {
    let fs = Tmpfs::new();
    create(&fs, "t", b"some data");
    let f = must(&fs, "t", o::WRONLY | o::TRUNC);
    assert_eq!(f.stat().expect("fstat").st_size, 0);
    assert_eq!(contents(&fs, "t"), b"");
    f.write(b"ab").expect("write");
    assert_eq!(contents(&fs, "t"), b"ab");
    fs.mkdir(b"d", 0o755, 0).expect("mkdir");
    assert_eq!(err(open(&fs, "d", o::RDONLY | o::TRUNC)), Errno::EISDIR);
}

#[test]
fn append() {
    let fs = Tmpfs::new();
    create(&fs, "log", b"1");
    let a = must(&fs, "log", o::WRONLY | o::APPEND);
    let b = must(&fs, "log", o::WRONLY | o::APPEND);
    a.write(b"2").expect("write");
    b.write(b"3").expect("write");
    a.write(b"4").expect("write");
    assert_eq!(a.seek(0, SEEK_CUR).expect("seek"), 4);
    // pwrite on an O_APPEND description appends, as on Linux.
    a.pwrite(b"5", 0).expect("pwrite");
    assert_eq!(contents(&fs, "log"), b"12345");
    assert_eq!(a.status_flags() & o::APPEND, o::APPEND);
    // F_SETFL can drop O_APPEND (but not change the access mode).
    a.set_status_flags(o::RDWR);
    assert_eq!(a.status_flags(), o::WRONLY);
    a.seek(0, SEEK_SET).expect("seek");
    a.write(b"X").expect("write");
    assert_eq!(contents(&fs, "log"), b"X2345");
    a.set_status_flags(o::APPEND | o::NONBLOCK);
    assert_eq!(a.status_flags(), o::WRONLY | o::APPEND | o::NONBLOCK);
}

#[test]
fn sparse_write_and_holes() {
    let fs = Tmpfs::new();
    let f = must(&fs, "s", CREAT);
    f.pwrite(b"tail", 10000).expect("pwrite");
    let s = f.stat().expect("fstat");
    assert_eq!(s.st_size, 10004);
    // Only the page holding the data is allocated (Linux tmpfs counts pages too).
    assert_eq!(s.st_blocks, 8);
    let data = contents(&fs, "s");
    assert_eq!(data.len(), 10004);
    assert!(data[..10000].iter().all(|&b| b == 0));
    assert_eq!(&data[10000..], b"tail");
    assert_eq!(f.seek(0, SEEK_DATA).expect("SEEK_DATA"), 8192);
    assert_eq!(f.seek(0, SEEK_HOLE).expect("SEEK_HOLE"), 0);
    assert_eq!(f.seek(9000, SEEK_HOLE).expect("SEEK_HOLE"), 10004);
    assert_eq!(err(f.seek(20000, SEEK_DATA)), Errno::ENXIO);
    // Writing after seeking past the end zero-fills the gap.
    f.seek(10010, SEEK_SET).expect("seek");
    f.write(b"!").expect("write");
    let data = contents(&fs, "s");
    assert_eq!(&data[10000..], b"tail\0\0\0\0\0\0!");
    // No data past the last page but a hole up to the size: SEEK_DATA is ENXIO.
    f.set_len(40000).expect("ftruncate");
    assert_eq!(err(f.seek(12288, SEEK_DATA)), Errno::ENXIO);
    assert_eq!(f.seek(12288, SEEK_HOLE).expect("SEEK_HOLE"), 12288);
    // Past 4 GiB, sparse: one page allocated; the holes cost nothing to skip.
    f.pwrite(b"far", 0x1_4000_0000).expect("pwrite far");
    assert_eq!(f.stat().expect("fstat").st_size, 0x1_4000_0003);
    assert_eq!(f.stat().expect("fstat").st_blocks, 16);
    assert_eq!(f.seek(12288, SEEK_DATA).expect("SEEK_DATA"), 0x1_4000_0000);
    let mut b = [0u8; 3];
    assert_eq!(f.pread(&mut b, 0x1_4000_0000).expect("pread"), 3);
    assert_eq!(&b, b"far");
    // Shrinking then growing reads zeros where data was.
    f.set_len(10002).expect("ftruncate");
    f.set_len(10008).expect("ftruncate");
    assert_eq!(&contents(&fs, "s")[10000..], b"ta\0\0\0\0\0\0");
    fs.truncate(b"s", 0).expect("truncate");
    assert_eq!(stat(&fs, "s").st_blocks, 0);
}

#[test]
fn getdents_lists_in_creation_order() {
    let fs = Tmpfs::new();
    fs.mkdir(b"d", 0o755, 0).expect("mkdir");
    create(&fs, "d/b", b"");
    create(&fs, "d/a", b"");
    fs.mkdir(b"d/sub", 0o755, 0).expect("mkdir");
    fs.symlink(b"a", b"d/ln").expect("symlink");
    let d = must(&fs, "d", o::RDONLY | o::DIRECTORY);
    let ents = list_with(&d, 4096);
    let got: Vec<(&str, u8)> = ents.iter().map(|e| (&e.name[..], e.dtype)).collect();
    assert_eq!(
        got,
        [
            (".", DT_DIR),
            ("..", DT_DIR),
            ("b", DT_REG),
            ("a", DT_REG),
            ("sub", DT_DIR),
            ("ln", DT_LNK)
        ]
    );
    assert_eq!(ents[0].ino, stat(&fs, "d").st_ino);
    assert_eq!(ents[1].ino, ROOT_INO);
    assert_eq!(ents[3].ino, stat(&fs, "d/a").st_ino);
    // d_off of each record is a cursor: seeking to it resumes after the record.
    d.seek(ents[2].off, SEEK_SET).expect("seek");
    let rest: Vec<String> = list_with(&d, 4096).into_iter().map(|e| e.name).collect();
    assert_eq!(rest, ["a", "sub", "ln"]);
    // Rewind and read one record at a time.
    d.seek(0, SEEK_SET).expect("rewind");
    assert_eq!(list_with(&d, 24), ents);
    // A buffer too small for one record.
    d.seek(0, SEEK_SET).expect("rewind");
    let mut buf = vec![];
    assert_eq!(err(d.getdents(&mut buf, 10)), Errno::EINVAL);
    // Not a directory.
    let f = must(&fs, "d/a", o::RDONLY);
    assert_eq!(err(f.getdents(&mut buf, 4096)), Errno::ENOTDIR);
    let mut rbuf = [0u8; 4];
    assert_eq!(err(d.read(&mut rbuf)), Errno::EISDIR);
    assert_eq!(err(d.write(b"x")), Errno::EBADF);
}

#[test]
fn getdents_survives_removal_while_iterating() {
    let fs = Tmpfs::new();
    fs.mkdir(b"d", 0o755, 0).expect("mkdir");
    for n in ["e1", "e2", "e3", "e4", "e5"] {
        create(&fs, &format!("d/{n}"), b"");
    }
    let d = must(&fs, "d", o::RDONLY);
    // ".", "..", "e1" are 24 bytes each.
    let mut buf = vec![];
    d.getdents(&mut buf, 72).expect("getdents");
    let first: Vec<String> = decode(&buf).into_iter().map(|e| e.name).collect();
    assert_eq!(first, [".", "..", "e1"]);
    // Remove the one already seen, the next one and one further on; add one.
    for n in ["d/e1", "d/e2", "d/e4"] {
        fs.unlink(n.as_bytes()).expect("unlink");
    }
    create(&fs, "d/e6", b"");
    let rest: Vec<String> = list_with(&d, 4096).into_iter().map(|e| e.name).collect();
    assert_eq!(rest, ["e3", "e5", "e6"]);
    // An rmdir'ed directory that is still open: ENOENT, as Linux.
    fs.mkdir(b"gone", 0o755, 0).expect("mkdir");
    let g = must(&fs, "gone", o::RDONLY);
    fs.rmdir(b"gone").expect("rmdir");
    assert_eq!(err(g.getdents(&mut buf, 4096)), Errno::ENOENT);
    assert_eq!(g.stat().expect("fstat").st_nlink, 0);
}

#[test]
fn mkdir_rmdir_unlink_errors() {
    let fs = Tmpfs::new();
    fs.mkdir(b"d", 0o755, 0).expect("mkdir");
    assert_eq!(err(fs.mkdir(b"d", 0o755, 0)), Errno::EEXIST);
    assert_eq!(err(fs.mkdir(b"", 0o755, 0)), Errno::EEXIST);
    assert_eq!(err(fs.mkdir(b"d/..", 0o755, 0)), Errno::EEXIST);
    assert_eq!(err(fs.mkdir(b"no/sub", 0o755, 0)), Errno::ENOENT);
    create(&fs, "f", b"");
    assert_eq!(err(fs.mkdir(b"f", 0o755, 0)), Errno::EEXIST);
    assert_eq!(err(fs.mkdir(b"f/sub", 0o755, 0)), Errno::ENOTDIR);
    fs.mkdir(b"d/e/", 0o755, 0)
        .expect("mkdir with trailing slash");
    create(&fs, "d/e/g", b"");
    assert_eq!(err(fs.rmdir(b"d")), Errno::ENOTEMPTY);
    assert_eq!(err(fs.rmdir(b"f")), Errno::ENOTDIR);
    assert_eq!(err(fs.rmdir(b"")), Errno::EBUSY);
    assert_eq!(err(fs.rmdir(b"d/e/..")), Errno::ENOTEMPTY);
    assert_eq!(err(fs.rmdir(b"d/e/.")), Errno::EINVAL);
    assert_eq!(err(fs.rmdir(b"nope")), Errno::ENOENT);
    assert_eq!(err(fs.unlink(b"d")), Errno::EISDIR);
    assert_eq!(err(fs.unlink(b"")), Errno::EISDIR);
    assert_eq!(err(fs.unlink(b"nope")), Errno::ENOENT);
    assert_eq!(err(fs.unlink(b"f/")), Errno::ENOTDIR);
    assert_eq!(err(fs.unlink(b"f/x")), Errno::ENOTDIR);
    fs.unlink(b"d/e/g").expect("unlink");
    fs.rmdir(b"d/e/").expect("rmdir");
    fs.rmdir(b"d").expect("rmdir");
    assert_eq!(names(&fs, ""), [".", "..", "f"]);
    // Opening directories.
    fs.mkdir(b"d", 0o755, 0).expect("mkdir");
    assert_eq!(err(open(&fs, "d", o::WRONLY)), Errno::EISDIR);
    assert_eq!(err(open(&fs, "d", o::RDWR)), Errno::EISDIR);
    assert_eq!(
        err(open(&fs, "f", o::RDONLY | o::DIRECTORY)),
        Errno::ENOTDIR
    );
    assert_eq!(err(open(&fs, "f/", o::RDONLY)), Errno::ENOTDIR);
    assert_eq!(err(open(&fs, "new/", CREAT)), Errno::EISDIR);
    assert_eq!(err(fs.stat(b"f/", true)), Errno::ENOTDIR);
    let long = "x".repeat(256);
    assert_eq!(err(open(&fs, &long, CREAT)), Errno::ENAMETOOLONG);
}

#[test]
fn directory_nlink() {
    let fs = Tmpfs::new();
    assert_eq!(stat(&fs, "").st_nlink, 2);
    fs.mkdir(b"a", 0o755, 0).expect("mkdir");
    assert_eq!(stat(&fs, "").st_nlink, 3);
    assert_eq!(stat(&fs, "a").st_nlink, 2);
    fs.mkdir(b"a/b", 0o755, 0).expect("mkdir");
    create(&fs, "a/file", b"");
    assert_eq!(stat(&fs, "a").st_nlink, 3);
    fs.rename(b"a/b", b"b", 0).expect("rename");
    assert_eq!(stat(&fs, "a").st_nlink, 2);
    assert_eq!(stat(&fs, "").st_nlink, 4);
    fs.rmdir(b"b").expect("rmdir");
    assert_eq!(stat(&fs, "").st_nlink, 3);
}

#[test]
fn rename_cases() {
    let fs = Tmpfs::new();
    create(&fs, "a", b"A");
    create(&fs, "b", b"B");
    let ino_a = stat(&fs, "a").st_ino;
    // Over an existing file: the target is replaced.
    fs.rename(b"a", b"b", 0).expect("rename");
    assert_eq!(err(fs.stat(b"a", true)), Errno::ENOENT);
    assert_eq!(contents(&fs, "b"), b"A");
    assert_eq!(stat(&fs, "b").st_ino, ino_a);
    // To the same file (or another hard link of it): nothing happens.
    fs.rename(b"b", b"b", 0).expect("self");
    fs.link(b"b", b"b2").expect("link");
    fs.rename(b"b", b"b2", 0).expect("to own hard link");
    assert_eq!(stat(&fs, "b").st_nlink, 2);
    fs.unlink(b"b2").expect("unlink");
    // NOREPLACE.
    create(&fs, "c", b"C");
    assert_eq!(err(fs.rename(b"b", b"c", RENAME_NOREPLACE)), Errno::EEXIST);
    fs.rename(b"c", b"c2", RENAME_NOREPLACE)
        .expect("noreplace to free name");
    assert_eq!(err(fs.rename(b"c", b"c3", 0)), Errno::ENOENT);
    // EXCHANGE.
    fs.rename(b"b", b"c2", RENAME_EXCHANGE).expect("exchange");
    assert_eq!(contents(&fs, "b"), b"C");
    assert_eq!(contents(&fs, "c2"), b"A");
    assert_eq!(err(fs.rename(b"b", b"zz", RENAME_EXCHANGE)), Errno::ENOENT);
    assert_eq!(
        err(fs.rename(b"b", b"c2", RENAME_EXCHANGE | RENAME_NOREPLACE)),
        Errno::EINVAL
    );
    assert_eq!(err(fs.rename(b"b", b"c2", 8)), Errno::EINVAL);
    // Directories.
    fs.mkdir(b"d1", 0o755, 0).expect("mkdir");
    fs.mkdir(b"d2", 0o755, 0).expect("mkdir");
    fs.mkdir(b"full", 0o755, 0).expect("mkdir");
    create(&fs, "full/x", b"");
    create(&fs, "d1/inside", b"in");
    assert_eq!(err(fs.rename(b"d1", b"full", 0)), Errno::ENOTEMPTY);
    assert_eq!(err(fs.rename(b"d1", b"b", 0)), Errno::ENOTDIR);
    assert_eq!(err(fs.rename(b"b", b"d2", 0)), Errno::EISDIR);
    assert_eq!(err(fs.rename(b"b/", b"zz", 0)), Errno::ENOTDIR);
    fs.mkdir(b"d1/sub", 0o755, 0).expect("mkdir");
    assert_eq!(err(fs.rename(b"d1", b"d1/sub/d1", 0)), Errno::EINVAL);
    assert_eq!(err(fs.rename(b"d1", b"d1/sub", 0)), Errno::EINVAL);
    assert_eq!(err(fs.rename(b"", b"x", 0)), Errno::EBUSY);
    assert_eq!(err(fs.rename(b"b", b"", 0)), Errno::EBUSY);
    // Dir over an empty dir.
    let d2_ino = stat(&fs, "d2").st_ino;
    fs.rename(b"d1", b"d2", 0).expect("dir over empty dir");
    assert_ne!(stat(&fs, "d2").st_ino, d2_ino);
    assert_eq!(contents(&fs, "d2/inside"), b"in");
    // A moved directory's ".." follows it.
    fs.rename(b"d2", b"full/moved", 0).expect("move dir");
    let m = must(&fs, "full/moved", o::RDONLY);
    assert_eq!(m.path(), b"/tmp/full/moved");
    let ents = list_with(&m, 4096);
    assert_eq!(ents[1].ino, stat(&fs, "full").st_ino);
    assert_eq!(contents(&fs, "full/moved/sub/../inside"), b"in");
    assert_eq!(stat(&fs, "full").st_nlink, 3);
}

#[test]
fn symlinks() {
    let fs = Tmpfs::new();
    fs.mkdir(b"dir", 0o755, 0).expect("mkdir");
    create(&fs, "dir/file", b"target");
    fs.symlink(b"dir/file", b"rel").expect("symlink");
    assert_eq!(contents(&fs, "rel"), b"target");
    let l = lstat(&fs, "rel");
    assert_eq!(l.st_mode, S_IFLNK | 0o777);
    assert_eq!(l.st_size, 8);
    assert_eq!(stat(&fs, "rel").st_ino, stat(&fs, "dir/file").st_ino);
    assert_eq!(fs.readlink(b"rel").expect("readlink"), b"dir/file");
    assert_eq!(err(fs.readlink(b"dir/file")), Errno::EINVAL);
    assert_eq!(err(fs.readlink(b"nope")), Errno::ENOENT);
    // A chain, and a link relative to its own directory.
    fs.symlink(b"rel", b"chain").expect("symlink");
    fs.symlink(b"file", b"dir/sibling").expect("symlink");
    fs.symlink(b"../rel", b"dir/up").expect("symlink");
    assert_eq!(contents(&fs, "chain"), b"target");
    assert_eq!(contents(&fs, "dir/sibling"), b"target");
    assert_eq!(contents(&fs, "dir/up"), b"target");
    // Through a link to a directory.
    fs.symlink(b"dir", b"dl").expect("symlink");
    assert_eq!(contents(&fs, "dl/file"), b"target");
    assert_eq!(must(&fs, "dl/file", o::RDONLY).path(), b"/tmp/dir/file");
    assert_eq!(lstat(&fs, "dl/").st_mode & S_IFMT, S_IFDIR);
    // Absolute targets: inside the mount they resolve, elsewhere ENOENT.
    fs.symlink(b"/tmp/dir/file", b"abs").expect("symlink");
    fs.symlink(b"/tmp", b"absroot").expect("symlink");
    fs.symlink(b"/etc/passwd", b"out").expect("symlink");
    fs.symlink(b"/tmpx/file", b"out2").expect("symlink");
    assert_eq!(contents(&fs, "abs"), b"target");
    assert_eq!(contents(&fs, "absroot/dir/file"), b"target");
    assert_eq!(err(fs.stat(b"out", true)), Errno::ENOENT);
    assert_eq!(err(fs.stat(b"out2", true)), Errno::ENOENT);
    // Loops.
    fs.symlink(b"loop2", b"loop1").expect("symlink");
    fs.symlink(b"loop1", b"loop2").expect("symlink");
    assert_eq!(err(open(&fs, "loop1", RW)), Errno::ELOOP);
    assert_eq!(err(fs.stat(b"loop1/x", false)), Errno::ELOOP);
    fs.symlink(b"self", b"self").expect("symlink");
    assert_eq!(err(fs.stat(b"self", true)), Errno::ELOOP);
    assert_eq!(lstat(&fs, "self").st_mode & S_IFMT, S_IFLNK);
    // 40 hops are fine, 41 are not.
    fs.symlink(b"dir/file", b"h0").expect("symlink");
    for i in 1..=41 {
        let t = format!("h{}", i - 1);
        fs.symlink(t.as_bytes(), format!("h{i}").as_bytes())
            .expect("symlink");
    }
    assert_eq!(contents(&fs, "h39"), b"target");
    assert_eq!(err(fs.stat(b"h40", true)), Errno::ELOOP);
    // O_NOFOLLOW, O_PATH|O_NOFOLLOW.
    assert_eq!(err(open(&fs, "rel", RW | o::NOFOLLOW)), Errno::ELOOP);
    let p = must(&fs, "rel", o::PATH | o::NOFOLLOW);
    assert_eq!(p.stat().expect("fstat").st_mode & S_IFMT, S_IFLNK);
    let mut buf = [0u8; 4];
    assert_eq!(err(p.read(&mut buf)), Errno::EBADF);
    // O_CREAT through a dangling link creates its target.
    fs.symlink(b"dir/made", b"dangling").expect("symlink");
    create(&fs, "dangling", b"new");
    assert_eq!(contents(&fs, "dir/made"), b"new");
    // Errors.
    assert_eq!(err(fs.symlink(b"x", b"rel")), Errno::EEXIST);
    assert_eq!(err(fs.symlink(b"", b"empty")), Errno::ENOENT);
    assert_eq!(err(fs.chmod(b"rel", 0o600, false)), Errno::EOPNOTSUPP);
    fs.chmod(b"rel", 0o600, true).expect("chmod through link");
    assert_eq!(stat(&fs, "dir/file").st_mode, S_IFREG | 0o600);
    // unlink removes the link, not the target.
    fs.unlink(b"rel").expect("unlink");
    assert_eq!(contents(&fs, "dir/file"), b"target");
}

#[test]
fn hard_links_and_nlink() {
    let fs = Tmpfs::new();
    create(&fs, "a", b"one");
    fs.link(b"a", b"b").expect("link");
    assert_eq!(stat(&fs, "a").st_nlink, 2);
    assert_eq!(stat(&fs, "a").st_ino, stat(&fs, "b").st_ino);
    let f = must(&fs, "b", o::WRONLY | o::APPEND);
    f.write(b"two").expect("write");
    assert_eq!(contents(&fs, "a"), b"onetwo");
    fs.unlink(b"a").expect("unlink");
    assert_eq!(stat(&fs, "b").st_nlink, 1);
    assert_eq!(contents(&fs, "b"), b"onetwo");
    fs.mkdir(b"d", 0o755, 0).expect("mkdir");
    assert_eq!(err(fs.link(b"d", b"d2")), Errno::EPERM);
    create(&fs, "c", b"");
    assert_eq!(err(fs.link(b"b", b"c")), Errno::EEXIST);
    assert_eq!(err(fs.link(b"nope", b"x")), Errno::ENOENT);
    assert_eq!(err(fs.link(b"b", b"nope/x")), Errno::ENOENT);
    // A symlink is linked itself.
    fs.symlink(b"b", b"s").expect("symlink");
    fs.link(b"s", b"s2").expect("link symlink");
    assert_eq!(lstat(&fs, "s2").st_mode & S_IFMT, S_IFLNK);
    assert_eq!(lstat(&fs, "s").st_nlink, 2);
}

#[test]
fn unlink_while_open_and_mapped() {
    let fs = Tmpfs::new();
    let free0 = fs.statfs();
    let f = must(&fs, "gone", CREAT);
    f.write(b"still here").expect("write");
    let map = f.mappable().expect("mappable");
    assert_eq!(map.name(), "/tmp/gone");
    fs.unlink(b"gone").expect("unlink");
    assert_eq!(err(open(&fs, "gone", RW)), Errno::ENOENT);
    assert_eq!(names(&fs, ""), [".", ".."]);
    assert_eq!(f.stat().expect("fstat").st_nlink, 0);
    f.write(b"!").expect("write after unlink");
    let mut buf = [0u8; 32];
    assert_eq!(f.pread(&mut buf, 0).expect("pread"), 11);
    assert_eq!(&buf[..11], b"still here!");
    assert_ne!(fs.statfs(), free0);
    drop(f);
    // The mapping keeps the inode alive after the fd is gone.
    assert_eq!(map.read_at(6, &mut buf).expect("read_at"), 5);
    assert_eq!(&buf[..5], b"here!");
    drop(map);
    // Everything is freed now: the statfs counters are back where they started.
    assert_eq!(fs.statfs(), free0);
}

#[test]
fn unlinked_sealable_files() {
    use snare_abi::file::seal::{F_SEAL_GROW, F_SEAL_SEAL, F_SEAL_WRITE};
    let fs = Tmpfs::new();
    let free0 = fs.statfs();
    let f = fs
        .create_unlinked(b"/memfd:x (deleted)".to_vec(), 0o777, 0)
        .expect("create");
    assert_eq!(f.path(), b"/memfd:x (deleted)");
    assert_eq!(names(&fs, ""), [".", ".."]);
    let st = f.stat().expect("fstat");
    assert_eq!((st.st_mode, st.st_nlink), (S_IFREG | 0o777, 0));
    f.write(b"0123456789").expect("write");
    // A shared mapping that may be written, even one mapped read-only, forbids
    // F_SEAL_WRITE while it lives; a private one doesn't count.
    let shared = f.mappable_shared(false).expect("mappable_shared");
    let private = f.mappable().expect("mappable");
    assert_eq!(f.add_seals(F_SEAL_WRITE), Err(Errno::EBUSY));
    drop(shared);
    f.add_seals(F_SEAL_WRITE | F_SEAL_GROW).expect("add");
    assert_eq!(f.seals(), Ok(F_SEAL_WRITE | F_SEAL_GROW));
    assert_eq!(f.write(b"x"), Err(Errno::EPERM));
    assert_eq!(f.truncate(100), Err(Errno::EPERM));
    f.truncate(5).expect("shrink");
    assert_eq!(f.allocate(0, 0, 10), Err(Errno::EPERM));
    assert_eq!(f.mappable_shared(true).map(|_| ()), Err(Errno::EPERM));
    let ro = f.mappable_shared(false).expect("read-only");
    assert!(!ro.shared_writable());
    assert!(private.shared_writable());
    drop((ro, private, f));
    assert_eq!(fs.statfs(), free0);
    // Other tmpfs files can't be sealed.
    let g = must(&fs, "plain", CREAT);
    assert_eq!(g.seals(), Err(Errno::EINVAL));
    assert_eq!(g.add_seals(F_SEAL_SEAL), Err(Errno::EINVAL));
}

#[test]
fn mapping_reads_current_contents() {
    let fs = Tmpfs::new();
    let f = must(&fs, "m", CREAT);
    f.write(b"abc").expect("write");
    let map = f.mappable().expect("mappable");
    f.pwrite(b"XYZW", 1).expect("pwrite");
    let mut buf = [0u8; 8];
    assert_eq!(map.read_at(0, &mut buf).expect("read_at"), 5);
    assert_eq!(&buf[..5], b"aXYZW");
    assert_eq!(map.read_at(5, &mut buf).expect("read_at at EOF"), 0);
    fs.mkdir(b"d", 0o755, 0).expect("mkdir");
    assert!(must(&fs, "d", o::RDONLY).mappable().is_none());
}

#[test]
fn dotdot_and_slashes() {
    let fs = Tmpfs::new();
    fs.mkdir(b"a", 0o755, 0).expect("mkdir");
    fs.mkdir(b"a/b", 0o755, 0).expect("mkdir");
    create(&fs, "a/b/f", b"deep");
    create(&fs, "top", b"top");
    assert_eq!(contents(&fs, "a//b///f"), b"deep");
    assert_eq!(contents(&fs, "./a/./b/./f"), b"deep");
    assert_eq!(contents(&fs, "a/b/../b/f"), b"deep");
    assert_eq!(contents(&fs, "a/b/../../top"), b"top");
    // ".." at the root stays at the root.
    assert_eq!(contents(&fs, "../../top"), b"top");
    assert_eq!(contents(&fs, "a/../../../top"), b"top");
    assert_eq!(stat(&fs, "a/b/../../..").st_ino, ROOT_INO);
    assert_eq!(must(&fs, "a/b/..", o::RDONLY).path(), b"/tmp/a");
    assert_eq!(must(&fs, "a/../a/b/f", o::RDONLY).path(), b"/tmp/a/b/f");
    // ".." after a file is ENOTDIR.
    assert_eq!(err(fs.stat(b"top/..", true)), Errno::ENOTDIR);
    create(&fs, "a/../made", b"m");
    assert_eq!(contents(&fs, "made"), b"m");
    // A symlink with ".." in its target, resolved from the link's directory.
    fs.symlink(b"../../top", b"a/b/totop").expect("symlink");
    assert_eq!(contents(&fs, "a/b/totop"), b"top");
}

#[test]
fn times_move_forward() {
    let fs = Tmpfs::new();
    let t0 = stat(&fs, "");
    std::thread::sleep(std::time::Duration::from_millis(20));
    let f = must(&fs, "t", CREAT);
    let root = stat(&fs, "");
    assert!((root.st_mtime, root.st_mtime_nsec) > (t0.st_mtime, t0.st_mtime_nsec));
    let s1 = f.stat().expect("fstat");
    assert_eq!(
        (s1.st_mtime, s1.st_mtime_nsec),
        (s1.st_ctime, s1.st_ctime_nsec)
    );
    std::thread::sleep(std::time::Duration::from_millis(20));
    f.write(b"data").expect("write");
    let s2 = f.stat().expect("fstat");
    assert!((s2.st_mtime, s2.st_mtime_nsec) > (s1.st_mtime, s1.st_mtime_nsec));
    assert!((s2.st_ctime, s2.st_ctime_nsec) > (s1.st_ctime, s1.st_ctime_nsec));
    // relatime: the first read after a write updates atime.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let mut buf = [0u8; 4];
    f.pread(&mut buf, 0).expect("pread");
    let s3 = f.stat().expect("fstat");
    assert!((s3.st_atime, s3.st_atime_nsec) > (s2.st_mtime, s2.st_mtime_nsec));
    assert_eq!(s3.st_mtime, s2.st_mtime);
    // rename and chmod change ctime only.
    std::thread::sleep(std::time::Duration::from_millis(20));
    fs.rename(b"t", b"t2", 0).expect("rename");
    let s4 = stat(&fs, "t2");
    assert!((s4.st_ctime, s4.st_ctime_nsec) > (s3.st_ctime, s3.st_ctime_nsec));
    assert_eq!(
        (s4.st_mtime, s4.st_mtime_nsec),
        (s2.st_mtime, s2.st_mtime_nsec)
    );
    // utimens.
    fs.utimens(b"t2", Some((100, 5)), Some((200, 6)), true)
        .expect("utimens");
    let s5 = stat(&fs, "t2");
    assert_eq!((s5.st_atime, s5.st_atime_nsec), (100, 5));
    assert_eq!((s5.st_mtime, s5.st_mtime_nsec), (200, 6));
    fs.utimens(b"t2", Some((0, UTIME_OMIT)), None, true)
        .expect("utimens");
    let s6 = stat(&fs, "t2");
    assert_eq!((s6.st_atime, s6.st_atime_nsec), (100, 5));
    assert!(s6.st_mtime > 200);
    assert_eq!(
        err(fs.utimens(b"t2", Some((0, 1_000_000_000)), None, true)),
        Errno::EINVAL
    );
    // O_TRUNC and truncate(2) set mtime.
    fs.truncate(b"t2", 1).expect("truncate");
    assert!(stat(&fs, "t2").st_mtime > 200);
}

#[test]
fn size_limits_and_ftruncate() {
    let fs = Tmpfs::new();
    let f = must(&fs, "big", CREAT);
    assert_eq!(err(f.pwrite(b"x", MAX_FILE_SIZE)), Errno::EFBIG);
    // A write that crosses the limit is cut short there.
    assert_eq!(f.pwrite(b"xyz", MAX_FILE_SIZE - 1).expect("pwrite"), 1);
    assert_eq!(f.stat().expect("fstat").st_size as u64, MAX_FILE_SIZE);
    assert_eq!(err(f.set_len(MAX_FILE_SIZE + 1)), Errno::EFBIG);
    assert_eq!(err(fs.truncate(b"big", MAX_FILE_SIZE + 1)), Errno::EFBIG);
    f.set_len(3).expect("ftruncate");
    assert_eq!(f.stat().expect("fstat").st_size, 3);
    let r = must(&fs, "big", o::RDONLY);
    assert_eq!(err(r.set_len(0)), Errno::EINVAL);
    // The same through the trait (what ftruncate(2) calls).
    let w: Arc<dyn FileDescription> = must(&fs, "big", o::WRONLY);
    w.truncate(2).expect("ftruncate");
    assert_eq!(stat(&fs, "big").st_size, 2);
    let p = must(&fs, "big", o::PATH);
    assert_eq!(err(p.set_len(0)), Errno::EBADF);
    fs.mkdir(b"d", 0o755, 0).expect("mkdir");
    assert_eq!(err(fs.truncate(b"d", 0)), Errno::EISDIR);
}

#[test]
fn o_tmpfile() {
    let fs = Tmpfs::new();
    fs.mkdir(b"d", 0o755, 0).expect("mkdir");
    let f = must(&fs, "d", o::TMPFILE | o::RDWR);
    assert_eq!(f.stat().expect("fstat").st_nlink, 0);
    f.write(b"anon").expect("write");
    let mut buf = [0u8; 4];
    assert_eq!(f.pread(&mut buf, 0).expect("pread"), 4);
    assert_eq!(names(&fs, "d"), [".", ".."]);
    assert_eq!(err(open(&fs, "d", o::TMPFILE | o::RDONLY)), Errno::EINVAL);
    create(&fs, "file", b"");
    assert_eq!(err(open(&fs, "file", o::TMPFILE | o::RDWR)), Errno::ENOTDIR);
}

#[test]
fn statfs_reports_tmpfs() {
    let fs = Tmpfs::new();
    let b = fs.statfs();
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[8 * i..8 * i + 8]);
        i64::from_ne_bytes(w)
    };
    assert_eq!(word(0), TMPFS_MAGIC);
    assert_eq!(word(1), 4096);
    assert_eq!(word(2), word(3));
    create(&fs, "f", &[1u8; 5000]);
    let after = must(&fs, "f", o::RDONLY).statfs().expect("fstatfs");
    let mut w = [0u8; 8];
    w.copy_from_slice(&after[24..32]);
    assert_eq!(i64::from_ne_bytes(w), word(3) - 2);
}

#[test]
fn fionread() {
    let fs = Tmpfs::new();
    create(&fs, "f", b"0123456789");
    let f = must(&fs, "f", o::RDONLY);
    f.seek(3, SEEK_SET).expect("seek");
    let mem = crate::mm::FlatMemory {
        base: 0x1000,
        bytes: std::cell::RefCell::new(vec![0; 8]),
    };
    assert_eq!(f.ioctl(0x541b, 0x1000, &mem).expect("FIONREAD"), 0);
    assert_eq!(mem.bytes.borrow()[..4], 7i32.to_ne_bytes());
    assert_eq!(err(f.ioctl(0x5401, 0x1000, &mem)), Errno::ENOTTY);
}

#[test]
fn tmpfs_is_send_sync() {
    fn check<T: Send + Sync + std::fmt::Debug>() {}
    check::<Tmpfs>();
    check::<TmpfsFile>();
}
