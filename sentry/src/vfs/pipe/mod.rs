//! Pipes: a byte ring shared by a read end and a write end, each an open file description.
//!
//! A [`Pipe`] is created by `pipe2(2)` (`syscalls/ipc.rs`) and reached only through its two
//! [`PipeEnd`]s. An end counts as open from its creation until its last reference is dropped
//! (every fd, in every thread and process, that shares the description is closed), so the
//! reader/writer counts that give EOF and `EPIPE` live in the end objects' `Drop`. Every change
//! of state notifies the wait queue of the end whose readiness it changes (data in or the last
//! writer gone: the read end's; room made or the last reader gone: the write end's), which
//! sleepers in `read`/`write` and poll/select/epoll watch. Two queues, as on Linux, keep an
//! edge-triggered reader from being woken by its own reads. The `splice` submodule is the
//! pipe side of splice, tee and vmsplice.
//!
//! Deviations from Linux: capacity is counted in bytes, not page slots (a pipe of 16 pages
//! holds exactly 64 KiB, whatever the sizes of the writes), and writability for poll means
//! at least `PIPE_BUF` bytes free.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use snare_abi::file::{o, Stat, S_IFIFO};
use snare_abi::Errno;

use super::{poll, FileDescription};
use crate::kernel::wait::{block, WaitQueue};
use crate::mm::GuestMemory;

mod splice;
pub use splice::{pipe_of, splice_pipes};

/// Writes of at most this many bytes are atomic.
pub const PIPE_BUF: usize = 4096;
const PAGE: usize = 4096;
/// A new pipe's capacity: 16 pages.
pub const DEFAULT_SIZE: usize = 16 * PAGE;
/// The largest capacity `F_SETPIPE_SZ` grants (`/proc/sys/fs/pipe-max-size`).
pub const MAX_SIZE: usize = 1 << 20;
/// `st_dev` of pipes: device 0:4001 (anonymous, next to tmpfs's 0:4000).
pub const PIPEFS_DEV: u64 = 0x00f0_00a1;
/// `st_dev` and `st_ino` of eventfd, timerfd and epoll files, which share one anonymous
/// inode as on Linux: device 0:4002.
pub const ANON_DEV: u64 = 0x00f0_00a2;
pub const ANON_INO: u64 = 1;

/// Fake inode numbers for pipes.
static NEXT_INO: AtomicU64 = AtomicU64::new(0x1000);

/// The current wall-clock time as (seconds, nanoseconds), for inode times.
pub(crate) fn now_ts() -> (i64, i64) {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or((0, 0), |d| {
            (d.as_secs() as i64, i64::from(d.subsec_nanos()))
        })
}

/// The `stat` of an anonymous-inode file (eventfd, timerfd, epoll): mode 0600 with no type
/// bits, as Linux reports them.
pub(crate) fn anon_stat(uid: u32, gid: u32, ctime: (i64, i64)) -> Stat {
    Stat {
        st_dev: ANON_DEV,
        st_ino: ANON_INO,
        st_nlink: 1,
        st_mode: 0o600,
        st_uid: uid,
        st_gid: gid,
        st_blksize: PAGE as i64,
        st_atime: ctime.0,
        st_atime_nsec: ctime.1,
        st_mtime: ctime.0,
        st_mtime_nsec: ctime.1,
        st_ctime: ctime.0,
        st_ctime_nsec: ctime.1,
        ..Stat::default()
    }
}

/// Waits on `q` until `ready` answers, or fails with `EAGAIN` at once when `nonblock`.
pub(crate) fn wait_ready<T>(
    nonblock: bool,
    q: &WaitQueue,
    mut ready: impl FnMut() -> Option<Result<T, Errno>>,
) -> Result<T, Errno> {
    if let Some(r) = ready() {
        return r;
    }
    if nonblock {
        return Err(Errno::EAGAIN);
    }
    block(&[q], None, ready)
}

/// What the lock protects.
#[derive(Debug)]
struct State {
    buf: VecDeque<u8>,
    capacity: usize,
    readers: usize,
    writers: usize,
    /// Writer ends ever opened (a FIFO reader sees HUP only after a writer has come).
    writer_opens: u64,
    /// Reader ends ever opened (a FIFO writer's open waits for one to come, even if it has
    /// gone again by the time the writer runs).
    reader_opens: u64,
    /// Bytes ever read (the stream position of `buf[0]`).
    consumed: u64,
    /// Stream ranges `[start, end)` written in packet mode (`O_DIRECT`) still in `buf`.
    packets: VecDeque<(u64, u64)>,
}

