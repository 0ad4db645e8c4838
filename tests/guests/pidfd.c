/* pidfds as events: poll and epoll on a pidfd report POLLIN when the process exits (not
 * before), and waitid(P_PIDFD) reaps it. An open /proc/PID directory serves as a pidfd for
 * pidfd_send_signal (not for waitid), until its process is reaped. Prints booleans, errnos
 * and exit codes only. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <dirent.h>
#include <string.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
/* A child that exits with `code` once the parent closes its end of `go` (not on a timer:
 * what "before exit" sees must not depend on scheduling). */
static pid_t child(int code, int go[2]) {
    if (pipe(go) != 0) exit(1);
    pid_t p = fork();
    if (p == 0) {
        char c;
        close(go[1]);
        while (read(go[0], &c, 1) > 0) {}
        _exit(code);
    }
    close(go[0]);
    return p;
}

static volatile sig_atomic_t got;
static void on_usr1(int sig) { got = sig; }

static void say(const char *what, long r) {
    printf("%s: %ld errno %d\n", what, r, r < 0 ? errno : 0);
}

static long send(int fd, int sig, unsigned flags) {
    return syscall(SYS_pidfd_send_signal, fd, sig, NULL, flags);
}

/* A thread that is not the leader: /proc/TID is there (not listed) and is a pidfd. */
static void *thread_dir(void *arg) {
    (void)arg;
    char path[64], name[16];
    pid_t tid = gettid();
    snprintf(path, sizeof path, "/proc/%d", tid);
    int dir = open(path, O_RDONLY | O_DIRECTORY);
    printf("/proc/TID opens: %d\n", dir >= 0);
    say("signal 0 through /proc/TID", send(dir, 0, 0));
    snprintf(path, sizeof path, "/proc/%d/status", tid);
    FILE *f = fopen(path, "r");
    char line[256];
    int tgid_ok = 0;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "Tgid:", 5) == 0) tgid_ok = atoi(line + 5) == getpid();
    printf("/proc/TID/status Tgid: %d\n", tgid_ok);
    if (f) fclose(f);
    snprintf(name, sizeof name, "%d", tid);
    DIR *d = opendir("/proc");
    int listed = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        listed |= strcmp(e->d_name, name) == 0;
    closedir(d);
    printf("/proc lists TID: %d\n", listed);
    close(dir);
    return NULL;
}

/* /proc/PID directories as pidfds. */
static void proc_dirs(void) {
    signal(SIGUSR1, on_usr1);
    int self = open("/proc/self", O_RDONLY | O_DIRECTORY);
    say("send signal 0 through /proc/self", send(self, 0, 0));
    say("send SIGUSR1 through /proc/self", send(self, SIGUSR1, 0));
    printf("handler ran: %d\n", got == SIGUSR1);
    say("unknown flag", send(self, SIGUSR1, 8));
    siginfo_t si;
    say("waitid P_PIDFD on /proc/self", waitid(P_PIDFD, self, &si, WEXITED | WNOHANG));
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d", getpid());
    int task = open(path, O_RDONLY | O_DIRECTORY);
    say("a task directory", send(task, 0, 0));
    int status = open("/proc/self/status", O_RDONLY);
    say("a file in /proc/PID", send(status, 0, 0));
    int opath = open("/proc/self", O_PATH | O_DIRECTORY);
    say("an O_PATH /proc/PID", send(opath, 0, 0));
    int proc = open("/proc", O_RDONLY | O_DIRECTORY);
    say("/proc itself", send(proc, 0, 0));
    say("a closed fd", send(1000, 0, 0));

    int go[2];
    pid_t p = child(5, go);
    snprintf(path, sizeof path, "/proc/%d", p);
    int dir = open(path, O_RDONLY | O_DIRECTORY);
    say("SIGTERM through /proc/CHILD", send(dir, SIGTERM, 0));
    int st;
    printf("child killed by SIGTERM: %d\n",
           waitpid(p, &st, 0) == p && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
    say("after the child is reaped", send(dir, 0, 0));
    close(go[1]);
    close(dir);
    close(self);
    close(task);
    close(status);
    close(opath);
    close(proc);
    pthread_t t;
    pthread_create(&t, NULL, thread_dir, NULL);
    pthread_join(t, NULL);
}

int main(void) {
    proc_dirs();
    int go[2];
    pid_t p = child(7, go);
    int fd = syscall(SYS_pidfd_open, p, 0);
    struct pollfd pf = {fd, POLLIN, 0};
    printf("poll before exit: %d\n", poll(&pf, 1, 0));
    close(go[1]);
    int r = poll(&pf, 1, 5000);
    printf("poll after exit: %d revents POLLIN %d\n", r, !!(pf.revents & POLLIN));
    siginfo_t si = {0};
    r = waitid(P_PIDFD, fd, &si, WEXITED);
    printf("waitid P_PIDFD: %d status %d\n", r, si.si_status);
    /* epoll on a second child's pidfd */
    p = child(3, go);
    int fd2 = syscall(SYS_pidfd_open, p, 0);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd2}, out;
    printf("epoll_ctl: %d\n", epoll_ctl(ep, EPOLL_CTL_ADD, fd2, &ev));
    printf("epoll before exit: %d\n", epoll_wait(ep, &out, 1, 0));
    close(go[1]);
    r = epoll_wait(ep, &out, 1, 5000);
    printf("epoll after exit: %d fd match %d\n", r, out.data.fd == fd2);
    int st;
    printf("waitpid: %d\n", waitpid(p, &st, 0) == p && WEXITSTATUS(st) == 3);
    return 0;
}
