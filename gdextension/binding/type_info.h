// How each C++ type crosses the engine boundary, in both calling conventions.
//
// `call` (varcall) passes Variants; `ptrcall` passes pointers to the engine's native
// encoding (int64_t for every integer, double for every float, a 1-byte bool, the opaque
// built-in value, or an Object* slot for objects). One TypeInfo per type keeps the two paths
// from disagreeing.
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>

#include "api.h"
#include "builtins.h"
#include "object.h"

namespace aigym::gd {

template <class T, class Enable = void>
struct TypeInfo {
    static_assert(sizeof(T) == 0,
                  "this type cannot cross the engine boundary: use bool, int32_t/int64_t, float/double, "
                  "String/std::string, StringName, Variant, Array, a Packed*Array, T* (argument) or Ref<T> (return) "
                  "for one of our classes");
};

// Builtins shared by both conventions: argument = copy of the engine value.
template <class B>
struct BuiltinTypeInfo {
    static constexpr GDExtensionVariantType variant_type = B::variant_type;
    static constexpr GDExtensionClassMethodArgumentMetadata metadata = GDEXTENSION_METHOD_ARGUMENT_METADATA_NONE;
    static const char *class_name() { return ""; }
    static B from_variant(const Variant &v) { return v.as<B>(); }
    static B from_ptr(const void *p) { return B::copy_of(p); }
    static void to_variant_slot(B &&value, void *slot) { Variant(value).move_into(slot); }
    static void to_ptr_slot(B &&value, void *slot) { value.move_into(slot); }
};

template <> struct TypeInfo<String> : BuiltinTypeInfo<String> {};
template <> struct TypeInfo<StringName> : BuiltinTypeInfo<StringName> {};
template <> struct TypeInfo<PackedByteArray> : BuiltinTypeInfo<PackedByteArray> {};
template <> struct TypeInfo<PackedInt32Array> : BuiltinTypeInfo<PackedInt32Array> {};
template <> struct TypeInfo<PackedFloat32Array> : BuiltinTypeInfo<PackedFloat32Array> {};
template <> struct TypeInfo<PackedStringArray> : BuiltinTypeInfo<PackedStringArray> {};
template <> struct TypeInfo<Array> : BuiltinTypeInfo<Array> {};

// std::string travels as a Godot String (UTF-8 conversion at the boundary).
template <>
struct TypeInfo<std::string> {
    static constexpr GDExtensionVariantType variant_type = GDEXTENSION_VARIANT_TYPE_STRING;
    static constexpr GDExtensionClassMethodArgumentMetadata metadata = GDEXTENSION_METHOD_ARGUMENT_METADATA_NONE;
    static const char *class_name() { return ""; }
    static std::string from_variant(const Variant &v) { return v.as<String>().utf8(); }
    static std::string from_ptr(const void *p) { return String::copy_of(p).utf8(); }
    static void to_variant_slot(std::string &&value, void *slot) { Variant(String(value)).move_into(slot); }
    static void to_ptr_slot(std::string &&value, void *slot) { String(value).move_into(slot); }
};

template <>
struct TypeInfo<Variant> {
    static constexpr GDExtensionVariantType variant_type = GDEXTENSION_VARIANT_TYPE_NIL;  // "any"
    static constexpr GDExtensionClassMethodArgumentMetadata metadata = GDEXTENSION_METHOD_ARGUMENT_METADATA_NONE;
    static const char *class_name() { return ""; }
    static Variant from_variant(const Variant &v) { return v; }
    static Variant from_ptr(const void *p) { return Variant::copy_of(p); }
    static void to_variant_slot(Variant &&value, void *slot) { value.move_into(slot); }
    static void to_ptr_slot(Variant &&value, void *slot) { value.move_into(slot); }
};

template <>
struct TypeInfo<bool> {
    static constexpr GDExtensionVariantType variant_type = GDEXTENSION_VARIANT_TYPE_BOOL;
    static constexpr GDExtensionClassMethodArgumentMetadata metadata = GDEXTENSION_METHOD_ARGUMENT_METADATA_NONE;
    static const char *class_name() { return ""; }
    static bool from_variant(const Variant &v) { return v.as<bool>(); }
    static bool from_ptr(const void *p) { return *static_cast<const uint8_t *>(p) != 0; }
    static void to_variant_slot(bool value, void *slot) { Variant(value).move_into(slot); }
    static void to_ptr_slot(bool value, void *slot) { *static_cast<uint8_t *>(slot) = value ? 1 : 0; }
};

template <class I>
struct TypeInfo<I, std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>>> {
    static constexpr GDExtensionVariantType variant_type = GDEXTENSION_VARIANT_TYPE_INT;
    static constexpr GDExtensionClassMethodArgumentMetadata metadata =
        sizeof(I) == 4 ? (std::is_signed_v<I> ? GDEXTENSION_METHOD_ARGUMENT_METADATA_INT_IS_INT32
                                              : GDEXTENSION_METHOD_ARGUMENT_METADATA_INT_IS_UINT32)
                       : (std::is_signed_v<I> ? GDEXTENSION_METHOD_ARGUMENT_METADATA_INT_IS_INT64
                                              : GDEXTENSION_METHOD_ARGUMENT_METADATA_INT_IS_UINT64);
    static const char *class_name() { return ""; }
    static I from_variant(const Variant &v) { return static_cast<I>(v.as<int64_t>()); }
    static I from_ptr(const void *p) { return static_cast<I>(*static_cast<const int64_t *>(p)); }
    static void to_variant_slot(I value, void *slot) { Variant(static_cast<int64_t>(value)).move_into(slot); }
    static void to_ptr_slot(I value, void *slot) { *static_cast<int64_t *>(slot) = static_cast<int64_t>(value); }
};

template <class F>
struct TypeInfo<F, std::enable_if_t<std::is_floating_point_v<F>>> {
    static constexpr GDExtensionVariantType variant_type = GDEXTENSION_VARIANT_TYPE_FLOAT;
    static constexpr GDExtensionClassMethodArgumentMetadata metadata =
        sizeof(F) == 4 ? GDEXTENSION_METHOD_ARGUMENT_METADATA_REAL_IS_FLOAT : GDEXTENSION_METHOD_ARGUMENT_METADATA_REAL_IS_DOUBLE;
    static const char *class_name() { return ""; }
    static F from_variant(const Variant &v) { return static_cast<F>(v.as<double>()); }
    static F from_ptr(const void *p) { return static_cast<F>(*static_cast<const double *>(p)); }
    static void to_variant_slot(F value, void *slot) { Variant(static_cast<double>(value)).move_into(slot); }
    static void to_ptr_slot(F value, void *slot) { *static_cast<double *>(slot) = static_cast<double>(value); }
};

// An object of one of our classes as an argument. Null, or an object of another class,
// arrives as nullptr in ptrcall; the varcall path rejects the wrong class with a call error.
template <class T>
struct TypeInfo<T *, std::enable_if_t<std::is_base_of_v<ExtensionObject, T>>> {
    static constexpr GDExtensionVariantType variant_type = GDEXTENSION_VARIANT_TYPE_OBJECT;
    static constexpr GDExtensionClassMethodArgumentMetadata metadata = GDEXTENSION_METHOD_ARGUMENT_METADATA_NONE;
    static const char *class_name() { return T::kClassName; }
    static T *from_variant(const Variant &v) { return object_cast<T>(v.as_object()); }
    // Engine encoding of an object argument: a slot holding the Object* (Ref<T> has the same layout).
    static T *from_ptr(const void *p) { return object_cast<T>(*static_cast<const GDExtensionObjectPtr *>(p)); }
    // Whether a Variant argument is acceptable (null or an instance of T).
    static bool accepts(const Variant &v) { return v.as_object() == nullptr || from_variant(v) != nullptr; }
};

// A counted reference to one of our objects as a return value.
template <class T>
struct TypeInfo<Ref<T>> {
    static constexpr GDExtensionVariantType variant_type = GDEXTENSION_VARIANT_TYPE_OBJECT;
    static constexpr GDExtensionClassMethodArgumentMetadata metadata = GDEXTENSION_METHOD_ARGUMENT_METADATA_NONE;
    static const char *class_name() { return T::kClassName; }
    static void to_variant_slot(Ref<T> value, void *slot) {
        Variant::from_object(value.object ? value.object->owner() : nullptr).move_into(slot);
    }
    // ref_set_object takes the reference the engine's Ref<> slot expects (RefCounted classes).
    static void to_ptr_slot(Ref<T> value, void *slot) { api.ref_set_object(slot, value.object ? value.object->owner() : nullptr); }
};

}  // namespace aigym::gd
