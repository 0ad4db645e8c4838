// The old calls programs still make: utime, utimes, futimesat (times as given, NULL for
// now, bad microseconds), and getdents with the old `struct linux_dirent` (names and types
// read back sorted). argv[1]: a scratch directory.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>
#include <utime.h>

#define CHECK(c)                                                                  \
    do {                                                                          \
        if (!(c)) {                                                               \
            printf("FAIL %s:%d: %s (errno %d)\n", __FILE__, __LINE__, #c, errno); \
            exit(1);                                                              \
        }                                                                         \
    } while (0)

struct old_dirent {
    unsigned long d_ino;
    unsigned long d_off;
    unsigned short d_reclen;
    char d_name[];
};

static int cmp(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }

int main(int argc, char **argv) {
    CHECK(argc > 1);
    char dir[256], f[300];
    snprintf(dir, sizeof dir, "%s/old.%d", argv[1], getpid());
    CHECK(mkdir(dir, 0755) == 0);
    snprintf(f, sizeof f, "%s/file", dir);
    int fd = open(f, O_CREAT | O_WRONLY, 0644);
    CHECK(fd >= 0 && close(fd) == 0);
    struct stat st;

    struct utimbuf ub = {.actime = 1000, .modtime = 2000};
    CHECK(utime(f, &ub) == 0);
    CHECK(stat(f, &st) == 0);
    printf("utime: %ld %ld\n", (long)st.st_atime, (long)st.st_mtime);
    struct timeval tv[2] = {{3000, 250000}, {4000, 999999}};
    CHECK(utimes(f, tv) == 0);
    CHECK(stat(f, &st) == 0);
    printf("utimes: %ld.%09ld %ld.%09ld\n", (long)st.st_atime, st.st_atim.tv_nsec,
           (long)st.st_mtime, st.st_mtim.tv_nsec);
    int dfd = open(dir, O_DIRECTORY | O_RDONLY);
    CHECK(dfd >= 0);
    tv[0].tv_sec = 5000;
    CHECK(syscall(SYS_futimesat, dfd, "file", tv) == 0);
    CHECK(stat(f, &st) == 0);
    printf("futimesat: %ld\n", (long)st.st_atime);
    tv[1].tv_usec = 1000000;
    CHECK(utimes(f, tv) == -1 && errno == EINVAL);
    CHECK(utime(f, NULL) == 0);
    CHECK(stat(f, &st) == 0 && st.st_mtime > 4000);
    CHECK(syscall(SYS_futimesat, dfd, "missing", NULL) == -1 && errno == ENOENT);
    CHECK(syscall(SYS_utime, f, 8) == -1 && errno == EFAULT);

    const char *names[] = {"a", "bb", "a-much-longer-name-than-the-others.txt", "d"};
    for (int i = 0; i < 3; i++) {
        char p[400];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        fd = open(p, O_CREAT | O_WRONLY, 0644);
        CHECK(fd >= 0 && close(fd) == 0);
    }
    char p[400];
    snprintf(p, sizeof p, "%s/d", dir);
    CHECK(mkdir(p, 0755) == 0);
    char buf[4096], *seen[16];
    int n = 0;
    for (;;) {
        long got = syscall(SYS_getdents, dfd, buf, sizeof buf);
        CHECK(got >= 0);
        if (got == 0)
            break;
        for (long at = 0; at < got;) {
            struct old_dirent *d = (struct old_dirent *)(buf + at);
            char type = buf[at + d->d_reclen - 1];
            CHECK(n < 16);
            seen[n] = malloc(300);
            snprintf(seen[n++], 300, "%s %d", d->d_name, type);
            at += d->d_reclen;
        }
    }
    qsort(seen, n, sizeof *seen, cmp);
    for (int i = 0; i < n; i++)
        printf("getdents: %s\n", seen[i]);
    CHECK(lseek(dfd, 0, SEEK_SET) == 0);
    CHECK(syscall(SYS_getdents, dfd, buf, 4) == -1 && errno == EINVAL);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    return 0;
}
