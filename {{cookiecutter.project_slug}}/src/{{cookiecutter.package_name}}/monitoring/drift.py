"""Drift report: PSI and the Kolmogorov-Smirnov test per feature, reference vs current.

Reference is the training frame; current is the prediction log (or any frame with the
feature columns). PSI below 0.1 is stable, 0.1-0.25 a warning, above 0.25 drift. Writes
``reports/drift.json`` under ``var_dir`` when asked.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from .. import schema


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """Return the population stability index of ``current`` against ``reference``."""
    reference = np.asarray(reference, dtype=np.float64)
    current = np.asarray(current, dtype=np.float64)
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:
        return 0.0 if np.allclose(current, reference[0]) else float("inf")
    edges[0], edges[-1] = -np.inf, np.inf
    expected = np.histogram(reference, edges)[0] / len(reference)
    actual = np.histogram(current, edges)[0] / len(current)
    expected, actual = np.clip(expected, 1e-6, None), np.clip(actual, 1e-6, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def status(value: float, warn: float = 0.1, alert: float = 0.25) -> str:
    return "drift" if value >= alert else "warn" if value >= warn else "ok"


def drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: list[str] | None = None,
    warn: float = 0.1,
    alert: float = 0.25,
) -> dict:
    """Return per-feature PSI, KS statistic and p-value, status, and the overall status."""
    features = features or schema.feature_names()
    rows = {}
    for name in features:
        ref, cur = reference[name].dropna().to_numpy(), current[name].dropna().to_numpy()
        value = psi(ref, cur)
        ks = stats.ks_2samp(ref, cur)
        rows[name] = {
            "psi": value,
            "ks": float(ks.statistic),
            "ks_p_value": float(ks.pvalue),
            "status": status(value, warn, alert),
        }
    worst = max((row["psi"] for row in rows.values()), default=0.0)
    return {
        "status": status(worst, warn, alert),
        "rows": {"reference": len(reference), "current": len(current)},
        "features": rows,
    }


def write_report(report: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    return path
