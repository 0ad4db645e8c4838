// SCM_RIGHTS and SCM_CREDENTIALS over AF_UNIX socketpairs: every kind of file passed and
// used, MSG_CMSG_CLOEXEC, MSG_CTRUNC with what doesn't fit closed, MSG_PEEK, the 253-fd
// limit, bad fds and control buffers, credentials checked, sockets sent over themselves.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
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

static int open_fds(void) {
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while ((e = readdir(d))) n += e->d_name[0] != '.';
    closedir(d);
    return n - 1;
}

// Sends one byte with `n` fds (and credentials if `cr`).
static long send_fds(int s, const int *fds, int n, const struct ucred *cr) {
    char ctl[CMSG_SPACE(sizeof(int) * 300) + CMSG_SPACE(sizeof(struct ucred))];
    memset(ctl, 0, sizeof ctl);
    struct iovec v = {"x", 1};
    struct msghdr m = {0};
    m.msg_iov = &v;
    m.msg_iovlen = 1;
    m.msg_control = ctl;
    size_t len = 0;
    struct cmsghdr *c = (struct cmsghdr *)ctl;
    if (n > 0) {
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * n);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
        len += CMSG_SPACE(sizeof(int) * n);
        c = (struct cmsghdr *)(ctl + len);
    }
    if (cr) {
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_CREDENTIALS;
        c->cmsg_len = CMSG_LEN(sizeof *cr);
        memcpy(CMSG_DATA(c), cr, sizeof *cr);
        len += CMSG_SPACE(sizeof *cr);
    }
    m.msg_controllen = len;
    if (!len) m.msg_control = 0;
    return sendmsg(s, &m, 0);
}

// Receives one message; fds into `fds` (count returned in *n), creds into *cr.
static long recv_fds(int s, int *fds, int *n, size_t room, int flags, struct ucred *cr, int *mflags) {
    char ctl[4096];
    char b[16];
    struct iovec v = {b, sizeof b};
    struct msghdr m = {0};
    m.msg_iov = &v;
    m.msg_iovlen = 1;
    m.msg_control = room ? ctl : 0;
    m.msg_controllen = room;
    long r = recvmsg(s, &m, flags);
    *n = 0;
    if (mflags) *mflags = m.msg_flags;
    if (r < 0) return r;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            memcpy(fds + *n, CMSG_DATA(c), k * sizeof(int));
            *n += k;
        } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS && cr) {
            memcpy(cr, CMSG_DATA(c), sizeof *cr);
        }
    }
    return r;
}

static void kinds(void) {
    int sv[2], p[2], got[8], n;
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pipe(p);
    int mfd = memfd_create("passed", 0);
    write(mfd, "memfd data", 10);
    int ep = epoll_create1(0);
    int ev = p[0];
    struct epoll_event e = {.events = EPOLLIN, .data.fd = 42};
    epoll_ctl(ep, EPOLL_CTL_ADD, ev, &e);
    int inner[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, inner);
    char path[] = "/tmp/snare-rights-XXXXXX";
    int file = mkstemp(path);
    unlink(path);
    write(file, "0123456789", 10);
    lseek(file, 3, SEEK_SET);
    int fds[6] = {p[1], mfd, ep, inner[1], file, 1};
    show("send six kinds", send_fds(sv[0], fds, 6, 0));
    int before = open_fds();
    show("recv", recv_fds(sv[1], got, &n, 4096, MSG_CMSG_CLOEXEC, 0, 0));
    printf("got %d fds, %d new\n", n, open_fds() - before);
    expect("cloexec", fcntl(got[0], F_GETFD) == FD_CLOEXEC);
    write(got[0], "via pipe", 8);
    char b[32] = {0};
    read(p[0], b, 8);
    printf("pipe: %.8s\n", b);
    pread(got[1], b, 10, 0);
    printf("memfd: %.10s\n", b);
    struct epoll_event out;
    write(p[1], "y", 1);
    int k = epoll_wait(got[2], &out, 1, 0);
    printf("epoll: %d data %d\n", k, k > 0 ? (int)out.data.u64 : -1);
    send(got[3], "dgram", 5, 0);
    memset(b, 0, sizeof b);
    recv(inner[0], b, sizeof b, 0);
    printf("socket: %s\n", b);
    printf("file offset shared: %ld\n", (long)lseek(got[4], 0, SEEK_CUR));
    lseek(got[4], 5, SEEK_SET);
    printf("after seek through the copy: %ld\n", (long)lseek(file, 0, SEEK_CUR));
    for (int i = 0; i < n; i++) close(got[i]);
    // Closed at once by the sender: the message keeps the files.
    int q[2];
    pipe(q);
    send_fds(sv[0], &q[1], 1, 0);
    close(q[1]);
    recv_fds(sv[1], got, &n, 4096, 0, 0, 0);
    write(got[0], "late", 4);
    close(got[0]);
    memset(b, 0, sizeof b);
    show("read from the pipe whose writer travelled", read(q[0], b, 16));
    show("then EOF", read(q[0], b, 16));
    close(q[0]);
    close(p[0]);
    close(p[1]);
    close(mfd);
    close(ep);
    close(inner[0]);
    close(inner[1]);
    close(file);
    close(sv[0]);
    close(sv[1]);
}

