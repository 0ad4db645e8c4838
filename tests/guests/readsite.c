// Syscall sites of glibc's `read` form (`xor eax, eax; syscall; cmp rax, -4096; ja`), which
// snare patches over 10 bytes: the call's return address lies inside the patch. Each
// scenario uses a fresh copy of the site (or glibc's own `read`) and reads through it more
// than 16 times (the slow traps before a patch) while other threads sit inside it:
// - threads blocked in the call while the site is patched, then woken;
// - threads reading through it while it is patched;
// - a blocked read interrupted by a signal whose handler waits while the site is patched,
//   then returns into it (restarted with SA_RESTART, EINTR without);
// - fork while threads are blocked in it (the child patches its copy, the parent its own);
// - signal frames forged to resume at the site, its `syscall` and its return address, with
//   chosen registers, before and after the patch; and at every other byte of a patched
//   site, in children, which may die but must not take anything else with them;
// - a site in shared code (a memfd mapped twice): a child runs it, the parent's bytes stay;
// - exec.
// Prints the same lines natively and under snare, whatever the scheduling.
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

static int failures;
#define CHECK(cond, ...)                                \
    do {                                                \
        if (!(cond)) {                                  \
            failures++;                                 \
            printf("FAIL %s:%d: ", __func__, __LINE__); \
            printf(__VA_ARGS__);                        \
            printf("\n");                               \
        }                                               \
    } while (0)

// What a site returns: rax, and whether its `ja` (after `cmp rax, -4096`) was taken.
struct res {
    long rax;
    long taken;
};
typedef struct res (*site_fn)(long fd, void *buf, long n);

// A copy of glibc's `read` site as a function: rdi, rsi, rdx are the call's arguments.
#define XSITE(name)                                                                  \
    struct res name(long, void *, long);                                             \
    __asm__(".text\n.p2align 4, 0xcc\n.globl " #name "\n.type " #name ", @function\n" \
            #name ":\n"                                                              \
            "\txor %eax, %eax\n\tsyscall\n\tcmp $-4096, %rax\n\tja 1f\n"             \
            "\txor %edx, %edx\n\tret\n"                                              \
            "1:\tmov $1, %edx\n\tret\n"                                              \
            ".size " #name ", . - " #name "\n");

XSITE(site_blocked)
XSITE(site_racing)
XSITE(site_restart)
XSITE(site_eintr)
XSITE(site_fork)
XSITE(site_forged)
XSITE(site_garbage)
XSITE(site_exec)
XSITE(site_shared) // never run in place: copied (unpatched) into shared code

// glibc's own `read`, as a site.
static struct res libc_read(long fd, void *buf, long n) {
    long r = read((int)fd, buf, (size_t)n);
    return (struct res){r < 0 ? -errno : r, r < 0};
}

// Reads `n` bytes one at a time through `site` from a pipe written just before: more than
// the slow traps before a patch. Also an error through it (EBADF: the `ja` is taken).
static void warm(site_fn site, int n) {
    int p[2];
    if (pipe(p)) return;
    for (int i = 0; i < n; i++) {
        char c = 'a' + i % 26, got = 0;
        CHECK(write(p[1], &c, 1) == 1, "write");
        struct res r = site(p[0], &got, 1);
        CHECK(r.rax == 1 && !r.taken && got == c, "warm read %d: %ld %ld %c", i, r.rax, r.taken,
              got);
    }
    close(p[0]);
    close(p[1]);
    char c;
    struct res r = site(-1, &c, 1);
    CHECK(r.rax == -EBADF && r.taken, "read of fd -1: %ld %ld", r.rax, r.taken);
}

// ---- Readers blocked in a site while it is patched ----

struct reader {
    site_fn site;
    int fd;
    volatile int started;
    struct res r;
    char c;
};

static void *reader_main(void *arg) {
    struct reader *r = arg;
    r->started = 1;
    r->r = r->site(r->fd, &r->c, 1);
    return NULL;
}

static void wait_started(struct reader *r, int n) {
    for (int i = 0; i < n; i++)
        while (!r[i].started) usleep(1000);
    usleep(100000); // into the call (only how often the case is exercised depends on it)
}

static void blocked_readers(site_fn site, const char *name) {
    enum { N = 4 };
    struct reader r[N];
    int p[N][2];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        if (pipe(p[i])) return;
        r[i] = (struct reader){.site = site, .fd = p[i][0]};
        pthread_create(&t[i], NULL, reader_main, &r[i]);
    }
    wait_started(r, N);
    warm(site, 40);
    // The last gets end of file, the others a byte each.
    for (int i = 0; i < N - 1; i++) {
        char c = 'A' + i;
        CHECK(write(p[i][1], &c, 1) == 1, "write");
    }
    close(p[N - 1][1]);
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        long want = i < N - 1 ? 1 : 0;
        CHECK(r[i].r.rax == want && !r[i].r.taken && (!want || r[i].c == 'A' + i),
              "%s reader %d: %ld %ld %c", name, i, r[i].r.rax, r[i].r.taken, r[i].c);
        close(p[i][0]);
        if (i < N - 1) close(p[i][1]);
    }
    printf("%s: readers blocked while it was patched woke with their bytes\n", name);
}

