// open + read + close of a small file, N times (the per-call cost of the file path).
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 10000;
    char buf[256];
    for (int i = 0; i < n; i++) {
        int fd = open("/etc/hostname", O_RDONLY);
        if (fd < 0 || read(fd, buf, sizeof buf) < 0) return 1;
        close(fd);
    }
    return 0;
}
