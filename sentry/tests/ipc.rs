//! Differential tests of pipes, eventfd, timerfd, poll/select/epoll (`tests/guests/ipc.c`),
//! POSIX message queues (`tests/guests/mqueue.c`), System V IPC (`sysv_{shm,sem,msg}.c`,
//! and util-linux's `ipcmk`/`ipcs`/`ipcrm`), AF_UNIX sockets (`unix_*.c`) and TCP/UDP
//! sockets on loopback (`inet_*.c`, real programs): run natively and under `snare do`,
//! static and dynamic; stdout and status must match.

mod common;

use common::*;

#[test]
fn ipc() {
    c_program("ipc", &[]);
}

#[test]
fn mqueue() {
    c_program("mqueue", &[]);
}

/// System V shared memory (`tests/guests/sysv_shm.c`): sharing across fork and by key,
/// attach addresses, `shm_nattch` across fork, exec and exit, removal while attached,
/// permissions, /proc/sysvipc/shm.
#[test]
fn sysv_shm() {
    c_program("sysv_shm", &[]);
}

/// System V semaphores (`tests/guests/sysv_sem.c`): atomic arrays, blocking, a signal
/// (EINTR), removal (EIDRM), SEM_UNDO at exit, permissions.
#[test]
fn sysv_sem() {
    c_program("sysv_sem", &[]);
}

/// System V message queues (`tests/guests/sysv_msg.c`): type selection, MSG_COPY, full
/// queues, blocking, EINTR, permissions.
#[test]
fn sysv_msg() {
    c_program("sysv_msg", &[]);
}

/// util-linux's `ipcmk`, `ipcs -i` and `ipcrm` natively and under snare: the same text
/// once ids, pids and times are blanked (the host's namespace gives other ids). `ipcs -l`
/// too when the host's IPC sysctls are Linux's defaults (the sandbox's are).
#[test]
fn ipcs_tools() {
    if ["ipcs", "ipcmk", "ipcrm"]
        .iter()
        .any(|t| !std::path::Path::new("/usr/bin").join(t).exists())
    {
        eprintln!("skipped: util-linux's ipc tools are not installed");
        return;
    }
    let defaults = [
        ("shmmni", "4096"),
        ("shmmax", "18446744073692774399"),
        ("shmall", "18446744073692774399"),
        ("sem", "32000\t1024000000\t500\t32000"),
        ("msgmax", "8192"),
        ("msgmnb", "16384"),
        ("msgmni", "32000"),
    ]
    .iter()
    .all(|(f, v)| {
        std::fs::read_to_string(format!("/proc/sys/kernel/{f}")).is_ok_and(|s| s.trim() == *v)
    });
    let script = format!(
        "set -e
m=$(ipcmk -M 5000 -p 0640 | awk '{{print $NF}}')
s=$(ipcmk -S 3 | awk '{{print $NF}}')
q=$(ipcmk -Q | awk '{{print $NF}}')
ipcs -m -i $m
ipcs -s -i $s
ipcs -q -i $q
{}
ipcrm -m $m -s $s -q $q
ipcs -m -i $m 2>&1 || echo gone
",
        if defaults { "ipcs -l" } else { "" }
    );
    let sh = std::path::Path::new("/bin/sh");
    let args = ["-c", script.as_str()];
    let (n, s) = (native(sh, &args), snare(sh, &args));
    assert!(n.status.success(), "natively: {n:?}");
    assert_eq!(n.status.code(), s.status.code(), "snare: {s:?}");
    let (n, s) = (normalise(&n), normalise(&s));
    assert_eq!(n, s);
    assert!(n.contains("bytes=5000"), "{n}");
}

