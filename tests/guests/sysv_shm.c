// System V shared memory: shmget (private, keys, IPC_CREAT|IPC_EXCL, size rules,
// SHM_HUGETLB), shmat (any address, a given one, SHM_RND, SHM_REMAP, SHM_RDONLY with a
// write fault and mprotect), shmdt, sharing across fork and with an unrelated process
// that finds the segment by key, shm_nattch across fork, exec and exit, IPC_RMID while
// attached (SHM_DEST, private key, gone at the last detach), IPC_STAT/SHM_STAT/
// SHM_STAT_ANY/IPC_SET/IPC_INFO/SHM_INFO/SHM_LOCK, permissions for another uid, bad
// arguments, /proc/sysvipc/shm and /proc/self/maps. Ids, keys and pids are never printed
// (the host's namespace is shared with other tests); everything made is removed.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
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

static const char *ename(int e) {
    switch (e) {
    case 0: return "ok";
    case EINVAL: return "EINVAL";
    case ENOENT: return "ENOENT";
    case EEXIST: return "EEXIST";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EFAULT: return "EFAULT";
    case ENOMEM: return "ENOMEM";
    case ENOSPC: return "ENOSPC";
    case EIDRM: return "EIDRM";
    default: return strerror(e);
    }
}

static void res(const char *what, long r) {
    printf("%s: %s\n", what, r < 0 ? ename(errno) : "ok");
}

// Keys of this run: from the first process's pid, so runs don't collide.
static pid_t first;

static key_t key_of(int n) {
    return (key_t)(0x5d000000 | ((first & 0xfffff) << 4) | n);
}

static struct shmid_ds stat_of(int id) {
    struct shmid_ds ds;
    CHECK(shmctl(id, IPC_STAT, &ds) == 0);
    return ds;
}

static int wait_child(pid_t pid) {
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    if (WIFSIGNALED(st))
        return 1000 + WTERMSIG(st);
    return WEXITSTATUS(st);
}

// Re-executed as "attach KEY": finds the segment by key, writes to it, detaches.
static int attach_by_key(const char *k) {
    key_t key = (key_t)strtol(k, NULL, 0);
    int id = shmget(key, 0, 0);
    CHECK(id >= 0);
    char *p = shmat(id, NULL, 0);
    CHECK(p != (void *)-1);
    printf("stranger reads: %s\n", p);
    strcpy(p, "written by a stranger");
    CHECK(shmdt(p) == 0);
    return 0;
}

// Re-executed as "nattch ID": what another process sees.
static int show_nattch(const char *s) {
    printf("after exec, nattch %lu\n", (unsigned long)stat_of(atoi(s)).shm_nattch);
    return 0;
}

