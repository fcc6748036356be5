#include "shm/shared_chunk.h"

#include "shm/engine_errors.h"

#include <cstdio>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

#include "binding/log.h"
#include "shm/host_watch.h"

namespace aigym::shm {

namespace {
// Weak references: the mapping goes away with the last object using it.
std::mutex registry_mutex;
std::map<std::string, std::weak_ptr<SharedChunk>> &registry() {
    static std::map<std::string, std::weak_ptr<SharedChunk>> chunks;
    return chunks;
}
}  // namespace

SharedChunk::~SharedChunk() { aigym_shm_detach(&mapping_); }

std::shared_ptr<SharedChunk> SharedChunk::attach(const std::string &handle, std::string &error,
                                                 aigym_shm_status *status_out) {
    std::lock_guard<std::mutex> lock(registry_mutex);
    if (status_out) *status_out = AIGYM_SHM_OK;
    if (auto existing = registry()[handle].lock()) return existing;
    std::shared_ptr<SharedChunk> chunk(new SharedChunk(handle));
    const aigym_shm_status status = aigym_shm_attach(handle.c_str(), &chunk->mapping_);
    if (status_out) *status_out = status;
    if (status != AIGYM_SHM_OK) {
        error = std::string(aigym_shm_status_message(status));
        if (!handle.empty()) error = "chunk '" + handle + "': " + error;
        if (chunk->mapping_.err_no != 0) error += std::string(" (") + std::strerror(chunk->mapping_.err_no) + ")";
        if (chunk->mapping_.bad_entry != UINT32_MAX) error += " (directory entry " + std::to_string(chunk->mapping_.bad_entry) + ")";
        if (status == AIGYM_SHM_ERR_NOT_PRIVATE) {
            char mode[16];
            std::snprintf(mode, sizeof mode, "%04o", chunk->mapping_.mode);
            error += ": owner uid " + std::to_string(chunk->mapping_.owner_uid) + ", mode " + mode + " (we are uid " +
                     std::to_string(geteuid()) + " and need mode 0600)";
        }
        return nullptr;
    }
    // A chunk whose host is gone has nobody to answer and, with no engine watching it yet,
    // nobody left to remove it but a later host's sweep: remove that very file and refuse, as
    // for a chunk not found (an engine started by hand on a killed host's handle).
    const uint64_t host_started = __atomic_load_n(&chunk->header()->host_start_time, __ATOMIC_RELAXED);
    if (host_gone(chunk->host_pid(), host_started)) {
        const bool removed = unlink_if_same_and_host_dead(handle, chunk->mapping_.dev, chunk->mapping_.ino,
                                                          chunk->host_pid(), host_started);
        if (status_out) *status_out = AIGYM_SHM_ERR_NOT_FOUND;
        error = "chunk '" + handle + "': the host process that created it (pid " + std::to_string(chunk->host_pid()) +
                ") is gone" + (removed ? "; removed the stale chunk" : "");
        return nullptr;
    }
    // One engine per chunk: claim it (this also tells the host whose death to watch for).
    if (aigym_shm_claim(&chunk->mapping_, static_cast<int32_t>(getpid())) != AIGYM_SHM_OK) {
        if (status_out) *status_out = AIGYM_SHM_ERR_CLAIMED;
        error = "chunk '" + handle + "': " + aigym_shm_status_message(AIGYM_SHM_ERR_CLAIMED) + " (pid " +
                std::to_string(chunk->mapping_.holder_pid) + "); one engine per chunk";
        return nullptr;
    }
    // One watcher per chunk file for the life of this process (a chunk re-attached after all
    // its objects were freed keeps the first one).
    static std::set<std::pair<uint64_t, uint64_t>> watched;
    std::string watch_error;
    if (watched.insert({chunk->mapping_.dev, chunk->mapping_.ino}).second &&
        !start_host_watch(handle, chunk->mapping_.dev, chunk->mapping_.ino, chunk->host_pid(), host_started,
                          watch_error)) {
        AIGYM_WARNING("chunk '" + handle + "': cannot watch the host for cleanup after its death: " + watch_error);
    }
    // The record's place from the capacity the attach read once and checked, so a later
    // scribble of the header cannot move our writes.
    const uint64_t record_at = aigym_shm_engine_record_offset_for(chunk->mapping_.capacity);
    if (record_at + sizeof(aigym_shm_engine_record) <= chunk->size())
        chunk->engine_record_ = reinterpret_cast<aigym_shm_engine_record *>(static_cast<uint8_t *>(chunk->base()) + record_at);
    registry()[handle] = chunk;
    engine_errors::install_log();  // once: an engine that stops on an error can tell its host
    return chunk;
}

bool SharedChunk::unlink_if_host_dead() const {
    return unlink_if_same_and_host_dead(handle_, mapping_.dev, mapping_.ino, host_pid());
}

bool SharedChunk::find(const std::string &name, uint32_t kind, uint32_t dtype, aigym_shm_entry &out,
                       std::string &error) const {
    const aigym_shm_status status = aigym_shm_find(base(), size(), mapping_.capacity, name.c_str(), kind, dtype, &out);
    if (status == AIGYM_SHM_OK) return true;
    if (status == AIGYM_SHM_ERR_WRONG_KIND) {
        error = "'" + name + "' is a " + aigym_shm_type_name(out.kind, out.dtype) + ", not a " +
                aigym_shm_type_name(kind, dtype);
    } else if (status == AIGYM_SHM_ERR_UNKNOWN_NAME) {
        error = std::string("no ") + aigym_shm_type_name(kind, dtype) + " named '" + name + "' in chunk '" + handle_ + "'";
    } else {
        error = "'" + name + "': " + aigym_shm_status_message(status);
    }
    return false;
}

std::string command_line_handle() {
    std::ifstream in("/proc/self/cmdline", std::ios::binary);
    const std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::string> args;
    for (size_t start = 0; start < all.size();) {
        const size_t end = all.find('\0', start);
        args.push_back(all.substr(start, end == std::string::npos ? std::string::npos : end - start));
        if (end == std::string::npos) break;
        start = end + 1;
    }
    for (size_t i = 1; i < args.size(); ++i) {
        if (args[i] == "--handle" && i + 1 < args.size()) return args[i + 1];
        if (args[i].rfind("--handle=", 0) == 0) return args[i].substr(9);
    }
    return {};
}

}  // namespace aigym::shm
