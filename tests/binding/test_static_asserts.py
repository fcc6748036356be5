"""Registration mistakes fail at compile time with a message that says what to write instead
(binding/class_db.h), and a correct class compiles. Compiled with the build's compiler and include
paths (syntax check only): the correct class alone; the mistakes together in one translation unit
(one header parse, ~1 CPU-s, instead of one per case), each in a namespace and a `#line` file of
its own, so every static assertion is traced to the case it came from by the compiler's
"<case>.cpp: required from here" line."""

from __future__ import annotations

import re
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
    return subprocess.run([compiler, "-std=c++20", "-fsyntax-only", "-fno-diagnostics-show-caret", f"-I{GEN}",
                           f"-I{REPO / 'gdextension'}", str(source)], capture_output=True, text=True, timeout=300)


def assertions_by_case(stderr: str) -> dict[str, list[str]]:
    """The static assertion messages of each case: g++ prints an instantiation's context (its
    "<file>:<line>:<col>:   required from here" line) before the error it leads to."""
    found: dict[str, list[str]] = {}
    case = None
    for line in stderr.splitlines():
        where = re.match(r"(\w+)\.cpp:\d+:\d+:\s+required from here", line)
        if re.search(r": (In instantiation of|In function|At global scope)", line):
            case = None  # a new context: its "required from here" line comes next
        elif where:
            case = where.group(1)
        elif "static assertion failed: " in line:
            found.setdefault(case, []).append(line.split("static assertion failed: ", 1)[1])
    return found


@pytest.fixture(scope="module")
def mistakes(tmp_path_factory) -> tuple[subprocess.CompletedProcess, dict[str, list[str]]]:
    """Every case in one translation unit: `#line 1 "<case>.cpp"` names where its code is."""
    code = "".join(f'namespace case_{name} {{\n#line 1 "{name}.cpp"\n{snippet}}}\n'
                   for name, (snippet, _message) in sorted(CASES.items()))
    proc = compile_snippet(tmp_path_factory.mktemp("static_asserts"), code)
    return proc, assertions_by_case(proc.stderr)


def test_a_correct_class_compiles(tmp_path):
    proc = compile_snippet(tmp_path, GOOD)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.parametrize("case", sorted(CASES))
def test_mistakes_fail_with_what_to_write(mistakes, case):
    proc, found = mistakes
    assert proc.returncode != 0
    assert any(re.search(CASES[case][1], text) for text in found.get(case, [])), \
        f"no static assertion traced to {case}.cpp says what to write; traced: {found}\n{proc.stderr[-4000:]}"
