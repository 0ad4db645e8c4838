/* Issue 15's seven loopback workloads (item 6). Both ends run in one process tree: the timed
 * process forks its peer, and everything goes over 127.0.0.1 or a socketpair.
 *
 * Usage: net MODE [N]     N operations; the default takes about 0.3-1 s natively.
 *   tcp_rr        a 1-byte request and its 1-byte answer on a TCP connection (TCP_NODELAY)
 *   tcp_stream    one 64 KiB write on a TCP connection, read whole by the peer
 *   tcp_connect   socket + connect + the peer's accept and close + the client's EOF and close
 *   udp_rr        a 1-byte datagram and its 1-byte answer between two connected UDP sockets
 *   unix_stream   one 64 KiB write on an AF_UNIX stream socketpair, read whole by the peer
 *   unix_rr       a 1-byte request/response on an AF_UNIX stream socketpair
 *   epoll_echo16  an epoll echo server (level-triggered) with 16 TCP connections: the client
 *                 sends a 64-byte message on each connection in turn and waits for its echo
 *                 (one in flight); one operation is one message
 *
 * Prints one line on stdout, `net MODE ops=N total_ns=T ns_per_op=X` (streams add
 * `mb_per_s=Y`, 10^6 bytes per second); T is the time of the N operations alone. N/16
 * untimed operations (at least one) warm the path up first. Exits non-zero, with a message
 * on stderr, on any error or if a byte comes back other than sent.
 * Build: cc -O2 -o net bench/scripts/net.c; bench/scripts/net.sh runs it natively and under
 * snare, and so does bench/benches/net.rs.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { CHUNK = 64 * 1024, CONNS = 16, MSG = 64 };

static const char *mode;
static char buf[CHUNK];

static void die(const char *what) {
    fprintf(stderr, "net %s (pid %d): %s: %s\n", mode, (int)getpid(), what, strerror(errno));
    exit(1);
}

static void fail(const char *what) {
    fprintf(stderr, "net %s (pid %d): %s\n", mode, (int)getpid(), what);
    exit(1);
}

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static void read_full(int fd, char *p, size_t len) {
    while (len > 0) {
        ssize_t r = read(fd, p, len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) die("read");
        if (r == 0) fail("read: unexpected EOF");
        p += r;
        len -= r;
    }
}

static void write_full(int fd, const char *p, size_t len) {
    while (len > 0) {
        ssize_t r = write(fd, p, len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) die("write");
        p += r;
        len -= r;
    }
}

static void nodelay(int fd) {
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one)) die("TCP_NODELAY");
}

/* A TCP listener on 127.0.0.1 at a port the kernel picks; `a` gets its address. */
static int tcp_listener(struct sockaddr_in *a, int backlog) {
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l < 0) die("socket");
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof *a;
    if (bind(l, (struct sockaddr *)a, len)) die("bind");
    if (listen(l, backlog)) die("listen");
    if (getsockname(l, (struct sockaddr *)a, &len)) die("getsockname");
    return l;
}

static int tcp_connect(const struct sockaddr_in *a) {
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c < 0) die("socket");
    if (connect(c, (const struct sockaddr *)a, sizeof *a)) die("connect");
    return c;
}

static pid_t fork_peer(void) {
    pid_t p = fork();
    if (p < 0) die("fork");
    return p;
}

static void reap(pid_t p) {
    int st;
    if (waitpid(p, &st, 0) != p) die("waitpid");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fail("the peer failed");
}

/* The peer of a request/response: answers `total` 1-byte requests with the same byte. */
static void echo_bytes(int fd, long total) {
    for (long i = 0; i < total; i++) {
        read_full(fd, buf, 1);
        write_full(fd, buf, 1);
    }
}

/* `warm` untimed, then `n` timed 1-byte round trips; returns the time of the timed ones. */
static double ping(int fd, long warm, long n) {
    double t0 = 0;
    for (long i = 0; i < warm + n; i++) {
        if (i == warm) t0 = now_ns();
        char b = (char)i, r;
        write_full(fd, &b, 1);
        read_full(fd, &r, 1);
        if (r != b) fail("wrong byte echoed");
    }
    return now_ns() - t0;
}

/* The reading end of a stream: `warm` chunks then an ack byte, `n` chunks then an ack.
 * The first byte of chunk i is (char)i. */
