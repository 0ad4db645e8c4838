/* Priorities and scheduling (issue 17): nice values per thread (getpriority/setpriority,
 * /proc/self/stat's priority and nice), policies (sched_setscheduler, sched_setparam,
 * sched_setattr/getattr and their size rules, SCHED_RESET_ON_FORK), CPU affinity (the
 * getaffinity size rules, inheritance, getcpu, /proc's Cpus_allowed_list), I/O priorities,
 * personality, and the unprivileged side of each (a child as uid 54321 with chosen
 * RLIMIT_NICE / RLIMIT_RTPRIO), with hostile arguments. Run as root; prints results only
 * (errno names), nothing the host's scheduling decides.
 *
 * Natively and under snare the output must be the same. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *en(int e) {
    switch (e) {
    case EPERM: return "EPERM";
    case ESRCH: return "ESRCH";
    case EINVAL: return "EINVAL";
    case EFAULT: return "EFAULT";
    case EACCES: return "EACCES";
    case E2BIG: return "E2BIG";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EBADF: return "EBADF";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    default: return strerror(e);
    }
}

/* A raw call's result: the number, or the errno's name. */
static char buf_[16][64];
static int bi_;
static const char *r(long v) {
    char *b = buf_[bi_++ % 16];
    if (v < 0) snprintf(b, 64, "%s", en(errno));
    else snprintf(b, 64, "%ld", v);
    return b;
}

struct attr {
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t prio;
    uint64_t runtime, deadline, period;
    uint32_t util_min, util_max;
};

static long setattr(pid_t pid, void *a, unsigned flags) { return syscall(SYS_sched_setattr, pid, a, flags); }
static long getattr(pid_t pid, void *a, unsigned size, unsigned flags) {
    return syscall(SYS_sched_getattr, pid, a, size, flags);
}

/* Fields 18 and 19 (priority, nice) and 40, 41 (rt_priority, policy) of /proc/self/stat. */
static void stat_sched(const char *what) {
    char b[1024];
    int fd = open("/proc/self/stat", O_RDONLY);
    long n = read(fd, b, sizeof b - 1);
    close(fd);
    if (n <= 0) return;
    b[n] = 0;
    char *p = strrchr(b, ')');
    long f[60] = {0};
    int i = 3;
    for (char *t = strtok(p + 2, " "); t && i < 60; t = strtok(NULL, " ")) f[i++] = strtol(t, NULL, 10);
    printf("%s: stat priority %ld nice %ld rt_priority %ld policy %ld\n", what, f[18], f[19], f[40], f[41]);
}

/* One result a line: the calls run in the order written (printf's arguments have none). */
static void say(const char *what, long v) { printf("%s: %s\n", what, r(v)); }

static void *thread_nice(void *arg) {
    (void)arg;
    say("thread: nice (the process's is per thread)", syscall(SYS_getpriority, PRIO_PROCESS, 0));
    say("thread: setpriority 7", syscall(SYS_setpriority, PRIO_PROCESS, 0, 7));
    return NULL;
}

static long nice_(void) { return syscall(SYS_getpriority, PRIO_PROCESS, 0); }

static void priorities(void) {
    say("getpriority self", nice_());
    say("setpriority 5", syscall(SYS_setpriority, PRIO_PROCESS, 0, 5));
    say("getpriority", syscall(SYS_getpriority, PRIO_PROCESS, getpid()));
    stat_sched("nice 5");
    say("setpriority 100 (clamped)", syscall(SYS_setpriority, PRIO_PROCESS, 0, 100));
    say("  now", nice_());
    say("setpriority -100 (clamped, root)", syscall(SYS_setpriority, PRIO_PROCESS, 0, -100));
    say("  now", nice_());
    stat_sched("nice -20");
    syscall(SYS_setpriority, PRIO_PROCESS, 0, 2);
    pthread_t t;
    pthread_create(&t, NULL, thread_nice, NULL);
    pthread_join(t, NULL);
    say("main after thread", nice_());
    say("bad which 3", syscall(SYS_getpriority, 3, 0));
    say("bad which -1", syscall(SYS_setpriority, -1, 0, 0));
    say("missing pid", syscall(SYS_getpriority, PRIO_PROCESS, 999999));
    say("pid -5", syscall(SYS_setpriority, PRIO_PROCESS, -5, 0));
    say("missing group", syscall(SYS_getpriority, PRIO_PGRP, 999999));
    say("missing user", syscall(SYS_getpriority, PRIO_USER, 54329));
    say("user -1", syscall(SYS_setpriority, PRIO_USER, -1, 0));
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        /* Alone in a process group: PRIO_PGRP sees this process only. */
        setpgid(0, 0);
        say("child inherits", nice_());
        say("pgrp set 4", syscall(SYS_setpriority, PRIO_PGRP, 0, 4));
        say("pgrp get", syscall(SYS_getpriority, PRIO_PGRP, getpid()));
        fflush(stdout);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    say("parent's own", nice_());
    syscall(SYS_setpriority, PRIO_PROCESS, 0, 0);
}

