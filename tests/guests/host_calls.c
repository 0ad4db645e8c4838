/* Calls a Sentry taken over must never make on the host, made by the guest instead: under
 * snare each is answered by the Sentry (whatever it answers) and the sandbox lives on, since
 * guest syscalls never reach the Sentry's own seccomp filter. Natively they run for real
 * (harmlessly). Prints only what is the same both ways. */
#include <errno.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    /* AF_PACKET: no network mode needs it (AF_INET is the guest's own, through the Sentry). */
    int s = socket(AF_PACKET, SOCK_RAW, 0);
    if (s >= 0)
        close(s);
    /* A source that does not exist: fails natively too. */
    int m = mount("/nonexistent-snare-guest", "/nonexistent-snare-guest", "none", MS_BIND, NULL);
    printf("mount of a missing source fails: %d\n", m == -1);
    pid_t pid = fork();
    if (pid == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        char *argv[] = {"true", NULL};
        execv("/bin/true", argv);
        _exit(127);
    }
    int status = 0;
    /* A traced child stops at exec with SIGTRAP natively: let it go on. */
    while (waitpid(pid, &status, 0) == pid && WIFSTOPPED(status))
        ptrace(PTRACE_CONT, pid, 0, 0);
    printf("child ran /bin/true: exited %d status %d\n", WIFEXITED(status), WEXITSTATUS(status));
    puts("done");
    return 0;
}
