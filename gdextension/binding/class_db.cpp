#include "class_db.h"

#include <stdexcept>

namespace aigym::gd {

namespace detail {

namespace {
// Our bindings are set when an instance is created, so the engine never asks us to make one;
// asked anyway (an object that is not ours), we answer "none".
void *binding_create(void *, void *) { return nullptr; }
void binding_free(void *, void *, void *) {}
GDExtensionBool binding_reference(void *, void *, GDExtensionBool) { return true; }

struct RegisteredClass {
    std::string name;
    void (*cleanup)();
};
std::vector<RegisteredClass> &registered() {
    static std::vector<RegisteredClass> classes;
    return classes;
}
}  // namespace

const GDExtensionInstanceBindingCallbacks kBindingCallbacks = {&binding_create, &binding_free, &binding_reference};

void record_class(const char *name, void (*cleanup)()) { registered().push_back({name, cleanup}); }

PropertyInfoStorage::PropertyInfoStorage(GDExtensionVariantType type, const char *name_, const char *class_name_,
                                         uint32_t hint, const char *hint_string_, uint32_t usage)
    : name(name_), class_name(class_name_), hint_string(hint_string_) {
    info.type = type;
    info.name = name.ptr();
    info.class_name = class_name.ptr();
    info.hint = hint;
    info.hint_string = hint_string.ptr();
    info.usage = usage;
}

}  // namespace detail

void unregister_all_classes() {
    auto &classes = detail::registered();
    for (auto it = classes.rbegin(); it != classes.rend(); ++it) {
        StringName name(it->name);
        api.classdb_unregister_extension_class(api.library, name.ptr());
        it->cleanup();
    }
    classes.clear();
}

}  // namespace aigym::gd
