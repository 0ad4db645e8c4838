// The UTS names: uname(2) agrees with /proc/sys/kernel/hostname; sethostname(2) and
// setdomainname(2) set each to its current value (so a native run changes nothing), refuse
// lengths past 64 or negative (EINVAL), unreadable names (EFAULT) and callers without
// CAP_SYS_ADMIN (EPERM). With the argument `rename` (run under snare only: natively it
// would rename the host) they set new names, which uname, /proc and a child then show.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
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

/// /proc/sys/kernel/hostname without its newline.
static void proc_hostname(char *buf, size_t len) {
    FILE *f = fopen("/proc/sys/kernel/hostname", "r");
    buf[0] = 0;
    if (f) {
        if (fgets(buf, (int)len, f)) buf[strcspn(buf, "\n")] = 0;
        fclose(f);
    }
}

static void rename_(void) {
    struct utsname u;
    char p[128];
    show("sethostname guest", sethostname("guest", 5));
    uname(&u);
    proc_hostname(p, sizeof p);
    printf("uname %s, proc %s\n", u.nodename, p);
    char long_[65];
    memset(long_, 'h', 64);
    long_[64] = 0;
    show("sethostname 64", sethostname(long_, 64));
    uname(&u);
    expect("64 bytes kept", strcmp(u.nodename, long_) == 0);
    show("sethostname with NUL", sethostname("ab\0cd", 5));
    uname(&u);
    proc_hostname(p, sizeof p);
    printf("uname %s, proc %s\n", u.nodename, p);
    show("setdomainname", setdomainname("example.org", 11));
    pid_t pid = fork();
    if (pid == 0) {
        uname(&u);
        printf("child sees %s %s\n", u.nodename, u.domainname);
        _exit(0);
    }
    waitpid(pid, NULL, 0);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1 && strcmp(argv[1], "rename") == 0) {
        rename_();
        return failures ? 1 : 0;
    }
    struct utsname u;
    char p[128];
    show("uname", uname(&u));
    proc_hostname(p, sizeof p);
    expect("uname is /proc's", strcmp(u.nodename, p) == 0);
    char host[65] = {0}, dom[65] = {0};
    strcpy(host, u.nodename);
    strcpy(dom, u.domainname);
    show("sethostname same", sethostname(host, strlen(host)));
    show("setdomainname same", setdomainname(dom, strlen(dom)));
    struct utsname v;
    uname(&v);
    expect("unchanged", strcmp(u.nodename, v.nodename) == 0 && strcmp(u.domainname, v.domainname) == 0);
    char big[80];
    memset(big, 'x', sizeof big);
    show("sethostname 65", sethostname(big, 65));
    show("sethostname -1", syscall(SYS_sethostname, host, -1L));
    show("sethostname NULL", syscall(SYS_sethostname, 0L, 4L));
    show("sethostname bad", syscall(SYS_sethostname, 8L, 4L));
    show("setdomainname 65", setdomainname(big, 65));
    show("setdomainname NULL", syscall(SYS_setdomainname, 0L, 4L));
    uname(&v);
    expect("still unchanged", strcmp(u.nodename, v.nodename) == 0 && strcmp(u.domainname, v.domainname) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        if (setresuid(65534, 65534, 65534) < 0) _exit(2);
        show("nobody sethostname", sethostname(host, strlen(host)));
        show("nobody sethostname 65", sethostname(big, 65));
        show("nobody setdomainname", setdomainname(dom, strlen(dom)));
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    show("child", WEXITSTATUS(status));
    return failures ? 1 : 0;
}
