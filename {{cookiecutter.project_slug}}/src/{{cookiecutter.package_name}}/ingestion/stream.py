"""Stream ingestion: consume user-activity events and keep online features fresh.

Reads the JSON-lines event log ``raw/events.jsonl`` with an offset committed after each batch
(``stream/offsets.json``){% if cookiecutter.stream_engine in ['kafka', 'flink'] %}, or the Kafka topic ``kafka_topic`` when ``stream_engine`` is
``kafka`` or ``flink`` (consumed with confluent-kafka; ``publish`` feeds it the log){% endif %}.
{%- if cookiecutter.stream_engine == 'flink' %}
The PyFlink job (``flink_job.py``) runs the same transformation as a Flink job;
``apply_flink_output`` loads what it wrote.{% endif %}
Valid events update the online store and land once in ``stream/sink.db`` (keyed by event id){% if cookiecutter.contains_pii %},
their person ids pseudonymized first (``privacy.py``){% endif %};
malformed ones go to the
dead-letter store. Offsets are committed only after a batch is applied, so a crash re-reads at
most one batch, which the sink deduplicates.
"""

from __future__ import annotations

import json
import os
import sqlite3
{%- if cookiecutter.stream_engine in ['kafka', 'flink'] %}
import time
{%- endif %}
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd

from .. import schema
from ..features.store import BuiltinStore
from ..privacy import Pseudonymizer
from ..settings import Settings
from . import dead_letter
from .events import ACTIVITY, FIELDS, parse_event


