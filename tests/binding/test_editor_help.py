"""Editor help for our classes: the class reference XML in gdextension/doc_classes/ matches the
classes the engine registers (checked by Godot's own doctool, which merges our files with what
it finds in ClassDB and keeps a description only where a method or property still exists), and
the built libraries embed it for the editor (binding/entry.h hands it to the editor's help at the
EDITOR initialisation level, with editor_help_load_xml_from_utf8_chars_and_len)."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "gdextension" / "doc_classes"
BIN = REPO / "demo_project" / "addons" / "godot_aigym" / "bin"
LIBRARY_OF = {"core": "libaigym_core.linux.debug.x86_64.so", "torch": "libaigym_torch_model.linux.debug.x86_64.so"}
TEST_ONLY = {"cBindingProbe"}   # the probe is not shipped, so it has no help page


def our_docs() -> dict[str, Path]:
    return {p.stem: p for p in sorted(DOCS.glob("*/*.xml"))}


def signature(root: ET.Element) -> dict[str, tuple]:
    """Methods (return type, parameters) and members (type, setter, getter) of a class file."""
    sig = {}
    for m in root.iter("method"):
        ret = m.find("return")
        sig[f"method {m.get('name')}"] = (ret.get("type") if ret is not None else None,
                                         tuple((p.get("name"), p.get("type")) for p in m.iter("param")))
    for m in root.iter("member"):
        sig[f"member {m.get('name')}"] = (m.get("type"), m.get("setter"), m.get("getter"))
    return sig


def described(root: ET.Element) -> list[str]:
    """Names of the items whose description is empty."""
    missing = [f"{root.get('name')} brief_description"] if not (root.findtext("brief_description") or "").strip() else []
    for tag in ("method", "member"):
        for item in root.iter(tag):
            text = item.findtext("description") if tag == "method" else item.text
            if not (text or "").strip():
                missing.append(f"{root.get('name')}.{item.get('name')}")
    return missing


@pytest.fixture(scope="module")
def doctool_output(godot, test_project, tmp_path_factory) -> Path:
    """Godot's --doctool over a folder seeded with our XML (it merges, then rewrites)."""
    out = tmp_path_factory.mktemp("doctool")
    (out / "doc_classes").mkdir()
    for path in our_docs().values():
        shutil.copy(path, out / "doc_classes" / path.name)
    proc = subprocess.run([str(godot.path), "--headless", "--path", str(test_project), "--doctool", str(out),
                           "--gdextension-docs"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return out / "doc_classes"


def test_every_registered_class_is_documented(doctool_output):
    registered = {p.stem for p in doctool_output.glob("*.xml")} - TEST_ONLY
    assert registered == set(our_docs()), (f"undocumented: {sorted(registered - set(our_docs()))}, "
                                           f"documented but not registered: {sorted(set(our_docs()) - registered)}")


@pytest.mark.parametrize("name", sorted(our_docs()))
def test_docs_match_the_engine_and_describe_everything(doctool_output, name):
    ours = ET.parse(our_docs()[name]).getroot()
    engine = ET.parse(doctool_output / f"{name}.xml").getroot()
    assert ours.get("inherits") == engine.get("inherits")
    assert signature(ours) == signature(engine), f"{name}: the XML differs from the registered methods/properties"
    assert described(ours) == [], f"{name}: empty descriptions"
    assert described(engine) == [], f"{name}: the engine dropped descriptions (a method renamed?)"


@pytest.mark.parametrize("name", sorted(our_docs()))
def test_the_library_embeds_the_docs(name):
    library = BIN / LIBRARY_OF[our_docs()[name].parent.name]
    assert f'<class name="{name}"'.encode() in library.read_bytes(), f"{library.name} does not embed {name}.xml"
