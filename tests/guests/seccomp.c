// A guest's own seccomp filters (issue 17): programs checked as Linux checks them, every
// action, the chain's precedence, inheritance across fork, threads (TSYNC) and exec, strict
// mode, PR_GET_SECCOMP and /proc/self/status. Each case runs in a child of its own.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#define NR_OFF offsetof(struct seccomp_data, nr)
#define ARG0_OFF offsetof(struct seccomp_data, args[0])

// Prints a call's result and errno (read after the call, whatever the argument order).
#define SHOW(label, call)                                                                  \
    do {                                                                                   \
        errno = 0;                                                                         \
        long r_ = (call);                                                                  \
        int e_ = errno;                                                                    \
        printf("%s: %ld %s\n", label, r_, strerror(e_));                                   \
    } while (0)

static long sc(unsigned op, unsigned flags, void *args) {
    return syscall(SYS_seccomp, op, flags, args);
}

static int install(struct sock_filter *f, unsigned short n, unsigned flags) {
    struct sock_fprog p = {.len = n, .filter = f};
    return (int)sc(SECCOMP_SET_MODE_FILTER, flags, &p);
}

// nr == which → ret; else allow.
static int deny(int which, unsigned ret, unsigned flags) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR_OFF),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, which, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, ret),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    return install(f, 4, flags);
}

static void status_lines(const char *who) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    if (!f) {
        printf("%s: no status\n", who);
        return;
    }
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "Seccomp", 7))
            printf("%s: %s", who, line);
    fclose(f);
}

// Runs fn in a child; prints how it ended.
static void child(const char *name, void (*fn)(void)) {
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        struct rlimit no = {0, 0};
        setrlimit(RLIMIT_CORE, &no);
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        fn();
        fflush(stdout);
        _exit(0);
    }
    int st;
    waitpid(p, &st, 0);
    if (WIFEXITED(st))
        printf("%s: exit %d\n", name, WEXITSTATUS(st));
    else
        printf("%s: signal %d\n", name, WTERMSIG(st));
}

static void bad_programs(void) {
    struct sock_filter ret = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    struct sock_filter cases[][2] = {
        {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 2), ret},
        {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 64), ret},
        {BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 0), ret},
        {BPF_STMT(BPF_LD | BPF_W | BPF_IND, 0), ret},
        {BPF_STMT(BPF_ALU | BPF_DIV | BPF_K, 0), ret},
        {BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0), ret},
        {BPF_STMT(BPF_LD | BPF_W | BPF_MEM, 0), ret},
        {BPF_STMT(BPF_ST, 16), ret},
        {ret, BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0)},
        {BPF_STMT(0xffff, 0), ret},
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        errno = 0;
        int r = install(cases[i], 2, 0);
        int e = errno;
        printf("bad program %u: %d %s\n", i, r, strerror(e));
    }
    SHOW("empty", install(cases[0], 0, 0));
    SHOW("null fprog", sc(SECCOMP_SET_MODE_FILTER, 0, NULL));
    struct sock_fprog wild = {.len = 1, .filter = (void *)8};
    SHOW("wild filter", sc(SECCOMP_SET_MODE_FILTER, 0, &wild));
    SHOW("bad flags", install(&ret, 1, 1u << 20));
    SHOW("bad op", sc(99, 0, NULL));
    SHOW("strict with args", sc(SECCOMP_SET_MODE_STRICT, 0, &wild));
    SHOW("prctl bad mode", prctl(PR_SET_SECCOMP, 7, 0, 0, 0));
    printf("mode after: %d\n", prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
}

static void actions_avail(void) {
    unsigned acts[] = {SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_TRAP,
                       SECCOMP_RET_ERRNO,        SECCOMP_RET_TRACE,       SECCOMP_RET_LOG,
                       SECCOMP_RET_ALLOW,        0x12340000};
    for (unsigned i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        errno = 0;
        long r = sc(SECCOMP_GET_ACTION_AVAIL, 0, &acts[i]);
        printf("avail %#x: %ld %s\n", acts[i], r, strerror(errno));
    }
    struct seccomp_notif_sizes sz;
    long r = sc(SECCOMP_GET_NOTIF_SIZES, 0, &sz);
    printf("notif sizes: %ld %u %u %u\n", r, sz.seccomp_notif, sz.seccomp_notif_resp,
           sz.seccomp_data);
}

