// Entry point of the TorchScript library: cTorchModelData, its .jit loader, and cTorchModel.
//
// Initialisation also runs during `--import` and in the editor, so it only registers classes
// and one ResourceFormatLoader: no libtorch work happens until a model is first used.
#include "binding/entry.h"
#include "torch/torch_model.h"
#include "torch/torch_model_data.h"

namespace {
void register_torch() {
    aigym::gd::register_class<aigym::cTorchModelData>();
    aigym::gd::register_class<aigym::cTorchModelLoader>();
    aigym::gd::register_class<aigym::cTorchModel>();
    aigym::cTorchModelLoader::install();
}
void unregister_torch() { aigym::cTorchModelLoader::uninstall(); }
}  // namespace

AIGYM_GDEXTENSION_ENTRY(aigym_torch_library_init, register_torch, unregister_torch)
