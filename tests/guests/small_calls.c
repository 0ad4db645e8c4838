/* kcmp, membarrier and the clock-setting calls (issue 17). kcmp: files, address spaces,
 * fd tables, fs contexts and signal handlers of threads, forks and dups (only equality is
 * printed: the order of unequal objects is arbitrary), the permission rule (a uid 54321
 * child against its root parent), bad pids, fds and types. membarrier: the commands a
 * runtime uses, registration per process (kept by fork, dropped by exec), bad commands and
 * flags; QUERY is printed without the RSEQ commands (snare has no rseq) and GLOBAL (absent
 * under nohz_full). Clocks: every change is refused (the unprivileged errnos, in a uid
 * 54321 child; as root only what Linux refuses even root), adjtimex reads. Run as root.
 *
 * Natively and under snare the output must be the same. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *en(int e) {
    switch (e) {
    case EPERM: return "EPERM";
    case ESRCH: return "ESRCH";
    case EINVAL: return "EINVAL";
    case EFAULT: return "EFAULT";
    case EBADF: return "EBADF";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    default: return strerror(e);
    }
}

static void say(const char *what, long v) {
    if (v < 0) printf("%s: %s\n", what, en(errno));
    else printf("%s: %ld\n", what, v);
}

/* kcmp's answer as "same", "different" or the errno. */
static void cmp(const char *what, pid_t a, pid_t b, int type, long i1, long i2) {
    long r = syscall(SYS_kcmp, a, b, type, i1, i2);
    if (r < 0) printf("%s: %s\n", what, en(errno));
    else printf("%s: %s\n", what, r == 0 ? "same" : (r == 1 || r == 2) ? "different" : "bad answer");
}

enum { FILE_ = 0, VM, FILES, FS, SIGHAND, IO, SYSVSEM };

static volatile pid_t thread_tid;
static volatile int stop;
static void *spin(void *arg) {
    (void)arg;
    thread_tid = syscall(SYS_gettid);
    while (!stop) usleep(1000);
    return NULL;
}

static void kcmp_tests(void) {
    pid_t me = getpid();
    int a = open("/dev/null", O_RDONLY);
    int b = dup(a);
    int c = open("/dev/null", O_RDONLY);
    cmp("kcmp file self", me, me, FILE_, a, a);
    cmp("kcmp file dup", me, me, FILE_, a, b);
    cmp("kcmp file reopened", me, me, FILE_, a, c);
    cmp("kcmp file closed fd", me, me, FILE_, a, 999);
    cmp("kcmp file huge fd", me, me, FILE_, 1L << 40, a);
    cmp("kcmp vm self", me, me, VM, 0, 0);
    cmp("kcmp sysvsem self", me, me, SYSVSEM, 0, 0);
    pthread_t t;
    pthread_create(&t, NULL, spin, NULL);
    while (!thread_tid) usleep(1000);
    cmp("kcmp thread vm", me, thread_tid, VM, 0, 0);
    cmp("kcmp thread files", me, thread_tid, FILES, 0, 0);
    cmp("kcmp thread fs", me, thread_tid, FS, 0, 0);
    cmp("kcmp thread sighand", me, thread_tid, SIGHAND, 0, 0);
    cmp("kcmp thread file", me, thread_tid, FILE_, a, b);
    stop = 1;
    pthread_join(t, NULL);
    int go[2], done[2];
    if (pipe(go) || pipe(done)) exit(1);
    fflush(stdout);
    pid_t k = fork();
    if (k == 0) {
        char x;
        close(go[1]);
        if (read(go[0], &x, 1) != 1) _exit(1);
        _exit(0);
    }
    cmp("kcmp fork vm", me, k, VM, 0, 0);
    cmp("kcmp fork files", me, k, FILES, 0, 0);
    cmp("kcmp fork fs", me, k, FS, 0, 0);
    cmp("kcmp fork sighand", me, k, SIGHAND, 0, 0);
    cmp("kcmp fork inherited file", me, k, FILE_, a, a);
    cmp("kcmp fork sysvsem", me, k, SYSVSEM, 0, 0);
    cmp("kcmp pid 0", 0, me, VM, 0, 0);
    cmp("kcmp missing pid", me, 999999, VM, 0, 0);
    cmp("kcmp negative pid", -1, me, VM, 0, 0);
    cmp("kcmp bad type", me, me, 8, 0, 0);
    cmp("kcmp negative type", me, me, -1, 0, 0);
    fflush(stdout);
    pid_t u = fork();
    if (u == 0) {
        if (setresuid(54321, 54321, 54321)) _exit(2);
        cmp("unpriv kcmp root parent", me, getpid(), VM, 0, 0);
        cmp("unpriv kcmp self", getpid(), getpid(), VM, 0, 0);
        fflush(stdout);
        _exit(0);
    }
    waitpid(u, NULL, 0);
    if (write(go[1], "x", 1) != 1) exit(1);
    waitpid(k, NULL, 0);
    close(a);
    close(b);
    close(c);
}

