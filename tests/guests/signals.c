/* Signal delivery: handlers with siginfo, masks, pending, altstack, FP state across
 * handlers, synchronous faults (SIGSEGV, SIGFPE, SIGILL), alarm/pause, sigsuspend,
 * sigtimedwait, interval timers, SA_RESETHAND, SA_NODEFER. Prints what it sees. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t hits;
static volatile int last_sig, last_code;
static volatile uintptr_t last_addr;
static volatile int on_alt;
static char altstack[65536];
static sigjmp_buf env;

static void handler(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    hits++;
    last_sig = sig;
    last_code = si->si_code;
    char here;
    on_alt = (uintptr_t)&here >= (uintptr_t)altstack &&
             (uintptr_t)&here < (uintptr_t)altstack + sizeof altstack;
    /* Clobber FP registers: the interrupted code must not notice. */
    volatile double x = 1.0;
    for (int i = 0; i < 10; i++) x = x * 3.7 + 0.1;
}

static void fault_handler(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    last_sig = sig;
    last_code = si->si_code;
    last_addr = (uintptr_t)si->si_addr;
    siglongjmp(env, 1);
}

static void plain(int sig) { hits++; last_sig = sig; }

static void install(int sig, void (*h)(int, siginfo_t *, void *), int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = h;
    sa.sa_flags = SA_SIGINFO | flags;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) != 0) { perror("sigaction"); exit(1); }
}

static volatile int nested_depth, max_depth, calls;
static void nested(int sig) {
    nested_depth++;
    calls++;
    if (nested_depth > max_depth) max_depth = nested_depth;
    if (calls < 3) raise(sig);
    nested_depth--;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    /* 1. raise → handler with siginfo. */
    install(SIGUSR1, handler, 0);
    double keep = 2.5;
    raise(SIGUSR1);
    printf("raise: hits=%d sig=%d code=%d fp-kept=%d\n", hits, last_sig, last_code,
           keep * 2 == 5.0);

    /* 2. kill to own pid (SI_USER). */
    kill(getpid(), SIGUSR1);
    printf("kill: hits=%d code=%d\n", hits, last_code);

    /* 3. blocked → pending → delivered on unblock. */
    sigset_t s, old, pend;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    sigprocmask(SIG_BLOCK, &s, &old);
    raise(SIGUSR1);
    sigpending(&pend);
    printf("blocked: hits=%d pending=%d\n", hits, sigismember(&pend, SIGUSR1));
    sigprocmask(SIG_SETMASK, &old, NULL);
    printf("unblocked: hits=%d\n", hits);

    /* 4. alternate stack. */
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) perror("sigaltstack");
    install(SIGUSR2, handler, SA_ONSTACK);
    raise(SIGUSR2);
    printf("altstack: sig=%d on_alt=%d\n", last_sig, on_alt);
    stack_t cur;
    sigaltstack(NULL, &cur);
    printf("altstack flags after=%d size-ok=%d\n", cur.ss_flags, cur.ss_size == sizeof altstack);

    /* 5. SA_RESETHAND. */
    install(SIGUSR2, handler, SA_RESETHAND);
    raise(SIGUSR2);
    struct sigaction q;
    sigaction(SIGUSR2, NULL, &q);
    printf("resethand: reset=%d\n", q.sa_handler == SIG_DFL);

    /* 6. SA_NODEFER lets a handler be re-entered. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = nested;
    sa.sa_flags = SA_NODEFER;
    sigaction(SIGURG, &sa, NULL);
    raise(SIGURG);
    printf("nodefer: depth=%d\n", max_depth);
    sa.sa_flags = 0;
    max_depth = 0;
    calls = 0;
    sigaction(SIGURG, &sa, NULL);
    raise(SIGURG);
    printf("defer: depth=%d calls=%d\n", max_depth, calls);

    /* 7. Faults. */
    install(SIGSEGV, fault_handler, SA_NODEFER);
    if (sigsetjmp(env, 1) == 0) {
        *(volatile int *)16 = 1;
    }
    printf("segv: sig=%d code=%d addr=%lu\n", last_sig, last_code, (unsigned long)last_addr);
    install(SIGFPE, fault_handler, SA_NODEFER);
    if (sigsetjmp(env, 1) == 0) {
        volatile int zero = 0;
        volatile int r = 10 / zero;
        (void)r;
    }
    printf("fpe: sig=%d code=%d\n", last_sig, last_code);
    install(SIGILL, fault_handler, SA_NODEFER);
    if (sigsetjmp(env, 1) == 0) {
        __asm__ volatile("ud2");
    }
    printf("ill: sig=%d code=%d\n", last_sig, last_code);

    /* 8. alarm + pause. */
    signal(SIGALRM, plain);
    hits = 0;
    alarm(1);
    int r = pause();
    printf("pause: r=%d errno=%s hits=%d sig=%d\n", r, r < 0 ? strerror(errno) : "-", hits,
           last_sig);
    printf("alarm left: %u\n", alarm(0));

    /* 8b. A handled signal interrupts nanosleep with EINTR and the time left. */
    alarm(1);
    struct timespec req = {5, 0}, rem = {0, 0};
    r = nanosleep(&req, &rem);
    printf("nanosleep: r=%d errno=%s rem-in-range=%d\n", r, r < 0 ? strerror(errno) : "-",
           rem.tv_sec >= 3 && rem.tv_sec <= 4);

    /* 9. sigsuspend with SIGUSR1 blocked, sent by an interval timer. */
    signal(SIGALRM, plain);
    sigemptyset(&s);
    sigaddset(&s, SIGALRM);
    sigprocmask(SIG_BLOCK, &s, &old);
    struct itimerval it = {{0, 20000}, {0, 20000}};
    setitimer(ITIMER_REAL, &it, NULL);
    hits = 0;
    sigset_t none;
    sigemptyset(&none);
    while (hits < 3) {
        r = sigsuspend(&none);
        if (r != -1 || errno != EINTR) { printf("sigsuspend odd\n"); break; }
    }
    struct itimerval zero = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &zero, NULL);
    printf("itimer+sigsuspend: hits=%d\n", hits);
    sigprocmask(SIG_SETMASK, &old, NULL);

    /* 10. sigtimedwait takes a blocked signal without running its handler. */
    install(SIGUSR1, handler, 0);
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    sigprocmask(SIG_BLOCK, &s, &old);
    hits = 0;
    raise(SIGUSR1);
    siginfo_t si;
    struct timespec ts = {1, 0};
    r = sigtimedwait(&s, &si, &ts);
    printf("sigtimedwait: r=%d code=%d hits=%d\n", r, si.si_code, hits);
    struct timespec short_ts = {0, 10000000};
    r = sigtimedwait(&s, &si, &short_ts);
    printf("sigtimedwait timeout: r=%d errno=%s\n", r, strerror(errno));
    sigprocmask(SIG_SETMASK, &old, NULL);

    /* 11. Ignored signals are discarded. */
    signal(SIGUSR1, SIG_IGN);
    raise(SIGUSR1);
    printf("ignored: ok\n");

    /* 12. sigqueue carries a value. */
    install(SIGRTMIN + 1, handler, 0);
    union sigval v = {.sival_int = 42};
    sigqueue(getpid(), SIGRTMIN + 1, v);
    printf("sigqueue: sig-ok=%d code=%d\n", last_sig == SIGRTMIN + 1, last_code);
    return 0;
}
