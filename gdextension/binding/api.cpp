#include "api.h"

#include <cstdio>

namespace aigym::gd {

Interface api;

namespace {
constexpr unsigned kMinMajor = 4, kMinMinor = 3;

// Report before the table exists: print_error_with_message may itself be what is missing.
void early_error(GDExtensionInterfaceGetProcAddress get, const char *message) {
    auto print = reinterpret_cast<GDExtensionInterfacePrintErrorWithMessage>(
        reinterpret_cast<void *>(get("print_error_with_message")));
    if (print) {
        print(message, message, "load_interface", __FILE__, __LINE__, false);
    } else {
        std::fprintf(stderr, "godot-aigym: %s\n", message);
    }
}
}  // namespace

bool load_interface(GDExtensionInterfaceGetProcAddress get, GDExtensionClassLibraryPtr library) {
    char message[256];
#define AIGYM_GD_LOAD(member, type, proc)                                                     \
    api.member = reinterpret_cast<GDExtensionInterface##type>(reinterpret_cast<void *>(get(proc))); \
    if (!api.member) {                                                                        \
        std::snprintf(message, sizeof message,                                                \
                      "godot-aigym: the engine lacks GDExtension function '%s' (needs Godot >= 4.3)", proc); \
        early_error(get, message);                                                            \
        return false;                                                                         \
    }
    AIGYM_GD_INTERFACE(AIGYM_GD_LOAD)
#undef AIGYM_GD_LOAD
    api.library = library;
    api.editor_help_load_xml = reinterpret_cast<GDExtensionsInterfaceEditorHelpLoadXmlFromUtf8CharsAndLen>(
        reinterpret_cast<void *>(get("editor_help_load_xml_from_utf8_chars_and_len")));
    api.get_godot_version(&api.version);
    if (api.version.major != kMinMajor || api.version.minor < kMinMinor) {
        std::snprintf(message, sizeof message, "godot-aigym: needs Godot 4.%u or newer 4.x, this is %s",
                      kMinMinor, api.version.string ? api.version.string : "unknown");
        early_error(get, message);
        return false;
    }
    return true;
}

}  // namespace aigym::gd
