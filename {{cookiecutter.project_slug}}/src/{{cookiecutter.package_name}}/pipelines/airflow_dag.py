"""Airflow DAG: the steps of ``pipelines/run.py`` as tasks, retraining {{ cookiecutter.retraining_cadence }}.

Put this file in the DAGs folder of an Airflow installation that has the project installed
(``pip install -e '.[airflow]'``); Airflow loads it by path, so it imports the package by name.
``build_dag`` imports Airflow, so the module imports without it. ``promote`` makes the new
version the champion only when it beats the champion's metric.
"""

from __future__ import annotations

from {{ cookiecutter.package_name }}.pipelines.run import STEPS

DAG_ID = "{{ cookiecutter.package_name }}_training"
SCHEDULE = {{ 'None' if cookiecutter.retraining_cadence == 'manual' else '"@' ~ cookiecutter.retraining_cadence ~ '"' }}
"""Airflow preset for retraining_cadence={{ cookiecutter.retraining_cadence }} (None: triggered by hand)."""


def run_step(name: str) -> dict:
    """Run one pipeline step with the settings of the worker's environment."""
    from {{ cookiecutter.package_name }}.settings import load_settings

    return STEPS[name](load_settings())


def build_dag():
    """Return the DAG: one PythonOperator per step, chained in order."""
    from datetime import datetime

    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.sdk import DAG

    with DAG(
        dag_id=DAG_ID,
        schedule=SCHEDULE,
        start_date=datetime(2024, 1, 1),
        catchup=False,
        tags=["mlsd", "{{ cookiecutter.project_slug }}"],
    ) as dag:
        previous = None
        for name in STEPS:
            task = PythonOperator(task_id=name, python_callable=run_step, op_args=[name])
            if previous is not None:
                previous >> task
            previous = task
    return dag


try:
    dag = build_dag()
except ImportError:
    dag = None
