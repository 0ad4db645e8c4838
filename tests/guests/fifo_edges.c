// Differential test (edge cases; written for the unmerged fifo branch, ported in session 3): FIFOs (mkfifo/mknod, open rules, poll), signalfd, openat2, fallocate
// and the advice calls. argv[1] is a scratch directory on the host (under snare: the
// overlay root), where the test makes and removes its own subdirectory.
// Prints only deterministic facts; must give the same output natively and under snare.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
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

static char dir[4096];

static char *in_dir(const char *name) {
    static char bufs[4][4200];
    static int next;
    char *b = bufs[next++ % 4];
    snprintf(b, sizeof bufs[0], "%s/%s", dir, name);
    return b;
}

static short revents(int fd, short events) {
    struct pollfd p = {.fd = fd, .events = events};
    int n = poll(&p, 1, 0);
    return n < 0 ? -1 : p.revents;
}

struct opener {
    const char *path;
    int flags;
    int fd;
};

static void *open_thread(void *arg) {
    struct opener *o = arg;
    o->fd = open(o->path, o->flags);
    return NULL;
}

struct bulk {
    int fd;
    size_t len;
    long sum;
};

static void *bulk_writer(void *arg) {
    struct bulk *b = arg;
    char *data = malloc(b->len);
    for (size_t i = 0; i < b->len; i++) data[i] = (char)(i * 7);
    size_t done = 0;
    while (done < b->len) {
        ssize_t n = write(b->fd, data + done, b->len - done);
        if (n <= 0) break;
        done += n;
    }
    free(data);
    close(b->fd);
    return NULL;
}

static void *late_writer(void *arg) {
    struct timespec ts = {0, 30 * 1000 * 1000};
    nanosleep(&ts, NULL);
    CHECK(write(*(int *)arg, "late", 4) == 4);
    return NULL;
}

