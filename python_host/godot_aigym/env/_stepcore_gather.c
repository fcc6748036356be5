/*
 * _stepcore_gather.c -- the Gatherer of _stepcore (included by _stepcore.c, not compiled alone):
 * one call copies obs, reward, terminated and truncated of M engines' ``out`` tensors into the
 * batch's arrays: the caller's (gather) or fresh ones it makes (fresh: numpy.empty called from
 * here with arguments made once, and their buffers taken without a format string, which numpy
 * builds anew for every fresh array that is asked for one). Uses export_views, release_all and
 * plain_format from _stepcore.c.
 */

#include <structmember.h> /* PyMemberDef: the read-only `ended` */

typedef struct {
    PyObject_HEAD
    Py_buffer *outs; /* each engine's `out` tensor (float32), exported while we live */
    int parts, held;
    Py_ssize_t n;    /* agents per engine */
    Py_ssize_t d;    /* observation floats per agent */
    Py_ssize_t reward_at, terminated_at, truncated_at; /* the scalar blocks' offsets (protocol.Layout) */
    int ready;       /* set only when __init__ fully succeeded: every method checks it */
    Py_ssize_t ended; /* agents whose terminated or truncated flag the last fill read set */
    PyObject *empty; /* numpy.empty, and its arguments for fresh(): */
    PyObject *obs_args[2], *rew_args[2], *flag_args[2]; /* (shape, dtype) each */
} Gatherer;

