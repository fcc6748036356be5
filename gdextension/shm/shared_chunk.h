// A chunk attached by the engine: one mapping per handle, shared by every object that uses it
// (cSharedMemory, its tensors and semaphores keep it mapped while they live). The engine
// claims the chunk (one engine per chunk), never creates or resizes one, and unlinks it only
// when the host that owns it died (host_watch.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "shm/aigym_shm_wait.h"

namespace aigym::shm {

class SharedChunk {
  public:
    ~SharedChunk();
    SharedChunk(const SharedChunk &) = delete;
    SharedChunk &operator=(const SharedChunk &) = delete;

    // Attaches to `handle` (or returns the process's existing mapping of it). On failure
    // returns null and sets `error` to a message naming the handle and the cause.
    // `status` (optional) receives the attach status (AIGYM_SHM_ERR_CLAIMED, ..._NOT_PRIVATE...).
    static std::shared_ptr<SharedChunk> attach(const std::string &handle, std::string &error,
                                               aigym_shm_status *status = nullptr);

    const std::string &handle() const { return handle_; }
    void *base() const { return mapping_.base; }
    uint64_t size() const { return mapping_.size; }
    aigym_shm_header *header() const { return static_cast<aigym_shm_header *>(mapping_.base); }
    // The host that created the chunk, as read at attach (never re-read: anyone may scribble it).
    int32_t host_pid() const { return mapping_.host_pid; }
    bool host_alive() const { return aigym_pid_alive(host_pid()) != 0; }
    bool shutdown_requested() const { return aigym_shm_load_shutdown(header()) != 0; }
    // The engine record where the directory validated at attach ends (never re-read from the
    // header, which the host may scribble later); null if it would not fit in the mapping.
    aigym_shm_engine_record *engine_record() const { return engine_record_; }
    // The host died: remove its chunk's name (only if it is still our file). True if removed.
    bool unlink_if_host_dead() const;

    // Looks up `name` of `kind`/`dtype` and copies its entry into `out` (checked against the
    // mapping: callers use only the copy, never the live entry another process may rewrite);
    // false with a message naming what is wrong otherwise.
    bool find(const std::string &name, uint32_t kind, uint32_t dtype, aigym_shm_entry &out, std::string &error) const;

  private:
    explicit SharedChunk(std::string handle) : handle_(std::move(handle)) {}
    std::string handle_;
    aigym_shm_mapping mapping_{};
    aigym_shm_engine_record *engine_record_ = nullptr;
};

// The handle given on the command line: `--handle NAME` or `--handle=NAME`, among the engine
// arguments or the user arguments after `--`. Empty when absent.
std::string command_line_handle();

}  // namespace aigym::shm
