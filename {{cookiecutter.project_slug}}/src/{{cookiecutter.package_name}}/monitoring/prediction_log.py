"""Prediction log: the most recent served rows with their features, prediction and version.

Keeps fixed-size binary records (a numpy structured dtype: time, entity ids, features, outputs,
model version, variant) in ``logs/predictions-<schema>.bin`` under ``var_dir``: a ring file of
``prediction_log_rows`` records after a 64-byte header (magic, record size, capacity, and the
count of rows ever written, which places the next write). Disk use is bounded whatever the
traffic, the drift report reads exactly the recent window it needs, and once the ring has
wrapped a write overwrites pages the kernel already caches instead of allocating new ones (an
append-only log cost ~30 us more per 256-row batch and grew by ~75 MB/s under batch load).

Formatting JSON would cost more than the model (float repr is ~0.5 us per number, 13 per row),
so records are binary; single rows stay Python tuples and batches the caller's arrays until a
flush converts them all at once (a few numpy calls per flush, not per request).
Records are buffered and written when a record comes ``FLUSH_S`` after the last write or
``FLUSH_BYTES`` are waiting, on ``flush`` (the serving core calls it every
``reload_interval_s``), ``read``, ``close`` and at exit. A write takes an exclusive ``flock`` on
the file (POSIX), so several server processes can share one log; a forked process reopens it.
Rows scored from features sent by the caller have entity ids -1.{% if cookiecutter.contains_pii %} The user id is a pseudonym
(``privacy.py``) and PII-flagged features are written as NaN: personal values never reach the
log, and the drift report lists those features as not monitored.{% endif %} A different feature schema
writes a different file; a file of another capacity, or an append-only log of an earlier
version, is converted on open, keeping its newest rows.
"""

from __future__ import annotations

import atexit
import logging
import os
import struct
import threading
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .. import privacy, schema
from ..settings import Settings
from . import metrics

try:
    import fcntl
except ImportError:  # Windows: no flock, so one process per log file
    fcntl = None  # type: ignore[assignment]

VARIANTS = ("control", "treatment")
NO_ID = -1
FLUSH_S = 0.2
FLUSH_BYTES = 1 << 18
FLUSH_ROWS = 1 << 12
MAGIC = b"MLSDPLG1"
HEADER = struct.Struct("<8sQQQ")  # magic, record size, capacity (records), rows ever written
HEADER_BYTES = 64
WARN_EVERY_S = 60.0
logger = logging.getLogger(__name__)


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


def _column(values: Sequence, counts: Sequence[int], missing: int) -> np.ndarray:
    """Return one int64 column from per-batch values: a scalar, None or one value per row."""
    if all(v is None or isinstance(v, int | np.integer) for v in values):
        return np.repeat([missing if v is None else v for v in values], counts)
    return np.concatenate(
        [
            np.full(n, missing if v is None else v, dtype=np.int64)
            if v is None or isinstance(v, int | np.integer)
            else np.asarray(v, dtype=np.int64)
            for v, n in zip(values, counts, strict=True)
        ]
    )


class LogFormatError(ValueError):
    """The log file holds records of another layout (not this schema's)."""


