/* Hostile lock use (issue 12's rule: every quantity a guest controls is bounded with Linux's
 * errno). Garbage flock pointers and ranges get EFAULT/EINVAL/EOVERFLOW; 12,000 disjoint
 * one-byte locks hit snare's per-owner cap (ENOLCK; Linux bounds them only by memory, so
 * natively they all succeed); unlocking the whole file then frees them, and the lock table
 * still answers. Prints "capped at N" or "all 12000 granted", then "ok". argv[1]: the file. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int lk(int fd, int cmd, short type, long start, long len) {
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
    return fcntl(fd, cmd, &fl) ? errno : 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int fd = open(argc > 1 ? argv[1] : "/tmp/hostile_locks.bin", O_CREAT | O_TRUNC | O_RDWR, 0600);
    if (fd < 0) return 1;
    printf("null flock: %s\n", fcntl(fd, F_SETLK, (void *)0) ? strerrorname_np(errno) : "ok");
    printf("wild flock: %s\n", fcntl(fd, F_GETLK, (void *)0x7000deadbeef) ? strerrorname_np(errno) : "ok");
    printf("huge start+len: %s\n", strerrorname_np(lk(fd, F_SETLK, F_WRLCK, 0x7fffffffffffff00L, 0x1000)));
    printf("OFD with a pid: %s\n", strerrorname_np(({
        struct flock fl = {.l_type = F_WRLCK, .l_pid = 1};
        fcntl(fd, F_OFD_SETLK, &fl) ? errno : 0;
    })));
    int n = 0, err = 0;
    for (; n < 12000; n++) {
        if ((err = lk(fd, F_SETLK, F_WRLCK, 2L * n, 1))) break;
    }
    if (n < 12000)
        printf("capped at %d: %s\n", n, strerrorname_np(err));
    else
        printf("all 12000 granted\n");
    if (lk(fd, F_SETLK, F_UNLCK, 0, 0)) return 2;
    if (lk(fd, F_SETLK, F_WRLCK, 0, 0) || lk(fd, F_SETLK, F_UNLCK, 0, 0)) return 3;
    printf("ok\n");
    unlink(argc > 1 ? argv[1] : "/tmp/hostile_locks.bin");
    return 0;
}
