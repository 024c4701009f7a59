"""REST API: validated requests in, predictions from the shared core out.

``POST /predict`` scores one row, ``POST /predict/batch`` up to ``max_batch_size`` rows. A row
is either entity ids (the user and item keys of ``schema``, optional ``context``: features read
from the online store) or the caller's own ``features`` in schema order (``GET /model`` lists
them).
Batches of features may also be sent as packed little-endian float64 (``application/octet-stream``,
rows x features) and are then answered the same way (rows x outputs, version in
``x-model-version``). Also: ``GET /health``, ``GET /ready``, ``GET /model``, ``POST /model/reload``,
{%- if cookiecutter.monitoring %}
``GET /metrics`` (Prometheus),
{%- endif %}
{%- if cookiecutter.vector_index != 'none' %}
``GET /recommend/{id}`` (a user's top items),
{%- endif %}
the OpenAPI docs (``/docs``). The champion is swapped in by itself when the registry's alias
moves (``reload_interval_s``).

The two prediction routes are answered by ``PredictionAPI``, a plain ASGI app in front of
FastAPI: it reads the body (at most ``max_body_bytes``), parses it with ``orjson`` (the stdlib
parser spends ~8x longer on a batch of floats), checks it with the hand-written rules of
``parse_row`` / ``parse_features`` (derived from ``schema``) and calls the model on the event
loop. Everything else goes to FastAPI, which also declares the two routes with the same handler
and pydantic models for the docs. Routing them through FastAPI and pydantic instead costs
~150 us more CPU per request than the whole front door (``make bench``).
Bad input is a 4xx with a reason (422 invalid, 404 unknown entity, 413 too large, 415 wrong
content type), never a 500.
"""

from __future__ import annotations

import logging
import math
from contextlib import asynccontextmanager

import numpy as np
import orjson
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from .. import __version__, schema
from ..features.store import UnknownEntityError
{%- if cookiecutter.monitoring %}
from ..monitoring import metrics
{%- endif %}
from ..registry.registry import RegistryError
from ..settings import Settings, load_settings
from .core import NotReadyError, PredictionService

logger = logging.getLogger(__name__)

MAX_ID = 2**63 - 1
N_FEATURES = len(schema.feature_names())
JSON_TYPE = b"application/json"
BINARY_TYPE = b"application/octet-stream"
PREDICT_PATHS = ("/predict", "/predict/batch")


