/* Hostile guests that attack the stub they run in (issue 12). Each mode forks a child that
 * attacks; the parent (which never attacks) checks the child ends in bounded time with the
 * expected status and that the sandbox still works after it: fresh children run their own
 * code and exit with their own status.
 *
 *   takeover     a thread forges an `exit` event in its own slot and keeps running; the
 *                process then exits. Its stub must not serve the next process.
 *   poison       the same forged exit, with a bogus FP state pointer, after which the thread
 *                really exits (through the stub's own `exit`): its stub may then be pooled,
 *                and must not carry the forged frame to the next process (it used to make
 *                every later fork fail with ENOMEM).
 *   done         a thread scribbles the control response page (`done`, results, sleep flags)
 *                while the main thread makes the Sentry send control requests.
 *   sigmask      a thread rt_sigreturns through the stub's restorer with every signal
 *                blocked and spins; the main thread then exit_group(7)s.
 *   sigmask-kill the same thread; the parent SIGKILLs the child.
 *   sigmask-init the same thread in the sandbox's init, which then sleeps: the test sends
 *                snare SIGINT (run with no parent in the guest).
 *
 * Natively there is no stub region: every mode checks for it first and prints "no stub"
 * (exit 0), so the differential harness can require native success.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* stub/src/layout.rs */
#define STUB_BASE 0x700000000000ULL
#define STUB_CODE (STUB_BASE + 0x4000)
#define STUB_CODE_MAX 0xc000
#define STUB_CTRL_RESP (STUB_BASE + 0x11000)
#define STUB_SLOTS (STUB_BASE + 0x100000)
#define SLOT_SIZE 0x8000ULL
#define SLOT_STATE 0
#define SLOT_SIGNO 64
#define SLOT_SIGINFO 72
#define SLOT_UCONTEXT 80
#define STATE_SENTRY 2
/* struct ucontext: uc_mcontext at 40; sigcontext r15 at 56, rax at 104, rip at 128,
 * eflags 136, cs 144, fpstate 184; uc_sigmask at 40 + 256 = 296. */
#define UC_MC 40
#define MC_R15 56
#define MC_RDI 64
#define MC_RAX 104
#define MC_RSP 120
#define MC_RIP 128
#define MC_EFLAGS 136
#define MC_CSGSFS 144
#define MC_FPSTATE 184
#define UC_SIGMASK 296

static sigjmp_buf probe_jmp;
static volatile int probing;

static void on_segv(int sig) {
    (void)sig;
    if (probing)
        siglongjmp(probe_jmp, 1);
    _exit(99);
}

/* Whether `addr` can be read (a fault says no). */
static int readable(uint64_t addr) {
    volatile uint64_t v;
    probing = 1;
    if (sigsetjmp(probe_jmp, 1)) {
        probing = 0;
        return 0;
    }
    v = *(volatile uint64_t *)addr;
    (void)v;
    probing = 0;
    return 1;
}

