// Registering our classes, their methods, properties and virtual overrides with the engine.
//
// A class declares its engine name, its parent and a `bind` function:
//
//     class cThing : public gd::ExtensionObject {
//       public:
//         static constexpr const char *kClassName = "cThing";
//         static constexpr const char *kParentName = "RefCounted";
//         static void bind(gd::ClassBinder<cThing> &b) {
//             b.method<&cThing::scale>("scale", {"values", "factor"});
//         }
//         gd::PackedFloat32Array scale(gd::PackedFloat32Array values, double factor);
//     };
//
// and one line registers it: `gd::register_class<cThing>()`. Both engine calling
// conventions (varcall and ptrcall) are generated from the member function's signature, and
// every callback (create, free, get_virtual, call, ptrcall, virtuals) is a firewall: a C++
// exception is reported in Godot's log with the class and method name and never crosses into
// the engine. A varcall that threw is also reported to the caller as failed (GDScript stops
// the calling function, as for any failed call); a ptrcall has no error channel in the C
// interface, so its return value stays the engine-initialised default.
#pragma once

#include <concepts>
#include <cstdint>
#include <exception>
#include <initializer_list>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "api.h"
#include "builtins.h"
#include "log.h"
#include "object.h"
#include "type_info.h"

namespace aigym::gd {

// ---- Member-function traits ----------------------------------------------------------------

template <class F> struct MemberTraits;
template <class C, class R, class... A>
struct MemberTraits<R (C::*)(A...)> {
    using Class = C;
    using Return = R;
    using Args = std::tuple<std::decay_t<A>...>;
    static constexpr bool is_const = false;
};
template <class C, class R, class... A>
struct MemberTraits<R (C::*)(A...) const> : MemberTraits<R (C::*)(A...)> {
    static constexpr bool is_const = true;
};

// ---- Property usage flags (Godot's PropertyUsageFlags, from extension_api.json) -------------

// What an ordinary argument, return value or property declares: stored and shown in the editor.
inline constexpr uint32_t kUsageDefault = AIGYM_PROPERTY_USAGE_DEFAULT;
// A NIL-typed slot means "any Variant" (not "nothing"): the flag tells the engine so.
inline constexpr uint32_t kUsageVariant = AIGYM_PROPERTY_USAGE_DEFAULT | AIGYM_PROPERTY_USAGE_NIL_IS_VARIANT;

// ---- What register_class<T> needs of T -------------------------------------------------------

template <class T>
concept DeclaresEngineNames = requires {
    { T::kClassName } -> std::convertible_to<const char *>;
    { T::kParentName } -> std::convertible_to<const char *>;
};

// ---- Per-class static state --------------------------------------------------------------

namespace detail {
// Names and callbacks shared by every class; defined in class_db.cpp.
extern const GDExtensionInstanceBindingCallbacks kBindingCallbacks;
// Remembers a registered class for unregistration (newest first) and its static state's cleanup.
void record_class(const char *name, void (*cleanup)());
std::string describe_exception();     // message of the exception being handled
// Reports the exception being handled as "<where>: <message>" in Godot's log; never throws
// (it runs inside catch blocks of callbacks the engine calls).
void report_exception(const char *where_class, const char *where_member) noexcept;
// Keeps registration-time engine strings alive until the engine has copied them.
struct PropertyInfoStorage {
    StringName name, class_name;
    String hint_string;
    GDExtensionPropertyInfo info{};
    PropertyInfoStorage(GDExtensionVariantType type, const char *name, const char *class_name,
                        uint32_t hint = 0, const char *hint_string = "", uint32_t usage = kUsageDefault);
};
}  // namespace detail

template <class T>
struct ClassGlue {
    static inline StringName *name = nullptr;
    static inline void *tag = nullptr;
    using Virtual = GDExtensionClassCallVirtual;
    static inline std::unordered_map<std::string, Virtual> *virtuals = nullptr;

