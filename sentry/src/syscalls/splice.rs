//! splice, tee, vmsplice: data into, out of and between pipes. The pipe side (waiting, taking,
//! appending) is `vfs/pipe.rs`; the other side is any file's read/pread or write/pwrite, a
//! chunk at a time through a Sentry buffer (Linux moves page references instead).
//!
//! The checks come in Linux's order (`fs/splice.c`), and so do the waits: only the pipe side
//! blocks, and only until the first byte moves: a splice out of a pipe waits for data (0 at
//! its end) and then drains what is there up to the length; one into a pipe waits for room
//! and then moves what fits. `SPLICE_F_NONBLOCK`, or `O_NONBLOCK` on a pipe given to splice or
//! tee (not vmsplice), makes those waits EAGAIN. `SPLICE_F_MOVE`, `SPLICE_F_MORE` and
//! `SPLICE_F_GIFT` are hints and accepted.
//!
//! Deviations from Linux: pipes count bytes, not page slots (see `vfs/pipe.rs`), so how much
//! one call moves into a nearly full pipe can differ; data spliced out of a pipe in packet
//! mode comes out as a stream, as on Linux, but data spliced in doesn't form packets.

use std::sync::Arc;

use snare_abi::file::splice::{ALL as SPLICE_F_ALL, SPLICE_F_NONBLOCK};
use snare_abi::file::{o, Iovec};
use snare_abi::Errno;
use snare_syscalls_table::nr;

use super::arg::{check_flags, fd, u32_};
use super::read_write::{fsize_allowed, iovecs};
use super::{Handler, MAX_RW};
use crate::kernel::Task;
use crate::mm::{GuestMemory, PAGE};
use crate::vfs::pipe::{pipe_of, splice_pipes, Pipe};
use crate::vfs::{FileDescription, SEEK_CUR};

pub(super) const HANDLERS: &[(u32, Handler)] = &[
    (nr::SPLICE, sys_splice),
    (nr::TEE, sys_tee),
    (nr::VMSPLICE, sys_vmsplice),
];

/// The most bytes one step of a pipe-to-file splice moves.
const CHUNK: usize = 1 << 16;

/// The file behind fd `n`; EBADF also for an `O_PATH` fd, as Linux's `fdget` for these calls.
fn file_arg(task: &Task, n: u64) -> Result<Arc<dyn FileDescription>, Errno> {
    let f = task.fds.get(fd(n))?;
    if f.status_flags() & o::PATH != 0 {
        return Err(Errno::EBADF);
    }
    Ok(f)
}

fn readable(f: &dyn FileDescription) -> bool {
    f.status_flags() & o::ACCMODE != o::WRONLY
}

fn writable(f: &dyn FileDescription) -> bool {
    f.status_flags() & o::ACCMODE != o::RDONLY
}

fn nonblocking(f: &dyn FileDescription) -> bool {
    f.status_flags() & o::NONBLOCK != 0
}

/// An `loff_t *` argument: `None` for NULL.
fn read_offset(task: &Task, addr: u64) -> Result<Option<i64>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    task.mm.read_val::<i64>(addr).map(Some)
}

/// Linux's `rw_verify_area` for a file side: the length must fit `ssize_t`, the offset be
/// non-negative and offset + length fit `loff_t` (EINVAL). Returns the offset.
fn verify_area(off: Option<i64>, len: u64) -> Result<Option<u64>, Errno> {
    let len = i64::try_from(len).map_err(|_| Errno::EINVAL)?;
    match off {
        None => Ok(None),
        Some(o) if o < 0 || o.checked_add(len).is_none() => Err(Errno::EINVAL),
        Some(o) => Ok(Some(o as u64)),
    }
}