impl State {
    fn free(&self) -> usize {
        self.capacity.saturating_sub(self.buf.len())
    }

    /// Appends `data` (which fits), as packets of at most `PIPE_BUF` in packet mode.
    fn push(&mut self, data: &[u8], packet: bool) {
        if packet {
            let mut pos = self.consumed + self.buf.len() as u64;
            for c in data.chunks(PIPE_BUF) {
                self.packets.push_back((pos, pos + c.len() as u64));
                pos += c.len() as u64;
            }
        }
        self.buf.extend(data);
    }

    /// Takes up to `out.len()` bytes: stops before a packet, and reads one packet at most,
    /// discarding what of it does not fit (as Linux does).
    fn take(&mut self, out: &mut [u8]) -> usize {
        let (n, drop) = match self.packets.front() {
            Some(&(s, e)) if s == self.consumed => {
                self.packets.pop_front();
                let len = (e - s) as usize;
                (out.len().min(len), len)
            }
            Some(&(s, _)) => {
                let n = out.len().min((s - self.consumed) as usize);
                (n, n)
            }
            None => {
                let n = out.len().min(self.buf.len());
                (n, n)
            }
        };
        for (o, b) in out.iter_mut().zip(self.buf.drain(..drop)).take(n) {
            *o = b;
        }
        self.consumed += drop as u64;
        n
    }
}

/// The pipe object both ends share.
#[derive(Debug)]
pub struct Pipe {
    state: Mutex<State>,
    /// Notified when the read end's readiness may change: data in, the last writer gone.
    readable: WaitQueue,
    /// Notified when the write end's readiness may change: room made, the last reader gone.
    writable: WaitQueue,
    ino: u64,
    uid: u32,
    gid: u32,
    ctime: (i64, i64),
    /// A FIFO's node (device, inode, mode), which fstat of its ends shows.
    node: Option<(u64, u64, u32)>,
}

impl Pipe {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The pipe of a FIFO node (`st_dev`, `st_ino`, `st_mode` of the node), with no ends yet
    /// (see [`open_fifo`]).
    pub fn for_node(uid: u32, gid: u32, node: (u64, u64, u32)) -> Arc<Pipe> {
        let mut p = Pipe::build(uid, gid);
        p.node = Some(node);
        Arc::new(p)
    }

    /// A pipe with no ends yet.
    pub fn new(uid: u32, gid: u32) -> Arc<Pipe> {
        Arc::new(Pipe::build(uid, gid))
    }

    fn build(uid: u32, gid: u32) -> Pipe {
        Pipe {
            state: Mutex::new(State {
                buf: VecDeque::new(),
                capacity: DEFAULT_SIZE,
                readers: 0,
                writers: 0,
                writer_opens: 0,
                reader_opens: 0,
                consumed: 0,
                packets: VecDeque::new(),
            }),
            readable: WaitQueue::new(),
            writable: WaitQueue::new(),
            ino: NEXT_INO.fetch_add(1, Ordering::Relaxed),
            uid,
            gid,
            ctime: now_ts(),
            node: None,
        }
    }

    /// A new pipe owned by `uid`/`gid`: its (read end, write end). `flags` are `pipe2`'s
    /// status flags (`O_NONBLOCK`, `O_DIRECT`), given to both ends.
    pub fn new_pair(flags: u32, uid: u32, gid: u32) -> (Arc<PipeEnd>, Arc<PipeEnd>) {
        let pipe = Pipe::new(uid, gid);
        let flags = flags & (o::NONBLOCK | o::DIRECT);
        (
            PipeEnd::open(pipe.clone(), false, flags),
            PipeEnd::open(pipe, true, flags),
        )
    }
}

