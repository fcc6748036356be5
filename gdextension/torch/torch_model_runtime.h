// The TorchScript runtime behind cTorchModel, as a small pure-C++ interface.
//
// libtorch's headers are heavy (one translation unit that includes torch/script.h takes ~20 s
// and ~1 GB to compile), so only torch_model_runtime.cpp sees them; the engine-facing class
// files use this header. Nothing here touches the engine either: errors come back as strings
// for the caller to report, and no C++ exception escapes.
//
// torch_model_runtime.cpp is its own library (libaigym_torch_runtime.*, the only one linked
// against libtorch), opened on first use of a model: the class library reaches it only through
// the RuntimeApi table below (torch_runtime_opener.h), so engines that never run a model never
// load libtorch (docs/TORCH.md, "When libtorch is loaded").
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace aigym::torchrt {

// What godot_aigym.export_policy stored next to the model (the archive's extra file
// "godot_aigym.txt"); empty for an archive written by plain torch.jit.save.
struct ModelInfo {
    std::vector<int64_t> input_shape;   // one sample, without the batch dimension
    std::vector<int64_t> output_sizes;  // floats per sample of each output tensor, in order
    std::string exporter;               // e.g. "godot_aigym 0.1.0, torch 2.13.0"
};

// The extra file export_policy writes and the runtime reads.
inline constexpr const char *kInfoFileName = "godot_aigym.txt";

// Receives the output tensors of one forward() call, flattened and as float32. `data` is valid
// during the call only; `numel` counts every float of the tensor (all rows).
class OutputSink {
  public:
    virtual ~OutputSink() = default;
    virtual void output(size_t index, const float *data, int64_t numel) = 0;
};

// A deserialised TorchScript module in inference (eval) mode. forward() may be called from
// several threads at once; the module is never modified after loading.
class Model {
  public:
    virtual ~Model() = default;

    // Deserialises a TorchScript archive (torch.jit.save's zip) straight from memory, without
    // copying the bytes (they only need to live during the call). On failure returns null and
    // sets `error` to a one-line explanation.
    static std::shared_ptr<Model> load(const uint8_t *bytes, size_t size, std::string &error);

    virtual const ModelInfo &info() const = 0;

    // Runs the model on one float32 tensor of `shape` (rank `rank`, batch dimension first)
    // that views `input` without a copy. The model must not modify its input in place.
    // `num_threads` > 0 sets libtorch's intra-op thread count for the calling thread first
    // (only when it differs); 0 leaves libtorch's setting alone. The output is a tensor, or a
    // (nested) tuple/list of tensors taken depth-first; `all_outputs` false delivers only the
    // first tensor. Every delivered tensor must be floating point (converted to float32).
    // Returns an empty string on success, else a one-line error message.
    virtual std::string forward(const float *input, const int64_t *shape, size_t rank, int num_threads, bool all_outputs,
                                OutputSink &sink) const = 0;
};

// libtorch's intra-op thread count on the calling thread.
int current_num_threads();

// The libtorch version the extension was built with ("2.13.0").
std::string libtorch_version();

// What the runtime library hands the class library: its entry symbol kRuntimeEntrySymbol is an
// `extern "C" const RuntimeApi *()`. `abi` guards against a stale runtime library from an older build.
struct RuntimeApi {
    uint32_t abi;
    std::shared_ptr<Model> (*load)(const uint8_t *bytes, size_t size, std::string &error);
    int (*current_num_threads)();
    std::string (*libtorch_version)();
};
inline constexpr uint32_t kRuntimeAbi = 1;
inline constexpr const char *kRuntimeEntrySymbol = "aigym_torch_runtime_api";

}  // namespace aigym::torchrt