/// The output with numbers that differ between namespaces blanked: ids, pids, times.
fn normalise(o: &std::process::Output) -> String {
    let text = String::from_utf8_lossy(&o.stdout);
    text.lines()
        .map(|l| {
            if l.contains("time") && !l.contains("Not set") {
                let end = l.find('=').map_or(l.len(), |i| i + 1);
                return format!("{}<time>", &l[..end]);
            }
            l.split_inclusive(|c: char| c == '=' || c.is_whitespace())
                .map(|w| {
                    let blank = ["shmid=", "semid=", "msqid=", "cpid="].contains(&w);
                    (w, blank)
                })
                .fold(
                    (String::new(), false),
                    |(mut acc, blank_next), (w, blank)| {
                        if blank_next {
                            let rest = w.trim_start_matches(|c: char| c.is_ascii_digit());
                            acc.push('N');
                            acc.push_str(rest);
                        } else if l.starts_with("ipcs: id ") && w.trim().parse::<u32>().is_ok() {
                            acc.push('N');
                            acc.push_str(&w[w.trim_end().len()..]);
                        } else {
                            acc.push_str(w);
                        }
                        (acc, blank)
                    },
                )
                .0
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// AF_UNIX socketpairs (`tests/guests/unix_pair.c`): stream, datagram and seqpacket data,
/// flags, shutdown, readiness, options, signals.
#[test]
fn unix_pair() {
    c_program("unix_pair", &[]);
}

/// SCM_RIGHTS (pipes, memfds, epoll, sockets, files) and SCM_CREDENTIALS, truncation,
/// limits, hostile control messages (`tests/guests/unix_rights.c`).
#[test]
fn unix_rights() {
    c_program("unix_rights", &[]);
}

/// socket, bind (pathname, abstract, autobind), listen, accept4, connect across fork,
/// datagrams by address, and every call's errors (`tests/guests/unix_bind.c`).
#[test]
fn unix_bind() {
    c_program("unix_bind", &[]);
}

/// SO_RCVTIMEO and SO_SNDTIMEO on AF_UNIX sockets (`tests/guests/unix_timeouts.c`):
/// values, bad values, receives, sends, accept and datagrams timing out, signals.
#[test]
fn unix_timeouts() {
    c_program("unix_timeouts", &[]);
}

/// TCP over loopback, IPv4 and IPv6, both ends in the sandbox (`tests/guests/inet_tcp.c`):
/// blocking and non-blocking connect, refused connections, accept4, poll and epoll
/// readiness, shutdown, names, options, FIONREAD, a 4 MiB transfer, EPIPE, signals.
#[test]
fn inet_tcp() {
    c_program("inet_tcp", &[]);
}

/// UDP over loopback, IPv4 and IPv6 (`tests/guests/inet_udp.c`): addresses, connected
/// sockets, datagram boundaries across iovecs, MSG_TRUNC, readiness, EMSGSIZE.
#[test]
fn inet_udp() {
    c_program("inet_udp", &[]);
}

/// epoll over TCP and UDP sockets (`tests/guests/inet_epoll.c`): level, edge and one-shot
/// interests, MOD, two fds of one socket, closes with and without DEL, sockets beside a
/// pipe and an eventfd, nested epolls and poll of an epoll, signals, timeouts, an echo
/// server.
#[test]
fn inet_epoll() {
    c_program("inet_epoll", &[]);
}

/// Bad families, types, protocols, addresses, lengths, fds, options and control messages
/// of AF_INET/AF_INET6 sockets get Linux's errnos (`tests/guests/inet_bad.c`).
#[test]
fn inet_bad() {
    c_program("inet_bad", &[]);
}

/// NETLINK_ROUTE (`tests/guests/netlink.c`): getifaddrs, if_nameindex, raw dumps of links,
/// addresses and routes checked message by message, single requests and their
/// acknowledgements, names and options, hostile requests (bad lengths, unknown and control
/// types, a second dump, tiny buffers with MSG_TRUNC and MSG_PEEK). Natively it moves into a
/// network namespace of its own with only `lo` up, as the sandbox's.
#[test]
fn netlink() {
    c_program("netlink", &[]);
}

/// A real server and client in one sandbox: python's `http.server` on 127.0.0.1 at a port
/// the kernel picks, in a thread, fetched by `urllib` (and a refused connection after it
/// shut down).
#[test]
fn http_server_in_python() {
    let script = r#"
import http.server, socket, threading, urllib.error, urllib.request
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("hello from " + self.path).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
port = srv.server_address[1]
t = threading.Thread(target=srv.serve_forever)
t.start()
for path in ["/", "/a/b?c=d"]:
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
        print(r.status, r.headers["Content-Length"], r.read().decode())
srv.shutdown()
t.join()
srv.server_close()
try:
    urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=10)
except urllib.error.URLError as e:
    print("after close:", type(e.reason).__name__)
"#;
    same_with(
        std::path::Path::new("/usr/bin/python3"),
        &["-c", script],
        true,
    );
}

/// Python's multiprocessing over sockets: a `forkserver` pool (AF_UNIX, fds passed to the
/// fork server) and a `Manager` (a server process its proxies reach over a socket).
#[test]
fn multiprocessing_forkserver_and_manager() {
    let script = r#"
import multiprocessing as mp
def sq(x):
    return x * x
if __name__ == "__main__":
    ctx = mp.get_context("forkserver")
    with ctx.Pool(2) as p:
        print(sum(p.map(sq, range(100))))
    with mp.Manager() as m:
        d = m.dict()
        l = m.list(range(5))
        d["a"] = 1
        l.append(9)
        print(dict(d), list(l))
"#;
    let dir = common::scratch().join("mp_forkserver");
    std::fs::create_dir_all(&dir).expect("scratch");
    let path = dir.join("mp.py");
    std::fs::write(&path, script).expect("script");
    same_with(
        std::path::Path::new("/usr/bin/python3"),
        &[path.to_str().expect("utf-8 path")],
        true,
    );
}

/// TLS over loopback: `openssl s_server` with a fresh self-signed key, fetched by
/// `openssl s_client` (a handshake, then an HTTP request through `-www`).
#[test]
fn openssl_server_and_client() {
    if !std::path::Path::new("/usr/bin/openssl").exists() {
        eprintln!("skipped: no /usr/bin/openssl");
        return;
    }
    let script = r#"
set -e
d=$(mktemp -d)
cd "$d"
openssl req -x509 -newkey rsa:2048 -nodes -keyout k.pem -out c.pem -days 1 -subj /CN=localhost 2>/dev/null
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
openssl s_server -accept 127.0.0.1:$port -cert c.pem -key k.pem -www -quiet >/dev/null 2>&1 &
srv=$!
up=no
for i in $(seq 1 100); do
  if openssl s_client -connect 127.0.0.1:$port </dev/null 2>/dev/null | grep -q "BEGIN CERTIFICATE"; then up=yes; break; fi
  sleep 0.1
done
echo "server up: $up"
printf 'GET / HTTP/1.0\r\n\r\n' | openssl s_client -connect 127.0.0.1:$port -quiet 2>/dev/null | head -1 | tr -d '\r'
kill $srv
wait $srv || true
rm -rf "$d"
"#;
    same_with(std::path::Path::new("/bin/bash"), &["-c", script], true);
}

/// Under `--network none` (the default) the guest, root inside, binds ports below 1024 in
/// the sandbox's own namespace (`ip_unprivileged_port_start` 0, as Docker sets it). Not
/// differential: natively port 80 may be the host's.
#[test]
fn low_ports_bind_in_the_sandbox() {
    let script = "import socket\ns = socket.socket()\ns.bind(('127.0.0.1', 80))\nprint('bound')";
    let o = snare(std::path::Path::new("/usr/bin/python3"), &["-c", script]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "bound\n",
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// asyncio streams (eight clients at once on one epoll loop, lines of 60 kB) and a
/// threading UDP socketserver, in python.
#[test]
fn asyncio_and_socketserver_in_python() {
    let script = r#"
import asyncio, socket, socketserver, threading
async def handle(r, w):
    while line := await r.readline():
        w.write(line.upper())
        await w.drain()
    w.close()
    await w.wait_closed()
async def main():
    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    async def client(i, n):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        out = []
        for j in range(n):
            w.write(b"msg %d %d\n" % (i, j))
            await w.drain()
            out.append(await r.readline())
        w.write(b"y" * 60000 + b"\n")
        await w.drain()
        big = await r.readline()
        w.close()
        await w.wait_closed()
        return len(out), out[-1], len(big)
    print(await asyncio.gather(*[client(i, 20) for i in range(8)]))
    srv.close()
    await srv.wait_closed()
asyncio.run(main())
class H(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        sock.sendto(data[::-1], self.client_address)
s = socketserver.ThreadingUDPServer(("127.0.0.1", 0), H)
t = threading.Thread(target=s.serve_forever)
t.start()
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
    c.settimeout(10)
    for m in [b"hello udp", b"second"]:
        c.sendto(m, s.server_address)
        print(c.recvfrom(100)[0])
s.shutdown()
t.join()
s.server_close()
"#;
    same_with(
        std::path::Path::new("/usr/bin/python3"),
        &["-c", script],
        true,
    );
}

/// curl fetching from python's http.server, both in one sandbox (the port goes through a
/// file in /tmp, the sandbox's own under snare).
#[test]
fn curl_from_http_server() {
    if !std::path::Path::new("/usr/bin/curl").exists() {
        return;
    }
    let script = r#"f=/tmp/snare-curl-port.$$
python3 -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        b = ("curl got " + self.path + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1] + ".new", "w").write(str(s.server_address[1]))
__import__("os").rename(sys.argv[1] + ".new", sys.argv[1])
s.handle_request()
s.handle_request()
' "$f" &
while [ ! -s "$f" ]; do sleep 0.05; done
port=$(cat "$f")
rm -f "$f"
curl -sS "http://127.0.0.1:$port/a"
curl -sS -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$port/b"
wait
"#;
    same_with(std::path::Path::new("/bin/sh"), &["-c", script], true);
}

/// Real programs on AF_UNIX sockets: python's socketpair, multiprocessing.Pipe across a
/// fork, send_fds/recv_fds and a threading socketserver.UnixStreamServer; perl's
/// socketpair across a fork.
#[test]
fn unix_sockets_in_python_and_perl() {
    let script = r#"
import multiprocessing, os, socket, socketserver, tempfile, threading
a, b = socket.socketpair()
a.sendall(b"hello " * 1000)
a.shutdown(socket.SHUT_WR)
data = b""
while True:
    c = b.recv(4096)
    if not c: break
    data += c
print("socketpair", len(data))
def child(conn):
    conn.send({"sq": [i * i for i in range(5)]})
    conn.send(conn.recv() + 1)
    conn.close()
if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    p, c = multiprocessing.Pipe()
    pr = multiprocessing.Process(target=child, args=(c,))
    pr.start()
    print("pipe", p.recv())
    p.send(41)
    print("pipe", p.recv())
    pr.join()
    print("exit", pr.exitcode)
    x, y = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    r, w = os.pipe()
    socket.send_fds(x, [b"fd"], [w])
    msg, fds, flags, addr = socket.recv_fds(y, 10, 4)
    os.write(fds[0], b"through")
    print("fds", msg, os.read(r, 10))
    d = tempfile.mkdtemp()
    path = os.path.join(d, "srv.sock")
    class H(socketserver.StreamRequestHandler):
        def handle(self):
            self.wfile.write(b"echo: " + self.rfile.readline())
    with socketserver.ThreadingUnixStreamServer(path, H) as srv:
        t = threading.Thread(target=srv.serve_forever)
        t.start()
        out = []
        for i in range(3):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(path)
                s.sendall(b"line %d\n" % i)
                out.append(s.makefile().readline().strip())
        srv.shutdown()
        t.join()
    print(out)
    os.unlink(path)
    os.rmdir(d)
"#;
    same_with(
        std::path::Path::new("/usr/bin/python3"),
        &["-c", script],
        true,
    );
    let perl = r#"use Socket;
socketpair(my $a, my $b, AF_UNIX, SOCK_STREAM, PF_UNSPEC) or die "socketpair: $!";
my $pid = fork();
if ($pid == 0) { close $a; print $b "from child\n"; close $b; exit 0; }
close $b; my $l = <$a>; waitpid($pid, 0); print "perl got: $l";"#;
    same_with(std::path::Path::new("/usr/bin/perl"), &["-e", perl], true);
}

/// Real network tools under snare (iproute2's `ip` and `ss`, net-tools' `netstat` and
/// `ifconfig`, python's `socket.if_nameindex`) see the sandbox's `lo`, its addresses and
/// routes through NETLINK_ROUTE and the interface ioctls, and a listening TCP socket and an abstract AF_UNIX one the guest opened
/// through `/proc/net` (`ss` falls back to it when NETLINK_SOCK_DIAG is refused), with the
/// inode `/proc/self/fd` shows. Changes are refused (EPERM), other netlink protocols are
/// EPROTONOSUPPORT.
#[test]
fn network_tools() {
    let script = r#"
import os, socket, subprocess
t = socket.socket()
t.bind(("127.0.0.1", 0))
t.listen()
print("port", t.getsockname()[1])
print("fd", os.readlink("/proc/self/fd/%d" % t.fileno()))
u = socket.socket(socket.AF_UNIX)
u.bind("\0snare-netlink-test")
u.listen()
for cmd in ["ip addr", "ip link", "ip route", "ip route show table local", "ss -tlne",
            "ss -xa", "netstat -tan", "ifconfig lo", "ip link set lo down", "ifconfig lo down"]:
    r = subprocess.run(cmd.split(), capture_output=True, text=True)
    print("$ %s -> %d" % (cmd, r.returncode))
    print(r.stdout + r.stderr, end="")
print("if_nameindex", socket.if_nameindex())
print("if_nametoindex", socket.if_nametoindex("lo"), socket.if_indextoname(1))
try:
    socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 9)
except OSError as e:
    print("NETLINK_AUDIT", e.errno)
"#;
    let out = std::process::Command::new(SNARE)
        .args(["do", "--", "/usr/bin/python3", "-c", script])
        .output()
        .expect("run snare");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}\n{err}");
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in {text}"))
            .trim()
            .to_string()
    };
    let port = field("port ");
    let ino = field("fd ")
        .trim_start_matches("socket:[")
        .trim_end_matches(']')
        .to_string();
    let mut want = vec![
        "$ ip addr -> 0".to_string(),
        "inet 127.0.0.1/8 scope host lo".into(),
        "inet6 ::1/128 scope host".into(),
        "$ ip link -> 0".into(),
        "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536".into(),
        "link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00".into(),
        "$ ip route -> 0".into(),
        "local 127.0.0.1 dev lo proto kernel scope host src 127.0.0.1".into(),
        "$ ss -tlne -> 0".into(),
        format!("127.0.0.1:{port}"),
        format!("ino:{ino} "),
        "$ ss -xa -> 0".into(),
        "@snare-netlink-test".into(),
        "$ netstat -tan -> 0".into(),
        "$ ip link set lo down -> 2".into(),
        "RTNETLINK answers: Operation not permitted".into(),
        "$ ifconfig lo -> 0".into(),
        "inet 127.0.0.1  netmask 255.0.0.0".into(),
        "SIOCSIFFLAGS: Operation not permitted".into(),
        "if_nameindex [(1, 'lo')]".into(),
        "if_nametoindex 1 lo".into(),
        "NETLINK_AUDIT 93".into(),
    ];
    // netstat's line for the listener.
    want.push(format!(
        "tcp        0      0 127.0.0.1:{port:<14}0.0.0.0:*               LISTEN"
    ));
    for w in &want {
        assert!(text.contains(w.as_str()), "missing {w:?} in\n{text}\n{err}");
    }
}
