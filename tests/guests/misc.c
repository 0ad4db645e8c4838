// Differential test: identity, uname, time, randomness, limits, misc per-process calls.
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static int failures;
#define CHECK(c) do { if (!(c)) { printf("FAIL %s:%d %s (errno %d)\n", __FILE__, __LINE__, #c, errno); failures++; } } while (0)

int main(void) {
    struct utsname u;
    CHECK(uname(&u) == 0);
    printf("uname %s %s\n", u.sysname, u.machine);
    CHECK(getuid() == geteuid() && getgid() == getegid());
    uid_t r, e, s;
    CHECK(getresuid(&r, &e, &s) == 0 && r == getuid() && s == getuid());
    CHECK(getpid() > 0 && syscall(SYS_gettid) == getpid());

    struct timespec a, b;
    CHECK(clock_gettime(CLOCK_MONOTONIC, &a) == 0);
    struct timespec d = {0, 2000000};
    CHECK(nanosleep(&d, NULL) == 0);
    CHECK(clock_gettime(CLOCK_MONOTONIC, &b) == 0);
    long ns = (b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec);
    CHECK(ns >= 2000000);
    CHECK(syscall(SYS_clock_gettime, CLOCK_REALTIME, &a) == 0 && a.tv_sec > 1600000000);
    struct timeval tv;
    CHECK(gettimeofday(&tv, NULL) == 0 && tv.tv_sec > 1600000000);
    CHECK(time(NULL) > 1600000000);
    CHECK(clock_getres(CLOCK_MONOTONIC, &a) == 0 && a.tv_sec == 0);
    CHECK(clock_gettime(12345, &a) == -1 && errno == EINVAL);

    unsigned char rnd[32] = {0};
    CHECK(getrandom(rnd, sizeof rnd, 0) == 32);
    int nz = 0;
    for (int i = 0; i < 32; i++) nz += rnd[i] != 0;
    CHECK(nz > 20);

    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur >= 256);
    CHECK(getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur > 0);
    CHECK(getrlimit(99, &rl) == -1 && errno == EINVAL);

    cpu_set_t set;
    CHECK(sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) >= 1);
    CHECK(sched_yield() == 0);
    mode_t old = umask(077);
    CHECK(umask(old) == 077);

    volatile unsigned long spin = 0;
    for (unsigned long i = 0; i < 30000000UL; i++) spin += i;
    struct tms tm;
    CHECK(times(&tm) != (clock_t)-1);
    struct rusage ru;
    CHECK(getrusage(RUSAGE_SELF, &ru) == 0 && ru.ru_utime.tv_sec + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec > 0);
    CHECK(getrusage(RUSAGE_CHILDREN, &ru) == 0);
    CHECK(getrusage(5, &ru) == -1 && errno == EINVAL);
    CHECK(syscall(100000) == -1 && errno == ENOSYS);
    printf("misc: %d failures\n", failures);
    return failures != 0;
}
