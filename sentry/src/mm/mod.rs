//! Guest memory: the memory manager of one address space, and copying to and from it.
//!
//! A [`MemoryManager`] owns the guest's virtual memory areas (VMAs) and its page table: which
//! guest page lives at which offset of the memory file. Pages are populated lazily: a guest
//! page fault (or a Sentry access) allocates a run of pages around the faulting one
//! ("fault-around"), fills it (zeros, or the file's bytes for a file mapping), records it and
//! asks the platform to map it into the stub with the VMA's protection. The Sentry reads and
//! writes guest memory only through its own mapping of the memory file.
//!
//! Out of memory: the memory file bounds the pages allocated at once (`--memory`). An
//! allocation for a guest that hits the bound ([`MemoryManager::alloc`]) first has the page
//! cache give back pages no mapping uses, then asks the kernel's [`OomKiller`] to kill the
//! process with the largest footprint (each address space keeps its page count in a
//! [`Usage`]), and waits for its pages to come back; when the faulting process is the victim
//! itself, or nothing comes back, it fails with ENOMEM (a fault then kills the process).

mod cache;
mod mlock;
mod patch;
mod ranges;
mod usercopy;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use snare_abi::Errno;
use snare_platform::systrap::{SystrapAddressSpace, HOST_FILES_MAX};
use snare_platform::{Access, AddressSpace, MapOp, MemoryFile, OpError, Prot};

use ranges::RangeSet;
use snare_stub::layout::CTRL_MAX_OPS;

pub use usercopy::{FlatMemory, GuestMemory};

/// Size of a page.
pub const PAGE: u64 = 4096;
/// Pages populated around a fault, aligned to this many pages.
const FAULT_AROUND: u64 = 16;
/// [`FAULT_AROUND`] for private writable file mappings (data segments).
const FAULT_AROUND_DATA: u64 = 64;
/// Largest private writable mapping populated whole at mmap, in pages.
const SMALL_MAPPING: u64 = 16;
/// Most pages remembered as written first by forked children (see `fork_writes`).
const FORK_HINTS_MAX: usize = 16;
/// Most private writable pages a fork copies for the child at once (see
/// [`MemoryManager::fork`]).
const EAGER_COPY_MAX: usize = 64;
/// Most mappings (runs of pages) a forked child gets before it runs.
const FORK_PREMAP_MAX: usize = 128;
/// Pages around a fault in populated memory that are mapped with it.
const PRESENT_AROUND: u64 = 256;
/// Most pages of a VMA its first fault maps from the page cache.
const PREFETCH_MAX: u64 = 2048;
/// Most unpopulated pages an anonymous fault maps ahead of its window (see `map_ahead`).
const MAP_AHEAD: u64 = 240;
/// Most stub changes held back until the guest faults (see `State::held`).
const HELD_MAX: usize = 256;
/// Most pages waiting in `State::deferred_free` before held changes are sent anyway.
const DEFERRED_FREE_MAX: usize = 4096;
/// One past the highest guest address (the stub region starts here).
pub const TASK_SIZE: u64 = snare_stub::layout::STUB_BASE;
/// Lowest address a guest may map.
pub const MMAP_MIN: u64 = 0x10000;
/// Top of the main thread's stack.
pub const STACK_TOP: u64 = TASK_SIZE - PAGE;
/// Most the main stack grows (RLIMIT_STACK).
pub const STACK_LIMIT: u64 = 8 << 20;
/// Where top-down mmap allocation starts: below the stack's reach plus a gap.
pub const MMAP_BASE: u64 = STACK_TOP - STACK_LIMIT - (128 << 20);
/// Load address of position-independent executables (Linux's ELF_ET_DYN_BASE).
pub const PIE_BASE: u64 = 0x5555_5555_4000;

pub fn page_down(a: u64) -> u64 {
    a & !(PAGE - 1)
}

pub fn page_up(a: u64) -> Option<u64> {
    a.checked_add(PAGE - 1).map(page_down)
}

/// A file that can back a mapping: the memory manager copies pages out of it on fault.
pub trait MappableFile: Send + Sync + std::fmt::Debug {
    /// Reads at `off`; short reads at end of file.
    fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<usize, Errno>;
    /// A name for `/proc/self/maps`.
    fn name(&self) -> String;
    /// What identifies this file's contents for the page cache (device, inode, modification
    /// time, size), for files that don't change under the sandbox; `None`: not cached.
    fn cache_key(&self) -> Option<[u64; 4]> {
        None
    }
    /// For files whose pages can be shared with mappings (tmpfs): the memory-file offset of
    /// page `index`, which stays the file's, with one more owner (see [`add_owner`]) for
    /// the caller's mapping, added while the file can't drop the page (a truncate racing
    /// the caller could otherwise free it before the caller counts itself in). `None`:
    /// shared mappings of this file get private copies.
    fn shared_page(&self, _index: u64, _mem: &Arc<MemoryFile>) -> Option<Result<u64, Errno>> {
        None
    }

    /// Whether a MAP_SHARED mapping of it may be made writable (`mprotect`): the description
    /// it was mapped from was open for writing. Files whose shared mappings are private
    /// copies may say yes.
    fn shared_writable(&self) -> bool {
        true
    }

    /// A host file descriptor open for reading that stubs may map directly (private and
    /// read-only; see [`Vma::direct`]): host files of the read-only lower layer. `None`: the
    /// file's pages go through the memory file.
    fn host_fd(&self) -> Option<std::os::fd::RawFd> {
        None
    }

    /// Copies `len` bytes at file offset `off` into the memory file at `mem_off`; bytes past
    /// the end of the file are left as they are (zero). Returns how many bytes were copied.
    /// Files on the host override this to copy inside the host kernel.
    fn fill(&self, off: u64, mem: &MemoryFile, mem_off: u64, len: usize) -> Result<usize, Errno> {
        let mut buf = vec![0u8; len];
        let mut got = 0usize;
        while got < len {
            match self.read_at(off + got as u64, &mut buf[got..])? {
                0 => break,
                n => got += n,
            }
        }
        mem.write(mem_off, &buf[..got]);
        Ok(got)
    }
}

/// What a VMA's pages are filled from.
#[derive(Clone, Debug)]
pub enum Backing {
    Anon,
    File {
        file: Arc<dyn MappableFile>,
        /// File offset of the VMA's first byte.
        offset: u64,
    },
}

impl Backing {
    fn is_file(&self) -> bool {
        matches!(self, Backing::File { .. })
    }
}

/// Where [`MemoryManager::mmap`] puts a mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// At `addr` if it is free, else wherever there is room.
    Hint,
    /// Exactly at `addr`, replacing what is there (MAP_FIXED).
    Fixed,
    /// Exactly at `addr`, failing with EEXIST if anything is there (MAP_FIXED_NOREPLACE).
    FixedNoReplace,
}

/// A mapping request.
#[derive(Clone, Debug)]
pub struct Mapping {
    pub addr: u64,
    pub len: u64,
    pub prot: Prot,
    pub shared: bool,
    pub placement: Placement,
    pub backing: Backing,
}

impl Mapping {
    /// A private mapping of `len` bytes at exactly `addr`.
    pub fn fixed(addr: u64, len: u64, prot: Prot, backing: Backing) -> Mapping {
        Mapping {
            addr,
            len,
            prot,
            shared: false,
            placement: Placement::Fixed,
            backing,
        }
    }
}

/// A virtual memory area: `[start, end)` with one protection and backing.
#[derive(Clone, Debug)]
pub struct Vma {
    pub start: u64,
    pub end: u64,
    pub prot: Prot,
    pub shared: bool,
    pub backing: Backing,
    /// A stack that grows down on faults below it.
    pub grows_down: bool,
    /// The stub maps the whole VMA straight from the host file (private, never writable),
    /// so the host serves its pages from its own page cache: the Sentry copies nothing and
    /// sees no faults there. Pages the Sentry populates anyway (it read or wrote guest
    /// memory there) are mapped over it from the memory file, with the same contents.
    pub direct: bool,
    /// mlock(2): whether (and how) the VMA is locked.
    pub locked: Locked,
}

/// Whether a VMA is locked in memory (Linux's `VM_LOCKED`, with `VM_LOCKONFAULT` for
/// `OnFault`). Bookkeeping: the Sentry's memory is the memory file, which it never swaps,
/// so nothing more is done for a locked page (see `mlock.rs`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Locked {
    #[default]
    No,
    /// MLOCK/MCL_CURRENT: every page, populated at once on Linux.
    Yes,
    /// MLOCK_ONFAULT/MCL_ONFAULT: the pages as they fault in.
    OnFault,
}

impl Vma {
    fn allows(&self, access: Access) -> bool {
        match access {
            // On x86 any mapping that is writable or executable is also readable.
            Access::Read => self.prot != Prot::NONE,
            Access::Write => self.prot.contains(Prot::WRITE),
            Access::Exec => self.prot.contains(Prot::EXEC),
        }
    }

    /// What backs this VMA, in a word, for logs.
    fn kind(&self) -> &'static str {
        match (&self.backing, self.shared, self.prot.contains(Prot::WRITE)) {
            (Backing::File { .. }, true, _) => "file-shared",
            (Backing::File { .. }, false, false) => "file-ro",
            (Backing::File { .. }, false, true) => "file-private-rw",
            (_, true, _) => "anon-shared",
            (_, false, _) if self.grows_down => "stack",
            _ => "anon",
        }
    }

    /// The part of this VMA inside `[start, end)`, with the file offset adjusted.
    fn slice(&self, start: u64, end: u64) -> Vma {
        let mut v = self.clone();
        v.start = start.max(self.start);
        v.end = end.min(self.end);
        if let Backing::File { offset, .. } = &mut v.backing {
            *offset += v.start - self.start;
        }
        v
    }
}

