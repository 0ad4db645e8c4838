// Path resolution, as a table: each path (plain, trailing slash, `.`/`..`, relative and
// absolute symlinks, a symlink loop, a dangling link, a mount crossed down and back up, a
// magic link through /proc/self/fd) under each way of opening it (O_RDONLY, O_NOFOLLOW,
// O_PATH|O_NOFOLLOW, O_DIRECTORY, fstatat with and without AT_SYMLINK_NOFOLLOW, openat2
// with each RESOLVE_* flag). One line per cell: what was reached, or the errno. Runs in a
// private mount namespace, in a tmpfs (natively too: needs root). argv[1]: a scratch
// directory.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CHECK(c)                                                                  \
    do {                                                                          \
        if (!(c)) {                                                               \
            printf("FAIL %s:%d: %s (errno %d)\n", __FILE__, __LINE__, #c, errno); \
            exit(1);                                                              \
        }                                                                         \
    } while (0)

static char base[256];
static int basefd;

static void put(const char *rel, const char *text) {
    int fd = openat(basefd, rel, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    CHECK(close(fd) == 0);
}

/// What an fd or stat reached: its type, and a regular file's first word.
static void what(char *out, size_t n, int fd, const struct stat *st) {
    char t = S_ISDIR(st->st_mode) ? 'd' : S_ISREG(st->st_mode) ? 'f' : S_ISLNK(st->st_mode) ? 'l' : '?';
    char body[32] = "";
    if (fd >= 0 && S_ISREG(st->st_mode)) {
        ssize_t r = pread(fd, body, sizeof body - 1, 0);
        if (r > 0) {
            body[r] = 0;
            body[strcspn(body, "\n")] = 0;
        } else {
            strcpy(body, "(unread)");
        }
    }
    snprintf(out, n, "%c %s", t, body);
}

static void cell_open(const char *path, const char *how, int dirfd, int flags) {
    char res[64];
    int fd = openat(dirfd, path, flags);
    if (fd < 0) {
        snprintf(res, sizeof res, "%s", strerror(errno));
    } else {
        struct stat st;
        CHECK(fstat(fd, &st) == 0);
        what(res, sizeof res, flags & O_PATH ? -1 : fd, &st);
        close(fd);
    }
    printf("%-22s %-14s %s\n", path, how, res);
}

static void cell_stat(const char *path, const char *how, int flags) {
    char res[64];
    struct stat st;
    if (fstatat(basefd, path, &st, flags) < 0)
        snprintf(res, sizeof res, "%s", strerror(errno));
    else
        what(res, sizeof res, -1, &st);
    printf("%-22s %-14s %s\n", path, how, res);
}

static void cell_openat2(const char *path, const char *how, unsigned long long resolve) {
    struct open_how oh = {.flags = O_RDONLY, .resolve = resolve};
    char res[64];
    int fd = syscall(SYS_openat2, basefd, path, &oh, sizeof oh);
    if (fd < 0) {
        snprintf(res, sizeof res, "%s", strerror(errno));
    } else {
        struct stat st;
        CHECK(fstat(fd, &st) == 0);
        what(res, sizeof res, fd, &st);
        close(fd);
    }
    printf("%-22s %-14s %s\n", path, how, res);
}

int main(int argc, char **argv) {
    CHECK(argc > 1);
    snprintf(base, sizeof base, "%s/res.%d", argv[1], getpid());
    CHECK(unshare(CLONE_NEWNS) == 0);
    CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
    CHECK(mkdir(base, 0755) == 0);
    // The table lives in a tmpfs of its own (what RESOLVE_NO_XDEV sees doesn't depend on
    // the host's mounts), with a second tmpfs inside it.
    CHECK(mount("tmpfs", base, "tmpfs", 0, "size=1m") == 0);
    basefd = open(base, O_DIRECTORY | O_RDONLY);
    CHECK(basefd >= 0);
    CHECK(dup2(basefd, 100) == 100);
    CHECK(mkdirat(basefd, "dir", 0755) == 0);
    CHECK(mkdirat(basefd, "dir/sub", 0755) == 0);
    CHECK(mkdirat(basefd, "mnt", 0755) == 0);
    put("dir/file", "file\n");
    put("mnt/hidden", "hidden\n");
    char abs_dir[300], abs_file[300];
    snprintf(abs_dir, sizeof abs_dir, "%s/dir", base);
    snprintf(abs_file, sizeof abs_file, "%s/dir/file", base);
    CHECK(symlinkat(abs_dir, basefd, "lnk_abs") == 0);
    CHECK(symlinkat("dir", basefd, "lnk_rel") == 0);
    CHECK(symlinkat("dir/file", basefd, "lnk_file") == 0);
    CHECK(symlinkat("dir/sub/..", basefd, "lnk_dot") == 0);
    CHECK(symlinkat("lnk_loop", basefd, "lnk_loop") == 0);
    CHECK(symlinkat("nothing", basefd, "lnk_dangling") == 0);
    CHECK(symlinkat("lnk_rel", basefd, "lnk_chain") == 0);
    CHECK(symlinkat("/proc/self/fd/100", basefd, "lnk_pfd") == 0);
    CHECK(symlinkat("mnt", basefd, "lnk_mnt") == 0);
    char mnt[300];
    snprintf(mnt, sizeof mnt, "%s/mnt", base);
    CHECK(mount("tmpfs", mnt, "tmpfs", 0, "size=1m") == 0);
    put("mnt/inner", "inner\n");
    CHECK(symlinkat("..", basefd, "mnt/up") == 0);
    CHECK(symlinkat(abs_file, basefd, "mnt/abs") == 0);

    const char *paths[] = {
        "dir", "dir/", "dir/file", "dir/file/", "dir/./sub/..", "dir/sub/../file",
        "dir/nothing", "dir/nothing/", "nothing/file", "lnk_abs", "lnk_abs/", "lnk_abs/file",
        "lnk_rel/file", "lnk_chain/file", "lnk_file", "lnk_file/", "lnk_dot/file",
        "lnk_loop", "lnk_loop/", "lnk_dangling", "mnt", "mnt/inner", "mnt/hidden",
        "mnt/up", "mnt/up/dir/file", "mnt/..", "mnt/../dir", "lnk_mnt/inner", "mnt/abs",
        "lnk_pfd", "lnk_pfd/dir/file", "../nothing", "/proc/self/fd/100/dir/file",
    };
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        const char *p = paths[i];
        cell_open(p, "rdonly", basefd, O_RDONLY);
        cell_open(p, "nofollow", basefd, O_RDONLY | O_NOFOLLOW);
        cell_open(p, "path|nofollow", basefd, O_PATH | O_NOFOLLOW);
        cell_open(p, "directory", basefd, O_RDONLY | O_DIRECTORY);
        cell_stat(p, "stat", 0);
        cell_stat(p, "lstat", AT_SYMLINK_NOFOLLOW);
        cell_openat2(p, "beneath", RESOLVE_BENEATH);
        cell_openat2(p, "in_root", RESOLVE_IN_ROOT);
        cell_openat2(p, "no_xdev", RESOLVE_NO_XDEV);
        cell_openat2(p, "no_symlinks", RESOLVE_NO_SYMLINKS);
        cell_openat2(p, "no_magiclinks", RESOLVE_NO_MAGICLINKS);
    }
    CHECK(umount2(mnt, 0) == 0);
    CHECK(close(basefd) == 0 && close(100) == 0);
    CHECK(umount2(base, 0) == 0);
    CHECK(rmdir(base) == 0);
    return 0;
}
