/* A process busy in one huge operation must still die at once when SIGKILLed: its parent
 * reaps it within a second. Natively too. The operations: a 2 GiB write from untouched
 * memory to /dev/null and to a tmpfs file, and forks of a process with 2 GiB of shared
 * anonymous memory (the Sentry populates shared mappings at fork). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(void) {
    const char *targets[] = {"/dev/null", "/tmp/bigio.data", "fork with shared memory"};
    for (int k = 0; k < 3; k++) {
        pid_t c = fork();
        if (c == 0 && k == 2) {
            size_t len = 0x80000000;
            if (mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE,
                     -1, 0) == MAP_FAILED)
                _exit(3);
            for (;;) {
                pid_t g = fork();
                if (g == 0)
                    _exit(0);
                if (g < 0)
                    _exit(4);
                waitpid(g, NULL, 0);
            }
        }
        if (c == 0) {
            size_t len = 0x7ffff000;
            char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            int fd = open(targets[k], O_WRONLY | O_CREAT | O_TRUNC, 0600);
            if (p == MAP_FAILED || fd < 0)
                _exit(3);
            for (;;)
                if (write(fd, p, len) < 0)
                    _exit(4);
        }
        struct timespec t = {0, 100 * 1000 * 1000};
        nanosleep(&t, NULL);
        double start = now();
        kill(c, SIGKILL);
        int st;
        waitpid(c, &st, 0);
        double took = now() - start;
        int ok = WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL && took < 1.0;
        printf("%s: %s\n", targets[k], ok ? "killed at once" : "NOT killed at once");
        if (!ok)
            fprintf(stderr, "status %#x after %.3f s\n", st, took);
    }
    unlink("/tmp/bigio.data");
    return 0;
}