class OffsetStore:
    """Committed read positions per source, written atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def get(self, source: str) -> int:
        if not self.path.exists():
            return 0
        return int(json.loads(self.path.read_text()).get(source, 0))

    def commit(self, source: str, offset: int) -> None:
        offsets = json.loads(self.path.read_text()) if self.path.exists() else {}
        offsets[source] = offset
        partial = self.path.with_suffix(".tmp")
        partial.write_text(json.dumps(offsets))
        os.replace(partial, self.path)


def read_log(path: Path, start: int) -> Iterator[tuple[int, str]]:
    """Yield ``(offset, line)`` from line ``start`` of a JSON-lines log."""
    with path.open(encoding="utf-8") as handle:
        for offset, line in enumerate(handle):
            if offset >= start and line.strip():
                yield offset, line


def sink_events(settings: Settings, events: list[dict]) -> int:
    """Insert events into the sink, ignoring event ids already there; return rows added."""
    with sqlite3.connect(settings.directory("stream") / "sink.db") as con:
        columns = ", ".join(FIELDS)
        con.execute(
            f"CREATE TABLE IF NOT EXISTS events ({columns}, PRIMARY KEY ({schema.EVENT_KEY}))"
        )
        before = con.total_changes
        con.executemany(
            f"INSERT OR IGNORE INTO events ({columns}) VALUES ({', '.join('?' * len(FIELDS))})",
            [tuple(event[name] for name in FIELDS) for event in events],
        )
        return con.total_changes - before


def sink_count(settings: Settings) -> int:
    with sqlite3.connect(settings.directory("stream") / "sink.db") as con:
        con.execute(f"CREATE TABLE IF NOT EXISTS events ({', '.join(FIELDS)})")
        return int(con.execute("SELECT count(*) FROM events").fetchone()[0])


def process(settings: Settings, store: BuiltinStore, lines: Iterable[str]) -> dict[str, int]:
    """Validate one batch, apply it to the online store and the sink; return counts."""
    good, bad = [], []
    for line in lines:
        event, reason = parse_event(line)
        if event is None:
            bad.append({"record": line.strip()[:1000], dead_letter.REASON: reason})
        else:
            good.append(event)
    if good:
        keys = Pseudonymizer(settings).ids(event[schema.USER_KEY] for event in good)
        for event, key in zip(good, keys, strict=True):
            event[schema.USER_KEY] = key
        latest = pd.DataFrame(good).sort_values(schema.EVENT_TIME)
        latest = latest.drop_duplicates(schema.USER_KEY, keep="last")
        store.update_online("user", latest[[schema.USER_KEY, ACTIVITY]])
    if bad:
        dead_letter.write(settings, "stream", pd.DataFrame(bad))
    return {"accepted": len(good), "rejected": len(bad), "added": sink_events(settings, good)}


def consume(
    settings: Settings, store: BuiltinStore, batch_size: int = 100, max_events: int | None = None
) -> dict:
    """Consume from the committed offset to the end of the log (or ``max_events``)."""
{%- if cookiecutter.stream_engine in ['kafka', 'flink'] %}
    if settings.stream_engine in ("kafka", "flink"):
        return consume_kafka(settings, store, batch_size, max_events)
{%- endif %}
    log = settings.directory("raw") / "events.jsonl"
    offsets = OffsetStore(settings.directory("stream") / "offsets.json")
    totals = {"accepted": 0, "rejected": 0, "added": 0}
    batch: list[tuple[int, str]] = []
    start = offsets.get(log.name)
    for offset, line in read_log(log, start):
        if max_events is not None and offset - start >= max_events:
            break
        batch.append((offset, line))
        if len(batch) == batch_size:
            _apply(settings, store, batch, offsets, log.name, totals)
            batch = []
    if batch:
        _apply(settings, store, batch, offsets, log.name, totals)
    return {**totals, "offset": offsets.get(log.name)}


def _apply(
    settings: Settings,
    store: BuiltinStore,
    batch: list[tuple[int, str]],
    offsets: OffsetStore,
    source: str,
    totals: dict,
) -> None:
    counts = process(settings, store, [line for _, line in batch])
    offsets.commit(source, batch[-1][0] + 1)
    for name, value in counts.items():
        totals[name] += value
{%- if cookiecutter.stream_engine in ['kafka', 'flink'] %}


class KafkaProgress:
    """Partitions a group consumer was assigned, those it read to the end, and its last error."""

    def __init__(self) -> None:
        self.joined = False
        self.assigned: set[tuple[str, int]] = set()
        self.ended: set[tuple[str, int]] = set()
        self.last_error = ""

    @property
    def done(self) -> bool:
        return self.joined and self.ended >= self.assigned

    def assign(self, _consumer, partitions: list) -> None:
        self.joined = True
        self.assigned |= {(p.topic, p.partition) for p in partitions}

    def revoke(self, _consumer, partitions: list) -> None:
        gone = {(p.topic, p.partition) for p in partitions}
        self.assigned -= gone
        self.ended -= gone

    def error(self, error) -> None:
        self.last_error = error.str()

    def is_record(self, message) -> bool:
        """Return True for a record; note end-of-partition events, raise fatal errors."""
        from confluent_kafka import KafkaError, KafkaException

        error = message.error()
        partition = (message.topic(), message.partition())
        if error is None:
            self.ended.discard(partition)
            return True
        if error.code() == KafkaError._PARTITION_EOF:
            self.ended.add(partition)
        elif error.fatal():
            raise KafkaException(error)
        else:
            self.error(error)
        return False


def consume_kafka(
    settings: Settings, store: BuiltinStore, batch_size: int = 100, max_events: int | None = None
) -> dict:
    """Consume the topic up to the end of every assigned partition (or ``max_events``).

    An empty poll is not the end: joining the consumer group can take seconds. The run ends when
    each partition this consumer was assigned reports end-of-partition, or after
    ``kafka_timeout_s``; it fails if no assignment arrived by then. Offsets are committed after
    each batch is applied (at-least-once).
    """
    from confluent_kafka import Consumer

    progress = KafkaProgress()
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": settings.kafka_group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": True,
            "session.timeout.ms": settings.kafka_session_timeout_ms,
            "error_cb": progress.error,
        }
    )
    consumer.subscribe([settings.kafka_topic], on_assign=progress.assign, on_revoke=progress.revoke)
    totals = {"accepted": 0, "rejected": 0, "added": 0}
    read = 0
    deadline = time.monotonic() + settings.kafka_timeout_s
    try:
        while not progress.done and (max_events is None or read < max_events):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            wanted = batch_size if max_events is None else min(batch_size, max_events - read)
            messages = consumer.consume(wanted, timeout=min(1.0, left))
            batch = [message for message in messages if progress.is_record(message)]
            if batch:
                counts = process(settings, store, [_text(message.value()) for message in batch])
                commit_offsets(consumer, batch)
                read += len(batch)
                for name, value in counts.items():
                    totals[name] += value
        position = {"partitions": len(progress.assigned), "at_end": progress.done}
    finally:
        consumer.close()
    if not progress.joined:
        reason = f" (last error: {progress.last_error})" if progress.last_error else ""
        raise TimeoutError(
            f"no partition of {settings.kafka_topic} assigned within {settings.kafka_timeout_s:g} s"
            f" from {settings.kafka_bootstrap}{reason}: check kafka_bootstrap and the topic"
        )
    return {**totals, **position}


def _text(value: bytes | None) -> str:
    return "" if value is None else value.decode("utf-8", "replace")


def commit_offsets(consumer, messages: list) -> None:
    """Commit, synchronously, the offset after the last of ``messages`` in each partition."""
    from confluent_kafka import TopicPartition

    following: dict[tuple[str, int], int] = {}
    for message in messages:
        key = (message.topic(), message.partition())
        following[key] = max(following.get(key, 0), message.offset() + 1)
    offsets = [TopicPartition(topic, part, offset) for (topic, part), offset in following.items()]
    consumer.commit(offsets=offsets, asynchronous=False)


def publish(settings: Settings, lines: Iterable[str] | None = None) -> dict:
    """Produce ``lines`` (default: the log ``raw/events.jsonl``) to the topic; return counts.

    Each event is keyed by its user id, so one user's events stay in order on one partition;
    malformed lines are sent unkeyed (the consumer dead-letters them).
    """
    from confluent_kafka import Producer

    if lines is None:
        log = settings.directory("raw") / "events.jsonl"
        lines = (line for _, line in read_log(log, 0))
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "acks": "all"})
    failures: list[str] = []

    def delivered(error, _message) -> None:
        if error is not None:
            failures.append(error.str())

    sent = 0
    for line in lines:
        event, _ = parse_event(line)
        key = None if event is None else str(event[schema.USER_KEY]).encode()
        while True:
            try:
                producer.produce(
                    settings.kafka_topic, line.rstrip("\n").encode(), key, on_delivery=delivered
                )
                break
            except BufferError:
                producer.poll(0.1)
        sent += 1
    undelivered = producer.flush(settings.kafka_timeout_s)
    if undelivered or failures:
        reason = failures[0] if failures else f"{undelivered} still queued"
        raise RuntimeError(
            f"{undelivered + len(failures)} of {sent} events not delivered to "
            f"{settings.kafka_topic} at {settings.kafka_bootstrap}: {reason}"
        )
    return {"published": sent, "topic": settings.kafka_topic}
{%- endif %}
{%- if cookiecutter.stream_engine == 'flink' %}


def _json_parts(folder: Path) -> pd.DataFrame:
    """Return the rows of a Flink filesystem sink folder (JSON-lines part files)."""
    rows = []
    for part in sorted(folder.glob("part-*")) if folder.is_dir() else []:
        text = part.read_text(encoding="utf-8")
        rows += [json.loads(line) for line in text.splitlines() if line.strip()]
    return pd.DataFrame(rows)


def apply_flink_output(
    settings: Settings, store: BuiltinStore, output: Path | None = None
) -> dict[str, int]:
    """Load the Flink job's sinks (``stream/flink``) into the online store, sink, dead letters."""
    output = output or settings.directory("stream", "flink")
    latest, events, bad = (_json_parts(output / n) for n in ("latest", "events", "dead_letters"))
    latest, events = (Pseudonymizer(settings).frame(frame) for frame in (latest, events))
    if len(latest):
        store.update_online("user", latest[[schema.USER_KEY, ACTIVITY]])
    if len(bad):
        dead_letter.write(settings, "stream", bad[["record", dead_letter.REASON]])
    good = events.to_dict("records") if len(events) else []
    return {"accepted": len(good), "rejected": len(bad), "added": sink_events(settings, good)}
{%- endif %}
