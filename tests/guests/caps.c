// Capabilities as Linux keeps them (natively this needs root, as CI runs): capget/capset
// (versions, probes, bad pointers, pids, the subset rules), each privilege check following
// its capability rather than uid 0 (DAC_OVERRIDE, DAC_READ_SEARCH, CHOWN, KILL, SYS_ADMIN,
// SYS_CHROOT), access() using the permitted set, the bounding set and exec, setuid's and
// setfsuid's fix-ups, keepcaps, the ambient set across exec, secure bits, no_new_privs,
// and a set-user-id-root copy of this program (AT_SECURE; not under no_new_privs).
// argv[1]: a scratch directory; `caps --show` prints the caller's ids and sets (the exec
// helper). Sets are printed relative to what the first process held ("all", "all-BITS",
// or BITS within it): the host's root may lack some capability (CAP_SYS_RESOURCE here)
// that the sandbox's root has.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/fsuid.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

struct cap_header {
    uint32_t version;
    int pid;
};
struct cap_data {
    uint32_t effective, permitted, inheritable;
};

#define V1 0x19980330
#define V2 0x20071026
#define V3 0x20080522

enum {
    CHOWN = 0,
    DAC_OVERRIDE = 1,
    DAC_READ_SEARCH = 2,
    FOWNER = 3,
    KILL = 5,
    SETUID = 7,
    SETPCAP = 8,
    NET_BIND_SERVICE = 10,
    SYS_CHROOT = 18,
    SYS_ADMIN = 21,
};
#define BIT(c) (1ULL << (c))

static char base[256];
/* What the first process held: every printed set is masked with it. */
static uint64_t mask = ~0ULL;

static const char *at(const char *rel) {
    static char bufs[4][512];
    static int n;
    char *b = bufs[n++ % 4];
    snprintf(b, 512, "%s/%s", base, rel);
    return b;
}

static const char *res(long r) {
    static char b[32];
    if (r >= 0) {
        snprintf(b, sizeof b, "%ld", r);
        return b;
    }
    switch (errno) {
    case EPERM: return "EPERM";
    case EINVAL: return "EINVAL";
    case EFAULT: return "EFAULT";
    case ESRCH: return "ESRCH";
    case EACCES: return "EACCES";
    default: return strerror(errno);
    }
}

/* A set as the output shows it: within `mask`, relative to it when mostly full. */
static const char *fmt(uint64_t v) {
    static char bufs[4][40];
    static int n;
    char *b = bufs[n++ % 4];
    v &= mask;
    if (v == mask)
        snprintf(b, 40, "all");
    else if (__builtin_popcountll(v) * 2 > __builtin_popcountll(mask))
        snprintf(b, 40, "all-%llx", (unsigned long long)(mask & ~v));
    else
        snprintf(b, 40, "%llx", (unsigned long long)v);
    return b;
}

static void show(const char *what, long r) {
    printf("%-36s %s\n", what, res(r));
}

static long capget_(uint32_t version, int pid, struct cap_data *d) {
    struct cap_header h = {version, pid};
    return syscall(SYS_capget, &h, d);
}

static long capset_(uint32_t version, int pid, uint64_t e, uint64_t p, uint64_t i) {
    struct cap_header h = {version, pid};
    struct cap_data d[2] = {
        {(uint32_t)e, (uint32_t)p, (uint32_t)i},
        {(uint32_t)(e >> 32), (uint32_t)(p >> 32), (uint32_t)(i >> 32)},
    };
    return syscall(SYS_capset, &h, d);
}

/* The caller's effective, permitted and inheritable sets (v3). */
static void sets(uint64_t *e, uint64_t *p, uint64_t *i) {
    struct cap_data d[2];
    if (capget_(V3, 0, d)) {
        printf("capget failed: %s\n", strerror(errno));
        exit(1);
    }
    *e = d[0].effective | (uint64_t)d[1].effective << 32;
    *p = d[0].permitted | (uint64_t)d[1].permitted << 32;
    *i = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
}

