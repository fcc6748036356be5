// cStepChannel: the engine's half of one environment step in two native calls. GymTransport
// makes one once the step tensors exist; GymEnv's lean path then waits for a STEP and reads its
// actions with wait_step(), and publishes the answer with answer(), instead of a GDScript
// function and three native calls each way (the step protocol: docs/STEP_PROTOCOL.md).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "binding/class_db.h"
#include "shm/persistent_tensor.h"
#include "shm/shared_chunk.h"
#include "shm/shared_memory_semaphore.h"

namespace aigym {

class cStepChannel : public gd::ExtensionObject {
  public:
    static constexpr const char *kClassName = "cStepChannel";
    static constexpr const char *kParentName = "RefCounted";
    static void bind(gd::ClassBinder<cStepChannel> &b);

    // wait_step's answers besides a STEP (command + 256 * flags)
    static constexpr int64_t kWaitFailed = -1;   // the host died or asked to quit, or the wait failed
    static constexpr int64_t kNotAStep = -2;     // a command was taken: the caller reads its header

    bool setup(cSharedMemorySemaphore *command, cSharedMemorySemaphore *answer, cPersistentFloatTensor *in,
               cPersistentFloatTensor *out, int64_t actions_at, int64_t step_command);
    int64_t wait_step(gd::Variant actions);
    bool answer(gd::PackedFloat32Array values);

  private:
    std::string where(const char *method) const { return std::string(kClassName) + "." + method; }

    std::shared_ptr<shm::SharedChunk> chunk_;  // keeps the mapping alive while we point into it
    aigym_sem *command_ = nullptr;
    aigym_sem *answer_ = nullptr;
    int64_t spin_us_ = 0;
    std::string command_where_;  // the command semaphore's wait, for errors
    const float *in_ = nullptr;
    int64_t in_count_ = 0;
    float *out_ = nullptr;
    int64_t out_count_ = 0;
    int64_t actions_at_ = 0;
    float step_command_ = 0.0f;
};

}  // namespace aigym
