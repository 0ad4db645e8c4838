// TCP 1-byte request/response over 127.0.0.1 between two processes (TCP_NODELAY): prints
// ns per round trip on stderr. `gcc -O2 -o /tmp/tcp_rr bench/scripts/tcp_rr.c`, then run it
// natively and under `snare do`.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
int main(void) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    bind(l, (void *)&a, len); listen(l, 1); getsockname(l, (void *)&a, &len);
    int N = 20000, one = 1;
    if (fork() == 0) {
        int c = socket(AF_INET, SOCK_STREAM, 0);
        connect(c, (void *)&a, len);
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, 4);
        char b;
        for (int i = 0; i < N; i++) { read(c, &b, 1); write(c, &b, 1); }
        _exit(0);
    }
    int s = accept(l, 0, 0);
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, 4);
    struct timespec t0, t1; char b = 'x';
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < N; i++) { write(s, &b, 1); read(s, &b, 1); }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    wait(0);
    fprintf(stderr, "%.0f ns per round trip\n", ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / N);
}
