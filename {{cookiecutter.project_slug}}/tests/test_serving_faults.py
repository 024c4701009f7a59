{%- set rest = cookiecutter.serving in ['rest', 'rest+grpc'] -%}
{%- set grpc = cookiecutter.serving in ['grpc', 'rest+grpc'] -%}
{%- set local_registry = cookiecutter.registry == 'local' -%}
"""Faults against the real server: the project's ``serve`` verb in a subprocess on 127.0.0.1.

Each test serves a copy of the loop's ``var`` folder, breaks one thing (no registry, a missing or
corrupt artifact, a registry gone during a hot swap, a failed online store, SIGTERM) and checks
what callers and operators see: status codes, the version that answers, the metrics and the one
log line. Registry polling is off (``reload_interval_s=0``): swaps happen on ``/model/reload``.
"""

from __future__ import annotations

import contextlib
{%- if rest %}
import http.client
import json
{%- endif %}
import os
import re
import shutil
import signal
{%- if rest %}
import socket
{%- endif %}
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }} import schema
from {{ cookiecutter.package_name }}.registry.registry import CHAMPION, open_registry
from {{ cookiecutter.package_name }}.settings import ENV_PREFIX, Settings

from conftest import ADMIN_TOKEN, stop_process

pytestmark = pytest.mark.slow
PACKAGE = "{{ cookiecutter.package_name }}"
HOST = "127.0.0.1"
START_TIMEOUT_S = 60.0
ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}
NO_CHAMPION = "no champion model in the registry"
TESTS = Path(__file__).parent
LISTENING = {
    "rest": re.compile(rf"Uvicorn running on http://{re.escape(HOST)}:(\d+)"),
    "grpc": re.compile(rf"gRPC server listening on {re.escape(HOST)}:(\d+)"),
}
"""The line each server prints once it listens, with the port the kernel gave it (port 0)."""


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    log: Path

    def lines(self, text: str) -> list[str]:
        """Return the lines of the server's output that contain ``text``."""
        return [line for line in self.log.read_text().splitlines() if text in line]

    def tail(self) -> str:
        """Return the end of the server's output (for assertion messages)."""
        return _tail(self.log)


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


