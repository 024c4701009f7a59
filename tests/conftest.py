"""Shared fixtures: the spec, a CLI runner that returns (code, stdout, stderr), bakes per session."""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlsd import cli, engine, render
from mlsd.spec import spec as load_spec

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_mlsd(*args: str, stdin: str = "", cwd: Path | None = None) -> Result:
    """Run ``mlsd ARGS`` in process; stdin is given as text (empty means closed input)."""
    out, err = io.StringIO(), io.StringIO()
    previous = os.getcwd()
    import sys

    old_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(list(args))
    finally:
        sys.stdin = old_stdin
        os.chdir(previous)
    return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="session")
def spec() -> dict:
    return load_spec()


def resolve(spec: dict, **explicit) -> dict:
    answers, _ = engine.resolve({"project_name": "Test Service", **explicit}, spec)
    return answers


def bake(answers: dict, spec: dict, output_dir: Path) -> Path:
    return render.generate(answers, spec, output_dir)


def tree(root: Path) -> dict[str, bytes]:
    """Return every file under root (relative posix path -> bytes)."""
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.fixture
def empty_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder
