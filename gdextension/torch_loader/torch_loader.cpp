// The library godot_aigym_torch.gdextension names: loads the TorchScript class library
// (libaigym_torch_model.*, from this library's folder) and hands the engine's entry call over to it.
//
// Neither library links libtorch: the class library registers cTorchModelData, its .jit loader
// and cTorchModel at start-up, and finds and opens libtorch plus the runtime library
// (libaigym_torch_runtime.*) only when a model is first loaded (torch/torch_runtime_opener.h,
// docs/TORCH.md "When libtorch is loaded"). So an engine that never runs a model pays nothing
// for libtorch, and a missing libtorch is an error of the first model load, not of start-up.
// This file uses only the C interface: no binding layer.
#include <dlfcn.h>

#include <cstdio>
#include <string>

#include <gdextension_interface.h>

namespace {

constexpr const char *kEntrySymbol = "aigym_torch_model_library_init";

GDExtensionInterfacePrintErrorWithMessage print_error = nullptr;

void report(const std::string &message) {
    if (print_error) {
        print_error(message.c_str(), message.c_str(), "aigym_torch_library_init", __FILE__, __LINE__, false);
    } else {
        std::fprintf(stderr, "ERROR: %s\n", message.c_str());
    }
}

std::string own_path() {
    Dl_info info{};
    if (!dladdr(reinterpret_cast<void *>(&own_path), &info) || !info.dli_fname) return "";
    return info.dli_fname;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) GDExtensionBool aigym_torch_library_init(
    GDExtensionInterfaceGetProcAddress get_proc_address, GDExtensionClassLibraryPtr library,
    GDExtensionInitialization *r_initialization) noexcept {
    try {
        print_error = reinterpret_cast<GDExtensionInterfacePrintErrorWithMessage>(
            reinterpret_cast<void *>(get_proc_address("print_error_with_message")));
        const std::string path = own_path();
        const auto slash = path.rfind('/');
        const std::string here = slash == std::string::npos ? "." : path.substr(0, slash);
        // libaigym_torch.<platform...>.so -> libaigym_torch_model.<platform...>.so
        std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
        const std::string prefix = "libaigym_torch";
        if (name.rfind(prefix, 0) != 0) name = prefix + ".linux.debug.x86_64.so";
        const std::string model_library = here + "/libaigym_torch_model" + name.substr(prefix.size());
        void *handle = dlopen(model_library.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!handle) {
            const char *error = dlerror();
            report("godot-aigym: cannot load the TorchScript library " + model_library + ": " +
                   (error ? error : "unknown error") + " (rebuild with `godot-aigym setup`)");
            return false;
        }
        auto entry = reinterpret_cast<GDExtensionInitializationFunction>(dlsym(handle, kEntrySymbol));
        if (!entry) {
            report("godot-aigym: " + model_library + " has no entry symbol " + kEntrySymbol + " (rebuild it)");
            return false;
        }
        return entry(get_proc_address, library, r_initialization);
    } catch (...) {
        report("godot-aigym: loading the TorchScript library failed with a C++ exception");
        return false;
    }
}
