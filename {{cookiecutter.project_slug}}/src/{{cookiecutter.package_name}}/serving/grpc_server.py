"""gRPC server (``grpc.aio``) over the shared prediction core, for ``proto/predict.proto``.

The message classes are built from the .proto file at start-up with ``grpc.protos_and_services``
(grpcio-tools), so no generated code is kept in the repository. Handlers are coroutines that
call the model on the event loop: for a model of microseconds a thread pool only adds hand-offs.
A row is entity ids (features from the online store) or its own ``features``; batches of
features travel packed (``repeated double``, rows x features) and are answered packed.

``PredictBatch`` takes and returns bytes: a request holding only packed ``features`` (what any
protobuf library writes for one) is read in place as float64 (``packed_features``) and answered
by ``packed_answer``, so a 256-row batch never becomes 2,560 Python floats; any other request
is parsed by protobuf. Invalid input is ``INVALID_ARGUMENT``, an unknown entity ``NOT_FOUND``,
no model (or a failed online store with ``feature_store_fallback: error``) ``UNAVAILABLE``, a
message over ``max_body_bytes`` ``RESOURCE_EXHAUSTED``. The champion is swapped in by itself when
the registry's alias moves; ``Admin/Reload`` does it now. SIGTERM stops the server gracefully:
calls in flight are answered (within ``STOP_GRACE_S``), then the process exits 0.
Callers send their token as metadata (``serving/auth.py``): a missing or wrong one is
``UNAUTHENTICATED``, an API key on ``Admin`` ``PERMISSION_DENIED``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import signal
import sys
import threading
{%- if cookiecutter.monitoring %}
import time
{%- endif %}
from pathlib import Path

import numpy as np
from google.protobuf.message import DecodeError

from .. import schema
from ..features.store import StoreUnavailableError, UnknownEntityError
{%- if cookiecutter.monitoring %}
from ..monitoring import metrics
{%- endif %}
from ..registry.registry import RegistryError
from ..settings import Settings
from .auth import AuthError, Guard, token_from
from .core import NotReadyError, PredictionService

PROTO = "predict.proto"
N_FEATURES = len(schema.feature_names())
LIMIT = schema.FEATURE_LIMIT
STOP_GRACE_S = 30.0
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
{%- if cookiecutter.monitoring %}
    for name in schema.CONTEXT_DEFAULTS:
        left_out = sum(not r.HasField(name) for r in requests)
        if left_out:
            metrics.observe_defaulted(name, left_out)
{%- endif %}
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
    if not all(map(math.isfinite, row)) or not -LIMIT <= min(row) <= max(row) <= LIMIT:
        raise ValueError(f"features must be finite numbers within +-{LIMIT:g}")
    return row


def _varint(value: int) -> bytes:
    """Return ``value`` (>= 0) as a protobuf base-128 varint."""
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


FEATURES_TAG = 2 << 3 | 2
"""``PredictBatchRequest.features`` (field 2) as a length-delimited (packed) record."""


def packed_features(body: bytes) -> np.ndarray | None:
    """Return the doubles of a ``PredictBatchRequest`` whose only field is packed ``features``.

    Such a message is one tag byte, a varint length and the little-endian doubles, so they are
    read in place. Any other message (instances, other fields, unpacked doubles) returns None.
    """
    if len(body) < 2 or body[0] != FEATURES_TAG:
        return None
    length, shift, at = 0, 0, 1
    while at < len(body) and at <= 10:
        byte = body[at]
        length |= (byte & 0x7F) << shift
        at += 1
        if byte < 0x80:
            break
        shift += 7
    else:
        return None
    if at + length != len(body) or length % 8:
        return None
    return np.frombuffer(body, dtype="<f8", offset=at)


def packed_answer(scores: np.ndarray, outputs_per_row: int, version: int, variant: str) -> bytes:
    """Serialize ``PredictBatchResponse(scores, outputs_per_row, model_version, variant)``."""
    data = np.ascontiguousarray(scores, dtype="<f8").tobytes()
    name = variant.encode()
    return b"".join(
        (
            b"\x12",  # scores, field 2, packed
            _varint(len(data)),
            data,
            b"\x18",  # outputs_per_row, field 3
            _varint(outputs_per_row),
            b"\x20",  # model_version, field 4
            _varint(version),
            b"\x2a",  # variant, field 5
            _varint(len(name)),
            name,
        )
    )


def _matrix(values, max_rows: int) -> np.ndarray:
    """Return packed features as an (n, N_FEATURES) matrix, checking shape and finiteness."""
    if len(values) == 0 or len(values) % N_FEATURES:
        raise ValueError(f"send rows of {N_FEATURES} features (GET /model lists them)")
    matrix = np.asarray(values, dtype=np.float64).reshape(-1, N_FEATURES)
    if len(matrix) > max_rows:
        raise ValueError(f"send 1 to {max_rows} rows")
    if not (np.abs(matrix) <= LIMIT).all():  # NaN compares false
        raise ValueError(f"features must be finite numbers within +-{LIMIT:g}")
    return matrix


def caller_token(context) -> bytes | None:
    """Return the token in a call's ``authorization`` (Bearer) or ``x-api-key`` metadata."""
    metadata = {key: value for key, value in context.invocation_metadata() or ()}
    return token_from(metadata.get("authorization"), metadata.get("x-api-key"))


