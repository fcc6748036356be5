// cPersistentIntTensor / cPersistentFloatTensor / cPersistentUintTensor: a named 1-D tensor
// in the shared chunk, read and written as the matching Packed*Array (one memcpy each way).
#pragma once

#include <cstring>
#include <memory>
#include <string>

#include "binding/class_db.h"
#include "shm/shared_chunk.h"

namespace aigym {

template <class Self, class Packed, uint32_t Dtype>
class PersistentTensor : public gd::ExtensionObject {
  public:
    using value_type = typename Packed::value_type;
    static constexpr const char *kParentName = "RefCounted";

    static void bind(gd::ClassBinder<Self> &b) {
        b.template method<&PersistentTensor::read>("read")
            .template method<&PersistentTensor::write>("write", {"values"})
            .template method<&PersistentTensor::size>("size")
            .template method<&PersistentTensor::get_name>("get_name");
    }

    // Called by cSharedMemory right after instantiation.
    void attach(std::shared_ptr<shm::SharedChunk> chunk, const aigym_shm_entry *entry) {
        chunk_ = std::move(chunk);
        data_ = static_cast<value_type *>(aigym_shm_entry_data(chunk_->base(), entry));
        count_ = static_cast<int64_t>(entry->count);
        name_ = entry->name;
    }

    // A copy of the tensor's current contents.
    Packed read() const {
        Packed out;
        if (!data_) {
            AIGYM_ERROR(where("read") + ": tensor is not attached (get it from cSharedMemory.find*Tensor)");
            return out;
        }
        out.resize(count_);
        if (count_ > 0) std::memcpy(out.data(), data_, static_cast<size_t>(count_) * sizeof(value_type));
        return out;
    }

    // Overwrites the tensor; the array must have exactly size() elements.
    bool write(Packed values) {
        if (!data_) {
            AIGYM_ERROR(where("write") + ": tensor is not attached (get it from cSharedMemory.find*Tensor)");
            return false;
        }
        const int64_t n = values.size();
        if (n != count_) {
            AIGYM_ERROR(where("write") + ": wrong length " + std::to_string(n) + ", the tensor holds " +
                        std::to_string(count_) + " elements");
            return false;
        }
        if (n > 0) std::memcpy(data_, values.view().data(), static_cast<size_t>(n) * sizeof(value_type));
        return true;
    }

    int64_t size() const { return count_; }
    std::string get_name() const { return name_; }

  private:
    std::string where(const char *method) const {
        return std::string(Self::kClassName) + "." + method + "('" + name_ + "')";
    }
    std::shared_ptr<shm::SharedChunk> chunk_;  // keeps the mapping alive while we point into it
    value_type *data_ = nullptr;
    int64_t count_ = 0;
    std::string name_;
};

class cPersistentIntTensor : public PersistentTensor<cPersistentIntTensor, gd::PackedInt32Array, AIGYM_SHM_DTYPE_INT32> {
  public:
    static constexpr const char *kClassName = "cPersistentIntTensor";
};
class cPersistentFloatTensor : public PersistentTensor<cPersistentFloatTensor, gd::PackedFloat32Array, AIGYM_SHM_DTYPE_FLOAT32> {
  public:
    static constexpr const char *kClassName = "cPersistentFloatTensor";
};
class cPersistentUintTensor : public PersistentTensor<cPersistentUintTensor, gd::PackedByteArray, AIGYM_SHM_DTYPE_UINT8> {
  public:
    static constexpr const char *kClassName = "cPersistentUintTensor";
};

}  // namespace aigym
