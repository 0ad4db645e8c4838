/* Hostile timer values (issue 12): setitimer/alarm with LONG_MAX seconds and huge
 * intervals, thousands of re-armings, out-of-range tv_usec/tv_sec; timer_settime,
 * timerfd_settime, nanosleep, clock_nanosleep, ppoll, futex and sigtimedwait with LONG_MAX
 * timeouts. Then a normal 10 ms timer must still fire. Prints booleans only, never timings;
 * exits 0 (or argv[1], to check that snare exits with the guest's status). */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t alarms;

static void on_alarm(int sig) {
    (void)sig;
    alarms++;
}

static int failed;

static void check(const char *what, int ok) {
    printf("%s: %s\n", what, ok ? "ok" : "FAIL");
    if (!ok)
        failed = 1;
}

/* setitimer through the raw syscall (glibc may check arguments itself). */
static int set_raw(int which, long vs, long vus, long is, long ius, struct itimerval *old) {
    struct itimerval v = {{is, ius}, {vs, vus}};
    return syscall(SYS_setitimer, which, &v, old) == 0 ? 0 : errno;
}

static const char *ename(int e) {
    switch (e) {
    case 0: return "0";
    case EINVAL: return "EINVAL";
    case EFAULT: return "EFAULT";
    case EINTR: return "EINTR";
    case EAGAIN: return "EAGAIN";
    case ETIMEDOUT: return "ETIMEDOUT";
    default: return "other";
    }
}