static void sink(int fd, long warm, long n) {
    long chunk = 0, total = warm + n;
    size_t off = 0; /* within the current chunk */
    while (chunk < total) {
        ssize_t r = read(fd, buf, CHUNK - off);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) die("read");
        if (r == 0) fail("read: unexpected EOF");
        if (off == 0 && buf[0] != (char)chunk) fail("wrong chunk received");
        off += r;
        if (off == CHUNK) {
            off = 0;
            chunk++;
            if (chunk == warm || chunk == total) write_full(fd, "k", 1);
        }
    }
}

/* The writing end: returns the time from the first timed chunk to the reader's ack. */
static double source(int fd, long warm, long n) {
    static char out[CHUNK];
    memset(out, 'x', sizeof out);
    double t0 = 0;
    for (long i = 0; i < warm + n; i++) {
        if (i == warm) {
            if (warm > 0) read_full(fd, buf, 1);
            t0 = now_ns();
        }
        out[0] = (char)i;
        write_full(fd, out, CHUNK);
    }
    read_full(fd, buf, 1);
    return now_ns() - t0;
}

/* A TCP connection between this process (returned) and a forked peer running `peer(fd)`. */
static int tcp_pair(pid_t *peer_pid, void (*peer)(int, long, long), long warm, long n) {
    struct sockaddr_in a;
    int l = tcp_listener(&a, 1);
    pid_t p = fork_peer();
    if (p == 0) {
        close(l);
        int c = tcp_connect(&a);
        nodelay(c);
        peer(c, warm, n);
        _exit(0);
    }
    int s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    if (s < 0) die("accept4");
    nodelay(s);
    close(l);
    *peer_pid = p;
    return s;
}

static int unix_pair(pid_t *peer_pid, void (*peer)(int, long, long), long warm, long n) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) die("socketpair");
    pid_t p = fork_peer();
    if (p == 0) {
        close(sv[0]);
        peer(sv[1], warm, n);
        _exit(0);
    }
    close(sv[1]);
    *peer_pid = p;
    return sv[0];
}

static void echo_peer(int fd, long warm, long n) { echo_bytes(fd, warm + n); }

static double run_rr(int (*pair)(pid_t *, void (*)(int, long, long), long, long), long warm,
                     long n) {
    pid_t p;
    int fd = pair(&p, echo_peer, warm, n);
    double t = ping(fd, warm, n);
    close(fd);
    reap(p);
    return t;
}

static double run_stream(int (*pair)(pid_t *, void (*)(int, long, long), long, long),
                         long warm, long n) {
    pid_t p;
    int fd = pair(&p, sink, warm, n);
    double t = source(fd, warm, n);
    close(fd);
    reap(p);
    return t;
}

static double udp_rr(long warm, long n) {
    int s[2];
    struct sockaddr_in a[2];
    for (int i = 0; i < 2; i++) {
        s[i] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s[i] < 0) die("socket");
        memset(&a[i], 0, sizeof a[i]);
        a[i].sin_family = AF_INET;
        a[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a[i];
        if (bind(s[i], (struct sockaddr *)&a[i], len)) die("bind");
        if (getsockname(s[i], (struct sockaddr *)&a[i], &len)) die("getsockname");
    }
    for (int i = 0; i < 2; i++)
        if (connect(s[i], (struct sockaddr *)&a[1 - i], sizeof a[1 - i])) die("connect");
    pid_t p = fork_peer();
    if (p == 0) {
        close(s[0]);
        echo_bytes(s[1], warm + n);
        _exit(0);
    }
    close(s[1]);
    double t = ping(s[0], warm, n);
    close(s[0]);
    reap(p);
    return t;
}

/* The client opens, then the peer accepts and closes at once; the client reads the EOF
 * and closes (so the TIME_WAIT sockets are the server's, reusable on loopback). */
static double tcp_connects(long warm, long n) {
    struct sockaddr_in a;
    int l = tcp_listener(&a, 128);
    pid_t p = fork_peer();
    if (p == 0) {
        for (long i = 0; i < warm + n; i++) {
            int s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
            if (s < 0) die("accept4");
            close(s);
        }
        _exit(0);
    }
    close(l);
    double t0 = 0;
    for (long i = 0; i < warm + n; i++) {
        if (i == warm) t0 = now_ns();
        int c = tcp_connect(&a);
        ssize_t r = read(c, buf, 1);
        if (r < 0) die("read");
        if (r != 0) fail("data on a connection the peer closed");
        close(c);
    }
    double t = now_ns() - t0;
    reap(p);
    return t;
}

