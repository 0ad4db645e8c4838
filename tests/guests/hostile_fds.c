/* Hostile fd use (issue 12): raise RLIMIT_NOFILE's soft limit to the hard one and open a host
 * file until it fails (EMFILE for the process's limit, or ENFILE for the sandbox's budget of
 * host fds; never success for ever); fork, wait and pipe still work afterwards. Then the
 * per-process limit as Linux enforces it: setrlimit(RLIMIT_NOFILE, 256) makes open fail with
 * EMFILE at fd 256, dup2 beyond it EBADF, F_DUPFD at it EINVAL, poll past it EINVAL; the limit
 * is inherited by fork and kept by exec; soft > hard is EINVAL, hard past nr_open EPERM.
 * Prints booleans and errno names only. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static int failed;

static void check(const char *what, int ok) {
    printf("%s: %s\n", what, ok ? "ok" : "FAIL");
    if (!ok)
        failed = 1;
}

static const char *ename(int e) {
    switch (e) {
    case 0: return "0";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case EPERM: return "EPERM";
    default: return "other";
    }
}

static int fork_wait_ok(void) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return 0;
    if (pid == 0)
        _exit(7);
    int st;
    return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 7;
}

static void close_from(int first) {
    for (int fd = first; fd < 70000; fd++)
        close(fd);
}

int main(int argc, char **argv) {
    struct rlimit rl, got;
    if (argc > 1 && strcmp(argv[1], "exec") == 0) {
        getrlimit(RLIMIT_NOFILE, &got);
        printf("after exec: soft %lu\n", (unsigned long)got.rlim_cur);
        return 0;
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    check("soft <= hard", rl.rlim_cur <= rl.rlim_max);

    /* 1. Up to the hard limit (at most 65536, to keep the native run short). */
    rlim_t want = rl.rlim_max < 65536 ? rl.rlim_max : 65536;
    struct rlimit up = {want, rl.rlim_max};
    check("raise soft to hard", setrlimit(RLIMIT_NOFILE, &up) == 0);
    getrlimit(RLIMIT_NOFILE, &got);
    check("getrlimit reports it", got.rlim_cur == want);
    long opened = 0;
    int err = 0;
    for (;;) {
        int fd = open("/etc/passwd", O_RDONLY);
        if (fd < 0) {
            err = errno;
            break;
        }
        if (++opened > 100000)
            break;
    }
    check("the open loop ends", opened <= 100000);
    check("with EMFILE or ENFILE", err == EMFILE || err == ENFILE);
    /* Still full: a fork and a wait work (the Sentry's own fds are not the guest's). */
    check("fork+wait while full", fork_wait_ok());
    close(3);
    close(4);
    int p[2];
    check("pipe with two fds free", pipe(p) == 0);
    close_from(3);
    check("fork+wait after", fork_wait_ok());
    check("pipe after", pipe(p) == 0);
    close(p[0]);
    close(p[1]);

    /* 2. A lower per-process limit. */
    struct rlimit low = {256, rl.rlim_max};
    check("setrlimit 256", setrlimit(RLIMIT_NOFILE, &low) == 0);
    getrlimit(RLIMIT_NOFILE, &got);
    check("getrlimit 256", got.rlim_cur == 256 && got.rlim_max == rl.rlim_max);
    int last = -1;
    for (;;) {
        int fd = open("/etc/passwd", O_RDONLY);
        if (fd < 0) {
            err = errno;
            break;
        }
        last = fd;
    }
    printf("open past 256: %s, last fd %d\n", ename(err), last);
    errno = 0;
    printf("pipe when full: %s\n", ename(pipe(p) == 0 ? 0 : errno));
    errno = 0;
    printf("dup when full: %s\n", ename(dup(0) >= 0 ? 0 : errno));
    close(100);
    errno = 0;
    printf("dup2 to 256: %s\n", ename(dup2(0, 256) >= 0 ? 0 : errno));
    errno = 0;
    printf("dup2 to 255: %s\n", ename(dup2(0, 255) == 255 ? 0 : errno));
    errno = 0;
    printf("dup3 to 300: %s\n", ename(dup3(0, 300, O_CLOEXEC) >= 0 ? 0 : errno));
    errno = 0;
    printf("F_DUPFD 256: %s\n", ename(fcntl(0, F_DUPFD, 256) >= 0 ? 0 : errno));
    errno = 0;
    printf("F_DUPFD 200 -> %d\n", fcntl(0, F_DUPFD, 200));
    errno = 0;
    printf("F_DUPFD 200 when full: %s\n", ename(fcntl(0, F_DUPFD, 200) >= 0 ? 0 : errno));
    struct pollfd pfd[300];
    memset(pfd, 0, sizeof pfd);
    for (int i = 0; i < 300; i++)
        pfd[i].fd = -1;
    errno = 0;
    printf("poll 257 entries: %s\n", ename(poll(pfd, 257, 0) >= 0 ? 0 : errno));
    printf("poll 256 entries: %d\n", poll(pfd, 256, 0));
    close_from(3);

    /* 3. Inherited by fork, kept by exec. */
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        getrlimit(RLIMIT_NOFILE, &got);
        printf("in the child: soft %lu\n", (unsigned long)got.rlim_cur);
        fflush(stdout);
        execl(argv[0], argv[0], "exec", (char *)NULL);
        _exit(99);
    }
    int st;
    waitpid(pid, &st, 0);
    check("child exec ok", WIFEXITED(st) && WEXITSTATUS(st) == 0);

    /* 4. Errors. */
    struct rlimit bad = {300, 200};
    errno = 0;
    printf("soft > hard: %s\n", ename(setrlimit(RLIMIT_NOFILE, &bad) == 0 ? 0 : errno));
    struct rlimit huge = {256, (1 << 20) + 1};
    errno = 0;
    printf("hard > nr_open: %s\n", ename(setrlimit(RLIMIT_NOFILE, &huge) == 0 ? 0 : errno));
    struct rlimit lower = {256, 512};
    check("lower the hard limit", setrlimit(RLIMIT_NOFILE, &lower) == 0);
    struct rlimit soft_up = {512, 512};
    check("soft up to hard", setrlimit(RLIMIT_NOFILE, &soft_up) == 0);
    /* (Raising it back needs CAP_SYS_RESOURCE: not compared, the host's may lack it.) */
    return failed;
}