// ---- Threads reading through a site while it is patched ----

struct racer {
    site_fn site;
    int ok;
};

static void *racer_main(void *arg) {
    struct racer *r = arg;
    int p[2];
    if (pipe(p)) return NULL;
    r->ok = 1;
    for (int i = 0; i < 300; i++) {
        char c = 'a' + i % 26, got = 0;
        if (write(p[1], &c, 1) != 1) r->ok = 0;
        struct res x = r->site(p[0], &got, 1);
        if (x.rax != 1 || x.taken || got != c) r->ok = 0;
        if (i % 50 == 0) {
            x = r->site(-1, &got, 1);
            if (x.rax != -EBADF || !x.taken) r->ok = 0;
        }
    }
    close(p[0]);
    close(p[1]);
    return NULL;
}

static void racing_readers(void) {
    enum { N = 3 };
    struct racer r[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        r[i] = (struct racer){.site = site_racing};
        pthread_create(&t[i], NULL, racer_main, &r[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        CHECK(r[i].ok, "racing reader %d saw a wrong result", i);
    }
    printf("readers racing the patch agree\n");
}

// ---- A blocked read interrupted; the handler waits while the site is patched ----

static int handler_gate[2];
static volatile sig_atomic_t handled;
static volatile long interrupted_at, interrupted_rax;
static site_fn interrupted_site;

static void on_usr1(int sig, siginfo_t *si, void *ucv) {
    (void)sig;
    (void)si;
    ucontext_t *uc = ucv;
    interrupted_at = uc->uc_mcontext.gregs[REG_RIP] - (long)interrupted_site;
    interrupted_rax = uc->uc_mcontext.gregs[REG_RAX];
    handled++;
    struct pollfd pf = {.fd = handler_gate[0], .events = POLLIN};
    while (poll(&pf, 1, -1) < 0) {
    }
    char c;
    syscall(SYS_read, handler_gate[0], &c, 1);
}

struct interrupted {
    site_fn site;
    int fd;
    volatile int started;
    struct res first, last;
    int calls;
    char c;
};

static void *interrupted_main(void *arg) {
    struct interrupted *r = arg;
    r->started = 1;
    for (;;) {
        struct res x = r->site(r->fd, &r->c, 1);
        if (r->calls++ == 0) r->first = x;
        r->last = x;
        if (x.rax != -EINTR) break;
    }
    return NULL;
}

static void interrupted_read(int restart) {
    site_fn site = restart ? site_restart : site_eintr;
    struct sigaction sa = {0};
    sa.sa_sigaction = on_usr1;
    sa.sa_flags = SA_SIGINFO | (restart ? SA_RESTART : 0);
    sigaction(SIGUSR1, &sa, NULL);
    if (pipe(handler_gate)) return;
    int p[2];
    if (pipe(p)) return;
    interrupted_site = site;
    struct interrupted r = {.site = site, .fd = p[0]};
    pthread_t t;
    pthread_create(&t, NULL, interrupted_main, &r);
    while (!r.started) usleep(1000);
    // Until the signal lands in the call: the frame says where the thread was (the call's
    // return address, or with SA_RESTART its `syscall`, where the restart goes).
    int tries = 0;
    for (;;) {
        usleep(20000 << (tries < 6 ? tries : 6));
        int before = handled;
        pthread_kill(t, SIGUSR1);
        while (handled == before) usleep(1000);
        int in_call = restart ? interrupted_at == 2 && interrupted_rax == 0
                              : interrupted_at == 4 && interrupted_rax == -EINTR;
        if (in_call || ++tries == 50) break;
        CHECK(write(handler_gate[1], "g", 1) == 1, "gate");
    }
    CHECK(tries < 50, "the signal never landed in the call");
    // The handler waits; its frame returns into the site, which gets patched now.
    warm(site, 40);
    CHECK(write(handler_gate[1], "g", 1) == 1, "gate");
    usleep(50000);
    CHECK(write(p[1], "x", 1) == 1, "write");
    pthread_join(t, NULL);
    if (restart) {
        CHECK(r.calls == 1 && r.last.rax == 1 && !r.last.taken && r.c == 'x',
              "restarted read: %d calls, %ld %ld %c", r.calls, r.last.rax, r.last.taken, r.c);
        printf("SA_RESTART: the read interrupted before the patch completed after it\n");
    } else {
        CHECK(r.calls == 2 && r.first.rax == -EINTR && r.first.taken, "first read: %ld %ld",
              r.first.rax, r.first.taken);
        CHECK(r.last.rax == 1 && !r.last.taken && r.c == 'x', "second read: %ld %ld %c",
              r.last.rax, r.last.taken, r.c);
        printf("no SA_RESTART: EINTR (ja taken) across the patch, then the byte\n");
    }
    close(p[0]);
    close(p[1]);
    close(handler_gate[0]);
    close(handler_gate[1]);
    signal(SIGUSR1, SIG_DFL);
}

// ---- fork while threads are blocked in a site ----

static void fork_while_blocked(void) {
    enum { N = 3 };
    struct reader r[N];
    int p[N][2];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        if (pipe(p[i])) return;
        r[i] = (struct reader){.site = site_fork, .fd = p[i][0]};
        pthread_create(&t[i], NULL, reader_main, &r[i]);
    }
    wait_started(r, N);
    // The child patches its copy of the site (and has no blocked threads).
    for (int round = 0; round < 2; round++) {
        pid_t c = fork();
        if (c == 0) {
            warm(site_fork, 40);
            warm(libc_read, 40);
            _exit(failures ? 1 : 0);
        }
        int st = 0;
        while (waitpid(c, &st, 0) < 0 && errno == EINTR) {
        }
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d status %#x", round, st);
        // Then the parent patches its own, the readers still in the call; the second child
        // inherits the patched site.
        if (round == 0) warm(site_fork, 40);
    }
    for (int i = 0; i < N; i++) {
        char c = 'K' + i;
        CHECK(write(p[i][1], &c, 1) == 1, "write");
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        CHECK(r[i].r.rax == 1 && !r[i].r.taken && r[i].c == 'K' + i, "reader %d: %ld %ld %c", i,
              r[i].r.rax, r[i].r.taken, r[i].c);
        close(p[i][0]);
        close(p[i][1]);
    }
    printf("fork while readers are blocked: children and readers fine\n");
}

// ---- Signal frames forged to resume inside a site ----

struct forge {
    long rip, rax, rdi, rsi, rdx, rsp, r11;
};
static volatile struct forge forge;
static sigjmp_buf landed_jb;
static volatile long landed_rax, landed_taken;
static long fake_stack[512] __attribute__((aligned(16)));

// Where the site's `ret` goes: records rax and the `ja` outcome, then back to the test.
void landing(void);
__asm__(".text\n.globl landing\n.type landing, @function\nlanding:\n"
        "\tmov %rax, %rdi\n\tmov %rdx, %rsi\n\tand $-16, %rsp\n\tcall landed\n\tud2\n"
        ".size landing, . - landing\n");

void landed(long rax, long taken) {
    landed_rax = rax;
    landed_taken = taken;
    siglongjmp(landed_jb, 1);
}

static void on_forge(int sig, siginfo_t *si, void *ucv) {
    (void)sig;
    (void)si;
    ucontext_t *uc = ucv;
    greg_t *g = uc->uc_mcontext.gregs;
    g[REG_RIP] = forge.rip;
    g[REG_RAX] = forge.rax;
    g[REG_RDI] = forge.rdi;
    g[REG_RSI] = forge.rsi;
    g[REG_RDX] = forge.rdx;
    g[REG_RSP] = forge.rsp;
    g[REG_R11] = forge.r11;
}

// Resumes at `site + off` with `rax` and read's arguments, through rt_sigreturn.
static struct res resume_at(site_fn site, int off, long rax, long fd, void *buf) {
    fake_stack[500] = (long)landing;
    forge = (struct forge){.rip = (long)site + off,
                           .rax = rax,
                           .rdi = fd,
                           .rsi = (long)buf,
                           .rdx = 1,
                           .rsp = (long)&fake_stack[500],
                           .r11 = (long)landing};
    if (sigsetjmp(landed_jb, 1) == 0) {
        raise(SIGUSR2);
        return (struct res){-99999, -1}; // not reached
    }
    return (struct res){landed_rax, landed_taken};
}

static void forged_frames(void) {
    struct sigaction sa = {0};
    sa.sa_sigaction = on_forge;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR2, &sa, NULL);
    int p[2];
    if (pipe(p)) return;
    for (int patched = 0; patched < 2; patched++) {
        if (patched) warm(site_forged, 40);
        char c = 0;
        CHECK(write(p[1], "z", 1) == 1, "write");
        struct res r = resume_at(site_forged, 0, 12345, p[0], &c);
        CHECK(r.rax == 1 && !r.taken && c == 'z', "at +0: %ld %ld %c", r.rax, r.taken, c);
        r = resume_at(site_forged, 2, SYS_getpid, -1, &c);
        CHECK(r.rax == getpid() && !r.taken, "at +2, getpid: %ld %ld", r.rax, r.taken);
        CHECK(write(p[1], "y", 1) == 1, "write");
        r = resume_at(site_forged, 2, SYS_read, p[0], &c);
        CHECK(r.rax == 1 && !r.taken && c == 'y', "at +2, read: %ld %ld %c", r.rax, r.taken, c);
        r = resume_at(site_forged, 2, SYS_read, -1, &c);
        CHECK(r.rax == -EBADF && r.taken, "at +2, EBADF: %ld %ld", r.rax, r.taken);
        static const long at4[] = {-EBADF, -4096, -4095, -1, 0, 5, 0x7fffffffffffffff};
        for (unsigned i = 0; i < sizeof at4 / sizeof at4[0]; i++) {
            r = resume_at(site_forged, 4, at4[i], -1, &c);
            int want = (unsigned long)at4[i] > (unsigned long)-4096;
            CHECK(r.rax == at4[i] && r.taken == want, "at +4, rax %ld: %ld %ld", at4[i], r.rax,
                  r.taken);
        }
        printf("forged frames into the %s site: same as native\n",
               patched ? "patched" : "unpatched");
    }
    close(p[0]);
    close(p[1]);
    signal(SIGUSR2, SIG_DFL);
}

