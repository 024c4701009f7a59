"""Flink job: the stream consumer's transformation as a PyFlink Table API job.

The same steps as ``stream.process``: every line of the JSON-lines event log is validated by
``events.parse_event`` (in a Python table function); invalid lines become dead letters with
their reason, valid events are deduplicated by event id, and the newest event of each user by
event time is the user's online value. The job writes three JSON-lines sinks under ``--out``
(``latest/``, ``events/``, ``dead_letters/``); the project's ``flink-apply`` verb (``make flink``
runs both) loads them into the online store, the sink and the dead-letter store.

PyFlink 2.3 pins numpy 2.1, pandas < 2.3 and pyarrow < 21, which the project's own pins do not
allow, so the job runs in its own environment: ``make flink-env`` installs requirements/flink.txt
and this package without its dependencies into ``.venv-flink``; the job imports only the
standard library, PyFlink and ``events``/``schema``. Here it reads the local log in batch mode
on an embedded mini-cluster; reading the Kafka topic instead needs the Kafka SQL connector jar
(``flink-sql-connector-kafka``) on ``pipeline.jars``, which PyFlink does not bundle.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from .. import schema
from .events import ACTIVITY, parse_event

SINKS = ("latest", "events", "dead_letters")
COLUMNS = (schema.EVENT_KEY, schema.USER_KEY, schema.EVENT_TIME, ACTIVITY, "record", "reason")


def _quoted(path: Path) -> str:
    return str(path.resolve()).replace("'", "''")


def _parse_function():
    from pyflink.table import DataTypes
    from pyflink.table.udf import udtf

    kinds = [DataTypes.STRING(), DataTypes.BIGINT(), DataTypes.DOUBLE(), DataTypes.DOUBLE()]

    @udtf(result_types=[*kinds, DataTypes.STRING(), DataTypes.STRING()])
    def parse(line: str):
        event, reason = parse_event(line)
        if event is None:
            yield None, None, None, None, line.strip()[:1000], reason
        else:
            yield (*(event[name] for name in COLUMNS[:4]), None, None)

    return parse


def _sink(table: str, columns: str, path: Path) -> str:
    return (
        f"CREATE TABLE {table} ({columns}) WITH ('connector' = 'filesystem', "
        f"'path' = '{_quoted(path)}', 'format' = 'json')"
    )


def _newest(table: str, columns: list[str], partition: str, order: str) -> str:
    """Return an INSERT of the first row per ``partition`` in ``order`` among the valid events."""
    picked = ", ".join(f"`{c}`" for c in columns)
    return (
        f"INSERT INTO {table} SELECT {picked} FROM (SELECT *, ROW_NUMBER() OVER "
        f"(PARTITION BY `{partition}` ORDER BY {order}) AS rank_in_group FROM parsed "
        "WHERE `reason` IS NULL) WHERE rank_in_group = 1"
    )


def statements(events: Path, out: Path) -> list[str]:
    """Return the job's SQL: the source, the parsed view, the three sinks, then their inserts."""
    key, user, time = schema.EVENT_KEY, schema.USER_KEY, schema.EVENT_TIME
    names = ", ".join(f"`{c}`" for c in COLUMNS)
    return [
        f"CREATE TABLE raw_events (line STRING) WITH ('connector' = 'filesystem', "
        f"'path' = '{_quoted(events)}', 'format' = 'raw')",
        "CREATE TEMPORARY VIEW parsed AS SELECT p.* FROM raw_events, "
        f"LATERAL TABLE(parse_event(line)) AS p({names})",
        _sink(
            "latest_sink", f"`{user}` BIGINT, `{ACTIVITY}` DOUBLE, `{time}` DOUBLE", out / SINKS[0]
        ),
        _sink(
            "events_sink",
            f"`{key}` STRING, `{user}` BIGINT, `{time}` DOUBLE, `{ACTIVITY}` DOUBLE",
            out / "events",
        ),
        _sink("dead_letters_sink", "`record` STRING, `reason` STRING", out / "dead_letters"),
        _newest("latest_sink", [user, ACTIVITY, time], user, f"`{time}` DESC"),
        _newest("events_sink", [key, user, time, ACTIVITY], key, f"`{time}`"),
        "INSERT INTO dead_letters_sink SELECT `record`, `reason` FROM parsed "
        "WHERE `reason` IS NOT NULL",
    ]


def run(events: Path, out: Path, parallelism: int = 1) -> None:
    """Run the job over the log ``events`` into ``out`` (its sink folders are replaced)."""
    from pyflink.table import EnvironmentSettings, TableEnvironment

    if not events.is_file():
        raise FileNotFoundError(f"no event log at {events}: run the data step first")
    for name in SINKS:
        shutil.rmtree(out / name, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    tables = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    config = tables.get_config()
    config.set("parallelism.default", str(parallelism))
    config.set("rest.bind-address", "127.0.0.1")
    tables.create_temporary_function("parse_event", _parse_function())
    *ddl, latest, unique, dead = statements(events, out)
    for statement in ddl:
        tables.execute_sql(statement)
    inserts = tables.create_statement_set()
    for statement in (latest, unique, dead):
        inserts.add_insert_sql(statement)
    inserts.execute().wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the stream transformation as a PyFlink job.")
    parser.add_argument("--events", type=Path, required=True, help="JSON-lines event log")
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="folder of the latest/, events/, dead_letters/ sinks",
    )
    parser.add_argument("--parallelism", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        run(args.events, args.out, args.parallelism)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"flink job done: {', '.join(str(args.out / name) for name in SINKS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
