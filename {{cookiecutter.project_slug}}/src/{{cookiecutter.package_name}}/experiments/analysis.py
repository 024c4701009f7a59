"""Experiment statistics: sample size, z-test, Welch t-test, SRM check, guardrails, verdict.

``analyze`` joins the exposure log the server writes (``experiments/exposures.jsonl`` under
``var_dir``: experiment, unit, variant, time) with an outcomes file (Parquet or CSV: one row per
unit or per event, the unit id in the ``schema.USER_KEY`` column, an optional ``event_time`` and
numeric metric columns), tests every metric per variant and returns a verdict: ship, do not
ship, inconclusive or invalid (SRM). It writes nothing; the CLI prints the report and saves it
under ``reports/``. ``plan`` sizes an experiment; ``simulate_outcomes`` makes outcomes of a
known lift for the demo.{% if cookiecutter.contains_pii %} The exposure log holds pseudonymized unit ids (``privacy.py``);
the outcomes file holds raw ids, pseudonymized with the same key on read so the two join.{% endif %}
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from .. import privacy, schema
from ..privacy import Pseudonymizer
from ..settings import Settings

SRM_THRESHOLD = 0.001
VARIANTS = ("control", "treatment")
SHIP, DO_NOT_SHIP, INCONCLUSIVE, INVALID = "ship", "do not ship", "inconclusive", "invalid (SRM)"


def sample_size_exact(
    baseline_rate: float,
    min_detectable_effect: float,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
) -> float:
    """Return control units: (z_{1-a/2} + z_power)^2 (s1^2 + s2^2 / ratio) / delta^2.

    s1^2 = p (1 - p) at the baseline rate p, s2^2 the same at p + delta; the
    ``min_detectable_effect`` delta is absolute (0.01 = one percentage point) and ``ratio`` is
    treatment units per control unit.
    """
    treated = baseline_rate + min_detectable_effect
    if not 0 < baseline_rate < 1 or min_detectable_effect <= 0 or treated >= 1:
        raise ValueError(
            "baseline_rate must be in (0, 1), min_detectable_effect positive and their sum below 1"
        )
    if not 0 < alpha < 1 or not 0 < power < 1 or ratio <= 0:
        raise ValueError("alpha and power must be in (0, 1) and ratio positive")
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    variance = baseline_rate * (1 - baseline_rate) + treated * (1 - treated) / ratio
    return float(z**2 * variance / min_detectable_effect**2)


def sample_size(
    baseline_rate: float,
    min_detectable_effect: float,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
) -> int:
    """Return control units (rounded up); treatment needs ``ratio`` times as many."""
    return math.ceil(sample_size_exact(baseline_rate, min_detectable_effect, alpha, power, ratio))


def minimum_detectable_effect(
    baseline_rate: float,
    control_units: int,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
) -> float:
    """Return the absolute lift ``control_units`` (and ``ratio`` x as many treated) detect.

    Solves ``sample_size_exact(baseline_rate, delta) == control_units`` for delta (a quadratic).
    """
    if not 0 < baseline_rate < 1 or control_units <= 0 or ratio <= 0:
        raise ValueError("baseline_rate must be in (0, 1), control_units and ratio positive")
    z2 = (stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) ** 2
    p = baseline_rate
    a = control_units + z2 / ratio
    b = -z2 * (1 - 2 * p) / ratio
    c = -z2 * p * (1 - p) * (1 + 1 / ratio)
    return float((-b + math.sqrt(b * b - 4 * a * c)) / (2 * a))


def plan(
    baseline_rate: float,
    min_detectable_effect: float,
    alpha: float = 0.05,
    power: float = 0.8,
    treatment_share: float = 0.5,
    daily_units: int | None = None,
) -> dict:
    """Return units per variant for the split and, given eligible units a day, the days."""
    if not 0 < treatment_share < 1:
        raise ValueError("treatment_share must be in (0, 1)")
    ratio = treatment_share / (1 - treatment_share)
    control = sample_size(baseline_rate, min_detectable_effect, alpha, power, ratio)
    treatment = math.ceil(control * ratio)
    result = {
        "baseline_rate": baseline_rate,
        "min_detectable_effect": min_detectable_effect,
        "alpha": alpha,
        "power": power,
        "treatment_share": treatment_share,
        "units_per_variant": {"control": control, "treatment": treatment},
        "units_total": control + treatment,
    }
    if daily_units is not None:
        if daily_units <= 0:
            raise ValueError("daily_units must be positive")
        days = math.ceil((control + treatment) / daily_units)
        weeks = math.ceil(days / 7)
        result.update(daily_units=daily_units, days=days, days_in_full_weeks=7 * weeks)
    return result


def two_proportion_test(
    conv_a: int, n_a: int, conv_b: int, n_b: int, alpha: float = 0.05
) -> dict[str, float | list[float]]:
    """Return B's rate minus A's, the pooled z-test and an unpooled (Wald) confidence interval."""
    if n_a <= 0 or n_b <= 0 or not 0 <= conv_a <= n_a or not 0 <= conv_b <= n_b:
        raise ValueError("each variant needs units and 0 <= conversions <= units")
    p_a, p_b = conv_a / n_a, conv_b / n_b
    pooled = (conv_a + conv_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    diff = p_b - p_a
    z = diff / se if se > 0 else 0.0
    half = stats.norm.ppf(1 - alpha / 2) * math.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
    return {
        "control": p_a,
        "treatment": p_b,
        "diff": diff,
        "ci": [diff - half, diff + half],
        "z": z,
        "p_value": float(2 * stats.norm.sf(abs(z))),
    }


def welch_test(
    control: Sequence[float], treatment: Sequence[float], alpha: float = 0.05
) -> dict[str, float | list[float]]:
    """Return the difference of means (treatment - control), Welch's t-test and its interval."""
    a, b = np.asarray(control, dtype=np.float64), np.asarray(treatment, dtype=np.float64)
    if len(a) < 2 or len(b) < 2:
        raise ValueError("the Welch t-test needs at least 2 units per variant")
    var_a, var_b = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(var_a + var_b)
    diff = float(b.mean() - a.mean())
    if se == 0:
        return {
            "control": float(a.mean()),
            "treatment": float(b.mean()),
            "diff": diff,
            "ci": [diff, diff],
            "t": 0.0 if diff == 0 else math.copysign(math.inf, diff),
            "df": float(len(a) + len(b) - 2),
            "p_value": 1.0 if diff == 0 else 0.0,
        }
    df = (var_a + var_b) ** 2 / (var_a**2 / (len(a) - 1) + var_b**2 / (len(b) - 1))
    t = diff / se
    half = float(stats.t.ppf(1 - alpha / 2, df)) * se
    return {
        "control": float(a.mean()),
        "treatment": float(b.mean()),
        "diff": diff,
        "ci": [diff - half, diff + half],
        "t": t,
        "df": float(df),
        "p_value": float(2 * stats.t.sf(abs(t), df)),
    }


