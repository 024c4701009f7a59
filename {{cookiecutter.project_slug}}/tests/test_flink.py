"""The PyFlink job, run in its own environment (.venv-flink), gives what the stream consumer gives.

Needs ``make flink-env`` (``make setup`` runs it); without .venv-flink the test skips and says
so, unless MLSD_REQUIRE_TOOLS=1, which makes a missing environment a failure.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }} import privacy, schema
from {{ cookiecutter.package_name }}.data.synthetic import generate
from {{ cookiecutter.package_name }}.features.store import open_store
from {{ cookiecutter.package_name }}.ingestion import dead_letter
from {{ cookiecutter.package_name }}.ingestion.batch import ingest
from {{ cookiecutter.package_name }}.ingestion.stream import ACTIVITY, apply_flink_output, parse_event, process

ROOT = Path(__file__).resolve().parents[1]
FLINK_PYTHON = Path(os.environ.get("FLINK_PYTHON", ROOT / ".venv-flink" / "bin" / "python"))

pytestmark = pytest.mark.skipif(
    not FLINK_PYTHON.exists() and os.environ.get("MLSD_REQUIRE_TOOLS") != "1",
    reason=f"no PyFlink environment at {FLINK_PYTHON}: run make flink-env",
)


def _store(tmp_path: Path, name: str):
    from conftest import small_settings

    settings = small_settings(tmp_path / name, pseudonym_key="one key for both stores")
    generate(settings)
    ingest(settings)
    store = open_store(settings)
    store.materialize()
    return settings, store


def _run_job(*args: str) -> subprocess.CompletedProcess:
    module = "{{ cookiecutter.package_name }}.ingestion.flink_job"
    command = [str(FLINK_PYTHON), "-m", module, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=ROOT)


def _tricky_lines(lines: list[str]) -> list[str]:
    """The synthetic log plus a replayed duplicate, an older event arriving last, and bad lines."""
    events = [event for event, _ in map(parse_event, lines) if event is not None]
    newest = max(events, key=lambda event: event[schema.EVENT_TIME])
    older = {**newest, schema.EVENT_KEY: "late-older", ACTIVITY: newest[ACTIVITY] + 1000.0}
    older[schema.EVENT_TIME] = newest[schema.EVENT_TIME] - 1e6
    return [*lines, json.dumps(newest), json.dumps(older), '{"cut": ', "[1, 2]"]


def _sink(settings) -> list[tuple]:
    with sqlite3.connect(settings.directory("stream") / "sink.db") as con:
        return sorted(con.execute(f"SELECT * FROM events ORDER BY {schema.EVENT_KEY}").fetchall())


def _dead_letters(settings) -> list[tuple]:
    frame = dead_letter.read(settings, "stream")
    return sorted(zip(frame["record"], frame[dead_letter.REASON], strict=True))


def test_the_flink_job_gives_the_same_features_sink_and_dead_letters_as_the_consumer(tmp_path):
    assert FLINK_PYTHON.exists(), f"MLSD_REQUIRE_TOOLS=1 but no PyFlink environment: {FLINK_PYTHON}"
    flink_settings, flink_store = _store(tmp_path, "flink")
    consumer_settings, consumer_store = _store(tmp_path, "consumer")
    log = flink_settings.directory("raw") / "events.jsonl"
    lines = _tricky_lines(log.read_text(encoding="utf-8").splitlines())
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = flink_settings.directory("stream", "flink")

    job = _run_job("--events", str(log), "--out", str(out))
    assert job.returncode == 0, job.stderr[-3000:]
    flink = apply_flink_output(flink_settings, flink_store)
    consumer = process(consumer_settings, consumer_store, lines)

    assert flink["rejected"] == consumer["rejected"] >= 2
    assert flink["added"] == consumer["added"] > 0
    users = sorted({e[schema.USER_KEY] for e, _ in map(parse_event, lines) if e is not None})
    keys = privacy.Pseudonymizer(flink_settings).ids(users)
    online = flink_store.lookup("user", keys)[ACTIVITY].tolist()
    assert online == consumer_store.lookup("user", keys)[ACTIVITY].tolist()
    assert _sink(flink_settings) == _sink(consumer_settings)
    assert _dead_letters(flink_settings) == _dead_letters(consumer_settings)


def test_the_flink_job_refuses_a_missing_log_in_one_line(tmp_path):
    job = _run_job("--events", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "out"))
    assert job.returncode == 2
    assert job.stderr.strip().splitlines()[-1].startswith("error: no event log at")
