//! The Sentry's side of the control socket (`oci::channel`): the Sentry's host event
//! thread accepts connections on the listening fd `create` made, and one thread per
//! connection serves it. Runs confined: `accept4` (non-blocking, close-on-exec), `fcntl(F_SETFL)`,
//! `recvmsg`, `sendmsg`, `shutdown` and `poll` are on the allowlist.
//!
//! An exec starts a new guest process, not a fork of anything: a new pid, its own session
//! and process group, no parent in the sandbox (`getppid` is 0, as for a process runc
//! `setns`es in), the requested args, env, cwd, user, umask and rlimits, and the host fds
//! that came with the request as its 0, 1 and 2. When it ends, this side reaps it (nobody
//! else can) and reports the status.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use snare_abi::Errno;

use super::channel::{self, ExecRequest, Request, Response, Stdio};
use crate::kernel::host_events::Keep;
use crate::kernel::process::{Creds, TaskHandle, ThreadGroup};
use crate::kernel::{exec, ExitStatus, FsContext, Kernel, Task};
use crate::run::DoError;
use crate::vfs::pty::bridge::Bridge;

/// Most connections served at once; more are answered with an error and closed.
const MAX_CONNECTIONS: usize = 256;

static CONNECTIONS: AtomicUsize = AtomicUsize::new(0);

/// Serves `listener` for as long as the Sentry lives: its connections are accepted by the
/// Sentry's host event thread (`kernel::host_events`), each served on a thread of its own.
pub fn serve(k: &Arc<Kernel>, listener: OwnedFd) {
    match &k.events {
        Some(events) => events.add(Arc::new(Listener {
            fd: listener,
            k: Arc::downgrade(k),
        })),
        None => tracing::warn!("no host event thread for the control socket: exec will fail"),
    }
}

struct Listener {
    fd: OwnedFd,
    k: std::sync::Weak<Kernel>,
}

impl crate::kernel::host_events::Source for Listener {
    fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Accepts what is waiting (the listener is non-blocking).
    fn ready(&self) -> Keep {
        loop {
            let conn = match snare_platform::net::accept(self.fd.as_fd()) {
                Ok((c, _)) => c,
                Err(Errno::EINTR | Errno::ECONNABORTED) => continue,
                Err(Errno::EAGAIN) => return Keep::Watching,
                Err(e) => {
                    tracing::warn!("control socket: accept: {}", e.description());
                    return Keep::Watching;
                }
            };
            let Some(k) = self.k.upgrade() else {
                return Keep::Done;
            };
            start_connection(k, conn);
        }
    }
}

fn start_connection(k: Arc<Kernel>, conn: OwnedFd) {
    // Blocking from here on: each connection has its own thread.
    let _ = nix::fcntl::fcntl(
        &conn,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::empty()),
    );
    if CONNECTIONS.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
        CONNECTIONS.fetch_sub(1, Ordering::SeqCst);
        refuse(&conn, 1, "too many control connections at once".into());
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("snare-control-conn".into())
        .spawn(move || {
            connection(&k, conn);
            CONNECTIONS.fetch_sub(1, Ordering::SeqCst);
        });
    if spawned.is_err() {
        CONNECTIONS.fetch_sub(1, Ordering::SeqCst);
        tracing::warn!("control socket: cannot start a thread for a connection");
    }
}

fn refuse(conn: &OwnedFd, status: i32, message: String) {
    tracing::debug!(status, message, "control request refused");
    let _ = channel::send(conn.as_fd(), &Response::Failed { status, message }, &[]);
}

/// How long a new connection may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Sets (or, `None`, clears) the time a receive on `conn` may wait.
fn receive_timeout(conn: &OwnedFd, t: Option<Duration>) {
    // A `struct timeval`: seconds, microseconds (zero: no timeout).
    let mut tv = [0u8; 16];
    tv[..8].copy_from_slice(&t.map_or(0, |t| t.as_secs() as i64).to_ne_bytes());
    let _ = snare_platform::net::setsockopt(conn.as_fd(), libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv);
}

