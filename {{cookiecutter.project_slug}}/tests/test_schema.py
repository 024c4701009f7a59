from __future__ import annotations

import numpy as np

from {{ cookiecutter.package_name }} import schema


def test_feature_names_are_unique_and_grouped():
    names = schema.feature_names()
    assert len(names) == len(set(names))
    assert {f.group for f in schema.FEATURES} <= set(schema.GROUPS)
    assert schema.feature_names("context") == list(schema.CONTEXT_DEFAULTS)
    assert not {schema.USER_KEY, schema.ITEM_KEY, schema.LABEL} & set(names)


def test_each_user_and_item_feature_comes_from_its_table_or_the_events():
    for group in ("user", "item"):
        aggregated = [f.name for f in schema.aggregated_features(group)]
        assert sorted(schema.entity_features(group) + aggregated) == sorted(
            schema.feature_names(group)
        )
    assert [f.aggregate for f in schema.aggregated_features("item")] == [
        "COUNT(*)",
        f"COUNT(DISTINCT {schema.USER_KEY})",
    ]
    assert set(schema.FALLBACK_VALUES) == set(
        schema.feature_names("user") + schema.feature_names("item")
    )


def test_pii_flags_follow_the_answers():
    flagged = set(schema.pii_features())
    assert flagged == (set(schema.feature_names("user")) if schema.CONTAINS_PII else set())


def test_schema_hash_is_stable_and_tracks_changes(monkeypatch):
    first = schema.schema_hash()
    assert first == schema.schema_hash() and len(first) == 64
    monkeypatch.setattr(schema, "FEATURES", schema.FEATURES[:-1])
    assert schema.schema_hash() != first


def test_label_matrix_decodes_bit_masks():
    matrix = schema.label_matrix(np.array([0, 1, 5, 7]))
    assert matrix.tolist() == [[0, 0, 0], [1, 0, 0], [1, 0, 1], [1, 1, 1]]
