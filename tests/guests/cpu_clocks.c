/* CPU-time clocks by id (clock_getcpuclockid, pthread_getcpuclockid, and raw ids
 * `~pid << 3 | perthread | which`): read with clock_gettime and clock_getres, for the caller,
 * another of its threads, another process; the ids Linux refuses (another process's thread,
 * a missing pid, type 3, a thread clock slept on). Prints booleans and errnos only. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROF 0
#define VIRT 1
#define SCHED 2
#define THREAD 4
static clockid_t clock_of(pid_t pid, int bits) { return (clockid_t)((~pid << 3) | bits); }

static long long ns(struct timespec t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }

/* clock_gettime's result: the reading, or minus the errno. */
static long long read_clock(clockid_t c) {
    struct timespec t;
    if (syscall(SYS_clock_gettime, c, &t) != 0) return -errno;
    return ns(t);
}

static void say(const char *what, long r) {
    printf("%s: %ld errno %d\n", what, r, r < 0 ? errno : 0);
}

static void burn(long long cpu_ns, clockid_t c) {
    struct timespec t0, t;
    clock_gettime(c, &t0);
    do clock_gettime(c, &t); while (ns(t) - ns(t0) < cpu_ns);
}

static volatile int stop;
static pid_t worker_tid;
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int phase;

static void *worker(void *arg) {
    (void)arg;
    worker_tid = gettid();
    burn(50000000, CLOCK_THREAD_CPUTIME_ID);
    pthread_mutex_lock(&m);
    phase = 1;
    pthread_cond_broadcast(&cv);
    while (phase != 2) pthread_cond_wait(&cv, &m);
    pthread_mutex_unlock(&m);
    /* From a thread that is not the leader: its own tid as a process clock. */
    long long r = read_clock(clock_of(gettid(), SCHED));
    printf("own tid as process clock read: %d\n", r > 0);
    struct timespec res;
    errno = 0;
    say("own tid as process clock getres",
        syscall(SYS_clock_getres, clock_of(gettid(), SCHED), &res));
    return NULL;
}

int main(void) {
    burn(30000000, CLOCK_PROCESS_CPUTIME_ID);
    clockid_t c;
    printf("pthread_getcpuclockid: %d\n", pthread_getcpuclockid(pthread_self(), &c));
    long long a = read_clock(c), b = read_clock(c);
    printf("own thread clock read: %d monotonic %d\n", a > 0, b >= a);
    printf("own thread clock is thread clock: %d\n",
           a <= read_clock(CLOCK_THREAD_CPUTIME_ID));
    printf("clock_getcpuclockid: %d\n", clock_getcpuclockid(getpid(), &c));
    a = read_clock(c);
    printf("own process clock read: %d\n", a > 0);
    printf("pid 0 clocks read: %d %d %d\n", read_clock(clock_of(0, SCHED)) > 0,
           read_clock(clock_of(0, SCHED | THREAD)) > 0, read_clock(clock_of(0, PROF)) > 0);
    long long virt = read_clock(clock_of(0, VIRT)), prof = read_clock(clock_of(0, PROF));
    printf("virt <= prof: %d\n", virt >= 0 && virt <= prof);
    printf("type 3: %lld\n", read_clock(clock_of(0, 3)));
    printf("type 3 thread: %lld\n", read_clock(clock_of(0, 3 | THREAD)));
    printf("missing process: %lld\n", read_clock(clock_of(999999, SCHED)));
    printf("missing thread: %lld\n", read_clock(clock_of(999999, SCHED | THREAD)));
    printf("pid past PID_MAX: %lld\n", read_clock(clock_of(4194305, SCHED)));
    printf("clock_getcpuclockid of a missing pid: %d\n", clock_getcpuclockid(999999, &c));

    struct timespec res;
    syscall(SYS_clock_getres, clock_of(0, SCHED), &res);
    printf("SCHED resolution 1 ns: %d\n", ns(res) == 1);
    syscall(SYS_clock_getres, clock_of(0, PROF | THREAD), &res);
    printf("PROF resolution a tick: %d\n", ns(res) > 1 && ns(res) <= 10000000);
    say("getres missing process", syscall(SYS_clock_getres, clock_of(999999, SCHED), &res));
    say("getres type 3", syscall(SYS_clock_getres, clock_of(0, 3), &res));

    /* Another thread of the process: its clock counts its time, not the caller's. */
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    pthread_mutex_lock(&m);
    while (phase != 1) pthread_cond_wait(&cv, &m);
    pthread_mutex_unlock(&m);
    printf("pthread_getcpuclockid other: %d\n", pthread_getcpuclockid(t, &c));
    long long w = read_clock(c);
    printf("other thread's clock: %d\n", w >= 40000000);
    printf("other thread by tid: %d\n",
           read_clock(clock_of(worker_tid, SCHED | THREAD)) >= 40000000);
    struct timespec d = {0, 1000};
    say("sleep on own thread clock", syscall(SYS_clock_nanosleep, clock_of(0, SCHED | THREAD), 0, &d, NULL));
    say("sleep on own thread clock by tid",
        syscall(SYS_clock_nanosleep, clock_of(getpid(), SCHED | THREAD), 0, &d, NULL));
    pthread_mutex_lock(&m);
    phase = 2;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&m);
    pthread_join(t, NULL);

    /* Another process: its process clock reads, its thread clock is EINVAL; a timer on its
     * process clock fires when it has run long enough. */
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    int go[2], start[2];
    if (pipe(go) != 0 || pipe(start) != 0) return 1;
    pid_t p = fork();
    if (p == 0) {
        char ch;
        close(go[1]);
        close(start[1]);
        if (read(start[0], &ch, 1) != 1) _exit(1);
        burn(100000000, CLOCK_PROCESS_CPUTIME_ID);
        while (read(go[0], &ch, 1) > 0) {}
        _exit(0);
    }
    close(go[0]);
    close(start[0]);
    struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1};
    timer_t timer;
    say("timer_create on child's process clock",
        timer_create(clock_of(p, SCHED), &sev, &timer));
    struct itimerspec its = {.it_value = {0, 20000000}};
    say("timer_settime", timer_settime(timer, 0, &its, NULL));
    struct timespec wait = {5, 0};
    if (write(start[1], "x", 1) != 1) return 1;
    printf("timer fired: %d\n", sigtimedwait(&usr1, NULL, &wait) == SIGUSR1);
    printf("not early: %d\n", read_clock(clock_of(p, SCHED)) >= 20000000);
    timer_delete(timer);
    say("timer_create on child's thread clock",
        timer_create(clock_of(p, SCHED | THREAD), &sev, &timer));
    printf("clock_getcpuclockid child: %d\n", clock_getcpuclockid(p, &c));
    long long r = read_clock(c);
    printf("child's process clock: %d\n", r >= 0);
    printf("child's thread clock: %lld\n", read_clock(clock_of(p, SCHED | THREAD)));
    say("getres child's process clock", syscall(SYS_clock_getres, clock_of(p, SCHED), &res));
    close(go[1]);
    waitpid(p, NULL, 0);
    printf("reaped child's process clock: %lld\n", read_clock(clock_of(p, SCHED)));
    return 0;
}
