/* Pseudo-terminals: /dev/ptmx and /dev/pts (posix_openpt, grantpt, unlockpt, ptsname,
 * TIOCGPTPEER), the line discipline (canonical lines, editing, echo, ICRNL/ONLCR, EOF, raw
 * mode, VMIN/VTIME), window size, job control (a child's own session with the slave as its
 * controlling terminal: ^C is SIGINT, a resize SIGWINCH), hangups, and hostile arguments.
 * Prints what it sees, never a pty's number. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

static void show(const char *what, const char *b, ssize_t n) {
    printf("%s: %zd \"", what, n);
    for (ssize_t i = 0; i < n; i++) {
        unsigned char c = b[i];
        if (c == '\n') printf("\\n");
        else if (c == '\r') printf("\\r");
        else if (c < 0x20 || c >= 0x7f) printf("\\x%02x", c);
        else putchar(c);
    }
    printf("\"\n");
}

static const char *err(long r) { return r < 0 ? strerror(errno) : "ok"; }

/* "result error" of a call, errno read after it. */
#define SHOW(what, call)                                                                    \
    do {                                                                                    \
        errno = 0;                                                                          \
        long r_ = (long)(call);                                                             \
        int e_ = errno;                                                                     \
        printf("%s: %ld %s\n", what, r_, r_ < 0 ? strerror(e_) : "");                       \
    } while (0)

/* Reads what is there (the master, after a write that echoes), waiting a little. */
static void drain(const char *what, int fd) {
    char b[512];
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 1000) <= 0) {
        printf("%s: nothing\n", what);
        return;
    }
    usleep(20000);
    show(what, b, read(fd, b, sizeof b));
}

static int open_pair(int *slave) {
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0 || grantpt(m) || unlockpt(m)) return -1;
    *slave = open(ptsname(m), O_RDWR | O_NOCTTY);
    return *slave < 0 ? -1 : m;
}

static volatile sig_atomic_t got_int, got_winch;
static void on_sig(int s) {
    if (s == SIGINT) got_int = 1;
    if (s == SIGWINCH) got_winch = 1;
}

static void job_control(int m, int s) {
    int ready[2], go[2];
    if (pipe(ready) || pipe(go)) return;
    pid_t c = fork();
    if (c == 0) {
        struct sigaction sa = {.sa_handler = on_sig};
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGWINCH, &sa, NULL);
        sigset_t block, old;
        sigemptyset(&block);
        sigaddset(&block, SIGINT);
        sigaddset(&block, SIGWINCH);
        sigprocmask(SIG_BLOCK, &block, &old);
        if (setsid() < 0) _exit(10);
        if (ioctl(s, TIOCSCTTY, 0)) _exit(11);
        /* Already ours: fine again. */
        if (ioctl(s, TIOCSCTTY, 0)) _exit(12);
        if (tcgetpgrp(s) != getpid()) _exit(13);
        if (tcgetsid(s) != getpid()) _exit(14);
        if (tcsetpgrp(s, getpid())) _exit(15);
        if (tcsetpgrp(s, 999999) == 0 || errno != ESRCH) _exit(16);
        if (write(ready[1], "r", 1) != 1) _exit(17);
        alarm(10);
        while (!(got_int && got_winch)) sigsuspend(&old);
        _exit(0);
    }
    char b;
    if (read(ready[0], &b, 1) != 1) return;
    pid_t pg = -1, sid = -1;
    ioctl(m, TIOCGPGRP, &pg);
    ioctl(m, TIOCGSID, &sid);
    printf("master sees the child's group: %d session: %d\n", pg == c, sid == c);
    SHOW("parent tcgetpgrp of the slave (not its terminal)", tcgetpgrp(s));
    printf("parent TIOCSCTTY (not a session leader): %s\n", err(ioctl(s, TIOCSCTTY, 0)));
    if (write(m, "\x03", 1) != 1) printf("write ^C failed\n");
    struct winsize ws = {.ws_row = 40, .ws_col = 100};
    ioctl(m, TIOCSWINSZ, &ws);
    int st;
    waitpid(c, &st, 0);
    printf("child: exited %d status %d\n", WIFEXITED(st), WEXITSTATUS(st));
    pg = sid = -1;
    ioctl(m, TIOCGPGRP, &pg);
    SHOW("after the session leader exited: TIOCGSID", ioctl(m, TIOCGSID, &sid));
    printf("and its group: %d\n", pg);
    drain("echo of ^C", m);
}

