"""Serving benchmark: latency of the prediction core and throughput of the fast predictor.

Reads the champion model and the online store (run the pipeline first); writes nothing.
Numbers are for this machine only; compare runs, do not assert on them in tests.
"""

from __future__ import annotations

import time

import numpy as np

from .. import schema
from ..features.store import open_store
from ..settings import Settings
from ..training.predictor import model_output
from .core import PredictionService


def _per_call_us(fn, repeat: int) -> np.ndarray:
    timings = np.empty(repeat)
    for k in range(repeat):
        started = time.perf_counter()
        fn()
        timings[k] = time.perf_counter() - started
    return timings * 1e6


def run(settings: Settings, repeat: int = 2000, batch_rows: int = 1000) -> dict:
    """Return p50/p99 single-row latency and batch rows per second, fast path vs estimator."""
    service = PredictionService(settings)
    if service.reload() is None:
        raise RuntimeError("no champion model: run the pipeline (make demo) first")
    frame = open_store(settings).get_training_frame().head(batch_rows)
    users, items = frame[schema.USER_KEY].tolist(), frame[schema.ITEM_KEY].tolist()
    single = _per_call_us(lambda: service.predict(users[:1], items[:1]), repeat)
    vectors = frame[schema.feature_names()].to_numpy()
    bundle, _ = service.registry.load("champion")
    fast = _per_call_us(lambda: bundle["predictor"].predict(vectors), 20)
    slow = _per_call_us(lambda: model_output(bundle["estimator"], vectors), 20)
    return {
        "core_single_row_us": {
            "p50": float(np.percentile(single, 50)),
            "p99": float(np.percentile(single, 99)),
        },
        "fast_predictor_rows_per_s": float(len(vectors) / np.median(fast) * 1e6),
        "estimator_rows_per_s": float(len(vectors) / np.median(slow) * 1e6),
    }
