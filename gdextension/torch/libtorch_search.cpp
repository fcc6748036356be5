#include "torch/libtorch_search.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <vector>

namespace aigym::torchrt {

namespace {

constexpr const char *kShippedFolder = "libtorch";
constexpr const char *kRecordFile = "libtorch_dir.txt";
// Opened in dependency order; the rest of libtorch's closure (libgomp) follows their RUNPATH ($ORIGIN).
const char *const kTorchLibraries[] = {"libc10.so", "libtorch_cpu.so", "libtorch.so"};

bool is_file(const std::string &path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Opens libtorch from `folder` (empty: the system search); on failure `why` says what failed.
bool open_from(const std::string &folder, std::string &why) {
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
    if (const char *env = std::getenv(kLibtorchDirVariable); env && *env) {
        list.push_back({std::string("$") + kLibtorchDirVariable + " = " + env, env});
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

}  // namespace

bool open_libtorch(const std::string &here, std::string &error) {
    std::string searched;
    for (const Candidate &c : candidates(here)) {
        std::string why = "absent";
        if (c.usable && open_from(c.folder, why)) return true;
        searched += "\n  - " + c.description + ": " + why;
    }
    error = std::string("godot-aigym: libtorch not found, so cTorchModel cannot load or run a TorchScript model. "
                        "Searched:") +
            searched +
            "\nFix: run `godot-aigym setup` in the Python environment that has torch (it records the wheel's "
            "torch/lib), set " + kLibtorchDirVariable + " to a folder holding libtorch.so, libtorch_cpu.so and "
            "libc10.so, or ship them in " + here + "/" + kShippedFolder +
            "/ with godot_aigym.ship.copy_libtorch() (`godot-aigym export` does), then restart the engine.";
    return false;
}

}  // namespace aigym::torchrt
