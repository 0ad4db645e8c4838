//! System V shared memory (`shmget(2)`, `shmat(2)`, `shmdt(2)`, `shmctl(2)`): a segment
//! is an unlinked file of the memfd tmpfs (`/SYSV<key> (deleted)` in `/proc/PID/maps`),
//! so its pages are the file's and count against the sandbox's memory like memfd data,
//! and every attach maps it `MAP_SHARED` through the memory manager.
//!
//! Each `shmat` makes one [`Attach`], the mapping's file: the VMAs of that attach hold it,
//! so a fork's copies, a split by `munmap` or `mprotect`, and exit and exec (which drop the
//! VMAs) count themselves. `shm_nattch` is the number of VMAs holding an attach of the
//! segment (as Linux, whose VMA open and close hooks count the same), and when the last
//! goes, a removed segment (`SHM_DEST`) is destroyed.
//!
//! Deviations from Linux: `shm_atime`/`shm_dtime`/`shm_lpid` change at `shmat` and
//! `shmdt` only (Linux also when a fork copies an attach or an exit drops one); a segment
//! is at most 1 GiB (a tmpfs file's cap; larger ones are `ENOMEM`); `SHM_HUGETLB` is
//! `ENOMEM` (no huge pages, as a host with none configured says); `SHM_LOCK` only sets
//! the flag (nothing is swapped anyway); `kernel.shm_rmid_forced` is shown, not applied.

use std::sync::{Arc, Weak};

use snare_abi::file::seal::F_SEAL_SEAL;
use snare_abi::ipc::{ShmInfo, Shmid64Ds, Shminfo64, SHMMIN, SHM_DEST, SHM_HUGETLB, SHM_LOCKED};
use snare_abi::Errno;

use super::{
    capable, check_owner, find_key, ipcperms, lock, now, Cap, Ids, IpcCred, IpcNamespace, KernPerm,
    Object,
};
use crate::mm::{page_up, MappableFile, PAGE};
use crate::vfs::tmpfs::TmpfsFile;
use crate::vfs::FileDescription;

/// A segment.
#[derive(Debug)]
pub struct Segment {
    perm: KernPerm,
    segsz: u64,
    file: Arc<TmpfsFile>,
    atime: i64,
    dtime: i64,
    ctime: i64,
    cpid: i32,
    lpid: i32,
    /// Every attach made; dead ones are pruned as new ones come.
    attaches: Vec<Weak<Attach>>,
}

impl Object for Segment {
    fn perm(&self) -> &KernPerm {
        &self.perm
    }
    fn perm_mut(&mut self) -> &mut KernPerm {
        &mut self.perm
    }
}

impl Segment {
    /// The VMAs that map it now.
    fn nattch(&self) -> u64 {
        self.attaches.iter().map(|w| w.strong_count() as u64).sum()
    }

    fn pages(&self) -> u64 {
        self.segsz.div_ceil(PAGE)
    }

    /// Bytes of the segment in memory.
    fn rss(&self) -> u64 {
        self.file
            .stat()
            .map_or(0, |s| (s.st_blocks as u64).saturating_mul(512))
    }

    fn stat(&self) -> Shmid64Ds {
        Shmid64Ds {
            shm_perm: self.perm.to_abi(),
            shm_segsz: self.segsz,
            shm_atime: self.atime,
            shm_dtime: self.dtime,
            shm_ctime: self.ctime,
            shm_cpid: self.cpid,
            shm_lpid: self.lpid,
            shm_nattch: self.nattch(),
            ..Shmid64Ds::default()
        }
    }
}

/// The segments, and the pages they take (`shm_tot`, against `kernel.shmall`).
#[derive(Debug, Default)]
pub struct Table {
    ids: Ids<Segment>,
    tot: u64,
}

impl Table {
    /// Destroys `id` if it is removed and nothing maps it.
    fn reap(&mut self, id: i32) {
        let doomed = self
            .ids
            .get(id)
            .is_ok_and(|s| s.perm.mode & SHM_DEST != 0 && s.nattch() == 0);
        if doomed {
            if let Some(s) = self.ids.remove(id) {
                self.tot = self.tot.saturating_sub(s.pages());
            }
        }
    }
}

/// One `shmat` of a segment: the file its VMAs map.
#[derive(Debug)]
pub struct Attach {
    ns: Weak<IpcNamespace>,
    id: i32,
    inner: Arc<dyn MappableFile>,
    name: String,
    writable: bool,
}

impl Drop for Attach {
    fn drop(&mut self) {
        if let Some(ns) = self.ns.upgrade() {
            lock(&ns.shm).reap(self.id);
        }
    }
}

impl MappableFile for Attach {
    fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        self.inner.read_at(off, buf)
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    fn shared_page(
        &self,
        index: u64,
        mem: &Arc<snare_platform::MemoryFile>,
    ) -> Option<Result<u64, Errno>> {
        self.inner.shared_page(index, mem)
    }