/// Serves one connection: an exec request, then its signals until the process ends.
fn connection(k: &Arc<Kernel>, conn: OwnedFd) {
    receive_timeout(&conn, Some(REQUEST_TIMEOUT));
    let (req, fds) = match channel::recv_on::<Request>(&conn) {
        Ok(Some(r)) => r,
        Ok(None) => return,
        Err(m) => return refuse(&conn, 1, m),
    };
    receive_timeout(&conn, None);
    let Request::Exec(req) = req else {
        return refuse(&conn, 1, "no process to signal: exec first".into());
    };
    if let Err(m) = req.check() {
        return refuse(&conn, 1, m);
    }
    if fds.len() != req.stdio.fds() {
        let m = format!(
            "{} fds came with the request, not {}",
            fds.len(),
            req.stdio.fds()
        );
        return refuse(&conn, 1, m);
    }
    let (tg, bridge) = match start(k, &req, fds) {
        Ok(started) => started,
        Err(e) => {
            let cmd = req.args.first().map_or("", String::as_str);
            let status = if matches!(e.status, 126 | 127) {
                e.status
            } else {
                1
            };
            return refuse(&conn, status, super::init::create_error(cmd, &e));
        }
    };
    tracing::debug!(pid = tg.tgid, "exec started");
    if channel::send(conn.as_fd(), &Response::Started(tg.tgid), &[]).is_err() {
        // The client is gone before it heard: nobody wants this process.
        crate::kernel::signal::group_exit(&tg, ExitStatus::Signal(libc::SIGKILL), None);
    }
    // One thread waits for the end, this one passes signals on; without a second thread,
    // the process is killed and reaped here.
    let waiter = conn.try_clone().ok().and_then(|writer| {
        let k = k.clone();
        let waited = tg.clone();
        let bridge = bridge.clone();
        std::thread::Builder::new()
            .name("snare-exec-wait".into())
            .spawn(move || report_exit(&k, &waited, bridge.as_deref(), &writer))
            .ok()
    });
    if waiter.is_none() {
        crate::kernel::signal::group_exit(&tg, ExitStatus::Signal(libc::SIGKILL), None);
        return report_exit(k, &tg, bridge.as_deref(), &conn);
    }
    signals(&conn, &tg, bridge.as_deref());
}

/// Passes the client's signals (and its terminal's resizes) on to the process; when the
/// client goes before the process has ended, the process is killed.
fn signals(conn: &OwnedFd, tg: &Arc<ThreadGroup>, bridge: Option<&Bridge>) {
    use crate::kernel::signal::{group_exit, send_to_group, user_info};
    loop {
        match channel::recv_on::<Request>(conn) {
            Ok(Some((Request::Signal(sig), _))) if (1..=64).contains(&sig) => {
                tracing::debug!(pid = tg.tgid, sig, "a signal for an exec'd process");
                send_to_group(tg, user_info(sig, snare_abi::signal::SI_USER, 0, 0));
            }
            Ok(Some((Request::Resize, _))) => {
                if let Some(b) = bridge {
                    b.sync_size();
                }
            }
            Ok(Some((other, _))) => {
                tracing::debug!(?other, "control: not a signal, ignored");
            }
            Ok(None) | Err(_) => break,
        }
    }
    if tg.state().zombie.is_none() {
        tracing::debug!(pid = tg.tgid, "exec's client is gone: killing its process");
        group_exit(tg, ExitStatus::Signal(libc::SIGKILL), None);
    }
}

