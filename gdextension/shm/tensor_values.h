// The values a GDScript caller hands to a tensor write (`write`, `send*Array`), taken as a
// Variant: with a Packed*Array parameter Godot would convert a plain Array before our code runs,
// silently (strings become 0, floats are truncated, out-of-range ints wrap). The tensor's own
// Packed*Array is read in place (no copy); a plain Array is checked element by element with the
// Python side's rules (bools and ints; floats only into a float tensor; ints within the dtype's
// range); anything else is refused with a message naming the offending element.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "binding/api.h"
#include "binding/builtins.h"

namespace aigym::shm {

template <class Packed>
class TensorValues {
  public:
    using T = typename Packed::value_type;

    // False with `error` set when `values` cannot be written to a tensor of T.
    bool accept(const gd::Variant &values, std::string &error) {
        const GDExtensionVariantType type = values.type();
        if (type == Packed::variant_type) {
            static const GDExtensionVariantGetInternalPtrFunc internal =
                gd::api.variant_get_ptr_internal_getter(Packed::variant_type);
            // The engine's array inside the Variant, which the caller keeps alive.
            packed_ = reinterpret_cast<const Packed *>(internal(const_cast<void *>(values.ptr())));
            size_ = packed_->size();
            return true;
        }
        if (type != GDEXTENSION_VARIANT_TYPE_ARRAY) {
            error = std::string("expected a ") + gd::variant_type_name(Packed::variant_type) + " or an Array of numbers, got " +
                    describe(values);
            return false;
        }
        const gd::Array array = values.as<gd::Array>();
        size_ = array.size();
        checked_.resize(static_cast<size_t>(size_));
        for (int64_t i = 0; i < size_; ++i) {
            if (!element(array.get(i), checked_[static_cast<size_t>(i)], error)) {
                error = "element " + std::to_string(i) + " " + error;
                return false;
            }
        }
        return true;
    }

    int64_t size() const { return size_; }
    // Copies the accepted values (size() of them) to `out`.
    void copy_to(T *out) const {
        if (size_ == 0) return;
        const T *from = packed_ ? packed_->view().data() : checked_.data();
        std::memcpy(out, from, static_cast<size_t>(size_) * sizeof(T));
    }

  private:
    static std::string describe(const gd::Variant &v) {
        std::string text = v.stringify();
        if (text.size() > 40) text = text.substr(0, 40) + "...";
        return std::string(gd::variant_type_name(v.type())) + " (" + text + ")";
    }

    static bool element(const gd::Variant &v, T &out, std::string &error) {
        const GDExtensionVariantType type = v.type();
        if (type == GDEXTENSION_VARIANT_TYPE_BOOL) {
            out = static_cast<T>(v.as<bool>() ? 1 : 0);
            return true;
        }
        if (type == GDEXTENSION_VARIANT_TYPE_FLOAT && std::is_floating_point_v<T>) {
            out = static_cast<T>(v.as<double>());
            return true;
        }
        if (type == GDEXTENSION_VARIANT_TYPE_FLOAT) {
            error = "is " + describe(v) + ": an integer tensor takes ints or bools (round and convert first)";
            return false;
        }
        if (type != GDEXTENSION_VARIANT_TYPE_INT) {
            error = "is not a number: " + describe(v);
            return false;
        }
        const int64_t x = v.as<int64_t>();
        if constexpr (std::is_integral_v<T>) {
            constexpr int64_t lo = std::numeric_limits<T>::min(), hi = std::numeric_limits<T>::max();
            if (x < lo || x > hi) {
                error = "is " + std::to_string(x) + ", outside the tensor's range " + std::to_string(lo) + ".." +
                        std::to_string(hi);
                return false;
            }
        }
        out = static_cast<T>(x);
        return true;
    }

    const Packed *packed_ = nullptr;
    std::vector<T> checked_;
    int64_t size_ = 0;
};

}  // namespace aigym::shm
