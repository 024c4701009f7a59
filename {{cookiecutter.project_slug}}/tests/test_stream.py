"""The stream consumer on the local event log, in process and as a long-running process."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from {{ cookiecutter.package_name }} import privacy, schema
from {{ cookiecutter.package_name }}.features.store import BuiltinStore
from {{ cookiecutter.package_name }}.ingestion import dead_letter
from {{ cookiecutter.package_name }}.ingestion.stream import (
    ACTIVITY,
    LogCursor,
    OffsetStore,
    consume,
    parse_event,
    process,
    read_log,
    replay_dead_letters,
    sink_count,
)
from {{ cookiecutter.package_name }}.settings import ENV_PREFIX, Settings

PROCESS_SETTINGS = (
    "var_dir",
    "stream_engine",
    "feature_store",
    "stream_poll_s",
    "stream_batch_size",
    "kafka_bootstrap",
    "kafka_topic",
    "kafka_group",
    "kafka_timeout_s",
    "kafka_session_timeout_ms",
)


def event(event_id: str, user: int, time_s: float, activity: float) -> str:
    fields = {schema.EVENT_KEY: event_id, schema.USER_KEY: user, schema.EVENT_TIME: time_s}
    return json.dumps({**fields, ACTIVITY: activity})


def keys(settings: Settings, ids: list[int]) -> list[int]:
    """Return the online store's keys of raw person ids (themselves unless PII is pseudonymized)."""
    return privacy.Pseudonymizer(settings).ids(ids)


