from __future__ import annotations

import json

from {{ cookiecutter.package_name }}.cli import VERBS, main
from {{ cookiecutter.package_name }}.pipelines.run import STEPS
from {{ cookiecutter.package_name }}.registry.registry import (
    open_registry,
)
from {{ cookiecutter.package_name }}.settings import ENV_PREFIX


def test_the_whole_loop_runs_and_promotes_a_model(loop):
    settings, report = loop
    assert list(report) == list(STEPS)
    assert report["train"]["metrics"]["beats_baseline"]
    assert report["promote"]["promoted"] == report["train"]["version"]
    assert open_registry(settings).alias("champion") == report["train"]["version"]
    assert report["predict"]["served"] == 200
    saved = json.loads((settings.var / "reports" / "run.json").read_text())
    assert saved["predict"] == report["predict"]


def test_every_pipeline_step_is_a_cli_verb():
    assert set(STEPS) <= set(VERBS)


def test_cli_runs_a_verb_and_reports_errors_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(f"{ENV_PREFIX}VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv(f"{ENV_PREFIX}N_USERS", "50")
    monkeypatch.setenv(f"{ENV_PREFIX}N_EVENTS", "500")
    assert main(["data"]) == 0
    assert json.loads(capsys.readouterr().out)["users"] == 50
    assert main(["rollback"]) == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("error: rollback failed: nothing to roll back to")
{%- if cookiecutter.orchestrator != 'none' %}


def test_orchestrator_definition_imports_without_its_library():
{%- if cookiecutter.orchestrator == 'airflow' %}
    from {{ cookiecutter.package_name }}.pipelines import (
        airflow_dag as module,
    )

    assert callable(module.build_dag) and module.DAG_ID
{%- elif cookiecutter.orchestrator == 'kubeflow' %}
    from {{ cookiecutter.package_name }}.pipelines import (
        kubeflow_pipeline as module,
    )

    assert callable(module.build_pipeline)
{%- else %}
    from {{ cookiecutter.package_name }}.pipelines import (
        prefect_flow as module,
    )

    assert callable(module.build_flow)
{%- endif %}
    assert module.STEPS is STEPS
{%- endif %}
