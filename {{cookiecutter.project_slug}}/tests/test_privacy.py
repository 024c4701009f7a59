"""Personal data: pseudonymized ids everywhere the project writes, the key, and the purge."""

from __future__ import annotations

import json
{%- if cookiecutter.contains_pii %}
import os
{%- endif %}
import sqlite3
import time

{% if cookiecutter.monitoring or cookiecutter.experiment == 'shadow' -%}
import numpy as np
{% endif -%}
import pandas as pd
{%- if cookiecutter.contains_pii %}
import pytest
{%- endif %}

from {{ cookiecutter.package_name }} import privacy, schema
from {{ cookiecutter.package_name }}.ingestion import dead_letter
{%- if cookiecutter.contains_pii %}
from {{ cookiecutter.package_name }}.settings import load_settings

from conftest import small_settings
{%- endif %}
{%- if cookiecutter.contains_pii %}


def _raw_ids(settings) -> set[int]:
    return set(pd.read_parquet(settings.var / "raw" / "users.parquet")[schema.USER_KEY])


def test_pseudonyms_are_keyed_63_bit_integers():
    first = privacy.pseudonymize_id(42, b"key-one")
    assert first == privacy.pseudonymize_id(42, b"key-one")
    assert first != privacy.pseudonymize_id(42, b"key-two")
    assert first != privacy.pseudonymize_id(43, b"key-one")
    assert 0 <= first < 2**63


def test_production_without_a_key_fails_with_a_clear_error(tmp_path):
    settings = load_settings(env="production", var_dir=tmp_path / "var")
    with pytest.raises(privacy.MissingKeyError, match="PSEUDONYM_KEY is not set"):
        privacy.Pseudonymizer(settings)


def test_local_key_is_created_once_and_private(settings):
    key = privacy.secret_key(settings)
    assert privacy.secret_key(settings) == key and len(key) == 2 * privacy.KEY_BYTES
    assert os.stat(privacy.key_path(settings)).st_mode & 0o777 == 0o600


def test_processes_starting_together_share_one_whole_key(settings):
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(4) as pool:
        keys = list(pool.map(privacy.secret_key, [settings] * 8))
    assert len(set(keys)) == 1 and len(keys[0]) == 2 * privacy.KEY_BYTES
    assert [p.name for p in privacy.key_path(settings).parent.iterdir()] == ["pseudonym.key"]


def test_no_raw_id_or_pii_value_is_written(loop):
    settings, _ = loop
    raw = _raw_ids(settings)
    keys = privacy.Pseudonymizer(settings)
    for table in ("users", "events"):
        ids = set(pd.read_parquet(settings.var / "clean" / f"{table}.parquet")[schema.USER_KEY])
        assert ids and not ids & raw and ids <= set(keys.ids(raw))
    offline = pd.read_parquet(settings.var / "features" / "user.parquet")
    assert not set(offline[schema.USER_KEY]) & raw
{%- if cookiecutter.feature_store == 'none' %}
    with sqlite3.connect(settings.var / "features" / "online.db") as con:
        online = {row[0] for row in con.execute(f"SELECT {schema.USER_KEY} FROM user_features")}
    assert online and not online & raw
{%- endif %}
{%- if cookiecutter.monitoring %}
    from {{ cookiecutter.package_name }}.monitoring.prediction_log import PredictionLog

    log = PredictionLog(settings).read()
    served = set(log[schema.USER_KEY]) - {-1}
    assert served and not served & raw
    assert log[schema.pii_features()].isna().all().all()
    metrics = "".join(p.read_text() for p in (settings.var / "metrics").glob("*.prom"))
    assert not any(f'"{i}"' in metrics for i in raw)
{%- endif %}
{%- if cookiecutter.experiment == 'ab' %}
    exposures = settings.var / "experiments" / "exposures.jsonl"
    units = {json.loads(line)["unit"] for line in exposures.read_text().splitlines()}
    assert units and not units & raw
{%- endif %}
{%- if cookiecutter.batch_scoring %}
    scores = pd.read_parquet(settings.var / "scores" / "predictions.parquet")
    assert not set(scores[schema.USER_KEY]) & raw
    assert not set(scores.columns) & set(schema.pii_features())
{%- endif %}


def test_a_raw_request_id_finds_the_features_ingested_for_it(loop):
    from {{ cookiecutter.package_name }}.serving.core import PredictionService

    settings, _ = loop
    user = sorted(_raw_ids(settings))[3]
    service = PredictionService(settings)
    service.reload()
    by_raw = service.predict([user], [0])
    key = privacy.Pseudonymizer(settings).ids([user])[0]
    by_key = service.predict([key], [0], pseudonymized=True)
    assert by_raw[0]["prediction"] == by_key[0]["prediction"]
    with pytest.raises(KeyError, match=f"unknown {schema.USER_KEY} {key}"):
        service.predict([key], [0])  # a pseudonym sent as a raw id is hashed again: unknown


def test_another_key_gives_other_pseudonyms(settings, tmp_path):
    from {{ cookiecutter.package_name }}.data.synthetic import generate
    from {{ cookiecutter.package_name }}.ingestion.batch import ingest

    generate(settings)
    ingest(settings)
    other = small_settings(tmp_path / "other", pseudonym_key="another-key")
    generate(other)
    ingest(other)
    first, second = (
        set(pd.read_parquet(s.var / "clean" / "users.parquet")[schema.USER_KEY])
        for s in (settings, other)
    )
    assert len(first) == len(second) and not first & second