def _read_at(fd: int, offset: int, size: int) -> bytes:
    os.lseek(fd, offset, os.SEEK_SET)
    chunks = []
    while size > 0:
        chunk = os.read(fd, size)
        if not chunk:
            break
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _write_at(fd: int, offset: int, data: bytes | memoryview) -> None:
    os.lseek(fd, offset, os.SEEK_SET)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class _FileLock:
    """An exclusive ``flock`` on ``fd`` for the ``with`` block (a no-op without fcntl)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __enter__(self) -> None:
        if fcntl is not None:
            fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        if fcntl is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)


class PredictionLog:
    """Thread- and process-safe ring of the last ``prediction_log_rows`` served rows."""

    def __init__(self, settings: Settings) -> None:
        self.path = settings.directory("logs") / f"predictions-{schema.schema_hash()[:12]}.bin"
        self.dtype = record_dtype()
        self.capacity = settings.prediction_log_rows
        self._names = schema.feature_names()
        self._unlogged = [self._names.index(name) for name in privacy.unlogged_features()]
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._pid = 0
        self.dropped_rows = 0
        """Rows lost because the file could not be written (the server kept answering)."""
        self._warned_at = -WARN_EVERY_S
        self._batches: list[tuple] = []
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
        """Keep one record per row of ``vectors``; all kept batches are converted at a flush.

        The arrays are kept, not copied, until then: callers pass arrays they no longer change.
        """
        now = time.time()
        rows = len(vectors)
        with self._lock:
            self._batches.append(
                (now, rows, vectors, predictions, model_version, variants, user_ids, item_ids)
            )
            self._pending_bytes += rows * self.dtype.itemsize
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

    def _row_records(self) -> np.ndarray:
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
        return records

    def _batch_records(self) -> np.ndarray:
        """Return the records of the batches kept by ``write`` (each array copied once)."""
        times, counts, vectors, predictions, versions, variants, users, items = zip(
            *self._batches, strict=True
        )
        self._batches = []
        records = np.empty(sum(counts), dtype=self.dtype)
        records["ts"] = np.repeat(times, counts)
        records[schema.USER_KEY] = _column(users, counts, NO_ID)
        records[schema.ITEM_KEY] = _column(items, counts, NO_ID)
        features, outputs, at = records["features"], records["prediction"], 0
        for rows, scores, n in zip(vectors, predictions, counts, strict=True):
            features[at : at + n] = rows
            outputs[at : at + n] = np.reshape(scores, (n, -1))
            at += n
        records["model_version"] = _column(versions, counts, 0)
        codes = [
            VARIANTS.index(v) if isinstance(v, str) else [VARIANTS.index(x) for x in v]
            for v in variants
        ]
        records["variant"] = _column(codes, counts, 0)
        return records

    def _open(self) -> int:
        """Return the log's descriptor, creating or converting the file (caller holds the lock)."""
        if self._fd is not None and self._pid == os.getpid():
            return self._fd
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            with _FileLock(fd):
                head = _read_at(fd, 0, HEADER.size)
                if len(head) < HEADER.size or HEADER.unpack(head)[:3] != (
                    MAGIC,
                    self.dtype.itemsize,
                    self.capacity,
                ):
                    self._rebuild(fd, self._records(fd))
        except BaseException:
            os.close(fd)
            raise
        self._fd, self._pid = fd, os.getpid()
        return fd

    def _records(self, fd: int) -> bytes:
        """Return every row the file holds, oldest first (caller holds the file lock)."""
        size = self.dtype.itemsize
        head = _read_at(fd, 0, HEADER.size)
        if len(head) == HEADER.size and head[:8] == MAGIC:
            _, record_size, capacity, written = HEADER.unpack(head)
            if record_size != size:
                raise LogFormatError(
                    f"{self.path} holds {record_size}-byte records, this schema writes {size}: "
                    "move the file away"
                )
            kept = min(written, capacity)
            start = written % capacity if written > capacity else 0
            data = _read_at(fd, HEADER_BYTES, kept * size)
            return data[start * size :] + data[: start * size]
        # An append-only log of earlier versions: only its newest rows fit, so only those are
        # read (such a log could hold gigabytes); a torn last record is dropped.
        count = os.fstat(fd).st_size // size
        first = max(0, count - self.capacity)
        return _read_at(fd, first * size, (count - first) * size)

    def _rebuild(self, fd: int, records: bytes) -> None:
        """Rewrite the file as this log's ring holding the newest ``records``."""
        size = self.dtype.itemsize
        records = records[-self.capacity * size :] if records else b""
        os.ftruncate(fd, 0)
        _write_at(fd, 0, HEADER.pack(MAGIC, size, self.capacity, 0))  # empty but valid first
        os.ftruncate(fd, HEADER_BYTES + self.capacity * size)  # sparse until written
        _write_at(fd, HEADER_BYTES, records)
        _write_at(fd, 0, HEADER.pack(MAGIC, size, self.capacity, len(records) // size))

    def _flush(self, now: float) -> None:
        """Write the pending records into the ring (caller holds the lock)."""
        self._flushed_at = now
        pending = []
        if self._batches:
            pending.append(self._batch_records())
        if self._rows:
            pending.append(self._row_records())
        if not pending:
            return
        if self._unlogged:
            for records in pending:
                records["features"][:, self._unlogged] = np.nan
        self._pending_bytes = 0
        data = memoryview(pending[0]).cast("B") if len(pending) == 1 else b"".join(pending)
        try:
            self._write(data)
        except (OSError, LogFormatError) as error:  # a full disk must not fail predictions
            self.dropped_rows += len(data) // self.dtype.itemsize
            metrics.observe_log_dropped(len(data) // self.dtype.itemsize)
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = None  # reopened by the next flush
            if now - self._warned_at >= WARN_EVERY_S:
                self._warned_at = now
                logger.warning(
                    "prediction log %s: %d rows dropped so far: %s",
                    self.path,
                    self.dropped_rows,
                    error,
                )

    def _write(self, data: bytes | memoryview) -> None:
        """Write records into the ring after the newest ones (caller holds the lock)."""
        fd = self._open()
        size = self.dtype.itemsize
        with _FileLock(fd):
            _, _, capacity, written = HEADER.unpack(_read_at(fd, 0, HEADER.size))
            count = len(data) // size
            if count > capacity:  # more than the ring holds: only the newest rows survive
                data, written = data[-capacity * size :], written + count - capacity
                count = capacity
            slot = written % capacity
            first = min(count, capacity - slot) * size
            _write_at(fd, HEADER_BYTES + slot * size, data[:first])
            if first < len(data):
                _write_at(fd, HEADER_BYTES, data[first:])
            _write_at(fd, 0, HEADER.pack(MAGIC, size, capacity, written + count))

    def purge_older_than(self, cutoff: float) -> int:
        """Delete the rows logged before ``cutoff`` (epoch seconds); return how many."""
        with self._lock:
            self._flush(time.time())
            fd = self._open()
            with _FileLock(fd):
                records = np.frombuffer(self._records(fd), dtype=self.dtype)
                old = records["ts"] < cutoff
                if old.any():
                    self._rebuild(fd, records[~old].tobytes())
        return int(old.sum())

    def flush(self) -> None:
        with self._lock:
            self._flush(time.time())

    def close(self) -> None:
        with self._lock:
            self._flush(time.time())
            if self._fd is not None and self._pid == os.getpid():
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
        """Return the logged rows, oldest first (empty frame when nothing was served yet)."""
        with self._lock:
            self._flush(time.time())
            if not self.path.exists():
                data = b""
            else:
                fd = self._open()
                with _FileLock(fd):
                    data = self._records(fd)
        records = np.frombuffer(data, dtype=self.dtype)
        frame = pd.DataFrame(records["features"], columns=self._names)
        frame.insert(0, "ts", records["ts"])
        frame.insert(1, schema.USER_KEY, records[schema.USER_KEY])
        frame.insert(2, schema.ITEM_KEY, records[schema.ITEM_KEY])
        outputs = records["prediction"]
        frame["prediction"] = outputs[:, 0] if outputs.shape[1] == 1 else list(outputs)
        frame["model_version"] = records["model_version"]
        frame["variant"] = np.asarray(VARIANTS)[records["variant"]]
        return frame
