"""Feature store: offline Parquet tables for training, an online store for serving.

``materialize`` reads ``clean/{users,items,events}.parquet`` and writes the offline tables
``features/{user,item}.parquet`` with ``feature_sql`` (entity columns, plus the aggregated
features: item events and distinct users over the trailing ``schema.AGGREGATION_WINDOW_DAYS``),
run by DuckDB{% if cookiecutter.batch_engine == 'spark' %}, or by Spark when ``batch_engine=spark``{% endif %}. Aggregates are a
snapshot as of the newest clean event, joined to every training row, not point-in-time values.
It then loads the online store (SQLite ``features/online.db``) from that offline Parquet, the
newest row per entity.
{%- if cookiecutter.feature_store == 'feast' %}
With ``feature_store=feast`` the same interface is backed by Feast (``feast_repo/``), its online
store SQLite under ``var_dir/feast`` or Redis (``online_store=redis`` at ``redis_url``). Online
rows carry their write time, so a later materialization replaces earlier values on Redis too.
{%- endif %}
Training rows (``get_training_frame``) and serving rows (``get_online_features``) are both built
by ``assemble`` from the schema, so the same entity and context give the same vector.
When the online store fails, serving uses ``fallback_vectors`` (``feature_store_fallback:
defaults``) or answers 503 (``error``): see ``serving/core.py``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from .. import schema
from ..ingestion import batch
from ..ingestion.batch import clean_path, replace_path
from ..settings import Settings

TIMESTAMP = "event_timestamp"
FEATURE_TIME = datetime(2024, 1, 1, tzinfo=UTC)
"""The event time stamped on materialized feature rows."""
KEYS = {"user": schema.USER_KEY, "item": schema.ITEM_KEY}
TABLES = {"user": "users", "item": "items"}


class UnknownEntityError(KeyError):
    """An entity id has no row in the online store."""

    def __str__(self) -> str:
        return str(self.args[0])


class StoreUnavailableError(RuntimeError):
    """The online store failed and ``feature_store_fallback`` is ``error``: nothing to serve."""


def assemble(
    users: Mapping[str, np.ndarray],
    items: Mapping[str, np.ndarray],
    context: Mapping[str, np.ndarray],
) -> np.ndarray:
    """Return the (n, n_features) matrix in schema order from per-group columns.

    One transform for training frames and online rows: each feature column is copied into its
    place in a preallocated matrix (half the cost of stacking for a single online row).
    """
    sources = {"user": users, "item": items, "context": context}
    first = schema.FEATURES[0]
    matrix = np.empty((len(sources[first.group][first.name]), len(schema.FEATURES)))
    for k, feature in enumerate(schema.FEATURES):
        if feature.group != "interaction":
            matrix[:, k] = sources[feature.group][feature.name]
    interactions = [k for k, f in enumerate(schema.FEATURES) if f.group == "interaction"]
    matrix[:, interactions] = schema.interaction_features(users, items)
    return matrix


def feature_sql(group: str, table: str) -> str:
    """Return the SQL (DuckDB and Spark) of the offline features of ``group``, in schema order.

    Reads views ``table`` (clean entities) and ``events`` (clean events). Entity features are
    copied; each aggregated feature (``Feature.aggregate``) is computed over the entity's events
    with ``as_of - AGGREGATION_WINDOW_DAYS < event_time <= as_of``, ``as_of`` the newest event
    time (a cross-joined aggregate, so Spark never collects it); no events in the window give 0.
    All features are DOUBLE.
    """
    key = KEYS[group]
    aggregated = schema.aggregated_features(group)
    columns = [
        f"CAST(COALESCE(a.{f.name}, 0) AS DOUBLE) AS {f.name}"
        if f.aggregate
        else f"CAST(t.{f.name} AS DOUBLE) AS {f.name}"
        for f in schema.FEATURES
        if f.group == group
    ]
    select = f"SELECT t.{key}, {', '.join(columns)} FROM {table} t"
    if not aggregated:
        return f"{select} ORDER BY t.{key}"
    seconds = schema.AGGREGATION_WINDOW_DAYS * 86_400
    time = schema.EVENT_TIME
    return (
        f"WITH recent AS (SELECT e.* FROM events e "
        f"CROSS JOIN (SELECT MAX({time}) AS as_of FROM events) w "
        f"WHERE e.{time} > w.as_of - {seconds} AND e.{time} <= w.as_of), "
        f"aggregates AS (SELECT {key}, "
        f"{', '.join(f'{f.aggregate} AS {f.name}' for f in aggregated)} "
        f"FROM recent GROUP BY {key}) "
        f"{select} LEFT JOIN aggregates a ON a.{key} = t.{key} ORDER BY t.{key}"
    )


def context_columns(context: Mapping[str, Sequence[float]] | None, n: int) -> dict[str, np.ndarray]:
    """Return context columns, filling missing ones with the schema defaults."""
    context = context or {}
    return {
        name: np.asarray(context.get(name, [default] * n), dtype=np.float64)
        for name, default in schema.CONTEXT_DEFAULTS.items()
    }


def fallback_vectors(n: int, context: Mapping[str, Sequence[float]] | None) -> np.ndarray:
    """Return ``n`` vectors of ``schema.FALLBACK_VALUES`` with the request's context."""
    columns = {name: np.full(n, value) for name, value in schema.FALLBACK_VALUES.items()}
    return assemble(columns, columns, context_columns(context, n))


