// Differential test: /proc as the guest sees it. Prints only what is the same natively and
// under snare (shapes, not pids or addresses).
// Usage: proc FIXTURE_FILE
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

static int failures;
#define CHECK(c) do { if (!(c)) { printf("FAIL %s:%d %s (errno %d)\n", __FILE__, __LINE__, #c, errno); failures++; } } while (0)

static int slurp(const char *path, char *buf, int max) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    int n = 0, r;
    while (n < max - 1 && (r = read(fd, buf + n, max - 1 - n)) > 0) n += r;
    close(fd);
    buf[n] = 0;
    return n;
}

static int cmp(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    static char buf[1 << 16];
    char want[64];

    // status: Name is the exe's basename (15 chars at most), Pid and Tgid our pid.
    CHECK(slurp("/proc/self/status", buf, sizeof buf) > 0);
    char *name = strstr(buf, "Name:\t");
    CHECK(name == buf);
    if (name) {
        char *nl = strchr(name, '\n');
        if (nl) *nl = 0;
        printf("%s\n", name);
        if (nl) *nl = '\n';
    }
    snprintf(want, sizeof want, "\nPid:\t%d\n", getpid());
    printf("status pid ok %d\n", strstr(buf, want) != NULL);
    snprintf(want, sizeof want, "\nTgid:\t%d\n", getpid());
    printf("status tgid ok %d\n", strstr(buf, want) != NULL);
    printf("status has VmRSS %d Uid %d\n", strstr(buf, "\nVmRSS:") != NULL,
           strstr(buf, "\nUid:") != NULL);

    // stat: "pid (comm) R ..."
    CHECK(slurp("/proc/self/stat", buf, sizeof buf) > 0);
    int pid = 0;
    char state = 0;
    CHECK(sscanf(buf, "%d (%*[^)]) %c", &pid, &state) == 2);
    printf("stat pid ok %d state %c\n", pid == getpid(), state);

    // cmdline: argv, NUL-separated.
    int n = slurp("/proc/self/cmdline", buf, sizeof buf);
    int at = 0, same = 1;
    for (int i = 0; i < argc; i++) {
        same &= at < n && strcmp(buf + at, argv[i]) == 0;
        at += strlen(argv[i]) + 1;
    }
    printf("cmdline ok %d len ok %d\n", same, at == n);

    // environ: the first variable is there.
    n = slurp("/proc/self/environ", buf, sizeof buf);
    extern char **environ;
    printf("environ ok %d\n", environ[0] == NULL || (n > 0 && strcmp(buf, environ[0]) == 0));

    // exe: the program's real path.
    char exe[PATH_MAX], real[PATH_MAX];
    ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK(l > 0);
    exe[l > 0 ? l : 0] = 0;
    CHECK(realpath(argv[0], real) != NULL);
    printf("exe ok %d\n", strcmp(exe, real) == 0);
    struct stat a, b;
    CHECK(stat("/proc/self/exe", &a) == 0 && stat(real, &b) == 0);
    printf("exe stat same %d\n", a.st_ino == b.st_ino && a.st_size == b.st_size);

    // cwd.
    char cwd[PATH_MAX];
    CHECK(chdir("/usr") == 0);
    l = readlink("/proc/self/cwd", cwd, sizeof cwd - 1);
    cwd[l > 0 ? l : 0] = 0;
    printf("cwd %s\n", cwd);
    CHECK(stat("/proc/self/cwd/bin", &a) == 0);
    printf("cwd/bin dir %d\n", S_ISDIR(a.st_mode));

    // fd: open a file and find it in fd/, by number and through the link.
    int fd = open(argv[1], O_RDONLY);
    CHECK(fd >= 3);
    char link[64], target[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    l = readlink(link, target, sizeof target - 1);
    target[l > 0 ? l : 0] = 0;
    printf("fd link ok %d\n", strcmp(target, argv[1]) == 0);
    int fd2 = open(link, O_RDONLY);
    CHECK(fd2 >= 0);
    n = read(fd2, buf, 5);
    buf[n > 0 ? n : 0] = 0;
    printf("reopened reads '%s'\n", buf);
    CHECK(fstat(fd2, &a) == 0 && fstat(fd, &b) == 0);
    printf("reopened same file %d\n", a.st_ino == b.st_ino);
    close(fd2);

    DIR *d = opendir("/proc/self/fd");
    CHECK(d != NULL);
    char *names[64];
    int count = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) && count < 64) {
        int num = atoi(e->d_name);
        // Only stdio and our file: the runner may pass other fds down.
        if (e->d_name[0] == '.' || (num > 2 && num != fd)) continue;
        snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
        l = readlink(link, target, sizeof target - 1);
        target[l > 0 ? l : 0] = 0;
        // stdio differs between runs (tty, pipe): show only our own file.
        char *s = malloc(PATH_MAX + 16);
        snprintf(s, PATH_MAX + 16, "%s%s", e->d_name, num == fd ? strcmp(target, argv[1]) == 0 ? " -> file" : " -> ?" : "");
        names[count++] = s;
    }
    if (d) closedir(d);
    qsort(names, count, sizeof *names, cmp);
    for (int i = 0; i < count; i++) printf("fd %s\n", names[i]);

    // The listing has the fd it is read through (Linux lists the directory when it is read).
    int dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY);
    CHECK(dfd >= 0);
    DIR *own = dfd >= 0 ? fdopendir(dfd) : NULL;
    int has_own = 0;
    while (own && (e = readdir(own)))
        if (e->d_name[0] != '.' && atoi(e->d_name) == dfd) has_own = 1;
    if (own) closedir(own);
    printf("fd listing has its own fd %d\n", has_own);

    // mounts and the filesystem type of /proc.
    n = slurp("/proc/self/mounts", buf, sizeof buf);
    printf("mounts proc %d\n", strstr(buf, " /proc proc ") != NULL);
    struct statfs sf;
    CHECK(statfs("/proc", &sf) == 0);
    printf("proc magic %d\n", sf.f_type == 0x9fa0);
    CHECK(stat("/proc/self", &a) == 0);
    printf("self dir %d\n", S_ISDIR(a.st_mode));
    CHECK(lstat("/proc/self", &a) == 0);
    printf("self link %d\n", S_ISLNK(a.st_mode));
    errno = 0;
    int r = open("/proc/self/nope", O_RDONLY);
    printf("missing %d errno %d\n", r, errno);

    // maps: our own code and the stack are named.
    n = slurp("/proc/self/maps", buf, sizeof buf);
    printf("maps exe %d stack %d\n", strstr(buf, real) != NULL, strstr(buf, "[stack]") != NULL);
    printf("failures %d\n", failures);
    return failures != 0;
}
