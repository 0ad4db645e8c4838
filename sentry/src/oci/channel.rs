//! The control socket of a running sandbox: how `snare exec` (and later `update`, `ps`,
//! `pause`) asks the Sentry of a container for something.
//!
//! `create` binds `ctl.sock` in the container's state directory (mode 0700: only the host's
//! root reaches it) before it forks the init; the listening fd goes down to the Sentry, which
//! accepts on it from a thread of its own once its set-up is done (`oci::server`). The
//! Sentry is confined by then: its allowlist has `accept4` (non-blocking, close-on-exec),
//! `recvmsg`, `sendmsg` and `shutdown` already, for guest sockets; nothing new was needed.
//!
//! A connection carries one conversation about one thing. Each message is a frame: a
//! 4-byte little-endian length, at most [`MAX_FRAME`], then that many bytes of JSON, a
//! [`Message`] whose `version` must be [`VERSION`]. Fds travel with the first bytes of a
//! frame (`SCM_RIGHTS`, at most `fdpass::MAX_FDS`).
//!
//! Exec: the client sends [`Request::Exec`] with the process's stdio as three fds; the
//! Sentry answers [`Response::Started`] (the guest pid) or [`Response::Failed`] (runc's
//! words, and the status the failure stands for). Then the client may send
//! [`Request::Signal`]s, and the Sentry sends [`Response::Exited`] when the process ends and
//! closes the connection. The client closing its end first kills the process (the client is
//! the process's face on the host: its pid is the one in `--pid-file`). The sandbox ending
//! closes every connection: the clients read end-of-file.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use serde::{Deserialize, Serialize};
use snare_platform::fdpass;

/// The protocol's version; a message of another one is refused.
pub const VERSION: u32 = 1;

/// Largest frame (a request's args and env included): a quarter of Linux's `ARG_MAX`.
pub const MAX_FRAME: usize = 1 << 20;

/// Most args, env entries or groups an exec request has.
const MAX_LIST: usize = 65536;

/// The name of the socket in the state directory.
pub const SOCKET: &str = "ctl.sock";

/// Runs `f` on a path to `dir/name` that fits a unix socket address (108 bytes): as is if
/// short, else through `/proc/self/fd` of `dir` (Docker's state directories are about
/// 100 bytes long).
fn with_socket_path<T>(
    dir: &Path,
    f: impl FnOnce(&Path) -> std::io::Result<T>,
) -> std::io::Result<T> {
    let direct = dir.join(SOCKET);
    if direct.as_os_str().len() < 100 {
        return f(&direct);
    }
    let held = std::fs::File::open(dir)?;
    f(&Path::new(&format!("/proc/self/fd/{}", held.as_raw_fd())).join(SOCKET))
}

/// Binds the control socket in state directory `dir` (by `create`, before the init is
/// forked): a listening, non-blocking socket.
pub fn listen(dir: &Path) -> Result<OwnedFd, String> {
    let l = with_socket_path(dir, |p| {
        let l = std::os::unix::net::UnixListener::bind(p)?;
        l.set_nonblocking(true)?;
        Ok(l)
    })
    .map_err(|e| format!("{}: {e}", dir.join(SOCKET).display()))?;
    Ok(OwnedFd::from(l))
}

/// Connects to the control socket of the container whose state directory is `dir`.
pub fn connect(dir: &Path) -> Result<std::os::unix::net::UnixStream, String> {
    with_socket_path(dir, |p| std::os::unix::net::UnixStream::connect(p))
        .map_err(|e| format!("the sandbox's control socket: {e}"))
}

/// What the Sentry is asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    /// Start a new process in the sandbox.
    Exec(ExecRequest),
    /// Deliver signal `0` to the process this connection started.
    Signal(i32),
    /// The terminal's host side changed size (`docker exec -t` resized): the Sentry copies
    /// it into the process's terminal.
    Resize,
}

/// The process `Request::Exec` starts: a container's OCI `process`, checked by the client
/// and again by the Sentry ([`ExecRequest::check`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ExecRequest {
    /// Never empty; `args[0]` is looked up on the env's `PATH`.
    pub args: Vec<String>,
    /// Exactly the process's environment, `KEY=VALUE` each.
    pub env: Vec<String>,
    /// Absolute.
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub umask: u32,
    /// (resource, soft, hard), as `oci::bundle` checks them.
    pub rlimits: Vec<(u32, u64, u64)>,
    /// `capabilities` and `noNewPrivileges` (`oci::bundle::caps_of`); none when absent.
    #[serde(default = "crate::kernel::caps::CapSets::none")]
    pub caps: crate::kernel::caps::CapSets,
    pub stdio: Stdio,
}

/// What the fds sent with an exec request are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stdio {
    /// Three fds: the process's 0, 1 and 2.
    #[default]
    Fds,
    /// One fd, a host pty's slave (raw, non-blocking), bridged to a terminal of the
    /// Sentry's devpts that is the process's 0, 1 and 2 and controlling terminal.
    Terminal,
}

impl Stdio {
    /// How many fds come with the request.
    pub fn fds(self) -> usize {
        match self {
            Stdio::Fds => 3,
            Stdio::Terminal => 1,
        }
    }
}

