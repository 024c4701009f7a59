from __future__ import annotations

import numpy as np
import pytest

from {{ cookiecutter.package_name }} import schema
from {{ cookiecutter.package_name }}.features.store import (
    UnknownEntityError,
)


def test_online_vector_equals_offline_vector_for_the_same_entity(materialized):
    frame = materialized.get_training_frame()
    rows = frame.sample(25, random_state=0)
    context = {name: rows[name].tolist() for name in schema.CONTEXT_DEFAULTS}
    online = materialized.get_online_features(
        rows[schema.USER_KEY].tolist(), rows[schema.ITEM_KEY].tolist(), context
    )
    offline = rows[schema.feature_names()].to_numpy()
    np.testing.assert_allclose(online.to_numpy(), offline, rtol=1e-12)
    assert list(online.columns) == schema.feature_names()


def test_training_frame_has_one_row_per_clean_event(materialized):
    frame = materialized.get_training_frame()
    assert frame[schema.EVENT_KEY].is_unique
    assert frame[schema.feature_names()].notna().all().all()


def test_unknown_entity_is_refused(materialized):
    with pytest.raises(UnknownEntityError):
        materialized.online_vectors([10**9], [0])
