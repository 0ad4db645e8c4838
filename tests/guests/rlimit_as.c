/* RLIMIT_AS: with a 1 GiB limit (far above this static program's own few MiB), mmap, brk and
 * mremap that would take the address space past it fail with ENOMEM; a MAP_FIXED over an
 * existing mapping counts only what it adds; unmapping makes room again.
 *
 * Prints what must match natively. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#define MIB (1024ul * 1024)

static void *map(size_t len) {
    return mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
}

static void show(const char *what, int ok) {
    printf("%s: %s\n", what, ok ? "ok" : errno == ENOMEM ? "ENOMEM" : strerror(errno));
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct rlimit rl = {1024 * MIB, RLIM_INFINITY};
    if (setrlimit(RLIMIT_AS, &rl)) return 1;
    void *a = map(2048 * MIB);
    show("mmap 2 GiB", a != MAP_FAILED);
    void *b = map(512 * MIB);
    show("mmap 512 MiB", b != MAP_FAILED);
    void *c = map(600 * MIB);
    show("mmap 600 MiB more", c != MAP_FAILED);
    void *d = mmap(b, 512 * MIB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    show("MAP_FIXED over the 512 MiB", d == b);
    void *e = mremap(b, 512 * MIB, 1100 * MIB, MREMAP_MAYMOVE);
    show("mremap 512 MiB to 1100 MiB", e != MAP_FAILED);
    void *brk0 = sbrk(0);
    void *f = sbrk(700 * MIB);
    show("sbrk 700 MiB", f != (void *)-1);
    show("break unchanged", sbrk(0) == brk0);
    munmap(b, 512 * MIB);
    void *g = map(600 * MIB);
    show("mmap 600 MiB after munmap", g != MAP_FAILED);
    rl.rlim_cur = RLIM_INFINITY;
    setrlimit(RLIMIT_AS, &rl);
    void *h = map(2048 * MIB);
    show("mmap 2 GiB without the limit", h != MAP_FAILED);
    return 0;
}