static void print_sets(const char *what) {
    uint64_t e, p, i;
    sets(&e, &p, &i);
    printf("%-36s E=%s P=%s I=%s\n", what, fmt(e), fmt(p), fmt(i));
}

/* Sets E to E - drop (P unchanged). */
static long drop_effective(uint64_t drop) {
    uint64_t e, p, i;
    sets(&e, &p, &i);
    return capset_(V3, 0, e & ~drop, p, i);
}

/* The exec helper: ids, sets and AT_SECURE as /proc/self/status and the aux vector
 * show them. */
static int show_self(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 1;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        unsigned long long v;
        char key[32];
        if (!strncmp(line, "Uid:", 4) || !strncmp(line, "Gid:", 4) ||
            !strncmp(line, "NoNewPrivs:", 11)) {
            fputs(line, stdout);
        } else if (!strncmp(line, "Cap", 3) && sscanf(line, "%31[^:]:\t%llx", key, &v) == 2) {
            printf("%s:\t%s\n", key, fmt(v));
        }
    }
    fclose(f);
    printf("AT_SECURE %lu\n", getauxval(AT_SECURE));
    return 0;
}

/* Runs `body` in a child, waits for it: the checks it makes change only the child. */
static void in_child(const char *title, void (*body)(void)) {
    printf("-- %s\n", title);
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        body();
        fflush(stdout);
        _exit(0);
    }
    int st;
    waitpid(p, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st)) printf("child status %x\n", st);
}

/* Execs this program (or `path`) in `--show` mode and waits for it. */
static void exec_show(const char *path) {
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        char m[32];
        snprintf(m, sizeof m, "%llx", (unsigned long long)mask);
        execl(path, path, "--show", m, (char *)NULL);
        printf("exec: %s\n", strerror(errno));
        _exit(1);
    }
    int st;
    waitpid(p, &st, 0);
}

static char self[512];

static void version_checks(void) {
    struct cap_data d[2];
    struct cap_header h = {0x12345, 0};
    show("capget bad version", syscall(SYS_capget, &h, d));
    printf("%-36s %x\n", "  version written back", h.version);
    h.version = 0x12345;
    show("capget bad version, NULL data", syscall(SYS_capget, &h, NULL));
    printf("%-36s %x\n", "  version written back", h.version);
    h.version = V3;
    show("capget v3 probe (NULL data)", syscall(SYS_capget, &h, NULL));
    show("capget NULL header", syscall(SYS_capget, NULL, d));
    show("capget bad data", capget_(V3, 0, (struct cap_data *)8));
    show("capget pid -1", capget_(V3, -1, d));
    show("capget pid 1<<30", capget_(V3, 1 << 30, d));
    show("capget own pid", capget_(V3, getpid(), d));
    memset(d, 0xff, sizeof d);
    show("capget v1", capget_(V1, 0, d));
    printf("%-36s %s %x\n", "  v1 low E, untouched high", fmt(d[0].effective), d[1].effective);
    show("capget v2", capget_(V2, 0, d));
    show("capset bad version", capset_(0x1, 0, 0, 0, 0));
    h.version = V3;
    h.pid = 0;
    show("capset bad data", syscall(SYS_capset, &h, (void *)8));
    show("capset NULL header", syscall(SYS_capset, NULL, d));
    show("capset parent pid", capset_(V3, getppid(), 0, 0, 0));
    show("capset pid 99999", capset_(V3, 99999, 0, 0, 0));
}

static void capset_rules(void) {
    uint64_t e, p, i;
    sets(&e, &p, &i);
    show("capset E not in P", capset_(V3, 0, BIT(KILL), p & ~BIT(KILL), i));
    show("capset drop KILL from P", capset_(V3, 0, e & ~BIT(KILL), p & ~BIT(KILL), i));
    show("capset KILL back into P", capset_(V3, 0, e, p, i));
    show("capset I within P", capset_(V3, 0, e & ~BIT(KILL), p & ~BIT(KILL), BIT(CHOWN)));
    print_sets("after");
    show("capset drop SETPCAP", capset_(V3, 0, BIT(CHOWN), BIT(CHOWN), BIT(CHOWN)));
    show("capset I beyond P without SETPCAP", capset_(V3, 0, 0, BIT(CHOWN), BIT(KILL)));
    show("capset v1 keeps only low words", capset_(V1, 0, BIT(CHOWN), BIT(CHOWN), 0));
    print_sets("after");
}

