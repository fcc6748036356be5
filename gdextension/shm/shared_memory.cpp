#include "shm/shared_memory.h"

#include <atomic>
#include <cstring>

#include "binding/log.h"

namespace aigym {

void cSharedMemory::bind(gd::ClassBinder<cSharedMemory> &b) {
    b.method<&cSharedMemory::init>("init", {"handle"})
        .method<&cSharedMemory::exists>("exists")
        .method<&cSharedMemory::get_handle>("get_handle")
        .method<&cSharedMemory::findIntTensor>("findIntTensor", {"name"})
        .method<&cSharedMemory::findFloatTensor>("findFloatTensor", {"name"})
        .method<&cSharedMemory::findUintTensor>("findUintTensor", {"name"})
        .method<&cSharedMemory::findSemaphore>("findSemaphore", {"name"})
        .method<&cSharedMemory::getFloatArray>("getFloatArray", {"name"})
        .method<&cSharedMemory::getIntArray>("getIntArray", {"name"})
        .method<&cSharedMemory::sendFloatArray>("sendFloatArray", {"name", "values"})
        .method<&cSharedMemory::sendIntArray>("sendIntArray", {"name", "values"})
        .method<&cSharedMemory::host_alive>("host_alive")
        .method<&cSharedMemory::shutdown_requested>("shutdown_requested");
}

// Seed behaviour: attach to the command-line chunk if there is one; stay detached otherwise
// (exists() says so, and lookups report why). A refusal for safety -- another engine holds the
// chunk, or the file is not private to us -- is an error at once; a --handle that names no
// usable chunk is a warning, once per process (a game run without --handle stays silent).
cSharedMemory::cSharedMemory() {
    const std::string handle = shm::command_line_handle();
    aigym_shm_status status = AIGYM_SHM_OK;
    chunk_ = shm::SharedChunk::attach(handle, attach_error_, &status);
    if (status == AIGYM_SHM_ERR_CLAIMED || status == AIGYM_SHM_ERR_NOT_PRIVATE) {
        AIGYM_ERROR("cSharedMemory.new(): " + attach_error_);
    } else if (!chunk_ && !handle.empty()) {
        static std::atomic<bool> warned{false};
        if (!warned.exchange(true))
            AIGYM_WARNING("cSharedMemory.new(): --handle given but not attached: " + attach_error_ +
                          "; the game runs detached");
    }
}

bool cSharedMemory::init(std::string handle) {
    std::string error;
    auto chunk = shm::SharedChunk::attach(handle, error);
    if (!chunk) {
        AIGYM_ERROR("cSharedMemory.init('" + handle + "'): " + error);
        return false;
    }
    chunk_ = std::move(chunk);
    attach_error_.clear();
    return true;
}

// A checked copy of the entry (the live one may change under us: only the copy is used).
bool cSharedMemory::find_entry(const std::string &name, uint32_t kind, uint32_t dtype, const char *method,
                               aigym_shm_entry &entry) {
    const auto where = [&] { return std::string("cSharedMemory.") + method + "('" + name + "')"; };  // errors only
    if (!chunk_) {
        AIGYM_ERROR(where() + ": not attached: " + attach_error_);
        return false;
    }
    std::string error;
    if (chunk_->find(name, kind, dtype, entry, error)) return true;
    AIGYM_ERROR(where() + ": " + error);
    return false;
}

template <class Tensor>
gd::Ref<Tensor> cSharedMemory::find_tensor(const std::string &name, uint32_t dtype, const char *method) {
    aigym_shm_entry entry;
    if (!find_entry(name, AIGYM_SHM_KIND_TENSOR, dtype, method, entry)) return {};
    Tensor *tensor = gd::instantiate<Tensor>();
    tensor->attach(chunk_, entry);
    return {tensor};
}

gd::Ref<cPersistentIntTensor> cSharedMemory::findIntTensor(std::string name) {
    return find_tensor<cPersistentIntTensor>(name, AIGYM_SHM_DTYPE_INT32, "findIntTensor");
}
gd::Ref<cPersistentFloatTensor> cSharedMemory::findFloatTensor(std::string name) {
    return find_tensor<cPersistentFloatTensor>(name, AIGYM_SHM_DTYPE_FLOAT32, "findFloatTensor");
}
gd::Ref<cPersistentUintTensor> cSharedMemory::findUintTensor(std::string name) {
    return find_tensor<cPersistentUintTensor>(name, AIGYM_SHM_DTYPE_UINT8, "findUintTensor");
}

gd::Ref<cSharedMemorySemaphore> cSharedMemory::findSemaphore(std::string name) {
    aigym_shm_entry entry;
    if (!find_entry(name, AIGYM_SHM_KIND_SEMAPHORE, AIGYM_SHM_DTYPE_NONE, "findSemaphore", entry)) return {};
    auto *sem = gd::instantiate<cSharedMemorySemaphore>();
    sem->attach(chunk_, entry);
    return {sem};
}

// The original's array calls. Its first module consumed the host's array (find, copy, destroy)
// and created the game's arrays by name; here every array is a tensor the host created before
// the game started, so get copies it out and send overwrites it (exactly its length). A missing
// or mis-typed name is an error naming the call (get: an empty array, send: false).
template <class Packed>
Packed cSharedMemory::get_array(const std::string &name, uint32_t dtype, const char *method) {
    Packed out;
    aigym_shm_entry entry;
    if (!find_entry(name, AIGYM_SHM_KIND_TENSOR, dtype, method, entry)) return out;
    out.resize(static_cast<int64_t>(entry.count));
    std::memcpy(out.data(), aigym_shm_entry_data(chunk_->base(), &entry), entry.nbytes);
    return out;
}

template <class Packed>
bool cSharedMemory::send_array(const std::string &name, uint32_t dtype, const char *method, const gd::Variant &values) {
    // built only on an error path: this is the seed API's per-step call
    const auto where = [&] { return std::string("cSharedMemory.") + method + "('" + name + "')"; };
    shm::TensorValues<Packed> checked;
    std::string error;
    if (!checked.accept(values, error)) {
        AIGYM_ERROR(where() + ": " + error);
        return false;
    }
    aigym_shm_entry entry;
    if (!find_entry(name, AIGYM_SHM_KIND_TENSOR, dtype, method, entry)) return false;
    const int64_t n = checked.size();
    if (n != static_cast<int64_t>(entry.count)) {
        AIGYM_ERROR(where() + ": wrong length " + std::to_string(n) + ", the tensor holds " + std::to_string(entry.count) +
                    " elements");
        return false;
    }
    checked.copy_to(static_cast<typename Packed::value_type *>(aigym_shm_entry_data(chunk_->base(), &entry)));
    return true;
}

gd::PackedFloat32Array cSharedMemory::getFloatArray(std::string name) {
    return get_array<gd::PackedFloat32Array>(name, AIGYM_SHM_DTYPE_FLOAT32, "getFloatArray");
}
gd::PackedInt32Array cSharedMemory::getIntArray(std::string name) {
    return get_array<gd::PackedInt32Array>(name, AIGYM_SHM_DTYPE_INT32, "getIntArray");
}
bool cSharedMemory::sendFloatArray(std::string name, gd::Variant values) {
    return send_array<gd::PackedFloat32Array>(name, AIGYM_SHM_DTYPE_FLOAT32, "sendFloatArray", values);
}
bool cSharedMemory::sendIntArray(std::string name, gd::Variant values) {
    return send_array<gd::PackedInt32Array>(name, AIGYM_SHM_DTYPE_INT32, "sendIntArray", values);
}

}  // namespace aigym
