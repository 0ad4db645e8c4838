//! A container's memory and pids limits as they are now: `snare update` changes them while
//! the sandbox runs. The OCI layer keeps them in a small file of the container's state
//! directory (`limits`), which the Sentry opens before it confines itself and re-reads
//! (`pread`, on its allowlist) when they matter: at every clone (the pids limit, and the
//! memory limit, so a lowered one applies from the next fork) and before an OOM decision
//! (a raised memory limit spares the victim). `update` rewrites the file in place, one
//! record of fixed length with a check value, so a read racing a write is seen as torn
//! and ignored (the limits stay as they were until the next read).
//!
//! The pids limit counts guest tasks, threads included, as Linux's pids controller does:
//! a clone past it fails with EAGAIN (`PidTable::allocate`).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::OnceLock;

use super::process::PidTable;

/// The record's words around its numbers; the numbers have 20 digits each.
const MAGIC: &str = "snare-limits";

/// One record's length: the words, three 20-digit numbers, spaces and a newline.
pub const RECORD_LEN: usize = MAGIC.len() + 1 + 7 + 20 + 1 + 5 + 20 + 1 + 6 + 20 + 1;

/// The limits: `None` is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of guest memory (the memory file's limit).
    pub memory: Option<u64>,
    /// Guest tasks.
    pub pids: Option<u64>,
}

fn check_value(memory: u64, pids: u64) -> u64 {
    (memory ^ pids.rotate_left(17) ^ 0x736e_6172_652d_6c69).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 1
}

impl Limits {
    /// The file's text: always [`RECORD_LEN`] bytes.
    pub fn encode(&self) -> String {
        let (m, p) = (self.memory.unwrap_or(0), self.pids.unwrap_or(0));
        format!(
            "{MAGIC} memory={m:020} pids={p:020} check={:020}\n",
            check_value(m, p)
        )
    }

    /// The record in `text`; `None` if it is not one (torn, or not snare's).
    pub fn decode(text: &[u8]) -> Option<Limits> {
        let text = std::str::from_utf8(text.get(..RECORD_LEN)?).ok()?;
        let mut words = text.trim_end_matches('\n').split(' ');
        if words.next()? != MAGIC {
            return None;
        }
        let mut num = |key: &str| -> Option<u64> {
            let v = words.next()?.strip_prefix(key)?;
            (v.len() == 20).then_some(())?;
            v.parse().ok()
        };
        let (m, p, c) = (num("memory=")?, num("pids=")?, num("check=")?);
        (c == check_value(m, p)).then_some(Limits {
            memory: (m != 0).then_some(m),
            pids: (p != 0).then_some(p),
        })
    }
}

/// The Sentry's handle on the limits file (none for `snare do`).
#[derive(Debug, Default)]
pub struct LiveLimits {
    file: OnceLock<File>,
}

impl LiveLimits {
    /// Holds `file` (opened before confinement) from now on.
    pub fn attach(&self, file: File) {
        let _ = self.file.set(file);
    }

    /// The limits as the file says now; `None` without a file or for a torn read.
    pub fn read(&self) -> Option<Limits> {
        let file = self.file.get()?;
        let mut buf = [0u8; RECORD_LEN];
        let n = file.read_at(&mut buf, 0).ok()?;
        let read = Limits::decode(&buf[..n]);
        if read.is_none() {
            tracing::debug!(n, "limits file: not a whole record; limits unchanged");
        }
        read
    }
}

impl super::Kernel {
    /// Re-reads the limits file (if any) and applies it: the pids limit to `pids` (the
    /// caller holds the table's lock), the memory limit to the memory file and the memfd
    /// files. Returns whether the memory limit grew.
    pub fn refresh_limits(&self, pids: &mut PidTable) -> bool {
        let Some(now) = self.limits.read() else {
            return false;
        };
        pids.limit = now.pids.map(|p| usize::try_from(p).unwrap_or(usize::MAX));
        self.apply_memory(now)
    }

    /// Re-reads the memory limit alone (the OOM killer's question: has it grown?).
    pub fn memory_limit_grew(&self) -> bool {
        self.limits.read().is_some_and(|now| self.apply_memory(now))
    }

    /// Sets the memory limit `now` says (if it says one); whether it grew.
    fn apply_memory(&self, now: Limits) -> bool {
        use snare_platform::Platform;
        let Some(bytes) = now.memory else {
            return false;
        };
        let mem = self.platform.memory_file();
        let before = mem.limit();
        if bytes != before {
            tracing::debug!(before, bytes, "memory limit changed");
            mem.set_limit(bytes);
            // memfd files have no size= of their own: only the memory bounds them.
            self.memfd
                .set_limits(Some(mem.clone()), bytes, bytes / crate::mm::PAGE);
        }
        bytes > before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_tears_show() {
        for l in [
            Limits::default(),
            Limits {
                memory: Some(32 << 20),
                pids: Some(20),
            },
            Limits {
                memory: Some(u64::MAX),
                pids: None,
            },
        ] {
            let text = l.encode();
            assert_eq!(text.len(), RECORD_LEN);
            assert_eq!(Limits::decode(text.as_bytes()), Some(l));
        }
        let a = Limits {
            memory: Some(32 << 20),
            pids: Some(20),
        }
        .encode();
        let b = Limits {
            memory: Some(64 << 20),
            pids: Some(50),
        }
        .encode();
        // Half of one record and half of the other: refused.
        let torn = format!("{}{}", &a[..40], &b[40..]);
        assert_eq!(Limits::decode(torn.as_bytes()), None);
        assert_eq!(Limits::decode(&a.as_bytes()[..10]), None);
        assert_eq!(Limits::decode(b""), None);
        assert_eq!(Limits::decode(&[0xff; RECORD_LEN]), None);
    }
}
