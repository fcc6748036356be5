#include "torch/torch_runtime_opener.h"

#include <dlfcn.h>

#include <mutex>

#include "torch/libtorch_search.h"

namespace aigym::torchrt {

namespace {

std::once_flag loaded;
const RuntimeApi *api = nullptr;
std::string load_error;

// The path of this (class) library, libaigym_torch_model.<platform...>.so.
std::string own_path() {
    Dl_info info{};
    if (!dladdr(reinterpret_cast<void *>(&own_path), &info) || !info.dli_fname) return "";
    return info.dli_fname;
}

void load() {
    const std::string path = own_path();
    const auto slash = path.rfind('/');
    const std::string here = slash == std::string::npos ? "." : path.substr(0, slash);
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    const std::string prefix = "libaigym_torch_model";
    if (name.rfind(prefix, 0) != 0) name = prefix + ".linux.debug.x86_64.so";
    // libaigym_torch_model.<platform...>.so -> libaigym_torch_runtime.<platform...>.so
    const std::string library = here + "/libaigym_torch_runtime" + name.substr(prefix.size());
    if (!open_libtorch(here, load_error)) return;
    void *handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);  // kept open for the process's life
    if (!handle) {
        const char *why = dlerror();
        load_error = "godot-aigym: cannot load the TorchScript runtime library " + library + ": " +
                     (why ? why : "unknown error") + " (rebuild with `godot-aigym setup`)";
        return;
    }
    using Entry = const RuntimeApi *(*)();
    auto entry = reinterpret_cast<Entry>(dlsym(handle, kRuntimeEntrySymbol));
    const RuntimeApi *table = entry ? entry() : nullptr;
    if (!table || table->abi != kRuntimeAbi) {
        load_error = "godot-aigym: " + library + (entry ? " is from another build" : " has no entry symbol " +
                     std::string(kRuntimeEntrySymbol)) + " (rebuild with `godot-aigym setup`)";
        return;
    }
    api = table;
}

}  // namespace

const RuntimeApi *runtime(std::string &error) {
    try {
        std::call_once(loaded, [] {
            try {
                load();
            } catch (...) {  // std::string allocation: never out of a call that reports errors as strings
                load_error = "godot-aigym: loading libtorch failed with a C++ exception";
            }
        });
    } catch (...) {
        error = "godot-aigym: loading libtorch failed (std::call_once)";
        return nullptr;
    }
    if (!api) error = load_error;
    return api;
}

}  // namespace aigym::torchrt
