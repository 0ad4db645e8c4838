/* Regression tests for what the fuzzers (fuzz_syscalls.c, fuzz_slots.c) found: each case
 * prints its results, compared with Linux by sentry/tests/fuzz.rs. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

static void show(const char *what, long r) {
    printf("%s = %ld (%s)\n", what, r, r < 0 ? "error" : "ok");
    if (r < 0) printf("  errno %d\n", errno);
}

int main(void) {
    /* wait4(INT_MIN): negating the pid overflowed (a panic in a debug build) */
    show("wait4(INT_MIN)", syscall(SYS_wait4, INT_MIN, 0, 0, 0));
    show("wait4(INT_MIN, WNOHANG)", syscall(SYS_wait4, INT_MIN, 0, 1, 0));
    return 0;
}