def sample_ratio_mismatch(
    counts: Sequence[int], expected_shares: Sequence[float], threshold: float = SRM_THRESHOLD
) -> dict:
    """Chi-square test of units per variant against the planned split; mismatch if p < threshold."""
    if len(counts) != len(expected_shares) or abs(sum(expected_shares) - 1) > 1e-9:
        raise ValueError("give one expected share per variant, summing to 1")
    total = sum(counts)
    expected = [share * total for share in expected_shares]
    statistic = sum((o - e) ** 2 / e for o, e in zip(counts, expected, strict=True) if e > 0)
    p_value = float(stats.chi2.sf(statistic, len(counts) - 1)) if total else 1.0
    return {
        "counts": list(counts),
        "expected": expected,
        "chi2": float(statistic),
        "p_value": p_value,
        "mismatch": bool(p_value < threshold),
    }


def is_rate(values: pd.Series) -> bool:
    """A metric whose values are all 0 or 1 (conversions) is a rate; anything else a mean."""
    present = values.dropna()
    return len(present) > 0 and bool(present.isin([0, 1]).all())


def compare_metric(control: pd.Series, treatment: pd.Series, rate: bool, alpha: float) -> dict:
    """Return the z-test of a rate or the Welch t-test of a mean, with its decision inputs."""
    if rate:
        result = two_proportion_test(
            int(control.sum()), len(control), int(treatment.sum()), len(treatment), alpha
        )
        result = {"kind": "rate", "test": "two-proportion z-test", **result}
    else:
        result = {"kind": "mean", "test": "Welch t-test", **welch_test(control, treatment, alpha)}
    result["units"] = {"control": len(control), "treatment": len(treatment)}
    result["significant"] = bool(result["p_value"] < alpha)
    return result


