//! read/write and friends, fd-table calls: close, dup, fcntl, ioctl, lseek.

use snare_abi::file::{o, Flock, Iovec};
use snare_abi::inotify::{IN_ACCESS, IN_MODIFY};
use snare_abi::Errno;
use snare_syscalls_table::nr;

use super::arg::{fd, i32_, len, u32_};
use super::{inotify, Handler, MAX_RW};
use crate::kernel::Task;
use crate::mm::GuestMemory;
use crate::vfs::locks::{self, FlockOp, Holder, Owner, RangeOp};
use crate::vfs::{FileDescription, SEEK_CUR, SEEK_END, SEEK_SET};

pub(super) const HANDLERS: &[(u32, Handler)] = &[
    (nr::READ, sys_read),
    (nr::WRITE, sys_write),
    (nr::PREAD64, sys_pread64),
    (nr::PWRITE64, sys_pwrite64),
    (nr::READV, sys_readv),
    (nr::WRITEV, sys_writev),
    (nr::PREADV, sys_preadv),
    (nr::PWRITEV, sys_pwritev),
    (nr::PREADV2, sys_preadv),
    (nr::PWRITEV2, sys_pwritev),
    (nr::LSEEK, sys_lseek),
    (nr::CLOSE, sys_close),
    (nr::CLOSE_RANGE, sys_close_range),
    (nr::DUP, sys_dup),
    (nr::DUP2, sys_dup2),
    (nr::DUP3, sys_dup3),
    (nr::FCNTL, sys_fcntl),
    (nr::IOCTL, sys_ioctl),
    (nr::FLOCK, sys_flock),
    (nr::SENDFILE, sys_sendfile),
    (nr::COPY_FILE_RANGE, sys_copy_file_range),
];

