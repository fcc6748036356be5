// The library godot_aigym_torch.gdextension names: finds libtorch, then loads the TorchScript
// library (libaigym_torch_model.*, linked against libtorch) and hands the engine's entry call
// over to it.
//
// Why a loader: the built libraries carry no path into the build machine (RUNPATH is only
// $ORIGIN-relative), so libtorch must be found at load time. The search, first hit wins:
//   1. $GODOT_AIGYM_LIBTORCH_DIR (when set, it must hold libtorch: no silent fallback);
//   2. <this library's folder>/libtorch/   (a shipped game: godot_aigym.ship.copy_libtorch);
//   3. the folder named in <this library's folder>/libtorch_dir.txt (written by
//      `godot-aigym setup`: the torch wheel of the Python environment that built us);
//   4. the system's library search (LD_LIBRARY_PATH, ld.so.cache).
// libtorch's libraries are opened by full path; libaigym_torch_model's DT_NEEDED entries
// (libtorch.so, libtorch_cpu.so, libc10.so) then resolve to them by soname.
//
// Not found: one error naming every place searched and the fix; the library still reports
// success with nothing registered, so cTorchModel is simply unavailable (no crash, no engine
// "Error loading extension"). This file uses only the C interface: no binding layer, no libtorch.
#include <dlfcn.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <gdextension_interface.h>

namespace {

constexpr const char *kEnvVar = "GODOT_AIGYM_LIBTORCH_DIR";
constexpr const char *kShippedFolder = "libtorch";
constexpr const char *kRecordFile = "libtorch_dir.txt";
constexpr const char *kEntrySymbol = "aigym_torch_model_library_init";
// Opened in dependency order; the rest of libtorch's closure (libgomp) follows their RUNPATH ($ORIGIN).
const char *const kTorchLibraries[] = {"libc10.so", "libtorch_cpu.so", "libtorch.so"};

GDExtensionInterfacePrintErrorWithMessage print_error = nullptr;

void report(const std::string &message) {
    if (print_error) {
        print_error(message.c_str(), message.c_str(), "aigym_torch_library_init", __FILE__, __LINE__, false);
    } else {
        std::fprintf(stderr, "ERROR: %s\n", message.c_str());
    }
}

bool is_file(const std::string &path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string own_folder() {
    Dl_info info{};
    if (!dladdr(reinterpret_cast<void *>(&own_folder), &info) || !info.dli_fname) return ".";
    const std::string path = info.dli_fname;
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string own_file_name() {
    Dl_info info{};
    if (!dladdr(reinterpret_cast<void *>(&own_file_name), &info) || !info.dli_fname) return "";
    const std::string path = info.dli_fname;
    return path.substr(path.rfind('/') + 1);
}

// Opens libtorch from `folder` (empty: the system search); on failure `why` says what failed.
bool open_libtorch(const std::string &folder, std::string &why) {
    for (const char *name : kTorchLibraries) {
        const std::string path = folder.empty() ? name : folder + "/" + name;
        if (!folder.empty() && !is_file(path)) {
            why = path + " does not exist";
            return false;
        }
        if (!dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) {  // kept open for the process's life
            const char *error = dlerror();
            why = error ? error : ("cannot open " + path);
            return false;
        }
    }
    return true;
}

struct Candidate {
    std::string description;  // for the error message
    std::string folder;       // empty: the system search
    bool usable = true;       // false: nothing to try (the record file is absent)
};

std::vector<Candidate> candidates(const std::string &here) {
    std::vector<Candidate> list;
    if (const char *env = std::getenv(kEnvVar); env && *env) {
        list.push_back({std::string("$") + kEnvVar + " = " + env, env});
        return list;
    }
    list.push_back({here + "/" + kShippedFolder + "/ (shipped copy)", here + "/" + kShippedFolder});
    std::ifstream record(here + "/" + kRecordFile);
    std::string recorded;
    if (record && std::getline(record, recorded) && !recorded.empty()) {
        list.push_back({recorded + " (recorded by `godot-aigym setup` in " + here + "/" + kRecordFile + ")", recorded});
    } else {
        list.push_back({here + "/" + kRecordFile + " (written by `godot-aigym setup`)", "", false});
    }
    list.push_back({"the system library search (LD_LIBRARY_PATH, ld.so.cache)", ""});
    return list;
}

void no_op(void *, GDExtensionInitializationLevel) {}

}  // namespace

extern "C" __attribute__((visibility("default"))) GDExtensionBool aigym_torch_library_init(
    GDExtensionInterfaceGetProcAddress get_proc_address, GDExtensionClassLibraryPtr library,
    GDExtensionInitialization *r_initialization) noexcept {
    try {
        print_error = reinterpret_cast<GDExtensionInterfacePrintErrorWithMessage>(
            reinterpret_cast<void *>(get_proc_address("print_error_with_message")));
        const std::string here = own_folder();
        std::string searched;
        bool found = false;
        for (const Candidate &c : candidates(here)) {
            std::string why = "absent";
            if (c.usable && open_libtorch(c.folder, why)) {
                found = true;
                break;
            }
            searched += "\n  - " + c.description + ": " + why;
        }
        if (!found) {
            report(std::string("godot-aigym: libtorch not found, so cTorchModel and cTorchModelData are unavailable. "
                               "Searched:") +
                   searched +
                   "\nFix: run `godot-aigym setup` in the Python environment that has torch (it records the wheel's "
                   "torch/lib), set " + kEnvVar + " to a folder holding libtorch.so, libtorch_cpu.so and libc10.so, "
                   "or ship them in " + here + "/" + kShippedFolder +
                   "/ with godot_aigym.ship.copy_libtorch() (`godot-aigym export` does).");
            r_initialization->minimum_initialization_level = GDEXTENSION_INITIALIZATION_SCENE;
            r_initialization->userdata = nullptr;
            r_initialization->initialize = &no_op;
            r_initialization->deinitialize = &no_op;
            return true;
        }
        // libaigym_torch.<platform...>.so -> libaigym_torch_model.<platform...>.so
        std::string name = own_file_name();
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
