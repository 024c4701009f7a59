"""Service metrics in Prometheus format: request count, rows, latency, drift.

Counters and histograms live in one registry owned by this module; ``render`` returns the text
that ``/metrics`` serves and Prometheus scrapes (``deploy/prometheus/prometheus.yml``).
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _metrics() -> dict:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

    registry = CollectorRegistry()
    return {
        "registry": registry,
        "requests": Counter(
            "predict_requests_total", "Prediction requests", ["model_version"], registry=registry
        ),
        "rows": Counter("predict_rows_total", "Rows scored", ["model_version"], registry=registry),
        "errors": Counter(
            "predict_errors_total", "Rejected requests", ["reason"], registry=registry
        ),
        "latency": Histogram(
            "predict_latency_seconds",
            "Time to score one request, features included",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=registry,
        ),
        "psi": Gauge("feature_psi", "Population stability index", ["feature"], registry=registry),
    }


def observe(model_version: int, rows: int, seconds: float) -> None:
    metrics = _metrics()
    metrics["requests"].labels(str(model_version)).inc()
    metrics["rows"].labels(str(model_version)).inc(rows)
    metrics["latency"].observe(seconds)


def observe_error(reason: str) -> None:
    _metrics()["errors"].labels(reason).inc()


def set_drift(psi_by_feature: dict[str, float]) -> None:
    for feature, value in psi_by_feature.items():
        _metrics()["psi"].labels(feature).set(value)


def render() -> tuple[bytes, str]:
    """Return ``(body, content type)`` of the Prometheus exposition."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return generate_latest(_metrics()["registry"]), CONTENT_TYPE_LATEST


def start_server(port: int = 9100) -> None:
    """Serve ``/metrics`` on its own port (for processes without an HTTP API, such as gRPC)."""
    from prometheus_client import start_http_server

    start_http_server(port, registry=_metrics()["registry"])
