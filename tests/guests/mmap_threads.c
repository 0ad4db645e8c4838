/* Threads mapping and unmapping at once: every thread loops mmap / check zeros / write a
 * pattern / munmap, so the kernel hands the same addresses out again and again. A thread
 * whose munmap hadn't reached the host mapping when it went back to its code (snare held the
 * change while another thread's mmap batch was open) found its old pattern in a "fresh"
 * mapping ("fresh page not zero: got 1/9/17/25").
 *
 * Prints only what must match natively: "maps ok". */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#define THREADS 4
#define ROUNDS 2000

static void fail(const char *what, long got) {
    printf("FAIL %s: got %ld\n", what, got);
    fflush(stdout);
    _exit(1);
}

static uint64_t next(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

static void *mapper(void *arg) {
    uint64_t s = (uint64_t)(uintptr_t)arg;
    for (int r = 0; r < ROUNDS; r++) {
        size_t len = (1 + next(&s) % 4) * 4096;
        unsigned char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) fail("mmap", errno);
        for (size_t i = 0; i < len; i += 512)
            if (m[i]) fail("fresh page not zero", m[i]);
        for (size_t i = 0; i < len; i += 512) m[i] = (unsigned char)(i >> 9) + 1;
        for (size_t i = 0; i < len; i += 512)
            if (m[i] != (unsigned char)((i >> 9) + 1)) fail("page data", m[i]);
        if (munmap(m, len)) fail("munmap", errno);
    }
    return NULL;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, mapper, (void *)(uintptr_t)(i * 7919 + 1));
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    printf("maps ok\n");
    return 0;
}
