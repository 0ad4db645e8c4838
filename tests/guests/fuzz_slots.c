/* Slot fuzzer (issue 12): guest threads scribble over the stub's shared memory (their
 * process's thread slots and the control response page), forge events and jump into stub
 * code, while other threads and processes make ordinary syscalls and check the results.
 *
 *   fuzz_slots SEED BUDGET_MS [EXCLUDE]
 *
 * Layout (stub/src/layout.rs): STUB_BASE 0x7000_0000_0000, stub code at +0x4000 (48 KiB),
 * control request page at +0x10000 (read-only), response page at +0x11000 (writable:
 * `done`, `ready`, `ctrl_sleeping`, `sentry_sleeping`, `rets[32]` from +64, recvmsg buffers
 * from +0x800), slots from +0x10_0000, 32 KiB each: a ThreadSlot header (state, stub_sleeping,
 * sentry_sleeping, command, stub_spin; signo at +64, siginfo +72, ucontext +80, fs_base,
 * gs_base, fp_dirty, fast_kick, fp_sw) then the signal stack; the fast path's frame at
 * +0x4000.. of the slot.
 *
 * The supervisor (pid 1) runs rounds until BUDGET_MS is spent. Each round has two scribbling
 * workers (two scribbler threads and one checking thread each) and two checking workers.
 * Scribbling workers may die any way or be SIGKILLed at the round's deadline; their own
 * checking thread only reports what it sees. Checking workers must exit 0 by themselves:
 * a wrong result there (another process disturbed) or a checker stuck for 10 s fails the
 * run. The supervisor must reap everyone, then checks a pipe round trip and fork + exec of
 * /bin/true. Output as fuzz_syscalls.c: "round R seed S" (`fuzz_slots S 1` replays that
 * round), "QUIET R", "fuzz_slots: ok rounds=N"; exit 0 or 1.
 *
 * EXCLUDE: comma-separated hazard classes to avoid (Sentry bugs being fixed elsewhere), or
 * "known" for all, or "none":
 *   done   never write the response page's `done` word (a forged `done` hung the Sentry)
 *   signo  forged events carry only signo 7, 11 or 31 and keep the frame pointers of the
 *          slot's last real event; no scribbling over the frames (their si_signo) or the
 *          frame pointers (a forged signo panicked force_signal)
 *   jump   no jumps into stub code (may rt_sigreturn with every signal blocked: the thread
 *          became unkillable)
 * To narrow a finding down, also: "slot" (no scribbling over slots), "forge" (no forged
 * events), "resp" (no writes to the response page); "verbose" prints the slots found.
 */
#define _GNU_SOURCE
#include <dirent.h>
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

#define STUB_BASE 0x700000000000ull
#define STUB_CODE (STUB_BASE + 0x4000)
#define STUB_CODE_MAX 0xc000ull
#define STUB_CTRL_REQ (STUB_CODE + STUB_CODE_MAX)
#define STUB_CTRL_RESP (STUB_CTRL_REQ + 0x1000)
#define STUB_SLOTS (STUB_BASE + 0x100000)
#define SLOT_SIZE 0x8000ull
#define PROBE_SLOTS 128

static int ex_done, ex_signo, ex_jump, ex_slot, ex_forge, ex_resp, verbose;

/* ---- PRNG (splitmix64) ---- */
static uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}
static uint64_t rnd(uint64_t *s) {
    *s += 0x9e3779b97f4a7c15ull;
    return mix(*s);
}
static uint64_t below(uint64_t *s, uint64_t n) { return n ? rnd(s) % n : 0; }

static uint64_t now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ---- fault-safe access ---- */
static __thread sigjmp_buf *volatile fault_jmp;

static void on_fault(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    if (fault_jmp) siglongjmp(*fault_jmp, 1);
    /* Say who sent it: a fault (si_code > 0) or another process (SI_USER, SI_TKILL). */
    char buf[160];
    int n = snprintf(buf, sizeof buf, "pid %d: signal %d code %d from pid %d addr %p\n", getpid(),
                     sig, si->si_code, si->si_pid, si->si_addr);
    if (write(1, buf, n) < 0) {}
    _exit(70 + sig);
}

