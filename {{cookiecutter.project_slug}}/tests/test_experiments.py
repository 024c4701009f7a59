from __future__ import annotations

import pytest

from {{ cookiecutter.package_name }}.experiments import (
    analysis,
    assignment,
)


def test_assignment_is_sticky_balanced_and_salted():
    variants = [assignment.assign(unit, "exp-1") for unit in range(10_000)]
    assert variants == [assignment.assign(unit, "exp-1") for unit in range(10_000)]
    treated = variants.count("treatment")
    assert not analysis.sample_ratio_mismatch([treated, 10_000 - treated], [0.5, 0.5])["mismatch"]
    reshuffled = [assignment.assign(unit, "exp-2") for unit in range(10_000)]
    assert 0.4 < sum(a != b for a, b in zip(variants, reshuffled, strict=True)) / 10_000 < 0.6
    assert all(0 <= assignment.bucket(unit, "s") < 10_000 for unit in range(100))


def test_sample_size_matches_the_formula():
    # (1.959964 + 0.841621)^2 * 2 * 0.1 * 0.9 / 0.01^2 = 14,127.98, rounded up
    assert analysis.sample_size(0.10, 0.01) == 14_128
    with pytest.raises(ValueError):
        analysis.sample_size(0.0, 0.01)


def test_z_test_detects_a_real_lift_and_not_noise():
    assert analysis.two_proportion_test(1000, 10_000, 1200, 10_000)["p_value"] < 0.001
    assert analysis.two_proportion_test(1000, 10_000, 1010, 10_000)["p_value"] > 0.05
    n = analysis.sample_size(0.10, 0.02)
    result = analysis.analyze(analysis.simulate(n, 0.10, 0.04, seed=1))
    assert result["significant"] and result["ship"]


def test_sample_ratio_mismatch_is_detected():
    assert analysis.sample_ratio_mismatch([5500, 4500], [0.5, 0.5])["mismatch"]
    assert not analysis.sample_ratio_mismatch([5020, 4980], [0.5, 0.5])["mismatch"]


def test_exposures_count_each_unit_once(settings):
    log = assignment.ExposureLog(settings)
    log.record("exp", [1, 2, 1], ["control", "treatment", "control"])
    assert log.counts("exp") == {"control": 1, "treatment": 1}