def guardrail_check(result: dict, higher_is_better: bool, max_regression: float) -> dict:
    """Block when the whole interval of the difference is worse than the allowed regression.

    ``max_regression`` is relative to the control value (0.05: up to 5% worse is allowed).
    """
    low, high = result["ci"]
    harm_low = -high if higher_is_better else low
    allowed = max_regression * abs(result["control"])
    return {
        "higher_is_better": higher_is_better,
        "max_regression": max_regression,
        "allowed_regression": allowed,
        "regression_at_least": harm_low,
        "blocked": bool(harm_low > allowed),
    }


def verdict(srm: dict, primary: dict, higher_is_better: bool, guardrails: list[dict]) -> dict:
    """Return the decision and its one-line reason: SRM first, then guardrails, then the metric."""
    if srm["mismatch"]:
        return {
            "verdict": INVALID,
            "reason": f"SRM: do not trust this result (p={srm['p_value']:.2g} < {SRM_THRESHOLD})",
        }
    blocked = [g["metric"] for g in guardrails if g["blocked"]]
    if blocked:
        return {"verdict": DO_NOT_SHIP, "reason": f"guardrail regressed: {', '.join(blocked)}"}
    better = primary["diff"] > 0 if higher_is_better else primary["diff"] < 0
    if not primary["significant"]:
        return {"verdict": INCONCLUSIVE, "reason": "primary metric: no significant difference"}
    if better:
        return {"verdict": SHIP, "reason": "primary metric improved significantly"}
    return {"verdict": DO_NOT_SHIP, "reason": "primary metric got significantly worse"}


def read_exposures(path: Path, experiment: str) -> tuple[pd.DataFrame, int]:
    """Return one row per unit (unit, variant, first exposure time) and the count of mixed units."""
    rows = []
    if path.exists():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number} is not JSON: {error}") from error
            if row.get("experiment") == experiment:
                rows.append((str(row["unit"]), row["variant"], float(row.get("ts", 0.0))))
    frame = pd.DataFrame(rows, columns=["unit", "variant", "exposed_at"])
    variants = frame.groupby("unit")["variant"].nunique()
    mixed = set(variants[variants > 1].index)
    frame = frame[~frame["unit"].isin(mixed)]
    first = frame.groupby("unit", as_index=False).agg(
        variant=("variant", "first"), exposed_at=("exposed_at", "min")
    )
    return first, len(mixed)


def read_outcomes(path: Path, pseudonyms: Pseudonymizer | None = None) -> pd.DataFrame:
    """Return the outcomes file (Parquet or CSV) with ``unit`` and epoch-second ``event_time``.

    ``pseudonyms``: the file holds raw ids; they are pseudonymized to match the exposure log.
    """
    if not path.exists():
        raise ValueError(f"outcomes file {path} does not exist")
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
    elif path.suffix == ".csv":
        frame = pd.read_csv(path)
    else:
        raise ValueError(f"outcomes file {path} must be .parquet or .csv")
    if schema.USER_KEY not in frame.columns:
        raise ValueError(f"outcomes file {path} has no {schema.USER_KEY} column (the unit id)")
    frame = frame.rename(columns={schema.USER_KEY: "unit"})
    if pseudonyms is not None:
        if not pd.api.types.is_integer_dtype(frame["unit"]):
            raise ValueError(f"outcomes file {path}: {schema.USER_KEY} must hold integer ids")
        frame["unit"] = pseudonyms.column(frame["unit"])
    frame["unit"] = frame["unit"].astype(str)
    if schema.EVENT_TIME in frame.columns:
        times = frame[schema.EVENT_TIME]
        if not pd.api.types.is_numeric_dtype(times):
            times = pd.to_datetime(times, utc=True).astype("int64") / 1e9
        frame[schema.EVENT_TIME] = times.astype(np.float64)
    return frame


