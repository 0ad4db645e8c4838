// POSIX message queues: create with attributes, priority order, getattr/setattr,
// O_NONBLOCK, timeouts, EMSGSIZE, access modes, unlink, a blocking receive fed by a forked
// child, EINTR and SA_RESTART, mq_notify (SIGEV_SIGNAL with SI_MESGQ, SIGEV_NONE, EBUSY,
// unregistering), poll and epoll readiness, the status line, RLIMIT_MSGQUEUE, hostile
// arguments (bad pointers, names, sizes, a queue storm) and, as root, the mqueue
// filesystem in a private mount namespace. One line per check, without pids.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mqueue.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHECK(c)                                                                  \
    do {                                                                          \
        if (!(c)) {                                                               \
            printf("FAIL %s:%d: %s (errno %d)\n", __FILE__, __LINE__, #c, errno); \
            exit(1);                                                              \
        }                                                                         \
    } while (0)

#define BAD ((void *)0x10)

static const char *ename(int e) {
    switch (e) {
    case 0: return "ok";
    case EAGAIN: return "EAGAIN";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case EFAULT: return "EFAULT";
    case ENOENT: return "ENOENT";
    case EEXIST: return "EEXIST";
    case EACCES: return "EACCES";
    case ENOSPC: return "ENOSPC";
    case EINTR: return "EINTR";
    case EMFILE: return "EMFILE";
    case EBUSY: return "EBUSY";
    case EMSGSIZE: return "EMSGSIZE";
    case ETIMEDOUT: return "ETIMEDOUT";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ENOTSOCK: return "ENOTSOCK";
    default: return strerror(e);
    }
}

// The result of a call returning -1 on error.
static const char *res(long r) { return r < 0 ? ename(errno) : "ok"; }

static void show_attr(const char *what, mqd_t q) {
    struct mq_attr a;
    CHECK(mq_getattr(q, &a) == 0);
    printf("%s: flags=%#lx maxmsg=%ld msgsize=%ld curmsgs=%ld\n", what, a.mq_flags, a.mq_maxmsg,
           a.mq_msgsize, a.mq_curmsgs);
}

// The status line, with the notifying pid shown as "self" when it is ours.
static void show_status(const char *what, mqd_t q) {
    char buf[128];
    CHECK(lseek(q, 0, SEEK_SET) == 0);
    ssize_t n = read(q, buf, sizeof buf - 1);
    CHECK(n > 0);
    buf[n] = 0;
    char pid[16];
    snprintf(pid, sizeof pid, "%d", getpid());
    char *p = strstr(buf, "NOTIFY_PID:");
    CHECK(p != NULL);
    if (strncmp(p + 11, pid, strlen(pid)) == 0)
        snprintf(p + 11, sizeof buf - (p + 11 - buf), "self\n");
    printf("%s: len=%zd %s", what, n, buf);
    CHECK(read(q, buf, sizeof buf) == 0);
}

static struct timespec in_ms(long ms) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_nsec += ms * 1000000;
    t.tv_sec += t.tv_nsec / 1000000000;
    t.tv_nsec %= 1000000000;
    return t;
}

// Whether we hold CAP_SYS_RESOURCE (root in a container may not): it lifts msg_max,
// msgsize_max and queues_max.
static int privileged(void) {
    FILE *f = fopen("/proc/self/status", "r");
    CHECK(f != NULL);
    char line[256];
    unsigned long long caps = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "CapEff: %llx", &caps) == 1)
            break;
    fclose(f);
    return (caps >> 24) & 1;
}

// Prints `what` with the result when it is `want`, else the surprise.
static void expect(const char *what, long r, int want) {
    int got = r < 0 ? errno : 0;
    if (got == want)
        printf("%s: as capabilities say\n", what);
    else
        printf("%s: UNEXPECTED %s\n", what, ename(got));
}

