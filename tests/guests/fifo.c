/* FIFOs (mkfifo, open semantics, data through them between threads and processes),
 * signalfd (read, sigqueue value, poll), fallocate. argv[1]: a scratch directory.
 * Prints what it sees. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char fifo[512];

static void *late_reader(void *a) {
    (void)a;
    int fd = open(fifo, O_RDONLY);
    char buf[64];
    ssize_t n = read(fd, buf, sizeof buf);
    ssize_t eof = read(fd, buf, sizeof buf);
    close(fd);
    printf("reader after the writer left: %zd then %zd\n", n, eof);
    return NULL;
}

static void *writer(void *a) {
    (void)a;
    int fd = open(fifo, O_WRONLY);
    for (int i = 0; i < 100; i++) dprintf(fd, "line %d\n", i);
    close(fd);
    return NULL;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 2) return 2;
    snprintf(fifo, sizeof fifo, "%s/fifo-%d", argv[1], getpid());
    printf("mkfifo: %d\n", mkfifo(fifo, 0600));
    printf("mkfifo again: %s\n", mkfifo(fifo, 0600) ? strerror(errno) : "ok");
    struct stat st;
    stat(fifo, &st);
    printf("is fifo: %d perm %o\n", S_ISFIFO(st.st_mode), st.st_mode & 0777);
    errno = 0;
    int w0 = open(fifo, O_WRONLY | O_NONBLOCK);
    printf("nonblock write open, no reader: %d %s\n", w0, strerror(errno));
    int r = open(fifo, O_RDONLY | O_NONBLOCK);
    printf("nonblock read open: ok=%d\n", r >= 0);
    struct pollfd p = {.fd = r, .events = POLLIN};
    printf("poll with no writer ever: %d\n", poll(&p, 1, 0));
    close(r);

    /* A blocking reader meets a writer thread. */
    pthread_t t;
    pthread_create(&t, NULL, writer, NULL);
    r = open(fifo, O_RDONLY);
    char buf[8192];
    long total = 0;
    ssize_t n;
    while ((n = read(r, buf, sizeof buf)) > 0) total += n;
    pthread_join(t, NULL);
    close(r);
    printf("through the fifo: %ld bytes\n", total);

    /* Between processes. */
    pid_t c = fork();
    if (c == 0) {
        int w = open(fifo, O_WRONLY);
        write(w, "from the child", 14);
        _exit(0);
    }
    r = open(fifo, O_RDONLY);
    memset(buf, 0, sizeof buf);
    n = read(r, buf, sizeof buf);
    waitpid(c, NULL, 0);
    close(r);
    printf("child said: %.*s\n", (int)n, buf);

    /* O_RDWR never blocks and holds both ends. */
    int rw = open(fifo, O_RDWR);
    write(rw, "loop", 4);
    n = read(rw, buf, 4);
    printf("rdwr: %.*s\n", (int)n, buf);
    close(rw);

    /* A writer that opens, writes and closes while a reader sleeps in open(): the reader's
     * open still returns (a writer came), with the data and then EOF. */
    pthread_create(&t, NULL, late_reader, NULL);
    int w;
    while ((w = open(fifo, O_WRONLY | O_NONBLOCK)) < 0) usleep(1000);
    write(w, "gone", 4);
    close(w);
    pthread_join(t, NULL);
    unlink(fifo);

    /* signalfd. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGRTMIN);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    struct signalfd_siginfo si;
    errno = 0;
    ssize_t e0 = read(sfd, &si, sizeof si);
    printf("signalfd empty: %zd %s\n", e0, strerror(errno));
    raise(SIGUSR1);
    union sigval v = {.sival_int = 77};
    sigqueue(getpid(), SIGRTMIN, v);
    struct pollfd sp = {.fd = sfd, .events = POLLIN};
    int pr = poll(&sp, 1, 1000);
    printf("signalfd poll: %d revents-in=%d\n", pr, (sp.revents & POLLIN) != 0);
    n = read(sfd, &si, sizeof si);
    printf("signalfd read: %zd signo=%u code=%d pid-ok=%d\n", n, si.ssi_signo, si.ssi_code, si.ssi_pid == (unsigned)getpid());
    n = read(sfd, &si, sizeof si);
    printf("signalfd rt: %zd signo-ok=%d int=%d\n", n, si.ssi_signo == (unsigned)SIGRTMIN, si.ssi_int);
    close(sfd);

    /* fallocate on a scratch file. */
    char f[512];
    snprintf(f, sizeof f, "%s/falloc-%d", argv[1], getpid());
    int fd = open(f, O_CREAT | O_RDWR | O_TRUNC, 0600);
    write(fd, "0123456789", 10);
    printf("fallocate extend: %d\n", fallocate(fd, 0, 0, 8192));
    fstat(fd, &st);
    printf("size after: %ld\n", (long)st.st_size);
    printf("fallocate keep size: %d\n", fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 100000));
    fstat(fd, &st);
    printf("size kept: %ld\n", (long)st.st_size);
    printf("punch: %d\n", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 2, 3));
    memset(buf, 'x', 10);
    pread(fd, buf, 10, 0);
    printf("after punch: %d %d %d %c\n", buf[2], buf[3], buf[4], buf[5]);
    errno = 0;
    int pk = fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 1);
    printf("punch without keep: %d %s\n", pk, strerror(errno));
    close(fd);
    unlink(f);

    /* openat2. */
    char dir[512], file[600], ln[600];
    snprintf(dir, sizeof dir, "%s/o2-%d", argv[1], getpid());
    mkdir(dir, 0700);
    snprintf(file, sizeof file, "%s/a", dir);
    close(open(file, O_CREAT | O_WRONLY, 0600));
    snprintf(ln, sizeof ln, "%s/ln", dir);
    symlink("a", ln);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    struct { const char *path; unsigned long long flags, mode, resolve; unsigned long size; } cases[] = {
        {"a", O_RDONLY, 0, RESOLVE_BENEATH, 24},
        {"../x", O_RDONLY, 0, RESOLVE_BENEATH, 24},
        {"/etc/passwd", O_RDONLY, 0, RESOLVE_BENEATH, 24},
        {"ln", O_RDONLY, 0, RESOLVE_NO_SYMLINKS, 24},
        {"ln", O_RDONLY, 0, 0, 24},
        {"/a", O_RDONLY, 0, RESOLVE_IN_ROOT, 24},
        {"a", O_RDONLY, 0, 0, 23},
        {"a", O_RDONLY, 0, 0x40, 24},
        {"a", O_RDONLY, 0644, 0, 24},
        {"a", O_RDONLY, 0, RESOLVE_BENEATH | RESOLVE_IN_ROOT, 24},
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct open_how how[2];
        memset(how, 0, sizeof how);
        how[0].flags = cases[i].flags;
        how[0].mode = cases[i].mode;
        how[0].resolve = cases[i].resolve;
        errno = 0;
        long r2 = syscall(SYS_openat2, dfd, cases[i].path, how, cases[i].size);
        printf("openat2 %s resolve=%#llx size=%lu: %s\n", cases[i].path, cases[i].resolve, cases[i].size,
               r2 >= 0 ? "ok" : strerror(errno));
        if (r2 >= 0) close((int)r2);
    }
    struct open_how big[2];
    memset(big, 0, sizeof big);
    ((char *)big)[30] = 1;
    errno = 0;
    long r3 = syscall(SYS_openat2, dfd, "a", big, sizeof big);
    printf("openat2 nonzero tail: %s\n", r3 >= 0 ? "ok" : strerror(errno));
    close(dfd);
    unlink(ln);
    unlink(file);
    rmdir(dir);
    return 0;
}
