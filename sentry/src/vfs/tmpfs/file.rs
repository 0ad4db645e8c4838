//! Open tmpfs files ([`TmpfsFile`]) and their mappings.

use super::*;

/// An open tmpfs file, directory or (with `O_PATH|O_NOFOLLOW`) symlink.
#[derive(Debug)]
pub struct TmpfsFile {
    pub(super) node: InodeRef,
    /// The guest path it was opened by.
    pub(super) path: Vec<u8>,
    /// A directory's path in this tmpfs when opened (empty for other files), and the path
    /// last worked out for it with the count of moves it was worked out at: a directory
    /// renamed (or one of its ancestors) or removed since shows where it is now.
    pub(super) then: Vec<u8>,
    pub(super) seen: Mutex<(u64, Vec<u8>)>,
    is_dir: bool,
    /// Made by `O_TMPFILE` without `O_EXCL`: `linkat` may give it a name while it has none.
    pub(super) linkable: std::sync::atomic::AtomicBool,
    /// `O_ACCMODE`, `O_APPEND`, `O_NONBLOCK`, `O_PATH`.
    flags: Mutex<u32>,
    /// The file offset; for a directory, the getdents cursor (0 `.`, 1 `..`, else a cookie).
    /// Lock order: `offset` before the filesystem state.
    offset: Mutex<u64>,
}

impl TmpfsFile {
    pub(super) fn new(node: InodeRef, flags: u32, is_dir: bool, path: Vec<u8>) -> Arc<TmpfsFile> {
        Arc::new(Self::make(node, flags, is_dir, path))
    }

    pub(super) fn make(node: InodeRef, flags: u32, is_dir: bool, path: Vec<u8>) -> TmpfsFile {
        TmpfsFile {
            node,
            seen: Mutex::new((u64::MAX, Vec::new())),
            then: Vec::new(),
            path,
            is_dir,
            linkable: std::sync::atomic::AtomicBool::new(false),
            flags: Mutex::new(flags & (o::ACCMODE | o::APPEND | o::NONBLOCK | o::PATH)),
            offset: Mutex::new(0),
        }
    }

    fn flags(&self) -> u32 {
        *self.flags.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.node.state)
    }

    fn check_read(&self) -> Result<(), Errno> {
        let f = self.flags();
        if f & o::PATH != 0 || f & o::ACCMODE == o::WRONLY {
            return Err(Errno::EBADF);
        }
        if self.is_dir {
            return Err(Errno::EISDIR);
        }
        Ok(())
    }

    /// Whether writes are allowed, and whether they append.
    fn check_write(&self) -> Result<bool, Errno> {
        let f = self.flags();
        if f & o::PATH != 0 || f & o::ACCMODE == o::RDONLY {
            return Err(Errno::EBADF);
        }
        Ok(f & o::APPEND != 0)
    }

    /// Runs `f` on the file's pages (ENODEV for what has none).
    fn with_pages<T>(
        &self,
        f: impl FnOnce(&mut Pages, u32) -> Result<T, Errno>,
    ) -> Result<T, Errno> {
        let mut st = self.state();
        let n = st.node_mut(self.node.ino)?;
        let mode = n.mode;
        match &mut n.data {
            Data::File(p) if !self.is_dir => f(p, mode),
            _ => Err(Errno::ENODEV),
        }
    }

    /// `ftruncate(2)`: EBADF for `O_PATH`, EINVAL unless open for writing on a regular file,
    /// EFBIG beyond [`MAX_FILE_SIZE`].
    pub fn set_len(&self, len: u64) -> Result<(), Errno> {
        let f = self.flags();
        if f & o::PATH != 0 {
            return Err(Errno::EBADF);
        }
        if self.is_dir || f & o::ACCMODE == o::RDONLY {
            return Err(Errno::EINVAL);
        }
        self.state().set_len(self.node.ino, len)
    }
}

impl FileDescription for TmpfsFile {
    fn change_attr(&self, change: crate::vfs::AttrChange) -> Result<(), Errno> {
        lock(&self.node.state).change(self.node.ino, change)
    }

    fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        self.check_read()?;
        let mut off = self.offset.lock().unwrap_or_else(|e| e.into_inner());
        let n = self.state().read_file(self.node.ino, *off, buf)?;
        *off += n as u64;
        Ok(n)
    }

    fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        let append = self.check_write()?;
        let mut off = self.offset.lock().unwrap_or_else(|e| e.into_inner());
        let (n, end) = self.state().write_file(self.node.ino, *off, append, data)?;
        *off = end;
        Ok(n)
    }

    fn pread(&self, buf: &mut [u8], off: u64) -> Result<usize, Errno> {
        self.check_read()?;
        self.state().read_file(self.node.ino, off, buf)
    }

    /// With `O_APPEND` the data goes at the end, whatever `off` says (as Linux does).
    fn pwrite(&self, data: &[u8], off: u64) -> Result<usize, Errno> {
        let append = self.check_write()?;
        Ok(self.state().write_file(self.node.ino, off, append, data)?.0)
    }

    fn seek(&self, off: i64, whence: u32) -> Result<u64, Errno> {
        if self.flags() & o::PATH != 0 {
            return Err(Errno::EBADF);
        }
        let mut cur = self.offset.lock().unwrap_or_else(|e| e.into_inner());
        let st = self.state();
        let size = match &st.node(self.node.ino)?.data {
            Data::File(p) => Some(p),
            _ => None,
        };
        let new = match (whence, size) {
            (SEEK_SET, _) => Some(off),
            (SEEK_CUR, _) => i64::try_from(*cur).ok().and_then(|c| c.checked_add(off)),
            (SEEK_END, Some(p)) => (p.size as i64).checked_add(off),
            (SEEK_DATA | SEEK_HOLE, Some(p)) => {
                let start = u64::try_from(off).map_err(|_| Errno::ENXIO)?;
                if start >= p.size {
                    return Err(Errno::ENXIO);
                }
                let at = p.seek_data_hole(start, whence == SEEK_DATA);
                Some(at.ok_or(Errno::ENXIO)? as i64)
            }
            _ => None,
        };
        let new = new
            .and_then(|n| u64::try_from(n).ok())
            .ok_or(Errno::EINVAL)?;
        *cur = new;
        Ok(new)
    }

    fn stat(&self) -> Result<Stat, Errno> {
        self.state().stat_of(self.node.ino)
    }

    fn getdents(&self, out: &mut Vec<u8>, max: usize) -> Result<(), Errno> {
        if self.flags() & o::PATH != 0 {
            return Err(Errno::EBADF);
        }
        if !self.is_dir {
            return Err(Errno::ENOTDIR);
        }
        let mut pos = self.offset.lock().unwrap_or_else(|e| e.into_inner());
        let mut st = self.state();
        let ino = self.node.ino;
        let n = st.node(ino)?;
        if n.links == 0 {
            // Linux: getdents of a removed directory is ENOENT.
            return Err(Errno::ENOENT);
        }
        let Data::Dir(d) = &n.data else {
            return Err(Errno::ENOTDIR);
        };
        let start = out.len();
        let mut left = false;
        if *pos == 0 {
            if push_dirent(out, max, st.ident(ino).1, 1, DT_DIR, b".") {
                *pos = 1;
            } else {
                left = true;
            }
        }
        if *pos == 1 && !left {
            if push_dirent(
                out,
                max,
                st.ident(d.parent).1,
                FIRST_COOKIE as i64,
                DT_DIR,
                b"..",
            ) {
                *pos = FIRST_COOKIE;
            } else {
                left = true;
            }
        }
        if !left {
            for (&cookie, (name, child)) in d.entries.range(*pos..) {
                let dtype = st.inodes.get(child).map(Inode::dtype).unwrap_or(0);
                let shown = st.ident(*child).1;
                if !push_dirent(out, max, shown, cookie as i64 + 1, dtype, name) {
                    left = true;
                    break;
                }
                *pos = cookie + 1;
            }
        }
        if left && out.len() == start {
            // Not even one record fits.
            return Err(Errno::EINVAL);
        }
        st.node_mut(ino)?.touch_atime();
        Ok(())
    }

    fn truncate(&self, len: u64) -> Result<(), Errno> {
        self.set_len(len)
    }

    fn allocate(&self, mode: u32, off: u64, len: u64) -> Result<(), Errno> {
        const KEEP_SIZE: u32 = 0x01;
        const PUNCH_HOLE: u32 = 0x02;
        const ZERO_RANGE: u32 = 0x10;
        self.check_write()?;
        if self.is_dir {
            return Err(Errno::EISDIR);
        }
        let end = off.checked_add(len).ok_or(Errno::EFBIG)?;
        let size = self.state().stat_of(self.node.ino)?.st_size as u64;
        let seals = self.with_pages(|p, _| Ok(p.seals))?;
        match mode {
            0 | KEEP_SIZE => {
                seals.allocate(false, end, size)?;
                if mode == 0 && end > size {
                    self.set_len(end)?;
                }
                Ok(())
            }
            m if m == PUNCH_HOLE | KEEP_SIZE || m & !KEEP_SIZE == ZERO_RANGE => {
                let grows = if m == ZERO_RANGE { end } else { 0 };
                seals.allocate(true, grows, size)?;
                // Zeros over the existing bytes of the range (a hole reads as zeros too).
                let upto = end.min(size);
                let mut at = off;
                while at < upto {
                    let n = (upto - at).min(1 << 16);
                    let zeros = vec![0u8; n as usize];
                    self.state().write_file(self.node.ino, at, false, &zeros)?;
                    at += n;
                }
                if m == ZERO_RANGE && end > size {
                    self.set_len(end)?;
                }
                Ok(())
            }
            _ => Err(Errno::EOPNOTSUPP),
        }
    }

    /// `FIONREAD`: bytes between the offset and the end of a regular file.
    fn ioctl(&self, cmd: u32, arg: u64, mem: &dyn GuestMemory) -> Result<u64, Errno> {
        const FIONREAD: u32 = 0x541b;
        if cmd != FIONREAD || self.is_dir || self.flags() & o::PATH != 0 {
            return Err(Errno::ENOTTY);
        }
        let off = *self.offset.lock().unwrap_or_else(|e| e.into_inner());
        let size = self.state().stat_of(self.node.ino)?.st_size as u64;
        let avail = i32::try_from(size.saturating_sub(off)).unwrap_or(i32::MAX);
        mem.write(arg, &avail.to_ne_bytes())?;
        Ok(0)
    }

    fn statfs(&self) -> Result<[u8; 120], Errno> {
        Ok(statfs_bytes(&self.state()))
    }

    fn mappable(&self) -> Option<Arc<dyn MappableFile>> {
        if self.is_dir || self.flags() & o::PATH != 0 {
            return None;
        }
        let node = self.node.try_clone().ok()?;
        Some(Arc::new(TmpfsMapping {
            node,
            name: String::from_utf8_lossy(&self.path).into_owned(),
            writable: self.flags() & o::ACCMODE == o::RDWR,
            counted: false,
        }))
    }

    /// Counts the mapping among the file's writable shared mappings while it lives, unless
    /// seals keep it read-only (see [`Seals::shared_mapping`]).
    fn mappable_shared(&self, write: bool) -> Result<Arc<dyn MappableFile>, Errno> {
        if self.is_dir || self.flags() & o::PATH != 0 {
            return Err(Errno::ENODEV);
        }
        let node = self.node.try_clone()?;
        let rdwr = self.flags() & o::ACCMODE == o::RDWR;
        let writable = self.with_pages(|p, _| {
            let may = rdwr && p.seals.shared_mapping(write)?;
            p.writable_maps += u64::from(may);
            Ok(may)
        })?;
        Ok(Arc::new(TmpfsMapping {
            node,
            name: String::from_utf8_lossy(&self.path).into_owned(),
            writable,
            counted: writable,
        }))
    }

    fn seals(&self) -> Result<u32, Errno> {
        if self.is_dir {
            return Err(Errno::EINVAL);
        }
        self.with_pages(|p, _| p.seals.get())
    }

    fn add_seals(&self, seals: u32) -> Result<(), Errno> {
        if self.is_dir {
            return Err(Errno::EINVAL);
        }
        self.with_pages(|p, mode| p.seals.add(seals, mode, p.writable_maps))
    }

    fn status_flags(&self) -> u32 {
        self.flags()
    }

    fn set_status_flags(&self, flags: u32) {
        const CHANGEABLE: u32 = o::APPEND | o::NONBLOCK;
        let mut f = self.flags.lock().unwrap_or_else(|e| e.into_inner());
        if *f & o::PATH == 0 {
            *f = (*f & !CHANGEABLE) | (flags & CHANGEABLE);
        }
    }

    fn follows_moves(&self) -> bool {
        !self.then.is_empty()
    }

    /// A directory's path follows its moves (the guest path it was opened by, with the
    /// part in this tmpfs replaced by where the directory is now), and ends in ` (deleted)`
    /// once it is removed, as Linux's d_path; other files keep the path they were opened by.
    fn path(&self) -> Vec<u8> {
        if !self.is_dir || self.then.is_empty() {
            return self.path.clone();
        }
        let st = self.state();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.0 == st.moves {
            return seen.1.clone();
        }
        let removed = st.node(self.node.ino).map_or(true, |n| n.links == 0);
        let now = match removed {
            true => None,
            false => moved(&self.path, &self.then, &st.dir_path(self.node.ino)),
        };
        let path = match now {
            Some(p) => p,
            None if removed => {
                let kept = seen.1.strip_suffix(b" (deleted)").unwrap_or(&seen.1);
                [kept, b" (deleted)"].concat()
            }
            None => seen.1.clone(),
        };
        *seen = (st.moves, path.clone());
        path
    }
}

