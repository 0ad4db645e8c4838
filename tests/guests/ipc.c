// Differential test: pipes, eventfd, timerfd, poll/select/epoll in one process.
// Prints only deterministic facts; must give the same output natively and under snare.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static int failures;

#define CHECK(cond)                                                  \
    do {                                                             \
        if (!(cond)) {                                               \
            printf("FAIL line %d: %s (errno %d)\n", __LINE__, #cond, \
                   errno);                                           \
            failures++;                                              \
        }                                                            \
    } while (0)

// Prints `label`, the result of `expr` and whether errno is `want` afterwards.
#define ERR(label, expr, want)                                                 \
    do {                                                                       \
        errno = 0;                                                             \
        long r_ = (long)(expr);                                                \
        int e_ = errno;                                                        \
        printf("%s %ld %s %d\n", label, r_, #want, e_ == want);                \
    } while (0)

static short revents(int fd, short events) {
    struct pollfd p = {.fd = fd, .events = events};
    int n = poll(&p, 1, 0);
    return n < 0 ? -1 : p.revents;
}

static void pipes(void) {
    int p[2];
    CHECK(pipe(p) == 0);
    CHECK(write(p[1], "hello", 5) == 5);
    int avail = -1;
    CHECK(ioctl(p[0], FIONREAD, &avail) == 0);
    char buf[16] = {0};
    ssize_t n = read(p[0], buf, sizeof buf);
    printf("pipe read %zd '%s' fionread %d\n", n, buf, avail);

    struct stat st;
    CHECK(fstat(p[0], &st) == 0);
    printf("fifo %d blksize %ld\n", S_ISFIFO(st.st_mode), (long)st.st_blksize);
    struct stat st2;
    CHECK(fstat(p[1], &st2) == 0);
    printf("same inode %d\n", st.st_ino == st2.st_ino);

    printf("pipe size %d\n", fcntl(p[1], F_GETPIPE_SZ));
    printf("set 5000 -> %d\n", fcntl(p[1], F_SETPIPE_SZ, 5000));
    printf("now %d\n", fcntl(p[0], F_GETPIPE_SZ));
    printf("set 0 -> %d\n", fcntl(p[1], F_SETPIPE_SZ, 0));
    printf("set 65536 -> %d\n", fcntl(p[1], F_SETPIPE_SZ, 65536));
    int reg = open("/etc/passwd", O_RDONLY);
    ERR("regular file F_GETPIPE_SZ", fcntl(reg, F_GETPIPE_SZ), EBADF);
    close(reg);

    // F_SETFL O_NONBLOCK on a blocking pipe.
    CHECK(fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK) == 0);
    errno = 0;
    n = read(p[0], buf, 1);
    printf("nonblocking empty read %zd eagain %d\n", n, errno == EAGAIN);
    printf("flags rdonly %d nonblock %d\n", (fcntl(p[0], F_GETFL) & O_ACCMODE) == O_RDONLY,
           !!(fcntl(p[0], F_GETFL) & O_NONBLOCK));

    // A dup of the write end keeps the pipe open after the first fd closes.
    int w2 = dup(p[1]);
    close(p[1]);
    printf("after closing one writer: revents %#x\n", revents(p[0], POLLIN));
    close(w2);
    printf("after closing both: revents %#x read %zd\n", revents(p[0], POLLIN),
           read(p[0], buf, 1));
    close(p[0]);

    // pipe2 flags.
    CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
    printf("pipe2 cloexec %d nonblock %d\n", fcntl(p[0], F_GETFD), !!(fcntl(p[1], F_GETFL) & O_NONBLOCK));
    close(p[0]);
    close(p[1]);
    ERR("pipe2 bad flags", pipe2(p, 0x1), EINVAL);
}

