//! `#!` scripts: [`parse_shebang`] reads the interpreter line the way Linux's `load_script`
//! (`fs/binfmt_script.c`) does; the exec code (`kernel/exec.rs`) then runs the interpreter with
//! argv `[interpreter, optional argument, script path, original argv[1..]]`.
//!
//! Linux looks only at the first `BINPRM_BUF_SIZE` (256) bytes, zero-padded when the file is
//! shorter, and treats NUL like the end of a C string:
//! - the line ends at the first `\n` before any NUL; without one, the interpreter name must end
//!   (at a space, tab or NUL) inside the buffer, else it could be truncated: `ENOEXEC`;
//! - spaces and tabs around the interpreter name are skipped; the name ends at a space, tab or
//!   NUL; a line with no name is `ENOEXEC`, but a short file of only `#!` and blanks, with no
//!   newline, yields the empty name (the zero padding), which the caller's open then fails on
//!   as Linux's `open_exec("")` does;
//! - the rest of the line, trailing spaces and tabs trimmed, is one argument (internal spaces
//!   included), cut at its first NUL; without a `\n`, the buffer's last byte is cut off too.

use snare_abi::Errno;

/// A parsed `#!` line: the interpreter path and its optional argument.
pub type Shebang = (Vec<u8>, Option<Vec<u8>>);

/// Bytes of the file Linux examines (`BINPRM_BUF_SIZE`).
pub const BINPRM_BUF_SIZE: usize = 256;