static int in_sandbox(void) {
    struct sigaction sa = {0};
    sa.sa_handler = on_segv;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    return readable(STUB_CODE);
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- takeover ---- */

static volatile int forged;

/* A trapped getpid with r15 = magic: the thread's slot then holds a frame with it. */
static void marked_syscall(uint64_t magic) {
    long nr = SYS_getpid;
    __asm__ volatile("mov %1, %%r15\n\tsyscall" : "+a"(nr) : "r"(magic) : "rcx", "r11", "r15", "memory");
}

static uint64_t find_my_slot(void) {
    uint64_t mapped[64];
    int n = 0;
    for (int i = 0; i < 64; i++) {
        uint64_t s = STUB_SLOTS + i * SLOT_SIZE;
        if (readable(s + SLOT_UCONTEXT))
            mapped[n++] = s;
    }
    const uint64_t magic = 0x5eedc0de12345678ULL;
    for (int tries = 0; tries < 3; tries++) {
        marked_syscall(magic);
        for (int i = 0; i < n; i++) {
            uint64_t uc = *(volatile uint64_t *)(mapped[i] + SLOT_UCONTEXT);
            if (uc < mapped[i] || uc + 512 > mapped[i] + SLOT_SIZE)
                continue;
            if (*(volatile uint64_t *)(uc + UC_MC + MC_R15) == magic)
                return mapped[i];
        }
    }
    return 0;
}

static void *forger(void *arg) {
    (void)arg;
    uint64_t slot = find_my_slot();
    if (!slot) {
        forged = -1;
        return NULL;
    }
    /* A SIGSYS frame of `exit(0)` in the slot's signal stack, and the header pointing at it. */
    uint64_t si = slot + 0x2000, uc = slot + 0x2400, fp = slot + 0x3000;
    memset((void *)si, 0, 128);
    memset((void *)uc, 0, 0x400);
    memset((void *)fp, 0, 512);
    *(int32_t *)(si + 0) = SIGSYS;
    *(int32_t *)(si + 8) = 1;             /* SYS_SECCOMP */
    *(int32_t *)(si + 24) = SYS_exit;     /* si_syscall */
    *(uint32_t *)(si + 28) = 0xc000003e;  /* AUDIT_ARCH_X86_64 */
    *(uint64_t *)(uc + UC_MC + MC_RAX) = SYS_exit;
    *(uint64_t *)(uc + UC_MC + MC_FPSTATE) = fp;
    *(uint64_t *)(uc + UC_MC + MC_CSGSFS) = 0x33 | (0x2bULL << 48);
    *(uint32_t *)(slot + SLOT_SIGNO) = SIGSYS;
    *(uint64_t *)(slot + SLOT_SIGINFO) = si;
    *(uint64_t *)(slot + SLOT_UCONTEXT) = uc;
    __atomic_store_n((uint32_t *)(slot + SLOT_STATE), STATE_SENTRY, __ATOMIC_SEQ_CST);
    forged = 1;
    /* Keep running guest code, as if still alive (no syscalls: they would trap). */
    for (volatile uint64_t i = 0;; i++)
        ;
    return NULL;
}

/* The first place in the stub code holding `len` bytes `pat`, or 0. */
static uint64_t find_in_stub_code(const unsigned char *pat, size_t len) {
    for (uint64_t a = STUB_CODE; a + len < STUB_CODE + STUB_CODE_MAX; a++)
        if (!memcmp((void *)a, pat, len))
            return a;
    return 0;
}

/* The handler's `exit` of a retired thread: `mov eax, 60; xor edi, edi; syscall`. */
static uint64_t find_stub_exit(void) {
    static const unsigned char pat[] = {0xb8, 0x3c, 0x00, 0x00, 0x00, 0x31, 0xff, 0x0f, 0x05};
    return find_in_stub_code(pat, sizeof pat);
}

static volatile int poison;

static void *forger_then_exit(void *arg) {
    (void)arg;
    uint64_t slot = find_my_slot(), stub_exit = find_stub_exit();
    if (!slot || !stub_exit) {
        forged = -1;
        return NULL;
    }
    uint64_t si = slot + 0x2000, uc = slot + 0x2400;
    memset((void *)si, 0, 128);
    memset((void *)uc, 0, 0x400);
    *(int32_t *)(si + 0) = SIGSYS;
    *(int32_t *)(si + 8) = 1;
    *(int32_t *)(si + 24) = SYS_exit;
    *(uint32_t *)(si + 28) = 0xc000003e;
    *(uint64_t *)(uc + UC_MC + MC_RAX) = SYS_exit;
    *(uint64_t *)(uc + UC_MC + MC_FPSTATE) = 0x1234567; /* nowhere near the slot */
    *(uint64_t *)(uc + UC_MC + MC_CSGSFS) = 0x33 | (0x2bULL << 48);
    *(uint32_t *)(slot + SLOT_SIGNO) = SIGSYS;
    *(uint64_t *)(slot + SLOT_SIGINFO) = si;
    *(uint64_t *)(slot + SLOT_UCONTEXT) = uc;
    __atomic_store_n((uint32_t *)(slot + SLOT_STATE), STATE_SENTRY, __ATOMIC_SEQ_CST);
    forged = 1;
    /* Let the Sentry take the forged exit, then leave for real. */
    for (volatile uint64_t i = 0; i < 400000000ULL; i++)
        ;
    __asm__ volatile("jmp *%0" : : "r"(stub_exit) : "memory");
    return NULL;
}

static int attack_takeover(void) {
    pthread_t t;
    pthread_create(&t, NULL, poison ? forger_then_exit : forger, NULL);
    for (int i = 0; i < 200 && !forged; i++)
        sleep_ms(5);
    if (forged != 1) {
        fprintf(stderr, "takeover: could not forge (%d)\n", forged);
        return 3;
    }
    /* Give the Sentry time to take the forged exit (it sleeps up to 100 ms). */
    sleep_ms(300);
    return 0;
}

/* ---- done ---- */

static volatile int stop_scribbling;

static void *scribbler(void *arg) {
    (void)arg;
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    volatile uint32_t *w = (volatile uint32_t *)STUB_CTRL_RESP;
    while (!stop_scribbling) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        w[x % 48] = (uint32_t)(x >> 32); /* done, ready, sleep flags, rets */
    }
    return NULL;
}

