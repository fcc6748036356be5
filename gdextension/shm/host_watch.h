// When the host dies, its chunk must not stay in /dev/shm. The host unlinks it on a clean
// exit and on SIGINT/SIGTERM, but a SIGKILLed host cannot, and the engine itself is usually
// SIGKILLed at the same moment (the launcher's parent-death signal). So on attach the engine
// starts a tiny watcher process that sleeps on pidfds of the host and of the engine and, once
// the host is dead, unlinks the chunk's name -- only if it still is the very file we mapped --
// and the engine's temporary log, if its name says the dead host made it (engine/logs.py), and
// the host's placement record (env/placement_registry.py).
#pragma once

#include <cstdint>
#include <string>

namespace aigym::shm {

// The host is dead, a zombie, or its pid now belongs to another process (its start time
// differs from `host_start_time`, the chunk's; 0 = unknown, not checked).
bool host_gone(int32_t host_pid, uint64_t host_start_time);

// Unlinks /dev/shm/<handle> if it is still the file (dev, ino) and the host is gone.
// Returns true if it removed the name.
bool unlink_if_same_and_host_dead(const std::string &handle, uint64_t dev, uint64_t ino, int32_t host_pid,
                                  uint64_t host_start_time = 0);

// Starts the watcher (a grandchild that exits as soon as the engine or the host is gone).
// Returns false (and sets `error`) if it could not; the engine then only cleans up itself.
bool start_host_watch(const std::string &handle, uint64_t dev, uint64_t ino, int32_t host_pid, uint64_t host_start_time,
                      std::string &error);

}  // namespace aigym::shm
