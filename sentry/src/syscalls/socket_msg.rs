//! The data calls of sockets: sendto, recvfrom, sendmsg, recvmsg, sendmmsg, recvmmsg (and
//! readv/writev/write of a socket, which take the same path so that a datagram is one
//! message). Guest memory is read and written here: iovecs, `struct msghdr`, control
//! messages (`SCM_RIGHTS`, `SCM_CREDENTIALS`) and addresses; `net/unix` holds the queues.

use std::sync::Arc;

use snare_abi::file::Iovec;
use snare_abi::socket::{
    cmsg_align, cmsg_space, Cmsghdr, Msghdr, Ucred, MSG_CMSG_CLOEXEC, MSG_CTRUNC, MSG_DONTWAIT,
    MSG_NOSIGNAL, MSG_OOB, MSG_PEEK, MSG_TRUNC, MSG_WAITALL, SCM_CREDENTIALS, SCM_MAX_FD,
    SCM_RIGHTS, SOCKADDR_STORAGE_SIZE, SOL_SOCKET,
};
use snare_abi::Errno;

use super::arg::{fd, u32_};
use super::read_write::iovecs;
use super::socket::{creds_of, resolve_peer, unix_of, write_addr};
use super::MAX_RW;
use super::{socket_inet, socket_netlink};
use crate::kernel::Task;
use crate::mm::GuestMemory;
use crate::net::inet::as_inet;
use crate::net::netlink::as_netlink;
use crate::net::unix::gc::Rights;
use crate::net::unix::{SendCtl, SockType, Taken, UnixSocket};
use crate::vfs::FileDescription;

/// `net.core.optmem_max`: the largest control buffer sendmsg takes (ENOBUFS past it).
pub(super) const OPTMEM_MAX: u64 = 131_072;
/// `UIO_MAXIOV`.
const UIO_MAXIOV: u64 = 1024;
/// The most one copy between guest memory and a stream socket moves at a time.
pub(super) const CHUNK: usize = 1 << 20;
/// What a message carries when neither end asked for credentials: no pid, the overflow ids.
const NOBODY: Ucred = Ucred {
    pid: 0,
    uid: 65534,
    gid: 65534,
};

/// The total length of `vecs`, cut at Linux's `MAX_RW_COUNT`.
pub(super) fn total(vecs: &[Iovec]) -> usize {
    vecs.iter()
        .fold(0usize, |s, v| s.saturating_add(v.iov_len as usize))
        .min(MAX_RW)
}

/// Copies `len` bytes starting `skip` bytes into the guest's iovecs.
pub(super) fn gather(
    task: &Task,
    vecs: &[Iovec],
    mut skip: usize,
    len: usize,
) -> Result<Vec<u8>, Errno> {
    let mut out = vec![0u8; len];
    let mut at = 0;
    for v in vecs {
        if at == len {
            break;
        }
        let l = v.iov_len as usize;
        if skip >= l {
            skip -= l;
            continue;
        }
        let n = (l - skip).min(len - at);
        task.mm
            .read(v.iov_base.wrapping_add(skip as u64), &mut out[at..at + n])?;
        at += n;
        skip = 0;
    }
    Ok(out)
}

/// Copies `data` into the guest's iovecs, starting `skip` bytes in.
pub(super) fn scatter(
    task: &Task,
    vecs: &[Iovec],
    mut skip: usize,
    data: &[u8],
) -> Result<(), Errno> {
    let mut at = 0;
    for v in vecs {
        if at == data.len() {
            break;
        }
        let l = v.iov_len as usize;
        if skip >= l {
            skip -= l;
            continue;
        }
        let n = (l - skip).min(data.len() - at);
        task.mm
            .write(v.iov_base.wrapping_add(skip as u64), &data[at..at + n])?;
        at += n;
        skip = 0;
    }
    Ok(())
}

