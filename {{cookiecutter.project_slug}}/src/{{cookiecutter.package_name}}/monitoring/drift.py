"""Drift report: PSI and the Kolmogorov-Smirnov test per feature and for the served score.

Reference is the training frame (its scores: the champion model's on it); current is the
newest ``drift_window_rows`` rows of the prediction log. PSI below ``psi_warn`` is ok, from
``psi_warn`` a warning, from ``psi_alert`` drift. With fewer than ``drift_min_rows`` logged rows
the status is ``insufficient_data`` and nothing is compared.{% if cookiecutter.contains_pii %} PII-flagged features are not
in the prediction log (``privacy.py``): they are not monitored, and the report lists them under
``not_monitored``.{% endif %} ``monitor`` writes under ``var_dir``:

- ``reports/drift.json``: the PSI table;
- ``metrics/drift.prom``: the same numbers as Prometheus gauges (``feature_psi``,
  ``prediction_score_psi``, ``drift_psi_alert_threshold``, ``drift_insufficient_data``,
  ``drift_last_run_timestamp_seconds``), which the servers' ``/metrics`` expose and the
  ``FeatureDrift`` alert reads;
- ``reports/evidently.html`` and ``reports/evidently.json``: Evidently's data drift report
  (``evidently_report`` setting), next to the PSI table.

``EXIT_CODES`` are the ``monitor`` verb's exit codes: 0 ok (or warn), 3 drift, 4 insufficient
data.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from .. import privacy, schema
from ..settings import Settings

EXIT_CODES = {"ok": 0, "warn": 0, "drift": 3, "insufficient_data": 4}
SCORE = "prediction_score"


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """Return the population stability index of ``current`` against ``reference``."""
    reference = np.asarray(reference, dtype=np.float64)
    current = np.asarray(current, dtype=np.float64)
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:
        return 0.0 if np.allclose(current, reference[0]) else float("inf")
    edges[0], edges[-1] = -np.inf, np.inf
    expected = np.histogram(reference, edges)[0] / len(reference)
    actual = np.histogram(current, edges)[0] / len(current)
    expected, actual = np.clip(expected, 1e-6, None), np.clip(actual, 1e-6, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def status(value: float, warn: float = 0.1, alert: float = 0.25) -> str:
    return "drift" if value >= alert else "warn" if value >= warn else "ok"


def compare(reference: np.ndarray, current: np.ndarray, warn: float, alert: float) -> dict:
    """Return PSI, KS statistic and p-value and the status of one column."""
    value = psi(reference, current)
    ks = stats.ks_2samp(reference, current)
    return {
        "psi": value,
        "ks": float(ks.statistic),
        "ks_p_value": float(ks.pvalue),
        "status": status(value, warn, alert),
    }


def drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: list[str] | None = None,
    warn: float = 0.1,
    alert: float = 0.25,
    min_rows: int = 1,
    scores: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict:
    """Return per-feature (and score) PSI, KS statistic and p-value, status, overall status.

    Fewer than ``min_rows`` current rows: status ``insufficient_data`` and no comparison.
    ``scores``: (reference scores, current scores), compared like a feature.
    """
    thresholds = {"psi_warn": warn, "psi_alert": alert, "min_rows": min_rows}
    rows = {"reference": len(reference), "current": len(current)}
    if len(current) < min_rows or len(reference) == 0:
        return {
            "status": "insufficient_data",
            "detail": f"{len(current)} logged rows, {min_rows} needed: serve more traffic first",
            "rows": rows,
            "thresholds": thresholds,
            "features": {},
            "score": None,
        }
    features = features or schema.feature_names()
    table = {}
    for name in features:
        ref, cur = reference[name].dropna().to_numpy(), current[name].dropna().to_numpy()
        table[name] = compare(ref, cur, warn, alert)
    score = None
    if scores is not None and len(scores[0]) and len(scores[1]) >= min_rows:
        score = compare(scores[0], scores[1], warn, alert)
    values = [row["psi"] for row in table.values()] + ([score["psi"]] if score else [])
    return {
        "status": status(max(values, default=0.0), warn, alert),
        "rows": rows,
        "thresholds": thresholds,
        "features": table,
        "score": score,
    }


def write_report(report: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    return path


def write_textfile(report: dict, path: Path, now: float | None = None) -> Path:
    """Write the report as Prometheus gauges to ``path`` (atomically: a temporary file renamed)."""
    from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

    registry = CollectorRegistry()
    feature_psi = Gauge(
        "feature_psi", "Population stability index per feature", ["feature"], registry=registry
    )
    for name, row in report["features"].items():
        feature_psi.labels(name).set(row["psi"])

    def gauge(name: str, documentation: str, value: float) -> None:
        Gauge(name, documentation, registry=registry).set(value)

    if report.get("score"):
        gauge("prediction_score_psi", "PSI of the served score", report["score"]["psi"])
    for level in ("warn", "alert"):
        documentation = f"PSI from which a column is {level} (setting psi_{level})"
        gauge(f"drift_psi_{level}_threshold", documentation, report["thresholds"][f"psi_{level}"])
    insufficient = 1.0 if report["status"] == "insufficient_data" else 0.0
    gauge("drift_insufficient_data", "1: the last run had too few logged rows", insufficient)
    gauge("drift_current_rows", "Logged rows the last run compared", report["rows"]["current"])
    gauge("drift_last_run_timestamp_seconds", "When the drift job last ran", now or time.time())
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), registry)
    return path


def evidently_report(reference: pd.DataFrame, current: pd.DataFrame, folder: Path, alert: float):
    """Write Evidently's data drift report (PSI per column, ``alert`` threshold) as HTML + JSON.

    Returns ``(html path, json path, drifted column count)``.
    """
    os.environ.setdefault("DO_NOT_TRACK", "1")  # no usage telemetry from Evidently
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    columns = list(reference.columns)
    definition = DataDefinition(numerical_columns=columns)
    snapshot = Report([DataDriftPreset(method="psi", threshold=alert)]).run(
        current_data=Dataset.from_pandas(current[columns], data_definition=definition),
        reference_data=Dataset.from_pandas(reference[columns], data_definition=definition),
    )
    folder.mkdir(parents=True, exist_ok=True)
    html, data = folder / "evidently.html", folder / "evidently.json"
    snapshot.save_html(str(html))
    snapshot.save_json(str(data))
    drifted = next(
        (
            metric["value"]["count"]
            for metric in snapshot.dict()["metrics"]
            if metric["metric_name"].startswith("DriftedColumnsCount")
        ),
        None,
    )
    return html, data, drifted


def _scores(predictions) -> np.ndarray:
    """Return one score per row (the top output of multi-output models), as the metrics do."""
    values = [np.max(p) if np.ndim(p) else p for p in predictions]
    return np.asarray(values, dtype=np.float64)


def reference_scores(settings: Settings, reference: pd.DataFrame) -> tuple[int, np.ndarray] | None:
    """Return the champion's version and its scores on ``reference`` (None: no champion)."""
    from ..registry.registry import CHAMPION, open_registry

    registry = open_registry(settings)
    version = registry.alias(CHAMPION)
    if version is None:
        return None
    bundle, _ = registry.load(version)
    matrix = reference[schema.feature_names()].to_numpy(dtype=np.float64)
    return int(version), _scores(bundle["predictor"].predict(matrix))


