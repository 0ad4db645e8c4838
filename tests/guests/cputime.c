/* CPU time of children: getrusage(RUSAGE_CHILDREN), times()'s cutime, wait4's and waitid's
 * rusage. A child burns ~120 ms of CPU (by its own RUSAGE_SELF), a grandchild as much, waited
 * for by the child; the parent's figures must count what it waited for, and only that.
 * Prints booleans only, never timings. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <unistd.h>

static double tv_ms(struct timeval tv) { return tv.tv_sec * 1e3 + tv.tv_usec / 1e3; }

static double cpu_ms(const struct rusage *r) { return tv_ms(r->ru_utime) + tv_ms(r->ru_stime); }

static double self_ms(void) {
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return cpu_ms(&r);
}

static double children_ms(void) {
    struct rusage r;
    if (getrusage(RUSAGE_CHILDREN, &r) != 0) { perror("getrusage"); exit(1); }
    return cpu_ms(&r);
}

/* Spins until this process has used `ms` of CPU. */
static void burn(double ms) {
    double start = self_ms();
    volatile unsigned long x = 0;
    while (self_ms() - start < ms)
        for (int i = 0; i < 100000; i++) x += i;
}

static pid_t spawn_burner(double ms, int grandchild_ms) {
    pid_t p = fork();
    if (p < 0) { perror("fork"); exit(1); }
    if (p == 0) {
        if (grandchild_ms) {
            pid_t g = spawn_burner(grandchild_ms, 0);
            int st;
            if (waitpid(g, &st, 0) != g) _exit(3);
        }
        burn(ms);
        _exit(0);
    }
    return p;
}

int main(void) {
    /* Ask once before any child exits (the Sentry counts children's time from then on, as
     * documented; natively it always does). */
    printf("no children yet: %d\n", children_ms() == 0);
    struct tms t0;
    times(&t0);
    printf("times cutime 0: %d\n", t0.tms_cutime == 0 && t0.tms_cstime == 0);

    /* A child that is still running counts for nothing. */
    pid_t p = spawn_burner(120, 0);
    printf("running child not counted: %d\n", children_ms() == 0);

    struct rusage ru;
    int st;
    memset(&ru, 0, sizeof ru);
    pid_t w = wait4(p, &st, 0, &ru);
    printf("wait4: %d exited %d\n", w == p, WIFEXITED(st) && WEXITSTATUS(st) == 0);
    printf("wait4 rusage >= 60 ms: %d\n", cpu_ms(&ru) >= 60);
    double c1 = children_ms();
    printf("RUSAGE_CHILDREN >= 60 ms: %d\n", c1 >= 60);
    printf("RUSAGE_CHILDREN covers wait4's: %d\n", c1 + 1 >= cpu_ms(&ru));
    struct tms t1;
    times(&t1);
    long hz = sysconf(_SC_CLK_TCK);
    printf("times cutime+cstime >= 60 ms: %d\n",
           (t1.tms_cutime + t1.tms_cstime) * 1000.0 / hz >= 60);

    /* A child that waited for a grandchild: both count once the child is waited for. */
    p = spawn_burner(120, 120);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    memset(&ru, 0, sizeof ru);
    int r = syscall(SYS_waitid, P_PID, p, &si, WEXITED, &ru);
    printf("waitid: %d pid %d\n", r == 0, si.si_pid == p);
    printf("waitid rusage has the grandchild's too (>= 150 ms): %d\n", cpu_ms(&ru) >= 150);
    double c2 = children_ms();
    printf("RUSAGE_CHILDREN grew by >= 150 ms: %d\n", c2 - c1 >= 150);

    /* A child reaped with WNOWAIT first is counted once, when really reaped. */
    p = spawn_burner(60, 0);
    memset(&si, 0, sizeof si);
    r = waitid(P_PID, p, &si, WEXITED | WNOWAIT);
    double c3 = children_ms();
    printf("WNOWAIT peek doesn't count: %d\n", r == 0 && c3 == c2);
    w = waitpid(p, &st, 0);
    printf("reaped after peek: %d counted: %d\n", w == p, children_ms() - c3 >= 30);

    /* The parent's own time is not its children's. */
    printf("self not in children: %d\n", children_ms() < c3 + 1000);
    return 0;
}
