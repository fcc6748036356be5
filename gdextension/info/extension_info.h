// cAigymExtension: what the core library is and which engine it runs in (the smoke test's line).
#pragma once

#include <string>

#include "binding/class_db.h"

namespace aigym {

class cAigymExtension : public gd::ExtensionObject {
  public:
    static constexpr const char *kClassName = "cAigymExtension";
    static constexpr const char *kParentName = "RefCounted";
    static void bind(gd::ClassBinder<cAigymExtension> &b);

    // "godot-aigym <version> extension running in <engine version string>"
    std::string describe() const;
    std::string get_version() const;
};

}  // namespace aigym
