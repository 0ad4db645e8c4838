//! inotify's ABI: event bits, watch flags and the event record (`<linux/inotify.h>`).

use static_assertions::{assert_eq_size, const_assert_eq};

/// Events (`IN_*`), as reported in [`InotifyEvent::mask`] and asked for in a watch's mask.
pub const IN_ACCESS: u32 = 0x0000_0001;
pub const IN_MODIFY: u32 = 0x0000_0002;
pub const IN_ATTRIB: u32 = 0x0000_0004;
pub const IN_CLOSE_WRITE: u32 = 0x0000_0008;
pub const IN_CLOSE_NOWRITE: u32 = 0x0000_0010;
pub const IN_OPEN: u32 = 0x0000_0020;
pub const IN_MOVED_FROM: u32 = 0x0000_0040;
pub const IN_MOVED_TO: u32 = 0x0000_0080;
pub const IN_CREATE: u32 = 0x0000_0100;
pub const IN_DELETE: u32 = 0x0000_0200;
pub const IN_DELETE_SELF: u32 = 0x0000_0400;
pub const IN_MOVE_SELF: u32 = 0x0000_0800;
/// Every event a watch can ask for.
pub const IN_ALL_EVENTS: u32 = 0x0000_0fff;

/// Sent whatever the mask: the file's filesystem went away, the queue overflowed, the watch
/// was removed.
pub const IN_UNMOUNT: u32 = 0x0000_2000;
pub const IN_Q_OVERFLOW: u32 = 0x0000_4000;
pub const IN_IGNORED: u32 = 0x0000_8000;

/// `inotify_add_watch` flags.
pub const IN_ONLYDIR: u32 = 0x0100_0000;
pub const IN_DONT_FOLLOW: u32 = 0x0200_0000;
pub const IN_EXCL_UNLINK: u32 = 0x0400_0000;
pub const IN_MASK_CREATE: u32 = 0x1000_0000;
pub const IN_MASK_ADD: u32 = 0x2000_0000;
/// In an event: its subject is a directory.
pub const IN_ISDIR: u32 = 0x4000_0000;
pub const IN_ONESHOT: u32 = 0x8000_0000;

/// Every bit `inotify_add_watch` accepts (`ALL_INOTIFY_BITS` of `<linux/inotify.h>`).
pub const ALL_INOTIFY_BITS: u32 = IN_ALL_EVENTS
    | IN_UNMOUNT
    | IN_Q_OVERFLOW
    | IN_IGNORED
    | IN_ONLYDIR
    | IN_DONT_FOLLOW
    | IN_EXCL_UNLINK
    | IN_MASK_ADD
    | IN_MASK_CREATE
    | IN_ISDIR
    | IN_ONESHOT;
const_assert_eq!(ALL_INOTIFY_BITS.count_ones(), 22);

/// `inotify_init1` flags (the `O_*` bits of the same names).
pub const IN_CLOEXEC: u32 = crate::file::o::CLOEXEC;
pub const IN_NONBLOCK: u32 = crate::file::o::NONBLOCK;

/// `struct inotify_event` without its name: `len` NUL-padded name bytes follow it, `len` a
/// multiple of the struct's size so the next record stays aligned. Mirrors
/// `<linux/inotify.h>`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InotifyEvent {
    pub wd: i32,
    pub mask: u32,
    pub cookie: u32,
    pub len: u32,
}
assert_eq_size!(InotifyEvent, [u8; 16]);
const_assert_eq!(core::mem::offset_of!(InotifyEvent, len), 12);

crate::impl_pod!(InotifyEvent);

/// dnotify (`fcntl(fd, F_NOTIFY, DN_*)`, `<linux/fcntl.h>`): the events a directory fd
/// asks to be signalled about.
pub mod dn {
    /// `F_NOTIFY`: registers a directory fd for dnotify signals.
    pub const F_NOTIFY: i32 = 1026;
    /// `F_SETSIG`: the signal an fd's owner gets (0: `SIGIO` without details).
    pub const F_SETSIG: i32 = 10;
    /// `F_GETSIG`.
    pub const F_GETSIG: i32 = 11;
    pub const DN_ACCESS: u32 = 0x0000_0001;
    pub const DN_MODIFY: u32 = 0x0000_0002;
    pub const DN_CREATE: u32 = 0x0000_0004;
    pub const DN_DELETE: u32 = 0x0000_0008;
    pub const DN_RENAME: u32 = 0x0000_0010;
    pub const DN_ATTRIB: u32 = 0x0000_0020;
    /// Keeps the registration after its first signal.
    pub const DN_MULTISHOT: u32 = 0x8000_0000;
    /// `si_code` of a dnotify signal sent with `F_SETSIG`'s number.
    pub const POLL_MSG: i32 = 3;
    /// Its `si_band`: `POLLIN | POLLRDNORM | POLLMSG`.
    pub const POLL_MSG_BAND: i64 = 0x441;
}
