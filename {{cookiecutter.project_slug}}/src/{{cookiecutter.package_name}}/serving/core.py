"""Prediction core shared by every front end: online serving, batch scoring and the pipeline.

Scores rows given by entity ids (features read from the online store: ``predict``) or by the
caller's own feature vectors in schema order (``predict_features``) with the champion model from
the registry (its checksum and schema hash verified); returns predictions with the model version.
``reload`` loads the promoted models completely first and then swaps one reference, so requests
in flight keep the models they started with and none is dropped;{% if cookiecutter.contains_pii %}
requests carry raw person ids, which ``predict`` pseudonymizes (``privacy.py``) before the online
store lookup{% if cookiecutter.experiment == 'ab' %}, the A/B assignment{% endif %} and any log, so nothing downstream holds a raw id;
{%- endif %}
``watch`` polls the registry in a daemon thread and reloads when the champion (or challenger)
alias moves.

Faults: a reload that fails (an artifact whose checksum does not match, a missing artifact, an
unreachable registry, a registry that names no champion any more) leaves the loaded models
serving, counts ``model_load_failures_total`` and logs one line (repeats of the same failure are
not logged again). ``start`` logs one line saying what is missing when no model loads at start.
When the online feature store fails, ``feature_store_fallback`` decides: ``defaults`` answers with
``schema.FALLBACK_VALUES`` for the user and item features, ``error`` refuses with
``StoreUnavailableError`` (503 / ``UNAVAILABLE``); both are counted.
{%- if cookiecutter.experiment == 'shadow' %}
The challenger runs in shadow: each request is handed to ``experiments.shadow.ShadowScorer``
(a bounded queue, scored in a background thread, logged next to the prediction log) after the
champion answered; callers never see the challenger's output, its speed or its errors.
{%- endif %}
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .. import schema
{%- if cookiecutter.experiment == 'ab' %}
from ..experiments.assignment import ExposureLog, assign
{%- elif cookiecutter.experiment == 'shadow' %}
from ..experiments.shadow import ShadowScorer
{%- endif %}
from ..features.store import (
    BuiltinStore,
    StoreUnavailableError,
    UnknownEntityError,
    fallback_vectors,
    open_store,
)
{%- if cookiecutter.monitoring %}
from ..monitoring import metrics
from ..monitoring.prediction_log import PredictionLog
{%- endif %}
{%- if cookiecutter.experiment != 'none' %}
from ..privacy import Pseudonymizer
from ..registry.registry import CHALLENGER, CHAMPION, RegistryError, open_registry
{%- else %}
from ..privacy import Pseudonymizer
from ..registry.registry import CHAMPION, RegistryError, open_registry
{%- endif %}
from ..settings import Settings
from ..training.predictor import plain

logger = logging.getLogger(__name__)


class NotReadyError(RuntimeError):
    """No champion model is loaded yet."""


@dataclass(frozen=True)
class LoadedModel:
    version: int
    predictor: object
    metrics: dict


@dataclass(frozen=True)
class Models:
    """What serves right now; replaced as a whole, never changed in place."""

    champion: LoadedModel | None = None
    challenger: LoadedModel | None = None

    def versions(self) -> tuple[int | None, int | None]:
        return tuple(m.version if m else None for m in (self.champion, self.challenger))

    def serving(self) -> LoadedModel:
        """Return the champion; NotReadyError while none is loaded."""
        if self.champion is None:
            raise NotReadyError("no champion model is loaded: run train and promote first")
        return self.champion


as_output = plain
"""Return one prediction as JSON-friendly data: a float, or a list of probabilities."""


def _one_line(error: BaseException) -> str:
    """Return ``error`` as one line: its type and its first line."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