static long getsched(void) { return syscall(SYS_sched_getscheduler, 0); }

static void policies(void) {
    struct sched_param p = {0};
    say("getscheduler", getsched());
    say("max FIFO", sched_get_priority_max(SCHED_FIFO));
    say("min FIFO", sched_get_priority_min(SCHED_FIFO));
    say("max RR", sched_get_priority_max(SCHED_RR));
    say("min RR", sched_get_priority_min(SCHED_RR));
    say("max OTHER", sched_get_priority_max(SCHED_OTHER));
    say("min BATCH", sched_get_priority_min(SCHED_BATCH));
    say("max IDLE", sched_get_priority_max(SCHED_IDLE));
    say("max DEADLINE", sched_get_priority_max(6));
    say("max 4", sched_get_priority_max(4));
    say("min -1", sched_get_priority_min(-1));
    fflush(stdout);
    /* Real-time policies in a child (the parent stays SCHED_OTHER). */
    pid_t c = fork();
    if (c == 0) {
        p.sched_priority = 10;
        say("FIFO 10", syscall(SYS_sched_setscheduler, 0, SCHED_FIFO, &p));
        say("getscheduler", getsched());
        memset(&p, 0, sizeof p);
        say("getparam", syscall(SYS_sched_getparam, 0, &p));
        printf("  prio %d\n", p.sched_priority);
        stat_sched("FIFO 10");
        struct timespec ts = {9, 9};
        say("rr_get_interval FIFO", syscall(SYS_sched_rr_get_interval, 0, &ts));
        printf("  %ld.%09ld\n", (long)ts.tv_sec, ts.tv_nsec);
        p.sched_priority = 20;
        say("setparam 20", syscall(SYS_sched_setparam, 0, &p));
        p.sched_priority = 0;
        say("setparam 0 under FIFO", syscall(SYS_sched_setparam, 0, &p));
        p.sched_priority = 5;
        say("RR|RESET_ON_FORK 5", syscall(SYS_sched_setscheduler, 0, SCHED_RR | SCHED_RESET_ON_FORK, &p));
        printf("getscheduler: %#lx\n", (unsigned long)getsched());
        ts.tv_sec = 9;
        say("rr_get_interval RR", syscall(SYS_sched_rr_get_interval, 0, &ts));
        printf("  %ld.%09ld\n", (long)ts.tv_sec, ts.tv_nsec);
        stat_sched("RR 5");
        fflush(stdout);
        pid_t g = fork();
        if (g == 0) {
            say("grandchild (reset on fork): policy", getsched());
            syscall(SYS_sched_getparam, 0, &p);
            printf("  prio %d\n", p.sched_priority);
            fflush(stdout);
            _exit(0);
        }
        waitpid(g, NULL, 0);
        p.sched_priority = 0;
        say("back to OTHER", syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &p));
        printf("getscheduler: %#lx\n", (unsigned long)getsched());
        p.sched_priority = 1;
        say("OTHER with priority 1", syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &p));
        p.sched_priority = 100;
        say("FIFO 100", syscall(SYS_sched_setscheduler, 0, SCHED_FIFO, &p));
        p.sched_priority = -1;
        say("FIFO -1", syscall(SYS_sched_setscheduler, 0, SCHED_FIFO, &p));
        p.sched_priority = 0;
        say("policy 4", syscall(SYS_sched_setscheduler, 0, 4, &p));
        say("policy -1", syscall(SYS_sched_setscheduler, 0, -1, &p));
        say("policy 7", syscall(SYS_sched_setscheduler, 0, 7, &p));
        say("DEADLINE via setscheduler", syscall(SYS_sched_setscheduler, 0, 6, &p));
        say("BATCH", syscall(SYS_sched_setscheduler, 0, SCHED_BATCH, &p));
        say("IDLE", syscall(SYS_sched_setscheduler, 0, SCHED_IDLE, &p));
        say("getscheduler", getsched());
        stat_sched("IDLE");
        say("NULL param", syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, NULL));
        say("bad param", syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, (void *)8));
        say("negative pid", syscall(SYS_sched_setscheduler, -1, SCHED_OTHER, &p));
        say("missing pid", syscall(SYS_sched_setscheduler, 999999, SCHED_OTHER, &p));
        say("getparam NULL", syscall(SYS_sched_getparam, 0, NULL));
        say("getparam bad", syscall(SYS_sched_getparam, 0, (void *)8));
        say("getparam missing", syscall(SYS_sched_getparam, 999999, &p));
        say("getscheduler -1", syscall(SYS_sched_getscheduler, -1));
        say("getscheduler missing", syscall(SYS_sched_getscheduler, 999999));
        say("rr_get_interval -1", syscall(SYS_sched_rr_get_interval, -1, &ts));
        say("rr_get_interval missing", syscall(SYS_sched_rr_get_interval, 999999, &ts));
        say("rr_get_interval bad ptr", syscall(SYS_sched_rr_get_interval, 0, (void *)8));
        fflush(stdout);
        _exit(0);
    }
    waitpid(c, NULL, 0);
}

