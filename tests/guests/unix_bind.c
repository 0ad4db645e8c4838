// socket(2) + bind/listen/accept/connect for AF_UNIX: pathname, abstract and autobind names,
// a listener with clients in child processes, datagrams by address, address lengths as
// Linux returns them, and the errors of each call.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
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

static socklen_t path_addr(struct sockaddr_un *a, const char *p) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    strcpy(a->sun_path, p);
    return offsetof(struct sockaddr_un, sun_path) + strlen(p) + 1;
}

static socklen_t abstract_addr(struct sockaddr_un *a, const char *name) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    strcpy(a->sun_path + 1, name);
    return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name);
}

static void name_of(const char *what, int s, int peer) {
    struct sockaddr_un a;
    socklen_t l = sizeof a;
    memset(&a, 0x55, sizeof a);
    int r = peer ? getpeername(s, (struct sockaddr *)&a, &l) : getsockname(s, (struct sockaddr *)&a, &l);
    if (r < 0) {
        printf("%s: -1 %s\n", what, strerrorname_np(errno));
        return;
    }
    if (l <= 2)
        printf("%s: len %u unnamed\n", what, l);
    else if (a.sun_path[0])
        printf("%s: len %u path %.*s\n", what, l, (int)strnlen(a.sun_path, l - 2 < 108 ? l - 2 : 108), a.sun_path);
    else
        printf("%s: len %u abstract\n", what, l);
}

static void server(const char *what, struct sockaddr_un *a, socklen_t al, int type) {
    printf("-- %s\n", what);
    int l = socket(AF_UNIX, type, 0);
    show("bind", bind(l, (struct sockaddr *)a, al));
    name_of("listener name", l, 0);
    show("listen", listen(l, 5));
    int v;
    socklen_t vl = sizeof v;
    getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl);
    printf("SO_ACCEPTCONN %d\n", v);
    enum { N = 3 };
    pid_t kids[N];
    for (int i = 0; i < N; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            int c = socket(AF_UNIX, type, 0);
            if (connect(c, (struct sockaddr *)a, al)) _exit(10);
            char msg[32];
            int n = snprintf(msg, sizeof msg, "client %d", i);
            if (send(c, msg, n, 0) != n) _exit(11);
            char reply[32] = {0};
            if (recv(c, reply, sizeof reply, 0) <= 0) _exit(12);
            struct sockaddr_un p;
            socklen_t pl = sizeof p;
            getpeername(c, (struct sockaddr *)&p, &pl);
            _exit(strncmp(reply, "ok ", 3) == 0 && pl == al ? 0 : 13);
        }
    }
    char got[N][32];
    for (int i = 0; i < N; i++) {
        struct sockaddr_un p;
        socklen_t pl = sizeof p;
        int c = accept4(l, (struct sockaddr *)&p, &pl, SOCK_CLOEXEC);
        if (c < 0) {
            printf("accept: %s\n", strerrorname_np(errno));
            failures++;
            break;
        }
        if (i == 0) {
            printf("accepted peer addrlen %u, cloexec %d\n", pl, fcntl(c, F_GETFD));
            name_of("accepted name", c, 0);
            name_of("accepted peer", c, 1);
            struct ucred cr;
            socklen_t cl = sizeof cr;
            getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &cl);
            int known = 0;
            for (int k = 0; k < N; k++) known |= cr.pid == kids[k];
            expect("peer cred is a client", known && cr.uid == geteuid());
        }
        memset(got[i], 0, 32);
        recv(c, got[i], 31, 0);
        send(c, "ok thanks", 9, 0);
        close(c);
    }
    // Sorted: the clients' order is the scheduler's.
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            if (strcmp(got[i], got[j]) > 0) {
                char t[32];
                memcpy(t, got[i], 32);
                memcpy(got[i], got[j], 32);
                memcpy(got[j], t, 32);
            }
    for (int i = 0; i < N; i++) printf("got %s\n", got[i]);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        int st;
        waitpid(kids[i], &st, 0);
        bad += !WIFEXITED(st) || WEXITSTATUS(st);
    }
    printf("clients failed: %d\n", bad);
    // The name is taken while the listener lives.
    int again = socket(AF_UNIX, type, 0);
    show("bind taken name", bind(again, (struct sockaddr *)a, al));
    close(again);
    close(l);
}