static void dac_checks(void) {
    show("open 0600 of uid 1 (root)", open(at("secret"), O_RDONLY));
    show("drop DAC_OVERRIDE, DAC_READ_SEARCH", drop_effective(BIT(DAC_OVERRIDE) | BIT(DAC_READ_SEARCH)));
    show("open 0600 of uid 1", open(at("secret"), O_RDONLY));
    show("access R_OK (real root: P)", access(at("secret"), R_OK));
    show("faccessat2 AT_EACCESS", syscall(SYS_faccessat2, AT_FDCWD, at("secret"), R_OK, AT_EACCESS));
    show("stat in 0700 dir of uid 1", open(at("private/f"), O_RDONLY));
    show("chown of uid 1's file to 2", chown(at("secret"), 2, 2));
    show("drop CHOWN", drop_effective(BIT(CHOWN)));
    show("chown of own file to 2", chown(at("mine"), 2, 2));
    show("chmod of uid 1's file", chmod(at("secret"), 0600));
    uint64_t e, p, i;
    sets(&e, &p, &i);
    show("raise E back from P", capset_(V3, 0, p, p, i));
    show("open 0600 of uid 1", open(at("secret"), O_RDONLY));
    show("chown of own file to 3", chown(at("mine"), 3, 3));
}

static void admin_checks(void) {
    show("drop SYS_ADMIN, SYS_CHROOT", drop_effective(BIT(SYS_ADMIN) | BIT(SYS_CHROOT)));
    show("mount tmpfs", mount("x", at("mnt"), "tmpfs", 0, NULL));
    show("chroot", chroot(base));
    show("unshare(CLONE_NEWNS)", unshare(CLONE_NEWNS));
}

static void kill_checks(void) {
    int ready[2];
    if (pipe(ready)) exit(1);
    pid_t t = fork();
    if (t == 0) {
        if (setresuid(1000, 1000, 1000)) _exit(1);
        close(ready[0]);
        if (write(ready[1], "r", 1) != 1) _exit(1);
        pause();
        _exit(0);
    }
    char c;
    if (read(ready[0], &c, 1) != 1) exit(1);
    show("kill uid 1000 (with KILL)", kill(t, 0));
    show("drop KILL", drop_effective(BIT(KILL)));
    show("kill uid 1000 (root without KILL)", kill(t, 0));
    uint64_t e, p, i;
    sets(&e, &p, &i);
    capset_(V3, 0, p, p, i);
    kill(t, SIGKILL);
    waitpid(t, NULL, 0);
}

static void bounding_exec(void) {
    show("PR_CAPBSET_READ SYS_ADMIN", prctl(PR_CAPBSET_READ, SYS_ADMIN, 0, 0, 0));
    show("PR_CAPBSET_READ 64", prctl(PR_CAPBSET_READ, 64, 0, 0, 0));
    show("PR_CAPBSET_DROP SYS_ADMIN", prctl(PR_CAPBSET_DROP, SYS_ADMIN, 0, 0, 0));
    show("PR_CAPBSET_DROP 64", prctl(PR_CAPBSET_DROP, 64, 0, 0, 0));
    show("PR_CAPBSET_READ SYS_ADMIN", prctl(PR_CAPBSET_READ, SYS_ADMIN, 0, 0, 0));
    print_sets("before exec (P still has it)");
    exec_show(self);
}

