"""The whole loop in one process, step by step; orchestrators call the same steps.

``STEPS`` lists this project's steps in order: data, ingest, features, train (with evaluation
and registration), promote and sample predictions, plus the optional components it was
generated with. Each step takes the settings, reads what the previous steps wrote and returns
a summary; ``run_all`` writes the summaries to ``reports/run.json`` under ``var_dir``.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np

from .. import schema
from ..data.synthetic import generate
from ..features.store import open_store
from ..ingestion.batch import ingest
from ..registry.registry import open_registry
from ..serving.core import PredictionService
from ..settings import Settings
from ..training.train import train


def step_data(settings: Settings) -> dict:
    return generate(settings)


def step_ingest(settings: Settings) -> dict:
    return ingest(settings)


def step_features(settings: Settings) -> dict:
    return open_store(settings).materialize()
{%- if cookiecutter.stream_engine in ['kafka', 'flink'] %}


def step_publish(settings: Settings) -> dict:
    """Feed the Kafka topic the synthetic event log (the embedded consumer reads the log itself)."""
    if settings.stream_engine not in ("kafka", "flink"):
        return {"published": 0, "reason": f"stream_engine={settings.stream_engine} reads the log"}
    from ..ingestion.stream import publish

    return publish(settings)
{%- endif %}
{%- if cookiecutter.stream_engine != 'none' %}


def step_stream(settings: Settings) -> dict:
    from ..ingestion.stream import consume

    return consume(settings, open_store(settings))
{%- endif %}


def step_train(settings: Settings) -> dict:
    """Train, evaluate and register the model as the challenger."""
    bundle = train(settings, open_store(settings).get_training_frame())
    version = open_registry(settings).register(bundle)
    return {"version": version, "metrics": bundle["metrics"], "rows": bundle["rows"]}


def beats(candidate: dict, champion: dict | None) -> bool:
    """Whether ``candidate``'s metrics beat ``champion``'s on the same metric (no champion: yes)."""
    if champion is None or champion.get("metric") != candidate.get("metric"):
        return True
    if candidate.get("higher_is_better", True):
        return candidate["model"] > champion["model"]
    return candidate["model"] < champion["model"]


def step_promote(settings: Settings) -> dict:
    """Promote the challenger when it beats its baseline and the champion; else keep both."""
    registry = open_registry(settings)
    challenger, champion = registry.alias("challenger"), registry.alias("champion")
    if challenger is None:
        return {"promoted": None, "champion": champion}
    metrics = registry.metadata(challenger)["metrics"]
    if not metrics.get("beats_baseline", False):
        return {"promoted": None, "champion": champion, "reason": "below baseline"}
    if champion is not None and not beats(metrics, registry.metadata(champion)["metrics"]):
        return {"promoted": None, "champion": champion, "reason": f"not better than v{champion}"}
    return {"promoted": registry.promote(challenger), "champion": challenger}
{%- if cookiecutter.vector_index != 'none' %}


def step_index(settings: Settings) -> dict:
    from ..serving.index import build_index

    return build_index(settings, open_store(settings).get_training_frame())
{%- endif %}


def step_predict(settings: Settings, n: int = 200) -> dict:
    """Score a sample of known (user, item, context) rows through the serving core."""
    service = PredictionService(settings)
    if service.reload() is None:
        return {"served": 0, "reason": "no champion model"}
    frame = open_store(settings).get_training_frame()
    frame = frame.sample(min(n, len(frame)), random_state=settings.seed)
    context = {name: frame[name].tolist() for name in schema.CONTEXT_DEFAULTS}
    results = service.predict(
        frame[schema.USER_KEY].tolist(), frame[schema.ITEM_KEY].tolist(), context
    )
    first = results[0]["prediction"]
    return {"served": len(results), "model_version": results[0]["model_version"], "first": first}
{%- if cookiecutter.batch_scoring %}


def step_score(settings: Settings) -> dict:
    from ..serving.batch import score_all

    return score_all(settings)
{%- endif %}
{%- if cookiecutter.monitoring %}


def step_monitor(settings: Settings) -> dict:
    """Compare served features with the training data; write ``reports/drift.json``."""
    from ..monitoring.drift import drift_report, write_report
    from ..monitoring.metrics import set_drift
    from ..monitoring.prediction_log import PredictionLog

    reference = open_store(settings).get_training_frame()
    current = PredictionLog(settings).read()
    if len(current) < 100:
        current = reference.sample(min(len(reference), 500), random_state=settings.seed)
    report = drift_report(reference, current, warn=settings.psi_warn, alert=settings.psi_alert)
    set_drift({name: row["psi"] for name, row in report["features"].items()})
    path = write_report(report, settings.directory("reports") / "drift.json")
    drifting = sorted(n for n, row in report["features"].items() if row["status"] != "ok")
    return {"status": report["status"], "drifting": drifting, "report": str(path)}
{%- endif %}
{%- if cookiecutter.experiment != 'none' %}


def step_experiment(settings: Settings) -> dict:
    """Size the experiment and analyse simulated outcomes (a 1-point lift on a 10% rate)."""
    from ..experiments.analysis import analyze, sample_size, simulate

    n = sample_size(0.10, 0.01)
    result = analyze(simulate(n, 0.10, 0.01, seed=settings.seed))
    return {"units_per_variant": n, **{k: result[k] for k in ("lift", "p_value", "significant")}}
{%- endif %}


STEPS: dict[str, Callable[[Settings], dict]] = {
    "data": step_data,
    "ingest": step_ingest,
    "features": step_features,
{%- if cookiecutter.stream_engine in ['kafka', 'flink'] %}
    "publish": step_publish,
{%- endif %}
{%- if cookiecutter.stream_engine != 'none' %}
    "stream": step_stream,
{%- endif %}
    "train": step_train,
    "promote": step_promote,
{%- if cookiecutter.vector_index != 'none' %}
    "index": step_index,
{%- endif %}
    "predict": step_predict,
{%- if cookiecutter.batch_scoring %}
    "score": step_score,
{%- endif %}
{%- if cookiecutter.monitoring %}
    "monitor": step_monitor,
{%- endif %}
{%- if cookiecutter.experiment != 'none' %}
    "experiment": step_experiment,
{%- endif %}
}


def run_all(settings: Settings) -> dict:
    """Run every step in order; write and return the report."""
    report = {name: step(settings) for name, step in STEPS.items()}
    path = settings.directory("reports") / "run.json"
    path.write_text(json.dumps(report, indent=2, default=_jsonable))
    return report


def _jsonable(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else str(value)
