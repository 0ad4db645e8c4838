// UDP over loopback, IPv4 and IPv6: sendto/recvfrom with addresses, connected sockets,
// sendmsg/recvmsg with several iovecs (one datagram), MSG_TRUNC both ways, zero-length
// datagrams, FIONREAD, poll and epoll readiness, MSG_DONTWAIT, readv/writev, a blocking
// receive woken by a child's datagram, AF_UNSPEC disconnect, EMSGSIZE; control messages:
// IP_PKTINFO, IP_RECVTTL, IP_RECVTOS, SO_TIMESTAMP(NS) and their IPv6 kin on receives,
// truncated ones (MSG_CTRUNC), IP_PKTINFO/IP_TTL/IPV6_HOPLIMIT on sends, IP_RECVERR and
// the error queue; UDP-Lite sockets (checksum coverage options, a datagram each way). Ports
// are the kernel's choice.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
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
#include <time.h>
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

/// Receives one datagram on `s` with `room` bytes for control messages; prints what came.
static void recv_control(const char *what, int s, size_t room, int flags) {
    char data[16];
    union {
        char buf[512];
        struct cmsghdr align;
    } c;
    memset(&c, 0, sizeof c);
    struct sockaddr_storage from;
    struct iovec iov = {data, sizeof data};
    struct msghdr m = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov,
                       .msg_iovlen = 1, .msg_control = c.buf, .msg_controllen = room};
    long n = recvmsg(s, &m, flags);
    show(what, n);
    if (n < 0) return;
    printf("  flags%s%s controllen %zu\n", m.msg_flags & MSG_CTRUNC ? " CTRUNC" : "",
           m.msg_flags & MSG_ERRQUEUE ? " ERRQUEUE" : "", (size_t)m.msg_controllen);
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
        printf("  cmsg level %d type %d len %zu", h->cmsg_level, h->cmsg_type,
               (size_t)h->cmsg_len);
        unsigned char *d = CMSG_DATA(h);
        if (h->cmsg_level == IPPROTO_IP && h->cmsg_type == IP_PKTINFO) {
            struct in_pktinfo pi;
            memcpy(&pi, d, sizeof pi);
            char a[32];
            inet_ntop(AF_INET, &pi.ipi_addr, a, sizeof a);
            printf(" pktinfo ifindex %d dst %s", pi.ipi_ifindex, a);
        } else if (h->cmsg_level == IPPROTO_IP && h->cmsg_type == IP_TTL) {
            int v;
            memcpy(&v, d, sizeof v);
            printf(" ttl %d", v);
        } else if (h->cmsg_level == IPPROTO_IP && h->cmsg_type == IP_TOS) {
            printf(" tos %d", d[0]);
        } else if (h->cmsg_level == IPPROTO_IPV6 && h->cmsg_type == IPV6_PKTINFO) {
            struct in6_pktinfo pi;
            memcpy(&pi, d, sizeof pi);
            char a[64];
            inet_ntop(AF_INET6, &pi.ipi6_addr, a, sizeof a);
            printf(" pktinfo ifindex %d dst %s", pi.ipi6_ifindex, a);
        } else if (h->cmsg_level == IPPROTO_IPV6 && h->cmsg_type == IPV6_HOPLIMIT) {
            int v;
            memcpy(&v, d, sizeof v);
            printf(" hoplimit %d", v);
        } else if ((h->cmsg_level == IPPROTO_IP && h->cmsg_type == IP_RECVERR) ||
                   (h->cmsg_level == IPPROTO_IPV6 && h->cmsg_type == IPV6_RECVERR)) {
            struct sock_extended_err e;
            memcpy(&e, d, sizeof e);
            printf(" error %s origin %d", strerrorname_np((int)e.ee_errno), e.ee_origin);
        }
        printf("\n");
    }
}

