// cBindingProbe: a small class that exercises every conversion and failure path of the binding
// layer, used by the test-suite (tests/binding). It lives in the test-only libaigym_probe.
#pragma once

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "binding/class_db.h"

namespace aigym {

class cBindingProbe : public gd::ExtensionObject {
  public:
    static constexpr const char *kClassName = "cBindingProbe";
    static constexpr const char *kParentName = "RefCounted";
    static void bind(gd::ClassBinder<cBindingProbe> &b);

    cBindingProbe() {
        if (fail_next_construction_.exchange(false)) throw std::runtime_error("cBindingProbe: constructor failure armed by the test");
        ++live_;
    }
    ~cBindingProbe() override { --live_; }

    std::string describe() const;
    int64_t echo_int(int64_t v) const { return v; }
    double echo_float(double v) const { return v; }
    bool echo_bool(bool v) const { return v; }
    std::string echo_string(std::string v) const { return v; }
    int64_t string_name_length(gd::StringName v) const { return static_cast<int64_t>(v.utf8().size()); }
    int32_t add_int32(int32_t a, int32_t b) const { return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b)); }
    float half_float(float v) const { return v * 0.5f; }
    gd::Variant echo_variant(gd::Variant v) const { return v; }
    gd::PackedInt32Array reverse_int32(gd::PackedInt32Array values) const;
    gd::PackedFloat32Array scale_float32(gd::PackedFloat32Array values, double factor) const;
    double sum_float32(gd::PackedFloat32Array values) const;
    gd::PackedByteArray xor_bytes(gd::PackedByteArray values, int64_t key) const;
    gd::PackedStringArray split_words(std::string text) const;

    void set_counter(int64_t v) { counter_ = v; }
    int64_t get_counter() const { return counter_; }
    gd::Ref<cBindingProbe> make_child(int64_t counter) const;
    int64_t counter_of(cBindingProbe *other) const;
    void fail(std::string message) const;
    int64_t live_instances() const { return live_.load(); }
    // The next cBindingProbe constructor throws (tests the `create` firewall).
    void arm_construction_failure() const { fail_next_construction_ = true; }

  private:
    int64_t counter_ = 0;
    static inline std::atomic<int64_t> live_{0};
    static inline std::atomic<bool> fail_next_construction_{false};
};

}  // namespace aigym
