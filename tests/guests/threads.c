/* Threads: create/join, mutex and condvar contention, TLS, thread ids, pthread_exit values,
 * detached threads, a barrier, thread-directed signals. Prints what it sees. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define N 8
#define ITER 20000

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long counter;
static __thread long tls_value;
static pthread_barrier_t barrier;
static volatile int turn, rounds;
static volatile pid_t tids[N];
static volatile int got_signal_in;

static void *adder(void *arg) {
    long id = (long)arg;
    tls_value = id * 100;
    tids[id] = (pid_t)syscall(SYS_gettid);
    pthread_barrier_wait(&barrier);
    for (int i = 0; i < ITER; i++) {
        pthread_mutex_lock(&mu);
        counter++;
        pthread_mutex_unlock(&mu);
    }
    return (void *)(tls_value + 1);
}

static void *pinger(void *arg) {
    int me = (int)(long)arg;
    for (int i = 0; i < 1000; i++) {
        pthread_mutex_lock(&mu);
        while (turn != me) pthread_cond_wait(&cv, &mu);
        turn = !me;
        rounds++;
        pthread_cond_broadcast(&cv);
        pthread_mutex_unlock(&mu);
    }
    return NULL;
}

static void *exiter(void *arg) {
    (void)arg;
    pthread_exit((void *)7);
}

static void *quick(void *arg) {
    pthread_mutex_lock(&mu);
    counter++;
    pthread_mutex_unlock(&mu);
    return arg;
}

static void on_usr1(int sig) {
    (void)sig;
    got_signal_in = (int)syscall(SYS_gettid);
}

static void *sleeper(void *arg) {
    (void)arg;
    pid_t *out = arg;
    *out = (pid_t)syscall(SYS_gettid);
    pthread_mutex_lock(&mu);
    turn = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    while (!got_signal_in) usleep(1000);
    return NULL;
}

int main(void) {
    pthread_t t[N];
    pthread_barrier_init(&barrier, NULL, N);
    for (long i = 0; i < N; i++) {
        if (pthread_create(&t[i], NULL, adder, (void *)i) != 0) { printf("create failed\n"); return 1; }
    }
    long sum = 0;
    for (int i = 0; i < N; i++) {
        void *r;
        pthread_join(t[i], &r);
        sum += (long)r;
    }
    printf("counter=%ld (want %d) tls-sum=%ld\n", counter, N * ITER, sum);
    int distinct = 1;
    for (int i = 0; i < N; i++) {
        if (tids[i] == getpid()) distinct = 0;
        for (int j = 0; j < i; j++) if (tids[i] == tids[j]) distinct = 0;
    }
    printf("tids distinct=%d\n", distinct);

    pthread_t a, b;
    turn = 0;
    pthread_create(&a, NULL, pinger, (void *)0);
    pthread_create(&b, NULL, pinger, (void *)1);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("condvar rounds=%d\n", rounds);

    void *r;
    pthread_create(&a, NULL, exiter, NULL);
    pthread_join(a, &r);
    printf("pthread_exit value=%ld\n", (long)r);

    /* A signal sent to one thread runs its handler on that thread. */
    signal(SIGUSR1, on_usr1);
    pid_t target = 0;
    turn = 0;
    pthread_create(&a, NULL, sleeper, &target);
    pthread_mutex_lock(&mu);
    while (turn != 1) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    pthread_kill(a, SIGUSR1);
    pthread_join(a, NULL);
    printf("signal ran on target thread=%d\n", got_signal_in == target);

    /* Detached threads and many short-lived ones. */
    for (int i = 0; i < 50; i++) {
        pthread_t d;
        pthread_create(&d, NULL, quick, NULL);
        pthread_detach(d);
    }
    for (int i = 0; i < 1000; i++) {
        pthread_mutex_lock(&mu);
        long c = counter;
        pthread_mutex_unlock(&mu);
        if (c == N * ITER + 50) break;
        usleep(10000);
    }
    printf("detached done: counter=%ld\n", counter);
    return 0;
}
