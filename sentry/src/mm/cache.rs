//! The page cache: pages of unchanging files (the host's read-only lower layer), filled once
//! into the memory file and shared by every private read-only mapping of them, in every process
//! (read-only in the stubs, copied on write).
//!
//! Each cached file gets one extent of the memory file, as long as the file, reserved at its
//! first use (the memory file is sparse: an unfilled page costs nothing). Page `i` of the file
//! always lives at `base + i * PAGE`, so the cached pages of a mapping are one run of the memory
//! file and the stub maps them with few host calls. The cache owns one reference to each page
//! it filled (see `SHARED_PAGES` in the parent module). An extent is reserved uncounted
//! ([`MemoryFile::reserve`]) and each page is charged against the memory limit as it is filled;
//! at the limit, [`evict`] punches the filled pages no mapping holds (the cache's reference
//! is their only one) and stops counting them.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use snare_platform::MemoryFile;

use super::PAGE;

/// Most pages the cache fills in all (1 GiB); beyond it, mappings fill private copies.
const MAX_FILLED: u64 = 1 << 18;
/// Largest file the cache takes (256 MiB): bigger ones are mapped through private copies, so a
/// huge mapped file can't reserve the memory file away.
const MAX_FILE_PAGES: u64 = 1 << 16;

/// A file's identity in the cache: (memory file, the file's cache key).
type FileKey = (usize, [u64; 4]);

/// The pages of one cached file.
#[derive(Debug)]
pub(super) struct Extent {
    /// Memory-file offset of page 0.
    base: u64,
    /// Pages in the file (the extent's length).
    pub pages: u64,
    /// One bit per page: filled.
    filled: Vec<u64>,
}

impl Extent {
    pub fn offset(&self, index: u64) -> u64 {
        self.base + index * PAGE
    }

    pub fn is_filled(&self, index: u64) -> bool {
        index < self.pages && self.filled[(index / 64) as usize] & (1 << (index % 64)) != 0
    }

    fn set_filled(&mut self, index: u64) {
        self.filled[(index / 64) as usize] |= 1 << (index % 64);
    }

    fn clear_filled(&mut self, index: u64) {
        self.filled[(index / 64) as usize] &= !(1 << (index % 64));
    }
}

#[derive(Debug, Default)]
pub(super) struct PageCache {
    files: HashMap<FileKey, Extent>,
    filled: u64,
}

static CACHE: LazyLock<Mutex<PageCache>> = LazyLock::new(|| Mutex::new(PageCache::default()));

pub(super) fn lock() -> MutexGuard<'static, PageCache> {
    CACHE.lock().unwrap_or_else(|e| e.into_inner())
}

impl PageCache {
    /// The extent of the file with `key` (whose last word is its size), reserved on first use.
    /// `None` when the file is too big or the memory file has no room.
    pub fn extent(&mut self, mem: &Arc<MemoryFile>, key: [u64; 4]) -> Option<&mut Extent> {
        let fk = (Arc::as_ptr(mem) as usize, key);
        match self.files.entry(fk) {
            std::collections::hash_map::Entry::Occupied(e) => Some(e.into_mut()),
            std::collections::hash_map::Entry::Vacant(e) => {
                let pages = key[3].div_ceil(PAGE);
                if pages == 0 || pages > MAX_FILE_PAGES {
                    return None;
                }
                let base = mem.reserve(pages * PAGE).ok()?;
                let filled = vec![0u64; pages.div_ceil(64) as usize];
                Some(e.insert(Extent {
                    base,
                    pages,
                    filled,
                }))
            }
        }
    }

    /// Fills the unfilled pages among `indices` (ascending) of the file with `key`, a run of
    /// consecutive pages per `fill(file offset, memory-file offset, length)` call. `false`
    /// when the cache is full (nothing is filled then).
    pub fn fill<E>(
        &mut self,
        mem: &Arc<MemoryFile>,
        key: [u64; 4],
        indices: std::ops::Range<u64>,
        mut fill: impl FnMut(u64, u64, usize) -> Result<(), E>,
    ) -> Option<Result<(), E>> {
        let room = MAX_FILLED.saturating_sub(self.filled);
        let ext = self.extent(mem, key)?;
        let end = indices.end.min(ext.pages);
        let missing: Vec<u64> = (indices.start..end)
            .filter(|&i| !ext.is_filled(i))
            .collect();
        if missing.len() as u64 > room {
            return None;
        }
        // At the memory limit: the caller makes private copies (whose allocation may evict
        // or kill).
        mem.charge(missing.len() as u64 * PAGE).ok()?;
        let mut done = 0u64;
        let mut result = Ok(());
        let mut i = 0;
        while i < missing.len() {
            let mut j = i + 1;
            while j < missing.len() && missing[j] == missing[j - 1] + 1 {
                j += 1;
            }
            let len = (j - i) as u64 * PAGE;
            if let Err(e) = fill(missing[i] * PAGE, ext.offset(missing[i]), len as usize) {
                // The pages left unfilled were charged: uncharge them (punching is harmless).
                for &m in &missing[i..] {
                    mem.uncharge(ext.offset(m), PAGE);
                }
                result = Err(e);
                break;
            }
            for &m in &missing[i..j] {
                ext.set_filled(m);
            }
            done += (j - i) as u64;
            i = j;
        }
        self.filled += done;
        Some(result)
    }
}

