"""Stream ingestion: consume user-activity events and keep online features fresh.

Reads the JSON-lines event log ``raw/events.jsonl`` with an offset committed after each batch
(``stream/offsets.json``){% if cookiecutter.stream_engine in ['kafka', 'flink'] %}, or the Kafka topic ``kafka_topic`` when ``stream_engine`` is
``kafka`` or ``flink`` (consumed with confluent-kafka; ``publish`` feeds it the log){% endif %}.
{%- if cookiecutter.stream_engine == 'flink' %}
The PyFlink job (``flink_job.py``) runs the same transformation as a Flink job;
``apply_flink_output`` loads what it wrote.{% endif %}
Valid events of known users update the online store (only where newer than the user's last
applied event time) and land once in ``stream/sink.db`` (keyed by event id){% if cookiecutter.contains_pii %},
their person ids pseudonymized first (``privacy.py``){% endif %}. Malformed events and
events of users the online store does not know go to the dead-letter store with the reason
{%- if cookiecutter.stream_engine in ['kafka', 'flink'] %}
(with Kafka: the topic ``kafka_dead_letter_topic``, default ``<kafka_topic>.dlq``, the reason and
the source topic, partition and offset in headers){% endif %}.
``replay_dead_letters`` runs dead letters through validation again. Offsets are committed only
after a batch is applied, so a crash re-reads at most one batch, which the sink deduplicates.

``follow=True`` keeps consuming (polling every ``stream_poll_s``) until SIGTERM or SIGINT, then
finishes the batch in hand, commits its offsets and returns.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import threading
{%- if cookiecutter.stream_engine in ['kafka', 'flink'] %}
import time
{%- endif %}
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pandas as pd

from .. import schema
from ..features.store import BuiltinStore
from ..privacy import Pseudonymizer
from ..settings import Settings
from . import dead_letter
from .events import ACTIVITY, FIELDS, parse_event

TABLE = "stream"
"""The dead-letter table of the local event log (and of the Flink job's rejects)."""


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


@contextlib.contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """Yield an event that SIGTERM or SIGINT sets (handlers restored afterwards).

    Outside the main thread no handler can be installed: the event is only set by its owner.
    """
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    for sig in previous:
        signal.signal(sig, lambda *_: stop.set())
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class LogCursor:
    """Where the previous read of a log stopped: line number, byte position and file identity.

    A follow loop hands it back to ``read_log`` so each poll reads only what was appended,
    instead of the whole log from its first line. A log replaced (``purge``) or cut shorter is
    read from its start again.
    """

    __slots__ = ("byte", "file", "line")

    def __init__(self) -> None:
        self.line, self.byte, self.file = 0, 0, (0, 0)

    def seek(self, handle, start: int) -> int:
        """Position ``handle`` at or before line ``start``; return the line number it is at."""
        stat = os.fstat(handle.fileno())
        same_file = (stat.st_dev, stat.st_ino) == self.file and self.byte <= stat.st_size
        if same_file and self.line <= start:
            handle.seek(self.byte)
            return self.line
        self.line, self.byte, self.file = 0, 0, (stat.st_dev, stat.st_ino)
        return 0


def read_log(
    path: Path, start: int, complete_only: bool = False, cursor: LogCursor | None = None
) -> Iterator[tuple[int, str]]:
    """Yield ``(offset, line)`` from line ``start`` of a JSON-lines log.

    ``complete_only`` skips a last line without its newline (a writer is still appending it).
    ``cursor`` (kept by the caller between reads) starts where the previous read stopped.
    """
    if not path.exists():
        return
    cursor = cursor or LogCursor()
    with path.open("rb") as handle:
        offset = cursor.seek(handle, start)
        for raw in iter(handle.readline, b""):
            if complete_only and not raw.endswith(b"\n"):
                return
            cursor.line, cursor.byte = offset + 1, cursor.byte + len(raw)
            if offset >= start and raw.strip():
                yield offset, raw.decode("utf-8", errors="replace")
            offset += 1


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


def validate(
    store: BuiltinStore, lines: list[str], pseudonyms: Pseudonymizer | None = None
) -> tuple[list[dict], dict[int, str]]:
    """Return the valid events of known users and ``{position: reason}`` for the others.

    ``pseudonyms``: the events carry raw person ids, replaced by their pseudonyms (the keys the
    online store holds) before the check; without it they already are keys.
    """
    good: list[tuple[int, dict]] = []
    bad: dict[int, str] = {}
    for position, line in enumerate(lines):
        event, reason = parse_event(line)
        if event is None:
            bad[position] = reason
        else:
            good.append((position, event))
    raw = [event[schema.USER_KEY] for _, event in good]
    if pseudonyms is not None:
        for (_, event), key in zip(good, pseudonyms.ids(raw), strict=True):
            event[schema.USER_KEY] = key
    known = store.known("user", [event[schema.USER_KEY] for _, event in good])
    for (position, event), sent in zip(good, raw, strict=True):
        if event[schema.USER_KEY] not in known:
            bad[position] = f"unknown {schema.USER_KEY} {sent}"
    return [event for position, event in good if position not in bad], bad


def apply_events(settings: Settings, store: BuiltinStore, events: list[dict]) -> dict[str, int]:
    """Apply valid events: the newest per user to the online store, all to the sink."""
    updated = 0
    if events:
        latest = pd.DataFrame(events).sort_values(schema.EVENT_TIME, kind="stable")
        latest = latest.drop_duplicates(schema.USER_KEY, keep="last")
        rows = latest[[schema.USER_KEY, ACTIVITY]]
        updated = store.update_online("user", rows, latest[schema.EVENT_TIME].tolist())
    return {"accepted": len(events), "added": sink_events(settings, events), "updated": updated}


Reject = Callable[[dict[int, str]], None]
"""Takes ``{position in the batch: reason}`` and stores those records as dead letters."""


def local_reject(settings: Settings, lines: list[str]) -> Reject:
    """Return a ``Reject`` writing ``lines[position]`` to the local dead-letter store."""

    def reject(bad: dict[int, str]) -> None:
        rows = [{"record": lines[k].strip()[:1000], dead_letter.REASON: r} for k, r in bad.items()]
        dead_letter.write(settings, TABLE, pd.DataFrame(rows))

    return reject


def process(
    settings: Settings, store: BuiltinStore, lines: Iterable[str], reject: Reject | None = None
) -> dict[str, int]:
    """Validate one batch, apply it to the online store and the sink; return counts."""
    lines = list(lines)
    good, bad = validate(store, lines, Pseudonymizer(settings))
    if bad:
        (reject or local_reject(settings, lines))(bad)
    return {**apply_events(settings, store, good), "rejected": len(bad)}


def _add(totals: dict[str, int], counts: dict[str, int]) -> None:
    for name, value in counts.items():
        totals[name] = totals.get(name, 0) + value


def consume(
    settings: Settings,
    store: BuiltinStore,
    batch_size: int = 100,
    max_events: int | None = None,
    follow: bool = False,
    stop: threading.Event | None = None,
) -> dict:
    """Consume from the committed offset to the end of the log (or ``max_events``).

    ``follow``: keep polling for new events until ``stop`` is set (by default: on SIGTERM or
    SIGINT); the batch in hand is finished and committed first.
    """
    if follow and stop is None:
        with stop_on_signals() as stop:
            return consume(settings, store, batch_size, max_events, follow, stop)
    stop = stop or threading.Event()
{%- if cookiecutter.stream_engine in ['kafka', 'flink'] %}
    if settings.stream_engine in ("kafka", "flink"):
        return consume_kafka(settings, store, batch_size, max_events, follow, stop)
{%- endif %}
    log = settings.directory("raw") / "events.jsonl"
    offsets = OffsetStore(settings.directory("stream") / "offsets.json")
    totals = {"accepted": 0, "rejected": 0, "added": 0, "updated": 0}
    start, cursor = offsets.get(log.name), LogCursor()
    while True:
        read = _consume_log(
            settings, store, log, offsets, batch_size, max_events, start, totals, cursor
        )
        if not follow or stop.is_set() or read == "limit":
            break
        if read == "idle":
            stop.wait(settings.stream_poll_s)
    return {**totals, "offset": offsets.get(log.name)}


def _consume_log(
    settings: Settings,
    store: BuiltinStore,
    log: Path,
    offsets: OffsetStore,
    batch_size: int,
    max_events: int | None,
    start: int,
    totals: dict,
    cursor: LogCursor,
) -> str:
    """Apply the log's new lines batch by batch; return ``idle``, ``read`` or ``limit``."""
    batch: list[tuple[int, str]] = []
    state = "idle"
    for offset, line in read_log(log, offsets.get(log.name), complete_only=True, cursor=cursor):
        if max_events is not None and offset - start >= max_events:
            state = "limit"
            break
        batch.append((offset, line))
        if len(batch) == batch_size:
            _apply(settings, store, batch, offsets, log.name, totals)
            batch, state = [], "read"
    if batch:
        _apply(settings, store, batch, offsets, log.name, totals)
        state = "read" if state == "idle" else state
    return state


def _apply(
    settings: Settings,
    store: BuiltinStore,
    batch: list[tuple[int, str]],
    offsets: OffsetStore,
    source: str,
    totals: dict,
) -> None:
    _add(totals, process(settings, store, [line for _, line in batch]))
    offsets.commit(source, batch[-1][0] + 1)


def replay_dead_letters(settings: Settings, store: BuiltinStore) -> dict[str, int]:
    """Validate dead-lettered events again: apply those now valid, keep the rest (new reason)."""
{%- if cookiecutter.stream_engine in ['kafka', 'flink'] %}
    if settings.stream_engine in ("kafka", "flink"):
        return replay_dead_letter_topic(settings, store)
{%- endif %}
    done = dead_letter.parts(settings, TABLE)
    letters = dead_letter.read_parts(done)
    lines = letters["record"].tolist() if "record" in letters else []
    good, bad = validate(store, lines, Pseudonymizer(settings))
    kept = pd.DataFrame(
        {"record": [lines[k] for k in bad], dead_letter.REASON: list(bad.values())},
        columns=["record", dead_letter.REASON],
    )
    counts = apply_events(settings, store, good)
    dead_letter.replace(settings, TABLE, done, kept)
    return {"replayed": len(lines), **counts, "kept": len(kept)}
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
    settings: Settings,
    store: BuiltinStore,
    batch_size: int = 100,
    max_events: int | None = None,
    follow: bool = False,
    stop: threading.Event | None = None,
) -> dict:
    """Consume the topic up to the end of every assigned partition (or ``max_events``).

    An empty poll is not the end: joining the consumer group can take seconds. The run ends when
    each partition this consumer was assigned reports end-of-partition, or after
    ``kafka_timeout_s``; it fails if no assignment arrived by then. With ``follow`` it ends only
    when ``stop`` is set. Rejected events go to the dead-letter topic, flushed before the batch's
    offsets are committed (at-least-once).
    """
    from confluent_kafka import Consumer

    stop = stop or threading.Event()
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
    dead_letters = DeadLetterTopic(settings)
    totals = {"accepted": 0, "rejected": 0, "added": 0, "updated": 0}
    read = 0
    deadline = time.monotonic() + settings.kafka_timeout_s
    try:
        while not stop.is_set() and (max_events is None or read < max_events):
            left = deadline - time.monotonic()
            if (not follow and progress.done) or (left <= 0 and not (follow and progress.joined)):
                break
            timeout = settings.stream_poll_s if follow else min(1.0, left)
            wanted = batch_size if max_events is None else min(batch_size, max_events - read)
            messages = consumer.consume(wanted, timeout=max(timeout, 0.01))
            batch = [message for message in messages if progress.is_record(message)]
            if batch:
                lines = [_text(message.value()) for message in batch]
                counts = process(settings, store, lines, dead_letters.reject(batch))
                commit_offsets(consumer, batch)
                read += len(batch)
                _add(totals, counts)
        position = {"partitions": len(progress.assigned), "at_end": progress.done}
    finally:
        consumer.close()
    if not progress.joined and not stop.is_set():
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


def dead_letter_topic(settings: Settings) -> str:
    return settings.kafka_dead_letter_topic or f"{settings.kafka_topic}.dlq"


SOURCE_HEADERS = ("source_topic", "source_partition", "source_offset")


def source_of(message) -> dict[str, str]:
    """Return where a record came from: its own coordinates, or a dead letter's source headers."""
    headers = {name: _text(value) for name, value in message.headers() or []}
    if all(name in headers for name in SOURCE_HEADERS):
        return {name: headers[name] for name in SOURCE_HEADERS}
    return dict(zip(SOURCE_HEADERS, map(str, message_position(message)), strict=True))


def message_position(message) -> tuple[str, int, int]:
    return message.topic(), message.partition(), message.offset()


def ensure_topic(settings: Settings, topic: str, partitions: int = 1) -> None:
    """Create ``topic`` unless it exists."""
    from confluent_kafka import KafkaError
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    if topic in admin.list_topics(timeout=settings.kafka_timeout_s).topics:
        return
    future = admin.create_topics([NewTopic(topic, num_partitions=partitions)])[topic]
    try:
        future.result(timeout=settings.kafka_timeout_s)
    except Exception as error:
        code = error.args[0].code() if error.args and hasattr(error.args[0], "code") else None
        if code != KafkaError.TOPIC_ALREADY_EXISTS:
            raise


