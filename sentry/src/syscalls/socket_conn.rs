//! Names and connections of AF_UNIX sockets: bind, listen, accept, accept4, connect, and
//! finding the socket an address names. A pathname is a socket node made in the VFS (as
//! mkfifo makes a FIFO node); the socket is found from the node's identity
//! (`net::unix::names`).

use std::sync::Arc;

use snare_abi::file::{S_IFMT, S_IFSOCK};
use snare_abi::socket::{AF_UNSPEC, SOCK_CLOEXEC, SOCK_NONBLOCK};
use snare_abi::Errno;
use snare_syscalls_table::nr;

use super::arg::{check_flags, fd, i32_, u32_};
use super::path::{absolute, adopt, change_abs, resolve, stat_resolved, Node};
use super::socket::{read_addr, unix_of, write_addr};
use super::socket_inet;
use super::{inotify, Handler};
use crate::kernel::Task;
use crate::net::inet::as_inet;
use crate::net::netlink::as_netlink;
use crate::net::unix::addr::{unnamed_sockaddr, UnixAddr, PATH_OFFSET};
use crate::net::unix::{names, SockType, UnixSocket};
use crate::vfs::filesystem::Caller;
use crate::vfs::perm::{Perm, MAY_EXEC, MAY_WRITE};

pub(super) const HANDLERS: &[(u32, Handler)] = &[
    (nr::BIND, sys_bind),
    (nr::LISTEN, sys_listen),
    (nr::CONNECT, sys_connect),
    (nr::ACCEPT, sys_accept),
    (nr::ACCEPT4, sys_accept4),
];

/// The socket `addr` names, which must be of type `ty`. A pathname: the walk's errors
/// (ENOENT, ...), EACCES without write permission on the node, ECONNREFUSED if it is no
/// socket node or nothing is bound there, EPROTOTYPE for a socket of another type. An
/// abstract name: ECONNREFUSED if unbound or of another type.
pub(super) fn find(task: &Task, addr: &UnixAddr, ty: SockType) -> Result<Arc<UnixSocket>, Errno> {
    match addr {
        UnixAddr::Abstract(n) => names::lookup_abstract(n)
            .filter(|s| s.sock_type() == ty)
            .ok_or(Errno::ECONNREFUSED),
        UnixAddr::Path(p) => {
            let abs = absolute(task, snare_abi::file::AT_FDCWD, p)?;
            let walked = match resolve(task, &abs, true)? {
                Node::Path(w) => w,
                Node::Fd(_) => return Err(Errno::ECONNREFUSED),
            };
            let st = stat_resolved(task, &walked, true)?;
            task.cred().may(&Perm::of(&st), MAY_WRITE)?;
            if st.st_mode & S_IFMT != S_IFSOCK {
                return Err(Errno::ECONNREFUSED);
            }
            let s = names::lookup_path((st.st_dev, st.st_ino)).ok_or(Errno::ECONNREFUSED)?;
            if s.sock_type() != ty {
                return Err(Errno::EPROTOTYPE);
            }
            Ok(s)
        }
    }
}

/// Makes the socket node of a pathname bind: EADDRINUSE if anything is there.
fn bind_path(task: &Task, s: &Arc<UnixSocket>, path: &[u8]) -> Result<(), Errno> {
    let abs = absolute(task, snare_abi::file::AT_FDCWD, path)?;
    let (m, walked) = change_abs(task, &abs)?;
    if stat_resolved(task, &walked, false).is_ok() {
        return Err(Errno::EADDRINUSE);
    }
    if s.is_bound() {
        return Err(Errno::EINVAL);
    }
    if let Some(e) = m.refusal() {
        return Err(e);
    }
    let cred = task.cred();
    if !cred.overrides_dac() {
        cred.may(
            &super::path::parent_perm(task, &walked)?,
            MAY_WRITE | MAY_EXEC,
        )?;
    }
    m.fs.mksock(task, &m.inner(&walked), 0o777).map_err(|e| {
        if e == Errno::EEXIST {
            Errno::EADDRINUSE
        } else {
            e
        }
    })?;
    adopt(task, &cred, &m, &walked);
    inotify::created(task, &walked);
    let st = stat_resolved(task, &walked, false)?;
    let node = (st.st_dev, st.st_ino);
    names::bind_path(node, s);
    s.set_name(UnixAddr::Path(path.to_vec()), Some(node));
    Ok(())
}

