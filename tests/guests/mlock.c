/* Memory locking (issue 17): mlock, mlock2, munlock, mlockall, munlockall and MAP_LOCKED,
 * with /proc/self/status's VmLck; the unprivileged side (uid 54321) against RLIMIT_MEMLOCK
 * (EPERM at 0, ENOMEM / EAGAIN past it); locks not inherited by fork; hostile arguments.
 * Run as root.
 *
 * Natively and under snare the output must be the same. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096L

static const char *en(int e) {
    switch (e) {
    case EPERM: return "EPERM";
    case EINVAL: return "EINVAL";
    case ENOMEM: return "ENOMEM";
    case EAGAIN: return "EAGAIN";
    case EFAULT: return "EFAULT";
    default: return strerror(e);
    }
}

static void say(const char *what, long v) {
    if (v < 0) printf("%s: %s\n", what, en(errno));
    else printf("%s: %ld\n", what, v);
}

/* VmLck in kB, read without allocating (malloc could map memory MCL_FUTURE locks). */
static long vmlck(void) {
    static char b[4096];
    int fd = open("/proc/self/status", O_RDONLY);
    long n = read(fd, b, sizeof b - 1);
    close(fd);
    b[n > 0 ? n : 0] = 0;
    char *l = strstr(b, "VmLck:");
    return l ? strtol(l + 6, NULL, 10) : -1;
}

static void lck(const char *what) { printf("  %s VmLck %ld kB\n", what, vmlck()); }

static long mlock2_(void *a, size_t len, unsigned flags) { return syscall(SYS_mlock2, a, len, flags); }

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (getuid() != 0) {
        printf("needs root\n");
        return 1;
    }
    char *m = mmap(NULL, 8 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    lck("start");
    say("mlock 2 pages", mlock(m, 2 * PG));
    lck("after");
    say("mlock them again", mlock(m, 2 * PG));
    lck("after");
    say("mlock unaligned (one byte across a page end)", mlock(m + 3 * PG - 1, 2));
    lck("after");
    say("mlock2 ONFAULT", mlock2_(m + 5 * PG, PG, MLOCK_ONFAULT));
    lck("after");
    say("mlock2 bad flag", mlock2_(m, PG, 2));
    say("mlock length 0", mlock(m, 0));
    say("mlock wrapping length", mlock(m, (size_t)-1));
    say("mlock past the end", mlock((void *)-PG, 2 * PG));
    say("munlock all 8", munlock(m, 8 * PG));
    lck("after");
    say("mlock PROT_NONE", (mprotect(m + 7 * PG, PG, PROT_NONE), mlock(m + 7 * PG, PG)));
    lck("after");
    munlock(m, 8 * PG);
    /* A hole: the pages before it are locked, then ENOMEM. */
    munmap(m + 4 * PG, PG);
    say("mlock over a hole", mlock(m + 2 * PG, 4 * PG));
    lck("after");
    say("munlock over a hole", munlock(m, 8 * PG));
    lck("after");
    say("mlock unmapped", mlock((void *)0x10000, PG));
    say("munlock unmapped", munlock((void *)0x10000, PG));
    char *l = mmap(NULL, 3 * PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0);
    say("mmap MAP_LOCKED", l == MAP_FAILED ? -1 : 0);
    lck("after");
    say("munmap it", munmap(l, 3 * PG));
    lck("after");
    say("mlockall 0", mlockall(0));
    say("mlockall ONFAULT alone", mlockall(MCL_ONFAULT));
    say("mlockall 8", mlockall(8));
    say("mlockall CURRENT", mlockall(MCL_CURRENT));
    printf("  locked something: %d\n", vmlck() > 0);
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        lck("forked child");
        _exit(0);
    }
    waitpid(c, NULL, 0);
    say("munlockall", munlockall());
    lck("after");
    say("mlockall FUTURE", mlockall(MCL_FUTURE));
    lck("after (the present stays unlocked)");
    char *f = mmap(NULL, 4 * PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    lck("after a 4-page mmap");
    munmap(f, 4 * PG);
    say("mlockall CURRENT alone ends FUTURE", mlockall(MCL_CURRENT));
    munlockall();
    f = mmap(NULL, 4 * PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    lck("after another mmap");
    munmap(f, 4 * PG);
    fflush(stdout);

    /* Unprivileged: RLIMIT_MEMLOCK 0, then 3 pages. */
    c = fork();
    if (c == 0) {
        struct rlimit zero = {0, 0};
        setrlimit(RLIMIT_MEMLOCK, &zero);
        pid_t g = fork();
        if (g == 0) {
            if (setresuid(54321, 54321, 54321)) _exit(2);
            say("unpriv limit 0: mlock", mlock(m, PG));
            say("unpriv limit 0: mlock2", mlock2_(m, PG, 0));
            say("unpriv limit 0: mlockall", mlockall(MCL_CURRENT));
            say("unpriv limit 0: MAP_LOCKED",
                mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0) == MAP_FAILED ? -1 : 0);
            say("unpriv limit 0: munlock", munlock(m, PG));
            say("unpriv limit 0: munlockall", munlockall());
            fflush(stdout);
            _exit(0);
        }
        waitpid(g, NULL, 0);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    c = fork();
    if (c == 0) {
        struct rlimit three = {3 * PG, 3 * PG};
        setrlimit(RLIMIT_MEMLOCK, &three);
        if (setresuid(54321, 54321, 54321)) _exit(2);
        say("unpriv limit 3 pages: mlock 2", mlock(m, 2 * PG));
        say("unpriv: mlock 2 more (4 in all)", mlock(m + 2 * PG, 2 * PG));
        say("unpriv: mlock the first 3 (2 counted already)", mlock(m, 3 * PG));
        lck("after");
        say("unpriv: mlockall CURRENT (more is mapped)", mlockall(MCL_CURRENT));
        munlockall();
        say("unpriv: mlockall FUTURE", mlockall(MCL_FUTURE));
        void *x = mmap(NULL, 2 * PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        say("unpriv: mmap 2 pages", x == MAP_FAILED ? -1 : 0);
        void *y = mmap(NULL, 2 * PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        say("unpriv: mmap 2 more", y == MAP_FAILED ? -1 : 0);
        munlockall();
        y = mmap(NULL, 2 * PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0);
        say("unpriv: MAP_LOCKED 2 more", y == MAP_FAILED ? -1 : 0);
        lck("after");
        fflush(stdout);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    printf("done\n");
    return 0;
}
