// NETLINK_ROUTE: sockets, names and options, getifaddrs and if_nameindex, raw
// RTM_GETLINK/GETADDR/GETROUTE dumps checked message by message, single GETLINK requests
// with acknowledgements, and hostile requests (short and long lengths, zero-length
// datagrams, unknown and control types, a second dump while one is read, dumps into tiny
// buffers with MSG_TRUNC and MSG_PEEK), and the interface ioctls every socket answers
// (SIOCGIF*, SIOCGIFCONF; the address ones on AF_INET sockets only).
//
// Natively (as root) it first moves into a new network namespace with only `lo`, up, which
// is what `snare do --network none` gives; under snare the unshare fails and the sandbox's
// namespace is that already. Facts are printed for `lo` only, so a native run that can't
// unshare still agrees.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if_arp.h>
#include <netdb.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

// <net/if.h>'s, which can't be included with <linux/if.h>.
struct if_nameindex {
    unsigned if_index;
    char *if_name;
};
struct if_nameindex *if_nameindex(void);
unsigned if_nametoindex(const char *);
char *if_indextoname(unsigned, char *);
void if_freenameindex(struct if_nameindex *);

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

/// Natively: a namespace of our own with `lo` up (as the sandbox's).
static void own_namespace(void) {
    if (unshare(CLONE_NEWNET) != 0) return;
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq r;
    memset(&r, 0, sizeof r);
    strcpy(r.ifr_name, "lo");
    if (ioctl(s, SIOCGIFFLAGS, &r) == 0) {
        r.ifr_flags |= IFF_UP;
        ioctl(s, SIOCSIFFLAGS, &r);
    }
    close(s);
}

static int nl_socket(void) {
    int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (s < 0) {
        perror("socket");
        exit(2);
    }
    return s;
}

static unsigned port_of(int s) {
    struct sockaddr_nl a;
    socklen_t len = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &len);
    return a.nl_pid;
}

/// Sends one request of `type`/`flags`/`seq` with `payload`.
static long request(int s, int type, int flags, unsigned seq, const void *payload, size_t plen) {
    char buf[1024];
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    memset(buf, 0, sizeof buf);
    h->nlmsg_len = NLMSG_LENGTH(plen);
    h->nlmsg_type = type;
    h->nlmsg_flags = flags;
    h->nlmsg_seq = seq;
    memcpy(NLMSG_DATA(h), payload, plen);
    return send(s, buf, NLMSG_ALIGN(h->nlmsg_len), 0);
}

static const char *rta_name(const struct rtattr *a, int len, int type) {
    for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
        if (a->rta_type == type) return RTA_DATA(a);
    return NULL;
}

static const struct rtattr *rta_find(const struct rtattr *a, int len, int type) {
    for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
        if (a->rta_type == type) return a;
    return NULL;
}

/// What a dump of one type showed: for each message, `each` prints lo's facts.
struct dump_stats {
    int datagrams, messages, bad_seq, bad_type, bad_flags, truncated, done_ok, too_big;
};

/// Reads a whole dump with `bufsize`-byte buffers, checking every message's header.
static void read_dump(int s, unsigned seq, int want_type, size_t bufsize,
                      void (*each)(struct nlmsghdr *), struct dump_stats *st) {
    static char buf[65536];
    unsigned port = port_of(s);
    memset(st, 0, sizeof *st);
    for (;;) {
        struct sockaddr_nl from;
        struct iovec iov = {buf, bufsize};
        struct msghdr m = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov,
                           .msg_iovlen = 1};
        long n = recvmsg(s, &m, 0);
        if (n < 0) {
            show("dump recvmsg", n);
            failures++;
            return;
        }
        st->datagrams++;
        if (m.msg_flags & MSG_TRUNC) st->truncated++;
        if ((size_t)n > 4096 && st->datagrams == 1) st->too_big++;
        if (from.nl_family != AF_NETLINK || from.nl_pid != 0 || m.msg_namelen != sizeof from)
            st->bad_seq++;
        int len = n;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
            st->messages++;
            if (h->nlmsg_seq != seq || h->nlmsg_pid != port) st->bad_seq++;
            if (!(h->nlmsg_flags & NLM_F_MULTI)) st->bad_flags++;
            if (h->nlmsg_type == NLMSG_DONE) {
                st->done_ok = h->nlmsg_len == NLMSG_LENGTH(sizeof(int)) &&
                              *(int *)NLMSG_DATA(h) == 0 && len == (int)NLMSG_ALIGN(h->nlmsg_len);
                return;
            }
            if (h->nlmsg_type != want_type) {
                st->bad_type++;
                continue;
            }
            each(h);
        }
    }
}