fn spacetab(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// First index in `first..=last` whose byte satisfies `pred`.
fn find(buf: &[u8], first: usize, last: usize, pred: impl Fn(u8) -> bool) -> Option<usize> {
    (first..=last).find(|&i| buf.get(i).is_some_and(|&c| pred(c)))
}

/// The C string at `at` (up to its NUL or `end`).
fn c_string(buf: &[u8], at: usize, end: usize) -> Vec<u8> {
    let s = buf.get(at..end).unwrap_or(&[]);
    let len = s.iter().position(|&c| c == 0).unwrap_or(s.len());
    s.get(..len).unwrap_or(&[]).to_vec()
}

/// Parses the `#!` line at the start of a file (`first_bytes`: its first bytes, at least
/// [`BINPRM_BUF_SIZE`] of them unless the file is shorter; more are ignored).
///
/// `None` when the file does not start with `#!`; otherwise the interpreter path and the
/// optional argument (possibly empty, as Linux passes it), or `ENOEXEC`.
pub fn parse_shebang(first_bytes: &[u8]) -> Option<Result<Shebang, Errno>> {
    let mut buf = [0u8; BINPRM_BUF_SIZE];
    for (d, s) in buf.iter_mut().zip(first_bytes) {
        *d = *s;
    }
    if !buf.starts_with(b"#!") {
        return None;
    }
    Some(parse_line(&buf))
}

fn parse_line(buf: &[u8; BINPRM_BUF_SIZE]) -> Result<Shebang, Errno> {
    let last = BINPRM_BUF_SIZE - 1;
    // strnchr: the newline, if any, before the first NUL.
    let newline = buf
        .iter()
        .take_while(|&&c| c != 0)
        .position(|&c| c == b'\n');
    let mut end = match newline {
        Some(nl) => nl,
        None => {
            let name = find(buf, 2, last, |c| !spacetab(c)).ok_or(Errno::ENOEXEC)?;
            // No terminator after the name: it may be truncated.
            find(buf, name, last, |c| spacetab(c) || c == 0).ok_or(Errno::ENOEXEC)?;
            last
        }
    };
    // Trim trailing spaces and tabs (buf[1] is '!', so this stops at 2).
    while end > 2 && buf.get(end - 1).copied().is_some_and(spacetab) {
        end -= 1;
    }
    let name = find(buf, 2, end, |c| !spacetab(c))
        .filter(|&n| n != end)
        .ok_or(Errno::ENOEXEC)?;
    let sep = find(buf, name, end, |c| spacetab(c) || c == 0);
    let arg = match sep {
        Some(sep) if buf.get(sep) != Some(&0) => {
            find(buf, sep, end, |c| !spacetab(c)).map(|a| (sep, a))
        }
        _ => None,
    };
    // Linux writes NUL at `end` and, with an argument, at `sep`.
    let name_end = arg.map_or(end, |(sep, _)| sep);
    let interp = c_string(buf, name, name_end);
    let arg = arg.map(|(_, a)| c_string(buf, a, end));
    Ok((interp, arg))
}

#[cfg(test)]
mod tests {
    use super::*;

    type Parsed = Option<Result<Shebang, Errno>>;

    fn ok(interp: &str, arg: Option<&str>) -> Parsed {
        Some(Ok((
            interp.as_bytes().to_vec(),
            arg.map(|a| a.as_bytes().to_vec()),
        )))
    }

    #[test]
    fn not_a_script() {
        assert_eq!(parse_shebang(b""), None);
        assert_eq!(parse_shebang(b"#"), None);
        assert_eq!(parse_shebang(b"\x7fELF\x02\x01"), None);
        assert_eq!(parse_shebang(b" #!/bin/sh\n"), None);
        assert_eq!(parse_shebang(b"!#/bin/sh\n"), None);
    }

    #[test]
    fn interpreter_and_argument() {
        assert_eq!(parse_shebang(b"#!/bin/sh\necho hi\n"), ok("/bin/sh", None));
        assert_eq!(parse_shebang(b"#! /bin/sh\n"), ok("/bin/sh", None));
        assert_eq!(parse_shebang(b"#!\t /bin/sh \t\n"), ok("/bin/sh", None));
        assert_eq!(parse_shebang(b"#!/bin/sh -e\n"), ok("/bin/sh", Some("-e")));
        assert_eq!(
            parse_shebang(b"#!/usr/bin/env  python3 -u  \t\nprint(1)\n"),
            ok("/usr/bin/env", Some("python3 -u"))
        );
        assert_eq!(parse_shebang(b"#!/bin/sh\t-x\n"), ok("/bin/sh", Some("-x")));
        // Without a newline at the end of a short file.
        assert_eq!(parse_shebang(b"#!/bin/sh"), ok("/bin/sh", None));
        assert_eq!(parse_shebang(b"#!/bin/sh -x"), ok("/bin/sh", Some("-x")));
        // CR is part of the name, as on Linux ("/bin/sh\r: not found").
        assert_eq!(parse_shebang(b"#!/bin/sh\r\n"), ok("/bin/sh\r", None));
    }

    #[test]
    fn nul_bytes_end_strings() {
        assert_eq!(parse_shebang(b"#!/bin\0sh -x\n"), ok("/bin", None));
        assert_eq!(
            parse_shebang(b"#!/bin/sh -x\0y\n"),
            ok("/bin/sh", Some("-x"))
        );
        // Trailing space then EOF: Linux passes an empty argument.
        assert_eq!(parse_shebang(b"#!/bin/sh "), ok("/bin/sh", Some("")));
    }

    #[test]
    fn no_interpreter() {
        for s in [&b"#!\n"[..], b"#!   \n", b"#! \t \n/bin/sh\n"] {
            assert_eq!(parse_shebang(s), Some(Err(Errno::ENOEXEC)), "{s:?}");
        }
        // Without a newline Linux takes the zero padding for an empty name (and its open of ""
        // fails, not with ENOEXEC): checked against Linux 6.18.
        for s in [&b"#!"[..], b"#! \t", b"#!\0/bin/sh\n"] {
            assert_eq!(parse_shebang(s), ok("", None), "{s:?}");
        }
        let mut spaces = b"#!".to_vec();
        spaces.resize(300, b' ');
        assert_eq!(parse_shebang(&spaces), Some(Err(Errno::ENOEXEC)));
    }

    #[test]
    fn line_limit() {
        // An interpreter name filling the buffer may be truncated: refused.
        let mut long = b"#!/".to_vec();
        long.resize(400, b'a');
        long.push(b'\n');
        assert_eq!(parse_shebang(&long), Some(Err(Errno::ENOEXEC)));
        // Exactly 256 bytes with no terminator: refused too.
        assert_eq!(parse_shebang(&long[..256]), Some(Err(Errno::ENOEXEC)));
        // Shorter than the buffer: the zero padding ends it.
        assert_eq!(
            parse_shebang(&long[..255]),
            ok(std::str::from_utf8(&long[2..255]).expect("ascii"), None)
        );

        // A newline inside the buffer ends the line; later bytes are ignored.
        let mut line = b"#!/bin/sh ".to_vec();
        line.resize(200, b'x');
        line.push(b'\n');
        line.resize(600, b'z');
        let arg = "x".repeat(190);
        assert_eq!(parse_shebang(&line), ok("/bin/sh", Some(&arg)));

        // A long argument with no newline is cut before the buffer's last byte.
        let mut truncated = b"#!/bin/sh ".to_vec();
        truncated.resize(500, b'y');
        let arg = "y".repeat(BINPRM_BUF_SIZE - 1 - 10);
        assert_eq!(parse_shebang(&truncated), ok("/bin/sh", Some(&arg)));
        // The newline at byte 256 is outside the buffer: same result.
        truncated.truncate(256);
        truncated.push(b'\n');
        assert_eq!(parse_shebang(&truncated), ok("/bin/sh", Some(&arg)));
    }

    #[test]
    fn fuzz_never_panics() {
        let mut s = 0x0123_4567_89ab_cdefu64;
        let alphabet = b" \t\n\0/ab#!";
        for len in 0..300usize {
            for _ in 0..20 {
                let mut buf = b"#!".to_vec();
                for _ in 0..len {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    buf.push(alphabet[(s % alphabet.len() as u64) as usize]);
                }
                if let Some(Ok((interp, arg))) = parse_shebang(&buf) {
                    assert!(!interp.contains(&0) && !interp.contains(&b'\n'));
                    assert!(!interp.iter().any(|&c| spacetab(c)));
                    if let Some(arg) = arg {
                        assert!(!arg.contains(&0) && !arg.contains(&b'\n'));
                    }
                }
            }
        }
    }
}
