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

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

static inline int64_t now_ns(clockid_t clk) {
    struct timespec ts;
    clock_gettime(clk, &ts);
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
    int64_t real = now_ns(CLOCK_REALTIME) + (mono_deadline - now_ns(CLOCK_MONOTONIC));
    struct timespec abs = {real / 1000000000LL, real % 1000000000LL};
    return pthread_mutex_timedlock(m, &abs);
#endif
}

/* Seconds (double) to a deadline in ns; negative or absurdly large means never. */
static int64_t deadline_after(int64_t start, double seconds) {
    if (seconds < 0 || seconds > 1e9) return INT64_MAX;
    return start + (int64_t)(seconds * 1e9);
}

#endif
