"""The mlsd CLI: commands, non-interactive inputs, the interview, safe writes."""

from __future__ import annotations

import json
import os
import signal
import tempfile
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, run_mlsd, tree

from mlsd import __version__, render

NEW = ("new", "--no-input", "-q")


def test_version_and_help():
    assert run_mlsd("--version").out.strip() == f"mlsd {__version__}"
    result = run_mlsd("--help")
    assert result.code == 0
    for command in ("new", "options", "presets"):
        assert command in result.out


def test_options_json_lists_every_question_with_choices(spec):
    rows = json.loads(run_mlsd("options", "--format", "json").out)
    assert [row["key"] for row in rows] == [q["key"] for q in spec["questions"]]
    serving = next(row for row in rows if row["key"] == "serving")
    assert serving["choices"]["rest+grpc"] == "REST and gRPC"
    assert serving["when_help"]
    assert next(row for row in rows if row["key"] == "project_name")["default"] == "ML Service"


def test_options_markdown_is_the_readme_table(spec):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert run_mlsd("options", "--format", "markdown").out.strip() in readme
    assert "project_name" in run_mlsd("options").out


def test_presets_lists_the_case_studies():
    data = json.loads(run_mlsd("presets", "--format", "json").out)
    ids = [p["id"] for p in data]
    assert len(ids) == 14
    for expected in ("video-recommendation", "ad-click-prediction", "search-ranking", "fraud-detection"):
        assert expected in ids
    assert "ad-click-prediction" in run_mlsd("presets").out


def test_new_from_a_preset_writes_a_project_and_its_answers(empty_dir):
    result = run_mlsd(*NEW, "--preset", "fraud-detection", "-o", str(empty_dir))
    assert result.code == 0, result.err
    project = Path(result.out.strip())
    answers = yaml.safe_load((project / ".mlsd/answers.yml").read_text(encoding="utf-8"))
    assert answers["use_case"] == "fraud-detection"
    assert answers["_mlsd_version"] == __version__
    assert (project / "pyproject.toml").is_file()
    assert not list(project.rglob("__pycache__"))
    assert [p.name for p in empty_dir.iterdir()] == [project.name]


def test_plan_shows_each_derived_choice_with_its_reason(empty_dir):
    result = run_mlsd(
        "new",
        "--no-input",
        "--set",
        "project_name=Feed",
        "--set",
        "feature_freshness=seconds",
        "--dry-run",
        "-o",
        str(empty_dir),
    )
    assert result.code == 0, result.err
    assert "stream_engine" in result.out and "stream ingestion" in result.out
    assert "feature_store" in result.out and "online feature store" in result.out


def test_dry_run_prints_the_tree_and_writes_nothing(empty_dir):
    result = run_mlsd("new", "--no-input", "--set", "project_name=Dry", "--dry-run", "-o", str(empty_dir / "sub"))
    assert result.code == 0, result.err
    assert "dry/" in result.out and "pyproject.toml" in result.out and "answers.yml" in result.out
    assert list(empty_dir.iterdir()) == []


def test_answers_file_reproduces_the_project_exactly(empty_dir):
    first = run_mlsd(
        *NEW,
        "--preset",
        "video-recommendation",
        "--set",
        "serving=grpc",
        "--set",
        'description=Quote " and {{ 7*7 }}',
        "-o",
        str(empty_dir / "a"),
    )
    assert first.code == 0, first.err
    project = Path(first.out.strip())
    second = run_mlsd(*NEW, "--answers", str(project / ".mlsd/answers.yml"), "-o", str(empty_dir / "b"))
    assert second.code == 0, second.err
    assert tree(project) == tree(Path(second.out.strip()))


def test_json_answers_file_and_precedence_of_set_over_preset_over_file(empty_dir, tmp_path):
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"project_name": "From File", "trainer": "xgboost", "use_case": "custom"}))
    result = run_mlsd(
        *NEW, "--answers", str(answers), "--preset", "eta-prediction", "--set", "trainer=sklearn", "-o", str(empty_dir)
    )
    assert result.code == 0, result.err
    written = yaml.safe_load((Path(result.out.strip()) / ".mlsd/answers.yml").read_text(encoding="utf-8"))
    assert written["use_case"] == "eta-prediction"
    assert written["project_name"] == "From File"
    assert written["trainer"] == "sklearn"


