// Entry point of the TorchScript library: cTorchModelData, its .jit loader, and cTorchModel.
//
// The engine does not load this library itself: the small loader library named in
// godot_aigym_torch.gdextension (torch_loader/) opens this one and hands its entry call over to
// `aigym_torch_model_library_init` (see docs/TORCH.md).
//
// Initialisation also runs during `--import` and in the editor, so it only registers classes
// and one ResourceFormatLoader. This library does not link libtorch: libtorch and the runtime
// library are found and opened when a model is first loaded (torch/torch_runtime_opener.h).
#include "binding/entry.h"
#include "doc_classes_torch.gen.h"  // class reference XML from gdextension/doc_classes/torch/
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

AIGYM_GDEXTENSION_ENTRY(aigym_torch_model_library_init, register_torch, unregister_torch, aigym::docs::kTorch)
