/*
 * aigym_shm_wait.h -- POSIX runtime helpers for the engine side of a godot-aigym chunk:
 * attach/detach (shm_open + mmap + validate), peer liveness, and the spin-then-block
 * semaphore wait. Layout lives in aigym_shm_layout.h; docs/PROTOCOL.md explains both.
 *
 * C11 (also valid C++20), Linux/glibc. The engine attaches only: it never creates,
 * resizes or unlinks a chunk, and never initialises a semaphore.
 */
#ifndef AIGYM_SHM_WAIT_H
#define AIGYM_SHM_WAIT_H

/* sem_clockwait is a GNU extension (glibc >= 2.30). C++ compilers define _GNU_SOURCE
 * already; C code must include this header first or build with -D_GNU_SOURCE. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "aigym_shm_layout.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef __cplusplus
extern "C" {
#endif

AIGYM_STATIC_ASSERT(sizeof(sem_t) <= AIGYM_SHM_SEM_SLOT_SIZE, "sem_t fits a semaphore slot");

#define AIGYM_WAIT_SLICE_NS 100000000LL      /* block at most 100 ms before re-checking */
#define AIGYM_WAIT_DEFAULT_SPIN_US 50u       /* spin budget before blocking */
/* Pure pause-spin this long before each spin iteration also calls sched_yield(). Measured
 * on a 2-vCPU KVM guest (C ping-pong, spin 50 us): yielding from the start costs ~0.05 us
 * when the peer is on the other vCPU (0.46 vs 0.40 us) and saves a lot when it shares ours
 * (1.4 us; pure spinning there costs ~2 x the spin budget per round trip, since the peer
 * cannot run until we give up). Override with -DAIGYM_WAIT_BUSY_SPIN_NS=<ns>. */
#ifndef AIGYM_WAIT_BUSY_SPIN_NS
#define AIGYM_WAIT_BUSY_SPIN_NS 0LL
#endif
#define AIGYM_WAIT_FOREVER (-1LL)

/* ---- attach ----------------------------------------------------------------------- */

typedef struct aigym_shm_mapping {
    void *base;        /* start of the mapping, NULL when not attached */
    uint64_t size;     /* mapped bytes (== header total_size) */
    int err_no;        /* errno of a failed open/fstat/mmap, else 0 */
    uint32_t bad_entry; /* entry index of an entry validation error, else UINT32_MAX */
} aigym_shm_mapping;

/* Open and map chunk `handle` (no leading '/'), validate it and check that the host's
 * sem_t has the size of ours. On OK, `out` holds the mapping (detach it later); on error
 * nothing stays mapped or open, out->err_no/bad_entry say more. */
static inline aigym_shm_status aigym_shm_attach(const char *handle, aigym_shm_mapping *out) {
    char path[AIGYM_SHM_HANDLE_MAX + 2];
    struct stat st;
    void *base;
    int fd;
    aigym_shm_status status;
    out->base = NULL;
    out->size = 0;
    out->err_no = 0;
    out->bad_entry = UINT32_MAX;
    if (handle == NULL || handle[0] == '\0') return AIGYM_SHM_ERR_NO_HANDLE;
    if (!aigym_shm_handle_valid(handle)) return AIGYM_SHM_ERR_BAD_HANDLE;
    snprintf(path, sizeof path, "/%s", handle);
    fd = shm_open(path, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) {
        out->err_no = errno;
        return errno == ENOENT ? AIGYM_SHM_ERR_NOT_FOUND : AIGYM_SHM_ERR_OPEN_FAILED;
    }
    if (fstat(fd, &st) != 0) {
        out->err_no = errno;
        close(fd);
        return AIGYM_SHM_ERR_OPEN_FAILED;
    }
    if ((uint64_t)st.st_size < AIGYM_SHM_HEADER_SIZE) {
        close(fd);
        return AIGYM_SHM_ERR_TOO_SMALL;
    }
    base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    out->err_no = base == MAP_FAILED ? errno : 0;
    close(fd); /* the mapping keeps the chunk alive */
    if (base == MAP_FAILED) return AIGYM_SHM_ERR_OPEN_FAILED;
    status = aigym_shm_validate(base, (uint64_t)st.st_size, (uint32_t)sizeof(sem_t), &out->bad_entry);
    if (status != AIGYM_SHM_OK) {
        munmap(base, (size_t)st.st_size);
        return status;
    }
    out->base = base;
    out->size = (uint64_t)st.st_size;
    return AIGYM_SHM_OK;
}

static inline void aigym_shm_detach(aigym_shm_mapping *m) {
    if (m->base != NULL) munmap(m->base, (size_t)m->size);
    m->base = NULL;
    m->size = 0;
}

/* The sem_t of a semaphore entry (check the entry's kind first, e.g. via aigym_shm_find). */
static inline sem_t *aigym_shm_entry_sem(void *base, const aigym_shm_entry *e) {
    return (sem_t *)aigym_shm_entry_data(base, e);
}

/* ---- liveness --------------------------------------------------------------------- */

/* 1 if process `pid` exists and is not a zombie, 0 if it is gone. pid <= 0 (unknown)
 * counts as alive. A zombie still answers kill(pid, 0), so /proc/<pid>/stat is read too:
 * a host that died but was not yet reaped by its parent is dead to us. */
