"""The Spark jobs (``batch_engine=spark``): the same tables as DuckDB, built without the driver."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }} import schema, spark_jobs
from {{ cookiecutter.package_name }}.data.synthetic import generate
from {{ cookiecutter.package_name }}.features.store import KEYS, TIMESTAMP, open_store
from {{ cookiecutter.package_name }}.ingestion import dead_letter
from {{ cookiecutter.package_name }}.ingestion.batch import TABLES, clean_path, ingest
from {{ cookiecutter.package_name }}.privacy import Pseudonymizer

from conftest import (
    assert_item_aggregates,
    assert_online_equals_training,
    small_settings,
    write_aggregation_case,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def _spark_available() -> None:
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("Spark needs a Java runtime (java on PATH)")


def spark_settings(folder, **overrides):
    return small_settings(folder, batch_engine="spark", spark_master="local[1]", **overrides)


def spark_dead_letters(settings, table: str) -> pd.DataFrame:
    """Read the Spark-written dead-letter folder of ``table``, exact duplicates dropped."""
    folder = settings.directory("dead_letter") / table
    if not folder.exists():
        return pd.DataFrame(columns=[dead_letter.REASON])
    frame = pd.read_parquet(folder).drop(columns=spark_jobs.DEAD_LETTERED_AT)
    return frame.drop_duplicates(ignore_index=True)


def sorted_table(path, key: str) -> pd.DataFrame:
    return pd.read_parquet(path).sort_values(key, ignore_index=True)


def test_spark_engine_gives_the_same_result_as_duckdb(tmp_path):
    reports, stores = {}, {}
    for engine in ("duckdb", "spark"):
        settings = small_settings(
            tmp_path / engine,
            batch_engine=engine,
            spark_master="local[1]",
            pseudonym_key="one key for both engines",  # else each folder makes its own
        )
        generate(settings)
        stores[engine] = open_store(settings)
        reports[engine] = {"ingest": ingest(settings), "features": stores[engine].materialize()}
    assert reports["spark"] == reports["duckdb"]
    assert reports["spark"]["ingest"]["events"]["rejected"] > 0
    duck, spark = (stores[engine].settings for engine in ("duckdb", "spark"))
    for table, key in TABLES.items():
        pd.testing.assert_frame_equal(
            sorted_table(clean_path(spark, table), key), sorted_table(clean_path(duck, table), key)
        )
    for group, key in KEYS.items():
        offline = [sorted_table(stores[e].offline_path(group), key) for e in ("spark", "duckdb")]
        for frame in offline:
            frame[TIMESTAMP] = frame[TIMESTAMP].dt.tz_convert("UTC").astype("datetime64[us, UTC]")
        pd.testing.assert_frame_equal(*offline)
        ids = offline[1][key].tolist()
        online = [stores[e].lookup(group, ids) for e in ("spark", "duckdb")]
        for name in schema.feature_names(group):
            np.testing.assert_array_equal(online[0][name], online[1][name])
    reasons = [
        set(zip(frame[schema.EVENT_KEY], frame[dead_letter.REASON], strict=True))
        for frame in (spark_dead_letters(spark, "events"), dead_letter.read(duck, "events"))
    ]
    assert reasons[0] == reasons[1]
    assert_online_equals_training(stores["spark"])


def test_spark_item_aggregates_count_events_in_the_window_up_to_the_newest_event(tmp_path):
    settings = spark_settings(tmp_path)
    expected = write_aggregation_case(settings)
    store = open_store(settings)
    assert store.materialize_offline("item", "items") == len(expected)
    assert_item_aggregates(store, expected)


def test_rerunning_a_spark_batch_adds_no_duplicates(tmp_path):
    settings = spark_settings(tmp_path)
    generate(settings)
    first = ingest(settings)
    second = ingest(settings)
    assert second == first
    assert first["users"]["rows"] == settings.n_users
    clean = pd.read_parquet(clean_path(settings, "events"))
    assert clean[schema.EVENT_KEY].is_unique and len(clean) == first["events"]["rows"]
    rejected = spark_dead_letters(settings, "events")
    assert len(rejected) == first["events"]["rejected"] > 0
    assert set(rejected.columns) >= {schema.EVENT_KEY, dead_letter.REASON}
    assert all(isinstance(value, str) for value in rejected[schema.ITEM_KEY])  # fields as text


def test_spark_jobs_collect_no_table_to_the_driver(tmp_path, monkeypatch):
    settings = spark_settings(tmp_path)
    generate(settings)
    frame_class = type(spark_jobs.session(settings).range(1))

    def refuse(*args, **kwargs):
        raise AssertionError("a Spark job collected a table to the driver")

    for method in ("toPandas", "collect", "toLocalIterator", "take", "head", "first", "tail"):
        monkeypatch.setattr(frame_class, method, refuse)
    report = ingest(settings)
    counts = open_store(settings).materialize()
    assert counts == {"user": report["users"]["rows"], "item": report["items"]["rows"]}
    assert clean_path(settings, "events").is_dir()  # written by Spark: a folder of part files


def test_spark_session_is_built_from_the_settings(tmp_path):
    settings = spark_settings(tmp_path, spark_shuffle_partitions=3)
    spark = spark_jobs.session(settings)
    assert spark.sparkContext.master == "local[1]"
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark.conf.get("spark.sql.shuffle.partitions") == "3"
    cluster = settings.model_copy(update={"spark_master": "spark://spark-master:7077"})
    config = spark_jobs.spark_config(cluster)
    assert config["spark.master"] == "spark://spark-master:7077"
    assert config["spark.app.name"] == settings.spark_app_name
    assert "spark.sql.shuffle.partitions" not in config  # the cluster's own setting applies


def test_online_store_loads_the_newest_offline_row_per_entity(tmp_path):
    settings = spark_settings(tmp_path)
    generate(settings)
    ingest(settings)
    store = open_store(settings)
    store.materialize()
    key, name = KEYS["user"], schema.feature_names("user")[0]
    offline = pd.read_parquet(store.offline_path("user"))
    newer = offline.head(1).assign(
        **{name: 1234.5, TIMESTAMP: offline[TIMESTAMP].max() + pd.Timedelta(days=1)}
    )
    newer.to_parquet(store.offline_path("user") / "part-newer.parquet", index=False)
    store.write_online("user", store.latest_offline("user"))
    assert store.lookup("user", [int(newer[key].iloc[0])])[name][0] == 1234.5


def test_spark_reads_raw_tables_in_csv_and_json_lines(tmp_path):
    settings = spark_settings(tmp_path)
    generate(settings)
    raw = settings.directory("raw")
    users, items = pd.read_parquet(raw / "users.parquet"), pd.read_parquet(raw / "items.parquet")
    users.to_json(raw / "users.jsonl", orient="records", lines=True)
    items.to_csv(raw / "items.csv", index=False)
    (raw / "users.parquet").unlink()
    (raw / "items.parquet").unlink()
    report = ingest(settings)
    assert report["users"]["rows"] == len(users) and report["items"]["rows"] == len(items)
    for table, frame in (("users", users), ("items", items)):
        clean = sorted_table(clean_path(settings, table), TABLES[table])[list(frame.columns)]
        expected = Pseudonymizer(settings).frame(frame)  # person ids as ingestion stores them
        pd.testing.assert_frame_equal(clean, expected.sort_values(TABLES[table], ignore_index=True))