/// `open(2)` of a FIFO: a read-only open waits for a writer (unless O_NONBLOCK), a
/// write-only open waits for a reader (ENXIO with O_NONBLOCK), a read-write open never
/// waits and holds both ends.
pub fn open_fifo(pipe: &Arc<Pipe>, flags: u32) -> Result<Arc<dyn FileDescription>, Errno> {
    let keep = flags & o::NONBLOCK;
    let nonblock = keep != 0;
    match flags & o::ACCMODE {
        o::RDWR => {
            let r = PipeEnd::open(pipe.clone(), false, keep);
            let w = PipeEnd::open(pipe.clone(), true, keep);
            Ok(Arc::new(FifoRdwr { r, w }))
        }
        o::WRONLY => {
            if nonblock && pipe.lock().readers == 0 {
                return Err(Errno::ENXIO);
            }
            // A reader there already (or one that opens from now on) lets the open return;
            // asked before this end counts, so a reader that comes, reads and goes while we
            // open isn't missed.
            let (seen, present) = {
                let st = pipe.lock();
                (st.reader_opens, st.readers > 0)
            };
            let w = PipeEnd::open(pipe.clone(), true, keep);
            if !nonblock && !present {
                // The end is open (counted) while it waits, so a reader opening meanwhile
                // finds it; a reader that came and went already counts (as on Linux); a
                // signal gives up the open.
                block(&[&pipe.writable], None, || {
                    let st = pipe.lock();
                    (st.readers > 0 || st.reader_opens > seen).then_some(Ok(()))
                })?;
            }
            Ok(w)
        }
        _ => {
            // As for a writer: a writer present when the open begins lets it return (Linux
            // doesn't wait then), even if that writer finishes and closes before we look.
            let (seen, present) = {
                let st = pipe.lock();
                (st.writer_opens, st.writers > 0)
            };
            let r = PipeEnd::open(pipe.clone(), false, keep);
            if !nonblock && !present {
                block(&[&pipe.readable], None, || {
                    let st = pipe.lock();
                    (st.writers > 0 || st.writer_opens > seen).then_some(Ok(()))
                })?;
            }
            Ok(r)
        }
    }
}

/// A FIFO opened read-write: both ends in one description.
#[derive(Debug)]
struct FifoRdwr {
    r: Arc<PipeEnd>,
    w: Arc<PipeEnd>,
}

impl FileDescription for FifoRdwr {
    fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        self.r.read(buf)
    }

    fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        self.w.write(data)
    }

    fn stat(&self) -> Result<Stat, Errno> {
        self.r.stat()
    }

    fn ioctl(&self, cmd: u32, arg: u64, mem: &dyn GuestMemory) -> Result<u64, Errno> {
        self.r.ioctl(cmd, arg, mem)
    }

    fn status_flags(&self) -> u32 {
        (self.r.status_flags() & !o::ACCMODE) | o::RDWR
    }

    fn set_status_flags(&self, flags: u32) {
        self.r.set_status_flags(flags);
        self.w.set_status_flags(flags);
    }

    fn path(&self) -> Vec<u8> {
        self.r.path()
    }

    fn poll(&self) -> u32 {
        self.r.poll() | self.w.poll()
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        // Both directions notify the read end's queue on data; room made notifies the
        // write end's: poll re-checks both on either (see `poll` in syscalls).
        self.r.wait_queue()
    }
}

/// One end of a pipe: an open file description.
#[derive(Debug)]
pub struct PipeEnd {
    pipe: Arc<Pipe>,
    writer: bool,
    /// `O_NONBLOCK`, `O_DIRECT` (the access mode is implied by `writer`).
    flags: AtomicU32,
    /// For a read end: `writer_opens` when it was opened.
    seen_writers: u64,
}

impl PipeEnd {
    /// Opens an end (counted until it is dropped).
    pub fn open(pipe: Arc<Pipe>, writer: bool, flags: u32) -> Arc<PipeEnd> {
        let seen_writers = {
            let mut st = pipe.lock();
            if writer {
                st.writers += 1;
                st.writer_opens += 1;
            } else {
                st.readers += 1;
                st.reader_opens += 1;
            }
            // A reader that came while no writer was there waits for one before it sees HUP.
            if writer || st.writers > 0 {
                0
            } else {
                st.writer_opens
            }
        };
        pipe.readable.notify();
        pipe.writable.notify();
        Arc::new(PipeEnd {
            pipe,
            writer,
            flags: AtomicU32::new(flags),
            seen_writers,
        })
    }

    fn nonblock(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & o::NONBLOCK != 0
    }
}

impl Drop for PipeEnd {
    fn drop(&mut self) {
        {
            let mut st = self.pipe.lock();
            if self.writer {
                st.writers -= 1;
            } else {
                st.readers -= 1;
            }
            if st.readers == 0 && st.writers == 0 {
                // A FIFO outlives its ends: what nobody read is gone with the last one.
                st.buf.clear();
                st.packets.clear();
            }
        }
        // A writer gone may mean EOF for readers; a reader gone, EPIPE for writers.
        if self.writer {
            self.pipe.readable.notify();
        } else {
            self.pipe.writable.notify();
        }
    }
}

