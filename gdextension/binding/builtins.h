// RAII wrappers for the Godot built-in types the extension exchanges with the engine.
//
// Each wrapper is the engine's own value (opaque bytes of the engine-reported size) so a
// pointer to it can be handed to ptrcalls directly. Construction, copy and destruction go
// through the engine's constructor/destructor function pointers; a move relocates the bytes
// (Godot's built-ins are trivially relocatable: a pointer to shared, ref-counted storage).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include <gdextension_interface.h>

#include "engine_api_facts.h"  // generated from extension_api.json: sizes and method hashes

namespace aigym::gd {

// Loads the constructor/destructor tables; call once after load_interface().
void load_builtins();

namespace detail {
void construct_default(GDExtensionVariantType type, void *storage);
void construct_copy(GDExtensionVariantType type, void *storage, const void *from);
void destroy(GDExtensionVariantType type, void *storage);
}  // namespace detail

// Common storage and value semantics for an engine built-in of variant type `Type` (CRTP).
template <class Self, GDExtensionVariantType Type, size_t Size>
class Builtin {
  public:
    static constexpr GDExtensionVariantType variant_type = Type;

    Builtin() { detail::construct_default(Type, opaque_); }
    Builtin(const Builtin &other) { detail::construct_copy(Type, opaque_, other.opaque_); }
    Builtin(Builtin &&other) noexcept {
        std::memcpy(opaque_, other.opaque_, Size);
        detail::construct_default(Type, other.opaque_);
    }
    Builtin &operator=(const Builtin &other) {
        if (this != &other) {
            detail::destroy(Type, opaque_);
            detail::construct_copy(Type, opaque_, other.opaque_);
        }
        return *this;
    }
    Builtin &operator=(Builtin &&other) noexcept {
        if (this != &other) {
            detail::destroy(Type, opaque_);
            std::memcpy(opaque_, other.opaque_, Size);
            detail::construct_default(Type, other.opaque_);
        }
        return *this;
    }
    ~Builtin() { detail::destroy(Type, opaque_); }

    void *ptr() { return opaque_; }
    const void *ptr() const { return opaque_; }

    // Moves this value into engine-owned, already-initialised storage (a ptrcall return slot).
    void move_into(void *initialised_slot) {
        detail::destroy(Type, initialised_slot);
        std::memcpy(initialised_slot, opaque_, Size);
        detail::construct_default(Type, opaque_);
    }
    // Takes a copy of an engine value given by pointer (a ptrcall argument).
    static Self copy_of(const void *engine_value) {
        Self out;
        detail::destroy(Type, out.ptr());
        detail::construct_copy(Type, out.ptr(), engine_value);
        return out;
    }

  protected:
    alignas(8) uint8_t opaque_[Size];
};

class String : public Builtin<String, GDEXTENSION_VARIANT_TYPE_STRING, AIGYM_SIZE_String> {
  public:
    String() = default;
    String(std::string_view utf8);
    String(const char *utf8) : String(std::string_view(utf8)) {}
    std::string utf8() const;
};

class StringName : public Builtin<StringName, GDEXTENSION_VARIANT_TYPE_STRING_NAME, AIGYM_SIZE_StringName> {
  public:
    StringName() = default;
    StringName(std::string_view utf8);
    StringName(const char *utf8) : StringName(std::string_view(utf8)) {}
    std::string utf8() const;  // via String conversion
};

// Packed arrays: contiguous engine storage with copy-on-write sharing.
template <GDExtensionVariantType Type, typename T>
class PackedArray : public Builtin<PackedArray<Type, T>, Type, AIGYM_SIZE_PackedArray> {
  public:
    using value_type = T;
    PackedArray() = default;
    explicit PackedArray(std::span<const T> values) {
        resize(static_cast<int64_t>(values.size()));
        if (values.empty()) return;
        if constexpr (std::is_trivially_copyable_v<T>) {
            std::memcpy(data(), values.data(), values.size() * sizeof(T));
        } else {
            T *out = data();
            for (size_t i = 0; i < values.size(); ++i) out[i] = values[i];
        }
    }
    int64_t size() const;
    bool empty() const { return size() == 0; }
    void resize(int64_t n);
    // Writable pointer (makes the storage unique first); null when empty.
    T *data();
    // Read-only pointer; null when empty.
    const T *data() const;
    std::span<const T> view() const { return {data(), static_cast<size_t>(size())}; }
    std::span<T> view_mut() { return {data(), static_cast<size_t>(size())}; }
};

using PackedByteArray = PackedArray<GDEXTENSION_VARIANT_TYPE_PACKED_BYTE_ARRAY, uint8_t>;
using PackedInt32Array = PackedArray<GDEXTENSION_VARIANT_TYPE_PACKED_INT32_ARRAY, int32_t>;
using PackedFloat32Array = PackedArray<GDEXTENSION_VARIANT_TYPE_PACKED_FLOAT32_ARRAY, float>;
using PackedStringArray = PackedArray<GDEXTENSION_VARIANT_TYPE_PACKED_STRING_ARRAY, String>;

class Array;

// A Variant: any engine value. Holding one that wraps a RefCounted keeps that object alive.
class Variant {
  public:
    Variant();
    Variant(const Variant &other);
    Variant(Variant &&other) noexcept;
    Variant &operator=(const Variant &other);
    Variant &operator=(Variant &&other) noexcept;
    ~Variant();

    Variant(bool v);
    Variant(int64_t v);
    Variant(int v) : Variant(static_cast<int64_t>(v)) {}
    Variant(double v);
    Variant(const String &v);
    Variant(const StringName &v);
    Variant(const PackedByteArray &v);
    Variant(const PackedInt32Array &v);
    Variant(const PackedFloat32Array &v);
    Variant(const PackedStringArray &v);
    Variant(const Array &v);
    // Wraps an object (null gives a null object Variant). RefCounted objects gain a reference.
    static Variant from_object(GDExtensionObjectPtr object);
    // Copies an engine Variant given by pointer.
    static Variant copy_of(const void *engine_variant);

    GDExtensionVariantType type() const;
    bool is_nil() const { return type() == GDEXTENSION_VARIANT_TYPE_NIL; }
    // Extracts a value of the Variant's own type (caller checks type() first).
    template <typename T> T as() const;
    GDExtensionObjectPtr as_object() const;
    std::string stringify() const;

    void *ptr() { return opaque_; }
    const void *ptr() const { return opaque_; }
    // Moves this value into an engine-owned, initialised Variant slot.
    void move_into(void *initialised_slot);

  private:
    alignas(8) uint8_t opaque_[AIGYM_SIZE_Variant];
};

// An untyped engine Array of Variants (shared, reference-counted storage: a copy is the same array).
class Array : public Builtin<Array, GDEXTENSION_VARIANT_TYPE_ARRAY, AIGYM_SIZE_Array> {
  public:
    Array() = default;
    int64_t size() const;
    bool empty() const { return size() == 0; }
    void resize(int64_t n);  // new elements are null
    Variant get(int64_t i) const;
    void set(int64_t i, const Variant &value);
    void append(const Variant &value);
};

// Name of a variant type, for error messages ("PackedFloat32Array").
const char *variant_type_name(GDExtensionVariantType type);

}  // namespace aigym::gd
