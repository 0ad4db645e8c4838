// Advisory locks between processes: POSIX record locks (F_SETLK, F_SETLKW, F_GETLK), OFD
// locks and flock(2). argv[1] is the file to lock (under /tmp: the guest's own tmpfs inside
// the sandbox). Only deterministic lines are printed: children print while the parent waits
// for them, and pids are printed as who they are, not as numbers.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *path;
static pid_t parent;

static void die(const char *what) {
    printf("FAIL %s: %s\n", what, strerror(errno));
    exit(1);
}

static int open_file(int flags) {
    int fd = open(path, flags);
    if (fd < 0)
        die("open");
    return fd;
}

static const char *ename(int e) {
    switch (e) {
    case 0: return "ok";
    case EAGAIN: return "EAGAIN";
    case EACCES: return "EACCES";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case EDEADLK: return "EDEADLK";
    case EINTR: return "EINTR";
    case EOVERFLOW: return "EOVERFLOW";
    default: return strerror(e);
    }
}

// fcntl lock command `cmd` of `type` on [start, start+len) from SEEK_SET; 0 or the errno.
static int lk(int fd, int cmd, short type, off_t start, off_t len) {
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
    return fcntl(fd, cmd, &fl) == 0 ? 0 : errno;
}

static const char *who(pid_t pid) {
    if (pid == parent)
        return "parent";
    if (pid == -1)
        return "-1 (OFD)";
    if (pid == getpid())
        return "self";
    return "other";
}

// Prints what F_GETLK (or F_OFD_GETLK) says about a `type` lock on [start, start+len).
static void getlk(const char *label, int fd, int cmd, short type, off_t start, off_t len) {
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
    if (fcntl(fd, cmd, &fl) != 0) {
        printf("%s: getlk %s\n", label, ename(errno));
        return;
    }
    if (fl.l_type == F_UNLCK) {
        printf("%s: unlocked\n", label);
        return;
    }
    printf("%s: %s start=%lld len=%lld whence=%d pid=%s\n", label,
           fl.l_type == F_WRLCK ? "WRLCK" : "RDLCK", (long long)fl.l_start,
           (long long)fl.l_len, fl.l_whence, who(fl.l_pid));
}

static void put(int fd) {
    if (write(fd, "x", 1) != 1)
        die("pipe write");
}

static char get(int fd) {
    char c;
    if (read(fd, &c, 1) != 1)
        die("pipe read");
    return c;
}

static void reap(pid_t pid) {
    int st;
    if (waitpid(pid, &st, 0) != pid)
        die("waitpid");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        printf("FAIL child status %#x\n", st);
        exit(1);
    }
}

// Runs `fn` in a child with its own open of the file and waits for it.
static void in_child(void (*fn)(int fd)) {
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        int fd = open_file(O_RDWR);
        fn(fd);
        _exit(0);
    }
    reap(pid);
}

static void contend_child(int fd) {
    printf("child setlk W [50,60): %s\n", ename(lk(fd, F_SETLK, F_WRLCK, 50, 10)));
    printf("child setlk R [50,60): %s\n", ename(lk(fd, F_SETLK, F_RDLCK, 50, 10)));
    printf("child setlk R [100,200): %s\n", ename(lk(fd, F_SETLK, F_RDLCK, 100, 100)));
    getlk("child getlk W whole file", fd, F_GETLK, F_WRLCK, 0, 0);
    getlk("child getlk W [100,101)", fd, F_GETLK, F_WRLCK, 100, 1);
}

static void split_child(int fd) {
    getlk("child getlk W whole file", fd, F_GETLK, F_WRLCK, 0, 0);
    getlk("child getlk W [41,EOF)", fd, F_GETLK, F_WRLCK, 41, 0);
    printf("child setlk W [45,55): %s\n", ename(lk(fd, F_SETLK, F_WRLCK, 45, 10)));
}

static void convert_child(int fd) {
    getlk("child getlk R whole file", fd, F_GETLK, F_RDLCK, 0, 0);
    getlk("child getlk W whole file", fd, F_GETLK, F_WRLCK, 0, 0);
    printf("child setlk R [0,10): %s\n", ename(lk(fd, F_SETLK, F_RDLCK, 0, 10)));
}

static void merged_child(int fd) {
    getlk("child getlk R [20,21)", fd, F_GETLK, F_RDLCK, 20, 1);
}

static void check_child(int fd) {
    getlk("child getlk W whole file", fd, F_GETLK, F_WRLCK, 0, 0);
}

