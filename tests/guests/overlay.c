// Differential test: changing files that exist before the program starts (under snare: the
// host's files, seen through the overlay; the host must not change).
// Usage: overlay DIR   (DIR holds keep.txt "keep\n", a.txt "a\n", gone.txt, trunc.txt
// "0123456789", sub/inner.txt, link -> keep.txt)
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int failures;
#define CHECK(c) do { if (!(c)) { printf("FAIL %s:%d %s (errno %d)\n", __FILE__, __LINE__, #c, errno); failures++; } } while (0)

static char *at(const char *dir, const char *name) {
    static char bufs[4][4096];
    static int i;
    char *b = bufs[i++ % 4];
    snprintf(b, 4096, "%s/%s", dir, name);
    return b;
}

static void show(const char *path) {
    char buf[256] = {0};
    int fd = open(path, O_RDONLY);
    if (fd < 0) { printf("%s: errno %d\n", strrchr(path, '/') + 1, errno); return; }
    int n = read(fd, buf, sizeof buf - 1);
    close(fd);
    printf("%s: %d '%s'\n", strrchr(path, '/') + 1, n, buf);
}

// Prints a call's result and errno (errno read after the call).
static void report(const char *what, int r) { printf("%s %d errno %d\n", what, r, r < 0 ? errno : 0); }

static int cmp(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }

