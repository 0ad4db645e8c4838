//! The memory file: one memfd that holds all guest memory and every page the Sentry shares
//! with stub processes.
//!
//! The Sentry maps the whole file once (`MAP_SHARED | MAP_NORESERVE`; pages cost nothing until
//! touched) and reaches any guest page through that mapping, never through the stub. Stub
//! processes map ranges of it at fixed addresses on request. Other processes (guest code) may
//! write any page they have mapped at any moment, so the Sentry touches the mapping only through
//! raw-pointer copies and atomics, never through references to plain data.
//!
//! The allocator bounds what the file can cost the host: it counts the bytes it has handed
//! out and not yet got back as holes (`used`: live pages, kept runs and runs queued for a
//! punch alike, since all of them may be backed by host memory), and an allocation that would
//! take `used` past the limit ([`MemoryFile::set_limit`]) first punches what it can (queued
//! runs, then kept ones) and then fails with [`Error::MemoryLimit`]. A caller that reserves
//! address space it fills page by page (the page cache) takes it with
//! [`MemoryFile::reserve`], uncounted, and counts each page it fills with
//! [`MemoryFile::charge`]. Every host-resident page of the file is therefore counted, and the
//! file can't cost the host more than the limit.

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use snare_abi::{Pod, PAGE_SIZE};

use crate::sys::check;
use crate::{Error, Result};

const PAGE: u64 = PAGE_SIZE as u64;

/// The memory file's fd is at least this (see [`MemoryFile::new`]).
pub const MIN_FD: i32 = 64;

/// The memory file and its page allocator.
#[derive(Debug)]
pub struct MemoryFile {
    fd: OwnedFd,
    base: *mut u8,
    size: u64,
    alloc: Arc<Mutex<Allocator>>,
    /// Freed runs waiting for their holes to be punched by a background thread.
    punch: Arc<Punch>,
    /// Debugging only (`SNARE_DEBUG_QUARANTINE_MB=N`): freed runs wait here (N MiB of
    /// them), filled with [`CANARY`], before they really go; a run whose canary changed
    /// meanwhile was written after it was freed (a stub still mapping it, a Sentry copy
    /// through a stale offset) and is logged as an error with where it was freed. Pages are
    /// tracked from allocation to free too: a double free or double allocation is logged.
    quarantine: Option<Mutex<Quarantine>>,
}

#[derive(Debug, Default)]
struct Quarantine {
    /// Allocated pages (debugging): a free of a page not here is a double free.
    live: std::collections::HashSet<u64>,
    /// Where each freed page was last freed.
    freed_at: std::collections::HashMap<u64, &'static std::panic::Location<'static>>,
    runs: std::collections::VecDeque<(u64, u64, &'static std::panic::Location<'static>)>,
    bytes: u64,
    max: u64,
}

impl Quarantine {
    fn new(max: u64) -> Mutex<Quarantine> {
        Mutex::new(Quarantine {
            max,
            ..Quarantine::default()
        })
    }
}

/// What a quarantined run is filled with.
const CANARY: u8 = 0xa5;

/// Hole punching off the caller's path: a 1 MiB punch costs 100–300 µs on this VM (the
/// host zaps the Sentry's mapping of the pages, with a TLB shootdown), and a munmap or an
/// exit should not wait for it. A run goes back to the allocator only once punched, so
/// fresh allocations still read as zeros.
#[derive(Debug, Default)]
struct Punch {
    queue: Mutex<PunchQueue>,
    cv: Condvar,
}

#[derive(Debug, Default)]
struct PunchQueue {
    runs: Vec<(u64, u64)>,
    /// Runs the punching thread has taken and not yet given back to the allocator.
    in_flight: usize,
    started: bool,
    stop: bool,
}

// SAFETY: `base` points to a shared mapping that lives as long as the MemoryFile; all access
// through it is by raw copies and atomics, which are safe from any thread.
unsafe impl Send for MemoryFile {}
// SAFETY: as above; the allocator is behind a Mutex.
unsafe impl Sync for MemoryFile {}

