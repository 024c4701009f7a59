"""The rule engine: resolve, validate and finish a project from the answers and the spec.

Standard library only and free of mlsd imports: ``mlsd.templategen`` copies this module into
the cookiecutter hooks, so plain ``cookiecutter`` enforces exactly the rules the CLI enforces
and post-processes the project exactly as the CLI does. Every function takes the ``spec``
(question bank, components and pins as plain data) explicitly.
"""

from __future__ import annotations

import json
import keyword
import os
import re
import shutil
import sys
import unicodedata

DEPENDENCIES_MARKER = "# mlsd:dependencies"
ENVIRONMENT_MARKER = "# mlsd:environment"


class AnswerError(ValueError):
    """An answer is invalid; the message is one line saying what and how to fix it."""


def holds(condition: dict, answers: dict) -> bool:
    """Return whether every matcher of ``condition`` holds for ``answers``."""
    for key, matcher in condition.items():
        if key == "any":
            if not any(holds(option, answers) for option in matcher):
                return False
            continue
        if not _matches(answers.get(key), matcher):
            return False
    return True


def _matches(value, matcher) -> bool:
    if isinstance(matcher, list):
        return value in matcher
    if isinstance(matcher, dict):
        ((op, operand),) = matcher.items()
        if op == "not":
            return value not in operand if isinstance(operand, list) else value != operand
        number = _as_number(value)
        if number is None:
            return False
        if op == "gte":
            return number >= operand
        if op == "lt":
            return number < operand
        raise KeyError(f"unknown operator {op!r}")
    return value == matcher


def _as_number(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError:
        return None


def questions(spec: dict) -> list[dict]:
    return spec["questions"]


def question(spec: dict, key: str) -> dict:
    for q in spec["questions"]:
        if q["key"] == key:
            return q
    raise KeyError(key)


def applies(q: dict, answers: dict) -> bool:
    """Return whether question ``q`` is relevant given the answers so far."""
    return "when" not in q or holds(q["when"], answers)


def choices(q: dict, spec: dict) -> dict:
    """Return the question's value -> label choices, including preset-fed ones."""
    result = dict(q.get("choices", {}))
    if q.get("choices_from") == "presets":
        result.update(spec["preset_labels"])
    return result


def slugify(name: str) -> str:
    """Return the folder name derived from a project name (ASCII, lowercase, dashes)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")


def peak_qps(daily_active_users: int, requests_per_user_per_day: int, spec: dict) -> int:
    """Return peak QPS: users x requests per user / seconds per day x peak factor, rounded up."""
    total = int(daily_active_users) * int(requests_per_user_per_day) * spec["peak_factor"]
    return -(-total // spec["seconds_per_day"])


def default(q: dict, answers: dict, spec: dict):
    """Return ``(value, reason)``: the default of ``q`` given earlier answers, and why."""
    derive = q.get("derive")
    if derive == "slug":
        return slugify(str(answers.get("project_name", ""))), "from the project name"
    if derive == "package":
        return str(answers.get("project_slug", "")).replace("-", "_"), "from the project slug"
    if derive == "peak_qps":
        value = peak_qps(answers.get("daily_active_users", 0), answers.get("requests_per_user_per_day", 0), spec)
        return value, f"users x requests per user / 86,400 x {spec['peak_factor']} (peak factor)"
    value, reason = q.get("default"), None
    for rule in spec["derivations"]:
        if q["key"] in rule["set"] and holds(rule["when"], answers):
            value, reason = rule["set"][q["key"]], rule["reason"]
    return value, reason


def coerce(q: dict, raw, spec: dict):
    """Return ``raw`` converted to the question's type, or raise AnswerError."""
    key, kind = q["key"], q["type"]
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("y", "yes", "true", "1", "on"):
            return True
        if text in ("n", "no", "false", "0", "off"):
            return False
        raise AnswerError(f"{key}={raw!s} is not a yes/no value: use true or false")
    if kind == "int":
        if isinstance(raw, bool):
            raise AnswerError(f"{key}={raw} is not a whole number")
        text = str(raw).strip().replace("_", "").replace(",", "")
        if not re.fullmatch(r"-?[0-9]{1,16}", text):
            raise AnswerError(f"{key}={raw!s} is not a whole number: use digits such as {q.get('default', 100)}")
        value = int(text)
        low, high = q.get("min"), q.get("max")
        if (low is not None and value < low) or (high is not None and value > high):
            raise AnswerError(f"{key}={value} is out of range: use a number from {low} to {high}")
        return value
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise AnswerError(f"{key} must be text, not {type(raw).__name__}")
    text = str(raw)
    if kind == "choice":
        options = choices(q, spec)
        if text not in options:
            shown = ", ".join(options)
            raise AnswerError(f"{key}={text} is not a valid choice: use one of {shown}")
        return text
    text = " ".join(text.split()) if q.get("collapse_whitespace") else text.strip()
    return _check_text(q, text, spec)


def _check_text(q: dict, text: str, spec: dict) -> str:
    key = q["key"]
    if not text:
        if q.get("optional"):
            return text
        raise AnswerError(f"{key} is empty: give a value")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in text):
        raise AnswerError(f"{key} contains control characters: use plain one-line text")
    limit = q.get("max_length")
    if limit and len(text) > limit:
        raise AnswerError(f"{key} is {len(text)} characters long: use at most {limit}")
    pattern = q.get("pattern")
    if pattern:
        if not text.isascii():
            raise AnswerError(f"{key}={text!r} has non-ASCII characters: {q['pattern_help']}")
        if not re.fullmatch(pattern, text):
            raise AnswerError(f"{key}={text!r} is invalid: {q['pattern_help']}")
    if q.get("identifier") and keyword.iskeyword(text):
        raise AnswerError(f"{key}={text!r} is a Python keyword: choose another name")
    if key == "package_name":
        _check_package_name(text, spec)
    return text


