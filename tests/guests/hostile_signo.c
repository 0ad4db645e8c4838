/* A guest that forges the event its stub publishes (issue 12): a forked child finds its own
 * thread's slot in the stub region (stub/src/layout.rs: STUB_SLOTS, SLOT_SIZE, ThreadSlot),
 * writes a signal number that names no signal (0, 1000, -5, 65) into the slot header's
 * `signo` and into the published siginfo's `si_signo`, hands the slot to the Sentry
 * (`state = STATE_SENTRY`) and spins. The Sentry must kill that child with SIGKILL and go on:
 * the parent sees WIFSIGNALED/SIGKILL each time, then forks a normal child and exits 0.
 * Meaningful under snare only (natively there is no stub region: the child reports it). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STUB_SLOTS 0x700000100000ULL
#define SLOT_SIZE 0x8000ULL
#define STATE_GUEST 1u
#define STATE_SENTRY 2u
/* ThreadSlot offsets. */
#define OFF_STATE 0
#define OFF_SIGNO 64
#define OFF_SIGINFO 72

static sigjmp_buf probe_env;

static void on_segv(int sig) {
    (void)sig;
    siglongjmp(probe_env, 1);
}

/* Reads a u64 at `addr`; 0 if it faults. */
static int probe(uint64_t addr, uint64_t *out) {
    if (sigsetjmp(probe_env, 1))
        return 0;
    *out = *(volatile uint64_t *)addr;
    return 1;
}

static void forge(int signo) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_segv;
    sa.sa_flags = SA_NODEFER;
    sigaction(SIGSEGV, &sa, NULL);
    for (uint64_t i = 0; i < 64; i++) {
        uint64_t slot = STUB_SLOTS + i * SLOT_SIZE, head, si;
        if (!probe(slot + OFF_STATE, &head) || (uint32_t)head != STATE_GUEST)
            continue;
        if (!probe(slot + OFF_SIGINFO, &si) || si < slot || si >= slot + SLOT_SIZE - 128)
            continue;
        /* The live thread's slot: forge its event. */
        *(volatile int32_t *)si = signo;
        *(volatile uint32_t *)(slot + OFF_SIGNO) = (uint32_t)signo;
        __atomic_store_n((uint32_t *)(slot + OFF_STATE), STATE_SENTRY, __ATOMIC_SEQ_CST);
        /* Spin (no syscalls) until the Sentry acts; 5 s at most. */
        struct timespec t0, t;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        do
            clock_gettime(CLOCK_MONOTONIC, &t);
        while (t.tv_sec - t0.tv_sec < 5);
        _exit(3);
    }
    _exit(2); /* no slot found (natively) */
}

int main(void) {
    int forged[] = {0, 1000, -5, 65, 0x7fffffff};
    int failed = 0;
    for (unsigned k = 0; k < sizeof forged / sizeof forged[0]; k++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0)
            forge(forged[k]);
        int st;
        if (waitpid(pid, &st, 0) != pid) {
            perror("waitpid");
            return 1;
        }
        int killed = WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
        printf("forged signo %d: %s (status %#x)\n", forged[k],
               killed ? "killed by SIGKILL" : "NOT killed", st);
        failed |= !killed;
    }
    /* The sandbox goes on. */
    pid_t pid = fork();
    if (pid == 0)
        _exit(42);
    int st;
    waitpid(pid, &st, 0);
    int ok = WIFEXITED(st) && WEXITSTATUS(st) == 42;
    printf("fork after: %s\n", ok ? "ok" : "FAIL");
    return failed || !ok;
}
