// Typed calls into engine classes and singletons that the extension needs (ptrcall through
// method binds looked up by the hashes generated from extension_api.json).
#pragma once

#include <cstdint>

#include "builtins.h"

namespace aigym::gd::engine {

// ResourceLoader.add_resource_format_loader / remove_resource_format_loader.
void add_resource_format_loader(GDExtensionObjectPtr loader, bool at_front);
void remove_resource_format_loader(GDExtensionObjectPtr loader);

// FileAccess.get_file_as_bytes (works for res:// paths inside exported packs); on failure the
// array is empty and `error` holds FileAccess.get_open_error() (an engine Error code).
PackedByteArray file_get_as_bytes(const String &path, int64_t &error);

// Asks the running SceneTree to quit with `exit_code` at the end of the frame. Returns false
// when there is no SceneTree (e.g. a custom MainLoop).
bool quit_scene_tree(int64_t exit_code);

}  // namespace aigym::gd::engine