static void big_transfer(void) {
    int p[2];
    CHECK(pipe2(p, O_NONBLOCK) == 0);
    enum { TOTAL = 100 * 1000 };
    static unsigned char out[TOTAL], in[TOTAL];
    for (int i = 0; i < TOTAL; i++)
        out[i] = (unsigned char)(i * 7 + i / 251);
    size_t sent = 0, got = 0;
    int full = 0, empty = 0, rounds = 0;
    while (got < TOTAL && rounds < 1000) {
        rounds++;
        while (sent < TOTAL) {
            size_t want = TOTAL - sent < 3000 ? TOTAL - sent : 3000;
            ssize_t n = write(p[1], out + sent, want);
            if (n < 0) {
                if (errno == EAGAIN)
                    full = 1;
                else
                    CHECK(0);
                break;
            }
            CHECK((size_t)n == want);  // <= PIPE_BUF: all or nothing
            sent += n;
        }
        for (;;) {
            ssize_t n = read(p[0], in + got, 1000);
            if (n < 0) {
                CHECK(errno == EAGAIN);
                empty = 1;
                break;
            }
            got += n;
        }
    }
    // A large write into a full non-blocking pipe is partial, then EAGAIN.
    static unsigned char big[200000];
    ssize_t first = write(p[1], big, sizeof big);
    errno = 0;
    ssize_t second = write(p[1], big, sizeof big);
    printf("100k: sent %zu got %zu same %d full-eagain %d empty-eagain %d\n", sent, got,
           memcmp(in, out, TOTAL) == 0, full, empty);
    printf("big write partial %d then %zd eagain %d\n", first > 0 && first < (ssize_t)sizeof big,
           second, errno == EAGAIN);
    close(p[0]);
    close(p[1]);
}

static void epipe(void) {
    signal(SIGPIPE, SIG_IGN);
    int p[2];
    CHECK(pipe(p) == 0);
    close(p[0]);
    errno = 0;
    ssize_t n = write(p[1], "x", 1);
    printf("write to closed pipe %zd epipe %d\n", n, errno == EPIPE);
    printf("write end revents %#x\n", revents(p[1], POLLOUT));
    close(p[1]);
}

static void polls(void) {
    int p[2];
    CHECK(pipe(p) == 0);
    printf("empty: read end %#x write end %#x\n", revents(p[0], POLLIN), revents(p[1], POLLOUT));
    CHECK(write(p[1], "abc", 3) == 3);
    printf("data: read end %#x\n", revents(p[0], POLLIN | POLLOUT));
    struct pollfd fds[4] = {
        {.fd = p[0], .events = POLLIN},
        {.fd = -1, .events = POLLIN},
        {.fd = 999, .events = POLLIN},
        {.fd = p[1], .events = POLLIN},
    };
    int n = poll(fds, 4, 0);
    printf("poll 4: %d -> %#x %#x %#x %#x\n", n, fds[0].revents, fds[1].revents,
           fds[2].revents, fds[3].revents);
    close(p[1]);
    printf("writer closed: %#x\n", revents(p[0], POLLIN));
    char buf[8];
    CHECK(read(p[0], buf, sizeof buf) == 3);
    printf("drained: %#x\n", revents(p[0], POLLIN));
    close(p[0]);

    // select
    CHECK(pipe(p) == 0);
    fd_set r, w;
    struct timeval tv = {0, 0};
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_SET(p[0], &r);
    FD_SET(p[1], &w);
    n = select(p[1] + 1, &r, &w, NULL, &tv);
    printf("select: %d r %d w %d\n", n, FD_ISSET(p[0], &r), FD_ISSET(p[1], &w));
    CHECK(write(p[1], "z", 1) == 1);
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_SET(p[0], &r);
    FD_SET(p[1], &w);
    tv.tv_sec = 0;
    tv.tv_usec = 0;
    n = select(p[1] + 1, &r, &w, NULL, &tv);
    printf("select: %d r %d w %d\n", n, FD_ISSET(p[0], &r), FD_ISSET(p[1], &w));
    FD_ZERO(&r);
    FD_SET(50, &r);  // closed, and inside the fd table (Linux ignores fds beyond it)
    tv.tv_usec = 0;
    ERR("select bad fd", select(51, &r, NULL, NULL, &tv), EBADF);
    CHECK(read(p[0], buf, 1) == 1);

    // Timeouts that expire.
    struct timespec ts = {0, 20 * 1000 * 1000};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    n = pselect(p[0] + 1, &r, NULL, NULL, &ts, NULL);
    printf("pselect timeout %d r %d\n", n, FD_ISSET(p[0], &r));
    struct pollfd pf = {.fd = p[0], .events = POLLIN};
    sigset_t mask;
    sigemptyset(&mask);
    n = ppoll(&pf, 1, &ts, &mask);
    printf("ppoll timeout %d revents %#x\n", n, pf.revents);
    n = poll(&pf, 1, 20);
    printf("poll timeout %d\n", n);
    tv.tv_sec = 0;
    tv.tv_usec = 20000;
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    n = select(p[0] + 1, &r, NULL, NULL, &tv);
    printf("select timeout %d\n", n);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    printf("waited at least 80ms %d\n", ms >= 79);
    close(p[0]);
    close(p[1]);
}

