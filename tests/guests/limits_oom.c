#define _GNU_SOURCE
// Memory limits (run under `snare do --memory 256M`; natively it needs a host with 1 GiB free):
//   oom   a child touches 1 GiB of anonymous memory and is SIGKILLed by the OOM killer; the
//         parent sees WIFSIGNALED/SIGKILL, then allocates and touches 16 MiB itself.
//   mmap  a 1 TiB private writable mapping fails with ENOMEM; a 1 TiB MAP_NORESERVE or
//         PROT_NONE one and a sparsely touched 1 GiB one work.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(c)                                                               \
    do {                                                                       \
        if (!(c)) {                                                            \
            printf("FAIL %s:%d: %s (errno %d)\n", __FILE__, __LINE__, #c, errno); \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

static void touch(char *p, size_t len, size_t step) {
    for (size_t i = 0; i < len; i += step)
        p[i] = 1;
}

static int oom(void) {
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        // 1 GiB in 64 MiB pieces (one mapping larger than the limit would fail at mmap).
        size_t len = (size_t)64 << 20;
        for (int i = 0; i < 16; i++) {
            char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED)
                _exit(3);
            touch(p, len, 4096);
        }
        _exit(0); // not reached under a 256M limit
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    printf("child: signaled %d sig %d exited %d\n", WIFSIGNALED(st), WIFSIGNALED(st) ? WTERMSIG(st) : 0,
           WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    size_t len = 16 << 20;
    char *p = malloc(len);
    CHECK(p != NULL);
    memset(p, 7, len);
    CHECK(p[len - 1] == 7);
    printf("parent: touched 16 MiB\n");
    return 0;
}

static int big_mmap(void) {
    size_t tib = (size_t)1 << 40;
    void *p = mmap(NULL, tib, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p == MAP_FAILED && errno == ENOMEM);
    p = mmap(NULL, tib, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(p == MAP_FAILED && errno == ENOMEM);
    p = mmap(NULL, tib, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    CHECK(mprotect(p, tib, PROT_READ | PROT_WRITE) == -1 && errno == ENOMEM);
    CHECK(mprotect(p, 1 << 20, PROT_READ | PROT_WRITE) == 0);
    touch(p, 1 << 20, 4096);
    CHECK(munmap(p, tib) == 0);
    p = mmap(NULL, tib, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    CHECK(p != MAP_FAILED);
    touch(p, 1 << 20, 4096);
    CHECK(munmap(p, tib) == 0);
    size_t gib = (size_t)1 << 30;
    char *q = mmap(NULL, gib, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(q != MAP_FAILED);
    touch(q, gib, 16 << 20); // 64 pages of a 1 GiB reservation
    CHECK(mremap(q, gib, tib, MREMAP_MAYMOVE) == MAP_FAILED && errno == ENOMEM);
    CHECK(munmap(q, gib) == 0);
    CHECK(sbrk(0) != (void *)-1);
    CHECK(sbrk((intptr_t)tib) == (void *)-1 && errno == ENOMEM);
    printf("mmap: ok\n");
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 2)
        return 2;
    if (!strcmp(argv[1], "oom"))
        return oom();
    if (!strcmp(argv[1], "mmap"))
        return big_mmap();
    return 2;
}
