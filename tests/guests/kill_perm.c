/* Who may signal whom (Linux's kill_ok_by_cred): a process whose real or effective uid is
 * the target's real or saved uid, or root; SIGCONT always within a session. Run as root:
 * children drop to uids 1000 and 1001 and try each kill-family call on each other; the
 * result (0 or the errno's name) is printed, and a caught signal prints its si_uid.
 *
 * Natively and under snare the output must be the same. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *res(long r) {
    if (r == 0) return "0";
    switch (errno) {
    case EPERM: return "EPERM";
    case ESRCH: return "ESRCH";
    default: return strerror(errno);
    }
}

static volatile sig_atomic_t got_uid = -1;
static void on_usr1(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)uc;
    got_uid = (sig_atomic_t)si->si_uid;
}

/* A child that becomes `uid` (real, effective and saved), in its own process group if
 * `own_group`, then waits up to 5 s for SIGUSR1; its exit status says who sent it (1: uid
 * 0, 2: uid 1000, 3: nobody, 4: another uid), printed by the parent (one writer: a fixed
 * order). */
static pid_t target(uid_t uid, int own_group, int ready[2]) {
    pid_t p = fork();
    if (p == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_usr1;
        sa.sa_flags = SA_SIGINFO;
        sigaction(SIGUSR1, &sa, NULL);
        if (own_group) setpgid(0, 0);
        if (setresuid(uid, uid, uid)) _exit(2);
        close(ready[0]);
        if (write(ready[1], "r", 1) != 1) _exit(3);
        for (int i = 0; i < 500 && got_uid < 0; i++) usleep(10000);
        _exit(got_uid == 0 ? 1 : got_uid == 1000 ? 2 : got_uid < 0 ? 3 : 4);
    }
    char c;
    if (read(ready[0], &c, 1) != 1) exit(1);
    return p;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (getuid() != 0) {
        printf("needs root\n");
        return 1;
    }
    int ready[2];
    if (pipe(ready)) return 1;
    pid_t b = target(1001, 1, ready); /* uid 1001, its own group */
    pid_t a2 = target(1000, 0, ready);
    pid_t a = fork();
    if (a == 0) {
        if (setresuid(1000, 1000, 1000)) _exit(2);
        printf("uid 1000 -> uid 1001:\n");
        printf("  kill 0: %s\n", res(kill(b, 0)));
        printf("  kill USR1: %s\n", res(kill(b, SIGUSR1)));
        printf("  kill group: %s\n", res(kill(-b, 0)));
        printf("  tgkill: %s\n", res(syscall(SYS_tgkill, b, b, 0)));
        printf("  sigqueue: %s\n", res(sigqueue(b, 0, (union sigval){0})));
        printf("  SIGCONT (same session): %s\n", res(kill(b, SIGCONT)));
        printf("  kill absent: %s\n", res(kill(999999, 0)));
        printf("uid 1000 -> uid 1000:\n");
        printf("  kill USR1: %s\n", res(kill(a2, SIGUSR1)));
        _exit(0);
    }
    static const char *from[] = {"?", "uid 0", "uid 1000", "nobody", "another uid"};
    int st;
    waitpid(a, &st, 0);
    waitpid(a2, &st, 0);
    printf("  the uid 1000 target got SIGUSR1 from %s\n", from[WEXITSTATUS(st) & 3 ? WEXITSTATUS(st) : 4]);
    printf("root -> uid 1001:\n");
    printf("  kill USR1: %s\n", res(kill(b, SIGUSR1)));
    waitpid(b, &st, 0);
    printf("  the uid 1001 target got SIGUSR1 from %s\n", from[WEXITSTATUS(st) & 3 ? WEXITSTATUS(st) : 4]);
    printf("done\n");
    return 0;
}