static inline int aigym_pid_alive(int32_t pid) {
    char path[64], buf[256];
    const char *p;
    ssize_t n;
    int fd;
    if (pid <= 0) return 1;
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) return 0;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? 0 : 1;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 1;
    buf[n] = '\0';
    p = strrchr(buf, ')'); /* the command name may contain spaces and parentheses */
    if (p == NULL || p[1] != ' ') return 1;
    return !(p[2] == 'Z' || p[2] == 'X');
}

/* ---- spin-then-block wait ---------------------------------------------------------- */

typedef enum aigym_wait_status {
    AIGYM_WAIT_OK = 0,        /* the semaphore was decremented */
    AIGYM_WAIT_TIMEOUT = 1,   /* timeout_ns elapsed first */
    AIGYM_WAIT_PEER_DEAD = 2, /* peer_pid is gone (checked between blocking slices) */
    AIGYM_WAIT_SHUTDOWN = 3,  /* *shutdown_flag became non-zero */
    AIGYM_WAIT_ERROR = 4      /* sem_* failed; errno says why */
} aigym_wait_status;

static inline const char *aigym_wait_status_message(aigym_wait_status s) {
    switch (s) {
    case AIGYM_WAIT_OK: return "ok";
    case AIGYM_WAIT_TIMEOUT: return "timed out waiting for the semaphore";
    case AIGYM_WAIT_PEER_DEAD: return "the peer process died while we waited";
    case AIGYM_WAIT_SHUTDOWN: return "the host asked the engine to shut down";
    case AIGYM_WAIT_ERROR: return "semaphore wait failed";
    default: return "unknown wait status";
    }
}

static inline int64_t aigym_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline void aigym_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    __asm__ __volatile__("" ::: "memory");
#endif
}

/* Wait on `sem`:
 *   1. sem_trywait; on success return at once.
 *   2. spin up to spin_us microseconds with sem_trywait + a pause instruction
 *      (glibc's trywait only reads the shared line while the value is 0); after the
 *      first AIGYM_WAIT_BUSY_SPIN_NS (default 0) each iteration also calls sched_yield()
 *      so a peer sharing our vCPU can run.
 *   3. block in sem_clockwait(CLOCK_MONOTONIC) slices of <= 100 ms; between slices
 *      check *shutdown_flag (if not NULL) and peer_pid (if > 0) and give up if needed.
 * timeout_ns < 0 waits forever (still checking the peer), 0 polls once, > 0 bounds it.
 * spin_us = 0 disables spinning. EINTR is retried. Before reporting PEER_DEAD or
 * SHUTDOWN a last trywait runs, so a post made just before the peer exited is taken. */
static inline aigym_wait_status aigym_sem_wait(sem_t *sem, int64_t timeout_ns, uint32_t spin_us,
                                               int32_t peer_pid, const uint32_t *shutdown_flag) {
    int64_t start, deadline, spin_end, busy_end, now, slice_end;
    struct timespec abs_ts;
    unsigned iter = 0;
    if (sem_trywait(sem) == 0) return AIGYM_WAIT_OK;
    if (errno != EAGAIN && errno != EINTR) return AIGYM_WAIT_ERROR;
    if (timeout_ns == 0) return AIGYM_WAIT_TIMEOUT;
    start = aigym_now_ns();
    deadline = (timeout_ns < 0 || timeout_ns > INT64_MAX - start) ? INT64_MAX : start + timeout_ns;
    if (spin_us > 0u) {
        spin_end = start + (int64_t)spin_us * 1000LL;
        if (spin_end > deadline) spin_end = deadline;
        busy_end = start + AIGYM_WAIT_BUSY_SPIN_NS;
        for (;;) {
            aigym_cpu_relax();
            if (sem_trywait(sem) == 0) return AIGYM_WAIT_OK;
            if ((++iter & 3u) != 0u) continue;
            now = aigym_now_ns();
            if (now >= spin_end) break;
            if (now >= busy_end) sched_yield(); /* a peer on our vCPU gets to run */
        }
    }
    for (;;) {
        now = aigym_now_ns();
        if (now >= deadline) return sem_trywait(sem) == 0 ? AIGYM_WAIT_OK : AIGYM_WAIT_TIMEOUT;
        slice_end = deadline - now > AIGYM_WAIT_SLICE_NS ? now + AIGYM_WAIT_SLICE_NS : deadline;
        abs_ts.tv_sec = (time_t)(slice_end / 1000000000LL);
        abs_ts.tv_nsec = (long)(slice_end % 1000000000LL);
        if (sem_clockwait(sem, CLOCK_MONOTONIC, &abs_ts) == 0) return AIGYM_WAIT_OK;
        if (errno != ETIMEDOUT && errno != EINTR) return AIGYM_WAIT_ERROR;
        if (shutdown_flag != NULL && __atomic_load_n(shutdown_flag, __ATOMIC_ACQUIRE) != 0u)
            return sem_trywait(sem) == 0 ? AIGYM_WAIT_OK : AIGYM_WAIT_SHUTDOWN;
        if (peer_pid > 0 && !aigym_pid_alive(peer_pid))
            return sem_trywait(sem) == 0 ? AIGYM_WAIT_OK : AIGYM_WAIT_PEER_DEAD;
    }
}

/* Post `sem`; 0 on success, -1 with errno (EOVERFLOW) on failure. */
static inline int aigym_sem_post(sem_t *sem) {
    return sem_post(sem);
}

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* AIGYM_SHM_WAIT_H */
