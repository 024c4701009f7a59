"""Kubeflow pipeline: each step of ``pipelines/run.py`` as a Python component, in order.

``python -m {{ cookiecutter.package_name }}.pipelines.kubeflow_pipeline`` compiles
``kubeflow_pipeline.yaml`` for upload. ``build_pipeline`` imports kfp, so the module imports
without it. Components run in the project image and share ``var_dir`` through a volume mounted
at /app/var; each passes its JSON summary on, which orders the steps. A pipeline has no
schedule of its own: ``create_recurring_run`` starts one from ``CRON``. No
``from __future__ import annotations`` here: kfp reads the component's annotations as types.
"""

import sys

from .run import STEPS

IMAGE = "{{ cookiecutter.project_slug }}:latest"
NAME = "{{ cookiecutter.project_slug }}-training"
CRON = "{{ {"hourly": "0 0 * * * *", "daily": "0 0 3 * * *", "weekly": "0 0 3 * * 1", "manual": ""}[cookiecutter.retraining_cadence] }}"
"""Recurring-run cron of Kubeflow (seconds first) for retraining_cadence={{ cookiecutter.retraining_cadence }}; empty: by hand."""


def run_step(name: str, after: str = "") -> str:
    """Run one step with the settings of the component's environment; return its JSON summary.

    The component's source is this function alone, so it imports what it needs inside.
    """
    import json

    from {{ cookiecutter.package_name }}.pipelines.run import STEPS
    from {{ cookiecutter.package_name }}.settings import load_settings

    return json.dumps(STEPS[name](load_settings()), default=str)


def build_pipeline():
    """Return the pipeline function: one task per step, each fed the previous one's summary."""
    from kfp import dsl

    step = dsl.component(run_step, base_image=IMAGE)

    @dsl.pipeline(name=NAME)
    def pipeline() -> str:
        """Run every step; return the summary of ``promote`` (the new champion, if any)."""
        summaries = {}
        for name in STEPS:
            previous = list(summaries.values())[-1] if summaries else ""
            task = step(name=name, after=previous).set_display_name(name)
            task.set_caching_options(False)
            summaries[name] = task.output
        return summaries["promote"]

    return pipeline


def compile_pipeline(path: str = "kubeflow_pipeline.yaml") -> str:
    from kfp import compiler

    compiler.Compiler().compile(build_pipeline(), package_path=path)
    return path


def recurring_run(experiment_id: str, package_path: str) -> dict | None:
    """Return the ``kfp.Client.create_recurring_run`` arguments for ``CRON`` (None: manual)."""
    if not CRON:
        return None
    return {
        "experiment_id": experiment_id,
        "job_name": NAME,
        "cron_expression": CRON,
        "pipeline_package_path": package_path,
        "max_concurrency": 1,
        "no_catchup": True,
    }


def create_recurring_run(client, experiment_id: str, package_path: str):
    """Schedule the compiled pipeline on ``client`` (a ``kfp.Client``); None when manual."""
    arguments = recurring_run(experiment_id, package_path)
    return None if arguments is None else client.create_recurring_run(**arguments)


if __name__ == "__main__":
    print(compile_pipeline(*sys.argv[1:2]))