static void hostile(void) {
    int s = -1, m = open_pair(&s);
    void *bad = (void *)1;
    printf("TIOCGWINSZ bad: %s\n", err(ioctl(m, TIOCGWINSZ, bad)));
    printf("TIOCSWINSZ bad: %s\n", err(ioctl(s, TIOCSWINSZ, bad)));
    printf("TCGETS bad: %s\n", err(ioctl(s, TCGETS, bad)));
    printf("TCSETS bad: %s\n", err(ioctl(m, TCSETS, bad)));
    printf("TIOCGPTN bad: %s\n", err(ioctl(m, TIOCGPTN, bad)));
    printf("TIOCSPTLCK bad: %s\n", err(ioctl(m, TIOCSPTLCK, bad)));
    printf("FIONREAD bad: %s\n", err(ioctl(s, FIONREAD, bad)));
    printf("TIOCSPGRP bad: %s\n", err(ioctl(s, TIOCSPGRP, bad)));
    printf("TIOCGPTN on the slave: %s\n", err(ioctl(s, TIOCGPTN, &(int){0})));
    printf("TCFLSH 9: %s\n", err(ioctl(s, TCFLSH, 9)));
    printf("unknown ioctl: %s\n", err(ioctl(m, 0x54ff, 0)));
    /* A full pty: raw, nobody reading, non-blocking writes end in EAGAIN. */
    struct termios t;
    tcgetattr(s, &t);
    cfmakeraw(&t);
    tcsetattr(s, TCSANOW, &t);
    fcntl(m, F_SETFL, O_NONBLOCK);
    fcntl(s, F_SETFL, O_NONBLOCK);
    static char big[1 << 20];
    memset(big, 'x', sizeof big);
    long r = 0;
    for (int i = 0; i < 1000 && (r = write(m, big, 4096)) > 0; i++) {}
    printf("master writes into a full pty: %s\n", err(r));
    for (int i = 0; i < 1000 && (r = write(s, big, sizeof big)) > 0; i++) {}
    printf("slave writes into a full pty: %s\n", err(r));
    close(s);
    close(m);
    /* Many ptys: all open, or the last fails with ENOSPC (snare's limit is lower than the
     * host's). */
    static int fds[300];
    int n = 0, bad_err = 0;
    for (; n < 300; n++) {
        fds[n] = posix_openpt(O_RDWR | O_NOCTTY);
        if (fds[n] < 0) {
            bad_err = errno != ENOSPC;
            break;
        }
    }
    printf("many ptys: %s\n", bad_err ? strerror(errno) : "ok");
    for (int i = 0; i < n; i++) close(fds[i]);
    int again = posix_openpt(O_RDWR);
    printf("one more after closing them: %d\n", again >= 0);
    close(again);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    printf("posix_openpt: %d grantpt: %d\n", m >= 0, grantpt(m));
    char name[64];
    snprintf(name, sizeof name, "%s", ptsname(m));
    printf("ptsname under /dev/pts: %d\n", strncmp(name, "/dev/pts/", 9) == 0);
    int lock = -1;
    ioctl(m, TIOCGPTLCK, &lock);
    printf("locked: %d\n", lock);
    SHOW("open locked slave", open(name, O_RDWR | O_NOCTTY));
    printf("unlockpt: %d\n", unlockpt(m));
    ioctl(m, TIOCGPTLCK, &lock);
    printf("locked: %d\n", lock);
    int s = open(name, O_RDWR | O_NOCTTY);
    printf("open slave: %d\n", s >= 0);
    printf("isatty master %d slave %d\n", isatty(m), isatty(s));
    char tty[64] = "";
    ttyname_r(s, tty, sizeof tty);
    printf("ttyname is ptsname: %d\n", strcmp(tty, name) == 0);
    char link[64], proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", m);
    ssize_t ln = readlink(proc, link, sizeof link - 1);
    link[ln > 0 ? ln : 0] = 0;
    printf("master fd links to %s\n", link);
    struct stat st;
    fstat(s, &st);
    printf("slave: chr %d major %u mine %d\n", S_ISCHR(st.st_mode), major(st.st_rdev),
           st.st_uid == getuid());
    stat("/dev/ptmx", &st);
    printf("/dev/ptmx: chr %d %u:%u\n", S_ISCHR(st.st_mode), major(st.st_rdev),
           minor(st.st_rdev));
    int n = -1;
    ioctl(m, TIOCGPTN, &n);
    DIR *d = opendir("/dev/pts");
    int seen_ptmx = 0, seen_n = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        seen_ptmx |= strcmp(e->d_name, "ptmx") == 0;
        seen_n |= atoi(e->d_name) == n && e->d_name[0] >= '0' && e->d_name[0] <= '9';
    }
    if (d) closedir(d);
    printf("/dev/pts lists ptmx %d and this pty %d\n", seen_ptmx, seen_n);

    struct termios t;
    tcgetattr(s, &t);
    printf("termios: iflag %o oflag %o cflag %o lflag %o\n", t.c_iflag, t.c_oflag,
           t.c_cflag, t.c_lflag);
    printf("c_cc: intr %d quit %d erase %d kill %d eof %d time %d min %d susp %d\n",
           t.c_cc[VINTR], t.c_cc[VQUIT], t.c_cc[VERASE], t.c_cc[VKILL], t.c_cc[VEOF],
           t.c_cc[VTIME], t.c_cc[VMIN], t.c_cc[VSUSP]);
    struct termios mt;
    tcgetattr(m, &mt);
    printf("master's termios is the slave's: %d\n",
           t.c_iflag == mt.c_iflag && t.c_oflag == mt.c_oflag && t.c_cflag == mt.c_cflag &&
               t.c_lflag == mt.c_lflag && memcmp(t.c_cc, mt.c_cc, NCCS) == 0);
    struct termios saved = t;

    char b[256];
    printf("write hello: %zd\n", write(m, "hello\n", 6));
    int avail = -1;
    // Linux hands input to the line discipline from a worker: wait until the slave is
    // readable before asking how much it holds.
    struct pollfd wait_in = {.fd = s, .events = POLLIN};
    poll(&wait_in, 1, 5000);
    ioctl(s, FIONREAD, &avail);
    printf("FIONREAD slave: %d\n", avail);
    show("slave reads", b, read(s, b, sizeof b));
    drain("master sees the echo", m);
    printf("slave writes: %zd\n", write(s, "a\n", 2));
    drain("master reads", m);

    /* Line editing: erase, kill, word erase, CR as NL, EOF. */
    write(m, "abx\x7f" "c\r", 6);
    show("edited line", b, read(s, b, sizeof b));
    drain("its echo", m);
    write(m, "junk\x15ok\n", 8);
    show("after kill", b, read(s, b, sizeof b));
    drain("its echo", m);
    write(m, "one two\x17three\n", 14);
    show("after word erase", b, read(s, b, sizeof b));
    drain("its echo", m);
    write(m, "x\x04", 2);
    show("line ended by EOF", b, read(s, b, sizeof b));
    write(m, "\x04", 1);
    show("EOF", b, read(s, b, sizeof b));
    write(m, "two\nlines\n", 10);
    show("first line", b, read(s, b, sizeof b));
    show("second line", b, read(s, b, sizeof b));
    drain("their echo", m);

    /* Raw mode. */
    cfmakeraw(&t);
    tcsetattr(s, TCSANOW, &t);
    write(m, "a\r\x03\n", 4);
    usleep(20000);
    show("raw slave reads", b, read(s, b, sizeof b));
    write(s, "x\n", 2);
    drain("raw master reads", m);
    /* VMIN=0, VTIME=0: whatever is there, maybe nothing; VTIME=1: waits 0.1 s. */
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    tcsetattr(s, TCSANOW, &t);
    show("VMIN 0 VTIME 0", b, read(s, b, sizeof b));
    t.c_cc[VTIME] = 1;
    tcsetattr(s, TCSANOW, &t);
    show("VMIN 0 VTIME 1", b, read(s, b, sizeof b));
    t.c_cc[VMIN] = 3;
    t.c_cc[VTIME] = 0;
    tcsetattr(s, TCSANOW, &t);
    write(m, "abcd", 4);
    usleep(20000);
    show("VMIN 3", b, read(s, b, 3));
    show("VMIN 3, 1 left, buffer 1", b, read(s, b, 1));
    fcntl(s, F_SETFL, O_NONBLOCK);
    SHOW("non-blocking read of nothing", read(s, b, sizeof b));
    fcntl(s, F_SETFL, 0);
    tcsetattr(s, TCSAFLUSH, &saved);

    /* Window size. */
    struct winsize ws = {.ws_row = 24, .ws_col = 80, .ws_xpixel = 1, .ws_ypixel = 2}, got;
    printf("TIOCSWINSZ: %d\n", ioctl(s, TIOCSWINSZ, &ws));
    ioctl(m, TIOCGWINSZ, &got);
    printf("TIOCGWINSZ on the master: %d %d %d %d\n", got.ws_row, got.ws_col, got.ws_xpixel,
           got.ws_ypixel);

    job_control(m, s);

    /* TIOCGPTPEER opens another slave description. */
    int peer = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY);
    printf("TIOCGPTPEER: %d isatty %d\n", peer >= 0, isatty(peer));
    write(peer, "p\n", 2);
    drain("master reads the peer", m);

    /* The slave closes: the master reads what is left, then EIO. */
    write(s, "last\n", 5);
    close(s);
    close(peer);
    show("master after the slave closed", b, read(m, b, sizeof b));
    SHOW("then", read(m, b, sizeof b));
    struct pollfd p = {.fd = m, .events = POLLIN};
    poll(&p, 1, 0);
    printf("poll: hup %d\n", !!(p.revents & POLLHUP));
    /* The master closes: the slave is hung up. */
    s = open(name, O_RDWR | O_NOCTTY);
    close(m);
    SHOW("slave read after the master closed", read(s, b, sizeof b));
    SHOW("slave write", write(s, "x", 1));
    printf("slave TCGETS: %s\n", err(tcgetattr(s, &t)));
    close(s);
    SHOW("reopen the slave", open(name, O_RDWR | O_NOCTTY));

    hostile();
    return 0;
}