#[derive(Debug)]
struct State {
    /// VMAs by start address; never overlapping.
    vmas: BTreeMap<u64, Vma>,
    /// Populated pages: guest page address → memory file offset.
    pages: BTreeMap<u64, u64>,
    brk_start: u64,
    brk: u64,
    /// Changes to the stub's mappings not sent yet, in order. Inside
    /// [`MemoryManager::batched`] every change waits for the end of the batch; outside,
    /// changes wait as long as they are all *lazy*: they only touch ranges where the stub
    /// has nothing mapped (`stub_mapped`), so the guest can't tell them missing: its first
    /// touch there faults, and the fault sends them. An exec's dynamic loader mapping and
    /// protecting a library's segments costs one round trip then, not one per call.
    held: Vec<Held>,
    /// Every op in `held` is lazy.
    held_lazy: bool,
    /// The thread inside [`MemoryManager::batched`], if one is. Only that thread's changes
    /// wait for the batch's end: another thread's munmap must have reached the stub before
    /// that thread runs guest code again (it would still see the old pages).
    batch: Option<std::thread::ThreadId>,
    /// Handling a guest fault: what it maps goes at once.
    in_fault: bool,
    /// The Sentry populating a page of a direct VMA for its own access: the stub maps the
    /// host file there already, with the same contents, so the page isn't mapped over it.
    quiet: bool,
    /// Where the stub may have something mapped: every range changes sent to it mapped,
    /// less those it unmapped since (an over-approximation is safe: a change there is just
    /// not held back).
    stub_mapped: RangeSet,
    /// Memory-file pages to free once the held-back changes (which unmap them) reach the
    /// stub: a page freed while a stub still maps it could be reused for another process
    /// while this one's other threads still run guest code.
    deferred_free: Vec<u64>,
    /// The parent's [`MemoryManager::fork_writes`], for a forked child until it execs.
    report_writes: Option<Arc<Mutex<Vec<u64>>>>,
    /// How new mappings are locked (`mlockall(MCL_FUTURE)`: Linux's `def_flags`).
    def_lock: Locked,
}

/// A held-back stub change, with the host file a [`MapOp::MapHost`] maps (its fd stays open
/// while the op waits).
#[derive(Debug)]
struct Held {
    op: MapOp,
    _file: Option<Arc<dyn MappableFile>>,
}

/// Memory-file pages owned by more than one address space (after fork), with their owner
/// count; a page not listed has exactly one owner. Keyed by (memory file, offset).
static SHARED_PAGES: LazyLock<Mutex<PageCounts>> =
    LazyLock::new(|| Mutex::new(PageCounts::default()));

/// Owner counts by (memory file, offset). Hashed with a multiply-shift of the page number:
/// the keys are page offsets the Sentry chose (not guest-controlled hash input), and every
/// fork, exec and prefetch touches hundreds of them, where SipHash showed.
type PageCounts = HashMap<(usize, u64), u32, std::hash::BuildHasherDefault<PageHasher>>;

/// See [`PageCounts`].
#[derive(Default)]
struct PageHasher(u64);

impl std::hash::Hasher for PageHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
}

fn shared_pages() -> MutexGuard<'static, PageCounts> {
    SHARED_PAGES.lock().unwrap_or_else(|e| e.into_inner())
}

/// Adds one owner to the memory-file page at `off`, which the caller knows is allocated
/// (it holds whatever keeps an owner in place).
pub fn add_owner(file: &Arc<MemoryFile>, off: u64) {
    let id = Arc::as_ptr(file) as usize;
    *shared_pages().entry((id, off)).or_insert(1) += 1;
}

/// Drops one owner of each memory-file page in `offs` (for files that hold pages, like
/// tmpfs): pages still mapped somewhere stay, the rest return to the allocator.
#[track_caller]
pub fn release_pages(file: &Arc<MemoryFile>, offs: impl IntoIterator<Item = u64>) {
    let id = Arc::as_ptr(file) as usize;
    let mut free: Vec<u64> = {
        let mut refs = shared_pages();
        offs.into_iter()
            .filter(|&o| match refs.get_mut(&(id, o)) {
                Some(n) => {
                    *n -= 1;
                    if *n <= 1 {
                        refs.remove(&(id, o));
                    }
                    false
                }
                None => true,
            })
            .collect()
    };
    // A run of consecutive offsets at a time: each free is a host call.
    free.sort_unstable();
    let mut run: Option<(u64, u64)> = None;
    for o in free {
        match run {
            Some((s, e)) if e == o => run = Some((s, e + PAGE)),
            Some((s, e)) => {
                file.free(s, e - s);
                run = Some((o, o + PAGE));
            }
            None => run = Some((o, o + PAGE)),
        }
    }
    if let Some((s, e)) = run {
        file.free(s, e - s);
    }
}

/// How much of the memory file one address space holds, for the OOM killer's choice.
#[derive(Debug)]
pub struct Usage {
    /// Populated pages (private and shared alike, like Linux's RSS), updated whenever the
    /// address space's state is unlocked.
    pages: AtomicUsize,
    /// The process (tgid) the address space belongs to; 0 until a task runs in it.
    owner: AtomicI32,
    /// The memory file's identity.
    file: usize,
}

impl Usage {
    /// Populated pages.
    pub fn pages(&self) -> usize {
        self.pages.load(Ordering::Relaxed)
    }

    /// The owning process (0: none yet).
    pub fn owner(&self) -> i32 {
        self.owner.load(Ordering::Relaxed)
    }
}

/// Every live address space's [`Usage`].
static USAGES: Mutex<Vec<Weak<Usage>>> = Mutex::new(Vec::new());

/// The [`Usage`] of every live address space on `file`.
pub fn usages(file: &Arc<MemoryFile>) -> Vec<Arc<Usage>> {
    let id = Arc::as_ptr(file) as usize;
    let mut all = USAGES.lock().unwrap_or_else(|e| e.into_inner());
    all.retain(|u| u.strong_count() > 0);
    all.iter()
        .filter_map(Weak::upgrade)
        .filter(|u| u.file == id)
        .collect()
}

/// The kernel's side of running out of memory.
pub trait OomKiller: Send + Sync {
    /// Kills a process to free memory for the address space of `faulting` (the one with the
    /// largest footprint, or waits for a victim that is already dying). Returns whether the
    /// memory may come back while the caller waits: `false` when there was nothing to kill or
    /// the victim is `faulting`'s own process.
    fn kill_for(&self, faulting: &Usage) -> bool;
}

/// The OOM killer of each memory file.
static OOM_KILLERS: Mutex<Vec<(usize, Weak<dyn OomKiller>)>> = Mutex::new(Vec::new());

/// Sets the OOM killer of `file`'s allocations.
pub fn set_oom_killer(file: &Arc<MemoryFile>, killer: Weak<dyn OomKiller>) {
    let id = Arc::as_ptr(file) as usize;
    let mut all = OOM_KILLERS.lock().unwrap_or_else(|e| e.into_inner());
    all.retain(|(f, k)| *f != id && k.strong_count() > 0);
    all.push((id, killer));
}

fn oom_killer(file: &Arc<MemoryFile>) -> Option<Arc<dyn OomKiller>> {
    let id = Arc::as_ptr(file) as usize;
    let all = OOM_KILLERS.lock().unwrap_or_else(|e| e.into_inner());
    all.iter()
        .find(|(f, _)| *f == id)
        .and_then(|(_, k)| k.upgrade())
}

/// How many victims one allocation may kill before it fails.
const OOM_ROUNDS: u32 = 3;
/// How long an allocation waits for a victim's pages to come back.
const OOM_WAIT: Duration = Duration::from_secs(2);

/// The state of a [`MemoryManager`], locked: unlocking records its page count in its
/// [`Usage`].
struct StateGuard<'a> {
    guard: MutexGuard<'a, State>,
    usage: &'a Usage,
}

impl std::ops::Deref for StateGuard<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        &self.guard
    }
}

impl std::ops::DerefMut for StateGuard<'_> {
    fn deref_mut(&mut self) -> &mut State {
        &mut self.guard
    }
}

impl Drop for StateGuard<'_> {
    fn drop(&mut self) {
        self.usage
            .pages
            .store(self.guard.pages.len(), Ordering::Relaxed);
    }
}

/// `prot` without write permission (a copy-on-write page until it is copied).
fn read_only(prot: Prot) -> Prot {
    Prot::from_bits(prot.bits() & !Prot::WRITE.bits()).unwrap_or(Prot::NONE)
}

/// The largest single commitment [`MemoryManager::overcommits`] allows, when not the memory
/// limit (0): a container's memory limit is a cgroup's on a larger machine, where Linux's
/// overcommit heuristic looks at the machine's RAM, so a large `mmap` succeeds and its pages
/// meet the OOM killer instead (runc's behaviour); `snare do --memory` is the machine's RAM.
/// One sandbox per Sentry process: set once at start.
static COMMIT_LIMIT: AtomicU64 = AtomicU64::new(0);

/// Sets the bound of [`COMMIT_LIMIT`] (`run::run_gated`, for a container).
pub fn set_commit_limit(bytes: u64) {
    COMMIT_LIMIT.store(bytes, Ordering::Relaxed);
}

/// The memory of one guest address space.
#[derive(Debug)]
pub struct MemoryManager {
    space: SystrapAddressSpace,
    file: Arc<MemoryFile>,
    st: Mutex<State>,
    /// Pages this process's forked children wrote first (their copy-on-write faults), which
    /// the next child gets copied at fork instead: a fork-and-exec loop (a shell) has its
    /// children write the same few pages every time, and a copy costs far less than a
    /// fault. At most [`FORK_HINTS_MAX`].
    fork_writes: Arc<Mutex<Vec<u64>>>,
    /// Syscall-site patching (`patch.rs`).
    sites: Mutex<patch::Sites>,
    /// What it holds, for the OOM killer.
    usage: Arc<Usage>,
    /// The `membarrier(2)` registrations of this address space (the REGISTER commands'
    /// bits): kept by fork, gone with exec, as Linux keeps them per mm.
    membarrier: std::sync::atomic::AtomicU32,
}

impl MemoryManager {
    pub fn new(space: SystrapAddressSpace, file: Arc<MemoryFile>) -> MemoryManager {
        let file_id = Arc::as_ptr(&file) as usize;
        MemoryManager {
            space,
            file,
            st: Mutex::new(State {
                vmas: BTreeMap::new(),
                pages: BTreeMap::new(),
                brk_start: 0,
                brk: 0,
                held: Vec::new(),
                held_lazy: true,
                batch: None,
                in_fault: false,
                quiet: false,
                stub_mapped: RangeSet::default(),
                deferred_free: Vec::new(),
                report_writes: None,
                def_lock: Locked::No,
            }),
            fork_writes: Arc::default(),
            sites: Mutex::default(),
            usage: Self::new_usage(&file_id),
            membarrier: std::sync::atomic::AtomicU32::new(0),
        }
    }

