#include "log.h"

#include <cstdio>
#include <exception>
#include <string>

#include "api.h"

namespace aigym::gd {

void report_error(std::string_view message, const char *function, const char *file, int line) {
    const std::string text(message);
    if (api.print_error_with_message) {
        api.print_error_with_message(text.c_str(), text.c_str(), function, file, line, false);
    } else {
        std::fprintf(stderr, "ERROR: %s\n", text.c_str());
    }
}

void report_error_static(const char *message, const char *function) noexcept {
    if (api.print_error_with_message) {
        api.print_error_with_message(message, message, function, __FILE__, __LINE__, false);
    } else {
        std::fprintf(stderr, "ERROR: %s\n", message);
    }
}

void report_warning(std::string_view message, const char *function, const char *file, int line) {
    const std::string text(message);
    if (api.print_warning_with_message) {
        api.print_warning_with_message(text.c_str(), text.c_str(), function, file, line, false);
    } else {
        std::fprintf(stderr, "WARNING: %s\n", text.c_str());
    }
}

namespace detail {

std::string describe_exception() {
    try {
        throw;
    } catch (const std::exception &e) {
        return e.what();
    } catch (...) {
        return "unknown C++ exception";
    }
}

void report_exception(const char *where_class, const char *where_member) noexcept {
    try {
        report_error(std::string(where_class) + "." + where_member + ": " + describe_exception(), where_member,
                     __FILE__, __LINE__);
    } catch (...) {
        // Out of memory while reporting: say something without allocating.
        report_error_static("godot-aigym: a C++ exception was caught, and reporting it failed", where_member);
    }
}

}  // namespace detail

}  // namespace aigym::gd