/// Waits for the process's end, reaps it, lets its terminal's last output reach the host,
/// and tells the client.
fn report_exit(k: &Kernel, tg: &Arc<ThreadGroup>, bridge: Option<&Bridge>, conn: &OwnedFd) {
    let status = loop {
        let done = tg.state().zombie;
        if let Some(s) = done {
            break s;
        }
        let _ = crate::kernel::wait::block(&[&tg.exit_events], None, || tg.state().zombie.map(Ok));
    };
    k.pids
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .groups
        .remove(&tg.tgid);
    if let Some(b) = bridge {
        b.drain(std::time::Instant::now() + crate::run::TERMINAL_DRAIN);
    }
    tracing::debug!(pid = tg.tgid, status = status.shell_code(), "exec ended");
    let _ = channel::send(conn.as_fd(), &Response::Exited(status.shell_code()), &[]);
    let _ = snare_platform::net::shutdown(conn.as_fd(), libc::SHUT_RDWR);
}

/// Starts the process `req` describes, with `stdio` as its 0, 1 and 2 (three host fds), or
/// a terminal bridged to the one host pty slave sent (its controlling terminal; the bridge
/// is returned).
fn start(
    k: &Arc<Kernel>,
    req: &ExecRequest,
    stdio: Vec<OwnedFd>,
) -> Result<(Arc<ThreadGroup>, Option<Arc<Bridge>>), DoError> {
    let err = |status, message: String| DoError { status, message };
    let init_gone = k.init.get().is_none_or(|i| i.state().zombie.is_some());
    if init_gone {
        return Err(err(1, "cannot exec in a stopped container".into()));
    }
    let mut env = req.env_pairs();
    let mut envp: Vec<Vec<u8>> = req.env.iter().map(|e| e.as_bytes().to_vec()).collect();
    if !env.iter().any(|(k, _)| k == "HOME") {
        // As runc: the user's home from the container's /etc/passwd, else `/`.
        let home = home_of(k, req.uid);
        envp.push(format!("HOME={home}").into_bytes());
        env.push(("HOME".into(), home));
    }
    let path_var = env
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map_or(crate::run::DEFAULT_PATH.to_string(), |(_, v)| v.clone());
    let cwd = req.cwd.as_bytes().to_vec();
    let stat = |p: &[u8]| crate::kernel::mounts::boot_stat(&k.mounts, p);
    match stat(&cwd) {
        Ok(st) if st.st_mode & snare_abi::file::S_IFMT == snare_abi::file::S_IFDIR => {}
        Ok(_) => {
            return Err(err(
                1,
                format!("unable to start container process: chdir to cwd (\"{}\") set in config.json failed: not a directory", req.cwd),
            ))
        }
        Err(e) => {
            return Err(err(
                1,
                format!(
                    "unable to start container process: chdir to cwd (\"{}\") set in config.json \
                     failed: {}",
                    req.cwd,
                    e.description().to_lowercase()
                ),
            ))
        }
    }
    let cmd = req.args[0].as_bytes();
    let shown = &req.args[0];
    let path = crate::run::lookup(stat, cmd, &path_var, &cwd)
        .ok_or_else(|| err(127, format!("{shown}: not found")))?;
    let argv: Vec<Vec<u8>> = req.args.iter().map(|a| a.as_bytes().to_vec()).collect();
    let open = |p: &[u8]| crate::kernel::mounts::boot_open(&k.mounts, p);
    let mut creds = Creds::of(req.uid, req.gid);
    creds.groups = req.groups.clone();
    creds.caps = req.caps;
    let no_setid = |_: &[u8], _: &snare_abi::file::Stat| crate::kernel::caps::SetIds::default();
    let old = crate::kernel::ExecCreds {
        old: &creds,
        setid: &no_setid,
    };
    let image = exec(k, &path, argv, envp, &open, None, old).map_err(|e| match e.errno {
        Errno::ENOENT => err(127, format!("{shown}: not found")),
        _ => err(126, format!("{shown}: {e}")),
    })?;
    let ctx = image
        .mm
        .new_context()
        .map_err(|e| err(1, format!("cannot start the process: {e}")))?;
    let (tg, handle) = {
        let mut pids = k.pids.lock().unwrap_or_else(|e| e.into_inner());
        let pid = pids
            .allocate()
            .map_err(|e| err(1, format!("cannot start the process: {}", e.description())))?;
        // Its own session and process group; no parent in the sandbox.
        let tg = Arc::new(ThreadGroup::new(pid, None, pid, pid));
        {
            let mut st = tg.state();
            st.comm = crate::kernel::comm_of(&image.exe);
            st.exe = image.exe;
            st.args = image.args;
            st.env = image.env;
            st.did_exec = true;
            st.creds = image.creds;
            for &(resource, soft, hard) in &req.rlimits {
                let lim = snare_abi::file::Rlimit {
                    rlim_cur: soft,
                    rlim_max: hard,
                };
                st.rlimits.set(resource, lim, true).map_err(|e| {
                    err(
                        1,
                        format!("rlimit {resource} {soft}/{hard}: {}", e.description()),
                    )
                })?;
            }
        }
        let handle = TaskHandle::new(pid, tg.clone(), 0);
        tg.state().threads.push(handle.clone());
        pids.tasks.insert(pid, handle.clone());
        pids.groups.insert(pid, tg.clone());
        (tg, handle)
    };
    k.watch_stub(image.mm.space(), &tg);
    let mut host = stdio.into_iter();
    let (fds, bridge) = match (req.stdio, host.next()) {
        (Stdio::Terminal, Some(fd)) => {
            let jobs = crate::kernel::signal::TtySignals::new(k);
            let started = Bridge::start(&k.devpts, Some(Arc::new(jobs)), fd, req.uid);
            let (bridge, slave) = match started {
                Ok(b) => b,
                Err(m) => {
                    crate::kernel::signal::group_exit(&tg, ExitStatus::Signal(libc::SIGKILL), None);
                    return Err(err(1, m));
                }
            };
            // The process leads its session, with this terminal as its controlling one.
            bridge.pty().job(|j| {
                j.session = Some(tg.tgid);
                j.pgrp = tg.tgid;
            });
            (crate::run::terminal_stdio(slave), Some(bridge))
        }
        (_, first) => (
            crate::run::stdio_of([first, host.next(), host.next()]),
            None,
        ),
    };
    let task = Task::new(
        k.clone(),
        handle,
        ctx,
        image.regs,
        image.mm,
        Arc::new(fds),
        Arc::new(FsContext::new(cwd, req.umask, k.mounts.clone())),
    );
    let name = format!("task-{}", tg.tgid);
    std::thread::Builder::new()
        .name(name)
        .spawn(move || task.run())
        .map_err(|e| {
            crate::kernel::signal::group_exit(&tg, ExitStatus::Signal(libc::SIGKILL), None);
            err(1, format!("cannot start the process: {e}"))
        })?;
    Ok((tg, bridge))
}

