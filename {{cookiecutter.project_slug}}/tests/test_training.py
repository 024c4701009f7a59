from __future__ import annotations

import numpy as np
import pytest

from {{ cookiecutter.package_name }} import schema
from {{ cookiecutter.package_name }}.training.predictor import (
    LinearPredictor,
    fast_predictor,
    model_output,
)
from {{ cookiecutter.package_name }}.training.train import train


@pytest.fixture
def bundle(materialized):
    return train(materialized.settings, materialized.get_training_frame())


def test_model_beats_the_trivial_baseline(bundle):
    metrics = bundle["metrics"]
    assert metrics["beats_baseline"], metrics
    assert bundle["schema_hash"] == schema.schema_hash()


def test_fast_predictor_equals_the_estimator(bundle, materialized):
    frame = materialized.get_training_frame().head(300)
    features = frame[schema.feature_names()].to_numpy()
    expected = model_output(bundle["estimator"], features)
    np.testing.assert_allclose(
        bundle["predictor"].predict(features), expected, rtol=1e-9, atol=1e-9
    )
    single = model_output(bundle["estimator"], features[:1])
    np.testing.assert_allclose(
        bundle["predictor"].predict(features[:1]), single, rtol=1e-9, atol=1e-9
    )


def test_sklearn_baseline_exports_a_linear_predictor(materialized):
    settings = materialized.settings.model_copy(update={"trainer": "sklearn"})
    bundle = train(settings, materialized.get_training_frame())
    assert isinstance(fast_predictor(bundle["estimator"]), LinearPredictor)