static void catch_faults(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_NODEFER | SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
}

/* Reads the word at `p`; 0 if it faulted. */
static int probe(volatile uint32_t *p) {
    sigjmp_buf jb;
    if (sigsetjmp(jb, 1)) {
        fault_jmp = NULL;
        return 0;
    }
    fault_jmp = &jb;
    (void)*p;
    fault_jmp = NULL;
    return 1;
}

/* Writes `v` at `p` (4 or 8 bytes); returns 0 if it faulted. */
static int poke(uint64_t p, uint64_t v, int wide) {
    sigjmp_buf jb;
    if (sigsetjmp(jb, 1)) {
        fault_jmp = NULL;
        return 0;
    }
    fault_jmp = &jb;
    if (wide)
        __atomic_store_n((volatile uint64_t *)p, v, __ATOMIC_RELAXED);
    else
        __atomic_store_n((volatile uint32_t *)p, (uint32_t)v, __ATOMIC_RELAXED);
    fault_jmp = NULL;
    return 1;
}

/* ---- scribblers ---- */

static uint64_t slot_value(uint64_t *s, uint64_t slot) {
    switch (below(s, 8)) {
    case 0: return 0;
    case 1: return 1;
    case 2: return 2;
    case 3: return slot + 0x1000 + (below(s, 0x7000) & ~7ull); /* inside the signal stack */
    case 4: return slot + below(s, SLOT_SIZE);                  /* inside the slot */
    case 5: return STUB_BASE + below(s, 0x200000);
    case 6: return (uint64_t)-1;
    default: return rnd(s);
    }
}

static uint64_t pick_signo(uint64_t *s) {
    static const uint64_t safe[] = {7, 11, 31};
    if (ex_signo || below(s, 2)) return safe[below(s, 3)];
    switch (below(s, 3)) {
    case 0: return below(s, 65);
    case 1: return 65 + below(s, 1000);
    default: return rnd(s);
    }
}

/* Jumps to `target` with every general register random (stack pointer included, sometimes
 * valid). Never returns, unless a fault handler longjmps out. */
static void jump_wild(uint64_t *s, uint64_t target) {
    uint64_t r[16];
    for (int i = 0; i < 16; i++) r[i] = below(s, 3) ? rnd(s) : STUB_BASE + below(s, 0x200000);
    static char stack[1 << 16];
    r[15] = below(s, 2) ? (uint64_t)stack + sizeof stack / 2 : r[15];
    r[13] = target; /* r14 */
    __asm__ volatile("mov 0(%0), %%rax\n\t"
                     "mov 8(%0), %%rbx\n\t"
                     "mov 16(%0), %%rcx\n\t"
                     "mov 24(%0), %%rdx\n\t"
                     "mov 32(%0), %%rsi\n\t"
                     "mov 48(%0), %%rbp\n\t"
                     "mov 56(%0), %%r8\n\t"
                     "mov 64(%0), %%r9\n\t"
                     "mov 72(%0), %%r10\n\t"
                     "mov 80(%0), %%r11\n\t"
                     "mov 88(%0), %%r12\n\t"
                     "mov 96(%0), %%r13\n\t"
                     "mov 104(%0), %%r14\n\t"
                     "mov 112(%0), %%r15\n\t"
                     "mov 120(%0), %%rsp\n\t"
                     "mov 40(%0), %%rdi\n\t"
                     "jmp *%%r14\n\t"
                     :
                     : "D"(r)
                     : "memory");
    __builtin_unreachable();
}

static uint64_t slots[PROBE_SLOTS];
static int nslots;

static void find_slots(void) {
    nslots = 0;
    for (int i = 0; i < PROBE_SLOTS; i++) {
        uint64_t a = STUB_SLOTS + i * SLOT_SIZE;
        if (probe((volatile uint32_t *)a)) slots[nslots++] = a;
    }
}

struct targ {
    uint64_t seed, deadline;
    int strict;
};

