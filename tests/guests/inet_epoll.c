// epoll over TCP and UDP sockets (which snare watches in a host epoll of the guest epoll's
// own): level- and edge-triggered and one-shot interests, EPOLL_CTL_MOD from EPOLLIN to
// EPOLLOUT and back, two fds of one socket in one epoll, DEL then close and close without
// DEL (and a new socket on the same fd number), a socket next to a pipe and an eventfd in
// one set, an epoll in an epoll and in poll(2), a wait woken by another process's send, a
// wait interrupted by a signal, timeouts, and an echo server over 8 connections. Nothing
// printed depends on scheduling.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
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

/// A connected TCP pair on loopback: `c[0]` the client, `c[1]` the accepted end.
static void tcp_pair(int c[2]) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&a, len) < 0 || listen(l, 8) < 0 ||
        getsockname(l, (struct sockaddr *)&a, &len) < 0) {
        perror("listener");
        exit(2);
    }
    c[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(c[0], (struct sockaddr *)&a, len) < 0) {
        perror("connect");
        exit(2);
    }
    c[1] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    if (c[1] < 0) {
        perror("accept4");
        exit(2);
    }
    close(l);
}

/// epoll_wait with a timeout of 0: how many events, and the first one's data and events.
static int check(int ep, unsigned *data, unsigned *events) {
    struct epoll_event out[4];
    int n = epoll_wait(ep, out, 4, 0);
    if (n > 0) {
        *data = out[0].data.u32;
        *events = out[0].events;
    }
    return n;
}

static void add(int ep, int fd, unsigned events, unsigned data) {
    struct epoll_event ev = {.events = events, .data.u32 = data};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        perror("epoll_ctl ADD");
        exit(2);
    }
}

static void triggers(void) {
    int c[2];
    tcp_pair(c);
    int lt = epoll_create1(0), et = epoll_create1(0), os = epoll_create1(0);
    add(lt, c[1], EPOLLIN, 1);
    add(et, c[1], EPOLLIN | EPOLLET, 2);
    add(os, c[1], EPOLLIN | EPOLLONESHOT, 3);
    unsigned d = 0, e = 0;
    show("lt nothing", check(lt, &d, &e));
    show("et nothing", check(et, &d, &e));
    write(c[0], "ab", 2);
    // Arrival is asynchronous on loopback only in theory; wait for it to be sure.
    struct epoll_event out;
    show("lt wait", epoll_wait(lt, &out, 1, 5000));
    for (int i = 0; i < 2; i++) {
        int n = check(lt, &d, &e);
        expect("lt again", n == 1 && d == 1 && e == EPOLLIN);
    }
    expect("et once", check(et, &d, &e) == 1 && d == 2);
    show("et consumed", check(et, &d, &e));
    expect("oneshot", check(os, &d, &e) == 1 && d == 3);
    show("oneshot disabled", check(os, &d, &e));
    char b[8];
    show("read one", read(c[1], b, 1));
    show("et after partial read", check(et, &d, &e));
    expect("lt after partial read", check(lt, &d, &e) == 1);
    write(c[0], "c", 1);
    show("et new data", epoll_wait(et, &out, 1, 5000));
    show("et then", check(et, &d, &e));
    show("oneshot still disabled", check(os, &d, &e));
    struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.u32 = 4};
    show("oneshot rearm", epoll_ctl(os, EPOLL_CTL_MOD, c[1], &ev));
    expect("oneshot rearmed", check(os, &d, &e) == 1 && d == 4);
    show("drain", read(c[1], b, sizeof b));
    show("lt drained", check(lt, &d, &e));

    // MOD to EPOLLOUT: a connected socket with room is writable now.
    ev.events = EPOLLOUT;
    ev.data.u32 = 5;
    show("mod to out", epoll_ctl(lt, EPOLL_CTL_MOD, c[1], &ev));
    expect("out", check(lt, &d, &e) == 1 && d == 5 && e == EPOLLOUT);
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.u32 = 6;
    show("mod back to in", epoll_ctl(lt, EPOLL_CTL_MOD, c[1], &ev));
    show("in nothing", check(lt, &d, &e));
    // The peer's shutdown: readable (end of file) and RDHUP.
    shutdown(c[0], SHUT_WR);
    show("rdhup wait", epoll_wait(lt, &out, 1, 5000));
    expect("rdhup", out.data.u32 == 6 && (out.events & (EPOLLIN | EPOLLRDHUP)) ==
                                              (EPOLLIN | EPOLLRDHUP));
    close(c[0]);
    close(c[1]);
    // Closing the socket took it out of every set.
    show("lt closed", check(lt, &d, &e));
    show("et closed", check(et, &d, &e));
    close(lt);
    close(et);
    close(os);
}