/// What the Sentry answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    /// The process runs, with this pid in the sandbox.
    Started(i32),
    /// It could not start (or the request was refused): the status the failure stands for
    /// (127 not found, 126 not executable, 1 otherwise) and runc's words.
    Failed { status: i32, message: String },
    /// It ended, with this status (`n`, or 128 + the signal).
    Exited(i32),
}

/// A frame's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message<T> {
    pub version: u32,
    pub body: T,
}

fn no_nul(field: &str, s: &str) -> Result<(), String> {
    match s.contains('\0') {
        true => Err(format!("{field}: contains a NUL byte")),
        false => Ok(()),
    }
}

impl ExecRequest {
    /// Whether the request makes sense (it comes from a socket: checked as hostile).
    pub fn check(&self) -> Result<(), String> {
        if self.args.is_empty() {
            return Err("args must not be empty".into());
        }
        if self.args.len() > MAX_LIST || self.env.len() > MAX_LIST || self.groups.len() > MAX_LIST {
            return Err("too many args, env entries or groups".into());
        }
        for a in &self.args {
            no_nul("args", a)?;
        }
        for e in &self.env {
            no_nul("env", e)?;
            match e.split_once('=') {
                Some((k, _)) if !k.is_empty() => {}
                _ => return Err(format!("env: \"{e}\" is not KEY=VALUE")),
            }
        }
        no_nul("cwd", &self.cwd)?;
        if !self.cwd.starts_with('/') {
            return Err(format!("cwd \"{}\" must be an absolute path", self.cwd));
        }
        if self.uid == u32::MAX || self.gid == u32::MAX || self.groups.contains(&u32::MAX) {
            return Err("user: invalid id 4294967295".into());
        }
        if self.umask > 0o777 {
            return Err(format!("umask {:o} is not a umask", self.umask));
        }
        for &(r, soft, hard) in &self.rlimits {
            let nofile_too_high =
                r == snare_abi::file::RLIMIT_NOFILE && hard > snare_abi::file::NR_OPEN;
            if r > 15 || soft > hard || nofile_too_high {
                return Err(format!("rlimit {r}: {soft}/{hard} is not a limit"));
            }
        }
        Ok(())
    }

    /// `env` split at the first `=` (checked by [`ExecRequest::check`]).
    pub fn env_pairs(&self) -> Vec<(String, String)> {
        self.env
            .iter()
            .filter_map(|e| e.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }
}

/// Encodes one frame.
pub fn encode<T: Serialize>(body: &T) -> Result<Vec<u8>, String> {
    let json = serde_json::to_vec(&Message {
        version: VERSION,
        body,
    })
    .map_err(|e| format!("control message: {e}"))?;
    if json.len() > MAX_FRAME {
        return Err(format!(
            "control message: {} bytes, more than {MAX_FRAME}",
            json.len()
        ));
    }
    let mut out = Vec::with_capacity(4 + json.len());
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&json);
    Ok(out)
}

/// Decodes a frame's body: JSON of a [`Message`] of this [`VERSION`].
pub fn decode<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, String> {
    #[derive(Deserialize)]
    struct Version {
        version: u32,
    }
    let v: Version = serde_json::from_slice(body).map_err(|e| format!("control message: {e}"))?;
    if v.version != VERSION {
        return Err(format!(
            "control protocol version {} (this snare speaks {VERSION})",
            v.version
        ));
    }
    let m: Message<T> =
        serde_json::from_slice(body).map_err(|e| format!("control message: {e}"))?;
    Ok(m.body)
}

