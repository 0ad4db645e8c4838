// memfd data counts against the sandbox's memory (run under `snare do --memory 64M`): writing
// to a memfd stops with ENOSPC before the limit, the sandbox goes on, and closing the memfd
// gives the memory back (a second memfd takes 16 MiB again).
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CHECK(c)                                                                  \
    do {                                                                          \
        if (!(c)) {                                                               \
            printf("FAIL %s:%d: %s (errno %d)\n", __FILE__, __LINE__, #c, errno); \
            exit(1);                                                              \
        }                                                                         \
    } while (0)

#define MIB (1L << 20)

/* Writes 1 MiB chunks until `max` MiB or an error: the MiB written. */
static long fill(int fd, long max) {
    static char chunk[MIB];
    memset(chunk, 'm', sizeof chunk);
    long n = 0;
    while (n < max && write(fd, chunk, sizeof chunk) == (ssize_t)sizeof chunk)
        n++;
    return n;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int fd = memfd_create("big", 0);
    CHECK(fd >= 0);
    errno = 0;
    long n = fill(fd, 1024);
    int err = errno;
    printf("first memfd: %s, more than 16 MiB %d, less than 64 MiB %d\n", strerrorname_np(err),
           n > 16, n < 64);
    CHECK(close(fd) == 0);
    fd = memfd_create("again", MFD_CLOEXEC);
    CHECK(fd >= 0);
    printf("second memfd after the first is closed: %ld MiB\n", fill(fd, 16));
    return 0;
}