/// One send: the data in `vecs`, what goes with it, where to. A stream moves a chunk at a
/// time and stops at the first short one (an error after some bytes ends the call with the
/// count). EPIPE on a stream raises SIGPIPE unless `MSG_NOSIGNAL`.
fn send_iov(
    task: &Task,
    s: &Arc<UnixSocket>,
    vecs: &[Iovec],
    mut ctl: SendCtl,
    to: Option<Arc<UnixSocket>>,
    flags: u32,
) -> Result<u64, Errno> {
    if flags & MSG_OOB != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let nonblock = flags & MSG_DONTWAIT != 0 || s.nonblocking();
    let len = total(vecs);
    let r = if s.sock_type() == SockType::Stream {
        let mut done = 0;
        loop {
            let want = (len - done).min(CHUNK);
            let chunk = match gather(task, vecs, done, want) {
                Ok(c) => c,
                Err(e) if done == 0 => break Err(e),
                Err(_) => break Ok(done),
            };
            match s.send_owned(chunk, &mut ctl, None, nonblock) {
                Ok(n) => done += n,
                Err(e) if done == 0 => break Err(e),
                Err(_) => break Ok(done),
            }
            if done >= len || done % CHUNK != 0 || task.handle.is_killed() {
                break Ok(done);
            }
        }
    } else {
        // A datagram larger than any buffer is refused before it is copied.
        if len > 2 * crate::net::unix::MAX_BUF {
            return Err(Errno::EMSGSIZE);
        }
        let data = gather(task, vecs, 0, len)?;
        s.send_owned(data, &mut ctl, to, nonblock)
    };
    if r == Err(Errno::EPIPE) && flags & MSG_NOSIGNAL == 0 && s.sock_type() == SockType::Stream {
        let info = crate::kernel::signal::user_info(
            snare_abi::signal::SIGPIPE,
            snare_abi::signal::SI_USER,
            task.tgid(),
            task.tg().state().creds.ruid,
        );
        crate::kernel::signal::send_to_task(&task.handle, info);
    }
    r.map(|n| n as u64)
}

/// What one receive gives back to the guest.
struct Got {
    /// The call's return value.
    ret: u64,
    /// `msg_flags`.
    flags: u32,
    taken: Taken,
}

/// One receive into `vecs`: `MSG_TRUNC` returns a datagram's full length.
fn recv_iov(task: &Task, s: &UnixSocket, vecs: &[Iovec], flags: u32) -> Result<Got, Errno> {
    if flags & MSG_OOB != 0 {
        return Err(Errno::EINVAL);
    }
    let nonblock = flags & MSG_DONTWAIT != 0 || s.nonblocking();
    let max = total(vecs);
    let mut taken = s.recv(max, flags & !MSG_WAITALL, nonblock)?;
    scatter(task, vecs, 0, &taken.data)?;
    // MSG_WAITALL on a stream: more receives, each copied out before the next (the Sentry
    // holds no more than one receive's bytes), until the buffer is full, end-of-file, an
    // error or a signal, or a message with files.
    let waitall = flags & MSG_WAITALL != 0 && flags & MSG_PEEK == 0;
    if waitall && s.sock_type() == SockType::Stream {
        let mut done = taken.data.len();
        while done < max && done > 0 && taken.rights.is_none() && !task.handle.is_killed() {
            match s.recv(max - done, flags & !MSG_WAITALL, nonblock) {
                Ok(t) if !t.data.is_empty() => {
                    scatter(task, vecs, done, &t.data)?;
                    done += t.data.len();
                    taken.rights = t.rights;
                }
                _ => break,
            }
        }
        taken.full_len = done;
        taken.data.truncate(0);
        return Ok(Got {
            ret: done as u64,
            flags: 0,
            taken,
        });
    }
    let mut out = 0;
    let mut ret = taken.data.len() as u64;
    if s.sock_type() != SockType::Stream && taken.full_len > taken.data.len() {
        out |= MSG_TRUNC;
        if flags & MSG_TRUNC != 0 {
            ret = taken.full_len as u64;
        }
    }
    Ok(Got {
        ret,
        flags: out,
        taken,
    })
}