static void ofd_child(int fd) {
    getlk("child getlk W whole file", fd, F_GETLK, F_WRLCK, 0, 0);
    getlk("child ofd getlk W whole file", fd, F_OFD_GETLK, F_WRLCK, 0, 0);
}

static void posix_ranges(void) {
    int fd = open_file(O_RDWR);
    printf("parent setlk W [0,100): %s\n", ename(lk(fd, F_SETLK, F_WRLCK, 0, 100)));
    getlk("parent getlk own lock", fd, F_GETLK, F_WRLCK, 0, 0);
    in_child(contend_child);

    printf("parent unlock [40,60): %s\n", ename(lk(fd, F_SETLK, F_UNLCK, 40, 20)));
    in_child(split_child);

    printf("parent setlk R [0,10): %s\n", ename(lk(fd, F_SETLK, F_RDLCK, 0, 10)));
    in_child(convert_child);

    printf("parent setlk W [40,60): %s\n", ename(lk(fd, F_SETLK, F_WRLCK, 40, 20)));
    in_child(merged_child);

    // Whence and signed lengths.
    if (lseek(fd, 30, SEEK_SET) != 30)
        die("lseek");
    printf("parent unlock all: %s\n", ename(lk(fd, F_SETLK, F_UNLCK, 0, 0)));
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_CUR, .l_start = 5, .l_len = 5};
    printf("parent setlk W SEEK_CUR+5 len 5: %s\n", fcntl(fd, F_SETLK, &fl) ? ename(errno) : "ok");
    fl = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_END, .l_start = -10, .l_len = 10};
    printf("parent setlk W SEEK_END-10 len 10: %s\n", fcntl(fd, F_SETLK, &fl) ? ename(errno) : "ok");
    fl = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 20, .l_len = -10};
    printf("parent setlk W 20 len -10: %s\n", fcntl(fd, F_SETLK, &fl) ? ename(errno) : "ok");
    in_child(check_child);
    pid_t pid = fork();
    if (pid == 0) {
        int f2 = open_file(O_RDWR);
        getlk("child getlk W [36,EOF)", f2, F_GETLK, F_WRLCK, 36, 0);
        getlk("child getlk W [41,EOF)", f2, F_GETLK, F_WRLCK, 41, 0);
        _exit(0);
    }
    reap(pid);

    // Bad arguments.
    fl = (struct flock){.l_type = F_WRLCK, .l_whence = 7};
    printf("bad whence: %s\n", fcntl(fd, F_SETLK, &fl) ? ename(errno) : "ok");
    printf("bad type: %s\n", ename(lk(fd, F_SETLK, 9, 0, 1)));
    printf("negative start: %s\n", ename(lk(fd, F_SETLK, F_WRLCK, -1, 1)));
    printf("getlk of F_UNLCK: %s\n", ename(lk(fd, F_GETLK, F_UNLCK, 0, 1)));
    fl = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_END, .l_start = 0x7fffffffffffffffLL};
    printf("start past the largest offset: %s\n", fcntl(fd, F_SETLK, &fl) ? ename(errno) : "ok");
    int ro = open_file(O_RDONLY), wo = open_file(O_WRONLY);
    printf("write lock on O_RDONLY: %s\n", ename(lk(ro, F_SETLK, F_WRLCK, 0, 1)));
    printf("read lock on O_WRONLY: %s\n", ename(lk(wo, F_SETLK, F_RDLCK, 0, 1)));
    close(ro);
    close(wo);
    close(fd);
}

static void blocking(void) {
    int fd = open_file(O_RDWR);
    int ready[2], marker[2];
    if (pipe(ready) || pipe2(marker, O_NONBLOCK))
        die("pipe");
    printf("parent setlk W [0,100): %s\n", ename(lk(fd, F_SETLK, F_WRLCK, 0, 100)));
    pid_t pid = fork();
    if (pid == 0) {
        int f = open_file(O_RDWR);
        put(ready[1]);
        int e = lk(f, F_SETLKW, F_WRLCK, 10, 1);
        char c;
        int released = read(marker[0], &c, 1) == 1;
        printf("child setlkw W [10,11): %s, after the release: %s\n", ename(e),
               released ? "yes" : "no");
        _exit(0);
    }
    get(ready[0]);
    usleep(100 * 1000); // Likely asleep in F_SETLKW by now (the output doesn't depend on it).
    put(marker[1]);
    int e = lk(fd, F_SETLK, F_UNLCK, 0, 0);
    reap(pid); // The child prints meanwhile.
    printf("parent unlock: %s\n", ename(e));
    close(fd);
    close(ready[0]);
    close(ready[1]);
    close(marker[0]);
    close(marker[1]);
}

