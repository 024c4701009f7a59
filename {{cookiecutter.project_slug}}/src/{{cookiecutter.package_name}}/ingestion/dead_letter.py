"""Dead-letter store: rejected records with the reason, kept for inspection and replay.

The store of a table is the folder ``dead_letter/<table>/`` under ``var_dir``: append-only Parquet
part files, each holding the records' fields as text, a ``reason`` and ``dead_lettered_at``
(ISO-8601 UTC). A writer never rewrites a part: it writes a new one under a temporary name in the
same folder and renames it into place, so concurrent writers and readers need no lock (Spark
appends to the same folder). Readers see the folder as one dataset without exact duplicates.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from ..settings import Settings

REASON = "reason"
AT = "dead_lettered_at"


def path(settings: Settings, table: str) -> Path:
    """Return the folder of ``table``'s part files (created when missing)."""
    return settings.directory("dead_letter", table)


def parts(settings: Settings, table: str) -> list[Path]:
    """Return the finished part files of ``table``, oldest name first."""
    return sorted(path(settings, table).glob("part-*.parquet"))


def write(settings: Settings, table: str, frame: pd.DataFrame) -> int:
    """Append ``frame`` (with a ``reason`` column) as a new part; return the rows written."""
    if not len(frame):
        return 0
    rows = frame.astype(str).reset_index(drop=True)
    rows[AT] = datetime.now(UTC).isoformat()
    folder = path(settings, table)
    name = f"part-{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:12]}.parquet"
    partial = folder / f".{name}.tmp"
    rows.to_parquet(partial, index=False)
    os.replace(partial, folder / name)
    return len(rows)


def read_parts(files: Sequence[Path]) -> pd.DataFrame:
    """Return the rows of ``files`` without exact duplicates (ignoring ``dead_lettered_at``)."""
    frames = [pd.read_parquet(file) for file in files]
    if not frames:
        return pd.DataFrame(columns=[REASON, AT])
    rows = pd.concat(frames, ignore_index=True)
    fields = [column for column in rows.columns if column != AT]
    return rows.drop_duplicates(subset=fields, ignore_index=True)


def read(settings: Settings, table: str) -> pd.DataFrame:
    """Return every dead-lettered row of ``table`` (exact duplicates dropped)."""
    return read_parts(parts(settings, table))


def replace(settings: Settings, table: str, done: Sequence[Path], kept: pd.DataFrame) -> int:
    """Write ``kept`` as a new part, then remove the parts ``done`` (read before); return rows.

    Parts written meanwhile by other writers are untouched. A crash between the two steps leaves
    both copies, which readers deduplicate.
    """
    written = write(settings, table, kept.drop(columns=[AT], errors="ignore"))
    for file in done:
        file.unlink(missing_ok=True)
    return written


def purge_older_than(settings: Settings, cutoff: datetime) -> int:
    """Remove part files (of every table) whose newest ``dead_lettered_at`` is before ``cutoff``."""
    limit = pd.Timestamp(cutoff)
    limit = limit.tz_localize("UTC") if limit.tzinfo is None else limit
    removed = 0
    for file in sorted(settings.directory("dead_letter").glob("*/part-*.parquet")):
        stamps = pd.to_datetime(pd.read_parquet(file, columns=[AT])[AT], utc=True)
        if len(stamps) == 0 or stamps.max() < limit:
            file.unlink(missing_ok=True)
            removed += 1
    return removed
