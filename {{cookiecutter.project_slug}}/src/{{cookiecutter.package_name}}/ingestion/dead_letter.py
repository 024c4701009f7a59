"""Dead-letter store: rejected records with the reason, kept for inspection and replay.

Writes ``dead_letter/<table>.parquet`` under ``var_dir``: the record's fields as text plus a
``reason`` column and ``dead_lettered_at`` (ISO-8601 UTC). Appending the same record with the
same reason twice keeps one copy (the first time). ``purge_older_than`` drops old rows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from ..settings import Settings

REASON = "reason"
AT = "dead_lettered_at"


def dead_letter_path(settings: Settings, table: str) -> Path:
    return settings.directory("dead_letter") / f"{table}.parquet"


def write(settings: Settings, table: str, rejected: pd.DataFrame) -> int:
    """Append ``rejected`` (with a ``reason`` column); return the rows in the store."""
    path = dead_letter_path(settings, table)
    incoming = rejected.astype(str).assign(**{AT: datetime.now(UTC).isoformat()})
    if path.exists():
        incoming = pd.concat([pd.read_parquet(path), incoming], ignore_index=True)
    fields = [c for c in incoming.columns if c != AT]
    incoming = incoming.drop_duplicates(subset=fields, ignore_index=True)
    incoming.to_parquet(path, index=False)
    return len(incoming)


def read(settings: Settings, table: str) -> pd.DataFrame:
    path = dead_letter_path(settings, table)
    return pd.read_parquet(path) if path.exists() else pd.DataFrame(columns=[REASON])


def purge_older_than(settings: Settings, cutoff: datetime) -> int:
    """Delete dead letters written before ``cutoff``; return how many were deleted."""
    removed = 0
    for path in sorted(settings.directory("dead_letter").glob("*.parquet")):
        rows = pd.read_parquet(path)
        stamps = pd.to_datetime(rows.get(AT, pd.Series(dtype=str)), utc=True, errors="coerce")
        old = (stamps < cutoff).to_numpy() if AT in rows.columns else rows.index.notna()
        if old.any():
            rows.loc[~old].to_parquet(path, index=False)
            removed += int(old.sum())
    return removed
