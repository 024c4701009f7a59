"""The Feast feature store with its online store on a real Redis server on 127.0.0.1.

One ``redis-server`` from PATH (no persistence) runs for the session on a free port; each test
empties database 1 and points ``redis_url`` at it. Skipped when ``redis-server`` is not
installed (``apt-get install redis-server``, ``brew install redis``).
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator

import pandas as pd
import pytest

from {{ cookiecutter.package_name }} import {{ 'privacy, ' if cookiecutter.stream_engine != 'none' }}schema
from {{ cookiecutter.package_name }}.data.synthetic import generate
from {{ cookiecutter.package_name }}.features.store import (
    BuiltinStore,
    UnknownEntityError,
    open_store,
    redis_connection_string,
)
from {{ cookiecutter.package_name }}.ingestion.batch import ingest

from conftest import assert_online_equals_training, free_port, local_server, small_settings

DATABASE = 1


@pytest.fixture(scope="session")
def redis_port(tmp_path_factory) -> Iterator[int]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip(
            "redis-server is not on PATH: apt-get install redis-server (or brew install redis)"
        )
    folder = tmp_path_factory.mktemp("redis")
    port = free_port()
    command = [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(folder)]
    with local_server([*command, "--save", "", "--appendonly", "no"], port, folder / "log"):
        yield port


def test_a_server_whose_port_another_process_holds_is_not_taken_for_started(tmp_path):
    """The listener must be the started server's own, not a stranger's on the same port."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not on PATH")
    with socket.socket() as stranger:
        stranger.bind(("127.0.0.1", 0))
        stranger.listen()
        port = stranger.getsockname()[1]
        command = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
        with pytest.raises(RuntimeError, match="exited"):
            with local_server(command, port, tmp_path / "log", timeout_s=10.0):
                pytest.fail("entered while another process held the port")


@pytest.fixture
def redis_url(redis_port: int) -> str:
    import redis

    url = f"redis://127.0.0.1:{redis_port}/{DATABASE}"
    with redis.Redis.from_url(url) as client:
        client.flushdb()
    return url


@pytest.fixture
def redis_store(tmp_path, redis_url: str) -> BuiltinStore:
    """A Feast store on Redis, materialized from freshly ingested small data."""
    settings = small_settings(tmp_path, online_store="redis", redis_url=redis_url)
    generate(settings)
    ingest(settings)
    store = open_store(settings)
    store.materialize()
    return store


def test_online_vector_from_redis_equals_the_offline_training_vector(redis_store, redis_url):
    import redis

    assert_online_equals_training(redis_store)
    with redis.Redis.from_url(redis_url) as client:
        assert client.dbsize() == redis_store.settings.n_users + redis_store.settings.n_items
    assert not (redis_store.settings.var / "feast" / "online.db").exists()


def test_rematerialized_features_replace_the_values_in_redis(redis_store):
    clean = redis_store.settings.directory("clean") / "users.parquet"
    users = pd.read_parquet(clean)
    first = schema.feature_names("user")[0]
    users[first] = users[first] + 1.0
    users.to_parquet(clean, index=False)
    redis_store.materialize()
    assert_online_equals_training(redis_store)


def test_unknown_entity_is_refused_by_redis(redis_store):
    with pytest.raises(UnknownEntityError):
        redis_store.online_vectors([10**9], [0])
{%- if cookiecutter.stream_engine != 'none' %}


def test_consumed_events_update_features_in_redis(redis_store):
    from {{ cookiecutter.package_name }}.ingestion.stream import (
        ACTIVITY,
        consume,
        parse_event,
    )

    settings = redis_store.settings
    consume(settings, redis_store)
    latest: dict[int, float] = {}
    for line in (settings.directory("raw") / "events.jsonl").read_text().splitlines():
        event, _ = parse_event(line)
        if event is not None:
            latest[event[schema.USER_KEY]] = event[ACTIVITY]
    users = sorted(latest)
    keys = privacy.Pseudonymizer(settings).ids(users)  # the log has raw ids, the store keys
    assert redis_store.lookup("user", keys)[ACTIVITY].tolist() == [latest[u] for u in users]
{%- endif %}


def test_redis_url_becomes_feast_connection_options():
    assert redis_connection_string("redis://cache:6380/2") == "cache:6380,db=2"
    assert redis_connection_string("rediss://:p%40ss@cache") == (
        "cache:6379,db=0,password=p@ss,ssl=true"
    )
    with pytest.raises(ValueError, match="redis_url"):
        redis_connection_string("cache:6379")
