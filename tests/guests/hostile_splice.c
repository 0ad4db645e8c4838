/* Hostile splice, tee, vmsplice and memfd arguments (issue 12: every word a guest writes is
 * hostile): garbage offset and iovec pointers, iovecs with garbage bases or huge lengths,
 * huge and zero lengths, unknown flag and seal bits, garbage memfd names. Each gets Linux's
 * errno (natively the same), the pipe keeps its data where Linux keeps it, and the Sentry
 * stays up. Prints what it sees. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define CHECK(c)                                                                  \
    do {                                                                          \
        if (!(c)) {                                                               \
            printf("FAIL %s:%d: %s (errno %d)\n", __FILE__, __LINE__, #c, errno); \
            exit(1);                                                              \
        }                                                                         \
    } while (0)

static void say(const char *label, long r) {
    if (r < 0)
        printf("%s: %s\n", label, strerrorname_np(errno));
    else
        printf("%s: %ld\n", label, r);
}

#define WILD ((void *)0x7000deadbeef)

static int queued(int fd) {
    int n = -1;
    CHECK(ioctl(fd, FIONREAD, &n) == 0);
    return n;
}

static void drain(int fd) {
    char buf[65536];
    int n = queued(fd);
    CHECK(n == 0 || read(fd, buf, n) == n);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    signal(SIGPIPE, SIG_IGN);
    int f = syscall(SYS_memfd_create, "hostile", MFD_ALLOW_SEALING);
    CHECK(f >= 0 && write(f, "0123456789", 10) == 10);
    int p[2], q[2];
    CHECK(pipe(p) == 0 && pipe(q) == 0);

    /* Offsets. */
    say("splice, wild off_in", splice(f, WILD, p[1], NULL, 10, 0));
    say("splice, NULL-page off_in", splice(f, (loff_t *)8, p[1], NULL, 10, 0));
    loff_t off = LLONG_MAX;
    say("splice, LLONG_MAX off_in", splice(f, &off, p[1], NULL, 10, 0));
    off = LLONG_MIN;
    say("splice, LLONG_MIN off_in", splice(f, &off, p[1], NULL, 10, 0));
    say("splice, wild off_in on a pipe", splice(p[0], WILD, f, NULL, 10, 0));
    CHECK(write(p[1], "abc", 3) == 3);
    say("splice, wild off_out", splice(p[0], NULL, f, WILD, 10, 0));
    /* The offset is written back after the data moved: EFAULT, the data moved. */
    loff_t *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(ro != MAP_FAILED);
    say("splice, read-only off_out", splice(p[0], NULL, f, ro, 10, 0));
    printf("left in the pipe: %d\n", queued(p[0]));

    /* Lengths. */
    say("splice, len 0, everything wild", splice(-5, WILD, -7, WILD, 0, ~0u));
    say("tee, len 0, bad fds", tee(-5, -7, 0, 0));
    say("splice, SIZE_MAX from a file", splice(f, NULL, p[1], NULL, (size_t)-1, 0));
    off = 0;
    say("splice, SSIZE_MAX at offset 0", splice(f, &off, p[1], NULL, SSIZE_MAX, 0));
    say("splice, SSIZE_MAX at offset 1", splice(f, &(loff_t){1}, p[1], NULL, SSIZE_MAX, 0));
    say("tee, SIZE_MAX", tee(p[0], q[1], (size_t)-1, 0));
    say("splice pipe -> pipe, SIZE_MAX", splice(p[0], NULL, q[1], NULL, (size_t)-1, 0));
    say("splice pipe -> file, SSIZE_MAX", splice(q[0], NULL, f, &(loff_t){0}, SSIZE_MAX, 0));
    drain(q[0]);

    /* Flags. */
    say("splice, all flag bits", splice(p[0], NULL, q[1], NULL, 1, ~0u));
    say("tee, all flag bits", tee(p[0], q[1], 1, ~0u));
    struct iovec one = {"x", 1};
    say("vmsplice, all flag bits", vmsplice(p[1], &one, 1, ~0u));

    /* iovecs into a pipe. */
    say("vmsplice, wild iovec array", vmsplice(p[1], WILD, 1, 0));
    say("vmsplice, NULL iovec array", vmsplice(p[1], NULL, 2, 0));
    struct iovec wild = {WILD, 10};
    say("vmsplice, wild base", vmsplice(p[1], &wild, 1, 0));
    struct iovec half[2] = {{"hello", 5}, {WILD, 5}};
    say("vmsplice, good then wild", vmsplice(p[1], half, 2, 0));
    struct iovec huge = {"x", (size_t)SSIZE_MAX + 1};
    say("vmsplice, iov_len past SSIZE_MAX", vmsplice(p[1], &huge, 1, 0));
    say("vmsplice, ULONG_MAX iovecs", vmsplice(p[1], &one, (unsigned long)-1, 0));
    char *two = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(two != MAP_FAILED && munmap(two + 4096, 4096) == 0);
    struct iovec edge = {two, SSIZE_MAX};
    drain(p[0]);
    say("vmsplice, SSIZE_MAX from one page", vmsplice(p[1], &edge, 1, 0));
    drain(p[0]);

    /* iovecs out of a pipe: what a bad iovec can't take stays. */
    CHECK(write(p[1], "12345", 5) == 5);
    say("vmsplice out, wild base", vmsplice(p[0], &wild, 1, 0));
    printf("left in the pipe: %d\n", queued(p[0]));
    char two_bytes[2];
    struct iovec mixed[2] = {{two_bytes, 2}, {WILD, 10}};
    say("vmsplice out, good then wild", vmsplice(p[0], mixed, 2, 0));
    printf("left in the pipe: %d\n", queued(p[0]));
    struct iovec ro_iov = {ro, 10};
    say("vmsplice out, read-only memory", vmsplice(p[0], &ro_iov, 1, 0));
    drain(p[0]);

    /* memfd names and seals. */
    say("memfd, wild name", syscall(SYS_memfd_create, WILD, 0));
    char *page = two + 4096 - 3;
    memcpy(page, "abc", 3);
    say("memfd, name running into an unmapped page", syscall(SYS_memfd_create, page, 0));
    say("memfd, all flag bits", syscall(SYS_memfd_create, "x", ~0u));
    say("add seals, unknown bit", fcntl(f, F_ADD_SEALS, 0x40));
    say("add seals, all bits", fcntl(f, F_ADD_SEALS, ~0u));
    say("add seals, bit 31", fcntl(f, F_ADD_SEALS, 1u << 31));
    say("add seals, GROW in the low word of a long", fcntl(f, F_ADD_SEALS, 0x100000000L | F_SEAL_GROW));
    say("seals", fcntl(f, F_GET_SEALS));

    /* Everything still works. */
    off = 0;
    say("splice after all that", splice(f, &off, p[1], NULL, 4, 0));
    char buf[8] = {0};
    CHECK(read(p[0], buf, 4) == 4);
    printf("read %s\n", buf);
    return 0;
}