class Context(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    hour_of_day: int = Field(schema.CONTEXT_DEFAULTS["hour_of_day"], ge=0, le=23)
    is_weekend: int = Field(schema.CONTEXT_DEFAULTS["is_weekend"], ge=0, le=1)


class PredictRequest(BaseModel):
    """One row by entity ids: its features are read from the online store."""

    model_config = ConfigDict(extra="forbid", strict=True, protected_namespaces=())

    {{ cookiecutter.user_entity }}_id: int = Field(ge=0, le=MAX_ID)
    {{ cookiecutter.item_entity }}_id: int = Field(ge=0, le=MAX_ID)
    context: Context = Field(default_factory=Context)


class FeaturesRequest(BaseModel):
    """One row of features in schema order (``GET /model`` lists the names)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    features: list[float] = Field(min_length=N_FEATURES, max_length=N_FEATURES)


class BatchRequest(BaseModel):
    """Rows by entity ids."""

    model_config = ConfigDict(extra="forbid", strict=True)

    instances: list[PredictRequest] = Field(min_length=1)


class FeaturesBatchRequest(BaseModel):
    """Rows of features in schema order."""

    model_config = ConfigDict(extra="forbid", strict=True)

    features: list[list[float]] = Field(min_length=1)


class Prediction(BaseModel):
    """One row's answer{% if cookiecutter.experiment == 'shadow' %}: always the champion's (the shadow model's goes to its own log){% endif %}."""

    prediction: float | list[float]
    model_version: int
    variant: str


class BatchPrediction(BaseModel):
    """Answer to ``instances``: one prediction per row."""

    predictions: list[Prediction]


class FeaturesBatchPrediction(BaseModel):
    """Answer to a ``features`` batch: one output (or a list per class) per row, one version."""

    predictions: list[float] | list[list[float]]
    model_version: int
    variant: str


class HTTPError(Exception):
    """A 4xx answer with its detail."""

    def __init__(self, status: int, detail: object) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def _invalid(loc: list, msg: str, kind: str = "value_error") -> HTTPError:
    return HTTPError(422, [{"loc": ["body", *loc], "msg": msg, "type": kind}])


def _is_int(value: object) -> bool:
    return type(value) is int


def parse_json(body: bytes) -> object:
    """Return the parsed body; 422 for malformed JSON, invalid UTF-8, NaN or Infinity."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise _invalid([], f"invalid JSON: {error}", "json_invalid") from error


def parse_row(row: object, loc: list) -> tuple[int, int, int, int]:
    """Check one entity row against ``PredictRequest``; return (user, item, hour, weekend)."""
    if not isinstance(row, dict):
        raise _invalid(loc, "expected an object", "model_type")
    ids = []
    for key in (schema.USER_KEY, schema.ITEM_KEY):
        value = row.get(key)
        if value is None:
            raise _invalid([*loc, key], "field required", "missing")
        if not _is_int(value) or not 0 <= value <= MAX_ID:
            raise _invalid([*loc, key], f"expected an integer in 0-{MAX_ID}", "int_type")
        ids.append(value)
    context = row.get("context", {})
    extra = set(row) - {schema.USER_KEY, schema.ITEM_KEY, "context"}
    if extra:
        raise _invalid([*loc, min(extra)], "extra inputs are not permitted", "extra_forbidden")
    if not isinstance(context, dict):
        raise _invalid([*loc, "context"], "expected an object", "model_type")
    values = []
    for name, default in schema.CONTEXT_DEFAULTS.items():
        value = context.get(name, default)
        low, high = schema.CONTEXT_RANGES[name]
        if not _is_int(value) or not low <= value <= high:
            raise _invalid([*loc, "context", name], f"expected an integer in {low}-{high}")
        values.append(value)
    if set(context) - set(schema.CONTEXT_DEFAULTS):
        raise _invalid([*loc, "context"], "extra inputs are not permitted", "extra_forbidden")
    return ids[0], ids[1], values[0], values[1]


def parse_features(rows: object, max_rows: int) -> np.ndarray:
    """Check a list of rows of ``N_FEATURES`` finite numbers; return the (n, N_FEATURES) matrix."""
    if not isinstance(rows, list) or not rows:
        raise _invalid(["features"], "expected a non-empty list of rows", "list_type")
    if len(rows) > max_rows:
        raise HTTPError(413, f"batch of {len(rows)} rows is over {max_rows}: send smaller batches")
    try:
        matrix = np.asarray(rows)
    except (ValueError, TypeError, OverflowError) as error:
        raise _invalid(["features"], f"rows are not numbers of one length: {error}") from error
    if matrix.dtype.kind not in "if" or matrix.ndim != 2 or matrix.shape[1] != N_FEATURES:
        raise _invalid(["features"], f"expected rows of {N_FEATURES} numbers", "list_type")
    matrix = matrix.astype(np.float64, copy=False)
    if not np.isfinite(matrix).all():
        raise _invalid(["features"], "features must be finite numbers")
    return matrix


def parse_vector(values: object) -> list:
    """Check one row of ``N_FEATURES`` finite numbers; return it (a list, no numpy needed)."""
    if (
        type(values) is not list
        or len(values) != N_FEATURES
        or not all(type(v) is float or type(v) is int for v in values)
    ):
        raise _invalid(["features"], f"expected a list of {N_FEATURES} numbers", "list_type")
    try:
        finite = all(map(math.isfinite, values))
    except OverflowError:
        finite = False
    if not finite:
        raise _invalid(["features"], "features must be finite float64 numbers")
    return values


def parse_binary(body: bytes, max_rows: int) -> np.ndarray:
    """Return the (n, N_FEATURES) matrix of a packed little-endian float64 body."""
    width = 8 * N_FEATURES
    if not body or len(body) % width:
        raise _invalid([], f"expected rows of {N_FEATURES} float64 values ({width} bytes each)")
    if len(body) // width > max_rows:
        raise HTTPError(413, f"batch of {len(body) // width} rows is over {max_rows}")
    matrix = np.frombuffer(body, dtype="<f8").reshape(-1, N_FEATURES)
    if not np.isfinite(matrix).all():
        raise _invalid([], "features must be finite numbers")
    return matrix


class PredictionAPI:
    """ASGI app: the prediction routes answered here, every other request passed to FastAPI."""

    def __init__(self, core: PredictionService, settings: Settings, docs_app: FastAPI) -> None:
        self.core = core
        self.settings = settings
        self.fastapi = docs_app
        self.max_body = settings.max_body_bytes
        self.max_rows = settings.max_batch_size

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.fastapi(scope, receive, send)
            return
        length, content_type = None, b""
        for key, value in scope["headers"]:
            if key == b"content-length":
                length = value
            elif key == b"content-type":
                content_type = value
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            status = 413 if length.isdigit() else 400
            await _send_json(send, status, {"detail": self._length_error(length)})
            return
        path = scope["path"]
        if scope["method"] != "POST" or path not in PREDICT_PATHS:
            await self.fastapi(scope, receive, send)
            return
        body = await self._read_body(receive)
        if body is None:
            await _send_json(send, 413, {"detail": self._length_error(b"more")})
            return
        status, headers, payload = self.answer(path, content_type, body)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    def _length_error(self, length: bytes) -> str:
        if length.isdigit() or length == b"more":
            return f"request body over {self.max_body} bytes: send smaller batches"
        return "invalid Content-Length header"

    async def _read_body(self, receive) -> bytes | None:
        """Return the request body, or None once it is over ``max_body_bytes``."""
        message = await receive()
        body = message.get("body", b"")
        if not message.get("more_body", False):
            return body
        chunks, size = [body], len(body)
        while message.get("more_body", False):
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    def answer(self, path: str, content_type: bytes, body: bytes) -> tuple[int, list, bytes]:
        """Return ``(status, headers, body)`` for a prediction request; never raises."""
        try:
            if content_type.startswith(BINARY_TYPE):
                if path != "/predict/batch":
                    raise HTTPError(415, "send one row as JSON, float64 rows to /predict/batch")
                return self._binary(parse_binary(body, self.max_rows))
            if content_type and b"json" not in content_type:
                raise HTTPError(415, "send application/json (or float64 rows to /predict/batch)")
            result = self.predict(parse_json(body), batch=path == "/predict/batch")
            return _json(200, result)
        except HTTPError as error:
{%- if cookiecutter.monitoring %}
            reason = "invalid_request" if error.status == 422 else f"http_{error.status}"
            metrics.observe_error(reason)
{%- endif %}
            return _json(error.status, {"detail": error.detail})
        except UnknownEntityError as error:
{%- if cookiecutter.monitoring %}
            metrics.observe_error("unknown_entity")
{%- endif %}
            return _json(404, {"detail": str(error)})
        except NotReadyError as error:
            return _json(503, {"detail": str(error)})
        except Exception:
            logger.exception("prediction failed")
            return _json(500, {"detail": "internal error: see the server log"})

    def predict(self, data: object, batch: bool) -> dict:
        """Score a parsed JSON body: one row, ``instances`` or a ``features`` batch."""
        if not isinstance(data, dict):
            raise _invalid([], "expected a JSON object", "model_type")
        if "features" in data:
            if len(data) > 1:
                extra = sorted(k for k in data if k != "features")[0]
                raise _invalid([extra], "extra inputs are not permitted", "extra_forbidden")
            if not batch:
                return self.core.predict_row(parse_vector(data["features"]))
            return self.core.predict_features(parse_features(data["features"], self.max_rows))
        if not batch:
            return self._entities([parse_row(data, [])])[0]
        instances = data.get("instances")
        if set(data) != {"instances"} or not isinstance(instances, list) or not instances:
            raise _invalid(["instances"], "expected a non-empty list of rows", "list_type")
        if len(instances) > self.max_rows:
            detail = f"batch of {len(instances)} rows is over {self.max_rows}"
            raise HTTPError(413, detail)
        rows = [parse_row(row, ["instances", k]) for k, row in enumerate(instances)]
        return {"predictions": self._entities(rows)}

    def _entities(self, rows: list[tuple[int, int, int, int]]) -> list[dict]:
        users, items, hours, weekends = (list(column) for column in zip(*rows, strict=True))
        return self.core.predict(users, items, {"hour_of_day": hours, "is_weekend": weekends})

    def _binary(self, matrix: np.ndarray) -> tuple[int, list, bytes]:
        result = self.core.predict_features(matrix)
        payload = np.ascontiguousarray(result["predictions"], dtype="<f8").tobytes()
        headers = [
            (b"content-type", BINARY_TYPE),
            (b"content-length", str(len(payload)).encode()),
            (b"x-model-version", str(result["model_version"]).encode()),
            (b"x-variant", result["variant"].encode()),
        ]
        return 200, headers, payload


def _plain(value: object) -> object:
    """Serialize what orjson leaves to the caller: strided numpy arrays and numpy scalars."""
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _json(status: int, content: object) -> tuple[int, list, bytes]:
    payload = orjson.dumps(content, default=_plain, option=orjson.OPT_SERIALIZE_NUMPY)
    headers = [(b"content-type", JSON_TYPE), (b"content-length", str(len(payload)).encode())]
    return status, headers, payload


async def _send_json(send, status: int, content: object) -> None:
    status, headers, payload = _json(status, content)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def _request_doc(*models: type[BaseModel]) -> dict:
    refs = [{"$ref": f"#/components/schemas/{m.__name__}"} for m in models]
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"anyOf": refs}}},
        }
    }


def create_app(
    settings: Settings | None = None, service: PredictionService | None = None
) -> PredictionAPI:
    """Return the API; the champion is loaded at startup, on ``/model/reload`` and when promoted."""
    settings = settings or load_settings()
    core = service or PredictionService(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        try:
            core.reload()
        except RegistryError:
            logger.exception("the champion model did not load; /ready answers 503 until it does")
        stop = core.watch(settings.reload_interval_s) if settings.reload_interval_s > 0 else None
        yield
        if stop is not None:
            stop()

    app = FastAPI(
        title="{{ cookiecutter.project_slug }}",
        version=__version__,
        lifespan=lifespan,
    )
    api = PredictionAPI(core, settings, app)

    def forward(path: str):
        async def endpoint(request: Request) -> Response:
            content_type = request.headers.get("content-type", "").encode()
            status, headers, payload = api.answer(path, content_type, await request.body())
            extra = {k.decode(): v.decode() for k, v in headers if k != b"content-length"}
            return Response(payload, status_code=status, headers=extra)

        return endpoint

    app.post(
        "/predict",
        response_model=Prediction,
        openapi_extra=_request_doc(FeaturesRequest, PredictRequest),
        summary="Score one row: features in schema order, or entity ids",
    )(forward("/predict"))
    app.post(
        "/predict/batch",
        response_model=BatchPrediction | FeaturesBatchPrediction,
        openapi_extra=_request_doc(FeaturesBatchRequest, BatchRequest),
        summary="Score rows: a features matrix (JSON or float64 bytes), or entity ids",
    )(forward("/predict/batch"))

    def openapi() -> dict:
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            document = get_openapi(
                title=app.title, version=app.version, description=__doc__, routes=app.routes
            )
            components = document.setdefault("components", {}).setdefault("schemas", {})
            for model in (FeaturesRequest, PredictRequest, FeaturesBatchRequest, BatchRequest):
                body = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(body.pop("$defs", {}))
                components[model.__name__] = body
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok"}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        if not core.ready:
            return JSONResponse(
                {"ready": False, "detail": "no champion model loaded"}, status_code=503
            )
        return JSONResponse({"ready": True, "model_version": core.champion.version})

    @app.get("/model")
    async def model() -> dict:
        champion = core.champion
        if champion is None:
            raise HTTPException(status_code=503, detail="no champion model loaded")
        return {
            "model_version": champion.version,
            "metrics": champion.metrics,
            "feature_names": schema.feature_names(),
        }

    @app.post("/model/reload")
    async def reload() -> dict:
        try:
            return {"model_version": core.reload()}
        except RegistryError as error:
            raise HTTPException(status_code=409, detail=str(error)) from error
{%- if cookiecutter.monitoring %}

    @app.get("/metrics")
    async def prometheus_metrics() -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)
{%- endif %}
{%- if cookiecutter.vector_index != 'none' %}

    @app.get("/recommend/{user_id}")
    async def recommend(user_id: int, k: int = 10) -> dict:
        if not 0 <= user_id <= MAX_ID or not 1 <= k <= 100:
            raise HTTPException(status_code=422, detail="user id must be >= 0 and k in 1-100")
        try:
            return {"items": core.recommend(user_id, k)}
        except UnknownEntityError as error:
            raise HTTPException(status_code=404, detail=str(error)) from error
        except NotReadyError as error:
            raise HTTPException(status_code=503, detail=str(error)) from error
{%- endif %}

    return api


def serve(settings: Settings) -> None:
    """Run the API with uvicorn on ``serve_host:serve_port``: one worker, no access log."""
    import uvicorn

    uvicorn.run(
        create_app(settings),
        host=settings.serve_host,
        port=settings.serve_port,
        access_log=False,
        log_level="info",
    )