// At every other byte of a patched site the code is garbage (as natively, in the middle of
// an instruction): each child may die of it, but it ends, and nothing else notices.
static void exit_quietly(void) { _exit(0); }

static void garbage_jumps(void) {
    warm(site_garbage, 40);
    int ended = 0;
    for (int off = 1; off < 10; off++) {
        if (off == 2 || off == 4) continue;
        pid_t c = fork();
        if (c == 0) {
            alarm(5);
            struct sigaction sa = {0};
            sa.sa_sigaction = on_forge;
            sa.sa_flags = SA_SIGINFO;
            sigaction(SIGUSR2, &sa, NULL);
            fake_stack[500] = (long)exit_quietly;
            forge = (struct forge){.rip = (long)site_garbage + off,
                                   .rdi = -1,
                                   .rsi = (long)&fake_stack[100],
                                   .rdx = 1,
                                   .rsp = (long)&fake_stack[500],
                                   .r11 = (long)exit_quietly};
            raise(SIGUSR2);
            _exit(0);
        }
        int st = 0;
        while (waitpid(c, &st, 0) < 0 && errno == EINTR) {
        }
        ended += WIFEXITED(st) || WIFSIGNALED(st);
    }
    CHECK(ended == 7, "%d children ended", ended);
    char c;
    CHECK(site_garbage(-1, &c, 1).rax == -EBADF, "the site after the jumps");
    printf("jumps into the middle of a patched site: %d children ended\n", ended);
}

