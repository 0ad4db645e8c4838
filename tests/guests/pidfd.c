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
int main(void) {
    pid_t p = fork();
    if (p == 0) { usleep(50000); _exit(7); }
    int fd = syscall(SYS_pidfd_open, p, 0);
    struct pollfd pf = {fd, POLLIN, 0};
    printf("poll before exit: %d\n", poll(&pf, 1, 0));
    int r = poll(&pf, 1, 5000);
    printf("poll after exit: %d revents POLLIN %d\n", r, !!(pf.revents & POLLIN));
    siginfo_t si = {0};
    r = waitid(P_PIDFD, fd, &si, WEXITED);
    printf("waitid P_PIDFD: %d status %d\n", r, si.si_status);
    /* epoll on a second child's pidfd */
    p = fork();
    if (p == 0) { usleep(50000); _exit(3); }
    int fd2 = syscall(SYS_pidfd_open, p, 0);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd2}, out;
    printf("epoll_ctl: %d\n", epoll_ctl(ep, EPOLL_CTL_ADD, fd2, &ev));
    printf("epoll before exit: %d\n", epoll_wait(ep, &out, 1, 0));
    r = epoll_wait(ep, &out, 1, 5000);
    printf("epoll after exit: %d fd match %d\n", r, out.data.fd == fd2);
    int st;
    printf("waitpid: %d\n", waitpid(p, &st, 0) == p && WEXITSTATUS(st) == 3);
    return 0;
}