/// Gives back the filled pages of `mem`'s cached files that no mapping holds; returns how many.
pub(super) fn evict(mem: &Arc<MemoryFile>) -> u64 {
    let id = Arc::as_ptr(mem) as usize;
    let mut cache = lock();
    let mut runs: Vec<(u64, u64)> = Vec::new();
    {
        let refs = super::shared_pages();
        for ((fid, _), ext) in cache.files.iter_mut() {
            if *fid != id {
                continue;
            }
            for i in 0..ext.pages {
                let off = ext.offset(i);
                if !ext.is_filled(i) || refs.contains_key(&(id, off)) {
                    continue;
                }
                ext.clear_filled(i);
                match runs.last_mut() {
                    Some((s, l)) if *s + *l == off => *l += PAGE,
                    _ => runs.push((off, PAGE)),
                }
            }
        }
    }
    let freed: u64 = runs.iter().map(|&(_, l)| l / PAGE).sum();
    cache.filled = cache.filled.saturating_sub(freed);
    // Under the cache's lock: a page refilled before its punch would lose its contents.
    for (off, len) in runs {
        mem.uncharge(off, len);
    }
    drop(cache);
    if freed > 0 {
        tracing::debug!(pages = freed, "page cache evicted");
    }
    freed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_one_extent_filled_in_runs_of_missing_pages() {
        let mem = Arc::new(MemoryFile::new(1 << 30).expect("memory file"));
        let mut cache = PageCache::default();
        let key = [1, 2, 3, 10 * PAGE + 1]; // 11 pages
        let mut calls = Vec::new();
        let r = cache.fill(&mem, key, 2..5, |f, m, l| {
            calls.push((f, m, l));
            Ok::<(), ()>(())
        });
        assert_eq!(r, Some(Ok(())));
        let ext = cache.extent(&mem, key).expect("extent");
        assert_eq!(ext.pages, 11);
        let base = ext.offset(0);
        assert_eq!(calls, vec![(2 * PAGE, base + 2 * PAGE, 3 * PAGE as usize)]);
        assert!(ext.is_filled(2) && ext.is_filled(4) && !ext.is_filled(5));
        assert!(!ext.is_filled(11), "past the end");
        // Only the missing pages are filled, a run each; the range is clipped to the file.
        calls.clear();
        let r = cache.fill(&mem, key, 0..20, |f, m, l| {
            calls.push((f, m, l));
            Ok::<(), ()>(())
        });
        assert_eq!(r, Some(Ok(())));
        assert_eq!(
            calls,
            vec![
                (0, base, 2 * PAGE as usize),
                (5 * PAGE, base + 5 * PAGE, 6 * PAGE as usize)
            ]
        );
        assert_eq!(cache.filled, 11);
        // A failed fill leaves its pages unfilled.
        let other = [9, 9, 9, 4 * PAGE];
        let r = cache.fill(&mem, other, 0..4, |_, _, _| Err("io"));
        assert_eq!(r, Some(Err("io")));
        assert!(!cache.extent(&mem, other).expect("extent").is_filled(0));
    }

    #[test]
    fn huge_and_empty_files_are_not_cached() {
        let mem = Arc::new(MemoryFile::new(1 << 30).expect("memory file"));
        let mut cache = PageCache::default();
        assert!(cache.extent(&mem, [1, 1, 1, 0]).is_none());
        assert!(cache
            .extent(&mem, [1, 1, 1, (MAX_FILE_PAGES + 1) * PAGE])
            .is_none());
    }

    /// Filled pages count against the memory limit; eviction gives back those no mapping
    /// holds and keeps the mapped ones.
    #[test]
    fn filled_pages_are_charged_and_evicted_unless_mapped() {
        let mem = Arc::new(MemoryFile::new(1 << 30).expect("memory file"));
        mem.set_limit(8 * PAGE);
        let key = [7, 7, 7, 6 * PAGE];
        let r = lock().fill(&mem, key, 0..6, |_, _, _| Ok::<(), ()>(()));
        assert_eq!(r, Some(Ok(())));
        assert_eq!(mem.used(), 6 * PAGE, "the extent itself is not counted");
        let mapped = lock().extent(&mem, key).expect("extent").offset(0);
        let id = Arc::as_ptr(&mem) as usize;
        super::super::shared_pages().insert((id, mapped), 2);
        assert!(mem.charge(4 * PAGE).is_err());
        assert_eq!(evict(&mem), 5);
        assert_eq!(mem.used(), PAGE);
        {
            let mut cache = lock();
            let ext = cache.extent(&mem, key).expect("extent");
            assert!(ext.is_filled(0) && !ext.is_filled(1));
        }
        mem.charge(4 * PAGE).expect("room after eviction");
        super::super::shared_pages().remove(&(id, mapped));
    }
}
