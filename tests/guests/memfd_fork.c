// A child that shared a writable mapping of a memfd is gone once its parent has waited for
// it: F_SEAL_WRITE then succeeds (the Sentry let go of the child's mappings only after
// telling the parent, and the seal saw a writer 199 times in 200).
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    int busy = 0;
    for (int i = 0; i < 50; i++) {
        int fd = memfd_create("x", MFD_ALLOW_SEALING);
        if (fd < 0 || ftruncate(fd, 4096)) return 1;
        char *a = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (a == MAP_FAILED) return 1;
        pid_t c = fork();
        if (c == 0) {
            a[0] = 1;
            _exit(0);
        }
        waitpid(c, 0, 0);
        munmap(a, 4096);
        busy += fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) != 0;
        close(fd);
    }
    printf("F_SEAL_WRITE refused after the child's exit: %d of 50\n", busy);
    return 0;
}
