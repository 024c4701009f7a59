"""Service metrics in Prometheus format, the same names for the REST API and the gRPC server.

The serving path only adds to plain Python numbers under one lock (a few us per request,
``make bench`` prints the cost); a collector turns them into Prometheus metric families when
they are scraped. prometheus_client's own ``Counter`` and ``Histogram`` take a lock per update
and cost several times more on every request. ``render`` returns the text that ``/metrics``
serves and Prometheus scrapes (``deploy/prometheus/prometheus.yml``):

- ``predict_requests_total{route, model_version, variant}``: requests answered with predictions
  (a batch whose rows went to both experiment arms is ``variant="mixed"``, ``model_version``
  ``"mixed"``);
- ``predict_latency_seconds{route, model_version, variant}``: histogram, body received to answer
  written; the latency budget (``{{ cookiecutter.latency_budget_ms }}`` ms) is one of its bounds;
- ``predict_errors_total{route, reason}``: requests answered with an error; reasons
  ``invalid_request``, ``too_large``, ``unsupported_media_type``, ``bad_request``,
  ``unknown_entity`` (4xx, gRPC ``INVALID_ARGUMENT``/``NOT_FOUND``), ``not_ready`` (503,
  ``UNAVAILABLE``) and ``internal`` (500, ``INTERNAL``);
- ``predict_rows_total{model_version, variant}`` and the ``prediction_score`` histogram with
  the same labels (the positive class's probability, the top class's probability, or the value);
- ``features_defaulted_total{feature}``: context features a request left out, filled with the
  schema's defaults, and (per row) user and item features filled with ``schema.FALLBACK_VALUES``
  because the online store failed (``feature_store_fallback: defaults``);
- ``feature_store_failures_total{fallback}``: entity-id requests the online store failed on,
  answered with default values (``defaults``) or 503 / ``UNAVAILABLE`` (``error``);
- ``model_load_failures_total``: reloads that failed (checksum, schema, registry), after which
  the loaded models kept serving; ``prediction_log_dropped_rows_total``;
{%- if cookiecutter.experiment == 'shadow' %}
- ``shadow_dropped_rows_total`` (rows the full shadow queue turned away) and
  ``shadow_errors_total`` (requests the shadow model failed on);
{%- endif %}
- every ``*.prom`` file of the folder given to ``expose_textfiles`` (the drift job writes
  ``metrics/drift.prom`` under ``var_dir``: ``feature_psi``, ``prediction_score_psi``, its
  thresholds), read again when it changes.

Labels hold routes, model versions, arms, reasons and feature names only (never ids), so the
number of series stays bounded.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from functools import lru_cache
from pathlib import Path

from .. import schema

LATENCY_BUDGET_S = {{ cookiecutter.latency_budget_ms | int }} / 1000
LATENCY_BUCKETS = tuple(
    sorted({0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, LATENCY_BUDGET_S})
)
PROBABILITIES = schema.TASK in ("binary_classification", "retrieval", "multiclass", "multilabel")
SCORE_BUCKETS = (
    (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
    if PROBABILITIES
    else (-10.0, -5.0, -2.0, -1.0, 0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
)
ERROR_REASONS = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "unknown_entity",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    500: "internal",
    503: "not_ready",
}


def score(prediction) -> float:
    """Return the one number per row that the score histogram and drift report follow."""
    if isinstance(prediction, float | int):
        return float(prediction)
    return float(max(prediction))


class Histogram:
    """Bucket counts (not cumulative; the last is +Inf) and the sum of observed values."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def add(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def add_many(self, values) -> None:
        import numpy as np

        values = np.asarray(values, dtype=np.float64)
        at = np.searchsorted(self.bounds, values, side="left")
        for index, count in enumerate(np.bincount(at, minlength=len(self.counts)).tolist()):
            self.counts[index] += count
        self.total += float(values.sum())

    def copy(self) -> Histogram:
        other = Histogram(self.bounds)
        other.counts, other.total = list(self.counts), self.total
        return other

    def cumulative(self) -> list[tuple[str, int]]:
        buckets, running = [], 0
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += count
            buckets.append(("+Inf" if bound == float("inf") else str(bound), running))
        return buckets