static void fifos(void) {
    char f[4200];
    snprintf(f, sizeof f, "%s", in_dir("f"));
    CHECK(mkfifo(f, 0640) == 0);
    struct stat st;
    CHECK(stat(f, &st) == 0);
    printf("mkfifo: fifo %d perm %o size %ld nlink %ld\n", S_ISFIFO(st.st_mode),
           st.st_mode & 0777, (long)st.st_size, (long)st.st_nlink);
    ino_t ino = st.st_ino;
    ERR("mkfifo again", mkfifo(f, 0600), EEXIST);
    ERR("open wronly nonblock, no reader", open(f, O_WRONLY | O_NONBLOCK), ENXIO);

    int r = open(f, O_RDONLY | O_NONBLOCK);
    CHECK(r >= 0);
    char b[64];
    ERR("read, never a writer", read(r, b, sizeof b), 0);
    printf("poll fresh nonblocking reader %#x\n", revents(r, POLLIN));
    int w = open(f, O_WRONLY | O_NONBLOCK);
    CHECK(w >= 0);
    ERR("read empty with a writer", read(r, b, sizeof b), EAGAIN);
    printf("poll writer %#x reader %#x\n", revents(w, POLLOUT), revents(r, POLLIN));
    CHECK(write(w, "abc", 3) == 3);
    printf("poll reader with data %#x\n", revents(r, POLLIN));
    CHECK(fstat(w, &st) == 0);
    printf("fstat end: fifo %d same inode %d size %ld\n", S_ISFIFO(st.st_mode),
           st.st_ino == ino, (long)st.st_size);
    printf("getfl reader %#x writer %#x\n", fcntl(r, F_GETFL) & (O_ACCMODE | O_NONBLOCK),
           fcntl(w, F_GETFL) & (O_ACCMODE | O_NONBLOCK));
    ssize_t n = read(r, b, sizeof b);
    printf("read %zd '%.*s'\n", n, (int)(n > 0 ? n : 0), b);
    close(w);
    printf("poll reader, writer gone %#x\n", revents(r, POLLIN));
    ERR("read at eof", read(r, b, sizeof b), 0);
    close(r);

    // Blocking opens meet: the reader in a thread, the writer here.
    struct opener o = {f, O_RDONLY, -1};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, open_thread, &o) == 0);
    w = open(f, O_WRONLY);
    CHECK(pthread_join(t, NULL) == 0);
    printf("blocking opens met: %d %d\n", w >= 0, o.fd >= 0);
    r = o.fd;
    // A big transfer through the FIFO, the writer in a thread.
    struct bulk bk = {w, 300000, 0};
    CHECK(pthread_create(&t, NULL, bulk_writer, &bk) == 0);
    size_t total = 0;
    long sum = 0, want = 0;
    char big[7000];
    for (;;) {
        n = read(r, big, sizeof big);
        if (n <= 0) break;
        for (ssize_t i = 0; i < n; i++) sum += (unsigned char)big[i];
        total += n;
    }
    CHECK(pthread_join(t, NULL) == 0);
    for (size_t i = 0; i < bk.len; i++) want += (unsigned char)(char)(i * 7);
    printf("bulk: %zu bytes, sum ok %d\n", total, sum == want);
    close(r);

    // The writer blocks until a reader comes (the reader here, the writer in a thread).
    o = (struct opener){f, O_WRONLY, -1};
    CHECK(pthread_create(&t, NULL, open_thread, &o) == 0);
    r = open(f, O_RDONLY);
    CHECK(pthread_join(t, NULL) == 0);
    printf("writer waited for reader: %d %d\n", r >= 0, o.fd >= 0);
    w = o.fd;
    // Unread data goes when the last end closes.
    CHECK(write(w, "stale", 5) == 5);
    close(w);
    close(r);

    // O_RDWR never waits, and reads its own writes; the old data is gone.
    int rw = open(f, O_RDWR);
    CHECK(rw >= 0);
    printf("rdwr: accmode %d poll %#x\n", (fcntl(rw, F_GETFL) & O_ACCMODE) == O_RDWR,
           revents(rw, POLLIN | POLLOUT));
    CHECK(write(rw, "xy", 2) == 2);
    n = read(rw, b, sizeof b);
    printf("rdwr read %zd '%.*s' poll %#x\n", n, (int)(n > 0 ? n : 0), b,
           revents(rw, POLLIN | POLLOUT));
    // poll wakes when another thread writes.
    CHECK(pthread_create(&t, NULL, late_writer, &rw) == 0);
    struct pollfd p = {.fd = rw, .events = POLLIN};
    int pr = poll(&p, 1, 5000);
    CHECK(pthread_join(t, NULL) == 0);
    printf("poll woke: %d %#x\n", pr, p.revents);
    n = read(rw, b, sizeof b);
    printf("read %zd '%.*s'\n", n, (int)(n > 0 ? n : 0), b);
    close(rw);

    // Through a second name, and after a rename.
    CHECK(link(f, in_dir("f2")) == 0);
    CHECK(rename(in_dir("f2"), in_dir("f3")) == 0);
    rw = open(in_dir("f3"), O_RDWR | O_NONBLOCK);
    r = open(f, O_RDONLY | O_NONBLOCK);
    CHECK(write(rw, "shared", 6) == 6);
    n = read(r, b, sizeof b);
    printf("one pipe per node: %zd '%.*s'\n", n, (int)(n > 0 ? n : 0), b);
    close(r);
    close(rw);
    ERR("open fifo O_DIRECTORY", open(f, O_RDONLY | O_NONBLOCK | O_DIRECTORY), ENOTDIR);
    ERR("truncate fifo", truncate(f, 0), EINVAL);
    CHECK(unlink(in_dir("f3")) == 0);
    CHECK(unlink(f) == 0);

    // mknod: FIFOs, regular files; directories are EPERM, unknown types EINVAL.
    char m[4200];
    snprintf(m, sizeof m, "%s", in_dir("m"));
    CHECK(mknod(m, S_IFIFO | 0600, 0) == 0);
    CHECK(lstat(m, &st) == 0);
    printf("mknod fifo %d perm %o\n", S_ISFIFO(st.st_mode), st.st_mode & 0777);
    ERR("mknod exists", mknod(m, S_IFREG | 0600, 0), EEXIST);
    CHECK(unlink(m) == 0);
    CHECK(mknod(m, 0644, 0) == 0);
    CHECK(lstat(m, &st) == 0);
    printf("mknod type 0: reg %d perm %o size %ld\n", S_ISREG(st.st_mode), st.st_mode & 0777,
           (long)st.st_size);
    CHECK(unlink(m) == 0);
    CHECK(mknodat(AT_FDCWD, m, S_IFREG | 0600, 0) == 0);
    CHECK(lstat(m, &st) == 0);
    printf("mknodat reg %d\n", S_ISREG(st.st_mode));
    CHECK(unlink(m) == 0);
    ERR("mknod dir", mknod(m, S_IFDIR | 0700, 0), EPERM);
    ERR("mknod bad type", mknod(m, 0170000 | 0600, 0), EINVAL);
    ERR("mknod no parent", mknod(in_dir("nope/x"), S_IFIFO | 0600, 0), ENOENT);
    // A device node: EPERM unprivileged; root (natively) may make it.
    errno = 0;
    int dr = mknod(m, S_IFCHR | 0600, makedev(1, 3));
    printf("mknod chr: ok-or-eperm %d\n", dr == 0 || errno == EPERM);
    unlink(m);
    // FIFOs in /tmp too.
    char tf[64];
    snprintf(tf, sizeof tf, "/tmp/fifo-test-%d", (int)getpid());
    CHECK(mkfifo(tf, 0600) == 0);
    rw = open(tf, O_RDWR);
    CHECK(write(rw, "tmp", 3) == 3);
    n = read(rw, b, sizeof b);
    printf("/tmp fifo: %zd\n", n);
    close(rw);
    CHECK(unlink(tf) == 0);
}

