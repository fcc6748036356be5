#include "shm/shared_memory_semaphore.h"

#include <cerrno>
#include <algorithm>
#include <cstring>

#include "binding/engine.h"
#include "binding/log.h"
#include "shm/engine_errors.h"

namespace aigym {

void cSharedMemorySemaphore::bind(gd::ClassBinder<cSharedMemorySemaphore> &b) {
    b.method<&cSharedMemorySemaphore::init>("init", {"name"})
        .method<&cSharedMemorySemaphore::post>("post")
        .method<&cSharedMemorySemaphore::wait>("wait")
        .method<&cSharedMemorySemaphore::timed_wait>("timed_wait", {"msec"})
        .method<&cSharedMemorySemaphore::try_wait>("try_wait")
        .method<&cSharedMemorySemaphore::set_spin_us>("set_spin_us", {"microseconds"})
        .method<&cSharedMemorySemaphore::get_spin_us>("get_spin_us")
        .method<&cSharedMemorySemaphore::get_name>("get_name")
        .property("spin_us", GDEXTENSION_VARIANT_TYPE_INT, "set_spin_us", "get_spin_us");
}

bool cSharedMemorySemaphore::init(std::string name) {
    name_ = name;
    const std::string handle = shm::command_line_handle();
    std::string error;
    auto chunk = shm::SharedChunk::attach(handle, error);
    if (!chunk) {
        AIGYM_ERROR(where("init") + ": " + error);
        return false;
    }
    aigym_shm_entry entry;
    if (!chunk->find(name, AIGYM_SHM_KIND_SEMAPHORE, AIGYM_SHM_DTYPE_NONE, entry, error)) {
        AIGYM_ERROR(where("init") + ": " + error);
        return false;
    }
    attach(std::move(chunk), entry);
    return true;
}

void cSharedMemorySemaphore::attach(std::shared_ptr<shm::SharedChunk> chunk, const aigym_shm_entry &entry) {
    chunk_ = std::move(chunk);
    sem_ = aigym_shm_entry_sem(chunk_->base(), &entry);
    name_ = entry.name;
}

namespace {
// A wait for ever after errors nobody was answered about: the first of them goes into the chunk's
// engine record, where the host finds it if it is blocked too (aigym_sem_block_marked).
aigym_shm_engine_record *publish_unanswered_error(const shm::SharedChunk &chunk) {
    std::string text;
    uint32_t count = 0;
    aigym_shm_engine_record *record = chunk.engine_record();  // not from the live header: it may be garbage
    if (!record || !shm::engine_errors::first_unanswered(text, count)) return nullptr;
    aigym_shm_store_stuck_sem(record, 0);
    const size_t n = std::min<size_t>(text.size(), AIGYM_SHM_ENGINE_TEXT_SIZE - 1);
    std::memcpy(record->text, text.data(), n);
    record->text[n] = '\0';
    record->text_size = static_cast<uint32_t>(n);
    record->error_count = count;
    return record;
}
}  // namespace

bool cSharedMemorySemaphore::post() {
    if (!sem_) {
        AIGYM_ERROR(where("post") + ": semaphore is not initialised (call init(name) first)");
        return false;
    }
    shm::engine_errors::note_post();
    const aigym_sem_status status = aigym_sem_post(sem_);
    if (status != AIGYM_SEM_OK) {
        AIGYM_ERROR(where("post") + " in chunk '" + chunk_->handle() + "': " + aigym_sem_status_message(status));
        return false;
    }
    return true;
}

bool cSharedMemorySemaphore::wait() { return wait_for(AIGYM_WAIT_FOREVER, "wait"); }

bool cSharedMemorySemaphore::timed_wait(int64_t msec) {
    if (msec < 0) {
        AIGYM_ERROR(where("timed_wait") + ": msec must be >= 0, got " + std::to_string(msec));
        return false;
    }
    return wait_for(msec * 1000000LL, "timed_wait");
}

bool cSharedMemorySemaphore::try_wait() { return wait_for(0, "try_wait"); }

void cSharedMemorySemaphore::set_spin_us(int64_t us) {
    if (us < 0 || us > 1000000) {
        AIGYM_ERROR(where("set_spin_us") + ": spin must be 0..1000000 microseconds, got " + std::to_string(us));
        return;
    }
    spin_us_ = us;
}

bool cSharedMemorySemaphore::wait_for(int64_t timeout_ns, const char *method) {
    if (!sem_) {
        AIGYM_ERROR(where(method) + ": semaphore is not initialised (call init(name) first)");
        return false;
    }
    return wait_on(*chunk_, sem_, timeout_ns, spin_us_, where(method));
}

bool cSharedMemorySemaphore::wait_on(const shm::SharedChunk &chunk, aigym_sem *sem, int64_t timeout_ns,
                                     int64_t spin_us, const std::string &where) {
    aigym_shm_engine_record *record = nullptr;
    if (timeout_ns < 0 && shm::engine_errors::unanswered.load(std::memory_order_relaxed) != 0)
        record = publish_unanswered_error(chunk);
    const uint64_t sem_offset = static_cast<uint64_t>(reinterpret_cast<uint8_t *>(sem) - static_cast<uint8_t *>(chunk.base()));
    const auto status = aigym_sem_wait_published(sem, timeout_ns, static_cast<uint32_t>(spin_us), chunk.host_pid(),
                                                 &chunk.header()->shutdown, record ? &record->stuck_sem : nullptr,
                                                 sem_offset);
    switch (status) {
    case AIGYM_WAIT_OK:
        return true;
    case AIGYM_WAIT_TIMEOUT:
        return false;
    case AIGYM_WAIT_PEER_DEAD:
        // No orphaned engines: the host that fed us is gone, so the game ends (and its chunk goes).
        AIGYM_ERROR(where + ": the host process (pid " + std::to_string(chunk.host_pid()) + ") died; quitting");
        chunk.unlink_if_host_dead();
        gd::engine::quit_scene_tree(1);
        return false;
    case AIGYM_WAIT_CORRUPT:
        // A wait for ever that returns false means "the game ends" (the host is gone): a game
        // whose command semaphore is garbage cannot go on either, and would otherwise idle for
        // ever while its host waits for an answer. A timed wait leaves the choice to the game.
        AIGYM_ERROR(where + " in chunk '" + chunk.handle() + "': " + aigym_wait_status_message(status) +
                    (timeout_ns < 0 ? "; quitting" : ""));
        if (timeout_ns < 0) gd::engine::quit_scene_tree(1);
        return false;
    case AIGYM_WAIT_SHUTDOWN:
        AIGYM_WARNING(where + ": the host asked the engine to shut down; quitting");
        gd::engine::quit_scene_tree(0);
        return false;
    default:
        AIGYM_ERROR(where + ": " + aigym_wait_status_message(status) + " (" + std::strerror(errno) + ")" +
                    (timeout_ns < 0 ? "; quitting" : ""));
        if (timeout_ns < 0) gd::engine::quit_scene_tree(1);  // as for a corrupt one: cannot go on
        return false;
    }
}

}  // namespace aigym
