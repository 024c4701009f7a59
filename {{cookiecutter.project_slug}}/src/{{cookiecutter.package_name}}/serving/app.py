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
Bad input is a 4xx with a reason (422 invalid, also more JSON rows than ``max_batch_size``, as
the schema says; 404 unknown entity; 413 a body over ``max_body_bytes`` or more float64 rows than
``max_batch_size``; 415 wrong content type), never a 500. 503: no model is loaded yet, or the
online feature store failed on an entity-id row and ``feature_store_fallback`` is ``error`` (with
``defaults`` the row is scored with default user and item features instead). SIGTERM stops the
server gracefully: requests in flight are answered, then the process exits 0. Callers
authenticate as ``serving/auth.py`` says (401 without a valid token, 403 for an API key on
``/model/reload``);
``/health``, ``/ready``{% if cookiecutter.monitoring %}, ``/metrics``{% endif %} and the docs are open. No CORS headers are sent
unless ``cors_origins`` lists origins. The OpenAPI document (``/openapi.json``) states every
answer and limit; ``tests/test_api_contract.py`` checks the server against it (schemathesis).
"""

from __future__ import annotations

import logging
import math
import signal
{%- if cookiecutter.monitoring %}
import time
{%- endif %}
from contextlib import asynccontextmanager
from typing import Annotated

import numpy as np
import orjson
{%- if cookiecutter.vector_index != 'none' %}
from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request, Security
{%- else %}
from fastapi import Depends, FastAPI, HTTPException, Request, Security
{%- endif %}
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from .. import __version__, schema
from ..features.store import StoreUnavailableError, UnknownEntityError
{%- if cookiecutter.monitoring %}
from ..monitoring import metrics
{%- endif %}
from ..registry.registry import RegistryError
from ..settings import Settings, load_settings
from .auth import CHALLENGE, AuthError, Guard, token_from
from .core import NotReadyError, PredictionService

logger = logging.getLogger(__name__)

MAX_ID = 2**63 - 1
N_FEATURES = len(schema.feature_names())
JSON_TYPE = b"application/json"
BINARY_TYPE = b"application/octet-stream"
PREDICT_PATHS = ("/predict", "/predict/batch")


def _integral(value: object) -> object:
    """Return a JSON number with no fraction (``7.0``) as an int: JSON Schema's integer."""
    return int(value) if type(value) is float and value.is_integer() else value


Integer = Annotated[int, BeforeValidator(_integral)]
LIMIT = schema.FEATURE_LIMIT
Number = Annotated[float, Field(ge=-LIMIT, le=LIMIT, allow_inf_nan=False)]
Row = Annotated[list[Number], Field(min_length=N_FEATURES, max_length=N_FEATURES)]


