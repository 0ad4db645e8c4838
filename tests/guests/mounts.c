// Mounting, in a private mount namespace (natively too, as root: the host's mounts are not
// touched): a tmpfs with size=, bind mounts (MS_REC), a read-only remount (EROFS), proc
// mounted again, umount2's EINVAL/EBUSY/MNT_DETACH, mount points in /proc/self/mountinfo,
// rename/unlink of a mount point (EBUSY), rename across mounts (EXDEV), and a tmpfs that
// hides what was below it until it is unmounted. argv[1]: a scratch directory.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <signal.h>
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
    static char bufs[4][512];
    static int n;
    char *b = bufs[n++ % 4];
    snprintf(b, 512, "%s/%s", base, rel);
    return b;
}

static void put(const char *path, const char *text) {
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    CHECK(close(fd) == 0);
}

static int has(const char *path, const char *text) {
    char buf[256] = {0};
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    return n >= 0 && strcmp(buf, text) == 0;
}

/// Whether `point` is a mount point in /proc/self/mountinfo (5th field).
static int mounted(const char *point) {
    FILE *f = fopen("/proc/self/mountinfo", "r");
    CHECK(f);
    char line[1024];
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        char mp[512];
        if (sscanf(line, "%*s %*s %*s %*s %511s", mp) == 1 && strcmp(mp, point) == 0)
            found = 1;
    }
    fclose(f);
    return found;
}