/// Copies up to `count` bytes from `src` (at `*off` if given, else its offset) to `dst` (at
/// `out_off` if given, else its offset), a chunk at a time. Returns bytes copied.
fn copy_between(
    task: &Task,
    src: &dyn FileDescription,
    dst: &dyn FileDescription,
    mut in_off: Option<u64>,
    mut out_off: Option<u64>,
    count: usize,
) -> Result<(u64, Option<u64>, Option<u64>), Errno> {
    let mut buf = vec![0u8; count.min(1 << 16)];
    let mut done = 0usize;
    while done < count {
        if task.handle.is_killed() {
            if done == 0 {
                return Err(Errno::EINTR);
            }
            break;
        }
        let want = (count - done).min(buf.len());
        let n = match in_off {
            Some(o) => src.pread(&mut buf[..want], o),
            None => src.read(&mut buf[..want]),
        };
        let n = match n {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        let w = match out_off {
            Some(o) => dst.pwrite(&buf[..n], o),
            None => dst.write(&buf[..n]),
        };
        let w = match w {
            Ok(w) => w,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        in_off = in_off.map(|o| o + w as u64);
        out_off = out_off.map(|o| o + w as u64);
        done += w;
        if w < n {
            // The destination took less; put the source offset back where it stopped.
            if in_off.is_none() {
                let _ = src.seek(-((n - w) as i64), crate::vfs::SEEK_CUR);
            }
            break;
        }
    }
    Ok((done as u64, in_off, out_off))
}

/// Implements `sendfile(2)`.
fn sys_sendfile(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let out = task.fds.get(fd(a[0]))?;
    let inp = task.fds.get(fd(a[1]))?;
    let off = if a[2] == 0 {
        None
    } else {
        let o: i64 = task.mm.read_val(a[2])?;
        Some(u64::try_from(o).map_err(|_| Errno::EINVAL)?)
    };
    sendfile_kinds(&*inp, &*out, off.is_some())?;
    let count = fsize_allowed(task, &*out, None, len(a[3])?.min(MAX_RW))?;
    let (n, new_off, _) = copy_between(task, &*inp, &*out, off, None, count)?;
    inotify::transferred(&*inp, IN_ACCESS, n);
    inotify::transferred(&*out, IN_MODIFY, n);
    if let Some(o) = new_off {
        task.mm.write(a[2], &(o as i64).to_ne_bytes())?;
    }
    Ok(n)
}

/// What `sendfile(2)` takes, as Linux's `do_sendfile`: an offset only for a file with
/// positions (ESPIPE for a pipe or socket), never a pipe as the source, and, unless the
/// destination is a pipe, only a regular file or block device as the source (EINVAL: a
/// socket's data goes to a pipe, or through `splice`).
fn sendfile_kinds(
    inp: &dyn FileDescription,
    out: &dyn FileDescription,
    offset: bool,
) -> Result<(), Errno> {
    use snare_abi::file::{S_IFBLK, S_IFIFO, S_IFMT, S_IFREG, S_IFSOCK};
    let kind = |f: &dyn FileDescription| f.stat().map(|st| st.st_mode & S_IFMT);
    let src = kind(inp)?;
    if offset && (src == S_IFIFO || src == S_IFSOCK) {
        return Err(Errno::ESPIPE);
    }
    if src == S_IFIFO {
        return Err(Errno::EINVAL);
    }
    if kind(out)? != S_IFIFO && src != S_IFREG && src != S_IFBLK {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// Implements `copy_file_range(2)` (flags must be 0).
fn sys_copy_file_range(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    if a[5] != 0 {
        return Err(Errno::EINVAL);
    }
    let inp = task.fds.get(fd(a[0]))?;
    let out = task.fds.get(fd(a[2]))?;
    let read_off = |addr: u64| -> Result<Option<u64>, Errno> {
        if addr == 0 {
            return Ok(None);
        }
        let o: i64 = task.mm.read_val(addr)?;
        u64::try_from(o).map(Some).map_err(|_| Errno::EINVAL)
    };
    let (in_off, out_off) = (read_off(a[1])?, read_off(a[3])?);
    let count = fsize_allowed(task, &*out, out_off, len(a[4])?.min(MAX_RW))?;
    let (n, ni, no) = copy_between(task, &*inp, &*out, in_off, out_off, count)?;
    inotify::transferred(&*inp, IN_ACCESS, n);
    inotify::transferred(&*out, IN_MODIFY, n);
    if let Some(o) = ni {
        task.mm.write(a[1], &(o as i64).to_ne_bytes())?;
    }
    if let Some(o) = no {
        task.mm.write(a[3], &(o as i64).to_ne_bytes())?;
    }
    Ok(n)
}

/// Implements `flock(2)`. Converting between shared and exclusive drops the old lock first,
/// as Linux does.
fn sys_flock(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    use snare_abi::file::lock::{LOCK_EX, LOCK_NB, LOCK_SH, LOCK_UN};
    let file = task.fds.get(fd(a[0]))?;
    let cmd = u32_(a[1]);
    let op = match cmd & !LOCK_NB {
        LOCK_SH => FlockOp::Shared,
        LOCK_EX => FlockOp::Exclusive,
        LOCK_UN => FlockOp::Unlock,
        _ => return Err(Errno::EINVAL),
    };
    let key = locks::key_of(&*file)?;
    locks::table().flock(key, &file, op, cmd & LOCK_NB == 0)?;
    Ok(0)
}

/// The record-lock commands of `fcntl(2)`: F_GETLK, F_SETLK, F_SETLKW and their OFD forms.
fn fcntl_lock(task: &Task, n: i32, cmd: i32, arg: u64) -> Result<u64, Errno> {
    use snare_abi::file::lock::{
        F_GETLK, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW, F_RDLCK, F_SETLKW, F_UNLCK, F_WRLCK,
    };
    let file = task.fds.get(n)?;
    let mut fl: Flock = task.mm.read_val(arg)?;
    let ofd = matches!(cmd, F_OFD_GETLK | F_OFD_SETLK | F_OFD_SETLKW);
    let getlk = matches!(cmd, F_GETLK | F_OFD_GETLK);
    // Linux's fcntl_getlk checks the type before the range; F_SETLK checks it after.
    if getlk && fl.l_type != F_RDLCK && fl.l_type != F_WRLCK {
        return Err(Errno::EINVAL);
    }
    let base = match u32::try_from(fl.l_whence) {
        Ok(SEEK_SET) => 0,
        // Streams have no offset; Linux uses their f_pos, which stays 0.
        Ok(SEEK_CUR) => file.seek(0, SEEK_CUR).unwrap_or(0),
        Ok(SEEK_END) => u64::try_from(file.stat()?.st_size).unwrap_or(0),
        _ => return Err(Errno::EINVAL),
    };
    let range = locks::range_of(base, fl.l_start, fl.l_len)?;
    let op = match fl.l_type {
        F_RDLCK => RangeOp::Read,
        F_WRLCK => RangeOp::Write,
        F_UNLCK => RangeOp::Unlock,
        _ => return Err(Errno::EINVAL),
    };
    if ofd && fl.l_pid != 0 {
        return Err(Errno::EINVAL);
    }
    let key = locks::key_of(&*file)?;
    let holder = if ofd {
        Holder::Description(&file)
    } else {
        Holder::Process {
            table: task.fds.lock_owner(),
            pid: task.tgid(),
        }
    };
    if getlk {
        let owner = match &holder {
            Holder::Description(d) => Owner::Description(locks::description_id(d)),
            Holder::Process { table, .. } => Owner::Posix(*table),
        };
        let (start, end) = range;
        match locks::table().test(key, owner, start, end, op == RangeOp::Write) {
            None => fl.l_type = F_UNLCK,
            Some(c) => {
                fl.l_type = if c.span.write { F_WRLCK } else { F_RDLCK };
                fl.l_whence = SEEK_SET as i16;
                fl.l_start = c.span.start as i64;
                fl.l_len = if c.span.end == locks::TO_EOF {
                    0
                } else {
                    (c.span.end - c.span.start) as i64
                };
                fl.l_pid = c.pid;
            }
        }
        task.mm.write(arg, snare_abi::pod::as_bytes(&fl))?;
        return Ok(0);
    }
    // Linux's check_fmode_for_setlk: a lock needs the access it protects.
    let mode = file.status_flags() & o::ACCMODE;
    match op {
        RangeOp::Read if mode == o::WRONLY => return Err(Errno::EBADF),
        RangeOp::Write if mode == o::RDONLY => return Err(Errno::EBADF),
        _ => {}
    }
    let wait = matches!(cmd, F_SETLKW | F_OFD_SETLKW);
    locks::table().set_range(key, &holder, range, op, wait)?;
    Ok(0)
}

/// Reads into guest memory at `buf` from `read`, a chunk at a time.
fn read_into(
    task: &Task,
    buf: u64,
    count: usize,
    chunks: Chunks,
    mut read: impl FnMut(&mut [u8], u64) -> Result<usize, Errno>,
) -> Result<u64, Errno> {
    let count = count.min(MAX_RW);
    let mut done = 0usize;
    let mut chunk = vec![0u8; count.min(CHUNK)];
    while done < count {
        // A dying process stops here: a 2 GiB read is 2048 chunks (Linux checks for a
        // fatal signal between pages).
        if task.handle.is_killed() {
            return if done == 0 {
                Err(Errno::EINTR)
            } else {
                Ok(done as u64)
            };
        }
        let want = (count - done).min(chunk.len());
        let n = match read(&mut chunk[..want], done as u64) {
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        task.mm.write(buf + done as u64, &chunk[..n])?;
        done += n;
        // A stream (a pipe, a socket, a terminal) gives what it has: asking again after a
        // full chunk could wait for more, where Linux returns.
        if n < want || chunks == Chunks::One {
            break;
        }
    }
    Ok(done as u64)
}

/// The most one copy between the guest and a file moves at a time.
const CHUNK: usize = 1 << 20;

/// Whether a read may take several chunks: a regular file's (it never waits), not a
/// stream's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunks {
    One,
    Many,
}

impl Chunks {
    /// For a read of `count` bytes of `file` (one chunk holds 1 MiB: only a longer read
    /// asks what the file is).
    fn of(file: &dyn crate::vfs::FileDescription, count: usize) -> Chunks {
        if count <= CHUNK {
            return Chunks::One;
        }
        match file.stat() {
            Ok(st) if st.st_mode & snare_abi::file::S_IFMT == snare_abi::file::S_IFREG => {
                Chunks::Many
            }
            _ => Chunks::One,
        }
    }
}

/// Writes from guest memory at `buf` through `write`, a chunk at a time.
fn write_from(
    task: &Task,
    buf: u64,
    count: usize,
    mut write: impl FnMut(&[u8], u64) -> Result<usize, Errno>,
) -> Result<u64, Errno> {
    let count = count.min(MAX_RW);
    let mut done = 0usize;
    let mut chunk = vec![0u8; count.min(CHUNK)];
    while done < count {
        if task.handle.is_killed() {
            return if done == 0 {
                Err(Errno::EINTR)
            } else {
                Ok(done as u64)
            };
        }
        let want = (count - done).min(chunk.len());
        task.mm.read(buf + done as u64, &mut chunk[..want])?;
        let n = match write(&chunk[..want], done as u64) {
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        done += n;
        if n < want {
            break;
        }
    }
    Ok(done as u64)
}

/// Implements `read(2)`.
fn sys_read(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let file = task.fds.get(fd(a[0]))?;
    if let Some(s) = crate::net::netlink::as_netlink(&*file) {
        let v = [Iovec {
            iov_base: a[1],
            iov_len: a[2].min(MAX_RW as u64),
        }];
        return super::socket_netlink::read(task, s, &v);
    }
    if let Some(s) = crate::net::inet::as_inet(&*file) {
        return super::socket_inet::read(task, s, &super::socket::one_buffer(a[1], a[2]));
    }
    if let Some(s) = crate::net::unix::as_socket(&*file) {
        // Straight from the queue into guest memory, and 0 for an empty buffer as Linux.
        if a[2] == 0 {
            return Ok(0);
        }
        let v = [Iovec {
            iov_base: a[1],
            iov_len: a[2].min(MAX_RW as u64),
        }];
        return super::socket_msg::read_socket(task, s, &v);
    }
    let count = len(a[2])?;
    job_control(task, &*file, TtyAccess::Read)?;
    read_into(task, a[1], count, Chunks::of(&*file, count), |b, _| {
        file.read(b)
    })
    .inspect(|&n| inotify::transferred(&*file, IN_ACCESS, n))
}

/// The bytes of a `count`-byte write to `file` at `at` (None: its position, or its end
/// under O_APPEND) that RLIMIT_FSIZE lets through (see `kernel::rlimits::fsize_check`).
/// Under the default unlimited RLIMIT_FSIZE nothing is asked of the file.
pub(super) fn fsize_allowed(
    task: &Task,
    file: &dyn FileDescription,
    at: Option<u64>,
    count: usize,
) -> Result<usize, Errno> {
    use crate::kernel::rlimits::{fsize_check, soft_limit};
    if count == 0 || soft_limit(task, snare_abi::file::RLIMIT_FSIZE).is_none() {
        return Ok(count);
    }
    let st = file.stat()?;
    if st.st_mode & snare_abi::file::S_IFMT != snare_abi::file::S_IFREG {
        return Ok(count);
    }
    let pos = match at {
        Some(p) => p,
        None if file.status_flags() & o::APPEND != 0 => u64::try_from(st.st_size).unwrap_or(0),
        None => file.seek(0, SEEK_CUR)?,
    };
    Ok(fsize_check(task, pos, count as u64)? as usize)
}

/// Implements `write(2)`.
fn sys_write(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let file = task.fds.get(fd(a[0]))?;
    if let Some(s) = crate::net::netlink::as_netlink(&*file) {
        let v = [Iovec {
            iov_base: a[1],
            iov_len: a[2].min(MAX_RW as u64),
        }];
        return super::socket_netlink::write(task, s, &v);
    }
    if let Some(s) = crate::net::unix::as_socket(&*file).and_then(|s| s.arc()) {
        let v = [Iovec {
            iov_base: a[1],
            iov_len: a[2].min(MAX_RW as u64),
        }];
        return super::socket_msg::write_socket(task, &s, &v);
    }
    if let Some(s) = crate::net::inet::as_inet(&*file) {
        return super::socket_inet::write(task, s, &super::socket::one_buffer(a[1], a[2]));
    }
    let n = fsize_allowed(task, &*file, None, len(a[2])?)?;
    job_control(task, &*file, TtyAccess::Write)?;
    write_from(task, a[1], n, |b, _| file.write(b))
        .inspect(|&n| inotify::transferred(&*file, IN_MODIFY, n))
}

/// Implements `pread64(2)`.
fn sys_pread64(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let file = task.fds.get(fd(a[0]))?;
    let off = i64::try_from(a[3]).map_err(|_| Errno::EINVAL)? as u64;
    read_into(task, a[1], len(a[2])?, Chunks::Many, |b, d| {
        file.pread(b, off + d)
    })
    .inspect(|&n| inotify::transferred(&*file, IN_ACCESS, n))
}

/// Implements `pwrite64(2)`.
fn sys_pwrite64(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let file = task.fds.get(fd(a[0]))?;
    let off = i64::try_from(a[3]).map_err(|_| Errno::EINVAL)? as u64;
    let n = fsize_allowed(task, &*file, Some(off), len(a[2])?)?;
    write_from(task, a[1], n, |b, d| file.pwrite(b, off + d))
        .inspect(|&n| inotify::transferred(&*file, IN_MODIFY, n))
}

/// Reads a guest iovec array (at most IOV_MAX entries).
pub(super) fn iovecs(task: &Task, addr: u64, count: u64) -> Result<Vec<Iovec>, Errno> {
    if count > 1024 {
        return Err(Errno::EINVAL);
    }
    let mut out = Vec::with_capacity(count as usize);
    for i in 0..count {
        let v: Iovec = task.mm.read_val(addr.wrapping_add(16 * i))?;
        if v.iov_len > isize::MAX as u64 {
            return Err(Errno::EINVAL);
        }
        out.push(v);
    }
    Ok(out)
}

/// Which way a vectored call moves data.
#[derive(Clone, Copy)]
enum Dir {
    Read,
    Write,
}

/// readv/writev and their positioned forms: one iovec at a time, stopping at a short
/// transfer; an error after some bytes moved ends the call with the count.
fn do_iov(task: &mut Task, a: [u64; 6], at: Option<u64>, dir: Dir) -> Result<u64, Errno> {
    let file = task.fds.get(fd(a[0]))?;
    let vecs = iovecs(task, a[1], a[2])?;
    if let Some(s) = crate::net::inet::as_inet(&*file) {
        return match (dir, at) {
            (_, Some(_)) => Err(Errno::ESPIPE),
            (Dir::Read, None) => super::socket_inet::read(task, s, &vecs),
            (Dir::Write, None) => super::socket_inet::write(task, s, &vecs),
        };
    }
    if let Some(s) = crate::net::netlink::as_netlink(&*file) {
        return match (dir, at) {
            (_, Some(_)) => Err(Errno::ESPIPE),
            (Dir::Read, None) => super::socket_netlink::read(task, s, &vecs),
            (Dir::Write, None) => super::socket_netlink::write(task, s, &vecs),
        };
    }
    // A socket's vector is one message (and a stream's one send).
    if let Some(s) = crate::net::unix::as_socket(&*file).and_then(|s| s.arc()) {
        return match (dir, at) {
            (_, Some(_)) => Err(Errno::ESPIPE),
            (Dir::Read, None) => super::socket_msg::read_socket(task, &s, &vecs),
            (Dir::Write, None) => super::socket_msg::write_socket(task, &s, &vecs),
        };
    }
    if at.is_none() {
        let access = match dir {
            Dir::Read => TtyAccess::Read,
            Dir::Write => TtyAccess::Write,
        };
        job_control(task, &*file, access)?;
    }
    let budget = match dir {
        Dir::Write => {
            let sum = vecs
                .iter()
                .fold(0usize, |s, v| s.saturating_add(v.iov_len as usize));
            fsize_allowed(task, &*file, at, sum)? as u64
        }
        Dir::Read => u64::MAX,
    };
    let mut total = 0u64;
    for v in vecs {
        if total >= budget {
            break;
        }
        let want = v.iov_len.min(budget - total);
        let (base, len) = (v.iov_base, want as usize);
        let n = match (dir, at) {
            (Dir::Read, Some(off)) => read_into(task, base, len, Chunks::Many, |b, d| {
                file.pread(b, off + total + d)
            }),
            (Dir::Read, None) => read_into(task, base, len, Chunks::of(&*file, len), |b, _| {
                file.read(b)
            }),
            (Dir::Write, Some(off)) => {
                write_from(task, base, len, |b, d| file.pwrite(b, off + total + d))
            }
            (Dir::Write, None) => write_from(task, base, len, |b, _| file.write(b)),
        };
        let n = match n {
            Ok(n) => n,
            Err(e) if total == 0 => return Err(e),
            Err(_) => break,
        };
        total += n;
        if n < want {
            break;
        }
    }
    let event = match dir {
        Dir::Read => IN_ACCESS,
        Dir::Write => IN_MODIFY,
    };
    inotify::transferred(&*file, event, total);
    Ok(total)
}

/// Implements `readv(2)`.
fn sys_readv(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_iov(task, a, None, Dir::Read)
}

/// Implements `writev(2)`.
fn sys_writev(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_iov(task, a, None, Dir::Write)
}

/// Implements `preadv(2)` and `preadv2(2)` (offset -1 in preadv2 means the file offset).
fn sys_preadv(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let off = a[3] as i64;
    if off == -1 {
        return do_iov(task, a, None, Dir::Read);
    }
    if off < 0 {
        return Err(Errno::EINVAL);
    }
    do_iov(task, a, Some(off as u64), Dir::Read)
}

/// Implements `pwritev(2)` and `pwritev2(2)`.
fn sys_pwritev(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let off = a[3] as i64;
    if off == -1 {
        return do_iov(task, a, None, Dir::Write);
    }
    if off < 0 {
        return Err(Errno::EINVAL);
    }
    do_iov(task, a, Some(off as u64), Dir::Write)
}

/// Implements `lseek(2)`.
fn sys_lseek(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let file = task.fds.get(fd(a[0]))?;
    file.seek(a[1] as i64, u32_(a[2]))
}

/// Implements `close(2)`.
fn sys_close(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    task.fds.close(fd(a[0])).map(|_| 0)
}

/// Implements `close_range(2)`.
fn sys_close_range(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    const CLOSE_RANGE_UNSHARE: u32 = 2;
    const CLOSE_RANGE_CLOEXEC: u32 = 4;
    let flags = super::arg::check_flags(u32_(a[2]), CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)?;
    let (first, last) = (u32_(a[0]), u32_(a[1]));
    if first > last {
        return Err(Errno::EINVAL);
    }
    let last = last.min(i32::MAX as u32) as i32;
    task.fds.close_range(
        first.min(i32::MAX as u32) as i32,
        last,
        flags & CLOSE_RANGE_CLOEXEC != 0,
    );
    Ok(0)
}

/// Implements `dup(2)`.
fn sys_dup(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let file = task.fds.get(fd(a[0]))?;
    task.fds
        .install(file, false, 0, task.nofile())
        .map(|n| n as u64)
}

/// Implements `dup2(2)`.
fn sys_dup2(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let (old, new) = (fd(a[0]), fd(a[1]));
    let file = task.fds.get(old)?;
    if old == new {
        return Ok(new as u64);
    }
    task.fds.install_at(new, file, false, task.nofile())?;
    Ok(new as u64)
}

/// Implements `dup3(2)`.
fn sys_dup3(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let (old, new) = (fd(a[0]), fd(a[1]));
    let flags = super::arg::check_flags(u32_(a[2]), o::CLOEXEC)?;
    if old == new {
        return Err(Errno::EINVAL);
    }
    let file = task.fds.get(old)?;
    task.fds
        .install_at(new, file, flags & o::CLOEXEC != 0, task.nofile())?;
    Ok(new as u64)
}

/// Implements `fcntl(2)`: F_DUPFD(_CLOEXEC), F_GETFD/F_SETFD, F_GETFL/F_SETFL, record locks,
/// F_GETPIPE_SZ/F_SETPIPE_SZ (answered by the file), F_ADD_SEALS/F_GET_SEALS (`memfd.rs`),
/// F_NOTIFY and F_SETSIG/F_GETSIG (`inotify.rs`).
fn sys_fcntl(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    const F_DUPFD: i32 = 0;
    const F_GETFD: i32 = 1;
    const F_SETFD: i32 = 2;
    const F_GETFL: i32 = 3;
    const F_SETFL: i32 = 4;
    const F_DUPFD_CLOEXEC: i32 = 1030;
    const F_SETPIPE_SZ: i32 = 1031;
    const F_GETPIPE_SZ: i32 = 1032;
    use snare_abi::file::lock::{
        F_GETLK, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW, F_SETLK, F_SETLKW,
    };
    use snare_abi::file::seal::{F_ADD_SEALS, F_GET_SEALS};
    use snare_abi::inotify::dn::{F_GETSIG, F_NOTIFY, F_SETSIG};
    const FD_CLOEXEC: u64 = 1;
    let n = fd(a[0]);
    match i32_(a[1]) {
        cmd @ (F_DUPFD | F_DUPFD_CLOEXEC) => {
            let file = task.fds.get(n)?;
            // The kernel takes the minimum as an unsigned int: EINVAL at the limit or past it.
            let limit = task.nofile();
            let min = i32_(a[2]);
            if min < 0 || min >= limit {
                return Err(Errno::EINVAL);
            }
            task.fds
                .install(file, cmd == F_DUPFD_CLOEXEC, min, limit)
                .map(|n| n as u64)
        }
        F_GETFD => Ok(u64::from(task.fds.cloexec(n)?)),
        F_SETFD => {
            task.fds.set_cloexec(n, a[2] & FD_CLOEXEC != 0)?;
            Ok(0)
        }
        cmd @ (F_GETLK | F_SETLK | F_SETLKW | F_OFD_GETLK | F_OFD_SETLK | F_OFD_SETLKW) => {
            fcntl_lock(task, n, cmd, a[2])
        }
        F_GETFL => Ok(u64::from(task.fds.get(n)?.status_flags())),
        F_SETFL => {
            task.fds.get(n)?.set_status_flags(u32_(a[2]));
            Ok(0)
        }
        cmd @ (F_ADD_SEALS | F_GET_SEALS) => super::memfd::fcntl_seals(task, n, cmd, a[2]),
        cmd @ (F_NOTIFY | F_SETSIG | F_GETSIG) => inotify::fcntl_notify(task, n, cmd, a[2]),
        F_GETPIPE_SZ => task.fds.get(n)?.pipe_size(),
        F_SETPIPE_SZ => task.fds.get(n)?.set_pipe_size(u64::from(u32_(a[2]))),
        _ => Err(Errno::EINVAL),
    }
}

/// Implements `ioctl(2)`: FIOCLEX/FIONCLEX here, the rest by the file (TCGETS, TIOCGWINSZ,
/// FIONREAD on terminals and files).
fn sys_ioctl(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    const FIONCLEX: u32 = 0x5450;
    const FIOCLEX: u32 = 0x5451;
    const FIONBIO: u32 = 0x5421;
    let n = fd(a[0]);
    match u32_(a[1]) {
        FIOCLEX => {
            task.fds.set_cloexec(n, true)?;
            Ok(0)
        }
        FIONCLEX => {
            task.fds.set_cloexec(n, false)?;
            Ok(0)
        }
        // Every file's, as Linux's `ioctl_fionbio`: sets or clears O_NONBLOCK.
        FIONBIO => {
            let file = task.fds.get(n)?;
            let on: i32 = task.mm.read_val(a[2])?;
            let flags = file.status_flags() & !o::ACCMODE;
            file.set_status_flags(if on != 0 {
                flags | o::NONBLOCK
            } else {
                flags & !o::NONBLOCK
            });
            Ok(0)
        }
        cmd => {
            let file = task.fds.get(n)?;
            if changes_terminal(cmd) {
                job_control(task, &*file, TtyAccess::Change)?;
            }
            if let Some((pty, master)) = crate::vfs::pty::pty_of(&*file) {
                if let Some(r) = pty_job_ioctl(task, pty, master, cmd, a[2]) {
                    return r;
                }
            } else if file.is_terminal() {
                if let Some(r) = tty_job_ioctl(task, cmd, a[2]) {
                    return r;
                }
            }
            file.ioctl(cmd, a[2], &*task.mm)
        }
    }
}

/// What a caller does to a terminal, for [`job_control`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum TtyAccess {
    Read,
    Write,
    /// Settings, the foreground group, flushing, flow (Linux's `tty_check_change` callers).
    Change,
}

/// The ioctls that change a terminal, which a background process may not do unasked.
fn changes_terminal(cmd: u32) -> bool {
    use snare_abi::tty::*;
    matches!(
        cmd,
        TCSETS | TCSETSW | TCSETSF | TCSETS2 | TCSETSW2 | TCSETSF2 | TIOCSPGRP | TCFLSH | TCXONC
    )
}

/// Linux's job control on a process's controlling terminal (`__tty_check_change`, n_tty's
/// read): a process of a background group that reads it gets SIGTTIN, that changes its
/// settings (or writes it while `TOSTOP` is set) SIGTTOU, sent to its whole group, and the
/// call restarts once the group is continued. When the signal can't stop the group the
/// call goes on (SIGTTOU ignored or blocked) or fails with EIO (SIGTTIN ignored or blocked;
/// an orphaned group, which no one would continue). Pseudo-terminals of the sandbox's
/// devpts (the session they are the controlling terminal of) and the host terminal behind
/// stdio (session 1's, with the sandbox's own foreground group); a master is never one.
fn job_control(task: &Task, file: &dyn FileDescription, access: TtyAccess) -> Result<(), Errno> {
    use snare_abi::signal::{SIGTTIN, SIGTTOU};
    use std::sync::atomic::Ordering;
    let (session, fg, tostop) = match crate::vfs::pty::pty_of(file) {
        Some((_, true)) => return Ok(()),
        Some((pty, false)) => {
            let job = pty.job(|j| *j);
            let tostop = access == TtyAccess::Write && pty.tostop();
            (job.session, job.pgrp, tostop)
        }
        // The host terminal's TOSTOP is not looked at (a host call per write).
        None if file.is_terminal() && access != TtyAccess::Write => {
            (Some(1), task.k.fg_pgrp.load(Ordering::SeqCst), false)
        }
        None => return Ok(()),
    };
    if access == TtyAccess::Write && !tostop {
        return Ok(());
    }
    let (pgid, sid) = {
        let st = task.tg().state();
        (st.pgid, st.sid)
    };
    if session != Some(sid) || fg == 0 || fg == pgid {
        return Ok(());
    }
    let sig = match access {
        TtyAccess::Read => SIGTTIN,
        _ => SIGTTOU,
    };
    let ignored = task.handle.mask() & (1u64 << (sig - 1)) != 0
        || task.tg().action(sig).sa_handler == crate::kernel::signal::SIG_IGN;
    if ignored {
        return match sig {
            SIGTTIN => Err(Errno::EIO),
            _ => Ok(()),
        };
    }
    if orphaned(&task.k, pgid, sid) {
        return Err(Errno::EIO);
    }
    use crate::vfs::pty::JobControl;
    crate::kernel::signal::TtySignals::new(&task.k).signal_pgrp(pgid, sig);
    Err(Errno::ERESTARTSYS)
}

/// Whether process group `pgid` (of session `sid`) is orphaned: no member has a parent in
/// another group of the same session (POSIX; job-control stops would never be continued).
fn orphaned(k: &crate::kernel::Kernel, pgid: i32, sid: i32) -> bool {
    let pids = crate::kernel::process::lock(&k.pids);
    !pids.groups.values().any(|g| {
        // One process's state at a time (a parent's is never locked under its child's).
        let parent = {
            let st = g.state();
            match st.pgid == pgid && st.zombie.is_none() {
                true => st.parent.clone(),
                false => None,
            }
        };
        parent.is_some_and(|p| {
            let st = p.state();
            st.pgid != pgid && st.sid == sid
        })
    })
}

/// The ioctls of a pseudo-terminal that need the caller: its session and process group
/// (Linux's `tiocsctty`, `tiocgpgrp`, `tiocspgrp`, `tiocgsid`, `TIOCNOTTY`) and a new fd
/// (`TIOCGPTPEER`). The terminal's session stands for the controlling terminal: on the slave,
/// `TIOCGPGRP`, `TIOCGSID` and `TIOCSPGRP` need the caller to be in it (`ENOTTY`), as Linux
/// needs it to be the caller's controlling terminal. `None`: not one of them.
fn pty_job_ioctl(
    task: &Task,
    pty: &std::sync::Arc<crate::vfs::pty::Pty>,
    master: bool,
    cmd: u32,
    arg: u64,
) -> Option<Result<u64, Errno>> {
    use snare_abi::tty::{TIOCGPGRP, TIOCGPTPEER, TIOCGSID, TIOCNOTTY, TIOCSCTTY, TIOCSPGRP};
    if !matches!(
        cmd,
        TIOCSCTTY | TIOCNOTTY | TIOCGPGRP | TIOCSPGRP | TIOCGSID | TIOCGPTPEER
    ) {
        return None;
    }
    if !master && pty.hung_up() {
        return Some(Err(if cmd == TIOCSPGRP {
            Errno::ENOTTY
        } else {
            Errno::EIO
        }));
    }
    let (pid, pgid, sid) = {
        let st = task.tg().state();
        (task.tg().tgid, st.pgid, st.sid)
    };
    let job = pty.job(|j| *j);
    let is_ctty = job.session == Some(sid);
    let put = |v: i32| task.mm.write(arg, &v.to_ne_bytes()).map(|()| 0);
    Some(match cmd {
        TIOCSCTTY => {
            if is_ctty && pid == sid {
                Ok(0)
            } else if pid != sid || pty.session_has_terminal(sid) || job.session.is_some() {
                // Not a session leader, one with a terminal already, or a terminal that is
                // another session's (stealing it, `arg` 1, needs CAP_SYS_ADMIN).
                Err(Errno::EPERM)
            } else {
                pty.job(|j| {
                    j.session = Some(sid);
                    j.pgrp = pgid;
                });
                Ok(0)
            }
        }
        TIOCNOTTY => {
            if !is_ctty || master {
                Err(Errno::ENOTTY)
            } else {
                if pid == sid {
                    pty.job(|j| *j = Default::default());
                }
                Ok(0)
            }
        }
        TIOCGPGRP if !master && !is_ctty => Err(Errno::ENOTTY),
        TIOCGPGRP => put(job.pgrp),
        TIOCGSID if !master && !is_ctty => Err(Errno::ENOTTY),
        TIOCGSID => job.session.map_or(Err(Errno::ENOTTY), put),
        TIOCSPGRP => (|| {
            let pg: i32 = task.mm.read_val(arg)?;
            if pg < 0 {
                return Err(Errno::EINVAL);
            }
            if !is_ctty {
                return Err(Errno::ENOTTY);
            }
            // The sessions of the group's live processes.
            let sessions: Vec<i32> = crate::kernel::process::lock(&task.k.pids)
                .groups
                .values()
                .filter_map(|g| {
                    let st = g.state();
                    (st.pgid == pg && st.zombie.is_none()).then_some(st.sid)
                })
                .collect();
            if sessions.is_empty() {
                return Err(Errno::ESRCH);
            }
            if !sessions.contains(&sid) {
                return Err(Errno::EPERM);
            }
            pty.job(|j| j.pgrp = pg);
            Ok(0)
        })(),
        TIOCGPTPEER if master => (|| {
            let flags = u32_(arg);
            const KNOWN: u32 = o::ACCMODE | o::NONBLOCK | o::CLOEXEC | o::NOCTTY | o::LARGEFILE;
            if flags & !KNOWN != 0 || flags & o::ACCMODE == o::ACCMODE {
                return Err(Errno::EINVAL);
            }
            let slave = pty.open_slave(flags)?;
            let cloexec = flags & o::CLOEXEC != 0;
            let fd = task.fds.install(slave, cloexec, 0, task.nofile())?;
            Ok(fd as u64)
        })(),
        _ => Err(Errno::ENOTTY),
    })
}

/// Job-control ioctls on the terminal behind stdio: the sandbox keeps its own foreground
/// process group and session (the host's must not see guest ids). `None`: not one of them.
fn tty_job_ioctl(task: &Task, cmd: u32, arg: u64) -> Option<Result<u64, Errno>> {
    use snare_abi::tty::{TIOCGPGRP, TIOCGSID, TIOCNOTTY, TIOCSCTTY, TIOCSPGRP};
    use std::sync::atomic::Ordering;
    let r = match cmd {
        TIOCSCTTY | TIOCNOTTY => Ok(0),
        TIOCGPGRP => {
            let pg = task.k.fg_pgrp.load(Ordering::SeqCst);
            task.mm.write(arg, &pg.to_ne_bytes()).map(|_| 0)
        }
        TIOCGSID => task.mm.write(arg, &1i32.to_ne_bytes()).map(|_| 0),
        TIOCSPGRP => (|| {
            let pg: i32 = task.mm.read_val(arg)?;
            if pg < 0 {
                return Err(Errno::EINVAL);
            }
            let sid = task.tg().state().sid;
            let exists = crate::kernel::process::lock(&task.k.pids)
                .groups
                .values()
                .any(|g| {
                    let st = g.state();
                    st.pgid == pg && st.sid == sid && st.zombie.is_none()
                });
            if !exists {
                return Err(Errno::EPERM);
            }
            task.k.fg_pgrp.store(pg, Ordering::SeqCst);
            Ok(0)
        })(),
        _ => return None,
    };
    Some(r)
}
