// System V semaphores: semget (private, keys, nsems rules), semctl (GETVAL, SETVAL,
// GETALL, SETALL, GETPID, GETNCNT, GETZCNT, IPC_STAT, SEM_STAT, SEM_STAT_ANY, IPC_SET,
// IPC_RMID, IPC_INFO, SEM_INFO), semop/semtimedop (atomic arrays, IPC_NOWAIT, ERANGE,
// EFBIG, E2BIG, timeouts), a ping-pong between two processes, SEM_UNDO applied at exit
// (clamped, cleared by SETVAL, shared by threads), a blocked semop ended by a signal
// (EINTR even with SA_RESTART) and by IPC_RMID (EIDRM), permissions for another uid,
// /proc/sysvipc/sem. Ids, keys and pids are never printed; everything made is removed.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHECK(c)                                                                  \
    do {                                                                          \
        if (!(c)) {                                                               \
            printf("FAIL %s:%d: %s (errno %d)\n", __FILE__, __LINE__, #c, errno); \
            exit(1);                                                              \
        }                                                                         \
    } while (0)

#define BAD ((void *)0x10)

union semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
    struct seminfo *__buf;
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
    case ERANGE: return "ERANGE";
    case EFBIG: return "EFBIG";
    case E2BIG: return "E2BIG";
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
    return (key_t)(0x5e000000 | ((first & 0xfffff) << 4) | n);
}

static int getval(int id, int n) {
    int v = semctl(id, n, GETVAL);
    CHECK(v >= 0);
    return v;
}

static void setval(int id, int n, int v) {
    CHECK(semctl(id, n, SETVAL, (union semun){.val = v}) == 0);
}

static int op(int id, unsigned short num, short delta, short flg) {
    struct sembuf b = {num, delta, flg};
    return semop(id, &b, 1);
}

static int wait_child(pid_t pid) {
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    if (WIFSIGNALED(st))
        return 1000 + WTERMSIG(st);
    return WEXITSTATUS(st);
}

// Waits until `n` processes sleep on semaphore `num` (GETNCNT, or GETZCNT with `zero`).
static void until_waiting(int id, int num, int zero, int n) {
    for (int i = 0; i < 10000; i++) {
        if (semctl(id, num, zero ? GETZCNT : GETNCNT) == n)
            return;
        usleep(1000);
    }
    CHECK(!"nobody waits");
}

static void basics(void) {
    int id = semget(IPC_PRIVATE, 3, 0600);
    CHECK(id >= 0);
    struct semid_ds ds;
    CHECK(semctl(id, 0, IPC_STAT, (union semun){.buf = &ds}) == 0);
    printf("nsems %lu mode %o otime %ld ctime %d\n", (unsigned long)ds.sem_nsems,
           ds.sem_perm.mode, (long)ds.sem_otime, ds.sem_ctime != 0);
    unsigned short all[3] = {9, 9, 9};
    CHECK(semctl(id, 0, GETALL, (union semun){.array = all}) == 0);
    printf("GETALL %d %d %d\n", all[0], all[1], all[2]);
    setval(id, 0, 5);
    printf("GETVAL %d GETPID is me %d\n", getval(id, 0), semctl(id, 0, GETPID) == getpid());
    unsigned short set[3] = {1, 2, 3};
    CHECK(semctl(id, 0, SETALL, (union semun){.array = set}) == 0);
    CHECK(semctl(id, 0, GETALL, (union semun){.array = all}) == 0);
    printf("after SETALL %d %d %d\n", all[0], all[1], all[2]);
    // All or nothing: the second operation can't go, so the first doesn't either.
    struct sembuf two[2] = {{0, -1, 0}, {1, -5, IPC_NOWAIT}};
    errno = 0;
    res("array blocked on its second", semop(id, two, 2));
    printf("unchanged %d %d\n", getval(id, 0), getval(id, 1));
    // In order: the second sees the first.
    struct sembuf seq[3] = {{2, 4, 0}, {2, -7, 0}, {0, 0, IPC_NOWAIT}};
    res("wait for zero on 1", semop(id, seq, 3));
    seq[2].sem_num = 1;
    seq[2].sem_op = -2;
    res("array in order", semop(id, seq, 3));
    printf("now %d %d %d\n", getval(id, 0), getval(id, 1), getval(id, 2));
    CHECK(semctl(id, 0, IPC_STAT, (union semun){.buf = &ds}) == 0);
    printf("otime set %d\n", ds.sem_otime != 0);
    setval(id, 0, 32767);
    errno = 0;
    res("past SEMVMX", op(id, 0, 1, 0));
    res("SETVAL -1", semctl(id, 0, SETVAL, (union semun){.val = -1}));
    res("SETVAL 32768", semctl(id, 0, SETVAL, (union semun){.val = 32768}));
    set[1] = 40000;
    res("SETALL past SEMVMX", semctl(id, 0, SETALL, (union semun){.array = set}));
    res("semnum 3", op(id, 3, 1, 0));
    struct sembuf many[501];
    memset(many, 0, sizeof many);
    res("501 operations", semop(id, many, 501));
    res("no operations", semop(id, many, 0));
    res("bad array", semop(id, BAD, 1));
    res("negative id", op(-1, 0, 1, 0));
    res("no such id", op(0x7ffffffe, 0, 1, 0));
    struct timespec t = {0, 1000000000};
    res("timeout nsec 1e9", semtimedop(id, many, 1, &t));
    res("bad timeout", semtimedop(id, many, 1, BAD));
    t.tv_nsec = 20 * 1000 * 1000;
    setval(id, 1, 0);
    struct sembuf down = {1, -1, 0};
    res("timed out", semtimedop(id, &down, 1, &t));
    printf("ncnt after timeout %d\n", semctl(id, 1, GETNCNT));
    res("GETVAL semnum 3", semctl(id, 3, GETVAL));
    res("GETVAL semnum -1", semctl(id, -1, GETVAL));
    res("SETVAL semnum 3", semctl(id, 3, SETVAL, (union semun){.val = 1}));
    res("GETALL bad array", semctl(id, 0, GETALL, (union semun){.array = BAD}));
    res("SETALL bad array", semctl(id, 0, SETALL, (union semun){.array = BAD}));
    res("IPC_STAT bad buffer", semctl(id, 0, IPC_STAT, (union semun){.buf = BAD}));
    res("unknown command", semctl(id, 0, 99));
    res("IPC_STAT|IPC_64", syscall(SYS_semctl, id, 0, IPC_STAT | 0x100, &ds));
    res("negative id", semctl(-1, 0, GETVAL));
    CHECK(semctl(id, 0, IPC_RMID) == 0);
    errno = 0;
    res("GETVAL after IPC_RMID", semctl(id, 0, GETVAL));
    res("semop after IPC_RMID", op(id, 0, 1, 0));
}

