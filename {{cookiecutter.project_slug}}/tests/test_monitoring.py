from __future__ import annotations

import re
from importlib.util import find_spec

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
    assert frame[schema.USER_KEY].tolist() == [1, 2] and frame[schema.ITEM_KEY].tolist() == [3, 4]
    # a batch and a single row waiting for the same flush
    log.write(vectors + 10, np.array([0.1, 0.2]), 2, ["control", "treatment"])
    log.write_row(list(vectors[0] + 20), 0.3, 3, "treatment", 5, 6)
    frame = log.read()
    assert frame[schema.feature_names()[0]].tolist()[2:] == [10.0, vectors[1, 0] + 10, 20.0]
    assert frame["variant"].tolist()[2:] == ["control", "treatment", "treatment"]
    assert frame["model_version"].tolist()[2:] == [2, 2, 3]
    assert frame[schema.USER_KEY].tolist()[2:] == [-1, -1, 5]
    if prediction_log.n_outputs() == 1:
        np.testing.assert_allclose(frame["prediction"].tolist()[2:], [0.1, 0.2, 0.3])


def _batch(log, first: int, rows: int) -> None:
    """Write ``rows`` rows whose first feature counts up from ``first``."""
    vectors = np.zeros((rows, len(schema.feature_names())))
    vectors[:, 0] = np.arange(first, first + rows)
    log.write(vectors, np.full(rows, 0.5), 1)


def test_prediction_log_keeps_only_the_newest_rows_in_a_bounded_file(settings):
    small = settings.model_copy(update={"prediction_log_rows": 1000})
    log = prediction_log.PredictionLog(small)
    for first in range(0, 2500, 100):
        _batch(log, first, 100)
        log.flush()
    _batch(log, 2500, 2500)  # one write larger than the ring
    frame = log.read()
    assert frame[schema.feature_names()[0]].tolist() == list(range(4000, 5000))
    size = log.path.stat().st_size
    assert size == prediction_log.HEADER_BYTES + 1000 * log.dtype.itemsize
    log.close()


def test_prediction_log_is_shared_by_two_writers_and_survives_a_restart(settings):
    small = settings.model_copy(update={"prediction_log_rows": 1000})
    first, second = prediction_log.PredictionLog(small), prediction_log.PredictionLog(small)
    _batch(first, 0, 300)
    first.flush()
    _batch(second, 300, 300)
    second.flush()
    _batch(first, 600, 300)
    first.close()
    second.close()
    reopened = prediction_log.PredictionLog(small)
    assert reopened.read()[schema.feature_names()[0]].tolist() == list(range(900))
    reopened.close()


def _write_from_a_process(settings, marker: int) -> None:
    log = prediction_log.PredictionLog(settings)
    for k in range(40):
        vectors = np.full((50, len(schema.feature_names())), float(marker))
        vectors[:, 1 % vectors.shape[1]] = k
        log.write(vectors, np.full(50, 0.5), marker)
        log.flush()
    log.close()


def test_processes_writing_at_once_lose_and_tear_no_record(settings):
    import multiprocessing

    small = settings.model_copy(update={"prediction_log_rows": 10_000})
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_from_a_process, args=(small, m)) for m in (1, 2, 3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    frame = prediction_log.PredictionLog(small).read()
    first = schema.feature_names()[0]
    assert frame[first].value_counts().to_dict() == {1.0: 2000, 2.0: 2000, 3.0: 2000}
    assert (frame["model_version"] == frame[first]).all()  # every record whole


def test_prediction_log_converts_another_capacity_and_an_append_only_file(settings):
    log = prediction_log.PredictionLog(settings.model_copy(update={"prediction_log_rows": 2000}))
    _batch(log, 0, 1500)
    log.close()
    small = settings.model_copy(update={"prediction_log_rows": 1000})
    smaller = prediction_log.PredictionLog(small)
    assert smaller.read()[schema.feature_names()[0]].tolist() == list(range(500, 1500))
    smaller.close()
    # an earlier version appended records with no header; a torn last record is dropped
    records = np.zeros(1500, dtype=prediction_log.record_dtype())
    records["features"][:, 0] = np.arange(1500)
    log.path.write_bytes(records.tobytes() + b"torn")
    legacy = prediction_log.PredictionLog(small)
    assert legacy.read()[schema.feature_names()[0]].tolist() == list(range(500, 1500))
    legacy.close()


def test_a_log_that_cannot_be_written_drops_rows_but_never_raises(settings, caplog):
    log = prediction_log.PredictionLog(settings)
    log.path.mkdir()  # the file cannot be opened for writing
    _batch(log, 0, 100)
    log.write_row([0.0] * len(schema.feature_names()), 0.5, 1)
    log.flush()
    assert log.dropped_rows == 101
    assert "rows dropped" in caplog.text
    if find_spec("prometheus_client") is not None:
        from {{ cookiecutter.package_name }}.monitoring import metrics

        text = metrics.render()[0].decode()
        counted = re.search(r"^prediction_log_dropped_rows_total (\S+)$", text, re.MULTILINE)
        assert counted and float(counted.group(1)) >= 101
    log.path.rmdir()
    _batch(log, 200, 10)  # writable again: the next flush reopens the file
    assert log.read()[schema.feature_names()[0]].tolist() == list(range(200, 210))
    log.close()


def test_prediction_log_refuses_a_file_of_another_record_layout(settings):
    log = prediction_log.PredictionLog(settings)
    header = prediction_log.HEADER.pack(prediction_log.MAGIC, log.dtype.itemsize + 8, 1000, 0)
    log.path.write_bytes(header.ljust(prediction_log.HEADER_BYTES, b"\0"))
    with pytest.raises(prediction_log.LogFormatError, match="move the file away"):
        log.read()


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
