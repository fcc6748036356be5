/*
 * _stepcore_gather.c -- the Gatherer of _stepcore (included by _stepcore.c, not compiled alone):
 * one call copies obs, reward, terminated and truncated of M engines' ``out`` tensors into the
 * batch's arrays. Uses export_views, release_all and plain_format from _stepcore.c.
 */

typedef struct {
    PyObject_HEAD
    Py_buffer *outs; /* each engine's `out` tensor (float32), exported while we live */
    int parts, held;
    Py_ssize_t n;    /* agents per engine */
    Py_ssize_t d;    /* observation floats per agent */
    int ready;       /* set only when __init__ fully succeeded: every method checks it */
} Gatherer;

static void gatherer_dealloc(Gatherer *self) {
    release_all(self->outs, self->held);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Gatherer(out_views, n_agents, obs_dim): out is [obs (n*d), reward (n), terminated (n),
 * truncated (n), ...] (protocol.Layout). */
static int gatherer_init(Gatherer *self, PyObject *args, PyObject *kw) {
    PyObject *views;
    Py_ssize_t n, d;
    if (!PyArg_ParseTuple(args, "Onn", &views, &n, &d)) return -1;
    if (self->outs != NULL || self->ready) {
        PyErr_SetString(PyExc_RuntimeError, "Gatherer is already initialised");
        return -1;
    }
    if (n < 1 || d < 0 || d > PY_SSIZE_T_MAX / 8 / n - 3 || n > PY_SSIZE_T_MAX / 8 / 4096) {
        PyErr_SetString(PyExc_ValueError, "n_agents must be >= 1 and obs_dim >= 0 (and not huge)");
        return -1;
    }
    self->outs = export_views(views, &self->parts, &self->held, "the out tensor");
    if (self->outs == NULL || PyErr_Occurred()) return -1;
    for (int p = 0; p < self->parts; p++)
        if (self->outs[p].len / 4 < n * (d + 3)) {
            PyErr_SetString(PyExc_ValueError, "the out tensor is smaller than its layout");
            return -1;
        }
    self->n = n;
    self->d = d;
    self->ready = 1;
    return 0;
}

/* A writable C-contiguous destination of `count` items of `format`, or -1 with an error. */
static int destination(PyObject *obj, Py_buffer *b, const char *format, Py_ssize_t itemsize, Py_ssize_t count,
                       const char *what) {
    if (PyObject_GetBuffer(obj, b, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return -1;
    if (b->itemsize != itemsize || strcmp(plain_format(b->format), format) != 0 || b->len != itemsize * count) {
        PyBuffer_Release(b);
        PyErr_Format(PyExc_ValueError, "%s must be %zd items of format '%s'", what, count, format);
        return -1;
    }
    return 0;
}

/* gather(obs, reward, terminated, truncated): engine k's rows of each into rows [k*n, (k+1)*n):
 * obs float32 (M*n*d; None: skip, e.g. Dict observations), reward float64, the flags bool (!= 0). */
static PyObject *gatherer_gather(Gatherer *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "gather(obs, reward, terminated, truncated)");
        return NULL;
    }
    if (!self->ready) { /* never initialised, or its __init__ failed part way */
        PyErr_SetString(PyExc_RuntimeError, "Gatherer is not initialised");
        return NULL;
    }
    const Py_ssize_t n = self->n, d = self->d, total = n * self->parts;
    Py_buffer ob, rb, tb, ub;
    int with_obs = args[0] != Py_None;
    if (with_obs && destination(args[0], &ob, "f", 4, total * d, "obs") < 0) return NULL;
    if (destination(args[1], &rb, "d", 8, total, "reward") < 0) goto fail_obs;
    if (destination(args[2], &tb, "?", 1, total, "terminated") < 0) goto fail_rew;
    if (destination(args[3], &ub, "?", 1, total, "truncated") < 0) goto fail_term;
    for (int p = 0; p < self->parts; p++) {
        const float *out = (const float *)self->outs[p].buf;
        const float *rew = out + n * d, *term = rew + n, *trunc = term + n;
        double *r = (double *)rb.buf + p * n;
        char *t = (char *)tb.buf + p * n, *u = (char *)ub.buf + p * n;
        if (with_obs) memcpy((float *)ob.buf + p * n * d, out, (size_t)(n * d) * sizeof(float));
        for (Py_ssize_t i = 0; i < n; i++) {
            r[i] = rew[i];
            t[i] = term[i] != 0.0f;
            u[i] = trunc[i] != 0.0f;
        }
    }
    PyBuffer_Release(&ub);
    PyBuffer_Release(&tb);
    PyBuffer_Release(&rb);
    if (with_obs) PyBuffer_Release(&ob);
    Py_RETURN_NONE;
fail_term:
    PyBuffer_Release(&tb);
fail_rew:
    PyBuffer_Release(&rb);
fail_obs:
    if (with_obs) PyBuffer_Release(&ob);
    return NULL;
}

static PyMethodDef gatherer_methods[] = {
    {"gather", (PyCFunction)(void (*)(void))gatherer_gather, METH_FASTCALL,
     "gather(obs, reward, terminated, truncated): every engine's answer into the batch's arrays"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject GathererType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "godot_aigym.env._stepcore.Gatherer",
    .tp_basicsize = sizeof(Gatherer),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Copies M engines' step answers into the batch's arrays (one C call).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)gatherer_init,
    .tp_dealloc = (destructor)gatherer_dealloc,
    .tp_methods = gatherer_methods,
};

