// The glue between one typed member function and the engine's two calling conventions:
// varcall (Variants, with argument checks and a GDExtensionCallError) and ptrcall (native
// encodings), both generated from the signature so they cannot disagree. Every entry point is an
// exception firewall (see class_db.h for what the caller sees).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

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

}  // namespace aigym::gd