static void release_on_close(void) {
    int fd = open_file(O_RDWR);
    printf("parent setlk W [0,10): %s\n", ename(lk(fd, F_SETLK, F_WRLCK, 0, 10)));
    int other = open_file(O_RDONLY);
    in_child(check_child);
    close(other);
    printf("parent closed another fd of the file\n");
    in_child(check_child);
    // A dup'ed fd is another fd too.
    printf("parent setlk W [0,10): %s\n", ename(lk(fd, F_SETLK, F_WRLCK, 0, 10)));
    int d = dup(fd);
    close(d);
    printf("parent closed a dup\n");
    in_child(check_child);
    close(fd);
}

static void release_on_exit(void) {
    int ready[2], go[2];
    if (pipe(ready) || pipe(go))
        die("pipe");
    pid_t pid = fork();
    if (pid == 0) {
        int f = open_file(O_RDWR);
        printf("child setlk W [0,10): %s\n", ename(lk(f, F_SETLK, F_WRLCK, 0, 10)));
        put(ready[1]);
        get(go[0]);
        _exit(0); // Exits holding the lock.
    }
    get(ready[0]);
    int fd = open_file(O_RDWR);
    getlk("parent getlk while the child lives", fd, F_GETLK, F_WRLCK, 0, 0);
    put(go[1]);
    reap(pid);
    getlk("parent getlk after it exited", fd, F_GETLK, F_WRLCK, 0, 0);
    close(fd);
    close(ready[0]);
    close(ready[1]);
    close(go[0]);
    close(go[1]);
}

// Two processes each hold a byte and wait for the other's: exactly one of them gets EDEADLK
// (whichever asks second), the other gets its lock once the first exits.
static void deadlock(void) {
    int ready[2], go[2], result[2];
    if (pipe(ready) || pipe(go) || pipe(result))
        die("pipe");
    pid_t kids[2];
    for (int i = 0; i < 2; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            int f = open_file(O_RDWR);
            if (lk(f, F_SETLK, F_WRLCK, i, 1) != 0)
                die("own byte");
            put(ready[1]);
            get(go[0]);
            int e = lk(f, F_SETLKW, F_WRLCK, 1 - i, 1);
            char r = e == EDEADLK ? 'D' : e == 0 ? 'G' : '?';
            if (write(result[1], &r, 1) != 1)
                die("result");
            _exit(0);
        }
    }
    get(ready[0]);
    get(ready[0]);
    put(go[1]);
    put(go[1]);
    int d = 0, g = 0, other = 0;
    for (int i = 0; i < 2; i++) {
        char r = get(result[0]);
        d += r == 'D';
        g += r == 'G';
        other += r != 'D' && r != 'G';
    }
    reap(kids[0]);
    reap(kids[1]);
    printf("deadlock: EDEADLK %d, granted %d, other %d\n", d, g, other);
    close(ready[0]);
    close(ready[1]);
    close(go[0]);
    close(go[1]);
    close(result[0]);
    close(result[1]);
}

static void ofd(void) {
    int fd = open_file(O_RDWR);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10, .l_pid = 1};
    printf("ofd setlk with l_pid 1: %s\n", fcntl(fd, F_OFD_SETLK, &fl) ? ename(errno) : "ok");
    fl.l_pid = 0;
    printf("ofd setlk W [0,10): %s\n", fcntl(fd, F_OFD_SETLK, &fl) ? ename(errno) : "ok");
    int other = open_file(O_RDWR);
    // The process's own POSIX lock conflicts with its OFD lock: different owners.
    printf("posix setlk W [5,6) by the same process: %s\n",
           ename(lk(other, F_SETLK, F_WRLCK, 5, 1)));
    getlk("parent getlk W whole file", other, F_GETLK, F_WRLCK, 0, 0);
    fl = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET};
    printf("ofd getlk from another description: %s\n",
           fcntl(other, F_OFD_GETLK, &fl) ? ename(errno) : "ok");
    printf("  -> %s start=%lld len=%lld pid=%s\n", fl.l_type == F_WRLCK ? "WRLCK" : "other",
           (long long)fl.l_start, (long long)fl.l_len, who(fl.l_pid));
    close(other);
    printf("parent closed another fd of the file\n");
    in_child(ofd_child);
    int d = dup(fd);
    close(fd);
    printf("parent closed the locking fd, a dup remains\n");
    in_child(ofd_child);
    close(d);
    printf("parent closed the dup\n");
    in_child(ofd_child);
}

