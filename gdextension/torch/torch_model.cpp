#include "torch/torch_model.h"

#include <cstring>
#include <utility>

#include "binding/log.h"
#include "torch/torch_model_data.h"
#include "torch/torch_model_runtime.h"

namespace aigym {

namespace {
std::string shape_text(const std::vector<int64_t> &shape) {
    std::string out = "[";
    for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
    return out + "]";
}

// Keeps the first output tensor as a PackedFloat32Array.
class FirstOutput final : public torchrt::OutputSink {
  public:
    gd::PackedFloat32Array values;
    int64_t numel = -1;
    void output(size_t, const float *data, int64_t n) override {
        values.resize(n);
        if (n > 0) std::memcpy(values.data(), data, static_cast<size_t>(n) * sizeof(float));
        numel = n;
    }
};

// Collects every output tensor into an Array of PackedFloat32Arrays.
class AllOutputs final : public torchrt::OutputSink {
  public:
    gd::Array values;
    int64_t first_numel = -1;
    void output(size_t index, const float *data, int64_t n) override {
        gd::PackedFloat32Array one;
        one.resize(n);
        if (n > 0) std::memcpy(one.data(), data, static_cast<size_t>(n) * sizeof(float));
        values.append(gd::Variant(one));
        if (index == 0) first_numel = n;
    }
};
}  // namespace

struct cTorchModel::State {
    std::shared_ptr<const torchrt::Model> model;  // null: no model (none set, or it failed to load)
    std::string source;                           // the data's origin, for messages
    bool failed = false;                          // data was set but did not deserialise
    std::vector<int64_t> shape;                   // one sample (no batch dimension); empty = flat
    int64_t sample_size = 0;                      // product of `shape`; 0 when flat
};

void cTorchModel::bind(gd::ClassBinder<cTorchModel> &b) {
    b.method<&cTorchModel::set_data>("set_data", {"data"})
        .method<&cTorchModel::init>("init", {"data"})
        .method<&cTorchModel::get_data>("get_data")
        .method<&cTorchModel::is_loaded>("is_loaded")
        .method<&cTorchModel::run>("run", {"input"})
        .method<&cTorchModel::run_batch>("run_batch", {"input", "rows"})
        .method<&cTorchModel::run_outputs>("run_outputs", {"input"})
        .method<&cTorchModel::warmup>("warmup")
        .method<&cTorchModel::set_input_shape>("set_input_shape", {"shape"})
        .method<&cTorchModel::get_input_shape>("get_input_shape")
        .method<&cTorchModel::get_input_size>("get_input_size")
        .method<&cTorchModel::get_output_size>("get_output_size")
        .method<&cTorchModel::set_num_threads>("set_num_threads", {"threads"})
        .method<&cTorchModel::get_num_threads>("get_num_threads")
        .property("model_data", GDEXTENSION_VARIANT_TYPE_OBJECT, "set_data", "get_data", cTorchModelData::kClassName,
                  gd::kHintResourceType, cTorchModelData::kClassName)
        .property("input_shape", GDEXTENSION_VARIANT_TYPE_PACKED_INT32_ARRAY, "set_input_shape", "get_input_shape")
        .property("num_threads", GDEXTENSION_VARIANT_TYPE_INT, "set_num_threads", "get_num_threads");
}

// ---- Model and settings -----------------------------------------------------------------

std::shared_ptr<const cTorchModel::State> cTorchModel::state() const {
    std::lock_guard lock(mutex_);
    return state_;
}

void cTorchModel::update_state(std::shared_ptr<const torchrt::Model> model, std::string source) {
    // Called with mutex_ held.
    auto next = std::make_shared<State>();
    next->model = std::move(model);
    next->source = std::move(source);
    next->failed = data_ptr_ && !next->model;
    next->shape = user_shape_;
    if (next->shape.empty() && next->model) next->shape = next->model->info().input_shape;
    if (!next->shape.empty()) {
        next->sample_size = 1;
        for (int64_t d : next->shape) next->sample_size *= d;
    }
    state_ = std::move(next);
}

void cTorchModel::set_data(cTorchModelData *data) {
    std::shared_ptr<const torchrt::Model> model;
    std::string source;
    if (data) {
        std::string error;
        model = data->model(error);  // deserialised once per cTorchModelData, then shared
        source = data->source();
        if (!model) AIGYM_ERROR("cTorchModel.set_data: " + source + ": " + error);
    }
    std::lock_guard lock(mutex_);
    data_ = data ? gd::Variant::from_object(data->owner()) : gd::Variant();
    data_ptr_ = data;
    last_output_size_ = -1;
    update_state(std::move(model), std::move(source));
}

void cTorchModel::init(cTorchModelData *data) { set_data(data); }

gd::Ref<cTorchModelData> cTorchModel::get_data() const {
    std::lock_guard lock(mutex_);
    return {data_ptr_};
}

bool cTorchModel::is_loaded() const {
    auto s = state();
    return s && s->model;
}

void cTorchModel::set_input_shape(gd::PackedInt32Array shape) {
    std::vector<int64_t> dims;
    for (int32_t d : shape.view()) {
        if (d <= 0) {
            AIGYM_ERROR("cTorchModel.set_input_shape: every dimension must be positive, got " + std::to_string(d));
            return;
        }
        dims.push_back(d);
    }
    std::lock_guard lock(mutex_);
    user_shape_ = std::move(dims);
    last_output_size_ = -1;
    update_state(state_ ? state_->model : nullptr, state_ ? state_->source : std::string());
}

gd::PackedInt32Array cTorchModel::get_input_shape() const {
    auto s = state();  // null until set_data / set_input_shape: then the shape is the default (empty)
    std::vector<int32_t> dims;
    if (s) {
        for (int64_t d : s->shape) dims.push_back(static_cast<int32_t>(d));
    }
    return gd::PackedInt32Array(std::span<const int32_t>(dims));
}

int64_t cTorchModel::get_input_size() const {
    auto s = state();
    return s && s->sample_size > 0 ? s->sample_size : -1;
}

int64_t cTorchModel::get_output_size() const {
    const int64_t last = last_output_size_.load(std::memory_order_relaxed);
    if (last >= 0) return last;
    auto s = state();
    if (s && s->model && !s->model->info().output_sizes.empty()) return s->model->info().output_sizes[0];
    return -1;
}

void cTorchModel::set_num_threads(int64_t n) {
    if (n < 0 || n > 1024) {
        AIGYM_ERROR("cTorchModel.set_num_threads: expected 0 (libtorch's default) or 1..1024 threads, got " + std::to_string(n));
        return;
    }
    num_threads_.store(static_cast<int>(n), std::memory_order_relaxed);
}

// ---- Inference ----------------------------------------------------------------------------

std::shared_ptr<const cTorchModel::State> cTorchModel::prepare(const char *method, const gd::PackedFloat32Array &input,
                                                               int64_t rows, std::vector<int64_t> &shape) const {
    const std::string where = std::string("cTorchModel.") + method + ": ";
    auto s = state();
    if (!s || !s->model) {
        if (s && s->failed) {
            AIGYM_ERROR(where + "no model: " + s->source + " failed to load (see the error logged by set_data)");
        } else {
            AIGYM_ERROR(where + "no model loaded: call set_data() with a cTorchModelData (e.g. load(\"res://policy.jit\")) first");
        }
        return nullptr;
    }
    if (rows < 1) {
        AIGYM_ERROR(where + "rows must be at least 1, got " + std::to_string(rows));
        return nullptr;
    }
    const int64_t count = input.size();
    if (count == 0) {
        AIGYM_ERROR(where + "the input is empty");
        return nullptr;
    }
    shape.clear();
    shape.push_back(rows);
    if (s->sample_size > 0) {
        if (count != rows * s->sample_size) {
            std::string expected = std::to_string(s->sample_size);
            if (rows > 1) expected = std::to_string(rows) + " x " + expected + " = " + std::to_string(rows * s->sample_size);
            AIGYM_ERROR(where + "the input has " + std::to_string(count) + " values, the model expects " + expected +
                        " (input_shape " + shape_text(s->shape) + ")");
            return nullptr;
        }
        shape.insert(shape.end(), s->shape.begin(), s->shape.end());
    } else {
        if (count % rows != 0) {
            AIGYM_ERROR(where + std::to_string(count) + " values do not split into " + std::to_string(rows) + " equal rows");
            return nullptr;
        }
        shape.push_back(count / rows);
    }
    return s;
}

bool cTorchModel::forward(const char *method, const gd::PackedFloat32Array &input, int64_t rows, bool all_outputs,
                          torchrt::OutputSink &sink) const {
    std::vector<int64_t> shape;
    auto s = prepare(method, input, rows, shape);
    if (!s) return false;
    const std::string error = s->model->forward(input.view().data(), shape.data(), shape.size(),
                                                num_threads_.load(std::memory_order_relaxed), all_outputs, sink);
    if (!error.empty()) {
        AIGYM_ERROR(std::string("cTorchModel.") + method + ": " + error);
        return false;
    }
    return true;
}

gd::PackedFloat32Array cTorchModel::run(gd::PackedFloat32Array input) {
    FirstOutput sink;
    if (!forward("run", input, 1, false, sink)) return {};
    last_output_size_.store(sink.numel, std::memory_order_relaxed);
    return std::move(sink.values);
}

gd::PackedFloat32Array cTorchModel::run_batch(gd::PackedFloat32Array input, int64_t rows) {
    FirstOutput sink;
    if (!forward("run_batch", input, rows, false, sink)) return {};
    if (sink.numel % rows == 0) last_output_size_.store(sink.numel / rows, std::memory_order_relaxed);
    return std::move(sink.values);
}

gd::Array cTorchModel::run_outputs(gd::PackedFloat32Array input) {
    AllOutputs sink;
    if (!forward("run_outputs", input, 1, true, sink)) return {};
    if (sink.first_numel >= 0) last_output_size_.store(sink.first_numel, std::memory_order_relaxed);
    return std::move(sink.values);
}

bool cTorchModel::warmup() {
    auto s = state();
    if (s && s->model && s->sample_size == 0) {
        AIGYM_ERROR("cTorchModel.warmup: the input shape is unknown (the file has no export_policy metadata): "
                    "call set_input_shape() first");
        return false;
    }
    gd::PackedFloat32Array zeros;
    if (s && s->sample_size > 0) {
        zeros.resize(s->sample_size);
        for (float &v : zeros.view_mut()) v = 0.0f;
    }
    for (int i = 0; i < 2; ++i) {
        AllOutputs sink;
        if (!forward("warmup", zeros, 1, true, sink)) return false;
        // A run like any other: callers can check the output size before the first real input.
        if (sink.first_numel >= 0) last_output_size_.store(sink.first_numel, std::memory_order_relaxed);
    }
    return true;
}

}  // namespace aigym
