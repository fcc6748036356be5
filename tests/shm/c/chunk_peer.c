/* Engine-side exerciser of the C helpers on a chunk Python created
 * (tests/shm/test_layout_c_python.py). Prints one JSON object.
 *   chunk_peer errors <missing-handle>
 *   chunk_peer roundtrip <handle>
 *   chunk_peer wait <handle> <semaphore> <timeout_ms> <spin_us> <peer_pid> <watch_shutdown 0|1>
 *   chunk_peer semfuzz <handle> <semaphore> <rounds> <seed>
 *   chunk_peer claim <handle>
 */
#include "aigym_shm_wait.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int errors_mode(const char *missing) {
    aigym_shm_mapping m;
    printf("{\"null\": %d, ", (int)aigym_shm_attach(NULL, &m));
    printf("\"empty\": %d, ", (int)aigym_shm_attach("", &m));
    printf("\"slash\": %d, ", (int)aigym_shm_attach("bad/handle", &m));
    printf("\"dot\": %d, ", (int)aigym_shm_attach("..", &m));
    printf("\"missing\": %d, \"mapped\": %d}\n", (int)aigym_shm_attach(missing, &m), m.base != NULL);
    return 0;
}

static void print_floats(const char *key, const float *v, uint64_t n) {
    uint64_t i;
    printf("\"%s\": [", key);
    for (i = 0; i < n; ++i) printf("%s%.9g", i ? ", " : "", (double)v[i]);
    printf("], ");
}

static int roundtrip_mode(const char *handle) {
    aigym_shm_mapping m;
    aigym_shm_header *h;
    aigym_shm_entry pf, pi, pimg, ef, ei, eimg, to_engine, to_host, e;
    aigym_shm_status st;
    aigym_wait_status ws;
    uint64_t i;
    st = aigym_shm_attach(handle, &m);
    if (st != AIGYM_SHM_OK) {
        printf("{\"attach\": %d, \"message\": \"%s\"}\n", (int)st, aigym_shm_status_message(st));
        return 1;
    }
    h = (aigym_shm_header *)m.base;
    aigym_shm_store_engine_pid(h, (int32_t)getpid());
    printf("{\"attach\": 0, \"entry_count\": %u, ", aigym_shm_load_entry_count(h));
    /* error statuses of lookups */
    printf("\"unknown\": %d, ", (int)aigym_shm_find(m.base, m.size, m.capacity, "nope", 0, 0, &e));
    st = aigym_shm_find(m.base, m.size, m.capacity, "py_floats", AIGYM_SHM_KIND_TENSOR, AIGYM_SHM_DTYPE_INT32, &e);
    printf("\"wrong_dtype\": %d, \"stored\": \"%s\", ", (int)st, aigym_shm_type_name(e.kind, e.dtype));
    st = aigym_shm_find(m.base, m.size, m.capacity, "to_engine", AIGYM_SHM_KIND_TENSOR, 0, &e);
    printf("\"wrong_kind\": %d, \"stored_sem\": \"%s\", ", (int)st, aigym_shm_type_name(e.kind, e.dtype));
    printf("\"invalid\": %d, ", (int)aigym_shm_find(m.base, m.size, m.capacity, "bad name!", 0, 0, &e));
    if (aigym_shm_find(m.base, m.size, m.capacity, "py_floats", AIGYM_SHM_KIND_TENSOR, AIGYM_SHM_DTYPE_FLOAT32, &pf) ||
        aigym_shm_find(m.base, m.size, m.capacity, "py_ints", AIGYM_SHM_KIND_TENSOR, AIGYM_SHM_DTYPE_INT32, &pi) ||
        aigym_shm_find(m.base, m.size, m.capacity, "py_img", AIGYM_SHM_KIND_TENSOR, AIGYM_SHM_DTYPE_UINT8, &pimg) ||
        aigym_shm_find(m.base, m.size, m.capacity, "engine_floats", AIGYM_SHM_KIND_TENSOR, AIGYM_SHM_DTYPE_FLOAT32, &ef) ||
        aigym_shm_find(m.base, m.size, m.capacity, "engine_ints", AIGYM_SHM_KIND_TENSOR, AIGYM_SHM_DTYPE_INT32, &ei) ||
        aigym_shm_find(m.base, m.size, m.capacity, "engine_img", AIGYM_SHM_KIND_TENSOR, AIGYM_SHM_DTYPE_UINT8, &eimg) ||
        aigym_shm_find(m.base, m.size, m.capacity, "to_engine", AIGYM_SHM_KIND_SEMAPHORE, 0, &to_engine) ||
        aigym_shm_find(m.base, m.size, m.capacity, "to_host", AIGYM_SHM_KIND_SEMAPHORE, 0, &to_host)) {
        printf("\"find\": \"failed\"}\n");
        return 1;
    }
    ws = aigym_sem_wait(aigym_shm_entry_sem(m.base, &to_engine), 10000000000LL, 50u, h->host_pid, &h->shutdown);
    printf("\"wait\": %d, ", (int)ws);
    if (ws == AIGYM_WAIT_OK) {
        const float *in_f = (const float *)aigym_shm_entry_data(m.base, &pf);
        float *out_f = (float *)aigym_shm_entry_data(m.base, &ef);
        const int32_t *in_i = (const int32_t *)aigym_shm_entry_data(m.base, &pi);
        int32_t *out_i = (int32_t *)aigym_shm_entry_data(m.base, &ei);
        const uint8_t *in_u = (const uint8_t *)aigym_shm_entry_data(m.base, &pimg);
        uint8_t *out_u = (uint8_t *)aigym_shm_entry_data(m.base, &eimg);
        print_floats("read_floats", in_f, pf.count);
        for (i = 0; i < ef.count && i < pf.count; ++i) out_f[i] = 2.0f * in_f[i];
        for (i = 0; i < ei.count && i < pi.count; ++i) out_i[i] = in_i[i] + 1;
        for (i = 0; i < eimg.count && i < pimg.count; ++i) out_u[i] = (uint8_t)(255u - in_u[i]);
        printf("\"post\": %d, ", aigym_sem_post(aigym_shm_entry_sem(m.base, &to_host)));
    }
    printf("\"done\": 1}\n");
    aigym_shm_detach(&m);
    return 0;
}