static int ep_wait(int ep, int timeout, uint64_t *data) {
    struct epoll_event ev[4];
    int n = epoll_wait(ep, ev, 4, timeout);
    if (n > 0 && data)
        *data = ev[0].data.u64;
    return n;
}

static void epolls(void) {
    int p[2];
    CHECK(pipe(p) == 0);
    int lt = epoll_create1(EPOLL_CLOEXEC), et = epoll_create(1), os = epoll_create1(0);
    printf("epoll cloexec %d\n", fcntl(lt, F_GETFD));
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 7};
    CHECK(epoll_ctl(lt, EPOLL_CTL_ADD, p[0], &ev) == 0);
    ev.events = EPOLLIN | EPOLLET;
    ev.data.u64 = 8;
    CHECK(epoll_ctl(et, EPOLL_CTL_ADD, p[0], &ev) == 0);
    ev.events = EPOLLIN | EPOLLONESHOT;
    ev.data.u64 = 9;
    CHECK(epoll_ctl(os, EPOLL_CTL_ADD, p[0], &ev) == 0);
    printf("before write: lt %d et %d os %d\n", ep_wait(lt, 0, NULL), ep_wait(et, 0, NULL),
           ep_wait(os, 0, NULL));
    CHECK(write(p[1], "a", 1) == 1);
    uint64_t d = 0;
    int a = ep_wait(lt, 0, &d);
    printf("lt %d data %llu; again %d\n", a, (unsigned long long)d, ep_wait(lt, 0, NULL));
    a = ep_wait(et, 0, &d);
    printf("et %d data %llu; again %d\n", a, (unsigned long long)d, ep_wait(et, 0, NULL));
    a = ep_wait(os, 0, &d);
    printf("oneshot %d data %llu; again %d\n", a, (unsigned long long)d, ep_wait(os, 0, NULL));
    CHECK(write(p[1], "b", 1) == 1);
    printf("second write: et %d oneshot %d\n", ep_wait(et, 0, NULL), ep_wait(os, 0, NULL));
    ev.events = EPOLLIN | EPOLLONESHOT;
    ev.data.u64 = 10;
    CHECK(epoll_ctl(os, EPOLL_CTL_MOD, p[0], &ev) == 0);
    a = ep_wait(os, 0, &d);
    printf("re-armed oneshot %d data %llu\n", a, (unsigned long long)d);

    // Errors.
    ev.events = EPOLLIN;
    ERR("add twice", epoll_ctl(lt, EPOLL_CTL_ADD, p[0], &ev), EEXIST);
    ERR("mod absent", epoll_ctl(lt, EPOLL_CTL_MOD, p[1], &ev), ENOENT);
    ERR("del absent", epoll_ctl(lt, EPOLL_CTL_DEL, p[1], NULL), ENOENT);
    ERR("self", epoll_ctl(lt, EPOLL_CTL_ADD, lt, &ev), EINVAL);
    ERR("not epoll", epoll_ctl(p[0], EPOLL_CTL_ADD, p[1], &ev), EINVAL);
    ERR("bad fd", epoll_ctl(lt, EPOLL_CTL_ADD, 999, &ev), EBADF);
    int reg = open("/etc/passwd", O_RDONLY);
    ERR("regular file", epoll_ctl(lt, EPOLL_CTL_ADD, reg, &ev), EPERM);
    close(reg);
    ERR("maxevents 0", epoll_wait(lt, &ev, 0, 0), EINVAL);

    // Nesting: the level-triggered epoll, readable, inside another; a cycle is refused.
    int outer = epoll_create1(0);
    ev.events = EPOLLIN;
    ev.data.u64 = 42;
    CHECK(epoll_ctl(outer, EPOLL_CTL_ADD, lt, &ev) == 0);
    a = ep_wait(outer, 0, &d);
    printf("nested %d data %llu; poll epoll fd %#x\n", a, (unsigned long long)d,
           revents(lt, POLLIN));
    ERR("cycle", epoll_ctl(lt, EPOLL_CTL_ADD, outer, &ev), ELOOP);

    // Drain: nothing is ready; a wait with a timeout expires; write end is writable.
    char buf[4];
    CHECK(read(p[0], buf, sizeof buf) == 2);
    printf("drained: lt %d outer %d\n", ep_wait(lt, 0, NULL), ep_wait(outer, 0, NULL));
    printf("epoll timeout %d\n", ep_wait(lt, 20, NULL));
    ev.events = EPOLLOUT;
    ev.data.u64 = 5;
    CHECK(epoll_ctl(lt, EPOLL_CTL_ADD, p[1], &ev) == 0);
    struct epoll_event got[4];
    a = epoll_wait(lt, got, 4, 0);
    printf("writable %d events %#x data %llu\n", a, a > 0 ? got[0].events : 0,
           a > 0 ? (unsigned long long)got[0].data.u64 : 0);
    CHECK(epoll_ctl(lt, EPOLL_CTL_DEL, p[1], NULL) == 0);
    // Closing the last writer: HUP on the read end, reported without asking.
    close(p[1]);
    a = epoll_wait(lt, got, 4, 0);
    printf("hup %d events %#x\n", a, a > 0 ? got[0].events : 0);
    // Closing the read end removes it from the interest list.
    close(p[0]);
    printf("after close %d\n", ep_wait(lt, 0, NULL));
    close(outer);
    close(lt);
    close(et);
    close(os);

    // Edge-triggered: a partial read is no new edge; more data is.
    CHECK(pipe(p) == 0);
    et = epoll_create1(0);
    ev.events = EPOLLIN | EPOLLET;
    CHECK(epoll_ctl(et, EPOLL_CTL_ADD, p[0], &ev) == 0);
    CHECK(write(p[1], "xy", 2) == 2);
    a = ep_wait(et, 0, NULL);
    CHECK(read(p[0], buf, 1) == 1);
    int b = ep_wait(et, 0, NULL);
    CHECK(write(p[1], "z", 1) == 1);
    printf("et partial read: %d %d %d\n", a, b, ep_wait(et, 0, NULL));
    close(et);
    close(p[0]);
    close(p[1]);
}

