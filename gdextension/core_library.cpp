// Entry point of the core extension library: the shared-memory classes and the binding probe.
// (TorchScript lives in its own library so that games and tests without it skip libtorch.)
#include "binding/entry.h"
#include "probe/binding_probe.h"

namespace {
void register_core() { aigym::gd::register_class<aigym::cBindingProbe>(); }
void unregister_core() {}
}  // namespace

AIGYM_GDEXTENSION_ENTRY(aigym_core_library_init, register_core, unregister_core)
