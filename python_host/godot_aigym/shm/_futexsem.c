/*
 * _futexsem.c -- the host side of the chunk's semaphores: the same validated futex word as
 * the engine (gdextension/shm/aigym_shm_sem.h, included here so both sides run one
 * implementation), plus the header's engine_pid compare-and-swap.
 *
 * Semaphores are addressed by raw addresses into the chunk's mapping (Python ints); the
 * caller keeps the mapping alive (a buffer export) while it uses an address. Every call
 * returns an aigym_sem_status number; semaphore.py turns it into an exception naming the
 * semaphore. wait() releases the GIL while it spins and blocks, so other threads run;
 * wait_any() sleeps on several semaphores at once (futex_waitv, Linux >= 5.16).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <time.h>

#include "aigym_shm_sem.h"
#include "aigym_shm_wait.h" /* aigym_now_ns, aigym_cpu_relax: the engine's own spin primitives */

/* Pure pause-spin this long before each spin iteration also yields (see semaphore.py). */
#define BUSY_SPIN_NS 1000LL
/* post_wait's status when its post failed: POST_FAILED + the post's status */
#define POST_FAILED 16
/* wait_any's status when the kernel has no futex_waitv (Linux < 5.16) or seccomp refuses it */
#define WAITV_UNAVAILABLE 32

/* futex_waitv(2) (Linux >= 5.16), declared here so older headers still build */
#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449 /* the same number on every architecture (the generic table) */
#endif
#define WAITV_FUTEX_32 2u   /* FUTEX_32: a 32-bit word, shared (no FUTEX_PRIVATE_FLAG) */
#define WAITV_MAX 128       /* FUTEX_WAITV_MAX */
struct waitv_entry {        /* struct futex_waitv */
    uint64_t val;
    uint64_t uaddr;
    uint32_t flags;
    uint32_t reserved;
};

static int get_addr(PyObject *arg, void **out) {
    void *p = PyLong_AsVoidPtr(arg);
    if (p == NULL) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "null semaphore address");
        return -1;
    }
    if (((uintptr_t)p & 3u) != 0u) {
        PyErr_SetString(PyExc_ValueError, "semaphore address is not 4-byte aligned");
        return -1;
    }
    *out = p;
    return 0;
}

static int get_i64(PyObject *arg, int64_t *out) {
    long long v = PyLong_AsLongLong(arg);
    if (v == -1 && PyErr_Occurred()) return -1;
    *out = (int64_t)v;
    return 0;
}

static int check_nargs(Py_ssize_t nargs, Py_ssize_t want, const char *name) {
    if (nargs == want) return 0;
    PyErr_Format(PyExc_TypeError, "%s() takes %zd arguments (%zd given)", name, want, nargs);
    return -1;
}

/* init(addr, value) -> status */
static PyObject *fs_init(PyObject *m, PyObject *const *args, Py_ssize_t nargs) {
    void *p;
    int64_t v;
    if (check_nargs(nargs, 2, "init") || get_addr(args[0], &p) || get_i64(args[1], &v)) return NULL;
    if (v < 0 || v > (int64_t)AIGYM_SEM_VALUE_MAX) return PyLong_FromLong(AIGYM_SEM_OVERFLOW);
    return PyLong_FromLong(aigym_sem_init((aigym_sem *)p, (uint32_t)v));
}

/* trywait(addr) -> status (OK, AGAIN or CORRUPT) */
static PyObject *fs_trywait(PyObject *m, PyObject *arg) {
    void *p;
    if (get_addr(arg, &p)) return NULL;
    return PyLong_FromLong(aigym_sem_trywait((aigym_sem *)p));
}

/* post(addr) -> status */
static PyObject *fs_post(PyObject *m, PyObject *arg) {
    void *p;
    if (get_addr(arg, &p)) return NULL;
    return PyLong_FromLong(aigym_sem_post((aigym_sem *)p));
}

