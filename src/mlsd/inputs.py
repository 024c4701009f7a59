"""Read the non-interactive inputs (answers file, --preset, --set) into one dict of raw answers."""

from __future__ import annotations

import json
from pathlib import Path

import click

MAX_ANSWERS_BYTES = 1_000_000


class InputProblem(click.UsageError):
    """A bad answers file, preset or --set value."""


def explicit_answers(answers_file: str | None, preset: str | None, settings: tuple[str, ...], spec: dict) -> dict:
    """Return raw answers: the answers file, then --preset as use_case, then each --set."""
    explicit: dict = {}
    if answers_file:
        explicit.update(read_answers_file(answers_file, spec))
    if preset is not None:
        explicit["use_case"] = preset_id(preset, spec)
    for item in settings:
        key, value = parse_setting(item)
        explicit[key] = preset_id(value, spec) if key == "use_case" and value != "custom" else value
    return explicit


def preset_id(name: str, spec: dict) -> str:
    wanted = name.strip().lower().replace("_", "-")
    if wanted not in spec["preset_labels"]:
        raise InputProblem(f"unknown preset {name!r}: run 'mlsd presets' to list them")
    return wanted


def parse_setting(item: str) -> tuple[str, str]:
    key, separator, value = item.partition("=")
    key = key.strip()
    if not separator or not key:
        raise InputProblem(f"--set takes KEY=VALUE, got {item!r}")
    return key, value


def read_answers_file(name: str, spec: dict) -> dict:
    path = Path(name)
    if not path.is_file():
        raise InputProblem(f"answers file {name} does not exist or is not a file")
    data = path.read_bytes()
    if len(data) > MAX_ANSWERS_BYTES:
        raise InputProblem(f"answers file {name} is larger than 1 MB: is it the right file?")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputProblem(f"answers file {name} is not UTF-8 text") from None
    loaded = _parse(text, name)
    if not isinstance(loaded, dict):
        raise InputProblem(f"answers file {name} must hold a mapping of key: value")
    answers: dict = {}
    for key, value in loaded.items():
        if not isinstance(key, str):
            raise InputProblem(f"answers file {name}: key {key!r} is not text")
        if key == "_mlsd_version":
            continue
        if isinstance(value, (dict, list)) or value is None:
            raise InputProblem(f"answers file {name}: {key} must be a single value, not {type(value).__name__}")
        answers[key] = value
    return answers


def _parse(text: str, name: str):
    if name.endswith(".json"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise InputProblem(f"answers file {name} is not valid JSON: {error.msg} at line {error.lineno}") from None
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "syntax error"
        raise InputProblem(f"answers file {name} is not valid YAML: {problem}{where}") from None
