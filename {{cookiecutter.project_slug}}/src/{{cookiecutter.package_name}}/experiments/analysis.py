"""Experiment analysis: sample size, two-proportion z-test and sample-ratio mismatch.

Reads conversion counts per variant (from the exposure log and outcomes); writes nothing.
``simulate`` produces counts for a known lift so the demo and tests can check the maths.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def sample_size(
    baseline_rate: float, min_detectable_effect: float, alpha: float = 0.05, power: float = 0.8
) -> int:
    """Return units per variant: n = (z_{1-a/2} + z_{power})^2 * 2 p (1 - p) / delta^2."""
    if not 0 < baseline_rate < 1 or min_detectable_effect <= 0:
        raise ValueError("baseline_rate must be in (0, 1) and min_detectable_effect positive")
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    variance = 2 * baseline_rate * (1 - baseline_rate)
    return math.ceil(z**2 * variance / min_detectable_effect**2)


def two_proportion_test(conv_a: int, n_a: int, conv_b: int, n_b: int) -> dict[str, float]:
    """Return the lift of B over A, the pooled z statistic and its two-sided p-value."""
    p_a, p_b = conv_a / n_a, conv_b / n_b
    pooled = (conv_a + conv_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    z = (p_b - p_a) / se if se > 0 else 0.0
    return {
        "rate_a": p_a,
        "rate_b": p_b,
        "lift": p_b - p_a,
        "z": z,
        "p_value": float(2 * stats.norm.sf(abs(z))),
    }


def sample_ratio_mismatch(
    counts: list[int], expected_shares: list[float], threshold: float = 0.001
) -> dict:
    """Chi-square test that units split as designed; ``mismatch`` when p < threshold."""
    total = sum(counts)
    expected = [share * total for share in expected_shares]
    statistic, p_value = stats.chisquare(counts, expected)
    return {
        "chi2": float(statistic),
        "p_value": float(p_value),
        "mismatch": bool(p_value < threshold),
    }


def simulate(n_per_variant: int, rate_a: float, lift: float, seed: int = 0) -> dict[str, int]:
    """Return simulated conversions for control (``rate_a``) and treatment (``rate_a + lift``)."""
    rng = np.random.default_rng(seed)
    return {
        "n_a": n_per_variant,
        "conv_a": int(rng.binomial(n_per_variant, rate_a)),
        "n_b": n_per_variant,
        "conv_b": int(rng.binomial(n_per_variant, rate_a + lift)),
    }


def analyze(counts: dict[str, int], alpha: float = 0.05) -> dict:
    """Return the test, the SRM check and the decision for simulated or logged counts."""
    test = two_proportion_test(counts["conv_a"], counts["n_a"], counts["conv_b"], counts["n_b"])
    srm = sample_ratio_mismatch([counts["n_a"], counts["n_b"]], [0.5, 0.5])
    significant = test["p_value"] < alpha and not srm["mismatch"]
    return {
        **test,
        "srm": srm,
        "significant": significant,
        "ship": significant and test["lift"] > 0,
    }
