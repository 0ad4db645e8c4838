/* fork: copy-on-write isolation, shared anonymous memory, exit statuses, nested forks, many
 * children, pipes between processes, signals between processes, SIGCHLD, fork from a thread,
 * execve from a child. Prints what it sees. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static int global = 1;
static volatile sig_atomic_t chld;

static void on_chld(int s) { (void)s; chld++; }

static int status_of(pid_t p) {
    int st;
    if (waitpid(p, &st, 0) != p) return -1000;
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return -WTERMSIG(st);
    return -999;
}

static void *thread_fork(void *a) {
    (void)a;
    pid_t p = fork();
    if (p == 0) _exit(33);
    return (void *)(long)status_of(p);
}

/* The FP control state a program starts with: MXCSR and the x87 control word. */
static void fp_state(unsigned *mxcsr, unsigned short *fcw) {
    __asm__ volatile("stmxcsr %0" : "=m"(*mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(*fcw));
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "fpcheck") == 0) {
        unsigned mxcsr;
        unsigned short fcw;
        fp_state(&mxcsr, &fcw);
        printf("after exec: mxcsr %#x fcw %#x\n", mxcsr & 0xffc0, fcw);
        return 0;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    /* 1. Copy-on-write: each side sees its own writes. */
    char *heap = malloc(1 << 20);
    memset(heap, 'p', 1 << 20);
    pid_t p = fork();
    if (p == 0) {
        global = 2;
        memset(heap, 'c', 1 << 20);
        _exit(global == 2 && heap[12345] == 'c' ? 7 : 8);
    }
    printf("cow: child=%d parent global=%d heap=%c\n", status_of(p), global, heap[12345]);

    /* 2. MAP_SHARED anonymous memory is shared. */
    volatile int *shared = mmap(NULL, 4096 * 4, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    shared[0] = 1;
    p = fork();
    if (p == 0) {
        shared[0] = 42;
        shared[2048] = 43; /* a page nobody touched before the fork */
        _exit(0);
    }
    status_of(p);
    printf("shared: %d %d\n", shared[0], shared[2048]);

    /* 3. Exit statuses and signals. */
    p = fork();
    if (p == 0) { pause(); _exit(0); }
    kill(p, SIGTERM);
    printf("killed child: %d\n", status_of(p));
    p = fork();
    if (p == 0) { abort(); }
    printf("abort child: %d\n", status_of(p));
    p = fork();
    if (p == 0) { *(volatile int *)8 = 1; _exit(0); }
    printf("segv child: %d\n", status_of(p));

    /* 4. Nested forks and getppid. */
    p = fork();
    if (p == 0) {
        pid_t me = getpid();
        pid_t q = fork();
        if (q == 0) _exit(getppid() == me ? 5 : 6);
        _exit(status_of(q) + 10);
    }
    printf("nested: %d\n", status_of(p));

    /* 5. Many children. */
    int n = 0;
    for (int i = 0; i < 100; i++) {
        pid_t c = fork();
        if (c == 0) _exit(i % 7);
        if (c > 0) n++;
    }
    int sum = 0, st;
    for (int i = 0; i < n; i++) {
        if (wait(&st) > 0) sum += WEXITSTATUS(st);
    }
    int expect = 0;
    for (int i = 0; i < 100; i++) expect += i % 7;
    printf("100 children: n=%d sum-ok=%d\n", n, sum == expect);

    /* 6. A pipe between parent and child. */
    int fds[2];
    pipe(fds);
    p = fork();
    if (p == 0) {
        close(fds[0]);
        for (int i = 0; i < 1000; i++) dprintf(fds[1], "line %d\n", i);
        _exit(0);
    }
    close(fds[1]);
    char buf[4096];
    long total = 0;
    ssize_t r;
    while ((r = read(fds[0], buf, sizeof buf)) > 0) total += r;
    close(fds[0]);
    printf("pipe bytes=%ld child=%d\n", total, status_of(p));

    /* 7. SIGCHLD handler. */
    signal(SIGCHLD, on_chld);
    p = fork();
    if (p == 0) _exit(0);
    status_of(p);
    printf("sigchld=%d\n", chld > 0);
    signal(SIGCHLD, SIG_DFL);

    /* 8. Fork from a thread. */
    pthread_t t;
    void *res;
    pthread_create(&t, NULL, thread_fork, NULL);
    pthread_join(t, &res);
    printf("fork from thread: %ld\n", (long)res);

    /* 9. fork + execve. */
    p = fork();
    if (p == 0) {
        char *argv[] = {"/bin/sh", "-c", "exit 21", NULL};
        execv(argv[0], argv);
        _exit(99);
    }
    printf("fork+exec: %d\n", status_of(p));

    /* 9b. exec starts the new program with default FP control state, whatever the old one
     * had set (round toward zero in both units here). */
    fflush(stdout);
    p = fork();
    if (p == 0) {
        unsigned mxcsr = 0x7f80;         /* masks, RC = toward zero */
        unsigned short fcw = 0x0f7f;     /* masks, RC = toward zero */
        __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
        __asm__ volatile("fldcw %0" : : "m"(fcw));
        fp_state(&mxcsr, &fcw);
        printf("before exec: mxcsr %#x fcw %#x\n", mxcsr & 0xffc0, fcw);
        fflush(stdout);
        execl("/proc/self/exe", "fork", "fpcheck", (char *)NULL);
        _exit(99);
    }
    printf("exec fp child: %d\n", status_of(p));

    /* 9c. A forked child starts with its parent's FP control state and registers, also when
     * it runs on a thread an earlier process left behind (snare reuses parked stub threads). */
    for (int i = 0; i < 4; i++) {
        unsigned mxcsr = i % 2 ? 0x7f80 : 0x1f80 | 0x2000; /* RC toward zero, or down */
        unsigned short fcw = i % 2 ? 0x0f7f : 0x077f;
        __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
        __asm__ volatile("fldcw %0" : : "m"(fcw));
        volatile double seed = 1.0 + i;
        p = fork();
        if (p == 0) {
            double x = seed;
            fp_state(&mxcsr, &fcw);
            printf("forked fp %d: mxcsr %#x fcw %#x x %.1f\n", i, mxcsr & 0xffc0, fcw, x);
            _exit(0);
        }
        status_of(p);
    }
    {
        unsigned mxcsr = 0x1f80;
        unsigned short fcw = 0x037f;
        __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
        __asm__ volatile("fldcw %0" : : "m"(fcw));
    }

    /* 10. SIGCHLD ignored: children are reaped at once; wait gives ECHILD. */
    signal(SIGCHLD, SIG_IGN);
    p = fork();
    if (p == 0) _exit(0);
    errno = 0;
    printf("ignored sigchld wait: %d %s\n", waitpid(p, &st, 0), strerror(errno));
    return 0;
}