static volatile sig_atomic_t trapped_errno, trapped_code, trapped_nr, trapped_arch;

static void on_sigsys(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)uc;
    trapped_errno = si->si_errno;
    trapped_code = si->si_code;
    trapped_nr = si->si_syscall;
    trapped_arch = si->si_arch == AUDIT_ARCH_X86_64;
}

static void errno_trap_and_args(void) {
    struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
    sigaction(SIGSYS, &sa, NULL);
    printf("install errno: %d\n", deny(SYS_getpid, SECCOMP_RET_ERRNO | EADDRNOTAVAIL, 0));
    printf("mode: %d\n", prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
    errno = 0;
    long r = syscall(SYS_getpid);
    printf("getpid: %ld %s\n", r, strerror(errno));
    printf("install trap: %d\n", deny(SYS_getppid, SECCOMP_RET_TRAP | 7, 0));
    errno = 0;
    r = syscall(SYS_getppid);
    printf("getppid: %ld %s; SIGSYS errno %d code %d nr %d x86_64 %d\n", r, strerror(errno),
           trapped_errno, trapped_code, trapped_nr, trapped_arch);
    // uname returns 0 without running: the buffer stays as it was.
    printf("install errno 0: %d\n", deny(SYS_uname, SECCOMP_RET_ERRNO | 0, 0));
    struct utsname u;
    memset(&u, 'x', sizeof u);
    r = syscall(SYS_uname, &u);
    printf("uname: %ld untouched %d\n", r, u.sysname[0] == 'x');
    // A condition on an argument: dup(1000) gets ENOTSUP, dup(1) works.
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR_OFF),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_dup, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0_OFF),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1000, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOTSUP),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    printf("install args: %d\n", install(f, 6, SECCOMP_FILTER_FLAG_LOG));
    errno = 0;
    r = syscall(SYS_dup, 1000);
    printf("dup(1000): %ld %s\n", r, strerror(errno));
    r = syscall(SYS_dup, 1);
    printf("dup(1) works: %d\n", r > 2);
    close((int)r);
    // Precedence: a newer filter's errno beats an older allow; trap beats errno.
    printf("install second getpid: %d\n", deny(SYS_getpid, SECCOMP_RET_ERRNO | EPERM, 0));
    errno = 0;
    r = syscall(SYS_getpid);
    printf("getpid now: %ld %s\n", r, strerror(errno));
    printf("install trap getpid: %d\n", deny(SYS_getpid, SECCOMP_RET_TRAP | 3, 0));
    trapped_errno = 0;
    errno = 0;
    r = syscall(SYS_getpid);
    printf("getpid trapped: %ld %s errno %d\n", r, strerror(errno), trapped_errno);
    status_lines("filters");
    // Inherited by a child.
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        errno = 0;
        long c = syscall(SYS_dup, 1000);
        printf("child dup(1000): %ld %s\n", c, strerror(errno));
        status_lines("child");
        fflush(stdout);
        _exit(0);
    }
    int st;
    waitpid(p, &st, 0);
    SHOW("strict over filters", sc(SECCOMP_SET_MODE_STRICT, 0, NULL));
}

static void kill_process(void) {
    printf("install kill: %d\n", deny(SYS_getppid, SECCOMP_RET_KILL_PROCESS, 0));
    fflush(stdout);
    syscall(SYS_getppid);
    printf("still here\n");
}

static void kill_thread(void) {
    printf("install kill thread: %d\n", deny(SYS_getppid, SECCOMP_RET_KILL_THREAD, 0));
    fflush(stdout);
    syscall(SYS_getppid);
    printf("still here\n");
}

