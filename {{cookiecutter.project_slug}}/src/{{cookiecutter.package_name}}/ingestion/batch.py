"""Batch ingestion: validate raw tables against the schema, upsert good rows by key.

Reads ``raw/{users,items,events}.parquet``; writes ``clean/<table>.parquet`` and rejected rows
to the dead-letter store with their reason.{% if cookiecutter.contains_pii %} Person ids are pseudonymized (``privacy.py``) before
anything is written: users after their checks (a rejected user row is dead-lettered as received),
events before theirs (their references are checked against the pseudonymized users).{% endif %}
The checks are SQL (``rules``) run by DuckDB.
{%- if cookiecutter.batch_engine == 'spark' %}
With ``batch_engine=spark`` the whole job runs on Spark over Parquet (``spark_jobs.py``).
{%- endif %}
Re-running a batch adds no duplicates.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd

from .. import schema
from ..privacy import ENABLED, Pseudonymizer
from ..settings import Settings
from . import dead_letter

TABLES = {"users": schema.USER_KEY, "items": schema.ITEM_KEY, "events": schema.EVENT_KEY}


def rules(table: str) -> list[tuple[str, str]]:
    """Return ``(reason, SQL condition that marks a bad row)`` for ``table``, first match wins."""
    key = TABLES[table]
    checks = [(f"missing {key}", f"{key} IS NULL")]
    if table == "events":
        for entity, ref in ((schema.USER_KEY, "users"), (schema.ITEM_KEY, "items")):
            known = f"{entity} IN (SELECT {entity} FROM {ref})"
            checks.append((f"unknown {entity}", f"{entity} IS NULL OR NOT ({known})"))
        checks.append(
            (f"missing {schema.LABEL}", f"{schema.LABEL} IS NULL OR isnan({schema.LABEL})")
        )
        checks += [
            (
                f"{name} out of range {low}-{high}",
                f"{name} IS NULL OR {name} NOT BETWEEN {low} AND {high}",
            )
            for name, (low, high) in schema.CONTEXT_RANGES.items()
        ]
    else:
        checks.append((f"negative {key}", f"{key} < 0"))
        group = "user" if table == "users" else "item"
        checks += [
            (f"missing {name}", f"{name} IS NULL OR isnan({name})")
            for name in schema.entity_features(group)
        ]
    return checks


def validation_sql(table: str) -> str:
    cases = " ".join(f"WHEN {cond} THEN '{reason}'" for reason, cond in rules(table))
    return f"SELECT *, CASE {cases} ELSE NULL END AS {dead_letter.REASON} FROM raw"


def run_sql(sql: str, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Run ``sql`` over named frames with DuckDB."""
    import duckdb

    with duckdb.connect() as con:
        for name, frame in tables.items():
            con.register(name, frame)
        return con.sql(sql).df()


def clean_path(settings: Settings, table: str) -> Path:
    return settings.directory("clean") / f"{table}.parquet"


def upsert(path: Path, rows: pd.DataFrame, key: str) -> int:
    """Merge ``rows`` into the table at ``path`` by ``key`` (last write wins); return its size."""
    recover_path(path)
    if path.exists():
        rows = pd.concat([pd.read_parquet(path), rows], ignore_index=True)
    rows = rows.drop_duplicates(subset=[key], keep="last").sort_values(key, ignore_index=True)
    partial = path.with_suffix(".tmp")
    rows.to_parquet(partial, index=False)
    replace_path(partial, path)
    return len(rows)


def remove_path(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def recover_path(target: Path) -> None:
    """Put back the previous version of ``target`` if a crash hit ``replace_path`` midway."""
    previous = target.with_name(target.name + ".old")
    if previous.exists() and not target.exists():
        os.replace(previous, target)


def replace_path(partial: Path, target: Path) -> None:
    """Swap ``partial`` (a Parquet file or folder) in at ``target``; readers see old or new."""
    recover_path(target)
    previous = target.with_name(target.name + ".old")
    remove_path(previous)
    if target.is_dir() or partial.is_dir():
        if target.exists():
            os.replace(target, previous)
        os.replace(partial, target)
        remove_path(previous)
    else:
        os.replace(partial, target)


def pseudonymize_known(pseudonyms: Pseudonymizer, raw: pd.DataFrame) -> pd.DataFrame:
    """Return ``raw`` with its present person ids pseudonymized (missing ones stay missing)."""
    present = raw[schema.USER_KEY].notna()
    if not ENABLED or not present.any():
        return raw
    ids = raw[schema.USER_KEY].astype("float64").astype("Int64")
    ids[present] = pseudonyms.column(ids[present]).to_numpy()
    return raw.assign(**{schema.USER_KEY: ids})


def ingest_table(
    settings: Settings, table: str, raw: pd.DataFrame, pseudonyms: Pseudonymizer | None = None
) -> dict[str, int]:
    """Validate ``raw`` rows of ``table``; upsert the good ones and dead-letter the rest."""
    pseudonyms = pseudonyms or Pseudonymizer(settings)
    known = {}
    if table == "events":
        known = {name: pd.read_parquet(clean_path(settings, name)) for name in ("users", "items")}
        raw = pseudonymize_known(pseudonyms, raw)
    checked = run_sql(validation_sql(table), {"raw": raw, **known})
    bad = checked[dead_letter.REASON].notna()
    good = checked.loc[~bad].drop(columns=dead_letter.REASON)
    if table == "users":
        good = pseudonyms.frame(good)
    if table == "events":
        good = good.astype({schema.USER_KEY: "int64", schema.ITEM_KEY: "int64"})
        good = good.astype({name: "int64" for name in schema.CONTEXT_RANGES})
        if schema.TASK != "regression":
            good = good.astype({schema.LABEL: "int64"})
    rows = upsert(clean_path(settings, table), good.reset_index(drop=True), TABLES[table])
    if bad.any():
        dead_letter.write(settings, table, checked.loc[bad])
    return {"accepted": int((~bad).sum()), "rejected": int(bad.sum()), "rows": rows}


def ingest(settings: Settings) -> dict[str, dict[str, int]]:
    """Ingest every raw table (entities first, so events can check their references)."""
{%- if cookiecutter.batch_engine == 'spark' %}
    if settings.batch_engine == "spark":
        from .. import spark_jobs

        return {table: spark_jobs.ingest_table(settings, table) for table in TABLES}
{%- endif %}
    raw_dir = settings.directory("raw")
    pseudonyms = Pseudonymizer(settings)
    return {
        table: ingest_table(
            settings, table, pd.read_parquet(raw_dir / f"{table}.parquet"), pseudonyms
        )
        for table in TABLES
    }