static mqd_t mk(const char *name, int flags, long max, long size) {
    struct mq_attr a = {.mq_maxmsg = max, .mq_msgsize = size};
    return mq_open(name, flags | O_CREAT, 0640, &a);
}

static void basics(void) {
    mqd_t q = mk("/snare-mq-a", O_RDWR | O_EXCL, 4, 64);
    CHECK(q >= 0);
    show_attr("created", q);
    struct stat st;
    CHECK(fstat(q, &st) == 0);
    printf("fstat: reg=%d mode=%o size=%ld\n", S_ISREG(st.st_mode), st.st_mode & 07777,
           (long)st.st_size);
    printf("cloexec: %d\n", (fcntl(q, F_GETFD) & FD_CLOEXEC) != 0);
    printf("excl again: %s\n", res(mk("/snare-mq-a", O_RDWR | O_EXCL, 4, 64)));
    const char *msgs[] = {"a1", "b5x", "a2", "c9yy"};
    unsigned prios[] = {1, 5, 1, 9};
    for (int i = 0; i < 4; i++)
        CHECK(mq_send(q, msgs[i], strlen(msgs[i]), prios[i]) == 0);
    show_attr("full", q);
    show_status("status", q);
    struct pollfd p = {.fd = q, .events = POLLIN | POLLOUT};
    CHECK(poll(&p, 1, 0) == 1);
    printf("poll full: %#x\n", p.revents);
    struct mq_attr nb = {.mq_flags = O_NONBLOCK}, old;
    CHECK(mq_setattr(q, &nb, &old) == 0);
    printf("setattr old flags=%#lx\n", old.mq_flags);
    printf("send full nonblock: %s\n", res(mq_send(q, "x", 1, 0)));
    struct mq_attr bad = {.mq_flags = O_NONBLOCK | O_APPEND};
    printf("setattr bad flags: %s\n", res(mq_setattr(q, &bad, NULL)));
    show_attr("nonblock", q);
    char buf[64];
    unsigned prio;
    printf("receive short buffer: %s\n", res(mq_receive(q, buf, 63, &prio)));
    for (int i = 0; i < 4; i++) {
        ssize_t n = mq_receive(q, buf, sizeof buf, &prio);
        CHECK(n >= 0);
        printf("got %.*s prio %u\n", (int)n, buf, prio);
    }
    printf("receive empty nonblock: %s\n", res(mq_receive(q, buf, sizeof buf, &prio)));
    p.revents = 0;
    CHECK(poll(&p, 1, 0) == 1);
    printf("poll empty: %#x\n", p.revents);
    char big[65] = {0};
    printf("send 65 bytes: %s\n", res(mq_send(q, big, 65, 0)));
    printf("send 64 bytes: %s\n", res(mq_send(q, big, 64, 0)));
    printf("prio MQ_PRIO_MAX: %s\n", res(mq_send(q, big, 1, 32768)));
    nb.mq_flags = 0;
    CHECK(mq_setattr(q, &nb, NULL) == 0);
    CHECK(mq_receive(q, buf, sizeof buf, NULL) == 64);
    struct timespec t = in_ms(30);
    printf("timedreceive empty: %s\n", res(mq_timedreceive(q, buf, sizeof buf, NULL, &t)));
    t.tv_nsec = 1000000000;
    printf("timedreceive bad timeout: %s\n", res(mq_timedreceive(q, buf, sizeof buf, NULL, &t)));
    for (int i = 0; i < 4; i++)
        CHECK(mq_send(q, "m", 1, 0) == 0);
    t = in_ms(30);
    printf("timedsend full: %s\n", res(mq_timedsend(q, "m", 1, 0, &t)));
    t.tv_sec = 0;
    t.tv_nsec = 0;
    printf("timedreceive past deadline, not empty: %s\n",
           res(mq_timedreceive(q, buf, sizeof buf, NULL, &t)));
    printf("write: %s\n", res(write(q, "x", 1)));
    mqd_t r = mq_open("/snare-mq-a", O_RDONLY);
    mqd_t w = mq_open("/snare-mq-a", O_WRONLY);
    CHECK(r >= 0 && w >= 0);
    printf("send on O_RDONLY: %s\n", res(mq_send(r, "x", 1, 0)));
    printf("receive on O_WRONLY: %s\n", res(mq_receive(w, buf, sizeof buf, NULL)));
    printf("read on O_WRONLY: %s\n", res(read(w, buf, sizeof buf)));
    printf("write on O_RDONLY: %s\n", res(write(r, "x", 1)));
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    printf("send on a pipe: %s\n", res(mq_send(pfd[1], "x", 1, 0)));
    printf("getattr on a pipe: %s\n", res(mq_getattr(pfd[0], &old)));
    close(pfd[0]);
    close(pfd[1]);
    CHECK(mq_unlink("/snare-mq-a") == 0);
    printf("open after unlink: %s\n", res(mq_open("/snare-mq-a", O_RDWR)));
    printf("unlink again: %s\n", res(mq_unlink("/snare-mq-a")));
    show_attr("unlinked still open", q);
    mq_close(r);
    mq_close(w);
    mq_close(q);
}

