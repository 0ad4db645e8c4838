// Differential test: brk, mmap (anonymous, file, fixed, hint), munmap, mprotect, mremap-free
// paths, madvise, mincore.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int failures;
#define CHECK(c) do { if (!(c)) { printf("FAIL %s:%d %s (errno %d)\n", __FILE__, __LINE__, #c, errno); failures++; } } while (0)

int main(int argc, char **argv) {
    // brk
    char *b0 = sbrk(0);
    CHECK(sbrk(1 << 20) == b0);
    memset(b0, 0xab, 1 << 20);
    CHECK(b0[12345] == (char)0xab);
    CHECK(sbrk(-(1 << 19)) != (void *)-1);
    CHECK(sbrk(0) == b0 + (1 << 19));

    // anonymous mmap, big, touched sparsely
    size_t len = 64 << 20;
    unsigned char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED);
    unsigned long sum = 0;
    for (size_t i = 0; i < len; i += 4096 * 7) { m[i] = (unsigned char)i; }
    for (size_t i = 0; i < len; i += 4096 * 7) sum += m[i];
    printf("anon sum %lu zero %d\n", sum, m[4096 * 7 + 1]);
    CHECK(((uintptr_t)m & 4095) == 0);

    // mincore on touched vs untouched
    unsigned char vec[4];
    CHECK(mincore(m, 4 * 4096, vec) == 0);
    printf("mincore first %d\n", vec[0] & 1);

    // munmap a hole and map it again with MAP_FIXED
    CHECK(munmap(m + 4096, 4096) == 0);
    void *f = mmap(m + 4096, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    CHECK(f == m + 4096);
    CHECK(((unsigned char *)f)[0] == 0);
    void *nr = mmap(m, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    CHECK(nr == MAP_FAILED && errno == EEXIST);

    // mprotect read-only then back
    CHECK(mprotect(m, 8192, PROT_READ) == 0);
    CHECK(m[0] == 0);
    CHECK(mprotect(m, 8192, PROT_READ | PROT_WRITE) == 0);
    m[0] = 7;
    CHECK(m[0] == 7);
    CHECK(mprotect(m, 4096, 0x100000) == -1 && errno == EINVAL);

    // madvise DONTNEED zeroes private anonymous pages
    m[8192] = 9;
    CHECK(madvise(m + 8192, 4096, MADV_DONTNEED) == 0);
    CHECK(m[8192] == 0);
    CHECK(munmap(m, len) == 0);

    // madvise DONTNEED keeps shared anonymous memory (the next access finds the same page),
    // also across a range that spans a private and a shared mapping.
    char *sh = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(sh != MAP_FAILED);
    memset(sh, 'S', 3 * 4096);
    CHECK(madvise(sh, 3 * 4096, MADV_DONTNEED) == 0);
    printf("shared after dontneed: %c %c\n", sh[0], sh[2 * 4096 + 5]);
    CHECK(munmap(sh, 3 * 4096) == 0);

    // file mapping
    if (argc > 1) {
        int fd = open(argv[1], O_RDONLY);
        CHECK(fd >= 0);
        struct stat st;
        fstat(fd, &st);
        char *fm = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        CHECK(fm != MAP_FAILED);
        printf("file map '%.5s' last %d\n", fm, fm[st.st_size - 1]);
        // Private writable copy doesn't change the file.
        char *fw = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
        CHECK(fw != MAP_FAILED);
        fw[0] = 'J';
        CHECK(fm[0] == 'h');
        // Past EOF in the last page reads zeros.
        CHECK(fw[st.st_size] == 0);
        CHECK(mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 1) == MAP_FAILED && errno == EINVAL);
        CHECK(mmap(NULL, 0, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED && errno == EINVAL);
        close(fd);
    }
    // mremap: grow in place or move, shrink; contents survive
    char *r = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(r != MAP_FAILED);
    memset(r, 'a', 8192);
    void *blocker = mmap(r + 8192, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    CHECK(mremap(r, 8192, 65536, 0) == MAP_FAILED && errno == ENOMEM);
    char *r2 = mremap(r, 8192, 65536, MREMAP_MAYMOVE);
    CHECK(r2 != MAP_FAILED && r2[0] == 'a' && r2[8191] == 'a' && r2[8192] == 0);
    r2[65535] = 'z';
    char *r3 = mremap(r2, 65536, 4096, 0);
    CHECK(r3 == r2 && r3[0] == 'a');
    CHECK(mremap(r3, 4096, 8192, MREMAP_FIXED) == MAP_FAILED && errno == EINVAL);
    if (blocker != MAP_FAILED) munmap(blocker, 4096);
    munmap(r3, 4096);

    // errors
    CHECK(mmap(NULL, 4096, PROT_READ, MAP_ANONYMOUS, -1, 0) == MAP_FAILED && errno == EINVAL);
    CHECK(munmap((void *)1, 4096) == -1 && errno == EINVAL);
    CHECK(mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 999, 0) == MAP_FAILED && errno == EBADF);

    // malloc churn
    void *ptrs[1000];
    for (int i = 0; i < 1000; i++) { ptrs[i] = malloc(i * 100 + 1); memset(ptrs[i], i, i * 100 + 1); }
    for (int i = 0; i < 1000; i++) free(ptrs[i]);
    void *big = malloc(10 << 20);
    CHECK(big != NULL);
    memset(big, 1, 10 << 20);
    free(big);

    printf("memory: %d failures\n", failures);
    return failures != 0;
}