def _wait_for(condition, server: Server, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, server.tail()
        time.sleep(0.1)


def _own_port(process: subprocess.Popen, log: Path, protocol: str) -> int:
    """Return the port ``process`` listens on, read from its own output once it says so.

    The server binds port 0, so the kernel gives it a port no other process holds. A port probed
    free by the test and handed over could be taken by another test's server before this one
    bound it, and that stranger would answer the requests (its own schema: 422). A server that
    cannot bind fails here, with its own error.
    """
    deadline = time.monotonic() + START_TIMEOUT_S
    while not (found := LISTENING[protocol].search(log.read_text(errors="replace"))):
        assert process.poll() is None, f"the server exited with {process.returncode}: {_tail(log)}"
        assert time.monotonic() < deadline, f"not listening after {START_TIMEOUT_S} s: {_tail(log)}"
        time.sleep(0.1)
    return int(found.group(1))


def served_copy(settings: Settings, folder: Path, registry: bool = True) -> Settings:
    """Return settings for a copy of ``settings``' var folder under ``folder`` (its own files)."""
    skip = ["bench", "reports"] if registry else ["bench", "reports", "registry", "mlflow*"]
    shutil.copytree(settings.var, folder / "var", ignore=shutil.ignore_patterns(*skip))
    return settings.model_copy(update={"var_dir": folder / "var"})


@contextlib.contextmanager
def serving(
    settings: Settings, protocol: str = "rest", module: str = PACKAGE, **env: str
) -> Iterator[Server]:
    """Run the project's ``serve`` verb on a port of its own for the block; stop it (SIGTERM) after.

    ``module`` is what ``python -m`` runs: the package, or a test helper of ``tests/`` that wraps
    its CLI (``grpc_held``).
    """
    log = settings.var / f"serve-{protocol}.log"
    values = {
        "VAR_DIR": str(settings.var),
        "ROOT": str(settings.root),
        "RELOAD_INTERVAL_S": "0",
        "AUTH_REQUIRED": "false",
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "SERVE_HOST": HOST,
        "SERVE_PORT": "0",
{%- if grpc %}
        "GRPC_PORT": "0",
        "METRICS_PORT": "0",
{%- endif %}
        **env,
    }
    command = [sys.executable, "-m", module, "serve"]
{%- if cookiecutter.serving == 'rest+grpc' %}
    command += ["--protocol", protocol]
{%- endif %}
    environment = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    environment |= {f"{ENV_PREFIX}{key.upper()}": value for key, value in values.items()}
    if module != PACKAGE:
        paths = [str(TESTS), *filter(None, [environment.get("PYTHONPATH")])]
        environment["PYTHONPATH"] = os.pathsep.join(paths)
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            env=environment,
            cwd=settings.root,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield Server(process, _own_port(process, log, protocol), log)
    finally:
        stop_process(process)


def register_champion(source: Settings, target: Settings) -> int:
    """Register the champion of ``source``'s registry in ``target``'s and promote it."""
    bundle, _ = open_registry(source).load(CHAMPION)
    registry = open_registry(target)
    return registry.promote(registry.register(bundle))


@pytest.fixture(scope="module")
def entity(loop) -> dict:
    """An entity-id request for a known user and item, and the features the store gives it.

    The store holds user keys; a client sends the raw user id behind the key (the same id unless
    person ids are pseudonymized).
    """
    from {{ cookiecutter.package_name }}.data.synthetic import raw_user_ids
    from {{ cookiecutter.package_name }}.features.store import open_store

    row = open_store(loop[0]).get_training_frame().iloc[0]
    context = {name: int(row[name]) for name in schema.CONTEXT_DEFAULTS}
    return {
        "body": {
            schema.USER_KEY: raw_user_ids(loop[0], [int(row[schema.USER_KEY])])[0],
            schema.ITEM_KEY: int(row[schema.ITEM_KEY]),
            "context": context,
        },
        "features": [float(row[name]) for name in schema.feature_names()],
    }


def break_online_store(settings: Settings, group: str) -> None:
    """Drop the online table of ``group`` (SQLite): the server's next lookup fails."""
    folder = "feast" if settings.feature_store == "feast" else "features"
    with sqlite3.connect(settings.var / folder / "online.db") as store:
        listed = store.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        tables = [name for (name,) in listed if name.endswith(f"{group}_features")]
        assert tables, f"no online table of {group} features"
        for name in tables:
            store.execute(f'DROP TABLE "{name}"')


def test_fallback_values_cover_every_user_and_item_feature():
    stored = schema.feature_names("user") + schema.feature_names("item")
    assert sorted(schema.FALLBACK_VALUES) == sorted(stored)
{%- if rest %}


def _http(port: int, method: str, path: str, body: object = None, headers=None) -> tuple:
    """Return ``(status, parsed JSON or text)`` of one request."""
    connection = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        data = json.dumps(body).encode() if body is not None else None
        heads = {"content-type": "application/json", **(headers or {})}
        connection.request(method, path, body=data, headers=heads)
        response = connection.getresponse()
        payload = response.read().decode()
        kind = response.getheader("content-type", "")
        return response.status, json.loads(payload) if "json" in kind else payload
    finally:
        connection.close()
{%- if cookiecutter.monitoring %}


def _metric(port: int, sample: str, **labels: str) -> float:
    """Return one sample of ``GET /metrics`` (0 when it is not there yet)."""
    from prometheus_client.parser import text_string_to_metric_families

    _, text = _http(port, "GET", "/metrics")
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == sample and all(found.labels.get(k) == v for k, v in labels.items()):
                return found.value
    return 0.0
{%- endif %}


def test_a_server_that_cannot_bind_fails_its_start_and_no_stranger_answers(loop, tmp_path):
    settings = served_copy(loop[0], tmp_path)
    with socket.socket() as stranger:
        stranger.bind((HOST, 0))
        stranger.listen()
        taken = str(stranger.getsockname()[1])
        with pytest.raises(AssertionError, match="the server exited") as failed:
            with serving(settings, SERVE_PORT=taken):
                pytest.fail("the stranger on the port was taken for the server")
    assert "address already in use" in str(failed.value)


def test_a_server_without_a_registry_stays_up_unready_until_a_model_is_promoted(
    loop, tmp_path, entity
):
    settings = served_copy(loop[0], tmp_path, registry=False)
    with serving(settings) as server:
        assert _http(server.port, "GET", "/health") == (200, {"status": "ok"})
        status, ready = _http(server.port, "GET", "/ready")
        assert status == 503 and ready["ready"] is False, (ready, server.tail())
        assert _http(server.port, "POST", "/predict", entity["body"])[0] == 503
        [line] = server.lines(NO_CHAMPION)
        assert "promote" in line and "/model/reload" in line
        assert server.process.poll() is None

        version = register_champion(loop[0], settings)
        assert _http(server.port, "POST", "/model/reload", headers=ADMIN) == (
            200,
            {"model_version": version},
        )
        assert _http(server.port, "GET", "/ready") == (
            200,
            {"ready": True, "model_version": version},
        )
        status, answer = _http(server.port, "POST", "/predict", entity["body"])
        assert status == 200 and answer["model_version"] == version, (answer, server.tail())
        assert len(server.lines(NO_CHAMPION)) == 1
{%- if local_registry %}


def test_a_missing_artifact_at_start_is_one_log_line_until_it_is_restored(loop, tmp_path):
    settings = served_copy(loop[0], tmp_path)
    registry = open_registry(settings)
    version = registry.alias(CHAMPION)
    artifact = registry.root / f"v{version}" / "model.pkl"
    saved = artifact.read_bytes()
    artifact.unlink()
    with serving(settings) as server:
        assert _http(server.port, "GET", "/health")[0] == 200
        status, ready = _http(server.port, "GET", "/ready")
        assert status == 503 and "has no artifact" in ready["detail"], (ready, server.tail())
        [line] = server.lines("has no artifact")
        assert str(artifact) in line and "make train promote" in line
        assert server.process.poll() is None

        artifact.write_bytes(saved)
        assert _http(server.port, "POST", "/model/reload", headers=ADMIN)[0] == 200
        assert _http(server.port, "GET", "/ready")[1]["model_version"] == version


def _corrupt_new_version(source: Settings, settings: Settings):
    """Register a version whose artifact then changes, unpromoted (before the server starts).

    Return the step that promotes it and what the log line names.
    """
    registry = open_registry(settings)
    bundle, _ = open_registry(source).load(CHAMPION)
    version = registry.register(bundle)
    artifact = registry.root / f"v{version}" / "model.pkl"
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artifact.write_bytes(bytes(data))
    aliases_file = registry.root / "aliases.json"
    aliases = json.loads(aliases_file.read_text())
    aliases.pop("challenger", None)  # served by experiments: only the promotion may load it
    aliases_file.write_text(json.dumps(aliases))
    return lambda: registry.promote(version), "fails its sha256 check"


def _registry_gone(source: Settings, settings: Settings):
    """Return the step that moves the registry folder away (unreachable), and the log text."""
    folder = settings.var / "registry"
    return lambda: folder.rename(settings.var / "registry-away"), "is gone"


@pytest.mark.parametrize("fault", [_corrupt_new_version, _registry_gone], ids=["corrupt", "gone"])
def test_a_failed_hot_swap_keeps_the_old_model_answering(loop, tmp_path, entity, fault):
    settings = served_copy(loop[0], tmp_path)
    trigger, reason = fault(loop[0], settings)
    with serving(settings) as server:
        status, ready = _http(server.port, "GET", "/ready")
        assert status == 200, (ready, server.tail())
        serving_version = ready["model_version"]
{%- if cookiecutter.monitoring %}
        failures = _metric(server.port, "model_load_failures_total")
{%- endif %}

        trigger()
        for _ in range(2):
            status, answer = _http(server.port, "POST", "/model/reload", headers=ADMIN)
            assert status == 409 and reason in answer["detail"], (answer, server.tail())
            status, answer = _http(server.port, "POST", "/predict", entity["body"])
            assert status == 200, (answer, server.tail())
            assert answer["model_version"] == serving_version
        assert _http(server.port, "GET", "/ready")[1]["model_version"] == serving_version
{%- if cookiecutter.monitoring %}
        assert _metric(server.port, "model_load_failures_total") == failures + 2
{%- endif %}
        [line] = server.lines("model reload failed")
        assert f"version {serving_version} keeps serving" in line and reason in line


@pytest.mark.parametrize("fault", [_corrupt_new_version, _registry_gone], ids=["corrupt", "gone"])
def test_the_registry_poll_retries_a_failed_swap_and_logs_it_once(loop, tmp_path, entity, fault):
    settings = served_copy(loop[0], tmp_path)
    trigger, reason = fault(loop[0], settings)
    with serving(settings, RELOAD_INTERVAL_S="0.1") as server:
        status, ready = _http(server.port, "GET", "/ready")
        assert status == 200, (ready, server.tail())
        trigger()
{%- if cookiecutter.monitoring %}
        _wait_for(lambda: _metric(server.port, "model_load_failures_total") >= 3, server)
{%- else %}
        _wait_for(lambda: server.lines("model reload failed"), server)
{%- endif %}
        status, answer = _http(server.port, "POST", "/predict", entity["body"])
        assert status == 200, (answer, server.tail())
        assert answer["model_version"] == ready["model_version"]
        [line] = server.lines("model reload failed")
        assert reason in line
        assert server.lines("Traceback") == []
{%- endif %}


@pytest.mark.parametrize("fallback", ["defaults", "error"])
def test_a_failed_online_store_answers_with_the_configured_fallback(
    loop, tmp_path, entity, fallback
):
    from {{ cookiecutter.package_name }}.features.store import fallback_vectors

    settings = served_copy(loop[0], tmp_path)
    with serving(settings, FEATURE_STORE_FALLBACK=fallback) as server:
        status, healthy = _http(server.port, "POST", "/predict", entity["body"])
        assert status == 200, (healthy, entity["body"], server.tail())
        break_online_store(settings, "user")

        answers = [_http(server.port, "POST", "/predict", entity["body"]) for _ in range(2)]
        if fallback == "defaults":
            bundle, _ = open_registry(settings).load(CHAMPION)
            context = {name: [value] for name, value in entity["body"]["context"].items()}
            expected = bundle["predictor"].predict(fallback_vectors(1, context))[0]
            for status, answer in answers:
                assert status == 200, (answer, server.tail())
                assert answer["prediction"] == pytest.approx(expected, rel=1e-9, abs=1e-12)
        else:
            for status, answer in answers:
                assert status == 503, (answer, server.tail())
                assert "feature store is unavailable" in answer["detail"]
        status, answer = _http(server.port, "POST", "/predict", {"features": entity["features"]})
        assert status == 200, (answer, server.tail())
        assert answer["model_version"] == healthy["model_version"]
        assert answer["prediction"] == pytest.approx(healthy["prediction"], rel=1e-9)
{%- if cookiecutter.monitoring %}
        assert _metric(server.port, "feature_store_failures_total", fallback=fallback) == 2
        defaulted = [
            _metric(server.port, "features_defaulted_total", feature=name)
            for name in schema.FALLBACK_VALUES
        ]
        assert defaulted == [2 if fallback == "defaults" else 0] * len(defaulted)
        refused = _metric(
            server.port,
            "predict_errors_total",
            route="/predict",
            reason="feature_store_unavailable",
        )
        assert refused == (2 if fallback == "error" else 0)
{%- endif %}
        [line] = server.lines("the online feature store failed")
        assert "user_features" in line
        documented = _http(server.port, "GET", "/openapi.json")[1]
        answers_503 = documented["paths"]["/predict"]["post"]["responses"]["503"]
        assert "feature_store_fallback" in answers_503["description"]


def _expecting(port: int, body: bytes) -> socket.socket:
    """Send a request's head with ``Expect: 100-continue``; return once the app reads its body.

    The server answers ``100 Continue`` only when the app asks for the body: from then on the
    request is in flight, and it stays there until the test sends the body.
    """
    connection = socket.create_connection((HOST, port), timeout=60)
    head = (
        f"POST /predict HTTP/1.1\r\nhost: {HOST}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nexpect: 100-continue\r\n\r\n"
    )
    connection.sendall(head.encode())
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(4096)
        assert chunk, "the server closed the connection"
        received += chunk
    assert received.startswith(b"HTTP/1.1 100"), received
    return connection


def _answer(connection: socket.socket) -> tuple[int, dict]:
    """Read one HTTP response to its end (the server closes the connection after it)."""
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    connection.close()
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head[9:12]), json.loads(body)