static void fds_and_closes(void) {
    int c[2];
    tcp_pair(c);
    int ep = epoll_create1(0);
    int dup1 = dup(c[1]);
    add(ep, c[1], EPOLLIN, 10);
    add(ep, dup1, EPOLLIN | EPOLLET, 11);
    struct epoll_event ev = {.events = EPOLLIN};
    errno = 0;
    show("add twice", epoll_ctl(ep, EPOLL_CTL_ADD, dup1, &ev));
    write(c[0], "x", 1);
    struct epoll_event out[4];
    int n = epoll_wait(ep, out, 4, 5000);
    unsigned seen = 0;
    for (int i = 0; i < n; i++) seen |= 1u << (out[i].data.u32 - 10);
    // Both fds report (the edge one at once or at the next wait).
    if (n == 1) {
        n = epoll_wait(ep, out, 4, 0);
        for (int i = 0; i < n; i++) seen |= 1u << (out[i].data.u32 - 10);
    }
    expect("two fds of one socket", seen == 3);
    show("del one", epoll_ctl(ep, EPOLL_CTL_DEL, dup1, NULL));
    show("del again", epoll_ctl(ep, EPOLL_CTL_DEL, dup1, NULL));
    unsigned d = 0, e = 0;
    expect("the other stays", check(ep, &d, &e) == 1 && d == 10);
    close(dup1);
    expect("still there", check(ep, &d, &e) == 1 && d == 10);
    char b[4];
    read(c[1], b, sizeof b);
    show("drained", check(ep, &d, &e));

    // Close without DEL, then a new socket on the same fd number: the old interest is gone
    // and the new socket can be added and reports.
    int fdno = c[1];
    close(c[1]);
    close(c[0]);
    int again[2];
    tcp_pair(again);
    int moved = again[1];
    if (again[1] != fdno && dup2(again[1], fdno) >= 0) {
        close(again[1]);
        moved = fdno;
    }
    expect("same fd number", moved == fdno);
    show("old interest gone", check(ep, &d, &e));
    add(ep, moved, EPOLLIN, 12);
    write(again[0], "y", 1);
    struct epoll_event one;
    show("new socket wait", epoll_wait(ep, &one, 1, 5000));
    expect("new socket", one.data.u32 == 12);
    close(again[0]);
    close(moved);
    close(ep);
}

static void mixed_and_nested(void) {
    int c[2], p[2];
    tcp_pair(c);
    if (pipe(p) < 0) exit(2);
    int efd = eventfd(0, EFD_NONBLOCK);
    int ep = epoll_create1(0);
    add(ep, c[1], EPOLLIN, 20);
    add(ep, p[0], EPOLLIN, 21);
    add(ep, efd, EPOLLIN, 22);
    // A child writes to the pipe after a while: the wait (asleep on the socket's host set
    // too) must wake for the pipe.
    pid_t k = fork();
    if (k == 0) {
        usleep(50000);
        write(p[1], "p", 1);
        usleep(50000);
        write(c[0], "s", 1);
        _exit(0);
    }
    struct epoll_event out;
    show("pipe wakes", epoll_wait(ep, &out, 1, 5000));
    expect("pipe", out.data.u32 == 21);
    char b[4];
    read(p[0], b, 1);
    show("socket wakes", epoll_wait(ep, &out, 1, 5000));
    expect("socket", out.data.u32 == 20);
    read(c[1], b, 1);
    waitpid(k, NULL, 0);
    uint64_t one = 1;
    write(efd, &one, 8);
    show("eventfd", epoll_wait(ep, &out, 1, 5000));
    expect("eventfd data", out.data.u32 == 22);
    read(efd, &one, 8);

    // This epoll in another, and in poll(2): a socket arrival reaches both.
    int outer = epoll_create1(0);
    add(outer, ep, EPOLLIN, 30);
    struct pollfd pf = {.fd = ep, .events = POLLIN};
    show("outer nothing", epoll_wait(outer, &out, 1, 0));
    show("poll nothing", poll(&pf, 1, 0));
    k = fork();
    if (k == 0) {
        usleep(50000);
        write(c[0], "t", 1);
        _exit(0);
    }
    show("outer wakes", epoll_wait(outer, &out, 1, 5000));
    expect("outer data", out.data.u32 == 30);
    show("poll of epoll", poll(&pf, 1, 5000));
    expect("poll revents", pf.revents == POLLIN);
    waitpid(k, NULL, 0);
    read(c[1], b, 1);
    // ... and from a blocked poll(2) of the epoll.
    k = fork();
    if (k == 0) {
        usleep(50000);
        write(c[0], "u", 1);
        _exit(0);
    }
    pf.revents = 0;
    show("blocked poll of epoll", poll(&pf, 1, 5000));
    waitpid(k, NULL, 0);
    read(c[1], b, 1);
    close(outer);
    close(ep);
    close(efd);
    close(p[0]);
    close(p[1]);
    close(c[0]);
    close(c[1]);
}