    // A constructor that throws gives the caller null (`T.new()` is null), with the error logged.
    static GDExtensionObjectPtr create(void *) noexcept {
        GDExtensionObjectPtr owner = nullptr;
        try {
            StringName parent(T::kParentName);
            owner = api.classdb_construct_object(parent.ptr());
            T *self = new T();
            static_cast<ExtensionObject *>(self)->owner_ = owner;
            api.object_set_instance(owner, name->ptr(), self);
            api.object_set_instance_binding(owner, api.library, static_cast<ExtensionObject *>(self), &detail::kBindingCallbacks);
            return owner;
        } catch (...) {
            detail::report_exception(T::kClassName, "new");
            if (owner) api.object_destroy(owner);  // the half-made engine object is not handed out
            return nullptr;
        }
    }
    static void free(void *, GDExtensionClassInstancePtr instance) noexcept {
        // Destructors are noexcept (register_class checks it), so this only guards operator delete.
        try {
            delete static_cast<T *>(instance);
        } catch (...) {
            detail::report_exception(T::kClassName, "free");
        }
    }
    static GDExtensionClassCallVirtual get_virtual(void *, GDExtensionConstStringNamePtr method) noexcept {
        if (!virtuals) return nullptr;
        try {
            // Engine StringNames are compared by content: rebuild the name as UTF-8.
            auto it = virtuals->find(StringName::copy_of(method).utf8());
            return it == virtuals->end() ? nullptr : it->second;
        } catch (...) {
            detail::report_exception(T::kClassName, "get_virtual");
            return nullptr;  // the engine then runs its own (default) implementation
        }
    }
};

template <class T>
T *object_cast(GDExtensionObjectPtr object) {
    if (!object || !ClassGlue<T>::tag) return nullptr;
    if (!api.object_cast_to(object, ClassGlue<T>::tag)) return nullptr;
    auto *base = static_cast<ExtensionObject *>(api.object_get_instance_binding(object, api.library, &detail::kBindingCallbacks));
    return dynamic_cast<T *>(base);
}

template <class T>
T *instantiate() {
    GDExtensionObjectPtr owner = api.classdb_construct_object(ClassGlue<T>::name->ptr());
    return object_cast<T>(owner);
}

// ---- Method glue: one typed member function, two calling conventions ----------------------

struct MethodRecord {
    std::string class_name, method_name;
    std::string where() const { return class_name + "." + method_name; }
};

template <auto Method>
struct MethodGlue {
    using Traits = MemberTraits<decltype(Method)>;
    using C = typename Traits::Class;
    using R = typename Traits::Return;
    using Args = typename Traits::Args;
    static constexpr size_t kArgc = std::tuple_size_v<Args>;

    template <size_t... I>
    static R invoke_ptr(C *self, const GDExtensionConstTypePtr *args, std::index_sequence<I...>) {
        return (self->*Method)(TypeInfo<std::tuple_element_t<I, Args>>::from_ptr(args[I])...);
    }

    // ptrcall has no error channel: a failure is logged and `ret` keeps its default value.
    static void ptrcall(void *userdata, GDExtensionClassInstancePtr instance, const GDExtensionConstTypePtr *args,
                        GDExtensionTypePtr ret) noexcept {
        auto *record = static_cast<MethodRecord *>(userdata);
        try {
            if (!instance) {
                report_error(record->where() + ": called on a null instance", __func__, __FILE__, __LINE__);
                return;
            }
            auto *self = static_cast<C *>(instance);
            if constexpr (std::is_void_v<R>) {
                invoke_ptr(self, args, std::make_index_sequence<kArgc>{});
            } else {
                TypeInfo<std::decay_t<R>>::to_ptr_slot(invoke_ptr(self, args, std::make_index_sequence<kArgc>{}), ret);
            }
        } catch (...) {
            detail::report_exception(record->class_name.c_str(), record->method_name.c_str());
        }
    }

