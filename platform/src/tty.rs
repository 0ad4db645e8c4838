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
