//! The line discipline of a pty (Linux's `n_tty`), as plain data: the slave's termios, the
//! input the slave reads (and the line being edited), and the output the master reads (what
//! the slave writes, and echoes). It knows nothing of waiting or signals: [`Ldisc::receive`]
//! says which signal a byte raised and the pty sends it.
//!
//! Implemented: `ICANON` line editing (`VERASE`, `VKILL`, `VWERASE`, `VEOF`, `VEOL`,
//! `VEOL2`, `VLNEXT`), `ISIG` (`VINTR`, `VQUIT`, `VSUSP`, flushing unless `NOFLSH`), `ECHO`
//! with `ECHOE`, `ECHOK`, `ECHOKE`, `ECHOCTL`, `ECHONL`; `ISTRIP`, `IGNCR`, `ICRNL`, `INLCR`,
//! `IXON` (`VSTART`/`VSTOP` stop the slave's output); `OPOST` with `ONLCR`, `OCRNL`,
//! `ONOCR`, `ONLRET`, `OLCUC` and `XTABS`. Deviations from Linux: a disabled control
//! character is 0 (`_POSIX_VDISABLE`), never matched; `VREPRINT` and `VDISCARD` are plain
//! characters; erasing a tab echoes one `"\b \b"`; `IUCLC`, `PARMRK`, `IMAXBEL` and `IUTF8`
//! (erasing a whole UTF-8 character) are not implemented; echoes that find the master's queue
//! full are dropped.

use std::collections::VecDeque;

use snare_abi::signal::{SIGINT, SIGQUIT, SIGTSTP};
use snare_abi::tty::{cc, cflag, iflag, lflag, oflag, Termios2, VDISABLE};

/// Bytes each way: the slave's input (with the line being edited), the master's.
pub const QUEUE: usize = 64 * 1024;
/// The longest line canonical mode edits (Linux's `N_TTY_BUF_SIZE` less one): characters past
/// it are dropped, the line's end still completes it.
pub const MAX_LINE: usize = 4095;

/// The termios of a new pty's slave (Linux's `tty_std_termios` with the pty slave's
/// `c_cflag`).
pub fn default_termios() -> Termios2 {
    let mut c_cc = [0u8; snare_abi::tty::NCCS];
    for (i, v) in [
        (cc::VINTR, 0o3),
        (cc::VQUIT, 0o34),
        (cc::VERASE, 0o177),
        (cc::VKILL, 0o25),
        (cc::VEOF, 0o4),
        (cc::VTIME, 0),
        (cc::VMIN, 1),
        (cc::VSTART, 0o21),
        (cc::VSTOP, 0o23),
        (cc::VSUSP, 0o32),
        (cc::VREPRINT, 0o22),
        (cc::VDISCARD, 0o17),
        (cc::VWERASE, 0o27),
        (cc::VLNEXT, 0o26),
    ] {
        c_cc[i] = v;
    }
    Termios2 {
        c_iflag: iflag::ICRNL | iflag::IXON,
        c_oflag: oflag::OPOST | oflag::ONLCR,
        c_cflag: cflag::B38400 | cflag::CS8 | cflag::CREAD,
        c_lflag: lflag::ISIG
            | lflag::ICANON
            | lflag::ECHO
            | lflag::ECHOE
            | lflag::ECHOK
            | lflag::ECHOCTL
            | lflag::ECHOKE
            | lflag::IEXTEN,
        c_line: 0,
        c_cc,
        c_ispeed: 38400,
        c_ospeed: 38400,
    }
}

/// What the line discipline keeps.
#[derive(Debug)]
pub struct Ldisc {
    pub termios: Termios2,
    /// Input the slave can read (in canonical mode, up to the last line's end).
    input: VecDeque<u8>,
    /// Canonical mode: the stream positions where completed lines end (an end-of-file
    /// character ends one without a byte of its own).
    ends: VecDeque<u64>,
    /// Bytes of input ever read (the stream position of `input[0]`).
    consumed: u64,
    /// The line being edited.
    line: Vec<u8>,
    /// The next byte is taken literally (`VLNEXT`).
    lnext: bool,
    /// What the master reads.
    pub output: VecDeque<u8>,
    /// The output column (for `ONOCR` and tabs).
    column: usize,
    /// Output stopped by `VSTOP` or `TCOOFF`.
    pub stopped: bool,
}

