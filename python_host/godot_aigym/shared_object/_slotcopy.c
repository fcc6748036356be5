/*
 * _slotcopy.c - copy an array into a SharedObject's standby slot.
 *
 * A writer alternates between two slots (that keeps the published value intact if it
 * dies), so repeated assigns touch 3n bytes (source, both slots) where a copy into one
 * buffer touches 2n.  Where 3n outgrows a cache level that 2n fits in, non-temporal
 * (streaming) stores skip reading the slot (read only by *other* processes) into the
 * cache.  Whether that pays depends on the whole hierarchy (with a large, fast L3 the
 * slots stay cached and streaming to DRAM loses), so this is only the mechanism:
 * copy(dst, src, keep) streams all but the last `keep` bytes in copy order (ordinary
 * stores: cached for the next-but-one assign; keep >= n: all ordinary).
 * copy(..., backward=True) runs from the end: the writer copies slot 1 backward, so each
 * copy starts on the source lines the previous one left in L2 (a raw copy, always
 * forward, starts on evicted ones).  The policy is copy_strategy.py's; the Writer below
 * does a fixed array's whole assign.  See docs/SHARED_OBJECT_PERFORMANCE.md, "Large arrays".
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <stdint.h>
#include <string.h>
#include <time.h>

#include "slot_copy.h" /* the copy kernels: slot_copy() */

/* Copies below this size never release the GIL: the release costs more than the copy. */
#define GIL_RELEASE_BYTES (64 * 1024)

/* copy(dst, src[, keep[, backward]]).  METH_FASTCALL with the buffers fetched directly: argument
 * parsing ("w*y*|n") was ~0.3 us of a frame assign's ~2 us of Python-side overhead. */
static PyObject *mod_copy(PyObject *m, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 2 || nargs > 4) {
        PyErr_Format(PyExc_TypeError, "copy(dst, src, keep=<all>, backward=False) takes 2 to 4 arguments, got %zd",
                     nargs);
        return NULL;
    }
    Py_ssize_t keep = PY_SSIZE_T_MAX;
    if (nargs >= 3) {
        keep = PyLong_AsSsize_t(args[2]);
        if (keep == -1 && PyErr_Occurred()) return NULL;
    }
    int backward = 0;
    if (nargs == 4 && (backward = PyObject_IsTrue(args[3])) < 0) return NULL;
    Py_buffer dst, src;
    if (PyObject_GetBuffer(args[0], &dst, PyBUF_WRITABLE) < 0) {
        if (PyErr_ExceptionMatches(PyExc_BufferError)) {
            PyErr_Format(PyExc_TypeError, "copy(): the destination must be a writable contiguous buffer, not %.100s",
                         Py_TYPE(args[0])->tp_name);
        }
        return NULL;
    }
    if (PyObject_GetBuffer(args[1], &src, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&dst);
        return NULL;
    }
    PyObject *result = NULL;
    if (!PyBuffer_IsContiguous(&dst, 'C') || !PyBuffer_IsContiguous(&src, 'C')) {
        PyErr_SetString(PyExc_ValueError, "copy() needs C-contiguous buffers");
    } else if (dst.len != src.len) {
        PyErr_Format(PyExc_ValueError, "copy(): destination holds %zd bytes, source has %zd", dst.len, src.len);
    } else if (keep < 0) {
        PyErr_Format(PyExc_ValueError, "copy(): keep must be >= 0, got %zd", keep);
    } else {
        if (src.len >= GIL_RELEASE_BYTES) {
            Py_BEGIN_ALLOW_THREADS
            slot_copy(dst.buf, src.buf, (size_t)src.len, (size_t)keep, backward);
            Py_END_ALLOW_THREADS
        } else {
            memcpy(dst.buf, src.buf, (size_t)src.len);
        }
        result = Py_NewRef(Py_None);
    }
    PyBuffer_Release(&dst);
    PyBuffer_Release(&src);
    return result;
}

/* -- Writer: a fixed array object's whole assign in one call ------------------------------
 * SharedObject.assign of an array is lock, copy into the standby slot, commit.  As three
 * Python-level steps (plus the checks) it cost ~1.7 us more than np.copyto's ~0.5 us of
 * overhead, 4% of a frame; here it is one call.  Writer.assign(src) returns None,
 * touching nothing, unless src is exactly the slot views' type, has the very dtype
 * object and shape of the slots, is C-contiguous and `budget` != 0: the caller then
 * takes the general path (which raises the precise errors).  Otherwise it returns what
 * commit returns (commit also records the version as the handle's seen), or False on a
 * lock timeout.  The lock, commit and unlock it calls
 * are the object's Sync methods; slot 1 is copied backward (see the top of the file).
 * budget: assigns left with `keep` (-1: unlimited; a SlotTuner's quiet count).  Then
 * `plan`, a tuple of keeps: one timed copy with each (a SlotTuner's exploration), the
 * copy's ns appended to `times`; then None until Python re-arms it.  So exploring
 * costs no Python either (on the Python path a 0.3 MB array near a tie lost ~10%). */
