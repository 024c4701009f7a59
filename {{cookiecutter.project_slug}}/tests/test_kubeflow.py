"""The Kubeflow pipeline compiles to IR and its components run with kfp's local runner.

On the small synthetic data. Runs only when the ``kubeflow`` group is installed (``make setup``
installs it); with ``MLSD_REQUIRE_TOOLS=1`` a missing kfp fails instead of skipping.
"""

from __future__ import annotations

import json
from importlib.util import find_spec

import pytest

from {{ cookiecutter.package_name }}.pipelines import (
    kubeflow_pipeline as definition,
)
from {{ cookiecutter.package_name }}.registry.registry import open_registry

from conftest import (
    make_unbeatable,
    orchestrator_required,
    small_settings,
    step_environment,
)

pytestmark = pytest.mark.skipif(
    find_spec("kfp") is None and not orchestrator_required(),
    reason="kfp is not installed: `make setup` installs the kubeflow group",
)
CADENCE = "{{ cookiecutter.retraining_cadence }}"


def test_the_pipeline_compiles_to_ir_naming_every_step(tmp_path):
    import yaml

    path = definition.compile_pipeline(str(tmp_path / "pipeline.yaml"))
    spec = yaml.safe_load(open(path))
    assert spec["pipelineInfo"]["name"] == definition.NAME
    tasks = spec["root"]["dag"]["tasks"].values()
    assert sorted(task["taskInfo"]["name"] for task in tasks) == sorted(definition.STEPS)
    assert all(task["cachingOptions"].get("enableCache", False) is False for task in tasks)


def test_the_components_run_locally_and_promote_only_a_better_model(tmp_path, monkeypatch):
    from kfp import local

    for key, value in step_environment(tmp_path).items():
        monkeypatch.setenv(key, value)
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "kfp"))
    pipeline = definition.build_pipeline()
    settings = small_settings(tmp_path)

    assert json.loads(pipeline().output) == {"promoted": 1, "champion": 1}
    registry = open_registry(settings)
    assert registry.versions() == [1] and registry.alias("champion") == 1

    make_unbeatable(settings, 1)
    promote = json.loads(pipeline().output)
    assert promote == {"promoted": None, "champion": 1, "reason": "not better than v1"}
    assert registry.versions() == [1, 2] and registry.alias("champion") == 1


def test_the_recurring_run_follows_the_retraining_cadence():
    expected = {"hourly": "0 0 * * * *", "daily": "0 0 3 * * *", "weekly": "0 0 3 * * 1"}
    assert definition.CRON == expected.get(CADENCE, "")

    class Client:
        def create_recurring_run(self, **arguments):
            return arguments

    made = definition.create_recurring_run(Client(), "experiment-1", "pipeline.yaml")
    if CADENCE == "manual":
        assert made is None
    else:
        assert made["cron_expression"] == expected[CADENCE]
        assert made["experiment_id"] == "experiment-1"
        assert made["pipeline_package_path"] == "pipeline.yaml"