static void check_dump(const char *what, struct dump_stats *st) {
    char b[128];
    snprintf(b, sizeof b, "%s: several messages", what);
    expect(b, st->messages >= 2);
    snprintf(b, sizeof b, "%s: seq, port and sender", what);
    expect(b, st->bad_seq == 0);
    snprintf(b, sizeof b, "%s: types and NLM_F_MULTI", what);
    expect(b, st->bad_type == 0 && st->bad_flags == 0);
    snprintf(b, sizeof b, "%s: no MSG_TRUNC, first datagram fits a page", what);
    expect(b, st->truncated == 0 && st->too_big == 0);
    snprintf(b, sizeof b, "%s: NLMSG_DONE with 0, alone at the end", what);
    expect(b, st->done_ok);
}

static void each_link(struct nlmsghdr *h) {
    struct ifinfomsg *i = NLMSG_DATA(h);
    int len = IFLA_PAYLOAD(h);
    const char *name = rta_name(IFLA_RTA(i), len, IFLA_IFNAME);
    if (!name || strcmp(name, "lo") != 0) return;
    const struct rtattr *mtu = rta_find(IFLA_RTA(i), len, IFLA_MTU);
    const struct rtattr *addr = rta_find(IFLA_RTA(i), len, IFLA_ADDRESS);
    const struct rtattr *bcast = rta_find(IFLA_RTA(i), len, IFLA_BROADCAST);
    const struct rtattr *qdisc = rta_find(IFLA_RTA(i), len, IFLA_QDISC);
    printf("link %s: index %d type %d flags %#x mtu %u addr %d bytes brd %d bytes qdisc %s\n",
           name, i->ifi_index, i->ifi_type,
           i->ifi_flags & (IFF_UP | IFF_LOOPBACK | IFF_RUNNING | IFF_LOWER_UP),
           mtu ? *(unsigned *)RTA_DATA(mtu) : 0, addr ? (int)RTA_PAYLOAD(addr) : -1,
           bcast ? (int)RTA_PAYLOAD(bcast) : -1, qdisc ? (char *)RTA_DATA(qdisc) : "-");
}

static int lo_index = 1;

static void each_addr(struct nlmsghdr *h) {
    struct ifaddrmsg *a = NLMSG_DATA(h);
    if ((int)a->ifa_index != lo_index) return;
    int len = IFA_PAYLOAD(h);
    const struct rtattr *local = rta_find(IFA_RTA(a), len, IFA_ADDRESS);
    const char *label = rta_name(IFA_RTA(a), len, IFA_LABEL);
    char text[64] = "?";
    if (local) inet_ntop(a->ifa_family, RTA_DATA(local), text, sizeof text);
    printf("addr lo: family %d %s/%d scope %d label %s\n", a->ifa_family, text,
           a->ifa_prefixlen, a->ifa_scope, label ? label : "-");
}

static void each_route(struct nlmsghdr *h) {
    struct rtmsg *r = NLMSG_DATA(h);
    int len = RTM_PAYLOAD(h);
    const struct rtattr *oif = rta_find(RTM_RTA(r), len, RTA_OIF);
    if (!oif || *(int *)RTA_DATA(oif) != lo_index) return;
    const struct rtattr *dst = rta_find(RTM_RTA(r), len, RTA_DST);
    char text[64] = "default";
    if (dst) inet_ntop(r->rtm_family, RTA_DATA(dst), text, sizeof text);
    printf("route lo: family %d table %d type %d scope %d proto %d %s/%d\n", r->rtm_family,
           r->rtm_table, r->rtm_type, r->rtm_scope, r->rtm_protocol, text, r->rtm_dst_len);
}

