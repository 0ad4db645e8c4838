// TCP over loopback, IPv4 and IPv6, both ends in this program (the client in a child):
// blocking and non-blocking connect (EINPROGRESS, then SO_ERROR), refused connections,
// accept4 flags, poll and epoll readiness, shutdown and end-of-file, getsockname and
// getpeername, the listed options, FIONREAD, MSG_PEEK/MSG_DONTWAIT/MSG_WAITALL,
// readv/writev, a 4 MiB transfer, EPIPE, and blocking calls interrupted by signals with and
// without SA_RESTART. Ports are the kernel's choice (bind to port 0); nothing printed
// depends on scheduling.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
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

/// The loopback address of `family` with `port` (network order).
static socklen_t loopback(int family, struct sockaddr_storage *ss, in_port_t port) {
    memset(ss, 0, sizeof *ss);
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = port;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return sizeof *a;
    }
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = port;
    a->sin6_addr = in6addr_loopback;
    return sizeof *a;
}

static in_port_t port_of(const struct sockaddr_storage *ss) {
    return ss->ss_family == AF_INET ? ((const struct sockaddr_in *)ss)->sin_port
                                    : ((const struct sockaddr_in6 *)ss)->sin6_port;
}

/// A listener on loopback at a port the kernel picks; its address in `ss`.
static int listener(int family, struct sockaddr_storage *ss, socklen_t *len) {
    int l = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    *len = loopback(family, ss, 0);
    if (bind(l, (struct sockaddr *)ss, *len) < 0 || listen(l, 8) < 0) {
        perror("listener");
        exit(2);
    }
    *len = sizeof *ss;
    getsockname(l, (struct sockaddr *)ss, len);
    return l;
}

static int connected(int family, const struct sockaddr_storage *ss, socklen_t len) {
    int c = socket(family, SOCK_STREAM, 0);
    if (connect(c, (const struct sockaddr *)ss, len) < 0) {
        perror("connect");
        exit(2);
    }
    return c;
}

static int get_int(int s, int level, int opt) {
    int v = -1;
    socklen_t l = sizeof v;
    if (getsockopt(s, level, opt, &v, &l) < 0) return -errno;
    return v;
}

