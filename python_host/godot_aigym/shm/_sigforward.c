/*
 * _sigforward.c -- SIGINT/SIGTERM handling that does not depend on the interpreter's timing.
 *
 * 1. Unlink in the signal handler itself. CPython runs a Python-level handler only when the
 *    main thread next checks for signals; a signal that lands between that check and a
 *    blocking call (readline() returning, then time.sleep(60)) waits for the call to end.
 *    So the chunks this process owns are registered here (path, dev, inode) and the C handler
 *    unlinks them at once with async-signal-safe calls (open, fstat, unlink), on any thread.
 *    When the disposition before ours was the default, the handler then also dies of the
 *    signal right there (SIG_DFL + kill), exactly as the process would have without us.
 * 2. Forward to the main thread otherwise:
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
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static pthread_t main_thread;
static struct sigaction previous[NSIG];
static volatile sig_atomic_t wrapped[NSIG];
static volatile sig_atomic_t die_on[NSIG]; /* the disposition before ours was SIG_DFL */

/* Files to unlink from the handler. A slot is filled while inactive, then published. */
#define OWNED_MAX 256
#define OWNED_PATH 256
typedef struct owned_file {
    int active;
    pid_t pid; /* a forked child never removes its parent's files */
    dev_t dev;
    ino_t ino;
    char path[OWNED_PATH];
} owned_file;
static owned_file owned[OWNED_MAX];

static void unlink_owned(void) {
    const pid_t me = getpid();
    for (int i = 0; i < OWNED_MAX; ++i) {
        owned_file *o = &owned[i];
        if (!__atomic_load_n(&o->active, __ATOMIC_ACQUIRE) || o->pid != me) continue;
        int fd = open(o->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) continue;
        struct stat st;
        int same = fstat(fd, &st) == 0 && st.st_dev == o->dev && st.st_ino == o->ino;
        close(fd);
        if (same) unlink(o->path); /* only the very file we created */
    }
}

static void forwarding_handler(int sig, siginfo_t *info, void *ctx) {
    int saved_errno = errno;
    if (sig > 0 && sig < NSIG && wrapped[sig]) {
        unlink_owned();
        if (die_on[sig]) {
            struct sigaction dfl;
            memset(&dfl, 0, sizeof dfl);
            dfl.sa_handler = SIG_DFL;
            sigaction(sig, &dfl, NULL);
            kill(getpid(), sig); /* delivered once this handler returns, or to another thread */
        } else if (!pthread_equal(pthread_self(), main_thread)) {
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
    die_on[sig] = 0;  /* a new handler: it must run (set_die again if it would only re-raise) */
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

/* set_die(signum, flag): die of signum in the handler (the disposition before ours was SIG_DFL). */
static PyObject *sf_set_die(PyObject *m, PyObject *args) {
    int sig, flag;
    if (!PyArg_ParseTuple(args, "ip", &sig, &flag)) return NULL;
    if (sig <= 0 || sig >= NSIG) return PyErr_Format(PyExc_ValueError, "signal number out of range: %d", sig);
    die_on[sig] = flag;
    Py_RETURN_NONE;
}

/* add(path, dev, ino) -> bool: unlink path from the handler while it is this file. */
static PyObject *sf_add(PyObject *m, PyObject *args) {
    const char *path;
    unsigned long long dev, ino;
    if (!PyArg_ParseTuple(args, "sKK", &path, &dev, &ino)) return NULL;
    if (strlen(path) >= OWNED_PATH) Py_RETURN_FALSE;
    for (int i = 0; i < OWNED_MAX; ++i) {
        owned_file *o = &owned[i];
        if (__atomic_load_n(&o->active, __ATOMIC_ACQUIRE)) continue;
        o->pid = getpid();
        o->dev = (dev_t)dev;
        o->ino = (ino_t)ino;
        strcpy(o->path, path);
        __atomic_store_n(&o->active, 1, __ATOMIC_RELEASE);
        Py_RETURN_TRUE;
    }
    Py_RETURN_FALSE; /* full: the Python-level handler still covers it */
}

/* remove(path): forget path (this process's entry). */
static PyObject *sf_remove(PyObject *m, PyObject *arg) {
    const char *path = PyUnicode_AsUTF8(arg);
    if (path == NULL) return NULL;
    const pid_t me = getpid();
    for (int i = 0; i < OWNED_MAX; ++i) {
        owned_file *o = &owned[i];
        if (__atomic_load_n(&o->active, __ATOMIC_ACQUIRE) && o->pid == me && strcmp(o->path, path) == 0)
            __atomic_store_n(&o->active, 0, __ATOMIC_RELEASE);
    }
    Py_RETURN_NONE;
}

/* clear(): forget every entry (a forked child starts with none of its own). */
static PyObject *sf_clear(PyObject *m, PyObject *unused) {
    for (int i = 0; i < OWNED_MAX; ++i) __atomic_store_n(&owned[i].active, 0, __ATOMIC_RELEASE);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"forward", sf_forward, METH_O, "forward(signum) -> bool: wrap the installed handler: unlink the registered "
                                    "files, then die (set_die) or run it on the main thread"},
    {"set_die", sf_set_die, METH_VARARGS, "set_die(signum, flag)"},
    {"add", sf_add, METH_VARARGS, "add(path, dev, ino) -> bool"},
    {"remove", sf_remove, METH_O, "remove(path)"},
    {"clear", sf_clear, METH_NOARGS, "clear()"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_sigforward", "Signal-safe unlinking of owned files and forwarding to the main thread.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__sigforward(void) { return PyModule_Create(&module); }