async def start(
    settings: Settings, core: PredictionService, port: int | None = None, guard: Guard | None = None
):
    """Start a ``grpc.aio`` server on the running loop; return ``(server, port)``."""
    import grpc

    guard = guard or Guard(settings)
    messages, _ = load_protos(settings)

    def single(result: dict) -> object:
        prediction = result["prediction"]
        return messages.PredictResponse(
            scores=prediction if isinstance(prediction, list) else [prediction],
            model_version=result["model_version"],
            variant=result["variant"],
        )

    def answer(request) -> tuple[object, dict]:
        """Score one ``PredictRequest``; return the response and the core's result.

        Raises ValueError, UnknownEntityError or NotReadyError.
        """
        if len(request.features):
            result = core.predict_row(_row(request.features))
        else:
            result = core.predict(*_rows([request], 1))[0]
        return single(result), result

    def score_packed(values) -> tuple[bytes, dict]:
        result = core.predict_features(_matrix(values, settings.max_batch_size))
        predictions = result["predictions"]
        outputs = 1 if predictions.ndim == 1 else predictions.shape[1]
        version, variant = result["model_version"], result["variant"]
        return packed_answer(predictions, outputs, version, variant), result

    def answer_batch(body: bytes) -> tuple[bytes, dict]:
        """Score a serialized ``PredictBatchRequest``; return the serialized response."""
        values = packed_features(body)
        if values is not None:
            return score_packed(values)
        try:
            request = messages.PredictBatchRequest.FromString(body)
        except DecodeError:
            raise ValueError("the request is not a valid PredictBatchRequest") from None
        if len(request.features):
            if len(request.instances):
                raise ValueError("send instances or features, not both")
            return score_packed(request.features)
        rows = _rows(list(request.instances), settings.max_batch_size)
        results = core.predict(*rows)
        predictions = [single(r) for r in results]
        response = messages.PredictBatchResponse(predictions=predictions)
        return response.SerializeToString(), {"predictions": results}

    async def allow(context, admin: bool = False) -> None:
        """Abort the call unless its token may make it."""
        try:
            guard.check(caller_token(context), admin=admin)
        except AuthError as error:
            await context.abort(getattr(grpc.StatusCode, error.grpc_code), error.detail)

    async def call(route: str, score, request, context):
        """Answer ``request`` with ``score``; failures become gRPC status codes."""
{%- if cookiecutter.monitoring %}
        started = time.perf_counter()
{%- endif %}
        if guard.required:
            await allow(context)
        try:
            response, result = score(request)
{%- if cookiecutter.monitoring %}
            metrics.observe_request(route, result, time.perf_counter() - started)
{%- endif %}
            return response
        except ValueError as error:
{%- if cookiecutter.monitoring %}
            metrics.observe_error(route, "invalid_request")
{%- endif %}
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except UnknownEntityError as error:
{%- if cookiecutter.monitoring %}
            metrics.observe_error(route, "unknown_entity")
{%- endif %}
            await context.abort(grpc.StatusCode.NOT_FOUND, str(error))
        except NotReadyError as error:
{%- if cookiecutter.monitoring %}
            metrics.observe_error(route, "not_ready")
{%- endif %}
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(error))
        except StoreUnavailableError as error:
{%- if cookiecutter.monitoring %}
            metrics.observe_error(route, "feature_store_unavailable")
{%- endif %}
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(error))
        except Exception:
            logger.exception("prediction failed")
{%- if cookiecutter.monitoring %}
            metrics.observe_error(route, "internal")
{%- endif %}
            await context.abort(grpc.StatusCode.INTERNAL, "internal error: see the server log")

    async def predict(request, context):
        return await call("Predict", answer, request, context)

    async def predict_batch(body: bytes, context) -> bytes:
        return await call("PredictBatch", answer_batch, body, context)

    async def reload(request, context):
        await allow(context, admin=True)
        try:
            version = await asyncio.to_thread(core.reload)
        except RegistryError as error:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(error))
        return messages.ReloadResponse(model_version=version)

    service = messages.DESCRIPTOR.services_by_name["Predictor"].full_name
    handlers = {
        "Predict": grpc.unary_unary_rpc_method_handler(
            predict,
            request_deserializer=messages.PredictRequest.FromString,
            response_serializer=messages.PredictResponse.SerializeToString,
        ),
        "PredictBatch": grpc.unary_unary_rpc_method_handler(predict_batch),  # bytes both ways
    }
    # the REST API's body limit holds for gRPC messages too (larger: RESOURCE_EXHAUSTED)
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", settings.max_body_bytes)])
    admin = messages.DESCRIPTOR.services_by_name["Admin"].full_name
    admin_handlers = {
        "Reload": grpc.unary_unary_rpc_method_handler(
            reload,
            request_deserializer=messages.ReloadRequest.FromString,
            response_serializer=messages.ReloadResponse.SerializeToString,
        ),
    }
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(service, handlers),
            grpc.method_handlers_generic_handler(admin, admin_handlers),
        )
    )
    server.add_registered_method_handlers(service, handlers)
    server.add_registered_method_handlers(admin, admin_handlers)
    add_health(server, core, service)
    bound = server.add_insecure_port(
        f"{settings.serve_host}:{settings.grpc_port if port is None else port}"
    )
    await server.start()
    return server, bound