static void names(void) {
    printf("no slash: %s\n", res(mq_open("snare-mq", O_RDWR | O_CREAT, 0600, NULL)));
    printf("slash only: %s\n", res(mq_open("/", O_RDWR | O_CREAT, 0600, NULL)));
    printf("raw empty: %s\n", res(syscall(SYS_mq_open, "", O_RDWR | O_CREAT, 0600, NULL)));
    printf("raw dot: %s\n", res(syscall(SYS_mq_open, ".", O_RDWR | O_CREAT, 0600, NULL)));
    printf("raw dotdot: %s\n", res(syscall(SYS_mq_open, "..", O_RDWR | O_CREAT, 0600, NULL)));
    printf("raw inner slash: %s\n",
           res(syscall(SYS_mq_open, "a/b", O_RDWR | O_CREAT, 0600, NULL)));
    printf("raw leading slash: %s\n",
           res(syscall(SYS_mq_open, "/a", O_RDWR | O_CREAT, 0600, NULL)));
    printf("raw NULL name: %s\n", res(syscall(SYS_mq_open, NULL, O_RDWR, 0600, NULL)));
    printf("raw bad name: %s\n", res(syscall(SYS_mq_open, BAD, O_RDWR, 0600, NULL)));
    printf("raw unlink bad name: %s\n", res(syscall(SYS_mq_unlink, BAD)));
    printf("raw unlink empty: %s\n", res(syscall(SYS_mq_unlink, "")));
    char name[300];
    name[0] = '/';
    memset(name + 1, 'n', 256);
    name[257] = 0;
    printf("256 chars: %s\n", res(mq_open(name, O_RDWR | O_CREAT, 0600, NULL)));
    name[256] = 0;
    mqd_t q = mq_open(name, O_RDWR | O_CREAT, 0600, NULL);
    printf("255 chars: %s\n", res(q));
    if (q >= 0) {
        mq_close(q);
        CHECK(mq_unlink(name) == 0);
    }
    char *huge = malloc(8192);
    memset(huge, 'h', 8191);
    huge[8191] = 0;
    printf("8191 chars: %s\n", res(syscall(SYS_mq_open, huge, O_RDWR, 0600, NULL)));
    free(huge);
    printf("bad attr pointer: %s\n",
           res(syscall(SYS_mq_open, "snare-mq-x", O_RDWR | O_CREAT, 0600, BAD)));
    printf("open missing: %s\n", res(mq_open("/snare-mq-missing", O_RDWR)));
}

