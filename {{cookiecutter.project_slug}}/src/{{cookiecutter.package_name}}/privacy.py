"""Personal data: pseudonymized person ids, PII kept out of logs, and the retention purge.

{%- if cookiecutter.contains_pii %}
The data contains personal information (``schema.CONTAINS_PII``). The person id column
(``schema.USER_KEY``) is replaced by its pseudonym, ``pseudonymize_id``: HMAC-SHA256 keyed by
``pseudonym_key`` (env ``{{ cookiecutter.package_name | upper }}_PSEUDONYM_KEY``),
truncated to a non-negative 63-bit integer so the column keeps its integer type. Ingestion
(batch and stream) writes only pseudonyms to ``clean/``, the feature stores and the stream sink;
serving pseudonymizes the ids of each request with the same key before the online
lookup{{ ', the A/B assignment' if cookiecutter.experiment == 'ab' }} and every log.
Without the key the pseudonyms cannot be linked back to people; with another key they all
change. When the key is unset and ``pseudonym_key_autocreate`` is on
(the local profile) a random key is created once in ``var/secrets/pseudonym.key`` (mode 0600);
production refuses to start without it.
{%- else %}
The data contains no personal information (``schema.CONTAINS_PII`` is off): ids are kept as
they are: ``Pseudonymizer`` returns them unchanged.
{%- endif %}

``purge`` deletes what is older than ``retention_days``: raw events{{ ', stream sink rows' if cookiecutter.stream_engine != 'none' }},
dead letters{% if cookiecutter.monitoring %}, prediction log rows{% endif %}{% if cookiecutter.experiment == 'ab' %}, exposure log rows{% elif cookiecutter.experiment == 'shadow' %}, shadow log rows{% endif %}.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from . import schema
from .settings import ENV_PREFIX, Settings

ENABLED = schema.CONTAINS_PII
ID_COLUMNS = (schema.USER_KEY,)
"""Columns that identify a person: pseudonymized (item ids name things, not people)."""
KEY_BYTES = 32
DAY_S = 86_400.0


class MissingKeyError(RuntimeError):
    """No pseudonym key is configured where one must be given."""


def key_path(settings: Settings) -> Path:
    return settings.var / "secrets" / "pseudonym.key"


def secret_key(settings: Settings) -> bytes:
    """Return the pseudonym key: the setting, else (when allowed) the generated local key file."""
    configured = settings.pseudonym_key.get_secret_value()
    if configured:
        return configured.encode()
    path = key_path(settings)
    if not settings.pseudonym_key_autocreate:
        raise MissingKeyError(
            f"{ENV_PREFIX}PSEUDONYM_KEY is not set: the {settings.env} profile needs the key that "
            "pseudonymizes personal ids (make one with python -c 'import secrets; "
            "print(secrets.token_hex(32))')"
        )
    if not path.exists():
        _publish_key(path)
    return path.read_text().strip().encode()


def _publish_key(path: Path) -> None:
    """Create the local key file whole: written privately, then linked in (first process wins).

    Readers never see it empty or half-written, and a second process starting at the same time
    keeps the first one's key.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(KEY_BYTES))
    try:
        with contextlib.suppress(FileExistsError):  # another process linked its key first
            os.link(partial, path)
    finally:
        partial.unlink()


