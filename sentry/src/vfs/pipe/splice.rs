//! The pipe side of splice, tee and vmsplice (`syscalls/splice.rs`): waiting for data or
//! room, taking and appending without waiting, and moving between two pipes. Data moves as a
//! byte stream, whatever the packet mode; the waits are those of Linux's `fs/splice.c` (only
//! the pipe side blocks, and only until the first byte moves).

use std::sync::Arc;

use snare_abi::Errno;

use super::{wait_ready, FifoRdwr, Pipe, PipeEnd, State};
use crate::kernel::wait::block;
use crate::vfs::FileDescription;

impl State {
    /// Takes up to `n` bytes as a plain byte stream (splice): a packet it cuts into keeps its
    /// rest as a shorter packet.
    fn take_raw(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.buf.len());
        let out: Vec<u8> = self.buf.drain(..n).collect();
        self.consumed += n as u64;
        while let Some(p) = self.packets.front_mut() {
            if p.1 <= self.consumed {
                self.packets.pop_front();
            } else {
                p.0 = p.0.max(self.consumed);
                break;
            }
        }
        out
    }

    /// Puts back bytes [`State::take_raw`] took (a destination refused them): they go in
    /// front, as plain bytes.
    fn unread(&mut self, data: &[u8]) {
        for &b in data.iter().rev() {
            self.buf.push_front(b);
        }
        self.consumed -= data.len() as u64;
    }
}

impl Pipe {
    /// Waits until the pipe has room: the free bytes then. EPIPE once no reader is left
    /// (checked first), EAGAIN when full and `nonblock`.
    pub fn wait_room(&self, nonblock: bool) -> Result<usize, Errno> {
        wait_ready(nonblock, &self.writable, || {
            let st = self.lock();
            if st.readers == 0 {
                Some(Err(Errno::EPIPE))
            } else {
                (st.free() > 0).then(|| Ok(st.free()))
            }
        })
    }

    /// Appends what fits of `data`, without waiting: the bytes appended. EPIPE without
    /// readers.
    pub fn push_some(&self, data: &[u8]) -> Result<usize, Errno> {
        let n = {
            let mut st = self.lock();
            if st.readers == 0 {
                return Err(Errno::EPIPE);
            }
            let n = data.len().min(st.free());
            st.push(&data[..n], false);
            n
        };
        if n > 0 {
            self.readable.notify();
        }
        Ok(n)
    }

    /// Waits until the pipe holds data (true) or is at its end: empty with no writer left
    /// (false). EAGAIN when empty and `nonblock`.
    pub fn wait_data(&self, nonblock: bool) -> Result<bool, Errno> {
        wait_ready(nonblock, &self.readable, || {
            let st = self.lock();
            if !st.buf.is_empty() {
                Some(Ok(true))
            } else {
                (st.writers == 0).then_some(Ok(false))
            }
        })
    }

    /// Takes up to `max` bytes without waiting (none if empty).
    pub fn take_some(&self, max: usize) -> Vec<u8> {
        let out = self.lock().take_raw(max);
        if !out.is_empty() {
            self.writable.notify();
        }
        out
    }

    /// Puts bytes [`Pipe::take_some`] took back in front.
    pub fn unread(&self, data: &[u8]) {
        if !data.is_empty() {
            self.lock().unread(data);
            self.readable.notify();
        }
    }
}

/// The pipe behind `f` if it is a pipe end or a FIFO, for splice, tee and vmsplice.
pub fn pipe_of(f: &dyn FileDescription) -> Option<&Arc<Pipe>> {
    let any = f.as_any();
    if let Some(end) = any.downcast_ref::<PipeEnd>() {
        return Some(&end.pipe);
    }
    any.downcast_ref::<FifoRdwr>().map(|f| &f.r.pipe)
}