impl Default for Ldisc {
    fn default() -> Ldisc {
        Ldisc::new(default_termios())
    }
}

impl Ldisc {
    pub fn new(termios: Termios2) -> Ldisc {
        Ldisc {
            termios,
            input: VecDeque::new(),
            ends: VecDeque::new(),
            consumed: 0,
            line: Vec::new(),
            lnext: false,
            output: VecDeque::new(),
            column: 0,
            stopped: false,
        }
    }

    fn lflag(&self, f: u32) -> bool {
        self.termios.c_lflag & f != 0
    }

    /// `TOSTOP`: background writers get SIGTTOU.
    pub fn tostop(&self) -> bool {
        self.lflag(lflag::TOSTOP)
    }

    fn iflag(&self, f: u32) -> bool {
        self.termios.c_iflag & f != 0
    }

    fn oflag(&self, f: u32) -> bool {
        self.termios.c_oflag & f != 0
    }

    pub fn canonical(&self) -> bool {
        self.lflag(lflag::ICANON)
    }

    /// Whether `c` is control character `i` (and that one is enabled).
    fn is(&self, c: u8, i: usize) -> bool {
        c != VDISABLE && self.termios.c_cc[i] == c
    }

    /// `VMIN` and `VTIME` (tenths of a second).
    pub fn min_time(&self) -> (u8, u8) {
        (self.termios.c_cc[cc::VMIN], self.termios.c_cc[cc::VTIME])
    }

    /// Sets the termios; switching canonical mode off hands the line being edited to
    /// readers, switching it on makes what is queued one line.
    pub fn set_termios(&mut self, t: Termios2) {
        let was = self.canonical();
        self.termios = Termios2 {
            c_line: self.termios.c_line,
            ..t
        };
        match (was, self.canonical()) {
            (true, false) => {
                self.input.extend(self.line.drain(..));
                self.ends.clear();
            }
            (false, true) if !self.input.is_empty() => {
                self.ends.clear();
                self.ends.push_back(self.consumed + self.input.len() as u64);
            }
            _ => {}
        }
        if !self.iflag(iflag::IXON) {
            self.stopped = false;
        }
    }

    /// Whether the master can write a byte now.
    pub fn input_room(&self) -> bool {
        self.input.len() + self.line.len() < QUEUE
    }

    /// Whether the slave can write a byte now (its worst expansion: a tab).
    pub fn output_room(&self) -> bool {
        !self.stopped && self.output.len() + 8 <= QUEUE
    }

    /// Whether a read of the slave finds something (a line, in canonical mode).
    pub fn readable(&self) -> bool {
        if self.canonical() {
            !self.ends.is_empty()
        } else {
            !self.input.is_empty()
        }
    }

    /// `FIONREAD` of the slave: what a read could take (complete lines in canonical mode).
    pub fn readable_bytes(&self) -> usize {
        if self.canonical() {
            self.ends
                .back()
                .map_or(0, |e| e.saturating_sub(self.consumed) as usize)
        } else {
            self.input.len()
        }
    }

    /// Takes up to `buf.len()` bytes of input for the slave: of one line in canonical mode
    /// (`None` if no line is complete; `Some(0)` for an end-of-file on an empty line).
    pub fn read_input(&mut self, buf: &mut [u8]) -> Option<usize> {
        let n = if self.canonical() {
            let end = *self.ends.front()?;
            let left = end.saturating_sub(self.consumed) as usize;
            let n = buf.len().min(left);
            if n == left {
                self.ends.pop_front();
            }
            n
        } else {
            buf.len().min(self.input.len())
        };
        for (o, b) in buf.iter_mut().zip(self.input.drain(..n)) {
            *o = b;
        }
        self.consumed += n as u64;
        Some(n)
    }

