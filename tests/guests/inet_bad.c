// Hostile and mistaken arguments to AF_INET/AF_INET6 sockets get Linux's errnos: families,
// types, protocols, flags; addresses too short, too long, of the wrong family, unreadable;
// bad fds and non-sockets; option levels, names, lengths and pointers; calls in the wrong
// state; control messages a TCP/UDP socket refuses.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define BAD ((void *)8)

static void show(const char *what, long r) {
    if (r < 0)
        printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else
        printf("%s: %ld\n", what, r);
}

static struct sockaddr_in lo4(in_port_t port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = port};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static void sockets(void) {
    show("socket bad family", socket(9999, SOCK_STREAM, 0));
    show("socket AF_PACKET-range family", socket(45, SOCK_STREAM, 0));
    show("socket type 0", socket(AF_INET, 0, 0));
    show("socket type 99", socket(AF_INET, 99, 0));
    show("socket SOCK_SEQPACKET", socket(AF_INET, SOCK_SEQPACKET, 0));
    show("socket SOCK_RDM", socket(AF_INET6, SOCK_RDM, 0));
    show("socket bad flag", socket(AF_INET, SOCK_STREAM | 0x100000, 0));
    show("socket stream/udp", socket(AF_INET, SOCK_STREAM, IPPROTO_UDP));
    show("socket dgram/tcp", socket(AF_INET6, SOCK_DGRAM, IPPROTO_TCP));
    show("socket protocol huge", socket(AF_INET, SOCK_STREAM, 0x7fffffff));
    show("socket protocol negative", socket(AF_INET, SOCK_DGRAM, -1));
    int sv[2];
    show("socketpair AF_INET", socketpair(AF_INET, SOCK_STREAM, 0, sv));
    show("socketpair AF_INET6 dgram", socketpair(AF_INET6, SOCK_DGRAM, 0, sv));
}

static void addresses(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = lo4(0);
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    struct sockaddr_storage big = {0};
    memcpy(&big, &a, sizeof a);
    show("bind len 0", bind(s, (struct sockaddr *)&a, 0));
    show("bind len 8", bind(s, (struct sockaddr *)&a, 8));
    show("bind len -1", bind(s, (struct sockaddr *)&a, -1));
    show("bind len 129", bind(s, (struct sockaddr *)&big, 129));
    show("bind NULL", bind(s, NULL, sizeof a));
    show("bind bad pointer", bind(s, BAD, sizeof a));
    show("bind v6 address to v4", bind(s, (struct sockaddr *)&a6, sizeof a6));
    struct sockaddr_in odd = a;
    odd.sin_family = AF_UNIX;
    show("bind AF_UNIX family", bind(s, (struct sockaddr *)&odd, sizeof odd));
    struct sockaddr_in far = a;
    far.sin_addr.s_addr = htonl(0x0a0b0c0d);
    show("bind non-local address", bind(s, (struct sockaddr *)&far, sizeof far));
    show("bind ok (128 bytes)", bind(s, (struct sockaddr *)&big, 128));
    show("bind twice", bind(s, (struct sockaddr *)&a, sizeof a));
    struct sockaddr_in mine;
    socklen_t ml = sizeof mine;
    getsockname(s, (struct sockaddr *)&mine, &ml);
    int t = socket(AF_INET, SOCK_STREAM, 0);
    show("bind in use", bind(t, (struct sockaddr *)&mine, sizeof mine));
    show("connect len 1", connect(t, (struct sockaddr *)&a, 1));
    show("connect len 8", connect(t, (struct sockaddr *)&a, 8));
    show("connect bad pointer", connect(t, BAD, sizeof a));
    show("connect v6 to v4", connect(t, (struct sockaddr *)&a6, sizeof a6));
    close(t);
    int s6 = socket(AF_INET6, SOCK_STREAM, 0);
    show("bind6 len 24", bind(s6, (struct sockaddr *)&a6, 24));
    show("bind6 v4 address", bind(s6, (struct sockaddr *)&a, sizeof a));
    close(s6);
    // Names into unwritable or odd buffers.
    socklen_t l = sizeof mine;
    show("getsockname bad addr", getsockname(s, BAD, &l));
    show("getsockname bad len", getsockname(s, (struct sockaddr *)&mine, BAD));
    l = -1;
    show("getsockname len -1", getsockname(s, (struct sockaddr *)&mine, &l));
    l = 2;
    show("getsockname len 2", getsockname(s, (struct sockaddr *)&mine, &l));
    printf("  len %u family %d\n", l, mine.sin_family);
    l = sizeof mine;
    show("getpeername unconnected", getpeername(s, (struct sockaddr *)&mine, &l));
    close(s);
}

