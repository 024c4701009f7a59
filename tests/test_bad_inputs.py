"""Bad input: one clear line on stderr, the right exit code, nothing written, nothing left behind."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from conftest import ROOT, run_mlsd

NAME = ("--set", "project_name=Bad Input")

# (id, arguments after `mlsd`, answers-file text or None, expected words in the error, exit code)
CASES = [
    ("unknown-key", ("new", "--no-input", *NAME, "--set", "bogus=1"), None, "unknown question 'bogus'", 2),
    ("set-without-equals", ("new", "--no-input", *NAME, "--set", "trainer"), None, "--set takes KEY=VALUE", 2),
    ("set-empty-key", ("new", "--no-input", *NAME, "--set", "=x"), None, "--set takes KEY=VALUE", 2),
    (
        "bad-choice",
        ("new", "--no-input", *NAME, "--set", "trainer=keras"),
        None,
        "trainer=keras is not a valid choice",
        2,
    ),
    ("bad-int", ("new", "--no-input", *NAME, "--set", "latency_budget_ms=fast"), None, "is not a whole number", 2),
    ("negative-int", ("new", "--no-input", *NAME, "--set", "daily_active_users=-5"), None, "out of range", 2),
    ("bad-bool", ("new", "--no-input", *NAME, "--set", "monitoring=maybe"), None, "not a yes/no value", 2),
    ("empty-name", ("new", "--no-input", "--set", "project_name= "), None, "project_name is empty", 2),
    ("unknown-preset", ("new", "--no-input", "--preset", "chess-engine"), None, "unknown preset 'chess-engine'", 2),
    ("slug-traversal", ("new", "--no-input", *NAME, "--set", "project_slug=../escape"), None, "project_slug", 2),
    ("slug-absolute", ("new", "--no-input", *NAME, "--set", "project_slug=/etc/x"), None, "project_slug", 2),
    ("slug-backslash", ("new", "--no-input", *NAME, "--set", "project_slug=a\\b"), None, "project_slug", 2),
    (
        "slug-leading-digit",
        ("new", "--no-input", *NAME, "--set", "project_slug=1st-service"),
        None,
        "start with a letter",
        2,
    ),
    ("slug-non-ascii", ("new", "--no-input", *NAME, "--set", "project_slug=sérvice"), None, "non-ASCII", 2),
    ("slug-empty", ("new", "--no-input", *NAME, "--set", "project_slug="), None, "project_slug is empty", 2),
    ("name-underivable", ("new", "--no-input", "--set", "project_name=サービス"), None, "could not be derived", 2),
    ("name-control-chars", ("new", "--no-input", "--set", "project_name=a\x1b[31mb"), None, "control characters", 2),
    ("package-keyword", ("new", "--no-input", *NAME, "--set", "package_name=class"), None, "is a Python keyword", 2),
    ("package-stdlib", ("new", "--no-input", *NAME, "--set", "package_name=json"), None, "standard-library", 2),
    ("package-dependency", ("new", "--no-input", *NAME, "--set", "package_name=pandas"), None, "shadows a module", 2),
    ("package-dash", ("new", "--no-input", *NAME, "--set", "package_name=my-pkg"), None, "package_name", 2),
    ("label-keyword", ("new", "--no-input", *NAME, "--set", "label=lambda"), None, "is a Python keyword", 2),
    ("entity-clash", ("new", "--no-input", *NAME, "--set", "user_entity=item"), None, "must differ", 2),
    ("label-is-an-id", ("new", "--no-input", *NAME, "--set", "label=user_id"), None, "not an id", 2),
    ("email", ("new", "--no-input", *NAME, "--set", "author_email=nobody"), None, "name@example.com", 2),
    ("too-long", ("new", "--no-input", *NAME, "--set", "description=" + "x" * 301), None, "at most 300", 2),
    (
        "retrieval-no-index",
        ("new", "--no-input", *NAME, "--set", "ml_task=retrieval", "--set", "vector_index=none"),
        None,
        "needs a vector index",
        2,
    ),
    (
        "batch-with-rest",
        ("new", "--no-input", *NAME, "--set", "prediction_mode=batch", "--set", "serving=rest"),
        None,
        "serving=rest does not apply",
        2,
    ),
    (
        "ab-without-serving",
        (
            "new",
            "--no-input",
            *NAME,
            "--set",
            "prediction_mode=hybrid",
            "--set",
            "serving=none",
            "--set",
            "experiment=ab",
        ),
        None,
        "experiment=ab does not apply",
        2,
    ),
    (
        "kubeflow-compose",
        ("new", "--no-input", *NAME, "--set", "orchestrator=kubeflow", "--set", "deploy=compose"),
        None,
        "kubeflow runs on Kubernetes",
        2,
    ),
    ("stream-daily", ("new", "--no-input", *NAME, "--set", "stream_engine=kafka"), None, "does not apply", 2),
    ("answers-missing", ("new", "--no-input", "--answers", "{missing}"), None, "does not exist", 2),
    ("answers-bad-yaml", ("new", "--no-input", "--answers", "{file}"), "a: [1, 2\n", "not valid YAML", 2),
    ("answers-bad-json", ("new", "--no-input", "--answers", "{file}.json"), "{not json", "not valid JSON", 2),
    ("answers-list", ("new", "--no-input", "--answers", "{file}"), "- a\n- b\n", "must hold a mapping", 2),
    ("answers-nested", ("new", "--no-input", "--answers", "{file}"), "project_name: {a: 1}\n", "single value", 2),
    (
        "answers-unknown",
        ("new", "--no-input", "--answers", "{file}"),
        "project_name: X\nevil: '{{ 7*7 }}'\n",
        "unknown question 'evil'",
        2,
    ),
    (
        "answers-bad-choice",
        ("new", "--no-input", "--answers", "{file}"),
        "project_name: X\nserving: soap\n",
        "serving=soap is not a valid choice",
        2,
    ),
    ("answers-binary", ("new", "--no-input", "--answers", "{file}"), b"\xff\xfe\x00", "not UTF-8", 2),
    ("unknown-option", ("new", "--colour"), None, "No such option '--colour'", 2),
    ("unknown-command", ("generate",), None, "No such command 'generate'", 2),
    ("bad-format", ("options", "--format", "xml"), None, "'xml' is not one of", 2),
    ("closed-stdin", ("new", "-o", "{out}"), None, "input ended at question", 2),
]


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_bad_input_is_refused_cleanly(case, tmp_path, monkeypatch):
    _, args, file_text, expected, code = case
    scratch = tmp_path / "tmpdir"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    out = tmp_path / "out"
    out.mkdir()
    answers = tmp_path / "answers.yml"
    if file_text is not None:
        target = Path(str(answers) + ".json") if any(a.endswith(".json") for a in args) else answers
        target.write_bytes(file_text if isinstance(file_text, bytes) else file_text.encode())
    args = [a.format(missing=tmp_path / "nope.yml", file=answers, out=out) for a in args]
    if args[0] == "new" and "-o" not in args:
        args += ["-o", str(out)]
    result = run_mlsd(*args, cwd=tmp_path)
    assert result.code == code, result.err
    assert expected in result.err
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert result.err.strip().startswith("mlsd: error: ")
    assert list(out.iterdir()) == []
    assert list(scratch.iterdir()) == []
    assert {p.name for p in tmp_path.iterdir()} <= {"out", "tmpdir", "answers.yml", "answers.yml.json"}


def test_there_are_at_least_thirty_bad_inputs():
    assert len(CASES) + len(PLAIN_COOKIECUTTER_CASES) + len(PROMPT_CASES) >= 30


PROMPT_CASES = [
    ("99", "use_case=99 is not a valid choice"),
    ("1bad-slug", "project_slug='1bad-slug' is invalid"),
    ("class", "package_name='class' is a Python keyword"),
    ("x@", "author_email='x@' is invalid"),
    ("9", "python_version=9 is not a valid choice"),
    ("-3", "latency_budget_ms=-3 is out of range"),
]


def test_interview_reasks_until_each_answer_is_valid(tmp_path):
    bad = dict(PROMPT_CASES)
    typed = ["99", "", "Re Ask", "1bad-slug", "", "class", "", "", "", "x@", "a@b.io", "9", "", "", "", "", "-3", "20"]
    result = run_mlsd("new", "-q", "-o", str(tmp_path), stdin="\n".join(typed + [""] * 60) + "\n")
    assert result.code == 0, result.err
    for message in bad.values():
        assert message in result.err
    assert (tmp_path / "re-ask/.mlsd/answers.yml").read_text(encoding="utf-8").count("latency_budget_ms: 20") == 1


PLAIN_COOKIECUTTER_CASES = [
    ({"ml_task": "retrieval"}, "needs a vector index"),
    ({"prediction_mode": "batch"}, "serving=rest (online serving is for online or hybrid prediction)"),
    ({"package_name": "json"}, "standard-library"),
    ({"serving": "none"}, "prediction_mode=online needs serving"),
    ({"latency_budget_ms": "soon"}, "not a whole number"),
    ({"project_slug": "9lives"}, "start with a letter"),
    ({"orchestrator": "kubeflow"}, "kubeflow runs on Kubernetes"),
]


@pytest.mark.parametrize("extra,expected", PLAIN_COOKIECUTTER_CASES, ids=[str(c[0]) for c in PLAIN_COOKIECUTTER_CASES])
def test_plain_cookiecutter_refuses_the_same_answers(extra, expected, tmp_path, capfd):
    from cookiecutter.exceptions import FailedHookException
    from cookiecutter.main import cookiecutter

    config = tmp_path / "cc.yaml"
    config.write_text(json.dumps({"cookiecutters_dir": str(tmp_path / "cc"), "replay_dir": str(tmp_path / "r")}))
    out = tmp_path / "out"
    with pytest.raises(FailedHookException):
        cookiecutter(str(ROOT), no_input=True, extra_context=extra, output_dir=str(out), config_file=str(config))
    assert expected in capfd.readouterr().err
    assert not out.exists() or list(out.iterdir()) == []