class Context(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    hour_of_day: Integer = Field(schema.CONTEXT_DEFAULTS["hour_of_day"], ge=0, le=23)
    is_weekend: Integer = Field(schema.CONTEXT_DEFAULTS["is_weekend"], ge=0, le=1)


class PredictRequest(BaseModel):
    """One row by entity ids: its features are read from the online store."""

    model_config = ConfigDict(extra="forbid", strict=True, protected_namespaces=())

    {{ cookiecutter.user_entity }}_id: Integer = Field(ge=0, le=MAX_ID)
    {{ cookiecutter.item_entity }}_id: Integer = Field(ge=0, le=MAX_ID)
    context: Context = Field(default_factory=Context)


class FeaturesRequest(BaseModel):
    """One row of features in schema order (``GET /model`` lists the names)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    features: Row


class BatchRequest(BaseModel):
    """Rows by entity ids (at most ``max_batch_size``)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    instances: list[PredictRequest] = Field(min_length=1)


class FeaturesBatchRequest(BaseModel):
    """Rows of features in schema order (at most ``max_batch_size``)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    features: list[Row] = Field(min_length=1)


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


class Error(BaseModel):
    """A refused request and why."""

    detail: str


class InvalidField(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Invalid(BaseModel):
    """A request that does not match the documented body (422)."""

    detail: list[InvalidField]


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    ready: bool
    model_version: int | None = None
    detail: str | None = None


class ModelInfo(BaseModel):
    model_version: int
    metrics: dict
    feature_names: list[str]


class Reloaded(BaseModel):
    model_version: int
{%- if cookiecutter.vector_index != 'none' %}


class Recommendations(BaseModel):
    items: list[dict]
{%- endif %}


class HTTPError(Exception):
    """A 4xx answer with its detail."""

    def __init__(self, status: int, detail: object) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def _invalid(loc: list, msg: str, kind: str = "value_error") -> HTTPError:
    return HTTPError(422, [{"loc": ["body", *loc], "msg": msg, "type": kind}])


def _too_many(loc: list, rows: int, max_rows: int) -> HTTPError:
    detail = f"{rows} rows is over max_batch_size {max_rows}: send smaller batches"
    return _invalid(loc, detail, "too_long")


def _as_int(value: object) -> int | None:
    """Return a JSON integer (``7`` or ``7.0``, never ``true``) as an int, anything else None."""
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    return None


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
        value = _as_int(value)
        if value is None or not 0 <= value <= MAX_ID:
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
        value = _as_int(context.get(name, default))
{%- if cookiecutter.monitoring %}
        if name not in context:
            metrics.observe_defaulted(name)
{%- endif %}
        low, high = schema.CONTEXT_RANGES[name]
        if value is None or not low <= value <= high:
            raise _invalid([*loc, "context", name], f"expected an integer in {low}-{high}")
        values.append(value)
    if set(context) - set(schema.CONTEXT_DEFAULTS):
        raise _invalid([*loc, "context"], "extra inputs are not permitted", "extra_forbidden")
    return ids[0], ids[1], values[0], values[1]


def parse_features(rows: object, max_rows: int, body: bytes = b"") -> np.ndarray:
    """Check a list of rows of ``N_FEATURES`` finite numbers; return the (n, N_FEATURES) matrix.

    numpy reads ``true`` as 1.0 next to floats, so a body that holds ``true`` or ``false`` has
    its values checked one by one (``body`` empty: always).
    """
    if not isinstance(rows, list) or not rows:
        raise _invalid(["features"], "expected a non-empty list of rows", "list_type")
    if len(rows) > max_rows:
        raise _too_many(["features"], len(rows), max_rows)
    if not body or b"true" in body or b"false" in body:
        for row in rows:
            if type(row) is not list or any(type(v) is bool for v in row):
                raise _invalid(["features"], f"expected rows of {N_FEATURES} numbers", "list_type")
    try:
        matrix = np.asarray(rows)
    except (ValueError, TypeError, OverflowError) as error:
        raise _invalid(["features"], f"rows are not numbers of one length: {error}") from error
    if matrix.dtype.kind not in "if" or matrix.ndim != 2 or matrix.shape[1] != N_FEATURES:
        raise _invalid(["features"], f"expected rows of {N_FEATURES} numbers", "list_type")
    matrix = matrix.astype(np.float64, copy=False)
    if not (np.abs(matrix) <= LIMIT).all():  # NaN compares false
        raise _invalid(["features"], f"features must be finite numbers within +-{LIMIT:g}")
    return matrix


def parse_vector(values: object) -> list:
    """Check one row of ``N_FEATURES`` numbers within ``LIMIT``; return it (a list, no numpy)."""
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
    if not finite or min(values) < -LIMIT or max(values) > LIMIT:
        raise _invalid(["features"], f"features must be finite numbers within +-{LIMIT:g}")
    return values


def parse_binary(body: bytes, max_rows: int) -> np.ndarray:
    """Return the (n, N_FEATURES) matrix of a packed little-endian float64 body."""
    width = 8 * N_FEATURES
    if not body or len(body) % width:
        raise _invalid([], f"expected rows of {N_FEATURES} float64 values ({width} bytes each)")
    if len(body) // width > max_rows:
        raise HTTPError(413, f"batch of {len(body) // width} rows is over {max_rows}")
    matrix = np.frombuffer(body, dtype="<f8").reshape(-1, N_FEATURES)
    if not (np.abs(matrix) <= LIMIT).all():
        raise _invalid([], f"features must be finite numbers within +-{LIMIT:g}")
    return matrix


class PredictionAPI:
    """ASGI app: the prediction routes answered here, every other request passed to FastAPI."""

    def __init__(
        self,
        core: PredictionService,
        settings: Settings,
        docs_app: FastAPI,
        guard: Guard | None = None,
    ) -> None:
        self.core = core
        self.settings = settings
        self.fastapi = docs_app
        self.guard = guard
        self.max_body = settings.max_body_bytes
        self.max_rows = settings.max_batch_size
        self.entry = self.dispatch
        """What receives each request: ``dispatch``, or CORS in front of it (``cors_origins``)."""

    async def __call__(self, scope, receive, send) -> None:
        await self.entry(scope, receive, send)

    async def dispatch(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.fastapi(scope, receive, send)
            return
        length, content_type, authorization, api_key = None, b"", None, None
        for key, value in scope["headers"]:
            if key == b"content-length":
                length = value
            elif key == b"content-type":
                content_type = value
            elif key == b"authorization":
                authorization = value
            elif key == b"x-api-key":
                api_key = value
        path = scope["path"]
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            status = 413 if length.isdigit() else 400
{%- if cookiecutter.monitoring %}
            if path in PREDICT_PATHS:
                metrics.observe_error(path, metrics.ERROR_REASONS[status])
{%- endif %}
            await _send_json(send, status, {"detail": self._length_error(length)})
            return
        if scope["method"] != "POST" or path not in PREDICT_PATHS:
            await self.fastapi(scope, receive, send)
            return
        if self.guard is not None and self.guard.required:
            try:
                self.guard.check(token_from(authorization, api_key))
            except AuthError as error:
{%- if cookiecutter.monitoring %}
                metrics.observe_error(path, metrics.ERROR_REASONS[error.status])
{%- endif %}
                await _send_json(send, error.status, {"detail": error.detail}, _challenge(error))
                return
        body = await self._read_body(receive)
        if body is None:
{%- if cookiecutter.monitoring %}
            metrics.observe_error(path, "too_large")
{%- endif %}
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
{%- if cookiecutter.monitoring %}
        started = time.perf_counter()
{%- endif %}
        try:
            if content_type.startswith(BINARY_TYPE):
                if path != "/predict/batch":
                    raise HTTPError(415, "send one row as JSON, float64 rows to /predict/batch")
                result = self.core.predict_features(parse_binary(body, self.max_rows))
                answer = _binary(result)
            else:
                if content_type and b"json" not in content_type:
                    detail = "send application/json (or float64 rows to /predict/batch)"
                    raise HTTPError(415, detail)
                result = self.predict(parse_json(body), batch=path == "/predict/batch", body=body)
                answer = _json(200, result)
{%- if cookiecutter.monitoring %}
            metrics.observe_request(path, result, time.perf_counter() - started)
{%- endif %}
            return answer
        except HTTPError as error:
{%- if cookiecutter.monitoring %}
            metrics.observe_error(path, metrics.ERROR_REASONS.get(error.status, "bad_request"))
{%- endif %}
            return _json(error.status, {"detail": error.detail})
        except UnknownEntityError as error:
{%- if cookiecutter.monitoring %}
            metrics.observe_error(path, "unknown_entity")
{%- endif %}
            return _json(404, {"detail": str(error)})
        except NotReadyError as error:
{%- if cookiecutter.monitoring %}
            metrics.observe_error(path, "not_ready")
{%- endif %}
            return _json(503, {"detail": str(error)})
        except StoreUnavailableError as error:
{%- if cookiecutter.monitoring %}
            metrics.observe_error(path, "feature_store_unavailable")
{%- endif %}
            return _json(503, {"detail": str(error)})
        except Exception:
            logger.exception("prediction failed")
{%- if cookiecutter.monitoring %}
            metrics.observe_error(path, "internal")
{%- endif %}
            return _json(500, {"detail": "internal error: see the server log"})

    def predict(self, data: object, batch: bool, body: bytes = b"") -> dict:
        """Score a parsed JSON body: one row, ``instances`` or a ``features`` batch."""
        if not isinstance(data, dict):
            raise _invalid([], "expected a JSON object", "model_type")
        if "features" in data:
            if len(data) > 1:
                extra = sorted(k for k in data if k != "features")[0]
                raise _invalid([extra], "extra inputs are not permitted", "extra_forbidden")
            if not batch:
                return self.core.predict_row(parse_vector(data["features"]))
            return self.core.predict_features(parse_features(data["features"], self.max_rows, body))
        if not batch:
            return self._entities([parse_row(data, [])])[0]
        instances = data.get("instances")
        if set(data) != {"instances"} or not isinstance(instances, list) or not instances:
            raise _invalid(["instances"], "expected a non-empty list of rows", "list_type")
        if len(instances) > self.max_rows:
            raise _too_many(["instances"], len(instances), self.max_rows)
        rows = [parse_row(row, ["instances", k]) for k, row in enumerate(instances)]
        return {"predictions": self._entities(rows)}

    def _entities(self, rows: list[tuple[int, int, int, int]]) -> list[dict]:
        users, items, hours, weekends = (list(column) for column in zip(*rows, strict=True))
        return self.core.predict(users, items, {"hour_of_day": hours, "is_weekend": weekends})


def _binary(result: dict) -> tuple[int, list, bytes]:
    """Return the float64 answer to a packed batch: rows x outputs, version in a header."""
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


def _challenge(error: AuthError) -> list[tuple[bytes, bytes]]:
    return [(b"www-authenticate", CHALLENGE.encode())] if error.status == 401 else []


async def _send_json(send, status: int, content: object, extra: list | None = None) -> None:
    status, headers, payload = _json(status, content)
    headers += extra or []
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def _request_doc(*models: type[BaseModel], binary: bool = False) -> dict:
    refs = [{"$ref": f"#/components/schemas/{m.__name__}"} for m in models]
    content = {"application/json": {"schema": {"anyOf": refs}}}
    if binary:
        content[BINARY_TYPE.decode()] = {
            "schema": {"type": "string", "format": "binary"},
            "x-rows": f"rows x {N_FEATURES} little-endian float64 values, finite",
        }
    return {"requestBody": {"required": True, "content": content}}


REASONS = {
    401: "No token, or one that is not valid here",
    403: "An API key on an admin operation",
    404: "An unknown entity id",
    409: "The registry has no champion that loads",
    413: "A body over max_body_bytes (or more float64 rows than max_batch_size)",
    415: "A content type this route does not read",
    422: "A body that does not match the schema",
    503: "No champion model loaded yet, or the online feature store failed on an entity-id row "
    "(feature_store_fallback: error; with defaults the row is scored with default features)",
}


def _answers(*statuses: int) -> dict:
    """Return the OpenAPI ``responses`` entries of these refusals."""
    documented = {}
    for status in statuses:
        entry = {"description": REASONS[status], "model": Invalid if status == 422 else Error}
        if status == 401:
            challenge = {"description": CHALLENGE, "required": True, "schema": {"type": "string"}}
            entry["headers"] = {"WWW-Authenticate": challenge}
        documented[status] = entry
    return documented


BINARY_ANSWER = {
    200: {
        "content": {BINARY_TYPE.decode(): {"schema": {"type": "string", "format": "binary"}}},
        "headers": {
            "x-model-version": {"description": "float64 answers", "schema": {"type": "string"}},
            "x-variant": {"description": "float64 answers", "schema": {"type": "string"}},
        },
    }
}
{%- if cookiecutter.monitoring %}


def _prometheus_response() -> type[Response]:
    """Return a response class that documents the Prometheus exposition's media type."""
    from prometheus_client import CONTENT_TYPE_LATEST

    return type("PrometheusText", (Response,), {"media_type": CONTENT_TYPE_LATEST})
{%- endif %}


BEARER = HTTPBearer(
    auto_error=False, scheme_name="bearer", description="Authorization: Bearer <token>"
)
KEY_HEADER = APIKeyHeader(
    name="x-api-key", auto_error=False, scheme_name="apiKey", description="the same token"
)
BearerToken = Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)]
KeyToken = Annotated[str | None, Security(KEY_HEADER)]


