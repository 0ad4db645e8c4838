/* Copy-on-write broken under a reader: a page shared with a child is written by one thread
 * (a write fault, or the kernel writing it for a read(2)) while another thread of the same
 * process keeps reading it and the child lets go of it by exiting. The reader must only ever
 * see the page's old or new contents. Under snare the old page used to be released before
 * the stub mapped the copy over it: when the child's exit freed it in that window, the
 * reader saw whatever the page held next (with the memory file's quarantine on, its canary).
 *
 *   cow_unshare [ROUNDS]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define OLD 0x0123456789abcdefull
#define NEW 0xfedcba9876543210ull
#define WORDS (4096 / 8)

static _Atomic(uint64_t *) current;
static atomic_int stop;
static atomic_ulong bad, reads;

static void *reader(void *arg) {
    (void)arg;
    while (!atomic_load(&stop)) {
        uint64_t *p = atomic_load(&current);
        for (int i = 0; i < WORDS; i += 64) {
            uint64_t v = ((volatile uint64_t *)p)[i];
            if (v != OLD && v != NEW && atomic_load(&bad) == 0) {
                atomic_store(&bad, v);
            }
        }
        atomic_fetch_add(&reads, 1);
    }
    return NULL;
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 300;
    if (rounds < 1 || rounds > 100000) {
        fprintf(stderr, "bad rounds\n");
        return 2;
    }
    uint8_t *pages = mmap(NULL, (size_t)(rounds + 1) * 4096, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pages == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    for (int i = 0; i < WORDS; i++) {
        ((uint64_t *)pages)[i] = OLD;
    }
    atomic_store(&current, (uint64_t *)pages);
    pthread_t t;
    if (pthread_create(&t, NULL, reader, NULL) != 0) {
        fprintf(stderr, "pthread_create failed\n");
        return 1;
    }
    for (int r = 1; r <= rounds; r++) {
        uint64_t *p = (uint64_t *)(pages + (size_t)r * 4096);
        for (int i = 0; i < WORDS; i++) {
            p[i] = OLD;
        }
        int go[2], data[2];
        if (pipe(go) || pipe(data)) {
            perror("pipe");
            return 1;
        }
        pid_t c = fork();
        if (c < 0) {
            perror("fork");
            return 1;
        }
        if (c == 0) {
            char b;
            if (read(go[0], &b, 1) != 1) {
                _exit(3);
            }
            _exit(0);
        }
        /* The page is shared with the child now; the reader moves onto it. */
        atomic_store(&current, p);
        while (atomic_load(&reads) < 2) {
        }
        atomic_store(&reads, 0);
        if (write(go[1], "x", 1) != 1) {
            perror("write");
            return 1;
        }
        if (r % 2) {
            p[0] = NEW;
        } else {
            uint64_t v = NEW;
            if (write(data[1], &v, 8) != 8 || read(data[0], p, 8) != 8) {
                perror("pipe round trip");
                return 1;
            }
        }
        int st;
        if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "child %d: status %#x\n", c, st);
            return 1;
        }
        close(go[0]);
        close(go[1]);
        close(data[0]);
        close(data[1]);
        if (atomic_load(&bad)) {
            break;
        }
    }
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    if (atomic_load(&bad)) {
        printf("reader saw %#llx, neither the old nor the new contents\n",
               (unsigned long long)atomic_load(&bad));
        return 1;
    }
    printf("cow_unshare: ok\n");
    return 0;
}
