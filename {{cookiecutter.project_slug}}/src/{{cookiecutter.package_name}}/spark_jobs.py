"""Spark jobs of ``batch_engine=spark``: ingestion and offline feature materialization.

Every job reads Parquet with Spark and writes Parquet with Spark; no table is collected to the
driver (only counts are). ``session`` builds the one SparkSession from the settings:
``spark_master`` (``local[*]`` on a laptop, ``spark://host:7077`` on a cluster), the app name,
UTC session time and, for local runs, ``spark_shuffle_partitions``.

Ingestion applies the same SQL rules as DuckDB (``ingestion.batch.rules``), upserts good rows
into ``clean/<table>.parquet`` (a Parquet folder, last write per key wins, swapped in whole) and
appends rejected rows to ``dead_letter/<table>/`` with their reason. Materialization writes
``features/{user,item}.parquet`` from the clean tables with the DuckDB path's SQL: entity columns
and the windowed event aggregates (a snapshot as of the newest event, not point-in-time).
{%- if cookiecutter.contains_pii %}
Person ids are pseudonymized on the executors as in the DuckDB path (``privacy.py``): users after
their checks, events before.
{%- endif %}
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from . import privacy, schema
from .features.store import FEATURE_TIME, TIMESTAMP, feature_sql
from .ingestion import batch
from .ingestion.dead_letter import REASON
from .settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

ORDER = "_mlsd_order"
DEAD_LETTERED_AT = "dead_lettered_at"


def spark_config(settings: Settings) -> dict[str, str]:
    """Return the SparkSession configuration for ``settings``."""
    config = {
        "spark.master": settings.spark_master,
        "spark.app.name": settings.spark_app_name,
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    }
    if settings.spark_master.startswith("local"):
        config |= {
            "spark.sql.shuffle.partitions": str(settings.spark_shuffle_partitions),
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
        }
    return config


def session(settings: Settings) -> SparkSession:
    """Return the SparkSession built from the settings (the running one, reconfigured)."""
    from pyspark.sql import SparkSession

    if settings.spark_master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # the JVM binds 127.0.0.1 only
        # Python workers run this interpreter (the project's venv), not whatever python3 is first
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder
    for key, value in spark_config(settings).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    for key, value in spark_config(settings).items():
        if key.startswith("spark.sql."):
            spark.conf.set(key, value)
    return spark


def read_table(spark: SparkSession, path: Path) -> DataFrame:
    """Read a raw or clean table with Spark's reader for its format (Parquet, CSV, JSON lines)."""
    if path.suffix == ".csv":
        from pyspark.sql import functions as F

        frame = spark.read.csv(str(path), header=True, inferSchema=True)
        return frame.select(  # CSV infers int32 where Parquet and JSON give int64
            *[
                F.col(f.name).cast("long") if f.dataType.typeName() == "integer" else F.col(f.name)
                for f in frame.schema.fields
            ]
        )
    if path.suffix in (".json", ".jsonl"):
        return spark.read.json(str(path))
    return spark.read.parquet(str(path))


def raw_path(settings: Settings, table: str) -> Path:
    """Return the raw file of ``table``: Parquet, else the CSV or JSON lines file there is."""
    folder = settings.directory("raw")
    for suffix in (".parquet", ".csv", ".jsonl", ".json"):
        if (folder / f"{table}{suffix}").exists():
            return folder / f"{table}{suffix}"
    raise FileNotFoundError(f"no raw {table} table in {folder} (run `data` first)")


def write_parquet(frame: DataFrame, target: Path) -> int:
    """Write ``frame`` as a Parquet folder swapped in at ``target``; return its row count."""
    partial = target.with_name(target.name + ".spark-tmp")
    frame.write.mode("overwrite").parquet(str(partial))
    batch.replace_path(partial, target)
    return frame.sparkSession.read.parquet(str(target)).count()