typedef struct {
    PyObject_HEAD
    PyObject *lock, *commit, *unlock, *views, *type, *dtype;
    PyObject *lock_args[2]; /* timeout, spin */
    PyObject *plan, *times;  /* tuple of keeps / list of ns */
    Py_ssize_t ndim, nbytes, keep, budget, pos;
    Py_ssize_t *shape;
} WriterObject;

static PyObject *str_dtype;

static void Writer_clear(WriterObject *self) {
    Py_CLEAR(self->lock);
    Py_CLEAR(self->commit);
    Py_CLEAR(self->unlock);
    Py_CLEAR(self->views);
    Py_CLEAR(self->type);
    Py_CLEAR(self->dtype);
    Py_CLEAR(self->lock_args[0]);
    Py_CLEAR(self->lock_args[1]);
    Py_CLEAR(self->plan);
    Py_CLEAR(self->times);
    self->budget = self->pos = 0;
}

static void Writer_dealloc(WriterObject *self) {
    Writer_clear(self);
    PyMem_Free(self->shape);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Writer_init(WriterObject *self, PyObject *args, PyObject *kwds) {
    PyObject *lock, *commit, *unlock, *views, *dtype, *shape, *timeout, *spin;
    static char *kwlist[] = {"lock", "commit", "unlock", "views", "dtype", "shape", "timeout", "spin", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOO!OO!O!O!", kwlist, &lock, &commit, &unlock, &PyTuple_Type, &views,
                                     &dtype, &PyTuple_Type, &shape, &PyFloat_Type, &timeout, &PyFloat_Type, &spin))
        return -1;
    if (PyTuple_GET_SIZE(views) != 2) {
        PyErr_SetString(PyExc_ValueError, "Writer: views must be a pair (slot 0, slot 1)");
        return -1;
    }
    Py_ssize_t ndim = PyTuple_GET_SIZE(shape);
    Py_ssize_t *dims = PyMem_Calloc(ndim ? ndim : 1, sizeof(Py_ssize_t));
    if (dims == NULL) return -1;
    for (Py_ssize_t i = 0; i < ndim; i++) {
        dims[i] = PyLong_AsSsize_t(PyTuple_GET_ITEM(shape, i));
        if (dims[i] == -1 && PyErr_Occurred()) {
            PyMem_Free(dims);
            return -1;
        }
    }
    Py_buffer b;
    if (PyObject_GetBuffer(PyTuple_GET_ITEM(views, 0), &b, PyBUF_WRITABLE) < 0) {
        PyMem_Free(dims);
        return -1;
    }
    Writer_clear(self);
    PyMem_Free(self->shape);
    self->nbytes = b.len;
    PyBuffer_Release(&b);
    self->shape = dims;
    self->ndim = ndim;
    self->lock = Py_NewRef(lock);
    self->commit = Py_NewRef(commit);
    self->unlock = Py_NewRef(unlock);
    self->views = Py_NewRef(views);
    self->type = Py_NewRef((PyObject *)Py_TYPE(PyTuple_GET_ITEM(views, 0)));
    self->dtype = Py_NewRef(dtype);
    self->lock_args[0] = Py_NewRef(timeout);
    self->lock_args[1] = Py_NewRef(spin);
    self->keep = self->nbytes;
    self->budget = self->pos = 0;
    if ((self->times = PyList_New(0)) == NULL) return -1;
    return 0;
}

/* The source's buffer if it is eligible (see above); 0 = not eligible, -1 = error. */
static int eligible_source(WriterObject *self, PyObject *src, Py_buffer *sb) {
    if (self->views == NULL || Py_TYPE(src) != (PyTypeObject *)self->type) return 0;
    if (self->budget == 0 && (self->plan == NULL || self->pos >= PyTuple_GET_SIZE(self->plan))) return 0;
    PyObject *dt = PyObject_GetAttr(src, str_dtype);
    if (dt == NULL) return -1;
    int same = dt == self->dtype;
    Py_DECREF(dt);
    if (!same) return 0;
    if (PyObject_GetBuffer(src, sb, PyBUF_C_CONTIGUOUS) < 0) {
        PyErr_Clear(); /* not C-contiguous (or no buffer): the general path copies it */
        return 0;
    }
    int ok = sb->ndim == self->ndim && sb->len == self->nbytes;
    for (Py_ssize_t i = 0; ok && i < self->ndim; i++) ok = sb->shape[i] == self->shape[i];
    if (!ok) PyBuffer_Release(sb);
    return ok;
}

