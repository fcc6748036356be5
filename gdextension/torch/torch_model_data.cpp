#include "torch/torch_model_data.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "binding/engine.h"
#include "binding/log.h"
#include "torch/torch_model_runtime.h"
#include "torch/torch_runtime_opener.h"

namespace aigym {

// ---- cTorchModelData ------------------------------------------------------------------------

void cTorchModelData::bind(gd::ClassBinder<cTorchModelData> &b) {
    b.method<&cTorchModelData::set_array>("set_array", {"array"})
        .method<&cTorchModelData::get_array>("get_array")
        .method<&cTorchModelData::get_size>("get_size")
        .property("data", GDEXTENSION_VARIANT_TYPE_PACKED_BYTE_ARRAY, "set_array", "get_array");
}

void cTorchModelData::set_array(gd::PackedByteArray bytes) {
    std::lock_guard lock(mutex_);
    bytes_ = std::move(bytes);
    model_.reset();
    model_error_.clear();
    model_tried_ = false;
}

gd::PackedByteArray cTorchModelData::get_array() const {
    std::lock_guard lock(mutex_);
    return bytes_;
}

int64_t cTorchModelData::get_size() const {
    std::lock_guard lock(mutex_);
    return bytes_.size();
}

std::string cTorchModelData::source() const {
    std::lock_guard lock(mutex_);
    return source_.empty() ? std::string("<memory>") : "'" + source_ + "'";
}

void cTorchModelData::set_source(std::string path) {
    std::lock_guard lock(mutex_);
    source_ = std::move(path);
}

std::shared_ptr<const torchrt::Model> cTorchModelData::model(std::string &error) {
    std::lock_guard lock(mutex_);
    if (!model_tried_) {
        model_tried_ = true;
        // The lock keeps bytes_ (and so the memory the reader views) unchanged during the load.
        // The first model of the process loads libtorch here (torch_runtime_opener.h).
        if (const torchrt::RuntimeApi *api = torchrt::runtime(model_error_)) {
            const auto view = bytes_.view();
            model_ = api->load(view.data(), view.size(), model_error_);
        }
    }
    if (!model_) error = model_error_;
    return model_;
}

// ---- cTorchModelLoader ---------------------------------------------------------------------

namespace {
// The one installed loader; a Variant holding a RefCounted keeps it alive.
gd::Variant *installed_loader = nullptr;

constexpr int64_t kErrFileCorrupt = 16;  // engine Error ERR_FILE_CORRUPT

bool has_jit_extension(const std::string &path) {
    const auto dot = path.rfind('.');
    if (dot == std::string::npos || path.find('/', dot) != std::string::npos) return false;
    std::string ext = path.substr(dot + 1);
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return ext == "jit";
}
}  // namespace

void cTorchModelLoader::bind(gd::ClassBinder<cTorchModelLoader> &b) {
    b.virtual_override<&cTorchModelLoader::_get_recognized_extensions>("_get_recognized_extensions")
        .virtual_override<&cTorchModelLoader::_handles_type>("_handles_type")
        .virtual_override<&cTorchModelLoader::_get_resource_type>("_get_resource_type")
        .virtual_override<&cTorchModelLoader::_load>("_load");
}

gd::PackedStringArray cTorchModelLoader::_get_recognized_extensions() const {
    gd::PackedStringArray out;
    out.resize(1);
    out.view_mut()[0] = gd::String("jit");
    return out;
}

bool cTorchModelLoader::_handles_type(gd::StringName type) const {
    // The type we produce and its ancestors: load(path, "Resource") must find us too.
    const std::string name = type.utf8();
    return name == cTorchModelData::kClassName || name == "Resource" || name == "RefCounted" || name == "Object";
}

gd::String cTorchModelLoader::_get_resource_type(gd::String path) const {
    // Asked about every path the engine meets: answer only for ours.
    return has_jit_extension(path.utf8()) ? gd::String(cTorchModelData::kClassName) : gd::String();
}

gd::Variant cTorchModelLoader::_load(gd::String path, gd::String original_path, bool, int64_t) const {
    int64_t error = 0;
    gd::PackedByteArray bytes = gd::engine::file_get_as_bytes(path, error);
    const std::string name = original_path.utf8().empty() ? path.utf8() : original_path.utf8();
    if (error != 0) {
        const char *why = error == 7 ? "file not found" : error == 10 ? "no permission" : "cannot open the file";
        AIGYM_ERROR("cTorchModelData: cannot read '" + name + "': " + why + " (engine error " + std::to_string(error) + ")");
        return gd::Variant(error);
    }
    auto *data = gd::instantiate<cTorchModelData>();
    if (!data) {
        AIGYM_ERROR("cTorchModelData: cannot instantiate the resource for '" + name + "'");
        return gd::Variant(kErrFileCorrupt);
    }
    gd::Variant resource = gd::Variant::from_object(data->owner());  // owns the new object from here
    data->set_array(std::move(bytes));
    data->set_source(name);
    return resource;
}

void cTorchModelLoader::install() {
    if (installed_loader) return;
    auto *loader = gd::instantiate<cTorchModelLoader>();
    if (!loader) {
        AIGYM_ERROR("godot_aigym torch: cannot instantiate cTorchModelLoader; .jit files will not load");
        return;
    }
    installed_loader = new gd::Variant(gd::Variant::from_object(loader->owner()));
    gd::engine::add_resource_format_loader(loader->owner(), false);
}

void cTorchModelLoader::uninstall() {
    if (!installed_loader) return;
    gd::engine::remove_resource_format_loader(installed_loader->as_object());
    delete installed_loader;
    installed_loader = nullptr;
}

}  // namespace aigym
