// The only translation unit that includes libtorch: deserialisation and forward() of a
// TorchScript module, behind the engine-free interface of torch_model_runtime.h.
#include "torch/torch_model_runtime.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <sstream>
#include <utility>

// The narrow headers, not <torch/script.h> (which pulls in the whole C++ frontend): this file
// is the one slow translation unit of the build, and these are all it uses.
#include <ATen/Parallel.h>
#include <ATen/core/ivalue.h>
#include <ATen/ops/from_blob.h>
#include <c10/core/InferenceMode.h>
#include <caffe2/serialize/read_adapter_interface.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/serialization/import.h>
#include <torch/version.h>

namespace aigym::torchrt {

namespace {

// Lets torch::jit::load read the archive in place: no istream, no copy of (possibly hundreds
// of MB of) model bytes.
class MemoryReader final : public caffe2::serialize::ReadAdapterInterface {
  public:
    MemoryReader(const uint8_t *bytes, size_t size) : bytes_(bytes), size_(size) {}
    size_t size() const override { return size_; }
    size_t read(uint64_t pos, void *buf, size_t n, const char *) const override {
        if (pos >= size_) return 0;
        n = std::min<size_t>(n, size_ - static_cast<size_t>(pos));
        std::memcpy(buf, bytes_ + pos, n);
        return n;
    }

  private:
    const uint8_t *bytes_;
    size_t size_;
};

std::string trim(std::string s) {
    const auto first = s.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) return {};
    const auto last = s.find_last_not_of(" \t\r\n");
    return s.substr(first, last - first + 1);
}

// libtorch messages span many lines (a TorchScript traceback, then the error). Keep the error:
// the text after the last "Error: " marker of the interpreter, else the first non-empty line.
std::string one_line(const std::string &message) {
    std::string text = message;
    for (const char *marker : {"RuntimeError: ", "ValueError: ", "TypeError: ", "IndexError: "}) {
        const auto at = text.rfind(marker);
        if (at != std::string::npos) {
            text = text.substr(at + std::strlen(marker));
            break;
        }
    }
    std::istringstream lines(text);
    std::string first;
    for (std::string line; std::getline(lines, line);) {
        first = trim(line);
        if (!first.empty()) break;
    }
    // The zip reader appends a paragraph of generic advice to its messages: drop it.
    const auto advice = first.find(" This is an internal miniz error.");
    if (advice != std::string::npos) first.erase(advice);
    return first;
}

std::string describe(const std::exception &e) {
    if (const auto *c10_error = dynamic_cast<const c10::Error *>(&e)) return one_line(c10_error->what_without_backtrace());
    return one_line(e.what());
}

std::vector<int64_t> parse_ints(const std::string &text) {
    std::vector<int64_t> out;
    std::istringstream in(text);
    for (std::string item; std::getline(in, item, ',');) {
        item = trim(item);
        if (item.empty()) continue;
        out.push_back(std::stoll(item));
    }
    return out;
}

// "key=value" lines; unknown keys are ignored so newer exporters stay readable.
ModelInfo parse_info(const std::string &text) {
    ModelInfo info;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        const auto eq = line.find('=');
        if (eq == std::string::npos) continue;
        const std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
        try {
            if (key == "input_shape") info.input_shape = parse_ints(value);
            else if (key == "output_sizes") info.output_sizes = parse_ints(value);
            else if (key == "exporter") info.exporter = value;
        } catch (const std::exception &) {
            // A malformed value only loses the hint; the model itself is fine.
        }
    }
    for (int64_t d : info.input_shape) {
        if (d <= 0) {
            info.input_shape.clear();
            break;
        }
    }
    return info;
}

const char *python_dtype(c10::ScalarType type) {
    switch (type) {
        case c10::ScalarType::Long: return "torch.int64";
        case c10::ScalarType::Int: return "torch.int32";
        case c10::ScalarType::Short: return "torch.int16";
        case c10::ScalarType::Char: return "torch.int8";
        case c10::ScalarType::Byte: return "torch.uint8";
        case c10::ScalarType::Bool: return "torch.bool";
        case c10::ScalarType::ComplexFloat: return "torch.complex64";
        case c10::ScalarType::ComplexDouble: return "torch.complex128";
        default: return c10::toString(type);
    }
}

class TorchModel final : public Model {
  public:
    TorchModel(torch::jit::Module module, ModelInfo info)
        : module_(std::move(module)), forward_(module_.get_method("forward")), info_(std::move(info)) {}