/* value(addr) -> count, or -1 if corrupt */
static PyObject *fs_value(PyObject *m, PyObject *arg) {
    void *p;
    if (get_addr(arg, &p)) return NULL;
    return PyLong_FromLongLong(aigym_sem_value((aigym_sem *)p));
}

/* Spin up to spin_ns (0: none), not past cap, for a count: OK, AGAIN (none came) or CORRUPT.
 * The first busy_ns of it are pure spinning; after them every few iterations yield the CPU
 * (the peer may share our vCPU). busy_ns 0 yields before the first look: the peer that must
 * answer shares our vCPU and has its whole turn to run. Call without the GIL. */
static aigym_sem_status spin(aigym_sem *s, int64_t spin_ns, int64_t cap, int64_t busy_ns) {
    int64_t start = aigym_now_ns(), t, busy_end = start + busy_ns;
    int64_t spin_end = spin_ns > 0 ? start + spin_ns : start;
    aigym_sem_status st = AIGYM_SEM_AGAIN;
    unsigned iter = 0;
    if (spin_end > cap) spin_end = cap;
    if (busy_ns <= 0 && spin_end > start) sched_yield();
    while (spin_end > start) {
        aigym_cpu_relax();
        st = aigym_sem_trywait(s);
        if (st != AIGYM_SEM_AGAIN) break;
        if ((++iter & 3u) != 0u) continue;
        t = aigym_now_ns();
        if (t >= spin_end) break;
        if (t >= busy_end) sched_yield(); /* the peer may share our vCPU: let it run */
    }
    return st;
}

/* Spin for spin_ns (0: none; BUSY_SPIN_NS of it pure), then block until deadline (CLOCK_MONOTONIC).
 * Call without the GIL. */
static aigym_sem_status spin_then_block(aigym_sem *s, int64_t spin_ns, int64_t deadline) {
    aigym_sem_status st = spin(s, spin_ns, deadline, BUSY_SPIN_NS);
    if (st == AIGYM_SEM_AGAIN) st = aigym_sem_block(s, deadline);
    return st;
}

/* wait(addr, spin_ns, deadline_ns) -> status: spin for spin_ns (0: none), then block until
 * deadline_ns (CLOCK_MONOTONIC, as time.monotonic_ns). OK, TIMEDOUT, INTERRUPTED (the
 * caller runs signal handlers and calls again), CORRUPT or FUTEX_ERROR. GIL released. */
static PyObject *fs_wait(PyObject *m, PyObject *const *args, Py_ssize_t nargs) {
    void *p;
    int64_t spin_ns, deadline;
    aigym_sem_status st;
    if (check_nargs(nargs, 3, "wait") || get_addr(args[0], &p) || get_i64(args[1], &spin_ns) ||
        get_i64(args[2], &deadline))
        return NULL;
    aigym_sem *s = (aigym_sem *)p;
    st = aigym_sem_trywait(s);
    if (st != AIGYM_SEM_AGAIN) return PyLong_FromLong(st);
    Py_BEGIN_ALLOW_THREADS
    st = spin_then_block(s, spin_ns, deadline);
    Py_END_ALLOW_THREADS
    if (st == AIGYM_SEM_INTERRUPTED && PyErr_CheckSignals() != 0) return NULL; /* e.g. KeyboardInterrupt */
    return PyLong_FromLong(st);
}

/* post_wait(post_addr, wait_addr, spin_ns, slice_ns) -> status: the round trip of one command
 * in one call -- post the first semaphore, then wait on the second as wait() does, at most
 * slice_ns from now. A failed post returns POST_FAILED + its status and does not wait. */
