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
#include "method_glue.h"
#include "object.h"
#include "type_info.h"

namespace aigym::gd {

// ---- Property hints and usage flags (Godot's PropertyHint, PropertyUsageFlags) --------------

// What an ordinary argument, return value or property declares: stored and shown in the editor.
inline constexpr uint32_t kUsageDefault = AIGYM_PROPERTY_USAGE_DEFAULT;
// A NIL-typed slot means "any Variant" (not "nothing"): the flag tells the engine so.
inline constexpr uint32_t kUsageVariant = AIGYM_PROPERTY_USAGE_DEFAULT | AIGYM_PROPERTY_USAGE_NIL_IS_VARIANT;
// No editor hint; or "a resource of the class named in hint_string" (an object-typed property).
inline constexpr uint32_t kHintNone = AIGYM_PROPERTY_HINT_NONE;
inline constexpr uint32_t kHintResourceType = AIGYM_PROPERTY_HINT_RESOURCE_TYPE;

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
// Keeps registration-time engine strings alive until the engine has copied them.
struct PropertyInfoStorage {
    StringName name, class_name;
    String hint_string;
    GDExtensionPropertyInfo info{};
    PropertyInfoStorage(GDExtensionVariantType type, const char *name, const char *class_name,
                        uint32_t hint = kHintNone, const char *hint_string = "", uint32_t usage = kUsageDefault);
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
                RI::variant_type, "", RI::class_name(), kHintNone, "",
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
                          const char *class_name = "", uint32_t hint = kHintNone, const char *hint_string = "") {
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
                    A::variant_type, arg_name, A::class_name(), kHintNone, "",
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
