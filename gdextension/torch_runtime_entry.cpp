// Entry point of the TorchScript runtime library (libaigym_torch_runtime.*, linked against
// libtorch): one C function returning the table of torch_model_runtime.h's functions. The class
// library opens this library on the first use of a model (torch/torch_runtime_opener.cpp),
// after it has found and opened libtorch; nothing here touches the engine.
#include "torch/torch_model_runtime.h"

namespace {
const aigym::torchrt::RuntimeApi kApi{
    aigym::torchrt::kRuntimeAbi,
    &aigym::torchrt::Model::load,
    &aigym::torchrt::current_num_threads,
    &aigym::torchrt::libtorch_version,
};
}  // namespace

extern "C" __attribute__((visibility("default"))) const aigym::torchrt::RuntimeApi *aigym_torch_runtime_api() noexcept {
    return &kApi;
}
