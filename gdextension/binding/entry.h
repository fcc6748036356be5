// Defines a GDExtension entry point: loads the interface (failing loudly on a missing function
// or an engine older than 4.3), then calls `on_init` / `on_deinit` at the SCENE level, where
// classes are registered. Classes are unregistered in reverse order after `on_deinit`.
#pragma once

#include <gdextension_interface.h>

#include "api.h"
#include "builtins.h"
#include "class_db.h"

#define AIGYM_GDEXTENSION_ENTRY(symbol, on_init, on_deinit)                                             \
    namespace {                                                                                         \
    void aigym_initialize(void *, GDExtensionInitializationLevel level) {                               \
        if (level != GDEXTENSION_INITIALIZATION_SCENE) return;                                          \
        ::aigym::gd::load_builtins();                                                                   \
        on_init();                                                                                      \
    }                                                                                                   \
    void aigym_deinitialize(void *, GDExtensionInitializationLevel level) {                             \
        if (level != GDEXTENSION_INITIALIZATION_SCENE) return;                                          \
        on_deinit();                                                                                    \
        ::aigym::gd::unregister_all_classes();                                                          \
    }                                                                                                   \
    }                                                                                                   \
    extern "C" __attribute__((visibility("default"))) GDExtensionBool symbol(                           \
        GDExtensionInterfaceGetProcAddress get_proc_address, GDExtensionClassLibraryPtr library,        \
        GDExtensionInitialization *r_initialization) {                                                  \
        if (!::aigym::gd::load_interface(get_proc_address, library)) return false;                      \
        r_initialization->minimum_initialization_level = GDEXTENSION_INITIALIZATION_SCENE;              \
        r_initialization->userdata = nullptr;                                                           \
        r_initialization->initialize = &aigym_initialize;                                               \
        r_initialization->deinitialize = &aigym_deinitialize;                                           \
        return true;                                                                                    \
    }
