// Calls a container's process is refused (sentry/src/syscalls/refused.rs): each must answer
// EPERM under snare. Run under snare only (natively, as root, some of them would act on the
// host): `sentry/tests/confine.rs refused_calls_answer_eperm`.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
    static const struct { long nr; const char *name; } calls[] = {
        {SYS_syslog, "syslog"}, {SYS_vhangup, "vhangup"}, {SYS_acct, "acct"},
        {SYS_swapon, "swapon"}, {SYS_swapoff, "swapoff"}, {SYS_reboot, "reboot"},
        {SYS_iopl, "iopl"}, {SYS_ioperm, "ioperm"}, {SYS_init_module, "init_module"},
        {SYS_finit_module, "finit_module"}, {SYS_delete_module, "delete_module"},
        {SYS_quotactl, "quotactl"}, {SYS_kexec_load, "kexec_load"},
        {SYS_kexec_file_load, "kexec_file_load"}, {SYS_perf_event_open, "perf_event_open"},
        {SYS_bpf, "bpf"}, {SYS_open_by_handle_at, "open_by_handle_at"},
        {SYS_add_key, "add_key"}, {SYS_request_key, "request_key"}, {SYS_keyctl, "keyctl"},
        {SYS_fanotify_init, "fanotify_init"}, {SYS_userfaultfd, "userfaultfd"},
        {SYS_setns, "setns"}, {SYS_lookup_dcookie, "lookup_dcookie"},
    };
    int bad = 0;
    for (unsigned i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        errno = 0;
        long r = syscall(calls[i].nr, 0, 0, 0, 0, 0, 0);
        if (r != -1 || errno != EPERM) {
            printf("%s: %ld %s\n", calls[i].name, r, strerror(errno));
            bad++;
        }
    }
    printf("%d refused calls answered EPERM, %d did not\n",
           (int)(sizeof calls / sizeof calls[0]) - bad, bad);
    return bad != 0;
}
