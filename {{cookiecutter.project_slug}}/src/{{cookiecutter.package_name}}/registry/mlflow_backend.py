"""MLflow registry backend: the local registry's interface on an MLflow tracking server.

Each ``register`` logs a run with the metrics and the pickled bundle, creates a model version
tagged with the artifact's sha256 and sets the ``challenger`` alias. The embedded default is a
SQLite backend with artifacts under ``var_dir`` (``mlflow.db``, ``mlartifacts/``); production
points ``mlflow_tracking_uri`` at a tracking server.
"""

from __future__ import annotations

import json
import logging
import pickle
import tempfile
from pathlib import Path

from ..settings import Settings
from .registry import (
    CHALLENGER,
    CHAMPION,
    RegistryError,
    resolve_version,
    sha256_bytes,
    verified_bundle,
)


class MlflowRegistry:
    """Versions, aliases and checksums kept by MLflow's model registry."""

    def __init__(self, settings: Settings) -> None:
        import mlflow
        from mlflow.tracking import MlflowClient

        logging.getLogger("mlflow").setLevel(logging.WARNING)
        uri = settings.mlflow_tracking_uri or f"sqlite:///{settings.var / 'mlflow.db'}"
        self.name = settings.model_name
        self.client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        self._mlflow = mlflow
        experiment = self.client.get_experiment_by_name(self.name)
        if experiment is None:
            artifacts = settings.directory("mlartifacts").as_uri()
            self.experiment_id = self.client.create_experiment(
                self.name, artifact_location=artifacts
            )
        else:
            self.experiment_id = experiment.experiment_id
        try:
            self.client.get_registered_model(self.name)
        except self._mlflow.exceptions.MlflowException:
            self.client.create_registered_model(self.name)

    def versions(self) -> list[int]:
        found = self.client.search_model_versions(f"name = '{self.name}'")
        return sorted(int(v.version) for v in found)

    def metadata(self, version: int) -> dict:
        try:
            found = self.client.get_model_version(self.name, str(version))
        except self._mlflow.exceptions.MlflowException as error:
            raise RegistryError(f"model version {version} does not exist") from error
        return {
            "version": int(found.version),
            "run_id": found.run_id,
            **json.loads(found.tags["metadata"]),
        }

    def alias(self, alias: str) -> int | None:
        try:
            return int(self.client.get_model_version_by_alias(self.name, alias).version)
        except self._mlflow.exceptions.MlflowException:
            return None

    def set_alias(self, alias: str, version: int) -> None:
        self.metadata(version)
        self.client.set_registered_model_alias(self.name, alias, str(version))

    def register(self, bundle: dict, metadata: dict | None = None) -> int:
        data = pickle.dumps(bundle, protocol=pickle.HIGHEST_PROTOCOL)
        info = {
            "sha256": sha256_bytes(data),
            "metrics": bundle.get("metrics", {}),
            "schema_hash": bundle.get("schema_hash"),
            "trainer": bundle.get("trainer"),
            **(metadata or {}),
        }
        run = self.client.create_run(self.experiment_id)
        for key, value in bundle.get("metrics", {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.client.log_metric(run.info.run_id, key, float(value))
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "model.pkl").write_bytes(data)
            self.client.log_artifacts(run.info.run_id, folder, artifact_path="model")
        self.client.set_terminated(run.info.run_id)
        version = self.client.create_model_version(
            self.name,
            source=f"{run.info.artifact_uri}/model",
            run_id=run.info.run_id,
            tags={"metadata": json.dumps(info, default=str)},
        )
        self.set_alias(CHALLENGER, int(version.version))
        return int(version.version)

    def _history(self) -> list[int]:
        tags = self.client.get_registered_model(self.name).tags
        return json.loads(tags.get("champion_history", "[]"))

    def promote(self, version: int | None = None) -> int:
        version = version if version is not None else self.alias(CHALLENGER)
        if version is None:
            raise RegistryError("nothing to promote: train and register a model first")
        previous = self.alias(CHAMPION)
        if previous is not None and previous != version:
            history = [*self._history(), previous]
            self.client.set_registered_model_tag(self.name, "champion_history", json.dumps(history))
        self.set_alias(CHAMPION, version)
        if self.alias(CHALLENGER) == version:
            self.client.delete_registered_model_alias(self.name, CHALLENGER)
        return version

    def rollback(self) -> int:
        history = self._history()
        if not history:
            raise RegistryError("nothing to roll back to: no earlier champion")
        version = history.pop()
        self.client.set_registered_model_tag(self.name, "champion_history", json.dumps(history))
        self.set_alias(CHAMPION, version)
        return version

    def load(self, alias_or_version: str | int = CHAMPION) -> tuple[dict, dict]:
        """Return ``(bundle, metadata)``, verifying the artifact's sha256 before unpickling."""
        version = resolve_version(self, alias_or_version)
        info = self.metadata(version)
        with tempfile.TemporaryDirectory() as folder:
            local = self.client.download_artifacts(info["run_id"], "model/model.pkl", folder)
            data = Path(local).read_bytes()
        return verified_bundle(data, version, info), info
