// cPersistentIntTensor / cPersistentFloatTensor / cPersistentUintTensor: a named 1-D tensor
// in the shared chunk, read and written as the matching Packed*Array (one memcpy each way);
// `write` also takes a plain Array of numbers, checked (tensor_values.h).
#pragma once

#include <cstring>
#include <memory>
#include <string>

#include "binding/class_db.h"
#include "shm/shared_chunk.h"
#include "shm/tensor_values.h"

namespace aigym {

template <class Self, class Packed, uint32_t Dtype>
class PersistentTensor : public gd::ExtensionObject {
  public:
    using value_type = typename Packed::value_type;
    static constexpr const char *kParentName = "RefCounted";

    static void bind(gd::ClassBinder<Self> &b) {
        b.template method<&PersistentTensor::read>("read")
            .template method<&PersistentTensor::write>("write", {"values"})
            .template method<&PersistentTensor::read_into>("read_into", {"target", "offset"})
            .template method<&PersistentTensor::size>("size")
            .template method<&PersistentTensor::get_name>("get_name");
    }

    // Called by cSharedMemory right after instantiation, with the entry's checked copy.
    void attach(std::shared_ptr<shm::SharedChunk> chunk, const aigym_shm_entry &entry) {
        chunk_ = std::move(chunk);
        data_ = static_cast<value_type *>(aigym_shm_entry_data(chunk_->base(), &entry));
        count_ = static_cast<int64_t>(entry.count);
        name_ = entry.name;
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

    // Copies elements [offset, offset + target.size()) into `target`, a Packed*Array of this
    // tensor's type, in place: the caller's own array is filled, nothing is allocated (the step
    // loop reads every command's actions into one array). Taken as a Variant because a Variant
    // shares the caller's array, while a Packed*Array argument would be a copy-on-write copy.
    bool read_into(gd::Variant target, int64_t offset) {
        if (!data_) {
            AIGYM_ERROR(where("read_into") + ": tensor is not attached (get it from cSharedMemory.find*Tensor)");
            return false;
        }
        if (target.type() != Packed::variant_type) {
            AIGYM_ERROR(where("read_into") + ": the target must be a " + packed_name() + ", got " +
                        (target.is_nil() ? std::string("null") : target.stringify().substr(0, 40)));
            return false;
        }
        static const GDExtensionVariantGetInternalPtrFunc internal =
            gd::api.variant_get_ptr_internal_getter(Packed::variant_type);
        // The engine's array inside the Variant (never destroyed here: the Variant owns it).
        auto *array = reinterpret_cast<Packed *>(internal(target.ptr()));
        const int64_t n = array->size();
        if (offset < 0 || offset > count_ || n > count_ - offset) {
            AIGYM_ERROR(where("read_into") + ": " + std::to_string(n) + " elements at offset " + std::to_string(offset) +
                        " do not fit, the tensor holds " + std::to_string(count_) + " elements");
            return false;
        }
        if (n > 0) std::memcpy(array->data(), data_ + offset, static_cast<size_t>(n) * sizeof(value_type));
        return true;
    }

    // Overwrites the tensor with exactly size() values: this tensor's Packed*Array (copied
    // straight from the caller's array) or a plain Array of numbers it can hold (tensor_values.h).
    bool write(gd::Variant values) {
        if (!data_) {
            AIGYM_ERROR(where("write") + ": tensor is not attached (get it from cSharedMemory.find*Tensor)");
            return false;
        }
        shm::TensorValues<Packed> checked;
        std::string error;
        if (!checked.accept(values, error)) {
            AIGYM_ERROR(where("write") + ": " + error);
            return false;
        }
        const int64_t n = checked.size();
        if (n != count_) {
            AIGYM_ERROR(where("write") + ": wrong length " + std::to_string(n) + ", the tensor holds " +
                        std::to_string(count_) + " elements");
            return false;
        }
        checked.copy_to(data_);
        return true;
    }

    int64_t size() const { return count_; }
    std::string get_name() const { return name_; }

    // For cStepChannel, which copies into and out of the tensor itself (the chunk stays mapped
    // while it holds `chunk()`).
    const std::shared_ptr<shm::SharedChunk> &chunk() const { return chunk_; }
    value_type *data() const { return data_; }

  protected:
    static const char *packed_name() {
        if constexpr (Dtype == AIGYM_SHM_DTYPE_INT32) return "PackedInt32Array";
        if constexpr (Dtype == AIGYM_SHM_DTYPE_FLOAT32) return "PackedFloat32Array";
        return "PackedByteArray";
    }
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
// The uint8 tensor also writes a slice: camera frames go straight into their agent's place in a
// batch of images, with the pixel format converted in the same pass (one copy after read-back).
class cPersistentUintTensor : public PersistentTensor<cPersistentUintTensor, gd::PackedByteArray, AIGYM_SHM_DTYPE_UINT8> {
  public:
    static constexpr const char *kClassName = "cPersistentUintTensor";

    static void bind(gd::ClassBinder<cPersistentUintTensor> &b) {
        PersistentTensor::bind(b);
        b.method<&cPersistentUintTensor::write_at>("write_at", {"offset", "values"})
            .method<&cPersistentUintTensor::write_pixels_at>("write_pixels_at",
                                                             {"offset", "pixels", "source_channels", "channels"});
    }

    // Copies `values` into elements [offset, offset + values.size()).
    bool write_at(int64_t offset, gd::PackedByteArray values) {
        const int64_t n = values.size();
        if (!slice_ok("write_at", offset, n)) return false;
        if (n > 0) std::memcpy(data_ + offset, values.view().data(), static_cast<size_t>(n));
        return true;
    }

    // Copies pixels of `source_channels` bytes each, keeping the first `channels` of each pixel
    // (RGBA8 -> RGB8 drops alpha), into elements [offset, offset + pixels * channels).
    bool write_pixels_at(int64_t offset, gd::PackedByteArray pixels, int64_t source_channels, int64_t channels) {
        if (source_channels < 1 || source_channels > 4 || channels < 1 || channels > source_channels) {
            AIGYM_ERROR(where("write_pixels_at") + ": cannot turn pixels of " + std::to_string(source_channels) +
                        " channels into " + std::to_string(channels) + " (source 1..4, channels 1..source)");
            return false;
        }
        const int64_t bytes = pixels.size();
        if (bytes % source_channels != 0) {
            AIGYM_ERROR(where("write_pixels_at") + ": " + std::to_string(bytes) + " bytes are not whole pixels of " +
                        std::to_string(source_channels) + " channels");
            return false;
        }
        const int64_t count = bytes / source_channels;
        if (!slice_ok("write_pixels_at", offset, count * channels)) return false;
        const uint8_t *src = pixels.view().data();
        uint8_t *dst = data_ + offset;
        if (channels == source_channels) {
            if (bytes > 0) std::memcpy(dst, src, static_cast<size_t>(bytes));
        } else if (source_channels == 4 && channels == 3) {  // the renderer's RGBA8 read-back
            for (int64_t i = 0; i < count; ++i, src += 4, dst += 3) {
                dst[0] = src[0];
                dst[1] = src[1];
                dst[2] = src[2];
            }
        } else {
            for (int64_t i = 0; i < count; ++i, src += source_channels, dst += channels)
                std::memcpy(dst, src, static_cast<size_t>(channels));
        }
        return true;
    }

  private:
    // True when `n` elements at `offset` lie inside the tensor; otherwise an error naming both.
    bool slice_ok(const char *method, int64_t offset, int64_t n) const {
        if (!data_) {
            AIGYM_ERROR(where(method) + ": tensor is not attached (get it from cSharedMemory.find*Tensor)");
            return false;
        }
        if (offset < 0 || offset > count_ || n > count_ - offset) {
            AIGYM_ERROR(where(method) + ": " + std::to_string(n) + " elements at offset " + std::to_string(offset) +
                        " do not fit, the tensor holds " + std::to_string(count_) + " elements");
            return false;
        }
        return true;
    }
};

}  // namespace aigym
