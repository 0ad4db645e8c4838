// Files as CPython's test suite meets them (in the overlay, a tmpfs, a volume): names are
// opaque bytes (a directory whose name is not UTF-8, reached through an fd: *at calls,
// fchdir, /proc/self/fd), O_NONBLOCK set and cleared by F_SETFL on a read-only file of the
// root, statfs of the root reporting space in use, sparse files past 4 GiB (sizes,
// SEEK_DATA/SEEK_HOLE, mmap at a large offset). argv[1]: a scratch directory; argv[2]
// "private-maps" skips writing through a MAP_SHARED mapping (a volume's are private copies
// under snare, a known gap).
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define CHECK(c)                                                                  \
    do {                                                                          \
        if (!(c)) {                                                               \
            printf("FAIL %s:%d: %s (errno %d)\n", __FILE__, __LINE__, #c, errno); \
            exit(1);                                                              \
        }                                                                         \
    } while (0)

static void names(const char *base) {
    // '@test-' 0xc3 0xa0 (à) 0xff (not UTF-8).
    char dir[PATH_MAX], path[PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s/n-\xc3\xa0\xff.%d", base, getpid());
    CHECK(mkdir(dir, 0755) == 0);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    CHECK(dfd >= 0);
    const char *kids[] = {"plain", "a\xc3\xa0", "b\xff", "\xfe\xfd"};
    for (int i = 0; i < 4; i++) {
        int fd = openat(dfd, kids[i], O_CREAT | O_EXCL | O_WRONLY, 0644);
        CHECK(fd >= 0);
        CHECK(write(fd, "x", 1) == 1);
        close(fd);
        struct stat st;
        CHECK(fstatat(dfd, kids[i], &st, 0) == 0 && st.st_size == 1);
        snprintf(path, sizeof path, "%s/%s", dir, kids[i]);
        CHECK(stat(path, &st) == 0 && st.st_size == 1);
    }
    // The listing gives the bytes back as they were made.
    DIR *d = fdopendir(dup(dfd));
    CHECK(d != NULL);
    int seen = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        for (int i = 0; i < 4; i++) {
            if (strcmp(e->d_name, kids[i]) == 0) {
                seen |= 1 << i;
            }
        }
    }
    closedir(d);
    printf("listed %x\n", seen);
    // The fd's own path, through /proc, is the bytes of the name.
    char link[64], got[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", dfd);
    ssize_t n = readlink(link, got, sizeof got - 1);
    CHECK(n > 0);
    got[n] = 0;
    printf("readlink same: %d\n", strcmp(got, dir) == 0);
    // fchdir there and relative names work; getcwd gives the bytes.
    int home = open(".", O_RDONLY | O_DIRECTORY);
    CHECK(home >= 0);
    CHECK(fchdir(dfd) == 0);
    CHECK(getcwd(got, sizeof got) != NULL);
    printf("getcwd same: %d\n", strcmp(got, dir) == 0);
    CHECK(access("b\xff", F_OK) == 0);
    CHECK(fchdir(home) == 0);
    close(home);
    CHECK(renameat(dfd, "plain", dfd, "pl\xff") == 0);
    CHECK(faccessat(dfd, "pl\xff", F_OK, 0) == 0);
    CHECK(unlinkat(dfd, "pl\xff", 0) == 0);
    for (int i = 1; i < 4; i++) {
        CHECK(unlinkat(dfd, kids[i], 0) == 0);
    }
    CHECK(mkdirat(dfd, "sub\xff", 0700) == 0);
    CHECK(unlinkat(dfd, "sub\xff", AT_REMOVEDIR) == 0);
    close(dfd);
    CHECK(rmdir(dir) == 0);
    printf("names: ok\n");
}

static void blocking(void) {
    // A read-only file of the root (the lower layer under snare).
    int fd = open("/etc/passwd", O_RDONLY);
    CHECK(fd >= 0);
    int fl = fcntl(fd, F_GETFL);
    printf("nonblock at open: %d\n", !!(fl & O_NONBLOCK));
    CHECK(fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0);
    printf("nonblock set: %d\n", !!(fcntl(fd, F_GETFL) & O_NONBLOCK));
    char c;
    CHECK(read(fd, &c, 1) == 1);
    CHECK(fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == 0);
    printf("nonblock cleared: %d\n", !!(fcntl(fd, F_GETFL) & O_NONBLOCK));
    close(fd);
}

static void space(void) {
    struct statvfs v;
    CHECK(statvfs("/etc", &v) == 0);
    printf("root: blocks > free %d, avail <= free %d, files > ffree %d\n",
           v.f_blocks > v.f_bfree, v.f_bavail <= v.f_bfree, v.f_files > v.f_ffree);
    struct statfs f;
    CHECK(statfs("/", &f) == 0);
    printf("/: used %d, namelen %ld\n", f.f_blocks > f.f_bfree, (long)f.f_namelen);
}

static void sparse(const char *base, int shared_writes) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/sparse.%d", base, getpid());
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    CHECK(fd >= 0);
    const off_t far = 0x14FFFFFFFLL, off = 0x140000000LL;
    CHECK(pwrite(fd, " ", 1, far) == 1);
    CHECK(pwrite(fd, "head", 4, 0) == 4);
    struct stat st;
    CHECK(fstat(fd, &st) == 0);
    printf("size %llx, few blocks %d\n", (unsigned long long)st.st_size, st.st_blocks < 1024);
    off_t d = lseek(fd, 4096, SEEK_DATA);
    printf("data after the head at %llx\n", (unsigned long long)(d & ~0xfffLL));
    CHECK(lseek(fd, 0, SEEK_HOLE) >= 4);
    errno = 0;
    long long past = lseek(fd, far + 1, SEEK_DATA);
    printf("past the end: %lld errno %d\n", past, errno);
    char *m = mmap(NULL, 0x10000000, PROT_READ, MAP_SHARED, fd, off);
    CHECK(m != MAP_FAILED);
    printf("m[last] %d m[0] %d\n", m[0xFFFFFFF], m[0]);
    CHECK(munmap(m, 0x10000000) == 0);
    // Around 4 GiB: a mapping that crosses it.
    CHECK(pwrite(fd, "4G", 2, 0x100000000LL) == 2);
    m = mmap(NULL, 0x2000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0xFFFFF000LL);
    CHECK(m != MAP_FAILED);
    printf("across 4G: %c%c\n", m[0x1000], m[0x1001]);
    m[0xfff] = 'z';
    CHECK(munmap(m, 0x2000) == 0);
    if (shared_writes) {
        char b = 0;
        CHECK(pread(fd, &b, 1, 0xFFFFFFFFLL) == 1);
        printf("written through the map: %c\n", b);
    }
    CHECK(ftruncate(fd, 0x180000000LL) == 0);
    CHECK(fstat(fd, &st) == 0);
    printf("truncated up to %llx\n", (unsigned long long)st.st_size);
    close(fd);
    CHECK(unlink(path) == 0);
}

int main(int argc, char **argv) {
    const char *base = argc > 1 ? argv[1] : "/tmp";
    setvbuf(stdout, NULL, _IONBF, 0);
    names(base);
    blocking();
    space();
    sparse(base, !(argc > 2 && strcmp(argv[2], "private-maps") == 0));
    return 0;
}
