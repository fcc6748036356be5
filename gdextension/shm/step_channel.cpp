#include "shm/step_channel.h"

#include <cmath>
#include <cstring>

#include "binding/log.h"
#include "shm/engine_errors.h"

namespace aigym {

void cStepChannel::bind(gd::ClassBinder<cStepChannel> &b) {
    b.method<&cStepChannel::setup>("setup", {"command", "answer", "in_tensor", "out_tensor", "actions_at", "step_command"})
        .method<&cStepChannel::wait_step>("wait_step", {"actions"})
        .method<&cStepChannel::answer>("answer", {"values"});
}

bool cStepChannel::setup(cSharedMemorySemaphore *command, cSharedMemorySemaphore *answer, cPersistentFloatTensor *in,
                         cPersistentFloatTensor *out, int64_t actions_at, int64_t step_command) {
    if (!command || !answer || !in || !out || !command->sem() || !answer->sem() || !in->data() || !out->data()) {
        AIGYM_ERROR(where("setup") + ": needs two attached semaphores and two attached float tensors");
        return false;
    }
    if (command->chunk() != answer->chunk() || command->chunk() != in->chunk() || command->chunk() != out->chunk()) {
        AIGYM_ERROR(where("setup") + ": the semaphores and tensors must be of one chunk");
        return false;
    }
    if (actions_at < 2 || actions_at > in->size()) {
        AIGYM_ERROR(where("setup") + ": actions_at " + std::to_string(actions_at) + " is outside the in tensor (" +
                    std::to_string(in->size()) + " elements, the header first)");
        return false;
    }
    if (step_command < 1 || step_command > 255) {
        AIGYM_ERROR(where("setup") + ": step_command must be 1..255, got " + std::to_string(step_command));
        return false;
    }
    chunk_ = command->chunk();
    command_ = command->sem();
    answer_ = answer->sem();
    spin_us_ = command->get_spin_us();
    command_where_ = command->where("wait");
    in_ = in->data();
    in_count_ = in->size();
    out_ = out->data();
    out_count_ = out->size();
    actions_at_ = actions_at;
    step_command_ = static_cast<float>(step_command);
    return true;
}

// Waits for the next command. A STEP whose flags are a small whole number has its actions read
// into `actions` (the caller's PackedFloat32Array, in place) and returns command + 256 * flags;
// any other command returns kNotAStep with nothing read (the caller parses the header, so every
// error is reported where it always was); a failed wait returns kWaitFailed.
int64_t cStepChannel::wait_step(gd::Variant actions) {
    if (!chunk_) {
        AIGYM_ERROR(where("wait_step") + ": call setup() first");
        return kWaitFailed;
    }
    if (!cSharedMemorySemaphore::wait_on(*chunk_, command_, AIGYM_WAIT_FOREVER, spin_us_, command_where_))
        return kWaitFailed;
    const float command = in_[0], flags = in_[1];
    if (command != step_command_ || !(flags >= 0.0f && flags < 65536.0f) || flags != std::floor(flags) ||
        actions.type() != GDEXTENSION_VARIANT_TYPE_PACKED_FLOAT32_ARRAY)
        return kNotAStep;
    static const GDExtensionVariantGetInternalPtrFunc internal =
        gd::api.variant_get_ptr_internal_getter(GDEXTENSION_VARIANT_TYPE_PACKED_FLOAT32_ARRAY);
    // the engine's array inside the Variant (shared with the caller's; the Variant owns it)
    auto *array = reinterpret_cast<gd::PackedFloat32Array *>(internal(actions.ptr()));
    const int64_t n = array->size();
    if (n > in_count_ - actions_at_) return kNotAStep;  // the caller's read reports it
    if (n > 0) std::memcpy(array->data(), in_ + actions_at_, static_cast<size_t>(n) * sizeof(float));
    return static_cast<int64_t>(command) + 256 * static_cast<int64_t>(flags);
}

// Writes `values` (exactly the out tensor's size) into the out tensor and posts the answer.
bool cStepChannel::answer(gd::PackedFloat32Array values) {
    if (!chunk_) {
        AIGYM_ERROR(where("answer") + ": call setup() first");
        return false;
    }
    const int64_t n = values.size();
    if (n != out_count_) {
        AIGYM_ERROR(where("answer") + ": wrong length " + std::to_string(n) + ", the out tensor holds " +
                    std::to_string(out_count_) + " elements");
        return false;
    }
    if (n > 0) std::memcpy(out_, values.view().data(), static_cast<size_t>(n) * sizeof(float));
    shm::engine_errors::note_post();  // the host has its answer (engine_errors.h)
    const aigym_sem_status status = aigym_sem_post(answer_);
    if (status != AIGYM_SEM_OK) {
        AIGYM_ERROR(where("answer") + " in chunk '" + chunk_->handle() + "': " + aigym_sem_status_message(status));
        return false;
    }
    return true;
}

}  // namespace aigym
