/*
 * _sigforward.c -- make a process-directed signal wake Python's main thread.
 *
 * CPython runs Python-level signal handlers only on the main thread, and its C handler just
 * sets a flag. When the kernel delivers SIGTERM to another thread (numpy's OpenBLAS workers
 * accept signals), the main thread stays blocked in read()/sleep() and the handler that
 * unlinks our chunks never runs: the host "ignores" SIGTERM (seen 1 time in 25).
 *
 * forward(signum) wraps the handler currently installed for signum (Python's, after
 * signal.signal): on the main thread it calls it unchanged; on any other thread it re-sends
 * the signal to the main thread with pthread_kill (async-signal-safe), which interrupts the
 * main thread's blocking call so the interpreter runs the Python handler at once.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

static pthread_t main_thread;
static struct sigaction previous[NSIG];
static volatile sig_atomic_t wrapped[NSIG];

static void forwarding_handler(int sig, siginfo_t *info, void *ctx) {
    int saved_errno = errno;
    if (sig > 0 && sig < NSIG && wrapped[sig]) {
        if (!pthread_equal(pthread_self(), main_thread)) {
            pthread_kill(main_thread, sig); /* the main thread runs the real handler */
        } else if (previous[sig].sa_flags & SA_SIGINFO) {
            previous[sig].sa_sigaction(sig, info, ctx);
        } else if (previous[sig].sa_handler != SIG_DFL && previous[sig].sa_handler != SIG_IGN) {
            previous[sig].sa_handler(sig);
        }
    }
    errno = saved_errno;
}

/* forward(signum) -> bool: True if the installed handler is now wrapped. Call it from the
 * main thread right after signal.signal(signum, ...); a later signal.signal replaces it. */
static PyObject *sf_forward(PyObject *m, PyObject *arg) {
    long sig = PyLong_AsLong(arg);
    struct sigaction current, wrapper;
    if (sig == -1 && PyErr_Occurred()) return NULL;
    if (sig <= 0 || sig >= NSIG) {
        PyErr_Format(PyExc_ValueError, "signal number out of range: %ld", sig);
        return NULL;
    }
    if (sigaction((int)sig, NULL, &current) != 0) return PyErr_SetFromErrno(PyExc_OSError);
    if ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == forwarding_handler) Py_RETURN_TRUE;
    if (!(current.sa_flags & SA_SIGINFO) && (current.sa_handler == SIG_DFL || current.sa_handler == SIG_IGN))
        Py_RETURN_FALSE; /* nothing to forward to */
    main_thread = pthread_self();
    wrapped[sig] = 0; /* a signal arriving meanwhile goes to the old handler below */
    previous[sig] = current;
    wrapped[sig] = 1;
    memset(&wrapper, 0, sizeof wrapper);
    wrapper.sa_sigaction = forwarding_handler;
    wrapper.sa_mask = current.sa_mask;
    wrapper.sa_flags = (current.sa_flags | SA_SIGINFO) & ~SA_RESETHAND;
    if (sigaction((int)sig, &wrapper, NULL) != 0) return PyErr_SetFromErrno(PyExc_OSError);
    Py_RETURN_TRUE;
}

static PyMethodDef methods[] = {
    {"forward", sf_forward, METH_O, "forward(signum) -> bool: re-send signum to the main thread when another "
                                    "thread receives it"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_sigforward", "Forward process-directed signals to Python's main thread.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__sigforward(void) { return PyModule_Create(&module); }
