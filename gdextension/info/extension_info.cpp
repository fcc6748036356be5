#include "info/extension_info.h"

#include "binding/api.h"
#include "version.h"

namespace aigym {

void cAigymExtension::bind(gd::ClassBinder<cAigymExtension> &b) {
    b.method<&cAigymExtension::describe>("describe").method<&cAigymExtension::get_version>("get_version");
}

std::string cAigymExtension::describe() const {
    return std::string("godot-aigym ") + AIGYM_VERSION + " extension running in " + gd::api.version.string;
}

std::string cAigymExtension::get_version() const { return AIGYM_VERSION; }

}  // namespace aigym