static void eventfds(void) {
    int e = eventfd(3, 0);
    uint64_t v = 5;
    CHECK(write(e, &v, 8) == 8);
    printf("eventfd poll %#x\n", revents(e, POLLIN | POLLOUT));
    CHECK(read(e, &v, 8) == 8);
    printf("eventfd read %llu\n", (unsigned long long)v);
    CHECK(fcntl(e, F_SETFL, O_NONBLOCK) == 0);
    errno = 0;
    ERR("empty read", read(e, &v, 8), EAGAIN);
    printf("poll %#x\n", revents(e, POLLIN | POLLOUT));
    ERR("short read", read(e, &v, 4), EINVAL);
    v = UINT64_MAX;
    ERR("write max", write(e, &v, 8), EINVAL);
    v = UINT64_MAX - 1;
    CHECK(write(e, &v, 8) == 8);
    v = 1;
    errno = 0;
    ERR("overflow", write(e, &v, 8), EAGAIN);
    printf("poll %#x\n", revents(e, POLLIN | POLLOUT));
    close(e);

    int s = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC);
    uint64_t a = 0, b = 0;
    CHECK(read(s, &a, 8) == 8);
    CHECK(read(s, &b, 8) == 8);
    errno = 0;
    ssize_t n = read(s, &v, 8);
    printf("semaphore %llu %llu then %zd eagain %d cloexec %d\n", (unsigned long long)a,
           (unsigned long long)b, n, errno == EAGAIN, fcntl(s, F_GETFD));
    ERR("bad flags", eventfd(0, 0x10), EINVAL);
    close(s);
}

