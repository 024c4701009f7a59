"""Assemble the spec (question bank, presets, components, pins) the engine works from."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from mlsd import __version__, bank, components, pins


@cache
def presets() -> list[dict]:
    """Return the case-study presets shipped with the package, in catalogue order."""
    text = resources.files("mlsd").joinpath("presets.json").read_text(encoding="utf-8")
    return json.loads(text)["presets"]


def preset(preset_id: str) -> dict | None:
    """Return the preset with this id (dashes or underscores), or None."""
    wanted = preset_id.strip().lower().replace("_", "-")
    return next((p for p in presets() if p["id"] == wanted), None)


@cache
def spec() -> dict:
    """Return the plain-data spec shared by the CLI and the cookiecutter hooks."""
    return {
        "version": __version__,
        "questions": bank.QUESTIONS,
        "derivations": bank.DERIVATIONS,
        "rules": bank.RULES,
        "distinct": bank.DISTINCT,
        "reserved_packages": bank.RESERVED_PACKAGES,
        "peak_factor": bank.PEAK_FACTOR,
        "seconds_per_day": bank.SECONDS_PER_DAY,
        "components": components.COMPONENTS,
        "pins": pins.PINS,
        "preset_labels": {p["id"]: p["title"] for p in presets()},
        "preset_answers": {p["id"]: p["answers"] for p in presets()},
        "preset_facts": {p["id"]: p["facts"] for p in presets()},
    }
