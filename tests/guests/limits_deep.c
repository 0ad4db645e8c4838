// Deep paths: makes DEPTH (argv[1], default 600) nested directories under DIR (argv[3],
// default /tmp: a tmpfs mount; /var/tmp is the overlay root's upper layer), then stats the
// deepest one by its full path REPS (argv[2], default 1000) times, and walks back up with
// "..". Prints the time the stats took (informative; the test checks results only).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHECK(c)                                                                  \
    do {                                                                          \
        if (!(c)) {                                                               \
            printf("FAIL %s:%d: %s (errno %d)\n", __FILE__, __LINE__, #c, errno); \
            exit(1);                                                              \
        }                                                                         \
    } while (0)

int main(int argc, char **argv) {
    int depth = argc > 1 ? atoi(argv[1]) : 600;
    int reps = argc > 2 ? atoi(argv[2]) : 1000;
    static char path[8192];
    char base[64];
    snprintf(base, sizeof base, "%s/deep.%d", argc > 3 ? argv[3] : "/tmp", getpid());
    CHECK(mkdir(base, 0755) == 0);
    size_t n = strlen(base);
    memcpy(path, base, n + 1);
    for (int i = 0; i < depth; i++) {
        CHECK(n + 3 < sizeof path);
        memcpy(path + n, "/d", 3);
        n += 2;
        CHECK(mkdir(path, 0755) == 0);
    }
    struct stat st, top;
    CHECK(stat(base, &top) == 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < reps; i++)
        CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    // A file at the bottom, and back to the top through "..".
    memcpy(path + n, "/f", 3);
    int fd = open(path, O_CREAT | O_WRONLY, 0644);
    CHECK(fd >= 0 && write(fd, "x", 1) == 1 && close(fd) == 0);
    path[n] = 0;
    CHECK(chdir(path) == 0);
    static char up[8192];
    size_t u = 0;
    for (int i = 0; i < depth; i++) {
        memcpy(up + u, "../", 4);
        u += 3;
    }
    struct stat back;
    // (The Sentry joins a relative path to the cwd first, so cwd plus "../"s must fit in
    // PATH_MAX: at most depth 600 here.)
    if (depth <= 600)
        CHECK(stat(up, &back) == 0 && back.st_ino == top.st_ino && back.st_dev == top.st_dev);
    CHECK(stat("f", &st) == 0 && st.st_size == 1);
    printf("depth %d: %d stats ok\n", depth, reps);
    fprintf(stderr, "stat at depth %d: %.3f ms each\n", depth, ms / reps);
    return 0;
}
