/*
 * _slotcopy.c - copy an array into a SharedObject's standby slot.
 *
 * Why this exists: a writer alternates between two slots (that is what keeps the
 * published value intact if the writer dies), so repeatedly assigning an n-byte
 * array touches 3n bytes (source and both slots) where a copy into a single
 * buffer touches 2n.  Where 3n outgrows every cache level the raw copy's 2n still
 * fits in, each destination line costs a read-for-ownership from further out and a
 * later write-back.  The standby slot is read by *other* processes, never by the
 * writer, so there is no point pulling its lines into the writer's cache:
 * non-temporal (streaming) stores skip the read-for-ownership.
 *
 * Whether streaming pays depends on the whole cache hierarchy (with a large, fast L3
 * the plain copy's slots stay cached and streaming to DRAM loses), so this module is
 * only the mechanism: copy(dst, src, keep) streams all but the last `keep` bytes,
 * which get ordinary stores (they stay cached for the next-but-one assign and
 * overlap the draining of the write-combining buffers); keep >= n is a plain memcpy.
 * The policy - which keep for which size on this machine - is copy_strategy.py's.
 * See docs/SHARED_OBJECT.md, "Large arrays".
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) || defined(__SSE2__)
#include <emmintrin.h>
#define HAVE_STREAM 1
#else
#define HAVE_STREAM 0
#endif

/* Copies below this size never release the GIL: the release costs more than the copy. */
#define GIL_RELEASE_BYTES (64 * 1024)

#if HAVE_STREAM
/* Streaming copy of the 64-byte-aligned destination range; n is a multiple of 64. */
static void stream_copy(char *dst, const char *src, size_t n) {
    for (size_t i = 0; i < n; i += 64) {
        __m128i a = _mm_loadu_si128((const __m128i *)(src + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(src + i + 16));
        __m128i c = _mm_loadu_si128((const __m128i *)(src + i + 32));
        __m128i d = _mm_loadu_si128((const __m128i *)(src + i + 48));
        _mm_stream_si128((__m128i *)(dst + i), a);
        _mm_stream_si128((__m128i *)(dst + i + 16), b);
        _mm_stream_si128((__m128i *)(dst + i + 32), c);
        _mm_stream_si128((__m128i *)(dst + i + 48), d);
    }
    /* Order the streaming stores before the ordinary stores that publish the slot. */
    _mm_sfence();
}
#endif

/* Copy n bytes; all but the last `keep` are streamed (keep >= n: plain memcpy). */
static void slot_copy(char *dst, const char *src, size_t n, size_t keep) {
#if HAVE_STREAM
    /* Align the streamed part to whole destination lines; memcpy the rest. */
    size_t lead = (size_t)(-(uintptr_t)dst & 63);
    if (keep < n && lead + keep < n) {
        size_t body = (n - lead - keep) & ~(size_t)63;
        memcpy(dst, src, lead);
        stream_copy(dst + lead, src + lead, body);
        memcpy(dst + lead + body, src + lead + body, n - lead - body);
        return;
    }
#endif
    memcpy(dst, src, n);
}

/* copy(dst, src[, keep]).  METH_FASTCALL with the buffers fetched directly: argument
 * parsing ("w*y*|n") was ~0.3 us of a frame assign's ~2 us of Python-side overhead. */
static PyObject *mod_copy(PyObject *m, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 2 || nargs > 3) {
        PyErr_Format(PyExc_TypeError, "copy(dst, src, keep=<all>) takes 2 or 3 arguments, got %zd", nargs);
        return NULL;
    }
    Py_ssize_t keep = PY_SSIZE_T_MAX;
    if (nargs == 3) {
        keep = PyLong_AsSsize_t(args[2]);
        if (keep == -1 && PyErr_Occurred()) return NULL;
    }
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
            slot_copy(dst.buf, src.buf, (size_t)src.len, (size_t)keep);
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

static PyMethodDef module_methods[] = {
    {"copy", (PyCFunction)(void (*)(void))mod_copy, METH_FASTCALL,
     "copy(dst, src, keep=<all>): copy a C-contiguous buffer into an equally long writable one; all but "
     "the last `keep` bytes with non-temporal stores where STREAMING (GIL released for large copies)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef slotcopy_module = {
    PyModuleDef_HEAD_INIT, "_slotcopy", "Cache-aware copy into a SharedObject's standby slot.", -1, module_methods,
};

PyMODINIT_FUNC PyInit__slotcopy(void) {
    PyObject *mod = PyModule_Create(&slotcopy_module);
    if (mod != NULL && PyModule_AddIntConstant(mod, "STREAMING", HAVE_STREAM) < 0) Py_CLEAR(mod);
    return mod;
}
