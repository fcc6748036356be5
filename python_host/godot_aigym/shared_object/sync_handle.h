/*
 * sync_handle.h - the lifetime of one _sync.Sync handle (included by _sync.c only): the
 * buffer it holds, its uses without the GIL (a wait, a held writer lock) and a close() from
 * another thread meanwhile, which must not unmap the block under them. Apart from _sync.c so
 * that file reads as the sync operations; static, in one translation unit, so the hot calls'
 * checks (sync_closed, sync_enter/leave) inline as before.
 */
#ifndef AIGYM_SYNC_HANDLE_H
#define AIGYM_SYNC_HANDLE_H

#include <Python.h> /* after _sync.c defined PY_SSIZE_T_CLEAN */

#include <stdatomic.h>
#include <stdint.h>

#include "sync_block.h"

static PyObject *closed_error = NULL; /* set by Python: ObjectClosedError */

typedef struct {
    PyObject_HEAD
    Py_buffer view;
    sync_block *blk;
    /* lock() and wait() use blk without the GIL, and a taken writer lock is used until
     * commit() or unlock(): a close() meanwhile (another thread) only sets `closing`; the
     * last of those uses to end releases the view (else the mapping could be unmapped under
     * the waiting thread), and a lock taken through this handle is released by its commit
     * or unlock even then (nothing published).  Counted under the GIL. */
    int inflight, held; /* held: writer locks taken through this handle, also in inflight */
    _Atomic int closing;
    /* The version this handle last saw (fetched, assigned or marked) and its publish time:
     * recorded by commit() and copy_published() themselves, so a fixed array's assign and
     * fetch need no Python step for them. */
    unsigned long long seen, mtime;
} SyncObject;

static void sync_release(SyncObject *self) {
    if (self->blk != NULL) {
        self->blk = NULL;
        PyBuffer_Release(&self->view);
    }
}

/* Enter/leave a GIL-free wait on the block (the GIL held when called). */
static void sync_enter(SyncObject *self) { self->inflight++; }
static void sync_leave(SyncObject *self) {
    if (--self->inflight == 0 && atomic_load(&self->closing)) sync_release(self);
}

/* The writer lock taken through this handle is released: the use it counted ends. */
static void sync_unheld(SyncObject *self) {
    if (self->held > 0) {
        self->held--;
        sync_leave(self);
    }
}

static int sync_closed(SyncObject *self) {
    if (self->blk != NULL && !atomic_load(&self->closing)) return 0;
    PyErr_SetString(closed_error ? closed_error : PyExc_ValueError,
                    "operation on a closed SharedObject handle");
    return 1;
}

static int Sync_init(SyncObject *self, PyObject *args, PyObject *kwds) {
    PyObject *buf;
    Py_ssize_t offset;
    static char *kwlist[] = {"buffer", "offset", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "On", kwlist, &buf, &offset)) return -1;
    if (self->blk != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Sync already initialised");
        return -1;
    }
    if (PyObject_GetBuffer(buf, &self->view, PyBUF_WRITABLE) < 0) return -1;
    if (offset < 0 || offset + SYNC_BLOCK_SIZE > self->view.len ||
        ((uintptr_t)((char *)self->view.buf + offset) % 64) != 0) {
        PyBuffer_Release(&self->view);
        PyErr_SetString(PyExc_ValueError, "sync block out of bounds or not 64-byte aligned");
        return -1;
    }
    self->blk = (sync_block *)((char *)self->view.buf + offset);
    return 0;
}

static void Sync_dealloc(SyncObject *self) {
    sync_release(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Sync_close(SyncObject *self, PyObject *noargs) {
    atomic_store(&self->closing, 1);
    if (self->inflight == 0) sync_release(self); /* else the last use ends it (sync_leave) */
    Py_RETURN_NONE;
}

#endif /* AIGYM_SYNC_HANDLE_H */