static int wait_mode(char **argv) {
    aigym_shm_mapping m;
    aigym_shm_entry e;
    aigym_shm_header *h;
    aigym_shm_status st = aigym_shm_attach(argv[2], &m);
    int64_t t0, timeout_ms = atoll(argv[4]);
    aigym_wait_status ws;
    if (st == AIGYM_SHM_OK) st = aigym_shm_find(m.base, m.size, m.capacity, argv[3], AIGYM_SHM_KIND_SEMAPHORE, 0, &e);
    if (st != AIGYM_SHM_OK) {
        printf("{\"status\": %d}\n", (int)st);
        return 1;
    }
    h = (aigym_shm_header *)m.base;
    aigym_shm_store_engine_pid(h, (int32_t)getpid());
    printf("{\"ready\": 1}\n");
    fflush(stdout);
    t0 = aigym_now_ns();
    ws = aigym_sem_wait(aigym_shm_entry_sem(m.base, &e), timeout_ms < 0 ? AIGYM_WAIT_FOREVER : timeout_ms * 1000000LL,
                        (uint32_t)atoi(argv[5]), (int32_t)atoi(argv[6]), atoi(argv[7]) ? &h->shutdown : NULL);
    printf("{\"wait\": %d, \"message\": \"%s\", \"elapsed_ms\": %.3f}\n", (int)ws, aigym_wait_status_message(ws),
           (double)(aigym_now_ns() - t0) / 1e6);
    aigym_shm_detach(&m);
    return 0;
}

/* semfuzz <handle> <semaphore> <rounds> <seed>: write random bytes over the semaphore, then
 * trywait / post / wait 1 ms on it; count the outcomes. Never aborts, whatever the bytes. */
static int semfuzz_mode(char **argv) {
    aigym_shm_mapping m;
    aigym_shm_entry e;
    aigym_shm_status st = aigym_shm_attach(argv[2], &m);
    long rounds = atol(argv[4]), i;
    unsigned seed = (unsigned)atol(argv[5]);
    int counts[8] = {0}, waits[8] = {0};
    if (st == AIGYM_SHM_OK) st = aigym_shm_find(m.base, m.size, m.capacity, argv[3], AIGYM_SHM_KIND_SEMAPHORE, 0, &e);
    if (st != AIGYM_SHM_OK) {
        printf("{\"status\": %d}\n", (int)st);
        return 1;
    }
    uint8_t *slot = (uint8_t *)aigym_shm_entry_data(m.base, &e);
    aigym_sem *sem = aigym_shm_entry_sem(m.base, &e);
    for (i = 0; i < rounds; ++i) {
        unsigned n = 1u + (unsigned)rand_r(&seed) % 16u, at = (unsigned)rand_r(&seed) % (17u - n), k;
        aigym_sem_init(sem, (uint32_t)rand_r(&seed) % 3u);
        for (k = 0; k < n; ++k) slot[at + k] = (uint8_t)rand_r(&seed);
        counts[aigym_sem_trywait(sem)]++;
        counts[aigym_sem_post(sem)]++;
        waits[aigym_sem_wait(sem, 1000000LL, 5u, 0, NULL)]++;
    }
    printf("{\"ok\": %d, \"again\": %d, \"corrupt\": %d, \"overflow\": %d, \"wait_ok\": %d, "
           "\"wait_timeout\": %d, \"wait_corrupt\": %d, \"wait_error\": %d}\n",
           counts[AIGYM_SEM_OK], counts[AIGYM_SEM_AGAIN], counts[AIGYM_SEM_CORRUPT], counts[AIGYM_SEM_OVERFLOW],
           waits[AIGYM_WAIT_OK], waits[AIGYM_WAIT_TIMEOUT], waits[AIGYM_WAIT_CORRUPT], waits[AIGYM_WAIT_ERROR]);
    aigym_shm_detach(&m);
    return 0;
}

/* claim <handle>: attach and claim the chunk as its engine; print the status and the holder. */
static int claim_mode(char **argv) {
    aigym_shm_mapping m;
    aigym_shm_status st = aigym_shm_attach(argv[2], &m);
    if (st == AIGYM_SHM_OK) st = aigym_shm_claim(&m, (int32_t)getpid());
    printf("{\"status\": %d, \"holder\": %d, \"pid\": %d, \"owner_uid\": %u, \"mode\": %u}\n", (int)st,
           (int)m.holder_pid, (int)getpid(), m.owner_uid, m.mode);
    aigym_shm_detach(&m);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 6 && strcmp(argv[1], "semfuzz") == 0) return semfuzz_mode(argv);
    if (argc == 3 && strcmp(argv[1], "claim") == 0) return claim_mode(argv);
    if (argc == 3 && strcmp(argv[1], "errors") == 0) return errors_mode(argv[2]);
    if (argc == 3 && strcmp(argv[1], "roundtrip") == 0) return roundtrip_mode(argv[2]);
    if (argc == 8 && strcmp(argv[1], "wait") == 0) return wait_mode(argv);
    fprintf(stderr, "usage: see the comment at the top of chunk_peer.c\n");
    return 2;
}
