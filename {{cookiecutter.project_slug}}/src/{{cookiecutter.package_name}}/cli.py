"""The project's verbs, as the Makefile calls them: ``python -m <package> VERB``.

Standard library only at import time; each verb imports what it needs. Prints a JSON summary
and exits 0, or prints one ``error:`` line and exits 1.
{%- if cookiecutter.monitoring %}
``monitor`` prints its drift table instead and exits 0 when no column drifts, 3 on drift (a
feature's or the score's PSI reached ``psi_alert``) and 4 when the prediction log holds fewer
than ``drift_min_rows`` rows (insufficient data).
{%- endif %}
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import NamedTuple

VERBS: dict[str, str] = {
    "data": "write seeded synthetic data to var/raw",
    "ingest": "validate raw tables; good rows to var/clean, bad ones to the dead-letter store",
{%- if cookiecutter.stream_engine in ['kafka', 'flink'] %}
    "publish": "produce the synthetic event log to the Kafka topic (stream_engine=kafka or flink)",
{%- endif %}
{%- if cookiecutter.stream_engine != 'none' %}
    "stream": "consume the event stream from the committed offset into the online store",
    "replay-dead-letters": "validate dead letters again: apply those now valid, keep the rest",
{%- endif %}
{%- if cookiecutter.stream_engine == 'flink' %}
    "flink-apply": "load the Flink job's output (var/stream/flink) into the stores",
{%- endif %}
    "features": "materialize offline and online features",
    "train": "train, evaluate and register the model as the challenger",
    "promote": "make the challenger (or --version N) the champion",
    "rollback": "restore the previous champion",
{%- if cookiecutter.vector_index != 'none' %}
    "index": "build the item embedding index and check its recall",
{%- endif %}
    "predict": "score a sample of known rows through the serving core",
{%- if cookiecutter.serving != 'none' %}
    "serve": "serve predictions{% if cookiecutter.serving == 'rest+grpc' %} (--protocol rest or grpc){% endif %}",
{%- endif %}
{%- if cookiecutter.batch_scoring %}
    "score": "score every user in batch to var/scores",
{%- endif %}
{%- if cookiecutter.monitoring %}
    "monitor": "drift of served rows vs training data: reports, gauges; exit 3 drift, 4 few rows",
    "drift-demo": "serve a batch with its first feature shifted (the next monitor flags it)",
{%- endif %}
{%- if cookiecutter.experiment == 'ab' %}
    "experiment": "serve every unit through the A/B split, simulate a known lift, analyse it",
    "analyze": "analyse the exposure log joined with an outcomes file (--outcomes FILE): verdict",
    "sample-size": "units per variant and days for a baseline rate and an absolute MDE",
{%- elif cookiecutter.experiment == 'shadow' %}
    "experiment": "serve every unit with the challenger in shadow; compare their outputs",
{%- endif %}
    "purge": "delete raw events, log rows, stream sink rows and dead letters past retention_days",
    "demo": "run the whole loop on synthetic data",
    "bench": "benchmark serving on 127.0.0.1 against its floors{% if cookiecutter.registry == 'mlflow' %} and mlflow{% endif %}: one table",
}


class Outcome(NamedTuple):
    """What a verb prints instead of the JSON summary, and its exit code."""

    text: str
    code: int


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="{{ cookiecutter.project_slug }}",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--env", help="config to read: configs/ENV.yaml (default: local)")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for name, help_text in VERBS.items():
        verb = verbs.add_parser(name, help=help_text, description=help_text)
        if name == "promote":
            verb.add_argument(
                "--version", type=int, help="version to promote (default: challenger)"
            )
        if name == "bench":
            verb.add_argument(
                "--client",
                choices=["auto", "h2load", "python"],
                default="auto",
                help="load generator (auto: h2load when it is on PATH)",
            )
            verb.add_argument("--duration", type=float, default=3.0, help="seconds per row")
            verb.add_argument("--warmup", type=float, default=0.5, help="seconds before each")
            verb.add_argument("--connections", type=int, default=16, help="concurrent clients")
            verb.add_argument("--only", default="", help="rows whose name contains this text")
            verb.add_argument(
                "--no-swaps",
                action="store_true",
                help="skip hot swaps under load (p99 and server RSS growth while swapping)",
            )
{%- if cookiecutter.stream_engine != 'none' %}
        if name == "stream":
            verb.add_argument(
                "--follow",
                action="store_true",
                help="keep consuming until SIGTERM/Ctrl-C (then finish the batch, commit, exit 0)",
            )
{%- endif %}
{%- if cookiecutter.experiment == 'ab' %}
        if name == "analyze":
            verb.add_argument(
                "--outcomes", required=True, help="Parquet or CSV: unit id, event_time, metrics"
            )
            verb.add_argument("--exposures", help="exposure log (default: the server's)")
        if name == "sample-size":
            verb.add_argument("--baseline", type=float, required=True, help="control rate, 0-1")
            mde = verb.add_mutually_exclusive_group(required=True)
            mde.add_argument("--mde", type=float, help="absolute lift to detect (0.01 = 1 point)")
            mde.add_argument("--relative-mde", type=float, help="lift as a share of the baseline")
            verb.add_argument("--alpha", type=float, default=0.05, help="two-sided (0.05)")
            verb.add_argument("--power", type=float, default=0.8, help="1 - beta (0.8)")
            verb.add_argument("--daily-units", type=int, help="eligible units a day: gives days")
            verb.add_argument("--treatment-share", type=float, help="default: treatment_share")
{%- endif %}
{%- if cookiecutter.serving == 'rest+grpc' %}
        if name == "serve":
            verb.add_argument("--protocol", choices=["rest", "grpc"], default="rest")
{%- endif %}
    return parser


def _promote(settings, args: argparse.Namespace) -> dict:
    from .registry.registry import open_registry

    return {"champion": open_registry(settings).promote(args.version)}


def _rollback(settings, args: argparse.Namespace) -> dict:
    from .registry.registry import open_registry

    return {"champion": open_registry(settings).rollback()}
{%- if cookiecutter.serving != 'none' %}


def _serve(settings, args: argparse.Namespace) -> dict:
{%- if cookiecutter.serving == 'rest+grpc' %}
    if args.protocol == "grpc":
        from .serving.grpc_server import serve
    else:
        from .serving.app import serve
{%- elif cookiecutter.serving == 'grpc' %}
    from .serving.grpc_server import serve
{%- else %}
    from .serving.app import serve
{%- endif %}

    serve(settings)
    return {"stopped": True}
{%- endif %}
{%- if cookiecutter.experiment != 'none' %}


def _experiment(settings, args: argparse.Namespace) -> dict:
    from .pipelines.run import step_experiment

    return step_experiment(settings)
{%- endif %}
{%- if cookiecutter.experiment == 'ab' %}


def _analyze(settings, args: argparse.Namespace) -> dict:
    from pathlib import Path

    from .experiments.analysis import analyze

    exposures = Path(args.exposures) if args.exposures else None
    if exposures is not None and not exposures.is_file():
        raise ValueError(f"exposure log {exposures} does not exist")
    report = analyze(settings, Path(args.outcomes), exposures)
    path = settings.directory("reports") / "experiment.json"
    path.write_text(json.dumps(report, indent=2))
    return report


def _sample_size(settings, args: argparse.Namespace) -> dict:
    from .experiments.analysis import plan

    share = settings.treatment_share if args.treatment_share is None else args.treatment_share
    mde = args.mde if args.mde is not None else args.baseline * args.relative_mde
    return plan(args.baseline, mde, args.alpha, args.power, share, args.daily_units)
{%- endif %}


{%- if cookiecutter.monitoring %}


def _monitor(settings, args: argparse.Namespace) -> Outcome:
    from .monitoring.drift import monitor

    summary = monitor(settings)
    written = [summary["report"], summary["metrics"]]
    written += [summary["evidently"][k] for k in ("html", "json")] if "evidently" in summary else []
    return Outcome(f"{summary['table']}\nwritten: {', '.join(written)}", summary["exit_code"])


def _drift_demo(settings, args: argparse.Namespace) -> dict:
    from .pipelines.run import serve_drifted_batch

    return serve_drifted_batch(settings)
{%- endif %}


def _purge(settings, args: argparse.Namespace) -> dict:
    from .privacy import purge

    return purge(settings)


def _demo(settings, args: argparse.Namespace) -> dict:
    from .pipelines.run import run_all

    return run_all(settings)


def _bench(settings, args: argparse.Namespace) -> dict:
    from .serving.bench import run

    return run(
        settings,
        duration=args.duration,
        warmup=args.warmup,
        connections=args.connections,
        client=args.client,
        only=args.only,
        swaps=not args.no_swaps,
    )


{%- if cookiecutter.stream_engine != 'none' %}


def _stream(settings, args: argparse.Namespace) -> dict:
    from .features.store import open_store
    from .ingestion.stream import consume

    return consume(
        settings, open_store(settings), batch_size=settings.stream_batch_size, follow=args.follow
    )


def _replay_dead_letters(settings, args: argparse.Namespace) -> dict:
    from .features.store import open_store
    from .ingestion.stream import replay_dead_letters

    return replay_dead_letters(settings, open_store(settings))
{%- endif %}
{%- if cookiecutter.stream_engine == 'flink' %}


def _flink_apply(settings, args: argparse.Namespace) -> dict:
    from .features.store import open_store
    from .ingestion.stream import apply_flink_output

    return apply_flink_output(settings, open_store(settings))
{%- endif %}


def _step(name: str) -> Callable:
    def handler(settings, args: argparse.Namespace) -> dict:
        from .pipelines.run import STEPS

        return STEPS[name](settings)

    return handler


HANDLERS: dict[str, Callable] = {
    "promote": _promote,
    "rollback": _rollback,
{%- if cookiecutter.serving != 'none' %}
    "serve": _serve,
{%- endif %}
{%- if cookiecutter.experiment != 'none' %}
    "experiment": _experiment,
{%- endif %}
{%- if cookiecutter.stream_engine != 'none' %}
    "stream": _stream,
    "replay-dead-letters": _replay_dead_letters,
{%- endif %}
{%- if cookiecutter.stream_engine == 'flink' %}
    "flink-apply": _flink_apply,
{%- endif %}
{%- if cookiecutter.monitoring %}
    "monitor": _monitor,
    "drift-demo": _drift_demo,
{%- endif %}
{%- if cookiecutter.experiment == 'ab' %}
    "analyze": _analyze,
    "sample-size": _sample_size,
{%- endif %}
    "purge": _purge,
    "demo": _demo,
    "bench": _bench,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        from .settings import load_settings

        settings = load_settings(args.env)
        handler = HANDLERS.get(args.verb) or _step(args.verb)
        result = handler(settings, args)
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        print(f"error: {args.verb} failed: {error}", file=sys.stderr)
        return 1
    if isinstance(result, Outcome):
        print(result.text)
        return result.code
    print(json.dumps(result, indent=2, default=str))
    return 0
