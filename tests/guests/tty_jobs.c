// Job control on a controlling terminal (issue 17): a background process group that reads
// its terminal is stopped by SIGTTIN, one that changes its settings (or writes with TOSTOP)
// by SIGTTOU; ignored or blocked signals give EIO (reads) or let the call through. A
// pseudo-terminal from openpty, made the controlling
// terminal of a new session.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static int slave;

static const char *how(int st) {
    static char b[64];
    if (WIFSTOPPED(st))
        snprintf(b, sizeof b, "stopped by %s", strsignal(WSTOPSIG(st)));
    else if (WIFEXITED(st))
        snprintf(b, sizeof b, "exit %d", WEXITSTATUS(st));
    else
        snprintf(b, sizeof b, "killed by %s", strsignal(WTERMSIG(st)));
    return b;
}

// Runs `fn` in a background process group of the session; reports how it first changed
// state (stopped, or exited with fn's code) and, if stopped, how it ended after SIGCONT.
static void background(const char *name, int (*fn)(void)) {
    pid_t p = fork();
    if (p == 0) {
        setpgid(0, 0);
        _exit(fn());
    }
    setpgid(p, p);
    int st;
    waitpid(p, &st, WUNTRACED);
    printf("%s: %s", name, how(st));
    if (WIFSTOPPED(st)) {
        kill(p, SIGCONT);
        // Continued, the call restarts: and stops again (still in the background).
        waitpid(p, &st, WUNTRACED);
        printf(", again %s", how(st));
        kill(p, SIGKILL);
        waitpid(p, &st, 0);
    }
    printf("\n");
    fflush(stdout);
}

static int do_read(void) {
    char c;
    return read(slave, &c, 1) < 0 ? errno : 0;
}

static int read_ignoring(void) {
    signal(SIGTTIN, SIG_IGN);
    return do_read() == EIO ? 5 : 6;
}

static int read_blocking_the_signal(void) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGTTIN);
    sigprocmask(SIG_BLOCK, &s, NULL);
    return do_read() == EIO ? 5 : 6;
}

static int write_plain(void) {
    return write(slave, "x", 1) == 1 ? 7 : 8;
}

static int do_tcsetattr(void) {
    struct termios t;
    tcgetattr(slave, &t);
    return tcsetattr(slave, TCSANOW, &t) == 0 ? 9 : 10;
}

static int tcsetattr_ignoring(void) {
    signal(SIGTTOU, SIG_IGN);
    return do_tcsetattr();
}

static volatile sig_atomic_t caught;
static void on_ttin(int s) {
    (void)s;
    caught = 1;
}

static int read_with_handler(void) {
    struct sigaction sa = {.sa_handler = on_ttin};  // no SA_RESTART: EINTR
    sigaction(SIGTTIN, &sa, NULL);
    int e = do_read();
    return caught && e == EINTR ? 11 : 12;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int master;
    if (openpty(&master, &slave, NULL, NULL, NULL) != 0) {
        printf("openpty: %s\n", strerror(errno));
        return 1;
    }
    pid_t leader = fork();
    if (leader == 0) {
        setsid();
        if (ioctl(slave, TIOCSCTTY, 0) != 0) {
            printf("TIOCSCTTY: %s\n", strerror(errno));
            _exit(1);
        }
        // The leader's group is the foreground one.
        background("background read", do_read);
        background("read, SIGTTIN ignored (5: EIO)", read_ignoring);
        background("read, SIGTTIN blocked (5: EIO)", read_blocking_the_signal);
        background("read with a handler (11: EINTR)", read_with_handler);
        background("write without TOSTOP (7: written)", write_plain);
        struct termios t;
        tcgetattr(slave, &t);
        t.c_lflag |= TOSTOP;
        tcsetattr(slave, TCSANOW, &t);
        background("write with TOSTOP", write_plain);
        background("tcsetattr", do_tcsetattr);
        background("tcsetattr, SIGTTOU ignored (9: done)", tcsetattr_ignoring);
        // The foreground group itself is not stopped.
        printf("foreground tcsetattr: %d\n", do_tcsetattr());
        fflush(stdout);
        _exit(0);
    }
    int st;
    waitpid(leader, &st, 0);
    printf("leader: %s\n", how(st));
    return 0;
}