    /// `SHM_RDONLY` attaches can't be made writable (`mprotect`: `EACCES`).
    fn shared_writable(&self) -> bool {
        self.writable
    }

    fn fill(
        &self,
        off: u64,
        mem: &snare_platform::MemoryFile,
        mem_off: u64,
        len: usize,
    ) -> Result<usize, Errno> {
        self.inner.fill(off, mem, mem_off, len)
    }
}

/// What `shmat` maps: the attach, and the segment's size.
#[derive(Debug)]
pub struct Attached {
    pub file: Arc<Attach>,
    pub size: u64,
}

impl IpcNamespace {
    /// `shmget(2)`: the id of `key`'s segment (at least `size` bytes, `EINVAL`), or of a
    /// new one of `size` bytes with `flags`' mode bits.
    pub fn shmget(
        self: &Arc<Self>,
        key: i32,
        size: u64,
        flags: u32,
        c: &IpcCred,
    ) -> Result<i32, Errno> {
        let l = self.limits();
        let mut t = lock(&self.shm);
        let found = find_key(&t.ids, key, flags, c, |s| {
            if s.segsz < size {
                Err(Errno::EINVAL)
            } else {
                Ok(())
            }
        })?;
        if let Some(id) = found {
            return Ok(id);
        }
        if size < SHMMIN || size > l.shmmax {
            return Err(Errno::EINVAL);
        }
        let pages = size.div_ceil(PAGE);
        if t.tot.checked_add(pages).is_none_or(|n| n > l.shmall) {
            return Err(Errno::ENOSPC);
        }
        if flags & SHM_HUGETLB != 0 {
            return Err(Errno::ENOMEM);
        }
        if t.ids.in_use() >= l.shmmni as usize {
            return Err(Errno::ENOSPC);
        }
        let name = format!("/SYSV{:08x} (deleted)", key as u32).into_bytes();
        let file = self
            .files
            .create_unlinked(name, flags & 0o777, F_SEAL_SEAL)
            .map_err(|_| Errno::ENOMEM)?;
        // Past the largest file, Linux's shmem setup says EINVAL.
        file.set_len(size).map_err(|e| match e {
            Errno::EFBIG => Errno::EINVAL,
            _ => Errno::ENOMEM,
        })?;
        let seg = Segment {
            perm: KernPerm::new(key, flags, c),
            segsz: size,
            file,
            atime: 0,
            dtime: 0,
            ctime: now(),
            cpid: c.tgid,
            lpid: 0,
            attaches: Vec::new(),
        };
        let id = t.ids.add(l.shmmni, seg)?;
        t.tot += pages;
        Ok(id)
    }

    /// `shmat(2)`'s checks and attach, before the mapping: `EINVAL` for no such segment,
    /// `EACCES` unless `c` may read (and write, unless `rdonly`; and execute, with
    /// `exec`) it. The caller maps the returned file, then calls [`Self::shm_attached`].
    pub fn shm_attach(
        self: &Arc<Self>,
        id: i32,
        rdonly: bool,
        exec: bool,
        c: &IpcCred,
    ) -> Result<Attached, Errno> {
        let mut t = lock(&self.shm);
        let s = t.ids.get_mut(id)?;
        let mut acc = if rdonly { 0o444 } else { 0o666 };
        if exec {
            acc |= 0o111;
        }
        ipcperms(c, &s.perm, acc)?;
        let inner = s.file.mappable().ok_or(Errno::EIDRM)?;
        let name = String::from_utf8_lossy(&s.file.path()).into_owned();
        let file = Arc::new(Attach {
            ns: Arc::downgrade(self),
            id,
            inner,
            name,
            writable: !rdonly,
        });
        s.attaches.retain(|w| w.strong_count() > 0);
        s.attaches.push(Arc::downgrade(&file));
        Ok(Attached {
            file,
            size: s.segsz,
        })
    }

    /// Records an attach (or detach) of `id` by `c`'s process now.
    pub fn shm_attached(&self, id: i32, detach: bool, c: &IpcCred) {
        let mut t = lock(&self.shm);
        if let Ok(s) = t.ids.get_mut(id) {
            if detach {
                s.dtime = now();
            } else {
                s.atime = now();
            }
            s.lpid = c.tgid;
        }
    }

    /// Which attach `file` (a VMA's) is, if it is one: its segment's id and size.
    pub fn shm_of(&self, file: &Arc<dyn MappableFile>) -> Option<(i32, u64)> {
        let ptr = Arc::as_ptr(file) as *const ();
        let t = lock(&self.shm);
        let found = t.ids.iter().find_map(|s| {
            s.attaches
                .iter()
                .any(|w| w.as_ptr() as *const () == ptr)
                .then_some((s.perm.id, s.segsz))
        });
        found
    }