    /// Drops the slave's unread input (and the line being edited).
    pub fn flush_input(&mut self) {
        self.consumed += self.input.len() as u64;
        self.input.clear();
        self.ends.clear();
        self.line.clear();
        self.lnext = false;
    }

    /// Takes one byte the master wrote. The result is the signal it raises, if any. The
    /// caller has checked [`Ldisc::input_room`].
    pub fn receive(&mut self, mut c: u8) -> Option<i32> {
        if self.iflag(iflag::ISTRIP) {
            c &= 0x7f;
        }
        let canon = self.canonical();
        if self.lnext {
            self.lnext = false;
            if self.lflag(lflag::ECHO) {
                // Over the "^\b" the VLNEXT echoed.
                self.echo_char(c);
            }
            self.queue(c);
            return None;
        }
        if self.iflag(iflag::IXON) {
            if self.is(c, cc::VSTART) {
                self.stopped = false;
                return None;
            }
            if self.is(c, cc::VSTOP) {
                self.stopped = true;
                return None;
            }
        }
        if self.lflag(lflag::ISIG) {
            let sig = [
                (cc::VINTR, SIGINT),
                (cc::VQUIT, SIGQUIT),
                (cc::VSUSP, SIGTSTP),
            ]
            .into_iter()
            .find(|&(i, _)| self.is(c, i))
            .map(|(_, s)| s);
            if let Some(sig) = sig {
                if !self.lflag(lflag::NOFLSH) {
                    self.flush_input();
                    self.output.clear();
                }
                if self.iflag(iflag::IXON) {
                    self.stopped = false;
                }
                if self.lflag(lflag::ECHO) {
                    self.echo_char(c);
                }
                return Some(sig);
            }
        }
        if self.stopped && self.iflag(iflag::IXON) && self.iflag(iflag::IXANY) {
            self.stopped = false;
        }
        let mut translated = false;
        if c == b'\r' {
            if self.iflag(iflag::IGNCR) {
                return None;
            }
            if self.iflag(iflag::ICRNL) {
                c = b'\n';
                translated = true;
            }
        } else if c == b'\n' && self.iflag(iflag::INLCR) {
            c = b'\r';
        }
        if canon {
            let iexten = self.lflag(lflag::IEXTEN);
            if self.is(c, cc::VERASE)
                || self.is(c, cc::VKILL)
                || (iexten && self.is(c, cc::VWERASE))
            {
                self.erase(c);
                return None;
            }
            if iexten && self.is(c, cc::VLNEXT) {
                self.lnext = true;
                if self.lflag(lflag::ECHO) && self.lflag(lflag::ECHOCTL) {
                    self.echo_raw(b'^');
                    self.echo_raw(b'\x08');
                }
                return None;
            }
            if c == b'\n' {
                if self.lflag(lflag::ECHO) || self.lflag(lflag::ECHONL) {
                    self.echo_raw(b'\n');
                }
                self.line.push(c);
                self.end_line();
                return None;
            }
            if self.is(c, cc::VEOF) {
                self.end_line();
                return None;
            }
            if self.is(c, cc::VEOL) || (iexten && self.is(c, cc::VEOL2)) {
                if self.lflag(lflag::ECHO) {
                    self.echo_char(c);
                }
                self.line.push(c);
                self.end_line();
                return None;
            }
        }
        if self.lflag(lflag::ECHO) {
            if c == b'\n' && (canon || translated) {
                self.echo_raw(b'\n');
            } else {
                self.echo_char(c);
            }
        }
        self.queue(c);
        None
    }

    /// A byte of input: onto the line being edited, or straight to readers.
    fn queue(&mut self, c: u8) {
        if !self.canonical() {
            self.input.push_back(c);
        } else if self.line.len() < MAX_LINE {
            self.line.push(c);
        }
    }

    /// The line being edited is complete: readers get it.
    fn end_line(&mut self) {
        self.input.extend(self.line.drain(..));
        self.ends.push_back(self.consumed + self.input.len() as u64);
    }

