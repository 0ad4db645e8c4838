// UDP over loopback, IPv4 and IPv6: sendto/recvfrom with addresses, connected sockets,
// sendmsg/recvmsg with several iovecs (one datagram), MSG_TRUNC both ways, zero-length
// datagrams, FIONREAD, poll and epoll readiness, MSG_DONTWAIT, readv/writev, a blocking
// receive woken by a child's datagram, AF_UNSPEC disconnect, EMSGSIZE. Ports are the
// kernel's choice.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
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

/// A UDP socket bound to loopback at a port the kernel picks; its address in `ss`.
static int bound(int family, struct sockaddr_storage *ss, socklen_t *len) {
    int s = socket(family, SOCK_DGRAM, 0);
    memset(ss, 0, sizeof *ss);
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        *len = sizeof *a;
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        *len = sizeof *a;
    }
    if (bind(s, (struct sockaddr *)ss, *len) < 0) {
        perror("bind");
        exit(2);
    }
    *len = sizeof *ss;
    getsockname(s, (struct sockaddr *)ss, len);
    return s;
}

static void run(int family) {
    printf("== %s\n", family == AF_INET ? "inet" : "inet6");
    struct sockaddr_storage sa, sb, from;
    socklen_t la, lb, lf;
    int a = bound(family, &sa, &la);
    int b = bound(family, &sb, &lb);
    int v = -1;
    socklen_t vl = sizeof v;
    getsockopt(a, SOL_SOCKET, SO_TYPE, &v, &vl);
    expect("SO_TYPE", v == SOCK_DGRAM);
    getsockopt(a, SOL_SOCKET, SO_PROTOCOL, &v, &vl);
    expect("SO_PROTOCOL", v == IPPROTO_UDP);
    char buf[256];
    show("recv empty MSG_DONTWAIT", recv(b, buf, sizeof buf, MSG_DONTWAIT));
    struct pollfd p = {b, POLLIN | POLLOUT, 0};
    show("poll empty", poll(&p, 1, 0));
    printf("  revents %#x\n", p.revents);
    show("sendto", sendto(a, "ping", 4, 0, (struct sockaddr *)&sb, lb));
    show("poll", poll(&p, 1, 5000));
    printf("  revents %#x\n", p.revents);
    int n = -1;
    show("FIONREAD", ioctl(b, FIONREAD, &n));
    printf("  %d\n", n);
    lf = sizeof from;
    show("recvfrom", recvfrom(b, buf, sizeof buf, 0, (struct sockaddr *)&from, &lf));
    expect("from is a", lf == la && memcmp(&from, &sa, la) == 0);
    // Several iovecs are one datagram.
    struct iovec out[3] = {{"one ", 4}, {"two ", 4}, {"three", 5}};
    struct msghdr m = {.msg_name = &sb, .msg_namelen = lb, .msg_iov = out, .msg_iovlen = 3};
    show("sendmsg", sendmsg(a, &m, 0));
    char x[6], y[20];
    struct iovec in[2] = {{x, 6}, {y, 20}};
    char ctl[64];
    struct msghdr r = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = in,
                       .msg_iovlen = 2, .msg_control = ctl, .msg_controllen = sizeof ctl};
    show("recvmsg", recvmsg(b, &r, 0));
    printf("  %.6s|%.7s flags %#x controllen %zu namelen %u\n", x, y, r.msg_flags,
           (size_t)r.msg_controllen, r.msg_namelen);
    // Truncation: MSG_TRUNC in msg_flags; as a flag, the full length comes back.
    sendto(a, "0123456789", 10, 0, (struct sockaddr *)&sb, lb);
    struct iovec small = {buf, 4};
    struct msghdr t = {.msg_iov = &small, .msg_iovlen = 1};
    show("recvmsg truncated", recvmsg(b, &t, 0));
    printf("  flags %#x\n", t.msg_flags);
    sendto(a, "0123456789", 10, 0, (struct sockaddr *)&sb, lb);
    show("recv MSG_TRUNC", recv(b, buf, 3, MSG_TRUNC));
    sendto(a, "0123456789", 10, 0, (struct sockaddr *)&sb, lb);
    show("recv MSG_PEEK", recv(b, buf, sizeof buf, MSG_PEEK));
    show("recv after peek", recv(b, buf, sizeof buf, 0));
    // Zero-length datagram.
    show("send empty", sendto(a, "", 0, 0, (struct sockaddr *)&sb, lb));
    show("poll empty datagram", poll(&p, 1, 5000));
    show("recv empty", recv(b, buf, sizeof buf, 0));
    // Connected: send/write without an address; readv.
    show("connect", connect(a, (struct sockaddr *)&sb, lb));
    struct sockaddr_storage pn;
    socklen_t pl = sizeof pn;
    show("getpeername", getpeername(a, (struct sockaddr *)&pn, &pl));
    expect("peer is b", pl == lb && memcmp(&pn, &sb, lb) == 0);
    struct iovec w[2] = {{"ab", 2}, {"cd", 2}};
    show("writev", writev(a, w, 2));
    char r1[3] = {0}, r2[8] = {0};
    struct iovec rv[2] = {{r1, 3}, {r2, 8}};
    show("readv", readv(b, rv, 2));
    printf("  %.3s|%s\n", r1, r2);
    show("write", write(a, "w", 1));
    show("read", read(b, buf, sizeof buf));
    // A blocking receive woken by a child's datagram, through epoll first.
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 3}, got;
    epoll_ctl(ep, EPOLL_CTL_ADD, b, &ev);
    pid_t pid = fork();
    if (pid == 0) {
        usleep(100000);
        sendto(a, "late", 4, 0, (struct sockaddr *)&sb, lb);
        usleep(100000);
        sendto(a, "later", 5, 0, (struct sockaddr *)&sb, lb);
        _exit(0);
    }
    show("epoll_wait", epoll_wait(ep, &got, 1, 5000));
    show("recv", recv(b, buf, sizeof buf, 0));
    show("blocking recv", recv(b, buf, sizeof buf, 0));
    int status;
    waitpid(pid, &status, 0);
    close(ep);
    // AF_UNSPEC takes the default peer away.
    struct sockaddr unspec = {.sa_family = AF_UNSPEC};
    show("connect AF_UNSPEC", connect(a, &unspec, sizeof unspec));
    pl = sizeof pn;
    show("getpeername after", getpeername(a, (struct sockaddr *)&pn, &pl));
    show("send unconnected", send(a, "x", 1, 0));
    // Too big for a datagram.
    static char huge[70000];
    show("sendto 70000", sendto(a, huge, sizeof huge, 0, (struct sockaddr *)&sb, lb));
    close(a);
    close(b);
}

