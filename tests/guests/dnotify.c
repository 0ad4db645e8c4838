// dnotify: fcntl(F_NOTIFY) on a directory fd, with SIGIO (no details) and with an F_SETSIG
// real-time signal (si_code POLL_MSG, si_band, si_fd); one-shot and DN_MULTISHOT
// registrations, masks adding up, removal by a 0 mask and by close, and the errors
// (ENOTDIR, EBADF, EINVAL for F_SETSIG). argv[1]: a scratch directory.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(c)                                                                  \
    do {                                                                          \
        if (!(c)) {                                                               \
            printf("FAIL %s:%d: %s (errno %d)\n", __FILE__, __LINE__, #c, errno); \
            exit(1);                                                              \
        }                                                                         \
    } while (0)

static char dir[PATH_MAX];

static const char *at(const char *rel) {
    static char bufs[2][PATH_MAX + 64];
    static int next;
    char *buf = bufs[next++ % 2];
    snprintf(buf, PATH_MAX + 64, "%s/%s", dir, rel);
    return buf;
}

static sigset_t watched;

// Prints what a call returned, and errno if it failed.
static void said(const char *what, int ret) {
    printf("%s: %d errno %d\n", what, ret, ret < 0 ? errno : 0);
}

// Takes every pending watched signal; prints each (signal, code, band, fd-is-dfd).
static int drain(int dfd, const char *what) {
    int n = 0;
    struct timespec zero = {0, 0};
    siginfo_t si;
    printf("%s:", what);
    while (sigtimedwait(&watched, &si, &zero) > 0) {
        n++;
        if (si.si_signo == SIGIO) {
            printf(" SIGIO code %#x", si.si_code);
        } else {
            printf(" RT+%d code %d band %#lx fd %s", si.si_signo - SIGRTMIN, si.si_code,
                   (long)si.si_band, si.si_fd == dfd ? "dfd" : "other");
        }
    }
    printf(" (%d)\n", n);
    return n;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    snprintf(dir, sizeof dir, "%s/dn.%d", argc > 1 ? argv[1] : "/tmp", getpid());
    CHECK(mkdir(dir, 0755) == 0);
    sigemptyset(&watched);
    sigaddset(&watched, SIGIO);
    sigaddset(&watched, SIGRTMIN + 1);
    CHECK(sigprocmask(SIG_BLOCK, &watched, NULL) == 0);

    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    CHECK(dfd >= 0);
    // One-shot, SIGIO.
    CHECK(fcntl(dfd, F_GETSIG) == 0);
    CHECK(fcntl(dfd, F_NOTIFY, DN_CREATE) == 0);
    close(open(at("a"), O_CREAT | O_WRONLY, 0644));
    drain(dfd, "create, one-shot SIGIO");
    close(open(at("b"), O_CREAT | O_WRONLY, 0644));
    drain(dfd, "create after the shot");

    // Multishot with a real-time signal: each event queues one.
    CHECK(fcntl(dfd, F_SETSIG, SIGRTMIN + 1) == 0);
    CHECK(fcntl(dfd, F_GETSIG) == SIGRTMIN + 1);
    CHECK(fcntl(dfd, F_NOTIFY, DN_DELETE | DN_MULTISHOT) == 0);
    CHECK(unlink(at("a")) == 0);
    CHECK(unlink(at("b")) == 0);
    drain(dfd, "two deletes, multishot RT");
    // Not asked for: nothing.
    close(open(at("c"), O_CREAT | O_WRONLY, 0644));
    drain(dfd, "create, not asked");
    // Masks add up.
    CHECK(fcntl(dfd, F_NOTIFY, DN_ATTRIB | DN_MODIFY | DN_MULTISHOT) == 0);
    CHECK(chmod(at("c"), 0600) == 0);
    drain(dfd, "chmod");
    int fd = open(at("c"), O_WRONLY);
    CHECK(fd >= 0);
    CHECK(write(fd, "x", 1) == 1);
    close(fd);
    drain(dfd, "write");
    CHECK(truncate(at("c"), 0) == 0);
    drain(dfd, "truncate");
    // A rename in the directory: rename, delete (moved from), create is not asked.
    CHECK(fcntl(dfd, F_NOTIFY, DN_RENAME | DN_MULTISHOT) == 0);
    CHECK(rename(at("c"), at("d")) == 0);
    drain(dfd, "rename");
    CHECK(mkdir(at("sub"), 0755) == 0);
    drain(dfd, "mkdir, not asked");
    CHECK(rmdir(at("sub")) == 0);
    drain(dfd, "rmdir");
    // A 0 mask removes it.
    CHECK(fcntl(dfd, F_NOTIFY, 0) == 0);
    CHECK(unlink(at("d")) == 0);
    drain(dfd, "after removal");

    // Closing a dup'ed fd ends the registration (the same table, the same description).
    CHECK(fcntl(dfd, F_NOTIFY, DN_CREATE | DN_MULTISHOT) == 0);
    int dup_fd = dup(dfd);
    CHECK(dup_fd >= 0);
    close(dup_fd);
    close(open(at("e"), O_CREAT | O_WRONLY, 0644));
    drain(dfd, "after closing a dup");
    CHECK(unlink(at("e")) == 0);

    // A child's close of its copy (another fd table) leaves the registration; its create
    // signals the parent, who registered.
    CHECK(fcntl(dfd, F_NOTIFY, DN_CREATE | DN_MULTISHOT) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(dfd);
        close(open(at("g"), O_CREAT | O_WRONLY, 0644));
        _exit(0);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && status == 0);
    drain(dfd, "a child's close, then its create");
    CHECK(fcntl(dfd, F_NOTIFY, 0) == 0);
    CHECK(unlink(at("g")) == 0);

    // Errors.
    int f = open(at("f"), O_CREAT | O_RDWR, 0644);
    CHECK(f >= 0);
    said("file", fcntl(f, F_NOTIFY, DN_CREATE));
    said("file, 0 mask", fcntl(f, F_NOTIFY, 0));
    said("unknown bits only", fcntl(dfd, F_NOTIFY, 0x40000));
    CHECK(fcntl(dfd, F_NOTIFY, 0) == 0);
    said("F_SETSIG 65", fcntl(f, F_SETSIG, 65));
    said("F_SETSIG -1", fcntl(f, F_SETSIG, -1));
    said("F_SETSIG 64", fcntl(f, F_SETSIG, 64));
    said("F_GETSIG", fcntl(f, F_GETSIG));
    int p = open(dir, O_PATH);
    CHECK(p >= 0);
    said("O_PATH", fcntl(p, F_NOTIFY, DN_CREATE));
    said("bad fd", fcntl(999, F_NOTIFY, DN_CREATE));
    close(p);
    close(f);
    CHECK(unlink(at("f")) == 0);
    drain(dfd, "end");
    close(dfd);
    CHECK(rmdir(dir) == 0);
    return 0;
}