static void dumps(void) {
    printf("== dumps\n");
    int s = nl_socket();
    struct dump_stats st;
    struct rtgenmsg g = {.rtgen_family = AF_UNSPEC};
    // glibc's way: a page-sized buffer.
    show("GETLINK dump", request(s, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 11, &g, sizeof g));
    read_dump(s, 11, RTM_NEWLINK, 4096, each_link, &st);
    expect("links: lo and no more messages than links", st.messages >= 2);
    expect("links: seq, port", st.bad_seq == 0);
    expect("links: NLMSG_DONE", st.done_ok && !st.truncated && !st.too_big);
    struct ifaddrmsg am = {.ifa_family = AF_INET};
    show("GETADDR inet dump", request(s, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 12, &am, sizeof am));
    read_dump(s, 12, RTM_NEWADDR, 4096, each_addr, &st);
    expect("inet addresses: NLMSG_DONE", st.done_ok && st.bad_seq == 0 && st.bad_type == 0);
    am.ifa_family = AF_INET6;
    show("GETADDR inet6 dump", request(s, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 13, &am, sizeof am));
    read_dump(s, 13, RTM_NEWADDR, 4096, each_addr, &st);
    expect("inet6 addresses: NLMSG_DONE", st.done_ok && st.bad_seq == 0 && st.bad_type == 0);
    struct rtmsg rm = {.rtm_family = AF_INET};
    show("GETROUTE inet dump", request(s, RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, 14, &rm, sizeof rm));
    read_dump(s, 14, RTM_NEWROUTE, 32768, each_route, &st);
    check_dump("inet routes", &st);
    rm.rtm_family = AF_INET6;
    show("GETROUTE inet6 dump", request(s, RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, 15, &rm, sizeof rm));
    read_dump(s, 15, RTM_NEWROUTE, 32768, each_route, &st);
    expect("inet6 routes: NLMSG_DONE", st.done_ok && st.bad_seq == 0 && st.bad_type == 0);
    // Every family at once: links in a dump of addresses are not there.
    g.rtgen_family = AF_UNSPEC;
    show("GETADDR unspec dump", request(s, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 16, &g, sizeof g));
    read_dump(s, 16, RTM_NEWADDR, 8192, each_addr, &st);
    expect("all addresses: NLMSG_DONE", st.done_ok && st.bad_type == 0);
    close(s);
}

/// Receives one datagram without waiting; the first message's type and its error, if any.
static long recv_one(int s, int *type, int *error, int *flags) {
    static char buf[65536];
    long n = recv(s, buf, sizeof buf, MSG_DONTWAIT);
    if (n < (long)sizeof(struct nlmsghdr)) return n < 0 ? n : -2;
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    *type = h->nlmsg_type;
    *flags = h->nlmsg_flags;
    *error = h->nlmsg_type == NLMSG_ERROR ? ((struct nlmsgerr *)NLMSG_DATA(h))->error : 0;
    return h->nlmsg_len;
}

static void answer(int s, const char *what) {
    int type = 0, error = 0, flags = 0;
    long n = recv_one(s, &type, &error, &flags);
    if (n < 0 && n != -2) {
        printf("%s: nothing (%s)\n", what, strerrorname_np(errno));
        return;
    }
    printf("%s: type %d len %ld flags %#x error %s\n", what, type, n, flags,
           error ? strerrorname_np(-error) : "0");
}