    /// `VERASE`, `VWERASE` or `VKILL` (`c`) on the line being edited.
    fn erase(&mut self, c: u8) {
        let echo = self.lflag(lflag::ECHO);
        let kill = self.is(c, cc::VKILL);
        if self.line.is_empty() {
            return;
        }
        if kill {
            if !echo {
                self.line.clear();
                return;
            }
            if !self.lflag(lflag::ECHOK) || !self.lflag(lflag::ECHOKE) || !self.lflag(lflag::ECHOE)
            {
                self.line.clear();
                self.echo_char(c);
                if self.lflag(lflag::ECHOK) {
                    self.echo_raw(b'\n');
                }
                return;
            }
        }
        let word = !kill && !self.is(c, cc::VERASE);
        let mut seen_alnum = false;
        while let Some(&last) = self.line.last() {
            if word {
                if last.is_ascii_alphanumeric() || last == b'_' {
                    seen_alnum = true;
                } else if seen_alnum {
                    break;
                }
            }
            self.line.pop();
            if echo {
                if self.lflag(lflag::ECHOE) || kill {
                    let ctl = self.lflag(lflag::ECHOCTL) && is_cntrl(last) && last != b'\t';
                    for _ in 0..if ctl { 2 } else { 1 } {
                        for b in *b"\x08 \x08" {
                            self.echo_raw(b);
                        }
                    }
                } else {
                    self.echo_char(c);
                }
            }
            if !kill && !word {
                break;
            }
        }
    }

    /// Echoes `c` as typed: a control character as `^X` with `ECHOCTL`.
    fn echo_char(&mut self, c: u8) {
        if self.lflag(lflag::ECHOCTL) && is_cntrl(c) && c != b'\t' {
            self.echo_raw(b'^');
            self.echo_raw(c ^ 0o100);
        } else {
            self.echo_raw(c);
        }
    }

    /// Echoes one byte through output processing, if the master's queue has room.
    fn echo_raw(&mut self, c: u8) {
        if self.output.len() + 8 <= QUEUE {
            self.output_char(c);
        }
    }

    /// Writes what the slave wrote, as far as the master's queue has room; how much of it
    /// was taken.
    pub fn write_output(&mut self, data: &[u8]) -> usize {
        let mut n = 0;
        for &c in data {
            if !self.output_room() {
                break;
            }
            self.output_char(c);
            n += 1;
        }
        n
    }

    /// One byte of output, through `OPOST` processing.
    fn output_char(&mut self, mut c: u8) {
        if !self.oflag(oflag::OPOST) {
            self.output.push_back(c);
            return;
        }
        match c {
            b'\n' => {
                if self.oflag(oflag::ONLRET) {
                    self.column = 0;
                }
                if self.oflag(oflag::ONLCR) {
                    self.column = 0;
                    self.output.extend(*b"\r\n");
                    return;
                }
            }
            b'\r' => {
                if self.oflag(oflag::ONOCR) && self.column == 0 {
                    return;
                }
                if self.oflag(oflag::OCRNL) {
                    c = b'\n';
                    if self.oflag(oflag::ONLRET) {
                        self.column = 0;
                    }
                } else {
                    self.column = 0;
                }
            }
            b'\t' => {
                let spaces = 8 - (self.column & 7);
                self.column += spaces;
                if self.termios.c_oflag & oflag::TABDLY == oflag::XTABS {
                    self.output.extend(std::iter::repeat_n(b' ', spaces));
                    return;
                }
            }
            b'\x08' => self.column = self.column.saturating_sub(1),
            _ if !is_cntrl(c) => {
                if self.oflag(oflag::OLCUC) {
                    c = c.to_ascii_uppercase();
                }
                // UTF-8 continuation bytes take no column.
                if c & 0xc0 != 0x80 {
                    self.column = self.column.saturating_add(1);
                }
            }
            _ => {}
        }
        self.output.push_back(c);
    }
}

