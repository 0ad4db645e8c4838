// inotify: events for a watched directory and a watched file, the watch flags (IN_ONLYDIR,
// IN_MASK_ADD, IN_MASK_CREATE, IN_ONESHOT), rm_watch, reading (whole records, EINVAL for a
// short buffer, EAGAIN, blocking and EINTR), FIONREAD, poll and epoll readiness, coalescing,
// queue overflow, last-close semantics, and hostile arguments (bad pointers, fds, masks, a
// watch storm on the files under /usr). argv[1]: a scratch directory. One line per event or
// check, without pids, inode numbers or cookie values (cookies print as "c1", "c2" by first
// appearance).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(c)                                                                  \
    do {                                                                          \
        if (!(c)) {                                                               \
            printf("FAIL %s:%d: %s (errno %d)\n", __FILE__, __LINE__, #c, errno); \
            exit(1);                                                              \
        }                                                                         \
    } while (0)

static char base[PATH_MAX];

static const char *at(const char *rel) {
    static char bufs[4][PATH_MAX];
    static int next;
    char *b = bufs[next++ % 4];
    snprintf(b, PATH_MAX, "%s/%s", base, rel);
    return b;
}

static const char *ename(int e) {
    switch (e) {
    case 0: return "ok";
    case EAGAIN: return "EAGAIN";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case EFAULT: return "EFAULT";
    case ENOENT: return "ENOENT";
    case ENOTDIR: return "ENOTDIR";
    case EEXIST: return "EEXIST";
    case ENOSPC: return "ENOSPC";
    case EINTR: return "EINTR";
    case EMFILE: return "EMFILE";
    default: return strerror(e);
    }
}

/// The result of a call returning -1/errno: "ok" or the errno's name.
static const char *res(long r) { return r < 0 ? ename(errno) : "ok"; }

static const struct {
    uint32_t bit;
    const char *name;
} NAMES[] = {
    {IN_ACCESS, "ACCESS"},     {IN_MODIFY, "MODIFY"},         {IN_ATTRIB, "ATTRIB"},
    {IN_CLOSE_WRITE, "CLOSE_WRITE"}, {IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"}, {IN_OPEN, "OPEN"},
    {IN_MOVED_FROM, "MOVED_FROM"}, {IN_MOVED_TO, "MOVED_TO"}, {IN_CREATE, "CREATE"},
    {IN_DELETE, "DELETE"},     {IN_DELETE_SELF, "DELETE_SELF"}, {IN_MOVE_SELF, "MOVE_SELF"},
    {IN_UNMOUNT, "UNMOUNT"},   {IN_Q_OVERFLOW, "Q_OVERFLOW"}, {IN_IGNORED, "IGNORED"},
    {IN_ISDIR, "ISDIR"},
};

static uint32_t cookies[64];
static int ncookies;

static void show_event(const struct inotify_event *e) {
    char mask[256] = "";
    uint32_t left = e->mask;
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++) {
        if (left & NAMES[i].bit) {
            if (*mask)
                strcat(mask, "|");
            strcat(mask, NAMES[i].name);
            left &= ~NAMES[i].bit;
        }
    }
    if (left)
        sprintf(mask + strlen(mask), "|0x%x", left);
    char cookie[16] = "0";
    if (e->cookie) {
        int i = 0;
        while (i < ncookies && cookies[i] != e->cookie)
            i++;
        if (i == ncookies && ncookies < 64)
            cookies[ncookies++] = e->cookie;
        snprintf(cookie, sizeof cookie, "c%d", i + 1);
    }
    // len is the name padded with NULs to a multiple of the record header's size.
    CHECK(e->len % sizeof(struct inotify_event) == 0);
    CHECK(e->len == 0 || strlen(e->name) < e->len);
    printf("  wd=%d %s cookie=%s name=%s\n", e->wd, mask, cookie, e->len ? e->name : "-");
}

/// Reads and prints every queued event of nonblocking instance `fd`.
static void drain(int fd, const char *what) {
    printf("%s:\n", what);
    char buf[4096] __attribute__((aligned(8)));
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0) {
            CHECK(errno == EAGAIN);
            return;
        }
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *e = (struct inotify_event *)p;
            show_event(e);
            p += sizeof *e + e->len;
        }
    }
}

