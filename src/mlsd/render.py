"""Render the template in process and move the finished project into place atomically.

Renders exactly what ``cookiecutter`` renders (same Jinja settings, same path rules, same
post-processing through ``engine.finish_project``) without its hook subprocesses, replay files
or temporary copies. The project is built in a staging folder beside the target and renamed
into place; on any error, Ctrl-C or SIGTERM the staging folder is removed.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from mlsd import design, engine

TEMPLATE_FOLDER = "{{cookiecutter.project_slug}}"
SKIPPED_NAMES = {"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"}
SKIPPED_SUFFIXES = (".pyc", ".pyo")
ANSWERS_FILE = ".mlsd/answers.yml"
WRITTEN_FILES = ["DESIGN.md", ANSWERS_FILE]


class GenerationError(Exception):
    """Generation refused or failed; the message is one line."""


@cache
def template_root() -> Path:
    """Return the folder holding cookiecutter.json: inside the wheel, or the source checkout."""
    packaged = Path(__file__).resolve().parent / "template"
    if (packaged / "cookiecutter.json").is_file():
        return packaged
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "cookiecutter.json").is_file():
        return checkout
    raise GenerationError("the mlsd template is missing from this installation: reinstall mlsd")


def jinja_environment():
    from jinja2 import Environment, StrictUndefined

    return Environment(undefined=StrictUndefined, keep_trailing_newline=True)


def context(answers: dict, spec: dict) -> dict:
    return {**answers, "_mlsd_version": spec["version"]}


def _template_files(root: Path) -> Iterator[tuple[str, Path]]:
    """Yield (relative template path with '/' separators, absolute path) of template files."""
    for current, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_NAMES)
        for name in sorted(files):
            if name.endswith(SKIPPED_SUFFIXES):
                continue
            path = Path(current, name)
            yield path.relative_to(root).as_posix(), path


def planned_files(answers: dict, spec: dict, env=None) -> list[tuple[str, Path]]:
    """Return (project-relative path, template source) of every file the answers produce."""
    env = env or jinja_environment()
    pruned = tuple(engine.pruned_paths(answers, spec))
    return template_plan(template_root() / TEMPLATE_FOLDER, env, context(answers, spec), pruned)


def template_plan(folder: Path, env, ctx: dict, pruned: tuple[str, ...]) -> list[tuple[str, Path]]:
    """Return (project-relative path, source) of the files of a template ``folder``, minus ``pruned`` paths."""
    rendered_names: dict[str, str] = {}
    planned: list[tuple[str, Path]] = []
    for relative, source in _template_files(folder):
        parts = []
        for segment in relative.split("/"):
            if segment not in rendered_names:
                rendered_names[segment] = _render_text(env, segment, ctx)
            parts.append(rendered_names[segment])
        if not parts[-1]:
            continue
        if any(not part or part in (".", "..") or "/" in part or "\\" in part for part in parts):
            raise GenerationError(f"template path {relative!r} renders to an unsafe name")
        target = "/".join(parts)
        if not any(target == p or target.startswith(p + "/") for p in pruned):
            planned.append((target, source))
    return planned


def render_tree(answers: dict, spec: dict, destination: Path, planned: list | None = None) -> list[str]:
    """Render the project for ``answers`` into ``destination``; return written relative paths."""
    env = jinja_environment()
    ctx = context(answers, spec)
    folder = template_root() / TEMPLATE_FOLDER
    planned = planned if planned is not None else planned_files(answers, spec, env)
    for relative, source in planned:
        target = destination.joinpath(*relative.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        render_file(env, source, target, ctx, source.relative_to(folder).as_posix())
    engine.finish_project(str(destination), answers, spec, _project_design)
    return sorted({relative for relative, _ in planned} | set(WRITTEN_FILES))


JINJA_MARKERS = ("{{", "{%", "{#")


@cache
def _precompiled() -> dict:
    """Template code generated when the wheel was built (empty in a source checkout)."""
    from mlsd import precompile

    return precompile.load(template_root())


def _render_text(env, text: str, ctx: dict, name: str | None = None) -> str:
    """Render ``text`` as a template; text without Jinja markers renders to itself, so skip it.

    ``name`` (the template-relative path) selects precompiled code when its hash matches ``text``.
    """
    if not any(marker in text for marker in JINJA_MARKERS):
        return text
    entry = _precompiled().get(name) if name else None
    if entry is not None:
        from mlsd.precompile import digest

        if entry[0] == digest(text):
            template = env.template_class.from_code(env, entry[1], env.make_globals(None))
            return template.render(cookiecutter=ctx)
    return env.from_string(text).render(cookiecutter=ctx)


def render_file(env, source: Path, target: Path, ctx: dict, name: str | None = None) -> None:
    """Render one template file to ``target`` (binary files are copied); ``name`` selects precompiled code."""
    data = source.read_bytes()
    if b"\0" in data[:8192]:
        target.write_bytes(data)
    else:
        text = data.decode("utf-8")
        newline = "\r\n" if "\r\n" in text.split("\n", 1)[0] + "\n" else "\n"
        rendered = _render_text(env, text.replace("\r\n", "\n"), ctx, name)
        with open(target, "w", encoding="utf-8", newline=newline) as handle:
            handle.write(rendered)
    mode = stat.S_IMODE(source.stat().st_mode)
    os.chmod(target, mode | stat.S_IWUSR | stat.S_IRUSR)


def _project_design(answers: dict, spec: dict, holds) -> str:
    from mlsd.prompt import infer

    return design.project_design(answers, spec, holds, infer)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink() and not any(path.iterdir())


def check_target(output_dir: Path, slug: str, force: bool) -> Path:
    """Return the project folder, or raise GenerationError if writing there is refused."""
    if output_dir.exists() and not output_dir.is_dir():
        raise GenerationError(f"output directory {output_dir} is a file: choose a folder with --output-dir")
    target = output_dir / slug
    if target.is_symlink():
        raise GenerationError(f"{target} is a symbolic link: choose another --output-dir")
    if target.exists() and not target.is_dir():
        raise GenerationError(f"{target} exists and is a file: choose another --output-dir or project_slug")
    if target.exists() and not _is_empty_dir(target) and not force:
        raise GenerationError(
            f"{target} already exists and is not empty: choose another --output-dir or pass --force to overwrite"
        )
    return target


def generate(answers: dict, spec: dict, output_dir: Path, force: bool = False, planned: list | None = None) -> Path:
    """Render the project into ``output_dir/<slug>``; nothing is left behind on failure.

    ``planned`` is the result of ``planned_files`` when the caller already computed it.
    """
    output_dir = Path(os.path.abspath(output_dir))
    target = check_target(output_dir, answers["project_slug"], force)
    created = _missing_parents(output_dir)
    staging: Path | None = None
    with _sigterm_as_interrupt():
        try:
            output_dir.mkdir(parents=True, exist_ok=True)
            staging = Path(
                tempfile.mkdtemp(prefix=f".{answers['project_slug']}.", suffix=".mlsd-staging", dir=output_dir)
            )
            os.chmod(staging, 0o755)
            render_tree(answers, spec, staging, planned)
            if target.exists() and not _is_empty_dir(target):
                _merge_into(staging, target)
            else:
                if target.exists():
                    target.rmdir()
                staging.rename(target)
                staging = None
        except BaseException:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
            for folder in created:
                shutil.rmtree(folder, ignore_errors=True)
            raise
        finally:
            if staging is not None and staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    return target


def _missing_parents(path: Path) -> list[Path]:
    """Return the topmost folder of ``path`` that does not exist yet (as a list of 0 or 1)."""
    missing = None
    while not path.exists():
        missing = path
        if path.parent == path:
            break
        path = path.parent
    return [missing] if missing is not None else []


def _merge_into(staging: Path, target: Path) -> None:
    """Copy the staged project over an existing folder (only with --force)."""
    real_target = target.resolve()
    for current, _dirs, files in os.walk(staging):
        relative = Path(current).relative_to(staging)
        destination_dir = target / relative
        if destination_dir.is_symlink() or not destination_dir.resolve().is_relative_to(real_target):
            raise GenerationError(f"{destination_dir} leads outside the project folder: remove it and retry")
        destination_dir.mkdir(exist_ok=True)
        for name in files:
            destination = destination_dir / name
            if destination.is_symlink():
                raise GenerationError(f"{destination} is a symbolic link: remove it and retry")
            shutil.copy2(Path(current, name), destination)


def write_file_atomically(path: Path, text: str, force: bool) -> None:
    """Write ``text`` to ``path`` through a temporary file beside it; refuse to overwrite unless ``force``."""
    if path.exists() and (not force or not path.is_file()):
        raise FileExistsError(str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".mlsd-staging", dir=path.parent)
    try:
        with _sigterm_as_interrupt(), os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