static void options(int family, int l, int c) {
    expect("SO_TYPE", get_int(c, SOL_SOCKET, SO_TYPE) == SOCK_STREAM);
    expect("SO_DOMAIN", get_int(c, SOL_SOCKET, SO_DOMAIN) == family);
    expect("SO_PROTOCOL", get_int(c, SOL_SOCKET, SO_PROTOCOL) == IPPROTO_TCP);
    expect("SO_ACCEPTCONN listener", get_int(l, SOL_SOCKET, SO_ACCEPTCONN) == 1);
    expect("SO_ACCEPTCONN client", get_int(c, SOL_SOCKET, SO_ACCEPTCONN) == 0);
    expect("SO_REUSEADDR", get_int(l, SOL_SOCKET, SO_REUSEADDR) == 1);
    int one = 1, idle = 77, v;
    show("TCP_NODELAY set", setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));
    show("TCP_NODELAY", get_int(c, IPPROTO_TCP, TCP_NODELAY));
    show("TCP_CORK set", setsockopt(c, IPPROTO_TCP, TCP_CORK, &one, sizeof one));
    show("TCP_CORK", get_int(c, IPPROTO_TCP, TCP_CORK));
    one = 0;
    setsockopt(c, IPPROTO_TCP, TCP_CORK, &one, sizeof one);
    one = 1;
    show("SO_KEEPALIVE set", setsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one));
    show("SO_KEEPALIVE", get_int(c, SOL_SOCKET, SO_KEEPALIVE));
    show("TCP_KEEPIDLE set", setsockopt(c, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle));
    show("TCP_KEEPIDLE", get_int(c, IPPROTO_TCP, TCP_KEEPIDLE));
    v = 9;
    show("TCP_KEEPINTVL set", setsockopt(c, IPPROTO_TCP, TCP_KEEPINTVL, &v, sizeof v));
    show("TCP_KEEPINTVL", get_int(c, IPPROTO_TCP, TCP_KEEPINTVL));
    v = 4;
    show("TCP_KEEPCNT set", setsockopt(c, IPPROTO_TCP, TCP_KEEPCNT, &v, sizeof v));
    show("TCP_KEEPCNT", get_int(c, IPPROTO_TCP, TCP_KEEPCNT));
    show("SO_REUSEPORT set", setsockopt(c, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one));
    show("SO_REUSEPORT", get_int(c, SOL_SOCKET, SO_REUSEPORT));
    v = 65536;
    show("SO_SNDBUF set", setsockopt(c, SOL_SOCKET, SO_SNDBUF, &v, sizeof v));
    show("SO_SNDBUF", get_int(c, SOL_SOCKET, SO_SNDBUF));
    show("SO_RCVBUF set", setsockopt(c, SOL_SOCKET, SO_RCVBUF, &v, sizeof v));
    show("SO_RCVBUF", get_int(c, SOL_SOCKET, SO_RCVBUF));
    struct linger lg = {1, 5}, lg2 = {0, 0};
    socklen_t ll = sizeof lg2;
    show("SO_LINGER set", setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
    show("SO_LINGER get", getsockopt(c, SOL_SOCKET, SO_LINGER, &lg2, &ll));
    printf("linger %d %d len %u\n", lg2.l_onoff, lg2.l_linger, ll);
    lg.l_onoff = 0;
    setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    if (family == AF_INET) {
        v = 0x10;
        show("IP_TOS set", setsockopt(c, IPPROTO_IP, IP_TOS, &v, sizeof v));
        show("IP_TOS", get_int(c, IPPROTO_IP, IP_TOS));
    } else {
        // Set first: its default is the namespace's net.ipv6.bindv6only.
        v = 1;
        show("IPV6_V6ONLY set", setsockopt(c, IPPROTO_IPV6, IPV6_V6ONLY, &v, sizeof v));
        show("IPV6_V6ONLY", get_int(c, IPPROTO_IPV6, IPV6_V6ONLY));
    }
    // More TCP options programs set (servers, HTTP clients, databases).
    v = 1;
    show("TCP_QUICKACK set", setsockopt(c, IPPROTO_TCP, TCP_QUICKACK, &v, sizeof v));
    v = 5000;
    show("TCP_USER_TIMEOUT set", setsockopt(c, IPPROTO_TCP, TCP_USER_TIMEOUT, &v, sizeof v));
    show("TCP_USER_TIMEOUT", get_int(c, IPPROTO_TCP, TCP_USER_TIMEOUT));
    v = 3;
    show("TCP_SYNCNT set", setsockopt(c, IPPROTO_TCP, TCP_SYNCNT, &v, sizeof v));
    show("TCP_SYNCNT", get_int(c, IPPROTO_TCP, TCP_SYNCNT));
    v = 16384;
    show("TCP_NOTSENT_LOWAT set", setsockopt(c, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, sizeof v));
    show("TCP_NOTSENT_LOWAT", get_int(c, IPPROTO_TCP, TCP_NOTSENT_LOWAT));
    v = 10;
    show("TCP_DEFER_ACCEPT set", setsockopt(l, IPPROTO_TCP, TCP_DEFER_ACCEPT, &v, sizeof v));
    show("TCP_FASTOPEN set", setsockopt(l, IPPROTO_TCP, TCP_FASTOPEN, &v, sizeof v));
    show("TCP_MAXSEG > 0", get_int(c, IPPROTO_TCP, TCP_MAXSEG) > 0);
    show("TCP_LINGER2 > 0", get_int(c, IPPROTO_TCP, TCP_LINGER2) > 0);
    show("TCP_WINDOW_CLAMP >= 0", get_int(c, IPPROTO_TCP, TCP_WINDOW_CLAMP) >= 0);
    char ca[16] = {0};
    socklen_t cal = sizeof ca;
    show("TCP_CONGESTION", getsockopt(c, IPPROTO_TCP, TCP_CONGESTION, ca, &cal));
    show("TCP_CONGESTION set reno", setsockopt(c, IPPROTO_TCP, TCP_CONGESTION, "reno", 4));
    show("TCP_CONGESTION set bogus", setsockopt(c, IPPROTO_TCP, TCP_CONGESTION, "nosuchcc", 8));
    struct tcp_info ti;
    memset(&ti, 0xff, sizeof ti);
    socklen_t til = sizeof ti;
    show("TCP_INFO", getsockopt(c, IPPROTO_TCP, TCP_INFO, &ti, &til));
    printf("  state %u (established %d) length ok %d\n", ti.tcpi_state, TCP_ESTABLISHED,
           til > 0 && til <= sizeof ti);
    til = 8;
    show("TCP_INFO 8 bytes", getsockopt(l, IPPROTO_TCP, TCP_INFO, &ti, &til));
    printf("  listener state %u len %u\n", ti.tcpi_state, til);
    v = 1;
    show("SO_OOBINLINE set", setsockopt(c, SOL_SOCKET, SO_OOBINLINE, &v, sizeof v));
    show("SO_OOBINLINE", get_int(c, SOL_SOCKET, SO_OOBINLINE));
    v = 4;
    show("SO_RCVLOWAT set", setsockopt(c, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof v));
    show("SO_RCVLOWAT", get_int(c, SOL_SOCKET, SO_RCVLOWAT));
    v = 1;
    setsockopt(c, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof v);
    v = 3;
    show("SO_PRIORITY set", setsockopt(c, SOL_SOCKET, SO_PRIORITY, &v, sizeof v));
    show("SO_PRIORITY", get_int(c, SOL_SOCKET, SO_PRIORITY));
    if (family == AF_INET) {
        v = IP_PMTUDISC_DONT;
        show("IP_MTU_DISCOVER set", setsockopt(c, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof v));
        show("IP_MTU_DISCOVER", get_int(c, IPPROTO_IP, IP_MTU_DISCOVER));
        show("IP_MTU > 0", get_int(c, IPPROTO_IP, IP_MTU) > 0);
        v = 1;
        show("IP_FREEBIND set", setsockopt(c, IPPROTO_IP, IP_FREEBIND, &v, sizeof v));
        show("IP_BIND_ADDRESS_NO_PORT set",
             setsockopt(c, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &v, sizeof v));
    } else {
        v = 0x20;
        show("IPV6_TCLASS set", setsockopt(c, IPPROTO_IPV6, IPV6_TCLASS, &v, sizeof v));
        show("IPV6_TCLASS", get_int(c, IPPROTO_IPV6, IPV6_TCLASS));
        v = 33;
        show("IPV6_UNICAST_HOPS set", setsockopt(c, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &v, sizeof v));
        show("IPV6_UNICAST_HOPS", get_int(c, IPPROTO_IPV6, IPV6_UNICAST_HOPS));
        show("IPV6_MTU > 0", get_int(c, IPPROTO_IPV6, IPV6_MTU) > 0);
    }
    // A short value: only as much as asked for, and the length says so.
    char small = 0x55;
    socklen_t sl = 1;
    show("SO_TYPE 1 byte", getsockopt(c, SOL_SOCKET, SO_TYPE, &small, &sl));
    printf("  byte %d len %u\n", small, sl);
    show("SO_ERROR", get_int(c, SOL_SOCKET, SO_ERROR));
}

