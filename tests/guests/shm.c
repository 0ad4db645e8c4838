/* Shared memory between processes: POSIX shm (/dev/shm) mapped MAP_SHARED across fork, named
 * and unnamed process-shared semaphores, a MAP_SHARED file in /tmp seen through read(2).
 * Prints what it sees. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    char name[64];
    snprintf(name, sizeof name, "/snare-shm-test-%d", getpid());
    int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0) { perror("shm_open"); return 1; }
    ftruncate(fd, 8192);
    char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    strcpy(p, "parent");
    pid_t c = fork();
    if (c == 0) {
        strcpy(p + 4096, "written by the child");
        p[0] = 'P';
        _exit(0);
    }
    waitpid(c, NULL, 0);
    char buf[32] = {0};
    pread(fd, buf, 20, 4096);
    printf("shm: mapping=%s/%s read=%s\n", p, p + 4096, buf);
    munmap(p, 8192);
    char *again = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0);
    printf("shm after remap: %s\n", again + 4096);
    close(fd);
    shm_unlink(name);

    /* A named semaphore posted by children, waited on by the parent. */
    snprintf(name, sizeof name, "/snare-sem-%d", getpid());
    sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0600, 0);
    if (s == SEM_FAILED) { perror("sem_open"); return 1; }
    for (int i = 0; i < 3; i++) {
        if (fork() == 0) { sem_post(s); _exit(0); }
    }
    for (int i = 0; i < 3; i++) sem_wait(s);
    while (wait(NULL) > 0) {}
    int v = -1;
    sem_getvalue(s, &v);
    printf("named semaphore: value=%d\n", v);
    sem_close(s);
    sem_unlink(name);

    /* An unnamed process-shared semaphore in shared anonymous memory: ping-pong. */
    sem_t *pair = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    sem_init(&pair[0], 1, 0);
    sem_init(&pair[1], 1, 0);
    int *counter = (int *)&pair[2];
    c = fork();
    if (c == 0) {
        for (int i = 0; i < 500; i++) { sem_wait(&pair[0]); (*counter)++; sem_post(&pair[1]); }
        _exit(0);
    }
    for (int i = 0; i < 500; i++) { sem_post(&pair[0]); sem_wait(&pair[1]); }
    waitpid(c, NULL, 0);
    printf("unnamed semaphore ping-pong: %d\n", *counter);

    /* MAP_SHARED of a file in /tmp: writes through the mapping reach the file. */
    char path[] = "/tmp/snare-mapXXXXXX";
    fd = mkstemp(path);
    ftruncate(fd, 4096);
    char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    strcpy(m, "through the mapping");
    memset(buf, 0, sizeof buf);
    pread(fd, buf, 19, 0);
    pwrite(fd, "WRITE", 5, 0);
    printf("file: read=%s mapping-sees-write=%.5s\n", buf, m);
    munmap(m, 4096);
    close(fd);

    /* A shared mapping from a read-only descriptor can't be made writable. */
    fd = open(path, O_RDONLY);
    char *r = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    errno = 0;
    int mp = mprotect(r, 4096, PROT_READ | PROT_WRITE);
    printf("mprotect write on read-only fd: %d %s\n", mp, errno == EACCES ? "EACCES" : "?");
    printf("still reads: %.5s\n", r);
    munmap(r, 4096);
    close(fd);
    unlink(path);
    return 0;
}
