"""Precompiled template files: Jinja's code generation done once, when the wheel is built.

Jinja spends most of a render parsing templates and generating Python; the wheel therefore
carries each template file's generated Python (portable) and its compiled code objects for the
interpreter that built it (fast). ``render`` uses an entry only when the SHA-256 of the
template text it is about to render matches, so a stale or foreign bundle cannot change output.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import sys
from pathlib import Path

SOURCE_BUNDLE = "compiled.json"


def code_bundle_name() -> str:
    return f"compiled-{sys.implementation.cache_tag}.marshal"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def compile_tree(template_root: Path, env) -> dict[str, dict]:
    """Return ``{relative name: {"sha256", "python"}}`` for every template file with Jinja markers."""
    from mlsd import render

    bundle: dict[str, dict] = {}
    for relative, path in render._template_files(template_root / render.TEMPLATE_FOLDER):
        text = path.read_bytes().decode("utf-8").replace("\r\n", "\n")
        if any(marker in text for marker in render.JINJA_MARKERS):
            bundle[relative] = {"sha256": digest(text), "python": env.compile(text, raw=True)}
    return bundle


def write_bundles(template_root: Path, destination: Path) -> list[Path]:
    """Write the portable source bundle and this interpreter's code bundle into ``destination``."""
    from mlsd import render

    bundle = compile_tree(template_root, render.jinja_environment())
    destination.mkdir(parents=True, exist_ok=True)
    source = destination / SOURCE_BUNDLE
    source.write_text(json.dumps(bundle, sort_keys=True), encoding="utf-8")
    codes = {name: (entry["sha256"], compile(entry["python"], name, "exec")) for name, entry in bundle.items()}
    code = destination / code_bundle_name()
    code.write_bytes(marshal.dumps(codes))
    return [source, code]


def load(folder: Path) -> dict[str, tuple[str, object]]:
    """Return ``{name: (sha256, code object)}`` from the bundles in ``folder`` (empty if none)."""
    code = folder / code_bundle_name()
    codes = _read_codes(code) if code.is_file() else None
    if codes is not None:
        return codes
    source = folder / SOURCE_BUNDLE
    if source.is_file():
        entries = json.loads(source.read_text(encoding="utf-8"))
        return {name: (e["sha256"], compile(e["python"], name, "exec")) for name, e in entries.items()}
    return {}


def _read_codes(path: Path) -> dict | None:
    """Return the marshalled code bundle, or None when this interpreter cannot read it."""
    try:
        return marshal.loads(path.read_bytes())
    except (EOFError, ValueError, TypeError):
        return None
