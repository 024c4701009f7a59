"""Prefect flow: the steps of ``pipelines/run.py`` as tasks, retraining {{ cookiecutter.retraining_cadence }}.

``python -m {{ cookiecutter.package_name }}.pipelines.prefect_flow`` serves it on its schedule
(``build_deployment``); ``build_flow`` imports Prefect, so the module imports without it.
"""

from __future__ import annotations

from .run import STEPS

CRON = "{{ {"hourly": "0 * * * *", "daily": "0 3 * * *", "weekly": "0 3 * * 1", "manual": ""}[cookiecutter.retraining_cadence] }}"
"""Schedule for ``training_flow.serve(cron=CRON)``; empty means run by hand."""


def run_step(name: str) -> dict:
    from ..settings import load_settings

    return STEPS[name](load_settings())


def build_flow():
    """Return the flow: one retried task per step, run in order."""
    from prefect import flow, task

    step_task = task(run_step, retries=2, retry_delay_seconds=30)

    @flow(name="{{ cookiecutter.project_slug }}-training")
    def training_flow() -> dict:
        return {name: step_task.with_options(name=name)(name) for name in STEPS}

    return training_flow


def build_deployment(flow=None):
    """Return the flow's deployment, scheduled by ``CRON`` (no schedule when manual)."""
    flow = flow or build_flow()
    return flow.to_deployment(name="{{ cookiecutter.project_slug }}", cron=CRON or None)


if __name__ == "__main__":
    if CRON:
        from prefect import serve

        serve(build_deployment())
    else:
        print(build_flow()())
