//! The container's init: the process `create` forks, whose pid goes to `--pid-file` and
//! whose exit status is the container's. It is the sandbox's launcher (`run::run_gated`):
//! the Sentry it clones sets everything up, loads the program, reports through the ready
//! pipe ([`Report`]) and waits at the state directory's `exec.fifo` ([`FifoGate`]) for
//! `start`'s byte.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};

use crate::run::{run_gated, DoError, DoRequest, Gate};

/// What the Sentry says through the ready pipe: a header of the status (0: ready; else
/// the exit status `create` fails with) and the message's length, then the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub status: i32,
    pub message: String,
}

/// Longest message sent: the whole report stays under `PIPE_BUF`, so it is one atomic
/// write.
const MAX_MESSAGE: usize = 4000;

impl Report {
    pub fn ready() -> Report {
        Report {
            status: 0,
            message: String::new(),
        }
    }

    fn encode(&self) -> Vec<u8> {
        let mut msg = self.message.as_bytes();
        msg = &msg[..msg.len().min(MAX_MESSAGE)];
        let mut out = Vec::with_capacity(8 + msg.len());
        out.extend_from_slice(&self.status.to_le_bytes());
        out.extend_from_slice(&(msg.len() as u32).to_le_bytes());
        out.extend_from_slice(msg);
        out
    }

    /// Reads one report; `None` if the pipe ended first (every writer gone: the sandbox
    /// died during set-up).
    pub fn read(from: &mut impl Read) -> Option<Report> {
        let mut head = [0u8; 8];
        from.read_exact(&mut head).ok()?;
        let status = i32::from_le_bytes(head[..4].try_into().ok()?);
        let len = (u32::from_le_bytes(head[4..].try_into().ok()?) as usize).min(MAX_MESSAGE);
        let mut msg = vec![0u8; len];
        from.read_exact(&mut msg).ok()?;
        Some(Report {
            status,
            message: String::from_utf8_lossy(&msg).into_owned(),
        })
    }
}

/// The gate of a created container: the ready pipe's write end and the FIFO (opened
/// read-write, so it never reads end-of-file and `start`'s non-blocking open finds a
/// reader while the Sentry lives).
#[derive(Debug)]
pub struct FifoGate {
    pub ready: Option<OwnedFd>,
    pub fifo: Option<File>,
    /// The listening control socket (`oci::channel`), for the Sentry to serve.
    pub control: Option<OwnedFd>,
    /// The host pty slave of `process.terminal` (`oci::console`), for the Sentry.
    pub terminal: Option<OwnedFd>,
}

impl FifoGate {
    fn send(&mut self, report: &Report) -> Result<(), String> {
        let fd = self.ready.take().ok_or("the ready pipe is closed")?;
        File::from(fd)
            .write_all(&report.encode())
            .map_err(|e| format!("reporting to create: {e}"))
    }

    /// Reports a failure of set-up (`create` prints it and exits non-zero).
    pub fn fail(&mut self, report: &Report) {
        let _ = self.send(report);
    }
}

impl Gate for FifoGate {
    fn leave(&mut self) {
        self.ready = None;
        self.fifo = None;
        self.control = None;
        self.terminal = None;
    }

    fn control(&mut self) -> Option<OwnedFd> {
        self.control.take()
    }

    fn terminal(&mut self) -> Option<OwnedFd> {
        self.terminal.take()
    }

    fn ready(&mut self) -> Result<(), String> {
        self.send(&Report::ready())
    }

    fn wait(&mut self) -> Result<(), String> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let fifo = self.fifo.as_mut().ok_or("no start FIFO")?;
        loop {
            let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(format!("waiting for start: {e}")),
            }
            let mut byte = [0u8; 1];
            match fifo.read(&mut byte) {
                Ok(1) => break,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("waiting for start: {e}")),
            }
        }
        self.fifo = None;
        Ok(())
    }
}

/// The words runc uses when it can't start the program (Docker maps "executable file not
/// found" / "no such file or directory" with the command's name to exit 127, "permission
/// denied" to 126): the message `create` fails with for a set-up error.
pub fn create_error(cmd: &str, e: &DoError) -> String {
    let why = match e.status {
        127 if cmd.contains('/') => format!("stat {cmd}: no such file or directory"),
        127 => "executable file not found in $PATH".to_string(),
        126 if e.message.to_lowercase().contains("permission denied") => {
            "permission denied".to_string()
        }
        _ => return e.message.clone(),
    };
    format!("unable to start container process: exec: \"{cmd}\": {why}")
}

/// The init's life, in the forked child: run the sandbox behind `gate`, report a set-up
/// failure through it, and exit with the container's status.
pub fn serve(req: &DoRequest, mut gate: FifoGate) -> ! {
    let code = match run_gated(req, Some(&mut gate)) {
        Ok(code) => code,
        Err(e) => {
            let cmd = String::from_utf8_lossy(req.argv.first().map_or(&[][..], |a| a));
            gate.fail(&Report {
                status: e.status.max(1),
                message: create_error(&cmd, &e),
            });
            e.status
        }
    }
    .clamp(0, 255);
    snare_platform::isolate::report_exit(code);
    std::process::exit(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_round_trip() {
        let r = Report {
            status: 127,
            message: "exec: \"x\": not found".into(),
        };
        let bytes = r.encode();
        assert_eq!(Report::read(&mut &bytes[..]), Some(r));
        assert_eq!(Report::read(&mut &bytes[..5]), None);
        assert_eq!(Report::read(&mut &b""[..]), None);
        let long = Report {
            status: 1,
            message: "x".repeat(10_000),
        };
        let read = Report::read(&mut &long.encode()[..]).expect("reads");
        assert_eq!(read.message.len(), MAX_MESSAGE);
    }

    #[test]
    fn runc_words_for_docker() {
        let e = |status, m: &str| DoError {
            status,
            message: m.into(),
        };
        assert_eq!(
            create_error("nope", &e(127, "nope: not found")),
            "unable to start container process: exec: \"nope\": executable file not found in $PATH"
        );
        assert!(create_error("/bin/nope", &e(127, "x"))
            .ends_with("\"/bin/nope\": stat /bin/nope: no such file or directory"));
        assert!(
            create_error("/etc/passwd", &e(126, "/etc/passwd: Permission denied"))
                .ends_with("permission denied")
        );
        assert_eq!(create_error("a", &e(125, "root /x: gone")), "root /x: gone");
    }
}
