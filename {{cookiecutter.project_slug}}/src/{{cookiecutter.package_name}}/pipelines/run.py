"""The whole loop in one process, step by step; orchestrators call the same steps.

``STEPS`` lists this project's steps in order: data, ingest, features, train (with evaluation
and registration), promote and sample predictions, plus the optional components it was
generated with. Each step takes the settings, reads what the previous steps wrote and returns
a summary; ``run_all`` writes the summaries to ``reports/run.json`` under ``var_dir``.
"""

from __future__ import annotations

import json
{%- if cookiecutter.experiment == 'ab' %}
import time
{%- endif %}
from collections.abc import Callable

import numpy as np

from .. import schema
from ..data.synthetic import generate{{ ', raw_user_ids' if cookiecutter.experiment == 'ab' }}
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
    users, items = frame[schema.USER_KEY].tolist(), frame[schema.ITEM_KEY].tolist()
    results = service.predict(users, items, context, pseudonymized=True)
    first = results[0]["prediction"]
    return {"served": len(results), "model_version": results[0]["model_version"], "first": first}
{%- if cookiecutter.batch_scoring %}


def step_score(settings: Settings) -> dict:
    from ..serving.batch import score_all

    return score_all(settings)
{%- endif %}
{%- if cookiecutter.monitoring %}


def step_monitor(settings: Settings) -> dict:
    """Compare the newest served rows with the training data: reports and Prometheus gauges."""
    from ..monitoring.drift import monitor

    return monitor(settings)


DRIFT_DEMO_ROWS = 500


def serve_drifted_batch(settings: Settings, n: int | None = None) -> dict:
    """Serve ``n`` training rows with their first logged feature shifted by two std deviations.

    The rows go through the serving core into the prediction log, as served traffic would, so
    the next ``monitor`` run sees the shift (the demo shows it flagged). By default ``n`` is as
    many rows as the drift window already holds (at least ``DRIFT_DEMO_ROWS``): the shifted rows
    are then at least half of what ``monitor`` compares, whatever the demo served before.
    """
    from ..privacy import unlogged_features

    service = PredictionService(settings)
    if service.reload() is None:
        return {"served": 0, "reason": "no champion model"}
    if n is None:
        logged = min(len(service.log.read()), settings.drift_window_rows)
        n = max(DRIFT_DEMO_ROWS, logged)
    frame = open_store(settings).get_training_frame()
    frame = frame.sample(n, random_state=settings.seed + 1, replace=n > len(frame))
    names = schema.feature_names()
    shifted = next(name for name in names if name not in unlogged_features())  # a logged one
    matrix = frame[names].to_numpy(dtype=np.float64, copy=True)
    matrix[:, names.index(shifted)] += 2.0 * max(float(frame[shifted].std()), 1.0)
    result = service.predict_features(matrix)
    service.log.close()
    return {"served": len(matrix), "shifted": shifted, "model_version": result["model_version"]}
{%- endif %}
{%- if cookiecutter.experiment != 'none' %}


def _experiment_service(settings: Settings) -> PredictionService | None:
    """Return the serving core with a challenger: the registered one, else the champion's model."""
    from ..serving.core import Models

    service = PredictionService(settings)
    if service.reload() is None:
        return None
    if service.challenger is None:
        service.models = Models(service.champion, service.champion)
    return service
{%- endif %}
{%- if cookiecutter.experiment == 'ab' %}


DEMO_RATE = 0.10
DEMO_POWER = 0.9999


def step_experiment(settings: Settings) -> dict:
    """Serve every known unit once through the A/B split (exposures logged), simulate outcomes
    in which treatment truly converts better (a known lift: the effect this many units detect
    with 99.99% power), write them to ``experiments/outcomes.parquet`` and analyse the logs."""
    from ..experiments.analysis import analyze, minimum_detectable_effect, simulate_outcomes

    service = _experiment_service(settings)
    if service is None:
        return {"analysed": False, "reason": "no champion model"}
    frame = open_store(settings).get_training_frame().drop_duplicates(schema.USER_KEY)
    users = frame[schema.USER_KEY].tolist()
    context = {name: frame[name].tolist() for name in schema.CONTEXT_DEFAULTS}
    exposed_at = time.time()
    items = frame[schema.ITEM_KEY].tolist()
    results = service.predict(users, items, context, pseudonymized=True)
    variants = [r["variant"] for r in results]
    users = raw_user_ids(settings, users)  # outcomes come from the business: raw ids
    share = settings.treatment_share
    lift = minimum_detectable_effect(
        DEMO_RATE,
        max(1, round(len(users) * (1 - share))),
        settings.experiment_alpha,
        DEMO_POWER,
        share / (1 - share),
    )
    outcomes = simulate_outcomes(users, variants, exposed_at, DEMO_RATE, lift, seed=settings.seed)
    path = settings.directory("experiments") / "outcomes.parquet"
    outcomes.to_parquet(path, index=False)
    report = analyze(settings, path)
    (settings.directory("reports") / "experiment.json").write_text(json.dumps(report, indent=2))
    primary = report["metrics"][report["primary_metric"]]
    return {
        "outcomes": str(path),
        "simulated_lift": lift,
        "units": report["units"],
        "srm_p_value": report["srm"]["p_value"],
        "diff": primary["diff"],
        "ci": primary["ci"],
        "p_value": primary["p_value"],
        "verdict": report["verdict"],
        "reason": report["reason"],
    }
{%- elif cookiecutter.experiment == 'shadow' %}


def step_experiment(settings: Settings) -> dict:
    """Serve every known unit while the challenger scores the same rows in shadow; compare them.

    Without a registered challenger the champion's own model shadows itself (agreement 1).
    """
    from ..experiments.shadow import compare

    service = _experiment_service(settings)
    if service is None:
        return {"compared": False, "reason": "no champion model"}
    frame = open_store(settings).get_training_frame().drop_duplicates(schema.USER_KEY)
    for start in range(0, len(frame), 100):
        rows = frame.iloc[start : start + 100]
        context = {name: rows[name].tolist() for name in schema.CONTEXT_DEFAULTS}
        users, items = rows[schema.USER_KEY].tolist(), rows[schema.ITEM_KEY].tolist()
        service.predict(users, items, context, pseudonymized=True)
    drained = service.shadow.drain()
    shadow = service.shadow
    return {
        "drained": drained,
        "scored_rows": shadow.scored_rows,
        "dropped_rows": shadow.dropped_rows,
        "errors": shadow.errors,
        "log": str(shadow.log.path),
        **compare(shadow.log.read()),
    }
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
