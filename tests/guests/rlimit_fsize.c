/* RLIMIT_FSIZE: writes, truncates and fallocate of a regular file under a 4096-byte soft
 * limit. A write crossing it is cut short, one starting past it fails with EFBIG and raises
 * SIGXFSZ (counted by a handler; by default it kills), as do a truncate or fallocate that
 * would grow the file past it. Pipes are not files: no limit. argv[1]: the file to use.
 *
 * Prints what must match natively. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t xfsz;
static void on_xfsz(int sig) {
    (void)sig;
    xfsz++;
}

static void show(const char *what, long r) {
    if (r < 0)
        printf("%s: -1 %s (SIGXFSZ %d)\n", what, errno == EFBIG ? "EFBIG" : strerror(errno), (int)xfsz);
    else
        printf("%s: %ld (SIGXFSZ %d)\n", what, r, (int)xfsz);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *path = argc > 1 ? argv[1] : "/tmp/rlimit_fsize.bin";
    static char buf[8192];
    memset(buf, 'x', sizeof buf);
    signal(SIGXFSZ, on_xfsz);
    struct rlimit rl = {4096, RLIM_INFINITY};
    if (setrlimit(RLIMIT_FSIZE, &rl)) return 1;
    int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0644);
    if (fd < 0) return 1;
    show("write 3000", write(fd, buf, 3000));
    show("write 3000 more", write(fd, buf, 3000));
    show("write 10 at the limit", write(fd, buf, 10));
    show("write 0 at the limit", write(fd, buf, 0));
    show("pwrite 10 at 5000", pwrite(fd, buf, 10, 5000));
    show("pwrite 100 at 4090", pwrite(fd, buf, 100, 4090));
    struct iovec iov[2] = {{buf, 2000}, {buf, 2000}};
    show("pwritev 4000 at 3000", pwritev(fd, iov, 2, 3000));
    show("ftruncate 8192", ftruncate(fd, 8192));
    show("ftruncate 4096", ftruncate(fd, 4096));
    show("ftruncate 100", ftruncate(fd, 100));
    show("truncate 5000", truncate(path, 5000));
    show("fallocate 0..5000", fallocate(fd, 0, 0, 5000));
    show("fallocate 0..3000", fallocate(fd, 0, 0, 3000));
    int afd = open(path, O_WRONLY | O_APPEND);
    show("append 2000 at 3000", write(afd, buf, 2000));
    close(afd);
    struct stat st;
    fstat(fd, &st);
    printf("size %ld\n", (long)st.st_size);
    /* sendfile and copy_file_range into the file are writes too. */
    int src = open("/proc/self/exe", O_RDONLY);
    off_t in_off = 0;
    show("sendfile 100 at 4096", sendfile(fd, src, &in_off, 100));
    loff_t out_off = 4000, in2 = 0;
    show("copy_file_range 500 at 4000", copy_file_range(src, &in2, fd, &out_off, 500, 0));
    close(src);
    int p[2];
    if (pipe(p)) return 1;
    show("pipe write 8192", write(p[1], buf, 8192));
    /* The default action: the writer dies of SIGXFSZ. */
    pid_t c = fork();
    if (c == 0) {
        signal(SIGXFSZ, SIG_DFL);
        lseek(fd, 0, SEEK_END);
        (void)write(fd, buf, 10);
        _exit(0);
    }
    int status;
    waitpid(c, &status, 0);
    printf("child: %s %d\n", WIFSIGNALED(status) ? "signal" : "exit",
           WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    unlink(path);
    return 0;
}