def monitor(settings: Settings) -> dict:
    """Compare the newest served rows with the training data; write the reports and gauges."""
    from ..features.store import open_store
    from .prediction_log import PredictionLog

    reference = open_store(settings).get_training_frame()
    log = PredictionLog(settings)
    current = log.read().tail(settings.drift_window_rows)
    log.close()
    scores = None
    if len(current) >= settings.drift_min_rows:
        champion = reference_scores(settings, reference)
        if champion is not None:
            served = current[current["model_version"] == champion[0]]
            scores = (champion[1], _scores(served["prediction"]))
    unlogged = privacy.unlogged_features()
    features = [name for name in schema.feature_names() if name not in unlogged]
    report = drift_report(
        reference,
        current,
        features=features,
        warn=settings.psi_warn,
        alert=settings.psi_alert,
        min_rows=settings.drift_min_rows,
        scores=scores,
    )
    report["not_monitored"] = {name: "PII: not written to the prediction log" for name in unlogged}
    reports = settings.directory("reports")
    path = write_report(report, reports / "drift.json")
    textfile = write_textfile(report, settings.directory("metrics") / "drift.prom")
    columns = dict(report["features"])
    if report["score"]:
        columns[SCORE] = report["score"]
    summary = {
        "status": report["status"],
        "exit_code": EXIT_CODES[report["status"]],
        "drifting": sorted(n for n, row in columns.items() if row["status"] == "drift"),
        "warning": sorted(n for n, row in columns.items() if row["status"] == "warn"),
        "rows": report["rows"],
        "report": str(path),
        "metrics": str(textfile),
    }
    if settings.evidently_report and report["status"] != "insufficient_data":
        html, data, drifted = evidently_report(
            reference[features], current[features], reports, settings.psi_alert
        )
        summary["evidently"] = {"html": str(html), "json": str(data), "drifted_columns": drifted}
    summary["table"] = summary_table(report)
    return summary


def summary_table(report: dict) -> str:
    """Return the one-screen text of a report: one line per column, then the verdict."""
    thresholds = report["thresholds"]
    if report["status"] == "insufficient_data":
        code = EXIT_CODES["insufficient_data"]
        return f"drift: insufficient data: {report['detail']} (exit {code})"
    columns = dict(report["features"])
    if report["score"]:
        columns[SCORE] = report["score"]
    width = max(len(name) for name in columns)
    lines = [
        f"drift of {report['rows']['current']} served rows against "
        f"{report['rows']['reference']} training rows "
        f"(PSI warn {thresholds['psi_warn']:g}, alert {thresholds['psi_alert']:g})",
        f"{'column':<{width}}  {'PSI':>8}  {'KS':>6}  {'KS p':>9}  status",
    ]
    for name, row in columns.items():
        lines.append(
            f"{name:<{width}}  {row['psi']:>8.4f}  {row['ks']:>6.3f}  "
            f"{row['ks_p_value']:>9.2e}  {row['status']}"
        )
    drifting = [name for name, row in columns.items() if row["status"] == "drift"]
    verdict = f"drift in {', '.join(drifting)}" if drifting else report["status"]
    if report.get("not_monitored"):
        lines.append(f"not monitored (PII, not logged): {', '.join(report['not_monitored'])}")
    lines.append(f"status: {verdict} (exit {EXIT_CODES[report['status']]})")
    return "\n".join(lines)
