// Directories that move or go while held: an open directory fd and the current directory
// follow a rename of the directory (or of its parent): paths relative to them, getcwd and
// /proc/self/fd show where it is now. A removed current directory: getcwd is ENOENT and
// nothing can be made in it, even once a new directory has its old name. argv[1]: the
// directory to work in (a scratch directory, or /dev/shm: a tmpfs).
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

static char top[256];

// `p` with the working directory's own prefix taken off (or the whole path if not under it).
static const char *shown(const char *p) {
    size_t n = strlen(top);
    return strncmp(p, top, n) == 0 ? p + n : p;
}

static void fd_link(int fd) {
    char pf[64], buf[512];
    snprintf(pf, sizeof pf, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(pf, buf, sizeof buf - 1);
    CHECK(n > 0);
    buf[n] = 0;
    printf("fd %d -> %s\n", fd, shown(buf));
}

static void cwd(void) {
    char buf[512];
    if (getcwd(buf, sizeof buf))
        printf("cwd %s\n", shown(buf));
    else
        printf("cwd errno %d\n", errno);
}

static char *at(const char *name) {
    static char bufs[4][512];
    static int i;
    char *b = bufs[i++ % 4];
    snprintf(b, 512, "%s/%s", top, name);
    return b;
}

int main(int argc, char **argv) {
    CHECK(argc > 1);
    snprintf(top, sizeof top, "%s/moved.%d", argv[1], getpid());
    CHECK(mkdir(top, 0755) == 0);
    char home[512];
    CHECK(getcwd(home, sizeof home) != NULL);
    struct stat st;

    // An open directory and the current directory, then the parent renamed.
    CHECK(mkdir(at("a"), 0755) == 0 && mkdir(at("a/b"), 0755) == 0);
    int fd = open(at("a/b"), O_RDONLY | O_DIRECTORY);
    CHECK(fd >= 0);
    CHECK(chdir(at("a/b")) == 0);
    CHECK(rename(at("a"), at("c")) == 0);
    fd_link(fd);
    cwd();
    int f = openat(fd, "f", O_WRONLY | O_CREAT, 0644);
    CHECK(f >= 0);
    close(f);
    CHECK(stat(at("c/b/f"), &st) == 0);
    f = open("g", O_WRONLY | O_CREAT, 0644);
    CHECK(f >= 0);
    close(f);
    CHECK(stat(at("c/b/g"), &st) == 0);
    CHECK(stat("../b/f", &st) == 0);
    // The directory itself renamed; fchdir to the fd follows too.
    CHECK(rename(at("c/b"), at("d")) == 0);
    CHECK(chdir(home) == 0);
    CHECK(fchdir(fd) == 0);
    cwd();
    fd_link(fd);
    CHECK(fstatat(fd, "g", &st, 0) == 0);
    printf("a gone %d\n", stat(at("a"), &st) == -1 && errno == ENOENT);

    // A removed current directory and directory fd.
    CHECK(mkdir(at("r"), 0755) == 0);
    int rfd = open(at("r"), O_RDONLY | O_DIRECTORY);
    CHECK(rfd >= 0);
    CHECK(chdir(at("r")) == 0);
    CHECK(rmdir(at("r")) == 0);
    cwd();
    fd_link(rfd);
    printf("create in removed %d errno %d\n", open("x", O_WRONLY | O_CREAT, 0644), errno);
    CHECK(mkdir(at("r"), 0755) == 0);
    printf("create after remade %d errno %d\n", open("x", O_WRONLY | O_CREAT, 0644), errno);
    printf("openat removed %d errno %d\n", openat(rfd, "y", O_WRONLY | O_CREAT, 0644), errno);
    CHECK(stat(at("r/x"), &st) == -1 && errno == ENOENT);
    CHECK(stat(at("r/y"), &st) == -1 && errno == ENOENT);

    // Tidy up (natively the directory is real).
    CHECK(chdir(home) == 0);
    CHECK(unlink(at("d/f")) == 0 && unlink(at("d/g")) == 0 && rmdir(at("d")) == 0);
    CHECK(rmdir(at("c")) == 0 && rmdir(at("r")) == 0 && rmdir(top) == 0);
    printf("ok\n");
    return 0;
}
