/*
 * sync_block.h - the sync block of a shared object and the plain-C helpers that wait on it
 * (no Python here; _sync.c is the Python type around it).
 *
 * One "sync block" (128 bytes) lives in the header page of every shared object:
 *
 *   +0   u64  pub        (version << 1) | active data slot.  Its low 32 bits are
 *                        the futex word that wait() sleeps on.
 *   +8   u32  waiters    number of threads sleeping (or about to) in FUTEX_WAIT
 *   +12  u32  reserved
 *   +16  u64  mtime[2]   publish time (CLOCK_REALTIME ns) of version v in [v & 1]
 *   +32  u64  recovered  times the writer lock was taken over from a dead owner
 *   +40  ...  reserved
 *   +64  pthread_mutex_t  robust, process-shared writer lock (<= 64 bytes)
 *
 * Protocol (double-buffered sequence lock, see docs/SHARED_OBJECT.md):
 *   writer:  lock(); write the *inactive* slot and its metadata; commit(slot)
 *            which stores mtime, then publishes pub with a release (seq_cst)
 *            store, wakes sleepers if any, and unlocks.
 *   reader:  p = load() (acquire); read slot p & 1; t = end(p): acquire fence,
 *            reload pub, success iff it still equals p.  Readers never write
 *            shared memory and never wait for a writer.
 * A writer only ever touches the slot that is not published, so a writer that
 * dies mid-write leaves the published value intact; the robust mutex hands the
 * lock to the next locker with EOWNERDEAD and there is nothing to repair.
 */
#ifndef AIGYM_SYNC_BLOCK_H
#define AIGYM_SYNC_BLOCK_H

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "aigym_shm_wait.h" /* aigym_cpu_relax, aigym_now_ns (gdextension/shm) */

#if ATOMIC_LLONG_LOCK_FREE != 2 || ATOMIC_INT_LOCK_FREE != 2
#error "SharedObject needs lock-free 32- and 64-bit atomics (they live in shared memory)"
#endif

typedef struct {
    _Atomic uint64_t pub;
    _Atomic uint32_t waiters;
    uint32_t reserved0;
    _Atomic uint64_t mtime[2];
    _Atomic uint64_t recovered;
    uint8_t reserved1[24];
    pthread_mutex_t mutex;
} sync_block;

#define SYNC_BLOCK_SIZE 128
#define MUTEX_OFFSET 64
_Static_assert(sizeof(pthread_mutex_t) <= SYNC_BLOCK_SIZE - MUTEX_OFFSET, "mutex too large");
_Static_assert(offsetof(sync_block, mutex) == MUTEX_OFFSET, "layout drift");
_Static_assert(offsetof(sync_block, mtime) == 16, "layout drift");
_Static_assert(sizeof(sync_block) <= SYNC_BLOCK_SIZE, "sync block too large");

/* The futex syscall compares 32 bits: use the low half of pub, which changes on
 * every publish (the version is in it). */
static inline uint32_t *futex_word(sync_block *b) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (uint32_t *)&b->pub;
#else
    return (uint32_t *)&b->pub + 1;
#endif
}

/* aigym_cpu_relax() and aigym_now_ns() (CLOCK_MONOTONIC) are the engine's own spin primitives,
 * shared with the chunk's semaphores (shm/_futexsem.c); only the publish time is wall-clock. */
static inline int64_t realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

#define SLICE_NS 100000000LL /* wake at least this often to run Python signal handlers */
/* Spin phases: pure pause-loop spinning for PURE_SPIN_NS, then spinning with
 * sched_yield().  The yield matters when the partner process shares our CPU (a
 * third process busies the other vCPU): without it we would burn the whole spin
 * budget while the partner, runnable on our run queue, cannot answer.  When
 * nothing else is runnable, sched_yield returns at once. */
#define PURE_SPIN_NS 2000LL

/* Timed lock against a CLOCK_MONOTONIC deadline (immune to wall-clock jumps);
 * C libraries without pthread_mutex_clocklock get the CLOCK_REALTIME variant. */
static int mutex_lock_until(pthread_mutex_t *m, int64_t mono_deadline) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 30))
    struct timespec abs = {mono_deadline / 1000000000LL, mono_deadline % 1000000000LL};
    return pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &abs);
