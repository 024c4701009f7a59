"""REST API (FastAPI): validated requests in, predictions from the shared core out.

Endpoints: ``POST /predict`` (one row), ``POST /predict/batch`` (up to ``max_batch_size``
rows), ``GET /health``, ``GET /ready``, ``GET /model`` and ``POST /model/reload``.
{%- if cookiecutter.monitoring %}
``GET /metrics`` serves Prometheus metrics.
{%- endif %}
{%- if cookiecutter.vector_index != 'none' %}
``GET /recommend/{id}`` returns a user's top items (ANN candidates ranked by the model).
{%- endif %}
Bad input is a 4xx with a reason (422 invalid, 404 unknown entity, 413 body too large), never
a 500. Run it with the ``serve`` verb of the project CLI.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request
{%- if cookiecutter.monitoring %}
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
{%- else %}
from fastapi.responses import JSONResponse
{%- endif %}
from pydantic import BaseModel, ConfigDict, Field

from .. import __version__
from ..features.store import UnknownEntityError
{%- if cookiecutter.monitoring %}
from ..monitoring import metrics
{%- endif %}
from ..settings import Settings, load_settings
from .core import NotReadyError, PredictionService

MAX_ID = 2**63 - 1


class Context(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hour_of_day: int = Field(12, ge=0, le=23)
    is_weekend: int = Field(0, ge=0, le=1)


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    {{ cookiecutter.user_entity }}_id: int = Field(ge=0, le=MAX_ID)
    {{ cookiecutter.item_entity }}_id: int = Field(ge=0, le=MAX_ID)
    context: Context = Field(default_factory=Context)


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instances: list[PredictRequest] = Field(min_length=1)


class Prediction(BaseModel):
    prediction: float | list[float]
    model_version: int
    variant: str


class BatchPrediction(BaseModel):
    predictions: list[Prediction]


def create_app(
    settings: Settings | None = None, service: PredictionService | None = None
) -> FastAPI:
    """Return the API; the champion model is loaded at startup and on ``/model/reload``."""
    settings = settings or load_settings()
    core = service or PredictionService(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        core.reload()
        yield

    app = FastAPI(
        title="{{ cookiecutter.project_slug }}",
        version=__version__,
        lifespan=lifespan,
    )
    app.state.core = core

    @app.middleware("http")
    async def limit_body_size(request: Request, call_next):
        length = request.headers.get("content-length", "0")
        if not length.isdigit():
            return JSONResponse({"detail": "invalid Content-Length header"}, status_code=400)
        if int(length) > settings.max_body_bytes:
            detail = f"request body over {settings.max_body_bytes} bytes: send smaller batches"
            return JSONResponse({"detail": detail}, status_code=413)
        return await call_next(request)
{%- if cookiecutter.monitoring %}

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        metrics.observe_error("invalid_request")
        errors = [
            {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in error.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)
{%- endif %}

    def score(rows: list[PredictRequest]) -> list[dict]:
        try:
            return core.predict(
                [r.{{ cookiecutter.user_entity }}_id for r in rows],
                [r.{{ cookiecutter.item_entity }}_id for r in rows],
                {
                    "hour_of_day": [r.context.hour_of_day for r in rows],
                    "is_weekend": [r.context.is_weekend for r in rows],
                },
            )
        except UnknownEntityError as error:
            raise HTTPException(status_code=404, detail=str(error)) from error
        except NotReadyError as error:
            raise HTTPException(status_code=503, detail=str(error)) from error

    @app.post("/predict", response_model=Prediction)
    async def predict(request: PredictRequest) -> dict:
        return score([request])[0]

    @app.post("/predict/batch", response_model=BatchPrediction)
    async def predict_batch(request: BatchRequest) -> dict:
        if len(request.instances) > settings.max_batch_size:
            detail = f"batch of {len(request.instances)} rows is over {settings.max_batch_size}"
            raise HTTPException(status_code=413, detail=detail)
        return {"predictions": score(request.instances)}

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
        if core.champion is None:
            raise HTTPException(status_code=503, detail="no champion model loaded")
        return {"model_version": core.champion.version, "metrics": core.champion.metrics}

    @app.post("/model/reload")
    async def reload() -> dict:
        return {"model_version": core.reload()}
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

    return app


def serve(settings: Settings) -> None:
    """Run the API with uvicorn on ``serve_host:serve_port``."""
    import uvicorn

    uvicorn.run(
        create_app(settings), host=settings.serve_host, port=settings.serve_port, log_level="info"
    )