static void put(const char *path, const char *text) {
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    CHECK(close(fd) == 0);
}

static int queued(int fd) {
    int n = -1;
    CHECK(ioctl(fd, FIONREAD, &n) == 0);
    return n;
}

/// Changes in a watched directory, one step at a time.
static void directory_events(int in) {
    int wd = inotify_add_watch(in, base, IN_ALL_EVENTS);
    printf("watch dir: wd=%d\n", wd);
    CHECK(wd > 0);

    int fd = open(at("f"), O_CREAT | O_WRONLY, 0644);
    CHECK(fd >= 0);
    drain(in, "create");
    CHECK(write(fd, "hello", 5) == 5);
    CHECK(write(fd, "world", 5) == 5);
    drain(in, "write twice (coalesced)");
    int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    CHECK(close(fd) == 0);
    drain(in, "close a dup");
    CHECK(close(dup) == 0);
    drain(in, "close the last");

    fd = open(at("f"), O_RDONLY);
    char b[16];
    CHECK(read(fd, b, sizeof b) == 10);
    CHECK(read(fd, b, sizeof b) == 0);
    CHECK(pread(fd, b, 4, 0) == 4);
    CHECK(close(fd) == 0);
    drain(in, "open, read, read at EOF, pread, close");

    fd = open(at("f"), O_WRONLY | O_APPEND);
    struct iovec v[2] = {{"ab", 2}, {"cd", 2}};
    CHECK(writev(fd, v, 2) == 4);
    CHECK(ftruncate(fd, 3) == 0);
    CHECK(pwrite(fd, "z", 1, 0) == 1);
    CHECK(close(fd) == 0);
    drain(in, "writev, ftruncate, pwrite");

    CHECK(chmod(at("f"), 0600) == 0);
    CHECK(chown(at("f"), getuid(), getgid()) == 0);
    CHECK(utimensat(AT_FDCWD, at("f"), NULL, 0) == 0);
    drain(in, "chmod, chown, utimensat");
    struct timespec omit_now[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
    CHECK(utimensat(AT_FDCWD, at("f"), omit_now, 0) == 0);
    drain(in, "utimensat: mtime only");
    struct timespec now_omit[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
    CHECK(utimensat(AT_FDCWD, at("f"), now_omit, 0) == 0);
    drain(in, "utimensat: atime only");
    struct timespec omit_omit[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
    CHECK(utimensat(AT_FDCWD, at("f"), omit_omit, 0) == 0);
    fd = open(at("f"), O_RDONLY);
    CHECK(fchmod(fd, 0644) == 0);
    CHECK(fallocate(fd, 0, 0, 1) < 0);
    drain(in, "utimensat: neither; fchmod, fallocate on a read-only fd");
    CHECK(close(fd) == 0);
    drain(in, "close");
    CHECK(truncate(at("f"), 1) == 0);
    drain(in, "truncate");

    CHECK(rename(at("f"), at("g")) == 0);
    drain(in, "rename f g");
    CHECK(mkdir(at("sub"), 0755) == 0);
    CHECK(rename(at("g"), at("sub/g")) == 0);
    CHECK(rename(at("sub/g"), at("g")) == 0);
    drain(in, "mkdir sub, rename into it and back");
    CHECK(rename(at("sub"), at("sub2")) == 0);
    drain(in, "rename a directory");
    put(at("h"), "x");
    drain(in, "put h");
    CHECK(rename(at("h"), at("g")) == 0);
    drain(in, "rename h over g");
    CHECK(link(at("g"), at("l")) == 0);
    CHECK(symlink("g", at("s")) == 0);
    CHECK(mknod(at("p"), S_IFIFO | 0600, 0) == 0);
    CHECK(mknod(at("r"), S_IFREG | 0600, 0) == 0);
    drain(in, "link, symlink, mkfifo, mknod");
    int t = open(at("l"), O_WRONLY | O_TRUNC);
    CHECK(t >= 0 && close(t) == 0);
    drain(in, "open O_TRUNC, close");
    t = open(at("sub2"), O_RDONLY | O_DIRECTORY);
    CHECK(t >= 0 && close(t) == 0);
    t = open(at("sub2"), O_PATH);
    CHECK(t >= 0 && close(t) == 0);
    drain(in, "open a directory, and O_PATH");
    CHECK(syscall(SYS_renameat2, AT_FDCWD, at("l"), AT_FDCWD, at("sub2"), 2) == 0);
    drain(in, "RENAME_EXCHANGE l sub2");
    CHECK(syscall(SYS_renameat2, AT_FDCWD, at("l"), AT_FDCWD, at("sub2"), 2) == 0);
    drain(in, "and back");
    CHECK(unlink(at("l")) == 0);
    CHECK(unlink(at("g")) == 0);
    CHECK(unlink(at("s")) == 0);
    CHECK(unlink(at("p")) == 0);
    CHECK(unlink(at("r")) == 0);
    CHECK(rmdir(at("sub2")) == 0);
    drain(in, "unlink, rmdir");

    CHECK(inotify_rm_watch(in, wd) == 0);
    drain(in, "rm_watch");
    printf("rm_watch again: %s\n", res(inotify_rm_watch(in, wd)));
}

/// A watch on a file sees its own changes, and goes with the file.
static void file_events(int in) {
    put(at("w"), "w");
    int wd2, wd = inotify_add_watch(in, at("w"), IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF);
    printf("watch file: wd=%d\n", wd);
    int fd = open(at("w"), O_WRONLY);
    CHECK(write(fd, "1", 1) == 1);
    CHECK(close(fd) == 0);
    CHECK(chmod(at("w"), 0640) == 0);
    CHECK(rename(at("w"), at("w2")) == 0);
    drain(in, "write, close, chmod, rename");
    CHECK(link(at("w2"), at("w3")) == 0);
    CHECK(unlink(at("w3")) == 0);
    drain(in, "link, unlink the link");
    CHECK(unlink(at("w2")) == 0);
    drain(in, "unlink");
    put(at("v"), "v");
    put(at("v2"), "v2");
    wd = inotify_add_watch(in, at("v"), IN_ALL_EVENTS);
    wd2 = inotify_add_watch(in, at("v2"), IN_ALL_EVENTS);
    printf("watch v: wd=%d, v2: wd=%d\n", wd, wd2);
    CHECK(rename(at("v2"), at("v")) == 0);
    drain(in, "rename v2 over v");
    CHECK(unlink(at("v")) == 0);
    drain(in, "unlink v");

    CHECK(mkdir(at("dd"), 0755) == 0);
    wd = inotify_add_watch(in, at("dd"), IN_ALL_EVENTS);
    wd2 = inotify_add_watch(in, base, IN_DELETE | IN_CREATE | IN_ATTRIB);
    printf("watch dd: wd=%d, base: wd=%d\n", wd, wd2);
    put(at("dd/x"), "");
    CHECK(chmod(at("dd"), 0700) == 0);
    CHECK(unlink(at("dd/x")) == 0);
    CHECK(rmdir(at("dd")) == 0);
    drain(in, "in dd: put x, chmod dd, unlink x, rmdir dd");
    CHECK(inotify_rm_watch(in, wd2) == 0);
    drain(in, "rm_watch base");
}

/// Watch flags: IN_ONLYDIR, IN_DONT_FOLLOW, IN_MASK_ADD, IN_MASK_CREATE, IN_ONESHOT.
static void flags(int in) {
    put(at("file"), "");
    CHECK(symlink("file", at("link")) == 0);
    printf("ONLYDIR on a file: %s\n", res(inotify_add_watch(in, at("file"), IN_ONLYDIR | IN_OPEN)));
    printf("ONLYDIR on a dir: %s\n", res(inotify_add_watch(in, base, IN_ONLYDIR | IN_CREATE)));
    int a = inotify_add_watch(in, base, IN_DELETE | IN_MASK_ADD);
    int b = inotify_add_watch(in, base, IN_CREATE);
    printf("same dir, same wd: %s\n", a == b ? "yes" : "no");
    printf("MASK_CREATE on it: %s\n", res(inotify_add_watch(in, base, IN_CREATE | IN_MASK_CREATE)));
    printf("MASK_ADD|MASK_CREATE: %s\n",
           res(inotify_add_watch(in, base, IN_CREATE | IN_MASK_ADD | IN_MASK_CREATE)));
    put(at("m"), "");
    CHECK(unlink(at("m")) == 0);
    drain(in, "mask replaced by IN_CREATE: put m, unlink m");
    CHECK(inotify_add_watch(in, base, IN_DELETE | IN_MASK_ADD) == b);
    put(at("m"), "");
    CHECK(unlink(at("m")) == 0);
    drain(in, "IN_DELETE added: put m, unlink m");
    CHECK(inotify_rm_watch(in, b) == 0);
    drain(in, "rm_watch");

    int l = inotify_add_watch(in, at("link"), IN_ATTRIB | IN_DONT_FOLLOW);
    int f = inotify_add_watch(in, at("link"), IN_ATTRIB);
    int f2 = inotify_add_watch(in, at("file"), IN_ATTRIB | IN_MASK_CREATE);
    printf("DONT_FOLLOW: link %s the file; MASK_CREATE on the file: %s\n",
           l == f ? "is" : "is not", res(f2));
    CHECK(chmod(at("file"), 0600) == 0);
    drain(in, "chmod file (watched through the link)");
    CHECK(inotify_rm_watch(in, l) == 0 && inotify_rm_watch(in, f) == 0);
    drain(in, "rm both");

    int o = inotify_add_watch(in, base, IN_CREATE | IN_ONESHOT);
    put(at("o1"), "");
    put(at("o2"), "");
    drain(in, "ONESHOT: put o1, o2");
    printf("rm_watch of a spent oneshot: %s\n", res(inotify_rm_watch(in, o)));
    CHECK(unlink(at("o1")) == 0 && unlink(at("o2")) == 0);
    CHECK(unlink(at("link")) == 0 && unlink(at("file")) == 0);
    drain(in, "(nothing watched)");
}

/// Reading: records, a short buffer, FIONREAD, poll, epoll, blocking, EINTR.
static void on_alarm(int sig) { (void)sig; }

static void reading(void) {
    int in = inotify_init1(IN_NONBLOCK);
    char buf[256] __attribute__((aligned(8)));
    printf("empty read: %s\n", res(read(in, buf, sizeof buf)));
    printf("FIONREAD empty: %d\n", queued(in));
    struct pollfd p = {.fd = in, .events = POLLIN | POLLOUT};
    printf("poll empty: %d\n", poll(&p, 1, 0));
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN};
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, in, &ev) == 0);
    printf("epoll empty: %d\n", epoll_wait(ep, &ev, 1, 0));

    int wd = inotify_add_watch(in, base, IN_CREATE);
    put(at("abc"), "");
    put(at("0123456789abcdef"), "");
    printf("FIONREAD two: %d\n", queued(in));
    int r = poll(&p, 1, 0);
    printf("poll: %d revents=0x%x\n", r, p.revents);
    r = epoll_wait(ep, &ev, 1, 0);
    printf("epoll: %d events=0x%x\n", r, ev.events);
    printf("read 16: %s\n", res(read(in, buf, 16)));
    printf("read 31: %s\n", res(read(in, buf, 31)));
    ssize_t n = read(in, buf, 32 + 16);
    printf("read 48: %zd (one record)\n", n);
    show_event((struct inotify_event *)buf);
    printf("read 47: %s\n", res(read(in, buf, 47)));
    n = read(in, buf, sizeof buf);
    printf("read 256: %zd\n", n);
    show_event((struct inotify_event *)buf);
    printf("write: %s\n", res(write(in, "x", 1)));
    printf("lseek: %s\n", res(lseek(in, 0, SEEK_SET)));
    close(ep);
    CHECK(unlink(at("abc")) == 0 && unlink(at("0123456789abcdef")) == 0);

    // Blocking: a child makes a file while the parent sleeps in read.
    int flags = fcntl(in, F_GETFL);
    CHECK(fcntl(in, F_SETFL, flags & ~O_NONBLOCK) == 0);
    pid_t c = fork();
    if (c == 0) {
        usleep(100000);
        put(at("late"), "");
        _exit(0);
    }
    n = read(in, buf, sizeof buf);
    printf("blocking read: %zd\n", n);
    show_event((struct inotify_event *)buf);
    CHECK(waitpid(c, NULL, 0) == c);
    CHECK(unlink(at("late")) == 0);
    CHECK(inotify_rm_watch(in, wd) == 0);
    n = read(in, buf, sizeof buf);
    printf("IGNORED, read blocking: %zd\n", n);
    show_event((struct inotify_event *)buf);

    // A signal interrupts a blocked read (no SA_RESTART).
    struct sigaction sa = {.sa_handler = on_alarm};
    CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
    struct itimerval it = {.it_value = {.tv_usec = 100000}};
    CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
    printf("read interrupted: %s\n", res(read(in, buf, sizeof buf)));
    close(in);
}

