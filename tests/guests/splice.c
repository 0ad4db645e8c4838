/* splice(2), tee(2), vmsplice(2): file -> pipe -> file copies with and without offsets, pipe to
 * pipe, tee that leaves its input in place, vmsplice both ways, blocking until a writer comes,
 * and the errors (EAGAIN, EPIPE with its SIGPIPE, ESPIPE, EINVAL, EBADF). argv[1]: a scratch
 * file name prefix (default /tmp/splice). Prints what it sees. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
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

/* Prints `label: value` or `label: ERRNAME`, one call per line (calls run in order). */
static void say(const char *label, long r) {
    if (r < 0)
        printf("%s: %s\n", label, strerrorname_np(errno));
    else
        printf("%s: %ld\n", label, r);
}

static char in_name[256], out_name[256];

/* SIGPIPEs seen: every EPIPE of these calls comes with one. */
static volatile sig_atomic_t sigpipes;
static void on_sigpipe(int sig) {
    (void)sig;
    sigpipes++;
}

static unsigned char pattern(long i) { return (unsigned char)(i * 7 + i / 251); }

/* Checks that `fd` holds pattern bytes [from, from + len) at offset `at`. */
static int holds(int fd, long at, long from, long len) {
    static unsigned char buf[1 << 20];
    CHECK(len <= (long)sizeof buf);
    if (pread(fd, buf, len, at) != len)
        return 0;
    for (long i = 0; i < len; i++)
        if (buf[i] != pattern(from + i))
            return 0;
    return 1;
}

