#include "engine.h"

#include <stdexcept>
#include <string>

#include "api.h"
#include "engine_api_facts.h"

namespace aigym::gd::engine {

namespace {
GDExtensionMethodBindPtr method_bind(const char *cls, const char *method, int64_t hash) {
    StringName c(cls), m(method);
    auto bind = api.classdb_get_method_bind(c.ptr(), m.ptr(), hash);
    if (!bind) throw std::runtime_error(std::string("engine method ") + cls + "." + method + " not found (hash mismatch?)");
    return bind;
}

GDExtensionObjectPtr singleton(const char *name) {
    StringName n(name);
    auto object = api.global_get_singleton(n.ptr());
    if (!object) throw std::runtime_error(std::string("engine singleton ") + name + " not found");
    return object;
}
}  // namespace

void add_resource_format_loader(GDExtensionObjectPtr loader, bool at_front) {
    static auto bind = method_bind("ResourceLoader", "add_resource_format_loader", AIGYM_HASH_ResourceLoader_add_resource_format_loader);
    uint8_t front = at_front;
    const GDExtensionConstTypePtr args[2] = {&loader, &front};
    api.object_method_bind_ptrcall(bind, singleton("ResourceLoader"), args, nullptr);
}

void remove_resource_format_loader(GDExtensionObjectPtr loader) {
    static auto bind = method_bind("ResourceLoader", "remove_resource_format_loader", AIGYM_HASH_ResourceLoader_remove_resource_format_loader);
    const GDExtensionConstTypePtr args[1] = {&loader};
    api.object_method_bind_ptrcall(bind, singleton("ResourceLoader"), args, nullptr);
}

PackedByteArray file_get_as_bytes(const String &path, int64_t &error) {
    static auto get_bytes = method_bind("FileAccess", "get_file_as_bytes", AIGYM_HASH_FileAccess_get_file_as_bytes);
    static auto open_error = method_bind("FileAccess", "get_open_error", AIGYM_HASH_FileAccess_get_open_error);
    PackedByteArray bytes;
    const GDExtensionConstTypePtr args[1] = {path.ptr()};
    api.object_method_bind_ptrcall(get_bytes, nullptr, args, bytes.ptr());  // static method
    error = 0;
    api.object_method_bind_ptrcall(open_error, nullptr, nullptr, &error);
    return bytes;
}

bool quit_scene_tree(int64_t exit_code) {
    static auto get_main_loop = method_bind("Engine", "get_main_loop", AIGYM_HASH_Engine_get_main_loop);
    static auto quit = method_bind("SceneTree", "quit", AIGYM_HASH_SceneTree_quit);
    GDExtensionObjectPtr main_loop = nullptr;
    api.object_method_bind_ptrcall(get_main_loop, singleton("Engine"), nullptr, &main_loop);
    StringName scene_tree("SceneTree");
    if (!main_loop || !api.object_cast_to(main_loop, api.classdb_get_class_tag(scene_tree.ptr()))) return false;
    const GDExtensionConstTypePtr args[1] = {&exit_code};
    api.object_method_bind_ptrcall(quit, main_loop, args, nullptr);
    return true;
}

}  // namespace aigym::gd::engine