class BuiltinStore:
    """Offline Parquet plus an online SQLite table per entity, keyed by entity id."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.offline_dir = settings.directory("features")
        self._lock = threading.Lock()
        self._con: sqlite3.Connection | None = None

    def offline_path(self, group: str) -> Path:
        return self.offline_dir / f"{group}.parquet"

    def materialize(self) -> dict[str, int]:
        """Write offline feature tables and load them into the online store."""
        counts = {}
        for group, table in TABLES.items():
            counts[group] = self.materialize_offline(group, table)
            self.write_online(group, self.latest_offline(group))
        return counts

    def materialize_offline(self, group: str, table: str) -> int:
        """Write the offline table of ``group`` (``feature_sql`` by DuckDB); return its rows."""
        target = self.offline_path(group)
{%- if cookiecutter.batch_engine == 'spark' %}
        if self.settings.batch_engine == "spark":
            from .. import spark_jobs

            return spark_jobs.materialize_offline(self.settings, group, table, target)
{%- endif %}
        names = [table, "events"] if schema.aggregated_features(group) else [table]
        tables = {name: pd.read_parquet(clean_path(self.settings, name)) for name in names}
        frame = batch.run_sql(feature_sql(group, table), tables)
        frame[TIMESTAMP] = pd.Timestamp(FEATURE_TIME)
        partial = target.with_suffix(".tmp")
        frame.to_parquet(partial, index=False)
        replace_path(partial, target)
        return len(frame)

    def latest_offline(self, group: str) -> pd.DataFrame:
        """Return the newest offline row of each entity of ``group`` (a file or Parquet folder)."""
        frame = pd.read_parquet(self.offline_path(group))
        frame = frame.sort_values([KEYS[group], TIMESTAMP], kind="stable")
        return frame.drop_duplicates(KEYS[group], keep="last").reset_index(drop=True)

    def get_training_frame(self) -> pd.DataFrame:
        """Return events joined with offline features: keys, time, label and features."""
        import duckdb

        events = pd.read_parquet(self.settings.directory("clean") / "events.parquet")
        users = pd.read_parquet(self.offline_path("user"))
        items = pd.read_parquet(self.offline_path("item"))
        with duckdb.connect() as con:
            for name, frame in (("events", events), ("users", users), ("items", items)):
                con.register(name, frame)
            joined = con.sql(
                f"SELECT e.*, {', '.join(f'u.{c}' for c in schema.feature_names('user'))}, "
                f"{', '.join(f'i.{c}' for c in schema.feature_names('item'))} "
                f"FROM events e JOIN users u USING ({schema.USER_KEY}) "
                f"JOIN items i USING ({schema.ITEM_KEY}) "
                f"ORDER BY e.{schema.EVENT_TIME}, e.{schema.EVENT_KEY}"
            ).df()
        matrix = assemble(joined, joined, joined)
        keys = [
            schema.EVENT_KEY,
            schema.QUERY_KEY,
            schema.USER_KEY,
            schema.ITEM_KEY,
            schema.EVENT_TIME,
        ]
        frame = joined[[*keys, schema.LABEL]].reset_index(drop=True)
        return pd.concat([frame, pd.DataFrame(matrix, columns=schema.feature_names())], axis=1)

    def online_vectors(
        self,
        user_ids: Sequence[int],
        item_ids: Sequence[int],
        context: Mapping[str, Sequence[float]] | None = None,
    ) -> np.ndarray:
        """Return feature vectors for (user, item, context) rows from the online store."""
        users = self.lookup("user", user_ids)
        items = self.lookup("item", item_ids)
        return assemble(users, items, context_columns(context, len(user_ids)))

    def get_online_features(
        self,
        user_ids: Sequence[int],
        item_ids: Sequence[int],
        context: Mapping[str, Sequence[float]] | None = None,
    ) -> pd.DataFrame:
        vectors = self.online_vectors(user_ids, item_ids, context)
        return pd.DataFrame(vectors, columns=schema.feature_names())

    def _connection(self) -> sqlite3.Connection:
        if self._con is None:
            path = self.offline_dir / "online.db"
            self._con = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._con.execute("PRAGMA journal_mode=WAL")
        return self._con

    def write_online(self, group: str, frame: pd.DataFrame) -> None:
        """Replace the online table of ``group`` with ``frame`` (key + feature columns)."""
        names = [KEYS[group], *schema.feature_names(group)]
        with self._lock:
            con = self._connection()
            con.execute("BEGIN")
            con.execute(f"DROP TABLE IF EXISTS {group}_features")
            columns = ", ".join(f"{name} REAL" for name in names[1:])
            con.execute(
                f"CREATE TABLE {group}_features ({names[0]} INTEGER PRIMARY KEY, {columns})"
            )
            con.executemany(
                f"INSERT INTO {group}_features VALUES ({', '.join('?' * len(names))})",
                frame[names].itertuples(index=False, name=None),
            )
            con.execute("COMMIT")

    def update_online(self, group: str, rows: pd.DataFrame, times: Sequence[float]) -> int:
        """Overwrite feature columns of entities from rows newer than the entity's; return applied.

        ``times`` are the rows' event times (epoch seconds). Each entity's newest applied event
        time is kept (table ``<group>_event_times``); a row no newer than it is skipped, so a
        replayed older event never overwrites a newer value.
        """
        names = [name for name in rows.columns if name != KEYS[group]]
        assignments = ", ".join(f"{name} = ?" for name in names)
        with self._lock:
            con = self._connection()
            con.execute("BEGIN")
            try:
                fresh = rows.iloc[self._claim_newer(con, group, rows[KEYS[group]], times)]
                con.executemany(
                    f"UPDATE {group}_features SET {assignments} WHERE {KEYS[group]} = ?",
                    fresh[[*names, KEYS[group]]].itertuples(index=False, name=None),
                )
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        return len(fresh)

    def _claim_newer(
        self, con: sqlite3.Connection, group: str, ids: Sequence[int], times: Sequence[float]
    ) -> list[int]:
        """Record each row's event time where newer than its entity's; return those rows."""
        key = KEYS[group]
        con.execute(
            f"CREATE TABLE IF NOT EXISTS {group}_event_times ({key} INTEGER PRIMARY KEY, t REAL)"
        )
        claimed = []
        for position, (entity, time) in enumerate(zip(ids, times, strict=True)):
            before = con.total_changes
            con.execute(
                f"INSERT INTO {group}_event_times VALUES (?, ?) ON CONFLICT ({key}) "
                "DO UPDATE SET t = excluded.t WHERE excluded.t > t",
                (int(entity), float(time)),
            )
            if con.total_changes > before:
                claimed.append(position)
        return claimed

    def known(self, group: str, ids: Sequence[int]) -> set[int]:
        """Return the ids among ``ids`` that have a row in the online store."""
        unique = sorted({int(i) for i in ids})
        found: set[int] = set()
        with self._lock:
            con = self._connection()
            for start in range(0, len(unique), 500):
                chunk = unique[start : start + 500]
                found |= {
                    row[0]
                    for row in con.execute(
                        f"SELECT {KEYS[group]} FROM {group}_features "
                        f"WHERE {KEYS[group]} IN ({', '.join('?' * len(chunk))})",
                        chunk,
                    )
                }
        return found

    def lookup(self, group: str, ids: Sequence[int]) -> dict[str, np.ndarray]:
        """Return feature columns for ``ids`` in order; UnknownEntityError if one is missing."""
        names = schema.feature_names(group)
        wanted = [int(i) for i in ids]
        unique = sorted(set(wanted))
        key = KEYS[group]
        where = f"{key} = ?" if len(unique) == 1 else f"{key} IN ({', '.join('?' * len(unique))})"
        query = f"SELECT {key}, {', '.join(names)} FROM {group}_features WHERE {where}"
        with self._lock:
            rows = self._connection().execute(query, unique).fetchall()
        if len(rows) != len(unique):
            found = {row[0] for row in rows}
            raise UnknownEntityError(f"unknown {key} {next(i for i in unique if i not in found)}")
        found = {row[0]: row[1:] for row in rows}
        values = np.array([found[i] for i in wanted], dtype=np.float64).reshape(
            len(wanted), len(names)
        )
        return {name: values[:, k] for k, name in enumerate(names)}
{%- if cookiecutter.feature_store == 'feast' %}


class FeastStore(BuiltinStore):
    """The same interface backed by Feast (definitions in ``features/feast_repo``)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._feast = None

    def feast(self):
        """Return the Feast FeatureStore, configured under ``var_dir/feast``."""
        if self._feast is None:
            from feast import FeatureStore, RepoConfig

            from .feast_repo import definitions

            folder = self.settings.directory("feast")
            online = {"type": "sqlite", "path": str(folder / "online.db")}
            if self.settings.online_store == "redis":
                address = redis_connection_string(self.settings.redis_url)
                online = {"type": "redis", "connection_string": address}
            config = RepoConfig(
                project="{{ cookiecutter.package_name }}",
                provider="local",
                registry=str(folder / "registry.db"),
                online_store=online,
                offline_store={"type": "file"},
                entity_key_serialization_version=3,
            )
            self._feast = FeatureStore(
                repo_path=str(Path(definitions.__file__).parent), config=config
            )
            self._feast.apply(definitions.build(self.offline_dir))
        return self._feast

    def write_online(self, group: str, frame: pd.DataFrame) -> None:
        """Write rows stamped with the write time: Redis keeps a row only if its stamp is newer."""
        stamped = frame.assign(**{TIMESTAMP: pd.Timestamp.now(tz="UTC")})
        self.feast().write_to_online_store(f"{group}_features", stamped)

    def update_online(self, group: str, rows: pd.DataFrame, times: Sequence[float]) -> int:
        """Overwrite feature columns of entities from rows newer than the entity's; return applied.

        Feast's SQLite online store overwrites whatever the stamp, so the newest event time of
        each entity is checked and recorded first, in the built-in store's ``online.db``, in a
        transaction committed only after Feast took the write.
        """
        with self._lock:
            con = self._connection()
            con.execute("BEGIN")
            try:
                fresh = rows.iloc[self._claim_newer(con, group, rows[KEYS[group]], times)]
                if len(fresh):
                    current = pd.DataFrame(self._fetch(group, fresh[KEYS[group]].tolist()))
                    for name in fresh.columns:
                        current[name] = fresh[name].to_numpy()
                    self.write_online(group, current)
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        return len(fresh)

    def known(self, group: str, ids: Sequence[int]) -> set[int]:
        unique = sorted({int(i) for i in ids})
        first = self._fetch(group, unique)[schema.feature_names(group)[0]] if unique else []
        return {i for i, value in zip(unique, first, strict=True) if value is not None}

    def _fetch(self, group: str, ids: Sequence[int]) -> dict[str, list]:
        return (
            self.feast()
            .get_online_features(
                features=[f"{group}_features:{name}" for name in schema.feature_names(group)],
                entity_rows=[{KEYS[group]: int(i)} for i in ids],
            )
            .to_dict()
        )

    def lookup(self, group: str, ids: Sequence[int]) -> dict[str, np.ndarray]:
        names = schema.feature_names(group)
        response = self._fetch(group, ids)
        for i, value in zip(ids, response[names[0]], strict=True):
            if value is None:
                raise UnknownEntityError(f"unknown {KEYS[group]} {i}")
        return {name: np.asarray(response[name], dtype=np.float64) for name in names}


def redis_connection_string(url: str) -> str:
    """Return Feast's ``host:port,db=N[,password=...][,ssl=true]`` form of a ``redis://`` URL."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise ValueError(f"redis_url {url!r} is not redis://[:password@]host[:port][/db]")
    db = parts.path.strip("/") or "0"
    options = [f"{parts.hostname}:{parts.port or 6379}", f"db={int(db)}"]
    if parts.username:
        options.append(f"username={unquote(parts.username)}")
    if parts.password:
        options.append(f"password={unquote(parts.password)}")
    if parts.scheme == "rediss":
        options.append("ssl=true")
    return ",".join(options)
{%- endif %}


def open_store(settings: Settings) -> BuiltinStore:
    """Return the configured feature store backend."""
{%- if cookiecutter.feature_store == 'feast' %}
    if settings.feature_store == "feast":
        return FeastStore(settings)
{%- endif %}
    return BuiltinStore(settings)
