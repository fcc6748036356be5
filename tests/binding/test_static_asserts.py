"""Registration mistakes fail at compile time with a message that says what to write instead
(binding/class_db.h), and a correct class compiles. Each case is compiled with the build's
compiler and include paths (syntax check only)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GEN = REPO / "build" / "gen"

PRELUDE = """
#include "binding/class_db.h"
using namespace aigym;
"""
GOOD = """
struct cGood : gd::ExtensionObject {
    static constexpr const char *kClassName = "cGood";
    static constexpr const char *kParentName = "RefCounted";
    static void bind(gd::ClassBinder<cGood> &b) { b.method<&cGood::twice>("twice", {"x"}); }
    int64_t twice(int64_t x) const { return 2 * x; }
};
void f() { gd::register_class<cGood>(); }
"""
CASES = {
    "no_class_name": ("""
struct cNoName : gd::ExtensionObject {
    static void bind(gd::ClassBinder<cNoName> &) {}
};
void f() { gd::register_class<cNoName>(); }
""", "declare `static constexpr const char \\*kClassName"),
    "throwing_destructor": ("""
struct cThrows : gd::ExtensionObject {
    static constexpr const char *kClassName = "cThrows";
    static constexpr const char *kParentName = "RefCounted";
    static void bind(gd::ClassBinder<cThrows> &) {}
    ~cThrows() noexcept(false) override {}
};
void f() { gd::register_class<cThrows>(); }
""", "destructor must not throw"),
    "no_bind": ("""
struct cNoBind : gd::ExtensionObject {
    static constexpr const char *kClassName = "cNoBind";
    static constexpr const char *kParentName = "RefCounted";
};
void f() { gd::register_class<cNoBind>(); }
""", "declare `static void bind\\(gd::ClassBinder<T> &b\\)`"),
    "method_of_a_helper": ("""
struct Helper { int64_t get() const { return 1; } };
struct cMixed : gd::ExtensionObject, Helper {
    static constexpr const char *kClassName = "cMixed";
    static constexpr const char *kParentName = "RefCounted";
    static void bind(gd::ClassBinder<cMixed> &b) { b.method<&Helper::get>("get"); }
};
void f() { gd::register_class<cMixed>(); }
""", "X must derive from gd::ExtensionObject"),
}


def compile_snippet(tmp_path: Path, code: str) -> subprocess.CompletedProcess:
    compiler = shutil.which("g++")
    assert compiler, "g++ is needed (the build's compiler)"
    assert (GEN / "engine_api_facts.h").exists(), "build/gen is missing: run godot-aigym setup"
    source = tmp_path / "case.cpp"
    source.write_text(PRELUDE + code)
    return subprocess.run([compiler, "-std=c++20", "-fsyntax-only", f"-I{GEN}", f"-I{REPO / 'gdextension'}", str(source)],
                          capture_output=True, text=True, timeout=300)


def test_a_correct_class_compiles(tmp_path):
    proc = compile_snippet(tmp_path, GOOD)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.parametrize("case", sorted(CASES))
def test_mistakes_fail_with_what_to_write(tmp_path, case):
    import re

    code, message = CASES[case]
    proc = compile_snippet(tmp_path, code)
    assert proc.returncode != 0
    assert re.search(r"static assertion failed: .*" + message, proc.stderr), proc.stderr[-3000:]
