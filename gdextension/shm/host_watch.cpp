#include "shm/host_watch.h"

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shm/aigym_shm_wait.h"

namespace aigym::shm {

namespace {

// Everything below runs in the forked watcher too: raw system calls only, no allocation.

bool same_file_unlink(const char *path, uint64_t dev, uint64_t ino) {
    const int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return false;
    struct stat st;
    const bool same = fstat(fd, &st) == 0 && static_cast<uint64_t>(st.st_dev) == dev &&
                      static_cast<uint64_t>(st.st_ino) == ino;
    close(fd);
    return same && unlink(path) == 0;
}

// Dead, a zombie, or already exiting (PF_EXITING: the kernel sends the parent-death signal
// to the engine while the host is still tearing down, before its pidfd becomes readable).
bool host_gone_or_exiting(int32_t pid) {
    if (!aigym_pid_alive(pid)) return true;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return true;
    const ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return true;
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    if (p == nullptr) return false;
    // fields after ')': state(3) ppid pgrp session tty_nr tpgid flags(9)
    unsigned long flags = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %lu", &flags) != 1) return false;
    return (flags & 0x4ul) != 0;  // PF_EXITING
}

// What else of the host the watcher removes once it is dead. The engine's output file, when it
// is the temporary log its host made for it (`<tmp>/godot-aigym-<host pid>-<host start
// time>-<random>.log`, engine/logs.py): nobody else removes it once that host is dead but the
// next host's sweep. A log the user chose (another name) is never touched.
struct HostFiles {
    char path[PATH_MAX];
    uint64_t dev = 0, ino = 0;
    bool found = false;
    // The host's placement record (env/placement_registry.py: /dev/shm/aigym-place-<pid>-<start
    // time>, rewritten by rename, so known by name only); empty when the start time is unknown.
    char record[96] = "";
};

// A regular file of ours under `path`: the name says whose it is (a dead host's), the sticky
// /dev/shm says no other user replaced it.
void unlink_own_regular(const char *path) {
    struct stat st;
    if (path[0] != '\0' && lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid()) unlink(path);
}

void find_host_files(int32_t host_pid, uint64_t host_start_time, HostFiles &files) {
    if (host_start_time != 0)
        snprintf(files.record, sizeof files.record, "/dev/shm/aigym-place-%d-%llu", static_cast<int>(host_pid),
                 static_cast<unsigned long long>(host_start_time));
    const ssize_t n = readlink("/proc/self/fd/1", files.path, sizeof files.path - 1);
    if (n <= 0) return;
    files.path[n] = '\0';  // an unlinked file reads "<path> (deleted)": no ".log" suffix, skipped
    const char *slash = strrchr(files.path, '/');
    const char *base = slash ? slash + 1 : files.path;
    char prefix[64];
    snprintf(prefix, sizeof prefix, "godot-aigym-%d-", static_cast<int>(host_pid));
    const size_t plen = strlen(prefix), len = strlen(base);
    if (strncmp(base, prefix, plen) != 0 || len < plen + 4 || strcmp(base + len - 4, ".log") != 0) return;
    char *end = nullptr;
    const unsigned long long started = strtoull(base + plen, &end, 10);
    if (end == base + plen || *end != '-' || (host_start_time != 0 && started != host_start_time)) return;
    struct stat st;
    if (fstat(1, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) return;
    files.dev = static_cast<uint64_t>(st.st_dev);
    files.ino = static_cast<uint64_t>(st.st_ino);
    files.found = true;
}

int pidfd_open(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

// Close every fd from 3 up except `a` and `b` (the watcher must not keep the engine's files).
void close_all_but(int a, int b) {
    const int lo = a < b ? a : b, hi = a < b ? b : a;
    const unsigned max_fd = ~0u;
    if (syscall(SYS_close_range, 3u, static_cast<unsigned>(lo) - 1u, 0u) == 0 || lo <= 3) {
        if (hi > lo + 1) syscall(SYS_close_range, static_cast<unsigned>(lo) + 1u, static_cast<unsigned>(hi) - 1u, 0u);
        syscall(SYS_close_range, static_cast<unsigned>(hi) + 1u, max_fd, 0u);
        return;
    }
    for (int fd = 3; fd < 65536; ++fd) {  // no close_range (Linux < 5.9)
        if (fd != a && fd != b) close(fd);
    }
}

[[noreturn]] void watch(const char *path, uint64_t dev, uint64_t ino, int32_t host_pid, const HostFiles &files, int host_fd,
                        int engine_fd) {
    prctl(PR_SET_NAME, "aigym-watch", 0, 0, 0);
    const int null_fd = open("/dev/null", O_RDWR);
    if (null_fd >= 0) {  // do not hold the engine's log or pipes open
        dup2(null_fd, 0);
        dup2(null_fd, 1);
        dup2(null_fd, 2);
    }
    close_all_but(host_fd, engine_fd);
    struct pollfd fds[2] = {{host_fd, POLLIN, 0}, {engine_fd, POLLIN, 0}};
    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            _exit(1);
        }
        if (fds[0].revents != 0 || host_gone_or_exiting(host_pid)) {
            same_file_unlink(path, dev, ino);  // the host is dead: nobody else will remove it
            if (files.found) same_file_unlink(files.path, files.dev, files.ino);
            unlink_own_regular(files.record);
            _exit(0);
        }
        if (fds[1].revents != 0) _exit(0);  // the engine ended first and the host lives: its chunk
    }
}

}  // namespace

bool host_gone(int32_t host_pid, uint64_t host_start_time) {
    if (host_pid <= 0) return false;  // unknown: as aigym_pid_alive
    if (!aigym_pid_alive(host_pid)) return true;
    const uint64_t now = host_start_time != 0 ? aigym_pid_start_time(host_pid) : 0;
    return now != 0 && now != host_start_time;  // the pid was reused by another process
}

bool unlink_if_same_and_host_dead(const std::string &handle, uint64_t dev, uint64_t ino, int32_t host_pid,
                                  uint64_t host_start_time) {
    if (!host_gone(host_pid, host_start_time)) return false;
    return same_file_unlink(("/dev/shm/" + handle).c_str(), dev, ino);
}

bool start_host_watch(const std::string &handle, uint64_t dev, uint64_t ino, int32_t host_pid, uint64_t host_start_time,
                      std::string &error) {
    if (host_pid <= 0) {
        error = "the chunk names no host pid";
        return false;
    }
    char path[AIGYM_SHM_HANDLE_MAX + 16];
    snprintf(path, sizeof path, "/dev/shm/%s", handle.c_str());
    HostFiles files;
    find_host_files(host_pid, host_start_time, files);
    const int host_fd = pidfd_open(host_pid);
    const int engine_fd = pidfd_open(getpid());
    if (host_fd < 0 || engine_fd < 0) {
        error = std::string("pidfd_open: ") + std::strerror(errno);
        if (host_fd >= 0) close(host_fd);
        if (engine_fd >= 0) close(engine_fd);
        return false;
    }
    // Double fork: the watcher is re-parented at once, so the engine never keeps a zombie.
    const pid_t child = fork();
    if (child == 0) {
        if (fork() == 0) watch(path, dev, ino, host_pid, files, host_fd, engine_fd);
        _exit(0);
    }
    close(host_fd);
    close(engine_fd);
    if (child < 0) {
        error = std::string("fork: ") + std::strerror(errno);
        return false;
    }
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    return true;
}

}  // namespace aigym::shm