int main(int argc, char **argv) {
    CHECK(argc > 1);
    snprintf(base, sizeof base, "%s/mnt.%d", argv[1], getpid());
    CHECK(unshare(CLONE_NEWNS) == 0);
    CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
    CHECK(mkdir(base, 0755) == 0);
    CHECK(mkdir(at("t"), 0755) == 0);
    CHECK(mkdir(at("b"), 0755) == 0);
    CHECK(mkdir(at("p"), 0755) == 0);
    put(at("t/under"), "below\n");

    // A tmpfs with a size hides what was below.
    CHECK(mount("tmpfs", at("t"), "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755") == 0);
    CHECK(access(at("t/under"), F_OK) == -1 && errno == ENOENT);
    struct statvfs v;
    CHECK(statvfs(at("t"), &v) == 0);
    CHECK(v.f_bsize * v.f_blocks == 1 << 20);
    CHECK(v.f_flag & ST_NOSUID);
    CHECK(!(v.f_flag & ST_RDONLY));
    struct stat st;
    CHECK(stat(at("t"), &st) == 0 && (st.st_mode & 07777) == 0755);
    CHECK(mounted(at("t")));
    put(at("t/f"), "in tmpfs\n");
    CHECK(mkdir(at("t/d"), 0755) == 0);
    put(at("t/d/g"), "deep\n");

    // Renames and links don't cross mounts; mount points don't go away.
    CHECK(rename(at("t/f"), at("b/f")) == -1 && errno == EXDEV);
    CHECK(link(at("t/f"), at("b/f")) == -1 && errno == EXDEV);
    CHECK(rmdir(at("t")) == -1 && errno == EBUSY);
    CHECK(rename(at("t"), at("t2")) == -1 && errno == EBUSY);

    // A bind mount shows the same files; with MS_REC the mounts below come along.
    CHECK(mount(at("t/d"), at("b"), NULL, MS_BIND, NULL) == 0);
    CHECK(has(at("b/g"), "deep\n"));
    put(at("b/h"), "via bind\n");
    CHECK(has(at("t/d/h"), "via bind\n"));
    CHECK(mounted(at("b")));
    // An fd opened through the bind is known by that path.
    int bfd = open(at("b/g"), O_RDONLY);
    CHECK(bfd >= 0);
    char link[64], shown[512] = {0};
    snprintf(link, sizeof link, "/proc/self/fd/%d", bfd);
    CHECK(readlink(link, shown, sizeof shown - 1) > 0 && strcmp(shown, at("b/g")) == 0);
    CHECK(close(bfd) == 0);

    // Read-only remount of the bind: EROFS for writes there, the tmpfs itself still rw.
    CHECK(mount(NULL, at("b"), NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) == 0);
    CHECK(open(at("b/new"), O_CREAT | O_WRONLY, 0644) == -1 && errno == EROFS);
    CHECK(open(at("b/g"), O_WRONLY) == -1 && errno == EROFS);
    CHECK(unlink(at("b/g")) == -1 && errno == EROFS);
    CHECK(mkdir(at("b/g"), 0755) == -1 && errno == EEXIST);
    CHECK(mkdir(at("b/x"), 0755) == -1 && errno == EROFS);
    CHECK(unlink(at("b/nothing")) == -1 && errno == EROFS);
    CHECK(has(at("b/g"), "deep\n"));
    CHECK(statvfs(at("b"), &v) == 0 && (v.f_flag & ST_RDONLY));
    put(at("t/d/ok"), "still rw\n");

    // umount2: not a mount point, busy with a mount below, lazily with it.
    CHECK(umount2(at("p"), 0) == -1 && errno == EINVAL);
    CHECK(umount2(at("t"), 0x10) == -1 && errno == EINVAL);
    CHECK(umount2(at("b"), 0) == 0);
    CHECK(!mounted(at("b")));
    CHECK(access(at("b/g"), F_OK) == -1 && errno == ENOENT);
    CHECK(mkdir(at("t/d/m"), 0755) == 0);
    CHECK(mount("tmpfs", at("t/d/m"), "tmpfs", 0, NULL) == 0);
    CHECK(umount2(at("t"), 0) == -1 && errno == EBUSY);

    // proc, mounted again elsewhere.
    CHECK(mount("proc", at("p"), "proc", 0, NULL) == 0);
    char comm[64];
    snprintf(comm, sizeof comm, "p/%d/comm", getpid());
    CHECK(access(at(comm), R_OK) == 0);
    CHECK(umount2(at("p"), 0) == 0);

    // Bad input.
    CHECK(mount("x", at("p"), "no-such-fs", 0, NULL) == -1 && errno == ENODEV);
    CHECK(mount("x", at("nowhere"), "tmpfs", 0, NULL) == -1 && errno == ENOENT);
    CHECK(mount("tmpfs", at("p"), "tmpfs", 0, "size=lots") == -1 && errno == EINVAL);
    CHECK(mount(NULL, at("p"), NULL, MS_PRIVATE | MS_SHARED, NULL) == -1 && errno == EINVAL);
    CHECK(mount((char *)8, at("p"), "tmpfs", 0, NULL) == -1 && errno == EFAULT);

    // chroot, in a child: `/` and `..` stop at the new root; a current directory left
    // outside it is unreachable.
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        CHECK(chdir(base) == 0);
        CHECK(chroot(at("t")) == 0);
        char cwd[512];
        CHECK(getcwd(cwd, sizeof cwd) == NULL && errno == ENOENT);
        CHECK(chdir("/d") == 0);
        CHECK(getcwd(cwd, sizeof cwd) && strcmp(cwd, "/d") == 0);
        CHECK(has("/../../f", "in tmpfs\n"));
        CHECK(has("../d/g", "deep\n"));
        CHECK(chroot("/nowhere") == -1 && errno == ENOENT);
        CHECK(chroot("/f") == -1 && errno == ENOTDIR);
        _exit(0);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);

    // pivot_root, in a child with a namespace of its own.
    CHECK(mkdir(at("pr"), 0755) == 0);
    CHECK(mount("tmpfs", at("pr"), "tmpfs", 0, NULL) == 0);
    CHECK(mkdir(at("pr/old"), 0755) == 0);
    put(at("pr/mark"), "new root\n");
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        CHECK(unshare(CLONE_NEWNS) == 0);
        CHECK(chdir(at("pr")) == 0);
        CHECK(syscall(SYS_pivot_root, ".", "nowhere") == -1 && errno == ENOENT);
        CHECK(syscall(SYS_pivot_root, ".", "old") == 0);
        char cwd[512];
        CHECK(getcwd(cwd, sizeof cwd) && strcmp(cwd, "/") == 0);
        CHECK(has("/mark", "new root\n"));
        CHECK(access("/old/proc/self", F_OK) == 0);
        CHECK(umount2("/old", MNT_DETACH) == 0);
        CHECK(access("/old/proc/self", F_OK) == -1 && errno == ENOENT);
        _exit(0);
    }
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(umount2(at("pr"), 0) == 0);
    CHECK(rmdir(at("pr")) == 0);

    // MS_MOVE: a mount and what is mounted below it move together.
    CHECK(mkdir(at("m1"), 0755) == 0 && mkdir(at("m2"), 0755) == 0);
    CHECK(mount("tmpfs", at("m1"), "tmpfs", 0, NULL) == 0);
    put(at("m1/f"), "moved\n");
    CHECK(mkdir(at("m1/sub"), 0755) == 0);
    CHECK(mount("tmpfs", at("m1/sub"), "tmpfs", 0, NULL) == 0);
    put(at("m1/sub/g"), "below\n");
    CHECK(mount(at("m1"), at("m1/sub/x"), NULL, MS_MOVE, NULL) == -1);
    CHECK(mount(at("m1"), at("m2"), NULL, MS_MOVE, NULL) == 0);
    CHECK(has(at("m2/f"), "moved\n") && has(at("m2/sub/g"), "below\n"));
    CHECK(access(at("m1/f"), F_OK) == -1 && errno == ENOENT);
    CHECK(!mounted(at("m1")) && mounted(at("m2")) && mounted(at("m2/sub")));
    CHECK(mount(at("p"), at("m1"), NULL, MS_MOVE, NULL) == -1 && errno == EINVAL);
    CHECK(umount2(at("m2"), MNT_DETACH) == 0);
    CHECK(rmdir(at("m1")) == 0 && rmdir(at("m2")) == 0);

    // clone(CLONE_NEWNS): the child's mounts are its own.
    CHECK(mkdir(at("cn"), 0755) == 0);
    CHECK(syscall(SYS_clone, CLONE_NEWNS | CLONE_FS | SIGCHLD, 0, 0, 0, 0) == -1 &&
          errno == EINVAL);
    fflush(stdout);
    pid = syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0);
    CHECK(pid >= 0);
    if (pid == 0) {
        CHECK(mount("tmpfs", at("cn"), "tmpfs", 0, NULL) == 0);
        CHECK(mounted(at("cn")));
        _exit(0);
    }
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(!mounted(at("cn")));
    CHECK(rmdir(at("cn")) == 0);

    CHECK(umount2(at("t"), MNT_DETACH) == 0);
    CHECK(!mounted(at("t")) && !mounted(at("t/d/m")));
    CHECK(has(at("t/under"), "below\n"));
    CHECK(unlink(at("t/under")) == 0);
    CHECK(rmdir(at("t")) == 0 && rmdir(at("b")) == 0 && rmdir(at("p")) == 0);
    CHECK(rmdir(base) == 0);
    printf("mounts ok\n");
    return 0;
}