/// recvmmsg's timeout: looked at after each datagram; what is left is written back.
static void recvmmsg_timeout(void) {
    printf("-- recvmmsg timeout\n");
    struct sockaddr_storage a, b;
    socklen_t alen, blen;
    int sa = bound(AF_INET, &a, &alen), sb = bound(AF_INET, &b, &blen);
    sendto(sa, "x", 1, 0, (struct sockaddr *)&b, blen);
    sendto(sa, "yy", 2, 0, (struct sockaddr *)&b, blen);
    char bufs[4][8];
    struct iovec iov[4];
    struct mmsghdr mm[4];
    memset(mm, 0, sizeof mm);
    for (int i = 0; i < 4; i++) {
        iov[i] = (struct iovec){bufs[i], sizeof bufs[i]};
        mm[i].msg_hdr.msg_iov = &iov[i];
        mm[i].msg_hdr.msg_iovlen = 1;
    }
    struct timespec t = {1, 0};
    show("recvmmsg WAITFORONE with 1 s", recvmmsg(sb, mm, 4, MSG_WAITFORONE, &t));
    expect("lengths", mm[0].msg_len == 1 && mm[1].msg_len == 2);
    expect("time left written", t.tv_sec == 0 && t.tv_nsec > 0);
    struct timespec bad = {0, 2000000000};
    show("recvmmsg bad timeout", recvmmsg(sb, mm, 4, MSG_DONTWAIT, &bad));
    bad.tv_sec = -1;
    bad.tv_nsec = 0;
    show("recvmmsg negative timeout", recvmmsg(sb, mm, 4, MSG_DONTWAIT, &bad));
    show("recvmmsg timeout at a bad address",
         recvmmsg(sb, mm, 4, MSG_DONTWAIT, (struct timespec *)8));
    t = (struct timespec){0, 0};
    sendto(sa, "z", 1, 0, (struct sockaddr *)&b, blen);
    sendto(sa, "w", 1, 0, (struct sockaddr *)&b, blen);
    // A zero timeout has passed after the first datagram: one.
    show("recvmmsg zero timeout", recvmmsg(sb, mm, 4, 0, &t));
    show("the other", recvmmsg(sb, mm, 4, MSG_DONTWAIT, NULL));
    close(sa);
    close(sb);
}

/// Control messages, both ways, in `family`.
static void control(int family) {
    printf("-- control messages, %s\n", family == AF_INET ? "IPv4" : "IPv6");
    struct sockaddr_storage a, b;
    socklen_t alen, blen;
    int sa = bound(family, &a, &alen), sb = bound(family, &b, &blen);
    int one = 1;
    if (family == AF_INET) {
        show("IP_PKTINFO", setsockopt(sb, IPPROTO_IP, IP_PKTINFO, &one, sizeof one));
        show("IP_RECVTTL", setsockopt(sb, IPPROTO_IP, IP_RECVTTL, &one, sizeof one));
        show("IP_RECVTOS", setsockopt(sb, IPPROTO_IP, IP_RECVTOS, &one, sizeof one));
    } else {
        show("IPV6_RECVPKTINFO",
             setsockopt(sb, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one));
        show("IPV6_RECVHOPLIMIT",
             setsockopt(sb, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof one));
    }
    sendto(sa, "one", 3, 0, (struct sockaddr *)&b, blen);
    recv_control("recvmsg with room", sb, 512, 0);
    sendto(sa, "two", 3, 0, (struct sockaddr *)&b, blen);
    recv_control("recvmsg with room for one header", sb, sizeof(struct cmsghdr), 0);
    sendto(sa, "three", 5, 0, (struct sockaddr *)&b, blen);
    recv_control("recvmsg without room", sb, 0, 0);
    // A timestamp: present (its value is the clock's).
    show("SO_TIMESTAMP", setsockopt(sb, SOL_SOCKET, SO_TIMESTAMP, &one, sizeof one));
    sendto(sa, "four", 4, 0, (struct sockaddr *)&b, blen);
    {
        char data[8];
        union {
            char buf[256];
            struct cmsghdr align;
        } c;
        struct iovec iov = {data, sizeof data};
        struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf,
                           .msg_controllen = sizeof c.buf};
        show("recvmsg timestamp", recvmsg(sb, &m, 0));
        int found = 0;
        for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
            if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SO_TIMESTAMP) {
                struct timeval tv;
                memcpy(&tv, CMSG_DATA(h), sizeof tv);
                found = tv.tv_sec > 1600000000;
            }
        expect("timestamp", found);
    }
    int zero = 0;
    setsockopt(sb, SOL_SOCKET, SO_TIMESTAMP, &zero, sizeof zero);

    // Sends with control messages: the TTL or hop limit of one datagram.
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } c;
    memset(&c, 0, sizeof c);
    struct iovec iov = {"five", 4};
    struct msghdr m = {.msg_name = &b, .msg_namelen = blen, .msg_iov = &iov, .msg_iovlen = 1,
                       .msg_control = c.buf, .msg_controllen = sizeof c.buf};
    struct cmsghdr *h = CMSG_FIRSTHDR(&m);
    h->cmsg_level = family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
    h->cmsg_type = family == AF_INET ? IP_TTL : IPV6_HOPLIMIT;
    h->cmsg_len = CMSG_LEN(sizeof(int));
    int ttl = 7;
    memcpy(CMSG_DATA(h), &ttl, sizeof ttl);
    show("sendmsg with a TTL", sendmsg(sa, &m, 0));
    recv_control("recvmsg of it", sb, 512, 0);
    ttl = 1000;
    memcpy(CMSG_DATA(h), &ttl, sizeof ttl);
    show("sendmsg with a bad TTL", sendmsg(sa, &m, 0));
    if (family == AF_INET) {
        // The source address of one datagram.
        union {
            char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
            struct cmsghdr align;
        } p;
        memset(&p, 0, sizeof p);
        m.msg_control = p.buf;
        m.msg_controllen = sizeof p.buf;
        h = CMSG_FIRSTHDR(&m);
        h->cmsg_level = IPPROTO_IP;
        h->cmsg_type = IP_PKTINFO;
        h->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
        struct in_pktinfo pi = {0};
        pi.ipi_spec_dst.s_addr = htonl(INADDR_LOOPBACK);
        memcpy(CMSG_DATA(h), &pi, sizeof pi);
        show("sendmsg with IP_PKTINFO", sendmsg(sa, &m, 0));
        recv_control("recvmsg of it", sb, 512, 0);
        // SCM_RIGHTS on a UDP socket is ignored, never passed on.
        h->cmsg_level = SOL_SOCKET;
        h->cmsg_type = SCM_RIGHTS;
        h->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(h), &sa, sizeof sa);
        m.msg_controllen = CMSG_SPACE(sizeof(int));
        show("sendmsg with SCM_RIGHTS", sendmsg(sa, &m, 0));
        recv_control("recvmsg of it", sb, 512, 0);
    }

    // The error queue: a datagram to a closed port comes back as ECONNREFUSED there.
    show("IP_RECVERR", family == AF_INET
                           ? setsockopt(sa, IPPROTO_IP, IP_RECVERR, &one, sizeof one)
                           : setsockopt(sa, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof one));
    recv_control("empty error queue", sa, 512, MSG_ERRQUEUE);
    struct sockaddr_storage gone;
    socklen_t glen;
    int sg = bound(family, &gone, &glen);
    close(sg);
    sendto(sa, "lost", 4, 0, (struct sockaddr *)&gone, glen);
    struct pollfd pf = {sa, 0, 0};
    show("poll error", poll(&pf, 1, 5000));
    expect("POLLERR", pf.revents & POLLERR);
    recv_control("error queue", sa, 512, MSG_ERRQUEUE);
    close(sa);
    close(sb);
}

