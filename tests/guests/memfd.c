/* memfd_create(2) and file sealing (fcntl F_ADD_SEALS/F_GET_SEALS): the file, its name in
 * /proc/self/fd and /proc/self/maps, MAP_SHARED mappings that see each other, write(2) and a
 * forked child, and every seal with Linux's errno. Prints what it sees. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif

/* Prints `label: value` or `label: ERRNAME` for a call's result (one line per call: the
 * calls must run in order). */
static void say(const char *label, long r) {
    if (r < 0)
        printf("%s: %s\n", label, strerrorname_np(errno));
    else
        printf("%s: %ld\n", label, r);
}

/* The same for mmap. */
static void *say_map(const char *label, void *p) {
    printf("%s: %s\n", label, p == MAP_FAILED ? strerrorname_np(errno) : "mapped");
    return p;
}

#define CHECK(c)                                                                  \
    do {                                                                          \
        if (!(c)) {                                                               \
            printf("FAIL %s:%d: %s (errno %d)\n", __FILE__, __LINE__, #c, errno); \
            exit(1);                                                              \
        }                                                                         \
    } while (0)

static int mfd(const char *name, unsigned flags) {
    return syscall(SYS_memfd_create, name, flags);
}

static long seals(int fd) { return fcntl(fd, F_GET_SEALS); }
static long add(int fd, long s) { return fcntl(fd, F_ADD_SEALS, s); }

static void creation(void) {
    int fd = mfd("test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    CHECK(fd >= 0);
    say("cloexec", fcntl(fd, F_GETFD));
    char link[512] = {0}, path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    CHECK(readlink(path, link, sizeof link - 1) > 0);
    printf("link: %s\n", link);
    struct stat st;
    CHECK(fstat(fd, &st) == 0);
    printf("regular %d, mode %o, nlink %ld, size %ld\n", S_ISREG(st.st_mode),
           st.st_mode & 07777, (long)st.st_nlink, (long)st.st_size);
    say("seals", seals(fd));
    close(fd);

    fd = mfd("sealed", 0);
    say("without MFD_ALLOW_SEALING: seals", seals(fd));
    say("without MFD_ALLOW_SEALING: add", add(fd, F_SEAL_WRITE));
    say("no cloexec", fcntl(fd, F_GETFD));
    close(fd);

    fd = mfd("noexec", MFD_NOEXEC_SEAL);
    CHECK(fd >= 0 && fstat(fd, &st) == 0);
    printf("MFD_NOEXEC_SEAL: mode %o\n", st.st_mode & 07777);
    say("MFD_NOEXEC_SEAL: seals", seals(fd));
    close(fd);
    fd = mfd("exec", MFD_EXEC | MFD_ALLOW_SEALING);
    CHECK(fd >= 0 && fstat(fd, &st) == 0);
    printf("MFD_EXEC: mode %o\n", st.st_mode & 07777);
    say("MFD_EXEC: seals", seals(fd));
    say("F_SEAL_EXEC on an executable memfd", add(fd, F_SEAL_EXEC));
    say("seals then", seals(fd));
    close(fd);

    say("unknown flag", mfd("x", 0x100));
    say("MFD_EXEC|MFD_NOEXEC_SEAL", mfd("x", MFD_EXEC | MFD_NOEXEC_SEAL));
    char name[300];
    memset(name, 'n', sizeof name);
    name[250] = 0;
    say("250-byte name", mfd(name, 0));
    name[249] = 0;
    fd = mfd(name, 0);
    CHECK(fd >= 0);
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    long n = readlink(path, link, sizeof link - 1);
    printf("249-byte name's link: %ld bytes, starts with /memfd:nnn %d\n", n,
           !strncmp(link, "/memfd:nnn", 10));
    close(fd);
    say("NULL name", mfd(NULL, 0));
    fd = mfd("", 0);
    CHECK(fd >= 0);
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    n = readlink(path, link, sizeof link - 1);
    link[n > 0 ? n : 0] = 0;
    printf("empty name: %s\n", link);
    close(fd);
}

/* Two MAP_SHARED mappings, write(2), pread(2) and a forked child all see the same bytes; a
 * private mapping keeps its own copy. */
static void sharing(void) {
    int fd = mfd("shared", MFD_ALLOW_SEALING);
    CHECK(fd >= 0);
    CHECK(write(fd, "hello world", 11) == 11);
    CHECK(ftruncate(fd, 8192) == 0);
    char *a = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    char *b = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    char *priv = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    CHECK(a != MAP_FAILED && b != MAP_FAILED && priv != MAP_FAILED);
    printf("mapping sees write(2): %.11s\n", b);
    memcpy(a + 4096, "through a", 9);
    char buf[16] = {0};
    CHECK(pread(fd, buf, 9, 4096) == 9);
    printf("b sees a: %.9s, pread sees a: %s\n", b + 4096, buf);
    CHECK(pwrite(fd, "PWRITE", 6, 0) == 6);
    printf("a sees pwrite: %.11s\n", a);
    priv[0] = 'p';
    printf("private write stays private: %c %c\n", priv[0], a[0]);
    pid_t c = fork();
    if (c == 0) {
        memcpy(b + 100, "child", 5);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    CHECK(pread(fd, buf, 5, 100) == 5);
    printf("child's write: %.5s %.5s\n", a + 100, buf);
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[512];
    int named = 0;
    while (maps && fgets(line, sizeof line, maps))
        named += strstr(line, "/memfd:shared (deleted)") != NULL;
    fclose(maps);
    printf("maps lines naming it: %d\n", named);

    /* Writable shared mappings (even PROT_READ ones of a writable fd) forbid F_SEAL_WRITE. */
    say("F_SEAL_WRITE while mapped", add(fd, F_SEAL_WRITE));
    munmap(a, 8192);
    munmap(b, 8192);
    char *ro = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    say("F_SEAL_WRITE with a PROT_READ shared mapping", add(fd, F_SEAL_WRITE));
    munmap(ro, 4096);
    say("F_SEAL_WRITE with only a private mapping", add(fd, F_SEAL_WRITE));
    say("seals", seals(fd));
    munmap(priv, 8192);
    close(fd);
}

static void write_seal(void) {
    int fd = mfd("w", MFD_ALLOW_SEALING);
    CHECK(fd >= 0 && write(fd, "0123456789", 10) == 10);
    CHECK(add(fd, F_SEAL_WRITE) == 0);
    say("write", write(fd, "x", 1));
    say("pwrite", pwrite(fd, "x", 1, 0));
    say("empty write", write(fd, "", 0));
    say_map("mmap shared writable", mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    char *r = say_map("mmap shared read-only", mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0));
    CHECK(r != MAP_FAILED);
    printf("it reads %.10s\n", r);
    say("mprotect writable", mprotect(r, 4096, PROT_READ | PROT_WRITE));
    char *pr = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    CHECK(pr != MAP_FAILED);
    pr[0] = 'X';
    printf("private writable: %c, file still %c\n", pr[0], r[0]);
    say("ftruncate larger", ftruncate(fd, 100));
    say("ftruncate smaller", ftruncate(fd, 10));
    say("fallocate", fallocate(fd, 0, 0, 50));
    say("punch hole", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 5));
    say("seals", seals(fd));
    close(fd);
}

static void size_seals(void) {
    int fd = mfd("size", MFD_ALLOW_SEALING);
    CHECK(fd >= 0 && ftruncate(fd, 4096 + 10) == 0);
    CHECK(add(fd, F_SEAL_SHRINK) == 0);
    say("SHRINK: smaller", ftruncate(fd, 10));
    say("SHRINK: same", ftruncate(fd, 4106));
    say("SHRINK: larger", ftruncate(fd, 8192));
    CHECK(add(fd, F_SEAL_GROW) == 0);
    say("GROW: larger", ftruncate(fd, 9000));
    say("GROW: same", ftruncate(fd, 8192));
    say("GROW: write inside", pwrite(fd, "abc", 3, 0));
    say("GROW: write at the end", pwrite(fd, "abc", 3, 8192));
    say("GROW: write past the end", pwrite(fd, "abc", 3, 9000));
    static char big[12288];
    say("GROW: write across the end", pwrite(fd, big, sizeof big, 0));
    say("GROW: write across the end, mid-page", pwrite(fd, big, 8000, 200));
    say("GROW: write across the end in its last page", pwrite(fd, big, 100, 8150));
    say("GROW: fallocate inside", fallocate(fd, 0, 0, 100));
    say("GROW: fallocate past", fallocate(fd, 0, 8000, 1000));
    say("GROW: fallocate past, KEEP_SIZE", fallocate(fd, FALLOC_FL_KEEP_SIZE, 8000, 1000));
    CHECK(lseek(fd, 0, SEEK_END) == 8192);
    say("GROW: write at the offset (the end)", write(fd, "z", 1));
    struct stat st;
    CHECK(fstat(fd, &st) == 0);
    printf("size %ld\n", (long)st.st_size);
    say("seals", seals(fd));
    close(fd);
}

static void future_write(void) {
    int fd = mfd("future", MFD_ALLOW_SEALING);
    CHECK(fd >= 0 && ftruncate(fd, 4096) == 0);
    char *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(w != MAP_FAILED);
    say("FUTURE_WRITE with a writable mapping", add(fd, F_SEAL_FUTURE_WRITE));
    memcpy(w, "old mapping", 11);
    char buf[12] = {0};
    CHECK(pread(fd, buf, 11, 0) == 11);
    printf("old mapping still writes: %s\n", buf);
    say("write", write(fd, "x", 1));
    say_map("new shared writable mapping",
            mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    char *r = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    CHECK(r != MAP_FAILED);
    printf("new read-only one: %.11s\n", r);
    say("mprotect", mprotect(r, 4096, PROT_WRITE));
    say("ftruncate", ftruncate(fd, 100));
    say("F_SEAL_WRITE then", add(fd, F_SEAL_WRITE));
    munmap(w, 4096);
    say("F_SEAL_WRITE after munmap", add(fd, F_SEAL_WRITE));
    say("seals", seals(fd));
    close(fd);
}

static void seal_seal(void) {
    int fd = mfd("ss", MFD_ALLOW_SEALING);
    CHECK(fd >= 0);
    say("unknown seal bit", add(fd, 0x40));
    say("all bits", add(fd, -1));
    say("no seal", add(fd, 0));
    say("SEAL_SEAL", add(fd, F_SEAL_SEAL));
    say("then GROW", add(fd, F_SEAL_GROW));
    say("then none", add(fd, 0));
    say("seals", seals(fd));
    close(fd);
    /* Only a description open for writing adds seals (EPERM comes before EINVAL). (A
     * read-only fd of a memfd, opened through /proc/self/fd, isn't tried: snare reopens an
     * unlinked file by sharing its description.) */
    int p[2];
    CHECK(pipe(p) == 0);
    say("pipe: get", seals(p[0]));
    say("pipe: add to the write end", add(p[1], F_SEAL_GROW));
    say("pipe: add to the read end", add(p[0], F_SEAL_GROW));
    close(p[0]);
    close(p[1]);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    creation();
    sharing();
    write_seal();
    size_seals();
    future_write();
    seal_seal();
    return 0;
}