/// Sends `body` as one frame on `sock`, with `fds` attached to its first bytes.
pub fn send<T: Serialize>(
    sock: BorrowedFd<'_>,
    body: &T,
    fds: &[BorrowedFd<'_>],
) -> Result<(), String> {
    let frame = encode(body)?;
    let mut done = 0;
    let mut fds = fds;
    while done < frame.len() {
        match fdpass::send_with_fds(sock, &frame[done..], fds) {
            Ok(n) => {
                done += n;
                fds = &[];
            }
            Err(snare_abi::Errno::EINTR) => {}
            Err(e) => return Err(format!("control socket: {}", e.description())),
        }
    }
    Ok(())
}

/// Reads exactly `buf.len()` bytes (keeping fds that come with them); `Ok(false)` if the
/// stream ended before the first byte.
fn read_full(sock: BorrowedFd<'_>, buf: &mut [u8], fds: &mut Vec<OwnedFd>) -> Result<bool, String> {
    let mut done = 0;
    while done < buf.len() {
        match fdpass::recv_with_fds(sock, &mut buf[done..]) {
            Ok((0, _)) if done == 0 => return Ok(false),
            Ok((0, _)) => return Err("control socket: the message ends early".into()),
            Ok((n, got)) => {
                done += n;
                fds.extend(got);
                if fds.len() > fdpass::MAX_FDS {
                    return Err("control socket: too many fds".into());
                }
            }
            Err(snare_abi::Errno::EINTR) => {}
            Err(e) => return Err(format!("control socket: {}", e.description())),
        }
    }
    Ok(true)
}

/// Receives one frame and the fds that came with it; `None` at the end of the stream.
pub fn recv<T: for<'de> Deserialize<'de>>(
    sock: BorrowedFd<'_>,
) -> Result<Option<(T, Vec<OwnedFd>)>, String> {
    let mut fds = Vec::new();
    let mut head = [0u8; 4];
    if !read_full(sock, &mut head, &mut fds)? {
        return Ok(None);
    }
    let len = u32::from_le_bytes(head) as usize;
    if len > MAX_FRAME {
        return Err(format!(
            "control message: {len} bytes, more than {MAX_FRAME}"
        ));
    }
    let mut body = vec![0u8; len];
    if !read_full(sock, &mut body, &mut fds)? && len > 0 {
        return Err("control socket: the message ends early".into());
    }
    Ok(Some((decode(&body)?, fds)))
}

/// [`recv`] on anything that has an fd.
pub fn recv_on<T: for<'de> Deserialize<'de>>(
    sock: &impl AsFd,
) -> Result<Option<(T, Vec<OwnedFd>)>, String> {
    recv(sock.as_fd())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    fn req() -> ExecRequest {
        ExecRequest {
            args: vec!["echo".into(), "hi".into()],
            env: vec!["PATH=/bin".into(), "A=b=c".into()],
            cwd: "/".into(),
            umask: 0o022,
            ..ExecRequest::default()
        }
    }

    #[test]
    fn requests_and_fds_round_trip() {
        let (a, b) = UnixStream::pair().expect("pair");
        let (r, w) = std::io::pipe().expect("pipe");
        let sent = Request::Exec(req());
        send(a.as_fd(), &sent, &[r.as_fd(), w.as_fd(), w.as_fd()]).expect("send");
        send(a.as_fd(), &Request::Signal(15), &[]).expect("send");
        let (got, fds) = recv_on::<Request>(&b).expect("recv").expect("a frame");
        assert_eq!((got, fds.len()), (sent, 3));
        let (got, fds) = recv_on::<Request>(&b).expect("recv").expect("a frame");
        assert_eq!((got, fds.len()), (Request::Signal(15), 0));
        drop(a);
        assert!(recv_on::<Request>(&b).expect("eof").is_none());
        let r = req();
        assert_eq!(
            r.env_pairs(),
            vec![("PATH".into(), "/bin".into()), ("A".into(), "b=c".into())]
        );
    }

    #[test]
    fn hostile_frames_are_refused() {
        let frame = |bytes: &[u8]| {
            let (mut a, b) = UnixStream::pair().expect("pair");
            a.write_all(bytes).expect("write");
            drop(a);
            recv_on::<Request>(&b).map(|r| r.map(|(m, _)| m))
        };
        let huge = ((MAX_FRAME + 1) as u32).to_le_bytes();
        assert!(frame(&huge).expect_err("too big").contains("more than"));
        assert!(frame(&[5, 0]).is_err(), "a short header");
        assert!(frame(&[5, 0, 0, 0, b'{']).is_err(), "a short body");
        let mut bad = 7u32.to_le_bytes().to_vec();
        bad.extend_from_slice(b"garbage");
        assert!(frame(&bad)
            .expect_err("not JSON")
            .contains("control message"));
        let v2 = br#"{"version":2,"body":{"signal":1}}"#;
        let mut f = (v2.len() as u32).to_le_bytes().to_vec();
        f.extend_from_slice(v2);
        assert!(frame(&f).expect_err("version").contains("version 2"));
        let wrong = br#"{"version":1,"body":{"frobnicate":1}}"#;
        let mut f = (wrong.len() as u32).to_le_bytes().to_vec();
        f.extend_from_slice(wrong);
        assert!(frame(&f).is_err());
        assert!(frame(&[]).expect("eof").is_none());
    }

    #[test]
    fn requests_are_checked() {
        assert_eq!(req().check(), Ok(()));
        let bad = |f: fn(&mut ExecRequest)| {
            let mut r = req();
            f(&mut r);
            r.check().expect_err("refused")
        };
        assert!(bad(|r| r.args.clear()).contains("args must not be empty"));
        assert!(bad(|r| r.cwd = "tmp".into()).contains("absolute"));
        assert!(bad(|r| r.env.push("NOEQUALS".into())).contains("KEY=VALUE"));
        assert!(bad(|r| r.env.push("=x".into())).contains("KEY=VALUE"));
        assert!(bad(|r| r.args.push("a\0b".into())).contains("NUL"));
        assert!(bad(|r| r.uid = u32::MAX).contains("invalid id"));
        assert!(bad(|r| r.umask = 0o1000).contains("umask"));
        assert!(bad(|r| r.rlimits.push((7, 10, 5))).contains("rlimit"));
        assert!(bad(|r| r.rlimits.push((99, 1, 1))).contains("rlimit"));
        assert!(bad(|r| r.rlimits.push((7, 1, u64::MAX))).contains("rlimit"));
        assert_eq!((Stdio::Fds.fds(), Stdio::Terminal.fds()), (3, 1));
    }
}