static void errors(const char *dir) {
    printf("-- errors\n");
    struct sockaddr_un a;
    socklen_t al;
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    show("listen unbound", listen(s, 1));
    show("accept unbound", accept(s, 0, 0));
    al = path_addr(&a, "nonexistent");
    show("connect missing path", connect(s, (struct sockaddr *)&a, al));
    int f = open("plainfile", O_CREAT | O_WRONLY, 0644);
    close(f);
    al = path_addr(&a, "plainfile");
    show("connect to a regular file", connect(s, (struct sockaddr *)&a, al));
    show("bind over a file", bind(s, (struct sockaddr *)&a, al));
    al = abstract_addr(&a, "snare-test-nobody-here");
    show("connect missing abstract", connect(s, (struct sockaddr *)&a, al));
    al = path_addr(&a, "sock1");
    show("bind", bind(s, (struct sockaddr *)&a, al));
    show("bind again", bind(s, (struct sockaddr *)&a, al));
    struct stat st;
    stat("sock1", &st);
    printf("node is a socket %d mode %o\n", S_ISSOCK(st.st_mode), st.st_mode & 0777);
    show("open a socket node", open("sock1", O_RDWR));
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    show("connect to bound, not listening", connect(c, (struct sockaddr *)&a, al));
    int d = socket(AF_UNIX, SOCK_DGRAM, 0);
    show("dgram connect to stream", connect(d, (struct sockaddr *)&a, al));
    show("listen dgram", listen(d, 1));
    show("accept dgram", accept(d, 0, 0));
    show("listen", listen(s, 0));
    int nb = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    show("connect nonblocking (first fits)", connect(nb, (struct sockaddr *)&a, al));
    int nb2 = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    show("connect nonblocking, backlog full", connect(nb2, (struct sockaddr *)&a, al));
    show("connect again when connected", connect(nb, (struct sockaddr *)&a, al));
    struct pollfd p = {s, POLLIN, 0};
    int pr = poll(&p, 1, 0);
    printf("listener poll: %d %#x\n", pr, p.revents);
    show("accept4 bad flags", accept4(s, 0, 0, 0x10));
    int acc = accept4(s, 0, 0, SOCK_NONBLOCK);
    printf("accept4 nonblock flag %d\n", !!(fcntl(acc, F_GETFL) & O_NONBLOCK));
    fcntl(s, F_SETFL, O_NONBLOCK);
    show("accept empty, nonblocking", accept4(s, 0, 0, 0));
    fcntl(s, F_SETFL, 0);
    show("send on connected", send(nb, "hi", 2, 0));
    char b[8];
    show("recv on accepted", recv(acc, b, 8, 0));
    close(acc);
    close(nb);
    close(nb2);
    // A queued connection nobody accepted is reset when the listener closes.
    int q = socket(AF_UNIX, SOCK_STREAM, 0);
    show("connect to be reset", connect(q, (struct sockaddr *)&a, al));
    close(s);
    show("read after listener closed", recv(q, b, 8, 0));
    close(q);
    show("connect after listener closed", connect(c, (struct sockaddr *)&a, al));
    show("unlink node", unlink("sock1"));
    show("connect after unlink", connect(c, (struct sockaddr *)&a, al));
    close(c);
    close(d);
    // Hostile addresses.
    int h = socket(AF_UNIX, SOCK_STREAM, 0);
    al = path_addr(&a, "x");
    show("addrlen 1", bind(h, (struct sockaddr *)&a, 1));
    show("addrlen 111", bind(h, (struct sockaddr *)&a, 111));
    show("addrlen 200", bind(h, (struct sockaddr *)&a, 200));
    show("addrlen -1", bind(h, (struct sockaddr *)&a, -1));
    show("address unreadable", bind(h, (struct sockaddr *)8, al));
    a.sun_family = AF_INET;
    show("wrong family", bind(h, (struct sockaddr *)&a, al));
    show("connect wrong family", connect(h, (struct sockaddr *)&a, al));
    show("connect addrlen 2", connect(h, (struct sockaddr *)&a, 2));
    // sun_path without a NUL: 108 bytes of name.
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    memset(a.sun_path, 'n', sizeof a.sun_path);
    show("bind 108-byte path", bind(h, (struct sockaddr *)&a, sizeof a));
    name_of("its name", h, 0);
    close(h);
    char longname[109];
    memset(longname, 'n', 108);
    longname[108] = 0;
    unlink(longname);
    show("getsockname bad len ptr", getsockname(0, 0, (socklen_t *)8));
    int g = socket(AF_UNIX, SOCK_STREAM, 0);
    socklen_t neg = -1;
    show("getsockname negative len", getsockname(g, (struct sockaddr *)&a, &neg));
    int pp[2];
    pipe(pp);
    socklen_t ok = sizeof a;
    show("getsockname on a pipe", getsockname(pp[0], (struct sockaddr *)&a, &ok));
    close(pp[0]);
    close(pp[1]);
    close(g);
    (void)dir;
}