/* Waits up to 2 s for SIGALRM to have been handled `n` times. */
static int wait_alarms(int n) {
    for (int i = 0; i < 200 && alarms < n; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return alarms >= n;
}

static const long TEN_YEARS = 10L * 365 * 24 * 3600;
/* KTIME_MAX (2^63 - 1 ns) in seconds and microseconds: where Linux clamps timer values. */
static const long KTIME_MAX_SEC = 9223372036L;
static const long KTIME_MAX_USEC = 854775L;

int main(int argc, char **argv) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval cur, old;

    /* A far-future timer never fires and reads back as far off. */
    check("setitimer LONG_MAX value", set_raw(ITIMER_REAL, LONG_MAX, 0, 0, 0, NULL) == 0);
    getitimer(ITIMER_REAL, &cur);
    check("getitimer: far off, not negative",
          cur.it_value.tv_sec > TEN_YEARS && cur.it_value.tv_sec <= KTIME_MAX_SEC);
    check("LONG_MAX value, 999999 usec",
          set_raw(ITIMER_REAL, LONG_MAX, 999999, LONG_MAX, 999999, &old) == 0);
    check("old value far off", old.it_value.tv_sec > TEN_YEARS);
    getitimer(ITIMER_REAL, &cur);
    check("interval clamped to KTIME_MAX",
          cur.it_interval.tv_sec == KTIME_MAX_SEC && cur.it_interval.tv_usec == KTIME_MAX_USEC);

    /* A huge interval after a short value: fires once, then never again. */
    alarms = 0;
    check("1 ms value, LONG_MAX interval", set_raw(ITIMER_REAL, 0, 1000, LONG_MAX, 0, NULL) == 0);
    check("fired once", wait_alarms(1));
    struct timespec pause_ts = {0, 30 * 1000 * 1000};
    nanosleep(&pause_ts, NULL);
    check("and only once", alarms == 1);
    getitimer(ITIMER_REAL, &cur);
    check("still armed, far off", cur.it_value.tv_sec > TEN_YEARS);

    /* Many re-armings. */
    int rearm_ok = 1;
    for (int i = 0; i < 20000; i++)
        rearm_ok &= set_raw(ITIMER_REAL, 3600 + i % 7, i % 1000000, i % 3, 0, NULL) == 0;
    check("20000 re-armings", rearm_ok);
    for (int i = 0; i < 2000; i++)
        alarm(1000 + i);
    check("alarm(UINT_MAX) then alarm(0)", alarm(UINT_MAX) == 2999 && alarm(0) == UINT_MAX);

    /* Out-of-range values. */
    printf("usec 1000000: %s\n", ename(set_raw(ITIMER_REAL, 1, 1000000, 0, 0, NULL)));
    printf("usec -1: %s\n", ename(set_raw(ITIMER_REAL, 1, -1, 0, 0, NULL)));
    printf("sec -1: %s\n", ename(set_raw(ITIMER_REAL, -1, 0, 0, 0, NULL)));
    printf("interval usec 1000000: %s\n", ename(set_raw(ITIMER_REAL, 1, 0, 0, 1000000, NULL)));
    printf("interval sec LONG_MIN: %s\n", ename(set_raw(ITIMER_REAL, 1, 0, LONG_MIN, 0, NULL)));
    printf("usec LONG_MAX: %s\n", ename(set_raw(ITIMER_REAL, 0, LONG_MAX, 0, 0, NULL)));
    printf("which 3: %s\n", ename(set_raw(3, 1, 0, 0, 0, NULL)));
    printf("which -1: %s\n", ename(set_raw(-1, 1, 0, 0, 0, NULL)));
    errno = 0;
    printf("getitimer which 7: %s\n",
           ename(syscall(SYS_getitimer, 7, &cur) == 0 ? 0 : errno));
    check("CPU itimers take LONG_MAX too",
          set_raw(ITIMER_VIRTUAL, LONG_MAX, 0, LONG_MAX, 0, NULL) == 0 &&
              set_raw(ITIMER_PROF, LONG_MAX, 0, 0, 0, NULL) == 0);
    set_raw(ITIMER_VIRTUAL, 0, 0, 0, 0, NULL);
    set_raw(ITIMER_PROF, 0, 0, 0, 0, NULL);

    /* getitimer values. */
    set_raw(ITIMER_REAL, 5, 0, 2, 500000, NULL);
    getitimer(ITIMER_REAL, &cur);
    check("getitimer value in (4 s, 5 s]",
          cur.it_value.tv_sec == 4 || (cur.it_value.tv_sec == 5 && cur.it_value.tv_usec == 0));
    check("getitimer interval 2.5 s", cur.it_interval.tv_sec == 2 && cur.it_interval.tv_usec == 500000);
    set_raw(ITIMER_REAL, 0, 0, 0, 0, &old);
    check("disarm returns the old value", old.it_value.tv_sec == 4 || old.it_value.tv_sec == 5);
    getitimer(ITIMER_REAL, &cur);
    check("disarmed", cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0);

    /* POSIX timer and timerfd with LONG_MAX. */
    timer_t t;
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGALRM;
    check("timer_create", timer_create(CLOCK_MONOTONIC, &sev, &t) == 0);
    struct itimerspec its = {{LONG_MAX, 999999999}, {LONG_MAX, 999999999}}, got;
    check("timer_settime LONG_MAX", timer_settime(t, 0, &its, NULL) == 0);
    timer_gettime(t, &got);
    check("timer_gettime far off, clamped",
          got.it_value.tv_sec > TEN_YEARS && got.it_value.tv_sec <= KTIME_MAX_SEC &&
              got.it_interval.tv_sec == KTIME_MAX_SEC);
    check("timer_settime TIMER_ABSTIME LONG_MAX", timer_settime(t, TIMER_ABSTIME, &its, NULL) == 0);
    timer_delete(t);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    check("timerfd_settime LONG_MAX", timerfd_settime(tfd, 0, &its, NULL) == 0);
    timerfd_gettime(tfd, &got);
    check("timerfd_gettime far off, clamped",
          got.it_value.tv_sec > TEN_YEARS && got.it_value.tv_sec <= KTIME_MAX_SEC);
    close(tfd);

    /* Waits with LONG_MAX timeouts: each ends at once (something is ready) or by a signal. */
    struct timespec forever = {LONG_MAX, 999999999};
    int p[2];
    pipe(p);
    write(p[1], "x", 1);
    struct pollfd pfd = {p[0], POLLIN, 0};
    check("ppoll LONG_MAX, ready", ppoll(&pfd, 1, &forever, NULL) == 1);
    int word = 1;
    errno = 0;
    long r = syscall(SYS_futex, &word, FUTEX_WAIT, 2, &forever, NULL, 0);
    printf("futex LONG_MAX, other value: %s\n", ename(r == 0 ? 0 : errno));
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    raise(SIGUSR1);
    check("sigtimedwait LONG_MAX, pending", sigtimedwait(&usr1, NULL, &forever) == SIGUSR1);
    alarms = 0;
    set_raw(ITIMER_REAL, 0, 10000, 0, 0, NULL);
    errno = 0;
    r = nanosleep(&forever, NULL);
    printf("nanosleep LONG_MAX, alarm: %s\n", ename(r == 0 ? 0 : errno));
    set_raw(ITIMER_REAL, 0, 10000, 0, 0, NULL);
    r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &forever, NULL);
    printf("clock_nanosleep abs LONG_MAX, alarm: %s\n", ename(r));
    check("both alarms fired", alarms == 2);

    /* After all that, a normal 10 ms timer fires, and an interval repeats. */
    alarms = 0;
    check("10 ms one-shot", set_raw(ITIMER_REAL, 0, 10000, 0, 0, NULL) == 0);
    check("fired", wait_alarms(1));
    alarms = 0;
    set_raw(ITIMER_REAL, 0, 5000, 0, 5000, NULL);
    check("5 ms interval fires repeatedly", wait_alarms(3));
    set_raw(ITIMER_REAL, 0, 0, 0, 0, NULL);
    check("alarm(1) fires", (alarms = 0, alarm(1) == 0) && wait_alarms(1));

    if (failed)
        return 1;
    return argc > 1 ? atoi(argv[1]) : 0;
}