/// UDP-Lite (`IPPROTO_UDPLITE`): a datagram socket with its own protocol and checksum
/// coverage options; not a stream protocol.
static void udplite(int family) {
    printf("== udplite %s\n", family == AF_INET ? "inet" : "inet6");
    show("stream", socket(family, SOCK_STREAM, IPPROTO_UDPLITE));
    int a = socket(family, SOCK_DGRAM, IPPROTO_UDPLITE);
    int b = socket(family, SOCK_DGRAM | SOCK_NONBLOCK, IPPROTO_UDPLITE);
    expect("sockets", a >= 0 && b >= 0);
    show("SO_PROTOCOL", get_int(a, SOL_SOCKET, SO_PROTOCOL));
    show("SEND_CSCOV", get_int(a, IPPROTO_UDPLITE, 10));
    int v = 20;
    show("SEND_CSCOV set", setsockopt(a, IPPROTO_UDPLITE, 10, &v, sizeof v));
    show("SEND_CSCOV", get_int(a, IPPROTO_UDPLITE, 10));
    v = 8;
    show("RECV_CSCOV set", setsockopt(b, IPPROTO_UDPLITE, 11, &v, sizeof v));
    show("RECV_CSCOV", get_int(b, IPPROTO_UDPLITE, 11));
    struct sockaddr_storage sb;
    socklen_t lb = sizeof sb;
    memset(&sb, 0, sizeof sb);
    sb.ss_family = family;
    if (family == AF_INET)
        ((struct sockaddr_in *)&sb)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else
        ((struct sockaddr_in6 *)&sb)->sin6_addr = in6addr_loopback;
    show("bind", bind(b, (struct sockaddr *)&sb, family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)));
    getsockname(b, (struct sockaddr *)&sb, &lb);
    show("sendto", sendto(a, "lite datagram", 13, 0, (struct sockaddr *)&sb, lb));
    struct pollfd p = {b, POLLIN, 0};
    show("poll", poll(&p, 1, 5000));
    char buf[64] = {0};
    show("recv", recv(b, buf, sizeof buf, 0));
    printf("  %s\n", buf);
    close(a);
    close(b);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    run(AF_INET);
    run(AF_INET6);
    multicast();
    control(AF_INET);
    control(AF_INET6);
    recvmmsg_timeout();
    udplite(AF_INET);
    udplite(AF_INET6);
    return failures ? 1 : 0;
}
