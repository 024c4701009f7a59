"""Dead-letter store: rejected records with the reason, kept for inspection and replay.

Writes ``dead_letter/<table>.parquet`` under ``var_dir``: the record's fields as text plus a
``reason`` column. Appending the same record with the same reason twice keeps one copy.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..settings import Settings

REASON = "reason"


def dead_letter_path(settings: Settings, table: str) -> Path:
    return settings.directory("dead_letter") / f"{table}.parquet"


def write(settings: Settings, table: str, rejected: pd.DataFrame) -> int:
    """Append ``rejected`` (with a ``reason`` column); return the rows in the store."""
    path = dead_letter_path(settings, table)
    incoming = rejected.astype(str)
    if path.exists():
        incoming = pd.concat([pd.read_parquet(path), incoming], ignore_index=True)
    incoming = incoming.drop_duplicates(ignore_index=True)
    incoming.to_parquet(path, index=False)
    return len(incoming)


def read(settings: Settings, table: str) -> pd.DataFrame:
    path = dead_letter_path(settings, table)
    return pd.read_parquet(path) if path.exists() else pd.DataFrame(columns=[REASON])