static void signalfds(void) {
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGRTMIN + 1);
    CHECK(sigprocmask(SIG_BLOCK, &set, &old) == 0);
    int sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    CHECK(sfd >= 0);
    printf("signalfd cloexec %d nonblock %d\n", (fcntl(sfd, F_GETFD) & FD_CLOEXEC) != 0,
           (fcntl(sfd, F_GETFL) & O_NONBLOCK) != 0);
    struct signalfd_siginfo si;
    ERR("signalfd read, nothing pending", read(sfd, &si, sizeof si), EAGAIN);
    ERR("signalfd short buffer", read(sfd, &si, 100), EINVAL);
    printf("poll, nothing pending %#x\n", revents(sfd, POLLIN));

    raise(SIGUSR1);
    printf("poll, SIGUSR1 pending %#x\n", revents(sfd, POLLIN));
    memset(&si, 0, sizeof si);
    ssize_t n = read(sfd, &si, sizeof si);
    printf("read %zd signo %d code %d pid ok %d uid ok %d\n", n, si.ssi_signo, si.ssi_code,
           si.ssi_pid == (uint32_t)getpid(), si.ssi_uid == getuid());
    sigset_t pend;
    sigpending(&pend);
    printf("consumed: still pending %d\n", sigismember(&pend, SIGUSR1));

    // sigqueue'd values, two of a real-time signal, read together.
    union sigval v = {.sival_int = 1234};
    CHECK(sigqueue(getpid(), SIGRTMIN + 1, v) == 0);
    v.sival_int = 5678;
    CHECK(sigqueue(getpid(), SIGRTMIN + 1, v) == 0);
    struct signalfd_siginfo two[3];
    n = read(sfd, two, sizeof two);
    printf("read %zd: signo ok %d code %d int %d, then %d\n", n,
           two[0].ssi_signo == (uint32_t)(SIGRTMIN + 1), two[0].ssi_code, two[0].ssi_int,
           two[1].ssi_int);

    // A signal outside the mask stays pending; kill() gives SI_USER.
    sigaddset(&set, SIGUSR2);
    CHECK(sigprocmask(SIG_BLOCK, &set, NULL) == 0);
    kill(getpid(), SIGUSR2);
    ERR("signalfd ignores other signals", read(sfd, &si, sizeof si), EAGAIN);
    // signalfd() on the fd changes its mask.
    sigset_t only2;
    sigemptyset(&only2);
    sigaddset(&only2, SIGUSR2);
    printf("signalfd update returns same fd %d\n", signalfd(sfd, &only2, 0) == sfd);
    n = read(sfd, &si, sizeof si);
    printf("read %zd signo %d code %d\n", n, si.ssi_signo, si.ssi_code);
    ERR("signalfd bad fd", signalfd(0, &only2, 0), EINVAL);
    ERR("signalfd bad flags", signalfd(-1, &only2, 1), EINVAL);
    ERR("signalfd4 bad size", syscall(SYS_signalfd4, -1, &only2, 4, 0), EINVAL);

    // epoll wakes when a signal arrives from another thread.
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 77};
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev) == 0);
    struct epoll_event got;
    printf("epoll, nothing pending %d\n", epoll_wait(ep, &got, 1, 0));
    pthread_t me = pthread_self();
    (void)me;
    kill(getpid(), SIGUSR2);
    int k = epoll_wait(ep, &got, 1, 1000);
    printf("epoll %d data %u events %#x\n", k, got.data.u32, got.events);
    n = read(sfd, &si, sizeof si);
    printf("read %zd signo %d\n", n, si.ssi_signo);

    // A blocking read waits for the signal (sent by a thread after a while).
    int bfd = signalfd(-1, &only2, 0);
    CHECK(bfd >= 0);
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    close(ep);
    close(sfd);
    close(bfd);
    CHECK(sigprocmask(SIG_SETMASK, &old, NULL) == 0);
}

