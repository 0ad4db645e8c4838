// System V message queues: msgget (private, keys), msgsnd (sizes, types, a full queue:
// IPC_NOWAIT and a sender that waits), msgrcv (msgtyp 0, > 0, < 0, MSG_EXCEPT,
// MSG_NOERROR and E2BIG, MSG_COPY, ENOMSG, a receiver that waits for its type, EINTR even
// with SA_RESTART, removal while waiting), msgctl (IPC_STAT, MSG_STAT, MSG_STAT_ANY,
// IPC_SET with msg_qbytes up to msgmnb, IPC_RMID, IPC_INFO, MSG_INFO), permissions for another uid,
// bad arguments, /proc/sysvipc/msg. Ids, keys and pids are never printed; everything made
// is removed.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(c)                                                                  \
    do {                                                                          \
        if (!(c)) {                                                               \
            printf("FAIL %s:%d: %s (errno %d)\n", __FILE__, __LINE__, #c, errno); \
            exit(1);                                                              \
        }                                                                         \
    } while (0)

#define BAD ((void *)0x10)
#ifndef MSG_COPY
#define MSG_COPY 040000
#endif

struct msg {
    long mtype;
    char mtext[8200];
};

static const char *ename(int e) {
    switch (e) {
    case 0: return "ok";
    case EINVAL: return "EINVAL";
    case ENOENT: return "ENOENT";
    case EEXIST: return "EEXIST";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EFAULT: return "EFAULT";
    case EAGAIN: return "EAGAIN";
    case E2BIG: return "E2BIG";
    case ENOMSG: return "ENOMSG";
    case EINTR: return "EINTR";
    case EIDRM: return "EIDRM";
    default: return strerror(e);
    }
}

static void res(const char *what, long r) {
    printf("%s: %s\n", what, r < 0 ? ename(errno) : "ok");
}

static pid_t first;

static key_t key_of(int n) {
    return (key_t)(0x5f000000 | ((first & 0xfffff) << 4) | n);
}

static int wait_child(pid_t pid) {
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    if (WIFSIGNALED(st))
        return 1000 + WTERMSIG(st);
    return WEXITSTATUS(st);
}

static void send(int id, long type, const char *text) {
    struct msg m = {.mtype = type};
    strcpy(m.mtext, text);
    CHECK(msgsnd(id, &m, strlen(text), 0) == 0);
}

// Receives with `typ` and `flg`, and prints what came.
static void recv(int id, const char *what, long typ, size_t size, int flg) {
    struct msg m;
    memset(&m, 0, sizeof m);
    errno = 0;
    ssize_t n = msgrcv(id, &m, size, typ, flg);
    if (n < 0)
        printf("%s: %s\n", what, ename(errno));
    else
        printf("%s: type %ld, %zd bytes: %.*s\n", what, m.mtype, n, (int)(n < 16 ? n : 16),
               m.mtext);
}

static struct msqid_ds stat_of(int id) {
    struct msqid_ds ds;
    CHECK(msgctl(id, IPC_STAT, &ds) == 0);
    return ds;
}

static void selection(void) {
    int id = msgget(IPC_PRIVATE, 0600);
    CHECK(id >= 0);
    struct msqid_ds ds = stat_of(id);
    printf("new: qbytes %lu qnum %lu cbytes %lu mode %o stime %ld ctime %d\n",
           (unsigned long)ds.msg_qbytes, (unsigned long)ds.msg_qnum,
           (unsigned long)ds.__msg_cbytes, ds.msg_perm.mode, (long)ds.msg_stime,
           ds.msg_ctime != 0);
    send(id, 3, "three");
    send(id, 1, "one-a");
    send(id, 2, "two");
    send(id, 1, "one-b");
    send(id, 5, "five");
    ds = stat_of(id);
    printf("queued: qnum %lu cbytes %lu lspid is me %d\n", (unsigned long)ds.msg_qnum,
           (unsigned long)ds.__msg_cbytes, ds.msg_lspid == getpid());
    recv(id, "MSG_COPY 1", 1, 100, MSG_COPY | IPC_NOWAIT);
    recv(id, "MSG_COPY 9", 9, 100, MSG_COPY | IPC_NOWAIT);
    recv(id, "MSG_COPY without IPC_NOWAIT", 1, 100, MSG_COPY);
    recv(id, "MSG_COPY with MSG_EXCEPT", 1, 100, MSG_COPY | IPC_NOWAIT | MSG_EXCEPT);
    recv(id, "MSG_COPY short with MSG_NOERROR", 0, 2, MSG_COPY | IPC_NOWAIT | MSG_NOERROR);
    printf("copies leave them: %lu\n", (unsigned long)stat_of(id).msg_qnum);
    recv(id, "type 1", 1, 100, 0);
    recv(id, "except 3", 3, 100, MSG_EXCEPT);
    recv(id, "up to 4", -4, 100, 0);
    recv(id, "any", 0, 100, 0);
    recv(id, "type 7, IPC_NOWAIT", 7, 100, IPC_NOWAIT);
    recv(id, "short buffer", 0, 2, 0);
    recv(id, "short buffer with MSG_NOERROR", 0, 2, MSG_NOERROR);
    recv(id, "empty, IPC_NOWAIT", 0, 100, IPC_NOWAIT);
    ds = stat_of(id);
    printf("emptied: qnum %lu cbytes %lu lrpid is me %d rtime %d\n", (unsigned long)ds.msg_qnum,
           (unsigned long)ds.__msg_cbytes, ds.msg_lrpid == getpid(), ds.msg_rtime != 0);
    // A message of no bytes, and the largest.
    struct msg m = {.mtype = 1};
    memset(m.mtext, 'z', sizeof m.mtext);
    res("empty message", msgsnd(id, &m, 0, 0));
    recv(id, "receive it", 0, 0, 0);
    res("8192 bytes", msgsnd(id, &m, 8192, 0));
    errno = 0;
    res("8193 bytes", msgsnd(id, &m, 8193, 0));
    res("size -1", msgsnd(id, &m, (size_t)-1, 0));
    m.mtype = 0;
    res("type 0", msgsnd(id, &m, 1, 0));
    m.mtype = -1;
    res("type -1", msgsnd(id, &m, 1, 0));
    res("bad buffer", msgsnd(id, BAD, 1, 0));
    res("negative id", msgsnd(-1, &m, 1, 0));
    res("no such id", msgsnd(0x7ffffffe, &m, 1, 0));
    errno = 0;
    res("receive size -1", msgrcv(id, &m, (size_t)-1, 0, 0));
    res("receive into a bad buffer", msgrcv(id, BAD, 8192, 0, IPC_NOWAIT));
    printf("the message is gone: %lu\n", (unsigned long)stat_of(id).msg_qnum);
    CHECK(msgctl(id, IPC_RMID, NULL) == 0);
    errno = 0;
    res("send after IPC_RMID", msgsnd(id, &m, 1, 0));
    res("receive after IPC_RMID", msgrcv(id, &m, 1, 0, 0));
}

static void full(void) {
    int id = msgget(IPC_PRIVATE, 0600);
    CHECK(id >= 0);
    struct msg m = {.mtype = 1};
    memset(m.mtext, 'a', 8192);
    CHECK(msgsnd(id, &m, 8192, 0) == 0);
    CHECK(msgsnd(id, &m, 8192, 0) == 0);
    errno = 0;
    res("full, IPC_NOWAIT", msgsnd(id, &m, 1, IPC_NOWAIT));
    pid_t pid = fork();
    if (pid == 0) {
        m.mtype = 2;
        strcpy(m.mtext, "waited");
        _exit(msgsnd(id, &m, 6, 0) == 0 ? 0 : 1);
    }
    usleep(20000);
    recv(id, "make room", 1, 8192, 0);
    CHECK(wait_child(pid) == 0);
    recv(id, "what the waiting sender sent", 2, 100, 0);
    // msg_qbytes also bounds the number of messages.
    struct msqid_ds ds = stat_of(id);
    ds.msg_qbytes = 8195;
    CHECK(msgctl(id, IPC_SET, &ds) == 0);
    errno = 0;
    int n = 0;
    while (msgsnd(id, &m, 0, IPC_NOWAIT) == 0)
        n++;
    printf("empty messages that fit besides 8192 bytes: %d (%s)\n", n, ename(errno));
    // (Past msgmnb needs CAP_SYS_RESOURCE, which a container's root may lack: not
    // checked here.)
    printf("qbytes %lu\n", (unsigned long)stat_of(id).msg_qbytes);
    CHECK(msgctl(id, IPC_RMID, NULL) == 0);
}

static void on_usr1(int s) { (void)s; }

static void waits(void) {
    int id = msgget(IPC_PRIVATE, 0600);
    CHECK(id >= 0);
    pid_t pid = fork();
    if (pid == 0) {
        recv(id, "waited for type 5", 5, 100, 0);
        _exit(0);
    }
    send(id, 4, "four");
    usleep(20000);
    send(id, 5, "five");
    CHECK(wait_child(pid) == 0);
    recv(id, "left", 0, 100, IPC_NOWAIT);
    // A signal with a handler ends the wait, SA_RESTART or not (the handler is set
    // before the fork: the first signal may come before the child runs).
    struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_RESTART}, old;
    sigaction(SIGUSR1, &sa, &old);
    pid = fork();
    if (pid == 0) {
        struct msg m;
        for (;;) {
            errno = 0;
            if (msgrcv(id, &m, 100, 0, 0) < 0 && errno == EINTR) {
                printf("interrupted receive: EINTR\n");
                _exit(0);
            }
        }
    }
    while (waitpid(pid, NULL, WNOHANG) == 0) {
        kill(pid, SIGUSR1);
        usleep(10000);
    }
    sigaction(SIGUSR1, &old, NULL);
    // Removed while waiting (or before: either way the receive fails).
    pid = fork();
    if (pid == 0) {
        struct msg m;
        errno = 0;
        long r = msgrcv(id, &m, 100, 0, 0);
        printf("removed: %ld %s\n", r, errno == EIDRM || errno == EINVAL ? "gone" : ename(errno));
        _exit(0);
    }
    usleep(20000);
    CHECK(msgctl(id, IPC_RMID, NULL) == 0);
    CHECK(wait_child(pid) == 0);
}

