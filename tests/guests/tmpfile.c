// O_TMPFILE and linkat: an unnamed file written, then given names with AT_EMPTY_PATH and
// through /proc/self/fd (both links of one inode), O_EXCL ones that can't be named, a
// second name for an already-named one, and the errors. argv[1]: the directory (a
// scratch directory on the host's disk, or /dev/shm: a tmpfs).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHECK(c)                                                                  \
    do {                                                                          \
        if (!(c)) {                                                               \
            printf("FAIL %s:%d: %s (errno %d)\n", __FILE__, __LINE__, #c, errno); \
            exit(1);                                                              \
        }                                                                         \
    } while (0)

int main(int argc, char **argv) {
    CHECK(argc > 1);
    char dir[256], a[300], b[300], c[300], pf[64];
    snprintf(dir, sizeof dir, "%s/tmpf.%d", argv[1], getpid());
    CHECK(mkdir(dir, 0755) == 0);
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    snprintf(c, sizeof c, "%s/c", dir);

    int fd = open(dir, O_TMPFILE | O_RDWR, 0640);
    CHECK(fd >= 0);
    CHECK(write(fd, "hello\n", 6) == 6);
    struct stat st;
    CHECK(fstat(fd, &st) == 0 && st.st_nlink == 0 && (st.st_mode & 0777) == 0640);
    CHECK(linkat(fd, "", AT_FDCWD, a, AT_EMPTY_PATH) == 0);
    CHECK(fstat(fd, &st) == 0 && st.st_nlink == 1);
    snprintf(pf, sizeof pf, "/proc/self/fd/%d", fd);
    CHECK(linkat(AT_FDCWD, pf, AT_FDCWD, b, AT_SYMLINK_FOLLOW) == 0);
    CHECK(stat(b, &st) == 0 && st.st_nlink == 2 && st.st_size == 6);
    char buf[16] = {0};
    int r = open(a, O_RDONLY);
    CHECK(r >= 0 && read(r, buf, sizeof buf) == 6 && strcmp(buf, "hello\n") == 0);
    CHECK(close(r) == 0);
    CHECK(linkat(fd, "", AT_FDCWD, a, AT_EMPTY_PATH) == -1 && errno == EEXIST);

    // O_EXCL: never named.
    int ex = open(dir, O_TMPFILE | O_RDWR | O_EXCL, 0600);
    CHECK(ex >= 0);
    CHECK(linkat(ex, "", AT_FDCWD, c, AT_EMPTY_PATH) == -1 && errno == ENOENT);
    CHECK(access(c, F_OK) == -1 && errno == ENOENT);

    // Attribute changes through the fd of a file with no name.
    int u = open(dir, O_TMPFILE | O_RDWR, 0600);
    CHECK(u >= 0);
    CHECK(fchmod(u, 0751) == 0);
    CHECK(fchown(u, -1, 100) == 0);
    struct timespec ts[2] = {{11, 0}, {22, 5}};
    CHECK(futimens(u, ts) == 0);
    CHECK(fstat(u, &st) == 0);
    printf("unnamed: mode %o gid %u mtime %ld.%ld\n", st.st_mode & 07777, st.st_gid,
           (long)st.st_mtime, st.st_mtim.tv_nsec);
    CHECK(close(u) == 0);

    // Bad uses.
    CHECK(open(dir, O_TMPFILE | O_RDONLY, 0600) == -1 && errno == EINVAL);
    CHECK(open(a, O_TMPFILE | O_RDWR, 0600) == -1 && errno == ENOTDIR);
    CHECK(linkat(fd, "", AT_FDCWD, c, 0) == -1 && errno == ENOENT);
    int dfd = open(dir, O_DIRECTORY | O_RDONLY);
    CHECK(dfd >= 0);
    CHECK(linkat(dfd, "", AT_FDCWD, c, AT_EMPTY_PATH) == -1 && errno == EPERM);

    CHECK(close(fd) == 0 && close(ex) == 0 && close(dfd) == 0);
    CHECK(unlink(a) == 0 && unlink(b) == 0 && rmdir(dir) == 0);
    printf("tmpfile ok\n");
    return 0;
}