static void setuid_clears(void) {
    show("setuid(1000)", setuid(1000));
    print_sets("after");
    show("PR_CAPBSET_READ CHOWN", prctl(PR_CAPBSET_READ, CHOWN, 0, 0, 0));
    show("PR_CAPBSET_DROP (no SETPCAP)", prctl(PR_CAPBSET_DROP, CHOWN, 0, 0, 0));
    show("setuid(0)", setuid(0));
    show("capset raise", capset_(V3, 0, BIT(CHOWN), BIT(CHOWN), 0));
    exec_show(self);
}

static void euid_swap(void) {
    show("PR_SET_PDEATHSIG", prctl(PR_SET_PDEATHSIG, SIGUSR1, 0, 0, 0));
    show("setresuid(-1, -1, 0) (no change)", setresuid(-1, -1, 0));
    int sig = -1;
    prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0);
    printf("%-36s %d\n", "  pdeathsig kept", sig);
    show("seteuid(1000)", seteuid(1000));
    prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0);
    printf("%-36s %d\n", "  pdeathsig after euid change", sig);
    print_sets("after");
    show("seteuid(0)", seteuid(0));
    print_sets("after");
}

static void keepcaps(void) {
    show("PR_GET_KEEPCAPS", prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0));
    show("PR_SET_KEEPCAPS 2", prctl(PR_SET_KEEPCAPS, 2, 0, 0, 0));
    show("PR_SET_KEEPCAPS 1", prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
    show("PR_GET_KEEPCAPS", prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0));
    show("PR_GET_SECUREBITS", prctl(PR_GET_SECUREBITS, 0, 0, 0, 0));
    show("setresuid(1000, 1000, 1000)", setresuid(1000, 1000, 1000));
    print_sets("after (P kept, E cleared)");
    show("capset E=CHOWN", capset_(V3, 0, BIT(CHOWN), BIT(CHOWN) | BIT(NET_BIND_SERVICE), 0));
    show("chown own-uid file to 5", chown(at("k1000"), 5, 5));
    /* Ambient: needs the capability in P and I. */
    show("ambient raise CHOWN (not in I)", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CHOWN, 0, 0));
    show("capset I=CHOWN", capset_(V3, 0, BIT(CHOWN), BIT(CHOWN) | BIT(NET_BIND_SERVICE), BIT(CHOWN)));
    show("ambient raise CHOWN", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CHOWN, 0, 0));
    show("ambient is_set CHOWN", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CHOWN, 0, 0));
    show("ambient is_set KILL", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, KILL, 0, 0));
    show("ambient is_set 64", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, 64, 0, 0));
    show("ambient clear_all with arg", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 1, 0, 0));
    show("ambient bad op", prctl(PR_CAP_AMBIENT, 9, 0, 0, 0));
    exec_show(self);
    show("ambient lower CHOWN", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, CHOWN, 0, 0));
    exec_show(self);
}

static void ambient_dropped_with_i(void) {
    show("capset I=CHOWN", capset_(V3, 0, ~0ULL & mask, ~0ULL & mask, BIT(CHOWN)));
    show("ambient raise CHOWN", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CHOWN, 0, 0));
    show("capset I=0", capset_(V3, 0, ~0ULL & mask, ~0ULL & mask, 0));
    show("ambient is_set CHOWN", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CHOWN, 0, 0));
}

static void fsuid(void) {
    show("setfsuid(1000) (old)", setfsuid(1000));
    print_sets("after");
    show("open 0600 of uid 1", open(at("secret"), O_RDONLY));
    show("setfsuid(0) (old)", setfsuid(0));
    print_sets("after");
    show("setuid(1000)", setuid(1000));
    show("setfsuid(0) refused (old)", setfsuid(0));
    show("setfsuid(-1) (old)", setfsuid(-1));
}