static void truncation(void) {
    int sv[2], got[300], n, fl;
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    int fds[3] = {0, 1, 2};
    int base = open_fds();
    send_fds(sv[0], fds, 3, 0);
    show("recv room for one", recv_fds(sv[1], got, &n, CMSG_SPACE(sizeof(int)), 0, 0, &fl));
    printf("fds %d ctrunc %d new %d\n", n, !!(fl & MSG_CTRUNC), open_fds() - base);
    close(got[0]);
    send_fds(sv[0], fds, 3, 0);
    show("recv with no control", recv_fds(sv[1], got, &n, 0, 0, 0, &fl));
    printf("fds %d ctrunc %d new %d\n", n, !!(fl & MSG_CTRUNC), open_fds() - base);
    send_fds(sv[0], fds, 3, 0);
    char b[8];
    show("read drops fds", read(sv[1], b, 8));
    printf("new %d\n", open_fds() - base);
    send_fds(sv[0], fds, 2, 0);
    recv_fds(sv[1], got, &n, 4096, MSG_PEEK, 0, 0);
    printf("peek installs %d\n", n);
    for (int i = 0; i < n; i++) close(got[i]);
    recv_fds(sv[1], got, &n, 4096, 0, 0, 0);
    printf("then recv installs %d\n", n);
    for (int i = 0; i < n; i++) close(got[i]);
    // A short header's room.
    send_fds(sv[0], fds, 1, 0);
    show("room of a header only", recv_fds(sv[1], got, &n, sizeof(struct cmsghdr), 0, 0, &fl));
    printf("fds %d ctrunc %d new %d\n", n, !!(fl & MSG_CTRUNC), open_fds() - base);
    // 253 fds go, 254 don't.
    int many[254];
    for (int i = 0; i < 254; i++) many[i] = 0;
    show("send 254", send_fds(sv[0], many, 254, 0));
    show("send 253", send_fds(sv[0], many, 253, 0));
    recv_fds(sv[1], got, &n, 4096, 0, 0, &fl);
    printf("got %d ctrunc %d\n", n, !!(fl & MSG_CTRUNC));
    for (int i = 0; i < n; i++) close(got[i]);
    // A full fd table takes what it can.
    struct rlimit old, lim;
    getrlimit(RLIMIT_NOFILE, &old);
    send_fds(sv[0], fds, 3, 0);
    // Every fd below 30 taken, the limit 32: one free slot.
    int fill[64], nf = 0;
    for (;;) {
        int d = dup(0);
        fill[nf++] = d;
        if (d >= 30) break;
    }
    lim = old;
    lim.rlim_cur = 32;
    setrlimit(RLIMIT_NOFILE, &lim);
    recv_fds(sv[1], got, &n, 4096, 0, 0, &fl);
    setrlimit(RLIMIT_NOFILE, &old);
    printf("full table: got %d ctrunc %d\n", n, !!(fl & MSG_CTRUNC));
    for (int i = 0; i < n; i++) close(got[i]);
    for (int i = 0; i < nf; i++) close(fill[i]);
    close(sv[0]);
    close(sv[1]);
}

static long sendctl(int s, void *ctl, size_t len) {
    struct iovec v = {"x", 1};
    struct msghdr m = {0};
    m.msg_iov = &v;
    m.msg_iovlen = 1;
    m.msg_control = ctl;
    m.msg_controllen = len;
    return sendmsg(s, &m, MSG_DONTWAIT);
}