// ---- A site in code shared with another process is left alone ----

static void shared_code(void) {
    int fd = memfd_create("code", 0);
    if (fd < 0 || ftruncate(fd, 4096)) return;
    unsigned char *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    unsigned char *x = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
    if (w == MAP_FAILED || x == MAP_FAILED) return;
    memcpy(w, (void *)site_shared, 32);
    unsigned char before[32];
    memcpy(before, x, sizeof before);
    pid_t c = fork();
    if (c == 0) {
        warm((site_fn)(void *)x, 40);
        _exit(failures ? 1 : 0);
    }
    int st = 0;
    while (waitpid(c, &st, 0) < 0 && errno == EINTR) {
    }
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
    CHECK(!memcmp(before, x, sizeof before), "the shared code changed");
    warm((site_fn)(void *)x, 5);
    munmap(w, 4096);
    munmap(x, 4096);
    close(fd);
    printf("a site in shared code works in both processes\n");
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1 && !strcmp(argv[1], "exec")) {
        warm(site_exec, 40);
        warm(libc_read, 40);
        printf("sites work after exec\n");
        return failures != 0;
    }
    blocked_readers(site_blocked, "asm site");
    blocked_readers(libc_read, "glibc read");
    racing_readers();
    interrupted_read(1);
    interrupted_read(0);
    fork_while_blocked();
    forged_frames();
    garbage_jumps();
    shared_code();
    if (failures) return 1;
    execl("/proc/self/exe", argv[0], "exec", (char *)NULL);
    printf("exec failed: %s\n", strerror(errno));
    return 1;
}