static void file_pipe_file(void) {
    int in = open(in_name, O_RDWR | O_CREAT | O_TRUNC, 0600);
    int out = open(out_name, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(in >= 0 && out >= 0);
    static unsigned char data[1 << 20];
    for (long i = 0; i < (long)sizeof data; i++)
        data[i] = pattern(i);
    CHECK(write(in, data, sizeof data) == sizeof data);
    int p[2];
    CHECK(pipe(p) == 0);

    /* With offsets: the files' own offsets stay. */
    CHECK(lseek(in, 0, SEEK_SET) == 0);
    loff_t off_in = 100, off_out = 50;
    say("file -> pipe at 100", splice(in, &off_in, p[1], NULL, 5000, 0));
    printf("off_in %ld, in's offset %ld\n", (long)off_in, (long)lseek(in, 0, SEEK_CUR));
    say("pipe -> file at 50", splice(p[0], NULL, out, &off_out, 6000, 0));
    printf("off_out %ld, out's offset %ld, copied right %d\n", (long)off_out,
           (long)lseek(out, 0, SEEK_CUR), holds(out, 50, 100, 5000));

    /* Without offsets: the files' offsets move. */
    CHECK(lseek(in, 1000, SEEK_SET) == 1000 && lseek(out, 0, SEEK_SET) == 0);
    say("file -> pipe at the offset", splice(in, NULL, p[1], NULL, 3000, SPLICE_F_MORE));
    say("in's offset", lseek(in, 0, SEEK_CUR));
    say("pipe -> file at the offset", splice(p[0], NULL, out, NULL, 3000, SPLICE_F_MOVE));
    printf("out's offset %ld, copied right %d\n", (long)lseek(out, 0, SEEK_CUR),
           holds(out, 0, 1000, 3000));

    /* A whole megabyte through the pipe, in whatever pieces it takes. */
    CHECK(ftruncate(out, 0) == 0);
    off_in = 0;
    off_out = 0;
    long moved = 0, rounds = 0;
    while (moved < (long)sizeof data) {
        long n = splice(in, &off_in, p[1], NULL, sizeof data - moved, 0);
        CHECK(n > 0);
        long m = 0;
        while (m < n) {
            long k = splice(p[0], NULL, out, &off_out, n - m, 0);
            CHECK(k > 0);
            m += k;
        }
        moved += n;
        rounds++;
    }
    printf("1 MiB copied right %d, in more than one round %d\n",
           holds(out, 0, 0, sizeof data), rounds > 1);

    /* At the end of the file: nothing moves. */
    off_in = sizeof data;
    say("file -> pipe at EOF", splice(in, &off_in, p[1], NULL, 100, 0));
    off_in = sizeof data + 5000;
    say("file -> pipe past EOF", splice(in, &off_in, p[1], NULL, 100, 0));
    /* A short file: what there is. */
    off_in = sizeof data - 10;
    say("file -> pipe near EOF", splice(in, &off_in, p[1], NULL, 100, 0));
    say("pipe -> file, more asked than there is", splice(p[0], NULL, out, NULL, 100, 0));
    close(p[0]);
    close(p[1]);
    close(in);
    close(out);
}

static void pipe_to_pipe_and_tee(void) {
    int a[2], b[2];
    CHECK(pipe(a) == 0 && pipe(b) == 0);
    CHECK(write(a[1], "0123456789", 10) == 10);
    say("pipe -> pipe, 4", splice(a[0], NULL, b[1], NULL, 4, 0));
    char buf[64] = {0};
    say("read b", read(b[0], buf, sizeof buf));
    printf("b had %s\n", buf);
    memset(buf, 0, sizeof buf);
    say("read a", read(a[0], buf, sizeof buf));
    printf("a kept %s\n", buf);

    CHECK(write(a[1], "abcdef", 6) == 6);
    say("tee 100", tee(a[0], b[1], 100, 0));
    say("tee 3", tee(a[0], b[1], 3, SPLICE_F_NONBLOCK));
    memset(buf, 0, sizeof buf);
    say("read a", read(a[0], buf, sizeof buf));
    printf("a still had %s\n", buf);
    memset(buf, 0, sizeof buf);
    say("read b", read(b[0], buf, sizeof buf));
    printf("b got %s\n", buf);

    /* Huge lengths are fine between pipes (only what is there moves). */
    CHECK(write(a[1], "xyz", 3) == 3);
    say("tee, huge length", tee(a[0], b[1], (size_t)-1, 0));
    say("pipe -> pipe, huge length", splice(a[0], NULL, b[1], NULL, (size_t)-1, 0));
    say("drain b", read(b[0], buf, sizeof buf));

    /* Errors. */
    say("pipe -> same pipe", splice(a[0], NULL, a[1], NULL, 10, 0));
    say("tee to the same pipe", tee(a[0], a[1], 10, 0));
    loff_t off = 0;
    say("pipe -> pipe with off_in", splice(a[0], &off, b[1], NULL, 10, 0));
    say("pipe -> pipe with off_out", splice(a[0], NULL, b[1], &off, 10, 0));
    say("pipe -> pipe, empty, NONBLOCK", splice(a[0], NULL, b[1], NULL, 10, SPLICE_F_NONBLOCK));
    say("tee, empty, NONBLOCK", tee(a[0], b[1], 10, SPLICE_F_NONBLOCK));
    say("splice, bad flags", splice(a[0], NULL, b[1], NULL, 10, 0x10));
    say("tee, bad flags", tee(a[0], b[1], 10, 0x10));
    say("splice, len 0", splice(a[0], NULL, b[1], NULL, 0, 0));
    say("tee, len 0", tee(a[0], b[1], 0, 0));
    say("splice, len 0, bad fd", splice(-1, NULL, 99, NULL, 0, 0));
    say("splice, bad fd", splice(-1, NULL, b[1], NULL, 10, 0));
    say("tee, bad fd", tee(a[0], 999, 10, 0));
    say("splice from a write end", splice(a[1], NULL, b[1], NULL, 10, 0));
    say("splice into a read end", splice(a[0], NULL, b[0], NULL, 10, 0));
    say("tee from a write end", tee(a[1], b[1], 10, 0));
    int f = open(in_name, O_RDWR);
    CHECK(f >= 0);
    say("tee from a file", tee(f, b[1], 10, 0));
    say("tee to a file", tee(a[0], f, 10, 0));
    close(f);

    /* A full output pipe. */
    int n = fcntl(b[1], F_SETPIPE_SZ, 4096);
    CHECK(n == 4096);
    static char page[4096];
    CHECK(write(b[1], page, sizeof page) == sizeof page);
    CHECK(write(a[1], "q", 1) == 1);
    say("pipe -> full pipe, NONBLOCK", splice(a[0], NULL, b[1], NULL, 1, SPLICE_F_NONBLOCK));
    say("tee -> full pipe, NONBLOCK", tee(a[0], b[1], 1, SPLICE_F_NONBLOCK));
    CHECK(read(b[0], page, sizeof page) == sizeof page);
    say("pipe -> emptied pipe", splice(a[0], NULL, b[1], NULL, 1, 0));
    say("read b", read(b[0], buf, sizeof buf));

    /* EOF and EPIPE. */
    close(a[1]);
    say("pipe -> pipe at EOF", splice(a[0], NULL, b[1], NULL, 10, 0));
    say("tee at EOF", tee(a[0], b[1], 10, 0));
    close(b[0]);
    say("pipe at EOF -> pipe without readers", splice(a[0], NULL, b[1], NULL, 10, 0));
    int c[2];
    CHECK(pipe(c) == 0);
    CHECK(write(c[1], "data", 4) == 4);
    say("pipe -> pipe without readers", splice(c[0], NULL, b[1], NULL, 10, 0));
    say("tee -> pipe without readers", tee(c[0], b[1], 10, 0));
    printf("SIGPIPEs so far: %d\n", (int)sigpipes);
    close(a[0]);
    close(b[1]);
    close(c[0]);
    close(c[1]);
}

static void file_errors(void) {
    int p[2];
    CHECK(pipe(p) == 0);
    int in = open(in_name, O_RDONLY);
    int out = open(out_name, O_RDWR);
    int app = open(out_name, O_WRONLY | O_APPEND);
    CHECK(in >= 0 && out >= 0 && app >= 0);
    loff_t off = 0, neg = -1;
    say("file -> file", splice(in, &off, out, &off, 10, 0));
    say("file -> pipe with off_out", splice(in, NULL, p[1], &off, 10, 0));
    say("pipe -> file with off_in", splice(p[0], &off, out, NULL, 10, 0));
    say("negative off_in", splice(in, &neg, p[1], NULL, 10, 0));
    CHECK(write(p[1], "abc", 3) == 3);
    say("negative off_out", splice(p[0], NULL, out, &neg, 10, 0));
    say("pipe -> O_APPEND file", splice(p[0], NULL, app, NULL, 10, 0));
    say("pipe -> read-only file", splice(p[0], NULL, in, NULL, 10, 0));
    say("write-only file -> pipe", splice(app, NULL, p[1], NULL, 10, 0));
    say("file -> pipe, huge length", splice(in, &off, p[1], NULL, (size_t)-1, 0));
    off = 0x7ffffffffffffff0LL;
    say("file -> pipe, offset + length overflows", splice(in, &off, p[1], NULL, 100, 0));
    say("pipe -> file, huge length", splice(p[0], NULL, out, NULL, (size_t)-1, 0));
    char buf[16];
    say("drain", read(p[0], buf, sizeof buf));
    say("pipe -> file, empty, NONBLOCK", splice(p[0], NULL, out, NULL, 10, SPLICE_F_NONBLOCK));
    int q[2];
    CHECK(pipe2(q, O_NONBLOCK) == 0);
    say("O_NONBLOCK pipe -> file, empty", splice(q[0], NULL, out, NULL, 10, 0));
    off = 0;
    static char big[65536];
    CHECK(write(q[1], big, sizeof big) == sizeof big);
    say("file -> full O_NONBLOCK pipe", splice(in, &off, q[1], NULL, 10, 0));
    CHECK(write(p[1], big, sizeof big) == sizeof big);
    say("file -> full pipe, NONBLOCK", splice(in, &off, p[1], NULL, 10, SPLICE_F_NONBLOCK));
    close(q[0]);
    say("file -> pipe without readers", splice(in, &off, q[1], NULL, 10, 0));
    close(p[1]);
    long total = 0, n;
    while ((n = splice(p[0], NULL, out, NULL, 100000, 0)) > 0)
        total += n;
    say("pipe -> file until EOF, total", total);
    say("then", n);
    close(p[0]);
    close(q[1]);
    close(in);
    close(out);
    close(app);
}

static void vmsplice_both_ways(void) {
    int p[2];
    CHECK(pipe(p) == 0);
    struct iovec iov[3] = {{"hello ", 6}, {NULL, 0}, {"vm", 2}};
    say("vmsplice into the pipe", vmsplice(p[1], iov, 3, 0));
    char buf[32] = {0};
    say("read", read(p[0], buf, sizeof buf));
    printf("got %s\n", buf);
    CHECK(write(p[1], "0123456789", 10) == 10);
    char x[4] = {0}, y[8] = {0};
    struct iovec out[2] = {{x, 3}, {y, 8}};
    say("vmsplice out of the pipe", vmsplice(p[0], out, 2, 0));
    printf("into %.3s and %.7s\n", x, y);
    say("vmsplice out of the empty pipe, NONBLOCK", vmsplice(p[0], out, 2, SPLICE_F_NONBLOCK));
    say("vmsplice, bad flags", vmsplice(p[1], iov, 1, 0x10));
    say("vmsplice, no iovecs", vmsplice(p[1], iov, 0, 0));
    say("vmsplice, 1025 iovecs", vmsplice(p[1], iov, 1025, 0));
    int f = open(in_name, O_RDWR);
    CHECK(f >= 0);
    say("vmsplice into a file", vmsplice(f, iov, 1, 0));
    close(f);
    /* A full pipe takes what fits. */
    CHECK(fcntl(p[1], F_SETPIPE_SZ, 4096) == 4096);
    /* Page-aligned: Linux fills a pipe's slots with pages. */
    static char page[8192] __attribute__((aligned(4096)));
    struct iovec whole = {page, sizeof page};
    say("vmsplice 8 KiB into a 4 KiB pipe", vmsplice(p[1], &whole, 1, 0));
    say("vmsplice into the full pipe, NONBLOCK", vmsplice(p[1], &whole, 1, SPLICE_F_NONBLOCK));
    say("drain", read(p[0], page, sizeof page));
    close(p[1]);
    say("vmsplice out at EOF", vmsplice(p[0], out, 2, 0));
    close(p[0]);
    CHECK(pipe(p) == 0);
    close(p[0]);
    say("vmsplice without readers", vmsplice(p[1], iov, 1, 0));
    printf("SIGPIPEs so far: %d\n", (int)sigpipes);
    close(p[1]);
}

/* A splice out of an empty pipe waits for the writer; one into a full pipe waits for the
 * reader. */
static void blocking(void) {
    int p[2];
    CHECK(pipe(p) == 0);
    int out = open(out_name, O_RDWR | O_TRUNC);
    CHECK(out >= 0);
    pid_t c = fork();
    if (c == 0) {
        usleep(50000);
        write(p[1], "late", 4);
        _exit(0);
    }
    say("splice waits for the writer", splice(p[0], NULL, out, NULL, 100, 0));
    waitpid(c, NULL, 0);
    CHECK(fcntl(p[1], F_SETPIPE_SZ, 4096) == 4096);
    static char page[4096];
    CHECK(write(p[1], page, sizeof page) == sizeof page);
    c = fork();
    if (c == 0) {
        usleep(50000);
        read(p[0], page, sizeof page);
        _exit(0);
    }
    struct iovec v = {"x", 1};
    say("vmsplice waits for room", vmsplice(p[1], &v, 1, 0));
    waitpid(c, NULL, 0);
    close(p[0]);
    close(p[1]);
    close(out);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    signal(SIGPIPE, on_sigpipe);
    const char *prefix = argc > 1 ? argv[1] : "/tmp/splice";
    snprintf(in_name, sizeof in_name, "%s.in", prefix);
    snprintf(out_name, sizeof out_name, "%s.out", prefix);
    file_pipe_file();
    pipe_to_pipe_and_tee();
    file_errors();
    vmsplice_both_ways();
    blocking();
    unlink(in_name);
    unlink(out_name);
    return 0;
}