static PyObject *fs_post_wait(PyObject *m, PyObject *const *args, Py_ssize_t nargs) {
    void *pp, *wp;
    int64_t spin_ns, slice_ns;
    aigym_sem_status st;
    if (check_nargs(nargs, 4, "post_wait") || get_addr(args[0], &pp) || get_addr(args[1], &wp) ||
        get_i64(args[2], &spin_ns) || get_i64(args[3], &slice_ns))
        return NULL;
    st = aigym_sem_post((aigym_sem *)pp);
    if (st != AIGYM_SEM_OK) return PyLong_FromLong(POST_FAILED + st);
    aigym_sem *s = (aigym_sem *)wp;
    st = aigym_sem_trywait(s);
    if (st != AIGYM_SEM_AGAIN) return PyLong_FromLong(st);
    Py_BEGIN_ALLOW_THREADS
    st = spin_then_block(s, spin_ns, aigym_now_ns() + slice_ns);
    Py_END_ALLOW_THREADS
    if (st == AIGYM_SEM_INTERRUPTED && PyErr_CheckSignals() != 0) return NULL;
    return PyLong_FromLong(st);
}

/* relay(post_addrs, wait_addrs, spin_ns, busy_ns) -> int: a step of several engines in one call
 * -- post every semaphore of post_addrs (a tuple, may be empty), then take every one of
 * wait_addrs (a tuple) in order, each by spinning up to spin_ns (busy_ns of it pure, as spin()),
 * never blocking. -1: every count taken; k in [0, n waits): wait k found none within its spin
 * (or its semaphore is corrupt), the waits before it were taken, the caller waits from k on its
 * usual way (which blocks, watches the peer and names what is wrong); n waits + j: post j
 * failed, the posts before it were made and nothing was taken. GIL released while spinning. */
static PyObject *fs_relay(PyObject *m, PyObject *const *args, Py_ssize_t nargs) {
    aigym_sem *w[WAITV_MAX];
    int64_t spin_ns, busy_ns;
    Py_ssize_t np, nw, i, missing = -1;
    if (check_nargs(nargs, 4, "relay") || get_i64(args[2], &spin_ns) || get_i64(args[3], &busy_ns)) return NULL;
    if (!PyTuple_Check(args[0]) || !PyTuple_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "relay() takes two tuples of semaphore addresses");
        return NULL;
    }
    np = PyTuple_GET_SIZE(args[0]);
    nw = PyTuple_GET_SIZE(args[1]);
    if (nw > WAITV_MAX) {
        PyErr_Format(PyExc_ValueError, "relay() takes at most %d semaphores to wait on, got %zd", WAITV_MAX, nw);
        return NULL;
    }
    for (i = 0; i < nw; i++) {
        void *p;
        if (get_addr(PyTuple_GET_ITEM(args[1], i), &p)) return NULL;
        w[i] = (aigym_sem *)p;
    }
    for (i = 0; i < np; i++) {
        void *p;
        if (get_addr(PyTuple_GET_ITEM(args[0], i), &p)) return NULL;
        if (aigym_sem_post((aigym_sem *)p) != AIGYM_SEM_OK) return PyLong_FromSsize_t(nw + i);
    }
    Py_BEGIN_ALLOW_THREADS
    for (i = 0; i < nw; i++) {
        aigym_sem_status st = aigym_sem_trywait(w[i]);
        if (st == AIGYM_SEM_AGAIN) st = spin(w[i], spin_ns, INT64_MAX, busy_ns);
        if (st != AIGYM_SEM_OK) {
            missing = i;
            break;
        }
    }
    Py_END_ALLOW_THREADS
    return PyLong_FromSsize_t(missing);
}

/* Sleep until one of the n semaphores may have a count or CLOCK_MONOTONIC reaches deadline:
 * OK (woken, or a count was there: the caller takes it with trywait, which may find 0),
 * TIMEDOUT, INTERRUPTED, WAITV_UNAVAILABLE or FUTEX_ERROR. Counts itself in as a waiter on
 * every semaphore first (post wakes only when its waiter count is not 0; seq_cst as in
 * aigym_sem_block) and out before returning. Call without the GIL. */