static void hostile(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    int bad = 999;
    show("bad fd", send_fds(sv[0], &bad, 1, 0));
    int negative = -1;
    show("negative fd", send_fds(sv[0], &negative, 1, 0));
    union {
        struct cmsghdr c;
        char b[64];
    } u;
    memset(&u, 0, sizeof u);
    u.c.cmsg_level = SOL_SOCKET;
    u.c.cmsg_type = SCM_RIGHTS;
    u.c.cmsg_len = 8;
    show("cmsg_len below the header", sendctl(sv[0], &u, sizeof u));
    u.c.cmsg_len = 65;
    show("cmsg_len past the buffer", sendctl(sv[0], &u, sizeof u));
    u.c.cmsg_len = CMSG_LEN(0);
    show("no fds at all", sendctl(sv[0], &u, CMSG_SPACE(0)));
    u.c.cmsg_len = CMSG_LEN(3);
    show("a partial fd", sendctl(sv[0], &u, sizeof u));
    u.c.cmsg_type = 77;
    u.c.cmsg_len = CMSG_LEN(4);
    show("unknown type", sendctl(sv[0], &u, sizeof u));
    u.c.cmsg_level = 99;
    show("other level ignored", sendctl(sv[0], &u, sizeof u));
    u.c.cmsg_level = SOL_SOCKET;
    u.c.cmsg_type = SCM_CREDENTIALS;
    u.c.cmsg_len = CMSG_LEN(8);
    show("short credentials", sendctl(sv[0], &u, sizeof u));
    show("control too short for a header", sendctl(sv[0], &u, 8));
    show("controllen huge", sendctl(sv[0], &u, (size_t)1 << 40));
    show("controllen past optmem", sendctl(sv[0], &u, 200000));
    show("control unreadable", sendctl(sv[0], (void *)8, 64));
    struct msghdr m = {0};
    struct iovec v = {"x", 1};
    m.msg_iov = &v;
    m.msg_iovlen = 5000;
    show("iovlen huge", sendmsg(sv[0], &m, 0));
    m.msg_iovlen = 1;
    m.msg_iov = (void *)8;
    show("iov unreadable", sendmsg(sv[0], &m, 0));
    struct iovec big[2] = {{"x", 1}, {0, (size_t)-1}};
    m.msg_iov = big;
    m.msg_iovlen = 2;
    show("iov_len negative", sendmsg(sv[0], &m, 0));
    show("msghdr unreadable", sendmsg(sv[0], (void *)8, 0));
    m.msg_iov = &v;
    m.msg_iovlen = 1;
    m.msg_name = &u;
    m.msg_namelen = -1;
    show("namelen negative", sendmsg(sv[0], &m, 0));
    struct iovec huge = {"x", (size_t)1 << 40};
    show("huge dgram iov", writev(sv[0], &huge, 1));
    // recvmsg into hostile buffers (nothing queued: EAGAIN first).
    show("recvmsg unreadable", recvmsg(sv[1], (void *)8, MSG_DONTWAIT));
    while (recv(sv[1], &u, sizeof u, MSG_DONTWAIT) >= 0) {}
    close(sv[0]);
    close(sv[1]);
}

