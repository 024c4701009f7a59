"""Prediction core shared by every front end: online serving, batch scoring and the pipeline.

Reads online features from the feature store and the champion model from the registry (its
checksum and schema hash verified); returns predictions with the model version. ``reload``
loads a newly promoted model first and then swaps one reference, so requests in flight keep
the model they started with and none is dropped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .. import schema
{%- if cookiecutter.experiment == 'ab' %}
from ..experiments.assignment import ExposureLog, assign
{%- endif %}
from ..features.store import BuiltinStore, open_store
{%- if cookiecutter.monitoring %}
from ..monitoring import metrics
from ..monitoring.prediction_log import PredictionLog
{%- endif %}
{%- if cookiecutter.experiment != 'none' %}
from ..registry.registry import CHALLENGER, CHAMPION, RegistryError, open_registry
{%- else %}
from ..registry.registry import CHAMPION, RegistryError, open_registry
{%- endif %}
from ..settings import Settings


class NotReadyError(RuntimeError):
    """No champion model is loaded yet."""


@dataclass(frozen=True)
class LoadedModel:
    version: int
    predictor: object
    metrics: dict


def as_output(value: np.ndarray | float) -> float | list[float]:
    """Return one prediction as JSON-friendly data: a float, or a list of probabilities."""
    if np.ndim(value) == 0:
        return float(value)
    return [float(v) for v in np.ravel(value)]


class PredictionService:
    """Features in, predictions out, for the champion model (and a challenger in experiments)."""

    def __init__(
        self, settings: Settings, store: BuiltinStore | None = None, registry=None
    ) -> None:
        self.settings = settings
        self.store = store or open_store(settings)
        self.registry = registry or open_registry(settings)
        self.champion: LoadedModel | None = None
        self.challenger: LoadedModel | None = None
        self.last_latency_s = 0.0
{%- if cookiecutter.vector_index != 'none' %}
        self._index = None
{%- endif %}
        self._reload_lock = threading.Lock()
{%- if cookiecutter.experiment == 'ab' %}
        self.exposures = ExposureLog(settings)
{%- endif %}
{%- if cookiecutter.monitoring %}
        self.log = PredictionLog(settings)
{%- endif %}

    def _load(self, alias: str) -> LoadedModel | None:
        try:
            bundle, info = self.registry.load(alias)
        except RegistryError:
            return None
        if bundle["schema_hash"] != schema.schema_hash():
            raise RegistryError(
                f"model version {info['version']} was trained on another feature schema"
            )
        return LoadedModel(int(info["version"]), bundle["predictor"], bundle.get("metrics", {}))

    def reload(self) -> int | None:
        """Load the current champion (and challenger), then swap; return the champion version."""
        with self._reload_lock:
            champion = self._load(CHAMPION)
{%- if cookiecutter.experiment != 'none' %}
            challenger = self._load(CHALLENGER) if self.settings.experiment != "none" else None
            self.champion, self.challenger = champion, challenger
{%- else %}
            self.champion = champion
{%- endif %}
        return champion.version if champion else None

    @property
    def ready(self) -> bool:
        return self.champion is not None

    def predict(
        self,
        user_ids: Sequence[int],
        item_ids: Sequence[int],
        context: Mapping[str, Sequence[float]] | None = None,
    ) -> list[dict]:
        """Return one ``{prediction, model_version, variant}`` per (user, item, context) row."""
{%- if cookiecutter.experiment != 'none' %}
        champion, challenger = self.champion, self.challenger
{%- else %}
        champion = self.champion
{%- endif %}
        if champion is None:
            raise NotReadyError("no champion model is loaded: run train and promote first")
        started = time.perf_counter()
        vectors = self.store.online_vectors(user_ids, item_ids, context)
        predictions = list(champion.predictor.predict(vectors))
        versions = [champion.version] * len(predictions)
        variants = ["control"] * len(predictions)
{%- if cookiecutter.experiment == 'ab' %}
        if challenger is not None:
            share, salt = self.settings.treatment_share, self.settings.experiment_salt
            variants = [assign(uid, salt, share) for uid in user_ids]
            self.exposures.record(salt, list(user_ids), variants)
            treated = [k for k, variant in enumerate(variants) if variant == "treatment"]
            if treated:
                scores = challenger.predictor.predict(vectors[treated])
                for k, score in zip(treated, scores, strict=True):
                    predictions[k], versions[k] = score, challenger.version
{%- endif %}
        results = [
            {"prediction": as_output(p), "model_version": v, "variant": variant}
            for p, v, variant in zip(predictions, versions, variants, strict=True)
        ]
{%- if cookiecutter.experiment == 'shadow' %}
        if challenger is not None:
            shadow = challenger.predictor.predict(vectors)
            for result, score in zip(results, shadow, strict=True):
                result["shadow_prediction"] = as_output(score)
                result["shadow_version"] = challenger.version
{%- endif %}
        self.last_latency_s = time.perf_counter() - started
{%- if cookiecutter.monitoring %}
        metrics.observe(champion.version, len(results), self.last_latency_s)
        self.log.append(user_ids, item_ids, vectors, results)
{%- endif %}
        return results
{%- if cookiecutter.vector_index != 'none' %}

    def recommend(self, user_id: int, k: int = 10) -> list[dict]:
        """Return the top ``k`` items for a user: ANN candidates, then ranked by the model."""
        from .index import load_index

        if self._index is None:
            self._index = load_index(self.settings)
        candidates = self._index.candidates(user_id, max(k * 5, 50))
        results = self.predict([user_id] * len(candidates), candidates)
        order = np.argsort([-np.max(r["prediction"]) for r in results], kind="stable")[:k]
        return [{schema.ITEM_KEY: int(candidates[i]), **results[i]} for i in order]
{%- endif %}
