"""Wheel build hook: ship the template's precompiled Jinja code (see src/mlsd/precompile.py)."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class PrecompileTemplates(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        sys.path.insert(0, str(Path(self.root) / "src"))
        try:
            from mlsd import precompile
        finally:
            sys.path.pop(0)
        self._folder = Path(tempfile.mkdtemp(prefix="mlsd-precompiled-"))
        for path in precompile.write_bundles(Path(self.root), self._folder):
            build_data["force_include"][str(path)] = f"mlsd/template/{path.name}"

    def finalize(self, version: str, build_data: dict, artifact_path: str) -> None:
        folder = getattr(self, "_folder", None)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
