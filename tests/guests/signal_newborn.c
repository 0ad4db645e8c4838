// A signal sent to a child at once after fork, before the child has run: its handler runs
// (the frame saves the child's first FP state) and the child goes on. Under snare the frame
// could not be built for a thread that had not run yet (EFAULT: the child died of SIGSEGV).
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got;

static void on_usr1(int s) {
    (void)s;
    got = 1;
}

int main(void) {
    struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_RESTART};
    sigaction(SIGUSR1, &sa, NULL);
    int killed = 0, missed = 0;
    for (int i = 0; i < 300; i++) {
        pid_t p = fork();
        if (p == 0) {
            // Wait for the signal (it was sent before or while this runs).
            sigset_t none;
            sigemptyset(&none);
            while (!got)
                sigsuspend(&none);
            _exit(0);
        }
        kill(p, SIGUSR1);
        int st;
        waitpid(p, &st, 0);
        if (!WIFEXITED(st))
            killed++;
        else if (WEXITSTATUS(st) != 0)
            missed++;
    }
    printf("300 children signalled at birth: %d killed, %d missed\n", killed, missed);
    return killed || missed;
}