#[derive(Debug, Default)]
struct Allocator {
    /// First never-allocated offset.
    next: u64,
    /// Free ranges: offset → length, coalesced.
    free: BTreeMap<u64, u64>,
    /// Freed runs whose pages were kept (not punched), by length: see [`RECYCLE_MAX_RUN`].
    recycled: BTreeMap<u64, Vec<u64>>,
    recycled_bytes: u64,
    /// Most bytes kept in `recycled`.
    recycle_max: u64,
    /// Bytes allocated and not yet punched (live, kept or queued for a punch) plus charged
    /// bytes of reservations: at least what the host backs.
    used: u64,
    /// Most `used` may reach.
    limit: u64,
}

/// Freed runs up to this long are kept for later allocations instead of going back to the
/// host: on this VM, punching a hole costs a TLB shootdown across every process that mapped
/// the pages, and the next first touch of a fresh page ≈ 2.5 µs, while reusing a page the
/// host still backs costs a 4 KiB zero-fill. An allocation takes a kept run of its length,
/// else the shortest longer one, split (an exiting process frees its pages as one run by
/// offset, and the next process allocates them again in pieces: stack, data, heap). At most
/// `recycle_max` bytes (32 MiB unless [`MemoryFile::set_recycle_max`]) are kept. Longer runs
/// (mapped-ahead memory, mostly never touched) are punched: refilling them would back every
/// page.
const RECYCLE_MAX_RUN: u64 = 64 * PAGE;

/// Zeros for refilling recycled runs (through the file, so the Sentry's mapping takes no
/// faults), a chunk at a time.
static ZEROS: [u8; 16 * PAGE as usize] = [0; 16 * PAGE as usize];

