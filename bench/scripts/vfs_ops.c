// Per-operation VFS costs, in ns/op (issue 13's goals):
//   vfs_ops stat N          stat of an untouched host path (/usr/include/stdio.h)
//   vfs_ops orc N           open + read 4 KiB + close of it
//   vfs_ops deep DIR D N    stat of a path D directories deep under DIR (made first)
//   vfs_ops walk N          stat of /usr/include/../include/stdio.h (walked name by name)
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    const char *f = "/usr/include/stdio.h";
    char buf[4096];
    struct stat st;
    if (!strcmp(argv[1], "stat") || !strcmp(argv[1], "orc")) {
        int n = atoi(argv[2]), orc = !strcmp(argv[1], "orc");
        double t0 = now();
        for (int i = 0; i < n; i++) {
            if (orc) {
                int fd = open(f, O_RDONLY);
                if (fd < 0 || read(fd, buf, sizeof buf) <= 0) return 1;
                close(fd);
            } else if (stat(f, &st)) {
                return 1;
            }
        }
        printf("%s %.0f ns/op\n", argv[1], (now() - t0) / n);
        return 0;
    }
    if (!strcmp(argv[1], "walk")) {
        int n = atoi(argv[2]);
        double t0 = now();
        for (int i = 0; i < n; i++)
            if (stat("/usr/include/../include/stdio.h", &st) != 0) return 1;
        printf("walk %.0f ns/op\n", (now() - t0) / n);
        return 0;
    }
    if (!strcmp(argv[1], "deep") && argc > 4) {
        int d = atoi(argv[3]), n = atoi(argv[4]);
        static char path[65536];
        int len = snprintf(path, sizeof path, "%s/deep.%d", argv[2], getpid());
        if (mkdir(path, 0755)) return 1;
        for (int i = 0; i < d; i++) {
            len += snprintf(path + len, sizeof path - len, "/d");
            if (mkdir(path, 0755)) return 1;
        }
        // Relative to the top (PATH_MAX bounds an absolute one).
        if (chdir(argv[2])) return 1;
        char *rel = path + strlen(argv[2]) + 1;
        double t0 = now();
        for (int i = 0; i < n; i++)
            if (stat(rel, &st)) return 1;
        printf("deep %d %.0f ns/op\n", d, (now() - t0) / n);
        return 0;
    }
    return 2;
}
