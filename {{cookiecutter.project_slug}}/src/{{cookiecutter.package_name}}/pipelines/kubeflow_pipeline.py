"""Kubeflow pipeline: each step of ``pipelines/run.py`` as a container running the project CLI.

``python -m <package>.pipelines.kubeflow_pipeline`` compiles
``kubeflow_pipeline.yaml`` for upload. ``build_pipeline`` imports kfp, so the module imports
without it. Steps share ``var_dir`` through a volume mounted at /app/var.
"""

from __future__ import annotations

import sys

from .run import STEPS

IMAGE = "{{ cookiecutter.project_slug }}:latest"
PACKAGE = "{{ cookiecutter.package_name }}"


def build_pipeline():
    """Return the pipeline function, one container task per step, chained in order."""
    from kfp import dsl

    def step_component(name: str):
        @dsl.container_component
        def step():
            return dsl.ContainerSpec(
                image=IMAGE,
                command=["python", "-m", PACKAGE],
                args=[name],
            )

        step.component_spec.name = name
        return step

    @dsl.pipeline(name="{{ cookiecutter.project_slug }}-training")
    def pipeline():
        previous = None
        for name in STEPS:
            task = step_component(name)()
            if previous is not None:
                task.after(previous)
            previous = task

    return pipeline


def compile_pipeline(path: str = "kubeflow_pipeline.yaml") -> str:
    from kfp import compiler

    compiler.Compiler().compile(build_pipeline(), package_path=path)
    return path


if __name__ == "__main__":
    print(compile_pipeline(*sys.argv[1:2]))
