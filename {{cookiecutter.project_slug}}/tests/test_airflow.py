"""The Airflow DAG loads in a DagBag and runs every step with ``dag.test()``.

On the small synthetic data. Runs only when the ``airflow`` group is installed (``make setup``
installs it); with ``MLSD_REQUIRE_TOOLS=1`` a missing apache-airflow fails instead of skipping.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.pipelines import (
    airflow_dag as definition,
)
from {{ cookiecutter.package_name }}.registry.registry import open_registry
from {{ cookiecutter.package_name }}.settings import ENV_PREFIX

from conftest import (
    make_unbeatable,
    orchestrator_required,
    run_script,
    small_settings,
    step_environment,
)

pytestmark = pytest.mark.skipif(
    find_spec("airflow") is None and not orchestrator_required(),
    reason="apache-airflow is not installed: `make setup` installs the airflow group",
)
CADENCE = "{{ cookiecutter.retraining_cadence }}"


RUN_DAG = """
import json, sys
from airflow.dag_processing.dagbag import DagBag

bag = DagBag(dag_folder=sys.argv[1])
dag = bag.get_dag(sys.argv[2])
errors = {str(path): str(error) for path, error in bag.import_errors.items()}
result = {"errors": errors, "dags": sorted(bag.dag_ids)}
if dag is not None:
    run = dag.test()
    result.update(
        state=str(run.state),
        tasks={ti.task_id: str(ti.state) for ti in run.get_task_instances()},
        order=list(dag.task_ids),
        schedule=dag.schedule,
        timetable=type(dag.timetable).__name__,
    )
print("RESULT " + json.dumps(result))
"""


def airflow_environment(tmp_path) -> dict:
    """Airflow configured by environment variables only: a SQLite database under ``tmp_path``."""
    home = tmp_path / "airflow"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", ENV_PREFIX))}
    return {
        **env,
        **step_environment(tmp_path),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(Path(definition.__file__).parent),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "300",
        "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
    }


def test_the_dag_loads_and_runs_every_step_promoting_only_a_better_model(tmp_path):
    env = airflow_environment(tmp_path)
    migrate = subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "db", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert migrate.returncode == 0, (migrate.stdout + migrate.stderr)[-4000:]
    folder = env["AIRFLOW__CORE__DAGS_FOLDER"]
    settings = small_settings(tmp_path)

    first = run_script(RUN_DAG, env, folder, definition.DAG_ID)
    assert first["errors"] == {} and first["dags"] == [definition.DAG_ID]
    assert first["order"] == list(definition.STEPS)
    assert first["state"] == "success"
    assert set(first["tasks"].values()) == {"success"}
    assert first["schedule"] == (None if CADENCE == "manual" else "@" + CADENCE)
    timetable = "NullTimetable" if CADENCE == "manual" else "CronTriggerTimetable"
    assert first["timetable"] == timetable
    registry = open_registry(settings)
    assert registry.versions() == [1] and registry.alias("champion") == 1

    make_unbeatable(settings, 1)
    second = run_script(RUN_DAG, env, folder, definition.DAG_ID)
    assert second["state"] == "success"
    assert registry.versions() == [1, 2] and registry.alias("champion") == 1
