// A read longer than the Sentry's 1 MiB copy chunk from a pipe holding exactly 1 MiB
// returns what the pipe has (a second chunk would wait for a writer that never comes).
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void) {
    int p[2];
    if (pipe(p)) return 1;
    int size = fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
    char *b = calloc(1, 4 << 20);
    if (size != 1 << 20 || !b) return 1;
    ssize_t w = write(p[1], b, size);
    ssize_t r = read(p[0], b, 4 << 20);
    printf("pipe %d wrote %zd read %zd\n", size, w, r);
    return w == size && r == size ? 0 : 1;
}
