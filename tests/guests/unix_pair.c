// socketpair(2) for AF_UNIX stream, datagram and seqpacket sockets: data, message
// boundaries, MSG_* flags, shutdown, EOF/EPIPE/ECONNRESET, buffers, poll/epoll readiness,
// FIONREAD, fstat, /proc/self/fd, options, signals interrupting a blocked receive.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

static void show(const char *what, long r) {
    if (r < 0)
        printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else
        printf("%s: %ld\n", what, r);
}

static void expect(const char *what, int ok) {
    printf("%s: %s\n", what, ok ? "ok" : "WRONG");
    if (!ok) failures++;
}

static void pair(int type, int sv[2]) {
    if (socketpair(AF_UNIX, type, 0, sv)) {
        perror("socketpair");
        exit(1);
    }
}

static unsigned pollev(int fd) {
    struct pollfd p = {fd, POLLIN | POLLOUT | POLLRDHUP, 0};
    poll(&p, 1, 0);
    return p.revents;
}

static volatile int sigs;
static int wake_fd = -1;
static void on_sig(int s) {
    (void)s;
    sigs++;
    if (wake_fd >= 0) write(wake_fd, "w", 1);
}

static void creation(void) {
    int sv[2];
    pair(SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, sv);
    expect("nonblock flag", (fcntl(sv[0], F_GETFL) & (O_NONBLOCK | O_ACCMODE)) == (O_NONBLOCK | O_RDWR));
    expect("cloexec flag", fcntl(sv[1], F_GETFD) == FD_CLOEXEC);
    struct stat st;
    fstat(sv[0], &st);
    expect("fstat S_IFSOCK 0777", S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0777);
    char link[64], want[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", sv[0]);
    ssize_t n = readlink(link, want, sizeof want - 1);
    want[n > 0 ? n : 0] = 0;
    char exp[64];
    snprintf(exp, sizeof exp, "socket:[%lu]", (unsigned long)st.st_ino);
    expect("proc fd link", strcmp(want, exp) == 0);
    close(sv[0]);
    close(sv[1]);
    show("socket type 0", socket(AF_UNIX, 0, 0));
    show("socket type 99", socket(AF_UNIX, 99, 0));
    show("socket bad flag", socket(AF_UNIX, SOCK_STREAM | 0x100, 0));
    show("socket protocol 2", socket(AF_UNIX, SOCK_STREAM, 2));
    show("socket family 46", socket(46, SOCK_STREAM, 0));
    show("socket family -1", socket(-1, SOCK_STREAM, 0));
    int *volatile bad = (int *)8;
    show("socketpair bad addr", socketpair(AF_UNIX, SOCK_STREAM, 0, bad));
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    show("unconnected send", send(s, "x", 1, MSG_NOSIGNAL));
    char b[4];
    show("unconnected recv", recv(s, b, 4, 0));
    struct sockaddr_un a;
    socklen_t al = sizeof a;
    show("unconnected getpeername", getpeername(s, (struct sockaddr *)&a, &al));
    printf("unconnected poll: %#x\n", pollev(s));
    close(s);
    int p[2];
    pipe(p);
    show("send on a pipe", send(p[1], "x", 1, 0));
    show("recv on bad fd", recv(999, b, 4, 0));
    close(p[0]);
    close(p[1]);
}

static void stream(void) {
    int sv[2];
    char buf[64];
    pair(SOCK_STREAM, sv);
    printf("fresh poll: %#x %#x\n", pollev(sv[0]), pollev(sv[1]));
    show("write", write(sv[0], "hello", 5));
    struct iovec iov[2] = {{" wor", 4}, {"ld", 2}};
    show("writev", writev(sv[0], iov, 2));
    printf("poll with data: %#x\n", pollev(sv[1]));
    int q = -1;
    ioctl(sv[1], FIONREAD, &q);
    printf("FIONREAD %d\n", q);
    show("peek", recv(sv[1], buf, 3, MSG_PEEK));
    show("read", read(sv[1], buf, 5));
    char a[3], b2[8];
    struct iovec rv[2] = {{a, 3}, {b2, 8}};
    ssize_t n = readv(sv[1], rv, 2);
    printf("readv %zd %.3s%.*s\n", n, a, (int)(n > 3 ? n - 3 : 0), b2);
    show("dontwait empty", recv(sv[1], buf, 4, MSG_DONTWAIT));
    // WAITALL gathers pieces written by a child.
    pid_t c = fork();
    if (c == 0) {
        for (int i = 0; i < 4; i++) {
            write(sv[0], "abcd", 4);
            usleep(2000);
        }
        _exit(0);
    }
    n = recv(sv[1], buf, 16, MSG_WAITALL);
    printf("waitall %zd %.16s\n", n, buf);
    waitpid(c, 0, 0);
    // Shutdown: SHUT_WR is the peer's end-of-file.
    show("shutdown bad how", shutdown(sv[0], 7));
    show("shutdown wr", shutdown(sv[0], SHUT_WR));
    show("read after peer shut_wr", read(sv[1], buf, 4));
    printf("poll after shut_wr: %#x %#x\n", pollev(sv[0]), pollev(sv[1]));
    show("send after shut_wr", send(sv[0], "x", 1, MSG_NOSIGNAL));
    show("reverse still works", write(sv[1], "back", 4));
    show("read back", read(sv[0], buf, 4));
    close(sv[0]);
    printf("poll after close: %#x\n", pollev(sv[1]));
    signal(SIGPIPE, on_sig);
    sigs = 0;
    show("write to closed", write(sv[1], "x", 1));
    show("send nosignal to closed", send(sv[1], "x", 1, MSG_NOSIGNAL));
    printf("SIGPIPEs %d\n", sigs);
    signal(SIGPIPE, SIG_DFL);
    close(sv[1]);
    // Closing with unread data resets the peer.
    pair(SOCK_STREAM, sv);
    write(sv[0], "unread", 6);
    close(sv[1]);
    show("read after reset", read(sv[0], buf, 4));
    show("read again", read(sv[0], buf, 4));
    close(sv[0]);
}

static void packets(int type, const char *name) {
    int sv[2];
    char buf[64];
    printf("-- %s\n", name);
    pair(type, sv);
    send(sv[0], "abcdef", 6, 0);
    send(sv[0], "", 0, 0);
    send(sv[0], "xy", 2, 0);
    int q = -1;
    ioctl(sv[1], FIONREAD, &q);
    printf("FIONREAD %d\n", q);
    show("short recv", recv(sv[1], buf, 4, 0));
    show("empty message", recv(sv[1], buf, 4, 0));
    show("recv trunc", recv(sv[1], buf, 1, MSG_TRUNC));
    send(sv[0], "0123456789", 10, 0);
    struct iovec v = {buf, 3};
    struct msghdr m = {0};
    m.msg_iov = &v;
    m.msg_iovlen = 1;

    ssize_t n = recvmsg(sv[1], &m, 0);
    printf("recvmsg %zd flags %#x\n", n, m.msg_flags & (MSG_TRUNC | MSG_CTRUNC));
    struct iovec w[3] = {{"ab", 2}, {"cd", 2}, {"ef", 2}};
    writev(sv[0], w, 3);
    show("writev is one message", read(sv[1], buf, 64));
    static char big[300000];
    show("too big", send(sv[0], big, sizeof big, 0));
    int nb = 0;
    for (;;) {
        if (send(sv[0], "z", 1, MSG_DONTWAIT) < 0) {
            printf("filled: %s\n", strerrorname_np(errno));
            break;
        }
        nb++;
    }
    printf("poll full: %#x\n", pollev(sv[0]) & POLLOUT);
    int got = 0;
    while (recv(sv[1], buf, 64, MSG_DONTWAIT) == 1) got++;
    expect("all datagrams back", got == nb && nb > 10);
    printf("poll drained: %#x\n", pollev(sv[0]) & POLLOUT);
    close(sv[1]);
    printf("poll after close: %#x\n", pollev(sv[0]));
    show("send to closed", send(sv[0], "x", 1, MSG_NOSIGNAL));
    show("send again", send(sv[0], "x", 1, MSG_NOSIGNAL));
    close(sv[0]);
    pair(type, sv);
    // No SIGPIPE from datagram and seqpacket sockets (Linux raises it for streams only).
    signal(SIGPIPE, on_sig);
    sigs = 0;
    shutdown(sv[0], SHUT_WR);
    show("write after own shut_wr", write(sv[0], "x", 1));
    show("send after own shut_wr", send(sv[0], "x", 1, 0));
    printf("SIGPIPEs %d\n", sigs);
    signal(SIGPIPE, SIG_DFL);
    close(sv[0]);
    close(sv[1]);
    pair(type, sv);
    shutdown(sv[1], SHUT_RD);
    show("send to shut_rd peer", send(sv[0], "x", 1, MSG_NOSIGNAL));
    show("recv after own shut_rd", recv(sv[1], buf, 4, 0));
    show("recv dontwait after shut_rd", recv(sv[1], buf, 4, MSG_DONTWAIT));
    close(sv[0]);
    close(sv[1]);
}

static void fill_stream(void) {
    int sv[2];
    pair(SOCK_STREAM | SOCK_NONBLOCK, sv);
    static char chunk[10000];
    long total = 0;
    for (;;) {
        ssize_t n = write(sv[0], chunk, sizeof chunk);
        if (n < 0) {
            printf("stream filled: %s\n", strerrorname_np(errno));
            break;
        }
        total += n;
    }
    printf("poll full: %#x\n", pollev(sv[0]) & POLLOUT);
    long got = 0;
    static char buf[65536];
    for (;;) {
        ssize_t n = read(sv[1], buf, sizeof buf);
        if (n <= 0) break;
        got += n;
    }
    expect("stream drained all", got == total && total >= 100000);
    printf("poll drained: %#x\n", pollev(sv[0]) & POLLOUT);
    close(sv[0]);
    close(sv[1]);
    // A megabyte and more across a fork, blocking.
    pair(SOCK_STREAM, sv);
    pid_t c = fork();
    if (c == 0) {
        static char big[3 << 20];
        for (size_t i = 0; i < sizeof big; i++) big[i] = (char)(i * 7);
        ssize_t w = write(sv[0], big, sizeof big);
        _exit(w == sizeof big ? 0 : 1);
    }
    close(sv[0]);
    long sum = 0, count = 0;
    for (;;) {
        ssize_t n = read(sv[1], buf, sizeof buf);
        if (n <= 0) break;
        for (ssize_t i = 0; i < n; i++) sum += (unsigned char)buf[i] ^ (unsigned char)(char)((count + i) * 7);
        count += n;
    }
    int status;
    waitpid(c, &status, 0);
    printf("big transfer %ld bytes, %ld wrong, child %d\n", count, sum, WEXITSTATUS(status));
    close(sv[1]);
}

static void readiness(void) {
    int sv[2];
    pair(SOCK_STREAM, sv);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET | EPOLLRDHUP, .data.fd = sv[1]};
    epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &ev);
    struct epoll_event out[4];
    show("epoll empty", epoll_wait(ep, out, 4, 0));
    write(sv[0], "a", 1);
    int n = epoll_wait(ep, out, 4, 0);
    printf("epoll after write: %d %#x\n", n, n > 0 ? out[0].events : 0);
    show("epoll edge consumed", epoll_wait(ep, out, 4, 0));
    write(sv[0], "b", 1);
    n = epoll_wait(ep, out, 4, 0);
    printf("epoll second write: %d %#x\n", n, n > 0 ? out[0].events : 0);
    shutdown(sv[0], SHUT_WR);
    n = epoll_wait(ep, out, 4, 0);
    printf("epoll after shut_wr: %d %#x\n", n, n > 0 ? out[0].events : 0);
    close(ep);
    // A reader blocked in poll is woken by a child's write.
    pid_t c = fork();
    if (c == 0) {
        usleep(20000);
        write(sv[1], "z", 1);
        _exit(0);
    }
    struct pollfd p = {sv[0], POLLIN, 0};
    n = poll(&p, 1, 5000);
    printf("poll woken: %d %#x\n", n, p.revents);
    waitpid(c, 0, 0);
    close(sv[0]);
    close(sv[1]);
}

