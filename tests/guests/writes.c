// Differential test: creating and changing files in /tmp (a tmpfs inside snare).
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <unistd.h>

static int failures;
#define CHECK(c) do { if (!(c)) { printf("FAIL %s:%d %s (errno %d)\n", __FILE__, __LINE__, #c, errno); failures++; } } while (0)
static char dir[64];
static char *P(const char *name) { static char b[4][256]; static int i; i = (i + 1) % 4; snprintf(b[i], 256, "%s/%s", dir, name); return b[i]; }
static int cmp(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }

int main(void) {
    strcpy(dir, "/tmp/snare-w-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    umask(022);
    int fd = open(P("f"), O_RDWR | O_CREAT | O_EXCL, 0666);
    CHECK(fd >= 0);
    CHECK(open(P("f"), O_RDWR | O_CREAT | O_EXCL, 0666) == -1 && errno == EEXIST);
    CHECK(write(fd, "hello world", 11) == 11);
    CHECK(pwrite(fd, "W", 1, 6) == 1);
    CHECK(lseek(fd, 20, SEEK_SET) == 20 && write(fd, "!", 1) == 1);
    struct stat st;
    CHECK(fstat(fd, &st) == 0);
    printf("size %lld mode %o nlink %ld\n", (long long)st.st_size, st.st_mode & 07777, (long)st.st_nlink);
    char buf[64] = {0};
    CHECK(pread(fd, buf, sizeof buf, 0) == 21);
    printf("content '%.11s' hole %d %d\n", buf, buf[11], buf[19]);
    CHECK(ftruncate(fd, 5) == 0 && fstat(fd, &st) == 0 && st.st_size == 5);
    char *m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
    CHECK(m != MAP_FAILED && memcmp(m, "hello", 5) == 0 && m[5] == 0);
    close(fd);
    fd = open(P("f"), O_WRONLY | O_APPEND);
    CHECK(fd >= 0 && lseek(fd, 0, SEEK_SET) == 0 && write(fd, "XY", 2) == 2);
    CHECK(read(fd, buf, 1) == -1 && errno == EBADF);
    close(fd);
    fd = open(P("f"), O_RDONLY);
    memset(buf, 0, sizeof buf);
    CHECK(read(fd, buf, sizeof buf) == 7);
    printf("appended '%s'\n", buf);
    CHECK(write(fd, "x", 1) == -1 && errno == EBADF);

    // links, renames, symlinks
    CHECK(link(P("f"), P("g")) == 0 && stat(P("f"), &st) == 0 && st.st_nlink == 2);
    CHECK(rename(P("g"), P("h")) == 0 && access(P("g"), F_OK) == -1 && errno == ENOENT);
    CHECK(symlink("f", P("s")) == 0);
    char t[64] = {0};
    CHECK(readlink(P("s"), t, sizeof t) == 1 && t[0] == 'f');
    CHECK(lstat(P("s"), &st) == 0 && S_ISLNK(st.st_mode));
    CHECK(stat(P("s"), &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 7);
    CHECK(open(P("s"), O_RDONLY | O_NOFOLLOW) == -1 && errno == ELOOP);
    CHECK(unlink(P("h")) == 0 && stat(P("f"), &st) == 0 && st.st_nlink == 1);

    // directories
    CHECK(mkdir(P("d"), 0755) == 0);
    CHECK(mkdir(P("d"), 0755) == -1 && errno == EEXIST);
    CHECK(mkdir(P("nope/d"), 0755) == -1 && errno == ENOENT);
    int fd2 = open(P("d/x"), O_CREAT | O_WRONLY, 0600);
    CHECK(fd2 >= 0);
    CHECK(rmdir(P("d")) == -1 && errno == ENOTEMPTY);
    CHECK(unlink(P("d")) == -1 && (errno == EISDIR || errno == EPERM));
    CHECK(rename(P("d"), P("d/sub")) == -1 && errno == EINVAL);
    CHECK(open(P("d"), O_WRONLY) == -1 && errno == EISDIR);
    // unlink while open
    CHECK(unlink(P("d/x")) == 0 && write(fd2, "still", 5) == 5);
    close(fd2);
    CHECK(rmdir(P("d")) == 0);
    CHECK(mkdir(P("e"), 0700) == 0 && stat(P("e"), &st) == 0 && (st.st_mode & 0777) == 0700);
    CHECK(chmod(P("f"), 0640) == 0 && stat(P("f"), &st) == 0 && (st.st_mode & 0777) == 0640);
    struct timespec ts[2] = {{1000, 0}, {2000, 500}};
    CHECK(utimensat(AT_FDCWD, P("f"), ts, 0) == 0 && stat(P("f"), &st) == 0);
    CHECK(st.st_atime == 1000 && st.st_mtime == 2000 && st.st_mtim.tv_nsec == 500);
    CHECK(truncate(P("f"), 3) == 0 && stat(P("f"), &st) == 0 && st.st_size == 3);

    // sendfile and copy_file_range between files
    int src = open(P("f"), O_RDONLY), dst = open(P("c"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(src >= 0 && dst >= 0);
    off_t so = 1;
    CHECK(sendfile(dst, src, &so, 100) == 2 && so == 3);
    loff_t in = 0, out = 10;
    CHECK(copy_file_range(src, &in, dst, &out, 3, 0) == 3 && in == 3 && out == 13);
    CHECK(fstat(dst, &st) == 0 && st.st_size == 13);
    memset(buf, 0, sizeof buf);
    CHECK(pread(dst, buf, 2, 0) == 2 && buf[0] == 'e' && buf[1] == 'l');
    close(src);
    close(dst);
    CHECK(unlink(P("c")) == 0);

    // listing
    DIR *d = opendir(dir);
    char *names[32];
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) && n < 32) names[n++] = strdup(e->d_name);
    qsort(names, n, sizeof *names, cmp);
    printf("dir:");
    for (int i = 0; i < n; i++) printf(" %s", names[i]);
    printf("\n");
    closedir(d);

    // cleanup (the native run writes to the real /tmp)
    CHECK(unlink(P("s")) == 0 && unlink(P("f")) == 0 && rmdir(P("e")) == 0 && rmdir(dir) == 0);
    printf("writes: %d failures\n", failures);
    return failures != 0;
}
