// A container's root taking what volumes did not: a unix socket bound at argv[1] (a node
// left there, as natively), a connection through it, and a user xattr set on argv[2];
// with argv[3], a child that becomes uid and gid 1000 makes the file argv[3] and the
// directory argv[3].d (their owner must be the child's), and an O_TMPFILE file in /tmp is
// linked in at argv[3].tmp. Prints what it did; exits 0 only if all of it worked.
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: rootfs_sock SOCKET FILE [NEW]\n");
        return 2;
    }
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(argv[1]) >= sizeof a.sun_path) return 2;
    strcpy(a.sun_path, argv[1]);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 1)) {
        perror("bind");
        return 1;
    }
    struct stat st;
    if (stat(argv[1], &st) || !S_ISSOCK(st.st_mode)) {
        fprintf(stderr, "no socket node\n");
        return 1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        int c = socket(AF_UNIX, SOCK_STREAM, 0);
        if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof a) || write(c, "ping", 4) != 4)
            _exit(1);
        _exit(0);
    }
    int c = accept(s, NULL, NULL);
    char buf[8] = {0};
    if (c < 0 || read(c, buf, 4) != 4) {
        perror("accept");
        return 1;
    }
    int status;
    waitpid(pid, &status, 0);
    printf("got %s, child %d\n", buf, status);
    if (setxattr(argv[2], "user.snare", "yes", 3, 0)) {
        perror("setxattr");
        return 1;
    }
    char v[8] = {0};
    ssize_t n = getxattr(argv[2], "user.snare", v, sizeof v);
    printf("xattr %zd %s\n", n, v);
    if (argc == 4) {
        pid_t as = fork();
        if (as == 0) {
            char dir[4096];
            snprintf(dir, sizeof dir, "%s.d", argv[3]);
            if (setgroups(0, NULL) || setgid(1000) || setuid(1000)) _exit(1);
            FILE *f = fopen(argv[3], "w");
            _exit(f && fputs("by 1000\n", f) >= 0 && !fclose(f) && !mkdir(dir, 0755) ? 0 : 1);
        }
        int st;
        waitpid(as, &st, 0);
        printf("as 1000: %d\n", st);
        if (st) return 1;
        int t = open("/tmp", O_TMPFILE | O_RDWR, 0640);
        char name[4096], fdl[64];
        snprintf(name, sizeof name, "%s.tmp", argv[3]);
        snprintf(fdl, sizeof fdl, "/proc/self/fd/%d", t);
        if (t < 0 || write(t, "tmp\n", 4) != 4 ||
            linkat(AT_FDCWD, fdl, AT_FDCWD, name, AT_SYMLINK_FOLLOW)) {
            perror("O_TMPFILE");
            return 1;
        }
        printf("tmpfile linked\n");
    }
    return status == 0 && n == 3 ? 0 : 1;
}