static void basics(void) {
    int id = shmget(IPC_PRIVATE, 10000, 0600);
    CHECK(id >= 0);
    struct shmid_ds ds = stat_of(id);
    printf("segsz %zu mode %o key %d nattch %lu cpid-is-me %d lpid %d times %d\n",
           ds.shm_segsz, ds.shm_perm.mode, ds.shm_perm.__key, (unsigned long)ds.shm_nattch,
           ds.shm_cpid == getpid(), ds.shm_lpid, ds.shm_atime == 0 && ds.shm_ctime != 0);
    char *p = shmat(id, NULL, 0);
    CHECK(p != (void *)-1);
    printf("aligned %d zero %d\n", ((uintptr_t)p & 4095) == 0, p[0] == 0 && p[9999] == 0);
    ds = stat_of(id);
    printf("nattch %lu lpid-is-me %d atime %d\n", (unsigned long)ds.shm_nattch,
           ds.shm_lpid == getpid(), ds.shm_atime != 0);
    strcpy(p, "from the parent");
    // Past the segment's size, inside its last page: part of the mapping.
    p[10000] = 'x';
    pid_t pid = fork();
    if (pid == 0) {
        printf("child sees: %s, nattch %lu\n", p, (unsigned long)stat_of(id).shm_nattch);
        strcpy(p, "from the child");
        _exit(0);
    }
    CHECK(wait_child(pid) == 0);
    printf("parent sees: %s, nattch %lu\n", p, (unsigned long)stat_of(id).shm_nattch);
    // A second attach of the same segment shares the pages too.
    char *q = shmat(id, NULL, SHM_RDONLY);
    CHECK(q != (void *)-1 && q != p);
    printf("second attach: %s, nattch %lu\n", q, (unsigned long)stat_of(id).shm_nattch);
    // Read-only: mprotect can't make it writable, and a write faults.
    errno = 0;
    res("mprotect rdonly attach writable", mprotect(q, 4096, PROT_READ | PROT_WRITE));
    pid = fork();
    if (pid == 0) {
        q[0] = 'y';
        _exit(0);
    }
    printf("write to rdonly attach: %s\n", wait_child(pid) == 1000 + SIGSEGV ? "SIGSEGV" : "?");
    // A partial munmap splits the attach: shmdt still takes all that is left.
    CHECK(shmdt(q) == 0);
    CHECK(munmap(p + 4096, 4096) == 0);
    printf("after split, nattch %lu\n", (unsigned long)stat_of(id).shm_nattch);
    CHECK(shmdt(p) == 0);
    ds = stat_of(id);
    printf("after shmdt, nattch %lu dtime %d\n", (unsigned long)ds.shm_nattch, ds.shm_dtime != 0);
    errno = 0;
    res("shmdt again", shmdt(p));
    res("shmdt misaligned", shmdt(p + 1));
    res("shmdt of the stack", shmdt((void *)((uintptr_t)&ds & ~4095UL)));
    // Attach, then exec: the exec drops the attach.
    p = shmat(id, NULL, 0);
    CHECK(p != (void *)-1);
    pid = fork();
    if (pid == 0) {
        char ids[16];
        snprintf(ids, sizeof ids, "%d", id);
        execl("/proc/self/exe", "sysv_shm", "nattch", ids, (char *)NULL);
        _exit(99);
    }
    CHECK(wait_child(pid) == 0);
    // Exit drops a forked child's attach.
    pid = fork();
    if (pid == 0)
        _exit(stat_of(id).shm_nattch == 2 ? 0 : 1);
    printf("child had 2, exit leaves %lu\n",
           (unsigned long)(wait_child(pid) == 0 ? stat_of(id).shm_nattch : 99));
    // Removed while attached: destroyed at the last detach.
    CHECK(shmctl(id, IPC_RMID, NULL) == 0);
    ds = stat_of(id);
    printf("removed: dest %d key %d nattch %lu\n", (ds.shm_perm.mode & SHM_DEST) != 0,
           ds.shm_perm.__key, (unsigned long)ds.shm_nattch);
    strcpy(p, "still usable");
    printf("%s\n", p);
    CHECK(shmdt(p) == 0);
    errno = 0;
    res("stat after last detach", shmctl(id, IPC_STAT, &ds));
}

static void keys(char *self) {
    key_t key = key_of(1);
    int id = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600);
    CHECK(id >= 0);
    errno = 0;
    res("again with IPC_EXCL", shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600));
    printf("again without: same %d\n", shmget(key, 4096, IPC_CREAT | 0600) == id);
    printf("size 0 finds it: %d\n", shmget(key, 0, 0) == id);
    printf("smaller finds it: %d\n", shmget(key, 100, 0) == id);
    errno = 0;
    res("larger than it", shmget(key, 8192, 0));
    res("larger with IPC_CREAT", shmget(key, 8192, IPC_CREAT | 0600));
    res("missing key", shmget(key_of(2), 4096, 0));
    CHECK(key_of(1) == stat_of(id).shm_perm.__key);
    char *p = shmat(id, NULL, 0);
    CHECK(p != (void *)-1);
    strcpy(p, "left by the creator");
    pid_t pid = fork();
    if (pid == 0) {
        char k[32];
        snprintf(k, sizeof k, "%d", key);
        execl(self, "sysv_shm", "attach", k, (char *)NULL);
        _exit(99);
    }
    CHECK(wait_child(pid) == 0);
    printf("creator reads: %s\n", p);
    CHECK(shmdt(p) == 0);
    CHECK(shmctl(id, IPC_RMID, NULL) == 0);
    errno = 0;
    res("key after removal", shmget(key, 0, 0));
}