static void timerfds(void) {
    int t = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec its = {.it_value = {0, 20 * 1000 * 1000}};
    CHECK(timerfd_settime(t, 0, &its, NULL) == 0);
    struct itimerspec cur;
    CHECK(timerfd_gettime(t, &cur) == 0);
    printf("armed %d interval %ld\n", cur.it_value.tv_nsec > 0 || cur.it_value.tv_sec > 0,
           (long)cur.it_interval.tv_nsec);
    printf("poll before %#x\n", revents(t, POLLIN));
    uint64_t n = 0;
    CHECK(read(t, &n, 8) == 8);
    CHECK(timerfd_gettime(t, &cur) == 0);
    printf("one-shot read %llu; disarmed %d\n", (unsigned long long)n,
           cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0);

    // Interval: poll waits for it, epoll sees it too.
    its.it_interval.tv_nsec = 10 * 1000 * 1000;
    its.it_value.tv_nsec = 10 * 1000 * 1000;
    struct itimerspec old;
    CHECK(timerfd_settime(t, 0, &its, &old) == 0);
    struct pollfd pf = {.fd = t, .events = POLLIN};
    int r = poll(&pf, 1, 2000);
    printf("interval poll %d %#x\n", r, pf.revents);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1};
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, t, &ev) == 0);
    CHECK(read(t, &n, 8) == 8);
    printf("interval read >= 1: %d\n", n >= 1);
    r = epoll_wait(ep, &ev, 1, 2000);
    CHECK(read(t, &n, 8) == 8);
    printf("epoll on timer %d; read again >= 1: %d\n", r, n >= 1);
    CHECK(timerfd_gettime(t, &cur) == 0);
    printf("interval kept %ld\n", (long)cur.it_interval.tv_nsec);
    close(ep);

    // Disarm; non-blocking read says EAGAIN.
    memset(&its, 0, sizeof its);
    CHECK(timerfd_settime(t, 0, &its, NULL) == 0);
    CHECK(fcntl(t, F_SETFL, O_NONBLOCK) == 0);
    ERR("disarmed read", read(t, &n, 8), EAGAIN);
    close(t);

    // Absolute time in the past: expired at once.
    t = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    its.it_value.tv_sec = now.tv_sec - 1;
    its.it_value.tv_nsec = now.tv_nsec;
    CHECK(timerfd_settime(t, TFD_TIMER_ABSTIME, &its, NULL) == 0);
    n = 0;
    ssize_t got = read(t, &n, 8);
    printf("abs past read %zd count %llu\n", got, (unsigned long long)n);
    close(t);

    t = timerfd_create(CLOCK_BOOTTIME, 0);
    printf("boottime ok %d\n", t >= 0);
    its.it_value.tv_nsec = 2000000000L;
    ERR("bad timespec", timerfd_settime(t, 0, &its, NULL), EINVAL);
    ERR("bad clock", timerfd_create(12345, 0), EINVAL);
    int reg = open("/etc/passwd", O_RDONLY);
    ERR("not a timer", timerfd_gettime(reg, &cur), EINVAL);
    close(reg);
    close(t);
}

// The harness gives us /dev/null as stdin and a pipe as stdout: host files under snare.
static void host_stdio(void) {
    printf("stdin %#x stdout %#x\n", revents(0, POLLIN), revents(1, POLLOUT));
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = 1};
    int r = epoll_ctl(ep, EPOLL_CTL_ADD, 1, &ev);
    struct epoll_event got;
    int n = epoll_wait(ep, &got, 1, 1000);
    printf("epoll stdout %d %d %#x\n", r, n, n > 0 ? got.events : 0);
    close(ep);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    host_stdio();
    pipes();
    big_transfer();
    epipe();
    polls();
    epolls();
    eventfds();
    timerfds();
    printf("failures %d\n", failures);
    return failures != 0;
}
