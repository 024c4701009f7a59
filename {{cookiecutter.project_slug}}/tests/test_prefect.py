"""The Prefect flow runs on an ephemeral server on 127.0.0.1.

On the small synthetic data. Runs only when the ``prefect`` group is installed (``make setup``
installs it); with ``MLSD_REQUIRE_TOOLS=1`` a missing prefect fails instead of skipping.
"""

from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.pipelines import (
    prefect_flow as definition,
)
from {{ cookiecutter.package_name }}.registry.registry import open_registry
from {{ cookiecutter.package_name }}.settings import ENV_PREFIX

from conftest import (
    orchestrator_required,
    run_script,
    small_settings,
    step_environment,
)

pytestmark = pytest.mark.skipif(
    find_spec("prefect") is None and not orchestrator_required(),
    reason="prefect is not installed: `make setup` installs the prefect group",
)
CADENCE = "{{ cookiecutter.retraining_cadence }}"


RUN_FLOWS = """
import json, sys

sys.path.insert(0, sys.argv[1])
from conftest import make_unbeatable
from prefect.client.orchestration import get_client

from {{ cookiecutter.package_name }}.pipelines import prefect_flow
from {{ cookiecutter.package_name }}.registry.registry import open_registry
from {{ cookiecutter.package_name }}.settings import load_settings

settings = load_settings()
registry = open_registry(settings)
flow = prefect_flow.build_flow()
runs = []
for attempt in range(2):  # the second after making the first model unbeatable
    if attempt:
        make_unbeatable(settings, registry.alias("champion"))
    state = flow(return_state=True)
    versions, champion = registry.versions(), registry.alias("champion")
    runs.append({"state": state.type.value, "versions": versions, "champion": champion})
deployment = prefect_flow.build_deployment(flow)
schedules = [getattr(s.schedule, "cron", None) for s in deployment.schedules or []]
with get_client(sync_client=True) as client:
    api = str(client.api_url)
print("RESULT " + json.dumps({"runs": runs, "schedules": schedules, "api": api}))
"""


def prefect_environment(tmp_path) -> dict:
    """Prefect on an ephemeral server on 127.0.0.1 with its state under ``tmp_path``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", ENV_PREFIX))}
    return {
        **env,
        **step_environment(tmp_path),
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_ALLOW_EPHEMERAL_MODE": "true",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false",
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY": "false",
        "PREFECT_LOGGING_TO_API_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }


def test_the_flow_completes_on_a_local_server_promoting_only_a_better_model(tmp_path):
    result = run_script(RUN_FLOWS, prefect_environment(tmp_path), str(Path(__file__).parent))
    first, second = result["runs"]
    assert result["api"].startswith("http://127.0.0.1:")
    assert first == {"state": "COMPLETED", "versions": [1], "champion": 1}
    assert second == {"state": "COMPLETED", "versions": [1, 2], "champion": 1}
    assert result["schedules"] == ([definition.CRON] if definition.CRON else [])
    registry = open_registry(small_settings(tmp_path))
    assert registry.alias("challenger") == 2 and registry.alias("champion") == 1


def test_the_schedule_follows_the_retraining_cadence():
    expected = {"hourly": "0 * * * *", "daily": "0 3 * * *", "weekly": "0 3 * * 1", "manual": ""}
    assert definition.CRON == expected[CADENCE]