static int get_int(int s, int level, int opt) {
    int v = -1;
    socklen_t l = sizeof v;
    if (getsockopt(s, level, opt, &v, &l) < 0) return -errno;
    return v;
}

/// Multicast options on loopback (interface index 1 in every namespace): joins and leaves,
/// TTL/hops and loop, and a join of a unicast address (EINVAL).
static void multicast(void) {
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    int v = 3;
    show("IP_MULTICAST_TTL set", setsockopt(u, IPPROTO_IP, IP_MULTICAST_TTL, &v, sizeof v));
    show("IP_MULTICAST_TTL", get_int(u, IPPROTO_IP, IP_MULTICAST_TTL));
    v = 0;
    show("IP_MULTICAST_LOOP set", setsockopt(u, IPPROTO_IP, IP_MULTICAST_LOOP, &v, sizeof v));
    show("IP_MULTICAST_LOOP", get_int(u, IPPROTO_IP, IP_MULTICAST_LOOP));
    struct ip_mreqn mr = {.imr_ifindex = 1};
    inet_pton(AF_INET, "239.1.2.3", &mr.imr_multiaddr);
    show("IP_MULTICAST_IF lo", setsockopt(u, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof mr));
    show("IP_ADD_MEMBERSHIP", setsockopt(u, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof mr));
    show("IP_ADD_MEMBERSHIP again", setsockopt(u, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof mr));
    show("IP_DROP_MEMBERSHIP", setsockopt(u, IPPROTO_IP, IP_DROP_MEMBERSHIP, &mr, sizeof mr));
    show("IP_DROP_MEMBERSHIP again", setsockopt(u, IPPROTO_IP, IP_DROP_MEMBERSHIP, &mr, sizeof mr));
    struct ip_mreq old = {.imr_interface.s_addr = htonl(INADDR_LOOPBACK)};
    inet_pton(AF_INET, "10.1.2.3", &old.imr_multiaddr);
    show("IP_ADD_MEMBERSHIP unicast", setsockopt(u, IPPROTO_IP, IP_ADD_MEMBERSHIP, &old, sizeof old));
    show("IP_ADD_MEMBERSHIP short", setsockopt(u, IPPROTO_IP, IP_ADD_MEMBERSHIP, &old, 4));
    struct group_req g = {.gr_interface = 1};
    struct sockaddr_in *ga = (struct sockaddr_in *)&g.gr_group;
    ga->sin_family = AF_INET;
    inet_pton(AF_INET, "239.9.9.9", &ga->sin_addr);
    show("MCAST_JOIN_GROUP", setsockopt(u, IPPROTO_IP, MCAST_JOIN_GROUP, &g, sizeof g));
    show("MCAST_LEAVE_GROUP", setsockopt(u, IPPROTO_IP, MCAST_LEAVE_GROUP, &g, sizeof g));
    close(u);
    int u6 = socket(AF_INET6, SOCK_DGRAM, 0);
    v = 5;
    show("IPV6_MULTICAST_HOPS set", setsockopt(u6, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &v, sizeof v));
    show("IPV6_MULTICAST_HOPS", get_int(u6, IPPROTO_IPV6, IPV6_MULTICAST_HOPS));
    v = 1;
    show("IPV6_MULTICAST_IF lo", setsockopt(u6, IPPROTO_IPV6, IPV6_MULTICAST_IF, &v, sizeof v));
    show("IPV6_MULTICAST_LOOP", get_int(u6, IPPROTO_IPV6, IPV6_MULTICAST_LOOP));
    struct ipv6_mreq m6 = {.ipv6mr_interface = 1};
    inet_pton(AF_INET6, "ff12::1234", &m6.ipv6mr_multiaddr);
    show("IPV6_JOIN_GROUP", setsockopt(u6, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m6, sizeof m6));
    show("IPV6_LEAVE_GROUP", setsockopt(u6, IPPROTO_IPV6, IPV6_LEAVE_GROUP, &m6, sizeof m6));
    close(u6);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    run(AF_INET);
    run(AF_INET6);
    multicast();
    return failures ? 1 : 0;
}