def _log_lines(settings) -> list[str]:
    return (settings.directory("raw") / "events.jsonl").read_text().splitlines()


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 90.0) -> None:
    """Poll ``condition`` until true; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@contextlib.contextmanager
def follow_process(settings: Settings, log: Path) -> Iterator[subprocess.Popen]:
    """Run ``stream --follow`` with ``settings`` as a child process; always reaped."""
    env = {**os.environ, f"{ENV_PREFIX}ENV": "local"}
    for name in PROCESS_SETTINGS:
        env[f"{ENV_PREFIX}{name.upper()}"] = str(getattr(settings, name))
    package = schema.__name__.rpartition(".")[0]
    command = [sys.executable, "-m", package, "stream", "--follow"]
    with log.open("ab") as output:
        child = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        yield child
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(30)


def stop(child: subprocess.Popen, log: Path) -> int:
    child.send_signal(signal.SIGTERM)
    code = child.wait(60)
    assert code == 0, log.read_text()[-3000:]
    return code


def test_malformed_events_are_rejected_with_a_reason():
    assert parse_event('{"truncated": ')[1].startswith("invalid JSON")
    assert parse_event("[1, 2]")[1] == "event is not an object"
    assert parse_event(event("x", 1, 1.0, -1.0))[1].startswith("negative")


def test_resume_after_a_crash_loses_nothing_and_adds_no_duplicates(materialized):
    settings = materialized.settings
    lines = _log_lines(settings)
    first = consume(settings, materialized, batch_size=10, max_events=20)
    assert first["offset"] == 20
    rest = consume(settings, materialized, batch_size=10)
    assert rest["offset"] == len(lines)
    valid = first["accepted"] + rest["accepted"]
    assert sink_count(settings) == valid == first["added"] + rest["added"]
    assert len(dead_letter.read(settings, "stream")) == first["rejected"] + rest["rejected"] > 0
    OffsetStore(settings.directory("stream") / "offsets.json").commit("events.jsonl", 0)
    replay = consume(settings, materialized, batch_size=10)
    assert replay["added"] == 0 and sink_count(settings) == valid


def test_consumed_events_update_online_features(materialized):
    settings = materialized.settings
    consume(settings, materialized)
    latest: dict[int, float] = {}
    for line in _log_lines(settings):
        parsed, _ = parse_event(line)
        if parsed is not None:
            latest[parsed[schema.USER_KEY]] = parsed[ACTIVITY]
    user, value = next(iter(latest.items()))
    assert materialized.lookup("user", keys(settings, [user]))[ACTIVITY][0] == value


def test_a_replayed_older_event_never_overwrites_a_newer_value(materialized):
    builtin = BuiltinStore(materialized.settings)
    builtin.materialize()
    for a, b, store in ((3, 4, materialized), (6, 7, builtin)):
        settings = store.settings
        newer = process(settings, store, [event(f"n{a}", a, 2_000.0, 42.0)])
        older = process(settings, store, [event(f"o{a}", a, 1_000.0, 7.0)])
        pair = [event(f"o{b}", b, 1_000.0, 5.0), event(f"n{b}", b, 900.0, 6.0)]
        both = process(settings, store, pair)
        assert newer["updated"] == 1 and older["updated"] == 0 and both["updated"] == 1
        values = store.lookup("user", keys(settings, [a, b]))[ACTIVITY].tolist()
        assert values == [42.0, 5.0], type(store).__name__
        assert older["added"] == 1, "an older event still lands in the sink once"


def test_events_of_unknown_users_are_dead_lettered_with_a_reason(materialized):
    settings = materialized.settings
    unknown = settings.n_users + 1000
    counts = process(settings, materialized, [event("u1", unknown, 5.0, 1.0), event("k1", 1, 5, 1)])
    assert counts["rejected"] == 1 and counts["accepted"] == counts["added"] == 1
    rejected = dead_letter.read(settings, "stream")
    assert rejected[dead_letter.REASON].tolist() == [f"unknown {schema.USER_KEY} {unknown}"]
    assert json.loads(rejected["record"][0])[schema.USER_KEY] == unknown


def test_dead_letters_are_append_only_parts_read_without_duplicates(settings):
    rows = pd.DataFrame({"record": ["a", "b"], dead_letter.REASON: ["bad", "worse"]})
    assert dead_letter.write(settings, "t", rows) == 2
    assert dead_letter.write(settings, "t", rows.iloc[:1]) == 1
    parts = dead_letter.parts(settings, "t")
    assert len(parts) == 2 and all(p.parent == dead_letter.path(settings, "t") for p in parts)
    assert not list(dead_letter.path(settings, "t").glob("*.tmp"))
    read = dead_letter.read(settings, "t")
    assert sorted(read["record"]) == ["a", "b"]
    assert pd.to_datetime(read[dead_letter.AT], utc=True).notna().all()
    assert dead_letter.purge_older_than(settings, datetime.now(UTC) - timedelta(days=1)) == 0
    assert dead_letter.purge_older_than(settings, datetime.now(UTC) + timedelta(seconds=1)) == 2
    assert dead_letter.read(settings, "t").empty


def test_replaying_dead_letters_applies_those_now_valid_and_keeps_the_rest(materialized):
    settings = materialized.settings
    fixed = event("r1", 5, 3_000.0, 99.0)
    letters = {"record": [fixed, '{"cut": '], dead_letter.REASON: ["an old rule", "old reason"]}
    dead_letter.write(settings, "stream", pd.DataFrame(letters))

    first = replay_dead_letters(settings, materialized)

    assert first["replayed"] == 2 and first["added"] == 1 and first["kept"] == 1
    assert materialized.lookup("user", keys(settings, [5]))[ACTIVITY][0] == 99.0
    kept = dead_letter.read(settings, "stream")
    assert kept["record"].tolist() == ['{"cut": ']
    assert kept[dead_letter.REASON][0].startswith("invalid JSON")
    again = replay_dead_letters(settings, materialized)
    assert again["replayed"] == 1 and again["kept"] == 1 and again["added"] == 0


def test_the_follow_consumer_stops_on_sigterm_with_everything_applied_once(materialized, tmp_path):
    settings = materialized.settings.model_copy(update={"stream_poll_s": 0.2})
    log = settings.directory("raw") / "events.jsonl"
    lines = log.read_text().splitlines()
    head, tail = lines[: len(lines) // 2], lines[len(lines) // 2 :]
    log.write_text("\n".join(head) + "\n")
    offsets = OffsetStore(settings.directory("stream") / "offsets.json")

    with follow_process(settings, tmp_path / "consumer.log") as child:
        wait_for(lambda: offsets.get(log.name) == len(head), "the first half to be committed")
        with log.open("a") as handle:
            handle.write("\n".join(tail) + "\n")
        wait_for(lambda: offsets.get(log.name) == len(lines), "the second half to be committed")
        stop(child, tmp_path / "consumer.log")

    valid = [e for e, _ in map(parse_event, lines) if e is not None]
    assert sink_count(settings) == len(valid)
    assert len(dead_letter.read(settings, "stream")) == len(lines) - len(valid) > 0
    latest = {e[schema.USER_KEY]: e[ACTIVITY] for e in valid}
    users = sorted(latest)
    online = materialized.lookup("user", keys(settings, users))[ACTIVITY].tolist()
    assert online == [latest[u] for u in users]
    summary = json.loads(_summary(tmp_path / "consumer.log"))
    assert summary["accepted"] == len(valid) and summary["offset"] == len(lines)


def _summary(log: Path) -> str:
    """Return the JSON summary the CLI printed last (after any log lines)."""
    text = log.read_text()
    return text[text.rindex("\n{") + 1 :] if "\n{" in text else text[text.index("{") :]


def test_a_log_cursor_reads_only_what_was_appended_and_restarts_on_a_replaced_log(tmp_path):
    log = tmp_path / "events.jsonl"
    log.write_text("a\nb\n", encoding="utf-8")
    cursor = LogCursor()
    assert list(read_log(log, 0, complete_only=True, cursor=cursor)) == [(0, "a\n"), (1, "b\n")]
    with log.open("a", encoding="utf-8") as handle:
        handle.write("c\nd")  # "d" is still being written
    assert list(read_log(log, 2, complete_only=True, cursor=cursor)) == [(2, "c\n")]
    assert (cursor.line, cursor.byte) == (3, len("a\nb\nc\n"))  # resumes here, not at line 0
    replaced = tmp_path / "purged.jsonl"
    replaced.write_text("c\n", encoding="utf-8")
    os.replace(replaced, log)  # purge rewrites the log and moves the offset back
    assert list(read_log(log, 0, complete_only=True, cursor=cursor)) == [(0, "c\n")]