/* Lock, copy into the standby slot (slot 1 backward), commit; the caller holds the refs. */
static PyObject *assign_locked(PyObject *const refs[4], PyObject *const *lock_args, Py_buffer *sb, size_t keep,
                               struct timespec *timing) {
    PyObject *lock = refs[0], *commit = refs[1], *unlock = refs[2], *views = refs[3];
    PyObject *p_obj = PyObject_Vectorcall(lock, lock_args, 2, NULL);
    long long p = p_obj == NULL ? -1 : PyLong_AsLongLong(p_obj);
    if (p_obj == NULL || p < 0 || PyErr_Occurred()) { /* -1: lock timeout */
        Py_XDECREF(p_obj);
        return PyErr_Occurred() ? NULL : Py_NewRef(Py_False);
    }
    Py_DECREF(p_obj);
    long slot = (long)((p & 1) ^ 1);
    Py_buffer db;
    PyObject *slot_obj = PyLong_FromLong(slot);
    if (slot_obj == NULL || PyObject_GetBuffer(PyTuple_GET_ITEM(views, slot), &db, PyBUF_WRITABLE) < 0) {
        Py_XDECREF(slot_obj);
        /* Nothing published: unlock, with the error put aside (no call may run with one set);
         * the buffer's error is the one to report, whatever unlock says. */
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyObject *r = PyObject_CallNoArgs(unlock);
        if (r == NULL) PyErr_Clear();
        Py_XDECREF(r);
        PyErr_Restore(type, value, tb);
        return NULL;
    }
    size_t n = (size_t)sb->len;
    if (timing) clock_gettime(CLOCK_MONOTONIC, &timing[0]);
    if (n >= GIL_RELEASE_BYTES) {
        Py_BEGIN_ALLOW_THREADS
        slot_copy(db.buf, sb->buf, n, keep, (int)slot);
        Py_END_ALLOW_THREADS
    } else {
        memcpy(db.buf, sb->buf, n);
    }
    if (timing) clock_gettime(CLOCK_MONOTONIC, &timing[1]);
    PyBuffer_Release(&db);
    PyObject *result = PyObject_Vectorcall(commit, &slot_obj, 1, NULL);
    Py_DECREF(slot_obj);
    return result;
}

static PyObject *Writer_assign(WriterObject *self, PyObject *src) {
    Py_buffer sb;
    int ok = eligible_source(self, src, &sb);
    if (ok <= 0) return ok < 0 ? NULL : Py_NewRef(Py_None);
    int timed = self->budget == 0; /* then plan[pos] is the keep, and the copy is timed */
    Py_ssize_t keep = timed ? PyLong_AsSsize_t(PyTuple_GET_ITEM(self->plan, self->pos)) : self->keep;
    if (keep < 0) {
        PyBuffer_Release(&sb);
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "Writer: a planned keep must be >= 0");
        return NULL;
    }
    /* Own references for the call: another thread may release the Writer (close the
     * object) while this one waits for the lock or copies without the GIL. */
    PyObject *refs[4] = {Py_NewRef(self->lock), Py_NewRef(self->commit), Py_NewRef(self->unlock),
                         Py_NewRef(self->views)};
    PyObject *lock_args[2] = {Py_NewRef(self->lock_args[0]), Py_NewRef(self->lock_args[1])};
    PyObject *times = Py_NewRef(self->times);
    struct timespec t[2];
    PyObject *result = assign_locked(refs, lock_args, &sb, (size_t)keep, timed ? t : NULL);
    PyBuffer_Release(&sb);
    if (result != NULL && PyTuple_Check(result) && timed) {
        long long ns = (long long)(t[1].tv_sec - t[0].tv_sec) * 1000000000LL + (t[1].tv_nsec - t[0].tv_nsec);
        PyObject *v = PyLong_FromLongLong(ns);
        if (v == NULL || PyList_Append(times, v) < 0) Py_CLEAR(result); /* published; the error says why */
        Py_XDECREF(v);
        self->pos++;
    } else if (result != NULL && PyTuple_Check(result) && self->budget > 0) {
        self->budget--;
    }
    for (int i = 0; i < 4; i++) Py_DECREF(refs[i]);
    Py_DECREF(lock_args[0]);
    Py_DECREF(lock_args[1]);
    Py_DECREF(times);
    return result;
}

static PyObject *Writer_release(WriterObject *self, PyObject *noargs) {
    Writer_clear(self);
    Py_RETURN_NONE;
}

static PyObject *Writer_get_plan(WriterObject *self, void *closure) {
    return Py_NewRef(self->plan ? self->plan : Py_None);
}