static void *scribbler(void *p) {
    struct targ *t = p;
    uint64_t s = t->seed;
    find_slots();
    if (verbose) printf("pid %d: %d slots mapped, first %#llx\n", getpid(), nslots, (unsigned long long)slots[0]);
    while (now_ms() < t->deadline) {
        if (below(&s, 50) == 0) find_slots();
        uint64_t slot = nslots ? slots[below(&s, nslots)] : STUB_SLOTS;
        int what = (int)below(&s, 10);
        if ((ex_slot && what <= 3) || (ex_forge && (what == 4 || what == 5)) ||
            (ex_resp && (what == 6 || what == 7)))
            what = 9;
        switch (what) {
        case 0: case 1: case 2: { /* a header word */
            uint64_t off = below(&s, 192) & ~3ull;
            if (off == 64) /* signo */
                poke(slot + off, pick_signo(&s), 0);
            else if (ex_signo && (off == 72 || off == 76 || off == 80 || off == 84))
                break; /* the frame pointers: a random siginfo has a random si_signo */
            else
                poke(slot + off, slot_value(&s, slot), (off & 7) == 0 && below(&s, 2));
            break;
        }
        case 3: { /* anywhere in the slot: signal stack, fast-path frame */
            uint64_t off = below(&s, SLOT_SIZE) & ~7ull;
            if (ex_signo) off &= 0xff8; /* not the frames: they hold si_signo */
            if (ex_signo && off >= 64 && off < 88) off = 56;
            poke(slot + off, slot_value(&s, slot), 1);
            break;
        }
        case 4: case 5: { /* a forged event */
            /* mostly keeping the frame pointers of the slot's last real event */
            poke(slot + 64, pick_signo(&s), 0);
            if (!ex_signo && below(&s, 2)) poke(slot + 72, slot_value(&s, slot), 1);
            if (!ex_signo && below(&s, 2)) poke(slot + 80, slot_value(&s, slot), 1);
            if (below(&s, 2)) poke(slot + 12, below(&s, 3), 0); /* command */
            poke(slot, 2, 0);                                    /* state = STATE_SENTRY */
            break;
        }
        case 6: case 7: { /* the response page */
            uint64_t off = below(&s, 4) ? below(&s, 64 + 32 * 8) : below(&s, 4096);
            off &= ~3ull;
            if (ex_done && off < 4) off = 4;
            poke(STUB_CTRL_RESP + off, below(&s, 2) ? below(&s, 64) : rnd(&s), 0);
            break;
        }
        case 8: /* the read-only pages: must fault */
            poke((below(&s, 2) ? STUB_CTRL_REQ : STUB_BASE) + (below(&s, 4096) & ~7ull), rnd(&s), 1);
            break;
        default: /* a little ordinary traffic from this thread too */
            syscall(SYS_getpid);
            break;
        }
    }
    return NULL;
}

/* A thread that jumps into stub code at a random offset with random registers. */
static void *jumper(void *p) {
    struct targ *t = p;
    uint64_t s = t->seed;
    sigjmp_buf jb;
    for (int i = 0; i < 4 && now_ms() < t->deadline; i++) {
        if (sigsetjmp(jb, 1)) {
            fault_jmp = NULL;
            continue;
        }
        fault_jmp = &jb;
        jump_wild(&s, STUB_CODE + below(&s, STUB_CODE_MAX));
    }
    return NULL;
}

/* ---- checkers ---- */

static volatile int wrong;

static void report(struct targ *t, const char *what, long got, long want) {
    char buf[160];
    int n = snprintf(buf, sizeof buf, "%s pid %d: %s: got %ld want %ld\n",
                     t->strict ? "WRONG" : "note", getpid(), what, got, want);
    if (write(1, buf, n) < 0) {}
    if (t->strict) _exit(99);
    wrong = 1;
}

