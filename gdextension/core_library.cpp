// Entry point of the core extension library: the shared-memory classes and cAigymExtension.
// (TorchScript lives in its own library so that games and tests without it skip libtorch; the
// test-only cBindingProbe in libaigym_probe, which only the test project loads.)
#include "binding/entry.h"
#include "doc_classes_core.gen.h"  // class reference XML from gdextension/doc_classes/core/
#include "info/extension_info.h"
#include "shm/engine_errors.h"
#include "shm/persistent_tensor.h"
#include "shm/shared_memory.h"
#include "shm/shared_memory_semaphore.h"
#include "shm/step_channel.h"

namespace {
void register_core() {
    using namespace aigym;
    gd::register_class<cAigymExtension>();
    gd::register_class<cPersistentIntTensor>();
    gd::register_class<cPersistentFloatTensor>();
    gd::register_class<cPersistentUintTensor>();
    gd::register_class<cSharedMemorySemaphore>();
    gd::register_class<cSharedMemory>();
    gd::register_class<cStepChannel>();
    shm::engine_errors::register_log_class();  // Godot >= 4.5
}
void unregister_core() { aigym::shm::engine_errors::uninstall_log(); }
}  // namespace

AIGYM_GDEXTENSION_ENTRY(aigym_core_library_init, register_core, unregister_core, aigym::docs::kCore)
