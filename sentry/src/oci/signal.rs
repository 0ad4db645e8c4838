//! Signals as `kill` takes them: a decimal number (`15`, as containerd passes them) or a
//! name with or without `SIG`, in either case (`TERM`, `SIGTERM`, `sigkill`), as runc
//! accepts them.

use super::{error, OciError};

/// Linux's signal numbers by name (x86-64), without the `SIG` prefix.
const NAMES: &[(&str, i32)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("IOT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("POLL", 29),
    ("PWR", 30),
    ("SYS", 31),
];

/// Highest signal number taken: the real-time ones (34 to 64) are not sent yet (nix, through
/// which the Sentry crate makes its host calls, names only the standard ones).
const MAX: i32 = 31;

/// The signal `text` names, or an error that says what was expected.
pub fn parse(text: &str) -> Result<i32, OciError> {
    if let Ok(n) = text.parse::<i32>() {
        return match n {
            1..=MAX => Ok(n),
            _ => Err(error(format!("invalid signal number {n} (1 to {MAX})"))),
        };
    }
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, sig)| sig)
        .ok_or_else(|| error(format!("unknown signal \"{text}\"")))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn numbers_and_names() {
        assert_eq!(parse("15"), Ok(15));
        assert_eq!(parse("9"), Ok(9));
        assert_eq!(parse("31"), Ok(31));
        assert_eq!(parse("TERM"), Ok(15));
        assert_eq!(parse("SIGTERM"), Ok(15));
        assert_eq!(parse("sigkill"), Ok(9));
        assert_eq!(parse("usr1"), Ok(10));
        for bad in [
            "0",
            "32",
            "64",
            "65",
            "-9",
            "",
            "SIG",
            "TERMX",
            "SIGSIGTERM",
            "1.5",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
