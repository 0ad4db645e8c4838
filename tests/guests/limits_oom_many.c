/* Several OOM kills in a row under `snare do --memory 256M`: four children in turn touch
 * memory without end; each must be SIGKILLed (and nobody else: the parent, the sandbox's
 * init, goes on); then the parent fills /tmp (Linux's default: half the memory) right away,
 * which must get all of it even though the last victim's pages were still on their way back
 * when it was reaped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    for (int k = 0; k < 4; k++) {
        pid_t c = fork();
        if (c == 0) {
            for (;;) {
                char *p = mmap(NULL, 64 << 20, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED)
                    _exit(3);
                for (size_t o = 0; o < (64u << 20); o += 4096)
                    p[o] = 1;
            }
        }
        int st;
        if (waitpid(c, &st, 0) != c || !WIFSIGNALED(st) || WTERMSIG(st) != 9) {
            printf("child %d: status %#x, not SIGKILL\n", k, st);
            return 1;
        }
    }
    static char buf[1 << 16];
    memset(buf, 7, sizeof buf);
    long total = 0;
    for (int i = 0; total < (256L << 20); i++) {
        char name[64];
        snprintf(name, sizeof name, "/tmp/f%d", i);
        FILE *f = fopen(name, "w");
        if (!f)
            break;
        size_t n = fwrite(buf, 1, sizeof buf, f);
        if (fclose(f) != 0 || n != sizeof buf)
            break;
        total += n;
    }
    printf("four children killed; /tmp took %ld MiB\n", total >> 20);
    return total == (128L << 20) ? 0 : 1;
}