def _check_package_name(name: str, spec: dict) -> None:
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise AnswerError(f"package_name={name!r} is a Python keyword: choose another name")
    if name in sys.stdlib_module_names:
        raise AnswerError(f"package_name={name!r} shadows the standard-library module: choose another name")
    if name in spec["reserved_packages"] or name.startswith("_"):
        raise AnswerError(f"package_name={name!r} shadows a module the project imports: choose another name")


def resolve(explicit: dict, spec: dict, ask=None) -> tuple[dict, dict]:
    """Return ``(answers, reasons)`` from explicit answers, the chosen preset and derivations.

    ``explicit`` holds raw user values (answers file, --set, --preset as use_case). Values of
    the preset named by ``use_case`` come next, then derivations, then bank defaults.
    ``ask(q, default, reason, error, answers)`` is called for each relevant question without an
    explicit value when interactive; it returns a raw value and is called again with the
    error message while the value is invalid. ``reasons`` maps each key decided by a
    derivation, the preset or a forced value to why. Raises AnswerError on a bad value.
    """
    known = {q["key"] for q in questions(spec)}
    for key in explicit:
        if key not in known:
            raise AnswerError(f"unknown question {key!r}: see 'mlsd options' for the valid keys")
    answers: dict = {}
    reasons: dict = {}
    preset: dict = {}
    for q in questions(spec):
        key = q["key"]
        relevant = applies(q, answers)
        if not relevant and "na" in q:
            if key in explicit and coerce(q, explicit[key], spec) != q["na"]:
                raise AnswerError(
                    f"{key}={explicit[key]} does not apply: {q['when_help']}; remove it or change {_when_keys(q)}"
                )
            answers[key] = q["na"]
            reasons[key] = q["when_help"]
            continue
        value, reason = default(q, answers, spec)
        if key in preset:
            value, reason = preset[key], "from the preset"
        if key in explicit:
            answers[key] = coerce(q, explicit[key], spec)
            _check_partial_rules(answers, spec)
        elif ask is not None and relevant and q.get("ask", True):
            answers[key] = _ask_until_valid(ask, q, value, reason, answers, spec)
        else:
            if value is None or (value == "" and not q.get("optional")):
                if q.get("required"):
                    raise AnswerError(f"{key} is required: pass --set {key}=... or choose a --preset")
                source = {"slug": "project_name", "package": "project_slug"}.get(q.get("derive", ""), "")
                raise AnswerError(f"{key} could not be derived from {source or 'the answers'}: pass --set {key}=...")
            answers[key] = coerce(q, value, spec)
            _check_partial_rules(answers, spec)
            if reason:
                reasons[key] = reason
        if key == "use_case":
            preset = spec["preset_answers"].get(answers[key], {})
    return answers, reasons


