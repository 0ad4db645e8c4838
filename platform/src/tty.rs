//! Host terminal calls the Sentry needs for the guest's stdio that nix has no safe wrapper
//! for: the window size.

use std::os::fd::{AsRawFd, BorrowedFd};

/// `struct winsize`: rows, columns, x pixels, y pixels.
pub type Winsize = [u16; 4];

/// `ioctl(TIOCGWINSZ)` on a host terminal.
pub fn winsize(fd: BorrowedFd<'_>) -> std::io::Result<Winsize> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `struct winsize` through the pointer, which points at a
    // live local of that type; the fd is borrowed for the call.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok([ws.ws_row, ws.ws_col, ws.ws_xpixel, ws.ws_ypixel])
}

/// `ioctl(TIOCSWINSZ)` on a host terminal.
pub fn set_winsize(fd: BorrowedFd<'_>, ws: Winsize) -> std::io::Result<()> {
    let w = libc::winsize {
        ws_row: ws[0],
        ws_col: ws[1],
        ws_xpixel: ws[2],
        ws_ypixel: ws[3],
    };
    // SAFETY: TIOCSWINSZ reads one `struct winsize` through the pointer, which points at a
    // live local of that type; the fd is borrowed for the call.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &w) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Makes the host terminal `fd` the controlling terminal of a new session of the calling
/// process (`setsid`, then `ioctl(TIOCSCTTY)`): the host kernel then tells this process of
/// the terminal's resizes (SIGWINCH to its process group) and hang-up (SIGHUP). A process
/// that already leads a session (the unconfined Sentry is its container's init) keeps it.
pub fn take_controlling(fd: BorrowedFd<'_>) -> std::io::Result<()> {
    // SAFETY: setsid, getsid and getpid take integers only.
    unsafe {
        if libc::setsid() < 0 && libc::getsid(0) != libc::getpid() {
            return Err(std::io::Error::last_os_error());
        }
    }
    // SAFETY: TIOCSCTTY takes an integer argument (0: don't steal another session's
    // terminal); the fd is borrowed for the call.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY, 0) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Receives one message of at most 4096 bytes from the unix socket `sock` and the first
/// fd it carries (SCM_RIGHTS), as a console socket's reader (containerd's shim) does with
/// a runtime's pty master; any further fds are closed. `MSG_CMSG_CLOEXEC`.
pub fn recv_fd(sock: BorrowedFd<'_>) -> std::io::Result<(Vec<u8>, Option<std::os::fd::OwnedFd>)> {
    use std::os::fd::{FromRawFd, OwnedFd};
    const MAX_FDS: usize = 8;
    let mut data = vec![0u8; 4096];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // u64s: the control buffer must be aligned for `cmsghdr`.
    let mut control = [0u64; 16];
    // SAFETY: msghdr is plain data; zeroed is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    // SAFETY: recvmsg writes into the live iovec's buffer and the live control buffer,
    // within the lengths the header gives.
    let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    data.truncate(n as usize);
    let mut fds = Vec::new();
    // SAFETY: the CMSG_* macros walk the control buffer recvmsg filled, within
    // `msg_controllen`; each SCM_RIGHTS payload is an array of ints the kernel wrote.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let len = (*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                let p = libc::CMSG_DATA(c).cast::<libc::c_int>();
                for i in 0..(len / std::mem::size_of::<libc::c_int>()).min(MAX_FDS) {
                    fds.push(p.add(i).read_unaligned());
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    // SAFETY: each fd was just installed in this process by SCM_RIGHTS and is owned by
    // nothing else.
    let mut owned = fds
        .into_iter()
        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
    Ok((data, owned.next()))
}

/// Sends `data` and the fd `fd` (SCM_RIGHTS) as one message on the unix socket `sock`
/// (`MSG_NOSIGNAL`: a closed peer is `EPIPE`, not a signal), as runc sends a console
/// socket its pty master.
pub fn send_fd(sock: BorrowedFd<'_>, data: &[u8], fd: BorrowedFd<'_>) -> std::io::Result<()> {
    let mut iov = libc::iovec {
        iov_base: data.as_ptr().cast_mut().cast(),
        iov_len: data.len(),
    };
    // u64s: the control buffer must be aligned for `cmsghdr`.
    let mut control = [0u64; 4];
    // SAFETY: CMSG_SPACE computes a size from an integer.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<libc::c_int>() as u32) } as usize;
    // SAFETY: msghdr is plain data; zeroed is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space.min(std::mem::size_of_val(&control));
    // SAFETY: the header points at the live control buffer, large enough for one
    // SCM_RIGHTS message of one int (CMSG_SPACE); the CMSG_* macros stay inside it. sendmsg
    // only reads the iovec's bytes (the `*mut` is the C type's, nothing writes through it).
    let r = unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<libc::c_int>() as u32) as _;
        libc::CMSG_DATA(c)
            .cast::<libc::c_int>()
            .write_unaligned(fd.as_raw_fd());
        libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL)
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Waits for one of the (blocked) signals in `set`, as `sigwait`, and tells whether the
/// kernel sent it (`si_code` > 0: a terminal's SIGWINCH or SIGHUP) rather than a process
/// (`kill`, `sigqueue`, `tgkill`: `si_code` ≤ 0). EINTR is retried.
pub fn wait_signal(set: &libc::sigset_t) -> std::io::Result<(i32, bool)> {
    loop {
        // SAFETY: siginfo_t is plain data; zeroed is a valid value for it.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: sigwaitinfo reads the live set and writes the live siginfo.
        let sig = unsafe { libc::sigwaitinfo(set, &mut info) };
        if sig >= 0 {
            return Ok((sig, info.si_code > 0));
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}