/// Moves up to `len` bytes from `src` to `dst` (`splice` between pipes), or with `keep`
/// copies them and leaves `src` as it was (`tee`). Waits until `src` has data and `dst` has
/// room, then moves what there is without waiting again; 0 at `src`'s end. EPIPE when `dst`
/// has no reader (once `src` has data or is at its end), EAGAIN instead of waiting when
/// `nonblock`. The pipes must differ.
pub fn splice_pipes(
    src: &Pipe,
    dst: &Pipe,
    len: usize,
    nonblock: bool,
    keep: bool,
) -> Result<usize, Errno> {
    let ready = || {
        // Two locks, always taken in address order (a tee from A to B and one from B to A
        // could deadlock otherwise).
        let (mut i, mut o) = if std::ptr::from_ref(src) < std::ptr::from_ref(dst) {
            let i = src.lock();
            (i, dst.lock())
        } else {
            let o = dst.lock();
            (src.lock(), o)
        };
        let wait = || {
            if nonblock {
                Some(Err(Errno::EAGAIN))
            } else {
                None
            }
        };
        if i.buf.is_empty() && i.writers > 0 {
            return wait();
        }
        if o.readers == 0 {
            return Some(Err(Errno::EPIPE));
        }
        if i.buf.is_empty() {
            return Some(Ok(0));
        }
        if o.free() == 0 {
            return wait();
        }
        let n = len.min(i.buf.len()).min(o.free());
        let data = if keep {
            i.buf.iter().take(n).copied().collect()
        } else {
            i.take_raw(n)
        };
        o.push(&data, false);
        Some(Ok(n))
    };
    let n = match ready() {
        Some(r) => r,
        None => block(&[&src.readable, &dst.writable], None, ready),
    }?;
    if n > 0 {
        dst.readable.notify();
        if !keep {
            src.writable.notify();
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::super::DEFAULT_SIZE;
    use super::*;
    use snare_abi::file::o;
    use std::time::Duration;

    #[test]
    fn splice_between_pipes_and_tee() {
        let (ar, aw) = Pipe::new_pair(0, 0, 0);
        let (br, bw) = Pipe::new_pair(0, 0, 0);
        let (a, b) = (&ar.pipe.clone(), &br.pipe.clone());
        aw.write(b"0123456789").expect("write");
        assert_eq!(splice_pipes(a, b, 4, true, true), Ok(4), "tee");
        assert_eq!(splice_pipes(a, b, 100, true, false), Ok(10), "splice");
        let mut buf = [0u8; 32];
        assert_eq!(br.read(&mut buf).expect("read"), 14);
        assert_eq!(&buf[..14], b"01230123456789");
        assert_eq!(splice_pipes(a, b, 1, true, false), Err(Errno::EAGAIN));
        // A full output: EAGAIN, or a wait that room ends.
        bw.set_pipe_size(4096).expect("size");
        bw.write(&[0u8; 4096]).expect("fill");
        aw.write(b"x").expect("write");
        assert_eq!(splice_pipes(a, b, 1, true, false), Err(Errno::EAGAIN));
        let drain = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            let mut big = [0u8; 4096];
            (br.read(&mut big).expect("drain"), br)
        });
        assert_eq!(splice_pipes(a, b, 1, false, false), Ok(1));
        let (n, br) = drain.join().expect("join");
        assert_eq!(n, 4096);
        // Back the other way; then no reader is left on the output: EPIPE, also at the
        // input's end.
        assert_eq!(splice_pipes(b, a, 1, true, false), Ok(1));
        drop(br);
        assert_eq!(splice_pipes(a, b, 1, false, false), Err(Errno::EPIPE));
        drop(aw);
        ar.read(&mut buf).expect("read");
        assert_eq!(splice_pipes(a, b, 1, false, false), Err(Errno::EPIPE));
    }

    #[test]
    fn taken_bytes_go_back_and_packets_are_cut() {
        let (r, w) = Pipe::new_pair(o::DIRECT, 0, 0);
        w.write(b"abcdef").expect("write");
        let p = &r.pipe;
        assert_eq!(p.take_some(2), b"ab");
        p.unread(b"b");
        assert_eq!(p.take_some(10), b"bcdef");
        w.write(b"ghi").expect("write");
        w.write(b"jk").expect("write");
        assert_eq!(p.take_some(1), b"g");
        // The rest of the cut packet is a packet of its own.
        let mut buf = [0u8; 8];
        assert_eq!(r.read(&mut buf).expect("read"), 2);
        assert_eq!(&buf[..2], b"hi");
        assert_eq!(p.wait_data(true), Ok(true));
        assert_eq!(p.take_some(10), b"jk");
        assert_eq!(p.wait_data(true), Err(Errno::EAGAIN));
        assert_eq!(p.wait_room(true), Ok(DEFAULT_SIZE));
        assert_eq!(p.push_some(&[1u8; 70_000]), Ok(DEFAULT_SIZE));
        assert_eq!(p.wait_room(true), Err(Errno::EAGAIN));
        drop(w);
        p.take_some(DEFAULT_SIZE);
        assert_eq!(p.wait_data(false), Ok(false), "the end");
        drop(r);
    }
}
