"""Shadow mode: the challenger scores live requests off the request path, for comparison only.

``ShadowScorer.submit`` puts a request (its feature rows and the champion's answers) on a
bounded queue and returns at once; one daemon thread scores it with the challenger and appends
both answers to the shadow log. When the queue is full the request is dropped and counted
(``dropped_rows``{% if cookiecutter.monitoring %}, Prometheus ``shadow_dropped_rows_total``{% endif %}); a challenger that raises is counted
(``errors``{% if cookiecutter.monitoring %}, ``shadow_errors_total``{% endif %}) and logged. Callers only ever get the champion's answer.

The shadow log, ``logs/shadow-<schema>.bin`` under ``var_dir``, follows the prediction log's
rules: it keeps the same entity ids (-1 for rows sent as features) and nothing more (no
features), and it is bounded by the same ``prediction_log_rows``: when the file holds that
many records it becomes ``.1`` (replacing the older one) and a new file starts. Appends hold an
exclusive ``flock`` (POSIX) so ``purge_older_than`` (the ``purge`` verb) can rewrite the files
without losing a record written meanwhile.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .. import schema
{%- if cookiecutter.monitoring %}
from ..monitoring import metrics
{%- endif %}
from ..settings import Settings

try:
    import fcntl
except ImportError:  # Windows: no flock, so one process per log file
    fcntl = None  # type: ignore[assignment]

NO_ID = -1
WARN_EVERY_S = 60.0
logger = logging.getLogger(__name__)


def n_outputs() -> int:
    return schema.N_CLASSES if schema.TASK in ("multiclass", "multilabel") else 1


def record_dtype() -> np.dtype:
    width = n_outputs()
    return np.dtype(
        [
            ("ts", "<f8"),
            (schema.USER_KEY, "<i8"),
            (schema.ITEM_KEY, "<i8"),
            ("champion", "<f8", (width,)),
            ("champion_version", "<i8"),
            ("shadow", "<f8", (width,)),
            ("shadow_version", "<i8"),
        ]
    )


class ShadowLog:
    """Append-only binary records of (time, ids, champion and shadow outputs and versions)."""

    def __init__(self, settings: Settings) -> None:
        self.path = settings.directory("logs") / f"shadow-{schema.schema_hash()[:12]}.bin"
        self.dtype = record_dtype()
        self.capacity = settings.prediction_log_rows

    def append(self, records: np.ndarray) -> None:
        """Append whole records (one ``write`` with O_APPEND); rotate at ``capacity`` records."""
        size = self.path.stat().st_size if self.path.exists() else 0
        if size // self.dtype.itemsize >= self.capacity:
            os.replace(self.path, self.path.with_suffix(".bin.1"))
        while True:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            _lock(fd)
            if os.fstat(fd).st_nlink:
                break
            os.close(fd)  # ``purge_older_than`` replaced the file meanwhile: append to the new one
        try:
            os.write(fd, records.tobytes())
        finally:
            os.close(fd)  # closing releases the lock

    def purge_older_than(self, cutoff: float) -> int:
        """Delete the records logged before ``cutoff`` (epoch seconds); return how many."""
        removed = 0
        for path in (self.path.with_suffix(".bin.1"), self.path):
            if not path.exists():
                continue
            fd = os.open(path, os.O_RDONLY)
            try:
                _lock(fd)
                data = os.pread(fd, os.fstat(fd).st_size, 0)
                usable = len(data) - len(data) % self.dtype.itemsize
                records = np.frombuffer(data[:usable], dtype=self.dtype)
                old = records["ts"] < cutoff
                if old.any():
                    partial = path.with_name(f"{path.name}.purge.tmp")
                    partial.write_bytes(records[~old].tobytes())
                    os.replace(partial, path)
                    removed += int(old.sum())
            finally:
                os.close(fd)
        return removed

    def read(self) -> pd.DataFrame:
        """Return the logged rows, oldest first: ids, ``champion``, ``shadow`` and versions."""
        data = b"".join(
            p.read_bytes() for p in (self.path.with_suffix(".bin.1"), self.path) if p.exists()
        )
        usable = len(data) - len(data) % self.dtype.itemsize
        records = np.frombuffer(data[:usable], dtype=self.dtype)
        frame = pd.DataFrame(
            {name: records[name] for name in ("ts", schema.USER_KEY, schema.ITEM_KEY)}
        )
        for name in ("champion", "shadow"):
            outputs = records[name]
            frame[name] = outputs[:, 0] if outputs.shape[1] == 1 else list(outputs)
            frame[f"{name}_version"] = records[f"{name}_version"]
        return frame


def _lock(fd: int) -> None:
    """Hold an exclusive ``flock`` on ``fd`` until it is closed (a no-op without fcntl)."""
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX)


def compare(frame: pd.DataFrame) -> dict:
    """Return how the shadow model's outputs differ from the champion's on the same rows."""
    if frame.empty:
        return {"rows": 0}
    champion = np.vstack(frame["champion"].map(np.ravel))
    shadow = np.vstack(frame["shadow"].map(np.ravel))
    gap = np.abs(shadow - champion)
    if champion.shape[1] > 1:  # classes: the same top class
        agree = champion.argmax(axis=1) == shadow.argmax(axis=1)
    elif schema.TASK == "binary_classification":
        agree = (champion[:, 0] >= 0.5) == (shadow[:, 0] >= 0.5)
    else:
        agree = gap[:, 0] <= 1e-9 + 0.05 * np.abs(champion[:, 0])
    return {
        "rows": len(frame),
        "champion_versions": sorted(int(v) for v in frame["champion_version"].unique()),
        "shadow_versions": sorted(int(v) for v in frame["shadow_version"].unique()),
        "mean_abs_diff": float(gap.mean()),
        "max_abs_diff": float(gap.max()),
        "agreement": float(agree.mean()),
    }


class ShadowScorer:
    """A bounded queue and one daemon thread that scores queued requests with the challenger."""

    def __init__(self, settings: Settings) -> None:
        self.log = ShadowLog(settings)
        self.queue: queue.Queue = queue.Queue(maxsize=settings.shadow_queue_size)
        self.dropped_rows = 0
        self.errors = 0
        self.scored_rows = 0
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._warned_at = -WARN_EVERY_S

    def submit(
        self,
        challenger,
        champion_version: int,
        vectors: np.ndarray | Sequence[Sequence[float]],
        champion_outputs: Sequence,
        user_ids: Sequence[int] | None = None,
        item_ids: Sequence[int] | None = None,
    ) -> bool:
        """Queue one request for the challenger; return False when it was dropped (queue full)."""
        if self._thread is None:
            self._start()
        job = (time.time(), challenger, champion_version, vectors, champion_outputs)
        job += (user_ids, item_ids)
        try:
            self.queue.put_nowait(job)
        except queue.Full:
            rows = len(vectors)
            with self._lock:
                self.dropped_rows += rows
{%- if cookiecutter.monitoring %}
            metrics.observe_shadow_dropped(rows)
{%- endif %}
            return False
        return True

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="shadow", daemon=True)
                self._thread.start()

    def _work(self) -> None:
        while True:
            job = self.queue.get()
            try:
                self._score(*job)
            except Exception:  # the challenger's failure never reaches a caller
                self.errors += 1
{%- if cookiecutter.monitoring %}
                metrics.observe_shadow_error()
{%- endif %}
                now = time.monotonic()
                if now - self._warned_at >= WARN_EVERY_S:
                    self._warned_at = now
                    logger.exception("shadow model failed (%d failures so far)", self.errors)
            finally:
                self.queue.task_done()

    def _score(self, ts, challenger, champion_version, vectors, outputs, users, items) -> None:
        matrix = np.asarray(vectors, dtype=np.float64).reshape(len(vectors), -1)
        shadow = np.asarray(challenger.predictor.predict(matrix), dtype=np.float64)
        records = np.empty(len(matrix), dtype=self.log.dtype)
        records["ts"] = ts
        records[schema.USER_KEY] = NO_ID if users is None else users
        records[schema.ITEM_KEY] = NO_ID if items is None else items
        records["champion"] = np.asarray(outputs, dtype=np.float64).reshape(len(matrix), -1)
        records["champion_version"] = champion_version
        records["shadow"] = shadow.reshape(len(matrix), -1)
        records["shadow_version"] = challenger.version
        self.log.append(records)
        self.scored_rows += len(matrix)

    def drain(self, timeout_s: float = 60.0) -> bool:
        """Wait until every queued request was scored (or failed); False if ``timeout_s`` passed."""
        deadline = time.monotonic() + timeout_s
        with self.queue.all_tasks_done:
            while self.queue.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.queue.all_tasks_done.wait(remaining)
        return True

    @property
    def pending(self) -> int:
        """Requests queued or being scored."""
        return self.queue.unfinished_tasks