static void control(void) {
    int key = key_of(1);
    int id = msgget(key, IPC_CREAT | IPC_EXCL | 0600);
    CHECK(id >= 0);
    errno = 0;
    res("again with IPC_EXCL", msgget(key, IPC_CREAT | IPC_EXCL | 0600));
    printf("again: same %d\n", msgget(key, 0) == id);
    errno = 0;
    res("missing key", msgget(key_of(2), 0));
    struct msqid_ds ds = stat_of(id);
    errno = 0;
    res("IPC_STAT bad buffer", msgctl(id, IPC_STAT, BAD));
    res("IPC_SET bad buffer", msgctl(id, IPC_SET, BAD));
    res("unknown command", msgctl(id, 99, &ds));
    res("negative command", msgctl(id, -1, &ds));
    res("IPC_STAT|IPC_64", syscall(SYS_msgctl, id, IPC_STAT | 0x100, &ds));
    res("negative id", msgctl(-1, IPC_STAT, &ds));
    struct msginfo mi;
    int max = msgctl(0, IPC_INFO, (struct msqid_ds *)&mi);
    printf("IPC_INFO %d: pool %d map %d max %d mnb %d mni %d ssz %d tql %d seg %u\n", max >= 0,
           mi.msgpool, mi.msgmap, mi.msgmax, mi.msgmnb, mi.msgmni, mi.msgssz, mi.msgtql,
           mi.msgseg);
    send(id, 1, "abc");
    max = msgctl(0, MSG_INFO, (struct msqid_ds *)&mi);
    printf("MSG_INFO %d: queues %d headers %d bytes %d\n", max >= id % 32768, mi.msgpool >= 1,
           mi.msgmap >= 1, mi.msgtql >= 3);
    printf("MSG_STAT %d\n", msgctl(id % 32768, MSG_STAT, &ds) == id);
    FILE *f = fopen("/proc/sysvipc/msg", "r");
    CHECK(f);
    char line[512];
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        int k, qid;
        unsigned perms;
        unsigned long cbytes, qnum;
        if (sscanf(line, "%d %d %o %lu %lu", &k, &qid, &perms, &cbytes, &qnum) == 5 && qid == id)
            found = k == key && perms == 0600 && cbytes == 3 && qnum == 1;
    }
    fclose(f);
    printf("/proc/sysvipc/msg: %d\n", found);
    const char *files[] = {"msgmax", "msgmnb", "msgmni"};
    for (unsigned i = 0; i < 3; i++) {
        char path[64], buf[64] = "";
        snprintf(path, sizeof path, "/proc/sys/kernel/%s", files[i]);
        f = fopen(path, "r");
        CHECK(f && fgets(buf, sizeof buf, f));
        fclose(f);
        printf("%s: %s", files[i], buf);
    }
    pid_t pid = fork();
    if (pid == 0) {
        CHECK(setgid(65534) == 0 && setuid(65534) == 0);
        struct msg m = {.mtype = 1};
        errno = 0;
        res("nobody: send 0600", msgsnd(id, &m, 1, 0));
        res("nobody: receive 0600", msgrcv(id, &m, 1, 0, IPC_NOWAIT));
        res("nobody: IPC_STAT 0600", msgctl(id, IPC_STAT, &ds));
        printf("nobody: MSG_STAT_ANY %d\n", msgctl(id % 32768, MSG_STAT_ANY, &ds) == id);
        errno = 0;
        res("nobody: IPC_RMID", msgctl(id, IPC_RMID, NULL));
        res("nobody: IPC_SET", msgctl(id, IPC_SET, &ds));
        res("nobody: get asking rw", msgget(key, 0600));
        _exit(0);
    }
    CHECK(wait_child(pid) == 0);
    ds.msg_perm.mode = 0602;
    ds.msg_perm.uid = 65534;
    CHECK(msgctl(id, IPC_SET, &ds) == 0);
    pid = fork();
    if (pid == 0) {
        CHECK(setgid(65534) == 0 && setuid(65534) == 0);
        struct msg m = {.mtype = 1};
        errno = 0;
        res("nobody: send 0602", msgsnd(id, &m, 1, 0));
        res("nobody: receive 0602", msgrcv(id, &m, 1, 0, IPC_NOWAIT));
        struct msqid_ds d = ds;
        d.msg_qbytes = 20000;
        errno = 0;
        res("owner nobody: msg_qbytes past msgmnb", msgctl(id, IPC_SET, &d));
        d.msg_qbytes = 1000;
        res("owner nobody: msg_qbytes 1000", msgctl(id, IPC_SET, &d));
        res("owner nobody: IPC_RMID", msgctl(id, IPC_RMID, NULL));
        _exit(0);
    }
    CHECK(wait_child(pid) == 0);
    errno = 0;
    res("removed by its owner", msgctl(id, IPC_STAT, &ds));
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    first = getpid();
    selection();
    full();
    waits();
    control();
    printf("done\n");
    return 0;
}