static void securebits(void) {
    show("SET_SECUREBITS unknown bit", prctl(PR_SET_SECUREBITS, 1 << 12, 0, 0, 0));
    show("SET_SECUREBITS KEEP_CAPS|LOCKED", prctl(PR_SET_SECUREBITS, 0x30, 0, 0, 0));
    show("GET_SECUREBITS", prctl(PR_GET_SECUREBITS, 0, 0, 0, 0));
    show("PR_SET_KEEPCAPS 0 (locked)", prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0));
    show("SET_SECUREBITS unlock", prctl(PR_SET_SECUREBITS, 0x10, 0, 0, 0));
    show("SET_SECUREBITS NO_SETUID_FIXUP", prctl(PR_SET_SECUREBITS, 0x34, 0, 0, 0));
    show("setresuid(1000, 1000, 1000)", setresuid(1000, 1000, 1000));
    print_sets("after (no fix-up)");
}

static void noroot(void) {
    show("SET_SECUREBITS NOROOT", prctl(PR_SET_SECUREBITS, 1, 0, 0, 0));
    exec_show(self);
}

static void nnp(void) {
    show("PR_GET_NO_NEW_PRIVS", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
    show("PR_GET_NO_NEW_PRIVS with arg", prctl(PR_GET_NO_NEW_PRIVS, 1, 0, 0, 0));
    show("PR_SET_NO_NEW_PRIVS 2", prctl(PR_SET_NO_NEW_PRIVS, 2, 0, 0, 0));
    show("PR_SET_NO_NEW_PRIVS 1", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    show("PR_GET_NO_NEW_PRIVS", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
    pid_t p = fork();
    if (p == 0) {
        show("  in a forked child", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
        fflush(stdout);
        _exit(0);
    }
    waitpid(p, NULL, 0);
    show("setresuid(1000, 1000, 1000)", setresuid(1000, 1000, 1000));
    exec_show(at("suid"));
}

static void suid_exec(void) {
    show("setresuid(1000, 1000, 1000)", setresuid(1000, 1000, 1000));
    exec_show(at("suid"));
}

/* A copy of this program, root's and set-user-id. */
static void make_suid_copy(void) {
    int in = open(self, O_RDONLY);
    int out = open(at("suid"), O_WRONLY | O_CREAT | O_TRUNC, 0755);
    if (in < 0 || out < 0) {
        printf("copy: %s\n", strerror(errno));
        exit(1);
    }
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, n) != n) exit(1);
    close(in);
    close(out);
    if (chown(at("suid"), 0, 0) || chmod(at("suid"), 04755)) exit(1);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 3 && !strcmp(argv[1], "--show")) {
        mask = strtoull(argv[2], NULL, 16);
        return show_self();
    }
    if (argc != 2 || getuid() != 0) {
        printf("usage: caps DIR, as root\n");
        return 1;
    }
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return 1;
    self[n] = 0;
    snprintf(base, sizeof base, "%s/caps-%d", argv[1], getpid());
    mkdir(base, 0755);
    {
        uint64_t e, p, i;
        sets(&e, &p, &i);
        mask = p;
    }
    int fd = open(at("secret"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    close(fd);
    fd = open(at("mine"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    close(fd);
    fd = open(at("k1000"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    close(fd);
    mkdir(at("private"), 0700);
    fd = open(at("private/f"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    close(fd);
    mkdir(at("mnt"), 0755);
    if (chown(at("secret"), 1, 1) || chown(at("private"), 1, 1) || chown(at("k1000"), 1000, 1000))
        return 1;
    make_suid_copy();

    print_sets("initial");
    exec_show(self);
    in_child("versions and arguments", version_checks);
    in_child("capset rules", capset_rules);
    in_child("file permission capabilities", dac_checks);
    in_child("admin capabilities", admin_checks);
    in_child("kill", kill_checks);
    in_child("bounding set and exec", bounding_exec);
    in_child("setuid clears", setuid_clears);
    in_child("effective uid swap", euid_swap);
    in_child("keepcaps and ambient", keepcaps);
    in_child("ambient follows I", ambient_dropped_with_i);
    in_child("setfsuid", fsuid);
    in_child("secure bits", securebits);
    in_child("SECBIT_NOROOT", noroot);
    in_child("set-user-id root", suid_exec);
    in_child("no_new_privs", nnp);
    return 0;
}
