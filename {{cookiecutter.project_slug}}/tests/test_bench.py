"""The serving benchmark runs end to end (its numbers are printed, never asserted on)."""

from __future__ import annotations
{% if cookiecutter.serving != 'none' %}
import json
from pathlib import Path
{% endif %}
import pytest

from {{ cookiecutter.package_name }}.serving import (
    bench,
)
{%- if cookiecutter.serving == 'none' %}


def test_bench_says_there_is_nothing_to_measure(loop):
    settings, _ = loop
    with pytest.raises(ValueError, match="no REST or gRPC API"):
        bench.run(settings, duration=0.2, warmup=0.1, verbose=False)
{%- else %}


def _report(summary: dict) -> dict[str, dict]:
    report = json.loads(Path(summary["report"]).read_text())
    return {row["row"]: row for row in report["rows"]}


def test_bench_measures_every_row_against_its_floor(loop, capsys):
    settings, _ = loop
    summary = bench.run(settings, duration=0.4, warmup=0.2, connections=4, verbose=False)
    rows = _report(summary)
    table = capsys.readouterr().out
    assert summary["rows"] == len(rows) >= 3
    for name, row in rows.items():
        assert row["requests"] > 0 and row["errors"] == 0, (name, row)
        assert row["cpu_s"] > 0 and row["p99_ms"] >= row["p50_ms"] > 0
        assert name in table
    assert any("floor" in name for name in rows)
    assert "first row: champion v" in table
{%- if cookiecutter.monitoring %}
    assert "metrics (in process):" in table and "us per 1-row request" in table
{%- endif %}
    client = "h2load" if bench.h2load_path() else "Python client"
    assert f"load: {client}" in table
{%- if cookiecutter.serving in ['rest', 'rest+grpc'] and cookiecutter.registry == 'local' %}
    swaps = summary["swaps"]
    assert swaps["requests"] > 0 and swaps["errors"] == 0 and swaps["swap_failures"] == 0, swaps
    assert "hot swaps under load" in table and "server RSS" in table
{%- else %}
    assert "hot swaps under load: skipped" in table
{%- endif %}


def test_bench_python_client_and_one_row(loop, capsys):
    settings, _ = loop
    summary = bench.run(
        settings,
        duration=0.3,
        warmup=0.1,
        connections=2,
        verbose=False,
        client="python",
        only="predict, features",
    )
    rows = _report(summary)
    assert all(row["errors"] == 0 and row["requests"] > 0 for row in rows.values())
    assert all("features" in name or "floor" in name for name in rows)
    assert "load: Python client" in capsys.readouterr().out


{%- if cookiecutter.serving in ['rest', 'rest+grpc'] and cookiecutter.registry == 'local' %}


def test_hot_swaps_under_load_fail_no_request(loop):
    settings, _ = loop
    result = bench.run_swaps(settings, duration=0.6, warmup=0.2, connections=4, client="python")
    assert result["requests"] > 0 and result["errors"] == 0, result
    assert result["swaps"] > 0 and result["swap_failures"] == 0, result
    assert result["rss_start_mb"] > 0 and result["rss_end_mb"] > 0
    assert result["p99_ms"] >= result["p50_ms"] > 0
{%- endif %}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"client": "curl"}, "client must be one of"),
        ({"only": "no such row"}, "no row name contains"),
        ({"duration": 0}, "duration must be > 0"),
    ],
)
def test_bench_rejects_bad_options(loop, kwargs, message):
    settings, _ = loop
    with pytest.raises(ValueError, match=message):
        bench.run(settings, verbose=False, **kwargs)
{%- endif %}
