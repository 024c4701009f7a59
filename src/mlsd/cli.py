"""The ``mlsd`` command line. Heavy modules are imported inside the commands that use them."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mlsd import __version__

PROG = "mlsd"


class UsageProblem(click.UsageError):
    """Bad input from the user: one line on stderr, exit 2."""


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name=PROG, message="%(prog)s %(version)s")
def cli() -> None:
    """Turn ML system design interview answers into a production ML service repository."""


@cli.command()
@click.option("-o", "--output-dir", default=".", show_default=True, help="Folder to create the project in.")
@click.option(
    "--prompt", "prompt_text", help="An interview prompt to infer answers from (words are quoted as evidence)."
)
@click.option("--preset", help="Start from a case-study preset (see 'mlsd presets').")
@click.option("--answers", "answers_file", help="YAML or JSON answers file, e.g. a project's .mlsd/answers.yml.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE", help="Set one answer; repeatable.")
@click.option("--no-input", is_flag=True, help="Never prompt; fail naming any missing required value.")
@click.option("--dry-run", is_flag=True, help="Print the plan and the file tree; write nothing.")
@click.option("-f", "--force", is_flag=True, help="Write into an existing non-empty project folder.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the path of the generated project.")
def new(
    output_dir: str,
    prompt_text: str | None,
    preset: str | None,
    answers_file: str | None,
    settings: tuple[str, ...],
    no_input: bool,
    dry_run: bool,
    force: bool,
    quiet: bool,
) -> None:
    """Run the design interview and generate an ML service project."""
    from mlsd import render

    spec, answers, reasons, _ = _collect(prompt_text, preset, answers_file, settings, no_input, quiet)
    target = Path(output_dir) / answers["project_slug"]
    try:
        render.check_target(Path(output_dir), answers["project_slug"], force)
        plan = render.planned_files(answers, spec)
        planned = sorted({path for path, _ in plan} | set(render.WRITTEN_FILES))
    except render.GenerationError as error:
        raise UsageProblem(str(error)) from None
    if not quiet:
        from mlsd.report import print_plan

        print_plan(answers, reasons, spec)
    if dry_run:
        from mlsd.report import print_tree

        print_tree(answers["project_slug"], planned)
        click.echo(f"dry run: {len(planned)} files would be written to {target}")
        return
    try:
        created = render.generate(answers, spec, Path(output_dir), force=force, planned=plan)
    except render.GenerationError as error:
        raise UsageProblem(str(error)) from None
    except OSError as error:
        raise click.ClickException(f"could not write the project: {error.strerror or error}") from None
    if quiet:
        click.echo(str(created))
    else:
        click.echo(f"created {created} ({len(planned)} files)")
        click.echo(f"next: cd {created} && make setup && make test")


def _collect(prompt_text, preset, answers_file, settings, no_input, quiet):
    """Return (spec, answers, reasons, inferred) from every input path, asking what is missing."""
    from mlsd import engine
    from mlsd.inputs import explicit_answers
    from mlsd.spec import spec as load_spec

    spec = load_spec()
    explicit = explicit_answers(answers_file, preset, settings, spec)
    inferred: dict = {}
    suggested: dict = {}  # key -> (value, reason): assumptions from the prompt, offered as defaults
    if prompt_text is not None:
        from mlsd.prompt import as_answers, infer, recognise

        if not prompt_text.strip():
            raise UsageProblem("--prompt is empty: pass the interview prompt as text")
        inferences = infer(prompt_text)
        kept = as_answers(inferences)
        inferred = {i.key: i.evidence for i in inferences if i.key in kept and kept[i.key] == i.value}
        if "project_name" in kept:
            name = kept.pop("project_name")
            suggested["project_name"] = (name, f'named from the prompt\'s subject: "{inferred.pop("project_name")}"')
        recognition = recognise(prompt_text)
        if recognition.use_case == "custom":
            suggested["use_case"] = ("custom", recognition.note.removeprefix("custom: "))
        given = explicit_answers(None, preset, settings, spec)
        file_answers = explicit_answers(answers_file, None, (), spec)
        explicit = {**file_answers, **kept, "interview_prompt": prompt_text, **given}
        suggested = {key: value for key, value in suggested.items() if key not in explicit}
        if no_input:
            explicit |= {key: value for key, (value, _) in suggested.items()}
        if not quiet:
            from mlsd.report import print_inferences

            shown_below = no_input and "use_case" in suggested  # as an assumption, with the same words
            print_inferences(kept, inferred, "" if shown_below else recognition.note)
    ask = None
    if not no_input:
        from mlsd.interview import Interview

        ask = Interview(spec, explicit, suggested).ask
    try:
        answers, reasons = engine.resolve(explicit, spec, ask=ask)
    except engine.AnswerError as error:
        raise UsageProblem(str(error)) from None
    for key in inferred:
        reasons[key] = f'inferred from the prompt: "{inferred[key]}"'
    if no_input:
        reasons |= {key: reason for key, (value, reason) in suggested.items() if answers.get(key) == value}
    if prompt_text is not None and no_input and not quiet:
        from mlsd.report import print_assumptions

        assumed = _assumed_keys(spec, answers_file, preset, settings, inferred, prompt_text is not None)
        print_assumptions(
            [key for key in assumed if engine.applies(engine.question(spec, key), answers)], answers, reasons
        )
    return spec, answers, reasons, inferred


@cli.command()
@click.option("--prompt", "prompt_text", help="An interview prompt to infer answers from.")
@click.option("--preset", help="Start from a case-study preset (see 'mlsd presets').")
@click.option("--answers", "answers_file", help="YAML or JSON answers file.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE", help="Set one answer; repeatable.")
@click.option("--no-input", is_flag=True, help="Never prompt; what is not given is defaulted and listed as assumed.")
@click.option("-o", "--output", help="Write DESIGN.md here instead of standard output.")
@click.option("-f", "--force", is_flag=True, help="Overwrite an existing output file.")
def design(
    prompt_text: str | None,
    preset: str | None,
    answers_file: str | None,
    settings: tuple[str, ...],
    no_input: bool,
    output: str | None,
    force: bool,
) -> None:
    """Write the design document for a prompt or a set of answers (no project)."""
    from mlsd import design as design_doc
    from mlsd import engine

    spec, answers, reasons, inferred = _collect(prompt_text, preset, answers_file, settings, no_input, quiet=True)
    assumed = (
        [
            f"{key} = {answers[key]} ({reasons.get(key, 'default')})"
            for key in _assumed_keys(spec, answers_file, preset, settings, inferred, prompt_text is not None)
            if engine.applies(engine.question(spec, key), answers)
        ]
        if no_input
        else []
    )
    facts = spec["preset_facts"].get(answers["use_case"])
    text = design_doc.design_markdown(answers, facts, spec["components"], engine.holds, assumed, inferred)
    if output is None:
        click.echo(text, nl=False)
        return
    from mlsd.render import write_file_atomically

    try:
        write_file_atomically(Path(output), text, force)
    except FileExistsError:
        raise UsageProblem(f"{output} already exists: choose another --output or pass --force") from None
    except OSError as error:
        raise click.ClickException(f"could not write {output}: {error.strerror or error}") from None
    click.echo(f"wrote {output}", err=True)


def _assumed_keys(spec, answers_file, preset, settings, inferred, with_prompt=False) -> list[str]:
    """Return the keys nobody stated: not given, not inferred from the prompt, and not the prompt itself.

    Identity answers are not design assumptions, except a project name taken from a prompt.
    """
    from mlsd.inputs import explicit_answers

    stated = set(explicit_answers(answers_file, preset, settings, spec)) | set(inferred)
    stated |= {"interview_prompt"} if with_prompt else set()
    named = {"project_name", "use_case"} if with_prompt else set()
    return [
        q["key"] for q in spec["questions"] if q["key"] not in stated and (q["step"] != "identity" or q["key"] in named)
    ]


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "markdown"]),
    default="table",
    show_default=True,
    help="Output format.",
)
def options(fmt: str) -> None:
    """List every question: key, choices, default, when it is asked, help."""
    from mlsd.report import print_options
    from mlsd.spec import spec as load_spec

    print_options(load_spec(), fmt)


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def presets(fmt: str) -> None:
    """List the case-study presets."""
    from mlsd.report import print_presets
    from mlsd.spec import presets as load_presets

    print_presets(load_presets(), fmt)


@cli.command()
@click.argument("key")
def explain(key: str) -> None:
    """Explain a question: its choices and their trade-offs, what derives it, what constrains it."""
    from mlsd import engine
    from mlsd.report import print_explanation
    from mlsd.spec import spec as load_spec

    spec = load_spec()
    try:
        q = engine.question(spec, key.strip().replace("-", "_"))
    except KeyError:
        raise UsageProblem(f"unknown question {key!r}: see 'mlsd options' for the valid keys") from None
    print_explanation(q, spec)


@cli.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE", help="Change one answer; repeatable.")
@click.option("--no-input", is_flag=True, help="Never prompt: questions new in this template take their defaults.")
@click.option("--dry-run", is_flag=True, help="Print the per-file plan; write nothing (a dirty tree is allowed).")
def update(directory: Path, settings: tuple[str, ...], no_input: bool, dry_run: bool) -> int:
    """Merge the installed template (and changed answers) into a generated project, keeping your edits.

    Needs a clean git tree. Exits 1 when files were left with conflict markers.
    """
    from mlsd.inputs import parse_setting

    changes = dict(parse_setting(item) for item in settings)
    return _run_update(directory, changes, no_input, dry_run)


def _addon_help() -> str:
    from mlsd.components import ADDONS

    return "COMPONENT is one of: " + ", ".join(addon["name"] for addon in ADDONS) + "."


def _component_options(command):
    command = click.option("--dry-run", is_flag=True, help="Print the per-file plan; write nothing.")(command)
    command = click.option(
        "--no-input", is_flag=True, help="Never prompt: questions new in this template take their defaults."
    )(command)
    command = click.option(
        "-p", "--project", "directory", default=".", type=click.Path(file_okay=False, path_type=Path)
    )(command)
    return click.argument("components", nargs=-1, required=True, metavar="COMPONENT...")(command)


@cli.command(epilog=_addon_help())
@_component_options
def add(components: tuple[str, ...], directory: Path, no_input: bool, dry_run: bool) -> int:
    """Add components to a generated project (same as 'mlsd update --set ...')."""
    return _run_update(directory, _addon_settings(directory, components, adding=True), no_input, dry_run)


@cli.command(epilog=_addon_help())
@_component_options
def remove(components: tuple[str, ...], directory: Path, no_input: bool, dry_run: bool) -> int:
    """Remove components: their untouched files are deleted, the ones you edited are kept and listed."""
    return _run_update(directory, _addon_settings(directory, components, adding=False), no_input, dry_run)


def _addon_settings(directory: Path, names: tuple[str, ...], adding: bool) -> dict:
    from mlsd import update as updating

    try:
        recorded = updating.load_project(directory).answers
        return updating.addon_settings(names, recorded, adding)
    except updating.ProjectError as error:
        raise UsageProblem(str(error)) from None


def _run_update(directory: Path, settings: dict, no_input: bool, dry_run: bool) -> int:
    from mlsd import engine
    from mlsd import update as updating
    from mlsd.render import GenerationError
    from mlsd.report import print_update
    from mlsd.spec import spec as load_spec

    spec = load_spec()
    try:
        project = updating.load_project(directory)
        if not dry_run:
            updating.require_clean_git(directory)
        if project.version == spec["version"] and not settings:
            click.echo(f"{directory} is on template {project.version}: nothing to update")
            return 0
        ask = None
        if not no_input:
            from mlsd.interview import Interview

            ask = Interview(spec, project.answers).ask
        plan = updating.plan_update(project, spec, settings, ask)
    except (updating.ProjectError, engine.AnswerError, GenerationError) as error:
        raise UsageProblem(str(error)) from None
    print_update(plan, dry_run)
    if dry_run:
        return 0
    try:
        updating.apply(plan)
    except OSError as error:
        raise click.ClickException(f"could not update the project, nothing was changed: {error}") from None
    conflicts = [step.path for step in plan.conflicts()]
    if conflicts:
        click.echo(
            f"{len(conflicts)} file(s) with conflicts: {', '.join(conflicts)}: resolve them, then commit", err=True
        )
        return 1
    return 0


@cli.command()
@click.argument("directories", nargs=-1, metavar="[DIR]...")
@click.option("--fleet", is_flag=True, help="Check many projects (folders or globs): one table row per project.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def check(directories: tuple[str, ...], fleet: bool, fmt: str) -> int:
    """Check that projects follow the installed template (for CI): exit 0 when they do, else 1.

    Findings: an outdated or unknown template version, answers that break a rule, files the
    answers generate that are missing or emptied, unresolved merge-conflict markers.
    """
    from mlsd import check as checking
    from mlsd import update as updating
    from mlsd.report import print_check, print_fleet
    from mlsd.spec import spec as load_spec

    spec = load_spec()
    if not fleet and len(directories) > 1:
        raise UsageProblem("check takes one project folder: pass --fleet to check several")
    try:
        folders = (
            checking.fleet_folders(directories or (".",)) if fleet else [Path(directories[0] if directories else ".")]
        )
        if fleet and not folders:
            raise UsageProblem(f"no folder matches {' '.join(directories)}")
        reports = []
        for folder in folders:
            try:
                reports.append(checking.check_project(folder, spec, with_update=fleet))
            except updating.ProjectError as error:
                if not fleet:
                    raise
                reports.append(
                    checking.Report(str(folder), "-", spec["version"], [checking.Finding("not-a-project", str(error))])
                )
    except updating.ProjectError as error:
        raise UsageProblem(str(error)) from None
    (print_fleet if fleet else print_check)(reports, fmt)
    return 0 if all(report.ok for report in reports) else 1


def main(argv: list[str] | None = None) -> int:
    """Entry point: every refusal is one line on stderr; usage errors exit 2."""
    try:
        result = cli.main(args=argv, prog_name=PROG, standalone_mode=False)
    except click.exceptions.Abort:
        click.echo(f"{PROG}: aborted: nothing was written", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo(f"{PROG}: interrupted: nothing was written", err=True)
        return 130
    except click.UsageError as error:
        message = " ".join(error.format_message().split())
        hint = "" if isinstance(error, UsageProblem) else f" (see '{_command_path(error)} --help')"
        click.echo(f"{PROG}: error: {message}{hint}", err=True)
        return 2
    except click.ClickException as error:
        click.echo(f"{PROG}: error: {' '.join(error.format_message().split())}", err=True)
        return error.exit_code
    return result if isinstance(result, int) else 0


def _command_path(error: click.UsageError) -> str:
    return error.ctx.command_path if error.ctx is not None else PROG


if __name__ == "__main__":
    sys.exit(main())
