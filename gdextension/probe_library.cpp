// Entry point of the test-only probe library (tests/project/binding/aigym_probe.gdextension):
// cBindingProbe, which exercises every conversion and failure path of the binding layer. It
// is never part of the addon a game ships.
#include <array>
#include <string_view>

#include "binding/entry.h"
#include "probe/binding_probe.h"

namespace {
void register_probe() { aigym::gd::register_class<aigym::cBindingProbe>(); }
void unregister_probe() {}
constexpr std::array<std::string_view, 0> kNoDocs{};
}  // namespace

AIGYM_GDEXTENSION_ENTRY(aigym_probe_library_init, register_probe, unregister_probe, kNoDocs)