static void options(void) {
    int sv[2];
    pair(SOCK_DGRAM, sv);
    int v;
    socklen_t l = sizeof v;
    getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &v, &l);
    printf("SO_TYPE %d len %u\n", v, l);
    getsockopt(sv[0], SOL_SOCKET, SO_DOMAIN, &v, &l);
    printf("SO_DOMAIN %d\n", v);
    getsockopt(sv[0], SOL_SOCKET, SO_ERROR, &v, &l);
    printf("SO_ERROR %d\n", v);
    getsockopt(sv[0], SOL_SOCKET, SO_ACCEPTCONN, &v, &l);
    printf("SO_ACCEPTCONN %d\n", v);
    getsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &v, &l);
    printf("SO_PASSCRED %d\n", v);
    v = 1;
    setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &v, sizeof v);
    getsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &v, &l);
    printf("SO_PASSCRED after set %d\n", v);
    v = 65536;
    show("set SO_SNDBUF", setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof v));
    getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, &l);
    printf("SO_SNDBUF %d\n", v);
    v = 10000;
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
    getsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &v, &l);
    printf("SO_RCVBUF %d\n", v);
    v = 1;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
    getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, &l);
    printf("SO_SNDBUF min %d\n", v);
    struct ucred cr;
    socklen_t cl = sizeof cr;
    getsockopt(sv[1], SOL_SOCKET, SO_PEERCRED, &cr, &cl);
    expect("SO_PEERCRED", cl == sizeof cr && cr.pid == getpid() && cr.uid == geteuid() && cr.gid == getegid());
    short sh = 0;
    l = 2;
    show("short optlen", getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &sh, &l));
    printf("short optlen -> %u %d\n", l, sh);
    l = -1;
    show("negative optlen", getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &v, &l));
    l = sizeof v;
    show("unknown option", getsockopt(sv[0], SOL_SOCKET, 12345, &v, &l));
    show("set unknown option", setsockopt(sv[0], SOL_SOCKET, 12345, &v, sizeof v));
    show("set short", setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, 2));
    show("optval fault", getsockopt(sv[0], SOL_SOCKET, SO_TYPE, (void *)8, &l));
    struct sockaddr_un a;
    socklen_t al = sizeof a;
    show("getsockname", getsockname(sv[0], (struct sockaddr *)&a, &al));
    printf("getsockname len %u family %d\n", al, a.sun_family);
    al = sizeof a;
    show("getpeername", getpeername(sv[0], (struct sockaddr *)&a, &al));
    printf("getpeername len %u\n", al);
    close(sv[0]);
    close(sv[1]);
}

static void interrupted(void) {
    int sv[2];
    char buf[8];
    pair(SOCK_STREAM, sv);
    struct sigaction sa = {0};
    sa.sa_handler = on_sig;
    sigaction(SIGALRM, &sa, 0);
    struct itimerval it = {{0, 0}, {0, 30000}};
    setitimer(ITIMER_REAL, &it, 0);
    show("recv interrupted", recv(sv[1], buf, 8, 0));
    // With SA_RESTART the receive goes on, and gets what the handler sent.
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, 0);
    wake_fd = sv[0];
    setitimer(ITIMER_REAL, &it, 0);
    show("recv restarted", recv(sv[1], buf, 8, 0));
    wake_fd = -1;
    close(sv[0]);
    close(sv[1]);
}

int main(void) {
    setvbuf(stdout, 0, _IONBF, 0);
    creation();
    stream();
    packets(SOCK_DGRAM, "dgram");
    packets(SOCK_SEQPACKET, "seqpacket");
    fill_stream();
    readiness();
    options();
    interrupted();
    return failures ? 1 : 0;
}
