//! `process.terminal` and `--console-socket`: the host side of a container's terminal.
//!
//! As runc: with `terminal: true` the runtime makes a pty and sends its master over the
//! unix socket `--console-socket` names (one message, SCM_RIGHTS, the pty's name as its
//! payload) before `create` returns; the caller (containerd's shim) copies between that
//! master and its stdio and sets the window size on it. snare makes a *host* pty pair in
//! `create`: the master is sent and closed at once (no snare process keeps it), the slave,
//! raw, goes to the Sentry, which bridges it to a terminal of its own devpts that the
//! guest sees (`vfs::pty::bridge`).
//!
//! The rules are runc's (`checkTerminal`), for a command that detaches (`create`, `run
//! --detach`): a terminal needs the socket, the socket needs a terminal. The socket is
//! connected before anything is made, so a bad path fails `create` with nothing left
//! behind.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use super::{error, OciError};

/// `process.consoleSize`: the terminal's initial rows and columns (0: not given).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Size {
    pub rows: u16,
    pub cols: u16,
}

impl Size {
    /// From `config.json`'s `consoleSize` (height, width), each at most 65535.
    pub fn of(b: Option<&oci_spec::runtime::Box>) -> Result<Size, OciError> {
        let Some(b) = b else {
            return Ok(Size::default());
        };
        let dim = |v: u64, what: &str| {
            u16::try_from(v)
                .map_err(|_| error(format!("process.consoleSize.{what}: {v} is too large")))
        };
        Ok(Size {
            rows: dim(b.height(), "height")?,
            cols: dim(b.width(), "width")?,
        })
    }
}

/// The name sent with the master, as runc's (its master's path).
const PTY_NAME: &[u8] = b"/dev/ptmx";

/// A connected `--console-socket`.
#[derive(Debug)]
pub struct ConsoleSocket {
    stream: UnixStream,
    path: PathBuf,
}

/// Checks `--console-socket` against `process.terminal` (runc's words) and connects to
/// the socket if there is one to use.
pub fn connect(terminal: bool, socket: Option<&Path>) -> Result<Option<ConsoleSocket>, OciError> {
    match (terminal, socket) {
        (true, None) => Err(error(
            "cannot allocate tty if runc will detach without setting console socket",
        )),
        (false, Some(_)) => Err(error(
            "cannot use console socket if runc will not detach or allocate tty",
        )),
        (false, None) => Ok(None),
        (true, Some(path)) => {
            let stream = UnixStream::connect(path).map_err(|e| {
                error(format!(
                    "dial unix {}: connect: {}",
                    path.display(),
                    io_words(&e)
                ))
            })?;
            Ok(Some(ConsoleSocket {
                stream,
                path: path.to_owned(),
            }))
        }
    }
}

/// An error as Go prints it (`no such file or directory`, not Rust's `... (os error 2)`).
fn io_words(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_lowercase(),
        None => e.to_string(),
    }
}

impl ConsoleSocket {
    /// Makes the host pty pair (the slave raw, both close-on-exec, the window `size` if
    /// given), sends the master and closes it and the socket; returns the slave, for the
    /// Sentry.
    pub fn send_pty(self, size: Size) -> Result<OwnedFd, OciError> {
        let fail = |what: &str, e: nix::errno::Errno| {
            error(format!("the terminal: {what}: {}", e.desc().to_lowercase()))
        };
        let ws = nix::pty::Winsize {
            ws_row: size.rows,
            ws_col: size.cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let given = size.rows != 0 && size.cols != 0;
        let pty = nix::pty::openpty(given.then_some(&ws), None).map_err(|e| fail("openpty", e))?;
        for fd in [pty.master.as_fd(), pty.slave.as_fd()] {
            nix::fcntl::fcntl(
                fd,
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
            )
            .map_err(|e| fail("close-on-exec", e))?;
        }
        // Raw from the start: the host's line discipline must not echo or translate what
        // the shim writes before the Sentry runs (it keeps the slave raw, `bridge::prepare`).
        let mut t = nix::sys::termios::tcgetattr(&pty.slave).map_err(|e| fail("tcgetattr", e))?;
        nix::sys::termios::cfmakeraw(&mut t);
        nix::sys::termios::tcsetattr(&pty.slave, nix::sys::termios::SetArg::TCSANOW, &t)
            .map_err(|e| fail("raw mode", e))?;
        snare_platform::tty::send_fd(self.stream.as_fd(), PTY_NAME, pty.master.as_fd()).map_err(
            |e| {
                error(format!(
                    "sending the terminal to --console-socket {}: {}",
                    self.path.display(),
                    io_words(&e)
                ))
            },
        )?;
        Ok(pty.slave)
    }
}

/// A console socket of `snare run`'s own, for `run` in the foreground with a terminal: as
/// runc, snare receives the master itself and copies between it and its own stdio
/// ([`Proxy`]). The socket lives in a private directory (0700) of the temporary one.
#[derive(Debug)]
pub struct OwnSocket {
    listener: std::os::unix::net::UnixListener,
    dir: PathBuf,
}

impl OwnSocket {
    pub fn new() -> Result<OwnSocket, OciError> {
        use std::os::unix::fs::DirBuilderExt;
        let dir = std::env::temp_dir().join(format!("snare-console-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| error(format!("{}: {e}", dir.display())))?;
        let path = dir.join("console.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).map_err(|e| {
            let _ = std::fs::remove_dir_all(&dir);
            error(format!("{}: {e}", path.display()))
        })?;
        Ok(OwnSocket { listener, dir })
    }

    /// The path to give `create` as `--console-socket`.
    pub fn path(&self) -> PathBuf {
        self.dir.join("console.sock")
    }

    /// The master `create` sent (it has returned: the message is there).
    pub fn accept(&self) -> Result<OwnedFd, OciError> {
        let fail = |e: std::io::Error| error(format!("receiving the terminal: {e}"));
        self.listener.set_nonblocking(true).map_err(fail)?;
        let (conn, _) = self.listener.accept().map_err(fail)?;
        let (_, fd) = snare_platform::tty::recv_fd(conn.as_fd()).map_err(fail)?;
        fd.ok_or_else(|| error("receiving the terminal: no fd in the message"))
    }
}

impl Drop for OwnSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `snare run`'s copy between a container's terminal (the master) and its own stdin and
/// stdout, as runc's foreground `run` with a terminal: its stdin is raw while the copy
/// lasts if it is a terminal, and the master gets its window size (now and on each
/// [`Proxy::resize`]).
#[derive(Debug)]
pub struct Proxy {
    master: std::sync::Arc<std::fs::File>,
    saved: Option<nix::sys::termios::Termios>,
    out_done: std::sync::mpsc::Receiver<()>,
}

impl Proxy {
    pub fn start(master: OwnedFd) -> Proxy {
        use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
        use std::io::{Read, Write};
        let master = std::sync::Arc::new(std::fs::File::from(master));
        let stdin = std::io::stdin();
        let saved = tcgetattr(&stdin).ok();
        if let Some(t) = &saved {
            let mut raw = t.clone();
            cfmakeraw(&mut raw);
            let _ = tcsetattr(&stdin, SetArg::TCSANOW, &raw);
        }
        let proxy_in = master.clone();
        let _ = std::thread::Builder::new()
            .name("console-in".into())
            .spawn(move || {
                let mut b = [0u8; 4096];
                let mut stdin = std::io::stdin().lock();
                while let Ok(n @ 1..) = stdin.read(&mut b) {
                    if (&*proxy_in).write_all(&b[..n]).is_err() {
                        return;
                    }
                }
            });
        let (tx, out_done) = std::sync::mpsc::channel();
        let proxy_out = master.clone();
        let _ = std::thread::Builder::new()
            .name("console-out".into())
            .spawn(move || {
                let mut b = [0u8; 4096];
                let mut out = std::io::stdout().lock();
                // Ends at EIO: every slave closed (the sandbox is gone).
                while let Ok(n @ 1..) = (&*proxy_out).read(&mut b) {
                    if out.write_all(&b[..n]).and_then(|()| out.flush()).is_err() {
                        break;
                    }
                }
                let _ = tx.send(());
            });
        let proxy = Proxy {
            master,
            saved,
            out_done,
        };
        proxy.resize();
        proxy
    }

