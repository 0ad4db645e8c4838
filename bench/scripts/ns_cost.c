// What the Sentry's namespaces cost the kernel, step by step (issue 14): each mode adds one
// step of `isolate.rs`'s set-up to a fork-like clone of this small process, and the time is
// until the child says it is done (as the launcher returns on the Sentry's report, not its
// exit), mean of 40, with 20 ms idle between runs. Run as root:
//   gcc -O2 -o /tmp/ns_cost bench/scripts/ns_cost.c && for m in 0 1 2 3 4 5; do /tmp/ns_cost $m; done
// 0 plain clone; 1 + user, mount, pid, ipc, uts namespaces and id maps; 2 + private mounts,
// a detached procfs, the root's read-only recursive copy; 3 + an empty tmpfs and pivot_root;
// 4 + the old root detached; 5 + a network namespace.
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void map(pid_t p, const char *file) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/%s", p, file);
  int fd = open(path, O_WRONLY);
  if (fd < 0 || write(fd, "0 0 4294967295\n", 15) != 15) perror(path);
  close(fd);
}

static void child(int mode) {
  if (mode >= 2) {
    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
    int fs = syscall(SYS_fsopen, "proc", FSOPEN_CLOEXEC);
    syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, 0, 0, 0);
    if (syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0) < 0) perror("fsmount proc");
    int root = syscall(SYS_open_tree, AT_FDCWD, "/",
                       OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    struct mount_attr a = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID};
    if (syscall(SYS_mount_setattr, root, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof a))
      perror("mount_setattr");
  }
  if (mode >= 3) {
    int fs = syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
    syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, 0, 0, 0);
    int m = syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY);
    syscall(SYS_move_mount, m, "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH);
    if (fchdir(m) || syscall(SYS_pivot_root, ".", ".")) perror("pivot_root");
  }
  if (mode >= 4 && umount2(".", MNT_DETACH)) perror("umount2");
  if (mode >= 5 && unshare(CLONE_NEWNET)) perror("unshare(CLONE_NEWNET)");
}

int main(int argc, char **argv) {
  int mode = argc > 1 ? atoi(argv[1]) : 0, runs = 40;
  double total = 0;
  for (int k = 0; k < runs; k++) {
    int go[2], done[2];
    if (pipe(go) || pipe(done)) return 1;
    double t0 = now();
    long flags = mode == 0 ? 0
                           : CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
    long p = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
    if (p < 0) { perror("clone"); return 1; }
    char b = 1;
    if (p == 0) {
      if (read(go[0], &b, 1) != 1) _exit(1);
      child(mode);
      _exit(write(done[1], &b, 1) != 1);
    }
    if (flags) { map(p, "uid_map"); map(p, "gid_map"); }
    if (write(go[1], &b, 1) != 1 || read(done[0], &b, 1) != 1) return 1;
    total += now() - t0;
    waitpid(p, 0, 0);
    close(go[0]); close(go[1]); close(done[0]); close(done[1]);
    usleep(20000);
  }
  printf("mode %d: %.0f us\n", mode, total / runs);
  return 0;
}
