/*
 * aigym_shm_sem.h -- the semaphore of a godot-aigym chunk: a validated count on a futex.
 *
 * glibc's sem_t aborts the whole process ("The futex facility returned an unexpected error
 * code") when its bytes are garbage, and any same-user writer of the chunk can write garbage.
 * So the semaphore is a word we own: a 32-bit count (the futex word), a waiter count and a
 * magic, all checked before every use. A corrupted semaphore is reported as
 * AIGYM_SEM_CORRUPT, never an abort; we only ever compare-and-swap from a value we checked.
 *
 * Used by both sides: the engine (aigym_shm_wait.h) and the Python host
 * (python_host/godot_aigym/shm/_futexsem.c includes this file). Linux only (futex(2),
 * shared -- not FUTEX_PRIVATE -- because the word lives in memory mapped by two processes).
 */
#ifndef AIGYM_SHM_SEM_H
#define AIGYM_SHM_SEM_H

#include "aigym_shm_layout.h"

#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum aigym_sem_status {
    AIGYM_SEM_OK = 0,          /* decremented / incremented */
    AIGYM_SEM_AGAIN = 1,       /* trywait: the count is 0 */
    AIGYM_SEM_TIMEDOUT = 2,    /* block: the deadline passed */
    AIGYM_SEM_INTERRUPTED = 3, /* block: a signal arrived (the caller re-checks and retries) */
    AIGYM_SEM_CORRUPT = 4,     /* bad magic, count or waiter count: someone wrote garbage */
    AIGYM_SEM_OVERFLOW = 5,    /* post: the count is at AIGYM_SEM_VALUE_MAX */
    AIGYM_SEM_FUTEX_ERROR = 6  /* futex(2) failed unexpectedly; errno says why */
} aigym_sem_status;

static inline const char *aigym_sem_status_message(aigym_sem_status s) {
    switch (s) {
    case AIGYM_SEM_OK: return "ok";
    case AIGYM_SEM_AGAIN: return "the semaphore's count is 0";
    case AIGYM_SEM_TIMEDOUT: return "timed out waiting for the semaphore";
    case AIGYM_SEM_INTERRUPTED: return "interrupted by a signal";
    case AIGYM_SEM_CORRUPT: return "corrupted semaphore: its bytes in the chunk are not a valid semaphore "
                                   "(bad magic, count or waiter count)";
    case AIGYM_SEM_OVERFLOW: return "semaphore count overflow";
    case AIGYM_SEM_FUTEX_ERROR: return "futex system call failed";
    default: return "unknown semaphore status";
    }
}

/* Host only, before the entry is published: a fresh semaphore holding `value`. */
static inline int aigym_sem_init(aigym_sem *s, uint32_t value) {
    if (value > AIGYM_SEM_VALUE_MAX) return AIGYM_SEM_OVERFLOW;
    s->value = value;
    s->waiters = 0u;
    s->magic = AIGYM_SEM_MAGIC;
    s->reserved = 0u;
    return AIGYM_SEM_OK;
}

/* 1 if the slot holds a plausible semaphore whose count is `value`. */
static inline int aigym_sem_valid(const aigym_sem *s, uint32_t value) {
    return __atomic_load_n(&s->magic, __ATOMIC_RELAXED) == AIGYM_SEM_MAGIC && value <= AIGYM_SEM_VALUE_MAX &&
           __atomic_load_n(&s->waiters, __ATOMIC_RELAXED) <= AIGYM_SEM_WAITERS_MAX;
}

/* Current count, or -1 if the semaphore is corrupt. */
static inline int64_t aigym_sem_value(const aigym_sem *s) {
    uint32_t v = __atomic_load_n(&s->value, __ATOMIC_ACQUIRE);
    return aigym_sem_valid(s, v) ? (int64_t)v : -1;
}

