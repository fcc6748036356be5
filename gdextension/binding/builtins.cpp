#include "builtins.h"

#include <stdexcept>

#include "api.h"

namespace aigym::gd {

namespace {
constexpr int kTypes = GDEXTENSION_VARIANT_TYPE_VARIANT_MAX;

struct Tables {
    GDExtensionPtrConstructor ctor_default[kTypes]{};
    GDExtensionPtrConstructor ctor_copy[kTypes]{};
    GDExtensionPtrDestructor dtor[kTypes]{};
    GDExtensionVariantFromTypeConstructorFunc to_variant[kTypes]{};
    GDExtensionTypeFromVariantConstructorFunc from_variant[kTypes]{};
    GDExtensionPtrBuiltInMethod packed_size[kTypes]{};
    GDExtensionPtrBuiltInMethod packed_resize[kTypes]{};
    GDExtensionPtrConstructor string_from_string_name = nullptr;
    GDExtensionPtrBuiltInMethod array_size = nullptr;
    GDExtensionPtrBuiltInMethod array_resize = nullptr;
} t;

constexpr GDExtensionVariantType kPacked[] = {
    GDEXTENSION_VARIANT_TYPE_PACKED_BYTE_ARRAY, GDEXTENSION_VARIANT_TYPE_PACKED_INT32_ARRAY,
    GDEXTENSION_VARIANT_TYPE_PACKED_FLOAT32_ARRAY, GDEXTENSION_VARIANT_TYPE_PACKED_STRING_ARRAY};

GDExtensionPtrBuiltInMethod builtin_method(GDExtensionVariantType type, const char *name, int64_t hash) {
    StringName method(name);
    auto fn = api.variant_get_ptr_builtin_method(type, method.ptr(), hash);
    if (!fn) throw std::runtime_error(std::string("engine has no built-in method ") + name);
    return fn;
}
}  // namespace

void load_builtins() {
    // String and StringName first: the method lookups below need StringName.
    for (int i = 1; i < kTypes; ++i) {
        auto type = static_cast<GDExtensionVariantType>(i);
        t.ctor_default[i] = api.variant_get_ptr_constructor(type, 0);
        t.ctor_copy[i] = api.variant_get_ptr_constructor(type, 1);
        t.dtor[i] = api.variant_get_ptr_destructor(type);
        t.to_variant[i] = api.get_variant_from_type_constructor(type);
        t.from_variant[i] = api.get_variant_to_type_constructor(type);
    }
    t.string_from_string_name = api.variant_get_ptr_constructor(GDEXTENSION_VARIANT_TYPE_STRING, 2);
    for (auto type : kPacked) {
        t.packed_size[type] = builtin_method(type, "size", AIGYM_HASH_PACKED_SIZE);
        t.packed_resize[type] = builtin_method(type, "resize", AIGYM_HASH_PACKED_RESIZE);
    }
    t.array_size = builtin_method(GDEXTENSION_VARIANT_TYPE_ARRAY, "size", AIGYM_HASH_Array_size);
    t.array_resize = builtin_method(GDEXTENSION_VARIANT_TYPE_ARRAY, "resize", AIGYM_HASH_Array_resize);
}

namespace detail {
void construct_default(GDExtensionVariantType type, void *storage) { t.ctor_default[type](storage, nullptr); }
void construct_copy(GDExtensionVariantType type, void *storage, const void *from) {
    const GDExtensionConstTypePtr args[1] = {from};
    t.ctor_copy[type](storage, args);
}
void destroy(GDExtensionVariantType type, void *storage) {
    if (t.dtor[type]) t.dtor[type](storage);  // some types (int, float) have no destructor
}
}  // namespace detail

// ---- String / StringName ---------------------------------------------------------------

String::String(std::string_view utf8) {
    detail::destroy(variant_type, opaque_);
    api.string_new_with_utf8_chars_and_len(opaque_, utf8.data(), static_cast<GDExtensionInt>(utf8.size()));
}

std::string String::utf8() const {
    const auto n = api.string_to_utf8_chars(opaque_, nullptr, 0);
    std::string out(static_cast<size_t>(n), '\0');
    if (n > 0) api.string_to_utf8_chars(opaque_, out.data(), n);
    return out;
}

StringName::StringName(std::string_view utf8) {
    detail::destroy(variant_type, opaque_);
    api.string_name_new_with_utf8_chars_and_len(opaque_, utf8.data(), static_cast<GDExtensionInt>(utf8.size()));
}

std::string StringName::utf8() const {
    String s;
    detail::destroy(String::variant_type, s.ptr());
    const GDExtensionConstTypePtr args[1] = {opaque_};
    t.string_from_string_name(s.ptr(), args);
    return s.utf8();
}

// ---- Packed arrays ------------------------------------------------------------------------

template <GDExtensionVariantType Type, typename T>
int64_t PackedArray<Type, T>::size() const {
    int64_t n = 0;
    t.packed_size[Type](const_cast<void *>(this->ptr()), nullptr, &n, 0);
    return n;
}

template <GDExtensionVariantType Type, typename T>
void PackedArray<Type, T>::resize(int64_t n) {
    int64_t err = 0;
    const GDExtensionConstTypePtr args[1] = {&n};
    t.packed_resize[Type](this->ptr(), args, &err, 1);
    if (err != 0) throw std::runtime_error("out of memory resizing a packed array to " + std::to_string(n));
}

namespace {
template <GDExtensionVariantType Type>
void *packed_index(void *array, GDExtensionInt i) {
    if constexpr (Type == GDEXTENSION_VARIANT_TYPE_PACKED_BYTE_ARRAY) return api.packed_byte_array_operator_index(array, i);
    if constexpr (Type == GDEXTENSION_VARIANT_TYPE_PACKED_INT32_ARRAY) return api.packed_int32_array_operator_index(array, i);
    if constexpr (Type == GDEXTENSION_VARIANT_TYPE_PACKED_FLOAT32_ARRAY) return api.packed_float32_array_operator_index(array, i);
    if constexpr (Type == GDEXTENSION_VARIANT_TYPE_PACKED_STRING_ARRAY) return api.packed_string_array_operator_index(array, i);
}
// The const accessor reads shared storage in place (the non-const one would copy it first).
template <GDExtensionVariantType Type>
const void *packed_index_const(const void *array, GDExtensionInt i) {
    if constexpr (Type == GDEXTENSION_VARIANT_TYPE_PACKED_BYTE_ARRAY) return api.packed_byte_array_operator_index_const(array, i);
    if constexpr (Type == GDEXTENSION_VARIANT_TYPE_PACKED_INT32_ARRAY) return api.packed_int32_array_operator_index_const(array, i);
    if constexpr (Type == GDEXTENSION_VARIANT_TYPE_PACKED_FLOAT32_ARRAY) return api.packed_float32_array_operator_index_const(array, i);
    if constexpr (Type == GDEXTENSION_VARIANT_TYPE_PACKED_STRING_ARRAY) return api.packed_string_array_operator_index_const(array, i);
}
}  // namespace

template <GDExtensionVariantType Type, typename T>
T *PackedArray<Type, T>::data() {
    if (size() == 0) return nullptr;  // indexing an empty array would log an engine error
    return static_cast<T *>(packed_index<Type>(this->ptr(), 0));
}

template <GDExtensionVariantType Type, typename T>
const T *PackedArray<Type, T>::data() const {
    if (size() == 0) return nullptr;
    return static_cast<const T *>(packed_index_const<Type>(this->ptr(), 0));
}

template class PackedArray<GDEXTENSION_VARIANT_TYPE_PACKED_BYTE_ARRAY, uint8_t>;
template class PackedArray<GDEXTENSION_VARIANT_TYPE_PACKED_INT32_ARRAY, int32_t>;
template class PackedArray<GDEXTENSION_VARIANT_TYPE_PACKED_FLOAT32_ARRAY, float>;
template class PackedArray<GDEXTENSION_VARIANT_TYPE_PACKED_STRING_ARRAY, String>;

// ---- Array ---------------------------------------------------------------------------------

int64_t Array::size() const {
    int64_t n = 0;
    t.array_size(const_cast<void *>(ptr()), nullptr, &n, 0);
    return n;
}

void Array::resize(int64_t n) {
    int64_t err = 0;
    const GDExtensionConstTypePtr args[1] = {&n};
    t.array_resize(ptr(), args, &err, 1);
    if (err != 0) throw std::runtime_error("cannot resize an Array to " + std::to_string(n));
}

Variant Array::get(int64_t i) const {
    if (i < 0 || i >= size()) throw std::out_of_range("Array index " + std::to_string(i) + " out of range");
    return Variant::copy_of(api.array_operator_index_const(ptr(), i));
}

void Array::set(int64_t i, const Variant &value) {
    if (i < 0 || i >= size()) throw std::out_of_range("Array index " + std::to_string(i) + " out of range");
    void *slot = api.array_operator_index(ptr(), i);
    api.variant_destroy(slot);
    api.variant_new_copy(slot, value.ptr());
}

void Array::append(const Variant &value) {
    const int64_t n = size();
    resize(n + 1);
    set(n, value);
}

// ---- Variant ------------------------------------------------------------------------------

Variant::Variant() { api.variant_new_nil(opaque_); }
Variant::Variant(const Variant &other) { api.variant_new_copy(opaque_, other.opaque_); }
Variant::Variant(Variant &&other) noexcept {
    std::memcpy(opaque_, other.opaque_, sizeof opaque_);
    api.variant_new_nil(other.opaque_);
}
Variant &Variant::operator=(const Variant &other) {
    if (this != &other) {
        api.variant_destroy(opaque_);
        api.variant_new_copy(opaque_, other.opaque_);
    }
    return *this;
}
Variant &Variant::operator=(Variant &&other) noexcept {
    if (this != &other) {
        api.variant_destroy(opaque_);
        std::memcpy(opaque_, other.opaque_, sizeof opaque_);
        api.variant_new_nil(other.opaque_);
    }
    return *this;
}
Variant::~Variant() { api.variant_destroy(opaque_); }

namespace {
template <typename T>
void make_variant(void *variant, GDExtensionVariantType type, const T *value) {
    t.to_variant[type](variant, const_cast<T *>(value));
}
}  // namespace

Variant::Variant(bool v) { GDExtensionBool b = v; make_variant(opaque_, GDEXTENSION_VARIANT_TYPE_BOOL, &b); }
Variant::Variant(int64_t v) { make_variant(opaque_, GDEXTENSION_VARIANT_TYPE_INT, &v); }
Variant::Variant(double v) { make_variant(opaque_, GDEXTENSION_VARIANT_TYPE_FLOAT, &v); }
Variant::Variant(const String &v) { make_variant(opaque_, v.variant_type, v.ptr()); }
Variant::Variant(const StringName &v) { make_variant(opaque_, v.variant_type, v.ptr()); }
Variant::Variant(const PackedByteArray &v) { make_variant(opaque_, v.variant_type, v.ptr()); }
Variant::Variant(const PackedInt32Array &v) { make_variant(opaque_, v.variant_type, v.ptr()); }
Variant::Variant(const PackedFloat32Array &v) { make_variant(opaque_, v.variant_type, v.ptr()); }
Variant::Variant(const PackedStringArray &v) { make_variant(opaque_, v.variant_type, v.ptr()); }
Variant::Variant(const Array &v) { make_variant(opaque_, v.variant_type, v.ptr()); }

Variant Variant::from_object(GDExtensionObjectPtr object) {
    Variant out;
    api.variant_destroy(out.opaque_);
    make_variant(out.opaque_, GDEXTENSION_VARIANT_TYPE_OBJECT, &object);
    return out;
}

Variant Variant::copy_of(const void *engine_variant) {
    Variant out;
    api.variant_destroy(out.opaque_);
    api.variant_new_copy(out.opaque_, engine_variant);
    return out;
}

GDExtensionVariantType Variant::type() const { return api.variant_get_type(opaque_); }

template <> bool Variant::as<bool>() const {
    GDExtensionBool b = 0;
    t.from_variant[GDEXTENSION_VARIANT_TYPE_BOOL](&b, const_cast<uint8_t *>(opaque_));
    return b != 0;
}
template <> int64_t Variant::as<int64_t>() const {
    int64_t v = 0;
    t.from_variant[GDEXTENSION_VARIANT_TYPE_INT](&v, const_cast<uint8_t *>(opaque_));
    return v;
}
template <> double Variant::as<double>() const {
    double v = 0;
    t.from_variant[GDEXTENSION_VARIANT_TYPE_FLOAT](&v, const_cast<uint8_t *>(opaque_));
    return v;
}

namespace {
template <typename B>
B builtin_from_variant(const void *variant) {
    B out;
    detail::destroy(B::variant_type, out.ptr());  // the converter writes into uninitialised storage
    t.from_variant[B::variant_type](out.ptr(), const_cast<void *>(variant));
    return out;
}
}  // namespace

template <> String Variant::as<String>() const { return builtin_from_variant<String>(opaque_); }
template <> StringName Variant::as<StringName>() const { return builtin_from_variant<StringName>(opaque_); }
template <> PackedByteArray Variant::as<PackedByteArray>() const { return builtin_from_variant<PackedByteArray>(opaque_); }
template <> PackedInt32Array Variant::as<PackedInt32Array>() const { return builtin_from_variant<PackedInt32Array>(opaque_); }
template <> PackedFloat32Array Variant::as<PackedFloat32Array>() const { return builtin_from_variant<PackedFloat32Array>(opaque_); }
template <> PackedStringArray Variant::as<PackedStringArray>() const { return builtin_from_variant<PackedStringArray>(opaque_); }
template <> Array Variant::as<Array>() const { return builtin_from_variant<Array>(opaque_); }

GDExtensionObjectPtr Variant::as_object() const {
    if (type() != GDEXTENSION_VARIANT_TYPE_OBJECT) return nullptr;
    GDExtensionObjectPtr object = nullptr;
    t.from_variant[GDEXTENSION_VARIANT_TYPE_OBJECT](&object, const_cast<uint8_t *>(opaque_));
    return object;
}

std::string Variant::stringify() const {
    String s;
    detail::destroy(String::variant_type, s.ptr());
    api.variant_stringify(opaque_, s.ptr());
    return s.utf8();
}

void Variant::move_into(void *slot) {
    api.variant_destroy(slot);
    std::memcpy(slot, opaque_, sizeof opaque_);
    api.variant_new_nil(opaque_);
}

const char *variant_type_name(GDExtensionVariantType type) {
    static const char *const names[] = {
        "null", "bool", "int", "float", "String", "Vector2", "Vector2i", "Rect2", "Rect2i",
        "Vector3", "Vector3i", "Transform2D", "Vector4", "Vector4i", "Plane", "Quaternion",
        "AABB", "Basis", "Transform3D", "Projection", "Color", "StringName", "NodePath", "RID",
        "Object", "Callable", "Signal", "Dictionary", "Array", "PackedByteArray",
        "PackedInt32Array", "PackedInt64Array", "PackedFloat32Array", "PackedFloat64Array",
        "PackedStringArray", "PackedVector2Array", "PackedVector3Array", "PackedColorArray",
        "PackedVector4Array"};
    return type >= 0 && type < kTypes ? names[type] : "unknown";
}

}  // namespace aigym::gd
