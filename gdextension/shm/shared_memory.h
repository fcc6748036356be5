// cSharedMemory: the engine's view of the host's chunk. `cSharedMemory.new()` attaches to the
// chunk named by --handle on the command line (seed behaviour); `init(handle)` attaches
// explicitly. Lookups return typed tensor and semaphore objects, or null with an error.
// get/send*Array are the original GodotAIGym's first engine calls, moving a whole named array
// per call: here they copy out of / into the tensor of that name the host created.
#pragma once

#include <memory>
#include <string>

#include "binding/class_db.h"
#include "shm/persistent_tensor.h"
#include "shm/shared_chunk.h"
#include "shm/shared_memory_semaphore.h"

namespace aigym {

class cSharedMemory : public gd::ExtensionObject {
  public:
    static constexpr const char *kClassName = "cSharedMemory";
    static constexpr const char *kParentName = "RefCounted";
    static void bind(gd::ClassBinder<cSharedMemory> &b);

    cSharedMemory();

    bool init(std::string handle);
    bool exists() const { return chunk_ != nullptr; }
    std::string get_handle() const { return chunk_ ? chunk_->handle() : std::string(); }
    gd::Ref<cPersistentIntTensor> findIntTensor(std::string name);
    gd::Ref<cPersistentFloatTensor> findFloatTensor(std::string name);
    gd::Ref<cPersistentUintTensor> findUintTensor(std::string name);
    gd::Ref<cSharedMemorySemaphore> findSemaphore(std::string name);
    gd::PackedFloat32Array getFloatArray(std::string name);
    gd::PackedInt32Array getIntArray(std::string name);
    bool sendFloatArray(std::string name, gd::Variant values);
    bool sendIntArray(std::string name, gd::Variant values);
    bool host_alive() const { return chunk_ && chunk_->host_alive(); }
    bool shutdown_requested() const { return chunk_ && chunk_->shutdown_requested(); }

  private:
    template <class Tensor>
    gd::Ref<Tensor> find_tensor(const std::string &name, uint32_t dtype, const char *method);
    template <class Packed>
    Packed get_array(const std::string &name, uint32_t dtype, const char *method);
    template <class Packed>
    bool send_array(const std::string &name, uint32_t dtype, const char *method, const gd::Variant &values);
    bool find_entry(const std::string &name, uint32_t kind, uint32_t dtype, const char *method, aigym_shm_entry &entry);

    std::shared_ptr<shm::SharedChunk> chunk_;
    std::string attach_error_;
};

}  // namespace aigym