static void *delayed_kill(void *arg) {
    (void)arg;
    struct timespec ts = {0, 30 * 1000 * 1000};
    nanosleep(&ts, NULL);
    kill(getpid(), SIGUSR1);
    return NULL;
}

static void signalfd_blocking(void) {
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    // Block in every thread (the new thread inherits the mask).
    CHECK(pthread_sigmask(SIG_BLOCK, &set, &old) == 0);
    int sfd = signalfd(-1, &set, 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, delayed_kill, NULL) == 0);
    struct signalfd_siginfo si;
    ssize_t n = read(sfd, &si, sizeof si);
    CHECK(pthread_join(t, NULL) == 0);
    printf("blocking signalfd read %zd signo %d code %d\n", n, si.ssi_signo, si.ssi_code);
    close(sfd);
    CHECK(pthread_sigmask(SIG_SETMASK, &old, NULL) == 0);
}

static long openat2_(int dfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve,
                     size_t size) {
    struct {
        struct open_how how;
        char tail[16];
    } h;
    memset(&h, 0, sizeof h);
    h.how.flags = flags;
    h.how.mode = mode;
    h.how.resolve = resolve;
    return syscall(SYS_openat2, dfd, path, &h, size);
}

static void openat2s(void) {
    CHECK(mkdir(in_dir("o"), 0755) == 0);
    CHECK(mkdir(in_dir("o/sub"), 0755) == 0);
    int fd = open(in_dir("o/sub/file"), O_WRONLY | O_CREAT, 0644);
    CHECK(fd >= 0 && write(fd, "data", 4) == 4);
    close(fd);
    CHECK(symlink("file", in_dir("o/sub/link")) == 0);
    CHECK(symlink("/etc", in_dir("o/sub/abs")) == 0);
    int d = open(in_dir("o"), O_RDONLY | O_DIRECTORY);
    CHECK(d >= 0);
    size_t sz = sizeof(struct open_how);

    fd = openat2_(d, "sub/file", O_RDONLY, 0, 0, sz);
    char b[16] = {0};
    printf("openat2 plain %d read %zd\n", fd >= 0, fd >= 0 ? read(fd, b, sizeof b) : -1);
    close(fd);
    fd = openat2_(d, "sub/link", O_RDONLY, 0, 0, sz);
    printf("openat2 via symlink %d\n", fd >= 0);
    close(fd);
    ERR("openat2 NO_SYMLINKS last", openat2_(d, "sub/link", O_RDONLY, 0, RESOLVE_NO_SYMLINKS, sz),
        ELOOP);
    ERR("openat2 NO_SYMLINKS dir", openat2_(d, "sub/abs/passwd", O_RDONLY, 0, RESOLVE_NO_SYMLINKS, sz),
        ELOOP);
    fd = openat2_(d, "sub/link", O_PATH | O_NOFOLLOW, 0, RESOLVE_NO_SYMLINKS, sz);
    printf("openat2 NO_SYMLINKS O_PATH|O_NOFOLLOW %d\n", fd >= 0);
    close(fd);
    ERR("openat2 BENEATH ..", openat2_(d, "../o/sub/file", O_RDONLY, 0, RESOLVE_BENEATH, sz), EXDEV);
    ERR("openat2 BENEATH abs", openat2_(d, "/etc/passwd", O_RDONLY, 0, RESOLVE_BENEATH, sz), EXDEV);
    ERR("openat2 BENEATH abs link", openat2_(d, "sub/abs/passwd", O_RDONLY, 0, RESOLVE_BENEATH, sz),
        EXDEV);
    fd = openat2_(d, "sub/../sub/file", O_RDONLY, 0, RESOLVE_BENEATH, sz);
    printf("openat2 BENEATH inside %d\n", fd >= 0);
    close(fd);
    // IN_ROOT: ".." and "/" stop at the directory.
    fd = openat2_(d, "../../../sub/file", O_RDONLY, 0, RESOLVE_IN_ROOT, sz);
    printf("openat2 IN_ROOT .. clamps %d\n", fd >= 0);
    close(fd);
    fd = openat2_(d, "/sub/link", O_RDONLY, 0, RESOLVE_IN_ROOT, sz);
    printf("openat2 IN_ROOT abs %d\n", fd >= 0);
    close(fd);
    ERR("openat2 IN_ROOT abs link", openat2_(d, "sub/abs/passwd", O_RDONLY, 0, RESOLVE_IN_ROOT, sz),
        ENOENT);
    ERR("openat2 NO_MAGICLINKS", openat2_(AT_FDCWD, "/proc/self/fd/0", O_RDONLY, 0,
                                          RESOLVE_NO_MAGICLINKS, sz),
        ELOOP);
    ERR("openat2 NO_XDEV", openat2_(AT_FDCWD, "/proc/self/status", O_RDONLY, 0, RESOLVE_NO_XDEV, sz),
        EXDEV);
    ERR("openat2 CACHED+CREAT", openat2_(d, "new", O_RDWR | O_CREAT, 0600, RESOLVE_CACHED, sz),
        EAGAIN);
    ERR("openat2 BENEATH|IN_ROOT", openat2_(d, "sub/file", O_RDONLY, 0,
                                            RESOLVE_BENEATH | RESOLVE_IN_ROOT, sz),
        EINVAL);
    ERR("openat2 size small", openat2_(d, "sub/file", O_RDONLY, 0, 0, 16), EINVAL);
    ERR("openat2 size big", openat2_(d, "sub/file", O_RDONLY, 0, 0, 8192), E2BIG);
    fd = openat2_(d, "sub/file", O_RDONLY, 0, 0, sz + 8);
    printf("openat2 zero tail %d\n", fd >= 0);
    close(fd);
    {
        struct {
            struct open_how how;
            uint64_t tail;
        } h = {{O_RDONLY, 0, 0}, 1};
        ERR("openat2 nonzero tail", syscall(SYS_openat2, d, "sub/file", &h, sizeof h), E2BIG);
    }
    ERR("openat2 unknown flag", openat2_(d, "sub/file", O_RDONLY | (1ULL << 40), 0, 0, sz), EINVAL);
    ERR("openat2 unknown resolve", openat2_(d, "sub/file", O_RDONLY, 0, 0x80, sz), EINVAL);
    ERR("openat2 mode without creat", openat2_(d, "sub/file", O_RDONLY, 0644, 0, sz), EINVAL);
    ERR("openat2 bad mode", openat2_(d, "new", O_RDWR | O_CREAT, 010000, 0, sz), EINVAL);
    ERR("openat2 O_PATH|O_RDWR", openat2_(d, "sub/file", O_PATH | O_RDWR, 0, 0, sz), EINVAL);
    fd = openat2_(d, "sub/new", O_RDWR | O_CREAT | O_EXCL, 0600, RESOLVE_BENEATH, sz);
    printf("openat2 create beneath %d\n", fd >= 0);
    close(fd);
    close(d);
    unlink(in_dir("o/sub/new"));
    unlink(in_dir("o/sub/abs"));
    unlink(in_dir("o/sub/link"));
    unlink(in_dir("o/sub/file"));
    rmdir(in_dir("o/sub"));
    rmdir(in_dir("o"));
}