/* Setting a plan (a tuple of keeps, or None) starts it from its first keep with empty times. */
static int Writer_set_plan(WriterObject *self, PyObject *value, void *closure) {
    if (value == NULL || (value != Py_None && !PyTuple_Check(value))) {
        PyErr_SetString(PyExc_TypeError, "Writer.plan must be a tuple of keeps or None");
        return -1;
    }
    PyObject *times = PyList_New(0);
    if (times == NULL) return -1;
    Py_XSETREF(self->plan, value == Py_None ? NULL : Py_NewRef(value));
    Py_XSETREF(self->times, times);
    self->pos = 0;
    return 0;
}

static PyObject *Writer_get_times(WriterObject *self, void *closure) {
    return self->times ? PyList_GetSlice(self->times, 0, PyList_GET_SIZE(self->times)) : PyList_New(0);
}

static PyGetSetDef Writer_getset[] = {
    {"plan", (getter)Writer_get_plan, (setter)Writer_set_plan, "keeps of the timed copies after the budget", NULL},
    {"times", (getter)Writer_get_times, NULL, "ns of each planned copy made so far (a copy of the list)", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef Writer_methods[] = {
    {"assign", (PyCFunction)Writer_assign, METH_O,
     "assign(src) -> commit's (pub, mtime), False on a lock timeout, or None (not eligible: nothing done)."},
    {"release", (PyCFunction)Writer_release, METH_NOARGS, "Drop the views and methods; later assigns return None."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef Writer_members[] = {
    {"keep", T_PYSSIZET, offsetof(WriterObject, keep), 0, "bytes copied last with ordinary stores (see copy())"},
    {"budget", T_PYSSIZET, offsetof(WriterObject, budget), 0, "assigns left with keep (-1: unlimited)"},
    {"nbytes", T_PYSSIZET, offsetof(WriterObject, nbytes), READONLY, "bytes per copy"},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject WriterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "godot_aigym.shared_object._slotcopy.Writer",
    .tp_basicsize = sizeof(WriterObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Writer(lock, commit, unlock, views, dtype, shape, timeout, spin): a fixed array object's assign in one call.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Writer_init,
    .tp_dealloc = (destructor)Writer_dealloc,
    .tp_methods = Writer_methods,
    .tp_members = Writer_members,
    .tp_getset = Writer_getset,
};

/* use_avx2(flag) -> the previous setting: the SSE2 / 4 KiB-block kernels of CPUs without AVX2
 * (tests).  Turning AVX2 on where the CPU lacks it is refused. */
static PyObject *mod_use_avx2(PyObject *m, PyObject *arg) {
    int flag = PyObject_IsTrue(arg);
    if (flag < 0) return NULL;
#if HAVE_STREAM
    int before = have_avx2;
    if (flag && !__builtin_cpu_supports("avx2")) {
        PyErr_SetString(PyExc_ValueError, "use_avx2(True): this CPU has no AVX2");
        return NULL;
    }
    have_avx2 = flag;
    return PyBool_FromLong(before);
#else
    if (flag) {
        PyErr_SetString(PyExc_ValueError, "use_avx2(True): not an x86-64 build");
        return NULL;
    }
    Py_RETURN_FALSE;
#endif
}

static PyMethodDef module_methods[] = {
    {"use_avx2", (PyCFunction)mod_use_avx2, METH_O,
     "use_avx2(flag) -> previous: copy with the AVX2 kernels where the CPU has them, or with those of CPUs "
     "without (tests)."},
    {"copy", (PyCFunction)(void (*)(void))mod_copy, METH_FASTCALL,
     "copy(dst, src, keep=<all>, backward=False): copy a C-contiguous buffer into an equally long writable one, "
     "from the start or (backward) from the end; all but the last `keep` bytes in copy order with non-temporal "
     "stores where STREAMING (GIL released for large copies)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef slotcopy_module = {
    PyModuleDef_HEAD_INIT, "_slotcopy", "Cache-aware copy into a SharedObject's standby slot.", -1, module_methods,
};

PyMODINIT_FUNC PyInit__slotcopy(void) {
#if HAVE_STREAM
    __builtin_cpu_init();
    have_avx2 = __builtin_cpu_supports("avx2");
#endif
    if (PyType_Ready(&WriterType) < 0) return NULL;
    if (str_dtype == NULL && (str_dtype = PyUnicode_InternFromString("dtype")) == NULL) return NULL;
    PyObject *mod = PyModule_Create(&slotcopy_module);
    if (mod != NULL && (PyModule_AddIntConstant(mod, "STREAMING", HAVE_STREAM) < 0 ||
                        PyModule_AddObjectRef(mod, "Writer", (PyObject *)&WriterType) < 0))
        Py_CLEAR(mod);
    return mod;
}
