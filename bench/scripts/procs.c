/* Process and thread micro-benchmarks for bench/scripts/compare.sh: prints the mean time per
 * operation in microseconds.  Usage: procs MODE N
 *   fork      fork + _exit + waitpid
 *   forkexec  fork + execve(/bin/true) + waitpid
 *   spawn     posix_spawn(/bin/true) + waitpid (vfork-style clone)
 *   pipe      one round trip of a byte between two processes over two pipes
 *   thread    pthread_create + pthread_join
 */
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void *noop(void *a) { return a; }

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: procs fork|forkexec|spawn|pipe|thread N\n"); return 2; }
    const char *mode = argv[1];
    int n = atoi(argv[2]);
    char *tru[] = {"/bin/true", NULL};
    double t0 = now_us();
    if (!strcmp(mode, "fork")) {
        for (int i = 0; i < n; i++) {
            pid_t p = fork();
            if (p == 0) _exit(0);
            waitpid(p, NULL, 0);
        }
    } else if (!strcmp(mode, "forkexec")) {
        for (int i = 0; i < n; i++) {
            pid_t p = fork();
            if (p == 0) { execve(tru[0], tru, environ); _exit(127); }
            waitpid(p, NULL, 0);
        }
    } else if (!strcmp(mode, "spawn")) {
        for (int i = 0; i < n; i++) {
            pid_t p;
            posix_spawn(&p, tru[0], NULL, NULL, tru, environ);
            waitpid(p, NULL, 0);
        }
    } else if (!strcmp(mode, "pipe")) {
        int a[2], b[2];
        char c = 'x';
        if (pipe(a) || pipe(b)) return 1;
        pid_t p = fork();
        if (p == 0) {
            for (int i = 0; i < n; i++) {
                if (read(a[0], &c, 1) != 1) _exit(1);
                if (write(b[1], &c, 1) != 1) _exit(1);
            }
            _exit(0);
        }
        t0 = now_us();
        for (int i = 0; i < n; i++) {
            if (write(a[1], &c, 1) != 1 || read(b[0], &c, 1) != 1) return 1;
        }
        waitpid(p, NULL, 0);
    } else if (!strcmp(mode, "thread")) {
        for (int i = 0; i < n; i++) {
            pthread_t t;
            pthread_create(&t, NULL, noop, NULL);
            pthread_join(t, NULL);
        }
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    printf("%s %.1f us/op\n", mode, (now_us() - t0) / n);
    return 0;
}
