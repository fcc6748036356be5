// cTorchModel: runs a TorchScript model (a cTorchModelData) on float inputs, natively.
//
//     var model := cTorchModel.new()
//     model.set_data(load("res://policy.jit"))
//     var action: PackedFloat32Array = model.run(observation)
//
// The model always receives a float32 tensor [rows, *input_shape]: rows = 1 for run() (as
// the seed did) and `rows` for run_batch(). input_shape defaults to what export_policy
// recorded, else to the flat [len(input)]. run() returns the first output tensor flattened;
// run_outputs() returns every output tensor (a tuple output, depth-first) as an Array of
// PackedFloat32Arrays. Every failure is logged and gives an empty result.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "binding/class_db.h"

namespace aigym {

class cTorchModelData;
namespace torchrt {
class Model;
class OutputSink;
}

class cTorchModel : public gd::ExtensionObject {
  public:
    static constexpr const char *kClassName = "cTorchModel";
    static constexpr const char *kParentName = "RefCounted";
    static void bind(gd::ClassBinder<cTorchModel> &b);

    void set_data(cTorchModelData *data);
    void init(cTorchModelData *data);  // the seed's name for set_data
    gd::Ref<cTorchModelData> get_data() const;
    bool is_loaded() const;

    gd::PackedFloat32Array run(gd::PackedFloat32Array input);
    gd::PackedFloat32Array run_batch(gd::PackedFloat32Array input, int64_t rows);
    gd::Array run_outputs(gd::PackedFloat32Array input);
    // Runs the model twice on zeros so that TorchScript's first-call optimisation (tens of ms)
    // happens now (e.g. during a loading screen) rather than in the first game frame.
    bool warmup();

    void set_input_shape(gd::PackedInt32Array shape);
    gd::PackedInt32Array get_input_shape() const;
    int64_t get_input_size() const;
    int64_t get_output_size() const;
    void set_num_threads(int64_t n);
    int64_t get_num_threads() const { return num_threads_.load(std::memory_order_relaxed); }

  private:
    struct State;  // what one call needs, replaced as a whole by set_data / set_input_shape
    std::shared_ptr<const State> state() const;
    void update_state(std::shared_ptr<const torchrt::Model> model, std::string source);
    // The loaded state and the input tensor's shape for `rows` rows, or null after logging why.
    std::shared_ptr<const State> prepare(const char *method, const gd::PackedFloat32Array &input, int64_t rows,
                                         std::vector<int64_t> &shape) const;
    // prepare() + one forward pass into `sink`; false after logging why (as cTorchModel.<method>).
    bool forward(const char *method, const gd::PackedFloat32Array &input, int64_t rows, bool all_outputs,
                 torchrt::OutputSink &sink) const;

    mutable std::mutex mutex_;
    std::shared_ptr<const State> state_;
    gd::Variant data_;                 // holds a reference: keeps the cTorchModelData alive
    cTorchModelData *data_ptr_ = nullptr;
    std::vector<int64_t> user_shape_;  // from set_input_shape; empty = the model's default
    std::atomic<int> num_threads_{1};
    std::atomic<int64_t> last_output_size_{-1};
};

}  // namespace aigym