def test_sigterm_answers_the_requests_in_flight_then_exits_0(loop, tmp_path, entity):
    settings = served_copy(loop[0], tmp_path)
    body = json.dumps(entity["body"]).encode()
    with serving(settings) as server:
        assert _http(server.port, "GET", "/ready")[0] == 200, server.tail()
        in_flight = [_expecting(server.port, body) for _ in range(3)]
        server.process.send_signal(signal.SIGTERM)
        for connection in in_flight:
            connection.sendall(body)
        answers = [_answer(connection) for connection in in_flight]
        assert server.process.wait(30) == 0, server.tail()
    assert [status for status, _ in answers] == [200, 200, 200], (answers, server.tail())
    assert all(isinstance(answer["model_version"], int) for _, answer in answers)
    assert len(server.lines("stopped by")) == 1
{%- endif %}
{%- if grpc %}


def test_grpc_without_a_champion_is_unavailable_until_reloaded_and_stops_on_sigterm(
    loop, tmp_path, entity
):
    grpc = pytest.importorskip("grpc")
    pytest.importorskip("grpc_tools")
    from {{ cookiecutter.package_name }}.serving.grpc_server import load_protos

    messages, services = load_protos(loop[0])
    settings = served_copy(loop[0], tmp_path, registry=False)
    ids = {key: entity["body"][key] for key in (schema.USER_KEY, schema.ITEM_KEY)}
    request = messages.PredictRequest(**ids, **entity["body"]["context"])
    with serving(settings, protocol="grpc") as server:
        with grpc.insecure_channel(f"{HOST}:{server.port}") as channel:
            predictor = services.PredictorStub(channel)
            with pytest.raises(grpc.RpcError) as refused:
                predictor.Predict(request, timeout=60)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
            [line] = server.lines(NO_CHAMPION)
            assert "promote" in line

            version = register_champion(loop[0], settings)
            admin = services.AdminStub(channel)
            metadata = (("authorization", f"Bearer {ADMIN_TOKEN}"),)
            reloaded = admin.Reload(messages.ReloadRequest(), metadata=metadata, timeout=60)
            assert reloaded.model_version == version
            assert predictor.Predict(request, timeout=60).model_version == version
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(40) == 0, server.tail()
    assert len(server.lines("stopping: answering the calls in flight")) == 1


