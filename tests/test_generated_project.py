"""Generated projects install and pass their own tests (a few configurations, end to end)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import resolve

from mlsd import render

pytestmark = pytest.mark.slow

CONFIGS = {
    "defaults": {},
    "ad-click-lightgbm-feast-mlflow-rest": {
        "use_case": "ad-click-prediction",
        "trainer": "lightgbm",
        "batch_engine": "duckdb",
        "stream_engine": "embedded",
        "feature_store": "feast",
        "registry": "mlflow",
        "serving": "rest",
    },
    # A recommender fed by a Kafka topic: feature_freshness=seconds derives Feast, so both the
    # consumer's tests (on a Tansu broker) and the Redis online-store tests must run.
    "retrieval-faiss-grpc-kafka": {
        "ml_task": "retrieval",
        "vector_index": "faiss",
        "serving": "grpc",
        "feature_freshness": "seconds",
        "stream_engine": "kafka",
    },
    "spark-batch-scoring-py312": {
        "prediction_mode": "batch",
        "batch_engine": "spark",
        "ml_task": "regression",
        "python_version": "3.12",
    },
    "batch-regression-xgboost-py313": {
        "prediction_mode": "batch",
        "ml_task": "regression",
        "trainer": "xgboost",
        "monitoring": False,
        "python_version": "3.13",
    },
    # torch==2.13.0 comes from the CPU wheel in pip's find-links (PIP_FIND_LINKS), which the
    # project's Makefile passes on to uv; from the index it would pull the CUDA build.
    "multiclass-pytorch": {"ml_task": "multiclass", "trainer": "pytorch"},
}


def interpreter(version: str) -> str | None:
    """Return a working python``version`` of this machine: on PATH, else in pyenv's versions."""
    pyenv = sorted(Path.home().glob(f".pyenv/versions/{version}.*/bin/python{version}"))
    for candidate in (shutil.which(f"python{version}"), *map(str, pyenv)):
        if candidate and subprocess.run([candidate, "-c", ""], capture_output=True).returncode == 0:
            return candidate
    return None


def _run(args: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def server_tests(answers: dict) -> list[str]:
    """Return the generated test files that start a real server and must run, not skip."""
    files = []
    if answers["stream_engine"] in ("kafka", "flink"):
        files.append("tests/test_stream_kafka.py")
    if answers["feature_store"] == "feast":
        files.append("tests/test_features_redis.py")
    return files


@pytest.mark.parametrize("name", list(CONFIGS))
def test_generated_project_installs_and_passes_its_tests(name, tmp_path, spec):
    answers = resolve(spec, project_name=f"Gen {name}", **CONFIGS[name])
    python = interpreter(answers["python_version"])
    if python is None:
        pytest.skip(f"no Python {answers['python_version']} on this machine")
    if answers["trainer"] == "pytorch" and not os.environ.get("PIP_FIND_LINKS"):
        pytest.skip("no local CPU torch wheel (PIP_FIND_LINKS): the index would pull the CUDA build")
    project = render.generate(answers, spec, tmp_path)
    uv = str(Path(sys.executable).parent / "uv")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{Path(uv).parent}{os.pathsep}{env.get('PATH', '')}"
    venv = project / ".venv"
    if name == "defaults":  # the user's path: make lock, then make setup installs exactly uv.lock
        for target in ("lock", "setup"):
            made = _run(["make", target], project, env)
            assert made.returncode == 0, made.stderr[-2000:]
        assert (project / "uv.lock").is_file() and (venv / "bin/ruff").is_file()
    else:
        assert _run([uv, "venv", "--quiet", "--python", python, str(venv)], project, env).returncode == 0
        extras = "dev,spark" if answers["batch_engine"] == "spark" else "dev"
        links = [arg for folder in env.get("PIP_FIND_LINKS", "").split() for arg in ("--find-links", folder)]
        command = [uv, "pip", "install", "--quiet", "--python", str(venv / "bin/python"), *links, "-e", f".[{extras}]"]
        install = _run(command, project, env)
        assert install.returncode == 0, install.stderr[-2000:]
    version = _run([str(venv / "bin/python"), "-c", "import sys; print(sys.version[:4])"], project, env)
    assert version.stdout.strip() == answers["python_version"]
    demo = _run(["make", "demo"], project, env)
    assert demo.returncode == 0, demo.stderr[-2000:]
    assert json.loads((project / "var/reports/run.json").read_text())["train"]["version"]
    # -rfEsp: one summary line per passed or skipped test, "PASSED path::name" / "SKIPPED [n] path:line"
    pytest_args = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfEsp"]
    tests = _run([str(venv / "bin/python"), *pytest_args], project, env)
    assert tests.returncode == 0, tests.stdout[-4000:]
    assert " passed" in tests.stdout
    if answers["batch_engine"] == "spark":
        assert "skipped" not in tests.stdout, "the Spark tests must run, not skip"
    for path in server_tests(answers):
        skipped = re.findall(rf"^SKIPPED \[\d+\] {re.escape(path)}:.*$", tests.stdout, re.MULTILINE)
        assert not skipped, f"{path} must run against its server, not skip: {skipped[0]}"
        assert f"PASSED {path}::" in tests.stdout, f"{path} did not run"
    lint = _run([str(venv / "bin/ruff"), "check", "--no-cache", "."], project, env)
    assert lint.returncode == 0, lint.stdout[-2000:]
