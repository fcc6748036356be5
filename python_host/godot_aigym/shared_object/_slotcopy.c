/*
 * _slotcopy.c - copy an array into a SharedObject's standby slot.
 *
 * Why this exists: a writer alternates between two slots (that is what keeps the
 * published value intact if the writer dies), so repeatedly assigning an n-byte
 * array touches 3n bytes (source and both slots) where a copy into a single
 * buffer touches 2n.  Once 3n outgrows the L2 cache, every destination line costs
 * a read-for-ownership from L3 and a later write-back: measured here, 1.25x the
 * single-buffer copy for a 1.2 MB camera frame.
 *
 * The standby slot is read by *other* processes, never by the writer, so there is
 * no point pulling its lines into the writer's cache.  Non-temporal (streaming)
 * stores skip the read-for-ownership.  Only the excess is streamed, though: the
 * tail of each slot that still fits in L2 beside the source, (L2 - n) / 2 bytes,
 * is written with ordinary stores and stays cached for the next-but-one assign,
 * and at least L2/8 bytes are, which also overlaps the draining of the
 * write-combining buffers.  Measured for the frame against the raw copy, medians
 * over 8 fresh allocations: this tail 1.02x, L2/8 1.05x, L2/16 1.11x, L2/4
 * 1.02-1.14x depending on page placement; no tail at all was 1.3x and worse.
 * Larger arrays meet the same effect one level up (a 9.8 MB float64 image: 1.13x
 * in plain memcpy, 1.04x streamed; fetches got faster too, since the slots stop
 * crowding the L3).
 * Copies whose three buffers fit in L2 gain nothing and use plain memcpy.
 * See docs/SHARED_OBJECT.md, "Large arrays".
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__SSE2__)
#include <emmintrin.h>
#define HAVE_STREAM 1
#else
#define HAVE_STREAM 0
#endif

/* Copies below this size never release the GIL: the release costs more than the copy. */
#define GIL_RELEASE_BYTES (64 * 1024)

static size_t l2_bytes = 2u << 20; /* replaced by the real size at import when known */

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

/* 1 if copying n bytes into a standby slot should stream: source and both slots outgrow L2. */
static int wants_stream(size_t n) {
    return HAVE_STREAM && n > l2_bytes / 3;
}

static void slot_copy(char *dst, const char *src, size_t n) {
#if HAVE_STREAM
    if (wants_stream(n)) {
        /* Align the streamed part to whole destination lines; memcpy the rest. */
        size_t lead = (size_t)(-(uintptr_t)dst & 63);
        size_t tail = n < l2_bytes ? (l2_bytes - n) / 2 : 0;
        if (tail < l2_bytes / 8) tail = l2_bytes / 8;
        if (lead + tail < n) {
            size_t body = (n - lead - tail) & ~(size_t)63;
            memcpy(dst, src, lead);
            stream_copy(dst + lead, src + lead, body);
            memcpy(dst + lead + body, src + lead + body, n - lead - body);
            return;
        }
    }
#endif
    memcpy(dst, src, n);
}

static PyObject *mod_copy(PyObject *m, PyObject *args) {
    Py_buffer dst, src;
    if (!PyArg_ParseTuple(args, "w*y*", &dst, &src)) return NULL;
    PyObject *result = NULL;
    if (!PyBuffer_IsContiguous(&dst, 'C') || !PyBuffer_IsContiguous(&src, 'C')) {
        PyErr_SetString(PyExc_ValueError, "copy() needs C-contiguous buffers");
    } else if (dst.len != src.len) {
        PyErr_Format(PyExc_ValueError, "copy(): destination holds %zd bytes, source has %zd", dst.len, src.len);
    } else {
        if (src.len >= GIL_RELEASE_BYTES) {
            Py_BEGIN_ALLOW_THREADS
            slot_copy(dst.buf, src.buf, (size_t)src.len);
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

static PyObject *mod_streams(PyObject *m, PyObject *arg) {
    Py_ssize_t n = PyLong_AsSsize_t(arg);
    if (n == -1 && PyErr_Occurred()) return NULL;
    return PyBool_FromLong(n > 0 && wants_stream((size_t)n));
}

static PyMethodDef module_methods[] = {
    {"copy", mod_copy, METH_VARARGS,
     "copy(dst, src): copy a C-contiguous buffer into an equally long writable one, "
     "streaming past the cache where a standby-slot write benefits (GIL released for large copies)."},
    {"streams", mod_streams, METH_O, "streams(nbytes) -> True if a copy of nbytes uses streaming stores."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef slotcopy_module = {
    PyModuleDef_HEAD_INIT, "_slotcopy", "Cache-aware copy into a SharedObject's standby slot.", -1, module_methods,
};

PyMODINIT_FUNC PyInit__slotcopy(void) {
#ifdef _SC_LEVEL2_CACHE_SIZE
    long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
    if (l2 >= (64 << 10)) l2_bytes = (size_t)l2;
#endif
    PyObject *mod = PyModule_Create(&slotcopy_module);
    if (mod != NULL && PyModule_AddIntConstant(mod, "L2_BYTES", (long)l2_bytes) < 0) Py_CLEAR(mod);
    return mod;
}