@pytest.mark.parametrize("fallback", ["defaults", "error"])
def test_grpc_answers_a_failed_online_store_with_the_configured_fallback(
    loop, tmp_path, entity, fallback
):
    grpc = pytest.importorskip("grpc")
    pytest.importorskip("grpc_tools")
    from {{ cookiecutter.package_name }}.serving.grpc_server import load_protos

    messages, services = load_protos(loop[0])
    settings = served_copy(loop[0], tmp_path)
    ids = {key: entity["body"][key] for key in (schema.USER_KEY, schema.ITEM_KEY)}
    request = messages.PredictRequest(**ids, **entity["body"]["context"])
    with serving(settings, protocol="grpc", FEATURE_STORE_FALLBACK=fallback) as server:
        with grpc.insecure_channel(f"{HOST}:{server.port}") as channel:
            predictor = services.PredictorStub(channel)
            version = predictor.Predict(request, timeout=60).model_version
            break_online_store(settings, "item")
            if fallback == "defaults":
                assert predictor.Predict(request, timeout=60).model_version == version
            else:
                with pytest.raises(grpc.RpcError) as refused:
                    predictor.Predict(request, timeout=60)
                assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
                assert "feature store is unavailable" in refused.value.details()
        [line] = server.lines("the online feature store failed")
        assert "item_features" in line