static void attrs(void) {
    struct {
        long max, size;
    } cases[] = {{0, 8}, {-1, 8}, {1, 0}, {1, -5}, {10, 8192}, {65537, 1},
                 {1, 16 * 1024 * 1024 + 1}, {LONG_MAX, LONG_MAX}, {11, 10}, {1000, 1000}};
    int priv = privileged();
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mqd_t q = mk("/snare-mq-attr", O_RDWR | O_EXCL, cases[i].max, cases[i].size);
        char what[64];
        snprintf(what, sizeof what, "attr %ld x %ld", cases[i].max, cases[i].size);
        if (i == 8) // Past msg_max: a privileged caller only.
            expect(what, q, priv ? 0 : EINVAL);
        else if (i == 9) // Privileged, it is past RLIMIT_MSGQUEUE.
            expect(what, q, priv ? EMFILE : EINVAL);
        else
            printf("%s: %s\n", what, res(q));
        if (q >= 0) {
            mq_close(q);
            mq_unlink("/snare-mq-attr");
        }
    }
    // An existing queue ignores the attributes.
    mqd_t q = mk("/snare-mq-attr", O_RDWR, 2, 16);
    mqd_t q2 = mk("/snare-mq-attr", O_RDWR, -1, -1);
    printf("existing ignores attr: %s\n", res(q2));
    show_attr("existing", q2);
    mq_close(q);
    mq_close(q2);
    mq_unlink("/snare-mq-attr");
}

static void fork_and_block(void) {
    mqd_t q = mk("/snare-mq-fork", O_RDWR, 4, 32);
    CHECK(q >= 0);
    int go[2];
    CHECK(pipe(go) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        /* The first message alone (the parent is most likely blocked by then), the rest once
         * the parent has it: what it prints doesn't depend on who runs first. */
        usleep(50000);
        char ok;
        for (int i = 0; i < 6; i++) {
            char m[8];
            snprintf(m, sizeof m, "m%d", i);
            if (mq_send(q, m, strlen(m), (unsigned)(i % 2)) != 0)
                _exit(1);
            if (i == 0 && read(go[0], &ok, 1) != 1)
                _exit(1);
        }
        _exit(0);
    }
    char buf[32];
    unsigned prio;
    for (int i = 0; i < 6; i++) {
        ssize_t n = mq_receive(q, buf, sizeof buf, &prio);
        CHECK(n > 0);
        if (i == 0) {
            printf("blocking receive woke: %.*s prio %u\n", (int)n, buf, prio);
            CHECK(write(go[1], "g", 1) == 1);
        }
    }
    close(go[0]);
    close(go[1]);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    printf("child status %d\n", status);
    mq_close(q);
    mq_unlink("/snare-mq-fork");
}

static volatile sig_atomic_t alarms;
static void on_alarm(int sig) {
    (void)sig;
    alarms++;
}

static void interrupts(void) {
    mqd_t q = mk("/snare-mq-intr", O_RDWR, 2, 16);
    CHECK(q >= 0);
    struct sigaction sa = {.sa_handler = on_alarm};
    CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
    struct itimerval it = {.it_value = {.tv_usec = 30000}};
    CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
    char buf[16];
    printf("receive interrupted: %s alarms=%d\n", res(mq_receive(q, buf, sizeof buf, NULL)),
           alarms);
    sa.sa_flags = SA_RESTART;
    CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        usleep(150000);
        _exit(mq_send(q, "late", 4, 3) != 0);
    }
    CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
    ssize_t n = mq_receive(q, buf, sizeof buf, NULL);
    printf("receive with SA_RESTART: %s %.*s alarms=%d\n", res(n), n > 0 ? (int)n : 0, buf,
           alarms);
    CHECK(waitpid(pid, NULL, 0) == pid);
    mq_close(q);
    mq_unlink("/snare-mq-intr");
}

