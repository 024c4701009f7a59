from __future__ import annotations

import json
import re
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }} import privacy, schema
from {{ cookiecutter.package_name }}.monitoring import (
    drift,
    prediction_log,
)

NAMES = schema.feature_names()
LOGGED = next(k for k, name in enumerate(NAMES) if name not in privacy.unlogged_features())
"""The first feature the prediction log keeps (PII features are written as NaN)."""


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
    assert len(frame) == 2
    assert frame[NAMES[LOGGED]].tolist() == [vectors[0, LOGGED], vectors[1, LOGGED]]
    assert frame[privacy.unlogged_features()].isna().all().all()  # PII never written
    assert frame[schema.USER_KEY].tolist() == [1, 2] and frame[schema.ITEM_KEY].tolist() == [3, 4]
    # a batch and a single row waiting for the same flush
    log.write(vectors + 10, np.array([0.1, 0.2]), 2, ["control", "treatment"])
    log.write_row(list(vectors[0] + 20), 0.3, 3, "treatment", 5, 6)
    frame = log.read()
    assert frame[NAMES[LOGGED]].tolist()[2:] == [
        vectors[0, LOGGED] + 10,
        vectors[1, LOGGED] + 10,
        vectors[0, LOGGED] + 20,
    ]
    assert frame["variant"].tolist()[2:] == ["control", "treatment", "treatment"]
    assert frame["model_version"].tolist()[2:] == [2, 2, 3]
    assert frame[schema.USER_KEY].tolist()[2:] == [-1, -1, 5]
    if prediction_log.n_outputs() == 1:
        np.testing.assert_allclose(frame["prediction"].tolist()[2:], [0.1, 0.2, 0.3])


def _batch(log, first: int, rows: int) -> None:
    """Write ``rows`` rows whose first logged feature counts up from ``first``."""
    vectors = np.zeros((rows, len(schema.feature_names())))
    vectors[:, LOGGED] = np.arange(first, first + rows)
    log.write(vectors, np.full(rows, 0.5), 1)


def test_prediction_log_keeps_only_the_newest_rows_in_a_bounded_file(settings):
    small = settings.model_copy(update={"prediction_log_rows": 1000})
    log = prediction_log.PredictionLog(small)
    for first in range(0, 2500, 100):
        _batch(log, first, 100)
        log.flush()
    _batch(log, 2500, 2500)  # one write larger than the ring
    frame = log.read()
    assert frame[NAMES[LOGGED]].tolist() == list(range(4000, 5000))
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
    assert reopened.read()[NAMES[LOGGED]].tolist() == list(range(900))
    reopened.close()


def _write_from_a_process(settings, marker: int) -> None:
    log = prediction_log.PredictionLog(settings)
    for k in range(40):
        vectors = np.full((50, len(schema.feature_names())), float(marker))
        vectors[:, (LOGGED + 1) % vectors.shape[1]] = k
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
    first = NAMES[LOGGED]
    assert frame[first].value_counts().to_dict() == {1.0: 2000, 2.0: 2000, 3.0: 2000}
    assert (frame["model_version"] == frame[first]).all()  # every record whole


def test_prediction_log_converts_another_capacity_and_an_append_only_file(settings):
    log = prediction_log.PredictionLog(settings.model_copy(update={"prediction_log_rows": 2000}))
    _batch(log, 0, 1500)
    log.close()
    small = settings.model_copy(update={"prediction_log_rows": 1000})
    smaller = prediction_log.PredictionLog(small)
    assert smaller.read()[NAMES[LOGGED]].tolist() == list(range(500, 1500))
    smaller.close()
    # an earlier version appended records with no header; a torn last record is dropped
    records = np.zeros(1500, dtype=prediction_log.record_dtype())
    records["features"][:, LOGGED] = np.arange(1500)
    log.path.write_bytes(records.tobytes() + b"torn")
    legacy = prediction_log.PredictionLog(small)
    assert legacy.read()[NAMES[LOGGED]].tolist() == list(range(500, 1500))
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
    assert log.read()[NAMES[LOGGED]].tolist() == list(range(200, 210))
    log.close()


