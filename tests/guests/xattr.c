// Extended attributes as Linux keeps them: set/get/list/remove of user.* with XATTR_CREATE
// and XATTR_REPLACE, size-0 queries, ERANGE, ENODATA, names and values at their limits,
// symlinks (l*), FIFOs, open files (f*, O_PATH), renames and hard links, a file and a
// directory that existed before the run (under snare: the overlay's lower layer, copied up
// on change), trusted.* as root, the permission rules for a process that gave up root, and
// hostile arguments (bad pointers, huge sizes, attributes until ENOSPC).
//
// argv: `prep DIR` makes DIR/pre and DIR/predir with one attribute each; `show DIR` prints
// theirs; `DIR [volume]` runs the checks in a fresh directory below DIR, leaving pre and
// predir as it found them (`volume`: DIR is a --volume, whose host files show and take only
// user.* attributes, so trusted.* is not checked). `fill DIR` (under snare, DIR a small
// tmpfs) fills it with the largest attributes until ENOSPC, then frees them. Prints one line
// per check.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#define CHECK(c)                                                                  \
    do {                                                                          \
        if (!(c)) {                                                               \
            printf("FAIL %s:%d: %s (errno %d)\n", __FILE__, __LINE__, #c, errno); \
            exit(1);                                                              \
        }                                                                         \
    } while (0)

static char base[256];
static char top[256];
static int volume;

static const char *at(const char *rel) {
    static char bufs[8][512];
    static int n;
    char *b = bufs[n++ % 8];
    snprintf(b, 512, "%s/%s", base, rel);
    return b;
}

static const char *in_top(const char *rel) {
    static char bufs[8][512];
    static int n;
    char *b = bufs[n++ % 8];
    snprintf(b, 512, "%s/%s", top, rel);
    return b;
}

static void show(const char *what, long r) {
    printf("%-36s %s\n", what, r < 0 ? strerror(errno) : "ok");
}

/// A get's result: the value (printable here) or the error.
static void show_get(const char *what, long r, const char *buf) {
    if (r < 0)
        printf("%-36s %s\n", what, strerror(errno));
    else
        printf("%-36s %ld '%.*s'\n", what, r, (int)r, buf);
}

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/// The user.* and trusted.* names of a list, sorted (a host may add security.* ones, and
/// filesystems list in their own order).
static void show_list(const char *what, long r, const char *buf) {
    if (r < 0) {
        printf("%-36s %s\n", what, strerror(errno));
        return;
    }
    const char *names[256];
    int n = 0;
    for (const char *p = buf; p < buf + r && n < 256; p += strlen(p) + 1)
        if (!strncmp(p, "user.", 5) || !strncmp(p, "trusted.", 8))
            names[n++] = p;
    qsort(names, n, sizeof *names, cmp);
    printf("%-36s [", what);
    for (int i = 0; i < n; i++)
        printf("%s%s", i ? "," : "", names[i]);
    printf("]\n");
}

static void make(const char *path, int mode) {
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK(write(fd, "data\n", 5) == 5);
    CHECK(close(fd) == 0);
    CHECK(chmod(path, mode) == 0);
}

static char buf[70000];
// Through volatiles: the compiler would warn about what the kernel must refuse.
static volatile size_t huge = SIZE_MAX;
static char *volatile bad = (char *)1;

static void basics(void) {
    const char *f = at("f");
    make(f, 0644);
    show("set CREATE", setxattr(f, "user.a", "1", 1, XATTR_CREATE));
    show("set CREATE again", setxattr(f, "user.a", "1", 1, XATTR_CREATE));
    show("set REPLACE absent", setxattr(f, "user.b", "1", 1, XATTR_REPLACE));
    show("set REPLACE", setxattr(f, "user.a", "22", 2, XATTR_REPLACE));
    show("set both flags, present", setxattr(f, "user.a", "3", 1, XATTR_CREATE | XATTR_REPLACE));
    show("set both flags, absent", setxattr(f, "user.b", "3", 1, XATTR_CREATE | XATTR_REPLACE));
    show("set unknown flag", setxattr(f, "user.a", "3", 1, 4));
    show("size 0 query", getxattr(f, "user.a", buf, 0));
    printf("size 0 says %ld\n", (long)getxattr(f, "user.a", NULL, 0));
    show("too small", getxattr(f, "user.a", buf, 1));
    show_get("get", getxattr(f, "user.a", buf, 2), buf);
    show_get("get, huge size", getxattr(f, "user.a", buf, huge), buf);
    show("get absent", getxattr(f, "user.none", buf, sizeof buf));
    show("set empty value", setxattr(f, "user.e", NULL, 0, 0));
    show_get("get empty value", getxattr(f, "user.e", buf, sizeof buf), buf);

    char n255[300], n256[300];
    memset(n255, 'n', sizeof n255);
    memcpy(n255, "user.", 5);
    memcpy(n256, n255, sizeof n256);
    n255[255] = 0;
    n256[256] = 0;
    show("name of 255", setxattr(f, n255, "x", 1, 0));
    show_get("get name of 255", getxattr(f, n255, buf, sizeof buf), buf);
    show("remove name of 255", removexattr(f, n255));
    show("name of 256", setxattr(f, n256, "x", 1, 0));
    show("get name of 256", getxattr(f, n256, buf, sizeof buf));
    show("empty name", setxattr(f, "", "x", 1, 0));
    show("get empty name", getxattr(f, "", buf, sizeof buf));
    show("prefix alone", setxattr(f, "user.", "x", 1, 0));
    show("unknown prefix", setxattr(f, "foo.x", "x", 1, 0));
    show("get unknown prefix", getxattr(f, "foo.x", buf, sizeof buf));
    show("system.x", setxattr(f, "system.x", "x", 1, 0));
    show("value past 64 KiB", setxattr(f, "user.big", buf, 65537, 0));
    show("empty name, missing file", getxattr(at("missing"), "", buf, 10));
    show("missing file", getxattr(at("missing"), "user.a", buf, 10));
    show("empty path", getxattr("", "user.a", buf, 10));

    long n = listxattr(f, NULL, 0);
    long got = listxattr(f, buf, sizeof buf);
    printf("list size 0 matches %d\n", n == got);
    show_list("list", got, buf);
    show("list too small", listxattr(f, buf, got - 1));
    show("remove", removexattr(f, "user.a"));
    show("remove again", removexattr(f, "user.a"));
    show("get removed", getxattr(f, "user.a", buf, sizeof buf));
    show_list("list after remove", listxattr(f, buf, sizeof buf), buf);
}

static void kinds(void) {
    const char *f = at("f"), *l = at("l"), *p = at("p"), *d = at("d");
    CHECK(symlink("f", l) == 0);
    CHECK(mkfifo(p, 0644) == 0);
    CHECK(mkdir(d, 0755) == 0);
    show("lset on a symlink", lsetxattr(l, "user.x", "v", 1, 0));
    show("lget on a symlink", lgetxattr(l, "user.x", buf, sizeof buf));
    show("lremove on a symlink", lremovexattr(l, "user.x"));
    show_list("llist on a symlink", llistxattr(l, buf, sizeof buf), buf);
    show("set through a symlink", setxattr(l, "user.thru", "t", 1, 0));
    show_get("get on its target", getxattr(f, "user.thru", buf, sizeof buf), buf);
    show_list("list through a symlink", listxattr(l, buf, sizeof buf), buf);
    show("set on a FIFO", setxattr(p, "user.x", "v", 1, 0));
    show("get on a FIFO", getxattr(p, "user.x", buf, sizeof buf));
    show("set on a directory", setxattr(d, "user.d", "dir", 3, 0));
    show_get("get on a directory", getxattr(d, "user.d", buf, sizeof buf), buf);

    int rd = open(f, O_RDONLY);
    CHECK(rd >= 0);
    show("fset on a read-only fd", fsetxattr(rd, "user.fd", "fd", 2, 0));
    show_get("fget", fgetxattr(rd, "user.fd", buf, sizeof buf), buf);
    show_list("flist", flistxattr(rd, buf, sizeof buf), buf);
    show("fremove", fremovexattr(rd, "user.fd"));
    int op = open(f, O_PATH);
    CHECK(op >= 0);
    show("fget on O_PATH", fgetxattr(op, "user.thru", buf, sizeof buf));
    show("fset on O_PATH", fsetxattr(op, "user.x", "v", 1, 0));
    show("flist on O_PATH", flistxattr(op, buf, sizeof buf));
    show("fremove on O_PATH", fremovexattr(op, "user.thru"));
    char fdlink[64];
    snprintf(fdlink, sizeof fdlink, "/proc/self/fd/%d", op);
    show_get("get through /proc/self/fd", getxattr(fdlink, "user.thru", buf, sizeof buf), buf);
    show("fget on a bad fd", fgetxattr(999, "user.x", buf, sizeof buf));
    show("fget, bad fd, empty name", fgetxattr(999, "", buf, sizeof buf));
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    show("fget on a pipe", fgetxattr(pfd[0], "user.x", buf, sizeof buf));
    show("fset on a pipe", fsetxattr(pfd[0], "user.x", "v", 1, 0));
    show("flist on a pipe", flistxattr(pfd[0], buf, sizeof buf));
    CHECK(close(pfd[0]) == 0 && close(pfd[1]) == 0);
    CHECK(close(rd) == 0 && close(op) == 0);

    make(at("g"), 0644);
    show("set before rename", setxattr(at("g"), "user.r", "moved", 5, 0));
    CHECK(rename(at("g"), at("h")) == 0);
    show_get("get after rename", getxattr(at("h"), "user.r", buf, sizeof buf), buf);
    CHECK(link(at("h"), at("h2")) == 0);
    show_get("get through a hard link", getxattr(at("h2"), "user.r", buf, sizeof buf), buf);
    show("remove through it", removexattr(at("h2"), "user.r"));
    show("get on the other name", getxattr(at("h"), "user.r", buf, sizeof buf));
}

/// The file and directory `prep` made before the run: read, changed, and put back.
static void before_the_run(void) {
    char pre[512], moved[512], predir[512], inner[600];
    snprintf(pre, sizeof pre, "%s", in_top("pre"));
    snprintf(moved, sizeof moved, "%s", in_top("pre.moved"));
    snprintf(predir, sizeof predir, "%s", in_top("predir"));
    show_get("pre: get", getxattr(pre, "user.pre", buf, sizeof buf), buf);
    show_list("pre: list", listxattr(pre, buf, sizeof buf), buf);
    show("pre: remove absent", removexattr(pre, "user.absent"));
    show("pre: CREATE present", setxattr(pre, "user.pre", "x", 1, XATTR_CREATE));
    show("pre: set another", setxattr(pre, "user.added", "new", 3, 0));
    show_list("pre: list after set", listxattr(pre, buf, sizeof buf), buf);
    show_get("pre: get kept", getxattr(pre, "user.pre", buf, sizeof buf), buf);
    show("pre: remove it", removexattr(pre, "user.added"));
    CHECK(rename(pre, moved) == 0);
    show_get("pre: get after rename", getxattr(moved, "user.pre", buf, sizeof buf), buf);
    CHECK(rename(moved, pre) == 0);
    show_get("predir: get", getxattr(predir, "user.pd", buf, sizeof buf), buf);
    snprintf(inner, sizeof inner, "%s/inner", predir);
    make(inner, 0644);
    show_get("predir: get with a new file in it", getxattr(predir, "user.pd", buf, sizeof buf),
             buf);
    CHECK(unlink(inner) == 0);
}

static void trusted(void) {
    if (volume)
        return;
    const char *f = at("f");
    show("trusted: set", setxattr(f, "trusted.t", "t", 1, 0));
    show_get("trusted: get", getxattr(f, "trusted.t", buf, sizeof buf), buf);
    show_list("trusted: list", listxattr(f, buf, sizeof buf), buf);
    show("trusted: lset on a symlink", lsetxattr(at("l"), "trusted.l", "l", 1, 0));
    show_list("trusted: llist on a symlink", llistxattr(at("l"), buf, sizeof buf), buf);
    show("trusted: remove", removexattr(f, "trusted.t"));
}

static void as_user(void) {
    CHECK(setgroups(0, NULL) == 0);
    CHECK(setgid(1000) == 0);
    CHECK(setuid(1000) == 0);
    show("user: get 0600 root", getxattr(at("priv"), "user.p", buf, sizeof buf));
    show_list("user: list 0600 root", listxattr(at("priv"), buf, sizeof buf), buf);
    show("user: set 0600 root", setxattr(at("priv"), "user.x", "v", 1, 0));
    show_get("user: get 0644 root", getxattr(at("pub"), "user.p", buf, sizeof buf), buf);
    show("user: set 0644 root", setxattr(at("pub"), "user.x", "v", 1, 0));
    show("user: remove 0644 root", removexattr(at("pub"), "user.p"));
    show("user: set 0666 root", setxattr(at("open"), "user.x", "v", 1, 0));
    show("user: set own 0444", setxattr(at("mine"), "user.x", "v", 1, 0));
    show("user: set sticky dir", setxattr(at("sticky"), "user.x", "v", 1, 0));
    show("user: set own dir", setxattr(at("mydir"), "user.x", "v", 1, 0));
    if (!volume) {
        show("user: get trusted", getxattr(at("pub"), "trusted.t", buf, sizeof buf));
        show("user: set trusted", setxattr(at("mydir"), "trusted.x", "v", 1, 0));
        show_list("user: list hides trusted", listxattr(at("pub"), buf, sizeof buf), buf);
    }
    exit(0);
}

static void permissions(void) {
    if (geteuid() != 0) {
        printf("permissions: skipped (not root)\n");
        return;
    }
    make(at("priv"), 0600);
    make(at("pub"), 0644);
    make(at("open"), 0666);
    make(at("mine"), 0444);
    CHECK(chown(at("mine"), 1000, 1000) == 0);
    CHECK(mkdir(at("sticky"), 01777) == 0 && chmod(at("sticky"), 01777) == 0);
    CHECK(mkdir(at("mydir"), 0755) == 0 && chown(at("mydir"), 1000, 1000) == 0);
    CHECK(setxattr(at("priv"), "user.p", "p", 1, 0) == 0);
    CHECK(setxattr(at("pub"), "user.p", "p", 1, 0) == 0);
    if (!volume)
        CHECK(setxattr(at("pub"), "trusted.t", "t", 1, 0) == 0);
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
        as_user();
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void hostile(void) {
    const char *f = at("hostile");
    make(f, 0644);
    CHECK(setxattr(f, "user.v", "val", 3, 0) == 0);
    show("get into a bad buffer", getxattr(f, "user.v", bad, 10));
    show("get, bad name pointer", getxattr(f, bad, buf, 10));
    show("get, bad path pointer", getxattr(bad, "user.v", buf, 10));
    show("set from a bad buffer", setxattr(f, "user.x", bad, 10, 0));
    show("set, huge size", setxattr(f, "user.x", buf, huge, 0));
    show("set, huge flags", setxattr(f, "user.x", "v", 1, ~0));
    show("list into a bad buffer", listxattr(f, bad, 65536));
    CHECK(setxattr(f, "user.empty", "", 0, 0) == 0);
    show("empty value into a bad buffer", getxattr(f, "user.empty", bad, 10));
    show_list("list, huge size", listxattr(f, buf, huge), buf);
    // A name running into an unmapped page, and one longer than any name.
    char *pages = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(pages != MAP_FAILED && munmap(pages + 4096, 4096) == 0);
    memset(pages, 'u', 4096);
    show("name into an unmapped page", getxattr(f, pages + 4096 - 10, buf, 10));
    show("name with no end", getxattr(f, pages, buf, 10));
    CHECK(munmap(pages, 4096) == 0);
    // Attributes until the file has no room for more.
    const char *many = at("many");
    make(many, 0644);
    char name[32], value[100];
    memset(value, 'v', sizeof value);
    long i = 0;
    int err = 0;
    for (; i < 1000000; i++) {
        snprintf(name, sizeof name, "user.m%06ld", i);
        if (setxattr(many, name, value, sizeof value, XATTR_CREATE) < 0) {
            err = errno;
            break;
        }
    }
    printf("attributes until full: %s, some set %d\n", strerror(err), i > 0);
    show("another after full", setxattr(many, "user.more", value, sizeof value, 0));
    show("a small one replaces", setxattr(many, "user.m000000", "v", 1, XATTR_REPLACE));
    CHECK(unlink(many) == 0);
}

/// Files with the largest attributes until the filesystem at `dir` has no room: what
/// attributes take counts against its size, and comes back when the files go.
static void fill(const char *dir) {
    struct statvfs v0, v1, v2;
    CHECK(statvfs(dir, &v0) == 0);
    static char value[65536];
    memset(value, 'f', sizeof value);
    char path[512], name[32];
    unsigned long long bytes = 0;
    int files = 0, err = 0;
    for (; files < 100000 && !err; files++) {
        snprintf(path, sizeof path, "%s/fill%d", dir, files);
        int fd = open(path, O_CREAT | O_WRONLY, 0644);
        CHECK(fd >= 0 && close(fd) == 0);
        for (int i = 0;; i++) {
            snprintf(name, sizeof name, "user.f%d", i);
            if (setxattr(path, name, value, sizeof value, 0) == 0) {
                bytes += sizeof value;
                continue;
            }
            // A full file: on to the next; a new file with no room at all: done.
            if (errno != ENOSPC || i == 0)
                err = errno;
            break;
        }
    }
    CHECK(statvfs(dir, &v1) == 0);
    printf("fill: %s, %d files, within size %d, bfree dropped %d\n", strerror(err), files,
           bytes <= (unsigned long long)v0.f_blocks * v0.f_bsize, v1.f_bfree < v0.f_bfree);
    for (int i = 0; i < files; i++) {
        snprintf(path, sizeof path, "%s/fill%d", dir, i);
        CHECK(unlink(path) == 0);
    }
    CHECK(statvfs(dir, &v2) == 0);
    printf("fill: freed %d\n", v2.f_bfree == v0.f_bfree);
}

static void prep(const char *dir) {
    snprintf(top, sizeof top, "%s", dir);
    make(in_top("pre"), 0644);
    CHECK(setxattr(in_top("pre"), "user.pre", "lower", 5, 0) == 0);
    CHECK(mkdir(in_top("predir"), 0755) == 0);
    CHECK(setxattr(in_top("predir"), "user.pd", "d", 1, 0) == 0);
}

int main(int argc, char **argv) {
    CHECK(argc > 1);
    if (!strcmp(argv[1], "prep") && argc > 2) {
        prep(argv[2]);
        return 0;
    }
    if (!strcmp(argv[1], "fill") && argc > 2) {
        fill(argv[2]);
        return 0;
    }
    if (!strcmp(argv[1], "show") && argc > 2) {
        snprintf(top, sizeof top, "%s", argv[2]);
        show_list("pre", listxattr(in_top("pre"), buf, sizeof buf), buf);
        show_list("predir", listxattr(in_top("predir"), buf, sizeof buf), buf);
        return 0;
    }
    volume = argc > 2 && !strcmp(argv[2], "volume");
    snprintf(top, sizeof top, "%s", argv[1]);
    snprintf(base, sizeof base, "%s/x.%d", argv[1], getpid());
    CHECK(mkdir(base, 0755) == 0);
    basics();
    kinds();
    before_the_run();
    trusted();
    permissions();
    hostile();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", base);
    CHECK(system(cmd) == 0);
    printf("done\n");
    return 0;
}
