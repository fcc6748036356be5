/* C floor of the step round trip (bench/bench_step.py): two processes ping-pong 16 floats
 * each way through a chunk created by Python, using the same header helpers the engine
 * uses (aigym_shm_attach / aigym_shm_find / aigym_sem_wait with spin-then-block).
 *
 *   pingpong_floor <handle> <round_trips> <spin_us> <warmup> [<host_cpu>,<engine_cpu>]
 *
 * The chunk must hold float32 tensors "act" and "obs" (16 each) and semaphores
 * "act_ready" and "obs_ready" (value 0). Prints one JSON object with per-round-trip
 * median/p99/mean in nanoseconds, timed by the host process.
 */
#include "aigym_shm_wait.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#define FLOATS 16

typedef struct {
    aigym_shm_mapping m;
    float *act, *obs;
    aigym_sem *act_ready, *obs_ready;
} channel;

static int open_channel(const char *handle, channel *c) {
    aigym_shm_entry a, o, sa, so; /* checked copies (aigym_shm_find) */
    aigym_shm_status st = aigym_shm_attach(handle, &c->m);
    if (st == AIGYM_SHM_OK) st = aigym_shm_find(c->m.base, c->m.size, c->m.capacity, "act", AIGYM_SHM_KIND_TENSOR, AIGYM_SHM_DTYPE_FLOAT32, &a);
    if (st == AIGYM_SHM_OK) st = aigym_shm_find(c->m.base, c->m.size, c->m.capacity, "obs", AIGYM_SHM_KIND_TENSOR, AIGYM_SHM_DTYPE_FLOAT32, &o);
    if (st == AIGYM_SHM_OK) st = aigym_shm_find(c->m.base, c->m.size, c->m.capacity, "act_ready", AIGYM_SHM_KIND_SEMAPHORE, 0, &sa);
    if (st == AIGYM_SHM_OK) st = aigym_shm_find(c->m.base, c->m.size, c->m.capacity, "obs_ready", AIGYM_SHM_KIND_SEMAPHORE, 0, &so);
    if (st != AIGYM_SHM_OK) {
        fprintf(stderr, "pingpong_floor: %s: %s\n", handle, aigym_shm_status_message(st));
        return -1;
    }
    if (a.count < FLOATS || o.count < FLOATS) {
        fprintf(stderr, "pingpong_floor: act/obs need %d floats\n", FLOATS);
        return -1;
    }
    c->act = (float *)aigym_shm_entry_data(c->m.base, &a);
    c->obs = (float *)aigym_shm_entry_data(c->m.base, &o);
    c->act_ready = aigym_shm_entry_sem(c->m.base, &sa);
    c->obs_ready = aigym_shm_entry_sem(c->m.base, &so);
    return 0;
}

static void pin(int cpu) {
    cpu_set_t set;
    if (cpu < 0) return;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
}

static int cmp_i64(const void *x, const void *y) {
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

/* engine role: wait for an action, read it, answer with an observation */
static int engine(const char *handle, long total, uint32_t spin_us, int32_t host) {
    channel c;
    float in[FLOATS];
    long k;
    int i;
    if (open_channel(handle, &c) != 0) return 1;
    for (k = 0; k < total; ++k) {
        aigym_wait_status ws = aigym_sem_wait(c.act_ready, AIGYM_WAIT_FOREVER, spin_us, host, NULL);
        if (ws != AIGYM_WAIT_OK) {
            fprintf(stderr, "engine: %s\n", aigym_wait_status_message(ws));
            return 1;
        }
        memcpy(in, c.act, sizeof in);
        for (i = 0; i < FLOATS; ++i) c.obs[i] = in[i] + 1.0f;
        aigym_sem_post(c.obs_ready);
    }
    return 0;
}

int main(int argc, char **argv) {
    channel c;
    long n, warmup, total, k, bad = 0;
    uint32_t spin_us;
    int64_t *lat, t0, sum = 0;
    float act[FLOATS], obs[FLOATS];
    pid_t child;
    int i, status, host_cpu = -1, engine_cpu = -1;
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: pingpong_floor <handle> <round_trips> <spin_us> <warmup> [<host_cpu>,<engine_cpu>]\n");
        return 2;
    }
    if (argc == 6 && sscanf(argv[5], "%d,%d", &host_cpu, &engine_cpu) != 2) return 2;
    n = atol(argv[2]);
    spin_us = (uint32_t)atol(argv[3]);
    warmup = atol(argv[4]);
    total = n + warmup;
    lat = (int64_t *)malloc(sizeof(int64_t) * (size_t)(n > 0 ? n : 1));
    if (n <= 0 || lat == NULL) return 2;

    child = fork();
    if (child < 0) return 1;
    if (child == 0) {
        pin(engine_cpu);
        _exit(engine(argv[1], total, spin_us, (int32_t)getppid()));
    }
    pin(host_cpu);

    if (open_channel(argv[1], &c) != 0) return 1;
    for (k = 0; k < total; ++k) {
        for (i = 0; i < FLOATS; ++i) act[i] = (float)(k + i);
        t0 = aigym_now_ns();
        memcpy(c.act, act, sizeof act);
        aigym_sem_post(c.act_ready);
        if (aigym_sem_wait(c.obs_ready, 10000000000LL, spin_us, (int32_t)child, NULL) != AIGYM_WAIT_OK) {
            fprintf(stderr, "host: engine did not answer\n");
            kill(child, SIGKILL);
            return 1;
        }
        memcpy(obs, c.obs, sizeof obs);
        if (k >= warmup) lat[k - warmup] = aigym_now_ns() - t0;
        bad += obs[0] != act[0] + 1.0f || obs[FLOATS - 1] != act[FLOATS - 1] + 1.0f;
    }
    waitpid(child, &status, 0);
    for (k = 0; k < n; ++k) sum += lat[k];
    qsort(lat, (size_t)n, sizeof(int64_t), cmp_i64);
    printf("{\"round_trips\": %ld, \"median_ns\": %lld, \"p99_ns\": %lld, \"mean_ns\": %lld, \"bad\": %ld, "
           "\"engine_exit\": %d}\n",
           n, (long long)lat[n / 2], (long long)lat[(size_t)((double)n * 0.99)], (long long)(sum / n), bad,
           WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    free(lat);
    aigym_shm_detach(&c.m);
    return bad == 0 ? 0 : 1;
}