def _access(guard: Guard):
    """Return ``(caller, admin)``: FastAPI dependencies that check an API key / the admin token."""

    def dependency(admin: bool):
        async def check(credentials: BearerToken, key: KeyToken) -> None:
            token = key or (credentials.credentials if credentials else None)
            try:
                guard.check(token.encode() if token else None, admin=admin)
            except AuthError as error:
                headers = {"WWW-Authenticate": CHALLENGE} if error.status == 401 else None
                raise HTTPException(error.status, error.detail, headers=headers) from None

        return Depends(check)

    return dependency(admin=False), dependency(admin=True)


def create_app(
    settings: Settings | None = None, service: PredictionService | None = None
) -> PredictionAPI:
    """Return the API; the champion is loaded at startup, on ``/model/reload`` and when promoted.

    Raises ValueError when the settings ask for API keys and hold none (see ``Guard``).
    """
    settings = settings or load_settings()
    guard = Guard(settings)
    core = service or PredictionService(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        core.start()
        stop = core.watch(settings.reload_interval_s) if settings.reload_interval_s > 0 else None
        yield
        if stop is not None:
            stop()

    app = FastAPI(
        title="{{ cookiecutter.project_slug }}",
        version=__version__,
        lifespan=lifespan,
    )
    api = PredictionAPI(core, settings, app, guard)
    caller, admin = _access(guard)
    keyed = [caller] if guard.required else []
    refused = (401,) if guard.required else ()

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
        dependencies=keyed,
        responses=_answers(*refused, 404, 413, 415, 422, 503),
        openapi_extra=_request_doc(FeaturesRequest, PredictRequest),
        summary="Score one row: features in schema order, or entity ids",
    )(forward("/predict"))
    app.post(
        "/predict/batch",
        response_model=BatchPrediction | FeaturesBatchPrediction,
        dependencies=keyed,
        responses={**BINARY_ANSWER, **_answers(*refused, 404, 413, 415, 422, 503)},
        openapi_extra=_request_doc(FeaturesBatchRequest, BatchRequest, binary=True),
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
            for name, rows in (("FeaturesBatchRequest", "features"), ("BatchRequest", "instances")):
                components[name]["properties"][rows]["maxItems"] = settings.max_batch_size
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi

    @app.get("/health", response_model=Health)
    async def health() -> dict:
        return {"status": "ok"}

    @app.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}})
    async def ready() -> JSONResponse:
        if not core.ready:
            detail = core.last_failure or "no champion model loaded"
            return JSONResponse({"ready": False, "detail": detail}, status_code=503)
        return JSONResponse({"ready": True, "model_version": core.champion.version})

    @app.get(
        "/model", response_model=ModelInfo, dependencies=keyed, responses=_answers(*refused, 503)
    )
    async def model() -> dict:
        champion = core.champion
        if champion is None:
            raise HTTPException(status_code=503, detail="no champion model loaded")
        return {
            "model_version": champion.version,
            "metrics": champion.metrics,
            "feature_names": schema.feature_names(),
        }

    @app.post(
        "/model/reload",
        response_model=Reloaded,
        dependencies=[admin],
        responses=_answers(401, 403, 409),
        summary="Load the registry's champion now (admin token)",
    )
    async def reload() -> dict:
        try:
            return {"model_version": core.reload()}
        except RegistryError as error:
            raise HTTPException(status_code=409, detail=str(error)) from error
{%- if cookiecutter.monitoring %}

    @app.get("/metrics", response_class=_prometheus_response())
    async def prometheus_metrics() -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)
{%- endif %}
{%- if cookiecutter.vector_index != 'none' %}

    @app.get(
        "/recommend/{user_id}",
        response_model=Recommendations,
        dependencies=keyed,
        responses=_answers(*refused, 404, 503),
    )
    async def recommend(
        user_id: Annotated[int, Path(ge=0, le=MAX_ID)],
        k: Annotated[int, Query(ge=1, le=100)] = 10,
    ) -> dict:
        try:
            return {"items": core.recommend(user_id, k)}
        except UnknownEntityError as error:
            raise HTTPException(status_code=404, detail=str(error)) from error
        except NotReadyError as error:
            raise HTTPException(status_code=503, detail=str(error)) from error
{%- endif %}

    if settings.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        api.entry = CORSMiddleware(
            api.dispatch,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["authorization", "content-type", "x-api-key"],
            expose_headers=["x-model-version", "x-variant"],
        )
    return api


def _stopped(signum: int, frame: object) -> None:
    logger.warning("stopped by %s after answering the requests in flight", signal.strsignal(signum))


def serve(settings: Settings) -> None:
    """Run the API with uvicorn on ``serve_host:serve_port``: one worker, no access log.

    On SIGTERM or SIGINT uvicorn stops accepting connections, answers the requests in flight and
    then raises the signal again; the handler set here makes that a clean return (exit 0).
    """
    import uvicorn

    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, _stopped)

    uvicorn.run(
        create_app(settings),
        host=settings.serve_host,
        port=settings.serve_port,
        access_log=False,
        log_level="info",
    )