static int attack_done(void) {
    pthread_t t;
    pthread_create(&t, NULL, scribbler, NULL);
    for (int i = 0; i < 2000; i++) {
        size_t len = (size_t)(1 + i % 64) << 12;
        char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return 4;
        for (size_t o = 0; o < len; o += 4096)
            p[o] = (char)i;
        mprotect(p, len, PROT_READ);
        munmap(p, len);
        if (i % 200 == 0) {
            pid_t c = fork();
            if (c == 0)
                _exit(0);
            if (c > 0)
                waitpid(c, NULL, 0);
        }
    }
    stop_scribbling = 1;
    return 0;
}

/* ---- sigmask ---- */

static volatile int masked;
static char spin_stack[16384] __attribute__((aligned(16)));

static void spin_forever(void) {
    masked = 1;
    for (volatile uint64_t i = 0;; i++)
        ;
}

/* The stub's restorer: `mov eax, 15; syscall`. */
static uint64_t find_restorer(void) {
    static const unsigned char pat[] = {0xb8, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05};
    return find_in_stub_code(pat, sizeof pat);
}

static void *masker(void *arg) {
    (void)arg;
    uint64_t restorer = find_restorer();
    if (!restorer) {
        masked = -1;
        return NULL;
    }
    static unsigned char frame[2048] __attribute__((aligned(64)));
    memset(frame, 0, sizeof frame);
    uint64_t uc = (uint64_t)frame;
    *(uint64_t *)(uc + 16) = 0;     /* uc_stack.ss_sp */
    *(int32_t *)(uc + 24) = 2;      /* uc_stack.ss_flags = SS_DISABLE */
    *(uint64_t *)(uc + 32) = 0;     /* uc_stack.ss_size */
    *(uint64_t *)(uc + UC_MC + MC_RIP) = (uint64_t)spin_forever;
    *(uint64_t *)(uc + UC_MC + MC_RSP) = (uint64_t)(spin_stack + sizeof spin_stack - 8);
    *(uint64_t *)(uc + UC_MC + MC_EFLAGS) = 0x202;
    *(uint64_t *)(uc + UC_MC + MC_CSGSFS) = 0x33 | (0x2bULL << 48);
    *(uint64_t *)(uc + UC_MC + MC_FPSTATE) = 0;
    *(uint64_t *)(uc + UC_SIGMASK) = ~0ULL;
    /* rt_sigreturn takes the ucontext at the stack pointer (the `ret` into the restorer
     * popped the frame's return address). */
    __asm__ volatile("mov %0, %%rsp\n\tjmp *%1" : : "r"(uc), "r"(restorer) : "memory");
    return NULL;
}