static void sizes(void) {
    errno = 0;
    res("size 0", shmget(IPC_PRIVATE, 0, 0600));
    res("size SIZE_MAX", shmget(IPC_PRIVATE, SIZE_MAX, 0600));
    res("SHM_HUGETLB", shmget(IPC_PRIVATE, 2 << 20, SHM_HUGETLB | 0600));
    int id = shmget(IPC_PRIVATE, 1, 0600);
    CHECK(id >= 0);
    printf("one byte: segsz %zu\n", stat_of(id).shm_segsz);
    CHECK(shmctl(id, IPC_RMID, NULL) == 0);
}

static void addresses(void) {
    int id = shmget(IPC_PRIVATE, 8192, 0600);
    CHECK(id >= 0);
    char *p = shmat(id, NULL, 0);
    CHECK(p != (void *)-1);
    strcpy(p, "here");
    CHECK(shmdt(p) == 0);
    char *q = shmat(id, p, 0);
    printf("at the given address: %d %s\n", q == p, q);
    errno = 0;
    res("again over it", (long)shmat(id, p, 0));
    res("misaligned", (long)shmat(id, p + 100, 0));
    char *r = shmat(id, p + 100, SHM_RND | SHM_REMAP);
    printf("SHM_RND|SHM_REMAP rounds down: %d\n", r == p);
    errno = 0;
    res("SHM_REMAP without an address", (long)shmat(id, NULL, SHM_REMAP));
    CHECK(shmdt(p) == 0);
    // Over an anonymous mapping: only with SHM_REMAP.
    char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED);
    errno = 0;
    res("over a mapping", (long)shmat(id, m, 0));
    q = shmat(id, m, SHM_REMAP);
    printf("SHM_REMAP over a mapping: %d %s\n", q == m, q);
    CHECK(shmdt(q) == 0);
    errno = 0;
    res("bad id", (long)shmat(0x7fffffff, NULL, 0));
    res("negative id", (long)shmat(-1, NULL, 0));
    CHECK(shmctl(id, IPC_RMID, NULL) == 0);
    res("removed id", (long)shmat(id, NULL, 0));
}

static void control(void) {
    int id = shmget(IPC_PRIVATE, 4096, 0640);
    CHECK(id >= 0);
    struct shmid_ds ds = stat_of(id);
    ds.shm_perm.mode = 0604;
    ds.shm_perm.uid = 1234;
    CHECK(shmctl(id, IPC_SET, &ds) == 0);
    ds = stat_of(id);
    printf("after IPC_SET: mode %o uid %d cuid %d\n", ds.shm_perm.mode, ds.shm_perm.uid,
           ds.shm_perm.cuid);
    ds.shm_perm.uid = (uid_t)-1;
    errno = 0;
    res("IPC_SET uid -1", shmctl(id, IPC_SET, &ds));
    res("IPC_SET bad buffer", shmctl(id, IPC_SET, BAD));
    res("IPC_STAT bad buffer", shmctl(id, IPC_STAT, BAD));
    res("negative command", shmctl(id, -1, &ds));
    res("unknown command", shmctl(id, 99, &ds));
    res("IPC_STAT|IPC_64", syscall(SYS_shmctl, id, IPC_STAT | 0x100, &ds));
    res("negative id", shmctl(-1, IPC_STAT, &ds));
    res("no such id", shmctl(0x7ffffffe, IPC_STAT, &ds));
    CHECK(shmctl(id, SHM_LOCK, NULL) == 0);
    printf("locked %d\n", (stat_of(id).shm_perm.mode & SHM_LOCKED) != 0);
    CHECK(shmctl(id, SHM_UNLOCK, NULL) == 0);
    printf("unlocked %d\n", (stat_of(id).shm_perm.mode & SHM_LOCKED) == 0);
    struct shminfo info;
    long max = shmctl(0, IPC_INFO, (struct shmid_ds *)&info);
    printf("IPC_INFO: %d shmmin %lu shmmni %lu shmseg %lu max %d\n", max >= 0, info.shmmin,
           info.shmmni, info.shmseg, info.shmmax > (1UL << 40));
    struct shm_info si;
    max = shmctl(0, SHM_INFO, (struct shmid_ds *)&si);
    printf("SHM_INFO: %d used %d\n", max >= id % 32768, si.used_ids >= 1);
    // SHM_STAT takes an index and returns the id.
    printf("SHM_STAT: %d\n", shmctl(id % 32768, SHM_STAT, &ds) == id);
    printf("SHM_STAT_ANY: %d\n", shmctl(id % 32768, SHM_STAT_ANY, &ds) == id);
    errno = 0;
    res("IPC_INFO bad buffer", shmctl(0, IPC_INFO, BAD));
    CHECK(shmctl(id, IPC_RMID, NULL) == 0);
}