def test_rejected_batch_events_are_dead_lettered_with_pseudonyms(ingested):
    rejected = dead_letter.read(ingested, "events")[schema.USER_KEY]
    ids = {int(value) for value in rejected if value.isdigit()}
    raw = pd.read_parquet(ingested.var / "raw" / "events.parquet")[schema.USER_KEY]
    raw = raw.dropna().astype("int64").unique()
    assert ids and not ids & set(raw)
    assert ids <= set(privacy.Pseudonymizer(ingested).ids(raw))
{%- else %}


def test_ids_are_stored_as_received_without_pii(ingested):
    raw = pd.read_parquet(ingested.var / "raw" / "users.parquet")[schema.USER_KEY]
    clean = pd.read_parquet(ingested.var / "clean" / "users.parquet")[schema.USER_KEY]
    assert len(clean) and set(clean) <= set(raw.dropna().astype("int64"))
    assert privacy.Pseudonymizer(ingested).ids([7, 8]) == [7, 8]
    assert privacy.unlogged_features() == []
{%- endif %}


def test_purge_deletes_exactly_what_is_past_retention(settings):
    now = time.time()
    old, fresh = now - (settings.retention_days + 1) * 86_400, now - 3_600
    raw = settings.directory("raw")
    events = pd.DataFrame({schema.EVENT_KEY: ["a", "b"], schema.EVENT_TIME: [old, fresh]})
    events.to_parquet(raw / "events.parquet", index=False)
    lines = [{schema.EVENT_KEY: k, schema.EVENT_TIME: t} for k, t in (("a", old), ("b", fresh))]
    (raw / "events.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    (settings.directory("stream") / "offsets.json").write_text(json.dumps({"events.jsonl": 2}))
    exposures = settings.directory("experiments") / "exposures.jsonl"
    exposures.write_text("".join(json.dumps({"unit": 1, "ts": t}) + "\n" for t in (old, fresh)))
    with sqlite3.connect(settings.directory("stream") / "sink.db") as con:
        con.execute(f"CREATE TABLE events ({schema.EVENT_KEY}, {schema.EVENT_TIME})")
        con.executemany("INSERT INTO events VALUES (?, ?)", [("a", old), ("b", fresh)])
    dead_letter.write(settings, "stream", pd.DataFrame({"record": ["x"], "reason": ["bad"]}))

    report = privacy.purge(settings, now=now)
    assert report["deleted"]["raw_events"] == 2  # one table row, one log line
    assert report["deleted"]["stream_sink_rows"] == 1
    assert report["deleted"]["exposure_log_rows"] == 1
    assert report["deleted"]["dead_letter_files"] == 0  # written just now
    assert list(pd.read_parquet(raw / "events.parquet")[schema.EVENT_KEY]) == ["b"]
    assert json.loads((raw / "events.jsonl").read_text())[schema.EVENT_KEY] == "b"
    offsets = json.loads((settings.var / "stream" / "offsets.json").read_text())
    assert offsets == {"events.jsonl": 1}
    assert privacy.purge(settings, now=now)["deleted"] == dict.fromkeys(report["deleted"], 0)
    again = privacy.purge(settings, now=time.time() + settings.retention_days * 86_400 + 60)
    assert again["deleted"]["dead_letter_files"] == 1 and again["deleted"]["raw_events"] == 2
    assert len(dead_letter.read(settings, "stream")) == 0
{%- if cookiecutter.monitoring %}


def test_purge_drops_old_prediction_log_rows(settings):
    from {{ cookiecutter.package_name }}.monitoring.prediction_log import PredictionLog

    start, days = time.time(), settings.retention_days * 86_400
    log = PredictionLog(settings)
    log.write(np.zeros((3, len(schema.feature_names()))), np.zeros(3), 1)
    log.close()
    assert privacy.purge(settings, now=start - 60 + days)["deleted"]["prediction_log_rows"] == 0
    assert len(PredictionLog(settings).read()) == 3
    later = privacy.purge(settings, now=time.time() + 60 + days)
    assert later["deleted"]["prediction_log_rows"] == 3
    assert len(PredictionLog(settings).read()) == 0
{%- endif %}
{%- if cookiecutter.experiment == 'shadow' %}


def test_purge_drops_old_shadow_log_rows_in_both_files(settings):
    from {{ cookiecutter.package_name }}.experiments.shadow import ShadowLog

    log = ShadowLog(settings.model_copy(update={"prediction_log_rows": 4}))
    now, days = time.time(), settings.retention_days * 86_400
    records = np.zeros(6, dtype=log.dtype)
    records["ts"] = [now - days - 60] * 3 + [now] * 3  # 3 past retention, 3 fresh
    records["shadow_version"] = np.arange(6)
    log.append(records[:4])
    log.append(records[4:])  # the first file is full: rotated to .bin.1
    assert log.path.with_suffix(".bin.1").exists() and len(log.read()) == 6
    assert privacy.purge(settings, now=now)["deleted"]["shadow_log_rows"] == 3
    assert log.read()["shadow_version"].tolist() == [3, 4, 5]
    assert privacy.purge(settings, now=now)["deleted"]["shadow_log_rows"] == 0
    log.append(records[5:])  # appends go on after a purge
    assert log.read()["shadow_version"].tolist() == [3, 4, 5, 5]
{%- endif %}
