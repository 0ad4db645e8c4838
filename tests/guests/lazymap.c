// Differential test: mapping changes the guest can't see yet must behave as if made at once.
// Under snare, changes that only add mappings wait for the guest's first touch (the Sentry
// holds them back); this checks every way a held change could leak: a touch after munmap or
// mprotect must fault, a mapping made over another must show the new contents, another
// thread's touch must find what this one mapped, a child must see the parent's memory.
// Usage: lazymap FILE (a file of at least 2 pages is made there).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;
#define CHECK(c) do { if (!(c)) { printf("FAIL %s:%d %s (errno %d)\n", __FILE__, __LINE__, #c, errno); failures++; } } while (0)

#define PG 4096
static sigjmp_buf env;
static volatile int faulted_signo;

static void on_fault(int sig) {
    faulted_signo = sig;
    siglongjmp(env, 1);
}

// Whether reading (write = 0) or writing one byte at p faults; the value read in *out.
static int faults(volatile char *p, int write, char *out) {
    faulted_signo = 0;
    if (sigsetjmp(env, 1) == 0) {
        if (write)
            *p = 'w';
        else if (out)
            *out = *p;
        else
            (void)*p;
        return 0;
    }
    return faulted_signo;
}

static char *map_anon(size_t len, int prot) {
    char *m = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED);
    return m;
}

static void *toucher(void *arg) {
    char *m = arg;
    char c = 0;
    int f = faults(m + PG, 0, &c);
    printf("thread: fault %d value %d\n", f, c);
    m[2 * PG] = 't';
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fault;
    sa.sa_flags = SA_NODEFER;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);

    // A file of two pages: 'A's then 'B's.
    int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    char buf[PG];
    memset(buf, 'A', PG);
    CHECK(write(fd, buf, PG) == PG);
    memset(buf, 'B', PG);
    CHECK(write(fd, buf, PG) == PG);

    // Mapped, never touched, unmapped: a touch faults.
    char *m = map_anon(4 * PG, PROT_READ | PROT_WRITE);
    CHECK(munmap(m, 4 * PG) == 0);
    printf("untouched then unmapped: read %d write %d\n", faults(m, 0, NULL), faults(m, 1, NULL));

    // Small writable mappings are filled at mmap: same again after a write.
    m = map_anon(2 * PG, PROT_READ | PROT_WRITE);
    m[0] = 'x';
    CHECK(munmap(m, 2 * PG) == 0);
    printf("touched then unmapped: read %d\n", faults(m, 0, NULL));

    // Mapped, made read-only before any touch: a write faults, a read sees zeros.
    m = map_anon(2 * PG, PROT_READ | PROT_WRITE);
    CHECK(mprotect(m, 2 * PG, PROT_READ) == 0);
    char c = 1;
    int wf = faults(m, 1, NULL);
    int rf = faults(m + PG, 0, &c);
    printf("read-only before touch: write %d read %d value %d\n", wf, rf, c);
    CHECK(mprotect(m, 2 * PG, PROT_NONE) == 0);
    printf("no access: read %d\n", faults(m, 0, NULL));
    CHECK(mprotect(m, 2 * PG, PROT_READ | PROT_WRITE) == 0);
    printf("writable again: write %d\n", faults(m, 1, NULL));
    CHECK(munmap(m, 2 * PG) == 0);

    // A file mapping, then an anonymous one over its first page, before and after touches.
    char *f = mmap(NULL, 2 * PG, PROT_READ, MAP_PRIVATE, fd, 0);
    CHECK(f != MAP_FAILED);
    CHECK(mmap(f, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == f);
    printf("anon over untouched file: %d %c\n", f[0], f[PG]);
    CHECK(mmap(f + PG, PG, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0) == f + PG);
    printf("file page 0 over file page 1: %c\n", f[PG]);
    CHECK(mmap(f, PG, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, PG) == f);
    printf("file page 1 over anon: %c\n", f[0]);
    CHECK(munmap(f, 2 * PG) == 0);
    printf("file unmapped: read %d\n", faults(f, 0, NULL));

    // The same address again with other contents.
    char *g = mmap(f, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    CHECK(g == f);
    printf("remapped at the same place: %d\n", g[0]);

    // A mapping made by this thread, touched first by another.
    m = map_anon(3 * PG, PROT_READ | PROT_WRITE);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, toucher, m) == 0);
    pthread_join(t, NULL);
    printf("main sees the thread's write: %c\n", m[2 * PG]);

    // Moved and discarded before any touch.
    char *r = map_anon(2 * PG, PROT_READ | PROT_WRITE);
    r[0] = 'r';
    char *moved = mremap(r, 2 * PG, 8 * PG, MREMAP_MAYMOVE);
    CHECK(moved != MAP_FAILED);
    printf("moved: %c %d\n", moved[0], moved[7 * PG]);
    CHECK(madvise(moved, 8 * PG, MADV_DONTNEED) == 0);
    printf("discarded: %d\n", moved[0]);

    // A child sees what the parent mapped and wrote just before fork; the parent doesn't
    // see the child's writes.
    char *p = map_anon(PG, PROT_READ | PROT_WRITE);
    p[0] = 'p';
    char *q = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, PG);
    CHECK(q != MAP_FAILED);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        printf("child: %c %c\n", p[0], q[0]);
        p[0] = 'c';
        munmap(q, PG);
        printf("child unmapped: %d\n", faults(q, 0, NULL));
        fflush(stdout);
        _exit(p[0] == 'c' ? 0 : 1);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    printf("parent: %c %c\n", p[0], q[0]);

    // Many small mappings made and dropped without a touch, then one touched.
    for (int i = 0; i < 1000; i++) {
        char *x = map_anon(PG, PROT_READ | PROT_WRITE);
        CHECK(munmap(x, PG) == 0);
    }
    m = map_anon(PG, PROT_READ | PROT_WRITE);
    m[0] = 'z';
    printf("after 1000 mappings: %c\n", m[0]);

    close(fd);
    unlink(argv[1]);
    printf("failures %d\n", failures);
    return failures != 0;
}