INJECTION = "{{ 7*7 }} {% if true %}x{% endif %} \" ' \\ <b>&"


def _assert_literal_everywhere(project: Path) -> None:
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert INJECTION in readme
    pyproject = (project / "pyproject.toml").read_text(encoding="utf-8")
    import tomllib

    assert tomllib.loads(pyproject)["project"]["description"] == INJECTION
    answers = yaml.safe_load((project / ".mlsd/answers.yml").read_text(encoding="utf-8"))
    assert answers["description"] == INJECTION
    for path in project.rglob("*"):
        if path.is_file():
            assert "49 x" not in path.read_text(encoding="utf-8"), path


def test_user_values_stay_literal_through_set(empty_dir):
    result = run_mlsd(*NEW, "--set", "project_name=Lit", "--set", f"description={INJECTION}", "-o", str(empty_dir))
    assert result.code == 0, result.err
    _assert_literal_everywhere(Path(result.out.strip()))


def test_user_values_stay_literal_through_an_answers_file(empty_dir, tmp_path):
    answers = tmp_path / "a.yml"
    answers.write_text(yaml.safe_dump({"project_name": "Lit", "description": INJECTION}), encoding="utf-8")
    result = run_mlsd(*NEW, "--answers", str(answers), "-o", str(empty_dir))
    assert result.code == 0, result.err
    _assert_literal_everywhere(Path(result.out.strip()))


def test_user_values_stay_literal_through_the_interview(empty_dir, spec):
    typed = ["", "Lit", "", "", INJECTION] + [""] * 60
    result = run_mlsd("new", "-q", "-o", str(empty_dir), stdin="\n".join(typed) + "\n")
    assert result.code == 0, result.err
    _assert_literal_everywhere(empty_dir / "lit")


def test_interview_shows_counter_and_labels_and_reasks_on_bad_input(empty_dir):
    typed = ["99", "1", "Asked Service", "", "", "", "", "", "", "", "", "", "soon", "50"] + [""] * 60
    result = run_mlsd("new", "-o", str(empty_dir), stdin="\n".join(typed) + "\n")
    assert result.code == 0, result.err
    assert "[1/" in result.out and "1 - Custom (answer every question) [custom]" in result.out
    assert "use_case=99 is not a valid choice" in result.err
    assert "latency_budget_ms=soon is not a whole number" in result.err
    answers = yaml.safe_load((empty_dir / "asked-service/.mlsd/answers.yml").read_text(encoding="utf-8"))
    assert answers["latency_budget_ms"] == 50


def test_interview_skips_questions_made_irrelevant(empty_dir):
    # batch prediction: no latency, requests-per-user, peak QPS, serving, batch scoring or experiment question
    typed = ["", "Batchy", "", "", "", "", "", "", "", "", "2"] + [""] * 60
    result = run_mlsd("new", "-o", str(empty_dir), stdin="\n".join(typed) + "\n")
    assert result.code == 0, result.err
    for skipped in ("Latency budget", "Online serving interface", "Online experiment", "Peak requests"):
        assert skipped not in result.out
    assert "Stream engine" not in result.out


def test_closed_input_fails_naming_the_question(empty_dir):
    result = run_mlsd("new", "-o", str(empty_dir), stdin="")
    assert result.code != 0
    assert len(result.err.strip().splitlines()) == 1
    assert list(empty_dir.iterdir()) == []


