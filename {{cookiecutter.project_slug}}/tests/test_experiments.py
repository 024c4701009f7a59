"""Experiment statistics against scipy and statsmodels on fixed data, and the analysis of logs."""

from __future__ import annotations
{% if cookiecutter.experiment == 'ab' %}
import json
{%- endif %}
import math

import numpy as np
import pytest
from scipy import stats

from {{ cookiecutter.package_name }} import {{ 'privacy, ' if cookiecutter.experiment == 'ab' }}schema
from {{ cookiecutter.package_name }}.experiments import (
    analysis,
    assignment,
)
{%- if cookiecutter.experiment == 'shadow' %}

from conftest import BlockingChallenger
{%- endif %}

USER = schema.USER_KEY

# (control conversions, control units, treatment conversions, treatment units)
PROPORTIONS = [
    (1000, 10_000, 1200, 10_000),
    (1000, 10_000, 1010, 10_000),
    (48, 1_000, 61, 1_250),
    (300, 2_000, 250, 2_100),
    (5, 40, 12, 45),
]
ALPHAS = [0.05, 0.01, 0.10]
# (baseline rate, absolute MDE, alpha, power, treatment units per control unit)
DESIGNS = [
    (0.10, 0.01, 0.05, 0.8, 1.0),
    (0.02, 0.001, 0.05, 0.8, 1.0),
    (0.30, 0.02, 0.01, 0.9, 1.0),
    (0.05, 0.005, 0.05, 0.8, 0.25 / 0.75),
    (0.50, 0.05, 0.10, 0.95, 3.0),
]


