// Differential test: reading files, stat, lseek, pread, readv, getdents64, readlink, access.
// Usage: files FIXTURE_DIR   (the dir holds a.txt "hello\nworld\n", b.bin, sub/, link -> a.txt)
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static int failures;
#define CHECK(c) do { if (!(c)) { printf("FAIL %s:%d %s (errno %d)\n", __FILE__, __LINE__, #c, errno); failures++; } } while (0)

static int cmp(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    char p[4096];
    snprintf(p, sizeof p, "%s/a.txt", argv[1]);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    struct stat st;
    CHECK(fstat(fd, &st) == 0);
    printf("size %lld regular %d\n", (long long)st.st_size, S_ISREG(st.st_mode));
    char buf[64] = {0};
    CHECK(read(fd, buf, 5) == 5);
    printf("read '%s'\n", buf);
    CHECK(lseek(fd, 0, SEEK_CUR) == 5);
    CHECK(lseek(fd, -6, SEEK_END) == 6);
    memset(buf, 0, sizeof buf);
    CHECK(read(fd, buf, sizeof buf) == 6);
    printf("tail '%s'", buf);
    CHECK(read(fd, buf, sizeof buf) == 0);
    memset(buf, 0, sizeof buf);
    CHECK(pread(fd, buf, 4, 1) == 4);
    printf("pread '%s'\n", buf);
    char x[3] = {0}, y[4] = {0};
    struct iovec iov[2] = {{x, 2}, {y, 3}};
    CHECK(lseek(fd, 0, SEEK_SET) == 0);
    CHECK(readv(fd, iov, 2) == 5);
    printf("readv '%s' '%s'\n", x, y);
    int fd2 = dup(fd);
    CHECK(fd2 > fd);
    CHECK(fcntl(fd, F_GETFD) == FD_CLOEXEC);
    CHECK(fcntl(fd2, F_GETFD) == 0);
    int fd3 = fcntl(fd, F_DUPFD_CLOEXEC, 50);
    CHECK(fd3 == 50);
    CHECK(dup3(fd, 60, O_CLOEXEC) == 60);
    CHECK(close(fd2) == 0 && close(fd3) == 0 && close(60) == 0);
    CHECK(close(fd2) == -1 && errno == EBADF);
    CHECK(lseek(fd, -1, SEEK_SET) == -1 && errno == EINVAL);
    close(fd);

    // stat family
    CHECK(stat(argv[1], &st) == 0 && S_ISDIR(st.st_mode));
    snprintf(p, sizeof p, "%s/link", argv[1]);
    CHECK(lstat(p, &st) == 0 && S_ISLNK(st.st_mode));
    CHECK(stat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 12);
    char target[256] = {0};
    CHECK(readlink(p, target, sizeof target) == 5);
    printf("readlink '%s'\n", target);
    snprintf(p, sizeof p, "%s/missing", argv[1]);
    CHECK(stat(p, &st) == -1 && errno == ENOENT);
    CHECK(open(p, O_RDONLY) == -1 && errno == ENOENT);
    snprintf(p, sizeof p, "%s/a.txt/x", argv[1]);
    CHECK(open(p, O_RDONLY) == -1 && errno == ENOTDIR);
    CHECK(access(argv[1], R_OK | X_OK) == 0);
    snprintf(p, sizeof p, "%s/a.txt", argv[1]);
    CHECK(access(p, X_OK) == -1 && errno == EACCES);
    int dfd = open(argv[1], O_RDONLY | O_DIRECTORY);
    CHECK(dfd >= 0);
    CHECK(fstatat(dfd, "a.txt", &st, 0) == 0 && st.st_size == 12);
    int afd = openat(dfd, "sub/../a.txt", O_RDONLY);
    CHECK(afd >= 0);
    close(afd);
    CHECK(openat(dfd, "a.txt", O_RDONLY | O_DIRECTORY) == -1 && errno == ENOTDIR);

    // getdents64 through readdir, sorted
    DIR *d = fdopendir(dfd);
    CHECK(d != NULL);
    char *names[64];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 64) names[n++] = strdup(e->d_name);
    qsort(names, n, sizeof *names, cmp);
    printf("dir:");
    for (int i = 0; i < n; i++) printf(" %s", names[i]);
    printf("\n");
    closedir(d);

    // getcwd / chdir
    CHECK(chdir(argv[1]) == 0);
    char cwd[4096];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK(strcmp(cwd, argv[1]) == 0);
    CHECK(chdir("sub") == 0);
    fd = open("../a.txt", O_RDONLY);
    CHECK(fd >= 0);
    CHECK(getcwd(cwd, 2) == NULL && errno == ERANGE);
    CHECK(chdir("/nonexistent-dir") == -1 && errno == ENOENT);

    // /dev
    fd = open("/dev/null", O_RDWR);
    CHECK(fd >= 0 && write(fd, "x", 1) == 1 && read(fd, buf, 1) == 0);
    fd = open("/dev/zero", O_RDONLY);
    memset(buf, 1, 8);
    CHECK(fd >= 0 && read(fd, buf, 8) == 8 && buf[0] == 0 && buf[7] == 0);
    fd = open("/dev/urandom", O_RDONLY);
    CHECK(fd >= 0 && read(fd, buf, 16) == 16);
    CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode));

    printf("files: %d failures\n", failures);
    return failures != 0;
}