static void *checker(void *p) {
    struct targ *t = p;
    uint64_t s = t->seed;
    long pid = getpid();
    int pfd[2];
    if (pipe(pfd)) report(t, "pipe", errno, 0);
    unsigned char out[256], in[256];
    while (now_ms() < t->deadline) {
        long r = syscall(SYS_getpid);
        if (r != pid) report(t, "getpid", r, pid);
        size_t n = 1 + below(&s, sizeof out);
        for (size_t i = 0; i < n; i++) out[i] = (unsigned char)rnd(&s);
        r = write(pfd[1], out, n);
        if (r != (long)n) report(t, "write pipe", r, n);
        memset(in, 0, sizeof in);
        r = read(pfd[0], in, n);
        if (r != (long)n) report(t, "read pipe", r, n);
        if (memcmp(in, out, n)) report(t, "pipe data", in[0], out[0]);
        size_t len = (1 + below(&s, 4)) * 4096;
        unsigned char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) {
            report(t, "mmap", errno, 0);
        } else {
            for (size_t i = 0; i < len; i += 512)
                if (m[i]) report(t, "fresh page not zero", m[i], 0);
            for (size_t i = 0; i < len; i += 512) m[i] = (unsigned char)(i >> 9) + 1;
            for (size_t i = 0; i < len; i += 512)
                if (m[i] != (unsigned char)((i >> 9) + 1)) report(t, "page data", m[i], (i >> 9) + 1);
            if (munmap(m, len)) report(t, "munmap", errno, 0);
        }
        if (below(&s, 16) == 0) {
            int code = (int)below(&s, 100);
            pid_t c = fork();
            if (c == 0) _exit(code);
            if (c < 0) {
                report(t, "fork", errno, 0);
            } else {
                int st;
                r = waitpid(c, &st, 0);
                if (r != c) report(t, "waitpid", r, c);
                else if (!WIFEXITED(st) || WEXITSTATUS(st) != code) report(t, "child status", st, code << 8);
            }
        }
    }
    close(pfd[0]);
    close(pfd[1]);
    return NULL;
}

static void worker(uint64_t seed, uint64_t slice_ms, int strict) {
    uint64_t s = seed;
    uint64_t deadline = now_ms() + slice_ms;
    alarm(2 + slice_ms / 1000);
    catch_faults();
    static struct targ ta[4];
    pthread_t th[4];
    int n = 0;
    if (!strict) {
        ta[n] = (struct targ){rnd(&s), deadline, 0};
        pthread_create(&th[n], NULL, scribbler, &ta[n]);
        n++;
        ta[n] = (struct targ){rnd(&s), deadline, 0};
        pthread_create(&th[n], NULL, (!ex_jump && below(&s, 3) == 0) ? jumper : scribbler, &ta[n]);
        n++;
    }
    ta[n] = (struct targ){rnd(&s), deadline, strict};
    pthread_create(&th[n], NULL, checker, &ta[n]);
    n++;
    struct targ self = {rnd(&s), deadline, strict};
    checker(&self);
    for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
    _exit(0);
}

/* ---- supervisor ---- */

/* Prints what /proc shows of a process that would not go away: its threads' states. */
static void describe(pid_t pid) {
    char path[320], buf[256];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    struct dirent *e;
    printf("  pid %d threads:", pid);
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "/proc/%d/task/%s/stat", pid, e->d_name);
        FILE *f = fopen(path, "r");
        char *c = f && fgets(buf, sizeof buf, f) ? strrchr(buf, ')') : NULL;
        if (f) fclose(f);
        printf(" %s:%c", e->d_name, c ? c[2] : '?');
    }
    if (d) closedir(d);
    printf("\n");
}


static void fail(const char *what, int round, uint64_t seed) {
    printf("FAIL: %s (round %d seed %llu)\n", what, round, (unsigned long long)seed);
    fflush(stdout);
    exit(1);
}

#define NWORKERS 4

static void health(int round, uint64_t seed) {
    int p[2];
    if (pipe(p)) fail("pipe", round, seed);
    pid_t c = fork();
    if (c < 0) fail("fork", round, seed);
    if (c == 0) {
        char b[4];
        if (read(p[0], b, 4) != 4) _exit(2);
        if (write(p[1], "pong", 4) != 4) _exit(3);
        _exit(memcmp(b, "ping", 4) ? 4 : 0);
    }
    if (write(p[1], "ping", 4) != 4) fail("pipe write", round, seed);
    int st;
    if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st))
        fail("pipe round trip child", round, seed);
    char b[4];
    if (read(p[0], b, 4) != 4 || memcmp(b, "pong", 4)) fail("pipe round trip", round, seed);
    close(p[0]);
    close(p[1]);
    c = fork();
    if (c == 0) {
        execl("/bin/true", "true", (char *)NULL);
        _exit(127);
    }
    if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st))
        fail("fork + exec /bin/true", round, seed);
}