static void keys(void) {
    int id = semget(key_of(1), 2, IPC_CREAT | IPC_EXCL | 0600);
    CHECK(id >= 0);
    errno = 0;
    res("again with IPC_EXCL", semget(key_of(1), 2, IPC_CREAT | IPC_EXCL | 0600));
    printf("nsems 0 finds it %d\n", semget(key_of(1), 0, 0) == id);
    printf("nsems 2 finds it %d\n", semget(key_of(1), 2, 0) == id);
    errno = 0;
    res("nsems 3", semget(key_of(1), 3, 0));
    res("missing key", semget(key_of(2), 1, 0));
    res("new with nsems 0", semget(IPC_PRIVATE, 0, 0600));
    res("nsems -1", semget(IPC_PRIVATE, -1, 0600));
    res("nsems 32001", semget(IPC_PRIVATE, 32001, 0600));
    CHECK(semctl(id, 0, IPC_RMID) == 0);
}

static void ping_pong(void) {
    int id = semget(IPC_PRIVATE, 2, 0600);
    CHECK(id >= 0);
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; i < 3; i++) {
            CHECK(op(id, 0, -1, 0) == 0);
            printf("pong %d\n", i);
            CHECK(op(id, 1, 1, 0) == 0);
        }
        _exit(0);
    }
    for (int i = 0; i < 3; i++) {
        printf("ping %d\n", i);
        CHECK(op(id, 0, 1, 0) == 0);
        CHECK(op(id, 1, -1, 0) == 0);
    }
    CHECK(wait_child(pid) == 0);
    CHECK(semctl(id, 0, IPC_RMID) == 0);
}

static void *undo_thread(void *arg) {
    int id = *(int *)arg;
    CHECK(op(id, 0, 2, SEM_UNDO) == 0);
    return NULL;
}

