// Defines a GDExtension entry point: loads the interface (failing loudly on a missing function
// or an engine older than 4.3), then calls `on_init` / `on_deinit` at the SCENE level, where
// classes are registered. Classes are unregistered in reverse order after `on_deinit`. At the
// EDITOR level (only in the editor) the library's class reference XML (`docs`, a range of
// std::string_view generated from gdextension/doc_classes/) is handed to Godot's help.
//
// Every function here is a firewall: an exception from loading or registration is reported
// with the library's entry symbol and never reaches the engine (a failed entry returns false,
// so the engine reports the library as not loaded).
#pragma once

#include <gdextension_interface.h>

#include "api.h"
#include "builtins.h"
#include "class_db.h"

namespace aigym::gd::detail {
// Hands each XML document to the editor's help, if this engine offers it (Godot >= 4.3 editor).
template <class Docs>
void load_editor_help(const Docs &docs) {
    if (!api.editor_help_load_xml) return;
    for (const auto &xml : docs) api.editor_help_load_xml(xml.data(), static_cast<GDExtensionInt>(xml.size()));
}
}  // namespace aigym::gd::detail

#define AIGYM_GDEXTENSION_ENTRY(symbol, on_init, on_deinit, docs)                                       \
    namespace {                                                                                         \
    void aigym_initialize(void *, GDExtensionInitializationLevel level) noexcept {                      \
        try {                                                                                           \
            if (level == GDEXTENSION_INITIALIZATION_EDITOR) ::aigym::gd::detail::load_editor_help(docs); \
            if (level != GDEXTENSION_INITIALIZATION_SCENE) return;                                      \
            ::aigym::gd::load_builtins();                                                               \
            on_init();                                                                                  \
        } catch (...) {                                                                                 \
            ::aigym::gd::detail::report_exception(#symbol, "initialize");                               \
        }                                                                                               \
    }                                                                                                   \
    void aigym_deinitialize(void *, GDExtensionInitializationLevel level) noexcept {                    \
        if (level != GDEXTENSION_INITIALIZATION_SCENE) return;                                          \
        try {                                                                                           \
            on_deinit();                                                                                \
        } catch (...) {                                                                                 \
            ::aigym::gd::detail::report_exception(#symbol, "deinitialize");                             \
        }                                                                                               \
        try {                                                                                           \
            ::aigym::gd::unregister_all_classes();                                                      \
        } catch (...) {                                                                                 \
            ::aigym::gd::detail::report_exception(#symbol, "unregister_all_classes");                   \
        }                                                                                               \
    }                                                                                                   \
    }                                                                                                   \
    extern "C" __attribute__((visibility("default"))) GDExtensionBool symbol(                           \
        GDExtensionInterfaceGetProcAddress get_proc_address, GDExtensionClassLibraryPtr library,        \
        GDExtensionInitialization *r_initialization) noexcept {                                         \
        try {                                                                                           \
            if (!::aigym::gd::load_interface(get_proc_address, library)) return false;                  \
        } catch (...) {                                                                                 \
            ::aigym::gd::detail::report_exception(#symbol, "load_interface");                           \
            return false;                                                                               \
        }                                                                                               \
        r_initialization->minimum_initialization_level = GDEXTENSION_INITIALIZATION_SCENE;              \
        r_initialization->userdata = nullptr;                                                           \
        r_initialization->initialize = &aigym_initialize;                                               \
        r_initialization->deinitialize = &aigym_deinitialize;                                           \
        return true;                                                                                    \
    }
