"""Model registry: numbered versions with metadata and checksum, champion/challenger aliases.

Local backend: ``registry/<model>/v<N>/model.pkl`` + ``metadata.json`` and
``registry/<model>/aliases.json`` under ``var_dir``. ``promote`` makes a version the champion
and remembers the previous one; ``rollback`` restores it. ``load`` refuses an artifact whose
sha256 differs from the one recorded at registration.
{%- if cookiecutter.registry == 'mlflow' %}
With ``registry=mlflow`` the same interface is served by ``mlflow_backend.MlflowRegistry``.
{%- endif %}
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import time
from pathlib import Path

from ..settings import Settings

CHAMPION = "champion"
CHALLENGER = "challenger"


class RegistryError(RuntimeError):
    """A registry operation is not possible (unknown version, nothing to roll back to)."""


class IntegrityError(RegistryError):
    """An artifact's checksum does not match the one recorded when it was registered."""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".tmp")
    partial.write_bytes(data)
    os.replace(partial, path)


class LocalRegistry:
    """A registry in a folder: safe to read while another process promotes."""

    def __init__(self, settings: Settings, name: str | None = None) -> None:
        self.root = settings.directory("registry", name or settings.model_name)

    def _aliases(self) -> dict:
        if not self.root.is_dir():
            raise RegistryError(
                f"the registry folder {self.root} is gone: restore it, or set var_dir to the "
                "folder that holds it"
            )
        path = self.root / "aliases.json"
        return json.loads(path.read_text()) if path.exists() else {"history": []}

    def _save_aliases(self, aliases: dict) -> None:
        _write_atomic(self.root / "aliases.json", json.dumps(aliases, indent=2).encode())

    def versions(self) -> list[int]:
        return sorted(
            int(p.name[1:]) for p in self.root.glob("v*") if (p / "metadata.json").exists()
        )

    def metadata(self, version: int) -> dict:
        path = self.root / f"v{version}" / "metadata.json"
        if not path.exists():
            raise RegistryError(f"model version {version} does not exist: see 'registry versions'")
        return json.loads(path.read_text())

    def register(self, bundle: dict, metadata: dict | None = None) -> int:
        """Store ``bundle`` as the next version and make it the challenger; return the version."""
        data = pickle.dumps(bundle, protocol=pickle.HIGHEST_PROTOCOL)
        version = max(self.versions(), default=0) + 1
        folder = self.root / f"v{version}"
        folder.mkdir(parents=True, exist_ok=True)
        _write_atomic(folder / "model.pkl", data)
        info = {
            "version": version,
            "sha256": sha256_bytes(data),
            "created_at": time.time(),
            "metrics": bundle.get("metrics", {}),
            "schema_hash": bundle.get("schema_hash"),
            "trainer": bundle.get("trainer"),
            **(metadata or {}),
        }
        _write_atomic(folder / "metadata.json", json.dumps(info, indent=2, default=str).encode())
        self.set_alias(CHALLENGER, version)
        return version

    def set_alias(self, alias: str, version: int) -> None:
        self.metadata(version)
        aliases = self._aliases()
        aliases[alias] = version
        self._save_aliases(aliases)

    def alias(self, alias: str) -> int | None:
        return self._aliases().get(alias)

    def promote(self, version: int | None = None) -> int:
        """Make ``version`` (default: the challenger) the champion; return it."""
        version = version if version is not None else self.alias(CHALLENGER)
        if version is None:
            raise RegistryError("nothing to promote: train and register a model first")
        self.metadata(version)
        aliases = self._aliases()
        previous = aliases.get(CHAMPION)
        if previous is not None and previous != version:
            aliases["history"].append(previous)
        aliases[CHAMPION] = version
        if aliases.get(CHALLENGER) == version:
            aliases.pop(CHALLENGER)
        self._save_aliases(aliases)
        return version

    def rollback(self) -> int:
        """Make the previous champion the champion again; return its version."""
        aliases = self._aliases()
        if not aliases["history"]:
            raise RegistryError("nothing to roll back to: no earlier champion")
        aliases[CHAMPION] = aliases["history"].pop()
        self._save_aliases(aliases)
        return aliases[CHAMPION]

    def load(self, alias_or_version: str | int = CHAMPION) -> tuple[dict, dict]:
        """Return ``(bundle, metadata)``, verifying the artifact's sha256 before unpickling."""
        version = resolve_version(self, alias_or_version)
        info = self.metadata(version)
        artifact = self.root / f"v{version}" / "model.pkl"
        if not artifact.is_file():
            raise RegistryError(
                f"model version {version} has no artifact at {artifact}: train and promote a new "
                "version (make train promote), or restore the file"
            )
        return verified_bundle(artifact.read_bytes(), version, info), info


def resolve_version(registry, alias_or_version: str | int) -> int:
    """Return the version an alias points to (or the version itself); refuse unknown aliases."""
    if not isinstance(alias_or_version, str):
        return int(alias_or_version)
    version = registry.alias(alias_or_version)
    if version is None:
        raise RegistryError(f"no model has the alias {alias_or_version!r}: promote one first")
    return int(version)


def verified_bundle(data: bytes, version: int, info: dict) -> dict:
    """Unpickle a model artifact only when its sha256 matches the one recorded at registration."""
    if sha256_bytes(data) != info["sha256"]:
        raise IntegrityError(f"model version {version} fails its sha256 check: re-register it")
    return pickle.loads(data)


def open_registry(settings: Settings):
    """Return the configured registry backend."""
{%- if cookiecutter.registry == 'mlflow' %}
    if settings.registry == "mlflow":
        from .mlflow_backend import MlflowRegistry

        return MlflowRegistry(settings)
{%- endif %}
    return LocalRegistry(settings)