/// Implements `splice(2)`: pipe to pipe, pipe to file or file to pipe; `off_in`/`off_out`
/// give the file's position (which then doesn't move) and are updated.
fn sys_splice(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let (off_in_addr, off_out_addr, len) = (a[1], a[3], a[4]);
    if len == 0 {
        return Ok(0);
    }
    let flags = check_flags(u32_(a[5]), SPLICE_F_ALL)?;
    let inp = file_arg(task, a[0])?;
    let out = file_arg(task, a[2])?;
    let (ipipe, opipe) = (pipe_of(&*inp), pipe_of(&*out));
    if (ipipe.is_some() && off_in_addr != 0) || (opipe.is_some() && off_out_addr != 0) {
        return Err(Errno::ESPIPE);
    }
    let off_out = read_offset(task, off_out_addr)?;
    let off_in = read_offset(task, off_in_addr)?;
    if !readable(&*inp) || !writable(&*out) {
        return Err(Errno::EBADF);
    }
    let mut nonblock = flags & SPLICE_F_NONBLOCK != 0;
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    match (ipipe, opipe) {
        (Some(i), Some(o)) => {
            if Arc::ptr_eq(i, o) {
                return Err(Errno::EINVAL);
            }
            nonblock |= nonblocking(&*inp) || nonblocking(&*out);
            splice_pipes(i, o, len, nonblock, false).map(|n| n as u64)
        }
        (Some(i), None) => {
            let at = verify_area(off_out, len as u64)?;
            if out.status_flags() & o::APPEND != 0 {
                return Err(Errno::EINVAL);
            }
            nonblock |= nonblocking(&*inp);
            let count = fsize_allowed(task, &*out, at, len.min(MAX_RW))?;
            let (n, end) = pipe_to_file(task, i, &*out, at, count, nonblock)?;
            if let Some(end) = end {
                task.mm.write(off_out_addr, &(end as i64).to_ne_bytes())?;
            }
            Ok(n)
        }
        (None, Some(o)) => {
            let at = verify_area(off_in, len as u64)?;
            nonblock |= nonblocking(&*out);
            let (n, end) = file_to_pipe(&*inp, o, at, len.min(MAX_RW), nonblock)?;
            if let Some(end) = end {
                task.mm.write(off_in_addr, &(end as i64).to_ne_bytes())?;
            }
            Ok(n)
        }
        (None, None) => Err(Errno::EINVAL),
    }
}

/// Splices up to `count` bytes out of `pipe` into `out` (at `at`, or its offset): waits for
/// the first byte, then drains what is there. Bytes the file refuses go back into the pipe.
/// Returns the bytes moved and the offset after them.
fn pipe_to_file(
    task: &Task,
    pipe: &Pipe,
    out: &dyn FileDescription,
    mut at: Option<u64>,
    count: usize,
    nonblock: bool,
) -> Result<(u64, Option<u64>), Errno> {
    let mut done = 0usize;
    if count == 0 || !pipe.wait_data(nonblock)? {
        return Ok((0, at));
    }
    while done < count {
        // A dying process stops between chunks, as Linux checks for signals between pages.
        if task.handle.is_killed() {
            break;
        }
        let chunk = pipe.take_some((count - done).min(CHUNK));
        if chunk.is_empty() {
            break;
        }
        let written = match at {
            Some(o) => out.pwrite(&chunk, o),
            None => out.write(&chunk),
        };
        let w = match written {
            Ok(w) => w.min(chunk.len()),
            Err(e) => {
                pipe.unread(&chunk);
                if done == 0 {
                    return Err(e);
                }
                break;
            }
        };
        done += w;
        at = at.map(|o| o + w as u64);
        if w < chunk.len() {
            pipe.unread(&chunk[w..]);
            break;
        }
    }
    Ok((done as u64, at))
}

/// Splices up to `count` bytes of `inp` (at `at`, or its offset) into `pipe`: waits for room,
/// then moves what fits. Returns the bytes moved and the offset after them.
fn file_to_pipe(
    inp: &dyn FileDescription,
    pipe: &Pipe,
    at: Option<u64>,
    count: usize,
    nonblock: bool,
) -> Result<(u64, Option<u64>), Errno> {
    let room = pipe.wait_room(nonblock)?;
    let mut buf = vec![0u8; count.min(room)];
    let n = match at {
        // A file that has no positions can't be given one (Linux: no FMODE_PREAD).
        Some(o) => inp.pread(&mut buf, o).map_err(|e| match e {
            Errno::ESPIPE => Errno::EINVAL,
            e => e,
        })?,
        None => inp.read(&mut buf)?,
    };
    let data = &buf[..n.min(buf.len())];
    let pushed = match pipe.push_some(data) {
        Ok(p) => p,
        Err(e) => {
            if at.is_none() {
                let _ = inp.seek(-(data.len() as i64), SEEK_CUR);
            }
            return Err(e);
        }
    };
    let mut moved = pushed;
    if pushed < data.len() && at.is_none() {
        // Another writer took the room meanwhile. Give the rest back to the file; a stream
        // that can't take it back waits for room (its bytes must not be lost).
        let rest = &data[pushed..];
        if inp.seek(-(rest.len() as i64), SEEK_CUR).is_err() {
            while moved < data.len() {
                match pipe
                    .wait_room(false)
                    .and_then(|_| pipe.push_some(&data[moved..]))
                {
                    Ok(p) => moved += p,
                    Err(_) => break,
                }
            }
        }
    }
    Ok((moved as u64, at.map(|o| o + moved as u64)))
}

