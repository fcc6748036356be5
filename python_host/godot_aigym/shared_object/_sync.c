/*
 * _sync.c - the synchronisation core of godot_aigym.shared_object: the Python type `Sync`
 * over one sync block (its layout and protocol: sync_block.h; docs/SHARED_OBJECT.md), its
 * operations here, the handle's lifetime (init, uses without the GIL, close) in sync_handle.h.
 *
 * Every potentially blocking call releases the GIL, has a timeout, and checks
 * for Python signals (Ctrl-C) at least every 100 ms.
 */
#define PY_SSIZE_T_CLEAN
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <Python.h>
#include <structmember.h>

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h> /* shm_open */

#include "sync_block.h"
#include "sync_handle.h" /* SyncObject, its lifetime: init, uses without the GIL, close */

static PyObject *str_copy;

/* Creator only, before the object is made visible (the magic is written after). */
static PyObject *Sync_initialise(SyncObject *self, PyObject *noargs) {
    if (sync_closed(self)) return NULL;
    sync_block *b = self->blk;
    memset(b, 0, SYNC_BLOCK_SIZE);
    pthread_mutexattr_t attr;
    int rc = pthread_mutexattr_init(&attr);
    if (!rc) rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (!rc) rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    if (!rc) rc = pthread_mutex_init(&b->mutex, &attr);
    pthread_mutexattr_destroy(&attr);
    if (rc) {
        errno = rc;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    atomic_store_explicit(&b->mtime[0], (uint64_t)realtime_ns(), memory_order_relaxed);
    atomic_store_explicit(&b->pub, 0, memory_order_release);
    Py_RETURN_NONE;
}

/* Start of a read section: acquire, so the slot reads that follow cannot be
 * hoisted above it. */
static PyObject *Sync_load(SyncObject *self, PyObject *noargs) {
    if (sync_closed(self)) return NULL;
    return PyLong_FromUnsignedLongLong(atomic_load_explicit(&self->blk->pub, memory_order_acquire));
}

/* End of a read section that started with p (read_end, sync_block.h); end_seen() also records
 * a clean read's version as seen (one call where Python would store two attributes). */
static PyObject *end_section(SyncObject *self, PyObject *arg, int record) {
    if (sync_closed(self)) return NULL;
    uint64_t p = PyLong_AsUnsignedLongLong(arg);
    if (p == (uint64_t)-1 && PyErr_Occurred()) return NULL;
    uint64_t t = read_end(self->blk, p);
    if (record && t) {
        self->seen = p;
        self->mtime = t;
    }
    return PyLong_FromUnsignedLongLong(t);
}

static PyObject *Sync_end(SyncObject *self, PyObject *arg) { return end_section(self, arg, 0); }
static PyObject *Sync_end_seen(SyncObject *self, PyObject *arg) { return end_section(self, arg, 1); }

/* A fixed array's whole fetch in one read section: views[p & 1].copy(), then end(p).  Returns
 * the copy and records p and its mtime as seen, or None if a publication happened meanwhile
 * (the caller retries its general way).  load() + end() as two calls cost ~0.3 us of a fetch.
 * The block stays mapped during the copy even if another thread closes the handle. */
static PyObject *Sync_copy_published(SyncObject *self, PyObject *views) {
    if (sync_closed(self)) return NULL;
    if (!PyTuple_CheckExact(views) || PyTuple_GET_SIZE(views) != 2) {
        PyErr_SetString(PyExc_TypeError, "copy_published(views): views must be a pair (slot 0, slot 1)");
        return NULL;
    }
    sync_block *b = self->blk;
    uint64_t p = atomic_load_explicit(&b->pub, memory_order_acquire), t = 0;
    sync_enter(self);
    PyObject *value = PyObject_CallMethodNoArgs(PyTuple_GET_ITEM(views, p & 1), str_copy);
    if (value != NULL && !atomic_load(&self->closing)) t = read_end(b, p);
    sync_leave(self);
    if (value == NULL) return NULL;
    if (t == 0) {
        Py_DECREF(value);
        if (sync_closed(self)) return NULL; /* closed by another thread meanwhile */
        Py_RETURN_NONE;
    }
    self->seen = p;
    self->mtime = t;
    return value;
}

/* Take the writer lock.  Fast path: uncontended trylock with the GIL held.
 * Otherwise, GIL released: spin with trylock for spin seconds, then sleep in
 * the kernel in slices.  Returns pub (acquire) or -1 on timeout (timeout < 0
 * means none).  A dead previous owner (EOWNERDEAD) is not an error: writers
 * only ever write the unpublished slot, so the protected state is consistent
 * (lock_result, sync_block.h). */

/* METH_FASTCALL, floats read directly: PyArg_ParseTuple cost ~0.4 us of an assign. */
static PyObject *Sync_lock(SyncObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "lock(timeout, spin) takes 2 arguments, got %zd", nargs);
        return NULL;
    }
    double timeout = PyFloat_AsDouble(args[0]);
    if (timeout == -1.0 && PyErr_Occurred()) return NULL;
    double spin = PyFloat_AsDouble(args[1]);
    if (spin == -1.0 && PyErr_Occurred()) return NULL;
    if (sync_closed(self)) return NULL;
    sync_block *b = self->blk;
    int rc = lock_result(b, pthread_mutex_trylock(&b->mutex));
    if (rc == EBUSY) {
        int64_t start = aigym_now_ns();
        int64_t deadline = deadline_after(start, timeout);
        int64_t spin_end = deadline_after(start, spin > 1.0 ? 1.0 : spin);
        sync_enter(self);
        PyThreadState *ts = PyEval_SaveThread();
        rc = lock_spin(b, start, spin_end, &self->closing);
        while ((rc == EBUSY || rc == ETIMEDOUT) && !atomic_load(&self->closing)) {
            int64_t now = aigym_now_ns();
            if (now >= deadline) { rc = ETIMEDOUT; break; }
            int64_t until = deadline - now > SLICE_NS ? now + SLICE_NS : deadline;
            rc = lock_result(b, mutex_lock_until(&b->mutex, until));
            if (rc == ETIMEDOUT) {
                PyEval_RestoreThread(ts);
                if (PyErr_CheckSignals() < 0) {
                    sync_leave(self);
                    return NULL;
                }
                ts = PyEval_SaveThread();
            }
        }
        PyEval_RestoreThread(ts);
        if (atomic_load(&self->closing)) { /* closed by another thread meanwhile */
            if (rc == 0) pthread_mutex_unlock(&b->mutex);
            sync_leave(self);
            sync_closed(self);
            return NULL;
        }
        sync_leave(self);
    }
    if (rc == ETIMEDOUT) return PyLong_FromLong(-1);
    if (rc) {
        errno = rc;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    /* Release fence between taking the lock and the slot writes the caller makes next.
     * The previous writer's publish happens-before our lock; if a lapped reader's load
     * sees one of our slot writes, this fence synchronises with the acquire fence in
     * its end(), so its re-load of pub sees that publish and it retries.  (x86: a
     * compiler barrier only; it matters on weakly ordered CPUs.) */
    atomic_thread_fence(memory_order_release);
    self->held++;
    sync_enter(self);
    return PyLong_FromUnsignedLongLong(atomic_load_explicit(&b->pub, memory_order_acquire));
}

