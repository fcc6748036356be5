// The base of every class the extension registers, and typed object references.
#pragma once

#include <type_traits>

#include <gdextension_interface.h>

namespace aigym::gd {

// A C++ object that extends an engine object (`owner`). The engine owns the lifetime: it
// creates us through the registered constructor and deletes us when the owner is freed.
class ExtensionObject {
  public:
    ExtensionObject() = default;
    ExtensionObject(const ExtensionObject &) = delete;
    ExtensionObject &operator=(const ExtensionObject &) = delete;
    virtual ~ExtensionObject() = default;

    GDExtensionObjectPtr owner() const { return owner_; }

  private:
    template <class T> friend struct ClassGlue;
    GDExtensionObjectPtr owner_ = nullptr;
};

// A reference to an object of one of our classes, as returned by a bound method: handing it
// to the engine gives the engine a (counted) reference. Null is a valid value.
template <class T>
struct Ref {
    static_assert(std::is_base_of_v<ExtensionObject, T>, "Ref<T> needs one of our classes (derived from ExtensionObject)");
    T *object = nullptr;
    explicit operator bool() const { return object != nullptr; }
};

// Looks up our C++ instance behind an engine object; null if it is not a T (or null).
template <class T> T *object_cast(GDExtensionObjectPtr object);

// Instantiates one of our registered classes through the engine's ClassDB (as `T.new()`
// would), so the result is a fully initialised engine object. Wrap it in Ref<T> to return it.
template <class T> T *instantiate();

}  // namespace aigym::gd