static int fl_(int fd, int op) {
    return flock(fd, op) == 0 ? 0 : errno;
}

static void flock_probe(int fd) {
    printf("child flock EX|NB: %s\n", ename(fl_(fd, LOCK_EX | LOCK_NB)));
    printf("child flock SH|NB: %s\n", ename(fl_(fd, LOCK_SH | LOCK_NB)));
    // flock and POSIX locks never meet.
    printf("child posix setlk W whole file: %s\n", ename(lk(fd, F_SETLK, F_WRLCK, 0, 0)));
}

static void flocks(void) {
    int fd = open_file(O_RDWR);
    printf("flock bad op: %s\n", ename(fl_(fd, 0)));
    printf("parent flock SH: %s\n", ename(fl_(fd, LOCK_SH)));
    in_child(flock_probe);
    printf("parent flock EX (convert): %s\n", ename(fl_(fd, LOCK_EX)));
    printf("parent flock EX again: %s\n", ename(fl_(fd, LOCK_EX | LOCK_NB)));
    in_child(flock_probe);
    int d = dup(fd);
    close(fd);
    printf("parent closed the locking fd, a dup remains\n");
    in_child(flock_probe);
    close(d);
    printf("parent closed the dup\n");
    in_child(flock_probe);
    fd = open_file(O_RDWR);
    printf("parent flock EX: %s\n", ename(fl_(fd, LOCK_EX)));
    printf("parent flock UN: %s\n", ename(fl_(fd, LOCK_UN)));
    in_child(flock_probe);
    close(fd);
}

static volatile sig_atomic_t alarmed;

static void on_alarm(int s) {
    (void)s;
    alarmed = 1;
}

static void arm(int restart, int ms) {
    struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = restart ? SA_RESTART : 0};
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGALRM, &sa, NULL))
        die("sigaction");
    alarmed = 0;
    struct itimerval it = {.it_value = {.tv_sec = 0, .tv_usec = ms * 1000}};
    if (setitimer(ITIMER_REAL, &it, NULL))
        die("setitimer");
}

// A blocked F_SETLKW or flock ends with EINTR when a handler runs (no SA_RESTART) and starts
// over with SA_RESTART.
static void interrupted(void) {
    int ready[2], go[2];
    if (pipe(ready) || pipe(go))
        die("pipe");
    pid_t pid = fork();
    if (pid == 0) {
        int f = open_file(O_RDWR);
        if (lk(f, F_SETLK, F_WRLCK, 0, 0) || fl_(f, LOCK_EX))
            die("child locks");
        put(ready[1]);
        get(go[0]);
        usleep(1000 * 1000); // Long after the parent's alarm.
        _exit(0);
    }
    get(ready[0]);
    int fd = open_file(O_RDWR);
    arm(0, 100);
    int e = lk(fd, F_SETLKW, F_WRLCK, 0, 1);
    printf("setlkw: %s, handler ran: %d\n", ename(e), alarmed);
    arm(0, 100);
    e = fl_(fd, LOCK_EX);
    printf("flock EX: %s, handler ran: %d\n", ename(e), alarmed);
    put(go[1]);
    arm(1, 50);
    e = lk(fd, F_SETLKW, F_WRLCK, 0, 1);
    printf("setlkw with SA_RESTART: %s, handler ran: %d\n", ename(e), alarmed);
    reap(pid);
    signal(SIGALRM, SIG_DFL);
    close(fd);
    close(ready[0]);
    close(ready[1]);
    close(go[0]);
    close(go[1]);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        printf("usage: locks FILE\n");
        return 2;
    }
    path = argv[1];
    setvbuf(stdout, NULL, _IONBF, 0);
    parent = getpid();
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    char buf[100] = {0};
    if (fd < 0 || write(fd, buf, sizeof buf) != sizeof buf)
        die("create");
    close(fd);
    printf("== posix ranges\n");
    posix_ranges();
    printf("== blocking\n");
    blocking();
    printf("== release on close\n");
    release_on_close();
    printf("== release on exit\n");
    release_on_exit();
    printf("== deadlock\n");
    deadlock();
    printf("== ofd\n");
    ofd();
    printf("== flock\n");
    flocks();
    printf("== interrupted\n");
    interrupted();
    unlink(path);
    printf("done\n");
    return 0;
}