static void undo(void) {
    int id = semget(IPC_PRIVATE, 2, 0600);
    CHECK(id >= 0);
    pid_t pid = fork();
    if (pid == 0) {
        CHECK(op(id, 0, 3, SEM_UNDO) == 0);
        CHECK(op(id, 1, 5, SEM_UNDO) == 0);
        _exit(0);
    }
    CHECK(wait_child(pid) == 0);
    printf("undone at exit: %d %d\n", getval(id, 0), getval(id, 1));
    // Clamped at 0, and the semaphore shows the exited process.
    pid = fork();
    if (pid == 0) {
        CHECK(op(id, 0, 5, SEM_UNDO) == 0);
        _exit(0);
    }
    CHECK(wait_child(pid) == 0);
    // (That one was undone already; now one that is overtaken.)
    int p[2];
    CHECK(pipe(p) == 0);
    pid = fork();
    if (pid == 0) {
        CHECK(op(id, 0, 5, SEM_UNDO) == 0);
        CHECK(write(p[1], "x", 1) == 1);
        pause();
        _exit(0);
    }
    char c;
    CHECK(read(p[0], &c, 1) == 1);
    CHECK(op(id, 0, -4, 0) == 0);
    kill(pid, SIGKILL);
    CHECK(wait_child(pid) == 1000 + SIGKILL);
    printf("clamped: %d, pid is the child's %d\n", getval(id, 0), semctl(id, 0, GETPID) == pid);
    // SETVAL clears the adjustment.
    pid = fork();
    if (pid == 0) {
        CHECK(op(id, 1, 4, SEM_UNDO) == 0);
        setval(id, 1, 10);
        _exit(0);
    }
    CHECK(wait_child(pid) == 0);
    printf("SETVAL cleared the undo: %d\n", getval(id, 1));
    // A thread's adjustment belongs to its process: applied when the process exits.
    int q[2];
    CHECK(pipe(q) == 0);
    setval(id, 0, 0);
    pid = fork();
    if (pid == 0) {
        pthread_t t;
        CHECK(pthread_create(&t, NULL, undo_thread, &id) == 0);
        CHECK(pthread_join(t, NULL) == 0);
        CHECK(write(p[1], "x", 1) == 1);
        CHECK(read(q[0], &c, 1) == 1);
        _exit(0);
    }
    CHECK(read(p[0], &c, 1) == 1);
    printf("after the thread: %d\n", getval(id, 0));
    CHECK(write(q[1], "y", 1) == 1);
    CHECK(wait_child(pid) == 0);
    printf("after the process: %d\n", getval(id, 0));
    // A fork doesn't inherit the adjustments.
    CHECK(op(id, 0, 1, SEM_UNDO) == 0);
    pid = fork();
    if (pid == 0)
        _exit(0);
    CHECK(wait_child(pid) == 0);
    printf("a fork's exit undoes nothing: %d\n", getval(id, 0));
    // An overflowing adjustment.
    setval(id, 1, 32767);
    CHECK(op(id, 1, -32767, SEM_UNDO) == 0);
    CHECK(op(id, 1, 1, 0) == 0);
    errno = 0;
    res("adjustment past SEMAEM", op(id, 1, -1, SEM_UNDO | IPC_NOWAIT));
    close(p[0]);
    close(p[1]);
    close(q[0]);
    close(q[1]);
    CHECK(semctl(id, 0, IPC_RMID) == 0);
}

static void on_usr1(int s) { (void)s; }

static void waits(void) {
    int id = semget(IPC_PRIVATE, 2, 0600);
    CHECK(id >= 0);
    // A signal ends the wait with EINTR, SA_RESTART or not.
    pid_t pid = fork();
    if (pid == 0) {
        struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_RESTART};
        sigaction(SIGUSR1, &sa, NULL);
        errno = 0;
        int r = op(id, 0, -1, 0);
        printf("interrupted: %d %s\n", r, ename(errno));
        _exit(0);
    }
    until_waiting(id, 0, 0, 1);
    kill(pid, SIGUSR1);
    CHECK(wait_child(pid) == 0);
    printf("ncnt after %d\n", semctl(id, 0, GETNCNT));
    // Wait for zero, woken by SETVAL 0.
    setval(id, 1, 2);
    pid = fork();
    if (pid == 0) {
        printf("zero wait: %s\n", op(id, 1, 0, 0) == 0 ? "ok" : ename(errno));
        _exit(0);
    }
    until_waiting(id, 1, 1, 1);
    printf("zcnt %d ncnt %d\n", semctl(id, 1, GETZCNT), semctl(id, 1, GETNCNT));
    setval(id, 1, 0);
    CHECK(wait_child(pid) == 0);
    // Woken by an increment that lets it through.
    pid = fork();
    if (pid == 0) {
        printf("down: %s, value %d\n", op(id, 0, -2, 0) == 0 ? "ok" : ename(errno),
               getval(id, 0));
        _exit(0);
    }
    until_waiting(id, 0, 0, 1);
    CHECK(op(id, 0, 1, 0) == 0);
    usleep(20000);
    printf("still waiting %d\n", semctl(id, 0, GETNCNT));
    CHECK(op(id, 0, 1, 0) == 0);
    CHECK(wait_child(pid) == 0);
    // Removed while waiting.
    pid = fork();
    if (pid == 0) {
        errno = 0;
        int r = op(id, 0, -1, 0);
        printf("removed while waiting: %d %s\n", r, ename(errno));
        _exit(0);
    }
    until_waiting(id, 0, 0, 1);
    CHECK(semctl(id, 0, IPC_RMID) == 0);
    CHECK(wait_child(pid) == 0);
}

