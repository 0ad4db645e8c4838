// File permissions as Linux enforces them, for a process that gave up root (natively this
// needs root, as CI runs): mode bits for owner, group, supplementary group and others;
// search permission on the way; creating and removing in unwritable and sticky
// directories; set-group-id directories; chmod/chown/utimensat ownership rules; truncate;
// access vs faccessat2(AT_EACCESS) for real vs effective ids; execute-only binaries.
// argv[1]: a scratch directory. Prints one line per check.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(c)                                                                  \
    do {                                                                          \
        if (!(c)) {                                                               \
            printf("FAIL %s:%d: %s (errno %d)\n", __FILE__, __LINE__, #c, errno); \
            exit(1);                                                              \
        }                                                                         \
    } while (0)

static char base[256];

static const char *at(const char *rel) {
    static char bufs[8][512];
    static int n;
    char *b = bufs[n++ % 8];
    snprintf(b, 512, "%s/%s", base, rel);
    return b;
}

static void show(const char *what, long r) {
    printf("%-28s %s\n", what, r < 0 ? strerror(errno) : "ok");
}

static void make(const char *rel, int mode, uid_t uid, gid_t gid) {
    int fd = open(at(rel), O_CREAT | O_WRONLY | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK(write(fd, "data\n", 5) == 5);
    CHECK(close(fd) == 0);
    CHECK(chown(at(rel), uid, gid) == 0);
    CHECK(chmod(at(rel), mode) == 0);
}

static void dir(const char *rel, int mode, uid_t uid, gid_t gid) {
    CHECK(mkdir(at(rel), 0700) == 0);
    CHECK(chown(at(rel), uid, gid) == 0);
    CHECK(chmod(at(rel), mode) == 0);
}

static long op_open(const char *rel, int flags) {
    int fd = open(at(rel), flags, 0644);
    if (fd >= 0)
        close(fd);
    return fd;
}

static void as_user(void) {
    gid_t groups[] = {1001};
    CHECK(setgroups(1, groups) == 0);
    CHECK(setgid(1000) == 0);
    CHECK(setuid(1000) == 0);
    umask(022);

    show("read 0600 root", op_open("priv", O_RDONLY));
    show("read 0644 root", op_open("pub", O_RDONLY));
    show("write 0644 root", op_open("pub", O_WRONLY));
    show("read 0640 group 1001", op_open("grp", O_RDONLY));
    show("write 0660 group 1000", op_open("grp2", O_RDWR));
    show("trunc 0644 root", op_open("pub", O_RDONLY | O_TRUNC));
    show("O_PATH 0600 root", op_open("priv", O_PATH));
    struct stat st;
    show("stat through 0700 dir", stat(at("closed/f"), &st));
    show("create through 0700 dir", op_open("closed/new", O_CREAT | O_WRONLY));
    show("stat through 0711 dir", stat(at("xonly/f"), &st));
    DIR *d = opendir(at("xonly"));
    show("list 0711 dir", d ? 0 : -1);
    if (d)
        closedir(d);
    show("create in 0755 root dir", op_open("mine", O_CREAT | O_WRONLY));
    show("mkdir in 0755 root dir", mkdir(at("mine.d"), 0755));
    show("unlink in 0755 root dir", unlink(at("pub")));
    show("exclusive create, exists", op_open("pub", O_CREAT | O_EXCL | O_WRONLY));
    show("mkdir, exists", mkdir(at("closed"), 0755));

    // Sticky /tmp-like directory.
    show("create in sticky", op_open("sticky/own", O_CREAT | O_WRONLY));
    CHECK(stat(at("sticky/own"), &st) == 0);
    printf("%-28s %u:%u %o\n", "new file owner", st.st_uid, st.st_gid, st.st_mode & 07777);
    show("unlink other's in sticky", unlink(at("sticky/roots")));
    show("rename other's in sticky", rename(at("sticky/roots"), at("sticky/moved")));
    show("rename onto other's", rename(at("sticky/own"), at("sticky/roots")));
    show("unlink own in sticky", unlink(at("sticky/own")));

    // Set-group-id directory.
    show("create in setgid dir", op_open("sgid/f", O_CREAT | O_WRONLY));
    CHECK(stat(at("sgid/f"), &st) == 0);
    printf("%-28s %u:%u %o\n", "setgid file owner", st.st_uid, st.st_gid, st.st_mode & 07777);
    show("mkdir in setgid dir", mkdir(at("sgid/d"), 0755));
    CHECK(stat(at("sgid/d"), &st) == 0);
    printf("%-28s %u:%u %o\n", "setgid dir owner", st.st_uid, st.st_gid, st.st_mode & 07777);

    // Ownership rules.
    show("chmod own", chmod(at("sgid/f"), 0600));
    show("chmod root's", chmod(at("pub"), 0666));
    show("chmod own g+s, other group", chmod(at("sgid/f"), 02755));
    CHECK(stat(at("sgid/f"), &st) == 0);
    printf("%-28s %o\n", "mode after g+s", st.st_mode & 07777);
    show("chmod g+s, group not mine", chmod(at("sticky/grp5"), 02755));
    CHECK(stat(at("sticky/grp5"), &st) == 0);
    printf("%-28s %o\n", "mode after g+s (cleared)", st.st_mode & 07777);
    show("chown own to root", chown(at("sticky/mine"), 0, -1));
    show("chgrp own to 1001", chown(at("sticky/mine"), -1, 1001));
    show("chgrp own to 5", chown(at("sticky/mine"), -1, 5));
    show("chgrp root's", chown(at("pub"), -1, 1000));
    show("utimes now, not writable", utimensat(AT_FDCWD, at("pub"), NULL, 0));
    show("utimes now, writable", utimensat(AT_FDCWD, at("sticky/roots"), NULL, 0));
    struct timespec ts[2] = {{1, 0}, {2, 0}};
    show("utimes set, not owner", utimensat(AT_FDCWD, at("sticky/roots"), ts, 0));
    show("utimes set, owner", utimensat(AT_FDCWD, at("sticky/mine"), ts, 0));
    show("truncate root's", truncate(at("pub"), 0));
    show("truncate writable", truncate(at("sticky/roots"), 1));

    // access: real ids.
    show("access R 0600 root", access(at("priv"), R_OK));
    show("access R 0644 root", access(at("pub"), R_OK));
    show("access W 0644 root", access(at("pub"), W_OK));
    show("access X 0711 root", access(at("exe"), X_OK));
    show("access X 0644", access(at("pub"), X_OK));

    // Execute-only binary, and a file without x.
    for (int i = 0; i < 2; i++) {
        pid_t p = fork();
        CHECK(p >= 0);
        if (p == 0) {
            char *args[] = {"exe", "noop", NULL};
            execv(at(i ? "pub" : "exe"), args);
            _exit(errno);
        }
        int status;
        CHECK(waitpid(p, &status, 0) == p);
        printf("%-28s %d\n", i ? "exec 0644" : "exec 0711", WEXITSTATUS(status));
    }
}

/// Real uid 1000, effective 0: access checks the real ids, AT_EACCESS the effective.
static void real_vs_effective(void) {
    CHECK(setresuid(1000, 0, 0) == 0);
    show("access R, real 1000", access(at("priv"), R_OK));
    show("faccessat2 R, effective 0", syscall(SYS_faccessat2, AT_FDCWD, at("priv"), R_OK, AT_EACCESS));
    show("open R, effective 0", op_open("priv", O_RDONLY));
}

static void in_child(void (*f)(void)) {
    fflush(stdout);
    pid_t p = fork();
    CHECK(p >= 0);
    if (p == 0) {
        f();
        fflush(stdout);
        _exit(0);
    }
    int status;
    CHECK(waitpid(p, &status, 0) == p && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "noop"))
        return 0;
    CHECK(argc > 1);
    CHECK(geteuid() == 0);
    snprintf(base, sizeof base, "%s/perm.%d", argv[1], getpid());
    CHECK(mkdir(base, 0755) == 0);
    make("priv", 0600, 0, 0);
    make("pub", 0644, 0, 0);
    make("grp", 0640, 0, 1001);
    make("grp2", 0660, 0, 1000);
    dir("closed", 0700, 0, 0);
    make("closed/f", 0644, 0, 0);
    dir("xonly", 0711, 0, 0);
    make("xonly/f", 0644, 0, 0);
    dir("sticky", 01777, 0, 0);
    make("sticky/roots", 0666, 0, 0);
    make("sticky/mine", 0644, 1000, 1000);
    make("sticky/grp5", 0644, 1000, 5);
    dir("sgid", 02777, 0, 1001);
    // An execute-only copy of this program.
    int in = open("/proc/self/exe", O_RDONLY), out = open(at("exe"), O_CREAT | O_WRONLY, 0700);
    CHECK(in >= 0 && out >= 0);
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        CHECK(write(out, buf, n) == n);
    CHECK(close(in) == 0 && close(out) == 0 && chmod(at("exe"), 0711) == 0);

    in_child(as_user);
    in_child(real_vs_effective);

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", base);
    CHECK(system(cmd) == 0);
    return 0;
}
