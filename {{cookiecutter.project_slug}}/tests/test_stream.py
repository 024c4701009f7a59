from __future__ import annotations

from {{ cookiecutter.package_name }} import privacy, schema
from {{ cookiecutter.package_name }}.ingestion import dead_letter
from {{ cookiecutter.package_name }}.ingestion.stream import (
    ACTIVITY,
    OffsetStore,
    consume,
    parse_event,
    sink_count,
)


def _log_lines(settings) -> list[str]:
    return (settings.directory("raw") / "events.jsonl").read_text().splitlines()


def test_malformed_events_are_rejected_with_a_reason():
    assert parse_event('{"truncated": ')[1].startswith("invalid JSON")
    assert parse_event("[1, 2]")[1] == "event is not an object"
    event = {schema.EVENT_KEY: "x", schema.USER_KEY: 1, schema.EVENT_TIME: 1.0, ACTIVITY: -1.0}
    assert parse_event(__import__("json").dumps(event))[1].startswith("negative")


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
        event, _ = parse_event(line)
        if event is not None:
            latest[event[schema.USER_KEY]] = event[ACTIVITY]
    user, value = next(iter(latest.items()))
    key = privacy.Pseudonymizer(settings).ids([user])[0]  # the log holds raw ids, the store keys
    assert materialized.lookup("user", [key])[ACTIVITY][0] == value