/// One connection: the child sends, shuts down, reads the echo; the parent checks names,
/// readiness, FIONREAD, peeks, and echoes.
static void conversation(int family) {
    printf("== conversation %s\n", family == AF_INET ? "inet" : "inet6");
    struct sockaddr_storage ss;
    socklen_t len;
    int l = listener(family, &ss, &len);
    expect("bound to a port", port_of(&ss) != 0);
    struct pollfd p = {l, POLLIN, 0};
    show("listener poll before", poll(&p, 1, 0));
    int fl = fcntl(l, F_GETFL);
    fcntl(l, F_SETFL, fl | O_NONBLOCK);
    show("accept nothing", accept(l, NULL, NULL));
    fcntl(l, F_SETFL, fl);
    int go[2];
    pipe(go);
    pid_t pid = fork();
    if (pid == 0) {
        close(go[1]);
        int c = connected(family, &ss, len);
        char b;
        read(go[0], &b, 1);
        write(c, "hello", 5);
        struct iovec iov[2] = {{" wor", 4}, {"ld", 2}};
        writev(c, iov, 2);
        shutdown(c, SHUT_WR);
        char buf[64];
        ssize_t n, got = 0;
        while ((n = read(c, buf + got, sizeof buf - got)) > 0) got += n;
        printf("child got %.*s\n", (int)got, buf);
        fflush(stdout);
        _exit(0);
    }
    close(go[0]);
    p.revents = 0;
    show("listener poll", poll(&p, 1, 5000));
    struct sockaddr_storage peer;
    socklen_t pl = sizeof peer;
    int a = accept4(l, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
    expect("accept4", a >= 0);
    expect("peer address length", pl == len);
    expect("accept4 CLOEXEC", fcntl(a, F_GETFD) == FD_CLOEXEC);
    struct sockaddr_storage pn, sn;
    socklen_t pnl = sizeof pn, snl = sizeof sn;
    getpeername(a, (struct sockaddr *)&pn, &pnl);
    getsockname(a, (struct sockaddr *)&sn, &snl);
    expect("getpeername is accept's", pnl == pl && memcmp(&pn, &peer, pl) == 0);
    expect("getsockname is the listener's port", port_of(&sn) == port_of(&ss));
    struct stat st;
    fstat(a, &st);
    expect("fstat S_IFSOCK", S_ISSOCK(st.st_mode));
    options(family, l, a);
    char buf[64];
    show("recv nothing MSG_DONTWAIT", recv(a, buf, sizeof buf, MSG_DONTWAIT));
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = 7}, out;
    epoll_ctl(ep, EPOLL_CTL_ADD, a, &ev);
    show("epoll before", epoll_wait(ep, &out, 1, 0));
    write(go[1], "g", 1);
    show("epoll", epoll_wait(ep, &out, 1, 5000));
    expect("epoll data", out.data.u32 == 7 && (out.events & EPOLLIN));
    // Wait for the end-of-file so every byte is here before we count them.
    struct pollfd ap = {a, POLLRDHUP, 0};
    show("poll rdhup", poll(&ap, 1, 5000));
    int avail = -1;
    show("FIONREAD", ioctl(a, FIONREAD, &avail));
    printf("  avail %d\n", avail);
    // Nothing of ours is unsent or unacknowledged (the peer has closed after reading
    // nothing we sent: we sent nothing on this end).
    int outq = -1, nsd = -1;
    show("SIOCOUTQ", ioctl(a, SIOCOUTQ, &outq));
    show("SIOCOUTQNSD", ioctl(a, SIOCOUTQNSD, &nsd));
    printf("  outq %d unsent %d\n", outq, nsd);
    show("MSG_PEEK", recv(a, buf, 5, MSG_PEEK));
    show("MSG_WAITALL", recv(a, buf, 11, MSG_WAITALL));
    printf("  %.11s\n", buf);
    show("end-of-file", read(a, buf, sizeof buf));
    show("echo", write(a, "HELLO WORLD", 11));
    close(a);
    int status;
    waitpid(pid, &status, 0);
    expect("child exit", WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(ep);
    close(l);
}

/// A non-blocking connect: EINPROGRESS (or done at once), writable, SO_ERROR 0; then one
/// to a closed port: refused, either way.
static void nonblocking(int family) {
    printf("== non-blocking connect %s\n", family == AF_INET ? "inet" : "inet6");
    struct sockaddr_storage ss;
    socklen_t len;
    int l = listener(family, &ss, &len);
    int c = socket(family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int r = connect(c, (struct sockaddr *)&ss, len);
    expect("EINPROGRESS or done", r == 0 || errno == EINPROGRESS);
    struct pollfd p = {c, POLLOUT, 0};
    show("poll out", poll(&p, 1, 5000));
    show("SO_ERROR", get_int(c, SOL_SOCKET, SO_ERROR));
    r = connect(c, (struct sockaddr *)&ss, len);
    show("connect again", r);
    int a = accept(l, NULL, NULL);
    show("send", send(c, "x", 1, 0));
    char b;
    show("recv", recv(a, &b, 1, 0));
    close(a);
    close(c);
    // A port nobody listens on: this listener's, once closed.
    close(l);
    c = socket(family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    r = connect(c, (struct sockaddr *)&ss, len);
    if (r < 0 && errno == EINPROGRESS) {
        p.fd = c;
        poll(&p, 1, 5000);
        r = get_int(c, SOL_SOCKET, SO_ERROR);
        expect("refused (SO_ERROR)", r == ECONNREFUSED);
    } else {
        expect("refused (at once)", r < 0 && errno == ECONNREFUSED);
    }
    close(c);
    c = socket(family, SOCK_STREAM, 0);
    show("blocking connect refused", connect(c, (struct sockaddr *)&ss, len));
    close(c);
}

/// 4 MiB through one connection, the reader in a child; the sum must match.
static void bulk(int family) {
    printf("== bulk %s\n", family == AF_INET ? "inet" : "inet6");
    struct sockaddr_storage ss;
    socklen_t len;
    int l = listener(family, &ss, &len);
    pid_t pid = fork();
    if (pid == 0) {
        int c = connected(family, &ss, len);
        static char buf[65536];
        unsigned long sum = 0, total = 0;
        ssize_t n;
        while ((n = read(c, buf, sizeof buf)) > 0) {
            for (ssize_t i = 0; i < n; i++) sum += (unsigned char)buf[i];
            total += n;
        }
        printf("child read %lu sum %lu\n", total, sum);
        fflush(stdout);
        _exit(0);
    }
    int a = accept(l, NULL, NULL);
    static char big[4 << 20];
    unsigned long sum = 0;
    for (size_t i = 0; i < sizeof big; i++) {
        big[i] = (char)(i * 7 + i / 4096);
        sum += (unsigned char)big[i];
    }
    show("write 4 MiB", write(a, big, sizeof big));
    close(a);
    int status;
    waitpid(pid, &status, 0);
    printf("parent sum %lu\n", sum);
    close(l);
}

static void on_alarm(int sig) { (void)sig; }

/// A blocking recv and accept interrupted: EINTR without SA_RESTART; with it, the recv
/// goes on and gets what the child sends later.
static void signals(void) {
    printf("== signals\n");
    struct sockaddr_storage ss;
    socklen_t len;
    int l = listener(AF_INET, &ss, &len);
    struct sigaction sa = {.sa_handler = on_alarm};
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval t = {.it_value = {0, 50000}};
    setitimer(ITIMER_REAL, &t, NULL);
    show("accept interrupted", accept(l, NULL, NULL));
    int go[2];
    pipe(go);
    pid_t pid = fork();
    if (pid == 0) {
        int c = connected(AF_INET, &ss, len);
        char b;
        read(go[0], &b, 1);
        usleep(300000);
        write(c, "late", 4);
        read(go[0], &b, 1);
        _exit(0);
    }
    int a = accept(l, NULL, NULL);
    char buf[16];
    setitimer(ITIMER_REAL, &t, NULL);
    show("recv interrupted", recv(a, buf, sizeof buf, 0));
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    write(go[1], "g", 1);
    setitimer(ITIMER_REAL, &t, NULL);
    show("recv restarted", recv(a, buf, sizeof buf, 0));
    // EPIPE: our own side shut for writing.
    shutdown(a, SHUT_WR);
    signal(SIGPIPE, SIG_IGN);
    show("send after SHUT_WR", send(a, "x", 1, 0));
    show("send MSG_NOSIGNAL", send(a, "x", 1, MSG_NOSIGNAL));
    write(go[1], "g", 1);
    int status;
    waitpid(pid, &status, 0);
    close(a);
    close(l);
}

static double since(const struct timespec *t0) {
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (t1.tv_sec - t0->tv_sec) + (t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/// SO_RCVTIMEO and SO_SNDTIMEO: values as the kernel keeps them, EAGAIN at the end of a
/// receive's or an accept's wait, EINTR (not a restart) for a signal when one is set.
static void timeouts(void) {
    printf("== timeouts\n");
    struct sockaddr_storage ss;
    socklen_t len;
    int l = listener(AF_INET, &ss, &len);
    struct timeval tv = {0, 150000}, got = {9, 9};
    socklen_t gl = sizeof got;
    show("SO_RCVTIMEO set", setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    show("SO_RCVTIMEO get", getsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &got, &gl));
    printf("  %ld.%06ld len %u\n", (long)got.tv_sec, (long)got.tv_usec, gl);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    show("accept times out", accept(l, NULL, NULL));
    expect("accept waited", since(&t0) >= 0.1);
    int c = connected(AF_INET, &ss, len);
    int a = accept(l, NULL, NULL);
    char b[8];
    setsockopt(a, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    show("recv times out", recv(a, b, sizeof b, 0));
    expect("recv waited", since(&t0) >= 0.1);
    struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART};
    sigaction(SIGALRM, &sa, NULL);
    tv.tv_sec = 5;
    setsockopt(a, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct itimerval t = {.it_value = {0, 50000}};
    setitimer(ITIMER_REAL, &t, NULL);
    show("recv with a timeout, SA_RESTART signal", recv(a, b, sizeof b, 0));
    show("SO_SNDTIMEO set", setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv));
    gl = sizeof got;
    show("SO_SNDTIMEO get", getsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &got, &gl));
    printf("  %ld.%06ld\n", (long)got.tv_sec, (long)got.tv_usec);
    show("SO_RCVTIMEO short", setsockopt(a, SOL_SOCKET, SO_RCVTIMEO, &tv, 8));
    tv.tv_usec = 2000000;
    show("SO_RCVTIMEO usec too big", setsockopt(a, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    tv.tv_sec = 0;
    tv.tv_usec = 0;
    show("SO_RCVTIMEO cleared", setsockopt(a, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    gl = sizeof got;
    getsockopt(a, SOL_SOCKET, SO_RCVTIMEO, &got, &gl);
    printf("  %ld.%06ld\n", (long)got.tv_sec, (long)got.tv_usec);
    write(c, "ok", 2);
    show("recv after clearing", recv(a, b, sizeof b, 0));
    close(a);
    close(c);
    close(l);
}

/// sendfile(2) and splice(2) with a connected socket: a file to the socket, the socket to a
/// pipe and back; what Linux refuses (a socket or pipe as sendfile's source into a file or
/// socket, an offset on a socket).
static void transfers(void) {
    struct sockaddr_storage ss;
    socklen_t len;
    int l = listener(AF_INET, &ss, &len);
    int c = connected(AF_INET, &ss, len);
    int s = accept(l, NULL, NULL);
    char path[] = "/tmp/inet_tcp_XXXXXX";
    int f = mkstemp(path);
    unlink(path);
    static char buf[100000];
    memset(buf, 'a', sizeof buf);
    if (f < 0 || write(f, buf, sizeof buf) != (ssize_t)sizeof buf) {
        perror("scratch file");
        exit(2);
    }
    off_t off = 10;
    show("sendfile file->socket", sendfile(c, f, &off, 70000));
    printf("  offset %ld\n", (long)off);
    long got = 0;
    while (got < 70000) {
        ssize_t n = read(s, buf, sizeof buf);
        if (n <= 0) break;
        got += n;
    }
    show("received", got);
    int p[2], q[2];
    if (pipe(p) || pipe(q)) exit(2);
    write(c, "hello", 5);
    show("splice socket->pipe", splice(s, NULL, p[1], NULL, 5, 0));
    show("splice pipe->socket", splice(p[0], NULL, c, NULL, 5, 0));
    show("read back", read(s, buf, 5));
    write(c, "world", 5);
    off = 0;
    show("sendfile socket->file", sendfile(f, s, NULL, 5));
    show("sendfile socket->pipe offset", sendfile(q[1], s, &off, 5));
    show("sendfile socket->pipe", sendfile(q[1], s, NULL, 5));
    show("read pipe", read(q[0], buf, 5));
    write(p[1], "pipe!", 5);
    show("sendfile pipe->socket", sendfile(c, p[0], NULL, 5));
    show("sendfile pipe->file", sendfile(f, p[0], NULL, 5));
    close(f), close(s), close(c), close(l);
    close(p[0]), close(p[1]), close(q[0]), close(q[1]);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    transfers();
    conversation(AF_INET);
    conversation(AF_INET6);
    nonblocking(AF_INET);
    nonblocking(AF_INET6);
    bulk(AF_INET);
    signals();
    timeouts();
    return failures ? 1 : 0;
}
