"""Prediction log: every served row with its features, prediction and model version.

Appends fixed-size binary records (a numpy structured dtype: time, entity ids, features,
outputs, model version, variant) to ``logs/predictions-<schema>.bin`` under ``var_dir``.
Formatting JSON would cost more than the model (float repr is ~0.5 us per number, 13 per row),
so a 256-row batch would spend milliseconds logging; a binary record is a few microseconds
whatever the row count (single rows stay Python tuples until a flush converts them all at
once). Records are buffered and written (one O_APPEND ``write``, so processes can share the
file) when a record comes ``FLUSH_S`` after the last write or ``FLUSH_BYTES`` are waiting, on
``flush`` (the serving core calls it every ``reload_interval_s``), ``read``, ``close`` and at
exit. Rows scored from features sent by the caller have
entity ids -1. The drift report reads the log back as a frame (``read``); a different feature
schema writes a different file.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .. import schema
from ..settings import Settings

VARIANTS = ("control", "treatment")
NO_ID = -1
FLUSH_S = 0.2
FLUSH_BYTES = 1 << 16
FLUSH_ROWS = 1 << 12


def n_outputs(task: str = schema.TASK) -> int:
    """Return the number of model outputs per row for ``task``."""
    return schema.N_CLASSES if task in ("multiclass", "multilabel") else 1


def record_dtype() -> np.dtype:
    return np.dtype(
        [
            ("ts", "<f8"),
            (schema.USER_KEY, "<i8"),
            (schema.ITEM_KEY, "<i8"),
            ("features", "<f8", (len(schema.feature_names()),)),
            ("prediction", "<f8", (n_outputs(),)),
            ("model_version", "<i8"),
            ("variant", "u1"),
        ]
    )


class PredictionLog:
    """Thread- and process-safe append-only log of served predictions (O_APPEND writes)."""

    def __init__(self, settings: Settings) -> None:
        self.path = settings.directory("logs") / f"predictions-{schema.schema_hash()[:12]}.bin"
        self.dtype = record_dtype()
        self._names = schema.feature_names()
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._pending: list[bytes] = []
        self._rows: list[tuple] = []
        self._pending_bytes = 0
        self._flushed_at = 0.0
        atexit.register(self.close)

    def write(
        self,
        vectors: np.ndarray,
        predictions: np.ndarray,
        model_version: int | Sequence[int],
        variants: str | Sequence[str] = "control",
        user_ids: Sequence[int] | None = None,
        item_ids: Sequence[int] | None = None,
    ) -> None:
        """Append one record per row of ``vectors`` in a single write."""
        now = time.time()
        records = np.empty(len(vectors), dtype=self.dtype)
        records["ts"] = now
        records[schema.USER_KEY] = NO_ID if user_ids is None else user_ids
        records[schema.ITEM_KEY] = NO_ID if item_ids is None else item_ids
        records["features"] = vectors
        records["prediction"] = np.reshape(predictions, (len(vectors), -1))
        records["model_version"] = model_version
        if isinstance(variants, str):
            records["variant"] = VARIANTS.index(variants)
        else:
            records["variant"] = [VARIANTS.index(v) for v in variants]
        data = records.tobytes()
        with self._lock:
            self._pending.append(data)
            self._pending_bytes += len(data)
            if now - self._flushed_at >= FLUSH_S or self._pending_bytes >= FLUSH_BYTES:
                self._flush(now)

    def write_row(
        self,
        row: Sequence[float],
        prediction: float | Sequence[float],
        model_version: int,
        variant: str = "control",
        user_id: int = NO_ID,
        item_id: int = NO_ID,
    ) -> None:
        """Append one scored row; kept as Python data until a flush converts them all at once."""
        now = time.time()
        with self._lock:
            self._rows.append((now, model_version, prediction, row, variant, user_id, item_id))
            if now - self._flushed_at >= FLUSH_S or len(self._rows) >= FLUSH_ROWS:
                self._flush(now)

    def _row_records(self) -> bytes:
        """Return the records of the rows kept by ``write_row`` (one conversion for all)."""
        times, versions, predictions, rows, variants, users, items = zip(*self._rows, strict=True)
        self._rows = []
        records = np.empty(len(rows), dtype=self.dtype)
        records["ts"] = times
        records[schema.USER_KEY] = users
        records[schema.ITEM_KEY] = items
        records["features"] = rows
        records["prediction"] = np.reshape(predictions, (len(rows), -1))
        records["model_version"] = versions
        records["variant"] = [VARIANTS.index(v) for v in variants]
        return records.tobytes()

    def _flush(self, now: float) -> None:
        """Write the pending records (caller holds the lock)."""
        self._flushed_at = now
        if self._rows:
            self._pending.append(self._row_records())
        if not self._pending:
            return
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        data = b"".join(self._pending)
        self._pending, self._pending_bytes = [], 0
        while data:
            data = data[os.write(self._fd, data) :]

    def flush(self) -> None:
        with self._lock:
            self._flush(time.time())

    def close(self) -> None:
        with self._lock:
            self._flush(time.time())
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def append(
        self,
        user_ids: Sequence[int],
        item_ids: Sequence[int],
        vectors: np.ndarray,
        results: list[dict],
    ) -> None:
        """Append rows scored by entity id, with the core's per-row results."""
        if len(results) == 1:  # the online path: one row, no numpy conversion until the flush
            result = results[0]
            self.write_row(
                vectors[0],
                result["prediction"],
                result["model_version"],
                result["variant"],
                int(user_ids[0]),
                int(item_ids[0]),
            )
            return
        self.write(
            vectors,
            np.array([np.ravel(r["prediction"]) for r in results], dtype=np.float64),
            [r["model_version"] for r in results],
            [r["variant"] for r in results],
            user_ids,
            item_ids,
        )

    def read(self) -> pd.DataFrame:
        """Return the logged rows (empty frame when nothing was served yet)."""
        self.flush()
        data = self.path.read_bytes() if self.path.exists() else b""
        size = self.dtype.itemsize
        records = np.frombuffer(data[: len(data) // size * size], dtype=self.dtype)
        frame = pd.DataFrame(records["features"], columns=self._names)
        frame.insert(0, "ts", records["ts"])
        frame.insert(1, schema.USER_KEY, records[schema.USER_KEY])
        frame.insert(2, schema.ITEM_KEY, records[schema.ITEM_KEY])
        outputs = records["prediction"]
        frame["prediction"] = outputs[:, 0] if outputs.shape[1] == 1 else list(outputs)
        frame["model_version"] = records["model_version"]
        frame["variant"] = np.asarray(VARIANTS)[records["variant"]]
        return frame