static void credentials(void) {
    int sv[2], got[4], n, fl;
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    struct ucred cr = {0};
    send_fds(sv[0], 0, 0, 0);
    int one = 1;
    setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
    recv_fds(sv[1], got, &n, 4096, 0, &cr, &fl);
    printf("sent before SO_PASSCRED: pid %d uid %u gid %u\n", cr.pid, cr.uid, cr.gid);
    send_fds(sv[0], 0, 0, 0);
    memset(&cr, 0, sizeof cr);
    recv_fds(sv[1], got, &n, 4096, 0, &cr, &fl);
    expect("own credentials", cr.pid == getpid() && cr.uid == getuid() && cr.gid == getgid());
    pid_t c = fork();
    if (c == 0) {
        send_fds(sv[0], 0, 0, 0);
        _exit(0);
    }
    waitpid(c, 0, 0);
    recv_fds(sv[1], got, &n, 4096, 0, &cr, &fl);
    expect("child's pid", cr.pid == c);
    struct ucred mine = {getpid(), getuid(), getgid()};
    show("explicit own creds", send_fds(sv[0], 0, 0, &mine));
    recv_fds(sv[1], got, &n, 4096, 0, &cr, &fl);
    pid_t other = fork();
    if (other == 0) {
        pause();
        _exit(0);
    }
    struct ucred ppid = {other, 0, 0};
    show("root names another pid", send_fds(sv[0], 0, 0, &ppid));
    recv_fds(sv[1], got, &n, 4096, 0, &cr, &fl);
    expect("spoofed pid delivered", cr.pid == other);
    kill(other, SIGKILL);
    waitpid(other, 0, 0);
    struct ucred nopid = {99999, 0, 0};
    show("pid that doesn't exist", send_fds(sv[0], 0, 0, &nopid));
    struct ucred badid = {getpid(), (uid_t)-1, 0};
    show("uid -1", send_fds(sv[0], 0, 0, &badid));
    // Creds and fds together: creds come first.
    int fd0 = 0;
    show("creds and fds", send_fds(sv[0], &fd0, 1, &mine));
    char ctl[256];
    char b[4];
    struct iovec v = {b, 4};
    struct msghdr m = {0};
    m.msg_iov = &v;
    m.msg_iovlen = 1;
    m.msg_control = ctl;
    m.msg_controllen = sizeof ctl;
    recvmsg(sv[1], &m, 0);
    struct cmsghdr *h = CMSG_FIRSTHDR(&m);
    printf("first cmsg type %d, controllen %zu\n", h ? h->cmsg_type : -1, (size_t)m.msg_controllen);
    h = h ? CMSG_NXTHDR(&m, h) : 0;
    if (h && h->cmsg_type == SCM_RIGHTS) close(*(int *)CMSG_DATA(h));
    c = fork();
    if (c == 0) {
        if (setresgid(1000, 1000, 1000) || setresuid(1000, 1000, 1000)) _exit(9);
        struct ucred rootid = {getpid(), 0, 0};
        long r1 = send_fds(sv[0], 0, 0, &rootid);
        int e1 = errno;
        struct ucred other = {1, 1000, 1000};
        long r2 = send_fds(sv[0], 0, 0, &other);
        int e2 = errno;
        struct ucred ok = {getpid(), 1000, 1000};
        long r3 = send_fds(sv[0], 0, 0, &ok);
        printf("unprivileged: uid 0 %ld %s, other pid %ld %s, own %ld\n", r1, strerrorname_np(e1), r2,
               strerrorname_np(e2), r3);
        _exit(0);
    }
    int st;
    waitpid(c, &st, 0);
    recv_fds(sv[1], got, &n, 4096, 0, &cr, &fl);
    printf("unprivileged creds: uid %u gid %u pid ok %d\n", cr.uid, cr.gid, cr.pid == c);
    // A credentials buffer too short is cut, MSG_CTRUNC.
    send_fds(sv[0], 0, 0, 0);
    m.msg_controllen = CMSG_LEN(4);
    recvmsg(sv[1], &m, 0);
    printf("short creds room: ctrunc %d controllen %zu\n", !!(m.msg_flags & MSG_CTRUNC), (size_t)m.msg_controllen);
    close(sv[0]);
    close(sv[1]);
}

static void cycles(void) {
    int base = open_fds();
    for (int i = 0; i < 50; i++) {
        int sv[2];
        socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
        int both[2] = {sv[0], sv[1]};
        send_fds(sv[0], both, 2, 0);
        send_fds(sv[1], both, 2, 0);
        close(sv[0]);
        close(sv[1]);
    }
    // A socket sent over itself, received back, used.
    int sv[2], got[4], n;
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    send_fds(sv[0], &sv[1], 1, 0);
    recv_fds(sv[1], got, &n, 4096, 0, 0, 0);
    send(sv[0], "self", 4, 0);
    char b[8] = {0};
    recv(got[0], b, 8, 0);
    printf("received itself: %s\n", b);
    close(got[0]);
    close(sv[0]);
    close(sv[1]);
    printf("fds left: %d\n", open_fds() - base);
}

int main(void) {
    setvbuf(stdout, 0, _IONBF, 0);
    kinds();
    truncation();
    hostile();
    credentials();
    cycles();
    return failures ? 1 : 0;
}