static void attrs(void) {
    fflush(stdout);
    pid_t c = fork();
    if (c != 0) {
        waitpid(c, NULL, 0);
        return;
    }
    struct attr a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.nice = 3;
    say("setattr OTHER nice 3", setattr(0, &a, 0));
    say("  nice", nice_());
    a.nice = 50;
    say("setattr nice 50 (clamped)", setattr(0, &a, 0));
    say("  nice", nice_());
    memset(&a, 0xee, sizeof a);
    say("getattr 48", getattr(0, &a, 48, 0));
    printf("  size %u policy %u flags %lu nice %d prio %u untouched %#x\n", a.size, a.policy,
           (unsigned long)a.flags, a.nice, a.prio, a.util_min);
    say("getattr 200", getattr(0, &a, 200, 0));
    printf("  size %u\n", a.size);
    say("getattr 47", getattr(0, &a, 47, 0));
    say("getattr 4097", getattr(0, &a, 4097, 0));
    say("getattr flags", getattr(0, &a, 56, 1));
    say("getattr NULL", getattr(0, NULL, 56, 0));
    say("getattr bad", getattr(0, (void *)8, 56, 0));
    say("getattr pid -1", getattr(-1, &a, 56, 0));
    say("getattr missing", getattr(999999, &a, 56, 0));
    /* Size rules: 0 is VER0; too small or too large is E2BIG with the size written back. */
    unsigned char big[128];
    memset(big, 0, sizeof big);
    struct attr *b = (struct attr *)big;
    b->size = 0;
    b->nice = 1;
    say("setattr size 0", setattr(0, big, 0));
    say("  nice", nice_());
    b->size = 8;
    say("setattr size 8", setattr(0, big, 0));
    printf("  size now %u\n", b->size);
    b->size = 128;
    b->nice = 2;
    say("setattr size 128 zero tail", setattr(0, big, 0));
    big[100] = 1;
    b->size = 128;
    say("setattr size 128 nonzero tail", setattr(0, big, 0));
    printf("  size now %u\n", b->size);
    b->size = 5000;
    say("setattr size 5000", setattr(0, big, 0));
    printf("  size now %u\n", b->size);
    big[100] = 0;
    b->size = 48;
    b->flags = 0x20; /* util clamp needs VER1 */
    say("setattr util clamp at VER0", setattr(0, big, 0));
    b->flags = 0x80;
    b->size = 56;
    say("setattr unknown flag", setattr(0, big, 0));
    b->flags = 0;
    b->policy = 0x80000000u;
    say("setattr negative policy", setattr(0, big, 0));
    b->policy = SCHED_RESET_ON_FORK;
    say("setattr RESET_ON_FORK as a policy", setattr(0, big, 0));
    b->policy = 0;
    say("setattr flags arg", setattr(0, big, 1));
    say("setattr NULL", setattr(0, NULL, 0));
    say("setattr bad", setattr(0, (void *)8, 0));
    say("setattr pid -1", setattr(-1, big, 0));
    say("setattr missing", setattr(999999, big, 0));
    /* SCHED_DEADLINE parameters: only the invalid ones (root would get the policy). */
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.policy = 6;
    a.runtime = 10000000;
    a.deadline = 0;
    a.period = 30000000;
    say("DEADLINE no deadline", setattr(0, &a, 0));
    a.deadline = 5000000;
    say("DEADLINE runtime > deadline", setattr(0, &a, 0));
    a.runtime = 100;
    a.deadline = 20000000;
    say("DEADLINE runtime < 1024", setattr(0, &a, 0));
    a.runtime = 10000000;
    a.period = 10000000;
    say("DEADLINE period < deadline", setattr(0, &a, 0));
    a.policy = SCHED_FIFO;
    a.prio = 0;
    say("FIFO prio 0", setattr(0, &a, 0));
    a.prio = 30;
    a.flags = 1;
    say("FIFO 30 reset-on-fork", setattr(0, &a, 0));
    printf("  getscheduler %#lx\n", (unsigned long)getsched());
    memset(&a, 0, sizeof a);
    say("getattr", getattr(0, &a, sizeof a, 0));
    printf("  policy %u flags %lu prio %u nice %d\n", a.policy, (unsigned long)a.flags, a.prio, a.nice);
    a.flags = 0x08; /* keep the policy: sets the priority */
    a.prio = 40;
    say("KEEP_POLICY prio 40", setattr(0, &a, 0));
    printf("  getscheduler %#lx\n", (unsigned long)getsched());
    a.flags = 0x18;
    a.prio = 0;
    say("KEEP_POLICY|KEEP_PARAMS", setattr(0, &a, 0));
    struct sched_param p;
    say("getparam", syscall(SYS_sched_getparam, 0, &p));
    printf("  prio %d\n", p.sched_priority);
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    say("back to OTHER", setattr(0, &a, 0));
    printf("  getscheduler %#lx\n", (unsigned long)getsched());
    fflush(stdout);
    _exit(0);
}