static void unknown_action(void) {
    printf("install unknown: %d\n", deny(SYS_getppid, 0x12340000, 0));
    fflush(stdout);
    syscall(SYS_getppid);
    printf("still here\n");
}

static void strict(void) {
    fflush(stdout);
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0) != 0) {
        printf("strict refused\n");
        return;
    }
    static const char msg[] = "strict: write works\n";
    write(1, msg, sizeof msg - 1);
    syscall(SYS_getpid);
    write(1, "still here\n", 11);
}

static pthread_barrier_t bar;
static long thread_result;
static int thread_errno;

static void *thread_fn(void *arg) {
    (void)arg;
    pthread_barrier_wait(&bar);
    pthread_barrier_wait(&bar);
    errno = 0;
    thread_result = syscall(SYS_getpid);
    thread_errno = errno;
    return NULL;
}

static void tsync(void) {
    pthread_t t;
    pthread_barrier_init(&bar, NULL, 2);
    pthread_create(&t, NULL, thread_fn, NULL);
    pthread_barrier_wait(&bar);
    printf("install tsync: %d\n",
           deny(SYS_getpid, SECCOMP_RET_ERRNO | EDOM, SECCOMP_FILTER_FLAG_TSYNC));
    pthread_barrier_wait(&bar);
    pthread_join(t, NULL);
    printf("thread getpid: %ld %s\n", thread_result, strerror(thread_errno));
}

static void *diverge_fn(void *arg) {
    (void)arg;
    deny(SYS_getppid, SECCOMP_RET_ERRNO | EDOM, 0);
    pthread_barrier_wait(&bar);
    pthread_barrier_wait(&bar);
    return NULL;
}

static void tsync_diverged(void) {
    pthread_t t;
    pthread_barrier_init(&bar, NULL, 2);
    pthread_create(&t, NULL, diverge_fn, NULL);
    pthread_barrier_wait(&bar);
    long r = deny(SYS_getpid, SECCOMP_RET_ERRNO | EDOM, SECCOMP_FILTER_FLAG_TSYNC);
    printf("tsync over a diverged thread: names a thread %d\n", r > 0);
    errno = 0;
    r = deny(SYS_getpid, SECCOMP_RET_ERRNO | EDOM,
             SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_TSYNC_ESRCH);
    printf("with TSYNC_ESRCH: %ld %s\n", r, strerror(errno));
    errno = 0;
    r = syscall(SYS_getpid);
    printf("not installed: %d\n", r > 0);
    pthread_barrier_wait(&bar);
    pthread_join(t, NULL);
}

// Without no_new_privs and without CAP_SYS_ADMIN (another user): EACCES.
static void needs_no_new_privs(void) {
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        struct sock_filter ret = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
        if (setgid(65534) || setuid(65534))
            _exit(3);
        SHOW("unprivileged, no no_new_privs", install(&ret, 1, 0));
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        SHOW("with no_new_privs", install(&ret, 1, 0));
        fflush(stdout);
        _exit(0);
    }
    int st;
    waitpid(p, &st, 0);
}

static char *self;

static void across_exec(void) {
    deny(SYS_getpid, SECCOMP_RET_ERRNO | EXDEV, 0);
    fflush(stdout);
    execl(self, self, "after-exec", (char *)NULL);
    printf("exec failed\n");
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    self = argv[0];
    if (argc > 1 && !strcmp(argv[1], "after-exec")) {
        errno = 0;
        long r = syscall(SYS_getpid);
        printf("after exec getpid: %ld %s\n", r, strerror(errno));
        status_lines("after exec");
        return 0;
    }
    printf("mode at start: %d\n", prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
    child("bad programs", bad_programs);
    child("actions", actions_avail);
    child("errno, trap, args", errno_trap_and_args);
    child("kill process", kill_process);
    child("kill thread", kill_thread);
    child("unknown action", unknown_action);
    child("strict", strict);
    child("tsync", tsync);
    child("tsync diverged", tsync_diverged);
    child("exec", across_exec);
    needs_no_new_privs();
    return 0;
}
