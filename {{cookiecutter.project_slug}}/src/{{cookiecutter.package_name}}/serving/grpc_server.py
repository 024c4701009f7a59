"""gRPC server over the shared prediction core, for ``proto/predict.proto``.

The message classes and servicer base are built from the .proto file at start-up with
``grpc.protos_and_services`` (grpcio-tools), so no generated code is kept in the repository.
Invalid input is ``INVALID_ARGUMENT``, an unknown entity ``NOT_FOUND``, no model ``UNAVAILABLE``.
"""

from __future__ import annotations

import sys
from concurrent import futures
from pathlib import Path

from .. import schema
from ..features.store import UnknownEntityError
from ..settings import Settings
from .core import NotReadyError, PredictionService

PROTO = "predict.proto"


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


def create_server(
    settings: Settings, service: PredictionService | None = None, port: int | None = None
):
    """Start and return ``(server, port)``; port 0 picks a free one."""
    import grpc

    messages, services = load_protos(settings)
    core = service or PredictionService(settings)
    if core.champion is None:
        core.reload()

    def score(requests, context) -> list:
        try:
            results = core.predict(*_rows(requests, settings.max_batch_size))
        except ValueError as error:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except UnknownEntityError as error:
            context.abort(grpc.StatusCode.NOT_FOUND, str(error))
        except NotReadyError as error:
            context.abort(grpc.StatusCode.UNAVAILABLE, str(error))
        return [
            messages.PredictResponse(
                scores=r["prediction"] if isinstance(r["prediction"], list) else [r["prediction"]],
                model_version=r["model_version"],
                variant=r["variant"],
            )
            for r in results
        ]

    class Predictor(services.PredictorServicer):
        def Predict(self, request, context):
            return score([request], context)[0]

        def PredictBatch(self, request, context):
            return messages.PredictBatchResponse(
                predictions=score(list(request.instances), context)
            )

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    services.add_PredictorServicer_to_server(Predictor(), server)
    bound = server.add_insecure_port(
        f"{settings.serve_host}:{settings.grpc_port if port is None else port}"
    )
    server.start()
    return server, bound


def serve(settings: Settings) -> None:
    """Serve gRPC on ``serve_host:grpc_port`` until interrupted."""
    server, port = create_server(settings)
{%- if cookiecutter.monitoring %}
    from ..monitoring.metrics import start_server

    start_server(9100)
{%- endif %}
    print(f"gRPC server listening on {settings.serve_host}:{port}")
    server.wait_for_termination()