static void singles(void) {
    printf("== single requests\n");
    int s = nl_socket();
    struct ifinfomsg i = {.ifi_family = AF_UNSPEC, .ifi_index = lo_index};
    request(s, RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, 21, &i, sizeof i);
    answer(s, "GETLINK index lo, acked");
    answer(s, "  then");
    struct {
        struct ifinfomsg i;
        struct rtattr a;
        char name[4];
    } byname = {{.ifi_family = AF_UNSPEC}, {RTA_LENGTH(3), IFLA_IFNAME}, "lo"};
    request(s, RTM_GETLINK, NLM_F_REQUEST, 22, &byname, sizeof byname);
    int type = 0, error = 0, flags = 0;
    long n = recv_one(s, &type, &error, &flags);
    expect("GETLINK by name: one RTM_NEWLINK", n > 0 && type == RTM_NEWLINK && flags == 0);
    i.ifi_index = 9999;
    request(s, RTM_GETLINK, NLM_F_REQUEST, 23, &i, sizeof i);
    answer(s, "GETLINK index 9999");
    i.ifi_index = 0;
    request(s, RTM_GETLINK, NLM_F_REQUEST, 24, &i, sizeof i);
    answer(s, "GETLINK no index, no name");
    answer(s, "  then");
    // A route lookup.
    struct {
        struct rtmsg r;
        struct rtattr a;
        struct in_addr dst;
    } get = {{.rtm_family = AF_INET, .rtm_dst_len = 32}, {RTA_LENGTH(4), RTA_DST}, {htonl(0x7f000001)}};
    request(s, RTM_GETROUTE, NLM_F_REQUEST, 25, &get, sizeof get);
    n = recv_one(s, &type, &error, &flags);
    expect("GETROUTE 127.0.0.1: one RTM_NEWROUTE", n > 0 && type == RTM_NEWROUTE);
    close(s);
}