static void status_line(const char *key) {
    char b[4096];
    int fd = open("/proc/self/status", O_RDONLY);
    long k = read(fd, b, sizeof b - 1);
    close(fd);
    b[k > 0 ? k : 0] = 0;
    char *l = strstr(b, key);
    if (l) printf("%.*s\n", (int)strcspn(l, "\n"), l);
}

static void affinity(void) {
    cpu_set_t s;
    CPU_ZERO(&s);
    say("getaffinity", syscall(SYS_sched_getaffinity, 0, sizeof s, &s));
    printf("  count %d\n", CPU_COUNT(&s));
    say("getaffinity len 4", syscall(SYS_sched_getaffinity, 0, 4, &s));
    say("getaffinity len 12", syscall(SYS_sched_getaffinity, 0, 12, &s));
    say("getaffinity len 0", syscall(SYS_sched_getaffinity, 0, 0, &s));
    say("getaffinity len 1<<32 + 8 (an unsigned int)", syscall(SYS_sched_getaffinity, 0, (1UL << 32) + 8, &s));
    say("getaffinity bad ptr", syscall(SYS_sched_getaffinity, 0, sizeof s, (void *)8));
    say("getaffinity pid -1", syscall(SYS_sched_getaffinity, -1, sizeof s, &s));
    say("getaffinity missing", syscall(SYS_sched_getaffinity, 999999, sizeof s, &s));
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(0, &one);
        say("setaffinity {0}", syscall(SYS_sched_setaffinity, 0, sizeof one, &one));
        CPU_ZERO(&s);
        say("getaffinity", syscall(SYS_sched_getaffinity, 0, sizeof s, &s));
        printf("  count %d cpu0 %d\n", CPU_COUNT(&s), CPU_ISSET(0, &s));
        unsigned cpu = 99, node = 99;
        say("getcpu", syscall(SYS_getcpu, &cpu, &node, NULL));
        printf("  cpu %u node %u\n", cpu, node);
        status_line("Cpus_allowed_list:");
        fflush(stdout);
        pid_t g = fork();
        if (g == 0) {
            CPU_ZERO(&s);
            syscall(SYS_sched_getaffinity, 0, sizeof s, &s);
            printf("grandchild inherits: count %d\n", CPU_COUNT(&s));
            fflush(stdout);
            _exit(0);
        }
        waitpid(g, NULL, 0);
        cpu_set_t none;
        CPU_ZERO(&none);
        say("setaffinity {}", syscall(SYS_sched_setaffinity, 0, sizeof none, &none));
        CPU_SET(1000, &none);
        say("setaffinity {1000}", syscall(SYS_sched_setaffinity, 0, sizeof none, &none));
        say("setaffinity len 0", syscall(SYS_sched_setaffinity, 0, 0, &one));
        say("setaffinity len 0 NULL", syscall(SYS_sched_setaffinity, 0, 0, NULL));
        say("setaffinity bad ptr", syscall(SYS_sched_setaffinity, 0, sizeof one, (void *)8));
        say("setaffinity missing pid", syscall(SYS_sched_setaffinity, 999999, sizeof one, &one));
        memset(&one, 0xff, sizeof one);
        say("setaffinity all ones", syscall(SYS_sched_setaffinity, 0, sizeof one, &one));
        CPU_ZERO(&none);
        syscall(SYS_sched_getaffinity, 0, sizeof none, &none);
        printf("  back to every CPU: %d\n", CPU_COUNT(&none) == CPU_COUNT(&s) + 0 || CPU_COUNT(&none) > 0);
        fflush(stdout);
        _exit(0);
    }
    waitpid(c, NULL, 0);
}

