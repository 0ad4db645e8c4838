// tmpfs limits (run under `snare do --memory 64M`: /tmp has size=32M, nr_inodes=8192): creating
// files until ENOSPC uses up exactly the free inodes statfs reported, writing until ENOSPC
// uses up the free blocks, and statfs follows. argv[1] is the directory (/tmp or /dev/shm).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define CHECK(c)                                                                  \
    do {                                                                          \
        if (!(c)) {                                                               \
            printf("FAIL %s:%d: %s (errno %d)\n", __FILE__, __LINE__, #c, errno); \
            exit(1);                                                              \
        }                                                                         \
    } while (0)

#define MAX_FILES 200000

static struct statvfs fs(const char *dir) {
    struct statvfs v;
    CHECK(statvfs(dir, &v) == 0);
    return v;
}

int main(int argc, char **argv) {
    const char *mnt = argc > 1 ? argv[1] : "/tmp";
    char dir[256], path[512];
    snprintf(dir, sizeof dir, "%s/lim.%d", mnt, getpid());
    struct statvfs v0 = fs(mnt);
    printf("%s: bsize %lu blocks %lu bfree %lu files %lu ffree %lu\n", mnt, v0.f_bsize,
           (unsigned long)v0.f_blocks, (unsigned long)v0.f_bfree, (unsigned long)v0.f_files,
           (unsigned long)v0.f_ffree);
    CHECK(v0.f_files > 0 && v0.f_ffree <= v0.f_files && v0.f_bfree <= v0.f_blocks);
    CHECK(v0.f_ffree < MAX_FILES);
    CHECK(mkdir(dir, 0755) == 0);
    CHECK(fs(mnt).f_ffree == v0.f_ffree - 1);

    // Inodes.
    long n = 0;
    for (;; n++) {
        CHECK(n < MAX_FILES);
        snprintf(path, sizeof path, "%s/f%ld", dir, n);
        int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
        if (fd < 0) {
            CHECK(errno == ENOSPC);
            break;
        }
        close(fd);
    }
    struct statvfs v1 = fs(mnt);
    printf("files: %ld created, then ENOSPC; ffree %lu\n", n, (unsigned long)v1.f_ffree);
    CHECK(v1.f_ffree == 0);
    CHECK(n == (long)v0.f_ffree - 1);
    CHECK(mkdir(path, 0755) == -1 && errno == ENOSPC);
    CHECK(symlink("x", path) == -1 && errno == ENOSPC);
    for (long i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/f%ld", dir, i);
        CHECK(unlink(path) == 0);
    }
    CHECK(fs(mnt).f_ffree == v0.f_ffree - 1);

    // Bytes.
    snprintf(path, sizeof path, "%s/big", dir);
    int fd = open(path, O_CREAT | O_WRONLY, 0644);
    CHECK(fd >= 0);
    static char chunk[1 << 20];
    memset(chunk, 'x', sizeof chunk);
    unsigned long long total = 0;
    for (;;) {
        ssize_t w = write(fd, chunk, sizeof chunk);
        if (w < 0) {
            CHECK(errno == ENOSPC);
            break;
        }
        total += w;
        CHECK(total <= (unsigned long long)v0.f_blocks * v0.f_bsize);
    }
    struct statvfs v2 = fs(mnt);
    printf("bytes: %llu written, then ENOSPC; bfree %lu\n", total, (unsigned long)v2.f_bfree);
    CHECK(total + (unsigned long long)v2.f_bfree * v2.f_bsize + (1 << 20) >=
          (unsigned long long)v0.f_bfree * v0.f_bsize);
    CHECK(v2.f_bfree * v2.f_bsize < (1 << 20));
    CHECK(close(fd) == 0 && unlink(path) == 0);
    CHECK(fs(mnt).f_bfree == v0.f_bfree);
    CHECK(rmdir(dir) == 0);
    printf("ok\n");
    return 0;
}