static PyObject *Sync_unlock(SyncObject *self, PyObject *noargs) {
    if (self->held == 0 && sync_closed(self)) return NULL; /* closed: only a held lock is released */
    int rc = pthread_mutex_unlock(&self->blk->mutex);
    sync_unheld(self);
    if (rc) {
        errno = rc;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    Py_RETURN_NONE;
}

/* (a, b) as a tuple of ints, without Py_BuildValue's format parsing (hot path). */
static PyObject *pair_of_u64(uint64_t a, uint64_t b) {
    PyObject *pa = PyLong_FromUnsignedLongLong(a), *pb = PyLong_FromUnsignedLongLong(b);
    if (pa == NULL || pb == NULL) {
        Py_XDECREF(pa);
        Py_XDECREF(pb);
        return NULL;
    }
    PyObject *pair = PyTuple_New(2);
    if (pair == NULL) {
        Py_DECREF(pa);
        Py_DECREF(pb);
        return NULL;
    }
    PyTuple_SET_ITEM(pair, 0, pa);
    PyTuple_SET_ITEM(pair, 1, pb);
    return pair;
}

/* Publish version v+1 in data slot `slot` (publish_slot, sync_block.h: the handshake with
 * wait()), wake sleepers, unlock.  Caller holds the lock and has finished writing `slot`. */
static PyObject *commit_slot(SyncObject *self, PyObject *arg, int record) {
    if (atomic_load(&self->closing) && self->held > 0) { /* closed meanwhile: publish nothing */
        pthread_mutex_unlock(&self->blk->mutex);
        sync_unheld(self);
    }
    if (sync_closed(self)) return NULL;
    long slot = PyLong_AsLong(arg);
    if (slot == -1 && PyErr_Occurred()) return NULL;
    sync_block *b = self->blk;
    uint64_t t, np = publish_slot(b, slot, &t);
    pthread_mutex_unlock(&b->mutex);
    sync_unheld(self);
    if (record) {
        self->seen = np;
        self->mtime = t;
    }
    return pair_of_u64(np, t);
}

static PyObject *Sync_commit(SyncObject *self, PyObject *arg) { return commit_slot(self, arg, 1); }
/* trigger(): the triggering handle does not mark its own version as seen. */
static PyObject *Sync_publish(SyncObject *self, PyObject *arg) { return commit_slot(self, arg, 0); }

/* Wait until pub != p.  Spin (GIL released) for `spin` seconds - a cross-CPU
 * futex wake-up costs ~60 us on an idle vCPU - then sleep on the futex word.
 * Returns True when pub changed, False on timeout (timeout < 0: none). */
static PyObject *Sync_wait(SyncObject *self, PyObject *args) {
    unsigned long long p;
    double timeout, spin;
    if (!PyArg_ParseTuple(args, "Kdd", &p, &timeout, &spin)) return NULL;
    if (sync_closed(self)) return NULL;
    sync_block *b = self->blk;
    if (atomic_load_explicit(&b->pub, memory_order_acquire) != p) Py_RETURN_TRUE;
    int64_t start = aigym_now_ns();
    int64_t deadline = deadline_after(start, timeout);
    int64_t spin_end = deadline_after(start, spin > 1.0 ? 1.0 : spin);
    if (spin_end > deadline) spin_end = deadline;
    int changed = 0;
    sync_enter(self);
    PyThreadState *ts = PyEval_SaveThread();
    changed = spin_until_changed(b, p, start, spin_end, &self->closing);
    if (!changed) {
        atomic_fetch_add_explicit(&b->waiters, 1, memory_order_seq_cst);
        for (;;) {
            if (atomic_load_explicit(&b->pub, memory_order_seq_cst) != p) { changed = 1; break; }
            int64_t now = aigym_now_ns();
            if (now >= deadline || atomic_load(&self->closing)) break;
            int64_t rel = deadline - now > SLICE_NS ? SLICE_NS : deadline - now;
            struct timespec ts_rel = {rel / 1000000000LL, rel % 1000000000LL};
            long r = syscall(SYS_futex, futex_word(b), FUTEX_WAIT, (uint32_t)p, &ts_rel, NULL, 0);
            if (r == -1 && (errno == EINTR || errno == ETIMEDOUT)) {
                PyEval_RestoreThread(ts);
                if (PyErr_CheckSignals() < 0) {
                    atomic_fetch_sub_explicit(&b->waiters, 1, memory_order_seq_cst);
                    sync_leave(self);
                    return NULL;
                }
                ts = PyEval_SaveThread();
            }
        }
        atomic_fetch_sub_explicit(&b->waiters, 1, memory_order_seq_cst);
    }
    PyEval_RestoreThread(ts);
    sync_leave(self);
    if (!changed && sync_closed(self)) return NULL; /* closed by another thread meanwhile */
    return PyBool_FromLong(changed);
}

static PyObject *Sync_recovered(SyncObject *self, PyObject *noargs) {
    if (sync_closed(self)) return NULL;
    return PyLong_FromUnsignedLongLong(atomic_load_explicit(&self->blk->recovered, memory_order_relaxed));
}

static PyMethodDef Sync_methods[] = {
    {"initialise", (PyCFunction)Sync_initialise, METH_NOARGS, "Zero the block and create the robust mutex (creator only)."},
    {"load", (PyCFunction)Sync_load, METH_NOARGS, "Acquire-load pub: start a read section."},
    {"end", (PyCFunction)Sync_end, METH_O, "end(p) -> mtime of version p if pub is still p, else 0."},
    {"end_seen", (PyCFunction)Sync_end_seen, METH_O, "end(p), recording p and its mtime as seen if non-zero."},
    {"lock", (PyCFunction)(void (*)(void))Sync_lock, METH_FASTCALL, "lock(timeout, spin) -> pub, or -1 on timeout."},
    {"unlock", (PyCFunction)Sync_unlock, METH_NOARGS, "Release the writer lock without publishing."},
    {"commit", (PyCFunction)Sync_commit, METH_O,
     "commit(slot) -> (new pub, mtime); publishes, wakes waiters, unlocks; records them as seen."},
    {"publish", (PyCFunction)Sync_publish, METH_O, "publish(slot): commit without recording the version as seen."},
    {"copy_published", (PyCFunction)Sync_copy_published, METH_O,
     "copy_published(views) -> views[published slot].copy() if untorn (recorded as seen), else None."},
    {"wait", (PyCFunction)Sync_wait, METH_VARARGS, "wait(p, timeout, spin) -> True if pub != p, False on timeout."},
    {"recovered", (PyCFunction)Sync_recovered, METH_NOARGS, "Times the lock was taken over from a dead owner."},
    {"close", (PyCFunction)Sync_close, METH_NOARGS, "Release the buffer; later calls raise ObjectClosedError."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef Sync_members[] = {
    {"seen", T_ULONGLONG, offsetof(SyncObject, seen), 0, "the version this handle last saw (pub)"},
    {"mtime", T_ULONGLONG, offsetof(SyncObject, mtime), 0, "its publish time (ns since the epoch)"},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject SyncType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "godot_aigym.shared_object._sync.Sync",
    .tp_basicsize = sizeof(SyncObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Sequence-lock, futex and robust-mutex operations on a 128-byte block of shared memory.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Sync_init,
    .tp_dealloc = (destructor)Sync_dealloc,
    .tp_methods = Sync_methods,
    .tp_members = Sync_members,
};

static PyObject *mod_shm_open(PyObject *m, PyObject *args) {
    const char *name;
    int flags, mode;
    if (!PyArg_ParseTuple(args, "sii", &name, &flags, &mode)) return NULL;
    int fd;
    Py_BEGIN_ALLOW_THREADS
    fd = shm_open(name, flags, (mode_t)mode);
    Py_END_ALLOW_THREADS
    if (fd < 0) return PyErr_SetFromErrnoWithFilename(PyExc_OSError, name);
    return PyLong_FromLong(fd);
}

static PyObject *mod_shm_unlink(PyObject *m, PyObject *args) {
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name)) return NULL;
    if (shm_unlink(name) < 0) return PyErr_SetFromErrnoWithFilename(PyExc_OSError, name);
    Py_RETURN_NONE;
}

static PyObject *mod_set_closed_error(PyObject *m, PyObject *cls) {
    Py_XSETREF(closed_error, Py_NewRef(cls));
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"shm_open", mod_shm_open, METH_VARARGS, "shm_open(name, flags, mode) -> fd"},
    {"shm_unlink", mod_shm_unlink, METH_VARARGS, "shm_unlink(name)"},
    {"set_closed_error", mod_set_closed_error, METH_O, "Exception class raised on a closed handle."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef sync_module = {
    PyModuleDef_HEAD_INIT, "_sync", "Atomics, futex wait/wake and a robust writer lock for SharedObject.", -1,
    module_methods,
};

PyMODINIT_FUNC PyInit__sync(void) {
    if (PyType_Ready(&SyncType) < 0) return NULL;
    if (str_copy == NULL && (str_copy = PyUnicode_InternFromString("copy")) == NULL) return NULL;
    PyObject *m = PyModule_Create(&sync_module);
    if (m == NULL) return NULL;
    if (PyModule_AddObjectRef(m, "Sync", (PyObject *)&SyncType) < 0 ||
        PyModule_AddIntConstant(m, "SYNC_BLOCK_SIZE", SYNC_BLOCK_SIZE) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
