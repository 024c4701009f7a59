"""Feast definitions: one entity and one feature view per entity group of the schema.

The sources are the offline tables that ``features.store.materialize`` writes
(``features/{user,item}.parquet`` under ``var_dir``); ``feast apply`` in this folder reads the
module-level objects, and the project's store calls ``build`` with its own folder.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from feast import Entity, FeatureView, Field, FileSource, ValueType
from feast.types import Float64

from {{ cookiecutter.package_name }} import schema
from {{ cookiecutter.package_name }}.settings import load_settings

KEYS = {
    "user": (schema.USER_ENTITY, schema.USER_KEY),
    "item": (schema.ITEM_ENTITY, schema.ITEM_KEY),
}


def build(features_dir: Path) -> list:
    """Return ``[user entity, user view, item entity, item view]`` over ``features_dir``."""
    objects: list = []
    for group, (entity_name, key) in KEYS.items():
        entity = Entity(name=entity_name, join_keys=[key], value_type=ValueType.INT64)
        source = FileSource(
            name=f"{group}_source",
            path=str(Path(features_dir) / f"{group}.parquet"),
            timestamp_field="event_timestamp",
        )
        view = FeatureView(
            name=f"{group}_features",
            entities=[entity],
            ttl=timedelta(days=3650),
            schema=[Field(name=name, dtype=Float64) for name in schema.feature_names(group)],
            source=source,
            online=True,
        )
        objects += [entity, view]
    return objects


# Module-level objects are what ``feast apply`` in this folder registers.
user_entity, user_features, item_entity, item_features = build(load_settings().var / "features")