static int start_masker(void) {
    pthread_t t;
    pthread_create(&t, NULL, masker, NULL);
    for (int i = 0; i < 400 && !masked; i++)
        sleep_ms(5);
    if (masked != 1) {
        fprintf(stderr, "sigmask: could not block (%d)\n", masked);
        return 3;
    }
    sleep_ms(50);
    return 0;
}

/* ---- the parent ---- */

static int watchdog_fired;
static void on_alarm(int sig) {
    (void)sig;
    watchdog_fired = 1;
}

/* Waits for `pid` with a deadline; returns its status or -1 on a hang. */
static int wait_bounded(pid_t pid, int secs) {
    struct sigaction sa = {0};
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    watchdog_fired = 0;
    alarm(secs);
    int st;
    pid_t r;
    do
        r = waitpid(pid, &st, 0);
    while (r < 0 && errno == EINTR && !watchdog_fired);
    alarm(0);
    return r == pid ? st : -1;
}

static int child_value;

static void *write_value(void *fd) {
    write(*(int *)fd, &child_value, sizeof child_value);
    return NULL;
}

/* Later processes run their own code: each child writes a value back through a pipe. */
static int sandbox_still_works(void) {
    for (int i = 0; i < 8; i++) {
        int p[2];
        if (pipe(p))
            return 0;
        pid_t c = fork();
        if (c == 0) {
            /* From a second thread too: a stub's parked threads are handed out last in,
             * first out, so a forged one would be this thread. */
            child_value = 1000 + i;
            pthread_t t;
            if (pthread_create(&t, NULL, write_value, &p[1]) || pthread_join(t, NULL))
                _exit(100);
            _exit(i);
        }
        close(p[1]);
        int v = 0;
        ssize_t n = read(p[0], &v, sizeof v);
        close(p[0]);
        int st = wait_bounded(c, 10);
        if (n != sizeof v || v != 1000 + i || st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != i) {
            fprintf(stderr, "child %d: n=%zd v=%d status=%#x\n", i, n, v, st);
            return 0;
        }
    }
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2)
        return 2;
    const char *mode = argv[1];
    if (!in_sandbox()) {
        printf("no stub\n");
        return 0;
    }
    if (!strcmp(mode, "sigmask-init")) {
        /* Init itself; the test sends snare SIGINT. */
        if (start_masker())
            return 3;
        printf("blocked\n");
        fflush(stdout);
        for (;;)
            pause();
    }
    if (!sandbox_still_works())
        return 10;
    pid_t c = fork();
    if (c == 0) {
        int r = 2;
        if (!strcmp(mode, "takeover"))
            r = attack_takeover();
        else if (!strcmp(mode, "poison")) {
            poison = 1;
            r = attack_takeover();
            sleep_ms(700);
        }
        else if (!strcmp(mode, "done"))
            r = attack_done();
        else if (!strcmp(mode, "sigmask") || !strcmp(mode, "sigmask-kill")) {
            r = start_masker();
            if (r == 0 && !strcmp(mode, "sigmask-kill"))
                for (;;)
                    pause();
            if (r == 0)
                syscall(SYS_exit_group, 7);
        }
        _exit(r);
    }
    if (!strcmp(mode, "sigmask-kill")) {
        sleep_ms(500);
        kill(c, SIGKILL);
    }
    int st = wait_bounded(c, 30);
    if (st < 0) {
        printf("attacker never ended\n");
        return 11;
    }
    if (WIFEXITED(st))
        printf("attacker exited %d\n", WEXITSTATUS(st));
    else
        printf("attacker killed by %d\n", WTERMSIG(st));
    if (!sandbox_still_works()) {
        printf("sandbox broken after the attack\n");
        return 12;
    }
    printf("sandbox fine\n");
    return 0;
}
