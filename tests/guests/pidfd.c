/* pidfds as events: poll and epoll on a pidfd report POLLIN when the process exits (not
 * before), and waitid(P_PIDFD) reaps it. Prints booleans and exit codes only. */
#define _GNU_SOURCE
#include <poll.h>
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

int main(void) {
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