static void control(void) {
    int id = semget(IPC_PRIVATE, 1, 0640);
    CHECK(id >= 0);
    struct semid_ds ds;
    CHECK(semctl(id, 0, IPC_STAT, (union semun){.buf = &ds}) == 0);
    ds.sem_perm.mode = 0604;
    ds.sem_perm.gid = 4321;
    CHECK(semctl(id, 0, IPC_SET, (union semun){.buf = &ds}) == 0);
    CHECK(semctl(id, 0, IPC_STAT, (union semun){.buf = &ds}) == 0);
    printf("after IPC_SET: mode %o gid %d cgid %d\n", ds.sem_perm.mode, ds.sem_perm.gid,
           ds.sem_perm.cgid);
    errno = 0;
    res("IPC_SET bad buffer", semctl(id, 0, IPC_SET, (union semun){.buf = BAD}));
    struct seminfo si;
    int max = semctl(0, 0, IPC_INFO, (union semun){.__buf = &si});
    printf("IPC_INFO %d: msl %d mns %d opm %d mni %d vmx %d aem %d usz %d ume %d\n", max >= 0,
           si.semmsl, si.semmns, si.semopm, si.semmni, si.semvmx, si.semaem, si.semusz,
           si.semume);
    max = semctl(0, 0, SEM_INFO, (union semun){.__buf = &si});
    printf("SEM_INFO %d: sets %d sems %d\n", max >= id % 32768, si.semusz >= 1, si.semaem >= 1);
    printf("SEM_STAT %d\n", semctl(id % 32768, 0, SEM_STAT, (union semun){.buf = &ds}) == id);
    pid_t pid = fork();
    if (pid == 0) {
        CHECK(setgid(65534) == 0 && setuid(65534) == 0);
        errno = 0;
        res("nobody: GETVAL 0604", semctl(id, 0, GETVAL));
        res("nobody: SETVAL 0604", semctl(id, 0, SETVAL, (union semun){.val = 1}));
        res("nobody: wait for zero 0604", op(id, 0, 0, IPC_NOWAIT));
        res("nobody: increment 0604", op(id, 0, 1, 0));
        res("nobody: IPC_RMID", semctl(id, 0, IPC_RMID));
        res("nobody: IPC_SET", semctl(id, 0, IPC_SET, (union semun){.buf = &ds}));
        ds.sem_perm.mode = 0600;
        _exit(0);
    }
    CHECK(wait_child(pid) == 0);
    ds.sem_perm.mode = 0600;
    CHECK(semctl(id, 0, IPC_SET, (union semun){.buf = &ds}) == 0);
    pid = fork();
    if (pid == 0) {
        CHECK(setgid(65534) == 0 && setuid(65534) == 0);
        errno = 0;
        res("nobody: GETVAL 0600", semctl(id, 0, GETVAL));
        res("nobody: IPC_STAT 0600", semctl(id, 0, IPC_STAT, (union semun){.buf = &ds}));
        res("nobody: SEM_STAT 0600", semctl(id % 32768, 0, SEM_STAT, (union semun){.buf = &ds}));
        printf("nobody: SEM_STAT_ANY 0600: %d\n",
               semctl(id % 32768, 0, SEM_STAT_ANY, (union semun){.buf = &ds}) == id);
        _exit(0);
    }
    CHECK(wait_child(pid) == 0);
    FILE *f = fopen("/proc/sysvipc/sem", "r");
    CHECK(f);
    char line[512];
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        int key, sid;
        unsigned perms, nsems;
        if (sscanf(line, "%d %d %o %u", &key, &sid, &perms, &nsems) == 4 && sid == id)
            found = key == 0 && perms == 0600 && nsems == 1;
    }
    fclose(f);
    printf("/proc/sysvipc/sem: %d\n", found);
    f = fopen("/proc/sys/kernel/sem", "r");
    CHECK(f && fgets(line, sizeof line, f));
    fclose(f);
    printf("kernel.sem: %s", line);
    CHECK(semctl(id, 0, IPC_RMID) == 0);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    first = getpid();
    basics();
    keys();
    ping_pong();
    undo();
    waits();
    control();
    printf("done\n");
    return 0;
}