/// `writev(2)` and `write(2)` of a socket: one send without flags.
pub(super) fn write_socket(task: &Task, s: &Arc<UnixSocket>, vecs: &[Iovec]) -> Result<u64, Errno> {
    let ctl = send_ctl(task, s, None, None);
    send_iov(task, s, vecs, ctl, None, MSG_NOSIGNAL)
}

/// `readv(2)` of a socket: one receive without flags (files that came are closed).
pub(super) fn read_socket(task: &Task, s: &UnixSocket, vecs: &[Iovec]) -> Result<u64, Errno> {
    recv_iov(task, s, vecs, 0).map(|g| g.ret)
}

/// The control of a send: the files, and the credentials (given, or the sender's own when
/// either end asked for them).
fn send_ctl(task: &Task, s: &UnixSocket, rights: Option<Rights>, given: Option<Ucred>) -> SendCtl {
    let own = creds_of(task);
    let want = given.is_some() || s.passcred() || s.peer_passcred();
    SendCtl {
        rights,
        creds: given.unwrap_or(if want { own } else { NOBODY }),
    }
}

/// Implements `sendto(2)`.
pub(super) fn sys_sendto(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let file = task.fds.get(fd(a[0]))?;
    if let Some(s) = as_inet(&*file) {
        return socket_inet::sendto(task, s, a);
    }
    if let Some(s) = as_netlink(&*file) {
        return socket_netlink::sendto(task, s, a);
    }
    let s = unix_of(&*file)?;
    let flags = u32_(a[3]);
    let to = if a[4] != 0 && a[5] != 0 {
        resolve_peer(task, &s, a[4], u32_(a[5]) as i32)?
    } else {
        None
    };
    let vecs = [Iovec {
        iov_base: a[1],
        iov_len: a[2].min(MAX_RW as u64),
    }];
    let ctl = send_ctl(task, &s, None, None);
    send_iov(task, &s, &vecs, ctl, to, flags)
}

/// Implements `recvfrom(2)`.
pub(super) fn sys_recvfrom(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let file = task.fds.get(fd(a[0]))?;
    if let Some(s) = as_inet(&*file) {
        return socket_inet::recvfrom(task, s, a);
    }
    if let Some(s) = as_netlink(&*file) {
        return socket_netlink::recvfrom(task, s, a);
    }
    let s = unix_of(&*file)?;
    let vecs = [Iovec {
        iov_base: a[1],
        iov_len: a[2].min(MAX_RW as u64),
    }];
    let got = recv_iov(task, &s, &vecs, u32_(a[3]))?;
    if a[4] != 0 {
        let addr = got.taken.from.as_ref().map(|x| x.to_sockaddr());
        write_addr(task, a[4], a[5], addr.as_deref().unwrap_or(&[]))?;
    }
    Ok(got.ret)
}

/// Reads a guest `struct msghdr` and its iovecs (EMSGSIZE past `UIO_MAXIOV`).
pub(super) fn read_msghdr(task: &Task, addr: u64) -> Result<(Msghdr, Vec<Iovec>), Errno> {
    let m: Msghdr = task.mm.read_val(addr)?;
    if m.msg_iovlen > UIO_MAXIOV {
        return Err(Errno::EMSGSIZE);
    }
    if (m.msg_namelen as i32) < 0 {
        return Err(Errno::EINVAL);
    }
    let vecs = iovecs(task, m.msg_iov, m.msg_iovlen)?;
    Ok((m, vecs))
}