def test_grpc_sigterm_answers_the_calls_in_flight_refuses_new_ones_then_exits_0(
    loop, tmp_path, entity
):
    """Three calls held inside the server (``tests/grpc_held.py``) when SIGTERM arrives."""
    grpc = pytest.importorskip("grpc")
    pytest.importorskip("grpc_tools")
    import numpy as np

    from {{ cookiecutter.package_name }}.features.store import open_store
    from {{ cookiecutter.package_name }}.serving.grpc_server import load_protos

    messages, services = load_protos(loop[0])
    settings = served_copy(loop[0], tmp_path)
    registry = open_registry(settings)
    version = registry.alias(CHAMPION)
    predictor_model = registry.load(CHAMPION)[0]["predictor"]
    frame = open_store(loop[0]).get_training_frame()
    rows = frame[schema.feature_names()].iloc[:2].to_numpy(dtype=np.float64)
    expected_rows = np.asarray(predictor_model.predict(rows), dtype=np.float64)
    ids = {key: entity["body"][key] for key in (schema.USER_KEY, schema.ITEM_KEY)}
    by_ids = messages.PredictRequest(**ids, **entity["body"]["context"])
    by_features = messages.PredictRequest(features=rows[0].tolist())
    batch = messages.PredictBatchRequest(features=rows.ravel().tolist())
    gate = tmp_path / "gate"
    held = (("x-test-gate", str(gate)),)  # grpc_held.GATE: these calls wait for the file

    def inside() -> list[str]:
        return [line for line in server.lines("held ") if line.startswith("held ")]

    with serving(settings, protocol="grpc", module="grpc_held") as server:
        with grpc.insecure_channel(f"{HOST}:{server.port}") as channel:
            predictor = services.PredictorStub(channel)
            before = predictor.Predict(by_ids, timeout=60)
            in_flight = [
                predictor.Predict.future(by_ids, metadata=held, timeout=60),
                predictor.Predict.future(by_features, metadata=held, timeout=60),
                predictor.PredictBatch.future(batch, metadata=held, timeout=60),
            ]
            _wait_for(lambda: len(inside()) == 3, server)
            server.process.send_signal(signal.SIGTERM)
            _wait_for(lambda: server.lines("shutdown started"), server)

            with grpc.insecure_channel(f"{HOST}:{server.port}") as late:
                with pytest.raises(grpc.RpcError) as refused:
                    services.PredictorStub(late).Predict(by_features, timeout=60)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
            assert not any(call.done() for call in in_flight)
            assert server.process.poll() is None

            gate.touch()
            again, single, packed = [call.result(timeout=60) for call in in_flight]
        assert server.process.wait(40) == 0, server.tail()
    assert sorted(inside()) == ["held predict", "held predict", "held predict_batch"]
    assert again == before and again.model_version == version
    assert single.model_version == packed.model_version == version
    assert single.scores == pytest.approx(expected_rows[0].ravel().tolist(), rel=1e-9)
    assert len(packed.scores) == expected_rows.size
    assert packed.scores == pytest.approx(expected_rows.ravel().tolist(), rel=1e-9)
    assert len(server.lines("stopping: answering the calls in flight")) == 1
{%- endif %}
