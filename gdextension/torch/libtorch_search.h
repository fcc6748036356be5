// Finding and opening libtorch at run time (docs/TORCH.md, "Finding libtorch").
//
// The built libraries carry no path into the build machine (RUNPATH is only $ORIGIN-relative),
// so libtorch is looked for when it is first needed, first hit wins:
//   1. $GODOT_AIGYM_LIBTORCH_DIR (when set, it must hold libtorch: no silent fallback);
//   2. <our libraries' folder>/libtorch/   (a shipped game: godot_aigym.ship.copy_libtorch);
//   3. the folder named in <our libraries' folder>/libtorch_dir.txt (written by
//      `godot-aigym setup`: the torch wheel of the Python environment that built us);
//   4. the system's library search (LD_LIBRARY_PATH, ld.so.cache).
// libtorch's libraries are opened by full path and kept open for the process's life; the
// runtime library's DT_NEEDED entries (libtorch.so, libtorch_cpu.so, libc10.so) then resolve
// to them by soname. Pure C++ (dlopen), no engine calls: the caller reports the error.
#pragma once

#include <string>

namespace aigym::torchrt {

inline constexpr const char *kLibtorchDirVariable = "GODOT_AIGYM_LIBTORCH_DIR";

// Opens libtorch from the first place of the search; `here` is the folder of our libraries.
// On failure returns false and sets `error` to one message naming every place searched and the fix.
bool open_libtorch(const std::string &here, std::string &error);

}  // namespace aigym::torchrt