impl FileDescription for PipeEnd {
    /// Waits for data (or EOF: no writers left), then takes what there is, up to `buf.len()`.
    fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        if self.writer {
            return Err(Errno::EBADF);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let p = &self.pipe;
        let n = wait_ready(self.nonblock(), &p.readable, || {
            let mut st = p.lock();
            if !st.buf.is_empty() {
                Some(Ok(st.take(buf)))
            } else if st.writers == 0 {
                Some(Ok(0))
            } else {
                None
            }
        })?;
        if n > 0 {
            p.writable.notify();
        }
        Ok(n)
    }

    /// Writes all of `data` unless non-blocking: at most `PIPE_BUF` bytes go in at once or
    /// not at all; larger writes go in as room appears. `EPIPE` once no reader is left.
    fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        if !self.writer {
            return Err(Errno::EBADF);
        }
        if data.is_empty() {
            return Ok(0);
        }
        let p = &self.pipe;
        let atomic = data.len() <= PIPE_BUF;
        let mut done = 0usize;
        while done < data.len() {
            let packet = self.flags.load(Ordering::Relaxed) & o::DIRECT != 0;
            let r = wait_ready(self.nonblock(), &p.writable, || {
                let mut st = p.lock();
                if st.readers == 0 {
                    return Some(Err(Errno::EPIPE));
                }
                let rest = &data[done..];
                let need = if atomic { rest.len() } else { 1 };
                if st.free() < need {
                    return None;
                }
                let n = rest.len().min(st.free());
                st.push(&rest[..n], packet);
                Some(Ok(n))
            });
            match r {
                Ok(n) => {
                    done += n;
                    p.readable.notify();
                }
                Err(e) if done == 0 => return Err(e),
                // Some bytes went in: report them (a later write sees the error).
                Err(_) => break,
            }
        }
        Ok(done)
    }

    fn stat(&self) -> Result<Stat, Errno> {
        let p = &self.pipe;
        let (dev, ino, mode) = p.node.unwrap_or((PIPEFS_DEV, p.ino, S_IFIFO | 0o600));
        Ok(Stat {
            st_dev: dev,
            st_ino: ino,
            st_nlink: 1,
            st_mode: mode,
            st_uid: p.uid,
            st_gid: p.gid,
            st_blksize: PAGE as i64,
            st_atime: p.ctime.0,
            st_atime_nsec: p.ctime.1,
            st_mtime: p.ctime.0,
            st_mtime_nsec: p.ctime.1,
            st_ctime: p.ctime.0,
            st_ctime_nsec: p.ctime.1,
            ..Stat::default()
        })
    }

    fn ioctl(&self, cmd: u32, arg: u64, mem: &dyn GuestMemory) -> Result<u64, Errno> {
        const FIONREAD: u32 = 0x541b;
        match cmd {
            FIONREAD => {
                let n = self.pipe.lock().buf.len() as i32;
                mem.write(arg, &n.to_ne_bytes())?;
                Ok(0)
            }
            _ => Err(Errno::ENOTTY),
        }
    }

    fn status_flags(&self) -> u32 {
        let mode = if self.writer { o::WRONLY } else { o::RDONLY };
        mode | self.flags.load(Ordering::Relaxed)
    }

    fn set_status_flags(&self, flags: u32) {
        const CHANGEABLE: u32 = o::NONBLOCK | o::DIRECT;
        self.flags.store(flags & CHANGEABLE, Ordering::Relaxed);
    }

    fn path(&self) -> Vec<u8> {
        format!("pipe:[{}]", self.pipe.ino).into_bytes()
    }

    fn poll(&self) -> u32 {
        let st = self.pipe.lock();
        let mut ev = 0;
        if self.writer {
            if st.free() >= PIPE_BUF.min(st.capacity) {
                ev |= poll::OUT | poll::WRNORM;
            }
            if st.readers == 0 {
                ev |= poll::ERR;
            }
        } else {
            if !st.buf.is_empty() {
                ev |= poll::IN | poll::RDNORM;
            }
            if st.writers == 0 && st.writer_opens > self.seen_writers {
                ev |= poll::HUP;
            }
        }
        ev
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(if self.writer {
            &self.pipe.writable
        } else {
            &self.pipe.readable
        })
    }

    fn pipe_size(&self) -> Result<u64, Errno> {
        Ok(self.pipe.lock().capacity as u64)
    }

    /// `F_SETPIPE_SZ`: rounds up to a power-of-two number of pages; `EBUSY` if the data in
    /// the pipe would not fit, `EPERM` above [`MAX_SIZE`] (an unprivileged caller's limit).
    fn set_pipe_size(&self, size: u64) -> Result<u64, Errno> {
        if size > 1 << 31 {
            return Err(Errno::EINVAL);
        }
        let pages = (size as usize).div_ceil(PAGE).max(1).next_power_of_two();
        let bytes = pages * PAGE;
        if bytes > MAX_SIZE {
            return Err(Errno::EPERM);
        }
        {
            let mut st = self.pipe.lock();
            if st.buf.len() > bytes {
                return Err(Errno::EBUSY);
            }
            st.capacity = bytes;
        }
        self.pipe.writable.notify();
        Ok(bytes as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn round_trip_and_eof() {
        let (r, w) = Pipe::new_pair(0, 0, 0);
        assert_eq!(w.write(b"hello").expect("write"), 5);
        assert_eq!(r.poll() & poll::IN, poll::IN);
        let mut b = [0u8; 16];
        assert_eq!(r.read(&mut b).expect("read"), 5);
        assert_eq!(&b[..5], b"hello");
        drop(w);
        assert_eq!(r.poll() & poll::HUP, poll::HUP);
        assert_eq!(r.read(&mut b).expect("read"), 0);
    }

    #[test]
    fn nonblocking_full_and_empty() {
        let (r, w) = Pipe::new_pair(o::NONBLOCK, 0, 0);
        let mut b = [0u8; 8];
        assert_eq!(r.read(&mut b), Err(Errno::EAGAIN));
        let chunk = [7u8; 1000];
        let mut total = 0;
        loop {
            match w.write(&chunk) {
                Ok(n) => total += n,
                Err(e) => {
                    assert_eq!(e, Errno::EAGAIN);
                    break;
                }
            }
        }
        // 1000-byte writes are atomic: the last one that didn't fit whole was refused.
        assert_eq!(total, 65_000);
        assert_eq!(w.poll() & poll::OUT, 0);
        // A large write takes what fits.
        assert_eq!(w.write(&[1u8; 5000]).expect("write"), 536);
        drop(r);
        assert_eq!(w.write(b"x"), Err(Errno::EPIPE));
        assert_eq!(w.poll() & poll::ERR, poll::ERR);
    }

    #[test]
    fn sizes() {
        let (r, w) = Pipe::new_pair(0, 0, 0);
        assert_eq!(r.pipe_size().expect("pipe_size"), 65536);
        assert_eq!(w.set_pipe_size(5000).expect("set_pipe_size"), 8192);
        assert_eq!(w.set_pipe_size(3 * 4096).expect("set_pipe_size"), 16384);
        assert_eq!(w.set_pipe_size(0).expect("set_pipe_size"), 4096);
        assert_eq!(w.set_pipe_size(2 << 20), Err(Errno::EPERM));
        w.write(&[0u8; 3000]).expect("write");
        w.set_pipe_size(8192).expect("set_pipe_size");
        w.write(&[0u8; 3000]).expect("write");
        assert_eq!(w.set_pipe_size(4096), Err(Errno::EBUSY));
    }

    #[test]
    fn packets() {
        let (r, w) = Pipe::new_pair(o::DIRECT, 0, 0);
        w.write(b"abc").expect("write");
        w.write(b"defgh").expect("write");
        let mut b = [0u8; 16];
        assert_eq!(r.read(&mut b).expect("read"), 3);
        assert_eq!(r.read(&mut b[..2]).expect("read"), 2);
        assert_eq!(&b[..2], b"de");
        // The rest of the packet was discarded.
        assert_eq!(r.pipe.lock().buf.len(), 0);
    }

    #[test]
    fn reader_in_another_thread_is_woken() {
        let (r, w) = Pipe::new_pair(0, 0, 0);
        let t = std::thread::spawn(move || {
            let mut b = [0u8; 4];
            let n = r.read(&mut b).expect("read");
            let eof = r.read(&mut b).expect("read");
            (n, b, eof)
        });
        std::thread::sleep(Duration::from_millis(30));
        w.write(b"ping").expect("write");
        drop(w);
        assert_eq!(t.join().expect("join"), (4, *b"ping", 0));
    }

    #[test]
    fn blocked_large_write_completes_as_reader_drains() {
        let (r, w) = Pipe::new_pair(0, 0, 0);
        let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let expect = data.clone();
        let t = std::thread::spawn(move || w.write(&data).expect("write"));
        let mut got = Vec::new();
        let mut b = [0u8; 7000];
        while got.len() < expect.len() {
            let n = r.read(&mut b).expect("read");
            got.extend_from_slice(&b[..n]);
        }
        assert_eq!(t.join().expect("join"), 200_000);
        assert!(got == expect);
    }
}
