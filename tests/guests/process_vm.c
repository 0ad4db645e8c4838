// process_vm_readv/writev and pidfd_getfd between processes of the sandbox (issue 17): a
// child's memory read and written by its parent through scattered iovecs, a transfer cut
// short by an unmapped page, the errors (flags, sizes, pids, addresses, permission), and a
// copy of the child's pipe end through its pidfd.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static char shared_text[64] = "the child's own words";

#define SHOW(label, call)                                                                 \
    do {                                                                                  \
        errno = 0;                                                                        \
        long r_ = (call);                                                                 \
        int e_ = errno;                                                                   \
        printf("%s: %ld %s\n", label, r_, r_ < 0 ? strerror(e_) : "");                    \
    } while (0)

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int go[2], done[2], data[2];
    if (pipe(go) || pipe(done) || pipe(data))
        return 1;
    // A page followed by an unmapped one, in the child (same address after fork).
    char *edge = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(edge + 4096, 4096);
    memset(edge, 'e', 4096);
    pid_t child = fork();
    if (child == 0) {
        strcpy(shared_text, "changed in the child");
        char c;
        write(done[1], "r", 1);
        read(go[0], &c, 1);  // the parent wrote into us meanwhile
        printf("child sees: %s\n", shared_text);
        write(data[1], "through a copied fd\n", 20);
        write(done[1], "w", 1);
        read(go[0], &c, 1);
        _exit(0);
    }
    char c;
    read(done[0], &c, 1);

    // Read: scattered on both sides.
    char a[8] = {0}, b[32] = {0};
    struct iovec local[2] = {{a, 7}, {b, 20}};
    struct iovec remote[2] = {{shared_text, 10}, {shared_text + 10, 10}};
    SHOW("readv", syscall(SYS_process_vm_readv, child, local, 2, remote, 2, 0));
    printf("read: [%s][%s]\n", a, b);

    // Cut short: the remote element runs into the unmapped page.
    static char big[8192];
    struct iovec lbig = {big, sizeof big};
    struct iovec rcut = {edge + 4000, 200};
    SHOW("readv across the hole", syscall(SYS_process_vm_readv, child, &lbig, 1, &rcut, 1, 0));
    struct iovec rhole = {edge + 4096, 10};
    SHOW("readv of the hole", syscall(SYS_process_vm_readv, child, &lbig, 1, &rhole, 1, 0));

    // Write into the child.
    char words[] = "written by the parent";
    struct iovec lw = {words, sizeof words};
    struct iovec rw = {shared_text, sizeof words};
    SHOW("writev", syscall(SYS_process_vm_writev, child, &lw, 1, &rw, 1, 0));

    // Errors.
    SHOW("flags", syscall(SYS_process_vm_readv, child, local, 2, remote, 2, 1));
    SHOW("too many iovecs", syscall(SYS_process_vm_readv, child, local, 2000, remote, 2, 0));
    SHOW("no such pid", syscall(SYS_process_vm_readv, 999999, local, 2, remote, 2, 0));
    SHOW("bad iovec array", syscall(SYS_process_vm_readv, child, (void *)8, 2, remote, 2, 0));
    SHOW("nothing asked", syscall(SYS_process_vm_readv, child, local, 0, remote, 0, 0));
    // Huge local lengths (their sum past 2^64): only what the remote side has moves.
    struct iovec huge[2] = {{big, (size_t)SSIZE_MAX}, {big, (size_t)SSIZE_MAX}};
    struct iovec ten = {shared_text, 10};
    SHOW("huge local lengths", syscall(SYS_process_vm_readv, child, huge, 2, &ten, 1, 0));

    write(go[1], "g", 1);
    read(done[0], &c, 1);

    // pidfd_getfd: the child's write end of `data` (our own is closed first).
    close(data[1]);
    int pidfd = (int)syscall(SYS_pidfd_open, child, 0);
    long fd = syscall(SYS_pidfd_getfd, pidfd, data[1], 0);
    printf("pidfd_getfd: %s, cloexec %d\n", fd >= 0 ? "ok" : strerror(errno),
           fd >= 0 ? (fcntl((int)fd, F_GETFD) & FD_CLOEXEC) != 0 : -1);
    if (fd >= 0) {
        write((int)fd, "and written through it\n", 23);
        close((int)fd);
    }
    SHOW("getfd flags", syscall(SYS_pidfd_getfd, pidfd, 1, 1));
    SHOW("getfd not open", syscall(SYS_pidfd_getfd, pidfd, 900, 0));
    SHOW("getfd of no pidfd", syscall(SYS_pidfd_getfd, 1, 1, 0));
    write(go[1], "g", 1);
    waitpid(child, NULL, 0);
    char out[128] = {0};
    int n = (int)read(data[0], out, sizeof out - 1);
    printf("data: %.*s", n > 0 ? n : 0, out);
    SHOW("getfd once gone", syscall(SYS_pidfd_getfd, pidfd, 1, 0));

    // Permission: another user can't read root's memory.
    pid_t other = fork();
    if (other == 0) {
        if (setgid(65534) || setuid(65534))
            _exit(3);
        SHOW("unprivileged readv of root",
             syscall(SYS_process_vm_readv, getppid(), local, 2, remote, 2, 0));
        _exit(0);
    }
    waitpid(other, NULL, 0);
    return 0;
}