    /// Gives the master snare's own terminal's window size (if its stdin is one).
    pub fn resize(&self) {
        if let Ok(ws) = snare_platform::tty::winsize(std::io::stdin().as_fd()) {
            let _ = snare_platform::tty::set_winsize(self.master.as_fd(), ws);
        }
    }

    /// Waits (2 s at most) for the rest of the container's output, and restores stdin.
    pub fn finish(self) {
        let _ = self
            .out_done
            .recv_timeout(std::time::Duration::from_secs(2));
        if let Some(t) = &self.saved {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin(),
                nix::sys::termios::SetArg::TCSANOW,
                t,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runc_rules() {
        let e = |t, s: Option<&Path>| connect(t, s).map(|c| c.is_some()).map_err(|e| e.0);
        assert_eq!(e(false, None), Ok(false));
        assert!(e(true, None).is_err_and(|m| m.contains("without setting console socket")));
        let sock = Path::new("/nonexistent/s.sock");
        assert!(e(false, Some(sock)).is_err_and(|m| m.contains("will not detach or allocate")));
        assert_eq!(
            e(true, Some(sock)),
            Err("dial unix /nonexistent/s.sock: connect: no such file or directory".into())
        );
    }

    #[test]
    fn sizes() {
        let b: oci_spec::runtime::Box =
            serde_json::from_str(r#"{"height":24,"width":80}"#).expect("box");
        assert_eq!(
            Size::of(Some(&b)).map_err(|e| e.0),
            Ok(Size { rows: 24, cols: 80 })
        );
        assert_eq!(Size::of(None).map_err(|e| e.0), Ok(Size::default()));
        let b: oci_spec::runtime::Box =
            serde_json::from_str(r#"{"height":65536,"width":80}"#).expect("box");
        assert!(Size::of(Some(&b)).is_err());
    }

    #[test]
    fn sends_the_master() {
        let dir = std::env::temp_dir().join(format!("snare-console-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("c.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
        let sock = connect(true, Some(&path))
            .expect("connect")
            .expect("socket");
        let slave = sock
            .send_pty(Size {
                rows: 30,
                cols: 100,
            })
            .expect("send");
        let (conn, _) = listener.accept().expect("accept");
        let (name, master) = snare_platform::tty::recv_fd(conn.as_fd()).expect("recv");
        assert_eq!(name, PTY_NAME);
        let master = master.expect("an fd");
        let ws = snare_platform::tty::winsize(master.as_fd()).expect("winsize");
        assert_eq!(&ws[..2], &[30, 100]);
        nix::unistd::write(&master, b"x").expect("write");
        let mut b = [0u8; 4];
        assert_eq!(
            nix::unistd::read(&slave, &mut b),
            Ok(1),
            "raw: no line needed"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_peer_gone_before_the_send_is_an_error() {
        let dir = std::env::temp_dir().join(format!("snare-console-gone-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("c.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
        let sock = connect(true, Some(&path))
            .expect("connect")
            .expect("socket");
        drop(listener);
        let e = sock.send_pty(Size::default()).map(drop).map_err(|e| e.0);
        assert!(
            e.as_ref()
                .is_err_and(|m| m.starts_with("sending the terminal to --console-socket")),
            "{e:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