static int block_any(aigym_sem **s, struct waitv_entry *w, Py_ssize_t n, int64_t deadline) {
    struct timespec ts;
    Py_ssize_t i;
    long rc;
    int err, st;
    ts.tv_sec = (time_t)(deadline / 1000000000LL);
    ts.tv_nsec = (long)(deadline % 1000000000LL);
    for (i = 0; i < n; i++) __atomic_fetch_add(&s[i]->waiters, 1u, __ATOMIC_SEQ_CST);
    /* the kernel re-checks every word is still 0 (val) before sleeping: a post after our
     * count-in either sees us counted or changes the word first, and is not lost */
    rc = syscall(SYS_futex_waitv, w, (unsigned)n, 0u, &ts, CLOCK_MONOTONIC);
    err = errno;
    if (rc >= 0 || err == EAGAIN) st = AIGYM_SEM_OK;
    else if (err == ETIMEDOUT) st = AIGYM_SEM_TIMEDOUT;
    else if (err == EINTR) st = AIGYM_SEM_INTERRUPTED;
    else if (err == ENOSYS || err == EPERM) st = WAITV_UNAVAILABLE;
    else st = AIGYM_SEM_FUTEX_ERROR;
    for (i = 0; i < n; i++) __atomic_fetch_sub(&s[i]->waiters, 1u, __ATOMIC_SEQ_CST);
    return st;
}

/* wait_any(addrs, deadline_ns) -> status: block_any on the semaphores at addrs (a list or
 * tuple of 1..128 addresses) until deadline_ns (CLOCK_MONOTONIC); a count already there, or a
 * corrupt semaphore (CORRUPT), returns at once. Counting in and out happens inside this one
 * call, so no Python exception can fall between them. GIL released while sleeping. */
static PyObject *fs_wait_any(PyObject *m, PyObject *const *args, Py_ssize_t nargs) {
    aigym_sem *s[WAITV_MAX];
    struct waitv_entry w[WAITV_MAX];
    int64_t deadline;
    Py_ssize_t n, i;
    int st = AIGYM_SEM_TIMEDOUT;
    if (check_nargs(nargs, 2, "wait_any") || get_i64(args[1], &deadline)) return NULL;
    PyObject *seq = PySequence_Fast(args[0], "wait_any() needs a list or tuple of semaphore addresses");
    if (seq == NULL) return NULL;
    n = PySequence_Fast_GET_SIZE(seq);
    if (n < 1 || n > WAITV_MAX) {
        Py_DECREF(seq);
        PyErr_Format(PyExc_ValueError, "wait_any() takes 1 to %d semaphores, got %zd", WAITV_MAX, n);
        return NULL;
    }
    for (i = 0; i < n; i++) {
        void *p;
        if (get_addr(PySequence_Fast_GET_ITEM(seq, i), &p)) {
            Py_DECREF(seq);
            return NULL;
        }
        s[i] = (aigym_sem *)p;
        w[i].val = 0u; /* sleep while every count is 0 */
        w[i].uaddr = (uint64_t)(uintptr_t)&s[i]->value;
        w[i].flags = WAITV_FUTEX_32;
        w[i].reserved = 0u;
    }
    Py_DECREF(seq);
    for (i = 0; i < n; i++) {
        int64_t v = aigym_sem_value(s[i]);
        if (v < 0) return PyLong_FromLong(AIGYM_SEM_CORRUPT);
        if (v > 0) return PyLong_FromLong(AIGYM_SEM_OK);
    }
    Py_BEGIN_ALLOW_THREADS
    st = block_any(s, w, n, deadline);
    Py_END_ALLOW_THREADS
    if (st == AIGYM_SEM_INTERRUPTED && PyErr_CheckSignals() != 0) return NULL; /* e.g. KeyboardInterrupt */
    return PyLong_FromLong(st);
}

/* wait_any_available() -> bool: futex_waitv exists and is allowed (with no futexes it fails
 * with EINVAL; ENOSYS before Linux 5.16, EPERM or ENOSYS under a seccomp filter refusing it). */
static PyObject *fs_wait_any_available(PyObject *m, PyObject *unused) {
    long rc = syscall(SYS_futex_waitv, NULL, 0u, 0u, NULL, CLOCK_MONOTONIC);
    return PyBool_FromLong(rc == -1 && errno == EINVAL);
}

