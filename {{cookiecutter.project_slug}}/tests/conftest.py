{%- set servers = cookiecutter.stream_engine in ['kafka', 'flink'] or cookiecutter.feature_store == 'feast' -%}
"""Shared fixtures: small settings under a temporary folder, data, features and a full loop.
{%- if servers %}

``local_server`` runs a real server (a Kafka-protocol broker, Redis) on 127.0.0.1 for the tests
that need one, and always stops it.
{% endif %}"""

from __future__ import annotations
{%- set orchestrated = cookiecutter.orchestrator != 'none' %}
{%- set scripted = cookiecutter.orchestrator in ['airflow', 'prefect'] %}
{%- set processes = servers or cookiecutter.serving != 'none' %}
{%- if processes or orchestrated %}
{{ '' }}
{%- endif %}
{%- if servers %}
import contextlib
{%- endif %}
{%- if orchestrated %}
import json
{%- endif %}
{%- if orchestrated or servers %}
import os
{%- endif %}
{%- if processes %}
import signal
{%- endif %}
{%- if servers %}
import socket
{%- endif %}
{%- if processes or scripted %}
import subprocess
{%- endif %}
{%- if scripted %}
import sys
{%- endif %}
{%- if servers %}
import time
from collections.abc import Iterator
from pathlib import Path
{%- endif %}

import numpy as np
import pytest

from {{ cookiecutter.package_name }} import schema
from {{ cookiecutter.package_name }}.data.synthetic import generate
from {{ cookiecutter.package_name }}.features.store import (
    BuiltinStore,
    open_store,
)
from {{ cookiecutter.package_name }}.ingestion.batch import ingest
from {{ cookiecutter.package_name }}.pipelines.run import run_all
{%- if orchestrated %}
from {{ cookiecutter.package_name }}.registry.registry import open_registry
{%- endif %}
from {{ cookiecutter.package_name }}.settings import (
    ENV_PREFIX,
    Settings,
    load_settings,
)

SMALL = {"n_users": 200, "n_items": 60, "n_events": 4000, "seed": 3, "evidently_report": False}
{%- if cookiecutter.serving != 'none' %}
API_KEY = "test-api-key-0123456789"  # pragma: allowlist secret
ADMIN_TOKEN = "test-admin-token-0123456789"  # pragma: allowlist secret


def with_tokens(settings: Settings, auth_required: bool = True, **overrides) -> Settings:
    """Return ``settings`` holding the test API key and admin token (keys needed unless told)."""
    from pydantic import SecretStr

    tokens = {"api_keys": SecretStr(API_KEY), "admin_token": SecretStr(ADMIN_TOKEN)}
    return settings.model_copy(update={"auth_required": auth_required, **tokens, **overrides})
{%- endif %}


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ignore the developer's environment variables that start with ``ENV_PREFIX``."""
    import os

    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)


def small_settings(folder, **overrides) -> Settings:
    return load_settings(env="local", var_dir=folder / "var", **{**SMALL, **overrides})


@pytest.fixture
def settings(tmp_path) -> Settings:
    return small_settings(tmp_path)


@pytest.fixture
def ingested(settings: Settings) -> Settings:
    generate(settings)
    ingest(settings)
    return settings


@pytest.fixture
def materialized(ingested: Settings):
    store = open_store(ingested)
    store.materialize()
    return store


def assert_online_equals_training(store: BuiltinStore) -> None:
    """The vectors served online equal the training vectors of the same rows (no skew)."""
    frame = store.get_training_frame()
    rows = frame.sample(25, random_state=0)
    context = {name: rows[name].tolist() for name in schema.CONTEXT_DEFAULTS}
    online = store.get_online_features(
        rows[schema.USER_KEY].tolist(), rows[schema.ITEM_KEY].tolist(), context
    )
    assert list(online.columns) == schema.feature_names()
    offline = rows[schema.feature_names()].to_numpy()
    np.testing.assert_allclose(online.to_numpy(), offline, rtol=1e-12)


def write_aggregation_case(settings: Settings) -> dict[int, tuple[float, float]]:
    """Write tiny clean items and events; return item id -> expected (events, distinct users).

    The newest event is at ``as_of``; events exactly ``AGGREGATION_WINDOW_DAYS`` before it are
    outside the window, one second later inside; a user's repeat counts once as a user.
    """
    import pandas as pd

    from {{ cookiecutter.package_name }}.ingestion.batch import clean_path

    as_of = 1_700_000_000.0
    start = as_of - schema.AGGREGATION_WINDOW_DAYS * 86_400
    rows = [  # (item, user, event time)
        (0, 1, as_of),
        (0, 1, start + 1),
        (0, 2, start),
        (1, 3, as_of - 1),
        (1, 4, start - 100),
        (3, 5, start),
    ]
    events = pd.DataFrame(
        {
            schema.EVENT_KEY: [f"e{k}" for k in range(len(rows))],
            schema.ITEM_KEY: [row[0] for row in rows],
            schema.USER_KEY: [row[1] for row in rows],
            schema.EVENT_TIME: [row[2] for row in rows],
        }
    )
    items = pd.DataFrame(
        {
            schema.ITEM_KEY: [0, 1, 2, 3],
            **{name: [1.0, 2.0, 3.0, 4.0] for name in schema.entity_features("item")},
        }
    )
    events.to_parquet(clean_path(settings, "events"), index=False)
    items.to_parquet(clean_path(settings, "items"), index=False)
    return {0: (2.0, 1.0), 1: (1.0, 1.0), 2: (0.0, 0.0), 3: (0.0, 0.0)}