/// The control messages of a send: files (`SCM_RIGHTS`, any number of messages, at most
/// `SCM_MAX_FD` in all) and credentials (checked as Linux's `scm_check_creds`). Other levels
/// are ignored; other `SOL_SOCKET` types are EINVAL, as is a header that doesn't fit.
fn parse_control(task: &Task, m: &Msghdr) -> Result<(Option<Rights>, Option<Ucred>), Errno> {
    if m.msg_controllen > i32::MAX as u64 {
        return Err(Errno::ENOBUFS);
    }
    let len = m.msg_controllen as usize;
    if len == 0 {
        return Ok((None, None));
    }
    if len as u64 > OPTMEM_MAX {
        return Err(Errno::ENOBUFS);
    }
    let mut buf = vec![0u8; len];
    task.mm.read(m.msg_control, &mut buf)?;
    let hdr = std::mem::size_of::<Cmsghdr>();
    let mut files: Vec<Arc<dyn FileDescription>> = Vec::new();
    let mut creds = None;
    let mut off = 0usize;
    // CMSG_FIRSTHDR / CMSG_NXTHDR: a header must fit in what is left.
    while off + hdr <= len {
        let c: Cmsghdr = snare_abi::pod::from_bytes(&buf[off..off + hdr]).ok_or(Errno::EINVAL)?;
        let clen = c.cmsg_len;
        if clen < hdr as u64 || clen > (len - off) as u64 {
            return Err(Errno::EINVAL);
        }
        let clen = clen as usize;
        let data = &buf[off + hdr..off + clen];
        if c.cmsg_level == SOL_SOCKET {
            match c.cmsg_type {
                SCM_RIGHTS => {
                    let n = data.len() / 4;
                    if files.len() + n > SCM_MAX_FD {
                        return Err(Errno::EINVAL);
                    }
                    for i in 0..n {
                        let raw = i32::from_ne_bytes([
                            data[4 * i],
                            data[4 * i + 1],
                            data[4 * i + 2],
                            data[4 * i + 3],
                        ]);
                        let f = task.fds.get(raw)?;
                        if f.status_flags() & snare_abi::file::o::PATH != 0 {
                            return Err(Errno::EBADF);
                        }
                        files.push(f);
                    }
                }
                SCM_CREDENTIALS => {
                    if clen != hdr + std::mem::size_of::<Ucred>() {
                        return Err(Errno::EINVAL);
                    }
                    let u: Ucred = snare_abi::pod::from_bytes(data).ok_or(Errno::EINVAL)?;
                    check_creds(task, u)?;
                    creds = Some(u);
                }
                _ => return Err(Errno::EINVAL),
            }
        }
        off += cmsg_align(clen);
    }
    let rights = (!files.is_empty()).then(|| Rights::new(files));
    Ok((rights, creds))
}

/// Linux's `scm_check_creds`: the pid must be the caller's (unless CAP_SYS_ADMIN), the
/// ids one of its real, effective or saved ones (unless CAP_SETUID, CAP_SETGID); then the
/// pid must exist (ESRCH).
fn check_creds(task: &Task, u: Ucred) -> Result<(), Errno> {
    use snare_abi::caps::Cap;
    let c = task.tg().state().creds.clone();
    let pid_ok = u.pid == task.tgid() || c.capable(Cap::SysAdmin);
    let uid_ok = [c.ruid, c.euid, c.suid].contains(&u.uid) || c.capable(Cap::Setuid);
    let gid_ok = [c.rgid, c.egid, c.sgid].contains(&u.gid) || c.capable(Cap::Setgid);
    if u.uid == u32::MAX || u.gid == u32::MAX {
        return Err(Errno::EINVAL);
    }
    if !(pid_ok && uid_ok && gid_ok) {
        return Err(Errno::EPERM);
    }
    if u.pid != task.tgid()
        && crate::kernel::process::lock(&task.k.pids)
            .group(u.pid)
            .is_none()
    {
        return Err(Errno::ESRCH);
    }
    Ok(())
}

/// One `sendmsg` of the `msghdr` at `addr`.
fn do_sendmsg(task: &Task, s: &Arc<UnixSocket>, addr: u64, flags: u32) -> Result<u64, Errno> {
    let (m, vecs) = read_msghdr(task, addr)?;
    let (rights, creds) = parse_control(task, &m)?;
    let to = if m.msg_name != 0 && m.msg_namelen != 0 {
        let len = (m.msg_namelen as usize).min(SOCKADDR_STORAGE_SIZE);
        resolve_peer(task, s, m.msg_name, len as i32)?
    } else {
        None
    };
    let ctl = send_ctl(task, s, rights, creds);
    send_iov(task, s, &vecs, ctl, to, flags)
}

