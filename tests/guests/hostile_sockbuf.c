// Stream sends and receives on TCP go between the host socket and guest memory in place
// (snare holds the address space while the host copies): here other threads unmap, remap
// and re-protect the very buffers meanwhile, and a child shares them copy-on-write. Every
// call must end with a count or EFAULT, the data that arrives must be what was sent (each
// byte is its offset's low byte), and nothing else may be written: the parent's copy of a
// buffer its child receives into stays as it was. Prints only what doesn't depend on the
// race.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

enum { BUF = 64 << 10, TOTAL = 16 << 20 };

static char *region;
static atomic_int stop;

/// Unmaps, remaps and re-protects `region` over and over.
static void *churn(void *arg) {
    (void)arg;
    unsigned n = 0;
    while (!atomic_load(&stop)) {
        switch (n++ % 3) {
        case 0:
            munmap(region + BUF / 2, BUF / 4);
            break;
        case 1:
            mmap(region + BUF / 2, BUF / 4, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
            break;
        default:
            mprotect(region, BUF / 4, n % 2 ? PROT_READ : PROT_READ | PROT_WRITE);
        }
    }
    return NULL;
}

static void tcp_pair(int c[2]) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&a, len) || listen(l, 1) ||
        getsockname(l, (struct sockaddr *)&a, &len))
        exit(2);
    c[0] = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c[0], (struct sockaddr *)&a, len)) exit(2);
    c[1] = accept(l, NULL, NULL);
    close(l);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int c[2];
    tcp_pair(c);
    region = mmap(NULL, BUF, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(region, 'P', BUF);
    pid_t k = fork();
    if (k == 0) {
        // The child: receives into `region` (shared copy-on-write with the parent until
        // written) while its own thread churns it; checks what arrives.
        pthread_t t;
        pthread_create(&t, NULL, churn, NULL);
        long got = 0, bad = 0, faults = 0;
        while (got < TOTAL) {
            ssize_t n = recv(c[1], region, BUF, 0);
            if (n < 0 && errno == EFAULT) {
                faults++;
                continue;
            }
            if (n <= 0) break;
            // The bytes may be changed by nothing but the churn (which only unmaps or
            // zero-fills the second half): in the first half, which stays mapped, each is
            // its stream offset's low byte.
            for (ssize_t i = 0; i < n && i < BUF / 2; i++) {
                unsigned char v = (unsigned char)region[i];
                if (v != (unsigned char)(got + i)) bad++;
            }
            got += n;
        }
        atomic_store(&stop, 1);
        pthread_join(t, NULL);
        _exit(got == TOTAL && bad == 0 ? 0 : 1);
    }
    close(c[1]);
    // The parent: sends the stream from `src`, while its own thread churns `region`.
    static char src[BUF];
    pthread_t t;
    pthread_create(&t, NULL, churn, NULL);
    long sent = 0;
    while (sent < TOTAL) {
        for (int i = 0; i < BUF; i++) src[i] = (char)(sent + i);
        ssize_t n = send(c[0], src, BUF, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += n;
        // Data sent from a buffer being unmapped: EFAULT or a count, never a crash.
        send(c[0], region + BUF / 2, 0, MSG_DONTWAIT | MSG_NOSIGNAL);
    }
    int st = 0;
    waitpid(k, &st, 0);
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    printf("sent: %s\n", sent == TOTAL ? "all" : "SHORT");
    printf("child received: %s\n", WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "ok" : "WRONG");
    // The parent's copy of `region` (where the child received): never the child's data.
    mprotect(region, BUF, PROT_READ | PROT_WRITE);
    long foreign = 0;
    for (int i = 0; i < BUF / 2; i++)
        if (region[i] != 'P') foreign++;
    printf("parent's buffer: %s\n", foreign ? "CHANGED" : "kept");
    return 0;
}
