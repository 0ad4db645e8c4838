//! Host fds over a unix socket (`SCM_RIGHTS`): the OCI runtime's control socket, on which
//! `snare exec` hands the Sentry the stdio of a new guest process. Blocking calls (the
//! socket's own mode decides), `MSG_NOSIGNAL` on sends, `MSG_CMSG_CLOEXEC` on receives.
//! Nothing here panics.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use snare_abi::Errno;

use crate::sys::errno;

/// Most fds one message carries (stdio, or a terminal's slave, and room to spare).
pub const MAX_FDS: usize = 4;

/// Room for one `SCM_RIGHTS` header and [`MAX_FDS`] fds, 8-byte aligned as `cmsghdr` is.
const CONTROL_WORDS: usize = 8;

/// `CMSG_SPACE` of `n` fds.
fn space(n: usize) -> usize {
    let data = (n * std::mem::size_of::<libc::c_int>()) as libc::c_uint;
    // SAFETY: CMSG_SPACE is arithmetic on its argument.
    unsafe { libc::CMSG_SPACE(data) as usize }
}

/// Sends `data` with `fds` attached (none: a plain send). Returns the bytes sent.
pub fn send_with_fds(
    fd: BorrowedFd<'_>,
    data: &[u8],
    fds: &[BorrowedFd<'_>],
) -> Result<usize, Errno> {
    if fds.len() > MAX_FDS {
        return Err(Errno::EINVAL);
    }
    let mut control = [0u64; CONTROL_WORDS];
    let mut iov = [libc::iovec {
        iov_base: data.as_ptr().cast_mut().cast(),
        iov_len: data.len(),
    }];
    // SAFETY: an all-zero msghdr is valid (no name, no control).
    let mut m: libc::msghdr = unsafe { std::mem::zeroed() };
    m.msg_iov = iov.as_mut_ptr();
    m.msg_iovlen = 1;
    if !fds.is_empty() {
        let len = space(fds.len());
        m.msg_control = control.as_mut_ptr().cast();
        m.msg_controllen = len;
        // SAFETY: the control buffer is 64 aligned bytes, more than CMSG_SPACE(4 fds) = 32;
        // CMSG_FIRSTHDR points at its start (controllen is set), and the header and the fds
        // are written inside it.
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&m);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len =
                libc::CMSG_LEN((fds.len() * std::mem::size_of::<libc::c_int>()) as u32) as _;
            let p = libc::CMSG_DATA(c).cast::<libc::c_int>();
            for (i, f) in fds.iter().enumerate() {
                p.add(i).write_unaligned(f.as_raw_fd());
            }
        }
    }
    // SAFETY: the iovec points at `data` (only read), the control at `control`; both and the
    // msghdr are live for the call.
    let n = unsafe { libc::sendmsg(fd.as_raw_fd(), &m, libc::MSG_NOSIGNAL) };
    usize::try_from(n).map_err(|_| errno())
}

/// Receives into `buf`: the bytes read (0 at end of stream) and the fds that came with
/// them. More fds than [`MAX_FDS`], or a truncated control message, is `EMSGSIZE` (the
/// fds that did arrive are closed).
pub fn recv_with_fds(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<(usize, Vec<OwnedFd>), Errno> {
    let mut control = [0u64; CONTROL_WORDS];
    let mut iov = [libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    }];
    // SAFETY: an all-zero msghdr is valid.
    let mut m: libc::msghdr = unsafe { std::mem::zeroed() };
    m.msg_iov = iov.as_mut_ptr();
    m.msg_iovlen = 1;
    m.msg_control = control.as_mut_ptr().cast();
    m.msg_controllen = space(MAX_FDS);
    // SAFETY: the iovec points at `buf`, writable for its length; the control at `control`
    // (64 bytes, more than the length given); all live for the call.
    let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut m, libc::MSG_CMSG_CLOEXEC) };
    let n = usize::try_from(n).map_err(|_| errno())?;
    let mut fds = Vec::new();
    // SAFETY: the kernel filled `m.msg_control` up to `msg_controllen`; CMSG_FIRSTHDR and
    // CMSG_NXTHDR stay inside it, and each SCM_RIGHTS payload holds `cmsg_len - CMSG_LEN(0)`
    // bytes of new fds, which nothing else owns.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&m);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let bytes = ((*c).cmsg_len as usize).saturating_sub(libc::CMSG_LEN(0) as usize);
                let p = libc::CMSG_DATA(c).cast::<libc::c_int>();
                for i in 0..bytes / std::mem::size_of::<libc::c_int>() {
                    fds.push(OwnedFd::from_raw_fd(p.add(i).read_unaligned()));
                }
            }
            c = libc::CMSG_NXTHDR(&m, c);
        }
    }
    if m.msg_flags & libc::MSG_CTRUNC != 0 || fds.len() > MAX_FDS {
        return Err(Errno::EMSGSIZE);
    }
    Ok((n, fds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn fds_travel_with_their_bytes() {
        let (a, b) = std::os::unix::net::UnixStream::pair().expect("pair");
        let (r, w) = std::io::pipe().expect("pipe");
        assert_eq!(
            send_with_fds(a.as_fd(), b"hi", &[r.as_fd(), w.as_fd()]),
            Ok(2)
        );
        let mut buf = [0u8; 8];
        let (n, fds) = recv_with_fds(b.as_fd(), &mut buf).expect("recv");
        assert_eq!((&buf[..n], fds.len()), (&b"hi"[..], 2));
        assert_eq!(send_with_fds(a.as_fd(), b"x", &[]), Ok(1));
        let (n, fds) = recv_with_fds(b.as_fd(), &mut buf).expect("recv");
        assert_eq!((n, fds.len()), (1, 0));
        let five = [r.as_fd(), r.as_fd(), r.as_fd(), r.as_fd(), r.as_fd()];
        assert_eq!(send_with_fds(a.as_fd(), b"x", &five), Err(Errno::EINVAL));
        drop(a);
        assert_eq!(recv_with_fds(b.as_fd(), &mut buf).map(|r| r.0), Ok(0));
    }
}