def test_existing_project_is_refused_without_force_and_merged_with_it(empty_dir):
    args = (*NEW, "--set", "project_name=Twice", "-o", str(empty_dir))
    assert run_mlsd(*args).code == 0
    project = empty_dir / "twice"
    (project / "README.md").write_text("edited", encoding="utf-8")
    (project / "notes.txt").write_text("mine", encoding="utf-8")
    refused = run_mlsd(*args)
    assert refused.code == 2 and "already exists and is not empty" in refused.err
    assert (project / "README.md").read_text(encoding="utf-8") == "edited"
    assert run_mlsd(*args, "--force").code == 0
    assert (project / "README.md").read_text(encoding="utf-8") != "edited"
    assert (project / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert sorted(p.name for p in empty_dir.iterdir()) == ["twice"]


def test_an_existing_empty_folder_is_used(empty_dir):
    (empty_dir / "hollow").mkdir()
    assert run_mlsd(*NEW, "--set", "project_name=Hollow", "-o", str(empty_dir)).code == 0
    assert (empty_dir / "hollow/pyproject.toml").is_file()


def _fail_after(monkeypatch, count: int, action) -> None:
    calls = {"n": 0}
    original = render.render_file

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > count:
            action()
        return original(*args, **kwargs)

    monkeypatch.setattr(render, "render_file", flaky)


def _raise_interrupt():
    raise KeyboardInterrupt


def _raise_oserror():
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize(
    "action,code",
    [(_raise_interrupt, 130), (_raise_oserror, 1), (lambda: os.kill(os.getpid(), signal.SIGTERM), 130)],
    ids=["ctrl-c", "disk-full", "sigterm"],
)
def test_failure_mid_render_leaves_nothing_behind(monkeypatch, tmp_path, action, code):
    scratch = tmp_path / "tmpdir"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    _fail_after(monkeypatch, 5, action)
    output = tmp_path / "new" / "nested"
    result = run_mlsd(*NEW, "--set", "project_name=Broken", "-o", str(output))
    assert result.code == code
    assert len(result.err.strip().splitlines()) == 1
    assert not (tmp_path / "new").exists()
    assert list(scratch.iterdir()) == []


def test_generation_leaves_nothing_in_tmpdir_or_home(monkeypatch, tmp_path, empty_dir):
    scratch, home = tmp_path / "tmpdir", tmp_path / "home"
    scratch.mkdir()
    home.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setenv("HOME", str(home))
    assert run_mlsd(*NEW, "--set", "project_name=Clean", "-o", str(empty_dir)).code == 0
    assert list(scratch.iterdir()) == [] and list(home.iterdir()) == []
    assert [p.name for p in empty_dir.iterdir()] == ["clean"]


def test_template_is_found_in_the_source_checkout():
    assert render.template_root() == ROOT


@pytest.mark.parametrize(
    "explicit",
    [
        {"serving": "rest+grpc", "monitoring": "false", "ci": "gitlab"},
        {"use_case": "fraud-detection", "description": "Quotes \" and ' and <b>"},
        {"prediction_mode": "batch", "ml_task": "regression", "license": "proprietary", "orchestrator": "airflow"},
        {"ml_task": "retrieval", "vector_index": "hnswlib", "feature_freshness": "seconds", "stream_engine": "kafka"},
        {"use_case": "ad-click-prediction", "interview_prompt": "Ad click prediction, 300M DAU, 50 ms budget"},
    ],
    ids=["rest-grpc", "fraud-preset", "batch-airflow", "retrieval-kafka", "interview-prompt"],
)
def test_cli_generation_is_byte_identical_to_plain_cookiecutter(tmp_path, spec, explicit):
    from cookiecutter.main import cookiecutter

    from mlsd import engine

    answers, _ = engine.resolve({"project_name": "Same Bytes", **explicit}, spec)
    extra = {k: (json.dumps(v) if isinstance(v, bool) else str(v)) for k, v in answers.items()}
    mine = render.generate(answers, spec, tmp_path / "mine")
    config = tmp_path / "cc.yaml"
    config.write_text(f"cookiecutters_dir: {tmp_path / 'cc'}\nreplay_dir: {tmp_path / 'replay'}\n")
    theirs = cookiecutter(
        str(ROOT), no_input=True, extra_context=extra, output_dir=str(tmp_path / "theirs"), config_file=str(config)
    )
    assert tree(mine) == tree(Path(theirs))


def test_new_with_no_input_at_all_generates_the_defaults_like_plain_cookiecutter(tmp_path):
    from cookiecutter.main import cookiecutter

    result = run_mlsd("new", "--no-input", "-o", str(tmp_path / "mine"))
    assert result.code == 0, result.err
    config = tmp_path / "cc.yaml"
    config.write_text(f"cookiecutters_dir: {tmp_path / 'cc'}\nreplay_dir: {tmp_path / 'replay'}\n")
    theirs = cookiecutter(str(ROOT), no_input=True, output_dir=str(tmp_path / "theirs"), config_file=str(config))
    assert Path(theirs).name == "ml-service"
    assert tree(tmp_path / "mine/ml-service") == tree(Path(theirs))


AD_PROMPT = (
    "Design an ad click prediction system for a social network with 300M DAU; "
    "predictions must return in 50 ms; advertisers upload new ads hourly"
)


def test_new_from_a_prompt_reports_each_inference_with_its_evidence(empty_dir):
    result = run_mlsd("new", "--no-input", "--prompt", AD_PROMPT, "--set", "batch_engine=duckdb", "-o", str(empty_dir))
    assert result.code == 0, result.err
    assert "Inferred from the prompt" in result.out
    assert '"300M DAU"' in result.out and '"50 ms"' in result.out
    assumed = next(line for line in result.out.splitlines() if line.startswith("Assumed (not in the prompt):"))
    assert "trainer=" in assumed and "daily_active_users" not in assumed and "batch_engine" not in assumed
    answers = yaml.safe_load(next(empty_dir.glob("*/.mlsd/answers.yml")).read_text(encoding="utf-8"))
    assert answers["use_case"] == "ad-click-prediction"
    assert answers["daily_active_users"] == 300_000_000
    assert answers["latency_budget_ms"] == 50
    assert answers["feature_freshness"] == "hourly"
    assert answers["batch_engine"] == "duckdb"
    assert answers["interview_prompt"] == AD_PROMPT
    design = next(empty_dir.glob("*/DESIGN.md")).read_text(encoding="utf-8")
    assert f"> {AD_PROMPT}" in design
    assert "inferred from: 300M DAU" in design and "inferred from: 50 ms" in design


def test_design_prints_the_document_with_inferred_and_assumed_answers(tmp_path):
    result = run_mlsd("design", "--no-input", "--prompt", AD_PROMPT)
    assert result.code == 0, result.err
    assert result.out.startswith("# ")
    assert "inferred from: 300M DAU" in result.out
    assert "### Assumptions" in result.out
    assert "```mermaid" in result.out
    assert list(tmp_path.iterdir()) == []


def test_design_writes_a_file_and_refuses_to_overwrite_it(tmp_path):
    target = tmp_path / "docs" / "DESIGN.md"
    first = run_mlsd("design", "--no-input", "--preset", "fraud-detection", "-o", str(target))
    assert first.code == 0, first.err
    assert "fraud" in target.read_text(encoding="utf-8").lower()
    target.write_text("mine", encoding="utf-8")
    second = run_mlsd("design", "--no-input", "--preset", "fraud-detection", "-o", str(target))
    assert second.code == 2 and "already exists" in second.err
    assert target.read_text(encoding="utf-8") == "mine"
    assert run_mlsd("design", "--no-input", "--preset", "fraud-detection", "-o", str(target), "--force").code == 0
    assert [p.name for p in target.parent.iterdir()] == ["DESIGN.md"]


def test_generated_design_doc_matches_mlsd_design_for_the_same_answers(empty_dir):
    made = run_mlsd(*NEW, "--preset", "similar-listings", "-o", str(empty_dir))
    assert made.code == 0, made.err
    project = Path(made.out.strip())
    alone = run_mlsd("design", "--no-input", "--answers", str(project / ".mlsd/answers.yml"))
    assert alone.out == (project / "DESIGN.md").read_text(encoding="utf-8")


def test_explain_shows_tradeoffs_derivations_and_rules():
    result = run_mlsd("explain", "vector_index")
    assert result.code == 0
    assert "hnswlib" in result.out and "memory grows with M" in result.out
    assert "faiss when ml_task = retrieval" in result.out
    assert "needs a vector index" in result.out
    missing = run_mlsd("explain", "colour")
    assert missing.code == 2 and "unknown question 'colour'" in missing.err


def test_new_from_a_prompt_asks_only_what_the_prompt_did_not_say(empty_dir):
    result = run_mlsd("new", "--prompt", AD_PROMPT, "-o", str(empty_dir), stdin="\n" * 80)
    assert result.code == 0, result.err
    assert "Daily active users" not in result.out and "Latency budget" not in result.out
    assert "Project name" in result.out and "Trainer" in result.out
    answers = yaml.safe_load(next(empty_dir.glob("*/.mlsd/answers.yml")).read_text(encoding="utf-8"))
    assert answers["daily_active_users"] == 300_000_000 and answers["latency_budget_ms"] == 50


CHURN_PROMPT = "nightly churn predictions for a telecom with 20 million subscribers"


def test_a_prompt_outside_the_presets_becomes_a_named_custom_design(empty_dir):
    result = run_mlsd("new", "--no-input", "--prompt", CHURN_PROMPT, "-o", str(empty_dir))
    assert result.code == 0, result.err
    answers = yaml.safe_load(next(empty_dir.glob("*/.mlsd/answers.yml")).read_text(encoding="utf-8"))
    assert answers["use_case"] == "custom" and answers["prediction_mode"] == "batch"
    assert "Churn" in answers["project_name"] and answers["label"] == "churned"
    assert answers["user_entity"] == "subscriber" and answers["daily_active_users"] == 20_000_000
    assert f"Assumed project_name={answers['project_name']}: named from the prompt's subject" in result.out
    assert "Assumed use_case=custom: no preset matched well enough" in result.out


def test_design_assumptions_list_only_what_was_assumed():
    result = run_mlsd("design", "--no-input", "--prompt", CHURN_PROMPT)
    assert result.code == 0, result.err
    assumptions = result.out.split("### Assumptions", 1)[1].split("###", 1)[0]
    assert "interview_prompt" not in assumptions
    assert "project_name = Subscriber Churn Prediction Service (named from the prompt's subject" in assumptions
    assert "use_case = custom (no preset matched well enough: the closest" in assumptions
    assert "daily_active_users" not in assumptions and "label" not in assumptions
    assert "| Items | 10,000 | assumed |" in result.out
    assert "| Daily active users | 20,000,000 | inferred from: 20 million subscribers |" in result.out


def test_interactively_the_name_from_the_prompt_is_the_suggested_default(empty_dir):
    result = run_mlsd("new", "--prompt", CHURN_PROMPT, "-o", str(empty_dir), stdin="\n" * 80)
    assert result.code == 0, result.err
    assert "suggested Subscriber Churn Prediction Service: named from the prompt's subject" in result.out
    answers = yaml.safe_load(next(empty_dir.glob("*/.mlsd/answers.yml")).read_text(encoding="utf-8"))
    assert answers["project_name"] == "Subscriber Churn Prediction Service"
    typed = run_mlsd("new", "--prompt", CHURN_PROMPT, "-o", str(empty_dir / "b"), stdin="\nMy Churn\n" + "\n" * 80)
    assert typed.code == 0, typed.err
    assert list((empty_dir / "b").glob("my-churn/.mlsd/answers.yml"))


def test_close_presets_fall_back_to_custom_and_name_both(empty_dir):
    result = run_mlsd("design", "--no-input", "--prompt", "Recommend videos and upcoming events to users")
    assert result.code == 0, result.err
    assert "video-recommendation (6) and event-recommendation (5) are too close to choose" in result.out
    chosen = run_mlsd("new", "--no-input", "--dry-run", "--prompt", "Detect fraudulent ads", "-o", str(empty_dir))
    assert "Use case: fraud-detection (score 3); runner-up ad-click-prediction (2)" in chosen.out