/// Implements `tee(2)`: copies up to `len` bytes from one pipe to another, leaving the input
/// as it was. Both must be pipes, and different ones (EINVAL).
fn sys_tee(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let flags = check_flags(u32_(a[3]), SPLICE_F_ALL)?;
    let len = a[2];
    if len == 0 {
        return Ok(0);
    }
    let inp = file_arg(task, a[0])?;
    let out = file_arg(task, a[1])?;
    if !readable(&*inp) || !writable(&*out) {
        return Err(Errno::EBADF);
    }
    match (pipe_of(&*inp), pipe_of(&*out)) {
        (Some(i), Some(o)) if !Arc::ptr_eq(i, o) => {
            let nonblock =
                flags & SPLICE_F_NONBLOCK != 0 || nonblocking(&*inp) || nonblocking(&*out);
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            splice_pipes(i, o, len, nonblock, true).map(|n| n as u64)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// Implements `vmsplice(2)`: into a pipe from the iovecs (an fd open for writing), or out
/// of a pipe into them (one open for reading). Only `SPLICE_F_NONBLOCK` makes it
/// non-blocking: as on Linux, the pipe's `O_NONBLOCK` doesn't. The pages are copied (Linux
/// may map them into the pipe; `SPLICE_F_GIFT` is accepted and changes nothing).
fn sys_vmsplice(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let flags = check_flags(u32_(a[3]), SPLICE_F_ALL)?;
    let file = file_arg(task, a[0])?;
    let to_pipe = writable(&*file);
    let vecs = iovecs(task, a[1], a[2])?;
    let total = vecs
        .iter()
        .fold(0u64, |s, v| s.saturating_add(v.iov_len))
        .min(MAX_RW as u64) as usize;
    if total == 0 {
        return Ok(0);
    }
    let pipe = pipe_of(&*file).ok_or(Errno::EBADF)?;
    let nonblock = flags & SPLICE_F_NONBLOCK != 0;
    if to_pipe {
        vmsplice_to_pipe(task, pipe, &vecs, total, nonblock)
    } else {
        vmsplice_to_user(task, pipe, &vecs, total, nonblock)
    }
}

/// Gathers what fits in the pipe from the iovecs, a page at a time (stopping at the first
/// page that can't be read: EFAULT if that is the first), and appends it.
fn vmsplice_to_pipe(
    task: &Task,
    pipe: &Pipe,
    vecs: &[Iovec],
    total: usize,
    nonblock: bool,
) -> Result<u64, Errno> {
    let room = pipe.wait_room(nonblock)?.min(total);
    let mut data: Vec<u8> = Vec::with_capacity(room);
    'gather: for v in vecs {
        let mut at = 0u64;
        while at < v.iov_len && data.len() < room {
            let addr = v.iov_base.wrapping_add(at);
            let n = (v.iov_len - at)
                .min(PAGE - addr % PAGE)
                .min((room - data.len()) as u64) as usize;
            let start = data.len();
            data.resize(start + n, 0);
            if task.mm.read(addr, &mut data[start..]).is_err() {
                data.truncate(start);
                if data.is_empty() {
                    return Err(Errno::EFAULT);
                }
                break 'gather;
            }
            at += n as u64;
        }
        if data.len() >= room {
            break;
        }
    }
    pipe.push_some(&data).map(|n| n as u64)
}

/// Waits for data (0 at the pipe's end), then copies what there is into the iovecs, a chunk
/// at a time. A chunk an iovec can't take goes back into the pipe whole, as Linux keeps a
/// pipe buffer it couldn't copy out (EFAULT if nothing moved).
fn vmsplice_to_user(
    task: &Task,
    pipe: &Pipe,
    vecs: &[Iovec],
    total: usize,
    nonblock: bool,
) -> Result<u64, Errno> {
    if !pipe.wait_data(nonblock)? {
        return Ok(0);
    }
    let mut done = 0usize;
    while done < total {
        let chunk = pipe.take_some((total - done).min(CHUNK));
        if chunk.is_empty() {
            break;
        }
        if scatter(task, vecs, done as u64, &chunk).is_err() {
            pipe.unread(&chunk);
            if done == 0 {
                return Err(Errno::EFAULT);
            }
            break;
        }
        done += chunk.len();
    }
    Ok(done as u64)
}

/// Writes `data` into the iovecs from byte `skip` of them on.
fn scatter(task: &Task, vecs: &[Iovec], mut skip: u64, mut data: &[u8]) -> Result<(), Errno> {
    for v in vecs {
        if data.is_empty() {
            break;
        }
        if skip >= v.iov_len {
            skip -= v.iov_len;
            continue;
        }
        let n = (v.iov_len - skip).min(data.len() as u64) as usize;
        task.mm.write(v.iov_base.wrapping_add(skip), &data[..n])?;
        data = &data[n..];
        skip = 0;
    }
    Ok(())
}