    // Converts Variant argument I to the declared type, or fills r_error and returns false.
    template <size_t I>
    static bool check_arg(const GDExtensionConstVariantPtr *args, std::unique_ptr<Variant> *converted,
                          GDExtensionCallError *r_error) {
        using A = std::tuple_element_t<I, Args>;
        constexpr auto expected = TypeInfo<A>::variant_type;
        const auto actual = api.variant_get_type(args[I]);
        if constexpr (expected != GDEXTENSION_VARIANT_TYPE_NIL) {
            if (actual != expected) {
                const bool null_object = expected == GDEXTENSION_VARIANT_TYPE_OBJECT && actual == GDEXTENSION_VARIANT_TYPE_NIL;
                if (!null_object && !api.variant_can_convert_strict(actual, expected)) {
                    *r_error = {GDEXTENSION_CALL_ERROR_INVALID_ARGUMENT, static_cast<int32_t>(I), expected};
                    return false;
                }
                if (!null_object) {
                    // Strictly convertible (e.g. int -> float): convert once, keep it alive for the call.
                    converted[I] = std::make_unique<Variant>();
                    GDExtensionCallError err{};
                    const GDExtensionConstVariantPtr from[1] = {args[I]};
                    api.variant_destroy(converted[I]->ptr());
                    api.variant_construct(expected, converted[I]->ptr(), from, 1, &err);
                    if (err.error != GDEXTENSION_CALL_OK) {
                        api.variant_new_nil(converted[I]->ptr());
                        *r_error = {GDEXTENSION_CALL_ERROR_INVALID_ARGUMENT, static_cast<int32_t>(I), expected};
                        return false;
                    }
                }
            }
            if constexpr (std::is_pointer_v<A>) {  // an object of our classes: check its class
                const Variant &v = converted[I] ? *converted[I] : *static_cast<const Variant *>(args[I]);
                if (!TypeInfo<A>::accepts(v)) {
                    *r_error = {GDEXTENSION_CALL_ERROR_INVALID_ARGUMENT, static_cast<int32_t>(I), expected};
                    return false;
                }
            }
        }
        return true;
    }

    template <size_t... I>
    static R invoke_var(C *self, const GDExtensionConstVariantPtr *args, std::unique_ptr<Variant> *converted,
                        std::index_sequence<I...>) {
        return (self->*Method)(TypeInfo<std::tuple_element_t<I, Args>>::from_variant(
            converted[I] ? *converted[I] : *static_cast<const Variant *>(args[I]))...);
    }

    template <size_t... I>
    static bool check_args([[maybe_unused]] const GDExtensionConstVariantPtr *args,
                           [[maybe_unused]] std::unique_ptr<Variant> *converted,
                           [[maybe_unused]] GDExtensionCallError *r_error, std::index_sequence<I...>) {
        return (check_arg<I>(args, converted, r_error) && ...);
    }

    static void call(void *userdata, GDExtensionClassInstancePtr instance, const GDExtensionConstVariantPtr *args,
                     GDExtensionInt argc, GDExtensionVariantPtr ret, GDExtensionCallError *r_error) noexcept {
        auto *record = static_cast<MethodRecord *>(userdata);
        *r_error = {GDEXTENSION_CALL_OK, 0, 0};
        if (!instance) {
            *r_error = {GDEXTENSION_CALL_ERROR_INSTANCE_IS_NULL, 0, 0};
            return;
        }
        if (argc < static_cast<GDExtensionInt>(kArgc)) {
            *r_error = {GDEXTENSION_CALL_ERROR_TOO_FEW_ARGUMENTS, 0, static_cast<int32_t>(kArgc)};
            return;
        }
        if (argc > static_cast<GDExtensionInt>(kArgc)) {
            *r_error = {GDEXTENSION_CALL_ERROR_TOO_MANY_ARGUMENTS, 0, static_cast<int32_t>(kArgc)};
            return;
        }
        try {
            std::unique_ptr<Variant> converted[kArgc > 0 ? kArgc : 1];
            if (!check_args(args, converted, r_error, std::make_index_sequence<kArgc>{})) return;
            auto *self = static_cast<C *>(instance);
            if constexpr (std::is_void_v<R>) {
                invoke_var(self, args, converted, std::make_index_sequence<kArgc>{});
            } else {
                TypeInfo<std::decay_t<R>>::to_variant_slot(invoke_var(self, args, converted, std::make_index_sequence<kArgc>{}),
                                                           ret);
            }
        } catch (...) {
            detail::report_exception(record->class_name.c_str(), record->method_name.c_str());
            // As gdext's handle_varcall_panic: the caller sees a failed call (GDScript stops the
            // function with "Invalid call") right after our error line that says why.
            *r_error = {GDEXTENSION_CALL_ERROR_INVALID_METHOD, 0, 0};
        }
    }