def test_prediction_log_refuses_a_file_of_another_record_layout(settings):
    log = prediction_log.PredictionLog(settings)
    header = prediction_log.HEADER.pack(prediction_log.MAGIC, log.dtype.itemsize + 8, 1000, 0)
    log.path.write_bytes(header.ljust(prediction_log.HEADER_BYTES, b"\0"))
    with pytest.raises(prediction_log.LogFormatError, match="move the file away"):
        log.read()


def _sample(text: str, name: str, **labels: str) -> float | None:
    """Return the value of the sample ``name`` with exactly ``labels`` in exposition ``text``."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return None


def test_metrics_count_requests_rows_scores_and_errors_with_bounded_labels():
    pytest.importorskip("prometheus_client")
    from {{ cookiecutter.package_name }}.monitoring import metrics

    rows_of_7 = {"model_version": "7", "variant": "control"}
    before = _sample(metrics.render()[0].decode(), "predict_rows_total", **rows_of_7) or 0
    metrics.observe_request("/test", {"model_version": 7, "variant": "control"}, 0.002)
    metrics.observe_batch(7, "control", np.array([0.05, 0.5, 0.97]))
    metrics.observe_error("/test", "not_ready")
    metrics.observe_defaulted("hour_of_day", 2)
    body, content_type = metrics.render()
    text = body.decode()
    assert content_type.startswith("text/plain")
    labels = {"route": "/test", "model_version": "7", "variant": "control"}
    assert _sample(text, "predict_requests_total", **labels) == 1
    assert _sample(text, "predict_latency_seconds_count", **labels) == 1
    assert _sample(text, "predict_latency_seconds_bucket", **labels, le="0.0025") == 1
    assert _sample(text, "predict_latency_seconds_bucket", **labels, le="0.001") == 0
    budget = str(metrics.LATENCY_BUDGET_S)
    assert _sample(text, "predict_latency_seconds_bucket", **labels, le=budget) == 1
    assert _sample(text, "predict_rows_total", model_version="7", variant="control") == before + 3
    # the +Inf bucket counts every score: no _count/_sum when buckets go negative (regression)
    assert _sample(text, "prediction_score_bucket", **rows_of_7, le="+Inf") >= 3
    assert _sample(text, "predict_errors_total", route="/test", reason="not_ready") == 1
    assert _sample(text, "features_defaulted_total", feature="hour_of_day") >= 2
    assert _sample(text, "model_load_failures_total") is not None
    # a batch whose rows went to both arms is one request of variant "mixed"
    rows = [
        {"model_version": 1, "variant": "control"},
        {"model_version": 2, "variant": "treatment"},
    ]
    assert metrics.request_labels({"predictions": rows}) == ("mixed", "mixed")
    assert metrics.request_labels({"predictions": rows[:1]}) == ("1", "control")


def test_a_failed_reload_is_counted_and_the_loaded_model_keeps_serving(loop, monkeypatch):
    pytest.importorskip("prometheus_client")
    from {{ cookiecutter.package_name }}.monitoring import metrics
    from {{ cookiecutter.package_name }}.registry.registry import RegistryError
    from {{ cookiecutter.package_name }}.serving.core import PredictionService

    settings, _ = loop
    service = PredictionService(settings)
    version = service.reload()
    failures = metrics.COUNTS.load_failures

    def broken(*args, **kwargs):
        raise RegistryError("checksum mismatch")

    monkeypatch.setattr(service.registry, "alias", broken)
    with pytest.raises(RegistryError):
        service.reload()
    assert metrics.COUNTS.load_failures == failures + 1
    assert service.champion.version == version
{%- if cookiecutter.serving in ['rest', 'rest+grpc'] %}


def test_rest_metrics_label_routes_and_count_every_kind_of_error(loop, tmp_path, monkeypatch):
    pytest.importorskip("httpx2")
    from fastapi.testclient import TestClient

    from {{ cookiecutter.package_name }}.serving.app import (
        create_app,
    )

    from conftest import small_settings

    settings, _ = loop
    features = {"features": [0.5] * len(schema.feature_names())}
    with TestClient(create_app(settings)) as client:
        ids = {schema.USER_KEY: 1, schema.ITEM_KEY: 2}
        assert client.post("/predict", json=ids).status_code == 200
        assert client.post("/predict", json={**ids, schema.USER_KEY: -1}).status_code == 422
        batch = {"features": [features["features"]] * 3}
        assert client.post("/predict/batch", json=batch).status_code == 200
        core = client.app.core
        monkeypatch.setattr(core, "predict_row", lambda row: 1 / 0)
        assert client.post("/predict", json=features).status_code == 500
        text = client.get("/metrics").text
    with TestClient(create_app(small_settings(tmp_path))) as empty:  # no model: 503
        assert empty.post("/predict", json=features).status_code == 503
        text_503 = empty.get("/metrics").text
    version = str(core.champion.version)
    for route in ("/predict", "/predict/batch"):
        labels = {"route": route, "model_version": version, "variant": "control"}
        if route == "/predict" and settings.experiment == "ab":
            continue  # the entity row's arm depends on its hash
        assert _sample(text, "predict_requests_total", **labels) >= 1
        assert _sample(text, "predict_latency_seconds_count", **labels) >= 1
    assert _sample(text, "predict_errors_total", route="/predict", reason="invalid_request") >= 1
    assert _sample(text, "predict_errors_total", route="/predict", reason="internal") >= 1
    assert _sample(text_503, "predict_errors_total", route="/predict", reason="not_ready") >= 1
    assert _sample(text, "features_defaulted_total", feature="hour_of_day") >= 1
    assert _sample(text, "prediction_score_count", model_version=version, variant="control") >= 3
    assert 'route="' in text and f"{schema.USER_KEY}=" not in text  # no ids in labels
{%- endif %}
{%- if cookiecutter.serving in ['grpc', 'rest+grpc'] %}


def test_grpc_server_exports_the_same_metrics_as_rest(loop):
    grpc = pytest.importorskip("grpc")
    pytest.importorskip("grpc_tools")
    from {{ cookiecutter.package_name }}.monitoring import metrics
    from {{ cookiecutter.package_name }}.serving import (
        grpc_server,
    )

    settings, _ = loop
    messages, services = grpc_server.load_protos(settings)
    server, port = grpc_server.create_server(settings, port=0)
    try:
        with grpc.insecure_channel(f"{settings.serve_host}:{port}") as channel:
            client = services.PredictorStub(channel)
            row = [0.5] * len(schema.feature_names())
            reply = client.Predict(messages.PredictRequest(features=row), timeout=5)
            bad = messages.PredictRequest(**{schema.USER_KEY: -1, schema.ITEM_KEY: 2})
            with pytest.raises(grpc.RpcError):
                client.Predict(bad, timeout=5)
    finally:
        server.stop(grace=None)
    text = metrics.render()[0].decode()
    labels = {"route": "Predict", "model_version": str(reply.model_version), "variant": "control"}
    assert _sample(text, "predict_requests_total", **labels) >= 1
    assert _sample(text, "predict_latency_seconds_count", **labels) >= 1
    assert _sample(text, "predict_errors_total", route="Predict", reason="invalid_request") >= 1
{%- endif %}


@pytest.fixture
def served(loop, tmp_path):
    """Settings over the loop's data and models with a prediction log and reports of their own."""
    settings, _ = loop
    var = tmp_path / "var"
    var.mkdir()
    for entry in settings.var.iterdir():
        if entry.name not in ("logs", "reports", "metrics", "bench"):
            (var / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    return settings.model_copy(update={"var_dir": var})


def _serve_training_rows(settings, n: int) -> None:
    from {{ cookiecutter.package_name }}.features.store import open_store
    from {{ cookiecutter.package_name }}.serving.core import PredictionService

    service = PredictionService(settings)
    service.reload()
    frame = open_store(settings).get_training_frame().sample(n, random_state=1, replace=True)
    service.predict_features(frame[schema.feature_names()].to_numpy(dtype=np.float64))
    service.log.close()


def _cli(settings, monkeypatch, capsys, verb: str) -> tuple[int, str]:
    """Run the project CLI's ``verb`` on ``settings`` (through the environment, as make does)."""
    from {{ cookiecutter.package_name }} import cli
    from {{ cookiecutter.package_name }}.settings import ENV_PREFIX

    keys = ("var_dir", "n_users", "n_items", "n_events", "seed", "drift_min_rows")
    for key in (*keys, "evidently_report", "psi_warn", "psi_alert"):
        monkeypatch.setenv(f"{ENV_PREFIX}{key.upper()}", str(getattr(settings, key)))
    code = cli.main([verb])
    return code, capsys.readouterr().out


def test_monitor_says_insufficient_data_below_min_rows_and_never_compares_training_with_itself(
    served, monkeypatch, capsys
):
    _serve_training_rows(served, 50)
    code, out = _cli(served, monkeypatch, capsys, "monitor")
    assert code == drift.EXIT_CODES["insufficient_data"] == 4
    assert "insufficient data" in out and "50 logged rows" in out
    report = json.loads((served.var / "reports" / "drift.json").read_text())
    assert report["status"] == "insufficient_data" and report["features"] == {}
    gauges = (served.var / "metrics" / "drift.prom").read_text()
    assert _sample(gauges, "drift_insufficient_data") == 1
    assert _sample(gauges, "feature_psi", feature=NAMES[LOGGED]) is None


def test_monitor_flags_a_drifted_batch_exits_3_and_the_servers_expose_its_gauges(
    served, monkeypatch, capsys
):
    from {{ cookiecutter.package_name }}.monitoring import metrics
    from {{ cookiecutter.package_name }}.pipelines.run import serve_drifted_batch

    _serve_training_rows(served, 1_500)  # more than the demo's minimum drifted batch
    code, out = _cli(served, monkeypatch, capsys, "monitor")
    assert code == 0, out
    drifted = serve_drifted_batch(served)
    shifted = drifted["shifted"]
    assert drifted["served"] == 1_500  # as many as the window held: half of what monitor sees
    code, out = _cli(served, monkeypatch, capsys, "monitor")
    assert code == drift.EXIT_CODES["drift"] == 3
    assert f"drift in {shifted}" in out and len(out.splitlines()) < 25
    report = json.loads((served.var / "reports" / "drift.json").read_text())
    assert report["features"][shifted]["status"] == "drift" and report["score"] is not None
    text = metrics.render()[0].decode()  # the serving core exposes its var_dir's gauges
    assert _sample(text, "feature_psi", feature=shifted) >= served.psi_alert
    assert _sample(text, "drift_psi_alert_threshold") == served.psi_alert
    assert _sample(text, "drift_insufficient_data") == 0
    # the threshold is the setting: the same rows are not drift under a psi_alert of 1000
    lenient = served.model_copy(update={"psi_alert": 1000.0, "psi_warn": 999.0})
    code, out = _cli(lenient, monkeypatch, capsys, "monitor")
    assert code == 0 and "status: ok" in out


def test_monitor_writes_an_evidently_report_next_to_the_psi_table(served):
    _serve_training_rows(served, 300)
    summary = drift.monitor(served.model_copy(update={"evidently_report": True}))
    evidently = summary["evidently"]
    assert Path(evidently["html"]).read_text().lstrip().lower().startswith("<!doctype html")
    data = json.loads(Path(evidently["json"]).read_text())
    names = " ".join(metric["metric_name"] for metric in data["metrics"])
    columns = set(re.findall(r"column=([^,)]+)", names))
    assert NAMES[LOGGED] in columns and "PSI" in names.upper()
    assert not columns & set(privacy.unlogged_features())  # PII features are not monitored
    assert evidently["drifted_columns"] is not None


def test_the_loop_writes_a_drift_report(loop):
    settings, report = loop
    assert report["monitor"]["status"] in {"ok", "warn", "drift"}
    assert (settings.var / "reports" / "drift.json").exists()
    assert (settings.var / "metrics" / "drift.prom").exists()
