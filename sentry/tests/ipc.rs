//! Differential tests of pipes, eventfd, timerfd, poll/select/epoll (`tests/guests/ipc.c`),
//! POSIX message queues (`tests/guests/mqueue.c`) and AF_UNIX sockets (`unix_*.c`): run
//! natively and under `snare do`, static and dynamic; stdout and status must match.

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
