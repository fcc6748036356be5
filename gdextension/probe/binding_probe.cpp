#include "probe/binding_probe.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "binding/api.h"
#include "binding/log.h"
#include "version.h"

namespace aigym {

void cBindingProbe::bind(gd::ClassBinder<cBindingProbe> &b) {
    b.method<&cBindingProbe::describe>("describe")
        .method<&cBindingProbe::echo_int>("echo_int", {"value"})
        .method<&cBindingProbe::echo_float>("echo_float", {"value"})
        .method<&cBindingProbe::echo_bool>("echo_bool", {"value"})
        .method<&cBindingProbe::echo_string>("echo_string", {"value"})
        .method<&cBindingProbe::string_name_length>("string_name_length", {"value"})
        .method<&cBindingProbe::add_int32>("add_int32", {"a", "b"})
        .method<&cBindingProbe::half_float>("half_float", {"value"})
        .method<&cBindingProbe::echo_variant>("echo_variant", {"value"})
        .method<&cBindingProbe::reverse_int32>("reverse_int32", {"values"})
        .method<&cBindingProbe::scale_float32>("scale_float32", {"values", "factor"})
        .method<&cBindingProbe::sum_float32>("sum_float32", {"values"})
        .method<&cBindingProbe::xor_bytes>("xor_bytes", {"values", "key"})
        .method<&cBindingProbe::split_words>("split_words", {"text"})
        .method<&cBindingProbe::set_counter>("set_counter", {"value"})
        .method<&cBindingProbe::get_counter>("get_counter")
        .method<&cBindingProbe::make_child>("make_child", {"counter"})
        .method<&cBindingProbe::counter_of>("counter_of", {"other"})
        .method<&cBindingProbe::fail>("fail", {"message"})
        .method<&cBindingProbe::live_instances>("live_instances")
        .method<&cBindingProbe::arm_construction_failure>("arm_construction_failure")
        .property("counter", GDEXTENSION_VARIANT_TYPE_INT, "set_counter", "get_counter");
}

std::string cBindingProbe::describe() const {
    return std::string("godot-aigym ") + AIGYM_VERSION + " extension running in " + gd::api.version.string;
}

gd::PackedInt32Array cBindingProbe::reverse_int32(gd::PackedInt32Array values) const {
    auto span = values.view_mut();
    std::reverse(span.begin(), span.end());
    return values;
}

gd::PackedFloat32Array cBindingProbe::scale_float32(gd::PackedFloat32Array values, double factor) const {
    for (float &v : values.view_mut()) v = static_cast<float>(v * factor);
    return values;
}

double cBindingProbe::sum_float32(gd::PackedFloat32Array values) const {
    double sum = 0;
    for (float v : values.view()) sum += v;
    return sum;
}

gd::PackedByteArray cBindingProbe::xor_bytes(gd::PackedByteArray values, int64_t key) const {
    for (uint8_t &v : values.view_mut()) v ^= static_cast<uint8_t>(key);
    return values;
}

gd::PackedStringArray cBindingProbe::split_words(std::string text) const {
    std::istringstream in(text);
    std::vector<std::string> words;
    for (std::string w; in >> w;) words.push_back(w);
    gd::PackedStringArray out;
    out.resize(static_cast<int64_t>(words.size()));
    auto span = out.view_mut();
    for (size_t i = 0; i < words.size(); ++i) span[i] = gd::String(words[i]);
    return out;
}

gd::Ref<cBindingProbe> cBindingProbe::make_child(int64_t counter) const {
    auto *child = gd::instantiate<cBindingProbe>();
    child->set_counter(counter);
    return {child};
}

int64_t cBindingProbe::counter_of(cBindingProbe *other) const {
    if (!other) {
        AIGYM_ERROR("cBindingProbe.counter_of: 'other' must be a cBindingProbe, got null");
        return -1;
    }
    return other->counter_;
}

void cBindingProbe::fail(std::string message) const { throw std::runtime_error(message); }

}  // namespace aigym