/* cas_i32(addr, expected, new) -> value seen (== expected if swapped); acquire-release. */
static PyObject *fs_cas_i32(PyObject *m, PyObject *const *args, Py_ssize_t nargs) {
    void *p;
    int64_t expected, desired;
    if (check_nargs(nargs, 3, "cas_i32") || get_addr(args[0], &p) || get_i64(args[1], &expected) ||
        get_i64(args[2], &desired))
        return NULL;
    int32_t seen = (int32_t)expected;
    __atomic_compare_exchange_n((int32_t *)p, &seen, (int32_t)desired, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    return PyLong_FromLong(seen);
}

static PyMethodDef methods[] = {
    {"init", (PyCFunction)(void (*)(void))fs_init, METH_FASTCALL, "init(addr, value) -> status"},
    {"trywait", fs_trywait, METH_O, "trywait(addr) -> status"},
    {"post", fs_post, METH_O, "post(addr) -> status"},
    {"value", fs_value, METH_O, "value(addr) -> count, -1 if corrupt"},
    {"wait", (PyCFunction)(void (*)(void))fs_wait, METH_FASTCALL, "wait(addr, spin_ns, deadline_ns) -> status"},
    {"post_wait", (PyCFunction)(void (*)(void))fs_post_wait, METH_FASTCALL,
     "post_wait(post_addr, wait_addr, spin_ns, slice_ns) -> status"},
    {"relay", (PyCFunction)(void (*)(void))fs_relay, METH_FASTCALL,
     "relay(post_addrs, wait_addrs, spin_ns, busy_ns) -> -1, the first wait not taken, or n waits + failed post"},
    {"wait_any", (PyCFunction)(void (*)(void))fs_wait_any, METH_FASTCALL, "wait_any(addrs, deadline_ns) -> status"},
    {"wait_any_available", fs_wait_any_available, METH_NOARGS, "wait_any_available() -> bool"},
    {"cas_i32", (PyCFunction)(void (*)(void))fs_cas_i32, METH_FASTCALL, "cas_i32(addr, expected, new) -> seen"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_futexsem",
    "The chunk's validated futex semaphores (aigym_shm_sem.h) for the Python host.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__futexsem(void) {
    PyObject *mod = PyModule_Create(&module);
    if (mod == NULL) return NULL;
    if (PyModule_AddIntConstant(mod, "OK", AIGYM_SEM_OK) || PyModule_AddIntConstant(mod, "AGAIN", AIGYM_SEM_AGAIN) ||
        PyModule_AddIntConstant(mod, "TIMEDOUT", AIGYM_SEM_TIMEDOUT) ||
        PyModule_AddIntConstant(mod, "INTERRUPTED", AIGYM_SEM_INTERRUPTED) ||
        PyModule_AddIntConstant(mod, "CORRUPT", AIGYM_SEM_CORRUPT) ||
        PyModule_AddIntConstant(mod, "OVERFLOW", AIGYM_SEM_OVERFLOW) ||
        PyModule_AddIntConstant(mod, "FUTEX_ERROR", AIGYM_SEM_FUTEX_ERROR) ||
        PyModule_AddIntConstant(mod, "SEM_SIZE", AIGYM_SHM_SEM_SIZE) ||
        PyModule_AddIntConstant(mod, "POST_FAILED", POST_FAILED) ||
        PyModule_AddIntConstant(mod, "BUSY_SPIN_NS", BUSY_SPIN_NS) ||
        PyModule_AddIntConstant(mod, "WAITV_UNAVAILABLE", WAITV_UNAVAILABLE) ||
        PyModule_AddIntConstant(mod, "VALUE_MAX", AIGYM_SEM_VALUE_MAX) ||
        PyModule_AddStringConstant(mod, "CORRUPT_MESSAGE", aigym_sem_status_message(AIGYM_SEM_CORRUPT))) {
        Py_DECREF(mod);
        return NULL;
    }
    return mod;
}