def assert_item_aggregates(store: BuiltinStore, expected: dict[int, tuple[float, float]]) -> None:
    """The offline item table holds the expected window counts, as float64, entity columns kept."""
    import pandas as pd

    frame = pd.read_parquet(store.offline_path("item")).sort_values(schema.ITEM_KEY)
    events, users = (f.name for f in schema.aggregated_features("item"))
    assert frame[schema.ITEM_KEY].tolist() == list(expected)
    assert list(zip(frame[events], frame[users], strict=True)) == list(expected.values())
    names = schema.feature_names("item")
    assert list(frame.columns[1 : len(names) + 1]) == names
    assert (frame[names].dtypes == "float64").all()
    assert frame[schema.entity_features("item")[0]].tolist() == [1.0, 2.0, 3.0, 4.0]


@pytest.fixture(scope="session")
def loop(tmp_path_factory) -> tuple[Settings, dict]:
    """Settings and report of one full run of the loop, shared by read-only tests."""
    settings = small_settings(tmp_path_factory.mktemp("loop"))
    return settings, run_all(settings)
{%- if cookiecutter.experiment == 'shadow' %}


class BlockingChallenger:
    """A shadow model that says when it starts scoring, then waits for ``release`` (or raises)."""

    def __init__(self, fail: bool = False, value: float = 0.123) -> None:
        import threading

        self.started = threading.Event()
        self.release = threading.Event()
        self.fail = fail
        self.value = value
        self.calls = 0

    def predict(self, vectors: np.ndarray) -> np.ndarray:
        from {{ cookiecutter.package_name }}.experiments.shadow import n_outputs

        self.calls += 1
        self.started.set()
        if not self.release.wait(timeout=60):
            raise TimeoutError("the test never released the shadow model")
        if self.fail:
            raise RuntimeError("the shadow model is broken")
        return np.full((len(vectors), n_outputs()), self.value)


def with_challenger(service, predictor, version_offset: int = 1000) -> None:
    """Serve ``predictor`` as the challenger next to the loaded champion."""
    from {{ cookiecutter.package_name }}.serving.core import LoadedModel, Models

    champion = service.models.serving()
    challenger = LoadedModel(champion.version + version_offset, predictor, {})
    service.models = Models(champion, challenger)
{%- endif %}
{%- if cookiecutter.orchestrator != 'none' %}


def orchestrator_required() -> bool:
    """Whether a missing orchestrator library fails its tests instead of skipping them."""
    return os.environ.get("MLSD_REQUIRE_TOOLS") == "1"


def step_environment(folder) -> dict:
    """The settings of the steps as environment variables: small data under ``folder``."""
    values = {"VAR_DIR": folder / "var", **{key.upper(): value for key, value in SMALL.items()}}
    return {f"{ENV_PREFIX}{key}": str(value) for key, value in values.items()}


def make_unbeatable(settings, version: int) -> None:
    """Give ``version`` a metric no retrained model reaches, so the next one must not replace it."""
    registry = open_registry(settings)
{%- if cookiecutter.registry == 'mlflow' %}
    info = registry.metadata(version)
{%- else %}
    path = registry.root / f"v{version}" / "metadata.json"
    info = json.loads(path.read_text())
{%- endif %}
    metrics = info["metrics"]
    metrics["model"] = 1e9 if metrics.get("higher_is_better", True) else -1e9
{%- if cookiecutter.registry == 'mlflow' %}
    registry.client.set_model_version_tag(registry.name, str(version), "metadata", json.dumps(info))
{%- else %}
    path.write_text(json.dumps(info))
{%- endif %}
{%- if scripted %}


def run_script(script: str, env: dict, *args: str) -> dict:
    """Run ``script`` in a fresh interpreter; return the JSON it prints after ``RESULT``."""
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, (done.stdout + done.stderr)[-4000:]
    return json.loads(lines[-1][len("RESULT ") :])
{%- endif %}
{%- endif %}
{%- if processes %}


def stop_process(
    process: subprocess.Popen, stop_signal: int = signal.SIGTERM, grace_s: float = 20.0
) -> int:
    """Stop ``process`` if it still runs: ``stop_signal``, then SIGKILL after ``grace_s``.

    Always reaps it; returns its exit code (negative: the signal that ended it).
    """
    if process.poll() is None:
        process.send_signal(stop_signal)
        try:
            return process.wait(grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()
{%- endif %}
{%- if servers %}


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def local_server(
    command: list[str], port: int, log: Path, timeout_s: float = 20.0
) -> Iterator[None]:
    """Run ``command`` for the block, entered once it accepts connections on 127.0.0.1:``port``.

    The listener must be the command's own: a port probed free and handed over can be taken by
    another test's server first, and that stranger would answer. Its output goes to ``log``. On
    exit it gets SIGINT, then SIGKILL after 5 s, and is reaped.
    """
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + timeout_s
        while not (_accepts(port) and _holds_listener(process.pid, port) is not False):
            if process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited with {process.returncode}: {_tail(log)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{command[0]} not listening on {port} after {timeout_s:g} s")
            time.sleep(0.05)
        yield
    finally:
        stop_process(process, signal.SIGINT, grace_s=5.0)


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:]


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


def _holds_listener(pid: int, port: int) -> bool | None:
    """Whether process ``pid`` holds the socket listening on ``port`` (None: /proc cannot tell)."""
    tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
    if not tables[0].exists():
        return None
    inodes = set()
    for table in (t for t in tables if t.exists()):
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()  # local address is fields[1] (hex ip:port), state 0A is LISTEN
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    try:
        descriptors = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    for descriptor in descriptors:
        try:
            if os.readlink(f"/proc/{pid}/fd/{descriptor}") in inodes:
                return True
        except OSError:
            continue
    return False
{%- endif %}
