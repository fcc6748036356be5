#include "shm/engine_errors.h"

#include <mutex>

#include "binding/api.h"
#include "binding/log.h"
#include "engine_api_facts.h"

namespace aigym {

namespace shm::engine_errors {

std::atomic<uint32_t> unanswered{0};

namespace {
std::mutex first_mutex;
std::string first_text;  // the first error since the last post (guarded by first_mutex)
bool log_class_registered = false;
gd::Variant *installed = nullptr;  // holds the logger while the engine has it

constexpr int64_t kErrorTypeWarning = 1;  // Logger.ERROR_TYPE_WARNING

// OS.add_logger / OS.remove_logger (Godot >= 4.5: absent from older engines' API, then
// the hashes are not generated and the feature is off).
void call_os_logger_method(const char *method, int64_t hash, GDExtensionObjectPtr logger) {
#ifdef AIGYM_HASH_OS_add_logger
    gd::StringName os("OS"), name(method);
    auto bind = gd::api.classdb_get_method_bind(os.ptr(), name.ptr(), hash);
    auto singleton = gd::api.global_get_singleton(os.ptr());
    if (!bind || !singleton) return;
    const GDExtensionConstTypePtr args[1] = {&logger};
    gd::api.object_method_bind_ptrcall(bind, singleton, args, nullptr);
#else
    (void)method;
    (void)hash;
    (void)logger;
#endif
}
}  // namespace

void note_error(const std::string &text) {
    std::lock_guard lock(first_mutex);
    if (unanswered.load(std::memory_order_relaxed) == 0) first_text = text;
    unanswered.fetch_add(1, std::memory_order_relaxed);
}

bool first_unanswered(std::string &text, uint32_t &count) {
    std::lock_guard lock(first_mutex);
    count = unanswered.load(std::memory_order_relaxed);
    if (count == 0) return false;
    text = first_text;
    return true;
}

void register_log_class() {
#ifdef AIGYM_HASH_OS_add_logger
    gd::StringName logger("Logger");
    if (!gd::api.classdb_get_class_tag(logger.ptr())) return;  // an engine before 4.5
    gd::register_class<cAigymErrorLog>();
    log_class_registered = true;
    install_log();  // now: errors the game logs while it loads (a script that fails to parse) count too
#endif
}

void install_log() {
    if (installed || !log_class_registered) return;
    auto *log = gd::instantiate<cAigymErrorLog>();
    if (!log) return;
    installed = new gd::Variant(gd::Variant::from_object(log->owner()));
#ifdef AIGYM_HASH_OS_add_logger
    call_os_logger_method("add_logger", AIGYM_HASH_OS_add_logger, log->owner());
#endif
}

void uninstall_log() {
    if (!installed) return;
#ifdef AIGYM_HASH_OS_remove_logger
    call_os_logger_method("remove_logger", AIGYM_HASH_OS_remove_logger, installed->as_object());
#endif
    delete installed;
    installed = nullptr;
}

}  // namespace shm::engine_errors

void cAigymErrorLog::bind(gd::ClassBinder<cAigymErrorLog> &b) {
    b.virtual_override<&cAigymErrorLog::_log_error>("_log_error");
}

namespace {
// Godot's compatibility renderer failing to read or write a shader cache file (one an engine
// killed mid-write, or another engine of the project writing it now, left half-written) compiles
// the shader from source instead: not an error of the game. As error_watch.gd.
bool shader_cache_miss(const std::string &function, const std::string &file) {
    static const std::string kFile = "drivers/gles3/shader_gles3.cpp";
    return file.size() >= kFile.size() && file.compare(file.size() - kFile.size(), kFile.size(), kFile) == 0 &&
           (function == "_load_from_cache" || function == "_save_to_cache");
}
}  // namespace

// May run on any thread. For a script error `file`/`line` are the script's; for push_error
// they are the engine's own, so the script's frame is not named (the text says what failed).
void cAigymErrorLog::_log_error(std::string function, std::string file, int64_t line, std::string code,
                                std::string rationale, bool, int64_t error_type, gd::Array) {
    if (error_type == shm::engine_errors::kErrorTypeWarning || shader_cache_miss(function, file)) return;
    const std::string &what = rationale.empty() ? code : rationale;
    shm::engine_errors::note_error(what + " (" + file + ":" + std::to_string(line) + ", " + function + ")");
}

}  // namespace aigym