/* Prints "QUIET R procs=N [pid:state...]" (the processes /proc shows besides this one, which
 * should be none) and idles so a harness can sample the Sentry. */
static void quiet(int round) {
    char line[4096];
    int n = snprintf(line, sizeof line, "QUIET %d", round);
    int procs = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        int pid = atoi(e->d_name);
        if (pid <= 1) continue;
        char path[64], buf[256];
        snprintf(path, sizeof path, "/proc/%d/stat", pid);
        FILE *f = fopen(path, "r");
        char *c = f && fgets(buf, sizeof buf, f) ? strrchr(buf, ')') : NULL;
        if (f) fclose(f);
        procs++;
        if (n < (int)sizeof line - 32) n += snprintf(line + n, sizeof line - n, " %d:%c", pid, c ? c[2] : '?');
    }
    if (d) closedir(d);
    printf("%s procs=%d\n", line, procs);
    fflush(stdout);
    usleep(300000);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s SEED BUDGET_MS [EXCLUDE|known|none]\n", argv[0]);
        return 2;
    }
    uint64_t seed = strtoull(argv[1], NULL, 0);
    uint64_t budget = strtoull(argv[2], NULL, 0);
    const char *ex = argc > 3 ? argv[3] : "none";
    int all = strstr(ex, "known") != NULL;
    ex_done = all || strstr(ex, "done");
    ex_signo = all || strstr(ex, "signo");
    ex_jump = all || strstr(ex, "jump");
    ex_slot = strstr(ex, "slot") != NULL;
    ex_forge = strstr(ex, "forge") != NULL;
    ex_resp = strstr(ex, "resp") != NULL;
    verbose = strstr(ex, "verbose") != NULL;
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("fuzz_slots seed %llu budget %llu ms exclude %s\n", (unsigned long long)seed,
           (unsigned long long)budget, ex);
    uint64_t start = now_ms();
    int round = 0;
    do {
        uint64_t rs = round == 0 ? seed : mix(mix(seed) + round);
        printf("round %d seed %llu\n", round, (unsigned long long)rs);
        uint64_t s = rs;
        uint64_t slice = 100 + below(&s, 300);
        pid_t w[NWORKERS];
        int strict[NWORKERS];
        for (int i = 0; i < NWORKERS; i++) {
            uint64_t ws = rnd(&s);
            strict[i] = i >= 2;
            pid_t c = fork();
            if (c < 0) fail("fork worker", round, rs);
            if (c == 0) worker(ws, slice, strict[i]);
            w[i] = c;
        }
        /* reap: scribblers are SIGKILLed at the deadline; checkers must finish by themselves */
        uint64_t kill_at = now_ms() + slice + 200;
        int left = NWORKERS, killed = 0;
        for (;;) {
            int st;
            pid_t p;
            while ((p = waitpid(-1, &st, WNOHANG | __WALL)) > 0) {
                for (int i = 0; i < NWORKERS; i++) {
                    if (w[i] != p) continue;
                    w[i] = 0;
                    left--;
                    if (strict[i] && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
                        printf("checker worker %d status %#x\n", p, st);
                        fail("a checking worker failed", round, rs);
                    }
                }
            }
            if (!left) break;
            if (p < 0 && errno == ECHILD) fail("workers lost (ECHILD)", round, rs);
            uint64_t t = now_ms();
            if (!killed && t >= kill_at) {
                for (int i = 0; i < NWORKERS; i++)
                    if (w[i] && !strict[i]) kill(w[i], SIGKILL);
                killed = 1;
            }
            if (t >= kill_at + 10000) {
                for (int i = 0; i < NWORKERS; i++)
                    if (w[i]) {
                        printf("%s worker %d left\n", strict[i] ? "checking" : "scribbling", w[i]);
                        describe(w[i]);
                    }
                fail("a worker was not reaped within 10 s", round, rs);
            }
            usleep(5000);
        }
        health(round, rs);
        if (round == 0) quiet(round);
        round++;
    } while (now_ms() - start < budget);
    quiet(round);
    printf("fuzz_slots: ok rounds=%d\n", round);
    return 0;
}