class ServiceCounts:
    """Counts kept by the serving path, exposed as Prometheus metric families on collection."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: dict[tuple[str, str, str], int] = {}
        self.latency: dict[tuple[str, str, str], Histogram] = {}
        self.errors: dict[tuple[str, str], int] = {}
        self.rows: dict[tuple[str, str], int] = {}
        self.scores: dict[tuple[str, str], Histogram] = {}
        self.defaulted: dict[str, int] = {}
        self.store_failures: dict[str, int] = {}
        self.load_failures = 0
        self.log_dropped = 0
        self.textfile_folder: Path | None = None
        self._textfiles: dict[Path, tuple[tuple[int, int], list]] = {}
{%- if cookiecutter.experiment == 'shadow' %}
        self.shadow_dropped = 0
        self.shadow_errors = 0
{%- endif %}

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

        with self.lock:
            requests, errors, rows = dict(self.requests), dict(self.errors), dict(self.rows)
            latency = {key: h.copy() for key, h in self.latency.items()}
            scores = {key: h.copy() for key, h in self.scores.items()}
            defaulted = dict(self.defaulted)
            store_failures = dict(self.store_failures)
            failures, dropped = self.load_failures, self.log_dropped
{%- if cookiecutter.experiment == 'shadow' %}
            shadow_dropped, shadow_errors = self.shadow_dropped, self.shadow_errors
{%- endif %}
        counters = [
            ("predict_requests", "Requests answered with predictions", REQUEST_LABELS, requests),
            ("predict_errors", "Requests answered with an error", ("route", "reason"), errors),
            ("predict_rows", "Rows scored", ROW_LABELS, rows),
            (
                "features_defaulted",
                "Features filled with a default: context a request left out, or user and item "
                "features the failed online store did not give",
                ("feature",),
                {(name,): n for name, n in defaulted.items()},
            ),
            (
                "feature_store_failures",
                "Entity-id requests the online store failed on, by the fallback that answered",
                ("fallback",),
                {(name,): n for name, n in store_failures.items()},
            ),
        ]
        for name, documentation, labels, values in counters:
            family = CounterMetricFamily(name, documentation, labels=list(labels))
            for key, value in sorted(values.items()):
                family.add_metric(list(key), float(value))
            yield family
        histograms = [
            (
                "predict_latency_seconds",
                "Time to answer one request: parse, features, model, serialize",
                REQUEST_LABELS,
                latency,
            ),
            ("prediction_score", "Served score per row", ROW_LABELS, scores),
        ]
        for name, documentation, labels, values in histograms:
            family = HistogramMetricFamily(name, documentation, labels=list(labels))
            for key, histogram in sorted(values.items()):
                family.add_metric(list(key), histogram.cumulative(), histogram.total)
            yield family
        yield CounterMetricFamily(
            "model_load_failures",
            "Model reloads that failed; the models loaded before kept serving",
            value=float(failures),
        )
        yield CounterMetricFamily(
            "prediction_log_dropped_rows",
            "Served rows the prediction log could not write (drift monitoring misses them)",
            value=float(dropped),
        )
{%- if cookiecutter.experiment == 'shadow' %}
        yield CounterMetricFamily(
            "shadow_dropped_rows",
            "Rows the shadow model never scored because its queue was full",
            value=float(shadow_dropped),
        )
        yield CounterMetricFamily(
            "shadow_errors",
            "Requests the shadow model failed on (callers still got the champion's answer)",
            value=float(shadow_errors),
        )
{%- endif %}
        yield from self._textfile_families()

    def _textfile_families(self) -> list:
        """Return the metric families of every ``*.prom`` file, parsed again when one changes."""
        from prometheus_client.parser import text_string_to_metric_families

        families, folder = [], self.textfile_folder
        if folder is None:
            return families
        for path in sorted(folder.glob("*.prom")):
            try:
                stat = path.stat()
                stamp = (stat.st_mtime_ns, stat.st_size)
                cached = self._textfiles.get(path)
                if cached is None or cached[0] != stamp:
                    parsed = list(text_string_to_metric_families(path.read_text()))
                    cached = self._textfiles[path] = (stamp, parsed)
            except (OSError, ValueError):  # being replaced, or not exposition text
                continue
            families.extend(cached[1])
        return families


REQUEST_LABELS = ("route", "model_version", "variant")
ROW_LABELS = ("model_version", "variant")
COUNTS = ServiceCounts()


@lru_cache(maxsize=1)
def _registry():
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    registry.register(COUNTS)
    return registry


def request_labels(result: dict) -> tuple[str, str]:
    """Return ``(model_version, variant)`` of an answer: one row, a batch or a features batch."""
    if "model_version" in result:
        return str(result["model_version"]), result["variant"]
    rows = result["predictions"]
    version, variant = rows[0]["model_version"], rows[0]["variant"]
    for row in rows:
        if row["variant"] != variant or row["model_version"] != version:
            return "mixed", "mixed"
    return str(version), variant


def observe_request(route: str, result: dict, seconds: float) -> None:
    """Count one request of ``route`` answered with ``result`` in ``seconds``."""
    key = (route, *request_labels(result))
    counts = COUNTS
    with counts.lock:
        counts.requests[key] = counts.requests.get(key, 0) + 1
        histogram = counts.latency.get(key)
        if histogram is None:
            histogram = counts.latency[key] = Histogram(LATENCY_BUCKETS)
        histogram.add(seconds)


def observe_error(route: str, reason: str) -> None:
    """Count one request of ``route`` answered with an error (``ERROR_REASONS`` values)."""
    key = (route, reason)
    with COUNTS.lock:
        COUNTS.errors[key] = COUNTS.errors.get(key, 0) + 1


def _scores(key: tuple[str, str]) -> Histogram:
    histogram = COUNTS.scores.get(key)
    if histogram is None:
        histogram = COUNTS.scores[key] = Histogram(SCORE_BUCKETS)
    return histogram


def observe_row(model_version: int, variant: str, prediction) -> None:
    """Count one scored row and its score."""
    key = (str(model_version), variant)
    value = score(prediction)
    counts = COUNTS
    with counts.lock:
        counts.rows[key] = counts.rows.get(key, 0) + 1
        _scores(key).add(value)


def observe_batch(model_version: int, variant: str, predictions) -> None:
    """Count the rows of one batch scored by one model and their scores (an array)."""
    import numpy as np

    predictions = np.asarray(predictions, dtype=np.float64)
    values = predictions if predictions.ndim == 1 else predictions.max(axis=1)
    key = (str(model_version), variant)
    with COUNTS.lock:
        COUNTS.rows[key] = COUNTS.rows.get(key, 0) + len(values)
        _scores(key).add_many(values)


def observe_results(results: list[dict]) -> None:
    """Count the rows of per-row results (``prediction``, ``model_version``, ``variant``)."""
    if len(results) == 1:
        result = results[0]
        observe_row(result["model_version"], result["variant"], result["prediction"])
        return
    groups: dict[tuple[int, str], list[float]] = {}
    for result in results:
        groups.setdefault((result["model_version"], result["variant"]), []).append(
            score(result["prediction"])
        )
    for (version, variant), values in groups.items():
        observe_batch(version, variant, values)


def observe_defaulted(feature: str, rows: int = 1) -> None:
    with COUNTS.lock:
        COUNTS.defaulted[feature] = COUNTS.defaulted.get(feature, 0) + rows


def observe_store_failure(fallback: str, rows: int) -> None:
    """Count a request the online store failed on; with ``defaults`` its filled features too."""
    with COUNTS.lock:
        COUNTS.store_failures[fallback] = COUNTS.store_failures.get(fallback, 0) + 1
        if fallback == "defaults":
            for name in schema.FALLBACK_VALUES:
                COUNTS.defaulted[name] = COUNTS.defaulted.get(name, 0) + rows


def observe_load_failure() -> None:
    with COUNTS.lock:
        COUNTS.load_failures += 1


def observe_log_dropped(rows: int) -> None:
    with COUNTS.lock:
        COUNTS.log_dropped += rows
{%- if cookiecutter.experiment == 'shadow' %}


def observe_shadow_dropped(rows: int) -> None:
    with COUNTS.lock:
        COUNTS.shadow_dropped += rows


def observe_shadow_error() -> None:
    with COUNTS.lock:
        COUNTS.shadow_errors += 1
{%- endif %}


def expose_textfiles(folder: Path) -> None:
    """Also expose the ``*.prom`` files of ``folder`` (written by other processes) on scrape.

    One folder per process (the serving core's ``var_dir/metrics``): a later call replaces it.
    """
    with COUNTS.lock:
        COUNTS.textfile_folder = Path(folder)


def render() -> tuple[bytes, str]:
    """Return ``(body, content type)`` of the Prometheus exposition."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return generate_latest(_registry()), CONTENT_TYPE_LATEST


def start_server(port: int, host: str = "0.0.0.0") -> None:
    """Serve ``/metrics`` on its own port (for processes without an HTTP API, such as gRPC)."""
    from prometheus_client import start_http_server

    start_http_server(port, addr=host, registry=_registry())
