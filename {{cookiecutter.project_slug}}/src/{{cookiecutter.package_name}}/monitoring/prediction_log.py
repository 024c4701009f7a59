"""Prediction log: every served row with its features, prediction and model version.

Appends JSON lines to ``logs/predictions.jsonl`` under ``var_dir``; the drift report reads it
back as a frame and compares its feature distributions with the training data.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from typing import TextIO

import numpy as np
import pandas as pd

from .. import schema
from ..settings import Settings


class PredictionLog:
    """Thread-safe append-only log of served predictions."""

    def __init__(self, settings: Settings) -> None:
        self.path = settings.directory("logs") / "predictions.jsonl"
        self._lock = threading.Lock()
        self._names = schema.feature_names()
        self._handle: TextIO | None = None

    def append(
        self,
        user_ids: Sequence[int],
        item_ids: Sequence[int],
        vectors: np.ndarray,
        results: list[dict],
    ) -> None:
        now = time.time()
        lines = []
        for user, item, vector, result in zip(
            user_ids, item_ids, vectors.tolist(), results, strict=True
        ):
            row = {"ts": now, schema.USER_KEY: int(user), schema.ITEM_KEY: int(item), **result}
            row.update(zip(self._names, vector, strict=True))
            lines.append(json.dumps(row))
        with self._lock:
            if self._handle is None:
                self._handle = self.path.open("a", encoding="utf-8")
            self._handle.write("\n".join(lines) + "\n")
            self._handle.flush()

    def read(self) -> pd.DataFrame:
        """Return the logged rows (empty frame when nothing was served yet)."""
        if not self.path.exists():
            return pd.DataFrame(columns=["ts", *self._names, "prediction", "model_version"])
        return pd.read_json(self.path, lines=True)