def _ask_until_valid(ask, q: dict, value, reason, answers: dict, spec: dict):
    error = None
    while True:
        raw = ask(q, value, reason, error, answers)
        try:
            answers[q["key"]] = coerce(q, raw, spec)
            _check_partial_rules(answers, spec)
            return answers[q["key"]]
        except AnswerError as problem:
            answers.pop(q["key"], None)
            error = str(problem)


def _condition_keys(condition: dict) -> set[str]:
    keys: set[str] = set()
    for key, matcher in condition.items():
        if key == "any":
            for option in matcher:
                keys |= _condition_keys(option)
        else:
            keys.add(key)
    return keys


def _check_partial_rules(answers: dict, spec: dict) -> None:
    """Raise AnswerError for the first rule whose keys are all answered and that fails."""
    problem = next(_rule_problems(answers, spec, partial=True), None)
    if problem:
        raise AnswerError(problem)


def _when_keys(q: dict) -> str:
    return " or ".join(sorted(k for k in q["when"] if k != "any"))


def first_rule_violation(answers: dict, spec: dict) -> str | None:
    return next(_rule_problems(answers, spec), None)


def _rule_problems(answers: dict, spec: dict, partial: bool = False):
    """Yield the message of each broken cross-field rule; ``partial`` skips rules not yet answerable."""
    for rule in spec["rules"]:
        needed = _condition_keys(rule["when"]) | _condition_keys(rule["require"])
        if partial and not needed <= answers.keys():
            continue
        if holds(rule["when"], answers) and not holds(rule["require"], answers):
            yield rule["message"]
    for rule in spec["distinct"]:
        if partial and not set(rule["keys"]) <= answers.keys():
            continue
        values = [answers[key] for key in rule["keys"]]
        if len(set(values)) < len(values):
            yield rule["message"]


def validate(answers: dict, spec: dict) -> list[str]:
    """Return every problem with a complete set of answers (empty when valid).

    Cross-field rules come first; answers that do not apply given the others (serving with
    batch prediction, ...) are reported together in one line naming the values to pass.
    """
    problems: list[str] = []
    known = {q["key"] for q in questions(spec)}
    unknown = [key for key in answers if key not in known and not key.startswith("_")]
    problems += [f"unknown question {key!r}: see 'mlsd options' for the valid keys" for key in unknown]
    checked: dict = {}
    for q in questions(spec):
        key = q["key"]
        if key not in answers:
            problems.append(f"{key} is missing: give a value for it")
            continue
        try:
            checked[key] = coerce(q, answers[key], spec)
        except AnswerError as error:
            problems.append(str(error))
    if problems:
        return problems
    problem = first_rule_violation(checked, spec)
    if problem:
        problems.append(problem)
    stray = [q for q in questions(spec) if "na" in q and not applies(q, checked) and checked[q["key"]] != q["na"]]
    if stray:
        found = ", ".join(f"{q['key']}={_format(checked[q['key']])} ({q['when_help']})" for q in stray)
        fixes = " ".join(f"{q['key']}={_format(q['na'])}" for q in stray)
        problems.append(f"answers that do not apply: {found}; set {fixes}")
    return problems


def normalize(answers: dict, spec: dict) -> dict:
    """Return the answers in question order, each converted to its declared type."""
    return {q["key"]: coerce(q, answers[q["key"]], spec) for q in questions(spec)}


