// cSharedMemorySemaphore: a process-shared semaphore living in the host's chunk.
// wait() spins for a bounded time (spin_us, 0 disables) before blocking, and gives up when
// the host dies (then the SceneTree quits: no orphaned engines) or asks for shutdown.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "binding/class_db.h"
#include "shm/shared_chunk.h"

namespace aigym {

class cSharedMemorySemaphore : public gd::ExtensionObject {
  public:
    static constexpr const char *kClassName = "cSharedMemorySemaphore";
    static constexpr const char *kParentName = "RefCounted";
    static void bind(gd::ClassBinder<cSharedMemorySemaphore> &b);

    // Seed API: finds semaphore `name` in the chunk named by --handle.
    bool init(std::string name);
    // Called by cSharedMemory.findSemaphore.
    void attach(std::shared_ptr<shm::SharedChunk> chunk, const aigym_shm_entry &entry);

    bool post();
    bool wait();                      // blocks until posted; false when the game must end (the host died
                                      // or asked to quit, or the semaphore is garbage): the tree quits
    bool timed_wait(int64_t msec);    // false on timeout (no error) or when the host is gone
    bool try_wait();
    void set_spin_us(int64_t us);
    int64_t get_spin_us() const { return spin_us_; }
    std::string get_name() const { return name_; }

    // For cStepChannel, which waits and posts on these words itself (the chunk stays mapped
    // while it holds `chunk()`).
    const std::shared_ptr<shm::SharedChunk> &chunk() const { return chunk_; }
    aigym_sem *sem() const { return sem_; }
    std::string where(const char *method) const { return std::string(kClassName) + "." + method + "('" + name_ + "')"; }
    // Waits on `sem` of `chunk` as wait() does: true when taken; false on timeout, or with the
    // error logged (and the SceneTree quitting when the host died or asked for shutdown).
    static bool wait_on(const shm::SharedChunk &chunk, aigym_sem *sem, int64_t timeout_ns, int64_t spin_us,
                        const std::string &where);

  private:
    bool wait_for(int64_t timeout_ns, const char *method);

    std::shared_ptr<shm::SharedChunk> chunk_;
    aigym_sem *sem_ = nullptr;
    std::string name_;
    int64_t spin_us_ = AIGYM_WAIT_DEFAULT_SPIN_US;
};

}  // namespace aigym
