"""Service metrics in Prometheus format: request count, rows, latency, errors, drift.

The serving path only adds to plain Python numbers under one lock (~1 us per request); a
collector turns them into Prometheus metrics when they are scraped. prometheus_client's own
``Counter`` and ``Histogram`` take a lock per update and cost several times more on every
request. ``render`` returns the text that ``/metrics`` serves and Prometheus scrapes
(``deploy/prometheus/prometheus.yml``); the names are ``predict_requests_total``,
``predict_rows_total``, ``predict_errors_total``, ``predict_latency_seconds``, ``feature_psi``{% if cookiecutter.experiment == 'shadow' %},
``prediction_log_dropped_rows_total``, ``shadow_dropped_rows_total`` (rows the full shadow
queue turned away) and ``shadow_errors_total`` (requests the shadow model failed on).{% else %}
and ``prediction_log_dropped_rows_total``.{% endif %}
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from functools import lru_cache

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class ServiceCounts:
    """Counts kept by the serving path, exposed as Prometheus metric families on collection."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: dict[int, int] = {}
        self.rows: dict[int, int] = {}
        self.errors: dict[str, int] = {}
        self.latency_buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self.latency_sum = 0.0
        self.psi: dict[str, float] = {}
        self.log_dropped = 0
{%- if cookiecutter.experiment == 'shadow' %}
        self.shadow_dropped = 0
        self.shadow_errors = 0
{%- endif %}

    def collect(self):
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        with self.lock:
            requests, rows, errors = dict(self.requests), dict(self.rows), dict(self.errors)
            buckets, total, psi = list(self.latency_buckets), self.latency_sum, dict(self.psi)
            dropped = self.log_dropped
{%- if cookiecutter.experiment == 'shadow' %}
            shadow_dropped, shadow_errors = self.shadow_dropped, self.shadow_errors
{%- endif %}
        families = [
            (CounterMetricFamily, "predict_requests", "Prediction requests", "model_version"),
            (CounterMetricFamily, "predict_rows", "Rows scored", "model_version"),
            (CounterMetricFamily, "predict_errors", "Rejected requests", "reason"),
            (GaugeMetricFamily, "feature_psi", "Population stability index", "feature"),
        ]
        for (kind, name, documentation, label), values in zip(
            families, (requests, rows, errors, psi), strict=True
        ):
            family = kind(name, documentation, labels=[label])
            for key, value in sorted(values.items()):
                family.add_metric([str(key)], float(value))
            yield family
        cumulative, running = [], 0
        for bound, count in zip((*LATENCY_BUCKETS, float("inf")), buckets, strict=True):
            running += count
            cumulative.append(("+Inf" if bound == float("inf") else str(bound), running))
        yield HistogramMetricFamily(
            "predict_latency_seconds",
            "Time to score one request, features included",
            buckets=cumulative,
            sum_value=total,
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


COUNTS = ServiceCounts()


@lru_cache(maxsize=1)
def _registry():
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    registry.register(COUNTS)
    return registry


def observe(model_version: int, rows: int, seconds: float) -> None:
    """Count one request of ``rows`` rows served by ``model_version`` in ``seconds``."""
    counts = COUNTS
    with counts.lock:
        counts.requests[model_version] = counts.requests.get(model_version, 0) + 1
        counts.rows[model_version] = counts.rows.get(model_version, 0) + rows
        counts.latency_buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        counts.latency_sum += seconds


def observe_error(reason: str) -> None:
    with COUNTS.lock:
        COUNTS.errors[reason] = COUNTS.errors.get(reason, 0) + 1


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


def set_drift(psi_by_feature: dict[str, float]) -> None:
    with COUNTS.lock:
        COUNTS.psi.update(psi_by_feature)


def render() -> tuple[bytes, str]:
    """Return ``(body, content type)`` of the Prometheus exposition."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return generate_latest(_registry()), CONTENT_TYPE_LATEST


def start_server(port: int) -> None:
    """Serve ``/metrics`` on its own port (for processes without an HTTP API, such as gRPC)."""
    from prometheus_client import start_http_server

    start_http_server(port, registry=_registry())