static void other_user(void) {
    int priv = shmget(IPC_PRIVATE, 4096, 0600);
    int ro = shmget(key_of(3), 4096, IPC_CREAT | IPC_EXCL | 0644);
    CHECK(priv >= 0 && ro >= 0);
    pid_t pid = fork();
    if (pid == 0) {
        CHECK(setuid(65534) == 0);
        struct shmid_ds ds;
        errno = 0;
        res("nobody: attach 0600", (long)shmat(priv, NULL, 0));
        res("nobody: IPC_STAT 0600", shmctl(priv, IPC_STAT, &ds));
        printf("nobody: SHM_STAT 0600: %s\n",
               shmctl(priv % 32768, SHM_STAT, &ds) < 0 ? ename(errno) : "ok");
        printf("nobody: SHM_STAT_ANY 0600: %d\n", shmctl(priv % 32768, SHM_STAT_ANY, &ds) == priv);
        errno = 0;
        res("nobody: IPC_RMID", shmctl(priv, IPC_RMID, NULL));
        res("nobody: IPC_SET", shmctl(priv, IPC_SET, &ds));
        res("nobody: SHM_LOCK", shmctl(priv, SHM_LOCK, NULL));
        res("nobody: attach 0644 rw", (long)shmat(ro, NULL, 0));
        char *p = shmat(ro, NULL, SHM_RDONLY);
        res("nobody: attach 0644 read-only", (long)p);
        errno = 0;
        res("nobody: get 0644 asking rw", shmget(key_of(3), 0, 0600));
        res("nobody: get 0644 asking r", shmget(key_of(3), 0, 0400));
        _exit(0);
    }
    CHECK(wait_child(pid) == 0);
    CHECK(shmctl(priv, IPC_RMID, NULL) == 0);
    CHECK(shmctl(ro, IPC_RMID, NULL) == 0);
}

static void proc_files(void) {
    int id = shmget(IPC_PRIVATE, 12345, 0600);
    CHECK(id >= 0);
    char *p = shmat(id, NULL, 0);
    CHECK(p != (void *)-1);
    FILE *f = fopen("/proc/sysvipc/shm", "r");
    CHECK(f);
    char line[512];
    int found = 0, header = 0;
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, "key      shmid perms"))
            header = 1;
        int key, sid;
        unsigned perms, nattch;
        unsigned long size;
        if (sscanf(line, "%d %d %o %lu %*d %*d %u", &key, &sid, &perms, &size, &nattch) == 5 &&
            sid == id)
            found = size == 12345 && perms == 0600 && nattch == 1 && key == 0;
    }
    fclose(f);
    printf("/proc/sysvipc/shm: header %d line %d\n", header, found);
    f = fopen("/proc/self/maps", "r");
    CHECK(f);
    found = 0;
    while (fgets(line, sizeof line, f))
        if (strtoul(line, NULL, 16) == (uintptr_t)p)
            found = strstr(line, " rw-s ") && strstr(line, "/SYSV00000000 (deleted)");
    fclose(f);
    printf("/proc/self/maps: %d\n", found);
    CHECK(shmdt(p) == 0);
    CHECK(shmctl(id, IPC_RMID, NULL) == 0);
    const char *files[] = {"shmmax", "shmall", "shmmni", "shm_rmid_forced"};
    for (unsigned i = 0; i < sizeof files / sizeof *files; i++) {
        char path[64], buf[64] = "";
        snprintf(path, sizeof path, "/proc/sys/kernel/%s", files[i]);
        f = fopen(path, "r");
        CHECK(f && fgets(buf, sizeof buf, f));
        fclose(f);
        printf("%s: %s", files[i], buf);
    }
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc == 3 && strcmp(argv[1], "attach") == 0)
        return attach_by_key(argv[2]);
    if (argc == 3 && strcmp(argv[1], "nattch") == 0)
        return show_nattch(argv[2]);
    first = getpid();
    char self[256];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    CHECK(n > 0);
    self[n] = 0;
    basics();
    keys(self);
    sizes();
    addresses();
    control();
    other_user();
    proc_files();
    printf("done\n");
    return 0;
}
