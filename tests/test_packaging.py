"""The wheel carries the template; an installed mlsd generates from any folder, like the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT, resolve, tree

from mlsd import render

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(dist),
            str(ROOT),
        ],
        check=True,
    )
    return next(dist.glob("mlsd-*.whl"))


def test_wheel_contains_the_template_and_no_bytecode(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "mlsd/template/cookiecutter.json" in names
    assert "mlsd/template/hooks/pre_gen_project.py" in names
    assert "mlsd/template/hooks/post_gen_project.py" in names
    assert "mlsd/presets.json" in names
    assert "mlsd/template/compiled.json" in names
    template_files = [n for n in names if n.startswith("mlsd/template/{{cookiecutter.project_slug}}/")]
    assert len(template_files) >= 20
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_installed_mlsd_generates_the_same_project_as_the_checkout(wheel, tmp_path, spec):
    venv = tmp_path / "venv"
    uv = Path(sys.executable).parent / "uv"
    subprocess.run([str(uv), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    subprocess.run([str(uv), "pip", "install", "--quiet", "--python", str(venv / "bin/python"), str(wheel)], check=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["HOME"] = str(tmp_path)
    where = subprocess.run(
        [str(venv / "bin/python"), "-c", "from mlsd import render; print(render.template_root())"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert "site-packages" in where
    # a python that compiles bytecode for the installed template must not leak it into projects
    subprocess.run([str(venv / "bin/python"), "-m", "compileall", "-q", where], env=env, check=False)
    result = subprocess.run(
        [
            str(venv / "bin/mlsd"),
            "new",
            "--no-input",
            "-q",
            "--set",
            "project_name=Wheel Service",
            "--set",
            "serving=rest+grpc",
            "-o",
            "out",
        ],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    installed = elsewhere / "out" / "wheel-service"
    checkout = render.generate(
        resolve(spec, project_name="Wheel Service", serving="rest+grpc"), spec, tmp_path / "checkout"
    )
    assert tree(installed) == tree(checkout)
    assert not list(installed.rglob("__pycache__"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkout", "elsewhere", "venv"]


@pytest.mark.parametrize("ci", ["github", "gitlab"])
def test_the_generated_ci_template_job_runs_mlsd_check_from_the_package_it_names(wheel, tmp_path, spec, ci):
    import yaml

    project = render.generate(resolve(spec, project_name="Checked Service", ci=ci), spec, tmp_path)
    if ci == "github":
        steps = yaml.safe_load((project / ".github/workflows/ci.yml").read_text())["jobs"]["template"]["steps"]
        script = next(step["run"] for step in steps if "mlsd check" in step.get("run", ""))
    else:
        script = "\n".join(yaml.safe_load((project / ".gitlab-ci.yml").read_text())["template"]["script"])
    script = script.replace("python -m pip install uv", "true").replace("pip install uv", "true")
    uv_dir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env |= {"MLSD_PACKAGE": str(wheel), "PATH": f"{uv_dir}{os.pathsep}{env['PATH']}", "HOME": str(tmp_path)}
    env["UV_TOOL_DIR"] = str(tmp_path / "tools")
    passed = subprocess.run(["bash", "-ec", script], cwd=project, env=env, capture_output=True, text=True)
    assert passed.returncode == 0, passed.stderr[-2000:]
    assert "ok (template" in passed.stdout
    (project / "Makefile").unlink()
    failed = subprocess.run(["bash", "-ec", script], cwd=project, env=env, capture_output=True, text=True)
    assert failed.returncode == 1 and "missing: Makefile" in failed.stdout