def analyze(settings: Settings, outcomes: Path, exposures: Path | None = None) -> dict:
    """Join exposures with outcomes per unit; return each metric's test, SRM and a verdict."""
    if not outcomes.is_file():
        raise ValueError(f"outcomes file {outcomes} does not exist")
    exposures = exposures or settings.directory("experiments") / "exposures.jsonl"
    experiment = settings.experiment_salt
    units, mixed = read_exposures(exposures, experiment)
    counts = [int((units["variant"] == v).sum()) for v in VARIANTS]
    if min(counts) == 0:
        raise ValueError(
            f"{exposures} has no exposures of both variants for experiment {experiment!r}: "
            "serve traffic with a challenger first"
        )
    share = settings.treatment_share
    srm = sample_ratio_mismatch(counts, [1 - share, share])
    frame = read_outcomes(outcomes, Pseudonymizer(settings) if privacy.ENABLED else None)
    guardrails = {g.metric: g for g in settings.experiment_guardrails}
    wanted = [settings.experiment_metric, *guardrails]
    missing = [name for name in wanted if name not in frame.columns]
    if missing:
        raise ValueError(f"outcomes file {outcomes} has no column {', '.join(missing)}")
    names = [
        c
        for c in frame.columns
        if c not in ("unit", schema.EVENT_TIME) and pd.api.types.is_numeric_dtype(frame[c])
    ]
    not_numeric = [name for name in wanted if name not in names]
    if not_numeric:
        raise ValueError(f"outcomes file {outcomes}: {', '.join(not_numeric)} must be numeric")
    rates = {name: is_rate(frame[name]) for name in names}
    known = frame["unit"].isin(units["unit"])
    joined = frame[known].merge(units, on="unit")
    early = 0
    if schema.EVENT_TIME in joined.columns:
        after = joined[schema.EVENT_TIME] >= joined["exposed_at"]
        early, joined = int((~after).sum()), joined[after]
    per_unit = joined.groupby("unit").agg({n: "max" if rates[n] else "mean" for n in names})
    table = units.set_index("unit").join(per_unit)
    metrics = {}
    for name in names:
        column = table[name].fillna(0) if rates[name] else table[name].dropna()
        variant = table.loc[column.index, "variant"]
        try:
            metrics[name] = compare_metric(
                column[variant == "control"],
                column[variant == "treatment"],
                rates[name],
                settings.experiment_alpha,
            )
        except ValueError as error:
            raise ValueError(f"metric {name}: {error}") from error
    checks = [
        {"metric": name, **guardrail_check(metrics[name], g.higher_is_better, g.max_regression)}
        for name, g in guardrails.items()
    ]
    primary = settings.experiment_metric
    decision = verdict(srm, metrics[primary], settings.experiment_metric_higher_is_better, checks)
    return {
        "experiment": experiment,
        "units": dict(zip(VARIANTS, counts, strict=True)),
        "mixed_units": mixed,
        "outcome_rows": {
            "read": len(frame),
            "without_exposure": int((~known).sum()),
            "before_exposure": early,
        },
        "alpha": settings.experiment_alpha,
        "srm": srm,
        "primary_metric": primary,
        "metrics": metrics,
        "guardrails": checks,
        **decision,
    }


def simulate_outcomes(
    units: Sequence[int],
    variants: Sequence[str],
    exposed_at: float,
    rate: float = 0.10,
    lift: float = 0.05,
    seed: int = 0,
) -> pd.DataFrame:
    """Return one outcome row per unit: conversion at ``rate`` (+ ``lift`` when treated),
    revenue from converters, and a latency guardrail that is the same in both variants."""
    rng = np.random.default_rng(seed)
    treated = np.asarray(variants) == "treatment"
    converted = (rng.random(len(units)) < rate + lift * treated).astype(np.int64)
    return pd.DataFrame(
        {
            schema.USER_KEY: np.asarray(units, dtype=np.int64),
            schema.EVENT_TIME: pd.to_datetime(
                exposed_at + rng.uniform(1, 3600, len(units)), unit="s", utc=True
            ),
            "converted": converted,
            "revenue": converted * rng.gamma(2.0, 15.0, len(units)),
            "latency_ms": rng.normal(120.0, 15.0, len(units)),
        }
    )
