"""Every template version mlsd has shipped, kept in the package so old projects render offline.

``mlsd update`` and ``mlsd check`` need the *base*: the project exactly as the template version
it records rendered it. Each version's template (``cookiecutter.json``, ``hooks/`` and the
template folder) is frozen into ``history/<version>.tar.xz`` (about 130 kB). A version's hooks
embed its whole rule engine, question bank and DESIGN.md writer, so its archive alone renders
what that version rendered: the files through Jinja, then the version's own pre- and
post-generation hooks, as cookiecutter runs them.

``python -m mlsd.templategen`` freezes the installed version (its archive must hold exactly the
live template); the archives of earlier versions never change, which ``SHA256SUMS`` records.
"""

from __future__ import annotations

import atexit
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from functools import cache
from pathlib import Path

from mlsd import __version__

SUFFIX = ".tar.xz"
SUMS = "SHA256SUMS"
TEMPLATE_PARTS = ("cookiecutter.json", "hooks", "{{cookiecutter.project_slug}}")


class UnknownVersion(LookupError):
    """No archive of the requested template version ships with this mlsd."""


def folder() -> Path:
    return Path(__file__).resolve().parent / "history"


def version_key(version: str) -> tuple:
    """Return a sortable key for a release number such as '0.10.2' (numeric parts compare as numbers)."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"[.+-]", version))


def versions() -> list[str]:
    """Return every template version that can be rendered, oldest first."""
    found = {path.name[: -len(SUFFIX)] for path in folder().glob(f"*{SUFFIX}")}
    return sorted(found | {__version__}, key=version_key)


def template_files(root: Path) -> dict[str, bytes]:
    """Return the template's files (relative posix path -> bytes), without caches or bytecode."""
    from mlsd.render import SKIPPED_NAMES, SKIPPED_SUFFIXES

    files: dict[str, bytes] = {}
    for part in TEMPLATE_PARTS:
        base = root / part
        paths = [base] if base.is_file() else sorted(base.rglob("*"))
        for path in paths:
            relative = path.relative_to(root)
            if path.is_file() and not set(relative.parts) & SKIPPED_NAMES and not path.name.endswith(SKIPPED_SUFFIXES):
                files[relative.as_posix()] = path.read_bytes()
    return files


def archive_bytes(files: dict[str, bytes], modes: dict[str, int] | None = None) -> bytes:
    """Return a reproducible tar.xz of ``files``: sorted members, no owners, no times."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:xz", preset=9) as archive:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            info.mode = (modes or {}).get(name, 0o644)
            archive.addfile(info, io.BytesIO(files[name]))
    return buffer.getvalue()


def archived_files(version: str) -> dict[str, bytes]:
    """Return the files frozen for ``version`` (relative posix path -> bytes)."""
    path = folder() / f"{version}{SUFFIX}"
    if not path.is_file():
        raise UnknownVersion(version)
    with tarfile.open(path, mode="r:xz") as archive:
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}


def freeze(root: Path, version: str = __version__) -> bool:
    """Write the archive of ``version`` from the template under ``root``; return whether it changed."""
    files = template_files(root)
    path = folder() / f"{version}{SUFFIX}"
    if path.is_file() and archived_files(version) == files:
        return False
    modes = {name: 0o755 if os.access(root / name, os.X_OK) else 0o644 for name in files}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(archive_bytes(files, modes))
    return True


def sums() -> dict[str, str]:
    """Return the recorded SHA-256 of each released (frozen for good) archive."""
    path = folder() / SUMS
    if not path.is_file():
        return {}
    pairs = (line.split() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    return {name[: -len(SUFFIX)]: digest for digest, name in pairs}


def archive_digest(version: str) -> str:
    return hashlib.sha256((folder() / f"{version}{SUFFIX}").read_bytes()).hexdigest()


@cache
def extracted(version: str) -> Path:
    """Return a folder holding the template of ``version`` (the live one for the installed version)."""
    if version == __version__:
        from mlsd.render import template_root

        return template_root()
    files = archived_files(version)
    root = Path(tempfile.mkdtemp(prefix=f"mlsd-template-{version}-"))
    atexit.register(shutil.rmtree, root, True)
    for name, data in files.items():
        target = root.joinpath(*name.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return root


def cookiecutter_context(root: Path, answers: dict) -> dict:
    """Return the ``cookiecutter`` context of a template for complete recorded answers."""
    defaults = json.loads((root / "cookiecutter.json").read_text(encoding="utf-8"))
    context: dict = {}
    for key, value in defaults.items():
        if key.startswith("__"):
            continue
        if key.startswith("_"):
            context[key] = value
        elif key in answers:
            context[key] = answers[key]
        else:
            context[key] = value[0] if isinstance(value, list) else value
    return context


def render_version(version: str, answers: dict, destination: Path) -> None:
    """Render ``answers`` with the template of ``version`` into the empty folder ``destination``.

    Runs the version's own hooks as cookiecutter does (pre-generation validation, then files,
    then the post-generation pruning and writing of DESIGN.md and the answers file). Raises
    UnknownVersion, or GenerationError with the hook's one-line message.
    """
    render_template(extracted(version), answers, destination)


def render_template(root: Path, answers: dict, destination: Path) -> None:
    """Render a template folder (cookiecutter.json, hooks, template) with its hooks, as cookiecutter does."""
    from mlsd import render

    env = render.jinja_environment()
    context = cookiecutter_context(root, answers)
    destination.mkdir(parents=True, exist_ok=True)
    _run_hook(env, root / "hooks" / "pre_gen_project.py", context, destination)
    for relative, source in render.template_plan(root / render.TEMPLATE_FOLDER, env, context, pruned=()):
        target = destination.joinpath(*relative.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        render.render_file(env, source, target, context)
    _run_hook(env, root / "hooks" / "post_gen_project.py", context, destination)


def _run_hook(env, hook: Path, context: dict, cwd: Path) -> None:
    from mlsd.render import GenerationError

    if not hook.is_file():
        return
    source = env.from_string(hook.read_text(encoding="utf-8")).render(cookiecutter=context)
    with tempfile.TemporaryDirectory(prefix="mlsd-hook-") as scratch:
        script = Path(scratch, hook.name)
        script.write_text(source, encoding="utf-8")
        result = subprocess.run([sys.executable, str(script)], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        message = lines[-1].removeprefix("error: ") if lines else f"exit code {result.returncode}"
        raise GenerationError(f"template {context.get('_mlsd_version', '?')} refused the answers: {message}")
