from __future__ import annotations

import pytest

from {{ cookiecutter.package_name }} import schema
from {{ cookiecutter.package_name }}.features.store import (
    UnknownEntityError,
    open_store,
)

from conftest import (
    assert_item_aggregates,
    assert_online_equals_training,
    write_aggregation_case,
)


def test_online_vector_equals_offline_vector_for_the_same_entity(materialized):
    assert_online_equals_training(materialized)


def test_training_frame_has_one_row_per_clean_event(materialized):
    frame = materialized.get_training_frame()
    assert frame[schema.EVENT_KEY].is_unique
    assert frame[schema.feature_names()].notna().all().all()


def test_unknown_entity_is_refused(materialized):
    with pytest.raises(UnknownEntityError):
        materialized.online_vectors([10**9], [0])


def test_item_aggregates_count_events_in_the_window_up_to_the_newest_event(settings):
    expected = write_aggregation_case(settings)
    store = open_store(settings)
    assert store.materialize_offline("item", "items") == len(expected)
    assert_item_aggregates(store, expected)


def test_aggregated_item_features_are_counts_served_as_trained(materialized):
    frame = materialized.get_training_frame()
    events, users = (f.name for f in schema.aggregated_features("item"))
    assert (frame[events] > 0).any() and (frame[users] > 0).any()
    assert (frame[events] >= frame[users]).all()
    assert_online_equals_training(materialized)  # the aggregates too: no training/serving skew
