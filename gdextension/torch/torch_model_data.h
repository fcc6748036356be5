// cTorchModelData: a Resource holding the bytes of a TorchScript archive, and the
// ResourceFormatLoader that makes `load("res://policy.jit")` / `preload(...)` produce one.
//
// Loading the resource only reads the file (cheap, no libtorch): the module is deserialised
// once, on first use by a cTorchModel, and shared by every cTorchModel using this data.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "binding/class_db.h"

namespace aigym {

namespace torchrt {
class Model;
}

class cTorchModelData : public gd::ExtensionObject {
  public:
    static constexpr const char *kClassName = "cTorchModelData";
    static constexpr const char *kParentName = "Resource";
    static void bind(gd::ClassBinder<cTorchModelData> &b);

    // The seed's API; `data` is the property over them.
    void set_array(gd::PackedByteArray bytes);
    gd::PackedByteArray get_array() const;
    int64_t get_size() const;

    // Where the bytes came from, for messages ("res://policy.jit", or "<memory>").
    std::string source() const;
    void set_source(std::string path);

    // The deserialised module (built on first call, then cached until set_array), or null with
    // `error` set. Thread-safe.
    std::shared_ptr<const torchrt::Model> model(std::string &error);

  private:
    mutable std::mutex mutex_;
    gd::PackedByteArray bytes_;
    std::string source_;
    std::shared_ptr<const torchrt::Model> model_;
    std::string model_error_;
    bool model_tried_ = false;
};

// Registered for the "jit" extension at extension initialisation (cheap: no libtorch work).
class cTorchModelLoader : public gd::ExtensionObject {
  public:
    static constexpr const char *kClassName = "cTorchModelLoader";
    static constexpr const char *kParentName = "ResourceFormatLoader";
    static void bind(gd::ClassBinder<cTorchModelLoader> &b);

    gd::PackedStringArray _get_recognized_extensions() const;
    bool _handles_type(gd::StringName type) const;
    gd::String _get_resource_type(gd::String path) const;
    gd::Variant _load(gd::String path, gd::String original_path, bool use_sub_threads, int64_t cache_mode) const;

    // Adds one loader to the engine's ResourceLoader / removes it (extension init / deinit).
    static void install();
    static void uninstall();
};

}  // namespace aigym