/* Decrement if the count is > 0: OK, AGAIN or CORRUPT. Only reads the line while 0. */
static inline aigym_sem_status aigym_sem_trywait(aigym_sem *s) {
    uint32_t v = __atomic_load_n(&s->value, __ATOMIC_RELAXED);
    for (;;) {
        if (!aigym_sem_valid(s, v)) return AIGYM_SEM_CORRUPT;
        if (v == 0u) return AIGYM_SEM_AGAIN;
        if (__atomic_compare_exchange_n(&s->value, &v, v - 1u, 1, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            return AIGYM_SEM_OK;
    }
}

/* Increment and wake one blocked waiter if there is one: OK, OVERFLOW or CORRUPT/FUTEX_ERROR. */
static inline aigym_sem_status aigym_sem_post(aigym_sem *s) {
    uint32_t v = __atomic_load_n(&s->value, __ATOMIC_RELAXED);
    for (;;) {
        if (!aigym_sem_valid(s, v)) return AIGYM_SEM_CORRUPT;
        if (v >= AIGYM_SEM_VALUE_MAX) return AIGYM_SEM_OVERFLOW;
        /* seq_cst pairs with the waiter's seq_cst increment of `waiters` (Dekker): either we
         * see its waiter count or it sees our new value before sleeping. */
        if (__atomic_compare_exchange_n(&s->value, &v, v + 1u, 1, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) break;
    }
    if (__atomic_load_n(&s->waiters, __ATOMIC_SEQ_CST) != 0u) {
        if (syscall(SYS_futex, &s->value, FUTEX_WAKE, 1, NULL, NULL, 0) < 0 && errno != EFAULT)
            return AIGYM_SEM_FUTEX_ERROR;
    }
    return AIGYM_SEM_OK;
}

/* Block until the semaphore can be decremented or CLOCK_MONOTONIC reaches deadline_ns:
 * OK, TIMEDOUT (after one last trywait), INTERRUPTED (signal), CORRUPT or FUTEX_ERROR.
 * With stuck_word != NULL (the engine's wait after an error it has not answered) it also
 * publishes `stuck_value` in *stuck_word while it sleeps and clears it BEFORE each attempt to
 * take the semaphore, so a host that reads (stuck word, then the count, then the stuck word
 * again) and sees the same word and a zero count knows the engine has not taken a post and
 * cannot without a new one (engine_record.py). */
static inline aigym_sem_status aigym_sem_block_marked(aigym_sem *s, int64_t deadline_ns, uint64_t *stuck_word,
                                                      uint64_t stuck_value) {
    struct timespec abs_ts;
    aigym_sem_status st;
    uint32_t v;
    long rc;
    abs_ts.tv_sec = (time_t)(deadline_ns / 1000000000LL);
    abs_ts.tv_nsec = (long)(deadline_ns % 1000000000LL);
    __atomic_fetch_add(&s->waiters, 1u, __ATOMIC_SEQ_CST);
    for (;;) {
        if (stuck_word != NULL) __atomic_store_n(stuck_word, stuck_value, __ATOMIC_SEQ_CST);
        v = __atomic_load_n(&s->value, __ATOMIC_SEQ_CST);
        if (!aigym_sem_valid(s, v)) {
            st = AIGYM_SEM_CORRUPT;
            break;
        }
        if (v != 0u) {
            if (stuck_word != NULL) __atomic_store_n(stuck_word, 0u, __ATOMIC_SEQ_CST);
            st = aigym_sem_trywait(s);
            if (st == AIGYM_SEM_AGAIN) continue;
            break;
        }
        /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline; the kernel re-checks
         * that the word is still 0, so a post between our check and the sleep is not lost. */
        rc = syscall(SYS_futex, &s->value, FUTEX_WAIT_BITSET, 0u, &abs_ts, NULL, FUTEX_BITSET_MATCH_ANY);
        if (rc == 0 || errno == EAGAIN) continue;
        if (stuck_word != NULL) __atomic_store_n(stuck_word, 0u, __ATOMIC_SEQ_CST);
        if (errno == ETIMEDOUT) {
            st = aigym_sem_trywait(s);
            if (st == AIGYM_SEM_AGAIN) st = AIGYM_SEM_TIMEDOUT;
        } else if (errno == EINTR) {
            st = AIGYM_SEM_INTERRUPTED;
        } else {
            st = AIGYM_SEM_FUTEX_ERROR;
        }
        break;
    }
    if (stuck_word != NULL) __atomic_store_n(stuck_word, 0u, __ATOMIC_SEQ_CST);
    __atomic_fetch_sub(&s->waiters, 1u, __ATOMIC_SEQ_CST);
    return st;
}

static inline aigym_sem_status aigym_sem_block(aigym_sem *s, int64_t deadline_ns) {
    return aigym_sem_block_marked(s, deadline_ns, NULL, 0u);
}

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* AIGYM_SHM_SEM_H */