/// C's `iscntrl` for the C locale.
fn is_cntrl(c: u8) -> bool {
    c < 0x20 || c == 0x7f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(l: &mut Ldisc, s: &[u8]) -> Vec<i32> {
        s.iter().filter_map(|&c| l.receive(c)).collect()
    }

    fn out(l: &mut Ldisc) -> Vec<u8> {
        l.output.drain(..).collect()
    }

    fn read(l: &mut Ldisc) -> Option<Vec<u8>> {
        let mut b = [0u8; 100];
        l.read_input(&mut b).map(|n| b[..n].to_vec())
    }

    #[test]
    fn canonical_line_and_echo() {
        let mut l = Ldisc::default();
        feed(&mut l, b"hel");
        assert!(!l.readable());
        assert_eq!(read(&mut l), None);
        feed(&mut l, b"lo\r");
        assert_eq!(out(&mut l), b"hello\r\n");
        assert_eq!(l.readable_bytes(), 6);
        assert_eq!(read(&mut l).as_deref(), Some(&b"hello\n"[..]));
        assert_eq!(read(&mut l), None);
    }

    #[test]
    fn editing() {
        let mut l = Ldisc::default();
        feed(&mut l, b"abx\x7fc\n");
        assert_eq!(read(&mut l).as_deref(), Some(&b"abc\n"[..]));
        assert_eq!(out(&mut l), b"abx\x08 \x08c\r\n");
        feed(&mut l, b"junk\x15ok\n");
        assert_eq!(read(&mut l).as_deref(), Some(&b"ok\n"[..]));
        feed(&mut l, b"one two\x17three\n");
        assert_eq!(read(&mut l).as_deref(), Some(&b"one three\n"[..]));
        // VEOF: the line without a terminator, then an empty read (end of file).
        feed(&mut l, b"x\x04\x04");
        assert_eq!(read(&mut l).as_deref(), Some(&b"x"[..]));
        assert_eq!(read(&mut l).as_deref(), Some(&b""[..]));
        assert_eq!(read(&mut l), None);
        // VLNEXT takes the next byte literally.
        feed(&mut l, b"\x16\x7f\n");
        assert_eq!(read(&mut l).as_deref(), Some(&b"\x7f\n"[..]));
    }

    #[test]
    fn signals_flush_and_echo() {
        let mut l = Ldisc::default();
        assert_eq!(feed(&mut l, b"abc\x03"), vec![SIGINT]);
        assert_eq!(out(&mut l), b"^C");
        feed(&mut l, b"\n");
        assert_eq!(read(&mut l).as_deref(), Some(&b"\n"[..]));
        assert_eq!(feed(&mut l, b"\x1c\x1a"), vec![SIGQUIT, SIGTSTP]);
    }

    #[test]
    fn raw_mode_and_output() {
        let mut l = Ldisc::default();
        let mut t = l.termios;
        // cfmakeraw.
        t.c_iflag = 0;
        t.c_oflag = 0;
        t.c_lflag = 0;
        l.set_termios(t);
        feed(&mut l, b"a\r\x03\n");
        assert_eq!(read(&mut l).as_deref(), Some(&b"a\r\x03\n"[..]));
        assert!(out(&mut l).is_empty());
        assert_eq!(l.write_output(b"x\n"), 2);
        assert_eq!(out(&mut l), b"x\n");
        l.set_termios(default_termios());
        assert_eq!(l.write_output(b"y\n"), 2);
        assert_eq!(out(&mut l), b"y\r\n");
    }

    #[test]
    fn bounded() {
        let mut l = Ldisc::default();
        for _ in 0..10_000 {
            l.receive(b'a');
        }
        assert_eq!(l.line.len(), MAX_LINE);
        l.receive(b'\n');
        assert_eq!(l.readable_bytes(), MAX_LINE + 1);
        let mut n = 0;
        while l.output_room() {
            n += l.write_output(b"z");
        }
        assert!(n <= QUEUE && l.output.len() <= QUEUE);
        assert_eq!(l.write_output(b"more"), 0);
    }

    #[test]
    fn stop_and_start() {
        let mut l = Ldisc::default();
        feed(&mut l, b"\x13");
        assert!(!l.output_room());
        feed(&mut l, b"\x11");
        assert!(l.output_room());
    }
}
