/*
 * _stepcore.c -- the host's step hot path in one C call: check a step's actions against the
 * action space and stage them, with the STEP header, in the shared ``in`` tensor
 * (docs/STEP_PROTOCOL.md). EngineLink then posts and waits (shm/_futexsem).
 *
 * Only the form a policy usually hands over is taken here: a C-contiguous float32 buffer of
 * exactly the action shape (Box), an int64/int32 buffer or a Python int (Discrete,
 * MultiDiscrete), every value inside the space (NaN is not). Anything else -- other dtypes,
 * lists, values outside the space -- stages nothing and returns False: the caller then takes
 * the general path (env/actions.py ActionChecker), which converts what it may and raises the
 * error naming the action otherwise. So both paths accept and refuse exactly the same actions.
 *
 * A Stager may also stage for M engines at once (GodotVectorEnv with several engines): given M
 * ``in`` views it checks the whole (M*N, ...) batch once and writes engine k's rows straight
 * into the k-th view. A Gatherer is the other direction: one call copies obs, reward,
 * terminated and truncated of M engines' ``out`` tensors into the batch's arrays.
 *
 * Stager and Gatherer hold buffer exports of their views: the chunks stay mapped while they live.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#define MAX_DIMS 2

typedef struct {
    PyObject_HEAD
    Py_buffer *ins;     /* the `in` tensor (float32) of each engine, exported while we live */
    int parts;          /* how many engines (`in` views) */
    int held;           /* how many of `ins` hold an export */
    float **headers;    /* per engine: in[0..]: the header */
    Py_ssize_t command_at, flags_at; /* the header's command and flags (protocol.H_COMMAND, H_FLAGS) */
    float **actions;    /* per engine: in[actions_at..]: per values */
    Py_ssize_t n;       /* values per step (the whole batch) */
    Py_ssize_t per;     /* values per engine: n / parts */
    int ndim;           /* the action shape */
    Py_ssize_t shape[MAX_DIMS];
    int integer;        /* Discrete / MultiDiscrete: values in [0, upper) */
    float *low, *high;  /* Box: bounds per value (n each) */
    int64_t *upper;     /* integer kinds: exclusive upper bound per value */
    float step_command; /* CMD_STEP */
    int ready;          /* set only when __init__ fully succeeded: every method checks it */
} Stager;

/* Release `held` buffer exports of `bufs` and free the array. */
static void release_all(Py_buffer *bufs, int held) {
    for (int i = 0; i < held; i++) PyBuffer_Release(&bufs[i]);
    PyMem_Free(bufs);
}

static void stager_dealloc(Stager *self) {
    release_all(self->ins, self->held);
    PyMem_Free(self->headers);
    PyMem_Free(self->actions);
    PyMem_Free(self->low);
    PyMem_Free(self->high);
    PyMem_Free(self->upper);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* `views` (one writable float32 view, or a list/tuple of them) as a fresh list of exports;
 * *count their number, *held how many were exported (release those even on failure). */
static Py_buffer *export_views(PyObject *views, int *count, int *held, const char *what) {
    PyObject *seq = (PyList_Check(views) || PyTuple_Check(views)) ? PySequence_Tuple(views) : PyTuple_Pack(1, views);
    if (seq == NULL) return NULL;
    Py_ssize_t m = PyTuple_GET_SIZE(seq);
    if (m < 1 || m > 4096) {
        Py_DECREF(seq);
        PyErr_Format(PyExc_ValueError, "%s: expected 1 to 4096 views", what);
        return NULL;
    }
    Py_buffer *bufs = PyMem_Calloc((size_t)m, sizeof(Py_buffer));
    if (bufs == NULL) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return NULL;
    }
    *count = (int)m;
    *held = 0;
    for (Py_ssize_t i = 0; i < m; i++) {
        if (PyObject_GetBuffer(PyTuple_GET_ITEM(seq, i), &bufs[i],
                               PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) break;
        *held += 1;
        if (bufs[i].itemsize != 4 || strcmp(bufs[i].format, "f") != 0) {
            PyErr_Format(PyExc_ValueError, "%s must be float32", what);
            break;
        }
    }
    Py_DECREF(seq);
    return bufs; /* PyErr_Occurred() says whether it failed */
}

/* A sequence of n numbers as a fresh C array of doubles. */
static double *numbers(PyObject *seq, Py_ssize_t n, const char *what) {
    PyObject *fast = PySequence_Fast(seq, what);
    if (fast == NULL) return NULL;
    if (PySequence_Fast_GET_SIZE(fast) != n) {
        PyErr_Format(PyExc_ValueError, "%s must have %zd values", what, n);
        Py_DECREF(fast);
        return NULL;
    }
    double *out = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(double));
    if (out == NULL) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        out[i] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(fast, i));
        if (out[i] == -1.0 && PyErr_Occurred()) {
            PyMem_Free(out);
            Py_DECREF(fast);
            return NULL;
        }
    }
    Py_DECREF(fast);
    return out;
}