static void on_alarm(int sig) { (void)sig; }

static void signals_and_timeouts(void) {
    int c[2];
    tcp_pair(c);
    int ep = epoll_create1(0);
    add(ep, c[1], EPOLLIN, 40);
    struct epoll_event out;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    show("timeout", epoll_wait(ep, &out, 1, 60));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    expect("waited the timeout", ms >= 59);
    struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART};
    sigaction(SIGALRM, &sa, NULL);
    ualarm(50000, 0);
    // epoll_wait is never restarted (EINTR even with SA_RESTART), as on Linux.
    show("interrupted", epoll_wait(ep, &out, 1, 5000));
    close(ep);
    close(c[0]);
    close(c[1]);
}

/// An echo server in a child over 8 connections, edge-triggered and non-blocking; the
/// parent sends on each in turn and checks every echo.
static void echo(void) {
    enum { N = 8, ROUNDS = 200 };
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (bind(l, (struct sockaddr *)&a, len) < 0 || listen(l, N) < 0 ||
        getsockname(l, (struct sockaddr *)&a, &len) < 0)
        exit(2);
    pid_t k = fork();
    if (k == 0) {
        int ep = epoll_create1(EPOLL_CLOEXEC);
        add(ep, l, EPOLLIN, (unsigned)l);
        int closed = 0;
        while (closed < N) {
            struct epoll_event evs[N + 1];
            int n = epoll_wait(ep, evs, N + 1, 10000);
            if (n <= 0) _exit(3);
            for (int i = 0; i < n; i++) {
                int fd = (int)evs[i].data.u32;
                if (fd == l) {
                    int s;
                    while ((s = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
                        add(ep, s, EPOLLIN | EPOLLET, (unsigned)s);
                    continue;
                }
                char b[64];
                ssize_t r;
                while ((r = read(fd, b, sizeof b)) > 0) write(fd, b, r);
                if (r == 0) {
                    close(fd);
                    closed++;
                }
            }
        }
        _exit(0);
    }
    close(l);
    int s[N];
    for (int i = 0; i < N; i++) {
        s[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (connect(s[i], (struct sockaddr *)&a, len) < 0) exit(2);
        int one = 1;
        setsockopt(s[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    int bad = 0;
    for (int r = 0; r < ROUNDS; r++) {
        char m[8], g[8];
        snprintf(m, sizeof m, "%07d", r);
        int fd = s[r % N];
        if (write(fd, m, 8) != 8) bad++;
        size_t got = 0;
        while (got < 8) {
            ssize_t n = read(fd, g + got, 8 - got);
            if (n <= 0) break;
            got += (size_t)n;
        }
        if (got != 8 || memcmp(m, g, 8)) bad++;
    }
    for (int i = 0; i < N; i++) close(s[i]);
    int st = 0;
    waitpid(k, &st, 0);
    expect("echo server", bad == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    triggers();
    fds_and_closes();
    mixed_and_nested();
    signals_and_timeouts();
    echo();
    printf("failures: %d\n", failures);
    return failures != 0;
}
