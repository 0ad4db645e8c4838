/* AF_UNIX micro-benchmarks (issue 15's goals): prints the mean time per operation in ns.
 * Usage: unix_sock MODE N
 *   rr      one round trip of a byte between two processes over a socketpair
 *   stream  one 64 KiB write from one process, read whole by the other (a stream socketpair)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: unix_sock rr|stream N\n"); return 2; }
    int n = atoi(argv[2]);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) return 1;
    enum { CHUNK = 64 * 1024 };
    static char buf[CHUNK];
    int stream = !strcmp(argv[1], "stream");
    pid_t p = fork();
    if (p == 0) {
        close(sv[0]);
        for (int i = 0; i < n; i++) {
            if (stream) {
                size_t got = 0;
                while (got < CHUNK) {
                    ssize_t r = read(sv[1], buf, CHUNK - got);
                    if (r <= 0) _exit(1);
                    got += r;
                }
            } else {
                if (read(sv[1], buf, 1) != 1 || write(sv[1], buf, 1) != 1) _exit(1);
            }
        }
        if (stream && write(sv[1], "k", 1) != 1) _exit(1);
        _exit(0);
    }
    close(sv[1]);
    double t0 = now_ns();
    for (int i = 0; i < n; i++) {
        if (stream) {
            if (write(sv[0], buf, CHUNK) != CHUNK) return 1;
        } else {
            if (write(sv[0], "x", 1) != 1 || read(sv[0], buf, 1) != 1) return 1;
        }
    }
    if (stream && read(sv[0], buf, 1) != 1) return 1;
    double t1 = now_ns();
    int st;
    waitpid(p, &st, 0);
    printf("%.0f\n", (t1 - t0) / n);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