/* Stager(in_view, (command_at, flags_at), actions_at, shape, step_command, low, high) for a Box
 * (low/high: n floats each, upper None), or Stager(..., step_command, None, None, upper) for the
 * integer kinds (upper: n exclusive bounds). The header's and the actions' offsets come from
 * protocol.py (H_COMMAND, H_FLAGS, Layout.actions), the one owner of the layout on the host side.
 * ``in_view`` may be a list of M engines' views: shape is then the whole batch's, and engine k
 * takes the k-th M-th of its values. */
static int stager_init(Stager *self, PyObject *args, PyObject *kw) {
    PyObject *view, *shape, *low, *high, *upper = Py_None;
    Py_ssize_t at, command_at, flags_at;
    double command;
    if (!PyArg_ParseTuple(args, "O(nn)nOdOO|O", &view, &command_at, &flags_at, &at, &shape, &command, &low, &high,
                          &upper))
        return -1;
    if (self->ins != NULL || self->ready) { /* before touching any field: a half-built one stays unusable */
        PyErr_SetString(PyExc_RuntimeError, "Stager is already initialised");
        return -1;
    }
    PyObject *dims = PySequence_Tuple(shape);
    if (dims == NULL) return -1;
    Py_ssize_t ndim = PyTuple_GET_SIZE(dims), n = 1;
    if (ndim > MAX_DIMS) {
        Py_DECREF(dims);
        PyErr_SetString(PyExc_ValueError, "action shapes have at most 2 dimensions");
        return -1;
    }
    for (Py_ssize_t i = 0; i < ndim; i++) {
        self->shape[i] = PyLong_AsSsize_t(PyTuple_GET_ITEM(dims, i));
        if (self->shape[i] < 0) {
            Py_DECREF(dims);
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "negative dimension");
            return -1;
        }
        if (self->shape[i] != 0 && n > PY_SSIZE_T_MAX / 8 / self->shape[i]) {
            Py_DECREF(dims);
            PyErr_SetString(PyExc_ValueError, "the action shape is too large");
            return -1;
        }
        n *= self->shape[i];
    }
    Py_DECREF(dims);
    self->ndim = (int)ndim;
    self->n = n;
    self->step_command = (float)command;
    self->ins = export_views(view, &self->parts, &self->held, "the in tensor");
    if (self->ins == NULL || PyErr_Occurred()) return -1;
    if (n % self->parts != 0) {
        PyErr_SetString(PyExc_ValueError, "the actions do not split evenly among the in tensors");
        return -1;
    }
    self->per = n / self->parts;
    if (command_at < 0 || flags_at < 0 || command_at == flags_at || command_at >= at || flags_at >= at) {
        PyErr_SetString(PyExc_ValueError, "the header's command and flags must be two distinct places before the actions");
        return -1;
    }
    self->command_at = command_at;
    self->flags_at = flags_at;
    self->headers = PyMem_Calloc((size_t)self->parts, sizeof(float *));
    self->actions = PyMem_Calloc((size_t)self->parts, sizeof(float *));
    if (self->headers == NULL || self->actions == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (int p = 0; p < self->parts; p++) {
        if (at > PY_SSIZE_T_MAX - self->per || at + self->per > self->ins[p].len / 4) {
            PyErr_SetString(PyExc_ValueError, "the actions do not fit the in tensor");
            return -1;
        }
        self->headers[p] = (float *)self->ins[p].buf;
        self->actions[p] = self->headers[p] + at;
    }
    if (upper != Py_None) {
        double *u = numbers(upper, n, "upper");
        if (u == NULL) return -1;
        self->upper = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(int64_t));
        if (self->upper == NULL) {
            PyMem_Free(u);
            PyErr_NoMemory();
            return -1;
        }
        for (Py_ssize_t i = 0; i < n; i++) self->upper[i] = (int64_t)u[i];
        PyMem_Free(u);
        self->integer = 1;
        self->ready = 1;
        return 0;
    }
    double *lo = numbers(low, n, "low"), *hi = lo ? numbers(high, n, "high") : NULL;
    if (hi == NULL) {
        PyMem_Free(lo);
        return -1;
    }
    self->low = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(float));
    self->high = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(float));
    if (self->low == NULL || self->high == NULL) {
        PyMem_Free(lo);
        PyMem_Free(hi);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        self->low[i] = (float)lo[i];
        self->high[i] = (float)hi[i];
    }
    PyMem_Free(lo);
    PyMem_Free(hi);
    self->ready = 1;
    return 0;
}

/* The buffer's item format without a native/little-endian prefix (x86-64 is little-endian). */
static const char *plain_format(const char *f) {
    if (f == NULL) return "B";
    if (*f == '@' || *f == '=' || *f == '<') return f + 1;
    return f;
}

