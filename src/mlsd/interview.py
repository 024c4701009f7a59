"""The interactive interview: one question at a time, in the order of the design framework."""

from __future__ import annotations

import sys

import click

from mlsd import engine


def _shown(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


class Interview:
    """Asks each relevant question with a counter, labelled choices and the derived default."""

    def __init__(self, spec: dict, explicit: dict, suggested: dict | None = None) -> None:
        self.spec = spec
        self.explicit = explicit
        self.suggested = suggested or {}  # key -> (value, reason): the prompt's proposals, shown as defaults
        self.asked = 0
        self.step: str | None = None
        self.steps = {step["id"]: step["title"] for step in _steps()}

    def _total(self, q: dict, answers: dict) -> int:
        keys = [item["key"] for item in self.spec["questions"]]
        later = self.spec["questions"][keys.index(q["key"]) + 1 :]
        remaining = [
            item
            for item in later
            if item["key"] not in self.explicit
            and item.get("ask", True)
            and (
                "na" not in item
                or not engine._condition_keys(item["when"]) <= answers.keys()
                or engine.applies(item, answers)
            )
        ]
        return self.asked + len(remaining)

    def ask(self, q: dict, default, reason: str | None, error: str | None, answers: dict | None = None):
        if q["key"] in self.suggested and reason != "from the preset":
            default, reason = self.suggested[q["key"]]
        try:
            return self._ask(q, default, reason, error, answers or {})
        except click.Abort:
            if sys.stdin is not None and not sys.stdin.isatty():
                raise click.UsageError(
                    f"input ended at question {q['key']}: answer it, or use --no-input with --set or --answers"
                ) from None
            raise

    def _ask(self, q: dict, default, reason: str | None, error: str | None, answers: dict):
        if error:
            click.secho(f"  {error}", fg="red", err=True)
        else:
            self.asked += 1
        if q["step"] != self.step:
            self.step = q["step"]
            click.secho(f"\n{self.steps.get(q['step'], q['step'])}", bold=True)
        counter = click.style(f"[{self.asked}/{self._total(q, answers)}]", dim=True)
        click.echo(f"  {counter} {q['prompt']}")
        click.secho(f"        {q['help']}", dim=True)
        if reason == "from the preset":
            click.secho("        (default from the preset)", dim=True)
        elif reason:
            click.secho(f"        suggested {_shown(default)}: {reason}", fg="cyan")
        if q["type"] == "choice":
            return self._choose(q, default)
        if q["type"] == "bool":
            return click.confirm("        yes or no", default=bool(default))
        shown_default = _shown(default) or None
        return click.prompt("        value", default=shown_default, show_default=True)

    def _choose(self, q: dict, default) -> str:
        options = list(engine.choices(q, self.spec).items())
        for number, (value, label) in enumerate(options, start=1):
            click.echo(f"        {number} - {label} [{value}]")
        values = [value for value, _ in options]
        default_number = str(values.index(default) + 1) if default in values else None
        raw = click.prompt(f"        Choose from 1-{len(options)}", default=default_number, show_default=True).strip()
        if raw.isdigit() and 1 <= int(raw) <= len(options):
            return values[int(raw) - 1]
        return raw


def _steps() -> list[dict]:
    from mlsd.bank import STEPS

    return STEPS
