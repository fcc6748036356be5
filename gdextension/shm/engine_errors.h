// The errors the engine logged since it last answered the host (posted a semaphore), so that a
// host blocked on an engine that stopped on an error learns of it instead of waiting for ever.
// cAigymErrorLog (a Logger, Godot >= 4.5) records every error the engine logs; every post by
// the engine (cSharedMemorySemaphore.post, cStepChannel.answer) marks them answered; a wait
// that blocks for good with errors unanswered publishes the first one in the chunk's engine
// record (aigym_shm_layout.h) for the host to raise (docs/FAILURE_MODEL.md, "Script errors").
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "binding/class_db.h"

namespace aigym {

namespace shm::engine_errors {

// Errors logged since the last post (process-wide: the engine is one process).
extern std::atomic<uint32_t> unanswered;

// Called by every post of the engine: the host has its answer, earlier errors did not stop it.
// One relaxed load on the step path; a store only after an error.
inline void note_post() {
    if (unanswered.load(std::memory_order_relaxed) != 0) unanswered.store(0, std::memory_order_relaxed);
}

// Records one logged error ("what (file:line, function)"); the first since the last post is kept.
void note_error(const std::string &text);

// The first error since the last post and how many there were; false when there were none.
bool first_unanswered(std::string &text, uint32_t &count);

// Registers cAigymErrorLog at library initialisation where the engine has Logger (>= 4.5), and
// adds it to the engine's loggers (removed at deinit).
void register_log_class();
// Adds the logger once (idempotent: also called on the first attach to a chunk).
void install_log();
void uninstall_log();

}  // namespace shm::engine_errors

// The engine's Logger for the host: counts every error (not warnings) the engine logs.
class cAigymErrorLog : public gd::ExtensionObject {
  public:
    static constexpr const char *kClassName = "cAigymErrorLog";
    static constexpr const char *kParentName = "Logger";
    static void bind(gd::ClassBinder<cAigymErrorLog> &b);

    void _log_error(std::string function, std::string file, int64_t line, std::string code, std::string rationale,
                    bool editor_notify, int64_t error_type, gd::Array script_backtraces);
};

}  // namespace aigym