static long mb(int cmd, unsigned flags) { return syscall(SYS_membarrier, cmd, flags, 0); }

enum {
    Q = 0,
    GLOBAL = 1,
    GLOBAL_EXP = 2,
    REG_GLOBAL_EXP = 4,
    PRIV_EXP = 8,
    REG_PRIV_EXP = 16,
    PRIV_SYNC = 32,
    REG_PRIV_SYNC = 64,
    GET_REG = 512
};

static void membarrier_tests(char *self) {
    long q = mb(Q, 0);
    printf("membarrier query (less rseq and global): %#lx\n", q < 0 ? q : q & ~(128L | 256L | 1L));
    say("private expedited unregistered", mb(PRIV_EXP, 0));
    say("sync core unregistered", mb(PRIV_SYNC, 0));
    say("registrations", mb(GET_REG, 0));
    say("register private expedited", mb(REG_PRIV_EXP, 0));
    say("register again", mb(REG_PRIV_EXP, 0));
    say("private expedited", mb(PRIV_EXP, 0));
    say("sync core still unregistered", mb(PRIV_SYNC, 0));
    say("register sync core", mb(REG_PRIV_SYNC, 0));
    say("sync core", mb(PRIV_SYNC, 0));
    say("register global expedited", mb(REG_GLOBAL_EXP, 0));
    say("global expedited", mb(GLOBAL_EXP, 0));
    say("registrations", mb(GET_REG, 0));
    say("flags 1", mb(PRIV_EXP, 1));
    say("command 3", mb(3, 0));
    say("command 1024", mb(1024, 0));
    say("command -1", mb(-1, 0));
    /* A barrier while another thread runs. */
    stop = 0;
    thread_tid = 0;
    pthread_t t;
    pthread_create(&t, NULL, spin, NULL);
    while (!thread_tid) usleep(1000);
    say("private expedited with a thread", mb(PRIV_EXP, 0));
    stop = 1;
    pthread_join(t, NULL);
    fflush(stdout);
    pid_t k = fork();
    if (k == 0) {
        say("forked child registrations", mb(GET_REG, 0));
        say("forked child private expedited", mb(PRIV_EXP, 0));
        fflush(stdout);
        execl(self, self, "membarrier", (char *)NULL);
        _exit(1);
    }
    waitpid(k, NULL, 0);
}