    /// The `membarrier(2)` registrations (see [`MemoryManager::membarrier`]'s field).
    pub fn membarrier_registrations(&self) -> u32 {
        self.membarrier.load(Ordering::SeqCst)
    }

    /// Records a `membarrier(2)` registration command.
    pub fn register_membarrier(&self, cmd: u32) {
        self.membarrier.fetch_or(cmd, Ordering::SeqCst);
    }

    fn new_usage(file: &usize) -> Arc<Usage> {
        let usage = Arc::new(Usage {
            pages: AtomicUsize::new(0),
            owner: AtomicI32::new(0),
            file: *file,
        });
        USAGES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::downgrade(&usage));
        usage
    }

    /// Records that process `tgid` owns this address space, unless one already does (a
    /// vfork child runs in its parent's).
    pub fn set_owner(&self, tgid: i32) {
        let _ = self
            .usage
            .owner
            .compare_exchange(0, tgid, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// What this address space holds.
    pub fn usage(&self) -> &Arc<Usage> {
        &self.usage
    }

    /// Whether `len` bytes of committed memory are more than the sandbox has: Linux's
    /// heuristic overcommit refuses a single mapping larger than RAM plus swap (here, the
    /// memory limit, or [`set_commit_limit`]'s bound).
    pub fn overcommits(&self, len: u64) -> bool {
        let bound = COMMIT_LIMIT.load(Ordering::Relaxed);
        len > if bound == 0 { self.file.limit() } else { bound }
    }

    /// Allocates `len` bytes of the memory file for this address space (zeroed, or with
    /// undefined contents if `uninit`). At the memory limit the page cache gives back what no
    /// mapping uses, then the OOM killer kills a process (at most [`OOM_ROUNDS`] times) and
    /// the allocation waits up to [`OOM_WAIT`] for the pages to come back. ENOMEM when they
    /// don't, or when this process is the victim.
    fn alloc(&self, len: u64, uninit: bool) -> Result<u64, Errno> {
        let mut rounds = 0;
        let mut deadline: Option<Instant> = None;
        loop {
            let r = if uninit {
                self.file.allocate_uninit(len)
            } else {
                self.file.allocate(len)
            };
            match r {
                Ok(off) => return Ok(off),
                Err(snare_platform::Error::MemoryLimit) => {}
                Err(_) => return Err(Errno::ENOMEM),
            }
            // Waiting for a victim's pages.
            if deadline.is_some_and(|d| Instant::now() < d) {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            if cache::evict(&self.file) > 0 {
                continue;
            }
            // Freed pages on their way back (a victim's, being punched) come first: killing
            // another process for them would kill one too many.
            if self.file.frees_pending() {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            rounds += 1;
            if rounds > OOM_ROUNDS {
                return Err(Errno::ENOMEM);
            }
            let Some(killer) = oom_killer(&self.file) else {
                return Err(Errno::ENOMEM);
            };
            if !killer.kill_for(&self.usage) {
                return Err(Errno::ENOMEM);
            }
            deadline = Some(Instant::now() + OOM_WAIT);
        }
    }

    /// A copy of this address space in `child`, for fork. Private pages become copy-on-write:
    /// both sides own them (read-only in both stubs) until one writes, which copies. Shared
    /// mappings (MAP_SHARED) keep the very same pages on both sides: they are populated
    /// whole first, so a page touched later is still one page. A small single-threaded
    /// process (`alone`: no other thread can write while the pages are copied) gives its
    /// child copies of its writable pages instead ([`EAGER_COPY_MAX`]): copying a few dozen
    /// pages costs less than write-protecting them and the faults both sides would take.
    ///
    /// `killed` says whether the forking thread is being killed: populating a large shared
    /// mapping is long work, which then stops (EINTR, which nobody sees).
    pub fn fork(
        &self,
        child: SystrapAddressSpace,
        alone: bool,
        killed: &dyn Fn() -> bool,
    ) -> Result<MemoryManager, Errno> {
        // Lock order: `sites` before `st` (patching maps the table). Held until the child
        // has its copy: a patch another thread makes meanwhile would otherwise reach the
        // child's memory without its entry count, and the child's next patch would reuse
        // (rewrite) the entry that site jumps through.
        let sites_held = self.sites.lock().unwrap_or_else(|e| e.into_inner());
        let sites = sites_held.clone();
        let mut st = self.lock();
        let shared: Vec<Vma> = st.vmas.values().filter(|v| v.shared).cloned().collect();
        for v in &shared {
            let mut p = v.start;
            while p < v.end {
                if (p / PAGE).is_multiple_of(256) && killed() {
                    return Err(Errno::EINTR);
                }
                if !st.pages.contains_key(&p) {
                    self.populate(&mut st, v, p)?;
                }
                p += PAGE;
            }
        }
        let private_writable: Vec<Vma> = st
            .vmas
            .values()
            .filter(|v| !v.shared && v.prot.contains(Prot::WRITE))
            .cloned()
            .collect();
        let writable: Vec<u64> = private_writable
            .iter()
            .flat_map(|v| st.pages.range(v.start..v.end).map(|(&a, _)| a))
            .collect();
        let eager = alone && writable.len() <= EAGER_COPY_MAX;
        if !eager {
            let mut ops = Vec::new();
            for v in &private_writable {
                for (s, e) in populated_runs(&st, v.start, v.end) {
                    let prot = read_only(v.prot);
                    ops.push(MapOp::Protect {
                        addr: s,
                        len: e - s,
                        prot,
                    });
                }
            }
            self.apply(&mut st, &ops)?;
        }
        {
            let mut refs = shared_pages();
            let id = self.file_id();
            for &off in st.pages.values() {
                *refs.entry((id, off)).or_insert(1) += 1;
            }
        }
        let mm = MemoryManager::new(child, self.file.clone());
        mm.register_membarrier(self.membarrier_registrations());
        *mm.sites.lock().unwrap_or_else(|e| e.into_inner()) = sites;
        // Copied now: the writable pages (eager), or those earlier children wrote first.
        let hints = if eager {
            writable
        } else {
            self.fork_writes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
        };
        let ops = {
            let mut c = mm.lock();
            // Memory locks are not inherited (nor is MCL_FUTURE).
            c.vmas = st.vmas.clone();
            for v in c.vmas.values_mut() {
                v.locked = Locked::No;
            }
            c.pages = st.pages.clone();
            c.brk_start = st.brk_start;
            c.brk = st.brk;
            c.report_writes = Some(self.fork_writes.clone());
            for a in hints {
                let private_rw =
                    c.vmas.range(..=a).next_back().is_some_and(|(_, v)| {
                        v.end > a && !v.shared && v.prot.contains(Prot::WRITE)
                    });
                let Some(&old) = c.pages.get(&a).filter(|_| private_rw) else {
                    continue;
                };
                let Ok(new) = self.copy_page(old) else {
                    break;
                };
                c.pages.insert(a, new);
                self.free_pages(std::iter::once(old));
            }
            // Its direct mappings of host files (what doesn't fit maps on first touch),
            // then its parent's pages over them (copy-on-write ones read-only), so it faults
            // only where it writes. Held back: the child's first fault sends them all, on
            // its own thread, while this one returns from fork.
            let files = mm.hold_direct_forked(&mut c);
            // All in one request with the child's thread (see `new_context`).
            let room = CTRL_MAX_OPS.saturating_sub(c.held.len() + 2 * files + 2);
            let mut ops = premap_ops(&c, |o| self.is_shared(o));
            ops.truncate(room);
            mm.hold(&mut c, &ops, None);
            mm.settle(&mut c)
        };
        // Best effort: what isn't mapped faults in.
        if let Err(e) = ops {
            tracing::debug!(?e, "premapping a forked child");
        }
        Ok(mm)
    }

    /// Lets go of every mapping's file (an exiting process, before its parent hears of it:
    /// a tmpfs file's count of writable shared mappings, which `F_SEAL_WRITE` asks, must
    /// not see the dead child's). The stub and the pages go when the manager does.
    pub fn drop_mappings(&self) {
        let vmas = std::mem::take(&mut self.lock().vmas);
        drop(vmas);
    }

    /// Empties the address space (exec reusing it): every mapping and page goes.
    pub fn reset(&self) -> Result<(), Errno> {
        *self.sites.lock().unwrap_or_else(|e| e.into_inner()) = patch::Sites::default();
        let mut st = self.lock();
        st.vmas.clear();
        st.def_lock = Locked::No;
        self.membarrier.store(0, Ordering::SeqCst);
        st.brk_start = 0;
        st.brk = 0;
        st.report_writes = None;
        let pages = std::mem::take(&mut st.pages);
        // Lazy held changes never reached the stub: they can just go.
        if st.held_lazy {
            st.held.clear();
        }
        let unmap = MapOp::Unmap {
            addr: MMAP_MIN,
            len: TASK_SIZE - MMAP_MIN,
        };
        let r = self.apply(&mut st, &[unmap]);
        self.free_unmapped(&mut st, pages.into_values().collect());
        r
    }

    /// Sends `ops` to the stub, or holds them back (see `State::held`).
    fn apply(&self, st: &mut State, ops: &[MapOp]) -> Result<(), Errno> {
        self.hold(st, ops, None);
        self.settle(st)
    }

    /// Queues `ops` behind the held ones (`file`: the host file of [`MapOp::MapHost`] ops).
    fn hold(&self, st: &mut State, ops: &[MapOp], file: Option<&Arc<dyn MappableFile>>) {
        if st.quiet {
            return;
        }
        for op in ops {
            let (start, end) = op.range();
            st.held_lazy &= !st.stub_mapped.intersects(start, end);
            st.held.push(Held {
                op: *op,
                _file: file.cloned(),
            });
        }
    }

    /// Outside a batch, sends the held changes unless they may wait for a guest fault.
    fn settle(&self, st: &mut State) -> Result<(), Errno> {
        let wait = st.batch == Some(std::thread::current().id())
            || (st.held_lazy
                && LAZY_MAPPINGS.load(std::sync::atomic::Ordering::Relaxed)
                && st.held.len() <= HELD_MAX
                && st.deferred_free.len() <= DEFERRED_FREE_MAX);
        if wait {
            return Ok(());
        }
        self.flush(st)
    }

    /// Sends every held change to the stub, then frees the pages they unmapped (see
    /// `State::deferred_free`).
    fn flush(&self, st: &mut State) -> Result<(), Errno> {
        let held = std::mem::take(&mut st.held);
        let ops: Vec<MapOp> = held.iter().map(|h| h.op).collect();
        let r = if ops.is_empty() {
            Ok(())
        } else {
            self.apply_now(st, &ops)
        };
        self.sent(st);
        r
    }

    /// What was held has reached the stub (or failed there): nothing is held, and the
    /// pages the held unmaps freed can go.
    fn sent(&self, st: &mut State) {
        st.held_lazy = true;
        let free = std::mem::take(&mut st.deferred_free);
        self.free_pages(free);
    }

    /// A new thread context in this address space, with the held changes sent (a forked
    /// child's premapping, a new image: the thread runs next and would fault on them first).
    /// When the stub must make a thread they go in the same request: one round trip for
    /// both; a parked thread takes no request, so they go on their own.
    pub fn new_context(&self) -> snare_platform::Result<snare_platform::systrap::SystrapContext> {
        let mut st = self.lock();
        if st.held.is_empty() {
            drop(st);
            return self.space.new_context();
        }
        let held = std::mem::take(&mut st.held);
        let ops: Vec<MapOp> = held.iter().map(|h| h.op).collect();
        match self.space.new_context_after(&ops) {
            Ok((ctx, false)) => {
                st.held = held;
                // Best effort: what isn't mapped faults in.
                let _ = self.flush(&mut st);
                Ok(ctx)
            }
            Ok((ctx, true)) => {
                for op in &ops {
                    record(&mut st, op);
                }
                self.sent(&mut st);
                Ok(ctx)
            }
            Err(OpError { index, error }) => {
                tracing::debug!(%error, index, "new context after held changes");
                let done = index.min(ops.len());
                for op in &ops[..done] {
                    record(&mut st, op);
                }
                let _ = self.apply_now(&mut st, &ops[done..]);
                self.sent(&mut st);
                drop(st);
                drop(held);
                if self.space.is_dead() {
                    return Err(error);
                }
                self.space.new_context()
            }
        }
    }

    /// Sends what is held to the stub now (the guest is about to run there: an exec's
    /// image).
    pub fn sync(&self) -> Result<(), Errno> {
        let mut st = self.lock();
        self.flush(&mut st)
    }

    /// Applies `ops` to the stub and records where it has mappings. An op the host refuses
    /// doesn't stop the rest: a protect (a range with holes: a forked child maps on demand,
    /// so not every populated page is mapped there) or a map (the host's limit on mappings)
    /// becomes an unmap, so faults map those pages again; a direct mapping that fails stops
    /// being direct. Err when a change is missing (a map or unmap failed, or the stub died).
    fn apply_now(&self, st: &mut State, ops: &[MapOp]) -> Result<(), Errno> {
        let mut rest = ops;
        let mut result = Ok(());
        while !rest.is_empty() {
            let (done, failed) = match self.space.apply(rest) {
                Ok(()) => (rest.len(), None),
                Err(OpError { index, error }) => (index, Some(error)),
            };
            for op in &rest[..done] {
                record(st, op);
            }
            let Some(error) = failed else {
                break;
            };
            let op = rest[done];
            if matches!(
                error,
                snare_platform::Error::StubDied | snare_platform::Error::Corrupt(_)
            ) {
                // Whatever the stub had is gone with it.
                return Err(Errno::EFAULT);
            }
            rest = &rest[done + 1..];
            match op {
                MapOp::Unmap { .. } => {
                    // The stub still maps pages about to be freed for other processes: it
                    // can't go on (its process dies with it).
                    tracing::warn!(%error, ?op, "unmapping in the stub failed");
                    self.space.kill();
                    return Err(Errno::EFAULT);
                }
                MapOp::Map { .. } => {
                    tracing::debug!(%error, ?op, "mapping in the stub failed");
                    result = Err(Errno::EFAULT);
                }
                MapOp::MapHost { addr, .. } => {
                    tracing::debug!(%error, ?op, "mapping a host file in the stub failed");
                    if let Some(v) = st.vmas.get_mut(&addr) {
                        v.direct = false;
                    }
                }
                MapOp::Protect { .. } => {}
            }
            let (start, end) = op.range();
            if self.space.unmap(start, end - start).is_ok() {
                st.stub_mapped.remove(start, end);
            } else {
                // What the stub maps there is unknown (a protection that didn't take can
                // leave a shared page writable): it can't go on.
                self.space.kill();
                return Err(Errno::EFAULT);
            }
        }
        result
    }

    /// Runs `f` with the calling thread's stub mapping changes held back, then sends them in
    /// one batch (unless they may wait for a fault): an exec's segments and stack, or an
    /// mmap replacing what was there, cost one round trip to the stub instead of one per
    /// change. Nested calls join the outer batch. The batch belongs to this thread: `f`
    /// takes and drops the lock as it goes, and another thread's change made meanwhile is
    /// sent when that thread settles it (sending whatever this batch holds so far with it,
    /// in order), never left held while that thread goes back to guest code. A second
    /// thread calling this while a batch is open just runs `f` unbatched.
    pub fn batched<R>(&self, f: impl FnOnce() -> Result<R, Errno>) -> Result<R, Errno> {
        let me = std::thread::current().id();
        {
            let mut st = self.lock();
            if st.batch.is_some() {
                drop(st);
                return f();
            }
            st.batch = Some(me);
        }
        let r = f();
        let settled = {
            let mut st = self.lock();
            st.batch = None;
            self.settle(&mut st)
        };
        let v = r?;
        settled.map(|()| v)
    }

    /// Frees `offs` once no stub maps them: now, or after the held-back changes (which
    /// unmap them) have gone out.
    fn free_unmapped(&self, st: &mut State, offs: Vec<u64>) {
        if st.held.is_empty() {
            self.free_pages(offs);
        } else {
            st.deferred_free.extend(offs);
        }
    }

    fn file_id(&self) -> usize {
        Arc::as_ptr(&self.file) as usize
    }

    /// Whether the memory-file page at `off` has other owners.
    fn is_shared(&self, off: u64) -> bool {
        shared_pages().contains_key(&(self.file_id(), off))
    }

    /// Gives the populated `page` its own memory-file page if others share it (breaking
    /// copy-on-write); returns its offset and whether it changed. When it changed, the
    /// caller must map the new page in the stub (`apply`): the old one is released only
    /// once that change has been sent.
    fn unshare(&self, st: &mut State, page: u64) -> Result<(u64, bool), Errno> {
        let off = st.pages.get(&page).copied().ok_or(Errno::EFAULT)?;
        if !self.is_shared(off) {
            return Ok((off, false));
        }
        let new = self.copy_page(off)?;
        st.pages.insert(page, new);
        // The old page stays this process's until the stub maps the copy over it (the
        // caller's next change, which frees it when sent): other threads may be reading it
        // meanwhile, and freed now it could go to another process (when the other owners
        // let go of it too) and be refilled under them. Found by the slot fuzzer: a
        // checker's thread jumped through a trap-table page being unshared by its patching
        // thread while the child that shared it exited.
        st.deferred_free.push(off);
        if let Some(w) = &st.report_writes {
            let mut w = w.lock().unwrap_or_else(|e| e.into_inner());
            if w.len() < FORK_HINTS_MAX && !w.contains(&page) {
                w.push(page);
            }
        }
        Ok((new, true))
    }

    /// A new memory-file page holding a copy of the one at `off`.
    fn copy_page(&self, off: u64) -> Result<u64, Errno> {
        // Overwritten whole below, before any stub maps it.
        let new = self.alloc(PAGE, true)?;
        let mut buf = [0u8; PAGE as usize];
        self.file.read(off, &mut buf);
        self.file.write_fresh(new, &buf);
        Ok(new)
    }

    /// The memory-file offset behind `addr` when it lies in a MAP_SHARED mapping (so futex
    /// waiters in different processes meet), populating the page if needed.
    pub fn shared_offset(&self, addr: u64) -> Option<u64> {
        let mut st = self.lock();
        let shared = st
            .vmas
            .range(..=addr)
            .next_back()
            .is_some_and(|(_, v)| v.end > addr && v.shared);
        // A MAP_SHARED page is the file's or the shared mapping's: it is freed only once no
        // mapping has it, so a waiter's key can't be given to another process meanwhile.
        shared
            .then(|| self.translate(&mut st, addr, Access::Read, false).ok())
            .flatten()
    }

    /// The platform address space (to create threads in it).
    pub fn space(&self) -> &SystrapAddressSpace {
        &self.space
    }

    fn lock(&self) -> StateGuard<'_> {
        StateGuard {
            guard: self.st.lock().unwrap_or_else(|e| e.into_inner()),
            usage: &self.usage,
        }
    }

    /// Snapshot of the VMAs (for /proc/self/maps and tests).
    pub fn vmas(&self) -> Vec<Vma> {
        self.lock().vmas.values().cloned().collect()
    }

    /// Sets where the program break starts (after the executable's last segment).
    pub fn set_brk_start(&self, addr: u64) {
        let mut st = self.lock();
        st.brk_start = addr;
        st.brk = addr;
    }

    /// `[start, page-rounded current break)`: the heap, for /proc/self/maps.
    pub fn brk_range(&self) -> (u64, u64) {
        let st = self.lock();
        (st.brk_start, page_up(st.brk).unwrap_or(st.brk))
    }

    /// Implements the `brk(2)` contract: returns the new break, or the old one on failure.
    pub fn brk(&self, addr: u64) -> u64 {
        let mut st = self.lock();
        let old = st.brk;
        if addr < st.brk_start {
            return old;
        }
        let (Some(old_end), Some(new_end)) = (page_up(old), page_up(addr)) else {
            return old;
        };
        if new_end > old_end {
            if new_end > MMAP_BASE
                || overlaps(&st, old_end, new_end)
                || self.overcommits(new_end - st.brk_start)
            {
                return old;
            }
            let locked = st.def_lock;
            insert_vma(
                &mut st,
                Vma {
                    start: old_end,
                    end: new_end,
                    prot: Prot::RW,
                    shared: false,
                    backing: Backing::Anon,
                    grows_down: false,
                    direct: false,
                    locked,
                },
            );
        } else if new_end < old_end && self.unmap_locked(&mut st, new_end, old_end).is_err() {
            return old;
        }
        st.brk = addr;
        addr
    }

    /// Finds a free range of `len` bytes, top-down below `MMAP_BASE` (or at `hint` if free).
    fn find_free(st: &State, len: u64, hint: u64) -> Option<u64> {
        if hint >= MMAP_MIN && hint.checked_add(len).is_some_and(|e| e <= TASK_SIZE) {
            let hint = page_down(hint);
            if !overlaps(st, hint, hint + len) {
                return Some(hint);
            }
        }
        let mut top = MMAP_BASE;
        for v in st.vmas.values().rev() {
            if v.start >= top {
                continue;
            }
            if v.end <= top && top - v.end >= len {
                return Some(top - len);
            }
            top = top.min(v.start);
        }
        (top >= MMAP_MIN + len).then(|| top - len)
    }

    /// Creates a mapping and returns its address.
    pub fn mmap(&self, m: Mapping) -> Result<u64, Errno> {
        self.batched(|| self.mmap_inner(m))
    }

    fn mmap_inner(&self, m: Mapping) -> Result<u64, Errno> {
        let Mapping {
            addr,
            len,
            prot,
            shared,
            placement,
            backing,
        } = m;
        let fixed = placement != Placement::Hint;
        let noreplace = placement == Placement::FixedNoReplace;
        let len = page_up(len).filter(|&l| l > 0).ok_or(Errno::ENOMEM)?;
        let mut st = self.lock();
        let start = if fixed {
            if !addr.is_multiple_of(PAGE) {
                return Err(Errno::EINVAL);
            }
            let end = addr.checked_add(len).ok_or(Errno::ENOMEM)?;
            if addr < MMAP_MIN || end > TASK_SIZE {
                return Err(Errno::ENOMEM);
            }
            if overlaps(&st, addr, end) {
                if noreplace {
                    return Err(Errno::EEXIST);
                }
                self.unmap_locked(&mut st, addr, end)?;
            }
            addr
        } else {
            Self::find_free(&st, len, addr).ok_or(Errno::ENOMEM)?
        };
        let vma = Vma {
            start,
            end: start + len,
            prot,
            shared,
            backing,
            grows_down: false,
            direct: false,
            locked: st.def_lock,
        };
        insert_vma(&mut st, vma.clone());
        if self.map_direct(&mut st, &vma) {
            return Ok(start);
        }
        self.prefetch_cached(&mut st, &vma);
        self.populate_small(&mut st, &vma);
        Ok(start)
    }

    /// Adds the main thread's stack: `size` bytes below `top`, growing down to `STACK_LIMIT`.
    pub fn map_stack(&self, top: u64, size: u64, exec: bool) -> Result<(), Errno> {
        let mut st = self.lock();
        let prot = if exec { Prot::RWX } else { Prot::RW };
        insert_vma(
            &mut st,
            Vma {
                start: top - size,
                end: top,
                prot,
                shared: false,
                backing: Backing::Anon,
                grows_down: true,
                direct: false,
                locked: Locked::No,
            },
        );
        Ok(())
    }

    /// Removes mappings in `[addr, addr + len)`.
    pub fn munmap(&self, addr: u64, len: u64) -> Result<(), Errno> {
        if !addr.is_multiple_of(PAGE) || len == 0 {
            return Err(Errno::EINVAL);
        }
        let end = page_up(len)
            .and_then(|l| addr.checked_add(l))
            .filter(|&e| e <= TASK_SIZE)
            .ok_or(Errno::EINVAL)?;
        let mut st = self.lock();
        self.unmap_locked(&mut st, addr, end)
    }

    fn unmap_locked(&self, st: &mut State, start: u64, end: u64) -> Result<(), Errno> {
        split_at(st, start);
        split_at(st, end);
        let doomed: Vec<u64> = st.vmas.range(start..end).map(|(&s, _)| s).collect();
        let mut direct = false;
        for s in doomed {
            direct |= st.vmas.remove(&s).is_some_and(|v| v.direct);
        }
        let pages: Vec<(u64, u64)> = st.pages.range(start..end).map(|(&a, &o)| (a, o)).collect();
        for (a, _) in &pages {
            st.pages.remove(a);
        }
        // The stub drops them first, then they are freed.
        let unmapped = if !pages.is_empty() || direct {
            let addr = start.max(MMAP_MIN);
            self.apply(
                st,
                &[MapOp::Unmap {
                    addr,
                    len: end - addr,
                }],
            )
        } else {
            Ok(())
        };
        self.free_unmapped(st, pages.iter().map(|&(_, o)| o).collect());
        unmapped
    }

    /// Implements the `mremap(2)` contract: shrinks in place, grows in place when the VMA ends
    /// at the old end and the space after it is free, else moves (if `may_move`) or goes to
    /// `fixed`. Moving keeps the pages where they are in the memory file: only the page-table
    /// entries move, and the stub refaults them at the new address.
    pub fn mremap(
        &self,
        old: u64,
        old_len: u64,
        new_len: u64,
        may_move: bool,
        fixed: Option<u64>,
    ) -> Result<u64, Errno> {
        self.batched(|| self.mremap_inner(old, old_len, new_len, may_move, fixed))
    }

    fn mremap_inner(
        &self,
        old: u64,
        old_len: u64,
        new_len: u64,
        may_move: bool,
        fixed: Option<u64>,
    ) -> Result<u64, Errno> {
        if !old.is_multiple_of(PAGE) {
            return Err(Errno::EINVAL);
        }
        let old_len = page_up(old_len).ok_or(Errno::EINVAL)?;
        let new_len = page_up(new_len).filter(|&l| l > 0).ok_or(Errno::EINVAL)?;
        let old_end = old.checked_add(old_len).ok_or(Errno::EFAULT)?;
        let mut st = self.lock();
        let vma = find_vma_or_grow(&mut st, old).map_err(|_| Errno::EFAULT)?;
        if old_len == 0 || old_end > vma.end || vma.start > old {
            return Err(Errno::EFAULT);
        }
        if let Some(to) = fixed {
            let to_end = to.checked_add(new_len).ok_or(Errno::EINVAL)?;
            if !to.is_multiple_of(PAGE) || to < MMAP_MIN || to_end > TASK_SIZE {
                return Err(Errno::EINVAL);
            }
            if to < old_end && old < to_end {
                return Err(Errno::EINVAL);
            }
            self.unmap_locked(&mut st, to, to_end)?;
            return self.move_locked(&mut st, &vma, old, old_len, new_len, to);
        }
        if new_len <= old_len {
            self.unmap_locked(&mut st, old + new_len, old_end)?;
            return Ok(old);
        }
        let commits = if vma.shared {
            !vma.backing.is_file()
        } else {
            vma.prot.contains(Prot::WRITE)
        };
        if commits && self.overcommits(new_len) {
            return Err(Errno::ENOMEM);
        }
        let grow_end = old.checked_add(new_len).ok_or(Errno::ENOMEM)?;
        if old_end == vma.end && grow_end <= TASK_SIZE && !overlaps(&st, old_end, grow_end) {
            if let Some(v) = st.vmas.get_mut(&vma.start) {
                v.end = grow_end;
            }
            return Ok(old);
        }
        if !may_move {
            return Err(Errno::ENOMEM);
        }
        let to = Self::find_free(&st, new_len, 0).ok_or(Errno::ENOMEM)?;
        self.move_locked(&mut st, &vma, old, old_len, new_len, to)
    }

    fn move_locked(
        &self,
        st: &mut State,
        vma: &Vma,
        old: u64,
        old_len: u64,
        new_len: u64,
        to: u64,
    ) -> Result<u64, Errno> {
        let old_end = old + old_len;
        let keep = old_len.min(new_len);
        let mut moved = vma.slice(old, old + keep);
        moved.start = to;
        moved.end = to + new_len;
        moved.grows_down = false;
        // The stub's direct mapping stays behind (and goes); the new place faults in.
        moved.direct = false;
        let pages: Vec<(u64, u64)> = st
            .pages
            .range(old..old + keep)
            .map(|(&a, &o)| (a, o))
            .collect();
        for (a, _) in &pages {
            st.pages.remove(a);
        }
        // Forget the old range without freeing the moved pages; the stub drops it too.
        self.unmap_locked(st, old, old_end)?;
        if !pages.is_empty() {
            self.apply(
                st,
                &[MapOp::Unmap {
                    addr: old,
                    len: old_len,
                }],
            )?;
        }
        insert_vma(st, moved);
        for (a, o) in pages {
            st.pages.insert(to + (a - old), o);
        }
        Ok(to)
    }

    /// Changes protection of `[addr, addr + len)`; every page must be mapped (else ENOMEM).
    pub fn mprotect(&self, addr: u64, len: u64, prot: Prot) -> Result<(), Errno> {
        if !addr.is_multiple_of(PAGE) {
            return Err(Errno::EINVAL);
        }
        let end = page_up(len)
            .and_then(|l| addr.checked_add(l))
            .ok_or(Errno::ENOMEM)?;
        if len == 0 {
            return Ok(());
        }
        let mut st = self.lock();
        // Every page in the range must be covered.
        let mut at = addr;
        for v in st.vmas.values() {
            if v.end <= at || v.start >= end {
                continue;
            }
            if v.start > at {
                return Err(Errno::ENOMEM);
            }
            at = v.end;
            if at >= end {
                break;
            }
        }
        if at < end {
            return Err(Errno::ENOMEM);
        }
        // Making private memory writable commits it (Linux accounts it then).
        if prot.contains(Prot::WRITE) && self.overcommits(end - addr) {
            let private = st
                .vmas
                .range(..end)
                .any(|(_, v)| v.end > addr && !v.shared && !v.prot.contains(Prot::WRITE));
            if private {
                return Err(Errno::ENOMEM);
            }
        }
        // A shared file mapping from a description not open for writing stays read-only.
        let frozen = |v: &Vma| {
            v.shared && matches!(&v.backing, Backing::File { file, .. } if !file.shared_writable())
        };
        if prot.contains(Prot::WRITE)
            && st
                .vmas
                .values()
                .any(|v| v.start < end && v.end > addr && frozen(v))
        {
            return Err(Errno::EACCES);
        }
        split_at(&mut st, addr);
        split_at(&mut st, end);
        // A direct VMA keeps its host mapping unless it becomes writable: then the stub drops
        // it and the pages come through the memory file (faults), like any private file page.
        let mut ops: Vec<MapOp> = Vec::new();
        for (_, v) in st.vmas.range_mut(addr..end) {
            v.prot = prot;
            if v.direct {
                let (addr, len) = (v.start, v.end - v.start);
                if prot.contains(Prot::WRITE) {
                    v.direct = false;
                    ops.push(MapOp::Unmap { addr, len });
                } else {
                    ops.push(MapOp::Protect { addr, len, prot });
                }
            }
        }
        // Apply to what the stub has mapped: each run of populated pages.
        ops.extend(
            populated_runs(&st, addr, end)
                .into_iter()
                .map(|(s, e)| MapOp::Protect {
                    addr: s,
                    len: e - s,
                    prot,
                }),
        );
        // Copy-on-write pages stay read-only in the stub until copied.
        if prot.contains(Prot::WRITE) {
            for (&a, &o) in st.pages.range(addr..end) {
                let private = st
                    .vmas
                    .range(..=a)
                    .next_back()
                    .is_some_and(|(_, v)| !v.shared);
                if private && self.is_shared(o) {
                    ops.push(MapOp::Protect {
                        addr: a,
                        len: PAGE,
                        prot: read_only(prot),
                    });
                }
            }
        }
        self.apply(&mut st, &ops)
    }

    /// Handles a guest page fault. `Err` means the access is not allowed (SIGSEGV).
    pub fn handle_fault(&self, addr: u64, access: Access) -> Result<(), Errno> {
        let mut st = self.lock();
        let page = page_down(addr);
        if !st.held.is_empty() {
            // Held changes go first; if one maps the page, that was the fault.
            let mut covered = false;
            for h in &st.held {
                let (start, end) = h.op.range();
                if (start..end).contains(&page) {
                    covered = matches!(h.op, MapOp::Map { .. } | MapOp::MapHost { .. });
                }
            }
            self.flush(&mut st)?;
            if covered {
                return Ok(());
            }
        }
        st.in_fault = true;
        let r = self.fault_locked(&mut st, addr, access);
        st.in_fault = false;
        // What the fault mapped goes now: the guest retries at once.
        let flushed = self.flush(&mut st);
        r.and(flushed)
    }

    fn fault_locked(&self, st: &mut State, addr: u64, access: Access) -> Result<(), Errno> {
        let page = page_down(addr);
        let vma = find_vma_or_grow(st, addr)?;
        if !vma.allows(access) {
            return Err(Errno::EFAULT);
        }
        tracing::trace!(
            addr = format_args!("{addr:#x}"),
            ?access,
            kind = vma.kind(),
            populated = st.pages.contains_key(&page),
            "page fault"
        );
        if st.pages.contains_key(&page) {
            // Populated and allowed: a copy-on-write page (copied on a write), or one the
            // stub doesn't map (a forked child's, a moved one).
            return self.map_present(st, &vma, page, access);
        }
        // A direct VMA this stub doesn't map (a forked child's: mapped on first touch, so a
        // child that execs at once never pays for it).
        if vma.direct && self.remap_direct(st, &vma) {
            return Ok(());
        }
        self.populate(st, &vma, page)
    }

    /// Maps the populated pages around `page` into the stub (a forked child's pages, or a
    /// parent's after fork, or ones the stub lost), copy-on-write ones read-only; a write to
    /// `page` first gives it its own copy. The reach is wide ([`PRESENT_AROUND`] pages): these
    /// pages exist already, so mapping them costs the host little, and each one mapped now is
    /// a fault saved (a parent writing after its child has exec'd or exited finds its pages
    /// its own again). The fault-around window is populated now, the rest on first touch.
    fn map_present(
        &self,
        st: &mut State,
        vma: &Vma,
        page: u64,
        access: Access,
    ) -> Result<(), Errno> {
        let cow = !vma.shared && vma.prot.contains(Prot::WRITE);
        if cow && access == Access::Write {
            self.unshare(st, page)?;
        }
        let (start, end) = aligned_window(page, FAULT_AROUND, vma.start, vma.end);
        let (wstart, wend) = aligned_window(page, PRESENT_AROUND, vma.start, vma.end);
        let mut ops: Vec<MapOp> = Vec::new();
        for (&a, &o) in st.pages.range(wstart..wend) {
            let prot = if cow && self.is_shared(o) {
                read_only(vma.prot)
            } else {
                vma.prot
            };
            let populate = (start..end).contains(&a);
            match ops.last_mut() {
                Some(MapOp::Map {
                    addr,
                    len,
                    file_offset,
                    prot: p,
                    populate: pp,
                }) if *addr + *len == a
                    && *file_offset + *len == o
                    && *p == prot
                    && *pp == populate =>
                {
                    *len += PAGE
                }
                _ => ops.push(MapOp::Map {
                    addr: a,
                    len: PAGE,
                    file_offset: o,
                    prot,
                    populate,
                }),
            }
        }
        self.apply(st, &ops)
    }

    /// [`MemoryManager::populate`] for a MAP_SHARED mapping of a file that shares its pages
    /// (tmpfs): the faulting page is the file's own page, mapped with the VMA's protection.
    /// `None` when the file can't share.
    fn populate_file_shared(
        &self,
        st: &mut State,
        vma: &Vma,
        page: u64,
        file: &Arc<dyn MappableFile>,
        offset: u64,
    ) -> Option<Result<(), Errno>> {
        let index = (offset + (page - vma.start)) / PAGE;
        let off = match file.shared_page(index, &self.file)? {
            Ok(o) => o,
            Err(e) => return Some(Err(e)),
        };
        st.pages.insert(page, off);
        let map = MapOp::Map {
            addr: page,
            len: PAGE,
            file_offset: off,
            prot: vma.prot,
            populate: true,
        };
        Some(self.apply(st, &[map]))
    }

    /// [`MemoryManager::populate`] for a private read-only mapping of a cacheable file: the
    /// window's pages come from the page cache (filled there first if missing) and are shared.
    /// The first fault in the VMA also maps every page of it the cache already holds (up to
    /// [`PREFETCH_MAX`] around the fault): what other processes touched, this one likely will.
    /// `None` when the cache can't take the file.
    #[allow(clippy::too_many_arguments)]
    fn populate_cached(
        &self,
        st: &mut State,
        vma: &Vma,
        page: u64,
        file: &Arc<dyn MappableFile>,
        offset: u64,
        key: [u64; 4],
    ) -> Option<Result<(), Errno>> {
        let first = offset / PAGE;
        let index = |a: u64| first + (a - vma.start) / PAGE;
        let mut cache = cache::lock();
        let pages = cache.extent(&self.file, key)?.pages;
        // The part of the VMA the file covers (a mapping may run past the file's end).
        let covered = vma.end.min(vma.start + pages.saturating_sub(first) * PAGE);
        if page >= covered {
            return None;
        }
        let (start, end) = unpopulated_run(st, page, FAULT_AROUND, vma.start, covered);
        let filled = cache.fill(
            &self.file,
            key,
            index(start)..index(end),
            |foff, moff, len| file.fill(foff, &self.file, moff, len).map(|_| ()),
        )?;
        if let Err(e) = filled {
            return Some(Err(e));
        }
        let (ms, me) = if st.pages.range(vma.start..vma.end).next().is_none() {
            let reach = PREFETCH_MAX / 2 * PAGE;
            (
                page.saturating_sub(reach).max(vma.start),
                page.saturating_add(reach).min(covered),
            )
        } else {
            (start, end)
        };
        let ext = cache.extent(&self.file, key)?;
        let ops = self.take_cached(st, vma, ext, ms..me, start..end);
        drop(cache);
        Some(self.apply(st, &ops))
    }

    /// Makes the cached pages of `vma` in `range` this address space's (beside the cache)
    /// and returns the ops that map them; those in `populate` get page tables now.
    fn take_cached(
        &self,
        st: &mut State,
        vma: &Vma,
        ext: &cache::Extent,
        range: std::ops::Range<u64>,
        populate: std::ops::Range<u64>,
    ) -> Vec<MapOp> {
        let Backing::File { offset, .. } = &vma.backing else {
            return Vec::new();
        };
        let first = offset / PAGE;
        let index = |a: u64| first + (a - vma.start) / PAGE;
        let id = self.file_id();
        let mut ops: Vec<MapOp> = Vec::new();
        let mut refs = shared_pages();
        let mut a = range.start;
        while a < range.end {
            if ext.is_filled(index(a)) && !st.pages.contains_key(&a) {
                let o = ext.offset(index(a));
                *refs.entry((id, o)).or_insert(1) += 1;
                st.pages.insert(a, o);
                let populate = populate.contains(&a);
                match ops.last_mut() {
                    Some(MapOp::Map {
                        addr,
                        len,
                        populate: p,
                        ..
                    }) if *addr + *len == a && *p == populate => *len += PAGE,
                    _ => ops.push(MapOp::Map {
                        addr: a,
                        len: PAGE,
                        file_offset: o,
                        prot: vma.prot,
                        populate,
                    }),
                }
            }
            a += PAGE;
        }
        ops
    }

    /// At mmap: populates a small private writable mapping whole (a library's data segment,
    /// its bss, a thread's TLS block): programs write those at once, and filling a few pages
    /// costs less than the fault that would. Best effort: pages it could not populate fault
    /// in.
    fn populate_small(&self, st: &mut State, vma: &Vma) {
        if vma.shared
            || !vma.prot.contains(Prot::WRITE)
            || vma.end - vma.start > SMALL_MAPPING * PAGE
        {
            return;
        }
        let mut p = vma.start;
        while p < vma.end {
            if !st.pages.contains_key(&p) && self.populate(st, vma, p).is_err() {
                return;
            }
            p += PAGE;
        }
    }

    /// At mmap: maps a private read-only mapping of a host file straight from the host file
    /// in the stub ([`Vma::direct`]), behind the changes held before it (one may be the
    /// unmap of what this mapping replaces). `false`: not possible here; the VMA faults in as
    /// usual. If the host refuses the mapping, the VMA stops being direct then.
    fn map_direct(&self, st: &mut State, vma: &Vma) -> bool {
        let Some((op, file)) = direct_op(vma) else {
            return false;
        };
        self.hold(st, &[op], Some(&file));
        if let Some(v) = st.vmas.get_mut(&vma.start) {
            v.direct = true;
        }
        true
    }

    /// Holds a forked child's direct mappings, [`HOST_FILES_MAX`] files' worth (one control
    /// request); the rest map on first touch. Returns how many files.
    fn hold_direct_forked(&self, st: &mut State) -> usize {
        let mut files: Vec<std::os::fd::RawFd> = Vec::new();
        let mut held = Vec::new();
        for v in st.vmas.values().filter(|v| v.direct) {
            let Some((op, file)) = direct_op(v) else {
                continue;
            };
            let MapOp::MapHost { fd, .. } = op else {
                continue;
            };
            if !files.contains(&fd) {
                if files.len() == HOST_FILES_MAX {
                    continue;
                }
                files.push(fd);
            }
            held.push((op, file));
        }
        for (op, file) in held {
            self.hold(st, &[op], Some(&file));
        }
        files.len()
    }

    /// Maps a direct VMA from its host file again (a forked child's stub has none of it),
    /// then the pages the Sentry populated in it over that. `false`: it stops being direct
    /// (the host refused it), and the pages fault in as usual.
    fn remap_direct(&self, st: &mut State, vma: &Vma) -> bool {
        let Some((op, file)) = direct_op(vma) else {
            if let Some(v) = st.vmas.get_mut(&vma.start) {
                v.direct = false;
            }
            return false;
        };
        self.hold(st, &[op], Some(&file));
        let ops: Vec<MapOp> = st
            .pages
            .range(vma.start..vma.end)
            .map(|(&a, &o)| MapOp::Map {
                addr: a,
                len: PAGE,
                file_offset: o,
                prot: read_only(vma.prot),
                populate: false,
            })
            .collect();
        self.hold(st, &ops, None);
        let _ = self.flush(st);
        st.vmas.get(&vma.start).is_some_and(|v| v.direct)
    }

    /// At mmap: maps what the page cache already holds of a new private read-only file
    /// mapping (a library other processes have run), so its first touches don't fault.
    /// Best effort: pages it could not map are mapped by their faults.
    fn prefetch_cached(&self, st: &mut State, vma: &Vma) {
        let Backing::File { file, offset } = &vma.backing else {
            return;
        };
        if vma.shared || vma.prot.contains(Prot::WRITE) || !offset.is_multiple_of(PAGE) {
            return;
        }
        let Some(key) = file.cache_key() else {
            return;
        };
        let mut cache = cache::lock();
        let Some(ext) = cache.extent(&self.file, key) else {
            return;
        };
        let covered = vma
            .end
            .min(vma.start + ext.pages.saturating_sub(offset / PAGE) * PAGE)
            .min(vma.start + PREFETCH_MAX * PAGE);
        let ops = self.take_cached(st, vma, ext, vma.start..covered, 0..0);
        drop(cache);
        let _ = self.apply(st, &ops);
    }

    /// Populates the unpopulated pages of the fault-around window of `page` inside `vma`, and
    /// maps them into the stub.
    fn populate(&self, st: &mut State, vma: &Vma, page: u64) -> Result<(), Errno> {
        if let Backing::File { file, offset } = &vma.backing {
            if vma.shared && offset.is_multiple_of(PAGE) {
                if let Some(r) = self.populate_file_shared(st, vma, page, file, *offset) {
                    return r;
                }
            }
            // Writable private mappings (data segments) are written soon after: copying them
            // at the first fault is cheaper than a read-only cache mapping plus a copy-on-write
            // fault per page.
            if !vma.shared && !vma.prot.contains(Prot::WRITE) && offset.is_multiple_of(PAGE) {
                if let Some(key) = file.cache_key() {
                    let r = self.populate_cached(st, vma, page, file, *offset, key);
                    if let Some(r) = r {
                        return r;
                    }
                }
            }
        }
        // A private writable file mapping (a data segment) gets written nearly whole: a
        // wider window copies the same pages in fewer faults.
        let around = if vma.backing.is_file() && !vma.shared && vma.prot.contains(Prot::WRITE) {
            FAULT_AROUND_DATA
        } else {
            FAULT_AROUND
        };
        let (start, end) = unpopulated_run(st, page, around, vma.start, vma.end);
        if st.in_fault && matches!(vma.backing, Backing::Anon) && !vma.shared {
            self.map_ahead(st, vma, end);
        }
        let len = end - start;
        let off = self.alloc(len, false)?;
        // Fill a file-backed run while the stub maps it (the guest sees nothing until it is
        // resumed).
        let mut fill_err = None;
        let mut fill = || {
            if let Backing::File { file, offset } = &vma.backing {
                let foff = offset + (start - vma.start);
                if let Err(e) = file.fill(foff, &self.file, off, len as usize) {
                    fill_err = Some(e);
                }
            }
        };
        // A fault with nothing else to send maps at once, while the pages fill; otherwise
        // the map joins the held changes once filled.
        let now = st.in_fault && st.batch.is_none() && st.held.is_empty() && vma.backing.is_file();
        let mapped = if now {
            let r = self
                .space
                .map_file_with(start, len, off, vma.prot, &mut fill);
            st.stub_mapped.insert(start, end);
            r
        } else {
            fill();
            Ok(())
        };
        if let Some(e) = fill_err {
            if now {
                let unmap = MapOp::Unmap { addr: start, len };
                let _ = self.apply(st, &[unmap]);
            }
            self.file.free(off, len);
            return Err(e);
        }
        if let Err(e) = mapped {
            self.file.free(off, len);
            tracing::warn!(%e, start, len, "mapping into the stub failed");
            return Err(Errno::EFAULT);
        }
        if !now {
            let map = MapOp::Map {
                addr: start,
                len,
                file_offset: off,
                prot: vma.prot,
                populate: true,
            };
            self.apply(st, &[map])?;
        }
        for i in 0..len / PAGE {
            st.pages.insert(start + i * PAGE, off + i * PAGE);
        }
        Ok(())
    }

    /// At a fault in private anonymous memory, also maps the unpopulated pages after the
    /// fault-around window (up to [`MAP_AHEAD`], within the VMA) without populating them:
    /// fresh memory-file pages, which read as zeros without being written and cost the host
    /// nothing until touched. A heap or an arena filling up then takes host faults (a few
    /// microseconds) instead of trips to the Sentry. Best effort.
    fn map_ahead(&self, st: &mut State, vma: &Vma, from: u64) {
        let mut end = from;
        while end < vma.end && end - from < MAP_AHEAD * PAGE && !st.pages.contains_key(&end) {
            end += PAGE;
        }
        if end - from < FAULT_AROUND * PAGE {
            return;
        }
        // Longer than any recycled run: fresh (holes read as zeros).
        let Ok(off) = self.file.allocate(end - from) else {
            return;
        };
        let map = MapOp::Map {
            addr: from,
            len: end - from,
            file_offset: off,
            prot: vma.prot,
            populate: false,
        };
        self.hold(st, &[map], None);
        for i in 0..(end - from) / PAGE {
            st.pages.insert(from + i * PAGE, off + i * PAGE);
        }
    }

    /// Memory-file offset of the byte at `addr`, populating its page if needed, if `access`
    /// is allowed (`force` ignores protection: the loader writing code).
    /// The memory-file offset behind `addr`, populating (and for a write, unsharing) its
    /// page. Valid only while `st` stays locked: once the lock goes, another thread's munmap
    /// can free the page and another process can be given it, so the caller copies to or
    /// from it before letting go.
    fn translate(
        &self,
        st: &mut State,
        addr: u64,
        access: Access,
        force: bool,
    ) -> Result<u64, Errno> {
        let page = page_down(addr);
        let vma = find_vma_or_grow(st, addr)?;
        if !force && !vma.allows(access) {
            return Err(Errno::EFAULT);
        }
        if !st.pages.contains_key(&page) {
            st.quiet = vma.direct;
            let r = self.populate(st, &vma, page);
            st.quiet = false;
            r?;
        }
        if st.pages.contains_key(&page) && access == Access::Write && !vma.shared {
            // The Sentry writing a copy-on-write page: copy it first, and point the stub at
            // the copy.
            let (new, changed) = self.unshare(st, page)?;
            if changed {
                let map = MapOp::Map {
                    addr: page,
                    len: PAGE,
                    file_offset: new,
                    prot: vma.prot,
                    populate: true,
                };
                self.apply(st, &[map])?;
            }
        }
        let off = st.pages.get(&page).copied().ok_or(Errno::EFAULT)?;
        Ok(off + (addr - page))
    }

    fn copy_in(&self, addr: u64, buf: &mut [u8], force: bool) -> Result<(), Errno> {
        let mut done = 0usize;
        while done < buf.len() {
            let at = addr.checked_add(done as u64).ok_or(Errno::EFAULT)?;
            let n = ((PAGE - at % PAGE) as usize).min(buf.len() - done);
            let mut st = self.lock();
            let off = self.translate(&mut st, at, Access::Read, force)?;
            self.file.read(off, &mut buf[done..done + n]);
            drop(st);
            done += n;
        }
        Ok(())
    }

    fn copy_out(&self, addr: u64, data: &[u8], force: bool) -> Result<(), Errno> {
        let mut done = 0usize;
        while done < data.len() {
            let at = addr.checked_add(done as u64).ok_or(Errno::EFAULT)?;
            let n = ((PAGE - at % PAGE) as usize).min(data.len() - done);
            let mut st = self.lock();
            let off = self.translate(&mut st, at, Access::Write, force)?;
            self.file.write(off, &data[done..done + n]);
            drop(st);
            done += n;
        }
        Ok(())
    }

    /// Runs `f` on the memory-file ranges (offset, length) that hold bytes `[skip, skip +
    /// len)` of the guest buffers `vecs`, translated as a copy would translate them (`write`:
    /// copy-on-write broken, untouched pages filled), with the address space locked: no page
    /// of them can be unmapped, freed or replaced until `f` returns, so a host call may read
    /// or write them in place (a socket's send or receive, without a copy through the
    /// Sentry). EFAULT, and no call, if any byte can't be reached (as a send whose one chunk
    /// faults is refused whole on Linux, and a receive then takes nothing). Guest threads
    /// may change the bytes meanwhile, as they may under a Linux send.
    pub fn with_host_ranges<R>(
        &self,
        vecs: &[snare_abi::file::Iovec],
        skip: usize,
        len: usize,
        write: bool,
        f: impl FnOnce(&MemoryFile, &[(u64, usize)]) -> R,
    ) -> Result<R, Errno> {
        let access = if write { Access::Write } else { Access::Read };
        let mut st = self.lock();
        let mut ranges: Vec<(u64, usize)> = Vec::new();
        let (mut skip, mut left) = (skip as u64, len as u64);
        for v in vecs {
            if left == 0 {
                break;
            }
            if skip >= v.iov_len {
                skip -= v.iov_len;
                continue;
            }
            let mut at = v.iov_base.checked_add(skip).ok_or(Errno::EFAULT)?;
            let mut n = (v.iov_len - skip).min(left);
            skip = 0;
            while n > 0 {
                let off = self.translate(&mut st, at, access, false)?;
                let step = (PAGE - at % PAGE).min(n);
                match ranges.last_mut() {
                    Some((o, l)) if *o + *l as u64 == off => *l += step as usize,
                    _ => ranges.push((off, step as usize)),
                }
                n -= step;
                left -= step;
                if n > 0 {
                    at = at.checked_add(step).ok_or(Errno::EFAULT)?;
                }
            }
        }
        Ok(f(&self.file, &ranges))
    }

    /// Writes guest memory regardless of protection (the loader filling its segments).
    pub fn write_force(&self, addr: u64, data: &[u8]) -> Result<(), Errno> {
        self.copy_out(addr, data, true)
    }

    /// Drops the populated private pages of `[addr, addr + len)` (MADV_DONTNEED): the next
    /// access sees zeros, or the file's bytes for a file mapping. Shared mappings keep their
    /// pages: the next access finds the same contents, as on Linux.
    pub fn discard(&self, addr: u64, len: u64) -> Result<(), Errno> {
        let end = page_up(len)
            .and_then(|l| addr.checked_add(l))
            .ok_or(Errno::EINVAL)?;
        let mut st = self.lock();
        let private: Vec<(u64, u64)> = st
            .vmas
            .range(..end)
            .filter(|(_, v)| v.end > addr && !v.shared)
            .map(|(_, v)| (v.start.max(addr), v.end.min(end)))
            .collect();
        let mut ops = Vec::new();
        let mut offs = Vec::new();
        for (s, e) in private {
            for (rs, re) in populated_runs(&st, s, e) {
                ops.push(MapOp::Unmap {
                    addr: rs,
                    len: re - rs,
                });
                let mut a = rs;
                while a < re {
                    offs.extend(st.pages.remove(&a));
                    a += PAGE;
                }
            }
        }
        let r = self.apply(&mut st, &ops);
        self.free_unmapped(&mut st, offs);
        r
    }

    /// One byte per page of `[start, end)`: 1 if populated. ENOMEM if any page is unmapped.
    pub fn residency(&self, start: u64, end: u64) -> Result<Vec<u8>, Errno> {
        let st = self.lock();
        let mut out = Vec::new();
        let mut a = start;
        while a < end {
            let covered = st
                .vmas
                .range(..=a)
                .next_back()
                .is_some_and(|(_, v)| v.end > a);
            if !covered {
                return Err(Errno::ENOMEM);
            }
            out.push(u8::from(st.pages.contains_key(&a)));
            a += PAGE;
        }
        Ok(out)
    }

    /// Drops this address space's ownership of memory-file pages: shared ones lose an owner,
    /// the rest go back to the allocator.
    #[track_caller]
    fn free_pages(&self, offs: impl IntoIterator<Item = u64>) {
        release_pages(&self.file, offs);
    }

    /// Number of populated pages (for tests and /proc).
    pub fn resident_pages(&self) -> usize {
        self.lock().pages.len()
    }
}

impl GuestMemory for MemoryManager {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        self.copy_in(addr, buf, false)
    }

    fn write(&self, addr: u64, data: &[u8]) -> Result<(), Errno> {
        self.copy_out(addr, data, false)
    }
}

impl Drop for MemoryManager {
    fn drop(&mut self) {
        // The stub first: pooled empty, or killed and gone. Only then may its pages go to
        // other processes (a guest thread that outlived its process could still reach them).
        self.space.release();
        let st = self.st.get_mut().unwrap_or_else(|e| e.into_inner());
        let pages = std::mem::take(&mut st.pages);
        let deferred = std::mem::take(&mut st.deferred_free);
        self.free_pages(pages.into_values().chain(deferred));
    }
}

/// The op that maps a VMA directly from its host file, with that file, if it can be: a
/// private mapping of a host file, readable, never writable, at a page-aligned offset.
fn direct_op(vma: &Vma) -> Option<(MapOp, Arc<dyn MappableFile>)> {
    let Backing::File { file, offset } = &vma.backing else {
        return None;
    };
    let eligible = !vma.shared
        && !vma.prot.contains(Prot::WRITE)
        && vma.prot != Prot::NONE
        && offset.is_multiple_of(PAGE)
        && DIRECT_MAPPINGS.load(std::sync::atomic::Ordering::Relaxed);
    eligible.then_some(())?;
    let op = MapOp::MapHost {
        addr: vma.start,
        len: vma.end - vma.start,
        prot: vma.prot,
        fd: file.host_fd()?,
        offset: *offset,
    };
    Some((op, file.clone()))
}

/// Records in `st.stub_mapped` what an op the stub ran did.
fn record(st: &mut State, op: &MapOp) {
    let (start, end) = op.range();
    match op {
        MapOp::Map { .. } | MapOp::MapHost { .. } => st.stub_mapped.insert(start, end),
        MapOp::Unmap { .. } => st.stub_mapped.remove(start, end),
        MapOp::Protect { .. } => {}
    }
}

/// Whether host files are mapped directly (on unless `SNARE_DIRECT=0`).
pub static DIRECT_MAPPINGS: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(true);

/// Whether changes that only add mappings wait for the guest's fault (on unless
/// `SNARE_LAZY=0`; see `State::held`).
pub static LAZY_MAPPINGS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

fn overlaps(st: &State, start: u64, end: u64) -> bool {
    st.vmas
        .range(..end)
        .next_back()
        .is_some_and(|(_, v)| v.end > start)
}

/// Splits the VMA containing `addr` (if any) into two at `addr`.
fn split_at(st: &mut State, addr: u64) {
    let Some((&s, v)) = st.vmas.range(..addr).next_back() else {
        return;
    };
    if v.end <= addr || s == addr {
        return;
    }
    let v = v.clone();
    let (lo, hi) = (v.slice(v.start, addr), v.slice(addr, v.end));
    st.vmas.insert(lo.start, lo);
    st.vmas.insert(hi.start, hi);
}

fn insert_vma(st: &mut State, v: Vma) {
    st.vmas.insert(v.start, v);
}

fn find_vma_or_grow(st: &mut State, addr: u64) -> Result<Vma, Errno> {
    if let Some((_, v)) = st.vmas.range(..=addr).next_back() {
        if v.end > addr {
            return Ok(v.clone());
        }
    }
    // A fault just below a grows-down stack extends it (within STACK_LIMIT of its top).
    let (s, v) = st
        .vmas
        .range(addr..)
        .next()
        .map(|(&s, v)| (s, v.clone()))
        .ok_or(Errno::EFAULT)?;
    if !v.grows_down || v.end - page_down(addr) > STACK_LIMIT {
        return Err(Errno::EFAULT);
    }
    let new_start = page_down(addr);
    if overlaps(st, new_start, s) {
        return Err(Errno::EFAULT);
    }
    st.vmas.remove(&s);
    let mut grown = v;
    grown.start = new_start;
    st.vmas.insert(new_start, grown.clone());
    Ok(grown)
}

/// Maximal runs of consecutive populated pages in `[start, end)`.
fn populated_runs(st: &State, start: u64, end: u64) -> Vec<(u64, u64)> {
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for (&a, _) in st.pages.range(start..end) {
        match runs.last_mut() {
            Some(r) if r.1 == a => r.1 = a + PAGE,
            _ => runs.push((a, a + PAGE)),
        }
    }
    runs
}

/// The run of unpopulated pages around `page` inside its fault-around window of `around`
/// pages (aligned), clipped to `[lo, hi)`.
fn unpopulated_run(st: &State, page: u64, around: u64, lo: u64, hi: u64) -> (u64, u64) {
    let (wstart, wend) = aligned_window(page, around, lo, hi);
    let mut start = page;
    while start > wstart && !st.pages.contains_key(&(start - PAGE)) {
        start -= PAGE;
    }
    let mut end = page + PAGE;
    while end < wend && !st.pages.contains_key(&end) {
        end += PAGE;
    }
    (start, end)
}

/// The window of `around` pages (aligned) holding `page`, clipped to `[lo, hi)`.
fn aligned_window(page: u64, around: u64, lo: u64, hi: u64) -> (u64, u64) {
    let win = around * PAGE;
    ((page / win * win).max(lo), (page / win * win + win).min(hi))
}

/// The ops that map a forked child's populated pages (copy-on-write ones read-only), at most
/// [`FORK_PREMAP_MAX`] of them: the stack and the files' pages first (every child touches
/// those), then the rest in address order.
fn premap_ops(st: &State, shared: impl Fn(u64) -> bool) -> Vec<MapOp> {
    let mut first = Vec::new();
    let mut rest = Vec::new();
    for v in st.vmas.values() {
        if v.prot == Prot::NONE {
            continue;
        }
        let cow = !v.shared && v.prot.contains(Prot::WRITE);
        let list = if v.grows_down || matches!(v.backing, Backing::File { .. }) {
            &mut first
        } else {
            &mut rest
        };
        for (&a, &o) in st.pages.range(v.start..v.end) {
            let prot = if cow && shared(o) {
                read_only(v.prot)
            } else {
                v.prot
            };
            match list.last_mut() {
                Some(MapOp::Map {
                    addr,
                    len,
                    file_offset,
                    prot: p,
                    ..
                }) if *addr + *len == a && *file_offset + *len == o && *p == prot => *len += PAGE,
                _ => list.push(MapOp::Map {
                    addr: a,
                    len: PAGE,
                    file_offset: o,
                    prot,
                    populate: false,
                }),
            }
        }
    }
    first.extend(rest);
    first.truncate(FORK_PREMAP_MAX);
    first
}
