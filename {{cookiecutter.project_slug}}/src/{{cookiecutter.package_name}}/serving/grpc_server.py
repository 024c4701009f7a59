"""gRPC server (``grpc.aio``) over the shared prediction core, for ``proto/predict.proto``.

The message classes and servicer base are built from the .proto file at start-up with
``grpc.protos_and_services`` (grpcio-tools), so no generated code is kept in the repository.
Handlers are coroutines that call the model on the event loop: for a model of microseconds a
thread pool only adds hand-offs. A row is entity ids (features from the online store) or its
own ``features``; batches of features travel packed (``repeated double``, rows x features) and
are answered packed. Invalid input is ``INVALID_ARGUMENT``, an unknown entity ``NOT_FOUND``, no
model ``UNAVAILABLE``. The champion is swapped in by itself when the registry's alias moves.
"""

from __future__ import annotations

import asyncio
import logging
import math
import sys
import threading
from pathlib import Path

import numpy as np

from .. import schema
from ..features.store import UnknownEntityError
from ..registry.registry import RegistryError
from ..settings import Settings
from .core import NotReadyError, PredictionService

PROTO = "predict.proto"
N_FEATURES = len(schema.feature_names())
logger = logging.getLogger(__name__)


def load_protos(settings: Settings):
    """Return ``(messages, services)`` modules generated from ``proto/predict.proto``."""
    import grpc

    folder = str(Path(settings.root) / "proto")
    if folder not in sys.path:
        sys.path.append(folder)
    return grpc.protos_and_services(PROTO)


def _rows(requests, max_rows: int) -> tuple[list[int], list[int], dict[str, list[int]]]:
    if not 1 <= len(requests) <= max_rows:
        raise ValueError(f"send 1 to {max_rows} instances")
    users = [getattr(r, schema.USER_KEY) for r in requests]
    items = [getattr(r, schema.ITEM_KEY) for r in requests]
    context = {
        name: [getattr(r, name) if r.HasField(name) else default for r in requests]
        for name, default in schema.CONTEXT_DEFAULTS.items()
    }
    if min(users) < 0 or min(items) < 0:
        raise ValueError("entity ids must be >= 0")
    for name, (low, high) in schema.CONTEXT_RANGES.items():
        if any(not low <= value <= high for value in context[name]):
            raise ValueError(f"{name} must be in {low}-{high}")
    return users, items, context


def _row(values) -> list[float]:
    """Return one row of features as a list, checking its length and finiteness."""
    row = list(values)
    if len(row) != N_FEATURES:
        raise ValueError(f"send {N_FEATURES} features (GET /model lists them)")
    if not all(map(math.isfinite, row)):
        raise ValueError("features must be finite numbers")
    return row


def _matrix(values, max_rows: int) -> np.ndarray:
    """Return packed features as an (n, N_FEATURES) matrix, checking shape and finiteness."""
    if not values or len(values) % N_FEATURES:
        raise ValueError(f"send rows of {N_FEATURES} features (GET /model lists them)")
    matrix = np.array(values, dtype=np.float64).reshape(-1, N_FEATURES)
    if len(matrix) > max_rows:
        raise ValueError(f"send 1 to {max_rows} rows")
    if not np.isfinite(matrix).all():
        raise ValueError("features must be finite numbers")
    return matrix


async def start(settings: Settings, core: PredictionService, port: int | None = None):
    """Start a ``grpc.aio`` server on the running loop; return ``(server, port)``."""
    import grpc

    messages, services = load_protos(settings)

    def single(result: dict) -> object:
        prediction = result["prediction"]
        return messages.PredictResponse(
            scores=prediction if isinstance(prediction, list) else [prediction],
            model_version=result["model_version"],
            variant=result["variant"],
        )

    def answer(request, batch: bool):
        """Score a request; raise ValueError, UnknownEntityError or NotReadyError."""
        if not batch and len(request.features):
            return single(core.predict_row(_row(request.features)))
        if not batch:
            return single(core.predict(*_rows([request], 1))[0])
        if len(request.features):
            if len(request.instances):
                raise ValueError("send instances or features, not both")
            result = core.predict_features(_matrix(request.features, settings.max_batch_size))
            predictions = result["predictions"]
            return messages.PredictBatchResponse(
                scores=np.ravel(predictions).tolist(),
                outputs_per_row=1 if predictions.ndim == 1 else predictions.shape[1],
                model_version=result["model_version"],
                variant=result["variant"],
            )
        rows = _rows(list(request.instances), settings.max_batch_size)
        return messages.PredictBatchResponse(predictions=[single(r) for r in core.predict(*rows)])

    async def call(request, context, batch: bool):
        try:
            return answer(request, batch)
        except ValueError as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except UnknownEntityError as error:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(error))
        except NotReadyError as error:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(error))

    class Predictor(services.PredictorServicer):
        async def Predict(self, request, context):
            return await call(request, context, batch=False)

        async def PredictBatch(self, request, context):
            return await call(request, context, batch=True)

    server = grpc.aio.server()
    services.add_PredictorServicer_to_server(Predictor(), server)
    bound = server.add_insecure_port(
        f"{settings.serve_host}:{settings.grpc_port if port is None else port}"
    )
    await server.start()
    return server, bound


def _load_models(core: PredictionService) -> None:
    try:
        core.reload()
    except RegistryError:
        logger.exception("the champion model did not load; calls get UNAVAILABLE until it does")


class BackgroundServer:
    """The gRPC server on an event loop in a daemon thread (for tests and embedding)."""

    def __init__(self, settings: Settings, core: PredictionService, port: int | None) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(start(settings, core, port), self._loop)
        self.server, self.port = started.result(timeout=60)

    def stop(self, grace: float | None = None) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(grace), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


def create_server(
    settings: Settings, service: PredictionService | None = None, port: int | None = None
) -> tuple[BackgroundServer, int]:
    """Start the server in a background thread; return ``(server, port)``, port 0 picks one."""
    core = service or PredictionService(settings)
    if core.champion is None:
        _load_models(core)
    server = BackgroundServer(settings, core, port)
    return server, server.port


def serve(settings: Settings) -> None:
    """Serve gRPC on ``serve_host:grpc_port`` until interrupted."""
    core = PredictionService(settings)
    _load_models(core)
    stop_watching = core.watch(settings.reload_interval_s) if settings.reload_interval_s else None
{%- if cookiecutter.monitoring %}
    from ..monitoring.metrics import start_server

    start_server(settings.metrics_port)
{%- endif %}

    async def main() -> None:
        server, port = await start(settings, core)
        print(f"gRPC server listening on {settings.serve_host}:{port}", flush=True)
        await server.wait_for_termination()

    try:
        asyncio.run(main())
    finally:
        if stop_watching is not None:
            stop_watching()