#else
    int64_t real = realtime_ns() + (mono_deadline - aigym_now_ns());
    struct timespec abs = {real / 1000000000LL, real % 1000000000LL};
    return pthread_mutex_timedlock(m, &abs);
#endif
}

/* Seconds (double) to a deadline in ns; negative or absurdly large means never. */
static int64_t deadline_after(int64_t start, double seconds) {
    if (seconds < 0 || seconds > 1e9) return INT64_MAX;
    return start + (int64_t)(seconds * 1e9);
}

/* The writer lock's result: a dead previous owner (EOWNERDEAD) is not an error (writers only
 * write the unpublished slot, so there is nothing to repair); counted in `recovered`. */
static int lock_result(sync_block *b, int rc) {
    if (rc == EOWNERDEAD) {
        pthread_mutex_consistent(&b->mutex);
        atomic_fetch_add_explicit(&b->recovered, 1, memory_order_relaxed);
        return 0;
    }
    return rc;
}

/* Trylock until it succeeds, spin_end passes or *closing is set: pause-spinning for
 * PURE_SPIN_NS, then yielding.  Returns the last trylock's result (EBUSY: not taken). */
static int lock_spin(sync_block *b, int64_t start, int64_t spin_end, _Atomic int *closing) {
    int rc = EBUSY;
    for (int64_t now = start; rc == EBUSY && now < spin_end && !atomic_load(closing); now = aigym_now_ns()) {
        if (now - start < PURE_SPIN_NS)
            for (int i = 0; i < 32; i++) aigym_cpu_relax();
        else
            sched_yield();
        rc = lock_result(b, pthread_mutex_trylock(&b->mutex));
    }
    return rc;
}

/* Publish version v+1 in data slot `slot` (the caller holds the lock and has finished writing
 * it): mtime[(v+1) & 1] (not read by readers of version v), then pub with a seq_cst store that
 * pairs with wait()'s seq_cst waiter count (either the waiter sees the new pub before it
 * sleeps, or we see it waiting and wake it; the futex re-checks the word in the kernel).
 * Returns the new pub; *t_out its publish time. */
static inline uint64_t publish_slot(sync_block *b, long slot, uint64_t *t_out) {
    uint64_t v = (atomic_load_explicit(&b->pub, memory_order_relaxed) >> 1) + 1;
    uint64_t t = (uint64_t)realtime_ns();
    atomic_store_explicit(&b->mtime[v & 1], t, memory_order_relaxed);
    uint64_t np = (v << 1) | (uint64_t)(slot & 1);
    atomic_store_explicit(&b->pub, np, memory_order_seq_cst);
    if (atomic_load_explicit(&b->waiters, memory_order_seq_cst) != 0)
        syscall(SYS_futex, futex_word(b), FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
    *t_out = t;
    return np;
}

/* End of a read section that started with p: the mtime of version p (1 if unset) if nothing
 * was published meanwhile, else 0.  The acquire fence orders every load of the section (made
 * by numpy/struct in other C functions, and the mtime load here) before the re-load of pub:
 * if pub is unchanged, no writer touched the slot we read (a writer only writes the slot
 * that is not published). */
static inline uint64_t read_end(sync_block *b, uint64_t p) {
    uint64_t t = atomic_load_explicit(&b->mtime[(p >> 1) & 1], memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    uint64_t q = atomic_load_explicit(&b->pub, memory_order_relaxed);
    return q == p ? (t ? t : 1) : 0;
}

/* wait()'s spin phase: until pub != p (1), or spin_end passes or *closing is set (0); pause-
 * spinning for PURE_SPIN_NS, then yielding (the partner may share our CPU). */
static int spin_until_changed(sync_block *b, uint64_t p, int64_t start, int64_t spin_end, _Atomic int *closing) {
    for (;;) {
        for (int i = 0; i < 64; i++) {
            if (atomic_load_explicit(&b->pub, memory_order_acquire) != p) return 1;
            aigym_cpu_relax();
        }
        int64_t now = aigym_now_ns();
        if (now >= spin_end || atomic_load(closing)) return 0;
        if (now - start >= PURE_SPIN_NS) sched_yield();
    }
}

#endif