/// A tmpfs file as a mapping source: reads its current contents (a private mapping copies
/// pages at fault time). Keeps the inode alive after the fd is closed.
#[derive(Debug)]
pub(super) struct TmpfsMapping {
    node: InodeRef,
    name: String,
    /// Mapped from a description open for reading and writing (and, shared, not sealed
    /// against writing).
    writable: bool,
    /// Counted in the file's `writable_maps` until dropped.
    counted: bool,
}

impl Drop for TmpfsMapping {
    fn drop(&mut self) {
        if !self.counted {
            return;
        }
        let mut st = lock(&self.node.state);
        if let Ok(Inode {
            data: Data::File(p),
            ..
        }) = st.node_mut(self.node.ino)
        {
            p.writable_maps = p.writable_maps.saturating_sub(1);
        }
    }
}

impl MappableFile for TmpfsMapping {
    fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let st = lock(&self.node.state);
        match &st.node(self.node.ino)?.data {
            Data::File(p) => Ok(p.read(off, buf)),
            _ => Err(Errno::ENODEV),
        }
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    fn shared_writable(&self) -> bool {
        self.writable
    }

    fn shared_page(&self, index: u64, mem: &Arc<MemoryFile>) -> Option<Result<u64, Errno>> {
        let mut st = lock(&self.node.state);
        let room = st.used.saturating_add(PAGE64) <= st.max_bytes;
        let r = match st.node_mut(self.node.ino) {
            Ok(n) => match &mut n.data {
                // A hole gets a page (counted in `size`); a heap page moves to the memory
                // file (no longer the heap's).
                Data::File(p) => {
                    match (p.shared.contains_key(&index), p.map.contains_key(&index)) {
                        (true, _) => p.shared_page(index, mem).map(|o| (o, 0, 0)),
                        (false, true) => p.shared_page(index, mem).map(|o| (o, 0, PAGE64)),
                        (false, false) if room => p.shared_page(index, mem).map(|o| (o, PAGE64, 0)),
                        (false, false) => Err(Errno::ENOSPC),
                    }
                }
                _ => Err(Errno::ENODEV),
            },
            Err(e) => Err(e),
        };
        Some(r.map(|(o, grown, moved)| {
            st.used += grown;
            st.discharge(moved);
            // The mapping's owner, counted before the lock goes (a truncate would free a
            // page only the file owns).
            crate::mm::add_owner(mem, o);
            o
        }))
    }
}
