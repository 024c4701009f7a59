from __future__ import annotations

import pytest

from {{ cookiecutter.package_name }} import schema
from {{ cookiecutter.package_name }}.features.store import (
    UnknownEntityError,
)

from conftest import assert_online_equals_training


def test_online_vector_equals_offline_vector_for_the_same_entity(materialized):
    assert_online_equals_training(materialized)


def test_training_frame_has_one_row_per_clean_event(materialized):
    frame = materialized.get_training_frame()
    assert frame[schema.EVENT_KEY].is_unique
    assert frame[schema.feature_names()].notna().all().all()


def test_unknown_entity_is_refused(materialized):
    with pytest.raises(UnknownEntityError):
        materialized.online_vectors([10**9], [0])
