"""The server answers what ``/openapi.json`` says: schemathesis, every check, on 127.0.0.1.

A real uvicorn serves the API with API keys required; the schemathesis CLI generates requests
from the document (valid and invalid, each operation at most ``MAX_EXAMPLES`` times per phase,
a fixed seed) and fails on any answer the document does not allow: a status, a media type, a
header or a body it does not list, valid input refused, invalid input accepted, a call without
or with a wrong token answered. One run sends an API key, one the admin token to the admin route.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import ADMIN_TOKEN, API_KEY, with_tokens

pytestmark = pytest.mark.slow
MAX_EXAMPLES = 40
TIMEOUT_S = 600
"""Bound on one schemathesis run (it ends by itself after ``MAX_EXAMPLES``)."""


@pytest.fixture(scope="module")
def base_url(loop):
    """Serve the API (keys required) with uvicorn on a free port of 127.0.0.1; its URL."""
    uvicorn = pytest.importorskip("uvicorn")
    from {{ cookiecutter.package_name }}.serving.app import (
        create_app,
    )

    settings, _ = loop
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    app = create_app(with_tokens(settings, reload_interval_s=0.0))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, access_log=False, log_level="error")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    started = time.monotonic()
    while not server.started and time.monotonic() - started < 30:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    listener.close()


def schemathesis_run(base_url: str, token: str, folder: Path, *options: str) -> str:
    """Run the schemathesis CLI with every check in ``folder``; return its output, failing on
    any failure. No example database: each run starts from the seed alone."""
    pytest.importorskip("schemathesis")
    tests = str(Path(__file__).parent)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([tests, os.environ.get("PYTHONPATH", "")]),
        "SCHEMATHESIS_HOOKS": "contract_hooks",
        "NO_COLOR": "1",
    }
    command = [
        *(sys.executable, "-m", "schemathesis.cli", "run", f"{base_url}/openapi.json"),
        *("--checks", "all", "--max-examples", str(MAX_EXAMPLES), "--seed", "1"),
        *("--workers", "1", "--request-timeout", "30", "--output-truncate", "true"),
        *("--generation-database", "none"),
        # the canonical spelling: schemathesis strips the header by that name to probe auth
        *("--header", f"Authorization: Bearer {token}", *options),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, cwd=folder, timeout=TIMEOUT_S, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    summary = re.search(r"(\d+) generated, (\d+) passed", output)
    assert summary, output[-3000:]
    assert int(summary.group(1)) == int(summary.group(2)) > 0, summary.group(0)
    print(f"schemathesis: {summary.group(0)}")  # shown by pytest -rP
    return output


def test_every_operation_keeps_the_openapi_contract(base_url, tmp_path):
    output = schemathesis_run(base_url, API_KEY, tmp_path)
    assert "Tested: " in output and "Failures:" not in output


def test_the_admin_route_keeps_the_openapi_contract(base_url, tmp_path):
    output = schemathesis_run(base_url, ADMIN_TOKEN, tmp_path, "--include-path", "/model/reload")
    assert "Authentication failed" not in output  # the admin token was let in
