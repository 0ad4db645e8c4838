// SO_RCVTIMEO and SO_SNDTIMEO on AF_UNIX sockets: the values as getsockopt shows them, bad
// values (EDOM, EINVAL), receives, sends on a full stream, accept and datagrams that time
// out (EAGAIN), a negative time (never wait), and a signal during a timed wait (EINTR even
// with SA_RESTART). Times are checked from below only; nothing printed depends on
// scheduling.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int failures;

static void show(const char *what, long r) {
    if (r < 0)
        printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else
        printf("%s: %ld\n", what, r);
}

static void expect(const char *what, int ok) {
    printf("%s: %s\n", what, ok ? "ok" : "WRONG");
    if (!ok) failures++;
}

static long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int set(int s, int opt, long sec, long usec) {
    struct timeval tv = {sec, usec};
    return setsockopt(s, SOL_SOCKET, opt, &tv, sizeof tv);
}

static void on_alarm(int sig) { (void)sig; }

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int p[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, p);
    struct timeval tv;
    socklen_t len = sizeof tv;
    show("get default", getsockopt(p[0], SOL_SOCKET, SO_RCVTIMEO, &tv, &len));
    expect("default is zero", tv.tv_sec == 0 && tv.tv_usec == 0 && len == sizeof tv);
    show("set 1.5 s", set(p[0], SO_RCVTIMEO, 1, 500000));
    len = sizeof tv;
    getsockopt(p[0], SOL_SOCKET, SO_RCVTIMEO, &tv, &len);
    expect("reads back", tv.tv_sec == 1 && tv.tv_usec == 500000);
    show("usec 1000000", set(p[0], SO_RCVTIMEO, 0, 1000000));
    show("usec -1", set(p[0], SO_RCVTIMEO, 0, -1));
    show("short value", setsockopt(p[0], SOL_SOCKET, SO_RCVTIMEO, &tv, 8));
    show("bad pointer", setsockopt(p[0], SOL_SOCKET, SO_RCVTIMEO, (void *)8, sizeof tv));
    len = 4;
    show("get short", getsockopt(p[0], SOL_SOCKET, SO_RCVTIMEO, &tv, &len));
    printf("short length: %u\n", len);

    // A receive that times out.
    set(p[0], SO_RCVTIMEO, 0, 60000);
    char b[64];
    long t0 = now_ms();
    show("recv times out", recv(p[0], b, sizeof b, 0));
    expect("waited", now_ms() - t0 >= 59);
    show("read times out", read(p[0], b, sizeof b));
    // Data before the time is up is taken as usual.
    write(p[1], "hi", 2);
    show("recv data", recv(p[0], b, sizeof b, 0));
    // A negative time: never wait.
    set(p[0], SO_RCVTIMEO, -1, 0);
    len = sizeof tv;
    getsockopt(p[0], SOL_SOCKET, SO_RCVTIMEO, &tv, &len);
    expect("negative reads as zero", tv.tv_sec == 0 && tv.tv_usec == 0);
    t0 = now_ms();
    show("recv negative", recv(p[0], b, sizeof b, 0));
    expect("at once", now_ms() - t0 < 1000);

    // A send on a full stream: the part that fit, then EAGAIN.
    set(p[1], SO_SNDTIMEO, 0, 50000);
    static char big[1 << 20];
    long sent = 0, r;
    while ((r = send(p[1], big, sizeof big, MSG_DONTWAIT)) > 0) sent += r;
    expect("filled", sent > 0);
    t0 = now_ms();
    show("send times out", send(p[1], big, 4096, 0));
    expect("send waited", now_ms() - t0 >= 49);
    close(p[0]);
    close(p[1]);

    // A signal during a timed wait: EINTR even with SA_RESTART.
    socketpair(AF_UNIX, SOCK_STREAM, 0, p);
    struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART};
    sigaction(SIGALRM, &sa, NULL);
    set(p[0], SO_RCVTIMEO, 5, 0);
    ualarm(50000, 0);
    show("interrupted timed recv", recv(p[0], b, sizeof b, 0));
    // Without a time set, SA_RESTART restarts it: data sent by a child then arrives.
    set(p[0], SO_RCVTIMEO, 0, 0);
    if (fork() == 0) {
        usleep(100000);
        write(p[1], "late", 4);
        _exit(0);
    }
    ualarm(30000, 0);
    show("restarted recv", recv(p[0], b, sizeof b, 0));
    close(p[0]);
    close(p[1]);

    // Datagrams and accept.
    int d[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, d);
    set(d[0], SO_RCVTIMEO, 0, 30000);
    show("dgram recv times out", recv(d[0], b, sizeof b, 0));
    close(d[0]);
    close(d[1]);
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "snare-timeouts-%d", getpid());
    socklen_t alen = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a.sun_path + 1);
    bind(l, (struct sockaddr *)&a, alen);
    listen(l, 1);
    set(l, SO_RCVTIMEO, 0, 30000);
    show("accept times out", accept(l, NULL, NULL));
    close(l);
    printf("failures: %d\n", failures);
    return failures != 0;
}
