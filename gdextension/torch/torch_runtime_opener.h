// Opens the TorchScript runtime library (libaigym_torch_runtime.*) on first use.
//
// Starting an engine with our addon must not cost libtorch's start-up (~0.6 s CPU: its static
// initialisers register thousands of operators), since most engines (environments, --import,
// the editor) never run a model. So the class library does not link libtorch: the first call
// that needs it finds libtorch (libtorch_search.h), opens the runtime library beside ours, and
// keeps its function table for the process's life.
#pragma once

#include <string>

#include "torch/torch_model_runtime.h"

namespace aigym::torchrt {

// The runtime's functions, loading libtorch and the runtime library on the first call (once,
// thread-safe). Null when they cannot be loaded; `error` then says why (every call repeats the
// first attempt's error: fixing the search needs a restart).
const RuntimeApi *runtime(std::string &error);

}  // namespace aigym::torchrt