def pseudonymize_id(value: int | str, key: bytes) -> int:
    """Return the pseudonym of one id: HMAC-SHA256 truncated to a non-negative 63-bit int."""
    digest = hmac.new(key, str(int(value)).encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") >> 1


class Pseudonymizer:
    """Maps raw person ids to pseudonyms with one key (identity when there is no PII)."""

    def __init__(self, settings: Settings, key: bytes | None = None) -> None:
        self.key = (key or secret_key(settings)) if ENABLED else b""

    def ids(self, values: Iterable[int]) -> list[int]:
        values = [int(v) for v in values]
        if not ENABLED:
            return values
        return [pseudonymize_id(v, self.key) for v in values]

    def column(self, values: pd.Series) -> pd.Series:
        """Return an int64 column of pseudonyms (each distinct id hashed once)."""
        if not ENABLED:
            return values
        unique = pd.unique(values.astype("int64"))
        mapping = dict(zip(unique, self.ids(unique), strict=True))
        return values.astype("int64").map(mapping).astype("int64")

    def frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Return ``frame`` with its person id columns pseudonymized (others untouched)."""
        present = [c for c in ID_COLUMNS if c in frame.columns]
        if not ENABLED or not present:
            return frame
        return frame.assign(**{c: self.column(frame[c]) for c in present})


def unlogged_features() -> list[str]:
    """Return the features kept out of the prediction log: the PII-flagged ones."""
    return schema.pii_features() if ENABLED else []


def cutoff(settings: Settings, now: float | None = None) -> float:
    """Return the epoch second before which data is past ``retention_days``."""
    return (time.time() if now is None else now) - settings.retention_days * DAY_S


def _replace_parquet(path: Path, frame: pd.DataFrame) -> None:
    partial = path.with_suffix(".purge.tmp")
    frame.to_parquet(partial, index=False)
    os.replace(partial, path)


def purge_raw_events(settings: Settings, before: float) -> int:
    """Delete raw events (Parquet table and JSON-lines log) older than ``before``."""
    removed = 0
    table = settings.var / "raw" / "events.parquet"
    if table.exists():
        events = pd.read_parquet(table)
        old = pd.to_numeric(events[schema.EVENT_TIME], errors="coerce") < before
        if old.any():
            _replace_parquet(table, events.loc[~old])
            removed += int(old.sum())
    return removed + _purge_event_log(settings, before)


def _purge_event_log(settings: Settings, before: float) -> int:
    """Drop old lines of ``raw/events.jsonl``, moving the stream's committed offset with them."""
    log = settings.var / "raw" / "events.jsonl"
    if not log.exists():
        return 0
    lines = log.read_text(encoding="utf-8").splitlines(keepends=True)
    old = [_event_time(line) < before for line in lines]
    if not any(old):
        return 0
    offsets = settings.var / "stream" / "offsets.json"
    if offsets.exists():
        committed = json.loads(offsets.read_text())
        if log.name in committed:
            position = int(committed[log.name])
            committed[log.name] = position - sum(old[:position])
            offsets.write_text(json.dumps(committed))
    partial = log.with_suffix(".purge.tmp")
    partial.write_text("".join(line for line, o in zip(lines, old, strict=True) if not o))
    os.replace(partial, log)
    return sum(old)


def _event_time(line: str) -> float:
    """Return a log line's event time (malformed lines: +inf, they are the dead letters' job)."""
    try:
        value = json.loads(line).get(schema.EVENT_TIME)
        return float(value) if isinstance(value, int | float) else float("inf")
    except (ValueError, AttributeError):
        return float("inf")


def purge_sink(settings: Settings, before: float) -> int:
    path = settings.var / "stream" / "sink.db"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as con:
        try:
            cursor = con.execute(f"DELETE FROM events WHERE {schema.EVENT_TIME} < ?", (before,))
        except sqlite3.OperationalError:  # no events table yet
            return 0
        return cursor.rowcount


def purge_exposures(settings: Settings, before: float) -> int:
    """Drop exposure log lines stamped before ``before`` (rewritten atomically)."""
    path = settings.var / "experiments" / "exposures.jsonl"
    if not path.exists():
        return 0
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if json.loads(line)["ts"] >= before]
    if len(kept) < len(lines):
        partial = path.with_suffix(".purge.tmp")
        partial.write_text("".join(kept), encoding="utf-8")
        os.replace(partial, path)
    return len(lines) - len(kept)


def purge(settings: Settings, now: float | None = None) -> dict:
    """Delete everything past ``retention_days``; return the cutoff and what was deleted."""
    from datetime import UTC, datetime

    from .ingestion import dead_letter

    before = cutoff(settings, now)
    deleted = {
        "raw_events": purge_raw_events(settings, before),
        "stream_sink_rows": purge_sink(settings, before),
        "exposure_log_rows": purge_exposures(settings, before),
        "dead_letter_files": dead_letter.purge_older_than(
            settings, datetime.fromtimestamp(before, UTC)
        ),
    }
{%- if cookiecutter.monitoring %}
    from .monitoring.prediction_log import PredictionLog

    log = PredictionLog(settings)
    deleted["prediction_log_rows"] = log.purge_older_than(before) if log.path.exists() else 0
    log.close()
{%- endif %}
{%- if cookiecutter.experiment == 'shadow' %}
    from .experiments.shadow import ShadowLog

    deleted["shadow_log_rows"] = ShadowLog(settings).purge_older_than(before)
{%- endif %}
    return {
        "retention_days": settings.retention_days,
        "cutoff": datetime.fromtimestamp(before, UTC).isoformat(),
        "deleted": deleted,
    }