/// Implements `bind(2)`: a pathname (a socket node; EADDRINUSE if the path exists), an
/// abstract name (EADDRINUSE if taken), or with only the family, an autobind name. EINVAL if
/// the socket has a name already.
fn sys_bind(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let file = task.fds.get(fd(a[0]))?;
    if let Some(s) = as_inet(&*file) {
        return socket_inet::bind(task, s, a);
    }
    if let Some(s) = as_netlink(&*file) {
        return super::socket_netlink::bind(task, s, a);
    }
    let s = unix_of(&*file)?;
    let raw = read_addr(task, a[1], i32_(a[2]))?;
    let autobind = raw.len() == PATH_OFFSET
        && u16::from_ne_bytes([raw[0], raw[1]]) == snare_abi::socket::AF_UNIX as u16;
    let addr = if autobind {
        None
    } else {
        Some(UnixAddr::parse(&raw)?)
    };
    // Linux makes a pathname's node before it looks at the socket (EADDRINUSE first), and
    // looks at the socket before an abstract name (EINVAL first).
    if s.is_bound() && !matches!(addr, Some(UnixAddr::Path(_))) {
        return Err(Errno::EINVAL);
    }
    match addr {
        None => {
            let name = names::autobind(&s)?;
            s.set_name(UnixAddr::Abstract(name), None);
        }
        Some(UnixAddr::Abstract(n)) => {
            names::bind_abstract(&n, &s)?;
            s.set_name(UnixAddr::Abstract(n), None);
        }
        Some(UnixAddr::Path(p)) => bind_path(task, &s, &p)?,
    }
    Ok(0)
}

/// Implements `listen(2)`: the backlog is clamped to `somaxconn` (4096), as Linux.
fn sys_listen(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let file = task.fds.get(fd(a[0]))?;
    if let Some(s) = as_inet(&*file) {
        return socket_inet::listen(s, a);
    }
    if as_netlink(&*file).is_some() {
        return Err(Errno::EOPNOTSUPP);
    }
    let s = unix_of(&*file)?;
    s.listen(i32_(a[1]), super::socket::peercred_of(task))
        .map(|()| 0)
}

/// Implements `connect(2)`. Stream and seqpacket sockets join the listener's backlog and are
/// connected at once (a full backlog waits, or is EAGAIN when non-blocking, as Linux's
/// AF_UNIX does); a datagram socket gets a default peer (AF_UNSPEC takes it away).
fn sys_connect(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    let file = task.fds.get(fd(a[0]))?;
    if let Some(s) = as_inet(&*file) {
        return socket_inet::connect(task, s, a);
    }
    if let Some(s) = as_netlink(&*file) {
        return super::socket_netlink::connect(task, s, a);
    }
    let s = unix_of(&*file)?;
    let raw = read_addr(task, a[1], i32_(a[2]))?;
    if s.sock_type() == SockType::Dgram
        && raw.len() >= 2
        && u32::from(u16::from_ne_bytes([raw[0], raw[1]])) == AF_UNSPEC
    {
        return s.connect_dgram(None).map(|()| 0);
    }
    let addr = UnixAddr::parse(&raw)?;
    let target = find(task, &addr, s.sock_type())?;
    if s.sock_type() == SockType::Dgram {
        return s.connect_dgram(Some(&target)).map(|()| 0);
    }
    s.connect(&target, super::socket::peercred_of(task), s.nonblocking())
        .map(|()| 0)
}

fn do_accept(task: &Task, a: [u64; 6], flags: u32) -> Result<u64, Errno> {
    let file = task.fds.get(fd(a[0]))?;
    if let Some(s) = as_inet(&*file) {
        return socket_inet::accept(task, s, a, flags);
    }
    if as_netlink(&*file).is_some() {
        return Err(Errno::EOPNOTSUPP);
    }
    let flags = check_flags(flags, SOCK_NONBLOCK | SOCK_CLOEXEC)?;
    let s = unix_of(&*file)?;
    task.fds.check_room(task.nofile())?;
    let new = s.accept(s.nonblocking())?;
    if flags & SOCK_NONBLOCK != 0 {
        use crate::vfs::FileDescription;
        new.set_status_flags(snare_abi::file::o::NONBLOCK);
    }
    let peer = new.peer_name().ok().flatten();
    let n = task
        .fds
        .install(new, flags & SOCK_CLOEXEC != 0, 0, task.nofile())?;
    if a[1] != 0 {
        let sa = peer.map_or_else(unnamed_sockaddr, |p| p.to_sockaddr());
        if let Err(e) = write_addr(task, a[1], a[2], &sa) {
            let _ = task.fds.close(n);
            return Err(e);
        }
    }
    Ok(n as u64)
}

/// Implements `accept(2)`.
fn sys_accept(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_accept(task, a, 0)
}

/// Implements `accept4(2)`: `SOCK_NONBLOCK`, `SOCK_CLOEXEC` (others: EINVAL). The new
/// socket is non-blocking only if asked, whatever the listener is.
fn sys_accept4(task: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
    do_accept(task, a, u32_(a[3]))
}