def add_health(server, core: PredictionService, service: str) -> None:
    """Serve grpc.health.v1 (what Kubernetes' ``grpc:`` probes call), without an API key.

    The server itself (service ``""``) is SERVING while it answers; ``service`` (the
    Predictor) is SERVING once a champion model is loaded, NOT_SERVING before.
    """
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    class Health(health_pb2_grpc.HealthServicer):
        async def Check(self, request, context):
            if request.service not in ("", service):
                unknown = f"unknown service {request.service!r}"
                await context.abort(grpc.StatusCode.NOT_FOUND, unknown)
            up = request.service == "" or core.ready
            answer = health_pb2.HealthCheckResponse
            return answer(status=answer.SERVING if up else answer.NOT_SERVING)

    health_pb2_grpc.add_HealthServicer_to_server(Health(), server)


def _load_models(core: PredictionService) -> None:
    core.start()


class BackgroundServer:
    """The gRPC server on an event loop in a daemon thread (for tests and embedding)."""

    def __init__(
        self, settings: Settings, core: PredictionService, port: int | None, guard: Guard
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(start(settings, core, port, guard), self._loop)
        self.server, self.port = started.result(timeout=60)

    def stop(self, grace: float | None = None) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(grace), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


def create_server(
    settings: Settings, service: PredictionService | None = None, port: int | None = None
) -> tuple[BackgroundServer, int]:
    """Start the server in a background thread; return ``(server, port)``, port 0 picks one.

    Raises ValueError when the settings ask for API keys and hold none (see ``Guard``).
    """
    guard = Guard(settings)
    core = service or PredictionService(settings)
    if core.champion is None:
        _load_models(core)
    server = BackgroundServer(settings, core, port, guard)
    return server, server.port


def serve(settings: Settings) -> None:
    """Serve gRPC on ``serve_host:grpc_port`` until interrupted."""
    guard = Guard(settings)
    core = PredictionService(settings)
    _load_models(core)
    stop_watching = core.watch(settings.reload_interval_s) if settings.reload_interval_s else None
{%- if cookiecutter.monitoring %}
    from ..monitoring.metrics import start_server

    start_server(settings.metrics_port)
{%- endif %}

    async def main() -> None:
        server, port = await start(settings, core, guard=guard)
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for stop_signal in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(stop_signal, stopping.set)
        print(f"gRPC server listening on {settings.serve_host}:{port}", flush=True)
        await stopping.wait()
        logger.warning("stopping: answering the calls in flight (at most %g s)", STOP_GRACE_S)
        await server.stop(STOP_GRACE_S)

    try:
        asyncio.run(main())
    finally:
        if stop_watching is not None:
            stop_watching()