static long ioprio_set(int which, int who, int prio) { return syscall(SYS_ioprio_set, which, who, prio); }
static long ioprio_get(int which, int who) { return syscall(SYS_ioprio_get, which, who); }

static void ioprio(void) {
    fflush(stdout);
    pid_t c = fork();
    if (c != 0) {
        waitpid(c, NULL, 0);
        return;
    }
    setpgid(0, 0);
    say("ioprio get", ioprio_get(1, 0));
    say("set BE 7", ioprio_set(1, 0, (2 << 13) | 7));
    say("  get", ioprio_get(1, getpid()));
    say("set RT 2 (root)", ioprio_set(1, 0, (1 << 13) | 2));
    say("  get", ioprio_get(1, 0));
    say("set IDLE", ioprio_set(1, 0, 3 << 13));
    say("  get", ioprio_get(1, 0));
    say("set BE with a hint", ioprio_set(1, 0, (2 << 13) | (1 << 3) | 1));
    say("  get", ioprio_get(1, 0));
    say("set NONE 1", ioprio_set(1, 0, 1));
    say("set class 4", ioprio_set(1, 0, 4 << 13));
    say("set class 7", ioprio_set(1, 0, 7 << 13));
    say("set 1<<16 | BE 5 (past the kept bits)", ioprio_set(1, 0, (1 << 16) | (2 << 13) | 5));
    say("  get", ioprio_get(1, 0));
    say("set which 0", ioprio_set(0, 0, 0));
    say("get which 4", ioprio_get(4, 0));
    say("set missing", ioprio_set(1, 999999, 0));
    say("get missing", ioprio_get(1, 999999));
    say("pgrp set BE 3", ioprio_set(2, 0, (2 << 13) | 3));
    say("pgrp get", ioprio_get(2, 0));
    say("pgrp set missing", ioprio_set(2, 999999, 0));
    say("pgrp get missing", ioprio_get(2, 999999));
    say("user set missing", ioprio_set(3, 54329, 0));
    say("user get missing", ioprio_get(3, 54329));
    fflush(stdout);
    _exit(0);
}

static long pers(unsigned long p) { return syscall(SYS_personality, p); }

static void personality_(char *self) {
    printf("personality: %#lx\n", pers(0xffffffffUL));
    printf("set ADDR_NO_RANDOMIZE: old %#lx\n", pers(0x0040000UL));
    printf("  now %#lx\n", pers(0xffffffffUL));
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        printf("child: %#lx\n", pers(0xffffffffUL));
        fflush(stdout);
        /* Kept across exec, less READ_IMPLIES_EXEC. */
        pers(0x0440000UL);
        execl(self, self, "personality", (char *)NULL);
        _exit(1);
    }
    waitpid(c, NULL, 0);
    pers(0x0008UL);
    struct utsname u;
    uname(&u);
    printf("PER_LINUX32 machine: %s\n", u.machine);
    printf("odd value: old %#lx\n", pers(0x12345678UL));
    printf("  now %#lx\n", pers(0UL));
    printf("  now %#lx\n", pers(0xffffffffUL));
    uname(&u);
    printf("machine: %s\n", u.machine);
}