static void notify(void) {
    mqd_t q = mk("/snare-mq-notify", O_RDWR, 4, 16);
    CHECK(q >= 0);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    CHECK(sigprocmask(SIG_BLOCK, &set, NULL) == 0);
    struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1};
    ev.sigev_value.sival_int = 4242;
    CHECK(mq_notify(q, &ev) == 0);
    show_status("registered", q);
    printf("second registration: %s\n", res(mq_notify(q, &ev)));
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
        _exit(mq_notify(q, &ev) == -1 && errno == EBUSY ? 0 : 1);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    printf("child registration EBUSY: %d\n", status == 0);
    CHECK(mq_send(q, "n1", 2, 0) == 0);
    siginfo_t si;
    struct timespec zero = {0, 0}, wait = {2, 0};
    int sig = sigtimedwait(&set, &si, &wait);
    printf("notified: sig=%d code_mesgq=%d value=%d pid_self=%d uid_self=%d\n", sig,
           si.si_code == SI_MESGQ, si.si_value.sival_int, si.si_pid == getpid(),
           si.si_uid == getuid());
    show_status("after notification", q);
    CHECK(mq_send(q, "n2", 2, 0) == 0);
    printf("no second signal: %s\n", res(sigtimedwait(&set, &si, &zero)));
    // Only a message to an empty queue notifies.
    CHECK(mq_notify(q, &ev) == 0);
    CHECK(mq_send(q, "n3", 2, 0) == 0);
    printf("not empty, no signal: %s\n", res(sigtimedwait(&set, &si, &zero)));
    CHECK(mq_notify(q, NULL) == 0);
    show_status("unregistered", q);
    ev.sigev_notify = SIGEV_NONE;
    CHECK(mq_notify(q, &ev) == 0);
    show_status("SIGEV_NONE", q);
    CHECK(mq_notify(q, NULL) == 0);
    printf("unregister when none: %s\n", res(mq_notify(q, NULL)));
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = 65;
    printf("signo 65: %s\n", res(mq_notify(q, &ev)));
    ev.sigev_notify = 99;
    printf("sigev_notify 99: %s\n", res(mq_notify(q, &ev)));
    printf("bad sigevent pointer: %s\n", res(syscall(SYS_mq_notify, q, BAD)));
    printf("notify bad fd: %s\n", res(mq_notify(-1, NULL)));
    // SIGEV_THREAD at the syscall: a netlink socket's fd in sigev_signo.
    char cookie[32] = {0};
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    ev.sigev_notify = SIGEV_THREAD;
    ev.sigev_value.sival_ptr = cookie;
    ev.sigev_signo = pfd[0];
    printf("raw SIGEV_THREAD on a pipe: %s\n", res(syscall(SYS_mq_notify, q, &ev)));
    ev.sigev_signo = 999;
    printf("raw SIGEV_THREAD bad fd: %s\n", res(syscall(SYS_mq_notify, q, &ev)));
    ev.sigev_value.sival_ptr = BAD;
    printf("raw SIGEV_THREAD bad cookie: %s\n", res(syscall(SYS_mq_notify, q, &ev)));
    close(pfd[0]);
    close(pfd[1]);
    CHECK(sigprocmask(SIG_UNBLOCK, &set, NULL) == 0);
    mq_close(q);
    mq_unlink("/snare-mq-notify");
}

static void readiness(void) {
    mqd_t q = mk("/snare-mq-poll", O_RDWR, 1, 8);
    CHECK(q >= 0);
    int ep = epoll_create1(0);
    CHECK(ep >= 0);
    struct epoll_event e = {.events = EPOLLIN}, out;
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, q, &e) == 0);
    printf("epoll empty: %d\n", epoll_wait(ep, &out, 1, 0));
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        usleep(30000);
        _exit(mq_send(q, "e", 1, 0) != 0);
    }
    int n = epoll_wait(ep, &out, 1, 5000);
    printf("epoll after send: %d events=%#x\n", n, out.events);
    CHECK(waitpid(pid, NULL, 0) == pid);
    struct pollfd p = {.fd = q, .events = POLLIN | POLLOUT};
    CHECK(poll(&p, 1, 0) == 1);
    printf("poll one of one: %#x\n", p.revents);
    close(ep);
    mq_close(q);
    mq_unlink("/snare-mq-poll");
}

