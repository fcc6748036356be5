/*
 * aigym_shm_wait.h -- POSIX runtime helpers for the engine side of a godot-aigym chunk:
 * attach/detach (shm_open + mmap + validate), peer liveness, and the spin-then-block
 * semaphore wait. Layout lives in aigym_shm_layout.h; docs/PROTOCOL.md explains both.
 *
 * C11 (also valid C++20), Linux/glibc. The engine attaches only: it never creates,
 * resizes or initialises a chunk; it unlinks one only when its host died (host_watch.cpp).
 * The semaphore itself (a validated futex word, not glibc's sem_t) is in aigym_shm_sem.h.
 */
#ifndef AIGYM_SHM_WAIT_H
#define AIGYM_SHM_WAIT_H

/* C++ compilers define _GNU_SOURCE already; C code must include this header first or build
 * with -D_GNU_SOURCE. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "aigym_shm_layout.h"
#include "aigym_shm_sem.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef __cplusplus
extern "C" {
#endif

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
    uint32_t owner_uid; /* the file's owner and permission bits (NOT_PRIVATE says which) */
    uint32_t mode;
    uint64_t dev, ino;  /* the file's identity: unlink the name only if it is still this file */
    int32_t holder_pid; /* the engine that holds the chunk (CLAIMED) */
    uint32_t capacity;  /* directory slots, read once after validation: bounds every lookup */
    int32_t host_pid;   /* the creating host, read once after validation: whose death we watch */
} aigym_shm_mapping;

/* Open and map chunk `handle` (no leading '/'), check that it is private to our user (owned
 * by our euid, no group/other permission bits: NOT_PRIVATE otherwise, checked with fstat
 * on the opened fd), validate it and check the host's semaphore format. On OK, `out` holds
 * the mapping (detach it later); on error nothing stays mapped or open, out->err_no /
 * bad_entry / owner_uid / mode say more. Claiming the chunk is aigym_shm_claim's job. */
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
    out->owner_uid = 0;
    out->mode = 0;
    out->dev = out->ino = 0;
    out->holder_pid = 0;
    out->capacity = 0;
    out->host_pid = 0;
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
    out->owner_uid = (uint32_t)st.st_uid;
    out->mode = (uint32_t)(st.st_mode & 07777);
    out->dev = (uint64_t)st.st_dev;
    out->ino = (uint64_t)st.st_ino;
    /* a squatter's file (another owner, or readable/writable by others) is never trusted */
    if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
        close(fd);
        return AIGYM_SHM_ERR_NOT_PRIVATE;
    }
    if ((uint64_t)st.st_size < AIGYM_SHM_HEADER_SIZE) {
        close(fd);
        return AIGYM_SHM_ERR_TOO_SMALL;
    }
    base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    out->err_no = base == MAP_FAILED ? errno : 0;
    close(fd); /* the mapping keeps the chunk alive */
    if (base == MAP_FAILED) return AIGYM_SHM_ERR_OPEN_FAILED;
    status = aigym_shm_validate(base, (uint64_t)st.st_size, AIGYM_SHM_SEM_SIZE, &out->bad_entry);
    /* the fields the engine keeps, read once and checked again: the host may write them later */
    out->capacity = __atomic_load_n(&((const aigym_shm_header *)base)->capacity, __ATOMIC_RELAXED);
    out->host_pid = __atomic_load_n(&((const aigym_shm_header *)base)->host_pid, __ATOMIC_RELAXED);
    if (status == AIGYM_SHM_OK && (out->capacity < 1u || out->capacity > AIGYM_SHM_MAX_CAPACITY ||
                                   aigym_shm_data_offset_for(out->capacity) > (uint64_t)st.st_size))
        status = AIGYM_SHM_ERR_BAD_CAPACITY;
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