static void fds(void) {
    struct sockaddr_in a = lo4(0);
    int p[2];
    pipe(p);
    show("bind bad fd", bind(-1, (struct sockaddr *)&a, sizeof a));
    show("bind closed fd", bind(999, (struct sockaddr *)&a, sizeof a));
    show("bind pipe", bind(p[0], (struct sockaddr *)&a, sizeof a));
    show("connect pipe", connect(p[0], (struct sockaddr *)&a, sizeof a));
    show("listen pipe", listen(p[0], 1));
    show("accept pipe", accept(p[0], NULL, NULL));
    int v = 1;
    show("setsockopt pipe", setsockopt(p[0], SOL_SOCKET, SO_REUSEADDR, &v, sizeof v));
    show("shutdown pipe", shutdown(p[0], SHUT_RD));
    close(p[0]);
    close(p[1]);
}

static void options(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int v = 1;
    socklen_t l = sizeof v;
    show("setsockopt unknown", setsockopt(s, SOL_SOCKET, 9999, &v, sizeof v));
    show("setsockopt len 2", setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &v, 2));
    show("setsockopt len -1", setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &v, -1));
    show("setsockopt bad pointer", setsockopt(s, SOL_SOCKET, SO_REUSEADDR, BAD, 4));
    show("setsockopt linger short", setsockopt(s, SOL_SOCKET, SO_LINGER, &v, 4));
    show("setsockopt TCP_KEEPIDLE 0", setsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE,
                                                 &(int){0}, sizeof(int)));
    show("setsockopt SO_TYPE", setsockopt(s, SOL_SOCKET, SO_TYPE, &v, sizeof v));
    show("getsockopt unknown", getsockopt(s, SOL_SOCKET, 9999, &v, &l));
    l = -1;
    show("getsockopt len -1", getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &l));
    show("getsockopt bad len", getsockopt(s, SOL_SOCKET, SO_TYPE, &v, BAD));
    l = sizeof v;
    show("getsockopt bad value", getsockopt(s, SOL_SOCKET, SO_TYPE, BAD, &l));
    l = 0;
    show("getsockopt len 0", getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &l));
    printf("  len %u\n", l);
    l = 100;
    show("getsockopt len 100", getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &l));
    printf("  len %u\n", l);
    close(s);
}

static void states(void) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    char b[4];
    show("accept not listening", accept(s, NULL, NULL));
    show("accept4 bad flags", accept4(s, NULL, NULL, 0x1));
    show("recv unconnected", recv(s, b, 4, 0));
    show("send unconnected", send(s, "x", 1, MSG_NOSIGNAL));
    show("shutdown unconnected", shutdown(s, SHUT_RDWR));
    show("shutdown how 5", shutdown(s, 5));
    show("read unconnected", read(s, b, 4));
    show("lseek", lseek(s, 0, SEEK_SET));
    show("pread", pread(s, b, 4, 0));
    close(s);
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    show("listen udp", listen(u, 1));
    show("accept udp", accept(u, NULL, NULL));
    show("send udp unconnected", send(u, "x", 1, 0));
    struct sockaddr_in a = lo4(htons(9));
    show("sendto bad buffer", sendto(u, BAD, 4, 0, (struct sockaddr *)&a, sizeof a));
    show("sendto bad address", sendto(u, "x", 1, 0, BAD, sizeof a));
    show("sendto short address", sendto(u, "x", 1, 0, (struct sockaddr *)&a, 4));
    show("sendto address length 0", sendto(u, "x", 1, 0, (struct sockaddr *)&a, 0));
    show("sendto NULL address length 16", sendto(u, "x", 1, 0, NULL, sizeof a));
    show("recvfrom MSG_DONTWAIT", recvfrom(u, b, 4, MSG_DONTWAIT, NULL, NULL));
    // Control messages: SCM_RIGHTS is a unix thing; a header longer than the buffer.
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } c;
    memset(&c, 0, sizeof c);
    struct iovec iov = {"x", 1};
    struct msghdr m = {.msg_name = &a, .msg_namelen = sizeof a, .msg_iov = &iov,
                       .msg_iovlen = 1, .msg_control = c.buf, .msg_controllen = sizeof c.buf};
    struct cmsghdr *h = CMSG_FIRSTHDR(&m);
    h->cmsg_level = SOL_SOCKET;
    h->cmsg_type = SCM_RIGHTS;
    h->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(h), &u, sizeof u);
    show("sendmsg SCM_RIGHTS", sendmsg(u, &m, 0));
    h->cmsg_len = 1000;
    show("sendmsg long cmsg", sendmsg(u, &m, 0));
    m.msg_control = BAD;
    show("sendmsg bad control", sendmsg(u, &m, 0));
    m.msg_control = NULL;
    m.msg_controllen = 0;
    m.msg_iov = BAD;
    show("sendmsg bad iov", sendmsg(u, &m, 0));
    m.msg_iov = &iov;
    m.msg_iovlen = 5000;
    show("sendmsg too many iovecs", sendmsg(u, &m, 0));
    show("sendmsg bad msghdr", sendmsg(u, BAD, 0));
    show("recvmsg bad msghdr", recvmsg(u, BAD, MSG_DONTWAIT));
    close(u);
}

