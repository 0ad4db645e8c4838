// Syscall sites of the form snare patches (`mov eax, NR; syscall`), each run many times (more
// than the 16 slow traps before a patch) so that under snare they go through the fast path: results, registers (general, XMM, the
// direction flag, the red zone), signals delivered on the way back, restarts after a
// signal, threads, fork and exec. Prints the same lines natively and under snare.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;
#define CHECK(cond, ...)                                   \
    do {                                                   \
        if (!(cond)) {                                     \
            failures++;                                    \
            printf("FAIL %s:%d: ", __func__, __LINE__);    \
            printf(__VA_ARGS__);                           \
            printf("\n");                                  \
        }                                                  \
    } while (0)

static __attribute__((noinline)) long site_getpid(void) {
    long r;
    __asm__ volatile("mov $39, %%eax\n\tsyscall" : "=a"(r) : : "rcx", "r11", "memory");
    return r;
}

static __attribute__((noinline)) long site_gettid(void) {
    long r;
    __asm__ volatile("mov $186, %%eax\n\tsyscall" : "=a"(r) : : "rcx", "r11", "memory");
    return r;
}

static __attribute__((noinline)) long site_kill(long pid, long sig) {
    long r;
    __asm__ volatile("mov $62, %%eax\n\tsyscall"
                     : "=a"(r)
                     : "D"(pid), "S"(sig)
                     : "rcx", "r11", "memory");
    return r;
}

static __attribute__((noinline)) long site_read(long fd, void *buf, long n) {
    long r;
    __asm__ volatile("mov $0, %%eax\n\tsyscall"
                     : "=a"(r)
                     : "D"(fd), "S"(buf), "d"(n)
                     : "rcx", "r11", "memory");
    return r;
}

// Every general register but rax/rcx/r11 (and rsp/rbp) keeps its value.
static void general_registers(void) {
    for (int i = 0; i < 40; i++) {
        register long r8 __asm__("r8") = 0x0808080808080808 + i;
        register long r9 __asm__("r9") = 0x0909090909090909 + i;
        register long r10 __asm__("r10") = 0x1010101010101010 + i;
        register long r12 __asm__("r12") = 0x1212121212121212 + i;
        register long r13 __asm__("r13") = 0x1313131313131313 + i;
        register long r14 __asm__("r14") = 0x1414141414141414 + i;
        register long r15 __asm__("r15") = 0x1515151515151515 + i;
        long rbx = 0x0b0b0b0b0b0b0b0b + i, rdx = 0x0d0d0d0d0d0d0d0d + i;
        long rsi = 0x5151515151515151 + i, rdi = 0x7d7d7d7d7d7d7d7d + i, ret;
        __asm__ volatile("mov $39, %%eax\n\tsyscall"
                         : "=a"(ret), "+r"(r8), "+r"(r9), "+r"(r10), "+r"(r12), "+r"(r13),
                           "+r"(r14), "+r"(r15), "+b"(rbx), "+d"(rdx), "+S"(rsi), "+D"(rdi)
                         :
                         : "rcx", "r11", "memory");
        // Copied out before any call: calls don't keep register variables.
        long v8 = r8, v9 = r9, v10 = r10, v12 = r12, v13 = r13, v14 = r14, v15 = r15;
        CHECK(ret == getpid(), "getpid %ld", ret);
        CHECK(v8 == 0x0808080808080808 + i && v9 == 0x0909090909090909 + i &&
                  v10 == 0x1010101010101010 + i && v12 == 0x1212121212121212 + i &&
                  v13 == 0x1313131313131313 + i && v14 == 0x1414141414141414 + i &&
                  v15 == 0x1515151515151515 + i,
              "r8-r15 changed (round %d)", i);
        CHECK(rbx == 0x0b0b0b0b0b0b0b0b + i && rdx == 0x0d0d0d0d0d0d0d0d + i &&
                  rsi == 0x5151515151515151 + i && rdi == 0x7d7d7d7d7d7d7d7d + i,
              "rbx/rdx/rsi/rdi changed (round %d)", i);
    }
    printf("general registers kept\n");
}