/// More events than the queue holds: the queue ends with one IN_Q_OVERFLOW.
static void overflow(void) {
    int in = inotify_init1(IN_NONBLOCK);
    CHECK(inotify_add_watch(in, base, IN_MODIFY) == 1);
    int a = open(at("qa"), O_CREAT | O_WRONLY, 0644);
    int b = open(at("qb"), O_CREAT | O_WRONLY, 0644);
    // Alternating names, so no event merges with the one before it.
    for (int i = 0; i < 8300; i++) {
        CHECK(write(a, "a", 1) == 1);
        CHECK(write(b, "b", 1) == 1);
    }
    static char buf[1 << 16] __attribute__((aligned(8)));
    long events = 0, overflows = 0, last_wd = 0;
    uint32_t last_mask = 0;
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0)
            break;
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *e = (struct inotify_event *)p;
            events++;
            overflows += (e->mask & IN_Q_OVERFLOW) != 0;
            last_wd = e->wd;
            last_mask = e->mask;
            p += sizeof *e + e->len;
        }
    }
    printf("overflow: %ld events, %ld overflow, last wd=%ld mask=0x%x\n", events, overflows,
           last_wd, last_mask);
    close(a);
    close(b);
    unlink(at("qa"));
    unlink(at("qb"));
    close(in);
}