static void fallocates(void) {
    char f[4200];
    snprintf(f, sizeof f, "%s", in_dir("falloc"));
    int fd = open(f, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    struct stat st;
    CHECK(fallocate(fd, 0, 0, 10000) == 0);
    CHECK(fstat(fd, &st) == 0);
    printf("fallocate: size %ld\n", (long)st.st_size);
    CHECK(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 50000) == 0);
    CHECK(fstat(fd, &st) == 0);
    printf("keep size: size %ld\n", (long)st.st_size);
    char buf[10000];
    memset(buf, 'x', sizeof buf);
    CHECK(pwrite(fd, buf, sizeof buf, 0) == (ssize_t)sizeof buf);
    CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100, 8000) == 0);
    CHECK(fstat(fd, &st) == 0);
    memset(buf, 0, sizeof buf);
    CHECK(pread(fd, buf, sizeof buf, 0) == (ssize_t)sizeof buf);
    int zeros = 0, xs = 0;
    for (size_t i = 0; i < sizeof buf; i++) {
        zeros += buf[i] == 0;
        xs += buf[i] == 'x';
    }
    printf("punch: size %ld zeros %d xs %d first %c [100] %d [8100] %c\n", (long)st.st_size, zeros,
           xs, buf[0], buf[100], buf[8100]);
    ERR("punch without keep size", fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 10), EOPNOTSUPP);
    ERR("fallocate len 0", fallocate(fd, 0, 0, 0), EINVAL);
    ERR("fallocate negative offset", fallocate(fd, 0, -1, 10), EINVAL);
    CHECK(fallocate(fd, 0, 20000, 100) == 0);
    CHECK(fstat(fd, &st) == 0);
    printf("extend: size %ld\n", (long)st.st_size);
    close(fd);
    fd = open(f, O_RDONLY);
    ERR("fallocate read-only", fallocate(fd, 0, 0, 10), EBADF);
    printf("fadvise %d %d\n", posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL),
           posix_fadvise(fd, 0, 0, 99) == EINVAL);
    ERR("readahead", readahead(fd, 0, 4096), 0);
    ERR("sync_file_range", sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE), 0);
    ERR("sync_file_range bad flags", sync_file_range(fd, 0, 0, 8), EINVAL);
    ERR("syncfs", syncfs(fd), 0);
    close(fd);
    CHECK(unlink(f) == 0);

    int p[2];
    CHECK(pipe(p) == 0);
    ERR("fallocate pipe", fallocate(p[1], 0, 0, 10), ESPIPE);
    printf("fadvise pipe espipe %d\n", posix_fadvise(p[0], 0, 0, POSIX_FADV_NORMAL) == ESPIPE);
    ERR("readahead pipe", readahead(p[0], 0, 10), EINVAL);
    ERR("sync_file_range pipe", sync_file_range(p[0], 0, 0, 0), ESPIPE);
    close(p[0]);
    close(p[1]);
    fd = open("/dev/null", O_WRONLY);
    ERR("fallocate /dev/null", fallocate(fd, 0, 0, 10), ENODEV);
    close(fd);
    fd = open(dir, O_RDONLY | O_DIRECTORY);
    ERR("fallocate dir", fallocate(fd, 0, 0, 10), EBADF);
    close(fd);
    // A host file (the overlay's lower layer under snare) is copied up when opened for writing.
    fd = open("/etc/hostname", O_RDONLY);
    if (fd >= 0) {
        ERR("fallocate host file read-only", fallocate(fd, 0, 0, 10), EBADF);
        close(fd);
    }
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    umask(022);
    if (argc < 2) {
        fprintf(stderr, "usage: fifo SCRATCH_DIR\n");
        return 2;
    }
    snprintf(dir, sizeof dir, "%s/fifo-test", argv[1]);
    mkdir(dir, 0755);
    fifos();
    signalfds();
    signalfd_blocking();
    openat2s();
    fallocates();
    CHECK(rmdir(dir) == 0);
    printf("failures %d\n", failures);
    return failures != 0;
}
