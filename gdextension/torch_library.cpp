// Entry point of the TorchScript library: cTorchModelData, its .jit loader, and cTorchModel.
#include "binding/entry.h"

namespace {
void register_torch() {}
void unregister_torch() {}
}  // namespace

AIGYM_GDEXTENSION_ENTRY(aigym_torch_library_init, register_torch, unregister_torch)