static void hostile(void) {
    mqd_t q = mk("/snare-mq-h", O_RDWR, 2, 8);
    CHECK(q >= 0);
    printf("send bad buffer: %s\n", res(syscall(SYS_mq_timedsend, q, BAD, 4, 0, NULL)));
    printf("send huge length: %s\n", res(syscall(SYS_mq_timedsend, q, BAD, SIZE_MAX, 0, NULL)));
    printf("send prio ~0: %s\n", res(syscall(SYS_mq_timedsend, q, "x", 1, ~0u, NULL)));
    printf("send bad timeout ptr: %s\n", res(syscall(SYS_mq_timedsend, q, "x", 1, 0, BAD)));
    struct timespec neg = {-1, 0};
    printf("send negative timeout: %s\n", res(syscall(SYS_mq_timedsend, q, "x", 1, 0, &neg)));
    printf("send bad fd: %s\n", res(syscall(SYS_mq_timedsend, 12345, "x", 1, 0, NULL)));
    CHECK(mq_send(q, "lost", 4, 0) == 0);
    char buf[8];
    printf("receive bad buffer: %s\n", res(syscall(SYS_mq_timedreceive, q, BAD, 8, NULL, NULL)));
    CHECK(mq_send(q, "lost", 4, 0) == 0);
    printf("receive bad prio ptr: %s\n", res(syscall(SYS_mq_timedreceive, q, buf, 8, BAD, NULL)));
    show_attr("after faults", q);
    printf("receive huge length: %s\n",
           res(syscall(SYS_mq_timedreceive, q, buf, SIZE_MAX, NULL, &neg)));
    printf("getsetattr bad new: %s\n", res(syscall(SYS_mq_getsetattr, q, BAD, NULL)));
    printf("getsetattr bad old: %s\n", res(syscall(SYS_mq_getsetattr, q, NULL, BAD)));
    printf("getsetattr nothing: %s\n", res(syscall(SYS_mq_getsetattr, q, NULL, NULL)));
    mq_close(q);
    mq_unlink("/snare-mq-h");

    // RLIMIT_MSGQUEUE: the bytes a user's queues reserve (here as Linux's default).
    struct rlimit rl = {819200, 819200};
    CHECK(setrlimit(RLIMIT_MSGQUEUE, &rl) == 0);
    mqd_t qs[400];
    char name[64];
    int made = 0, err = 0;
    for (; made < 20; made++) {
        snprintf(name, sizeof name, "/snare-mq-storm%d", made);
        qs[made] = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, NULL);
        if (qs[made] < 0) {
            err = errno;
            break;
        }
    }
    printf("default queues under 800 KiB: %d then %s\n", made, ename(err));
    for (int i = 0; i < made; i++) {
        snprintf(name, sizeof name, "/snare-mq-storm%d", i);
        mq_close(qs[i]);
        mq_unlink(name);
    }
    rl.rlim_cur = 1000;
    CHECK(setrlimit(RLIMIT_MSGQUEUE, &rl) == 0);
    err = 0;
    for (made = 0; made < 400; made++) {
        snprintf(name, sizeof name, "/snare-mq-storm%d", made);
        qs[made] = mk(name, O_RDWR | O_EXCL, 1, 1);
        if (qs[made] < 0) {
            err = errno;
            break;
        }
    }
    printf("tiny queues under 1000 bytes: %d then %s\n", made, ename(err));
    for (int i = 0; i < made; i++) {
        snprintf(name, sizeof name, "/snare-mq-storm%d", i);
        mq_close(qs[i]);
        mq_unlink(name);
    }
    rl.rlim_cur = 819200;
    CHECK(setrlimit(RLIMIT_MSGQUEUE, &rl) == 0);
    err = 0;
    for (made = 0; made < 300; made++) {
        snprintf(name, sizeof name, "/snare-mq-storm%d", made);
        qs[made] = mk(name, O_RDWR | O_EXCL, 1, 1);
        if (qs[made] < 0) {
            err = errno;
            break;
        }
    }
    // Past queues_max (256): only a privileged caller.
    if (privileged() ? made == 300 && err == 0 : made == 256 && err == ENOSPC)
        printf("300 tiny queues: as capabilities say\n");
    else
        printf("300 tiny queues: UNEXPECTED %d then %s\n", made, ename(err));
    for (int i = 0; i < made; i++) {
        snprintf(name, sizeof name, "/snare-mq-storm%d", i);
        mq_close(qs[i]);
        mq_unlink(name);
    }
}

