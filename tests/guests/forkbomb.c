/* Run under snare only (root ignores RLIMIT_NPROC natively). A fork bomb held by the task limit: fork until EAGAIN, then tear everything down. Prints
 * whether the limit was hit with EAGAIN (not a hang, not a crash). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    struct rlimit rl;
    getrlimit(RLIMIT_NPROC, &rl);
    printf("limit %s\n", rl.rlim_cur <= 4096 ? "small" : "large");
    int n = 0, err = 0;
    for (int i = 0; i < 5000; i++) {
        pid_t p = fork();
        if (p == 0) { pause(); _exit(0); }
        if (p < 0) { err = errno; break; }
        n++;
    }
    signal(SIGTERM, SIG_IGN);
    kill(0, SIGTERM);
    int reaped = 0;
    while (wait(NULL) > 0) reaped++;
    printf("stopped by %s, all reaped=%d, many=%d\n", err ? strerror(err) : "nothing", reaped == n, n > 100);
    return 0;
}