// XMM registers, the direction flag and the red zone below the stack pointer.
static void other_state(void) {
    unsigned long in[16], out[16];
    for (int round = 0; round < 40; round++) {
        for (int i = 0; i < 16; i++) in[i] = 0x0123456789abcdefUL * (i + 1) + round;
        memset(out, 0, sizeof out);
        long ret;
        __asm__ volatile(
            "movq 0(%[in]), %%xmm0\n\tmovq 8(%[in]), %%xmm1\n\t"
            "movq 16(%[in]), %%xmm2\n\tmovq 24(%[in]), %%xmm3\n\t"
            "movq 32(%[in]), %%xmm4\n\tmovq 40(%[in]), %%xmm5\n\t"
            "movq 48(%[in]), %%xmm6\n\tmovq 56(%[in]), %%xmm7\n\t"
            "movq 64(%[in]), %%xmm8\n\tmovq 72(%[in]), %%xmm9\n\t"
            "movq 80(%[in]), %%xmm10\n\tmovq 88(%[in]), %%xmm11\n\t"
            "movq 96(%[in]), %%xmm12\n\tmovq 104(%[in]), %%xmm13\n\t"
            "movq 112(%[in]), %%xmm14\n\tmovq 120(%[in]), %%xmm15\n\t"
            "mov $39, %%eax\n\tsyscall\n\t"
            "movq %%xmm0, 0(%[out])\n\tmovq %%xmm1, 8(%[out])\n\t"
            "movq %%xmm2, 16(%[out])\n\tmovq %%xmm3, 24(%[out])\n\t"
            "movq %%xmm4, 32(%[out])\n\tmovq %%xmm5, 40(%[out])\n\t"
            "movq %%xmm6, 48(%[out])\n\tmovq %%xmm7, 56(%[out])\n\t"
            "movq %%xmm8, 64(%[out])\n\tmovq %%xmm9, 72(%[out])\n\t"
            "movq %%xmm10, 80(%[out])\n\tmovq %%xmm11, 88(%[out])\n\t"
            "movq %%xmm12, 96(%[out])\n\tmovq %%xmm13, 104(%[out])\n\t"
            "movq %%xmm14, 112(%[out])\n\tmovq %%xmm15, 120(%[out])"
            : "=a"(ret)
            : [in] "r"(in), [out] "r"(out)
            : "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5",
              "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
              "xmm15");
        CHECK(memcmp(in, out, sizeof in) == 0, "xmm registers changed (round %d)", round);

        unsigned long flags;
        __asm__ volatile("std\n\tmov $39, %%eax\n\tsyscall\n\t"
                         "sub $128, %%rsp\n\tpushf\n\tpop %0\n\tadd $128, %%rsp\n\tcld"
                         : "=r"(flags)
                         :
                         : "rax", "rcx", "r11", "memory");
        CHECK(flags & 0x400, "direction flag lost (round %d)", round);

        unsigned long below = 0, mark = 0x5eed0000 + round;
        __asm__ volatile("mov %1, -8(%%rsp)\n\tmov %1, -120(%%rsp)\n\t"
                         "mov $39, %%eax\n\tsyscall\n\t"
                         "mov -8(%%rsp), %0\n\tadd -120(%%rsp), %0"
                         : "=&r"(below)
                         : "r"(mark)
                         : "rax", "rcx", "r11", "memory");
        CHECK(below == 2 * mark, "red zone changed (round %d)", round);
    }
    printf("xmm, direction flag and red zone kept\n");
}

static volatile sig_atomic_t usr1, alarms;
static void on_usr1(int s) { (void)s; usr1++; }
static void on_alarm(int s) { (void)s; alarms++; }

// A signal the syscall itself sends is delivered on its way back.
static void signal_on_return(void) {
    signal(SIGUSR1, on_usr1);
    for (int i = 0; i < 40; i++) {
        long r = site_kill(getpid(), SIGUSR1);
        CHECK(r == 0 && usr1 == i + 1, "kill %ld, %d handled", r, (int)usr1);
    }
    printf("signals delivered on return: %d\n", (int)usr1);
}