static void filesystem(void) {
    if (geteuid() != 0) {
        printf("mqueue fs: skipped\n");
        return;
    }
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid) {
        int status;
        CHECK(waitpid(pid, &status, 0) == pid);
        printf("mqueue fs child: %d\n", status);
        return;
    }
    CHECK(unshare(CLONE_NEWNS) == 0);
    CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
    char dir[] = "/tmp/snare-mqfs-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    CHECK(mount("none", dir, "mqueue", 0, NULL) == 0);
    mqd_t q = mk("/snare-mq-fs", O_RDWR, 3, 100);
    CHECK(q >= 0);
    CHECK(mq_send(q, "hello", 5, 2) == 0);
    struct stat st;
    CHECK(stat(dir, &st) == 0);
    printf("root: dir=%d mode=%o\n", S_ISDIR(st.st_mode), st.st_mode & 07777);
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, "snare-mq-", 9) == 0)
            printf("listed %s type=%d\n", e->d_name, e->d_type);
    closedir(d);
    char path[128];
    snprintf(path, sizeof path, "%s/snare-mq-fs", dir);
    CHECK(stat(path, &st) == 0);
    printf("file: reg=%d mode=%o size=%ld\n", S_ISREG(st.st_mode), st.st_mode & 07777,
           (long)st.st_size);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    char buf[128];
    ssize_t n = read(fd, buf, sizeof buf);
    printf("read: %.*s", (int)n, buf);
    char m[100];
    unsigned prio;
    n = mq_receive(fd, m, sizeof m, &prio);
    printf("mq_receive through open(2): %s %.*s %u\n", res(n), n > 0 ? (int)n : 0, m, prio);
    close(fd);
    snprintf(path, sizeof path, "%s/snare-mq-created", dir);
    fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    printf("open O_CREAT: %s\n", res(fd));
    mqd_t c = mq_open("/snare-mq-created", O_RDONLY);
    CHECK(c >= 0);
    show_attr("created by open", c);
    mq_close(c);
    close(fd);
    printf("mkdir: %s\n", res(mkdir(path, 0700) == 0 ? 0 : -1));
    CHECK(unlink(path) == 0);
    snprintf(path, sizeof path, "%s/snare-mq-fs", dir);
    CHECK(unlink(path) == 0);
    printf("mq_open after unlink(2): %s\n", res(mq_open("/snare-mq-fs", O_RDWR)));
    printf("stat after unlink: %s\n", res(stat(path, &st)));
    mq_close(q);
    CHECK(umount(dir) == 0);
    CHECK(rmdir(dir) == 0);
    _exit(0);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    umask(022);
    const char *old[] = {"/snare-mq-a", "/snare-mq-attr", "/snare-mq-fork", "/snare-mq-intr",
                         "/snare-mq-notify", "/snare-mq-poll", "/snare-mq-h", "/snare-mq-fs",
                         "/snare-mq-created"};
    for (unsigned i = 0; i < sizeof old / sizeof old[0]; i++)
        mq_unlink(old[i]);
    basics();
    names();
    attrs();
    fork_and_block();
    interrupts();
    notify();
    readiness();
    hostile();
    filesystem();
    printf("done\n");
    return 0;
}