class PredictionService:
    """Features in, predictions out, for the champion model (and a challenger in experiments)."""

    def __init__(
        self, settings: Settings, store: BuiltinStore | None = None, registry=None
    ) -> None:
        self.settings = settings
        self.store = store or open_store(settings)
        self.registry = registry or open_registry(settings)
        self.pseudonyms = Pseudonymizer(settings)
        self.models = Models()
        self.last_latency_s = 0.0
        self.last_failure: str | None = None
        self._store_failure: str | None = None
{%- if cookiecutter.vector_index != 'none' %}
        self._index = None
{%- endif %}
        self._reload_lock = threading.Lock()
{%- if cookiecutter.experiment == 'ab' %}
        self.exposures = ExposureLog(settings)
{%- elif cookiecutter.experiment == 'shadow' %}
        self.shadow = ShadowScorer(settings)
{%- endif %}
{%- if cookiecutter.monitoring %}
        self.log = PredictionLog(settings)
        metrics.expose_textfiles(settings.directory("metrics"))
{%- endif %}

    @property
    def champion(self) -> LoadedModel | None:
        return self.models.champion

    @property
    def challenger(self) -> LoadedModel | None:
        return self.models.challenger

    def _aliases(self) -> tuple[str, ...]:
{%- if cookiecutter.experiment != 'none' %}
        return (CHAMPION, CHALLENGER) if self.settings.experiment != "none" else (CHAMPION,)
{%- else %}
        return (CHAMPION,)
{%- endif %}

    def _load(self, version: int | None, current: LoadedModel | None) -> LoadedModel | None:
        """Return the model of ``version`` (None: no model); reuse ``current`` if it is that one."""
        if version is None:
            return None
        if current is not None and current.version == version:
            return current
        bundle, info = self.registry.load(version)
        if bundle["schema_hash"] != schema.schema_hash():
            raise RegistryError(f"model version {version} was trained on another feature schema")
        return LoadedModel(int(info["version"]), bundle["predictor"], bundle.get("metrics", {}))

    def _wanted(self) -> list[int | None]:
        """Return the versions the watched aliases point at; RegistryError if it cannot tell."""
        try:
            wanted = [self.registry.alias(alias) for alias in self._aliases()]
        except RegistryError:
            raise
        except Exception as error:  # a folder gone, a tracking server down: same for the caller
            raise RegistryError(f"the registry is unreachable: {_one_line(error)}") from error
        if wanted[0] is None and self.models.champion is not None:
            raise RegistryError("the registry names no champion any more (is it the right one?)")
        return wanted

    def _load_all(self, current: Models) -> list[LoadedModel | None]:
        wanted = self._wanted()
        serving = (current.champion, current.challenger)[: len(wanted)]
        try:
            return [
                self._load(version, model) for version, model in zip(wanted, serving, strict=True)
            ]
        except RegistryError:
            raise
        except Exception as error:
            raise RegistryError(f"the model did not load: {_one_line(error)}") from error

    def _failed(self, error: RegistryError) -> None:
        """Count a failed reload and log it in one line, unless it repeats the last failure."""
{%- if cookiecutter.monitoring %}
        metrics.observe_load_failure()
{%- endif %}
        message = str(error)
        if message == self.last_failure:
            return
        self.last_failure = message
        champion = self.models.champion
        if champion is None:
            logger.error("no model loaded: %s; /ready answers 503 until one loads", message)
        else:
            logger.error(
                "model reload failed, version %s keeps serving: %s", champion.version, message
            )

    def reload(self) -> int | None:
        """Load the models the aliases point at, then swap them in; return the champion version.

        A model that fails to load (checksum, schema, missing artifact, unreachable registry)
        raises RegistryError and the models that were serving keep serving.
        """
        with self._reload_lock:
            try:
                loaded = self._load_all(self.models)
            except RegistryError as error:
                self._failed(error)
                raise
            self.models = Models(*loaded)
            self.last_failure = None
        return self.models.champion.version if self.models.champion else None

    def start(self) -> None:
        """Load the champion at start; when there is none, log one line saying how to get one."""
        try:
            version = self.reload()
        except RegistryError:
            return
        if version is None:
            where = getattr(self.registry, "root", None) or self.settings.registry
            logger.error(
                "no champion model in the registry (%s): train and promote one (make train "
                "promote), then POST /model/reload or wait for the next poll; /ready answers 503 "
                "until then",
                where,
            )

    def refresh(self) -> bool:
        """Reload if a watched alias points at another version than the one serving."""
        try:
            wanted = tuple(self._wanted())
        except RegistryError as error:
            self._failed(error)
            raise
        if wanted == self.models.versions()[: len(wanted)]:
            self.last_failure = None  # the registry answers again: log the next failure
            return False
        self.reload()
        return True

    def watch(self, interval_s: float) -> Callable[[], None]:
        """Poll the registry every ``interval_s`` in a daemon thread; return its stop function."""
        stop = threading.Event()

        def poll() -> None:
            while not stop.wait(interval_s):
                try:
{%- if cookiecutter.monitoring %}
                    self.log.flush()
{%- endif %}
                    if self.refresh():
                        logger.warning("now serving model version %s", self.models.versions())
                except RegistryError:  # counted and logged; retried at the next poll
                    continue
                except Exception:  # keep serving the loaded model; retry at the next poll
                    logger.exception("model refresh failed, the loaded model keeps serving")

        thread = threading.Thread(target=poll, name="model-watcher", daemon=True)
        thread.start()

        def stop_watching() -> None:
            stop.set()
            thread.join(timeout=max(1.0, 2 * interval_s))

        return stop_watching

    @property
    def ready(self) -> bool:
        return self.models.champion is not None

    def predict(
        self,
        user_ids: Sequence[int],
        item_ids: Sequence[int],
        context: Mapping[str, Sequence[float]] | None = None,
        pseudonymized: bool = False,
    ) -> list[dict]:
        """Return one ``{prediction, model_version, variant}`` per (user, item, context) row.

        ``user_ids`` are the raw ids of a request; ``pseudonymized=True``: ids read from the
        project's own data, already pseudonyms.
        """
        models = self.models
        champion = models.serving()
{%- if cookiecutter.experiment != 'none' %}
        challenger = models.challenger
{%- endif %}
        started = time.perf_counter()
        raw_ids = user_ids
        if not pseudonymized:
            user_ids = self.pseudonyms.ids(user_ids)
        try:
            vectors = self._vectors(user_ids, item_ids, context)
        except UnknownEntityError as error:
            raise _with_raw_id(error, user_ids, raw_ids) from None
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
        self.last_latency_s = time.perf_counter() - started
{%- if cookiecutter.monitoring %}
        metrics.observe_results(results)
        self.log.append(user_ids, item_ids, vectors, results)
{%- endif %}
{%- if cookiecutter.experiment == 'shadow' %}
        if challenger is not None:
            self.shadow.submit(
                challenger, champion.version, vectors, predictions, user_ids, item_ids
            )
{%- endif %}
        return results

    def _vectors(
        self,
        user_ids: Sequence[int],
        item_ids: Sequence[int],
        context: Mapping[str, Sequence[float]] | None,
    ) -> np.ndarray:
        """Return the online vectors, or the fallback of ``feature_store_fallback`` on failure."""
        try:
            vectors = self.store.online_vectors(user_ids, item_ids, context)
        except UnknownEntityError:
            raise
        except Exception as error:  # the store is down or broken, not a bad request
            return self._store_failed(error, user_ids, item_ids, context)
        if self._store_failure is not None:
            self._store_failure = None
            logger.warning("the online feature store answers again")
        return vectors

    def _store_failed(self, error: Exception, user_ids, item_ids, context) -> np.ndarray:
        fallback = self.settings.feature_store_fallback
{%- if cookiecutter.monitoring %}
        metrics.observe_store_failure(fallback, len(user_ids))
{%- endif %}
        message = _one_line(error)
        if message != self._store_failure:
            self._store_failure = message
            answer = "default feature values" if fallback == "defaults" else "503"
            logger.error("the online feature store failed: %s; answering with %s", message, answer)
        if fallback != "defaults":
            raise StoreUnavailableError(
                "the online feature store is unavailable: try again later, or send the "
                "features in the request"
            ) from error
        return fallback_vectors(len(user_ids), context)

    def predict_row(self, row: list[float]) -> dict:
        """Score one row of the caller's features (schema order) with the champion, numpy-free.

        Returns ``{prediction, model_version, variant}``{% if cookiecutter.experiment == 'shadow' %} (the champion's; the row is
        queued for the shadow model){% elif cookiecutter.experiment == 'ab' %}; a row without entity ids
        cannot be assigned to an experiment arm, so it is ``control``{% endif %}.
        """
        models = self.models
        champion = models.serving()
        started = time.perf_counter()
        prediction = champion.predictor.predict_one(row)
        result = {"prediction": prediction, "model_version": champion.version, "variant": "control"}
        self.last_latency_s = time.perf_counter() - started
{%- if cookiecutter.monitoring %}
        metrics.observe_row(champion.version, "control", prediction)
        self.log.write_row(row, prediction, champion.version)
{%- endif %}
{%- if cookiecutter.experiment == 'shadow' %}
        if models.challenger is not None:
            self.shadow.submit(models.challenger, champion.version, [row], [prediction])
{%- endif %}
        return result

    def predict_features(self, vectors: np.ndarray) -> dict:
        """Score the caller's feature rows (n, n_features) in schema order with the champion.

        Returns ``{predictions (n,) or (n, k) array, model_version, variant}``{% if cookiecutter.experiment == 'shadow' %} (the champion's;
        the rows are queued for the shadow model){% elif cookiecutter.experiment == 'ab' %}. Rows without
        entity ids cannot be assigned to an experiment arm: they are all ``control``{% endif %}.
        """
        models = self.models
        champion = models.serving()
        started = time.perf_counter()
        predictions = champion.predictor.predict(vectors)
        result = {
            "predictions": predictions,
            "model_version": champion.version,
            "variant": "control",
        }
        self.last_latency_s = time.perf_counter() - started
{%- if cookiecutter.monitoring %}
        metrics.observe_batch(champion.version, "control", predictions)
        self.log.write(vectors, predictions, champion.version)
{%- endif %}
{%- if cookiecutter.experiment == 'shadow' %}
        if models.challenger is not None:
            self.shadow.submit(models.challenger, champion.version, vectors, predictions)
{%- endif %}
        return result
{%- if cookiecutter.vector_index != 'none' %}

    def recommend(self, user_id: int, k: int = 10) -> list[dict]:
        """Return the top ``k`` items for a user: ANN candidates, then ranked by the model."""
        from .index import load_index

        if self._index is None:
            self._index = load_index(self.settings)
        key = self.pseudonyms.ids([user_id])[0]
        candidates = self._index.candidates(key, max(k * 5, 50))
        results = self.predict([key] * len(candidates), candidates, pseudonymized=True)
        order = np.argsort([-np.max(r["prediction"]) for r in results], kind="stable")[:k]
        return [{schema.ITEM_KEY: int(candidates[i]), **results[i]} for i in order]
{%- endif %}


def _with_raw_id(
    error: UnknownEntityError, keys: Sequence[int], raw_ids: Sequence[int]
) -> UnknownEntityError:
    """Return the error naming the id the caller sent, not its pseudonym."""
    message = str(error)
    for key, raw in zip(keys, raw_ids, strict=True):
        if message.endswith(f" {key}"):
            return UnknownEntityError(message.removesuffix(str(key)) + str(raw))
    return error