def upsert(spark: SparkSession, target: Path, rows: DataFrame, key: str) -> int:
    """Merge ``rows`` into the table at ``target`` by ``key`` (last write wins); return its size."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    batch.recover_path(target)
    incoming = rows.withColumn(ORDER, F.monotonically_increasing_id() + F.lit(1 << 62))
    if target.exists():
        existing = spark.read.parquet(str(target)).withColumn(ORDER, F.lit(0).cast("long"))
        incoming = existing.unionByName(incoming)
    newest = Window.partitionBy(key).orderBy(F.col(ORDER).desc())
    merged = (
        incoming.withColumn("_mlsd_rank", F.row_number().over(newest))
        .filter("_mlsd_rank = 1")
        .drop("_mlsd_rank", ORDER)
        .orderBy(key)
    )
    return write_parquet(merged, target)


def pseudonymized(settings: Settings, frame: DataFrame) -> DataFrame:
    """Return ``frame`` with its person id columns pseudonymized by the executors (keyed HMAC)."""
    present = [name for name in privacy.ID_COLUMNS if name in frame.columns]
    if not privacy.ENABLED or not present:
        return frame
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    key = privacy.Pseudonymizer(settings).key

    @F.udf(T.LongType())
    def keyed(value: int | None) -> int | None:
        # privacy.pseudonymize_id with the standard library only, so executors need not import
        # this package (the DuckDB/Spark equality test holds the two to the same pseudonyms)
        if value is None:
            return None
        digest = hmac.new(key, str(int(value)).encode(), hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big") >> 1

    for name in present:
        frame = frame.withColumn(name, keyed(F.col(name).cast("long")))
    return frame


def validated(spark: SparkSession, settings: Settings, table: str) -> DataFrame:
    """Return the raw rows of ``table`` with the reason of the first rule each breaks (or null)."""
    raw = read_table(spark, raw_path(settings, table))
    if table == "events":  # checked against the users' pseudonyms, as the DuckDB path does
        raw = pseudonymized(settings, raw)
    raw.createOrReplaceTempView("raw")
    if table == "events":
        for name in ("users", "items"):
            spark.read.parquet(str(batch.clean_path(settings, name))).createOrReplaceTempView(name)
    return spark.sql(batch.validation_sql(table))


def good_rows(checked: DataFrame, table: str) -> DataFrame:
    """Return the accepted rows without the reason, keys and context as integers."""
    from pyspark.sql import functions as F

    good = checked.filter(F.col(REASON).isNull()).drop(REASON)
    if table == "events":
        integers = [schema.USER_KEY, schema.ITEM_KEY, *schema.CONTEXT_RANGES]
        if schema.TASK != "regression":
            integers.append(schema.LABEL)
        for name in integers:
            good = good.withColumn(name, F.col(name).cast("long"))
    return good


def dead_letter(settings: Settings, checked: DataFrame, table: str) -> None:
    """Append the rejected rows (fields as text, reason, time) to ``dead_letter/<table>/``."""
    from pyspark.sql import functions as F

    rejected = checked.filter(F.col(REASON).isNotNull()).select(
        *[F.col(name).cast("string").alias(name) for name in checked.columns],
        F.lit(datetime.now(UTC).isoformat()).alias(DEAD_LETTERED_AT),
    )
    folder = settings.directory("dead_letter") / table
    rejected.write.mode("append").parquet(str(folder))


def ingest_table(settings: Settings, table: str) -> dict[str, int]:
    """Validate the raw rows of ``table``; upsert the good ones and dead-letter the rest."""
    from pyspark.sql import functions as F

    spark = session(settings)
    checked = validated(spark, settings, table).persist()
    try:
        rejected = checked.filter(F.col(REASON).isNotNull()).count()
        accepted = checked.count() - rejected
        target = batch.clean_path(settings, table)
        good = good_rows(checked, table)
        if table == "users":
            good = pseudonymized(settings, good)
        rows = upsert(spark, target, good, batch.TABLES[table])
        if rejected:
            dead_letter(settings, checked, table)
    finally:
        checked.unpersist()
    return {"accepted": accepted, "rejected": rejected, "rows": rows}


def materialize_offline(settings: Settings, group: str, table: str, target: Path) -> int:
    """Write the offline feature table of ``group`` (key, features, event time) with Spark.

    The same SQL as DuckDB (``features.store.feature_sql``): the window's as-of time is a Spark
    aggregate cross-joined to the events and the counts a group-by joined to the entities.
    """
    from pyspark.sql import functions as F

    spark = session(settings)
    for name in [table, "events"] if schema.aggregated_features(group) else [table]:
        spark.read.parquet(str(batch.clean_path(settings, name))).createOrReplaceTempView(name)
    features = spark.sql(feature_sql(group, table)).withColumn(TIMESTAMP, F.lit(FEATURE_TIME))
    return write_parquet(features, target)