/// Implements `sendmsg(2)`.
pub(super) fn sys_sendmsg(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let file = task.fds.get(fd(a[0]))?;
    if let Some(s) = as_inet(&*file) {
        return socket_inet::sendmsg(task, s, a[1], u32_(a[2]));
    }
    if let Some(s) = as_netlink(&*file) {
        return socket_netlink::sendmsg(task, s, a[1], u32_(a[2]));
    }
    let s = unix_of(&*file)?;
    do_sendmsg(task, &s, a[1], u32_(a[2]))
}

/// Writes control messages into the guest's buffer as Linux's `put_cmsg` and
/// `scm_detach_fds` do: what doesn't fit is cut (and `MSG_CTRUNC` set); files that don't
/// fit are closed.
struct CmsgOut {
    buf: Vec<u8>,
    room: usize,
    flags: u32,
}

impl CmsgOut {
    fn put(&mut self, level: i32, ty: i32, data: &[u8]) {
        let hdr = std::mem::size_of::<Cmsghdr>();
        if self.room < hdr {
            self.flags |= MSG_CTRUNC;
            return;
        }
        let mut cmlen = hdr + data.len();
        if self.room < cmlen {
            self.flags |= MSG_CTRUNC;
            cmlen = self.room;
        }
        let h = Cmsghdr {
            cmsg_len: cmlen as u64,
            cmsg_level: level,
            cmsg_type: ty,
        };
        let start = self.buf.len();
        self.buf.extend_from_slice(snare_abi::pod::as_bytes(&h));
        self.buf.extend_from_slice(&data[..cmlen - hdr]);
        let adv = cmsg_space(data.len()).min(self.room);
        self.buf.resize(start + adv, 0);
        self.room -= adv;
    }
}

/// Installs received files into the caller's table and describes them in `out`.
fn detach_fds(task: &Task, out: &mut CmsgOut, rights: Rights, cloexec: bool) -> Vec<i32> {
    let files = rights.into_files();
    let hdr = std::mem::size_of::<Cmsghdr>();
    let fdmax = if out.room > hdr {
        (out.room - hdr) / 4
    } else {
        0
    }
    .min(files.len());
    let mut fds = Vec::new();
    let count = files.len();
    for f in files.into_iter().take(fdmax) {
        match task.fds.install(f, cloexec, 0, task.nofile()) {
            Ok(n) => fds.push(n),
            Err(_) => break,
        }
    }
    if !fds.is_empty() {
        let data: Vec<u8> = fds.iter().flat_map(|n| n.to_ne_bytes()).collect();
        out.put(SOL_SOCKET, SCM_RIGHTS, &data);
    }
    if fds.len() < count {
        out.flags |= MSG_CTRUNC;
    }
    fds
}

/// One `recvmsg` into the `msghdr` at `addr`.
fn do_recvmsg(task: &Task, s: &UnixSocket, addr: u64, flags: u32) -> Result<u64, Errno> {
    let (m, vecs) = read_msghdr(task, addr)?;
    let mut got = recv_iov(task, s, &vecs, flags)?;
    let mut out = CmsgOut {
        buf: Vec::new(),
        room: if m.msg_control == 0 {
            0
        } else {
            usize::try_from(m.msg_controllen).unwrap_or(usize::MAX)
        },
        flags: got.flags,
    };
    if s.passcred() {
        let c = got.taken.creds.unwrap_or(NOBODY);
        out.put(SOL_SOCKET, SCM_CREDENTIALS, snare_abi::pod::as_bytes(&c));
    }
    let mut installed = Vec::new();
    if let Some(r) = got.taken.rights.take() {
        installed = detach_fds(task, &mut out, r, flags & MSG_CMSG_CLOEXEC != 0);
    }
    let written = (|| {
        if !out.buf.is_empty() {
            task.mm.write(m.msg_control, &out.buf)?;
        }
        task.mm
            .write(addr.wrapping_add(40), &(out.buf.len() as u64).to_ne_bytes())?;
        task.mm
            .write(addr.wrapping_add(48), &out.flags.to_ne_bytes())?;
        if m.msg_name != 0 {
            let a = got.taken.from.as_ref().map(|x| x.to_sockaddr());
            write_addr(
                task,
                m.msg_name,
                addr.wrapping_add(8),
                a.as_deref().unwrap_or(&[]),
            )?;
        }
        Ok(())
    })();
    if let Err(e) = written {
        for n in installed {
            let _ = task.fds.close(n);
        }
        return Err(e);
    }
    Ok(got.ret)
}