def _format(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def selected_components(answers: dict, spec: dict) -> list[dict]:
    return [c for c in spec["components"] if holds(c.get("when", {}), answers)]


def pruned_paths(answers: dict, spec: dict) -> list[str]:
    """Return project-relative paths of the components the answers did not select."""
    paths: list[str] = []
    for component in spec["components"]:
        if not holds(component.get("when", {}), answers):
            paths += [p.format(package=answers["package_name"]) for p in component.get("paths", [])]
    return paths


def dependencies(answers: dict, spec: dict, environments: bool = False) -> dict[str, list[str]]:
    """Return requirement lists per group: '' for the runtime, other keys for extras.

    With ``environments``, return the separate environments' lists instead (pins with an
    ``environment``, which clash with the project's own and never join its dependencies).
    """
    groups: dict[str, list[str]] = {}
    for entry in spec["pins"]:
        if holds(entry.get("when", {}), answers) and ("environment" in entry) == environments:
            name = entry["environment"] if environments else entry.get("group", "")
            groups.setdefault(name, []).extend(entry["packages"])
    return {group: sorted(set(packages), key=str.lower) for group, packages in groups.items()}


def dependencies_toml(answers: dict, spec: dict) -> str:
    groups = dependencies(answers, spec)
    lines = ["dependencies = ["] + [f'    "{p}",' for p in groups.pop("", [])] + ["]", ""]
    lines.append("[project.optional-dependencies]")
    for group in sorted(groups):
        lines.append(f"{group} = [")
        lines += [f'    "{p}",' for p in groups[group]]
        lines.append("]")
    return "\n".join(lines)


def answers_text(answers: dict, spec: dict) -> str:
    """Return the answers file: the template version then every answer, in question order."""
    lines = [
        "# Answers that generated this project. mlsd reads it for 'new --answers', 'update' and 'check'.",
        f"_mlsd_version: {json.dumps(spec['version'])}",
    ]
    for key, value in normalize(answers, spec).items():
        lines.append(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def finish_project(project_dir: str, answers: dict, spec: dict, design=None) -> None:
    """Prune unselected components, write dependencies, DESIGN.md and the answers file.

    ``design(answers, spec, holds)`` returns the text of DESIGN.md (``mlsd.design.project_design``,
    passed in because this module must not import mlsd). Empty folders are removed last.
    """
    answers = normalize(answers, spec)
    for relative in pruned_paths(answers, spec):
        path = os.path.join(project_dir, *relative.split("/"))
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)
    pyproject = os.path.join(project_dir, "pyproject.toml")
    with open(pyproject, encoding="utf-8") as handle:
        text = handle.read()
    _write(pyproject, text.replace(DEPENDENCIES_MARKER, dependencies_toml(answers, spec), 1))
    for name, packages in dependencies(answers, spec, environments=True).items():
        requirements = os.path.join(project_dir, "requirements", f"{name}.txt")
        if os.path.exists(requirements):
            with open(requirements, encoding="utf-8") as handle:
                text = handle.read()
            _write(requirements, text.replace(f"{ENVIRONMENT_MARKER} {name}", "\n".join(packages), 1))
    if design is not None:
        _write(os.path.join(project_dir, "DESIGN.md"), design(answers, spec, holds))
    os.makedirs(os.path.join(project_dir, ".mlsd"), exist_ok=True)
    _write(os.path.join(project_dir, ".mlsd", "answers.yml"), answers_text(answers, spec))
    _remove_empty_dirs(project_dir)


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)


def _remove_empty_dirs(root: str) -> None:
    for current, _dirs, _files in os.walk(root, topdown=False):
        if current != root and not os.listdir(current):
            os.rmdir(current)


def pre_gen_check(context: dict, spec: dict) -> int:
    """Hook entry: print the first problem on stderr and return 1, or return 0."""
    answers = {key: value for key, value in context.items() if not key.startswith("_")}
    problems = validate(answers, spec)
    if problems:
        print(f"error: {problems[0]}", file=sys.stderr)
        return 1
    return 0


def post_gen_finish(context: dict, spec: dict, design=None) -> int:
    """Hook entry: finish the project cookiecutter rendered in the current folder."""
    answers = {q["key"]: context[q["key"]] for q in questions(spec)}
    finish_project(os.getcwd(), answers, spec, design)
    return 0