def samples(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two fixed samples of unequal size and spread (the case Welch's test is for)."""
    rng = np.random.default_rng(seed)
    return rng.normal(10.0, 2.0, 80 + 10 * seed), rng.normal(10.6, 3.5, 120 - 7 * seed)


def test_assignment_is_sticky_balanced_and_salted():
    variants = [assignment.assign(unit, "exp-1") for unit in range(10_000)]
    assert variants == [assignment.assign(unit, "exp-1") for unit in range(10_000)]
    treated = variants.count("treatment")
    assert not analysis.sample_ratio_mismatch([10_000 - treated, treated], [0.5, 0.5])["mismatch"]
    reshuffled = [assignment.assign(unit, "exp-2") for unit in range(10_000)]
    assert 0.4 < sum(a != b for a, b in zip(variants, reshuffled, strict=True)) / 10_000 < 0.6
    assert all(0 <= assignment.bucket(unit, "s") < 10_000 for unit in range(100))
    quarter = [assignment.assign(unit, "exp-1", 0.25) for unit in range(10_000)]
    share = quarter.count("treatment")
    assert not analysis.sample_ratio_mismatch([10_000 - share, share], [0.75, 0.25])["mismatch"]


def test_sample_size_matches_the_formula():
    # (1.959964 + 0.841621)^2 * (0.1 * 0.9 + 0.11 * 0.89) / 0.01^2 = 14,748.6, rounded up
    assert analysis.sample_size(0.10, 0.01) == 14_749
    # the worked example: baseline 2 %, relative MDE 5 % -> about 315k per arm
    assert 314_000 < analysis.sample_size(0.02, 0.001) < 316_000
    for bad in [(0.0, 0.01), (0.5, 0.0), (0.95, 0.06)]:
        with pytest.raises(ValueError):
            analysis.sample_size(*bad)


@pytest.mark.parametrize("design", DESIGNS)
def test_sample_size_agrees_with_statsmodels_power(design):
    from statsmodels.stats.power import NormalIndPower, zt_ind_solve_power

    rate, mde, alpha, power, ratio = design
    treated = rate + mde
    # statsmodels takes one standard deviation for both groups: the one whose
    # sqrt(1/n1 + 1/(ratio n1)) scaling gives the same variance of the difference
    pooled_sd = math.sqrt((rate * (1 - rate) + treated * (1 - treated) / ratio) / (1 + 1 / ratio))
    effect = mde / pooled_sd
    solved = zt_ind_solve_power(effect_size=effect, alpha=alpha, power=power, ratio=ratio)
    exact = analysis.sample_size_exact(rate, mde, alpha, power, ratio)
    # statsmodels also counts the far tail's power (about 1e-6), which moves n by under 0.1 %
    assert exact == pytest.approx(solved, rel=1e-3)
    n = analysis.sample_size(rate, mde, alpha, power, ratio)
    achieved = NormalIndPower().power(effect, nobs1=n, alpha=alpha, ratio=ratio)
    fewer = NormalIndPower().power(effect, nobs1=n - 1, alpha=alpha, ratio=ratio)
    assert achieved >= power > fewer - 1e-6
    detectable = analysis.minimum_detectable_effect(rate, n, alpha, power, ratio)
    assert detectable <= mde
    assert analysis.sample_size_exact(rate, detectable, alpha, power, ratio) == pytest.approx(n)


def test_plan_gives_both_arms_of_the_split_and_days():
    result = analysis.plan(0.10, 0.01, treatment_share=0.5, daily_units=5_000)
    assert result["units_per_variant"] == {"control": 14_749, "treatment": 14_749}
    assert result["days"] == math.ceil(29_498 / 5_000) == 6 and result["days_in_full_weeks"] == 7
    uneven = analysis.plan(0.10, 0.01, treatment_share=0.2)
    control, treatment = uneven["units_per_variant"].values()
    assert treatment == math.ceil(control / 4) and treatment < 14_749 < control
    assert uneven["units_total"] > 29_498  # an uneven split needs more units in all
    with pytest.raises(ValueError):
        analysis.plan(0.10, 0.01, daily_units=0)


@pytest.mark.parametrize("case", PROPORTIONS)
@pytest.mark.parametrize("alpha", ALPHAS)
def test_z_test_and_interval_agree_with_statsmodels_and_scipy(case, alpha):
    from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

    conv_a, n_a, conv_b, n_b = case
    result = analysis.two_proportion_test(conv_a, n_a, conv_b, n_b, alpha)
    z, p_value = proportions_ztest([conv_b, conv_a], [n_b, n_a])
    assert result["z"] == pytest.approx(z, rel=1e-9)
    assert result["p_value"] == pytest.approx(p_value, rel=1e-9, abs=1e-300)
    low, high = confint_proportions_2indep(
        conv_b, n_b, conv_a, n_a, method="wald", compare="diff", alpha=alpha
    )
    assert result["ci"] == pytest.approx([low, high], rel=1e-9)
    table = [[conv_b, n_b - conv_b], [conv_a, n_a - conv_a]]
    chi2, p_chi2, _, _ = stats.chi2_contingency(table, correction=False)
    assert result["z"] ** 2 == pytest.approx(chi2, rel=1e-9)
    assert result["p_value"] == pytest.approx(p_chi2, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("alpha", ALPHAS)
def test_welch_test_and_interval_agree_with_scipy_and_statsmodels(seed, alpha):
    from statsmodels.stats.weightstats import CompareMeans, DescrStatsW, ttest_ind

    control, treatment = samples(seed)
    result = analysis.welch_test(control, treatment, alpha)
    reference = stats.ttest_ind(treatment, control, equal_var=False)
    assert result["t"] == pytest.approx(reference.statistic, rel=1e-9)
    assert result["p_value"] == pytest.approx(reference.pvalue, rel=1e-9)
    assert result["df"] == pytest.approx(reference.df, rel=1e-9)
    interval = reference.confidence_interval(1 - alpha)
    assert result["ci"] == pytest.approx([interval.low, interval.high], rel=1e-9)
    t, p_value, df = ttest_ind(treatment, control, usevar="unequal")
    assert (result["t"], result["p_value"], result["df"]) == pytest.approx((t, p_value, df))
    means = CompareMeans(DescrStatsW(treatment), DescrStatsW(control))
    assert result["ci"] == pytest.approx(list(means.tconfint_diff(alpha, usevar="unequal")))


@pytest.mark.parametrize(
    ("counts", "shares"),
    [
        ([45_000, 44_000], [0.5, 0.5]),
        ([5_500, 4_500], [0.5, 0.5]),
        ([5_020, 4_980], [0.5, 0.5]),
        ([7_400, 2_600], [0.75, 0.25]),
        ([3_000, 3_100, 2_950], [1 / 3, 1 / 3, 1 / 3]),
    ],
)
def test_sample_ratio_mismatch_agrees_with_scipy(counts, shares):
    result = analysis.sample_ratio_mismatch(counts, shares)
    statistic, p_value = stats.chisquare(counts, [s * sum(counts) for s in shares])
    assert result["chi2"] == pytest.approx(statistic, rel=1e-9)
    assert result["p_value"] == pytest.approx(p_value, rel=1e-9, abs=1e-300)
    assert result["mismatch"] == (p_value < 0.001)


def test_sample_ratio_mismatch_uses_the_planned_split():
    # 44,000 vs 45,000 on a 50/50 plan: p ~ 0.0008, an alarm
    assert analysis.sample_ratio_mismatch([45_000, 44_000], [0.5, 0.5])["mismatch"]
    # 7,500 vs 2,500 is exactly the plan of a 25 % treatment share, and far off a 50/50 one
    assert not analysis.sample_ratio_mismatch([7_500, 2_500], [0.75, 0.25])["mismatch"]
    assert analysis.sample_ratio_mismatch([7_500, 2_500], [0.5, 0.5])["mismatch"]


def test_guardrail_blocks_only_a_significant_regression_beyond_the_allowance():
    worse = {"control": 100.0, "ci": [8.0, 12.0]}  # treatment 8-12 ms slower than 100 ms
    assert analysis.guardrail_check(worse, higher_is_better=False, max_regression=0.05)["blocked"]
    assert not analysis.guardrail_check(worse, False, max_regression=0.10)["blocked"]
    noisy = {"control": 100.0, "ci": [-1.0, 12.0]}
    assert not analysis.guardrail_check(noisy, False, 0.0)["blocked"]
    fewer = {"control": 0.5, "ci": [-0.04, -0.02]}  # a rate that should go up went down
    assert analysis.guardrail_check(fewer, higher_is_better=True, max_regression=0.0)["blocked"]
    assert not analysis.guardrail_check(fewer, True, max_regression=0.1)["blocked"]


def test_verdict_order_srm_then_guardrails_then_the_primary_metric():
    clean = {"mismatch": False, "p_value": 0.5}
    better = {"diff": 0.02, "significant": True}
    ok = [{"metric": "latency_ms", "blocked": False}]
    assert analysis.verdict(clean, better, True, ok)["verdict"] == "ship"
    srm = analysis.verdict({"mismatch": True, "p_value": 1e-5}, better, True, ok)
    assert srm["verdict"] == "invalid (SRM)" and "SRM: do not trust this result" in srm["reason"]
    blocked = [{"metric": "latency_ms", "blocked": True}]
    assert analysis.verdict(clean, better, True, blocked)["verdict"] == "do not ship"
    assert analysis.verdict(clean, better, False, ok)["verdict"] == "do not ship"
    flat = {"diff": 0.02, "significant": False}
    assert analysis.verdict(clean, flat, True, ok)["verdict"] == "inconclusive"
{%- if cookiecutter.experiment == 'ab' %}


def test_exposures_count_each_unit_once(settings):
    log = assignment.ExposureLog(settings)
    log.record("exp", [1, 2, 1], ["control", "treatment", "control"])
    assert log.counts("exp") == {"control": 1, "treatment": 1}


@pytest.fixture
def experiment(settings):
    """Settings with a fixed salt: the same assignment whatever the package is called."""
    return settings.model_copy(update={"experiment_salt": "tests-exp-1"})


def log_experiment(settings, n: int, share: float = 0.5, lift: float = 0.05, seed: int = 0):
    """Expose ``n`` units as the server does and return their simulated outcomes (raw ids)."""
    units = list(range(n))
    exposed = served_ids(settings, n)
    log = assignment.ExposureLog(settings)
    log.record(settings.experiment_salt, exposed, treated(settings, n, share))
    log.record("another-experiment", exposed[:10], ["treatment"] * 10)
    exposed_at = json.loads(log.path.read_text().splitlines()[0])["ts"]
    variants = treated(settings, n, share)
    return analysis.simulate_outcomes(units, variants, exposed_at, 0.10, lift, seed=seed)


def served_ids(settings, n: int) -> list[int]:
    """Return the ids the server assigns and logs for raw units 0 to n - 1 (pseudonyms with PII)."""
    return privacy.Pseudonymizer(settings).ids(range(n))


def treated(settings, n: int, share: float = 0.5) -> list[str]:
    """Return the variants of raw units 0 to n - 1."""
    salt = settings.experiment_salt
    return [assignment.assign(unit, salt, share) for unit in served_ids(settings, n)]


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_analyze_joins_the_exposure_log_with_outcomes_and_says_ship(experiment, tmp_path, suffix):
    outcomes = log_experiment(experiment, 6_000, lift=0.04)
    path = tmp_path / f"outcomes{suffix}"
    if suffix == ".parquet":
        outcomes.to_parquet(path)
    else:
        outcomes.to_csv(path, index=False)
    report = analysis.analyze(experiment, path)
    assert report["verdict"] == "ship", report["reason"]
    assert sum(report["units"].values()) == 6_000 and not report["srm"]["mismatch"]
    converted = report["metrics"]["converted"]
    assert converted["test"] == "two-proportion z-test" and converted["significant"]
    control = outcomes[[v == "control" for v in treated(experiment, 6_000)]]
    assert converted["control"] == pytest.approx(control["converted"].mean())
    assert 0 < converted["ci"][0] < converted["diff"] < converted["ci"][1]
    assert report["metrics"]["latency_ms"]["test"] == "Welch t-test"
    assert report["metrics"]["revenue"]["test"] == "Welch t-test"
    assert [g["metric"] for g in report["guardrails"]] == ["latency_ms"]
    assert not report["guardrails"][0]["blocked"]


def test_analyze_drops_outcomes_before_exposure_and_counts_missing_units_as_zero(
    experiment, tmp_path
):
    import pandas as pd

    outcomes = log_experiment(experiment, 2_000, lift=0.0)
    outcomes.loc[:99, "event_time"] = pd.Timestamp("2000-01-01", tz="UTC")
    outcomes = outcomes.drop(index=range(100, 200))
    path = tmp_path / "outcomes.parquet"
    outcomes.to_parquet(path)
    report = analysis.analyze(experiment, path)
    assert report["outcome_rows"] == {"read": 1_900, "without_exposure": 0, "before_exposure": 100}
    assert sum(report["metrics"]["converted"]["units"].values()) == 2_000
    assert sum(report["metrics"]["latency_ms"]["units"].values()) == 1_800
    kept = outcomes.iloc[100:]
    variants = treated(experiment, 2_000)
    converted = kept.loc[[variants[unit] == "control" for unit in kept[USER]], "converted"]
    expected = converted.sum() / report["units"]["control"]  # missing units count as 0
    assert report["metrics"]["converted"]["control"] == pytest.approx(expected)


def test_analyze_refuses_to_conclude_on_a_sample_ratio_mismatch(experiment, tmp_path):
    outcomes = log_experiment(experiment, 6_000, lift=0.04)
    path = tmp_path / "outcomes.parquet"
    outcomes.to_parquet(path)
    skewed = experiment.model_copy(update={"treatment_share": 0.4})
    report = analysis.analyze(skewed, path)
    assert report["srm"]["mismatch"] and report["verdict"] == "invalid (SRM)"
    assert report["reason"].startswith("SRM: do not trust this result")


def test_a_significant_guardrail_regression_blocks_ship(experiment, tmp_path):
    outcomes = log_experiment(experiment, 6_000, lift=0.04)
    outcomes.loc[[v == "treatment" for v in treated(experiment, 6_000)], "latency_ms"] += 20.0
    path = tmp_path / "outcomes.parquet"
    outcomes.to_parquet(path)
    report = analysis.analyze(experiment, path)
    assert report["metrics"]["converted"]["significant"]
    assert report["guardrails"][0]["blocked"] and report["verdict"] == "do not ship"
    assert "latency_ms" in report["reason"]


def test_bad_outcomes_and_missing_exposures_are_refused(experiment, tmp_path):
    no_metrics = tmp_path / "outcomes.csv"
    no_metrics.write_text(f"{USER},converted\n1,1\n")
    with pytest.raises(ValueError, match="no exposures of both variants"):
        analysis.analyze(experiment, no_metrics)
    log_experiment(experiment, 100)
    with pytest.raises(ValueError, match="has no column latency_ms"):
        analysis.analyze(experiment, no_metrics)
    no_unit = tmp_path / "units.csv"
    no_unit.write_text("someone,converted\n1,1\n")
    with pytest.raises(ValueError, match=f"has no {USER} column"):
        analysis.analyze(experiment, no_unit)
    words = tmp_path / "words.csv"
    words.write_text(f"{USER},converted,latency_ms\n1,1,fast\n")
    with pytest.raises(ValueError, match="latency_ms must be numeric"):
        analysis.analyze(experiment, words)
    text = tmp_path / "outcomes.txt"
    text.write_text("x")
    with pytest.raises(ValueError, match="must be .parquet or .csv"):
        analysis.analyze(experiment, text)


def test_sample_size_command_prints_units_and_days(capsys, monkeypatch, settings):
    from {{ cookiecutter.package_name }}.cli import main
    from {{ cookiecutter.package_name }}.settings import ENV_PREFIX

    monkeypatch.setenv(f"{ENV_PREFIX}VAR_DIR", str(settings.var))
    assert main(["sample-size", "--baseline", "0.1", "--mde", "0.01", "--daily-units", "5000"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["units_per_variant"] == {"control": 14_749, "treatment": 14_749}
    assert printed["days"] == 6
    relative = ["sample-size", "--baseline", "0.02", "--relative-mde", "0.05"]
    assert main(relative) == 0
    per_arm = json.loads(capsys.readouterr().out)["units_per_variant"]["control"]
    assert 314_000 < per_arm < 316_000  # the worked example: 2 % baseline, 5 % relative MDE
    assert main(["sample-size", "--baseline", "1.5", "--mde", "0.01"]) == 1
    assert capsys.readouterr().err.strip().startswith("error: sample-size failed: baseline_rate")
    assert main(["analyze", "--outcomes", str(settings.var / "missing.parquet")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_the_demo_experiment_finds_the_simulated_lift(loop):
    settings, report = loop
    experiment = report["experiment"]
    assert experiment["verdict"] == "ship", experiment
    assert experiment["ci"][0] > 0 and experiment["srm_p_value"] > 0.001
    outcomes = settings.var / "experiments" / "outcomes.parquet"
    saved = analysis.read_outcomes(outcomes, privacy.Pseudonymizer(settings))
    exposed, mixed = analysis.read_exposures(
        settings.var / "experiments" / "exposures.jsonl", settings.experiment_salt
    )
    assert mixed == 0 and set(saved["unit"]) == set(exposed["unit"])
    assert sum(experiment["units"].values()) == len(exposed)
{%- endif %}
{%- if cookiecutter.experiment == 'shadow' %}


def test_the_shadow_queue_is_bounded_and_drops_what_does_not_fit(settings):
    from {{ cookiecutter.package_name }}.experiments.shadow import ShadowScorer
    from {{ cookiecutter.package_name }}.serving.core import LoadedModel

    scorer = ShadowScorer(settings.model_copy(update={"shadow_queue_size": 3}))
    slow = BlockingChallenger(value=0.5)
    challenger = LoadedModel(9, slow, {})
    n_features = len(schema.feature_names())
    rows = np.zeros((2, n_features))
    assert scorer.submit(challenger, 1, rows, [0.1, 0.2], [10, 11], [20, 21])
    assert slow.started.wait(timeout=30)
    accepted = [scorer.submit(challenger, 1, rows, [0.1, 0.2]) for _ in range(5)]
    assert accepted == [True, True, True, False, False]
    assert scorer.dropped_rows == 4 and scorer.pending == 4
    slow.release.set()
    assert scorer.drain(timeout_s=60) and scorer.scored_rows == 8 and scorer.pending == 0
    logged = scorer.log.read()
    assert len(logged) == 8 and logged[USER].tolist()[:3] == [10, 11, -1]
    assert logged["shadow_version"].unique().tolist() == [9]
    assert np.allclose(np.vstack(logged["shadow"].map(np.ravel)), 0.5)


def test_the_shadow_log_rotates_at_the_prediction_log_capacity(settings):
    from {{ cookiecutter.package_name }}.experiments.shadow import ShadowLog, compare

    log = ShadowLog(settings.model_copy(update={"prediction_log_rows": 1_000}))
    records = np.zeros(600, dtype=log.dtype)
    records["shadow"] = 1.0
    for _ in range(3):
        log.append(records)
    assert log.path.with_suffix(".bin.1").stat().st_size == 1_200 * log.dtype.itemsize
    assert len(log.read()) == 1_800  # never more than twice the capacity on disk
    summary = compare(log.read())
    assert summary["rows"] == 1_800 and summary["max_abs_diff"] == pytest.approx(1.0)
{%- endif %}