/* The semaphore of a semaphore entry (an entry copy checked by aigym_shm_find). */
static inline aigym_sem *aigym_shm_entry_sem(void *base, const aigym_shm_entry *e) {
    return (aigym_sem *)aigym_shm_entry_data(base, e);
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

/* Start time of process `pid` in clock ticks since boot (/proc/<pid>/stat field 22), 0 if
 * unknown; as liveness.start_time in Python. */
static inline uint64_t aigym_pid_start_time(int32_t pid) {
    char path[64], buf[1024];
    const char *p;
    ssize_t n;
    int fd, field;
    if (pid <= 0) return 0;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = '\0';
    p = strrchr(buf, ')'); /* the command name may contain spaces and parentheses */
    if (p == NULL) return 0;
    for (field = 2; field < 22 && p != NULL; ++field) p = strchr(p + 1, ' ');
    return p == NULL ? 0 : strtoull(p + 1, NULL, 10);
}

/* ---- claiming the chunk as its one engine ----------------------------------------- */

/* Claim an attached chunk for engine `pid` (compare-and-swap on the header's engine_pid,
 * then its start time). OK if it was unclaimed, already ours, or held by a dead engine: gone,
 * a zombie, or a pid now used by another process (its start time differs from the claim's);
 * such a stale claim is taken over. CLAIMED with m->holder_pid if a live engine holds it, or
 * the claim's start time is not known yet (0: written just after the pid, so an engine
 * claiming right now is never taken over). */
static inline aigym_shm_status aigym_shm_claim(aigym_shm_mapping *m, int32_t pid) {
    aigym_shm_header *h = (aigym_shm_header *)m->base;
    uint64_t mine = aigym_pid_start_time(pid);
    int32_t holder = 0;
    int tries;
    for (tries = 0; tries < 16; ++tries) {
        if (aigym_shm_cas_engine_pid(h, 0, pid, &holder)) {
            aigym_shm_store_engine_start(h, mine);
            return AIGYM_SHM_OK;
        }
        if (holder == pid) return AIGYM_SHM_OK;
        if (holder > 0 && aigym_pid_alive(holder)) {
            uint64_t claimed = aigym_shm_load_engine_start(h), now = aigym_pid_start_time(holder);
            if (claimed == 0 || now == 0 || claimed == now) break; /* a live engine */
        }
        /* stale: zero the start time first, so that nobody takes our claim for stale while
         * it still carries the dead engine's start time */
        aigym_shm_store_engine_start(h, 0);
        if (aigym_shm_cas_engine_pid(h, holder, pid, &holder)) {
            aigym_shm_store_engine_start(h, mine);
            return AIGYM_SHM_OK;
        }
    }
    m->holder_pid = holder;
    return AIGYM_SHM_ERR_CLAIMED;
}

/* ---- spin-then-block wait ---------------------------------------------------------- */

typedef enum aigym_wait_status {
    AIGYM_WAIT_OK = 0,        /* the semaphore was decremented */
    AIGYM_WAIT_TIMEOUT = 1,   /* timeout_ns elapsed first */
    AIGYM_WAIT_PEER_DEAD = 2, /* peer_pid is gone (checked between blocking slices) */
    AIGYM_WAIT_SHUTDOWN = 3,  /* *shutdown_flag became non-zero */
    AIGYM_WAIT_ERROR = 4,     /* futex(2) failed; errno says why */
    AIGYM_WAIT_CORRUPT = 5    /* the semaphore's bytes are garbage (aigym_sem_valid) */
} aigym_wait_status;

static inline const char *aigym_wait_status_message(aigym_wait_status s) {
    switch (s) {
    case AIGYM_WAIT_OK: return "ok";
    case AIGYM_WAIT_TIMEOUT: return "timed out waiting for the semaphore";
    case AIGYM_WAIT_PEER_DEAD: return "the peer process died while we waited";
    case AIGYM_WAIT_SHUTDOWN: return "the host asked the engine to shut down";
    case AIGYM_WAIT_ERROR: return "semaphore wait failed";
    case AIGYM_WAIT_CORRUPT: return aigym_sem_status_message(AIGYM_SEM_CORRUPT);
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

/* Map a semaphore status of the wait's fast path to a wait status (OK/AGAIN handled by caller). */
static inline aigym_wait_status aigym_wait_from_sem(aigym_sem_status st) {
    return st == AIGYM_SEM_CORRUPT ? AIGYM_WAIT_CORRUPT : AIGYM_WAIT_ERROR;
}

/* Wait on `sem`:
 *   1. trywait; on success return at once.
 *   2. spin up to spin_us microseconds with trywait + a pause instruction (trywait only
 *      reads the shared line while the count is 0); after the first AIGYM_WAIT_BUSY_SPIN_NS
 *      (default 0) each iteration also calls sched_yield() so a peer sharing our vCPU can run.
 *   3. block on the futex in slices of <= 100 ms; between slices check *shutdown_flag (if
 *      not NULL) and peer_pid (if > 0) and give up if needed.
 * timeout_ns < 0 waits forever (still checking the peer), 0 polls once, > 0 bounds it.
 * spin_us = 0 disables spinning. Signals are retried. A shutdown flag already set when the
 * wait starts returns SHUTDOWN at once. Before reporting PEER_DEAD or a SHUTDOWN seen between
 * slices a last trywait runs, so a post made just before the peer exited is taken.
 * A corrupted semaphore returns CORRUPT (at once, whatever the phase). With stuck_word != NULL
 * each blocking slice publishes it (aigym_sem_block_marked) (the engine's wait after an
 * unanswered error); aigym_sem_wait below is this without it. */
static inline aigym_wait_status aigym_sem_wait_published(aigym_sem *sem, int64_t timeout_ns, uint32_t spin_us,
                                                         int32_t peer_pid, const uint32_t *shutdown_flag,
                                                         uint64_t *stuck_word, uint64_t stuck_value) {
    int64_t start, deadline, spin_end, busy_end, now, slice_end;
    aigym_sem_status st;
    unsigned iter = 0;
    /* a host that asked us to quit is obeyed even while posts keep coming (or a scribbled count
     * seems to offer millions): the flag's line is read-mostly, so this costs a cached load */
    if (shutdown_flag != NULL && __atomic_load_n(shutdown_flag, __ATOMIC_ACQUIRE) != 0u) return AIGYM_WAIT_SHUTDOWN;
    st = aigym_sem_trywait(sem);
    if (st == AIGYM_SEM_OK) return AIGYM_WAIT_OK;
    if (st != AIGYM_SEM_AGAIN) return aigym_wait_from_sem(st);
    if (timeout_ns == 0) return AIGYM_WAIT_TIMEOUT;
    start = aigym_now_ns();
    deadline = (timeout_ns < 0 || timeout_ns > INT64_MAX - start) ? INT64_MAX : start + timeout_ns;
    if (spin_us > 0u) {
        spin_end = start + (int64_t)spin_us * 1000LL;
        if (spin_end > deadline) spin_end = deadline;
        busy_end = start + AIGYM_WAIT_BUSY_SPIN_NS;
        for (;;) {
            aigym_cpu_relax();
            st = aigym_sem_trywait(sem);
            if (st == AIGYM_SEM_OK) return AIGYM_WAIT_OK;
            if (st != AIGYM_SEM_AGAIN) return aigym_wait_from_sem(st);
            if ((++iter & 3u) != 0u) continue;
            now = aigym_now_ns();
            if (now >= spin_end) break;
            if (now >= busy_end) sched_yield(); /* a peer on our vCPU gets to run */
        }
    }
    for (;;) {
        now = aigym_now_ns();
        if (now >= deadline) {
            st = aigym_sem_trywait(sem);
            return st == AIGYM_SEM_OK ? AIGYM_WAIT_OK : st == AIGYM_SEM_AGAIN ? AIGYM_WAIT_TIMEOUT : aigym_wait_from_sem(st);
        }
        slice_end = deadline - now > AIGYM_WAIT_SLICE_NS ? now + AIGYM_WAIT_SLICE_NS : deadline;
        st = aigym_sem_block_marked(sem, slice_end, stuck_word, stuck_value);
        if (st == AIGYM_SEM_OK) return AIGYM_WAIT_OK;
        if (st != AIGYM_SEM_TIMEDOUT && st != AIGYM_SEM_INTERRUPTED) return aigym_wait_from_sem(st);
        if (shutdown_flag != NULL && __atomic_load_n(shutdown_flag, __ATOMIC_ACQUIRE) != 0u)
            return aigym_sem_trywait(sem) == AIGYM_SEM_OK ? AIGYM_WAIT_OK : AIGYM_WAIT_SHUTDOWN;
        if (peer_pid > 0 && !aigym_pid_alive(peer_pid))
            return aigym_sem_trywait(sem) == AIGYM_SEM_OK ? AIGYM_WAIT_OK : AIGYM_WAIT_PEER_DEAD;
    }
}

static inline aigym_wait_status aigym_sem_wait(aigym_sem *sem, int64_t timeout_ns, uint32_t spin_us,
                                               int32_t peer_pid, const uint32_t *shutdown_flag) {
    return aigym_sem_wait_published(sem, timeout_ns, spin_us, peer_pid, shutdown_flag, NULL, 0u);
}

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* AIGYM_SHM_WAIT_H */