class DeadLetterTopic:
    """Producer of dead letters: the record as it came, the reason and its source in headers."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topic = dead_letter_topic(settings)
        self._producer = None

    def reject(self, messages: list) -> Reject:
        """Return a ``Reject`` sending ``messages[position]`` to the topic (flushed)."""

        def reject(bad: dict[int, str]) -> None:
            self.send([(messages[k], reason) for k, reason in bad.items()])

        return reject

    def send(self, letters: list[tuple[object, str]]) -> None:
        """Produce ``(message, reason)`` pairs and wait until the broker has every one."""
        from datetime import UTC, datetime

        from confluent_kafka import Producer

        if self._producer is None:
            ensure_topic(self.settings, self.topic)
            self._producer = Producer(
                {"bootstrap.servers": self.settings.kafka_bootstrap, "acks": "all"}
            )
        failures: list[str] = []

        def delivered(error, _message) -> None:
            if error is not None:
                failures.append(error.str())

        at = datetime.now(UTC).isoformat()
        for message, reason in letters:
            headers = {**source_of(message), dead_letter.REASON: reason, dead_letter.AT: at}
            _produce(self._producer, self.topic, message.value(), message.key(), headers, delivered)
        undelivered = self._producer.flush(self.settings.kafka_timeout_s)
        if undelivered or failures:
            reason = failures[0] if failures else f"{undelivered} still queued"
            raise RuntimeError(f"dead letters not delivered to {self.topic}: {reason}")


def _produce(producer, topic: str, value, key, headers, delivered) -> None:
    while True:
        try:
            producer.produce(topic, value, key, headers=headers, on_delivery=delivered)
            return
        except BufferError:
            producer.poll(0.1)


def read_topic(settings: Settings, topic: str, group: str, from_committed: bool) -> tuple:
    """Return ``(consumer, messages)``: ``topic`` up to each partition's end, from the start or
    from ``group``'s committed offsets. The caller closes the consumer (after committing).

    The end is the end-of-partition event, not the high watermark (some brokers, Tansu among them,
    report a batch's first offset there).
    """
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    timeout = settings.kafka_timeout_s
    topics = consumer.list_topics(topic, timeout=timeout).topics
    if topic not in topics or topics[topic].error is not None:
        return consumer, []
    wanted = [TopicPartition(topic, p) for p in sorted(topics[topic].partitions)]
    starts = consumer.committed(wanted, timeout=timeout) if from_committed else wanted
    consumer.assign(
        [TopicPartition(topic, tp.partition, max(tp.offset, OFFSET_BEGINNING)) for tp in starts]
    )
    pending = {tp.partition for tp in wanted}
    messages = []
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for message in consumer.consume(100, timeout=1.0):
            error = message.error()
            if error is None:
                messages.append(message)
            elif error.code() == KafkaError._PARTITION_EOF:
                pending.discard(message.partition())
    if pending:
        consumer.close()
        raise TimeoutError(f"{topic} not read to its end within {timeout:g} s")
    return consumer, messages


def read_dead_letter_topic(settings: Settings, pending: bool = False) -> pd.DataFrame:
    """Return the dead letters in the topic, one per source record (the newest copy).

    ``pending``: only those after the offsets ``replay_dead_letters`` committed.
    """
    consumer, messages = read_topic(
        settings, dead_letter_topic(settings), f"{settings.kafka_group}.dlq-replay", pending
    )
    consumer.close()
    rows = []
    for message in messages:
        headers = {name: _text(value) for name, value in message.headers() or []}
        rows.append({"record": _text(message.value()), **headers})
    columns = ["record", *SOURCE_HEADERS, dead_letter.REASON, dead_letter.AT]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.drop_duplicates(list(SOURCE_HEADERS), keep="last", ignore_index=True)


def replay_dead_letter_topic(settings: Settings, store: BuiltinStore) -> dict[str, int]:
    """Replay the dead-letter topic from the replay group's committed offsets to its end.

    Events now valid are applied; the rest are produced again (new reason, same source headers),
    then the replay group's offsets are committed past everything read.
    """
    consumer, messages = read_topic(
        settings, dead_letter_topic(settings), f"{settings.kafka_group}.dlq-replay", True
    )
    try:
        lines = [_text(message.value()) for message in messages]
        good, bad = validate(store, lines, Pseudonymizer(settings))
        counts = apply_events(settings, store, good)
        if bad:
            DeadLetterTopic(settings).send([(messages[k], reason) for k, reason in bad.items()])
        if messages:
            commit_offsets(consumer, messages)
    finally:
        consumer.close()
    return {"replayed": len(lines), **counts, "kept": len(bad)}


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
        _produce(producer, settings.kafka_topic, line.rstrip("\n").encode(), key, None, delivered)
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
    if len(bad):
        dead_letter.write(settings, TABLE, bad[["record", dead_letter.REASON]])
    pseudonyms = Pseudonymizer(settings)
    latest = pseudonyms.frame(latest)
    sent = events.to_dict("records") if len(events) else []  # as received: what dead letters keep
    good = pseudonyms.frame(events).to_dict("records") if len(events) else []
    unknown: dict[int, str] = {}
    if len(good):
        _, unknown = validate(store, [json.dumps(event) for event in sent], pseudonyms)
        rows = [{"record": json.dumps(sent[k]), dead_letter.REASON: r} for k, r in unknown.items()]
        dead_letter.write(settings, TABLE, pd.DataFrame(rows))
        good = [event for k, event in enumerate(good) if k not in unknown]
    known = latest[latest[schema.USER_KEY].isin([e[schema.USER_KEY] for e in good])]
    if len(known):
        times = known[schema.EVENT_TIME].tolist()
        store.update_online("user", known[[schema.USER_KEY, ACTIVITY]], times)
    return {
        "accepted": len(good),
        "rejected": len(bad) + len(unknown),
        "added": sink_events(settings, good),
    }
{%- endif %}