static void gatherer_dealloc(Gatherer *self) {
    release_all(self->outs, self->held);
    Py_XDECREF(self->empty);
    for (int i = 0; i < 2; i++) {
        Py_XDECREF(self->obs_args[i]);
        Py_XDECREF(self->rew_args[i]);
        Py_XDECREF(self->flag_args[i]);
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Gatherer(out_views, n_agents, obs_dim, (reward_at, terminated_at, truncated_at)): out holds
 * the observations at [0, n*d) and each per-agent scalar block of n floats at its offset, all
 * given by protocol.Layout (Layout.scalars_at), the one owner of the layout on the host side. */
static int gatherer_init(Gatherer *self, PyObject *args, PyObject *kw) {
    PyObject *views;
    Py_ssize_t n, d, at[3];
    if (!PyArg_ParseTuple(args, "Onn(nnn)", &views, &n, &d, &at[0], &at[1], &at[2])) return -1;
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
    Py_ssize_t end = n * d; /* the layout's extent: observations and the three scalar blocks */
    for (int k = 0; k < 3; k++) {
        if (at[k] < n * d || at[k] > PY_SSIZE_T_MAX / 8 - n) {
            PyErr_SetString(PyExc_ValueError, "a scalar block overlaps the observations or lies out of range");
            return -1;
        }
        if (at[k] + n > end) end = at[k] + n;
    }
    for (int p = 0; p < self->parts; p++)
        if (self->outs[p].len / 4 < end) {
            PyErr_SetString(PyExc_ValueError, "the out tensor is smaller than its layout");
            return -1;
        }
    PyObject *numpy = PyImport_ImportModule("numpy");
    if (numpy == NULL) return -1;
    PyObject *dtype = PyObject_GetAttrString(numpy, "dtype");
    self->empty = PyObject_GetAttrString(numpy, "empty");
    Py_DECREF(numpy);
    if (dtype == NULL) return -1;
    const Py_ssize_t total = n * self->parts;
    self->obs_args[0] = Py_BuildValue("(nn)", total, d);
    self->obs_args[1] = PyObject_CallFunction(dtype, "s", "float32");
    self->rew_args[0] = PyLong_FromSsize_t(total);
    self->rew_args[1] = PyObject_CallFunction(dtype, "s", "float64");
    self->flag_args[0] = PyLong_FromSsize_t(total);
    self->flag_args[1] = PyObject_CallFunction(dtype, "s", "bool");
    Py_DECREF(dtype);
    if (PyErr_Occurred()) return -1;
    self->n = n;
    self->d = d;
    self->reward_at = at[0];
    self->terminated_at = at[1];
    self->truncated_at = at[2];
    self->ready = 1;
    return 0;
}

/* Engine k's obs (unless NULL), reward and flags into rows [k*n, (k+1)*n) of the destinations;
 * counts the agents whose episode ended (`ended`). */
static void fill(Gatherer *self, float *obs, double *reward, char *terminated, char *truncated) {
    const Py_ssize_t n = self->n, d = self->d;
    Py_ssize_t ended = 0;
    for (int p = 0; p < self->parts; p++) {
        const float *out = (const float *)self->outs[p].buf;
        const float *rew = out + self->reward_at, *term = out + self->terminated_at, *trunc = out + self->truncated_at;
        double *r = reward + p * n;
        char *t = terminated + p * n, *u = truncated + p * n;
        if (obs != NULL) memcpy(obs + p * n * d, out, (size_t)(n * d) * sizeof(float));
        for (Py_ssize_t i = 0; i < n; i++) {
            r[i] = rew[i];
            t[i] = term[i] != 0.0f;
            u[i] = trunc[i] != 0.0f;
            ended += t[i] | u[i];
        }
    }
    self->ended = ended;
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
    const Py_ssize_t d = self->d, total = self->n * self->parts;
    Py_buffer ob, rb, tb, ub;
    int with_obs = args[0] != Py_None;
    if (with_obs && destination(args[0], &ob, "f", 4, total * d, "obs") < 0) return NULL;
    if (destination(args[1], &rb, "d", 8, total, "reward") < 0) goto fail_obs;
    if (destination(args[2], &tb, "?", 1, total, "terminated") < 0) goto fail_rew;
    if (destination(args[3], &ub, "?", 1, total, "truncated") < 0) goto fail_term;
    fill(self, with_obs ? (float *)ob.buf : NULL, (double *)rb.buf, (char *)tb.buf, (char *)ub.buf);
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

/* A fresh array of numpy.empty(*args) and its data (numpy's own C-contiguous array, exported
 * for its address only: no format asked), or NULL with an error. */
static PyObject *fresh_array(Gatherer *self, PyObject *const *args, void **data) {
    PyObject *arr = PyObject_Vectorcall(self->empty, args, 2, NULL);
    if (arr == NULL) return NULL;
    Py_buffer b;
    if (PyObject_GetBuffer(arr, &b, PyBUF_WRITABLE) < 0) { /* simple: contiguous, no shape */
        Py_DECREF(arr);
        return NULL;
    }
    *data = b.buf; /* the array owns its data: valid while arr lives */
    PyBuffer_Release(&b);
    return arr;
}

/* fresh(with_obs) -> (obs, reward, terminated, truncated): new arrays (obs float32 (M*n, d), or
 * None without with_obs, e.g. Dict observations; reward float64; the flags bool) filled as gather
 * fills: Gymnasium's vector API hands out fresh arrays every step (callers keep them). */
static PyObject *gatherer_fresh(Gatherer *self, PyObject *with_obs) {
    if (!self->ready) {
        PyErr_SetString(PyExc_RuntimeError, "Gatherer is not initialised");
        return NULL;
    }
    int want_obs = PyObject_IsTrue(with_obs);
    if (want_obs < 0) return NULL;
    void *o = NULL, *r, *t, *u;
    PyObject *obs = want_obs ? fresh_array(self, self->obs_args, &o) : Py_NewRef(Py_None);
    if (obs == NULL) return NULL;
    PyObject *rew = fresh_array(self, self->rew_args, &r);
    PyObject *term = rew == NULL ? NULL : fresh_array(self, self->flag_args, &t);
    PyObject *trunc = term == NULL ? NULL : fresh_array(self, self->flag_args, &u);
    if (trunc == NULL) {
        Py_XDECREF(term);
        Py_XDECREF(rew);
        Py_DECREF(obs);
        return NULL;
    }
    fill(self, (float *)o, (double *)r, (char *)t, (char *)u);
    PyObject *result = PyTuple_New(4);
    if (result == NULL) {
        Py_DECREF(trunc);
        Py_DECREF(term);
        Py_DECREF(rew);
        Py_DECREF(obs);
        return NULL;
    }
    PyTuple_SET_ITEM(result, 0, obs);
    PyTuple_SET_ITEM(result, 1, rew);
    PyTuple_SET_ITEM(result, 2, term);
    PyTuple_SET_ITEM(result, 3, trunc);
    return result;
}

static PyMethodDef gatherer_methods[] = {
    {"fresh", (PyCFunction)gatherer_fresh, METH_O,
     "fresh(with_obs) -> (obs, reward, terminated, truncated): every engine's answer in new arrays"},
    {"gather", (PyCFunction)(void (*)(void))gatherer_gather, METH_FASTCALL,
     "gather(obs, reward, terminated, truncated): every engine's answer into the batch's arrays"},
    {NULL, NULL, 0, NULL},
};

/* ended: read by GodotVectorEnv on every step with autoreset SAME_STEP or DISABLED instead of
 * (terminated | truncated).any() (~14k host instructions a step, ~13% of a 16-agent cart-pole step) */
static PyMemberDef gatherer_members[] = {
    {"ended", T_PYSSIZET, offsetof(Gatherer, ended), READONLY,
     "agents whose episode ended (terminated or truncated) in the last gather or fresh"},
    {NULL, 0, 0, 0, NULL},
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
    .tp_members = gatherer_members,
};

