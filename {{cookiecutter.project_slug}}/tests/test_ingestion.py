from __future__ import annotations

import pandas as pd

from {{ cookiecutter.package_name }} import schema
from {{ cookiecutter.package_name }}.data.synthetic import generate
from {{ cookiecutter.package_name }}.ingestion import dead_letter
from {{ cookiecutter.package_name }}.ingestion.batch import (
    clean_path,
    ingest,
    rules,
)


def test_bad_records_go_to_the_dead_letter_store_with_a_reason(settings):
    generate(settings)
    report = ingest(settings)
    rejected = dead_letter.read(settings, "events")
    assert report["events"]["rejected"] == len(rejected) > 0
    reasons = set(rejected[dead_letter.REASON])
    assert any(reason.startswith(f"unknown {schema.USER_KEY}") for reason in reasons)
    assert any(reason.startswith("hour_of_day out of range") for reason in reasons)
    assert any(reason.startswith(f"missing {schema.LABEL}") for reason in reasons)
    clean = pd.read_parquet(clean_path(settings, "events"))
    assert clean[schema.USER_KEY].min() >= 0
    assert clean["hour_of_day"].between(0, 23).all()
    assert clean[schema.LABEL].notna().all()


def test_rerunning_a_batch_adds_no_duplicates(settings):
    generate(settings)
    first = ingest(settings)
    second = ingest(settings)
    assert second["events"]["rows"] == first["events"]["rows"]
    assert second["users"]["rows"] == first["users"]["rows"] == settings.n_users
    clean = pd.read_parquet(clean_path(settings, "events"))
    assert clean[schema.EVENT_KEY].is_unique
    assert len(dead_letter.read(settings, "events")) == first["events"]["rejected"]


def test_raw_entity_tables_carry_entity_features_only(settings):
    generate(settings)
    raw = settings.directory("raw")
    for table, group in (("users", "user"), ("items", "item")):
        columns = set(pd.read_parquet(raw / f"{table}.parquet").columns)
        assert set(schema.entity_features(group)) <= columns
        aggregated = {f.name for f in schema.aggregated_features(group)}
        assert not aggregated & columns
        checked = " ".join(reason for reason, _ in rules(table))
        assert not any(name in checked for name in aggregated)
