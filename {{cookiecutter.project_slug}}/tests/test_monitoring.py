from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }} import schema
from {{ cookiecutter.package_name }}.monitoring import (
    drift,
    prediction_log,
)


def test_psi_is_near_zero_for_the_same_distribution_and_large_for_a_shift():
    rng = np.random.default_rng(0)
    reference = rng.normal(size=20_000)
    assert drift.psi(reference, rng.normal(size=20_000)) < 0.01
    assert drift.psi(reference, rng.normal(loc=1.0, size=20_000)) > 0.25


def test_drift_report_flags_only_the_shifted_feature():
    rng = np.random.default_rng(1)
    names = schema.feature_names()
    reference = pd.DataFrame(rng.normal(size=(5000, len(names))), columns=names)
    current = pd.DataFrame(rng.normal(size=(5000, len(names))), columns=names)
    current[names[0]] += 2.0
    report = drift.drift_report(reference, current)
    assert report["status"] == "drift"
    assert report["features"][names[0]]["status"] == "drift"
    assert report["features"][names[0]]["ks_p_value"] < 0.001
    assert all(report["features"][name]["status"] == "ok" for name in names[1:])


def test_prediction_log_round_trips(settings):
    log = prediction_log.PredictionLog(settings)
    vectors = np.arange(2 * len(schema.feature_names()), dtype=float).reshape(2, -1)
    results = [{"prediction": 0.5, "model_version": 1, "variant": "control"}] * 2
    log.append([1, 2], [3, 4], vectors, results)
    frame = log.read()
    assert len(frame) == 2 and frame[schema.feature_names()[0]].tolist() == [0.0, vectors[1, 0]]


def test_metrics_count_requests(loop):
    pytest.importorskip("prometheus_client")
    from {{ cookiecutter.package_name }}.monitoring import metrics

    metrics.observe(7, 3, 0.002)
    body, content_type = metrics.render()
    assert 'predict_rows_total{model_version="7"} 3.0' in body.decode()
    assert content_type.startswith("text/plain")
{%- if cookiecutter.serving in ['rest', 'rest+grpc'] %}


def test_metrics_endpoint_serves_prometheus_text(loop):
    pytest.importorskip("httpx2")
    from fastapi.testclient import TestClient

    from {{ cookiecutter.package_name }}.serving.app import (
        create_app,
    )

    settings, _ = loop
    with TestClient(create_app(settings)) as client:
        client.post("/predict", json={schema.USER_KEY: 1, schema.ITEM_KEY: 2})
        client.post("/predict", json={schema.USER_KEY: -1, schema.ITEM_KEY: 2})
        text = client.get("/metrics").text
    assert "predict_requests_total" in text
    assert 'predict_errors_total{reason="invalid_request"}' in text
{%- endif %}


def test_the_loop_writes_a_drift_report(loop):
    settings, report = loop
    assert report["monitor"]["status"] in {"ok", "warn", "drift"}
    assert (settings.var / "reports" / "drift.json").exists()