static void hostile(void) {
    printf("== hostile requests\n");
    int s = nl_socket();
    char buf[256];
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    memset(buf, 0, sizeof buf);
    show("zero-length send", send(s, buf, 0, 0));
    // Lengths shorter than a header or past the datagram: nothing happens.
    h->nlmsg_len = 8;
    h->nlmsg_type = RTM_GETLINK;
    h->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP | NLM_F_ACK;
    show("nlmsg_len 8", send(s, buf, 32, 0));
    answer(s, "  answer");
    h->nlmsg_len = 200;
    show("nlmsg_len past the datagram", send(s, buf, 32, 0));
    answer(s, "  answer");
    h->nlmsg_len = 0;
    show("nlmsg_len 0", send(s, buf, 32, 0));
    answer(s, "  answer");
    show("less than a header", send(s, buf, 12, 0));
    answer(s, "  answer");
    h->nlmsg_len = 0xffffffff;
    show("nlmsg_len 4 GiB", send(s, buf, 32, 0));
    answer(s, "  answer");
    // Unknown and control types, no NLM_F_REQUEST, no family byte.
    int zero = 0;
    request(s, 200, NLM_F_REQUEST | NLM_F_ACK, 31, &zero, 4);
    answer(s, "type 200");
    request(s, 200, NLM_F_REQUEST, 32, &zero, 4);
    answer(s, "type 200 without ack");
    request(s, 0xffff, NLM_F_REQUEST | NLM_F_ACK, 32, &zero, 4);
    answer(s, "type 65535");
    request(s, NLMSG_NOOP, NLM_F_REQUEST | NLM_F_ACK, 33, NULL, 0);
    answer(s, "NLMSG_NOOP acked");
    request(s, NLMSG_DONE, NLM_F_REQUEST, 33, NULL, 0);
    answer(s, "NLMSG_DONE");
    request(s, RTM_GETLINK, NLM_F_ACK, 34, &zero, 4);
    answer(s, "no NLM_F_REQUEST, acked");
    request(s, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP | NLM_F_ACK, 35, NULL, 0);
    answer(s, "dump without a family byte, acked");
    // Two dumps in one datagram: the second is EBUSY while the first is read.
    char two[64];
    memset(two, 0, sizeof two);
    for (int k = 0; k < 2; k++) {
        struct nlmsghdr *m = (struct nlmsghdr *)(two + 32 * k);
        m->nlmsg_len = 32;
        m->nlmsg_type = RTM_GETADDR;
        m->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        m->nlmsg_seq = 40 + k;
    }
    show("two dumps at once", send(s, two, sizeof two, 0));
    int type = 0, error = 0, flags = 0, ebusy = 0, done = 0, data = 0;
    for (int k = 0; k < 100; k++) {
        long n = recv_one(s, &type, &error, &flags);
        if (n < 0) break;
        if (type == NLMSG_ERROR && error == -EBUSY) ebusy++;
        else if (type == NLMSG_DONE) done++;
        else if (type == RTM_NEWADDR) data++;
    }
    printf("  one EBUSY, one NLMSG_DONE, addresses: %d %d %d\n", ebusy, done, data > 0);
    // A dump into tiny buffers: MSG_TRUNC says it was cut, or gives the real length.
    request(s, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 50, &zero, 4);
    struct pollfd p = {s, POLLIN | POLLOUT, 0};
    show("poll with a dump queued", poll(&p, 1, 0));
    printf("  revents %#x\n", p.revents);
    long peek = recv(s, NULL, 0, MSG_PEEK | MSG_TRUNC);
    expect("MSG_PEEK|MSG_TRUNC gives a datagram's length", peek > 16);
    char small[16];
    struct iovec iov = {small, sizeof small};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    long got = recvmsg(s, &m, 0);
    printf("16-byte buffer: %ld, MSG_TRUNC %s\n", got, m.msg_flags & MSG_TRUNC ? "set" : "unset");
    got = recv(s, small, sizeof small, MSG_TRUNC);
    expect("MSG_TRUNC returns the whole length", got > 16);
    while (recv(s, small, sizeof small, MSG_DONTWAIT) > 0) {
    }
    p.revents = 0;
    show("poll once read", poll(&p, 1, 0));
    printf("  revents %#x\n", p.revents);
    show("empty queue, MSG_DONTWAIT", recv(s, small, sizeof small, MSG_DONTWAIT));
    show("MSG_OOB", recv(s, small, sizeof small, MSG_OOB | MSG_DONTWAIT));
    show("send MSG_OOB", send(s, two, 32, MSG_OOB));
    // Addresses.
    struct sockaddr_nl to = {.nl_family = AF_NETLINK};
    show("sendto the kernel", sendto(s, two, 32, 0, (struct sockaddr *)&to, sizeof to));
    while (recv(s, small, sizeof small, MSG_DONTWAIT) > 0) {
    }
    show("sendto, short address", sendto(s, two, 32, 0, (struct sockaddr *)&to, 4));
    to.nl_family = AF_INET;
    show("sendto, AF_INET address", sendto(s, two, 32, 0, (struct sockaddr *)&to, sizeof to));
    // write and read are a send and a receive.
    struct {
        struct nlmsghdr h;
        struct ifinfomsg i;
    } w = {{sizeof w, RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, 60, 0}, {.ifi_index = lo_index}};
    show("write a request", write(s, &w, sizeof w));
    static char rbuf[65536];
    show("read of 0 bytes takes nothing", read(s, rbuf, 0));
    long r = read(s, rbuf, sizeof rbuf);
    expect("read its answer", r > 16 && ((struct nlmsghdr *)rbuf)->nlmsg_type == RTM_NEWLINK);
    r = read(s, rbuf, sizeof rbuf);
    expect("read its ack", r == 36 && ((struct nlmsghdr *)rbuf)->nlmsg_type == NLMSG_ERROR);
    // What netlink sockets don't do.
    show("listen", listen(s, 1));
    show("accept", accept(s, NULL, NULL));
    show("shutdown", shutdown(s, SHUT_RDWR));
    int sv[2];
    show("socketpair", socketpair(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, sv));
    close(s);
}