static void list(const char *path) {
    DIR *d = opendir(path);
    if (!d) { printf("list errno %d\n", errno); return; }
    char *names[64];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 64) {
        struct stat st;
        CHECK(fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0);
        // d_ino must agree with stat (except for "..", which may cross a mount).
        if (strcmp(e->d_name, "..") != 0) CHECK(e->d_ino == st.st_ino);
        char *s = malloc(300);
        snprintf(s, 300, "%s %d", e->d_name, e->d_type);
        names[n++] = s;
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp);
    printf("list %s:", strrchr(path, '/') + 1);
    for (int i = 0; i < n; i++) printf(" [%s]", names[i]);
    printf("\n");
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *d = argv[1];
    struct stat st, st2;

    // Append to an existing file: same inode before and after (copy-up keeps it).
    CHECK(stat(at(d, "keep.txt"), &st) == 0);
    int fd = open(at(d, "keep.txt"), O_WRONLY | O_APPEND);
    CHECK(fd >= 0);
    CHECK(write(fd, "more\n", 5) == 5);
    CHECK(fstat(fd, &st2) == 0);
    printf("append size %lld ino stable %d\n", (long long)st2.st_size, st.st_ino == st2.st_ino);
    close(fd);
    show(at(d, "keep.txt"));
    show(at(d, "link"));

    // O_TRUNC, truncate(2), ftruncate.
    fd = open(at(d, "trunc.txt"), O_RDWR | O_TRUNC);
    CHECK(fd >= 0);
    CHECK(write(fd, "xy", 2) == 2);
    CHECK(ftruncate(fd, 5) == 0);
    close(fd);
    CHECK(stat(at(d, "trunc.txt"), &st) == 0);
    printf("trunc size %lld\n", (long long)st.st_size);
    CHECK(truncate(at(d, "a.txt"), 1) == 0);
    show(at(d, "a.txt"));

    // Rename, unlink, create again.
    CHECK(rename(at(d, "a.txt"), at(d, "b.txt")) == 0);
    report("old gone", (errno = 0, stat(at(d, "a.txt"), &st)));
    show(at(d, "b.txt"));
    CHECK(unlink(at(d, "gone.txt")) == 0);
    report("unlinked", (errno = 0, open(at(d, "gone.txt"), O_RDONLY)));
    report("unlink again", (errno = 0, unlink(at(d, "gone.txt"))));
    fd = open(at(d, "gone.txt"), O_WRONLY | O_CREAT | O_EXCL, 0640);
    CHECK(fd >= 0);
    CHECK(write(fd, "back\n", 5) == 5);
    close(fd);
    show(at(d, "gone.txt"));
    CHECK(stat(at(d, "gone.txt"), &st) == 0);
    printf("recreated mode %o\n", st.st_mode & 07777);

    // Errors on existing names.
    report("excl", (errno = 0, open(at(d, "keep.txt"), O_WRONLY | O_CREAT | O_EXCL, 0644)));
    report("notdir", (errno = 0, open(at(d, "keep.txt/"), O_RDONLY)));
    report("odirectory", (errno = 0, open(at(d, "keep.txt"), O_RDONLY | O_DIRECTORY)));
    report("nofollow", (errno = 0, open(at(d, "link"), O_RDONLY | O_NOFOLLOW)));
    report("mkdir exists", (errno = 0, mkdir(at(d, "sub"), 0755)));

    // Directories: a non-empty one can't go; emptied, it can; made again, it is empty.
    report("rmdir full", (errno = 0, rmdir(at(d, "sub"))));
    CHECK(unlink(at(d, "sub/inner.txt")) == 0);
    list(at(d, "sub"));
    CHECK(rmdir(at(d, "sub")) == 0);
    CHECK(mkdir(at(d, "sub"), 0700) == 0);
    list(at(d, "sub"));
    CHECK(stat(at(d, "sub"), &st) == 0);
    printf("sub mode %o dir %d\n", st.st_mode & 07777, S_ISDIR(st.st_mode));
    CHECK(mkdir(at(d, "new"), 0755) == 0);
    fd = open(at(d, "new/f"), O_WRONLY | O_CREAT, 0600);
    CHECK(fd >= 0);
    close(fd);
    CHECK(rename(at(d, "new"), at(d, "new2")) == 0);
    list(at(d, "new2"));

    // Attributes of an existing file.
    CHECK(chmod(at(d, "b.txt"), 0600) == 0);
    struct timespec ts[2] = {{1000000000, 0}, {1234567890, 500}};
    CHECK(utimensat(AT_FDCWD, at(d, "b.txt"), ts, 0) == 0);
    CHECK(stat(at(d, "b.txt"), &st) == 0);
    printf("b mode %o mtime %lld.%ld\n", st.st_mode & 07777, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);

    // Links.
    CHECK(link(at(d, "keep.txt"), at(d, "hard.txt")) == 0);
    CHECK(stat(at(d, "keep.txt"), &st) == 0 && stat(at(d, "hard.txt"), &st2) == 0);
    printf("hard nlink %d same %d\n", (int)st.st_nlink, st.st_ino == st2.st_ino);
    CHECK(symlink("b.txt", at(d, "sl")) == 0);
    char buf[64] = {0};
    CHECK(readlink(at(d, "sl"), buf, sizeof buf) == 5);
    printf("symlink -> %s\n", buf);
    show(at(d, "sl"));
    CHECK(unlink(at(d, "link")) == 0);

    // Removals deep in directories only the host has, walked through afterwards.
    CHECK(unlink(at(d, "deep/a/x.txt")) == 0);
    list(at(d, "deep/a"));
    CHECK(stat(at(d, "deep/a/b/c.txt"), &st) == 0);
    report("removed deep", (errno = 0, stat(at(d, "deep/a/x.txt"), &st)));
    char cwd[4096];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK(chdir(at(d, "deep/a/b")) == 0);
    CHECK(stat("../../a/b/c.txt", &st) == 0);
    report("relative removed", (errno = 0, stat("../x.txt", &st)));
    CHECK(chdir(cwd) == 0);
    // A directory emptied and made again is empty, and moves (its old name stays gone).
    CHECK(unlink(at(d, "deep/a/b/c.txt")) == 0);
    CHECK(rmdir(at(d, "deep/a/b")) == 0);
    CHECK(mkdir(at(d, "deep/a/b"), 0755) == 0);
    list(at(d, "deep/a/b"));
    CHECK(rename(at(d, "deep/a/b"), at(d, "deep/a/b2")) == 0);
    report("moved away", (errno = 0, stat(at(d, "deep/a/b"), &st)));
    list(at(d, "deep/a"));
    list(at(d, "deep/a/b2"));
    // A new directory moved onto the name of a removed one shows only its own entries.
    CHECK(unlink(at(d, "other/y.txt")) == 0);
    CHECK(rmdir(at(d, "other")) == 0);
    CHECK(mkdir(at(d, "moved"), 0755) == 0);
    fd = open(at(d, "moved/m"), O_WRONLY | O_CREAT, 0600);
    CHECK(fd >= 0);
    close(fd);
    CHECK(rename(at(d, "moved"), at(d, "other")) == 0);
    list(at(d, "other"));
    report("other/y", (errno = 0, stat(at(d, "other/y.txt"), &st)));
    // A removed file's name made a directory: empty, and a file again after.
    CHECK(unlink(at(d, "deep/z")) == 0);
    CHECK(mkdir(at(d, "deep/z"), 0755) == 0);
    list(at(d, "deep/z"));
    CHECK(rmdir(at(d, "deep/z")) == 0);
    report("z gone", (errno = 0, stat(at(d, "deep/z"), &st)));

    list(d);
    printf("failures %d\n", failures);
    return failures != 0;
}
