// Entry point of the core extension library: the shared-memory classes and the binding probe.
// (TorchScript lives in its own library so that games and tests without it skip libtorch.)
#include "binding/entry.h"
#include "probe/binding_probe.h"
#include "shm/persistent_tensor.h"
#include "shm/shared_memory.h"
#include "shm/shared_memory_semaphore.h"

namespace {
void register_core() {
    using namespace aigym;
    gd::register_class<cBindingProbe>();
    gd::register_class<cPersistentIntTensor>();
    gd::register_class<cPersistentFloatTensor>();
    gd::register_class<cPersistentUintTensor>();
    gd::register_class<cSharedMemorySemaphore>();
    gd::register_class<cSharedMemory>();
}
void unregister_core() {}
}  // namespace

AIGYM_GDEXTENSION_ENTRY(aigym_core_library_init, register_core, unregister_core)