static void clock_tests(void) {
    struct timespec ts = {1000, 0};
    /* As root only what Linux refuses root too: a valid time would set the clock. */
    say("clock_settime MONOTONIC", clock_settime(CLOCK_MONOTONIC, &ts));
    say("clock_settime BOOTTIME", clock_settime(CLOCK_BOOTTIME, &ts));
    say("clock_settime clock 10", clock_settime(10, &ts));
    say("clock_settime clock 99", clock_settime(99, &ts));
    say("clock_settime bad ptr", syscall(SYS_clock_settime, CLOCK_REALTIME, (void *)8));
    ts.tv_nsec = 1000000000;
    say("clock_settime bad nsec", clock_settime(CLOCK_REALTIME, &ts));
    ts.tv_sec = -1;
    ts.tv_nsec = 0;
    say("clock_settime negative", clock_settime(CLOCK_REALTIME, &ts));
    ts.tv_sec = 1000;
    say("clock_settime PROCESS_CPUTIME", clock_settime(CLOCK_PROCESS_CPUTIME_ID, &ts));
    say("clock_settime THREAD_CPUTIME", clock_settime(CLOCK_THREAD_CPUTIME_ID, &ts));
    /* A process's CPU clock by id: (~pid << 3) | CPUCLOCK_SCHED. */
    say("clock_settime own process clock", clock_settime((clockid_t)((~0 << 3) | 2), &ts));
    say("clock_settime missing process clock", clock_settime((clockid_t)((~999999 << 3) | 2), &ts));
    say("clock_settime fd clock", clock_settime((clockid_t)((~5 << 3) | 3), &ts));
    struct timeval tv = {1000, 1000001};
    say("settimeofday bad usec", syscall(SYS_settimeofday, &tv, NULL));
    say("settimeofday bad ptr", syscall(SYS_settimeofday, (void *)8, NULL));
    say("settimeofday bad tz ptr", syscall(SYS_settimeofday, NULL, (void *)8));
    struct timex tx;
    memset(&tx, 0, sizeof tx);
    long r = adjtimex(&tx);
    printf("adjtimex read: %s tick %ld precision %ld tolerance %ld\n", r >= 0 && r <= 5 ? "a state" : en(errno),
           tx.tick, tx.precision, tx.tolerance);
    struct timeval now;
    gettimeofday(&now, NULL);
    printf("  time within a second: %d\n", labs(tx.time.tv_sec - now.tv_sec) <= 1);
    memset(&tx, 0, sizeof tx);
    tx.modes = ADJ_OFFSET_SS_READ;
    r = adjtimex(&tx);
    printf("adjtimex single-shot read: %s modes %#x\n", r >= 0 ? "a state" : en(errno), tx.modes);
    tx.modes = 0x8000;
    say("adjtimex ADJ_ADJTIME alone", adjtimex(&tx));
    say("adjtimex bad ptr", syscall(SYS_adjtimex, (void *)8));
    memset(&tx, 0, sizeof tx);
    r = clock_adjtime(CLOCK_REALTIME, &tx);
    printf("clock_adjtime REALTIME read: %s\n", r >= 0 ? "a state" : en(errno));
    say("clock_adjtime MONOTONIC", clock_adjtime(CLOCK_MONOTONIC, &tx));
    say("clock_adjtime THREAD_CPUTIME", clock_adjtime(CLOCK_THREAD_CPUTIME_ID, &tx));
    say("clock_adjtime clock 99", clock_adjtime(99, &tx));
    say("clock_adjtime bad ptr", syscall(SYS_clock_adjtime, CLOCK_REALTIME, (void *)8));
    fflush(stdout);
    pid_t u = fork();
    if (u == 0) {
        if (setresuid(54321, 54321, 54321)) _exit(2);
        ts.tv_sec = 1000;
        ts.tv_nsec = 0;
        say("unpriv clock_settime REALTIME", clock_settime(CLOCK_REALTIME, &ts));
        tv.tv_usec = 0;
        say("unpriv settimeofday", settimeofday(&tv, NULL));
        say("unpriv settimeofday NULL NULL", syscall(SYS_settimeofday, NULL, NULL));
        memset(&tx, 0, sizeof tx);
        tx.modes = ADJ_FREQUENCY;
        say("unpriv adjtimex frequency", adjtimex(&tx));
        tx.modes = ADJ_OFFSET_SINGLESHOT;
        say("unpriv adjtimex single-shot", adjtimex(&tx));
        tx.modes = ADJ_TICK;
        tx.tick = 1;
        say("unpriv adjtimex bad tick", adjtimex(&tx));
        tx.modes = ADJ_FREQUENCY;
        say("unpriv clock_adjtime", clock_adjtime(CLOCK_REALTIME, &tx));
        fflush(stdout);
        _exit(0);
    }
    waitpid(u, NULL, 0);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1) {
        say("after exec registrations", mb(GET_REG, 0));
        say("after exec private expedited", mb(PRIV_EXP, 0));
        return 0;
    }
    if (getuid() != 0) {
        printf("needs root\n");
        return 1;
    }
    kcmp_tests();
    membarrier_tests(argv[0]);
    clock_tests();
    printf("done\n");
    return 0;
}