    // Engine virtuals are ptrcalls without userdata: the name comes from the template.
    static inline MethodRecord *virtual_record = nullptr;
    static void call_virtual(GDExtensionClassInstancePtr instance, const GDExtensionConstTypePtr *args,
                             GDExtensionTypePtr ret) noexcept {
        ptrcall(virtual_record, instance, args, ret);
    }
};

// ---- The binder handed to T::bind --------------------------------------------------------

template <class T>
class ClassBinder {
  public:
    // Binds a member function under `name`; `arg_names` documents its parameters in the editor.
    template <auto Method>
    ClassBinder &method(const char *name, std::initializer_list<const char *> arg_names = {}) {
        using Glue = MethodGlue<Method>;
        static_assert(std::is_same_v<typename Glue::C, T> || std::is_base_of_v<typename Glue::C, T>,
                      "method<&X::f>: f must be a member of the class being bound");
        static_assert(std::is_base_of_v<ExtensionObject, typename Glue::C>,
                      "method<&X::f>: X must derive from gd::ExtensionObject; wrap a helper's function in a "
                      "member of the bound class instead");
        auto *record = new MethodRecord{T::kClassName, name};
        records().emplace_back(record);

        std::vector<std::unique_ptr<detail::PropertyInfoStorage>> arg_storage;
        std::vector<GDExtensionPropertyInfo> arg_info;
        std::vector<GDExtensionClassMethodArgumentMetadata> arg_meta;
        auto names = arg_names.begin();
        append_args<typename Glue::Args>(arg_storage, arg_info, arg_meta, names, arg_names.end(),
                                         std::make_index_sequence<Glue::kArgc>{});

        using R = typename Glue::R;
        std::unique_ptr<detail::PropertyInfoStorage> ret_storage;
        GDExtensionClassMethodArgumentMetadata ret_meta = GDEXTENSION_METHOD_ARGUMENT_METADATA_NONE;
        if constexpr (!std::is_void_v<R>) {
            using RI = TypeInfo<std::decay_t<R>>;
            ret_storage = std::make_unique<detail::PropertyInfoStorage>(
                RI::variant_type, "", RI::class_name(), 0, "",
                RI::variant_type == GDEXTENSION_VARIANT_TYPE_NIL ? kUsageVariant : kUsageDefault);
            ret_meta = RI::metadata;
        }
        StringName method_name(name);
        GDExtensionClassMethodInfo info{};
        info.name = method_name.ptr();
        info.method_userdata = record;
        info.call_func = &Glue::call;
        info.ptrcall_func = &Glue::ptrcall;
        info.method_flags = GDEXTENSION_METHOD_FLAGS_DEFAULT | (Glue::Traits::is_const ? GDEXTENSION_METHOD_FLAG_CONST : 0);
        info.has_return_value = !std::is_void_v<R>;
        info.return_value_info = ret_storage ? &ret_storage->info : nullptr;
        info.return_value_metadata = ret_meta;
        info.argument_count = static_cast<uint32_t>(Glue::kArgc);
        info.arguments_info = arg_info.data();
        info.arguments_metadata = arg_meta.data();
        api.classdb_register_extension_class_method(api.library, ClassGlue<T>::name->ptr(), &info);
        return *this;
    }

    // Exposes a property backed by two already bound methods.
    ClassBinder &property(const char *name, GDExtensionVariantType type, const char *setter, const char *getter,
                          const char *class_name = "", uint32_t hint = 0, const char *hint_string = "") {
        detail::PropertyInfoStorage prop(type, name, class_name, hint, hint_string);
        StringName set(setter), get(getter);
        api.classdb_register_extension_class_property(api.library, ClassGlue<T>::name->ptr(), &prop.info, set.ptr(), get.ptr());
        return *this;
    }