static void dgrams(void) {
    printf("-- datagrams\n");
    struct sockaddr_un a, from;
    socklen_t al = path_addr(&a, "dsock"), fl;
    int r = socket(AF_UNIX, SOCK_DGRAM, 0);
    show("bind receiver", bind(r, (struct sockaddr *)&a, al));
    int s = socket(AF_UNIX, SOCK_DGRAM, 0);
    show("sendto unbound sender", sendto(s, "one", 3, 0, (struct sockaddr *)&a, al));
    char b[16] = {0};
    fl = sizeof from;
    show("recvfrom", recvfrom(r, b, sizeof b, 0, (struct sockaddr *)&from, &fl));
    printf("from len %u\n", fl);
    struct sockaddr_un sa;
    socklen_t sal = abstract_addr(&sa, "snare-test-sender");
    sal = abstract_addr(&sa, "snare-dgram-sender");
    show("bind sender abstract", bind(s, (struct sockaddr *)&sa, sal));
    sendto(s, "two", 3, 0, (struct sockaddr *)&a, al);
    fl = sizeof from;
    recvfrom(r, b, sizeof b, 0, (struct sockaddr *)&from, &fl);
    printf("from len %u abstract %d\n", fl, from.sun_path[0] == 0);
    show("send unconnected, no address", send(s, "x", 1, 0));
    show("connect", connect(s, (struct sockaddr *)&a, al));
    name_of("peer", s, 1);
    show("send connected", send(s, "three", 5, 0));
    show("recv", recv(r, b, sizeof b, 0));
    // The receiver is connected elsewhere now: others can't send to it.
    int t = socket(AF_UNIX, SOCK_DGRAM, 0);
    socklen_t tl = abstract_addr(&from, "snare-dgram-third");
    bind(t, (struct sockaddr *)&from, tl);
    show("receiver connects to third", connect(r, (struct sockaddr *)&from, tl));
    show("send to a socket connected elsewhere", send(s, "x", 1, 0));
    struct sockaddr unspec = {.sa_family = AF_UNSPEC};
    show("disconnect", connect(s, &unspec, sizeof unspec));
    show("send after disconnect", send(s, "x", 1, 0));
    struct sockaddr_un nowhere;
    socklen_t nl = abstract_addr(&nowhere, "snare-nobody-bound");
    show("sendto unbound abstract", sendto(s, "x", 1, 0, (struct sockaddr *)&nowhere, nl));
    nl = path_addr(&nowhere, "plainfile");
    show("sendto a regular file", sendto(s, "x", 1, 0, (struct sockaddr *)&nowhere, nl));
    int st = socket(AF_UNIX, SOCK_STREAM, 0);
    show("stream sendto", sendto(st, "x", 1, 0, (struct sockaddr *)&a, al));
    close(st);
    close(t);
    close(r);
    close(s);
    unlink("dsock");
}

static void autobind(void) {
    printf("-- autobind\n");
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    show("bind family only", bind(s, (struct sockaddr *)&a, sizeof(sa_family_t)));
    struct sockaddr_un got;
    socklen_t l = sizeof got;
    getsockname(s, (struct sockaddr *)&got, &l);
    int hex = l == 8 && got.sun_path[0] == 0;
    for (int i = 1; i < 6 && hex; i++) hex = strchr("0123456789abcdef", got.sun_path[i]) != 0;
    expect("autobind name: NUL and five hex digits", hex);
    show("listen on it", listen(s, 1));
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    show("connect to autobound", connect(c, (struct sockaddr *)&got, l));
    int acc = accept(s, 0, 0);
    show("send", send(c, "auto", 4, 0));
    char b[8];
    show("recv", recv(acc, b, 8, 0));
    close(acc);
    close(c);
    close(s);
}

static void permission(void) {
    printf("-- permission\n");
    struct sockaddr_un a;
    socklen_t al = path_addr(&a, "psock");
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    bind(l, (struct sockaddr *)&a, al);
    listen(l, 4);
    chmod("psock", 0700);
    pid_t c = fork();
    if (c == 0) {
        if (setresuid(65534, 65534, 65534)) _exit(9);
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        int r = connect(s, (struct sockaddr *)&a, al);
        printf("unprivileged connect to 0700 node: %d %s\n", r, r ? strerrorname_np(errno) : "");
        _exit(0);
    }
    waitpid(c, 0, 0);
    chmod("psock", 0777);
    c = fork();
    if (c == 0) {
        if (setresuid(65534, 65534, 65534)) _exit(9);
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        int r = connect(s, (struct sockaddr *)&a, al);
        printf("unprivileged connect to 0777 node: %d\n", r);
        _exit(0);
    }
    waitpid(c, 0, 0);
    close(l);
    unlink("psock");
}

int main(void) {
    setvbuf(stdout, 0, _IONBF, 0);
    char dir[] = "/tmp/snare-unix-XXXXXX";
    if (!mkdtemp(dir) || chdir(dir)) return 1;
    chmod(dir, 0755);
    struct sockaddr_un a;
    socklen_t al = path_addr(&a, "listener");
    server("pathname stream", &a, al, SOCK_STREAM);
    unlink("listener");
    server("pathname seqpacket", &a, al, SOCK_SEQPACKET);
    unlink("listener");
    char name[64];
    snprintf(name, sizeof name, "snare-test-%08d", getpid());
    al = abstract_addr(&a, name);
    server("abstract stream", &a, al, SOCK_STREAM);
    errors(dir);
    dgrams();
    autobind();
    permission();
    unlink("plainfile");
    chdir("/");
    rmdir(dir);
    return failures ? 1 : 0;
}
