"""Every dependency set the pairwise configurations produce resolves on the package index."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from test_bakes import CONFIGS, SPEC, _resolved

from mlsd import engine

pytestmark = pytest.mark.slow


def dependency_sets() -> dict[str, list[str]]:
    """Return one requirement list (runtime + every extra) per distinct set, keyed by a config name."""
    sets: dict[tuple, str] = {}
    for name, explicit in CONFIGS.items():
        groups = engine.dependencies(_resolved(explicit), SPEC)
        requirements = tuple(sorted({p for packages in groups.values() for p in packages}))
        sets.setdefault(requirements, name)
    return {name: list(requirements) for requirements, name in sets.items()}


SETS = dependency_sets()


@pytest.mark.parametrize("name", sorted(SETS))
def test_pins_resolve_together(tmp_path, name):
    requirements = [r for r in SETS[name] if not r.startswith("torch==")]  # a local CPU wheel, see README
    source = tmp_path / "requirements.in"
    source.write_text("\n".join(requirements) + "\n", encoding="utf-8")
    uv = Path(sys.executable).parent / "uv"
    result = subprocess.run(
        [str(uv), "pip", "compile", "--quiet", "--python-version", "3.11", str(source), "-o", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