// A read blocked in a patched site, interrupted by a timer signal: restarted with
// SA_RESTART, EINTR without.
static void restarts(void) {
    // Warm the site up first (patched after 16 slow traps under snare).
    int w[2];
    if (pipe(w)) return;
    for (int i = 0; i < 40; i++) {
        char c = 'w';
        write(w[1], &c, 1);
        CHECK(site_read(w[0], &c, 1) == 1 && c == 'w', "warm-up read %d", i);
    }
    close(w[0]);
    close(w[1]);
    for (int restart = 1; restart >= 0; restart--) {
        struct sigaction sa = {0};
        sa.sa_handler = on_alarm;
        sa.sa_flags = restart ? SA_RESTART : 0;
        sigaction(SIGALRM, &sa, NULL);
        int got = 0, eintr = 0;
        for (int i = 0; i < 5; i++) {
            int p[2];
            if (pipe(p)) return;
            pid_t c = fork();
            if (c == 0) {
                usleep(60000);
                write(p[1], "x", 1);
                _exit(0);
            }
            close(p[1]);
            struct itimerval it = {{0, 0}, {0, 15000}};
            setitimer(ITIMER_REAL, &it, NULL);
            char b;
            long r = site_read(p[0], &b, 1);
            struct itimerval off = {{0, 0}, {0, 0}};
            setitimer(ITIMER_REAL, &off, NULL);
            if (r == 1) got++;
            if (r == -EINTR) eintr++;
            while (waitpid(c, NULL, 0) < 0 && errno == EINTR) {
            }
            close(p[0]);
        }
        // Timing decides single rounds on a loaded machine; these outcomes don't depend on it.
        if (restart)
            printf("SA_RESTART: every read completed: %s\n", got == 5 && !eintr ? "yes" : "no");
        else
            printf("no SA_RESTART: EINTR seen: %s\n", eintr > 0 ? "yes" : "no");
    }
    signal(SIGALRM, SIG_DFL);
}

static void *thread_main(void *arg) {
    long *ok = arg;
    for (int i = 0; i < 2000; i++) {
        if (site_gettid() != syscall(SYS_gettid) || site_getpid() != getpid()) return NULL;
    }
    *ok = 1;
    return NULL;
}

static void threads(void) {
    pthread_t t[4];
    long ok[4] = {0};
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, thread_main, &ok[i]);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    CHECK(ok[0] && ok[1] && ok[2] && ok[3], "a thread saw another's answer");
    printf("threads agree\n");
}

// Signals sent while the target is in (or just leaving) a patched syscall: each must be
// delivered before the target, spinning in user code without syscalls, gives up.
static volatile int round_go, usr2;
static void on_usr2(int s) { (void)s; usr2++; }

static void *kicker(void *arg) {
    pthread_t target = *(pthread_t *)arg;
    for (int i = 0; i < 2000; i++) {
        while (round_go <= i) {
        }
        pthread_kill(target, SIGUSR2);
    }
    return NULL;
}

static void kicks(void) {
    signal(SIGUSR2, on_usr2);
    pthread_t self = pthread_self(), k;
    pthread_create(&k, NULL, kicker, &self);
    int lost = 0;
    for (int i = 0; i < 2000 && !lost; i++) {
        round_go = i + 1;
        site_getpid();
        for (long spin = 0; usr2 <= i; spin++) {
            if (spin > 3000000000L) {
                lost = 1;
                break;
            }
        }
    }
    round_go = 1 << 30; // let the kicker finish if we gave up early
    pthread_join(k, NULL);
    CHECK(!lost, "a signal was lost (%d delivered)", (int)usr2);
    printf("signals during syscalls delivered\n");
}

static void fork_child(void) {
    for (int i = 0; i < 40; i++) site_getpid();
    pid_t c = fork();
    if (c == 0) {
        int bad = 0;
        for (int i = 0; i < 100; i++)
            if (site_getpid() != syscall(SYS_getpid)) bad++;
        _exit(bad ? 1 : 0);
    }
    int st;
    waitpid(c, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
    for (int i = 0; i < 5; i++) CHECK(site_getpid() == getpid(), "parent pid after fork");
    printf("fork keeps the sites working\n");
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1 && !strcmp(argv[1], "exec")) {
        for (int i = 0; i < 40; i++) CHECK(site_getpid() == getpid(), "pid after exec");
        printf("sites work after exec\n");
        return failures != 0;
    }
    general_registers();
    other_state();
    signal_on_return();
    restarts();
    threads();
    kicks();
    fork_child();
    if (failures) return 1;
    execl("/proc/self/exe", argv[0], "exec", (char *)NULL);
    printf("exec failed: %s\n", strerror(errno));
    return 1;
}
