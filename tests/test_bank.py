"""The question bank is the one source: cookiecutter.json, hooks, README and presets agree with it."""

from __future__ import annotations

import json
import re

import pytest
from conftest import ROOT

from mlsd import engine, templategen
from mlsd.bank import STEPS


def test_derived_files_are_current(spec):
    stale = [
        path.relative_to(ROOT).as_posix()
        for path, content in templategen.derived_files(ROOT, spec).items()
        if not path.exists() or path.read_text(encoding="utf-8") != content
    ]
    assert stale == [], "run python -m mlsd.templategen"


def test_cookiecutter_json_has_every_question_with_its_default_first(spec):
    context = json.loads((ROOT / "cookiecutter.json").read_text(encoding="utf-8"))
    keys = [q["key"] for q in spec["questions"]]
    assert [k for k in context if not k.startswith("_")] == keys
    defaults = templategen.default_answers(spec)
    for q in spec["questions"]:
        value = context[q["key"]]
        if q["type"] == "choice":
            assert value[0] == defaults[q["key"]]
            assert sorted(value) == sorted(engine.choices(q, spec))
            assert context["__prompts__"][q["key"]]["__prompt__"] == q["prompt"]
        elif q["key"] not in templategen.JINJA_DEFAULTS:
            assert value == defaults[q["key"]]
    assert context["_mlsd_version"] == spec["version"]


def test_cookiecutter_defaults_form_a_valid_answer_set(spec):
    assert engine.validate(templategen.default_answers(spec), spec) == []


@pytest.mark.parametrize(
    "name", ["ML Service", "Fraud Scorer 2", "Bob's  Ad--Ranker", "Ünïcödé Sérvice", "a.b/c_d", " Trim Me "]
)
def test_slug_derivation_matches_cookiecutter(name):
    from cookiecutter.environment import StrictEnvironment

    env = StrictEnvironment(context={})
    rendered = env.from_string(templategen.JINJA_DEFAULTS["project_slug"]).render(cookiecutter={"project_name": name})
    assert engine.slugify(name) == rendered


@pytest.mark.parametrize("users,per_user", [(0, 0), (1, 1), (100_000, 10), (2_000_000_000, 2), (300_000_000, 5)])
def test_peak_qps_derivation_matches_cookiecutter(spec, users, per_user):
    from jinja2 import Environment

    template = templategen.JINJA_DEFAULTS["peak_qps"] % {"factor": spec["peak_factor"], "day": spec["seconds_per_day"]}
    rendered = (
        Environment()
        .from_string(template)
        .render(cookiecutter={"daily_active_users": str(users), "requests_per_user_per_day": str(per_user)})
    )
    assert int(rendered) == engine.peak_qps(users, per_user, spec)


def test_peak_qps_uses_the_three_times_peak_factor(spec):
    # 2B DAU x 2 refreshes / 86,400 = 46.3k average -> x3 = 138.9k peak
    assert engine.peak_qps(2_000_000_000, 2, spec) == 138_889


def test_conditions_and_derivations_only_read_earlier_questions(spec):
    order = {q["key"]: i for i, q in enumerate(spec["questions"])}
    for q in spec["questions"]:
        for key in engine._condition_keys(q.get("when", {})):
            assert order[key] < order[q["key"]], f"{q['key']} is asked before {key}"
    for rule in spec["derivations"]:
        for target in rule["set"]:
            for key in engine._condition_keys(rule["when"]):
                assert order[key] < order[target], f"derivation of {target} reads later {key}"


def test_every_question_has_help_prompt_and_a_known_step(spec):
    steps = {step["id"] for step in STEPS}
    for q in spec["questions"]:
        assert q["help"] and q["prompt"] and q["step"] in steps
        assert "\n" not in q["help"]
        if "when" in q:
            assert q["when_help"]
        if q["type"] == "choice":
            assert all(engine.choices(q, spec).values())
            assert all(re.fullmatch(r"[A-Za-z0-9.+_-]+", value) for value in engine.choices(q, spec))


def test_every_choice_value_of_a_derivation_or_rule_exists(spec):
    for rule in spec["derivations"]:
        for key, value in rule["set"].items():
            q = engine.question(spec, key)
            assert engine.coerce(q, value, spec) == value


def test_there_are_fourteen_presets_and_each_resolves_to_valid_answers(spec):
    from mlsd.spec import presets

    assert len(presets()) == 14
    for preset in presets():
        answers, _ = engine.resolve({"use_case": preset["id"]}, spec)
        assert engine.validate(answers, spec) == [], preset["id"]
        assert answers["ml_task"] == preset["answers"]["ml_task"]
        groups = preset["facts"]["features"]
        assert set(groups) == {"user", "item", "context", "interaction"}


def test_component_paths_exist_in_the_template(spec):
    template = ROOT / "{{cookiecutter.project_slug}}"
    for component in spec["components"]:
        for path in component["paths"]:
            assert (template / path.format(package="{{cookiecutter.package_name}}")).exists(), path


def test_pins_are_exact(spec):
    for entry in spec["pins"]:
        for requirement in entry["packages"]:
            # an exact version, optionally limited to the platforms that have the wheel
            exact = r"[A-Za-z0-9_.-]+(\[[a-z,]+\])?==[0-9][0-9A-Za-z.+]*"
            assert re.fullmatch(exact + r"(; sys_platform != '[a-z0-9]+')?", requirement), requirement


def test_modules_embedded_in_the_post_gen_hook_do_not_clash():
    import ast

    from mlsd import design, engine, prompt

    def top_level(module) -> set[str]:
        names = set()
        for node in ast.parse(open(module.__file__, encoding="utf-8").read()).body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
        return names

    parts = [top_level(m) for m in (engine, design, prompt)]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    for module in (design, prompt):
        source = open(module.__file__, encoding="utf-8").read()
        assert not any(marker in source for marker in ("{%", "{{", "{#", "endraw"))
        assert "\nfrom mlsd" not in source and "\nimport mlsd" not in source