    /// `shmctl(IPC_STAT | SHM_STAT | SHM_STAT_ANY)`: the segment `id` (an index for the
    /// `SHM_STAT`s), and what the call returns (0, or the id). `EACCES` without read
    /// permission, unless `any`.
    pub fn shm_stat(
        &self,
        id: i32,
        by_index: bool,
        any: bool,
        c: &IpcCred,
    ) -> Result<(Shmid64Ds, i32), Errno> {
        let t = lock(&self.shm);
        let s = if by_index {
            t.ids.at_index(id)?
        } else {
            t.ids.get(id)?
        };
        if !any {
            ipcperms(c, &s.perm, 0o444)?;
        }
        Ok((s.stat(), if by_index { s.perm.id } else { 0 }))
    }

    /// `shmctl(IPC_SET)`: owner and mode from `ds`.
    pub fn shm_set(&self, id: i32, ds: &Shmid64Ds, c: &IpcCred) -> Result<(), Errno> {
        let mut t = lock(&self.shm);
        let s = t.ids.get_mut(id)?;
        check_owner(c, &s.perm)?;
        s.perm.set(&ds.shm_perm)?;
        s.ctime = now();
        Ok(())
    }

    /// `shmctl(IPC_RMID)`: destroyed now if nothing maps it, else marked `SHM_DEST` with
    /// its key made private, and destroyed at the last detach.
    pub fn shm_rmid(&self, id: i32, c: &IpcCred) -> Result<(), Errno> {
        let mut t = lock(&self.shm);
        let s = t.ids.get_mut(id)?;
        check_owner(c, &s.perm)?;
        s.perm.mode |= SHM_DEST;
        s.ctime = now();
        t.ids.forget_key(id);
        t.reap(id);
        Ok(())
    }

    /// `shmctl(SHM_LOCK | SHM_UNLOCK)`: the owner or creator (or CAP_IPC_LOCK) may;
    /// `SHM_LOCK` also needs a non-zero `RLIMIT_MEMLOCK` (`memlock`).
    pub fn shm_lock(&self, id: i32, on: bool, memlock: bool, c: &IpcCred) -> Result<(), Errno> {
        let mut t = lock(&self.shm);
        let s = t.ids.get_mut(id)?;
        if !capable(c, Cap::IpcLock) {
            if c.euid != s.perm.uid && c.euid != s.perm.cuid {
                return Err(Errno::EPERM);
            }
            if on && !memlock {
                return Err(Errno::EPERM);
            }
        }
        if on {
            s.perm.mode |= SHM_LOCKED;
        } else {
            s.perm.mode &= !SHM_LOCKED;
        }
        Ok(())
    }

    /// `shmctl(IPC_INFO)`: the limits, and the highest index in use.
    pub fn shm_ipc_info(&self) -> (Shminfo64, i32) {
        let l = self.limits();
        let info = Shminfo64 {
            shmmax: l.shmmax,
            shmmin: SHMMIN,
            shmmni: u64::from(l.shmmni),
            shmseg: u64::from(l.shmmni),
            shmall: l.shmall,
            ..Shminfo64::default()
        };
        (info, lock(&self.shm).ids.max_index())
    }

    /// `shmctl(SHM_INFO)`: what is in use, and the highest index in use.
    pub fn shm_info(&self) -> (ShmInfo, i32) {
        let t = lock(&self.shm);
        let info = ShmInfo {
            used_ids: t.ids.in_use() as i32,
            shm_tot: t.tot,
            shm_rss: t.ids.iter().map(|s| s.rss().div_ceil(PAGE)).sum(),
            ..ShmInfo::default()
        };
        (info, t.ids.max_index())
    }
}

/// The length `shmat` maps for a segment of `size` bytes.
pub fn map_len(size: u64) -> u64 {
    page_up(size).unwrap_or(size)
}

/// `/proc/sysvipc/shm`.
pub(super) fn proc_text(t: &Table) -> String {
    let mut s = String::from(
        "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  \
         cuid  cgid      atime      dtime      ctime                   rss                  \
         swap\n",
    );
    for seg in t.ids.iter() {
        let p = &seg.perm;
        s.push_str(&format!(
            "{:10} {:10}  {:4o} {:21} {:5} {:5}  {:5} {:5} {:5} {:5} {:5} {:10} {:10} {:10} \
             {:21} {:21}\n",
            p.key,
            p.id,
            p.mode,
            seg.segsz,
            seg.cpid,
            seg.lpid,
            seg.nattch(),
            p.uid,
            p.gid,
            p.cuid,
            p.cgid,
            seg.atime,
            seg.dtime,
            seg.ctime,
            seg.rss(),
            0
        ));
    }
    s
}