/// A connected TCP pair on loopback.
static void tcp_pair(int c[2]) {
    struct sockaddr_in a = lo4(0);
    socklen_t len = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    bind(l, (struct sockaddr *)&a, len);
    listen(l, 1);
    getsockname(l, (struct sockaddr *)&a, &len);
    c[0] = socket(AF_INET, SOCK_STREAM, 0);
    connect(c[0], (struct sockaddr *)&a, len);
    c[1] = accept(l, NULL, NULL);
    close(l);
}

/// Stream sends and receives whose buffers are partly or wholly out of reach: unmapped,
/// unreadable, read-only, shared copy-on-write with a parent.
static void buffers(void) {
    int c[2];
    tcp_pair(c);
    long pg = sysconf(_SC_PAGESIZE);
    char *p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(p, 'a', 2 * pg);
    show("send bad buffer", send(c[0], BAD, 16, MSG_NOSIGNAL));
    char *volatile bad = BAD; /* (hidden from the compiler's bounds warning) */
    show("write bad buffer", write(c[0], bad, 16));
    mprotect(p, pg, PROT_NONE);
    show("send unreadable", send(c[0], p, 16, MSG_NOSIGNAL));
    mprotect(p, pg, PROT_READ | PROT_WRITE);
    show("send 16", send(c[0], p, 16, 0));
    mprotect(p, pg, PROT_READ);
    show("recv into read-only", recv(c[1], p, 16, 0));
    show("read into read-only", read(c[1], p, 16));
    show("recv into bad", recv(c[1], BAD, 16, 0));
    mprotect(p, pg, PROT_READ | PROT_WRITE);
    // The data is still there after those faults.
    char b[32];
    show("recv after faults", recv(c[1], b, sizeof b, MSG_DONTWAIT));
    show("iov bad second", ({
             struct iovec v[2] = {{p, 4}, {BAD, 4}};
             writev(c[0], v, 2);
         }));
    show("recv what was sent", recv(c[1], b, sizeof b, MSG_DONTWAIT));
    // Received into a buffer shared copy-on-write with the parent: the parent's stays.
    pid_t k = fork();
    if (k == 0) {
        ssize_t n = recv(c[1], p, 8, 0);
        _exit(n == 8 && memcmp(p, "childbuf", 8) == 0 ? 0 : 1);
    }
    send(c[0], "childbuf", 8, 0);
    int st = 0;
    waitpid(k, &st, 0);
    printf("child's receive: %s\n", WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "ok" : "WRONG");
    printf("parent's buffer: %s\n", p[0] == 'a' && p[7] == 'a' ? "kept" : "CHANGED");
    munmap(p, 2 * pg);
    close(c[0]);
    close(c[1]);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    buffers();
    sockets();
    addresses();
    fds();
    options();
    states();
    return 0;
}