/// Implements `recvmsg(2)`: `MSG_PEEK`, `MSG_DONTWAIT`, `MSG_WAITALL`, `MSG_TRUNC`,
/// `MSG_CMSG_CLOEXEC`; credentials first, then files, as Linux orders them.
pub(super) fn sys_recvmsg(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let file = task.fds.get(fd(a[0]))?;
    if let Some(s) = as_inet(&*file) {
        return socket_inet::recvmsg(task, s, a[1], u32_(a[2]));
    }
    if let Some(s) = as_netlink(&*file) {
        return socket_netlink::recvmsg(task, s, a[1], u32_(a[2]));
    }
    let s = unix_of(&*file)?;
    do_recvmsg(task, &s, a[1], u32_(a[2]))
}

/// Implements `sendmmsg(2)`: messages one by one until one fails; the count sent, or the
/// first one's error.
pub(super) fn sys_sendmmsg(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let file = task.fds.get(fd(a[0]))?;
    let one = |task: &Task, at: u64, flags: u32| {
        if let Some(s) = as_inet(&*file) {
            return socket_inet::sendmsg(task, s, at, flags);
        }
        if let Some(s) = as_netlink(&*file) {
            return socket_netlink::sendmsg(task, s, at, flags);
        }
        do_sendmsg(task, &unix_of(&*file)?, at, flags)
    };
    let n = u32_(a[2]).min(UIO_MAXIOV as u32);
    let flags = u32_(a[3]);
    let mut done = 0u32;
    while done < n {
        let at = a[1].wrapping_add(64 * u64::from(done));
        match one(task, at, flags) {
            Ok(len) => {
                task.mm
                    .write(at.wrapping_add(56), &(len as u32).to_ne_bytes())?;
                done += 1;
            }
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(u64::from(done))
}

/// Implements `recvmmsg(2)`: messages one by one (`MSG_WAITFORONE` makes all but the first
/// non-blocking). The timeout, as Linux's, is looked at only after each message: the call
/// ends once it has passed, and what is left of it is written back.
pub(super) fn sys_recvmmsg(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let file = task.fds.get(fd(a[0]))?;
    let deadline = if a[4] == 0 {
        None
    } else {
        let t = super::time::read_timespec(task, a[4])?;
        Some(std::time::Instant::now().checked_add(t))
    };
    let one = |task: &Task, at: u64, flags: u32| {
        if let Some(s) = as_inet(&*file) {
            return socket_inet::recvmsg(task, s, at, flags);
        }
        if let Some(s) = as_netlink(&*file) {
            return socket_netlink::recvmsg(task, s, at, flags);
        }
        do_recvmsg(task, &*unix_of(&*file)?, at, flags)
    };
    let n = u32_(a[2]).min(UIO_MAXIOV as u32);
    let mut flags = u32_(a[3]);
    let mut done = 0u32;
    while done < n {
        let at = a[1].wrapping_add(64 * u64::from(done));
        match one(task, at, flags) {
            Ok(len) => {
                task.mm
                    .write(at.wrapping_add(56), &(len as u32).to_ne_bytes())?;
                done += 1;
                if flags & snare_abi::socket::MSG_WAITFORONE != 0 {
                    flags |= MSG_DONTWAIT;
                }
                // A deadline too far to represent never passes.
                if deadline.is_some_and(|d| d.is_some_and(|d| std::time::Instant::now() >= d)) {
                    break;
                }
            }
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    if let Some(Some(d)) = deadline {
        let left = d.saturating_duration_since(std::time::Instant::now());
        let t = super::time::timespec(left);
        task.mm.write(a[4], snare_abi::pod::as_bytes(&t))?;
    }
    Ok(u64::from(done))
}
