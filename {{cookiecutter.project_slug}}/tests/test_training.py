from __future__ import annotations

import numpy as np
import pytest

from {{ cookiecutter.package_name }} import schema
from {{ cookiecutter.package_name }}.training.predictor import (
{%- if cookiecutter.trainer == 'lightgbm' %}
    BoosterPredictor,
{%- endif %}
    LinearPredictor,
    fast_predictor,
    model_output,
)
from {{ cookiecutter.package_name }}.training.train import split, train


@pytest.fixture
def bundle(materialized):
    return train(materialized.settings, materialized.get_training_frame())


def test_model_beats_the_trivial_baseline(bundle):
    metrics = bundle["metrics"]
    assert metrics["beats_baseline"], metrics
    assert bundle["schema_hash"] == schema.schema_hash()


def test_fast_predictor_equals_the_estimator_on_held_out_rows(bundle, materialized):
    _, held_out = split(materialized.get_training_frame())
    features = held_out[schema.feature_names()].to_numpy()[:300]
    expected = model_output(bundle["estimator"], features)
    predictor = bundle["predictor"]
    np.testing.assert_allclose(predictor.predict(features), expected, rtol=1e-9, atol=1e-9)
    single = model_output(bundle["estimator"], features[:1])
    np.testing.assert_allclose(predictor.predict(features[:1]), single, rtol=1e-9, atol=1e-9)
    one_by_one = [predictor.predict_one(row) for row in features[:50].tolist()]
    np.testing.assert_allclose(
        np.reshape(one_by_one, expected[:50].shape), expected[:50], rtol=1e-9, atol=1e-9
    )
{%- if cookiecutter.trainer == 'lightgbm' %}


def test_lightgbm_is_served_through_its_booster(bundle):
    if bundle["trainer"] == "lightgbm":
        assert isinstance(bundle["predictor"], BoosterPredictor)
{%- endif %}


def test_sklearn_baseline_exports_a_linear_predictor(materialized):
    settings = materialized.settings.model_copy(update={"trainer": "sklearn"})
    bundle = train(settings, materialized.get_training_frame())
    assert isinstance(fast_predictor(bundle["estimator"]), LinearPredictor)