impl MemoryFile {
    /// Creates a memory file of `size` bytes (sparse) and maps it into this process.
    pub fn new(size: u64) -> Result<MemoryFile> {
        let size = size.div_ceil(PAGE) * PAGE;
        // SAFETY: the name is a NUL-terminated literal.
        let fd = check("memfd_create", unsafe {
            libc::syscall(
                libc::SYS_memfd_create,
                c"snare-memory".as_ptr(),
                libc::MFD_CLOEXEC,
            )
        })?;
        // SAFETY: the kernel just gave us this fd.
        let low = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
        // Stubs inherit the file at the same number, and their fds below MIN_FD are where
        // host files arrive for direct mappings: the memory file must never be one of them.
        // SAFETY: F_DUPFD_CLOEXEC on an fd we own returns a new fd (or -1).
        let fd = check("fcntl (F_DUPFD_CLOEXEC)", unsafe {
            libc::fcntl(low.as_raw_fd(), libc::F_DUPFD_CLOEXEC, MIN_FD) as i64
        })?;
        drop(low);
        // SAFETY: the kernel just gave us this fd.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
        // SAFETY: plain integers on an fd we own.
        check("ftruncate", unsafe {
            libc::ftruncate(fd.as_raw_fd(), size as libc::off_t) as i64
        })?;
        // SAFETY: a fresh shared mapping of the whole file at an address the kernel picks.
        let base = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                size as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_NORESERVE,
                fd.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(Error::Host {
                call: "mmap",
                errno: crate::sys::errno(),
            });
        }
        Ok(MemoryFile {
            fd,
            base: base.cast(),
            size,
            alloc: Arc::new(Mutex::new(Allocator {
                recycle_max: 32 << 20,
                limit: u64::MAX,
                ..Allocator::default()
            })),
            quarantine: std::env::var("SNARE_DEBUG_QUARANTINE_MB")
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .filter(|&mb| mb > 0)
                .map(|mb| Quarantine::new(mb << 20)),
            punch: Arc::default(),
        })
    }

    /// The file descriptor (valid in stub processes too: they inherit it at the same number).
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The file descriptor, borrowed (for host calls that copy into the file directly).
    pub fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(&self.fd)
    }

    /// Size of the file in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// How many bytes of freed pages may be kept for reuse (0: every free punches a hole).
    pub fn set_recycle_max(&self, bytes: u64) {
        self.alloc
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .recycle_max = bytes;
    }

    /// Bounds the bytes allocated (and charged) at once: past it allocations fail with
    /// [`Error::MemoryLimit`].
    pub fn set_limit(&self, bytes: u64) {
        self.lock_alloc().limit = bytes;
    }

    /// The limit of [`MemoryFile::set_limit`] (`u64::MAX`: none).
    pub fn limit(&self) -> u64 {
        self.lock_alloc().limit
    }

    /// Bytes counted against the limit now.
    pub fn used(&self) -> u64 {
        self.lock_alloc().used
    }

    fn lock_alloc(&self) -> std::sync::MutexGuard<'_, Allocator> {
        self.alloc.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes `len` bytes of file space that don't count against the limit (holes until
    /// written): the caller [`charge`](MemoryFile::charge)s each page before it fills it,
    /// and never frees the reservation.
    pub fn reserve(&self, len: u64) -> Result<u64> {
        let len = len.div_ceil(PAGE).max(1) * PAGE;
        let mut a = self.lock_alloc();
        let off = self.allocate_locked(&mut a, len, false)?;
        drop(a);
        self.debug_mark_live(off, len);
        Ok(off)
    }

    /// Debugging (with the quarantine): notes `[off, off + len)` as allocated, reporting
    /// pages that already were.
    fn debug_mark_live(&self, off: u64, len: u64) {
        let Some(q) = &self.quarantine else { return };
        let mut q = q.lock().unwrap_or_else(|e| e.into_inner());
        for p in (off..off + len).step_by(PAGE as usize) {
            if !q.live.insert(p) {
                tracing::error!(
                    page = format_args!("{p:#x}"),
                    "quarantine: page allocated twice"
                );
            }
        }
    }

    /// Counts `len` more bytes against the limit (pages of a reservation about to be filled);
    /// [`Error::MemoryLimit`] when there is no room even after punching what waits.
    pub fn charge(&self, len: u64) -> Result<()> {
        let mut a = self.lock_alloc();
        self.make_room(&mut a, len)?;
        a.used += len;
        Ok(())
    }

    /// Punches `[off, off + len)` of a reservation and stops counting it (see
    /// [`MemoryFile::charge`]); the space stays reserved.
    pub fn uncharge(&self, off: u64, len: u64) {
        punch_hole(self.fd.as_raw_fd(), off, len);
        let mut a = self.lock_alloc();
        a.used = a.used.saturating_sub(len);
    }

    /// Stops counting `len` bytes [`charge`](MemoryFile::charge)d for memory held outside the
    /// file (the Sentry's own copies of guest data, like tmpfs pages).
    pub fn discharge(&self, len: u64) {
        let mut a = self.lock_alloc();
        a.used = a.used.saturating_sub(len);
    }

    /// Like [`MemoryFile::charge`], waiting a moment at the limit for memory on its way back
    /// (runs being punched, or a process that just ended and whose pages are about to be
    /// freed: its parent may hear of the end first).
    pub fn charge_or_wait(&self, len: u64) -> Result<()> {
        use std::time::{Duration, Instant};
        let start = Instant::now();
        loop {
            match self.charge(len) {
                Err(Error::MemoryLimit) => {
                    // A moment for pages about to be freed, longer while runs are being
                    // punched (a large process's pages take a while).
                    let waited = start.elapsed();
                    let more = waited < Duration::from_millis(100)
                        || (self.frees_pending() && waited < Duration::from_secs(2));
                    if !more {
                        return Err(Error::MemoryLimit);
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                r => return r,
            }
        }
    }

    /// Makes sure `len` more bytes fit under the limit, punching queued and kept runs if they
    /// must go.
    fn make_room(&self, a: &mut Allocator, len: u64) -> Result<()> {
        let fits = |a: &Allocator| a.used.checked_add(len).is_some_and(|u| u <= a.limit);
        if fits(a) {
            return Ok(());
        }
        self.punch_waiting(a);
        if fits(a) {
            return Ok(());
        }
        let kept: Vec<(u64, u64)> = std::mem::take(&mut a.recycled)
            .into_iter()
            .flat_map(|(len, offs)| offs.into_iter().map(move |o| (o, len)))
            .collect();
        a.recycled_bytes = 0;
        for (o, l) in kept {
            punch_hole(self.fd.as_raw_fd(), o, l);
            release(a, o, l);
        }
        if fits(a) {
            Ok(())
        } else {
            Err(Error::MemoryLimit)
        }
    }

    /// Allocates `len` bytes (rounded up to pages) of zeroed file space; returns the offset.
    pub fn allocate(&self, len: u64) -> Result<u64> {
        let (off, recycled) = self.allocate_any(len)?;
        self.debug_mark_live(off, len.div_ceil(PAGE).max(1) * PAGE);
        if recycled {
            let len = len.div_ceil(PAGE).max(1) * PAGE;
            let mut done = 0;
            while done < len {
                let n = (len - done).min(ZEROS.len() as u64);
                self.write_fresh(off + done, &ZEROS[..n as usize]);
                done += n;
            }
        }
        Ok(off)
    }

    /// Like [`MemoryFile::allocate`], for a caller that overwrites all of it before anyone
    /// else can see it: the contents are undefined (possibly another process's old data).
    pub fn allocate_uninit(&self, len: u64) -> Result<u64> {
        let off = self.allocate_any(len).map(|(off, _)| off)?;
        self.debug_mark_live(off, len.div_ceil(PAGE).max(1) * PAGE);
        Ok(off)
    }

    /// An allocation, and whether it is a recycled run (old contents).
    fn allocate_any(&self, len: u64) -> Result<(u64, bool)> {
        let len = len.div_ceil(PAGE).max(1) * PAGE;
        let mut a = self.alloc.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(off) = a.take_recycled(len) {
            return Ok((off, true));
        }
        self.make_room(&mut a, len)?;
        let off = self.allocate_locked(&mut a, len, true)?;
        Ok((off, false))
    }

    /// Takes `len` bytes of free file space; `counted`: they count against the limit (the
    /// caller made room).
    fn allocate_locked(&self, a: &mut Allocator, len: u64, counted: bool) -> Result<u64> {
        if counted {
            a.used += len;
        }
        let r = self.find_space(a, len);
        if r.is_err() && counted {
            a.used -= len;
        }
        r
    }

    fn find_space(&self, a: &mut Allocator, len: u64) -> Result<u64> {
        let fit = a
            .free
            .iter()
            .find(|(_, &l)| l >= len)
            .map(|(&o, &l)| (o, l));
        if let Some((off, flen)) = fit {
            a.free.remove(&off);
            if flen > len {
                a.free.insert(off + len, flen - len);
            }
            return Ok(off);
        }
        if a.next + len > self.size {
            // Runs may be waiting for their punch: do them now and look again.
            if !self.punch_waiting(a) {
                return Err(Error::OutOfMemory);
            }
            return self.find_space(a, len);
        }
        let off = a.next;
        a.next += len;
        Ok(off)
    }

    /// Returns `[off, off + len)` to the allocator: a short run is kept for reuse (see
    /// [`RECYCLE_MAX_RUN`]), anything else gives its pages back to the host (a hole).
    #[track_caller]
    pub fn free(&self, off: u64, len: u64) {
        let len = len.div_ceil(PAGE).max(1) * PAGE;
        if let Some(q) = &self.quarantine {
            self.quarantine(q, off, len, std::panic::Location::caller());
            return;
        }
        self.free_now(off, len);
    }

    /// Quarantines a freed run (see `MemoryFile::quarantine`) and frees the oldest ones
    /// beyond the quarantine's size, checking their canaries.
    fn quarantine(
        &self,
        q: &Mutex<Quarantine>,
        off: u64,
        len: u64,
        at: &'static std::panic::Location<'static>,
    ) {
        let canary = [CANARY; PAGE as usize];
        for p in (0..len).step_by(PAGE as usize) {
            self.write(off + p, &canary);
        }
        let mut out = Vec::new();
        {
            let mut q = q.lock().unwrap_or_else(|e| e.into_inner());
            for p in (off..off + len).step_by(PAGE as usize) {
                if !q.live.remove(&p) {
                    let before = q.freed_at.get(&p).map(|l| l.to_string());
                    tracing::error!(
                        page = format_args!("{p:#x}"),
                        freed_at = %at,
                        last_freed_at = ?before,
                        "quarantine: page freed but not allocated"
                    );
                }
                q.freed_at.insert(p, at);
            }
            q.runs.push_back((off, len, at));
            q.bytes += len;
            while q.bytes > q.max {
                let Some(r) = q.runs.pop_front() else { break };
                q.bytes -= r.1;
                out.push(r);
            }
        }
        for (o, l, at) in out {
            let _ = self.check_canary(o, l, at);
            self.free_now(o, l);
        }
    }

    /// Debugging only: checks every run still in the quarantine (the end of a sandbox);
    /// returns how many were written after their free.
    pub fn debug_check_quarantine(&self) -> usize {
        let Some(q) = &self.quarantine else { return 0 };
        let runs: Vec<_> = q
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .runs
            .iter()
            .copied()
            .collect();
        runs.into_iter()
            .filter(|&(o, l, at)| !self.check_canary(o, l, at))
            .count()
    }

    /// Whether the quarantined run `[o, o + l)` still holds only its canary (else logs it).
    fn check_canary(&self, o: u64, l: u64, at: &'static std::panic::Location<'static>) -> bool {
        let mut page = [0u8; PAGE as usize];
        let mut changed = Vec::new();
        for p in (0..l).step_by(PAGE as usize) {
            self.read(o + p, &mut page);
            let n = page.iter().filter(|&&b| b != CANARY).count();
            if n > 0 {
                let i = page.iter().position(|&b| b != CANARY).unwrap_or(0);
                changed.push(format!("+{p:#x}: {n} bytes from {i} ({:#x})", page[i]));
            }
        }
        if !changed.is_empty() {
            tracing::error!(
                run = format_args!("{o:#x}+{l:#x}"),
                freed_at = %at,
                changed = changed.join(", "),
                "quarantine: page written after it was freed"
            );
        }
        changed.is_empty()
    }

    fn free_now(&self, off: u64, len: u64) {
        if len <= RECYCLE_MAX_RUN {
            let mut a = self.alloc.lock().unwrap_or_else(|e| e.into_inner());
            if a.recycled_bytes + len <= a.recycle_max {
                a.keep(off, len);
                return;
            }
        }
        if self.punch_later(off, len) {
            return;
        }
        punch_hole(self.fd.as_raw_fd(), off, len);
        let mut a = self.alloc.lock().unwrap_or_else(|e| e.into_inner());
        release(&mut a, off, len);
    }

    /// Punches and frees the runs still queued for the punching thread, here and now; false
    /// if there were none.
    fn punch_waiting(&self, a: &mut Allocator) -> bool {
        let waiting = std::mem::take(&mut self.punch_queue().runs);
        for &(o, l) in &waiting {
            punch_hole(self.fd.as_raw_fd(), o, l);
            release(a, o, l);
        }
        !waiting.is_empty()
    }

    /// Whether freed runs are still on their way back to the allocator (queued for the
    /// punching thread, or being punched): they count against the limit until they are back.
    pub fn frees_pending(&self) -> bool {
        let q = self.punch_queue();
        !q.runs.is_empty() || q.in_flight > 0
    }

    /// Waits until every freed run is back in the allocator (tests).
    pub fn settle_frees(&self) {
        let mut a = self.alloc.lock().unwrap_or_else(|e| e.into_inner());
        self.punch_waiting(&mut a);
    }

    fn punch_queue(&self) -> std::sync::MutexGuard<'_, PunchQueue> {
        self.punch.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands a run to the punching thread (started if none runs); `false` if there is none.
    fn punch_later(&self, off: u64, len: u64) -> bool {
        let mut q = self.punch_queue();
        if !q.started {
            let Ok(fd) = self.fd.try_clone() else {
                return false;
            };
            let (alloc, punch) = (self.alloc.clone(), self.punch.clone());
            let spawned = std::thread::Builder::new()
                .name("snare-punch".into())
                .spawn(move || punch_loop(&fd, &alloc, &punch));
            if spawned.is_err() {
                return false;
            }
            q.started = true;
        }
        q.runs.push((off, len));
        self.punch.cv.notify_one();
        true
    }

    pub(crate) fn ptr(&self, off: u64, len: usize) -> *mut u8 {
        assert!(
            off.checked_add(len as u64).is_some_and(|e| e <= self.size),
            "memory file access out of bounds: {off:#x}+{len:#x}"
        );
        // SAFETY: in bounds of the mapping, checked above.
        unsafe { self.base.add(off as usize) }
    }

    /// Copies `data` into the file at `off`.
    pub fn write(&self, off: u64, data: &[u8]) {
        let dst = self.ptr(off, data.len());
        // SAFETY: `dst` is in bounds for data.len() bytes; the source is a distinct Rust slice.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), dst, data.len()) }
    }

    /// Writes `data` at `off` through the file (not the mapping): for fresh pages this is
    /// cheaper than a copy through the mapping, which takes a page fault per page.
    pub fn write_fresh(&self, off: u64, data: &[u8]) {
        let _ = self.ptr(off, data.len()); // bounds check
        let mut done = 0usize;
        while done < data.len() {
            let rest = &data[done..];
            // SAFETY: a plain pwrite of a live Rust slice into our own fd.
            let n = unsafe {
                libc::pwrite(
                    self.fd.as_raw_fd(),
                    rest.as_ptr().cast(),
                    rest.len(),
                    (off + done as u64) as libc::off_t,
                )
            };
            if n <= 0 {
                // Out of host memory or the like: fall back to the mapping (which faults the
                // same way a guest access would).
                self.write(off + done as u64, rest);
                return;
            }
            done += n as usize;
        }
    }

    /// Copies from the file at `off` into `out`.
    pub fn read(&self, off: u64, out: &mut [u8]) {
        let src = self.ptr(off, out.len());
        // SAFETY: `src` is in bounds for out.len() bytes; the destination is a distinct slice.
        unsafe { core::ptr::copy_nonoverlapping(src, out.as_mut_ptr(), out.len()) }
    }

    /// Reads a `T` at `off`, once, word by word (other processes may be writing it).
    pub fn read_pod<T: Pod>(&self, off: u64) -> T {
        let size = core::mem::size_of::<T>();
        let src = self.ptr(off, size);
        let mut out = core::mem::MaybeUninit::<T>::uninit();
        if off.is_multiple_of(8) && size.is_multiple_of(8) {
            let dst = out.as_mut_ptr().cast::<u64>();
            for i in 0..size / 8 {
                // SAFETY: `src + 8i` is 8-aligned and in bounds; AtomicU64::from_ptr needs
                // exactly that, and atomics are the right tool for memory others write.
                let w =
                    unsafe { AtomicU64::from_ptr(src.add(8 * i).cast()) }.load(Ordering::Relaxed);
                // SAFETY: `dst` has room for size/8 u64s (T is Pod, size multiple of 8).
                unsafe { dst.add(i).write_unaligned(w) };
            }
        } else {
            // SAFETY: `src` is in bounds for size bytes; volatile read of a Pod.
            unsafe {
                out.as_mut_ptr()
                    .write(core::ptr::read_volatile(src.cast::<T>()))
            };
        }
        // SAFETY: every byte was written above and T is Pod (any bit pattern is valid).
        unsafe { out.assume_init() }
    }

    /// Writes a `T` at `off`.
    pub fn write_pod<T: Pod>(&self, off: u64, value: &T) {
        let size = core::mem::size_of::<T>();
        let dst = self.ptr(off, size);
        if off.is_multiple_of(8) && size.is_multiple_of(8) {
            let src = (value as *const T).cast::<u64>();
            for i in 0..size / 8 {
                // SAFETY: `src` covers size bytes of a Pod value.
                let w = unsafe { src.add(i).read_unaligned() };
                // SAFETY: `dst + 8i` is 8-aligned and in bounds.
                unsafe { AtomicU64::from_ptr(dst.add(8 * i).cast()) }.store(w, Ordering::Relaxed);
            }
        } else {
            // SAFETY: `dst` is in bounds for size bytes.
            unsafe { core::ptr::write_volatile(dst.cast::<T>(), *value) };
        }
    }

    /// The u32 at `off` as an atomic (for words shared with stubs: states, futexes).
    pub fn atomic_u32(&self, off: u64) -> &AtomicU32 {
        assert!(off.is_multiple_of(4));
        let p = self.ptr(off, 4);
        // SAFETY: aligned, in bounds, and valid for the life of `self` (the mapping is only
        // removed in Drop).
        unsafe { AtomicU32::from_ptr(p.cast()) }
    }

    /// The u64 at `off` as an atomic.
    pub fn atomic_u64(&self, off: u64) -> &AtomicU64 {
        assert!(off.is_multiple_of(8));
        let p = self.ptr(off, 8);
        // SAFETY: aligned, in bounds, valid for the life of `self`.
        unsafe { AtomicU64::from_ptr(p.cast()) }
    }
}

/// Punches a hole over `[off, off + len)` of the file.
fn punch_hole(fd: RawFd, off: u64, len: u64) {
    // SAFETY: plain integers on our own fd; punching a hole only zeroes file pages.
    unsafe {
        libc::fallocate(
            fd,
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            off as libc::off_t,
            len as libc::off_t,
        );
    }
}

impl Allocator {
    /// A kept run of `len` bytes: one of exactly that length, else the front of the shortest
    /// longer one (its tail stays kept).
    fn take_recycled(&mut self, len: u64) -> Option<u64> {
        let (&have, _) = self
            .recycled
            .range(len..)
            .find(|(_, offs)| !offs.is_empty())?;
        let offs = self.recycled.get_mut(&have)?;
        let off = offs.pop()?;
        if offs.is_empty() {
            self.recycled.remove(&have);
        }
        self.recycled_bytes -= have;
        if have > len {
            self.keep(off + len, have - len);
        }
        Some(off)
    }

    fn keep(&mut self, off: u64, len: u64) {
        self.recycled_bytes += len;
        self.recycled.entry(len).or_default().push(off);
    }
}

/// Returns a punched run to the free ranges, coalesced (it stops counting against the limit).
fn release(a: &mut Allocator, off: u64, len: u64) {
    a.used = a.used.saturating_sub(len);
    let (mut start, mut end) = (off, off + len);
    if let Some((&po, &pl)) = a.free.range(..start).next_back() {
        if po + pl == start {
            a.free.remove(&po);
            start = po;
        }
    }
    if let Some(nl) = a.free.remove(&end) {
        end += nl;
    }
    if end == a.next {
        a.next = start;
    } else {
        a.free.insert(start, end - start);
    }
}

/// How long the punching thread waits for more work before it ends (the next run starts
/// another): an idle sandbox keeps no thread for it.
const PUNCH_IDLE: std::time::Duration = std::time::Duration::from_secs(2);

/// The punching thread: punches queued runs and frees them, until the file goes or nothing
/// came for [`PUNCH_IDLE`].
fn punch_loop(fd: &OwnedFd, alloc: &Mutex<Allocator>, punch: &Punch) {
    loop {
        let runs = {
            let mut q = punch.queue.lock().unwrap_or_else(|e| e.into_inner());
            if q.runs.is_empty() && !q.stop {
                q = punch
                    .cv
                    .wait_timeout_while(q, PUNCH_IDLE, |q| q.runs.is_empty() && !q.stop)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            if q.stop {
                return;
            }
            if q.runs.is_empty() {
                // Under the lock: a run queued from now on starts a new thread.
                q.started = false;
                return;
            }
            q.in_flight = q.runs.len();
            std::mem::take(&mut q.runs)
        };
        for (off, len) in runs {
            punch_hole(fd.as_raw_fd(), off, len);
            release(
                &mut alloc.lock().unwrap_or_else(|e| e.into_inner()),
                off,
                len,
            );
            let mut q = punch.queue.lock().unwrap_or_else(|e| e.into_inner());
            q.in_flight = q.in_flight.saturating_sub(1);
        }
    }
}

impl Drop for MemoryFile {
    fn drop(&mut self) {
        self.punch_queue().stop = true;
        self.punch.cv.notify_one();
        // SAFETY: unmaps exactly the mapping made in `new`; no references into it outlive self.
        unsafe { libc::munmap(self.base.cast(), self.size as usize) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarantine_finds_writes_after_free() {
        let mut m = MemoryFile::new(1 << 20).expect("memfd");
        m.quarantine = Some(Quarantine::new(1 << 20));
        let a = m.allocate(8192).expect("a");
        let b = m.allocate(4096).expect("b");
        m.free(a, 8192);
        m.free(b, 4096);
        assert_eq!(m.debug_check_quarantine(), 0);
        m.write(a + 4096 + 100, b"late");
        assert_eq!(m.debug_check_quarantine(), 1);
        // Quarantined pages are not handed out again.
        let c = m.allocate(4096).expect("c");
        assert!(c != a && c != a + 4096 && c != b);
    }

    #[test]
    fn allocate_free_coalesce() {
        let m = MemoryFile::new(1 << 20).expect("memfd");
        m.set_recycle_max(0);
        let a = m.allocate(4096).expect("a");
        let b = m.allocate(8192).expect("b");
        let c = m.allocate(1).expect("c");
        assert_eq!((a, b, c), (0, 4096, 12288));
        m.write(b, b"hello");
        let mut buf = [0u8; 5];
        m.read(b, &mut buf);
        assert_eq!(&buf, b"hello");
        m.free(b, 8192);
        m.free(a, 4096);
        m.settle_frees();
        // Coalesced: a 12 KiB hole at 0 serves a 12 KiB request.
        assert_eq!(m.allocate(12288).expect("d"), 0);
        // Freed pages read back as zeros.
        m.read(4096, &mut buf);
        assert_eq!(buf, [0; 5]);
        assert_eq!(m.allocate(1 << 20), Err(Error::OutOfMemory));
    }

    /// A short freed run is kept and handed out again, zeroed by `allocate`: whole for the
    /// same length, split for a shorter one.
    #[test]
    fn freed_runs_are_recycled_zeroed() {
        let m = MemoryFile::new(1 << 20).expect("memfd");
        let a = m.allocate(8192).expect("a");
        m.write(a + 4096, b"secret");
        m.free(a, 8192);
        let b = m.allocate(8192).expect("b");
        assert_eq!(b, a, "the freed run comes back");
        let mut buf = [1u8; 6];
        m.read(b + 4096, &mut buf);
        assert_eq!(buf, [0; 6]);
        m.write(b + 4096, b"secret");
        m.free(b, 8192);
        // A shorter allocation takes the run's front; the tail serves the next one.
        assert_eq!(m.allocate(4096).expect("front"), a);
        let longer = m.allocate(8192).expect("longer than what is kept");
        assert!(longer >= a + 8192, "fresh space, not the kept tail");
        let tail = m.allocate(4096).expect("tail");
        assert_eq!(tail, a + 4096);
        let mut buf = [1u8; 6];
        m.read(tail, &mut buf);
        assert_eq!(buf, [0; 6], "the tail is zeroed too");
        m.write(tail, b"old");
        m.free(tail, 4096);
        assert_eq!(m.allocate_uninit(4096).expect("c"), tail);
        // Past the cap, frees punch holes again.
        m.set_recycle_max(0);
        m.free(tail, 4096);
        m.settle_frees();
        m.read(tail, &mut buf);
        assert_eq!(buf, [0; 6], "punched");
    }

    /// Allocations stop at the limit with a distinct error; kept and queued runs count until
    /// punched, and are punched to make room; reservations count only what is charged.
    #[test]
    fn limit_counts_allocated_pages() {
        let m = MemoryFile::new(1 << 24).expect("memfd");
        m.set_limit(16 * PAGE);
        let a = m.allocate(8 * PAGE).expect("a");
        let b = m.allocate(8 * PAGE).expect("b");
        assert_eq!(m.used(), 16 * PAGE);
        assert_eq!(m.allocate(PAGE), Err(Error::MemoryLimit));
        // A kept run still counts, and is punched when room is needed.
        m.free(a, 8 * PAGE);
        assert_eq!(m.used(), 16 * PAGE);
        let c = m.allocate(16 * PAGE);
        assert_eq!(c, Err(Error::MemoryLimit), "b is live");
        m.free(b, 8 * PAGE);
        let c = m
            .allocate(16 * PAGE)
            .expect("kept runs were punched to make room");
        assert_eq!(m.used(), 16 * PAGE);
        m.free(c, 16 * PAGE);
        m.settle_frees();
        // Reservations: uncounted until charged.
        let r = m.reserve(64 * PAGE).expect("reserve");
        assert_eq!(m.used(), 16 * PAGE, "the kept run of c");
        m.charge(PAGE).expect("charge");
        assert_eq!(m.charge(16 * PAGE), Err(Error::MemoryLimit));
        m.uncharge(r, PAGE);
        m.charge(16 * PAGE)
            .expect("room after the kept run was punched");
        assert_eq!(m.used(), 16 * PAGE);
    }

    #[test]
    fn pod_round_trip() {
        let m = MemoryFile::new(1 << 16).expect("memfd");
        let regs = snare_abi::UserRegs {
            rip: 0x1234,
            r15: 7,
            gs: 9,
            ..Default::default()
        };
        m.write_pod(64, &regs);
        assert_eq!(m.read_pod::<snare_abi::UserRegs>(64), regs);
        m.atomic_u32(8).store(5, Ordering::SeqCst);
        assert_eq!(m.read_pod::<u32>(8), 5);
    }
}