/* The unprivileged side: uid 54321 with RLIMIT_NICE and RLIMIT_RTPRIO 0 (Linux's defaults,
 * set: they may be lowered without privilege), trying the calls on itself and on its root
 * parent. */
static void unprivileged(void) {
    pid_t parent = getpid();
    fflush(stdout);
    pid_t c = fork();
    if (c != 0) {
        waitpid(c, NULL, 0);
        return;
    }
    struct rlimit zero = {0, 0};
    setrlimit(RLIMIT_NICE, &zero);
    setrlimit(RLIMIT_RTPRIO, &zero);
    if (setresgid(54321, 54321, 54321) || setresuid(54321, 54321, 54321)) _exit(2);
    say("unpriv setpriority 10", syscall(SYS_setpriority, PRIO_PROCESS, 0, 10));
    say("unpriv setpriority 9", syscall(SYS_setpriority, PRIO_PROCESS, 0, 9));
    say("unpriv setpriority 12", syscall(SYS_setpriority, PRIO_PROCESS, 0, 12));
    say("  now", nice_());
    say("unpriv user's", syscall(SYS_getpriority, PRIO_USER, 0));
    say("unpriv parent's", syscall(SYS_getpriority, PRIO_PROCESS, parent));
    say("unpriv set parent's", syscall(SYS_setpriority, PRIO_PROCESS, parent, 3));
    struct sched_param p = {5};
    say("unpriv FIFO 5", syscall(SYS_sched_setscheduler, 0, SCHED_FIFO, &p));
    p.sched_priority = 0;
    say("unpriv BATCH", syscall(SYS_sched_setscheduler, 0, SCHED_BATCH, &p));
    say("unpriv parent's scheduler", syscall(SYS_sched_setscheduler, parent, SCHED_BATCH, &p));
    say("unpriv parent's getscheduler", syscall(SYS_sched_getscheduler, parent));
    say("unpriv IDLE", syscall(SYS_sched_setscheduler, 0, SCHED_IDLE, &p));
    say("unpriv IDLE to OTHER", syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &p));
    say("unpriv IDLE|RESET_ON_FORK", syscall(SYS_sched_setscheduler, 0, SCHED_IDLE | SCHED_RESET_ON_FORK, &p));
    say("unpriv dropping RESET_ON_FORK", syscall(SYS_sched_setscheduler, 0, SCHED_IDLE, &p));
    struct attr a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.policy = 6;
    a.runtime = 10000000;
    a.deadline = 30000000;
    a.period = 30000000;
    say("unpriv DEADLINE", setattr(0, &a, 0));
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(0, &s);
    say("unpriv get parent's affinity", syscall(SYS_sched_getaffinity, parent, sizeof s, &s) > 0 ? 0 : -1);
    CPU_ZERO(&s);
    CPU_SET(0, &s);
    say("unpriv set parent's affinity", syscall(SYS_sched_setaffinity, parent, sizeof s, &s));
    say("unpriv own affinity", syscall(SYS_sched_setaffinity, 0, sizeof s, &s));
    say("unpriv ioprio RT", ioprio_set(1, 0, 1 << 13));
    say("unpriv ioprio BE", ioprio_set(1, 0, 2 << 13));
    say("unpriv parent's ioprio", ioprio_set(1, parent, 2 << 13));
    say("unpriv get parent's ioprio", ioprio_get(1, parent));
    say("unpriv ioprio user 0 (root's)", ioprio_set(3, 0, 2 << 13));
    fflush(stdout);
    _exit(0);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1) {
        printf("after exec: %#lx\n", syscall(SYS_personality, 0xffffffffUL));
        return 0;
    }
    if (getuid() != 0) {
        printf("needs root\n");
        return 1;
    }
    priorities();
    policies();
    attrs();
    affinity();
    ioprio();
    personality_(argv[0]);
    unprivileged();
    printf("done\n");
    return 0;
}