/// Largest `/etc/passwd` read for a home directory.
const MAX_PASSWD: usize = 1 << 20;

/// `uid`'s home directory in the sandbox's `/etc/passwd`, or `/` (runc's default).
fn home_of(k: &Kernel, uid: u32) -> String {
    let Ok(f) = crate::kernel::mounts::boot_open(&k.mounts, b"/etc/passwd") else {
        return "/".into();
    };
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    while text.len() < MAX_PASSWD {
        match f.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => text.extend_from_slice(&buf[..n]),
        }
    }
    home_in(&String::from_utf8_lossy(&text), uid).unwrap_or_else(|| "/".into())
}

/// The home field of `uid`'s line in a passwd file's text.
fn home_in(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 7 && f[2].parse() == Ok(uid) && !f[5].is_empty()).then(|| f[5].to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn homes_come_from_passwd() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\nbad line\nu:x:1000:1000::/home/u:/bin/sh\n\
                      nohome:x:7:7:::/bin/sh\n";
        assert_eq!(home_in(passwd, 0).as_deref(), Some("/root"));
        assert_eq!(home_in(passwd, 1000).as_deref(), Some("/home/u"));
        assert_eq!(home_in(passwd, 7), None);
        assert_eq!(home_in(passwd, 5), None);
        assert_eq!(home_in("", 0), None);
    }
}