/* The server: one epoll set with the listener and every connection it accepts; echoes what
 * it reads; returns when all CONNS connections have closed. */
static void epoll_server(int l) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1");
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = l}, evs[CONNS + 1];
    if (epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev)) die("epoll_ctl");
    int open = 0, closed = 0;
    while (closed < CONNS) {
        int k = epoll_wait(ep, evs, CONNS + 1, -1);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) die("epoll_wait");
        for (int i = 0; i < k; i++) {
            int fd = evs[i].data.fd;
            if (fd == l) {
                int s = accept4(l, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (s < 0) die("accept4");
                nodelay(s);
                ev.events = EPOLLIN;
                ev.data.fd = s;
                if (epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev)) die("epoll_ctl");
                if (++open == CONNS && epoll_ctl(ep, EPOLL_CTL_DEL, l, NULL)) die("epoll_ctl");
                continue;
            }
            ssize_t r = read(fd, buf, sizeof buf);
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (r < 0) die("read");
            if (r == 0) {
                close(fd); /* leaves the epoll set */
                closed++;
                continue;
            }
            write_full(fd, buf, r);
        }
    }
}

/* The client sends one message at a time, each on the next of the CONNS connections in
 * turn, and waits for its echo: every message goes through the server's epoll_wait. */
static double epoll_echo(long warm, long n) {
    struct sockaddr_in a;
    int l = tcp_listener(&a, CONNS);
    pid_t p = fork_peer();
    if (p == 0) {
        epoll_server(l);
        _exit(0);
    }
    close(l);
    int c[CONNS];
    for (int i = 0; i < CONNS; i++) {
        c[i] = tcp_connect(&a);
        nodelay(c[i]);
    }
    char msg[MSG], got[MSG];
    memset(msg, 'm', sizeof msg);
    double t0 = 0;
    for (long i = 0; i < warm + n; i++) {
        if (i == warm) t0 = now_ns();
        int fd = c[i % CONNS];
        msg[0] = (char)i;
        msg[1] = (char)(i >> 8);
        write_full(fd, msg, MSG);
        read_full(fd, got, MSG);
        if (memcmp(got, msg, MSG)) fail("wrong message echoed");
    }
    double t = now_ns() - t0;
    for (int i = 0; i < CONNS; i++) close(c[i]);
    reap(p);
    return t;
}

int main(int argc, char **argv) {
    static const struct {
        const char *name;
        long n; /* default operations */
        int stream;
    } modes[] = {
        {"tcp_rr", 20000, 0},     {"tcp_stream", 15000, 1}, {"tcp_connect", 6000, 0},
        {"udp_rr", 25000, 0},     {"unix_stream", 25000, 1}, {"unix_rr", 30000, 0},
        {"epoll_echo16", 25000, 0},
    };
    int m = -1;
    for (size_t i = 0; argc >= 2 && i < sizeof modes / sizeof modes[0]; i++)
        if (!strcmp(argv[1], modes[i].name)) m = (int)i;
    if (m < 0 || argc > 3) {
        fprintf(stderr, "usage: net MODE [N]; MODE is one of");
        for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
            fprintf(stderr, " %s", modes[i].name);
        fprintf(stderr, "\n");
        return 2;
    }
    mode = argv[1];
    long n = argc == 3 ? atol(argv[2]) : modes[m].n;
    if (n <= 0) fail("N must be positive");
    long warm = n / 16 > 0 ? n / 16 : 1;
    alarm(300); /* a hang ends in SIGALRM rather than forever; the peer inherits none */

    double t;
    if (!strcmp(mode, "tcp_rr")) t = run_rr(tcp_pair, warm, n);
    else if (!strcmp(mode, "tcp_stream")) t = run_stream(tcp_pair, warm, n);
    else if (!strcmp(mode, "tcp_connect")) t = tcp_connects(warm, n);
    else if (!strcmp(mode, "udp_rr")) t = udp_rr(warm, n);
    else if (!strcmp(mode, "unix_stream")) t = run_stream(unix_pair, warm, n);
    else if (!strcmp(mode, "unix_rr")) t = run_rr(unix_pair, warm, n);
    else t = epoll_echo(warm, n);

    printf("net %s ops=%ld total_ns=%.0f ns_per_op=%.0f", mode, n, t, t / n);
    if (modes[m].stream) printf(" mb_per_s=%.0f", (double)n * CHUNK / t * 1e3);
    printf("\n");
    return 0;
}
