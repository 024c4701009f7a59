"""Stream ingestion: consume user-activity events and keep online features fresh.

Reads the JSON-lines event log ``raw/events.jsonl`` with an offset committed after each batch
(``stream/offsets.json``), or a Kafka topic when ``stream_engine=kafka``. Valid events
update the online store and land once in ``stream/sink.db`` (keyed by event id); malformed
ones go to the dead-letter store. A crash re-reads at most one uncommitted batch, which the
sink deduplicates.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd

from .. import schema
from ..features.store import BuiltinStore
from ..settings import Settings
from . import dead_letter

ACTIVITY = f"{schema.USER_ENTITY}_activity_7d"
FIELDS = {schema.EVENT_KEY: str, schema.USER_KEY: int, schema.EVENT_TIME: float, ACTIVITY: float}


def parse_event(line: str) -> tuple[dict | None, str | None]:
    """Return ``(event, None)`` for a valid line, else ``(None, reason)``."""
    try:
        event = json.loads(line)
    except json.JSONDecodeError as error:
        return None, f"invalid JSON: {error.msg}"
    if not isinstance(event, dict):
        return None, "event is not an object"
    for name, kind in FIELDS.items():
        value = event.get(name)
        if value is None or isinstance(value, bool) or not isinstance(value, (kind, int)):
            return None, f"missing or invalid {name}"
    if event[schema.USER_KEY] < 0 or event[ACTIVITY] < 0:
        return None, f"negative {schema.USER_KEY} or {ACTIVITY}"
    return {name: kind(event[name]) for name, kind in FIELDS.items()}, None


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
    if settings.stream_engine == "kafka":
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


def consume_kafka(
    settings: Settings, store: BuiltinStore, batch_size: int, max_events: int | None
) -> dict:
    """Consume the Kafka topic, committing offsets only after a batch is applied."""
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": settings.kafka_group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([settings.kafka_topic])
    totals = {"accepted": 0, "rejected": 0, "added": 0}
    try:
        while max_events is None or totals["accepted"] + totals["rejected"] < max_events:
            messages = consumer.consume(batch_size, timeout=1.0)
            if not messages:
                break
            lines = [m.value().decode("utf-8", "replace") for m in messages if m.error() is None]
            for name, value in process(settings, store, lines).items():
                totals[name] += value
            consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    return totals
{%- endif %}
