// Error and warning reporting into Godot's log (shown as "ERROR: ..." like push_error).
#pragma once

#include <string>
#include <string_view>

namespace aigym::gd {

void report_error(std::string_view message, const char *function, const char *file, int line);
void report_warning(std::string_view message, const char *function, const char *file, int line);
// For failure paths that must not allocate (or throw): reports a fixed text.
void report_error_static(const char *message, const char *function) noexcept;

namespace detail {
std::string describe_exception();  // message of the exception being handled
// Reports the exception being handled as "<class>.<member>: <message>" in Godot's log; never
// throws (it runs inside catch blocks of callbacks the engine calls).
void report_exception(const char *where_class, const char *where_member) noexcept;
}  // namespace detail

}  // namespace aigym::gd

#define AIGYM_ERROR(message) ::aigym::gd::report_error((message), __func__, __FILE__, __LINE__)
#define AIGYM_WARNING(message) ::aigym::gd::report_warning((message), __func__, __FILE__, __LINE__)