/// The watch storm's instance, and how it went: watches added, the error that stopped it.
static int storm_in, storm_ok, storm_err;

static int storm_visit(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st;
    (void)ftw;
    if (type != FTW_F && type != FTW_D)
        return 0;
    if (inotify_add_watch(storm_in, path, IN_ATTRIB | IN_DONT_FOLLOW) > 0)
        storm_ok++;
    else if (errno != EACCES)
        storm_err = errno;
    return storm_err != 0 || storm_ok >= 10000;
}

/// Hostile arguments.
static void hostile(void) {
    int in = inotify_init1(IN_NONBLOCK);
    int pipefd[2];
    CHECK(pipe(pipefd) == 0);
    printf("init1 bad flags: %s\n", res(syscall(SYS_inotify_init1, 1)));
    printf("init (no flags): %s\n", res(syscall(SYS_inotify_init)));
    printf("add bad path pointer: %s\n", res(syscall(SYS_inotify_add_watch, in, (char *)1, IN_CREATE)));
    printf("add unmapped path: %s\n",
           res(syscall(SYS_inotify_add_watch, in, (char *)0x7ff000000000ul, IN_CREATE)));
    printf("add missing: %s\n", res(inotify_add_watch(in, at("missing"), IN_CREATE)));
    printf("add empty path: %s\n", res(inotify_add_watch(in, "", IN_CREATE)));
    printf("add bad fd: %s\n", res(inotify_add_watch(9999, base, IN_CREATE)));
    printf("add negative fd: %s\n", res(inotify_add_watch(-1, base, IN_CREATE)));
    printf("add on a pipe: %s\n", res(inotify_add_watch(pipefd[0], base, IN_CREATE)));
    printf("add mask 0: %s\n", res(inotify_add_watch(in, base, 0)));
    printf("add unknown bit: %s\n", res(inotify_add_watch(in, base, IN_CREATE | 0x1000)));
    printf("add mask 0, bad fd: %s\n", res(inotify_add_watch(9999, base, 0)));
    printf("add only flags: %s\n", res(inotify_add_watch(in, base, IN_ONLYDIR)));
    printf("rm bad fd: %s\n", res(inotify_rm_watch(9999, 1)));
    printf("rm on a pipe: %s\n", res(inotify_rm_watch(pipefd[0], 1)));
    printf("rm unknown wd: %s\n", res(inotify_rm_watch(in, 12345)));
    printf("rm wd -1: %s\n", res(inotify_rm_watch(in, -1)));
    printf("read bad buffer: %s\n", res(syscall(SYS_read, in, 1, 4096)));
    printf("FIONREAD bad pointer: %s\n", res(ioctl(in, FIONREAD, (void *)1)));
    char link[64], target[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", in);
    ssize_t n = readlink(link, target, sizeof target - 1);
    CHECK(n > 0);
    target[n] = 0;
    printf("fd link: %s\n", target);
    printf("cloexec: %d, flags nonblock: %d\n", fcntl(in, F_GETFD),
           (fcntl(in, F_GETFL) & O_NONBLOCK) != 0);
    int in2 = inotify_init1(IN_CLOEXEC);
    printf("IN_CLOEXEC: %d, flags nonblock: %d\n", fcntl(in2, F_GETFD),
           (fcntl(in2, F_GETFL) & O_NONBLOCK) != 0);
    close(in2);
    close(pipefd[0]);
    close(pipefd[1]);

    // A watch storm: watches on the host's files under /usr until the limit (8192 in the
    // sandbox; Linux's is per user and larger) or N of them; the instance stays usable and
    // closing it gives the watches back.
    close(in);
    storm_in = inotify_init1(0);
    nftw("/usr", storm_visit, 16, FTW_PHYS);
    printf("storm: %s\n",
           storm_err == 0 || (storm_err == ENOSPC && storm_ok >= 8192) ? "ok" : ename(storm_err));
    printf("rm one: %s\n", res(inotify_rm_watch(storm_in, 1)));
    printf("add one: %s\n", res(inotify_add_watch(storm_in, base, IN_CREATE)));
    close(storm_in);
    in = inotify_init1(0);
    printf("new instance, first wd: %d\n", inotify_add_watch(in, base, IN_CREATE));
    close(in);
}

int main(int argc, char **argv) {
    CHECK(argc > 1);
    setvbuf(stdout, NULL, _IOLBF, 0);
    snprintf(base, sizeof base, "%s/inotify.%d", argv[1], getpid());
    CHECK(mkdir(base, 0755) == 0);
    int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    CHECK(in >= 0);
    directory_events(in);
    file_events(in);
    flags(in);
    close(in);
    reading();
    overflow();
    hostile();
    CHECK(rmdir(base) == 0);
    printf("done\n");
    return 0;
}