    const ModelInfo &info() const override { return info_; }

    std::string forward(const float *input, const int64_t *shape, size_t rank, int num_threads, bool all_outputs,
                        OutputSink &sink) const override {
        try {
            if (num_threads > 0 && at::get_num_threads() != num_threads) at::set_num_threads(num_threads);
            c10::InferenceMode inference;
            at::Tensor x = at::from_blob(const_cast<float *>(input), c10::IntArrayRef(shape, rank),
                                         at::TensorOptions().dtype(at::kFloat));
            std::vector<c10::IValue> args;
            args.emplace_back(std::move(x));
            c10::IValue out;
            try {
                out = forward_(std::move(args));
            } catch (const std::exception &e) {
                return "the model's forward() failed: " + describe(e);
            }
            size_t index = 0;
            bool done = false;
            std::string error = deliver(out, all_outputs, sink, index, done);
            if (error.empty() && index == 0) error = "the model returned no tensor (" + tag(out) + ")";
            return error;
        } catch (const std::exception &e) {
            return describe(e);
        }
    }

  private:
    static std::string tag(const c10::IValue &v) { return v.tagKind(); }

    // Walks a tensor or (nested) tuple/list of tensors depth-first, handing each to the sink.
    static std::string deliver(const c10::IValue &v, bool all_outputs, OutputSink &sink, size_t &index, bool &done) {
        if (v.isTensor()) {
            at::Tensor t = v.toTensor();
            if (!t.is_floating_point()) {
                return "output " + std::to_string(index) + " is a " + python_dtype(t.scalar_type()) +
                       " tensor; outputs must be floating point (cast it in the model, e.g. `.float()`)";
            }
            if (!t.device().is_cpu()) t = t.cpu();
            if (t.scalar_type() != at::kFloat) t = t.to(at::kFloat);
            t = t.contiguous();
            sink.output(index, t.const_data_ptr<float>(), t.numel());
            ++index;
            done = !all_outputs;
            return {};
        }
        if (v.isTuple() || v.isList()) {
            auto visit = [&](const auto &elements) -> std::string {
                for (const c10::IValue &element : elements) {
                    std::string error = deliver(element, all_outputs, sink, index, done);
                    if (!error.empty() || done) return error;
                }
                return {};
            };
            return v.isTuple() ? visit(v.toTupleRef().elements()) : visit(v.toListRef());
        }
        return "the model returned a " + tag(v) + " where a tensor or a tuple/list of tensors was expected";
    }

    torch::jit::Module module_;
    torch::jit::Method forward_;
    ModelInfo info_;
};

}  // namespace

std::shared_ptr<Model> Model::load(const uint8_t *bytes, size_t size, std::string &error) {
    static const uint8_t kZipMagic[4] = {'P', 'K', 3, 4};
    if (size < sizeof kZipMagic || std::memcmp(bytes, kZipMagic, sizeof kZipMagic) != 0) {
        error = size == 0 ? "not a TorchScript archive: the data is empty"
                          : "not a TorchScript archive: torch.jit.save writes a zip file, these " + std::to_string(size) +
                                " bytes are not one";
        return nullptr;
    }
    try {
        torch::jit::ExtraFilesMap extra{{kInfoFileName, ""}};
        auto reader = std::make_shared<MemoryReader>(bytes, size);
        torch::jit::Module module = torch::jit::load(reader, c10::Device(c10::kCPU), extra);
        module.eval();
        if (!module.find_method("forward")) {
            error = "the TorchScript module has no forward() method";
            return nullptr;
        }
        return std::make_shared<TorchModel>(std::move(module), parse_info(extra[kInfoFileName]));
    } catch (const std::exception &e) {
        const std::string what = describe(e);
        if (what.find("failed locating file") != std::string::npos || what.find("file not found") != std::string::npos) {
            error = "a zip archive but not a TorchScript module (saved with torch.save instead of torch.jit.save or "
                    "godot_aigym.export_policy?): " + what;
        } else {
            error = "cannot deserialise the TorchScript archive (corrupt or truncated file?): " + what;
        }
        return nullptr;
    }
}

int current_num_threads() { return at::get_num_threads(); }

std::string libtorch_version() {
    return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
           std::to_string(TORCH_VERSION_PATCH);
}

}  // namespace aigym::torchrt
