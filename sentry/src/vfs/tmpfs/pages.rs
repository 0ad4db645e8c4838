//! A regular file's pages: sparse, on the Sentry's heap until a shared mapping moves them
//! to the memory file.

use super::*;

/// A regular file's contents: sparse 4 KiB pages; missing pages read as zeros. Pages that a
/// MAP_SHARED mapping has touched live in the memory file instead (`shared`), so every
/// mapping and read/write see the same bytes.
#[derive(Debug, Default)]
pub(super) struct Pages {
    pub(super) size: u64,
    pub(super) map: BTreeMap<u64, Box<[u8; PAGE]>>,
    /// Page index → memory-file offset, for pages mapped shared at least once.
    pub(super) shared: BTreeMap<u64, u64>,
    pub(super) mem: Option<Arc<MemoryFile>>,
    /// Its seals (memfd files only).
    pub(super) seals: Seals,
    /// Live MAP_SHARED mappings that may be written (see [`TmpfsMapping`]).
    pub(super) writable_maps: u64,
}

impl Drop for Pages {
    fn drop(&mut self) {
        if let Some(mem) = &self.mem {
            let offs: Vec<u64> = std::mem::take(&mut self.shared).into_values().collect();
            crate::mm::release_pages(mem, offs);
        }
    }
}

impl Pages {
    /// Copies page `idx`'s bytes `[from, from + dst.len())` into `dst`.
    pub(super) fn read_page(&self, idx: u64, from: usize, dst: &mut [u8]) {
        if let (Some(&o), Some(mem)) = (self.shared.get(&idx), &self.mem) {
            mem.read(o + from as u64, dst);
            return;
        }
        match self.map.get(&idx) {
            Some(p) => dst.copy_from_slice(&p[from..from + dst.len()]),
            None => dst.fill(0),
        }
    }

    pub(super) fn read(&self, off: u64, buf: &mut [u8]) -> usize {
        if off >= self.size {
            return 0;
        }
        let n = buf
            .len()
            .min(usize::try_from(self.size - off).unwrap_or(usize::MAX));
        let mut done = 0;
        while done < n {
            let pos = off + done as u64;
            let in_page = (pos % PAGE64) as usize;
            let len = (PAGE - in_page).min(n - done);
            self.read_page(pos / PAGE64, in_page, &mut buf[done..done + len]);
            done += len;
        }
        n
    }

    pub(super) fn present(&self, idx: u64) -> bool {
        self.map.contains_key(&idx) || self.shared.contains_key(&idx)
    }

    /// Allocated pages.
    pub(super) fn pages(&self) -> u64 {
        (self.map.len() + self.shared.len()) as u64
    }

    /// Pages a write of `len > 0` bytes at `off` would allocate.
    pub(super) fn new_pages(&self, off: u64, len: u64) -> u64 {
        let first = off / PAGE64;
        let last = (off + len - 1) / PAGE64;
        let present = (first..=last).filter(|&i| self.present(i)).count() as u64;
        last - first + 1 - present
    }

    pub(super) fn write(&mut self, off: u64, data: &[u8]) {
        let mut done = 0;
        while done < data.len() {
            let pos = off + done as u64;
            let in_page = (pos % PAGE64) as usize;
            let len = (PAGE - in_page).min(data.len() - done);
            let idx = pos / PAGE64;
            if let (Some(&o), Some(mem)) = (self.shared.get(&idx), &self.mem) {
                mem.write(o + in_page as u64, &data[done..done + len]);
            } else {
                let page = self.map.entry(idx).or_insert_with(|| Box::new([0; PAGE]));
                page[in_page..in_page + len].copy_from_slice(&data[done..done + len]);
            }
            done += len;
        }
        self.size = self.size.max(off + data.len() as u64);
    }

    /// Sets the size; returns the number of pages freed.
    pub(super) fn set_len(&mut self, len: u64) -> u64 {
        let mut freed = 0;
        if len < self.size {
            let first_dead = len.div_ceil(PAGE64);
            let dead = self.map.split_off(&first_dead);
            freed = dead.len() as u64;
            let dead_shared = self.shared.split_off(&first_dead);
            freed += dead_shared.len() as u64;
            if let Some(mem) = &self.mem {
                crate::mm::release_pages(mem, dead_shared.into_values());
            }
            let tail = (len % PAGE64) as usize;
            if tail != 0 {
                let idx = len / PAGE64;
                if let (Some(&o), Some(mem)) = (self.shared.get(&idx), &self.mem) {
                    mem.write(o + tail as u64, &vec![0u8; PAGE - tail]);
                } else if let Some(p) = self.map.get_mut(&idx) {
                    p[tail..].fill(0);
                }
            }
        }
        self.size = len;
        freed
    }

    /// The memory-file page holding page `idx`, moving it there (or allocating a zero page)
    /// the first time a shared mapping asks.
    pub(super) fn shared_page(&mut self, idx: u64, mem: &Arc<MemoryFile>) -> Result<u64, Errno> {
        if let Some(&o) = self.shared.get(&idx) {
            return Ok(o);
        }
        let o = mem.allocate(PAGE64).map_err(|_| Errno::ENOMEM)?;
        if let Some(p) = self.map.remove(&idx) {
            mem.write(o, &p[..]);
        }
        self.shared.insert(idx, o);
        self.mem = Some(mem.clone());
        Ok(o)
    }

    /// `SEEK_DATA` / `SEEK_HOLE` from `off` (which is below the size): where the next data
    /// or hole starts; `None` when no data follows (`ENXIO`). The end of the file counts as
    /// a hole. Costs a step per allocated page passed, however large the holes are.
    pub(super) fn seek_data_hole(&self, off: u64, data: bool) -> Option<u64> {
        let mut idx = off / PAGE64;
        if data {
            let heap = self.map.range(idx..).next().map(|(&k, _)| k);
            let shared = self.shared.range(idx..).next().map(|(&k, _)| k);
            let first = match (heap, shared) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a.or(b)?,
            };
            let at = first.saturating_mul(PAGE64).max(off);
            return (at < self.size).then_some(at);
        }
        while self.present(idx) {
            idx += 1;
        }
        Some(idx.saturating_mul(PAGE64).max(off).min(self.size))
    }
}
