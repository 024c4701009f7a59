"""What mlsd prints: the plan with the reason for each derived choice, trees, options, presets."""

from __future__ import annotations

import json

import click

from mlsd import engine


def _shown(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _console():
    """A rich console that does not wrap tables at 80 columns when output is not a terminal."""
    import sys

    from rich.console import Console

    return Console(highlight=False, width=None if sys.stdout.isatty() else 120)


def print_plan(answers: dict, reasons: dict, spec: dict) -> None:
    """Print the derived decisions with their reasons and the components to generate."""
    from rich.table import Table

    console = _console()
    table = Table(title=f"Plan for {answers['project_name']}", title_justify="left", expand=False)
    table.add_column("decision")
    table.add_column("value", style="bold")
    table.add_column("why")
    for q in spec["questions"]:
        key = q["key"]
        if key in reasons:
            table.add_row(key, _shown(answers[key]), reasons[key])
    console.print(table)
    selected = engine.selected_components(answers, spec)
    components = Table(title="Components", title_justify="left")
    components.add_column("component")
    components.add_column("what it is")
    for component in selected:
        components.add_row(component["id"], component["title"])
    console.print(components)


def print_inferences(kept: dict, evidence: dict, use_case_note: str = "") -> None:
    """Print what the prompt said, each answer with the words that support it, and how the use
    case was recognised (the runner-up when it was close, or why the design is custom)."""
    from rich.table import Table

    table = Table(title="Inferred from the prompt", title_justify="left")
    for column in ("answer", "value", "evidence"):
        table.add_column(column)
    for key, value in kept.items():
        table.add_row(key, _shown(value), f'"{evidence.get(key, "")}"')
    if not kept:
        table.add_row("(nothing)", "", "the prompt named no use case, scale, latency or freshness")
    _console().print(table)
    if use_case_note:
        click.echo(f"Use case: {use_case_note}")


def print_assumptions(keys: list[str], answers: dict, reasons: dict | None = None) -> None:
    """Print the answers the prompt did not give, which --no-input took from defaults or derived."""
    reasons = reasons or {}
    named = [key for key in keys if key in ("project_name", "use_case") and key in reasons]
    for key in named:
        click.echo(f"Assumed {key}={_shown(answers[key])}: {reasons[key]}")
    rest = [key for key in keys if key not in named]
    if rest:
        shown = ", ".join(f"{key}={_shown(answers[key])}" for key in rest)
        click.echo(f"Assumed (not in the prompt): {shown}")


def print_tree(root: str, files: list[str]) -> None:
    """Print the files as an indented tree under ``root``."""
    click.echo(f"{root}/")
    shown: set[str] = set()
    for path in sorted(files):
        parts = path.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if folder not in shown:
                shown.add(folder)
                click.echo(f"{'  ' * depth}{parts[depth - 1]}/")
        click.echo(f"{'  ' * len(parts)}{parts[-1]}")


def options_data(spec: dict) -> list[dict]:
    rows = []
    for q in spec["questions"]:
        row = {
            "key": q["key"],
            "step": q["step"],
            "type": q["type"],
            "prompt": q["prompt"],
            "help": q["help"],
            "default": None if ("derive" in q or q.get("required")) else q.get("default"),
            "required": bool(q.get("required")),
            "derived": "derive" in q,
        }
        if q["type"] == "choice":
            row["choices"] = engine.choices(q, spec)
        if "when" in q:
            row["when"] = q["when"]
            row["when_help"] = q["when_help"]
        if "pattern" in q:
            row["pattern"] = q["pattern"]
        for bound in ("min", "max"):
            if bound in q:
                row[bound] = q[bound]
        rows.append(row)
    return rows


def print_options(spec: dict, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(options_data(spec), indent=2, ensure_ascii=False))
        return
    from mlsd.templategen import describe_default, options_markdown

    if fmt == "markdown":
        click.echo(options_markdown(spec))
        return
    from rich.table import Table

    table = Table(title="mlsd questions", title_justify="left", show_lines=False)
    for column in ("key", "choices / type", "default", "asked when", "help"):
        table.add_column(column, overflow="fold")
    for q in spec["questions"]:
        kind = q["type"]
        if q.get("choices_from") == "presets":
            kind = "custom or a preset id (mlsd presets)"
        elif q["type"] == "choice":
            kind = ", ".join(engine.choices(q, spec))
        table.add_row(q["key"], kind, describe_default(q).strip("`"), q.get("when_help", "always"), q["help"])
    _console().print(table)


def print_presets(presets: list[dict], fmt: str) -> None:
    if fmt == "json":
        data = [{"id": p["id"], "title": p["title"], "summary": p["summary"], "answers": p["answers"]} for p in presets]
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    from rich.table import Table

    table = Table(title="mlsd presets (use with: mlsd new --preset ID)", title_justify="left")
    for column in ("id", "task", "mode", "title"):
        table.add_column(column, overflow="fold")
    for p in presets:
        answers = p["answers"]
        table.add_row(p["id"], answers.get("ml_task", ""), answers.get("prediction_mode", ""), p["title"])
    _console().print(table)


def _condition_text(condition: dict) -> str:
    parts = []
    for key, matcher in condition.items():
        if key == "any":
            parts.append("(" + " or ".join(_condition_text(option) for option in matcher) + ")")
        elif isinstance(matcher, list):
            parts.append(f"{key} in {', '.join(map(_shown, matcher))}")
        elif isinstance(matcher, dict):
            ((op, operand),) = matcher.items()
            symbol = {"not": "!=", "gte": ">=", "lt": "<"}[op]
            if isinstance(operand, list):
                shown = ", ".join(map(_shown, operand))
            else:
                shown = (
                    f"{operand:,}" if isinstance(operand, int) and not isinstance(operand, bool) else _shown(operand)
                )
            parts.append(f"{key} {symbol} {shown}")
        else:
            parts.append(f"{key} = {_shown(matcher)}")
    return " and ".join(parts)


def print_explanation(q: dict, spec: dict) -> None:
    """Print a question's help, each choice with its trade-off, and the rules around it."""
    from mlsd.tradeoffs import TRADEOFFS

    key = q["key"]
    click.secho(f"{key}: {q['prompt']}", bold=True)
    click.echo(f"  {q['help']}")
    if "when" in q:
        click.echo(f"  Asked only when {_condition_text(q['when'])} ({q['when_help']}).")
    notes = TRADEOFFS.get(key, {})
    if q["type"] == "choice":
        click.echo("\nChoices:")
        for value, label in engine.choices(q, spec).items():
            click.echo(f"  {value:22} {label}")
            if value in notes:
                click.echo(f"  {'':22} {notes[value]}")
    derivations = [rule for rule in spec["derivations"] if key in rule["set"]]
    if derivations:
        click.echo("\nDerived (a later rule wins; any answer may override it unless a rule refuses):")
        for rule in derivations:
            click.echo(f"  {_shown(rule['set'][key])} when {_condition_text(rule['when'])}: {rule['reason']}")
    constraints = [
        rule
        for rule in spec["rules"]
        if key in engine._condition_keys(rule["when"]) | engine._condition_keys(rule["require"])
    ]
    if constraints:
        click.echo("\nRules:")
        for rule in constraints:
            click.echo(f"  {rule['message']}")


def print_update(plan, dry_run: bool) -> None:
    """Print the answers that change, the notes, and one line per file that changes or is kept."""
    old = plan.project.version
    verb = "would update" if dry_run else "updating"
    click.echo(f"{verb} {plan.project.root}: template {old} -> {plan.version}")
    for key, before, after in plan.answer_changes():
        shown = "(new)" if before is None and key not in plan.project.answers else _shown(before)
        click.echo(f"  answer {key}: {shown} -> {_shown(after)}")
    for note in plan.notes:
        click.echo(f"  note: {note}")
    shown_steps = plan.shown()
    width = max((len(step.path) for step in shown_steps), default=0)
    for step in shown_steps:
        click.echo(f"  {step.action:<9} {step.path:<{width}}  {step.note}".rstrip())
    counts = {}
    for step in shown_steps:
        counts[step.action] = counts.get(step.action, 0) + 1
    summary = ", ".join(
        f"{counts[a]} {a}" for a in ("added", "updated", "merged", "removed", "kept", "conflict") if a in counts
    )
    tail = "dry run: nothing was written" if dry_run else "done"
    click.echo(f"{summary or 'no file changes'}; {tail}")


def print_check(reports: list, fmt: str) -> None:
    """Print one project's findings: one line each, or the JSON report."""
    (report,) = reports
    if fmt == "json":
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    if report.ok:
        click.echo(f"{report.project}: ok (template {report.version})")
        return
    for finding in report.findings:
        click.echo(f"{report.project}: {finding.kind}: {finding.message}")


def print_fleet(reports: list, fmt: str) -> None:
    """Print one row per project (plain aligned columns, never wrapped): version, findings, update outlook."""
    if fmt == "json":
        click.echo(json.dumps([report.as_dict() for report in reports], indent=2))
        return
    rows = [("project", "version", "findings", "update")]
    for report in reports:
        kinds: dict[str, int] = {}
        for finding in report.findings:
            kinds[finding.kind] = kinds.get(finding.kind, 0) + 1
        findings = ", ".join(f"{kind} x{n}" if n > 1 else kind for kind, n in kinds.items()) or "ok"
        rows.append((report.project, report.version, findings, report.update))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3])
    failing = sum(not report.ok for report in reports)
    click.echo(f"{len(reports)} projects on template {reports[0].installed}: {failing} with findings")