static void names_and_options(void) {
    printf("== names and options\n");
    show("SOCK_STREAM", socket(AF_NETLINK, SOCK_STREAM, 0));
    show("SOCK_SEQPACKET", socket(AF_NETLINK, SOCK_SEQPACKET, 0));
    show("protocol 32", socket(AF_NETLINK, SOCK_RAW, 32));
    show("protocol -1", socket(AF_NETLINK, SOCK_RAW, -1));
    int d = socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK, NETLINK_ROUTE);
    expect("SOCK_DGRAM", d >= 0);
    close(d);
    int s = nl_socket();
    struct sockaddr_nl a;
    socklen_t len = sizeof a;
    memset(&a, 0xff, sizeof a);
    show("getsockname unbound", getsockname(s, (struct sockaddr *)&a, &len));
    printf("  family %d pid %u groups %u len %u\n", a.nl_family, a.nl_pid, a.nl_groups, len);
    struct sockaddr_nl b = {.nl_family = AF_NETLINK};
    show("bind short", bind(s, (struct sockaddr *)&b, 8));
    b.nl_family = AF_UNIX;
    show("bind AF_UNIX", bind(s, (struct sockaddr *)&b, sizeof b));
    b.nl_family = AF_NETLINK;
    show("bind autobind", bind(s, (struct sockaddr *)&b, sizeof b));
    expect("first socket's port is the pid", port_of(s) == (unsigned)getpid());
    show("bind again, same port", bind(s, (struct sockaddr *)&(struct sockaddr_nl){AF_NETLINK, 0, port_of(s), 0}, sizeof b));
    show("bind again, other port", bind(s, (struct sockaddr *)&(struct sockaddr_nl){AF_NETLINK, 0, port_of(s) + 1, 0}, sizeof b));
    int t = nl_socket();
    show("bind a taken port", bind(t, (struct sockaddr *)&(struct sockaddr_nl){AF_NETLINK, 0, port_of(s), 0}, sizeof b));
    int zero = 0;
    request(t, RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, 1, &zero, 4);
    expect("second socket's autobind port is negative", (int)port_of(t) < -4095);
    close(t);
    show("connect to the kernel", connect(s, (struct sockaddr *)&b, sizeof b));
    len = sizeof a;
    show("getpeername", getpeername(s, (struct sockaddr *)&a, &len));
    printf("  family %d pid %u groups %u len %u\n", a.nl_family, a.nl_pid, a.nl_groups, len);
    b.nl_family = AF_UNSPEC;
    show("connect AF_UNSPEC", connect(s, (struct sockaddr *)&b, sizeof b));
    int v = 0;
    len = sizeof v;
    show("SO_RCVBUF", getsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, &len));
    printf("  %d\n", v);
    show("SO_TYPE", getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &len));
    printf("  %d\n", v);
    show("SO_PROTOCOL", getsockopt(s, SOL_SOCKET, SO_PROTOCOL, &v, &len));
    printf("  %d\n", v);
    show("SO_DOMAIN", getsockopt(s, SOL_SOCKET, SO_DOMAIN, &v, &len));
    printf("  %d\n", v);
    int one = 1;
    show("NETLINK_EXT_ACK", setsockopt(s, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one));
    show("NETLINK_GET_STRICT_CHK", setsockopt(s, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof one));
    show("NETLINK_CAP_ACK", setsockopt(s, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one));
    show("NETLINK_NO_ENOBUFS", setsockopt(s, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one));
    show("option 99", setsockopt(s, SOL_NETLINK, 99, &one, sizeof one));
    show("SOL_IP level", setsockopt(s, SOL_IP, 1, &one, sizeof one));
    v = 0;
    len = sizeof v;
    show("get NETLINK_EXT_ACK", getsockopt(s, SOL_NETLINK, NETLINK_EXT_ACK, &v, &len));
    printf("  %d len %u\n", v, len);
    len = 2;
    show("get NETLINK_EXT_ACK, 2 bytes", getsockopt(s, SOL_NETLINK, NETLINK_EXT_ACK, &v, &len));
    int g = 0;
    show("join group 0", setsockopt(s, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof g));
    g = RTNLGRP_LINK;
    show("join RTNLGRP_LINK", setsockopt(s, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof g));
    unsigned groups[4] = {0};
    len = sizeof groups;
    show("NETLINK_LIST_MEMBERSHIPS", getsockopt(s, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, groups, &len));
    printf("  %#x\n", groups[0]);
    // SO_RCVTIMEO: a receive with nothing queued waits that long, then EAGAIN.
    struct timeval tv = {0, 200000};
    show("SO_RCVTIMEO 0.2 s", setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    struct timeval back = {9, 9};
    len = sizeof back;
    show("get SO_RCVTIMEO", getsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &back, &len));
    printf("  %ld.%06ld len %u\n", (long)back.tv_sec, (long)back.tv_usec, len);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char small[64];
    show("recv, nothing queued", recv(s, small, sizeof small, 0));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    expect("  after about 0.2 s", ms >= 190 && ms < 2000);
    tv.tv_sec = -1;
    show("SO_RCVTIMEO negative", setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    show("recv, never waits", recv(s, small, sizeof small, 0));
    tv.tv_sec = 0;
    tv.tv_usec = 1000000;
    show("SO_RCVTIMEO usec 1000000", setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    show("SO_RCVTIMEO, 8 bytes", setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, 8));
    tv.tv_usec = 0;
    show("SO_RCVTIMEO 0: forever", setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    // With NETLINK_CAP_ACK, an error carries the request's header only.
    request(s, 200, NLM_F_REQUEST, 70, &one, 4);
    answer(s, "capped error");
    close(s);
}

static void libc_view(void) {
    printf("== libc\n");
    struct ifaddrs *all;
    if (getifaddrs(&all) != 0) {
        perror("getifaddrs");
        failures++;
        return;
    }
    for (struct ifaddrs *p = all; p; p = p->ifa_next) {
        if (strcmp(p->ifa_name, "lo") != 0) continue;
        char host[64] = "-", mask[64] = "-";
        int fam = p->ifa_addr ? p->ifa_addr->sa_family : -1;
        if (fam == AF_INET || fam == AF_INET6) {
            socklen_t l = fam == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
            getnameinfo(p->ifa_addr, l, host, sizeof host, NULL, 0, NI_NUMERICHOST);
            getnameinfo(p->ifa_netmask, l, mask, sizeof mask, NULL, 0, NI_NUMERICHOST);
        }
        printf("getifaddrs lo: family %d flags %#x %s mask %s\n", fam,
               p->ifa_flags & (IFF_UP | IFF_LOOPBACK | IFF_RUNNING), host, mask);
    }
    freeifaddrs(all);
    struct if_nameindex *ni = if_nameindex();
    int found = 0;
    for (struct if_nameindex *p = ni; p && p->if_index; p++)
        if (strcmp(p->if_name, "lo") == 0) {
            found = 1;
            lo_index = p->if_index;
            printf("if_nameindex: lo is %u\n", p->if_index);
        }
    expect("if_nameindex lists lo", found);
    if_freenameindex(ni);
}

/// One interface ioctl on a socket of `family`, the union's first bytes shown.
static void ifr_ioctl(int family, const char *what, unsigned long cmd, const char *name, int index) {
    int s = socket(family, SOCK_DGRAM, 0);
    struct ifreq r;
    memset(&r, 0, sizeof r);
    strncpy(r.ifr_name, name, sizeof r.ifr_name);
    if (cmd == SIOCGIFNAME) r.ifr_ifindex = index;
    long ret = ioctl(s, cmd, &r);
    if (ret < 0) {
        printf("%s: -1 %s\n", what, strerrorname_np(errno));
    } else {
        unsigned char *u = (unsigned char *)&r.ifr_ifru;
        printf("%s: name %s union", what, r.ifr_name);
        for (int k = 0; k < 16; k++) printf(" %02x", u[k]);
        printf("\n");
    }
    close(s);
}

static void ioctls(void) {
    printf("== interface ioctls\n");
    int families[] = {AF_INET, AF_INET6, AF_UNIX, AF_NETLINK};
    const char *names[] = {"inet", "inet6", "unix", "netlink"};
    char b[64];
    for (int f = 0; f < 4; f++) {
        int fam = families[f];
        snprintf(b, sizeof b, "%s SIOCGIFINDEX", names[f]);
        ifr_ioctl(fam, b, SIOCGIFINDEX, "lo", 0);
        snprintf(b, sizeof b, "%s SIOCGIFINDEX nosuch", names[f]);
        ifr_ioctl(fam, b, SIOCGIFINDEX, "nosuch0", 0);
        snprintf(b, sizeof b, "%s SIOCGIFNAME", names[f]);
        ifr_ioctl(fam, b, SIOCGIFNAME, "", lo_index);
        snprintf(b, sizeof b, "%s SIOCGIFNAME 9999", names[f]);
        ifr_ioctl(fam, b, SIOCGIFNAME, "", 9999);
        snprintf(b, sizeof b, "%s SIOCGIFFLAGS", names[f]);
        ifr_ioctl(fam, b, SIOCGIFFLAGS, "lo", 0);
        snprintf(b, sizeof b, "%s SIOCGIFMTU", names[f]);
        ifr_ioctl(fam, b, SIOCGIFMTU, "lo", 0);
        snprintf(b, sizeof b, "%s SIOCGIFHWADDR", names[f]);
        ifr_ioctl(fam, b, SIOCGIFHWADDR, "lo", 0);
        snprintf(b, sizeof b, "%s SIOCGIFTXQLEN", names[f]);
        ifr_ioctl(fam, b, SIOCGIFTXQLEN, "lo", 0);
        snprintf(b, sizeof b, "%s SIOCGIFMETRIC", names[f]);
        ifr_ioctl(fam, b, SIOCGIFMETRIC, "lo", 0);
        snprintf(b, sizeof b, "%s SIOCGIFADDR", names[f]);
        ifr_ioctl(fam, b, SIOCGIFADDR, "lo", 0);
        snprintf(b, sizeof b, "%s SIOCGIFNETMASK", names[f]);
        ifr_ioctl(fam, b, SIOCGIFNETMASK, "lo", 0);
    }
    ifr_ioctl(AF_INET, "inet SIOCGIFBRDADDR", SIOCGIFBRDADDR, "lo", 0);
    ifr_ioctl(AF_INET, "inet SIOCGIFDSTADDR", SIOCGIFDSTADDR, "lo", 0);
    ifr_ioctl(AF_INET, "inet SIOCGIFADDR lo:9", SIOCGIFADDR, "lo:9", 0);
    ifr_ioctl(AF_INET, "inet SIOCGIFADDR nosuch:1", SIOCGIFADDR, "nosuch:1", 0);
    int s = socket(AF_UNIX, SOCK_DGRAM, 0);
    show("SIOCGIFINDEX, bad pointer", ioctl(s, SIOCGIFINDEX, (void *)8));
    struct ifconf c = {0};
    show("SIOCGIFCONF, NULL buffer", ioctl(s, SIOCGIFCONF, &c));
    int need = c.ifc_len;
    expect("  a whole number of ifreqs", need > 0 && need % (int)sizeof(struct ifreq) == 0);
    struct ifreq reqs[32];
    c.ifc_len = sizeof reqs;
    c.ifc_req = reqs;
    show("SIOCGIFCONF", ioctl(s, SIOCGIFCONF, &c));
    expect("  the length it said", c.ifc_len == need);
    for (int k = 0; k < c.ifc_len / (int)sizeof(struct ifreq); k++)
        if (strcmp(reqs[k].ifr_name, "lo") == 0)
            printf("  %s %s\n", reqs[k].ifr_name,
                   inet_ntoa(((struct sockaddr_in *)&reqs[k].ifr_addr)->sin_addr));
    c.ifc_len = sizeof(struct ifreq) + 7;
    show("SIOCGIFCONF, room for one", ioctl(s, SIOCGIFCONF, &c));
    printf("  %d\n", c.ifc_len);
    c.ifc_len = 7;
    show("SIOCGIFCONF, room for none", ioctl(s, SIOCGIFCONF, &c));
    printf("  %d\n", c.ifc_len);
    close(s);
    printf("if_nametoindex(lo) is lo's: %s\n", if_nametoindex("lo") == (unsigned)lo_index ? "yes" : "no");
    char name[16];
    printf("if_indextoname: %s\n", if_indextoname(lo_index, name) ? name : strerrorname_np(errno));
    printf("if_nametoindex(nosuch0): %u\n", if_nametoindex("nosuch0"));
}

int main(void) {
    own_namespace();
    setvbuf(stdout, NULL, _IOLBF, 0);
    libc_view();
    names_and_options();
    dumps();
    singles();
    hostile();
    ioctls();
    if (failures) {
        printf("%d failures\n", failures);
        return 1;
    }
    return 0;
}
