"""Alert rules and the monitoring stack's deployment files are valid, and every alert is tested.

``promtool`` (Debian/Ubuntu: ``apt install prometheus``; or a Prometheus release) checks
``deploy/prometheus/alerts.yml`` and runs its unit tests, ``alerts_test.yml``. Without promtool
these tests skip, unless ``MLSD_REQUIRE_TOOLS=1`` is set (CI), which makes a missing tool a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PROMETHEUS = ROOT / "deploy" / "prometheus"


def tool(name: str) -> str:
    """Return the path of ``name``; skip (fail under MLSD_REQUIRE_TOOLS=1) when it is missing."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not on PATH (apt install prometheus provides promtool)"
        if os.environ.get("MLSD_REQUIRE_TOOLS") == "1":
            pytest.fail(f"MLSD_REQUIRE_TOOLS=1: {message}")
        pytest.skip(message)
    return path


def _promtool(*args: str) -> subprocess.CompletedProcess:
    command = [tool("promtool"), *args]
    return subprocess.run(command, cwd=PROMETHEUS, capture_output=True, text=True, timeout=120)


def test_alert_rules_pass_promtool_check():
    checked = _promtool("check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_alert_fires_on_its_synthetic_series_and_stays_quiet_on_a_healthy_one():
    tested = _promtool("test", "rules", "alerts_test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout + tested.stderr


def test_the_unit_tests_cover_every_alert_both_ways():
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    cases = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text())["tests"]
    firing, quiet = set(), set()
    for case in cases:
        for check in case["alert_rule_test"]:
            (firing if check["exp_alerts"] else quiet).add(check["alertname"])
    assert alerts - firing == set(), "alerts with no test that they fire"
    assert alerts - quiet == set(), "alerts with no test that they stay quiet"


def test_the_latency_alert_reads_the_budget_bucket_the_service_exports():
    from {{ cookiecutter.package_name }}.monitoring import metrics

    rules = (PROMETHEUS / "alerts.yml").read_text()
    bounds = set(re.findall(r'predict_latency_seconds_bucket\{le="([^"]+)"\}', rules))
    assert bounds == {str(metrics.LATENCY_BUDGET_S)}
    assert metrics.LATENCY_BUDGET_S in metrics.LATENCY_BUCKETS


def test_grafana_is_provisioned_and_not_anonymous():
    compose = (ROOT / "deploy" / "compose.yaml").read_text()
    grafana = yaml.safe_load(compose)["services"]["grafana"]
    environment = grafana["environment"]
    assert environment["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert "GRAFANA_ADMIN_PASSWORD:?" in environment["GF_SECURITY_ADMIN_PASSWORD"]
    mounted = {volume.split(":")[1] for volume in grafana["volumes"]}
    assert mounted == {"/etc/grafana/provisioning", "/var/lib/grafana/dashboards"}
    provisioning = ROOT / "deploy" / "grafana" / "provisioning"
    source = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    assert source["datasources"][0]["url"] == "http://prometheus:9090"
    provider = yaml.safe_load((provisioning / "dashboards" / "dashboards.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    assert list((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
