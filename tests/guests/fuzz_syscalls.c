/* Syscall fuzzer (issue 12): random syscall numbers and arguments from many threads and
 * processes, run as the sandbox's init.
 *
 *   fuzz_syscalls SEED BUDGET_MS [EXCLUDE] [WORKERS]
 *
 * The supervisor (pid 1 under `snare do`) runs rounds until BUDGET_MS is spent (at least
 * one). Each round forks WORKERS (default 3) worker processes; each worker starts a few
 * threads that issue random syscalls through a raw `syscall` instruction (no errno, no libc
 * state), with arguments from pools: 0, small ints, -1, huge values, random words, pointers
 * into a valid scratch arena, unmapped memory, the stub region, kernel space, the top of
 * user space, NULL + small, flag masks, lengths. A worker exits by itself after its slice
 * or is SIGKILLed by the supervisor at the round's deadline (blocked calls are fine). After
 * each round the supervisor reaps everyone (it must always be able to), then checks the
 * sandbox still works: a pipe round trip and fork + exec of /bin/true.
 *
 * Output: "round R seed S" per round (S reproduces that round alone: `fuzz_syscalls S 1`),
 * "QUIET R" after the first round and at the end (the supervisor then idles 300 ms with
 * nothing else running, so a harness can sample the Sentry's fds and memory), and
 * "fuzz_syscalls: ok rounds=N" at the end. Exit 0 on success, 1 on a failed check.
 *
 * EXCLUDE is a comma-separated list of hazard classes to avoid (each is a Sentry bug being
 * fixed elsewhere; re-enable once fixed), or "known" for all of them, or "none":
 *   sigreturn  no rt_sigreturn with a garbage frame (a thread that rt_sigreturns with every
 *              signal blocked became unkillable)
 *   itimer     no setitimer/alarm with huge values (Instant + Duration overflow panicked)
 *   fds        no raising RLIMIT_NOFILE; each worker keeps it at 64 (Sentry's own EMFILE)
 *   mem        lengths of mmap/mremap/brk/fallocate/shmget clamped to 8 MiB (memory
 *              exhaustion)
 *   signo      signals sent/queued only with numbers 0..64
 *
 * Never fuzzed, by design: exit/exit_group (only at the end), vfork, reboot, kill-family
 * calls aimed anywhere but the worker itself (pid 1 is the supervisor), execve of a valid
 * path, lowering RLIMIT_NPROC/RLIMIT_AS. clone/fork children exit at once (the `syscall`
 * is followed by an exit in the child before it touches memory).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NR_MAX 470
#define ARENA_SIZE (64 * 1024)
#define MAX_THREADS 4

static int ex_sigreturn, ex_itimer, ex_fds, ex_mem, ex_signo;

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

/* ---- raw syscalls ---- */
static long raw6(long nr, long a, long b, long c, long d, long e, long f) {
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "0"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

/* A clone-family call whose child (rax == 0) exits at once without touching memory or the
 * stack (it may share both with the caller). */
static long raw_clone_exit(long nr, long a, long b, long c, long d, long e, long f) {
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall\n\t"
                     "test %%rax, %%rax\n\t"
                     "jnz 1f\n\t"
                     "mov $60, %%eax\n\t"
                     "xor %%edi, %%edi\n\t"
                     "syscall\n\t"
                     "ud2\n"
                     "1:"
                     : "=a"(ret)
                     : "0"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

/* ---- per-worker state ---- */
/* ARENA_SIZE bytes, followed by an unmapped hole. Memory-management calls mostly aim at its
 * second half; the fuzzer rewrites words of its first half as it goes. */
static char *arena;
static char *hole;     /* unmapped */
static long self_pid;
static volatile long tids[MAX_THREADS + 1];
static int nfds;
static int fds[16];

static uint64_t pick_ptr(uint64_t *s) {
    switch (below(s, 10)) {
    case 0: case 1: case 2: { /* valid arena */
        uint64_t off = below(s, ARENA_SIZE);
        if (below(s, 2)) off &= ~0xfffull;
        return (uint64_t)arena + off;
    }
    case 3: return (uint64_t)hole + below(s, ARENA_SIZE);
    case 4: return 0x700000000000ull + below(s, 0x90000000ull);
    case 5: { /* the interesting stub pages and the first slots */
        static const uint64_t p[] = {0x700000000000ull, 0x700000004000ull, 0x700000010000ull,
                                     0x700000011000ull, 0x700000100000ull, 0x700000108000ull};
        return p[below(s, 6)] + (below(s, 2) ? 0 : below(s, 0x1000));
    }
    case 6: return 0xffff800000000000ull + (rnd(s) & 0x7fffffffffffull);
    case 7: { /* the top of user space, both the guest's and the host's */
        static const uint64_t p[] = {0x6ffffffff000ull, 0x6fffffffffffull, 0x7ffffffff000ull,
                                     0x7fffffffffffull, 0x800000000000ull, 0xfffffffffffff000ull};
        return p[below(s, 6)] - below(s, 16);
    }
    case 8: return below(s, 4096);
    default: return 0x10000 + (rnd(s) & 0x3fffffffffffull & ~0xfffull); /* random, likely unmapped */
    }
}

static uint64_t pick_arg(uint64_t *s) {
    static const uint64_t huge[] = {0x7fffffffull,         0x80000000ull,
                                    0xffffffffull,         0x100000000ull,
                                    0x7fffffffffffffffull, 0x8000000000000000ull,
                                    0xffffffffffffffffull, 0xfffffffffffff000ull,
                                    1ull << 40,            1ull << 47};
    switch (below(s, 12)) {
    case 0: return 0;
    case 1: case 2: return below(s, 64);
    case 3: return (uint64_t)-1;
    case 4: return huge[below(s, 10)];
    case 5: return rnd(s);
    case 6: case 7: return pick_ptr(s);
    case 8: return 1ull << below(s, 64); /* one flag bit */
    case 9: return rnd(s) & rnd(s) & 0xffffffffull; /* sparse flag mask */
    case 10: return nfds ? (uint64_t)fds[below(s, nfds)] : 0; /* an open fd */
    default: { /* lengths */
        static const uint64_t l[] = {1, 8, 16, 100, 4096, 8192, 65536, 1 << 20};
        return below(s, 4) ? l[below(s, 8)] : huge[below(s, 10)];
    }
    }
}

static uint64_t pick_sig(uint64_t *s) {
    if (ex_signo) return below(s, 65);
    switch (below(s, 4)) {
    case 0: return rnd(s);
    case 1: return 65 + below(s, 200);
    default: return below(s, 65);
    }
}

static uint64_t pick_len_small(uint64_t *s) { return (below(s, 2048) + 1) * 4096; }

static uint64_t pick_self_pid(uint64_t *s) {
    switch (below(s, 3)) {
    case 0: return self_pid;
    case 1: return -self_pid; /* its own process group, if it made one */
    default: return 0;
    }
}

static uint64_t pick_self_tid(uint64_t *s) {
    long t = tids[below(s, MAX_THREADS + 1)];
    return t ? t : self_pid;
}

/* Constrains or skips calls that would end the experiment uninterestingly. Returns 0 to skip. */
static int sanitize(uint64_t *s, long nr, uint64_t *a) {
    switch (nr) {
    case SYS_exit: case SYS_exit_group: case SYS_vfork: case SYS_reboot:
        return 0;
    case SYS_rt_sigreturn:
        return !ex_sigreturn;
    case SYS_setitimer:
        if (ex_itimer) return 0;
        break;
    case SYS_alarm:
        if (ex_itimer) a[0] = below(s, 3);
        break;
    case SYS_kill:
        a[0] = pick_self_pid(s);
        if (a[0] == 0) a[0] = self_pid;
        a[1] = pick_sig(s);
        break;
    case SYS_tkill:
        a[0] = pick_self_tid(s);
        a[1] = pick_sig(s);
        break;
    case SYS_tgkill:
        a[0] = self_pid;
        a[1] = pick_self_tid(s);
        a[2] = pick_sig(s);
        break;
    case SYS_rt_sigqueueinfo:
        a[0] = self_pid;
        a[1] = pick_sig(s);
        break;
    case SYS_rt_tgsigqueueinfo:
        a[0] = self_pid;
        a[1] = pick_self_tid(s);
        a[2] = pick_sig(s);
        break;
    case SYS_pidfd_send_signal:
        a[1] = pick_sig(s);
        break;
    case SYS_pidfd_open:
    case SYS_process_vm_readv:
    case SYS_process_vm_writev:
    case SYS_process_madvise:
        a[0] = self_pid;
        break;
    case SYS_ptrace:
        a[1] = below(s, 2) ? self_pid : pick_self_tid(s);
        break;
    case SYS_setrlimit:
    case SYS_prlimit64: {
        int r = nr == SYS_setrlimit ? 0 : 1;
        if (nr == SYS_prlimit64) a[0] = 0;
        /* never lower NPROC or AS (wedges the fuzzer); with fds excluded never touch NOFILE */
        if (a[r] == RLIMIT_NPROC || a[r] == RLIMIT_AS) return 0;
        if (ex_fds && a[r] == RLIMIT_NOFILE) return 0;
        break;
    }
    case SYS_execve:
    case SYS_execveat: { /* garbage only: never a pointer into the arena for the path */
        int p = nr == SYS_execve ? 0 : 1;
        while (a[p] >= (uint64_t)arena && a[p] < (uint64_t)arena + ARENA_SIZE) a[p] = pick_ptr(s);
        break;
    }
    case SYS_mmap:
    case SYS_munmap:
    case SYS_mprotect:
    case SYS_madvise:
    case SYS_mremap:
    case SYS_mlock:
    case SYS_munlock:
    case SYS_msync:
    case SYS_mincore:
        /* mostly inside the arena, so the worker survives long enough to be interesting */
        if (below(s, 8)) {
            if (nr != SYS_mmap || (a[3] & MAP_FIXED))
                a[0] = (uint64_t)arena + ARENA_SIZE / 2 + (below(s, 8) << 12);
            if (nr != SYS_mremap) a[1] = below(s, ARENA_SIZE / 2);
        }
        if (ex_mem && nr == SYS_mmap && a[1] > (8u << 20)) a[1] = pick_len_small(s);
        if (ex_mem && nr == SYS_mremap && a[2] > (8u << 20)) a[2] = pick_len_small(s);
        break;
    case SYS_brk:
        if (ex_mem) a[0] = 0;
        break;
    case SYS_fallocate:
        if (ex_mem && a[3] > (8u << 20)) a[3] = pick_len_small(s);
        break;
    case SYS_shmget:
        if (ex_mem && a[1] > (8u << 20)) a[1] = pick_len_small(s);
        break;
    case SYS_arch_prctl:
        /* a garbage FS base only breaks libc in this thread, which never uses it again;
         * keep it anyway for the main thread, which waits in pthread-free code */
        break;
    }
    return 1;
}

/* Syscalls snare implements (from `snare syscalls`); most calls pick one of these. */
static const short implemented[] = {
    0,   1,   2,   3,   4,   5,   6,   7,   8,   9,   10,  11,  12,  13,  14,  15,  16,  17,
    18,  19,  20,  21,  22,  23,  24,  25,  26,  27,  28,  32,  33,  34,  35,  36,  37,  38,
    39,  40,  56,  57,  58,  59,  60,  61,  62,  63,  72,  73,  74,  75,  76,  77,  79,  80,
    81,  82,  83,  84,  85,  86,  87,  88,  89,  90,  91,  92,  93,  94,  95,  96,  97,  98,
    99,  100, 102, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118,
    119, 120, 121, 122, 123, 124, 127, 128, 129, 130, 131, 133, 137, 138, 157, 158, 160, 162,
    186, 187, 188, 191, 192, 193, 194, 195, 196, 200, 201, 202, 204, 213, 217, 218, 219, 221,
    222, 223, 224, 225, 226, 228, 229, 230, 231, 232, 233, 234, 247, 257, 258, 259, 260, 262,
    263, 264, 265, 266, 267, 268, 269, 270, 271, 273, 274, 277, 280, 281, 282, 283, 284, 285,
    286, 287, 289, 290, 291, 292, 293, 295, 296, 297, 302, 306, 309, 316, 318, 322, 326, 327,
    328, 332, 424, 434, 435, 436, 437, 439, 441,
    /* session 15: System V IPC, capabilities, scheduling, memory locks, personality, clock
     * setting, kcmp, membarrier, seccomp */
    29,  30,  31,  64,  65,  66,  67,  68,  69,  70,  71,  220, 125, 126, 135, 140, 141, 142,
    143, 144, 145, 146, 147, 148, 149, 150, 151, 152, 159, 164, 203, 227, 251, 252, 305, 312,
    314, 315, 317, 324, 325,
};

static uint64_t call_count;

/* A word for the arena, where struct arguments (timespecs, iovecs, sigsets, msghdrs...) are
 * read from: mostly zeros and small numbers so that some structs validate, then pointers and
 * huge values. */
static uint64_t arena_word(uint64_t *s) {
    switch (below(s, 10)) {
    case 0: case 1: case 2: case 3: return 0;
    case 4: case 5: return below(s, 64);
    case 6: return (uint64_t)arena + below(s, ARENA_SIZE);
    case 7: return pick_arg(s);
    case 8: return below(s, 1000000000);
    default: return rnd(s);
    }
}

static void fuzz_loop(uint64_t seed, uint64_t deadline) {
    uint64_t s = seed;
    while (now_ms() < deadline) {
        long nr;
        uint64_t a[6];
        switch (below(&s, 40)) {
        case 0: nr = NR_MAX + below(&s, 100); break; /* just past the table */
        case 1: nr = (long)rnd(&s); break;           /* anything */
        case 2: nr = 512 + below(&s, 32); break;     /* x32 numbers */
        case 3: case 4: case 5: case 6: case 7: case 8: case 9: case 10: case 11: case 12:
            nr = below(&s, NR_MAX + 1);
            break;
        default: nr = implemented[below(&s, sizeof implemented / sizeof implemented[0])];
        }
        for (int i = 0; i < 6; i++) a[i] = pick_arg(&s);
        if (below(&s, 4) == 0) /* refresh a few arena words (the arena may be gone: probe) */
            for (int i = 0; i < 8; i++) {
                uint64_t w = arena_word(&s);
                ((volatile uint64_t *)arena)[below(&s, ARENA_SIZE / 16)] = w;
            }
        if (!sanitize(&s, nr, a)) continue;
        __atomic_fetch_add(&call_count, 1, __ATOMIC_RELAXED);
        if (nr == SYS_clone || nr == SYS_clone3 || nr == SYS_fork)
            raw_clone_exit(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
        else
            raw6(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    }
}

struct thread_arg {
    uint64_t seed, deadline;
    int idx;
};

static void nop_handler(int sig) { (void)sig; }

/* Signals that would end the worker at once get a handler that returns (so a blocked call
 * fails with EINTR instead); faults keep their default action. */
static void soften_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = nop_handler;
    for (int sig = 1; sig < 65; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP || sig == SIGSEGV || sig == SIGBUS || sig == SIGILL ||
            sig == SIGFPE || sig == SIGSYS || sig == SIGTRAP || sig == SIGABRT)
            continue;
        sigaction(sig, &sa, NULL);
    }
}

/* Interrupts this thread every 20 ms (SIGURG) so it does not stay in a blocking call. */
static void interrupt_timer(void) {
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_THREAD_ID;
    ev.sigev_signo = SIGURG;
    ev._sigev_un._tid = (int)raw6(SYS_gettid, 0, 0, 0, 0, 0, 0);
    long timer;
    if (raw6(SYS_timer_create, CLOCK_MONOTONIC, (long)&ev, (long)&timer, 0, 0, 0)) return;
    struct itimerspec it = {{0, 20000000}, {0, 20000000}};
    raw6(SYS_timer_settime, timer, 0, (long)&it, 0, 0, 0);
}

static void *thread_main(void *p) {
    struct thread_arg *t = p;
    tids[t->idx] = raw6(SYS_gettid, 0, 0, 0, 0, 0, 0);
    interrupt_timer();
    fuzz_loop(t->seed, t->deadline);
    raw6(SYS_exit, 0, 0, 0, 0, 0, 0);
    return NULL;
}

static void worker(uint64_t seed, uint64_t slice_ms) {
    uint64_t s = seed;
    self_pid = getpid();
    tids[0] = self_pid;
    alarm(1 + slice_ms / 1000);
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    if (ex_fds) {
        struct rlimit rl = {64, 64};
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    /* the arena and a hole after it */
    char *m = mmap(NULL, 2 * ARENA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) _exit(3);
    arena = m;
    hole = m + ARENA_SIZE;
    munmap(hole, ARENA_SIZE);
    for (int i = 0; i < ARENA_SIZE / 8; i++) ((uint64_t *)arena)[i] = arena_word(&s);
    /* some fds of every kind to aim at */
    int p[2];
    if (pipe(p) == 0) { fds[nfds++] = p[0]; fds[nfds++] = p[1]; }
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, p) == 0) { fds[nfds++] = p[0]; fds[nfds++] = p[1]; }
    fds[nfds++] = null;
    int fd = open("/tmp", O_TMPFILE | O_RDWR, 0600);
    if (fd >= 0) fds[nfds++] = fd;
    fd = open("/proc/self/status", O_RDONLY);
    if (fd >= 0) fds[nfds++] = fd;
    fd = eventfd(0, 0);
    if (fd >= 0) fds[nfds++] = fd;
    fd = epoll_create1(0);
    if (fd >= 0) fds[nfds++] = fd;
    fd = open("/", O_RDONLY | O_DIRECTORY);
    if (fd >= 0) fds[nfds++] = fd;
    /* TCP (a listener and a connected pair on loopback) and UDP (host sockets) */
    struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t lol = sizeof lo;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    if (l >= 0 && bind(l, (struct sockaddr *)&lo, lol) == 0 && listen(l, 4) == 0 &&
        getsockname(l, (struct sockaddr *)&lo, &lol) == 0) {
        fds[nfds++] = l;
        int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (c >= 0) {
            connect(c, (struct sockaddr *)&lo, lol);
            fds[nfds++] = c;
            fd = accept4(l, NULL, NULL, SOCK_NONBLOCK);
            if (fd >= 0) fds[nfds++] = fd;
        }
    }
    fd = socket(AF_INET6, SOCK_DGRAM, 0);
    if (fd >= 0) fds[nfds++] = fd;
    /* NETLINK_ROUTE (a Sentry socket whose GET requests the host kernel answers) */
    fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK, 0);
    if (fd >= 0) fds[nfds++] = fd;

    soften_signals();
    interrupt_timer();
    uint64_t deadline = now_ms() + slice_ms;
    int nthreads = 1 + below(&s, MAX_THREADS);
    static struct thread_arg ta[MAX_THREADS];
    for (int i = 0; i < nthreads; i++) {
        pthread_t th;
        ta[i].seed = rnd(&s);
        ta[i].deadline = deadline;
        ta[i].idx = i + 1;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setstacksize(&at, 256 * 1024);
        pthread_create(&th, &at, thread_main, &ta[i]);
    }
    fuzz_loop(rnd(&s), deadline);
    raw6(SYS_exit_group, 0, 0, 0, 0, 0, 0);
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

/* Reaps every child; SIGKILLs the workers still running at `kill_at`; fails if one cannot be
 * reaped within 10 s after that. */
static void reap_all(pid_t *w, int n, uint64_t kill_at, int round, uint64_t seed) {
    int left = n;
    int killed = 0;
    for (;;) {
        int st;
        pid_t p;
        while ((p = waitpid(-1, &st, WNOHANG | __WALL)) > 0) {
            for (int i = 0; i < n; i++)
                if (w[i] == p) { w[i] = 0; left--; }
        }
        if (p < 0 && errno == ECHILD) {
            if (left) fail("workers lost (ECHILD)", round, seed);
            return;
        }
        uint64_t t = now_ms();
        /* leftovers (CLONE_PARENT children, orphans) exit at once: reap them for a while */
        if (!left && t >= kill_at) return;
        if (!killed && t >= kill_at) {
            for (int i = 0; i < n; i++)
                if (w[i]) kill(w[i], SIGKILL);
            killed = 1;
        }
        if (killed && t >= kill_at + 10000) {
            for (int i = 0; i < n; i++)
                if (w[i]) describe(w[i]);
            fail("a SIGKILLed worker was not reaped within 10 s", round, seed);
        }
        usleep(5000);
    }
}

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
        fprintf(stderr, "usage: %s SEED BUDGET_MS [EXCLUDE|known|none] [WORKERS]\n", argv[0]);
        return 2;
    }
    uint64_t seed = strtoull(argv[1], NULL, 0);
    uint64_t budget = strtoull(argv[2], NULL, 0);
    const char *ex = argc > 3 ? argv[3] : "none";
    int nworkers = argc > 4 ? atoi(argv[4]) : 3;
    int all = strstr(ex, "known") != NULL;
    ex_sigreturn = all || strstr(ex, "sigreturn");
    ex_itimer = all || strstr(ex, "itimer");
    ex_fds = all || strstr(ex, "fds");
    ex_mem = all || strstr(ex, "mem");
    ex_signo = all || strstr(ex, "signo");
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("fuzz_syscalls seed %llu budget %llu ms exclude %s\n", (unsigned long long)seed,
           (unsigned long long)budget, ex);
    uint64_t start = now_ms();
    int round = 0;
    do {
        uint64_t rs = round == 0 ? seed : mix(mix(seed) + round);
        printf("round %d seed %llu\n", round, (unsigned long long)rs);
        uint64_t s = rs;
        pid_t w[16];
        int n = nworkers < 16 ? nworkers : 16;
        uint64_t slice = 100 + below(&s, 300);
        for (int i = 0; i < n; i++) {
            uint64_t ws = rnd(&s);
            pid_t c = fork();
            if (c < 0) fail("fork worker", round, rs);
            if (c == 0) worker(ws, slice);
            w[i] = c;
        }
        reap_all(w, n, now_ms() + slice + 200, round, rs);
        health(round, rs);
        if (round == 0) quiet(round);
        round++;
    } while (now_ms() - start < budget);
    quiet(round);
    printf("fuzz_syscalls: ok rounds=%d\n", round);
    return 0;
}