    // Overrides an engine virtual (e.g. ResourceFormatLoader::_load) with a member function
    // whose signature matches the engine's.
    template <auto Method>
    ClassBinder &virtual_override(const char *name) {
        using Glue = MethodGlue<Method>;
        if (!Glue::virtual_record) {
            Glue::virtual_record = new MethodRecord{T::kClassName, name};
            records().emplace_back(Glue::virtual_record);
        }
        if (!ClassGlue<T>::virtuals) ClassGlue<T>::virtuals = new std::unordered_map<std::string, GDExtensionClassCallVirtual>();
        (*ClassGlue<T>::virtuals)[name] = &Glue::call_virtual;
        return *this;
    }

    static std::vector<std::unique_ptr<MethodRecord>> &records() {
        static std::vector<std::unique_ptr<MethodRecord>> r;
        return r;
    }

  private:
    template <class Args, size_t... I>
    static void append_args(std::vector<std::unique_ptr<detail::PropertyInfoStorage>> &storage,
                            std::vector<GDExtensionPropertyInfo> &info, std::vector<GDExtensionClassMethodArgumentMetadata> &meta,
                            [[maybe_unused]] const char *const *names, [[maybe_unused]] const char *const *names_end,
                            std::index_sequence<I...>) {
        (
            [&] {
                using A = TypeInfo<std::tuple_element_t<I, Args>>;
                const std::string fallback = "arg" + std::to_string(I);
                const char *arg_name = names + I < names_end ? names[I] : fallback.c_str();
                storage.emplace_back(std::make_unique<detail::PropertyInfoStorage>(
                    A::variant_type, arg_name, A::class_name(), 0, "",
                    A::variant_type == GDEXTENSION_VARIANT_TYPE_NIL ? kUsageVariant : kUsageDefault));
                info.push_back(storage.back()->info);
                meta.push_back(A::metadata);
            }(),
            ...);
    }
};

// ---- Registration --------------------------------------------------------------------------

template <class T>
void register_class() {
    static_assert(std::is_base_of_v<ExtensionObject, T>, "register_class<T>: T must derive from gd::ExtensionObject");
    static_assert(std::is_default_constructible_v<T>, "register_class<T>: T needs a default constructor (the engine creates it)");
    static_assert(DeclaresEngineNames<T>,
                  "register_class<T>: declare `static constexpr const char *kClassName = \"cThing\";` and "
                  "`static constexpr const char *kParentName = \"RefCounted\";` (the engine class it extends) in T");
    static_assert(std::is_nothrow_destructible_v<T>,
                  "register_class<T>: T's destructor must not throw (the engine frees T from C, where an exception "
                  "terminates the process): catch inside it instead of declaring it noexcept(false)");
    static_assert(requires(ClassBinder<T> &b) { T::bind(b); },
                  "register_class<T>: declare `static void bind(gd::ClassBinder<T> &b)` in T (it may bind nothing)");

    ClassGlue<T>::name = new StringName(T::kClassName);
    StringName parent(T::kParentName);
    GDExtensionClassCreationInfo3 info{};
    info.is_virtual = false;
    info.is_abstract = false;
    info.is_exposed = true;
    info.create_instance_func = &ClassGlue<T>::create;
    info.free_instance_func = &ClassGlue<T>::free;
    info.get_virtual_func = &ClassGlue<T>::get_virtual;
    api.classdb_register_extension_class3(api.library, ClassGlue<T>::name->ptr(), parent.ptr(), &info);
    ClassGlue<T>::tag = api.classdb_get_class_tag(ClassGlue<T>::name->ptr());
    detail::record_class(T::kClassName, [] {
        delete ClassGlue<T>::name;
        ClassGlue<T>::name = nullptr;
        delete ClassGlue<T>::virtuals;
        ClassGlue<T>::virtuals = nullptr;
        ClassGlue<T>::tag = nullptr;
    });
    ClassBinder<T> binder;
    T::bind(binder);
}

// Unregisters every class registered so far, newest first, and frees registration state.
void unregister_all_classes();

}  // namespace aigym::gd