/* Every value of the batch checked first; then engine p's `per` values written into its view. */
static int stage_values(Stager *self, const Py_buffer *b) {
    const char *f = plain_format(b->format);
    const Py_ssize_t n = self->n, per = self->per;
    if (!self->integer) {
        if (b->itemsize != 4 || strcmp(f, "f") != 0) return 0;
        const float *v = (const float *)b->buf;
        for (Py_ssize_t i = 0; i < n; i++)
            if (!(self->low[i] <= v[i] && v[i] <= self->high[i])) return 0; /* NaN fails too */
        for (int p = 0; p < self->parts; p++) memcpy(self->actions[p], v + p * per, (size_t)per * sizeof(float));
        return 1;
    }
/* the same for either integer width: every value in [0, upper) first, then written as floats */
#define STAGE_INTEGERS(T)                                                                        \
    do {                                                                                         \
        const T *v = (const T *)b->buf;                                                          \
        for (Py_ssize_t i = 0; i < n; i++)                                                       \
            if (v[i] < 0 || v[i] >= self->upper[i]) return 0;                                    \
        for (int p = 0; p < self->parts; p++)                                                    \
            for (Py_ssize_t i = 0; i < per; i++) self->actions[p][i] = (float)v[p * per + i];    \
        return 1;                                                                                \
    } while (0)
    if (b->itemsize == 8 && (strcmp(f, "q") == 0 || strcmp(f, "l") == 0)) STAGE_INTEGERS(int64_t);
    if (b->itemsize == 4 && strcmp(f, "i") == 0) STAGE_INTEGERS(int32_t);
#undef STAGE_INTEGERS
    return 0;
}

/* stage(actions, flags) -> bool: True when the actions were checked and written with the STEP
 * header (command, flags); False when nothing was written (take the general path). */
static PyObject *stager_stage(Stager *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "stage(actions, flags)");
        return NULL;
    }
    if (!self->ready) { /* never initialised, or its __init__ failed part way */
        PyErr_SetString(PyExc_RuntimeError, "Stager is not initialised");
        return NULL;
    }
    long flags = PyLong_AsLong(args[1]);
    if (flags == -1 && PyErr_Occurred()) return NULL;
    PyObject *a = args[0];
    int ok = 0;
    if (PyLong_Check(a)) { /* a Discrete action as a Python int (bool included, as operator.index takes it) */
        if (self->integer && self->ndim == 0 && self->parts == 1) {
            int overflow = 0;
            long long v = PyLong_AsLongLongAndOverflow(a, &overflow);
            if (v == -1 && PyErr_Occurred()) return NULL;
            if (!overflow && v >= 0 && v < self->upper[0]) {
                self->actions[0][0] = (float)v;
                ok = 1;
            }
        }
    } else if (PyObject_CheckBuffer(a)) {
        Py_buffer b;
        if (PyObject_GetBuffer(a, &b, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
            PyErr_Clear(); /* not contiguous, ...: the general path decides */
        } else {
            int same = b.ndim == self->ndim;
            for (int i = 0; same && i < b.ndim; i++) same = b.shape[i] == self->shape[i];
            ok = same && stage_values(self, &b);
            PyBuffer_Release(&b);
        }
    }
    if (!ok) Py_RETURN_FALSE;
    for (int p = 0; p < self->parts; p++) {
        self->headers[p][self->command_at] = self->step_command;
        self->headers[p][self->flags_at] = (float)flags;
    }
    Py_RETURN_TRUE;
}

static PyMethodDef stager_methods[] = {
    {"stage", (PyCFunction)(void (*)(void))stager_stage, METH_FASTCALL,
     "stage(actions, flags) -> bool: check and write the actions and the STEP header"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject StagerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "godot_aigym.env._stepcore.Stager",
    .tp_basicsize = sizeof(Stager),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Checks a step's actions and stages them in the in tensor (one C call).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)stager_init,
    .tp_dealloc = (destructor)stager_dealloc,
    .tp_methods = stager_methods,
};

#include "_stepcore_gather.c" /* the Gatherer: one extension, two files */

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_stepcore", "The host's step hot path: actions checked and staged, answers gathered, in C.", -1, NULL,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__stepcore(void) {
    if (PyType_Ready(&StagerType) < 0 || PyType_Ready(&GathererType) < 0) return NULL;
    PyObject *mod = PyModule_Create(&module);
    if (mod == NULL) return NULL;
    Py_INCREF(&StagerType);
    if (PyModule_AddObject(mod, "Stager", (PyObject *)&StagerType) < 0) {
        Py_DECREF(&StagerType);
        Py_DECREF(mod);
        return NULL;
    }
    Py_INCREF(&GathererType);
    if (PyModule_AddObject(mod, "Gatherer", (PyObject *)&GathererType) < 0) {
        Py_DECREF(&GathererType);
        Py_DECREF(mod);
        return NULL;
    }
    return mod;
}
