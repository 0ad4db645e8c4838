/* Processes without fork: posix_spawn (clone with CLONE_VM|CLONE_VFORK, then execve), vfork +
 * _exit, exit statuses, waitpid options, process ids. Prints what it sees. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void show(const char *what, int st) {
    if (WIFEXITED(st))
        printf("%s: exited %d\n", what, WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        printf("%s: killed by %d\n", what, WTERMSIG(st));
    else
        printf("%s: other %#x\n", what, st);
}

static int spawn(char *const argv[]) {
    pid_t pid;
    int r = posix_spawn(&pid, argv[0], NULL, NULL, argv, environ);
    if (r != 0) {
        printf("spawn %s: %s\n", argv[0], strerror(r));
        return -1;
    }
    int st;
    pid_t w = waitpid(pid, &st, 0);
    if (w != pid) printf("waitpid returned %d (%s)\n", w, strerror(errno));
    return st;
}

int main(void) {
    int r;
    setvbuf(stdout, NULL, _IONBF, 0);
    char *t[] = {"/bin/true", NULL};
    show("true", spawn(t));
    char *f[] = {"/bin/false", NULL};
    show("false", spawn(f));
    char *sh[] = {"/bin/sh", "-c", "exit 42", NULL};
    show("sh exit 42", spawn(sh));
    char *kill9[] = {"/bin/sh", "-c", "kill -9 $$", NULL};
    show("sh kill -9 $$", spawn(kill9));
    char *echo[] = {"/bin/echo", "hello from a child", NULL};
    show("echo", spawn(echo));
    char *missing[] = {"/nonexistent/prog", NULL};
    pid_t pid;
    r = posix_spawn(&pid, missing[0], NULL, NULL, missing, environ);
    if (r == 0) {
        int st;
        waitpid(pid, &st, 0);
        show("missing", st);
    } else {
        printf("missing: spawn error %s\n", strerror(r));
    }

    /* vfork: the child shares memory until it exits. */
    volatile int shared = 1;
    pid = vfork();
    if (pid == 0) {
        shared = 2;
        _exit(7);
    }
    int st;
    waitpid(pid, &st, 0);
    show("vfork child", st);
    printf("vfork shared write seen=%d\n", shared == 2);

    /* The parent of a child is us; no children left gives ECHILD. */
    printf("wait with no children: %d %s\n", waitpid(-1, &st, 0), strerror(errno));
    printf("WNOHANG with no children: %d %s\n", waitpid(-1, &st, WNOHANG), strerror(errno));

    /* Several children, reaped in any order. */
    int n = 0;
    for (int i = 0; i < 5; i++) {
        char *c[] = {"/bin/sh", "-c", "exit 3", NULL};
        if (posix_spawn(&pid, c[0], NULL, NULL, c, environ) == 0) n++;
    }
    int sum = 0;
    while (n-- > 0) {
        if (wait(&st) > 0 && WIFEXITED(st)) sum += WEXITSTATUS(st);
    }
    printf("five children: sum=%d\n", sum);

    /* waitid with WNOWAIT leaves the zombie for a later wait. */
    char *c2[] = {"/bin/sh", "-c", "exit 5", NULL};
    posix_spawn(&pid, c2[0], NULL, NULL, c2, environ);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    waitid(P_PID, pid, &si, WEXITED | WNOWAIT);
    printf("waitid WNOWAIT: code=%d status=%d pid-ok=%d\n", si.si_code, si.si_status, si.si_pid == pid);
    printf("then waitpid: %d\n", waitpid(pid, &st, 0) == pid && WEXITSTATUS(st) == 5);

    /* Job control: stop, continue, terminate. */
    char *sl[] = {"/bin/sleep", "5", NULL};
    posix_spawn(&pid, sl[0], NULL, NULL, sl, environ);
    kill(pid, SIGSTOP);
    waitpid(pid, &st, WUNTRACED);
    printf("stopped=%d sig=%d\n", WIFSTOPPED(st), WIFSTOPPED(st) ? WSTOPSIG(st) : -1);
    kill(pid, SIGCONT);
    waitpid(pid, &st, WCONTINUED);
    printf("continued=%d\n", WIFCONTINUED(st));
    kill(pid, SIGTERM);
    waitpid(pid, &st, 0);
    show("sleep after SIGTERM", st);

    /* pidfds: open, signal, wait by pidfd. */
    posix_spawn(&pid, sl[0], NULL, NULL, sl, environ);
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    printf("pidfd_open ok=%d\n", pfd >= 0);
    printf("pidfd_send_signal=%ld\n", syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0));
    memset(&si, 0, sizeof si);
    r = waitid(P_PIDFD, pfd, &si, WEXITED);
    printf("waitid P_PIDFD: r=%d code=%d status=%d\n", r, si.si_code, si.si_status);
    close(pfd);
    return 0;
}
